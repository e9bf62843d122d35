"""The privileged experiments: each builds a Bench, provokes one kernel behaviour, and returns the
record that is stored as a fixture and compared with the model (see ``compare``).

| function | what it measures | model counterpart |
|---|---|---|
| syn_schedule | SYN retransmission times and connect()'s ETIMEDOUT, every SYN-ACK dropped | ``drop=("SYN-ACK",)`` |
| synack_schedule | SYN-ACK retransmission times and when the request sock expires, final ACKs dropped | ``drop=("ACK",)`` |
| syn_queue | request socks a listener holds with syncookies off, for (backlog, tcp_max_syn_backlog) | ``ss().syn_recv`` |
| syn_flood | a small SYN flood with syncookies 0/1/2, and whether a legitimate client gets in | ``flood=`` |
| accept_overflow | a final ACK that meets a full accept queue, tcp_abort_on_overflow 0/1 | ``accept=[...]`` |
| loss | connect() latency with random loss in both directions | ``loss=`` |
| ports | the ephemeral ports of consecutive connect()s to one destination | ``ClientRecord.port`` |
| herd | clients waiting on a full accept queue: who gets in after each accept(), and when | ``accept=[...]`` |
| accept_capacity | connections a listener that never accept()s takes | ``ss().recv_q`` |
| client_data | requests that complete handshakes whose bare ACKs are dropped, against a full accept queue | ``data=True``, ``drop=("ACK",)`` |
| defer_accept | TCP_DEFER_ACCEPT: a silent client let in at the deferred SYN-ACK round, a speaking one at its request | ``defer_accept=`` |
| time_wait | connections that close first, from 10 ephemeral ports: EADDRNOTAVAIL, or tcp_tw_reuse | ``hold=``, ``tcp_tw_reuse`` |
| fastopen | TCP Fast Open: a cookie request, the request in the SYN, a burst that overflows the TFO queue | ``fastopen=``, ``data=True`` |
| reuseport | a SO_REUSEPORT group and a burst: each listener's own accept queue, a connection's SYNs all to one listener | ``listeners=`` |

Each captures its packets on a veth (the client's; the server's for synack_schedule), and its record
carries the frames, which ``record.save`` stores beside the JSON as a pcap file.

Every experiment is bounded: it ends when the kernel's own timers have played out or at its
`limit`, whichever is first. Timings are kept short so that all of them together run in under a
minute (see ``run_all``).
"""

from __future__ import annotations

import errno
import os
import random
import select
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import nft, rawtcp
from .bench import Bench
from .capture import Segment, parse
from .loopback import accept_capacity_run, herd_run
from .netns import inside
from .procnet import ss, ss_listener
from .sockets import PORT, Outcome, local_port, tcp_info, wait_connects

Record = dict[str, Any]


def _until(start: float, t: float) -> None:
    """Sleep until monotonic time start + t."""
    left = start + t - time.monotonic()
    if left > 0:
        time.sleep(left)


def _rel(times: Sequence[float], t0: float) -> list[float]:
    return [round(t - t0, 6) for t in times]


def _times(segments: list[Segment], kind: str, port: int, t0: float, outgoing: bool = True) -> list[float]:
    """When the capture saw each segment of ``kind`` on the client's ``port`` (``outgoing``: sent by
    the client, else to it), in seconds after ``t0``."""
    seen = _seen(kind, port, outgoing=outgoing)
    return _rel([x.time for x in segments if seen(x)], t0)


def _handshake(segments: list[Segment], port: int, t0: float) -> Record:
    """The client on ``port``: its port, and when its SYNs left and its SYN-ACKs came (after ``t0``)."""
    return {"port": port, "syn_times": _times(segments, "SYN", port, t0),
            "synack_times": _times(segments, "SYN-ACK", port, t0, outgoing=False)}


def _first_times(segments: list[Segment], field: str) -> dict[int, float]:
    """The time of the first segment per port (`field` is "sport" or "dport")."""
    first: dict[int, float] = {}
    for s in segments:
        first.setdefault(getattr(s, field), s.time)
    return first


def _seen(kind: str, port: int | None = None, *, outgoing: bool = True) -> Callable[[Segment], bool]:
    """Match segments of `kind` (of `port`) that the captured namespace sent, or received if not
    `outgoing`."""
    def match(s: Segment) -> bool:
        return s.outgoing == outgoing and s.kind == kind and (
            port is None or port in (s.sport, s.dport))
    return match


# ---- (a) the SYN timer ---------------------------------------------------------------------------

def syn_schedule(syn_retries: int, linear_timeouts: int, limit: float = 30.0) -> Record:
    """connect() with every SYN-ACK dropped (in the client's input hook): when each SYN leaves, and
    when connect() fails. tcp_syn_retries and tcp_syn_linear_timeouts are set in the client namespace."""
    params = {"tcp_syn_retries": syn_retries, "tcp_syn_linear_timeouts": linear_timeouts}
    with Bench("syn_schedule", params, client_sysctls={
            "net.ipv4.tcp_syn_retries": syn_retries,
            "net.ipv4.tcp_syn_linear_timeouts": linear_timeouts}) as b:
        b.listen(128)
        b.rules_in("client", [nft.drop(nft.SYN_ACK)])
        sock = b.connect()
        out = wait_connects([sock], time.monotonic() + limit)[0]
        b.settle()
        syns = b.segments(_seen("SYN"))
        t0 = syns[0].time
        result = {
            "syn_times": _rel([s.time for s in syns], t0),
            "synack_times": _rel([s.time for s in b.segments(_seen("SYN-ACK", outgoing=False))], t0),
            "gave_up": None if out.done_at is None else round(out.done_at - t0, 6),
            "errno": out.error,
        }
        return b.record(result, t0)


