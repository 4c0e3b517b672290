"""Researcher tables of the whole programme: ``symptoms``, ``engagement``, ``outcomes`` (pure).

Row builders for the researcher export (``adherence/export.py`` writes them next to its tables
once the lead wires them in; issue 17). Pseudonymised like the rest of the export: the subject
is replaced by its keyed pseudonym (:func:`adherence.pseudonym.subject_pseudonym`), session ids
by theirs; the app's event ids and device ids are never written (event ids are the app's and
may embed anything). Education item and module ids are the programme's catalogue ids and are
kept. Times are UTC ISO 8601 (``...Z``) with ``date_local`` in the plan's time zone.

================  ===============================================================================
``symptoms``      one row per pain or PEG report: source (``daily``, ``session_before``,
                  ``session_after``, ``peg``), pain NRS, the three PEG items and the PEG score
``engagement``    one row per programme event other than symptoms: event kind, item / module id,
                  minutes, coaching channel and who initiated it
``outcomes``      one row per patient: the dose-response row (adherence over the programme, the
                  engagement summary in the study's terms - workouts logged, items read, CBT
                  sessions, posts - and pain / PEG baseline, last 7 days and change)
================  ===============================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from zoneinfo import ZoneInfo

import pandas as pd

from adherence.outcomes import PainReport, PegReport
from adherence.programme_scoring import DoseResponseRow
from adherence.pseudonym import session_pseudonym, subject_pseudonym
from devices.programme import ProgrammeEvent

__all__ = [
    "SYMPTOM_COLUMNS",
    "ENGAGEMENT_COLUMNS",
    "symptoms_table",
    "engagement_table",
    "outcomes_table",
]

SYMPTOM_COLUMNS = (
    "subject", "time_utc", "date_local", "source", "session", "pain_nrs",
    "peg_pain", "peg_enjoyment", "peg_activity", "peg_score",
)  # fmt: skip
ENGAGEMENT_COLUMNS = (
    "subject", "time_utc", "date_local", "event", "item_id", "module_id", "minutes", "channel",
    "by",
)  # fmt: skip
_SYMPTOM_EVENTS = frozenset({"pain", "peg"})


def _iso(t_ns: int) -> str:
    s, ns = divmod(int(t_ns), 1_000_000_000)
    base = dt.datetime.fromtimestamp(s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ns:09d}Z" if ns else f"{base}Z"


def _local_date(t_ns: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(int(t_ns) // 1_000_000_000, tz=tz).date().isoformat()


def symptoms_table(
    key: bytes,
    subject: str,
    tz: ZoneInfo,
    pain: Sequence[PainReport],
    peg: Sequence[PegReport],
) -> pd.DataFrame:
    """The ``symptoms`` rows of one subject (pain points 0-10), in time order."""
    who = subject_pseudonym(key, subject)
    rows: list[dict[str, object]] = []
    for r in pain:
        rows.append(
            {
                "subject": who, "t": r.t_ns, "source": r.source,
                "session": None if r.session_id is None else session_pseudonym(key, r.session_id),
                "pain_nrs": r.nrs,
            }
        )  # fmt: skip
    for g in peg:
        rows.append(
            {
                "subject": who, "t": g.t_ns, "source": "peg", "peg_pain": g.items[0],
                "peg_enjoyment": g.items[1], "peg_activity": g.items[2], "peg_score": g.score,
            }
        )  # fmt: skip
    rows.sort(key=lambda row: (int(str(row["t"])), str(row["source"])))
    for row in rows:
        t = int(str(row.pop("t")))
        row["time_utc"], row["date_local"] = _iso(t), _local_date(t, tz)
    return pd.DataFrame(rows, columns=list(SYMPTOM_COLUMNS))


def engagement_table(
    key: bytes, subject: str, tz: ZoneInfo, events: Sequence[ProgrammeEvent]
) -> pd.DataFrame:
    """The ``engagement`` rows of one subject (minutes), in time order; no event or device ids."""
    who = subject_pseudonym(key, subject)
    rows = [
        {
            "subject": who, "time_utc": _iso(e.t_ns), "date_local": _local_date(e.t_ns, tz),
            "event": e.event, "item_id": e.item_id, "module_id": e.module_id,
            "minutes": e.minutes, "channel": e.channel, "by": e.by,
        }
        for e in sorted(events, key=lambda e: (e.t_ns, e.event))
        if e.event not in _SYMPTOM_EVENTS
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(ENGAGEMENT_COLUMNS))


def outcomes_table(key: bytes, rows: Sequence[DoseResponseRow]) -> pd.DataFrame:
    """The ``outcomes`` (dose-response) table: one row per patient, subject pseudonymised."""
    out = []
    for r in rows:
        d = asdict(r)
        d["subject"] = subject_pseudonym(key, r.subject)
        d["as_of"] = r.as_of.isoformat()
        out.append(d)
    columns = list(DoseResponseRow.__dataclass_fields__)
    return pd.DataFrame(out, columns=columns)
