"""The ephemeral ports connect() picks, call by call (lesson 2): how each version walks its range."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .style import BLUE, ORANGE, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result


def plot_ports(result: Result, ax: Axes | None = None) -> Axes:
    """The ephemeral port each connect() got, in call order; even and odd ports coloured apart."""
    ax = prepare_axes(ax, (6.0, 4.0), "ports", reuse=False)
    low, high = result.kernel.ip_local_port_range
    pts = [(c.index, c.port) for c in result.clients if c.port is not None]
    even = [(i, p) for i, p in pts if p % 2 == 0]
    odd = [(i, p) for i, p in pts if p % 2 == 1]
    if even:
        ax.plot(*zip(*even, strict=False), ls="none", marker="o", ms=4, color=BLUE, label=f"even port ({len(even)})")
    if odd:
        ax.plot(*zip(*odd, strict=False), ls="none", marker="s", ms=4, color=ORANGE, label=f"odd port ({len(odd)})")
    if pts:
        ports = [p for _, p in pts]
        pad = max(4, (max(ports) - min(ports)) * 0.08)
        ax.set_ylim(max(low, min(ports) - pad) - 1, min(high, max(ports) + pad) + 1)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("connect() call number (calls 10 ms apart)")
    ax.set_ylabel(f"ephemeral port (range {low}-{high})")
    ax.set_title(f"Ports connect() picks, Linux {result.kernel.version}", fontsize="medium")
    ax.legend(fontsize="small", loc="upper right")
    return ax
