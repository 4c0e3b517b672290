"""Errors of the ingest layer: the embedded store and the collectors.

They extend :class:`devices.errors.AdherenceError`, so a caller that catches the base catches these.
"""

from __future__ import annotations

from devices.errors import AdherenceError


class StoreError(AdherenceError):
    """The local store could not complete an operation."""


class CollectorError(AdherenceError):
    """A collector (BLE, MQTT) could not continue: device vanished, broker refused, ..."""
