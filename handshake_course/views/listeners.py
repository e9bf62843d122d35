"""The listeners of a SO_REUSEPORT group side by side (``Scenario(listeners=N)``): each listener's
accept queue over time against the limit listen() gave it, with a mark wherever the kernel dropped a
segment of that listener's connections because its queue was full; and, per listener, what happened
to the connections the kernel's hash sent to it (``listener_rows``), as lesson 11's table shows it.

A result with one listener is drawn the same way, as a group of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..model.clock import US
from ..model.result import SsListener, trace_fields
from .style import column, prepare_axes, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result

OVERFLOW = "TcpExtListenOverflows"
DROPS = "TcpExtListenDrops"
DEFER_DROP = "TcpExtTCPDeferAcceptDrop"


@dataclass(frozen=True)
class ListenerRow:
    """One listener of the group, as the lesson's table shows it."""

    listener: int
    connections: int  # clients whose segments the kernel's hash sent to this listener
    accepted: int  # of those, how many its accept() returned
    peak: int  # the longest its accept queue was
    overflows: int  # TcpExtListenOverflows bumped on this listener
    drops: int  # TcpExtListenDrops bumped on this listener
    defer_drops: int  # TcpExtTCPDeferAcceptDrop bumped on this listener (bare ACKs under TCP_DEFER_ACCEPT)
    ss: SsListener  # the listener as ``ss -lnt`` shows it at the time asked for


def _server_events(result: Result) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(times in s, client, action index, listener) of the server's events, from the trace's columns."""
    trace = result.trace
    client, action = trace_fields(column(trace.info))
    times = column(trace.time_us) / US
    listener = (column(trace.listeners) if trace.listeners is not None and len(trace.listeners) == len(trace)
                else np.zeros(len(trace), dtype=np.int64))
    server = np.array([a.host == "server" for a in trace.actions], dtype=bool)
    keep = server[action] if len(action) else np.zeros(0, dtype=bool)
    return times[keep], client[keep], action[keep], listener[keep]


def counter_events(result: Result, counter: str) -> dict[int, np.ndarray]:
    """Listener -> the times (s) of the server's events that bumped ``counter`` on it."""
    times, _, action, listener = _server_events(result)
    bumps = np.array([a.counters.count(counter) for a in result.trace.actions], dtype=np.int64)
    per = bumps[action] if len(action) else np.zeros(0, dtype=np.int64)
    return {i: np.repeat(times[listener == i], per[listener == i]) for i in range(len(result.listeners))}


def client_listeners(result: Result) -> dict[int, int]:
    """Client index -> the listener its segments reached (the first server event of the client's)."""
    _, client, _, listener = _server_events(result)
    own = client >= 0
    clients, first = np.unique(client[own], return_index=True)
    return dict(zip(clients.tolist(), listener[own][first].tolist(), strict=True))


def busiest_time(result: Result) -> float:
    """When the group's accept queues together held the most connections (the first such moment)."""
    times, totals = [0.0], [0]
    changes = sorted({t for q in result.listener_queues for t in q.times})
    for t in changes:
        times.append(t)
        totals.append(sum(q.at(t)[1] for q in result.listener_queues))
    return times[int(np.argmax(totals))]


def listener_rows(result: Result, t: float | None = None) -> list[ListenerRow]:
    """Per listener: its connections, how many were accepted, its peak accept queue, the counters
    bumped on it, and its ``ss -lnt`` line at time ``t`` (default: the group's busiest moment)."""
    if result.listener is None:
        return []
    at = busiest_time(result) if t is None else t
    on = client_listeners(result)
    counts = {name: counter_events(result, name) for name in (OVERFLOW, DROPS, DEFER_DROP)}
    rows = []
    for i in range(len(result.listeners)):
        mine = [c for c, listener in on.items() if listener == i]
        accept = result.queues_of(i).accept
        rows.append(ListenerRow(
            listener=i, connections=len(mine),
            accepted=sum(result.clients[c].accepted_at is not None for c in mine),
            peak=max(accept, default=0), overflows=len(counts[OVERFLOW][i]), drops=len(counts[DROPS][i]),
            defer_drops=len(counts[DEFER_DROP][i]), ss=result.ss(at, listener=i)))
    return rows


