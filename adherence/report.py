"""The coach's adherence report: one self-contained HTML page for a cohort.

Patients are sorted by risk (:func:`risk_level`), each with their flags and the reasons, and
per patient three charts: adherence over time, daily steps against the goal, and sessions and
repetitions against the plan. Everything is inline (CSS, SVG charts drawn here in Python, one
tiny script that only marks the page as rendered); a Content-Security-Policy forbids any
network load, so the page opens offline and from an e-mail attachment.

Figures come from :func:`adherence.scoring.score_plan` over the store's sessions and daily
summaries, i.e. the same numbers ``rescore`` stores; building a report writes nothing. Every
string put into the page is HTML-escaped. Subject ids appear as they are in the care plans
(coach-facing pseudonymous ids); device ids, session sources and file names never do.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adherence.outcomes import daily_pain_values
from adherence.plan import CarePlan
from adherence.programme_data import ProgrammeResult, evaluate_and_flag, load_inputs
from adherence.scoring import LOW_ADHERENCE, DayScore, score_plan, summaries_by_day
from devices.errors import DataFileError
from devices.files import write_private
from ingest.store import Store

__all__ = [
    "RISK_ORDER",
    "PatientView",
    "risk_level",
    "patient_views",
    "render_report",
    "write_report",
]

#: Risk levels, most urgent first (the report's sort order).
RISK_ORDER = ("high", "no data", "medium", "low")
#: Flags that alone make a patient high risk.
HIGH_RISK_FLAGS = frozenset({"NO_RECENT_SESSION", "LOW_WEEKLY_ADHERENCE"})
#: Composite score (0-100) under which a patient is high / medium risk.
HIGH_RISK_BELOW = 50.0
MEDIUM_RISK_BELOW = 80.0

_COLORS = {
    "composite": "#1f5fa8",
    "exercise": "#2e8b57",
    "steps": "#d9822b",
    "goal": "#c0392b",
    "bar": "#4a7fc1",
    "bar_unjudged": "#b8c4d4",
    "planned": "#d5dde8",
    "done": "#2e8b57",
    "grid": "#e3e7ed",
    "pain": "#8e44ad",
    "axis": "#5b6470",
}
_RISK_COLORS = {"high": "#c0392b", "no data": "#7f8c8d", "medium": "#d9822b", "low": "#2e8b57"}


def _e(value: object) -> str:
    """HTML-escape any value (quotes too: safe inside attributes)."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class PatientView:
    """One patient's scored days up to ``today`` and their risk level."""

    plan: CarePlan
    days: list[DayScore]
    risk: str
    programme: ProgrammeResult | None = None
    """Whole-programme figures (components, pain outcomes); ``None`` before the start."""
    pain_by_day: dict[dt.date, float] = field(default_factory=dict)
    """The day values of pain NRS (0-10) the outcomes are computed from (``docs/scoring.md``)."""

    @property
    def latest(self) -> DayScore | None:
        """The latest scored day (``None`` before the programme starts)."""
        return self.days[-1] if self.days else None

    def sort_key(self) -> tuple[int, float, str]:
        """Risk rank, then composite score ascending (no score first), then subject id."""
        comp = self.latest.composite if self.latest and self.latest.composite is not None else -1.0
        return (RISK_ORDER.index(self.risk), comp, self.plan.subject)


def risk_level(day: DayScore | None) -> str:
    """Risk of a patient from their latest scored day: ``high``, ``no data``, ``medium``, ``low``.

    * ``high``: composite under :data:`HIGH_RISK_BELOW` (points of 100), a flag in
      :data:`HIGH_RISK_FLAGS`, or two flags or more;
    * ``no data``: no composite score and no flag (nothing planned or nothing judgeable yet);
    * ``medium``: any other flag, or composite under :data:`MEDIUM_RISK_BELOW`;
    * ``low``: otherwise.
    """
    if day is None:
        return "no data"
    codes = {f.code for f in day.flags}
    if (
        (day.composite is not None and day.composite < HIGH_RISK_BELOW)
        or codes & HIGH_RISK_FLAGS
        or len(codes) >= 2
    ):
        return "high"
    if day.composite is None and not codes:
        return "no data"
    if codes or (day.composite is not None and day.composite < MEDIUM_RISK_BELOW):
        return "medium"
    return "low"


