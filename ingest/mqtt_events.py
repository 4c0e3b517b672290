"""The ``mqtt_events`` table: session start/stop events and device status changes.

The table is part of the store's own schema (``ingest/store.py``, schema version 2, with a
migration for older files); its SQL lives in :meth:`ingest.store.Store.put_events` and
:meth:`ingest.store.Store.events`. These functions remain for callers written against this
module.

Rows are unique on (device, kind, t_ns, seq, session_id): a redelivered or replayed message adds
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.mqtt_wire import DeviceEvent
from ingest.store import Store


def ensure_events_table(store: Store) -> None:
    """Nothing to do: every open store has the table (kept for older callers)."""
    del store


def put_events(store: Store, events: Iterable[DeviceEvent]) -> int:
    """Store events (joining an open transaction); return how many were new."""
    return store.put_events(events)


def events(
    store: Store, *, subject: str | None = None, kind: str | None = None
) -> list[DeviceEvent]:
    """Stored events in time order (then seq), optionally for one subject and/or kind.

    ``kind`` is ``"session_start"``, ``"session_stop"`` or ``"status"``; times are UTC ns.
    """
    return store.events(subject=subject, kind=kind)
