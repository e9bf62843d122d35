"""Clients that close (``Scenario(hold=...)``): the FINs, the client's TIME_WAIT socket that holds its
ephemeral port, port exhaustion (EADDRNOTAVAIL) and ``tcp_tw_reuse``.

Expected numbers come from the kernel source (the trees of model/kernel_index.json; lines in the records
of model/kernels/ and in model/rules.py):
* tcp_close -> tcp_send_fin; the server's child: tcp_fin (CLOSE_WAIT, pingpong, so its ACK is delayed:
  tcp_send_delayed_ack with icsk_ack.ato, 0 for a child that never got data, TCP_ATO_MIN = 40 ms once it
  did); the application closes when it reads EOF (the model's decision), so its FIN carries that ACK;
* the client: tcp_rcv_state_process in FIN_WAIT1, tcp_fin -> tcp_send_ack + tcp_time_wait(TCP_TIME_WAIT),
  TCP_TIMEWAIT_LEN = 60 s; an orphan's FIN_WAIT2 -> tcp_time_wait(TCP_FIN_WAIT2, tcp_fin_time = 60 s);
* the timewait timer: 2.6.32/3.10 the death row (8 cells, a hangman every 7.5 s: 52.5-60 s); 4.1+ the
  socket's own tw_timer on the kernel's wheel (4.1-4.7 without apply_slack);
* __inet_hash_connect walks past ports held by timewait sockets unless tcp_twsk_unique lets go:
  tcp_tw_reuse nonzero (2: loopback only, 4.18+), and get_seconds() - stamp > 1 (2.6.32-4.4),
  ktime_get_seconds() > stamp (4.19-6.12), tcp_clock_ms() > tw_entry_stamp + tcp_tw_reuse_delay (6.14+);
* counters: TW in tw_timer_handler / the hangman (2.6.32-5.15) or at the first __inet_twsk_schedule (6.1+),
  TWRecycled in __inet_check_established, DelayedACKs in tcp_delack_timer_handler.
"""

from __future__ import annotations

import pytest
from model_helpers import TEXTBOOK, events, snapshot, versions_where

from handshake_course import Kernel, Scenario, data_schedule, simulate
from handshake_course.model import VERSIONS, rules
from handshake_course.model.timers import interval_bounds

PER_SOCKET = versions_where(tw_timer=("per_socket", "per_socket_no_slack"))
DEATH_ROW = versions_where(tw_timer="death_row")
HUNDRED_PORTS = (40000, 40099)
EVERY_TENTH = [round(i * 0.1, 6) for i in range(900)]  # 10 connect() calls a second for 90 s
"""100 ports, 10 connections a second, each closed 0.5 s after it opened: all 100 ports are in TIME_WAIT
(or still open) after 10 s, and the first TIME_WAIT ends about 60 s after it began."""


def actions(r, client):
    return [e.action for e in r.trace.of_client(client)]


def exhaust(version: str, **settings) -> object:
    k = Kernel(version, ip_local_port_range=HUNDRED_PORTS, **settings)
    return simulate(Scenario(kernel=k, backlog=4096, clients=EVERY_TENTH, accept=10_000.0, rtt=0.001, hold=0.5,
                             duration=95.0))


# ---- the close --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_a_close_is_fin_then_the_servers_fin_then_the_last_ack(version):
    # an accepted connection: the child's application reads EOF and closes at once, so the server's FIN
    # (carrying the ACK) leaves as the client's FIN arrives (RTT/2 later), the client's ACK one RTT after
    # its FIN; then TIME_WAIT
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, accept=100.0, rtt=0.1, hold=0.5))
    assert [(p.time, p.sender, p.kind) for p in r.packets][3:] == [
        (0.6, "client", "FIN"), (0.65, "server", "FIN"), (0.7, "client", "ACK")]
    assert actions(r, 0)[-6:] == ["close", "fin_in_child", "close_passive", "fin_in", "last_ack_in", "tw_expire"]
    c = r.clients[0]
    assert (c.outcome, c.closed_at, c.time_wait_at) == ("accepted", 0.6, 0.7)


