"""connect(): the SYN retransmission schedule and give-up time, RST to a SYN, ephemeral ports.

Sources: linux-handshake-facts.md 1.7 and 1.12, and live measurements on Linux 6.18.44 (a fresh
network namespace, nftables dropping the SYNs, TCP_SYNCNT set with setsockopt, SYN times from
tcpdump, counters from ``nstat -az``).
"""

from itertools import pairwise

import pytest
from model_helpers import TEXTBOOK, versions_where

from handshake_course import Kernel, Scenario, simulate, syn_schedule
from handshake_course.model import VERSIONS

# linux-handshake-facts.md 1.7, table "SYN schedule and connect() failure time by tcp_syn_retries /
# TCP_SYNCNT = n": n -> (SYN send times, ETIMEDOUT time)
EXPONENTIAL = {  # 3.10 and <= 6.4
    1: ((0, 1), 3),
    2: ((0, 1, 3), 7),
    3: ((0, 1, 3, 7), 15),
    5: ((0, 1, 3, 7, 15, 31), 63),
    6: ((0, 1, 3, 7, 15, 31, 63), 127),
    7: ((0, 1, 3, 7, 15, 31, 63, 127), 247),
}
LINEAR = {  # 6.5+, tcp_syn_linear_timeouts = 4; n=6 also in ip-sysctl.rst ("131seconds"); n=1, 2, 3
    # measured live on 6.18.44: ETIMEDOUT after 3.06 s, 7.13 s, 19.41 s with these SYN times
    1: ((0, 1, 2), 3),
    2: ((0, 1, 2, 3, 4, 5), 7),
    3: ((0, 1, 2, 3, 4, 5, 7, 11), 19),
    5: ((0, 1, 2, 3, 4, 5, 7, 11, 19, 35), 67),
    6: ((0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67), 131),
    7: ((0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67, 131), 251),
}
CASES = ([("3.10", n, *v) for n, v in EXPONENTIAL.items()]
         + [("5.15", n, *v) for n, v in EXPONENTIAL.items()]
         + [("6.18", n, *v) for n, v in LINEAR.items()])


def unanswered(kernel, syncnt=None, clients=1):
    """Every SYN is lost, as with an nftables rule dropping them."""
    return simulate(Scenario(kernel=kernel, backlog=128, clients=clients, drop=("SYN",), syncnt=syncnt))


# ---- the SYN schedule --------------------------------------------------------------------------------

@pytest.mark.parametrize(("version", "n", "sends", "give_up"), CASES)
def test_syn_schedule_closed_form_matches_the_kernel_table(version, n, sends, give_up):
    schedule = syn_schedule(Kernel(version, tcp_syn_retries=n))
    assert schedule.send_times == sends
    assert schedule.give_up == give_up
    assert syn_schedule(version, syncnt=n) == schedule


@pytest.mark.parametrize(("version", "n", "sends", "give_up"), CASES)
def test_connect_fails_with_etimedout_exactly_at_the_give_up_time(version, n, sends, give_up):
    r = unanswered(Kernel(version, tcp_syn_retries=n, **TEXTBOOK))
    c = r.clients[0]
    assert c.syn_times == sends
    assert (c.outcome, c.errno, c.failed_at) == ("timed_out", "ETIMEDOUT", give_up)
    assert c.connected_at is None
    assert [p.time for p in r.packets if p.kind == "SYN"] == list(sends)


@pytest.mark.parametrize(("version", "n", "sends", "give_up"), CASES)
def test_tcp_syncnt_sets_the_retries_of_one_socket(version, n, sends, give_up):
    # linux-handshake-facts.md 1.7: TCP_SYNCNT sets icsk_syn_retries, which overrides the sysctl
    c = unanswered(Kernel(version, tcp_syn_retries=4, **TEXTBOOK), syncnt=n).clients[0]
    assert c.syn_times == sends
    assert c.failed_at == give_up


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("syncnt", [None, 1, 2, 3])
def test_simulated_syn_times_equal_the_closed_form(version, syncnt):
    k = Kernel(version, **TEXTBOOK)
    c = unanswered(k, syncnt=syncnt).clients[0]
    schedule = syn_schedule(k, syncnt=syncnt)
    assert c.syn_times == schedule.send_times
    assert c.failed_at == schedule.give_up


