"""SO_REUSEPORT listener groups (``Scenario(listeners=N)``): N listening sockets on one port, each with
its own queues and accept(), the kernel choosing one per connection by the hash of its 4-tuple.

Expected numbers come from the kernel source (the trees of model/kernel_index.json; lines in the records'
``reuseport``, ``ehashfn`` and ``synq_overflow_stamp`` facts):
* 3.9-4.5 (``reuseport="score"``): __inet_lookup_listener walks the port's listening bucket, newest
  listen() first (__inet_hash adds at the head), and among equal scores keeps the first unless
  reciprocal_scale(phash, matches) == 0 picks a later one, phash stepping by next_pseudo_random32;
* 4.6+ (``"group"``): reuseport_select_sock -> socks[reciprocal_scale(phash, num_socks)], the group in
  listen() order;
* phash = inet_ehashfn: jhash_3words of the 4-tuple with a secret drawn at boot (the model draws it from
  the seed); the jhash_3words values below were computed by compiling each tree's include/linux/jhash.h
  with gcc;
* each listener has its own accept queue (sk_acceptq_is_full: backlog + 1), SYN queue and "Possible
  SYN flooding" warning (its request_sock_queue); 2.6.32 has no SO_REUSEPORT (it came in 3.9).
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from model_helpers import TEXTBOOK, events, snapshot, versions_where

from handshake_course import Kernel, Scenario, simulate
from handshake_course.model.rules import (
    jhash_3words,
    next_pseudo_random32,
    reciprocal_scale,
    reuseport_listener,
)

REUSEPORT = versions_where(reuseport=("score", "group"))


def server_actions(r, client):
    return [e.action for e in r.trace.of_client(client) if e.host == "server"]


def listener_of_client(r, client):
    """The listeners the server's events for one client were on."""
    return {e.listener for e in r.trace.of_client(client) if e.host == "server"}


# ---- the kernel's hash and choice ------------------------------------------------------------------------

@pytest.mark.parametrize(("style", "expected"), [
    # gcc on 6.18.24's include/linux/jhash.h (4.4-6.18 have the same jhash_3words: initval + JHASH_INITVAL + 12)
    ("jhash_nwords", (3163471742, 2164462655, 3528599840)),
    # gcc on 3.10.108's: a, b += JHASH_INITVAL; c += initval
    ("jhash_initval", (1420539897, 334331771, 2040241926)),
    # gcc on 2.6.32.2's: lookup2, JHASH_GOLDEN_RATIO
    ("jhash_golden", (1620342238, 3508677200, 1342284507)),
])
def test_jhash_3words_is_the_kernels(style, expected):
    words = [(0x0200000A, 0x0100000A, (8080 << 16) | 0x3C8C, 0x12345678), (1, 2, 3, 4),
             (0xFFFFFFFF, 0, 0xDEADBEEF, 0x9E3779B9)]
    assert tuple(jhash_3words(style, *w) for w in words) == expected


def test_a_group_picks_socks_reciprocal_scale_of_the_hash():
    # reuseport_select_sock: (u32)(((u64) hash * num_socks) >> 32), socks[] in listen() order
    for version in versions_where(reuseport="group"):
        k = Kernel(version)
        assert [reuseport_listener(k, 4, h) for h in (0, 2**30 - 1, 2**30, 2**31, 3 * 2**30, 2**32 - 1)] == [
            0, 0, 1, 2, 3, 3]


def test_the_old_lookup_walks_newest_first_and_replaces_on_a_zero_scale():
    # __inet_lookup_listener (3.10, 4.4) with 3 listeners: the walk meets 2, 1, 0 (newest first); 2 takes
    # phash; 1 replaces it if (phash * 2) >> 32 == 0; then phash' = phash * 1664525 + 1013904223 (u32) and 0
    # replaces the choice if (phash' * 3) >> 32 == 0. By hand:
    #   0:       (0 * 2) >> 32 = 0 -> 1; phash' = 1013904223, * 3 >> 32 = 0 -> 0
    #   2**30:   2**31 >> 32 = 0 -> 1; phash' = 2**30 + 1013904223 = 2087645047, * 3 >> 32 = 1 -> stays 1
    #   2**31:   2**32 >> 32 = 1 -> 2; phash' = 2**31 + 1013904223 = 3161387871, * 3 >> 32 = 2 -> stays 2
    #   3*2**30: -> 2; phash' = 3*2**30 + 1013904223 = 4235129695, * 3 >> 32 = 2 -> stays 2
    #   2**32-1: -> 2; phash' = 1013904223 - 1664525 = 1012239698, * 3 >> 32 = 0 -> 0
    for version in versions_where(reuseport="score"):
        k = Kernel(version)
        assert [reuseport_listener(k, 3, h) for h in (0, 2**30, 2**31, 3 * 2**30, 2**32 - 1)] == [0, 1, 2, 2, 0]
        assert reuseport_listener(k, 1, 2**32 - 1) == 0
    assert next_pseudo_random32(2**32 - 1) == 1012239698 and reciprocal_scale(2**30, 2) == 0


