"""Cohort reprocessing on Dask distributed: raw archive → derived tables and scores (Parquet).

One Dask task per subject (:func:`reprocess_subject`): the worker loads the subject's archived
frames and sessions (:mod:`adherence.archive`) into a temporary store of its own, runs the
single-process chain on it (:func:`derive_and_score`: :func:`adherence.pipeline.derive_plan_days`
then :func:`adherence.scoring.rescore`, the code ``adherence score`` runs), and writes each derived
table of the subject as one Parquet file::

    <out>/<table>/subject=<id>/part-<hash>.parquet

for ``steps_minute``, ``walking_bouts``, ``sessions``, ``exercise_sets``, ``repetitions``,
``daily_summary`` and ``scores``. Results equal the single-process derive by construction (the
same functions on the same frames).

Sessions counted in batch before (``recording:`` and ``mqtt:`` sources) are reset to
``recorded`` so that reprocessing counts their repetitions again with the current code; sessions
counted live (``live:``) keep the repetitions counted during the session.

Fault tolerance is Dask's: a task whose worker dies is run again on another worker (up to the
scheduler's ``distributed.scheduler.allowed-failures``, 3 by default). Outputs are idempotent:
file names depend only on (table, subject) and files are written under a temporary name and
then moved into place, so a task that ran twice (or half-way, then again) leaves exactly one
complete file per table and subject.

References: Dask distributed futures, https://distributed.dask.org/en/stable/client.html;
fault tolerance, https://distributed.dask.org/en/stable/resilience.html.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from adherence.archive import (
    SESSION_SCHEMA,
    Target,
    archived_subjects,
    columns_schema,
    load_subject,
    parquet_writer,
    part_name,
    read_sessions,
    subject_dir,
)
from adherence.pipeline import derive_plan_days
from adherence.plan import CarePlan
from adherence.scoring import rescore
from devices.errors import ConfigError
from ingest.store import SessionRecord, SetRecord, Store

__all__ = [
    "TABLES",
    "SubjectOutcome",
    "derive_and_score",
    "load_outputs",
    "read_table",
    "reprocess_cohort",
    "reprocess_subject",
    "subject_tables",
]

ALL_NS = (-(2**63), 2**63 - 1)
"""The whole time axis (UTC ns) for the store's windowed reads."""
BATCH_SOURCES = ("recording:", "mqtt:")
"""Session sources whose repetitions are counted in batch (recounted when reprocessing)."""

TABLES: dict[str, pa.Schema] = {
    "steps_minute": columns_schema("minute_ns", "steps", "cadence_spm", "wear"),
    "walking_bouts": columns_schema("start_ns", "end_ns", "steps", "cadence_spm"),
    # the archive's session columns; the sets are a table of their own (exercise_sets)
    "sessions": pa.schema([f for f in SESSION_SCHEMA if f.name != "sets"]),
    "exercise_sets": columns_schema("session_id", "set_index", "start_ns", "end_ns", "reps"),
    "repetitions": columns_schema(
        *("session_id", "set_index", "rep_index", "start_ns", "end_ns", "duration_s", "rom_deg")
    ),
    "daily_summary": columns_schema("day", "steps", "wear_min", "active_min", "judgeable"),
    "scores": columns_schema("day", "composite", "detail"),
}
"""Derived tables written per subject, with their Parquet schemas (times UTC ns)."""


@dataclass(frozen=True)
class SubjectOutcome:
    """What one task computed for a subject: rows per table and frames loaded."""

    subject: str
    frames: int
    rows: dict[str, int]


def derive_and_score(store: Store, plan: CarePlan, today: dt.date | None) -> None:
    """The single-process chain for one subject over the whole programme, as ``adherence score``
    runs it: :func:`adherence.pipeline.derive_plan_days`, then score.

    ``today`` is the local day scores are computed as of (None: now in the plan's time zone).
    """
    derive_plan_days(store, plan, plan.start_date, plan.end_date)
    rescore(store, [plan], today=today)


