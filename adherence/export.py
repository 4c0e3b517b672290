"""Researcher exports: pseudonymised tables, an info record and Open mHealth step counts.

:func:`export` writes, into one folder, for the selected subjects and local days:

==================  =====================================================================
``minute``          steps, cadence (steps/min) and wear per UTC minute (``steps_minute``)
``daily``           steps, wear and active minutes, judgeable, step goal, adherence score
``sessions``        one row per exercise session (one exercise bout)
``sets``            one row per set of a session
``repetitions``     one row per repetition: duration (s), range of motion (deg)
``bouts``           walking bouts: steps, cadence (steps/min)
``info.json``       devices (pseudonymised) with streams and nominal sample rates, wear
                    minutes per day, algorithm names and versions, export parameters, row counts
``step-count.omh.json``  Open mHealth ``step-count`` 3.0 data points, one per subject and day
==================  =====================================================================

Tables are CSV, gzip-compressed CSV or Parquet. Every subject, session and device id is replaced
by a keyed pseudonym (:mod:`adherence.pseudonym`); device ids, session sources, session
metadata and file names are never written. Times are UTC ISO 8601 (``..Z``, in Parquet a
``timestamp[ns, UTC]``) with ``date_local`` (and ``time_local`` for minutes) in the subject's
time zone from the care plan (UTC without a plan) wherever a day is meant. The layout follows
what researchers expect from stepcount (Minutely, Daily, Bouts, Info.json); see
``docs/exports.md``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib
import importlib.metadata
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from adherence.export_series import (
    UNITS,
    daily_figures,
    engagement,
    outcomes,
    subject_series,
    symptoms,
)
from adherence.plan import CarePlan, exercise_ids, local_midnight_ns
from adherence.progress import Progress
from adherence.pseudonym import (
    device_pseudonym,
    key_id,
    session_pseudonym,
    subject_pseudonym,
)
from devices.errors import ConfigError, DataFileError
from devices.files import private_dir, private_file, write_private
from features.epochs import MinuteSeries
from ingest.store import Store

__all__ = ["FORMATS", "TABLES", "EXPORT_FORMAT", "ExportResult", "export", "package_version"]

#: Table file formats: plain CSV, gzip-compressed CSV, Parquet.
FORMATS = ("csv", "csv.gz", "parquet")
#: Exported tables, in writing order.
TABLES = (
    "minute",
    "daily",
    "sessions",
    "sets",
    "repetitions",
    "bouts",
    "symptoms",
    "engagement",
    "outcomes",
)
#: Version tag of this export layout (in ``info.json``).
EXPORT_FORMAT = "adherence-export/1"
INFO_FILE = "info.json"
OMH_FILE = "step-count.omh.json"

_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LABEL = re.compile(r"^[a-z0-9_]{1,32}$")
_UTC = ZoneInfo("UTC")
_NS_PER_S = 1_000_000_000

#: Algorithms whose names and versions go into ``info.json``: (module, what it does).
_ALGORITHMS: tuple[tuple[str, str], ...] = (
    ("features.steps", "step counting from raw acceleration"),
    ("features.activity", "steps per minute, walking bouts, wear detection (van Hees 2013)"),
    ("features.epochs", "continuous minute series; walking, moderate minutes and cadences"),
    ("features.reps", "repetition counting"),
    ("features.sessions", "segmentation of an exercise session into sets"),
    ("adherence.pipeline", "daily steps rule, pedometer wear, active minutes"),
    ("adherence.scoring", "adherence scoring and coach flags"),
)
#: Parameters of the derivation copied into ``info.json`` when the module defines them.
_PIPELINE_PARAMS = ("STEP_FS_HZ", "PEDOMETER_MAX_INTERVAL_MIN", "MIN_WEAR_H")


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote: the folder, every file, and row counts per table."""

    out_dir: Path
    files: list[Path]
    rows: dict[str, int]
    subjects: list[str] = field(default_factory=list)
    """Pseudonyms of the exported subjects."""


def package_version() -> str:
    """Installed version of ``adherence-pipeline`` (``"unknown"`` when not installed)."""
    try:
        return importlib.metadata.version("adherence-pipeline")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed in dev too
        return "unknown"


# -- small converters ---------------------------------------------------------------------------


