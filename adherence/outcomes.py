"""Symptoms and outcomes: pain NRS and PEG against baseline, improvement, coach flags (pure).

Every definition is written out, with hand-computed examples, in ``docs/scoring.md`` (section
"Pain and outcomes"); the constants below are the only copy of the numbers in code.

Sources
-------
* Pain numeric rating scale (NRS) 0-10, daily and before/after each exercise session.
* PEG three-item scale: its score is the mean of its three 0-10 items (pain on average,
  interference with enjoyment of life, interference with general activity). Krebs EE, Lorenz KA,
  Bair MJ et al., "Development and initial validation of the PEG, a three-item scale assessing
  pain intensity and interference", J Gen Intern Med 2009;24(6):733-738,
  doi:10.1007/s11606-009-0981-1 (public domain).
* Clinically important improvement: a reduction of at least 30 % *and* at least 2 points on the
  0-10 scale, after the IMMPACT recommendations (Dworkin RH, Turk DC, Wyrwich KW et al.,
  "Interpreting the clinical importance of treatment outcomes in chronic pain clinical trials:
  IMMPACT recommendations", J Pain 2008;9(2):105-121, doi:10.1016/j.jpain.2007.09.005), which
  call a 30 % reduction moderately important and cite about 2 points as its NRS equivalent.
* The flag thresholds (2 points worse, 7 days without a report) are this project's choices
  (issue 17), not validated instruments.

All days are local days in the plan's time zone; all times UTC ns; scores 0-10 points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from adherence.plan import CarePlan
from adherence.scoring import Flag
from devices.errors import InputError
from devices.programme import ProgrammeEvent

__all__ = [
    "BASELINE_DAYS",
    "PEG_BASELINE_REPORTS",
    "WINDOW_DAYS",
    "IMPROVEMENT_PCT",
    "IMPROVEMENT_POINTS",
    "WORSENING_POINTS",
    "NO_REPORT_DAYS",
    "DAILY",
    "SESSION_BEFORE",
    "SESSION_AFTER",
    "PainReport",
    "PegReport",
    "OutcomeSummary",
    "PatientOutcomes",
    "peg_score",
    "daily_pain_values",
    "daily_peg_values",
    "summarise",
    "patient_outcomes",
    "reports_from_events",
    "reports_from_symptom_stream",
    "reports_from_session_events",
]

#: Baseline: mean of the first this many programme days with a pain report.
BASELINE_DAYS = 7
#: PEG baseline: the first this many PEG reports' days (PEG asks about the past week already).
PEG_BASELINE_REPORTS = 1
#: The "last 7 days" window, days ending on the as-of day.
WINDOW_DAYS = 7
#: Clinically important improvement: at least this % reduction and this many points (IMMPACT).
IMPROVEMENT_PCT = 30.0
IMPROVEMENT_POINTS = 2.0
#: Flag PAIN_WORSENING when the 7-day mean is at least this many points above baseline.
WORSENING_POINTS = 2.0
#: Flag NO_SYMPTOM_REPORT after this many days without any report (plan asks for them).
NO_REPORT_DAYS = 7
#: Comparisons with the thresholds allow this much floating-point error (points or %).
_EPS = 1e-9

DAILY = "daily"
"""A daily pain NRS (``pain`` programme event, or a ``symptom`` stream sample)."""
SESSION_BEFORE = "session_before"
"""A pain NRS on a session ``start`` (``pain_before``)."""
SESSION_AFTER = "session_after"
"""A pain NRS on a session ``stop`` (``pain_after``)."""
_SOURCES = frozenset({DAILY, SESSION_BEFORE, SESSION_AFTER})


@dataclass(frozen=True, slots=True)
class PainReport:
    """One pain NRS report: UTC ``t_ns``, ``nrs`` 0-10 points, its ``source``, and for session
    reports the app's ``session_id``."""

    t_ns: int
    nrs: float
    source: str = DAILY
    session_id: str | None = None

    def __post_init__(self) -> None:
        if self.source not in _SOURCES:
            raise InputError("pain report", "source", f"unknown source {self.source!r}")
        if not 0.0 <= self.nrs <= 10.0:
            raise InputError("pain report", "nrs", f"must be 0-10, got {self.nrs}")


