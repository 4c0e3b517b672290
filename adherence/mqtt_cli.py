"""``adherence collect mqtt`` and ``adherence simulate mqtt`` (thin shells over the library).

Also runnable alone: ``python -m adherence.mqtt_cli collect mqtt --broker mqtt://127.0.0.1:1883``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from devices.errors import AdherenceError, ConfigError
from ingest.mqtt import CollectorStats, MqttCollector
from ingest.mqtt_settings import MqttSettings, positive_number
from ingest.mqtt_sim import (
    device_status_topics,
    gateway_status_topics,
    publish_messages,
    recording_messages,
    recording_status_topics,
    synthetic_messages,
)
from ingest.store import Store

SubParsers = argparse._SubParsersAction


def _add_broker_args(p: argparse.ArgumentParser, client_id: str) -> None:
    p.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    p.add_argument("--prefix", default="adh", help="topic prefix (default: adh)")
    p.add_argument("--client-id", default=client_id, help=f"MQTT client id (default: {client_id})")
    p.add_argument("--username", help="MQTT user name")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="read the password from this variable")
    pw.add_argument("--password-file", metavar="PATH", help="read the password from this file")
    p.add_argument("--tls-ca", metavar="PEM", help="CA bundle for mqtts:// (default: system)")
    p.add_argument("--tls-cert", metavar="PEM", help="client certificate")
    p.add_argument("--tls-key", metavar="PEM", help="client key")


def _settings(args: argparse.Namespace, **extra: object) -> MqttSettings:
    return MqttSettings(
        broker=args.broker,
        prefix=args.prefix,
        client_id=args.client_id,
        username=args.username,
        password_env=args.password_env,
        password_file=args.password_file,
        tls_ca=args.tls_ca,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        **extra,  # type: ignore[arg-type]
    )


def register(sub: SubParsers, groups: dict[str, SubParsers]) -> None:
    """Add ``collect mqtt`` and ``simulate mqtt`` to the ``adherence`` command."""
    c = groups["collect"].add_parser(
        "mqtt",
        help="collect from an MQTT broker into the store",
        description="Collect sensor data from an MQTT broker (QoS 1, persistent session, "
        "acknowledged only after the store commit). Stops cleanly on SIGINT/SIGTERM.",
    )
    _add_broker_args(c, "adherence-collector")
    c.add_argument("--store", default="adherence.sqlite", help="store file")
    c.add_argument("--group", help="shared-subscription group (several collectors split load)")
    c.add_argument(
        "--session-expiry", type=int, default=3600, metavar="S", help="session expiry, s"
    )
    c.add_argument("--max-payload", type=int, default=256 * 1024, metavar="BYTES")
    c.add_argument("--reorder-timeout", type=float, default=5.0, metavar="S")
    c.add_argument("--quiet", action="store_true", help="no status line")
    c.set_defaults(func=cmd_collect)

    s = groups["simulate"].add_parser(
        "mqtt",
        help="publish synthetic patients or sample recordings to an MQTT broker",
        description="Publish as devices would: N synthetic patients at a chosen rate, or the "
        "recordings in a folder (--recordings).",
    )
    _add_broker_args(s, "adherence-sim")
    s.add_argument("--devices", type=int, default=10, help="synthetic devices (default 10)")
    s.add_argument(
        "--rate", type=positive_number, default=50.0, metavar="HZ", help="sample rate, Hz"
    )
    s.add_argument("--frame-samples", type=int, default=50, help="samples per frame")
    s.add_argument("--duration", type=positive_number, default=10.0, metavar="S", help="seconds")
    s.add_argument("--speed", type=float, default=1.0, help="x real time; 0 = as fast as possible")
    s.add_argument(
        "--connections", type=int, default=0, help="gateway connections (default: one per device)"
    )
    s.add_argument("--recordings", type=Path, help="replay the recordings in this folder instead")
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
    settings = _settings(
        args,
        group=args.group,
        session_expiry_s=args.session_expiry,
        max_payload_bytes=args.max_payload,
        reorder_timeout_s=args.reorder_timeout,
    )
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


def cmd_simulate(args: argparse.Namespace) -> int:
    """Publish synthetic patients or recordings; print what was sent."""
    settings = _settings(args)
    if args.recordings is not None:
        if not args.recordings.is_dir():
            raise ConfigError("option", "--recordings", f"{args.recordings} is not a folder")
        messages = recording_messages(
            args.prefix, args.recordings, samples_per_frame=args.frame_samples
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
    result = publish_messages(settings, messages, topics, speed=args.speed)
    print(
        f"published {result.messages} messages, {result.samples} samples in "
        f"{result.elapsed_s:.1f} s over {len(topics)} connection(s)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point with only the MQTT commands (same options as ``adherence``)."""
    parser = argparse.ArgumentParser(prog="python -m adherence.mqtt_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    groups = {}
    for name in ("collect", "simulate"):
        g = sub.add_parser(name).add_subparsers(dest="source", required=True)
        groups[name] = g
    register(sub, groups)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except AdherenceError as exc:
        print(f"adherence: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
