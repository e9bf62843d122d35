"""The clock and event list the simulation runs on (model.clock), and the packed columns of a
Result, which only model/result.py packs and unpacks."""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import pickle
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import handshake_course as hc
from handshake_course import Kernel, Scenario, simulate
from handshake_course.model.clock import US, EventList, to_us
from handshake_course.model.result import KINDS, SENDERS, packet_fields, queue_fields, trace_fields

PACKAGE = Path(__file__).resolve().parent.parent / "handshake_course"
LAYOUT = re.compile(r"\b(CLIENT_SHIFT|SENDER_SHIFT|KIND_SHIFT|KIND_MASK|SENDER_MASK|RETRANS_BIT|LOST_BIT|ACTION_MASK|"
                    r"SYN_QUEUE_SHIFT|ACCEPT_QUEUE_MASK)\b")


def test_events_run_in_time_order_and_ties_in_scheduling_order():
    clock, seen = EventList(), []
    for t, name in [(5, "c"), (1, "a"), (5, "d"), (3, "b")]:
        clock.at(t, lambda arg, t=t: seen.append((t, arg, clock.now)), name)
    clock.run()
    assert seen == [(1, "a", 1), (3, "b", 3), (5, "c", 5), (5, "d", 5)]
    assert clock.events == 4


def test_a_cancelled_event_never_runs_and_handlers_schedule_more():
    clock, seen = EventList(end=10), []
    doomed = clock.at(4, seen.append, "cancelled")
    clock.cancel(doomed)
    clock.cancel(None)

    def tick(n: int) -> None:
        seen.append(n)
        clock.at(clock.now + 3, tick, n + 1)

    clock.at(0, tick, 0)
    clock.run()
    assert seen == [0, 1, 2, 3]  # at 0, 3, 6, 9; the one due at 12 is after the end
    assert clock.now == 10  # the clock stops at the end, not at the last event


def test_the_clock_counts_microseconds():
    assert US == 1_000_000 and to_us(0.2) == 200_000 and to_us(1e-7) == 0


def test_decoding_a_column_at_once_agrees_with_the_records():
    r = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=1), backlog=4, clients=30, loss=0.2, flood=200.0,
                          duration=5.0, seed=3))
    f = packet_fields(np.asarray(r.packets.info, dtype=np.int64))
    for i, p in enumerate(r.packets):
        assert (SENDERS[f.sender[i]], KINDS[f.kind[i]], bool(f.retransmission[i]), bool(f.lost[i])) == (
            p.sender, p.kind, p.retransmission, p.lost)
        assert f.client[i] == (-1 if p.client is None else p.client)
    assert {"client", "flood"} <= {p.sender for p in r.packets} and any(p.lost for p in r.packets)
    assert r.packets.kind_counts() == {k: r.packets.tally(kind=k) for k in KINDS if r.packets.tally(kind=k)}
    client, action = trace_fields(np.asarray(r.trace.info, dtype=np.int64))
    syn, acc = queue_fields(np.asarray(r.trace.queues, dtype=np.int64))
    for i, e in enumerate(r.trace):
        assert (r.trace.actions[action[i]].name, syn[i], acc[i]) == (e.action, e.syn_queue, e.accept_queue)
        assert client[i] == (-1 if e.client is None else e.client)


def test_only_result_py_knows_how_columns_are_packed():
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if p.name != "result.py" and LAYOUT.search(p.read_text(encoding="utf-8")))
    assert users == []


def test_the_simulation_keeps_every_attribute_in_its_slots():
    # simulation._Simulation's docstring: a room's attribute missing from its STATE would land in a __dict__,
    # which CPython 3.11 no longer specializes method calls on once it holds more than 30 names. Every room at
    # work: the listener scan (3.10), a SO_REUSEPORT group, TCP Fast Open, requests, the close, a flood.
    from handshake_course.model.simulation import _Simulation

    for scenario in (Scenario(kernel="3.10", backlog=8, clients=30, hold=1.0, data=True, flood=100.0, duration=5.0),
                     Scenario(kernel="6.18", backlog=8, clients=30, hold=1.0, data=True, listeners=3, fastopen=4,
                              flood=100.0, loss=0.1, duration=5.0, defer_accept=2)):
        sim = _Simulation(scenario)
        sim.start()
        sim.run()
        sim.result()
        assert vars(sim) == {}


