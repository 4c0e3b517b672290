"""Ingest scale-out: 3 collector processes in one shared-subscription group on a real Mosquitto.

20 simulated devices; each collector has its own store (so every frame can be attributed);
one collector is SIGKILLed while the devices publish. Group members use session expiry 0: the
broker ends a dead member's session at once and hands its unacknowledged messages to the
others (MQTT 5.0, section 4.8.2, shared subscriptions), so nothing is lost. Frames the dead
member had stored but not yet receipted are resent by the devices and stored again by a
survivor, in the survivor's own store: at least once across stores, exactly once in each store
and in the archive (``adherence/archive.py``: loading stores each frame identity once).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.store import Store
from tests.mqtt_helpers import CollectorProcess, start_simulator
from tests.mqtt_helpers import broker as broker  # noqa: F401 - fixture
from tests.services import Mosquitto, wait_until

pytestmark = pytest.mark.services

DEVICES = 20
SECONDS = 60.0  # of data per device, published at 2x real time (30 s: the kill lands mid-run)
FRAME_SAMPLES = 50
RATE_HZ = 50.0


def _ids(path: Path) -> list[tuple[str, str, str, int, int]]:
    if not path.exists():
        return []
    with Store(path) as s:
        return s.frame_identities()


def test_group_splits_load_and_a_killed_member_loses_nothing(
    broker: Mosquitto,
    tmp_path: Path,
) -> None:
    stores = [tmp_path / f"c{i}" / "store.sqlite" for i in range(3)]
    cols = []
    for i, store in enumerate(stores):
        store.parent.mkdir()
        cp = CollectorProcess(store.parent, broker.url, store, f"c{i}")
        cp.args += ["--group", "g", "--session-expiry", "0", "--quiet"]
        cp.start()
        cols.append(cp)
    sim = start_simulator(
        broker.url,
        *("--devices", str(DEVICES), "--duration", str(SECONDS)),
        *("--speed", "2", "--connections", "2"),
    )
    # per device: SECONDS * RATE_HZ / FRAME_SAMPLES accelerometer frames + one step total per s
    expected = DEVICES * (int(SECONDS * RATE_HZ / FRAME_SAMPLES) + int(SECONDS))
    try:
        assert wait_until(lambda: len(_ids(stores[2])) >= 20, 120), "c2 got no share"
        assert sim.poll() is None, "the simulator finished before the kill"
        cols[2].kill()
        at_kill = [len(_ids(s)) for s in stores]
        out, _ = sim.communicate(timeout=300)
        assert sim.returncode == 0, out
        got = lambda: len({x for s in stores for x in _ids(s)})  # noqa: E731
        assert wait_until(lambda: got() >= expected, 120, 0.5), (
            f"{expected - got()} of {expected} frames missing; stored per member "
            f"{[len(_ids(s)) for s in stores]}, at the kill {at_kill}; simulator: {out[-300:]}"
        )
    finally:
        for c in cols:
            if not c.exited():
                c.terminate()
    ids = [_ids(s) for s in stores]
    seen = Counter(x for per in ids for x in per)
    assert len(seen) == expected  # nothing lost
    assert all(len(set(per)) == len(per) for per in ids)  # nothing stored twice in a store
    twice = {x for x, v in seen.items() if v > 1}
    m = re.search(r"(\d+) resent", out)
    assert m is not None, out[-300:]
    assert len(twice) <= int(m.group(1)), (len(twice), out[-300:])  # copies of resent frames
    assert len(ids[2]) == at_kill[2]  # the dead member stored nothing more
    # every member had a share, and the two survivors took over c2's
    assert all(n > 0 for n in at_kill)
    assert len(ids[0]) > at_kill[0] and len(ids[1]) > at_kill[1]
    assert len(ids[0]) + len(ids[1]) + len(ids[2]) == expected + len(twice)
