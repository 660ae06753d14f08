"""The status page's chart of erasures per minute by outcome, laid out on the server as
stacked bars (the template draws them as an inline SVG: no script, no image request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from consumer.models import OUTCOMES

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 28  # room for the axis labels
HOUR_CHOICES = (1, 3, 6, 12, 24)
DEFAULT_HOURS = 3
# Dark enough for 4.5:1 against white (WCAG non-text contrast asks 3:1); told apart by the
# legend and the totals table too, never by colour alone.
COLOURS = {
    "deleted": "#1b7837",
    "already_deleted": "#2166ac",
    "not_mapped": "#6a3d9a",
    "stale": "#a64b00",
    "dry_run": "#4d4d4d",
    "failed": "#b2182b",
}
OTHER_COLOUR = "#000000"


@dataclass(frozen=True)
class Bar:
    """One outcome's part of one minute's bar."""

    x: float
    y: float
    width: float
    height: float
    outcome: str
    colour: str
    title: str


@dataclass(frozen=True)
class Tick:
    """A label on an axis, at a position along it."""

    at: float
    text: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the chart and its text alternative."""

    width: int
    height: int
    plot: tuple[int, int, int, int]  # left, top, right, bottom of the plotting area
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    totals: list[tuple[str, str, int]]  # (outcome, colour, erasures in the span)
    hours: int

    @property
    def total(self) -> int:
        """Every erasure outcome in the span."""
        return sum(n for _, _, n in self.totals)


def nice_top(peak: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... at or above peak."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= peak:
                return step * scale
        scale *= 10


def _order(series: list[tuple[int, dict[str, int]]]) -> list[str]:
    """Known outcomes in their usual order, then any other stored outcome by name."""
    seen = {o for _, counts in series for o in counts}
    return [o for o in OUTCOMES if o in seen] + sorted(seen - set(OUTCOMES))


def _clock(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%H:%M")


def draw(series: list[tuple[int, dict[str, int]]], hours: int) -> Chart:
    """Stacked bars, one per minute, from chart.series (oldest minute first)."""
    order = _order(series)
    top = nice_top(max((sum(c.values()) for _, c in series), default=0))
    left, right, plot_top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    step = (right - left) / max(len(series), 1)
    scale = (bottom - plot_top) / top
    bars = []
    for i, (minute, counts) in enumerate(series):
        y = float(bottom)
        for outcome in order:
            n = counts.get(outcome, 0)
            if n <= 0:
                continue
            y -= n * scale
            colour = COLOURS.get(outcome, OTHER_COLOUR)
            title = f"{_clock(minute)} UTC: {n} {outcome}"
            bars.append(
                Bar(left + i * step, y, max(step - 0.5, 0.5), n * scale, outcome, colour, title)
            )
    y_ticks = [Tick(bottom - v * scale, str(v)) for v in sorted({0, top // 2, top})]
    x_ticks = [
        Tick(left + i * step, _clock(minute))
        for i, (minute, _) in enumerate(series)
        if minute % _label_every(hours) == 0
    ]
    totals = [(o, COLOURS.get(o, OTHER_COLOUR), sum(c.get(o, 0) for _, c in series)) for o in order]
    return Chart(
        WIDTH, HEIGHT, (left, plot_top, right, bottom), bars, y_ticks, x_ticks, totals, hours
    )


def _label_every(hours: int) -> int:
    """Minutes between time labels: about six labels whatever the span."""
    return {1: 10, 3: 30, 6: 60, 12: 120}.get(hours, 240)