@dataclass(frozen=True, slots=True)
class PegReport:
    """One PEG report at UTC ``t_ns``: the three items, 0-10 each."""

    t_ns: int
    items: tuple[float, float, float]

    @property
    def score(self) -> float:
        """The PEG score, 0-10 points: mean of the three items (Krebs et al. 2009)."""
        return peg_score(self.items)


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    """One measure (``"pain_nrs"`` or ``"peg"``) of one patient as of one local day.

    Attributes
    ----------
    baseline:
        Mean of the day values of the baseline days, points (``None`` before any report).
    baseline_days:
        The days used for the baseline, in order (fewer than asked while it is still forming).
    baseline_complete:
        True once all baseline days are there; change and improvement need it.
    last_7d:
        Mean of the day values within the 7 days ending on ``as_of``, points.
    last_7d_days:
        How many days of that window had a value.
    change_points:
        ``last_7d - baseline`` (negative is better), points.
    change_pct:
        ``100 * change_points / baseline`` (``None`` for a baseline of 0), percent.
    improved:
        Clinically important improvement: ``change_pct <= -30`` and ``change_points <= -2``.
    last_report_day:
        Latest day with a value up to ``as_of``.
    """

    measure: str
    as_of: dt.date
    baseline: float | None
    baseline_days: tuple[dt.date, ...]
    baseline_complete: bool
    last_7d: float | None
    last_7d_days: int
    change_points: float | None
    change_pct: float | None
    improved: bool | None
    last_report_day: dt.date | None


@dataclass(frozen=True, slots=True)
class PatientOutcomes:
    """Pain NRS and PEG summaries, session pain change and flags, for one patient and day.

    ``session_change_7d`` is the mean of ``pain_after - pain_before`` over sessions of the last
    7 days that reported both (points; negative: exercising eased the pain).
    """

    subject: str
    as_of: dt.date
    pain: OutcomeSummary
    peg: OutcomeSummary
    session_change_7d: float | None
    sessions_with_pain_7d: int
    flags: list[Flag] = field(default_factory=list)


# -- scoring ------------------------------------------------------------------------------------


def peg_score(items: Sequence[float]) -> float:
    """PEG score, 0-10 points: the mean of its three 0-10 items (Krebs et al. 2009).

    >>> peg_score([6, 5, 4])
    5.0
    """
    if len(items) != 3 or not all(0.0 <= x <= 10.0 for x in items):
        raise InputError("PEG", "items", f"needs 3 items of 0-10, got {list(items)!r}")
    return (float(items[0]) + float(items[1]) + float(items[2])) / 3.0


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def daily_pain_values(plan: CarePlan, reports: Iterable[PainReport]) -> dict[dt.date, float]:
    """A pain value per local day, points 0-10.

    A day's value is the mean of its daily reports; a day without a daily report takes the mean
    of its session ``pain_before`` reports (pain at rest, before exercising). ``pain_after``
    reports never make a day's value: they describe the response to exercise, not the day.
    """
    daily: dict[dt.date, list[float]] = {}
    before: dict[dt.date, list[float]] = {}
    for r in reports:
        if r.source == DAILY:
            daily.setdefault(plan.local_day(r.t_ns), []).append(r.nrs)
        elif r.source == SESSION_BEFORE:
            before.setdefault(plan.local_day(r.t_ns), []).append(r.nrs)
    out = {d: _mean(v) for d, v in before.items()}
    out.update({d: _mean(v) for d, v in daily.items()})
    return dict(sorted(out.items()))


