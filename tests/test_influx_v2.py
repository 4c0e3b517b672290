"""Delivery over the InfluxDB v2 write API (stock influxdb-client) to a real VictoriaMetrics,
read back with its export API (metric name ``<measurement>_<field>``, ms timestamps)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from adherence.influx_sink import InfluxV2Sink
from adherence.outbox import OutboxSender
from adherence.scoring import rescore
from devices.errors import ConfigError
from ingest.store import Store
from tests.influx_helpers import StrictVictoriaMetrics, synthetic_lines, vm_samples
from tests.services import VictoriaMetrics, wait_until
from tests.support.plans import plan_from, scenario
from tests.support.running import running, serving

pytestmark = pytest.mark.services


@pytest.fixture
def strict_victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    yield from serving(StrictVictoriaMetrics(tmp_path_factory.mktemp("victoria-strict")))


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


def test_scores_arrive_with_exact_values_and_replays_overwrite(
    store: Store, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    plan = plan_from()
    sessions, summaries = scenario(plan)
    for s in sessions:
        store.put_session(s)
    store.put_daily_summary(plan.subject, [(d.isoformat(), *r) for d, r in summaries.items()])
    (tmp_path / "token").write_text("not-checked-by-victoria\n")
    sink = InfluxV2Sink(victoria.url, "org", "rehab", token_file=tmp_path / "token")
    sender = OutboxSender(store, "vm", sink, batch_size=7)
    try:
        for _ in range(2):  # the second round is a full replay
            rescore(store, [plan], today=dt.date(2026, 11, 12), sinks=["vm"])
            assert sender.drain(timeout_s=30) == 0
    finally:
        sink.close()
    composite = vm_samples(victoria, "adherence_daily_composite")
    [(labels, samples)] = composite.items()
    assert labels == (("programme", "lbp-home"), ("subject", "P001"))
    assert len(samples) == 11  # Nov 2..12, once each despite the replay
    by_ms = dict(samples)
    assert by_ms[_ms(dt.date(2026, 11, 2))] == 100.0
    assert by_ms[_ms(dt.date(2026, 11, 6))] == 71.0
    assert by_ms[_ms(dt.date(2026, 11, 12))] == 46.8
    reps = vm_samples(victoria, "exercise_session_reps")
    assert {dict(k)["exercise"]: sorted(v for _, v in s) for k, s in reps.items()} == {
        "bridge": [24, 30, 30],
        "bird_dog": [8, 12, 16],
    }
    flags = vm_samples(victoria, "adherence_daily_flag_count")
    [series] = flags.values()
    assert dict(series)[_ms(dt.date(2026, 11, 12))] == 2


def test_server_down_then_up_every_point_exactly_once(
    store: Store, victoria: VictoriaMetrics
) -> None:
    victoria.stop()
    store.enqueue("vm", synthetic_lines(400))
    sink = InfluxV2Sink(victoria.url, "org", "rehab")
    sender = OutboxSender(
        store, "vm", sink, batch_size=50, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    try:
        with running(sender.run) as thread:
            assert wait_until(lambda: sender.status().failures_in_row >= 3, 30)
            st = sender.status()
            assert (st.backlog, st.delivered) == (400, 0)
            assert st.last_error is not None and "no answer" in st.last_error
            victoria.start(timeout_s=60)
            assert wait_until(lambda: store.outbox_size("vm") == 0, 60)
    finally:
        sink.close()
    assert not thread.is_alive()
    values = sorted(v for s in vm_samples(victoria, "t_v").values() for _, v in s)
    assert values == list(range(400))


def test_rejected_point_is_dead_lettered_while_the_rest_lands(
    store: Store, strict_victoria: VictoriaMetrics
) -> None:
    good = synthetic_lines(60)
    too_long = 't,subject=S7 v=999i,note="' + "x" * 100_000 + '" 1735689600000000000'
    store.enqueue("vm", good[:33] + [too_long] + good[33:])
    sink = InfluxV2Sink(strict_victoria.url, "org", "rehab")
    sender = OutboxSender(store, "vm", sink, batch_size=16)
    try:
        assert sender.drain(timeout_s=30) == 0
    finally:
        sink.close()
    [dead] = store.dead_letters("outbox:vm")
    assert dead.payload == too_long.encode()
    assert "HTTP 400" in dead.reason and "too long line" in dead.reason
    assert (sender.status().delivered, sender.status().rejected) == (60, 1)
    samples = vm_samples(strict_victoria, "t_v")
    assert sorted(v for s in samples.values() for _, v in s) == list(range(60))


def test_token_must_be_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TEST_INFLUX_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"\$TEST_INFLUX_TOKEN"):
        InfluxV2Sink("http://127.0.0.1:1", "org", "b", token_env="TEST_INFLUX_TOKEN")
    with pytest.raises(ConfigError, match="cannot read"):
        InfluxV2Sink("http://127.0.0.1:1", "org", "b", token_file=tmp_path / "missing")
