"""What applications do, measured on the live kernel (``lab.experiments``, section (h)) and held to the
model (``lab.compare_apps``): the stored records (no root needed), then a live run of each experiment
(root and network namespaces; the slow tier).

Every expected number is derived from the record itself by the kernel rule the test names, or from the
model run on the record's scenario (``compare.scenario_for``); the named checks of each record are run for
every stored record by tests/test_lab_fixtures.py and for a fresh run by tests/test_lab_live.py.

Sources (Linux 6.18): tcp_check_req (net/ipv4/tcp_minisocks.c: any ACK-carrying segment of a request
sock, a request included, makes the child), inet_csk_complete_hashdance / sk_acceptq_is_full (a child
only while the accept queue has room, else ListenOverflows and the segment dropped), tcp_schedule_loss_probe
and __tcp_set_rto (the request's retransmissions, ``model.data_schedule``), reqsk_timer_handler (the
SYN-ACK resent at 1 s, the request sock gone after tcp_synack_retries timeouts).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from handshake_course import simulate
from handshake_course.lab import compare, compare_apps, experiments, host, netns, store
from handshake_course.model import accept_capacity, rules, syn_schedule, synack_schedule
from handshake_course.model.rules import defer_accept_rounds

LIVE_TIMEOUT = 60.0
"""Seconds a live experiment may take before the test fails (they take under 4 s)."""


def _completed_by(rec):
    """Per client: which of its requests (speaking clients) or of the SYN-ACKs it received (silent ones)
    made the listener's child, measured and in the model."""
    data = rec["params"]["data"]
    res = simulate(compare.scenario_for(rec))
    made = compare_apps.model_child_times(res)
    got = [compare_apps.completed_by(c["data_times"] if data else c["synack_times"], c["child_seen"])
           for c in rec["result"]["clients"]]
    want = [compare_apps.completed_by(m.data_times if data else compare._server_times(res, "SYN-ACK", m.index), t)
            for m, t in zip(res.clients, made, strict=True)]
    return got, want


# ---- client data: a request completes a handshake whose bare ACK was dropped ---------------------------

def _request_completes_the_handshake_once_the_queue_has_room(rec):
    r, server = rec["result"], rec["counters"]["server"]
    first, second, third = r["clients"]
    # the third client's requests sent before the accept() met the queue its two elders filled (each a
    # ListenOverflows); the first one sent after it made the child
    before = sum(t < r["accepted_at"] for t in third["data_times"])
    assert before >= 1 and len(third["data_times"]) > before
    got, want = _completed_by(rec)
    assert got == want == [0, 0, before]
    assert server["TcpExtListenOverflows"] == before and server["TcpPassiveOpens"] == 3
    assert r["children"] == 3 and r["accepted_port"] == first["port"]  # accept() takes the oldest child
    # nothing ever ACKs a request (the listener's ACKs are dropped too): every client resends it on its
    # own timer, and each copy a child already holds is a DelayedACKLost (tcp_data_queue)
    resent = sum(len(c["data_times"]) - 1 for c in r["clients"])
    assert server["TcpExtDelayedACKLost"] == resent - before
    assert rec["counters"]["client"]["TcpRetransSegs"] == resent


def _silent_clients_never_reach_accept(rec):
    r = rec["result"]
    got, want = _completed_by(rec)
    assert got == want == [None] * len(r["clients"])
    assert r["children"] == 0 and r["accepted_port"] is None
    # each request sock resends its SYN-ACK once (tcp_synack_retries=1) after tcp_timeout_init; the
    # client's answer is a bare ACK again, dropped; then the request sock expires (none left at the end)
    k = compare.kernel_for(rec)
    resend = synack_schedule(k).send_times[1]
    with_request = [c for c in r["clients"] if len(c["synack_times"]) > 1]
    assert len(with_request) == rec["counters"]["server"]["TcpExtTCPSynRetrans"]
    for c in with_request:
        lo, hi = compare.timing.interval_bounds(resend)
        assert lo <= c["synack_times"][1] - c["synack_times"][0] <= hi
    assert r["syn_recv"][-1][1] == 0


def test_a_request_completes_the_handshake_its_dropped_ack_did_not_once_the_queue_has_room():
    _request_completes_the_handshake_once_the_queue_has_room(store.stored("client_data-d1"))


