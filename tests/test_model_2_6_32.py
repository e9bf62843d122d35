"""What 2.6.32 does differently on the server side: which counters and log lines its SYN path has.

linux-handshake-facts.md covers 2.6.32 for timing only (1.7, 1.14). The counter sites below are read
from net/ipv4/tcp_ipv4.c of the 2.6.32.9 stable tree (public mirror rabeeh/linux-2.6.32.9), which
matches 2.6.32.2 in these functions:

* tcp_v4_conn_request ends in ``drop: return 0;`` - no ListenDrops for a dropped SYN (3.10 counts it,
  1.5 table); the SYN-queue-full branch is ``if (sysctl_tcp_syncookies) want_cookie = 1; else goto
  drop;`` - there is no tcp_syn_flood_action, so no TCPReqQFullDrop / TCPReqQFullDoCookies; the
  accept-queue test is ``if (sk_acceptq_is_full(sk) && inet_csk_reqsk_queue_young(sk) > 1) goto
  drop;`` - no ListenOverflows;
* a cookie is announced by syn_flood_warning(): ``"possible SYN flooding on port %d. Sending
  cookies.\\n"``, at most once a minute, and only when a cookie is sent;
* tcp_request_sock_ops has ``.rtx_syn_ack = tcp_v4_send_synack`` (no RetransSegs) and no
  syn_ack_timeout hook (no TCPTimeouts): SYN-ACK retransmissions count nothing;
* tcp_v4_syn_recv_sock still counts ListenOverflows and ListenDrops (exit_overflow / exit).
"""

import pytest

from handshake_course import Kernel, Scenario, simulate


def server(r, name):
    return r.server_counters.get(name, 0)


def test_2_6_32_drops_syns_for_a_full_syn_queue_silently():
    # listen(0) -> 16 slots (1.3); 20 clients, final ACKs dropped, tcp_syncookies=0: 4 SYNs dropped
    r = simulate(Scenario(kernel=Kernel("2.6.32", tcp_syncookies=0), backlog=0, clients=20, drop=("ACK",),
                          duration=0.5))
    assert max(r.queues.syn) == 16
    assert server(r, "TcpExtTCPReqQFullDrop") == 0
    assert server(r, "TcpExtListenDrops") == 0


def test_2_6_32_counts_only_syncookies_sent_for_a_cookie():
    # listen(100), tcp_max_syn_backlog 8 -> 16 slots; 20 clients: 4 cookies
    r = simulate(Scenario(kernel=Kernel("2.6.32", tcp_max_syn_backlog=8), backlog=100, clients=20, duration=3))
    assert server(r, "TcpExtSyncookiesSent") == 4
    assert server(r, "TcpExtTCPReqQFullDoCookies") == 0
    assert server(r, "TcpExtListenDrops") == 0


def test_2_6_32_drops_syns_for_a_full_accept_queue_silently():
    # as in test_model_server's 3.10 young-rule test: clients 1 and 2 are answered, their final ACKs
    # overflow (counted by tcp_v4_syn_recv_sock), client 3's SYN is dropped without a counter
    r = simulate(Scenario(kernel="2.6.32", backlog=0, clients=[0.0, 1.0, 1.0, 1.0], rtt=0.01, duration=1.5))
    assert [c.connected_at is not None for c in r.clients] == [True, True, True, False]
    assert server(r, "TcpExtListenOverflows") == 2
    assert server(r, "TcpExtListenDrops") == 2


def test_2_6_32_synack_retransmissions_count_nothing():
    r = simulate(Scenario(kernel="2.6.32", backlog=8, clients=1, drop=("ACK",), rtt=0.0, duration=200))
    assert len([p for p in r.packets if p.kind == "SYN-ACK" and p.retransmission]) == 5
    assert server(r, "TcpRetransSegs") == 0
    assert server(r, "TcpExtTCPTimeouts") == 0


@pytest.mark.parametrize(("syncookies", "line"), [
    (1, "possible SYN flooding on port 8080. Sending cookies."),
    (0, None),
])
def test_2_6_32_logs_only_when_it_sends_cookies(syncookies, line):
    r = simulate(Scenario(kernel=Kernel("2.6.32", tcp_syncookies=syncookies), backlog=0, clients=20,
                          drop=("ACK",), duration=0.5))
    assert [text for _, text in r.log] == ([line] if line else [])


def test_2_6_32_still_counts_the_final_ack_overflow():
    # tcp_v4_syn_recv_sock: exit_overflow -> ListenOverflows, exit -> ListenDrops (same in 3.10, 1.4)
    r = simulate(Scenario(kernel="2.6.32", backlog=0, clients=2, rtt=0.01, duration=1))
    assert r.outcomes() == {"queued": 1, "established": 1}
    assert server(r, "TcpExtListenOverflows") >= 1
    assert server(r, "TcpExtListenDrops") == server(r, "TcpExtListenOverflows")
