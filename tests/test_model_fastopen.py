"""TCP Fast Open (``Scenario(fastopen=N)``, ``Kernel(tcp_fastopen=...)``): clients that send with
sendto(MSG_FASTOPEN), the cookie their host caches, the listener's TFO queue and the children it makes at
the SYN.

Expected numbers come from the kernel source (3.10.108, 4.4.302 ... 6.18.24; lines in the records'
fastopen_* facts and tcp_fastopen settings):
* the client: tcp_send_syn_data sends a cookie request while tcp_metrics has no cookie, else the data in
  the SYN; tcp_rcv_fastopen_synack caches a SYN-ACK's cookie (tcp_fastopen_cache_set), counts
  TCPFastOpenActive (4.4+; 3.10 at send) or TCPFastOpenActiveFail and sends the data again at once;
  a cookie request's SYN-ACK is not ACKed alone: the write waiting in sendmsg (sk_write_pending) carries it;
* the listener: tcp_conn_request drops or sends a syncookie first (want_cookie: no TFO at all), then
  tcp_try_fastopen (3.10: tcp_fastopen_check): TCPFastOpenCookieReqd, the server bit, the TFO queue
  (qlen >= max_qlen: TCPFastOpenListenOverflow), the cookie; tcp_fastopen_create_child puts the child in
  the accept queue at once (inet_csk_reqsk_queue_add), TCPFastOpenPassive; reqsk_fastopen_remove at the
  final ACK frees the slot; the child's SYN-ACK timer (tcp_fastopen_synack_timer) resends it after
  TCP_TIMEOUT_INIT << n and gives up after tcp_synack_retries + 1 resends (tcp_write_err).
"""

from __future__ import annotations

import pytest
from model_helpers import TEXTBOOK, events, snapshot, versions_where

from handshake_course import Kernel, Scenario, simulate
from handshake_course.model import rules
from handshake_course.model.rules import syn_queue_capacity

TFO = versions_where(fastopen_server=("tcp_fastopen_check", "tcp_try_fastopen"))
"""Every version with TCP Fast Open (3.10's default tcp_fastopen is 0: the tests set the bits they need)."""
RTT = 0.1


def kernel(version: str, bits: int = 3, **settings: object) -> Kernel:
    return Kernel(version, tcp_fastopen=bits, **TEXTBOOK, **settings)


def actions(r, client):
    return [e.action for e in r.trace.of_client(client)]


def kinds(r, client):
    return [(p.time, p.sender, p.kind) for p in r.packets.of_client(client)]


# ---- the first connection asks for a cookie, later ones send the request in the SYN -------------------

@pytest.mark.parametrize("version", TFO)
def test_the_first_client_asks_for_a_cookie_and_a_later_one_sends_its_request_in_the_syn(version):
    # client 0 (t=0): no cookie cached, so tcp_send_syn_data sends a cookie request; the SYN-ACK brings a
    # cookie, and the request goes when connect() returns, carrying the ACK (no bare ACK: sk_write_pending).
    # client 1 (t=1): the cached cookie and the request in the SYN; tcp_try_fastopen makes the child at the
    # SYN and the accept() waiting since 0.6 s returns it at SYN + one way (1.05), before the client even
    # has the SYN-ACK (1.1), which acks the request: one RTT from connect() to the request's ACK
    k = kernel(version)
    r = simulate(Scenario(kernel=k, backlog=8, clients=[0.0, 1.0], accept=[0.5, 0.6], rtt=RTT, data=True,
                          fastopen=4))
    first, later = r.clients
    assert (first.fastopen, first.syn_data_acked) == ("cookie_requested", None)
    assert kinds(r, 0) == [(0.0, "client", "SYN"), (0.05, "server", "SYN-ACK"), (0.1, "client", "DATA"),
                           (0.15, "server", "ACK")]
    assert actions(r, 0)[:4] == ["connect", "fastopen_syn_request", "syn_fastopen_request_cookie", "synack_in_cookie"]
    assert (later.fastopen, later.syn_data_acked) == ("data_in_syn", True)
    assert kinds(r, 1) == [(1.0, "client", "SYN"), (1.05, "server", "SYN-ACK"), (1.1, "client", "ACK")]
    assert (later.accepted_at, later.connected_at) == (1.05, 1.1)
    assert later.data_times == (1.0,) and later.data_acked_at == 1.1 and later.request_latency == pytest.approx(RTT)
    assert actions(r, 1) == ["connect", "fastopen_syn_data", "syn_fastopen_cookie_child", "accept",
                             "synack_in_fastopen_acked", "ack_fastopen_child"]
    # the child went straight into the accept queue: no request sock in the SYN queue
    assert events(r, "syn_fastopen_cookie_child")[0].syn_queue == 0
    s, c = r.server_counters, r.client_counters
    assert s["TcpExtTCPFastOpenCookieReqd"] == 1 and s["TcpPassiveOpens"] == 2
    # 3.10's tcp_fastopen_check counts Passive for the cookie request too, before any check
    assert s["TcpExtTCPFastOpenPassive"] == (2 if k.fastopen_server == "tcp_fastopen_check" else 1)
    assert c["TcpExtTCPFastOpenActive"] == 1  # 3.10 when the SYN with data is sent, 4.4+ when it is acked


