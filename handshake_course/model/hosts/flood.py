"""The flood source: spoofed SYNs at a steady rate that nobody will ever answer.

Uses of the other rooms: each SYN that arrives goes to ``conn_request`` (server) when it listens,
on the listener of a SO_REUSEPORT group its random address picks (group: ``spoofed_listener``).
"""

from __future__ import annotations

from typing import Any

from ..clock import US
from ..scenario import Scenario
from .base import FLOOD, NO_CLIENT, SERVER, SYN, SYNACK, Core

BATCH = 4096
"""At most this many spoofed SYNs are taken at once (so the lists built for a batch stay small)."""


class FloodSource(Core):
    """The host sending the flood."""

    STATE = ("flood_period", "flood_count")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.flood_period = US / scenario.flood if scenario.flood else 0.0
        self.flood_count = 0

    def flood_syn(self, _: Any) -> None:
        """A spoofed SYN arrives; so do the ones after it, as long as nothing else is due first."""
        self.one_spoofed_syn()
        self.next_spoofed_syns()

    def one_spoofed_syn(self) -> None:
        """One spoofed SYN arrives now (it was sent one_way ago)."""
        self.flood_count += 1
        sent = self.now - self.one_way
        lost = SYN in self.dropped or (self.loss > 0.0 and self.loss_rng.random() < self.loss)
        self.packets.add_unordered(sent, FLOOD, SYN, NO_CLIENT, 0, int(lost))
        if not lost and self.listening:
            if self.grouped:
                self.use_listener(self.spoofed_listener())
            self.conn_request(NO_CLIENT)

    def arrival(self, n: int) -> int:
        """When the flood's n-th SYN (from 0) arrives."""
        return round(n * self.flood_period) + self.one_way

    def next_spoofed_syns(self) -> None:
        """Take the next SYNs in place while they would run before anything else anyway (a batch at
        once when they all take one path, see ``spoofed_syns``), then schedule the next one."""
        while True:
            t = self.arrival(self.flood_count)
            if self.end is not None and t - self.one_way > self.end:
                return  # the flood stops sending at the end
            if not self.first_at(t):
                self.at(t, self.flood_syn)
                return
            path = self.batch_path() if self.listening and SYN not in self.dropped and self.loss == 0.0 else None
            if path is None:
                self.took(t)
                self.one_spoofed_syn()
                continue
            times = self.due_arrivals(t)
            sent = [t - self.one_way for t in times]
            if self.spoofed_syns(path, times):
                self.packets.add_runs((sent, FLOOD, SYN, NO_CLIENT, 0, 0), (times, SERVER, SYNACK, NO_CLIENT, 0, 0))
            else:
                self.packets.add_runs((sent, FLOOD, SYN, NO_CLIENT, 0, 0))
            self.flood_count += len(times)
            self.took(times[-1], len(times))

    def due_arrivals(self, first: int) -> list[int]:
        """The arrival times from the next SYN's (``first``) on, while each would still be the next
        event to run (before anything on the event list, within the end)."""
        head, end, n = self.head(), self.end, self.flood_count
        limit = head[0] - 1 if head is not None else None
        if end is not None:
            limit = end if limit is None else min(limit, end)
        if limit is None:
            return [first]
        count = min(BATCH, max(1, int((limit - first) / self.flood_period) + 2))
        period, one_way = self.flood_period, self.one_way
        times = [round(i * period) + one_way for i in range(n, n + count)]  # arrival(i), for many i
        while times and times[-1] > limit:
            times.pop()
        return times or [first]
