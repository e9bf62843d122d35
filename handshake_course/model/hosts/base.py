"""What every room of the simulation shares: the scenario and kernel, the wire, the clock's kernel
timers, and the record of what happened (trace, counters, packets, queue lengths, kernel log).

``Core`` is the event list plus these; each room (``client``, ``server``, ``application``,
``flood``) is a subclass adding its own state and handlers, and ``simulation._Simulation`` combines
them. Rooms call each other's handlers through ``self`` (the client's SYN is delivered to
``server_syn``), as the kernel's layers call each other; each room's docstring lists what it uses
of the others.
"""

from __future__ import annotations

import random
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import rules
from ..actions import actions_for, counters_of
from ..clock import US, EventList, to_us
from ..profiles import Kernel
from ..result import KINDS, SENDERS, PacketLog, Trace
from ..scenario import Scenario
from ..timers import TimerBase

CLIENT, SERVER, FLOOD = (SENDERS.index(s) for s in ("client", "server", "flood"))  # packet senders
SYN, SYNACK, ACK, RST, DATA = (KINDS.index(k) for k in ("SYN", "SYN-ACK", "ACK", "RST", "DATA"))  # packet kinds
NO_CLIENT = -1  # the client index of a packet or event that concerns no client (a spoofed SYN)


class Core(EventList):
    """The event list, the wire and the record, shared by every room."""

    STATE = ("scenario", "k", "one_way", "loss", "loss_rng", "timers", "dropped", "packets", "actions", "trace",
             "trace_add", "server_counters", "client_counters", "bumps", "log", "q_times", "q_syn", "q_acc", "qlen",
             "accept_queue")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(to_us(scenario.duration) if scenario.duration is not None else None)
        k: Kernel = scenario.kernel  # type: ignore[assignment]
        self.scenario, self.k = scenario, k
        self.one_way = to_us(scenario.rtt) // 2
        self.loss = scenario.loss
        self.loss_rng = random.Random(f"loss:{scenario.seed}")
        self.timers = TimerBase(k.timer_wheel, k.hz, scenario.seed, scenario.jiffies)
        self.dropped = frozenset(KINDS.index(kind) for kind in scenario.drop)  # kinds an nftables rule drops
        self.packets = PacketLog()
        self.packets.one_way_us = self.one_way
        self.actions = actions_for(k)
        self.trace = Trace(self.actions)
        self.trace_add = self.trace.recorder()
        defer = scenario.defer_accept > 0  # TCP_DEFER_ACCEPT's counter is shown only where it is set
        close = scenario.hold is not None  # the close's and TIME_WAIT's counters too
        tfo = rules.fastopen_used(k, scenario.fastopen, scenario.backlog, scenario.data)  # TCP Fast Open's too
        self.server_counters = dict.fromkeys(counters_of(k, "server", scenario.data, defer, close, tfo), 0)
        self.client_counters = dict.fromkeys(counters_of(k, "client", scenario.data, close=close, fastopen=tfo), 0)
        self.bumps = {a.name: (i, self.server_counters if a.host == "server" else self.client_counters, a.counters)
                      for i, a in enumerate(self.actions)}  # action name -> (index, its host's counters, names)
        self.log: list[tuple[float, str]] = []
        self.q_times, self.q_syn, self.q_acc = array("d"), array("q"), array("q")
        self.qlen = 0  # request socks in the SYN queue (the server's; recorded with every action)
        self.accept_queue: deque[int] = deque()  # client indices of the children waiting for accept()

    def timer_at(self, delay: int) -> int:
        """When a kernel timer armed now for `delay` really fires (see the timer_wheel switch)."""
        return self.timers.fire_at(self.now, delay)

    # ---- recording ---------------------------------------------------------------------------
    def act(self, name: str, client: int) -> None:
        """Record a kernel action and bump its counters on its host."""
        i, counters, names = self.bumps[name]
        for c in names:
            counters[c] += 1
        self.trace_add(self.now, client, i, self.qlen, len(self.accept_queue))

    def act_many(self, name: str, client: int, times: list[int]) -> None:
        """``act`` at each of ``times`` (a batch of flood SYNs that took the same path)."""
        i, counters, names = self.bumps[name]
        for c in names:
            counters[c] += len(times)
        self.trace.add_many(times, client, i, self.qlen, len(self.accept_queue))

    def queues_changed(self) -> None:
        self.q_times.append(self.now / US)
        self.q_syn.append(self.qlen)
        self.q_acc.append(len(self.accept_queue))

    def send(self, sender: int, kind: int, client: int, retrans: int,
             deliver: Callable[[Any], None] | None, arg: Any) -> None:
        """Put a packet on the wire; it arrives one_way later unless it is lost."""
        lost = kind in self.dropped or (self.loss > 0.0 and self.loss_rng.random() < self.loss)
        self.packets.add(self.now, sender, kind, client, retrans, lost)
        if not lost and deliver is not None:
            self.soon(self.now + self.one_way, deliver, arg)

