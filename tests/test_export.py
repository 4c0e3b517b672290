"""Researcher exports: read back with pandas and compare exactly with the store's known rows."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adherence.cli import main
from adherence.export import FORMATS, TABLES, export
from adherence.pseudonym import device_pseudonym, key_id, session_pseudonym, subject_pseudonym
from devices.errors import ConfigError
from ingest.store import Store
from tests.export_helpers import (
    BOUTS,
    DAILY,
    FORBIDDEN,
    KEY,
    MAC,
    MINUTES,
    OTHER_KEY,
    SERIAL,
    SESSIONS,
    SUBJECTS,
    fill,
    plans,
    utc_ns,
)

EXT = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet"}


@pytest.fixture
def filled(store: Store) -> Store:
    fill(store)
    return store


def read(out: Path, table: str, fmt: str) -> pd.DataFrame:
    path = out / f"{table}.{EXT[fmt]}"
    if fmt == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=True)


def ns(col: pd.Series) -> list[int]:
    """UTC ns of an exported time column (ISO text in CSV, timestamps in Parquet)."""
    return [int(v) for v in pd.to_datetime(col, utc=True).dt.as_unit("ns").astype("int64")]


MIN = 60 * 10**9


def want_minutes(subject: str, lo: int | None = None, hi: int | None = None) -> list[tuple]:
    """The continuous minute series the export must write, by the rules of docs/exports.md:
    every minute from the first to the last with data; an accelerometer minute that was worn
    gives its steps ("raw"); P001's pedometer (export_helpers.fill: 10 totals of 0 a minute
    apart from 14:00Z on the 9th) covers the 9 minutes 14:00-14:08 with 0 steps ("pedometer");
    every other minute is not worn (NaN, source "")."""
    raw = {m: (k, w) for m, k, _, w in MINUTES[subject]}
    ped = (
        {utc_ns("2026-11-09T14:00:00") + i * MIN for i in range(9)} if subject == "P001" else set()
    )
    first, last = min([*raw, *ped]), max([*raw, *ped])
    out = []
    for m in range(first, last + MIN, MIN):
        if m in raw and raw[m][1]:
            out.append((m, float(raw[m][0]), "raw"))
        elif m in ped:
            out.append((m, 0.0, "pedometer"))
        else:
            out.append((m, np.nan, ""))
    return [r for r in out if (lo is None or r[0] >= lo) and (hi is None or r[0] < hi)]


def ps(subject: str) -> str:
    return subject_pseudonym(KEY, subject)


@pytest.mark.parametrize("fmt", FORMATS)
class TestTablesMatchStore:
    @pytest.fixture
    def exported(self, filled: Store, tmp_path: Path, fmt: str) -> Path:
        """The folder with every table of ``filled`` exported in ``fmt`` (with the plans)."""
        export(filled, tmp_path, key=KEY, fmt=fmt, plans=plans(), progress=False)
        return tmp_path

    def test_minute(self, exported: Path, fmt: str) -> None:
        df = read(exported, "minute", fmt)
        want = [(ps(s), *r) for s in SUBJECTS for r in want_minutes(s)]
        assert len(want) == (3 * 1440 + 62) + (2 * 1440 + 1)  # 14:00Z 9th-15:01Z 12th; 2 days
        assert list(df["subject"]) == [w[0] for w in want]
        assert ns(df["time_utc"]) == [w[1] for w in want]
        np.testing.assert_array_equal(df["steps"].to_numpy(float), [w[2] for w in want])
        assert list(df["source"].fillna("")) == [w[3] for w in want]
        assert list(df["wear"]) == [w[3] != "" for w in want]
        assert set(df["tz"]) == {"America/New_York", "Europe/London"}
        # 03:00Z on the 10th is 22:00 on the 9th in New York (the plan's time zone)
        i = ns(df["time_utc"]).index(utc_ns("2026-11-10T03:00:00"))
        assert df["date_local"].iloc[i] == "2026-11-09"
        # two zones in one file: the local time is text with its UTC offset, in every format
        assert df["time_local"].iloc[i] == "2026-11-09T22:00:00-05:00"

    def test_minute_time_local_is_zone_aware_in_parquet(
        self, filled: Store, tmp_path: Path, fmt: str
    ) -> None:
        export(filled, tmp_path, key=KEY, fmt=fmt, subjects=["P001"], plans=plans(), progress=False)
        df = read(tmp_path, "minute", fmt)
        i = ns(df["time_utc"]).index(utc_ns("2026-11-10T03:00:00"))
        if fmt == "parquet":  # one zone: a time-zone-aware timestamp
            assert str(df["time_local"].dt.tz) == "America/New_York"
            assert df["time_local"].iloc[i] == pd.Timestamp("2026-11-09T22:00:00-05:00")
        else:
            assert df["time_local"].iloc[i] == "2026-11-09T22:00:00-05:00"

    def test_daily(self, exported: Path, fmt: str, filled: Store) -> None:
        df = read(exported, "daily", fmt)
        want = [(ps(s), *r) for s in SUBJECTS for r in DAILY[s]]
        assert list(df["subject"]) == [w[0] for w in want]
        assert list(df["date_local"]) == [w[1] for w in want]
        assert list(df["steps"]) == [w[2] for w in want]
        assert list(df["wear_min"]) == [w[3] for w in want]
        assert list(df["active_min"]) == [w[4] for w in want]
        assert list(df["judgeable"]) == [w[5] for w in want]
        assert list(df["step_goal"]) == [5000, 5000, 5000, 4000, 4000]
        scores = {(s, d): c for s, d, c, _ in filled.scores()}
        assert list(df["composite"]) == [scores[(s, r[0])] for s in SUBJECTS for r in DAILY[s]]
        assert list(df["flags"].fillna("")) == [
            ";".join(f["code"] for f in detail["flags"])
            for s in SUBJECTS
            for subj, day, _, detail in filled.scores(s)
            if day in {r[0] for r in DAILY[s]}
        ]

    def test_sessions_sets_repetitions(self, exported: Path, fmt: str) -> None:
        sessions = read(exported, "sessions", fmt)
        assert list(sessions["session"]) == [session_pseudonym(KEY, s.session_id) for s in SESSIONS]
        assert list(sessions["subject"]) == [ps(s.subject) for s in SESSIONS]
        assert ns(sessions["start_utc"]) == [s.start_ns for s in SESSIONS]
        assert ns(sessions["end_utc"]) == [s.end_ns for s in SESSIONS]
        assert list(sessions["reps"]) == [6, 4, 2]
        assert list(sessions["sets"]) == [2, 2, 1]
        assert list(sessions["source_kind"]) == ["recording", "ble", "mqtt"]
        assert list(sessions["plan_entry"]) == ["core-a"] * 3
        assert list(sessions["synthetic"].astype("boolean")) == [True, pd.NA, False]

        sets = read(exported, "sets", fmt)
        want_sets = [(s, st) for s in SESSIONS for st in s.sets]
        assert list(sets["session"]) == [session_pseudonym(KEY, s.session_id) for s, _ in want_sets]
        assert list(sets["set_index"]) == [st.set_index for _, st in want_sets]
        assert ns(sets["start_utc"]) == [st.start_ns for _, st in want_sets]
        assert list(sets["reps"]) == [len(st.reps) for _, st in want_sets]

        reps = read(exported, "repetitions", fmt)
        want = [(s, st, i, r) for s in SESSIONS for st in s.sets for i, r in enumerate(st.reps)]
        assert len(reps) == 12
        assert list(reps["rep_index"]) == [i for _, _, i, _ in want]
        assert ns(reps["start_utc"]) == [r.start_ns for *_, r in want]
        assert ns(reps["end_utc"]) == [r.end_ns for *_, r in want]
        assert list(reps["duration_s"]) == [r.duration_s for *_, r in want]
        assert list(reps["rom_deg"]) == [r.rom_deg for *_, r in want]

    def test_bouts(self, exported: Path, fmt: str) -> None:
        df = read(exported, "bouts", fmt)
        want = [(ps(s), *r) for s in SUBJECTS for r in BOUTS[s]]
        assert list(df["subject"]) == [w[0] for w in want]
        assert ns(df["start_utc"]) == [w[1] for w in want]
        assert ns(df["end_utc"]) == [w[2] for w in want]
        assert list(df["steps"]) == [150, 190]
        assert list(df["duration_s"]) == [90.0, 120.0]
        np.testing.assert_array_equal(df["cadence_spm"].to_numpy(float), [100.0, np.nan])


def test_filters_by_subject_and_local_days(filled: Store, tmp_path: Path) -> None:
    r = export(
        filled,
        tmp_path,
        key=KEY,
        fmt="csv",
        plans=plans(),
        start=dt.date(2026, 11, 10),
        end=dt.date(2026, 11, 11),
        progress=False,
    )
    minute = read(tmp_path, "minute", "csv")
    # local days 10-11 November: New York for P001 (05:00Z to 05:00Z), London for P002; P001's
    # 03:00Z minute on the 10th is the 9th in New York: excluded
    p001 = want_minutes("P001", utc_ns("2026-11-10T05:00:00"), utc_ns("2026-11-12T05:00:00"))
    p002 = want_minutes("P002", utc_ns("2026-11-10T00:00:00"), utc_ns("2026-11-12T00:00:00"))
    assert ns(minute["time_utc"]) == [r[0] for r in p001 + p002]
    p001_rows = minute[minute["subject"] == ps("P001")]
    assert utc_ns("2026-11-10T03:00:00") not in ns(p001_rows["time_utc"])
    daily = read(tmp_path, "daily", "csv")
    assert list(zip(daily["subject"], daily["date_local"], strict=True)) == [
        (ps("P001"), "2026-11-10"),
        (ps("P002"), "2026-11-11"),
    ]
    sessions = read(tmp_path, "sessions", "csv")
    assert list(sessions["session"]) == [
        session_pseudonym(KEY, "P001-2026-11-11-bridge"),
        session_pseudonym(KEY, "P002-2026-11-11-bridge"),
    ]
    assert len(read(tmp_path, "repetitions", "csv")) == 4 + 2
    assert r.rows["bouts"] == 1

    out2 = tmp_path / "p2"
    r2 = export(filled, out2, key=KEY, subjects=["P002"], progress=False)
    assert r2.subjects == [ps("P002")]
    for table in TABLES:
        assert set(read(out2, table, "csv")["subject"]) <= {ps("P002")}
    assert r2.rows["daily"] == 2
    info = json.loads((out2 / "info.json").read_text())
    assert info["parameters"]["subjects"] == [ps("P002")]


def test_pseudonyms_stable_for_one_key_and_differ_across_keys(
    filled: Store, tmp_path: Path
) -> None:
    export(filled, tmp_path / "a", key=KEY, progress=False)
    export(filled, tmp_path / "b", key=KEY, fmt="parquet", progress=False)
    export(filled, tmp_path / "c", key=OTHER_KEY, progress=False)
    a = read(tmp_path / "a", "sessions", "csv")
    b = read(tmp_path / "b", "sessions", "parquet")
    c = read(tmp_path / "c", "sessions", "csv")
    assert list(a["subject"]) == list(b["subject"])
    assert list(a["session"]) == list(b["session"])
    assert not set(a["subject"]) & set(c["subject"])
    assert not set(a["session"]) & set(c["session"])
    assert set(a["subject"]) == {ps("P001"), ps("P002")}


def _decoded_bytes(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    out = [raw]
    if path.name.endswith(".gz"):
        out.append(gzip.decompress(raw))
    if path.suffix == ".parquet":
        out.append(pd.read_parquet(path).to_csv().encode())
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_serial_address_file_name_or_raw_id_in_any_exported_byte(
    filled: Store, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "out"
    result = export(filled, out, key=KEY, fmt=fmt, plans=plans(), progress=False)
    files = sorted(out.iterdir())
    assert files == sorted(result.files)
    assert len(files) == len(TABLES) + 2
    for path in files:
        for blob in _decoded_bytes(path):
            low = blob.lower()
            for bad in FORBIDDEN:
                assert bad.lower().encode() not in low, (path.name, bad)
            # MAC addresses written without colons or with dashes neither
            assert b"aabbccddeeff" not in low and b"aa-bb-cc" not in low
            assert b"12345678" not in blob


def test_gzip_header_has_no_name_or_time(filled: Store, tmp_path: Path) -> None:
    export(filled, tmp_path, key=KEY, fmt="csv.gz", progress=False)
    head = (tmp_path / "minute.csv.gz").read_bytes()[:10]
    assert head[:3] == b"\x1f\x8b\x08"
    assert head[3] == 0  # FLG: no FNAME, no FCOMMENT
    assert head[4:8] == b"\x00\x00\x00\x00"  # MTIME 0


def test_info_json(filled: Store, tmp_path: Path) -> None:
    r = export(filled, tmp_path, key=KEY, fmt="parquet", plans=plans(), progress=False)
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["format"] == "adherence-export/1"
    assert info["parameters"] == {
        "format": "parquet",
        "from": None,
        "to": None,
        "subjects": "all",
        "pseudonym": info["parameters"]["pseudonym"],
        "key_id": key_id(KEY),
        "care_plans": True,
    }
    assert {t: v["rows"] for t, v in info["tables"].items()} == r.rows
    assert r.rows == {
        "minute": len(want_minutes("P001")) + len(want_minutes("P002")),
        "daily": 5,
        "sessions": 3,
        "sets": 5,
        "repetitions": 12,
        "bouts": 2,
        "symptoms": 0,  # the plans prescribe no programme components
        "engagement": 0,
        "outcomes": 0,
        "step_count_omh": 5,
    }
    p1 = info["subjects"][ps("P001")]
    assert p1["timezone"] == "America/New_York"
    assert p1["wear_min_per_day"] == {"2026-11-09": 800, "2026-11-10": 300, "2026-11-12": 900}
    devices = {d["device"]: d for d in p1["devices"]}
    assert set(devices) == {device_pseudonym(KEY, MAC), device_pseudonym(KEY, SERIAL)}
    imu = devices[device_pseudonym(KEY, MAC)]
    assert imu["models"] == ["movesense"]
    assert [(s["stream"], s["fs_hz"], s["samples"]) for s in imu["streams"]] == [
        ("accel", 50.0, 100),
        ("gyro", 50.0, 100),
    ]
    ped = devices[device_pseudonym(KEY, SERIAL)]
    assert [(s["stream"], s["fs_hz"]) for s in ped["streams"]] == [("step_total", None)]
    p2 = info["subjects"][ps("P002")]
    assert [s["fs_hz"] for d in p2["devices"] for s in d["streams"]] == [52.0]
    modules = {a["module"]: a for a in info["algorithms"]}
    assert {"features.steps", "features.activity", "features.reps", "adherence.scoring"} <= set(
        modules
    )
    assert all(a["version"] for a in info["algorithms"])
    assert modules["adherence.pipeline"]["parameters"]["MIN_WEAR_H"] == 10.0


def test_open_mhealth_step_count(filled: Store, tmp_path: Path) -> None:
    export(filled, tmp_path, key=KEY, plans=plans(), progress=False)
    records = json.loads((tmp_path / "step-count.omh.json").read_text())
    assert len(records) == 5
    first = records[0]
    assert first["header"]["schema_id"] == {
        "namespace": "omh",
        "name": "step-count",
        "version": "3.0",
    }
    assert first["header"]["user_id"] == ps("P001")
    assert first["body"] == {
        "step_count": {"value": 5200, "unit": "steps"},
        "effective_time_frame": {
            "time_interval": {
                "start_date_time": "2026-11-09T00:00:00-05:00",
                "end_date_time": "2026-11-10T00:00:00-05:00",
            }
        },
    }
    assert records[3]["body"]["effective_time_frame"]["time_interval"]["start_date_time"] == (
        "2026-11-09T00:00:00+00:00"
    )
    assert [r["body"]["step_count"]["value"] for r in records] == [5200, 1200, 6100, 2000, 1500]
    assert len({r["header"]["id"] for r in records}) == 5


def test_without_plans_days_are_utc(filled: Store, tmp_path: Path) -> None:
    export(filled, tmp_path, key=KEY, progress=False)
    minute = read(tmp_path, "minute", "csv")
    i = ns(minute["time_utc"]).index(utc_ns("2026-11-10T03:00:00"))
    assert minute["date_local"].iloc[i] == "2026-11-10" and minute["tz"].iloc[i] == "UTC"
    assert read(tmp_path, "daily", "csv")["step_goal"].isna().all()


def test_empty_store_writes_headers(store: Store, tmp_path: Path) -> None:
    r = export(store, tmp_path, key=KEY, fmt="parquet", progress=False)
    assert r.rows["minute"] == 0
    assert list(read(tmp_path, "minute", "parquet").columns) == [
        "subject",
        "time_utc",
        "time_local",
        "tz",
        "date_local",
        "steps",
        "source",
        "wear",
    ]


def test_progress_is_shown(filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    export(filled, tmp_path, key=KEY, progress=True)
    # 2 subjects x 9 tables, and the Open mHealth file
    assert "exporting: 19/19 (100%)" in capsys.readouterr().err


class TestErrors:
    def test_bad_format(self, filled: Store, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="must be one of csv, csv.gz, parquet"):
            export(filled, tmp_path, key=KEY, fmt="xlsx")

    def test_unknown_subject_not_echoed(self, filled: Store, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="1 subject\\(s\\) not in the store"):
            export(filled, tmp_path, key=KEY, subjects=["P999"])

    def test_reversed_range(self, filled: Store, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="first day is after the last"):
            export(filled, tmp_path, key=KEY, start=dt.date(2026, 11, 2), end=dt.date(2026, 11, 1))

    def test_short_key(self, filled: Store, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="too short"):
            export(filled, tmp_path / "x", key=b"abc")
        assert not (tmp_path / "x").exists()


class TestCli:
    def test_refuses_without_key(
        self, filled: Store, tmp_path: Path, capsys: pytest.CaptureFixture
    ) -> None:
        code = main(["export", "--store", str(filled.path), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1 and "always pseudonymised" in err
        assert not (tmp_path / "o").exists()

    def test_missing_store(self, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
        key = tmp_path / "key"
        key.write_bytes(KEY)
        code = main(
            [
                "export",
                "--store",
                str(tmp_path / "nope.sqlite"),
                "--out",
                str(tmp_path / "o"),
                "--key-file",
                str(key),
            ]
        )
        assert code == 2
        assert "store not found" in capsys.readouterr().err
        assert not (tmp_path / "nope.sqlite").exists()

    def test_export_with_key_env(
        self,
        filled: Store,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture,
    ) -> None:
        monkeypatch.setenv("ADH_EXPORT_KEY", KEY.decode())
        plan_file = tmp_path / "plans.json"
        from tests.export_helpers import plans_doc

        plan_file.write_text(json.dumps(plans_doc()))
        code = main(
            [
                "export",
                "--store",
                str(filled.path),
                "--out",
                str(tmp_path / "o"),
                "--format",
                "csv.gz",
                "--from",
                "2026-11-09",
                "--to",
                "2026-11-09",
                "--subject",
                "P001",
                "--plans",
                str(plan_file),
                "--key-env",
                "ADH_EXPORT_KEY",
                "--no-progress",
            ]
        )
        assert code == 0
        assert "exported 1 subject(s)" in capsys.readouterr().out
        daily = pd.read_csv(tmp_path / "o" / "daily.csv.gz")
        assert list(daily["subject"]) == [ps("P001")]
        assert list(daily["steps"]) == [5200]


def test_demo_store_export_leaks_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The whole chain on the bundled sample data, then every format: no device id, session id,
    raw subject id or recording file name in any exported byte."""
    from adherence.cli.demo import find_sample_data, run_demo
    from adherence.plan import load_plans

    data = find_sample_data()
    assert run_demo(data, tmp_path / "demo.sqlite", progress=False) == 0
    capsys.readouterr()
    forbidden = {p.name.split(".")[0] for p in (data / "recordings").iterdir()}
    raw = sqlite3.connect(tmp_path / "demo.sqlite")  # the ids, read independently of the store
    for sql in (
        "SELECT DISTINCT device FROM frames",
        "SELECT DISTINCT session_id FROM sessions",
        "SELECT DISTINCT subject FROM frames",
    ):
        forbidden |= {r[0] for r in raw.execute(sql)}
    raw.close()
    with Store(tmp_path / "demo.sqlite") as demo:
        n_reps = demo.count("repetitions")
        for fmt in FORMATS:
            r = export(
                demo,
                tmp_path / fmt,
                key=KEY,
                fmt=fmt,
                plans=load_plans(data / "care_plans.json"),
                progress=False,
            )
            assert r.rows["repetitions"] == n_reps > 0
            for path in r.files:
                for blob in _decoded_bytes(path):
                    for bad in forbidden:
                        assert bad.encode() not in blob, (fmt, path.name, bad)
    assert {"P001", "P001-imu", "ex-P001-2026-11-09-bridge"} <= forbidden


