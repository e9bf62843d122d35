"""Lesson 7: SYN floods and syncookies - spoofed SYNs fill the SYN queue; what tcp_syncookies,
the backlog and tcp_max_syn_backlog do for the legitimate clients' success rate and latency."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import latency_summary
from ..analysis.floods import DURATION, flood_scenario, legit_success
from ..model import Kernel, TraceEvent
from ..text import counters_view
from ..views import plot_latency, plot_queues
from .base import (
    Dashboard,
    float_slider,
    int_slider,
    int_text,
    kernel_from,
    log_slider,
    toggle,
    version_dropdown,
)


class FloodApp(Dashboard):
    """A SYN flood against one listener."""

    title = "SYN flood: syncookies, backlog and tcp_max_syn_backlog"
    intro = (f"Spoofed SYNs arrive for {DURATION:g} s from addresses that never answer; legitimate clients "
             "connect from t = 0.5 s on (RTT 20 ms) and the application accepts at once.")
    figsize = (11.5, 6.8)
    inspected_clients = 30  # the inspector's list: the first 30 clients' events
    version_settings = ("tcp_syncookies", "tcp_max_syn_backlog")

    def __init__(self, version: str = "6.18", flood: float = 1000.0, syncookies: int | None = None,
                 backlog: int = 128, legit_rate: float = 20.0) -> None:
        k = Kernel(version)
        controls = {
            "version": version_dropdown(version),
            "flood": log_slider("flood (spoofed SYN/s)", flood, 10.0, 20000.0),
            "tcp_syncookies": toggle("tcp_syncookies", [0, 1, 2], k.tcp_syncookies if syncookies is None else syncookies),
            "backlog": int_slider("listen() backlog (connections)", backlog, 1, 4096),
            "tcp_max_syn_backlog": int_text("tcp_max_syn_backlog (requests)", k.tcp_max_syn_backlog),
            "legit_rate": float_slider("legitimate connect() rate (per s)", legit_rate, 1.0, 100.0, 1.0, ".0f"),
        }
        super().__init__(controls)

    def kernel(self) -> Kernel:
        return kernel_from(self.version, tcp_syncookies=self.value("tcp_syncookies"),
                           tcp_max_syn_backlog=self.value("tcp_max_syn_backlog"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.2, 1.0])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        self.result = self.simulate(flood_scenario(self.kernel(), self.value("flood"), self.value("backlog"),
                                              self.value("legit_rate")))

    def draw(self) -> None:
        assert self.result is not None
        plot_queues(self.result, ax=self.axes[0])
        plot_latency([self.result], ax=self.axes[1], kind="cdf",
                             labels=[f"legitimate clients, Linux {self.version}"])

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        log = "<br>".join(f"[{t:9.4f}] {html.escape(line)}" for t, line in r.log[:3]) or "(nothing)"
        lines = "<br>".join(html.escape(x) for x in latency_summary(r).lines())
        return (f"<div style='font-size:13px'><b>{legit_success(r):.0%}</b> of the legitimate clients connected "
                f"within the {DURATION:g} s.<br>{lines}<br><b>dmesg</b>: <code>{log}</code></div>"
                + str(counters_view(r, only_changed=True)._repr_html_()))

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.client is not None and ev.client < 30


def flood_app(version: str = "6.18", flood: float = 1000.0, syncookies: int | None = None, backlog: int = 128,
              legit_rate: float = 20.0) -> FloodApp:
    """The lesson 7 dashboard: ``app = flood_app(); app.widget``."""
    return FloodApp(version, flood, syncookies, backlog, legit_rate)
