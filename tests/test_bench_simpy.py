"""The SimPy reference model of ``benchmarks/simpy_model.py`` does the same work as ours, so that
``bench_model.py --simpy`` compares the speed of two models of one thing.

Held here, on small versions of the two benchmark cases (each run takes well under a second):

* the reference model runs the benchmark's own scenarios, with 6.18's constants as ours has them;
* with exact timers (``timer_wheel='off'``, the one simplification of the SimPy model that changes
  what happens) and no loss, the two models take every decision at the same microsecond, so their
  outcomes and counters are **equal**;
* with 1 % loss, each model draws its own random stream in its own packet order, so loss falls on
  other packets and the counts differ by seed noise only. Summed over five seeds, the main counts
  (accepted, listen overflows, SYN retransmissions and timeouts, challenge ACKs) of the small case a
  were within 10 % of each other for every five-seed window of seeds 1 to 40; the test allows 15 %.
  Cookies and connections left established are a threshold effect here (cookies start only once
  more than 128 requests wait), which swung them by up to 265 of 5,000 connections in those
  windows; they are held to 10 % of the connections, and exactly by the lossless test above;
* with the benchmark's kernel (the 6.18 timer wheel, whose herds of timers ours models), the flood
  case's SYN cookie count, which is nearly all the work of case b, agrees within 1 %.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("simpy", reason="the SimPy reference model needs simpy (pip install 'handshake-course[bench]')")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_model  # noqa: E402
import simpy_model  # noqa: E402

from handshake_course import Kernel, Scenario, simulate  # noqa: E402
from handshake_course.model import rules  # noqa: E402

#: Case a, small: 1,000 clients arriving five times as fast (every 0.2 ms), so that within a second
#: the accept queue overflows, the SYN queue fills with acked requests and cookies are sent.
SMALL_A = simpy_model.Case(backlog=128, clients=[i * 0.0002 for i in range(1_000)], accept=800.0, loss=0.01)
#: Case b, small: a 3 s flood at 2,000 SYN/s, 10 clients every 0.25 s.
SMALL_B = simpy_model.Case(backlog=128, clients=[0.25 + i * 0.25 for i in range(10)], accept=1000.0,
                           flood=2_000.0, duration=3.0)


def ours(case: simpy_model.Case, timer_wheel: str | None = "off", **changes: Any) -> dict[str, Counter[str]]:
    """Our model on ``case``: its outcomes and counters (those that are not zero)."""
    kernel = Kernel("6.18", tcp_syncookies=case.syncookies)
    if timer_wheel is not None:
        kernel = kernel.replace(timer_wheel=timer_wheel)
    fields = dict(backlog=case.backlog, clients=list(case.clients), accept=case.accept, loss=case.loss,
                  flood=case.flood, duration=case.duration, seed=case.seed, rtt=case.rtt)
    result = simulate(Scenario(kernel=kernel, **{**fields, **changes}))
    return {"outcomes": Counter(result.outcomes()), "counters": +Counter(result.counters)}


def reference(case: simpy_model.Case) -> dict[str, Counter[str]]:
    row = simpy_model.simulate(case)
    return {"outcomes": Counter(row["outcomes"]), "counters": +Counter(row["counters"])}


@pytest.mark.parametrize("name", sorted(bench_model.CASES))
def test_the_reference_model_runs_the_benchmark_scenarios(name: str) -> None:
    scenario = eval(bench_model.CASES[name], {"Kernel": Kernel, "Scenario": Scenario})
    case = simpy_model.CASES[name]
    assert scenario.kernel.version == "6.18" and scenario.kernel.tcp_syncookies_effective == case.syncookies
    assert (scenario.backlog, scenario.client_times, scenario.accept, scenario.loss, scenario.flood,
            scenario.duration, scenario.seed, scenario.rtt) == (
        case.backlog, tuple(case.clients), case.accept, case.loss, case.flood, case.duration, case.seed, case.rtt)


def test_the_reference_model_has_the_kernel_constants_of_ours() -> None:
    k = Kernel("6.18")
    assert [simpy_model.syn_rto(f) for f in range(12)] == [rules.syn_rto_after_us(k, f) for f in range(12)]
    assert [simpy_model.synack_timeout(n) for n in range(8)] == [rules.synack_timeout_us(k, n) for n in range(8)]
    assert simpy_model.TCP_SYNACK_RETRIES == k.tcp_synack_retries
    assert simpy_model.TCP_INVALID_RATELIMIT == round(k.tcp_invalid_ratelimit * simpy_model.US)
    assert simpy_model.TCP_SYNCOOKIE_VALID == round(k.cookie_window * simpy_model.US)
    # one client whose SYNs are all lost: its retransmissions and ETIMEDOUT, as rules.syn_schedule says
    schedule = rules.syn_schedule(k)
    lost = simpy_model.simulate(simpy_model.Case(backlog=128, clients=[0.0], accept=1.0, loss=1.0))
    assert lost["outcomes"] == {"timed_out": 1}
    assert lost["counters"]["TcpExtTCPSynRetrans"] == schedule.retransmissions
    assert lost["end"] == schedule.give_up


@pytest.mark.parametrize("case", [SMALL_A, SMALL_B], ids=["a", "b"])
def test_without_loss_and_with_exact_timers_both_models_count_the_same(case: simpy_model.Case) -> None:
    lossless = replace(case, loss=0.0)
    mine, theirs = ours(lossless), reference(lossless)
    assert theirs == mine
    assert mine["counters"]["TcpExtListenOverflows" if case is SMALL_A else "TcpExtSyncookiesSent"] > 0


def test_with_loss_the_counts_agree_within_seed_noise() -> None:
    mine: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    for seed in range(1, 6):
        case = replace(SMALL_A, seed=seed)
        for total, run in ((mine, ours(case)), (theirs, reference(case))):
            total.update(run["outcomes"])
            total.update(run["counters"])
    connections = 5 * len(SMALL_A.clients)
    for key in ("accepted", "TcpPassiveOpens", "TcpExtListenOverflows", "TcpExtTCPSynRetrans", "TcpExtTCPTimeouts",
                "TcpExtTCPSYNChallenge", "TcpActiveOpens"):
        assert abs(theirs[key] - mine[key]) <= 0.15 * max(theirs[key], mine[key]), (key, theirs[key], mine[key])
    for key in ("established", "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv"):
        assert abs(theirs[key] - mine[key]) <= 0.10 * connections, (key, theirs[key], mine[key])
    assert mine["TcpExtListenOverflows"] > 1000 and mine["TcpExtTCPSynRetrans"] > 1000


def test_with_the_timer_wheel_the_flood_case_agrees() -> None:
    mine, theirs = ours(SMALL_B, timer_wheel=None), reference(SMALL_B)
    assert theirs["outcomes"] == mine["outcomes"] == {"accepted": 10}
    sent, expected = theirs["counters"]["TcpExtSyncookiesSent"], mine["counters"]["TcpExtSyncookiesSent"]
    assert abs(sent - expected) <= 0.01 * expected and expected > 5_000
    assert theirs["counters"]["TcpExtSyncookiesRecv"] == mine["counters"]["TcpExtSyncookiesRecv"]
