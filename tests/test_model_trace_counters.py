"""The trace names the kernel's function path per version; counters carry nstat's names and agree with
the trace and the packets.

Sources: linux-handshake-facts.md 1.4-1.11 (functions per version), and ``nstat -az`` run live on
Linux 6.18.44 for the counter names.
"""

from collections import Counter

import pytest
from model_helpers import versions_where

from handshake_course import Kernel, Scenario, simulate
from handshake_course.model import VERSIONS
from handshake_course.model.kernel_index import definition

# Tcp and TcpExt names printed by `nstat -az` on Linux 6.18.44 (the handshake-related subset).
NSTAT_6_18 = {
    "TcpActiveOpens", "TcpPassiveOpens", "TcpAttemptFails", "TcpEstabResets", "TcpInSegs", "TcpOutSegs",
    "TcpRetransSegs", "TcpInErrs", "TcpOutRsts", "TcpInCsumErrors",
    "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed", "TcpExtEmbryonicRsts",
    "TcpExtDelayedACKs", "TcpExtDelayedACKLost", "TcpExtListenOverflows", "TcpExtListenDrops",
    "TcpExtTCPTimeouts", "TcpExtTCPDeferAcceptDrop", "TcpExtTCPReqQFullDoCookies", "TcpExtTCPReqQFullDrop",
    "TcpExtTCPChallengeACK", "TcpExtTCPSYNChallenge", "TcpExtTCPSynRetrans", "TcpExtTCPACKSkippedSynRecv",
    "TcpExtTCPACKSkippedChallenge", "TcpExtTCPFastOpenListenOverflow", "TcpExtTCPMigrateReqSuccess",
    "TcpExtTCPMigrateReqFailure",
    # a request's timers (Scenario(data=True)): in 6.18.24's net/ipv4/proc.c:217 and :230
    "TcpExtTCPLossProbes", "TcpExtTCPAbortOnTimeout",
    # timewait sockets (Scenario(hold=...)): 6.18.24's net/ipv4/proc.c:183 TW, :184 TWRecycled
    "TcpExtTW", "TcpExtTWRecycled",
    # TCP Fast Open (Scenario(fastopen=...)): 6.18.24's net/ipv4/proc.c:260-265, and the data the SYN-ACK did
    # not ack sent again (:214 TCPFastRetrans, :215 TCPSlowStartRetrans)
    "TcpExtTCPFastOpenActive", "TcpExtTCPFastOpenActiveFail", "TcpExtTCPFastOpenPassive",
    "TcpExtTCPFastOpenPassiveFail", "TcpExtTCPFastOpenCookieReqd", "TcpExtTCPFastRetrans",
    "TcpExtTCPSlowStartRetrans",
}


BUSY = dict(backlog=2, clients=[0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0], accept=[3.0, 4.0], rtt=0.01, loss=0.1,
            duration=40, seed=4)  # requests, cookies, overflows, retransmissions, accept() - a bit of everything


FEATURES = {"plain": {}, "data": {"data": True}, "defer_accept": {"defer_accept": 3},
            "reuseport": {"listeners": 3, "defer_accept": 1, "data": True},
            "close": {"hold": 0.3, "kernel_settings": {"tcp_tw_reuse": 1, "ip_local_port_range": (40000, 40003)}},
            "close_data": {"hold": 2.0, "data": True},
            "fastopen": {"fastopen": 2, "data": True, "kernel_settings": {"tcp_fastopen": 3}}}
"""BUSY with clients that speak first, TCP_DEFER_ACCEPT, a SO_REUSEPORT group (3.9+) with both, and clients
that close (a port range of 4 with tcp_tw_reuse=1, so connect() takes TIME_WAIT ports; and after a request), and
TCP Fast Open (3.7+): cookie requests at t=0, the request in the SYN from 0.5 s on a TFO queue of 2."""


def busy(version: str, feature: str) -> Scenario:
    fields = dict(FEATURES[feature])
    return Scenario(kernel=Kernel(version, **fields.pop("kernel_settings", {})), **fields, **BUSY)
CASES = [(v, f) for v in VERSIONS for f in FEATURES
         if ("listeners" not in FEATURES[f] or Kernel(v).reuseport != "none")
         and ("fastopen" not in FEATURES[f] or Kernel(v).fastopen_server != "none")]  # TFO: 3.7+


def first(r, action):
    return next(e for e in r.trace if e.action == action)


# ---- function paths ---------------------------------------------------------------------------------------

