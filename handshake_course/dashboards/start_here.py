"""Lesson 0: one handshake as a packet ladder, and the TCP state machine with the path this
connection took through it."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Scenario
from ..views import OUTCOME_TEXT, plot_ladder, plot_state_graph, state_graph_key
from .base import Dashboard, dropdown, float_slider, version_dropdown

DROPS = [("nothing", ()), ("every SYN", ("SYN",)), ("every SYN-ACK", ("SYN-ACK",)),
         ("every third ACK", ("ACK",))]


class HandshakeApp(Dashboard):
    """One connect() to a listener: ladder plus state machine."""

    title = "One three-way handshake"
    intro = ("One client calls connect() at t = 0 to a server that listens and accepts. Choose what the "
             "network loses, then pick a kernel event below to see the kernel functions behind it.")
    figsize = (11.0, 9.0)
    steady_axes = (1,)  # the state graph keeps its place when the ladder's tick labels change

    def __init__(self, version: str = "6.18", rtt_ms: float = 100.0) -> None:
        controls = {
            "version": version_dropdown(version),
            "rtt_ms": float_slider("round-trip time (ms)", rtt_ms, 1.0, 300.0, 1.0, ".0f"),
            "drop": dropdown("the network loses", DROPS, ()),
        }
        super().__init__(controls)

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 2.4])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        self.result = self.simulate(Scenario(kernel=self.version, backlog=128, clients=1, accept=1000.0,
                                        rtt=self.value("rtt_ms") / 1000, drop=self.value("drop"), seed=1))

    def draw(self) -> None:
        assert self.result is not None
        result = self.result
        plot_ladder(result, clients=[0], ax=self.axes[0])
        # the state graph is mostly text, slow to render, and the same for most controls' values
        self.draw_once(self.axes[1], state_graph_key(result, 0),
                       lambda: plot_state_graph(result, client=0, ax=self.axes[1]))

    def summary_html(self) -> str:
        assert self.result is not None
        c = self.result.clients[0]
        how = OUTCOME_TEXT[c.outcome]
        if c.latency is not None:
            how += f"; connect() returned after {c.latency * 1000:.4g} ms"
        if c.failed_at is not None:
            how += f"; connect() failed with {c.errno} after {c.failed_at:.4g} s"
        return (f"<div style='font-size:13px'>Connection 0 from port {c.port}: <b>{how}</b>. "
                f"SYNs sent at {', '.join(f'{t:g}' for t in c.syn_times)} s. "
                f"{len(self.result.packets)} packets, {len(self.result.trace)} kernel events.</div>")


def handshake_app(version: str = "6.18", rtt_ms: float = 100.0) -> HandshakeApp:
    """The lesson 0 dashboard: ``app = handshake_app(); app.widget``."""
    return HandshakeApp(version, rtt_ms)
