"""``adherence demo`` end to end on sample_data/, and bad input refused with nothing stored."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from adherence.cli import main
from ingest.store import Store

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"


def readme_demo_table() -> list[str]:
    """The table the README shows for ``adherence demo``: its code block, from the header on."""
    blocks: list[list[str]] = []
    block: list[str] | None = None
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if block is None:
                block = []
            else:
                blocks.append(block)
                block = None
        elif block is not None:
            block.append(line)
    return next(b for b in blocks if b and b[0].startswith("patient "))


def assert_prints_readme_table(out: str) -> None:
    """``out`` holds the README's table line for line, then the store line."""
    expected = readme_demo_table()
    assert expected[-1].startswith("store: ") and expected[-2] == ""
    lines = out.splitlines()
    start = lines.index(expected[0])
    got = lines[start : start + len(expected)]
    assert got[:-1] == expected[:-1]
    # The store line names where the store is and how long the run took: both vary.
    assert re.fullmatch(r"store: /\S+\.sqlite  \(\d+\.\d s\)", got[-1]), got[-1]
    assert len(lines) == start + len(expected), "nothing printed after the store line"


def _counts(path: Path) -> dict[str, int]:
    with Store(path) as s:
        return {
            t: s.count(t) for t in ("frames", "sessions", "repetitions", "daily_summary", "scores")
        }


def test_demo_scores_both_patients_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "demo.sqlite"
    assert main(["demo", "--store", str(store), "--no-progress", "--truth"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("P001", "P002"))}
    assert set(rows) == {"P001", "P002"}
    assert f"store: {store.resolve()}" in out
    with Store(store) as s:
        latest = {subj: (day, comp) for subj, day, comp, _ in s.scores() if day == "2026-11-22"}
        # P001 kept up with the plan, P002 fell behind: both scored, P001 higher.
        assert latest["P001"][1] is not None and latest["P002"][1] is not None
        assert latest["P001"][1] > latest["P002"][1]
        # 17 exercise recordings became 17 counted sessions; the 4 walks were counted.
        sessions = s.sessions()
        assert len(sessions) == 17 and all(x.status == "complete" for x in sessions)
        assert s.count("walking_bouts") >= 4
    first = _counts(store)
    assert main(["demo", "--store", str(store), "--no-progress"]) == 0
    assert _counts(store) == first
    again = capsys.readouterr().out
    assert {line.split()[0]: line for line in again.splitlines() if line.startswith("P00")} == rows
    assert_prints_readme_table(again)


def _copy_sample(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    return data


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("truncate_recording", "ex-P002-2026-11-17-pelvic_tilt.csv.gz: corrupt gzip"),
        ("remove_plan", "care_plans.json"),
        ("bad_plan_field", "plans[1].step_goal"),
        ("unplanned_subject", "no care plan for subject(s) P003"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, match: str
) -> None:
    data = _copy_sample(tmp_path)
    rec = data / "recordings"
    if damage == "truncate_recording":
        p = rec / "ex-P002-2026-11-17-pelvic_tilt.csv.gz"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif damage == "remove_plan":
        (data / "care_plans.json").unlink()
    elif damage == "bad_plan_field":
        doc = json.loads((data / "care_plans.json").read_text())
        doc["plans"][1]["step_goal"]["start"] = -5
        (data / "care_plans.json").write_text(json.dumps(doc))
    elif damage == "unplanned_subject":
        meta = json.loads((rec / "ped-P002.meta.json").read_text())
        meta["subject"] = "P003"
        (rec / "ped-P002.meta.json").write_text(json.dumps(meta))
    store = tmp_path / "s.sqlite"
    code = main(["demo", "--data", str(data), "--store", str(store), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adherence: error: ")
    assert match in lines[0]
    # nothing half-written: no store file at all, or an empty one
    if store.exists():
        with sqlite3.connect(store) as db:
            assert db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0
