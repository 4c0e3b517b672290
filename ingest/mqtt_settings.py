"""Settings of the MQTT collector (configuration is data: one frozen dataclass)."""

from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devices.errors import ConfigError

_GROUP = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def positive_number(text: str) -> float:
    """argparse ``type=`` for a rate (Hz) or duration (s): a finite number > 0.

    ``float("nan")`` and ``float("inf")`` parse, so ``float`` alone lets them through.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How to reach the broker and what to collect.

    Attributes
    ----------
    broker:
        ``mqtt://host:port`` (plain TCP, default port 1883) or ``mqtts://host:port`` (TLS, 8883).
    prefix:
        Topic prefix; the collector subscribes to ``<prefix>/+/+/+/+``.
    client_id:
        Fixed client id: the broker keeps this collector's session (queued messages) under it.
    group:
        Shared-subscription group: several collectors with the same group and different client
        ids split the messages (``$share/<group>/...``). ``None`` for a single collector.
    session_expiry_s:
        How long the broker keeps the session and queues messages while the collector is
        offline, in seconds. Keep it short for group members (a dead member's queue is not
        handed to the others).
    username, password_env, password_file:
        Credentials. The password is read from the environment variable ``password_env`` or
        the first line of ``password_file``, never given directly.
    tls_ca, tls_cert, tls_key:
        CA bundle (default: system CAs) and an optional client certificate and key (PEM paths).
    max_payload_bytes:
        Larger payloads are dead-lettered (their first ``max_payload_bytes`` bytes kept).
    receive_maximum:
        MQTT 5 Receive Maximum: unacknowledged messages the broker may have in flight to us.
    batch_max:
        Most messages committed in one store transaction.
    queue_max:
        Most received messages waiting for the consumer (memory bound); when full, the network
        thread waits, so a faster publisher is held back by TCP flow control.
    reorder_timeout_s:
        How long a missing sequence number is waited for (s) before a gap is recorded.
    keepalive_s:
        MQTT keep-alive interval, s.
    receipts:
        Publish receipts to the devices of what was committed
        (``<prefix>/<site>/<subject>/<device>/receipt``, ``docs/mqtt.md``); the broker's ACL
        must let the collector write them.
    receipt_interval_s:
        Receipts go out at most this often, s, each naming what a device had committed since
        its last one: fewer, larger receipts (one per device per interval, not per batch), so
        they add little to the broker's load; a device waits this much longer for them.
    """

    broker: str
    prefix: str = "adh"
    client_id: str = "adherence-collector"
    group: str | None = None
    session_expiry_s: int = 3600
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    max_payload_bytes: int = 256 * 1024
    receive_maximum: int = 1000
    batch_max: int = 1000
    queue_max: int = 2000
    reorder_timeout_s: float = 5.0
    keepalive_s: int = 30
    receipts: bool = True
    receipt_interval_s: float = 2.0

    def __post_init__(self) -> None:
        self._check_broker()
        self._check_names()
        self._check_numbers()

    def _check_broker(self) -> None:
        parts = urlsplit(self.broker)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(
                "setting",
                "broker",
                f"must be mqtt://host:port or mqtts://host:port, got {self.broker!r}",
            )
        try:
            _ = parts.port
        except ValueError as exc:
            raise ConfigError("setting", "broker", f"bad port in {self.broker!r}") from exc
        if parts.password:
            raise ConfigError(
                "setting", "broker", "no password in the URL; use password_env or password_file"
            )

    def _check_names(self) -> None:
        if not self.prefix or "+" in self.prefix or "#" in self.prefix:
            raise ConfigError(
                "setting", "prefix", f"must be a plain topic prefix, got {self.prefix!r}"
            )
        if not _CLIENT_ID.match(self.client_id):
            raise ConfigError("setting", "client_id", f"invalid client id {self.client_id!r}")
        if self.group is not None and not _GROUP.match(self.group):
            raise ConfigError("setting", "group", f"invalid group name {self.group!r}")
        if self.password_env and self.password_file:
            raise ConfigError("setting", "password", "give password_env or password_file, not both")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("setting", "tls_cert", "a client certificate needs its key, and back")

    def _check_numbers(self) -> None:
        for name, low in (
            ("session_expiry_s", 0),
            ("max_payload_bytes", 64),
            ("receive_maximum", 1),
            ("batch_max", 1),
            ("queue_max", 1),
            ("keepalive_s", 5),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError("setting", name, f"must be an integer >= {low}, got {value!r}")
        if self.receive_maximum > 65535:
            raise ConfigError("setting", "receive_maximum", "must be <= 65535")
        if not (isinstance(self.reorder_timeout_s, int | float) and self.reorder_timeout_s > 0):
            raise ConfigError("setting", "reorder_timeout_s", "must be > 0")
        for name in ("reorder_timeout_s", "receipt_interval_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError("setting", name, f"must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ConfigError("setting", name, f"must be finite and > 0, got {value!r}")

    @property
    def host(self) -> str:
        """Broker host name or address."""
        return str(urlsplit(self.broker).hostname)

    @property
    def port(self) -> int:
        """Broker TCP port (1883 for mqtt://, 8883 for mqtts:// unless given)."""
        parts = urlsplit(self.broker)
        return parts.port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        """True for ``mqtts://``."""
        return urlsplit(self.broker).scheme == "mqtts"

    @property
    def url_username(self) -> str | None:
        """A user name given in the URL (``mqtt://user@host``), if any."""
        return urlsplit(self.broker).username

    def password(self) -> str | None:
        """Read the password from the environment variable or file; None if neither is set."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    "setting",
                    "password_env",
                    f"environment variable {self.password_env} is not set",
                )
            return value
        if self.password_file:
            try:
                text = Path(self.password_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    "setting", "password_file", f"cannot read {self.password_file}: {exc.strerror}"
                ) from exc
            except UnicodeDecodeError as exc:
                why = f"{self.password_file} is not UTF-8 text (byte {exc.start})"
                raise ConfigError("setting", "password_file", why) from exc
            lines = text.splitlines()
            return lines[0] if lines else ""
        return None

    def subscription(self) -> str:
        """Topic filter to subscribe to (with ``$share/<group>/`` for a shared group)."""
        base = f"{self.prefix.rstrip('/')}/+/+/+/+"
        return f"$share/{self.group}/{base}" if self.group else base
