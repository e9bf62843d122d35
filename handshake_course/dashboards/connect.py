"""Lesson 2: connect() - the ephemeral ports a version picks, and the SYN retransmission timer
(initial RTO, backoff, 6.5+ linear timeouts, tcp_syn_retries) up to ETIMEDOUT."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Scenario, TraceEvent, syn_schedule
from ..views import plot_ports, plot_syn_timeline
from .base import (
    Dashboard,
    dropdown,
    float_slider,
    int_slider,
    kernel_from,
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
