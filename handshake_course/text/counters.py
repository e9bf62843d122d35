"""The nstat counters of both hosts as a table, as ``nstat`` would show them on each machine: one
row per counter, a server and a client column, only the counters that changed (nstat hides zeros
unless asked with -z), and with ``before`` the change from an earlier result."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    from ..model import Result

    Before: TypeAlias = "Result | Mapping[str, Mapping[str, int]] | None"
    """An earlier result, or {"server": {name: value}, "client": {...}}, or None (all were 0)."""

NSTAT_ORDER: tuple[str, ...] = (
    # /proc/net/snmp "Tcp:" line order
    "TcpActiveOpens", "TcpPassiveOpens", "TcpAttemptFails", "TcpEstabResets", "TcpCurrEstab", "TcpInSegs",
    "TcpOutSegs", "TcpRetransSegs", "TcpInErrs", "TcpOutRsts",
    # /proc/net/netstat "TcpExt:" order (enum order of LINUX_MIB_* in include/uapi/linux/snmp.h)
    "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed", "TcpExtEmbryonicRsts",
    "TcpExtDelayedACKLost", "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPTimeouts",
    "TcpExtTCPReqQFullDoCookies", "TcpExtTCPReqQFullDrop", "TcpExtTCPSYNChallenge", "TcpExtTCPSynRetrans",
    "TcpExtTCPACKSkippedSynRecv",
)
"""The order nstat prints counters in; names not listed follow, alphabetically."""

HOSTS = ("server", "client")


@dataclass(frozen=True)
class CounterRow:
    """One counter on both hosts, now and before. A counter the model never bumps on a host (the
    client has no ListenDrops to count) reads 0 there, as nstat -z would show it."""

    name: str
    server: int
    client: int
    server_before: int = 0
    client_before: int = 0

    def value(self, host: str) -> int:
        return self.server if host == "server" else self.client

    def delta(self, host: str) -> int:
        """Change on ``host`` since before."""
        return self.value(host) - (self.server_before if host == "server" else self.client_before)

    @property
    def changed(self) -> bool:
        return any(self.delta(h) for h in HOSTS)


@dataclass(frozen=True)
class CountersTable:
    """An nstat-style table; ``str()`` gives text, Jupyter renders ``_repr_html_``."""

    rows: tuple[CounterRow, ...]
    title: str
    compared: bool  # True when the cells show a change from ``before``

    def cell(self, row: CounterRow, host: str) -> str:
        value, delta = row.value(host), row.delta(host)
        if self.compared and delta:
            return f"{value} ({delta:+d})"
        return str(value)

    def __str__(self) -> str:
        if not self.rows:
            return f"{self.title}\n(no counter changed)"
        width = max(len("Counter"), *(len(r.name) for r in self.rows)) + 2
        cells = [[self.cell(r, h) for h in HOSTS] for r in self.rows]
        cw = [max(len(h), *(len(c[i]) for c in cells)) + 2 for i, h in enumerate(HOSTS)]
        lines = [self.title, "Counter".ljust(width) + "".join(h.rjust(w) for h, w in zip(HOSTS, cw, strict=True))]
        for row, c in zip(self.rows, cells, strict=True):
            lines.append(row.name.ljust(width) + "".join(v.rjust(w) for v, w in zip(c, cw, strict=True)))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:right'>{h}</th>" for h in HOSTS)
        body = []
        for row in self.rows:
            tds = []
            for h in HOSTS:
                style = "text-align:right;font-family:monospace"
                if row.delta(h):
                    style += ";font-weight:bold"
                tds.append(f"<td style='{style}'>{html.escape(self.cell(row, h))}</td>")
            body.append(f"<tr><td style='font-family:monospace'>{html.escape(row.name)}</td>{''.join(tds)}</tr>")
        if not body:
            body.append("<tr><td colspan='3'>(no counter changed)</td></tr>")
        return (f"<table><caption>{html.escape(self.title)}</caption><thead><tr><th>Counter</th>{head}</tr>"
                f"</thead><tbody>{''.join(body)}</tbody></table>")

    def as_dict(self) -> dict[str, dict[str, int]]:
        """{"server": {name: value}, "client": {...}} for the rows shown."""
        return {h: {row.name: row.value(h) for row in self.rows} for h in HOSTS}


def _order(name: str) -> tuple[int, str]:
    return (NSTAT_ORDER.index(name), "") if name in NSTAT_ORDER else (len(NSTAT_ORDER), name)


def _before_maps(before: Before) -> tuple[Mapping[str, int], Mapping[str, int]]:
    if before is None:
        return {}, {}
    if isinstance(before, Mapping):
        return before.get("server", {}), before.get("client", {})
    return before.server_counters, before.client_counters


def counters_view(result: Result, before: Before = None, only_changed: bool = True) -> CountersTable:
    """The counters of ``result`` as a CountersTable (renders as HTML in Jupyter).

    ``before``: an earlier Result (or its counters as {"server": ..., "client": ...}); the cells
    then also show the change. ``only_changed``: keep only rows that changed (without ``before``:
    that are not zero), as nstat does; False shows every counter the kernels have (nstat -z).
    """
    server_before, client_before = _before_maps(before)
    names = sorted(set(result.server_counters) | set(result.client_counters), key=_order)
    rows = tuple(
        CounterRow(n, result.server_counters.get(n, 0), result.client_counters.get(n, 0),
                   server_before.get(n, 0), client_before.get(n, 0))
        for n in names
    )
    if only_changed:
        rows = tuple(r for r in rows if r.changed)
    title = f"#kernel {result.kernel.version} (nstat; server and client hosts)"
    return CountersTable(rows, title, before is not None)


def counters_table(result: Result, before: Before = None, only_changed: bool = True) -> str:
    """The counters of ``result`` as nstat-style text (see ``counters_view``)."""
    return str(counters_view(result, before, only_changed))
