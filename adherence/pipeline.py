"""The batch chain: recordings → store → steps, sessions and daily summaries → scores.

This is what ``adherence demo`` and ``adherence score`` run. It reads only the store (and, for
imports, recording files), so the same derivation works for data that arrived over BLE or MQTT.

Daily steps rule
----------------
A day's steps come from the subject's pedometer (a wrist band worn all day) when it reported
that day, else from steps counted in raw accelerometer data. Accelerometer data recorded
during an exercise session is not used for steps (a sit-to-stand is not a step).

Wear
----
Pedometer wear: an interval between two reports no longer than
:data:`PEDOMETER_MAX_INTERVAL_MIN` counts as worn (a band that is not worn or is charging stops
reporting). Accelerometer wear: van Hees 2013 via :func:`features.activity.detect_wear`.
A day is judgeable with at least :data:`MIN_WEAR_H` worn hours.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from adherence.found_sessions import find_sessions, plan_exercises
from adherence.plan import CarePlan
from adherence.progress import Progress
from devices.errors import AdherenceError, DataFileError
from devices.frame import StreamKind
from devices.pedometer import totals_to_intervals
from devices.recording import Recording, list_recordings, read_recording
from features.activity import detect_wear, steps_per_minute, walking_bouts
from features.epochs import DailyStepStats, MinuteSeries, daily_step_stats, minute_series
from features.steps import count_steps, resample_uniform
from ingest.store import RepRecord, SessionRecord, SetRecord, Store

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
STEP_FS_HZ = 50.0
"""Rate (Hz) to which raw accelerometer data is resampled before step counting."""
SEGMENT_GAP_S = 2.0
"""A pause in an accelerometer stream longer than this (s) starts a new segment."""
PEDOMETER_MAX_INTERVAL_MIN = 30
MIN_WEAR_H = 10.0


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_recordings` stored."""

    recordings: int
    frames_new: int
    frames_total: int
    sessions: int


@dataclass(frozen=True)
class DeriveResult:
    """What :func:`derive` computed for one subject."""

    subject: str
    steps_counted: int
    minutes: int
    bouts: int
    days: int
    sessions: int
    reps: int


def read_recordings(directory: str | Path) -> list[Recording]:
    """Read and validate every recording in ``directory`` (all of them, before anything is stored).

    Raises DataFileError naming the first bad file; the store is untouched.
    """
    d = Path(directory)
    if not d.is_dir():
        raise DataFileError(str(d), "recordings folder not found")
    paths = list_recordings(d)
    if not paths:
        raise DataFileError(str(d), "no recordings (*.meta.json) in this folder")
    return [read_recording(p) for p in paths]


def import_recordings(
    store: Store, recordings: Sequence[Recording], *, progress: bool = True
) -> ImportResult:
    """Store the recordings' frames, and register their exercise sessions, in ONE transaction.

    Replaying the same recordings stores nothing new (frames are idempotent, sessions are
    keyed by their id). Exercise recordings must carry ``exercise`` and ``session_id`` metadata.
    """
    bar = Progress(len(recordings), "storing", enabled=progress)
    new = total = sessions = 0
    with store.transaction():
        for rec in recordings:
            frames = list(rec.frames(samples_per_frame=50 if rec.kind != "pedometer" else 200))
            total += len(frames)
            new += store.put_frames(frames)
            if rec.kind == "exercise":
                sid = rec.meta.get("session_id")
                ex = rec.meta.get("exercise")
                if not isinstance(sid, str) or not isinstance(ex, str):
                    raise DataFileError(
                        rec.name, "exercise recording needs 'session_id' and 'exercise'"
                    )
                if not any(s.session_id == sid and s.sets for s in store.sessions(rec.subject)):
                    store.put_session(
                        SessionRecord(
                            session_id=sid,
                            subject=rec.subject,
                            exercise=ex,
                            start_ns=int(rec.t_ns[0]),
                            end_ns=int(rec.t_ns[-1]),
                            plan_entry=rec.meta.get("plan_entry"),
                            source=f"recording:{rec.device}",
                            status="recorded",
                            sets=(),
                            meta={
                                "device": rec.device,
                                "synthetic": bool(rec.meta.get("synthetic")),
                            },
                        )
                    )
                    sessions += 1
            bar.advance(note=rec.name)
    return ImportResult(len(recordings), new, total, sessions)


