"""tcp_syncookies 0/1/2, the cookie counters, and how long a cookie ACK is honoured.

Sources: linux-handshake-facts.md 1.5 and 1.6, and live measurements on Linux 6.18.44 (a fresh
network namespace, ``nstat -az`` deltas, ``ss -lnt``).
"""

import pytest
from model_helpers import TEXTBOOK, events, snapshot, versions_where

from handshake_course import Kernel, Scenario, simulate

# ---- tcp_syncookies=0 / 1 / 2 --------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "backlog", "requests"), [("3.10", 0, 16), ("5.15", 4, 4), ("6.18", 4, 5)])
def test_syncookies_0_drops_syns_when_the_syn_queue_is_full(version, backlog, requests):
    # linux-handshake-facts.md 1.5: 0 -> drop, TCPReqQFullDrop (tcp_syn_flood_action) and ListenDrops
    # (drop: label); no cookie counters move. SYN-queue sizes from 1.3.
    k = Kernel(version, tcp_syncookies=0)
    r = simulate(Scenario(kernel=k, backlog=backlog, clients=20, drop=("ACK",), duration=0.5))
    assert max(r.queues.syn) == requests
    dropped = 20 - requests
    assert r.server_counters["TcpExtTCPReqQFullDrop"] == dropped
    assert r.server_counters["TcpExtListenDrops"] == dropped
    assert r.server_counters["TcpExtSyncookiesSent"] == 0
    assert r.server_counters["TcpExtTCPReqQFullDoCookies"] == 0


@pytest.mark.parametrize(("version", "requests"), [("5.15", 4), ("6.18", 5)])
def test_syncookies_1_answers_with_cookies_only_once_the_syn_queue_is_full(version, requests):
    # linux-handshake-facts.md 1.5: 1 -> cookies only when the SYN queue is full (listen(4): 4 requests on
    # 5.15, 5 on 6.18, 1.3); no request sock is kept for a cookie, so its SYN-ACK is never resent
    r = simulate(Scenario(kernel=version, backlog=4, clients=8, drop=("ACK",), duration=10))
    cookies = 8 - requests
    assert max(r.queues.syn) == requests
    assert len(events(r, "syn_cookie")) == cookies
    assert r.server_counters["TcpExtTCPReqQFullDoCookies"] == cookies
    assert r.server_counters["TcpExtSyncookiesSent"] == cookies
    assert r.server_counters["TcpExtTCPReqQFullDrop"] == 0
    cookie_clients = {e.client for e in events(r, "syn_cookie")}
    for i in cookie_clients:
        assert [p.retransmission for p in r.packets if p.kind == "SYN-ACK" and p.client == i] == [False]


def test_syncookies_2_sends_a_cookie_for_every_syn_on_6_18():
    # linux-handshake-facts.md 1.5: 2 -> cookies for every SYN (3.12+). Live 6.18.44, tcp_syncookies=2,
    # listen(128), 3 clients: SyncookiesSent 3, SyncookiesRecv 3, TCPReqQFullDoCookies 3,
    # TcpPassiveOpens 3, ListenDrops 0, Recv-Q 3
    r = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=2), backlog=128, clients=3, duration=1))
    c = r.server_counters
    assert (c["TcpExtSyncookiesSent"], c["TcpExtSyncookiesRecv"], c["TcpExtTCPReqQFullDoCookies"]) == (3, 3, 3)
    assert (c["TcpPassiveOpens"], c["TcpExtListenDrops"]) == (3, 0)
    assert max(r.queues.syn) == 0  # no request sock
    assert r.ss().recv_q == 3
    assert r.log == ()  # 1.5: no "Possible SYN flooding" line when =2


@pytest.mark.parametrize("version", versions_where(syncookies_always=False))
def test_syncookies_2_acts_as_1_before_3_12(version):
    # linux-handshake-facts.md 1.5: =2 is absent in vanilla 3.10.108, whose code only tests
    # `if (sysctl_tcp_syncookies)`: a SYN finding room gets a request, not a cookie
    k2 = Kernel(version, tcp_syncookies=2, tcp_max_syn_backlog=8)
    r = simulate(Scenario(kernel=k2, backlog=100, clients=20, duration=3))
    assert max(r.queues.syn) == 16  # the table fills first (1.3)
    assert r.server_counters["TcpExtSyncookiesSent"] == 4
    assert k2.tcp_syncookies_effective == 1
    r1 = simulate(Scenario(kernel=k2.replace(tcp_syncookies=1), backlog=100, clients=20, duration=3))
    assert snapshot(r) == snapshot(r1)