@pytest.mark.parametrize(("n", "sends", "give_up"), [
    (1, (0, 1), 3),             # live 6.18.44, tcp_syn_linear_timeouts=0: ETIMEDOUT after 3.03 s
    (3, (0, 1, 3, 7), 15),      # live: SYNs at 0, 1.01, 3.03, 7.16 s, ETIMEDOUT after 15.35 s
    (6, (0, 1, 3, 7, 15, 31, 63), 127),
])
def test_syn_linear_timeouts_zero_restores_the_exponential_schedule_on_6_18(n, sends, give_up):
    # linux-handshake-facts.md 1.7: max_retransmits = retry_until + tcp_syn_linear_timeouts, and the RTO
    # doubles once total_rto > tcp_syn_linear_timeouts
    c = unanswered(Kernel("6.18", tcp_syn_linear_timeouts=0, **TEXTBOOK), syncnt=n).clients[0]
    assert c.syn_times == sends
    assert c.failed_at == give_up


def test_default_syn_retries_give_up_after_127_s_on_3_10_and_5_15_and_131_s_on_6_18():
    # linux-handshake-facts.md 1.7: default tcp_syn_retries 6 -> 127 s; 6.5+ -> 131 s (ip-sysctl.rst)
    kernels = [Kernel(v, **TEXTBOOK) for v in ("3.10", "5.15", "6.18")]
    assert [unanswered(k).clients[0].failed_at for k in kernels] == [127, 127, 131]


def test_2_6_32_gives_up_after_21_s_as_its_retransmits_timed_out_reads():
    # linux-handshake-facts.md 1.14 footnote: 2.6.32.2 measures the SYN timeout from TCP_RTO_MIN:
    # tcp_syn_retries 5 -> ((2 << 5) - 1) * 200 ms = 12.6 s, first seen by the timer at 21 s.
    # TCP_TIMEOUT_INIT is 3 s (1.7), so the SYNs leave at 0, 3, 9 s.
    c = unanswered(Kernel("2.6.32", **TEXTBOOK)).clients[0]
    assert c.syn_times == (0, 3, 9)
    assert (c.errno, c.failed_at) == ("ETIMEDOUT", 21)
    assert syn_schedule("2.6.32").give_up == 21


def test_2_6_32_syncnt_6_gives_up_at_45_s():
    # the same 2.6.32.2 formula with n=6: 127 * 200 ms = 25.4 s, first seen by the timer at 45 s
    # (timers at 3, 9, 21, 45 s); derived from linux-handshake-facts.md 1.14 footnote
    c = unanswered(Kernel("2.6.32", **TEXTBOOK), syncnt=6).clients[0]
    assert c.syn_times == (0, 3, 9, 21)
    assert c.failed_at == 45


@pytest.mark.parametrize("version", versions_where(syn_expiry="count"))
def test_connect_gives_up_after_its_count_of_retransmissions_alone_on_4_14(version):
    # 4.14.280 net/ipv4/tcp_timer.c:211-212: in SYN_SENT, expired = icsk_retransmits >= retry_until, and no time
    # test (retransmits_timed_out only in the else branch, :245). The RTO starts at TCP_TIMEOUT_INIT (1 s,
    # include/net/tcp.h:145) and doubles at each fire up to TCP_RTO_MAX (:546): tcp_syn_retries 6 (:109) -> SYNs
    # at 0, 1, 3, 7, 15, 31, 63 s and ETIMEDOUT at the 7th fire, 127 s
    c = unanswered(Kernel(version, **TEXTBOOK)).clients[0]
    assert (c.syn_times, c.failed_at) == EXPONENTIAL[6]
    # from a 3 s initial RTO: 3, 6, 12, 24, 48, 96, then 120 s (capped): the 6th retransmission at 189 s, ETIMEDOUT
    # at 309 s (the time rule's tcp_model_timeout from the same base says the same: ((2 << 5) - 1) * 3 + 120)
    c = unanswered(Kernel(version, tcp_timeout_init=3.0, **TEXTBOOK)).clients[0]
    assert (c.syn_times, c.failed_at) == ((0, 3, 9, 21, 45, 93, 189), 309)


