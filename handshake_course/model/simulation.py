"""The discrete-event simulation of a listener, its clients and the network between them.

Design
------
* **Clock and event list.** ``clock.EventList``: integer microseconds, a heap with ties broken in
  scheduling order, timers cancelled by lazy deletion (``del_timer`` / ``mod_timer``).
* **Rooms.** The simulation is the event list plus four rooms, one module each in ``hosts``: the
  client host (``ClientHost``: connect() and the SYN timer), the server host (``ServerHost``: the
  listener, its queues, syncookies, the SYN-ACK timer), the application (``Application``: accept())
  and a flood source (``FloodSource``). ``hosts.base.Core`` holds what they share: the wire, the
  kernel timers and the record. Each host keeps its own nstat counters.
* **Clients that speak first.** With ``Scenario(data=True)`` each client writes a request once
  connected: a DATA segment with its own timer (a loss probe, then RTOs from the RTT the client
  measured on the SYN-ACK), which the server takes as the final ACK where no child exists yet.
* **TCP Fast Open.** With ``Scenario(fastopen=N)`` (or tcp_fastopen's 0x400) and ``data``, clients whose
  host's tcp_fastopen has the client bit send with sendto(MSG_FASTOPEN) (``hosts.fastopen``): the first
  SYN asks for a cookie, which the client host caches; later ones carry the request, and the listener
  makes the child at the SYN, within its TFO queue (``rules.fastopen_syn``).
* **SO_REUSEPORT groups.** With ``Scenario(listeners=N)`` the server host holds N listening sockets
  (``hosts.group``): each handler first picks the listener the kernel's lookup finds for the segment
  or timer, which puts that listener's queues, counts and timers in place, so the rooms' code is the
  same for one listener or many. ``Scenario(defer_accept=...)`` (TCP_DEFER_ACCEPT) is two rules:
  tcp_check_req drops a bare final ACK, syn_ack_recalc holds back the SYN-ACK meanwhile.
* **The close and TIME_WAIT.** With ``Scenario(hold=...)`` each client closes ``hold`` s after
  connect() returned (``hosts.teardown``): its FIN, the server's child and application closing in turn,
  and the client's timewait socket, which holds the port for 60 s unless tcp_tw_reuse lets connect()
  take it (``ports`` walks past the ports held, as __inet_hash_connect does).
* **Kernel behaviour.** Every decision is taken by a rule in ``rules`` or a switch of the Kernel,
  and every consequence is recorded as an ``actions`` entry, which bumps the counters the real
  kernel bumps at that point. Function paths and counters per version live in ``actions``.
* **Randomness.** Independent ``random.Random`` streams per purpose (loss, ports, hashing), seeded
  from the scenario, so that changing the loss rate does not change the ports chosen.
"""

from __future__ import annotations

import gc
import heapq
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

from . import rules
from .clock import US, EventList, to_seconds, to_us
from .hosts.application import ACCEPT_STATE, Application
from .hosts.base import NO_CLIENT, Core
from .hosts.client import CLOSING, ESTABLISHED, ClientHost, _Client
from .hosts.fastopen import FastOpen
from .hosts.flood import FloodSource
from .hosts.group import ListenerGroup
from .hosts.server import ACCEPTED, QUEUED, ServerHost
from .hosts.teardown import Teardown
from .result import ClientRecords, ClientRow, Listener, Queues, Result
from .scenario import Scenario

ROOMS = (EventList, Core, ClientHost, FastOpen, ListenerGroup, ServerHost, Application, FloodSource, Teardown)
"""Every class whose attributes a simulation holds; each names them in its ``STATE``."""


