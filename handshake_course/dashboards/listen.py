"""Lesson 1: what listen(fd, backlog) sets up - the accept queue and the SYN queue, their limits on
each kernel version, and what ``ss -lnt`` then shows.

A burst of clients connects at t=0 and the application never calls accept(), so both queues fill to
exactly the limits listen() gave them.
"""

from __future__ import annotations

import html

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..model import ERAS, VERSIONS, Kernel, Scenario, TraceEvent
from ..model.rules import effective_backlog, syn_table_size
from ..views import OUTCOME_TEXT, plot_capacities, plot_queues
from .base import (
    Dashboard,
    dropdown,
    int_slider,
    int_text,
    kernel_from,
    syncookies_note,
    toggle,
    version_dropdown,
)


class QueuesApp(Dashboard):
    """listen(): backlog, somaxconn, tcp_max_syn_backlog, tcp_syncookies -> the two queues."""

    title = "listen(): the two queues and their limits"
    intro = ("A burst of connect() calls starts at t = 0 (RTT 100 ms); the application never calls accept(). "
             "Type any backlog, even 0 or -1. Choose 3 s or 10 s to see retransmitted SYNs arrive.")
    figsize = (11.5, 4.2)
    version_settings = ("somaxconn", "tcp_max_syn_backlog", "tcp_syncookies")

    def __init__(self, version: str = "6.18", backlog: int = 8, clients: int = 40, rtt_ms: float = 100.0) -> None:
        self.rtt_ms = rtt_ms
        controls = {
            "version": version_dropdown(version),
            "backlog": int_text("listen() backlog (connections)", backlog),
            "somaxconn": int_text("net.core.somaxconn (connections)", Kernel(version).somaxconn),
            "tcp_max_syn_backlog": int_text("tcp_max_syn_backlog (requests)", Kernel(version).tcp_max_syn_backlog),
            "tcp_syncookies": toggle("tcp_syncookies", [0, 1, 2], Kernel(version).tcp_syncookies),
            "clients": int_slider("connect() calls at t=0 (clients)", clients, 0, 600),
            "duration": dropdown("simulated time (s)", [0.5, 3.0, 10.0], 0.5),
        }
        super().__init__(controls)

    def kernel(self) -> Kernel:
        return kernel_from(self.version, somaxconn=self.value("somaxconn"),
                           tcp_max_syn_backlog=self.value("tcp_max_syn_backlog"),
                           tcp_syncookies=self.value("tcp_syncookies"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        grid = fig.add_gridspec(1, 2, width_ratios=[1.9, 1.0])
        return [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]

    def compute(self) -> None:
        kernel = self.kernel()
        self.result = self.simulate(Scenario(kernel=kernel, backlog=self.value("backlog"), clients=self.value("clients"),
                                        accept=None, rtt=self.rtt_ms / 1000, duration=self.value("duration"), seed=1))

    def draw(self) -> None:
        assert self.result is not None
        plot_queues(self.result, ax=self.axes[0])
        mine = self.result.kernel
        shown = sorted({*ERAS, mine.version}, key=VERSIONS.index)  # each era's kernel, and yours
        kernels = [mine if v == mine.version else Kernel(v) for v in shown]
        plot_capacities(kernels, self.value("backlog"), self.axes[1], current=mine.version)
        self.axes[1].set_title(f"listen({self.value('backlog')}) on each version\n"
                               "(* = your sysctls, others: their defaults)", fontsize="medium")

    def note(self) -> str:
        return syncookies_note(self.result.kernel if self.result else None)

    def summary_html(self) -> str:
        r = self.result
        assert r is not None and r.listener is not None
        k, lst = r.kernel, r.listener
        b = self.value("backlog")
        table = syn_table_size(k, b)
        clamp = (f"listen({b}) &rarr; sk_max_ack_backlog = <b>{lst.backlog}</b>"
                 + (f" (clamped to somaxconn = {k.somaxconn})" if effective_backlog(k, b) != b else ""))
        syn_rule = (f"SYN hash table of {table} slots, full at qlen &ge; {table}" if table is not None else
                    {"qlen>=backlog": "full when qlen &ge; backlog", "qlen>backlog": "full when qlen &gt; backlog"
                     }[k.syn_queue_limit])
        outcomes = ", ".join(f"{n} {html.escape(OUTCOME_TEXT[o])}" for o, n in r.outcomes().most_common())
        peak_syn = max(r.queues.syn, default=0)
        return (
            "<div style='font-size:13px'>"
            f"{clamp}; accept queue holds <b>{lst.accept_capacity}</b> (backlog + 1); "
            f"SYN queue holds <b>{lst.syn_capacity}</b> ({syn_rule}); SYN queue peaked at {peak_syn}.<br>"
            f"Clients at the end: {outcomes or 'none'}.<br>"
            f"<b>ss -lnt</b> at {r.end:g} s (Recv-Q = accept-queue length, Send-Q = backlog):"
            f"<pre style='margin:2px 0'>{html.escape(str(r.ss()))}</pre></div>"
        )

    def keep_event(self, ev: TraceEvent) -> bool:
        return ev.host == "server"


def queues_app(version: str = "6.18", backlog: int = 8, clients: int = 40) -> QueuesApp:
    """The listen() dashboard: ``app = queues_app(); app.widget``."""
    return QueuesApp(version, backlog, clients)
