"""A capture's diagnosis drawn for the notebook: the captured attempts as the capture saw them, the
model's reproduction as a packet ladder (``plot_ladder``), and the two latency CDFs on one axis
(``plot_latency`` draws the model's, with its kernel's SYN retransmission guides; the capture's is
added). ``capture_diagnosis_figure`` puts the three together for one listener of
``handshake_course.capture.diagnose`` (``plot_capture_diagnosis`` draws them on given axes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis.handshakes import timer_synacks
from .ladder import PITCH, plot_ladder, stretch_time_axis, stretched_seam
from .latency import plot_latency
from .style import BLACK, GREY, KIND_COLOURS, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..capture.diagnosis import ServerDiagnosis
    from ..capture.read import Handshake

CAPTURE_COLOUR = BLACK
SEEN = {"client": "at the client", "server": "at the server", "between": "between the hosts",
        "loopback": "on loopback", "unknown": "at an unknown place"}
"""Where the capture was taken, as the ladder's title says it (``Recording.vantage``)."""


def chosen_attempts(server: ServerDiagnosis, max_attempts: int = 8) -> list[int]:
    """Attempts to draw (indices into ``server.handshakes``): the first one each finding names,
    then one of each outcome, then the first ones, at most ``max_attempts``."""
    index = {h.client: i for i, h in enumerate(server.handshakes)}
    named = [index[e.who] for f in server.findings for e in f.evidence[:1] if e.who in index]
    by_outcome: dict[str, int] = {}
    for i, h in enumerate(server.handshakes):
        by_outcome.setdefault(h.outcome, i)
    order = dict.fromkeys([*named, *by_outcome.values(), *range(len(server.handshakes))])
    return sorted(list(order)[:max_attempts])


def _packets(h: Handshake) -> list[tuple[float, str, bool, bool]]:
    """(time, kind, from the client, resent) of each packet the reader kept of an attempt."""
    resent_synacks = set(timer_synacks(h))
    out = [(t, "SYN", True, i > 0) for i, t in enumerate(h.syn_times)]
    out += [(t, "SYN-ACK", False, t in resent_synacks) for t in h.synack_times]
    out += [(t, "ACK", True, i > 0) for i, t in enumerate(h.ack_times)]
    server_rsts = set(h.server_rst_times)
    out += [(t, "RST", t not in server_rsts, False) for t in h.rst_times]
    return out