def _segments(t_ns: np.ndarray, gap_s: float) -> list[slice]:
    if t_ns.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(t_ns) > gap_s * NS_PER_S) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, t_ns.size]
    return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _mask_sessions(t_ns: np.ndarray, sessions: Sequence[SessionRecord]) -> np.ndarray:
    keep = np.ones(t_ns.size, bool)
    for s in sessions:
        keep &= ~((t_ns >= s.start_ns) & (t_ns <= s.end_ns))
    return keep


def _count_sessions(store: Store, subject: str) -> tuple[int, int]:
    """Count repetitions of every recorded, not yet counted session; return (sessions, reps)."""
    from features.sessions import segment_session

    n_sessions = n_reps = 0
    for s in store.sessions(subject):
        if s.status != "recorded":
            continue
        device = s.meta.get("device")
        t_acc, acc = store.read_stream(
            subject, StreamKind.ACCEL, device=device, start_ns=s.start_ns, end_ns=s.end_ns + 1
        )
        t_gyr, gyr = store.read_stream(
            subject, StreamKind.GYRO, device=device, start_ns=s.start_ns, end_ns=s.end_ns + 1
        )
        if t_acc.size < 2:
            continue
        fs = float(np.round((t_acc.size - 1) / ((t_acc[-1] - t_acc[0]) / NS_PER_S)))
        gyro = gyr if t_gyr.size == t_acc.size and np.array_equal(t_gyr, t_acc) else None
        result = segment_session(acc, fs, gyro_dps=gyro)
        t0 = int(t_acc[0])
        sets = []
        for i, st in enumerate(result.sets):
            reps = tuple(
                RepRecord(
                    t0 + round(r.start_s * NS_PER_S),
                    t0 + round(r.end_s * NS_PER_S),
                    float(r.duration_s),
                    None if r.rom_deg is None else float(r.rom_deg),
                )
                for r in st.reps
            )
            sets.append(
                SetRecord(
                    i, t0 + round(st.start_s * NS_PER_S), t0 + round(st.end_s * NS_PER_S), reps
                )
            )
        store.put_session(
            SessionRecord(
                s.session_id,
                s.subject,
                s.exercise,
                s.start_ns,
                s.end_ns,
                s.plan_entry,
                s.source,
                "complete",
                tuple(sets),
                s.meta,
            )
        )
        n_sessions += 1
        n_reps += sum(len(x.reps) for x in sets)
    return n_sessions, n_reps


def register_event_sessions(store: Store, subject: str) -> int:
    """Turn session start/stop events received over MQTT into sessions to count in batch.

    A start with its stop, whose session id is not stored yet (the live-session service stores
    its own), becomes a ``recorded`` session on the event's device; :func:`derive` then counts
    its repetitions from the stored frames. Sessions still open are left alone. Returns how
    many sessions were registered.
    """
    from ingest.mqtt_events import ensure_events_table, events

    ensure_events_table(store)
    stops = {e.session_id: e for e in events(store, subject=subject, kind="session_stop")}
    known = {s.session_id for s in store.sessions(subject)}
    added = 0
    for start in events(store, subject=subject, kind="session_start"):
        stop = stops.get(start.session_id)
        if start.session_id is None or start.session_id in known or stop is None:
            continue
        store.put_session(
            SessionRecord(
                session_id=start.session_id,
                subject=subject,
                exercise=start.exercise or "unknown",
                start_ns=start.t_ns,
                end_ns=max(stop.t_ns, start.t_ns),
                plan_entry=start.detail.get("plan_entry"),
                source=f"mqtt:{start.device}",
                status="recorded",
                sets=(),
                meta={"device": start.device},
            )
        )
        known.add(start.session_id)
        added += 1
    return added


