"""Pain and PEG outcomes: baseline, last 7 days, change, improvement, flags; truths by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from adherence.outcomes import (
    DAILY,
    SESSION_AFTER,
    SESSION_BEFORE,
    PainReport,
    PegReport,
    daily_pain_values,
    patient_outcomes,
    peg_score,
    reports_from_events,
    reports_from_session_events,
    summarise,
)
from adherence.plan import CarePlan, local_midnight_ns, parse_plans
from devices.errors import InputError
from devices.programme import programme_event
from tests.support.plans import sample_doc

START = dt.date(2026, 11, 2)  # sample plan: Europe/London, 14 days
H_NS = 3600 * 10**9


def plan(components: dict[str, Any] | None = None) -> CarePlan:
    doc = sample_doc()
    if components is not None:
        doc["plans"][0]["components"] = components
    return parse_plans(doc)[0]


def at(p: CarePlan, day: int, hour: float = 20.0) -> int:
    return local_midnight_ns(START + dt.timedelta(days=day), p.tz) + int(hour * H_NS)


def daily(p: CarePlan, values: Sequence[float | None]) -> list[PainReport]:
    return [PainReport(at(p, i), v) for i, v in enumerate(values) if v is not None]


def test_peg_score_is_the_mean_of_its_three_items() -> None:
    assert peg_score([6, 5, 4]) == (6 + 5 + 4) / 3
    assert peg_score([7, 8, 6]) == 7.0
    assert PegReport(0, (1, 2, 6)).score == 3.0
    with pytest.raises(InputError):
        peg_score([1, 2])
    with pytest.raises(InputError):
        peg_score([1, 2, 11])


def test_day_value_daily_reports_win_over_session_before_and_after_never_counts() -> None:
    p = plan()
    reports = [
        PainReport(at(p, 0, 8), 6.0),  # day 0: two daily reports -> (6 + 4) / 2 = 5
        PainReport(at(p, 0, 20), 4.0),
        PainReport(at(p, 0, 9), 9.0, SESSION_BEFORE, "s1"),  # ignored: day 0 has daily reports
        PainReport(at(p, 1, 9), 7.0, SESSION_BEFORE, "s2"),  # day 1: only session reports
        PainReport(at(p, 1, 10), 3.0, SESSION_AFTER, "s2"),  # after never makes a day's value
        PainReport(at(p, 2, 10), 2.0, SESSION_AFTER, "s3"),  # day 2: no value at all
    ]
    assert daily_pain_values(p, reports) == {START: 5.0, START + dt.timedelta(days=1): 7.0}


def test_local_day_is_cut_at_local_midnight() -> None:
    p = plan()
    # 23:30 local on day 0 and 00:30 local on day 1 are two different days
    v = daily_pain_values(p, [PainReport(at(p, 0, 23.5), 2.0), PainReport(at(p, 1, 0.5), 8.0)])
    assert list(v.values()) == [2.0, 8.0]


def test_improving_patient() -> None:
    p = plan()
    # days 0-6: 6 6 6 6 5 5 5 -> baseline 39 / 7; days 7-13: 4 4 3 3 3 3 3 -> 23 / 7
    values = [6, 6, 6, 6, 5, 5, 5, 4, 4, 3, 3, 3, 3, 3]
    out = patient_outcomes(p, daily(p, values), [], START + dt.timedelta(days=13))
    s = out.pain
    assert s.baseline == pytest.approx(39 / 7)
    assert s.baseline_complete and len(s.baseline_days) == 7
    assert s.last_7d == pytest.approx(23 / 7) and s.last_7d_days == 7
    assert s.change_points == pytest.approx(-16 / 7)  # -2.29 points
    assert s.change_pct == pytest.approx(100 * (-16 / 7) / (39 / 7))  # -41.0 %
    assert s.improved is True
    assert out.flags == []


def test_improvement_needs_both_30_percent_and_2_points() -> None:
    p = plan()
    last = START + dt.timedelta(days=13)
    # baseline 4, last 2.5: -1.5 points, -37.5 %: not important (too few points)
    small = summarise("pain_nrs", daily_pain_values(p, daily(p, [4] * 7 + [2.5] * 7)), START, last)
    assert small.change_points == pytest.approx(-1.5) and small.change_pct == pytest.approx(-37.5)
    assert small.improved is False
    # baseline 9, last 7: -2 points, -22.2 %: not important (too small a share)
    share = summarise("pain_nrs", daily_pain_values(p, daily(p, [9] * 7 + [7] * 7)), START, last)
    assert share.change_points == pytest.approx(-2.0) and share.improved is False
    # baseline 10, last 7: exactly -3 points and exactly -30 %: important (thresholds inclusive)
    edge = summarise("pain_nrs", daily_pain_values(p, daily(p, [10] * 7 + [7] * 7)), START, last)
    assert edge.change_pct == pytest.approx(-30.0) and edge.improved is True


def test_baseline_is_the_first_7_days_with_a_report_and_forms_before_it_is_complete() -> None:
    p = plan()
    # no reports on days 0, 2, 4: baseline days are 1, 3, 5, 6, 7, 8, 9
    values: list[float | None] = [None, 2, None, 4, None, 6, 6, 6, 6, 8, 9, 9, 9, 9]
    s = summarise(
        "pain_nrs", daily_pain_values(p, daily(p, values)), START, START + dt.timedelta(days=13)
    )
    assert [d.day for d in s.baseline_days] == [3, 5, 7, 8, 9, 10, 11]
    assert s.baseline == pytest.approx((2 + 4 + 6 + 6 + 6 + 6 + 8) / 7)
    # last 7 days = programme days 7-13, values 6 6 8 9 9 9 9
    assert s.last_7d == pytest.approx((6 + 6 + 8 + 9 + 9 + 9 + 9) / 7)
    early = summarise(
        "pain_nrs", daily_pain_values(p, daily(p, values)), START, START + dt.timedelta(days=3)
    )
    assert early.baseline == pytest.approx((2 + 4) / 2) and not early.baseline_complete
    assert early.change_points is None and early.improved is None


def test_pain_worsening_flag_with_numbers() -> None:
    p = plan()
    values = [4, 4, 4, 4.5, 4, 4, 4, 5.5, 6, 6, 6.5, 6.5, 6.5, 6.5]
    out = patient_outcomes(p, daily(p, values), [], START + dt.timedelta(days=13))
    # baseline 28.5 / 7 = 4.07; last 7 = 43.5 / 7 = 6.21; change 15 / 7 = 2.14 >= 2
    assert out.pain.change_points == pytest.approx(15 / 7)
    (flag,) = out.flags
    assert flag.code == "PAIN_WORSENING"
    assert flag.reason == (
        "7-day mean pain 6.2/10 (7 days reported) is 2.1 points above the baseline 4.1 "
        "(7 reported days, 2026-11-02 to 2026-11-08); flagged at 2.0 points or more"
    )
    # 1.9 points worse is not flagged
    calm = patient_outcomes(p, daily(p, [4] * 7 + [5.9] * 7), [], START + dt.timedelta(days=13))
    assert calm.flags == []


def test_no_symptom_report_flag_only_when_the_plan_asks() -> None:
    asks = plan({"symptoms": {"pain_daily": True, "peg_every_days": 7}})
    reports = daily(asks, [5, 5, 5])  # last report on day 2
    day9 = START + dt.timedelta(days=9)  # 9 - 2 = 7 days without a report
    (flag,) = patient_outcomes(asks, reports, [], day9).flags
    assert flag == type(flag)(
        "NO_SYMPTOM_REPORT",
        "no symptom report for 7 days (last on 2026-11-04); the plan asks for a daily pain score "
        "and a PEG every 7 days",
    )
    assert patient_outcomes(asks, reports, [], START + dt.timedelta(days=8)).flags == []  # 6 days
    # a PEG on day 5 counts as a report
    peg = [PegReport(at(asks, 5), (5, 5, 5))]
    assert patient_outcomes(asks, reports, peg, day9).flags == []
    # never a report: day 6 is the 7th programme day without one
    (never,) = patient_outcomes(asks, [], [], START + dt.timedelta(days=6)).flags
    assert never.reason.startswith("no symptom report for 7 days (none since the programme start")
    assert patient_outcomes(asks, [], [], START + dt.timedelta(days=5)).flags == []
    # old plan, or components without symptoms: never flagged
    assert patient_outcomes(plan(), [], [], day9).flags == []
    assert patient_outcomes(plan({"cbt": {"per_week": 1}}), [], [], day9).flags == []


def test_peg_baseline_is_its_first_report() -> None:
    p = plan()
    peg = [
        PegReport(at(p, 0), (6, 6, 6)),
        PegReport(at(p, 7), (3, 4, 2)),
        PegReport(at(p, 13), (3, 3, 3)),
    ]
    out = patient_outcomes(p, [], peg, START + dt.timedelta(days=13))
    assert out.peg.baseline == 6.0 and out.peg.baseline_complete
    # last 7 days = days 7-13: PEG (3+4+2)/3 = 3 and 3 -> 3
    assert out.peg.last_7d == pytest.approx(3.0)
    assert out.peg.change_points == pytest.approx(-3.0) and out.peg.change_pct == pytest.approx(
        -50.0
    )
    assert out.peg.improved is True


def test_session_pain_change() -> None:
    p = plan()
    reports = [
        PainReport(at(p, 8, 9), 6.0, SESSION_BEFORE, "s1"),
        PainReport(at(p, 8, 10), 4.0, SESSION_AFTER, "s1"),  # -2
        PainReport(at(p, 10, 9), 5.0, SESSION_BEFORE, "s2"),
        PainReport(at(p, 10, 10), 6.0, SESSION_AFTER, "s2"),  # +1
        PainReport(at(p, 11, 9), 5.0, SESSION_BEFORE, "s3"),  # no after: left out
        PainReport(at(p, 1, 9), 9.0, SESSION_BEFORE, "s0"),  # before the 7-day window
        PainReport(at(p, 1, 10), 1.0, SESSION_AFTER, "s0"),
    ]
    out = patient_outcomes(p, reports, [], START + dt.timedelta(days=13))
    assert out.session_change_7d == pytest.approx((-2 + 1) / 2) and out.sessions_with_pain_7d == 2


def test_converters_from_stored_forms() -> None:
    e1 = programme_event("s", "P001", "app", "e1", "pain", 1_794_304_800_000_000_000, nrs=3)
    e2 = programme_event(
        "s", "P001", "app", "e2", "peg", 1_794_304_800_000_000_001, items=[1, 2, 3]
    )
    e3 = programme_event("s", "P001", "app", "e3", "community_post", 1_794_304_800_000_000_002)
    pain, peg = reports_from_events([e1, e2, e3])
    assert pain == [PainReport(1_794_304_800_000_000_000, 3.0, DAILY)]
    assert peg == [PegReport(1_794_304_800_000_000_001, (1.0, 2.0, 3.0))]
    got = reports_from_session_events(
        [("session_start", 5, "s1", {"pain_before": 6}), ("session_stop", 9, "s1", {"pain_after": 4.5}),
         ("session_stop", 9, "s2", {}), ("session_start", 5, "s3", {"pain_after": 1})]
    )  # fmt: skip
    assert got == [
        PainReport(5, 6.0, SESSION_BEFORE, "s1"),
        PainReport(9, 4.5, SESSION_AFTER, "s1"),
    ]
    with pytest.raises(InputError):
        PainReport(0, 10.5)
