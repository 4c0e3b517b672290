"""Programme events kept as files: what a patient's app published, one MQTT payload per line.

``<folder>/<subject>.programme.jsonl`` holds the ``programme`` payloads (``docs/mqtt.md``,
"Programme events") one JSON object per line, as the app published them on
``<prefix>/<site>/<subject>/<device>/programme``; the subject comes from the file name, the site
and device are :data:`SITE` and :data:`DEVICE`. The demo stores them; the MQTT simulator
publishes them. Every line is decoded and validated before anything is stored.
"""

from __future__ import annotations

from pathlib import Path

from devices.errors import AdherenceError, DataFileError
from devices.mqtt_wire import TopicParts
from devices.programme import ProgrammeEvent, decode_programme_payload
from ingest.store import Store

SUFFIX = ".programme.jsonl"
SITE = "clinic-1"
DEVICE = "app-1"


def programme_files(folder: str | Path) -> list[Path]:
    """The ``*.programme.jsonl`` files of ``folder`` (sorted; none when it does not exist)."""
    d = Path(folder)
    return sorted(d.glob(f"*{SUFFIX}")) if d.is_dir() else []


def file_payloads(path: Path) -> tuple[str, list[bytes]]:
    """(subject, the file's payloads, one per non-empty line)."""
    subject = path.name.removesuffix(SUFFIX)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    return subject, [line for line in raw.splitlines() if line.strip()]


def read_programme_events(folder: str | Path) -> list[ProgrammeEvent]:
    """Decode every payload of every file in ``folder``; raise DataFileError naming file:line."""
    out: list[ProgrammeEvent] = []
    for path in programme_files(folder):
        subject, payloads = file_payloads(path)
        parts = TopicParts("", SITE, subject, DEVICE, "programme")
        for n, payload in enumerate(payloads, start=1):
            try:
                out.extend(decode_programme_payload(parts, payload))
            except AdherenceError as exc:
                raise DataFileError(f"{path}:{n}", f"bad programme payload: {exc}") from exc
    return out


def import_programme_events(store: Store, events: list[ProgrammeEvent]) -> int:
    """Store the events (a replay stores nothing new); return how many were new."""
    with store.transaction():
        return store.put_programme_events(events)