def test_every_cookie_also_counts_a_listen_drop_on_3_10():
    # linux-handshake-facts.md 1.5 table: 3.10 tcp_v4_conn_request sends the cookie SYN-ACK and then
    # `goto drop_and_free`, whose drop: label bumps ListenDrops. listen(100) with tcp_max_syn_backlog 8:
    # 16 requests, 4 cookies, and an accept queue with room for all (so no overflow muddles the count)
    k = Kernel("3.10", tcp_max_syn_backlog=8)
    r = simulate(Scenario(kernel=k, backlog=100, clients=20, duration=3))
    c = r.server_counters
    assert c["TcpExtSyncookiesSent"] == 4
    assert c["TcpExtListenDrops"] == 4
    assert c["TcpExtListenOverflows"] == 0
    assert c["TcpExtSyncookiesRecv"] == 4
    assert r.outcomes() == {"queued": 20}


@pytest.mark.parametrize("version", versions_where(cookie_listen_drop=False))
def test_cookies_do_not_count_listen_drops_on_6x(version):
    # linux-handshake-facts.md 1.5: 6.x frees the req after the cookie SYN-ACK and returns 0: no drop
    r = simulate(Scenario(kernel=Kernel(version, tcp_syncookies=2), backlog=128, clients=10, duration=3))
    assert r.server_counters["TcpExtSyncookiesSent"] == 10
    assert r.server_counters["TcpExtListenDrops"] == 0


@pytest.mark.parametrize("version", versions_where(syncookie_check="syncookie_valid", syn_queue_limit=("qlen>=backlog", "qlen>backlog")))
def test_cookie_ack_into_a_full_accept_queue_is_dropped_silently(version):
    # linux-handshake-facts.md 1.4 point 2 and 1.6: the cookie ACK is valid (SyncookiesRecv) but
    # tcp_v4_syn_recv_sock finds the accept queue full: ListenOverflows + ListenDrops, nothing kept, no RST
    # even with tcp_abort_on_overflow=1. listen(1) on 6.18 (SYN queue 2, accept queue 2), listen(2) on
    # 5.15 (SYN queue 2, accept queue 3): of 5 clients at once, 2 get requests and 3 get cookies; the
    # requests' children reach the accept queue first.
    backlog = {"qlen>=backlog": 2, "qlen>backlog": 1}[Kernel(version).syn_queue_limit]
    k = Kernel(version, tcp_abort_on_overflow=1)
    r = simulate(Scenario(kernel=k, backlog=backlog, clients=5, duration=0.5))
    requests = 2
    cookies = 5 - requests
    assert r.server_counters["TcpExtSyncookiesRecv"] == cookies
    accepted_cookies = r.server_counters["TcpPassiveOpens"] - requests
    overflowed = cookies - accepted_cookies
    assert overflowed > 0
    assert len(events(r, "ack_cookie_accept_queue_full")) == overflowed
    assert r.server_counters["TcpExtListenOverflows"] == overflowed
    assert r.server_counters["TcpOutRsts"] == 0
    assert r.outcomes()["established"] == overflowed


# ---- the cookie window -----------------------------------------------------------------------------------

def test_cookie_window_defaults_are_3_s_on_old_and_120_s_on_new_kernels():
    # linux-handshake-facts.md 1.5: 3.10 TCP_TIMEOUT_FALLBACK (3 s); 6.x TCP_SYNCOOKIE_VALID = 2 * 60 s
    assert [Kernel(v).cookie_window for v in ("2.6.32", "3.10", "5.15", "6.18")] == [3, 3, 120, 120]


def late_cookie_ack(kernel):
    """listen(15): 16 requests fill the SYN queue (3.10: 16-slot table; 6.18: qlen > 15), the 17th
    client gets cookies. rtt 6.6 s and TCP_SYNCNT 2: the 17th client's SYNs (0, 1, 3 s) reach the server
    at 3.3, 4.3, 6.3 s - the last overflow - and its ACK arrives at 9.9 s, 3.6 s later."""
    return simulate(Scenario(kernel=kernel, backlog=15, clients=17, rtt=6.6, syncnt=2, accept=1000.0,
                             duration=40))