# ---- where connections go ----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", REUSEPORT)
def test_one_connections_syns_and_final_ack_reach_one_listener(version):
    # SYN-ACKs lost at first: every SYN retransmission (tcp_check_req on the request sock, 4.4+ found in the
    # ehash with its rsk_listener; 3.10 through the same listener lookup) and the final ACK reach the listener
    # of the first SYN
    r = simulate(Scenario(kernel=version, backlog=16, clients=40, listeners=4, loss=0.3, rtt=0.01, duration=40,
                          seed=3))
    assert events(r, "syn_again") and events(r, "ack_new_child")
    for c in r.clients:
        assert len(listener_of_client(r, c.index)) == 1


@pytest.mark.parametrize("version", REUSEPORT)
def test_the_spread_of_10000_connections_over_4_listeners_is_binomial(version):
    # a uniform 32-bit hash scaled to 4 (or the old walk's choice, each listener 1/4): each listener's share
    # is Binomial(10000, 1/4), mean 2500, sd sqrt(10000 * 1/4 * 3/4) = 43.3; within 4 sd (173)
    clients = [i * 0.0005 for i in range(10_000)]
    r = simulate(Scenario(kernel=version, backlog=128, clients=clients, listeners=4, accept=1e5, duration=6.0))
    first = {}
    for e in r.trace:
        if e.host == "server" and e.client is not None:
            first.setdefault(e.client, e.listener)
    spread = Counter(first.values())
    assert len(first) == 10_000 and set(spread) == {0, 1, 2, 3}
    sd = math.sqrt(10_000 * 0.25 * 0.75)
    assert all(abs(n - 2500) <= 4 * sd for n in spread.values()), spread


@pytest.mark.parametrize("version", REUSEPORT)
def test_n_listeners_each_hold_backlog_plus_one_in_their_accept_queues(version):
    # sk_acceptq_is_full per listener: sk_ack_backlog > sk_max_ack_backlog, so backlog + 1 each and
    # N * (backlog + 1) for the group; nobody accept()s
    r = simulate(Scenario(kernel=version, backlog=2, clients=[i * 0.01 for i in range(60)], listeners=3,
                          duration=2.0))
    assert len(r.listeners) == 3 and r.listener == r.listeners[0]
    assert all(lst.accept_capacity == 3 for lst in r.listeners)
    assert [r.ss(listener=i).recv_q for i in range(3)] == [3, 3, 3]
    assert r.outcomes()["queued"] == 3 * 3
    assert [max(r.queues_of(i).accept) for i in range(3)] == [3, 3, 3]
    assert r.queues is r.queues_of(0) and r.ss() == r.ss(listener=0)


@pytest.mark.parametrize("version", REUSEPORT)
def test_each_listener_accepts_only_its_own_connections(version):
    # each worker's accept() (inet_csk_accept) takes from its own listener's queue: accept at 1 s and 2 s on
    # each of 3 listeners takes 2 from each
    r = simulate(Scenario(kernel=version, backlog=8, clients=[i * 0.01 for i in range(30)], listeners=3,
                          accept=[1.0, 2.0], duration=3.0))
    accepts = events(r, "accept")
    assert len(accepts) == 6
    assert Counter(e.listener for e in accepts) == {0: 2, 1: 2, 2: 2}
    for e in accepts:
        assert listener_of_client(r, e.client) == {e.listener}
    assert r.outcomes()["accepted"] == 6


@pytest.mark.parametrize("version", REUSEPORT)
def test_an_accept_loop_runs_on_every_listener(version):
    # accept=rate: each listener's loop handles at most rate connections a second
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=64, clients=40, listeners=4, accept=2.0,
                          duration=1.9))
    per = Counter(e.listener for e in events(r, "accept"))
    assert set(per) == {0, 1, 2, 3} and all(n == 4 for n in per.values())  # at 0, 0.5, 1.0, 1.5 s


@pytest.mark.parametrize("version", REUSEPORT)
def test_a_spoofed_flood_fills_every_listeners_syn_queue(version):
    # random source addresses hash over the group; with tcp_syncookies=0 each listener's SYN queue fills to
    # its own limit, and each listener warns once (its request_sock_queue's synflood_warned)
    k = Kernel(version, tcp_syncookies=0)
    r = simulate(Scenario(kernel=k, backlog=8, clients=0, listeners=3, flood=1000.0, duration=1.0))
    cap = r.listener.syn_capacity
    assert [r.ss(listener=i).syn_recv for i in range(3)] == [cap] * 3
    assert len(r.log) == 3
    assert Counter(e.listener for e in events(r, "syn_new")) == {0: cap, 1: cap, 2: cap}


