"""Experiments any Linux user can run (no root, no namespaces): on 127.0.0.1 of the namespace we
are in, for example on Binder. They return JSON-ready dicts that a lesson can plot next to the
model's prediction (``compare.scenario_for(record)`` gives the matching Scenario).

* ``loopback_accept_capacity(backlog)``: a listener that never accept()s, and more connect()s
  than it can take. How many complete, and what ``ss -lnt`` shows (Recv-Q, Send-Q). The model
  says backlog + 1.
* ``loopback_herd(...)``: the accept queue is full and a few clients wait; the server accept()s
  one connection now and then. When does a waiting client get in, and how many of them think they
  did? Their SYN retransmissions come from timers on the same timer-wheel bucket, so they reach
  the listener together.

The cores (``accept_capacity_run``, ``herd_run``) are shared with the privileged versions in
``experiments``, which run the same code between two namespaces with a packet capture.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from .host import config_hz, host_sysctls, kernel_release, require_linux
from .procnet import ProcNet, delta
from .sockets import Outcome, Sockets, local_port, tcp_info, wait_connects

LOOPBACK = "127.0.0.1"
HANDSHAKE_COUNTERS = (
    "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies",
    "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed", "TcpExtTCPTimeouts",
    "TcpExtTCPSynRetrans", "TcpActiveOpens", "TcpPassiveOpens", "TcpAttemptFails", "TcpRetransSegs",
)


def accept_capacity_run(socks: Sockets, server_ns: str | None, client_ns: str | None, ip: str, port: int,
                        backlog: int, clients: int, settle: float) -> dict[str, Any]:
    """listen(backlog), then `clients` connect()s one after the other; after `settle` s (less than
    the 1 s SYN RTO) count those that completed."""
    listener = socks.listener(server_ns, ip, backlog, port)
    port = listener.getsockname()[1]
    conns = [socks.connect(client_ns, (ip, port)) for _ in range(clients)]
    outs = wait_connects(conns, time.monotonic() + settle)
    return {"port": port, "connected": sum(o.connected for o in outs),
            "pending": sum(o.done_at is None for o in outs),
            "errors": sorted({o.error for o in outs if o.error})}


def herd_run(socks: Sockets, server_ns: str | None, client_ns: str | None, ip: str, port: int,
             backlog: int, waiters: int, accepts: Sequence[float], duration: float) -> dict[str, Any]:
    """backlog + 1 connect()s fill the accept queue, `waiters` more follow, and the server accept()s
    one connection at each time in `accepts` (seconds from the first connect()). Returns the wall
    time t0 of the first connect() and, per client, when it started and when connect() finished."""
    listener = socks.listener(server_ns, ip, backlog, port)
    port = listener.getsockname()[1]
    start, t0 = time.monotonic(), time.time()
    conns, starts = [], []
    for _ in range(backlog + 1):  # these complete one after the other
        starts.append(time.time())
        conns.append(socks.connect(client_ns, (ip, port)))
    for s, t in socks.connect_many(client_ns, (ip, port), waiters):  # these start together
        conns.append(s)
        starts.append(t)
    outs: list[Outcome] = wait_connects(conns, start + duration, until=start + 0.05)
    accepted = []
    for t in accepts:
        outs = wait_connects(conns, start + duration, outs, until=start + t)
        left = start + t - time.monotonic()
        if left > 0:
            time.sleep(left)
        accepted.append(round(time.time() - t0, 6))
        socks.accept_one(listener, timeout=0.05)
    outs = wait_connects(conns, start + duration, outs)
    left = start + duration - time.monotonic()
    if left > 0:
        time.sleep(left)
    clients = []
    for s, st, o in zip(conns, starts, outs, strict=True):
        info = tcp_info(s)
        clients.append({
            "port": local_port(s), "start": round(st - t0, 6),
            "connected_at": None if not o.connected else round(o.done_at - t0, 6),  # type: ignore[operator]
            "errno": o.error, "syn_retransmissions": info["total_retrans"] if o.connected else info["retransmits"],
        })
    return {"port": port, "t0": t0, "accepts": accepted, "clients": clients}


def _ss_listener(port: int) -> dict[str, int] | None:
    """Recv-Q and Send-Q of our listener from ``ss -lnt`` (None without ss)."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-lnt", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LISTEN":
            return {"recv_q": int(f[1]), "send_q": int(f[2])}
    return None


def loopback_accept_capacity(backlog: int, extra: int = 3, settle: float = 0.2) -> dict[str, Any]:
    """How many connections a listener that never accept()s takes on this machine's loopback.

    Returns ``{"backlog", "clients", "connected", "pending", "recv_q", "send_q", "somaxconn",
    "kernel", ...}``: the model predicts connected == recv_q == min(backlog, somaxconn) + 1.
    Takes about `settle` seconds.
    """
    require_linux()
    if backlog < 0:
        raise ValueError(f"backlog must be >= 0 here; got {backlog}")
    sysctls = host_sysctls()
    somaxconn = int(sysctls.get("net.core.somaxconn", "4096"))
    clients = min(backlog, somaxconn) + 1 + extra
    with Sockets() as socks:
        run = accept_capacity_run(socks, None, None, LOOPBACK, 0, backlog, clients, settle)
        queue = _ss_listener(run["port"])
        if queue is None:  # no ss: /proc/net/tcp has the accept-queue length, not its limit
            with ProcNet() as proc:
                lst = proc.listener(run["port"])
            queue = {"recv_q": lst.rx_queue if lst else None, "send_q": None}
    return {"experiment": "loopback_accept_capacity", "kernel": kernel_release(), "hz": config_hz(), "sysctls": sysctls,
            "params": {"backlog": backlog, "clients": clients, "settle": settle},
            "result": {k: v for k, v in run.items() if k != "port"} | queue}


def loopback_herd(backlog: int = 2, waiters: int = 4, accepts: Sequence[float] = (0.5, 1.5, 2.5),
                  duration: float = 3.3) -> dict[str, Any]:
    """Clients waiting on a full accept queue, on this machine's loopback; one accept() at each time
    in `accepts`. Per client: start, connected_at (None: still waiting), SYN retransmissions
    (TCP_INFO). Counter changes are for this whole network namespace (other traffic included).
    Takes `duration` seconds.
    """
    require_linux()
    with Sockets() as socks, ProcNet() as proc:
        before = proc.counters()
        run = herd_run(socks, None, None, LOOPBACK, 0, backlog, waiters, accepts, duration)
        counters = {k: v for k, v in delta(before, proc.counters()).items() if k in HANDSHAKE_COUNTERS}
    return {"experiment": "loopback_herd", "kernel": kernel_release(), "hz": config_hz(), "sysctls": host_sysctls(),
            "params": {"backlog": backlog, "waiters": waiters, "accepts": list(accepts), "duration": duration},
            "counters": {"host": counters},
            "result": {"accepts": run["accepts"], "clients": run["clients"]}}
