"""Keyed pseudonyms (HMAC-SHA256) for researcher exports.

An export never carries a raw subject id, session id or device id. Each is replaced by

    prefix + hex(HMAC-SHA256(key, namespace + ":" + id))[:16]

with one prefix per namespace: ``s_`` subjects, ``x_`` sessions, ``d_`` devices. The namespace
keeps a device and a subject with the same id from getting the same pseudonym.

* Stable: the same key and id give the same pseudonym in every export, so exports made on
  different days can be joined.
* Keyed: without the key nobody can recompute a pseudonym from a guessed id (a plain hash of
  ``P001`` could be found by trying ids). Keep the key apart from the data; whoever holds it can
  re-identify. Pseudonymised data is still personal data.
* 16 hex characters are 64 bits: a collision among even a million ids has a probability of
  about 3e-8.

The key comes from a file or an environment variable (:func:`load_key`), never from the command
line (it would show in ``ps`` and the shell history). Only a key *id* (:func:`key_id`, the first
8 hex characters of SHA-256 of the key) is written into an export's info record, to tell which
key made it; the key cannot be recovered from it.

References: RFC 2104 (HMAC); ENISA, *Pseudonymisation techniques and best practices* (2019),
keyed hash functions with a secret key kept apart from the data; GDPR Recital 26 (pseudonymised
data is still personal data).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from devices.errors import ConfigError

__all__ = [
    "MIN_KEY_BYTES",
    "PSEUDONYM_HEX",
    "key_id",
    "load_key",
    "pseudonym",
    "subject_pseudonym",
    "session_pseudonym",
    "device_pseudonym",
]

#: Shortest accepted key, bytes (128 bits).
MIN_KEY_BYTES = 16
#: Hex characters kept from the HMAC digest (64 bits).
PSEUDONYM_HEX = 16

_PREFIX = {"subject": "s_", "session": "x_", "device": "d_"}


def _check_key(key: bytes, where: str) -> bytes:
    if not isinstance(key, bytes | bytearray):
        raise ConfigError("pseudonym key", where, "must be bytes")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            "pseudonym key",
            where,
            f"too short ({len(key)} bytes); use at least {MIN_KEY_BYTES} random bytes,"
            " e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > key`",
        )
    return bytes(key)


def pseudonym(key: bytes, namespace: str, value: str) -> str:
    """Pseudonym of ``value`` in ``namespace`` (``subject``, ``session`` or ``device``).

    Returns ``prefix + 16 hex characters`` of HMAC-SHA256(key, ``namespace:value``) (UTF-8).
    Raises :class:`ConfigError` for a key shorter than :data:`MIN_KEY_BYTES` bytes or an unknown
    namespace.

    Examples
    --------
    >>> import hashlib, hmac
    >>> key = bytes(range(32))
    >>> mac = hmac.new(key, b"subject:P001", hashlib.sha256).hexdigest()
    >>> pseudonym(key, "subject", "P001") == "s_" + mac[:16]
    True
    >>> pseudonym(key, "device", "P001") == pseudonym(key, "subject", "P001")
    False
    """
    if namespace not in _PREFIX:
        raise ConfigError("pseudonym", namespace, f"unknown namespace; known: {sorted(_PREFIX)}")
    k = _check_key(key, "key")
    mac = hmac.new(k, f"{namespace}:{value}".encode(), hashlib.sha256).hexdigest()
    return _PREFIX[namespace] + mac[:PSEUDONYM_HEX]


def subject_pseudonym(key: bytes, subject: str) -> str:
    """Pseudonym of a subject id: ``s_`` + 16 hex characters."""
    return pseudonym(key, "subject", subject)


def session_pseudonym(key: bytes, session_id: str) -> str:
    """Pseudonym of a session id (session ids often embed the subject id): ``x_`` + 16 hex."""
    return pseudonym(key, "session", session_id)


def device_pseudonym(key: bytes, device: str) -> str:
    """Pseudonym of a device id (MAC address, serial, app id): ``d_`` + 16 hex characters."""
    return pseudonym(key, "device", device)


def key_id(key: bytes) -> str:
    """A short public id of the key: first 8 hex characters of SHA-256(key). Not the key."""
    return hashlib.sha256(_check_key(key, "key")).hexdigest()[:8]


def load_key(*, key_file: str | Path | None = None, key_env: str | None = None) -> bytes:
    """Read the pseudonymisation key from a file or an environment variable (exactly one).

    The file's bytes (or the variable's UTF-8 value) are the key, with surrounding whitespace
    (a trailing newline) removed. Raises :class:`ConfigError` with a one-line reason when neither
    or both are given, the file cannot be read, the variable is unset, or the key is shorter than
    :data:`MIN_KEY_BYTES` bytes.
    """
    if (key_file is None) == (key_env is None):
        raise ConfigError(
            "pseudonym key",
            "",
            "exports are always pseudonymised: give exactly one of --key-file FILE or --key-env VAR",
        )
    if key_file is not None:
        try:
            raw = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(
                "pseudonym key", str(key_file), f"cannot read: {exc.strerror or exc}"
            ) from exc
        return _check_key(raw.strip(), str(key_file))
    assert key_env is not None
    value = os.environ.get(key_env)
    if value is None:
        raise ConfigError("pseudonym key", f"${key_env}", "environment variable is not set")
    return _check_key(value.strip().encode(), f"${key_env}")
