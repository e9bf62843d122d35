"""Hold the model to what applications do on a live kernel: the records of the lab experiments that
exercise ``Scenario(data=...)``, TCP_DEFER_ACCEPT, TIME_WAIT (``hold``), TCP Fast Open (``fastopen``) and
SO_REUSEPORT (``listeners``: compared by invariants, the kernel's spread having a boot secret). Each kind of record has a scenario builder (``SCENARIOS``, which
``compare.scenario_for`` uses) and its checks (``CHECKERS``, with their names in ``CHECK_NAMES``),
which ``compare`` merges into its own tables; see ``compare`` for the tolerances.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import SETTINGS, Kernel, Result, Scenario, accept_capacity, simulate
from ..model.rules import TCP_RTO_MAX, defer_accept_rounds
from . import timing

Record = Mapping[str, Any]


def _compare() -> Any:
    from . import compare  # compare imports this module: its helpers are there once it has loaded

    return compare


# ---- from a record to the model ---------------------------------------------------------------------

def _client_data_scenario(record: Record, kernel: Kernel, rtt: float) -> Scenario:
    """Client 0 connects first; clients 1 and 2 connect together (both connect()s return before either
    request is written, so for the listener their SYNs come before their requests, as for two model
    clients that start at the same instant); every bare ACK is dropped (``drop=("ACK",)``: the
    experiment's nftables drop segments that only acknowledge, both ways). A model client writes its
    request when connect() returns, one round trip after it starts; the lab's application writes a little
    later (more on a busy machine), so speaking clients start one round trip before their first request
    left, and the request's timers run from where they ran on the machine."""
    p, r = record["params"], record["result"]
    first, *later = (round(max(0.0, c["data_times"][0] - rtt), 6) if p["data"] else c["syn_times"][0]
                     for c in r["clients"])
    return Scenario(kernel=kernel, backlog=p["backlog"], clients=[first, *[min(later)] * len(later)],
                    accept=[r["accepted_at"]], rtt=rtt, drop=("ACK",), data=p["data"],
                    duration=p["gap"] + p["duration"])


def _defer_accept_scenario(record: Record, kernel: Kernel, rtt: float) -> Scenario:
    """One client against a listener with TCP_DEFER_ACCEPT; it writes a request at once, or never."""
    p, r = record["params"], record["result"]
    return Scenario(kernel=kernel, backlog=p["backlog"], clients=[c["syn_times"][0] for c in r["clients"]], rtt=rtt,
                    defer_accept=p["defer_accept"], data=p["data"], duration=p["duration"])


TIME_WAIT_ACCEPT_RATE = 1000.0
"""accept() calls per second of the time_wait experiment's server, which accept()s each connection as
soon as select() says it is there (model: a loop spending 1 ms per connection)."""


def _time_wait_scenario(record: Record, kernel: Kernel, rtt: float) -> Scenario:
    """connect()s at the measured times, each closed as soon as it returns (``hold=0``), from the client
    namespace's ports and tcp_tw_reuse (``kernel_for`` reads them from the client's sysctls)."""
    p, r = record["params"], record["result"]
    starts = [c["start"] for c in r["clients"]]
    return Scenario(kernel=kernel, backlog=64, clients=starts, accept=TIME_WAIT_ACCEPT_RATE, rtt=rtt, hold=0.0,
                    duration=starts[-1] + p["settle"])


def _fastopen_scenario(record: Record, kernel: Kernel, rtt: float) -> Scenario:
    """TCP Fast Open: the clients at their first SYNs, client 0 (whose request follows the handshake) one
    round trip before its request left, as for ``_client_data_scenario``; the accept() calls when they
    returned; every bare ACK dropped (``drop=("ACK",)``); the listener's TCP_FASTOPEN queue; the run as
    long as the experiment's (its counters were read at ``ended``). tcp_fastopen comes from the server
    namespace (``kernel_for``: the model runs one kernel for both hosts, and the lab sets 3 in both)."""
    p, r = record["params"], record["result"]
    starts = [round(max(0.0, c["data_times"][0] - rtt), 6) if not c["syn_data"] and c["data_times"] else
              c["syn_times"][0] for c in r["clients"]]
    return Scenario(kernel=kernel, backlog=p["backlog"], clients=starts, rtt=rtt, drop=("ACK",), data=True,
                    fastopen=p["fastopen"], accept=[a["at"] for a in r["accepts"] if a is not None],
                    duration=r["ended"])


def _reuseport_scenario(record: Record, kernel: Kernel, rtt: float) -> Scenario:
    """A SO_REUSEPORT group of the same size and backlog, the clients at their first SYNs, and at each of
    the experiment's rounds as many accept() calls on every listener as its accept queue holds (the lab
    accept()s whatever each holds; a model call finding nothing waits, and nothing more comes to that
    listener: its connections are its own). Which listener gets which connection is the kernel's hash with a
    boot secret: the model draws its own from ``seed`` (``reuseport_runs``)."""
    p, r = record["params"], record["result"]
    cap = accept_capacity(kernel, p["backlog"])
    return Scenario(kernel=kernel, backlog=p["backlog"], clients=[c["syn_times"][0] for c in r["clients"]],
                    listeners=p["listeners"], accept=[x["at"] for x in r["rounds"] for _ in range(cap)], rtt=rtt,
                    duration=r["ended"])


SCENARIOS: dict[str, Callable[[Record, Kernel, float], Scenario]] = {
    "client_data": _client_data_scenario,
    "defer_accept": _defer_accept_scenario,
    "time_wait": _time_wait_scenario,
    "fastopen": _fastopen_scenario,
    "reuseport": _reuseport_scenario,
}
"""The model scenario of each kind of record here, from the record, its kernel and its round trip."""


# ---- helpers -----------------------------------------------------------------------------------------

def model_child_times(res: Result) -> list[float | None]:
    """When the listener made each client's child (the server event of that client after which the accept
    queue is longer than before it), None for a client that never got one."""
    made: list[float | None] = [None] * len(res.clients)
    queued = 0
    for ev in res.trace:
        if ev.host == "server" and ev.client is not None and ev.accept_queue > queued and made[ev.client] is None:
            made[ev.client] = ev.time
        queued = ev.accept_queue
    return made


def completed_by(sends: Sequence[float], made: float | None) -> int | None:
    """Which of a client's sends (0: the first, 1: the first retransmission...) made its child: the last
    one sent before the child existed; None without a child (or one made before any send)."""
    if made is None:
        return None
    k = bisect_right(list(sends), made) - 1
    return k if k >= 0 else None


def _intervals_check(name: str, measured: Sequence[Sequence[float]], model: Sequence[Sequence[float]],
                     hz: int) -> Any:
    """Per client: the same number of sends, each interval within the timer-wheel bounds of the model's."""
    compare = _compare()
    got = [timing.intervals(m) for m in measured]
    want = [timing.intervals(w) for w in model]  # unrounded: a timeout of 200.02 ms is 51 jiffies, not 50
    ok = len(got) == len(want) and all(
        len(g) == len(w) and all(timing.within(a, b, hz) for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True))
    return compare.Check(name, [[round(x, 4) for x in g] for g in got], [[round(x, 4) for x in w] for w in want],
                         f"per client: same count, each interval -1 jiffy .. +granularity + 1 jiffy + {timing.SLACK * 1000:g} ms", ok)


# ---- the checks of each experiment -------------------------------------------------------------------

def _client_data(rec: Record) -> list[Any]:
    """Client data against the model. The model's run uses its kernel timers (the timer wheel) for the
    counts and textbook timers (``timer_wheel="off"``) for the intervals, which ``timing`` bounds.

    * completed_by -- per client, which of its requests (0: the first, k: the k-th retransmission) made
      the listener's child: tcp_check_req creates it from any ACK-carrying segment (the request
      included) of a request sock, unless the accept queue is full (inet_csk_complete_hashdance ->
      sk_acceptq_is_full: ListenOverflows, the segment dropped). Measured: the last request the
      client's capture shows before the child's socket was first seen in the server's /proc/net/tcp
      (polled; the sends are >= 200 ms apart, so poll lateness cannot change the index).
    * accepted -- which client the one accept() returned (the oldest child: reqsk_queue_remove).
    * data_intervals -- the request's retransmissions: a loss probe (tcp_schedule_loss_probe: 2 srtt +
      TCP_RTO_MIN, at most the RTO), then RTOs from the one RTT sample (srtt + max(2 srtt, 200 ms)),
      doubling (``data_schedule``); nothing ACKs them (the listener's ACKs are dropped).
    * synack_intervals -- the listener's SYN-ACKs per client: no retransmission for a request that a
      request completed in time; for a silent client the request sock's timer (1 s, tcp_synack_retries=1).
    * syn_recv -- request socks left at the end (a silent client's expires after its last timeout).
    * server_counters, client_counters -- exact, the counters the model keeps.
    """
    compare = _compare()
    r, hz = rec["result"], compare._hz(rec)
    res = simulate(compare.scenario_for(rec))
    textbook = compare._textbook(rec)
    clients = r["clients"]
    made = model_child_times(res)
    got_by = [completed_by(c["data_times"], c["child_seen"]) if c["data_times"] else
              (None if c["child_seen"] is None else 0) for c in clients]
    want_by = [completed_by(m.data_times, t) if m.data_times else (None if t is None else 0)
               for m, t in zip(res.clients, made, strict=True)]
    ports = [c["port"] for c in clients]
    got_acc = None if r["accepted_port"] is None else ports.index(r["accepted_port"])
    want_acc = next((m.index for m in res.clients if m.accepted_at is not None), None)
    ss = res.ss()
    syn_recv = r["syn_recv"][-1][1] if r["syn_recv"] else None
    return [
        compare.Check("completed_by", got_by, want_by, "per client: exact (None: no child)", got_by == want_by),
        compare.Check("accepted", got_acc, want_acc, "exact: the client accept() returned", got_acc == want_acc),
        _intervals_check("data_intervals", [c["data_times"] for c in clients],
                         [m.data_times for m in textbook.clients], hz),
        _intervals_check("synack_intervals", [c["synack_times"] for c in clients],
                         [compare._server_times(textbook, "SYN-ACK", m.index) for m in textbook.clients], hz),
        compare.Check("syn_recv", syn_recv, ss.syn_recv, "exact, at the end", syn_recv == ss.syn_recv),
        *_counter_checks(rec, res),
    ]


def retrans_to_secs(kernel: Kernel, rounds: int) -> int:
    """What getsockopt(TCP_DEFER_ACCEPT) returns for `rounds` SYN-ACK timeouts: retrans_to_secs
    (net/ipv4/tcp.c), the seconds of those timeouts from TCP_TIMEOUT_INIT / HZ doubling up to
    TCP_RTO_MAX / HZ (the inverse of secs_to_retrans, ``defer_accept_rounds``)."""
    timeout = int(SETTINGS["tcp_timeout_init"].defaults[kernel.version])
    total = 0
    for _ in range(rounds):
        total += timeout
        timeout = min(timeout << 1, int(TCP_RTO_MAX))
    return total


def _counter_checks(rec: Record, res: Result) -> list[Any]:
    compare = _compare()
    checks = []
    for side, model in (("server", res.server_counters), ("client", res.client_counters)):
        m, s, ok = compare._counters(rec["counters"][side], model)
        checks.append(compare.Check(f"{side}_counters", m, s, "exact, the counters the model keeps", ok))
    return checks


def _defer_accept(rec: Record) -> list[Any]:
    """TCP_DEFER_ACCEPT against the model.

    * getsockopt -- what the listener reports: retrans_to_secs(secs_to_retrans(seconds)), the seconds
      of the SYN-ACK rounds the setsockopt's value became (2 s: 2 rounds, 1 + 2 = 3 s).
    * completed_by -- which segment made the child: a speaking client's request (index into its
      requests), a silent client's answer to a SYN-ACK (index into the SYN-ACKs it received):
      tcp_check_req drops a bare ACK while req->num_timeout < rskq_defer_accept (TCPDeferAcceptDrop),
      syn_ack_recalc holds the SYN-ACK back until num_timeout >= rskq_defer_accept - 1 and then resends
      it; the client's answer (a challenge ACK: it is established) then passes.
    * synack_intervals -- the SYN-ACKs the client received, intervals against the model's textbook ones.
    * server_counters, client_counters -- exact, the counters the model keeps.
    """
    compare = _compare()
    r, p, hz = rec["result"], rec["params"], compare._hz(rec)
    res = simulate(compare.scenario_for(rec))
    textbook = compare._textbook(rec)
    k = res.kernel
    want_secs = retrans_to_secs(k, defer_accept_rounds(k, p["defer_accept"]))
    made = model_child_times(res)
    got_by = [completed_by(c["data_times"] if p["data"] else c["synack_times"], c["child_seen"])
              for c in r["clients"]]
    want_by = [completed_by(m.data_times if p["data"] else compare._server_times(res, "SYN-ACK", m.index), t)
               for m, t in zip(res.clients, made, strict=True)]
    return [
        compare.Check("getsockopt", r["defer_accept"], want_secs, "exact: retrans_to_secs(secs_to_retrans(s))",
                      r["defer_accept"] == want_secs),
        compare.Check("completed_by", got_by, want_by, "per client: exact (None: no child)", got_by == want_by),
        _intervals_check("synack_intervals", [c["synack_times"] for c in r["clients"]],
                         [compare._server_times(textbook, "SYN-ACK", m.index) for m in textbook.clients], hz),
        *_counter_checks(rec, res),
    ]


def port_reuses(clients: Sequence[tuple[float, int | None]]) -> tuple[int, float | None]:
    """(how many connect()s took a port an earlier one had used, the shortest time from that earlier
    connect() to the reuse; None without a reuse), from (start, port) per connect()."""
    last: dict[int, float] = {}
    reused, shortest = 0, None
    for start, port in clients:
        if port is None:
            continue
        if port in last:
            reused += 1
            gap = start - last[port]
            shortest = gap if shortest is None else min(shortest, gap)
        last[port] = start
    return reused, shortest


def _time_wait(rec: Record) -> list[Any]:
    """Connections that close first, from ten ephemeral ports, against the model.

    Which port each connect() gets comes from __inet_hash_connect's walk, whose start is a keyed hash
    (a secret random per boot) plus a per-destination perturbation: the sequence of ports (and, with
    tcp_tw_reuse=1, which TIME_WAIT port is met first and taken) cannot be compared with the model's.
    So these checks compare what does not depend on it:

    * outcomes -- per connect(): a port, or EADDRNOTAVAIL, exact. Each closed client's port is held by
      its timewait socket for TCP_TIMEWAIT_LEN (60 s); tcp_twsk_unique lets connect() take it only with
      tcp_tw_reuse 1 (2 is loopback only since 4.18), and only once tcp_tw_reuse_delay has passed
      since its last timestamp (6.14+). With 0 or 2 the eleventh connect() finds every port held.
    * reuse_rule -- measured and in the model: no port taken again without tcp_tw_reuse; with it, at
      least count - ports connect()s took a used port (ten ports), each more than tcp_tw_reuse_delay
      after the connect() that used it before (whose TIME_WAIT began after it).
    * tw_recycled -- measured and in the model: TWRecycled (__inet_check_established) counts exactly
      the connect()s that took a port in TIME_WAIT.
    * time_wait -- the client's TIME-WAIT sockets at the end: one per port used (a reuse ends the old
      one); without reuse, exact against the model.
    * server_counters, client_counters -- exact, the counters the model keeps (but TWRecycled, above).
    """
    compare = _compare()
    r = rec["result"]
    res = simulate(compare.scenario_for(rec))
    k = res.kernel
    got_out = [c["errno"] or "connected" for c in r["clients"]]
    want_out = [m.errno or "connected" for m in res.clients]
    got = [(c["start"], c["port"]) for c in r["clients"]]
    want = [(m.start, m.port) for m in res.clients]
    ports = k.ip_local_port_range[1] - k.ip_local_port_range[0] + 1
    reuse = k.tcp_tw_reuse == 1  # 2: loopback only, and these are two namespaces

    def rule_ok(pairs: list[tuple[float, int | None]]) -> bool:
        n, shortest = port_reuses(pairs)
        if not reuse:
            return n == 0
        return n >= len(pairs) - ports and shortest is not None and shortest > k.tcp_tw_reuse_delay

    model_tw = sum(m.time_wait_at is not None and (m.time_wait_until is None or m.time_wait_until > res.end)
                   for m in res.clients)
    got_ports = len({p for _, p in got if p is not None})
    want_ports = len({p for _, p in want if p is not None})
    recycled = rec["counters"]["client"].get("TcpExtTWRecycled", 0)
    model_recycled = res.client_counters.get("TcpExtTWRecycled", 0)
    checks = [
        compare.Check("outcomes", got_out, want_out, "per connect(): exact", got_out == want_out),
        compare.Check("reuse_rule", port_reuses(got), port_reuses(want),
                      "(reuses, shortest gap s): none without reuse; with it >= count - ports, each > "
                      "tcp_tw_reuse_delay", rule_ok(got) and rule_ok(want)),
        compare.Check("tw_recycled", recycled, model_recycled, "each equals its own port reuses",
                      recycled == port_reuses(got)[0] and model_recycled == port_reuses(want)[0]),
        compare.Check("time_wait", r["time_wait"], model_tw, "one per port used (each side); exact without reuse",
                      r["time_wait"] == got_ports and model_tw == want_ports and (reuse or r["time_wait"] == model_tw)),
    ]
    for side, model in (("server", res.server_counters), ("client", res.client_counters)):
        names = sorted(n for n in model if n not in SCHEDULING_COUNTERS)
        m, s, ok = compare._counters(rec["counters"][side], model, names)
        late = rec["counters"][side].get("TcpExtDelayedACKs", 0)
        ok = ok and late <= len(r["clients"])
        checks.append(compare.Check(f"{side}_counters", m, s, "exact, the counters the model keeps (DelayedACKs: at "
                                    "most one per connection, see SCHEDULING_COUNTERS)", ok))
    return checks


SCHEDULING_COUNTERS = ("TcpExtTWRecycled", "TcpExtDelayedACKs")
"""Counters time_wait does not compare exactly: TWRecycled by its own check, and DelayedACKs, which
counts a child whose delayed ACK of the client's FIN (tcp_delack_timer_handler, 40 ms) fired before the
server's application read the end of the stream and closed, sending the ACK with its FIN: how soon the
application ran, which a busy machine decides (the model's application closes within a millisecond)."""


def syn_carries(client: Mapping[str, Any]) -> str:
    """What a measured client's first SYN carried, as ``ClientRecord.fastopen`` names it: "data_in_syn" (a
    payload and a TFO cookie option), "cookie_requested" (an empty TFO option, no payload), else "plain"."""
    if client["syn_data"] and client["syn_option"] == "cookie":
        return "data_in_syn"
    if not client["syn_data"] and client["syn_option"] == "request":
        return "cookie_requested"
    return "plain"


def tfo_children_waiting(res: Result) -> int:
    """The model's TFO children still waiting for their final ACK at the end (fastopenq.qlen): made at the
    SYN (an action syn_fastopen_*_child), not yet ACKed (ack_fastopen_child) nor given up."""
    made = {e.client for e in res.trace if e.action.startswith("syn_fastopen_") and e.action.endswith("_child")}
    done = {e.client for e in res.trace if e.action in ("ack_fastopen_child", "fastopen_synack_give_up",
                                                          "rst_for_fastopen_child")}
    return len(made - done)


def _fastopen(rec: Record) -> list[Any]:
    """TCP Fast Open against the model. The kernel decides each of these from the order of the segments
    alone (the RTT, microseconds on a veth, only has to be shorter than the gaps), so all are exact.

    * syn_carries -- per client, what its first SYN carried (from the capture: its payload and its TFO
      option): a cookie request while the client namespace's tcp_metrics has no cookie for the server,
      then the request with the cookie (tcp_send_syn_data, tcp_fastopen_cookie_check).
    * cookie_returned -- per client, whether the SYN-ACK carried a cookie (the capture): only the answer
      to a cookie request (tcp_try_fastopen -> tcp_fastopen_cookie_gen; a child's SYN-ACK leaves foc
      empty); model: the client's synack_in_cookie action.
    * syn_data_acked -- per client with data in its SYN, whether the SYN-ACK acknowledged it (its ack number
      is the ISN + 1 + the payload): tcp_fastopen_create_child (a child at the SYN) while fastopenq.qlen <
      max_qlen, else TCPFastOpenListenOverflow and a regular request whose SYN-ACK acks the SYN only
      (tcp_fastopen_queue_check); the TFO children's ACKs are dropped, so none leaves the queue
      (reqsk_fastopen_remove runs at the final ACK, not at accept()).
    * accepted -- per accept(): (which client, its child still in SYN_RECV, the request already there):
      a TFO child is put in the accept queue at the SYN (inet_csk_reqsk_queue_add) holding the SYN's
      data, and stays in SYN_RECV until the final ACK (tcp_rcv_synrecv_state_fastopen); a child made by a
      request is established at once (tcp_check_req). Measured: getpeername, tcpi_state and recv() on
      the accepted socket.
    * children -- accepted plus waiting in the accept queue at the end (ss Recv-Q): every client got one.
    * tfo_queue -- SYN-RECV sockets on the server at the end (ss): the TFO children still waiting for
      their ACK (fastopenq.qlen, no regular request is left), against the model's.
    * server_counters, client_counters -- exact, the counters the model keeps (TCPFastOpenCookieReqd,
      Passive, ListenOverflow on the server; Active, ActiveFail and the requests' retransmissions on
      the client).
    """
    compare = _compare()
    r = rec["result"]
    res = simulate(compare.scenario_for(rec))
    one_way = res.scenario.rtt / 2
    clients = r["clients"]
    got_carries = [syn_carries(c) for c in clients]
    want_carries = [m.fastopen or "plain" for m in res.clients]
    got_cookie = [c["synack_option"] == "cookie" for c in clients]
    cookies = {e.client for e in res.trace if e.action == "synack_in_cookie"}
    want_cookie = [m.index in cookies for m in res.clients]
    got_acked = [c["synack_acks_data"] if c["syn_data"] else None for c in clients]
    want_acked = [m.syn_data_acked for m in res.clients]
    ports = [c["port"] for c in clients]
    got_acc = [None if a is None else (ports.index(a["port"]), a["syn_recv"], a["request_bytes"] > 0)
               for a in r["accepts"]]
    acked_at = {e.client: e.time for e in res.trace if e.action == "ack_fastopen_child"}
    tfo = {e.client for e in res.trace if e.action.startswith("syn_fastopen_") and e.action.endswith("_child")}
    want_acc = [(m.index, m.index in tfo and acked_at.get(m.index, float("inf")) > m.accepted_at,
                 bool(m.data_times) and m.data_times[0] + one_way <= m.accepted_at + 1e-9)
                for m in sorted((m for m in res.clients if m.accepted_at is not None), key=lambda m: m.accepted_at)]
    ss = res.ss()
    got_children = sum(a is not None for a in r["accepts"]) + (r["accept_queue"] or 0)
    want_children = sum(m.accepted_at is not None for m in res.clients) + ss.recv_q
    got_q = rec["ss"]["states"].get("SYN-RECV", 0)
    want_q = ss.syn_recv + tfo_children_waiting(res)
    return [
        compare.Check("syn_carries", got_carries, want_carries, "per client: exact", got_carries == want_carries),
        compare.Check("cookie_returned", got_cookie, want_cookie, "per client: exact", got_cookie == want_cookie),
        compare.Check("syn_data_acked", got_acked, want_acked, "per client: exact (None: no data in the SYN)",
                      got_acked == want_acked),
        compare.Check("accepted", got_acc, want_acc, "per accept(): (client, in SYN_RECV, holding the request), "
                      "exact", got_acc == want_acc),
        compare.Check("children", got_children, want_children, "exact, at the end", got_children == want_children),
        compare.Check("tfo_queue", got_q, want_q, "exact, at the end", got_q == want_q),
        *_counter_checks(rec, res),
    ]


@dataclass(frozen=True)
class GroupRun:
    """A SO_REUSEPORT run, measured or modelled, in the terms both can state: per round (the times the
    application accept()ed everything) and listener the accept-queue length just before and the clients
    accept() returned; per client its SYN and SYN-ACK times; the server's counters."""

    cap: int  # accept_capacity: backlog + 1 (sk_acceptq_is_full)
    rounds: tuple[float, ...]
    queues: tuple[tuple[int, ...], ...]  # [round][listener]
    accepted: tuple[tuple[tuple[int, ...], ...], ...]  # [round][listener] -> client indexes
    syn_times: tuple[tuple[float, ...], ...]
    synack_times: tuple[tuple[float, ...], ...]
    counters: Mapping[str, int]

    def where(self) -> dict[int, tuple[int, int]]:
        """client -> (round, listener) of the accept() that returned it."""
        return {c: (j, i) for j, per in enumerate(self.accepted) for i, got in enumerate(per) for c in got}

    def unanswered(self, client: int) -> int:
        """SYNs the listener dropped: those the client sent before the one its first SYN-ACK answers (the last
        SYN before it), all of them without a SYN-ACK."""
        syns, synacks = self.syn_times[client], self.synack_times[client]
        return len(syns) if not synacks else sum(t < synacks[0] for t in syns) - 1

    def acks_dropped(self, client: int) -> int:
        """The client's ACKs of a SYN-ACK that met a full accept queue: every SYN-ACK it got but the one whose
        ACK made its child (the run ends before the listener's SYN-ACK timer, 1 s, could resend one twice)."""
        return len(self.synack_times[client]) - (client in self.where())


def measured_group(rec: Record) -> GroupRun:
    r = rec["result"]
    ports = [c["port"] for c in r["clients"]]
    k = _compare().kernel_for(rec)
    return GroupRun(accept_capacity(k, rec["params"]["backlog"]), tuple(x["at"] for x in r["rounds"]),
                    tuple(tuple(q["recv_q"] for q in x["queues"]) for x in r["rounds"]),
                    tuple(tuple(tuple(ports.index(p) for p in got) for got in x["accepted"]) for x in r["rounds"]),
                    tuple(tuple(c["syn_times"]) for c in r["clients"]), tuple(tuple(c["synack_times"]) for c in r["clients"]),
                    rec["counters"]["server"])


def modelled_group(res: Result, rounds: Sequence[float]) -> GroupRun:
    """The same view of a model run: queues just before each round, the accept events from one round to the next."""
    n = len(res.listeners)
    ends = [*rounds[1:], float("inf")]
    accepts = [e for e in res.trace if e.action == "accept"]
    queues, accepted = [], []
    for t, end in zip(rounds, ends, strict=True):
        row = []
        for i in range(n):
            q = res.queues_of(i)
            row.append(next((q.accept[j] for j in range(len(q.times) - 1, -1, -1) if q.times[j] < t), 0))
        queues.append(tuple(row))
        accepted.append(tuple(tuple(e.client for e in accepts if e.listener == i and t <= e.time < end)
                              for i in range(n)))
    synacks = [_compare()._server_times(res, "SYN-ACK", c.index) for c in res.clients]
    return GroupRun(res.listener.accept_capacity, tuple(rounds), tuple(queues), tuple(accepted),
                    tuple(tuple(c.syn_times) for c in res.clients), tuple(tuple(s) for s in synacks),
                    res.server_counters)


def group_invariants(g: GroupRun) -> dict[str, bool]:
    """What holds for any spread of the connections over the group, by the kernel's rules:

    * capacity -- no listener's accept queue ever holds more than backlog + 1 (sk_acceptq_is_full, per
      listener);
    * same_listener -- a client whose SYNs were dropped got in on a listener that was full at every round
      before, with its first SYN after the round that made room there: its resent SYNs went to the same
      listener (the hash of its 4-tuple), however much room the others had;
    * own_share -- what each listener held at the first round is min(its share, backlog + 1), its share the
      clients that got in on it by the end (at most that while some are still out): it took its first
      backlog + 1 and dropped the rest, whatever room the others had;
    * room_drops_nothing -- a listener with room at the first round dropped no SYN of its clients;
    * overflows -- ListenOverflows and ListenDrops each count every SYN a full listener dropped (tcp_conn_request:
      sk_acceptq_is_full -> ListenOverflows, then tcp_listendrop) and every ACK that met a full accept queue
      (clients resending their SYNs together can all get SYN-ACKs, their request socks not being in the
      accept queue, and the ACKs beyond its room fail: tcp_v4_syn_recv_sock's exit_overflow), and the first
      SYNs dropped are the sum over the listeners of their share beyond backlog + 1.
    """
    where = g.where()
    clients = range(len(g.syn_times))
    share = [sum(1 for c, (_, i) in where.items() if i == listener) for listener in range(len(g.queues[0]))]
    dropped = sum(g.unanswered(c) + g.acks_dropped(c) for c in clients)
    first_dropped = sum(g.unanswered(c) > 0 for c in clients)
    everyone_in = len(where) == len(g.syn_times)
    same = True
    for c, (j, i) in where.items():
        if g.unanswered(c):
            made_room = g.rounds[j - 1] if j else None
            same &= made_room is not None and all(g.queues[x][i] == g.cap for x in range(j))
            same &= made_room is not None and g.syn_times[c][g.unanswered(c)] > made_room
            same &= all(t < made_room for t in g.syn_times[c][:g.unanswered(c)]) if made_room is not None else False
    room = [i for i, q in enumerate(g.queues[0]) if q < g.cap]
    excess = sum(max(0, s - g.cap) for s in share)
    return {
        "capacity": all(q <= g.cap for row in g.queues for q in row),
        "own_share": all((q == min(sh, g.cap)) if everyone_in else q <= min(sh, g.cap)
                         for q, sh in zip(g.queues[0], share, strict=True))
        and all(len(got) == q for got, q in zip(g.accepted[0], g.queues[0], strict=True)),
        "same_listener": same,
        "room_drops_nothing": not any(g.unanswered(c) for c, (_, i) in where.items() if i in room),
        "overflows": (g.counters.get("TcpExtListenOverflows", 0) == g.counters.get("TcpExtListenDrops", 0) == dropped
                      and (first_dropped == excess if everyone_in else first_dropped >= excess)),
    }


REUSEPORT_SEEDS = tuple(range(1, 21))
"""The model's boot secrets (``Scenario.seed``) the reuseport record is held to: 20 spreads of the same burst."""


def reuseport_runs(rec: Record) -> list[GroupRun]:
    """The model's run of the record's scenario for each of ``REUSEPORT_SEEDS``."""
    sc = _compare().scenario_for(rec)
    rounds = [x["at"] for x in rec["result"]["rounds"]]
    return [modelled_group(simulate(sc.replace(seed=seed)), rounds) for seed in REUSEPORT_SEEDS]


def _reuseport(rec: Record) -> list[Any]:
    """A SO_REUSEPORT group against the model. Which listener takes a connection is a hash of its 4-tuple
    with a secret the kernel draws at boot (inet_ehashfn's inet_ehash_secret and net_hash_mix, scaled by
    reuseport_select_sock): the measured spread cannot be the model's, so the checks compare what holds for
    any spread (``group_invariants``), measured and in each of the model's 20 spreads (seeds), and the
    counts that follow from the measured spread by the kernel's rules:

    * capacity, own_share, same_listener, room_drops_nothing, overflows -- ``group_invariants``:
      measured, and in every model seed.
    * send_q -- every listener's Send-Q (ss): its backlog, as the model's ss(listener=i).
    * server_counters -- TcpPassiveOpens (one per child), ListenOverflows and ListenDrops (one each per
      dropped SYN, the model's counters for its syn_drop_accept_queue_full), from the measured spread.
    """
    compare = _compare()
    r, p = rec["result"], rec["params"]
    g = measured_group(rec)
    runs = reuseport_runs(rec)
    got = group_invariants(g)
    model = [group_invariants(m) for m in runs]
    checks = [compare.Check(name, ok, sum(m[name] for m in model),
                            f"measured holds; model: the seeds of {len(runs)} where it holds, all",
                            ok and all(m[name] for m in model)) for name, ok in got.items()]
    res = simulate(compare.scenario_for(rec))
    send_q = [q["send_q"] for q in r["rounds"][0]["queues"]]
    want_send = [res.ss(listener=i).send_q for i in range(p["listeners"])]
    checks.append(compare.Check("send_q", send_q, want_send, "per listener: exact", send_q == want_send))
    # the counts that follow from the measured spread: a child per client that got in, accepted or still queued
    # (tcp_create_openreq_child: TcpPassiveOpens), ListenOverflows and ListenDrops once per dropped SYN or ACK,
    # as the model counts its syn_drop_accept_queue_full (its seeds hold to it: ``overflows``)
    dropped = sum(g.unanswered(c) + g.acks_dropped(c) for c in range(len(g.syn_times)))
    children = len(g.where()) + sum(q["recv_q"] for q in r["end_queues"] if q)
    want = {"TcpPassiveOpens": children, "TcpExtListenOverflows": dropped, "TcpExtListenDrops": dropped}
    m, s, ok = compare._counters(rec["counters"]["server"], want)
    checks.append(compare.Check("server_counters", m, s, "exact, from the measured spread: one child per client in, "
                                "one ListenOverflows and one ListenDrops per dropped SYN or ACK", ok))
    return checks


CHECKERS: dict[str, Callable[[Record], list[Any]]] = {
    "client_data": _client_data,
    "defer_accept": _defer_accept,
    "time_wait": _time_wait,
    "fastopen": _fastopen,
    "reuseport": _reuseport,
}

CHECK_NAMES: dict[str, tuple[str, ...]] = {
    "client_data": ("completed_by", "accepted", "data_intervals", "synack_intervals", "syn_recv",
                    "server_counters", "client_counters"),
    "defer_accept": ("getsockopt", "completed_by", "synack_intervals", "server_counters", "client_counters"),
    "time_wait": ("outcomes", "reuse_rule", "tw_recycled", "time_wait", "server_counters", "client_counters"),
    "fastopen": ("syn_carries", "cookie_returned", "syn_data_acked", "accepted", "children", "tfo_queue",
                 "server_counters", "client_counters"),
    "reuseport": ("capacity", "own_share", "same_listener", "room_drops_nothing", "overflows", "send_q",
                  "server_counters"),
}
"""The checks each kind of record here gets, known before any model runs (for test parametrisation)."""