def test_every_connect_after_the_cookie_came_back_uses_it_and_those_before_ask_again():
    # the cookie is cached when the first SYN-ACK reaches the client host (0.1 s): connect()s before that
    # ask for one too, those after send their data in the SYN
    r = simulate(Scenario(kernel=kernel("6.18"), backlog=8, clients=[0.0, 0.05, 0.11, 0.2], rtt=RTT, data=True,
                          fastopen=4))
    assert [c.fastopen for c in r.clients] == ["cookie_requested", "cookie_requested", "data_in_syn", "data_in_syn"]
    assert r.server_counters["TcpExtTCPFastOpenCookieReqd"] == 2


# ---- the TFO queue ---------------------------------------------------------------------------------------

BURST = dict(backlog=8, clients=[0.0] + [1.0] * 5, rtt=RTT, data=True, fastopen=2)
"""A cookie first, then 5 TFO SYNs arriving together at 1.05 s on a TFO queue of 2."""


@pytest.mark.parametrize("version", TFO)
def test_the_tfo_queue_takes_two_and_the_other_three_fall_back_to_a_regular_handshake(version):
    # tcp_fastopen_queue_check: qlen >= max_qlen (2) -> TCPFastOpenListenOverflow and a regular request;
    # the SYN-ACK acks the SYN only, so the client sends its request again at once (1.1 s), which completes
    # the handshake at the listener (1.15 s) as a DATA does
    k = kernel(version)
    r = simulate(Scenario(kernel=k, **BURST))
    burst = r.clients[1:]
    assert [c.syn_data_acked for c in burst] == [True, True, False, False, False]
    for c in burst[2:]:
        assert c.data_times == (1.0, 1.1) and c.data_acked_at == 1.2
        assert actions(r, c.index) == ["connect", "fastopen_syn_data", "syn_fastopen_cookie_overflow",
                                       "synack_in_fastopen_fail", "data_new_child", "data_in_new_child", "data_acked"]
    s, cl = r.server_counters, r.client_counters
    assert s["TcpExtTCPFastOpenListenOverflow"] == 3
    # 3.10 counts Passive for every SYN with a cookie option (the request and all five), 4.4+ per child
    assert s["TcpExtTCPFastOpenPassive"] == (6 if k.fastopen_server == "tcp_fastopen_check" else 2)
    resend = k.fastopen_fail_retransmit
    assert cl["TcpRetransSegs"] == (3 if k.loss_probe_retrans_segs else 0)  # 3.10's __tcp_retransmit_skb: none
    assert cl.get("TcpExtTCPFastRetrans", 0) == (3 if resend == "tcp_xmit_retransmit_queue" else 0)
    assert cl.get("TcpExtTCPSlowStartRetrans", 0) == (3 if resend == "tcp_non_congestion_loss_retransmit" else 0)
    if k.fastopen_active_counter == "at_synack":
        assert (cl["TcpExtTCPFastOpenActive"], cl["TcpExtTCPFastOpenActiveFail"]) == (2, 3)
    else:  # 3.10: at send, whatever came back; no ActiveFail
        assert cl["TcpExtTCPFastOpenActive"] == 5 and "TcpExtTCPFastOpenActiveFail" not in cl


@pytest.mark.parametrize("version", TFO)
def test_data_the_syn_ack_did_not_ack_is_sent_again_at_once_then_on_the_rto(version):
    # tcp_rcv_fastopen_synack retransmits it at once and re-arms the RTO (3.10-5.10 tcp_rearm_rto, 5.15+
    # tcp_xmit_retransmit_queue): no loss probe; the RTO from the SYN-ACK's sample m = 0.1 s is
    # m + max(2m, 200 ms) = 0.3 s, then doubles (tcp_retransmit_timer)
    r = simulate(Scenario(kernel=kernel(version), **{**BURST, "drop": ("DATA",), "duration": 4}))
    c = r.clients[5]
    assert c.syn_data_acked is False and c.rtt_sample == RTT
    assert [round(t, 6) for t in c.data_times[:5]] == [1.0, 1.1, 1.4, 2.0, 3.2]
    assert [a for a in actions(r, 5) if a.startswith("data_")][:3] == ["data_rto_first", "data_rto", "data_rto"]


