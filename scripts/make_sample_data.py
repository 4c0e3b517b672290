"""Build ``sample_data/`` deterministically.

Run from the repository root: ``python scripts/make_sample_data.py [--datasets DIR]``.

What it writes:

* ``recordings/walk-*``: real walks from the Oxford step-counter data set (Salvi et al., EMBC
  2018; CC BY 4.0) converted to our recording format: acceleration divided by 9.80665 (m/s² →
  g), times rebased onto a programme day (original spacing kept), and the foot-switch step
  times (0→1 transitions on either foot) kept as the truth. See ``sample_data/NOTICE``.
* ``recordings/ex-*``: SYNTHETIC exercise sessions from :mod:`features.synthetic` with known
  repetition counts (``"synthetic": true`` in their metadata).
* ``recordings/ped-*``: SYNTHETIC pedometer running totals, reported every 15 minutes while
  worn, with one device reboot (counter back to 0) and two days not worn.
* ``care_plans.json``: the care plans of the two pseudonymous patients P001 and P002.

The same inputs always give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from devices.recording import write_recording
from features.synthetic import synth_session
from features.synthetic_programme import SAMPLE_COMPONENTS, sample_programme_payloads

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "sample_data"
TZ = ZoneInfo("Europe/London")
START = date(2026, 11, 9)  # a Monday
DAYS = 14
G = 9.80665

WALKS: list[
    tuple[str, str, int, float]
] = [  # (Oxford recording, subject, programme day index, local hour)
    ("Samsung_Carmelo_Hard_BackPocket_1", "P001", 1, 10),
    ("Nexus_Jamie_Hard_InHand_1", "P001", 8, 17),
    ("Samsung_Carmelo_Hard_NeckPouch_1", "P002", 2, 11),
    ("Samsung_Dario_Hard_BackPocket_1", "P002", 10, 15),
]

PLANS = {
    "P001": {
        "session": "core-a",
        "weekdays": ["mon", "wed", "fri"],
        "exercises": [("bridge", 2, 10), ("bird_dog", 2, 8)],
        "step_goal": {"start": 5000, "weekly_increase": 500, "max": 7000},
    },
    "P002": {
        "session": "core-b",
        "weekdays": ["tue", "thu", "sat"],
        "exercises": [("pelvic_tilt", 2, 12), ("sit_to_stand", 2, 10)],
        "step_goal": {"start": 4000, "weekly_increase": 500, "max": 6000},
    },
}

# What each patient actually did: day index -> {exercise: reps per set}. P001 keeps up (one set
# short once); P002 does part of week one and stops after day 8.
DONE = {
    "P001": {
        0: {"bridge": [10, 10], "bird_dog": [8, 8]},
        2: {"bridge": [10, 10], "bird_dog": [8, 8]},
        4: {"bridge": [10, 9], "bird_dog": [8]},
        7: {"bridge": [10, 10], "bird_dog": [8, 8]},
        9: {"bridge": [10, 10], "bird_dog": [8, 8]},
        11: {"bridge": [10, 10], "bird_dog": [8, 7]},
    },
    "P002": {
        1: {"pelvic_tilt": [12, 12], "sit_to_stand": [10, 10]},
        3: {"pelvic_tilt": [12], "sit_to_stand": [6]},
        8: {"pelvic_tilt": [12, 12]},
    },
}

# Daily step totals of the synthetic pedometer (None: not worn that day).
DAILY_STEPS: dict[str, list[int | None]] = {
    "P001": [5400, 6100, 5200, 7300, 4800, 8200, 6600, 5900, 6400, 5600, 7100, 6800, 5300, 6900],
    "P002": [3900, 4200, 2500, None, 3100, 2800, 1900, 2300, 3600, None, 1500, 2100, 1200, 1800],
}
REBOOT = ("P002", 5)  # that day the pedometer reboots at noon and counts from 0 again


def utc_ns(day: date, hour: float) -> int:
    """UTC ns of a local wall-clock time on ``day`` in the programme time zone."""
    local = datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(hours=hour)
    return int(local.timestamp()) * 1_000_000_000


def oxford_walk(root: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(t_ns from 0, accel_g, step times ns from 0, nominal fs) of an Oxford optimisation walk."""
    d = root / "oxford_stepcounter" / "optimisation" / "data" / name
    acc = np.loadtxt(d / "accelerometer.csv", delimiter=",", dtype=np.float64)
    t = np.loadtxt(d / "accelerometer.csv", delimiter=",", dtype=np.int64, usecols=0)
    sc = np.loadtxt(d / "stepcounter.csv", delimiter=",", dtype=np.int64)
    steps = []
    for col in (1, 2):
        x = sc[:, col]
        idx = np.nonzero((x[1:] == 1) & (x[:-1] == 0))[0] + 1
        steps.append(sc[idx, 0])
    step_t = np.sort(np.concatenate(steps))
    keep = np.concatenate([[True], np.diff(t) > 0])  # drop repeated timestamps
    t, acc = t[keep], acc[keep]
    t0 = int(t[0])
    fs = float(np.round((t.size - 1) / ((t[-1] - t[0]) / 1e9)))
    return t - t0, acc[:, 2:5] / G, step_t - t0, fs


