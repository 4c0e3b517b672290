"""Care plans and scored scenarios built in code, with their hand-computed truth.

The plan is the specification's example (``docs/care_plan.md``): core-a on Mon/Wed/Fri (bridge
3x10 = 30 reps, bird_dog 2x8 = 16 reps), step goal 4000/day rising by 500 each week, from Monday
2026-11-02 in Europe/London (UTC+0 in November).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from typing import Any

from adherence.plan import FORMAT, CarePlan, parse_plans
from features.synthetic_programme import SAMPLE_COMPONENTS, SAMPLE_DAYS, SAMPLE_START
from ingest.store import RepRecord, SessionRecord, SetRecord

D = dt.date


def sample_doc() -> dict[str, Any]:
    """The example of the lead's specification (docs/care_plan.md)."""
    return {
        "format": FORMAT,
        "plans": [
            {
                "subject": "P001",
                "programme": "lbp-home",
                "start_date": "2026-11-02",
                "length_days": 14,
                "timezone": "Europe/London",
                "sessions": [
                    {
                        "id": "core-a",
                        "weekdays": ["mon", "wed", "fri"],
                        "exercises": [
                            {"exercise": "bridge", "sets": 3, "reps": 10},
                            {"exercise": "bird_dog", "sets": 2, "reps": 8},
                        ],
                    }
                ],
                "step_goal": {"start": 4000, "weekly_increase": 500, "max": 7000},
            }
        ],
    }


def plan_from(**over: Any) -> CarePlan:
    doc = sample_doc()
    doc["plans"][0].update(over)
    [plan] = parse_plans(doc)
    return plan


def bout(
    plan: CarePlan,
    sid: str,
    exercise: str,
    day: dt.date,
    reps_per_set: list[int],
    *,
    hour: int = 9,
    plan_entry: str | None = None,
) -> SessionRecord:
    t0 = plan.day_bounds_ns(day)[0] + hour * 3600 * 10**9
    sets = []
    t = t0
    for k, n in enumerate(reps_per_set):
        reps = tuple(
            RepRecord(t + i * 3 * 10**9, t + (i + 1) * 3 * 10**9, 3.0, 20.0) for i in range(n)
        )
        sets.append(SetRecord(k, t, t + n * 3 * 10**9, reps))
        t += (n * 3 + 60) * 10**9
    return SessionRecord(
        sid, plan.subject, exercise, t0, t, plan_entry, "test", "complete", tuple(sets), {}
    )


def scenario(
    plan: CarePlan,
) -> tuple[list[SessionRecord], dict[dt.date, tuple[int, int, int, bool]]]:
    sessions = [
        # Mon 2: 30/30 and 16/16 -> completion 1.0, done.
        bout(plan, "s1", "bridge", D(2026, 11, 2), [10, 10, 10]),
        bout(plan, "s2", "bird_dog", D(2026, 11, 2), [8, 8]),
        # Wed 4: bridge 24/30 = 0.8, bird_dog 8/16 = 0.5 -> 0.65, not done.
        bout(plan, "s3", "bridge", D(2026, 11, 4), [8, 8, 8]),
        bout(plan, "s4", "bird_dog", D(2026, 11, 4), [8]),
        # Fri 6: bridge 30/30 = 1, bird_dog 12/16 = 0.75 -> 0.875, done.
        bout(plan, "s5", "bridge", D(2026, 11, 6), [10, 10, 10], plan_entry="core-a"),
        bout(plan, "s6", "bird_dog", D(2026, 11, 6), [6, 6]),
        # Mon 9 and Wed 11: nothing.
    ]
    j = True
    summaries = {
        D(2026, 11, 2): (4000, 800, 60, j),  # 4000/4000 = 1.0
        D(2026, 11, 3): (2000, 800, 20, j),  # 0.5
        D(2026, 11, 4): (3000, 800, 30, j),  # 0.75
        D(2026, 11, 5): (500, 90, 5, False),  # not judgeable
        D(2026, 11, 6): (6000, 800, 70, j),  # 1.0 (capped)
        D(2026, 11, 7): (4000, 800, 40, j),  # 1.0
        # 8: no summary at all
        D(2026, 11, 9): (4500, 800, 50, j),  # week 1, goal 4500: 1.0
        D(2026, 11, 10): (900, 800, 5, j),  # 0.2
        D(2026, 11, 11): (2250, 800, 25, j),  # 0.5
        D(2026, 11, 12): (5000, 600, 50, j),  # today, goal already reached: 1.0
    }
    return sessions, summaries


LAST = SAMPLE_START + dt.timedelta(days=SAMPLE_DAYS - 1)
"""The last day of the synthetic sample programme (:mod:`features.synthetic_programme`)."""


def sample_plan(subject: str) -> CarePlan:
    """A plan of ``subject`` for the synthetic sample programme: its components, no sessions."""
    doc = {
        "format": "adherence-care-plan/1",
        "plans": [
            {
                "subject": subject,
                "programme": "lbp-home",
                "start_date": SAMPLE_START.isoformat(),
                "length_days": SAMPLE_DAYS,
                "timezone": "Europe/London",
                "sessions": [],
                "step_goal": {"start": 5000},
                "components": SAMPLE_COMPONENTS,
            }
        ],
    }
    return parse_plans(doc)[0]


DELETE = object()
"""Value for :func:`edited` that removes the field instead of setting it."""


def edited(doc: dict[str, Any], path: Sequence[str | int], value: Any) -> dict[str, Any]:
    """A deep copy of the JSON document ``doc`` with the field at ``path`` (keys and list
    indices) set to ``value``, or removed when ``value`` is :data:`DELETE`."""
    out = copy.deepcopy(doc)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out
