"""The programme_daily point, against lines written out by hand from docs/influxdb.md's rules."""

from __future__ import annotations

import datetime as dt

from adherence.influx_programme import programme_daily_line
from adherence.outcomes import OutcomeSummary, PatientOutcomes
from adherence.programme_scoring import ComponentScore, ProgrammeDay
from adherence.scoring import Flag

DAY = dt.date(2026, 11, 22)
T0 = 1_795_305_600_000_000_000  # 2026-11-22 00:00 Europe/London = UTC


def summary(measure: str, base: float | None, last: float | None) -> OutcomeSummary:
    change = None if base is None or last is None else last - base
    pct = None if change is None or not base else 100 * change / base
    return OutcomeSummary(measure, DAY, base, (), True, last, 7, change, pct, False, DAY)


def test_components_and_outcomes_line() -> None:
    day = ProgrammeDay(
        DAY,
        (
            ComponentScore("exercise", 0.0, 0, 3, None, None, 7, 0.42),
            ComponentScore("education", 0.5, 1, 2.0, None, None, 7, 0.1),
            ComponentScore("coaching", None, 0, 1.0, None, None, 14, 0.1),
        ),
        12.5,
    )
    out = PatientOutcomes(
        "P002", DAY, summary("pain_nrs", 4.0, 6.5), summary("peg", None, None), None, 0,
        [Flag("PAIN_WORSENING", "x")],
    )  # fmt: skip
    assert programme_daily_line("P002", "lbp-home", T0, day, out) == (
        "programme_daily,programme=lbp-home,subject=P002 programme_composite=12.5,"
        "exercise_adherence=0.0,education_adherence=0.5,education_done=1i,coaching_done=0i,"
        "pain_baseline=4.0,pain_7d=6.5,pain_change_points=2.5,pain_change_pct=62.5,"
        'pain_improved=false,outcome_flag_count=1i,outcome_flags="PAIN_WORSENING" '
        "1795305600000000000"
    )
    # outcomes of another day are not put on this day's point
    other = PatientOutcomes("P002", DAY - dt.timedelta(days=1), out.pain, out.peg, None, 0, [])
    assert programme_daily_line("P002", "lbp-home", T0, day, other) == (
        "programme_daily,programme=lbp-home,subject=P002 programme_composite=12.5,"
        "exercise_adherence=0.0,education_adherence=0.5,education_done=1i,coaching_done=0i "
        "1795305600000000000"
    )


def test_nothing_to_say_is_no_point() -> None:
    assert programme_daily_line("P1", "x", T0, ProgrammeDay(DAY, (), None)) is None
