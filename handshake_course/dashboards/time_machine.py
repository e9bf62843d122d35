"""Lesson 8: the kernel time machine - one scenario on each era's kernel, or on every profile, side by side."""

from __future__ import annotations

import html
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import ERAS, VERSIONS, Result, Scenario, TraceEvent
from ..views import outcome_bars_html, plot_latency
from .base import Dashboard, dropdown, float_slider, int_slider, kernel_from, toggle


@dataclass(frozen=True)
class Preset:
    """A scenario to replay on every version."""

    name: str
    backlog: int
    clients: int
    spread: float  # the clients' connect() calls are spread over this many seconds
    accept: float  # accept() calls per second; 0 = never
    loss: float  # per packet
    drop: tuple[str, ...]
    syncookies: int
    duration: float


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("a burst against a small backlog", 8, 40, 0.0, 0.0, 0.0, (), 1, 10.0),
    Preset("listen(0) with syncookies off", 0, 3, 0.0, 0.0, 0.0, (), 0, 10.0),
    Preset("a slow application (120 conn/s, 100 accept/s)", 16, 1200, 10.0, 100.0, 0.0, (), 1, 40.0),
    Preset("5 % packet loss, 2000 clients", 4096, 2000, 10.0, 1e6, 0.05, (), 1, 200.0),
    Preset("every SYN-ACK lost", 128, 1, 0.0, 1e6, 0.0, ("SYN-ACK",), 1, 200.0),
    Preset("clients trickle in, accept queue full", 2, 20, 2.0, 0.0, 0.0, (), 1, 10.0),
)}
KERNELS = {"one per era": ERAS, "every profile": VERSIONS}
COUNTERS = ("TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies",
            "TcpExtSyncookiesRecv", "TcpExtTCPTimeouts", "TcpRetransSegs")


class TimeMachineApp(Dashboard):
    """One scenario on each era's kernel (2.6.32, 3.10, 5.15, 6.18) or on every modelled profile."""

    title = "Kernel time machine: one scenario on many kernels"
    intro = ("Pick a scenario, then change its knobs: each kernel runs it with its own defaults "
             "(except tcp_syncookies, set here for all). 'every profile' adds the LTS kernels people run.")
    figsize = (11.5, 4.0)
    inspected_clients = 10  # the inspector's list: the first 10 clients' events

    def __init__(self, preset: str = "clients trickle in, accept queue full") -> None:
        p = PRESETS[preset]
        controls = {
            "preset": dropdown("scenario", list(PRESETS), preset),
            "backlog": int_slider("listen() backlog (connections)", p.backlog, 0, 4096),
            "clients": int_slider("connect() calls (clients)", p.clients, 1, 3000),
            "loss_pct": float_slider("packet loss (%)", p.loss * 100, 0.0, 30.0, 0.5, ".1f"),
            "tcp_syncookies": toggle("tcp_syncookies (all versions)", [0, 1, 2], p.syncookies),
            "kernels": toggle("kernels", list(KERNELS), "one per era"),
        }
        self.results: dict[str, Result] = {}
        super().__init__(controls)
        controls["preset"].unobserve(self._on_change, names="value")
        controls["preset"].observe(self._on_preset, names="value")

    def _on_preset(self, change: dict[str, str]) -> None:
        """Load a preset's knobs, then run once."""
        p = PRESETS[change["new"]]
        with self.batch():
            self.controls["backlog"].value = p.backlog
            self.controls["clients"].value = p.clients
            self.controls["loss_pct"].value = p.loss * 100
            self.controls["tcp_syncookies"].value = p.syncookies

    def scenario(self, version: str) -> Scenario:
        p = PRESETS[self.value("preset")]
        n = self.value("clients")
        times = [p.spread * i / n for i in range(n)] if p.spread else n
        return Scenario(kernel=kernel_from(version, tcp_syncookies=self.value("tcp_syncookies")),
                        backlog=self.value("backlog"), clients=times, accept=p.accept or None, rtt=0.02,
                        loss=self.value("loss_pct") / 100, drop=p.drop, duration=p.duration, seed=1)

    def make_axes(self, fig: Figure) -> list[Axes]:
        return [fig.add_subplot(1, 1, 1)]

    def compute(self) -> None:
        self.results = self.simulate_all({v: self.scenario(v) for v in KERNELS[self.value("kernels")]})
        self.result = self.results["6.18"]

    def draw(self) -> None:
        plot_latency(list(self.results.values()), ax=self.axes[0], kind="cdf")

    def summary_html(self) -> str:
        head = "".join(f"<th>Linux {v}</th>" for v in self.results)
        rows = []
        caps = [("accept-queue limit", lambda r: r.listener.accept_capacity if r.listener else "-"),
                ("SYN-queue limit", lambda r: r.listener.syn_capacity if r.listener else "-")]
        for name, get in caps:
            rows.append(f"<tr><td>{name}</td>" + "".join(f"<td>{get(r)}</td>" for r in self.results.values()) + "</tr>")
        for c in COUNTERS:
            values = [r.counters.get(c, 0) for r in self.results.values()]
            if any(values):
                rows.append(f"<tr><td><code>{c}</code></td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
        bars = outcome_bars_html({f"Linux {v}": r for v, r in self.results.items()},
                                 "How the connect() calls ended, per kernel")
        return (bars + "<table style='font-size:13px'><tr><th>(nstat: both hosts)</th>" + head + "</tr>" + "".join(rows) + "</table>"
                f"<div style='font-size:12px;color:#555'>Kernel events below: Linux 6.18 "
                f"({html.escape(self.value('preset'))}).</div>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.client is not None and ev.client < 10


def timemachine_app(preset: str = "clients trickle in, accept queue full") -> TimeMachineApp:
    """The lesson 8 dashboard: ``app = timemachine_app(); app.widget``."""
    return TimeMachineApp(preset)
