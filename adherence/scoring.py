"""Adherence scoring from care plans, stored exercise sessions and daily step summaries.

Every definition (thresholds, weights, windows, flags) is written out in ``docs/scoring.md`` with
where it comes from; the constants below are the single place they live in code.

Inputs, all read from the local store:

* ``sessions`` - one stored session is one exercise bout (one exercise, several sets);
* ``daily_summary`` - steps, wear minutes and the ``judgeable`` flag per subject and local day.

Output: one score row per subject and local day (``store.put_score``), with a JSON detail, and
optionally InfluxDB line-protocol points in the outbox (``store.enqueue``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from adherence import influx_schema
from adherence.plan import CarePlan, PlannedSession
from devices.errors import ConfigError
from ingest.store import SessionRecord, Store

if TYPE_CHECKING:
    from adherence.outcomes import OutcomeSummary

__all__ = [
    "SESSION_DONE_THRESHOLD",
    "WEIGHT_EXERCISE",
    "WEIGHT_STEPS",
    "WINDOW_DAYS",
    "NO_SESSION_DAYS",
    "LOW_ADHERENCE",
    "LOW_STEPS",
    "Flag",
    "SessionResult",
    "DayScore",
    "SubjectReport",
    "pain_fields",
    "score_plan",
    "rescore",
]

#: A planned session counts as done when its completion reaches this ("most of it").
SESSION_DONE_THRESHOLD = 0.8
#: Composite weights (exercise adherence, step-goal attainment); a missing part is left out and
#: the other's weight renormalised.
WEIGHT_EXERCISE = 0.7
WEIGHT_STEPS = 0.3
#: Rolling window of the weekly figures, days (ending on the scored day).
WINDOW_DAYS = 7
#: Flag NO_RECENT_SESSION when this many days passed without a session while one was planned.
NO_SESSION_DAYS = 3
#: Flag LOW_WEEKLY_ADHERENCE below this weekly exercise adherence (fraction).
LOW_ADHERENCE = 0.5
#: Flag LOW_STEPS below this 7-day step-goal attainment (fraction).
LOW_STEPS = 0.5


@dataclass(frozen=True, slots=True)
class Flag:
    """A coach flag: a stable ``code`` and a human-readable ``reason`` with the numbers."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class SessionResult:
    """How much of one planned session was done on one day.

    ``per_exercise`` maps exercise id to (reps done, reps prescribed, completion 0-1).
    """

    planned_id: str
    completion: float
    done: bool
    per_exercise: dict[str, tuple[int, int, float]]


@dataclass(slots=True)
class DayScore:
    """All figures of one subject and local day. Fractions are 0-1; ``composite`` is 0-100."""

    day: dt.date
    pending: bool
    sessions: list[SessionResult]
    sessions_done: int
    sessions_planned: int
    steps: int | None
    step_goal: int
    wear_min: int | None
    active_min: int | None
    judgeable: bool
    step_attainment: float | None
    sessions_done_7d: int = 0
    sessions_planned_7d: int = 0
    exercise_adherence_7d: float | None = None
    step_attainment_7d: float | None = None
    judgeable_days_7d: int = 0
    closed_days_7d: int = 0
    composite: float | None = None
    trend_7d: float | None = None
    streak_days: int = 0
    days_since_last_session: int | None = None
    flags: list[Flag] = field(default_factory=list)

    def detail(self) -> dict[str, Any]:
        """JSON-serialisable detail (what ``store.put_score`` keeps)."""
        d = asdict(self)
        d["day"] = self.day.isoformat()
        d["flags"] = [asdict(f) for f in self.flags]
        d["sessions"] = [
            {
                "planned_id": s.planned_id,
                "completion": s.completion,
                "done": s.done,
                "per_exercise": {k: list(v) for k, v in s.per_exercise.items()},
            }
            for s in self.sessions
        ]
        return d


@dataclass(frozen=True, slots=True)
class ProgrammeSummary:
    """A subject's whole-programme position on one day: the programme composite (0-100) and pain
    NRS (0-10 points): baseline, last-7-day mean, change in points and percent (negative is
    better), and whether it is a clinically important improvement (``docs/scoring.md``)."""

    programme_composite: float | None
    pain_baseline: float | None
    pain_last_7d: float | None
    pain_change_points: float | None
    pain_change_pct: float | None
    pain_improved: bool | None


_PAIN_FIELDS = (
    "pain_baseline",
    "pain_last_7d",
    "pain_change_points",
    "pain_change_pct",
    "pain_improved",
)


