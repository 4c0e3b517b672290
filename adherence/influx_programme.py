"""InfluxDB line protocol for the whole programme: the ``programme_daily`` point (pure, no I/O).

Same rules as :mod:`adherence.influx_schema` (documented in ``docs/influxdb.md``): tags only
``subject`` and ``programme``; counts integers, ratios and points floats, ``None``/NaN left out,
so field types never change; timestamped by the local midnight of the day it describes, so a
re-sent point overwrites itself.
"""

from __future__ import annotations

from adherence.influx_schema import FieldValue, line
from adherence.outcomes import PatientOutcomes
from adherence.programme_scoring import ProgrammeDay

__all__ = ["MEASUREMENT_PROGRAMME", "programme_daily_line"]

MEASUREMENT_PROGRAMME = "programme_daily"


def programme_daily_line(
    subject: str,
    programme: str,
    day_start_ns: int,
    day: ProgrammeDay,
    outcomes: PatientOutcomes | None = None,
) -> str | None:
    """The ``programme_daily`` point of one subject and local day (``None`` if it has no field).

    Fields: ``programme_composite`` (0-100); per prescribed component ``<name>_adherence``
    (0-1) and ``<name>_done`` (integer count; exercise and steps have theirs in
    ``adherence_daily``); when ``outcomes`` is for this day: ``pain_baseline``, ``pain_7d``,
    ``pain_change_points``, ``pain_change_pct``, ``pain_improved``, ``peg_baseline``,
    ``peg_7d``, ``peg_change_points`` (points 0-10, percent), ``outcome_flags``
    (comma-separated codes) and ``outcome_flag_count``. ``day_start_ns`` is local midnight, UTC ns.
    """
    fields: dict[str, FieldValue] = {"programme_composite": day.programme_composite}
    for c in day.components:
        fields[f"{c.component}_adherence"] = c.adherence
        if c.component not in ("exercise", "steps"):
            fields[f"{c.component}_done"] = int(c.done)
    if outcomes is not None and outcomes.as_of == day.day:
        p, g = outcomes.pain, outcomes.peg
        fields.update(
            {
                "pain_baseline": p.baseline,
                "pain_7d": p.last_7d,
                "pain_change_points": p.change_points,
                "pain_change_pct": p.change_pct,
                "pain_improved": p.improved,
                "peg_baseline": g.baseline,
                "peg_7d": g.last_7d,
                "peg_change_points": g.change_points,
                "outcome_flag_count": len(outcomes.flags),
                "outcome_flags": ",".join(f.code for f in outcomes.flags),
            }
        )
    tags = {"subject": subject, "programme": programme}
    return line(MEASUREMENT_PROGRAMME, tags, fields, day_start_ns)
