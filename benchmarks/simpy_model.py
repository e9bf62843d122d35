"""A reference model of the benchmark scenarios written the ordinary SimPy way, to time ours against.

What it models: Linux 6.18's TCP three-way handshake between a client host and a listener, with the
rules of ``handshake_course.model`` (``rules``, ``hosts/server.py``, ``hosts/client.py``) as a SimPy
user would write them from those rules, not as a port of our event list:

* one SimPy process per connecting client: connect() sends the SYN, the process is the SYN
  retransmission timer (6.18: RTO 1 s for the first tcp_syn_linear_timeouts=4 fires, then
  doubling, capped at 120 s; ETIMEDOUT after tcp_syn_retries + 4 = 10 retransmissions or once
  tcp_model_timeout's 127 s have passed, so SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s and
  ETIMEDOUT at 131 s); a SYN-ACK or RST ends it with ``interrupt()``;
* every packet in flight is one ``env.timeout(rtt / 2)`` whose callback delivers it, unless a
  ``random.Random(seed)`` draw loses it;
* the SYN queue is a dict of request socks, each with its own SYN-ACK retransmission process
  (1, 2, 4, 8, 16 s from TCP_TIMEOUT_INIT; tcp_synack_retries=5, cut towards 2 when more than
  half of max(8, backlog) is queued and most requests already timed out: reqsk_timer_handler),
  restarted (a retransmitted SYN, rate-limited by tcp_invalid_ratelimit) or cancelled (the final
  ACK, an RST) with ``interrupt()``;
* tcp_conn_request's checks in the kernel's order: SYN queue full (qlen > backlog on 6.13+) means
  a syncookie (tcp_syncookies=1), then a full accept queue drops the SYN; the final ACK against a
  full accept queue is dropped (tcp_abort_on_overflow=0) and the request's SYN-ACK is resent at
  its next timeout; a cookie ACK is checked (a cookie sent in the last 120 s, minted less than
  two minute-counters ago);
* the accept queue is a ``simpy.Store`` of backlog + 1 children ("full" when it holds more than
  backlog, as sk_acceptq_is_full says), emptied by an accept() loop process at the given rate;
* a flood process sending spoofed SYNs at the given rate (their SYN-ACKs go nowhere);
* the nstat counters our model bumps in these scenarios, at the same places (actions.py).

Time is integer microseconds, as in ours. (Float seconds, the usual SimPy choice, were tried
first: these schedules are full of exact ties, a client starting every 1 ms and timers of whole
seconds, and float rounding breaks them in an arbitrary order instead of the order they were
scheduled in, which moved case a's SyncookiesSent by some 40 %.)

What it simplifies, none of which changes the work done per event: timers fire exactly on time
(no jiffies, no 6.18 timer-wheel rounding, so no herds of timers in one wheel bucket: on case a
that changes the counts, and so how many events there are, see ``benchmarks/bench_model.py --simpy``, which also shows ours with
``timer_wheel='off'``, the same rules as this model); no ephemeral ports (10,000 clients never
exhaust them); no kernel log, packet log, trace or queue history (counters, packets sent and
outcomes only); the cookie minute counter starts at t = 0; one random stream, drawn in this
model's packet order, so loss falls on other packets than in ours. Events are counted as SimPy
processes them (every Initialize, Timeout, Interruption, Store put and get and process end, and
the stale timeouts interrupted timers leave in the queue), so more than ours counts for the same
run: ours counts the handlers it calls.

Run by hand:  python benchmarks/simpy_model.py [CASE ...]   (a JSON line per case)
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

US = 1_000_000
"""The model's time unit is the microsecond, in integers (see the module docstring)."""

