"""The server side: SYN-ACK retransmission, request pruning, retransmitted SYNs, a full accept queue on
the SYN and on the final ACK, ACKs that match nothing.

Sources: linux-handshake-facts.md 1.4, 1.6, 1.8, 1.9, and live measurements on Linux 6.18.44 (a
fresh network namespace; nftables dropping the final ACK or the SYN-ACK; packet times from tcpdump,
counters from ``nstat -az``, SYN-RECV sockets from ``ss``).
"""

from itertools import pairwise

import pytest
from model_helpers import TEXTBOOK, events, versions_where

from handshake_course import Kernel, Scenario, simulate, synack_schedule
from handshake_course.model import VERSIONS

PER_REQUEST = versions_where(synack_timer="per_request")  # reqsk_timer_handler, 4.1+


def synacks(r, client=0):
    return [p for p in r.packets if p.kind == "SYN-ACK" and p.client == client]


def final_ack_dropped(kernel, clients=1, backlog=8, duration=200.0):
    """The client's final ACKs never arrive: the request stays in the SYN queue until it expires."""
    return simulate(Scenario(kernel=kernel, backlog=backlog, clients=clients, drop=("ACK",), rtt=0.0,
                             duration=duration))


# ---- SYN-ACK retransmission ------------------------------------------------------------------------

@pytest.mark.parametrize("version", PER_REQUEST)
def test_synack_retransmissions_follow_the_per_request_timer(version):
    # linux-handshake-facts.md 1.9: reqsk_timer_handler re-arms min(TCP_TIMEOUT_INIT << num_timeout,
    # TCP_RTO_MAX): SYN-ACKs at 0, 1, 3, 7, 15, 31 s, the request dropped at 63 s (tcp_synack_retries 5)
    r = final_ack_dropped(Kernel(version, **TEXTBOOK))
    times = [p.time for p in synacks(r)]
    assert times == [0, 1, 3, 7, 15, 31]
    assert times == list(synack_schedule(version).send_times)
    assert [e.time for e in events(r, "synack_give_up")] == [63]
    assert synack_schedule(version).give_up == 63
    assert r.ss().syn_recv == 0


@pytest.mark.parametrize("version", PER_REQUEST)
def test_synack_retries_2_drops_the_request_at_7_s(version):
    # live 6.18.44, tcp_synack_retries=2, final ACK dropped: SYN-ACKs at 0, 1.018, 3.034 s, the SYN-RECV
    # socket gone between 7.0 and 7.1 s; nstat: TcpRetransSegs 2, TCPSynRetrans 2, TCPTimeouts 3
    r = final_ack_dropped(Kernel(version, tcp_synack_retries=2, **TEXTBOOK), duration=7.5)
    assert [p.time for p in synacks(r)] == [0, 1, 3]
    assert [e.time for e in events(r, "synack_give_up")] == [7]
    assert r.ss(6.9).syn_recv == 1 and r.ss(7.1).syn_recv == 0
    assert r.server_counters["TcpRetransSegs"] == 2
    assert r.server_counters["TcpExtTCPSynRetrans"] == 2
    assert r.server_counters["TcpExtTCPTimeouts"] == 3  # tcp_syn_ack_timeout runs before the drop too


@pytest.mark.parametrize(("version", "base", "max_late"), [("3.10", 1.0, 0.4), ("2.6.32", 3.0, 1.4)])
def test_synack_retransmissions_land_on_200_ms_ticks_of_the_listener_timer(version, base, max_late):
    # linux-handshake-facts.md 1.9: until 4.0 one listener timer ticks every TCP_SYNQ_INTERVAL (200 ms)
    # and resends expired requests: "retransmissions land on 200 ms ticks (~1, 3, 7, 15, 31 s)", the
    # request dropped at ~63 s. A request is resent at the first tick whose scan reaches its bucket at or
    # after its expiry (previous send + TCP_TIMEOUT_INIT << num_timeout; 2.6.32: 3 s initial RTO, 1.7).
    # The scan budget is 2 * (16 slots / (TCP_TIMEOUT_INIT / 200 ms)) buckets a tick: 6 on 3.10, so every
    # bucket within 3 ticks (at most 0.4 s late); 2 on 2.6.32, within 8 ticks (at most 1.4 s late).
    r = final_ack_dropped(Kernel(version, **TEXTBOOK))
    times = [p.time for p in synacks(r)]
    assert len(times) == 6
    for t in times:
        assert round(t * 1000) % 200 == 0
    for k, (a, b) in enumerate(pairwise(times)):
        lateness = (b - a) - base * 2**k
        assert -1e-6 < lateness < max_late + 1e-6
    give_up = events(r, "synack_give_up")[0].time
    assert times[-1] + base * 32 - 1e-6 < give_up < times[-1] + base * 32 + max_late + 1e-6
    assert round(give_up * 1000) % 200 == 0


