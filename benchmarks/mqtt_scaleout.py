"""Ingest scale-out: 3 collector processes in one shared-subscription group on one broker.

Starts a private Mosquitto and 3 ``adherence collect mqtt --group G`` processes (distinct client
ids, each with its own store, like 3 gateways, so that every stored frame can be attributed),
then ``adherence simulate mqtt`` with ``--devices`` devices in real time (``--speed``). Part-way
(``--kill-at``, fraction of the run) collector ``c2`` is SIGKILLed and not restarted (default;
with ``--restart-after S`` it is started again after S s with the same client id and store, as
a supervisor would). Group members run with ``--session-expiry 0`` by default: the broker ends a
dead member's session at once and hands its unacknowledged messages to the other members (MQTT
5.0 section 4.8.2); with a longer expiry the broker keeps queuing the dead member's share until
the session expires, and discards that queue then unless the member came back. Once the simulator has finished and the stores stop growing,
it prints each collector's share (frames stored), the frames lost (expected minus distinct
frames in the union of the stores) and the frames stored twice (in more than one store). The
devices resend what no collector receipted (``docs/mqtt.md``, "Receipts"), so frames the killed
member stored but had not yet receipted are stored again by a survivor: at least once across
stores (the archive stores each frame identity once), never more than the devices resent.

Run: ``python benchmarks/mqtt_scaleout.py [--devices 200] [--seconds 40] [--speed 2]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks._cli import add_simulation, parser  # noqa: E402
from ingest.store import Store  # noqa: E402
from tests.mqtt_helpers import BROKER_CONF, CollectorProcess, start_simulator  # noqa: E402
from tests.services import Mosquitto  # noqa: E402

GROUP = "scaleout"


def _collector(tmp: Path, url: str, i: int, session_expiry_s: int) -> CollectorProcess:
    work = tmp / f"c{i}"
    work.mkdir()
    cp = CollectorProcess(work, url, work / "store.sqlite", f"c{i}")
    cp.args += ["--group", GROUP, "--session-expiry", str(session_expiry_s), "--quiet"]
    return cp


def _identities(tmp: Path, n: int) -> list[list[tuple[str, str, str, int, int]]]:
    out = []
    for i in range(n):
        with Store(tmp / f"c{i}" / "store.sqlite") as s:
            out.append(s.frame_identities())
    return out


def expected_frames(devices: int, seconds: float, rate_hz: float, frame_samples: int) -> int:
    """Frames the simulator publishes: accelerometer frames plus one step total per second."""
    n_frames = max(1, round(seconds * rate_hz / frame_samples))
    n_ped = int(n_frames * frame_samples / rate_hz)
    return devices * (n_frames + n_ped)


def run(args: argparse.Namespace) -> dict[str, object]:
    """One scale-out run; returns the figures."""
    with tempfile.TemporaryDirectory(prefix="mqtt-scaleout-") as tmp_s:
        tmp = Path(tmp_s)
        broker = Mosquitto(tmp / "broker", extra_conf=BROKER_CONF)
        broker.start()
        cols = [_collector(tmp, broker.url, i, args.session_expiry) for i in range(3)]
        try:
            for c in cols:
                c.start()
            sim = start_simulator(
                broker.url,
                *("--devices", str(args.devices), "--duration", str(args.seconds)),
                *("--speed", str(args.speed), "--connections", "4"),
            )
            run_s = args.seconds / args.speed
            time.sleep(args.kill_at * run_s)
            before_kill = [len(x) for x in _identities(tmp, 3)]
            cols[2].kill()
            killed_at = time.monotonic()
            if args.restart_after >= 0:
                time.sleep(args.restart_after)
                cols[2].start()
            sim_out, _ = sim.communicate(timeout=600)
            expected = expected_frames(args.devices, args.seconds, 50.0, 50)
            last, stable_since = -1, time.monotonic()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                total = len({x for ids in _identities(tmp, 3) for x in ids})
                if total >= expected:
                    break
                if total != last:
                    last, stable_since = total, time.monotonic()
                elif time.monotonic() - stable_since > 20:
                    break  # nothing arrived for 20 s: what is missing is lost
                time.sleep(1)
            ids = _identities(tmp, 3)
        finally:
            for c in cols:
                if c.proc is not None and not c.exited():
                    try:
                        c.terminate()
                    except subprocess.TimeoutExpired:
                        c.kill()
            broker.stop()
    seen = Counter(x for per in ids for x in set(per))
    return {
        "expected": expected,
        "shares": [len(x) for x in ids],
        "before_kill": before_kill,
        "lost": expected - len(seen),
        "duplicates": sum(1 for v in seen.values() if v > 1),
        "killed_after_s": round(args.kill_at * run_s, 1),
        "restart_after_s": args.restart_after,
        "sim": sim_out.strip().splitlines()[-1] if sim_out.strip() else "",
        "stored_since_kill_s": round(time.monotonic() - killed_at, 1),
    }


def main() -> int:
    """Run and print the figures; exit 1 unless 0 lost and no more stored twice than resent."""
    ap = parser(__doc__)
    add_simulation(ap, seconds=40.0, speed=2.0)
    ap.add_argument("--kill-at", type=float, default=0.4, help="fraction of the run")
    ap.add_argument("--restart-after", type=float, default=-1, help="s; -1: never restart")
    ap.add_argument("--session-expiry", type=int, default=0, help="collector session expiry, s")
    args = ap.parse_args()
    r = run(args)
    shares = r["shares"]
    assert isinstance(shares, list)
    total = sum(shares)
    print(
        f"mqtt_scaleout: {args.devices} devices x 50 Hz for {args.seconds:g} s at "
        f"{args.speed:g}x real time into 3 collectors in group '{GROUP}' (one Mosquitto), "
        f"session expiry {args.session_expiry} s"
    )
    print(f"  simulator: {r['sim']}")
    restart = (
        "never restarted"
        if args.restart_after < 0
        else f"restarted after {args.restart_after:g} s with the same client id"
    )
    print(f"  c2 SIGKILLed {r['killed_after_s']} s into the run, {restart}")
    print(f"  frames stored per collector before the kill: {r['before_kill']}")
    for i, n in enumerate(shares):
        print(f"  c{i}: {n:6d} frames ({n / max(total, 1):.1%})")
    m = re.search(r"(\d+) resent", str(r["sim"]))
    resent = int(m.group(1)) if m else 0
    print(
        f"  expected {r['expected']} frames; lost {r['lost']}; stored twice {r['duplicates']}"
        f" (in two members' stores; the devices resent {resent} unreceipted messages)"
    )
    dup = r["duplicates"]
    assert isinstance(dup, int)
    ok = r["lost"] == 0 and dup <= resent and all(n > 0 for n in shares)
    print("  PASS" if ok else "  MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
