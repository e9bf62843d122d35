"""The client host: one socket per connect(), its SYN and the SYN retransmission timer
(tcp_v4_connect, tcp_retransmit_timer for SYN_SENT, tcp_rcv_synsent_state_process), ephemeral ports.

Uses of the other rooms: delivers its SYNs to ``server_syn``, ACKs to ``server_ack`` and RSTs to
``server_rst`` (server); the server's SYN-ACKs and RSTs arrive at ``client_synack`` and ``client_rst``.
"""

from __future__ import annotations

from typing import Any

from .. import rules
from ..clock import Entry, to_us
from ..ports import PortAllocator
from ..scenario import Scenario
from .base import ACK, CLIENT, RST, SYN, Core

IDLE, SYN_SENT, ESTABLISHED, CLOSED = 0, 1, 2, 3  # client socket states


class _Client:
    """A client socket doing connect()."""

    __slots__ = ("index", "start", "port", "state", "syn_times", "fires", "timer", "connected_at",
                 "accepted_at", "failed_at", "errno", "isn")

    def __init__(self, index: int, start: int) -> None:
        self.index = index
        self.start = start
        self.port: int | None = None
        self.state = IDLE
        self.syn_times: list[int] = []
        self.fires = 0
        self.timer: Entry | None = None
        self.connected_at: int | None = None
        self.accepted_at: int | None = None
        self.failed_at: int | None = None
        self.errno: str | None = None
        self.isn: Any = None  # the SYN-ACK it connected with (its request, or a cookie): its ACKs carry it


class ClientHost(Core):
    """The host that opens every connection."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        k = self.k
        self.clients = [_Client(i, to_us(t)) for i, t in enumerate(scenario.client_times)]
        self.ports = PortAllocator(k, scenario.seed)
        self.retry_until = scenario.syncnt or k.tcp_syn_retries

    def connect(self, c: _Client) -> None:
        port = self.ports.connect(self.now)
        if port is None:
            self.fail(c, "EADDRNOTAVAIL")
            self.act("connect_no_port", c.index)
            return
        c.port, c.state = port, SYN_SENT
        c.syn_times.append(self.now)
        self.act("connect", c.index)
        self.send(CLIENT, SYN, c.index, 0, self.server_syn, c.index)
        c.timer = self.at(self.timer_at(rules.syn_rto_after_us(self.k, 0)), self.syn_timer, c)

    def syn_timer(self, c: _Client) -> None:
        """tcp_retransmit_timer for a SYN_SENT socket."""
        retransmits = len(c.syn_times) - 1
        elapsed = self.timers.elapsed_us(c.syn_times[0], self.now)
        if rules.syn_expired(self.k, retransmits, elapsed, self.retry_until):
            self.fail(c, "ETIMEDOUT")
            self.act("syn_give_up", c.index)
            return
        self.act("syn_rto_first" if retransmits == 0 else "syn_rto", c.index)
        c.syn_times.append(self.now)
        c.fires += 1
        self.send(CLIENT, SYN, c.index, 1, self.server_syn, c.index)
        c.timer = self.at(self.timer_at(rules.syn_rto_after_us(self.k, c.fires)), self.syn_timer, c)

    def fail(self, c: _Client, errno: str) -> None:
        self.cancel(c.timer)
        c.state, c.errno, c.failed_at = CLOSED, errno, self.now
        self.ports.release(c.port)

    def client_synack(self, arg: tuple[int, Any]) -> None:
        ci, token = arg
        c = self.clients[ci]
        if c.state == SYN_SENT:
            self.cancel(c.timer)
            c.state, c.connected_at, c.isn = ESTABLISHED, self.now, token
            self.act("synack_in", ci)
            self.send(CLIENT, ACK, ci, 0, self.server_ack, arg)
        elif c.state == ESTABLISHED:  # acked with the sequence numbers it connected with, whatever came
            self.act("synack_again", ci)
            self.send(CLIENT, ACK, ci, 1, self.server_ack, (ci, c.isn))
        else:
            self.act("no_socket_rst", ci)
            self.send(CLIENT, RST, ci, 0, self.server_rst, ci)

    def client_rst(self, ci: int) -> None:
        c = self.clients[ci]
        if c.state == SYN_SENT:
            self.fail(c, "ECONNREFUSED")
            self.act("rst_in_syn_sent", ci)
        elif c.state == ESTABLISHED:
            self.fail(c, "ECONNRESET")
            self.act("rst_in_established", ci)
