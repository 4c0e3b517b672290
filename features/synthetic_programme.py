"""Synthetic programme events and pain reports for the two sample patients (deterministic).

Prepared for ``sample_data/`` and the demo (not wired in yet): over the sample programme (Mon
2026-11-09 to Sun 2026-11-22, Europe/London, 14 days)

* **P001 keeps up and improves**: daily pain NRS from 6 to 3, reads two education items a week,
  one CBT module a week, three 10-minute mindfulness sessions a week, a coaching call in week 1,
  two community posts, a PEG on days 0 and 7;
* **P002 reads nothing and worsens**: daily pain NRS about 4 in week 1 rising to 6.5 in week 2,
  no education or CBT, one short mindfulness session, a coaching call and an unanswered message,
  a PEG on days 0 and 7.

The day values are written out below (not drawn at random), so the figures are exact: P001's
first-week mean is 39.5 / 7 = 5.64 and last-week mean 24 / 7 = 3.43 (-2.21 points, -39.2 %, a
clinically important improvement); P002's are 28.5 / 7 = 4.07 and 43.5 / 7 = 6.21 (+2.14 points,
which raises ``PAIN_WORSENING``). Times are local clock times in the plan's time zone, turned
into UTC ns here. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from devices.programme import ProgrammeEvent, encode_programme_events, programme_event

__all__ = [
    "SAMPLE_START",
    "SAMPLE_DAYS",
    "SAMPLE_TZ",
    "SAMPLE_COMPONENTS",
    "PAIN_NRS",
    "PEG_ITEMS",
    "sample_programme_events",
    "sample_programme_payloads",
]

SAMPLE_START = dt.date(2026, 11, 9)
SAMPLE_DAYS = 14
SAMPLE_TZ = "Europe/London"
SITE = "clinic-1"
APP = "app-1"

SAMPLE_COMPONENTS: dict[str, dict[str, object]] = {
    "education": {"per_week": 2},
    "cbt": {"per_week": 1},
    "mindfulness": {"per_week": 3, "minutes": 10},
    "coaching": {"every_days": 14, "channel": "call"},
    "symptoms": {"pain_daily": True, "peg_every_days": 7},
}
"""The ``components`` object proposed for both sample care plans (``docs/care_plan.md``)."""

PAIN_NRS: dict[str, tuple[float, ...]] = {
    "P001": (6, 6, 6, 6, 5.5, 5.5, 4.5, 4, 4, 3.5, 3.5, 3, 3, 3),
    "P002": (4, 4, 4, 4.5, 4, 4, 4, 5.5, 6, 6, 6.5, 6.5, 6.5, 6.5),
}
"""Daily pain NRS (0-10) per programme day 0-13, reported at 20:00 local time."""

PEG_ITEMS: dict[str, dict[int, tuple[float, float, float]]] = {
    "P001": {0: (6, 6, 5), 7: (4, 4, 3)},
    "P002": {0: (4, 5, 4), 7: (7, 6, 6)},
}
"""PEG items (pain, enjoyment of life, general activity) by programme day, at 20:05 local."""

# (day, local hour, kind, fields) of the other events, per patient.
_ACTIVITY: dict[str, tuple[tuple[int, float, str, dict[str, object]], ...]] = {
    "P001": (
        (0, 19.0, "education_opened", {"item_id": "edu-01", "minutes": 1}),
        (0, 19.1, "education_completed", {"item_id": "edu-01", "minutes": 6}),
        (1, 10.0, "coaching_contact", {"channel": "call", "by": "coach", "minutes": 20}),
        (1, 21.0, "mindfulness_completed", {"module_id": "body-scan", "minutes": 10}),
        (2, 19.0, "cbt_completed", {"module_id": "cbt-01", "minutes": 25}),
        (3, 19.0, "education_completed", {"item_id": "edu-02", "minutes": 7}),
        (3, 21.0, "mindfulness_completed", {"module_id": "body-scan", "minutes": 12}),
        (4, 18.0, "community_post", {}),
        (5, 21.0, "mindfulness_completed", {"module_id": "breathing", "minutes": 10}),
        (7, 19.0, "education_completed", {"item_id": "edu-03", "minutes": 5}),
        (8, 21.0, "mindfulness_completed", {"module_id": "body-scan", "minutes": 10}),
        (9, 19.0, "cbt_completed", {"module_id": "cbt-02", "minutes": 30}),
        (10, 19.0, "education_completed", {"item_id": "edu-04", "minutes": 8}),
        (10, 21.0, "mindfulness_completed", {"module_id": "breathing", "minutes": 10}),
        (11, 18.0, "community_post", {}),
        (12, 21.0, "mindfulness_completed", {"module_id": "body-scan", "minutes": 10}),
        (13, 9.0, "coaching_contact", {"channel": "message", "by": "patient"}),
    ),
    "P002": (
        (1, 11.0, "coaching_contact", {"channel": "call", "by": "coach", "minutes": 10}),
        (2, 21.0, "mindfulness_completed", {"module_id": "breathing", "minutes": 4}),
        (8, 11.0, "coaching_contact", {"channel": "message", "by": "coach"}),
    ),
}


def _t_ns(day: int, hour: float, tz: ZoneInfo) -> int:
    d = SAMPLE_START + dt.timedelta(days=day)
    local = dt.datetime(d.year, d.month, d.day, tzinfo=tz) + dt.timedelta(hours=hour)
    return int(local.timestamp()) * 1_000_000_000


def sample_programme_events(subject: str) -> list[ProgrammeEvent]:
    """All programme events of sample patient ``"P001"`` or ``"P002"``, in time order.

    Event ids are ``<subject>-<day>-<n>`` (stable across runs); pain NRS 0-10, minutes,
    UTC ns times.
    """
    if subject not in PAIN_NRS:
        raise KeyError(f"no sample programme for {subject!r}; known: {sorted(PAIN_NRS)}")
    tz = ZoneInfo(SAMPLE_TZ)
    rows: list[tuple[int, float, str, dict[str, object]]] = list(_ACTIVITY[subject])
    rows += [(i, 20.0, "pain", {"nrs": v}) for i, v in enumerate(PAIN_NRS[subject])]
    rows += [(i, 20.0 + 5 / 60, "peg", {"items": list(v)}) for i, v in PEG_ITEMS[subject].items()]
    rows.sort(key=lambda r: (r[0], r[1]))
    out = []
    for n, (day, hour, kind, fields) in enumerate(rows):
        eid = f"{subject}-{day:02d}-{n:03d}"
        out.append(
            programme_event(SITE, subject, APP, eid, kind, _t_ns(day, hour, tz), n, **fields)
        )
    return out


def sample_programme_payloads(subject: str) -> list[bytes]:
    """The sample events as ``programme`` payloads, one message per programme day (seq = day)."""
    tz = ZoneInfo(SAMPLE_TZ)
    by_day: dict[int, list[ProgrammeEvent]] = {}
    for e in sample_programme_events(subject):
        local = dt.datetime.fromtimestamp(e.t_ns // 1_000_000_000, tz=tz).date()
        by_day.setdefault((local - SAMPLE_START).days, []).append(e)
    return [encode_programme_events(day, evs) for day, evs in sorted(by_day.items())]
