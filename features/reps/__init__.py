"""Repetition counting for home exercise from a wrist, thigh or lower-back IMU.

Public API: :func:`count_reps` (batch) returning :class:`RepResult` (with :class:`Repetition`
items), and :class:`LiveRepCounter` (streaming) reporting :class:`RepEvent`. Both give the same
repetitions on the same samples.

Modules: :mod:`~features.reps.counter` (``count_reps``), :mod:`~features.reps.periodic` (the
default, exercise-agnostic counter: movement bouts, autocorrelation period, peaks),
:mod:`~features.reps.engine` (the causal cycle engine of the guided mode),
:mod:`~features.reps.params` (parameters, profiles), :mod:`~features.reps.rom` (range of
motion), :mod:`~features.reps.live` (the live counter). Method and figures: docs/reps.md.
"""

from features.reps.counter import Repetition, RepResult, count_reps
from features.reps.live import LiveRepCounter, RepEvent

__all__ = ["LiveRepCounter", "RepEvent", "RepResult", "Repetition", "count_reps"]
