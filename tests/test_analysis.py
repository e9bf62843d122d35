"""The analysis layer between a Result and its readers: one definition of a percentile (nearest
rank, a value some client really saw), the diagnosis of counters, SYN-flood sweeps."""

from __future__ import annotations

import pytest

from handshake_course import Kernel, Scenario, simulate
from handshake_course.analysis import diagnose, flood_scenario, flood_sweep, latency_summary, percentile


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


def test_diagnose_reads_counters():
    assert diagnose({}) == []
    titles = [f.title for f in diagnose({"TcpExtTCPReqQFullDrop": 3, "TcpExtListenDrops": 3}, syncookies=0)]
    assert titles == ["SYN queue full, SYNs dropped"]
    quarter = diagnose({"TcpExtListenDrops": 7}, syncookies=0)
    assert [f.title for f in quarter] == ["SYNs dropped by the last-quarter rule"]
    net = diagnose({}, {"TcpExtTCPSynRetrans": 4})
    assert [f.title for f in net] == ["Clients retransmit SYNs"]


def test_flood_sweep_cookies_keep_everyone_in():
    sweep = flood_sweep([100, 1000], {"off": Kernel("6.18", tcp_syncookies=0), "on": Kernel("6.18")}, duration=3.0)
    assert [share for _, share, _ in sweep["on"]] == [1.0, 1.0]
    assert sweep["off"][1][1] < sweep["off"][0][1] <= 1.0
    for rows in sweep.values():  # the p99 is a latency some client saw (nearest rank)
        for rate, _, p99 in rows:
            result = simulate(flood_scenario(Kernel("6.18", tcp_syncookies=0 if rows is sweep["off"] else 1),
                                             rate, 128, 20.0, 3.0))
            assert p99 == percentile(result.latencies(), 0.99) and (p99 is None or p99 in result.latencies())
