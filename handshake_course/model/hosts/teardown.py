"""The end of a connection (``Scenario(hold=...)``): the client application's close() ``hold`` seconds
after connect() returned, the FINs, and the client's timewait socket that holds its ephemeral port
(tcp_close, tcp_send_fin, tcp_rcv_state_process in FIN_WAIT1, tcp_fin, tcp_time_wait,
tcp_timewait_state_process, inet_twsk_schedule or the 2.6.32/3.10 death row, tcp_twsk_unique); on the
server, the child that gets the FIN (CLOSE_WAIT, its delayed ACK), the application that closes in turn
(LAST_ACK) and the last ACK.

With nothing lost and the connection accepted, three segments: the client's FIN at t (FIN_WAIT1); the
child reads it, the application reads the end of the stream and closes at once, so the server's FIN
leaves at t + RTT/2 carrying the ACK of the client's; the client ACKs it at t + RTT and its socket
becomes a TIME_WAIT socket for TCP_TIMEWAIT_LEN (60 s: to 52.5-60 s on the 2.6.32/3.10 death row, late
by the timer wheel's granularity on 4.8+). A child the application has not accepted ACKs the FIN on its
delayed-ACK timer instead (the client goes FIN_WAIT2: as its application has closed it, a timewait
socket in substate FIN_WAIT2 holds the port for tcp_fin_timeout, 60 s) and sends its FIN when accept()
returns it. A FIN that meets a request (its final ACK was dropped) or a syncookie completes the
handshake as a final ACK or a request would (tcp_check_req, cookie_v4_check), or is dropped with it.

The model's decisions, beyond the kernel's:
* the server's application closes a connection as soon as it reads the end of the stream: when the FIN
  comes if it holds the connection, else when accept() returns it (the end of the stream is already
  there); it never closes first;
* with ``data`` the client closes once its request is ACKed, if that comes after ``hold``;
* both sides' FINs are retransmitted on an RTO from the RTT the client measured on the SYN-ACK (the
  kernel's child measures its own, the same number when the handshake lost nothing), with the loss
  probe of the version, and give up after tcp_orphan_retries' 102.2 s;
* the server knows connections by client, not by 4-tuple: a connection that reuses the port of a
  FIN_WAIT2 timewait socket (where ``tw_reuse_fin_wait2`` allows it) is handshaked afresh, though the
  kernel's lookup would first meet the old connection's child, still in CLOSE_WAIT;
* a segment of an old connection that arrives after connect() reused its port is answered as if no
  socket held it (RST); the kernel hands it to the new connection's socket. A FIN that reaches the
  server after its child is gone (it gave up its own FIN) is dropped; the kernel would answer with RST;
* tcp_max_tw_buckets, tcp_tw_recycle (off by default, gone in 4.12), SO_LINGER and a FIN_WAIT2
  full socket kept past 60 s (RTO above 17 s) are not modelled.

Uses of the other rooms: ``clients`` and ``ports`` (client); ``listening``, ``children``, ``requests``,
``child_data`` and ``final_ack`` (server), ``grouped``, ``use_listener``, ``listener_of`` (group);
``client_rst`` (client) takes the RSTs final_ack sends. The client calls ``schedule_close``,
``request_acked``, ``release_reusable``, ``take_time_wait`` and ``closing_rst``; the application calls
``passive_close``.
"""

from __future__ import annotations

import random
from heapq import heappop, heappush
from typing import Any

from .. import rules
from ..actions import FIN_TWINS
from ..clock import US, Entry, to_seconds, to_us
from ..result import KINDS
from ..scenario import Scenario
from ..timers import TimerBase
from .base import ACK, CLIENT, RST, SERVER, Core
from .client import CLOSING, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, GONE, TIME_WAIT, _Client
from .server import ACCEPTED

