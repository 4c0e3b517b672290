"""Helpers for the InfluxDB delivery tests: stricter servers, read-back, a killable sender.

Run as a program (``python -m tests.influx_helpers STORE SINK KIND URL TARGET BATCH``), it drains
one sink's outbox forever: the SIGKILL test starts it in a subprocess and kills it mid-drain.
"""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from adherence.influx_schema import line
from adherence.influx_sink import InfluxV1Sink, InfluxV2Sink, Sink
from adherence.outbox import OutboxSender
from ingest.store import Store
from tests.services import InfluxDB16, VictoriaMetrics

HOUR_NS = 3600 * 10**9
#: 2025-01-01T00:00Z in ns: synthetic points are one per hour from here (distinct ms timestamps,
#: in the past: VictoriaMetrics drops samples from more than two days ahead).
T0_NS = 1_735_689_600 * 10**9


class StrictVictoriaMetrics(VictoriaMetrics):
    """VictoriaMetrics refusing line-protocol lines longer than 4096 bytes (HTTP 400).

    Stock VictoriaMetrics accepts nearly anything; a short ``-influx.maxLineSize`` gives the
    tests a real server-side refusal of one point. Measured on 1.79.5: the check is made per
    64 KiB read, so a line of 70 kB or more is refused wherever it sits in a request, while a
    5 kB line is refused only when alone.
    """

    def command(self) -> list[str]:
        return [*super().command(), "-influx.maxLineSize=4096"]


class AuthInfluxDB16(InfluxDB16):
    """InfluxDB 1.6.7 with HTTP authentication on; :meth:`make_admin` creates the user."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        text = self.conf.read_text().replace(
            "[http]\n  enabled = true\n", "[http]\n  enabled = true\n  auth-enabled = true\n"
        )
        assert "auth-enabled = true" in text
        self.conf.write_text(text)

    def make_admin(self, user: str, password: str) -> None:
        self.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES")

    def query_as(self, user: str, password: str, q: str, db: str | None = None) -> dict[str, Any]:
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        req = urllib.request.Request(
            f"{self.url}/query",
            data=urllib.parse.urlencode(params).encode(),
            headers={"Authorization": f"Basic {auth}"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            result: dict[str, Any] = json.loads(r.read())
            return result


def influx_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the first statement of an InfluxQL answer as dicts (``time`` in ns)."""
    out: list[dict[str, Any]] = []
    for series in result["results"][0].get("series", []):
        tags = series.get("tags", {})
        for values in series["values"]:
            out.append({**tags, **dict(zip(series["columns"], values, strict=True))})
    return out


def vm_samples(
    vm: VictoriaMetrics, metric: str
) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    """Samples of ``metric`` per label set, as (timestamp ms, value), from the export API."""
    out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for series in vm.export(f'{{__name__="{metric}"}}'):
        labels = series["metric"]
        assert isinstance(labels, dict)
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
        ts = series["timestamps"]
        vals = series["values"]
        assert isinstance(ts, list) and isinstance(vals, list)
        out.setdefault(key, []).extend(zip(ts, vals, strict=True))
    return {k: sorted(v) for k, v in out.items()}


def synthetic_lines(n: int, subjects: int = 5) -> list[str]:
    """``n`` points of measurement ``t`` with integer field ``v`` = index, one hour apart per
    subject: point ``i`` belongs to subject ``S{i % subjects}`` at hour ``i // subjects``."""
    out = []
    for i in range(n):
        text = line(
            "t", {"subject": f"S{i % subjects}"}, {"v": i}, T0_NS + (i // subjects) * HOUR_NS
        )
        assert text is not None
        out.append(text)
    return out


def make_sink(kind: str, url: str, target: str) -> Sink:
    """A v1 sink (``target`` = database) or a v2 sink (``target`` = bucket)."""
    if kind == "v1":
        return InfluxV1Sink(url, target)
    return InfluxV2Sink(url, "org", target)


def main(argv: list[str]) -> int:
    store_path, sink_name, kind, url, target, batch = argv
    store = Store(store_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sender = OutboxSender(
        store, sink_name, make_sink(kind, url, target), batch_size=int(batch), backoff_max_s=0.5
    )
    print("started", flush=True)
    sender.run(stop)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
