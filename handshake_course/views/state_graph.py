"""The TCP state machine of connection establishment, drawn with networkx: the client socket's
states (CLOSED, SYN_SENT, ESTABLISHED) on the left, the listener's stages for that connection
(LISTEN, a request sock in SYN_RECV, a child in the accept queue, accept()ed) in the middle, and the
side roads (syncookies, dropped requests, no listener) on the right. The path one client's
connection took, read from the kernel trace, is drawn over it in bold, each edge numbered in the
order it was first taken and marked with how often it was taken."""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
from matplotlib.patches import FancyArrowPatch

from .style import BLACK, GREY, LABEL_POINTS, ORANGE, SKY_BLUE, VERMILLION, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import Result

# node: (host, label, position, side its self-loop is drawn on)
NODES: dict[str, tuple[str, str, tuple[float, float], str]] = {
    "CLOSED": ("client", "CLOSED", (0.0, 3.0), "west"),
    "SYN_SENT": ("client", "SYN_SENT", (0.0, 2.0), "west"),
    "ESTABLISHED": ("client", "ESTABLISHED", (0.0, 1.0), "west"),
    "FAILED": ("client", "CLOSED\nconnect() failed", (1.2, 0.0), "east"),
    "LISTEN": ("server", "LISTEN", (3.2, 3.0), "top"),
    "SYN_RECV": ("server", "SYN_RECV\nrequest sock\nin SYN queue", (3.2, 2.0), "east"),
    "ACCEPT_QUEUE": ("server", "ESTABLISHED\nchild in\naccept queue", (3.2, 1.0), "west"),
    "ACCEPTED": ("server", "accept()ed by\nthe application", (3.2, 0.0), "east"),
    "DROPPED": ("server", "request\ndropped", (1.5, 2.5), "top"),
    "NO_LISTENER": ("server", "no listener\n(port closed)", (5.3, 3.0), "top"),
    "COOKIE": ("server", "cookie SYN-ACK\nsent, nothing\nkept", (5.3, 1.9), "east"),
}

LABEL_ALONG: dict[tuple[str, str], float] = {("SYN_RECV", "DROPPED"): 0.55}
"""Where along an edge its label sits (0 source, 1 target), where the middle would cover a node."""

# The edges always drawn: (source, target) -> label
EDGES: dict[tuple[str, str], str] = {
    ("CLOSED", "SYN_SENT"): "connect(): SYN",
    ("SYN_SENT", "SYN_SENT"): "RTO:\nSYN again",
    ("SYN_SENT", "ESTABLISHED"): "SYN-ACK: ACK",
    ("SYN_SENT", "FAILED"): "RST, or\nretries\nused up",
    ("ESTABLISHED", "ESTABLISHED"): "SYN-ACK\nagain: ACK",
    ("ESTABLISHED", "FAILED"): "RST",
    ("LISTEN", "LISTEN"): "SYN dropped",
    ("LISTEN", "SYN_RECV"): "SYN: SYN-ACK",
    ("LISTEN", "COOKIE"): "SYN, SYN queue\nfull: cookie",
    ("SYN_RECV", "SYN_RECV"): "timeout, SYN\nagain: SYN-ACK\nagain; ACK\ndropped",
    ("SYN_RECV", "ACCEPT_QUEUE"): "ACK: child",
    ("SYN_RECV", "DROPPED"): "retries used up,\nRST, overflow",
    ("COOKIE", "ACCEPT_QUEUE"): "ACK with\nvalid cookie",
    ("ACCEPT_QUEUE", "ACCEPTED"): "accept()",
    ("NO_LISTENER", "NO_LISTENER"): "SYN: RST",
}

