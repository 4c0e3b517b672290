"""MQTT collector: paho-mqtt 2.x (MQTT 5) into the store, exactly once in effect.

How nothing is lost and nothing is counted twice
------------------------------------------------
* Persistent session: a fixed client id, ``clean_start=False`` and a session expiry, QoS 1. The
  broker queues messages while the collector is away and redelivers anything not acknowledged.
* Manual acknowledgement: paho's ``on_message`` only stamps the host time and queues the
  message; one consumer thread decodes a batch, commits frames, events and dead letters in one
  store transaction (one fsync), and only then acknowledges every message of the batch. A crash
  before the commit loses nothing (the broker redelivers); a crash after the commit and before
  the acknowledgement causes a redelivery that the store ignores (frames are unique on
  subject, device, stream, sequence number and first sample time).
* Acknowledgements carry the connection generation: a packet id from a connection that has
  since dropped is never acknowledged on the new one (it could name a different message).
* Bad payloads (undecodable, oversized, unknown topic) become dead-letter rows with the reason
  and are acknowledged; they never stop the collector and are never dropped silently.
* Receipts (end-to-end acknowledgement): a broker PUBACK is not durability (Mosquitto 2.0 writes
  its database only at autosave, so a broker crash loses what it acknowledged since the last
  save). After its commits the collector publishes, per device, at most every
  ``receipt_interval_s``, a :class:`~devices.mqtt_wire.Receipt` on
  ``<prefix>/<site>/<subject>/<device>/receipt`` (QoS 1) naming the (stream, seq) of every
  message committed since the last receipt, new or duplicate, and the SHA-256 of every payload
  stored as a dead letter. A device keeps each message until a
  receipt names it and resends the rest (:mod:`ingest.mqtt_device`); the store ignores the
  copies, so the result is 0 lost and 0 stored twice.
* Order: frames may arrive out of order (shared subscriptions split one device's stream across
  collectors). The store returns frames in time order; :class:`SeqTracker` follows each
  stream's sequence numbers and records a gap when a number is still missing from the store
  after ``reorder_timeout_s``.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.errors import DecodeError
from devices.frame import Frame
from devices.mqtt_wire import (
    RECEIPT_SEQ_STREAMS,
    Decoded,
    DeviceEvent,
    Receipt,
    decode_payload,
    encode_receipt,
    make_receipts,
    parse_topic,
    payload_digest,
    receipt_topic,
)
from devices.programme import split_programme_events
from ingest.errors import CollectorError
from ingest.mqtt_diagnose import diagnose, speaks_tls
from ingest.mqtt_settings import MqttSettings
from ingest.store import Store

__all__ = [
    "CollectorStats",
    "Hole",
    "MqttCollector",
    "MqttSettings",
    "PahoHandlers",
    "SeqTracker",
]

log = logging.getLogger(__name__)

# CONNACK reason codes after which retrying cannot help (MQTT 5 spec, 3.2.2.2).
_PERMANENT_CONNACK = {0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C}


@dataclass
class CollectorStats:
    """Running totals of one collector (counts since it started)."""

    messages: int = 0
    frames: int = 0
    samples: int = 0
    duplicates: int = 0
    events: int = 0
    ignored: int = 0
    dead_letters: int = 0
    acked: int = 0
    stale_acks: int = 0
    receipts: int = 0
    receipts_refused: int = 0
    gaps: int = 0
    connects: int = 0
    backlog: int = 0
    queue_peak: int = 0
    reorder_pending: int = 0
    connected: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A plain copy of the counters."""
        return asdict(self)


@dataclass
class _SeqState:
    next_seq: int
    last_end_ns: int
    pending: dict[int, tuple[int, int, float]] = field(default_factory=dict)  # start, end, seen


StreamKey = tuple[str, str, str]  # subject, device, stream


