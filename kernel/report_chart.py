"""An inline SVG bar chart of fixes over time, stacked by state, for the HTML report.

The chart buckets fixes by UTC day when they span up to ``_MAX_BARS`` days, by
week (starting on Monday) when they span up to that many weeks, and by month
otherwise, so the bars stay wide enough to see. Every bucket in the range gets
a bar, empty ones included, so gaps in time show as gaps in the chart.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from html import escape

from kernel.history import Fix, FixState

_MAX_BARS = 45

# Bottom to top in a stacked bar, and the order of the legend.
STATE_ORDER = (FixState.KEPT, FixState.CHANGED, FixState.REVERTED)
STATE_COLOR = {FixState.KEPT: "#2e7d32", FixState.CHANGED: "#1565c0", FixState.REVERTED: "#c76b00"}
STATE_LABEL = {
    FixState.KEPT: "kept",
    FixState.CHANGED: "changed by hand",
    FixState.REVERTED: "reverted",
}

# Drawing area in SVG user units; the page scales the SVG to its width.
_WIDTH, _HEIGHT = 760, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 40, 72


class Period(enum.Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Bucket:
    """The fixes committed in one day, week or month, counted by state."""

    start: date
    label: str
    kept: int = 0
    changed: int = 0
    reverted: int = 0

    @property
    def total(self) -> int:
        return self.kept + self.changed + self.reverted

    def count(self, state: FixState) -> int:
        return {
            FixState.KEPT: self.kept,
            FixState.CHANGED: self.changed,
            FixState.REVERTED: self.reverted,
        }[state]


def bucket_fixes(fixes: Sequence[Fix]) -> tuple[Period, list[Bucket]]:
    """Count ``fixes`` per day, week or month (UTC), oldest bucket first, empty ones included."""
    days = [fix.committed.astimezone(timezone.utc).date() for fix in fixes]
    if not days:
        return Period.DAY, []
    first, last = min(days), max(days)
    period = _period(first, last)

    starts = _bucket_starts(_bucket_start(first, period), _bucket_start(last, period), period)
    counts = {start: {state: 0 for state in FixState} for start in starts}
    for fix, day in zip(fixes, days, strict=True):
        counts[_bucket_start(day, period)][fix.state] += 1
    buckets = [
        Bucket(
            start,
            _label(start, period),
            counts[start][FixState.KEPT],
            counts[start][FixState.CHANGED],
            counts[start][FixState.REVERTED],
        )
        for start in starts
    ]
    return period, buckets


def render_chart(period: Period, buckets: Sequence[Bucket]) -> str:
    """Return an ``<svg>`` element drawing ``buckets`` as stacked bars, with axes and a legend."""
    title = f"Fixes per {period.value} (UTC), by state"
    total = sum(bucket.total for bucket in buckets)
    description = (
        f"{total} fixes from {buckets[0].label} to {buckets[-1].label}: "
        + ", ".join(
            f"{sum(b.count(state) for b in buckets)} {STATE_LABEL[state]}" for state in STATE_ORDER
        )
        + "."
    )
    step, top = _y_scale(max(bucket.total for bucket in buckets))

    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
    ]
    parts += _legend()
    parts += _y_axis(step, top)
    parts += _bars(buckets, top)
    parts += _x_axis(buckets, period)
    parts.append("</svg>")
    return "\n".join(parts)


# Buckets


def _period(first: date, last: date) -> Period:
    span = (last - first).days + 1
    if span <= _MAX_BARS:
        return Period.DAY
    if span <= _MAX_BARS * 7:
        return Period.WEEK
    return Period.MONTH


def _bucket_start(day: date, period: Period) -> date:
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def _bucket_starts(first: date, last: date, period: Period) -> list[date]:
    starts = [first]
    while starts[-1] < last:
        current = starts[-1]
        if period is Period.DAY:
            starts.append(current + timedelta(days=1))
        elif period is Period.WEEK:
            starts.append(current + timedelta(days=7))
        else:
            year, month = divmod(current.month, 12)
            starts.append(date(current.year + year, month + 1, 1))
    return starts


def _label(start: date, period: Period) -> str:
    return start.strftime("%Y-%m") if period is Period.MONTH else start.isoformat()


# Drawing


def _y_scale(maximum: int) -> tuple[int, int]:
    """Return (tick step, axis top) for at most 5 ticks; steps are 1, 2 or 5 times 10**n."""
    for power in itertools.count():
        for factor in (1, 2, 5):
            step = factor * 10**power
            if math.ceil(maximum / step) <= 5:
                return step, max(step, math.ceil(maximum / step) * step)
    raise AssertionError("unreachable: some power of ten exceeds every maximum")


def _plot_height() -> int:
    return _HEIGHT - _TOP - _BOTTOM


def _y(value: float, top: int) -> float:
    return _TOP + _plot_height() * (1 - value / top)


def _legend() -> list[str]:
    parts = []
    x = _LEFT
    for state in STATE_ORDER:
        parts.append(
            f'<rect x="{x}" y="10" width="12" height="12" fill="{STATE_COLOR[state]}"/>'
            f'<text x="{x + 18}" y="20" class="legend">{STATE_LABEL[state]}</text>'
        )
        x += 30 + 8 * len(STATE_LABEL[state])
    return parts


def _y_axis(step: int, top: int) -> list[str]:
    right = _WIDTH - _RIGHT
    parts = []
    for value in range(0, top + 1, step):
        y = _y(value, top)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" class="tick" text-anchor="end">{value}</text>'
        )
    middle = _TOP + _plot_height() / 2
    parts.append(
        f'<text x="14" y="{middle:.1f}" class="axis-title" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.1f})">fixes</text>'
    )
    return parts


def _bars(buckets: Sequence[Bucket], top: int) -> list[str]:
    slot = (_WIDTH - _LEFT - _RIGHT) / len(buckets)
    width = min(40.0, slot * 0.7)
    parts = []
    for index, bucket in enumerate(buckets):
        x = _LEFT + slot * index + (slot - width) / 2
        base = 0
        for state in STATE_ORDER:
            count = bucket.count(state)
            if count == 0:
                continue
            y_top, y_bottom = _y(base + count, top), _y(base, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                f'height="{y_bottom - y_top:.1f}" fill="{STATE_COLOR[state]}">'
                f"<title>{escape(bucket.label)}: {count} {STATE_LABEL[state]}</title></rect>"
            )
            base += count
    return parts


def _x_axis(buckets: Sequence[Bucket], period: Period) -> list[str]:
    bottom = _HEIGHT - _BOTTOM
    slot = (_WIDTH - _LEFT - _RIGHT) / len(buckets)
    every = math.ceil(len(buckets) / 12)  # at most 12 labels, so rotated labels do not overlap
    right = _WIDTH - _RIGHT
    parts = [f'<line x1="{_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>']
    for index in range(0, len(buckets), every):
        x = _LEFT + slot * (index + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" class="tick" text-anchor="end" '
            f'transform="rotate(-30 {x:.1f} {bottom + 16})">{escape(buckets[index].label)}</text>'
        )
    starting = "week starting" if period is Period.WEEK else period.value
    parts.append(
        f'<text x="{(_LEFT + _WIDTH - _RIGHT) / 2:.1f}" y="{_HEIGHT - 6}" class="axis-title" '
        f'text-anchor="middle">{starting} (UTC)</text>'
    )
    return parts
