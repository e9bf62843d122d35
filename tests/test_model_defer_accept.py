"""TCP_DEFER_ACCEPT (``Scenario(defer_accept=SECONDS)``): a bare final ACK is dropped and the connection
waits for the client's data, or for the SYN-ACK round the seconds become.

Expected numbers come from the kernel source (every modelled version; lines in the records'
``defer_accept_drop_counter`` fact):
* do_tcp_setsockopt(TCP_DEFER_ACCEPT) -> secs_to_retrans(val, TCP_TIMEOUT_INIT / HZ, TCP_RTO_MAX / HZ)
  (net/ipv4/tcp.c): res = 1, period = timeout; while (seconds > period && res < 255) { res++; timeout <<= 1,
  at most rto_max; period += timeout }; 0 for seconds <= 0. TCP_TIMEOUT_INIT is 1 s (3.1+), 3 s on 2.6.32;
* tcp_check_req (net/ipv4/tcp_minisocks.c): "While TCP_DEFER_ACCEPT is active, drop bare ACK": if
  req->num_timeout (2.6.32: req->retrans) < rskq_defer_accept and end_seq == rcv_isn + 1, acked = 1,
  TCPDeferAcceptDrop (not counted on 2.6.32), return NULL;
* syn_ack_recalc (net/ipv4/inet_connection_sock.c), with defer: expire = num_timeout >= thresh && (!acked ||
  num_timeout >= rskq_defer_accept); resend = !acked || num_timeout >= rskq_defer_accept - 1; the timer
  calls tcp_syn_ack_timeout (TCPTimeouts, 3.x+) either way;
* cookie_v4_check (net/ipv4/syncookies.c) has no TCP_DEFER_ACCEPT test.
"""

from __future__ import annotations

import pytest
from model_helpers import TEXTBOOK, events, snapshot, versions_where

from handshake_course import Kernel, Scenario, simulate
from handshake_course.model import VERSIONS
from handshake_course.model.rules import defer_accept_drops, defer_accept_rounds, syn_ack_recalc

PER_REQUEST = versions_where(synack_timer="per_request")  # SYN-ACK timers on time: exact times below


def server_actions(r, client=0):
    return [e.action for e in r.trace.of_client(client) if e.host == "server"]


def synack_sends(r, client=0):
    return [p.time for p in r.packets if p.kind == "SYN-ACK" and p.client == client]


# ---- the conversion and the rules ----------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "rounds"), [
    # TCP_TIMEOUT_INIT 1 s: the sums 1, 3, 7, 15, 31, 63, 127, then + 120 (TCP_RTO_MAX): 247, 367
    (0, 0), (-5, 0), (1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4), (15, 4), (16, 5), (30, 5), (60, 6),
    (127, 7), (128, 8), (247, 8), (248, 9), (30_000, 255),  # (30000 - 127) / 120 > 248 more: the u8 cap
])
def test_defer_accept_seconds_become_synack_rounds_from_a_1_s_timeout(seconds, rounds):
    for version in versions_where(tcp_timeout_init=1.0):
        assert defer_accept_rounds(version, seconds) == rounds


@pytest.mark.parametrize(("seconds", "rounds"), [
    # 2.6.32's TCP_TIMEOUT_INIT 3 s: the sums 3, 9, 21, 45, 93, 189, then + 120: 309
    (1, 1), (3, 1), (4, 2), (9, 2), (10, 3), (21, 3), (22, 4), (45, 4), (93, 5), (94, 6), (189, 6), (190, 7),
])
def test_2_6_32_counts_them_from_3_s(seconds, rounds):
    assert defer_accept_rounds("2.6.32", seconds) == rounds


def test_the_rounds_come_from_the_compiled_timeout_not_a_bpf_one():
    # setsockopt uses the constant TCP_TIMEOUT_INIT; the tcp_timeout_init switch (BPF sock_ops) does not move it
    assert defer_accept_rounds(Kernel("6.18", tcp_timeout_init=3.0), 4) == defer_accept_rounds("6.18", 4) == 3


@pytest.mark.parametrize(("num_timeout", "thresh", "defer", "acked", "expire", "resend"), [
    (4, 5, 0, False, False, True), (5, 5, 0, True, True, True),      # no defer: expire at thresh, else resend
    (0, 5, 3, True, False, False), (1, 5, 3, True, False, False),    # acked: wait ...
    (2, 5, 3, True, False, True),                                    # ... resend from defer - 1
    (5, 5, 3, False, True, True), (5, 5, 3, True, True, True),       # thresh reached, defer too: expire
    (5, 5, 6, True, False, True), (6, 5, 6, True, True, True),       # acked outlives thresh up to defer
    (0, 5, 3, False, False, True),                                   # not acked: resend as usual
])
def test_syn_ack_recalc(num_timeout, thresh, defer, acked, expire, resend):
    assert syn_ack_recalc(num_timeout, thresh, defer, acked) == (expire, resend)


def test_only_a_bare_ack_within_the_deferred_rounds_is_dropped():
    assert defer_accept_drops(0, 3, bare=True) and defer_accept_drops(2, 3, bare=True)
    assert not defer_accept_drops(3, 3, bare=True) and not defer_accept_drops(0, 3, bare=False)
    assert not defer_accept_drops(0, 0, bare=True)