# ---- Linux 6.18 (handshake_course/model/kernels/linux_6_18.py), in microseconds ------------------
TCP_TIMEOUT_INIT = 1 * US  # the first SYN and SYN-ACK RTO
TCP_RTO_MAX = 120 * US
TCP_SYN_RETRIES = 6
TCP_SYN_LINEAR_TIMEOUTS = 4  # 6.5+: the first 4 SYN RTOs stay at TCP_TIMEOUT_INIT
TCP_SYNACK_RETRIES = 5
TCP_INVALID_RATELIMIT = US // 2  # between two answers to retransmitted SYNs of one request
TCP_SYNCOOKIE_VALID = 120 * US  # after the last SYN-queue overflow, cookie ACKs are checked
SYNQ_OVERFLOW_STAMP = 1 * US  # tcp_synq_overflow renews its stamp at most once a second
MAX_SYNCOOKIE_AGE = 2  # minute counters
MINUTE = 60 * US
#: tcp_model_timeout(tcp_syn_retries, 1 s): 1 + 2 + ... + 64 s, RTOs capped at 120 s
SYN_GIVE_UP_AFTER = sum(min(TCP_TIMEOUT_INIT << i, TCP_RTO_MAX) for i in range(TCP_SYN_RETRIES + 1))

SYN, SYNACK, ACK, RST = "SYN", "SYN-ACK", "ACK", "RST"
SYN_SENT, ESTABLISHED, CLOSED = "SYN_SENT", "ESTABLISHED", "CLOSED"
QUEUED, ACCEPTED = "queued", "accepted"


@dataclass(frozen=True)
class Case:
    """One scenario, the fields of ``handshake_course.Scenario`` that the benchmarks set."""

    backlog: int
    clients: Sequence[float]
    accept: float
    loss: float = 0.0
    flood: float = 0.0
    duration: float | None = None
    seed: int = 1
    rtt: float = 0.0002
    syncookies: int = 1


CASES = {
    "a_10k_clients": Case(backlog=128, clients=[i * 0.001 for i in range(10_000)], accept=800.0, loss=0.01),
    "b_flood_60s": Case(backlog=128, clients=[0.5 + i * 0.5 for i in range(100)], accept=1000.0,
                        flood=20_000.0, duration=60.0),
}
"""The scenarios of bench_model.CASES (tests/test_bench_simpy.py holds them equal)."""


def us(seconds: float) -> int:
    return round(seconds * US)


def syn_rto(fires: int) -> int:
    """The SYN RTO armed after the timer has fired ``fires`` times (tcp_retransmit_timer)."""
    return min(TCP_TIMEOUT_INIT << max(0, fires - TCP_SYN_LINEAR_TIMEOUTS), TCP_RTO_MAX)


def synack_timeout(num_timeout: int) -> int:
    """tcp_reqsk_timeout(): TCP_TIMEOUT_INIT << num_timeout, capped at TCP_RTO_MAX."""
    return min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX)


@dataclass(eq=False)
class Client:
    """A client socket doing connect()."""

    index: int
    start: int
    state: str = SYN_SENT
    errno: str | None = None
    isn: Any = None  # the SYN-ACK it connected with (its request sock, or a cookie)
    proc: simpy.Process | None = None


@dataclass(eq=False)
class Request:
    """A request sock in the SYN queue."""

    key: int  # the client's index, or -2, -3, ... for a spoofed SYN
    num_timeout: int = 0
    last_oow: int = -1
    timer: simpy.Process | None = None