class _Simulation(ClientHost, FastOpen, ServerHost, Application, FloodSource, Teardown):
    """One run: the rooms together on one event list.

    Its state is in slots: every room's attributes (its ``STATE``) and its own. In a ``__dict__`` they
    would be too many (more than 30) for CPython 3.11 to keep a shared-keys dict, and then it looks
    up every ``self.method()`` call afresh: the handlers make a dozen of those per event."""

    __slots__ = (*dict.fromkeys(name for room in ROOMS for name in vars(room)["STATE"]),
                 "connect_order", "connect_seq0", "next_connect")

    def start(self) -> None:
        if self.grouped:
            names, fresh = self.listener_state()
            self.open_group(names + ACCEPT_STATE, fresh)
        if self.listening:
            for listener in range(self.group):  # each worker's listen() (SO_REUSEPORT joins the group)
                self.use_listener(listener)
                self.act("listen", NO_CLIENT)
                self.queues_changed()
        self.schedule_connects()
        accept = self.scenario.accept
        for listener in range(self.group):  # each listener's own accept() loop or calls
            if isinstance(accept, float):
                self.at(0, self.accept_call, listener)
            elif accept is not None:
                for t in accept:
                    self.at(to_us(t), self.accept_call, listener)
        if self.flood_period:
            self.at(self.one_way, self.flood_syn)

    def schedule_connects(self) -> None:
        """Every client's connect(), in the order (time, client) an event list holding them all from
        the start would run them, but only one at a time on the heap: each connect schedules the next
        with the sequence number it would have had, so the run is the same and a million pending
        connects cost no heap entries."""
        clients = self.clients
        in_order = all(a.start <= b.start for a, b in pairwise(clients))
        self.connect_order: Sequence[int] = (range(len(clients)) if in_order else
                                             array("q", sorted(range(len(clients)), key=lambda i: clients[i].start)))
        self.connect_seq0 = self.seq + 1  # client i's connect would have been event seq0 + i
        self.seq += len(clients)
        self.next_connect = 0
        self.push_next_connect()

    def push_next_connect(self) -> None:
        if self.next_connect < len(self.connect_order):
            c = self.clients[self.connect_order[self.next_connect]]
            self.next_connect += 1
            heapq.heappush(self.heap, [c.start, self.connect_seq0 + c.index, self.connect_then_next, c])

    def connect_then_next(self, c: Any) -> None:
        self.push_next_connect()
        self.connect(c)

    def result(self) -> Result:
        rows: list[ClientRow] = []
        more: dict[int, dict[str, Any]] = {}
        fastopen = bool(self.fastopen_syns)
        clients, self.clients = self.clients, []  # each client's state is freed once its row exists
        clients.reverse()
        while clients:
            c = clients.pop()
            c.timer = None  # its last timer's entry points back at it: unlinked, refcounting frees both
            rows.append((c.start, c.port, self.outcome(c), c.syn_times, c.connected_at, c.accepted_at, c.failed_at,
                         c.errno))
            if c.data_times or c.closing is not None or fastopen:
                more[c.index] = self.more_fields(c)
        listener = None
        if self.listening:
            assert self.scenario.backlog is not None
            listener = Listener(self.backlog, self.backlog + 1,
                                rules.syn_queue_capacity(self.k, self.scenario.backlog, last_quarter=False),
                                self.table)
        queues = tuple(Queues(*(self.listener_value(i, name) for name in ("q_times", "q_syn", "q_acc")))
                       for i in range(self.group))
        return Result(
            scenario=self.scenario, clients=ClientRecords(rows, more), packets=self.packets, trace=self.trace,
            queues=queues[0], server_counters=self.server_counters, client_counters=self.client_counters,
            listener=listener, log=tuple(self.log), end=self.now / US, events=self.events,
            listeners=(listener,) * self.group if listener is not None else (),
            listener_queues=queues if listener is not None else ())

    def more_fields(self, c: _Client) -> dict[str, Any]:
        """A client's ClientRecord fields of the request, the close and TCP Fast Open, in seconds (a client
        with none of them keeps the records' defaults)."""
        return dict(data_times=tuple([t / US for t in c.data_times]), data_acked_at=to_seconds(c.data_acked_at),
                    rtt_sample=c.srtt / US if c.data_times and c.connected_at is not None else None,
                    **self.close_fields(c), **self.fastopen_fields(c))

    def dismantle(self) -> None:
        """Let go of everything once the result is built: events still scheduled (a run that ends at
        its duration) hold handlers bound to the run and the sockets they are for, which hold those
        entries in turn; without this they would be reference cycles for the collector."""
        for entry in (*self.heap, *self.fifo):
            entry.clear()
        for name in type(self).__slots__:
            if hasattr(self, name):
                delattr(self, name)

    def outcome(self, c: _Client) -> str:
        if c.errno is not None:
            return {"ETIMEDOUT": "timed_out", "EADDRNOTAVAIL": "no_port"}.get(c.errno, "reset")
        if c.state in (ESTABLISHED, CLOSING):  # a closed connection keeps its outcome (closed_at says it closed)
            child = self.children.get(c.index)
            return "accepted" if child == ACCEPTED else "queued" if child == QUEUED else "established"
        return "connecting"


Progress = Callable[[float, float], None]
"""``progress(seconds_done, seconds_total)``: simulated time so far, and the time the run will end."""


def simulate(scenario: Scenario | None = None, *, progress: Progress | None = None, **fields: Any) -> Result:
    """Run one scenario and return its Result.

    ``simulate(Scenario(...))``, or ``simulate(kernel="3.10", backlog=8, clients=20)`` as a shortcut.
    The same scenario (seed included) always gives the same result.
    ``progress``, if given, is called as simulated time goes by (about 200 times a run, the last
    time with done == total): what a progress bar needs; it does not change the result.
    """
    if scenario is None:
        scenario = Scenario(**fields)
    elif fields:
        scenario = scenario.replace(**fields)
    if not isinstance(scenario, Scenario):
        raise TypeError(f"simulate() takes a Scenario; got {type(scenario).__name__}")
    with _collector_paused():
        sim = _Simulation(scenario)
        sim.start()
        if progress is None:
            sim.run()
        else:
            total = expected_end(scenario)
            sim.run(lambda now: progress(min(now / US, total), total), every=max(1, to_us(total / 200)))
            progress(total, total)
        result = sim.result()
        sim.dismantle()
        return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a run allocates: a run leaves no reference cycles
    (``dismantle``), so a full collection in it would only walk the caller's objects - in a notebook
    with matplotlib loaded that took tens of milliseconds, several times a run. It is on again
    afterwards (if it was), also when the run fails."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def expected_end(scenario: Scenario) -> float:
    """Seconds the run will simulate: the duration, or (without one) when the last client's
    connect() would give up if nothing ever answered it: an upper bound a progress bar can use."""
    if scenario.duration is not None:
        return scenario.duration
    last_start = max(scenario.client_times, default=0.0)
    kernel = scenario.kernel
    end = last_start + rules.syn_schedule(kernel, scenario.syncnt).give_up  # type: ignore[arg-type]
    if scenario.hold is not None:  # then the close: a FIN_WAIT2 and a TIME_WAIT socket of 60 s each
        end += scenario.hold + 2 * rules.TIMEWAIT_LEN_US / US
    return end