def pain_fields(pain: OutcomeSummary | None) -> dict[str, Any]:
    """The ``pain_*`` fields of :class:`ProgrammeSummary` (and of the researcher table's rows)
    from a pain NRS summary: baseline and last-7-day mean (points 0-10), change in points and
    percent, clinically important improvement; all ``None`` without a summary."""
    if pain is None:
        return dict.fromkeys(_PAIN_FIELDS)
    values = (pain.baseline, pain.last_7d, pain.change_points, pain.change_pct, pain.improved)
    return dict(zip(_PAIN_FIELDS, values, strict=True))


@dataclass(frozen=True, slots=True)
class SubjectReport:
    """A subject's position on the latest scored day (what a coach looks at).

    ``weekly_exercise_adherence`` and ``step_goal_attainment`` are the 7-day figures (0-1, ``None``
    when nothing was planned / no day was judgeable); ``sessions_done`` / ``sessions_planned``
    count planned sessions in the same 7 days; ``trend_7d`` is in composite points.
    """

    subject: str
    day: dt.date | None
    composite: float | None
    weekly_exercise_adherence: float | None
    step_goal_attainment: float | None
    sessions_done: int
    sessions_planned: int
    streak_days: int
    days_since_last_session: int | None
    trend_7d: float | None
    flags: list[Flag]
    in_progress: bool = False
    """``day`` is today in the plan's time zone: its figures count only what is already done."""
    programme: ProgrammeSummary | None = None
    """Whole-programme figures of ``day`` (plans with ``components``; ``docs/scoring.md``)."""

    def as_of(self) -> str:
        """``2026-11-22 (final)`` or ``2026-11-22 (today, in progress)``: the day the figures
        describe and whether it is complete, printed by every command that shows scores."""
        if self.day is None:
            return "no scored day"
        return f"{self.day.isoformat()} ({'today, in progress' if self.in_progress else 'final'})"


# -- pure computation ---------------------------------------------------------------------------


def session_completion(
    planned: PlannedSession, reps_done: dict[str, int]
) -> tuple[float, dict[str, tuple[int, int, float]]]:
    """Completion (0-1) of a planned session given repetitions done per exercise (counts).

    Per exercise ``min(1, done / (sets * reps))``; the session is the mean over its exercises.
    """
    per: dict[str, tuple[int, int, float]] = {}
    for ex in planned.exercises:
        done = reps_done.get(ex.exercise, 0)
        per[ex.exercise] = (done, ex.total_reps, min(1.0, done / ex.total_reps))
    return sum(v[2] for v in per.values()) / len(per), per


def match_day(
    planned: Sequence[PlannedSession], stored: Iterable[SessionRecord]
) -> list[SessionResult]:
    """Match one local day's stored sessions to that day's planned sessions.

    A stored session whose ``plan_entry`` names a planned session of the day goes to it; one
    without ``plan_entry`` goes to the first planned session (in plan order) that prescribes its
    exercise. Others (off-schedule, unprescribed exercise) count for nothing here.
    """
    by_id = {p.id: p for p in planned}
    reps: dict[str, dict[str, int]] = {p.id: {} for p in planned}
    for s in stored:
        target: PlannedSession | None = None
        if s.plan_entry is not None:
            target = by_id.get(s.plan_entry)
        else:
            target = next(
                (p for p in planned if any(e.exercise == s.exercise for e in p.exercises)), None
            )
        if target is None:
            continue
        bucket = reps[target.id]
        bucket[s.exercise] = bucket.get(s.exercise, 0) + s.reps
    out = []
    for p in planned:
        completion, per = session_completion(p, reps[p.id])
        out.append(SessionResult(p.id, completion, completion >= SESSION_DONE_THRESHOLD, per))
    return out


def composite_score(exercise: float | None, steps: float | None) -> float | None:
    """Composite 0-100 from exercise adherence and step attainment (0-1 each), 1 decimal."""
    parts = [
        (w, v) for w, v in ((WEIGHT_EXERCISE, exercise), (WEIGHT_STEPS, steps)) if v is not None
    ]
    if not parts:
        return None
    return round(100.0 * sum(w * v for w, v in parts) / sum(w for w, _ in parts), 1)


def _pct(x: float) -> str:
    return f"{round(100 * x)}%"


