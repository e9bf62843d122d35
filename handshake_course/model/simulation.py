"""The discrete-event simulation of a listener, its clients and the network between them.

Design
------
* **Clock and event list.** ``clock.EventList``: integer microseconds, a heap with ties broken in
  scheduling order, timers cancelled by lazy deletion (``del_timer`` / ``mod_timer``). The
  simulation is an EventList whose handlers are the kernel's.
* **Hosts.** One client host opens all the connections; one server host listens. Each keeps its own
  nstat counters. A flood source sends spoofed SYNs and never answers.
* **Kernel behaviour.** Every decision is taken by a rule in ``rules`` or a switch of the Kernel,
  and every consequence is recorded as an ``actions`` entry, which bumps the counters the real
  kernel bumps at that point. Function paths and counters per version live in ``actions``.
* **Randomness.** Independent ``random.Random`` streams per purpose (loss, ports, hashing), seeded
  from the scenario, so that changing the loss rate does not change the ports chosen.
"""

from __future__ import annotations

import random
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

from . import rules
from .actions import actions_for, counters_of
from .clock import US, Entry, EventList, to_us
from .ports import DADDR, DPORT, PortAllocator
from .profiles import TCP_SYNQ_INTERVAL, Kernel
from .result import (
    KINDS,
    SENDERS,
    ClientRecord,
    Listener,
    PacketLog,
    Queues,
    Result,
    Trace,
)
from .scenario import Scenario
from .timers import TimerBase

CLIENT, SERVER, FLOOD = (SENDERS.index(s) for s in ("client", "server", "flood"))  # packet senders
SYN, SYNACK, ACK, RST = (KINDS.index(k) for k in ("SYN", "SYN-ACK", "ACK", "RST"))  # packet kinds
IDLE, SYN_SENT, ESTABLISHED, CLOSED = 0, 1, 2, 3  # client socket states
QUEUED, ACCEPTED = 1, 2  # server-side child states
NO_CLIENT = -1
OLD_COOKIE_AGE, NEW_COOKIE_AGE = 4, 2  # COUNTER_TRIES (<=4.x), MAX_SYNCOOKIE_AGE (6.x), in minutes


class _Request:
    """A request sock (struct request_sock) waiting in the SYN queue."""

    __slots__ = ("client", "expires", "num_timeout", "acked", "bucket", "timer", "last_oow", "alive")

    def __init__(self, client: int, expires: int, bucket: int) -> None:
        self.client = client
        self.expires = expires
        self.num_timeout = 0
        self.acked = False
        self.bucket = bucket
        self.timer: Entry | None = None
        self.last_oow = -1
        self.alive = True


class _Client:
    """A client socket doing connect()."""

    __slots__ = ("index", "start", "port", "state", "syn_times", "fires", "timer", "connected_at",
                 "accepted_at", "failed_at", "errno", "isn")

    def __init__(self, index: int, start: int) -> None:
        self.index = index
        self.start = start
        self.port: int | None = None
        self.state = IDLE
        self.syn_times: list[int] = []
        self.fires = 0
        self.timer: Entry | None = None
        self.connected_at: int | None = None
        self.accepted_at: int | None = None
        self.failed_at: int | None = None
        self.errno: str | None = None
        self.isn: Any = None  # the SYN-ACK it connected with (its request, or a cookie): its ACKs carry it


