"""The few figures only one dashboard needs and the shared views do not draw: queue capacities
per version, the ephemeral ports a kernel picks, a SYN timeline against the closed-form schedule,
outcome bars. Each draws into a given Axes and returns it; none shows anything.

Everything a lesson draws about a Result in general (queues, ladders, latency, state graph,
counters) comes from ``handshake_course.views``; this module reaches it lazily through ``view()``
so that the dashboards import even while a view is being written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes

from ..model import VERSIONS, Kernel, Result, accept_capacity, syn_queue_capacity, syn_schedule
from ..views.style import BLUE, GREEN, GREY, LABEL_POINTS, ORANGE, PURPLE, VERMILLION
from ..views.style import SKY_BLUE as SKY

OUTCOME_COLOURS: dict[str, str] = {
    "accepted": GREEN, "queued": SKY, "established": ORANGE, "connecting": PURPLE,
    "timed_out": VERMILLION, "reset": "#000000", "no_port": GREY,
}
OUTCOME_TEXT: dict[str, str] = {
    "accepted": "accepted by the application",
    "queued": "in the accept queue",
    "established": "client ESTABLISHED, server has no child",
    "connecting": "still in SYN_SENT",
    "timed_out": "connect() failed: ETIMEDOUT",
    "reset": "reset (ECONNREFUSED / ECONNRESET)",
    "no_port": "no ephemeral port (EADDRNOTAVAIL)",
}


def view(name: str) -> Any:
    """A function of ``handshake_course.views``, looked up when called."""
    from .. import views

    return getattr(views, name)


def plot_capacities(kernels: Sequence[Kernel], backlog: int, ax: Axes, current: str | None = None) -> Axes:
    """Accept-queue and SYN-queue capacity of listen(backlog) on each kernel, side by side."""
    ax.clear()
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


def plot_ports(result: Result, ax: Axes) -> Axes:
    """The ephemeral port each connect() got, in call order; even and odd ports coloured apart."""
    ax.clear()
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


def plot_syn_timeline(result: Result, ax: Axes, client: int = 0) -> Axes:
    """The SYNs one connect() sent (simulated), over the closed-form schedule (syn_schedule), and
    how the call ended."""
    ax.clear()
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


def plot_outcomes(results: dict[str, Result], ax: Axes, title: str = "How the connect() calls ended") -> Axes:
    """One stacked horizontal bar per result: how many clients ended in each outcome."""
    ax.clear()
    names = list(results)
    left = [0] * len(names)
    counts = {n: Counter(c.outcome for c in r.clients) for n, r in results.items()}
    for outcome, colour in OUTCOME_COLOURS.items():
        widths = [counts[n].get(outcome, 0) for n in names]
        if not any(widths):
            continue
        bars = ax.barh(names, widths, left=left, color=colour, label=OUTCOME_TEXT[outcome])
        ax.bar_label(bars, labels=[str(w) if w else "" for w in widths], label_type="center", fontsize="small")
        left = [a + b for a, b in zip(left, widths, strict=False)]
    ax.invert_yaxis()
    ax.set_xlabel("clients")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def version_kernels(**settings: Any) -> list[Kernel]:
    """One Kernel per modelled version with the given settings where the version has them."""
    from .base import kernel_from

    return [kernel_from(v, **settings) for v in VERSIONS]


def plot_flood_sweep(sweep: dict[str, list[tuple[float, float, float | None]]], ax: Axes | None = None) -> Axes:
    """Share of legitimate clients that connected against the flood rate, one line per kernel setting
    (the data of ``flood.flood_sweep``). Without ``ax``, draws a new pyplot figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    ax.clear()
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


def outcome_bars_html(results: dict[str, Result], title: str = "How the connect() calls ended") -> str:
    """The same stacked bars as ``plot_outcomes``, as HTML: no matplotlib cost, so a dashboard that
    already draws a heavy figure stays fast."""
    import html as _html

    rows = []
    for name, r in results.items():
        counts = Counter(c.outcome for c in r.clients)
        total = max(1, len(r.clients))
        cells = "".join(
            f"<div title='{_html.escape(OUTCOME_TEXT[o])}: {counts[o]}' style='width:{100 * counts[o] / total:.2f}%;"
            f"background:{colour};color:#000;text-align:center;font-size:11px;overflow:hidden;white-space:nowrap'>"
            f"{counts[o]}</div>"
            for o, colour in OUTCOME_COLOURS.items() if counts.get(o))
        rows.append(f"<div style='display:flex;align-items:center;margin:2px 0'><div style='width:110px;"
                    f"font-size:12px'>{_html.escape(name)}</div><div style='display:flex;width:560px;"
                    f"border:1px solid #ccc'>{cells}</div></div>")
    used = {c.outcome for r in results.values() for c in r.clients}
    legend = " ".join(f"<span style='background:{colour};padding:0 6px;margin-right:2px'>&nbsp;</span>"
                      f"<span style='font-size:11px;margin-right:10px'>{_html.escape(OUTCOME_TEXT[o])}</span>"
                      for o, colour in OUTCOME_COLOURS.items() if o in used)
    return (f"<div style='margin:4px 0'><b style='font-size:13px'>{_html.escape(title)}</b>{''.join(rows)}"
            f"<div>{legend}</div></div>")
