"""Lesson 4: the SYN-ACK and the third ACK - the client is ESTABLISHED first; a full accept queue at
the third ACK (the acked flag and SYN-ACK retransmission, or an RST with tcp_abort_on_overflow); a
lost third ACK; clients that speak first (their request completes the handshake)."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Scenario, TraceEvent, synack_schedule
from ..views import OUTCOME_TEXT, plot_ladder, plot_queues, stretch_time_axis, stretched_seam
from .base import (
    Dashboard,
    checkbox,
    dropdown,
    float_slider,
    int_slider,
    kernel_from,
    timers_toggle,
    toggle,
    version_dropdown,
)


class ThirdAckApp(Dashboard):
    """The third ACK meets a full accept queue, or is lost."""

    title = "The SYN-ACK and the third ACK"
    intro = ("One connection at t = 0, then a burst of the others at t = 0.2 s (RTT 100 ms). The application "
             "is busy and calls accept() only from the chosen time on, once per connection.")
    figsize = (11.5, 7.2)
    version_settings = ("tcp_synack_retries", "tcp_abort_on_overflow")

    def __init__(self, version: str = "6.18", backlog: int = 2, clients: int = 4, accept_at: float = 5.0,
                 lose_ack: bool = False, duration: float = 10.0, data: bool = False) -> None:
        k = Kernel(version)
        controls = {
            "version": version_dropdown(version),
            "backlog": int_slider("listen() backlog (connections)", backlog, 0, 8),
            "clients": int_slider("connect() calls (clients)", clients, 1, 8),
            "accept_at": float_slider("application calls accept() from (s)", accept_at, 0.0, 200.0, 0.5, ".1f"),
            "tcp_abort_on_overflow": toggle("tcp_abort_on_overflow", [0, 1], k.tcp_abort_on_overflow),
            "tcp_synack_retries": int_slider("tcp_synack_retries (retransmissions)", k.tcp_synack_retries, 0, 8),
            "lose_ack": checkbox("the network loses every third ACK (and every later ACK)", lose_ack),
            "data": checkbox("clients send a request as soon as connect() returns", data),
            "duration": dropdown("simulated time (s)", [5.0, 10.0, 30.0, 70.0, 200.0], duration),
            "timers": timers_toggle(),
        }
        super().__init__(controls)

    def sync_controls(self) -> None:
        """accept() can only start within the simulated time: the slider ends there."""
        with self.batch_silently():
            self.controls["accept_at"].max = self.value("duration")

    def kernel(self) -> Kernel:
        return kernel_from(self.version, self.value("timers"), tcp_abort_on_overflow=self.value("tcp_abort_on_overflow"),
                           tcp_synack_retries=self.value("tcp_synack_retries"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.6, 1.0])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        n = self.value("clients")
        self.result = self.simulate(Scenario(
            kernel=self.kernel(), backlog=self.value("backlog"), clients=[0.0] + [0.2] * (n - 1),
            accept=[self.value("accept_at")] * n, rtt=0.1, drop=("ACK",) if self.value("lose_ack") else (),
            duration=self.value("duration"), seed=1, data=self.value("data")))

    def draw(self) -> None:
        assert self.result is not None
        plot_ladder(self.result, ax=self.axes[0], max_clients=8)
        plot_queues(self.result, ax=self.axes[1])
        seam = stretched_seam(self.axes[0])
        if seam is not None:  # the queues on the same time axis as the packets above them
            stretch_time_axis(self.axes[1], 0.0, seam, self.result.end)
            self.axes[1].set_xlabel("time (s), stretched before the dotted line")

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        sched = synack_schedule(r.kernel)
        rows = []
        data = r.scenario.data
        for c in r.clients:
            established = f"{c.connected_at:.3g} s" if c.connected_at is not None else "-"
            accepted = f"{c.accepted_at:.3g} s" if c.accepted_at is not None else "-"
            request = (f"<td>{', '.join(f'{t:.3g}' for t in c.data_times) or '-'}</td>"
                       f"<td>{f'{c.data_acked_at:.3g} s' if c.data_acked_at is not None else '-'}</td>") if data else ""
            rows.append(f"<tr><td>{c.index}</td><td>{established}</td>{request}<td>{accepted}</td>"
                        f"<td>{html.escape(OUTCOME_TEXT[c.outcome])}{' (' + c.errno + ')' if c.errno else ''}"
                        "</td></tr>")
        return ("<div style='font-size:13px'>Server's SYN-ACK schedule for one request without an answer: "
                f"sends at {', '.join(f'{t:g}' for t in sched.send_times)} s, request dropped at "
                f"{sched.give_up:g} s.</div><table style='font-size:13px'><tr><th>client</th>"
                "<th>client ESTABLISHED at</th>"
                + ("<th>request sent at (s)</th><th>request ACKed at</th>" if data else "")
                + "<th>accept() returned at</th><th>outcome</th></tr>"
                + "".join(rows) + "</table>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.action not in ("connect",)


def third_ack_app(version: str = "6.18", backlog: int = 2, clients: int = 4, accept_at: float = 5.0,
                  lose_ack: bool = False, duration: float = 10.0, data: bool = False) -> ThirdAckApp:
    """The lesson 4 dashboard: ``app = third_ack_app(); app.widget``."""
    return ThirdAckApp(version, backlog, clients, accept_at, lose_ack, duration, data)