class Handshake:
    """The client host, the listener, the application and the flood on one SimPy environment."""

    def __init__(self, env: simpy.Environment, case: Case) -> None:
        self.env = env
        self.case = case
        self.backlog = case.backlog
        self.one_way = us(case.rtt) // 2
        self.loss = case.loss
        self.rng = random.Random(case.seed)
        self.clients = [Client(i, us(t)) for i, t in enumerate(case.clients)]
        self.syn_queue: dict[int, Request] = {}
        self.young = 0  # requests whose SYN-ACK never timed out
        self.spoofed = 0  # request socks of spoofed SYNs so far (their keys: -2, -3, ...)
        self.accept_queue = simpy.Store(env, capacity=case.backlog + 1)
        self.children: dict[int, str] = {}  # client index -> QUEUED / ACCEPTED
        self.last_overflow: int | None = None
        self.server = Counter[str]()
        self.client = Counter[str]()
        self.sent = Counter[str]()
        env.process(self.arrivals())
        env.process(self.accept_loop(max(1, us(1.0 / case.accept))))
        if case.flood:
            env.process(self.flood(US / case.flood))

    # ---- the wire ------------------------------------------------------------------------------
    def send(self, kind: str, to: Callable[[int, Any], None] | None, client: int, token: Any = None) -> None:
        """One packet: lost with probability ``loss``, else delivered to ``to`` rtt/2 later."""
        self.sent[kind] += 1
        if self.loss and self.rng.random() < self.loss:
            return
        if to is not None:
            self.env.timeout(self.one_way, (to, client, token)).callbacks.append(_deliver)

    # ---- the client host -----------------------------------------------------------------------
    def arrivals(self) -> Generator[simpy.Event, Any, None]:
        """Start each client's process at its connect() time."""
        for c in self.clients:
            if c.start > self.env.now:
                yield self.env.timeout(c.start - self.env.now)
            c.proc = self.env.process(self.connect(c))

    def connect(self, c: Client) -> Generator[simpy.Event, Any, None]:
        """connect(): send the SYN, then be its retransmission timer until a SYN-ACK or RST
        interrupts, or the retries are used up (tcp_retransmit_timer, tcp_write_timeout)."""
        self.client["TcpActiveOpens"] += 1
        self.send(SYN, self.on_syn, c.index)
        retransmits = 0
        try:
            while True:
                yield self.env.timeout(syn_rto(retransmits))
                elapsed = self.env.now - c.start
                if retransmits >= TCP_SYN_RETRIES + TCP_SYN_LINEAR_TIMEOUTS or (
                        retransmits > 0 and elapsed >= SYN_GIVE_UP_AFTER):
                    c.state, c.errno = CLOSED, "ETIMEDOUT"
                    self.client.update(("TcpExtTCPTimeouts", "TcpAttemptFails"))
                    return
                retransmits += 1
                self.client.update(("TcpExtTCPTimeouts", "TcpRetransSegs", "TcpExtTCPSynRetrans"))
                self.send(SYN, self.on_syn, c.index)
        except simpy.Interrupt:
            return  # on_synack or on_rst settled the socket

    def on_synack(self, ci: int, token: Any) -> None:
        c = self.clients[ci]
        if c.state == SYN_SENT:
            assert c.proc is not None
            c.proc.interrupt()
            c.state, c.isn = ESTABLISHED, token
            self.send(ACK, self.on_ack, ci, token)
        elif c.state == ESTABLISHED:  # a resent SYN-ACK: challenge ACK, with the ISN it connected with
            self.client.update(("TcpExtTCPSYNChallenge", "TcpInErrs"))
            self.send(ACK, self.on_ack, ci, c.isn)
        else:
            self.client["TcpOutRsts"] += 1
            self.send(RST, self.on_rst_at_server, ci)

    def on_rst(self, ci: int, _: Any) -> None:
        c = self.clients[ci]
        if c.state == SYN_SENT:
            assert c.proc is not None
            c.proc.interrupt()
            c.state, c.errno = CLOSED, "ECONNREFUSED"
            self.client["TcpAttemptFails"] += 1
        elif c.state == ESTABLISHED:
            c.state, c.errno = CLOSED, "ECONNRESET"
            self.client["TcpEstabResets"] += 1

    # ---- the listener: SYN ---------------------------------------------------------------------
    def on_syn(self, ci: int, _: Any = None) -> None:
        """A SYN at the listener; ``ci`` is -1 for a spoofed one (whose request socks get keys -2, -3...)."""
        req = self.syn_queue.get(ci) if ci >= 0 else None
        if req is not None:
            self.syn_again(req)
        elif ci not in self.children:
            self.conn_request(ci)

    def syn_again(self, req: Request) -> None:
        """tcp_check_req on a retransmitted SYN: resend the SYN-ACK at once, restart the timer."""
        now = self.env.now
        if req.last_oow >= 0 and now - req.last_oow < TCP_INVALID_RATELIMIT:
            self.server["TcpExtTCPACKSkippedSynRecv"] += 1
            return
        req.last_oow = now
        self.server.update(("TcpRetransSegs", "TcpExtTCPSynRetrans"))
        self.send(SYNACK, self.on_synack, req.key, req)
        assert req.timer is not None
        req.timer.interrupt("restart")

    def conn_request(self, ci: int) -> None:
        """tcp_conn_request: SYN queue full -> cookie; accept queue full -> drop; else a request sock."""
        want_cookie = self.case.syncookies == 2 or len(self.syn_queue) > self.backlog
        if want_cookie and not self.case.syncookies:
            self.server.update(("TcpExtTCPReqQFullDrop", "TcpExtListenDrops"))
            return
        if len(self.accept_queue.items) > self.backlog:
            if want_cookie:
                self.server["TcpExtTCPReqQFullDoCookies"] += 1
            self.server.update(("TcpExtListenOverflows", "TcpExtListenDrops"))
            return
        to = self.on_synack if ci >= 0 else None  # a spoofed SYN's SYN-ACK goes nowhere
        if want_cookie:
            now = self.env.now
            if self.last_overflow is None or not self.last_overflow <= now <= self.last_overflow + SYNQ_OVERFLOW_STAMP:
                self.last_overflow = now  # tcp_synq_overflow
            self.server.update(("TcpExtTCPReqQFullDoCookies", "TcpExtSyncookiesSent"))
            self.send(SYNACK, to, ci, ("cookie", now))
            return
        if ci < 0:
            self.spoofed += 1
            ci = -1 - self.spoofed
        req = Request(ci)
        self.syn_queue[ci] = req
        self.young += 1
        req.timer = self.env.process(self.synack_timer(req))
        self.send(SYNACK, to, ci, req)

    # ---- the listener: the SYN-ACK timer of one request ------------------------------------------
    def synack_timer(self, req: Request) -> Generator[simpy.Event, Any, None]:
        """reqsk_timer_handler: resend the SYN-ACK at each timeout, drop the request when its retries
        (cut under queue pressure) are used up; interrupted to restart or to cancel."""
        delay = synack_timeout(0)
        while True:
            try:
                yield self.env.timeout(delay)
            except simpy.Interrupt as why:
                if why.cause == "restart":
                    delay = synack_timeout(req.num_timeout)
                    continue
                return
            self.server["TcpExtTCPTimeouts"] += 1
            if req.num_timeout >= self.synack_retries():
                self.unlink(req)
                return
            self.server.update(("TcpRetransSegs", "TcpExtTCPSynRetrans"))
            self.send(SYNACK, self.on_synack if req.key >= 0 else None, req.key, req)
            if req.num_timeout == 0:
                self.young -= 1
            req.num_timeout += 1
            delay = synack_timeout(req.num_timeout)

    def synack_retries(self) -> int:
        """tcp_synack_retries, lowered (down to 2) while more than half of max(8, backlog) is queued
        and the young requests are too few (reqsk_timer_handler)."""
        qlen, thresh = len(self.syn_queue), TCP_SYNACK_RETRIES
        if 2 * qlen > max(8, self.backlog):
            y = self.young * 2
            while thresh > 2 and qlen >= y:
                thresh -= 1
                y *= 2
        return thresh

    def unlink(self, req: Request) -> None:
        del self.syn_queue[req.key]
        if req.num_timeout == 0:
            self.young -= 1

    def cancel(self, req: Request) -> None:
        self.unlink(req)
        assert req.timer is not None
        req.timer.interrupt("cancel")

    # ---- the listener: the final ACK, RSTs -----------------------------------------------------
    def on_ack(self, ci: int, token: Any) -> None:
        req = self.syn_queue.get(ci)
        if req is not None:
            if token is req:
                self.check_req_ack(req)
            else:  # an ACK of an earlier request's SYN-ACK
                self.server["TcpOutRsts"] += 1
                self.send(RST, self.on_rst, ci)
        elif ci in self.children:
            pass
        elif not self.case.syncookies or not self.recent_overflow():
            self.server["TcpOutRsts"] += 1
            self.send(RST, self.on_rst, ci)
        elif isinstance(token, tuple) and self.cookie_fresh(token[1]):
            if len(self.accept_queue.items) > self.backlog:
                self.server.update(("TcpExtSyncookiesRecv", "TcpExtListenOverflows", "TcpExtListenDrops"))
            else:
                self.server.update(("TcpExtSyncookiesRecv", "TcpPassiveOpens"))
                self.add_child(ci)
        else:
            self.server.update(("TcpExtSyncookiesFailed", "TcpOutRsts"))
            self.send(RST, self.on_rst, ci)

    def check_req_ack(self, req: Request) -> None:
        """tcp_check_req -> tcp_v4_syn_recv_sock: a child, or (accept queue full) the ACK dropped."""
        if len(self.accept_queue.items) > self.backlog:
            self.server.update(("TcpExtListenOverflows", "TcpExtListenDrops"))
            return
        self.cancel(req)
        self.server["TcpPassiveOpens"] += 1
        self.add_child(req.key)

    def recent_overflow(self) -> bool:
        last = self.last_overflow
        return last is not None and last <= self.env.now <= last + TCP_SYNCOOKIE_VALID

    def cookie_fresh(self, minted: int) -> bool:
        return self.env.now // MINUTE - minted // MINUTE < MAX_SYNCOOKIE_AGE

    def add_child(self, ci: int) -> None:
        self.children[ci] = QUEUED
        self.accept_queue.put(ci)

    def on_rst_at_server(self, ci: int, _: Any) -> None:
        req = self.syn_queue.get(ci)
        if req is not None:
            self.cancel(req)
            self.server.update(("TcpAttemptFails", "TcpExtEmbryonicRsts"))

    # ---- the application and the flood ---------------------------------------------------------
    def accept_loop(self, period: int) -> Generator[simpy.Event, Any, None]:
        """Blocking accept() calls, each connection then taking ``period``."""
        while True:
            ci = yield self.accept_queue.get()
            self.children[ci] = ACCEPTED
            yield self.env.timeout(period)

    def flood(self, period: float) -> Generator[simpy.Event, Any, None]:
        """Spoofed SYNs, the n-th sent at round(n * period)."""
        n = 0
        while True:
            self.send(SYN, self.on_syn, -1)
            n += 1
            yield self.env.timeout(round(n * period) - self.env.now)

    # ---- the result ----------------------------------------------------------------------------
    def outcome(self, c: Client) -> str:
        if c.errno is not None:
            return "timed_out" if c.errno == "ETIMEDOUT" else "reset"
        if c.state == ESTABLISHED:
            return self.children.get(c.index, "established")
        return "connecting"

    def counters(self) -> dict[str, int]:
        """Both hosts' counters, summed by name, as ``Result.counters``."""
        return dict(sorted((self.server + self.client).items()))


