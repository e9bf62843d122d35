"""Lesson 11: what real servers switch on - SO_REUSEPORT workers (each listener its own queues, the
connections spread by a hash, one worker's queue full while another has room), TCP_DEFER_ACCEPT
(a bare final ACK dropped, the connection completed by the client's request or at the last deferred
SYN-ACK round) and TCP Fast Open (a cookie first, then the request in the SYN, a child at once while
the TFO queue has room)."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Scenario, TraceEvent, synack_schedule
from ..model.rules import defer_accept_rounds
from ..views import (
    OUTCOME_TEXT,
    PATHS,
    fastopen_path,
    listener_clients,
    listener_rows,
    plot_ladder,
    plot_listener_queues,
    plot_request_wait,
    request_wait,
    stretch_time_axis,
    stretched_seam,
)
from ..views.listeners import busiest_time, client_listeners
from .base import Dashboard, checkbox, dropdown, int_slider, log_slider, note_html, version_dropdown

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


TFO_BITS = [("0: off", 0), ("1: clients only", 1), ("2: servers only", 2), ("3: clients and servers", 3)]
BURST_AT = 1.0  # s: the burst follows the first client's connection, which fetched the cookie
BURST_SPACING = 0.001  # s between two clients of the burst


class FastOpenApp(Dashboard):
    """One client fetches a cookie, then a burst of clients put their requests in their SYNs."""

    title = "TCP Fast Open: the request in the SYN"
    intro = ("Client 0 connects at 0 s and fetches a TFO cookie; at 1 s a burst of clients, 1 ms apart, sends its "
             "requests in their SYNs (sendto with MSG_FASTOPEN). The listener takes each into a child at once "
             "while its TFO queue (TCP_FASTOPEN) has room; its application accept()s at once. Both hosts run the "
             "tcp_fastopen chosen below. On the ladder a SYN that carries a request is labelled SYN+data.")
    figsize = (11.5, 7.4)
    inspected_clients = 4

    def __init__(self, version: str = "6.18", tcp_fastopen: int = 3, fastopen: int = 4, burst: int = 8,
                 rtt_ms: float = 100.0) -> None:
        controls = {
            "version": version_dropdown(version),
            "tcp_fastopen": dropdown("tcp_fastopen (sysctl bits)", TFO_BITS, tcp_fastopen),
            "fastopen": int_slider("TCP_FASTOPEN queue of the listener (requests; 0: off)", fastopen, 0, 32),
            "burst": int_slider("clients in the burst at 1 s (connections)", burst, 1, 40),
            "rtt_ms": log_slider("round trip (ms)", rtt_ms, 1.0, 300.0, ",.3g"),
        }
        super().__init__(controls)

    def kernel(self) -> Kernel:
        return Kernel(self.version, tcp_fastopen=self.value("tcp_fastopen"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.1])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        burst = self.value("burst")
        clients = [0.0] + [round(BURST_AT + i * BURST_SPACING, 6) for i in range(burst)]
        self.result = self.simulate(Scenario(
            kernel=self.kernel(), backlog=128, clients=clients, accept=1000.0, rtt=self.value("rtt_ms") / 1000,
            data=True, fastopen=self.value("fastopen"), duration=self.duration(), seed=1))

    def duration(self) -> float:
        """The burst and a few round trips after it: every request is in by then (nothing is lost)."""
        return round(BURST_AT + max(0.5, 8 * self.value("rtt_ms") / 1000), 3)

    def lanes(self) -> list[int]:
        """The ladder's clients: the first of each path (the cookie, a request taken, one not taken)."""
        r = self.result
        assert r is not None
        first: dict[str, int] = {}
        for c in r.clients:
            first.setdefault(fastopen_path(c), c.index)
        return sorted(first.values())[:LANES]

    def draw(self) -> None:
        r = self.result
        assert r is not None
        plot_request_wait(r, ax=self.axes[0])
        plot_ladder(r, clients=self.lanes(), ax=self.axes[1], max_clients=LANES)

    def note(self) -> str:
        r = self.result
        if r is None:
            return ""
        bits = r.kernel.tcp_fastopen
        if not bits & 1:
            return note_html("The clients' tcp_fastopen lacks bit 1: they never use TCP Fast Open.")
        if not bits & 2 or not self.value("fastopen"):
            return note_html("The listener takes no request from a SYN (tcp_fastopen lacks bit 2, or its TCP_FASTOPEN "
                             "queue is 0): every request waits for a regular handshake.")
        return ""

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        rows = []
        for path, (text, _) in PATHS.items():
            waits = [w for c in r.clients if fastopen_path(c) == path and (w := request_wait(c)) is not None]
            if waits:
                rows.append(f"<tr><td>{html.escape(text)}</td><td>{len(waits)}</td>"
                            f"<td>{min(waits) * 1000:.3g}-{max(waits) * 1000:.3g} ms</td></tr>")
        counters = {**r.server_counters, **r.client_counters}
        shown = ", ".join(f"{name.removeprefix('TcpExt')} {counters[name]}" for name in sorted(counters)
                          if "FastOpen" in name and counters[name])
        return ("<table style='font-size:13px'><tr><th>path</th><th>clients</th><th>connect() to accept()</th></tr>"
                + "".join(rows) + f"</table><div style='font-size:13px'>{html.escape(shown or 'no TFO counter moved')}"
                "</div>")


def fastopen_app(version: str = "6.18", tcp_fastopen: int = 3, fastopen: int = 4, burst: int = 8,
                 rtt_ms: float = 100.0) -> FastOpenApp:
    """Lesson 11's second dashboard: ``app = fastopen_app(); app.widget``."""
    return FastOpenApp(version, tcp_fastopen, fastopen, burst, rtt_ms)
