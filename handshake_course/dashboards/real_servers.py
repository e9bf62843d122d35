"""Lesson 11: what real servers switch on - SO_REUSEPORT workers (each listener its own queues, the
connections spread by a hash, one worker's queue full while another has room) and TCP_DEFER_ACCEPT
(a bare final ACK dropped, the connection completed by the client's request or at the last deferred
SYN-ACK round)."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Scenario, TraceEvent, synack_schedule
from ..model.rules import defer_accept_rounds
from ..views import (
    OUTCOME_TEXT,
    listener_clients,
    listener_rows,
    plot_ladder,
    plot_listener_queues,
    stretch_time_axis,
    stretched_seam,
)
from ..views.listeners import busiest_time, client_listeners
from .base import Dashboard, checkbox, int_slider, log_slider, note_html, version_dropdown

SPACING = 0.001  # s between two clients of the burst
RTT = 0.01  # s
SETTLE = 8.0  # s simulated after the burst and the deferred rounds: the SYN-ACK resends at 1, 3 and 7 s fit
LANES = 6  # clients on the ladder


class RealServersApp(Dashboard):
    """A burst of clients against a SO_REUSEPORT group, with or without TCP_DEFER_ACCEPT."""

    title = "Real servers: SO_REUSEPORT workers and TCP_DEFER_ACCEPT"
    intro = (f"A burst of clients, {SPACING * 1000:g} ms apart (RTT {RTT * 1000:g} ms), connects to a port on which "
             "each worker has its own listening socket (SO_REUSEPORT); the kernel picks the socket by a hash of "
             "the connection's addresses and ports. Each worker's accept() loop takes connections at the rate set "
             "below.")
    figsize = (11.5, 7.6)
    inspected_actions = ("syn_new", "syn_cookie", "syn_drop_accept_queue_full", "syn_drop_syn_queue_full",
                         "ack_new_child", "ack_cookie", "ack_accept_queue_full", "ack_cookie_accept_queue_full",
                         "ack_defer_drop", "synack_defer_wait", "synack_rto", "data_new_child", "accept")
    """The inspector lists the server's handshake steps (not the clients' timers): what the lesson is about."""

    def __init__(self, version: str = "6.18", listeners: int = 4, backlog: int = 8, clients: int = 36,
                 accept_rate: float = 5.0, defer_accept: int = 0, data: bool = False) -> None:
        controls = {
            "version": version_dropdown(version),
            "listeners": int_slider("SO_REUSEPORT listeners (workers)", listeners, 1, 8),
            "backlog": int_slider("listen() backlog of each listener (connections)", backlog, 0, 64),
            "clients": int_slider(f"clients in the burst, {SPACING * 1000:g} ms apart (connections)", clients, 1, 200),
            "accept_rate": log_slider("accept() rate of each worker (per s)", accept_rate, 1.0, 1000.0, ",.3g"),
            "defer_accept": int_slider("TCP_DEFER_ACCEPT (s; 0: off)", defer_accept, 0, 30),
            "data": checkbox("clients send a request as soon as connect() returns", data),
        }
        super().__init__(controls)

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.25])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def kernel(self) -> Kernel:
        return Kernel(self.version)

    def duration(self, kernel: Kernel) -> float:
        """Long enough for the burst, the deferred rounds and the SYN-ACK resends at 1, 3 and 7 s."""
        rounds = defer_accept_rounds(kernel, self.value("defer_accept"))
        deferred = synack_schedule(kernel).send_times[min(rounds, len(synack_schedule(kernel).send_times) - 1)]
        return round(self.value("clients") * SPACING + deferred + SETTLE, 3)

    def compute(self) -> None:
        kernel = self.kernel()
        n = self.value("clients")
        self.result = self.simulate(Scenario(
            kernel=kernel, backlog=self.value("backlog"), clients=[round(i * SPACING, 6) for i in range(n)],
            accept=self.value("accept_rate"), rtt=RTT, duration=self.duration(kernel), seed=1,
            data=self.value("data"), listeners=self.value("listeners"), defer_accept=self.value("defer_accept")))

    def draw(self) -> None:
        r = self.result
        assert r is not None
        plot_ladder(r, clients=listener_clients(r, LANES), ax=self.axes[1], max_clients=LANES)
        plot_listener_queues(r, ax=self.axes[0])
        seam = stretched_seam(self.axes[1])
        if seam is not None:  # the queues on the same time axis as the packets under them
            stretch_time_axis(self.axes[0], 0.0, seam, r.end)
            self.axes[0].set_xlabel("time (s), stretched before the dotted line")

    def note(self) -> str:
        """What the deferral does to silent clients, when it is on."""
        r = self.result
        seconds = self.value("defer_accept")
        if r is None or not seconds:
            return ""
        rounds = defer_accept_rounds(r.kernel, seconds)
        at = synack_schedule(r.kernel).send_times[min(rounds, len(synack_schedule(r.kernel).send_times) - 1)]
        who = ("their requests complete the handshake" if self.value("data") else
               f"silent clients wait for the SYN-ACK resent at round {rounds}, about {at:g} s after the first")
        return note_html(f"TCP_DEFER_ACCEPT {seconds} s = {rounds} SYN-ACK round{'s' if rounds != 1 else ''} on "
                         f"Linux {r.kernel.version}: bare third ACKs are dropped; {who}.")

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        rows = listener_rows(r)
        at = busiest_time(r)
        deferred = bool(r.scenario.defer_accept)
        head = ("<tr><th>listener</th><th>connections</th><th>accepted</th><th>longest accept queue</th>"
                "<th>ListenOverflows</th><th>ListenDrops</th>"
                + ("<th>TCPDeferAcceptDrop</th>" if deferred else "")
                + f"<th><code>ss -lnt</code> at {at:.3g} s<br>(State Recv-Q Send-Q)</th></tr>")
        body = "".join(
            f"<tr><td>{row.listener}</td><td>{row.connections}</td><td>{row.accepted}</td><td>{row.peak}</td>"
            f"<td>{row.overflows}</td><td>{row.drops}</td>"
            + (f"<td>{row.defer_drops}</td>" if deferred else "")
            + f"<td><code>LISTEN {row.ss.recv_q} {row.ss.send_q}</code></td></tr>" for row in rows)
        group = len(r.listeners)
        capacity = group * r.listener.accept_capacity if r.listener else 0
        outcomes = ", ".join(f"{n} {html.escape(OUTCOME_TEXT[o])}" for o, n in r.outcomes().most_common())
        on = client_listeners(r)
        lanes = ", ".join(f"client {c} on listener {on[c]}" for c in listener_clients(r, LANES) if c in on)
        return (f"<div style='font-size:13px'>The group holds {group} x {r.listener.accept_capacity if r.listener else 0}"
                f" = {capacity} connections in its accept queues. At the end ({r.end:g} s): {outcomes}.<br>"
                f"Ladder: {html.escape(lanes)}.</div>"
                f"<table style='font-size:13px'>{head}{body}</table>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.host == "server"


def real_servers_app(version: str = "6.18", listeners: int = 4, backlog: int = 8, clients: int = 36,
                     accept_rate: float = 5.0, defer_accept: int = 0, data: bool = False) -> RealServersApp:
    """The lesson 11 dashboard: ``app = real_servers_app(); app.widget``."""
    return RealServersApp(version, listeners, backlog, clients, accept_rate, defer_accept, data)