FIN = KINDS.index("FIN")
CLOSE_WAIT, LAST_ACK, DONE = 1, 2, 3  # the server's child once the client's FIN came
FIN_PATHS = {twin: name for name, (twin, _) in FIN_TWINS.items()}
"""The final-ACK actions of a FIN that meets no child (actions.FIN_TWINS)."""
FIN_TIMER = {CLIENT: ("fin_tlp", "fin_rto_first", "fin_rto", "fin_give_up"),
             SERVER: ("passive_fin_tlp", "passive_fin_rto_first", "passive_fin_rto", "passive_fin_give_up")}


class _Fin:
    """A FIN waiting for its ACK (tcp_send_fin) and its retransmission timer (as for data)."""

    __slots__ = ("sender", "client", "times", "base", "rto", "fires", "stamp", "timer")

    def __init__(self, sender: int, client: int, rto: int) -> None:
        self.sender = sender
        self.client = client
        self.times: list[int] = []
        self.base = rto  # the RTO from the handshake's sample (icsk_rto once the FIN is ACKed)
        self.rto = rto
        self.fires = 0  # RTO retransmissions (icsk_retransmits)
        self.stamp: int | None = None  # the first RTO retransmission (retrans_stamp)
        self.timer: Entry | None = None


class _Closing:
    """A client socket after close(): FIN_WAIT1, then its timewait socket, then gone."""

    __slots__ = ("state", "closed_at", "fin", "tw_timer", "cell", "tw_at", "tw_until", "stamp", "entry", "token",
                 "port_free")

    def __init__(self, now: int) -> None:
        self.state = FIN_WAIT1
        self.closed_at = now
        self.fin: _Fin | None = None
        self.tw_timer: Entry | None = None  # the timewait socket's own timer (4.1+)
        self.cell: int | None = None  # its death-row cell (2.6.32/3.10)
        self.tw_at: int | None = None  # it entered TIME_WAIT
        self.tw_until: int | None = None  # its timewait socket ended
        self.stamp = now  # tw_ts_recent_stamp: the last timestamped segment that updated ts_recent
        self.entry = now  # tw_entry_stamp: it became a timewait socket
        self.token = 0  # which of its reuse offers is current
        self.port_free = False  # tcp_tw_reuse let connect() have its port


class _Peer:
    """The server's child once the client's FIN reached it."""

    __slots__ = ("state", "delack", "fin")

    def __init__(self) -> None:
        self.state = CLOSE_WAIT
        self.delack: Entry | None = None
        self.fin: _Fin | None = None


