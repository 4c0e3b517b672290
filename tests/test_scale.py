"""The raw Parquet archive and cohort reprocessing on a Dask LocalCluster of 2 worker processes.

Small synthetic cohort (2 subjects, 2 days, 1.5 h of 50 Hz wear a day, exercise sessions on
plan days); one store and one cluster per module.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import distributed
import numpy as np
import pytest

from adherence.archive import ArchiveResult, archive_store, load_subject, read_frames
from adherence.cli import main
from adherence.cli.scale import local_cluster
from adherence.cohort_synth import cohort_plans, fill_subject
from adherence.plan import CarePlan
from adherence.reprocess import (
    TABLES,
    SubjectOutcome,
    derive_and_score,
    read_table,
    reprocess_cohort,
    reprocess_subject,
    subject_tables,
)
from devices.frame import Frame, StreamKind
from ingest.store import Store

REPO = Path(__file__).resolve().parents[1]

START = dt.date(2026, 11, 9)  # a Monday: of the plan days (Mon, Wed, Fri) only Monday is in range
DAYS = 2
TODAY = dt.date(2026, 11, 11)


@dataclass(frozen=True)
class Cohort:
    """The synthetic cohort: its source store, care-plans file and plans."""

    source: Path
    plans_file: Path
    plans: list[CarePlan]

    @property
    def tz(self) -> dict[str, ZoneInfo]:
        """Each subject's time zone (what ``archive_store`` takes)."""
        return {p.subject: p.tz for p in self.plans}

    def plans_subset(self, keep: slice, path: Path) -> Path:
        """A care-plans file at ``path`` with only the plans ``keep`` selects."""
        doc = json.loads(self.plans_file.read_text())
        doc["plans"] = doc["plans"][keep]
        path.write_text(json.dumps(doc))
        return path

    def archive(self, store: Store, url: str, **kw: Any) -> ArchiveResult:
        """Archive ``store`` (the source store or one of its gateways) under ``url``."""
        return archive_store(store, self.tz, url, **kw)


