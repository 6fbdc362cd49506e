"""The queue page's chart: screenings per day and outcome over the last 30
days, laid out here as SVG shapes so the page needs no script and no inline
style."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask_babel import gettext as _

from .. import storage
from ..core.model import OUTCOMES
from ..storage import Database
from .clock import day_start
from .forms import OUTCOME_LABELS

CHART_DAYS = 30
OUTCOME_COLOURS = {"eligible": "#1d6b35", "review": "#7a4b00", "deferred": "#0a58a8", "ineligible": "#9b1c1c"}


@dataclasses.dataclass(frozen=True)
class Bar:
    """One coloured segment of a day's column in the chart."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


def chart(db: Database, today: dt.date) -> dict[str, Any]:
    """Screenings per day and outcome over the last ``CHART_DAYS`` days, laid
    out as SVG shapes (no script, no inline style)."""
    days = [today - dt.timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    bounds = [(day.isoformat(), day_start(day), day_start(day + dt.timedelta(days=1))) for day in days]
    counts = storage.daily_status_counts(db, bounds)
    totals = [sum(counts.get((day.isoformat(), s), 0) for s in OUTCOMES) for day in days]
    top = max([*totals, 1])
    scale = nice_ceiling(top)
    # Room below and to the left for labels the phone stylesheet draws twice as large.
    width, height, left, bottom, top_pad = 640.0, 200.0, 48.0, 32.0, 8.0
    plot_height = height - bottom - top_pad
    step = (width - left) / len(days)
    bars: list[Bar] = []
    # The bar's title and the outcomes' names translated once, not once a bar: a month of
    # daily screenings draws 120 bars (2.4 ms of a queue page at a million screenings).
    title = _("%(day)s: %(n)d %(outcome)s")
    names = {status: str(OUTCOME_LABELS[status]) for status in OUTCOMES}
    for index, day in enumerate(days):
        y = height - bottom
        iso = day.isoformat()
        for status in OUTCOMES:
            n = counts.get((iso, status), 0)
            if not n:
                continue
            h = plot_height * n / scale
            y -= h
            label = title % {"day": iso, "n": n, "outcome": names[status]}
            bars.append(
                Bar(left + index * step + 2, round(y, 2), step - 4, round(h, 2), OUTCOME_COLOURS[status], label)
            )
    # Today, and a week apart before it; today's label ends at the chart's right
    # edge, since one centred under the last bar would run past it and be cut.
    last = len(days) - 1
    labels = [
        {
            "x": width if index == last else left + index * step + step / 2,
            "anchor": "end" if index == last else "middle",
            "text": day.strftime("%d %b"),
        }
        for index, day in enumerate(days)
        if (last - index) % 7 == 0
    ]
    by_status = {s: sum(counts.get((d.isoformat(), s), 0) for d in days) for s in OUTCOMES}
    return {
        "width": width,
        "height": height,
        "left": left,
        "baseline": height - bottom,
        "top": top_pad,
        "scale": scale,
        "bars": bars,
        "labels": labels,
        "legend": [(s, OUTCOME_LABELS[s], OUTCOME_COLOURS[s], by_status[s]) for s in OUTCOMES],
        "table": [
            (day, [counts.get((day.isoformat(), s), 0) for s in OUTCOMES], total)
            for day, total in zip(days, totals, strict=True)
        ],
        "total": sum(totals),
        "first": days[0],
        "last": days[-1],
    }


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... that is at least ``value``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if magnitude * factor >= value:
                return magnitude * factor
        magnitude *= 10
