"""The listener's two queues over time: how full the SYN queue (request socks) and the accept queue
(established children waiting for accept()) are, against the limits listen() gave them, and where
the kernel dropped packets because one of them was full."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..model.clock import US
from ..model.result import trace_fields
from .style import BLUE, ORANGE, PURPLE, VERMILLION, column, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result

# Trace actions shown as drop marks: action name -> (legend text, which limit line, marker, colour).
DROP_MARKS: dict[str, tuple[str, str, str, str]] = {
    "syn_drop_syn_queue_full": ("SYN drop: SYN queue full", "syn", "v", VERMILLION),
    "syn_drop_last_quarter": ("SYN drop: last quarter", "syn", "1", VERMILLION),
    "syn_cookie": ("SYN-ACK with cookie", "syn", "*", PURPLE),
    "syn_drop_accept_queue_full": ("SYN drop: accept q. full", "accept", "v", VERMILLION),
    "ack_accept_queue_full": ("ACK drop: accept q. full", "accept", "x", VERMILLION),
    "ack_accept_queue_full_abort": ("RST: accept q. full", "accept", "D", VERMILLION),
    "ack_cookie_accept_queue_full": ("cookie ACK drop", "accept", "x", PURPLE),
}
"""Legend texts are short on purpose: every glyph costs redraw time (about 0.07 ms on Agg)."""
MARK_SPACING = 6.0  # points: drop marks of one kind at most this dense (evenly thinned), so that the
#                    queue lines stay visible under a flood; the legend gives the true count


def queue_steps(result: Result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, SYN-queue lengths, accept-queue lengths) as a step function that holds the last
    value until the end of the simulation: result.queues plus one closing point at result.end."""
    q = result.queues
    times, syn, acc = column(q.times, np.float64), column(q.syn), column(q.accept)
    if len(times) == 0:
        return times, syn, acc
    end = max(result.end, float(times[-1]))
    return np.append(times, end), np.append(syn, syn[-1]), np.append(acc, acc[-1])


def action_times(result: Result, names: list[str]) -> dict[str, np.ndarray]:
    """Times (s) of the trace events with the given action names, read from the trace's columns."""
    index = {a.name: i for i, a in enumerate(result.trace.actions)}
    codes = trace_fields(column(result.trace.info))[1]
    t = column(result.trace.time_us)
    return {n: t[codes == index[n]] / US for n in names if n in index}


def _thin(x: np.ndarray, most: int) -> np.ndarray:
    return x if len(x) <= most else x[np.linspace(0, len(x) - 1, most).astype(np.int64)]


def plot_queues(result: Result, ax: Axes | None = None, drops: bool = True,
                time_range: tuple[float, float] | None = None) -> Axes:
    """SYN-queue and accept-queue length over time (steps), with their limits as dashed lines.

    ``drops`` marks, on the limit line concerned, each moment the kernel dropped (or cookied) a
    packet because a queue was full. ``time_range`` = (start, end) in seconds zooms in.
    Returns the Axes; never shows the figure.
    """
    ax = prepare_axes(ax, (9.0, 3.6), "queues")
    kernel = result.kernel.version
    ax.set_title(f"Queues: Linux {kernel}, backlog {result.scenario.backlog}", y=1.0, pad=6)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("queue length (connections)")
    ax.yaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.grid(True, alpha=0.3)
    listener = result.listener
    if listener is None:
        ax.text(0.5, 0.5, "no listener (backlog=None): every SYN is answered with RST",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(*(time_range or (0.0, max(result.end, 1e-3))))
        return ax
    x, syn, acc = queue_steps(result)
    ax.step(x, syn, where="post", color=BLUE, lw=2, label="SYN queue", gid="syn_queue", zorder=3)
    ax.step(x, acc, where="post", color=ORANGE, lw=2, label="accept queue", gid="accept_queue", zorder=3)
    limit_y = {"syn": listener.syn_capacity, "accept": listener.accept_capacity}
    # dashes offset from each other, so that both limits stay visible when they are equal
    ax.axhline(limit_y["syn"], color=BLUE, ls=(0, (4, 4)), lw=1.4, gid="syn_limit",
               label=f"SYN-queue limit {listener.syn_capacity}")
    ax.axhline(limit_y["accept"], color=ORANGE, ls=(4, (4, 4)), lw=1.4, gid="accept_limit",
               label=f"accept-queue limit {listener.accept_capacity}")
    if drops:
        most = max(20, int(ax.get_position().width * ax.figure.get_figwidth() * 72 / MARK_SPACING))
        for name, times in action_times(result, list(DROP_MARKS)).items():
            if len(times) == 0:
                continue
            text, which, marker, colour = DROP_MARKS[name]
            shown = _thin(times, most)
            ax.plot(shown, np.full(len(shown), float(limit_y[which])), ls="none", marker=marker, color=colour,
                    ms=7, mew=1.5, alpha=0.75, zorder=1.5, gid=f"drops:{name}", label=f"{text} ({len(times)})")
    top = max(*limit_y.values(), int(syn.max(initial=0)), int(acc.max(initial=0)))
    ax.set_ylim(-0.03 * top - 0.5, top * 1.08 + 0.5)
    ax.set_xlim(*(time_range or (0.0, max(float(x[-1]) if len(x) else 0.0, result.end, 1e-3))))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0,
              handlelength=2.6)
    return ax
