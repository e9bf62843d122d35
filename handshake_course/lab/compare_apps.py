"""Hold the model to what applications do on a live kernel: the records of the lab experiments that
exercise ``Scenario(data=...)`` (and, as they are added, TCP_DEFER_ACCEPT, TIME_WAIT, Fast Open and
SO_REUSEPORT). Each kind of record has a scenario builder (``SCENARIOS``, which
``compare.scenario_for`` uses) and its checks (``CHECKERS``, with their names in ``CHECK_NAMES``),
which ``compare`` merges into its own tables; see ``compare`` for the tolerances.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..model import SETTINGS, Kernel, Result, Scenario, simulate
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


SCENARIOS: dict[str, Callable[[Record, Kernel, float], Scenario]] = {
    "client_data": _client_data_scenario,
    "defer_accept": _defer_accept_scenario,
    "time_wait": _time_wait_scenario,
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
                         "per client: same count, each interval -1 jiffy .. +granularity + 1 jiffy + 3 ms", ok)


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
    checks = [
        compare.Check("completed_by", got_by, want_by, "per client: exact (None: no child)", got_by == want_by),
        compare.Check("accepted", got_acc, want_acc, "exact: the client accept() returned", got_acc == want_acc),
        _intervals_check("data_intervals", [c["data_times"] for c in clients],
                         [m.data_times for m in textbook.clients], hz),
        _intervals_check("synack_intervals", [c["synack_times"] for c in clients],
                         [compare._server_times(textbook, "SYN-ACK", m.index) for m in textbook.clients], hz),
        compare.Check("syn_recv", syn_recv, ss.syn_recv, "exact, at the end", syn_recv == ss.syn_recv),
    ]
    for side, model in (("server", res.server_counters), ("client", res.client_counters)):
        m, s, ok = compare._counters(rec["counters"][side], model)
        checks.append(compare.Check(f"{side}_counters", m, s, "exact, the counters the model keeps", ok))
    return checks


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


CHECKERS: dict[str, Callable[[Record], list[Any]]] = {
    "client_data": _client_data,
    "defer_accept": _defer_accept,
    "time_wait": _time_wait,
}

CHECK_NAMES: dict[str, tuple[str, ...]] = {
    "client_data": ("completed_by", "accepted", "data_intervals", "synack_intervals", "syn_recv",
                    "server_counters", "client_counters"),
    "defer_accept": ("getsockopt", "completed_by", "synack_intervals", "server_counters", "client_counters"),
    "time_wait": ("outcomes", "reuse_rule", "tw_recycled", "time_wait", "server_counters", "client_counters"),
}
"""The checks each kind of record here gets, known before any model runs (for test parametrisation)."""
