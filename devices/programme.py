"""Programme events from the patient's app: education, CBT, mindfulness, coaching, posts, pain.

A pure decoder (no paho) for the ``programme`` stream, topic
``<prefix>/<site>/<subject>/<device>/programme`` where ``<device>`` is the app. Payload, versioned
JSON like the session events (layout and examples in ``docs/mqtt.md``, machine-readable form in
``devices/schemas/mqtt-programme-1.schema.json``)::

    {"v": 1, "seq": N, "events": [{"event_id": "...", "event": KIND, "t_ns": ..., ...}]}

================================================  =============================================
``event``                                         fields besides ``event_id``, ``event``, ``t_ns``
================================================  =============================================
``education_opened``, ``education_completed``     ``item_id`` (id), ``minutes`` (number >= 0)
``cbt_completed``, ``mindfulness_completed``      ``module_id`` (id), ``minutes`` (number >= 0)
``coaching_contact``                              ``channel`` (call|message), ``by``
                                                  (coach|patient), optional ``minutes``
``community_post``                                none
``pain``                                          ``nrs``: the daily pain numeric rating scale,
                                                  0-10 (0 no pain, 10 worst imaginable)
``peg``                                           ``items``: [pain on average, interference with
                                                  enjoyment of life, interference with general
                                                  activity], each 0-10
================================================  =============================================

Every event carries an ``event_id`` chosen by the app: (subject, event_id) is the event's
identity, so a replayed message, or the same event re-sent inside another message, is stored
once. Ids follow :data:`devices.frame.ID_PATTERN`, times are UTC ns within 2000-2100, integers
fit int64 and numbers are finite. A bad event raises :class:`devices.errors.DecodeError` naming
``events[i].field``; the collector dead-letters the whole message with that reason.

The PEG scale (Pain, Enjoyment of life, General activity) is from Krebs EE et al., "Development
and initial validation of the PEG, a three-item scale assessing pain intensity and interference",
J Gen Intern Med 2009;24(6):733-738, doi:10.1007/s11606-009-0981-1 (public domain); it is scored
in :mod:`adherence.outcomes`. This module only carries the three items.

Typed result: :class:`ProgrammeEvent` (a dataclass of its own, so each kind's fields are typed),
with :meth:`ProgrammeEvent.to_device_event` / :func:`from_device_event` converting to and from
:class:`devices.mqtt_wire.DeviceEvent` (``kind="programme_<event>"``, ``session_id=event_id``,
the fields in ``detail``) for code that handles every MQTT event alike.

Session events (``session`` stream) may carry ``pain_before`` on ``start`` and ``pain_after`` on
``stop`` (0-10): :func:`decode_session_pain` checks those two fields for the session decoder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devices.errors import DecodeError
from devices.frame import ID_PATTERN, MAX_T_NS, MIN_T_NS
from devices.mqtt_wire import JSON_VERSION, DeviceEvent, TopicParts, load_json_object

__all__ = [
    "PROGRAMME_STREAM",
    "PROGRAMME_EVENTS",
    "CHANNELS",
    "BY",
    "ProgrammeEvent",
    "decode_programme",
    "decode_programme_payload",
    "decode_session_pain",
    "encode_programme_events",
    "encode_session_event_with_pain",
    "from_device_event",
    "programme_event",
    "programme_device_events",
    "split_programme_events",
]

PROGRAMME_STREAM = "programme"
"""Topic stream name of programme events (published by the patient's app)."""
KIND_PREFIX = "programme_"
"""Prefix of :attr:`DeviceEvent.kind` for programme events (``programme_pain``, ...)."""
CHANNELS = frozenset({"call", "message"})
BY = frozenset({"coach", "patient"})
MAX_EVENTS = 1_000
"""Most events in one message (a day of app use is far fewer)."""
MAX_MINUTES = 24 * 60
"""Longest duration one event may report, minutes (a day)."""
NRS_MIN, NRS_MAX = 0.0, 10.0
INT64_MAX = 2**63 - 1

_ITEM = ("item_id", "minutes")
_MODULE = ("module_id", "minutes")
#: Required fields per event kind (besides event_id, event, t_ns), and optional ones.
PROGRAMME_EVENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "education_opened": (_ITEM, ()),
    "education_completed": (_ITEM, ()),
    "cbt_completed": (_MODULE, ()),
    "mindfulness_completed": (_MODULE, ()),
    "coaching_contact": (("channel", "by"), ("minutes",)),
    "community_post": ((), ()),
    "pain": (("nrs",), ()),
    "peg": (("items",), ()),
}
"""Event kinds: ``kind -> (required fields, optional fields)`` besides id, kind and time."""
_COMMON = ("event_id", "event", "t_ns")


