"""Adherence scoring: hand-computed figures for a small plan and known sessions.

The plan is the specification's example: core-a on Mon/Wed/Fri (bridge 3x10 = 30 reps, bird_dog
2x8 = 16 reps), step goal 4000/day rising by 500 each week. Programme starts Monday 2026-11-02
in Europe/London (UTC+0 in November). Expected numbers are worked out in the comments.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from adherence.cli import main
from adherence.plan import parse_plans
from adherence.scoring import match_day, rescore, score_plan
from ingest.store import RepRecord, SessionRecord, SetRecord, Store
from tests.support.plans import bout, plan_from, sample_doc, scenario

D = dt.date


def test_session_completion_and_matching() -> None:
    plan = plan_from()
    sessions, _ = scenario(plan)
    [wed] = match_day(plan.planned_sessions(D(2026, 11, 4)), sessions[2:4])
    assert wed.per_exercise == {"bridge": (24, 30, 0.8), "bird_dog": (8, 16, 0.5)}
    assert wed.completion == pytest.approx(0.65)
    assert wed.done is False
    [fri] = match_day(plan.planned_sessions(D(2026, 11, 6)), sessions[4:6])
    assert fri.completion == pytest.approx(0.875)
    assert fri.done is True
    # Doing more than prescribed caps at 1 per exercise; an exercise not prescribed counts nothing.
    extra = bout(plan, "x", "bridge", D(2026, 11, 2), [20, 20])
    other = bout(plan, "y", "squat", D(2026, 11, 2), [50])
    [mon] = match_day(plan.planned_sessions(D(2026, 11, 2)), [extra, other])
    assert mon.per_exercise == {"bridge": (40, 30, 1.0), "bird_dog": (0, 16, 0.0)}
    assert mon.completion == pytest.approx(0.5)
    # A bout labelled for another plan entry is not counted towards core-a.
    wrong = bout(plan, "z", "bridge", D(2026, 11, 2), [10, 10, 10], plan_entry="core-b")
    [mon] = match_day(plan.planned_sessions(D(2026, 11, 2)), [wrong])
    assert mon.per_exercise["bridge"] == (0, 30, 0.0)


def test_match_by_plan_entry_between_two_sessions() -> None:
    doc = sample_doc()
    doc["plans"][0]["sessions"].append(
        {
            "id": "core-b",
            "weekdays": ["mon"],
            "exercises": [{"exercise": "bridge", "sets": 1, "reps": 10}],
        }
    )
    [plan] = parse_plans(doc)
    planned = plan.planned_sessions(D(2026, 11, 2))
    assert [p.id for p in planned] == ["core-a", "core-b"]
    # Unlabelled bridge goes to the first planned session that prescribes it (core-a) ...
    a, b = match_day(planned, [bout(plan, "u", "bridge", D(2026, 11, 2), [10])])
    assert (a.per_exercise["bridge"][0], b.per_exercise["bridge"][0]) == (10, 0)
    # ... a labelled one to the named session.
    a, b = match_day(
        planned, [bout(plan, "l", "bridge", D(2026, 11, 2), [10], plan_entry="core-b")]
    )
    assert (a.per_exercise["bridge"][0], b.per_exercise["bridge"][0]) == (0, 10)
    assert b.done is True


def test_daily_figures_hand_computed() -> None:
    plan = plan_from()
    sessions, summaries = scenario(plan)
    days = {d.day: d for d in score_plan(plan, sessions, summaries, today=D(2026, 11, 12))}
    assert sorted(days) == [D(2026, 11, 2) + dt.timedelta(days=i) for i in range(11)]

    mon = days[D(2026, 11, 2)]
    assert (mon.sessions_done_7d, mon.sessions_planned_7d) == (1, 1)
    assert mon.composite == 100.0
    assert mon.streak_days == 1
    assert mon.days_since_last_session == 0
    assert mon.flags == []

    # Fri 6: sessions 2 of 3 = 0.6667; steps (1 + .5 + .75 + 1) / 4 = 0.8125;
    # composite 100 * (0.7 * 0.6667 + 0.3 * 0.8125) = 71.04 -> 71.0; streak 1 (Wed broke it).
    fri = days[D(2026, 11, 6)]
    assert fri.exercise_adherence_7d == pytest.approx(2 / 3)
    assert fri.step_attainment_7d == pytest.approx(0.8125)
    assert fri.composite == 71.0
    assert fri.streak_days == 1

    # Thu 5: d-7 of Thu 12. Window 2..5: sessions 1 of 2 = 0.5; steps (1 + .5 + .75) / 3 = 0.75;
    # composite 100 * (0.35 + 0.225) = 57.5.
    assert days[D(2026, 11, 5)].composite == 57.5

    # Thu 12 (today): window 6..12: sessions 1 of 3 (Fri done, Mon 9 and Wed 11 missed) = 0.3333;
    # steps (1 + 1 + 1 + .2 + .5 + 1) / 6 = 0.78333 (8th has no summary);
    # composite 100 * (0.7 / 3 + 0.3 * 0.78333) = 46.83 -> 46.8; trend 46.8 - 57.5 = -10.7.
    thu = days[D(2026, 11, 12)]
    assert thu.step_goal == 4500
    assert thu.exercise_adherence_7d == pytest.approx(1 / 3)
    assert thu.step_attainment_7d == pytest.approx(4.7 / 6)
    assert thu.composite == 46.8
    assert thu.trend_7d == -10.7
    assert thu.streak_days == 0
    assert thu.days_since_last_session == 6
    assert [(f.code, f.reason) for f in thu.flags] == [
        (
            "NO_RECENT_SESSION",
            "no exercise session for 6 days (last on 2026-11-06); 2 planned session(s) missed",
        ),
        (
            "LOW_WEEKLY_ADHERENCE",
            "weekly exercise adherence 33% (1 of 3 planned sessions in the last 7 days) is under 50%",
        ),
    ]


def test_day_in_progress_is_not_a_failure() -> None:
    plan = plan_from()
    sessions, summaries = scenario(plan)
    # Today is Wed 11, session not done yet and 2250 of 4500 steps: neither counts yet.
    wed = score_plan(plan, sessions, summaries, today=D(2026, 11, 11))[-1]
    assert wed.pending and (wed.sessions_planned, wed.step_attainment) == (0, None)
    # Window 5..11: sessions 1 of 2 = 0.5, steps (1 + 1 + 1 + .2) / 4 = 0.8 -> 100*(.35+.24) = 59.0
    assert wed.composite == 59.0
    assert [f.code for f in wed.flags] == ["NO_RECENT_SESSION"]  # 0.5 is not under 50%
    # Once done today, it counts and the streak restarts.
    done = [*sessions, bout(plan, "t1", "bridge", D(2026, 11, 11), [10, 10, 10])]
    done.append(bout(plan, "t2", "bird_dog", D(2026, 11, 11), [8, 8]))
    wed = score_plan(plan, done, summaries, today=D(2026, 11, 11))[-1]
    assert (wed.sessions_done, wed.sessions_planned, wed.streak_days) == (1, 1, 1)
    assert (wed.sessions_done_7d, wed.sessions_planned_7d) == (2, 3)
    assert wed.days_since_last_session == 0


def test_not_judgeable_is_not_inactive() -> None:
    plan = plan_from()
    summaries = {D(2026, 11, 2) + dt.timedelta(days=i): (100, 60, 0, False) for i in range(4)}
    summaries[D(2026, 11, 3)] = (2000, 700, 10, True)
    days = score_plan(plan, [], summaries, today=D(2026, 11, 6))
    d5 = days[3]  # Thu 5: window 2..5, judgeable only the 3rd (0.5)
    assert d5.step_attainment_7d == 0.5
    assert (d5.judgeable_days_7d, d5.closed_days_7d) == (1, 4)
    codes = [f.code for f in d5.flags]
    assert "INSUFFICIENT_WEAR" in codes and "LOW_STEPS" not in codes
    assert [f.reason for f in d5.flags if f.code == "INSUFFICIENT_WEAR"] == [
        "only 1 of 4 days had enough wear to judge steps"
    ]
    # Mon 2: nothing judgeable -> steps part absent; exercise 0 of 1 -> composite 0.0.
    assert days[0].step_attainment_7d is None
    assert days[0].composite == 0.0


def test_local_day_uses_the_plan_time_zone() -> None:
    plan = plan_from(timezone="America/New_York")
    # 03:00 UTC on Thu 5 is 22:00 on Wed 4 in New York (UTC-5): it counts for Wednesday.
    t = int(dt.datetime(2026, 11, 5, 3, tzinfo=dt.UTC).timestamp()) * 10**9
    reps = tuple(RepRecord(t, t + 1, 1.0, None) for _ in range(30))
    s = SessionRecord(
        "ny",
        plan.subject,
        "bridge",
        t,
        t + 10**9,
        None,
        "t",
        "complete",
        (SetRecord(0, t, t + 1, reps),),
        {},
    )
    days = {d.day: d for d in score_plan(plan, [s], {}, today=D(2026, 11, 6))}
    assert days[D(2026, 11, 4)].sessions[0].per_exercise["bridge"] == (30, 30, 1.0)
    assert days[D(2026, 11, 5)].days_since_last_session == 1


def test_rescore_writes_scores_and_queues_points(store: Store) -> None:
    plan = plan_from()
    sessions, summaries = scenario(plan)
    for s in sessions:
        store.put_session(s)
    store.put_daily_summary(plan.subject, [(d.isoformat(), *row) for d, row in summaries.items()])
    [rep] = rescore(store, [plan], today=D(2026, 11, 12), sinks=["influx"], start=D(2026, 11, 6))
    assert rep.subject == "P001" and rep.day == D(2026, 11, 12)
    assert rep.composite == 46.8
    assert (rep.sessions_done, rep.sessions_planned) == (1, 3)
    assert rep.weekly_exercise_adherence == pytest.approx(1 / 3)
    assert rep.step_goal_attainment == pytest.approx(4.7 / 6)
    assert (rep.streak_days, rep.days_since_last_session, rep.trend_7d) == (0, 6, -10.7)
    assert [f.code for f in rep.flags] == ["NO_RECENT_SESSION", "LOW_WEEKLY_ADHERENCE"]
    stored = store.scores("P001")
    assert [s[1] for s in stored] == [f"2026-11-{d:02d}" for d in range(6, 13)]
    assert [s[2] for s in stored][0] == 71.0
    assert stored[-1][3]["flags"][0]["code"] == "NO_RECENT_SESSION"
    lines = [i.body for i in store.outbox_peek("influx", 1000)]
    # 7 days of adherence_daily, 6 days with a summary (8th has none), 2 bouts on Fri 6.
    assert sum(x.startswith("adherence_daily,") for x in lines) == 7
    assert sum(x.startswith("daily_activity,") for x in lines) == 6
    assert sum(x.startswith("exercise_session,") for x in lines) == 2
    fri_ns = int(dt.datetime(2026, 11, 6, tzinfo=dt.UTC).timestamp()) * 10**9
    assert (
        f"daily_activity,programme=lbp-home,subject=P001 steps=6000i,wear_min=800i,active_min=70i,"
        f"judgeable=1i,step_goal=4000i {fri_ns}"
    ) in lines
    # Re-scoring replaces score rows (same keys) instead of adding.
    rescore(store, [plan], today=D(2026, 11, 12), start=D(2026, 11, 6))
    assert len(store.scores("P001")) == 7
    assert rescore(store, [plan], subjects=["nobody"], today=D(2026, 11, 12)) == []


def test_score_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_from()
    sessions, summaries = scenario(plan)
    with Store(tmp_path / "store.sqlite") as store:
        for s in sessions:
            store.put_session(s)
        store.put_daily_summary(plan.subject, [(d.isoformat(), *r) for d, r in summaries.items()])
    (tmp_path / "plans.json").write_text(json.dumps(sample_doc()))
    base = [
        "score",
        "--store",
        str(tmp_path / "store.sqlite"),
        "--plans",
        str(tmp_path / "plans.json"),
    ]
    assert main([*base, "--today", "2026-11-12", "--from", "2026-11-10", "--sink", "coach"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "coach: 6 point(s) waiting in the outbox\n"
    assert captured.out.splitlines() == [
        "P001 as of 2026-11-12 (today, in progress): composite 46.8 (7-day trend -10.7); "
        "exercise 33% (1/3 sessions); "
        "steps 78%; streak 0 d; last session 6 d",
        "  FLAG NO_RECENT_SESSION: no exercise session for 6 days (last on 2026-11-06); "
        "2 planned session(s) missed",
        "  FLAG LOW_WEEKLY_ADHERENCE: weekly exercise adherence 33% (1 of 3 planned sessions in "
        "the last 7 days) is under 50%",
    ]
    with Store(tmp_path / "store.sqlite") as store:
        assert [s[1] for s in store.scores()] == ["2026-11-10", "2026-11-11", "2026-11-12"]
        assert store.outbox_size("coach") == 3 + 3  # adherence_daily and daily_activity, 3 days
    assert main([*base, "--today", "2026-11-06", "--to", "2026-11-06", "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert (report["day"], report["composite"], report["streak_days"]) == ("2026-11-06", 71.0, 1)
    assert main(["score", "--store", str(tmp_path / "store.sqlite")]) == 2
    assert "give --config, or both --store and --plans" in capsys.readouterr().err


def test_demo_score_and_report_agree_on_the_as_of_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 item 2: `score` without --today (wall clock, after the sample programme) printed
    13.9 / 46% where the demo and the report said 14.3 / 48% for the same day, because the demo
    scored the last day as still in progress. All three now say as of which day and whether it
    is final, and give the same figures for it."""
    import re

    from adherence.plan import load_plans
    from adherence.report import patient_views

    store_path = tmp_path / "demo.sqlite"
    assert main(["demo", "--store", str(store_path), "--no-progress"]) == 0
    demo_out = capsys.readouterr().out
    plans_path = Path(__file__).resolve().parents[1] / "sample_data" / "care_plans.json"
    assert "as of 2026-11-23: every programme day is complete (final scores)" in demo_out
    demo_p002 = next(x for x in demo_out.splitlines() if x.startswith("P002"))
    demo_score = int(demo_p002.split()[2])
    # score on the wall clock (any date after the programme) and on the day after it
    for extra in ([], ["--today", "2026-11-23"]):
        assert main(["score", "--store", str(store_path), "--plans", str(plans_path), *extra]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("P002"))
        assert line.startswith("P002 as of 2026-11-22 (final): composite ")
        composite = float(re.search(r"composite (\d+\.\d)", line).group(1))  # type: ignore[union-attr]
        assert round(composite) == demo_score
    with Store(store_path) as store:
        (view,) = [
            v for v in patient_views(store, load_plans(plans_path)) if v.plan.subject == "P002"
        ]
    assert view.latest is not None and not view.latest.pending
    assert view.latest.composite == composite