class Teardown(Core):
    """The close on both hosts, and the client host's timewait sockets."""

    STATE = ("hold_us", "close_waiting", "tw_ports", "reusable", "peers", "clock_phase", "tw_timers", "death_row",
             "cells", "dr_slot", "dr_count", "dr_timer")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.hold_us = None if scenario.hold is None else to_us(scenario.hold)
        self.close_waiting: set[int] = set()  # clients that close once their request is ACKed
        self.tw_ports: dict[int, _Client] = {}  # port -> the client whose timewait socket holds it
        self.reusable: list[tuple[int, int, int]] = []  # (when tcp_tw_reuse lets it go, client, token)
        self.peers: dict[int, _Peer] = {}
        if self.hold_us is None:
            return
        k = self.k
        self.clock_phase = random.Random(f"tw-clock:{scenario.seed}").randrange(US)  # into the kernel's second
        mode = rules.tw_timer_mode(k)
        self.tw_timers = (self.timers if mode == k.timer_wheel
                          else TimerBase(mode, k.hz, scenario.seed, scenario.jiffies))
        self.death_row = k.tw_timer == "death_row"
        self.cells: list[dict[int, _Client]] = [{} for _ in range(rules.DEATH_ROW_SLOTS)]
        self.dr_slot = 0  # twdr->slot: the cell the hangman kills next
        self.dr_count = 0  # twdr->tw_count
        self.dr_timer: Entry | None = None

    # ---- the client's close() ------------------------------------------------------------------------
    def schedule_close(self, c: _Client) -> None:
        """connect() returned: the application will close ``hold`` seconds later."""
        assert self.hold_us is not None
        self.at(self.now + self.hold_us, self.app_close, c)

    def app_close(self, c: _Client) -> None:
        if c.state != ESTABLISHED:  # it failed meanwhile: close() sends nothing
            return
        if self.scenario.data and c.data_acked_at is None:
            self.close_waiting.add(c.index)
            return
        self.close(c)

    def request_acked(self, c: _Client) -> None:
        """The request was ACKed: a client that was waiting for it closes now."""
        if c.index in self.close_waiting:
            self.close_waiting.discard(c.index)
            self.close(c)

    def close(self, c: _Client) -> None:
        """tcp_close on an ESTABLISHED socket: FIN_WAIT1, FIN sent (tcp_send_fin)."""
        c.state = CLOSING
        closing = c.closing = _Closing(self.now)
        self.act("close", c.index)
        closing.fin = self.start_fin(CLIENT, c)

    # ---- the FINs and their timers (both hosts) --------------------------------------------------------
    def start_fin(self, sender: int, c: _Client) -> _Fin:
        """Send a FIN and arm its timer: a loss probe where the kernel has one, else the RTO."""
        fin = _Fin(sender, c.index, rules.data_rto_us(self.k, c.srtt))
        self.send_fin(fin, 0)
        probe = rules.loss_probe_after_us(self.k, c.srtt, fin.rto)
        if probe is None:
            fin.timer = self.at(self.timer_at(fin.rto), self.fin_timer, fin)
        else:
            fin.timer = self.at(self.timer_at(probe), self.fin_probe, fin)
        return fin

    def send_fin(self, fin: _Fin, retrans: int) -> None:
        fin.times.append(self.now)
        ci = fin.client
        if fin.sender == CLIENT:
            c = self.clients[ci]  # type: ignore[attr-defined]
            # its sequence number is the one after the SYN unless a request went first (a cookie checks it)
            self.send(CLIENT, FIN, ci, retrans, self.server_fin, (ci, c.isn, not c.data_times))
        else:
            self.send(SERVER, FIN, ci, retrans, self.client_fin, ci)

    def fin_probe(self, fin: _Fin) -> None:
        """tcp_send_loss_probe: the FIN again; the RTO re-armed in full from now."""
        self.on_host(fin)
        self.act(FIN_TIMER[fin.sender][0], fin.client)
        self.send_fin(fin, 1)
        fin.timer = self.at(self.timer_at(fin.rto), self.fin_timer, fin)

    def fin_timer(self, fin: _Fin) -> None:
        """tcp_retransmit_timer for the FIN: give up (tcp_write_timeout, an orphan), or send it again."""
        self.on_host(fin)
        names = FIN_TIMER[fin.sender]
        elapsed = 0 if fin.stamp is None else self.timers.elapsed_us(fin.stamp, self.now)
        if rules.orphan_expired(fin.fires, elapsed):
            fin.timer = None
            self.act(names[3], fin.client)
            self.fin_gave_up(fin)
            return
        self.act(names[1] if fin.fires == 0 else names[2], fin.client)
        if fin.stamp is None:
            fin.stamp = self.now
        fin.fires += 1
        self.send_fin(fin, 1)
        fin.rto = min(fin.rto << 1, rules.RTO_MAX_US)
        fin.timer = self.at(self.timer_at(fin.rto), self.fin_timer, fin)

    def stop_fin(self, fin: _Fin | None) -> None:
        if fin is not None:
            self.cancel(fin.timer)
            fin.timer = None

    def fin_gave_up(self, fin: _Fin) -> None:
        """tcp_write_err -> tcp_done: the socket is destroyed (the client's port is free)."""
        if fin.sender == SERVER:
            self.peers[fin.client].state = DONE
            return
        c = self.clients[fin.client]  # type: ignore[attr-defined]
        c.closing.state = GONE
        self.ports.release(c.port)  # type: ignore[attr-defined]

    def on_host(self, fin: _Fin) -> None:
        if fin.sender == SERVER:
            self.on_listener(fin.client)

    def on_listener(self, ci: int) -> None:
        """With a SO_REUSEPORT group: the server works on the connection's listener."""
        if self.grouped:  # type: ignore[attr-defined]
            self.use_listener(self.listener_of(ci))  # type: ignore[attr-defined]

    # ---- the client host: ACKs and FINs from the server, TIME_WAIT ------------------------------------
    def client_fin_acked(self, ci: int) -> None:
        """The server's ACK of the client's FIN (its own FIN not yet sent). A duplicate changes nothing
        (tcp_timewait_state_process: "Dup ACK?")."""
        c: _Client = self.clients[ci]  # type: ignore[attr-defined]
        closing = c.closing
        if closing is None or closing.state != FIN_WAIT1:
            return
        assert closing.fin is not None
        self.stop_fin(closing.fin)
        self.act("fin_acked", ci)
        closing.state, closing.stamp, closing.entry = FIN_WAIT2, self.now, self.now
        self.tw_ports[c.port] = c  # type: ignore[index]
        self.schedule_tw(c, rules.fin_wait2_timeout_us(closing.fin.base))
        self.offer_port(c)

    def client_fin(self, ci: int) -> None:
        """The server's FIN (with the ACK of the client's)."""
        c: _Client = self.clients[ci]  # type: ignore[attr-defined]
        closing = c.closing
        if closing is None or closing.state == GONE:  # no socket for it any more
            self.act("no_socket_rst", ci)
            self.send(CLIENT, RST, ci, 0, self.server_rst_closing, ci)
            return
        if closing.state == FIN_WAIT1:
            self.stop_fin(closing.fin)
            self.act("fin_in", ci)
            closing.entry = self.now
            self.tw_ports[c.port] = c  # type: ignore[index]
        elif closing.state == FIN_WAIT2:
            self.act("fin_in_fin_wait2", ci)
        else:  # TIME_WAIT already: the same FIN again, its ACK was lost
            self.act("fin_again_time_wait", ci)
        self.send(CLIENT, ACK, ci, 0, self.server_last_ack, ci)
        if closing.state != TIME_WAIT:
            closing.state, closing.tw_at, closing.stamp = TIME_WAIT, self.now, self.now
            self.offer_port(c)
        self.schedule_tw(c, rules.TIMEWAIT_LEN_US)

    def closing_rst(self, c: _Client) -> None:
        """An RST for a closed socket still waiting for the ACK of its FIN: tcp_reset -> tcp_done."""
        closing = c.closing
        if closing is None or closing.state != FIN_WAIT1:
            return
        self.stop_fin(closing.fin)
        closing.state = GONE
        self.ports.release(c.port)  # type: ignore[attr-defined]
        self.act("rst_in_fin_wait1", c.index)

    # ---- timewait sockets: their timers, the death row, tcp_tw_reuse --------------------------------------
    def schedule_tw(self, c: _Client, delay: int) -> None:
        """inet_twsk_schedule / inet_twsk_reschedule: (re)arm the timewait socket's end."""
        closing = c.closing
        if self.death_row:
            self.death_row_schedule(c)
        else:
            self.cancel(closing.tw_timer)
            closing.tw_timer = self.at(self.tw_timers.fire_at(self.now, delay), self.tw_expire, c)

    def tw_expire(self, c: _Client) -> None:
        """tw_timer_handler (4.1+)."""
        c.closing.tw_timer = None
        self.tw_kill(c)

    def tw_kill(self, c: _Client) -> None:
        """inet_twsk_kill: the timewait socket is gone, its port free."""
        closing = c.closing
        closing.state, closing.tw_until = GONE, self.now
        del self.tw_ports[c.port]  # type: ignore[arg-type]
        if not closing.port_free:
            self.ports.release(c.port)  # type: ignore[attr-defined]
        self.act("tw_expire", c.index)

    def death_row_schedule(self, c: _Client) -> None:
        """2.6.32/3.10 inet_twsk_schedule for timeo >= TCP_TIMEWAIT_LEN: unlink it if scheduled, put it in
        the cell 7 ahead of the hangman's (INET_TWDR_TWKILL_SLOTS - 1), and start the hangman's timer
        for one period when the death row was empty."""
        closing = c.closing
        if closing.cell is not None:
            del self.cells[closing.cell][c.index]
            self.dr_count -= 1
        closing.cell = (self.dr_slot + rules.DEATH_ROW_SLOTS - 1) % rules.DEATH_ROW_SLOTS
        self.cells[closing.cell][c.index] = c
        if self.dr_count == 0:  # mod_timer(&twdr->tw_timer, jiffies + twdr->period)
            self.cancel(self.dr_timer)
            self.dr_timer = self.at(self.timer_at(rules.DEATH_ROW_PERIOD_US), self.hangman)
        self.dr_count += 1

    def death_row_unlink(self, c: _Client) -> None:
        """inet_twsk_deschedule: out of its cell; the hangman's timer stops with the last one."""
        closing = c.closing
        del self.cells[closing.cell][c.index]
        closing.cell = None
        self.dr_count -= 1
        if self.dr_count == 0:
            self.cancel(self.dr_timer)
            self.dr_timer = None

    def hangman(self, _: Any = None) -> None:
        """inet_twdr_hangman: kill every socket of the current cell (newest first, as the hlist holds
        them), then move to the next cell; with more than INET_TWDR_TWKILL_QUOTA the rest are killed by
        a work item right after and the cell stays current for one more period."""
        self.dr_timer = None
        if self.dr_count == 0:
            return
        cell = self.cells[self.dr_slot]
        self.cells[self.dr_slot] = {}
        for c in reversed(cell.values()):
            c.closing.cell = None
            self.tw_kill(c)
        self.dr_count -= len(cell)
        if len(cell) > rules.DEATH_ROW_QUOTA:
            again = True
        else:
            again = self.dr_count > 0
            self.dr_slot = (self.dr_slot + 1) % rules.DEATH_ROW_SLOTS
        if again:
            self.dr_timer = self.at(self.timer_at(rules.DEATH_ROW_PERIOD_US), self.hangman)

    def offer_port(self, c: _Client) -> None:
        """The timewait socket got a new stamp: from when tcp_tw_reuse lets connect() take its port."""
        closing = c.closing
        closing.token += 1
        if closing.port_free:  # it was reusable; not any more until the new time
            self.ports.hold(c.port)  # type: ignore[attr-defined]
            closing.port_free = False
        at = rules.tw_reusable_at_us(self.k, closing.state == FIN_WAIT2, closing.stamp, closing.entry,
                                     self.clock_phase)
        if at is not None:
            heappush(self.reusable, (at, c.index, closing.token))

    def release_reusable(self) -> None:
        """Before connect() walks the ports: those tcp_twsk_unique would now hand over are free to it."""
        heap = self.reusable
        while heap and heap[0][0] <= self.now:
            _, ci, token = heappop(heap)
            c: _Client = self.clients[ci]  # type: ignore[attr-defined]
            closing = c.closing
            if closing.token == token and closing.state in (FIN_WAIT2, TIME_WAIT) and not closing.port_free:
                closing.port_free = True
                self.ports.release(c.port)  # type: ignore[attr-defined]

    def take_time_wait(self, port: int) -> bool:
        """connect() took ``port``: if a timewait socket held it (tcp_tw_reuse), that socket is destroyed
        (inet_twsk_deschedule_put) and True."""
        old = self.tw_ports.pop(port, None)
        if old is None:
            return False
        closing = old.closing
        if self.death_row:
            self.death_row_unlink(old)
        else:
            self.cancel(closing.tw_timer)
            closing.tw_timer = None
        closing.state, closing.tw_until = GONE, self.now
        return True

    # ---- the server host ---------------------------------------------------------------------------------
    def server_fin(self, arg: tuple[int, Any, bool]) -> None:
        """The client's FIN: (client, the SYN-ACK it acknowledges, whether its sequence number is the
        one after the SYN). A child takes it; without one it is the handshake's final ACK as well."""
        ci, token, first_seq = arg
        if not self.listening:  # type: ignore[attr-defined]
            return
        self.on_listener(ci)
        peer = self.peers.get(ci)
        if peer is not None:  # it has it already: a duplicate, ACKed at once
            if peer.state != DONE:
                self.cancel(peer.delack)
                peer.delack = None
                self.act("fin_again", ci)
                self.send(SERVER, ACK, ci, 0, self.client_fin_acked, ci)
            return
        children, requests = self.children, self.requests  # type: ignore[attr-defined]
        if self.fastopen_pending and ci in self.fastopen_pending:  # type: ignore[attr-defined]  # a TFO child in
            self.fastopen_ack(ci)  # type: ignore[attr-defined]  # SYN_RECV: the FIN's ACK completes it first
        if ci in children and ci not in requests:
            self.child_fin(ci)
        elif self.final_ack(ci, token, first_seq, FIN_PATHS):  # type: ignore[attr-defined]
            self.child_fin(ci)

    def child_fin(self, ci: int) -> None:
        """tcp_fin on the child: CLOSE_WAIT. An application holding it reads the end of the stream and
        closes; else the ACK goes out on the delayed-ACK timer."""
        peer = self.peers[ci] = _Peer()
        self.act("fin_in_child", ci)
        if self.children.get(ci) == ACCEPTED:  # type: ignore[attr-defined]
            self.passive_close(ci)
        else:
            delay = rules.fin_ack_delay_us(ci in self.child_data)  # type: ignore[attr-defined]
            peer.delack = self.at(self.timer_at(delay), self.fin_delack, ci)

    def fin_delack(self, ci: int) -> None:
        """tcp_delack_timer: the ACK of the FIN."""
        self.peers[ci].delack = None
        self.on_listener(ci)
        self.act("fin_delack", ci)
        self.send(SERVER, ACK, ci, 0, self.client_fin_acked, ci)

    def passive_close(self, ci: int) -> None:
        """The application's close() after it read the end of the stream: FIN (with the ACK), LAST_ACK."""
        peer = self.peers[ci]
        if peer.state != CLOSE_WAIT:
            return
        self.cancel(peer.delack)
        peer.delack, peer.state = None, LAST_ACK
        self.act("close_passive", ci)
        peer.fin = self.start_fin(SERVER, self.clients[ci])  # type: ignore[attr-defined]

    def server_last_ack(self, ci: int) -> None:
        """The client's ACK of the server's FIN: LAST_ACK -> CLOSED."""
        self.end_last_ack(ci, "last_ack_in")

    def server_rst_closing(self, ci: int) -> None:
        """The client host's RST to the server's FIN (its socket is gone)."""
        self.end_last_ack(ci, "rst_in_last_ack")

    def end_last_ack(self, ci: int, action: str) -> None:
        """A server socket in LAST_ACK closes: its FIN timer stops, and ``action`` records why."""
        peer = self.peers.get(ci)
        if peer is None or peer.state != LAST_ACK:
            return
        self.on_listener(ci)
        self.stop_fin(peer.fin)
        peer.state = DONE
        self.act(action, ci)

    # ---- the record ----------------------------------------------------------------------------------------
    def close_fields(self, c: _Client) -> dict[str, float | None]:
        """ClientRecord's fields of the close (none for a client that never closed)."""
        closing = c.closing
        if closing is None:
            return {}
        return {"closed_at": to_seconds(closing.closed_at), "time_wait_at": to_seconds(closing.tw_at),
                "time_wait_until": to_seconds(closing.tw_until)}
