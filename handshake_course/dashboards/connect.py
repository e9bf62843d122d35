"""Lesson 2: connect() - the ephemeral ports a version picks, and the SYN retransmission timer
(initial RTO, backoff, 6.5+ linear timeouts, tcp_syn_retries) up to ETIMEDOUT; and when connections
close, the ports their TIME_WAIT sockets hold until connect() finds none (EADDRNOTAVAIL) or
tcp_tw_reuse lets it take one."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Scenario, TraceEvent, syn_schedule
from ..model.rules import TIMEWAIT_LEN_US
from ..views import plot_port_use, plot_ports, plot_syn_timeline
from .base import (
    Dashboard,
    dropdown,
    float_slider,
    int_slider,
    kernel_from,
    log_slider,
    note_html,
    timers_toggle,
    version_dropdown,
)

SERVERS = [("nothing answers (SYNs dropped)", "blackhole"), ("a listener answers", "listener"),
           ("no listener on the port (RST)", "closed")]


class ConnectApp(Dashboard):
    """connect(): ports and the SYN timer."""

    title = "connect(): the ephemeral port and the SYN retransmission timer"
    intro = ("Several connect() calls to the same server, 10 ms apart. Left: the port each call got. "
             "Right: the SYNs of the first call and when connect() returns or gives up.")
    figsize = (12.5, 4.2)
    inspected_clients = 2  # the inspector's list: the first 2 clients' events
    version_settings = ("tcp_timeout_init", "tcp_syn_retries", "tcp_syn_linear_timeouts")

    def __init__(self, version: str = "6.18", connections: int = 60, server: str = "blackhole") -> None:
        k = Kernel(version)
        controls = {
            "version": version_dropdown(version),
            "connections": int_slider("connect() calls (10 ms apart)", connections, 1, 400),
            "server": dropdown("the server", SERVERS, server),
            "tcp_timeout_init": float_slider("initial RTO, switch tcp_timeout_init (s)", k.tcp_timeout_init,
                                             0.2, 3.0, 0.1, ".1f"),
            "tcp_syn_retries": int_slider("tcp_syn_retries (retransmissions)", k.tcp_syn_retries, 1, 10),
            "tcp_syn_linear_timeouts": int_slider("tcp_syn_linear_timeouts (6.5+, RTOs)", 4, 0, 8),
            "timers": timers_toggle(),
        }
        super().__init__(controls)

    def sync_controls(self) -> None:
        has_linear = Kernel(self.version).has("tcp_syn_linear_timeouts")
        self.controls["tcp_syn_linear_timeouts"].disabled = not has_linear

    def kernel(self) -> Kernel:
        return kernel_from(self.version, self.value("timers"), tcp_timeout_init=self.value("tcp_timeout_init"),
                           tcp_syn_retries=self.value("tcp_syn_retries"),
                           tcp_syn_linear_timeouts=self.value("tcp_syn_linear_timeouts"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.5])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]

    def compute(self) -> None:
        server = self.value("server")
        n = self.value("connections")
        self.result = self.simulate(Scenario(
            kernel=self.kernel(), backlog=None if server == "closed" else 4096,
            clients=[i * 0.01 for i in range(n)], accept=1000.0, rtt=0.02,
            drop=("SYN",) if server == "blackhole" else (), seed=1))

    def draw(self) -> None:
        assert self.result is not None
        plot_ports(self.result, self.axes[0])
        plot_syn_timeline(self.result, self.axes[1], client=0)

    def note(self) -> str:
        if not Kernel(self.version).has("tcp_syn_linear_timeouts"):
            return note_html(f"tcp_syn_linear_timeouts is greyed out: Linux {self.version} has no such sysctl "
                             "(new in 6.5).")
        return ""

    def summary_html(self) -> str:
        assert self.result is not None
        k = self.result.kernel
        sched = syn_schedule(k)
        ports = [c.port for c in self.result.clients if c.port is not None]
        even = sum(1 for p in ports if p % 2 == 0)
        steps = [b - a for a, b in zip(ports, ports[1:], strict=False)]
        step_text = ", ".join(map(str, steps[:10])) + (" ..." if len(steps) > 10 else "")
        return ("<div style='font-size:13px'>"
                f"syn_schedule: SYNs at {', '.join(f'{t:g}' for t in sched.send_times)} s, "
                f"ETIMEDOUT at <b>{sched.give_up:g} s</b> ({sched.retransmissions} retransmissions).<br>"
                f"Ports: {even} of {len(ports)} even; steps between consecutive calls: {step_text}.</div>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.client in (0, 1, None)


def connect_app(version: str = "6.18", connections: int = 60, server: str = "blackhole") -> ConnectApp:
    """The lesson 2 dashboard: ``app = connect_app(); app.widget``."""
    return ConnectApp(version, connections, server)


TIME_WAIT_S = TIMEWAIT_LEN_US / 1e6  # TCP_TIMEWAIT_LEN: 60 s on every version
FIRST_PORT = 32768  # the range starts where the default one does; the control sets its size
CALLS_FOR = 70.0  # s of connect() calls: TIME_WAIT's 60 s and the first ports coming back
REUSE = [("0: never", 0), ("1: for new outgoing connections", 1),
         ("2: loopback connections only (4.18+; before, on)", 2)]


class TimeWaitApp(Dashboard):
    """A client that opens short connections to one server until its ports run out."""

    title = "Out of ports: TIME_WAIT and tcp_tw_reuse"
    intro = ("A client opens connections to one server at a steady rate and closes each one first, after the time "
             "set below; every closed socket waits in TIME_WAIT for 60 s holding its port. When the range has "
             "no free port left, connect() fails at once with EADDRNOTAVAIL (RTT 20 ms).")
    figsize = (11.0, 4.6)
    inspected_clients = 3
    version_settings = ("tcp_tw_reuse",)

    def __init__(self, version: str = "6.18", ports: int = 100, rate: float = 10.0, hold: float = 0.5,
                 tcp_tw_reuse: int | None = None) -> None:
        reuse = Kernel(version).tcp_tw_reuse if tcp_tw_reuse is None else tcp_tw_reuse
        controls = {
            "version": version_dropdown(version),
            "ports": int_slider("size of ip_local_port_range (ports)", ports, 10, 1000),
            "rate": log_slider("connect() rate (calls per s)", rate, 1.0, 50.0, ",.3g"),
            "hold": log_slider("each connection closes after (s)", hold, 0.01, 30.0, ",.3g"),
            "tcp_tw_reuse": dropdown("tcp_tw_reuse", REUSE, reuse),
        }
        super().__init__(controls)

    def kernel(self) -> Kernel:
        ports = self.value("ports")
        return Kernel(self.version, ip_local_port_range=(FIRST_PORT, FIRST_PORT + ports - 1),
                      tcp_tw_reuse=self.value("tcp_tw_reuse"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        return [fig.add_subplot(1, 1, 1)]

    def compute(self) -> None:
        rate = self.value("rate")
        calls = int(CALLS_FOR * rate)
        self.result = self.simulate(Scenario(
            kernel=self.kernel(), backlog=4096, clients=[round(i / rate, 6) for i in range(calls)], accept=1000.0,
            rtt=0.02, hold=self.value("hold"), duration=round(CALLS_FOR + 5.0, 3), seed=1))

    def draw(self) -> None:
        assert self.result is not None
        plot_port_use(self.result, self.axes[0])

    def note(self) -> str:
        k = self.result.kernel if self.result is not None else None
        if k is None or k.tcp_tw_reuse != 2:
            return ""
        if k.tw_reuse_loopback:
            return note_html(f"tcp_tw_reuse=2 on Linux {k.version} reuses ports of loopback connections only; this "
                             "client talks to another host, so it waits out TIME_WAIT as with 0.")
        return note_html(f"Linux {k.version} knows no value 2: any nonzero tcp_tw_reuse turns reuse on "
                         "(the loopback-only 2 came in 4.18).")

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        ports, rate, hold = self.value("ports"), self.value("rate"), self.value("hold")
        failed = [c for c in r.clients if c.outcome == "no_port"]
        reused = r.client_counters.get("TcpExtTWRecycled", 0)  # one per connect_tw_reuse (tcp_twsk_unique)
        first = (f"the first EADDRNOTAVAIL at <b>{failed[0].start:g} s</b> (call {failed[0].index}); "
                 f"{len(failed):,} of {len(r.clients):,} calls failed" if failed else "no connect() failed")
        steady = ports / (hold + TIME_WAIT_S)
        return ("<div style='font-size:13px'>"
                f"{ports:,} ports at {rate:g} calls/s last {ports / rate:g} s; {first}. "
                f"{reused:,} calls took a TIME_WAIT socket's port (tcp_tw_reuse).<br>"
                f"Without reuse a port comes back {hold:g} s + TIME_WAIT's {TIME_WAIT_S:g} s after its call: "
                f"this client can keep up about {ports:,} / {hold + TIME_WAIT_S:g} s = <b>{steady:.3g} calls/s</b>."
                "</div>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.host == "client"


def time_wait_app(version: str = "6.18", ports: int = 100, rate: float = 10.0, hold: float = 0.5,
                  tcp_tw_reuse: int | None = None) -> TimeWaitApp:
    """Lesson 2's second dashboard: ``app = time_wait_app(); app.widget``."""
    return TimeWaitApp(version, ports, rate, hold, tcp_tw_reuse)
