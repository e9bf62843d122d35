"""Who gets in during a SYN flood (lesson 7): the share of legitimate clients that connected against
the attack rate, one line per kernel setting (the data of ``analysis.flood_sweep``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .style import BLUE, GREEN, ORANGE, VERMILLION, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_flood_sweep(sweep: dict[str, list[tuple[float, float, float | None]]], ax: Axes | None = None) -> Axes:
    """Share of legitimate clients that connected against the flood rate, one line per kernel setting
    (the data of ``analysis.flood_sweep``). Without ``ax``, draws a new pyplot figure."""
    ax = prepare_axes(ax, (7.5, 4.0), "flood_sweep", reuse=False)
    styles = [(BLUE, "-", "o"), (ORANGE, "--", "s"), (GREEN, "-.", "^"), (VERMILLION, ":", "D")]
    for i, (label, rows) in enumerate(sweep.items()):
        colour, ls, marker = styles[i % len(styles)]
        ax.plot([r[0] for r in rows], [100 * r[1] for r in rows], color=colour, ls=ls, marker=marker, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("flood rate (spoofed SYN/s, log scale)")
    ax.set_ylabel("legitimate clients connected (%)")
    ax.set_ylim(-3, 103)
    ax.set_title("Who gets in during a SYN flood")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    return ax
