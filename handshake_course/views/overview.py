"""One figure that tells a result's story at a glance: the queue fill above, the packet ladder
below, on a shared time axis. Built on a bare matplotlib Figure (no pyplot), so the command line can
save it without a display and without touching pyplot's global state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from .ladder import plot_ladder, select_clients
from .queues import plot_queues

if TYPE_CHECKING:
    from ..model import Result


def overview_figure(result: Result, clients: Iterable[int] | None = None, max_clients: int = 8,
                    time_range: tuple[float, float] | None = None, flood: bool = False) -> Figure:
    """A Figure with plot_queues (top) and plot_ladder (bottom) sharing the time axis."""
    chosen = select_clients(result, clients, max_clients)
    lanes = len(chosen) + (1 if flood else 0)
    fig = Figure(figsize=(11.0, 3.4 + 0.75 * max(lanes, 1)), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3.0, 0.9 * max(lanes, 1) + 0.6])
    plot_queues(result, ax=top, time_range=time_range)
    plot_ladder(result, chosen, ax=bottom, max_clients=max_clients, flood=flood, time_range=time_range)
    top.set_xlabel("")
    return fig
