"""A bare sensor over MQTT scores like the demo: exercise found in the raw stream (issue 15).

``adherence collect mqtt`` (a subprocess, real Mosquitto), ``adherence simulate mqtt
--recordings sample_data/recordings`` with and without session events, then ``adherence score``:
the scores must equal those of ``adherence demo`` on the same recordings, and the replay with
session events must store each app session once (no found duplicate).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adherence.cli import main as cli_main
from adherence.pipeline import read_recordings
from ingest.mqtt_events import events
from ingest.store import Store
from tests.mqtt_helpers import REPO, CollectorProcess
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services
SAMPLE = REPO / "sample_data"
PLANS = SAMPLE / "care_plans.json"
TODAY = "2026-11-22"


def _expected_frames() -> int:
    return sum(
        len(list(r.regularised().frames(50))) for r in read_recordings(SAMPLE / "recordings")
    )


def _score(store: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    args = ["score", "--store", str(store), "--plans", str(PLANS), "--today", TODAY, "--json"]
    assert cli_main(args) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


APP_FLAGS = {"PAIN_WORSENING", "NO_SYMPTOM_REPORT"}


def _without_app(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The score rows without what only the patient's app reports (programme, symptoms)."""
    out = []
    for r in rows:
        r = {k: v for k, v in r.items() if k != "programme"}
        r["flags"] = [f for f in r["flags"] if f["code"] not in APP_FLAGS]
        out.append(r)
    return out


def _demo_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    store = tmp_path / "demo.sqlite"
    assert cli_main(["demo", "--store", str(store), "--no-progress"]) == 0
    return _score(store, capsys)


def _replay(
    broker: Mosquitto, tmp_path: Path, name: str, extra: list[str]
) -> tuple[Path, CollectorProcess]:
    store = tmp_path / f"{name}.sqlite"
    collector = CollectorProcess(tmp_path, broker.url, store, f"collector-{name}")
    collector.start()
    code = cli_main(
        ["simulate", "mqtt", "--broker", broker.url, "--client-id", f"sim-{name}"]
        + ["--recordings", str(SAMPLE / "recordings"), "--speed", "0", "--quiet", *extra]
    )
    assert code == 0
    frames = _expected_frames()

    def stored() -> bool:
        with Store(store) as s:
            return s.count("frames") == frames

    assert wait_until(stored, 180), collector.text()
    return store, collector


def test_bare_sensor_over_mqtt_scores_like_the_demo(
    broker: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, collector = _replay(broker, tmp_path, "bare", ["--no-session-events"])
    assert collector.terminate() == 0, collector.text()
    got = _score(store, capsys)
    # A bare sensor has no app: no programme events, so the whole-programme figures and the
    # symptom flags differ from the demo's; exercise and steps must be the same.
    assert _without_app(got) == _without_app(_demo_scores(tmp_path, capsys))
    assert [r["subject"] for r in got] == ["P001", "P002"]
    with Store(store) as s:
        sessions = s.sessions()
    with Store(tmp_path / "demo.sqlite") as s:
        demo = s.sessions()
    # Each found session is the demo's recording session: same exercise (named among the care
    # plan's), and the same repetitions to within one per session (the demo counts the whole
    # recording, finding counts the found period).
    assert [(x.subject, x.exercise) for x in sessions] == [(x.subject, x.exercise) for x in demo]
    assert all(abs(x.reps - y.reps) <= 1 for x, y in zip(sessions, demo, strict=True))
    # No session event was sent: every session was found in the stream, one per recording.
    assert len(sessions) == len(list((SAMPLE / "recordings").glob("ex-*.meta.json")))
    assert all(x.source.startswith("found:") and x.meta["found"] for x in sessions)
    # Scoring again finds the same sessions and stores them once.
    assert _score(store, capsys) == got
    with Store(store) as s:
        assert [x.session_id for x in s.sessions()] == [x.session_id for x in sessions]


def test_replay_with_session_events_scores_like_the_demo_without_duplicates(
    broker: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, collector = _replay(broker, tmp_path, "app", [])
    recordings = sorted((SAMPLE / "recordings").glob("ex-*.meta.json"))
    app_ids = sorted(json.loads(p.read_text())["session_id"] for p in recordings)

    def all_stops() -> bool:
        with Store(store) as s:
            return len(events(s, kind="session_stop")) == len(recordings)

    assert wait_until(all_stops, 60), collector.text()
    assert collector.terminate() == 0, collector.text()
    got = _score(store, capsys)
    assert got == _demo_scores(tmp_path, capsys)
    with Store(store) as s:
        sessions = s.sessions()
    assert sorted(x.session_id for x in sessions) == app_ids
    assert not any(x.source.startswith("found:") for x in sessions)