# trace action -> (source, target); None as source: wherever that host's side of the connection is
ACTION_EDGES: dict[str, tuple[str | None, str | None]] = {
    "connect": ("CLOSED", "SYN_SENT"),
    "connect_no_port": ("CLOSED", "FAILED"),
    "syn_rto_first": ("SYN_SENT", "SYN_SENT"),
    "syn_rto": ("SYN_SENT", "SYN_SENT"),
    "syn_give_up": ("SYN_SENT", "FAILED"),
    "synack_in": ("SYN_SENT", "ESTABLISHED"),
    "synack_again": ("ESTABLISHED", "ESTABLISHED"),
    "rst_in_syn_sent": ("SYN_SENT", "FAILED"),
    "rst_in_established": ("ESTABLISHED", "FAILED"),
    "no_socket_rst": ("FAILED", "FAILED"),
    "no_listener_rst": ("NO_LISTENER", "NO_LISTENER"),
    "syn_new": ("LISTEN", "SYN_RECV"),
    "syn_drop_syn_queue_full": ("LISTEN", "LISTEN"),
    "syn_drop_accept_queue_full": ("LISTEN", "LISTEN"),
    "syn_drop_last_quarter": ("LISTEN", "LISTEN"),
    "syn_cookie": ("LISTEN", "COOKIE"),
    "syn_again": ("SYN_RECV", "SYN_RECV"),
    "syn_again_ratelimited": ("SYN_RECV", "SYN_RECV"),
    "synack_rto": ("SYN_RECV", "SYN_RECV"),
    "ack_accept_queue_full": ("SYN_RECV", "SYN_RECV"),
    "synack_give_up": ("SYN_RECV", "DROPPED"),
    "rst_for_request": ("SYN_RECV", "DROPPED"),
    "ack_accept_queue_full_abort": ("SYN_RECV", "DROPPED"),
    "ack_new_child": ("SYN_RECV", "ACCEPT_QUEUE"),
    "ack_cookie": ("COOKIE", "ACCEPT_QUEUE"),
    "ack_cookie_accept_queue_full": ("COOKIE", "COOKIE"),
    "accept": ("ACCEPT_QUEUE", "ACCEPTED"),
    "syn_for_child": (None, None),  # the child (queued or accepted) handles it
    "ack_for_child": (None, None),
    "ack_no_request": (None, None),  # answered with RST, nothing changes
    "ack_cookie_invalid": (None, None),
    # a client's request (Scenario(data=True)): where no child exists yet it is the final ACK too
    "data_give_up": ("ESTABLISHED", "FAILED"),
    "data_accept_queue_full": ("SYN_RECV", "SYN_RECV"),
    "data_accept_queue_full_abort": ("SYN_RECV", "DROPPED"),
    "data_new_child": ("SYN_RECV", "ACCEPT_QUEUE"),
    "data_cookie": ("COOKIE", "ACCEPT_QUEUE"),
    "data_cookie_accept_queue_full": ("COOKIE", "COOKIE"),
}

FONT = 8.0  # points, node labels
LOOP_RAD = 1.5  # how far a self-loop bulges, relative to half its chord
LOOP_CHORD = 18.0  # points between the two ends of a self-loop

@dataclass(frozen=True)
class PathStep:
    """One state-machine edge taken by a connection, caused by one kernel event."""

    time: float
    host: str
    action: str
    source: str
    target: str


def state_path(result: Result, client: int) -> list[PathStep]:
    """The edges client ``client``'s connection took, in time order, from the kernel trace."""
    if not 0 <= client < len(result.clients):
        raise ValueError(f"client must be from 0 to {len(result.clients) - 1}; got {client}")
    here = {"client": "CLOSED", "server": "LISTEN" if result.listener is not None else "NO_LISTENER"}
    steps = []
    for ev in result.trace.of_client(client):
        source, target = ACTION_EDGES.get(ev.action, (None, None))
        source = source or here[ev.host]
        target = target or here[ev.host]
        steps.append(PathStep(ev.time, ev.host, ev.action, source, target))
        here[ev.host] = target
    return steps


def state_graph_key(result: Result | None = None, client: int = 0) -> tuple[object, ...]:
    """Everything ``plot_state_graph(result, client)`` draws from: the version and outcome in the
    title, and the path (each step's edge; its action too where the edge is not one of EDGES, whose
    label then names it). Equal keys draw the same picture on the same axes, so a dashboard can keep
    the last one: the round-trip time, say, changes the times of a path but rarely the path."""
    if result is None:
        return (None,)
    steps = tuple((s.source, s.target, "" if (s.source, s.target) in EDGES else s.action)
                  for s in state_path(result, client))
    return (result.kernel.version, client, result.clients[client].outcome, steps)


