"""Server-rendered SVG bar charts: geometry here, markup in the `chart` macro of reports/_macros.html.

Every figure a chart shows is rupees, written by the pages' one money filter, so a chart's
labels group like the table beside it (lakh: 8,79,436.08; or the organisation's choice).
"""
from dataclasses import dataclass
from decimal import Decimal

from webapp.web.filters import money


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass
class Chart:
    title: str
    width: int
    height: int
    bars: list
    axis: list  # (y, label) gridlines
    labels: list  # (x, y, text) category labels
    horizontal: bool
    left: int = 0


def _ticks(top):
    """Four round gridline values up to at least `top`."""
    if top <= 0:
        return [Decimal(0)]
    step = Decimal(10) ** (len(str(int(top))) - 1)
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 4:
            step *= factor
            break
    return [step * i for i in range(0, 5) if step * i <= top + step]


def columns(title, points, label_every=None, width=400, height=200):
    """Vertical bars over time: points are (label, value) in order."""
    left, bottom, top_pad = 52, 24, 8
    plot_w, plot_h = width - left - 4, height - bottom - top_pad
    top = max((v for _, v in points), default=0)
    ticks = _ticks(top)
    scale_top = ticks[-1] or Decimal(1)
    slot = plot_w / max(len(points), 1)
    every = label_every or max(1, -(-len(points) // 5))
    bars, labels = [], []
    for i, (label, value) in enumerate(points):
        # A day of net refunds (returns of older sales) draws no bar; its label shows the figure.
        h = float(max(value, 0) / scale_top) * plot_h if scale_top else 0
        x = left + i * slot
        bars.append(Bar(round(x + slot * 0.1, 1), round(top_pad + plot_h - h, 1),
                        round(max(slot * 0.8, 1), 1), round(h, 1), str(label), money(value)))
        if i % every == 0:
            labels.append((round(x + slot / 2, 1), height - 8, str(label)[5:]))
    axis = [(round(top_pad + plot_h - float(t / scale_top) * plot_h, 1), money(t)) for t in ticks]
    return Chart(title, width, height, bars, axis, labels, horizontal=False, left=left)


def rows(title, points, width=400, row_height=24):
    """Horizontal bars to compare (stores, products): points are (label, value), biggest first."""
    left = 84
    height = max(len(points), 1) * row_height + 8
    top = max(max((v for _, v in points), default=0), 0) or Decimal(1)
    bars, labels = [], []
    for i, (label, value) in enumerate(points):
        y = 4 + i * row_height
        w = float(max(value, 0) / top) * (width - left - 84)
        bars.append(Bar(left, y + 3, round(max(w, 1), 1), row_height - 8, str(label),
                        money(value)))
        labels.append((left - 6, y + row_height / 2 + 4, str(label)[:12]))
    return Chart(title, width, height, bars, [], labels, horizontal=True, left=left)
