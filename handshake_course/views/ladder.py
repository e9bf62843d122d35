"""The packet ladder: each selected client's handshake as arrows between a client line and a server
line, time running left to right. One lane per client, so that 1 to 8 connections stay readable.

Packets are read from the result's column arrays with numpy and drawn as one LineCollection (the
shafts) plus a few marker collections (heads, losses, RSTs), never one artist per packet, so a
ladder of a 100k-packet flood result is as quick to draw as one of a single handshake.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.ticker import FixedLocator, FormatStrFormatter, MaxNLocator
from matplotlib.transforms import Affine2D

from ..model.clock import US
from ..model.result import KINDS, SENDERS, packet_fields, trace_fields
from .style import (
    BLACK,
    GREEN,
    GREY,
    KIND_COLOURS,
    LABEL_POINTS,
    PURPLE,
    VERMILLION,
    column,
    prepare_axes,
    text_marker,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result

PITCH = 1.7  # vertical distance between two lanes; a lane is 1 high (server line at 0, client at 1)
LABEL_Y = {"SYN": 0.8, "SYN-ACK": 0.5, "ACK": 0.2, "RST": 0.5, "DATA": 0.35,
           "FIN": 0.65}  # where in the lane a kind's label sits
LABEL_SIZE, LABEL_PAD = LABEL_POINTS, 5.0  # points: font size of the kind labels, gap between arrow and label
SYN_DATA = "SYN+data"  # the label of a SYN that carries the request (TCP Fast Open)
MAX_FLOOD = 3000  # flood packets drawn at most (evenly thinned); the title gives the true count
CLIENT_SENDER, SERVER_SENDER, FLOOD_SENDER = (SENDERS.index(s) for s in ("client", "server", "flood"))


@dataclass(frozen=True)
class LadderPackets:
    """The packets of some clients as columns (seconds; ``arrives`` is NaN for lost packets)."""

    client: np.ndarray
    time: np.ndarray
    arrives: np.ndarray
    sender: np.ndarray  # index into result.SENDERS
    kind: np.ndarray  # index into result.KINDS
    retransmission: np.ndarray
    lost: np.ndarray

    def __len__(self) -> int:
        return len(self.time)


def select_clients(result: Result, clients: Iterable[int] | None = None, max_clients: int = 8) -> list[int]:
    """The clients to draw, sorted. Given none, pick up to ``max_clients`` that went differently:
    first the lowest-numbered client of each outcome, then of each distinct (outcome, packets,
    lost packets) story, then fill up in client order, so that 7 identical handshakes do not
    crowd out the one that was retransmitted."""
    n = len(result.clients)
    if clients is not None:
        chosen = list(dict.fromkeys(int(c) for c in clients))
        bad = [c for c in chosen if not 0 <= c < n]
        if bad:
            raise ValueError(f"clients must be indices from 0 to {n - 1}; got {bad}")
        if len(chosen) > max_clients:
            raise ValueError(f"clients: at most max_clients={max_clients} lanes fit; got {len(chosen)}")
        return sorted(chosen)
    fields = packet_fields(column(result.packets.info))
    owner = fields.client
    mine = owner >= 0
    sent = np.bincount(owner[mine], minlength=n)
    lost = np.bincount(owner[mine], weights=fields.lost[mine], minlength=n)
    by_outcome: dict[str, int] = {}
    by_story: dict[tuple[str, int, int], int] = {}
    for c in result.clients:
        by_outcome.setdefault(c.outcome, c.index)
        by_story.setdefault((c.outcome, int(sent[c.index]), int(lost[c.index])), c.index)
    chosen = list(dict.fromkeys([*sorted(by_outcome.values()), *sorted(by_story.values()), *range(n)]))
    return sorted(chosen[:max_clients])


def ladder_packets(result: Result, clients: Sequence[int], flood: bool = False,
                   time_range: tuple[float, float] | None = None) -> LadderPackets:
    """The packets of ``clients`` (and, with ``flood``, those to and from spoofed addresses, client
    -1) that are on the wire during ``time_range``, filtered on the column arrays."""
    info = column(result.packets.info)
    t_us = column(result.packets.time_us)
    wanted = np.asarray(list(clients) + ([-1] if flood else []), dtype=np.int64)
    mask = np.isin(packet_fields(info).client, wanted)
    one_way = result.packets.one_way_us
    if time_range is not None:
        lo, hi = (round(v * US) for v in time_range)
        mask &= (t_us <= hi) & (t_us + one_way >= lo)
    f, t_us = packet_fields(info[mask]), t_us[mask]
    arrives = np.where(f.lost, np.nan, (t_us + one_way) / US)
    return LadderPackets(f.client, t_us / US, arrives, f.sender, f.kind, f.retransmission, f.lost)


def _seam(ax: Axes) -> float:
    """Where a stretched time axis changes pace (infinity on a plain one)."""
    line = next((ln for ln in ax.lines if ln.get_gid() == "stretch_seam"), None)
    return float(line.get_xdata()[0]) if line is not None else math.inf


def _head_marker(ax: Axes, dx: float, dy: float, at: float | None = None) -> MarkerStyle:
    """A triangle pointing along (dx, dy) in data units from time ``at`` (default: the axis's
    start), as it looks on screen now."""
    x = ax.get_xlim()[0] if at is None else at
    (x0, y0), (x1, y1) = ax.transData.transform([(x, 0.0), (x + dx, dy)])
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    return MarkerStyle("^", transform=Affine2D().rotate_deg(angle - 90.0))


def _name_lines(ax: Axes, result: Result, chosen: Sequence[int], base_of: dict[int, float],
                bases: np.ndarray, t1: float, flood_base: float | None) -> None:
    """Name the lines at the right end of each lane: "client 3: accepted (port 33036)" above the
    client line, "server" above the server line. Text markers, not tick labels: one cheap artist
    per distinct text instead of one Text each (a redraw costs about 1.5 ms per Text)."""
    texts: dict[str, list[float]] = {"server": list(bases)}
    for c in chosen:
        rec = result.clients[c]
        port = f" (port {rec.port})" if rec.port is not None else ""
        texts[f"client {c}: {rec.outcome.replace('_', ' ')}{port}"] = [base_of[c] + 1.0]
    if flood_base is not None:
        texts["spoofed addresses (flood)"] = [flood_base + 1.0]
    for text, ys in texts.items():
        marker, size = text_marker(text, LABEL_POINTS, 2.0, side="left")
        colour = GREY if text == "server" else BLACK
        line, = ax.plot(np.full(len(ys), t1), np.asarray(ys) + 0.15, ls="none", marker=marker, ms=size,
                        mew=0, color=colour, clip_on=False, gid=f"lane_name:{text}")
        line.set_in_layout(False)  # a text marker's nominal size is far larger than its glyphs


STRETCH_SHARE = 0.35  # of the axis width given to the opening handshakes when stretched
STRETCH_RATIO = 12.0  # stretch when the time shown is this many times longer than the opening


def opening_end(result: Result, chosen: Sequence[int], t0: float, t1: float) -> float | None:
    """When the chosen clients' first handshakes are over: the last first-SYN's time plus two round
    trips (SYN, SYN-ACK, ACK), or None if that is not inside (t0, t1)."""
    starts = [result.clients[c].start for c in chosen if t0 <= result.clients[c].start <= t1]
    if not starts:
        return None
    end = max(starts) + 2 * result.scenario.rtt + 0.02 * (t1 - t0) / STRETCH_RATIO
    return end if t0 < end < t1 else None


def stretch_time_axis(ax: Axes, t0: float, seam: float, t1: float) -> None:
    """A piecewise-linear time axis: [t0, seam] takes STRETCH_SHARE of the width, [seam, t1] the
    rest; ticks on each side of the seam, a dotted line on it."""
    k = STRETCH_SHARE * (t1 - seam) / ((1 - STRETCH_SHARE) * (seam - t0))  # width per second, before/after

    def forward(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return np.where(t < seam, t0 + (t - t0) * k, t0 + (seam - t0) * k + (t - seam))

    def inverse(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        at_seam = t0 + (seam - t0) * k
        return np.where(x < at_seam, t0 + (x - t0) / k, seam + (x - at_seam))

    ax.set_xscale("function", functions=(forward, inverse))
    before = [t for t in MaxNLocator(3).tick_values(t0, seam) if t0 <= t < seam * 0.97]
    after = [t for t in MaxNLocator(6).tick_values(seam, t1) if seam * 1.03 + 0.03 * (t1 - seam) < t <= t1]
    ax.xaxis.set_major_locator(FixedLocator(before + after))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.axvline(seam, color=GREY, ls=":", lw=1.0, gid="stretch_seam")


def stretched_seam(ax: Axes) -> float | None:
    """The seam of a time axis ``plot_ladder`` stretched, None if it is plain (to stretch another
    panel's time axis the same way: ``stretch_time_axis(other, t0, seam, t1)``)."""
    seam = _seam(ax)
    return None if math.isinf(seam) else seam


def plot_ladder(result: Result, clients: Iterable[int] | None = None, ax: Axes | None = None,
                max_clients: int = 8, flood: bool = False, labels: bool = True,
                time_range: tuple[float, float] | None = None, stretch: bool | None = None) -> Axes:
    """A packet ladder: per client a lane with the client line on top and the server line below;
    each packet an arrow from its send time to its arrival, coloured by kind, dashed if it is a
    retransmission; a lost packet stops half-way in an X; RSTs get a diamond where they are sent.
    Circles mark connect() returning (client line), squares accept() returning (server line).

    ``clients``: indices to draw (default: see ``select_clients``); ``flood``: add a lane for the
    spoofed SYNs and the SYN-ACKs sent to them; ``labels``: name the kind next to arrows (each kind
    again only after a gap, to stay legible); ``time_range`` = (start, end) in seconds zooms in.
    ``stretch``: give the opening handshakes STRETCH_SHARE of the width, the rest of the time the
    remainder (a piecewise-linear time axis, the seam marked); by default only when they would
    otherwise be slivers, on an axis STRETCH_RATIO times longer than them.
    """
    chosen = select_clients(result, clients, max_clients)
    lanes = len(chosen) + (1 if flood else 0)
    ax = prepare_axes(ax, (10.0, 1.0 + 1.05 * max(lanes, 1)), "ladder")
    t0, t1 = time_range or (0.0, max(result.end, 1e-3))
    pk = ladder_packets(result, chosen, flood=flood, time_range=time_range)
    base_of = {c: (lanes - 1 - j) * PITCH for j, c in enumerate(chosen)}  # first client on top
    flood_base = 0.0 if flood else None  # the flood lane is the bottom one

    ax.set_xscale("linear")  # a reused Axes may carry the stretched scale of an earlier call
    seam = opening_end(result, chosen, t0, t1) if stretch is not False else None
    if seam is not None and (stretch or (t1 - t0) > STRETCH_RATIO * (seam - t0)):
        stretch_time_axis(ax, t0, seam, t1)
    ax.set_xlim(t0, t1)
    ax.set_ylim(-0.35, (lanes - 1) * PITCH + 1.35)
    bases = np.array(list(base_of.values()) + ([flood_base] if flood_base is not None else []), dtype=float)
    ax.hlines(bases + 1.0, t0, t1, colors=BLACK, lw=1.0, gid="client_lines")
    ax.hlines(bases, t0, t1, colors=GREY, lw=1.0, gid="server_lines")
    ax.set_yticks([])
    _name_lines(ax, result, chosen, base_of, bases, t1, flood_base)

    own = pk.client >= 0
    base = np.array([base_of.get(int(c), 0.0) for c in pk.client[own]], dtype=float)
    _draw_packets(ax, pk, own, base, result.packets.one_way_us / US, labels, syn_data(result, pk))
    if flood:
        _draw_flood(ax, pk, ~own, 0.0)
    handles = _draw_client_events(ax, result, chosen, base_of, t0, t1)

    sent = set(pk.kind[own].tolist())  # DATA and FIN only where clients sent requests or closed
    legend = [] if labels else [Line2D([], [], color=KIND_COLOURS[k], lw=2, label=k) for i, k in enumerate(KINDS)
                                if k not in ("DATA", "FIN") or i in sent]
    legend.append(Line2D([], [], color=BLACK, ls="--", lw=1.4, label="retransmitted"))
    if pk.lost[own].any():
        legend.append(Line2D([], [], color=BLACK, ls="none", marker="X", ms=8, label="lost"))
    if (pk.kind[own] == KINDS.index("RST")).any():
        legend.append(Line2D([], [], color=VERMILLION, ls="none", marker="D", label="RST sent"))
    ax.legend(handles=legend + handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
              borderaxespad=0.0)
    shown = f"clients {', '.join(map(str, chosen))}" if chosen else "no clients"
    ax.set_title(f"Packets: Linux {result.kernel.version}, {shown} of {len(result.clients)}", y=1.0, pad=6)
    ax.set_xlabel("time (s)" + (", stretched before the dotted line" if stretched_seam(ax) is not None else ""))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return ax


def syn_data(result: Result, pk: LadderPackets) -> np.ndarray:
    """Which of ``pk``'s packets are SYNs that carry the client's request (TCP Fast Open: the trace's
    ``fastopen_syn_data`` at that client and time; a resent SYN carries no data)."""
    names = [a.name for a in result.trace.actions]
    if "fastopen_syn_data" not in names:
        return np.zeros(len(pk), dtype=bool)
    clients, actions = trace_fields(column(result.trace.info))
    hit = actions == names.index("fastopen_syn_data")
    sent = set(zip(clients[hit].tolist(), column(result.trace.time_us)[hit].tolist(), strict=True))
    t_us = np.rint(pk.time * US).astype(np.int64)
    first_syn = (pk.kind == KINDS.index("SYN")) & ~pk.retransmission.astype(bool)
    return first_syn & np.array([(int(c), int(t)) in sent for c, t in zip(pk.client, t_us, strict=True)],
                                dtype=bool)


def _draw_packets(ax: Axes, pk: LadderPackets, own: np.ndarray, base: np.ndarray, one_way: float,
                  labels: bool, with_data: np.ndarray | None = None) -> None:
    """Shafts, heads, loss crosses, RST diamonds and kind labels of the clients' own packets."""
    time, arrives, lost = pk.time[own], pk.arrives[own], pk.lost[own]
    from_client = pk.sender[own] == CLIENT_SENDER
    kinds = pk.kind[own]
    y0 = np.where(from_client, base + 1.0, base)
    y1 = np.where(from_client, base, base + 1.0)
    x1 = np.where(lost, time + one_way / 2, arrives)
    y1 = np.where(lost, base + 0.5, y1)
    colours = [KIND_COLOURS[KINDS[k]] for k in kinds]
    segments = np.stack([np.column_stack([time, y0]), np.column_stack([x1, y1])], axis=1)
    styles = ["--" if r else "-" for r in pk.retransmission[own]]
    ax.add_collection(LineCollection(segments.reshape(-1, 2, 2), colors=colours, linestyles=styles,
                                     linewidths=1.5, gid="packets"), autolim=False)
    seam = _seam(ax)
    for down, gid in ((True, "heads_to_server"), (False, "heads_to_client")):
        for region in (x1 < seam, x1 >= seam):  # a stretched axis draws the arrows steeper before its seam
            sel = (~lost) & (from_client == down) & region
            if sel.any():
                at = float(x1[sel][0]) - one_way
                marker = _head_marker(ax, one_way, -1.0 if down else 1.0, at)
                ax.scatter(x1[sel], y1[sel], marker=marker, s=40, c=[colours[i] for i in np.flatnonzero(sel)],
                           linewidths=0, zorder=3, gid=gid)
    if lost.any():
        ax.scatter(x1[lost], y1[lost], marker="X", s=70, c=[colours[i] for i in np.flatnonzero(lost)],
                   edgecolors=BLACK, linewidths=0.6, zorder=4, gid="lost")
    rst = kinds == KINDS.index("RST")
    if rst.any():
        ax.scatter(time[rst], y0[rst], marker="D", s=45, c=VERMILLION, edgecolors=BLACK, linewidths=0.6,
                   zorder=4, gid="rst")
    if labels:
        _label_packets(ax, time, y0, x1, y1, base, kinds, None if with_data is None else with_data[own])


def _label_packets(ax: Axes, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray,
                   base: np.ndarray, kinds: np.ndarray, with_data: np.ndarray | None = None) -> None:
    """Name the kind beside its arrow, where the arrow crosses the kind's label height ("SYN+data"
    for a SYN that carries the request, ``with_data``). A name is repeated in a lane only once the
    previous one has room (RSTs always). All labels of one name are one Line2D with a text marker
    (see text_marker)."""
    names = [KINDS[k] for k in kinds]
    if with_data is not None:
        names = [SYN_DATA if d else n for n, d in zip(names, with_data, strict=True)]
    label_y = base + np.array([LABEL_Y[KINDS[k]] for k in kinds])
    rise = y1 - y0
    along = np.clip(np.divide(label_y - y0, rise, out=np.ones_like(rise), where=rise != 0), 0.0, 1.0)
    at = x0 + along * (x1 - x0)
    # room is measured on the page, so that a stretched time axis is handled too
    points = ax.transData.transform(np.column_stack([at, label_y]))[:, 0] * 72 / ax.figure.dpi
    per_point = 1.0
    last: dict[tuple[float, str], float] = {}
    placed: dict[str, list[tuple[float, float]]] = {}
    colour: dict[str, str] = {}
    for i in np.argsort(x0, kind="stable"):
        name = names[i]
        key = (float(base[i]), name)
        x = float(points[i])
        room = (2 * LABEL_PAD + 4 + LABEL_SIZE * 0.62 * len(name)) * per_point
        if name != "RST" and key in last and x - last[key] < room:
            continue
        last[key] = x
        placed.setdefault(name, []).append((float(at[i]), float(label_y[i])))
        colour[name] = KIND_COLOURS[KINDS[int(kinds[i])]]
    for name, points in placed.items():
        marker, size = text_marker(name, LABEL_SIZE, LABEL_PAD, "bold" if name == "RST" else "normal")
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, ls="none", marker=marker, ms=size, mew=0, color=colour[name], zorder=2,
                gid=f"labels:{name}")


