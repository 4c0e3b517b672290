"""A synthetic cohort in a store, for the scale-out tests and benchmarks (SYNTHETIC data).

Each subject wears a 50 Hz triaxial accelerometer for ``wear_h`` hours a day from 08:00 local
time (24 h: continuous wear): a posture (a random orientation of gravity) every 5-40 minutes
with fidgeting noise, and walking bouts of 1-10 minutes at 1.5-2.1 steps/s (the step impulses of
``benchmarks/steps_speed.py``: a Gaussian heel strike with a smaller rebound). On the care plan's
session days a home-exercise session from :func:`features.synthetic.synth_session` (accelerometer
and gyroscope, known repetitions) is recorded at 18:00 on a second device and registered as a
``recorded`` session, as ``adherence demo`` does for exercise recordings.

Samples are a 16-bit sensor's counts, as real devices send them: the accelerometer at
:data:`ACCEL_COUNTS_PER_G` (the +-8 g range), the gyroscope at :data:`GYRO_COUNTS_PER_DPS` (the
+-2000 deg/s range), both of the Bosch BMI160 (datasheet BST-BMI160-DS000, tables 3 and 4); the
values stored are ``count / scale`` in float64, so the raw archive keeps them as 16-bit counts
(:mod:`adherence.archive`).

Everything comes from ``numpy.random.default_rng(seed)``: the same arguments give the same store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from adherence.plan import CarePlan, local_midnight_ns, parse_plans
from devices.frame import Frame, StreamKind
from features.synthetic import synth_session
from ingest.store import SessionRecord, Store

__all__ = [
    "ACCEL_COUNTS_PER_G",
    "FS_HZ",
    "GYRO_COUNTS_PER_DPS",
    "cohort_plans",
    "fill_subject",
    "quantise",
]

FS_HZ = 50.0
"""Sample rate of the synthetic wear and exercise data, Hz."""
FRAME_S = 60
"""Seconds of samples per stored frame."""
NS_PER_S = 1_000_000_000
ACCEL_COUNTS_PER_G = 4096.0
"""Accelerometer resolution, counts per g (16 bits over +-8 g)."""
GYRO_COUNTS_PER_DPS = 16.4
"""Gyroscope resolution, counts per deg/s (16 bits over +-2000 deg/s)."""


def quantise(x: npt.NDArray[np.float64], counts_per_unit: float) -> npt.NDArray[np.float64]:
    """``x`` as a 16-bit sensor reports it: rounded to whole counts (``counts_per_unit`` per
    unit), clipped to the int16 range, returned as ``count / counts_per_unit`` (same unit)."""
    counts = np.clip(np.rint(x * counts_per_unit), -32768, 32767)
    out: npt.NDArray[np.float64] = counts / counts_per_unit
    return out


def cohort_plans(
    n_subjects: int, start: dt.date, days: int, tz: str = "Europe/London"
) -> tuple[dict[str, Any], list[CarePlan]]:
    """Care plans (the JSON document and the parsed plans) for subjects ``S0000``... ."""
    doc = {
        "format": "adherence-care-plan/1",
        "plans": [
            {
                "subject": f"S{i:04d}",
                "programme": "lbp-home",
                "start_date": start.isoformat(),
                "length_days": days,
                "timezone": tz,
                "sessions": [
                    {
                        "id": "core",
                        "weekdays": ["mon", "wed", "fri"],
                        "exercises": [{"exercise": "bridge", "sets": 2, "reps": 8}],
                    }
                ],
                "step_goal": {"start": 3000, "weekly_increase": 0, "max": 3000},
            }
            for i in range(n_subjects)
        ],
    }
    return doc, parse_plans(doc)


def _rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _walk(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    """``n`` samples of walking at a random cadence, g (gravity on z before rotation)."""
    f = float(rng.uniform(1.5, 2.1))
    k = int(n / FS_HZ * f)
    idx = np.clip(np.rint((np.arange(k) + 0.5) / f * FS_HZ).astype(int), 0, n - 1)
    z = np.zeros(n)
    z[idx] = 1.0
    kt = np.arange(-15, 16) / FS_HZ
    kern = 0.35 * np.exp(-0.5 * (kt / 0.06) ** 2) - 0.12 * np.exp(-0.5 * ((kt - 0.2) / 0.08) ** 2)
    tw = np.arange(n) / FS_HZ
    body = np.c_[0.08 * np.sin(np.pi * f * tw), 0.03 * np.sin(2 * np.pi * f * tw), 1.0 + z]
    body[:, 2] = 1.0 + np.convolve(z, kern, mode="same")
    out: npt.NDArray[np.float64] = body @ _rotation(rng).T
    return out


def _hour(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """One hour of worn accelerometer data at 50 Hz, g."""
    n = int(3600 * FS_HZ)
    a = np.empty((n, 3))
    i = 0
    while i < n:
        seg = int(rng.uniform(300, 2400) * FS_HZ)
        a[i : i + seg] = _rotation(rng) @ np.array([0.0, 0.0, 1.0])
        i += seg
    a += rng.normal(0, 0.02, (n, 3))
    for slot in rng.permutation(3)[: int(rng.integers(0, 3))]:
        dur = int(rng.uniform(60, 600) * FS_HZ)
        s0 = int(slot * 1200 * FS_HZ + rng.uniform(0, 1200 * FS_HZ - dur))
        a[s0 : s0 + dur] = _walk(rng, dur) + rng.normal(0, 0.02, (dur, 3))
    return a


def _frames(
    subject: str, device: str, stream: StreamKind, t0_ns: int, values: npt.NDArray[np.float64]
) -> Iterator[Frame]:
    per = int(FRAME_S * FS_HZ)
    units = ("g", "g", "g") if stream is StreamKind.ACCEL else ("deg/s", "deg/s", "deg/s")
    for j, i in enumerate(range(0, len(values), per)):
        t = t0_ns + np.round((i + np.arange(min(per, len(values) - i))) * NS_PER_S / FS_HZ)
        yield Frame(
            subject=subject,
            device=device,
            stream=stream,
            t_ns=t.astype(np.int64),
            values=values[i : i + per],
            units=units,
            fs_hz=FS_HZ,
            seq=(t0_ns // NS_PER_S) * 1000 + j,
            meta={"synthetic": True},
        )


def _session(store: Store, plan: CarePlan, day: dt.date, seed: int) -> None:
    rec = synth_session("bridge", [8, 8], rest_s=30.0, lead_in_s=5.0, fs_hz=FS_HZ, seed=seed)
    device = f"{plan.subject}-imu"
    t0 = local_midnight_ns(day, plan.tz) + 18 * 3600 * NS_PER_S
    acc = quantise(rec.accel_g, ACCEL_COUNTS_PER_G)
    gyr = quantise(rec.gyro_dps, GYRO_COUNTS_PER_DPS)
    store.put_frames(_frames(plan.subject, device, StreamKind.ACCEL, t0, acc))
    store.put_frames(_frames(plan.subject, device, StreamKind.GYRO, t0, gyr))
    store.put_session(
        SessionRecord(
            session_id=f"{plan.subject}-{day.isoformat()}-bridge",
            subject=plan.subject,
            exercise="bridge",
            start_ns=t0,
            end_ns=t0 + round(float(rec.t_s[-1]) * NS_PER_S),
            plan_entry="core",
            source=f"recording:{device}",
            status="recorded",
            sets=(),
            meta={"device": device, "synthetic": True},
        )
    )


def fill_subject(store: Store, plan: CarePlan, *, wear_h: float, seed: int) -> int:
    """Store the subject's synthetic wear (every plan day) and sessions; return samples stored."""
    rng = np.random.default_rng(seed)
    tz: ZoneInfo = plan.tz
    device = f"{plan.subject}-wrist"
    samples = 0
    for d, day in enumerate(plan.days()):
        start_h = 0.0 if wear_h >= 24 else 8.0
        t0 = local_midnight_ns(day, tz) + round(start_h * 3600) * NS_PER_S
        hours = int(np.ceil(wear_h))
        for h in range(hours):
            a = _hour(rng)
            if h == hours - 1 and wear_h < hours:
                a = a[: int((wear_h - h) * 3600 * FS_HZ)]
            a = quantise(a, ACCEL_COUNTS_PER_G)
            with store.transaction():
                store.put_frames(
                    _frames(plan.subject, device, StreamKind.ACCEL, t0 + h * 3600 * NS_PER_S, a)
                )
            samples += len(a)
        if plan.planned_sessions(day):
            _session(store, plan, day, seed * 1000 + d)
    return samples
