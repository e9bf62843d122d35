"""The ephemeral ports connect() picks, call by call (lesson 2): how each version walks its range, and
how many of them are held over time when connections close and wait in TIME_WAIT."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .style import BLUE, GREY, ORANGE, SKY_BLUE, VERMILLION, prepare_axes

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


def port_use(result: Result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, ports held by open connections, ports held by closed ones) as step functions of
    time: a port is held from connect() until the connection fails, or from close() (FIN_WAIT, then
    TIME_WAIT) until its timewait socket ends (``time_wait_until``: its timer, or a connect() that
    took the port with tcp_tw_reuse); what is held at the end of the run stays held."""
    end = result.end
    changes: list[tuple[float, int, int]] = []  # (time, d open, d closed)
    for c in result.clients:
        if c.port is None:
            continue
        closed = c.closed_at
        stop = c.failed_at if c.failed_at is not None and (closed is None or c.failed_at < closed) else None
        changes.append((c.start, 1, 0))
        if closed is None:
            if stop is not None:
                changes.append((stop, -1, 0))
            continue
        changes.append((closed, -1, 1))
        if c.time_wait_until is not None:
            changes.append((c.time_wait_until, 0, -1))
    changes.sort(key=lambda change: change[0])
    changes.append((end, 0, 0))
    times = np.array([0.0] + [t for t, _, _ in changes])
    held_open = np.cumsum([0] + [d for _, d, _ in changes])
    held_closed = np.cumsum([0] + [d for _, _, d in changes])
    return times, held_open, held_closed


def plot_port_use(result: Result, ax: Axes | None = None) -> Axes:
    """The client host's ephemeral ports over time: held by open connections, held by closed ones
    (FIN_WAIT and TIME_WAIT), the size of the range, and each connect() that found no free port
    (EADDRNOTAVAIL) as a mark on top."""
    ax = prepare_axes(ax, (7.0, 4.0), "port_use")
    low, high = result.kernel.ip_local_port_range
    size = high - low + 1
    times, held_open, held_closed = port_use(result)
    ax.stackplot(times, held_open, held_closed, step="post", colors=(BLUE, SKY_BLUE), alpha=0.85,
                 labels=("ports of open connections", "ports of closed ones (FIN_WAIT, TIME_WAIT)"))
    ax.axhline(size, color=GREY, ls="--", lw=1.2, label=f"ip_local_port_range: {size:,} ports")
    failed = [c.start for c in result.clients if c.outcome == "no_port"]
    if failed:
        ax.plot(failed, [size] * len(failed), ls="none", marker="|", ms=10, color=VERMILLION,
                label=f"connect() failed, EADDRNOTAVAIL ({len(failed):,})")
    ax.set_xlim(0.0, result.end)
    ax.set_ylim(0.0, size * 1.25)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ephemeral ports held")
    ax.set_title(f"The client's ports, Linux {result.kernel.version}", fontsize="medium")
    ax.legend(fontsize="small", loc="upper right", ncols=2)
    return ax