def patient_views(
    store: Store, plans: Sequence[CarePlan], *, today: dt.date | None = None
) -> list[PatientView]:
    """Score every plan's days up to ``today`` (default: now in the plan's time zone), most at
    risk first (see :func:`risk_level` and :meth:`PatientView.sort_key`). Reads the store only."""
    views = []
    for plan in plans:
        now_day = today if today is not None else dt.datetime.now(tz=plan.tz).date()
        last = min(plan.end_date, now_day)
        days: list[DayScore] = []
        if last >= plan.start_date:
            lo, _ = plan.day_bounds_ns(plan.start_date)
            _, hi = plan.day_bounds_ns(last)
            sessions = store.sessions(plan.subject, lo, hi)
            summaries = summaries_by_day(store, plan.subject, plan.start_date, last)
            days = score_plan(plan, sessions, summaries, today=now_day)
        programme = bool(days) and plan.components is not None  # old plans: as before
        prog = evaluate_and_flag(store, plan, days) if programme else None  # adds pain flags
        pain = daily_pain_values(plan, load_inputs(store, plan, last).pain) if programme else {}
        latest = days[-1] if days else None
        views.append(PatientView(plan, days, risk_level(latest), prog, pain))
    return sorted(views, key=PatientView.sort_key)


# -- SVG charts ---------------------------------------------------------------------------------

_W, _H = 350, 200
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 46, 12, 14, 40


def _nice_max(v: float) -> float:
    """A round axis maximum >= v (1, 2, 2.5 or 5 times a power of ten)."""
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= v:
            return float(m * exp)
    return float(10 * exp)  # pragma: no cover


class _Frame:
    """Plot area geometry: ``n`` day slots on x, 0..``ymax`` on y."""

    def __init__(self, n: int, ymax: float) -> None:
        self.n = max(n, 1)
        self.ymax = ymax
        self.x0, self.x1 = _PAD_L, _W - _PAD_R
        self.y0, self.y1 = _H - _PAD_B, _PAD_T

    def slot(self) -> float:
        return (self.x1 - self.x0) / self.n

    def cx(self, i: int) -> float:
        return self.x0 + (i + 0.5) * self.slot()

    def y(self, v: float) -> float:
        return self.y0 - (self.y0 - self.y1) * max(0.0, min(v, self.ymax)) / self.ymax


def _axes(f: _Frame, days: Sequence[dt.date], y_label: str, fmt: str = "{:g}") -> list[str]:
    out = []
    for k in range(5):
        v = f.ymax * k / 4
        y = f.y(v)
        out.append(
            _hline(f, y, _COLORS["grid"])
            + f'<text x="{f.x0 - 4}" y="{y + 3:.1f}" text-anchor="end" class="tick">'
            f"{_e(fmt.format(v))}</text>"
        )
    every = max(1, math.ceil(len(days) / 14))
    for i, d in enumerate(days):
        if i % every == 0:
            out.append(
                f'<text x="{f.cx(i):.1f}" y="{f.y0 + 13}" text-anchor="middle" class="tick">'
                f"{d.day}</text>"
            )
    if days:
        out.append(
            f'<text x="{f.x0}" y="{f.y0 + 27}" class="tick">{_e(days[0].strftime("%b %Y"))}</text>'
        )
    out.append(
        f'<line x1="{f.x0}" y1="{f.y0}" x2="{f.x1}" y2="{f.y0}" stroke="{_COLORS["axis"]}"/>'
        f'<text x="12" y="{(f.y0 + f.y1) / 2:.0f}" class="tick" text-anchor="middle"'
        f' transform="rotate(-90 12 {(f.y0 + f.y1) / 2:.0f})">{_e(y_label)}</text>'
    )
    return out


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """Legend as HTML: (colour, style 'line'|'dash'|'box'|'text', label)."""
    parts = []
    for color, style, label in items:
        if style == "box":
            mark = f'<span class="key box" style="background:{color}"></span>'
        elif style == "text":
            mark = ""
        else:
            dash = "dashed" if style == "dash" else "solid"
            mark = f'<span class="key line" style="border-top:2px {dash} {color}"></span>'
        parts.append(f"<span>{mark}{_e(label)}</span>")
    return '<div class="legend">' + "".join(parts) + "</div>"