def _draw_flood(ax: Axes, pk: LadderPackets, sel: np.ndarray, base: float) -> None:
    """The spoofed SYNs (down) and the SYN-ACKs sent to them (up) in the bottom lane, thinned."""
    idx = np.flatnonzero(sel)
    total = len(idx)
    if total > MAX_FLOOD:
        idx = idx[np.linspace(0, total - 1, MAX_FLOOD).astype(np.int64)]
    to_server = pk.sender[idx] == FLOOD_SENDER
    x0 = pk.time[idx]
    x1 = np.where(np.isnan(pk.arrives[idx]), x0, pk.arrives[idx])
    y0 = np.where(to_server, base + 1.0, base)
    y1 = np.where(to_server, base, base + 1.0)
    segments = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
    colours = [KIND_COLOURS[KINDS[k]] for k in pk.kind[idx]]
    ax.add_collection(LineCollection(segments.reshape(-1, 2, 2), colors=colours, linewidths=0.6,
                                     alpha=0.5, gid="flood"), autolim=False)
    note = f"{total} flood packets" + (f" ({len(idx)} drawn)" if total > len(idx) else "")
    ax.text(0.5, base + 0.5, note, transform=ax.get_yaxis_transform(), ha="center", va="center",
            fontsize="small", color=PURPLE, bbox={"fc": "white", "ec": "none", "alpha": 0.8})


