"""From counters to causes: what an operator reads in ``nstat`` and ``ss -lnt`` during a handshake
incident, turned into findings (the evidence, the likely cause, the fix). Lesson 9 teaches it; its
dashboard shows ``diagnose_result`` of simulated incidents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model import Kernel

if TYPE_CHECKING:
    from ..model import Result


@dataclass(frozen=True)
class Finding:
    """One conclusion drawn from the counters."""

    title: str
    evidence: str
    cause: str
    fix: str


def diagnose(server: Mapping[str, int], client: Mapping[str, int] | None = None, version: str = "6.18",
             syncookies: int = 1, recv_q: int | None = None, send_q: int | None = None) -> list[Finding]:
    """Findings from nstat counters (deltas over the incident) and an ``ss -lnt`` line."""
    client = client or {}
    g = server.get
    findings: list[Finding] = []
    overflows, drops = g("TcpExtListenOverflows", 0), g("TcpExtListenDrops", 0)
    qfull_drop, cookies = g("TcpExtTCPReqQFullDrop", 0), g("TcpExtTCPReqQFullDoCookies", 0)
    kernel = Kernel(version)
    if overflows:
        where = ("on old kernels (< 4.10) many of them are final ACKs of clients that already think they are "
                 "connected" if kernel.young_rule else "since 4.10 most of them are SYNs, dropped before any SYN-ACK")
        full = f" ss shows Recv-Q {recv_q} > Send-Q {send_q}: the accept queue is full right now." if (
            recv_q is not None and send_q is not None and recv_q > send_q) else ""
        findings.append(Finding(
            "Accept queue overflow",
            f"TcpExtListenOverflows = {overflows}.{full}",
            f"The application calls accept() more slowly than connections complete, or its backlog is too small; {where}.",
            "Speed up the accept loop (more acceptor threads, no blocking work before accept()); raise the backlog "
            "in listen() and net.core.somaxconn (default 128 before 5.4). tcp_abort_on_overflow=1 turns silent "
            "stalls into immediate resets, so clients fail fast."))
    if qfull_drop:
        findings.append(Finding(
            "SYN queue full, SYNs dropped",
            f"TcpExtTCPReqQFullDrop = {qfull_drop}" + (", with tcp_syncookies = 0" if syncookies == 0 else ""),
            "Half-open connections filled the SYN queue (a burst, a flood, or a tiny backlog) and syncookies are off, "
            "so the kernel dropped new SYNs; clients retry after their SYN timeout (1 s, 3 s ...).",
            "Turn tcp_syncookies back on (1); raise the backlog (the SYN-queue limit follows it since 4.4) and, on "
            "2.6.32/3.10, tcp_max_syn_backlog."))
    if cookies:
        findings.append(Finding(
            "SYN queue full, answered with syncookies",
            f"TcpExtTCPReqQFullDoCookies = {cookies}, SyncookiesSent = {g('TcpExtSyncookiesSent', 0)}, "
            f"SyncookiesRecv = {g('TcpExtSyncookiesRecv', 0)}",
            "The SYN queue overflowed: either a SYN flood (few cookies come back) or a legitimate burst larger than "
            "the queue (most come back). dmesg says 'Possible SYN flooding on port ...'.",
            "If the cookies come back (SyncookiesRecv close to SyncookiesSent), the traffic is real: raise the "
            "backlog. If not, it is a flood: cookies are protecting you; keep tcp_syncookies = 1."))
    other = drops - overflows - qfull_drop - (cookies if kernel.cookie_listen_drop else 0)
    if other > 0 and syncookies == 0:
        findings.append(Finding(
            "SYNs dropped by the last-quarter rule",
            f"TcpExtListenDrops - ListenOverflows - TCPReqQFullDrop = {other}",
            "With tcp_syncookies = 0 the last quarter of tcp_max_syn_backlog is kept for peers the host has talked "
            "to before; SYNs of unknown peers are dropped silently.",
            "Raise tcp_max_syn_backlog, or enable syncookies."))
    if g("TcpExtEmbryonicRsts", 0):
        findings.append(Finding(
            "Final ACKs answered with RST",
            f"TcpExtEmbryonicRsts = {g('TcpExtEmbryonicRsts', 0)}",
            "tcp_abort_on_overflow = 1 resets connections whose final ACK finds the accept queue full.",
            "That is the intended fail-fast behaviour; fix the accept-queue overflow itself (see above)."))
    if g("TcpExtSyncookiesFailed", 0):
        findings.append(Finding(
            "Invalid cookie ACKs",
            f"TcpExtSyncookiesFailed = {g('TcpExtSyncookiesFailed', 0)}",
            "ACKs arrived that matched no request and no valid cookie (too late for the cookie window: 3 s on "
            "2.6.32/3.10, 2 min on 6.x); they were answered with RST.",
            "Usually harmless during floods; if real clients are affected, avoid reaching the SYN-queue limit."))
    syn_rtx = client.get("TcpExtTCPSynRetrans", 0) or client.get("TcpRetransSegs", 0)
    if client.get("TcpExtTCPTimeouts", 0) or syn_rtx:
        findings.append(Finding(
            "Clients retransmit SYNs",
            f"client TcpExtTCPTimeouts = {client.get('TcpExtTCPTimeouts', 0)}, retransmitted segments = {syn_rtx}",
            "SYNs or SYN-ACKs were lost or dropped: each loss costs the client one SYN RTO (1 s since 3.1, 3 s on "
            "2.6.32), which is where '1 s / 3 s connect latency' comes from.",
            "Look at the server's counters above for drops; if they are clean, the loss is in the network: "
            "tcpdump 'tcp[tcpflags] & tcp-syn != 0' on both ends and compare."))
    if client.get("TcpAttemptFails", 0):
        findings.append(Finding(
            "connect() failures",
            f"client TcpAttemptFails = {client.get('TcpAttemptFails', 0)}",
            "connect() gave up (ETIMEDOUT after tcp_syn_retries) or was refused (RST, nothing listening).",
            "Check that the service listens (ss -lnt) and that its queues do not overflow."))
    return findings


def diagnose_result(result: Result) -> list[Finding]:
    """``diagnose`` applied to a simulated incident."""
    ss = result.ss() if result.listener is not None else None
    return diagnose(result.server_counters, result.client_counters, result.kernel.version,
                    result.kernel.tcp_syncookies_effective, ss.recv_q if ss else None, ss.send_q if ss else None)


HYPOTHESES: tuple[str, ...] = (
    "Accept queue overflow", "SYN queue full, SYNs dropped", "SYN queue full, answered with syncookies",
    "SYNs dropped by the last-quarter rule", "Final ACKs answered with RST", "Clients retransmit SYNs",
)
"""What a learner may suspect: the titles ``diagnose`` gives its findings."""
