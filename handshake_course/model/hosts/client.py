"""The client host: one socket per connect(), its SYN and the SYN retransmission timer
(tcp_v4_connect, tcp_retransmit_timer for SYN_SENT, tcp_rcv_synsent_state_process), ephemeral ports;
with ``Scenario(data=True)`` the request each client writes once connected, and its retransmission
timer (tcp_sendmsg, tcp_schedule_loss_probe / tcp_send_loss_probe, tcp_retransmit_timer).

Uses of the other rooms: delivers its SYNs to ``server_syn``, ACKs to ``server_ack``, DATA to
``server_data`` and RSTs to ``server_rst`` (server); the server's SYN-ACKs, RSTs and ACKs of data
arrive at ``client_synack``, ``client_rst`` and ``client_data_ack``; with TCP Fast Open the first SYN
is ``fastopen_syn``'s and a SYN-ACK in SYN_SENT goes to ``fastopen_connected`` (fastopen).
"""

from __future__ import annotations

from typing import Any

from .. import rules
from ..clock import Entry, to_us_all
from ..ports import PortAllocator
from ..scenario import Scenario
from .base import ACK, CLIENT, DATA, RST, SYN, Core

IDLE, SYN_SENT, ESTABLISHED, CLOSED, CLOSING = 0, 1, 2, 3, 4  # client socket states
FIN_WAIT1, FIN_WAIT2, TIME_WAIT, GONE = 1, 2, 3, 4  # how far a CLOSING one is (hosts.teardown; the last
# three: its timewait socket in substate FIN_WAIT2 or TIME_WAIT, then nothing)


class _Client:
    """A client socket doing connect()."""

    __slots__ = ("index", "start", "port", "state", "syn_times", "fires", "timer", "connected_at",
                 "accepted_at", "failed_at", "errno", "isn", "data_times", "data_acked_at", "srtt", "rto",
                 "rto_fires", "retrans_stamp", "closing")

    def __init__(self, index: int, start: int) -> None:
        self.index = index
        self.start = start
        self.port: int | None = None
        self.state = IDLE
        self.syn_times: tuple[int, ...] = ()  # tuples, grown by +=: the shared () until the first send,
        # so a million clients that never send cost no list each (bench_model.py --scaling)
        self.fires = 0
        self.timer: Entry | None = None
        self.connected_at: int | None = None
        self.accepted_at: int | None = None
        self.failed_at: int | None = None
        self.errno: str | None = None
        self.isn: Any = None  # the SYN-ACK it connected with (its request, or a cookie): its ACKs carry it
        self.data_times: tuple[int, ...] = ()  # the request's DATA: sent, then each retransmission
        self.data_acked_at: int | None = None
        self.srtt = 0  # the RTT sample taken on the SYN-ACK (us)
        self.rto = 0  # icsk_rto for the data (us)
        self.rto_fires = 0  # RTO retransmissions of the data (icsk_retransmits)
        self.retrans_stamp: int | None = None  # the first RTO retransmission (retrans_stamp)
        self.closing: Any = None  # after close(): the FIN and the timewait socket (hosts.teardown._Closing)


