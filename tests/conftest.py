"""Shared pytest fixtures: real servers on loopback, temporary stores, dataset paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.store import Store
from tests.services import InfluxDB16, Mosquitto, VictoriaMetrics


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh embedded store in a temporary folder."""
    s = Store(tmp_path / "store.sqlite")
    yield s
    s.close()


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real Mosquitto broker on a free loopback port (one per test, so restarts are safe)."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB16]:
    """A real InfluxDB 1.6.7 with all data in a temporary folder."""
    server = InfluxDB16(tmp_path_factory.mktemp("influxd"))
    server.start(timeout_s=60)
    yield server
    server.stop()


@pytest.fixture
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics accepting the InfluxDB v2 write API."""
    server = VictoriaMetrics(tmp_path_factory.mktemp("victoria"))
    server.start(timeout_s=60)
    yield server
    server.stop()
