"""A SYN flood against the listener, and the network: random loss and dropping packets by kind.

Sources: linux-handshake-facts.md 1.3, 1.5 (syncookies, counters, the "Possible SYN flooding" log).
"""

import pytest

from handshake_course import Kernel, Scenario, simulate

LEGIT = [1.0 + 0.1 * i for i in range(10)]  # ten real clients arriving during the flood


def flood_with(kernel):
    return simulate(Scenario(kernel=kernel, backlog=64, clients=LEGIT, accept=1000.0, flood=2000.0, duration=6.0))


def flood(version, syncookies):
    return flood_with(Kernel(version, tcp_syncookies=syncookies))


@pytest.mark.parametrize("version", ["3.10", "5.15", "6.18"])
def test_syn_flood_with_syncookies_lets_the_real_clients_in(version):
    # linux-handshake-facts.md 1.5: with tcp_syncookies=1 a SYN that finds the queue full is answered with
    # a cookie; the real client's cookie ACK builds the connection without a request sock
    r = flood(version, 1)
    assert r.outcomes() == {"accepted": 10}
    c = r.server_counters
    assert c["TcpExtTCPReqQFullDoCookies"] > 1000
    assert c["TcpExtSyncookiesSent"] == c["TcpExtTCPReqQFullDoCookies"]
    assert c["TcpExtSyncookiesRecv"] == 10
    assert c["TcpExtTCPReqQFullDrop"] == 0


@pytest.mark.parametrize("version", ["3.10", "5.15", "6.18"])
def test_syn_flood_without_syncookies_keeps_the_real_clients_out(version):
    # linux-handshake-facts.md 1.5: with tcp_syncookies=0 the spoofed requests hold the SYN queue and every
    # further SYN, real or not, is dropped (TCPReqQFullDrop, ListenDrops)
    r = flood(version, 0)
    connected = [c for c in r.clients if c.connected_at is not None]
    assert len(connected) <= 2
    c = r.server_counters
    assert c["TcpExtTCPReqQFullDrop"] > 1000
    assert c["TcpExtListenDrops"] >= c["TcpExtTCPReqQFullDrop"]
    assert c["TcpExtSyncookiesSent"] == 0


@pytest.mark.parametrize("version", ["3.10", "6.18"])
@pytest.mark.parametrize(("syncookies", "verdict"), [(1, "Sending cookies"), (0, "Dropping request")])
def test_syn_flood_is_logged_once_per_listener(version, syncookies, verdict):
    # linux-handshake-facts.md 1.5: "Possible SYN flooding on port ...", the first time per listener
    # (synflood_warned), saying whether cookies are sent
    r = flood(version, syncookies)
    assert len(r.log) == 1
    t, line = r.log[0]
    assert "Possible SYN flooding on port" in line and "8080" in line
    assert verdict in line
    assert t == pytest.approx(next(e.time for e in r.trace if e.action in ("syn_cookie", "syn_drop_syn_queue_full")))


def test_syn_flood_log_line_on_3_10():
    # linux-handshake-facts.md 1.5: 3.10 "%s: Possible SYN flooding on port %d. %s.  Check SNMP counters."
    line = flood("3.10", 1).log[0][1]
    assert line.endswith(": Possible SYN flooding on port 8080. Sending cookies.  Check SNMP counters.")


def test_syn_flood_log_line_on_5_15():
    # 5.15.55 net/ipv4/tcp_input.c tcp_syn_flood_action: net_info_ratelimited("%s: Possible SYN flooding
    # on port %d. %s.  Check SNMP counters.\n", proto, sk->sk_num, msg), proto = rsk_ops->slab_name;
    # pr_fmt "TCP: ". The address came with 6.x.
    line = flood("5.15", 0).log[0][1]
    assert line == "TCP: request_sock_TCP: Possible SYN flooding on port 8080. Dropping request.  Check SNMP counters."


def test_syn_flood_log_line_on_6_18():
    # linux-handshake-facts.md 1.5: "6.x ratelimited, with address:port". Live 6.18.44 (listener on
    # 127.0.0.1:7200, SYN queue full): "TCP: request_sock_TCP: Possible SYN flooding on port
    # 127.0.0.1:7200. Sending cookies." The modelled listener is 10.0.0.2:8080 (model/ports.py).
    line = flood("6.18", 1).log[0][1]
    assert line == "TCP: request_sock_TCP: Possible SYN flooding on port 10.0.0.2:8080. Sending cookies."


def test_syncookies_2_does_not_log_on_6_18():
    # linux-handshake-facts.md 1.5: "no 'Possible SYN flooding' log is printed when =2"
    assert flood_with(Kernel("6.18", tcp_syncookies=2)).log == ()


def test_flood_syns_are_recorded_as_packets_from_the_flood():
    r = simulate(Scenario(kernel="6.18", backlog=64, clients=0, flood=100.0, duration=2.0))
    syns = [p for p in r.packets if p.sender == "flood"]
    assert 195 <= len(syns) <= 201
    assert all(p.kind == "SYN" and p.client is None for p in syns)
    # every spoofed SYN-ACK goes nowhere: none of them reaches a client
    assert all(p.client is None for p in r.packets if p.kind == "SYN-ACK")


def test_no_flood_means_no_flood_packets():
    r = simulate(Scenario(kernel="6.18", backlog=64, clients=3, duration=2.0))
    assert r.packets.tally(sender="flood") == 0


# ---- loss and drop by kind ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["SYN", "SYN-ACK", "ACK"])
def test_drop_loses_every_packet_of_that_kind_and_no_other(kind):
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=3, drop=(kind,), duration=10))
    for p in r.packets:
        assert p.lost == (p.kind == kind)
        assert (p.arrives is None) == p.lost
    assert r.packets.tally(kind=kind) > 0


def test_dropped_syns_never_reach_the_server():
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=3, drop=("SYN",), duration=10))
    assert [e for e in r.trace if e.host == "server" and e.action != "listen"] == []
    assert r.outcomes() == {"connecting": 3}


def test_loss_one_loses_everything():
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=3, loss=1.0, duration=10))
    assert all(p.lost for p in r.packets)
    assert r.packets.tally(kind="SYN-ACK") == 0
    assert r.outcomes() == {"connecting": 3}


def test_loss_half_loses_about_half_of_the_packets():
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=200, loss=0.5, duration=30, seed=3))
    lost = r.packets.tally(lost=True)
    assert 0.4 < lost / len(r.packets) < 0.6


def test_loss_zero_loses_nothing():
    r = simulate(Scenario(kernel="6.18", backlog=128, clients=50, loss=0.0, duration=5))
    assert r.packets.tally(lost=True) == 0
    assert r.outcomes() == {"queued": 50}


def test_lost_packets_are_retransmitted_and_the_clients_get_through():
    # moderate loss: the SYN and SYN-ACK timers repair it (1.7, 1.9)
    r = simulate(Scenario(kernel="6.18", backlog=128, clients=50, loss=0.2, accept=1000.0, duration=60, seed=2))
    assert r.packets.tally(lost=True) > 0
    assert sum(1 for c in r.clients if c.connected_at is not None) >= 45
    assert any(len(c.syn_times) > 1 for c in r.clients)