def score_plan(
    plan: CarePlan,
    sessions: Sequence[SessionRecord],
    summaries: dict[dt.date, tuple[int, int, int, bool]],
    *,
    today: dt.date,
) -> list[DayScore]:
    """Score every programme day up to ``today`` (inclusive) for one plan.

    Parameters
    ----------
    plan:
        The subject's care plan.
    sessions:
        The subject's stored sessions (any order).
    summaries:
        ``daily_summary`` rows by local day: (steps, wear_min, active_min, judgeable).
    today:
        The subject's current local day; it is "in progress": its planned sessions count only once
        done and its steps only once the goal is reached (so a morning is not scored as failure).

    Returns
    -------
    list of DayScore
        One per day from ``plan.start_date`` to ``min(plan.end_date, today)``.
    """
    last = min(plan.end_date, today)
    by_day: dict[dt.date, list[SessionRecord]] = {}
    for s in sessions:
        by_day.setdefault(plan.local_day(s.start_ns), []).append(s)
    active_days = sorted(d for d, ss in by_day.items() if any(s.reps > 0 for s in ss))
    days: list[DayScore] = []
    d = plan.start_date
    while d <= last:
        days.append(_day_score(plan, d, by_day.get(d, []), summaries.get(d), today))
        d += dt.timedelta(days=1)
    for i, ds in enumerate(days):
        _rolling(ds, days[max(0, i - WINDOW_DAYS + 1) : i + 1])
        if i >= WINDOW_DAYS:
            before = days[i - WINDOW_DAYS].composite
            if before is not None and ds.composite is not None:
                ds.trend_7d = round(ds.composite - before, 1)
        ds.streak_days = _streak(days[: i + 1])
        last_active = next((a for a in reversed(active_days) if a <= ds.day), None)
        ds.days_since_last_session = None if last_active is None else (ds.day - last_active).days
        ds.flags = _flags(plan, ds, days[: i + 1], last_active)
    return days


def _day_score(
    plan: CarePlan,
    d: dt.date,
    stored: Sequence[SessionRecord],
    row: tuple[int, int, int, bool] | None,
    today: dt.date,
) -> DayScore:
    """One day's own figures (no rolling window yet); ``row`` is its daily summary."""
    results = match_day(plan.planned_sessions(d), stored)
    pending = d == today
    done = sum(r.done for r in results)
    # The day in progress counts only what is already done.
    planned = done if pending else len(results)
    goal = plan.step_goal(d)
    steps = wear = active = None
    judgeable = False
    attainment = None
    if row is not None:
        steps, wear, active, judgeable = row
        if judgeable:
            attainment = min(1.0, steps / goal)
            if pending and attainment < 1.0:
                attainment = None
    return DayScore(
        d, pending, results, done, planned, steps, goal, wear, active, bool(judgeable), attainment
    )


def _rolling(ds: DayScore, window: Sequence[DayScore]) -> None:
    """Set the 7-day figures and the composite of ``ds`` from ``window`` (ending on it)."""
    ds.sessions_done_7d = sum(w.sessions_done for w in window)
    ds.sessions_planned_7d = sum(w.sessions_planned for w in window)
    if ds.sessions_planned_7d:
        ds.exercise_adherence_7d = ds.sessions_done_7d / ds.sessions_planned_7d
    att = [w.step_attainment for w in window if w.step_attainment is not None]
    ds.step_attainment_7d = sum(att) / len(att) if att else None
    closed = [w for w in window if not w.pending]
    ds.closed_days_7d = len(closed)
    ds.judgeable_days_7d = sum(w.judgeable for w in closed)
    ds.composite = composite_score(ds.exercise_adherence_7d, ds.step_attainment_7d)


def _streak(upto: Sequence[DayScore]) -> int:
    """Consecutive days with every planned session done, back from the last of ``upto``; days
    with nothing planned (or still in progress) neither extend nor break it."""
    streak = 0
    for w in reversed(upto):
        if w.sessions_planned == 0:
            continue
        if w.sessions_done < w.sessions_planned:
            break
        streak += 1
    return streak


def _last_session_text(upto: Sequence[DayScore], last_active: dt.date | None) -> str:
    """ "last on 2026-11-17, incomplete: 24 of 50 repetitions" - says when the last session fell
    short of its plan, so "last on ..." beside "0/3 sessions" does not read as a contradiction."""
    if last_active is None:
        return "none since the programme start"
    text = f"last on {last_active.isoformat()}"
    day = next((w for w in upto if w.day == last_active), None)
    if day is not None and day.sessions and day.sessions_done < len(day.sessions):
        done = sum(v[0] for r in day.sessions for v in r.per_exercise.values())
        planned = sum(v[1] for r in day.sessions for v in r.per_exercise.values())
        text += f", incomplete: {done} of {planned} repetitions"
    return text


