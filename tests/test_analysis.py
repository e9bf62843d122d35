"""One definition of a percentile for every reader: nearest rank, a value some client really saw."""

from __future__ import annotations

import pytest

from handshake_course import Scenario, simulate
from handshake_course.analysis import percentile
from handshake_course.views import latency_summary


def test_nearest_rank_picks_a_value_that_occurred():
    # two fast handshakes and two that waited one 1 s SYN retransmission: the interpolated median
    # (0.502 s) is a latency nobody saw; the nearest-rank median is the second fastest
    latencies = [0.002, 1.002, 0.002, 1.002]
    assert percentile(latencies, 0.5) == 0.002
    assert percentile(latencies, 0.75) == 1.002
    assert percentile(latencies, 1.0) == 1.002
    assert percentile(range(1, 101), 0.99) == 99
    assert percentile([], 0.5) is None


@pytest.mark.parametrize("q", [0, -0.5, 1.5])
def test_a_quantile_outside_0_to_1_names_the_parameter(q):
    with pytest.raises(ValueError, match="q must be more than 0 and at most 1"):
        percentile([1.0], q)


def test_the_latency_summary_uses_the_same_percentile():
    r = simulate(Scenario(kernel="6.18", backlog=128, clients=40, loss=0.2, rtt=0.02, duration=60, seed=3))
    s = latency_summary(r)
    assert (s.median, s.p99) == (percentile(r.latencies(), 0.5), percentile(r.latencies(), 0.99))
    assert s.median in r.latencies()
