"""Clients that speak first (``Scenario(data=True)``): each client writes a request once connect()
returns, as HTTP, TLS and database clients do. The request is one DATA segment with its own
retransmission timer; it carries the ACK of the SYN-ACK, so it completes a handshake whose bare final
ACK was dropped, as soon as the accept queue has room.

Expected numbers come from the kernel source (2.6.32.2, 3.10.108, 4.4.302 ... 6.18.24, the trees of
model/kernel_index.json; lines in the records of model/kernels/):
* the RTT sample on the SYN-ACK: tcp_ack_update_rtt (2.6.32/3.10: always the timestamp echo; 4.x+: the
  SYN's send time unless it was retransmitted, then the echo), whose TSecr is req->ts_recent, the
  TSval of the SYN that made the request (tcp_openreq_init; tcp_check_req returns on a retransmitted
  SYN before it could update it);
* the RTO from one sample: tcp_rtt_estimator "no previous measure" (srtt = m, mdev = 2m, rttvar =
  max(mdev, tcp_rto_min)) and __tcp_set_rto: m + max(2m, TCP_RTO_MIN = 200 ms), at most TCP_RTO_MAX;
* the tail loss probe: tcp_schedule_loss_probe, 3.10-4.12 max(2 srtt, 1.5 srtt + TCP_DELACK_MAX, 10 ms),
  4.13+ 2 srtt + TCP_RTO_MIN, never after the RTO; tcp_send_loss_probe re-arms the RTO in full;
* tcp_retransmit_timer doubles the RTO; tcp_write_timeout gives up after tcp_model_timeout(tcp_retries2,
  TCP_RTO_MIN) from the first RTO retransmission: 924.6 s at 15.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from model_helpers import TEXTBOOK, events, snapshot, versions_where

from handshake_course import Kernel, Scenario, data_schedule, simulate, syn_schedule, synack_schedule
from handshake_course.model import VERSIONS
from handshake_course.model.rules import data_give_up_us, data_rto_us, loss_probe_after_us, rtt_sample_us
from handshake_course.model.timers import interval_bounds

LESSON_04 = dict(backlog=2, clients=[0.0, 0.2, 0.2, 0.2], accept=[0.5], rtt=0.1, duration=10.0)
"""Lesson 04's accept queue: client 0 is queued, clients 1 and 2 fill the rest (backlog + 1 = 3), client
3's final ACK (at 0.35 s) finds it full; accept() makes room at 0.5 s."""


def actions(r, client):
    return [e.action for e in r.trace.of_client(client)]


# ---- nothing lost ------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_the_request_leaves_with_the_final_ack_and_is_acked_one_rtt_later(version):
    # tcp_rcv_synsent_state_process sends the ACK at once (no write pending during a blocking
    # connect()), then write() sends the DATA; the new child takes it and ACKs at once (its first data:
    # tcp_event_data_recv -> quickack), so the client hears back one RTT later and no timer fires
    r = simulate(Scenario(kernel=Kernel(version, **TEXTBOOK), backlog=8, clients=1, rtt=0.1, data=True))
    c = r.clients[0]
    assert (c.connected_at, c.data_times, c.data_acked_at) == (0.1, (0.1,), 0.2)
    assert c.request_latency == pytest.approx(0.1) and c.rtt_sample == 0.1
    assert [(p.time, p.sender, p.kind) for p in r.packets] == [
        (0.0, "client", "SYN"), (0.05, "server", "SYN-ACK"), (0.1, "client", "ACK"), (0.1, "client", "DATA"),
        (0.15, "server", "ACK")]
    assert actions(r, 0) == ["connect", "syn_new", "synack_in", "data_send", "ack_new_child", "data_in",
                             "data_acked"]
    assert r.client_counters["TcpRetransSegs"] == 0 and r.client_counters["TcpExtTCPTimeouts"] == 0


def test_without_data_the_clients_send_nothing_after_the_handshake():
    r = simulate(Scenario(backlog=8, clients=3, rtt=0.1))
    assert all(c.data_times == () and c.data_acked_at is None and c.rtt_sample is None for c in r.clients)
    assert "DATA" not in r.packets.kind_counts()
    assert "TcpExtTCPLossProbes" not in r.counters  # nothing a request could bump is shown


