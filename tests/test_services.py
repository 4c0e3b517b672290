"""The service fixtures start real servers that answer, and can be restarted."""

from __future__ import annotations

import socket

import pytest

from tests.services import InfluxDB16, Mosquitto, VictoriaMetrics

pytestmark = pytest.mark.services


def test_mosquitto_answers_and_restarts(mosquitto: Mosquitto) -> None:
    socket.create_connection(("127.0.0.1", mosquitto.port), timeout=2).close()
    mosquitto.restart()
    socket.create_connection(("127.0.0.1", mosquitto.port), timeout=2).close()


def test_influxdb_is_167_and_queries(influxdb: InfluxDB16) -> None:
    res = influxdb.query("CREATE DATABASE t")
    assert "results" in res
    res = influxdb.query("SHOW DATABASES")
    names = [v[0] for v in res["results"][0]["series"][0]["values"]]  # type: ignore[index]
    assert "t" in names


def test_victoria_health(victoria: VictoriaMetrics) -> None:
    assert victoria.ready()
    assert victoria.export() == []