def test_the_final_ack_frees_the_tfo_slot():
    # reqsk_fastopen_remove at the final ACK (1.15 s): a TFO SYN arriving after it gets a child again
    r = simulate(Scenario(kernel=kernel("6.18"), backlog=8, clients=[0.0, 1.0, 1.0, 1.05, 1.2], rtt=RTT, data=True,
                          fastopen=2))
    assert [c.syn_data_acked for c in r.clients[1:]] == [True, True, False, True]


def test_a_tfo_queue_larger_than_somaxconn_is_cut_to_it_from_4_4():
    # fastopen_queue_tune: min(backlog, somaxconn) (4.4+); 3.10's fastopen_init_queue keeps the value
    assert rules.fastopen_queue_limit(kernel("6.18", somaxconn=1), 2, 8) == 1
    assert rules.fastopen_queue_limit(kernel("3.10", somaxconn=1), 2, 8) == 2
    r = simulate(Scenario(kernel=kernel("6.18", somaxconn=1), **BURST))
    assert r.server_counters["TcpExtTCPFastOpenPassive"] == 1


@pytest.mark.parametrize("version", TFO)
def test_tcp_fastopen_0x400_gives_the_listener_a_tfo_queue_of_its_backlog_without_the_setsockopt(version):
    # inet_listen: TFO_SERVER_WO_SOCKOPT1 | TFO_SERVER_ENABLE and no TCP_FASTOPEN -> max_qlen = backlog (3);
    # accept() keeps the accept queue from filling first, and the two regular requests fit the SYN queue
    r = simulate(Scenario(kernel=kernel(version, 0x403), **{**BURST, "backlog": 3, "fastopen": 0, "accept": 100.0}))
    assert r.server_counters["TcpExtTCPFastOpenListenOverflow"] == 2
    assert [c.syn_data_acked for c in r.clients[1:]] == [True, True, True, False, False]


@pytest.mark.parametrize("version", versions_where(young_rule=False, fastopen_server="tcp_try_fastopen"))
def test_a_full_accept_queue_drops_a_tfo_syn_before_the_tfo_check(version):
    # tcp_conn_request: sk_acceptq_is_full -> ListenOverflows, drop, before tcp_try_fastopen: with no accept()
    # and backlog 2, client 0 and the two TFO children fill the accept queue (backlog + 1); the other three
    # SYNs are dropped (and their retransmissions), counting no TFO counter
    r = simulate(Scenario(kernel=kernel(version), **{**BURST, "backlog": 2, "fastopen": 4, "duration": 10}))
    assert [c.syn_data_acked for c in r.clients[1:]] == [True, True, None, None, None]
    assert [actions(r, i)[2] for i in range(3, 6)] == ["syn_drop_accept_queue_full"] * 3
    assert r.server_counters["TcpExtTCPFastOpenListenOverflow"] == 0
    assert r.server_counters["TcpExtTCPFastOpenPassive"] == 2


def test_each_listener_of_a_reuseport_group_has_its_own_tfo_queue():
    # icsk_accept_queue.fastopenq is the listening socket's: each of 3 listeners takes one child
    r = simulate(Scenario(kernel=kernel("6.18"), backlog=8, clients=[0.0] + [1.0] * 9, rtt=RTT, data=True,
                          fastopen=1, listeners=3))
    children = [e for e in r.trace if e.action.startswith("syn_fastopen_") and e.action.endswith("_child")]
    reached = {e.listener for e in r.trace if e.action.startswith("syn_fastopen_cookie")}
    assert sorted(e.listener for e in children) == sorted(reached)  # one child on every listener reached
    assert r.server_counters["TcpExtTCPFastOpenListenOverflow"] == 9 - len(reached)


