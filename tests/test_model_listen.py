"""listen(): the backlog clamp, the accept-queue limit and the SYN-queue limit, per kernel version.

Sources: linux-handshake-facts.md (sections 1.2-1.4) and live measurements on this project's machine
(Linux 6.18.44, a fresh network namespace, Python sockets; ``ss -lnt``, ``ss -nt state syn-recv``,
``nstat -az``).
"""

import pytest
from model_helpers import versions_where

from handshake_course import Kernel, Scenario, accept_capacity, simulate, syn_queue_capacity
from handshake_course.model import VERSIONS


def listener(kernel, backlog):
    return simulate(Scenario(kernel=kernel, backlog=backlog, clients=0)).listener


# ---- the somaxconn clamp -------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_listen_backlog_above_somaxconn_is_clamped_to_somaxconn(version):
    # linux-handshake-facts.md 1.2: __sys_listen: if ((unsigned int)backlog > somaxconn) backlog = somaxconn
    k = Kernel(version, somaxconn=100)
    lst = listener(k, 1000)
    assert lst.backlog == 100
    assert lst.accept_capacity == 101


@pytest.mark.parametrize(("version", "somaxconn"), [("2.6.32", 128), ("3.10", 128), ("5.15", 4096), ("6.18", 4096)])
def test_listen_default_somaxconn_is_128_before_5_4_and_4096_since(version, somaxconn):
    # linux-handshake-facts.md 1.2: SOMAXCONN 128 (3.10), 4096 since 5.4 (19f92a030ca6);
    # live 6.18.44: listen(fd, 100000) -> ss Send-Q 4096
    assert listener(Kernel(version), 100_000).backlog == somaxconn


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backlog", [-1, -100, -(2**31)])
def test_listen_negative_backlog_becomes_somaxconn(version, backlog):
    # linux-handshake-facts.md 1.2: the unsigned compare turns a negative backlog into somaxconn;
    # live 6.18.44: libc listen(fd, -1) and listen(fd, -100) -> ss Send-Q 4096 (= somaxconn)
    k = Kernel(version)
    assert listener(k, backlog).backlog == k.somaxconn


def test_listen_backlog_wraps_at_16_bits_on_2_6_32():
    # linux-handshake-facts.md 1.2: 2.6.32 keeps sk_max_ack_backlog in an unsigned short (2.6.32.2
    # include/net/sock.h:277) and its somaxconn sysctl is plain proc_dointvec (net/core/sysctl_net_core.c:
    # 115-120), so somaxconn=100000 and listen(70000) store 70000 & 0xffff = 4464; 65536 wraps to 0
    # (which still admits one connection, 1.4)
    k = Kernel("2.6.32", somaxconn=100_000)
    assert listener(k, 70_000).backlog == 4464
    assert accept_capacity(k, 70_000) == 4465
    assert listener(k, 65_536).backlog == 0
    assert accept_capacity(k, 65_536) == 1


def test_3_10_refuses_a_somaxconn_above_65535_so_its_backlog_never_wraps():
    # 3.10.108 net/core/sysctl_net_core.c:207-213: somaxconn is proc_dointvec_minmax with .extra2 =
    # &ushort_max (5f671d6b4ec3), so `sysctl -w net.core.somaxconn=70000` fails with EINVAL; the
    # 16-bit sk_max_ack_backlog then always holds the clamped backlog
    with pytest.raises(ValueError, match=r"somaxconn must be from 0 to 65535 on Linux 3\.10; got 70000"):
        Kernel("3.10", somaxconn=70_000)
    k = Kernel("3.10", somaxconn=65_535)
    assert listener(k, 70_000).backlog == 65_535
    assert accept_capacity(k, 70_000) == 65_536


@pytest.mark.parametrize("version", versions_where(backlog_bits=32))
def test_listen_backlog_does_not_wrap_on_new_kernels(version):
    # linux-handshake-facts.md 1.2: u32 since 4.19; live 6.18.44: somaxconn=70000, listen(70000) -> Send-Q 70000
    k = Kernel(version, somaxconn=70_000)
    assert listener(k, 70_000).backlog == 70_000
    assert accept_capacity(k, 70_000) == 70_001


def test_listen_syn_table_is_sized_from_the_unwrapped_backlog_on_2_6_32():
    # linux-handshake-facts.md 1.2: 2.6.32 inet_listen -> inet_csk_listen_start(sk, backlog) ->
    # reqsk_queue_alloc(queue, backlog) sizes the table; only afterwards sk->sk_max_ack_backlog = backlog
    # (unsigned short; 2.6.32.2 net/ipv4/af_inet.c). 1.3: min(70000, M=100000) = 70000,
    # roundup_pow_of_two(70001) = 131072.
    k = Kernel("2.6.32", somaxconn=100_000, tcp_max_syn_backlog=100_000)
    lst = listener(k, 70_000)
    assert lst.backlog == 4464
    assert lst.syn_table == 131_072


