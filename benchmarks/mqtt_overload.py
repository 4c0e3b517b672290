"""Overload benchmark: the collector's memory (RSS) while a publisher floods it for 60 s.

Starts a private Mosquitto (shipped configuration), runs the collector in this process and a
publisher in another process that sends QoS 0 step totals as fast as it can (QoS 0 is not held
back by Receive Maximum). Prints the collector's RSS, queue length and stored frames every 5 s.
Target: RSS flat once warm (its peak in the second half of the run at most 10% above its peak
in the first half; SQLite's page cache and the heap fill during the first seconds) and the queue
never above ``--queue-max``. ``--batch-max 1`` (one fsync per message) makes the consumer far
slower than the publisher, so the bound is reached.

    python benchmarks/mqtt_overload.py                      # 60 s, queue bound 2000 (default)
    python benchmarks/mqtt_overload.py --queue-max 10000000 # about the old, unbounded queue
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import parser  # noqa: E402
from ingest.mqtt import MqttCollector  # noqa: E402
from ingest.mqtt_settings import MqttSettings  # noqa: E402
from ingest.store import Store  # noqa: E402
from tests.services import Mosquitto  # noqa: E402

FLOOD = """
import sys, paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood", protocol=mqtt.MQTTv5)
c.connect("127.0.0.1", int(sys.argv[1])); c.loop_start()
seq = 0
while True:
    body = b'{"v":1,"seq":%d,"samples":[[%d,1.0]]}' % (seq % 2**32, 1794304800000000000 + seq)
    c.publish("adh/site1/P001/fast/step_total", body, qos=0)
    seq += 1
"""


def rss_mb() -> float:
    """Resident set size of this process, MB (from /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the overload, s")
    ap.add_argument("--queue-max", type=int, default=2000, help="collector queue bound, messages")
    ap.add_argument("--batch-max", type=int, default=1000, help="messages per commit")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mqtt-overload-") as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        store = Store(Path(tmp) / "store.sqlite")
        settings = MqttSettings(
            broker=broker.url,
            client_id="overload-collector",
            queue_max=args.queue_max,
            batch_max=args.batch_max,
        )
        collector = MqttCollector(settings, store)
        stop = threading.Event()
        worker = threading.Thread(target=collector.run, args=(stop,), daemon=True)
        worker.start()
        if not collector.subscribed.wait(30):
            raise SystemExit("collector did not subscribe")
        flood = subprocess.Popen([sys.executable, "-c", FLOOD, str(broker.port)])
        t0 = time.monotonic()
        samples: list[tuple[float, float]] = []
        try:
            while (elapsed := time.monotonic() - t0) < args.seconds:
                time.sleep(5)
                rss = rss_mb()
                samples.append((elapsed + 5, rss))
                print(
                    f"t={elapsed + 5:5.1f} s  rss={rss:7.1f} MB  queue={collector._q.qsize():7d}"
                    f"  peak={collector.stats.queue_peak:7d}  stored={collector.stats.frames:8d}",
                    flush=True,
                )
        finally:
            flood.kill()
            flood.wait()
            stop.set()
            worker.join(60)
            broker.stop()
            store.close()
        half = args.seconds / 2
        early = max(r for t, r in samples if t <= half)
        late = max(r for t, r in samples if t > half)
        growth = 100 * (late - early) / early
        print(
            f"RSS {samples[0][1]:.1f} MB at 5 s, peak {early:.1f} MB in the first half, "
            f"{late:.1f} MB in the second ({growth:+.1f}%); "
            f"queue peak {collector.stats.queue_peak} (bound {args.queue_max}); "
            f"{collector.stats.frames} frames stored"
        )
        return 0 if growth <= 10 and collector.stats.queue_peak <= args.queue_max else 1


if __name__ == "__main__":
    sys.exit(main())
