"""Latency of live feedback: end of a repetition in the sensor data → its feedback message at
the app, through a real Mosquitto (issue 13: target p95 <= 0.3 s).

Run: ``python benchmarks/session_latency.py [--recordings 2] [--frame-samples 5]``

A simulated sensor publishes the accelerometer of sample_data exercise recordings in real time
(frames of ``--frame-samples`` samples at 50 Hz, each sent when its last sample was taken), the
session service counts live and publishes feedback, and a simulated app stamps each feedback
message on arrival. Latency = arrival − (wall time of the repetition's true end in the data).
It includes the frame accumulation, the broker hops and the counter's own delay.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.services: the brokers
from adherence.live_plans import CarePlanPlanner
from adherence.plan import load_plans  # noqa: E402
from benchmarks._cli import parser  # noqa: E402
from devices.frame import StreamKind  # noqa: E402
from devices.mqtt_wire import encode_imu_frame, encode_session_event, topic_for  # noqa: E402
from devices.recording import Recording, list_recordings, read_recording  # noqa: E402
from ingest.mqtt_settings import MqttSettings  # noqa: E402
from ingest.session_mqtt import SessionService, SessionServiceSettings  # noqa: E402
from ingest.store import Store  # noqa: E402
from tests.services import Mosquitto  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _device(rec: Recording, port: int, frame_samples: int, sid: str, w0: float) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{sid}", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", port)
    c.loop_start()
    st = topic_for("bench", "home", rec.subject, rec.device, "session")
    at = topic_for("bench", "home", rec.subject, rec.device, "accel")
    t0 = int(rec.t_ns[0])
    c.publish(st, encode_session_event(0, "start", t0, sid, rec.meta["exercise"]), qos=1)
    for f in rec.frames(frame_samples):
        if f.stream is not StreamKind.ACCEL or f.fs_hz is None:
            continue
        due = w0 + (f.end_ns - t0) / 1e9
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        c.publish(
            at, encode_imu_frame(StreamKind.ACCEL, f.seq, f.start_ns, f.fs_hz, f.values), qos=1
        )
    c.publish(
        st, encode_session_event(1, "stop", int(rec.t_ns[-1]), sid, rec.meta["exercise"]), qos=1
    )
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--recordings", type=int, default=2, help="concurrent sessions (patients)")
    ap.add_argument("--frame-samples", type=int, default=5, help="samples per MQTT frame")
    args = ap.parse_args()
    recs = [read_recording(p) for p in list_recordings(SAMPLE / "recordings")]
    by_device: dict[str, Recording] = {}
    for r in recs:  # one exercise recording per sensor, so the sessions run side by side
        if r.kind == "exercise" and sum(r.meta["truth"]["reps_per_set"]) >= 16:
            by_device.setdefault(r.device, r)
    chosen = list(by_device.values())[: args.recordings]
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mq")
        broker.start()
        store = Store(Path(tmp) / "s.sqlite")
        svc = SessionService(
            SessionServiceSettings(
                MqttSettings(broker=broker.url, prefix="bench", client_id="svc"), idle_timeout_s=30
            ),
            store,
            CarePlanPlanner(load_plans(SAMPLE / "care_plans.json")),
        )
        stop = threading.Event()
        th = threading.Thread(target=svc.run, args=(stop,), daemon=True)
        th.start()
        svc.subscribed.wait(10)
        arrivals: list[tuple[float, dict[str, object]]] = []
        app = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="app", protocol=mqtt.MQTTv5)
        app.on_message = lambda c, u, m: arrivals.append((time.time(), json.loads(m.payload)))
        app.connect("127.0.0.1", broker.port)
        app.subscribe("bench/+/+/+/feedback", qos=1)
        app.loop_start()
        time.sleep(0.5)
        w0 = time.time() + 0.5
        devs = [
            threading.Thread(target=_device, args=(r, broker.port, args.frame_samples, f"s{i}", w0))
            for i, r in enumerate(chosen)
        ]
        print(
            f"{len(chosen)} concurrent sessions, {args.frame_samples}-sample frames, real time"
            f" ({max((r.t_ns[-1] - r.t_ns[0]) / 1e9 for r in chosen):.0f} s)...",
            flush=True,
        )
        for d in devs:
            d.start()
        for d in devs:
            d.join()
        time.sleep(2)
        stop.set()
        th.join(10)
        app.disconnect()
        app.loop_stop()
        broker.stop()
        store.close()
    lat_all: list[float] = []
    lat_rest: list[float] = []
    lat_first: list[float] = []
    counter_only: list[float] = []
    for i, r in enumerate(chosen):
        t0 = int(r.t_ns[0])
        ends = np.array([b for _, b in r.meta["truth"]["rep_bounds_ns"]], dtype=np.int64)
        for wall, ev in arrivals:
            if ev["session_id"] != f"s{i}" or ev["event"] != "rep":
                continue
            end_ns = int(ev["t_ns"])  # type: ignore[call-overload]
            true_end = int(ends[np.argmin(np.abs(ends - end_ns))])
            lat = wall - (w0 + (true_end - t0) / 1e9)
            lat_all.append(lat)
            counter_only.append(wall - (w0 + (end_ns - t0) / 1e9))
            (lat_first if int(ev["rep_in_set"]) <= 2 else lat_rest).append(lat)  # type: ignore[call-overload]

    def fmt(xs: list[float]) -> str:
        if not xs:
            return "n/a"
        a = np.array(xs)
        return (
            f"n={a.size:3d}  median {np.median(a):6.3f} s  p95 {np.percentile(a, 95):6.3f} s"
            f"  max {a.max():6.3f} s"
        )

    print("latency, end of repetition (truth) -> feedback at the app")
    print(f"  all repetitions            {fmt(lat_all)}")
    print(f"  3rd and later of a set     {fmt(lat_rest)}")
    print(f"  1st and 2nd of a set       {fmt(lat_first)}")
    print(f"  from the counter's own end {fmt(counter_only)}")
    p95 = float(np.percentile(lat_all, 95)) if lat_all else float("inf")
    print(f"target p95 <= 0.3 s: {'MET' if p95 <= 0.3 else 'MISSED'} ({p95:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