# ---- no TFO --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", versions_where(syncookies_always=True, fastopen_server="tcp_try_fastopen"))
def test_a_syn_answered_with_a_syncookie_gets_no_tfo(version):
    # 3 cookie requests at t=0 on a listener of backlog 1: the first syn_queue_capacity(1) become regular
    # requests (each counts TCPFastOpenCookieReqd); the next finds the SYN queue full and gets a syncookie:
    # want_cookie -> tcp_parse_options without the cookie, no tcp_try_fastopen, nothing counted
    k = kernel(version)
    cap = syn_queue_capacity(k, 1, last_quarter=False)
    r = simulate(Scenario(kernel=k, backlog=1, clients=3, rtt=RTT, data=True, fastopen=4, accept=100.0))
    assert r.server_counters["TcpExtTCPFastOpenCookieReqd"] == cap
    assert r.server_counters["TcpExtSyncookiesSent"] == 3 - cap
    assert [e.action for e in r.trace if e.host == "server" and e.action.startswith("syn_")].count("syn_cookie") == 3 - cap


@pytest.mark.parametrize("version", versions_where(syncookies_always=True, fastopen_server="tcp_try_fastopen"))
def test_data_in_a_syn_answered_with_a_syncookie_is_sent_again(version):
    # tcp_fastopen 0x207: clients send their data without a cookie (0x4), listeners take it without one
    # (0x200), so the first SYN already makes a child; with tcp_syncookies=2 every SYN gets a syncookie
    # instead, whose SYN-ACK acks the SYN only: the data goes again at once and completes the cookie
    taken = simulate(Scenario(kernel=kernel(version, 0x207), backlog=8, clients=1, rtt=RTT, data=True, fastopen=4))
    assert actions(taken, 0)[2] == "syn_fastopen_data_child" and taken.clients[0].syn_data_acked is True
    r = simulate(Scenario(kernel=kernel(version, 0x207, tcp_syncookies=2), backlog=8, clients=1, rtt=RTT, data=True,
                          fastopen=4))
    assert actions(r, 0)[:6] == ["connect", "fastopen_syn_data", "syn_cookie", "synack_in_fastopen_fail",
                                 "data_cookie", "data_in_new_child"]
    assert r.clients[0].syn_data_acked is False and r.server_counters["TcpExtTCPFastOpenPassive"] == 0


@pytest.mark.parametrize("version", TFO)
def test_without_the_client_bit_clients_connect_then_write(version):
    # tcp_sendmsg_fastopen: no TFO_CLIENT_ENABLE -> EOPNOTSUPP; the application connect()s and write()s
    r = simulate(Scenario(kernel=kernel(version, 2), backlog=8, clients=[0.0, 1.0], rtt=RTT, data=True, fastopen=4))
    assert [c.fastopen for c in r.clients] == [None, None]
    assert actions(r, 1)[:3] == ["connect", "syn_new", "synack_in"]
    assert not any("FastOpen" in name for name in r.counters)


@pytest.mark.parametrize("version", TFO)
def test_with_the_server_bit_off_the_cookie_request_is_ignored(version):
    # tcp_fastopen=1 (the clients' default): every SYN asks for a cookie and none comes back; 4.4+ count
    # TCPFastOpenCookieReqd before looking at the server bit, 3.10 counts TCPFastOpenPassive instead
    k = kernel(version, 1)
    r = simulate(Scenario(kernel=k, backlog=8, clients=[0.0, 1.0], rtt=RTT, data=True, fastopen=4))
    assert [c.fastopen for c in r.clients] == ["cookie_requested", "cookie_requested"]
    assert [actions(r, i)[2:4] for i in (0, 1)] == [["syn_fastopen_request_ignored", "synack_in_no_cookie"]] * 2
    s = r.server_counters
    if k.fastopen_server == "tcp_fastopen_check":
        assert s["TcpExtTCPFastOpenPassive"] == 2 and s.get("TcpExtTCPFastOpenCookieReqd", 0) == 0
    else:
        assert s["TcpExtTCPFastOpenCookieReqd"] == 2 and s["TcpExtTCPFastOpenPassive"] == 0


def test_fastopen_0_leaves_a_run_with_requests_as_it_was():
    # no TCP_FASTOPEN and no 0x400: the clients connect() and write(), whatever tcp_fastopen's bits say
    s = Scenario(kernel=Kernel("6.18", tcp_fastopen=3), backlog=2, clients=6, accept=5.0, rtt=0.05, loss=0.2,
                 data=True, duration=20, seed=3)
    r = simulate(s)
    assert snapshot(r) == snapshot(simulate(s.replace(kernel=Kernel("6.18"))))
    assert not any(e.action.startswith(("fastopen_", "syn_fastopen_", "synack_in_fastopen")) for e in r.trace)
    assert not any("FastOpen" in name for name in r.counters)
    assert all(c.fastopen is None and "fastopen" not in repr(c) for c in r.clients)