def _flags(
    plan: CarePlan, ds: DayScore, upto: Sequence[DayScore], last_active: dt.date | None
) -> list[Flag]:
    flags = []
    since = (
        ds.days_since_last_session
        if ds.days_since_last_session is not None
        else (ds.day - plan.start_date).days + 1
    )
    missed_days = [w for w in upto if (last_active is None or w.day > last_active)]
    missed = sum(w.sessions_planned for w in missed_days)
    if since >= NO_SESSION_DAYS and missed > 0:
        last = _last_session_text(upto, last_active)
        flags.append(
            Flag(
                "NO_RECENT_SESSION",
                f"no exercise session for {since} days ({last}); {missed} planned session(s) missed",
            )
        )
    if ds.exercise_adherence_7d is not None and ds.exercise_adherence_7d < LOW_ADHERENCE:
        flags.append(
            Flag(
                "LOW_WEEKLY_ADHERENCE",
                f"weekly exercise adherence {_pct(ds.exercise_adherence_7d)} "
                f"({ds.sessions_done_7d} of {ds.sessions_planned_7d} planned sessions in the last "
                f"{WINDOW_DAYS} days) is under {_pct(LOW_ADHERENCE)}",
            )
        )
    if ds.closed_days_7d and 2 * ds.judgeable_days_7d < ds.closed_days_7d:
        flags.append(
            Flag(
                "INSUFFICIENT_WEAR",
                f"only {ds.judgeable_days_7d} of {ds.closed_days_7d} days had enough wear to judge "
                "steps",
            )
        )
    if ds.step_attainment_7d is not None and ds.step_attainment_7d < LOW_STEPS:
        flags.append(
            Flag(
                "LOW_STEPS",
                f"step-goal attainment {_pct(ds.step_attainment_7d)} over judgeable days of the "
                f"last {WINDOW_DAYS} days is under {_pct(LOW_STEPS)}",
            )
        )
    return flags


# -- store I/O ----------------------------------------------------------------------------------


def summaries_by_day(
    store: Store, subject: str, first: dt.date, last: dt.date
) -> dict[dt.date, tuple[int, int, int, bool]]:
    """Stored daily summaries of local days first..last (inclusive), as :func:`score_plan`
    takes them: day -> (steps, wear_min, active_min, judgeable)."""
    rows = store.summaries(subject, first.isoformat(), last.isoformat())
    return {
        dt.date.fromisoformat(r.day): (r.steps, r.wear_min, r.active_min, r.judgeable) for r in rows
    }


def _today_in(plan: CarePlan) -> dt.date:
    return dt.datetime.now(tz=plan.tz).date()


def rescore(
    store: Store,
    plans: Sequence[CarePlan],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    subjects: Iterable[str] | None = None,
    today: dt.date | None = None,
    sinks: Sequence[str] = (),
) -> list[SubjectReport]:
    """Recompute and store daily scores; optionally queue InfluxDB points for ``sinks``.

    Parameters
    ----------
    store:
        The local store (reads ``sessions`` and ``daily_summary``; writes ``scores``, ``outbox``).
    plans:
        Care plans; one per subject.
    start, end:
        Local days (inclusive) whose scores are written; default the whole programme up to
        ``today``. Windows and trends still look back before ``start``.
    subjects:
        Only these subjects (default all with a plan).
    today:
        The current local day (default: now, in each plan's time zone).
    sinks:
        Outbox sink names; for each, the ``adherence_daily`` and ``daily_activity`` points of the
        written days and the ``exercise_session`` points of sessions on those days are queued.

    Returns
    -------
    list of SubjectReport
        One per scored plan, describing its latest written day.
    """
    if start is not None and end is not None and start > end:
        raise ConfigError("date range", f"{start}..{end}", "the first day is after the last")
    wanted = None if subjects is None else set(subjects)
    reports = []
    for plan in plans:
        if wanted is not None and plan.subject not in wanted:
            continue
        now_day = today if today is not None else _today_in(plan)
        last = min(plan.end_date, now_day)
        lo_ns, _ = plan.day_bounds_ns(plan.start_date)
        _, hi_ns = plan.day_bounds_ns(max(last, plan.start_date))
        stored = store.sessions(plan.subject, lo_ns, hi_ns)
        summaries = summaries_by_day(store, plan.subject, plan.start_date, last)
        days = score_plan(plan, stored, summaries, today=now_day) if last >= plan.start_date else []
        prog = _programme(store, plan, days)
        chosen = [
            i
            for i, ds in enumerate(days)
            if (start is None or ds.day >= start) and (end is None or ds.day <= end)
        ]
        lines: list[str] = []
        with store.transaction():
            for i in chosen:
                ds = days[i]
                detail = ds.detail()
                detail["programme"] = plan.programme
                if prog is not None:
                    detail.update(prog.detail(i))
                store.put_score(plan.subject, ds.day.isoformat(), ds.composite, detail)
                if sinks:
                    lines.extend(_points(plan, ds, detail, stored))
                    if prog is not None:
                        lines.extend(prog.points(plan, i))
            for sink in sinks:
                store.enqueue(sink, lines)
        report = _report(plan.subject, days[chosen[-1]] if chosen else None)
        if prog is not None and chosen:
            report = replace(report, programme=prog.summary(chosen[-1]))
        reports.append(report)
    return reports