def _iso_utc(ns: Sequence[int] | np.ndarray) -> list[str]:
    """UTC ISO 8601 strings (``Z``) of integer ns, at the coarsest unit that keeps every value."""
    a = np.asarray(ns, dtype=np.int64)
    if a.size == 0:
        return []
    unit: Literal["s", "ms", "ns"] = "s"
    if np.any(a % _NS_PER_S):
        unit = "ms" if not np.any(a % 1_000_000) else "ns"
    stamps = cast("npt.NDArray[np.datetime64]", a.astype("datetime64[ns]"))
    return [str(s) + "Z" for s in np.datetime_as_string(stamps, unit=unit)]


def _local(ns: np.ndarray, tz: ZoneInfo) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(
        pd.to_datetime(np.asarray(ns, np.int64), unit="ns", utc=True)
    ).tz_convert(tz)


def _local_dates(ns: np.ndarray, tz: ZoneInfo) -> list[str]:
    return list(_local(ns, tz).strftime("%Y-%m-%d"))


def _local_times(ns: np.ndarray, tz: ZoneInfo) -> list[str]:
    s = list(_local(ns, tz).strftime("%Y-%m-%dT%H:%M:%S%z"))
    return [v[:-2] + ":" + v[-2:] for v in s]


def _day_bounds(tz: ZoneInfo, start: dt.date | None, end: dt.date | None) -> tuple[int, int]:
    """UTC ns range [lo, hi) of local days start..end (inclusive) in ``tz``."""
    lo = local_midnight_ns(start, tz) if start is not None else -(2**62)
    hi = local_midnight_ns(end + dt.timedelta(days=1), tz) if end is not None else 2**62
    return lo, hi


# -- per-subject context ------------------------------------------------------------------------


@dataclass
class _Ctx:
    key: bytes
    start: dt.date | None
    end: dt.date | None
    plans: dict[str, CarePlan]
    sensitive: set[str]
    exercises: frozenset[str]
    _series: dict[str, MinuteSeries] = field(default_factory=dict)

    def series(self, store: Store, subject: str) -> MinuteSeries:
        """The subject's continuous minute series over the export's days (computed once)."""
        if subject not in self._series:
            self._series[subject] = subject_series(store, subject, *self.bounds(subject))
        return self._series[subject]

    def tz(self, subject: str) -> ZoneInfo:
        plan = self.plans.get(subject)
        return plan.tz if plan is not None else _UTC

    def bounds(self, subject: str) -> tuple[int, int]:
        return _day_bounds(self.tz(subject), self.start, self.end)

    def safe_label(self, value: str | None) -> str | None:
        """``value`` if it is a short plain label that contains no id we must not export."""
        if value is None:
            return None
        if not _IDENT.match(value) or any(s and s in value for s in self.sensitive):
            return "other"
        return value


def _floats(values: Sequence[float | None]) -> np.ndarray:
    """A float64 column with NaN where a value is missing."""
    return np.array([np.nan if v is None else v for v in values], np.float64)


def _pseudonyms(ctx: _Ctx, subject: str, n: int) -> list[str]:
    """The subject column: ``n`` copies of the subject's pseudonym."""
    return [subject_pseudonym(ctx.key, subject)] * n


# -- tables -------------------------------------------------------------------------------------