def _chart(title: str, kind: str, body: list[str], legend: Sequence[tuple[str, str, str]]) -> str:
    """The SVG of one chart (``kind`` names it for tests and styles), then its legend."""
    return (
        f'<svg class="chart" data-chart="{_e(kind)}" viewBox="0 0 {_W} {_H}" width="{_W}"'
        f' height="{_H}" role="img" aria-label="{_e(title)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>' + "".join(body) + "</svg>"
    ) + _legend(legend)


def _hline(f: _Frame, y: float, color: str, dash: str | None = None) -> str:
    """A line across the plot at SVG height ``y``, dashed by the SVG ``dash`` pattern if given."""
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line x1="{f.x0}" y1="{y:.1f}" x2="{f.x1}" y2="{y:.1f}" stroke="{color}"{dashed}/>'


def _bar(
    f: _Frame, x: float, w: float, value: float, fill: str, *, title: str = "", attrs: str = ""
) -> str:
    """A bar ``w`` wide from ``x`` (SVG units) up from the axis to ``value``, with a tooltip
    ``title`` when given and extra SVG ``attrs``."""
    y = f.y(value)
    rect = (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{f.y0 - y:.1f}" fill="{fill}"'
        + attrs
    )
    return f"{rect}><title>{_e(title)}</title></rect>" if title else rect + "/>"


def _polyline(f: _Frame, values: Sequence[float | None], color: str, dash: bool) -> list[str]:
    """A line through the non-missing values (a gap breaks it), with a dot on each."""
    out: list[str] = []
    run: list[str] = []
    extra = ' stroke-dasharray="5 3"' if dash else ""

    def flush() -> None:
        if len(run) > 1:
            out.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2"{extra}'
                f' points="{" ".join(run)}"/>'
            )
        run.clear()

    for i, v in enumerate(values):
        if v is None:
            flush()
            continue
        x, y = f.cx(i), f.y(v)
        run.append(f"{x:.1f},{y:.1f}")
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>')
    flush()
    return out


def adherence_chart(days: Sequence[DayScore]) -> str:
    """SVG: composite score, 7-day exercise adherence and step attainment (0-100 %) per day."""
    f = _Frame(len(days), 100.0)
    dates = [d.day for d in days]
    body = _axes(f, dates, "score / %")
    body.append(_hline(f, f.y(100 * LOW_ADHERENCE), _COLORS["goal"], "2 3"))

    def pct(v: float | None) -> float | None:
        return None if v is None else 100 * v

    body += _polyline(f, [d.composite for d in days], _COLORS["composite"], False)
    body += _polyline(f, [pct(d.exercise_adherence_7d) for d in days], _COLORS["exercise"], True)
    body += _polyline(f, [pct(d.step_attainment_7d) for d in days], _COLORS["steps"], True)
    return _chart(
        "Adherence over time",
        "adherence",
        body,
        [
            (_COLORS["composite"], "line", "composite score"),
            (_COLORS["exercise"], "dash", "exercise adherence, 7 days"),
            (_COLORS["steps"], "dash", "step-goal attainment, 7 days"),
            (_COLORS["goal"], "dash", f"{round(100 * LOW_ADHERENCE)} % threshold"),
        ],
    )