Tables = dict[str, dict[str, list[list[Any]]]]
"""Derived tables by subject and table name (``subject_tables``)."""


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    """The synthetic cohort, stored once per module."""
    d = tmp_path_factory.mktemp("cohort")
    doc, plans = cohort_plans(2, START, DAYS)
    (d / "plans.json").write_text(json.dumps(doc))
    with Store(d / "source.sqlite") as store:
        for i, plan in enumerate(plans):
            fill_subject(store, plan, wear_h=1.5, seed=i)
    return Cohort(d / "source.sqlite", d / "plans.json", plans)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A Dask client on a LocalCluster of 2 worker processes, 1 thread each."""
    with (
        local_cluster(2) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def single(cohort: Cohort, tmp_path_factory: pytest.TempPathFactory) -> Tables:
    """The single-process derive and score on a copy of the source store, table by table."""
    copy = tmp_path_factory.mktemp("single") / "single.sqlite"
    shutil.copy(cohort.source, copy)
    with Store(copy) as store:
        for plan in cohort.plans:
            derive_and_score(store, plan, TODAY)
        return {p.subject: subject_tables(store, p.subject) for p in cohort.plans}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _identity(f: Frame) -> tuple[str, str, str, int, int]:
    return (f.subject, f.device, f.stream.value, f.seq, f.start_ns)


# --------------------------------------------------------------------------- archive


def test_archive_rerun_writes_the_same_bytes(cohort: Cohort, tmp_path: Path) -> None:
    with Store(cohort.source) as store:
        first = cohort.archive(store, str(tmp_path / "a"))
        before = _files(tmp_path / "a")
        again = cohort.archive(store, str(tmp_path / "a"))
    after = _files(tmp_path / "a")
    assert after == before
    assert first == again
    # 2 subjects x 2 local days of frames + 1 sessions file each
    assert first.files == len(before) == 2 * DAYS + 2
    days = sorted({Path(k).parent.name for k in before if k.startswith("frames/")})
    assert days == ["date=2026-11-09", "date=2026-11-10"]
    assert all(Path(k).name.startswith("part-") for k in before)


def test_archive_files_are_private(cohort: Cohort, tmp_path: Path) -> None:
    with Store(cohort.source) as store:
        cohort.archive(store, str(tmp_path / "a"))
    for p in [tmp_path / "a", *(tmp_path / "a").rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), p


def test_archive_keeps_every_frame_once(cohort: Cohort, tmp_path: Path) -> None:
    plans = cohort.plans
    with Store(cohort.source) as store:
        cohort.archive(store, str(tmp_path / "a"))
        stored = {_identity(f): f for f in store.frames()}
    archived = [f for p in plans for b in read_frames(str(tmp_path / "a"), p.subject) for f in b]
    ids = [_identity(f) for f in archived]
    assert len(ids) == len(set(ids)) == len(stored)
    assert set(ids) == set(stored)
    for f in archived[:50]:
        g = stored[_identity(f)]
        np.testing.assert_array_equal(f.t_ns, g.t_ns)
        np.testing.assert_array_equal(f.values, g.values)
        assert f.units == g.units and f.meta == g.meta
    # loading twice stores each frame once
    with Store(tmp_path / "dst.sqlite") as dst:
        first = sum(load_subject(dst, str(tmp_path / "a"), p.subject)[0] for p in plans)
        second = sum(load_subject(dst, str(tmp_path / "a"), p.subject)[0] for p in plans)
        assert (first, second) == (len(stored), 0)
        assert dst.count("frames") == len(stored)


def test_new_data_rewrites_its_day_under_the_same_name(cohort: Cohort, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(cohort.source, copy)
    with Store(copy) as store:
        cohort.archive(store, str(tmp_path / "a"))
        names = set(_files(tmp_path / "a"))
        last = max(store.frames(subject="S0000"), key=lambda f: f.start_ns)
        extra = Frame(
            subject="S0000",
            device="S0000-wrist",
            stream=StreamKind.ACCEL,
            t_ns=last.t_ns + 60_000_000_000,
            values=last.values,
            units=last.units,
            fs_hz=last.fs_hz,
            seq=last.seq + 1,
        )
        store.put_frames([extra])
        cohort.archive(store, str(tmp_path / "a"))
        n_store = store.count("frames")
    assert set(_files(tmp_path / "a")) == names
    archived = [
        f for p in cohort.plans for b in read_frames(str(tmp_path / "a"), p.subject) for f in b
    ]
    assert len(archived) == n_store
    assert _identity(extra) in {_identity(f) for f in archived}


def test_archive_refuses_a_subject_without_plan(
    cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = cohort.plans_subset(slice(None, 1), tmp_path / "one.json")
    argv = ["archive", "--store", str(cohort.source), "--plans", str(one)]
    code = main([*argv, "--out", str(tmp_path / "a"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "S0001" in err[0] and "time zone" in err[0]
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------- reprocess


@pytest.fixture(scope="module")
def archive(cohort: Cohort, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(tmp_path_factory.mktemp("archive") / "raw")
    with Store(cohort.source) as store:
        cohort.archive(store, url)
    return url


def _assert_tables_as_single(out: Path, plans: list[CarePlan], single: Tables) -> None:
    """Every subject's reprocessed tables under ``out`` are the single-process ones, and each is
    one Parquet file (a retried task left no second part)."""
    for plan in plans:
        for name in TABLES:
            parts = sorted((out / name / f"subject={plan.subject}").glob("*.parquet"))
            assert len(parts) == 1, (name, parts)
            assert read_table(str(out), name, plan.subject) == single[plan.subject][name], name


def test_reprocess_equals_single_process_table_by_table(
    cohort: Cohort, archive: str, client: Any, single: Tables, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    outcomes = reprocess_cohort(
        client, archive, str(out), cohort.plans, today=TODAY, progress=False
    )
    assert [o.subject for o in outcomes] == ["S0000", "S0001"]
    _assert_tables_as_single(out, cohort.plans, single)
    # the synthetic Monday session: 2 sets of 8 bridges per subject were found and counted
    assert all(o.rows["sessions"] == 1 and o.rows["exercise_sets"] == 2 for o in outcomes)
    assert all(o.rows["daily_summary"] == DAYS and o.rows["steps_minute"] > 0 for o in outcomes)


def _kill_once_after_writing(
    archive_url: str,
    out_url: str,
    plan: CarePlan,
    today: dt.date | None,
    storage_options: Any = None,
) -> SubjectOutcome:
    """Run the real task; the first time for S0000, SIGKILL the worker before returning."""
    outcome = reprocess_subject(archive_url, out_url, plan, today, storage_options)
    marker = Path(out_url).parent / f"killed-{plan.subject}"
    if plan.subject == "S0000" and not marker.exists():
        marker.write_text(str(os.getpid()))
        # a half-written file of the dying task, as a crash mid-write leaves it
        (Path(out_url) / "steps_minute" / "subject=S0000" / "part-x.parquet.tmp-dead").write_bytes(
            b"PAR1"
        )
        os.kill(os.getpid(), signal.SIGKILL)
    return outcome


def test_killed_worker_is_retried_and_output_is_complete_once(
    cohort: Cohort, archive: str, client: Any, single: Tables, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    outcomes = reprocess_cohort(
        client,
        archive,
        str(out),
        cohort.plans,
        today=TODAY,
        progress=False,
        task=_kill_once_after_writing,
    )
    assert (tmp_path / "killed-S0000").is_file()  # the worker really died once
    assert sorted(o.subject for o in outcomes) == ["S0000", "S0001"]
    _assert_tables_as_single(out, cohort.plans, single)
    client.wait_for_workers(2, timeout=120)  # the nanny restarted the killed worker


def _reprocess(archive: str, plans_file: Path, out: Path, client: Any, *more: str) -> int:
    """``adherence reprocess`` of ``archive`` on the test cluster, quiet; its exit code."""
    argv = ["reprocess", "--archive", archive, "--plans", str(plans_file), "--out", str(out)]
    return main([*argv, "--scheduler", client.scheduler.address, *more, "--quiet"])


def test_cli_reprocess_loads_a_store_and_queues_points(
    cohort: Cohort,
    archive: str,
    client: Any,
    single: Tables,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loaded = tmp_path / "loaded.sqlite"
    code = _reprocess(
        archive,
        cohort.plans_file,
        tmp_path / "out",
        client,
        *("--today", TODAY.isoformat(), "--load-store", str(loaded), "--sink", "influx"),
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "S0000:" in out and "S0001:" in out
    with Store(loaded) as store:
        for plan in cohort.plans:
            assert subject_tables(store, plan.subject) == single[plan.subject]
        # per subject and day: adherence_daily + daily_activity, + one point per session
        assert store.outbox_size("influx") == len(cohort.plans) * (2 * DAYS + 1)


def test_cli_reprocess_refuses_an_archived_subject_without_plan(
    cohort: Cohort, archive: str, client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = cohort.plans_subset(slice(1, None), tmp_path / "one.json")
    code = _reprocess(archive, one, tmp_path / "out", client)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "S0000" in err[0]


def test_two_gateways_archive_side_by_side_and_load_once(cohort: Cohort, tmp_path: Path) -> None:
    with Store(cohort.source) as store:
        frames = list(store.frames())
    # a shared subscription splits the streams between two gateways; some frames reach both
    with Store(tmp_path / "gw1.sqlite") as gw1, Store(tmp_path / "gw2.sqlite") as gw2:
        gw1.put_frames(f for i, f in enumerate(frames) if i % 2 == 0 or i % 7 == 0)
        gw2.put_frames(f for i, f in enumerate(frames) if i % 2 == 1 or i % 7 == 0)
        cohort.archive(gw1, str(tmp_path / "a"), source="gw1")
        cohort.archive(gw2, str(tmp_path / "a"), source="gw2")
    names = sorted(_files(tmp_path / "a"))
    day_dirs = {str(Path(n).parent) for n in names}
    assert len(names) == 2 * len(day_dirs)  # one file per gateway in every partition
    with Store(tmp_path / "dst.sqlite") as dst:
        for p in cohort.plans:
            load_subject(dst, str(tmp_path / "a"), p.subject)
        assert sorted(dst.frame_identities()) == sorted(_identity(f) for f in frames)


def test_the_demo_reprocessed_from_its_archive_scores_like_the_demo(tmp_path: Path) -> None:
    """The archive carries the app's events too (session events with pain, programme events),
    so a subject reprocessed from it scores exactly as the source store did: composite, flags,
    programme score and pain outcomes of every day (one subject, in process: the cluster paths
    are the tests above)."""
    from adherence.plan import load_plans
    from adherence.reprocess import reprocess_subject

    demo = tmp_path / "demo.sqlite"
    assert main(["demo", "--store", str(demo), "--no-progress"]) == 0
    plans = {p.subject: p for p in load_plans(REPO / "sample_data" / "care_plans.json")}
    archive_url, out_url = str(tmp_path / "archive"), str(tmp_path / "out")
    with Store(demo) as store:
        archive_store(store, {s: p.tz for s, p in plans.items()}, archive_url)
        want = store.scores("P002")
    today = dt.date(2026, 11, 23)  # the demo's as-of day
    reprocess_subject(archive_url, out_url, plans["P002"], today)
    with Store(tmp_path / "check.sqlite") as check:
        load_subject(check, archive_url, "P002")
        assert len(check.programme_events("P002")) == 19
        from adherence.reprocess import derive_and_score

        derive_and_score(check, plans["P002"], today)
        got = check.scores("P002")
    assert [(d, c) for _, d, c, _ in got] == [(d, c) for _, d, c, _ in want]
    assert got[-1][3]["pain"] == want[-1][3]["pain"]  # the pain outcomes survived the archive
    assert got[-1][3]["programme_composite"] == want[-1][3]["programme_composite"]
    assert [f["code"] for f in got[-1][3]["flags"]] == [f["code"] for f in want[-1][3]["flags"]]