def _draw_client_events(ax: Axes, result: Result, chosen: Sequence[int], base_of: dict[int, float],
                        t0: float, t1: float) -> list[Line2D]:
    """Markers where connect() returned, accept() returned, or connect() failed; legend handles."""
    def inside(t: float | None) -> bool:
        return t is not None and t0 <= t <= t1

    recs = [result.clients[c] for c in chosen]
    handles: list[Line2D] = []
    marks = (
        ("connected", "connect() returns", "o", GREEN, GREEN,
         [(r.connected_at, base_of[r.index] + 1.0) for r in recs if inside(r.connected_at)]),
        ("accepted", "accept() returns", "s", BLACK, BLACK,
         [(r.accepted_at, base_of[r.index]) for r in recs if inside(r.accepted_at)]),
        ("failed", "connect() fails", "o", "white", VERMILLION,
         [(r.failed_at, base_of[r.index] + 1.0) for r in recs if inside(r.failed_at)]),
    )
    for gid, label, marker, face, edge, points in marks:
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, ls="none", marker=marker, ms=7, mfc=face, mec=edge, mew=1.5, zorder=5, gid=gid)
        handles.append(Line2D([], [], ls="none", marker=marker, ms=7, mfc=face, mec=edge, mew=1.5, label=label))
    for r in recs:
        if inside(r.failed_at):
            ax.annotate(r.errno or "failed", (r.failed_at, base_of[r.index] + 1.0), xytext=(4, 4),
                        textcoords="offset points", fontsize=LABEL_POINTS, color=VERMILLION, gid="errno")
    return handles
