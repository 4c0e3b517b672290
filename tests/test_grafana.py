"""The Grafana dashboard's InfluxQL queries, run against a real InfluxDB 1.6.7.

Points are made by the real scoring path (``rescore(..., sinks=[...])`` → outbox → the line
protocol of ``adherence/influx_schema.py``) and written with the v1 ``/write`` API. Grafana's
macros are substituted the way Grafana does (``$timeFilter`` → a time range, multi-value
variables in a regex → ``(a|b)`` with regex escaping, "All" → ``.*``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from adherence import influx_schema
from adherence.influx_programme import MEASUREMENT_PROGRAMME
from adherence.plan import CarePlan, parse_plans
from adherence.scoring import rescore
from devices.programme import ProgrammeEvent, programme_event
from ingest.store import Store
from tests.export_helpers import DAILY, add_good_patient, fill, good_plan_doc

pytestmark = pytest.mark.services

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana" / "adherence-dashboard.json"
DB = "adherence"
TIME_FILTER = "time >= '2026-11-01T00:00:00Z' AND time < '2026-12-01T00:00:00Z'"
NS_PER_DAY = 86_400 * 10**9


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panel_queries() -> dict[str, list[str]]:
    """Panel title -> its InfluxQL queries."""
    out: dict[str, list[str]] = {}
    for p in dashboard()["panels"]:
        out[p["title"]] = [t["query"] for t in p.get("targets", [])]
    return out


def substitute(q: str, subjects: list[str] | None = None, programme: str | None = None) -> str:
    """Replace Grafana macros and template variables (``None`` = "All", i.e. ``.*``)."""

    def regex(values: list[str] | None) -> str:
        if values is None:
            return ".*"
        escaped = [re.escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    q = q.replace("$timeFilter", TIME_FILTER).replace("$__interval", "1d")
    q = q.replace("$subject", regex(subjects)).replace(
        "$programme", regex(None if programme is None else [programme])
    )
    assert not re.search(r"\$[A-Za-z_{]", q), q
    return q


def _event(n: int, kind: str, when: str, **fields: Any) -> ProgrammeEvent:
    t = int(dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC).timestamp()) * 10**9
    return programme_event("s", "P001", "app", f"e{n}", kind, t, n, **fields)


PROGRAMME_EVENTS = [
    _event(1, "education_completed", "2026-11-10T18:00:00", item_id="edu-1", minutes=5),
    _event(2, "pain", "2026-11-10T19:00:00", nrs=6.0),
    _event(3, "pain", "2026-11-11T19:00:00", nrs=5.0),
]


def run(influxdb: Any, q: str) -> list[dict[str, Any]]:
    """Run one query; fail on any error; return its series."""
    res = influxdb.query(q, DB)
    assert "error" not in res, (q, res)
    results = res["results"]
    assert len(results) == 1 and "error" not in results[0], (q, results)
    series: list[dict[str, Any]] = results[0].get("series", [])
    return series


def utc_day(t_ns: int) -> str:
    return dt.datetime.fromtimestamp(t_ns // 10**9, dt.UTC).date().isoformat()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[CarePlan], list[str]]:
    d = tmp_path_factory.mktemp("grafana")
    store = Store(d / "store.sqlite")
    fill(store, with_scores=False)
    add_good_patient(store)
    doc = good_plan_doc()
    # P001 follows a whole programme: education twice a week and daily pain reports, of which
    # the store holds two (see test_programme_panels)
    doc["plans"][0]["components"] = {"education": {"per_week": 2}, "symptoms": {"pain_daily": True}}
    plans = parse_plans(doc)
    store.put_programme_events(PROGRAMME_EVENTS)
    rescore(store, plans, today=dt.date(2026, 11, 12), sinks=["grafana"])
    lines = [item.body for item in store.outbox_peek("grafana", 100_000)]
    return store, plans, lines


@pytest.fixture
def influx(influxdb: Any, loaded: tuple[Store, list[CarePlan], list[str]]) -> Any:
    influxdb.query(f"CREATE DATABASE {DB}")
    body = "\n".join(loaded[2]).encode()
    req = urllib.request.Request(
        f"{influxdb.url}/write?" + urllib.parse.urlencode({"db": DB, "precision": "n"}),
        data=body,
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
    return influxdb


def test_dashboard_uses_the_schema_names() -> None:
    dash = dashboard()
    assert dash["__inputs"][0]["name"] == "DS_INFLUXDB"
    queries = [q for qs in panel_queries().values() for q in qs]
    assert len(queries) == 10
    measurements = set(re.findall(r'FROM "(\w+)"', " ".join(queries)))
    assert measurements == {
        influx_schema.MEASUREMENT_DAILY,
        influx_schema.MEASUREMENT_ACTIVITY,
        influx_schema.MEASUREMENT_SESSION,
        MEASUREMENT_PROGRAMME,
    }
    for p in dash["panels"]:
        assert p["datasource"] == {"type": "influxdb", "uid": "${DS_INFLUXDB}"}
        for t in p["targets"]:
            assert t["rawQuery"] is True and t["datasource"]["uid"] == "${DS_INFLUXDB}"


def test_every_query_runs_without_error(influx: Any) -> None:
    n = 0
    for queries in panel_queries().values():
        for q in queries:
            for subjects in (None, ["P001"], ["P001", "P002"]):
                assert run(influx, substitute(q, subjects, "lbp-home")) is not None
                n += 1
    for var in dashboard()["templating"]["list"]:
        assert run(influx, substitute(var["query"], None, None))
        n += 1
    assert n == 10 * 3 + 2


def test_template_variables(influx: Any) -> None:
    programme, subject = dashboard()["templating"]["list"]
    [s] = run(influx, substitute(programme["query"]))
    assert [v[1] for v in s["values"]] == ["lbp-home"]
    [s] = run(influx, substitute(subject["query"], None, "lbp-home"))
    assert [v[1] for v in s["values"]] == ["P001", "P002", "P003"]


def test_composite_score_panel(
    influx: Any, loaded: tuple[Store, list[CarePlan], list[str]]
) -> None:
    store = loaded[0]
    [q] = panel_queries()["Composite adherence score"]
    series = run(influx, substitute(q, None, "lbp-home"))
    got = {s["tags"]["subject"]: {utc_day(t): v for t, v in s["values"]} for s in series}
    want: dict[str, dict[str, float]] = {}
    for subject, day, composite, _ in store.scores():
        if composite is not None:
            want.setdefault(subject, {})[day] = composite
    assert got == want
    assert got["P003"] == {
        "2026-11-09": 100.0,
        "2026-11-10": 100.0,
        "2026-11-11": 100.0,
        "2026-11-12": 100.0,
    }
    only = run(influx, substitute(q, ["P001"], "lbp-home"))
    assert [s["tags"]["subject"] for s in only] == ["P001"]


def test_steps_against_goal_panel(
    influx: Any, loaded: tuple[Store, list[CarePlan], list[str]]
) -> None:
    plans = {p.subject: p for p in loaded[1]}
    [q] = panel_queries()["Daily steps against goal"]
    series = run(influx, substitute(q, ["P001", "P002"], "lbp-home"))
    assert [s["columns"] for s in series] == [["time", "steps", "goal"]] * 2
    got = {s["tags"]["subject"]: [(utc_day(t), a, b) for t, a, b in s["values"]] for s in series}
    assert got == {
        subj: [
            (day, steps, plans[subj].step_goal(dt.date.fromisoformat(day)))
            for day, steps, *_ in DAILY[subj]
        ]
        for subj in ("P001", "P002")
    }


def test_repetitions_panel(influx: Any) -> None:
    [q] = panel_queries()["Repetitions per day by exercise"]
    series = run(influx, substitute(q, None, "lbp-home"))
    got = {
        (s["tags"]["subject"], s["tags"]["exercise"]): [(utc_day(t), v) for t, v in s["values"]]
        for s in series
    }
    assert got == {
        ("P001", "bridge"): [("2026-11-09", 6), ("2026-11-11", 4)],
        ("P002", "bridge"): [("2026-11-11", 2)],
        ("P003", "bridge"): [("2026-11-09", 6), ("2026-11-11", 6)],
    }


def test_flags_table_and_count(
    influx: Any, loaded: tuple[Store, list[CarePlan], list[str]]
) -> None:
    store = loaded[0]
    latest = {s: detail for s, day, _, detail in store.scores() if day == "2026-11-12"}
    [q] = panel_queries()["Patients: latest score and flags"]
    series = run(influx, substitute(q, None, "lbp-home"))
    got = {}
    for s in series:
        row = dict(zip(s["columns"], s["values"][0], strict=True))
        got[s["tags"]["subject"]] = (row["score"], row["flag_count"], row["flags"])
    assert got == {
        subj: (
            d["composite"],
            len(d["flags"]),
            ",".join(f["code"] for f in d["flags"]),
        )
        for subj, d in latest.items()
    }
    assert got["P003"] == (100.0, 0, "")
    assert got["P001"][2] == "INSUFFICIENT_WEAR"
    [q] = panel_queries()["Patients with flags"]
    [s] = run(influx, substitute(q, None, "lbp-home"))
    assert s["values"][0][1] == 2  # P001 and P002; P003 has none


def test_sessions_against_plan_panel(
    influx: Any, loaded: tuple[Store, list[CarePlan], list[str]]
) -> None:
    [q] = panel_queries()["Sessions done against plan (7 days)"]
    [s] = run(influx, substitute(q, ["P003"], "lbp-home"))
    assert s["columns"] == ["time", "done", "planned"]
    # P003 did Monday's and Wednesday's sessions; Friday the 13th is after "today"
    assert [(utc_day(t), a, b) for t, a, b in s["values"]] == [
        ("2026-11-09", 1, 1),
        ("2026-11-10", 1, 1),
        ("2026-11-11", 2, 2),
        ("2026-11-12", 2, 2),
    ]


def test_programme_panels(influx: Any, loaded: tuple[Store, list[CarePlan], list[str]]) -> None:
    """Only P001's plan prescribes components. Its programme score per day is what the store
    keeps with each day's score; pain is summarised as of the latest day (12 November, in
    progress): the day values 6 and 5 (10 and 11 November) make the baseline while it forms,
    (6 + 5) / 2 = 5.5, and the last-7-day mean, also 5.5."""
    store = loaded[0]
    [q] = panel_queries()["Whole-programme score"]
    series = run(influx, substitute(q, None, "lbp-home"))
    assert [s["tags"]["subject"] for s in series] == ["P001"]
    got = {utc_day(t): v for t, v in series[0]["values"]}
    want = {
        day: detail["programme_composite"]
        for subject, day, _, detail in store.scores()
        if subject == "P001" and detail.get("programme_composite") is not None
    }
    assert got == want and len(want) >= 1
    [q] = panel_queries()["Pain against baseline"]
    [s] = run(influx, substitute(q, None, "lbp-home"))
    assert s["tags"]["subject"] == "P001"
    assert s["columns"] == ["time", "pain_7d", "pain_baseline", "change_pct", "outcome_flags"]
    (_, last7, baseline, _pct, _flags) = s["values"][0]
    assert (last7, baseline) == (5.5, 5.5)
