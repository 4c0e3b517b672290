"""Read queries of the store for derivation, scoring, reports and exports, as typed rows.

:class:`StoreReads` is a mixin of :class:`ingest.store.Store`: callers use these methods instead
of writing SQL (the rule: all SQL lives in ``ingest.store``). Every method is read-only and
returns frozen dataclasses whose field names carry units (``*_ns`` UTC nanoseconds, ``*_s``
seconds, ``*_spm`` steps per minute, ``*_min`` minutes, ``*_deg`` degrees, ``*_hz`` hertz).
Local days are ISO ``YYYY-MM-DD`` strings, as stored in ``daily_summary`` and ``scores``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BoutRow",
    "DailyRow",
    "DeviceStreamRow",
    "MinuteRow",
    "RepetitionRow",
    "SessionSummaryRow",
    "SetRow",
    "StoreReads",
    "SummaryRow",
]


@dataclass(frozen=True, slots=True)
class MinuteRow:
    """Steps in one UTC minute: start (UTC ns), steps, cadence (steps/min) and wear."""

    minute_ns: int
    steps: int
    cadence_spm: float | None
    wear: bool


@dataclass(frozen=True, slots=True)
class BoutRow:
    """One walking bout: start and end (UTC ns), steps and cadence (steps/min)."""

    start_ns: int
    end_ns: int
    steps: int
    cadence_spm: float | None


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One local day of ``daily_summary``: steps, worn and active minutes, judgeable."""

    day: str
    steps: int
    wear_min: int
    active_min: int
    judgeable: bool


@dataclass(frozen=True, slots=True)
class DailyRow:
    """A daily summary with the day's stored score (``composite`` 0-100, ``detail`` its JSON
    detail; None and ``{}`` when the day has no score or an unreadable detail)."""

    summary: SummaryRow
    composite: float | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionSummaryRow:
    """One session without its repetitions: times in UTC ns, numbers of sets and repetitions,
    and the session metadata (``{}`` when unreadable)."""

    session_id: str
    exercise: str
    plan_entry: str | None
    start_ns: int
    end_ns: int
    status: str
    source: str
    meta: dict[str, Any]
    n_sets: int
    n_reps: int


@dataclass(frozen=True, slots=True)
class SetRow:
    """One set of a session: index (from 0), start and end (UTC ns), repetitions counted."""

    session_id: str
    set_index: int
    start_ns: int
    end_ns: int
    reps: int


@dataclass(frozen=True, slots=True)
class RepetitionRow:
    """One repetition: times in UTC ns, duration in s, range of motion in degrees."""

    session_id: str
    set_index: int
    rep_index: int
    start_ns: int
    end_ns: int
    duration_s: float
    rom_deg: float | None


@dataclass(frozen=True, slots=True)
class DeviceStreamRow:
    """Frames of one device and stream at one nominal rate: counts and the covered UTC ns."""

    device: str
    stream: str
    fs_hz: float | None
    frames: int
    samples: int
    first_ns: int
    last_ns: int


