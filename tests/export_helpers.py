"""A small store with known rows (and deliberately identifying device ids) for export/report tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from adherence.plan import CarePlan, parse_plans
from devices.frame import Frame, StreamKind
from ingest.store import RepRecord, SessionRecord, SetRecord, Store

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
MAC = "AA:BB:CC:DD:EE:FF"
SERIAL = "SN-12345678"
SERIAL2 = "SN-87654321"
FILE_NAME = "ex-P001-2026-11-09-bridge.csv.gz"
SUBJECTS = ("P001", "P002")
#: Strings that must never appear in any exported byte.
FORBIDDEN = (MAC, SERIAL, SERIAL2, FILE_NAME, "P001", "P002", "P001-2026-11-09-bridge")

NS = 1_000_000_000
MIN = 60 * NS


def utc_ns(text: str) -> int:
    """UTC ns of an ISO time such as ``2026-11-10T03:00:00``."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()) * NS


def plans_doc() -> dict[str, Any]:
    """Two 14-day plans: P001 in New York (UTC-5 in November), P002 in London (UTC+0)."""
    session = {
        "id": "core-a",
        "weekdays": ["mon", "wed", "fri"],
        "exercises": [{"exercise": "bridge", "sets": 2, "reps": 3}],
    }
    return {
        "format": "adherence-care-plan/1",
        "plans": [
            {
                "subject": "P001",
                "programme": "lbp-home",
                "start_date": "2026-11-09",
                "length_days": 14,
                "timezone": "America/New_York",
                "sessions": [session],
                "step_goal": {"start": 5000, "weekly_increase": 500, "max": 7000},
            },
            {
                "subject": "P002",
                "programme": "lbp-home",
                "start_date": "2026-11-09",
                "length_days": 14,
                "timezone": "Europe/London",
                "sessions": [session],
                "step_goal": {"start": 4000},
            },
        ],
    }


def plans() -> list[CarePlan]:
    """The parsed plans of :func:`plans_doc`."""
    return parse_plans(plans_doc())


#: steps_minute rows: subject -> [(minute_ns, steps, cadence_spm, wear)]
MINUTES: dict[str, list[tuple[int, int, float | None, bool]]] = {
    # 03:00Z on the 10th is 22:00 on the 9th in New York.
    "P001": [
        (utc_ns("2026-11-09T15:00:00"), 100, 100.0, True),
        (utc_ns("2026-11-10T03:00:00"), 7, None, True),
        (utc_ns("2026-11-10T15:00:00"), 0, None, False),
        (utc_ns("2026-11-12T15:01:00"), 112, 112.5, True),
    ],
    "P002": [
        (utc_ns("2026-11-09T10:00:00"), 90, 90.0, True),
        (utc_ns("2026-11-11T10:00:00"), 95, 95.25, True),
    ],
}
#: walking_bouts rows: subject -> [(start_ns, end_ns, steps, cadence_spm)]
BOUTS: dict[str, list[tuple[int, int, int, float | None]]] = {
    "P001": [(utc_ns("2026-11-09T15:00:00"), utc_ns("2026-11-09T15:01:30"), 150, 100.0)],
    "P002": [(utc_ns("2026-11-11T10:00:00"), utc_ns("2026-11-11T10:02:00"), 190, None)],
}
#: daily_summary rows: subject -> [(day, steps, wear_min, active_min, judgeable)]
DAILY: dict[str, list[tuple[str, int, int, int, bool]]] = {
    "P001": [
        ("2026-11-09", 5200, 800, 30, True),
        ("2026-11-10", 1200, 300, 2, False),
        ("2026-11-12", 6100, 900, 41, True),
    ],
    "P002": [
        ("2026-11-09", 2000, 700, 5, True),
        ("2026-11-11", 1500, 650, 3, True),
    ],
}


