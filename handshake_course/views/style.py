"""Shared look of every figure: a colour-blind-safe palette (Okabe & Ito, 2008) with a distinct
line style and marker per series, so that figures stay readable in greyscale too, plus the helpers
that get an Axes ready and read the model's column arrays without copying them packet by packet.
"""

from __future__ import annotations

from array import array
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path
from matplotlib.textpath import TextPath
from matplotlib.transforms import Bbox

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Okabe-Ito palette
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#8C8C8C"
OKABE_ITO: tuple[str, ...] = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY_BLUE, BLACK, YELLOW)

LABEL_POINTS = 8.5
"""The smallest text a figure shows (guide, marker and edge labels): legible at 80 dpi in a browser
(tests/test_figure_text.py holds every dashboard to at least 8 pt)."""

KIND_COLOURS: dict[str, str] = {"SYN": BLUE, "SYN-ACK": ORANGE, "ACK": GREEN, "RST": VERMILLION, "DATA": PURPLE,
                                "FIN": SKY_BLUE}
"""One colour per packet kind, the same in every figure."""

SERIES: tuple[tuple[str, Any, str], ...] = (
    (BLUE, "-", "o"),
    (ORANGE, "--", "s"),
    (GREEN, "-.", "^"),
    (VERMILLION, ":", "D"),
    (PURPLE, (0, (5, 1, 1, 1)), "v"),
    (SKY_BLUE, (0, (3, 1, 1, 1, 1, 1)), "P"),
    (BLACK, (0, (1, 2)), "X"),
)
"""(colour, linestyle, marker) for the n-th series of a comparison plot."""


def series_style(i: int) -> tuple[str, Any, str]:
    """The style of the i-th series: the colours cycle after len(SERIES); each further round pairs
    them with other line styles and markers, so the 1st and 8th of thirteen kernels still differ."""
    n = len(SERIES)
    colour = SERIES[i % n][0]
    _, line, marker = SERIES[(i + 3 * (i // n)) % n]
    return colour, line, marker


def prepare_axes(ax: Axes | None, figsize: tuple[float, float], view: str, reuse: bool = True) -> Axes:
    """The Axes to draw on: a new pyplot figure if none is given (so notebooks show it; constrained
    layout keeps the legends placed beside the axes in view), else the given one emptied, so that a
    dashboard can redraw the same figure in place.

    An Axes that ``view`` drew last time is emptied lightly (its artists removed, its axis and tick
    objects kept), which saves a third of a redraw; the view then sets every property it uses
    again (``reuse=False``: a view that does not, because it inverts or rescales an axis, say). Any
    other Axes is cleared fully with ``ax.clear()``.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    elif reuse and getattr(ax, VIEW_TAG, None) == view:
        _empty(ax)
    else:
        previous = getattr(ax, VIEW_TAG, None)
        ax.clear()
        ax.set_axis_on()  # clear() keeps these, which the ladder and the state graph change
        for spine in ax.spines.values():
            spine.set_visible(True)
        if previous == "state_graph":  # networkx 3.2 hides the ticks through tick_params
            ax.tick_params(reset=True)
    setattr(ax, VIEW_TAG, view)
    return ax


VIEW_TAG = "_handshake_course_view"


def _empty(ax: Axes) -> None:
    """Remove what a view added to ``ax``, keeping its axis objects (and their ticks)."""
    for artist in (*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images, *ax.tables,
                   *ax.artists):
        artist.remove()
    ax.containers.clear()
    if ax.legend_ is not None:
        ax.legend_.remove()
    ax.dataLim.set_points(Bbox.null().get_points())
    ax.ignore_existing_data_limits = True


def column(values: array, dtype: Any = np.int64) -> np.ndarray:
    """A numpy view of one of the model's ``array`` columns (no per-element Python work)."""
    if len(values) == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(values, dtype=dtype)


@lru_cache(maxsize=64)
def _text_path(text: str, size: float, pad: float, weight: str, side: str) -> tuple[Path, float]:
    glyphs = TextPath((0, 0), text, prop=FontProperties(size=size, weight=weight))
    ext = glyphs.get_extents()
    left = ext.x0 - pad if side == "right" else ext.x1 + pad
    verts = glyphs.vertices - np.array([left, (ext.y0 + ext.y1) / 2])
    return Path(verts, glyphs.codes), 2.0 * float(np.max(np.abs(verts)))


def text_marker(text: str, size: float = LABEL_POINTS, pad: float = 3.0, weight: str = "normal",
                side: str = "right") -> tuple[MarkerStyle, float]:
    """A marker that writes ``text`` (``size`` points high) starting ``pad`` points to the ``side``
    ("right" or "left") of the point, and the markersize that keeps it at that size.

    One Line2D with this marker labels many points at the cost of one artist: Agg renders a marker
    once and stamps it, where each Text is laid out and rendered on its own (about 1 ms each), so
    in-place redraws stay fast.
    """
    path, markersize = _text_path(text, size, pad, weight, side)
    return MarkerStyle(path), markersize