# ---- (b) the SYN-ACK timer -----------------------------------------------------------------------

def synack_schedule(synack_retries: int, limit: float = 25.0, poll: float = 0.004) -> Record:
    """One connect() whose final ACK (and every later ACK) the server's input hook drops: when each
    SYN-ACK leaves the server, and when the request sock disappears from the SYN queue (polled
    every `poll` s in /proc/net/tcp). tcp_synack_retries is set in the server namespace."""
    params = {"tcp_synack_retries": synack_retries, "poll": poll}
    with Bench("synack_schedule", params, capture="server",
               server_sysctls={"net.ipv4.tcp_synack_retries": synack_retries}) as b:
        b.listen(128)
        b.rules_in("server", [nft.drop(f"ip saddr {b.pair.client_ip} {nft.FINAL_ACK}")])
        sock = b.connect()
        out = wait_connects([sock], time.monotonic() + 1.0)[0]
        deadline = time.monotonic() + limit
        last_seen = gone = None
        retransmits = []
        while time.monotonic() < deadline:
            reqs = b.server.syn_recv(PORT)
            now = time.time()
            if reqs:
                last_seen = now
                if not retransmits or retransmits[-1][1] != reqs[0].retransmits:
                    retransmits.append((now, reqs[0].retransmits))
            elif last_seen is not None:
                gone = now
                break
            time.sleep(poll)
        b.settle()
        synacks = b.segments(_seen("SYN-ACK"))
        t0 = synacks[0].time
        result = {
            "connected": out.connected,
            "synack_times": _rel([s.time for s in synacks], t0),
            "expired": None if gone is None else round(gone - t0, 6),
            "last_seen": None if last_seen is None else round(last_seen - t0, 6),
            "num_timeout_seen": [[round(t - t0, 4), n] for t, n in retransmits],
        }
        return b.record(result, t0)


# ---- (c) the SYN queue and syncookies ------------------------------------------------------------

def syn_queue(backlog: int, max_syn_backlog: int, clients: int, settle: float = 0.3) -> Record:
    """`clients` connect()s at once, SYN-ACKs dropped in the client, syncookies off: how many request
    socks the listener keeps (SYN-RECV in /proc/net/tcp) before it drops SYNs."""
    params = {"backlog": backlog, "tcp_max_syn_backlog": max_syn_backlog, "tcp_syncookies": 0,
              "clients": clients, "settle": settle}
    with Bench("syn_queue", params, server_sysctls={
            "net.ipv4.tcp_syncookies": 0, "net.ipv4.tcp_max_syn_backlog": max_syn_backlog}) as b:
        b.listen(backlog)
        b.rules_in("client", [nft.drop(nft.SYN_ACK)])
        t0 = time.time()
        for _ in range(clients):
            b.connect()
        time.sleep(settle)  # well before the first 1 s retransmission
        listener = b.server.listener(PORT)
        result = {
            "syn_recv": len(b.server.syn_recv(PORT)),
            "accept_queue": None if listener is None else listener.rx_queue,
            "synacks": len({s.dport for s in b.segments(_seen("SYN-ACK", outgoing=False))}),
        }
        return b.record(result, t0, keep_packets=False)


def syn_flood(syncookies: int, backlog: int = 8, rate: float = 200.0, duration: float = 0.5,
              legit_at: float = 0.25) -> Record:
    """A flood of rate*duration SYNs from one client address whose SYN-ACKs are dropped, and one
    legitimate connect() from a second address at `legit_at`; counters and queues at `duration`."""
    params = {"tcp_syncookies": syncookies, "backlog": backlog, "rate": rate, "duration": duration,
              "legit_at": legit_at}
    with Bench("syn_flood", params, client_addresses=2,
               server_sysctls={"net.ipv4.tcp_syncookies": syncookies}) as b:
        flood_ip, legit_ip = b.pair.client_ips
        b.listen(backlog)
        b.rules_in("client", [nft.drop(f"ip daddr {flood_ip} {nft.SYN_ACK}")])
        n = round(rate * duration)
        start, t0 = time.monotonic(), time.time()
        legit = None
        legit_start = 0.0
        outs: list[Outcome] = [Outcome()]
        for i in range(n):
            _until(start, i / rate)
            if legit is None and i / rate >= legit_at:
                legit_start = time.time()
                legit = b.connect(src=legit_ip)
                outs = wait_connects([legit], time.monotonic() + 0.002)  # done at once, or not
            b.connect(src=flood_ip)
        assert legit is not None
        out = wait_connects([legit], start + duration, outs)[0]
        _until(start, duration)
        listener = b.server.listener(PORT)
        result = {
            "flood_syns": n,
            "legit_connected": out.connected,
            "legit_latency": None if out.done_at is None else round(out.done_at - legit_start, 6),
            "legit_errno": out.error,
            "syn_recv": len(b.server.syn_recv(PORT)),
            "accept_queue": None if listener is None else listener.rx_queue,
        }
        return b.record(result, t0, keep_packets=False)