def daily_peg_values(plan: CarePlan, reports: Iterable[PegReport]) -> dict[dt.date, float]:
    """A PEG value per local day with a PEG report: mean of that day's PEG scores, points."""
    by_day: dict[dt.date, list[float]] = {}
    for r in reports:
        by_day.setdefault(plan.local_day(r.t_ns), []).append(r.score)
    return {d: _mean(v) for d, v in sorted(by_day.items())}


def summarise(
    measure: str,
    values: Mapping[dt.date, float],
    start: dt.date,
    as_of: dt.date,
    *,
    baseline_days: int = BASELINE_DAYS,
) -> OutcomeSummary:
    """Baseline, last 7 days, change and improvement of one measure as of ``as_of``.

    Parameters
    ----------
    measure:
        Name carried into the result (``"pain_nrs"``, ``"peg"``).
    values:
        One value per local day, points 0-10 (:func:`daily_pain_values`, :func:`daily_peg_values`).
    start:
        First programme day; days before it are ignored.
    as_of:
        The local day the summary is for; later days are ignored.
    baseline_days:
        The baseline is the mean of the first this many programme days that have a value.
    """
    days = sorted(d for d in values if start <= d <= as_of)
    base = tuple(days[:baseline_days])
    baseline = _mean([values[d] for d in base]) if base else None
    lo = max(start, as_of - dt.timedelta(days=WINDOW_DAYS - 1))
    window = [values[d] for d in days if d >= lo]
    last = _mean(window) if window else None
    complete = len(base) == baseline_days
    change = pct = None
    improved: bool | None = None
    if complete and baseline is not None and last is not None:
        change = last - baseline
        pct = 100.0 * change / baseline if baseline > 0 else None
        improved = (
            pct is not None
            and pct <= -IMPROVEMENT_PCT + _EPS
            and change <= -IMPROVEMENT_POINTS + _EPS
        )
    return OutcomeSummary(
        measure,
        as_of,
        baseline,
        base,
        complete,
        last,
        len(window),
        change,
        pct,
        improved,
        days[-1] if days else None,
    )


def _session_change(
    plan: CarePlan, reports: Sequence[PainReport], as_of: dt.date
) -> tuple[float | None, int]:
    lo = max(plan.start_date, as_of - dt.timedelta(days=WINDOW_DAYS - 1))
    pairs: dict[str, dict[str, float]] = {}
    for r in reports:
        if r.session_id is None or r.source == DAILY:
            continue
        if lo <= plan.local_day(r.t_ns) <= as_of:
            pairs.setdefault(r.session_id, {})[r.source] = r.nrs
    deltas = [
        p[SESSION_AFTER] - p[SESSION_BEFORE]
        for p in pairs.values()
        if SESSION_BEFORE in p and SESSION_AFTER in p
    ]
    return (_mean(deltas) if deltas else None), len(deltas)


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _worsening_flag(s: OutcomeSummary) -> Flag | None:
    if s.change_points is None or s.change_points < WORSENING_POINTS - _EPS:
        return None
    assert s.baseline is not None and s.last_7d is not None
    first, last = s.baseline_days[0], s.baseline_days[-1]
    return Flag(
        "PAIN_WORSENING",
        f"7-day mean pain {_fmt(s.last_7d)}/10 ({s.last_7d_days} days reported) is "
        f"{_fmt(s.change_points)} points above the baseline {_fmt(s.baseline)} "
        f"({len(s.baseline_days)} reported days, {first.isoformat()} to {last.isoformat()}); "
        f"flagged at {_fmt(WORSENING_POINTS)} points or more",
    )


def _asked_for(plan: CarePlan) -> str | None:
    sym = plan.components.symptoms if plan.components is not None else None
    if sym is None or not sym.asks_for_reports:
        return None
    asked = []
    if sym.pain_daily:
        asked.append("a daily pain score")
    if sym.peg_every_days is not None:
        asked.append(f"a PEG every {sym.peg_every_days} days")
    return " and ".join(asked)


