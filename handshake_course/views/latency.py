"""How long connect() took: the latency of each client from connect() to ESTABLISHED, as a CDF or a
histogram, for one result or several (one per kernel, say). A lost SYN costs a whole initial RTO,
so latencies pile up in cliffs at the SYN retransmission times (1 s, 3 s, 7 s... since 3.1; 3 s,
9 s... on 2.6.32); guide lines mark them. Clients that never connected are counted in the legend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis import latency_summary
from ..model.rules import syn_schedule
from ..text.seconds import format_seconds
from .style import GREY, LABEL_POINTS, prepare_axes, series_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result


def _default_labels(results: Sequence[Result]) -> list[str]:
    names = [f"Linux {r.kernel.version}" for r in results]
    if len(set(names)) < len(names):
        names = [f"{n} #{i + 1}" for i, n in enumerate(names)]
    return names


GUIDE_GAP = 12.0  # points between two labelled guides


def _seconds_formatter(t: float, _pos: int) -> str:
    return format_seconds(t)


def plot_latency(results: Result | Sequence[Result], ax: Axes | None = None, kind: str = "cdf",
                 labels: Sequence[str] | None = None, log: bool = True) -> Axes:
    """Connect latency of one or several results.

    ``kind="cdf"``: the fraction of *all* clients connected within t (a curve that stays below 1
    shows the clients that never connected); ``kind="hist"``: how many connected in each
    (log-spaced, with ``log``) time bin. Dotted guides mark each kernel's SYN retransmission times.
    ``labels`` name the results in the legend (default: the kernel versions).
    """
    if kind not in ("cdf", "hist"):
        raise ValueError(f"kind must be 'cdf' or 'hist'; got {kind!r}")
    items = [results] if not isinstance(results, Sequence) else list(results)
    if labels is not None and len(labels) != len(items):
        raise ValueError(f"labels must name each of the {len(items)} results; got {len(labels)}")
    names = list(labels) if labels is not None else _default_labels(items)
    ax = prepare_axes(ax, (7.5, 4.2), "latency")
    all_lat = [np.sort(np.asarray(r.latencies(), dtype=float)) for r in items]
    found = np.concatenate(all_lat) if all_lat else np.zeros(0)
    lo = float(found.min()) if len(found) else 1e-4
    hi = float(found.max()) if len(found) else 1.0
    if log:
        lo, hi = lo / 2, hi * 2
        lo = min(lo, hi / 10)
    else:
        lo, hi = 0.0, hi * 1.05 + 1e-3
    bins = np.geomspace(lo, hi, 41) if log else np.linspace(lo, hi, 41)
    for i, (r, lat, name) in enumerate(zip(items, all_lat, names, strict=True)):
        colour, style, marker = series_style(i)
        s = latency_summary(r)
        label = f"{name}: {s.connected} of {s.clients} connected" + (f", {s.never} never" if s.never else "")
        if kind == "cdf":
            n = max(len(r.clients), 1)
            x = np.concatenate([[lo], lat, [hi]])
            y = np.concatenate([[0.0], np.arange(1, len(lat) + 1) / n, [len(lat) / n]])
            ax.plot(x, y, drawstyle="steps-post", color=colour, ls=style, lw=2, marker=marker, ms=4,
                    markevery=slice(1, len(lat) + 1) if len(lat) <= 60 else [], label=label, gid=f"latency:{i}")
        else:
            ax.hist(lat, bins=bins, histtype="step", color=colour, ls=style, lw=2, label=label, gid=f"latency:{i}")
    _cliff_guides(ax, items, lo, hi, log, low=kind == "cdf")
    ax.set_xscale("log" if log else "linear")  # also resets a reused Axes' locators
    if log:  # one tick format: durations (1 ms, 10 ms ... 1 s), 1-2-5 steps when the axis is short
        decades = math.log10(hi / lo) if lo > 0 else 9.0
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades >= 2.5 else (1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(_seconds_formatter))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    if kind == "cdf":
        ax.set_ylim(-0.02, 1.05)
        ax.set_ylabel("fraction of clients connected (0-1)")
    else:
        ax.set_ylabel("clients connected per bin (connections)")
    ax.set_xlabel("connect() latency (s)" + (", log scale" if log else ""))
    what = "CDF" if kind == "cdf" else "histogram"
    ax.set_title(f"Connect latency ({what})", y=1.0, pad=6)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0)
    return ax


def _cliff_guides(ax: Axes, results: Sequence[Result], lo: float, hi: float, log: bool, low: bool) -> None:
    """Dotted vertical lines at the SYN retransmission times (after connect()) of each kernel shown,
    plus one round trip: where latencies pile up when the first SYNs are lost or dropped. Their
    labels go where the curves are not: at the bottom (``low``, for a CDF) or at the top."""
    guides: dict[float, float] = {}  # latency where the cliff is -> SYN send time
    for r in results:
        sched = syn_schedule(r.kernel, r.scenario.syncnt)
        for t in sched.send_times[1:]:
            guides.setdefault(t + r.scenario.rtt, t)
    shown = sorted(x for x in guides if lo <= x <= hi)
    if not shown:
        return
    ax.vlines(shown, 0, 1, transform=ax.get_xaxis_transform(), colors=GREY, linestyles=":", lw=1,
              gid="cliffs", label="SYN resent (+1 RTT)")
    top = ax.get_xaxis_transform()
    # label a guide only if it is at least GUIDE_GAP points right of the last labelled one
    width = ax.get_position().width * ax.figure.get_figwidth() * 72
    where = (lambda v: math.log10(v)) if log else (lambda v: v)
    per_point = (where(hi) - where(lo)) / max(width, 1.0)
    last = -math.inf
    for x in shown:
        if where(x) - last < GUIDE_GAP * per_point:
            continue
        last = where(x)
        ax.text(x, 0.02 if low else 0.99, f" {format_seconds(guides[x])} ", transform=top, fontsize=LABEL_POINTS,
                color=GREY, va="bottom" if low else "top", ha="right", rotation=90, gid="cliff_label")