def test_trace_names_the_6_18_syn_path():
    # linux-handshake-facts.md 1.8: 6.x tcp_v4_conn_request -> tcp_conn_request (tcp_input.c), reached
    # from tcp_v4_rcv -> tcp_v4_do_rcv -> tcp_rcv_state_process for a LISTEN socket
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=1, duration=1))
    e = first(r, "syn_new")
    assert e.path[:5] == ("tcp_v4_rcv", "tcp_v4_do_rcv", "tcp_rcv_state_process", "tcp_v4_conn_request",
                          "tcp_conn_request")
    assert e.function_path.startswith(
        "tcp_v4_rcv -> tcp_v4_do_rcv -> tcp_rcv_state_process -> tcp_v4_conn_request -> tcp_conn_request")
    assert e.host == "server"


@pytest.mark.parametrize("version", [v for v in VERSIONS if definition(v, "tcp_conn_request") is None])
def test_trace_names_the_old_syn_path_without_tcp_conn_request(version):
    # linux-handshake-facts.md 1.8: 3.10 does the whole job in tcp_v4_conn_request (tcp_ipv4.c);
    # tcp_conn_request exists only in later kernels (section 0: RHEL 7.9 has a backport, vanilla does not)
    r = simulate(Scenario(kernel=version, backlog=8, clients=3, drop=("ACK",), duration=5))
    e = first(r, "syn_new")
    assert e.path[:4] == ("tcp_v4_rcv", "tcp_v4_do_rcv", "tcp_rcv_state_process", "tcp_v4_conn_request")
    assert all("tcp_conn_request" not in ev.path for ev in r.trace)


def test_trace_names_the_synack_timer_per_version():
    # linux-handshake-facts.md 1.9: 3.10 tcp_keepalive_timer -> tcp_synack_timer ->
    # inet_csk_reqsk_queue_prune; 4.1+ reqsk_timer_handler -> tcp_rtx_synack
    old = first(simulate(Scenario(kernel="3.10", backlog=8, clients=1, drop=("ACK",), duration=2)), "synack_rto")
    assert old.path[:3] == ("tcp_keepalive_timer", "tcp_synack_timer", "inet_csk_reqsk_queue_prune")
    new = first(simulate(Scenario(kernel="6.18", backlog=8, clients=1, drop=("ACK",), duration=2)), "synack_rto")
    assert new.path[0] == "reqsk_timer_handler"
    assert "tcp_rtx_synack" in new.path
    assert "inet_csk_reqsk_queue_prune" not in new.path


@pytest.mark.parametrize(("version", "lookup"), [("3.10", "tcp_v4_hnd_req"), ("6.18", "tcp_check_req")])
def test_trace_names_the_final_ack_overflow_path(version, lookup):
    # linux-handshake-facts.md 1.4 point 2 and 1.6: tcp_check_req -> syn_recv_sock = tcp_v4_syn_recv_sock,
    # which finds the accept queue full; 3.10 reaches tcp_check_req through tcp_v4_hnd_req
    r = simulate(Scenario(kernel=version, backlog=1, clients=[0.0, 0.1, 0.1], rtt=0.01, duration=1))
    e = first(r, "ack_accept_queue_full")
    assert lookup in e.path
    assert "tcp_check_req" in e.path
    assert e.path[-1] == "tcp_v4_syn_recv_sock"
    assert ("tcp_v4_hnd_req" in e.path) == (version == "3.10")  # gone in 4.4 (request socks in ehash)


@pytest.mark.parametrize(("version", "entry"), [("3.10", "tcp_v4_hnd_req"), ("6.18", "tcp_v4_cookie_check")])
def test_trace_names_the_cookie_ack_path(version, entry):
    # linux-handshake-facts.md 1.6: 3.10 tcp_v4_hnd_req -> cookie_v4_check; 6.x tcp_v4_cookie_check ->
    # cookie_v4_check; then syn_recv_sock builds the child
    k = Kernel(version, tcp_max_syn_backlog=8) if version == "3.10" else Kernel(version, tcp_syncookies=2)
    r = simulate(Scenario(kernel=k, backlog=100, clients=20, duration=1))
    e = first(r, "ack_cookie")
    assert entry in e.path and "cookie_v4_check" in e.path
    assert e.path[-1] == "tcp_v4_syn_recv_sock"


@pytest.mark.parametrize("version", VERSIONS)
def test_trace_names_connect_and_accept(version):
    # linux-handshake-facts.md 1.7: tcp_v4_connect -> inet_hash_connect (port) -> tcp_connect (SYN);
    # 1.11: accept() dequeues in inet_csk_accept
    r = simulate(Scenario(kernel=version, backlog=8, clients=1, accept=[1.0], duration=2))
    connect = first(r, "connect").path
    assert connect.index("tcp_v4_connect") < connect.index("inet_hash_connect") < connect.index("tcp_connect")
    assert first(r, "connect").host == "client"
    assert "inet_csk_accept" in first(r, "accept").path


