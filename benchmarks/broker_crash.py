"""Broker crash benchmark: acknowledged messages lost when Mosquitto is SIGKILLed.

Runs the scenario of ``tests/test_faults_broker.py`` once per broker setting: a device (real
paho, QoS 1, re-sends what the broker did not PUBACK) publishes step totals, the collector
stores them (acknowledging after its commit), and Mosquitto is SIGKILLed ``--kills`` times and
restarted. Prints, per setting, how many of the messages the broker acknowledged never reached
the store. Target: 0; with the shipped ``deploy/mosquitto/mosquitto.conf`` a kill can lose up
to its ``autosave_interval`` (10) last acknowledged changes.

    python benchmarks/broker_crash.py               # 6,600 messages, 3 kills
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devices.mqtt_wire import encode_json_samples  # noqa: E402
from ingest.mqtt import MqttCollector  # noqa: E402
from ingest.mqtt_settings import MqttSettings  # noqa: E402
from ingest.store import Store  # noqa: E402
from tests.mqtt_helpers import T0_NS, Publisher  # noqa: E402
from tests.services import Mosquitto, wait_until  # noqa: E402

SETTINGS = {
    "shipped (autosave_on_changes true, autosave_interval 10)": "",
    "autosave after every change": "autosave_on_changes true\nautosave_interval 1\n",
    "Mosquitto default (autosave every 1800 s)": "autosave_on_changes false\nautosave_interval 1800\n",
    "autosave every 1 s": "autosave_on_changes false\nautosave_interval 1\n",
}


def run(extra: str, n: int, kills: int, tmp: Path) -> tuple[int, int]:
    """One scenario (as in the test); return (acknowledged by the broker, lost)."""
    broker = Mosquitto(tmp / "broker", extra_conf=extra)
    broker.start()
    store = Store(tmp / "store.sqlite")
    settings = MqttSettings(broker=broker.url, client_id="crash-collector", session_expiry_s=3600)
    _collect(settings, store, lambda: True)  # create the persistent session, then go away
    pub = Publisher(broker.port, client_id="crash-device")
    topic = "adh/site1/P001/ped1/step_total"
    per_burst = n // kills
    for k in range(kills):
        for seq in range(k * per_burst, (k + 1) * per_burst):
            pub.publish(topic, encode_json_samples(seq, [(T0_NS + seq * 10**9, float(seq))]))
        wait_until(lambda: pub.unacked() == 0, 120)
        broker.stop(sig=signal.SIGKILL)
        broker.start()
    _collect(settings, store, lambda: store.count("frames") >= per_burst * kills)
    acked = per_burst * kills - pub.unacked()
    stored = store.count("frames")
    pub.close()
    broker.stop()
    store.close()
    return acked, acked - stored


def _collect(settings: MqttSettings, store: Store, done: Callable[[], bool]) -> None:
    """Run a collector until ``done()`` or 30 s without it."""
    collector = MqttCollector(settings, store)
    stop = threading.Event()
    worker = threading.Thread(target=collector.run, args=(stop,), daemon=True)
    worker.start()
    if not collector.subscribed.wait(30):
        raise SystemExit("collector did not subscribe")
    wait_until(done, 30)
    stop.set()
    worker.join(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=6600)
    ap.add_argument("--kills", type=int, default=3)
    args = ap.parse_args()
    worst = 0
    for name, extra in SETTINGS.items():
        with tempfile.TemporaryDirectory(prefix="broker-crash-") as tmp:
            acked, lost = run(extra, args.messages, args.kills, Path(tmp))
        print(f"{name}: {lost} of {acked} acknowledged messages lost ({args.kills} SIGKILLs)")
        if not extra:
            worst = lost
    return 0 if worst <= 10 * args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