def plot_capture_ladder(server: ServerDiagnosis, attempts: Sequence[int] | None = None, ax: Axes | None = None,
                        max_attempts: int = 8) -> Axes:
    """The captured attempts, one lane each (client line on top, server line below): a capture sees
    each packet once, so each is a short vertical arrow at the time it was seen, coloured by kind,
    dashed if it was sent again. Time in seconds from the capture's start."""
    chosen = list(attempts) if attempts is not None else chosen_attempts(server, max_attempts)
    ax = prepare_axes(ax, (10.0, 1.0 + 1.05 * max(len(chosen), 1)), "capture_ladder")
    start = server.recording.start
    segments, colours, styles, heads = [], [], [], []
    for lane, i in enumerate(chosen):
        base = (len(chosen) - 1 - lane) * PITCH
        for t, kind, from_client, resent in _packets(server.handshakes[i]):
            x = t - start
            y0, y1 = (base + 0.9, base + 0.1) if from_client else (base + 0.1, base + 0.9)
            segments.append([(x, y0), (x, y1)])
            colours.append(KIND_COLOURS[kind])
            styles.append("--" if resent else "-")
            heads.append((x, y1, "v" if from_client else "^", KIND_COLOURS[kind]))
    end = max(server.recording.end - start, 1e-3)
    bases = np.array([(len(chosen) - 1 - lane) * PITCH for lane in range(len(chosen))], dtype=float)
    ax.hlines(bases + 1.0, 0, end, colors=BLACK, lw=1.0, gid="client_lines")
    ax.hlines(bases, 0, end, colors=GREY, lw=1.0, gid="server_lines")
    if segments:
        ax.add_collection(LineCollection(segments, colors=colours, linestyles=styles, linewidths=1.5, gid="packets"))
        for marker in ("v", "^"):
            pts = [(x, y, c) for x, y, m, c in heads if m == marker]
            if pts:
                xs, ys, cs = zip(*pts, strict=True)
                ax.scatter(xs, ys, marker=marker, s=30, c=list(cs), linewidths=0, zorder=3, gid=f"heads_{marker}")
    for lane, i in enumerate(chosen):
        h = server.handshakes[i]
        ax.text(end, bases[lane] + 1.15, f"{h.client}: {h.outcome}", ha="right", va="bottom", fontsize="small")
    ax.set_xlim(0, end)
    ax.set_ylim(-0.35, (len(chosen) - 1) * PITCH + 1.45)
    ax.set_yticks([])
    legend = [Line2D([], [], color=KIND_COLOURS[k], lw=2, label=k) for k in ("SYN", "SYN-ACK", "ACK", "RST")]
    legend.append(Line2D([], [], color=BLACK, ls="--", lw=1.4, label="sent again"))
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0)
    ax.set_title(f"Capture: {server.server}, {len(chosen)} of {len(server.handshakes)} attempts, as seen "
                 f"{SEEN.get(server.recording.vantage, server.recording.vantage)}", y=1.0, pad=6)
    ax.set_xlabel("time from the capture's start (s)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return ax


def plot_capture_latency(server: ServerDiagnosis, ax: Axes | None = None, log: bool = True) -> Axes:
    """Connect latency CDFs: the model's run (``plot_latency``, with its kernel's SYN retransmission
    guides) and the capture's attempts (first SYN to ACK), as the fraction of attempts connected."""
    if server.model is None:
        raise ValueError("server: this diagnosis was made without the model (simulate_model=False); nothing to compare")
    result = server.model.result
    ax = plot_latency(result, ax=ax, kind="cdf", labels=[f"model: Linux {result.kernel.version}"], log=log)
    lat = np.sort(np.array([h.latency for h in server.handshakes if h.latency is not None], dtype=float))
    n = max(len(server.handshakes), 1)
    lo, hi = ax.get_xlim()
    x = np.concatenate([[lo], lat, [hi]])
    y = np.concatenate([[0.0], np.arange(1, len(lat) + 1) / n, [len(lat) / n]])
    ax.plot(x, y, drawstyle="steps-post", color=CAPTURE_COLOUR, lw=2.5, alpha=0.6,
            label=f"capture: {len(lat)} of {len(server.handshakes)} connected", gid="latency:capture", zorder=1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0)
    ax.set_title(f"Connect latency: capture and model ({server.server})", y=1.0, pad=6)
    return ax


def plot_capture_diagnosis(server: ServerDiagnosis, axes: Sequence[Axes], max_clients: int = 8) -> None:
    """Draw one listener of a diagnosis on three given axes (a dashboard redraws the same ones): the
    capture's attempts, the model's reproduction as a packet ladder on the same time axis, and both
    latency CDFs."""
    if server.model is None:
        raise ValueError("server: this diagnosis was made without the model (simulate_model=False); nothing to compare")
    top, middle, bottom = axes
    plot_ladder(server.model.result, ax=middle, max_clients=max_clients)
    middle.set_title(f"Model: {middle.get_title()}", y=1.0, pad=6)
    top.set_xscale("linear")  # a reused Axes may carry the stretched scale of an earlier capture
    plot_capture_ladder(server, ax=top, max_attempts=max_clients)
    seam = stretched_seam(middle)
    end = top.get_xlim()[1]
    if seam is not None and seam < end:  # the same pace as the model's ladder: opening handshakes widened
        stretch_time_axis(top, 0.0, seam, end)
        top.set_xlim(0.0, end)
    plot_capture_latency(server, ax=bottom)


def capture_diagnosis_figure(server: ServerDiagnosis, max_clients: int = 8) -> Figure:
    """One Figure for one listener of a diagnosis: the capture's attempts, the model's reproduction
    as a packet ladder, and both latency CDFs (``plot_capture_diagnosis``)."""
    if server.model is None:
        raise ValueError("server: this diagnosis was made without the model (simulate_model=False); nothing to compare")
    lanes = min(max_clients, max(len(server.handshakes), 1))
    fig = Figure(figsize=(11.0, 5.5 + 1.5 * lanes), layout="constrained")
    axes = fig.subplots(3, 1, height_ratios=[0.9 * lanes + 0.6, 0.9 * lanes + 0.6, 3.0])
    plot_capture_diagnosis(server, axes, max_clients)
    return fig
