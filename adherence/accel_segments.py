"""A subject's accelerometer stream, read from the store in chunks, as derived segments.

:func:`accel_segments` is what :func:`adherence.pipeline.derive` does with a device's raw
accelerometer data, without ever holding the whole stream: samples are read from the store in
chunks of about :data:`CHUNK_SAMPLES` (cut only between frames that do not overlap), repeated
timestamps are kept once, samples inside exercise sessions are left out, and the stream is split
into segments at pauses longer than ``segment_gap_s``. Each segment of at least 2 samples and
``min_segment_s`` is resampled, counted and classified for wear by
:class:`features.accel_stream.SegmentDeriver`, which gives what one-shot processing of the
segment gives.

Two passes: the first reads only the timestamps (to learn where segments end and whether a
segment has gaps, which decides the step counter's gap policy); the second reads the samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.frame import StreamKind
from features.accel_stream import SegmentDeriver, SegmentResult
from ingest.store import SessionRecord, Store

__all__ = ["CHUNK_SAMPLES", "accel_segments", "segment_spans"]

CHUNK_SAMPLES = 1 << 18
"""Samples per chunk read from the store (8 MB of a triaxial float64 stream, 1.5 h at 50 Hz)."""
NS_PER_S = 1_000_000_000
RESAMPLE_MAX_GAP_S = 0.5
"""Grid points inside a pause longer than this (s) are gaps (as ``resample_uniform``)."""


@dataclass
class _Segment:
    first_ns: int
    last_ns: int
    n: int
    has_gaps: bool


def _clean(
    t: npt.NDArray[np.int64],
    v: npt.NDArray[np.float64] | None,
    sessions: Sequence[SessionRecord],
    start_ns: int | None,
    end_ns: int | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64] | None]:
    """Sort, keep repeated timestamps once, trim to the window, leave out session samples."""
    if not bool(np.all(t[1:] > t[:-1])):  # already in order (the usual case): no sort, no copy
        order = np.argsort(t, kind="stable")
        t = t[order]
        v = None if v is None else v[order]
    keep = np.ones(t.size, bool)
    keep[1:] = np.diff(t) != 0
    if start_ns is not None:
        keep &= t >= start_ns
    if end_ns is not None:
        keep &= t < end_ns
    for s in sessions:
        keep &= ~((t >= s.start_ns) & (t <= s.end_ns))
    return t[keep], None if v is None else v[keep]


def _chunks(
    store: Store,
    subject: str,
    device: str,
    sessions: Sequence[SessionRecord],
    start_ns: int | None,
    end_ns: int | None,
    *,
    values: bool,
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64] | None]]:
    ts: list[npt.NDArray[np.int64]] = []
    vs: list[npt.NDArray[np.float64]] = []
    n = 0
    max_t = -1

    def flush() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64] | None]:
        return _clean(
            np.concatenate(ts), np.concatenate(vs) if values else None, sessions, start_ns, end_ns
        )

    if values:
        items: Iterator[tuple[int, int, npt.NDArray[np.int64], npt.NDArray[np.float64] | None]] = (
            row
            for batch in store.frame_sample_batches(
                subject, StreamKind.ACCEL, device, start_ns=start_ns, end_ns=end_ns
            )
            for row in batch
        )
    else:
        items = (
            (a, b, t, None)
            for batch in store.frame_time_batches(
                subject, StreamKind.ACCEL, device, start_ns=start_ns, end_ns=end_ns
            )
            for a, b, t in batch
        )
    for first, last, t, v in items:
        if n >= CHUNK_SAMPLES and first > max_t:
            yield flush()
            ts, vs, n = [], [], 0
        ts.append(t)
        if v is not None:
            vs.append(v)
        n += t.size
        max_t = max(max_t, last)
    if ts:
        yield flush()


def _plan_segments(
    chunks: Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64] | None]],
    gap_ns: float,
) -> list[_Segment]:
    segs: list[_Segment] = []
    for t, _ in chunks:
        if t.size == 0:
            continue
        d = np.diff(t)
        breaks = np.flatnonzero(d > gap_ns) + 1
        starts = np.r_[0, breaks]
        ends = np.r_[breaks, t.size]
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            sub = bool(np.any(d[a : b - 1] > RESAMPLE_MAX_GAP_S * NS_PER_S))
            joins = i == 0 and bool(segs) and t[0] - segs[-1].last_ns <= gap_ns
            if joins:
                seg = segs[-1]
                seg.has_gaps |= sub or (t[0] - seg.last_ns) > RESAMPLE_MAX_GAP_S * NS_PER_S
                seg.last_ns, seg.n = int(t[b - 1]), seg.n + (b - a)
            else:
                segs.append(_Segment(int(t[a]), int(t[b - 1]), b - a, sub))
    return segs


def accel_segments(
    store: Store,
    subject: str,
    device: str,
    sessions: Sequence[SessionRecord],
    *,
    fs_hz: float,
    segment_gap_s: float,
    min_segment_s: float,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Iterator[SegmentResult]:
    """Yield the derived segments of ``device``'s accelerometer stream, in time order.

    Parameters
    ----------
    store, subject, device:
        Where the stream is.
    sessions:
        Exercise sessions whose samples (start_ns <= t <= end_ns) are left out.
    fs_hz:
        Resampling rate, Hz.
    segment_gap_s:
        A pause longer than this (s) ends a segment.
    min_segment_s:
        Shorter segments (s, first to last sample) are skipped.
    start_ns, end_ns:
        Only samples in [start_ns, end_ns) (UTC ns).
    """
    gap_ns = segment_gap_s * NS_PER_S
    plan = _plan_segments(
        _chunks(store, subject, device, sessions, start_ns, end_ns, values=False), gap_ns
    )
    i = -1
    current: SegmentDeriver | None = None
    for t, v in _chunks(store, subject, device, sessions, start_ns, end_ns, values=True):
        assert v is not None
        if t.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(t) > gap_ns) + 1
        starts = np.r_[0, breaks].tolist()
        ends = np.r_[breaks, t.size].tolist()
        for a, b in zip(starts, ends, strict=True):
            if i < 0 or t[a] > plan[i].last_ns:  # the next segment starts here
                if current is not None:
                    yield current.finish()
                i += 1
                seg = plan[i]
                long_enough = seg.n >= 2 and seg.last_ns - seg.first_ns >= min_segment_s * NS_PER_S
                current = (
                    SegmentDeriver(seg.first_ns, fs_hz, has_gaps=seg.has_gaps)
                    if long_enough
                    else None
                )
            if current is not None:
                current.update(t[a:b], v[a:b])
    if current is not None:
        yield current.finish()


def segment_spans(
    store: Store,
    subject: str,
    device: str,
    *,
    segment_gap_s: float,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> list[tuple[int, int]]:
    """(first, last) sample times (UTC ns) of each segment of ``device``'s accelerometer
    stream (pauses longer than ``segment_gap_s`` end a segment), from the timestamps only."""
    chunks = _chunks(store, subject, device, (), start_ns, end_ns, values=False)
    return [(s.first_ns, s.last_ns) for s in _plan_segments(chunks, segment_gap_s * NS_PER_S)]