@dataclass(frozen=True, slots=True)
class ProgrammeEvent:
    """One decoded programme event.

    Attributes
    ----------
    site, subject, device:
        From the topic (``device`` is the app).
    event_id:
        The app's id of the event; (subject, event_id) is its identity.
    event:
        One of :data:`PROGRAMME_EVENTS` (``"education_completed"``, ``"pain"``, ...).
    t_ns:
        When it happened, UTC ns (the app's clock).
    seq:
        Sequence number of the carrying message.
    item_id, module_id:
        Education item id / CBT or mindfulness module id, where the kind has one.
    minutes:
        Time spent, minutes (education, CBT, mindfulness; optional for coaching).
    channel, by:
        Coaching contact: ``"call"`` or ``"message"``; ``"coach"`` or ``"patient"``.
    nrs:
        Pain numeric rating scale 0-10 (``pain`` events).
    peg_items:
        The three PEG items, each 0-10 (``peg`` events).
    """

    site: str
    subject: str
    device: str
    event_id: str
    event: str
    t_ns: int
    seq: int
    item_id: str | None = None
    module_id: str | None = None
    minutes: float | None = None
    channel: str | None = None
    by: str | None = None
    nrs: float | None = None
    peg_items: tuple[float, float, float] | None = None

    def fields(self) -> dict[str, Any]:
        """The kind-specific fields as JSON-ready values (what the wire carries besides id/time)."""
        out: dict[str, Any] = {}
        for name in ("item_id", "module_id", "minutes", "channel", "by", "nrs"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.peg_items is not None:
            out["items"] = list(self.peg_items)
        return out

    def to_device_event(self) -> DeviceEvent:
        """As a generic MQTT event: ``kind="programme_<event>"``, ``session_id=event_id``."""
        return DeviceEvent(
            self.site,
            self.subject,
            self.device,
            KIND_PREFIX + self.event,
            self.t_ns,
            self.seq,
            self.event_id,
            None,
            self.fields(),
        )


def from_device_event(e: DeviceEvent) -> ProgrammeEvent:
    """Inverse of :meth:`ProgrammeEvent.to_device_event` (raises ValueError for other kinds)."""
    if not e.kind.startswith(KIND_PREFIX) or e.session_id is None:
        raise ValueError(f"not a programme event: kind {e.kind!r}")
    return programme_event(
        e.site, e.subject, e.device, e.session_id, e.kind[len(KIND_PREFIX) :], e.t_ns, e.seq,
        **e.detail,
    )  # fmt: skip


def programme_event(
    site: str,
    subject: str,
    device: str,
    event_id: str,
    event: str,
    t_ns: int,
    seq: int = 0,
    **fields: Any,
) -> ProgrammeEvent:
    """Build a validated :class:`ProgrammeEvent` from its wire fields (``items`` for PEG).

    Raises :class:`DecodeError` (as the decoder does) when a field is wrong.
    """
    body = {"event_id": event_id, "event": event, "t_ns": t_ns, **fields}
    parts = TopicParts("", site, subject, device, PROGRAMME_STREAM)
    return _decode_event(parts, seq, 0, body)


# -- field checks -------------------------------------------------------------------------------
def _fail(dev: str, i: int, name: str, why: str) -> DecodeError:
    return DecodeError(dev, -1, f"events[{i}].{name} {why}", field=f"events[{i}].{name}")


def _ident(dev: str, i: int, name: str, value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise _fail(dev, i, name, f"must be an id (1-64 of [A-Za-z0-9_.:-]), got {value!r}")
    return value


def _number(dev: str, i: int, name: str, value: Any, lo: float, hi: float) -> float:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, int) or abs(value) <= INT64_MAX)
        and math.isfinite(value)
        and lo <= value <= hi
    )
    if not ok:
        raise _fail(dev, i, name, f"must be a finite number in {lo:g}-{hi:g}, got {value!r}")
    return float(value)