def test_the_count_alone_outlasts_a_time_test_measured_otherwise():
    # syn_expiry="count" (4.14.280 net/ipv4/tcp_timer.c:211-212) on kernels whose time test gives up first.
    # 2.6.32.2 measures the time from TCP_RTO_MIN: ((2 << 5) - 1) * 200 ms = 12.6 s, seen by the fire at 21 s.
    # Counting its 5 retransmissions instead (3 s RTO, doubling): SYNs 3, 6, 12, 24, 48 s apart, ETIMEDOUT when
    # the 96 s RTO after the 5th ends, at 189 s.
    c = unanswered(Kernel("2.6.32", syn_expiry="count", **TEXTBOOK)).clients[0]
    assert (c.syn_times, c.failed_at) == ((0, 3, 9, 21, 45, 93), 189)
    # 6.18 with TCP_SYNCNT 1: 6.18.24 tcp_timer.c:256-260 counts 1 + tcp_syn_linear_timeouts (4) = 5
    # retransmissions, but :281-283 retransmits_timed_out gives up at tcp_model_timeout(1) = 3 s (LINEAR[1]).
    # The count alone waits for the 5th retransmission (1 s RTOs while linear) and the 6th RTO (2 s): 7 s.
    k = Kernel("6.18", syn_expiry="count", **TEXTBOOK)
    c = unanswered(k, syncnt=1).clients[0]
    assert (c.syn_times, c.failed_at) == ((0, 1, 2, 3, 4, 5), 7)
    assert syn_schedule(k, syncnt=1).give_up == 7 and syn_schedule("6.18", syncnt=1).give_up == LINEAR[1][1]


def test_connect_timeout_counters_on_6_18():
    # live 6.18.44, TCP_SYNCNT=2, SYNs dropped: TcpActiveOpens 1, TcpRetransSegs 5, TcpExtTCPSynRetrans 5,
    # TcpExtTCPTimeouts 6 (every RTO, the final one too), TcpAttemptFails 1
    counters = unanswered("6.18", syncnt=2).client_counters
    assert counters["TcpActiveOpens"] == 1
    assert counters["TcpRetransSegs"] == 5
    assert counters["TcpExtTCPSynRetrans"] == 5
    assert counters["TcpExtTCPTimeouts"] == 6
    assert counters["TcpAttemptFails"] == 1


def test_connect_timeout_counters_on_3_10():
    # 3.10.108 tcp_retransmit_timer counts TCPTimeouts only in its `icsk_retransmits == 0` branch (the
    # first RTO; ca_state is Loss afterwards) and the SYN path has no TCPSynRetrans (facts 1.5 table: -);
    # tcp_done from SYN_SENT counts AttemptFails
    counters = unanswered("3.10", syncnt=2).client_counters
    assert counters["TcpRetransSegs"] == 2
    assert counters["TcpExtTCPTimeouts"] == 1
    assert counters["TcpAttemptFails"] == 1
    assert "TcpExtTCPSynRetrans" not in counters


def test_many_unanswered_clients_all_time_out_on_schedule():
    r = unanswered(Kernel("6.18", **TEXTBOOK), syncnt=2, clients=5)
    assert r.outcomes() == {"timed_out": 5}
    assert {c.syn_times for c in r.clients} == {LINEAR[2][0]}
    assert r.client_counters["TcpAttemptFails"] == 5


