"""The SO_REUSEPORT group (``Scenario(listeners=N)``): N listening sockets on the port, each with its own
queues, counts and timers, and the kernel's choice of one for each connection (__inet_lookup_listener,
reuseport_select_sock).

The server's and the application's handlers work on one listener at a time, as the kernel's work on
one ``sk``: the listener a segment reaches is chosen before it is handled (``use_listener``), which
parks the state of the listener in use and brings the chosen one's into place (``self.qlen``,
``self.accept_queue``, ... are always the listener in use's), so one listener's run is exactly the
run without a group. The trace records which listener each event was on.

Uses of the other rooms: the per-listener state the server and the application name
(``hosts.server.listener_state``, ``hosts.application.ACCEPT_STATE``), ``clients`` (client: the
port a connection came from).
"""

from __future__ import annotations

import random
from copy import deepcopy
from typing import Any

from .. import rules
from ..ports import DADDR, DPORT, SADDR
from ..scenario import Scenario
from .base import Core


def be32(address: str) -> int:
    """An IPv4 address as the kernel's __be32 reads as a u32 on a little-endian machine."""
    return int.from_bytes(bytes(int(part) for part in address.split(".")), "little")


def be16(port: int) -> int:
    """A port as the kernel's __be16 reads as a u16 on a little-endian machine."""
    return ((port & 0xFF) << 8) | (port >> 8)


class ListenerGroup(Core):
    """The listening sockets sharing the port, and which one the kernel is working on."""

    STATE = ("group", "grouped", "in_use", "per_listener", "parked", "client_listener", "ehash_secret",
             "spoofed_rng")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.group = scenario.listeners if scenario.backlog is not None else 1
        self.grouped = self.group > 1
        self.in_use = 0  # the listener whose state is in place
        self.per_listener: tuple[str, ...] = ()
        self.parked: list[dict[str, Any]] = []  # each listener's state while another is in use
        self.client_listener: dict[int, int] = {}  # client index -> the listener its segments reach
        if self.grouped:
            seeds = random.Random(f"reuseport:{scenario.seed}")
            self.ehash_secret = seeds.getrandbits(32)  # inet_ehash_secret + net_hash_mix: drawn at boot
            self.spoofed_rng = random.Random(seeds.getrandbits(64))  # the flood's random source addresses

    def open_group(self, names: tuple[str, ...], fresh: dict[str, Any]) -> None:
        """listen() on every socket of the group: each starts with the state the first has now (the
        attributes ``names``), copied, but for the values in ``fresh``, listener by listener
        (``fresh[name][i]``: what differs from birth, e.g. a hash key of its own)."""
        self.per_listener = names
        first = {name: getattr(self, name) for name in names}
        self.parked = [first]
        for i in range(1, self.group):
            state = deepcopy(first)
            state.update({name: values[i] for name, values in fresh.items()})
            self.parked.append(state)
        self.trace.track_listeners()
        self.trace_add = self.trace.recorder()

    def use_listener(self, listener: int) -> None:
        """Work on ``listener`` from now on: park the state of the one in use, bring its own in."""
        if listener == self.in_use:
            return
        here, there = self.parked[self.in_use], self.parked[listener]
        for name in self.per_listener:
            here[name] = getattr(self, name)
            setattr(self, name, there[name])
        self.in_use = listener
        self.trace.listener = listener

    def listener_value(self, listener: int, name: str) -> Any:
        """One listener's value of ``name``, in place or parked."""
        if listener == self.in_use or not self.grouped:
            return getattr(self, name)
        return self.parked[listener][name]

    def listener_of(self, ci: int) -> int:
        """The listener that client ``ci``'s segments reach: the kernel's reuseport choice on the hash
        of the connection's 4-tuple (inet_ehashfn), the same for its SYNs, ACKs and data."""
        listener = self.client_listener.get(ci)
        if listener is None:
            port: int = self.clients[ci].port  # type: ignore[attr-defined]
            phash = rules.inet_ehashfn(self.k, self.ehash_secret, be32(DADDR), DPORT, be32(SADDR), be16(port))
            listener = self.client_listener[ci] = rules.reuseport_listener(self.k, self.group, phash)
        return listener

    def spoofed_listener(self) -> int:
        """The listener a spoofed SYN reaches: its random source address and port hash uniformly."""
        return rules.reuseport_listener(self.k, self.group, self.spoofed_rng.getrandbits(32))