# ---- the accept queue: backlog + 1 -----------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_accept_queue_holds_backlog_plus_one(version):
    # linux-handshake-facts.md 1.4: sk_acceptq_is_full() is sk_ack_backlog > sk_max_ack_backlog, checked
    # before adding, so B+1 fit; live 6.18.44: listen(2), 6 clients, no accept() -> ss Recv-Q 3
    r = simulate(Scenario(kernel=version, backlog=2, clients=6, duration=5))
    assert max(r.queues.accept) == 3
    assert r.ss().recv_q == 3
    assert r.ss().send_q == 2
    assert r.outcomes()["queued"] == 3


@pytest.mark.parametrize("version", VERSIONS)
def test_listen_zero_still_admits_one_connection(version):
    # linux-handshake-facts.md 1.4: "listen(fd,0) still admits one"; live 6.18.44: listen(0) -> Recv-Q 1
    r = simulate(Scenario(kernel=version, backlog=0, clients=3, duration=5))
    assert r.listener.accept_capacity == 1
    assert r.outcomes()["queued"] == 1
    assert r.ss().recv_q == 1


# ---- the SYN queue ---------------------------------------------------------------------------------

# linux-handshake-facts.md 1.3, worked table (3.10, M=256 unless noted): listen(B) -> accept cap, SYN cap
WORKED_TABLE = [
    (0, 256, 1, 16), (1, 256, 2, 16), (5, 256, 6, 16), (7, 256, 8, 16), (8, 256, 9, 16),
    (100, 256, 101, 128), (128, 256, 129, 256), (128, 128, 129, 256),
    (511, 1024, 512, 512), (512, 1024, 513, 1024),
]


@pytest.mark.parametrize("version", versions_where(syn_queue_limit="table"))
@pytest.mark.parametrize(("backlog", "max_syn_backlog", "accept_cap", "syn_cap"), WORKED_TABLE)
def test_syn_queue_limit_is_the_power_of_two_table_on_old_kernels(version, backlog, max_syn_backlog,
                                                                   accept_cap, syn_cap):
    # linux-handshake-facts.md 1.3: 3.10 reqsk_queue_alloc: roundup_pow_of_two(max(min(B, M), 8) + 1),
    # full when qlen >= nr_table_entries (somaxconn raised so that B is not clamped)
    k = Kernel(version, tcp_max_syn_backlog=max_syn_backlog, somaxconn=4096)
    assert accept_capacity(k, backlog) == accept_cap
    assert syn_queue_capacity(k, backlog) == syn_cap
    lst = listener(k, backlog)
    assert (lst.accept_capacity, lst.syn_table, lst.syn_capacity) == (accept_cap, syn_cap, syn_cap)


@pytest.mark.parametrize(("version", "backlog", "syn_cap"), [
    ("5.15", 0, 0), ("5.15", 4, 4), ("5.15", 100, 100),   # 4.4-6.12: full when qlen >= B
    ("6.18", 0, 1), ("6.18", 4, 5), ("6.18", 100, 101),   # 6.13+: full when qlen > B (3479c7549fb1)
])
def test_syn_queue_limit_follows_the_backlog_on_new_kernels(version, backlog, syn_cap):
    # linux-handshake-facts.md 1.3: inet_csk_reqsk_queue_is_full(); tcp_max_syn_backlog plays no part
    k = Kernel(version, tcp_max_syn_backlog=8)
    assert syn_queue_capacity(k, backlog) == syn_cap
    assert listener(k, backlog).syn_capacity == syn_cap
    assert listener(k, backlog).syn_table is None


@pytest.mark.parametrize(("version", "backlog", "syn_cap"), [
    ("3.10", 0, 16),   # 1.3 worked table: listen(0) -> 16 slots
    ("5.15", 4, 4),    # 1.3: qlen >= B
    ("6.18", 4, 5),    # 1.3: qlen > B; live 6.18.44: listen(4), 10 clients, final ACKs dropped by
                       # nftables, tcp_syncookies=0 -> 5 SYN-RECV, TCPReqQFullDrop 5, ListenDrops 5
])
def test_syn_queue_fills_to_its_limit_then_drops_syns_without_syncookies(version, backlog, syn_cap):
    clients = syn_cap + 5
    k = Kernel(version, tcp_syncookies=0)
    r = simulate(Scenario(kernel=k, backlog=backlog, clients=clients, drop=("ACK",), duration=0.5))
    assert max(r.queues.syn) == syn_cap
    assert r.ss().syn_recv == syn_cap
    # duration < 1 s: no SYN is retransmitted yet, so each extra client's single SYN is dropped once
    assert r.server_counters["TcpExtTCPReqQFullDrop"] == 5
    assert r.server_counters["TcpExtListenDrops"] == 5
    assert r.server_counters["TcpExtListenOverflows"] == 0