# ---- (d) a final ACK meets a full accept queue ---------------------------------------------------

def accept_overflow(abort_on_overflow: int, duration: float = 1.7) -> Record:
    """listen(1); two clients fill the accept queue (2 = backlog + 1); accept() once at 0.1 s; at
    0.2 s a raw client sends two SYNs, waits for both SYN-ACKs, then sends both final ACKs. The
    second ACK finds the queue full again; tcp_abort_on_overflow decides between silence (and a
    SYN-ACK retransmission, which the raw client answers) and an RST."""
    params = {"tcp_abort_on_overflow": abort_on_overflow, "backlog": 1, "duration": duration}
    with Bench("accept_overflow", params,
               server_sysctls={"net.ipv4.tcp_abort_on_overflow": abort_on_overflow}) as b:
        assert b.capture is not None
        listener = b.listen(1)
        src = b.pair.client_ip
        b.rules_in("client", output_rules=[nft.drop(rawtcp.rst_rule(src))])
        start, t0 = time.monotonic(), time.time()
        first = [b.connect(), b.connect()]
        wait_connects(first, start + 0.1)
        _until(start, 0.1)
        accepted_at = time.time()
        b.sockets.accept_one(listener)
        _until(start, 0.2)
        ports = [rawtcp.RAW_PORTS[0], rawtcp.RAW_PORTS[0] + 1]
        raw_port = set(ports)

        def synack_to_raw(s: Segment) -> bool:
            return not s.outgoing and s.kind == "SYN-ACK" and s.dport in raw_port

        answered: set[float] = set()
        with rawtcp.RawClient(b.pair.client, src, b.pair.server_ip, PORT) as raw:
            for p in ports:
                raw.syn(p, random.getrandbits(32))
            for s in sorted(b.capture.wait_for(synack_to_raw, 2, 0.5), key=lambda s: ports.index(s.dport)):
                raw.ack(s.dport, s.seq)
                answered.add(s.time)
            while time.monotonic() < start + duration:  # answer SYN-ACK retransmissions too
                for s in b.capture.segments(synack_to_raw):
                    if s.time not in answered:
                        raw.ack(s.dport, s.seq)
                        answered.add(s.time)
                time.sleep(0.005)
        b.settle()
        lst = b.server.listener(PORT)
        rsts = b.segments(lambda s: not s.outgoing and s.kind == "RST" and s.dport in raw_port)
        result = {
            "accepted_at": round(accepted_at - t0, 6),
            "raw_ports": ports,
            "rst_to": sorted({s.dport for s in rsts}),
            "synacks": {str(p): _rel([s.time for s in b.segments(synack_to_raw) if s.dport == p], t0)
                        for p in ports},
            "accept_queue": None if lst is None else lst.rx_queue,
            "syn_recv": len(b.server.syn_recv(PORT)),
        }
        return b.record(result, t0)


# ---- (e) random loss -----------------------------------------------------------------------------

def loss(percent: int, clients: int = 250, limit: float = 6.5) -> Record:
    """`clients` connect()s at once while the server's nftables drop each segment of the
    connection with probability percent/100, in both directions: each connect()'s latency and how
    many SYNs it sent. Those not connected after `limit` s count as unfinished."""
    params = {"loss_percent": percent, "clients": clients, "limit": limit}
    with Bench("loss", params) as b:
        b.listen(4096)
        b.rules_in("server", [nft.random_drop(percent, f"tcp dport {PORT}")],
                   [nft.random_drop(percent, f"tcp sport {PORT}")])
        socks, starts = [], []
        t0 = time.time()
        for _ in range(clients):
            starts.append(time.time())
            socks.append(b.connect())
        outs = wait_connects(socks, time.monotonic() + limit)
        b.settle()
        syns = Counter(s.sport for s in b.segments(_seen("SYN")))
        first_syn = _first_times(b.segments(_seen("SYN")), "sport")
        synack_in = _first_times(b.segments(_seen("SYN-ACK", outgoing=False)), "dport")
        ports = [local_port(s) for s in socks]
        result = {
            "start": _rel([first_syn.get(p, st) for p, st in zip(ports, starts, strict=True)], t0),
            # from the capture: the first SYN-ACK that got through, minus the first SYN
            "latency": [None if not o.connected or p not in synack_in else round(synack_in[p] - first_syn[p], 6)
                        for o, p in zip(outs, ports, strict=True)],
            "errors": dict(Counter(o.error for o in outs if o.error)),
            "syns": [syns[p] for p in ports],
            "dropped": nft.dropped(b.pair.server),
        }
        return b.record(result, t0, keep_packets=False)


# ---- (f) ephemeral ports -------------------------------------------------------------------------

def ports(count: int = 300) -> Record:
    """`count` consecutive connect()s from one address to one listener (each finished before the
    next starts, all kept open): the local port each got."""
    with Bench("ports", {"count": count}) as b:
        b.listen(4096)
        t0 = time.time()
        got, times = [], []
        for _ in range(count):
            s = b.connect()
            wait_connects([s], time.monotonic() + 1.0)
            got.append(local_port(s))
            times.append(time.time())
        return b.record({"ports": got, "times": _rel(times, t0)}, t0, keep_packets=False)


