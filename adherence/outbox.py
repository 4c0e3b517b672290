"""The outbox sender: drains one sink's durable outbox, oldest first, synchronously.

The outbox is a table of the local store (SQLite, ``synchronous=FULL``): a point queued there
survives crashes, restarts and ``SIGKILL``. One :class:`OutboxSender` per sink takes the oldest
batch, writes it with one synchronous request and then

* deletes it after a 2xx (``outbox_done``);
* on a permanent refusal (400/413/422) splits the batch in halves and retries each, down to
  single lines; a single refused line is moved to the dead-letter table with the server's reason
  (``outbox_reject``), so the good lines of a batch still land;
* on anything else (network error, 429, 5xx, 401/403/404) counts the attempt
  (``outbox_failed``) and waits with capped exponential backoff, honouring ``Retry-After``, and
  retries forever.

Delivery is at-least-once: a crash between the server's 2xx and the delete re-sends the batch.
That is harmless because every point is timestamped by the period it describes, so a re-sent
point overwrites itself (InfluxDB: same measurement, tag set and timestamp; VictoriaMetrics with
deduplication). Telegraf's InfluxDB output follows the same policy for 400/422/429/5xx/413.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from adherence.errors import SinkError
from adherence.influx_sink import CONFIG_ERRORS, Sink
from ingest.store import OutboxItem, Store

__all__ = ["DrainResult", "SenderStatus", "OutboxSender"]

log = logging.getLogger(__name__)

#: Longest wait a ``Retry-After`` header can impose, seconds.
MAX_RETRY_AFTER_S = 300.0


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What one :meth:`OutboxSender.drain_once` did: points delivered and dead-lettered (counts),
    and the retryable error that stopped it, if any."""

    delivered: int
    rejected: int
    error: SinkError | None


@dataclass(frozen=True, slots=True)
class SenderStatus:
    """Snapshot of a sender for status output.

    ``backlog`` is the number of points waiting in the outbox; ``delivered`` and ``rejected``
    count points since this sender started; ``retry_in_s`` is the current backoff (seconds, 0
    when healthy); ``config_problem`` is true while the server answers 401/403/404.
    """

    sink: str
    backlog: int
    delivered: int
    rejected: int
    failures_in_row: int
    retry_in_s: float
    last_error: str | None
    config_problem: bool

    def line(self) -> str:
        """One human-readable status line."""
        s = f"{self.sink}: backlog={self.backlog} delivered={self.delivered} dead={self.rejected}"
        if self.last_error and self.failures_in_row:
            kind = "CONFIG ERROR" if self.config_problem else "retrying"
            s += f" {kind} in {self.retry_in_s:.1f}s after {self.failures_in_row} failure(s): {self.last_error}"
        return s


class _Stop(Exception):
    """A retryable error ended this drain step."""

    def __init__(self, err: SinkError) -> None:
        self.err = err


class OutboxSender:
    """Drains the outbox of ``sink_name`` into ``sink``.

    Parameters
    ----------
    store:
        The local store holding the outbox.
    sink_name:
        The outbox's sink name (what :func:`adherence.scoring.rescore` enqueued under).
    sink:
        Where to write (:class:`adherence.influx_sink.InfluxV1Sink`, ``InfluxV2Sink``, ...).
    batch_size:
        Points per request (count).
    backoff_initial_s, backoff_max_s:
        First and largest wait after a retryable failure, seconds; the wait doubles per failure.
    idle_poll_s:
        How often an empty outbox is looked at again, seconds.
    """

    def __init__(
        self,
        store: Store,
        sink_name: str,
        sink: Sink,
        *,
        batch_size: int = 500,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        idle_poll_s: float = 1.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.store = store
        self.sink_name = sink_name
        self.sink = sink
        self.batch_size = batch_size
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.idle_poll_s = idle_poll_s
        self._delivered = 0
        self._rejected = 0
        self._failures = 0
        self._delay_s = 0.0
        self._last_error: SinkError | None = None
        self._lock = threading.Lock()

    # -- one step ---------------------------------------------------------------------------
    def drain_once(self) -> DrainResult:
        """Send the oldest batch (splitting on refusals); never raises for sink errors."""
        items = self.store.outbox_peek(self.sink_name, self.batch_size)
        counts = [0, 0]
        error = None
        try:
            self._send(items, counts)
        except _Stop as stop:
            error = stop.err
        with self._lock:
            self._delivered += counts[0]
            self._rejected += counts[1]
            if error is None:
                self._failures = 0
                self._delay_s = 0.0
            else:
                self._failures += 1
                self._last_error = error
                base = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (self._failures - 1))
                retry_after = error.context.get("retry_after_s")
                if isinstance(retry_after, float):
                    base = max(base, min(retry_after, MAX_RETRY_AFTER_S))
                self._delay_s = base
        if error is not None:
            if error.status in CONFIG_ERRORS:
                log.error("%s: configuration problem, retrying: %s", self.sink_name, error)
            elif self._failures == 1:
                log.warning("%s: write failed, retrying with backoff: %s", self.sink_name, error)
        return DrainResult(counts[0], counts[1], error)

    def _send(self, items: list[OutboxItem], counts: list[int]) -> None:
        if not items:
            return
        try:
            self.sink.write([i.body for i in items])
        except SinkError as exc:
            if not exc.permanent:
                self.store.outbox_failed([i.id for i in items], str(exc))
                raise _Stop(exc) from exc
            if len(items) == 1:
                self.store.outbox_reject([items[0].id], str(exc))
                counts[1] += 1
                log.warning("%s: point dead-lettered: %s", self.sink_name, exc)
                return
            mid = len(items) // 2
            self._send(items[:mid], counts)
            self._send(items[mid:], counts)
        else:
            self.store.outbox_done([i.id for i in items])
            counts[0] += len(items)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Drain until ``stop`` is set; waits back off after failures and poll when idle.

        Returns promptly after ``stop`` is set (at most one request in flight). Points not yet
        delivered stay in the outbox for the next run.
        """
        while not stop.is_set():
            result = self.drain_once()
            if result.error is not None:
                stop.wait(self._delay_s)
            elif result.delivered == 0 and result.rejected == 0:
                stop.wait(self.idle_poll_s)

    def drain(self, timeout_s: float | None = None) -> int:
        """Drain until the outbox is empty (or ``timeout_s`` passes); return the backlog left.

        Retryable errors back off as in :meth:`run`. For commands and tests.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        stop = threading.Event()
        while self.store.outbox_size(self.sink_name):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if self.drain_once().error is not None:
                wait = self._delay_s
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                stop.wait(wait)
        return self.store.outbox_size(self.sink_name)

    def status(self) -> SenderStatus:
        """Current backlog (from the store) and counters."""
        backlog = self.store.outbox_size(self.sink_name)
        with self._lock:
            err = self._last_error
            return SenderStatus(
                sink=self.sink_name,
                backlog=backlog,
                delivered=self._delivered,
                rejected=self._rejected,
                failures_in_row=self._failures,
                retry_in_s=self._delay_s,
                last_error=None if err is None else str(err),
                config_problem=err is not None
                and self._failures > 0
                and err.status in CONFIG_ERRORS,
            )
