"""Device profiles: advertised service UUID -> characteristics -> pure decoder.

A :class:`Profile` names one device family (Heart Rate, Polar PMD, ...), the service UUID it is
recognised by, the characteristics to subscribe to with the decoder for each, and the writes
that start and stop streaming. Collectors (``ingest/ble.py``) choose profiles with
:func:`profiles_for_services`; nothing here touches a radio.

Decoder contract (every ``decode`` in :mod:`devices`, a :class:`Decoder` around the family's
decoding body)::

    decode(payload, *, subject, device, host_t_ns, seq, state=None, align=None) -> list[Frame]

* ``payload``: the notification bytes, exactly as received.
* ``host_t_ns``: host receive time, UTC ns (stamped by the notification callback).
* ``seq``: the collector's running notification number, copied into every frame.
* ``state``: the per-characteristic state object made by :meth:`Characteristic.make_state`
  (counters to unwrap, sample rate, last timestamps), or None for a fresh one; mutated only
  on success.
* ``align``: for devices with their own clock, maps raw device times (ns, (N,) int64) and the
  host receive time to UTC ns; defaults to :func:`anchor_to_host`.

A decoder returns zero or more frames or raises :class:`~devices.errors.DecodeError` with the
byte offset and the reason; it never raises anything else.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.errors import DecodeError, FrameError
from devices.frame import Frame, StreamKind, make_frame

Align = Callable[[npt.NDArray[np.int64], int], npt.NDArray[np.int64]]
"""Map raw device times (ns, int64 (N,)) and the host receive time (UTC ns) to UTC ns."""

BT_BASE = "0000{:04x}-0000-1000-8000-00805f9b34fb"


def sig_uuid(short: int) -> str:
    """Full 128-bit form of a 16-bit Bluetooth SIG UUID (Core Spec Vol 3 Part B 2.5.1)."""
    return BT_BASE.format(short)


def anchor_to_host(device_t_ns: npt.NDArray[np.int64], host_t_ns: int) -> npt.NDArray[np.int64]:
    """Default alignment: the last sample of the notification is placed at the host time (ns).

    Spacing between samples keeps the device clock's spacing. Used when no clock model is
    given; ``ingest.clock.ClockEstimator`` replaces it with an offset-and-drift model.
    """
    d = np.asarray(device_t_ns, dtype=np.int64)
    return (d - d[-1]) + np.int64(host_t_ns)


def need(payload: bytes, offset: int, n: int, device: str, what: str) -> None:
    """Raise DecodeError unless ``payload`` has ``n`` bytes at ``offset``."""
    if len(payload) < offset + n:
        raise DecodeError(
            device,
            offset,
            f"{what} needs {n} byte(s) at offset {offset}, payload has {len(payload)}",
            length=len(payload),
        )


class Fields:
    """Little-endian fields read one after another from a payload (``struct`` layouts).

    For GATT measurements whose flags announce optional fields: each :meth:`take` checks the
    bytes are there (DecodeError naming the field otherwise) and moves on; :meth:`end` says
    the flags accounted for every byte.

    >>> f = Fields(bytes([0x01, 0x2C, 0x01]), "heart_rate")
    >>> f.take("<B", "flags"), f.take("<H", "u16 heart rate"), f.offset
    ((1,), (300,), 3)
    """

    def __init__(self, payload: bytes, device: str) -> None:
        self.payload = payload
        self.device = device
        self.offset = 0

    def take(self, layout: str, what: str) -> tuple[Any, ...]:
        """The values of ``layout`` (e.g. ``"<HB"``) at the current offset, then move past."""
        size = struct.calcsize(layout)
        need(self.payload, self.offset, size, self.device, what)
        values = struct.unpack_from(layout, self.payload, self.offset)
        self.offset += size
        return values

    def rest(self) -> bytes:
        """The bytes after the current offset."""
        return self.payload[self.offset :]

    def end(self) -> None:
        """Raise DecodeError if bytes remain that the flags did not announce."""
        if len(self.payload) != self.offset:
            raise DecodeError(
                self.device,
                self.offset,
                f"{len(self.payload) - self.offset} trailing byte(s) not in the flags",
            )


@dataclass(frozen=True, slots=True)
class DecodeContext:
    """What every frame of one notification shares: who sent it and when it arrived.

    :class:`Decoder` builds one per call from the contract's keyword arguments, so a
    decoding body only turns bytes into samples. ``host_t_ns`` is the host receive time
    (UTC ns).
    """

    family: str
    subject: str
    device: str
    host_t_ns: int
    seq: int
    align: Align = anchor_to_host

    def frame(
        self,
        stream: StreamKind,
        t_ns: npt.ArrayLike,
        values: npt.ArrayLike,
        *,
        fs_hz: float | None = None,
        device_t_ns: npt.ArrayLike | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Frame:
        """:func:`devices.frame.make_frame` for this notification (times in UTC ns, rate in Hz).

        A :class:`~devices.errors.FrameError` becomes a DecodeError at offset -1.
        """
        try:
            return make_frame(
                self.subject,
                self.device,
                stream,
                t_ns,
                values,
                fs_hz=fs_hz,
                seq=self.seq,
                device_t_ns=device_t_ns,
                meta={"decoder": self.family, **(meta or {})},
            )
        except FrameError as exc:
            raise DecodeError(self.family, -1, f"decoded samples are invalid: {exc}") from exc

    def at_host(
        self,
        stream: StreamKind,
        value: float | Sequence[float],
        *,
        meta: dict[str, Any] | None = None,
    ) -> Frame:
        """One sample stamped at the host receive time (UTC ns), with no sample rate.

        For devices without a clock, whose notification is one reading.
        """
        return self.frame(stream, [self.host_t_ns], [value], meta=meta)

    def to_utc(self, device_t_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Device times (ns) of this notification mapped to UTC ns by :attr:`align`."""
        return self.align(device_t_ns, self.host_t_ns)


