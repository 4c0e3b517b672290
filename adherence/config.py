"""The ``adherence serve`` configuration file (TOML, read with the standard ``tomllib``).

Example (every key is described in ``docs/influxdb.md``)::

    store = "data/store.sqlite"          # relative paths are relative to this file
    care_plans = "care_plans.json"

    [scoring]
    interval_s = 300                     # rescore every 5 minutes
    lookback_days = 2                    # re-score (and re-send) today and yesterday

    [status]
    interval_s = 60                      # one status line on stderr per minute

    [[sink]]
    name = "coach-influx"
    protocol = "v1"                      # InfluxDB 1.x /write
    url = "http://127.0.0.1:8086"
    db = "rehab"
    rp = "autogen"                       # optional
    username = "writer"                  # optional; password from password_env or password_file
    password_env = "INFLUX_PASSWORD"

    [[sink]]
    name = "cloud"
    protocol = "v2"                      # InfluxDB v2 /api/v2/write via influxdb-client
    url = "https://influx.example.org"
    org = "clinic"
    bucket = "rehab"
    token_file = "/run/secrets/influx_token"

    [mqtt]                               # optional: passed to ingest.mqtt.MqttSettings(**table)
    [ble]                                # optional: passed to ingest.ble.BleSettings(**table)
    [sessions]                           # optional: live guided sessions over MQTT
    idle_timeout_s = 120                 # keys: broker, prefix, client_id (default: from [mqtt]),
                                         # idle_timeout_s, min_rest_s

Unknown keys are refused with the key named (:class:`devices.errors.ConfigError`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adherence.influx_sink import InfluxV1Sink, InfluxV2Sink, Sink
from devices.errors import ConfigError

__all__ = ["SinkConfig", "ServeConfig", "load_config", "build_sink"]

_SINK_KEYS = {
    "v1": {"db", "rp", "username", "password_env", "password_file"},
    "v2": {"org", "bucket", "token_env", "token_file"},
}
_SESSION_KEYS = {"broker", "prefix", "client_id", "idle_timeout_s", "min_rest_s"}
_SINK_COMMON = {"name", "protocol", "url", "batch_size", "backoff_max_s", "timeout_s"}


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """One InfluxDB sink. ``protocol`` is ``"v1"`` or ``"v2"``; unused fields are ``None``.

    ``batch_size`` is points per request; ``backoff_max_s`` the longest retry wait (seconds);
    ``timeout_s`` the request timeout (seconds).
    """

    name: str
    protocol: str
    url: str
    db: str | None = None
    rp: str | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    org: str | None = None
    bucket: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    batch_size: int = 500
    backoff_max_s: float = 30.0
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """The whole ``serve`` configuration (paths resolved against the file's folder).

    ``scoring_interval_s`` and ``status_interval_s`` are seconds; ``lookback_days`` is how many
    local days, ending today, each scoring round rewrites and re-sends. ``mqtt`` / ``ble`` are the
    raw collector tables (``None``: collector off).
    """

    path: Path
    store: Path
    care_plans: Path
    scoring_interval_s: float
    lookback_days: int
    status_interval_s: float
    sinks: tuple[SinkConfig, ...]
    mqtt: dict[str, Any] | None
    ble: dict[str, Any] | None
    sessions: dict[str, Any] | None = None


def _err(path: Path, key: str, why: str) -> ConfigError:
    return ConfigError("config", f"{path}: {key}", why)


def _check_keys(path: Path, where: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise _err(
                path, f"{where}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )


def _number(path: Path, key: str, value: Any, lo: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < lo:
        raise _err(path, key, f"must be a number of at least {lo}, got {value!r}")
    return float(value)


def _string(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _err(path, key, f"must be a non-empty string, got {value!r}")
    return value


def _positive_int(path: Path, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _err(path, key, f"must be a positive integer, got {value!r}")
    return value


def _sink_value(path: Path, where: str, key: str, value: Any) -> Any:
    """One checked value of a ``[[sink]]`` table."""
    if key == "batch_size":
        return _positive_int(path, f"{where}{key}", value)
    if key in ("backoff_max_s", "timeout_s"):
        return _number(path, f"{where}{key}", value, 0.1)
    return _string(path, f"{where}{key}", value)


def _sink(path: Path, i: int, raw: Any, base: Path) -> SinkConfig:
    where = f"sink[{i}]."
    if not isinstance(raw, dict):
        raise _err(path, f"sink[{i}]", "must be a table ([[sink]])")
    protocol = raw.get("protocol")
    if protocol not in _SINK_KEYS:
        raise _err(path, f"{where}protocol", f"must be 'v1' or 'v2', got {protocol!r}")
    _check_keys(path, where, raw, _SINK_COMMON | _SINK_KEYS[protocol])
    for key in ("name", "url", *(("db",) if protocol == "v1" else ("org", "bucket"))):
        if key not in raw:
            raise _err(path, f"{where}{key}", "is required")
    values = {key: _sink_value(path, where, key, value) for key, value in raw.items()}
    for key in ("password_file", "token_file"):
        if key in values:
            values[key] = str(base / values[key])
    return SinkConfig(**values)


def _read_toml(p: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("config", str(p), f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("config", str(p), f"not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", str(p), f"not valid TOML: {exc}") from exc


def _check_tables(p: Path, doc: dict[str, Any]) -> None:
    """Top-level keys known, required ones present, sections tables with known keys."""
    _check_keys(
        p, "", doc, {"store", "care_plans", "scoring", "status", "sink", "mqtt", "ble", "sessions"}
    )
    for key in ("store", "care_plans"):
        if key not in doc:
            raise _err(p, key, "is required")
    for name, keys in (
        ("scoring", {"interval_s", "lookback_days"}),
        ("status", {"interval_s"}),
        ("mqtt", None),
        ("ble", None),
        ("sessions", _SESSION_KEYS),
    ):
        table = doc.get(name, {})
        if not isinstance(table, dict):
            raise _err(p, name, "must be a table")
        if keys is not None:
            _check_keys(p, f"{name}.", table, keys)


def _sinks(p: Path, doc: dict[str, Any], base: Path) -> tuple[SinkConfig, ...]:
    sinks_raw = doc.get("sink", [])
    if not isinstance(sinks_raw, list):
        raise _err(p, "sink", "must be an array of tables ([[sink]])")
    sinks = tuple(_sink(p, i, raw, base) for i, raw in enumerate(sinks_raw))
    names = [s.name for s in sinks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _err(p, f"sink[{i}].name", f"duplicate sink name {name!r}")
    return sinks


def load_config(path: str | Path) -> ServeConfig:
    """Read and validate a serve configuration file.

    Raises
    ------
    ConfigError
        Naming the file and the key, if the file is unreadable, not TOML, or a key is wrong.
    """
    p = Path(path)
    doc = _read_toml(p)
    _check_tables(p, doc)
    base = p.resolve().parent
    scoring = doc.get("scoring", {})
    status = doc.get("status", {})
    lookback = _positive_int(p, "scoring.lookback_days", scoring.get("lookback_days", 2))
    sinks = _sinks(p, doc, base)
    return ServeConfig(
        path=p,
        store=base / _string(p, "store", doc["store"]),
        care_plans=base / _string(p, "care_plans", doc["care_plans"]),
        scoring_interval_s=_number(p, "scoring.interval_s", scoring.get("interval_s", 300), 0.1),
        lookback_days=lookback,
        status_interval_s=_number(p, "status.interval_s", status.get("interval_s", 60), 0.1),
        sinks=sinks,
        mqtt=doc.get("mqtt"),
        ble=doc.get("ble"),
        sessions=doc.get("sessions"),
    )


def build_sink(cfg: SinkConfig) -> Sink:
    """The sink object for one configured sink (reads its password or token now)."""
    if cfg.protocol == "v1":
        assert cfg.db is not None
        return InfluxV1Sink(
            cfg.url,
            cfg.db,
            cfg.rp,
            cfg.username,
            cfg.password_env,
            cfg.password_file,
            timeout_s=cfg.timeout_s,
            name=cfg.name,
        )
    assert cfg.bucket is not None
    return InfluxV2Sink(
        cfg.url,
        cfg.org or "",
        cfg.bucket,
        cfg.token_env,
        cfg.token_file,
        timeout_s=cfg.timeout_s,
        name=cfg.name,
    )
