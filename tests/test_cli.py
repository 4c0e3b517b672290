"""The command line as a package: cheap to build, every option's default shown, shared options."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adherence.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
HEAVY = (
    *("numpy", "scipy", "pandas", "pyarrow", "paho", "bleak", "influxdb_client", "dbus_fast"),
    *("dask", "distributed"),
)


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every parser below it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found.extend(_subparsers(child))
    return found


def test_building_the_parser_imports_no_heavy_library() -> None:
    code = (
        "import sys, adherence.cli as c; c.build_parser(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_every_parser_shows_every_default() -> None:
    parsers = _subparsers(build_parser())
    # adherence, collect, simulate, demo, export, report, score, serve, session, and the four
    # sources collect/simulate x mqtt/ble.
    assert len(parsers) == 13
    for p in parsers:
        assert isinstance(p._get_formatter(), argparse.ArgumentDefaultsHelpFormatter), p.prog
        for action in p._actions:
            if action.option_strings and action.default is not argparse.SUPPRESS:
                assert action.help, f"{p.prog} {action.option_strings[0]} has no help text"


def test_collect_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["collect", "mqtt", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--store PATH the store file (SQLite) (default: adherence.sqlite)" in out
    assert "--session-expiry S session expiry, s (default: 3600)" in out
    assert "--quiet no status line (default: off)" in out


def test_shared_date_option_parses_every_command_alike() -> None:
    parser = build_parser()
    for argv in (
        ["score", "--store", "s", "--plans", "p", "--from", "2026-11-09", "--to", "2026-11-22"],
        ["export", "--store", "s", "--out", "o", "--from", "2026-11-09", "--to", "2026-11-22"],
    ):
        args = parser.parse_args(argv)
        assert (args.start, args.end) == (dt.date(2026, 11, 9), dt.date(2026, 11, 22))
        assert args.store == Path("s")


def test_a_bad_date_is_one_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--store", "s", "--plans", "p", "--today", "22.11.2026"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "adherence report: error: argument --today: not a date YYYY-MM-DD: '22.11.2026'"
    )


def test_choices_copied_for_a_cheap_parser_match_the_library() -> None:
    from adherence.cli import ble as ble_cli
    from adherence.cli import export as export_cli
    from adherence.export import FORMATS

    assert export_cli.FORMATS == FORMATS
    ble_sim = pytest.importorskip("ingest.ble_sim")
    assert ble_cli.PROFILES == ble_sim.PROFILES


def test_session_and_collect_read_the_mqtt_options_alike() -> None:
    from adherence.cli.options import mqtt_settings

    parser = build_parser()
    client = ["--prefix", "p", "--client-id", "c", "--username", "u", "--password-env", "PW"]
    s_args = parser.parse_args(["session", "--mqtt", "mqtt://h:1883", *client])
    c_args = parser.parse_args(["collect", "mqtt", "--broker", "mqtt://h:1883", *client])
    session = mqtt_settings(s_args, s_args.mqtt)
    collect = mqtt_settings(c_args, c_args.broker)
    assert session == collect
    got = (session.broker, session.prefix, session.client_id, session.username)
    assert got == ("mqtt://h:1883", "p", "c", "u")
    assert (session.password_env, session.tls_ca, session.tls_cert) == ("PW", None, None)