def steps_chart(days: Sequence[DayScore]) -> str:
    """SVG: daily steps (bars; pale when the day had too little wear to judge) and the goal."""
    top = max([d.step_goal for d in days] + [d.steps or 0 for d in days] + [1])
    f = _Frame(len(days), _nice_max(top * 1.05))
    body = _axes(f, [d.day for d in days], "steps / day")
    w = f.slot() * 0.7
    goal_pts = []
    for i, d in enumerate(days):
        if d.judgeable and d.steps is not None:
            title = f"{d.day.isoformat()}: {d.steps} steps, goal {d.step_goal}"
            body.append(_bar(f, f.cx(i) - w / 2, w, d.steps, _COLORS["bar"], title=title))
        elif not d.pending:
            body.append(_unjudged_bar(f, i, w, d))
        x0, x1 = f.cx(i) - f.slot() / 2, f.cx(i) + f.slot() / 2
        gy = f.y(d.step_goal)
        goal_pts.append(f"{x0:.1f},{gy:.1f} {x1:.1f},{gy:.1f}")
    if goal_pts:
        body.append(
            f'<polyline fill="none" stroke="{_COLORS["goal"]}" stroke-width="2"'
            f' points="{" ".join(goal_pts)}"/>'
        )
    return _chart(
        "Daily steps against goal",
        "steps",
        body,
        [
            (_COLORS["bar"], "box", "steps"),
            (_COLORS["bar_unjudged"], "box", "too little wear to judge (not a zero)"),
            (_COLORS["goal"], "line", "daily goal"),
        ],
    )


def _unjudged_bar(f: _Frame, i: int, w: float, d: DayScore) -> str:
    """A pale full-height column for a day with too little wear to judge: never a zero bar.

    The column reaches the day's goal so it is seen even when no step was counted; its tooltip
    gives the steps counted and the wear minutes.
    """
    worn = "no wear" if not d.wear_min else f"{d.wear_min} min worn"
    counted = "no data" if d.steps is None else f"{d.steps} steps counted"
    title = f"{d.day.isoformat()}: too little wear to judge ({worn}, {counted})"
    x, fill = f.cx(i) - w / 2, _COLORS["bar_unjudged"]
    return _bar(f, x, w, d.step_goal, fill, title=title, attrs=' data-unjudged="1"')


def _reps(d: DayScore) -> tuple[int, int]:
    """(repetitions done, repetitions prescribed) over the day's planned sessions."""
    done = sum(v[0] for s in d.sessions for v in s.per_exercise.values())
    planned = sum(v[1] for s in d.sessions for v in s.per_exercise.values())
    return done, planned


def sessions_chart(days: Sequence[DayScore]) -> str:
    """SVG: repetitions done (green) against prescribed (grey) per day, and sessions done/planned."""
    counts = [_reps(d) for d in days]
    top = max([max(a, b) for a, b in counts] + [1])
    f = _Frame(len(days), _nice_max(top * 1.15))
    body = _axes(f, [d.day for d in days], "repetitions")
    w = f.slot() * 0.7
    for i, (d, (done, planned)) in enumerate(zip(days, counts, strict=True)):
        x = f.cx(i) - w / 2
        if planned:
            body.append(_bar(f, x, w, planned, _COLORS["planned"]))
        if done:
            body.append(_bar(f, x + w * 0.15, w * 0.7, done, _COLORS["done"]))
        if d.sessions:
            n_planned = len(d.sessions)
            n_done = sum(s.done for s in d.sessions)
            y = f.y(max(done, planned)) - 4
            body.append(
                f'<text x="{f.cx(i):.1f}" y="{y:.1f}" text-anchor="middle" class="tick">'
                f"{n_done}/{n_planned}<title>{_e(d.day.isoformat())}: {n_done} of {n_planned}"
                f" planned session(s) done, {done} of {planned} repetitions</title></text>"
            )
    return _chart(
        "Sessions and repetitions against plan",
        "sessions",
        body,
        [
            (_COLORS["planned"], "box", "repetitions prescribed"),
            (_COLORS["done"], "box", "repetitions done"),
            (_COLORS["axis"], "text", "n/m above a day: planned sessions done / planned"),
        ],
    )