def derive(
    store: Store,
    subject: str,
    tz: ZoneInfo,
    *,
    days: Sequence[dt.date] = (),
    start_ns: int | None = None,
    end_ns: int | None = None,
    exercises: Sequence[str] = (),
) -> DeriveResult:
    """Compute steps per minute, walking bouts, sessions and daily summaries for ``subject``.

    ``tz`` decides local days. Each of ``days`` (e.g. the care plan's days) gets a daily row
    even without any data: 0 wear minutes, not judgeable - "not worn", never "inactive".
    ``start_ns``/``end_ns`` (UTC ns) limit the work to a window (``adherence serve`` redoes the
    last days only); daily rows are then written only for local days that start inside it.
    Results are upserts, so running it again gives the same tables. IMU frames outside any
    session become found sessions (:mod:`adherence.found_sessions`), named after the library
    exercise among ``exercises`` (the care plan's) that they most resemble.
    """
    register_event_sessions(store, subject)
    find_sessions(store, subject, exercises=exercises, start_ns=start_ns, end_ns=end_ns)
    steps = _accel_steps(store, subject, store.sessions(subject), start_ns, end_ns)
    minute_rows = [
        (m, k, float(k) if k else None, m in steps.worn_minutes)
        for m, k in sorted(steps.minute_steps.items())
    ]
    store.put_steps_minute(subject, minute_rows)
    store.put_bouts(subject, steps.bouts)

    n_sessions, n_reps = _count_sessions(store, subject)
    rows = _daily_rows(store, subject, tz, steps.minute_steps, steps.worn_minutes, start_ns, end_ns)
    # Days without any data: "not worn" rows, unless the day already has a summary (written by
    # an earlier run or by another source) - no data now is no reason to forget it.
    seen = {r[0] for r in rows} | store.summary_days(subject)
    rows += [(d.isoformat(), 0, 0, 0, False) for d in days if d.isoformat() not in seen]
    rows = _in_window(rows, tz, start_ns, end_ns)
    store.put_daily_summary(subject, sorted(rows))
    return DeriveResult(
        subject, steps.counted, len(minute_rows), len(steps.bouts), len(rows), n_sessions, n_reps
    )


