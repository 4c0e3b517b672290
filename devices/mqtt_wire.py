"""The MQTT wire format: topics, binary IMU frames and JSON payloads (pure, no paho).

Layout and worked examples are in ``docs/mqtt.md``; this module is the reference implementation.

Topic: ``<prefix>/<site>/<subject>/<device>/<stream>`` where ``<prefix>`` may have several levels
and ``<stream>`` is one of :data:`BINARY_STREAMS` (binary IMU frames), :data:`JSON_STREAMS`
(batched JSON samples), ``session`` (session start/stop events) or ``status`` (retained
online/offline status, also the last will). Outbound (to the device or app): ``feedback`` (the
live-session service) and ``receipt`` (the collector: what it has committed, :class:`Receipt`).

Binary IMU frame, little-endian, 28-byte header then samples (sample-major, x y z per sample):

======  ====  =========  =============================================================
offset  size  type       field
======  ====  =========  =============================================================
0       2     bytes      magic ``b"AP"`` (0x41 0x50)
2       1     u8         version (1)
3       1     u8         stream code (1 accel g, 2 gyro deg/s, 3 mag uT, 4 orientation deg)
4       1     u8         sample type (1 int16 times ``scale``, 2 float32)
5       1     u8         channels (3)
6       2     u16        sample count N (>= 1)
8       4     u32        sequence number of the frame
12      8     u64        device time of the first sample, ns since 1970-01-01 UTC
20      4     f32        sample rate, Hz
24      4     f32        scale: units per int16 count (must be 1.0 for float32)
28      ...   i16/f32    N x channels samples
======  ====  =========  =============================================================

Sample ``i`` is at ``t0 + round(i * 1e9 / fs_hz)`` ns.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from devices import schemas
from devices.errors import AdherenceError, DecodeError
from devices.frame import ID_PATTERN, Frame, StreamKind, make_frame

MAGIC = b"AP"
VERSION = 1
JSON_VERSION = 1
HEADER = struct.Struct("<2sBBBBHIQff")
HEADER_SIZE = HEADER.size  # 28
DTYPE_INT16 = 1
DTYPE_FLOAT32 = 2
_DTYPES: dict[int, np.dtype[Any]] = {DTYPE_INT16: np.dtype("<i2"), DTYPE_FLOAT32: np.dtype("<f4")}

STREAM_CODES: dict[StreamKind, int] = {
    StreamKind.ACCEL: 1,
    StreamKind.GYRO: 2,
    StreamKind.MAG: 3,
    StreamKind.ORIENTATION: 4,
}
"""Binary stream codes (byte 3 of the header)."""
_CODE_STREAMS = {v: k for k, v in STREAM_CODES.items()}

BINARY_STREAMS = frozenset(s.value for s in STREAM_CODES)
"""Topic stream names carried as binary IMU frames."""
JSON_STREAMS = frozenset(
    {StreamKind.HEART_RATE.value, StreamKind.STEP_TOTAL.value, StreamKind.SYMPTOM.value}
)
"""Topic stream names carried as batched JSON samples ``[[t_ns, value], ...]``."""
SESSION_STREAM = "session"
STATUS_STREAM = "status"
FEEDBACK_STREAM = "feedback"
PROGRAMME_STREAM = "programme"
"""Programme events from the patient's app (education, CBT, mindfulness, coaching, pain, PEG):
decoded by :mod:`devices.programme`."""
"""Published by the live-session service to the app; the collector acknowledges and skips it."""
RECEIPT_STREAM = "receipt"
"""Published by the collector to the device after its store commit (:class:`Receipt`)."""
SESSION_EVENTS = frozenset({"start", "stop"})
STATUS_STATES = frozenset({"online", "offline"})
MAX_JSON_SAMPLES = 10_000
MAX_T_NS = 2**63 - 1
"""Largest time a frame may carry, UTC ns (int64, as stored)."""
MAX_SEQ = 2**32 - 1
"""Largest sequence number (u32, as in the binary header) of any message."""
_NON_NEGATIVE_STREAMS = frozenset({StreamKind.HEART_RATE.value, StreamKind.STEP_TOTAL.value})
_EXERCISE_PATTERN = ID_PATTERN


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A parsed topic ``<prefix>/<site>/<subject>/<device>/<stream>``."""

    prefix: str
    site: str
    subject: str
    device: str
    stream: str


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A non-sample message: session start/stop, or a device status change.

    Attributes
    ----------
    kind:
        ``"session_start"``, ``"session_stop"`` or ``"status"``.
    t_ns:
        When it happened, UTC ns (device clock).
    seq:
        Sequence number of the carrying message; for status messages 0 (online) or 1 (offline),
        so that a will with the same ``t_ns`` as its online status sorts after it.
    session_id, exercise:
        For session events: the app's session id and the exercise-library id (and, in
        ``detail["plan_entry"]``, the care plan's session id when the app sent one).
    detail:
        Small JSON-serialisable dict (for status: ``{"state": "online"}``).
    """

    site: str
    subject: str
    device: str
    kind: str
    t_ns: int
    seq: int
    session_id: str | None = None
    exercise: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one MQTT message carried: sample frames and/or events."""

    frames: tuple[Frame, ...] = ()
    events: tuple[DeviceEvent, ...] = ()