# ---- the handshake -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_the_bare_ack_is_dropped_and_the_request_completes_with_the_clients_data(version):
    # the ACK (at 0.15 s) is dropped, the request marked acked; the DATA right behind it (end_seq past
    # rcv_isn + 1) makes the child, which takes the data and ACKs it
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, defer_accept=5, data=True, duration=20))
    assert server_actions(r) == ["syn_new", "ack_defer_drop", "data_new_child", "data_in_new_child"]
    assert [e.time for e in events(r, "ack_defer_drop")] == [0.15]
    c = r.clients[0]
    assert (c.outcome, c.connected_at, c.data_acked_at) == ("queued", 0.1, 0.2)
    drops = r.server_counters.get("TcpExtTCPDeferAcceptDrop")
    assert drops == (1 if k.defer_accept_drop_counter else None)  # 2.6.32 counts nothing there
    assert synack_sends(r) == [0.05]  # no SYN-ACK resent


@pytest.mark.parametrize("version", PER_REQUEST)
@pytest.mark.parametrize(("seconds", "rounds"), [(1, 1), (5, 3), (8, 4)])
def test_a_silent_client_is_let_in_at_the_last_deferred_synack_round(version, seconds, rounds):
    # acked, the request waits (no resend) while num_timeout < rounds - 1, resends at the round-th timeout,
    # at 1 + 2 + ... s; the client answers the SYN-ACK with an ACK that now passes (num_timeout == rounds)
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, defer_accept=seconds, duration=60))
    resend = 0.05 + sum(1 << i for i in range(rounds))  # the SYN-ACK left at 0.05 s; timeouts 1, 2, 4, 8 s
    assert server_actions(r) == ["syn_new", "ack_defer_drop", *["synack_defer_wait"] * (rounds - 1), "synack_rto",
                                 "ack_new_child"]
    assert synack_sends(r) == [0.05, resend]
    assert [e.time for e in events(r, "ack_new_child")] == [pytest.approx(resend + 0.1)]
    assert r.server_counters["TcpExtTCPDeferAcceptDrop"] == 1
    assert r.server_counters["TcpExtTCPTimeouts"] == rounds  # tcp_syn_ack_timeout at every timeout


@pytest.mark.parametrize("version", versions_where(synack_timer="listener_scan"))
def test_the_listener_scan_lets_a_silent_client_in_on_the_same_round(version):
    # 2.6.32/3.10: the same syn_ack_recalc in inet_csk_reqsk_queue_prune, on its 200 ms scan ticks;
    # 5 s is 3 rounds from 1 s (3.10), 2 from 3 s (2.6.32)
    k = Kernel(version, **TEXTBOOK)
    rounds = defer_accept_rounds(k, 5)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, defer_accept=5, duration=60))
    assert server_actions(r) == ["syn_new", "ack_defer_drop", *["synack_defer_wait"] * (rounds - 1), "synack_rto",
                                 "ack_new_child"]
    assert synack_sends(r)[1] >= 0.05 + sum(int(k.tcp_timeout_init) << i for i in range(rounds))


@pytest.mark.parametrize("version", PER_REQUEST)
def test_an_acked_request_outlives_tcp_synack_retries_until_the_deferred_rounds(version):
    # tcp_synack_retries=2, 60 s = 6 rounds: acked, the request is kept past its 2 retries and its SYN-ACK
    # resent at the 6th timeout (1 + 2 + 4 + 8 + 16 + 32 = 63 s); without the ACK (dropped on the wire) it is
    # not acked and expires after 2 retries as ever (1 + 2 + 4 = 7 s)
    k = Kernel(version, tcp_synack_retries=2, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, defer_accept=60, duration=100))
    assert synack_sends(r) == [0.05, 63.05] and r.clients[0].outcome == "queued"
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, defer_accept=60, drop=("ACK",), duration=100))
    assert synack_sends(r) == [0.05, 1.05, 3.05]
    assert [e.time for e in events(r, "synack_give_up")] == [7.05]


@pytest.mark.parametrize("version", versions_where(syncookies_always=True))
def test_a_cookie_ack_is_not_deferred(version):
    # tcp_syncookies=2: every SYN gets a cookie, and cookie_v4_check makes the child from the bare ACK
    r = simulate(Scenario(kernel=Kernel(version, tcp_syncookies=2), backlog=8, clients=1, rtt=0.1, defer_accept=5,
                          duration=10))
    assert server_actions(r) == ["syn_cookie", "ack_cookie"]
    assert r.server_counters["TcpExtTCPDeferAcceptDrop"] == 0


def test_the_counter_is_shown_only_with_defer_accept():
    base = Scenario(kernel="6.18", backlog=8, clients=2, duration=2)
    assert "TcpExtTCPDeferAcceptDrop" not in simulate(base).server_counters
    assert simulate(base.replace(defer_accept=1)).server_counters["TcpExtTCPDeferAcceptDrop"] == 2
    assert "TcpExtTCPDeferAcceptDrop" not in simulate(base.replace(kernel="2.6.32", defer_accept=1)).server_counters


def test_the_same_seed_gives_the_same_deferred_run():
    sc = Scenario(kernel="4.19", backlog=4, clients=20, loss=0.2, defer_accept=3, data=True, accept=5.0,
                  listeners=2, duration=30, seed=4)
    assert snapshot(simulate(sc)) == snapshot(simulate(sc.replace()))


@pytest.mark.parametrize(("value", "message"), [
    (1.5, "defer_accept must be whole seconds from 0 to 2147483647"), (-1, "from 0 to"), (True, "whole seconds"),
    ("5", "whole seconds"), (2**31, "2147483647"),
])
def test_a_bad_defer_accept_is_refused_with_its_range(value, message):
    with pytest.raises(ValueError, match=message):
        Scenario(defer_accept=value)
    with pytest.raises(ValueError, match="defer_accept must be 0 when nothing listens"):
        Scenario(backlog=None, defer_accept=5)
