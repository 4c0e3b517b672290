"""The contract every collector implements: the one interface ``adherence serve`` runs.

A collector moves data from one kind of source (a BLE wearable, an MQTT broker) into the
embedded :class:`ingest.store.Store`. Like bleak's backend interface
(``bleak/backends/client.py``), the docstrings of :class:`Collector` are the contract for
implementers; :class:`ingest.ble.BleCollector` and :class:`ingest.mqtt.MqttCollector` are the
two implementations. A service holds collectors only through this protocol, so a test can plug
in any object that keeps it.

What a collector promises
-------------------------
Writes
    Only through the store's methods, never SQL of its own: sample frames with
    ``Store.put_frames`` (idempotent, so redeliveries are harmless), refused inputs with
    ``Store.dead_letter`` (source ``"<kind>:<where>"`` and the reason; a bad payload never stops
    collection and is never dropped silently), and whatever else :attr:`Collector.writes` names.
Gaps
    Missing data is recorded, not hidden: a stretch of a stream that the collector knows it did
    not receive (dropped notifications, a disconnection, sequence numbers still missing after a
    reorder timeout) goes to the store's ``gaps`` table with ``Store.put_gap(device, stream,
    start_ns, end_ns, reason, subject=...)``, times in UTC ns.
Errors
    A condition it cannot recover from ends :meth:`Collector.collect` with an
    :class:`devices.errors.AdherenceError` naming what was wrong:
    :class:`ingest.errors.CollectorError` for the source (device refused or not found within
    its attempts, broker refused credentials or subscription), and for a failing store either
    the store's :class:`ingest.errors.StoreError` (BLE) or a CollectorError raised from it
    (MQTT, after acknowledging nothing of the failed batch). Transient conditions (link loss,
    broker restart) are retried inside :meth:`Collector.collect`.
Stopping
    :meth:`Collector.collect` returns soon after ``stop`` is set, having committed what it
    received (nothing acknowledged or counted is left uncommitted).
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

__all__ = ["Collector", "STORE_TABLES_WRITTEN"]

#: Tables of the store a collector may write (see :attr:`Collector.writes`).
STORE_TABLES_WRITTEN = frozenset({"frames", "gaps", "dead_letter", "mqtt_events"})


@runtime_checkable
class Collector(Protocol):
    """One source of data for the store, run in a thread of its own until stopped."""

    @property
    def name(self) -> str:
        """Short name of the source kind (``"ble"``, ``"mqtt"``): thread name and status label."""
        ...

    @property
    def writes(self) -> frozenset[str]:
        """Names of the store tables it writes (a subset of :data:`STORE_TABLES_WRITTEN`)."""
        ...

    def collect(self, stop: threading.Event) -> None:
        """Collect in the calling thread until ``stop`` is set, then return.

        Blocking by contract, whatever the implementation uses inside (bleak runs on a private
        asyncio loop, paho on its network thread). Raises an
        :class:`devices.errors.AdherenceError` (see "Errors" above) when it cannot go on.
        """
        ...

    def status_text(self) -> str:
        """One short line of live state for a status display (e.g. ``connected=True
        frames=120``); safe to call from another thread while :meth:`collect` runs."""
        ...