class ClientHost(Core):
    """The host that opens every connection."""

    STATE = ("clients", "ports", "retry_until", "syn_limits", "syn_rtos")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        k = self.k
        self.clients = [_Client(i, start) for i, start in enumerate(to_us_all(scenario.client_times))]
        self.ports = PortAllocator(k, scenario.seed)
        self.retry_until = scenario.syncnt or k.tcp_syn_retries
        self.syn_limits = rules.syn_limits(k, self.retry_until)  # when tcp_write_timeout gives up
        # the RTO armed after each fire, up to the count that gives up (a time-limited kernel reads on past them)
        self.syn_rtos = [rules.syn_rto_after_us(k, fires) for fires in range(self.retry_until + 1
                                                                               + rules.linear_timeouts(k))]

    def connect(self, c: _Client) -> None:
        if self.reusable:  # type: ignore[attr-defined]  # TIME_WAIT ports tcp_tw_reuse now lets go
            self.release_reusable()  # type: ignore[attr-defined]
        port = self.ports.connect(self.now)
        if port is None:
            self.fail(c, "EADDRNOTAVAIL")
            self.act("connect_no_port", c.index)
            return
        c.port, c.state = port, SYN_SENT
        c.syn_times += (self.now,)
        reused = bool(self.tw_ports) and self.take_time_wait(port)  # type: ignore[attr-defined]
        self.act("connect_tw_reuse" if reused else "connect", c.index)
        if self.fastopen_clients:  # type: ignore[attr-defined]  # sendto(MSG_FASTOPEN): tcp_send_syn_data's SYN
            self.fastopen_syn(c)  # type: ignore[attr-defined]
        else:
            self.send(CLIENT, SYN, c.index, 0, self.server_syn, c.index)
        c.timer = self.at(self.timer_at(self.syn_rtos[0]), self.syn_timer, c)

    def syn_timer(self, c: _Client) -> None:
        """tcp_retransmit_timer for a SYN_SENT socket."""
        retransmits = len(c.syn_times) - 1
        elapsed = self.timers.elapsed_us(c.syn_times[0], self.now)
        if rules.expired(self.syn_limits, retransmits, elapsed):
            self.fail(c, "ETIMEDOUT")
            self.act("syn_give_up", c.index)
            return
        self.act("syn_rto_first" if retransmits == 0 else "syn_rto", c.index)
        c.syn_times += (self.now,)
        c.fires += 1
        self.send(CLIENT, SYN, c.index, 1, self.server_syn, c.index)
        rtos = self.syn_rtos
        rto = rtos[c.fires] if c.fires < len(rtos) else rules.syn_rto_after_us(self.k, c.fires)
        c.timer = self.at(self.timer_at(rto), self.syn_timer, c)

    def fail(self, c: _Client, errno: str) -> None:
        self.cancel(c.timer)
        c.state, c.errno, c.failed_at = CLOSED, errno, self.now
        self.ports.release(c.port)

    def client_synack(self, arg: tuple[int, Any, int]) -> None:
        """A SYN-ACK: (client, its request or cookie, when the SYN its timestamp echoes was sent)."""
        ci, token, tsecr = arg
        c = self.clients[ci]
        if c.state == SYN_SENT:
            self.cancel(c.timer)
            c.state, c.connected_at, c.isn = ESTABLISHED, self.now, token
            c.srtt = rules.rtt_sample_us(tsecr, self.now)
            if self.fastopen_syns and ci in self.fastopen_syns:  # type: ignore[attr-defined]  # a TFO SYN's
                self.fastopen_connected(c)  # type: ignore[attr-defined]
            else:
                self.act("synack_in", ci)
                self.send(CLIENT, ACK, ci, 0, self.server_ack, (ci, token, True))
                if self.scenario.data:
                    self.send_data(c)
            if self.hold_us is not None:  # type: ignore[attr-defined]
                self.schedule_close(c)  # type: ignore[attr-defined]
        elif c.state == ESTABLISHED or (c.state == CLOSING and c.closing.state == FIN_WAIT1):  # a full socket:
            # acked with the sequence numbers it connected with, whatever came
            self.act("synack_again", ci)
            # after the request (or the FIN) its sequence number is past the one a syncookie was made for
            self.send(CLIENT, ACK, ci, 1, self.server_ack, (ci, c.isn, not c.data_times and c.closing is None))
        else:
            self.act("no_socket_rst", ci)
            self.send(CLIENT, RST, ci, 0, self.server_rst, ci)

    # ---- the request (Scenario(data=True)) ---------------------------------------------------------
    def send_data(self, c: _Client) -> None:
        """write() once connect() returned: the DATA goes out now, its timer is a loss probe where the
        kernel has one (tcp_schedule_loss_probe), else the RTO from the SYN-ACK's sample."""
        c.rto = rules.data_rto_us(self.k, c.srtt)
        c.data_times += (self.now,)
        self.act("data_send", c.index)
        self.send(CLIENT, DATA, c.index, 0, self.server_data, (c.index, c.isn))
        probe = rules.loss_probe_after_us(self.k, c.srtt, c.rto)
        if probe is None:
            c.timer = self.at(self.timer_at(c.rto), self.data_timer, c)
        else:
            c.timer = self.at(self.timer_at(probe), self.loss_probe, c)

    def loss_probe(self, c: _Client) -> None:
        """tcp_send_loss_probe: the DATA again; the RTO re-armed in full from now (tcp_rearm_rto)."""
        self.act("data_tlp", c.index)
        c.data_times += (self.now,)
        self.send(CLIENT, DATA, c.index, 1, self.server_data, (c.index, c.isn))
        c.timer = self.at(self.timer_at(c.rto), self.data_timer, c)

    def data_timer(self, c: _Client) -> None:
        """tcp_retransmit_timer for the data: give up (tcp_write_timeout), or send it again and double
        the RTO."""
        elapsed = 0 if c.retrans_stamp is None else self.timers.elapsed_us(c.retrans_stamp, self.now)
        if rules.data_expired(self.k, c.rto_fires, elapsed):
            self.fail(c, "ETIMEDOUT")
            self.act("data_give_up", c.index)
            return
        self.act("data_rto_first" if c.rto_fires == 0 else "data_rto", c.index)
        if c.retrans_stamp is None:
            c.retrans_stamp = self.now
        c.rto_fires += 1
        c.data_times += (self.now,)
        self.send(CLIENT, DATA, c.index, 1, self.server_data, (c.index, c.isn))
        c.rto = min(c.rto << 1, rules.RTO_MAX_US)
        c.timer = self.at(self.timer_at(c.rto), self.data_timer, c)

    def client_data_ack(self, ci: int) -> None:
        """The server's ACK of a client's DATA."""
        c = self.clients[ci]
        if c.state == ESTABLISHED:
            if c.data_acked_at is None:  # a later one (a D-SACK for a copy) changes nothing
                self.cancel(c.timer)
                c.data_acked_at = self.now
                self.act("data_acked", ci)
                if self.close_waiting:  # type: ignore[attr-defined]
                    self.request_acked(c)  # type: ignore[attr-defined]
        elif c.state == CLOSING:  # a late ACK of the request: old news for a closing socket
            pass
        else:  # the socket is gone
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
        elif c.state == CLOSING:
            self.closing_rst(c)  # type: ignore[attr-defined]
