"""The server application: a loop of blocking accept() calls at a given rate, or accept() at given
times (inet_csk_accept), taking children from the accept queue.

Uses of the other rooms: the accept queue and ``children`` (server), ``clients`` (client).
"""

from __future__ import annotations

from typing import Any

from ..clock import to_us
from ..scenario import Scenario
from .base import Core
from .server import ACCEPTED


class Application(Core):
    """The process that calls accept() on the listener."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.accept_waiting = 0
        self.accept_period = None
        if isinstance(scenario.accept, float):
            self.accept_period = max(1, to_us(1.0 / scenario.accept))

    def accept_call(self, _: Any = None) -> None:
        """One blocking accept() call: it returns at once if a connection waits, else when one comes."""
        if self.accept_queue:
            self.take()
        else:
            self.accept_waiting += 1

    def wake_accept(self) -> None:
        if self.accept_waiting:
            self.accept_waiting -= 1
            self.take()

    def take(self) -> None:
        ci = self.accept_queue.popleft()
        self.children[ci] = ACCEPTED
        self.clients[ci].accepted_at = self.now
        self.queues_changed()
        self.act("accept", ci)
        if self.accept_period is not None:  # the loop handles it, then calls accept() again
            self.at(self.now + self.accept_period, self.accept_call)
