"""Care-plan loader: the documented format, and errors that name the field."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from adherence.errors import PlanError
from adherence.plan import load_plans, parse_plans
from tests.support.plans import DELETE, edited, sample_doc


def test_load_sample(tmp_path: Path) -> None:
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(sample_doc()))
    [plan] = load_plans(path)
    assert plan.subject == "P001"
    assert plan.programme == "lbp-home"
    assert plan.start_date == dt.date(2026, 11, 2)
    assert plan.end_date == dt.date(2026, 11, 15)
    assert str(plan.tz) == "Europe/London"
    # Monday, Wednesday and Friday have core-a; Tuesday nothing; after the end nothing.
    assert [s.id for s in plan.planned_sessions(dt.date(2026, 11, 2))] == ["core-a"]
    assert plan.planned_sessions(dt.date(2026, 11, 3)) == []
    assert [s.id for s in plan.planned_sessions(dt.date(2026, 11, 13))] == ["core-a"]
    assert plan.planned_sessions(dt.date(2026, 11, 16)) == []
    assert plan.planned_sessions(dt.date(2026, 10, 30)) == []
    core = plan.sessions[0]
    assert [(e.exercise, e.sets, e.reps, e.total_reps) for e in core.exercises] == [
        ("bridge", 3, 10, 30),
        ("bird_dog", 2, 8, 16),
    ]


def test_step_goal_progression_and_cap() -> None:
    doc = sample_doc()
    doc["plans"][0]["length_days"] = 70
    [plan] = parse_plans(doc)
    start = dt.date(2026, 11, 2)
    goals = [plan.step_goal(start + dt.timedelta(days=7 * w)) for w in range(9)]
    assert goals == [4000, 4500, 5000, 5500, 6000, 6500, 7000, 7000, 7000]
    assert plan.step_goal(start + dt.timedelta(days=6)) == 4000
    assert plan.step_goal(start - dt.timedelta(days=3)) == 4000


def test_optional_fields_default() -> None:
    doc = sample_doc()
    doc["plans"][0]["step_goal"] = {"start": 5000}
    [plan] = parse_plans(doc)
    assert plan.step_goal(dt.date(2027, 1, 1)) == 5000
    assert plan.goal.max is None


def test_day_bounds_follow_dst() -> None:
    doc = sample_doc()
    doc["plans"][0]["start_date"] = "2026-10-20"
    [plan] = parse_plans(doc)
    # Europe/London leaves summer time on Sunday 2026-10-25: that local day lasts 25 h.
    lo, hi = plan.day_bounds_ns(dt.date(2026, 10, 25))
    assert lo == int(dt.datetime(2026, 10, 24, 23, tzinfo=dt.UTC).timestamp()) * 10**9
    assert hi - lo == 25 * 3600 * 10**9


P0 = ["plans", 0]
S0 = [*P0, "sessions", 0]


@pytest.mark.parametrize(
    ("path", "value", "field", "why"),
    [
        (["format"], "care-plan/2", "format", "must be 'adherence-care-plan/1'"),
        (["plans"], [], "plans", "must not be empty"),
        ([*P0, "subject"], "Jane Doe", "plans[0].subject", "pseudonymous id"),
        ([*P0, "programme"], DELETE, "plans[0].programme", "is required"),
        ([*P0, "start_date"], "2026-11-31", "plans[0].start_date", "YYYY-MM-DD"),
        ([*P0, "length_days"], 0, "plans[0].length_days", "between 1 and 3660"),
        ([*P0, "length_days"], True, "plans[0].length_days", "must be an integer"),
        ([*P0, "timezone"], "Mars/Olympus", "plans[0].timezone", "IANA time zone"),
        ([*P0, "step_gaol"], {}, "plans[0].step_gaol", "unknown field"),
        ([*S0, "weekdays", 2], "friday", "plans[0].sessions[0].weekdays[2]", "must be one of mon"),
        ([*S0, "weekdays", 1], "mon", "plans[0].sessions[0].weekdays[1]", "listed twice"),
        ([*S0, "weekdays"], [], "plans[0].sessions[0].weekdays", "must not be empty"),
        (
            [*S0, "exercises", 1, "exercise"],
            "burpee",
            "plans[0].sessions[0].exercises[1].exercise",
            "unknown exercise 'burpee'",
        ),
        ([*S0, "exercises", 0, "sets"], 0, "plans[0].sessions[0].exercises[0].sets", "between 1"),
        ([*S0, "exercises", 0, "reps"], "10", "plans[0].sessions[0].exercises[0].reps", "integer"),
        (
            [*S0, "exercises", 1, "exercise"],
            "bridge",
            "plans[0].sessions[0].exercises[1].exercise",
            "prescribed twice",
        ),
        ([*P0, "step_goal", "max"], 3000, "plans[0].step_goal.max", "between 4000"),
        ([*P0, "step_goal", "start"], -1, "plans[0].step_goal.start", "between 1"),
        ([*P0, "sessions"], "core-a", "plans[0].sessions", "must be a list"),
    ],
)
def test_bad_field_is_named(path: list[Any], value: Any, field: str, why: str) -> None:
    doc = edited(sample_doc(), path, value)
    with pytest.raises(PlanError) as info:
        parse_plans(doc, "plans.json")
    assert info.value.field == field
    assert why in info.value.why
    assert str(info.value).startswith(f"care plan at plans.json: {field}: ")


def test_duplicate_session_id_and_subject() -> None:
    doc = sample_doc()
    doc["plans"][0]["sessions"].append(copy.deepcopy(doc["plans"][0]["sessions"][0]))
    with pytest.raises(PlanError) as info:
        parse_plans(doc)
    assert info.value.field == "plans[0].sessions[1].id"
    doc = sample_doc()
    doc["plans"].append(copy.deepcopy(doc["plans"][0]))
    with pytest.raises(PlanError) as info:
        parse_plans(doc)
    assert info.value.field == "plans[1].subject"


def test_unreadable_and_not_json(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read"):
        load_plans(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PlanError, match="not valid JSON"):
        load_plans(bad)
