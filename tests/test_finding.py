"""Exercise found in continuous recordings (features.finding) and stored as sessions.

Truth: synthetic sessions with exact repetition counts (features.synthetic), real walks from
sample_data (Oxford step-counter walks, foot-switch truth: walking, never exercise).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adherence.found_sessions import find_sessions, found_session_id, is_found
from devices.errors import InputError
from devices.frame import Frame, StreamKind
from devices.recording import read_recording
from features.finding import FindResult, resemblance
from features.sessions import find_exercise
from features.steps import resample_uniform
from features.synthetic import synth_session
from ingest.store import SessionRecord, Store

FS = 50.0
RECORDINGS = Path(__file__).resolve().parents[1] / "sample_data" / "recordings"
WALKS = sorted(p.name for p in RECORDINGS.glob("walk-*.meta.json"))
T0_NS = 1_794_300_000_000_000_000


def _walk(name: str) -> np.ndarray:
    rec = read_recording(RECORDINGS / name)
    _, acc = resample_uniform(rec.t_ns, rec.accel_g, FS)
    return acc


def _quiet(g: np.ndarray, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    u = g / np.linalg.norm(g)
    return np.tile(u, (n, 1)) + rng.normal(0.0, 0.005, (n, 3))


def _handling(g: np.ndarray, seconds: float, seed: int) -> np.ndarray:
    """The sensor picked up, turned about and shaken, then put back as it was (g)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.linspace(0.0, 1.0, n)
    angles = np.cumsum(rng.normal(0.0, 0.05, (n, 3)), axis=0)
    angles -= np.outer(t, angles[-1])  # back where it began
    acc = Rotation.from_rotvec(angles).apply(np.tile(g / np.linalg.norm(g), (n, 1)))
    return np.asarray(acc + rng.normal(0.0, 0.05, (n, 3)) * np.sin(np.pi * t)[:, None])


def _turn(g0: np.ndarray, g1: np.ndarray, seconds: float) -> np.ndarray:
    """The sensor turned smoothly (raised cosine) from gravity g0 to g1, g."""
    u = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, int(seconds * FS)))[:, None]
    v = (1 - u) * (g0 / np.linalg.norm(g0)) + u * (g1 / np.linalg.norm(g1))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _day(parts: list[tuple[str, object]]) -> tuple[np.ndarray, list[tuple[float, float]], list]:
    """Concatenate parts, turning the sensor smoothly between them (4 s); returns accel, walk
    spans (s) and the true sets (start s, end s, repetitions) in order."""
    chunks: list[np.ndarray] = []
    walks: list[tuple[float, float]] = []
    sets: list[tuple[float, float, int]] = []
    t = 0.0
    last = ""
    for kind, item in parts:
        if kind == "walk":
            acc = _walk(str(item))
        elif kind == "session":
            acc = item.accel_g  # type: ignore[attr-defined]
        elif kind == "handle":
            prev = chunks[-1][-25:].mean(axis=0) if chunks else np.array([0.0, 0.0, 1.0])
            acc = _handling(prev, float(item), len(chunks))  # type: ignore[arg-type]
        else:
            prev = chunks[-1][-1] if chunks else np.array([0.0, 0.0, 1.0])
            acc = _quiet(prev, float(item), len(chunks))  # type: ignore[arg-type]
        if chunks and kind not in (
            "quiet",
            "handle",
        ):  # turn the sensor to the piece's orientation, then rest
            rest = chunks.pop() if last == "quiet" else np.empty((0, 3))
            t -= rest.shape[0] / FS
            g1 = acc[:25].mean(axis=0)
            if chunks:
                chunks.append(_turn(chunks[-1][-25:].mean(axis=0), g1, 4.0))
                t += chunks[-1].shape[0] / FS
            chunks.append(_quiet(g1, rest.shape[0] / FS, len(chunks)))
            t += chunks[-1].shape[0] / FS
        last = kind
        if kind == "walk":
            walks.append((t, t + acc.shape[0] / FS))
        elif kind == "session":
            rec = item
            for (a, b), n in zip(rec.set_bounds_s, rec.reps_per_set, strict=True):  # type: ignore[attr-defined]
                sets.append((t + a, t + b, n))
        chunks.append(acc)
        t += acc.shape[0] / FS
    return np.concatenate(chunks), walks, sets


def _found_sets(res: FindResult) -> list[tuple[float, float, int]]:
    return [(s.start_s, s.end_s, s.count) for b in res.bouts for s in b.sets]


