"""The server host: the listener, its SYN queue of request socks and their SYN-ACK timers, syncookies,
the third ACK against the accept queue, a client's request (DATA: it carries that ACK too, and a
child socket ACKs it), and the kernel log's SYN-flood line (tcp_v4_conn_request / tcp_conn_request,
inet_csk_reqsk_queue_prune / reqsk_timer_handler, tcp_check_req, tcp_v4_syn_recv_sock,
cookie_v4_check, tcp_data_queue), with TCP_DEFER_ACCEPT (tcp_check_req, syn_ack_recalc).

With a SO_REUSEPORT group every handler first works out which listener the segment or timer is for
(``use_listener``): the listener's state below (``listener_state``) is then that one's.

Uses of the other rooms: answers ``client_synack``, ``client_rst`` and ``client_data_ack`` (client),
reads and marks ``clients`` (client), wakes the application with ``wake_accept`` (application), picks
the listener with ``use_listener``, ``listener_of`` and ``spoofed_listener`` (group); hands segments for
a TCP Fast Open child still in SYN_RECV to ``fastopen_syn_again``, ``fastopen_ack`` and ``fastopen_reset``
(fastopen).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from .. import rules
from ..actions import DATA_TWINS
from ..clock import US, Entry, to_us
from ..ports import DADDR, DPORT
from ..profiles import TCP_SYNQ_INTERVAL
from ..scenario import Scenario
from .base import ACK, NO_CLIENT, RST, SERVER, SYNACK
from .group import ListenerGroup

QUEUED, ACCEPTED = 1, 2  # server-side child states
SYN_QUEUE_FULL = frozenset({"syn_drop_syn_queue_full", "syn_cookie_drop_accept_queue_full", "syn_cookie"})
"""The SYN paths taken when the SYN queue counts as full (or tcp_syncookies=2 sends cookies to all)."""
FINAL_ACK = ("ack_new_child", "ack_accept_queue_full", "ack_accept_queue_full_abort", "ack_cookie",
             "ack_cookie_accept_queue_full", "ack_cookie_invalid", "ack_wrong_isn", "ack_no_request")
ACK_PATHS = {name: name for name in FINAL_ACK}
DATA_PATHS = {twin: name for name, (twin, _) in DATA_TWINS.items()}
"""The actions of a segment carrying the final ACK, by what happens to it: for a bare ACK, and for a
DATA (actions.DATA_TWINS: the same kernel path, named for the data)."""
OLD_COOKIE_AGE, NEW_COOKIE_AGE = 4, 2  # COUNTER_TRIES (2.6.32, 3.10), MAX_SYNCOOKIE_AGE (4.4.302 and later), in minutes


class _Request:
    """A request sock (struct request_sock) waiting in the SYN queue."""

    __slots__ = ("client", "expires", "num_timeout", "acked", "bucket", "timer", "last_oow", "alive", "ts_recent",
                 "listener")

    def __init__(self, client: int, expires: int, bucket: int, ts_recent: int = 0, listener: int = 0) -> None:
        self.client = client
        self.expires = expires
        self.num_timeout = 0
        self.acked = False
        self.bucket = bucket
        self.timer: Entry | None = None
        self.last_oow = -1
        self.alive = True
        self.ts_recent = ts_recent  # when the SYN that made it was sent: its TSval (tcp_openreq_init)
        self.listener = listener  # its listener in a SO_REUSEPORT group (req->rsk_listener)


class ServerHost(ListenerGroup):
    """The listening host."""

    STATE = ("listening", "backlog", "table", "syncookies", "young", "requests", "children", "child_data",
             "last_overflow", "synflood_warned", "last_warning", "counter_tries", "cookie_age", "cookie_phase",
             "ratelimit", "scan", "defer", "scan_timer", "clock_hand", "buckets", "hash_rng", "hash_key",
             "first_synack_rto")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        k = self.k
        self.listening = scenario.backlog is not None
        self.backlog = rules.effective_backlog(k, scenario.backlog) if self.listening else 0  # type: ignore[arg-type]
        self.table = rules.syn_table_size(k, scenario.backlog) if self.listening else None  # type: ignore[arg-type]
        self.syncookies = k.tcp_syncookies_effective
        self.young = 0  # of those, how many never had a SYN-ACK timeout
        self.requests: dict[int, _Request] = {}  # client index -> its request sock
        self.children: dict[int, int] = {}  # client index -> QUEUED / ACCEPTED
        self.child_data: set[int] = set()  # clients whose child socket holds their request
        self.last_overflow: int | None = None  # tcp_synq_overflow's stamp
        self.synflood_warned = False
        self.last_warning: int | None = None
        self.counter_tries = k.syncookie_check == "counter_tries"  # 2.6.32 and 3.10 (records)
        self.cookie_age = OLD_COOKIE_AGE if self.counter_tries else NEW_COOKIE_AGE
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
        self.defer = rules.defer_accept_rounds(k, int(scenario.defer_accept))  # rskq_defer_accept
        self.first_synack_rto = rules.synack_timeout_us(k, 0)  # a new request sock's timeout

    def listener_state(self) -> tuple[tuple[str, ...], dict[str, list[Any]]]:
        """What each listener of a SO_REUSEPORT group has of its own (the names of this room's
        attributes), and the values that differ between them from listen() on. Its queues and their
        history, its young count and SYN-flood warning (request_sock_queue); 2.6.32-4.5 its own
        syncookie overflow stamp (4.19+: the group's synq_overflow_ts, shared); 2.6.32/3.10 its SYN
        table, with a hash key of its own (lopt->hash_rnd), its clock hand and scan timer."""
        names = ["qlen", "accept_queue", "q_times", "q_syn", "q_acc", "young", "synflood_warned"]
        fresh: dict[str, list[Any]] = {}
        if self.k.synq_overflow_stamp == "listener":
            names.append("last_overflow")
        if self.scan:
            names += ["buckets", "clock_hand", "scan_timer", "hash_key"]
            fresh["hash_key"] = [self.hash_key] + [random.Random(f"synq-hash:{self.scenario.seed}:{i}").getrandbits(32)
                                                   for i in range(1, self.group)]
        return tuple(names), fresh

    # ---- server host: SYN ----------------------------------------------------------------------
    def server_syn(self, ci: int) -> None:
        if not self.listening:
            self.act("no_listener_rst", ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
            return
        if self.grouped:
            self.use_listener(self.listener_of(ci))
        req = self.requests.get(ci)
        if req is not None:
            self.syn_again(req)
        elif self.fastopen_pending and ci in self.fastopen_pending:  # type: ignore[attr-defined]  # TFO child
            self.fastopen_syn_again(ci)  # type: ignore[attr-defined]
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

    def syn_path(self) -> str:
        """The path a new SYN takes in tcp_v4_conn_request (2.6.32/3.10) / tcp_conn_request (4.4+),
        checked in the kernel's order: one of the ``syn_*`` actions."""
        k = self.k
        full = self.syncookies == 2 or rules.syn_queue_full(k, self.qlen, self.backlog, self.table)
        if full and not self.syncookies:
            return "syn_drop_syn_queue_full"
        if len(self.accept_queue) > self.backlog and (not k.young_rule or self.young > 1):
            return "syn_cookie_drop_accept_queue_full" if full else "syn_drop_accept_queue_full"
        if not full and rules.last_quarter_drop(k, self.qlen):
            return "syn_drop_last_quarter"
        return "syn_cookie" if full else "syn_new"

    def conn_request(self, ci: int) -> None:
        """A new SYN: a request sock in the SYN queue, a cookie, or a drop (``syn_path``); the kernel
        logs the SYN-flood line whenever the SYN queue counts as full."""
        path = self.syn_path()
        if path in SYN_QUEUE_FULL:
            self.syn_flood_warning()
        if path == "syn_cookie":
            self.synq_overflow()
            self.act(path, ci)
            self.send_synack(ci, ("cookie", self.now), 0)
        elif path != "syn_new":
            self.act(path, ci)
        else:
            self.new_request(ci)

    def new_request(self, ci: int, action: str = "syn_new", deliver: Callable[[Any], None] | None = None) -> None:
        """inet_csk_reqsk_queue_hash_add: a request sock into the SYN queue, and its SYN-ACK (``action``:
        the trace's name for it; ``deliver``: the client's handler for a SYN-ACK with a Fast Open cookie)."""
        req = self.request_for_syn(ci)
        self.qlen += 1
        self.young += 1
        if ci >= 0:
            self.requests[ci] = req
        if self.scan:
            self.hash_request(req)
        else:
            req.timer = self.at(self.timer_at(req.expires - self.now), self.request_timer, req)
        self.queues_changed()
        self.act(action, ci)
        self.send_synack(ci, req, 0, deliver)

    def request_for_syn(self, ci: int) -> _Request:
        """inet_reqsk_alloc for the SYN that arrives now: its first SYN-ACK timeout (TCP_TIMEOUT_INIT),
        its ts_recent the SYN's send time, on the listener in use (a SYN queue's or a TFO queue's)."""
        return _Request(ci, self.now + self.first_synack_rto, 0, self.now - self.one_way, self.in_use)

    def batch_path(self) -> str | None:
        """The path every spoofed SYN takes from now until something else happens, if they can be
        taken as a batch (``spoofed_syns``): one that leaves nothing behind (a cookie SYN-ACK or a
        drop) and decides no log line; None when they must be taken one by one (a request sock,
        a log line to decide, SYN-ACKs that loss or a drop rule may lose, a SO_REUSEPORT group whose
        listeners each take their share)."""
        if self.grouped:
            return None
        path = self.syn_path()
        if path == "syn_new" or (path in SYN_QUEUE_FULL and not self.flood_warning_settled()):
            return None
        if path == "syn_cookie" and (self.loss > 0.0 or SYNACK in self.dropped):
            return None
        return path

    def spoofed_syns(self, path: str, times: list[int]) -> bool:
        """Spoofed SYNs arriving at ``times``, nothing else happening in between, taking ``path``
        (from ``batch_path``): True if each was answered with a SYN-ACK (a cookie)."""
        if path == "syn_cookie":
            self.synq_overflows(times)
        self.act_many(path, NO_CLIENT, times)
        return path == "syn_cookie"

    def flood_warning_settled(self) -> bool:
        """Whether ``syn_flood_warning`` would log nothing more whenever it is called from now on."""
        if self.k.flood_log == "2.6.32":
            return not self.syncookies
        return self.synflood_warned or self.syncookies == 2

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

    def send_synack(self, ci: int, token: Any, retrans: int, deliver: Callable[[Any], None] | None = None) -> None:
        """A SYN-ACK for a request, or with a cookie (``("cookie", when minted)``); its timestamp echoes
        the request's ts_recent (a retransmitted SYN leaves it as it was: tcp_check_req), or the SYN
        the cookie answers."""
        if ci >= 0:
            tsecr = token.ts_recent if isinstance(token, _Request) else token[1] - self.one_way
            self.send(SERVER, SYNACK, ci, retrans, deliver or self.client_synack, (ci, token, tsecr))
        else:
            self.send(SERVER, SYNACK, NO_CLIENT, retrans, None, None)  # to a spoofed address

    def synq_overflow(self) -> None:
        """tcp_synq_overflow: remember when cookies were last sent (6.x: at most once a second)."""
        last = self.last_overflow
        if self.counter_tries or last is None or not last <= self.now <= last + US:
            self.last_overflow = self.now

    def synq_overflows(self, times: list[int]) -> None:
        """``synq_overflow`` at each of ``times`` (ascending), by jumps: where the stamp moves."""
        if self.counter_tries:
            self.last_overflow = times[-1]
            return
        last, i = self.last_overflow, 0
        while i < len(times):
            if last is None or not last <= times[i] <= last + US:
                last = times[i]
            i = bisect_right(times, last + US, i)
        self.last_overflow = last

    def recent_overflow(self) -> bool:
        """not tcp_synq_no_recent_overflow()."""
        last = self.last_overflow
        if last is None:
            return False
        window = to_us(self.k.cookie_window)
        if self.counter_tries:
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
            self.scan_timer = self.at(self.timer_at(rules.synack_timeout_us(self.k, 0)), self.scan_tick, self.in_use)

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
            req.timer = None  # its entry points back at it: unlinked, refcounting frees both
        self.queues_changed()

    def synack_timeout(self, req: _Request, thresh: int) -> None:
        """One SYN-ACK timeout of one request: resend, or drop it when its retries are used up, or,
        with TCP_DEFER_ACCEPT, wait for the client's data (syn_ack_recalc)."""
        expire, resend = rules.syn_ack_recalc(req.num_timeout, thresh, self.defer, req.acked)
        if expire:
            self.drop_request(req)
            self.act("synack_give_up", req.client)
            return
        if resend:
            self.act("synack_rto", req.client)
            self.send_synack(req.client, req, 1)
        else:
            self.act("synack_defer_wait", req.client)
        if req.num_timeout == 0:
            self.young -= 1
        req.num_timeout += 1
        req.expires = self.now + rules.synack_timeout_us(self.k, req.num_timeout)

    def request_timer(self, req: _Request) -> None:
        """reqsk_timer_handler (4.1+): each request sock's own timer."""
        if not req.alive:
            return
        if self.grouped:
            self.use_listener(req.listener)
        thresh = rules.synack_retries(self.k, self.qlen, self.young, self.backlog, None)
        self.synack_timeout(req, thresh)
        if req.alive:
            req.timer = self.at(self.timer_at(req.expires - self.now), self.request_timer, req)

    def scan_tick(self, listener: int) -> None:
        """inet_csk_reqsk_queue_prune (2.6.32/3.10): every TCP_SYNQ_INTERVAL the listener timer scans
        a budget of hash buckets from its clock hand and handles the expired requests in them."""
        if self.grouped:
            self.use_listener(listener)
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
            self.scan_timer = self.at(self.timer_at(interval), self.scan_tick, listener)

    # ---- server host: the final ACK, RSTs ------------------------------------------------------
    def server_ack(self, arg: tuple[int, Any, bool]) -> None:
        """A client's ACK: (client, the SYN-ACK it acknowledges, whether its sequence number is still
        the one right after the SYN, which a syncookie is checked against)."""
        ci, token, first_seq = arg
        if not self.listening:
            return
        if self.grouped:
            self.use_listener(self.listener_of(ci))
        if self.fastopen_pending and ci in self.fastopen_pending:  # type: ignore[attr-defined]  # TFO child
            self.fastopen_ack(ci)  # type: ignore[attr-defined]
        elif ci in self.children and ci not in self.requests:
            self.act("ack_for_child", ci)
        else:  # no data: a bare ACK while its sequence number is the one right after the SYN
            self.final_ack(ci, token, first_seq, ACK_PATHS, bare=first_seq)

    def server_data(self, arg: tuple[int, Any]) -> None:
        """A client's DATA: (client, the SYN-ACK it acknowledges). Without a child socket it is the
        handshake's final ACK as well (tcp_check_req, cookie_v4_check); its sequence number is the
        one after the SYN, so a cookie checks. With a child (now or made from it) the child queues it
        and ACKs at once."""
        ci, token = arg
        if not self.listening:
            return
        if self.grouped:
            self.use_listener(self.listener_of(ci))
        if self.fastopen_pending and ci in self.fastopen_pending:  # type: ignore[attr-defined]  # TFO child:
            self.fastopen_ack(ci)  # type: ignore[attr-defined]  # the data acks its SYN-ACK too
        if ci in self.children and ci not in self.requests:
            self.child_takes_data(ci, "data_again" if ci in self.child_data else "data_in")
        elif self.final_ack(ci, token, True, DATA_PATHS):
            self.child_takes_data(ci, "data_in_new_child")

    def child_takes_data(self, ci: int, action: str) -> None:
        """The child queues the data (or drops a copy it has) and ACKs at once (quickack)."""
        self.child_data.add(ci)
        self.act(action, ci)
        self.send(SERVER, ACK, ci, 0, self.client_data_ack, ci)

    def final_ack(self, ci: int, token: Any, first_seq: bool, paths: dict[str, str], bare: bool = False) -> bool:
        """A segment with the handshake's final ACK and no child socket to take it: complete the
        request or the cookie, or drop it, or answer with RST; the action names come from ``paths``
        (the ACK's or the DATA's); ``bare``: an ACK whose end_seq is the client's ISN + 1, which
        TCP_DEFER_ACCEPT holds back. True if it made a child."""
        req = self.requests.get(ci)
        if req is not None:
            if token is req:
                return self.check_req_ack(req, paths, bare)
            # tcp_check_req: ack_seq != snt_isn + 1, so the listener itself answers with RST
            self.act(paths["ack_wrong_isn"], ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        elif self.syncookies == 0:
            self.act(paths["ack_no_request"], ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        elif not self.recent_overflow():
            self.act(paths["ack_cookie_invalid" if self.counter_tries else "ack_no_request"], ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        elif isinstance(token, tuple) and first_seq and self.cookie_fresh(token[1]):
            if len(self.accept_queue) > self.backlog:
                self.act(paths["ack_cookie_accept_queue_full"], ci)
            else:
                self.add_child(ci)
                self.act(paths["ack_cookie"], ci)
                self.wake_accept()
                return True
        else:
            self.act(paths["ack_cookie_invalid"], ci)
            self.send(SERVER, RST, ci, 0, self.client_rst, ci)
        return False

    def cookie_fresh(self, minted: int) -> bool:
        """The cookie's minute counter is recent enough (check_tcp_syn_cookie)."""
        minute = 60 * US
        return (self.now + self.cookie_phase) // minute - (minted + self.cookie_phase) // minute < self.cookie_age

    def check_req_ack(self, req: _Request, paths: dict[str, str], bare: bool) -> bool:
        """tcp_check_req with a valid ACK: create the child (True), unless TCP_DEFER_ACCEPT holds a bare
        ACK back or the accept queue is full."""
        ci = req.client
        if rules.defer_accept_drops(req.num_timeout, self.defer, bare):
            req.acked = True
            self.act("ack_defer_drop", ci)
            return False
        if len(self.accept_queue) > self.backlog:  # sk_acceptq_is_full in tcp_v4_syn_recv_sock
            if self.k.tcp_abort_on_overflow:
                self.drop_request(req)
                self.act(paths["ack_accept_queue_full_abort"], ci)
                self.send(SERVER, RST, ci, 0, self.client_rst, ci)
            else:
                req.acked = True
                self.act(paths["ack_accept_queue_full"], ci)
            return False
        self.drop_request(req)
        self.add_child(ci)
        self.act(paths["ack_new_child"], ci)
        self.wake_accept()
        return True

    def add_child(self, ci: int) -> None:
        self.children[ci] = QUEUED
        self.accept_queue.append(ci)
        self.queues_changed()

    def server_rst(self, ci: int) -> None:
        if self.grouped and self.listening:
            self.use_listener(self.listener_of(ci))
        req = self.requests.get(ci)
        if req is not None:
            self.drop_request(req)
            self.act("rst_for_request", ci)
        elif self.fastopen_pending and ci in self.fastopen_pending:  # type: ignore[attr-defined]  # TFO child
            self.fastopen_reset(ci)  # type: ignore[attr-defined]