@pytest.mark.parametrize("version", PER_SOCKET)
def test_time_wait_lasts_tcp_timewait_len_on_the_sockets_own_timer(version):
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, accept=100.0, rtt=0.1, hold=0.5))
    assert r.clients[0].time_wait_until == pytest.approx(0.7 + 60.0)
    k = Kernel(version)  # its own timers: late by the wheel's granularity (4.8+), on the tick (4.1-4.7)
    r = simulate(Scenario(kernel=k, backlog=8, clients=10, accept=100.0, rtt=0.1, hold=0.5, seed=3))
    lo, hi = interval_bounds(60.0, rules.tw_timer_mode(k), k.hz)
    for c in r.clients:
        assert lo - 1e-6 <= c.time_wait_until - c.time_wait_at <= hi + 1e-6


@pytest.mark.parametrize("version", DEATH_ROW)
def test_the_death_row_kills_a_time_wait_socket_after_52_5_to_60_s(version):
    # 2.6.32/3.10: the cell 7 ahead of the hangman's, which fires every TCP_TIMEWAIT_LEN / 8 = 7.5 s:
    # the next firing (0 to 7.5 s away) and 7 more; sockets closed over 10 s spread over that window
    k = Kernel(version)
    r = simulate(Scenario(kernel=k, backlog=4096, clients=EVERY_TENTH[:100], accept=10_000.0, rtt=0.001, hold=0.5))
    lo, hi = interval_bounds(7.5, k.timer_wheel, k.hz)
    lives = [c.time_wait_until - c.time_wait_at for c in r.clients]
    assert all(7 * lo - 1e-6 <= life <= 8 * hi + 1e-6 for life in lives)
    assert min(lives) < 53.5 and max(lives) > 59.0
    assert len({c.time_wait_until for c in r.clients}) <= 3  # whole cells die at once: a hangman tick each


@pytest.mark.parametrize("version", VERSIONS)
def test_a_child_not_accepted_acks_the_fin_late_and_closes_at_accept(version):
    # no accept() before 5 s: the child ACKs the FIN on its delayed-ACK timer (ato 0: the next tick, here
    # textbook: at once), the client's orphan becomes a FIN_WAIT2 timewait socket for tcp_fin_timeout;
    # accept() returns the child with its EOF: the application closes, the client enters TIME_WAIT then
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, accept=[5.0], rtt=0.1, hold=0.5))
    assert [(p.time, p.sender, p.kind) for p in r.packets][3:] == [
        (0.6, "client", "FIN"), (0.65, "server", "ACK"), (5.0, "server", "FIN"), (5.05, "client", "ACK")]
    assert actions(r, 0)[4:] == ["close", "fin_in_child", "fin_delack", "fin_acked", "accept", "close_passive",
                                 "fin_in_fin_wait2", "last_ack_in", "tw_expire"]
    c = r.clients[0]
    assert (c.time_wait_at, c.time_wait_until) == (5.05, pytest.approx(65.05))
    assert r.server_counters["TcpExtDelayedACKs"] == 1
    # never accepted: the FIN_WAIT2 socket holds the port 60 s, and never sees TIME_WAIT
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, rtt=0.1, hold=0.5))
    c = r.clients[0]
    assert (c.outcome, c.time_wait_at, c.time_wait_until) == ("queued", None, pytest.approx(60.7))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_child_that_got_the_request_delays_the_fins_ack_by_tcp_ato_min(version):
    # tcp_event_data_recv set ato = TCP_ATO_MIN (HZ/25) with the request: the FIN's ACK waits 40 ms
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, rtt=0.1, hold=0.5, data=True))
    c = r.clients[0]
    assert (c.data_acked_at, c.closed_at) == (0.2, 0.6)  # closes 0.5 s after connect(), request ACKed
    ack = [p for p in r.packets if p.sender == "server" and p.kind == "ACK"][-1]
    assert ack.time == pytest.approx(0.65 + 0.04)