class TestFindExercise:
    def test_walk_handling_sets_and_rests_give_the_exact_sets_and_repetitions(self) -> None:
        session = synth_session("bridge", [10, 8], rest_s=40.0, seed=4)
        acc, walks, truth = _day(
            [("quiet", 20), ("handle", 10), ("quiet", 10), ("walk", WALKS[0]), ("quiet", 15)]
            + [("session", session), ("quiet", 15), ("walk", WALKS[1]), ("quiet", 10)]
            + [("handle", 8), ("quiet", 20)]
        )
        res = find_exercise(acc, FS, candidates=["bridge", "bird_dog", "pelvic_tilt"])
        assert len(res.bouts) == 1
        bout = res.bouts[0]
        assert bout.reps_per_set == [10, 8]
        assert len(bout.rests) == 1
        for (a, b, _), (fa, fb, _) in zip(truth, _found_sets(res), strict=True):
            assert abs(fa - a) < 1.0 and abs(fb - b) < 1.0  # repetition bounds: trough to trough
        assert bout.rests[0] == (bout.sets[0].end_s, bout.sets[1].start_s)
        assert 0.0 < bout.confidence <= 1.0
        assert bout.exercise == "bridge"
        # no found set overlaps a walk, and the step counter saw both walks
        for fa, fb, _ in _found_sets(res):
            assert all(fb < a or fa > b for a, b in walks)
        assert len(res.walking_s) >= 2

    def test_two_exercises_in_other_postures_are_two_bouts(self) -> None:
        first = synth_session("bridge", [6, 6], rest_s=30.0, seed=7)
        second = synth_session("bird_dog", [5], rest_s=30.0, seed=8)
        # another posture: the second session's gravity at 90 degrees from the first's
        g1, g2 = first.accel_g.mean(axis=0), second.accel_g.mean(axis=0)
        target = np.cross(g1, [1.0, 0.0, 0.0])
        rot, _ = Rotation.align_vectors([target], [g2])
        turned = replace(second, accel_g=rot.apply(second.accel_g))
        acc, _, _ = _day([("session", first), ("quiet", 40), ("session", turned)])
        res = find_exercise(acc, FS)
        assert [b.reps_per_set for b in res.bouts] == [[6, 6], [5]]

    @pytest.mark.parametrize("name", WALKS)
    def test_real_walks_are_not_exercise(self, name: str) -> None:
        acc, _, _ = _day([("quiet", 10), ("walk", name), ("quiet", 10)])
        res = find_exercise(acc, FS)
        assert res.bouts == []
        assert res.walking_s  # the step counter's verdict

    def test_synthetic_walking_is_not_exercise(self) -> None:
        t = np.arange(int(120 * FS)) / FS
        rng = np.random.default_rng(3)
        acc = np.column_stack(
            [
                0.15 * np.sin(2 * np.pi * 0.9 * t),  # sway at the stride frequency
                0.05 * np.sin(2 * np.pi * 1.8 * t + 1.0),
                1.0 + 0.35 * np.sin(2 * np.pi * 1.8 * t),  # vertical bounce at 1.8 steps/s
            ]
        ) + rng.normal(0, 0.01, (t.size, 3))
        assert find_exercise(acc, FS).bouts == []

    @pytest.mark.parametrize("n", [0, 1, 50])
    def test_empty_and_short_recordings_have_no_exercise(self, n: int) -> None:
        res = find_exercise(np.tile([0.0, 0.0, 1.0], (n, 1)), FS)
        assert (res.bouts, res.walking_s, res.refused, res.features.t_s.size) == ([], [], [], 0)

    def test_stillness_has_no_exercise(self) -> None:
        res = find_exercise(_quiet(np.array([0.3, 0.2, 0.9]), 60, 1), FS)
        assert (res.bouts, res.walking_s) == ([], [])

    def test_too_few_repetitions_are_not_a_set(self) -> None:
        session = synth_session("squat", [4], seed=5)
        assert find_exercise(session.accel_g, FS).bouts[0].reps_per_set == [4]
        res = find_exercise(session.accel_g, FS, min_set_reps=5)
        assert res.bouts == [] and "fewer than 5" in res.refused[0][2]

    def test_bad_input_is_refused_with_the_reason(self) -> None:
        with pytest.raises(InputError, match="m/s"):
            find_exercise(np.full((500, 3), 9.81), FS)
        with pytest.raises(InputError, match="NaN"):
            find_exercise(np.full((500, 3), np.nan), FS)
        with pytest.raises(InputError, match=">= 10 Hz"):
            find_exercise(np.zeros((500, 3)) + [0, 0, 1], 5.0)
        with pytest.raises(InputError, match="max_rest_s"):
            find_exercise(np.zeros((500, 3)) + [0, 0, 1], FS, max_rest_s=1.0)


