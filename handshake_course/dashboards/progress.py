"""A progress bar for a dashboard update that takes long: an ipywidgets bar in the dashboard, above
the figure, that appears only when the update's simulations look like lasting two seconds or more
(a slider at its far end: 40,000 clients, thirteen kernels), and goes away when they are done.

A bar in the dashboard itself, not ``tqdm``: a control change runs in a widget callback, whose
printed output JupyterLab sends to its log console, not to the cell. Widget state changes, on the
other hand, reach the front end while the kernel is still busy, so the bar moves as the model runs.
It is fed by ``simulate(..., progress=...)``, which reports simulated time about 200 times a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import ipywidgets as W

from ..model.simulation import Progress

SHOW_AFTER = 0.5
"""Seconds an update runs before the bar may appear (a shorter one never shows it)."""
SHOW_IF = 2.0
"""Seconds the update must look like taking, from its progress so far, for the bar to appear; one
that has already run this long shows it whatever it predicts."""
STEP = 0.01
"""The bar moves in steps of at least this fraction, so that a run sends at most about 100 messages."""


class UpdateProgress:
    """The bar of one dashboard. Each update calls ``start()``, passes ``callback(i, n)`` as the
    ``progress`` of the ``i``-th of its ``n`` simulations, and calls ``finish()``."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.widget = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="simulating",
                                      bar_style="info", layout=W.Layout(display="none", width="600px"))
        self.started = 0.0
        self.shown = False

    def start(self) -> None:
        """An update begins."""
        self.started = self.clock()
        self.widget.value = 0.0

    def callback(self, index: int = 0, runs: int = 1) -> Progress:
        """The ``progress`` argument for the ``index``-th (from 0) of the update's ``runs`` simulations."""
        def report(done: float, total: float) -> None:
            self.report((index + (done / total if total > 0 else 1.0)) / max(runs, 1))
        return report

    def report(self, fraction: float) -> None:
        """The update is ``fraction`` (0 to 1) done: show the bar if it will take long, move it."""
        elapsed = self.clock() - self.started
        if not self.shown:
            if elapsed < SHOW_AFTER or (elapsed < SHOW_IF and elapsed / max(fraction, 1e-6) < SHOW_IF):
                return
            self.shown = True
            self.widget.layout.display = ""
        if fraction >= 1.0 or fraction - self.widget.value >= STEP:
            self.widget.value = min(fraction, 1.0)

    def finish(self) -> None:
        """The update's simulations are done: hide the bar."""
        if self.shown:
            self.widget.layout.display = "none"
            self.shown = False