def _json_dict(text: str | None) -> dict[str, Any]:
    """A stored JSON object, or ``{}`` when missing, unreadable or not an object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_SESSION_RANGE = " WHERE s.subject=? AND s.start_ns>=? AND s.start_ns<?"
#: Columns that may hold a raw id that must never leave the store in an export.
_ID_COLUMNS = (
    "SELECT DISTINCT device FROM frames",
    "SELECT DISTINCT device FROM gaps",
    "SELECT DISTINCT subject FROM frames",
    "SELECT DISTINCT subject FROM sessions",
    "SELECT DISTINCT session_id FROM sessions",
    "SELECT DISTINCT subject FROM daily_summary",
)


class StoreReads:
    """Typed read queries (mixed into :class:`ingest.store.Store`, which provides ``_query``)."""

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError  # pragma: no cover - provided by Store

    # -- subjects and ids -------------------------------------------------------------------
    def all_subjects(self) -> list[str]:
        """Every subject id in any table with a subject (frames, sessions, summaries, minutes,
        bouts, scores), sorted."""
        rows = self._query(
            "SELECT subject FROM frames UNION SELECT subject FROM sessions"
            " UNION SELECT subject FROM daily_summary UNION SELECT subject FROM steps_minute"
            " UNION SELECT subject FROM walking_bouts UNION SELECT subject FROM scores ORDER BY 1"
        )
        return [r[0] for r in rows]

    def raw_ids(self) -> set[str]:
        """Every raw id in the store (devices, subjects, session ids, devices named in session
        metadata): the strings a pseudonymised export must never contain."""
        out: set[str] = set()
        for sql in _ID_COLUMNS:
            out.update(str(r[0]) for r in self._query(sql) if r[0])
        for (meta,) in self._query("SELECT DISTINCT meta FROM sessions"):
            dev = _json_dict(meta).get("device")
            if isinstance(dev, str) and dev:
                out.add(dev)
        return out

    def devices_of(self, subject: str, stream: str) -> list[str]:
        """Devices with frames of ``stream`` (a :class:`devices.frame.StreamKind` value) for
        ``subject``, in the order SQLite finds them (the order derivation has always used)."""
        rows = self._query(
            "SELECT DISTINCT device FROM frames WHERE subject=? AND stream=?", (subject, stream)
        )
        return [r[0] for r in rows]

    # -- steps ------------------------------------------------------------------------------
    def steps_minutes(self, subject: str, start_ns: int, end_ns: int) -> list[MinuteRow]:
        """Minutes of ``subject`` starting in [start_ns, end_ns) (UTC ns), in time order."""
        rows = self._query(
            "SELECT minute_ns, steps, cadence_spm, wear FROM steps_minute"
            " WHERE subject=? AND minute_ns>=? AND minute_ns<? ORDER BY minute_ns",
            (subject, start_ns, end_ns),
        )
        return [MinuteRow(m, s, c, bool(w)) for m, s, c, w in rows]

    def bouts(self, subject: str, start_ns: int, end_ns: int) -> list[BoutRow]:
        """Walking bouts of ``subject`` starting in [start_ns, end_ns) (UTC ns), in time order."""
        rows = self._query(
            "SELECT start_ns, end_ns, steps, cadence_spm FROM walking_bouts"
            " WHERE subject=? AND start_ns>=? AND start_ns<? ORDER BY start_ns",
            (subject, start_ns, end_ns),
        )
        return [BoutRow(*r) for r in rows]

    # -- daily summaries and scores ---------------------------------------------------------
    def summary_days(self, subject: str) -> set[str]:
        """Local days (``YYYY-MM-DD``) that have a daily summary for ``subject``."""
        rows = self._query("SELECT day FROM daily_summary WHERE subject=?", (subject,))
        return {r[0] for r in rows}

    def summaries(self, subject: str, first_day: str, last_day: str) -> list[SummaryRow]:
        """Daily summaries of ``subject`` for local days first_day..last_day (inclusive), in
        day order."""
        rows = self._query(
            "SELECT day, steps, wear_min, active_min, judgeable FROM daily_summary"
            " WHERE subject=? AND day>=? AND day<=? ORDER BY day",
            (subject, first_day, last_day),
        )
        return [SummaryRow(r[0], int(r[1]), int(r[2]), int(r[3]), bool(r[4])) for r in rows]

    def daily_with_scores(self, subject: str, first_day: str, last_day: str) -> list[DailyRow]:
        """Daily summaries first_day..last_day (inclusive) with their scores, in day order."""
        rows = self._query(
            "SELECT d.day, d.steps, d.wear_min, d.active_min, d.judgeable, s.composite, s.detail"
            " FROM daily_summary d LEFT JOIN scores s ON s.subject=d.subject AND s.day=d.day"
            " WHERE d.subject=? AND d.day>=? AND d.day<=? ORDER BY d.day",
            (subject, first_day, last_day),
        )
        return [
            DailyRow(SummaryRow(r[0], r[1], r[2], r[3], bool(r[4])), r[5], _json_dict(r[6]))
            for r in rows
        ]

    # -- sessions, sets, repetitions --------------------------------------------------------
    def session_summaries(
        self, subject: str, start_ns: int, end_ns: int
    ) -> list[SessionSummaryRow]:
        """Sessions of ``subject`` starting in [start_ns, end_ns) (UTC ns) with their numbers of
        sets and repetitions, by start then id."""
        rows = self._query(
            "SELECT s.session_id, s.exercise, s.plan_entry, s.start_ns, s.end_ns, s.status,"
            " s.source, s.meta,"
            " (SELECT COUNT(*) FROM exercise_sets e WHERE e.session_id=s.session_id),"
            " (SELECT COUNT(*) FROM repetitions p WHERE p.session_id=s.session_id)"
            " FROM sessions s" + _SESSION_RANGE + " ORDER BY s.start_ns, s.session_id",
            (subject, start_ns, end_ns),
        )
        return [
            SessionSummaryRow(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], _json_dict(r[7]), r[8], r[9]
            )
            for r in rows
        ]

    def sets_of(self, subject: str, start_ns: int, end_ns: int) -> list[SetRow]:
        """Sets of the sessions of ``subject`` starting in [start_ns, end_ns) (UTC ns)."""
        rows = self._in_sessions(
            "SELECT e.session_id, e.set_index, e.start_ns, e.end_ns, e.reps FROM exercise_sets e",
            "e.set_index",
            (subject, start_ns, end_ns),
        )
        return [SetRow(*r) for r in rows]

    def repetitions_of(self, subject: str, start_ns: int, end_ns: int) -> list[RepetitionRow]:
        """Repetitions of the sessions of ``subject`` starting in [start_ns, end_ns) (UTC ns)."""
        rows = self._in_sessions(
            "SELECT p.session_id, p.set_index, p.rep_index, p.start_ns, p.end_ns, p.duration_s,"
            " p.rom_deg FROM repetitions p",
            "p.set_index, p.rep_index",
            (subject, start_ns, end_ns),
        )
        return [RepetitionRow(*r) for r in rows]

    def _in_sessions(
        self, select: str, order: str, params: tuple[str, int, int]
    ) -> list[tuple[Any, ...]]:
        """``select`` (from a table with ``session_id`` aliased as in it) joined to the sessions
        of (subject, start_ns, end_ns), ordered by session start, id, then ``order``."""
        alias = select.rsplit(" ", 1)[1]
        return self._query(
            f"{select} JOIN sessions s ON s.session_id={alias}.session_id"
            f"{_SESSION_RANGE} ORDER BY s.start_ns, s.session_id, {order}",
            params,
        )

    # -- devices ----------------------------------------------------------------------------
    def device_streams(self, subject: str, start_ns: int, end_ns: int) -> list[DeviceStreamRow]:
        """Frames of ``subject`` overlapping [start_ns, end_ns) (UTC ns), grouped by device,
        stream and nominal rate, in that order."""
        rows = self._query(
            "SELECT device, stream, fs_hz, COUNT(*), SUM(n), MIN(start_ns), MAX(end_ns) FROM frames"
            " WHERE subject=? AND end_ns>=? AND start_ns<? GROUP BY device, stream, fs_hz"
            " ORDER BY device, stream, fs_hz",
            (subject, start_ns, end_ns),
        )
        return [DeviceStreamRow(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5], r[6]) for r in rows]

    def decoders_of(self, device: str) -> list[str]:
        """Distinct ``decoder`` names in the metadata of ``device``'s frames (in no set order;
        empty when SQLite was built without JSON1)."""
        try:
            rows = self._query(
                "SELECT DISTINCT json_extract(meta, '$.decoder') FROM frames WHERE device=?",
                (device,),
            )
        except sqlite3.OperationalError:  # SQLite without JSON1: no decoder names
            return []
        return [v for (v,) in rows if isinstance(v, str)]
