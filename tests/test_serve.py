"""``adherence serve`` as a real process: scoring, delivery, status, SIGTERM with the outbox kept."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from adherence.cli import main
from adherence.config import load_config
from adherence.plan import load_plans
from adherence.serve import serve
from devices.errors import ConfigError
from devices.frame import make_frame
from ingest.collector import STORE_TABLES_WRITTEN, Collector
from ingest.errors import CollectorError
from ingest.store import Store
from tests.influx_helpers import influx_rows
from tests.services import InfluxDB16, Mosquitto, wait_until
from tests.support.plans import bout
from tests.support.running import adherence_argv

REPO = Path(__file__).resolve().parents[1]
TZ = "Europe/London"


def _setup(tmp_path: Path, sink_url: str, extra: str = "") -> tuple[Path, list[dt.date]]:
    """A plan started 9 days ago with bridge 1x10 every day, all done, 5000 steps a day (goal
    4000): the composite of today and yesterday is exactly 100.0."""
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    start = today - dt.timedelta(days=9)
    doc = {
        "format": "adherence-care-plan/1",
        "plans": [
            {
                "subject": "P042",
                "programme": "lbp-home",
                "start_date": start.isoformat(),
                "length_days": 28,
                "timezone": TZ,
                "sessions": [
                    {
                        "id": "daily",
                        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        "exercises": [{"exercise": "bridge", "sets": 1, "reps": 10}],
                    }
                ],
                "step_goal": {"start": 4000},
            }
        ],
    }
    (tmp_path / "plans.json").write_text(json.dumps(doc))
    [plan] = load_plans(tmp_path / "plans.json")
    with Store(tmp_path / "store.sqlite") as store:
        for i in range(9):
            day = start + dt.timedelta(days=i)
            store.put_session(bout(plan, f"s{i}", "bridge", day, [10]))
            store.put_daily_summary("P042", [(day.isoformat(), 5000, 700, 30, True)])
    (tmp_path / "serve.toml").write_text(
        f"""store = "store.sqlite"