# ---- (g) the herd, and the accept queue's capacity ----------------------------------------------

def herd(backlog: int = 2, waiters: int = 6, accepts: Sequence[float] = (0.5, 1.5, 2.5),
         duration: float = 3.3) -> Record:
    """backlog + 1 clients fill the accept queue, `waiters` more connect right after (their SYNs are
    dropped: the queue is full) and the server accept()s one connection at each time in `accepts`:
    when each waiter's SYNs leave (do they retransmit together?) and who gets in when."""
    params = {"backlog": backlog, "waiters": waiters, "accepts": list(accepts), "duration": duration}
    with Bench("herd", params) as b:
        run = herd_run(b.sockets, b.pair.server, b.pair.client, b.pair.server_ip, PORT, backlog, waiters,
                       accepts, duration)
        t0 = run["t0"]
        synack_in = _first_times(b.segments(_seen("SYN-ACK", outgoing=False)), "dport")
        for c in run["clients"]:
            c["syn_times"] = _rel([s.time for s in b.segments(_seen("SYN", c["port"]))], t0)
            if c["connected_at"] is not None and c["port"] in synack_in:  # the capture's time, not poll()'s
                c["connected_at"] = round(synack_in[c["port"]] - t0, 6)
        result = {"accepts": run["accepts"], "clients": run["clients"]}
        return b.record(result, t0)


def accept_capacity(backlog: int, extra: int = 3, settle: float = 0.2) -> Record:
    """listen(backlog) and backlog + 1 + `extra` connect()s, nobody accept()s: how many complete,
    the listener's Recv-Q/Send-Q, and the counters of the SYNs dropped for a full accept queue."""
    params = {"backlog": backlog, "clients": backlog + 1 + extra, "settle": settle}
    with Bench("accept_capacity", params) as b:
        t0 = time.time()
        run = accept_capacity_run(b.sockets, b.pair.server, b.pair.client, b.pair.server_ip, PORT,
                                  backlog, backlog + 1 + extra, settle)
        result = {k: v for k, v in run.items() if k != "port"}
        result.update(ss_listener(b.pair.server, PORT) or {})
        return b.record(result, t0, keep_packets=False)


# ---- (h) what applications do: requests, TCP_DEFER_ACCEPT, TIME_WAIT, Fast Open, SO_REUSEPORT --------

REQUEST = b"GET / HTTP/1.0\r\n\r\n"
"""What a speaking client writes right after connect(): one small segment (PSH|ACK)."""


@dataclass
class _ListenerLog:
    """What polling the listener's /proc/net/tcp lines saw: each change of its accept queue (Recv-Q)
    and of its SYN queue (SYN-RECV lines) as [wall time, length], and when a child of each client port
    (an ESTABLISHED socket on the listener's port) was first seen."""

    queue: list[list[float]] = field(default_factory=list)
    syn_recv: list[list[float]] = field(default_factory=list)
    children: dict[int, float] = field(default_factory=dict)

    def poll(self, b: Bench, until: float, every: float) -> None:
        """Poll every `every` s until monotonic `until`."""
        while time.monotonic() < until:
            socks = b.server.sockets()
            now = time.time()  # after the read: what it shows existed by now (a busy machine may stall between)
            lst = next((s for s in socks if s.state == "LISTEN" and s.local[1] == PORT), None)
            n = None if lst is None else lst.rx_queue
            reqs = sum(s.state == "SYN-RECV" and s.local[1] == PORT for s in socks)
            if not self.queue or self.queue[-1][1] != n:
                self.queue.append([now, n])
            if not self.syn_recv or self.syn_recv[-1][1] != reqs:
                self.syn_recv.append([now, reqs])
            for s in socks:
                if s.local[1] == PORT and s.state not in ("LISTEN", "SYN-RECV"):
                    self.children.setdefault(s.remote[1], now)
            time.sleep(every)

    def result(self, t0: float) -> dict[str, Any]:
        return {"accept_queue": [[round(t - t0, 4), n] for t, n in self.queue],
                "syn_recv": [[round(t - t0, 4), n] for t, n in self.syn_recv]}


def _handshake_packets(segments: list[Segment]) -> Callable[[Segment], bool]:
    """The segments ``capture.read`` attributes to handshakes (what a record's ``packets`` lists): SYNs,
    SYN-ACKs, RSTs, and the client's bare ACKs until its first request on that port."""
    first_data: dict[int, float] = {}
    for s in segments:
        if s.outgoing and s.kind == "DATA":
            first_data.setdefault(s.sport, s.time)

    def keep(s: Segment) -> bool:
        if s.kind in ("SYN", "SYN-ACK", "RST"):
            return True
        return s.kind == "ACK" and s.outgoing and s.time < first_data.get(s.sport, float("inf"))
    return keep


