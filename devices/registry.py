"""Device profiles: advertised service UUID -> characteristics -> pure decoder.

A :class:`Profile` names one device family (Heart Rate, Polar PMD, ...), the service UUID it is
recognised by, the characteristics to subscribe to with the decoder for each, and the writes
that start and stop streaming. Collectors (``ingest/ble.py``) choose profiles with
:func:`profiles_for_services`; nothing here touches a radio.

Decoder contract (every ``decode`` function in :mod:`devices`)::

    decode(payload, *, subject, device, host_t_ns, seq, state, align=None) -> list[Frame]

* ``payload``: the notification bytes, exactly as received.
* ``host_t_ns``: host receive time, UTC ns (stamped by the notification callback).
* ``seq``: the collector's running notification number, copied into every frame.
* ``state``: the per-characteristic state object made by :attr:`Characteristic.make_state`
  (counters to unwrap, sample rate, last timestamps); mutated only on success.
* ``align``: for devices with their own clock, maps raw device times (ns, (N,) int64) and the
  host receive time to UTC ns; defaults to :func:`anchor_to_host`.

A decoder returns zero or more frames or raises :class:`~devices.errors.DecodeError` with the
byte offset and the reason; it never raises anything else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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


def frame(
    device_family: str,
    subject: str,
    device: str,
    stream: StreamKind,
    t_ns: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    fs_hz: float | None,
    seq: int,
    device_t_ns: npt.ArrayLike | None = None,
    meta: dict[str, Any] | None = None,
) -> Frame:
    """:func:`devices.frame.make_frame`, turning a FrameError into a DecodeError (offset -1)."""
    try:
        return make_frame(
            subject,
            device,
            stream,
            t_ns,
            values,
            fs_hz=fs_hz,
            seq=seq,
            device_t_ns=device_t_ns,
            meta={"decoder": device_family, **(meta or {})},
        )
    except FrameError as exc:
        raise DecodeError(device_family, -1, f"decoded samples are invalid: {exc}") from exc


class DecodeFn(Protocol):
    """Signature shared by every decoder (see the module docstring)."""

    def __call__(
        self,
        payload: bytes,
        *,
        subject: str,
        device: str,
        host_t_ns: int,
        seq: int,
        state: Any,
        align: Align | None = None,
    ) -> list[Frame]: ...


def _no_state() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Characteristic:
    """One characteristic to subscribe to, with its decoder.

    ``streams`` lists the stream kinds the decoder can produce (for gap bookkeeping and
    listings); ``notify`` is False for read-only characteristics.
    """

    uuid: str
    name: str
    decode: DecodeFn
    streams: tuple[StreamKind, ...]
    make_state: Callable[[], Any] = _no_state
    notify: bool = True


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
