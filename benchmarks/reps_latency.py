"""Latency of the live repetition counter (stream time), normal and guided mode.

1. Latency. For synthetic sessions of every rehab exercise at 50 Hz (known repetition times),
   fed in random chunks, measures ``emitted_at_s - true end of the repetition`` for every
   reported repetition matched to a true one. Target: <= 0.5 s at p95. In normal mode the first
   two repetitions of a set are only reported when the third proves the movement repetitive; in
   guided mode (``LiveRepCounter(fs_hz, profile, guided=True)``) a cycle plausible for the
   exercise is reported as soon as it ends.
2. Guided accuracy: per-set counts on synthetic sessions (sets of 8/10/12, 3 seeds), which
   must stay exact.
3. The ``sample_data`` exercise recordings, as the live session counts them (guided, with the
   recording's placement, accelerometer only, 5-sample frames): latency from the true end of a
   repetition to the end of the frame that produced its event, per exercise and overall.
4. False repetitions during rests: the same sessions with activity in every rest (quiet, an
   orientation random walk, fidgeting, reaching for a water bottle and drinking, standing up
   and sitting/lying down again), counted by the batch counter (identical to the live one):
   repetitions that overlap no true repetition, normal vs guided.

Run: ``python -m benchmarks.reps_latency``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# run as a script (python benchmarks/NAME.py): make the repository importable
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from benchmarks._cli import parser  # noqa: E402
from devices.recording import list_recordings, read_recording  # noqa: E402
from features.exercises import load_library  # noqa: E402
from features.reps import (  # noqa: E402
    LiveRepCounter,
    RepEvent,
    count_reps,  # noqa: E402
)
from features.sessions import segment_session  # noqa: E402
from features.synthetic import synth_session  # noqa: E402
from tests.support.reps_data import REST_ACTIVITIES, with_rest_activity  # noqa: E402

TARGET_S = 0.5
FS_HZ = 50.0
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "recordings"
FRAME = 5  # samples per frame, as the sensors send them over MQTT


def _stream(
    rec_accel: np.ndarray, rec_gyro: np.ndarray, seed: int, profile: str, guided: bool
) -> list[RepEvent]:
    rng = np.random.default_rng(seed)
    live = LiveRepCounter(FS_HZ, profile if guided else None, guided=guided)
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
        f"{label}: n={lat.size:3d} median {med:.2f} s  p95 {p95:.2f} s  max {mx:.2f} s  "
        f"(p95 <= {TARGET_S} s: {verdict})"
    )


def latency(guided: bool) -> None:
    """Print latency figures for all repetitions, the first two and 3+ of each set."""
    all_lat: list[float] = []
    first: list[float] = []
    steady: list[float] = []
    unmatched = 0
    for ex in sorted(load_library()):
        for seed in range(2):
            rec = synth_session(ex, [8, 10], rest_s=20.0, fs_hz=FS_HZ, seed=seed)
            events = _stream(rec.accel_g, rec.gyro_dps, seed, ex, guided)
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
                (steady if pos_in_set[k] >= 2 else first).append(lat)
    mode = "GUIDED (profile given)" if guided else "normal (no profile)"
    print(f"-- {mode}")
    print(_line("  all repetitions        ", np.array(all_lat)))
    print(_line("  repetitions 1-2 of set ", np.array(first)))
    print(_line("  repetitions 3+ of set  ", np.array(steady)))
    print(f"  events not matching a true repetition: {unmatched}")


def sample_data_latency() -> None:
    """Guided latency on the sample_data exercise recordings, as ``ingest.session`` counts
    them: ``LiveRepCounter(fs, exercise, guided=True, placement=...)``, accelerometer only,
    frames of ``FRAME`` samples; latency = end of the producing frame - true end."""
    per: dict[str, list[float]] = {}
    counts: list[str] = []
    unmatched = 0
    for meta in list_recordings(SAMPLE_DIR):
        rec = read_recording(meta)
        if rec.kind != "exercise" or "truth" not in rec.meta:
            continue
        fs = float(rec.fs_hz or FS_HZ)
        ex = str(rec.meta["exercise"])
        live = LiveRepCounter(fs, ex, guided=True, placement=rec.meta.get("placement"))
        bounds = np.array(rec.meta["truth"]["rep_bounds_ns"], dtype=np.float64)
        t0 = float(rec.t_ns[0])
        true_start, true_end = (bounds[:, 0] - t0) / 1e9, (bounds[:, 1] - t0) / 1e9
        acc = rec.accel_g
        n_ev = 0
        for i in range(0, acc.shape[0], FRAME):
            stop = min(i + FRAME, acc.shape[0])
            frame_end = (float(rec.t_ns[stop - 1]) - t0) / 1e9 + 1.0 / fs
            for ev in live.update(acc[i:stop]):
                n_ev += 1
                overlap = np.minimum(true_end, ev.end_s) - np.maximum(true_start, ev.start_s)
                k = int(np.argmax(overlap))
                if overlap[k] <= 0:
                    unmatched += 1
                    continue
                per.setdefault(ex, []).append(frame_end - true_end[k])
        n_ev += len(live.finish())
        counts.append(f"{rec.meta.get('session_id', meta.name)} {n_ev}/{len(true_end)}")
    print(
        "== sample_data exercise recordings, live session as in ingest.session (guided,"
        f" placement, accelerometer only, {FRAME}-sample frames); latency = end of the"
        " producing frame - true end =="
    )
    for ex in sorted(per):
        print(_line(f"  {ex:22s} ", np.array(per[ex])))
    print(_line("  all repetitions        ", np.concatenate([np.array(v) for v in per.values()])))
    print(f"  events not matching a true repetition: {unmatched}")
    print("  counted/true per recording: " + ", ".join(counts))


def guided_accuracy() -> None:
    """Per-set exact counts of guided mode on the synthetic sessions."""
    truth = [8, 10, 12]
    exact = total = 0
    wrong: list[str] = []
    for ex in sorted(load_library()):
        for seed in range(3):
            rec = synth_session(ex, truth, rest_s=30.0, seed=seed)
            got = segment_session(
                rec.accel_g, rec.fs_hz, rec.gyro_dps, profile=ex, guided=True
            ).reps_per_set
            total += len(truth)
            if len(got) == len(truth):
                exact += sum(g == t for g, t in zip(got, truth, strict=True))
            if got != truth:
                wrong.append(f"{ex} seed {seed}: {got}")
    verdict = "MET" if exact == total else "MISSED"
    print(f"guided, synthetic sets 8/10/12 x 3 seeds: {exact}/{total} exact ({verdict})")
    for w in wrong:
        print("  " + w)


def rest_activity() -> None:
    """False and missed repetitions with activity in the rests: normal, guided, and guided with
    the sensor placement (batch = live)."""
    sets, seeds = [8, 10], 2
    n_true = len(load_library()) * seeds * sum(sets)
    print(
        f"== activity in the rests: sets {sets}, rest 40 s, {len(load_library())} exercises x"
        f" {seeds} seeds, profile given in every mode; false = overlaps no true repetition;"
        f" missed = true count minus counted true (of {n_true}) =="
    )
    modes = (("normal", False, False), ("guided", True, False), ("guided+pl", True, True))
    print(
        f"{'activity':14s} "
        + " ".join(f"{'false ' + m:>16s}" for m, _, _ in modes)
        + " "
        + " ".join(f"{'missed ' + m:>17s}" for m, _, _ in modes)
    )
    for kind in REST_ACTIVITIES:
        false = dict.fromkeys([m for m, _, _ in modes], 0)
        missed = dict.fromkeys([m for m, _, _ in modes], 0)
        where: list[str] = []
        for ex in sorted(load_library()):
            for seed in range(seeds):
                base = synth_session(ex, sets, rest_s=40.0, fs_hz=FS_HZ, seed=seed)
                rec = with_rest_activity(base, kind, seed=seed)
                true_start = np.array([a for a, _ in rec.rep_bounds_s])
                true_end = np.array([b for _, b in rec.rep_bounds_s])
                for mode, guided, with_pl in modes:
                    res = count_reps(
                        rec.accel_g,
                        rec.fs_hz,
                        rec.gyro_dps,
                        profile=ex,
                        guided=guided,
                        placement=rec.placement if with_pl else None,
                    )
                    n_false = 0
                    for a, b in zip(res.start_s, res.end_s, strict=True):
                        if not np.any(np.minimum(true_end, b) - np.maximum(true_start, a) > 0):
                            n_false += 1
                    false[mode] += n_false
                    missed[mode] += rec.total_reps - (res.count - n_false)
                    if mode == "guided" and n_false:
                        where.append(f"{ex}/{seed}: {n_false}")
        print(
            f"{kind:14s} "
            + " ".join(f"{false[m]:16d}" for m, _, _ in modes)
            + " "
            + " ".join(f"{missed[m]:17d}" for m, _, _ in modes)
            + (f"   guided false: {', '.join(where)}" if where else "")
        )


def main(argv: list[str] | None = None) -> int:
    parser(__doc__).parse_args(argv)
    print(
        "== live counter latency, synthetic rehab sessions at 50 Hz"
        f" ({len(load_library())} exercises x 2 seeds, sets 8 + 10), random chunks 1-25 samples =="
    )
    latency(guided=False)
    latency(guided=True)
    print()
    sample_data_latency()
    print()
    guided_accuracy()
    print()
    rest_activity()
    return 0


if __name__ == "__main__":
    sys.exit(main())
