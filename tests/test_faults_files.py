"""Issue 14 cases 6, 7 and 8: the store trusts only its own files, health data is private, and
bad input to a command is one line on stderr with exit 2 (never a traceback).

Every command is run as a user would: ``adherence.cli.main([...])``.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from adherence.cli import main
from devices.files import private_dir, write_private
from ingest.errors import StoreError
from ingest.store import APPLICATION_ID, SCHEMA_VERSION, Store

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
PLANS = SAMPLE / "care_plans.json"


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command ``argv``: it must exit 2 with one error line on stderr, returned."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The careless default umask 022 (files 0644) for the duration of a test."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- case 6: the store trusts only its own files ------------------------------------------------
def _foreign_sqlite(path: Path) -> bytes:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO customers (name) VALUES ('Ada')")
    db.commit()
    db.close()
    return path.read_bytes()


def _read_command(command: str, store: Path, tmp_path: Path) -> list[str]:
    """The argv of a command that reads ``store``: its outputs go under ``tmp_path``
    (``x`` for the export, ``r.html`` for the report)."""
    key = write_private(tmp_path / "key", "k" * 32)
    outputs = {
        "score": [],
        "export": ["--out", str(tmp_path / "x"), "--key-file", str(key)],
        "report": ["--out", str(tmp_path / "r.html")],
    }[command]
    plans = [] if command == "export" else ["--plans", str(PLANS)]
    return [command, "--store", str(store), *plans, *outputs]


@pytest.mark.parametrize("command", ["score", "export", "report"])
def test_read_commands_refuse_a_foreign_sqlite_file_untouched(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "crm.sqlite"
    before = _foreign_sqlite(foreign)
    line = _refused(_read_command(command, foreign, tmp_path), capsys)
    assert "not an adherence store: an SQLite file of another program (tables: customers)" in line
    assert foreign.read_bytes() == before  # not a byte written into it
    assert not (tmp_path / "x").exists() and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("command", ["score", "export", "report"])
def test_read_commands_refuse_a_missing_store_and_create_nothing(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "no" / "such" / "typo.sqlite"
    line = _refused(_read_command(command, typo, tmp_path), capsys)
    assert str(typo) in line and ("missing" in line or "not found" in line)
    assert not (tmp_path / "no").exists()


def test_store_refuses_another_application_id_and_an_empty_file(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("PRAGMA application_id=1234")
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="application_id 0x4d2, ours 0x41444831"):
        Store(other)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(StoreError, match="an empty file"):
        Store(empty, create=False)
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database at all, just some text long enough to be a header" * 2)
    with pytest.raises(StoreError, match="cannot open"):
        Store(text, create=False)


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    """A file as version 1 wrote it (no application id, no mqtt_events, no dead-letter id)."""
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    for ddl in (
        "CREATE TABLE frames (id INTEGER PRIMARY KEY, subject TEXT)",
        "CREATE TABLE gaps (id INTEGER PRIMARY KEY)",
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY)",
        "CREATE TABLE dead_letter (id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL,"
        " source TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB,"
        " context TEXT NOT NULL DEFAULT '{}')",
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY)",
        "INSERT INTO dead_letter (received_ns, source, reason) VALUES (1, 'mqtt:a', 'old')",
        "PRAGMA user_version=1",
    ):
        db.execute(ddl)
    db.commit()
    db.close()
    with Store(path, create=False) as s:
        assert [d.reason for d in s.dead_letters()] == ["old"]
        assert s.dead_letter("mqtt:b", "new", b"x", ident="abc") > 0
        assert s.dead_letter("mqtt:b", "new", b"x", ident="abc") == 0
        assert s.count("mqtt_events") == 0
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    db.close()


# -- case 7: health data is private whatever the umask ---------------------------------------
def test_store_and_its_wal_and_shm_are_0600_in_0700_folders(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "new" / "deeper" / "store.sqlite"
    with Store(path) as s:
        s.dead_letter("test", "why", b"payload")
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert p.exists() and _mode(p) == 0o600, p
    assert _mode(tmp_path / "new") == 0o700 and _mode(tmp_path / "new" / "deeper") == 0o700


def test_a_store_copied_0644_becomes_private_when_opened(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "store.sqlite"
    Store(path).close()
    path.chmod(0o644)
    Store(path, create=False).close()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_export_files_and_report_are_0600(
    fmt: str, tmp_path: Path, open_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.sqlite"
    Store(store).close()
    key = write_private(tmp_path / "key", "k" * 32)
    out = tmp_path / "exports" / "run1"
    argv = ["export", "--store", str(store), "--out", str(out), "--key-file", str(key)]
    assert main([*argv, "--format", fmt, "--no-progress"]) == 0
    files = sorted(out.iterdir())
    assert len(files) >= 3
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(out) == 0o700 and _mode(tmp_path / "exports") == 0o700
    report = tmp_path / "reports" / "r.html"
    argv = ["report", "--store", str(store), "--plans", str(PLANS), "--out", str(report)]
    assert main([*argv, "--today", "2026-11-22"]) == 0
    assert _mode(report) == 0o600 and _mode(report.parent) == 0o700


def test_private_dir_leaves_existing_folders_alone(tmp_path: Path, open_umask: None) -> None:
    tmp_path.chmod(0o755)
    private_dir(tmp_path / "a" / "b")
    assert _mode(tmp_path) == 0o755
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700


# -- case 8: one line, exit 2 -----------------------------------------------------------------
LATIN1 = "Pl\xe4ne f\xfcr Patientin".encode("latin-1")  # 0xe4 is not valid UTF-8 here


def test_non_utf8_care_plan_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plans = tmp_path / "plans.json"
    head = b'{"note": "'
    plans.write_bytes(head + LATIN1 + b'"}')
    bad_at = len(head) + len(b"Pl")  # the first non-UTF-8 byte
    store = tmp_path / "store.sqlite"
    Store(store).close()
    for argv in (
        ["score", "--store", str(store), "--plans", str(plans)],
        ["report", "--store", str(store), "--plans", str(plans), "--out", str(tmp_path / "r.html")],
    ):
        line = _refused(argv, capsys)
        assert str(plans) in line and f"not UTF-8 text (byte {bad_at})" in line


def test_non_utf8_serve_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "serve.toml"
    head = b'store = "'
    cfg.write_bytes(head + LATIN1 + b'"\n')
    line = _refused(["serve", "--config", str(cfg)], capsys)
    assert str(cfg) in line and f"not UTF-8 text (byte {len(head) + 2})" in line


def test_non_utf8_password_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pw = tmp_path / "pw"
    pw.write_bytes(LATIN1)
    argv = [
        "collect",
        "mqtt",
        "--broker",
        "mqtt://127.0.0.1:1",
        "--store",
        str(tmp_path / "s.sqlite"),
    ]
    line = _refused([*argv, "--username", "u", "--password-file", str(pw)], capsys)
    assert str(pw) in line and "is not UTF-8 text (byte 2)" in line


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "0", "fast"])
def test_simulate_rate_must_be_a_finite_positive_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "mqtt", "--broker", "mqtt://127.0.0.1:1", "--rate", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith(
        f"argument --rate: must be a finite number > 0, got {value!r}"
    ) or (
        value == "fast" and err.splitlines()[-1].endswith("argument --rate: not a number: 'fast'")
    )


def test_from_after_to_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store.sqlite"
    Store(store).close()
    argv = ["score", "--store", str(store), "--plans", str(PLANS)]
    line = _refused([*argv, "--from", "2026-11-20", "--to", "2026-11-10"], capsys)
    assert "2026-11-20..2026-11-10" in line and "the first day is after the last" in line
