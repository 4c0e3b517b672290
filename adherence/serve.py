"""``adherence serve``: collectors, scoring and InfluxDB delivery from one configuration file.

One process, several threads around one :class:`ingest.store.Store`:

* a collector thread per configured collector (``[mqtt]``, ``[ble]``), each held through the
  :class:`ingest.collector.Collector` protocol (``collect(stop)``, ``status_text()``), and one
  for the live-session service (``[sessions]``);
* one :class:`adherence.outbox.OutboxSender` thread per ``[[sink]]``;
* the main thread: rescoring every ``scoring.interval_s`` (the last ``lookback_days`` local days
  of each plan, queued to every sink) and one status line on stderr every ``status.interval_s``
  (backlog per sink, last error, frames stored).

SIGTERM or SIGINT sets a stop event; every thread finishes its current step and the store is
closed. Undelivered points stay in the outbox (it is a table of the store) and are sent by the
next run. A collector that dies makes ``serve`` stop with exit code 1, so a supervisor restarts it.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from adherence.config import ServeConfig, build_sink
from adherence.influx_sink import Sink
from adherence.live_plans import CarePlanPlanner
from adherence.outbox import OutboxSender
from adherence.pipeline import derive_plan_days
from adherence.plan import CarePlan, load_plans
from adherence.scoring import rescore
from devices.errors import AdherenceError, ConfigError
from ingest.collector import Collector
from ingest.store import Store

__all__ = ["serve"]

log = logging.getLogger(__name__)

Runner = Callable[[threading.Event], Any]
"""A thread body that runs until the event is set (senders, the live-session service)."""


def _build(cfg: ServeConfig, section: str, make: Callable[[], Collector]) -> Collector:
    """``make()``; an unknown or missing key in the ``[section]`` table is a ConfigError."""
    try:
        return make()
    except TypeError as exc:
        raise ConfigError("config", f"{cfg.path}: [{section}]", f"invalid settings: {exc}") from exc


def _collectors(cfg: ServeConfig, store: Store) -> list[Collector]:
    """Build the configured collectors (``[mqtt]``, ``[ble]``); a misconfigured one is a
    ConfigError."""
    from ingest.ble import BleCollector, BleSettings
    from ingest.mqtt import MqttCollector, MqttSettings

    out: list[Collector] = []
    if cfg.mqtt is not None:
        mqtt_table = cfg.mqtt
        out.append(_build(cfg, "mqtt", lambda: MqttCollector(MqttSettings(**mqtt_table), store)))
    if cfg.ble is not None:
        ble_table = cfg.ble
        out.append(_build(cfg, "ble", lambda: BleCollector(BleSettings(**ble_table), store)))
    return out


def _session_service(cfg: ServeConfig, store: Store, plans: list[CarePlan]) -> Any:
    """The live-session service of ``[sessions]`` (broker and credentials default to ``[mqtt]``)."""
    from ingest.mqtt_settings import MqttSettings
    from ingest.session_mqtt import SessionService, SessionServiceSettings

    table = dict(cfg.sessions or {})
    base = {
        k: v
        for k, v in (cfg.mqtt or {}).items()
        if k
        in (
            "broker",
            "prefix",
            "username",
            "password_env",
            "password_file",
            "tls_ca",
            "tls_cert",
            "tls_key",
            "keepalive_s",
        )
    }
    mqtt_args = {**base, "client_id": "adherence-sessions"}
    for key in ("broker", "prefix", "client_id"):
        if key in table:
            mqtt_args[key] = table.pop(key)
    if "broker" not in mqtt_args:
        raise ConfigError(
            "config", f"{cfg.path}: sessions.broker", "is required (or an [mqtt] broker)"
        )
    try:
        settings = SessionServiceSettings(
            MqttSettings(**mqtt_args),
            idle_timeout_s=float(table.get("idle_timeout_s", 120.0)),
            min_rest_s=float(table.get("min_rest_s", 10.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError("config", f"{cfg.path}: [sessions]", f"invalid settings: {exc}") from exc
    return SessionService(settings, store, CarePlanPlanner(plans, [s.name for s in cfg.sinks]))


class _Service:
    """State of one ``serve`` run (threads, senders, plans)."""

    def __init__(self, cfg: ServeConfig, store: Store, stop: threading.Event, out: TextIO) -> None:
        self.cfg = cfg
        self.store = store
        self.stop = stop
        self.out = out
        self.plans: list[CarePlan] = load_plans(cfg.care_plans)
        self.plans_mtime = cfg.care_plans.stat().st_mtime
        self.sinks: list[Sink] = []
        self.senders: list[OutboxSender] = []
        self.threads: list[threading.Thread] = []
        self.failed: list[str] = []
        self.collectors: list[Collector] = []
        self.services: list[tuple[str, Runner]] = []
        self.last_scored: str = "never"
        self.score_error: str | None = None

    def prepare(self, extra: Sequence[Collector] = ()) -> None:
        """Build collectors and sinks; raises ConfigError before any thread starts."""
        self.collectors = [*_collectors(self.cfg, self.store), *extra]
        if self.cfg.sessions is not None:
            service = _session_service(self.cfg, self.store, self.plans)
            self.services.append(("sessions", service.run))
        try:
            for sc in self.cfg.sinks:
                sink = build_sink(sc)
                self.sinks.append(sink)
                self.senders.append(
                    OutboxSender(
                        self.store,
                        sc.name,
                        sink,
                        batch_size=sc.batch_size,
                        backoff_max_s=sc.backoff_max_s,
                    )
                )
        except BaseException:
            for sink in self.sinks:
                sink.close()
            raise

    def start(self) -> None:
        """Start one thread per collector, per service and per sender."""
        runners: list[tuple[str, Runner]] = [
            *((c.name, c.collect) for c in self.collectors),
            *self.services,
            *((f"sender:{s.sink_name}", s.run) for s in self.senders),
        ]
        for name, fn in runners:
            t = threading.Thread(target=self._guard, args=(name, fn), name=name, daemon=True)
            self.threads.append(t)
            t.start()

    def _guard(self, name: str, fn: Runner) -> None:
        try:
            fn(self.stop)
        except Exception as exc:  # a dead thread must stop the service, loudly
            log.exception("%s stopped", name)
            self.failed.append(f"{name}: {exc}")
            self.stop.set()

    def reload_plans(self) -> None:
        """Re-read the care plans if the file changed; keep the old ones if the new are wrong."""
        try:
            mtime = self.cfg.care_plans.stat().st_mtime
            if mtime != self.plans_mtime:
                self.plans = load_plans(self.cfg.care_plans)
                self.plans_mtime = mtime
                log.warning("care plans reloaded: %d plan(s)", len(self.plans))
        except (AdherenceError, OSError) as exc:
            log.error("care plans not reloaded, keeping the previous ones: %s", exc)

    def score(self) -> None:
        """Rescore the last ``lookback_days`` local days of each plan and queue the points."""
        names = [s.name for s in self.cfg.sinks]
        try:
            for plan in self.plans:
                today = dt.datetime.now(tz=plan.tz).date()
                start = today - dt.timedelta(days=self.cfg.lookback_days - 1)
                derive_plan_days(self.store, plan, start, today)
                rescore(self.store, [plan], start=start, today=today, sinks=names)
            self.last_scored = time.strftime("%H:%M:%S")
            self.score_error = None
        except AdherenceError as exc:
            self.score_error = str(exc)
            log.error("scoring failed: %s", exc)

    def status_line(self) -> str:
        frames = self.store.count("frames")
        parts = [s.status().line() for s in self.senders] or ["no sinks"]
        parts.extend(f"{c.name}: {c.status_text()}" for c in self.collectors)
        line = f"adherence serve: {' | '.join(parts)} | frames={frames} | scored {self.last_scored}"
        if self.score_error:
            line += f" (scoring error: {self.score_error})"
        return line

    def loop(self) -> None:
        next_score = next_status = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_score:
                self.reload_plans()
                self.score()
                next_score = now + self.cfg.scoring_interval_s
            if now >= next_status:
                print(self.status_line(), file=self.out, flush=True)
                next_status = now + self.cfg.status_interval_s
            self.stop.wait(max(0.0, min(next_score, next_status) - time.monotonic()))

    def shutdown(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)
            if t.is_alive():
                log.error("%s did not stop within 60 s", t.name)
        for sink in self.sinks:
            sink.close()
        kept = self.store.outbox_size()
        print(
            f"adherence serve: stopped; outbox kept {kept} point(s) for the next run",
            file=self.out,
            flush=True,
        )


def serve(
    cfg: ServeConfig,
    *,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
    collectors: Sequence[Collector] = (),
) -> int:
    """Run until ``stop`` is set; return 0 after a clean stop, 1 if a thread died.

    ``collectors`` run beside the configured ones, each in its own thread, through the
    :class:`ingest.collector.Collector` protocol (for embedding and tests).

    Raises
    ------
    ConfigError, PlanError
        Before anything starts, if the configuration, a collector or the care plans are wrong.
    """
    stop = stop if stop is not None else threading.Event()
    store = Store(cfg.store)
    try:
        svc = _Service(cfg, store, stop, out if out is not None else sys.stderr)
        svc.prepare(collectors)
        try:
            svc.start()
            svc.loop()
        finally:
            svc.shutdown()
        for failure in svc.failed:
            print(f"adherence serve: {failure}", file=svc.out, flush=True)
        return 1 if svc.failed else 0
    finally:
        store.close()