def test_synack_closed_form_on_old_kernels_is_the_expiry_not_the_tick():
    # linux-handshake-facts.md 1.9: req->expires = now + min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX)
    assert synack_schedule("3.10").send_times == (0, 1, 3, 7, 15, 31)
    assert synack_schedule("3.10").give_up == 63
    assert synack_schedule("2.6.32").send_times == (0, 3, 9, 21, 45, 93)  # TCP_TIMEOUT_INIT 3 s (1.7)


# ---- young pruning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("version", PER_REQUEST)
def test_young_pruning_cuts_retries_when_old_requests_fill_the_queue_on_6x(version):
    # linux-handshake-facts.md 1.9, reqsk_timer_handler: if (qlen << 1) > max(8, backlog), thresh drops
    # while qlen >= young << k, down to 2. listen(9) (the SYN queue holds 9 on 5.15, 10 on 6.18), 9
    # requests whose final ACK never comes: after one timeout each young = 0, so at 7 s (num_timeout 2)
    # a request is dropped while 2 * qlen > 9: with qlen 9, 8, 7, 6, 5 five are dropped; at qlen 4 the
    # pressure is gone and the other four keep the full tcp_synack_retries (SYN-ACKs up to 31 s,
    # dropped at 63 s). Live 6.18.44, listen(9), 9 clients, final ACKs dropped by nftables:
    # `ss state syn-recv` shows 9 until 6.6 s and 4 from 7.1 s on.
    r = final_ack_dropped(Kernel(version, **TEXTBOOK), clients=9, backlog=9, duration=70)
    sent = sorted([p.time for p in synacks(r, i)] for i in range(9))
    assert sent == [[0, 1, 3]] * 5 + [[0, 1, 3, 7, 15, 31]] * 4
    assert sorted(e.time for e in events(r, "synack_give_up")) == [7] * 5 + [63] * 4
    assert r.ss(8).syn_recv == 4


@pytest.mark.parametrize("version", PER_REQUEST)
def test_no_young_pruning_without_pressure_on_6x(version):
    # the same 9 requests under listen(128): 2 * 9 > max(8, 128) is false, the full 5 retries apply
    r = final_ack_dropped(Kernel(version, **TEXTBOOK), clients=9, backlog=128, duration=70)
    assert [len(synacks(r, i)) for i in range(9)] == [6] * 9
    assert {e.time for e in events(r, "synack_give_up")} == {63}


def test_young_pruning_cuts_retries_when_old_requests_fill_the_table_on_3_10():
    # linux-handshake-facts.md 1.9, 3.10 inet_csk_reqsk_queue_prune: pressure when qlen >= table / 2,
    # thresh computed once per 200 ms tick. listen(8) -> 16 slots (1.3), 9 requests: after one timeout
    # each young = 0 and thresh = 2, so requests are dropped on their third expiry (~7 s, after SYN-ACKs
    # at ~0, 1, 3 s) while a tick starts with qlen >= 8 - at least two of them, since 9 must fall below 8;
    # the others keep all 5 retries.
    r = final_ack_dropped("3.10", clients=9, backlog=8, duration=70)
    counts = [len(synacks(r, i)) for i in range(9)]
    assert set(counts) <= {3, 6}
    pruned = counts.count(3)
    assert 2 <= pruned
    drops = sorted(e.time for e in events(r, "synack_give_up"))
    assert all(7 <= t < 8 for t in drops[:pruned])
    assert all(t >= 63 for t in drops[pruned:])
    baseline = final_ack_dropped("3.10", clients=9, backlog=128, duration=70)  # 256 slots: no pressure
    assert [len(synacks(baseline, i)) for i in range(9)] == [6] * 9


# ---- a retransmitted SYN for a pending request --------------------------------------------------------

