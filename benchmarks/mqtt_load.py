"""Load benchmark: simulated devices into one MQTT collector process and the store.

Starts a private Mosquitto, runs the collector in this process (one collector process, store
on local disk, one fsync per batch) and the simulator (``adherence simulate mqtt``) in another
process on the same machine, then checks that every frame arrived exactly once and prints the
sustained rates. Target: >= 50,000 samples/s per collector process.

    python benchmarks/mqtt_load.py                      # 200 devices at 50 Hz, as fast as possible
    python benchmarks/mqtt_load.py --speed 1            # real time (10,000 samples/s offered)
    python benchmarks/mqtt_load.py --no-receipts        # broker PUBACK only, for comparison
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import add_simulation, parser  # noqa: E402
from ingest.mqtt import MqttCollector  # noqa: E402
from ingest.mqtt_settings import MqttSettings  # noqa: E402
from ingest.store import Store  # noqa: E402
from tests.mqtt_helpers import start_simulator  # noqa: E402
from tests.services import Mosquitto  # noqa: E402

TARGET_SAMPLES_PER_S = 50_000


def main() -> int:
    ap = parser(__doc__)
    add_simulation(ap, seconds=60.0, speed=0.0)
    ap.add_argument("--rate", type=float, default=50.0, help="Hz per device")
    ap.add_argument("--frame-samples", type=int, default=50, help="samples per MQTT frame")
    ap.add_argument("--connections", type=int, default=4, help="publisher connections")
    ap.add_argument(
        "--no-receipts", dest="receipts", action="store_false", help="collector sends no receipts"
    )
    args = ap.parse_args()

    n_frames = max(1, round(args.seconds * args.rate / args.frame_samples))
    n_ped = int(n_frames * args.frame_samples / args.rate)  # one step total per second of data
    expected_frames = args.devices * (n_frames + n_ped)
    expected_samples = args.devices * (n_frames * args.frame_samples + n_ped)

    with tempfile.TemporaryDirectory(prefix="mqtt-load-") as tmp:
        broker = Mosquitto(Path(tmp) / "broker", extra_conf="user root\n")
        broker.start()
        store = Store(Path(tmp) / "store.sqlite")
        collector = MqttCollector(
            MqttSettings(broker=broker.url, client_id="load-collector", receipts=args.receipts),
            store,
        )
        stop = threading.Event()
        worker = threading.Thread(target=collector.run, args=(stop,), daemon=True)
        worker.start()
        if not collector.subscribed.wait(30):
            raise SystemExit("collector did not subscribe")
        sim = start_simulator(
            broker.url,
            *("--devices", str(args.devices), "--rate", str(args.rate)),
            *("--frame-samples", str(args.frame_samples), "--duration", str(args.seconds)),
            *("--speed", str(args.speed), "--connections", str(args.connections)),
            *([] if args.receipts else ["--no-receipts"]),
            stderr=None,
        )
        t_first: float | None = None
        peak_backlog = 0
        deadline = time.monotonic() + 600
        while collector.stats.frames < expected_frames and time.monotonic() < deadline:
            if t_first is None and collector.stats.messages:
                t_first = time.monotonic()
            peak_backlog = max(peak_backlog, collector._q.qsize())
            time.sleep(0.005)
        t_last = time.monotonic()
        out, _ = sim.communicate(timeout=120)
        stop.set()
        worker.join(30)
        stats = collector.stats
        store.close()
        raw = sqlite3.connect(store.path)  # counted independently of the store's own reads
        per_device = raw.execute(
            "SELECT device, COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM frames"
            " WHERE stream='accel' GROUP BY device"
        ).fetchall()
        stored_samples = raw.execute("SELECT COALESCE(SUM(n), 0) FROM frames").fetchone()[0]
        raw.close()
        broker.stop()

    complete = len(per_device) == args.devices and all(
        c == d == n_frames and lo == 0 and hi == n_frames - 1 for _, c, d, lo, hi in per_device
    )
    elapsed = max((t_last - (t_first or t_last)), 1e-9)
    samples_s = stats.samples / elapsed
    print(f"simulator: {out.strip()}")
    print(
        f"devices {args.devices} x {args.rate:g} Hz, {args.frame_samples} samples/frame, "
        f"{args.seconds:g} s of data, speed {'max' if args.speed == 0 else f'{args.speed:g}x'}"
    )
    print(
        f"collected {stats.messages} messages, {stats.frames} frames, {stored_samples} samples "
        f"in {elapsed:.2f} s (expected {expected_frames} frames, {expected_samples} samples)"
    )
    print(f"duplicates {stats.duplicates}, dead letters {stats.dead_letters}, gaps {stats.gaps}")
    print(f"every accel seq stored exactly once: {complete}; peak backlog {peak_backlog} messages")
    print(f"sustained: {samples_s:,.0f} samples/s, {stats.messages / elapsed:,.0f} messages/s")
    ok = complete and stored_samples == expected_samples and samples_s >= TARGET_SAMPLES_PER_S
    print(
        f"target >= {TARGET_SAMPLES_PER_S:,} samples/s with zero loss: {'MET' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
