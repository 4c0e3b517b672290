"""Options shared by several ``adherence`` commands, and the help format every parser uses.

Only the standard library is imported here: building the parser must stay cheap (``adherence
--help`` imports no numpy, pandas, paho, bleak or influxdb-client; ``tests/test_cli.py`` checks).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

__all__ = [
    "HelpFormatter",
    "RawHelpFormatter",
    "SubParsers",
    "add_command",
    "add_dates",
    "add_mqtt_client",
    "add_plans",
    "add_store",
    "add_today",
    "iso_date",
    "mqtt_settings",
    "open_existing_store",
]

# The object ``add_subparsers()`` returns: where commands are added.
if TYPE_CHECKING:
    from ingest.mqtt_settings import MqttSettings
    from ingest.store import Store

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every parser's help format: every option shows its default.

    An on/off flag shows ``(default: off)``: its stored value (``True`` for a ``--no-...``
    flag) would read as the opposite of what it means.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
            return f"{action.help} (default: off)"
        return super()._get_help_string(action)


class RawHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """As :class:`HelpFormatter`, and the description keeps its line breaks."""


def add_command(
    sub: SubParsers,
    name: str,
    help_text: str,
    description: str | None = None,
    *,
    raw_description: bool = False,
) -> argparse.ArgumentParser:
    """Add one command (or group) to ``sub`` with the shared help format."""
    return sub.add_parser(
        name,
        help=help_text,
        description=description or help_text,
        formatter_class=RawHelpFormatter if raw_description else HelpFormatter,
    )


def iso_date(text: str) -> dt.date:
    """Parse a local calendar day written ``YYYY-MM-DD`` (an argparse ``type=``).

    >>> iso_date("2026-11-22")
    datetime.date(2026, 11, 22)
    >>> iso_date("22.11.2026")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: not a date YYYY-MM-DD: '22.11.2026'
    """
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def add_store(
    p: argparse.ArgumentParser, *, default: Path | None = None, required: bool = False
) -> None:
    """``--store PATH``: the embedded store (one SQLite file)."""
    p.add_argument(
        "--store",
        type=Path,
        default=default,
        required=required,
        metavar="PATH",
        help="the store file (SQLite)",
    )


def open_existing_store(path: Path) -> Store:
    """Open a store that must already exist (a typo must not create an empty store)."""
    from devices.errors import DataFileError
    from ingest.store import Store

    if not path.is_file():
        raise DataFileError(str(path), "store not found")
    return Store(path, create=False)  # refuses a file that is not an adherence store


def add_plans(
    p: argparse.ArgumentParser, *, required: bool = False, help_text: str = "care plans (JSON)"
) -> None:
    """``--plans FILE``: the care plans (see ``docs/care_plan.md``)."""
    p.add_argument("--plans", type=Path, required=required, metavar="FILE", help=help_text)


def add_dates(p: argparse.ArgumentParser) -> None:
    """``--from DATE`` and ``--to DATE`` (local days, inclusive) into ``start`` and ``end``."""
    p.add_argument("--from", dest="start", type=iso_date, metavar="DATE", help="first local day")
    p.add_argument("--to", dest="end", type=iso_date, metavar="DATE", help="last local day")


def add_today(p: argparse.ArgumentParser) -> None:
    """``--today DATE``: score as of this local day instead of the wall clock's."""
    p.add_argument(
        "--today",
        type=iso_date,
        metavar="DATE",
        help="score as if today were DATE (None: today in each plan's time zone)",
    )


def add_mqtt_client(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, client_id: str, *, client_cert: bool
) -> None:
    """Topic prefix, client id and credentials of an MQTT client (see ``docs/mqtt.md``).

    Passwords come only from a variable or a file, never from the command line.
    """
    p.add_argument("--prefix", default="adh", help="topic prefix")
    p.add_argument("--client-id", default=client_id, help="MQTT client id")
    p.add_argument("--username", help="MQTT user name")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="read the password from this variable")
    pw.add_argument("--password-file", metavar="PATH", help="read the password from this file")
    p.add_argument(
        "--tls-ca", metavar="PEM", help="CA bundle for mqtts:// (None: the system's bundle)"
    )
    if client_cert:
        p.add_argument("--tls-cert", metavar="PEM", help="client certificate")
        p.add_argument("--tls-key", metavar="PEM", help="client key")


_MQTT_CLIENT_OPTIONS = (
    "prefix client_id username password_env password_file tls_ca tls_cert tls_key"
)
"""The settings :func:`add_mqtt_client` adds, by their ``argparse`` destination names."""


def mqtt_settings(args: argparse.Namespace, broker: str, **extra: object) -> MqttSettings:
    """The :class:`ingest.mqtt_settings.MqttSettings` of the options :func:`add_mqtt_client` added.

    ``extra`` are further settings fields (``group``, ``session_expiry_s``, ...).
    """
    from ingest.mqtt_settings import MqttSettings

    client = {name: getattr(args, name, None) for name in _MQTT_CLIENT_OPTIONS.split()}
    return MqttSettings(broker=broker, **client, **extra)  # type: ignore[arg-type]