def client_data(data: bool, gap: float = 0.05, accept_at: float = 0.3, duration: float | None = None,
                poll: float = 0.004) -> Record:
    """Requests completing handshakes whose bare ACKs are lost. nftables drop every segment that only
    acknowledges, both ways (the model's ``drop=("ACK",)``); listen(1) (an accept queue of 2). Client 0
    connects at 0 and, if `data`, writes a request at once: the request completes its handshake. At `gap`
    clients 1 and 2 connect (both request socks: the accept queue has room for their SYNs); then, if
    `data`, both write: 1's request fills the accept queue, 2's meets it full and is retransmitted on
    the client's own timer (a loss probe, then RTOs), until one copy arrives after the accept() at
    `accept_at` (from 1's and 2's requests: between the loss probe and the first RTO) made room. Silent clients (not `data`) never complete: their
    requests resend the SYN-ACK (tcp_synack_retries=1, at 1 s) and expire. The listener's queues are
    polled every `poll` s."""
    duration = duration if duration is not None else (1.2 if data else 3.5)
    params = {"data": data, "backlog": 1, "tcp_synack_retries": 1, "gap": gap, "accept_at": accept_at,
              "duration": duration, "poll": poll}
    with Bench("client_data", params, server_sysctls={"net.ipv4.tcp_synack_retries": 1}) as b:
        listener = b.listen(1)
        b.rules_in("server", [nft.drop(f"tcp dport {PORT} {nft.PURE_ACK}")],
                   [nft.drop(f"tcp sport {PORT} {nft.PURE_ACK}")])
        start = time.monotonic()
        first = b.connect()
        wait_connects([first], start + 0.5)
        if data:
            first.send(REQUEST)
        _until(start, gap)
        later = [b.connect(), b.connect()]
        wait_connects(later, start + gap + 0.5)
        if data:
            for s in later:
                s.send(REQUEST)
        wrote = time.monotonic()  # the accept() is timed from here: a busy machine may write late
        seen = _ListenerLog()
        seen.poll(b, wrote + accept_at, poll)
        accepted_at = time.time()
        conn = b.sockets.accept_one(listener, timeout=0.05)
        accepted_port = None if conn is None else conn.getpeername()[1]
        seen.poll(b, start + gap + duration, poll)
        b.settle()
        everything = b.segments()
        t0 = everything[0].time
        socks = [first, *later]
        clients = []
        for s in socks:
            port = local_port(s)
            clients.append({
                **_handshake(everything, port, t0),
                "data_times": _times(everything, "DATA", port, t0),
                "child_seen": None if port not in seen.children else round(seen.children[port] - t0, 4),
            })
        lst = b.server.listener(PORT)
        result = {
            "clients": clients,
            "accepted_at": round(accepted_at - t0, 6),
            "accepted_port": accepted_port,
            **seen.result(t0),
            "children": (conn is not None) + (0 if lst is None else lst.rx_queue),
            "dropped": nft.dropped(b.pair.server),
        }
        return b.record(result, t0, packets=_handshake_packets(everything))


def defer_accept(seconds: int, data: bool, duration: float | None = None, poll: float = 0.004) -> Record:
    """A listener with TCP_DEFER_ACCEPT = `seconds` and one client. The kernel drops the client's bare
    final ACK (TCPDeferAcceptDrop) and keeps the request sock: a speaking client (`data`) writes a
    request at once, which makes the child; a silent one waits for the SYN-ACK round the seconds
    become (``model.rules.defer_accept_rounds``: 2 s are 2 rounds, the SYN-ACK held back at the 1 s
    timeout and resent at 1 + 2 = 3 s), whose answer the listener takes. The listener's sockets are
    polled every `poll` s."""
    duration = duration if duration is not None else (3.6 if not data else 0.5)
    params = {"defer_accept": seconds, "data": data, "backlog": 8, "duration": duration, "poll": poll}
    with Bench("defer_accept", params) as b:
        listener = b.listen(8)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, seconds)
        start = time.monotonic()
        sock = b.connect()
        wait_connects([sock], start + 0.5)
        if data:
            sock.send(REQUEST)
        seen = _ListenerLog()
        seen.poll(b, start + duration, poll)
        b.settle()
        everything = b.segments()
        t0 = everything[0].time
        port = local_port(sock)
        client = {
            **_handshake(everything, port, t0),
            "ack_times": _rel([x.time for x in everything if _seen("ACK", port)(x)
                               and _handshake_packets(everything)(x)], t0),
            "data_times": _times(everything, "DATA", port, t0),
            "child_seen": None if port not in seen.children else round(seen.children[port] - t0, 4),
        }
        result = {
            "defer_accept": listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT),
            "clients": [client],
            **seen.result(t0),
        }
        return b.record(result, t0, packets=_handshake_packets(everything))


TIME_WAIT_PORTS = (40000, 40009)
"""The client namespace's ip_local_port_range in ``time_wait``: ten ephemeral ports."""


