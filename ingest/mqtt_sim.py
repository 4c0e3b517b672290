"""Simulated devices publishing to an MQTT broker, in the wire format of ``docs/mqtt.md``.

Two sources: N synthetic patients (accelerometer frames at a chosen rate plus a pedometer total
once a second), or a replay of the recordings in ``sample_data/recordings``. Every connection
sets a retained ``online`` status and a last will (retained ``offline``) on its status topic;
with one connection per device that is the device's own status topic, with fewer connections
(gateways) it is ``<prefix>/<site>/gateway/gw-<k>/status``.

Each connection is a :class:`ingest.mqtt_device.DeviceClient`: it keeps every message until the
collector's receipt names it and resends the rest after a reconnect and after a timeout, so a
broker crash loses nothing (``docs/mqtt.md``, "Receipts").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from devices.mqtt_wire import (
    STREAM_CODES,
    encode_imu_frame,
    encode_json_samples,
    encode_session_event,
    encode_status,
    topic_for,
)
from devices.recording import Recording, list_recordings, read_meta, read_recording
from ingest.errors import CollectorError
from ingest.mqtt_device import DEFAULT_LIMIT, DeviceClient
from ingest.mqtt_settings import MqttSettings

ACCEL_SCALE_G = 2.0**-12
"""int16 scale used for simulated accelerometer frames: 1/4096 g per count (+-8 g range)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish: topic, payload, and the pacing time (s from the start)."""

    topic: str
    payload: bytes
    at_s: float
    device_index: int


def synthetic_messages(
    prefix: str,
    n_devices: int,
    fs_hz: float,
    samples_per_frame: int,
    n_frames: int,
    *,
    site: str = "sim",
    t0_ns: int | None = None,
    seed: int = 0,
) -> Iterator[Message]:
    """Messages of ``n_devices`` synthetic patients, frame round by frame round.

    Each device sends ``n_frames`` accelerometer frames (seq 0..n_frames-1) of
    ``samples_per_frame`` samples at ``fs_hz`` Hz (int16, 1/4096 g per count): gravity on z
    plus a 1.8 Hz walking oscillation and noise. Once per second of data each device also sends
    its running step total (1.8 steps/s) as JSON. ``at_s`` is the real-time publishing moment,
    in s after the start.
    """
    if n_devices < 1 or samples_per_frame < 1 or n_frames < 0 or fs_hz <= 0:
        raise ValueError("n_devices, samples_per_frame must be >= 1 and fs_hz > 0")
    rng = np.random.default_rng(seed)
    t0 = time.time_ns() if t0_ns is None else t0_ns
    frame_s = samples_per_frame / fs_hz
    phase = rng.uniform(0, 2 * np.pi, n_devices)
    subjects = [f"S{i:04d}" for i in range(n_devices)]
    ped_seq = [0] * n_devices
    next_ped_s = [1.0] * n_devices
    for r in range(n_frames):
        i0 = r * samples_per_frame
        t_s = (i0 + np.arange(samples_per_frame)) / fs_hz
        start_ns = t0 + round(i0 * 1e9 / fs_hz)
        for d in range(n_devices):
            walk = 0.3 * np.sin(2 * np.pi * 1.8 * t_s + phase[d])
            values = np.empty((samples_per_frame, 3))
            values[:, 0] = 0.1 * walk
            values[:, 1] = 0.05 * walk
            values[:, 2] = 1.0 + walk
            values += rng.normal(0, 0.01, values.shape)
            topic = topic_for(prefix, site, subjects[d], f"{subjects[d]}-imu", "accel")
            payload = encode_imu_frame("accel", r, start_ns, fs_hz, values, scale=ACCEL_SCALE_G)
            yield Message(topic, payload, r * frame_s, d)
            end_s = (r + 1) * frame_s
            if end_s >= next_ped_s[d]:
                t_ped = t0 + round(next_ped_s[d] * 1e9)
                body = encode_json_samples(ped_seq[d], [(t_ped, float(int(1.8 * next_ped_s[d])))])
                topic = topic_for(prefix, site, subjects[d], f"{subjects[d]}-ped", "step_total")
                yield Message(topic, body, r * frame_s, d)
                ped_seq[d] += 1
                next_ped_s[d] += 1.0


def recording_devices(directory: str | Path) -> list[tuple[str, str]]:
    """The distinct (subject, device) pairs of the recordings in ``directory``, sorted."""
    pairs = set()
    for p in list_recordings(directory):
        meta = read_meta(p)
        pairs.add((str(meta["subject"]), str(meta["device"])))
    return sorted(pairs)


def _session_event(
    prefix: str, site: str, rec: Recording, kind: str, seq: int, at_s: float, index: int
) -> Message:
    """A session ``start`` (at the first sample) or ``stop`` (at the last) of an exercise recording."""
    t_ns = int(rec.t_ns[0] if kind == "start" else rec.t_ns[-1])
    sid, ex = rec.meta.get("session_id"), rec.meta.get("exercise")
    if not isinstance(sid, str) or not isinstance(ex, str):
        raise CollectorError("recording", rec.name, "exercise recording needs session_id/exercise")
    plan_entry = rec.meta.get("plan_entry")
    payload = encode_session_event(
        seq, kind, t_ns, sid, ex, plan_entry if isinstance(plan_entry, str) else None
    )
    return Message(
        topic_for(prefix, site, rec.subject, rec.device, "session"), payload, at_s, index
    )


def recording_messages(
    prefix: str,
    directory: str | Path,
    *,
    samples_per_frame: int = 50,
    site: str = "sample",
    session_events: bool = True,
) -> Iterator[Message]:
    """Messages replaying every recording in ``directory``, one recording after another.

    IMU streams go as float32 binary frames, which carry one start time and a rate: irregular
    recordings (phones) are first put on their nominal-rate grid
    (:meth:`~devices.recording.Recording.regularised`), as a device would sample them.
    Pedometer totals go as JSON batches of ``samples_per_frame`` samples. ``at_s`` follows
    the recording's clock with pauses longer than 1 s cut to 1 s. ``device_index`` is the
    position of the recording's device in :func:`recording_devices`.

    With ``session_events`` (the default, as an app would) every exercise recording is framed
    by a session ``start`` before its first frame and a ``stop`` after its last one, on the
    sensor's ``session`` topic (``docs/mqtt.md``), timed at its first and last sample and
    carrying its ``session_id``, ``exercise`` and ``plan_entry``; and the apps' programme events
    kept beside the recordings (:func:`programme_messages`) follow the last recording. Without,
    the replay is a bare sensor that nobody started and no app.
    """
    devices = recording_devices(directory)
    offset_s = 0.0
    event_seq: dict[int, int] = {}
    for meta_path in list_recordings(directory):
        rec = read_recording(meta_path).regularised()
        index = devices.index((rec.subject, rec.device))
        framed = session_events and rec.kind == "exercise"
        if framed:
            event_seq[index] = event_seq.get(index, -1) + 1
            yield _session_event(prefix, site, rec, "start", event_seq[index], offset_s, index)
        at_s = offset_s
        for msg in _recording_frames(prefix, site, rec, samples_per_frame, offset_s, index):
            at_s = msg.at_s
            yield msg
        if framed:
            event_seq[index] += 1
            yield _session_event(prefix, site, rec, "stop", event_seq[index], at_s, index)
        offset_s = at_s
    if session_events:
        yield from programme_messages(prefix, Path(directory).parent / "programme", offset_s, site)


def programme_messages(
    prefix: str, folder: str | Path, at_s: float = 0.0, site: str = "sample"
) -> Iterator[Message]:
    """The patients' app events kept beside the recordings (``<subject>.programme.jsonl``, one
    ``programme`` payload per line, as the app published them; ``docs/mqtt.md``), on
    ``<prefix>/<site>/<subject>/app-1/programme``, all at ``at_s``. None when there are none."""
    files = sorted(Path(folder).glob("*.programme.jsonl")) if Path(folder).is_dir() else []
    for k, path in enumerate(files):
        subject = path.name.removesuffix(".programme.jsonl")
        topic = topic_for(prefix, site, subject, "app-1", "programme")
        for line in path.read_bytes().splitlines():
            if line.strip():
                yield Message(topic, line, at_s, k)


def _recording_frames(
    prefix: str, site: str, rec: Recording, samples_per_frame: int, offset_s: float, index: int
) -> Iterator[Message]:
    prev_ns: int | None = None
    at_s = offset_s
    for frame in rec.frames(samples_per_frame):
        if prev_ns is not None:
            at_s += min((frame.start_ns - prev_ns) / 1e9, 1.0)
        prev_ns = frame.start_ns
        topic = topic_for(prefix, site, rec.subject, rec.device, frame.stream.value)
        if frame.stream in STREAM_CODES and frame.fs_hz is not None:
            payload = encode_imu_frame(
                frame.stream, frame.seq, frame.start_ns, frame.fs_hz, frame.values
            )
        else:
            samples = list(zip(frame.t_ns.tolist(), frame.values[:, 0].tolist(), strict=True))
            payload = encode_json_samples(frame.seq, samples)
        yield Message(topic, payload, at_s, index)


log = logging.getLogger(__name__)


@dataclass
class SimResult:
    """What a simulation published: messages, samples (rows) and seconds taken; with receipts,
    messages refused by a full buffer (not published), resent, and still unconfirmed at the end
    (not confirmed within ``confirm_timeout_s``), and the receipts received."""

    messages: int
    samples: int
    elapsed_s: float
    refused: int = 0
    resent: int = 0
    unconfirmed: int = 0
    receipts: int = 0


@dataclass(frozen=True)
class Confirmation:
    """How the simulated devices use the collector's receipts.

    ``receipts`` False: the broker's PUBACK is the end (no buffer, no resends). ``limit``:
    messages kept unconfirmed per connection (when full, a new message is refused: not
    published, counted and logged). ``resend_after_s``: first resend wait, s (doubling per
    resend). ``timeout_s``: how long to wait for the last receipts at the end, s.
    """

    receipts: bool = True
    limit: int = DEFAULT_LIMIT
    resend_after_s: float = 30.0
    timeout_s: float = 60.0


def publish_messages(
    settings: MqttSettings,
    messages: Iterator[Message],
    status_topics: Sequence[str],
    *,
    speed: float = 1.0,
    connect_timeout_s: float = 30.0,
    max_inflight: int = 1000,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, float], None] | None = None,
    progress_every_s: float = 1.0,
    confirm: Confirmation | None = None,
) -> SimResult:
    """Publish ``messages`` with QoS 1 over ``len(status_topics)`` connections.

    Device ``i`` publishes through connection ``i % len(status_topics)``. ``speed`` multiplies
    real time (2.0 publishes twice as fast as the data was sampled); ``0`` publishes as fast
    as the broker takes it. ``on_progress(messages_sent, elapsed_s)`` is called at most every
    ``progress_every_s`` seconds, and once at the end. With receipts (``confirm``, default
    :class:`Confirmation`) returns once the collector confirmed every message or
    ``confirm.timeout_s`` passed (``SimResult.unconfirmed`` says how many were not);
    without, once the broker acknowledged every message.
    """
    cf = confirm or Confirmation()
    conns = [
        DeviceClient(
            settings,
            f"{settings.client_id}-pub{k}",
            topic,
            receipts=cf.receipts,
            limit=cf.limit,
            resend_after_s=cf.resend_after_s,
            max_inflight=max_inflight,
        )
        for k, topic in enumerate(status_topics)
    ]
    try:
        for c, status_topic in zip(conns, status_topics, strict=True):
            if not c.connected.wait(connect_timeout_s):
                raise CollectorError("broker", settings.broker, "simulator could not connect")
            c.publish(status_topic, encode_status("online", c.t_connect_ns), retain=True)
        start = time.monotonic()
        n, samples = _publish_all(conns, messages, speed, stop, on_progress, progress_every_s)
        elapsed = time.monotonic() - start
        _wait_confirmed(conns, cf.timeout_s)
    finally:
        for c in conns:
            c.close(connect_timeout_s)
    result = SimResult(
        n,
        samples,
        elapsed,
        refused=sum(c.buffer.refused for c in conns),
        resent=sum(c.buffer.resent for c in conns),
        unconfirmed=sum(len(c.buffer) for c in conns),
        receipts=sum(c.stats.receipts for c in conns),
    )
    if result.unconfirmed:
        log.warning("%d messages not confirmed by a collector receipt", result.unconfirmed)
    return result


def _wait_confirmed(conns: Sequence[DeviceClient], timeout_s: float) -> None:
    """Tick every connection (receipts, resends) until all are confirmed or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        for c in conns:
            c.tick()
        if all(len(c.buffer) == 0 for c in conns) or time.monotonic() >= deadline:
            return
        time.sleep(0.05)


