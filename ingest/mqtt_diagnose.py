"""Why a connection to the broker failed, in words, and whether retrying can help.

paho-mqtt retries a failed connection in its network thread and keeps the reason to itself
(it only calls ``on_connect_fail``), so the collector would print "mqtt DISCONNECTED" forever
after a wrong CA, a certificate for another host name or plain MQTT sent to a TLS port. These
checks make one connection of their own with the collector's TLS settings and name the cause.
A certificate that does not verify cannot start to verify by retrying: that is fatal
(RFC 5280 path validation, RFC 6125 host name check, both done by Python's :mod:`ssl`).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from ingest.mqtt_settings import MqttSettings

__all__ = ["Diagnosis", "diagnose", "speaks_tls"]

_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A connection failure: ``why`` in words; ``fatal`` when retrying cannot help."""

    why: str
    fatal: bool


def _context(settings: MqttSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=settings.tls_ca)
    if settings.tls_cert is not None:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


def diagnose(settings: MqttSettings) -> Diagnosis:
    """Connect once to the broker (TLS handshake included for ``mqtts://``) and say what fails."""
    try:
        sock = socket.create_connection((settings.host, settings.port), timeout=_TIMEOUT_S)
    except OSError as exc:
        return Diagnosis(f"cannot reach {settings.host}:{settings.port}: {exc}", False)
    with sock:
        if not settings.tls:
            return Diagnosis("the broker closed the connection", False)
        try:
            with _context(settings).wrap_socket(sock, server_hostname=settings.host):
                return Diagnosis("TLS handshake succeeded; the broker closed the connection", False)
        except ssl.SSLCertVerificationError as exc:
            why = f"the broker's certificate does not verify: {exc.verify_message}"
            if settings.tls_ca:
                why += f" (CA file {settings.tls_ca})"
            return Diagnosis(why, True)
        except ssl.SSLError as exc:
            return Diagnosis(f"TLS handshake failed: {exc.reason or exc}", True)
        except OSError as exc:
            return Diagnosis(f"TLS handshake failed: {exc}", False)


def speaks_tls(host: str, port: int) -> bool:
    """True if ``host:port`` answers a TLS handshake (certificate not checked)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=_TIMEOUT_S) as sock,
            ctx.wrap_socket(sock, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False