@dataclass(frozen=True, slots=True)
class _Item:
    """One received message, decoded: frames and events to store, or a dead letter."""

    source: str
    frames: tuple[Frame, ...]
    events: tuple[DeviceEvent, ...]
    payload: bytes
    context: dict[str, Any]
    mid: int
    reason: str | None = None
    kept: bytes = b""
    receipt_key: tuple[str, int] | None = None  # (stream, seq) a receipt confirms it by

    @classmethod
    def dead(
        cls,
        source: str,
        reason: str,
        payload: bytes,
        context: dict[str, Any],
        mid: int,
        limit: int | None = None,
    ) -> _Item:
        """A dead letter keeping ``payload`` (its first ``limit`` bytes if given)."""
        kept = payload if limit is None else payload[:limit]
        return cls(source, (), (), payload, context, mid, reason, kept)

    def ident(self) -> str:
        """Identity of the message: SHA-256 of source, broker packet id and whole payload.

        A redelivery after a crash between commit and acknowledgement carries the same packet
        id (MQTT 5.0, 4.4: unacknowledged PUBLISH packets are resent with their original Packet
        Identifiers), so its dead letter is stored once.
        """
        h = hashlib.sha256()
        for part in (self.source.encode(), str(self.mid).encode(), self.payload):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Hole:
    """Sequence numbers [first_seq, end_seq) of a stream not seen by this collector in time.

    ``start_ns``/``end_ns`` are the end of the frame before and the start of the frame after
    the hole (UTC ns).
    """

    key: StreamKey
    first_seq: int
    end_seq: int
    start_ns: int
    end_ns: int


