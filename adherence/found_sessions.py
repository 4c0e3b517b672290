"""Exercise sessions found in stored IMU frames, reconciled with the sessions an app announced.

A patient who forgets to press start, or a wearable without an app, still sends IMU frames.
:func:`find_sessions` runs :func:`features.sessions.find_exercise` (RecoFit's "find" step,
Morris et al., CHI 2014, https://doi.org/10.1145/2556288.2557116) over every continuous
accelerometer segment of every device of a subject and stores each exercise bout as a
``complete`` session with its sets and repetitions.

Reconciliation rules
--------------------
* A found session's id is derived from subject, device and start time (whole seconds), so
  running the derivation again stores it once (an upsert of the same id).
* An app session (any session not found here: session events over MQTT, recordings, the live
  service) and a found bout that overlap in time are one session: the app's session wins with
  its exercise and plan entry, the bout is not stored, and a found session stored earlier that
  overlaps an app session is deleted (the app's events may arrive after the frames).
* A new bout replaces earlier found sessions it overlaps (a bout seen half-way by an earlier
  run of ``adherence serve`` grows into the whole bout), except when that earlier session starts
  before the window's start (a windowed run cannot see it whole): it is kept, the bout is not
  stored.
* The exercise of a found session is the library exercise it most resembles among
  ``exercises`` (the care plan's), or ``"unknown"``; its plan entry is left empty, so scoring
  matches it by exercise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from adherence.plan import CarePlan
from devices.frame import StreamKind
from features.finding import ExerciseBout
from features.sessions import find_exercise
from features.steps import resample_uniform
from ingest.store import RepRecord, SessionRecord, SetRecord, Store

NS_PER_S = 1_000_000_000
FIND_FS_HZ = 50.0
"""Rate (Hz) to which IMU streams are resampled before finding exercise."""
SEGMENT_GAP_S = 2.0
"""A pause in an accelerometer stream longer than this (s) starts a new segment."""
MIN_SEGMENT_S = 20.0
"""Segments shorter than this (s) cannot hold a set of three repetitions and a rest."""
FOUND_SOURCE = "found"
"""``source`` prefix of found sessions (``found:<device>``)."""


@dataclass(frozen=True)
class FoundSummary:
    """What :func:`find_sessions` did: sessions stored, skipped (an app session) and deleted."""

    stored: int
    skipped: int
    deleted: int


def is_found(session: SessionRecord) -> bool:
    """True for a session stored by :func:`find_sessions`."""
    return session.source.startswith(FOUND_SOURCE + ":")


def found_session_id(subject: str, device: str, start_ns: int) -> str:
    """Deterministic id of a found session: subject, device and start time in whole seconds."""
    return f"found-{subject}-{device}-{start_ns // NS_PER_S}"


def plan_exercises(plan: CarePlan) -> list[str]:
    """The library ids a care plan prescribes, sorted (candidates for naming found bouts)."""
    return sorted({e.exercise for s in plan.sessions for e in s.exercises})


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 <= b1 and b0 <= a1


def _segments(t_ns: np.ndarray) -> list[slice]:
    if t_ns.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(t_ns) > SEGMENT_GAP_S * NS_PER_S) + 1
    starts, ends = np.r_[0, breaks], np.r_[breaks, t_ns.size]
    return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _gyro_on(grid_ns: np.ndarray, t_g: np.ndarray, gyr: np.ndarray) -> np.ndarray | None:
    """Gyroscope interpolated onto the accelerometer grid, or None when it does not cover it."""
    if (
        t_g.size < 2
        or t_g[0] > grid_ns[0] + NS_PER_S // 10
        or t_g[-1] < grid_ns[-1] - NS_PER_S // 10
    ):
        return None
    rel = (t_g - grid_ns[0]).astype(np.float64)
    x = (grid_ns - grid_ns[0]).astype(np.float64)
    return np.column_stack([np.interp(x, rel, gyr[:, j]) for j in range(3)])


def _record(bout: ExerciseBout, subject: str, device: str, t0_ns: int) -> SessionRecord:
    def ns(t_s: float) -> int:
        return t0_ns + round(t_s * NS_PER_S)

    sets = tuple(
        SetRecord(
            i,
            ns(s.start_s),
            ns(s.end_s),
            tuple(RepRecord(ns(r.start_s), ns(r.end_s), r.duration_s, r.rom_deg) for r in s.reps),
        )
        for i, s in enumerate(bout.sets)
    )
    start = ns(bout.start_s)
    return SessionRecord(
        session_id=found_session_id(subject, device, start),
        subject=subject,
        exercise=bout.exercise or "unknown",
        start_ns=start,
        end_ns=ns(bout.end_s),
        plan_entry=None,
        source=f"{FOUND_SOURCE}:{device}",
        status="complete",
        sets=sets,
        meta={
            "device": device,
            "found": True,
            "confidence": bout.confidence,
            "exercise_score": bout.exercise_score,
            "reps_per_set": bout.reps_per_set,
        },
    )


def _bouts_of_device(
    store: Store,
    subject: str,
    device: str,
    exercises: Sequence[str] | None,
    window: tuple[int | None, int | None],
) -> list[SessionRecord]:
    t_a, acc = store.read_stream(
        subject, StreamKind.ACCEL, device=device, start_ns=window[0], end_ns=window[1]
    )
    t_g, gyr = store.read_stream(
        subject, StreamKind.GYRO, device=device, start_ns=window[0], end_ns=window[1]
    )
    out: list[SessionRecord] = []
    for seg in _segments(t_a):
        ts = t_a[seg]
        if (ts[-1] - ts[0]) < MIN_SEGMENT_S * NS_PER_S:
            continue
        grid_ns, grid = resample_uniform(ts, acc[seg], FIND_FS_HZ, max_gap_s=SEGMENT_GAP_S)
        res = find_exercise(
            grid, FIND_FS_HZ, _gyro_on(grid_ns, t_g, gyr), candidates=exercises or None
        )
        out += [_record(b, subject, device, int(grid_ns[0])) for b in res.bouts]
    return out


def find_sessions(
    store: Store,
    subject: str,
    *,
    exercises: Sequence[str] = (),
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> FoundSummary:
    """Find exercise bouts in ``subject``'s stored IMU frames and store them as sessions.

    Parameters
    ----------
    store : Store
        The local store (frames in, sessions out).
    subject : str
        Subject id.
    exercises : sequence of str
        Library ids a found bout may be named after (the care plan's exercises); empty: the
        whole library.
    start_ns, end_ns : int, optional
        UTC ns window of frames to look at (``adherence serve`` redoes the last days only).

    Returns
    -------
    FoundSummary
        Found sessions stored, bouts skipped because an app session covers them, and found
        sessions deleted (overlapped by an app session or replaced by a larger bout).
    """
    existing = store.sessions(subject)
    app = [(s.start_ns, s.end_ns) for s in existing if not is_found(s)]
    old = [s for s in existing if is_found(s)]
    stale = {s.session_id for s in old if any(_overlaps(s.start_ns, s.end_ns, *a) for a in app)}
    new: list[SessionRecord] = []
    skipped = 0
    for device in store.stream_devices(subject, StreamKind.ACCEL):
        for rec in _bouts_of_device(store, subject, device, exercises, (start_ns, end_ns)):
            if any(_overlaps(rec.start_ns, rec.end_ns, *a) for a in app):
                skipped += 1
                continue
            hit = [s for s in old if _overlaps(s.start_ns, s.end_ns, rec.start_ns, rec.end_ns)]
            if any(start_ns is not None and s.start_ns < start_ns for s in hit):
                continue  # an earlier found session the window cuts: keep it whole
            new.append(rec)
            stale |= {s.session_id for s in hit if s.session_id != rec.session_id}
    with store.transaction():
        deleted = store.delete_sessions(sorted(stale))
        for rec in new:
            store.put_session(rec)
    return FoundSummary(len(new), skipped, deleted)
