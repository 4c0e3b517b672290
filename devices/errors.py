"""Error hierarchy shared by every layer.

Every error carries data, not only a message: *what* went wrong, *where* (a file, a device, a
byte offset, a field) and *why*. Services turn these into dead-letter records; commands turn them
into a one-line message and exit code 2. The hierarchy follows bleak's habit (``BleakError`` with
data-carrying subclasses): catch :class:`AdherenceError` to catch them all.
"""

from __future__ import annotations

from typing import Any


class AdherenceError(Exception):
    """Base of all errors raised by adherence-pipeline.

    Parameters
    ----------
    what:
        Short name of the thing that was wrong (``"frame"``, ``"care plan"``, ``"payload"``).
    where:
        Location: a file path, ``device@offset``, a field path such as ``plans[0].step_goal``.
    why:
        Human-readable reason.
    """

    def __init__(self, what: str, where: str, why: str, **context: Any) -> None:
        self.what = what
        self.where = where
        self.why = why
        self.context = context
        super().__init__(f"{what} at {where}: {why}" if where else f"{what}: {why}")

    def as_record(self) -> dict[str, Any]:
        """Return a JSON-serialisable record (used for dead-letter rows)."""
        rec: dict[str, Any] = {
            "error": type(self).__name__,
            "what": self.what,
            "where": self.where,
            "why": self.why,
        }
        for key, value in self.context.items():
            rec[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        return rec


class InputError(AdherenceError, ValueError):
    """Invalid input to a pure function (shape, NaN, sample rate, timestamps).

    Also a :class:`ValueError`, as scipy-style callers expect.
    """


class FrameError(InputError):
    """A sample frame failed validation on construction."""


class DecodeError(AdherenceError, ValueError):
    """Bytes or a payload could not be decoded.

    Parameters
    ----------
    device:
        Device family or id whose decoder failed (``"heart_rate"``, ``"polar_pmd"``).
    offset:
        Byte offset in the payload where decoding failed (``-1`` if not byte-oriented).
    reason:
        Why it failed.
    """

    def __init__(self, device: str, offset: int, reason: str, **context: Any) -> None:
        self.device = device
        self.offset = offset
        self.reason = reason
        super().__init__("payload", f"{device}@{offset}", reason, **context)


class DataFileError(AdherenceError):
    """A sample file, care plan or configuration file is missing or corrupt."""

    def __init__(self, path: str, why: str, **context: Any) -> None:
        self.path = path
        super().__init__("file", path, why, **context)


class ConfigError(AdherenceError):
    """A configuration value is invalid or missing."""