def test_listen_zero_without_syncookies_admits_nobody_on_5_15():
    # linux-handshake-facts.md 1.3: before 3479c7549fb1 (6.13, Jan 2025 stable) qlen >= 0 is always true:
    # "with listen(fd,0) and tcp_syncookies=0 no connection could be made"; 5.15.55 predates the backport
    r = simulate(Scenario(kernel=Kernel("5.15", tcp_syncookies=0), backlog=0, clients=1))
    client = r.clients[0]
    assert client.outcome == "timed_out"
    assert r.packets.tally(kind="SYN-ACK") == 0
    assert r.server_counters["TcpExtTCPReqQFullDrop"] == len(client.syn_times) == 7  # 1.7: n=6 -> 7 SYNs


def test_listen_zero_without_syncookies_works_on_6_18():
    # linux-handshake-facts.md 1.3: 6.13+ qlen > 0 is false for the first SYN;
    # live 6.18.44: tcp_syncookies=0, listen(0), one client -> connected, Recv-Q 1
    r = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=0, clients=1))
    assert r.clients[0].outcome == "queued"
    assert r.server_counters["TcpExtTCPReqQFullDrop"] == 0


# ---- tcp_max_syn_backlog: the last quarter ---------------------------------------------------------

@pytest.mark.parametrize("version", versions_where(syn_path_counters=True))
def test_max_syn_backlog_last_quarter_limits_requests_without_syncookies(version):
    # linux-handshake-facts.md 1.3: with tcp_syncookies=0 an unproven peer is dropped once
    # M - qlen < M >> 2: M=128 -> at most 97 requests. The SYN queue itself would hold 256 (3.10
    # table for min(200, 128)), 200 (5.15) or 201 (6.18), so only the last-quarter rule stops it.
    k = Kernel(version, tcp_max_syn_backlog=128, tcp_syncookies=0, somaxconn=4096)
    assert syn_queue_capacity(k, 200) == 97
    r = simulate(Scenario(kernel=k, backlog=200, clients=120, drop=("ACK",), duration=0.5))
    assert max(r.queues.syn) == 97
    assert r.trace.actions_count()["syn_drop_last_quarter"] == 120 - 97
    assert r.server_counters["TcpExtListenDrops"] == 120 - 97  # the drop: label counts it
    assert r.server_counters["TcpExtTCPReqQFullDrop"] == 0     # the SYN queue was never full


@pytest.mark.parametrize("version", VERSIONS)
def test_max_syn_backlog_last_quarter_does_not_apply_with_syncookies(version):
    # linux-handshake-facts.md 1.3: the rule needs tcp_syncookies == 0
    k = Kernel(version, tcp_max_syn_backlog=128, tcp_syncookies=1, somaxconn=4096)
    r = simulate(Scenario(kernel=k, backlog=200, clients=120, drop=("ACK",), duration=0.5))
    assert max(r.queues.syn) == 120
    assert r.trace.actions_count()["syn_drop_last_quarter"] == 0


# ---- ss --------------------------------------------------------------------------------------------

def test_ss_shows_accept_queue_backlog_and_syn_recv_over_time():
    # linux-handshake-facts.md 1.11: LISTEN Recv-Q = sk_ack_backlog, Send-Q = sk_max_ack_backlog, and
    # the requests show as SYN-RECV sockets. rtt 0.01: the SYNs arrive at 0.005 s, the final ACKs at
    # 0.015 s; the single accept() at 2 s takes one connection.
    r = simulate(Scenario(kernel="6.18", backlog=4, clients=[0.0, 0.0, 0.0], accept=[2.0], rtt=0.01,
                          duration=3))
    assert (r.ss(0.0).recv_q, r.ss(0.0).syn_recv) == (0, 0)
    assert (r.ss(0.012).recv_q, r.ss(0.012).syn_recv) == (0, 3)   # SYNs in at 0.005, ACKs at 0.015
    assert (r.ss(1.0).recv_q, r.ss(1.0).syn_recv) == (3, 0)
    assert r.ss(2.5).recv_q == 2
    assert {r.ss(t).send_q for t in (0.0, 1.0, 2.5)} == {4}


def test_ss_without_listener_is_an_error():
    r = simulate(Scenario(kernel="6.18", backlog=None, clients=1))
    assert r.listener is None
    with pytest.raises(ValueError, match="no listener"):
        r.ss()
