"""The coach's HTML report: risk order, flags and reasons, chart contents, escaping, self-containment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from adherence.cli import main
from adherence.plan import CarePlan, parse_plans
from adherence.report import patient_views, render_report, risk_level
from adherence.scoring import Flag
from ingest.store import Store
from tests.export_helpers import (
    DAILY,
    FILE_NAME,
    MAC,
    SERIAL,
    SERIAL2,
    add_good_patient,
    fill,
    good_plan_doc,
)

TODAY = dt.date(2026, 11, 12)


@pytest.fixture
def cohort(store: Store) -> tuple[Store, list[CarePlan]]:
    fill(store, with_scores=False)
    add_good_patient(store)
    return store, parse_plans(good_plan_doc())


def test_patients_sorted_by_risk(cohort: tuple[Store, list[CarePlan]]) -> None:
    store, plans = cohort
    views = patient_views(store, plans, today=TODAY)
    assert [(v.plan.subject, v.risk) for v in views] == [
        ("P002", "high"),
        ("P001", "medium"),
        ("P003", "low"),
    ]
    html = render_report(store, plans, today=TODAY)
    assert re.findall(r'<section class="patient" id="patient-\d" data-subject="(\w+)"', html) == [
        "P002",
        "P001",
        "P003",
    ]


def test_composites_and_flags_follow_the_scoring_definitions(
    cohort: tuple[Store, list[CarePlan]],
) -> None:
    """Worked out by hand from ``docs/scoring.md`` on the cohort of ``tests/export_helpers.py``.

    Scored day: Thursday 2026-11-12. Window: the 7 days ending then, clipped to the programme
    start (Monday 9th): 9-12 November. Planned: core-a (bridge, 2 sets x 3 reps = 6) on Mon 9
    and Wed 11, nothing on the 12th. A session is done at completion >= 0.8.
    """
    store, plans = cohort
    prescribed = 2 * 3

    def done(reps: int) -> bool:
        return min(1.0, reps / prescribed) >= 0.8

    def composite(exercise: float, steps: float) -> float:
        return round(100 * (0.7 * exercise + 0.3 * steps) / (0.7 + 0.3), 1)

    # P001, New York: bouts on the 9th (14:00Z = 09:00 local) with 3+3 reps, on the 11th with
    # 3+1. Steps (goal 5000 in week 0): 9th 5200 -> capped at 1; 10th not judgeable; 11th no
    # row; 12th is today and 6100 already reached the goal, so it counts: 1.
    p001_exercise = (done(3 + 3) + done(3 + 1)) / 2
    p001_steps = (min(1, 5200 / 5000) + min(1, 6100 / 5000)) / 2
    # P002, London: nothing on the 9th, 2 reps on the 11th. Steps (goal 4000): 9th 2000, 11th
    # 1500; 10th and 12th have no row.
    p002_exercise = (False + done(2)) / 2
    p002_steps = (2000 / 4000 + 1500 / 4000) / 2
    # P003: 3+3 on both planned days, 6000 steps a day against 4000.
    p003_exercise = (done(3 + 3) + done(3 + 3)) / 2
    p003_steps = 1.0
    assert (p001_exercise, p001_steps, p002_exercise, p002_steps) == (0.5, 1.0, 0.0, 0.4375)
    want = {
        "P001": composite(p001_exercise, p001_steps),  # 65.0
        "P002": composite(p002_exercise, p002_steps),  # 13.125 -> 13.1
        "P003": composite(p003_exercise, p003_steps),  # 100.0
    }
    views = patient_views(store, plans, today=TODAY)
    assert {v.plan.subject: v.latest.composite for v in views if v.latest} == want
    # Flags. Last session of each is on the 11th (1 day ago): no NO_RECENT_SESSION.
    # P001: 1 of the 3 finished days (9-11) judgeable, under half: INSUFFICIENT_WEAR; weekly
    # adherence 50% is not under 50%. P002: 0% exercise and 44% steps, 2 of 3 days judgeable.
    flags = {v.plan.subject: sorted(f.code for f in v.latest.flags) for v in views if v.latest}
    assert flags == {
        "P001": ["INSUFFICIENT_WEAR"],
        "P002": ["LOW_STEPS", "LOW_WEEKLY_ADHERENCE"],
        "P003": [],
    }


def _flag(code: str) -> Flag:
    return Flag(code, "reason")


@pytest.mark.parametrize(
    ("composite", "codes", "want"),
    [
        (100.0, [], "low"),
        (79.9, [], "medium"),
        (49.9, [], "high"),
        (90.0, ["INSUFFICIENT_WEAR"], "medium"),
        (90.0, ["LOW_STEPS", "INSUFFICIENT_WEAR"], "high"),
        (90.0, ["NO_RECENT_SESSION"], "high"),
        (90.0, ["LOW_WEEKLY_ADHERENCE"], "high"),
        (None, [], "no data"),
        (None, ["INSUFFICIENT_WEAR"], "medium"),
    ],
)
def test_risk_level_table(
    cohort: tuple[Store, list[CarePlan]], composite: float | None, codes: list[str], want: str
) -> None:
    store, plans = cohort
    base = patient_views(store, plans, today=TODAY)[-1].latest
    assert base is not None
    day = dataclasses.replace(base, composite=composite, flags=[_flag(c) for c in codes])
    assert risk_level(day) == want
    assert risk_level(None) == "no data"


def test_flags_and_reasons_shown(cohort: tuple[Store, list[CarePlan]]) -> None:
    store, plans = cohort
    html = render_report(store, plans, today=TODAY)
    for v in patient_views(store, plans, today=TODAY):
        assert v.latest is not None
        for f in v.latest.flags:
            # once in the cohort table, once in the patient's section
            assert html.count(f"<code>{f.code}</code>: {f.reason}") == 2


def test_charts_show_the_stored_figures(cohort: tuple[Store, list[CarePlan]]) -> None:
    store, plans = cohort
    html = render_report(store, plans, today=TODAY)
    assert len(re.findall(r'<svg class="chart" data-chart="adherence"', html)) == 3
    assert len(re.findall(r'<svg class="chart" data-chart="steps"', html)) == 3
    assert len(re.findall(r'<svg class="chart" data-chart="sessions"', html)) == 3
    section = html.split('data-subject="P001"')[1].split("</section>")[0]
    # daily steps against the day's goal: a bar per judgeable day (DAILY's judgeable rows) ...
    judged = [f"{d}: {k} steps, goal 5000" for d, k, _, _, ok in DAILY["P001"] if ok]
    assert judged == ["2026-11-09: 5200 steps, goal 5000", "2026-11-12: 6100 steps, goal 5000"]
    assert re.findall(r"<title>(2026-11-\d\d: \d+ steps, goal \d+)</title>", section) == judged
    # ... and a pale column, never a zero bar, for closed days with too little wear: the 10th
    # (300 min worn, 1200 steps, not judgeable) and the 11th (no summary at all)
    assert re.findall(r"<title>(2026-11-\d\d: too little wear[^<]*)</title>", section) == [
        "2026-11-10: too little wear to judge (300 min worn, 1200 steps counted)",
        "2026-11-11: too little wear to judge (no wear, no data)",
    ]
    # sessions and repetitions against plan, on each planned day
    assert re.findall(r"<title>(2026-11-\d\d: \d+ of \d+ planned[^<]*)</title>", section) == [
        "2026-11-09: 1 of 1 planned session(s) done, 6 of 6 repetitions",
        "2026-11-11: 0 of 1 planned session(s) done, 4 of 6 repetitions",
    ]
    # the composite line has one point per scored day (9-12 November)
    adherence = section.split('data-chart="adherence"')[1].split("</svg>")[0]
    assert adherence.count('fill="#1f5fa8"') == 4


def test_self_contained_and_no_device_ids(cohort: tuple[Store, list[CarePlan]]) -> None:
    store, plans = cohort
    html = render_report(store, plans, today=TODAY)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"] * 9
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\bsrc=", html)
    # subject ids are shown (coach-facing pseudonyms); device ids, sources, file names never
    for bad in (MAC, SERIAL, SERIAL2, FILE_NAME, "recording:", "ble:", "mqtt:"):
        assert bad not in html


def test_strings_are_escaped(cohort: tuple[Store, list[CarePlan]]) -> None:
    store, plans = cohort
    html = render_report(store, plans, today=TODAY, title='<script>alert("x")</script> & co')
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
    assert html.count("<script>") == 1  # only the page's own marker script


def test_report_writes_nothing(store: Store) -> None:
    fill(store, with_scores=False)
    render_report(store, parse_plans(good_plan_doc()), today=TODAY)
    assert store.count("scores") == 0
    assert store.count("outbox") == 0


def test_before_the_programme(store: Store) -> None:
    fill(store, with_scores=False)
    plans = parse_plans(good_plan_doc())
    html = render_report(store, plans, today=dt.date(2026, 11, 1))
    assert html.count("The programme has not started yet.") == 3
    assert {v.risk for v in patient_views(store, plans, today=dt.date(2026, 11, 1))} == {"no data"}


class TestCli:
    def test_report_command(
        self, cohort: tuple[Store, list[CarePlan]], tmp_path: Path, capsys: pytest.CaptureFixture
    ) -> None:
        store, _ = cohort
        plan_file = tmp_path / "plans.json"
        plan_file.write_text(json.dumps(good_plan_doc()))
        out = tmp_path / "r" / "report.html"
        code = main(
            [
                "report",
                "--store",
                str(store.path),
                "--plans",
                str(plan_file),
                "--out",
                str(out),
                "--today",
                "2026-11-12",
            ]
        )
        assert code == 0
        assert "P002 high, P001 medium, P003 low" in capsys.readouterr().out
        assert out.read_text().startswith("<!DOCTYPE html>")

    def test_missing_store(self, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
        plan_file = tmp_path / "plans.json"
        plan_file.write_text(json.dumps(good_plan_doc()))
        code = main(
            [
                "report",
                "--store",
                str(tmp_path / "nope.sqlite"),
                "--plans",
                str(plan_file),
                "--out",
                str(tmp_path / "r.html"),
            ]
        )
        assert code == 2
        assert "store not found" in capsys.readouterr().err
        assert not (tmp_path / "r.html").exists()


def test_trend_column_shows_the_seven_day_change(cohort: tuple[Store, list[CarePlan]]) -> None:
    store, plans = cohort
    later = dt.date(2026, 11, 20)  # 8 scored days or more: the trend is defined
    views = patient_views(store, plans, today=later)
    html = render_report(store, plans, today=later)
    assert "<th title=" in html and "trend, 7 d</th>" in html
    for v in views:
        assert v.latest is not None and v.latest.trend_7d is not None
        t = v.latest.trend_7d
        arrow = "▲" if t > 0 else ("▼" if t < 0 else "=")
        assert f'<td class="num">{arrow} {abs(t):.1f}</td>' in html
        # and it is the composite now minus 7 days ago, as docs/scoring.md defines it
        week_ago = next(d for d in v.days if d.day == later - dt.timedelta(days=7))
        assert week_ago.composite is not None and v.latest.composite is not None
        assert t == round(v.latest.composite - week_ago.composite, 1)


def test_header_gives_the_as_of_day_and_a_local_generated_time(
    cohort: tuple[Store, list[CarePlan]],
) -> None:
    store, plans = cohort
    tz = dt.timezone(dt.timedelta(hours=1), "CET")
    when = dt.datetime(2026, 11, 24, 9, 50, 35, tzinfo=dt.UTC)
    html = render_report(store, plans, today=TODAY, generated=when.astimezone(tz))
    header = html.split("<header>")[1].split("</header>")[0]
    assert " · as of 2026-11-12 (today, in progress) · " in header
    # the machine's local zone decides the text; the instant is the same
    local = when.astimezone()
    off = local.strftime("%z")
    assert f"generated {local:%Y-%m-%d %H:%M} {local.tzname()} (UTC{off[:3]}:{off[3:]})" in header


def test_no_recent_session_says_the_last_one_was_incomplete(
    cohort: tuple[Store, list[CarePlan]],
) -> None:
    store, plans = cohort
    # P001's last session with repetitions is on the 11th: 4 of the 6 prescribed (see the
    # sessions chart test), so on the 20th the flag must not read as if it had been done
    views = patient_views(store, plans, today=dt.date(2026, 11, 20))
    p001 = next(v for v in views if v.plan.subject == "P001")
    assert p001.latest is not None
    (flag,) = [f for f in p001.latest.flags if f.code == "NO_RECENT_SESSION"]
    assert "(last on 2026-11-11, incomplete: 4 of 6 repetitions)" in flag.reason