@pytest.mark.parametrize("version", versions_where(tcp_timeout_init=1.0))
def test_retransmitted_syn_for_a_pending_request_gets_an_immediate_synack(version):
    # linux-handshake-facts.md 1.9: tcp_check_req on a retransmitted SYN resends the SYN-ACK at once
    r = simulate(Scenario(kernel=version, backlog=8, clients=1, drop=("SYN-ACK",), rtt=0.2, duration=40))
    again = events(r, "syn_again", 0)
    assert len(again) >= 4
    resent = {round(p.time, 6) for p in synacks(r) if p.retransmission}
    for e in again:
        assert round(e.time, 6) in resent
        # the SYN that triggered it arrived just now: sent one-way (0.1 s) earlier
        assert any(abs(s + 0.1 - e.time) < 1e-9 for s in r.clients[0].syn_times)


def test_retransmitted_syn_restarts_the_synack_timer_on_6_18():
    # live 6.18.44, SYN-ACKs dropped (tcp_synack_retries=2, which changes nothing before 7 s):
    # SYN-ACKs at 0, 1.018 (timer), 1.018, 2.046, 3.070, 4.090,
    # 5.114 (each an answer to a SYN), 7.13 (timer) and 7.13 s - no timer SYN-ACK at ~3 s: each SYN's
    # answer re-arms the request timer for tcp_reqsk_timeout(req) (1.9, mod_timer_pending).
    d = 0.1
    k = Kernel("6.18", **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, drop=("SYN-ACK",), rtt=2 * d, duration=6.5))
    assert [round(e.time - d, 6) for e in events(r, "syn_again")] == [1, 2, 3, 4, 5]
    assert [round(e.time - d, 6) for e in events(r, "synack_rto")] == [1]
    assert [round(p.time - d, 6) for p in synacks(r)] == [0, 1, 1, 2, 3, 4, 5]


def test_retransmitted_syn_answers_are_rate_limited_by_tcp_invalid_ratelimit():
    # linux-handshake-facts.md 1.9: the resend is "rate-limited by tcp_oow_rate_limited" (6.18
    # tcp_check_req passes LINUX_MIB_TCPACKSKIPPEDSYNRECV and req's last_oow_ack_time): an answer within
    # tcp_invalid_ratelimit of the previous answer is skipped and counted. With 1.5 s, the SYNs that
    # arrive at 1, 3, 5 s (+ one-way) are answered and those at 2 and 4 s are not.
    d = 0.1
    k = Kernel("6.18", tcp_invalid_ratelimit=1.5, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, drop=("SYN-ACK",), rtt=2 * d, duration=5.5))
    assert [round(e.time - d, 6) for e in events(r, "syn_again")] == [1, 3, 5]
    assert [round(e.time - d, 6) for e in events(r, "syn_again_ratelimited")] == [2, 4]
    assert r.server_counters["TcpExtTCPACKSkippedSynRecv"] == 2


def test_3_10_has_no_rate_limit_on_synack_answers():
    # tcp_invalid_ratelimit and TCPACKSkippedSynRecv arrived in 4.0; 3.10 resends for every SYN
    k = Kernel("3.10")
    assert not k.has("tcp_invalid_ratelimit")
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, drop=("SYN-ACK",), rtt=0.2, duration=40))
    assert events(r, "syn_again_ratelimited") == []
    assert "TcpExtTCPACKSkippedSynRecv" not in r.server_counters


# ---- the client answers a resent SYN-ACK ----------------------------------------------------------------

@pytest.mark.parametrize("version", versions_where(challenge_ack=True))
def test_established_client_answers_a_resent_synack_with_a_challenge_ack(version):
    # linux-handshake-facts.md 1.6: the client, ESTABLISHED since tcp_finish_connect, answers the resent
    # SYN-ACK with an ACK; tcp_validate_incoming step 4 (RFC 5961, 3.6+) sends a challenge ACK and counts
    # TCPSYNChallenge and TcpInErrs. Live 6.18.44 (final ACK dropped, tcp_synack_retries=2, 7.5 s):
    # TCPSYNChallenge 2, TcpInErrs 2, and an ACK right after each resent SYN-ACK.
    r = final_ack_dropped(Kernel(version, tcp_synack_retries=2), duration=7.9)
    resent = [p.time for p in synacks(r) if p.retransmission]
    acks = [p.time for p in r.packets if p.kind == "ACK" and p.retransmission]
    assert len(resent) == 2
    assert acks == resent  # rtt 0: answered the moment it arrives
    assert r.client_counters["TcpExtTCPSYNChallenge"] == 2
    assert r.client_counters["TcpInErrs"] == 2