def test_with_a_request_the_client_closes_only_once_it_is_acked():
    k = Kernel("6.18", **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, hold=0.0, data=True))
    assert r.clients[0].closed_at == r.clients[0].data_acked_at == 0.2


@pytest.mark.parametrize("version", VERSIONS)
def test_a_fin_completes_a_handshake_whose_final_ack_was_dropped(version):
    # tcp_check_req: the FIN carries the ACK of the SYN-ACK and is not a bare ACK: child made, queued, and
    # the accept() loop's application reads its EOF and closes at once
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, accept=100.0, rtt=0.1,
                          drop=("ACK",), hold=0.5, duration=5.0))
    assert actions(r, 0)[3:7] == ["close", "fin_new_child", "accept", "fin_in_child"]
    assert events(r, "close_passive")[0].time == 0.65 and r.server_counters["TcpPassiveOpens"] == 1


@pytest.mark.parametrize("version", versions_where(syncookies_always=True))
def test_a_fin_with_a_valid_syncookie_makes_the_child(version):
    # cookie_v4_check on the FIN (its sequence number is the one after the SYN): client 1's cookie ACK met
    # a full accept queue (nothing kept); accept() made room; its FIN carries the cookie
    k = Kernel(version, tcp_syncookies=2, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=0, clients=2, accept=[0.3], rtt=0.1, hold=0.3))
    assert actions(r, 1)[:7] == ["connect", "syn_cookie", "synack_in", "ack_cookie_accept_queue_full", "close",
                                 "fin_cookie", "fin_in_child"]
    assert r.server_counters["TcpExtSyncookiesRecv"] == 3 and r.server_counters["TcpPassiveOpens"] == 2


@pytest.mark.parametrize("version", ["2.6.32", "3.10", "6.18"])
def test_a_lost_fin_is_resent_on_the_data_timer_and_given_up_after_orphan_retries(version):
    # tcp_send_fin -> tcp_write_xmit: the loss probe and the RTO as for data (data_schedule); tcp_write_timeout
    # for an orphan: tcp_orphan_retries() = 8, so ((2 << 8) - 1) * 200 ms = 102.2 s after the first RTO resend
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, accept=100.0, rtt=0.3, drop=("FIN",), hold=0.5))
    fins = [p.time - 0.8 for p in r.packets if p.kind == "FIN"]
    assert [round(t, 6) for t in fins[:5]] == list(data_schedule(k, 0.3).send_times[:5])
    give_up = events(r, "fin_give_up")[0].time
    first_rto = 0.8 + data_schedule(k, 0.3).send_times[2 if k.tail_loss_probe != "off" else 1]
    assert fins[-1] + 0.8 - first_rto < 102.2 <= give_up - first_rto
    assert r.clients[0].time_wait_at is None and r.client_counters["TcpExtTCPAbortOnTimeout"] == 1


@pytest.mark.parametrize("version", ["3.10", "6.18"])
def test_a_lost_last_ack_makes_the_server_resend_its_fin_and_restarts_time_wait(version):
    # every ACK dropped: the FIN completes the handshake; the server resends its FIN on its timer until
    # tcp_orphan_retries' 102.2 s; tcp_timewait_state_process: each copy is out of window with an ACK, so
    # it is ACKed again and inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN) (2.6.32/3.10: the death row again)
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, accept=100.0, rtt=0.1, hold=0.5, drop=("ACK",),
                          duration=250.0))
    again = events(r, "fin_again_time_wait")
    server_fins = [p.time for p in r.packets if p.kind == "FIN" and p.sender == "server"]
    assert len(again) == len(server_fins) - 1 > 5 and len(events(r, "passive_fin_give_up")) == 1
    life = r.clients[0].time_wait_until - again[-1].time
    assert life == pytest.approx(60.0) if k.tw_timer != "death_row" else 52.5 <= life <= 60.0
    assert r.server_counters["TcpExtTCPAbortOnTimeout"] == 1