def write_walks(rec_dir: Path, datasets: Path) -> None:
    """The real Oxford walks, moved to their programme days, with the foot-switch truth."""
    for i, (name, subject, day_i, walk_hour) in enumerate(WALKS):
        t_rel, acc_g, steps_rel, fs = oxford_walk(datasets, name)
        day = START + timedelta(days=day_i)
        t0 = utc_ns(day, walk_hour)
        position = name.split("_")[3]
        write_recording(
            rec_dir,
            f"walk-{subject}-{day.isoformat()}",
            {
                "subject": subject,
                "device": f"{subject}-phone",
                "kind": "walk",
                "placement": position,
                "fs_hz": fs,
                "synthetic": False,
                "source": f"Oxford step-counter data set, optimisation/{name}",
                "licence": "CC BY 4.0 (see NOTICE)",
                "recording_id": f"walk{i + 1}",
                "truth": {
                    "steps": int(steps_rel.size),
                    "step_times_ns": (steps_rel + t0).tolist(),
                    "from": "foot-switch 0->1 transitions",
                },
            },
            t_rel + t0,
            acc_g,
        )


def write_sessions(rec_dir: Path) -> None:
    """Synthetic exercise sessions of the days in DONE, with their repetition truth."""
    seed = 100
    for subject, days in DONE.items():
        for day_i, exercises in days.items():
            day = START + timedelta(days=day_i)
            hour = 18.0
            for ex, sets in exercises.items():
                seed += 1
                hour += write_session(rec_dir, subject, day, hour, ex, list(sets), seed)


def write_session(
    rec_dir: Path, subject: str, day: date, hour: float, ex: str, sets: list[int], seed: int
) -> float:
    """One synthetic session starting at ``hour`` (local); return the hours it and a pause of
    60 s take."""
    rec = synth_session(ex, sets, rest_s=30.0, lead_in_s=5.0, fs_hz=50.0, seed=seed)
    t0 = utc_ns(day, hour)
    t_ns = t0 + np.round(rec.t_s * 1e9).astype(np.int64)
    write_recording(
        rec_dir,
        f"ex-{subject}-{day.isoformat()}-{ex}",
        {
            "subject": subject,
            "device": f"{subject}-imu",
            "kind": "exercise",
            "placement": rec.placement,
            "fs_hz": rec.fs_hz,
            "synthetic": True,
            "source": f"features.synthetic.synth_session(seed={seed}) - SYNTHETIC",
            "exercise": ex,
            "plan_entry": PLANS[subject]["session"],
            "session_id": f"{subject}-{day.isoformat()}-{ex}",
            "recording_id": f"ex{seed}",
            "truth": {
                "reps_per_set": list(rec.reps_per_set),
                "rep_bounds_ns": [
                    [t0 + round(a * 1e9), t0 + round(b * 1e9)] for a, b in rec.rep_bounds_s
                ],
            },
        },
        t_ns,
        np.hstack([rec.accel_g, rec.gyro_dps]),
        decimals=4,
    )
    return float((rec.t_s[-1] + 60.0) / 3600.0)


