"""The ``mqtt_events`` table: session start/stop events and device status changes.

These are not sample frames, so they get a small table of their own beside the store's tables
(created here with ``CREATE TABLE IF NOT EXISTS``; :mod:`ingest.store` is not changed). The
live-session issue reads session events from here.

Rows are unique on (device, kind, t_ns, seq, session_id): a redelivered or replayed message adds
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from devices.mqtt_wire import DeviceEvent
from ingest.store import Store

_DDL = (
    """CREATE TABLE IF NOT EXISTS mqtt_events (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    subject TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    t_ns INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    session_id TEXT NOT NULL DEFAULT '',
    exercise TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    UNIQUE (device, kind, t_ns, seq, session_id)
)""",
    "CREATE INDEX IF NOT EXISTS mqtt_events_by_subject ON mqtt_events (subject, t_ns)",
)


def ensure_events_table(store: Store) -> None:
    """Create the ``mqtt_events`` table and its index if missing (idempotent)."""
    with store.transaction():
        for ddl in _DDL:
            store._db.execute(ddl)


def put_events(store: Store, events: Iterable[DeviceEvent]) -> int:
    """Store events (joining an open transaction); return how many were new."""
    rows = [
        (
            e.site,
            e.subject,
            e.device,
            e.kind,
            int(e.t_ns),
            int(e.seq),
            e.session_id or "",
            e.exercise,
            json.dumps(e.detail, sort_keys=True),
        )
        for e in events
    ]
    if not rows:
        return 0
    with store.transaction():
        before = store._db.total_changes
        store._db.executemany(
            "INSERT OR IGNORE INTO mqtt_events (site, subject, device, kind, t_ns, seq,"
            " session_id, exercise, detail) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        return int(store._db.total_changes - before)


def events(
    store: Store, *, subject: str | None = None, kind: str | None = None
) -> list[DeviceEvent]:
    """Stored events in time order (then seq), optionally for one subject and/or kind.

    ``kind`` is ``"session_start"``, ``"session_stop"`` or ``"status"``; times are UTC ns.
    """
    sql = (
        "SELECT site, subject, device, kind, t_ns, seq, session_id, exercise, detail"
        " FROM mqtt_events WHERE 1=1"
    )
    params: list[str] = []
    if subject is not None:
        sql += " AND subject=?"
        params.append(subject)
    if kind is not None:
        sql += " AND kind=?"
        params.append(kind)
    rows = store.execute(sql + " ORDER BY t_ns, seq, id", params)
    return [
        DeviceEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or None, r[7], json.loads(r[8]))
        for r in rows
    ]
