"""Shared pytest fixtures: real servers on loopback and temporary stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.store import Store
from tests.services import InfluxDB16, Mosquitto, VictoriaMetrics
from tests.support.running import serving


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh embedded store in a temporary folder."""
    s = Store(tmp_path / "store.sqlite")
    yield s
    s.close()


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real Mosquitto broker on a free loopback port (one per test, so restarts are safe)."""
    yield from serving(Mosquitto(tmp_path_factory.mktemp("mosquitto")))


@pytest.fixture
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB16]:
    """A real InfluxDB 1.6.7 with all data in a temporary folder."""
    yield from serving(InfluxDB16(tmp_path_factory.mktemp("influxd")))


@pytest.fixture
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics accepting the InfluxDB v2 write API."""
    yield from serving(VictoriaMetrics(tmp_path_factory.mktemp("victoria")))
