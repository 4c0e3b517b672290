"""Component adherence and the programme composite; every expected number worked out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from adherence.outcomes import PainReport, patient_outcomes
from adherence.plan import CarePlan, local_midnight_ns, parse_plans
from adherence.programme_scoring import (
    WEIGHTS,
    ComponentScore,
    dose_response,
    interval_adherence,
    per_week_adherence,
    programme_composite,
    score_programme,
)
from adherence.scoring import DayScore, composite_score
from devices.programme import ProgrammeEvent, programme_event
from ingest.store import RepRecord, SessionRecord, SetRecord
from tests.support.plans import sample_doc

START = dt.date(2026, 11, 2)  # sample plan: Monday, Europe/London (UTC+0 in November), 14 days
H_NS = 3600 * 10**9


def plan(components: dict[str, Any] | None) -> CarePlan:
    doc = sample_doc()
    if components is not None:
        doc["plans"][0]["components"] = components
    return parse_plans(doc)[0]


def day(
    i: int, *, exercise: float | None = None, steps: float | None = None, pending: bool = False
) -> DayScore:
    ds = DayScore(
        START + dt.timedelta(days=i), pending, [], 0, 0, None, 4000, None, None, False, None
    )
    ds.exercise_adherence_7d = exercise
    ds.step_attainment_7d = steps
    return ds


_N = [0]


def ev(p: CarePlan, i: int, kind: str, **fields: Any) -> ProgrammeEvent:
    _N[0] += 1
    t = local_midnight_ns(START + dt.timedelta(days=i), p.tz) + 12 * H_NS
    return programme_event("s", p.subject, "app", f"e-{_N[0]}", kind, t, **fields)


def test_per_week_adherence_by_hand() -> None:
    assert per_week_adherence(1, 2, 7) == (0.5, 2.0)  # 1 of 2 * 7/7
    assert per_week_adherence(3, 2, 7) == (1.0, 2.0)  # capped at 1
    assert per_week_adherence(1, 2, 3)[0] == 1.0  # expected 6/7: 1 / (6/7) > 1 -> 1
    assert per_week_adherence(0, 2, 3) == (0.0, 6 / 7)
    assert per_week_adherence(0, 2, 0) == (None, 0.0)  # first day in progress: nothing due yet
    assert per_week_adherence(1, 2, 0) == (1.0, 0.0)


def test_interval_adherence_by_hand() -> None:
    assert interval_adherence(1, 14, 3) == 1.0
    assert interval_adherence(0, 14, 12) is None  # day 12: 13 days < 14, not due yet
    assert interval_adherence(0, 14, 13) == 0.0  # day 13: a full 14-day interval without one


def test_education_counts_distinct_items_completed_in_the_window() -> None:
    p = plan({"education": {"per_week": 2}})
    events = [
        ev(p, 2, "education_completed", item_id="a1", minutes=5),  # day 2: outside days 3-9
        ev(p, 4, "education_completed", item_id="a2", minutes=5),
        ev(p, 5, "education_completed", item_id="a2", minutes=3),  # the same item again
        ev(p, 6, "education_opened", item_id="a3", minutes=1),  # opened only
    ]
    (pd,) = score_programme(p, [day(9)], events)
    edu = pd.component("education")
    assert edu is not None
    # window days 3-9, all closed: expected 2 * 7 / 7 = 2; done 1 -> 0.5
    assert (edu.done, edu.expected, edu.adherence, edu.window_days) == (1, 2.0, 0.5, 7)


def test_cbt_counts_distinct_modules() -> None:
    p = plan({"cbt": {"per_week": 1}})
    events = [
        ev(p, 1, "cbt_completed", module_id="m1", minutes=20),
        ev(p, 3, "cbt_completed", module_id="m1", minutes=20),
    ]
    (pd,) = score_programme(p, [day(6)], events)
    cbt = pd.component("cbt")
    assert cbt is not None and (cbt.done, cbt.adherence) == (1, 1.0)  # 1 of 1 * 7/7


def test_mindfulness_minutes_are_capped_per_session() -> None:
    p = plan({"mindfulness": {"per_week": 3, "minutes": 10}})
    events = [
        ev(p, 1, "mindfulness_completed", module_id="scan", minutes=10),
        ev(p, 3, "mindfulness_completed", module_id="scan", minutes=25),  # credited 10
        ev(p, 5, "mindfulness_completed", module_id="breath", minutes=5),
    ]
    (d6,) = score_programme(p, [day(6)], events)
    m = d6.component("mindfulness")
    assert m is not None
    # days 0-6 closed: expected 3 sessions, 30 minutes; credited 10 + 10 + 5 = 25 -> 25/30
    assert (m.done, m.expected, m.minutes, m.minutes_expected) == (3, 3.0, 25.0, 30.0)
    assert m.adherence == pytest.approx(25 / 30)
    # day 2 in progress: closed days 0-1, expected minutes 30 * 2/7 = 8.57; 10 credited -> 1
    (d2,) = score_programme(p, [day(2, pending=True)], events)
    m2 = d2.component("mindfulness")
    assert (
        m2 is not None and m2.minutes_expected == pytest.approx(30 * 2 / 7) and m2.adherence == 1.0
    )


def test_coaching_every_14_days_by_call() -> None:
    p = plan({"coaching": {"every_days": 14, "channel": "call"}})
    message = ev(p, 3, "coaching_contact", channel="message", by="coach")  # not a call
    call = ev(p, 13, "coaching_contact", channel="call", by="coach", minutes=15)
    got = score_programme(p, [day(12), day(13)], [message])
    assert [g.component("coaching").adherence for g in got] == [None, 0.0]  # type: ignore[union-attr]
    got = score_programme(p, [day(13)], [message, call])
    c = got[0].component("coaching")
    assert c is not None and (c.done, c.adherence) == (1, 1.0)


def test_symptom_reporting_is_scored_but_weighs_nothing() -> None:
    p = plan({"symptoms": {"pain_daily": True, "peg_every_days": 7}})
    pain_days = frozenset(START + dt.timedelta(days=i) for i in (0, 1, 2, 5))
    peg = [ev(p, 0, "peg", items=[5, 5, 5])]
    (pd,) = score_programme(p, [day(6, exercise=0.5, steps=1.0)], peg, pain_days=pain_days)
    pain, pegc = pd.component("symptoms_pain"), pd.component("symptoms_peg")
    assert pain is not None and pegc is not None
    assert (pain.done, pain.expected, pain.adherence) == (4, 7.0, 4 / 7)
    assert pegc.adherence == 1.0 and pain.weight == pegc.weight == 0.0
    # composite over exercise and steps only: 100 * (0.42 * 0.5 + 0.18 * 1) / 0.6 = 65.0
    assert pd.programme_composite == 65.0
    # a pain programme event on day 6 adds that day: 5 of 7
    (pd2,) = score_programme(p, [day(6)], [*peg, ev(p, 6, "pain", nrs=3)], pain_days=pain_days)
    assert pd2.component("symptoms_pain") == ComponentScore(
        "symptoms_pain", 5 / 7, 5, 7.0, None, None, 7, 0.0
    )


def test_programme_composite_renormalises_over_present_components() -> None:
    p = plan(
        {
            "education": {"per_week": 2},
            "cbt": {"per_week": 1},
            "mindfulness": {"per_week": 3, "minutes": 10},
            "coaching": {"every_days": 14},
        }
    )
    events = [
        ev(p, 4, "education_completed", item_id="a2", minutes=5),  # education 1/2 = 0.5
        ev(p, 5, "cbt_completed", module_id="m1", minutes=20),  # cbt 1/1 = 1
        ev(p, 3, "mindfulness_completed", module_id="scan", minutes=10),
        ev(p, 4, "mindfulness_completed", module_id="scan", minutes=10),
        ev(p, 8, "mindfulness_completed", module_id="scan", minutes=5),  # 25 of 30 minutes
    ]
    (pd,) = score_programme(p, [day(9, exercise=0.5, steps=0.8)], events)
    # coaching: day 9, no contact, 10 days < 14: not due (None), left out.
    # 100 * (0.42*0.5 + 0.18*0.8 + 0.10*0.5 + 0.10*1 + 0.10*25/30) / (0.42 + 0.18 + 0.10 * 3)
    # = 100 * (0.21 + 0.144 + 0.05 + 0.1 + 0.083333) / 0.9 = 100 * 0.587333 / 0.9 = 65.26 -> 65.3
    assert pd.programme_composite == 65.3
    assert [c.component for c in pd.components] == [
        "exercise",
        "steps",
        "education",
        "cbt",
        "mindfulness",
        "coaching",
    ]


def test_old_plans_have_no_programme_composite_and_empty_components_equal_the_composite() -> None:
    old = plan(None)
    (pd,) = score_programme(old, [day(9, exercise=2 / 3, steps=0.9)], [])
    assert pd.programme_composite is None
    assert [c.component for c in pd.components] == ["exercise", "steps"]
    empty = plan({})
    for e, s in ((2 / 3, 0.9), (0.0, 0.48), (1.0, 0.99), (None, 0.5), (0.25, None)):
        (pe,) = score_programme(empty, [day(9, exercise=e, steps=s)], [])
        assert pe.programme_composite == composite_score(e, s)
    # e.g. 2/3 and 0.9: 100 * (0.7 * 2/3 + 0.3 * 0.9) = 46.67 + 27 = 73.7
    (pe,) = score_programme(empty, [day(9, exercise=2 / 3, steps=0.9)], [])
    assert pe.programme_composite == 73.7


def test_composite_of_nothing_is_none_and_weights_are_declared() -> None:
    assert (
        programme_composite([ComponentScore("education", None, 0, 0.0, None, None, 1, 0.1)]) is None
    )
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    assert WEIGHTS["exercise"] / WEIGHTS["steps"] == pytest.approx(0.7 / 0.3)


def session(p: CarePlan, i: int, reps: int) -> SessionRecord:
    t = local_midnight_ns(START + dt.timedelta(days=i), p.tz) + 9 * H_NS
    rr = tuple(RepRecord(t + k, t + k + 1, 2.0, None) for k in range(reps))
    return SessionRecord(
        f"s{i}",
        p.subject,
        "bridge",
        t,
        t + H_NS,
        None,
        "batch",
        "complete",
        (SetRecord(0, t, t + 1, rr),),
        {},
    )


def test_dose_response_row_by_hand() -> None:
    p = plan({"education": {"per_week": 2}})
    days = [day(i) for i in range(14)]
    for i, d in enumerate(days):  # plan: mon/wed/fri = days 0, 2, 4, 7, 9, 11
        d.sessions_planned = 1 if i in (0, 2, 4, 7, 9, 11) else 0
        d.sessions_done = 1 if i in (0, 2, 7) else 0
        d.step_attainment = 0.5 if i < 2 else None
    events = [
        ev(p, 1, "education_completed", item_id="a1", minutes=4),
        ev(p, 2, "education_completed", item_id="a1", minutes=4),  # same item: read once
        ev(p, 3, "education_completed", item_id="a2", minutes=4),
        ev(p, 3, "cbt_completed", module_id="m1", minutes=20),
        ev(p, 4, "community_post"),
        ev(p, 5, "coaching_contact", channel="call", by="coach"),
        ev(p, 20, "community_post"),  # after the programme: not counted
    ]
    pain = [
        PainReport(
            local_midnight_ns(START + dt.timedelta(days=i), p.tz) + 20 * H_NS, 6.0 if i < 7 else 3.0
        )
        for i in range(14)
    ]
    out = patient_outcomes(p, pain, [], START + dt.timedelta(days=13))
    sessions = [session(p, 0, 10), session(p, 2, 0), session(p, 7, 12)]
    row = dose_response(p, days, score_programme(p, days, events), events, sessions, out)
    assert (row.sessions_done, row.sessions_planned) == (3, 6)
    assert row.exercise_adherence == 0.5 and row.step_attainment == 0.5
    assert (row.workouts_logged, row.items_read, row.cbt_sessions, row.posts) == (2, 2, 1, 1)
    assert (row.coaching_contacts, row.mindfulness_sessions) == (1, 0)
    # pain: baseline 6, last 7 days 3: -3 points, -50 %
    assert (row.pain_baseline, row.pain_last_7d, row.pain_change_points) == (6.0, 3.0, -3.0)
    assert row.pain_change_pct == -50.0 and row.pain_improved is True