def pain_chart(
    days: Sequence[DayScore], pain_by_day: dict[dt.date, float], baseline: float | None
) -> str:
    """SVG: the day values of pain NRS (0-10, a line; a gap where no report) against the
    baseline (dashed) and the clinically important improvement line (baseline - max(2 points,
    30 %), dotted)."""
    f = _Frame(len(days), 10.0)
    body = _axes(f, [d.day for d in days], "pain NRS 0-10")
    legend = [(_COLORS["pain"], "line", "pain, day value")]
    if baseline is not None:
        target = baseline - max(2.0, 0.3 * baseline)
        for value, dash, color in (
            (baseline, "5 3", _COLORS["axis"]),
            (target, "2 3", _COLORS["exercise"]),
        ):
            if value >= 0:
                body.append(_hline(f, f.y(value), color, dash))
        legend += [
            (_COLORS["axis"], "dash", f"baseline {baseline:.1f}"),
            (_COLORS["exercise"], "dash", "clinically important improvement"),
        ]
    body += _polyline(f, [pain_by_day.get(d.day) for d in days], _COLORS["pain"], False)
    return _chart("Pain against baseline", "pain", body, legend)


_COMPONENT_LABELS = {
    "exercise": "exercise sessions",
    "steps": "step goal",
    "education": "education items",
    "cbt": "CBT modules",
    "mindfulness": "mindfulness",
    "coaching": "coaching contacts",
    "symptoms_pain": "pain reports",
    "symptoms_peg": "PEG reports",
}


def components_table(v: PatientView) -> str:
    """The latest day's programme components: adherence, done against expected, window."""
    res = v.programme
    if res is None or not res.days or not res.days[-1].components:
        return ""
    day = res.days[-1]
    rows = "".join(
        f"<tr><td>{_e(_COMPONENT_LABELS.get(c.component, c.component))}</td>"
        f'<td class="num">{_fmt_pct(c.adherence)}</td>'
        f'<td class="num">{c.done:g} of {"–" if c.expected is None else f"{c.expected:.3g}"}</td>'
        f'<td class="num">{c.window_days} d</td></tr>'
        for c in day.components
    )
    comp = "–" if day.programme_composite is None else f"{day.programme_composite:.1f}"
    return (
        '<table class="components" data-table="components"><thead><tr><th>component</th>'
        "<th>adherence</th><th>done</th><th>window</th></tr></thead>"
        f"<tbody>{rows}</tbody><tfoot><tr><td>programme score</td>"
        f'<td class="num">{comp}</td><td></td><td></td></tr></tfoot></table>'
    )


def _pain_text(v: PatientView) -> str:
    """``3.4 vs 5.6 (-39 %)`` for the cohort table: last-7-day pain against baseline."""
    res = v.programme
    p = None if res is None else res.outcomes.pain
    if p is None or p.last_7d is None or p.baseline is None:
        return "–"
    pct = "" if p.change_pct is None else f" ({p.change_pct:+.0f} %)"
    return f"{p.last_7d:.1f} vs {p.baseline:.1f}{pct}"