class _Simulation(EventList):
    def __init__(self, scenario: Scenario) -> None:
        super().__init__(to_us(scenario.duration) if scenario.duration is not None else None)
        k: Kernel = scenario.kernel  # type: ignore[assignment]
        self.scenario, self.k = scenario, k
        self.one_way = to_us(scenario.rtt) // 2
        self.loss = scenario.loss
        self.loss_rng = random.Random(f"loss:{scenario.seed}")
        self.timers = TimerBase(k.timer_wheel, k.hz, scenario.seed)
        self.dropped = frozenset({"SYN": SYN, "SYN-ACK": SYNACK, "ACK": ACK, "RST": RST}[d] for d in scenario.drop)
        self.packets = PacketLog()
        self.packets.one_way_us = self.one_way
        self.actions = actions_for(k)
        self.trace = Trace(self.actions)
        self.trace_add = self.trace.recorder()
        self.server_counters = dict.fromkeys(counters_of(k, "server"), 0)
        self.client_counters = dict.fromkeys(counters_of(k, "client"), 0)
        self.bumps = {a.name: (i, self.server_counters if a.host == "server" else self.client_counters, a.counters)
                      for i, a in enumerate(self.actions)}  # action name -> (index, its host's counters, names)
        self.log: list[tuple[float, str]] = []
        self.q_times, self.q_syn, self.q_acc = array("d"), array("q"), array("q")

        # client host
        self.clients = [_Client(i, to_us(t)) for i, t in enumerate(scenario.client_times)]
        self.ports = PortAllocator(k, scenario.seed)
        self.retry_until = scenario.syncnt or k.tcp_syn_retries

        # server host: the listener
        self.listening = scenario.backlog is not None
        self.backlog = rules.effective_backlog(k, scenario.backlog) if self.listening else 0  # type: ignore[arg-type]
        self.table = rules.syn_table_size(k, scenario.backlog) if self.listening else None  # type: ignore[arg-type]
        self.syncookies = k.tcp_syncookies_effective
        self.qlen = 0  # request socks in the SYN queue
        self.young = 0  # of those, how many never had a SYN-ACK timeout
        self.accept_queue: deque[int] = deque()
        self.requests: dict[int, _Request] = {}  # client index -> its request sock
        self.children: dict[int, int] = {}  # client index -> QUEUED / ACCEPTED
        self.last_overflow: int | None = None  # tcp_synq_overflow's stamp
        self.synflood_warned = False
        self.last_warning: int | None = None
        self.old = k.version in ("2.6.32", "3.10")
        self.cookie_age = OLD_COOKIE_AGE if self.old else NEW_COOKIE_AGE
        self.cookie_phase = random.Random(f"cookie:{scenario.seed}").randrange(60 * US)
        self.ratelimit = to_us(k.tcp_invalid_ratelimit) if k.has("tcp_invalid_ratelimit") else None
        self.scan = k.synack_timer == "listener_scan" and self.listening
        if self.scan:
            assert self.table is not None
            self.buckets: list[list[_Request]] = [[] for _ in range(self.table)]
            self.clock_hand = 0
            self.scan_timer: Entry | None = None
            self.hash_rng = random.Random(f"synq-hash:{scenario.seed}")
            self.hash_key = self.hash_rng.getrandbits(32)
        # the application
        self.accept_waiting = 0
        self.accept_period = None
        if isinstance(scenario.accept, float):
            self.accept_period = max(1, to_us(1.0 / scenario.accept))
        self.flood_period = US / scenario.flood if scenario.flood else 0.0
        self.flood_count = 0

    # ---- timers ----------------------------------------------------------------------------------
    def timer_at(self, delay: int) -> int:
        """When a kernel timer armed now for `delay` really fires (see the timer_wheel switch)."""
        return self.timers.fire_at(self.now, delay)

    # ---- recording ---------------------------------------------------------------------------
    def act(self, name: str, client: int) -> None:
        """Record a kernel action and bump its counters on its host."""
        i, counters, names = self.bumps[name]
        for c in names:
            counters[c] += 1
        self.trace_add(self.now, client, i, self.qlen, len(self.accept_queue))

    def queues_changed(self) -> None:
        self.q_times.append(self.now / US)
        self.q_syn.append(self.qlen)
        self.q_acc.append(len(self.accept_queue))

    def send(self, sender: int, kind: int, client: int, retrans: int,
             deliver: Callable[[Any], None] | None, arg: Any) -> None:
        """Put a packet on the wire; it arrives one_way later unless it is lost."""
        lost = kind in self.dropped or (self.loss > 0.0 and self.loss_rng.random() < self.loss)
        self.packets.add(self.now, sender, kind, client, retrans, int(lost))
        if not lost and deliver is not None:
            self.at(self.now + self.one_way, deliver, arg)

    # ---- client host -------------------------------------------------------------------------
    def connect(self, c: _Client) -> None:
        port = self.ports.connect(self.now)
        if port is None:
            self.fail(c, "EADDRNOTAVAIL")
            self.act("connect_no_port", c.index)
            return
        c.port, c.state = port, SYN_SENT
        c.syn_times.append(self.now)
        self.act("connect", c.index)
        self.send(CLIENT, SYN, c.index, 0, self.server_syn, c.index)
        c.timer = self.at(self.timer_at(rules.syn_rto_after_us(self.k, 0)), self.syn_timer, c)

    def syn_timer(self, c: _Client) -> None:
        """tcp_retransmit_timer for a SYN_SENT socket."""
        retransmits = len(c.syn_times) - 1
        elapsed = self.timers.elapsed_us(c.syn_times[0], self.now)
        if rules.syn_expired(self.k, retransmits, elapsed, self.retry_until):
            self.fail(c, "ETIMEDOUT")
            self.act("syn_give_up", c.index)
            return
        self.act("syn_rto_first" if retransmits == 0 else "syn_rto", c.index)
        c.syn_times.append(self.now)
        c.fires += 1
        self.send(CLIENT, SYN, c.index, 1, self.server_syn, c.index)
        c.timer = self.at(self.timer_at(rules.syn_rto_after_us(self.k, c.fires)), self.syn_timer, c)

    def fail(self, c: _Client, errno: str) -> None:
        self.cancel(c.timer)
        c.state, c.errno, c.failed_at = CLOSED, errno, self.now
        self.ports.release(c.port)

    def client_synack(self, arg: tuple[int, Any]) -> None:
        ci, token = arg
        c = self.clients[ci]
        if c.state == SYN_SENT:
            self.cancel(c.timer)
            c.state, c.connected_at, c.isn = ESTABLISHED, self.now, token
            self.act("synack_in", ci)
            self.send(CLIENT, ACK, ci, 0, self.server_ack, arg)
        elif c.state == ESTABLISHED:  # acked with the sequence numbers it connected with, whatever came
            self.act("synack_again", ci)
            self.send(CLIENT, ACK, ci, 1, self.server_ack, (ci, c.isn))
        else:
            self.act("no_socket_rst", ci)
            self.send(CLIENT, RST, ci, 0, self.server_rst, ci)

    def client_rst(self, ci: int) -> None:
        c = self.clients[ci]
        if c.state == SYN_SENT:
            self.fail(c, "ECONNREFUSED")
            self.act("rst_in_syn_sent", ci)
        elif c.state == ESTABLISHED:
            self.fail(c, "ECONNRESET")
            self.act("rst_in_established", ci)

    # ---- server host: SYN ----------------------------------------------------------------------
    def server_syn(self, ci: int) -> None:
        if not self.listening:
            self.act("no_listener_rst", ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
            return
        req = self.requests.get(ci)
        if req is not None:
            self.syn_again(req)
        elif ci in self.children:
            self.act("syn_for_child", ci)
        else:
            self.conn_request(ci)

    def syn_again(self, req: _Request) -> None:
        """tcp_check_req on a retransmitted SYN: resend the SYN-ACK now and restart the timer."""
        if self.ratelimit is not None:
            if req.last_oow >= 0 and self.now - req.last_oow < self.ratelimit:
                self.act("syn_again_ratelimited", req.client)
                return
            req.last_oow = self.now
        self.act("syn_again", req.client)
        self.send_synack(req.client, req, 1)
        delay = rules.synack_timeout_us(self.k, req.num_timeout)
        if self.scan:
            req.expires = self.now + delay
        else:
            self.cancel(req.timer)
            req.expires = self.now + delay
            req.timer = self.at(self.timer_at(delay), self.request_timer, req)

    def conn_request(self, ci: int) -> None:
        """tcp_v4_conn_request (2.6.32/3.10) / tcp_conn_request (4.4+), in the kernel's order."""
        k = self.k
        want_cookie = False
        if self.syncookies == 2 or rules.syn_queue_full(k, self.qlen, self.backlog, self.table):
            self.syn_flood_warning()
            if not self.syncookies:
                self.act("syn_drop_syn_queue_full", ci)
                return
            want_cookie = True
        if len(self.accept_queue) > self.backlog and (not k.young_rule or self.young > 1):
            self.act("syn_cookie_drop_accept_queue_full" if want_cookie else "syn_drop_accept_queue_full", ci)
            return
        if not want_cookie and rules.last_quarter_drop(k, self.qlen):
            self.act("syn_drop_last_quarter", ci)
            return
        if want_cookie:
            self.synq_overflow()
            self.act("syn_cookie", ci)
            self.send_synack(ci, ("cookie", self.now), 0)
            return
        req = _Request(ci, self.now + rules.synack_timeout_us(k, 0), 0)
        self.qlen += 1
        self.young += 1
        if ci >= 0:
            self.requests[ci] = req
        if self.scan:
            self.hash_request(req)
        else:
            req.timer = self.at(self.timer_at(req.expires - self.now), self.request_timer, req)
        self.queues_changed()
        self.act("syn_new", ci)
        self.send_synack(ci, req, 0)

    def syn_flood_warning(self) -> None:
        """The "Possible SYN flooding" kernel log line, in each version's words and frequency."""
        style = self.k.flood_log
        if style == "2.6.32":  # syn_flood_warning(): only when sending cookies, once a minute
            if self.syncookies and (self.last_warning is None or self.now - self.last_warning > 60 * US):
                self.last_warning = self.now
                self.log.append((self.now / US, f"possible SYN flooding on port {DPORT}. Sending cookies."))
            return
        if self.synflood_warned or self.syncookies == 2:  # tcp_syn_flood_action: once per listener
            return
        self.synflood_warned = True
        verdict = "Sending cookies" if self.syncookies else "Dropping request"
        if style == "3.x":  # tcp_v4_conn_request passes "TCP"; pr_fmt adds "TCP: "
            line = f"TCP: TCP: Possible SYN flooding on port {DPORT}. {verdict}.  Check SNMP counters."
        elif style == "5.15":  # tcp_conn_request passes the slab name; the port only, as 3.x
            line = f"TCP: request_sock_TCP: Possible SYN flooding on port {DPORT}. {verdict}.  Check SNMP counters."
        else:  # 6.x: address and port, no "Check SNMP counters"
            line = f"TCP: request_sock_TCP: Possible SYN flooding on port {DADDR}:{DPORT}. {verdict}."
        self.log.append((self.now / US, line))

    def send_synack(self, ci: int, token: Any, retrans: int) -> None:
        if ci >= 0:
            self.send(SERVER, SYNACK, ci, retrans, self.client_synack, (ci, token))
        else:
            self.send(SERVER, SYNACK, NO_CLIENT, retrans, None, None)  # to a spoofed address

    def synq_overflow(self) -> None:
        """tcp_synq_overflow: remember when cookies were last sent (6.x: at most once a second)."""
        last = self.last_overflow
        if self.old or last is None or not last <= self.now <= last + US:
            self.last_overflow = self.now

    def recent_overflow(self) -> bool:
        """not tcp_synq_no_recent_overflow()."""
        last = self.last_overflow
        if last is None:
            return False
        window = to_us(self.k.cookie_window)
        if self.old:
            return self.now - last <= window
        return last <= self.now <= last + window

    # ---- server host: request socks and their SYN-ACK timer --------------------------------------
    def hash_request(self, req: _Request) -> None:
        """inet_csk_reqsk_queue_hash_add on 2.6.32/3.10: into the syn_table; the first request of an
        empty queue (re)arms the listener timer for TCP_TIMEOUT_INIT (inet_csk_reqsk_queue_added)."""
        assert self.table is not None
        salt = req.client if req.client >= 0 else self.hash_rng.getrandbits(32)
        req.bucket = ((salt * 2654435761) ^ self.hash_key) & (self.table - 1)
        self.buckets[req.bucket].append(req)
        if self.qlen == 1:
            self.cancel(self.scan_timer)
            self.scan_timer = self.at(self.timer_at(rules.synack_timeout_us(self.k, 0)), self.scan_tick)

    def drop_request(self, req: _Request) -> None:
        """Unlink a request sock from the SYN queue (reqsk_queue_removed)."""
        req.alive = False
        self.qlen -= 1
        if req.num_timeout == 0:
            self.young -= 1
        if req.client >= 0:
            self.requests.pop(req.client, None)
        if self.scan:
            self.buckets[req.bucket].remove(req)
        else:
            self.cancel(req.timer)
        self.queues_changed()

    def synack_timeout(self, req: _Request, thresh: int) -> None:
        """One SYN-ACK timeout of one request: resend, or drop it when its retries are used up
        (syn_ack_recalc without TCP_DEFER_ACCEPT: expire = num_timeout >= thresh)."""
        if req.num_timeout >= thresh:
            self.drop_request(req)
            self.act("synack_give_up", req.client)
            return
        self.act("synack_rto", req.client)
        self.send_synack(req.client, req, 1)
        if req.num_timeout == 0:
            self.young -= 1
        req.num_timeout += 1
        req.expires = self.now + rules.synack_timeout_us(self.k, req.num_timeout)

    def request_timer(self, req: _Request) -> None:
        """reqsk_timer_handler (4.1+): each request sock's own timer."""
        if not req.alive:
            return
        thresh = rules.synack_retries(self.k, self.qlen, self.young, self.backlog, None)
        self.synack_timeout(req, thresh)
        if req.alive:
            req.timer = self.at(self.timer_at(req.expires - self.now), self.request_timer, req)

    def scan_tick(self, _: Any) -> None:
        """inet_csk_reqsk_queue_prune (2.6.32/3.10): every TCP_SYNQ_INTERVAL the listener timer scans
        a budget of hash buckets from its clock hand and handles the expired requests in them."""
        self.scan_timer = None
        if self.qlen == 0:
            return
        assert self.table is not None
        thresh = rules.synack_retries(self.k, self.qlen, self.young, self.backlog, self.table)
        interval = to_us(TCP_SYNQ_INTERVAL)
        ratio = max(1, rules.synack_timeout_us(self.k, 0) // interval)  # timeout / interval in jiffies
        budget = max(1, 2 * (self.table // ratio))
        i, mask = self.clock_hand, self.table - 1
        for _ in range(budget):
            bucket = self.buckets[i]
            for req in reversed(bucket[:]):  # chains are walked newest first
                if self.now >= req.expires and req.alive:
                    self.synack_timeout(req, thresh)
            i = (i + 1) & mask
        self.clock_hand = i
        if self.qlen:
            self.scan_timer = self.at(self.timer_at(interval), self.scan_tick)

    # ---- server host: the final ACK, RSTs ------------------------------------------------------
    def server_ack(self, arg: tuple[int, Any]) -> None:
        ci, token = arg
        if not self.listening:
            return
        req = self.requests.get(ci)
        if req is not None:
            if token is req:
                self.check_req_ack(req)
            else:  # tcp_check_req: ack_seq != snt_isn + 1, so the listener itself answers with RST
                self.act("ack_wrong_isn", ci)
                self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        elif ci in self.children:
            self.act("ack_for_child", ci)
        elif self.syncookies == 0:
            self.act("ack_no_request", ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        elif not self.recent_overflow():
            self.act("ack_cookie_invalid" if self.old else "ack_no_request", ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        elif isinstance(token, tuple) and self.cookie_fresh(token[1]):
            if len(self.accept_queue) > self.backlog:
                self.act("ack_cookie_accept_queue_full", ci)
            else:
                self.add_child(ci)
                self.act("ack_cookie", ci)
                self.wake_accept()
        else:
            self.act("ack_cookie_invalid", ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)

    def cookie_fresh(self, minted: int) -> bool:
        """The cookie's minute counter is recent enough (check_tcp_syn_cookie)."""
        minute = 60 * US
        return (self.now + self.cookie_phase) // minute - (minted + self.cookie_phase) // minute < self.cookie_age

    def check_req_ack(self, req: _Request) -> None:
        """tcp_check_req with a valid ACK: create the child, unless the accept queue is full."""
        ci = req.client
        if len(self.accept_queue) > self.backlog:  # sk_acceptq_is_full in tcp_v4_syn_recv_sock
            if self.k.tcp_abort_on_overflow:
                self.drop_request(req)
                self.act("ack_accept_queue_full_abort", ci)
                self.send(SERVER, RST, ci, 0, self.client_rst, ci)
            else:
                req.acked = True
                self.act("ack_accept_queue_full", ci)
            return
        self.drop_request(req)
        self.add_child(ci)
        self.act("ack_new_child", ci)
        self.wake_accept()

    def add_child(self, ci: int) -> None:
        self.children[ci] = QUEUED
        self.accept_queue.append(ci)
        self.queues_changed()

    def server_rst(self, ci: int) -> None:
        req = self.requests.get(ci)
        if req is not None:
            self.drop_request(req)
            self.act("rst_for_request", ci)

    # ---- the application: accept() -------------------------------------------------------------
    def accept_call(self, _: Any = None) -> None:
        """One blocking accept() call: it returns at once if a connection waits, else when one comes."""
        if self.accept_queue:
            self.take()
        else:
            self.accept_waiting += 1

    def wake_accept(self) -> None:
        if self.accept_waiting:
            self.accept_waiting -= 1
            self.take()

    def take(self) -> None:
        ci = self.accept_queue.popleft()
        self.children[ci] = ACCEPTED
        self.clients[ci].accepted_at = self.now
        self.queues_changed()
        self.act("accept", ci)
        if self.accept_period is not None:  # the loop handles it, then calls accept() again
            self.at(self.now + self.accept_period, self.accept_call)

    # ---- the flood -----------------------------------------------------------------------------
    def flood_syn(self, _: Any) -> None:
        """One spoofed SYN arrives (sent one_way ago); the next one is scheduled."""
        n = self.flood_count
        self.flood_count = n + 1
        sent = self.now - self.one_way
        lost = SYN in self.dropped or (self.loss > 0.0 and self.loss_rng.random() < self.loss)
        self.packets.add_unordered(sent, FLOOD, SYN, NO_CLIENT, 0, int(lost))
        if not lost and self.listening:
            self.conn_request(NO_CLIENT)
        nxt = round((n + 1) * self.flood_period)
        if self.end is None or nxt <= self.end:
            self.at(nxt + self.one_way, self.flood_syn)

    # ---- the whole run -------------------------------------------------------------------------
    def start(self) -> None:
        if self.listening:
            self.act("listen", NO_CLIENT)
            self.queues_changed()
        for c in self.clients:
            self.at(c.start, self.connect, c)
        accept = self.scenario.accept
        if isinstance(accept, float):
            self.at(0, self.accept_call)
        elif accept is not None:
            for t in accept:
                self.at(to_us(t), self.accept_call)
        if self.flood_period:
            self.at(self.one_way, self.flood_syn)

    def result(self) -> Result:
        def s(t: int | None) -> float | None:
            return None if t is None else t / US

        records = []
        for c in self.clients:
            records.append(ClientRecord(
                index=c.index, start=c.start / US, port=c.port, outcome=self.outcome(c),
                syn_times=tuple(t / US for t in c.syn_times), connected_at=s(c.connected_at),
                accepted_at=s(c.accepted_at), failed_at=s(c.failed_at), errno=c.errno))
        listener = None
        if self.listening:
            assert self.scenario.backlog is not None
            listener = Listener(self.backlog, self.backlog + 1,
                                rules.syn_queue_capacity(self.k, self.scenario.backlog, last_quarter=False),
                                self.table)
        return Result(
            scenario=self.scenario, clients=tuple(records), packets=self.packets, trace=self.trace,
            queues=Queues(self.q_times, self.q_syn, self.q_acc),
            server_counters=self.server_counters, client_counters=self.client_counters,
            listener=listener, log=tuple(self.log), end=self.now / US, events=self.events)

    def outcome(self, c: _Client) -> str:
        if c.errno is not None:
            return {"ETIMEDOUT": "timed_out", "EADDRNOTAVAIL": "no_port"}.get(c.errno, "reset")
        if c.state == ESTABLISHED:
            child = self.children.get(c.index)
            return "accepted" if child == ACCEPTED else "queued" if child == QUEUED else "established"
        return "connecting"


def simulate(scenario: Scenario | None = None, **fields: Any) -> Result:
    """Run one scenario and return its Result.

    ``simulate(Scenario(...))``, or ``simulate(kernel="3.10", backlog=8, clients=20)`` as a shortcut.
    The same scenario (seed included) always gives the same result.
    """
    if scenario is None:
        scenario = Scenario(**fields)
    elif fields:
        scenario = scenario.replace(**fields)
    if not isinstance(scenario, Scenario):
        raise TypeError(f"simulate() takes a Scenario; got {type(scenario).__name__}")
    sim = _Simulation(scenario)
    sim.start()
    sim.run()
    return sim.result()
