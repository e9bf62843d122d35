"""Lesson 3: the server answers a SYN - the SYN queue, tcp_syncookies 0/1/2, the SYN dropped for a
full accept queue (and 2.6.32/3.10's "young" exception), with the nstat counters each path bumps."""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import Kernel, Result, Scenario, TraceEvent
from ..text import counters_view
from ..views import OUTCOME_TEXT, plot_outcomes, plot_queues
from .base import (
    Dashboard,
    dropdown,
    float_slider,
    int_slider,
    int_text,
    kernel_from,
    syncookies_note,
    toggle,
    version_dropdown,
)


def counters_html(result: Result, before: Result | None = None) -> str:
    """The changed nstat counters of both hosts as an HTML table (``views.counters_view``, the HTML
    form of ``views.counters_table``)."""
    return str(counters_view(result, before=before, only_changed=True)._repr_html_())


class SynApp(Dashboard):
    """SYN handling: SYN queue, syncookies, accept-queue-full drops."""

    title = "The server answers a SYN: SYN queue, syncookies, full accept queue"
    intro = ("Clients call connect() spread evenly over the chosen time (0 s: all at once). The application "
             "calls accept() at the chosen rate (0: never), so the accept queue may fill.")
    figsize = (12.5, 4.2)
    version_settings = ("tcp_max_syn_backlog", "tcp_syncookies")

    def __init__(self, version: str = "6.18", backlog: int = 8, clients: int = 60, spread: float = 0.0,
                 accept_rate: float = 0.0, syncookies: int | None = None, duration: float = 5.0) -> None:
        k = Kernel(version)
        controls = {
            "version": version_dropdown(version),
            "backlog": int_slider("listen() backlog (connections)", backlog, 0, 256),
            "tcp_max_syn_backlog": int_text("tcp_max_syn_backlog (requests)", k.tcp_max_syn_backlog),
            "tcp_syncookies": toggle("tcp_syncookies", [0, 1, 2],
                                     k.tcp_syncookies if syncookies is None else syncookies),
            "clients": int_slider("connect() calls (clients)", clients, 1, 600),
            "spread": float_slider("spread the calls over (s)", spread, 0.0, 5.0, 0.1, ".1f"),
            "accept_rate": float_slider("accept() rate (calls/s, 0 = never)", accept_rate, 0.0, 200.0, 1.0, ".0f"),
            "duration": dropdown("simulated time (s)", [2.0, 5.0, 10.0, 30.0], duration),
        }
        super().__init__(controls)

    def kernel(self) -> Kernel:
        return kernel_from(self.version, tcp_max_syn_backlog=self.value("tcp_max_syn_backlog"),
                           tcp_syncookies=self.value("tcp_syncookies"))

    def scenario(self) -> Scenario:
        n, spread = self.value("clients"), self.value("spread")
        times = [spread * i / n for i in range(n)] if spread > 0 else n
        rate = self.value("accept_rate")
        return Scenario(kernel=self.kernel(), backlog=self.value("backlog"), clients=times,
                        accept=rate if rate > 0 else None, rtt=0.05, duration=self.value("duration"), seed=1)

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(2, 1, height_ratios=[3.0, 1.0])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]

    def compute(self) -> None:
        self.result = self.simulate(self.scenario())

    def draw(self) -> None:
        assert self.result is not None
        plot_queues(self.result, ax=self.axes[0])
        plot_outcomes({f"Linux {self.version}": self.result}, self.axes[1], title="")

    def note(self) -> str:
        return syncookies_note(self.result.kernel if self.result else None)

    def summary_html(self) -> str:
        r = self.result
        assert r is not None and r.listener is not None
        actions = r.trace.actions_count()
        parts = [f"{actions.get(a, 0)} {text}" for a, text in (
            ("syn_new", "SYNs got a request sock"), ("syn_cookie", "answered with a cookie"),
            ("syn_drop_syn_queue_full", "dropped (SYN queue full)"),
            ("syn_drop_last_quarter", "dropped (last quarter of tcp_max_syn_backlog)"),
            ("syn_drop_accept_queue_full", "dropped (accept queue full)")) if actions.get(a, 0)]
        outcomes = ", ".join(f"{n} {html.escape(OUTCOME_TEXT[o])}" for o, n in r.outcomes().most_common())
        return ("<div style='font-size:13px'>"
                f"SYNs that reached the listener: {', '.join(parts) or 'none'}.<br>Clients: {outcomes}.<br>"
                f"<b>nstat</b> on the server (counters that changed):</div>" + counters_html(r))

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.host == "server"


def syn_app(version: str = "6.18", backlog: int = 8, clients: int = 60, spread: float = 0.0,
            accept_rate: float = 0.0, syncookies: int | None = None, duration: float = 5.0) -> SynApp:
    """The lesson 3 dashboard: ``app = syn_app(); app.widget``."""
    return SynApp(version, backlog, clients, spread, accept_rate, syncookies, duration)