# ---- RST to a SYN --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_syn_to_a_port_without_listener_fails_with_econnrefused(version):
    # linux-handshake-facts.md 1.7: RST + valid ACK in SYN_SENT -> tcp_reset -> ECONNREFUSED;
    # the server answers from tcp_v4_send_reset (OutRsts), the client's tcp_done counts AttemptFails
    r = simulate(Scenario(kernel=version, backlog=None, clients=2, rtt=0.01))
    for c in r.clients:
        assert (c.outcome, c.errno) == ("reset", "ECONNREFUSED")
        assert c.failed_at == pytest.approx(0.01)  # SYN out, RST back: one round trip
        assert c.syn_times == (0.0,)
    assert r.server_counters["TcpOutRsts"] == 2
    assert r.client_counters["TcpAttemptFails"] == 2


def test_dropped_rst_leaves_the_client_retrying_until_it_times_out():
    k = Kernel("6.18", **TEXTBOOK)
    r = simulate(Scenario(kernel=k, backlog=None, clients=1, drop=("RST",), syncnt=1))
    c = r.clients[0]
    assert (c.outcome, c.errno, c.syn_times, c.failed_at) == ("timed_out", "ETIMEDOUT", (0, 1, 2), 3)
    assert r.packets.tally(kind="RST", sender="server") == 3


# ---- ephemeral ports -----------------------------------------------------------------------------------

def ports(kernel, n, **kw):
    r = simulate(Scenario(kernel=kernel, backlog=128, clients=n, duration=1, **kw))
    return r, [c.port for c in r.clients]


@pytest.mark.parametrize("version", versions_where(port_selection="hint"))
def test_ports_are_sequential_from_the_global_hint_on_old_kernels(version):
    # linux-handshake-facts.md 1.12: 3.10 port = low + (i + hint + port_offset) % remaining, hint += i:
    # to one destination each connect() takes the next port, wrapping from 61000 to 32768
    _, got = ports(version, 20)
    low, high = 32768, 61000  # 1.12: the default range until 4.3
    assert all(low <= p <= high for p in got)
    assert all((b - a) % (high - low + 1) == 1 for a, b in pairwise(got))


@pytest.mark.parametrize("version", versions_where(port_selection="hint_even"))
def test_ports_start_even_and_step_by_two_from_the_hint_on_4_4(version):
    # 4.4.302 inet_hashtables.c:518-576 (07f4c90062f8): offset = (hint + port_offset) & ~1, the scan
    # i = 0.. is sequential, hint += (i + 2) & ~1: to one destination every connect() that finds its
    # first port free takes the even port two above the last; once the evens of a range are taken the
    # scan walks on into the odd ones, and past the last port connect() fails with EADDRNOTAVAIL.
    _, got = ports(version, 20)
    assert all(p % 2 == 0 for p in got) and all(b - a == 2 for a, b in pairwise(got))
    r, got = ports(Kernel(version, ip_local_port_range=(40000, 40009)), 12)
    assert sorted(got[:5]) == [40000, 40002, 40004, 40006, 40008]
    assert sorted(got[5:10]) == [40001, 40003, 40005, 40007, 40009]
    assert got[10:] == [None, None] and [c.errno for c in r.clients[10:]] == ["EADDRNOTAVAIL"] * 2


@pytest.mark.parametrize("version", versions_where(port_selection=("hint_even_first", "even_first",
                                                                    "even_first_random")))
def test_ports_are_even_first_on_new_kernels(version):
    # linux-handshake-facts.md 1.12: 4.6+ scans the ports of low's parity (even) first, step 2 (4.14.280:
    # net/ipv4/inet_hashtables.c:632-635); default range 32768-60999 since 4.4
    _, got = ports(version, 30)
    assert all(32768 <= p <= 60999 and p % 2 == 0 for p in got)
    assert len(set(got)) == 30


@pytest.mark.parametrize("version", versions_where(port_selection=("hint_even_first", "even_first",
                                                                    "even_first_random")))