def test_silent_clients_whose_bare_acks_are_dropped_never_reach_accept():
    _silent_clients_never_reach_accept(store.stored("client_data-d0"))


# ---- TCP_DEFER_ACCEPT: a bare ACK waits for data, or for the deferred SYN-ACK round ----------------------

def _deferred_rounds(rec):
    k = compare.kernel_for(rec)
    rounds = defer_accept_rounds(k, rec["params"]["defer_accept"])
    # the listener reports the rounds back as the seconds of their timeouts (retrans_to_secs)
    assert rec["result"]["defer_accept"] == compare_apps.retrans_to_secs(k, rounds)
    return k, rounds


def _speaking_client_enters_at_its_request(rec):
    _deferred_rounds(rec)
    (c,) = rec["result"]["clients"]
    got, want = _completed_by(rec)
    assert got == want == [0]  # the request right behind the dropped ACK makes the child
    assert c["synack_times"] == c["synack_times"][:1]  # and the SYN-ACK is never resent
    server = rec["counters"]["server"]
    assert server["TcpExtTCPDeferAcceptDrop"] == len(c["ack_times"]) == 1
    assert "TcpExtTCPTimeouts" not in server


def _silent_client_enters_at_the_deferred_synack_round(rec):
    k, rounds = _deferred_rounds(rec)
    (c,) = rec["result"]["clients"]
    # the request sock's timer fires `rounds` times (1 s, then 2 s...: TCPTimeouts each), holding its
    # SYN-ACK back until the last; the client's answer to that one makes the child
    resend = synack_schedule(k).send_times[rounds]
    assert len(c["synack_times"]) == 2
    lo, hi = compare.timing.interval_bounds(resend)
    assert lo <= c["synack_times"][1] - c["synack_times"][0] <= hi
    got, want = _completed_by(rec)
    assert got == want == [1]
    server = rec["counters"]["server"]
    assert server["TcpExtTCPTimeouts"] == rounds and server["TcpExtTCPSynRetrans"] == 1
    assert server["TcpExtTCPDeferAcceptDrop"] == 1  # only the first ACK: at the last round it passes


def test_tcp_defer_accept_lets_a_speaking_client_in_at_its_request():
    _speaking_client_enters_at_its_request(store.stored("defer_accept-s2-d1"))


def test_tcp_defer_accept_lets_a_silent_client_in_at_the_synack_round_its_seconds_become():
    _silent_client_enters_at_the_deferred_synack_round(store.stored("defer_accept-s2-d0"))


# ---- TIME_WAIT: ten ports, connections that close first ---------------------------------------------------

def _ports_run_out_without_reuse(rec):
    k = compare.kernel_for(rec)
    ports = k.ip_local_port_range[1] - k.ip_local_port_range[0] + 1
    clients = rec["result"]["clients"]
    # every closed port waits in TIME_WAIT for 60 s: the connect() after the ports-th fails, and every one after it
    assert [c["errno"] for c in clients] == [None] * ports + ["EADDRNOTAVAIL"] * (len(clients) - ports)
    assert rec["result"]["time_wait"] == rec["counters"]["client"]["TcpExtTW"] == ports
    assert "TcpExtTWRecycled" not in rec["counters"]["client"]


def _ports_reused_after_the_delay(rec):
    k = compare.kernel_for(rec)
    clients = rec["result"]["clients"]
    assert all(c["errno"] is None for c in clients)
    reused, shortest = compare_apps.port_reuses([(c["start"], c["port"]) for c in clients])
    assert rec["counters"]["client"]["TcpExtTWRecycled"] == reused >= len(clients) - (
        k.ip_local_port_range[1] - k.ip_local_port_range[0] + 1)
    assert shortest > k.tcp_tw_reuse_delay  # tcp_twsk_unique (6.14+): tw_entry_stamp + tcp_tw_reuse_delay


def test_time_wait_sockets_exhaust_ten_ports_with_tcp_tw_reuse_0():
    _ports_run_out_without_reuse(store.stored("time_wait-r0"))


def test_tcp_tw_reuse_2_is_loopback_only_so_between_namespaces_ports_run_out_as_with_0():
    rec = store.stored("time_wait-r2")
    assert compare.kernel_for(rec).tcp_tw_reuse == 2
    _ports_run_out_without_reuse(rec)


