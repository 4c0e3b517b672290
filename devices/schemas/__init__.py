"""The published JSON Schemas of what crosses the project's edges, and a validator for them.

The schema files beside this module (JSON Schema draft 2020-12) are the machine-readable form of
the formats documented in ``docs/mqtt.md`` (JSON payloads on the wire) and ``docs/care_plan.md``
(care plans), plus the Open mHealth ``step-count`` 3.0 data point the researcher export writes:

=============================  ==========================================================
``mqtt-samples-1``             ``step_total``, ``heart_rate``, ``symptom`` sample batches
``mqtt-session-1``             session ``start`` / ``stop`` events from the patient's app
``mqtt-status-1``              the retained device status and last will
``mqtt-feedback-1``            live-session feedback published to the app
``mqtt-receipt-1``             the collector's receipt to a device (what it committed)
``mqtt-programme-1``           programme events from the patient's app (education, CBT, ...)
``care-plan-1``                care-plan files (``adherence-care-plan/1``)
``omh-step-count-3.0``         Open mHealth step-count data points (researcher export)
=============================  ==========================================================

The decoders and the plan loader check every document against its schema *and* apply the rules a
schema cannot state (an exercise id must exist in the library, one plan per subject, ...), so a
payload or plan that passes here may still be refused there, never the other way round.

Examples
--------
>>> first_error("mqtt-status-1", {"v": 1, "state": "online", "t_ns": 1794304800000000000})
>>> first_error("mqtt-status-1", {"v": True, "state": "online", "t_ns": 1794304800000000000})
"v: True is not of type 'integer'"
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

NAMES = (
    "mqtt-samples-1",
    "mqtt-session-1",
    "mqtt-status-1",
    "mqtt-feedback-1",
    "mqtt-receipt-1",
    "mqtt-programme-1",
    "care-plan-1",
    "omh-step-count-3.0",
)
"""Names of the shipped schemas (file ``<name>.schema.json`` in this package)."""

MAX_MESSAGE = 160
"""Longest message returned (a 400-digit number in a payload must not flood a log line)."""

SAMPLE_STREAMS = ("step_total", "heart_rate", "symptom")
"""Streams whose payloads follow ``mqtt-samples-1``, each with its own value range."""


@cache
def schema(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of :data:`NAMES`) as a dict."""
    if name not in NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(NAMES)}")
    text = (
        resources.files("devices.schemas")
        .joinpath(f"{name}.schema.json")
        .read_text(encoding="utf-8")
    )
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def _validator(name: str, stream: str | None) -> Draft202012Validator:
    doc = schema(name)
    if stream is not None:
        if name != "mqtt-samples-1" or stream not in SAMPLE_STREAMS:
            raise KeyError(f"schema {name!r} has no stream rule {stream!r}")
        doc = {"allOf": [doc, doc["$defs"][stream]]}
    return Draft202012Validator(doc, format_checker=FormatChecker())


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@dataclass(frozen=True)
class Problem:
    """One schema violation: the field path (``plans[0].sessions[1].weekdays``; empty for the
    document itself) and the reason."""

    field: str
    why: str

    def __str__(self) -> str:
        return f"{self.field}: {self.why}" if self.field else self.why


def first_problem(name: str, doc: Any, *, stream: str | None = None) -> Problem | None:
    """The most relevant schema violation of ``doc`` (``jsonschema``'s best match), or ``None``.

    Parameters
    ----------
    name:
        One of :data:`NAMES`.
    doc:
        The decoded JSON document.
    stream:
        For ``mqtt-samples-1``: the topic's stream (``step_total``, ``heart_rate``, ``symptom``),
        which sets the value range.
    """
    err = best_match(_validator(name, stream).iter_errors(doc))
    if err is None:
        return None
    why = err.message if len(err.message) <= MAX_MESSAGE else err.message[: MAX_MESSAGE - 3] + "..."
    return Problem(_path(err.absolute_path), why)


def first_error(name: str, doc: Any, *, stream: str | None = None) -> str | None:
    """:func:`first_problem` as one line, ``"field.path: reason"``, or ``None`` when valid."""
    problem = first_problem(name, doc, stream=stream)
    return None if problem is None else str(problem)