def test_a_run_pauses_the_cyclic_collector_and_leaves_it_as_it_was(monkeypatch):
    """model.simulation._collector_paused: a run makes no reference cycles, so Python's cyclic garbage
    collector is off while it runs (a full collection then would only walk the caller's objects); it
    is on again afterwards, also when the run fails, and stays off if the caller had turned it off."""
    import gc

    import pytest

    from handshake_course.model import simulation

    seen = []
    real = simulation._Simulation.start

    def start(self):
        seen.append(gc.isenabled())
        real(self)

    monkeypatch.setattr(simulation._Simulation, "start", start)
    simulate(Scenario(clients=2))
    assert seen == [False] and gc.isenabled()

    def failing(self):
        raise ZeroDivisionError

    monkeypatch.setattr(simulation._Simulation, "start", failing)
    with pytest.raises(ZeroDivisionError):
        simulate(Scenario(clients=2))
    assert gc.isenabled()
    gc.disable()
    try:
        monkeypatch.setattr(simulation._Simulation, "start", start)
        simulate(Scenario(clients=2))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_run_leaves_no_reference_cycles_behind():
    """What makes pausing the collector safe: once simulate() returns, nothing it built is left for
    the cyclic collector - a run of every room (requests, the close, a group, TCP Fast Open, a flood,
    loss) frees all it made by reference counting alone."""
    import gc

    gc.collect()
    gc.disable()
    try:
        simulate(Scenario(kernel="6.18", backlog=8, clients=30, hold=1.0, data=True, listeners=3, fastopen=4,
                          flood=100.0, loss=0.1, duration=5.0, defer_accept=2, seed=3))
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_the_clients_read_as_the_tuple_of_their_records():
    # Result.clients holds the simulation's rows and builds each ClientRecord when first read: it must read
    # as the tuple it stands for (the README's contract: result.clients[i] and its fields)
    r = simulate(Scenario(kernel="6.18", backlog=2, clients=[0.0, 0.0, 0.0, 0.0, 0.5], accept=2.0, loss=0.2, seed=3))
    records = tuple(r.clients)
    assert len(records) == len(r.clients) == 5 and all(isinstance(c, hc.ClientRecord) for c in records)
    assert [c.index for c in records] == list(range(5))
    assert r.clients[-1] is r.clients[4] is records[4]  # built once, then kept
    assert r.clients[np.int64(2)] is records[2] and type(r.clients[np.int64(3)].index) is int
    assert r.clients[1:3] == records[1:3] and isinstance(r.clients[1:3], tuple)
    assert r.clients == records and records == r.clients and r.clients != records[:4]
    assert repr(r.clients) == repr(records)
    assert r.clients + () == records and () + r.clients == records and 2 * r.clients == r.clients * 2 == records * 2
    assert r.clients != list(records)  # as a tuple is not equal to a list
    with pytest.raises(TypeError):
        r.clients + list(records)
    assert r.clients == simulate(r.scenario).clients  # same seed, same records
    with pytest.raises(IndexError, match="tuple index out of range"):
        r.clients[5]
    # a Result given records instead of rows still counts them
    fewer = dataclasses.replace(r, clients=records[:3])
    assert fewer.outcomes() == Counter(c.outcome for c in records[:3])
    assert fewer.latencies() == [c.latency for c in records[:3] if c.latency is not None]
    assert fewer.connected() == sum(c.connected_at is not None for c in records[:3])


@pytest.mark.parametrize("fields", [
    dict(kernel="3.10", backlog=4, clients=30, accept=5.0, loss=0.1, seed=2),
    dict(kernel="6.18", backlog=4, clients=[i * 0.01 for i in range(40)], accept=5.0, data=True, hold=0.5,
         loss=0.05, seed=4),
    dict(kernel=Kernel("6.18", tcp_fastopen=3), backlog=16, clients=[0.0, 1.0, 1.0, 1.0], data=True, fastopen=16,
         seed=1),
], ids=["lossy", "request-and-close", "fastopen"])
def test_outcomes_connected_and_latencies_read_from_the_rows_agree_with_the_records(fields):
    r = simulate(**fields)
    records = list(r.clients)
    assert r.outcomes() == Counter(c.outcome for c in records)
    assert r.connected() == sum(c.connected_at is not None for c in records)
    assert r.latencies() == [c.latency for c in records if c.latency is not None]
    # the records built from the rows carry the request's, the close's and TCP Fast Open's fields
    assert any(c.data_times for c in records) == r.scenario.data
    assert any(c.closed_at is not None for c in records) == (r.scenario.hold is not None)
    assert any(c.fastopen == "data_in_syn" for c in records) == bool(r.scenario.fastopen)


def test_a_scenario_and_its_result_go_to_another_process_and_back():
    # a sweep over a process pool pickles each Scenario out and its Result back (a Kernel pickles as its
    # version and overrides); what comes back is what the run in this process gives
    scenarios = [Scenario(kernel=Kernel("3.10", tcp_syncookies=0), backlog=2, clients=8, accept=2.0, loss=0.1, seed=2),
                 Scenario(kernel=Kernel("6.18", tcp_syn_linear_timeouts=0), backlog=4, clients=6, data=True, hold=0.5)]
    here = [simulate(s) for s in scenarios]
    assert [pickle.loads(pickle.dumps(s)) for s in scenarios] == scenarios
    assert [copy.deepcopy(s) for s in scenarios] == scenarios
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = list(pool.map(simulate, scenarios, timeout=120))
    for a, b in zip(here, there, strict=True):
        assert b.scenario == a.scenario and repr(b.kernel) == repr(a.kernel)
        assert b.clients == a.clients and list(b.packets) == list(a.packets) and list(b.trace) == list(a.trace)
        assert b.counters == a.counters and b.log == a.log and b.events == a.events