def _sets_rows(sessions: Sequence[SessionRecord]) -> tuple[list[list[Any]], list[list[Any]]]:
    sets: list[list[Any]] = []
    reps: list[list[Any]] = []
    for s in sessions:
        for st in s.sets:
            sets.append([s.session_id, st.set_index, st.start_ns, st.end_ns, len(st.reps)])
            for i, r in enumerate(st.reps):
                reps.append(
                    [s.session_id, st.set_index, i, r.start_ns, r.end_ns, r.duration_s, r.rom_deg]
                )
    return sets, reps


def subject_tables(store: Store, subject: str) -> dict[str, list[list[Any]]]:
    """A subject's derived rows per table of :data:`TABLES`, in a deterministic order."""
    sessions = store.sessions(subject)
    sets, reps = _sets_rows(sessions)
    return {
        "steps_minute": [
            [r.minute_ns, r.steps, r.cadence_spm, r.wear]
            for r in store.steps_minutes(subject, ALL_NS[0], ALL_NS[1])
        ],
        "walking_bouts": [
            [r.start_ns, r.end_ns, r.steps, r.cadence_spm]
            for r in store.bouts(subject, ALL_NS[0], ALL_NS[1])
        ],
        "sessions": [
            [
                s.session_id,
                s.exercise,
                s.start_ns,
                s.end_ns,
                s.plan_entry,
                s.source,
                s.status,
                json.dumps(s.meta, sort_keys=True),
            ]
            for s in sessions
        ],
        "exercise_sets": sets,
        "repetitions": reps,
        "daily_summary": [
            [r.day, r.steps, r.wear_min, r.active_min, r.judgeable]
            for r in store.summaries(subject, "0000-01-01", "9999-12-31")
        ],
        "scores": [
            [day, composite, json.dumps(detail, sort_keys=True, default=float)]
            for _, day, composite, detail in store.scores(subject)
        ],
    }


def _to_table(name: str, rows: list[list[Any]]) -> pa.Table:
    schema = TABLES[name]
    cols: list[Sequence[Any]] = [[] for _ in schema.names]
    if rows:
        cols = list(zip(*rows, strict=True))
    return pa.table(
        {n: pa.array(list(c), t) for n, t, c in zip(schema.names, schema.types, cols, strict=True)},
        schema=schema,
    )


def table_path(name: str, subject: str) -> str:
    """Relative path of a subject's file of table ``name`` under the output root."""
    return posixpath.join(name, subject_dir(subject), part_name(name, subject))


def _restore_sessions(store: Store, sessions: Sequence[SessionRecord]) -> None:
    with store.transaction():
        for s in sessions:
            if s.source.startswith(BATCH_SOURCES):
                s = replace(s, status="recorded", sets=())
            store.put_session(s)


def reprocess_subject(
    archive_url: str,
    out_url: str,
    plan: CarePlan,
    today: dt.date | None,
    storage_options: Mapping[str, Any] | None = None,
) -> SubjectOutcome:
    """One Dask task: archive → temporary store → derive and score → one Parquet file per table.

    Memory is that of :func:`adherence.pipeline.derive` on one subject (it reads streams in
    chunks) plus one Parquet row group of frames.
    """
    subject = plan.subject
    with (
        tempfile.TemporaryDirectory(prefix="adherence-reprocess-") as tmp,
        Store(Path(tmp) / "subject.sqlite", durable=False) as store,  # scratch: thrown away
    ):
        frames, _ = load_subject(store, archive_url, subject, storage_options, sessions=False)
        _restore_sessions(store, read_sessions(archive_url, subject, storage_options))
        derive_and_score(store, plan, today)
        tables = subject_tables(store, subject)
    target = Target(out_url, storage_options)
    for name, rows in tables.items():
        target.write(table_path(name, subject), parquet_writer(_to_table(name, rows)))
    return SubjectOutcome(subject, frames, {k: len(v) for k, v in tables.items()})