def test_2_6_32_answers_a_resent_synack_without_a_challenge_ack():
    # 2.6.32 predates RFC 5961 handling (3.6): the old segment is acked from tcp_data_queue instead
    r = final_ack_dropped(Kernel("2.6.32", tcp_synack_retries=2), duration=30)
    assert len([p for p in r.packets if p.kind == "ACK" and p.retransmission]) == 2
    assert "TcpExtTCPSYNChallenge" not in r.client_counters


# ---- a full accept queue when the SYN arrives --------------------------------------------------------

@pytest.mark.parametrize("version", versions_where(young_rule=False))
def test_full_accept_queue_drops_every_syn_on_6x(version):
    # linux-handshake-facts.md 1.4: since 4.10 (5ea8ea2cb7f1) tcp_conn_request drops the SYN whenever the
    # accept queue is full: ListenOverflows and ListenDrops. Live 6.18.44: listen(0), a first client
    # connected, a second connect() -> ListenOverflows 1, ListenDrops 1, the second stays SYN-SENT.
    r = simulate(Scenario(kernel=version, backlog=0, clients=[0.0, 1.0], rtt=0.01, duration=1.5))
    # where the SYN queue is full at qlen >= backlog (5.15.55), with listen(0) tcp_syn_flood_action first wants a
    # cookie (TCPReqQFullDoCookies) before the accept-queue check drops the SYN (1.8, steps 3-4)
    drop = ("syn_drop_accept_queue_full" if Kernel(version).syn_queue_limit == "qlen>backlog"
            else "syn_cookie_drop_accept_queue_full")
    assert [e.time for e in events(r, drop, 1)] == [pytest.approx(1.005)]
    assert r.clients[1].outcome == "connecting"
    assert r.server_counters["TcpExtListenOverflows"] == 1
    # 4.4 still counts every cookie SYN in ListenDrops too (tcp_conn_request ends at drop_and_free)
    cookie_drops = len(events(r, "syn_cookie")) if Kernel(version).cookie_listen_drop else 0
    assert r.server_counters["TcpExtListenDrops"] == 1 + cookie_drops
    assert synacks(r, 1) == []


def test_full_accept_queue_on_3_10_answers_syns_while_at_most_one_request_is_young():
    # linux-handshake-facts.md 1.4: 3.10 drops the SYN only if sk_acceptq_is_full(sk) &&
    # inet_csk_reqsk_queue_young(sk) > 1. listen(0): client 0 fills the accept queue; at 1 s clients 1
    # and 2 are answered (0, then 1 young request), client 3 finds 2 young requests and is dropped.
    r = simulate(Scenario(kernel="3.10", backlog=0, clients=[0.0, 1.0, 1.0, 1.0], rtt=0.01, duration=1.5))
    assert r.clients[1].connected_at == pytest.approx(1.01)
    assert r.clients[2].connected_at == pytest.approx(1.01)
    assert r.clients[3].connected_at is None
    assert [e.client for e in events(r, "syn_drop_accept_queue_full")] == [3]
    # the answered two complete the handshake into a full queue: their final ACKs overflow (1.6)
    assert [c.outcome for c in r.clients] == ["queued", "established", "established", "connecting"]
    assert r.server_counters["TcpExtListenOverflows"] == 3
    assert r.server_counters["TcpExtListenDrops"] == 3


# ---- a full accept queue when the final ACK arrives ------------------------------------------------------

def third_ack_overflow(version, abort, **settings):
    """listen(2): clients 0 and 1 complete at 0.015 s; clients 2 and 3 start at 0.1 s and both get a
    request (the accept queue is not full yet, the SYN queue holds at least 2 everywhere), client 2's final
    ACK fills the accept queue (3 = backlog + 1) and client 3's final ACK at 0.115 s finds it full.
    accept() at 5 s makes room."""
    k = Kernel(version, tcp_abort_on_overflow=abort, **settings)
    return simulate(Scenario(kernel=k, backlog=2, clients=[0.0, 0.0, 0.1, 0.1], rtt=0.01,
                             accept=[5.0, 6.0, 6.5, 20.0], duration=25))