def test_cookie_ack_later_than_3_s_after_the_last_overflow_is_refused_on_3_10():
    # linux-handshake-facts.md 1.5: 3.10 cookie_v4_check: tcp_synq_no_recent_overflow() (3 s) ->
    # SyncookiesFailed, and the listener answers the ACK with RST (1.6)
    r = late_cookie_ack(Kernel("3.10", **TEXTBOOK))
    assert [e.time for e in events(r, "syn_cookie", 16)] == pytest.approx([3.3, 4.3, 6.3])
    late = events(r, "ack_cookie_invalid", 16)
    assert late[0].time == pytest.approx(9.9)
    assert r.clients[16].outcome == "reset"
    assert r.clients[16].errno == "ECONNRESET"
    assert r.server_counters["TcpExtSyncookiesFailed"] == len(late)
    assert r.server_counters["TcpExtSyncookiesRecv"] == 0
    assert [c.outcome for c in r.clients[:16]] == ["accepted"] * 16


def test_the_3_10_cookie_window_is_what_refuses_the_late_ack():
    # the same run with a 120 s window: the ACK is honoured
    r = late_cookie_ack(Kernel("3.10", cookie_window=120.0, **TEXTBOOK))
    assert r.clients[16].outcome == "accepted"
    assert r.server_counters["TcpExtSyncookiesRecv"] == 1


def test_cookie_ack_3_6_s_after_the_last_overflow_is_accepted_on_6_18():
    # linux-handshake-facts.md 1.5: 6.x honours cookies for TCP_SYNCOOKIE_VALID = 120 s after an overflow
    r = late_cookie_ack(Kernel("6.18"))
    assert [e.time for e in events(r, "ack_cookie", 16)] == pytest.approx([9.9])
    assert r.clients[16].outcome == "accepted"
    assert r.server_counters["TcpExtSyncookiesRecv"] == 1
    assert r.server_counters["TcpExtSyncookiesFailed"] == 0


def test_cookie_ack_outside_the_window_on_6_18_is_not_a_cookie_and_gets_rst_without_counter():
    # linux-handshake-facts.md 1.5 table: 6.x "No recent overflow -> silently not a cookie": the ACK goes
    # to the listener, which answers with RST (1.6), and SyncookiesFailed does not move. A 1 s window
    # (the switch) makes the 9.9 s ACK late.
    r = late_cookie_ack(Kernel("6.18", cookie_window=1.0))
    assert r.clients[16].errno == "ECONNRESET"
    assert r.server_counters["TcpExtSyncookiesFailed"] == 0
    assert r.server_counters["TcpExtSyncookiesRecv"] == 0
    assert r.server_counters["TcpOutRsts"] >= 1


# ---- tcp_syn_flood_action runs before the accept-queue check --------------------------------------------



@pytest.mark.parametrize(("kernel", "clients", "expected"), [
    # live 6.18.44: tcp_syncookies=2, listen(0), one client connected, one more connect() 0.1 s later,
    # nstat after 0.5 s: TCPReqQFullDoCookies 2, SyncookiesSent 1, SyncookiesRecv 1, ListenOverflows 1,
    # ListenDrops 1
    pytest.param(Kernel("6.18", tcp_syncookies=2), [0.0, 0.1],
                 {"TcpExtTCPReqQFullDoCookies": 2, "TcpExtSyncookiesSent": 1, "TcpExtSyncookiesRecv": 1,
                  "TcpExtListenOverflows": 1, "TcpExtListenDrops": 1}),
    # live 6.18.44: tcp_syncookies=1, listen(0), same two clients: ListenOverflows 1, ListenDrops 1, and no
    # cookie counter at all (the SYN queue is empty, 1.3)
    (Kernel("6.18", tcp_syncookies=1), [0.0, 0.1],
     {"TcpExtTCPReqQFullDoCookies": 0, "TcpExtSyncookiesSent": 0, "TcpExtListenOverflows": 1,
      "TcpExtListenDrops": 1}),
], ids=["6.18-syncookies2", "6.18-syncookies1"])
def test_syn_flood_action_counts_even_when_the_accept_queue_then_drops_the_syn(kernel, clients, expected):
    # linux-handshake-facts.md 1.8, decision order: 3. SYN queue full (6.x: or syncookies == 2) ->
    # tcp_syn_flood_action -> cookie or drop; 4. accept queue full -> LISTENOVERFLOWS, drop. The
    # TCPReqQFullDoCookies increment is in tcp_syn_flood_action (1.5 table), SyncookiesSent only in
    # cookie_init_sequence (step 8).
    r = simulate(Scenario(kernel=kernel, backlog=0, clients=clients, duration=0.6))
    assert {k: r.server_counters[k] for k in expected} == expected