def _deliver(event: simpy.Event) -> None:
    to, client, token = event.value
    to(client, token)


def simulate(case: Case) -> dict[str, Any]:
    """Run one case; the wall time covers building the model, running it and tallying outcomes."""
    t0 = time.perf_counter()
    env = simpy.Environment()
    model = Handshake(env, case)
    if case.duration is None:
        env.run()
        end = env.now
    else:
        end = us(case.duration)
        env.run(until=end + 1)  # events at the last microsecond included, as in ours
    outcomes = Counter(model.outcome(c) for c in model.clients)
    wall = time.perf_counter() - t0
    # Events processed: every event SimPy scheduled (its event ids are consecutive) but those left
    # in the queue. Read after the run so that counting costs the run nothing.
    events = next(env._eid) - len(env._queue)  # type: ignore[attr-defined]
    return {"wall_s": wall, "events": events, "events_per_s": events / wall, "outcomes": dict(outcomes),
            "counters": model.counters(), "packets": dict(model.sent), "end": end / US}


def run(case: str) -> dict[str, Any]:
    """One of CASES by name: wall time, SimPy events, outcome counts, counters and packets sent."""
    return {"case": case, **simulate(CASES[case])}


if __name__ == "__main__":
    for name in sys.argv[1:] or list(CASES):
        print(json.dumps(run(name)), flush=True)
