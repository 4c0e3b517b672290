"""The researcher export's continuous minute series, daily cadence figures and programme tables.

Researchers' tools (stepcount, GGIR) expect one row per minute from the first to the last minute
with data, whatever the wear: :func:`subject_series` builds it from the accelerometer minutes the
store keeps and the pedometer's intervals (:func:`features.epochs.minute_series`; ``source``
says which, steps are NaN where the sensor was not worn), clipped to the export's days. The
daily table adds stepcount's daily figures over that series (walking minutes, peak 1-minute and
30-minute cadence, 95th-percentile cadence: :func:`features.epochs.daily_step_stats`).

The programme tables (``symptoms``, ``engagement``, ``outcomes``) come from
:mod:`adherence.programme_export`; they are empty for subjects whose plan prescribes no
programme components.

:data:`UNITS` is the unit of every exported column; Parquet files carry it as field metadata
(``unit``) and, with the algorithm versions, as the schema's ``adherence`` metadata.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from adherence.pipeline import PEDOMETER_MAX_INTERVAL_MIN, daily_stats, pedometer_intervals
from adherence.plan import CarePlan
from adherence.programme_data import evaluate_programme, load_inputs
from adherence.programme_export import engagement_table, outcomes_table, symptoms_table
from adherence.scoring import score_plan, summaries_by_day
from features.epochs import DailyStepStats, MinuteSeries, minute_series
from ingest.store import Store

#: Unit of each exported column (tables share column names); columns not named have none.
UNITS: dict[str, str] = {
    "time_utc": "UTC",
    "start_utc": "UTC",
    "end_utc": "UTC",
    "time_local": "local time with UTC offset",
    "steps": "steps",
    "cadence_spm": "steps/min",
    "wear_min": "min",
    "active_min": "min (>= 100 steps/min)",
    "walking_min": "min (>= 60 steps/min)",
    "peak1_spm": "steps/min",
    "peak30_spm": "steps/min",
    "p95_spm": "steps/min",
    "step_goal": "steps/day",
    "composite": "points (0-100)",
    "exercise_adherence_7d": "fraction (0-1)",
    "step_attainment_7d": "fraction (0-1)",
    "duration_s": "s",
    "rom_deg": "deg",
    "pain_nrs": "NRS points (0-10)",
    "peg_score": "points (0-10)",
    "minutes": "min",
}


def subject_series(store: Store, subject: str, lo_ns: int, hi_ns: int) -> MinuteSeries:
    """The subject's continuous minute series (first to last minute with data), clipped to
    [lo_ns, hi_ns) (UTC ns)."""
    # The whole series first, then the export's days: a day inside the data is covered minute by
    # minute whichever days are asked for (a window never moves where the series starts).
    rows = store.steps_minutes(subject, -(2**62), 2**62)
    iv = pedometer_intervals(store, subject)
    s = minute_series(
        [r.minute_ns for r in rows],
        [r.steps for r in rows],
        [r.wear for r in rows],
        iv.start_ns,
        iv.end_ns,
        iv.steps,
        max_interval_min=PEDOMETER_MAX_INTERVAL_MIN,
    )
    keep = (s.minute_ns >= lo_ns) & (s.minute_ns < hi_ns)
    return MinuteSeries(s.minute_ns[keep], s.steps[keep], s.wear[keep], s.source[keep])


def daily_figures(series: MinuteSeries, tz: ZoneInfo, days: list[str]) -> pd.DataFrame:
    """stepcount's daily figures of ``days`` (local ``YYYY-MM-DD``), NaN for a day without data."""
    stats = daily_stats(series, tz)
    nan = DailyStepStats(np.nan, 0, 0, 0, np.nan, np.nan, np.nan)
    rows = [stats.get(d, nan) for d in days]
    return pd.DataFrame(
        {
            "walking_min": np.array([r.walking_min for r in rows], np.int64),
            "peak1_spm": np.array([r.peak1_spm for r in rows], np.float64),
            "peak30_spm": np.array([r.peak30_spm for r in rows], np.float64),
            "p95_spm": np.array([r.p95_spm for r in rows], np.float64),
        }
    )


def _utc_ns(df: pd.DataFrame) -> pd.DataFrame:
    """``time_utc`` as UTC ns (the export's writer formats every time column the same way)."""
    out = df.copy()
    stamps = pd.to_datetime(out["time_utc"], utc=True, format="ISO8601")
    out["time_utc"] = (
        stamps.dt.as_unit("ns").astype("int64") if len(out) else pd.Series([], dtype="int64")
    )
    return out


def _in(lo: int, hi: int, t_ns: int) -> bool:
    return lo <= t_ns < hi


def symptoms(
    store: Store, key: bytes, plan: CarePlan | None, subject: str, tz: ZoneInfo, lo: int, hi: int
) -> pd.DataFrame:
    """Pain and PEG reports of the subject within [lo, hi) (UTC ns)."""
    if plan is None or plan.components is None:
        return _utc_ns(symptoms_table(key, subject, tz, [], []))
    inputs = load_inputs(store, plan, plan.end_date)
    return _utc_ns(
        symptoms_table(
            key,
            subject,
            tz,
            [r for r in inputs.pain if _in(lo, hi, r.t_ns)],
            [g for g in inputs.peg if _in(lo, hi, g.t_ns)],
        )
    )


def engagement(
    store: Store, key: bytes, plan: CarePlan | None, subject: str, tz: ZoneInfo, lo: int, hi: int
) -> pd.DataFrame:
    """Education, CBT, mindfulness, coaching and community events within [lo, hi) (UTC ns)."""
    if plan is None or plan.components is None:
        return _utc_ns(engagement_table(key, subject, tz, []))
    events = [e for e in load_inputs(store, plan, plan.end_date).events if _in(lo, hi, e.t_ns)]
    return _utc_ns(engagement_table(key, subject, tz, events))


def outcomes(store: Store, key: bytes, plan: CarePlan | None, last: dt.date | None) -> pd.DataFrame:
    """The subject's dose-response row as of ``last`` (default: the programme's end), final."""
    if plan is None or plan.components is None:
        return outcomes_table(key, [])
    as_of = min(plan.end_date, last or plan.end_date)
    if as_of < plan.start_date:
        return outcomes_table(key, [])
    lo, _ = plan.day_bounds_ns(plan.start_date)
    _, hi = plan.day_bounds_ns(as_of)
    days = score_plan(
        plan,
        store.sessions(plan.subject, lo, hi),
        summaries_by_day(store, plan.subject, plan.start_date, as_of),
        today=as_of + dt.timedelta(days=1),
    )
    res = evaluate_programme(store, plan, days)
    return outcomes_table(key, [] if res is None else [res.dose])
