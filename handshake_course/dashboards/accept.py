"""Lesson 5: accept() - a slow application, arrival rate against accept rate, and the herd of
retransmitted SYNs that one accept() call sets loose."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis import latency_summary
from ..model import Result, Scenario, TraceEvent
from ..views import OUTCOME_TEXT, plot_ladder, plot_latency, plot_queues
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


def latency_line(result: Result) -> str:
    """Outcomes and connect() latency (min, median, p99, max), from ``analysis.latency_summary``."""
    return "; ".join(latency_summary(result).lines())


class AcceptApp(Dashboard):
    """Steady arrivals against a given accept() rate."""

    title = "accept(): arrival rate against accept rate"
    intro = ("Clients arrive at a steady rate (RTT 20 ms); the application's accept() loop handles one "
             "connection per 1/rate seconds.")
    figsize = (11.5, 6.8)
    inspected_clients = 40  # the inspector's list: the first 40 clients' events

    def __init__(self, version: str = "6.18", arrival_rate: float = 120.0, accept_rate: float = 100.0,
                 backlog: int = 16, duration: float = 5.0) -> None:
        controls = {
            "version": version_dropdown(version),
            "arrival_rate": log_slider("connect() arrivals (per s)", arrival_rate, 1.0, 2000.0),
            "accept_rate": log_slider("accept() rate (per s)", accept_rate, 1.0, 2000.0),
            "backlog": int_slider("listen() backlog (connections)", backlog, 0, 512),
            "duration": dropdown("arrivals during (s)", [2.0, 5.0, 10.0, 20.0], duration),
        }
        super().__init__(controls)

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.3, 1.0])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        duration = self.value("duration")
        n = max(1, int(self.value("arrival_rate") * duration))
        if n > 40_000:
            raise ValueError(f"{n} connections is more than this dashboard simulates interactively (40000)")
        self.result = self.simulate(Scenario(
            kernel=self.version, backlog=self.value("backlog"), clients=[i * duration / n for i in range(n)],
            accept=self.value("accept_rate"), rtt=0.02, duration=duration + 30.0, seed=1))

    def note(self) -> str:
        """Why a faster accept() changes nothing once it keeps up with the arrivals."""
        arrivals, accepts = self.value("arrival_rate"), self.value("accept_rate")
        if accepts < arrivals:
            return ""
        return note_html(f"accept() keeps up: at {accepts:.3g} per s the application takes each connection as it "
                         f"arrives ({arrivals:.3g} per s), so the queue stays nearly empty and a faster accept() "
                         "changes nothing. Lower it below the arrival rate to see the queue fill.")

    def draw(self) -> None:
        assert self.result is not None
        plot_queues(self.result, ax=self.axes[0], time_range=(0.0, self.value("duration") + 5.0))
        plot_latency([self.result], ax=self.axes[1], kind="hist")

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        return (f"<div style='font-size:13px'>{html.escape(latency_line(r))}.<br>"
                f"Server: ListenOverflows {r.server_counters.get('TcpExtListenOverflows', 0)}, ListenDrops "
                f"{r.server_counters.get('TcpExtListenDrops', 0)}.</div>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.client is not None and ev.client < 40


class HerdApp(Dashboard):
    """A burst against a full accept queue, and one accept() call."""

    title = "The herd that follows one accept()"
    intro = ("A burst of clients (10 ms apart) meets a small accept queue; the application calls accept() "
             "exactly once. Watch what the retransmitted SYNs do with the one free slot.")
    figsize = (11.5, 7.2)

    def __init__(self, version: str = "6.18", clients: int = 20, backlog: int = 1, accept_at: float = 2.0) -> None:
        controls = {
            "version": version_dropdown(version),
            "clients": int_slider("connect() calls, 10 ms apart (clients)", clients, 2, 100),
            "backlog": int_slider("listen() backlog (connections)", backlog, 0, 16),
            "accept_at": float_slider("the single accept() call at (s)", accept_at, 0.0, 20.0, 0.1, ".1f"),
            "timers": timers_toggle(),
        }
        super().__init__(controls)

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.6])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        n = self.value("clients")
        self.result = self.simulate(Scenario(kernel=kernel_from(self.version, self.value("timers")),
                                        backlog=self.value("backlog"),
                                        clients=[i * 0.01 for i in range(n)], accept=[self.value("accept_at")],
                                        rtt=0.05, duration=self.value("accept_at") + 8.0, seed=1))

    def draw(self) -> None:
        assert self.result is not None
        plot_queues(self.result, ax=self.axes[0])
        r = self.result
        plot_ladder(r, clients=self.herd_clients(), ax=self.axes[1], max_clients=8)

    def herd_clients(self) -> list[int]:
        """The accepted client, then those whose SYNs came back in the 1.5 s after the accept() call."""
        r = self.result
        assert r is not None
        t0 = self.value("accept_at")
        first = [c.index for c in r.clients if c.accepted_at is not None][:1]
        herd = [c.index for c in r.clients if any(t0 < t <= t0 + 1.5 for t in c.syn_times)]
        return (first + [i for i in herd if i not in first])[:8] or [0]

    def herd(self) -> dict[str, int]:
        """What happened in the second after the accept() call's slot was freed."""
        r = self.result
        assert r is not None
        t0 = self.value("accept_at")
        counts: dict[str, int] = {}
        for ev in r.trace:
            if t0 < ev.time <= t0 + 5.0 and ev.host == "server":
                counts[ev.action] = counts.get(ev.action, 0) + 1
        return counts

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        h = self.herd()
        outcomes = ", ".join(f"{n} {html.escape(OUTCOME_TEXT[o])}" for o, n in r.outcomes().most_common())
        return ("<div style='font-size:13px'>In the 5 s after the accept() call the server answered "
                f"{h.get('syn_new', 0)} SYNs with a request sock and {h.get('syn_cookie', 0)} with a cookie, dropped "
                f"{h.get('syn_drop_accept_queue_full', 0)} SYNs for a full accept queue and "
                f"{h.get('ack_accept_queue_full', 0) + h.get('ack_cookie_accept_queue_full', 0)} final ACKs; "
                f"{h.get('ack_new_child', 0) + h.get('ack_cookie', 0)} connection(s) got in.<br>"
                f"At the end: {outcomes}.</div>")

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.host == "server" and ev.time >= self.value("accept_at") - 0.5


def accept_app(version: str = "6.18", arrival_rate: float = 120.0, accept_rate: float = 100.0,
               backlog: int = 16, duration: float = 5.0) -> AcceptApp:
    """The lesson 5 rates dashboard: ``app = accept_app(); app.widget``."""
    return AcceptApp(version, arrival_rate, accept_rate, backlog, duration)


def herd_app(version: str = "6.18", clients: int = 20, backlog: int = 1, accept_at: float = 2.0) -> HerdApp:
    """The lesson 5 herd dashboard: ``app = herd_app(); app.widget``."""
    return HerdApp(version, clients, backlog, accept_at)
