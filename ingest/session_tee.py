"""A store wrapper that also feeds a live session: the BLE terminal mode of ``adherence session``.

The BLE collector (:class:`ingest.ble.BleCollector`) writes frames to a store; wrapped in a
:class:`SessionTee`, the same frames also go to :meth:`ingest.session.LiveSession.feed`, so the
patient sees each repetition as it is counted while everything is still stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from devices.frame import Frame
from ingest.session import Feedback, LiveSession
from ingest.store import Store

__all__ = ["SessionTee"]


class SessionTee:
    """A store wrapper for the BLE collector: stores frames and feeds them to a live session.

    Everything the collector calls is passed on to the real store; accelerometer frames also go
    through :meth:`ingest.session.LiveSession.feed` (in time order), and each feedback event is
    handed to ``on_feedback``.
    """

    def __init__(
        self, store: Store, session: LiveSession, on_feedback: Callable[[Feedback], Any]
    ) -> None:
        self._store = store
        self.session = session
        self.on_feedback = on_feedback
        self._lock = threading.Lock()

    def put_frames(self, frames: list[Frame]) -> int:
        """Store ``frames`` (returns how many were new), then feed them to the session."""
        n = self._store.put_frames(frames)
        with self._lock:
            for f in sorted(frames, key=lambda f: f.start_ns):
                for fb in self.session.feed(f):
                    self.on_feedback(fb)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