# ---- the RTO and the loss probe ----------------------------------------------------------------------

@pytest.mark.parametrize(("sample", "rto"), [(0.1, 0.3), (0.05, 0.25), (0.3, 0.9), (1.1, 3.3), (50.0, 120.0)])
def test_the_rto_after_one_sample_is_m_plus_max_2m_and_200_ms(sample, rto):
    # tcp_rtt_estimator's first measure and __tcp_set_rto; tcp_bound_rto caps it at TCP_RTO_MAX (120 s)
    for version in VERSIONS:
        assert data_rto_us(version, round(sample * 1e6)) == round(rto * 1e6)


@pytest.mark.parametrize(("rule", "sample", "probe"), [
    ("2srtt+rto_min", 0.3, 0.8),     # 2 * 0.3 + 0.2, before the RTO of 0.9
    ("2srtt+rto_min", 0.1, 0.3),     # 0.4 would be after the RTO (0.3): the probe fires at the RTO
    ("1.5rtt+delack", 0.3, 0.65),    # max(0.6, 0.45 + 0.2, 0.01)
    ("1.5rtt+delack", 0.1, 0.3),     # max(0.2, 0.35) = 0.35, after the RTO (0.3)
    ("off", 0.3, None),
])
def test_the_loss_probe_comes_at_the_versions_timeout_but_never_after_the_rto(rule, sample, probe):
    m = round(sample * 1e6)
    for version in versions_where(tail_loss_probe=rule):
        k = Kernel(version)
        got = loss_probe_after_us(k, m, data_rto_us(k, m))
        assert got == (None if probe is None else round(probe * 1e6))


@pytest.mark.parametrize(("rule", "sends"), [
    ("2srtt+rto_min", (0.0, 0.8, 1.7, 3.5, 7.1)),   # probe, then RTOs of 0.9, 1.8, 3.6 from it
    ("1.5rtt+delack", (0.0, 0.65, 1.55, 3.35, 6.95)),
    ("off", (0.0, 0.9, 2.7, 6.3, 13.5)),            # 2.6.32: no probe, RTOs of 0.9, 1.8, 3.6, 7.2
])
def test_a_lost_request_is_sent_again_on_its_own_timer(rule, sends):
    for version in versions_where(tail_loss_probe=rule):
        k = Kernel(version, **TEXTBOOK)
        r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.3, drop=("DATA",), data=True, duration=20))
        c = r.clients[0]
        assert c.rtt_sample == 0.3 and c.data_acked_at is None
        assert [round(t - c.data_times[0], 6) for t in c.data_times[:5]] == list(sends)
        assert data_schedule(k, 0.3).send_times[:5] == sends
        first = ["data_tlp", "data_rto_first"] if rule != "off" else ["data_rto_first", "data_rto"]
        assert [a for a in actions(r, 0) if a.startswith("data_")][1:3] == first


@pytest.mark.parametrize("version", versions_where(tail_loss_probe=("1.5rtt+delack", "2srtt+rto_min")))
def test_a_loss_probe_counts_tcplossprobes_and_since_4x_retranssegs(version):
    # tcp_send_loss_probe: TCPLossProbes; RetransSegs is counted in __tcp_retransmit_skb since 4.x,
    # only in tcp_retransmit_skb (RTO, fast retransmit) on 3.10 (record: loss_probe_retrans_segs)
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.3, drop=("DATA",), data=True, duration=2.0))
    assert [a for a in actions(r, 0) if a.startswith("data_")] == ["data_send", "data_tlp", "data_rto_first"]
    c = r.client_counters
    assert c["TcpExtTCPLossProbes"] == 1 and c["TcpExtTCPTimeouts"] == 1
    assert c["TcpRetransSegs"] == (2 if version != "3.10" else 1)