def plot_state_graph(result: Result | None = None, client: int = 0, ax: Axes | None = None) -> Axes:
    """Draw the state machine; with a result, highlight the path of ``client``'s connection.

    The graph is a networkx DiGraph (nodes: NODES, edges: EDGES plus any other edge the path
    took). Path edges are drawn in bold vermillion with gid ``path:SOURCE->TARGET`` and labelled
    ``n. label ×k`` (n: the order in which it was first taken, k: how often); visited states are
    filled (client blue, server orange).
    """
    steps = state_path(result, client) if result is not None else []
    ax = prepare_axes(ax, (10.0, 6.0), "state_graph")
    ax.set_xlim(-1.2, 6.3)
    ax.set_ylim(-0.5, 3.75)
    ax.set_axis_off()
    graph = state_graph()
    taken = Counter((s.source, s.target) for s in steps)
    order = list(dict.fromkeys((s.source, s.target) for s in steps))
    for u, v in order:
        if not graph.has_edge(u, v):
            graph.add_edge(u, v, label=next(s.action for s in steps if (s.source, s.target) == (u, v)))
    pos = nx.get_node_attributes(graph, "pos")
    visited = {n for edge in order for n in edge}
    scale = _points_per_unit(ax)
    half = {n: _half_size(graph.nodes[n]["label"]) for n in graph.nodes}

    quiet = _quiet_ticks()
    for on_path in (False, True):
        edges = [e for e in graph.edges if (e in taken) == on_path]
        style = {"edge_color": VERMILLION, "width": 3.0, "arrowsize": 18} if on_path else \
            {"edge_color": GREY, "width": 1.0, "arrowsize": 12}
        gid = "path" if on_path else "edge"
        for u, v in edges:
            if u == v:
                _self_loop(ax, u, pos[u], half[u], scale, style["edge_color"], style["width"], f"{gid}:{u}->{u}")
                continue
            # one call per edge: each edge stops at its own boxes' borders (scalar margins, networkx 3.2+)
            (patch,) = nx.draw_networkx_edges(
                graph, pos, edgelist=[(u, v)], ax=ax, arrows=True, node_size=0,
                min_source_margin=_margin(pos[u], pos[v], half[u], scale),
                min_target_margin=_margin(pos[v], pos[u], half[v], scale), **style, **quiet)
            patch.set_gid(f"{gid}:{u}->{v}")
            patch.set_zorder(3 if on_path else 2)

    boxes = {}
    for name in graph.nodes:
        host = graph.nodes[name]["host"]
        fill = (SKY_BLUE if host == "client" else ORANGE) if name in visited else "white"
        boxes[name] = {"boxstyle": "round,pad=0.4", "fc": fill, "ec": BLACK if name in visited else GREY}
    texts = nx.draw_networkx_labels(graph, pos, labels=nx.get_node_attributes(graph, "label"), ax=ax,
                                    font_size=FONT, **quiet)
    for name, text in texts.items():
        text.set_bbox(boxes[name])
        text.set_gid(f"node:{name}")
        text.set_zorder(4)
        if name in visited:
            text.set_fontweight("bold")
    for (u, v), label in nx.get_edge_attributes(graph, "label").items():
        colour = GREY
        if (u, v) in taken:
            count = taken[(u, v)]
            label = f"{order.index((u, v)) + 1}. {label}" + (f" ×{count}" if count > 1 else "")
            colour = VERMILLION
        _edge_label(ax, u, v, pos, half, scale, label, colour)
    ax.text(0.0, 3.55, "client socket", ha="center", fontsize=9, fontstyle="italic")
    ax.text(3.2, 3.55, "server: the listener", ha="center", fontsize=9, fontstyle="italic")
    if result is None:
        ax.set_title("TCP connection establishment: the states", y=1.0, pad=6)
    else:
        outcome = result.clients[client].outcome.replace("_", " ")
        ax.set_title(f"TCP states, Linux {result.kernel.version}: the path of client {client} ({outcome})",
                     y=1.0, pad=6)
    return ax


def _quiet_ticks() -> dict[str, bool]:
    """networkx 3.3+ can leave the Axes' ticks alone (hide_ticks=False); 3.2 always hides them,
    and prepare_axes then restores them when another view takes the Axes over."""
    return {"hide_ticks": False} if "hide_ticks" in inspect.signature(nx.draw_networkx_edges).parameters else {}