def plot_listener_queues(result: Result, ax: Axes | None = None,
                         time_range: tuple[float, float] | None = None) -> Axes:
    """Each listener's accept-queue length over time (one step line per listener, held until the
    end), the accept-queue limit every listener has (dashed), and an ``x`` on that limit, in the
    listener's colour, for every ListenOverflows bumped on it. ``time_range`` = (start, end) zooms
    in. Returns the Axes; never shows the figure."""
    ax = prepare_axes(ax, (9.0, 3.6), "listener_queues")
    group = len(result.listeners)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("accept queue (connections)")
    ax.yaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.grid(True, alpha=0.3)
    end = max(result.end, 1e-3)
    if result.listener is None:
        ax.set_title(f"Accept queues: Linux {result.kernel.version}, no listener", y=1.0, pad=6)
        ax.text(0.5, 0.5, "no listener (backlog=None): every SYN is answered with RST",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(*(time_range or (0.0, end)))
        return ax
    capacity = result.listener.accept_capacity
    ax.set_title(f"Accept queues: Linux {result.kernel.version}, {group} listener{'s' if group > 1 else ''} "
                 f"x (backlog {result.listener.backlog} + 1)", y=1.0, pad=6)
    on = client_listeners(result)
    overflows = counter_events(result, OVERFLOW)
    top = capacity
    for i in range(group):
        q = result.queues_of(i)
        x = np.append(column(q.times, np.float64), end)
        acc = column(q.accept)
        y = np.append(acc, acc[-1] if len(acc) else 0)
        colour, line, _ = series_style(i)
        n = sum(1 for listener in on.values() if listener == i)
        ax.step(x, y, where="post", color=colour, ls=line, lw=2, zorder=3, gid=f"accept_queue:{i}",
                label=f"listener {i}: {n} connection{'s' if n != 1 else ''}")
        top = max(top, int(y.max(initial=0)))
        marks = overflows[i]
        if len(marks):
            ax.plot(marks, np.full(len(marks), float(capacity)), ls="none", marker="x", ms=8, mew=2,
                    color=colour, zorder=4, gid=f"overflows:{i}",
                    label=f"listener {i}: ListenOverflows {len(marks)}")
    ax.axhline(capacity, color="#555555", ls=(0, (4, 4)), lw=1.2, gid="accept_limit",
               label=f"accept-queue limit {capacity} (each)")
    ax.set_ylim(-0.03 * top - 0.5, top * 1.1 + 0.5)
    ax.set_xlim(*(time_range or (0.0, end)))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0,
              handlelength=2.6)
    return ax


def listener_clients(result: Result, most: int = 6) -> list[int]:
    """Clients worth a ladder lane: the first client of each listener, then those a listener's full
    queue turned away (an overflow on one of their segments), then the rest in order; at most
    ``most``, sorted."""
    on = client_listeners(result)
    firsts = []
    for i in range(len(result.listeners)):
        mine = [c for c, listener in on.items() if listener == i]
        if mine:
            firsts.append(min(mine))
    _, client, action, _ = _server_events(result)
    hit = np.array([OVERFLOW in a.counters for a in result.trace.actions], dtype=bool)
    turned = [int(c) for c in dict.fromkeys(client[hit[action]].tolist()) if c >= 0] if len(action) else []
    chosen: list[int] = []
    for c in [*turned[:max(1, most // 3)], *firsts, *turned, *range(len(result.clients))]:
        if c not in chosen:
            chosen.append(c)
        if len(chosen) >= most:
            break
    return sorted(chosen)
