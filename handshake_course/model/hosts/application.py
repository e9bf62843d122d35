"""The server application: a loop of blocking accept() calls at a given rate, or accept() at given
times (inet_csk_accept), taking children from the accept queue; with a SO_REUSEPORT group, one such
loop (or set of calls) per listener, as each worker of nginx or envoy has its own.

Uses of the other rooms: the accept queue and ``children`` (server), ``clients`` (client), the
listener in use (group: ``use_listener``, ``in_use``).
"""

from __future__ import annotations

from ..clock import to_us
from ..scenario import Scenario
from .base import Core
from .server import ACCEPTED

ACCEPT_STATE = ("accept_waiting",)
"""What each listener of a SO_REUSEPORT group has of its own here: its blocked accept() calls."""


class Application(Core):
    """The process that calls accept() on the listener."""

    STATE = ("accept_waiting", "accept_period")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.accept_waiting = 0
        self.accept_period = None
        if isinstance(scenario.accept, float):
            self.accept_period = max(1, to_us(1.0 / scenario.accept))

    def accept_call(self, listener: int | None = None) -> None:
        """One blocking accept() call on ``listener`` (of a SO_REUSEPORT group; None: the only one): it
        returns at once if a connection waits, else when one comes."""
        if listener is not None and self.grouped:  # type: ignore[attr-defined]
            self.use_listener(listener)  # type: ignore[attr-defined]
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
        if self.peers and ci in self.peers:  # type: ignore[attr-defined]  # its FIN came: it reads EOF, closes
            self.passive_close(ci)  # type: ignore[attr-defined]
        if self.accept_period is not None:  # the loop handles it, then calls accept() again
            self.at(self.now + self.accept_period, self.accept_call, self.in_use)  # type: ignore[attr-defined]