def state_graph() -> nx.DiGraph:
    """The state machine as a networkx DiGraph: nodes carry host, label, pos and loop side; edges
    carry their label."""
    graph = nx.DiGraph()
    for name, (host, label, pos, side) in NODES.items():
        graph.add_node(name, host=host, label=label, pos=pos, side=side)
    for (u, v), label in EDGES.items():
        graph.add_edge(u, v, label=label)
    return graph


def _points_per_unit(ax: Axes) -> tuple[float, float]:
    """Points per data unit along x and y, for the axes' current size and limits."""
    box = ax.get_position()
    w, h = ax.figure.get_size_inches()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return box.width * w * 72 / (x1 - x0), box.height * h * 72 / (y1 - y0)


def _half_size(label: str) -> tuple[float, float]:
    """Half width and half height in points of a node's rounded box (estimated from the text)."""
    lines = label.split("\n")
    pad = 0.4 * FONT + 1.5
    return 0.3 * FONT * max(map(len, lines)) + pad, 0.6 * FONT * len(lines) + pad


def _margin(a: tuple[float, float], b: tuple[float, float], half: tuple[float, float],
            scale: tuple[float, float]) -> float:
    """Points from a's centre to the edge of a's box, going towards b (where an arrow must stop)."""
    dx, dy = (b[0] - a[0]) * scale[0], (b[1] - a[1]) * scale[1]
    t = min(half[0] / abs(dx) if dx else float("inf"), half[1] / abs(dy) if dy else float("inf"))
    return t * (dx * dx + dy * dy) ** 0.5 + 2.0


def _loop_ends(side: str, pos: tuple[float, float], half: tuple[float, float],
               scale: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Start and end (data) of a self-loop on ``side`` of a box, ordered so that arc3 with a
    positive rad bulges outwards."""
    x, y = pos
    hw, hh = half[0] / scale[0], half[1] / scale[1]
    dy, dx = min(0.8 * hh, LOOP_CHORD / 2 / scale[1]), LOOP_CHORD / 2 / scale[0]
    return {
        "west": ((x - hw, y + dy), (x - hw, y - dy)),
        "east": ((x + hw, y - dy), (x + hw, y + dy)),
        "top": ((x + dx, y + hh), (x - dx, y + hh)),
        "bottom": ((x - dx, y - hh), (x + dx, y - hh)),
    }[side]


def _self_loop(ax: Axes, node: str, pos: tuple[float, float], half: tuple[float, float],
               scale: tuple[float, float], colour: str, width: float, gid: str) -> None:
    start, end = _loop_ends(NODES[node][3], pos, half, scale)
    ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={LOOP_RAD}", arrowstyle="-|>",
                                 mutation_scale=12 if width < 2 else 16, color=colour, lw=width,
                                 shrinkA=0, shrinkB=0, zorder=3 if width >= 2 else 2, gid=gid))


def _edge_label(ax: Axes, u: str, v: str, pos: dict[str, tuple[float, float]],
                half: dict[str, tuple[float, float]], scale: tuple[float, float], text: str,
                colour: str) -> None:
    """Label an edge beside its middle; a self-loop beyond its bulge."""
    a, b = pos[u], pos[v]
    if u == v:
        side = NODES[u][3]
        start, end = _loop_ends(side, a, half[u], scale)
        chord = ((end[0] - start[0]) ** 2 + (end[1] - start[1]) ** 2) ** 0.5
        reach = 0.5 * LOOP_RAD * chord + 0.08
        x, y, ha, va = {
            "west": (start[0] - reach, a[1], "right", "center"),
            "east": (start[0] + reach, a[1], "left", "center"),
            "top": (a[0], start[1] + reach, "center", "bottom"),
            "bottom": (a[0], start[1] - reach, "center", "top"),
        }[side]
    elif a[0] == b[0] and NODES[u][0] == "server":  # vertical edge: label to its left
        x, y, ha, va = a[0] - 0.08, (a[1] + b[1]) / 2, "right", "center"
    elif a[0] == b[0]:  # vertical edge: label to its right
        x, y, ha, va = a[0] + 0.08, (a[1] + b[1]) / 2, "left", "center"
    else:  # beside its middle, or nearer the target where the middle is crowded (LABEL_ALONG)
        f = LABEL_ALONG.get((u, v), 0.5)
        x, y, ha, va = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), "center", "center"
    ax.text(x, y, text, ha=ha, va=va, fontsize=LABEL_POINTS, color=colour, zorder=5, gid=f"label:{u}->{v}",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