def test_tcp_tw_reuse_1_takes_time_wait_ports_older_than_tcp_tw_reuse_delay():
    _ports_reused_after_the_delay(store.stored("time_wait-r1"))


# ---- TCP Fast Open: a cookie, the request in the SYN, a TFO queue held until the final ACK --------------

def _fastopen_queue_holds_children_until_their_final_ack(rec):
    k = compare.kernel_for(rec)
    p, r = rec["params"], rec["result"]
    server, client = rec["counters"]["server"], rec["counters"]["client"]
    assert k.tcp_fastopen & rules.TFO_CLIENT_ENABLE and k.tcp_fastopen & rules.TFO_SERVER_ENABLE
    limit = rules.fastopen_queue_limit(k, p["fastopen"], p["backlog"])  # fastopen_queue_tune: min(N, somaxconn)
    first, second, *burst = r["clients"]
    # no cookie in the client namespace's tcp_metrics yet: tcp_send_syn_data asks for one, the SYN-ACK brings
    # it (tcp_fastopen_cookie_gen) and every later SYN carries it with the request
    assert compare_apps.syn_carries(first) == "cookie_requested" and first["synack_option"] == "cookie"
    assert [compare_apps.syn_carries(c) for c in (second, *burst)] == ["data_in_syn"] * (1 + len(burst))
    assert [c["synack_option"] for c in (second, *burst)] == [None] * (1 + len(burst))
    # the cookie request's child is made by its request (established); client 1's at the SYN
    # (tcp_fastopen_create_child): accept() returns it while it waits in SYN_RECV for the ACK, the request
    # already in its receive queue
    took_first, took_second = r["accepts"]
    assert (took_first["port"], took_first["syn_recv"]) == (first["port"], False)
    assert (took_second["port"], took_second["syn_recv"]) == (second["port"], True)
    assert took_second["request_bytes"] == len(experiments.REQUEST)
    # the TFO queue counts children until their final ACK (reqsk_fastopen_remove), not until accept():
    # client 1's ACK was dropped, so it still holds a place when the burst comes
    room = limit - 1
    overflow = len(burst) - room
    assert [c["synack_acks_data"] for c in burst] == [True] * room + [False] * overflow
    assert rec["ss"]["states"]["SYN-RECV"] == limit  # the TFO children still waiting for their ACK
    assert server["TcpExtTCPFastOpenCookieReqd"] == 1
    assert server["TcpExtTCPFastOpenPassive"] == client["TcpExtTCPFastOpenActive"] == limit
    assert server["TcpExtTCPFastOpenListenOverflow"] == client["TcpExtTCPFastOpenActiveFail"] == overflow
    assert server["TcpPassiveOpens"] == len(r["clients"])  # the overflowed requests made their children
    # an overflowed client sends its request again at once (tcp_rcv_fastopen_synack), no timer: within a
    # jiffy of the SYN-ACK; 6.18 through tcp_non_congestion_loss_retransmit (TCPSlowStartRetrans)
    assert k.fastopen_fail_retransmit == "tcp_non_congestion_loss_retransmit"
    assert client["TcpExtTCPSlowStartRetrans"] == overflow
    for c in burst[room:]:
        assert 0 <= c["data_times"][0] - c["synack_times"][0] <= 1 / rec["hz"]


def test_tcp_fast_open_children_hold_the_tfo_queue_until_their_final_ack_and_a_burst_overflows_it():
    _fastopen_queue_holds_children_until_their_final_ack(store.stored("fastopen-q2"))


# ---- SO_REUSEPORT: each listener its own accept queue, each connection its own listener ---------------------

