"""The sender is SIGKILLed mid-drain and restarted: nothing lost, nothing counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from adherence.outbox import OutboxSender
from ingest.store import Store
from tests.influx_helpers import influx_rows, make_sink, synthetic_lines, vm_samples
from tests.services import InfluxDB16, VictoriaMetrics, wait_until

pytestmark = pytest.mark.services
REPO = Path(__file__).resolve().parents[1]
N = 3000
SUBJECTS = 5


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_sigkill_mid_drain_then_restart(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "v1":
        server: InfluxDB16 | VictoriaMetrics = request.getfixturevalue("influxdb")
        assert isinstance(server, InfluxDB16)
        server.query("CREATE DATABASE rehab")
        target = "rehab"
    else:
        server = request.getfixturevalue("victoria")
        target = "bucket"
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        store.enqueue("sink", synthetic_lines(N, SUBJECTS))
    # Small batches so that the kill lands in the middle of the drain.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.influx_helpers",
            str(path),
            "sink",
            kind,
            server.url,
            target,
            "5",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    store = Store(path)
    try:
        assert wait_until(lambda: store.outbox_size("sink") <= N - 500, 60, interval_s=0.002)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        left = store.outbox_size("sink")
        assert 0 < left < N, "the kill must land mid-drain"
        # Restart: a new sender drains what is left.
        sender = OutboxSender(store, "sink", make_sink(kind, server.url, target), batch_size=5)
        assert sender.drain(timeout_s=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
        store.close()
    if isinstance(server, InfluxDB16):
        rows = influx_rows(server.query("SELECT count(v), sum(v) FROM t", target))
        assert (rows[0]["count"], rows[0]["sum"]) == (N, sum(range(N)))
    else:
        samples = vm_samples(server, "t_v")
        assert sorted(samples) == [(("subject", f"S{i}"),) for i in range(SUBJECTS)]
        values = sorted(v for series in samples.values() for _, v in series)
        assert values == list(range(N))  # every point once: none lost, none doubled