def topic_for(prefix: str, site: str, subject: str, device: str, stream: str) -> str:
    """Build a topic string (ids are checked against :data:`devices.frame.ID_PATTERN`)."""
    for name, value in (("site", site), ("subject", subject), ("device", device)):
        if not ID_PATTERN.match(value):
            raise DecodeError("topic", -1, f"{name} {value!r} is not a valid id")
    return f"{prefix}/{site}/{subject}/{device}/{stream}"


def parse_topic(prefix: str, topic: str) -> TopicParts:
    """Split ``topic`` below ``prefix`` into its parts; raise DecodeError naming the bad level."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        raise DecodeError("topic", -1, f"topic {topic!r} is not under prefix {prefix!r}")
    levels = topic[len(head) :].split("/")
    if len(levels) != 4:
        raise DecodeError(
            "topic", -1, f"topic {topic!r} needs 4 levels after the prefix, got {len(levels)}"
        )
    site, subject, device, stream = levels
    for name, value in (("site", site), ("subject", subject), ("device", device)):
        if not ID_PATTERN.match(value):
            raise DecodeError("topic", -1, f"{name} {value!r} is not a valid id")
    known = BINARY_STREAMS | JSON_STREAMS | {SESSION_STREAM, STATUS_STREAM, FEEDBACK_STREAM}
    known |= {PROGRAMME_STREAM, RECEIPT_STREAM}
    if stream not in known:
        raise DecodeError("topic", -1, f"unknown stream {stream!r}; known: {sorted(known)}")
    return TopicParts(prefix.rstrip("/"), site, subject, device, stream)


# -- binary IMU frames ------------------------------------------------------------------------
def sample_times_ns(t0_ns: int, fs_hz: float, n: int) -> npt.NDArray[np.int64]:
    """Per-sample UTC ns times rebuilt from the first sample time and the rate (Hz)."""
    step = 1e9 / fs_hz
    return np.int64(t0_ns) + np.round(np.arange(n, dtype=np.float64) * step).astype(np.int64)


def encode_imu_frame(
    stream: StreamKind | str,
    seq: int,
    t0_ns: int,
    fs_hz: float,
    values: npt.ArrayLike,
    *,
    scale: float | None = None,
) -> bytes:
    """Encode an (N, 3) block of IMU samples as a binary frame.

    Parameters
    ----------
    stream:
        accel (g), gyro (deg/s), mag (uT) or orientation (deg).
    seq:
        Frame sequence number, 0 .. 2**32-1.
    t0_ns:
        Device time of the first sample, UTC ns.
    fs_hz:
        Sample rate, Hz.
    values:
        (N, 3) samples in the stream's units, 1 <= N <= 65535.
    scale:
        Units per int16 count; samples are sent as int16 (rounded, clipped). ``None`` sends
        float32.
    """
    kind = StreamKind(stream)
    if kind not in STREAM_CODES:
        raise ValueError(f"{kind} is not a binary stream")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or not 1 <= v.shape[0] <= 0xFFFF:
        raise ValueError(f"values must have shape (N, 3) with 1 <= N <= 65535, got {v.shape}")
    if scale is None:
        dtype, body, sc = DTYPE_FLOAT32, v.astype("<f4").tobytes(), 1.0
    else:
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale must be positive, got {scale}")
        counts = np.clip(np.round(v / scale), -32768, 32767).astype("<i2")
        dtype, body, sc = DTYPE_INT16, counts.tobytes(), scale
    header = HEADER.pack(
        MAGIC, VERSION, STREAM_CODES[kind], dtype, 3, v.shape[0], seq, t0_ns, fs_hz, sc
    )
    return header + body


def _check_header(dev: str, parts: TopicParts, header: tuple[Any, ...]) -> StreamKind:
    """Validate the unpacked 28-byte header; return the stream kind (DecodeError at the offset)."""
    magic, version, code, dtype_code, channels, n, _seq, t0, fs, scale = header
    kind = _CODE_STREAMS.get(code)
    checks: tuple[tuple[bool, int, str], ...] = (
        (magic != MAGIC, 0, f"bad magic {magic!r}, expected {MAGIC!r}"),
        (version != VERSION, 2, f"unsupported frame version {version}, expected {VERSION}"),
        (kind is None, 3, f"unknown stream code {code}"),
        (
            kind is not None and kind.value != parts.stream,
            3,
            f"frame holds {kind.value if kind else code} but the topic says {parts.stream}",
        ),
        (dtype_code not in _DTYPES, 4, f"unknown sample type {dtype_code}"),
        (channels != 3, 5, f"{parts.stream} needs 3 channels, got {channels}"),
        (n == 0, 6, "sample count is 0"),
        (t0 > MAX_T_NS, 12, f"first sample time {t0} ns is beyond int64 ({MAX_T_NS})"),
        (not (math.isfinite(fs) and fs > 0), 20, f"sample rate must be positive, got {fs}"),
        (
            dtype_code == DTYPE_FLOAT32 and scale != 1.0,
            24,
            f"scale must be 1.0 for float32 samples, got {scale}",
        ),
        (not (math.isfinite(scale) and scale > 0), 24, f"scale must be positive, got {scale}"),
    )
    for bad, offset, why in checks:
        if bad:
            raise DecodeError(dev, offset, why)
    if t0 + (n - 1) * 1e9 / fs > MAX_T_NS:
        raise DecodeError(dev, 20, f"last sample time is beyond int64 ({n} samples at {fs} Hz)")
    assert kind is not None
    return kind


def decode_imu_frame(parts: TopicParts, payload: bytes, host_t_ns: int) -> Frame:
    """Decode a binary IMU frame published on ``parts``; raise DecodeError with the byte offset.

    Times are UTC ns (int64: a first sample time of 2**63 ns or later is refused), values in
    the stream's units (g, deg/s, uT or deg).
    """
    dev = parts.device
    if len(payload) < HEADER_SIZE:
        raise DecodeError(
            dev, len(payload), f"truncated header: {len(payload)} of {HEADER_SIZE} bytes"
        )
    header = HEADER.unpack_from(payload)
    kind = _check_header(dev, parts, header)
    _, _, _, dtype_code, channels, n, seq, t0, fs, scale = header
    dt = _DTYPES[dtype_code]
    expected = HEADER_SIZE + n * channels * dt.itemsize
    if len(payload) < expected:
        raise DecodeError(
            dev, len(payload), f"truncated samples: {len(payload)} of {expected} bytes"
        )
    if len(payload) > expected:
        raise DecodeError(dev, expected, f"{len(payload) - expected} trailing bytes")
    raw = np.frombuffer(payload, dtype=dt, count=n * channels, offset=HEADER_SIZE)
    values = raw.reshape(n, channels).astype(np.float64)
    if dtype_code == DTYPE_INT16:
        values *= float(scale)
    t_ns = sample_times_ns(t0, float(fs), n)
    try:
        return make_frame(
            parts.subject,
            dev,
            kind,
            t_ns,
            values,
            fs_hz=float(fs),
            seq=seq,
            device_t_ns=t_ns,
            meta={"rx_ns": int(host_t_ns), "site": parts.site},
        )
    except AdherenceError as exc:
        raise DecodeError(dev, HEADER_SIZE, f"invalid frame: {exc.why}") from exc


# -- JSON payloads ----------------------------------------------------------------------------
def load_json_object(dev: str, payload: bytes) -> dict[str, Any]:
    """Parse a JSON payload that must be an object (UTF-8); DecodeError with the reason and the
    byte offset otherwise. Shared by every JSON stream's decoder."""
    try:
        obj = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DecodeError(dev, exc.start, "payload is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise DecodeError(dev, exc.pos, f"invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise DecodeError(dev, -1, "JSON nested too deeply") from exc
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        raise DecodeError(dev, -1, f"invalid JSON number: {exc}") from exc
    if not isinstance(obj, dict):
        raise DecodeError(dev, 0, "JSON payload must be an object")
    return obj


def _load_json(dev: str, payload: bytes) -> dict[str, Any]:
    """:func:`load_json_object` with its version checked."""
    obj = load_json_object(dev, payload)
    version = obj.get("v")
    if isinstance(version, bool) or version != JSON_VERSION:
        raise DecodeError(dev, -1, f"'v' must be {JSON_VERSION}, got {_short(version)}")
    return obj


def _short(value: Any) -> str:
    """``repr`` cut to 80 characters (a 400-digit number must not fill a log line)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _utc_ns(dev: str, obj: dict[str, Any], label: str) -> int:
    """``obj["t_ns"]``: an integer UTC ns time in 2000-2100, or a DecodeError naming ``label``."""
    t = obj.get("t_ns")
    if isinstance(t, bool) or not isinstance(t, int) or not (9.46e17 <= t <= 4.1e18):
        raise DecodeError(dev, -1, f"{label} must be UTC ns in 2000-2100, got {_short(t)}")
    return t


def _int_field(dev: str, obj: dict[str, Any], name: str, lo: int = 0, hi: int = MAX_SEQ) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        why = f"'{name}' must be an integer in {lo}..{hi}, got {_short(value)}"
        raise DecodeError(dev, -1, why)
    return value


def _sample_ok(s: Any) -> bool:
    """True for ``[t_ns, value]``: t_ns an int64 >= 0, value a finite number (int64 range)."""
    if not (isinstance(s, list) and len(s) == 2):
        return False
    t, v = s
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= MAX_T_NS:
        return False
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    if isinstance(v, int):
        return -MAX_T_NS <= v <= MAX_T_NS
    return math.isfinite(v)


def _check_range(dev: str, stream: str, v: list[float]) -> None:
    """Refuse values no sensor can send: pain outside 0-10, negative heart rate or step total."""
    if stream == StreamKind.SYMPTOM.value:
        bad = [x for x in v if not (0 <= x <= 10)]
        if bad:
            raise DecodeError(dev, -1, f"symptom (pain) scores must be 0-10, got {bad[0]}")
    elif stream in _NON_NEGATIVE_STREAMS:
        bad = [x for x in v if x < 0]
        if bad:
            raise DecodeError(dev, -1, f"{stream} values must be >= 0, got {bad[0]}")


def _decode_samples(parts: TopicParts, obj: dict[str, Any], host_t_ns: int) -> Frame:
    dev = parts.device
    seq = _int_field(dev, obj, "seq")
    samples = obj.get("samples")
    if not isinstance(samples, list) or not samples:
        raise DecodeError(dev, -1, "'samples' must be a non-empty list of [t_ns, value]")
    if len(samples) > MAX_JSON_SAMPLES:
        raise DecodeError(dev, -1, f"{len(samples)} samples exceeds {MAX_JSON_SAMPLES}")
    for i, s in enumerate(samples):
        if not _sample_ok(s):
            raise DecodeError(
                dev, -1, f"samples[{i}] must be [t_ns integer, number], got {_short(s)}"
            )
    t = [s[0] for s in samples]
    v = [float(s[1]) for s in samples]
    _check_range(dev, parts.stream, v)
    try:
        return make_frame(
            parts.subject,
            dev,
            parts.stream,
            np.array(t, dtype=np.int64),
            np.array(v, dtype=np.float64),
            fs_hz=None,
            seq=seq,
            meta={"rx_ns": int(host_t_ns), "site": parts.site},
        )
    except AdherenceError as exc:
        raise DecodeError(dev, -1, f"invalid samples: {exc}") from exc


def _id_or_none(dev: str, e: dict[str, Any], where: str, name: str) -> str | None:
    val = e.get(name)
    if val is not None and (not isinstance(val, str) or not _EXERCISE_PATTERN.match(val)):
        raise DecodeError(dev, -1, f"{where}.{name} must be an id, got {_short(val)}")
    return val


def _check_identity(parts: TopicParts, e: dict[str, Any], where: str) -> None:
    """An event naming a subject or device must name the topic's own (no writing for others)."""
    for name, own in (("subject", parts.subject), ("device", parts.device)):
        claimed = _id_or_none(parts.device, e, where, name)
        if claimed is not None and claimed != own:
            why = f"{where}.{name} {claimed!r} does not match the topic's {name} {own!r}"
            raise DecodeError(parts.device, -1, why)


def _decode_event(parts: TopicParts, e: Any, i: int, seq: int) -> DeviceEvent:
    dev, where = parts.device, f"events[{i}]"
    if not isinstance(e, dict):
        raise DecodeError(dev, -1, f"{where} must be an object")
    kind = e.get("event")
    if kind not in SESSION_EVENTS:
        raise DecodeError(dev, -1, f"{where}.event must be start or stop, got {_short(kind)}")
    t = _utc_ns(dev, e, f"{where}.t_ns")
    _check_identity(parts, e, where)
    sid = _id_or_none(dev, e, where, "session_id")
    ex = _id_or_none(dev, e, where, "exercise")
    if sid is None or (kind == "start" and ex is None):
        missing = "session_id" if sid is None else "exercise"
        raise DecodeError(dev, -1, f"{where}.{missing} must be an id, got None")
    detail: dict[str, Any] = {}
    plan_entry = _id_or_none(dev, e, where, "plan_entry")
    if plan_entry is not None:
        detail["plan_entry"] = plan_entry
    detail.update(_session_pain(dev, i, e))
    return DeviceEvent(parts.site, parts.subject, dev, f"session_{kind}", t, seq, sid, ex, detail)


def _decode_session(parts: TopicParts, obj: dict[str, Any]) -> tuple[DeviceEvent, ...]:
    """Session events: ``start`` needs session_id and exercise, ``stop`` only session_id."""
    seq = _int_field(parts.device, obj, "seq")
    events = obj.get("events")
    if not isinstance(events, list) or not events:
        raise DecodeError(parts.device, -1, "'events' must be a non-empty list")
    return tuple(_decode_event(parts, e, i, seq) for i, e in enumerate(events))


def _decode_status(parts: TopicParts, obj: dict[str, Any]) -> DeviceEvent:
    dev = parts.device
    state = obj.get("state")
    if state not in STATUS_STATES:
        raise DecodeError(dev, -1, f"'state' must be online or offline, got {_short(state)}")
    t = _utc_ns(dev, obj, "'t_ns'")
    detail = {"state": state}
    if isinstance(obj.get("fw"), str):
        detail["fw"] = obj["fw"][:32]
    rank = 0 if state == "online" else 1  # an online status and its will share one t_ns
    return DeviceEvent(parts.site, parts.subject, dev, "status", t, rank, None, None, detail)


def decode_payload(parts: TopicParts, payload: bytes, host_t_ns: int) -> Decoded:
    """Decode one message's payload published on the topic ``parts``.

    Parameters
    ----------
    parts:
        The parsed topic (see :func:`parse_topic`); its stream decides the payload format.
    payload:
        The raw bytes.
    host_t_ns:
        Host receive time, UTC ns (kept in each frame's ``meta["rx_ns"]``).

    Raises
    ------
    DecodeError
        With the device id, the byte offset (``-1`` for JSON field errors) and the reason.
    """
    if parts.stream in BINARY_STREAMS:
        return Decoded(frames=(decode_imu_frame(parts, payload, host_t_ns),))
    if parts.stream in (FEEDBACK_STREAM, RECEIPT_STREAM):
        return Decoded()  # outbound (server to app or device): nothing to store
    obj = _load_json(parts.device, payload)
    if parts.stream in JSON_STREAMS:
        decoded = Decoded(frames=(_decode_samples(parts, obj, host_t_ns),))
    elif parts.stream == SESSION_STREAM:
        decoded = Decoded(events=_decode_session(parts, obj))
    elif parts.stream == PROGRAMME_STREAM:
        from devices.programme import programme_device_events  # it builds on this module

        decoded = Decoded(events=programme_device_events(parts, obj))
    else:
        decoded = Decoded(events=(_decode_status(parts, obj),))
    _check_schema(parts, obj)
    return decoded


def _session_pain(dev: str, i: int, event: dict[str, Any]) -> dict[str, Any]:
    """``pain_before`` (on start) / ``pain_after`` (on stop), NRS 0-10, for the event's detail."""
    from devices.programme import decode_session_pain  # it builds on this module

    out: dict[str, Any] = decode_session_pain(dev, i, event)
    return out


def _check_schema(parts: TopicParts, obj: dict[str, Any]) -> None:
    """Hold a decoded JSON payload to its published schema (``devices/schemas``).

    Runs after the decoder, whose messages are the more precise; the schema then refuses what the
    decoder would let through, so the published contract is what the collector accepts.
    """
    if parts.stream in JSON_STREAMS:
        name, stream = "mqtt-samples-1", parts.stream
    elif parts.stream == SESSION_STREAM:
        name, stream = "mqtt-session-1", None
    elif parts.stream == PROGRAMME_STREAM:
        name, stream = "mqtt-programme-1", None
    else:
        name, stream = "mqtt-status-1", None
    problem = schemas.first_error(name, obj, stream=stream)
    if problem is not None:
        raise DecodeError(parts.device, -1, f"does not match schema {name}: {problem}")


def encode_json_samples(seq: int, samples: list[tuple[int, float]]) -> bytes:
    """Encode a batch of (t_ns UTC ns, value) samples for a JSON stream."""
    return json.dumps(
        {"v": JSON_VERSION, "seq": seq, "samples": [[int(t), v] for t, v in samples]},
        separators=(",", ":"),
    ).encode()


def encode_session_event(
    seq: int,
    event: str,
    t_ns: int,
    session_id: str,
    exercise: str | None,
    plan_entry: str | None = None,
    *,
    subject: str | None = None,
    device: str | None = None,
) -> bytes:
    """Encode one session start/stop event (``event`` is ``"start"`` or ``"stop"``; t in UTC ns).

    ``exercise`` is needed for ``start`` only; ``plan_entry`` is the care plan's session id, when
    the app knows it. ``subject``/``device`` state the sender's identity, which must match the
    topic's (the service refuses an event naming another patient or sensor).
    """
    body: dict[str, Any] = {"event": event, "t_ns": int(t_ns), "session_id": session_id}
    for name, value in (
        ("exercise", exercise),
        ("plan_entry", plan_entry),
        ("subject", subject),
        ("device", device),
    ):
        if value is not None:
            body[name] = value
    return json.dumps(
        {"v": JSON_VERSION, "seq": seq, "events": [body]}, separators=(",", ":")
    ).encode()


def encode_status(state: str, t_ns: int) -> bytes:
    """Encode a status payload (``"online"`` / ``"offline"``, set at ``t_ns`` UTC ns)."""
    return json.dumps(
        {"v": JSON_VERSION, "state": state, "t_ns": int(t_ns)}, separators=(",", ":")
    ).encode()


# -- receipts (collector to device: end-to-end acknowledgement) -------------------------------
RECEIPT_SEQ_STREAMS = BINARY_STREAMS | JSON_STREAMS | {SESSION_STREAM, PROGRAMME_STREAM}
"""Streams whose messages a receipt confirms by sequence number: every device message but
``status`` (retained state, re-sent by the broker itself, and a last will nobody can confirm)."""
MAX_RECEIPT_RANGES = 10_000
"""Most seq ranges in one receipt (over all streams); more are split over several receipts."""
MAX_RECEIPT_DEAD = 1_000
"""Most dead-letter digests in one receipt (64 hex characters each)."""
MAX_RECEIPT_SEQ = 2**63 - 1
"""Largest sequence number a receipt can name (programme payloads allow int64)."""
_HEX = frozenset("0123456789abcdef")

SeqRanges = tuple[tuple[int, int], ...]
"""Inclusive ranges ``(first, last)`` of sequence numbers, ascending, merged (never touching)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the collector committed to its store of one device's messages (topic
    ``<prefix>/<site>/<subject>/<device>/receipt``), published after the commit.

    Attributes
    ----------
    t_ns:
        When the batch was committed, UTC ns (collector clock).
    seqs:
        ``((stream, ranges), ...)`` sorted by stream: the sequence numbers of the messages of
        that stream committed in the batch, new or already stored (a resend is confirmed
        again), as :data:`SeqRanges`.
    dead:
        SHA-256 (hex) of each payload of this device stored as a dead letter, so that a device
        stops resending a message the collector will never accept.
    """

    t_ns: int
    seqs: tuple[tuple[str, SeqRanges], ...] = ()
    dead: tuple[str, ...] = ()

    def ranges(self, stream: str) -> SeqRanges:
        """The committed seq ranges of ``stream`` (empty if none)."""
        return next((r for s, r in self.seqs if s == stream), ())


def payload_digest(payload: bytes) -> str:
    """SHA-256 of a payload, 64 lowercase hex digits: how a receipt names a dead letter."""
    return hashlib.sha256(payload).hexdigest()


def seq_ranges(seqs: Iterable[int]) -> SeqRanges:
    """Sequence numbers as sorted, merged inclusive ranges: ``[3, 1, 2, 7] -> ((1, 3), (7, 7))``."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return tuple((a, b) for a, b in out)


def make_receipts(
    t_ns: int, committed: Iterable[tuple[str, int]], dead: Iterable[str] = ()
) -> list[Receipt]:
    """Receipts for one device: ``committed`` (stream, seq) pairs and ``dead`` payload digests.

    Split into several receipts when there are more than :data:`MAX_RECEIPT_RANGES` ranges or
    :data:`MAX_RECEIPT_DEAD` digests; empty when there is nothing to confirm. ``t_ns`` in UTC ns.
    """
    by_stream: dict[str, list[int]] = {}
    for stream, seq in committed:
        by_stream.setdefault(stream, []).append(seq)
    flat = [(s, r) for s in sorted(by_stream) for r in seq_ranges(by_stream[s])]
    digests = sorted(set(dead))
    out = []
    while flat or digests:
        part, flat = flat[:MAX_RECEIPT_RANGES], flat[MAX_RECEIPT_RANGES:]
        grouped: dict[str, list[tuple[int, int]]] = {}
        for stream, rng in part:
            grouped.setdefault(stream, []).append(rng)
        seqs = tuple((s, tuple(r)) for s, r in grouped.items())
        out.append(Receipt(int(t_ns), seqs, tuple(digests[:MAX_RECEIPT_DEAD])))
        digests = digests[MAX_RECEIPT_DEAD:]
    return out


def encode_receipt(receipt: Receipt) -> bytes:
    """Encode a receipt as JSON (``docs/mqtt.md``)."""
    doc = {
        "v": JSON_VERSION,
        "t_ns": int(receipt.t_ns),
        "seqs": {s: [[a, b] for a, b in r] for s, r in receipt.seqs},
        "dead": list(receipt.dead),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _receipt_ranges(dev: str, stream: str, value: Any) -> SeqRanges:
    """One stream's ``[[first, last], ...]``: integers, ascending, merged (DecodeError if not)."""
    where = f"seqs.{stream}"
    if not isinstance(value, list) or not value:
        raise DecodeError(dev, -1, f"'{where}' must be a non-empty list of [first, last]")
    out: list[tuple[int, int]] = []
    for i, r in enumerate(value):
        ok = isinstance(r, list) and len(r) == 2
        ok = ok and all(not isinstance(x, bool) and isinstance(x, int) for x in r)
        if not ok or not 0 <= r[0] <= r[1] <= MAX_RECEIPT_SEQ:
            why = f"'{where}[{i}]' must be [first, last] with 0 <= first <= last <= 2**63-1"
            raise DecodeError(dev, -1, f"{why}, got {_short(r)}")
        if out and r[0] <= out[-1][1] + 1:
            raise DecodeError(dev, -1, f"'{where}[{i}]' must start after {out[-1][1] + 1}")
        out.append((r[0], r[1]))
    return tuple(out)


def _receipt_dead(dev: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_RECEIPT_DEAD:
        raise DecodeError(dev, -1, f"'dead' must be a list of at most {MAX_RECEIPT_DEAD} digests")
    for i, d in enumerate(value):
        if not (isinstance(d, str) and len(d) == 64 and set(d) <= _HEX):
            raise DecodeError(dev, -1, f"'dead[{i}]' must be 64 lowercase hex, got {_short(d)}")
    if len(set(value)) != len(value):
        raise DecodeError(dev, -1, "'dead' lists a digest twice")
    return tuple(value)


def decode_receipt(payload: bytes, device: str = "receipt") -> Receipt:
    """Decode a receipt strictly; raise DecodeError (naming ``device`` and the field) otherwise.

    Refused: another version, unknown keys, a stream that is not receipted by seq, ranges out
    of order, overlapping or touching, more than :data:`MAX_RECEIPT_RANGES` ranges, a receipt
    that confirms nothing. Times are UTC ns within 2000-2100.
    """
    obj = _load_json(device, payload)
    extra = sorted(set(obj) - {"v", "t_ns", "seqs", "dead"})
    if extra:
        raise DecodeError(device, -1, f"unknown field {extra[0]!r}")
    t = _utc_ns(device, obj, "'t_ns'")
    seqs_obj = obj.get("seqs")
    if not isinstance(seqs_obj, dict):
        raise DecodeError(device, -1, "'seqs' must be an object {stream: [[first, last], ...]}")
    for stream in seqs_obj:
        if stream not in RECEIPT_SEQ_STREAMS:
            raise DecodeError(device, -1, f"'seqs' names {_short(stream)}, not a receipted stream")
    seqs = tuple((s, _receipt_ranges(device, s, seqs_obj[s])) for s in sorted(seqs_obj))
    if sum(len(r) for _, r in seqs) > MAX_RECEIPT_RANGES:
        raise DecodeError(device, -1, f"more than {MAX_RECEIPT_RANGES} ranges")
    dead = _receipt_dead(device, obj.get("dead"))
    if not seqs and not dead:
        raise DecodeError(device, -1, "a receipt must confirm something ('seqs' or 'dead')")
    problem = schemas.first_error("mqtt-receipt-1", obj)
    if problem is not None:
        raise DecodeError(device, -1, f"does not match schema mqtt-receipt-1: {problem}")
    return Receipt(t, seqs, dead)


def message_seq(stream: str, payload: bytes) -> int | None:
    """The sequence number a receipt will confirm ``payload`` (published on ``stream``) by.

    For the device side: the seq at bytes 8-11 of a binary frame, or the JSON ``seq`` of a
    sample, session or programme payload; ``None`` for ``status`` and for a payload whose seq
    cannot be read (only a dead-letter digest will confirm that one).
    """
    if stream not in RECEIPT_SEQ_STREAMS:
        return None
    if stream in BINARY_STREAMS:
        if len(payload) < 12 or payload[:2] != MAGIC:
            return None
        return int.from_bytes(payload[8:12], "little")
    try:
        obj = load_json_object(stream, payload)
    except DecodeError:
        return None
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_RECEIPT_SEQ:
        return None
    return seq


def receipt_topic(prefix: str, topic: str) -> str | None:
    """The receipt topic of the device that published on ``topic``, or None when there is none.

    ``<prefix>/<site>/<subject>/<device>/<stream>`` gives ``<prefix>/<site>/<subject>/<device>/
    receipt`` if the three ids are valid, whatever the stream (a message on an unknown stream is
    dead-lettered and receipted too); None for ``status``, ``feedback`` and ``receipt``.
    """
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        return None
    levels = topic[len(head) :].split("/")
    if len(levels) != 4 or not all(ID_PATTERN.match(x) for x in levels[:3]):
        return None
    if levels[3] in (STATUS_STREAM, FEEDBACK_STREAM, RECEIPT_STREAM):
        return None
    return head + "/".join(levels[:3]) + "/" + RECEIPT_STREAM