# ---- ports: TIME_WAIT holds them, EADDRNOTAVAIL, tcp_tw_reuse -------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_time_wait_sockets_exhaust_the_port_range_until_the_first_one_ends(version):
    r = exhaust(version, tcp_tw_reuse=0)
    first_fail = next(c for c in r.clients if c.outcome == "no_port")
    # 100 ports, one connection every 0.1 s: the 101st connect() (t = 10 s) finds every port bound or in TIME_WAIT
    assert (first_fail.index, first_fail.start, first_fail.errno) == (100, 10.0, "EADDRNOTAVAIL")
    assert all(c.port is not None for c in r.clients[:100])
    first_end = min(c.time_wait_until for c in r.clients if c.time_wait_until is not None)
    c0 = r.clients[0]
    k = Kernel(version)
    if k.tw_timer == "death_row":
        lo, hi = interval_bounds(7.5, k.timer_wheel, k.hz)
        assert 7 * lo - 1e-6 <= first_end - c0.time_wait_at <= 8 * hi + 1e-6
    else:
        lo, hi = interval_bounds(60.0, rules.tw_timer_mode(k), k.hz)
        assert lo - 1e-6 <= first_end - c0.time_wait_at <= hi + 1e-6
    # every connect() fails until then, and the first after it gets the port back
    assert all(c.outcome == "no_port" for c in r.clients if 10.0 <= c.start < first_end)
    after = next(c for c in r.clients if c.start >= first_end)
    assert after.outcome == "accepted" and after.start < first_end + 0.1
    assert r.client_counters["TcpActiveOpens"] == sum(c.port is not None for c in r.clients)
    assert "TcpExtTWRecycled" in r.client_counters and r.client_counters["TcpExtTWRecycled"] == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_tcp_tw_reuse_1_lets_connect_take_a_time_wait_port_once_its_timestamp_is_old_enough(version):
    r = exhaust(version, tcp_tw_reuse=1)
    assert "no_port" not in r.outcomes()
    reused = events(r, "connect_tw_reuse")
    assert reused and r.client_counters["TcpExtTWRecycled"] == len(reused)
    by_port = {}
    for c in r.clients:  # whose timewait socket each reuse took: the last one on that port before it
        by_port.setdefault(c.port, []).append(c)
    rule = Kernel(version).tw_reuse_check
    # how long after the last timestamp (here: entering TIME_WAIT) tcp_twsk_unique says yes at the earliest
    floor = {"seconds>1": 1.0, "seconds>0": 0.0, "delay_ms": 1.0}[rule]
    for e in reused:
        old = max((c for c in by_port[r.clients[e.client].port] if c.index < e.client), key=lambda c: c.index)
        assert old.time_wait_until == e.time and e.time - old.time_wait_at > floor


@pytest.mark.parametrize(("rule", "wait"), [("seconds>1", (1.0, 2.0)), ("seconds>0", (0.0, 1.0)),
                                            ("delay_ms", (1.0, 1.001))])
def test_the_first_moment_of_reuse_is_the_versions_clock_test(rule, wait):
    # one port, a connect() every 10 ms: the first that gets it is the first after tcp_twsk_unique's time
    for version in versions_where(tw_reuse_check=rule):
        k = Kernel(version, ip_local_port_range=(40000, 40000), tcp_tw_reuse=1, **TEXTBOOK)
        r = simulate(Scenario(kernel=k, backlog=8, clients=[i / 100 for i in range(300)], accept=100.0,
                              rtt=0.001, hold=0.0, duration=4.0))
        old, new = r.clients[0], next(c for c in r.clients[1:] if c.port is not None)
        assert wait[0] < new.start - old.time_wait_at <= wait[1] + 0.01
        assert actions(r, new.index)[0] == "connect_tw_reuse" and old.time_wait_until == new.start