def time_wait(tw_reuse: int, count: int = 16, interval: float = 0.15, settle: float = 0.3) -> Record:
    """`count` connect()s, one every `interval` s, from a client namespace whose ip_local_port_range
    holds ten ports; each client closes at once when connect() returns (its FIN goes first), the server
    accept()s, reads the end of the stream and closes, and the client's socket waits in TIME_WAIT for
    60 s holding its port. With tcp_tw_reuse 0 (or 2, loopback only: these are two namespaces) the
    eleventh connect() finds no port (EADDRNOTAVAIL); with 1, connect() takes a TIME_WAIT port whose
    last timestamp is older than tcp_tw_reuse_delay (1 s), as every one here is (10 x `interval` > 1 s)."""
    params = {"tcp_tw_reuse": tw_reuse, "ip_local_port_range": list(TIME_WAIT_PORTS), "count": count,
              "interval": interval, "settle": settle}
    with Bench("time_wait", params, client_sysctls={"net.ipv4.tcp_tw_reuse": tw_reuse,
                                                    "net.ipv4.ip_local_port_range": TIME_WAIT_PORTS}) as b:
        listener = b.listen(64)
        listener.setblocking(False)
        children: list[socket.socket] = []

        def serve(until: float) -> None:
            """The server's application until monotonic `until`: accept() each connection, close it
            when it reads the end of the stream."""
            while True:
                left = until - time.monotonic()
                if left <= 0:
                    return
                ready, _, _ = select.select([listener, *children], [], [], left)
                for s in ready:
                    if s is listener:
                        try:
                            conn, _ = listener.accept()
                        except BlockingIOError:
                            continue
                        b.sockets.all.append(conn)
                        children.append(conn)
                    elif not s.recv(4096):
                        s.close()
                        children.remove(s)

        start, t0 = time.monotonic(), time.time()
        clients = []
        for i in range(count):
            serve(start + i * interval)
            at = time.time()
            try:
                sock = b.connect()
            except OSError as err:
                clients.append({"start": round(at - t0, 6), "port": None,
                                "errno": errno.errorcode.get(err.errno or 0, str(err.errno))})
                continue
            out = wait_connects([sock], time.monotonic() + 0.5)[0]
            port = local_port(sock)
            sock.close()
            clients.append({"start": round(at - t0, 6), "port": port, "errno": out.error})
        serve(start + (count - 1) * interval + settle)
        time_wait_sockets = sum(s.state == "TIME-WAIT" for s in b.client.sockets())
        result = {"clients": clients, "time_wait": time_wait_sockets}
        return b.record(result, t0, keep_packets=False)


TCP_SYN_RECV = 3
"""tcpi_state of a socket whose handshake has not completed (include/net/tcp_states.h TCP_SYN_RECV)."""
TCPOPT_FASTOPEN = 34
"""The TCP Fast Open option's kind (RFC 7413; include/net/tcp.h): length 2 asks for a cookie, 2 + 8
carries the cookie the client cached."""


def tcp_options(frame: bytes) -> list[tuple[int, bytes]]:
    """The TCP options of an Ethernet + IPv4 frame (``capture.SNAPLEN`` keeps them all), as (kind, value)."""
    ip = 14
    tcp = ip + (frame[ip] & 0x0F) * 4
    end = min(len(frame), tcp + (frame[tcp + 12] >> 4) * 4)
    i, found = tcp + 20, []
    while i < end:
        kind = frame[i]
        if kind == 0:  # EOL
            break
        if kind == 1:  # NOP
            i += 1
            continue
        if i + 1 >= end or frame[i + 1] < 2:
            break
        found.append((kind, bytes(frame[i + 2:i + frame[i + 1]])))
        i += frame[i + 1]
    return found


def _fastopen_cookie(b: Bench, kind: str, port: int) -> str | None:
    """What the TFO option of the first `kind` segment ("SYN" sent, "SYN-ACK" received) of client `port`
    carried: "request" (an empty option: a cookie request), "cookie", or None (no option)."""
    assert b.capture is not None
    frames = b.capture.frames()
    if frames is None:
        return None
    for f in frames.frames:
        s = parse(f.data, f.time, f.outgoing)
        if s is None or s.kind != kind or (s.sport if kind == "SYN" else s.dport) != port:
            continue
        option = next((v for k, v in tcp_options(f.data) if k == TCPOPT_FASTOPEN), None)
        return None if option is None else ("cookie" if option else "request")
    return None


def _sendto_fastopen(b: Bench, data: bytes, blocking: bool, timeout: float = 2.0) -> tuple[socket.socket, str | None]:
    """sendto(data, MSG_FASTOPEN) to the listener from a new client socket: blocking (bounded by
    SO_SNDTIMEO: it returns once connected, the data sent after the handshake or in the SYN) or not (it
    returns at once: the data went in the SYN, or EINPROGRESS for a cookie request). Returns the socket
    and the errno name, None if sendto() took the data."""
    with inside(b.pair.client):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    b.sockets.all.append(s)
    if blocking:
        secs = int(timeout)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", secs, int((timeout - secs) * 1e6)))
    else:
        s.setblocking(False)
    try:
        s.sendto(data, socket.MSG_FASTOPEN, b.dst)
    except OSError as err:
        return s, errno.errorcode.get(err.errno or 0, str(err.errno))
    return s, None


def _accept_now(b: Bench, listener: socket.socket, timeout: float) -> dict[str, Any] | None:
    """accept() one child (waiting at most `timeout` s) and what it was at once: its peer port, its
    tcpi_state (SYN_RECV: the handshake not completed yet) and how many bytes of request it already
    holds (read without waiting)."""
    conn = b.sockets.accept_one(listener, timeout=timeout)
    if conn is None:
        return None
    at = time.time()
    state = tcp_info(conn)["state"]
    try:
        got = len(conn.recv(4096, socket.MSG_DONTWAIT))
    except BlockingIOError:
        got = 0
    return {"at": at, "port": conn.getpeername()[1], "syn_recv": state == TCP_SYN_RECV, "request_bytes": got}


