"""Delivery to a real InfluxDB 1.6.7 over the v1 ``/write`` API, read back with InfluxQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from adherence.errors import SinkError
from adherence.influx_sink import InfluxV1Sink
from adherence.outbox import OutboxSender
from adherence.scoring import rescore
from devices.errors import ConfigError
from ingest.store import Store
from tests.influx_helpers import AuthInfluxDB16, influx_rows, synthetic_lines
from tests.services import InfluxDB16, wait_until
from tests.support.plans import plan_from, scenario
from tests.support.running import running

pytestmark = pytest.mark.services
DB = "rehab"


def _db(influxdb: InfluxDB16) -> None:
    influxdb.query(f"CREATE DATABASE {DB}")
    influxdb.query(f"CREATE RETENTION POLICY keep ON {DB} DURATION INF REPLICATION 1")


def test_scores_arrive_with_exact_values_and_replays_overwrite(
    store: Store, influxdb: InfluxDB16
) -> None:
    _db(influxdb)
    plan = plan_from()
    sessions, summaries = scenario(plan)
    for s in sessions:
        store.put_session(s)
    store.put_daily_summary(plan.subject, [(d.isoformat(), *r) for d, r in summaries.items()])
    sender = OutboxSender(store, "ix", InfluxV1Sink(influxdb.url, DB, rp="keep"), batch_size=4)
    for _ in range(2):  # the second round is a full replay of the same points
        rescore(store, [plan], today=dt.date(2026, 11, 12), sinks=["ix"])
        assert sender.drain(timeout_s=30) == 0
    rows = influx_rows(
        influxdb.query(
            "SELECT composite, sessions_done_7d, streak_days, flags FROM keep.adherence_daily"
            " WHERE subject='P001' AND programme='lbp-home'",
            DB,
        )
    )
    by_day = {dt.datetime.fromtimestamp(r["time"] / 1e9, dt.UTC).date(): r for r in rows}
    assert len(rows) == 11  # Nov 2..12, once each despite the replay
    assert by_day[dt.date(2026, 11, 2)]["composite"] == 100.0
    assert by_day[dt.date(2026, 11, 6)]["composite"] == 71.0
    last = by_day[dt.date(2026, 11, 12)]
    assert (last["composite"], last["sessions_done_7d"], last["streak_days"]) == (46.8, 1, 0)
    assert last["flags"] == "NO_RECENT_SESSION,LOW_WEEKLY_ADHERENCE"
    reps = influx_rows(
        influxdb.query("SELECT reps, session_id FROM keep.exercise_session GROUP BY exercise", DB)
    )
    assert sorted((r["exercise"], r["reps"], r["session_id"]) for r in reps) == [
        ("bird_dog", 8, "s4"),
        ("bird_dog", 12, "s6"),
        ("bird_dog", 16, "s2"),
        ("bridge", 24, "s3"),
        ("bridge", 30, "s1"),
        ("bridge", 30, "s5"),
    ]
    steps = influx_rows(influxdb.query("SELECT sum(steps) FROM keep.daily_activity", DB))
    assert steps[0]["sum"] == sum(r[0] for r in summaries.values())


def test_server_down_then_up_every_point_exactly_once(store: Store, influxdb: InfluxDB16) -> None:
    _db(influxdb)
    lines = synthetic_lines(400)
    influxdb.stop()
    store.enqueue("ix", lines)
    sender = OutboxSender(
        store,
        "ix",
        InfluxV1Sink(influxdb.url, DB),
        batch_size=50,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    with running(sender.run) as thread:
        assert wait_until(lambda: sender.status().failures_in_row >= 3, 30)
        st = sender.status()
        assert st.backlog == 400 and st.delivered == 0
        assert st.last_error is not None and "no answer" in st.last_error
        assert 0 < st.retry_in_s <= 0.2  # capped backoff
        assert "retrying" in st.line()
        influxdb.start(timeout_s=60)
        assert wait_until(lambda: store.outbox_size("ix") == 0, 60)
    assert not thread.is_alive()
    assert sender.status().delivered == 400
    rows = influx_rows(influxdb.query("SELECT count(v), sum(v) FROM t", DB))
    assert (rows[0]["count"], rows[0]["sum"]) == (400, sum(range(400)))
    assert store.dead_letters("outbox:") == []


def test_rejected_point_is_dead_lettered_while_the_rest_lands(
    store: Store, influxdb: InfluxDB16
) -> None:
    _db(influxdb)
    good = synthetic_lines(60)
    bad_parse = "t,subject=S9 this is not line protocol"
    bad_type = 't,subject=S0 v="text" 1735689600000000000'  # v is an integer on that series
    store.enqueue("ix", good[:25] + [bad_parse] + good[25:40] + [bad_type] + good[40:])
    sender = OutboxSender(store, "ix", InfluxV1Sink(influxdb.url, DB), batch_size=16)
    assert sender.drain(timeout_s=30) == 0
    dead = store.dead_letters("outbox:ix")
    assert [d.payload for d in dead] == [bad_parse.encode(), bad_type.encode()]
    assert "unable to parse" in dead[0].reason and "HTTP 400" in dead[0].reason
    assert "field type conflict" in dead[1].reason
    assert (sender.status().delivered, sender.status().rejected) == (60, 2)
    rows = influx_rows(influxdb.query("SELECT count(v), sum(v) FROM t", DB))
    assert (rows[0]["count"], rows[0]["sum"]) == (60, sum(range(60)))


def test_missing_database_is_retried_not_dead_lettered(store: Store, influxdb: InfluxDB16) -> None:
    store.enqueue("ix", synthetic_lines(3))
    sender = OutboxSender(store, "ix", InfluxV1Sink(influxdb.url, "nosuchdb"))
    result = sender.drain_once()
    assert result.error is not None and result.error.status == 404
    assert not result.error.permanent
    st = sender.status()
    assert st.config_problem and st.backlog == 3 and "CONFIG ERROR" in st.line()
    assert store.dead_letters() == []


def test_basic_auth(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    server = AuthInfluxDB16(tmp_path / "influxd-auth")
    server.start(timeout_s=60)
    try:
        server.make_admin("coach", "s3cret")
        server.query_as("coach", "s3cret", f"CREATE DATABASE {DB}")
        monkeypatch.setenv("TEST_INFLUX_PW", "s3cret")
        (tmp_path / "wrong").write_text("nope\n")
        wrong = InfluxV1Sink(server.url, DB, username="coach", password_file=tmp_path / "wrong")
        with pytest.raises(SinkError) as info:
            wrong.write(synthetic_lines(1))
        assert (info.value.status, info.value.permanent) == (401, False)
        sink = InfluxV1Sink(server.url, DB, username="coach", password_env="TEST_INFLUX_PW")
        sink.write(synthetic_lines(5))
        rows = influx_rows(server.query_as("coach", "s3cret", "SELECT count(v) FROM t", DB))
        assert rows[0]["count"] == 5
    finally:
        server.stop()
    monkeypatch.delenv("TEST_INFLUX_PW")
    with pytest.raises(ConfigError, match="TEST_INFLUX_PW"):
        InfluxV1Sink("http://127.0.0.1:1", DB, username="coach", password_env="TEST_INFLUX_PW")