def _publish_all(
    conns: Sequence[DeviceClient],
    messages: Iterator[Message],
    speed: float,
    stop: threading.Event | None,
    on_progress: Callable[[int, float], None] | None,
    progress_every_s: float,
) -> tuple[int, int]:
    """Publish ``messages`` paced by ``speed``; return (messages published, samples)."""
    start = last = time.monotonic()
    n = samples = 0
    for m in messages:
        if stop is not None and stop.is_set():
            break
        if speed > 0:
            delay = start + m.at_s / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if conns[m.device_index % len(conns)].publish(m.topic, m.payload):
            n += 1
            samples += _sample_count(m)
        if on_progress is not None and time.monotonic() - last >= progress_every_s:
            last = time.monotonic()
            on_progress(n, last - start)
    if on_progress is not None:
        on_progress(n, time.monotonic() - start)
    return n, samples


def _sample_count(m: Message) -> int:
    if m.payload[:2] == b"AP" and len(m.payload) >= 8:
        return int.from_bytes(m.payload[6:8], "little")
    return 1


def device_status_topics(prefix: str, n_devices: int, site: str = "sim") -> list[str]:
    """Status topics of the synthetic devices (one connection per device)."""
    return [
        topic_for(prefix, site, f"S{i:04d}", f"S{i:04d}-imu", "status") for i in range(n_devices)
    ]


def gateway_status_topics(prefix: str, n_connections: int, site: str = "sim") -> list[str]:
    """Status topics of ``n_connections`` gateways."""
    return [topic_for(prefix, site, "gateway", f"gw-{k}", "status") for k in range(n_connections)]


def recording_status_topics(prefix: str, directory: str | Path, site: str = "sample") -> list[str]:
    """One status topic per recorded device, in the order of :func:`recording_devices`."""
    return [
        topic_for(prefix, site, subject, device, "status")
        for subject, device in recording_devices(directory)
    ]