def fastopen(queue: int, burst: int = 4, gap: float = 0.1, burst_at: float = 0.3, duration: float = 0.65,
             backlog: int = 16) -> Record:
    """TCP Fast Open (tcp_fastopen=3 in both namespaces, the listener's TCP_FASTOPEN queue `queue`),
    with every bare ACK dropped both ways (nftables, the model's ``drop=("ACK",)``), so that a TFO child
    keeps its place in the TFO queue (fastopenq.qlen, freed only by the final ACK: reqsk_fastopen_remove).

    Client 0 (t=0) has no cookie yet: a blocking sendto(MSG_FASTOPEN) sends a cookie request, the SYN-ACK
    brings a cookie (cached in the client namespace's tcp_metrics) and the request follows the handshake,
    carrying the ACK (sk_write_pending); it makes the child. accept() takes it. Client 1 (`gap`) sends the
    request in the SYN with the cookie: the listener makes the child at the SYN, and accept() returns it
    at once, still in SYN_RECV (its final ACK never arrives) and already holding the request. At
    `burst_at`, `burst` non-blocking sendto(MSG_FASTOPEN)s while nobody accepts: the TFO queue has
    `queue` - 1 places left (client 1's child still waits for its ACK); the others overflow
    (TCPFastOpenListenOverflow): a regular request, a SYN-ACK that acks the SYN only, and the client
    sends the request again at once (TCPFastOpenActiveFail), which makes the child. The run ends at
    `duration`, between the requests' retransmissions (client 0's RTOs at about 0.4 and 0.8 s, the burst's
    at 0.5 and 0.9 s: the server's ACKs of them are dropped) and before any TFO child's SYN-ACK timer
    (1 s after its SYN)."""
    params = {"fastopen": queue, "tcp_fastopen": 3, "backlog": backlog, "burst": burst, "gap": gap,
              "burst_at": burst_at, "duration": duration}
    tfo = {"net.ipv4.tcp_fastopen": 3}
    with Bench("fastopen", params, server_sysctls=tfo, client_sysctls=tfo) as b:
        listener = b.listen(backlog)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, queue)
        b.rules_in("server", [nft.drop(f"tcp dport {PORT} {nft.PURE_ACK}")],
                   [nft.drop(f"tcp sport {PORT} {nft.PURE_ACK}")])
        start = time.monotonic()
        first, first_err = _sendto_fastopen(b, REQUEST, blocking=True)
        accepts = [_accept_now(b, listener, 0.5)]
        _until(start, gap)
        second, second_err = _sendto_fastopen(b, REQUEST, blocking=False)
        accepts.append(_accept_now(b, listener, 0.5))
        _until(start, burst_at)
        sent = [_sendto_fastopen(b, REQUEST, blocking=False) for _ in range(burst)]
        _until(start, duration)
        ended = time.time()  # the counters are read right after this
        lst = b.server.listener(PORT)
        b.settle()
        everything = b.segments()
        t0 = everything[0].time
        socks = [(first, first_err), (second, second_err), *sent]
        clients = []
        for s, err in socks:
            port = local_port(s)
            syn = next(x for x in everything if _seen("SYN", port)(x))
            synack = next((x for x in everything if _seen("SYN-ACK", port, outgoing=False)(x)), None)
            clients.append({
                **_handshake(everything, port, t0),
                "sendto_errno": err,
                "syn_data": syn.payload,
                "syn_option": _fastopen_cookie(b, "SYN", port),
                "synack_option": _fastopen_cookie(b, "SYN-ACK", port),
                "synack_acks_data": None if synack is None else (synack.ack - syn.seq - 1) % 2**32 == syn.payload > 0,
                "data_times": _times(everything, "DATA", port, t0),
            })
        result = {
            "clients": clients,
            "accepts": [None if a is None else {**a, "at": round(a["at"] - t0, 6)} for a in accepts],
            "accept_queue": None if lst is None else lst.rx_queue,
            "ended": round(ended - t0, 6),
            "dropped": nft.dropped(b.pair.server),
        }
        return b.record(result, t0, packets=_handshake_packets(everything))


def _reuseport_group(b: Bench, n: int, backlog: int) -> list[socket.socket]:
    """`n` listening sockets on the port with SO_REUSEPORT, in the server namespace, listen()ed in order
    (the group's socks[] order), non-blocking so that accept() never waits."""
    group = []
    for _ in range(n):
        with inside(b.pair.server):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        b.sockets.all.append(s)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(b.dst)
        s.listen(backlog)
        s.setblocking(False)
        group.append(s)
    return group


def listener_queues(ns: str, group: Sequence[socket.socket]) -> list[dict[str, int] | None]:
    """Per listener of `group`: its Recv-Q (accept-queue length) and Send-Q (its limit), from ``ss -ltne``
    lines matched to the sockets by inode."""
    by_inode: dict[int, dict[str, int]] = {}
    for line in ss(ns, "-l", "-e"):
        f = line.split()
        ino = next((int(x[4:]) for x in f if x.startswith("ino:")), None)
        if len(f) >= 4 and f[0] == "LISTEN" and f[3].endswith(f":{PORT}") and ino is not None:
            by_inode[ino] = {"recv_q": int(f[1]), "send_q": int(f[2])}
    return [by_inode.get(os.fstat(s.fileno()).st_ino) for s in group]