def _programme(store: Store, plan: CarePlan, days: list[DayScore]) -> _ProgrammeView | None:
    """The whole-programme figures (components, pain outcomes) of ``days``, or ``None``.

    Imported here: the programme modules build on this module's types (``DayScore``, ``Flag``).
    """
    if not days or plan.components is None:  # old plans score exactly as before
        return None
    from adherence.programme_data import evaluate_and_flag

    res = evaluate_and_flag(store, plan, days)
    return None if res is None else _ProgrammeView(res)


class _ProgrammeView:
    """Adapts a ``ProgrammeResult`` to what ``rescore`` writes (detail, points, summary)."""

    def __init__(self, res: Any) -> None:
        self.res = res

    def detail(self, i: int) -> dict[str, Any]:
        from adherence.programme_data import detail_fields

        out: dict[str, Any] = detail_fields(self.res.days[i], self.res.outcomes)
        return out

    def points(self, plan: CarePlan, i: int) -> list[str]:
        from adherence.influx_programme import programme_daily_line

        day = self.res.days[i]
        line = programme_daily_line(
            plan.subject, plan.programme, plan.day_bounds_ns(day.day)[0], day, self.res.outcomes
        )
        return [] if line is None else [line]

    def summary(self, i: int) -> ProgrammeSummary:
        day, out = self.res.days[i], self.res.outcomes
        pain = out.pain if out.as_of == day.day else None
        return ProgrammeSummary(programme_composite=day.programme_composite, **pain_fields(pain))


def _points(
    plan: CarePlan, ds: DayScore, detail: dict[str, Any], stored: Sequence[SessionRecord]
) -> list[str]:
    t0, t1 = plan.day_bounds_ns(ds.day)
    out = [influx_schema.adherence_daily_line(plan.subject, plan.programme, t0, detail)]
    if ds.steps is not None and ds.wear_min is not None:
        out.append(
            influx_schema.daily_activity_line(
                plan.subject,
                plan.programme,
                t0,
                steps=ds.steps,
                wear_min=ds.wear_min,
                active_min=ds.active_min or 0,
                judgeable=ds.judgeable,
                step_goal=ds.step_goal,
            )
        )
    for s in stored:
        if t0 <= s.start_ns < t1:
            completion = _bout_completion(plan, ds, s)
            out.append(influx_schema.session_line(s, plan.programme, completion))
    return out


def _bout_completion(plan: CarePlan, ds: DayScore, s: SessionRecord) -> float | None:
    """Completion of the planned exercise this bout counted towards, if any (0-1)."""
    for r in ds.sessions:
        if s.plan_entry not in (None, r.planned_id):
            continue
        if s.exercise in r.per_exercise:
            return r.per_exercise[s.exercise][2]
    return None


def _report(subject: str, ds: DayScore | None) -> SubjectReport:
    if ds is None:
        return SubjectReport(subject, None, None, None, None, 0, 0, 0, None, None, [])
    return SubjectReport(
        subject=subject,
        day=ds.day,
        composite=ds.composite,
        weekly_exercise_adherence=ds.exercise_adherence_7d,
        step_goal_attainment=ds.step_attainment_7d,
        sessions_done=ds.sessions_done_7d,
        sessions_planned=ds.sessions_planned_7d,
        streak_days=ds.streak_days,
        days_since_last_session=ds.days_since_last_session,
        trend_7d=ds.trend_7d,
        flags=list(ds.flags),
        in_progress=ds.pending,
    )