@pytest.mark.parametrize("version", ["2.6.32", "6.18"])
def test_a_request_nobody_acks_fails_with_etimedout_after_tcp_retries2s_time(version):
    # tcp_write_timeout: 924.6 s after the first RTO retransmission (tcp_model_timeout(15, 200 ms));
    # tcp_write_err -> tcp_done: EstabResets (ESTABLISHED -> CLOSE), then TCPAbortOnTimeout
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, drop=("DATA",), data=True))
    c = r.clients[0]
    schedule = data_schedule(k, 0.1)
    assert data_give_up_us(k) == 924_600_000
    assert (c.outcome, c.errno) == ("timed_out", "ETIMEDOUT")
    assert c.failed_at == pytest.approx(c.data_times[0] + schedule.give_up)
    assert len(c.data_times) == len(schedule.send_times)
    assert c.failed_at - schedule.send_times[2 if k.tail_loss_probe != "off" else 1] >= 924.6
    counters = r.client_counters
    assert counters["TcpEstabResets"] == 1 and counters["TcpExtTCPAbortOnTimeout"] == 1
    rtos = len(events(r, "data_rto_first")) + len(events(r, "data_rto"))
    # TCPTimeouts: every RTO, the last included, on 4.19+; before, only the first (timeouts_every_rto)
    assert counters["TcpExtTCPTimeouts"] == (rtos + 1 if k.timeouts_every_rto else 1)


def test_tcp_retries2_sets_how_long_a_request_is_retransmitted():
    # ((2 << 3) - 1) * 200 ms = 3 s from the first RTO retransmission
    k = Kernel("6.18", tcp_retries2=3, **TEXTBOOK)
    assert data_give_up_us(k) == 3_000_000
    s = data_schedule(k, 0.1)
    assert s.send_times == (0.0, 0.3, 0.6, 1.2, 2.4) and s.give_up == 4.8
    with pytest.raises(ValueError, match="tcp_retries2 must be from 0 to 255 on Linux 6.18"):
        Kernel("6.18", tcp_retries2=256)


# ---- lesson 04: the final ACK dropped, the request completes the handshake --------------------------

@pytest.mark.parametrize("version", ["2.6.32", "6.18"])
def test_with_data_the_request_completes_the_handshake_once_accept_made_room(version):
    # tcp_check_req takes the DATA as it took the bare ACK: dropped while the accept queue is full
    # (request marked acked), a child as soon as it has room; the first retransmission comes at
    # m + max(2m, 200 ms) = 0.3 s (6.18: a loss probe, clipped to the RTO), long before the first
    # SYN-ACK resend (1 s on 6.18, 3 s on 2.6.32)
    k = Kernel(version)
    r = simulate(Scenario(kernel=k, data=True, **LESSON_04))
    c = r.clients[3]
    assert actions(r, 3)[:7] == ["connect", "syn_new", "synack_in", "data_send", "ack_accept_queue_full",
                                 "data_accept_queue_full", "data_tlp" if k.tail_loss_probe != "off" else
                                 "data_rto_first"]
    assert actions(r, 3)[7:] == ["data_new_child", "data_in_new_child", "data_acked"]
    lo, hi = data_schedule(k, 0.1).window(0.3)
    assert lo - 1e-6 <= c.data_times[1] - c.data_times[0] <= hi + 1e-6
    completed = events(r, "data_new_child", 3)[0].time
    assert completed == pytest.approx(c.data_times[1] + 0.05)  # the retransmission's arrival
    assert c.data_acked_at == pytest.approx(completed + 0.05)
    assert completed < 0.25 + synack_schedule(k).send_times[1]  # the request was made at 0.25 s
    assert not events(r, "synack_rto", 3)
    assert c.outcome == "queued"
    # each segment the full queue dropped counted an overflow: the bare ACK, then the request
    assert r.server_counters["TcpExtListenOverflows"] == 2


