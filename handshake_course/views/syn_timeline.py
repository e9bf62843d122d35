"""One connect()'s SYNs against the closed-form schedule (lesson 2): when the SYN timer fired, and
when connect() succeeded or gave up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import syn_schedule
from .style import BLUE, GREEN, GREY, LABEL_POINTS, VERMILLION, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result


def spaced(times: list[float], ax: Axes, points: float) -> list[float]:
    """The times whose labels, ``points`` wide, do not crowd the previously labelled one on ``ax``."""
    low, high = ax.get_xlim()
    width = ax.get_position().width * ax.figure.get_figwidth() * 72
    gap = points * (high - low) / max(width, 1.0)
    kept: list[float] = []
    for t in times:
        if not kept or t - kept[-1] >= gap:
            kept.append(t)
    return kept


def plot_syn_timeline(result: Result, ax: Axes | None = None, client: int = 0) -> Axes:
    """The SYNs one connect() sent (simulated), over the closed-form schedule (syn_schedule), and
    how the call ended."""
    ax = prepare_axes(ax, (7.0, 3.0), "syn_timeline", reuse=False)
    c = result.clients[client]
    kernel = result.kernel
    sched = syn_schedule(kernel, result.scenario.syncnt)
    ax.vlines(sched.send_times, 0.55, 0.95, color=GREY, lw=3, alpha=0.5, label="syn_schedule(): SYN sends")
    ax.axvline(sched.give_up, color=VERMILLION, ls="--", lw=1.5, label=f"give-up time: {sched.give_up:g} s")
    rel = [t - c.start for t in c.syn_times]
    ax.plot(rel, [0.75] * len(rel), ls="none", marker="v", ms=10, color=BLUE, label="SYNs sent (simulated)")
    ax.set_xlim(-0.02 * max(sched.give_up, 1), max(sched.give_up, rel[-1] if rel else 0) * 1.04 + 0.1)
    for t in spaced(rel, ax, 5.5 * LABEL_POINTS):  # a label is about 4 digits wide
        ax.annotate(f"{t:.3g}", (t, 0.75), xytext=(0, 9), textcoords="offset points", ha="center",
                    fontsize=LABEL_POINTS)
    if c.connected_at is not None:
        ax.plot([c.connected_at - c.start], [0.3], marker="o", ms=9, color=GREEN, ls="none",
                label=f"connected after {c.connected_at - c.start:.4g} s")
    elif c.failed_at is not None:
        ax.plot([c.failed_at - c.start], [0.3], marker="X", ms=10, color=VERMILLION, ls="none",
                label=f"connect() failed: {c.errno} at {c.failed_at - c.start:.4g} s")
    gaps = [b - a for a, b in zip(rel, rel[1:], strict=False)]
    gap_text = ", ".join(f"{g:.3g}" for g in gaps[:8]) + (" ..." if len(gaps) > 8 else "")
    ax.set_title(f"SYNs of the first connect(), Linux {kernel.version}", fontsize="medium")
    ax.set_yticks([])
    ax.set_ylim(0, 1.25)
    ax.set_xlabel("seconds since connect()" + (f"\ngaps between SYNs (s): {gap_text}" if gaps else ""))
    ax.legend(fontsize="small", loc="upper left", ncols=2)
    return ax