def _t_ns(dev: str, i: int, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_T_NS <= value < MAX_T_NS:
        raise _fail(dev, i, "t_ns", f"must be UTC ns in 2000-2100, got {value!r}")
    return value


def _choice(dev: str, i: int, name: str, value: Any, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise _fail(dev, i, name, f"must be one of {', '.join(sorted(allowed))}, got {value!r}")
    return str(value)


def _peg(dev: str, i: int, value: Any) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise _fail(dev, i, "items", f"must be a list of 3 numbers 0-10, got {value!r}")
    a, b, c = (_number(dev, i, f"items[{k}]", v, NRS_MIN, NRS_MAX) for k, v in enumerate(value))
    return a, b, c


def _check_keys(dev: str, i: int, e: dict[str, Any], kind: str) -> None:
    required, optional = PROGRAMME_EVENTS[kind]
    for name in required:
        if name not in e:
            raise _fail(dev, i, name, f"is required for {kind}")
    allowed = set(_COMMON) | set(required) | set(optional)
    for name in e:
        if name not in allowed:
            raise _fail(dev, i, str(name), f"is not a field of {kind}")


def _decode_event(parts: TopicParts, seq: int, i: int, e: Any) -> ProgrammeEvent:
    dev = parts.device
    if not isinstance(e, dict):
        raise DecodeError(dev, -1, f"events[{i}] must be an object", field=f"events[{i}]")
    kind = e.get("event")
    if not isinstance(kind, str) or kind not in PROGRAMME_EVENTS:
        raise _fail(dev, i, "event", f"must be one of {', '.join(PROGRAMME_EVENTS)}, got {kind!r}")
    event_id = _ident(dev, i, "event_id", e.get("event_id"))
    t_ns = _t_ns(dev, i, e.get("t_ns"))
    _check_keys(dev, i, e, kind)
    f: dict[str, Any] = {}
    if "item_id" in e:
        f["item_id"] = _ident(dev, i, "item_id", e["item_id"])
    if "module_id" in e:
        f["module_id"] = _ident(dev, i, "module_id", e["module_id"])
    if "minutes" in e:
        f["minutes"] = _number(dev, i, "minutes", e["minutes"], 0.0, MAX_MINUTES)
    if "channel" in e:
        f["channel"] = _choice(dev, i, "channel", e["channel"], CHANNELS)
    if "by" in e:
        f["by"] = _choice(dev, i, "by", e["by"], BY)
    if "nrs" in e:
        f["nrs"] = _number(dev, i, "nrs", e["nrs"], NRS_MIN, NRS_MAX)
    if "items" in e:
        f["peg_items"] = _peg(dev, i, e["items"])
    return ProgrammeEvent(
        parts.site, parts.subject, dev, event_id, kind, t_ns, seq, **f
    )  # fmt: skip


# -- decoding -----------------------------------------------------------------------------------
def decode_programme(parts: TopicParts, obj: dict[str, Any]) -> tuple[ProgrammeEvent, ...]:
    """Decode a parsed ``programme`` payload (``{"v": 1, "seq": N, "events": [...]}``).

    Parameters
    ----------
    parts:
        The message's topic (site, subject, app device id).
    obj:
        The decoded JSON object (its ``v`` already checked by the caller, or not: it is checked
        again here).

    Raises
    ------
    DecodeError
        Naming the field (``events[2].nrs must be a finite number in 0-10, got 11``).
    """
    dev = parts.device
    if obj.get("v") != JSON_VERSION:
        raise DecodeError(dev, -1, f"'v' must be {JSON_VERSION}, got {obj.get('v')!r}", field="v")
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= INT64_MAX:
        raise DecodeError(dev, -1, f"'seq' must be an integer 0-2**63-1, got {seq!r}", field="seq")
    events = obj.get("events")
    if not isinstance(events, list) or not events:
        raise DecodeError(dev, -1, "'events' must be a non-empty list", field="events")
    if len(events) > MAX_EVENTS:
        why = f"{len(events)} events exceeds {MAX_EVENTS}"
        raise DecodeError(dev, -1, why, field="events")
    for name in obj:
        if name not in ("v", "seq", "events"):
            raise DecodeError(dev, -1, f"unknown field {name!r}", field=str(name))
    return tuple(_decode_event(parts, seq, i, e) for i, e in enumerate(events))


def decode_programme_payload(parts: TopicParts, payload: bytes) -> tuple[ProgrammeEvent, ...]:
    """Decode raw ``programme`` payload bytes (UTF-8 JSON); raise DecodeError with the reason."""
    obj = load_json_object(parts.device, payload)
    return decode_programme(parts, obj)


def decode_session_pain(dev: str, i: int, event: dict[str, Any]) -> dict[str, float]:
    """Pain scores carried on session event ``events[i]``: ``pain_before`` / ``pain_after``.

    ``pain_before`` (0-10, NRS just before exercising) may only be on a ``start``,
    ``pain_after`` (0-10, just after) only on a ``stop``. Returns the fields present, as floats,
    for ``DeviceEvent.detail``; an empty dict when there are none.

    Raises
    ------
    DecodeError
        Naming ``events[i].pain_before`` / ``events[i].pain_after`` and the reason.
    """
    out: dict[str, float] = {}
    kind = event.get("event")
    for name, allowed in (("pain_before", "start"), ("pain_after", "stop")):
        if name not in event:
            continue
        if kind != allowed:
            raise _fail(dev, i, name, f"belongs on a {allowed} event, not on {kind!r}")
        out[name] = _number(dev, i, name, event[name], NRS_MIN, NRS_MAX)
    return out


def programme_device_events(parts: TopicParts, obj: dict[str, Any]) -> tuple[DeviceEvent, ...]:
    """:func:`decode_programme` as generic :class:`DeviceEvent` s (for ``Decoded.events``)."""
    return tuple(e.to_device_event() for e in decode_programme(parts, obj))


def split_programme_events(
    events: Iterable[DeviceEvent],
) -> tuple[list[ProgrammeEvent], list[DeviceEvent]]:
    """Split decoded MQTT events into programme events (typed) and all the others, in order.

    The collector stores the first with ``Store.put_programme_events`` and the second as before.
    """
    programme: list[ProgrammeEvent] = []
    others: list[DeviceEvent] = []
    for e in events:
        if e.kind.startswith(KIND_PREFIX):
            programme.append(from_device_event(e))
        else:
            others.append(e)
    return programme, others


# -- encoding -----------------------------------------------------------------------------------
def encode_programme_events(seq: int, events: list[ProgrammeEvent] | list[dict[str, Any]]) -> bytes:
    """Encode programme events as one ``programme`` payload (times UTC ns, minutes, NRS 0-10).

    ``events`` are :class:`ProgrammeEvent` objects, or wire dicts (``{"event_id": ...,
    "event": ..., "t_ns": ..., ...}``) passed through as they are (tests build bad ones so).
    """
    body: list[dict[str, Any]] = []
    for e in events:
        if isinstance(e, ProgrammeEvent):
            body.append({"event_id": e.event_id, "event": e.event, "t_ns": e.t_ns, **e.fields()})
        else:
            body.append(dict(e))
    doc = {"v": JSON_VERSION, "seq": int(seq), "events": body}
    return json.dumps(doc, separators=(",", ":")).encode()


def encode_session_event_with_pain(
    seq: int,
    event: str,
    t_ns: int,
    session_id: str,
    exercise: str,
    plan_entry: str | None = None,
    *,
    pain: float | None = None,
) -> bytes:
    """Encode one session start/stop event carrying a pain score (NRS 0-10).

    ``pain`` goes out as ``pain_before`` on a ``start`` and ``pain_after`` on a ``stop``; the
    other arguments are as for :func:`devices.mqtt_wire.encode_session_event`.
    """
    e: dict[str, Any] = {"event": event, "t_ns": int(t_ns), "session_id": session_id}
    e["exercise"] = exercise
    if plan_entry is not None:
        e["plan_entry"] = plan_entry
    if pain is not None:
        e["pain_before" if event == "start" else "pain_after"] = pain
    doc = {"v": JSON_VERSION, "seq": int(seq), "events": [e]}
    return json.dumps(doc, separators=(",", ":")).encode()
