"""Parameters of the repetition counters, from the defaults, an exercise profile or overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from devices.errors import InputError
from features.exercises import ExerciseProfile, get_profile
from features.reps.periodic import PeriodicParams

Array = NDArray[np.float64]

#: Default repetition duration range without a profile, seconds.
DEFAULT_REP_RANGE_S = (0.8, 8.0)


@dataclass(frozen=True)
class EngineParams:
    """Tuning of the engine, in physical units (converted to samples once, in the engine).

    Durations in seconds, frequencies in Hz; ``floor`` in g; ``*_frac`` and ``*_ratio`` are
    dimensionless. Defaults were developed on the metamotion_barbell recordings and synthetic
    rehab sessions (see docs/reps.md for how far that generalises).
    """

    min_rep_s: float = 0.8
    max_rep_s: float = 8.0
    lowpass_hz: float = 1.0
    cov_window_s: float = 4.0
    hop_s: float = 0.2
    hi_frac: float = 0.8
    down_frac: float = 0.0
    trough_rise_frac: float = 0.3
    trough_flat_s: float = 0.25
    floor: float = 0.025
    dur_ratio: float = 2.5
    amp_ratio: float = 3.0
    min_run: int = 3
    min_autocorr: float = 0.3
    frag_frac: float = 0.5
    frag_period_frac: float = 0.65
    settle_s: float = 2.0
    start_frac: float = 0.15
    #: Earlier pending cycles (at most) that join a run when it is confirmed, if consistent.
    max_back: int = 1
    #: A first cycle starts no earlier than the last local minimum below 0.5 h before it.
    start_at_min: bool = True
    #: Guided mode (the exercise is known and the patient has started it): a cycle outside a
    #: run is reported at once when it is plausible for the exercise: duration within
    #: ``guided_rep_s``, range of motion within ``guided_rom_deg`` (needs ``rom_fn``), and,
    #: once a run has been seen in the stream, amplitude within ``guided_amp_ratio`` of that
    #: run's and principal axis within ``acos(guided_axis_cos)`` of that run's axis. Once a run
    #: has been seen, run extensions need that axis too, and every reported cycle (and a new
    #: run, by its median) a range of motion within ``guided_rom_ratio`` of the last run's.
    guided: bool = False
    guided_rep_s: tuple[float, float] = (0.0, math.inf)
    guided_rom_deg: tuple[float, float] = (0.0, math.inf)
    guided_amp_ratio: float = 1.5
    guided_axis_cos: float = 0.8
    guided_rom_ratio: float = 2.0


def resolve_profile(profile: object) -> ExerciseProfile | None:
    """Accept a profile, a library id or ``None``."""
    if profile is None or isinstance(profile, ExerciseProfile):
        return profile
    if isinstance(profile, str):
        return get_profile(profile)
    raise InputError(
        "profile", "", f"expected ExerciseProfile, str or None, got {type(profile).__name__}"
    )


#: Guided mode: a range of motion is plausible within these factors of the profile's range
#: (lowest and highest over its placements; the sensor placement is not known).
GUIDED_ROM_FACTORS = (0.5, 1.5)
#: Guided mode confirms a trough after this long without a new minimum, seconds (normal
#: mode: 0.25 s): two samples at 50 Hz. The band-passed projection is smooth (1 Hz low-pass),
#: so two samples that do not go lower mark the trough; with the filter's ~0.35 s delay this
#: keeps guided events within 0.5 s of the true end (docs/reps.md). Normal mode keeps
#: 0.25 s: there a shorter wait cost a barbell set (0.15 s: 68 instead of 69 of 78).
GUIDED_TROUGH_FLAT_S = 0.04
#: Guided mode: upper edge of the causal band-pass, Hz (engine default 1 Hz). 2 Hz halves the
#: filter delay: on the sample_data recordings the p95 from the true end of a repetition to its
#: event fell from 0.44 s to 0.18 s, with one pelvic-tilt repetition fewer (21 of 24).
GUIDED_LOWPASS_HZ = 2.0


def rep_range_s(
    profile: ExerciseProfile | None, min_rep_s: float | None, max_rep_s: float | None
) -> tuple[float, float]:
    """Repetition duration range, seconds: :data:`DEFAULT_REP_RANGE_S`, or 0.7 x min ..
    1.3 x max of the profile's ``rep_duration_s``, or the overrides."""
    lo, hi = DEFAULT_REP_RANGE_S
    if profile is not None:
        lo, hi = 0.7 * profile.rep_duration_s[0], 1.3 * profile.rep_duration_s[1]
    lo = lo if min_rep_s is None else float(min_rep_s)
    hi = hi if max_rep_s is None else float(max_rep_s)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.2 <= lo < hi <= 60.0):
        raise InputError(
            "min_rep_s", "", f"need 0.2 <= min_rep_s < max_rep_s <= 60 s, got {lo}, {hi}"
        )
    return lo, hi


def _check_mode(profile: ExerciseProfile | None, guided: bool, placement: str | None) -> None:
    if not isinstance(guided, bool):
        raise InputError("guided", "", f"expected True or False, got {type(guided).__name__}")
    if guided and profile is None:
        raise InputError("guided", "", "guided mode needs the exercise profile (profile=...)")
    if placement is not None and (profile is None or placement not in profile.rom_deg):
        known = ", ".join(profile.rom_deg) if profile is not None else "none without a profile"
        raise InputError("placement", "", f"unknown placement {placement!r}; known: {known}")


def make_params(
    profile: ExerciseProfile | None,
    min_rep_s: float | None,
    max_rep_s: float | None,
    *,
    guided: bool = False,
    placement: str | None = None,
) -> EngineParams | PeriodicParams:
    """Counter parameters: :class:`PeriodicParams` by default, :class:`EngineParams` for the
    guided mode. The profile narrows the repetition duration range (:func:`rep_range_s`).

    ``guided=True`` (needs a profile) lets a single cycle be reported before a run confirms
    it when its duration is within the profile's ``rep_duration_s`` (s) and its range of motion
    within :data:`GUIDED_ROM_FACTORS` of the profile's ``rom_deg`` (degrees): of the given
    sensor ``placement`` (a key of the profile's ``rom_deg``), else lowest to highest over all.
    """
    _check_mode(profile, guided, placement)
    lo, hi = rep_range_s(profile, min_rep_s, max_rep_s)
    if not guided or profile is None:
        return PeriodicParams(min_rep_s=lo, max_rep_s=hi)
    ranges = [profile.rom_deg[placement]] if placement else list(profile.rom_deg.values())
    rom_lo = min(r[0] for r in ranges) * GUIDED_ROM_FACTORS[0]
    rom_hi = max(r[1] for r in ranges) * GUIDED_ROM_FACTORS[1]
    return EngineParams(
        min_rep_s=lo,
        max_rep_s=hi,
        guided=True,
        guided_rep_s=(float(profile.rep_duration_s[0]), float(profile.rep_duration_s[1])),
        guided_rom_deg=(rom_lo, rom_hi),
        trough_flat_s=GUIDED_TROUGH_FLAT_S,
        lowpass_hz=GUIDED_LOWPASS_HZ,
    )