def test_trace_events_carry_the_client_and_the_queue_lengths_after_them():
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=2, rtt=0.01, duration=1))
    new = [e for e in r.trace if e.action == "syn_new"]
    assert [(e.client, e.syn_queue) for e in new] == [(0, 1), (1, 2)]
    child = [e for e in r.trace if e.action == "ack_new_child"]
    assert [(e.client, e.syn_queue, e.accept_queue) for e in child] == [(0, 1, 1), (1, 0, 2)]
    assert r.trace.of_client(1)[0].action == "connect"
    assert first(r, "listen").client is None


# ---- counters ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "feature"), CASES)
def test_counters_are_named_as_nstat_prints_them(version, feature):
    r = simulate(busy(version, feature))
    assert set(r.counters) <= NSTAT_6_18
    assert set(r.server_counters) <= NSTAT_6_18 and set(r.client_counters) <= NSTAT_6_18


def test_counters_that_3_10_does_not_have_are_absent():
    # linux-handshake-facts.md 1.5 table: TCPSynRetrans "-" on 3.10; tcp_invalid_ratelimit (and with it
    # TCPACKSkippedSynRecv) came in 4.0
    r = simulate(Scenario(kernel="3.10", **BUSY))
    assert "TcpExtTCPSynRetrans" not in r.counters
    assert "TcpExtTCPACKSkippedSynRecv" not in r.counters
    r = simulate(Scenario(kernel="6.18", **BUSY))
    assert "TcpExtTCPSynRetrans" in r.counters


@pytest.mark.parametrize(("version", "feature"), CASES)
def test_counters_are_the_sum_of_the_trace_events(version, feature):
    r = simulate(busy(version, feature))
    assert not r.scenario.data or any(e.action.startswith("data_") for e in r.trace)
    assert not r.scenario.defer_accept or any(e.action == "ack_defer_drop" for e in r.trace)
    assert r.scenario.hold is None or any(e.action == "close" for e in r.trace)
    assert not r.scenario.fastopen or {e.action for e in r.trace} >= {"fastopen_syn_request", "fastopen_syn_data"}
    for host, counters in (("server", r.server_counters), ("client", r.client_counters)):
        summed = Counter(c for e in r.trace if e.host == host for c in e.counters)
        assert {k: v for k, v in counters.items() if v} == dict(summed)
    merged = Counter(r.server_counters)
    merged.update(r.client_counters)
    assert r.counters == dict(merged)


@pytest.mark.parametrize("version", versions_where(synack_rtx_counters=True))  # 2.6.32: see test_model_2_6_32
def test_retransmission_counters_match_the_retransmitted_packets(version):
    # TcpRetransSegs: tcp_retransmit_skb for SYNs, tcp_rtx_synack / inet_rtx_syn_ack for SYN-ACKs
    # (1.5, 1.9); TCPSynRetrans (4.x+) counts both the same way
    r = simulate(Scenario(kernel=version, backlog=8, clients=10, loss=0.3, rtt=0.01, duration=40, seed=4))
    client_rtx = sum(1 for p in r.packets if p.sender == "client" and p.kind == "SYN" and p.retransmission)
    server_rtx = sum(1 for p in r.packets if p.sender == "server" and p.kind == "SYN-ACK" and p.retransmission)
    assert client_rtx > 0 and server_rtx > 0
    assert r.client_counters["TcpRetransSegs"] == client_rtx
    assert r.server_counters["TcpRetransSegs"] == server_rtx
    if "TcpExtTCPSynRetrans" in r.server_counters:
        assert r.server_counters["TcpExtTCPSynRetrans"] == server_rtx
        assert r.client_counters["TcpExtTCPSynRetrans"] == client_rtx


@pytest.mark.parametrize("version", VERSIONS)
def test_open_counters_match_the_clients_and_children(version):
    # TcpActiveOpens in tcp_connect, TcpPassiveOpens in tcp_create_openreq_child (1.5 table)
    r = simulate(Scenario(kernel=version, **BUSY))
    assert r.client_counters["TcpActiveOpens"] == sum(1 for c in r.clients if c.port is not None)
    assert r.server_counters["TcpPassiveOpens"] == sum(1 for c in r.clients if c.outcome in ("queued", "accepted"))
    assert r.server_counters["TcpExtListenDrops"] >= r.server_counters["TcpExtListenOverflows"] > 0