@pytest.mark.parametrize("version", ["2.6.32", "6.18"])
def test_without_data_the_syn_ack_resend_completes_it_as_lesson_04_teaches(version):
    # the request (made at 0.25 s) resends its SYN-ACK after tcp_timeout_init at the earliest (the
    # 2.6.32 listener timer on a later 200 ms scan tick); the client's ACK of it finds room
    k = Kernel(version)
    r = simulate(Scenario(kernel=k, **LESSON_04))
    resend = events(r, "synack_rto", 3)[0].time
    assert resend >= 0.25 + synack_schedule(k).send_times[1] - 1e-6
    assert events(r, "ack_new_child", 3)[0].time == pytest.approx(resend + 0.1)  # SYN-ACK there, ACK back
    assert r.server_counters["TcpExtListenOverflows"] == 1


def test_a_request_completes_a_syncookie_handshake_the_same_way():
    # 5.15 sends cookies once qlen >= backlog: client 3's ACK and DATA meet cookie_v4_check, whose child
    # the full accept queue refuses; the request's resend, which echoes the same cookie and sequence
    # number, gets the child once accept() made room
    r = simulate(Scenario(kernel="5.15", data=True, **LESSON_04))
    assert actions(r, 3)[1:] == ["syn_cookie", "synack_in", "data_send", "ack_cookie_accept_queue_full",
                                 "data_cookie_accept_queue_full", "data_tlp", "data_cookie", "data_in_new_child",
                                 "data_acked"]
    assert r.server_counters["TcpExtSyncookiesRecv"] == 3  # the ACK, the DATA, the DATA again


@pytest.mark.parametrize("data", [False, True])
def test_after_the_request_a_pure_ack_no_longer_matches_the_syncookie(data):
    # cookie_v4_check hashes the ACK's sequence number - 1 with the cookie: a challenge ACK sent after
    # the request (a second cookie SYN-ACK reached an established client) carries snd_nxt, fails
    # (SyncookiesFailed) and the listener answers with RST; without a request it is the first sequence
    # number still, and completes the handshake. rtt 1.5 s: the SYN is resent at 1 s and both SYNs get
    # a cookie (tcp_syncookies=2); backlog 0 holds client 0 only until accept() at 2.3 s.
    k = Kernel("6.18", tcp_syncookies=2, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=0, clients=[0.0, 0.0], accept=[2.3], rtt=1.5, data=data, duration=10))
    after_accept = [a for e in r.trace.of_client(1) if e.time > 2.3 and (a := e.action) != "synack_again"]
    if data:
        assert after_accept[:2] == ["ack_cookie_invalid", "rst_in_established"]
        assert (r.clients[1].outcome, r.clients[1].errno) == ("reset", "ECONNRESET")
    else:
        assert after_accept[:1] == ["ack_cookie"] and r.clients[1].outcome == "queued"


# ---- the RTT sample --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["2.6.32", "6.18"])
def test_after_a_lost_syn_ack_the_sample_includes_the_wait_and_the_rto_is_three_times_it(version):
    # seed 44 with 30 % loss: the first SYN arrives, its SYN-ACK is lost; the next SYN-ACK (answering the
    # SYN resent after tcp_timeout_init: 1 s, 3 s on 2.6.32) echoes the first SYN's timestamp, so the
    # sample is the whole wait, ~1 s + RTT, and the RTO three times that: ~3.3 s (2.6.32: ~9.3 s)
    k = Kernel(version)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=0.1, loss=0.3, drop=("DATA",), data=True,
                          duration=60, seed=44))
    mine = r.packets.of_client(0)
    syns, synacks = [p for p in mine if p.kind == "SYN"], [p for p in mine if p.kind == "SYN-ACK"]
    assert not syns[0].lost and synacks[0].lost and len(syns) == 2  # the premise
    c = r.clients[0]
    assert c.rtt_sample == pytest.approx(c.connected_at - syns[0].time)
    lo, hi = syn_schedule(k).window(k.tcp_timeout_init)  # the SYN resent, the SYN-ACK back one RTT later
    assert lo + 0.1 - 1e-6 <= c.rtt_sample <= hi + 0.1 + 1e-6
    m = round(c.rtt_sample * 1e6)
    assert data_rto_us(k, m) == 3 * m  # m + max(2m, 200 ms)
    schedule = data_schedule(k, c.rtt_sample)
    if version == "6.18":  # a loss probe at 2m + 200 ms (before 3m), then the RTO of 3m
        assert schedule.send_times[1:3] == ((2 * m + 200_000) / 1e6, (5 * m + 200_000) / 1e6)
        assert 3.0 < 3 * m / 1e6 < 3.5
    else:  # no loss probe: the RTO of 3m, then 6m
        assert schedule.send_times[1:3] == (3 * m / 1e6, 9 * m / 1e6)
    for i, (a, b) in enumerate(pairwise(c.data_times[:3])):
        gap_lo, gap_hi = interval_bounds(schedule.send_times[i + 1] - schedule.send_times[i], k.timer_wheel, k.hz)
        assert gap_lo - 1e-6 <= b - a <= gap_hi + 1e-6