def spaced_before(last_t_ns: int, n: int, fs_hz: float) -> npt.NDArray[np.int64]:
    """``n`` sample times (ns, int64) at ``fs_hz`` Hz, the last one at ``last_t_ns``.

    For notifications that stamp only one sample: earlier samples are placed back from it at
    the sample rate, rounded to whole ns.

    >>> spaced_before(1_000, 3, 1e9 / 250).tolist()
    [500, 750, 1000]
    """
    step_ns = round(1e9 / fs_hz)
    return np.int64(last_t_ns) - step_ns * np.arange(n - 1, -1, -1, dtype=np.int64)


DecodeBody = Callable[[bytes, DecodeContext, Any], list[Frame]]
"""A decoder's body: the payload bytes, the call's :class:`DecodeContext`, the state."""


def no_state() -> None:
    """``make_state`` of a decoder that keeps nothing between notifications."""
    return None


@dataclass(frozen=True, slots=True)
class Decoder:
    """A device family's decoder: the contract's signature (see the module docstring) around
    a body that turns bytes into frames.

    ``streams`` lists the stream kinds the body can produce (for gap bookkeeping and
    listings); ``make_state`` makes the state it keeps between notifications (none by
    default). A call copies the payload to ``bytes``, uses a fresh ``make_state()`` when given
    no state and defaults ``align`` to :func:`anchor_to_host`.
    """

    family: str
    body: DecodeBody
    streams: tuple[StreamKind, ...]
    make_state: Callable[[], Any] = no_state

    def __call__(
        self,
        payload: bytes,
        *,
        subject: str,
        device: str,
        host_t_ns: int,
        seq: int,
        state: Any = None,
        align: Align | None = None,
    ) -> list[Frame]:
        """Frames decoded from ``payload`` received at ``host_t_ns`` (UTC ns)."""
        ctx = DecodeContext(self.family, subject, device, host_t_ns, seq, align or anchor_to_host)
        return self.body(bytes(payload), ctx, self.make_state() if state is None else state)


@dataclass(frozen=True, slots=True)
class Characteristic:
    """One characteristic to subscribe to, with its decoder.

    ``notify`` is False for read-only characteristics.
    """

    uuid: str
    name: str
    decode: Decoder
    notify: bool = True

    @property
    def streams(self) -> tuple[StreamKind, ...]:
        """The stream kinds the decoder can produce."""
        return self.decode.streams

    def make_state(self) -> Any:
        """A fresh decoder state for one subscription (None for a decoder that keeps none)."""
        return self.decode.make_state()


@dataclass(frozen=True, slots=True)
class Profile:
    """A device family recognised by an advertised (or discovered) service UUID.

    ``start`` are ``(characteristic uuid, bytes)`` writes sent after subscribing (e.g. the Polar
    PMD start command); ``stop`` are sent before unsubscribing. ``device_clock`` is True when
    frames carry device time (``Frame.device_t_ns``) that a clock model should align.
    ``optional`` profiles (battery) are added when found in GATT but never chosen alone.
    """

    name: str
    service_uuid: str
    characteristics: tuple[Characteristic, ...]
    spec: str
    start: tuple[tuple[str, bytes], ...] = ()
    stop: tuple[tuple[str, bytes], ...] = ()
    device_clock: bool = False
    optional: bool = False
    names: tuple[str, ...] = field(default=())

    def characteristic(self, uuid: str) -> Characteristic | None:
        """The characteristic with this UUID (case-insensitive), or None."""
        u = uuid.lower()
        return next((c for c in self.characteristics if c.uuid == u), None)


@functools.cache
def profiles() -> tuple[Profile, ...]:
    """All known profiles, most specific first (vendor IMU streams before SIG services)."""
    from devices import (
        gatt_battery,
        gatt_csc,
        gatt_heart_rate,
        gatt_rsc,
        movesense,
        polar_pmd,
        witmotion,
    )

    return (
        polar_pmd.PROFILE,
        movesense.PROFILE,
        witmotion.PROFILE,
        gatt_heart_rate.PROFILE,
        gatt_rsc.PROFILE,
        gatt_csc.PROFILE,
        gatt_battery.PROFILE,
    )


def _norm(uuids: Iterable[str]) -> set[str]:
    out = set()
    for u in uuids:
        s = str(u).lower()
        if len(s) == 4:
            s = sig_uuid(int(s, 16))
        out.add(s)
    return out


def profiles_for_services(uuids: Iterable[str], *, include_optional: bool = False) -> list[Profile]:
    """Profiles whose service UUID is among ``uuids`` (16-bit or 128-bit strings).

    Optional profiles (battery) are included only with ``include_optional``; an empty list
    means the device is not one we know.
    """
    have = _norm(uuids)
    return [
        p for p in profiles() if p.service_uuid in have and (include_optional or not p.optional)
    ]


def describe_unknown(name: str | None, address: str, uuids: Sequence[str]) -> str:
    """One line saying what an unknown device advertises and which services we know."""
    known = ", ".join(f"{p.name} ({p.service_uuid})" for p in profiles() if not p.optional)
    adv = ", ".join(sorted(uuids)) or "no service UUIDs"
    return f"{name or '?'} [{address}] advertises {adv}; known services: {known}"