def _minute(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    """Every minute from the first to the last with data: steps (NaN where not worn), source."""
    s = ctx.series(store, subject)
    tz = ctx.tz(subject)
    return pd.DataFrame(
        {
            "subject": _pseudonyms(ctx, subject, len(s)),
            "time_utc": s.minute_ns,
            "time_local": s.minute_ns,
            "tz": [str(tz)] * len(s),
            "date_local": _local_dates(s.minute_ns, tz),
            "steps": s.steps,
            "source": s.source.astype(object),
            "wear": s.wear,
        }
    )


def _daily(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    lo = ctx.start.isoformat() if ctx.start else "0000-00-00"
    hi = ctx.end.isoformat() if ctx.end else "9999-99-99"
    rows = store.daily_with_scores(subject, lo, hi)
    days = [r.summary for r in rows]
    details = [r.detail for r in rows]
    plan = ctx.plans.get(subject)

    def num(name: str) -> list[float]:
        return [float(d[name]) if d.get(name) is not None else np.nan for d in details]

    def count(name: str) -> Any:
        return pd.array([d.get(name) for d in details], dtype="Int64")

    out = pd.DataFrame(
        {
            "subject": _pseudonyms(ctx, subject, len(rows)),
            "date_local": [d.day for d in days],
            "steps": np.array([d.steps for d in days], np.int64),
            "wear_min": np.array([d.wear_min for d in days], np.int64),
            "active_min": np.array([d.active_min for d in days], np.int64),
            "judgeable": np.array([d.judgeable for d in days], bool),
            "step_goal": pd.array(
                [plan.step_goal(dt.date.fromisoformat(d.day)) if plan else None for d in days],
                dtype="Int64",
            ),
            "composite": _floats([r.composite for r in rows]),
            "exercise_adherence_7d": num("exercise_adherence_7d"),
            "step_attainment_7d": num("step_attainment_7d"),
            "sessions_done": count("sessions_done"),
            "sessions_planned": count("sessions_planned"),
            "flags": [
                ";".join(str(f.get("code", "")) for f in d.get("flags", []) if isinstance(f, dict))
                for d in details
            ],
        }
    )
    figures = daily_figures(ctx.series(store, subject), ctx.tz(subject), [d.day for d in days])
    at = list(out.columns).index("active_min") + 1
    return pd.concat([out.iloc[:, :at], figures, out.iloc[:, at:]], axis=1)


def _sessions(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    rows = store.session_summaries(subject, *ctx.bounds(subject))
    start = np.array([r.start_ns for r in rows], np.int64)
    end = np.array([r.end_ns for r in rows], np.int64)
    synthetic = [r.meta.get("synthetic") for r in rows]
    return pd.DataFrame(
        {
            "session": [session_pseudonym(ctx.key, r.session_id) for r in rows],
            "subject": _pseudonyms(ctx, subject, len(rows)),
            "exercise": [r.exercise if r.exercise in ctx.exercises else "other" for r in rows],
            "plan_entry": [ctx.safe_label(r.plan_entry) for r in rows],
            "start_utc": start,
            "end_utc": end,
            "date_local": _local_dates(start, ctx.tz(subject)),
            "duration_s": (end - start) / _NS_PER_S,
            "sets": np.array([r.n_sets for r in rows], np.int64),
            "reps": np.array([r.n_reps for r in rows], np.int64),
            "status": [ctx.safe_label(r.status) for r in rows],
            "source_kind": [_source_kind(r.source) for r in rows],
            "synthetic": pd.array(
                [v if isinstance(v, bool) else None for v in synthetic], dtype="boolean"
            ),
        }
    )


def _source_kind(source: str) -> str:
    """The kind part of a session source (``recording:SN-1`` → ``recording``), never the id."""
    kind = source.split(":", 1)[0]
    return kind if _LABEL.match(kind) else "other"


def _sets(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    rows = store.sets_of(subject, *ctx.bounds(subject))
    start = np.array([r.start_ns for r in rows], np.int64)
    end = np.array([r.end_ns for r in rows], np.int64)
    return pd.DataFrame(
        {
            "session": [session_pseudonym(ctx.key, r.session_id) for r in rows],
            "subject": _pseudonyms(ctx, subject, len(rows)),
            "set_index": np.array([r.set_index for r in rows], np.int64),
            "start_utc": start,
            "end_utc": end,
            "duration_s": (end - start) / _NS_PER_S,
            "reps": np.array([r.reps for r in rows], np.int64),
        }
    )


def _repetitions(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    rows = store.repetitions_of(subject, *ctx.bounds(subject))
    return pd.DataFrame(
        {
            "session": [session_pseudonym(ctx.key, r.session_id) for r in rows],
            "subject": _pseudonyms(ctx, subject, len(rows)),
            "set_index": np.array([r.set_index for r in rows], np.int64),
            "rep_index": np.array([r.rep_index for r in rows], np.int64),
            "start_utc": np.array([r.start_ns for r in rows], np.int64),
            "end_utc": np.array([r.end_ns for r in rows], np.int64),
            "duration_s": np.array([r.duration_s for r in rows], np.float64),
            "rom_deg": _floats([r.rom_deg for r in rows]),
        }
    )


def _bouts(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    rows = store.bouts(subject, *ctx.bounds(subject))
    start = np.array([r.start_ns for r in rows], np.int64)
    end = np.array([r.end_ns for r in rows], np.int64)
    return pd.DataFrame(
        {
            "subject": _pseudonyms(ctx, subject, len(rows)),
            "start_utc": start,
            "end_utc": end,
            "date_local": _local_dates(start, ctx.tz(subject)),
            "duration_s": (end - start) / _NS_PER_S,
            "steps": np.array([r.steps for r in rows], np.int64),
            "cadence_spm": _floats([r.cadence_spm for r in rows]),
        }
    )


def _symptoms(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    return symptoms(
        store, ctx.key, ctx.plans.get(subject), subject, ctx.tz(subject), *ctx.bounds(subject)
    )


def _engagement(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    return engagement(
        store, ctx.key, ctx.plans.get(subject), subject, ctx.tz(subject), *ctx.bounds(subject)
    )


def _outcomes(store: Store, ctx: _Ctx, subject: str) -> pd.DataFrame:
    return outcomes(store, ctx.key, ctx.plans.get(subject), ctx.end)


_BUILDERS: dict[str, Callable[[Store, _Ctx, str], pd.DataFrame]] = {
    "minute": _minute,
    "daily": _daily,
    "sessions": _sessions,
    "sets": _sets,
    "repetitions": _repetitions,
    "bouts": _bouts,
    "symptoms": _symptoms,
    "engagement": _engagement,
    "outcomes": _outcomes,
}
#: Columns holding UTC ns while building; written as ISO text (CSV) or timestamps (Parquet).
_TIME_COLUMNS = ("time_utc", "start_utc", "end_utc")


# -- writers ------------------------------------------------------------------------------------


def _local_column(df: pd.DataFrame, fmt: str) -> Any:
    """``time_local`` (UTC ns while building) in the row's ``tz``: ISO text with the UTC offset
    in CSV; in Parquet a time-zone-aware timestamp when every row shares one zone (else text)."""
    ns = df["time_local"].to_numpy(np.int64)
    zones = sorted(set(df["tz"])) if len(df) else ["UTC"]
    if fmt == "parquet" and len(zones) == 1:
        return pd.to_datetime(ns, unit="ns", utc=True).tz_convert(zones[0]).as_unit("ns")
    out = np.empty(len(df), dtype=object)
    for zone in zones:
        rows = (df["tz"] == zone).to_numpy()
        out[rows] = _local_times(ns[rows], ZoneInfo(zone))
    return out


def _arrow_table(out: pd.DataFrame, table: str) -> Any:
    """The frame as an Arrow table whose fields carry their unit and whose schema carries the
    export format, the table name, every unit and the algorithm versions (``adherence``)."""
    import pyarrow as pa

    t = pa.Table.from_pandas(out, preserve_index=False)
    fields = [f.with_metadata({"unit": UNITS[f.name]}) if f.name in UNITS else f for f in t.schema]
    meta = dict(t.schema.metadata or {})
    units = {c: UNITS[c] for c in out.columns if c in UNITS}
    info = {"format": EXPORT_FORMAT, "table": table, "units": units, "algorithms": _algorithms()}
    meta[b"adherence"] = json.dumps(info, sort_keys=True).encode()
    return t.cast(pa.schema(fields, metadata=meta))


def _write_table(df: pd.DataFrame, path: Path, fmt: str, table: str = "") -> None:
    out = df.copy()
    for col in _TIME_COLUMNS:
        if col in out.columns:
            ns = out[col].to_numpy(np.int64)
            if fmt == "parquet":
                out[col] = pd.to_datetime(ns, unit="ns", utc=True).as_unit("ns")
            else:
                out[col] = _iso_utc(ns)
    if "time_local" in out.columns:
        out["time_local"] = _local_column(out, fmt)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        private_file(path)  # 0600 before pyarrow writes into it
        pq.write_table(_arrow_table(out, table or path.stem), path, compression="zstd")
        return
    text = out.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    data = text.encode("utf-8")
    if fmt == "csv.gz":
        buf = io.BytesIO()
        # No file name and no time in the gzip header: only the data is exported.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    write_private(path, data)


def _omh_records(
    daily: pd.DataFrame, ctx: _Ctx, subject: str, created: str, source: str
) -> list[dict[str, Any]]:
    """Open mHealth ``step-count`` 3.0 data points, one per local day (local midnight bounds)."""
    tz = ctx.tz(subject)
    pseudo = subject_pseudonym(ctx.key, subject)
    out = []
    for day_s, steps in zip(daily["date_local"], daily["steps"], strict=True):
        day = dt.date.fromisoformat(day_s)
        t0 = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
        nxt = day + dt.timedelta(days=1)
        t1 = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
        out.append(
            {
                "header": {
                    "id": str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"adherence:step-count:{pseudo}:{day_s}")
                    ),
                    "creation_date_time": created,
                    "schema_id": {"namespace": "omh", "name": "step-count", "version": "3.0"},
                    "acquisition_provenance": {"source_name": source, "modality": "sensed"},
                    "user_id": pseudo,
                },
                "body": {
                    "step_count": {"value": int(steps), "unit": "steps"},
                    "effective_time_frame": {
                        "time_interval": {
                            "start_date_time": t0.isoformat(),
                            "end_date_time": t1.isoformat(),
                        }
                    },
                },
            }
        )
    return out


def _algorithms() -> list[dict[str, Any]]:
    pkg = package_version()
    out: list[dict[str, Any]] = []
    for module, what in _ALGORITHMS:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        version = getattr(mod, "__version__", None) or getattr(mod, "ALGORITHM_VERSION", None)
        entry: dict[str, Any] = {
            "name": what,
            "module": module,
            "version": str(version) if version else pkg,
        }
        if module == "adherence.pipeline":
            entry["parameters"] = {p: getattr(mod, p) for p in _PIPELINE_PARAMS if hasattr(mod, p)}
        out.append(entry)
    return out


def _devices(store: Store, ctx: _Ctx, subject: str) -> list[dict[str, Any]]:
    """Devices of a subject in the range: pseudonym, model label, streams with nominal rates."""
    devices: dict[str, dict[str, Any]] = {}
    for r in store.device_streams(subject, *ctx.bounds(subject)):
        d = devices.setdefault(
            r.device,
            {"device": device_pseudonym(ctx.key, r.device), "models": [], "streams": []},
        )
        d["streams"].append(
            {
                "stream": r.stream,
                "fs_hz": r.fs_hz,
                "frames": r.frames,
                "samples": r.samples,
                "first_utc": _iso_utc([r.first_ns])[0],
                "last_utc": _iso_utc([r.last_ns])[0],
            }
        )
    for dev, d in devices.items():
        d["models"] = sorted(v for v in store.decoders_of(dev) if _LABEL.match(v))
    return sorted(devices.values(), key=lambda d: str(d["device"]))


# -- the export ---------------------------------------------------------------------------------


def _chosen_subjects(store: Store, subjects: Iterable[str] | None) -> list[str]:
    """The raw subject ids to export (default all); ConfigError if one is not in the store."""
    known = store.all_subjects()
    if subjects is None:
        return known
    chosen = sorted(set(subjects))
    missing = [s for s in chosen if s not in known]
    if missing:
        # Name the number, not the ids: error messages end up in logs.
        raise ConfigError("subject", "--subject", f"{len(missing)} subject(s) not in the store")
    return chosen


def _check_request(fmt: str, start: dt.date | None, end: dt.date | None) -> None:
    if fmt not in FORMATS:
        raise ConfigError("export format", fmt, f"must be one of {', '.join(FORMATS)}")
    if start is not None and end is not None and start > end:
        raise ConfigError("date range", f"{start}..{end}", "the first day is after the last")


def _make_folder(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    try:
        private_dir(out)
    except OSError as exc:
        raise DataFileError(str(out), f"cannot create folder: {exc.strerror or exc}") from exc
    return out


def _build_tables(
    store: Store, ctx: _Ctx, chosen: Sequence[str], bar: Progress
) -> dict[str, list[pd.DataFrame]]:
    """Every table of every chosen subject, in :data:`TABLES` and subject order."""
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for subject in chosen:
        for table in TABLES:
            frames[table].append(_BUILDERS[table](store, ctx, subject))
            bar.advance(note=f"{table}")
    return frames


@dataclass
class _Written:
    """What has been written so far: files, row counts and the ``tables`` part of info.json."""

    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)


def _write_tables(
    store: Store, ctx: _Ctx, frames: dict[str, list[pd.DataFrame]], out: Path, fmt: str
) -> _Written:
    written = _Written()
    for table in TABLES:
        parts = [f for f in frames[table] if len(f)]
        empty = _BUILDERS[table](store, ctx, "\x00no subject\x00").iloc[0:0]
        df = pd.concat(parts, ignore_index=True) if parts else empty
        path = out / f"{table}.{fmt}"
        _write_table(df, path, fmt, table)
        written.files.append(path)
        written.rows[table] = len(df)
        written.tables[table] = {"file": path.name, "rows": len(df), "columns": list(df.columns)}
    return written


def _write_omh(
    ctx: _Ctx,
    chosen: Sequence[str],
    daily: Sequence[pd.DataFrame],
    out: Path,
    created: str,
    written: _Written,
) -> None:
    source = f"adherence-pipeline {package_version()}"
    omh: list[dict[str, Any]] = []
    for subject, frame in zip(chosen, daily, strict=True):
        omh.extend(_omh_records(frame, ctx, subject, created, source))
    omh_path = out / OMH_FILE
    write_private(omh_path, json.dumps(omh, indent=1) + "\n")
    written.files.append(omh_path)
    written.rows["step_count_omh"] = len(omh)
    written.tables["step_count_omh"] = {"file": OMH_FILE, "rows": len(omh)}


def _subjects_info(
    store: Store, ctx: _Ctx, chosen: Sequence[str], daily: Sequence[pd.DataFrame]
) -> dict[str, Any]:
    """The ``subjects`` part of info.json: time zone, programme, devices, wear per day."""
    info: dict[str, Any] = {}
    for subject, frame in zip(chosen, daily, strict=True):
        plan = ctx.plans.get(subject)
        info[subject_pseudonym(ctx.key, subject)] = {
            "timezone": str(ctx.tz(subject)),
            "programme": plan.programme if plan else None,
            "devices": _devices(store, ctx, subject),
            "wear_min_per_day": {
                d: int(w) for d, w in zip(frame["date_local"], frame["wear_min"], strict=True)
            },
        }
    return info


def _parameters(
    ctx: _Ctx, fmt: str, chosen: Sequence[str], all_subjects: bool, kid: str
) -> dict[str, Any]:
    """The ``parameters`` part of info.json: what was asked for, and which key was used."""
    return {
        "format": fmt,
        "from": ctx.start.isoformat() if ctx.start else None,
        "to": ctx.end.isoformat() if ctx.end else None,
        "subjects": "all"
        if all_subjects
        else sorted(subject_pseudonym(ctx.key, s) for s in chosen),
        "pseudonym": "HMAC-SHA256(key, namespace:id), 16 hex; s_ subject, x_ session, d_ device",
        "key_id": kid,
        "care_plans": bool(ctx.plans),
    }


def export(
    store: Store,
    out_dir: str | Path,
    *,
    key: bytes,
    fmt: str = "csv",
    subjects: Iterable[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    plans: Sequence[CarePlan] | None = None,
    progress: bool = True,
) -> ExportResult:
    """Export pseudonymised tables, ``info.json`` and Open mHealth step counts into ``out_dir``.

    Parameters
    ----------
    store:
        The local store (read only).
    out_dir:
        Folder to write into (created; files of an earlier export there are overwritten).
    key:
        Pseudonymisation key (at least 16 bytes, see :func:`adherence.pseudonym.load_key`).
    fmt:
        ``"csv"``, ``"csv.gz"`` or ``"parquet"``.
    subjects:
        Raw subject ids to export (default: every subject in the store).
    start, end:
        First and last local day (inclusive) to export; default unbounded. A day is local to the
        subject's care-plan time zone (UTC without a plan); sessions, bouts and minutes belong
        to the day their start falls on.
    plans:
        Care plans: time zones and daily step goals (optional).
    progress:
        Show progress on stderr.

    Returns
    -------
    ExportResult
        Folder, files written and row counts per table.

    Raises
    ------
    ConfigError
        Unknown format or subject, ``start`` after ``end``, or a bad key.
    DataFileError
        The folder cannot be written.
    """
    _check_request(fmt, start, end)
    kid = key_id(key)  # validates the key before anything is written
    chosen = _chosen_subjects(store, subjects)
    ctx = _Ctx(
        key=key,
        start=start,
        end=end,
        plans={p.subject: p for p in plans or ()},
        sensitive=store.raw_ids(),
        exercises=exercise_ids(),
    )
    out = _make_folder(out_dir)
    bar = Progress(len(chosen) * len(TABLES) + 1, "exporting", enabled=progress)
    frames = _build_tables(store, ctx, chosen, bar)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        written = _write_tables(store, ctx, frames, out, fmt)
        _write_omh(ctx, chosen, frames["daily"], out, created, written)
        info = {
            "format": EXPORT_FORMAT,
            "created_utc": created,
            "software": {"name": "adherence-pipeline", "version": package_version()},
            "parameters": _parameters(ctx, fmt, chosen, subjects is None, kid),
            "algorithms": _algorithms(),
            "tables": written.tables,
            "subjects": _subjects_info(store, ctx, chosen, frames["daily"]),
        }
        info_path = out / INFO_FILE
        write_private(info_path, json.dumps(info, indent=1, sort_keys=False) + "\n")
        written.files.append(info_path)
    except OSError as exc:
        raise DataFileError(str(out), f"cannot write: {exc.strerror or exc}") from exc
    bar.advance(note="info")
    return ExportResult(
        out, written.files, written.rows, sorted(subject_pseudonym(key, s) for s in chosen)
    )
