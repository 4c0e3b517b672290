"""The live-session service over MQTT: session events and sensor frames in, feedback out.

The patient's app publishes a session ``start`` (session id, exercise, optionally the care
plan's session id) on ``<prefix>/<site>/<subject>/<device>/session``, where ``<device>`` is the
sensor whose data is to be counted, and ``stop`` when the patient is done. While the session
runs, the sensor's accelerometer frames (``.../<device>/accel``) go through a live repetition
counter, and every completed repetition, set end and the session end is published on
``<prefix>/<site>/<subject>/<device>/feedback`` (QoS 1; format in ``docs/mqtt.md``). When the
session ends (stop, or no data and no stop for ``idle_timeout_s``: the app vanished) it is
stored, the subject's day is scored, and the points go to the outbox.

The service keeps no durable state of its own: the collector (``adherence collect mqtt``)
stores the raw frames; this service stores finished sessions. Sessions of different patients
run side by side, one counter each.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.errors import AdherenceError
from devices.mqtt_wire import DeviceEvent, decode_payload, parse_topic, topic_for
from ingest.errors import CollectorError
from ingest.mqtt import PahoHandlers, make_client
from ingest.mqtt_settings import MqttSettings
from ingest.session import Feedback, LiveSession, Target
from ingest.store import Store

log = logging.getLogger(__name__)

FEEDBACK_STREAM = "feedback"


class SessionPlanner(Protocol):
    """What the live-session service asks of the care-plan layer (injected, so ``ingest`` never
    imports ``adherence``).

    ``target`` gives the sets and repetitions prescribed for an exercise; ``session_saved`` is
    called once a finished session is committed to the store (the adherence layer scores the
    day and queues its points there).
    """

    def target(self, subject: str, exercise: str, plan_entry: str | None) -> Target:
        """Prescribed sets and repetitions; ``Target()`` when the plan does not say."""
        ...

    def session_saved(self, store: Store, session: LiveSession) -> None:
        """React to a committed session (score the day)."""
        ...


class NoPlanner:
    """A planner that knows no plan: feedback without targets, nothing scored."""

    def target(self, subject: str, exercise: str, plan_entry: str | None) -> Target:
        """Always ``Target()``: no prescription known."""
        return Target()

    def session_saved(self, store: Store, session: LiveSession) -> None:
        """Nothing to score."""


def save_session(store: Store, session: LiveSession, planner: SessionPlanner | None = None) -> None:
    """Store a finished session with its data gaps, then hand it to ``planner`` (scoring)."""
    with store.transaction():
        store.put_session(session.record())
        for g0, g1 in session.gaps:
            store.put_gap(
                session.device,
                "accel",
                g0,
                g1,
                "no sensor data during a live session",
                subject=session.subject,
            )
    if planner is not None:
        planner.session_saved(store, session)


@dataclass
class SessionStats:
    """Counters of the service (for the status line and tests)."""

    started: int = 0
    finished: int = 0
    timed_out: int = 0
    reps: int = 0
    feedback: int = 0
    ignored: int = 0
    dead_letters: int = 0
    active: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionServiceSettings:
    """How the live-session service runs.

    Attributes
    ----------
    mqtt:
        Broker, prefix, credentials; ``mqtt.client_id`` must differ from the collector's.
    idle_timeout_s:
        A session with no sensor data and no stop for this long (s) is closed as ``timeout``
        and kept.
    min_rest_s:
        A pause longer than this (s) between repetitions starts a new set.
    """

    mqtt: MqttSettings
    idle_timeout_s: float = 120.0
    min_rest_s: float = 10.0


class SessionService(PahoHandlers):
    """Runs live sessions for every patient under ``settings.mqtt.prefix``.

    Parameters
    ----------
    settings:
        :class:`SessionServiceSettings`.
    store:
        Where finished sessions, scores and outbox points go.
    planner:
        Targets for the feedback and what happens to a finished session (scoring); see
        :class:`SessionPlanner`. Without one, feedback has no targets and nothing is scored.
    on_feedback:
        Called with each feedback event after it was published (for a live display).
    """

    def __init__(
        self,
        settings: SessionServiceSettings,
        store: Store,
        planner: SessionPlanner | None = None,
        *,
        on_feedback: Callable[[Feedback], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.planner: SessionPlanner = planner or NoPlanner()
        self.on_feedback = on_feedback
        self.stats = SessionStats()
        self.subscribed = threading.Event()
        self._q: queue.SimpleQueue[tuple[str, bytes, int]] = queue.SimpleQueue()
        self._sessions: dict[tuple[str, str, str], tuple[LiveSession, float]] = {}
        self._client: mqtt.Client | None = None
        self._prefix = settings.mqtt.prefix.rstrip("/")

    # -- paho thread: stamp and hand off --------------------------------------------------------
    def _connect_refused(self, reason_code: ReasonCode) -> None:
        log.warning("session service: connect refused: %s", reason_code)

    def _connected(self, client: mqtt.Client, flags: mqtt.ConnectFlags) -> None:
        opts = SubscribeOptions(qos=1)
        client.subscribe(
            [(f"{self._prefix}/+/+/+/session", opts), (f"{self._prefix}/+/+/+/accel", opts)]
        )

    def _subscribed(self, reason_codes: list[ReasonCode]) -> None:
        if not any(rc.is_failure for rc in reason_codes):
            self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._q.put((msg.topic, bytes(msg.payload), time.time_ns()))

    # -- consumer thread --------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Serve sessions until ``stop`` is set; running sessions are then closed and stored."""
        s = self.settings.mqtt
        client = make_client(s)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        try:
            client.connect_async(s.host, s.port, keepalive=s.keepalive_s, clean_start=True)
        except (OSError, ValueError) as exc:
            raise CollectorError("broker", s.broker, f"cannot connect: {exc}") from exc
        self._client = client
        client.loop_start()
        try:
            while not stop.is_set():
                try:
                    topic, payload, rx_ns = self._q.get(timeout=0.2)
                except queue.Empty:
                    self._expire()
                    continue
                self._handle(topic, payload, rx_ns)
                self._expire()
            for key in list(self._sessions):
                self._finish(key, time.time_ns(), "interrupted")
        finally:
            client.disconnect()
            client.loop_stop()
            self._client = None

    def _handle(self, topic: str, payload: bytes, rx_ns: int) -> None:
        try:
            parts = parse_topic(self._prefix, topic)
            decoded = decode_payload(parts, payload, rx_ns)
        except AdherenceError as exc:
            if topic.endswith("/session"):  # bad accel frames are the collector's to keep
                self.store.dead_letter(f"session:{topic}", str(exc), payload)
                self.stats.dead_letters += 1
            return
        for ev in decoded.events:
            self._event(ev)
        for frame in decoded.frames:
            key = (parts.site, parts.subject, parts.device)
            entry = self._sessions.get(key)
            if entry is None or frame.end_ns < entry[0].start_ns:
                self.stats.ignored += 1
                continue
            session = entry[0]
            self._sessions[key] = (session, time.monotonic())
            self._publish(key, session.feed(frame))

    def _event(self, ev: DeviceEvent) -> None:
        key = (ev.site, ev.subject, ev.device)
        if ev.kind == "session_start":
            if self._refuse_foreign(ev):
                return
            if key in self._sessions:
                old = self._sessions[key][0]
                if old.session_id == ev.session_id:
                    return  # a redelivered start
                self._finish(key, ev.t_ns, "superseded")
            plan_entry = ev.detail.get("plan_entry") if isinstance(ev.detail, dict) else None
            exercise = ev.exercise or "unknown"
            session = LiveSession(
                ev.session_id or f"{ev.subject}-{ev.t_ns}",
                ev.subject,
                ev.device,
                exercise,
                ev.t_ns,
                target=self.planner.target(ev.subject, exercise, plan_entry),
                plan_entry=plan_entry,
                min_rest_s=self.settings.min_rest_s,
            )
            self._sessions[key] = (session, time.monotonic())
            self.stats.started += 1
            self._publish(key, [session.start_feedback()])
        elif ev.kind == "session_stop":
            entry = self._sessions.get(key)
            if entry is None or entry[0].session_id != ev.session_id:
                self.store.dead_letter(
                    f"session:{ev.subject}/{ev.device}",
                    f"stop for a session that is not running: {ev.session_id}",
                    None,
                    {"t_ns": ev.t_ns},
                )
                self.stats.dead_letters += 1
                return
            self._finish(key, ev.t_ns, "complete")

    def _refuse_foreign(self, ev: DeviceEvent) -> bool:
        """Dead-letter a start whose session id belongs to another patient or sensor.

        Session ids are unique in the store: accepting it would end or overwrite the other
        patient's session (the topic identity is checked by the broker ACL and the decoder).
        """
        sid = ev.session_id or ""
        owners = {(k[1], k[2]) for k, (s, _) in self._sessions.items() if s.session_id == sid}
        stored = self.store.session_subject(sid)
        if stored is not None:
            owners.add((stored, ev.device))
        if not owners or owners == {(ev.subject, ev.device)}:
            return False
        self.store.dead_letter(
            f"session:{ev.subject}/{ev.device}",
            f"session id {sid!r} belongs to another patient or sensor; start refused",
            None,
            {"t_ns": ev.t_ns, "session_id": sid},
        )
        self.stats.dead_letters += 1
        return True

    def _expire(self) -> None:
        now = time.monotonic()
        for key, (session, last) in list(self._sessions.items()):
            if now - last > self.settings.idle_timeout_s:
                self._finish(key, session.last_data_ns, "timeout")

    def _finish(self, key: tuple[str, str, str], end_ns: int, status: str) -> None:
        session, _ = self._sessions.pop(key)
        self._publish(key, session.finish(end_ns, status))
        self.stats.finished += 1
        self.stats.timed_out += status == "timeout"
        save_session(self.store, session, self.planner)
        log.info("session %s %s: %s reps", session.session_id, status, len(session.events))

    def _publish(self, key: tuple[str, str, str], events: list[Feedback]) -> None:
        if not events:
            return
        site, subject, device = key
        topic = topic_for(self._prefix, site, subject, device, FEEDBACK_STREAM)
        for fb in events:
            if self._client is not None:
                self._client.publish(topic, fb.to_json(), qos=1)
            self.stats.feedback += 1
            self.stats.reps += fb.kind == "rep"
            if self.on_feedback is not None:
                self.on_feedback(fb)
        self.stats.active = {f"{k[1]}/{k[2]}": len(v[0].events) for k, v in self._sessions.items()}