# ---- the TFO child's own SYN-ACK timer ------------------------------------------------------------------------

@pytest.mark.parametrize("version", TFO)
def test_the_tfo_child_resends_its_syn_ack_on_its_own_timer_and_gives_up_after_synack_retries_plus_one(version):
    # every SYN-ACK dropped; 0x207 makes the child at the first SYN (0.05 s) and accept() returns it at once;
    # tcp_fastopen_synack_timer resends after 1, 2, 4 ... s (TCP_TIMEOUT_INIT << num_timeout) and at the
    # 7th fire (num_timeout 6 >= tcp_synack_retries + 1) gives up: tcp_write_err, 127 s after the SYN
    k = kernel(version, 0x207)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, accept=100.0, rtt=RTT, data=True, fastopen=4,
                          drop=("SYN-ACK",)))
    made = 0.05
    assert [round(e.time - made, 6) for e in events(r, "fastopen_synack_rto")] == [1, 3, 7, 15, 31, 63]
    assert events(r, "fastopen_synack_give_up")[0].time == pytest.approx(made + 127)
    c = r.clients[0]
    assert c.accepted_at == made and c.connected_at is None  # the application had it: the client never connected
    s = r.server_counters
    assert s["TcpAttemptFails"] == 1 and s["TcpExtTCPAbortOnTimeout"] == 1
    # each retransmitted SYN reaching the child in SYN_RECV has the SYN-ACK resent at once (tcp_check_req)
    again = events(r, "syn_again_fastopen")
    assert len(again) == sum(1 for t in c.syn_times[1:] if t + 0.05 < made + 127)


def test_a_retransmitted_syn_gets_the_tfo_childs_syn_ack_which_acks_the_data():
    # the child's first SYN-ACK is lost (a 30 % loss, seed chosen for it): the client's plain SYN retransmission
    # reaches the child, which resends its SYN-ACK at once; it still acks the data of the first SYN
    for seed in range(200):
        r = simulate(Scenario(kernel=kernel("6.18", 0x207), backlog=8, clients=1, rtt=RTT, data=True, fastopen=4,
                              loss=0.3, seed=seed, duration=10))
        mine = r.packets.of_client(0)
        if (len(mine) > 2 and mine[0].kind == "SYN" and not mine[0].lost and mine[1].kind == "SYN-ACK"
                and mine[1].lost and events(r, "syn_again_fastopen")):
            break
    else:
        pytest.fail("no seed lost the first SYN-ACK")
    c = r.clients[0]
    assert c.syn_data_acked is True and len(c.syn_times) >= 2 and c.data_times == (0.0,)


# ---- validation and determinism -------------------------------------------------------------------------------

def test_2_6_32_refuses_fastopen_and_the_sysctl_naming_the_version_they_came_in():
    with pytest.raises(ValueError, match=r"fastopen must be 0 on Linux 2.6.32: TCP Fast Open came in Linux 3.7"):
        Scenario(kernel="2.6.32", fastopen=1)
    with pytest.raises(ValueError, match=r"tcp_fastopen: Linux 2.6.32 has no such sysctl \(it came in Linux 3.6"):
        Kernel("2.6.32", tcp_fastopen=3)
    assert Scenario(kernel="2.6.32", fastopen=0).fastopen == 0


@pytest.mark.parametrize("value", [-1, 2**31, 1.5, True, "3"])
def test_fastopen_must_be_a_whole_number_from_0_to_int_max(value):
    with pytest.raises(ValueError, match=r"fastopen must be a whole number from 0 to 2147483647"):
        Scenario(fastopen=value)


def test_fastopen_needs_a_listener_and_the_sysctl_a_non_negative_int():
    with pytest.raises(ValueError, match=r"fastopen must be 0 when nothing listens"):
        Scenario(backlog=None, fastopen=4)
    with pytest.raises(ValueError, match=r"tcp_fastopen must be from 0 to 2147483647"):
        Kernel("6.18", tcp_fastopen=-1)
    assert Scenario(fastopen=4).replace(seed=2).fastopen == 4


def test_the_same_seed_gives_the_same_run_with_fast_open():
    s = Scenario(kernel=Kernel("6.18", tcp_fastopen=3), backlog=2, clients=[0.0] + [0.5 + i * 0.01 for i in range(20)],
                 accept=20.0, rtt=0.05, loss=0.2, data=True, fastopen=3, duration=30, seed=9)
    assert snapshot(simulate(s)) == snapshot(simulate(s.replace()))


