"""The flood source: spoofed SYNs at a steady rate that nobody will ever answer.

Uses of the other rooms: each SYN that arrives goes to ``conn_request`` (server) when it listens.
"""

from __future__ import annotations

from typing import Any

from ..clock import US
from ..scenario import Scenario
from .base import FLOOD, NO_CLIENT, SYN, Core


class FloodSource(Core):
    """The host sending the flood."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.flood_period = US / scenario.flood if scenario.flood else 0.0
        self.flood_count = 0

    def flood_syn(self, _: Any) -> None:
        """One spoofed SYN arrives (sent one_way ago); the next one is scheduled."""
        n = self.flood_count
        self.flood_count = n + 1
        sent = self.now - self.one_way
        lost = SYN in self.dropped or (self.loss > 0.0 and self.loss_rng.random() < self.loss)
        self.packets.add_unordered(sent, FLOOD, SYN, NO_CLIENT, 0, int(lost))
        if not lost and self.listening:
            self.conn_request(NO_CLIENT)
        nxt = round((n + 1) * self.flood_period)
        if self.end is None or nxt <= self.end:
            self.at(nxt + self.one_way, self.flood_syn)