def _session(
    sid: str, subject: str, start: str, reps_per_set: tuple[int, ...], source: str, meta: dict
) -> SessionRecord:
    t0 = utc_ns(start)
    sets = []
    t = t0
    for i, n in enumerate(reps_per_set):
        reps = []
        s0 = t
        for _ in range(n):
            reps.append(RepRecord(t, t + 4 * NS + 250_000_000, 4.25, 35.5))
            t += 5 * NS
        sets.append(SetRecord(i, s0, t, tuple(reps)))
        t += 30 * NS
    return SessionRecord(
        sid, subject, "bridge", t0, t, "core-a", source, "complete", tuple(sets), meta
    )


SESSIONS = (
    _session(
        "P001-2026-11-09-bridge",
        "P001",
        "2026-11-09T14:00:00",
        (3, 3),
        f"recording:{SERIAL}",
        {"device": SERIAL, "file": FILE_NAME, "synthetic": True},
    ),
    _session(
        "P001-2026-11-11-bridge",
        "P001",
        "2026-11-11T14:00:00",
        (3, 1),
        f"ble:{MAC}",
        {"device": MAC},
    ),
    _session(
        "P002-2026-11-11-bridge",
        "P002",
        "2026-11-11T09:00:00",
        (2,),
        f"mqtt:{SERIAL2}",
        {"device": SERIAL2, "synthetic": False},
    ),
)


def _frame(
    subject: str, device: str, stream: StreamKind, t0: int, fs: float | None, n: int
) -> Frame:
    k = 3 if stream in (StreamKind.ACCEL, StreamKind.GYRO) else 1
    units = {StreamKind.ACCEL: ("g",) * 3, StreamKind.GYRO: ("deg/s",) * 3}.get(stream, ("steps",))
    step = int(NS / fs) if fs else 60 * NS
    return Frame(
        subject=subject,
        device=device,
        stream=stream,
        t_ns=t0 + step * np.arange(n, dtype=np.int64),
        values=np.zeros((n, k)),
        units=units,
        fs_hz=fs,
        seq=0,
        meta={"decoder": "pedometer" if stream == StreamKind.STEP_TOTAL else "movesense"},
    )


def fill(store: Store, *, with_scores: bool = True) -> None:
    """Fill ``store`` with the rows above (plus frames and gaps naming the devices)."""
    t0 = utc_ns("2026-11-09T14:00:00")
    store.put_frames(
        [
            _frame("P001", MAC, StreamKind.ACCEL, t0, 50.0, 100),
            _frame("P001", MAC, StreamKind.GYRO, t0, 50.0, 100),
            _frame("P001", SERIAL, StreamKind.STEP_TOTAL, t0, None, 10),
            _frame("P002", SERIAL2, StreamKind.ACCEL, t0, 52.0, 52),
        ]
    )
    store.put_gap(MAC, "accel", t0 + 10 * NS, t0 + 20 * NS, "disconnect", subject="P001")
    for subject in SUBJECTS:
        store.put_steps_minute(subject, MINUTES[subject])
        store.put_bouts(subject, BOUTS[subject])
        store.put_daily_summary(subject, DAILY[subject])
    for s in SESSIONS:
        store.put_session(s)
    if with_scores:
        from adherence.scoring import rescore

        rescore(store, plans(), today=dt.date(2026, 11, 12))


def good_plan_doc() -> dict[str, Any]:
    """The two plans of :func:`plans_doc` plus P003 (London), who does everything."""
    doc = plans_doc()
    p3 = dict(doc["plans"][1])
    p3["subject"] = "P003"
    doc["plans"].append(p3)
    return doc


def add_good_patient(store: Store) -> None:
    """P003: both planned sessions of 9-12 Nov done in full, 6000 steps a day with full wear."""
    for day in ("2026-11-09", "2026-11-11"):
        store.put_session(
            _session(f"P003-{day}-bridge", "P003", f"{day}T10:00:00", (3, 3), "batch", {})
        )
    store.put_daily_summary(
        "P003", [(f"2026-11-{d:02d}", 6000, 900, 50, True) for d in range(9, 13)]
    )
