"""Broker crash benchmark: messages lost or stored twice when Mosquitto is SIGKILLed.

Runs the scenario of ``tests/test_faults_broker.py`` once per broker setting and device: a
device publishes step totals (QoS 1) while the collector is away, Mosquitto is SIGKILLed
``--kills`` times right after it acknowledged a burst and restarted, then the collector stores
what the broker queued for it. Two devices:

* ``receipts``: the project's device client (``ingest/mqtt_device.py``, as ``adherence simulate
  mqtt``): keeps every message until the collector's receipt names it, resends the rest after
  each reconnect and after a timeout.
* ``PUBACK only``: a paho client that re-sends only what the broker did not acknowledge (the
  behaviour before receipts), for comparison.

Prints, per setting and device, how many of the messages were lost (never stored) and stored
twice. Target: 0 lost and 0 duplicated with receipts.

    python benchmarks/broker_crash.py               # 6,600 messages, 3 kills
"""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import parser  # noqa: E402
from devices.mqtt_wire import encode_json_samples  # noqa: E402
from ingest.mqtt import MqttCollector  # noqa: E402
from ingest.mqtt_device import DeviceClient  # noqa: E402
from ingest.mqtt_settings import MqttSettings  # noqa: E402
from ingest.store import Store  # noqa: E402
from tests.mqtt_helpers import T0_NS, Publisher  # noqa: E402
from tests.services import Mosquitto, wait_until  # noqa: E402

SETTINGS = {
    "shipped (autosave every 10 s)": "",
    "autosave every 10 changes (shipped before receipts)": "autosave_on_changes true\n",
    "Mosquitto default (autosave every 1800 s)": "autosave_interval 1800\n",
}
TOPIC = "adh/site1/P001/ped1/step_total"
RESEND_AFTER_S = 10.0
"""First resend wait of the receipts device, s (the simulator's default is 30 s)."""


class _PubackDevice:
    """The PUBACK-only device: paho re-sends what the broker did not acknowledge."""

    def __init__(self, port: int) -> None:
        self.pub = Publisher(port, client_id="crash-device")

    def publish(self, seq: int) -> None:
        self.pub.publish(TOPIC, _payload(seq))

    def settled(self) -> bool:
        return self.pub.unacked() == 0

    def after_restart(self) -> None:
        pass

    def finish(self, timeout_s: float) -> None:
        wait_until(self.settled, timeout_s)

    def close(self) -> None:
        self.pub.close()


class _ReceiptDevice:
    """The receipts device (``ingest.mqtt_device.DeviceClient``)."""

    def __init__(self, port: int) -> None:
        url = f"mqtt://127.0.0.1:{port}"
        self.dev = DeviceClient(MqttSettings(broker=url), "ped1", resend_after_s=RESEND_AFTER_S)
        if not self.dev.connected.wait(30):
            raise SystemExit("device did not connect")
        self.connects = 1

    def publish(self, seq: int) -> None:
        self.dev.publish(TOPIC, _payload(seq))

    def settled(self) -> bool:
        return self.dev.pending_pubacks() == 0

    def after_restart(self) -> None:
        self.connects += 1
        wait_until(lambda: self.dev.stats.connects >= self.connects, 60)
        self.dev.tick()  # resends everything unconfirmed

    def finish(self, timeout_s: float) -> None:
        self.dev.wait_confirmed(timeout_s)

    def close(self) -> None:
        self.dev.close(30)


def _payload(seq: int) -> bytes:
    return encode_json_samples(seq, [(T0_NS + seq * 10**9, float(seq))])


def run(extra: str, receipts: bool, n: int, kills: int, tmp: Path) -> tuple[int, int, int]:
    """One scenario; return (messages, lost, stored twice)."""
    broker = Mosquitto(tmp / "broker", extra_conf=extra)
    broker.start()
    store = Store(tmp / "store.sqlite")
    settings = MqttSettings(broker=broker.url, client_id="crash-collector", session_expiry_s=3600)
    _collect(settings, store, lambda: True)  # create the persistent session, then go away
    dev: _PubackDevice | _ReceiptDevice = (
        _ReceiptDevice(broker.port) if receipts else _PubackDevice(broker.port)
    )
    per_burst = n // kills
    for k in range(kills):
        for seq in range(k * per_burst, (k + 1) * per_burst):
            dev.publish(seq)
        wait_until(dev.settled, 120)
        broker.stop(sig=signal.SIGKILL)
        broker.start()
        dev.after_restart()
    total = per_burst * kills
    stop = threading.Event()
    worker = _start_collector(settings, store, stop)
    dev.finish(120)
    wait_until(lambda: _distinct(store) >= total, 30 if receipts else 10)
    stop.set()
    worker.join(30)
    dev.close()
    distinct, rows = _distinct(store), store.count("frames")
    store.close()
    broker.stop()
    return total, total - distinct, rows - distinct


def _distinct(store: Store) -> int:
    return int(store.execute("SELECT COUNT(DISTINCT seq) FROM frames")[0][0])


def _start_collector(
    settings: MqttSettings, store: Store, stop: threading.Event
) -> threading.Thread:
    collector = MqttCollector(settings, store)
    worker = threading.Thread(target=collector.run, args=(stop,), daemon=True)
    worker.start()
    if not collector.subscribed.wait(30):
        raise SystemExit("collector did not subscribe")
    return worker


def _collect(settings: MqttSettings, store: Store, done: Callable[[], bool]) -> None:
    """Run a collector until ``done()`` or 30 s without it."""
    stop = threading.Event()
    worker = _start_collector(settings, store, stop)
    wait_until(done, 30)
    stop.set()
    worker.join(30)


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--messages", type=int, default=6600, help="messages published in all")
    ap.add_argument("--kills", type=int, default=3, help="broker SIGKILLs during the run")
    args = ap.parse_args()
    worst = 0
    for name, extra in SETTINGS.items():
        for receipts in (True, False):
            with tempfile.TemporaryDirectory(prefix="broker-crash-") as tmp:
                total, lost, twice = run(extra, receipts, args.messages, args.kills, Path(tmp))
            device = "receipts" if receipts else "PUBACK only"
            print(
                f"{name}, {device}: {lost} of {total} messages lost, {twice} stored twice"
                f" ({args.kills} SIGKILLs)",
                flush=True,
            )
            if receipts:
                worst = max(worst, lost + twice)
    return 0 if worst == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