def _reuseport_listeners_keep_their_own_connections(rec):
    k = compare.kernel_for(rec)
    p, r = rec["params"], rec["result"]
    server = rec["counters"]["server"]
    cap = accept_capacity(k, p["backlog"])  # sk_acceptq_is_full, per listener: backlog + 1
    assert p["clients"] > p["listeners"] * cap  # more than the group holds: some SYNs must be dropped
    assert [q["send_q"] for q in r["rounds"][0]["queues"]] == [p["backlog"]] * p["listeners"]
    g = compare_apps.measured_group(rec)
    # which listener took which connection is the hash with the boot secret: only what holds for any spread
    held = compare_apps.group_invariants(g)
    assert all(held.values()), held
    where = g.where()
    share = [sum(1 for _, i in where.values() if i == listener) for listener in range(p["listeners"])]
    first = [len(got) for got in r["rounds"][0]["accepted"]]
    assert first == [q["recv_q"] for q in r["rounds"][0]["queues"]]
    if len(where) == p["clients"]:  # everyone got in: each listener took min(share, backlog + 1) at first
        assert first == [min(s, cap) for s in share]
    # a dropped client resends its SYN on the client's timer (1 s, 2 s: syn_schedule), the resends that
    # came before the first accept() were dropped again, by the same full listener
    resend = syn_schedule(k).send_times[1]  # the first SYN timeout (TCP_TIMEOUT_INIT)
    before = [c for c in r["clients"] if len(c["syn_times"]) > 1]
    assert len(before) == sum(g.unanswered(c) > 0 for c in range(len(r["clients"])))
    for c in before:
        lo, hi = compare.timing.interval_bounds(resend)
        assert lo <= c["syn_times"][1] - c["syn_times"][0] <= hi
    # ListenOverflows and ListenDrops: one each per SYN (or ACK) a full listener dropped
    dropped = sum(g.unanswered(c) + g.acks_dropped(c) for c in range(len(r["clients"])))
    assert server["TcpExtListenOverflows"] == server["TcpExtListenDrops"] == dropped > 0
    assert server["TcpPassiveOpens"] == len(where) + sum(q["recv_q"] for q in r["end_queues"])


def test_so_reuseport_listeners_each_hold_backlog_plus_one_and_a_connection_stays_with_its_listener():
    _reuseport_listeners_keep_their_own_connections(store.stored("reuseport-l4-b2"))


def test_the_models_spreads_of_the_same_burst_keep_the_same_invariants():
    rec = store.stored("reuseport-l4-b2")
    runs = compare_apps.reuseport_runs(rec)
    assert len(runs) == len(compare_apps.REUSEPORT_SEEDS)
    assert all(all(compare_apps.group_invariants(m).values()) for m in runs)
    # and the spreads differ: the seed is the model's boot secret
    assert len({m.queues[0] for m in runs}) > 1


# ---- live --------------------------------------------------------------------------------------------

LIVE = {
    "client_data-d1": (lambda: experiments.client_data(True), _request_completes_the_handshake_once_the_queue_has_room),
    "client_data-d0": (lambda: experiments.client_data(False), _silent_clients_never_reach_accept),
    "defer_accept-s2-d1": (lambda: experiments.defer_accept(2, True), _speaking_client_enters_at_its_request),
    "defer_accept-s2-d0": (lambda: experiments.defer_accept(2, False), _silent_client_enters_at_the_deferred_synack_round),
    "time_wait-r0": (lambda: experiments.time_wait(0), _ports_run_out_without_reuse),
    "time_wait-r1": (lambda: experiments.time_wait(1), _ports_reused_after_the_delay),
    "time_wait-r2": (lambda: experiments.time_wait(2), _ports_run_out_without_reuse),
    "fastopen-q2": (lambda: experiments.fastopen(2), _fastopen_queue_holds_children_until_their_final_ack),
    "reuseport-l4-b2": (lambda: experiments.reuseport(4, 2), _reuseport_listeners_keep_their_own_connections),
}


@pytest.mark.live
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LIVE))
def test_the_running_kernel_does_what_the_stored_record_shows(name):
    reason = host.privileged_reason()
    if reason is not None:
        pytest.skip(f"needs root and network namespaces: {reason}")
    if compare.model_version(host.kernel_release()) is None:
        pytest.skip(f"kernel {host.kernel_release()}: the model's 6.18 profile describes 6.13 and later only")
    netns.cleanup_stale()
    run, rule = LIVE[name]
    with ThreadPoolExecutor(max_workers=1) as pool:  # a hung run fails the test instead of the suite
        rec = dict(pool.submit(run).result(timeout=LIVE_TIMEOUT))
    failed = [str(c) for c in compare.checks(rec).values() if not c.ok]
    assert not failed, failed
    rule(rec)