def _no_report_flag(plan: CarePlan, as_of: dt.date, last: dt.date | None) -> Flag | None:
    asked = _asked_for(plan)
    if asked is None:
        return None
    if last is None:
        days = (as_of - plan.start_date).days + 1
        since = f"none since the programme start on {plan.start_date.isoformat()}"
    else:
        days = (as_of - last).days
        since = f"last on {last.isoformat()}"
    if days < NO_REPORT_DAYS:
        return None
    return Flag(
        "NO_SYMPTOM_REPORT",
        f"no symptom report for {days} days ({since}); the plan asks for {asked}",
    )


def patient_outcomes(
    plan: CarePlan,
    pain: Sequence[PainReport],
    peg: Sequence[PegReport],
    as_of: dt.date,
) -> PatientOutcomes:
    """Pain and PEG outcomes with their flags for ``plan``'s subject as of the local day ``as_of``.

    Flags: ``PAIN_WORSENING`` when the pain NRS 7-day mean is >= 2 points above a complete
    baseline; ``NO_SYMPTOM_REPORT`` when the plan asks for symptom reports and none (daily,
    session or PEG) was made on the 7 days ending on ``as_of`` (counting from the programme start
    when there was never one).
    """
    pain_s = summarise("pain_nrs", daily_pain_values(plan, pain), plan.start_date, as_of)
    peg_s = summarise(
        "peg",
        daily_peg_values(plan, peg),
        plan.start_date,
        as_of,
        baseline_days=PEG_BASELINE_REPORTS,
    )
    change, n_sessions = _session_change(plan, pain, as_of)
    times = [r.t_ns for r in pain] + [r.t_ns for r in peg]
    report_days = [d for d in map(plan.local_day, times) if d <= as_of]
    flags = [
        f
        for f in (
            _worsening_flag(pain_s),
            _no_report_flag(plan, as_of, max(report_days) if report_days else None),
        )
        if f is not None
    ]
    return PatientOutcomes(plan.subject, as_of, pain_s, peg_s, change, n_sessions, flags)


# -- inputs from the stored forms ----------------------------------------------------------------


def reports_from_events(
    events: Iterable[ProgrammeEvent],
) -> tuple[list[PainReport], list[PegReport]]:
    """Daily pain reports (``pain`` events) and PEG reports (``peg`` events) from programme events."""
    pain: list[PainReport] = []
    peg: list[PegReport] = []
    for e in events:
        if e.event == "pain" and e.nrs is not None:
            pain.append(PainReport(e.t_ns, e.nrs, DAILY))
        elif e.event == "peg" and e.peg_items is not None:
            peg.append(PegReport(e.t_ns, e.peg_items))
    return pain, peg


def reports_from_symptom_stream(t_ns: Sequence[int], nrs: Sequence[float]) -> list[PainReport]:
    """Daily pain reports from the ``symptom`` stream's samples (UTC ns, 0-10 points)."""
    return [PainReport(int(t), float(v), DAILY) for t, v in zip(t_ns, nrs, strict=True)]


def reports_from_session_events(
    events: Iterable[tuple[str, int, str | None, Mapping[str, object]]],
) -> list[PainReport]:
    """Session pain reports from session events ``(kind, t_ns, session_id, detail)``.

    ``kind`` is ``"session_start"`` / ``"session_stop"`` (as in ``DeviceEvent``) and ``detail``
    holds ``pain_before`` / ``pain_after`` when the app sent them.
    """
    out: list[PainReport] = []
    for kind, t_ns, sid, detail in events:
        for key, source, want in (
            ("pain_before", SESSION_BEFORE, "session_start"),
            ("pain_after", SESSION_AFTER, "session_stop"),
        ):
            value = detail.get(key)
            if kind == want and isinstance(value, int | float):
                out.append(PainReport(int(t_ns), float(value), source, sid))
    return out
