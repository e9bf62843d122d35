"""The application's accept(): a loop at a rate, or single blocking calls at given times.

The expected times follow from the Scenario's definition of `accept` (a blocking accept() loop that
spends 1/rate s on each connection; or single blocking calls) and the kernel facts on the accept
queue: inet_csk_accept dequeues the oldest connection and decrements sk_ack_backlog
(linux-handshake-facts.md 1.4, 1.11).
"""

import pytest
from model_helpers import TEXTBOOK

from handshake_course import Kernel, Scenario, simulate

RTT = 0.01  # the final ACKs of clients starting at t=0 arrive at 1.5 * RTT = 0.015 s


@pytest.mark.parametrize("version", ["3.10", "6.18"])
def test_accept_loop_takes_one_connection_per_period(version):
    r = simulate(Scenario(kernel=version, backlog=16, clients=5, accept=2.0, rtt=RTT, duration=5))
    assert [c.accepted_at for c in r.clients] == pytest.approx([0.015 + 0.5 * i for i in range(5)])
    assert r.outcomes() == {"accepted": 5}
    assert r.ss().recv_q == 0


@pytest.mark.parametrize("version", ["3.10", "6.18"])
def test_accept_takes_connections_oldest_first(version):
    # inet_csk_accept takes rskq_accept_head: first in, first out
    r = simulate(Scenario(kernel=version, backlog=16, clients=[0.0, 0.2, 0.4], accept=[1.0, 1.1, 1.2],
                          rtt=RTT, duration=2))
    assert [c.accepted_at for c in r.clients] == [1.0, 1.1, 1.2]
    events = [e.client for e in r.trace if e.action == "accept"]
    assert events == [0, 1, 2]


def test_accept_at_given_times_leaves_the_rest_queued():
    r = simulate(Scenario(kernel="6.18", backlog=16, clients=3, accept=[1.0, 2.0], rtt=RTT, duration=3))
    assert [c.accepted_at for c in r.clients] == [1.0, 2.0, None]
    assert [c.outcome for c in r.clients] == ["accepted", "accepted", "queued"]
    assert [r.ss(t).recv_q for t in (0.5, 1.5, 2.5)] == [3, 2, 1]  # Recv-Q = sk_ack_backlog (1.11)


def test_blocking_accept_returns_when_a_connection_arrives():
    r = simulate(Scenario(kernel="6.18", backlog=16, clients=[1.0], accept=[0.0], rtt=RTT, duration=2))
    assert r.clients[0].accepted_at == pytest.approx(1.015)
    assert r.ss(1.5).recv_q == 0


def test_accept_rate_limits_throughput_and_the_queue_fills_behind_it():
    # 20 clients, one accept() per second, listen(4): 5 fit in the accept queue (1.4) at any time
    r = simulate(Scenario(kernel="6.18", backlog=4, clients=20, accept=1.0, rtt=RTT, duration=3.5))
    accepted = sorted(c.accepted_at for c in r.clients if c.accepted_at is not None)
    assert accepted == pytest.approx([0.015, 1.015, 2.015, 3.015])
    assert max(r.queues.accept) == 5


def test_no_accept_keeps_connections_queued():
    r = simulate(Scenario(kernel="6.18", backlog=16, clients=4, accept=None, rtt=RTT, duration=2))
    assert r.outcomes() == {"queued": 4}
    assert all(c.accepted_at is None for c in r.clients)
    assert [e for e in r.trace if e.action == "accept"] == []


def test_accept_frees_room_for_a_waiting_handshake():
    # listen(0): one place. Client 1's SYNs (at 0.5 and 1.5 s) are dropped while client 0 waits (6.x, 1.4);
    # accept() at 2 s makes room, so its next SYN, at 2.5 s (6.18 SYN schedule 0, 1, 2 s, 1.7), gets in.
    k = Kernel("6.18", **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=0, clients=[0.0, 0.5], accept=[2.0, 10.0], rtt=RTT, duration=12))
    assert r.clients[1].syn_times == pytest.approx((0.5, 1.5, 2.5))
    assert r.clients[1].connected_at == pytest.approx(2.5 + RTT)
    assert r.clients[1].accepted_at == 10.0