def pedometer_series(
    subject: str, totals: list[int | None], rng: np.random.Generator
) -> tuple[list[int], list[int], dict[str, int | None]]:
    """Running totals every 15 min from 07:00 to 22:00 local: (times UTC ns, counter values,
    true steps per day); one reboot (REBOOT) resets the counter and loses that slot's steps."""
    ts: list[int] = []
    counter: list[int] = []
    total = 31_337 if subject == "P001" else 120_450  # counters run since the device's setup
    truth: dict[str, int | None] = {}
    for day_i, steps in enumerate(totals):
        day = START + timedelta(days=day_i)
        if steps is None:
            truth[day.isoformat()] = None
            continue
        hours = np.arange(7.0, 22.01, 0.25)
        weights = rng.gamma(0.6, 1.0, hours.size - 1)
        inc = np.floor(steps * weights / weights.sum()).astype(int)
        inc[-1] += steps - int(inc.sum())
        truth[day.isoformat()] = steps
        ts.append(utc_ns(day, hours[0]))
        counter.append(total)
        for h, k in zip(hours[1:], inc, strict=True):
            if (subject, day_i) == REBOOT and abs(h - 12.0) < 1e-9:
                total = 0  # device reboot: counter starts again from 0 (steps this slot lost)
                truth[day.isoformat()] = int(steps - k)
            else:
                total += int(k)
            ts.append(utc_ns(day, h))
            counter.append(total)
    return ts, counter, truth


def write_pedometers(rec_dir: Path) -> None:
    """Synthetic wrist-band running totals of DAILY_STEPS, with the true steps per day."""
    rng = np.random.default_rng(7)
    for subject, totals in DAILY_STEPS.items():
        ts, counter, truth = pedometer_series(subject, totals, rng)
        write_recording(
            rec_dir,
            f"ped-{subject}",
            {
                "subject": subject,
                "device": f"{subject}-band",
                "kind": "pedometer",
                "placement": "wrist",
                "fs_hz": None,
                "synthetic": True,
                "source": "scripts/make_sample_data.py - SYNTHETIC running totals every 15 min",
                "recording_id": f"ped-{subject}",
                "truth": {
                    "daily_steps": truth,
                    "reboot_day": (START + timedelta(REBOOT[1])).isoformat()
                    if subject == REBOOT[0]
                    else None,
                },
            },
            np.array(ts, dtype=np.int64),
            np.array(counter, dtype=np.float64).reshape(-1, 1),
            decimals=0,
        )


def write_plans() -> None:
    """The two care plans (PLANS) as ``care_plans.json``."""
    plans = {
        "format": "adherence-care-plan/1",
        "plans": [
            {
                "subject": subject,
                "programme": "lbp-home",
                "start_date": START.isoformat(),
                "length_days": DAYS,
                "timezone": str(TZ),
                "sessions": [
                    {
                        "id": p["session"],
                        "weekdays": p["weekdays"],
                        "exercises": [
                            {"exercise": e, "sets": s, "reps": r} for e, s, r in p["exercises"]
                        ],
                    }
                ],
                "step_goal": p["step_goal"],
                "components": SAMPLE_COMPONENTS,
            }
            for subject, p in PLANS.items()
        ],
    }
    (OUT / "care_plans.json").write_text(json.dumps(plans, indent=2) + "\n", encoding="utf-8")


def write_programme(out_dir: Path) -> None:
    """The patients' app events (education, CBT, mindfulness, coaching, posts, pain, PEG) as the
    app publishes them: one ``programme`` MQTT payload per line, ``<subject>.programme.jsonl``
    (format: docs/mqtt.md, "Programme events"). Synthetic, from features/synthetic_programme.py."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for subject in PLANS:
        lines = [p.decode("utf-8") for p in sample_programme_payloads(subject)]
        (out_dir / f"{subject}.programme.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    args = parser.parse_args()
    rec_dir = OUT / "recordings"
    if rec_dir.exists():
        shutil.rmtree(rec_dir)
    write_walks(rec_dir, args.datasets)
    write_sessions(rec_dir)
    write_pedometers(rec_dir)
    write_plans()
    write_programme(OUT / "programme")
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(
        f"wrote {len(list(rec_dir.glob('*.meta.json')))} recordings, {size / 1e6:.2f} MB in {OUT}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