def test_the_sample_is_from_the_echoed_syn_to_the_syn_ack():
    assert rtt_sample_us(0, 1_100_000) == 1_100_000
    assert rtt_sample_us(5, 5) == 1  # never 0 (tcp_ack_update_rtt: at least 1 us)


# ---- a request for which the server holds nothing -------------------------------------------------------

@pytest.mark.parametrize("version", ["2.6.32", "6.18"])
def test_a_request_reaching_a_listener_that_dropped_its_request_gets_a_rst(version):
    # the accept queue never empties (no accept()); client 2's request sock gives up after one SYN-ACK
    # resend (tcp_synack_retries=1), while its request is resent on its own timer; the next copy finds
    # no request and (tcp_syncookies=0) no cookie to check: tcp_v4_send_reset, and the client, which
    # believed it was connected, fails with ECONNRESET
    k = Kernel(version, tcp_synack_retries=1, tcp_syncookies=0, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=1, clients=[0.0, 0.2, 0.2], rtt=0.1, data=True, duration=60))
    given_up = events(r, "synack_give_up", 2)[0].time
    refused = events(r, "data_no_request", 2)
    assert len(refused) == 1 and refused[0].time > given_up
    assert refused[0].time == pytest.approx(max(t for t in r.clients[2].data_times) + 0.05)
    assert actions(r, 2)[-1] == "rst_in_established"
    c = r.clients[2]
    assert (c.outcome, c.errno) == ("reset", "ECONNRESET") and c.connected_at == 0.3
    assert r.client_counters["TcpEstabResets"] == 1
    assert r.server_counters["TcpOutRsts"] == r.packets.tally(kind="RST", sender="server") == 1


def test_a_request_the_child_already_holds_is_acked_again_and_counted_as_a_delayed_ack_lost():
    # drop=ACK loses the client's bare ACK and every ACK of the server: the request completes the
    # handshake, then each resend reaches the child, which has the data: tcp_data_queue counts
    # DelayedACKLost and ACKs again (with a D-SACK)
    r = simulate(Scenario(kernel=Kernel("6.18", **TEXTBOOK), backlog=8, clients=1, rtt=0.1, drop=("ACK",),
                          data=True, duration=5))
    again = events(r, "data_again", 0)
    assert actions(r, 0)[:6] == ["connect", "syn_new", "synack_in", "data_send", "data_new_child",
                                 "data_in_new_child"]
    assert len(again) == len(r.clients[0].data_times) - 1 > 0
    assert r.server_counters["TcpExtDelayedACKLost"] == len(again)
    assert r.clients[0].data_acked_at is None


# ---- determinism and validation --------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_run_with_requests():
    s = Scenario(kernel="6.18", backlog=2, clients=20, accept=5.0, rtt=0.05, loss=0.2, data=True, duration=30, seed=9)
    assert snapshot(simulate(s)) == snapshot(simulate(s.replace()))
    assert sum(len(c.data_times) for c in simulate(s).clients) > 20  # some requests were sent again


def test_data_must_be_true_or_false_and_rtt_a_positive_time():
    with pytest.raises(ValueError, match="data must be True"):
        Scenario(data=1)
    assert Scenario(data=True).replace(seed=2).data is True
    with pytest.raises(ValueError, match="rtt must be a number of seconds above 0"):
        data_schedule("6.18", 0)