# -- the page -----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2530;
background:#f6f8fb}
header{background:#1f3a5f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px}
main{padding:16px 24px;max-width:1700px}
table.cohort{border-collapse:collapse;background:#fff;width:100%;margin-bottom:20px}
table.cohort th{white-space:normal;vertical-align:bottom}
table.cohort td:last-child{min-width:380px}
table.cohort th,table.cohort td{border-bottom:1px solid #e3e7ed;padding:6px 8px;text-align:left;
vertical-align:top}
table.cohort td.num{text-align:right;white-space:nowrap}
table.components{border-collapse:collapse;font-size:12px;min-width:300px}
table.components th,table.components td{border-bottom:1px solid #e3e7ed;padding:3px 6px;text-align:left}
table.components td.num{text-align:right}
table.components tfoot td{font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;
font-weight:600;white-space:nowrap}
section.patient{background:#fff;border:1px solid #dfe4ea;border-radius:6px;margin:0 0 18px;
padding:12px 16px}
section.patient h2{margin:0 0 6px;font-size:18px}
ul.flags{margin:4px 0 10px;padding-left:20px}
ul.flags code{font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0}
figcaption{font-weight:600;margin-bottom:2px}
.tick{font-size:10px;fill:#5b6470}
.legend{font-size:11px;color:#5b6470;display:flex;flex-wrap:wrap;gap:10px;max-width:350px}
.key{display:inline-block;width:16px;margin-right:4px;vertical-align:middle}
.key.box{height:10px}
.muted{color:#5b6470}
"""

#: The page's only script: marks the page as rendered (used by the headless-browser test).
_SCRIPT = (
    "document.documentElement.setAttribute('data-rendered',"
    " String(document.querySelectorAll('svg.chart').length));"
)


def _fmt_pct(v: float | None) -> str:
    return "–" if v is None else f"{round(100 * v)} %"


def _fmt_trend(v: float | None) -> str:
    """Score change over 7 days in points: "▲ 3.2", "▼ 5.0", "= 0.0"; "–" when unknown."""
    if v is None:
        return "–"
    arrow = "▲" if v > 0 else ("▼" if v < 0 else "=")
    return f"{arrow} {abs(v):.1f}"


def _fmt(v: object) -> str:
    return "–" if v is None else _e(v)


def _badge(risk: str) -> str:
    return f'<span class="badge" style="background:{_RISK_COLORS[risk]}">{_e(risk)}</span>'


def _flags_html(d: DayScore | None) -> str:
    if d is None or not d.flags:
        return '<span class="muted">no flags</span>'
    items = "".join(f"<li><code>{_e(f.code)}</code>: {_e(f.reason)}</li>" for f in d.flags)
    return f'<ul class="flags">{items}</ul>'


def _cohort_table(views: Sequence[PatientView]) -> str:
    rows = []
    for i, v in enumerate(views):
        d = v.latest
        rows.append(
            "<tr>"
            f'<td><a href="#patient-{i}">{_e(v.plan.subject)}</a></td>'
            f"<td>{_badge(v.risk)}</td>"
            f'<td class="num">{_fmt(None if d is None else d.composite)}</td>'
            f'<td class="num">{_fmt_pct(None if d is None else d.exercise_adherence_7d)}</td>'
            f'<td class="num">{_fmt_pct(None if d is None else d.step_attainment_7d)}</td>'
            f'<td class="num">{"–" if d is None else f"{d.sessions_done_7d}/{d.sessions_planned_7d}"}</td>'
            f'<td class="num">{_fmt(None if d is None else d.days_since_last_session)}</td>'
            f'<td class="num">{_fmt_trend(None if d is None else d.trend_7d)}</td>'
            f'<td class="num">{_e(_pain_text(v))}</td>'
            f"<td>{_flags_html(d)}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>patient</th><th>risk</th><th>score</th><th>exercise, 7 d</th>"
        "<th>step goal met, 7 d</th><th>sessions, 7 d</th><th>days since session</th>"
        '<th title="composite score now minus 7 days ago, points">trend, 7 d</th>'
        '<th title="pain NRS, mean of the last 7 days vs baseline">pain vs baseline</th>'
        "<th>flags and reasons</th></tr>"
    )
    return f'<table class="cohort"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _programme_figures(v: PatientView) -> str:
    """The pain chart (when the patient reports pain) and the components table (when the plan
    prescribes components), as figures beside the three charts."""
    out = ""
    if v.pain_by_day:
        base = None if v.programme is None else v.programme.outcomes.pain.baseline
        out += (
            "<figure><figcaption>Pain against baseline</figcaption>"
            f"{pain_chart(v.days, v.pain_by_day, base)}</figure>"
        )
    table = components_table(v)
    if table:
        out += f"<figure><figcaption>Programme components, 7 days</figcaption>{table}</figure>"
    return out


def _patient_section(i: int, v: PatientView) -> str:
    d = v.latest
    if not v.days:
        charts = '<p class="muted">The programme has not started yet.</p>'
    else:
        charts = (
            '<div class="charts">'
            f"<figure><figcaption>Adherence over time</figcaption>{adherence_chart(v.days)}</figure>"
            f"<figure><figcaption>Daily steps against goal</figcaption>{steps_chart(v.days)}</figure>"
            "<figure><figcaption>Sessions and repetitions against plan</figcaption>"
            f"{sessions_chart(v.days)}</figure>"
            f"{_programme_figures(v)}"
            "</div>"
        )
    as_of = "" if d is None else f" · as of {_e(d.day.isoformat())}"
    return (
        f'<section class="patient" id="patient-{i}" data-subject="{_e(v.plan.subject)}"'
        f' data-risk="{_e(v.risk)}">'
        f"<h2>{_e(v.plan.subject)} {_badge(v.risk)}</h2>"
        f'<div class="muted">programme {_e(v.plan.programme)} · {_e(v.plan.start_date.isoformat())}'
        f" to {_e(v.plan.end_date.isoformat())} ({_e(v.plan.timezone)}){as_of}"
        f" · score {_fmt(None if d is None else d.composite)}</div>"
        f"{_flags_html(d)}{charts}</section>"
    )


def render_report(
    store: Store,
    plans: Sequence[CarePlan],
    *,
    today: dt.date | None = None,
    title: str = "Adherence report",
    generated: dt.datetime | None = None,
) -> str:
    """The complete report page as an HTML string (UTF-8, self-contained, no network loads).

    ``today`` is the current local day for scoring (default: now in each plan's time zone);
    ``generated`` is the time printed in the header (default: now, in this machine's local time
    zone; printed with its zone name and UTC offset, since coaches read local time).
    """
    views = patient_views(store, plans, today=today)
    when = (generated or dt.datetime.now(dt.UTC)).astimezone().replace(microsecond=0)
    as_of = sorted({(v.latest.day, v.latest.pending) for v in views if v.latest is not None})
    as_of_text = (
        " · as of "
        + _e(
            ", ".join(
                f"{d.isoformat()} ({'today, in progress' if p else 'final'})" for d, p in as_of
            )
        )
        if as_of
        else ""
    )
    counts = " · ".join(f"{sum(v.risk == r for v in views)} {_e(r)}" for r in RISK_ORDER)
    sections = "".join(_patient_section(i, v) for i, v in enumerate(views))
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline';"
        " img-src data:; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><div>{len(views)} patients · {counts}{as_of_text}"
        f" · generated {_e(_local_time(when))}</div></header><main>"
        f"{_cohort_table(views)}{sections}"
        '<p class="muted">Risk: high = score under 50, no recent session or weekly adherence'
        " under 50 %, or two flags or more; medium = any other flag or score under 80."
        " Figures are 7-day rolling windows ending on the day shown.</p>"
        f"</main><script>{_SCRIPT}</script></body></html>\n"
    )


def _local_time(t: dt.datetime) -> str:
    """``2026-11-24 09:50 CET (UTC+01:00)``: local time with its zone, to the minute."""
    off = t.strftime("%z")
    off = f"{off[:3]}:{off[3:]}" if off else ""
    return f"{t:%Y-%m-%d %H:%M} {t.tzname() or ''} (UTC{off})".replace("  ", " ")


def write_report(
    store: Store,
    plans: Sequence[CarePlan],
    out: str | Path,
    *,
    today: dt.date | None = None,
    title: str = "Adherence report",
) -> Path:
    """Render the report and write it to ``out`` (UTF-8); return the path.

    Raises :class:`DataFileError` if the file cannot be written.
    """
    path = Path(out)
    text = render_report(store, plans, today=today, title=title)
    try:
        write_private(path, text)  # 0600 in 0700 folders: health data
    except OSError as exc:
        raise DataFileError(str(path), f"cannot write: {exc.strerror or exc}") from exc
    return path