@pytest.mark.parametrize("version", VERSIONS)
def test_final_ack_into_a_full_accept_queue_is_dropped_and_the_connection_recovers(version):
    # linux-handshake-facts.md 1.6, tcp_abort_on_overflow=0: the ACK is dropped, the request stays, marked
    # acked; the SYN-ACK is resent at the next timeout, the ESTABLISHED client ACKs again, and once
    # accept() has made room the connection completes ("connection will recover").
    r = third_ack_overflow(version, abort=0)
    c = r.clients[3]
    assert c.connected_at == pytest.approx(0.11)
    overflows = events(r, "ack_accept_queue_full", 3)
    assert overflows[0].time == pytest.approx(0.115)
    assert overflows[0].syn_queue == 1  # the request stays in the SYN queue
    assert all(e.time < 5.0 for e in overflows)
    child = events(r, "ack_new_child", 3)
    assert len(child) == 1
    resent_after_room = [p.time for p in synacks(r, 3) if p.retransmission and p.time > 5.0]
    assert child[0].time == pytest.approx(resent_after_room[0] + 0.01)  # the client's ACK to it
    assert (c.outcome, c.errno, c.accepted_at) == ("accepted", None, 20.0)
    assert r.server_counters["TcpExtListenOverflows"] == len(overflows)
    assert r.server_counters["TcpExtEmbryonicRsts"] == 0


@pytest.mark.parametrize("version", PER_REQUEST)
def test_final_ack_recovery_waits_for_the_synack_resent_at_7_s_on_6x(version):
    # per-request timer (1.9): the request was created at 0.105 s; its SYN-ACKs go out at +1, +3, +7 s;
    # the first after accept() at 5 s is the one at 7.105 s, answered at 7.115 s
    r = third_ack_overflow(version, abort=0, **TEXTBOOK)
    assert [p.time for p in synacks(r, 3)] == pytest.approx([0.105, 1.105, 3.105, 7.105])
    assert events(r, "ack_new_child", 3)[0].time == pytest.approx(7.115)


@pytest.mark.parametrize("version", VERSIONS)
def test_final_ack_into_a_full_accept_queue_with_abort_on_overflow_resets(version):
    # linux-handshake-facts.md 1.6, tcp_abort_on_overflow=1: embryonic_reset: RST sent, request dropped,
    # EmbryonicRsts++; the client, already ESTABLISHED, fails with ECONNRESET
    r = third_ack_overflow(version, abort=1)
    c = r.clients[3]
    assert (c.outcome, c.errno) == ("reset", "ECONNRESET")
    assert c.failed_at == pytest.approx(0.12)
    assert r.server_counters["TcpExtEmbryonicRsts"] == 1
    assert r.server_counters["TcpExtListenOverflows"] == 1
    assert r.server_counters["TcpOutRsts"] == 1
    assert r.client_counters["TcpEstabResets"] == 1
    assert len(synacks(r, 3)) == 1  # the request is gone: nothing is resent
    assert [x.outcome for x in r.clients[:3]] == ["accepted"] * 3


@pytest.mark.parametrize("version", PER_REQUEST)
def test_acked_request_that_never_finds_room_expires_silently(version):
    # linux-handshake-facts.md 1.6: with tcp_abort_on_overflow=0 and no accept(), the acked request keeps
    # resending its SYN-ACK (each answered, each answer overflowing again) until num_timeout reaches
    # tcp_synack_retries; then it is removed silently - no RST - and the client stays ESTABLISHED with no
    # connection behind it. Per-request timer (1.9): SYN-ACKs at +0, 1, 3, 7, 15, 31 s, removed at +63 s.
    k = Kernel(version, **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=2, clients=[0.0, 0.0, 0.1, 0.1], rtt=0.01, duration=80))
    assert [p.time for p in synacks(r, 3)] == pytest.approx([0.105 + t for t in (0, 1, 3, 7, 15, 31)])
    assert len(events(r, "ack_accept_queue_full", 3)) == 6
    assert [e.time for e in events(r, "synack_give_up", 3)] == pytest.approx([63.105])
    assert r.packets.tally(kind="RST") == 0
    assert (r.clients[3].outcome, r.clients[3].errno) == ("established", None)


@pytest.mark.parametrize("version", PER_REQUEST)
@pytest.mark.parametrize("retries", [0, 1, 2, 3, 6])
def test_simulated_synacks_equal_the_closed_form_for_any_synack_retries(version, retries):
    k = Kernel(version, tcp_synack_retries=retries, **TEXTBOOK)
    r = final_ack_dropped(k, duration=300)
    schedule = synack_schedule(k)
    assert len(schedule.send_times) == retries + 1
    assert tuple(p.time for p in synacks(r)) == schedule.send_times
    assert [e.time for e in events(r, "synack_give_up")] == [schedule.give_up]