def _accept_all(b: Bench, listener: socket.socket) -> list[int]:
    """accept() every child the listener holds now (it does not block): their client ports, oldest first."""
    ports = []
    while True:
        try:
            conn, peer = listener.accept()
        except BlockingIOError:
            return ports
        b.sockets.all.append(conn)
        ports.append(peer[1])


def reuseport(listeners: int = 4, backlog: int = 2, clients: int = 16, rounds: Sequence[float] = (1.5, 2.5),
              duration: float = 2.6) -> Record:
    """A SO_REUSEPORT group of `listeners` listening sockets, each listen(`backlog`), and a burst of
    `clients` connect()s at once (more than the group's accept queues hold: `listeners` x (backlog + 1)).
    The kernel sends each connection to one listener by a hash of its addresses and ports
    (reuseport_select_sock: inet_ehashfn, with a secret drawn at boot, scaled to the group); a listener
    whose accept queue is full drops the SYN (ListenOverflows, ListenDrops), whatever room the others
    have, and the client resends it on its own timer (1 s, 2 s on 6.18's linear schedule), to the same
    listener. At each time of `rounds` (between the SYN retransmissions) every listener's queues are
    read (``ss -ltne``) and everything it holds is accept()ed, which says which listener took each
    connection."""
    rounds = tuple(rounds)
    params = {"listeners": listeners, "backlog": backlog, "clients": clients, "rounds": list(rounds),
              "duration": duration}
    with Bench("reuseport", params) as b:
        group = _reuseport_group(b, listeners, backlog)
        start = time.monotonic()
        socks = [s for s, _ in b.sockets.connect_many(b.pair.client, b.dst, clients)]
        taken = []
        for at in rounds:
            _until(start, at)
            queues = listener_queues(b.pair.server, group)
            taken.append({"at": time.time(), "queues": queues,
                          "accepted": [_accept_all(b, lst) for lst in group]})
        _until(start, duration)
        ended = time.time()
        b.settle()
        everything = b.segments()
        t0 = everything[0].time
        for r in taken:
            r["at"] = round(r["at"] - t0, 6)  # after the queues were read, before the first accept()
        result_clients = []
        for s in socks:
            port = local_port(s)
            result_clients.append(_handshake(everything, port, t0))
        result = {"clients": result_clients, "rounds": taken, "ended": round(ended - t0, 6),
                  "end_queues": listener_queues(b.pair.server, group)}
        return b.record(result, t0)


# ---- all of them -------------------------------------------------------------------------------

def timer_runs() -> dict[str, Callable[[], Record]]:
    """The long experiments, which only wait on kernel timers: run side by side."""
    runs: dict[str, Callable[[], Record]] = {}
    for lin in (4, 0):
        for n in (1, 2, 3):
            runs[f"syn_schedule-r{n}-l{lin}"] = lambda n=n, lin=lin: syn_schedule(n, lin)
    for n in (1, 2, 3):
        runs[f"synack_schedule-r{n}"] = lambda n=n: synack_schedule(n)
    return runs


def short_runs() -> dict[str, Callable[[], Record]]:
    """The short experiments, run one after the other."""
    runs: dict[str, Callable[[], Record]] = {}
    for backlog, m, clients in ((0, 2048, 6), (8, 2048, 16), (16, 16, 24), (64, 32, 40)):
        runs[f"syn_queue-b{backlog}-m{m}"] = (
            lambda backlog=backlog, m=m, clients=clients: syn_queue(backlog, m, clients))
    for c in (0, 1, 2):
        runs[f"syn_flood-c{c}"] = lambda c=c: syn_flood(c)
    for a in (0, 1):
        runs[f"accept_overflow-a{a}"] = lambda a=a: accept_overflow(a)
    runs["loss-p20"] = lambda: loss(20)
    runs["ports"] = ports
    runs["herd"] = herd
    for backlog in (0, 5):
        runs[f"accept_capacity-b{backlog}"] = lambda backlog=backlog: accept_capacity(backlog)
    for data in (1, 0):
        runs[f"client_data-d{data}"] = lambda data=data: client_data(bool(data))
    for data in (1, 0):
        runs[f"defer_accept-s2-d{data}"] = lambda data=data: defer_accept(2, bool(data))
    for reuse in (0, 1, 2):
        runs[f"time_wait-r{reuse}"] = lambda reuse=reuse: time_wait(reuse)
    runs["fastopen-q2"] = lambda: fastopen(2)
    runs["reuseport-l4-b2"] = lambda: reuseport(4, 2)
    return runs


def run_all(select: Callable[[str], bool] | None = None) -> dict[str, Record]:
    """Every privileged experiment (those whose name `select` accepts): the timer experiments in
    parallel threads, each in its own namespace pair, then the short ones in turn."""
    timed = {k: f for k, f in timer_runs().items() if select is None or select(k)}
    short = {k: f for k, f in short_runs().items() if select is None or select(k)}
    records: dict[str, Record] = {}
    if timed:
        with ThreadPoolExecutor(max_workers=len(timed)) as pool:
            futures = {k: pool.submit(f) for k, f in timed.items()}
            records.update({k: fut.result() for k, fut in futures.items()})
    for k, f in short.items():
        records[k] = f()
    return records
