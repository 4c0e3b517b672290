"""Care plans prescribing programme components: parsed, validated with field paths, optional."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from adherence.errors import PlanError
from adherence.plan import (
    CoachingPrescription,
    Components,
    PerWeekPrescription,
    SymptomPrescription,
    parse_plans,
)
from tests.support.plans import sample_doc

COMPONENTS = {
    "education": {"per_week": 2},
    "cbt": {"per_week": 1},
    "mindfulness": {"per_week": 3, "minutes": 10},
    "coaching": {"every_days": 14, "channel": "call"},
    "symptoms": {"pain_daily": True, "peg_every_days": 7},
}


def with_components(components: Any) -> dict[str, Any]:
    doc = sample_doc()
    doc["plans"][0]["components"] = copy.deepcopy(components)
    return doc


def test_components_are_parsed() -> None:
    (plan,) = parse_plans(with_components(COMPONENTS))
    assert plan.components == Components(
        education=PerWeekPrescription(2, None),
        cbt=PerWeekPrescription(1, None),
        mindfulness=PerWeekPrescription(3, 10),
        coaching=CoachingPrescription(14, "call"),
        symptoms=SymptomPrescription(True, 7),
    )
    assert plan.components.symptoms is not None and plan.components.symptoms.asks_for_reports


def test_old_plan_has_no_components_and_partial_defaults() -> None:
    (old,) = parse_plans(sample_doc())
    assert old.components is None
    (plan,) = parse_plans(with_components({"coaching": {"every_days": 7}, "symptoms": {}}))
    assert plan.components == Components(
        coaching=CoachingPrescription(7, "any"), symptoms=SymptomPrescription(False, None)
    )
    assert plan.components.symptoms is not None
    assert not plan.components.symptoms.asks_for_reports


@pytest.mark.parametrize(
    ("components", "field", "why"),
    [
        ([], "plans[0].components", "must be an object"),
        ({"exercise": {}}, "plans[0].components.exercise", "unknown field"),
        ({"education": {"per_week": 0}}, "plans[0].components.education.per_week", "between 1 and 50"),
        ({"education": {"per_week": 2, "minutes": 5}}, "plans[0].components.education.minutes", "unknown field"),
        ({"cbt": {}}, "plans[0].components.cbt.per_week", "is required"),
        ({"mindfulness": {"per_week": 3, "minutes": 0}}, "plans[0].components.mindfulness.minutes", "between 1 and 600"),
        ({"mindfulness": {"per_week": True}}, "plans[0].components.mindfulness.per_week", "must be an integer"),
        ({"coaching": {"every_days": 400}}, "plans[0].components.coaching.every_days", "between 1 and 365"),
        ({"coaching": {"every_days": 14, "channel": "video"}}, "plans[0].components.coaching.channel", "must be one of any, call, message"),
        ({"symptoms": {"pain_daily": "yes"}}, "plans[0].components.symptoms.pain_daily", "must be true or false"),
        ({"symptoms": {"peg_every_days": 0}}, "plans[0].components.symptoms.peg_every_days", "between 1 and 365"),
    ],
)  # fmt: skip
def test_bad_component_names_the_field(components: Any, field: str, why: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plans(with_components(components))
    assert f"{field}: " in str(info.value)
    assert why in str(info.value)