care_plans = "plans.json"
[scoring]
interval_s = 0.3
lookback_days = 2
[status]
interval_s = 0.2
[[sink]]
name = "coach"
protocol = "v1"
url = "{sink_url}"
db = "rehab"
batch_size = 3
backoff_max_s = 0.3
{extra}"""
    )
    return tmp_path / "serve.toml", [today - dt.timedelta(days=1), today]


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:
        return subprocess.Popen(
            adherence_argv("serve", "--config", str(config)),
            cwd=REPO,
            stderr=err,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


def _terminate(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _serve_until(config: Path, log: Path, text: str) -> str:
    """Run ``adherence serve`` until ``text`` is in its log, stop it with SIGTERM; the log."""
    proc = _start(config, log)
    try:
        assert wait_until(lambda: text in log.read_text(), 30), log.read_text()
    finally:
        assert _terminate(proc) == 0, log.read_text()
    return log.read_text()


@pytest.mark.services
def test_serve_keeps_outbox_over_sigterm_and_delivers_later(
    tmp_path: Path, influxdb: InfluxDB16
) -> None:
    influxdb.query("CREATE DATABASE rehab")
    config, days = _setup(tmp_path, influxdb.url)
    influxdb.stop()
    # Phase 1: the server is down. Status lines show the backlog and the error; SIGTERM is clean.
    text = _serve_until(config, tmp_path / "serve1.log", "retrying")
    assert "adherence serve: coach: backlog=" in text and "no answer" in text
    assert "stopped; outbox kept" in text.splitlines()[-1]
    with Store(tmp_path / "store.sqlite") as store:
        kept = store.outbox_size("coach")
        assert kept > 0
        assert [s[1] for s in store.scores("P042")] == [d.isoformat() for d in days]
    # Phase 2: server up again; the kept points and new rounds land, each point once.
    influxdb.start(timeout_s=60)
    _serve_until(config, tmp_path / "serve2.log", "backlog=0 delivered=")
    rows = influx_rows(
        influxdb.query("SELECT composite, sessions_done_7d FROM adherence_daily", "rehab")
    )
    tz = ZoneInfo(TZ)
    expected_ns = [
        int(dt.datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()) * 10**9 for d in days
    ]
    assert [r["time"] for r in rows] == expected_ns
    assert [r["composite"] for r in rows] == [100.0, 100.0]
    assert [r["sessions_done_7d"] for r in rows] == [7, 6]  # today's session is not done yet
    sessions = influx_rows(influxdb.query("SELECT count(reps) FROM exercise_session", "rehab"))
    assert sessions[0]["count"] == 1  # only yesterday's bout is in the 2-day window


def test_serve_in_process_stops_on_event(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9")
    cfg = load_config(config)
    import io
    import threading

    stop = threading.Event()
    out = io.StringIO()
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(serve(cfg, stop=stop, out=out)))
    t.start()
    assert wait_until(lambda: "coach: backlog=" in out.getvalue(), 30)
    stop.set()
    t.join(30)
    assert result == [0]
    assert "stopped; outbox kept" in out.getvalue()


@pytest.mark.services
def test_serve_runs_the_mqtt_collector(tmp_path: Path, mosquitto: Mosquitto) -> None:
    extra = f'[mqtt]\nbroker = "{mosquitto.url}"\nclient_id = "serve-test"\n'
    config, _ = _setup(tmp_path, "http://127.0.0.1:9", extra)
    _serve_until(config, tmp_path / "serve.log", "mqtt: connected=True")


def test_config_errors_name_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9", "\n[scoring_typo]\n")
    with pytest.raises(ConfigError, match=r"serve\.toml: scoring_typo: unknown key"):
        load_config(config)
    config.write_text(config.read_text().replace("\n[scoring_typo]\n", "").replace('"v1"', '"v3"'))
    with pytest.raises(ConfigError, match=r"sink\[0\]\.protocol: must be 'v1' or 'v2'"):
        load_config(config)
    config.write_text(config.read_text().replace('"v3"', '"v2"'))
    with pytest.raises(ConfigError, match=r"sink\[0\]\.db: unknown key"):
        load_config(config)
    assert main(["serve", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bad_collector_settings_are_a_configuration_error(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9", "[ble]\nno_such_setting = 1\n")
    with pytest.raises(ConfigError, match=r"serve\.toml: \[ble\]: "):
        serve(load_config(config))


class _ProbeCollector:
    """A collector kept to the ``Collector`` protocol: it stores one frame and one gap through
    its own store connection, then waits for ``stop`` (or fails, when told to)."""

    def __init__(self, path: Path, *, fail: bool = False) -> None:
        self.path = path
        self.fail = fail
        self.state = "starting"

    @property
    def name(self) -> str:
        return "probe"

    @property
    def writes(self) -> frozenset[str]:
        return frozenset({"frames", "gaps"})

    def collect(self, stop: threading.Event) -> None:
        if self.fail:
            raise CollectorError("probe", "device", "not found")
        t = 1_794_000_000_000_000_000 + np.arange(50) * 20_000_000
        with Store(self.path) as store:
            store.put_frames(
                [make_frame("P042", "probe-1", "accel", t, np.ones((50, 3)), fs_hz=50.0, seq=0)]
            )
            store.put_gap(
                "probe-1", "accel", int(t[-1]), int(t[-1]) + 10**9, "test gap", subject="P042"
            )
        self.state = "stored"
        stop.wait()
        self.state = "stopped"

    def status_text(self) -> str:
        return f"state={self.state}"


def test_collector_protocol_is_kept_by_both_collectors(store: Store) -> None:
    from ingest.ble import BleCollector, BleSettings
    from ingest.mqtt import MqttCollector, MqttSettings

    ble = BleCollector(BleSettings(device="AA:BB:CC:DD:EE:FF", subject="P1"), store)
    mqtt = MqttCollector(MqttSettings(broker="mqtt://127.0.0.1:9"), store)
    for c, name in ((ble, "ble"), (mqtt, "mqtt")):
        assert isinstance(c, Collector)
        assert c.name == name
        assert c.writes <= STORE_TABLES_WRITTEN and "frames" in c.writes
    assert ble.status_text() == "starting"
    assert mqtt.status_text() == "connected=False frames=0"


def test_serve_runs_injected_collectors_through_the_protocol(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9")
    cfg = load_config(config)
    probe = _ProbeCollector(tmp_path / "store.sqlite")
    stop = threading.Event()
    out = io.StringIO()
    result: list[int] = []
    t = threading.Thread(
        target=lambda: result.append(serve(cfg, stop=stop, out=out, collectors=[probe]))
    )
    t.start()
    assert wait_until(lambda: "probe: state=stored | frames=1 |" in out.getvalue(), 30), (
        out.getvalue()
    )
    stop.set()
    t.join(30)
    assert result == [0] and probe.state == "stopped"
    with Store(tmp_path / "store.sqlite") as store:
        (gap,) = store.gaps(device="probe-1")
        assert (gap.subject, gap.stream, gap.reason) == ("P042", "accel", "test gap")


def test_a_failing_collector_stops_serve_with_exit_code_1(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9")
    out = io.StringIO()
    probe = _ProbeCollector(tmp_path / "store.sqlite", fail=True)
    assert serve(load_config(config), out=out, collectors=[probe]) == 1
    assert "adherence serve: probe: probe at device: not found" in out.getvalue().splitlines()


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            "lookback_days = 2",
            "lookback_days = 0",
            r"scoring\.lookback_days: must be a positive integer, got 0",
        ),
        (
            "batch_size = 3",
            "batch_size = true",
            r"sink\[0\]\.batch_size: must be a positive integer, got True",
        ),
        (
            "backoff_max_s = 0.3",
            "backoff_max_s = 0.01",
            r"sink\[0\]\.backoff_max_s: must be a number of at least 0\.1",
        ),
        ('db = "rehab"', 'db = ""', r"sink\[0\]\.db: must be a non-empty string"),
        ('db = "rehab"', "", r"sink\[0\]\.db: is required"),
        (
            'care_plans = "plans.json"',
            'care_plans = "plans.json"\nble = 5',
            r"serve\.toml: ble: must be a table",
        ),
    ],
)
def test_each_bad_value_is_named(tmp_path: Path, old: str, new: str, match: str) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9")
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=match):
        load_config(config)


def test_duplicate_sink_names_are_refused(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path, "http://127.0.0.1:9")
    text = config.read_text()
    sink = text[text.index("[[sink]]") :]
    config.write_text(text + "\n" + sink)
    with pytest.raises(ConfigError, match=r"sink\[1\]\.name: duplicate sink name 'coach'"):
        load_config(config)