# ---- an ACK that matches nothing ---------------------------------------------------------------------------

@pytest.mark.parametrize(("kernel", "cookie_failed"), [
    (Kernel("3.10", tcp_synack_retries=0), 1),   # 3.10 cookie_v4_check: no recent overflow -> SyncookiesFailed
    (Kernel("5.15", tcp_synack_retries=0), 0),   # 6.x: no recent overflow -> silently not a cookie (1.5)
    # 6.18 with its linear timeouts would resend a SYN at 2 s that re-arms the request (1.9): use 0
    (Kernel("6.18", tcp_synack_retries=0, tcp_syn_linear_timeouts=0), 0),
])
def test_ack_that_matches_no_request_is_answered_with_rst(kernel, cookie_failed):
    # linux-handshake-facts.md 1.6: with no request (it expired: tcp_synack_retries=0 drops it at its first
    # timeout) the ACK reaches the listener, the syncookie check fails and the listener answers with RST;
    # the client, ESTABLISHED, fails with ECONNRESET. rtt 2.4 s: the SYN-ACK (and so the ACK) come late.
    r = simulate(Scenario(kernel=kernel, backlog=8, clients=1, rtt=2.4, duration=20))
    c = r.clients[0]
    assert c.connected_at == pytest.approx(2.4)
    assert (c.outcome, c.errno) == ("reset", "ECONNRESET")
    rst = [p for p in r.packets if p.kind == "RST" and p.sender == "server"]
    assert rst and rst[0].time == pytest.approx(3.6)   # the first ACK (sent at 2.4 s) arrives at 3.6 s
    assert r.server_counters["TcpOutRsts"] == len(rst)
    assert r.server_counters["TcpExtSyncookiesFailed"] == cookie_failed * len(rst)
    assert r.server_counters.get("TcpPassiveOpens", 0) == 0


def test_ack_that_matches_nothing_without_syncookies_gets_rst_and_no_cookie_counter():
    # 3.10 cookie_v4_check returns at once when !sysctl_tcp_syncookies: no SyncookiesFailed, still RST
    k = Kernel("3.10", tcp_synack_retries=0, tcp_syncookies=0)
    r = simulate(Scenario(kernel=k, backlog=8, clients=1, rtt=2.4, duration=20))
    assert r.clients[0].errno == "ECONNRESET"
    assert r.server_counters["TcpExtSyncookiesFailed"] == 0
    assert r.server_counters["TcpOutRsts"] >= 1


def test_ack_for_an_expired_requests_synack_meets_the_new_request_and_is_reset():
    # tcp_check_req (all versions): an ACK whose ack_seq is not the pending request's snt_isn + 1 makes
    # it return the listener, which answers the ACK with RST (tcp_rcv_state_process in LISTEN returns
    # 1 for an ACK; tcp_v4_send_reset). Here: RTT 2 s, tcp_synack_retries=0. Request A is made at
    # 1 s; the client's SYN retransmitted at ~1 s arrives at ~2 s, A's only timeout fires at ~2 s.
    # Which comes first depends on where the two timers fall on the timer wheel (the seed):
    # - A expired first: the SYN makes request B with a new ISN; the client, ESTABLISHED by A's
    #   SYN-ACK at 2 s, acks A; that ACK meets B and is reset, and connect()'s socket dies (ECONNRESET);
    # - the SYN came first: A's SYN-ACK is resent (syn_again), the ACK matches A, a child is queued.
    seen = set()
    for seed in range(1, 13):
        r = simulate(Scenario(kernel=Kernel("6.18", tcp_synack_retries=0), backlog=8, clients=1, rtt=2.0,
                              seed=seed, duration=10))
        actions = [e.action for e in r.trace if e.client == 0]
        c = r.clients[0]
        first = next(a for a in actions if a in ("synack_give_up", "syn_again"))
        if first == "synack_give_up":
            seen.add("expired first")
            assert actions.count("syn_new") == 2 and "ack_wrong_isn" in actions
            assert "ack_new_child" not in actions
            assert (c.outcome, c.errno) == ("reset", "ECONNRESET")
            assert r.server_counters["TcpOutRsts"] >= 1
        else:
            seen.add("syn first")
            assert "ack_new_child" in actions and "ack_wrong_isn" not in actions
            assert c.outcome == "queued"
    assert seen == {"expired first", "syn first"}