def test_tcp_tw_reuse_delay_sets_the_wait_on_6_14_and_later():
    for version in versions_where(tw_reuse_check="delay_ms"):
        k = Kernel(version, ip_local_port_range=(40000, 40000), tcp_tw_reuse=1, tcp_tw_reuse_delay=0.2, **TEXTBOOK)
        r = simulate(Scenario(kernel=k, backlog=8, clients=[i / 100 for i in range(100)], accept=100.0,
                              rtt=0.001, hold=0.0, duration=2.0))
        old, new = r.clients[0], next(c for c in r.clients[1:] if c.port is not None)
        assert 0.2 < new.start - old.time_wait_at <= 0.211


@pytest.mark.parametrize("version", versions_where(tw_reuse_loopback=True))
def test_tcp_tw_reuse_2_is_loopback_only_so_between_the_two_hosts_it_acts_as_0(version):
    # 4.18+ tcp_twsk_unique: reuse == 2 needs a loopback address or the lo device; 10.0.0.1 -> 10.0.0.2 has none
    assert Kernel(version).tcp_tw_reuse == 2  # tcp_sk_init's default since 79e9fed46055
    two, zero = exhaust(version, tcp_tw_reuse=2), exhaust(version, tcp_tw_reuse=0)
    assert snapshot(two)[:7] == snapshot(zero)[:7]


@pytest.mark.parametrize("version", versions_where(tw_reuse_loopback=False))
def test_before_4_18_any_nonzero_tcp_tw_reuse_enables_reuse(version):
    assert Kernel(version).tcp_tw_reuse == 0  # a zeroed global
    assert snapshot(exhaust(version, tcp_tw_reuse=2))[:7] == snapshot(exhaust(version, tcp_tw_reuse=1))[:7]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_fin_wait2_timewait_socket_is_reused_only_where_the_kernel_allows_it(version):
    # nothing accepts: each client's socket ends as a FIN_WAIT2 timewait socket; some trees refuse to hand
    # those over (tcp_twsk_unique: tw_substate == TCP_FIN_WAIT2 -> reuse = 0)
    k = Kernel(version, ip_local_port_range=(40000, 40000), tcp_tw_reuse=1, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=[0.0, 3.0], rtt=0.001, hold=0.0, duration=10.0))
    assert r.clients[1].outcome == ("queued" if k.tw_reuse_fin_wait2 else "no_port")


# ---- counters, and nothing changes without hold ------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_tw_is_counted_when_scheduled_on_6_1_and_later_and_when_killed_before(version):
    r = exhaust(version, tcp_tw_reuse=1)
    entered = len(events(r, "fin_in")) + len(events(r, "fin_acked"))
    killed = len(events(r, "tw_expire"))
    assert r.client_counters["TcpExtTW"] == (entered if Kernel(version).tw_counter == "at_schedule" else killed)


def test_without_hold_connections_stay_open_and_nothing_of_the_close_shows():
    r = simulate(Scenario(backlog=8, clients=3, accept=10.0, rtt=0.1, duration=100.0))
    assert all(c.closed_at is None and c.time_wait_until is None for c in r.clients)
    assert "FIN" not in r.packets.kind_counts() and "TcpExtTW" not in r.counters
    assert "closed_at" not in repr(r.clients[0])


def test_hold_is_reproducible():
    s = Scenario(kernel=Kernel("6.18", ip_local_port_range=HUNDRED_PORTS, tcp_tw_reuse=1), backlog=64,
                 clients=EVERY_TENTH[:300], accept=50.0, rtt=0.01, loss=0.1, hold=0.5, seed=9, duration=40.0)
    assert snapshot(simulate(s)) == snapshot(simulate(s.replace()))