def read_table(
    out_url: str, name: str, subject: str, storage_options: Mapping[str, Any] | None = None
) -> list[list[Any]]:
    """Rows of a subject's output table ``name`` (as :func:`subject_tables` gives them)."""
    target = Target(out_url, storage_options)
    with target.open(table_path(name, subject)) as f:
        table = pq.read_table(f)
    return [list(r.values()) for r in table.to_pylist()]


def reprocess_cohort(
    client: Any,
    archive_url: str,
    out_url: str,
    plans: Sequence[CarePlan],
    *,
    today: dt.date | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = True,
    task: Callable[..., SubjectOutcome] = reprocess_subject,
) -> list[SubjectOutcome]:
    """Reprocess every planned subject on the Dask cluster of ``client``; outcomes by subject.

    Parameters
    ----------
    client:
        A ``distributed.Client`` (a scheduler address or a local cluster).
    archive_url, out_url:
        The raw archive and the output root (local folders or fsspec URLs the workers reach).
    plans:
        Care plans: one task per plan. An archived subject without a plan is an error.
    today:
        Local day the scores are computed as of (None: now).
    progress:
        Show Dask's progress bar (``distributed.progress``) while the tasks run.
    task:
        The per-subject function (its signature is that of :func:`reprocess_subject`).

    Raises
    ------
    ConfigError
        Archived subjects without a care plan (named); nothing is computed.
    """
    from distributed import progress as dask_progress

    planned = {p.subject for p in plans}
    orphans = sorted(set(archived_subjects(archive_url, storage_options)) - planned)
    if orphans:
        raise ConfigError(
            "reprocess", "--plans", f"no care plan for archived subject(s) {', '.join(orphans)}"
        )
    Target(out_url, storage_options).makedirs("")
    futures = [
        client.submit(
            task,
            archive_url,
            out_url,
            plan,
            today,
            storage_options,
            key=f"reprocess-{plan.subject}",
            pure=False,
        )
        for plan in sorted(plans, key=lambda p: p.subject)
    ]
    if progress:
        dask_progress(futures)
    outcomes: list[SubjectOutcome] = client.gather(futures)
    return outcomes


def load_outputs(
    store: Store,
    out_url: str,
    plans: Sequence[CarePlan],
    *,
    today: dt.date | None = None,
    sinks: Sequence[str] = (),
    storage_options: Mapping[str, Any] | None = None,
) -> None:
    """Load the reprocessed tables into ``store``; recompute the scores there and queue
    InfluxDB points for ``sinks`` (scoring reads only sessions and daily summaries, so the
    scores equal the Parquet ones)."""
    for plan in plans:
        s = plan.subject
        rows = {name: read_table(out_url, name, s, storage_options) for name in TABLES}
        with store.transaction():
            store.put_steps_minute(s, [tuple(r) for r in rows["steps_minute"]])
            store.put_bouts(s, [tuple(r) for r in rows["walking_bouts"]])
            store.put_daily_summary(s, [tuple(r) for r in rows["daily_summary"]])
            for session in _sessions_from_rows(s, rows):
                store.put_session(session)
    rescore(store, plans, today=today, sinks=sinks)


def _sessions_from_rows(subject: str, rows: dict[str, list[list[Any]]]) -> list[SessionRecord]:
    from ingest.store import RepRecord

    reps: dict[tuple[str, int], list[RepRecord]] = {}
    for sid, set_i, _, a, b, d, rom in rows["repetitions"]:
        reps.setdefault((sid, set_i), []).append(RepRecord(a, b, d, rom))
    sets: dict[str, list[SetRecord]] = {}
    for sid, set_i, a, b, _ in rows["exercise_sets"]:
        sets.setdefault(sid, []).append(SetRecord(set_i, a, b, tuple(reps.get((sid, set_i), []))))
    return [
        SessionRecord(
            sid, subject, ex, a, b, pe, src, status, tuple(sets.get(sid, [])), json.loads(meta)
        )
        for sid, ex, a, b, pe, src, status, meta in rows["sessions"]
    ]
