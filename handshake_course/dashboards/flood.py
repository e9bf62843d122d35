"""Lesson 7: SYN floods and syncookies - spoofed SYNs fill the SYN queue; what tcp_syncookies,
the backlog and tcp_max_syn_backlog do for the legitimate clients' success rate and latency."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Result, Scenario, TraceEvent, simulate
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
from .plots import view

DURATION = 10.0


def legit_success(result: Result) -> float:
    """The share of the legitimate clients whose connect() succeeded."""
    n = len(result.clients)
    return sum(1 for c in result.clients if c.connected_at is not None) / n if n else 0.0


def flood_scenario(kernel: Kernel, flood: float, backlog: int, legit_rate: float,
                   duration: float = DURATION) -> Scenario:
    """A flood of `flood` spoofed SYN/s for `duration` s, and legitimate clients arriving at
    `legit_rate` per second from 0.5 s on; the application accepts at once."""
    n = max(1, int(legit_rate * (duration - 1.0)))
    return Scenario(kernel=kernel, backlog=backlog, clients=[0.5 + i / legit_rate for i in range(n)],
                    accept=100_000.0, rtt=0.02, flood=flood, duration=duration, seed=1)


def flood_sweep(rates: list[float], kernels: dict[str, Kernel], backlog: int = 128, legit_rate: float = 20.0,
                duration: float = 5.0) -> dict[str, list[tuple[float, float, float | None]]]:
    """For each labelled kernel, (flood rate, share of legitimate clients connected, their p99 connect
    latency in s or None) at each flood rate: the data of a success-rate-versus-attack-rate plot."""
    out: dict[str, list[tuple[float, float, float | None]]] = {}
    for label, kernel in kernels.items():
        rows = []
        for rate in rates:
            r = simulate(flood_scenario(kernel, rate, backlog, legit_rate, duration))
            lat = sorted(r.latencies())
            p99 = lat[max(0, -(-99 * len(lat) // 100) - 1)] if lat else None
            rows.append((rate, legit_success(r), p99))
        out[label] = rows
    return out


class FloodApp(Dashboard):
    """A SYN flood against one listener."""

    title = "SYN flood: syncookies, backlog and tcp_max_syn_backlog"
    intro = (f"Spoofed SYNs arrive for {DURATION:g} s from addresses that never answer; legitimate clients "
             "connect from t = 0.5 s on (RTT 20 ms) and the application accepts at once.")
    figsize = (11.5, 6.8)
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
        self.result = simulate(flood_scenario(self.kernel(), self.value("flood"), self.value("backlog"),
                                              self.value("legit_rate")))

    def draw(self) -> None:
        assert self.result is not None
        view("plot_queues")(self.result, ax=self.axes[0])
        view("plot_latency")([self.result], ax=self.axes[1], kind="cdf",
                             labels=[f"legitimate clients, Linux {self.version}"])

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        log = "<br>".join(f"[{t:9.4f}] {html.escape(line)}" for t, line in r.log[:3]) or "(nothing)"
        lines = "<br>".join(html.escape(x) for x in view("latency_summary")(r).lines())
        return (f"<div style='font-size:13px'><b>{legit_success(r):.0%}</b> of the legitimate clients connected "
                f"within the {DURATION:g} s.<br>{lines}<br><b>dmesg</b>: <code>{log}</code></div>"
                + str(view("counters_view")(r, only_changed=True)._repr_html_()))

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.client is not None and ev.client < 30


def flood_app(version: str = "6.18", flood: float = 1000.0, syncookies: int | None = None, backlog: int = 128,
              legit_rate: float = 20.0) -> FloodApp:
    """The lesson 7 dashboard: ``app = flood_app(); app.widget``."""
    return FloodApp(version, flood, syncookies, backlog, legit_rate)