class SeqTracker:
    """Follows the sequence numbers of each (subject, device, stream) and reports holes.

    A stream's first frame sets the expected next number. Frames ahead of it wait in
    ``pending``; a hole (the numbers below the lowest pending one) is due once that pending
    frame has waited ``timeout_s`` seconds. A number lower than expected with a start time after
    the last frame is taken as a device restart (sequence reset).
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._streams: dict[StreamKey, _SeqState] = {}

    def observe(self, key: StreamKey, seq: int, start_ns: int, end_ns: int, now_s: float) -> None:
        """Record that frame ``seq`` (spanning start_ns..end_ns, UTC ns) is stored; now in s."""
        st = self._streams.get(key)
        if st is None or (seq < st.next_seq and start_ns > st.last_end_ns and not st.pending):
            self._streams[key] = _SeqState(seq + 1, end_ns)
            return
        if seq < st.next_seq:
            return
        if seq > st.next_seq:
            st.pending.setdefault(seq, (start_ns, end_ns, now_s))
            return
        st.next_seq, st.last_end_ns = seq + 1, max(st.last_end_ns, end_ns)
        self._advance(st)

    @staticmethod
    def _advance(st: _SeqState) -> None:
        while st.next_seq in st.pending:
            _, end, _ = st.pending.pop(st.next_seq)
            st.next_seq += 1
            st.last_end_ns = max(st.last_end_ns, end)

    def due(self, now_s: float) -> list[Hole]:
        """The first hole of each stream, if it has been open ``timeout_s`` seconds (now in s)."""
        out = []
        for key, st in self._streams.items():
            if st.pending:
                nxt = min(st.pending)
                start_ns, _, seen_s = st.pending[nxt]
                if now_s - seen_s >= self.timeout_s:
                    out.append(Hole(key, st.next_seq, nxt, st.last_end_ns, start_ns))
        return out

    def pending(self) -> int:
        """Number of frames waiting behind a hole, over all streams."""
        return sum(len(st.pending) for st in self._streams.values())

    def close_hole(self, hole: Hole) -> None:
        """Move past ``hole`` (after it was found in the store or recorded as a gap)."""
        st = self._streams[hole.key]
        st.next_seq = hole.end_seq
        self._advance(st)


def make_client(settings: MqttSettings, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho 2.x MQTT 5 client for ``settings``: client id, credentials, TLS, reconnect delay.

    Raises CollectorError when the TLS files cannot be loaded; the password is read from its
    environment variable or file here (ConfigError if it is missing).
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=settings.client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    user = settings.username or settings.url_username
    password = settings.password()
    if user is not None or password is not None:
        client.username_pw_set(user or "", password)
    if settings.tls:
        try:
            client.tls_set(
                ca_certs=settings.tls_ca, certfile=settings.tls_cert, keyfile=settings.tls_key
            )
        except (OSError, ValueError) as exc:
            raise CollectorError("tls", settings.broker, f"cannot load TLS files: {exc}") from exc
    client.reconnect_delay_set(1, 10)
    return client


class PahoHandlers:
    """The paho 2.x connect and subscribe callbacks of this package's MQTT 5 clients, as hooks.

    A CONNACK (MQTT 5.0, 3.2) that refuses the connection goes to :meth:`_connect_refused`, an
    accepted one to :meth:`_connected`; a SUBACK (3.9) goes to :meth:`_subscribed` with its
    reason codes. Subclasses implement the hooks and set the callbacks on their client.
    """

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._connect_refused(reason_code)
        else:
            self._connected(client, flags)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._subscribed(reason_codes)

    def _connect_refused(self, reason_code: ReasonCode) -> None:
        """The broker refused the connection (paho retries)."""
        raise NotImplementedError

    def _connected(self, client: mqtt.Client, flags: mqtt.ConnectFlags) -> None:
        """The broker accepted the connection (``flags.session_present``: it kept the session)."""
        raise NotImplementedError

    def _subscribed(self, reason_codes: list[ReasonCode]) -> None:
        """The broker answered a subscription: one reason code per topic filter."""
        raise NotImplementedError


class MqttCollector(PahoHandlers):
    """Collects every message under ``settings.prefix`` into ``store``.

    Parameters
    ----------
    settings:
        Broker, session and credentials (:class:`MqttSettings`).
    store:
        The store frames, events and dead letters are committed to.
    on_status:
        Called about once per second from the consumer thread with :attr:`stats`.

    Use :meth:`run` in a thread of its own; set the ``stop`` event to end it cleanly.
    """

    def __init__(
        self,
        settings: MqttSettings,
        store: Store,
        *,
        on_status: Callable[[CollectorStats], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.stats = CollectorStats()
        self.on_status = on_status
        self.subscribed = threading.Event()
        # Bounded: QoS 0 messages are not limited by Receive Maximum (it counts unacknowledged
        # QoS 1/2 only, MQTT 5.0 3.3.4), so only this bound keeps memory flat under overload.
        self._q: queue.Queue[tuple[int, mqtt.MQTTMessage, int]] = queue.Queue(settings.queue_max)
        self._closing = threading.Event()
        self._gen = 0
        self._ack_lock = threading.Lock()
        self._fatal: str | None = None
        self._tracker = SeqTracker(settings.reorder_timeout_s)
        self._receipts = _ReceiptBook(settings.prefix)
        self._next_receipts = 0.0  # monotonic s
        self._sub_mid: int | None = None
        self._connack = False  # a CONNACK came on the current connection attempt
        self._early_closes = 0  # connections closed before any CONNACK, in a row

    # -- paho side (network thread): stamp and hand off -----------------------------------
    def _connect_refused(self, reason_code: ReasonCode) -> None:
        if reason_code.value in _PERMANENT_CONNACK:
            self._fatal = f"broker refused the connection: {reason_code}"
        log.warning("mqtt connect refused: %s", reason_code)

    def _connected(self, client: mqtt.Client, flags: mqtt.ConnectFlags) -> None:
        self._connack, self._early_closes = True, 0
        with self._ack_lock:
            self._gen += 1
        self.stats.connects += 1
        self.stats.connected = True
        log.info("mqtt connected (session present: %s)", flags.session_present)
        # Always (re)subscribe: a broker restarted without its persistence forgot the session.
        # No Local: our own receipts are not sent back to us (MQTT 5.0, 3.8.3.1); it is a
        # protocol error on a shared subscription, where other members' receipts are skipped.
        opts = SubscribeOptions(qos=1, noLocal=self.settings.group is None)
        _, self._sub_mid = client.subscribe(self.settings.subscription(), options=opts)

    def _subscribed(self, reason_codes: list[ReasonCode]) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self._fatal = f"broker refused the subscription: {reason_codes[0]}"
            return
        self.subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._ack_lock:
            self._gen += 1
        self.stats.connected = False
        self.subscribed.clear()
        log.info("mqtt disconnected: %s", reason_code)
        if not self._connack:
            self._closed_early()
        self._connack = False

    def _closed_early(self) -> None:
        """The broker closed the connection before CONNACK: plain MQTT to a TLS port?"""
        self._early_closes += 1
        s = self.settings
        if not s.tls and self._early_closes >= 2 and speaks_tls(s.host, s.port):
            self._fatal = (
                f"{s.host}:{s.port} is a TLS port and closes plain MQTT connections:"
                f" use mqtts://{s.host}:{s.port}"
            )
        else:
            log.warning("mqtt connection closed by the broker before it answered CONNECT")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """paho could not connect (it retries): find out why, and stop if retrying cannot help."""
        d = diagnose(self.settings)
        log.warning("mqtt cannot connect to %s: %s", self.settings.broker, d.why)
        if d.fatal:
            self._fatal = f"cannot connect: {d.why}"

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """PUBACK of a receipt: count and log (once) receipts the broker's ACL refuses."""
        if reason_code.is_failure:
            self.stats.receipts_refused += 1
            if self.stats.receipts_refused == 1:
                log.warning(
                    "the broker refused a receipt (%s): let the collector write"
                    " <prefix>/+/+/+/receipt (deploy/mosquitto/acl) or run with --no-receipts",
                    reason_code,
                )

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        """Stamp and queue; when the queue is full, wait (paho stops reading the socket, so
        TCP flow control holds the broker back) until the consumer makes room."""
        item = (self._gen, msg, time.time_ns())
        while not self._closing.is_set():
            try:
                self._q.put(item, timeout=0.1)
            except queue.Full:
                continue
            self.stats.queue_peak = max(self.stats.queue_peak, self._q.qsize())
            return
        # Shutting down: not queued, so not acknowledged; the broker redelivers QoS 1.

    # -- consumer side ----------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = make_client(self.settings, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        # Receipts are the collector's only publishes: let a whole round of them be in flight
        # (paho's default of 20 would queue them behind the broker's PUBACKs).
        client.max_inflight_messages_set(1000)
        return client

    def run(self, stop: threading.Event) -> None:
        """Collect until ``stop`` is set; return after committing what was received.

        Raises
        ------
        CollectorError
            The broker refused the credentials or the subscription, or the store failed (in
            which case nothing of the failed batch was acknowledged).
        """
        s = self.settings
        client = self._make_client()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = s.receive_maximum
        try:
            client.connect_async(
                s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=props
            )
        except (OSError, ValueError) as exc:
            raise CollectorError("broker", s.broker, f"cannot connect: {exc}") from exc
        client.loop_start()
        try:
            self._consume(client, stop)
        finally:
            self._closing.set()
            client.disconnect()
            client.loop_stop()
            self.stats.connected = False

    def _consume(self, client: mqtt.Client, stop: threading.Event) -> None:
        next_status = time.monotonic() + 1.0
        while not stop.is_set():
            if self._fatal:
                raise CollectorError("broker", self.settings.broker, self._fatal)
            batch = self._take(timeout_s=0.1)
            if batch:
                self._commit(client, batch)
            now = time.monotonic()
            if now >= self._next_receipts:
                self._send_receipts(client)
                self._next_receipts = now + self.settings.receipt_interval_s
            self._check_holes(now)
            self.stats.reorder_pending = self._tracker.pending()
            if now >= next_status:
                next_status = now + 1.0
                self.stats.backlog = self._q.qsize()
                if self.on_status is not None:
                    self.on_status(self.stats)
        self._closing.set()  # no more queueing, so the drain below ends even under a flood
        while batch := self._take(timeout_s=0.0):  # commit what already arrived
            self._commit(client, batch)
        self._send_receipts(client)

    def _take(self, timeout_s: float) -> list[tuple[int, mqtt.MQTTMessage, int]]:
        try:
            first = self._q.get(timeout=timeout_s) if timeout_s > 0 else self._q.get_nowait()
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.settings.batch_max:
            try:
                batch.append(self._q.get_nowait())
            except queue.Empty:
                break
        return batch

    def _commit(self, client: mqtt.Client, batch: list[tuple[int, mqtt.MQTTMessage, int]]) -> None:
        """Decode and store a batch in one transaction, then acknowledge it.

        If the store refuses the batch (a value SQLite cannot hold, a constraint), its messages
        are stored one by one: the one the store refuses is dead-lettered alone with the reason,
        the others are kept, and all are acknowledged. Only a store that cannot even keep a
        dead letter (disk full, file gone) stops the collector, with nothing acknowledged.
        """
        items = [self._decode(msg, rx_ns) for _gen, msg, rx_ns in batch]
        try:
            with self.store.transaction():
                n_new, n_events = self._store_items(items)
        except Exception as exc:
            log.warning("batch of %d refused by the store (%s): one by one", len(items), exc)
            n_new = n_events = 0
            for i, item in enumerate(items):
                items[i], (a, b) = self._store_alone(item)
                n_new, n_events = n_new + a, n_events + b
        self._count(items, n_new, n_events)
        if self.settings.receipts:
            self._receipts.note(items)  # committed: may be receipted from now on
        self._ack(client, batch)

    def _send_receipts(self, client: mqtt.Client) -> None:
        """Publish, per device, what was committed since the last receipts (``docs/mqtt.md``)."""
        for topic, receipt in self._receipts.take(time.time_ns()):
            client.publish(topic, encode_receipt(receipt), qos=1)
            self.stats.receipts += 1

    def _decode(self, msg: mqtt.MQTTMessage, rx_ns: int) -> _Item:
        """One message as what to store: its frames and events, or a dead letter."""
        payload = bytes(msg.payload)
        limit = self.settings.max_payload_bytes
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            return _Item.dead("mqtt:?", "topic is not valid UTF-8", payload, {}, msg.mid, limit)
        source = f"mqtt:{topic}"
        ctx: dict[str, Any] = {"topic": topic, "rx_ns": rx_ns, "size": len(payload)}
        if len(payload) > limit:
            why = f"payload of {len(payload)} bytes exceeds the limit of {limit} bytes"
            return _Item.dead(source, why, payload, ctx, msg.mid, limit)
        try:
            parts = parse_topic(self.settings.prefix, topic)
            decoded = decode_payload(parts, payload, rx_ns)
        except DecodeError as exc:
            return _Item.dead(source, str(exc), payload, {**ctx, **exc.as_record()}, msg.mid)
        except Exception as exc:  # a decoder bug must not stop the service or lose input
            log.exception("decoder failed on %s", topic)
            why = f"decoder failed: {type(exc).__name__}: {exc}"
            return _Item.dead(source, why, payload, ctx, msg.mid)
        key = _receipt_key(parts.stream, decoded)
        return _Item(source, decoded.frames, decoded.events, payload, ctx, msg.mid, receipt_key=key)

    def _store_items(self, items: list[_Item]) -> tuple[int, int]:
        """Write items inside the caller's transaction; return (new frames, new events)."""
        n_new = self.store.put_frames(f for it in items for f in it.frames)
        programme, events = split_programme_events([e for it in items for e in it.events])
        n_events = self.store.put_events(events) + self.store.put_programme_events(programme)
        for it in items:
            if it.reason is not None:
                self.store.dead_letter(it.source, it.reason, it.kept, it.context, ident=it.ident())
        return n_new, n_events

    def _store_alone(self, item: _Item) -> tuple[_Item, tuple[int, int]]:
        """Store one item in its own transaction; dead-letter it if the store refuses it."""
        try:
            with self.store.transaction():
                return item, self._store_items([item])
        except Exception as exc:
            why = f"store refused the message: {type(exc).__name__}: {exc}"
            dead = _Item.dead(item.source, why, item.payload, item.context, item.mid)
        try:
            with self.store.transaction():
                self._store_items([dead])
        except Exception as exc:  # the store cannot keep even a dead letter: stop, ack nothing
            raise CollectorError(
                "store", str(self.store.path), f"commit failed, nothing acknowledged: {exc}"
            ) from exc
        return dead, (0, 0)

    def _count(self, items: list[_Item], n_new: int, n_events: int) -> None:
        """Update the counters and the sequence tracker after a commit."""
        st = self.stats
        frames = [f for it in items for f in it.frames]
        st.messages += len(items)
        st.frames += n_new
        st.duplicates += len(frames) - n_new
        st.samples += sum(f.n for f in frames)
        st.events += n_events
        for it in items:
            if it.reason is not None:
                st.dead_letters += 1
                log.warning("dead letter from %s: %s", it.source, it.reason)
            elif not it.frames and not it.events:
                st.ignored += 1  # outbound feedback or receipts on the same prefix
        now = time.monotonic()
        for f in frames:
            self._tracker.observe(
                (f.subject, f.device, f.stream.value), f.seq, f.start_ns, f.end_ns, now
            )

    def _ack(self, client: mqtt.Client, batch: list[tuple[int, mqtt.MQTTMessage, int]]) -> None:
        with self._ack_lock:
            for gen, msg, _ in batch:
                if msg.qos == 0:
                    continue
                if gen == self._gen:
                    client.ack(msg.mid, msg.qos)
                    self.stats.acked += 1
                else:  # the connection it came on is gone; the broker will redeliver it
                    self.stats.stale_acks += 1

    def _check_holes(self, now_s: float) -> None:
        while holes := self._tracker.due(now_s):
            for hole in holes:
                self._check_hole(hole)

    def _check_hole(self, hole: Hole) -> None:
        subject, device, stream = hole.key
        found = self.store.count_frame_seqs(
            subject, device, stream, (hole.first_seq, hole.end_seq), (hole.start_ns, hole.end_ns)
        )
        expected = hole.end_seq - hole.first_seq
        if found < expected:  # not stored by another group member either
            missing = expected - found
            self.store.put_gap(
                device,
                stream,
                hole.start_ns,
                hole.end_ns,
                f"mqtt: {missing} frame(s) of seq {hole.first_seq}..{hole.end_seq - 1} missing",
                subject=subject,
            )
            self.stats.gaps += 1
        self._tracker.close_hole(hole)

    # -- the Collector protocol (ingest.collector) ----------------------------------------
    @property
    def name(self) -> str:
        """``"mqtt"``."""
        return "mqtt"

    @property
    def writes(self) -> frozenset[str]:
        """Frames, events, gaps (sequence numbers still missing) and dead letters."""
        return frozenset({"frames", "mqtt_events", "gaps", "dead_letter"})

    def collect(self, stop: threading.Event) -> None:
        """:meth:`run`: collect in this thread until ``stop`` is set."""
        self.run(stop)

    def status_text(self) -> str:
        """Whether the broker connection is up and how many frames were stored."""
        return f"connected={self.stats.connected} frames={self.stats.frames}"


