"""Whole-programme adherence: per-component figures and the programme composite (pure).

Beside the exercise and step figures of :mod:`adherence.scoring` (taken unchanged from its
:class:`~adherence.scoring.DayScore`), a plan's ``components`` prescribe education, CBT,
mindfulness, coaching and symptom reports. This module scores each prescribed component per
local day and combines them into a programme composite. Every definition, with hand-computed
examples, is in ``docs/scoring.md`` (section "Whole programme"); the constants below are the only
copy of the numbers in code.

The weights are **declared by this project** (issue 17), not taken from a published instrument:
we found no validated weighting of programme components. Exercise and steps keep the 0.7 : 0.3
ratio of the existing composite (0.42 : 0.18), so a plan prescribing only those two gets a
programme composite equal to its composite; the four other components share the remaining 0.40
equally. Symptom reporting is measured (``symptoms_pain``, ``symptoms_peg``) but weighs nothing:
it is measurement, not treatment.

Plans without ``components`` get no programme composite (``None``), and their existing
``composite`` is untouched: this module never changes a :class:`DayScore`.

Also here: :func:`dose_response`, one row per patient relating adherence over the programme to
the pain change (for the researcher export), with the engagement counts in the terms of the
app-based programme studies (workouts logged, items read, CBT sessions, posts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adherence.outcomes import PatientOutcomes
from adherence.plan import CarePlan, PerWeekPrescription
from adherence.scoring import DayScore, pain_fields
from devices.programme import ProgrammeEvent
from ingest.store import SessionRecord

__all__ = [
    "WEIGHTS",
    "WINDOW_DAYS",
    "ComponentScore",
    "ProgrammeDay",
    "DoseResponseRow",
    "per_week_adherence",
    "interval_adherence",
    "programme_composite",
    "score_programme",
    "dose_response",
]

#: Declared component weights of the programme composite (renormalised over those present).
WEIGHTS: dict[str, float] = {
    "exercise": 0.42,
    "steps": 0.18,
    "education": 0.10,
    "cbt": 0.10,
    "mindfulness": 0.10,
    "coaching": 0.10,
    "symptoms_pain": 0.0,
    "symptoms_peg": 0.0,
}
#: Rolling window of the per-week components, days (ending on the scored day), as in scoring.
WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class ComponentScore:
    """One component's adherence on one day.

    Attributes
    ----------
    component:
        ``exercise``, ``steps``, ``education``, ``cbt``, ``mindfulness``, ``coaching``,
        ``symptoms_pain`` or ``symptoms_peg``.
    adherence:
        0-1 (``None``: nothing could be judged yet).
    done:
        What counted in the window (items, sessions, contacts, days with a report); for exercise
        the planned sessions done, for steps the judgeable days.
    expected:
        What the prescription asks for in the window, in the same unit (may be fractional).
    minutes, minutes_expected:
        Credited and prescribed minutes, where the plan prescribes minutes.
    window_days:
        Days the window covers (clipped to the programme start).
    weight:
        Declared weight in the programme composite.
    """

    component: str
    adherence: float | None
    done: float
    expected: float | None
    minutes: float | None
    minutes_expected: float | None
    window_days: int
    weight: float


@dataclass(frozen=True, slots=True)
class ProgrammeDay:
    """All component figures of one subject and local day, and the programme composite (0-100,
    one decimal; ``None`` for plans without components or when nothing can be judged)."""

    day: dt.date
    components: tuple[ComponentScore, ...]
    programme_composite: float | None

    def component(self, name: str) -> ComponentScore | None:
        """The named component, if the plan prescribes it."""
        return next((c for c in self.components if c.component == name), None)


@dataclass(frozen=True, slots=True)
class DoseResponseRow:
    """One patient's adherence over the programme against the pain change (researcher table).

    Fractions are 0-1, pain in points 0-10, change in points and percent (negative: better).
    """

    subject: str
    programme: str
    as_of: dt.date
    programme_days: int
    sessions_done: int
    sessions_planned: int
    exercise_adherence: float | None
    step_attainment: float | None
    mean_programme_composite: float | None
    workouts_logged: int
    items_read: int
    cbt_sessions: int
    mindfulness_sessions: int
    coaching_contacts: int
    posts: int
    pain_baseline: float | None
    pain_last_7d: float | None
    pain_change_points: float | None
    pain_change_pct: float | None
    pain_improved: bool | None
    peg_baseline: float | None
    peg_last_7d: float | None
    peg_change_points: float | None


# -- the building blocks --------------------------------------------------------------------------


def per_week_adherence(done: float, per_week: int, closed_days: int) -> tuple[float | None, float]:
    """Adherence (0-1) to ``per_week`` completions a week, and what was expected.

    ``expected = per_week * closed_days / 7`` over the window's finished days (the day in
    progress can only add to ``done``, never to ``expected``); adherence ``min(1, done /
    expected)``; with nothing expected yet, 1 if something was done and ``None`` otherwise.
    """
    expected = per_week * closed_days / 7
    if expected == 0:
        return (1.0 if done > 0 else None), 0.0
    return min(1.0, done / expected), expected


def interval_adherence(done: int, every_days: int, days_since_start: int) -> float | None:
    """Adherence (0 or 1) to "at least one every ``every_days`` days" on one day.

    1 if the last ``every_days`` days (clipped to the programme start) hold one or more; else 0
    once a full interval has passed since the start (``days_since_start + 1 >= every_days``),
    ``None`` before that (not yet due).
    """
    if done > 0:
        return 1.0
    return 0.0 if days_since_start + 1 >= every_days else None


def programme_composite(parts: Sequence[ComponentScore]) -> float | None:
    """Weighted mean of the components' adherence, 0-100, one decimal.

    ``100 * sum(w * a) / sum(w)`` over components with an adherence and a weight > 0; ``None``
    when there are none.
    """
    present = [(c.weight, c.adherence) for c in parts if c.adherence is not None and c.weight > 0]
    if not present:
        return None
    total = sum(w for w, _ in present)
    return round(100.0 * sum(w * a for w, a in present) / total, 1)


# -- per day --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Window:
    first: dt.date
    last: dt.date
    days: int
    closed: int


def _window(plan: CarePlan, ds: DayScore, length: int) -> _Window:
    first = max(plan.start_date, ds.day - dt.timedelta(days=length - 1))
    days = (ds.day - first).days + 1
    return _Window(first, ds.day, days, days - (1 if ds.pending else 0))


def _in(plan: CarePlan, events: Sequence[ProgrammeEvent], w: _Window) -> list[ProgrammeEvent]:
    return [e for e in events if w.first <= plan.local_day(e.t_ns) <= w.last]


def _first_per(
    events: Sequence[ProgrammeEvent], key: Callable[[ProgrammeEvent], str | None]
) -> list[ProgrammeEvent]:
    seen: dict[str | None, ProgrammeEvent] = {}
    for e in sorted(events, key=lambda e: (e.t_ns, e.event_id)):
        seen.setdefault(key(e), e)
    return list(seen.values())


def _per_week(
    name: str, rx: PerWeekPrescription, done_events: Sequence[ProgrammeEvent], w: _Window
) -> ComponentScore:
    done = len(done_events)
    count_adh, expected = per_week_adherence(done, rx.per_week, w.closed)
    if rx.minutes is None:
        return ComponentScore(name, count_adh, done, expected, None, None, w.days, WEIGHTS[name])
    credited = sum(min(e.minutes or 0.0, rx.minutes) for e in done_events)
    minutes_adh, minutes_expected = per_week_adherence(credited, rx.per_week * rx.minutes, w.closed)
    return ComponentScore(
        name, minutes_adh, done, expected, credited, minutes_expected, w.days, WEIGHTS[name]
    )


def _kind(events: Sequence[ProgrammeEvent], kind: str) -> list[ProgrammeEvent]:
    return [e for e in events if e.event == kind]


def _base_components(plan: CarePlan, ds: DayScore, w: _Window) -> list[ComponentScore]:
    out = []
    if plan.sessions:
        out.append(
            ComponentScore(
                "exercise",
                ds.exercise_adherence_7d,
                ds.sessions_done_7d,
                ds.sessions_planned_7d,
                None,
                None,
                w.days,
                WEIGHTS["exercise"],
            )
        )
    out.append(
        ComponentScore(
            "steps", ds.step_attainment_7d, ds.judgeable_days_7d, None, None, None, w.days,
            WEIGHTS["steps"],
        )
    )  # fmt: skip
    return out


def _interval(
    name: str, plan: CarePlan, ds: DayScore, every: int, hits: Sequence[ProgrammeEvent]
) -> ComponentScore:
    since = (ds.day - plan.start_date).days
    adh = interval_adherence(len(hits), every, since)
    w = _window(plan, ds, every)
    return ComponentScore(name, adh, len(hits), 1.0, None, None, w.days, WEIGHTS[name])


def _coaching(
    plan: CarePlan, ds: DayScore, events: Sequence[ProgrammeEvent]
) -> ComponentScore | None:
    rx = plan.components.coaching if plan.components else None
    if rx is None:
        return None
    hits = [
        e
        for e in _kind(_in(plan, events, _window(plan, ds, rx.every_days)), "coaching_contact")
        if rx.channel in ("any", e.channel)
    ]
    return _interval("coaching", plan, ds, rx.every_days, hits)


def _symptoms(
    plan: CarePlan, ds: DayScore, events: Sequence[ProgrammeEvent], pain_days: frozenset[dt.date]
) -> list[ComponentScore]:
    rx = plan.components.symptoms if plan.components else None
    out: list[ComponentScore] = []
    if rx is None:
        return out
    if rx.pain_daily:
        w = _window(plan, ds, WINDOW_DAYS)
        done = sum(1 for d in pain_days if w.first <= d <= w.last)
        adh, expected = per_week_adherence(done, 7, w.closed)
        out.append(ComponentScore("symptoms_pain", adh, done, expected, None, None, w.days, 0.0))
    if rx.peg_every_days is not None:
        pegs = _kind(_in(plan, events, _window(plan, ds, rx.peg_every_days)), "peg")
        out.append(_interval("symptoms_peg", plan, ds, rx.peg_every_days, pegs))
    return out


def _day(
    plan: CarePlan, ds: DayScore, events: Sequence[ProgrammeEvent], pain_days: frozenset[dt.date]
) -> ProgrammeDay:
    w = _window(plan, ds, WINDOW_DAYS)
    parts = _base_components(plan, ds, w)
    comp = plan.components
    if comp is None:
        return ProgrammeDay(ds.day, tuple(parts), None)
    week = _in(plan, events, w)
    if comp.education is not None:
        read = _first_per(_kind(week, "education_completed"), lambda e: e.item_id)
        parts.append(_per_week("education", comp.education, read, w))
    if comp.cbt is not None:
        cbt = _first_per(_kind(week, "cbt_completed"), lambda e: e.module_id)
        parts.append(_per_week("cbt", comp.cbt, cbt, w))
    if comp.mindfulness is not None:
        parts.append(
            _per_week("mindfulness", comp.mindfulness, _kind(week, "mindfulness_completed"), w)
        )
    coaching = _coaching(plan, ds, events)
    if coaching is not None:
        parts.append(coaching)
    parts.extend(_symptoms(plan, ds, events, pain_days))
    return ProgrammeDay(ds.day, tuple(parts), programme_composite(parts))


def score_programme(
    plan: CarePlan,
    days: Sequence[DayScore],
    events: Sequence[ProgrammeEvent],
    *,
    pain_days: frozenset[dt.date] = frozenset(),
) -> list[ProgrammeDay]:
    """Component adherence and programme composite for each scored day of one plan.

    Parameters
    ----------
    plan:
        The subject's care plan (its ``components`` say what is prescribed).
    days:
        ``adherence.scoring.score_plan``'s output for the plan (exercise and step figures, and
        which day is in progress).
    events:
        The subject's programme events (``Store.programme_events``), any order.
    pain_days:
        Further local days with a pain report from outside the programme events (``symptom``
        stream samples, session ``pain_before``), for ``symptoms_pain``; days of ``pain`` events
        are added here. :func:`adherence.outcomes.daily_pain_values` gives them (its keys).

    Returns
    -------
    list of ProgrammeDay
        One per element of ``days``, in the same order.
    """
    reported = pain_days | {plan.local_day(e.t_ns) for e in events if e.event == "pain"}
    return [_day(plan, ds, events, frozenset(reported)) for ds in days]


# -- dose-response --------------------------------------------------------------------------------


def _count(
    events: Sequence[ProgrammeEvent],
    kind: str,
    distinct: Callable[[ProgrammeEvent], str | None] | None = None,
) -> int:
    chosen = _kind(events, kind)
    return len(chosen) if distinct is None else len(_first_per(chosen, distinct))


def dose_response(
    plan: CarePlan,
    days: Sequence[DayScore],
    programme_days: Sequence[ProgrammeDay],
    events: Sequence[ProgrammeEvent],
    sessions: Sequence[SessionRecord],
    outcomes: PatientOutcomes,
) -> DoseResponseRow:
    """One patient's dose-response row over the programme up to ``outcomes.as_of``.

    Exercise adherence = planned sessions done / planned over all scored days; step attainment
    = mean daily attainment over judgeable days; mean programme composite over days that have
    one; counts over the programme: workouts logged (stored sessions with at least one
    repetition), items read (distinct education items completed), CBT and mindfulness sessions
    (completion events), coaching contacts, community posts. Pain figures from ``outcomes``.
    """
    lo, _ = plan.day_bounds_ns(plan.start_date)
    _, hi = plan.day_bounds_ns(outcomes.as_of)
    ev = [e for e in events if lo <= e.t_ns < hi]
    chosen = [d for d in days if d.day <= outcomes.as_of]
    done = sum(d.sessions_done for d in chosen)
    planned = sum(d.sessions_planned for d in chosen)
    att = [d.step_attainment for d in chosen if d.step_attainment is not None]
    comp = [
        p.programme_composite
        for p in programme_days
        if p.day <= outcomes.as_of and p.programme_composite is not None
    ]
    pain, peg = outcomes.pain, outcomes.peg
    return DoseResponseRow(
        subject=plan.subject,
        programme=plan.programme,
        as_of=outcomes.as_of,
        programme_days=len(chosen),
        sessions_done=done,
        sessions_planned=planned,
        exercise_adherence=done / planned if planned else None,
        step_attainment=sum(att) / len(att) if att else None,
        mean_programme_composite=round(sum(comp) / len(comp), 1) if comp else None,
        workouts_logged=sum(1 for s in sessions if s.reps > 0 and lo <= s.start_ns < hi),
        items_read=_count(ev, "education_completed", lambda e: e.item_id),
        cbt_sessions=_count(ev, "cbt_completed"),
        mindfulness_sessions=_count(ev, "mindfulness_completed"),
        coaching_contacts=_count(ev, "coaching_contact"),
        posts=_count(ev, "community_post"),
        **pain_fields(pain),
        peg_baseline=peg.baseline,
        peg_last_7d=peg.last_7d,
        peg_change_points=peg.change_points,
    )
