"""Errors of the adherence layer: care plans and external sinks.

They extend :class:`devices.errors.AdherenceError`, so a caller that catches the base catches these.
"""

from __future__ import annotations

from devices.errors import AdherenceError, DataFileError


class PlanError(DataFileError):
    """A care plan is invalid; ``field`` names the offending field path."""

    def __init__(self, path: str, field: str, why: str) -> None:
        self.field = field
        AdherenceError.__init__(self, "care plan", f"{path}: {field}", why)
        self.path = path


class SinkError(AdherenceError):
    """An external sink (InfluxDB) rejected or failed a write.

    ``permanent`` tells the outbox sender whether retrying can ever succeed.
    """

    def __init__(self, sink: str, why: str, *, status: int | None, permanent: bool) -> None:
        self.status = status
        self.permanent = permanent
        super().__init__("write", sink, why, status=status, permanent=permanent)
