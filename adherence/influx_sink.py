"""InfluxDB sinks: one synchronous write of line protocol, success or a classified SinkError.

Two protocols:

* :class:`InfluxV1Sink` - the InfluxDB 1.x HTTP API, ``POST /write?db=&rp=&precision=n`` with basic
  auth (stdlib ``urllib``). The 1.x API takes basic auth or ``u``/``p`` query parameters
  (https://docs.influxdata.com/influxdb/v1/api/write/); influxd 1.6.7 answers the v2
  ``Token user:pass`` header with 401 (measured on influxd 1.6.7, the server the tests run).
* :class:`InfluxV2Sink` - the InfluxDB v2 API ``/api/v2/write`` through the stock influxdb-client,
  ``WriteApi`` in SYNCHRONOUS mode with ``retries=False``: no batching (batched points are only
  flushed by ``close()``, so an exit or a kill loses them: the client's README, "Writes", and
  https://github.com/influxdata/influxdb-client-python/issues/504), no retries in the client (the
  outbox retries, durably).

Contract of a sink (:class:`Sink`): ``write(lines)`` sends all lines in one request and returns
only when the server answered 2xx; otherwise it raises :class:`adherence.errors.SinkError`:

==========================  ===========  ================================================
answer                      permanent    what the outbox sender does
==========================  ===========  ================================================
400, 422 (bad line)         True         split the batch; a single bad line is dead-lettered
413 (too large)             True         split the batch; a single line is dead-lettered
401, 403 (credentials)      False        retry with backoff, reported loudly (``config``)
404 (no such db/bucket)     False        retry with backoff, reported loudly (``config``)
429, 5xx, network errors    False        retry with capped backoff (``Retry-After`` honoured)
==========================  ===========  ================================================

401/403/404 are configuration problems, not problems of the points: dead-lettering would throw
away the whole backlog because of a typo in the configuration, so they are retried until the
configuration is fixed (see ``docs/influxdb.md``).
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from adherence.errors import SinkError
from devices.errors import ConfigError

__all__ = ["Sink", "InfluxV1Sink", "InfluxV2Sink", "classify", "read_secret"]

#: Statuses whose batch is split and whose single line is dead-lettered.
LINE_ERRORS = frozenset({400, 413, 422})
#: Statuses that mean the configuration is wrong: retried, but reported as configuration errors.
CONFIG_ERRORS = frozenset({401, 403, 404})


class Sink(Protocol):
    """What the outbox sender needs from a sink."""

    name: str

    def write(self, lines: Sequence[str]) -> None:
        """Send ``lines`` (line protocol, ns timestamps) in one request; raise SinkError if not 2xx."""

    def close(self) -> None:
        """Release connections."""


def classify(
    sink: str, status: int | None, body: str, retry_after_s: float | None = None
) -> SinkError:
    """Turn an HTTP status (``None``: no answer) and body into a :class:`SinkError`."""
    text = " ".join(body.split())[:300]
    if status is None:
        err = SinkError(sink, f"no answer: {text}", status=None, permanent=False)
    elif status in LINE_ERRORS:
        err = SinkError(sink, f"HTTP {status}: {text}", status=status, permanent=True)
    elif status in CONFIG_ERRORS:
        err = SinkError(
            sink, f"HTTP {status} (check the configuration): {text}", status=status, permanent=False
        )
    else:
        err = SinkError(sink, f"HTTP {status}: {text}", status=status, permanent=False)
    err.context["retry_after_s"] = retry_after_s
    return err


def _retry_after(value: str | None) -> float | None:
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def read_secret(*, env: str | None, file: str | Path | None, what: str) -> str | None:
    """A secret from an environment variable or a file (stripped), or ``None`` if neither given.

    Raises
    ------
    ConfigError
        If the named variable is unset or the file cannot be read.
    """
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(what, f"${env}", "environment variable is not set")
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(what, str(file), f"cannot read: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(what, str(file), f"not UTF-8 text (byte {exc.start})") from exc
    return None


class InfluxV1Sink:
    """InfluxDB 1.x ``/write`` endpoint with basic auth.

    Parameters
    ----------
    url:
        Base URL, e.g. ``http://127.0.0.1:8086``.
    db, rp:
        Database and retention policy (``rp=None``: the database's default).
    username, password_env, password_file:
        Basic-auth user and where its password comes from (none: no auth).
    timeout_s:
        Socket timeout per request, seconds.
    name:
        Name used in errors and status.

    Notes
    -----
    Timestamps are nanoseconds: ``precision=n``. (Never ``us``: 1.6.7 silently reads it as ns,
    measured; the 1.x spellings are ``n``, ``u``, ``ms``, ``s``, ``m``, ``h``:
    https://docs.influxdata.com/influxdb/v1/api/write/.)
    """

    def __init__(
        self,
        url: str,
        db: str,
        rp: str | None = None,
        username: str | None = None,
        password_env: str | None = None,
        password_file: str | Path | None = None,
        *,
        timeout_s: float = 10.0,
        name: str = "influxdb-v1",
    ) -> None:
        if not db:
            raise ConfigError("sink", name, "db is required for the v1 protocol")
        self.name = name
        params = {"db": db, "precision": "n"}
        if rp:
            params["rp"] = rp
        self._url = url.rstrip("/") + "/write?" + urllib.parse.urlencode(params)
        self._timeout_s = timeout_s
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if username:
            password = read_secret(env=password_env, file=password_file, what="influxdb password")
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def write(self, lines: Sequence[str]) -> None:
        """POST the lines; return on 2xx, else raise :class:`SinkError`."""
        if not lines:
            return
        req = urllib.request.Request(
            self._url, data="\n".join(lines).encode(), headers=self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self._timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise classify(
                self.name, exc.code, body, _retry_after(exc.headers.get("Retry-After"))
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise classify(self.name, None, str(getattr(exc, "reason", exc))) from exc

    def close(self) -> None:
        """Nothing to release (one connection per request)."""


class InfluxV2Sink:
    """InfluxDB v2 ``/api/v2/write`` through influxdb-client, synchronous, no client retries.

    Parameters
    ----------
    url, org, bucket:
        Server, organisation and bucket.
    token_env, token_file:
        Where the API token comes from (an environment variable name or a file path).
    timeout_s:
        Request timeout, seconds.
    name:
        Name used in errors and status.
    """

    def __init__(
        self,
        url: str,
        org: str,
        bucket: str,
        token_env: str | None = None,
        token_file: str | Path | None = None,
        *,
        timeout_s: float = 10.0,
        name: str = "influxdb-v2",
    ) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        if not bucket:
            raise ConfigError("sink", name, "bucket is required for the v2 protocol")
        self.name = name
        self.bucket = bucket
        self.org = org
        token = read_secret(env=token_env, file=token_file, what="influxdb token") or ""
        self._client = InfluxDBClient(
            url=url, token=token, org=org, timeout=int(timeout_s * 1000), retries=False
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str]) -> None:
        """Write the lines in one request; return on 2xx, else raise :class:`SinkError`."""
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        if not lines:
            return
        try:
            self._write.write(
                bucket=self.bucket,
                org=self.org,
                record=list(lines),
                write_precision=cast(Any, WritePrecision.NS),
            )
        except ApiException as exc:
            body = (
                exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
            )
            headers: Any = exc.headers or {}
            raise classify(
                self.name, exc.status, body, _retry_after(headers.get("Retry-After"))
            ) from exc
        except (Urllib3Error, OSError) as exc:
            raise classify(self.name, None, str(exc)) from exc

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()