class TestResemblance:
    def test_ranks_by_duration_and_range_of_motion(self) -> None:
        # pelvic tilt: 2-7 s, 8-20 deg; bridge: 2.5-8 s, 15-35 deg at the lower back.
        ranked = resemblance(4.5, 14.0, ["bridge", "pelvic_tilt"])
        assert [r[0] for r in ranked] == ["pelvic_tilt", "bridge"]
        assert ranked[0][1] == 1.0  # both at the centre of pelvic tilt's ranges
        # bridge at 5.25 s (centre) and 25 deg (centre of lower back): 1.0 exactly
        assert resemblance(5.25, 25.0, ["bridge"]) == [("bridge", 1.0)]

    def test_unknown_exercise_is_refused(self) -> None:
        with pytest.raises(InputError, match="not in the exercise library"):
            resemblance(3.0, 20.0, ["jumping_jack"])


def _store_session(store: Store, subject: str, device: str, seed: int, t0_ns: int) -> int:
    rec = synth_session("bridge", [10, 10], rest_s=30.0, seed=seed)
    n = rec.accel_g.shape[0]
    frames = []
    for seq, i in enumerate(range(0, n, 50)):
        t = t0_ns + (np.arange(i, min(i + 50, n)) * 20_000_000).astype(np.int64)
        for stream, values, units in (
            (StreamKind.ACCEL, rec.accel_g, ("g", "g", "g")),
            (StreamKind.GYRO, rec.gyro_dps, ("deg/s", "deg/s", "deg/s")),
        ):
            frames.append(Frame(subject, device, stream, t, values[i : i + 50], units, FS, seq))
    store.put_frames(frames)
    return t0_ns + (n - 1) * 20_000_000


class TestFoundSessions:
    def test_found_once_however_often_derived(self, store: Store) -> None:
        end = _store_session(store, "P009", "P009-imu", 11, T0_NS)
        first = find_sessions(store, "P009", exercises=["bridge", "bird_dog"])
        again = find_sessions(store, "P009", exercises=["bridge", "bird_dog"])
        assert (first.stored, again.stored, again.deleted) == (1, 1, 0)
        (s,) = store.sessions("P009")
        assert is_found(s) and s.exercise == "bridge" and s.plan_entry is None
        assert [len(x.reps) for x in s.sets] == [10, 10]
        assert s.session_id == found_session_id("P009", "P009-imu", s.start_ns)
        assert T0_NS < s.start_ns < s.end_ns < end

    def test_an_app_session_over_the_same_time_wins(self, store: Store) -> None:
        end = _store_session(store, "P009", "P009-imu", 12, T0_NS)
        assert find_sessions(store, "P009").stored == 1
        app = SessionRecord(
            "app-1", "P009", "bird_dog", T0_NS, end, "core-a", "mqtt:P009-imu", "recorded", (), {}
        )
        store.put_session(app)  # the app's events arrived after the frames
        summary = find_sessions(store, "P009")
        assert (summary.stored, summary.skipped, summary.deleted) == (0, 1, 1)
        assert [s.session_id for s in store.sessions("P009")] == ["app-1"]

    def test_every_device_and_subject_apart(self, store: Store) -> None:
        _store_session(store, "P009", "P009-imu", 13, T0_NS)
        _store_session(store, "P009", "P009-band", 14, T0_NS + 3600 * 10**9)
        _store_session(store, "P010", "P010-imu", 15, T0_NS)
        assert find_sessions(store, "P009").stored == 2
        assert find_sessions(store, "P010").stored == 1
        devices = sorted(s.meta["device"] for s in store.sessions("P009"))
        assert devices == ["P009-band", "P009-imu"]

    def test_a_window_cutting_a_bout_keeps_the_whole_bout(self, store: Store) -> None:
        _store_session(store, "P009", "P009-imu", 16, T0_NS)
        assert find_sessions(store, "P009").stored == 1
        (whole,) = store.sessions("P009")
        # a later, windowed run starts in the middle of the first set, or in the rest after it
        for cut in (whole.sets[0].reps[3].start_ns, whole.sets[0].end_ns + 10**9):
            summary = find_sessions(store, "P009", start_ns=cut)
            assert (summary.stored, summary.deleted) == (0, 0)
            assert store.sessions("P009") == [whole]
        # a window that starts before the bout finds it whole again, under the same id
        assert find_sessions(store, "P009", start_ns=T0_NS).stored == 1
        assert [s.session_id for s in store.sessions("P009")] == [whole.session_id]
