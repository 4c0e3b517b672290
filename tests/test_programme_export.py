"""Researcher tables of the programme: pseudonymised, no app ids, numbers as reported."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from adherence.outcomes import SESSION_AFTER, PainReport, PegReport, patient_outcomes
from adherence.programme_export import engagement_table, outcomes_table, symptoms_table
from adherence.programme_scoring import dose_response, score_programme
from adherence.pseudonym import subject_pseudonym
from features.synthetic_programme import sample_programme_events
from tests.support.plans import LAST, sample_plan

KEY = b"k" * 32
TZ = ZoneInfo("Europe/London")
T0 = 1_794_304_800_000_000_000  # 2026-11-10 10:00:00 UTC


def test_symptoms_rows() -> None:
    pain = [PainReport(T0, 5.0), PainReport(T0 + 1_500_000_000, 3.0, SESSION_AFTER, "P001-s1")]
    peg = [PegReport(T0 + 60 * 10**9, (6, 5, 4))]
    df = symptoms_table(KEY, "P001", TZ, pain, peg)
    assert list(df["source"]) == ["daily", "session_after", "peg"]
    assert list(df["time_utc"]) == [
        "2026-11-10T10:00:00Z",
        "2026-11-10T10:00:01.500000000Z",
        "2026-11-10T10:01:00Z",
    ]
    assert set(df["subject"]) == {subject_pseudonym(KEY, "P001")}
    assert df["peg_score"].iloc[2] == (6 + 5 + 4) / 3
    assert "P001" not in df.to_csv()  # neither the subject nor the session id ("P001-s1")


def test_engagement_rows_have_no_app_ids_and_no_symptoms() -> None:
    df = engagement_table(KEY, "P001", TZ, sample_programme_events("P001"))
    # P001: 17 activity events (the pain and PEG reports are in the symptoms table)
    assert len(df) == 17 and "pain" not in set(df["event"]) and "peg" not in set(df["event"])
    assert (df["event"] == "education_completed").sum() == 4
    csv = df.to_csv()
    assert "P001" not in csv and "app-1" not in csv
    assert df["date_local"].iloc[0] == "2026-11-09"


def test_outcomes_table_one_row_per_patient() -> None:
    rows = []
    for subject in ("P001", "P002"):
        plan = sample_plan(subject)
        events = sample_programme_events(subject)
        pain = [PainReport(e.t_ns, e.nrs) for e in events if e.nrs is not None]
        out = patient_outcomes(plan, pain, [], LAST)
        rows.append(dose_response(plan, [], score_programme(plan, [], events), events, [], out))
    df = outcomes_table(KEY, rows)
    assert list(df["items_read"]) == [4, 0] and list(df["cbt_sessions"]) == [2, 0]
    assert list(df["posts"]) == [2, 0] and list(df["pain_improved"]) == [True, False]
    assert "P00" not in df.to_csv()
    assert dt.date.fromisoformat(df["as_of"].iloc[0]) == LAST