def _receipt_key(stream: str, decoded: Decoded) -> tuple[str, int] | None:
    """(stream, seq) by which a receipt confirms a decoded message; None for status and the
    outbound streams (feedback, receipts), which no device waits to have confirmed."""
    if stream not in RECEIPT_SEQ_STREAMS:
        return None
    if decoded.frames:
        return stream, decoded.frames[0].seq
    if decoded.events:
        return stream, decoded.events[0].seq
    return None


class _ReceiptBook:
    """What was committed since the last receipts, per device receipt topic.

    Frames and events by (stream, seq), duplicates included (a device that resent a message
    whose receipt was lost needs it confirmed again); dead letters by payload digest. Messages
    without a device to answer (status, feedback, unparseable topics) get none. Filled only
    after a commit, so a receipt never names what is not in the store.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._committed: dict[str, list[tuple[str, int]]] = {}
        self._dead: dict[str, list[str]] = {}

    def note(self, items: list[_Item]) -> None:
        """Add the committed ``items``."""
        for it in items:
            topic = receipt_topic(self.prefix, it.context.get("topic", ""))
            if topic is None:
                continue
            if it.reason is not None:
                self._dead.setdefault(topic, []).append(payload_digest(it.payload))
            elif it.receipt_key is not None:
                self._committed.setdefault(topic, []).append(it.receipt_key)

    def take(self, t_ns: int) -> list[tuple[str, Receipt]]:
        """(topic, receipt) for everything noted, stamped ``t_ns`` (UTC ns); then empty."""
        committed, dead = self._committed, self._dead
        self._committed, self._dead = {}, {}
        return [
            (topic, r)
            for topic in sorted(committed.keys() | dead.keys())
            for r in make_receipts(t_ns, committed.get(topic, ()), dead.get(topic, ()))
        ]
