"""``adherence session``: a guided exercise session, live.

Two ways in:

``adherence session --ble ADDR|NAME --subject ID --exercise NAME``
    For a patient at a terminal with a BLE sensor: collects the sensor into the store (the
    bleak collector) and shows "set 2 of 3 - repetition 7 of 10" as repetitions happen. Stop
    with Ctrl-C (or ``--duration``); the session is then stored and scored.
``adherence session --mqtt mqtt://broker:1883``
    The service for patients' apps: session start/stop events and sensor frames arrive over
    MQTT, feedback goes back on ``.../feedback`` (see ``docs/mqtt.md``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from adherence.cli.options import (
    SubParsers,
    add_command,
    add_mqtt_client,
    add_plans,
    add_store,
    mqtt_settings,
)

if TYPE_CHECKING:
    from ingest.session import Feedback


def run_ble_session(args: argparse.Namespace) -> int:
    """The ``--ble`` mode: returns the exit code."""
    from adherence.live_plans import CarePlanPlanner, plan_target
    from adherence.plan import load_plans
    from ingest.ble import BleCollector, BleSettings
    from ingest.session import LiveSession, Target
    from ingest.session_mqtt import save_session
    from ingest.session_tee import SessionTee
    from ingest.store import Store

    plans = load_plans(args.plans) if args.plans else []
    target = plan_target(plans, args.subject, args.exercise, args.plan_entry)
    if args.sets or args.reps:
        target = Target(args.sets or target.sets, args.reps or target.reps)
    start_ns = time.time_ns()
    session = LiveSession(
        args.session_id or f"{args.subject}-{start_ns // 1_000_000_000}",
        args.subject,
        args.ble,
        args.exercise,
        start_ns,
        target=target,
        plan_entry=args.plan_entry,
    )
    tty = sys.stdout.isatty()

    def show(fb: Feedback) -> None:
        if tty and fb.kind == "rep":
            sys.stdout.write("\r" + fb.text().ljust(60))
        else:
            sys.stdout.write(("\n" if tty else "") + fb.text() + "\n")
        sys.stdout.flush()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    with Store(args.store) as store:
        tee = SessionTee(store, session, show)
        show(session.start_feedback())
        collector = BleCollector(BleSettings(device=args.ble, subject=args.subject), tee)
        try:
            collector.run_blocking(stop)
        finally:
            if session.frames_received:
                for fb in session.finish(time.time_ns()):
                    show(fb)
                save_session(store, session, CarePlanPlanner(plans, args.sink))
    if not session.frames_received:
        # a session without sensor data is not complete: nothing is stored (issue 16 item 3)
        why = collector.status.last_error or "no data received"
        print(
            f"adherence: session not recorded: sensor {args.ble} was not found or sent no data"
            f" ({why})",
            file=sys.stderr,
        )
        return 1
    return 0


def run_mqtt_service(args: argparse.Namespace) -> int:
    """The ``--mqtt`` mode: serve sessions until SIGINT/SIGTERM."""
    from adherence.live_plans import CarePlanPlanner
    from adherence.plan import load_plans
    from ingest.session_mqtt import SessionService, SessionServiceSettings
    from ingest.store import Store

    plans = load_plans(args.plans) if args.plans else []
    settings = SessionServiceSettings(
        mqtt_settings(args, args.mqtt), idle_timeout_s=args.idle_timeout
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Store(args.store) as store:
        service = SessionService(
            settings,
            store,
            CarePlanPlanner(plans, args.sink),
            on_feedback=lambda fb: print(f"{fb.session_id}: {fb.text()}", flush=True),
        )

        def announce() -> None:
            if service.subscribed.wait(timeout=None) and not stop.is_set():
                print(
                    f"sessions: subscribed to {args.prefix}/+/+/+/session on {args.mqtt}",
                    file=sys.stderr,
                    flush=True,
                )

        threading.Thread(target=announce, name="announce", daemon=True).start()
        service.run(stop)
    return 0


def register(sub: SubParsers) -> None:
    """Add ``adherence session`` to the command line."""
    p = add_command(
        sub,
        "session",
        "a live guided exercise session (BLE sensor at a terminal, or the MQTT service)",
        __doc__,
        raw_description=True,
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--ble", metavar="ADDR|NAME", help="BLE sensor address or advertised name")
    mode.add_argument(
        "--mqtt", metavar="URL", help="serve apps over this broker (mqtt[s]://host:port)"
    )
    add_store(p, default=Path("adherence.sqlite"))
    add_plans(p, help_text="care plans (targets and scoring)")
    p.add_argument("--sink", action="append", default=[], help="outbox sink for score points")
    ble = p.add_argument_group("--ble mode")
    ble.add_argument("--subject", help="pseudonymous subject id")
    ble.add_argument("--exercise", help="exercise-library id, e.g. bridge")
    ble.add_argument("--plan-entry", help="the care plan's session id")
    ble.add_argument("--session-id", help="session id (None: subject and start time)")
    ble.add_argument("--sets", type=int, help="sets to do (None: from the care plan)")
    ble.add_argument("--reps", type=int, help="repetitions per set (None: from the care plan)")
    ble.add_argument("--duration", type=float, help="stop after this many seconds")
    mq = p.add_argument_group("--mqtt mode")
    add_mqtt_client(mq, "adherence-sessions", client_cert=False)
    mq.add_argument(
        "--idle-timeout", type=float, default=120.0, help="close a silent session after S seconds"
    )

    def _run(args: argparse.Namespace) -> int:
        from devices.errors import ConfigError

        if args.ble:
            if not args.subject or not args.exercise:
                raise ConfigError("option", "--ble", "needs --subject and --exercise")
            return run_ble_session(args)
        return run_mqtt_service(args)

    p.set_defaults(func=_run)
