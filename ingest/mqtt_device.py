"""The device side of the end-to-end acknowledgement: keep every message until a receipt.

A broker PUBACK only says the broker has the message in memory: Mosquitto 2.0 writes its
database only at autosave (every ``autosave_interval``), so a broker crash loses what it
acknowledged since the last save. The collector therefore publishes a receipt to each device after its store commit
(``<prefix>/<site>/<subject>/<device>/receipt``, :class:`devices.mqtt_wire.Receipt`). A device
(or a gateway, for all its devices) keeps each message it published in :class:`Unconfirmed`
until a receipt names it, and publishes the rest again

* after every reconnect (a broker restart may have lost what it had acknowledged), and
* when a message has waited ``resend_after_s`` without a receipt (a lost receipt, a collector
  that crashed); the wait doubles for each resend of the same message, up to
  :data:`MAX_BACKOFF` times ``resend_after_s``, so a collector that is away for hours does not
  fill the broker's queue with copies.

The store ignores the copies (frames are unique on subject, device, stream, seq and first
sample time), so the result is 0 lost and 0 stored twice. Retained ``status`` messages are not
kept: they are state, re-sent by the broker itself, and a last will cannot be confirmed.

The buffer is bounded (:data:`DEFAULT_LIMIT` messages): when it is full the oldest messages are
kept and a new one is refused; the caller does not publish it, counts it and logs it. Telegraf
bounds its output buffer the same way but drops the oldest metrics
(``metric_buffer_limit``, https://docs.influxdata.com/telegraf/v1/configuration/#agent); we
refuse the newest instead, because the refusal is then known at the moment of publishing (the
caller can stop, report or keep the data elsewhere), while dropping an old message would
silently undo one already handed over.

This is the pattern of application-level acknowledgement in at-least-once messaging (the
end-to-end argument: Saltzer, Reed, Clark, "End-to-end arguments in system design", ACM TOCS
2(4), 1984, doi:10.1145/357401.357402).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from devices.errors import DecodeError
from devices.mqtt_wire import (
    RECEIPT_STREAM,
    STATUS_STREAM,
    Receipt,
    decode_receipt,
    encode_status,
    message_seq,
    payload_digest,
)
from ingest.mqtt import PahoHandlers, make_client
from ingest.mqtt_settings import MqttSettings

__all__ = ["DEFAULT_LIMIT", "MAX_BACKOFF", "DeviceClient", "DeviceStats", "Unconfirmed"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100_000
"""Messages kept unconfirmed per connection: about 28 hours of one device sending one message a
second, or 50 MB of 50-sample int16 accelerometer frames (about 330 bytes each plus the key)."""
MAX_BACKOFF = 8
"""A message is resent at most every ``MAX_BACKOFF * resend_after_s`` seconds."""

Key = tuple[str, str, int | str]
"""(device base topic ``<prefix>/<site>/<subject>/<device>``, stream, seq or payload digest)."""


@dataclass(slots=True)
class _Entry:
    topic: str
    payload: bytes
    digest: str
    sent_s: float  # monotonic time of the last send, s
    sends: int = 1


@dataclass
class Unconfirmed:
    """Messages published but not yet named by a receipt, oldest first (not thread-safe).

    ``limit`` is the most messages kept; :meth:`add` refuses a new one when full. Counters:
    ``refused`` (not kept because full), ``confirmed`` (removed by a receipt), ``resent``.
    """

    limit: int = DEFAULT_LIMIT
    refused: int = 0
    confirmed: int = 0
    resent: int = 0
    _entries: dict[Key, _Entry] = field(default_factory=dict)
    _by_digest: dict[tuple[str, str], list[Key]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, topic: str, payload: bytes, now_s: float) -> bool:
        """Keep a message published on ``topic`` at ``now_s`` (monotonic s); False when full.

        Key: the device's base topic, the stream and the seq a receipt will name
        (:func:`devices.mqtt_wire.message_seq`), or the payload digest when the seq cannot be
        read. Publishing the same key again (a resend) replaces the entry.
        """
        base, _, stream = topic.rpartition("/")
        digest = payload_digest(payload)
        seq = message_seq(stream, payload)
        key: Key = (base, stream, digest if seq is None else seq)
        old = self._entries.pop(key, None)
        if old is not None:  # the same message again, or a new payload under a reused seq
            self._forget_digest(base, old.digest, key)
        elif len(self._entries) >= self.limit:
            self.refused += 1
            return False
        self._entries[key] = _Entry(topic, payload, digest, now_s)
        self._by_digest.setdefault((base, digest), []).append(key)
        return True

    def confirm(self, base: str, receipt: Receipt) -> int:
        """Remove what ``receipt`` (received on ``<base>/receipt``) names; return how many."""
        keys: list[Key] = []
        for stream, ranges in receipt.seqs:
            for first, last in ranges:
                keys.extend(self._in_range(base, stream, first, last))
        for digest in receipt.dead:
            keys.extend(self._by_digest.get((base, digest), ()))
        n = 0
        for key in keys:
            entry = self._entries.pop(key, None)
            if entry is not None:
                n += 1
                self._forget_digest(key[0], entry.digest, key)
        self.confirmed += n
        return n

    def _in_range(self, base: str, stream: str, first: int, last: int) -> list[Key]:
        if last - first + 1 <= len(self._entries):
            return [(base, stream, s) for s in range(first, last + 1)]
        return [
            k
            for k in self._entries
            if k[0] == base and k[1] == stream and isinstance(k[2], int) and first <= k[2] <= last
        ]

    def _forget_digest(self, base: str, digest: str, key: Key) -> None:
        keys = self._by_digest.get((base, digest))
        if keys is not None:
            keys[:] = [k for k in keys if k != key]
            if not keys:
                del self._by_digest[(base, digest)]

    def due(self, now_s: float, resend_after_s: float) -> list[tuple[str, bytes]]:
        """(topic, payload) of the messages waiting longer than their resend time, oldest
        first; they are marked as sent at ``now_s`` (monotonic s)."""
        out = []
        for e in self._entries.values():
            wait_s = resend_after_s * min(2 ** (e.sends - 1), MAX_BACKOFF)
            if now_s - e.sent_s >= wait_s:
                e.sent_s, e.sends = now_s, e.sends + 1
                out.append((e.topic, e.payload))
        self.resent += len(out)
        return out

    def everything(self, now_s: float) -> list[tuple[str, bytes]]:
        """(topic, payload) of every kept message, oldest first, marked as sent at ``now_s``."""
        for e in self._entries.values():
            e.sent_s = now_s
        self.resent += len(self._entries)
        return [(e.topic, e.payload) for e in self._entries.values()]


@dataclass
class DeviceStats:
    """Counters of one :class:`DeviceClient` (since it started)."""

    published: int = 0
    receipts: int = 0
    bad_receipts: int = 0
    connects: int = 0


class DeviceClient(PahoHandlers):
    """A device's or gateway's MQTT connection that keeps every message until a receipt.

    Parameters
    ----------
    settings:
        Broker and credentials (its ``client_id`` is not used: each connection has its own).
    client_id:
        This connection's client id (a device's id, under the shipped ACL).
    status_topic:
        Retained ``online`` status published on connect, ``offline`` as the last will and on
        :meth:`close`; None for none.
    receipts:
        Keep messages until a collector receipt and resend them (False: the broker's PUBACK is
        the end, as before receipts).
    limit, resend_after_s:
        :class:`Unconfirmed` size (messages) and the first resend wait (s).
    max_inflight:
        QoS 1 messages paho sends before their PUBACKs.

    Call :meth:`tick` now and then from the publishing thread (:meth:`publish` does): it applies
    the receipts that came in and resends what is due.
    """

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        status_topic: str | None = None,
        *,
        receipts: bool = True,
        limit: int = DEFAULT_LIMIT,
        resend_after_s: float = 30.0,
        max_inflight: int = 1000,
    ) -> None:
        self.status_topic = status_topic
        self.receipts = receipts
        self.resend_after_s = resend_after_s
        self.buffer = Unconfirmed(limit)
        self.stats = DeviceStats()
        self.connected = threading.Event()
        self._inbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._receipt_topics: set[str] = set()
        self._reconnected = False
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self._prune_at = 1024
        self._next_scan_s = 0.0  # monotonic; the buffer is scanned for due resends once a second
        self.client = self._make_client(settings, client_id, max_inflight)
        self.client.connect_async(settings.host, settings.port, keepalive=30)
        self.client.loop_start()

    def _make_client(self, settings: MqttSettings, client_id: str, inflight: int) -> mqtt.Client:
        # The collector's client (credentials, TLS, reconnect delay) under this connection's id.
        c = make_client(replace(settings, client_id=client_id))
        c.max_inflight_messages_set(inflight)
        # The online status and the will carry the same time: the time of this connection.
        self.t_connect_ns = time.time_ns()
        if self.status_topic is not None:
            will = encode_status("offline", self.t_connect_ns)
            c.will_set(self.status_topic, will, qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    # -- paho network thread: note and hand off ----------------------------------------------
    def _connect_refused(self, reason_code: ReasonCode) -> None:
        log.warning("device connection refused by the broker: %s", reason_code)

    def _connected(self, client: mqtt.Client, flags: mqtt.ConnectFlags) -> None:
        with self._lock:
            self.stats.connects += 1
            self._reconnected = True  # send everything unconfirmed (kept while disconnected)
            topics = sorted(self._receipt_topics)
        if topics:  # the session is new: subscribe again
            client.subscribe([(t, 1) for t in topics])
        self.connected.set()

    def _on_disconnect(self, *args: object) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put((msg.topic, bytes(msg.payload)))

    # -- the publishing thread ---------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Publish with QoS 1 and keep the message until a receipt; False if refused (full).

        A refused message is not published (the buffer keeps the oldest); the refusal is
        counted in ``buffer.refused`` and logged (the first, then every 1,000th). While the
        connection is down a kept message is not handed to paho (whose own queue has no bound):
        it goes out with everything unconfirmed after the reconnect.
        """
        self.tick()
        stream = topic.rpartition("/")[2]
        if self.receipts and stream != STATUS_STREAM:
            if not self.buffer.add(topic, payload, time.monotonic()):
                n = self.buffer.refused
                if n == 1 or n % 1000 == 0:
                    log.warning(
                        "device buffer full (%d unconfirmed messages): %d refused so far",
                        self.buffer.limit,
                        n,
                    )
                return False
            self._watch_receipts(topic.rpartition("/")[0] + "/" + RECEIPT_STREAM)
            if not self.connected.is_set():  # kept: sent after the reconnect (tick)
                self.stats.published += 1
                return True
        self._send(topic, payload, retain)
        self.stats.published += 1
        return True

    def _send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        self._pending.append(info)
        if len(self._pending) >= self._prune_at:  # amortised: prune when it doubled
            self._pending = [i for i in self._pending if not i.is_published()]
            self._prune_at = max(1024, 2 * len(self._pending))

    def _watch_receipts(self, topic: str) -> None:
        with self._lock:
            if topic in self._receipt_topics:
                return
            self._receipt_topics.add(topic)
        # Sent before the message it is for: the broker has the subscription before the
        # collector can answer. If not connected, _on_connect subscribes.
        self.client.subscribe(topic, qos=1)

    def tick(self) -> None:
        """Apply received receipts; resend everything after a reconnect, and what is due."""
        while True:
            try:
                topic, payload = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._apply(topic, payload)
        if not self.receipts or not self.connected.is_set():
            return
        with self._lock:
            again, self._reconnected = self._reconnected, False
        now = time.monotonic()
        if again:
            resend = self.buffer.everything(now)
        elif now >= self._next_scan_s:  # a scan is O(buffer): not on every publish
            self._next_scan_s = now + min(1.0, self.resend_after_s / 10)
            resend = self.buffer.due(now, self.resend_after_s)
        else:
            return
        for topic, payload in resend:
            self._send(topic, payload)

    def _apply(self, topic: str, payload: bytes) -> None:
        base, _, stream = topic.rpartition("/")
        if stream != RECEIPT_STREAM:
            return
        try:
            receipt = decode_receipt(payload, base.rpartition("/")[2] or "receipt")
        except DecodeError as exc:  # counted and logged; the messages are resent in time
            self.stats.bad_receipts += 1
            log.warning("device: bad receipt on %s ignored: %s", topic, exc)
            return
        self.stats.receipts += 1
        self.buffer.confirm(base, receipt)

    def pending_pubacks(self) -> int:
        """Messages (including resends) the broker has not acknowledged (PUBACK) yet."""
        self._pending = [i for i in self._pending if not i.is_published()]
        self._prune_at = max(1024, 2 * len(self._pending))
        return len(self._pending)

    def wait_confirmed(self, timeout_s: float) -> bool:
        """Tick until every kept message is confirmed or ``timeout_s`` (s) passes; True if all."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.tick()
            if len(self.buffer) == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def close(self, timeout_s: float) -> None:
        """Publish the retained ``offline`` status, wait for the PUBACKs, disconnect."""
        if self.status_topic is not None:
            self._send(self.status_topic, encode_status("offline", time.time_ns()), retain=True)
        deadline = time.monotonic() + timeout_s
        while self.pending_pubacks() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()
