"""Care plans: the documented, validated file format ``adherence-care-plan/1``.

A care plan says, for one pseudonymous subject, which exercise sessions are prescribed on which
weekdays, with how many sets and repetitions of which exercises, and the daily step goal with its
weekly progression, over a programme of a fixed number of days in the subject's time zone. The
format is described field by field in ``docs/care_plan.md``.

Validation happens once, at the edge (:func:`load_plans` / :func:`parse_plans`); a wrong plan
raises :class:`adherence.errors.PlanError` naming the file and the field path, e.g.
``plans[0].sessions[1].weekdays[2]``. Unknown keys are refused too, so that a misspelt optional
field is not silently ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adherence.errors import PlanError
from devices import schemas

__all__ = [
    "FORMAT",
    "WEEKDAYS",
    "CarePlan",
    "CoachingPrescription",
    "Components",
    "PerWeekPrescription",
    "SymptomPrescription",
    "PlannedSession",
    "PrescribedExercise",
    "StepGoal",
    "exercise_ids",
    "load_plans",
    "parse_plans",
]

FORMAT = "adherence-care-plan/1"
#: Weekday spellings, Monday first (index = ``date.weekday()``).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Pseudonymous ids and plan ids: letters, digits, ``_ . -``; no spaces, at most 64 characters.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_LENGTH_DAYS = 3660
MAX_SETS = 50
MAX_REPS = 500
#: Bounds of the programme components (``components`` object of a plan).
MAX_PER_WEEK = 50
MAX_MINUTES = 600
MAX_EVERY_DAYS = 365
COACHING_CHANNELS = ("any", "call", "message")


def exercise_ids() -> frozenset[str]:
    """Exercise ids a plan may prescribe: the keys of ``features.exercises.load_library()``."""
    from features.exercises import load_library

    return frozenset(load_library())


@dataclass(frozen=True, slots=True)
class PrescribedExercise:
    """One exercise of a planned session: ``sets`` sets of ``reps`` repetitions."""

    exercise: str
    sets: int
    reps: int

    @property
    def total_reps(self) -> int:
        """Prescribed repetitions in all sets (count)."""
        return self.sets * self.reps


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """A session of the weekly schedule: done on each of ``weekdays`` (0 = Monday)."""

    id: str
    weekdays: frozenset[int]
    exercises: tuple[PrescribedExercise, ...]


@dataclass(frozen=True, slots=True)
class StepGoal:
    """Daily step goal: ``start`` steps/day in programme week 0, plus ``weekly_increase`` steps/day
    each further programme week, capped at ``max`` steps/day (``None``: no cap)."""

    start: int
    weekly_increase: int
    max: int | None


@dataclass(frozen=True, slots=True)
class PerWeekPrescription:
    """``per_week`` completions a week (count); ``minutes`` each, where prescribed (minutes)."""

    per_week: int
    minutes: int | None = None


@dataclass(frozen=True, slots=True)
class CoachingPrescription:
    """At least one coaching contact every ``every_days`` days, over ``channel`` (any, call or
    message)."""

    every_days: int
    channel: str = "any"


@dataclass(frozen=True, slots=True)
class SymptomPrescription:
    """Symptom reports asked for: a daily pain NRS and/or a PEG every ``peg_every_days`` days."""

    pain_daily: bool = False
    peg_every_days: int | None = None

    @property
    def asks_for_reports(self) -> bool:
        """True if the plan asks for any symptom report."""
        return self.pain_daily or self.peg_every_days is not None


@dataclass(frozen=True, slots=True)
class Components:
    """The programme components a plan prescribes besides exercise and steps (``None``: not
    prescribed)."""

    education: PerWeekPrescription | None = None
    cbt: PerWeekPrescription | None = None
    mindfulness: PerWeekPrescription | None = None
    coaching: CoachingPrescription | None = None
    symptoms: SymptomPrescription | None = None


@dataclass(frozen=True, slots=True)
class CarePlan:
    """One subject's validated care plan.

    Attributes
    ----------
    subject : str
        Pseudonymous subject id (never a name).
    programme : str
        Programme id (an InfluxDB tag: keep the vocabulary small).
    start_date : datetime.date
        First local day of the programme.
    length_days : int
        Programme length in days; the last day is ``start_date + length_days - 1``.
    timezone : str
        IANA time-zone name; ``tz`` is the matching :class:`zoneinfo.ZoneInfo`.
    sessions : tuple of PlannedSession
        Weekly schedule.
    goal : StepGoal
        Daily step goal and progression.
    components : Components or None
        Education, CBT, mindfulness, coaching and symptom prescriptions; ``None`` for a plan
        without a ``components`` object (scored exactly as before they existed).
    """

    subject: str
    programme: str
    start_date: dt.date
    length_days: int
    timezone: str
    tz: ZoneInfo
    sessions: tuple[PlannedSession, ...]
    goal: StepGoal
    components: Components | None = None

    @property
    def end_date(self) -> dt.date:
        """Last local day of the programme (inclusive)."""
        return self.start_date + dt.timedelta(days=self.length_days - 1)

    def in_programme(self, day: dt.date) -> bool:
        """True if the local ``day`` is one of the programme's days."""
        return self.start_date <= day <= self.end_date

    def days(self) -> list[dt.date]:
        """Every local day of the programme, in order."""
        return [self.start_date + dt.timedelta(days=i) for i in range(self.length_days)]

    def planned_sessions(self, day: dt.date) -> list[PlannedSession]:
        """Sessions planned on the local ``day`` (none outside the programme), in plan order."""
        if not self.in_programme(day):
            return []
        return [s for s in self.sessions if day.weekday() in s.weekdays]

    def week_index(self, day: dt.date) -> int:
        """Programme week of ``day``: 0 for the first 7 days from ``start_date`` (0 before it)."""
        return max(0, (day - self.start_date).days // 7)

    def step_goal(self, day: dt.date) -> int:
        """Daily step goal on the local ``day``, steps/day.

        ``start + weekly_increase * week_index(day)``, capped at ``max``. Days before the
        programme get the week-0 goal; days after it keep progressing up to the cap.
        """
        goal = self.goal.start + self.goal.weekly_increase * self.week_index(day)
        return goal if self.goal.max is None else min(goal, self.goal.max)

    def day_bounds_ns(self, day: dt.date) -> tuple[int, int]:
        """UTC nanoseconds of local midnight starting ``day`` and the next (half-open range).

        The length is 23 or 25 h on daylight-saving change days.
        """
        return local_midnight_ns(day, self.tz), local_midnight_ns(
            day + dt.timedelta(days=1), self.tz
        )

    def local_day(self, t_ns: int) -> dt.date:
        """Local calendar day (in the plan's time zone) of the UTC instant ``t_ns`` (ns)."""
        return dt.datetime.fromtimestamp(t_ns // 1_000_000_000, tz=self.tz).date()


def local_midnight_ns(day: dt.date, tz: ZoneInfo) -> int:
    """UTC nanoseconds of 00:00 local time on ``day`` in ``tz``."""
    t = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    return int(t.timestamp()) * 1_000_000_000


# -- parsing ------------------------------------------------------------------------------------


class _Ctx:
    """Carries the file path for error messages."""

    def __init__(self, path: str, exercises: frozenset[str]) -> None:
        self.path = path
        self.exercises = exercises

    def err(self, field: str, why: str) -> PlanError:
        return PlanError(self.path, field, why)

    def obj(
        self, value: Any, field: str, required: set[str], optional: set[str]
    ) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.err(field, f"must be an object, got {type(value).__name__}")
        for key in required:
            if key not in value:
                raise self.err(f"{field}.{key}" if field else key, "is required")
        for key in value:
            if key not in required | optional:
                raise self.err(
                    f"{field}.{key}" if field else str(key),
                    f"unknown field (allowed: {', '.join(sorted(required | optional))})",
                )
        return value

    def integer(self, value: Any, field: str, lo: int, hi: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.err(field, f"must be an integer, got {value!r}")
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise self.err(field, f"must be {bound}, got {value}")
        return value

    def ident(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not _ID_RE.match(value):
            raise self.err(
                field,
                f"must be a pseudonymous id of letters, digits, '_', '.', '-' (1-64 chars), got {value!r}",
            )
        return value

    def array(self, value: Any, field: str, *, nonempty: bool) -> Sequence[Any]:
        if not isinstance(value, list):
            raise self.err(field, f"must be a list, got {type(value).__name__}")
        if nonempty and not value:
            raise self.err(field, "must not be empty")
        return value


def _parse_exercise(ctx: _Ctx, raw: Any, field: str) -> PrescribedExercise:
    obj = ctx.obj(raw, field, {"exercise", "sets", "reps"}, set())
    ex = obj["exercise"]
    if not isinstance(ex, str) or ex not in ctx.exercises:
        raise ctx.err(
            f"{field}.exercise",
            f"unknown exercise {ex!r} (the exercise library has: {', '.join(sorted(ctx.exercises))})",
        )
    return PrescribedExercise(
        ex,
        ctx.integer(obj["sets"], f"{field}.sets", 1, MAX_SETS),
        ctx.integer(obj["reps"], f"{field}.reps", 1, MAX_REPS),
    )


def _parse_session(ctx: _Ctx, raw: Any, field: str) -> PlannedSession:
    obj = ctx.obj(raw, field, {"id", "weekdays", "exercises"}, {"label"})
    sid = ctx.ident(obj["id"], f"{field}.id")
    days: set[int] = set()
    for i, wd in enumerate(ctx.array(obj["weekdays"], f"{field}.weekdays", nonempty=True)):
        if wd not in WEEKDAYS:
            raise ctx.err(
                f"{field}.weekdays[{i}]", f"must be one of {', '.join(WEEKDAYS)}, got {wd!r}"
            )
        if WEEKDAYS.index(wd) in days:
            raise ctx.err(f"{field}.weekdays[{i}]", f"{wd!r} is listed twice")
        days.add(WEEKDAYS.index(wd))
    exercises = []
    seen: set[str] = set()
    for i, ex in enumerate(ctx.array(obj["exercises"], f"{field}.exercises", nonempty=True)):
        pe = _parse_exercise(ctx, ex, f"{field}.exercises[{i}]")
        if pe.exercise in seen:
            raise ctx.err(
                f"{field}.exercises[{i}].exercise",
                f"{pe.exercise!r} is prescribed twice in this session (give it more sets instead)",
            )
        seen.add(pe.exercise)
        exercises.append(pe)
    if "label" in obj and not isinstance(obj["label"], str):
        raise ctx.err(f"{field}.label", "must be a string")
    return PlannedSession(sid, frozenset(days), tuple(exercises))


def _parse_goal(ctx: _Ctx, raw: Any, field: str) -> StepGoal:
    obj = ctx.obj(raw, field, {"start"}, {"weekly_increase", "max"})
    start = ctx.integer(obj["start"], f"{field}.start", 1, 100_000)
    inc = ctx.integer(obj.get("weekly_increase", 0), f"{field}.weekly_increase", 0, 100_000)
    cap = None
    if obj.get("max") is not None:
        cap = ctx.integer(obj["max"], f"{field}.max", start, 100_000)
    return StepGoal(start, inc, cap)


def _parse_per_week(ctx: _Ctx, raw: Any, field: str, *, minutes: bool) -> PerWeekPrescription:
    obj = ctx.obj(raw, field, {"per_week"}, {"minutes"} if minutes else set())
    per_week = ctx.integer(obj["per_week"], f"{field}.per_week", 1, MAX_PER_WEEK)
    mins = None
    if obj.get("minutes") is not None:
        mins = ctx.integer(obj["minutes"], f"{field}.minutes", 1, MAX_MINUTES)
    return PerWeekPrescription(per_week, mins)


def _parse_coaching(ctx: _Ctx, raw: Any, field: str) -> CoachingPrescription:
    obj = ctx.obj(raw, field, {"every_days"}, {"channel"})
    every = ctx.integer(obj["every_days"], f"{field}.every_days", 1, MAX_EVERY_DAYS)
    channel = obj.get("channel", "any")
    if channel not in COACHING_CHANNELS:
        raise ctx.err(
            f"{field}.channel", f"must be one of {', '.join(COACHING_CHANNELS)}, got {channel!r}"
        )
    return CoachingPrescription(every, channel)


def _parse_symptoms(ctx: _Ctx, raw: Any, field: str) -> SymptomPrescription:
    obj = ctx.obj(raw, field, set(), {"pain_daily", "peg_every_days"})
    daily = obj.get("pain_daily", False)
    if not isinstance(daily, bool):
        raise ctx.err(f"{field}.pain_daily", f"must be true or false, got {daily!r}")
    peg = None
    if obj.get("peg_every_days") is not None:
        peg = ctx.integer(obj["peg_every_days"], f"{field}.peg_every_days", 1, MAX_EVERY_DAYS)
    return SymptomPrescription(daily, peg)


def _parse_components(ctx: _Ctx, raw: Any, field: str) -> Components:
    obj = ctx.obj(raw, field, set(), {"education", "cbt", "mindfulness", "coaching", "symptoms"})
    per_week = {
        name: _parse_per_week(ctx, obj[name], f"{field}.{name}", minutes=name != "education")
        for name in ("education", "cbt", "mindfulness")
        if name in obj
    }
    coaching = (
        _parse_coaching(ctx, obj["coaching"], f"{field}.coaching") if "coaching" in obj else None
    )
    symptoms = (
        _parse_symptoms(ctx, obj["symptoms"], f"{field}.symptoms") if "symptoms" in obj else None
    )
    return Components(
        per_week.get("education"),
        per_week.get("cbt"),
        per_week.get("mindfulness"),
        coaching,
        symptoms,
    )


def _parse_plan(ctx: _Ctx, raw: Any, field: str) -> CarePlan:
    obj = ctx.obj(
        raw,
        field,
        {"subject", "programme", "start_date", "length_days", "timezone", "sessions", "step_goal"},
        {"notes", "components"},
    )
    subject = ctx.ident(obj["subject"], f"{field}.subject")
    programme = ctx.ident(obj["programme"], f"{field}.programme")
    try:
        start = dt.date.fromisoformat(obj["start_date"])
    except (TypeError, ValueError) as exc:
        raise ctx.err(
            f"{field}.start_date", f"must be a date YYYY-MM-DD, got {obj['start_date']!r}"
        ) from exc
    length = ctx.integer(obj["length_days"], f"{field}.length_days", 1, MAX_LENGTH_DAYS)
    tz_name = obj["timezone"]
    try:
        if not isinstance(tz_name, str) or not tz_name:
            raise ValueError(tz_name)
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ctx.err(
            f"{field}.timezone", f"must be an IANA time zone such as Europe/London, got {tz_name!r}"
        ) from exc
    sessions = []
    ids: set[str] = set()
    for i, s in enumerate(ctx.array(obj["sessions"], f"{field}.sessions", nonempty=False)):
        ps = _parse_session(ctx, s, f"{field}.sessions[{i}]")
        if ps.id in ids:
            raise ctx.err(f"{field}.sessions[{i}].id", f"duplicate session id {ps.id!r}")
        ids.add(ps.id)
        sessions.append(ps)
    goal = _parse_goal(ctx, obj["step_goal"], f"{field}.step_goal")
    components = None
    if "components" in obj:
        components = _parse_components(ctx, obj["components"], f"{field}.components")
    return CarePlan(
        subject, programme, start, length, tz_name, tz, tuple(sessions), goal, components
    )


def parse_plans(doc: Any, path: str = "<memory>") -> list[CarePlan]:
    """Validate a decoded care-plan document and return its plans.

    Parameters
    ----------
    doc:
        The decoded JSON object (``{"format": "adherence-care-plan/1", "plans": [...]}``).
    path:
        Where it came from, for error messages.

    Raises
    ------
    PlanError
        Naming the field path (``plans[0].sessions[1].weekdays[2]``) and the reason.
    """
    ctx = _Ctx(path, exercise_ids())
    obj = ctx.obj(doc, "", {"format", "plans"}, {"notes"})
    if obj["format"] != FORMAT:
        raise ctx.err("format", f"must be {FORMAT!r}, got {obj['format']!r}")
    plans = []
    subjects: set[str] = set()
    for i, raw in enumerate(ctx.array(obj["plans"], "plans", nonempty=True)):
        plan = _parse_plan(ctx, raw, f"plans[{i}]")
        if plan.subject in subjects:
            raise ctx.err(
                f"plans[{i}].subject", f"subject {plan.subject!r} already has a plan in this file"
            )
        subjects.add(plan.subject)
        plans.append(plan)
    problem = schemas.first_problem("care-plan-1", doc)
    if problem is not None:  # the loader's own checks came first: their messages are sharper
        raise ctx.err(
            problem.field or "(document)", f"does not match schema care-plan-1: {problem.why}"
        )
    return plans


def load_plans(path: str | Path) -> list[CarePlan]:
    """Read and validate a care-plan file (JSON, format ``adherence-care-plan/1``).

    Raises
    ------
    PlanError
        If the file cannot be read, is not JSON, or a field is invalid (the field path is named).
    """
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(p, "(file)", f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PlanError(p, "(file)", f"not UTF-8 text (byte {exc.start})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(p, "(file)", f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    return parse_plans(doc, p)
