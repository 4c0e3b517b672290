"""InfluxDB line protocol for adherence results: pure functions, no I/O.

The schema is documented in ``docs/influxdb.md``. Rules, from InfluxDB's schema design guide
(https://docs.influxdata.com/influxdb/v1/concepts/schema_and_data_layout/: tags for what is
grouped or filtered by, no unbounded values such as ids in tags; 1.x limits a database to
1,000,000 series and a tag to 100,000 values by default, ``max-series-per-database`` and
``max-values-per-tag`` in https://docs.influxdata.com/influxdb/v1/administration/config/) and
the line-protocol reference
(https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/):

* Tags are only ``subject`` (pseudonymous), ``programme`` and ``exercise`` (the exercise library's
  fixed vocabulary, anything else becomes ``other``): series stay bounded.
* Session ids, flags and reasons are fields, never tags.
* Counts are always integers (``i`` suffix); ratios and scores are floats; NaN, inf and ``None``
  fields are left out (InfluxDB refuses NaN), so field types never change.
* Each point is timestamped by the period it describes (UTC ns of local midnight for a day, the
  session start for a session). Re-sending a point overwrites it instead of adding one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from devices.errors import InputError
from ingest.store import SessionRecord

__all__ = [
    "MEASUREMENT_DAILY",
    "MEASUREMENT_ACTIVITY",
    "MEASUREMENT_SESSION",
    "line",
    "adherence_daily_line",
    "daily_activity_line",
    "session_line",
]

MEASUREMENT_DAILY = "adherence_daily"
MEASUREMENT_ACTIVITY = "daily_activity"
MEASUREMENT_SESSION = "exercise_session"

FieldValue = int | float | bool | str | None


def _esc_key(s: str) -> str:
    """Escape a tag key, tag value or field key (commas, equals signs, spaces)."""
    if not s:
        raise InputError("line protocol", "tag/field", "empty key or tag value")
    if "\n" in s or "\r" in s:
        raise InputError("line protocol", s[:40], "newline in key or tag value")
    return s.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _esc_measurement(s: str) -> str:
    if not s or "\n" in s:
        raise InputError("line protocol", s[:40], "bad measurement name")
    return s.replace("\\", "\\\\").replace(",", r"\,").replace(" ", r"\ ")


def _field(value: FieldValue) -> str | None:
    """Format one field value; ``None`` for a value that must be left out (None, NaN, inf)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return f"{int(value)}i"
    if isinstance(value, float | np.floating):
        f = float(value)
        return repr(f) if math.isfinite(f) else None
    if isinstance(value, str):
        body = value.replace("\\", "\\\\").replace('"', r"\"").replace("\n", "\\n")
        return f'"{body}"'
    raise InputError("line protocol", "field", f"unsupported field type {type(value).__name__}")


def line(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], t_ns: int
) -> str | None:
    """One line of InfluxDB line protocol, or ``None`` if no field has a value.

    Tags are sorted by key (the order InfluxDB prefers). ``t_ns`` is UTC nanoseconds; send with
    precision ``ns`` (v2) / ``n`` (v1).

    Examples
    --------
    Spaces and commas in tags are escaped with a backslash, integers get the ``i`` suffix and
    NaN is left out (line-protocol reference, "Special characters" and "Data types"):

    >>> line("adherence_daily", {"subject": "P 1", "programme": "a,b"},
    ...      {"composite": 65.0, "streak_days": 3, "trend_7d": float("nan")}, 1_000)
    'adherence_daily,programme=a\\\\,b,subject=P\\\\ 1 composite=65.0,streak_days=3i 1000'
    >>> line("adherence_daily", {"subject": "P1"}, {"trend_7d": None}, 1_000) is None
    True
    """
    parts = [f"{_esc_key(k)}={v}" for k, raw in fields.items() if (v := _field(raw)) is not None]
    if not parts:
        return None
    head = _esc_measurement(measurement)
    for k in sorted(tags):
        head += f",{_esc_key(k)}={_esc_key(tags[k])}"
    return f"{head} {','.join(parts)} {int(t_ns)}"


def _exercise_tag(exercise: str) -> str:
    from adherence.plan import exercise_ids

    return exercise if exercise in exercise_ids() else "other"


#: Fields of ``adherence_daily`` taken from a score detail, with their fixed types.
_DAILY_FIELDS: tuple[tuple[str, type], ...] = (
    ("composite", float),
    ("exercise_adherence_7d", float),
    ("step_attainment_7d", float),
    ("step_attainment", float),
    ("sessions_done_7d", int),
    ("sessions_planned_7d", int),
    ("sessions_done", int),
    ("sessions_planned", int),
    ("streak_days", int),
    ("days_since_last_session", int),
    ("trend_7d", float),
)


def adherence_daily_line(
    subject: str, programme: str, day_start_ns: int, detail: Mapping[str, Any]
) -> str:
    """The ``adherence_daily`` point of one subject and local day.

    ``detail`` is a score detail as written by :func:`adherence.scoring.rescore` (the ``scores``
    table's JSON). ``day_start_ns`` is local midnight in UTC ns. Flags go into the string field
    ``flags`` (comma-separated codes) and the integer ``flag_count``.
    """
    fields: dict[str, FieldValue] = {}
    for name, kind in _DAILY_FIELDS:
        v = detail.get(name)
        fields[name] = None if v is None else kind(v)
    flags: Sequence[Mapping[str, str]] = detail.get("flags", [])
    fields["flag_count"] = len(flags)
    fields["flags"] = ",".join(f["code"] for f in flags)
    out = line(
        MEASUREMENT_DAILY, {"subject": subject, "programme": programme}, fields, day_start_ns
    )
    assert out is not None  # flag_count is always present
    return out


def daily_activity_line(
    subject: str,
    programme: str,
    day_start_ns: int,
    *,
    steps: int,
    wear_min: int,
    active_min: int,
    judgeable: bool,
    step_goal: int,
) -> str:
    """The ``daily_activity`` point: steps (count), wear and active time (minutes), the day's step
    goal (steps) and whether the day had enough wear to judge (``judgeable`` 0/1 as an integer)."""
    out = line(
        MEASUREMENT_ACTIVITY,
        {"subject": subject, "programme": programme},
        {
            "steps": int(steps),
            "wear_min": int(wear_min),
            "active_min": int(active_min),
            "judgeable": int(bool(judgeable)),
            "step_goal": int(step_goal),
        },
        day_start_ns,
    )
    assert out is not None
    return out


def session_line(session: SessionRecord, programme: str, completion: float | None = None) -> str:
    """The ``exercise_session`` point of one stored session (one exercise bout).

    Timestamped by the session start (UTC ns). Fields: ``reps`` and ``sets`` (counts),
    ``duration_s`` (seconds), ``completion`` (0-1 against the plan, if matched), ``session_id``
    and ``plan_entry`` (strings).
    """
    out = line(
        MEASUREMENT_SESSION,
        {
            "subject": session.subject,
            "programme": programme,
            "exercise": _exercise_tag(session.exercise),
        },
        {
            "reps": int(session.reps),
            "sets": len(session.sets),
            "duration_s": (session.end_ns - session.start_ns) / 1e9,
            "completion": completion,
            "session_id": session.session_id,
            "plan_entry": session.plan_entry,
        },
        session.start_ns,
    )
    assert out is not None
    return out
