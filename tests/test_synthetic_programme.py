"""The sample programme events: deterministic, valid on the wire, and telling the two stories."""

from __future__ import annotations

import pytest

from adherence.outcomes import patient_outcomes, reports_from_events
from adherence.programme_scoring import score_programme
from adherence.scoring import DayScore
from devices.mqtt_wire import TopicParts
from devices.programme import decode_programme_payload
from features.synthetic_programme import (
    SAMPLE_START,
    sample_programme_events,
    sample_programme_payloads,
)
from tests.support.plans import LAST, sample_plan


def test_deterministic_and_round_trips_through_the_decoder() -> None:
    for subject in ("P001", "P002"):
        events = sample_programme_events(subject)
        assert events == sample_programme_events(subject)
        assert len({e.event_id for e in events}) == len(events)
        parts = TopicParts("clinic", "clinic-1", subject, "app-1", "programme")
        decoded = [
            e
            for p in sample_programme_payloads(subject)
            for e in decode_programme_payload(parts, p)
        ]
        # seq differs (one message per day), everything else is the same event
        assert [(e.event_id, e.event, e.t_ns, e.fields()) for e in decoded] == [
            (e.event_id, e.event, e.t_ns, e.fields()) for e in events
        ]
    with pytest.raises(KeyError):
        sample_programme_events("P003")


def test_every_event_lies_in_the_programme() -> None:
    for subject in ("P001", "P002"):
        plan = sample_plan(subject)
        days = {plan.local_day(e.t_ns) for e in sample_programme_events(subject)}
        assert min(days) == SAMPLE_START and max(days) == LAST


def test_p001_improves_and_p002_worsens() -> None:
    p1, p2 = sample_plan("P001"), sample_plan("P002")
    o1 = patient_outcomes(p1, *reports_from_events(sample_programme_events("P001")), LAST)
    o2 = patient_outcomes(p2, *reports_from_events(sample_programme_events("P002")), LAST)
    # P001: (6+6+6+6+5.5+5.5+4.5)/7 = 39.5/7 -> (4+4+3.5+3.5+3+3+3)/7 = 24/7
    assert o1.pain.baseline == pytest.approx(39.5 / 7) and o1.pain.last_7d == pytest.approx(24 / 7)
    assert o1.pain.change_pct == pytest.approx(100 * (24 - 39.5) / 39.5)
    assert o1.pain.improved is True and o1.flags == []
    # P002: 28.5/7 -> 43.5/7, +15/7 = 2.14 points: flagged
    assert o2.pain.change_points == pytest.approx(15 / 7) and o2.pain.improved is False
    assert [f.code for f in o2.flags] == ["PAIN_WORSENING"]
    # PEG: P001 (6+6+5)/3 = 5.67 -> (4+4+3)/3 = 3.67; P002 (4+5+4)/3 = 4.33 -> (7+6+6)/3 = 6.33
    assert o1.peg.change_points == pytest.approx(11 / 3 - 17 / 3)
    assert o2.peg.change_points == pytest.approx(19 / 3 - 13 / 3)


def test_p001_reads_and_does_cbt_p002_reads_nothing() -> None:
    def components(subject: str) -> dict[str, float | None]:
        plan = sample_plan(subject)
        ds = DayScore(LAST, False, [], 0, 0, None, 5000, None, None, False, None)
        (pd,) = score_programme(plan, [ds], sample_programme_events(subject))
        return {c.component: c.adherence for c in pd.components}

    c1, c2 = components("P001"), components("P002")
    # last 7 days (days 7-13): P001 read edu-03, edu-04 (2 of 2), cbt-02 (1 of 1),
    # mindfulness 10+10+10 of 30 minutes, coaching call on day 1 within 14 days
    assert (c1["education"], c1["cbt"], c1["mindfulness"], c1["coaching"]) == (1.0, 1.0, 1.0, 1.0)
    # P002: nothing read, no CBT, no mindfulness in days 7-13, the day-1 call still within 14 days
    assert (c2["education"], c2["cbt"], c2["mindfulness"], c2["coaching"]) == (0.0, 0.0, 0.0, 1.0)
    assert c1["symptoms_pain"] == c2["symptoms_pain"] == 1.0
