"""Lesson 6: loss and retransmission - the "occasional 1 s / 3 s connect latency". Connect latency
of many clients over a lossy network, as a CDF or a histogram, for several kernel versions at once,
with each version's cliffs where its SYN (or SYN-ACK) retransmissions fall."""

from __future__ import annotations

import html

import ipywidgets as W
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import percentile
from ..model import VERSIONS, Result, Scenario
from ..views import plot_latency
from .base import (
    CONTROL_WIDTH,
    DESCRIPTION_WIDTH,
    Dashboard,
    dropdown,
    float_slider,
    int_slider,
    kernel_from,
    toggle,
)

DEFAULT_RTO = "default"  # not None: a Dropdown shows a None value as an empty box
RTO_CHOICES = [("each version's default", DEFAULT_RTO), ("0.2 s", 0.2), ("0.5 s", 0.5), ("1 s", 1.0), ("3 s", 3.0)]


def share_at_least(result: Result, seconds: float) -> float:
    """The fraction of clients whose connect() took at least `seconds` or never succeeded."""
    n = len(result.clients)
    latencies = result.latencies()  # of those that connected
    slow = n - len(latencies) + sum(1 for t in latencies if t >= seconds)
    return slow / n if n else 0.0


class LatencyApp(Dashboard):
    """Connect latency under loss, per version."""

    title = "Connect latency under packet loss"
    intro = ("Clients connect evenly over 10 s to a server that accepts at once; every packet is lost "
             "with the chosen probability. Compare versions: the steps of the CDF are the retransmission "
             "times.")
    figsize = (11.0, 4.6)
    # the inspector lists the retransmissions
    inspected_actions = ("syn_rto_first", "syn_rto", "synack_rto", "syn_again", "synack_again")

    def __init__(self, versions: tuple[str, ...] = ("3.10", "6.18"), loss_pct: float = 5.0, rtt_ms: float = 20.0,
                 clients: int = 600, kind: str = "cdf") -> None:
        controls = {
            "versions": W.SelectMultiple(options=[(f"Linux {v}", v) for v in VERSIONS], value=versions,
                                         description="kernel versions (ctrl-click)", rows=4,
                                         style={"description_width": DESCRIPTION_WIDTH},
                                         layout=W.Layout(width=CONTROL_WIDTH)),
            "loss_pct": float_slider("packet loss, each direction (%)", loss_pct, 0.0, 30.0, 0.5, ".1f"),
            "rtt_ms": float_slider("round-trip time (ms)", rtt_ms, 1.0, 500.0, 1.0, ".0f"),
            "clients": int_slider("connect() calls over 10 s (clients)", clients, 100, 10000, 100),
            "tcp_timeout_init": dropdown("initial RTO, switch tcp_timeout_init", RTO_CHOICES, DEFAULT_RTO),
            "kind": toggle("plot", ["cdf", "hist"], kind),
        }
        self.results: dict[str, Result] = {}
        super().__init__(controls)

    def make_axes(self, fig: Figure) -> list[Axes]:
        return [fig.add_subplot(1, 1, 1)]

    def compute(self) -> None:
        versions = tuple(self.value("versions"))
        if not versions:
            raise ValueError("choose at least one kernel version")
        n = self.value("clients")
        rto = self.value("tcp_timeout_init")
        clients = [10.0 * i / n for i in range(n)]
        scenarios = {}
        for v in versions:
            kernel = kernel_from(v) if rto == DEFAULT_RTO else kernel_from(v, tcp_timeout_init=rto)
            scenarios[v] = Scenario(kernel=kernel, backlog=4096, clients=clients, accept=1e6,
                                    rtt=self.value("rtt_ms") / 1000, loss=self.value("loss_pct") / 100, seed=1)
        self.results = self.simulate_all(scenarios)
        self.result = self.results[versions[0]]

    def draw(self) -> None:
        results = list(self.results.values())
        plot_latency(results, ax=self.axes[0], kind=self.value("kind"), labels=[f"Linux {v}" for v in self.results])

    def summary_html(self) -> str:
        rows = []
        for v, r in self.results.items():
            lat = r.latencies()
            cells = [percentile(lat, q) for q in (0.5, 0.9, 0.99, 0.999)]
            text = "".join(f"<td>{c * 1000:.4g} ms</td>" if c is not None else "<td>-</td>" for c in cells)
            rows.append(f"<tr><td>Linux {html.escape(v)}</td>{text}<td>{share_at_least(r, 1.0):.1%}</td>"
                        f"<td>{share_at_least(r, 3.0):.1%}</td><td>{len(r.clients) - len(lat)}</td></tr>")
        cell = "padding:1px 10px;text-align:right"
        head = "".join(f"<th style='{cell}'>{h}</th>" for h in (
            "median", "p90", "p99", "p99.9", "&ge; 1 s", "&ge; 3 s", "never connected"))
        return ("<table style='font-size:13px;border-collapse:collapse'><caption style='text-align:left'>"
                "connect() latency; percentiles by nearest rank (a latency some client saw)</caption>"
                f"<tr><th style='padding:1px 10px;text-align:left'>kernel</th>{head}</tr>"
                + "".join(rows).replace("<td>", f"<td style='{cell}'>") + "</table>")


def latency_app(versions: tuple[str, ...] = ("3.10", "6.18"), loss_pct: float = 5.0, rtt_ms: float = 20.0,
                clients: int = 600, kind: str = "cdf") -> LatencyApp:
    """The lesson 6 dashboard: ``app = latency_app(); app.widget``."""
    return LatencyApp(versions, loss_pct, rtt_ms, clients, kind)
