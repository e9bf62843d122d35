"""How many connections listen(backlog) queues on each kernel: the accept queue and the SYN queue,
side by side (lesson 1), from the closed forms ``accept_capacity`` and ``syn_queue_capacity``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..model import Kernel, accept_capacity, syn_queue_capacity
from .style import BLUE, ORANGE, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_capacities(kernels: Sequence[Kernel], backlog: int, ax: Axes | None = None, current: str | None = None) -> Axes:
    """Accept-queue and SYN-queue capacity of listen(backlog) on each kernel, side by side."""
    ax = prepare_axes(ax, (6.0, 4.0), "capacities", reuse=False)
    labels = [k.version for k in kernels]
    acc = [accept_capacity(k, backlog) for k in kernels]
    syn = [syn_queue_capacity(k, backlog) for k in kernels]
    x = range(len(kernels))
    bars_a = ax.bar([i - 0.2 for i in x], acc, 0.4, color=ORANGE, label="accept queue (backlog + 1)")
    bars_s = ax.bar([i + 0.2 for i in x], syn, 0.4, color=BLUE, hatch="//", edgecolor="white",
                    label="SYN queue (before drops or cookies)")
    for bars in (bars_a, bars_s):
        ax.bar_label(bars, fontsize="small", padding=1)
    ax.set_xticks(list(x), [v + (" *" if v == current else "") for v in labels])
    ax.set_xlabel("Linux version")
    ax.set_ylabel("capacity (connections)")
    ax.set_title(f"listen({backlog}): queue capacities per version")
    ax.set_ylim(0, max(acc + syn + [1]) * 1.5)
    ax.legend(fontsize="small", loc="upper left")
    return ax
