"""``adherence collect mqtt`` and ``adherence simulate mqtt`` (thin shells over the library).

Also runnable as ``python -m adherence.cli collect mqtt --broker mqtt://127.0.0.1:1883``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from adherence.cli.options import (
    SubParsers,
    add_command,
    add_mqtt_client,
    add_store,
    mqtt_settings,
)

if TYPE_CHECKING:
    from ingest.mqtt import CollectorStats, MqttCollector
    from ingest.mqtt_sim import Message, SimResult

REPLAY_SPEED = 100.0
"""Default ``--speed`` of ``--recordings`` replays (x real time)."""
DEFAULT_BUFFER = 100_000
"""Default ``--buffer``: ``ingest.mqtt_device.DEFAULT_LIMIT`` (not imported: ``--help`` stays
free of paho)."""


COLLECT_MQTT_HELP = "collect from an MQTT broker into the store"
COLLECT_MQTT_DESCRIPTION = (
    "Collect sensor data from an MQTT broker (QoS 1, persistent session, "
    "acknowledged only after the store commit). Stops cleanly on SIGINT/SIGTERM."
)
SIMULATE_MQTT_HELP = "publish synthetic patients or sample recordings to an MQTT broker"
SIMULATE_MQTT_DESCRIPTION = (
    "Publish as devices would: N synthetic patients at a chosen rate, or the "
    "recordings in a folder (--recordings)."
)


_COLLECT_LIMITS: tuple[tuple[str, str, type[int] | type[float], float, str, str], ...] = (
    ("--session-expiry", "session_expiry_s", int, 3600, "S", "session expiry, s"),
    ("--max-payload", "max_payload_bytes", int, 256 * 1024, "BYTES", "larger payloads are "
     "dead-lettered"),
    ("--reorder-timeout", "reorder_timeout_s", float, 5.0, "S", "how long to wait for a missing "
     "sequence number before recording a gap, s"),
)  # fmt: skip
"""``collect mqtt``'s numeric options: flag, settings field (the ``argparse`` destination), type,
default (the settings' default), metavar and help."""

_COLLECT_OPTIONS = (
    "group",
    *(limit[1] for limit in _COLLECT_LIMITS),
    "receipts",
    "receipt_interval_s",
)
"""The settings fields ``collect mqtt`` adds options for, by their ``argparse`` destination names
(beside those of :func:`~adherence.cli.options.add_mqtt_client`)."""


def _positive(text: str) -> float:
    """argparse ``type=``: a finite number > 0 (``nan`` and ``inf`` parse as floats)."""
    from ingest.mqtt_settings import positive_number

    return positive_number(text)


def _add_broker_args(p: argparse.ArgumentParser, client_id: str) -> None:
    p.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    add_mqtt_client(p, client_id, client_cert=True)


def register(collect: SubParsers, simulate: SubParsers) -> None:
    """Add ``collect mqtt`` and ``simulate mqtt`` to the ``adherence`` command."""
    c = add_command(collect, "mqtt", COLLECT_MQTT_HELP, COLLECT_MQTT_DESCRIPTION)
    _add_broker_args(c, "adherence-collector")
    add_store(c, default=Path("adherence.sqlite"))
    c.add_argument("--group", help="shared-subscription group (several collectors split load)")
    for flag, dest, kind, default, metavar, text in _COLLECT_LIMITS:
        c.add_argument(flag, dest=dest, type=kind, default=default, metavar=metavar, help=text)
    c.add_argument(
        "--no-receipts",
        dest="receipts",
        action="store_false",
        help="publish no receipts to the devices (<prefix>/<site>/<subject>/<device>/receipt "
        "after each commit; the broker's ACL must let the collector write them)",
    )
    c.add_argument(
        "--receipt-interval",
        dest="receipt_interval_s",
        type=_positive,
        default=2.0,
        metavar="S",
        help="send each device a receipt at most every S s, naming what was committed since "
        "its last one",
    )
    c.add_argument("--quiet", action="store_true", help="no status line")
    c.set_defaults(func=cmd_collect)

    s = add_command(simulate, "mqtt", SIMULATE_MQTT_HELP, SIMULATE_MQTT_DESCRIPTION)
    _add_broker_args(s, "adherence-sim")
    s.add_argument("--devices", type=int, default=10, help="synthetic devices")
    s.add_argument("--rate", type=_positive, default=50.0, metavar="HZ", help="sample rate, Hz")
    s.add_argument("--frame-samples", type=int, default=50, help="samples per frame")
    s.add_argument("--duration", type=_positive, default=10.0, metavar="S", help="seconds of data")
    s.add_argument(
        "--speed",
        type=float,
        help="x real time; 0 = as fast as possible (None: 1 for synthetic devices, "
        f"{REPLAY_SPEED:g} for --recordings: the sample data in about 30 s)",
    )
    s.add_argument(
        "--connections", type=int, default=0, help="gateway connections (0: one per device)"
    )
    s.add_argument("--recordings", type=Path, help="replay the recordings in this folder instead")
    s.add_argument(
        "--no-session-events",
        dest="session_events",
        action="store_false",
        help="with --recordings: no session start/stop around exercise recordings (a bare "
        "sensor; without it the replay is like an app's)",
    )
    s.add_argument(
        "--no-receipts",
        dest="receipts",
        action="store_false",
        help="do not wait for the collector's receipts: the broker's acknowledgement is the end "
        "(a broker crash can then lose messages)",
    )
    s.add_argument(
        "--buffer",
        type=int,
        default=DEFAULT_BUFFER,
        metavar="N",
        help="messages kept until a receipt, per connection; when full, new messages are "
        "refused (not published), counted and reported",
    )
    s.add_argument(
        "--resend-after",
        type=_positive,
        default=30.0,
        metavar="S",
        help="resend a message without a receipt after S s (doubling per resend, up to 8x); "
        "everything unconfirmed is also resent after a reconnect",
    )
    s.add_argument(
        "--confirm-timeout",
        type=_positive,
        default=60.0,
        metavar="S",
        help="at the end, wait up to S s for the last receipts",
    )
    s.add_argument("--quiet", action="store_true", help="no progress line")
    s.set_defaults(func=cmd_simulate)


def _status_line(stats: CollectorStats, prev: list[float], state: str | None = None) -> str:
    now = time.monotonic()
    dt = max(now - prev[0], 1e-9)
    rate_msg = (stats.messages - prev[1]) / dt
    rate_samples = (stats.samples - prev[2]) / dt
    prev[:] = [now, stats.messages, stats.samples]
    if state is None:
        state = "connected" if stats.connected else "DISCONNECTED"
    return (
        f"mqtt {state}: {rate_msg:.0f} msg/s {rate_samples:.0f} samples/s | messages "
        f"{stats.messages} frames {stats.frames} duplicates {stats.duplicates} events "
        f"{stats.events} dead letters {stats.dead_letters} gaps {stats.gaps} backlog {stats.backlog}"
    )


def cmd_collect(args: argparse.Namespace) -> int:
    """Run the collector until SIGINT/SIGTERM."""
    from ingest.mqtt import MqttCollector
    from ingest.store import Store

    collect = {name: getattr(args, name) for name in _COLLECT_OPTIONS}
    settings = mqtt_settings(args, args.broker, **collect)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    prev = [time.monotonic(), 0.0, 0.0]
    announced = False
    collector: MqttCollector

    def on_status(stats: CollectorStats) -> None:
        nonlocal announced
        if collector.subscribed.is_set() and not announced:
            announced = True
            print(f"mqtt subscribed to {settings.subscription()}", file=sys.stderr, flush=True)
        if not args.quiet:
            print(_status_line(stats, prev), file=sys.stderr, flush=True)

    try:
        with Store(args.store) as store:
            collector = MqttCollector(settings, store, on_status=on_status)
            collector.run(stop)
            print(_status_line(collector.stats, prev, "stopped"), file=sys.stderr, flush=True)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0


def _progress_printer(
    args: argparse.Namespace, messages: object
) -> Callable[[int, float], None] | None:
    """A one-line progress report on stderr (``sent/total messages``), or None with --quiet."""
    if args.quiet:
        return None
    total = f"/{len(messages)}" if isinstance(messages, list) else ""

    def show(sent: int, elapsed_s: float) -> None:
        print(f"simulate: {sent}{total} messages in {elapsed_s:.0f} s", file=sys.stderr, flush=True)

    return show


def cmd_simulate(args: argparse.Namespace) -> int:
    """Publish synthetic patients or recordings; print what was sent."""
    from devices.errors import ConfigError
    from ingest.mqtt_sim import (
        Confirmation,
        device_status_topics,
        gateway_status_topics,
        publish_messages,
        recording_messages,
        recording_status_topics,
        synthetic_messages,
    )

    settings = mqtt_settings(args, args.broker)
    if args.recordings is not None:
        if not args.recordings.is_dir():
            raise ConfigError("option", "--recordings", f"{args.recordings} is not a folder")
        messages: list[Message] | Iterator[Message] = list(
            recording_messages(
                args.prefix,
                args.recordings,
                samples_per_frame=args.frame_samples,
                session_events=args.session_events,
            )
        )
        topics = recording_status_topics(args.prefix, args.recordings)
    else:
        if args.devices < 1 or args.rate <= 0 or args.frame_samples < 1 or args.duration <= 0:
            raise ConfigError(
                "option",
                "--devices/--rate",
                "devices, rate, frame samples, duration must be positive",
            )
        n_frames = max(1, round(args.duration * args.rate / args.frame_samples))
        messages = synthetic_messages(
            args.prefix, args.devices, args.rate, args.frame_samples, n_frames
        )
        if args.connections > 0:
            topics = gateway_status_topics(args.prefix, args.connections)
        else:
            topics = device_status_topics(args.prefix, args.devices)
    if args.buffer < 1:
        raise ConfigError("option", "--buffer", f"must be >= 1, got {args.buffer}")
    speed = args.speed if args.speed is not None else REPLAY_SPEED if args.recordings else 1.0
    confirm = Confirmation(args.receipts, args.buffer, args.resend_after, args.confirm_timeout)
    result = publish_messages(
        settings,
        iter(messages),
        topics,
        speed=speed,
        on_progress=_progress_printer(args, messages),
        confirm=confirm,
    )
    print(
        f"published {result.messages} messages, {result.samples} samples in "
        f"{result.elapsed_s:.1f} s over {len(topics)} connection(s)"
        + (f"; {result.receipts} receipts, {result.resent} resent" if args.receipts else "")
    )
    return _confirmation_verdict(result, args.confirm_timeout)


def _confirmation_verdict(result: SimResult, timeout_s: float) -> int:
    """0 when every message reached a collector; else one line on stderr per problem and 1."""
    code = 0
    if result.refused:
        print(
            f"simulate: {result.refused} messages refused: the buffer of unconfirmed messages "
            "was full (--buffer)",
            file=sys.stderr,
        )
        code = 1
    if result.unconfirmed:
        print(
            f"simulate: {result.unconfirmed} messages not confirmed by a collector within "
            f"{timeout_s:g} s (is `adherence collect mqtt` running?)",
            file=sys.stderr,
        )
        code = 1
    return code
