"""A dashboard's figure as the PNG its Image widget shows, with no more work than the change needs.

* **Still axes are not drawn again.** An axes whose artists did not change since the last frame
  (``Dashboard.draw_once`` knows: lesson 0's TCP state graph, which the round-trip time does not
  change) is left out of the figure's draw and its pixels from an earlier frame are put back
  (blitting: Agg's ``copy_from_bbox`` and ``restore_region``). Text is what Agg draws slowest,
  about a millisecond per label, and a state graph is mostly labels. The pixels are the same as a
  full draw's: the region saved is everything the axes draws (its tight box and its frame, with a
  margin for antialiasing), saved only while no other axes reaches into it, and put back only if
  the axes has not moved and no other axes reaches into it now; otherwise the frame is drawn whole.
* **An unchanged picture is not encoded again.** When a frame's pixels equal the last frame's (a
  control that changes nothing on the figure, such as lesson 9's hypothesis), the last PNG is
  reused; the Image widget then sees the same bytes and sends nothing to the browser.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox
from PIL import Image

MARGIN = 3.0
"""Pixels added around an axes' tight box: antialiased edges and rounded text boxes reach past it."""
OTHERS_MARGIN = 1.0
"""Pixels added around another axes' tight box when checking that it stays out of a saved region."""


@dataclass(frozen=True)
class _Saved:
    """The pixels of one axes, and where they were taken."""

    place: tuple[float, ...]  # the axes' position and the figure's size in pixels when saved
    box: Bbox  # the region, in display pixels
    pixels: Any  # matplotlib's BufferRegion


def place(ax: Axes) -> tuple[float, ...]:
    """Where an axes is drawn: its position in the figure and the figure's size in pixels (an axes
    drawn again at another place is another picture, even with the same artists)."""
    return (*ax.get_position().bounds, *ax.figure.bbox.size)


class FrameRenderer:
    """Draws one figure's frames and encodes them as PNG; see the module's docstring."""

    def __init__(self, canvas: FigureCanvasAgg) -> None:
        self.canvas = canvas
        self.fig = canvas.figure
        self._saved: dict[Axes, _Saved] = {}
        self._rgba = b""
        self._png = b""
        self.reused: list[Axes] = []  # the axes whose pixels the last frame put back
        self.encoded = False  # whether the last frame was encoded (False: the previous PNG again)

    def render(self, still: Collection[Axes] = (), keep: Collection[Axes] = ()) -> bytes:
        """Draw the figure and return it as PNG. ``still``: axes whose artists did not change since
        the last frame; ``keep``: axes whose pixels to save for later frames (those a dashboard
        draws only when they change)."""
        reuse = [ax for ax in still if ax in self._saved and self._saved[ax].place == place(ax)]
        if not (reuse and self._draw_without(reuse)):
            reuse = []
            self.canvas.draw()
        self.reused = reuse
        for ax in keep:
            if ax not in reuse:
                self._save(ax)
        return self._encode()

    def forget(self) -> None:
        """Drop every saved region (the next frame is drawn whole)."""
        self._saved.clear()

    def _others(self, axes: Collection[Axes]) -> list[Axes]:
        return [ax for ax in self.fig.axes if ax not in axes and ax.get_visible()]

    def _overlaps(self, box: Bbox, others: list[Axes]) -> bool:
        """Whether anything of the figure outside ``box``'s own axes reaches into ``box``."""
        fig = self.fig
        if fig.texts or fig.legends or fig.images or fig.lines or fig.patches or fig.artists:
            return True
        renderer = self.canvas.get_renderer()
        return any(box.overlaps(ax.get_tightbbox(renderer).padded(OTHERS_MARGIN)) for ax in others)

    def _draw_without(self, reuse: list[Axes]) -> bool:
        """Draw the figure without the ``reuse`` axes and put their saved pixels back; False (and
        nothing to use) if another axes now reaches into one of their regions."""
        for ax in reuse:
            ax.set_animated(True)  # Figure.draw leaves animated artists out
        try:
            self.canvas.draw()
        finally:
            for ax in reuse:
                ax.set_animated(False)
        others = self._others(reuse)
        if any(self._overlaps(self._saved[ax].box, others) for ax in reuse):
            return False
        for ax in reuse:
            self.canvas.restore_region(self._saved[ax].pixels)
        return True

    def _save(self, ax: Axes) -> None:
        """Save the pixels of ``ax`` just drawn, if no other axes reaches into its region."""
        self._saved.pop(ax, None)
        if not ax.get_visible():
            return
        renderer = self.canvas.get_renderer()
        tight = ax.get_tightbbox(renderer)
        box = Bbox.union([tight, ax.bbox] if tight is not None else [ax.bbox]).padded(MARGIN)
        box = Bbox.intersection(box, self.fig.bbox)
        if box is None or self._overlaps(box, self._others([ax])):
            return
        x0, y0, x1, y1 = (int(v) for v in (box.x0 // 1, box.y0 // 1, -(-box.x1 // 1), -(-box.y1 // 1)))
        pixel_box = Bbox.from_extents(x0, y0, x1, y1)
        self._saved[ax] = _Saved(place(ax), pixel_box, self.canvas.copy_from_bbox(pixel_box))

    def _encode(self) -> bytes:
        """The PNG of the canvas' pixels; the last one again if the pixels did not change."""
        width, height = self.canvas.get_width_height()
        rgba = bytes(self.canvas.buffer_rgba())
        if rgba == self._rgba and self._png:
            self.encoded = False
            return self._png
        image = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        image.save(buf, format="png", compress_level=1)
        self._rgba, self._png = rgba, buf.getvalue()
        self.encoded = True
        return self._png
