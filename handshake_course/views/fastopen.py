"""TCP Fast Open (lesson 11): which path each client's request took - a cookie request, the request
in the SYN taken at once, or the request in a SYN the listener did not take - and how long after its
connect() began the server's application had it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.ticker import MaxNLocator

from .style import BLUE, GREEN, GREY, ORANGE, VERMILLION, prepare_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..model import ClientRecord, Result

PATHS: dict[str, tuple[str, str]] = {
    "plain": ("no TFO: handshake, then request", GREY),
    "cookie": ("cookie request: handshake, then request", BLUE),
    "taken": ("request in the SYN, taken at once", GREEN),
    "not_taken": ("request in the SYN, not taken: sent again", ORANGE),
}
"""Each path a client's request can take with TCP Fast Open: its legend text and its colour."""


def fastopen_path(client: ClientRecord) -> str:
    """The PATHS key of one client: from its ``fastopen`` ("cookie_requested", "data_in_syn") and
    whether the SYN-ACK acknowledged the data in its SYN (``syn_data_acked``)."""
    if client.fastopen == "cookie_requested":
        return "cookie"
    if client.fastopen == "data_in_syn":
        return "taken" if client.syn_data_acked else "not_taken"
    return "plain"


def request_wait(client: ClientRecord) -> float | None:
    """Seconds from the client's connect() to accept() returning its connection on the server, the
    request with it (a TFO child holds it from the SYN; otherwise the request comes with or right
    after the final ACK); None if it was never accepted."""
    return None if client.accepted_at is None else client.accepted_at - client.start


def plot_request_wait(result: Result, ax: Axes | None = None) -> Axes:
    """One bar per client: how long after its connect() the server's application had its request,
    coloured by the path it took (PATHS), with half a round trip and one and a half marked: the
    least a request in the SYN and a request after the handshake can take."""
    ax = prepare_axes(ax, (8.0, 3.2), "request_wait")
    rtt = result.scenario.rtt
    shown: set[str] = set()
    for c in result.clients:
        wait = request_wait(c)
        if wait is None:
            continue
        path = fastopen_path(c)
        text, colour = PATHS[path]
        ax.bar(c.index, wait * 1000, width=0.8, color=colour, label=None if path in shown else text)
        shown.add(path)
    for factor, words in ((0.5, "RTT / 2: a request in the SYN"), (1.5, "1.5 RTT: a request after the handshake")):
        ax.axhline(factor * rtt * 1000, color=VERMILLION if factor < 1 else GREY, ls=":", lw=1.2, label=words)
    never = sum(1 for c in result.clients if c.accepted_at is None)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("client (connect() order)" + (f"; {never} never accepted" if never else ""))
    ax.set_ylabel("connect() to accept() (ms)")
    ax.set_title(f"When the application has each request, Linux {result.kernel.version}", fontsize="medium")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
