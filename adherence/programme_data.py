"""Glue between the store and the pure programme functions (outcomes, component scoring).

One call per plan, after :func:`adherence.scoring.score_plan`: :func:`evaluate_programme` reads
the subject's programme events (``Store.programme_events``), pain samples of the ``symptom``
stream (``Store.read_stream``) and session events with ``pain_before`` / ``pain_after``
(``mqtt_events``), and returns the outcomes, the per-day component figures and the
dose-response row. :func:`detail_fields` gives the JSON fields to keep with a day's score.

Nothing here changes :mod:`adherence.scoring`: the existing figures and composite stay as they
are; the lead wires these calls into ``rescore`` / the report / the exports (see issue 17).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from adherence.outcomes import (
    PainReport,
    PatientOutcomes,
    PegReport,
    daily_pain_values,
    patient_outcomes,
    reports_from_events,
    reports_from_session_events,
    reports_from_symptom_stream,
)
from adherence.plan import CarePlan
from adherence.programme_scoring import (
    DoseResponseRow,
    ProgrammeDay,
    dose_response,
    score_programme,
)
from adherence.scoring import DayScore
from devices.frame import StreamKind
from devices.programme import ProgrammeEvent
from ingest.mqtt_events import ensure_events_table, events
from ingest.store import Store

__all__ = [
    "ProgrammeInputs",
    "ProgrammeResult",
    "load_inputs",
    "evaluate_programme",
    "evaluate_and_flag",
    "detail_fields",
]


@dataclass(frozen=True, slots=True)
class ProgrammeInputs:
    """What the store holds for one subject over the programme (UTC ns, 0-10 points)."""

    events: tuple[ProgrammeEvent, ...]
    pain: tuple[PainReport, ...]
    peg: tuple[PegReport, ...]


@dataclass(frozen=True, slots=True)
class ProgrammeResult:
    """Outcomes as of the last scored day, the component figures of every scored day, and the
    dose-response row."""

    outcomes: PatientOutcomes
    days: tuple[ProgrammeDay, ...]
    dose: DoseResponseRow


def load_inputs(store: Store, plan: CarePlan, last: dt.date) -> ProgrammeInputs:
    """Read a subject's programme events and pain reports from the programme start to ``last``.

    Pain reports come from ``pain`` programme events and ``symptom`` stream samples (daily) and
    from session events' ``pain_before`` / ``pain_after``; PEG reports from ``peg`` events.
    """
    lo, _ = plan.day_bounds_ns(plan.start_date)
    _, hi = plan.day_bounds_ns(max(last, plan.start_date))
    evs = store.programme_events(plan.subject, lo, hi)
    pain, peg = reports_from_events(evs)
    t, v = store.read_stream(plan.subject, StreamKind.SYMPTOM, start_ns=lo, end_ns=hi)
    pain += reports_from_symptom_stream([int(x) for x in t], [float(x) for x in v[:, 0]])
    ensure_events_table(store)
    sess = [
        (e.kind, e.t_ns, e.session_id, e.detail)
        for e in events(store, subject=plan.subject)
        if e.kind in ("session_start", "session_stop") and lo <= e.t_ns < hi
    ]
    pain += reports_from_session_events(sess)
    return ProgrammeInputs(tuple(evs), tuple(sorted(pain, key=lambda r: r.t_ns)), tuple(peg))


def evaluate_programme(
    store: Store, plan: CarePlan, days: Sequence[DayScore]
) -> ProgrammeResult | None:
    """Outcomes, component figures and dose-response for ``days`` (``score_plan``'s output).

    Returns ``None`` when ``days`` is empty (nothing scored yet).
    """
    if not days:
        return None
    last = days[-1].day
    inputs = load_inputs(store, plan, last)
    pain_days = frozenset(daily_pain_values(plan, inputs.pain))
    prog = score_programme(plan, days, inputs.events, pain_days=pain_days)
    out = patient_outcomes(plan, inputs.pain, inputs.peg, last)
    lo, _ = plan.day_bounds_ns(plan.start_date)
    _, hi = plan.day_bounds_ns(last)
    sessions = store.sessions(plan.subject, lo, hi)
    dose = dose_response(plan, days, prog, inputs.events, sessions, out)
    return ProgrammeResult(out, tuple(prog), dose)


def evaluate_and_flag(
    store: Store, plan: CarePlan, days: Sequence[DayScore]
) -> ProgrammeResult | None:
    """:func:`evaluate_programme`, and the outcome flags (``PAIN_WORSENING``,
    ``NO_SYMPTOM_REPORT``) added to the last day's coach flags, so every place that shows flags
    (score, demo, report, InfluxDB) shows them too. The composite is not changed."""
    res = evaluate_programme(store, plan, days)
    if res is not None:
        have = {f.code for f in days[-1].flags}
        days[-1].flags.extend(f for f in res.outcomes.flags if f.code not in have)
    return res


def detail_fields(day: ProgrammeDay, outcomes: PatientOutcomes | None) -> dict[str, Any]:
    """JSON-ready fields to add to a day's score detail (keys new to it, none replaced).

    ``programme_composite`` (0-100 or null), ``components`` (name -> adherence 0-1 and counts),
    and, when ``outcomes`` is for this day, ``pain`` and ``peg`` summaries (points, percent) with
    ``outcome_flags``.
    """
    out: dict[str, Any] = {
        "programme_composite": day.programme_composite,
        "components": {
            c.component: {k: v for k, v in asdict(c).items() if k != "component"}
            for c in day.components
        },
    }
    if outcomes is not None and outcomes.as_of == day.day:
        for name, s in (("pain", outcomes.pain), ("peg", outcomes.peg)):
            d = asdict(s)
            d["as_of"] = s.as_of.isoformat()
            d["baseline_days"] = [x.isoformat() for x in s.baseline_days]
            d["last_report_day"] = s.last_report_day.isoformat() if s.last_report_day else None
            out[name] = d
        out["session_pain_change_7d"] = outcomes.session_change_7d
        out["outcome_flags"] = [asdict(f) for f in outcomes.flags]
    return out