def test_daily_cadence_figures_by_hand(filled: Store, tmp_path: Path) -> None:
    """stepcount's daily figures over the minute series. P001's 9 November in New York holds
    the pedometer's 9 minutes of 0 steps (09:00-09:08 local), the worn 100-step minute (10:00)
    and the worn 7-step minute (22:00, 03:00Z on the 10th): 11 worn minutes, one of them walking
    (>= 60 steps/min) and moderate (>= 100); peak 1-min 100; fewer than 30 worn minutes, so no
    peak-30; the 95th percentile of one walking minute is that minute."""
    export(filled, tmp_path, key=KEY, fmt="parquet", plans=plans(), progress=False)
    daily = read(tmp_path, "daily", "parquet")
    row = daily[(daily["subject"] == ps("P001")) & (daily["date_local"] == "2026-11-09")].iloc[0]
    assert (row["walking_min"], row["peak1_spm"], row["p95_spm"]) == (1, 100.0, 100.0)
    assert np.isnan(row["peak30_spm"])
    cols = list(daily.columns)
    assert cols[cols.index("active_min") + 1 : cols.index("active_min") + 5] == [
        "walking_min",
        "peak1_spm",
        "peak30_spm",
        "p95_spm",
    ]


def test_parquet_schema_carries_units_and_algorithms(filled: Store, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    export(filled, tmp_path, key=KEY, fmt="parquet", plans=plans(), progress=False)
    schema = pq.read_schema(tmp_path / "daily.parquet")
    assert schema.field("peak30_spm").metadata == {b"unit": b"steps/min"}
    assert schema.field("wear_min").metadata == {b"unit": b"min"}
    info = json.loads(schema.metadata[b"adherence"])
    assert info["table"] == "daily" and info["format"] == "adherence-export/1"
    assert info["units"]["active_min"] == "min (>= 100 steps/min)"
    modules = {a["module"] for a in info["algorithms"]}
    assert {"features.steps", "features.epochs", "adherence.scoring"} <= modules
    minute = pq.read_schema(tmp_path / "minute.parquet")
    assert str(minute.field("time_utc").type) == "timestamp[ns, tz=UTC]"
