"""Latency of the live repetition counter, in stream time.

For synthetic sessions of every rehab exercise at 50 Hz (known repetition times), fed in random
chunks, measures ``emitted_at_s - true end of the repetition`` for every reported repetition
matched to a true one. Target: <= 0.5 s. The first two repetitions of a set are only reported
when the third proves the movement is repetitive, so figures are printed for all repetitions
and for repetitions 3 onwards of each set.

Run: ``python -m benchmarks.reps_latency``.
"""

from __future__ import annotations

import sys

import numpy as np

from features.exercises import load_library
from features.live import LiveRepCounter, RepEvent
from features.synthetic import synth_session

TARGET_S = 0.5
FS_HZ = 50.0


def _stream(rec_accel: np.ndarray, rec_gyro: np.ndarray, seed: int) -> list[RepEvent]:
    rng = np.random.default_rng(seed)
    live = LiveRepCounter(FS_HZ)
    events: list[RepEvent] = []
    i = 0
    while i < rec_accel.shape[0]:
        k = int(rng.integers(1, 26))  # 20 ms to 0.5 s per chunk
        events += live.update(rec_accel[i : i + k], rec_gyro[i : i + k])
        i += k
    return events + live.finish()


def _line(label: str, lat: np.ndarray) -> str:
    if lat.size == 0:
        return f"{label}: no repetitions"
    med, p95, mx = np.median(lat), np.percentile(lat, 95), np.max(lat)
    verdict = "MET" if p95 <= TARGET_S else "MISSED"
    return (
        f"{label}: n={lat.size} median {med:.2f} s  p95 {p95:.2f} s  max {mx:.2f} s  "
        f"(target <= {TARGET_S} s at p95: {verdict})"
    )


def main() -> int:
    all_lat: list[float] = []
    steady: list[float] = []
    unmatched = 0
    for ex in sorted(load_library()):
        for seed in range(2):
            rec = synth_session(ex, [8, 10], rest_s=20.0, fs_hz=FS_HZ, seed=seed)
            events = _stream(rec.accel_g, rec.gyro_dps, seed)
            true_end = np.array([b for _, b in rec.rep_bounds_s])
            true_start = np.array([a for a, _ in rec.rep_bounds_s])
            pos_in_set = np.concatenate([np.arange(n) for n in rec.reps_per_set])
            for ev in events:
                # Match to the true repetition whose span overlaps the event's span most.
                overlap = np.minimum(true_end, ev.end_s) - np.maximum(true_start, ev.start_s)
                k = int(np.argmax(overlap))
                if overlap[k] <= 0:
                    unmatched += 1
                    continue
                lat = ev.emitted_at_s - true_end[k]
                all_lat.append(lat)
                if pos_in_set[k] >= 2:
                    steady.append(lat)
    print(
        "== live counter latency, synthetic rehab sessions at 50 Hz, random chunks 1-25 samples =="
    )
    print(_line("all repetitions        ", np.array(all_lat)))
    print(_line("repetition 3+ of a set ", np.array(steady)))
    print(f"events not matching a true repetition: {unmatched}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