def test_ports_use_all_even_ports_then_the_odd_ones_then_fail_with_eaddrnotavail(version):
    # linux-handshake-facts.md 1.12 (other_parity_scan) and 1.7 (inet_hash_connect fails -> EADDRNOTAVAIL)
    r, got = ports(Kernel(version, ip_local_port_range=(40000, 40009)), 12)
    assert sorted(got[:5]) == [40000, 40002, 40004, 40006, 40008]
    assert sorted(got[5:10]) == [40001, 40003, 40005, 40007, 40009]
    for c in r.clients[10:]:
        assert (c.port, c.outcome, c.errno, c.syn_times) == (None, "no_port", "EADDRNOTAVAIL", ())
    assert r.client_counters["TcpActiveOpens"] == 10  # tcp_connect is never reached without a port
    assert r.packets.tally(kind="SYN") == 10


@pytest.mark.parametrize("version", versions_where(port_selection="hint_even_first"))
def test_ports_step_by_two_from_the_global_hint_evens_then_odds_on_4_14(version):
    # 4.14.280 net/ipv4/inet_hashtables.c: offset = ((hint + port_offset) % remaining) & ~1 (:628, :632), and
    # hint += i + 2 (:681). To one destination within one 10 s salt of port_offset (net/core/secure_seq.c:148-155)
    # every connect() whose first port is free takes the port two above the last, wrapping by remaining
    # (:636-637); once low's parity is taken each walk goes on at offset + 1 (:674-676), again two apart.
    _, got = ports(version, 20)
    remaining = 60999 + 1 - 32768  # :623-626, even already
    assert all(p % 2 == 0 for p in got) and all((b - a) % remaining == 2 for a, b in pairwise(got))
    r, got = ports(Kernel(version, ip_local_port_range=(40000, 40009)), 12)
    first = got[0] - 40000
    assert got[:5] == [40000 + (first + 2 * k) % 10 for k in range(5)]
    assert got[5:10] == [40000 + (first + 1 + 2 * k) % 10 for k in range(5)]
    assert got[10:] == [None, None] and [c.errno for c in r.clients[10:]] == ["EADDRNOTAVAIL"] * 2


@pytest.mark.parametrize("version", versions_where(port_selection="hint"))
def test_ports_exhausted_on_old_kernels_fail_with_eaddrnotavail(version):
    r, got = ports(Kernel(version, ip_local_port_range=(40000, 40009)), 12)
    assert sorted(got[:10]) == list(range(40000, 40010))
    assert all((b - a) % 10 == 1 for a, b in pairwise(got[:10]))
    assert [c.outcome for c in r.clients[10:]] == ["no_port", "no_port"]
    assert {c.errno for c in r.clients[10:]} == {"EADDRNOTAVAIL"}


@pytest.mark.parametrize("version", versions_where(port_selection="even_first_random"))
def test_ports_advance_by_random_even_steps(version):
    # linux-handshake-facts.md 1.12 (6.x): after success i = max(i, get_random_u32_below(8) * step) and
    # table_perturb[index] += i + step, step 2: the next port to the same destination is 2..16 further.
    # 5.15.55 carries the same 2022 hardening: net/ipv4/inet_hashtables.c, INET_TABLE_PERTURB_SHIFT 16,
    # `i = max_t(int, i, (prandom_u32() & 7) * 2); table_perturb[index] += i + 2`
    _, got = ports(version, 40)
    steps = [(b - a) % (60999 - 32768 + 1) for a, b in pairwise(got)]
    assert all(s % 2 == 0 and 2 <= s <= 16 for s in steps)
    assert len(set(steps)) > 3


def test_ports_are_freed_when_connect_fails():
    # a port goes back to the range when the socket closes: with two ports, two refused connect()s at
    # t=0 leave the third connect() at t=0 without a port, but a connect() at 1 s gets one again
    r = simulate(Scenario(kernel=Kernel("6.18", ip_local_port_range=(40000, 40001)), backlog=None,
                          clients=[0.0, 0.0, 0.0, 1.0], rtt=0.01))
    assert [c.outcome for c in r.clients] == ["reset", "reset", "no_port", "reset"]
    assert r.clients[3].port in (40000, 40001)


def test_same_seed_picks_the_same_ports_and_another_seed_other_ones():
    _, a = ports("6.18", 10, seed=5)
    _, b = ports("6.18", 10, seed=5)
    _, c = ports("6.18", 10, seed=6)
    assert a == b
    assert a != c