@dataclass
class _AccelSteps:
    """Steps counted from raw acceleration: per UTC minute (start ns), worn minutes, bouts
    (start_ns, end_ns, steps, cadence_spm) and the total."""

    minute_steps: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    worn_minutes: set[int] = field(default_factory=set)
    bouts: list[tuple[int, int, int, float | None]] = field(default_factory=list)
    counted: int = 0

    def add_segment(self, ts: np.ndarray, xs: np.ndarray) -> None:
        """Count one gap-free segment (UTC ns, acceleration in g) resampled to STEP_FS_HZ."""
        grid_ns, grid = resample_uniform(ts, xs, STEP_FS_HZ)
        res = count_steps(grid, STEP_FS_HZ, nan_policy="gap")
        self.counted += res.count
        start = int(grid_ns[0])
        spm = steps_per_minute(res.step_times_s, start, end_ns=int(grid_ns[-1]) + 1)
        for m, k in zip(spm.minute_start_ns.tolist(), spm.steps.tolist(), strict=True):
            self.minute_steps[m] += k
        wear = detect_wear(grid, STEP_FS_HZ, start_ns=start)  # NaN minutes: not worn
        for k, w in enumerate(wear.wear.tolist()):
            if w:
                self.worn_minutes.add((start + k * NS_PER_MIN) // NS_PER_MIN * NS_PER_MIN)
        for b in walking_bouts(res.step_times_s):
            self.bouts.append(
                (
                    start + round(b.start_s * NS_PER_S),
                    start + round(b.end_s * NS_PER_S),
                    b.steps,
                    b.cadence_spm,
                )
            )


def derive_plan_days(store: Store, plan: CarePlan, first: dt.date, last: dt.date) -> DeriveResult:
    """:func:`derive` ``plan``'s subject over its programme days from ``first`` to ``last``.

    ``first`` and ``last`` are local days in the plan's time zone, both included; the UTC window
    runs from the start of ``first`` to the end of ``last``, and found sessions are named after
    the plan's exercises. ``adherence score`` and ``adherence serve`` derive this way.
    """
    return derive(
        store,
        plan.subject,
        plan.tz,
        days=[d for d in plan.days() if first <= d <= last],
        start_ns=plan.day_bounds_ns(first)[0],
        end_ns=plan.day_bounds_ns(last)[1],
        exercises=plan_exercises(plan),
    )


def _accel_steps(
    store: Store,
    subject: str,
    sessions: Sequence[SessionRecord],
    start_ns: int | None,
    end_ns: int | None,
) -> _AccelSteps:
    """Steps of every accelerometer of ``subject`` outside exercise sessions, in segments of
    at least 5 s without pauses longer than SEGMENT_GAP_S."""
    out = _AccelSteps()
    for device in store.devices_of(subject, StreamKind.ACCEL.value):
        t_ns, acc = store.read_stream(
            subject, StreamKind.ACCEL, device=device, start_ns=start_ns, end_ns=end_ns
        )
        keep = _mask_sessions(t_ns, sessions)
        t_ns, acc = t_ns[keep], acc[keep]
        for seg in _segments(t_ns, SEGMENT_GAP_S):
            ts, xs = t_ns[seg], acc[seg]
            if ts.size < 2 or (ts[-1] - ts[0]) < 5 * NS_PER_S:
                continue
            out.add_segment(ts, xs)
    return out


def _in_window(
    rows: list[tuple[str, int, int, int, bool]],
    tz: ZoneInfo,
    start_ns: int | None,
    end_ns: int | None,
) -> list[tuple[str, int, int, int, bool]]:
    """The daily rows whose local day starts inside [start_ns, end_ns) (UTC ns, None: open)."""
    if start_ns is not None:
        first = _local_day(start_ns, tz)
        rows = [r for r in rows if r[0] >= first]
    if end_ns is not None:
        last = _local_day(end_ns - 1, tz)
        rows = [r for r in rows if r[0] <= last]
    return rows


def _local_day(t_ns: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t_ns / NS_PER_S, tz=tz).date().isoformat()


_DayTotals = tuple[dict[str, int], dict[str, float]]


@dataclass(frozen=True)
class PedometerIntervals:
    """Steps between consecutive pedometer reports of a subject: start, end (UTC ns), steps."""

    start_ns: np.ndarray
    end_ns: np.ndarray
    steps: np.ndarray


def pedometer_intervals(
    store: Store, subject: str, start_ns: int | None = None, end_ns: int | None = None
) -> PedometerIntervals:
    """Every pedometer's totals of ``subject`` as intervals (``totals_to_intervals``), by time.

    One day of history before ``start_ns`` is read, so the window's first interval is complete.
    """
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for device in store.devices_of(subject, StreamKind.STEP_TOTAL.value):
        t_ns, tot = store.read_stream(
            subject,
            StreamKind.STEP_TOTAL,
            device=device,
            start_ns=None if start_ns is None else start_ns - 24 * 3600 * NS_PER_S,
            end_ns=end_ns,
        )
        iv = totals_to_intervals(t_ns, tot[:, 0].astype(np.int64))
        parts.append((iv.start_ns, iv.end_ns, iv.steps))
    if not parts:
        empty = np.empty(0, np.int64)
        return PedometerIntervals(empty, empty, empty)
    a, b, k = (np.concatenate([x[i] for x in parts]) for i in range(3))
    order = np.argsort(a, kind="stable")
    return PedometerIntervals(a[order], b[order], k[order])


def _pedometer_days(iv: PedometerIntervals, tz: ZoneInfo) -> _DayTotals:
    """Per local day from the pedometers' intervals: steps and worn minutes."""
    ped_steps: dict[str, int] = defaultdict(int)
    ped_wear: dict[str, float] = defaultdict(float)
    for a, b, k in zip(iv.start_ns.tolist(), iv.end_ns.tolist(), iv.steps.tolist(), strict=True):
        minutes = (b - a) / NS_PER_MIN
        day = _local_day(b, tz)
        ped_steps[day] += k
        if minutes <= PEDOMETER_MAX_INTERVAL_MIN:
            ped_wear[day] += minutes
    return ped_steps, ped_wear


def day_minute_series(
    minute_steps: dict[int, int], worn_minutes: set[int], iv: PedometerIntervals
) -> MinuteSeries:
    """The continuous minute series of a subject (:func:`features.epochs.minute_series`): the
    accelerometer's worn minutes, the pedometer's intervals elsewhere, NaN where not worn."""
    minutes = sorted(minute_steps.keys() | worn_minutes)
    return minute_series(
        minutes,
        [minute_steps.get(m, 0) for m in minutes],
        [m in worn_minutes for m in minutes],
        iv.start_ns,
        iv.end_ns,
        iv.steps,
        max_interval_min=PEDOMETER_MAX_INTERVAL_MIN,
    )


def daily_stats(series: MinuteSeries, tz: ZoneInfo) -> dict[str, DailyStepStats]:
    """stepcount-style figures per local day of a minute series (``features.epochs``)."""
    if not len(series):
        return {}
    days = np.array([_local_day(int(m), tz) for m in series.minute_ns])
    return {str(d): daily_step_stats(series.steps[days == d]) for d in np.unique(days).tolist()}


def _daily_rows(
    store: Store,
    subject: str,
    tz: ZoneInfo,
    minute_steps: dict[int, int],
    worn_minutes: set[int],
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> list[tuple[str, int, int, int, bool]]:
    """Daily rows (day, steps, wear_min, active_min, judgeable): steps and wear are the
    pedometer's on days it was worn, else those counted from acceleration (the daily steps
    rule); active minutes (>= 100 steps/min) come from the merged minute series, so a walk the
    accelerometer timed counts even on a pedometer day."""
    iv = pedometer_intervals(store, subject, start_ns, end_ns)
    ped_steps, ped_wear = _pedometer_days(iv, tz)
    stats = daily_stats(day_minute_series(minute_steps, worn_minutes, iv), tz)
    acc_steps: dict[str, int] = defaultdict(int)
    for m, k in minute_steps.items():
        acc_steps[_local_day(m, tz)] += k
    acc_wear: dict[str, int] = defaultdict(int)
    for m in worn_minutes:
        acc_wear[_local_day(m, tz)] += 1
    rows = []
    for day in sorted(set(ped_steps) | set(acc_steps) | set(acc_wear)):
        if ped_wear.get(day, 0) > 0:
            steps, wear = ped_steps[day], round(ped_wear[day])
        else:
            steps, wear = acc_steps[day], acc_wear[day]
        active = stats[day].active_min if day in stats else 0
        rows.append((day, int(steps), int(wear), int(active), wear >= MIN_WEAR_H * 60))
    return rows


def check_subjects_planned(subjects: Sequence[str], planned: Sequence[str], where: str) -> None:
    """Refuse recordings whose subject has no care plan (naming the subject)."""
    missing = sorted(set(subjects) - set(planned))
    if missing:
        raise AdherenceError(
            "recordings", where, f"no care plan for subject(s) {', '.join(missing)}"
        )
