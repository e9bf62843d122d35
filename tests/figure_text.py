"""Where a figure's texts land once drawn: for tests that a learner can read every label.

``text_problems(fig)`` draws the figure and returns, for the texts matplotlib really draws (tick
labels of ticks inside the view, texts of visible axes, the clipped part of clipped texts), every
font under ``MIN_POINTS``, every text that leaves the figure, and every pair of texts that overlap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

MIN_POINTS = 8.0
SLACK = 1.0  # pixels: a shared edge or antialiasing is not an overlap


def undrawn_tick_labels(fig: Figure) -> set[int]:
    """ids of the tick labels of ticks outside their axis's view interval (matplotlib skips them)."""
    skipped: set[int] = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) or 1.0
            shown = ax.axison and axis.get_visible()
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                loc = tick.get_loc()
                if not shown or loc is None or not (low - 1e-9 * span <= loc <= high + 1e-9 * span):
                    skipped |= {id(tick.label1), id(tick.label2)}
    return skipped


def drawn_texts(fig: Figure) -> Iterator[tuple[Text, Bbox]]:
    """(text, its window extent clipped to its clip box) for every text the figure shows."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    skipped = undrawn_tick_labels(fig)
    for text in fig.findobj(Text):
        if id(text) in skipped or not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        box = text.get_window_extent(renderer)
        clip = text.get_clip_box() if text.get_clip_on() else None
        if clip is not None:
            box = Bbox.intersection(box, clip)
            if box is None:
                continue
        if np.all(np.isfinite(box.bounds)) and box.width > 0 and box.height > 0:
            yield text, box


def label(text: Text) -> str:
    return repr(text.get_text().replace("\n", " ")[:40])


def text_problems(fig: Figure) -> list[str]:
    """Fonts under MIN_POINTS, texts outside the figure, overlapping texts."""
    texts = list(drawn_texts(fig))
    page = fig.bbox
    found = [f"font of {t.get_fontsize():.1f} pt: {label(t)}" for t, _ in texts if t.get_fontsize() < MIN_POINTS]
    found += [f"outside the figure: {label(t)}" for t, b in texts
              if b.x0 < page.x0 - SLACK or b.y0 < page.y0 - SLACK or b.x1 > page.x1 + SLACK or b.y1 > page.y1 + SLACK]
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if width > SLACK and height > SLACK:
            found.append(f"overlap: {label(a)} / {label(b)}")
    return found
