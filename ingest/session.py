"""A live, sensor-guided exercise session: accelerometer frames in, feedback events out.

:class:`LiveSession` holds one patient's session. It feeds each accelerometer frame to a
:class:`features.reps.LiveRepCounter` and turns the counter's repetition events into feedback
for the patient's app: ``rep`` ("repetition 7 of 10, set 2 of 3"), ``set_end`` and
``session_end``; a ``gap`` event when the sensor's data stopped for a while (a BLE disconnect,
lost MQTT messages) and came back. It does no I/O: the MQTT service
(:mod:`ingest.session_mqtt`) and the BLE command (:mod:`adherence.cli.session`, through
:mod:`ingest.session_tee`) move the bytes, and :meth:`LiveSession.record` gives the session for
the store.

Time: the counter runs on stream time (samples / rate). A gap shorter than
:data:`MAX_FILL_S` is filled by holding the last sample (still sensor: no repetition can be
invented there) so stream time stays aligned with the sensor's clock; a longer gap restarts the
stream clock at the next frame. Every event carries UTC nanoseconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.errors import InputError
from devices.frame import Frame, StreamKind
from features.exercises import get_profile
from features.reps import LiveRepCounter, RepEvent
from ingest.store import RepRecord, SessionRecord, SetRecord

NS_PER_S = 1_000_000_000
MAX_FILL_S = 30.0
"""Longest data gap (s) bridged by holding the last sample."""
SET_END_GRACE_S = 10.0
"""A set is announced done once no repetition came for ``min_rest_s`` plus this (s): the
counter reports a repetition up to a few seconds after it ended, so waiting only ``min_rest_s``
could close a set that is still going on."""
GAP_MIN_PERIODS = 1.5
"""A frame starting this many sample periods after the expected time opens a gap ..."""
GAP_MIN_S = 0.25
"""... and at least this many seconds (device clock); a patient is never told about a shorter
one ("0.0 s"). A step in the device clock is a gap only if the next frame confirms it (follows
on from the stepped frame): a sensor that stamps a notification when it is sent, late on a busy
host or radio, steps forward and then back (up to 158 ms measured with two CPU hogs beside the
BLE test), or stays late for a while (steps of 129 ms seen there), and that is not missing
data: it is neither reported nor filled. A BLE reconnect loses more (284-387 ms measured)."""
FEEDBACK_VERSION = 1


@dataclass(frozen=True)
class Target:
    """What the care plan prescribes for this exercise: sets and repetitions per set.

    ``None`` where unknown (a session outside the plan): feedback then says "repetition 7".
    """

    sets: int | None = None
    reps: int | None = None


@dataclass(frozen=True)
class Feedback:
    """One feedback event for the patient's app.

    ``kind`` is ``session_start``, ``rep``, ``set_end``, ``gap`` or ``session_end``; ``t_ns`` is
    the UTC time the event describes (the end of the repetition, the end of the set, ...).
    ``data`` holds the event's numbers (see ``docs/mqtt.md``, "Live session feedback").
    """

    kind: str
    session_id: str
    t_ns: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The feedback payload: a UTF-8 JSON object with ``"v": 1``."""
        body = {
            "v": FEEDBACK_VERSION,
            "event": self.kind,
            "session_id": self.session_id,
            "t_ns": self.t_ns,
            **self.data,
        }
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()

    def text(self) -> str:
        """A short human-readable line ("set 2 of 3 - repetition 7 of 10")."""
        d = self.data
        if self.kind == "rep":
            return f"{_of('set', d['set'], d.get('sets_target'))} - " + _of(
                "repetition", d["rep_in_set"], d.get("reps_target")
            )
        if self.kind == "set_end":
            return f"{_of('set', d['set'], d.get('sets_target'))} done: {d['reps']} repetitions"
        if self.kind == "gap":
            return f"sensor data missing for {d['gap_s']:.1f} s - counting goes on"
        if self.kind == "session_end":
            return f"session {d['status']}: {d['sets']} sets, {d['reps_total']} repetitions"
        return f"session started: {d.get('exercise', '')}"


def _of(word: str, n: int, of: int | None) -> str:
    return f"{word} {n} of {of}" if of else f"{word} {n}"