@pytest.mark.parametrize("version", versions_where(reuseport=("score", "group"), synack_timer="per_request"))
def test_a_late_ack_is_checked_against_its_listeners_or_the_groups_cookie_stamp(version):
    # tcp_synq_overflow / tcp_synq_no_recent_overflow: 4.4 stamps the listener (rx_opt.ts_recent_stamp),
    # 4.19+ the group (reuse->synq_overflow_ts). A client alone on its listener never made it send a cookie;
    # its request expires (tcp_synack_retries=0: at 1 s) before its ACK comes back (rtt 2.5 s). With the
    # group's stamp recent (another listener sent cookies at 1.25 s) that ACK is checked as a cookie and fails
    # (SyncookiesFailed, RST); with the listener's own stamp it is an ACK without a request (RST only).
    # (The client's SYN, resent at 1 s, restarts the request's timer; 6.5+'s linear SYN timeouts are off so
    # that no later one does.)
    linear = {"tcp_syn_linear_timeouts": 0} if Kernel(version).has("tcp_syn_linear_timeouts") else {}
    k = Kernel(version, tcp_syncookies=1, tcp_synack_retries=0, **linear, **TEXTBOOK)
    for seed in range(1, 200):  # a seed that puts one client alone and three or more on another listener
        r = simulate(Scenario(kernel=k, backlog=1, clients=6, listeners=3, rtt=2.5, duration=10, seed=seed))
        on = {c.index: listener_of_client(r, c.index).pop() for c in r.clients}
        per = Counter(on.values())
        lone = [c for c, listener in on.items() if per[listener] == 1]
        if lone and max(per.values()) >= 3:
            break
    else:
        pytest.fail("no seed spreads the clients so")
    assert events(r, "syn_cookie") and events(r, "synack_give_up", lone[0])
    late = server_actions(r, lone[0])[-1]
    assert late == ("ack_cookie_invalid" if k.synq_overflow_stamp == "group" else "ack_no_request")


@pytest.mark.parametrize("version", REUSEPORT)
def test_server_events_say_which_listener_and_client_events_do_not(version):
    r = simulate(Scenario(kernel=version, backlog=8, clients=10, listeners=2, duration=2.0))
    assert [e.listener for e in events(r, "listen")] == [0, 1]
    assert all(e.listener in (0, 1) for e in r.trace if e.host == "server")
    assert all(e.listener is None for e in r.trace if e.host == "client")
    assert "listener=" in repr(events(r, "syn_new")[0])


def test_one_listener_gives_the_results_of_before():
    # tests/test_model_digest.py holds listeners=1 results bit-identical; here: no listener column, no
    # listener in a trace event's repr, the one listener listed
    r = simulate(Scenario(kernel="6.18", backlog=4, clients=8, duration=2.0))
    assert r.trace.listeners is None and all(e.listener is None for e in r.trace)
    assert "listener=" not in repr(r.trace[0])
    assert r.listeners == (r.listener,) and r.listener_queues == (r.queues,)
    assert snapshot(r) == snapshot(simulate(Scenario(kernel="6.18", backlog=4, clients=8, duration=2.0,
                                                     listeners=1)))


def test_the_same_seed_gives_the_same_group_run():
    sc = Scenario(kernel="5.15", backlog=4, clients=30, listeners=3, loss=0.2, accept=3.0, duration=10, seed=9)
    a, b = simulate(sc), simulate(sc.replace())
    assert snapshot(a) == snapshot(b)
    assert [list(a.queues_of(i).accept) for i in range(3)] == [list(b.queues_of(i).accept) for i in range(3)]


def test_2_6_32_has_no_so_reuseport():
    with pytest.raises(ValueError, match="listeners must be 1 on Linux 2.6.32: SO_REUSEPORT came in Linux 3.9"):
        Scenario(kernel="2.6.32", listeners=2)
    assert simulate(Scenario(kernel="2.6.32", listeners=1, clients=1)).clients[0].outcome == "queued"


@pytest.mark.parametrize(("value", "message"), [
    (0, "listeners must be a whole number from 1 to 65535"), (70_000, "from 1 to 65535"), (2.0, "whole number"),
])
def test_a_bad_group_size_is_refused_with_its_range(value, message):
    with pytest.raises(ValueError, match=message):
        Scenario(listeners=value)
    with pytest.raises(ValueError, match="listeners must be 1 when nothing listens"):
        Scenario(backlog=None, listeners=2)


def test_queues_of_and_ss_name_a_bad_listener():
    r = simulate(Scenario(backlog=4, clients=4, listeners=2, duration=1.0))
    with pytest.raises(ValueError, match="listener must be a listener's number from 0 to 1; got 2"):
        r.ss(listener=2)
