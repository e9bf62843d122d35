"""Kernel timer lateness (model/timers.py): expected ticks are computed by hand from
kernel/time/timer.c calc_wheel_index (4.8+) and kernel/timer.c apply_slack (2.6.34-4.7)."""

import pytest

from handshake_course import Kernel, Scenario, simulate
from handshake_course.model.timers import TimerBase, slack_expiry, wheel_expiry


@pytest.mark.parametrize(("delta", "granularity"), [
    (1, 1), (62, 1),          # level 0: fewer than 63 ticks, 1-tick granularity
    (63, 8), (250, 8),        # level 1: up to 504 ticks (a 1 s RTO at HZ=250), 8 ticks
    (504, 64), (4000, 64),    # level 2: up to 4032 ticks, 64 ticks
    (8000, 512),              # level 3: a 32 s RTO at HZ=250, 512 ticks
])
def test_wheel_rounds_up_to_the_level_granularity(delta, granularity):
    clk = 1_000_003
    fired = wheel_expiry(clk + delta, clk)
    # calc_index: expires = (expires >> shift) + 1, then << shift: strictly later, aligned
    assert fired % granularity == 0
    assert clk + delta < fired <= clk + delta + granularity


def test_slack_leaves_near_timers_alone_and_rounds_far_ones_within_delta_over_256():
    assert slack_expiry(1000 + 255, 1000) == 1255          # delta < 256: no slack
    fired = slack_expiry(1000 + 1000, 1000)                  # a 1 s timer at HZ=1000
    assert 2000 <= fired <= 2000 + 1000 // 256


def test_timers_off_fire_exactly():
    assert TimerBase("off", 250, 1).fire_at(123_456, 1_000_000) == 1_123_456


def test_wheel_never_fires_before_the_requested_tick_and_is_at_most_one_granule_late():
    base = TimerBase("wheel", 250, 7)
    for now in range(0, 50_000, 1_777):
        fired = base.fire_at(now, 1_000_000)
        # the tick in progress counts as started: at most one 4 ms jiffy early in real time,
        # at most 8 jiffies (32 ms) plus one late at level 1
        assert now + 1_000_000 - 4_000 <= fired <= now + 1_000_000 + 36_000


def test_clients_waiting_on_the_wheel_retransmit_as_a_herd():
    # Three connect()s 0, 3 and 11 ms apart, every SYN-ACK dropped: on a 6.18 wheel their 1 s RTOs
    # fall into one 32 ms bucket, so their SYN retransmissions leave together.
    k = Kernel("6.18", timer_wheel="wheel")
    r = simulate(Scenario(kernel=k, backlog=128, clients=[0.0, 0.003, 0.011], drop=("SYN-ACK",),
                          duration=10, seed=3))
    second_syns = {c.syn_times[1] for c in r.clients}
    assert len(second_syns) == 1
    textbook = simulate(Scenario(kernel=k.replace(timer_wheel="off"), backlog=128,
                                 clients=[0.0, 0.003, 0.011], drop=("SYN-ACK",), duration=10, seed=3))
    assert len({c.syn_times[1] for c in textbook.clients}) == 3