class LiveSession:
    """One patient's session on one sensor.

    Parameters
    ----------
    session_id, subject, device, exercise:
        Ids; ``exercise`` is an exercise-library id (its profile narrows the counter).
    start_ns:
        When the session started, UTC ns.
    target:
        Prescribed sets and repetitions.
    plan_entry:
        The care plan's session id, if the app named one.
    min_rest_s:
        A pause longer than this (s) between repetitions ends a set.
    placement:
        Where the sensor is worn (``lower_back``, ``thigh``, ``wrist``), if known: it narrows the
        guided counter's range-of-motion check.

    A library exercise is counted in guided mode (:class:`features.reps.LiveRepCounter` with
    ``guided=True``): the patient started the session and named the exercise, so a cycle that
    fits the exercise is reported as soon as it ends instead of after three cycles.
    """

    def __init__(
        self,
        session_id: str,
        subject: str,
        device: str,
        exercise: str,
        start_ns: int,
        *,
        target: Target | None = None,
        plan_entry: str | None = None,
        min_rest_s: float = 10.0,
        placement: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.subject = subject
        self.device = device
        self.exercise = exercise
        self.start_ns = int(start_ns)
        self.target = target or Target()
        self.plan_entry = plan_entry
        self.min_rest_s = float(min_rest_s)
        self.placement = placement
        self.events: list[RepEvent] = []
        self._bounds_ns: list[tuple[int, int]] = []  # UTC (start, end) of each event
        self.gaps: list[tuple[int, int]] = []
        self.end_ns: int | None = None
        self.status = "running"
        self._counter: LiveRepCounter | None = None
        self._fs_hz: float | None = None
        # Counter time (samples fed / rate) to UTC: piecewise, a new piece after a long gap.
        self._clock: list[tuple[float, int]] = []
        self._samples = 0
        self._last = np.zeros(3)
        self._next_ns: int | None = None  # UTC ns expected of the next sample
        self._next_key: int | None = None  # the same on the clock used for continuity
        self._held: Frame | None = None  # a frame after a step in the clock, until confirmed
        self._set_open = False
        self._sets_done = 0
        self.last_data_ns = self.start_ns
        self.frames_received = 0
        """Accelerometer frames that reached the session (0: the sensor never delivered)."""

    # -- helpers -----------------------------------------------------------------------------
    def _utc(self, stream_s: float) -> int:
        """UTC ns of a counter time (s)."""
        for s0, t0 in reversed(self._clock):
            if stream_s >= s0:
                return t0 + round((stream_s - s0) * NS_PER_S)
        s0, t0 = self._clock[0]
        return t0 + round((stream_s - s0) * NS_PER_S)

    def _new_counter(self, fs_hz: float) -> LiveRepCounter:
        """A guided counter for a library exercise (first repetitions reported at once), else
        the exercise-agnostic one (a run of three cycles proves the movement repetitive)."""
        try:
            get_profile(self.exercise)
        except InputError:  # not a library exercise: count without a profile
            return LiveRepCounter(fs_hz, None, min_rest_s=self.min_rest_s)
        try:
            return LiveRepCounter(
                fs_hz,
                self.exercise,
                min_rest_s=self.min_rest_s,
                guided=True,
                placement=self.placement,
            )
        except InputError:  # a placement the profile does not list: guided without it
            return LiveRepCounter(fs_hz, self.exercise, min_rest_s=self.min_rest_s, guided=True)

    def _rep_feedback(self, ev: RepEvent) -> list[Feedback]:
        out: list[Feedback] = []
        set_no = ev.set_index + 1
        if self._set_open and set_no > self._sets_done + 1:
            out += self._close_set(self._bounds_ns[-1][1])
        self.events.append(ev)
        start_ns, end_ns = self._utc(ev.start_s), self._utc(ev.end_s)
        self._bounds_ns.append((start_ns, end_ns))
        self._set_open = True
        in_set = sum(1 for e in self.events if e.set_index == ev.set_index)
        out.append(
            Feedback(
                "rep",
                self.session_id,
                end_ns,
                {
                    "rep": len(self.events),
                    "rep_in_set": in_set,
                    "set": set_no,
                    "reps_target": self.target.reps,
                    "sets_target": self.target.sets,
                    "start_ns": start_ns,
                    "duration_s": round(ev.duration_s, 3),
                    "rom_deg": None if not np.isfinite(ev.rom_deg) else round(ev.rom_deg, 1),
                },
            )
        )
        return out

    def _close_set(self, t_ns: int) -> list[Feedback]:
        if not self._set_open:
            return []
        self._set_open = False
        self._sets_done += 1
        reps = sum(1 for e in self.events if e.set_index == self._sets_done - 1)
        return [
            Feedback(
                "set_end",
                self.session_id,
                t_ns,
                {
                    "set": self._sets_done,
                    "reps": reps,
                    "sets_target": self.target.sets,
                    "reps_target": self.target.reps,
                },
            )
        ]

    # -- input -------------------------------------------------------------------------------
    def start_feedback(self) -> Feedback:
        """The ``session_start`` event (targets and exercise), to send when the session opens."""
        return Feedback(
            "session_start",
            self.session_id,
            self.start_ns,
            {
                "exercise": self.exercise,
                "sets_target": self.target.sets,
                "reps_target": self.target.reps,
                "plan_entry": self.plan_entry,
            },
        )

    def feed(self, frame: Frame) -> list[Feedback]:
        """Feed one accelerometer frame (g); return the feedback it produced.

        Frames of other streams are ignored. Frames must come in time order; a frame that
        starts before the data already fed (a duplicate) is ignored.
        """
        if self.status != "running" or frame.stream is not StreamKind.ACCEL:
            return []
        held, self._held = self._held, None
        if held is not None:
            if self._continues(held, frame):  # the step persists: data really is missing
                return self._feed(held) + self._feed(frame)
            # the next frame is back on the old grid: the held one was only stamped late
            return self._feed(held, on_grid=True) + self._feed(frame)
        if self._offset_ns(frame) >= self._tolerance_ns():
            self._held = frame  # a gap or a late stamp: the next frame tells which
            return []
        return self._feed(frame)

    @staticmethod
    def _clock_of(frame: Frame) -> npt.NDArray[np.int64]:
        # Continuity is judged on the device clock where there is one: its sample spacing is
        # exact, while the aligned UTC time moves a little as the clock estimate improves.
        return frame.device_t_ns if frame.device_t_ns is not None else frame.t_ns

    def _tolerance_ns(self) -> float:
        if self._fs_hz is None:
            return math.inf
        return max(GAP_MIN_S * NS_PER_S, (GAP_MIN_PERIODS - 1) * NS_PER_S / self._fs_hz)

    def _offset_ns(self, frame: Frame) -> float:
        """How far (ns, device clock) the frame starts after where the data fed so far ends."""
        if self._counter is None or self._next_key is None:
            return 0.0
        return float(int(self._clock_of(frame)[0]) - self._next_key)

    def _continues(self, held: Frame, frame: Frame) -> bool:
        """True if ``frame`` follows ``held`` on the device clock (within the tolerance)."""
        fs = held.fs_hz or self._fs_hz or 1.0
        expected = int(self._clock_of(held)[-1]) + NS_PER_S / fs
        return abs(int(self._clock_of(frame)[0]) - expected) < self._tolerance_ns()

    def _feed(self, frame: Frame, *, on_grid: bool = False) -> list[Feedback]:
        """Feed one frame; ``on_grid``: contiguous with the data fed so far, whatever its stamp."""
        fs = frame.fs_hz or self._fs_hz
        if fs is None:
            raise InputError("frame", frame.device, "accelerometer frame without a sample rate")
        if on_grid:
            assert self._next_key is not None
            grid_next = self._next_key + round(frame.n * NS_PER_S / fs)
            out = self._push(frame.values)
            self._advance(frame, fs)
            self._next_key = grid_next
            return out + self.tick(frame.end_ns)
        out = []
        acc = frame.values
        t_first = frame.start_ns
        clock = self._clock_of(frame)
        k_first, k_last = int(clock[0]), int(clock[-1])
        if self._counter is None:
            self._fs_hz = fs
            self._counter = self._new_counter(fs)
            self._clock.append((0.0, t_first))
        else:
            assert self._next_key is not None and self._next_ns is not None
            assert self._fs_hz is not None
            period_ns = NS_PER_S / self._fs_hz
            tolerance_ns = self._tolerance_ns()
            if k_last < self._next_key - period_ns / 2:
                if k_first < self._next_key - NS_PER_S and t_first >= self._next_ns - NS_PER_S:
                    # the device clock restarted (a reboot) while UTC moved on: re-anchor it
                    self._next_key = k_first - max(0, t_first - self._next_ns)
                else:
                    return []  # already fed: a duplicate or late frame
            if k_first >= self._next_key + tolerance_ns:
                out += self._gap(k_first - self._next_key, t_first, period_ns)
            elif k_first <= self._next_key - tolerance_ns:  # overlaps data already fed
                skip = int(round((self._next_key - k_first) / period_ns))
                acc = acc[skip:]
        out += self._push(acc)
        self._advance(frame, fs)
        out += self.tick(frame.end_ns)
        return out

    def _advance(self, frame: Frame, fs: float) -> None:
        step = round(NS_PER_S / fs)
        self._next_key = int(self._clock_of(frame)[-1]) + step
        self._next_ns = frame.end_ns + step
        self.last_data_ns = frame.end_ns
        self.frames_received += 1

    def _gap(self, gap_ns: int, t_first: int, period_ns: float) -> list[Feedback]:
        """A real gap of ``gap_ns`` (device clock) before the frame starting at ``t_first``."""
        assert self._next_ns is not None and self._fs_hz is not None
        self.gaps.append((self._next_ns, t_first))
        out = [
            Feedback(
                "gap",
                self.session_id,
                t_first,
                {"gap_s": round(gap_ns / NS_PER_S, 3), "reps_so_far": len(self.events)},
            )
        ]
        fill = round(gap_ns / period_ns)
        if gap_ns <= MAX_FILL_S * NS_PER_S:
            out += self._push(np.repeat(self._last[None, :], fill, axis=0))
        else:  # too long to bridge: the counter's time jumps, UTC follows this frame
            self._clock.append((self._samples / self._fs_hz, t_first))
        return out

    def _push(self, acc: np.ndarray) -> list[Feedback]:
        if acc.shape[0] == 0:
            return []
        assert self._counter is not None
        self._last = acc[-1].copy()
        self._samples += acc.shape[0]
        out: list[Feedback] = []
        for ev in self._counter.update(acc):
            out += self._rep_feedback(ev)
        return out

    def tick(self, now_ns: int) -> list[Feedback]:
        """Close the current set once no repetition came for a while (``now_ns``: sensor UTC ns).

        The wait is ``min_rest_s + SET_END_GRACE_S``; the ``set_end`` event is stamped with the
        end of the set's last repetition.
        """
        if not self._set_open or not self.events:
            return []
        last_end = self._bounds_ns[-1][1]
        if now_ns - last_end > (self.min_rest_s + SET_END_GRACE_S) * NS_PER_S:
            return self._close_set(last_end)
        return []

    def finish(self, end_ns: int, status: str = "complete") -> list[Feedback]:
        """End the session (``status``: ``complete``, or ``timeout`` when the app vanished)."""
        if self.status != "running":
            return []
        out: list[Feedback] = []
        held, self._held = self._held, None
        if held is not None:  # nothing came after it: take its stamp as it is
            out += self._feed(held)
        if self._counter is not None:
            for ev in self._counter.finish():
                out += self._rep_feedback(ev)
        if self.events:
            out += self._close_set(self._bounds_ns[-1][1])
        self.status = status
        self.end_ns = int(max(end_ns, self.last_data_ns))
        done = len(self.events)
        prescribed = (self.target.sets or 0) * (self.target.reps or 0)
        out.append(
            Feedback(
                "session_end",
                self.session_id,
                self.end_ns,
                {
                    "status": status,
                    "sets": self._sets_done,
                    "reps_total": done,
                    "reps_per_set": self.reps_per_set(),
                    "reps_prescribed": prescribed or None,
                    "completion": round(min(1.0, done / prescribed), 3) if prescribed else None,
                    "gaps": len(self.gaps),
                },
            )
        )
        return out

    def reps_per_set(self) -> list[int]:
        """Repetitions counted in each set so far."""
        n = max((e.set_index for e in self.events), default=-1) + 1
        return [sum(1 for e in self.events if e.set_index == i) for i in range(n)]

    def record(self) -> SessionRecord:
        """The session as the store keeps it (sets and repetitions with UTC times)."""
        sets: list[SetRecord] = []
        for i in range(max((e.set_index for e in self.events), default=-1) + 1):
            reps = tuple(
                RepRecord(
                    b[0],
                    b[1],
                    float(e.duration_s),
                    float(e.rom_deg) if np.isfinite(e.rom_deg) else None,
                )
                for e, b in zip(self.events, self._bounds_ns, strict=True)
                if e.set_index == i
            )
            if reps:
                sets.append(SetRecord(len(sets), reps[0].start_ns, reps[-1].end_ns, reps))
        return SessionRecord(
            session_id=self.session_id,
            subject=self.subject,
            exercise=self.exercise,
            start_ns=self.start_ns,
            end_ns=self.end_ns if self.end_ns is not None else self.last_data_ns,
            plan_entry=self.plan_entry,
            source=f"live:{self.device}",
            status="complete" if self.status == "running" else self.status,
            sets=tuple(sets),
            meta={"device": self.device, "gaps_ns": [list(g) for g in self.gaps]},
        )
