"""TCP Fast Open (``Scenario(fastopen=N)``, ``Kernel(tcp_fastopen=...)``): clients that send their request
with sendto(MSG_FASTOPEN) and the cookie their host caches for the server, and the listener's TFO queue
and the child sockets it makes at the SYN.

* **Client** (tcp_sendmsg_fastopen, tcp_send_syn_data, tcp_rcv_fastopen_synack, tcp_fastopen_cache_set):
  a client whose host has no cookie for the server yet sends a SYN with an empty cookie option (a cookie
  request) and writes its request once connected, the SYN-ACK's ACK held back for it (sk_write_pending:
  the request carries the ACK); the cookie a SYN-ACK brings is cached in the host's tcp_metrics for every
  later connect(). A client with a cookie sends the request in the SYN; a SYN-ACK that acks it makes
  the request done at connect() (TCPFastOpenActive), one that does not has it sent again at once, the
  segment carrying the ACK (TCPFastOpenActiveFail), then on the RTO as any request.
* **Listener** (tcp_fastopen_check on 3.10, tcp_try_fastopen, tcp_fastopen_queue_check and
  tcp_fastopen_create_child on 4.4+): a TFO SYN on tcp_conn_request's regular path (not dropped, no
  syncookie) gets a child socket at once, straight into the accept queue, holding the data, while the
  TFO queue (fastopenq.qlen, per listener) is below its limit; else a regular request (``rules.fastopen_syn``).
  The child's request sock stays with it until the final ACK (reqsk_fastopen_remove), and its own
  retransmission timer resends the SYN-ACK (tcp_fastopen_synack_timer).

Not modelled: a cookie the server no longer accepts (one key, never rotated: every cookie is valid),
the client's TFO blackhole detection (tcp_fastopen_active_detect_blackhole, 4.11+: TCPFastOpenActiveFail
at a TFO socket's third timeout; with tcp_fastopen_blackhole_timeout, 3600 s by default on 4.11 to 5.4,
0 since, active TFO off for an hour) and 4.4's TCPFastOpenActiveFail at the second SYN timeout, the
3.10-4.x revert after recurring SYN-data losses (tcp_fastopen_cache_get's syn_loss), an RST'd accepted
TFO child holding its TFO slot for 60 s, and a dead TFO child left in the accept queue (the model takes
it out at once).

Uses of the other rooms: ``connect`` calls ``fastopen_syn`` and ``client_synack`` calls
``fastopen_connected`` (client); ``send_data``, ``data_timer``, ``server_syn``, ``server_ack``,
``server_data``, ``client_synack`` (client, server); ``syn_path``, ``conn_request``, ``new_request``, ``request_for_syn``,
``add_child``, ``children``, ``child_data``, ``requests``, ``ratelimit``, ``listener_state`` (server);
``wake_accept`` (application); ``use_listener``, ``listener_of`` (group).
"""

from __future__ import annotations

from typing import Any

from .. import rules
from ..scenario import Scenario
from .base import ACK, CLIENT, DATA, SERVER, SYN, SYNACK, Core
from .server import _Request


class FastOpen(Core):
    """TCP Fast Open on both hosts: the client host's cookie, the listener's TFO queue and children."""

    STATE = ("fastopen_limit", "fastopen_clients", "fastopen_cookie", "fastopen_syns", "syn_data_acked",
             "fastopen_qlen", "fastopen_pending", "synack_cookie", "synack_data")

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        k, backlog = self.k, scenario.backlog
        self.fastopen_limit = 0 if backlog is None else rules.fastopen_queue_limit(k, scenario.fastopen, backlog)
        self.fastopen_clients = rules.fastopen_used(k, scenario.fastopen, backlog, scenario.data)
        self.fastopen_cookie = False  # the client host's tcp_metrics holds a cookie for the server
        self.fastopen_syns: dict[int, str] = {}  # client -> what its first SYN carried (rules.fastopen_syn_carries)
        self.syn_data_acked: dict[int, bool] = {}  # client with data in its SYN -> the SYN-ACK acked it
        self.fastopen_qlen = 0  # the listener's fastopenq.qlen: TFO children waiting for their final ACK
        self.fastopen_pending: dict[int, _Request] = {}  # client -> its TFO child's request sock
        self.synack_cookie = False  # the SYN-ACK being handled carries a cookie
        self.synack_data = False  # the SYN-ACK being handled is a TFO child's: it acks the SYN's data

    def listener_state(self) -> tuple[tuple[str, ...], dict[str, list[Any]]]:
        """Each listener of a SO_REUSEPORT group has its own TFO queue (icsk_accept_queue.fastopenq)."""
        names, fresh = super().listener_state()  # type: ignore[misc]
        return (names + ("fastopen_qlen",) if self.fastopen_limit else names), fresh

    # ---- the client host ---------------------------------------------------------------------------------
    def fastopen_syn(self, c: Any) -> None:
        """tcp_send_syn_data: the first SYN of a sendto(MSG_FASTOPEN) client, with a cookie request or with
        the request (``rules.fastopen_syn_carries``)."""
        carries = rules.fastopen_syn_carries(self.k, self.fastopen_cookie)
        self.fastopen_syns[c.index] = carries
        if carries == "request":
            self.act("fastopen_syn_request", c.index)
        else:
            c.data_times += (self.now,)
            self.act("fastopen_syn_data", c.index)
        self.send(CLIENT, SYN, c.index, 0, self.server_syn_fastopen, (c.index, carries))

    def client_synack_cookie(self, arg: tuple[int, Any, int]) -> None:
        """A SYN-ACK with a Fast Open cookie (the answer to a cookie request)."""
        self.synack_cookie = True
        self.client_synack(arg)  # type: ignore[attr-defined]
        self.synack_cookie = False

    def client_synack_data(self, arg: tuple[int, Any, int]) -> None:
        """A TFO child's SYN-ACK: it acknowledges the data of the SYN."""
        self.synack_data = True
        self.client_synack(arg)  # type: ignore[attr-defined]
        self.synack_data = False

    def fastopen_connected(self, c: Any) -> None:
        """tcp_rcv_synsent_state_process -> tcp_rcv_fastopen_synack for a client in SYN_SENT whose SYN
        came from tcp_send_syn_data (``client_synack`` made it ESTABLISHED and took the RTT sample)."""
        ci = c.index
        if self.fastopen_syns[ci] == "request":
            if self.synack_cookie:
                self.fastopen_cookie = True  # tcp_fastopen_cache_set
            self.act("synack_in_cookie" if self.synack_cookie else "synack_in_no_cookie", ci)
            self.send_data(c)  # type: ignore[attr-defined]  # the write waiting in sendmsg; it carries the ACK
            return
        self.syn_data_acked[ci] = self.synack_data
        if self.synack_data:
            c.data_acked_at = self.now
            self.act("synack_in_fastopen_acked", ci)
            self.send(CLIENT, ACK, ci, 0, self.server_ack, (ci, c.isn, False))  # type: ignore[attr-defined]
            return
        self.act("synack_in_fastopen_fail", ci)
        c.rto = rules.data_rto_us(self.k, c.srtt)  # the request again, at once; then its RTO
        c.data_times += (self.now,)
        self.send(CLIENT, DATA, ci, 1, self.server_data, (ci, c.isn))  # type: ignore[attr-defined]
        c.timer = self.at(self.timer_at(c.rto), self.data_timer, c)  # type: ignore[attr-defined]

    # ---- the listener ---------------------------------------------------------------------------------------
    def server_syn_fastopen(self, arg: tuple[int, str]) -> None:
        """The first SYN of a sendto(MSG_FASTOPEN) client: tcp_conn_request's checks first
        (``syn_path``); on its regular path, the TFO check (``rules.fastopen_syn``)."""
        ci, carries = arg
        if not self.listening or ci in self.requests or ci in self.children:  # type: ignore[attr-defined]
            self.server_syn(ci)  # type: ignore[attr-defined]
            return
        if self.grouped:  # type: ignore[attr-defined]
            self.use_listener(self.listener_of(ci))  # type: ignore[attr-defined]
        if self.syn_path() != "syn_new":  # type: ignore[attr-defined]  # dropped, or a syncookie: no TFO
            self.conn_request(ci)  # type: ignore[attr-defined]
            return
        full = len(self.accept_queue) > self.backlog  # type: ignore[attr-defined]  # sk_acceptq_is_full
        outcome = rules.fastopen_syn(self.k, carries, self.fastopen_limit, self.fastopen_qlen, full)
        action = f"syn_fastopen_{carries}_{outcome}"
        if outcome == "child":
            self.fastopen_child(ci, action, carries != "request")
        elif outcome == "full" and self.k.fastopen_server == "tcp_fastopen_check":  # 3.10: drop_and_free
            self.act(action, ci)
        else:
            deliver = self.client_synack_cookie if outcome == "cookie" else None
            self.new_request(ci, action, deliver)  # type: ignore[attr-defined]

    def fastopen_child(self, ci: int, action: str, data: bool) -> None:
        """tcp_fastopen_create_child: a child socket at the SYN (TcpPassiveOpens), holding the SYN's data,
        put in the accept queue at once (inet_csk_reqsk_queue_add); its request sock waits in the TFO
        queue for the final ACK; the SYN-ACK acks the data; the child's retransmission timer is armed
        for it (TCP_TIMEOUT_INIT)."""
        req = self.request_for_syn(ci)  # type: ignore[attr-defined]
        self.fastopen_pending[ci] = req
        self.fastopen_qlen += 1
        if data:
            self.child_data.add(ci)  # type: ignore[attr-defined]
        self.add_child(ci)  # type: ignore[attr-defined]
        self.act(action, ci)
        self.fastopen_synack(req, 0)
        req.timer = self.at(self.timer_at(req.expires - self.now), self.fastopen_synack_timer, req)
        self.wake_accept()  # type: ignore[attr-defined]

    def fastopen_synack(self, req: _Request, retrans: int) -> None:
        """The TFO child's SYN-ACK (first or resent): it acks the SYN's data; its timestamp echoes the SYN."""
        self.send(SERVER, SYNACK, req.client, retrans, self.client_synack_data, (req.client, req, req.ts_recent))

    def fastopen_synack_timer(self, req: _Request) -> None:
        """tcp_retransmit_timer -> tcp_fastopen_synack_timer for a TFO child still in SYN_RECV."""
        if not req.alive:
            return
        if self.grouped:  # type: ignore[attr-defined]
            self.use_listener(req.listener)  # type: ignore[attr-defined]
        ci = req.client
        if rules.fastopen_synack_expired(self.k, req.num_timeout):
            self.fastopen_done(req)
            self.act("fastopen_synack_give_up", ci)
            self.fastopen_child_dies(ci)
            return
        self.act("fastopen_synack_rto", ci)
        self.fastopen_synack(req, 1)
        req.num_timeout += 1
        req.timer = self.at(self.timer_at(rules.synack_timeout_us(self.k, req.num_timeout)),
                            self.fastopen_synack_timer, req)

    def fastopen_syn_again(self, ci: int) -> None:
        """A retransmitted SYN reaches the TFO child (SYN_RECV: tcp_rcv_state_process -> tcp_check_req):
        the SYN-ACK again at once (rate-limited 4.0+), the child's timer left as it is."""
        req = self.fastopen_pending[ci]
        if self.ratelimit is not None:  # type: ignore[attr-defined]
            if req.last_oow >= 0 and self.now - req.last_oow < self.ratelimit:  # type: ignore[attr-defined]
                self.act("syn_again_fastopen_ratelimited", ci)
                return
            req.last_oow = self.now
        self.act("syn_again_fastopen", ci)
        self.fastopen_synack(req, 1)

    def fastopen_ack(self, ci: int) -> None:
        """The client's ACK (or any segment acknowledging the SYN-ACK) reaches its TFO child in SYN_RECV:
        tcp_check_req accepts it, ESTABLISHED, the request sock leaves the TFO queue (reqsk_fastopen_remove)."""
        self.fastopen_done(self.fastopen_pending[ci])
        self.act("ack_fastopen_child", ci)

    def fastopen_reset(self, ci: int) -> None:
        """An RST reaches the TFO child in SYN_RECV: tcp_check_req's embryonic_reset, tcp_reset."""
        self.fastopen_done(self.fastopen_pending[ci])
        self.act("rst_for_fastopen_child", ci)
        self.fastopen_child_dies(ci)

    def fastopen_done(self, req: _Request) -> None:
        """The request sock leaves the TFO queue and the child's SYN-ACK timer stops."""
        req.alive = False
        self.cancel(req.timer)
        del self.fastopen_pending[req.client]
        self.fastopen_qlen -= 1

    def fastopen_child_dies(self, ci: int) -> None:
        """tcp_done on the TFO child: later segments of the client meet the listener again. The kernel
        leaves the closed child in the accept queue for accept() to return; the model takes it out."""
        self.children.pop(ci, None)  # type: ignore[attr-defined]
        self.child_data.discard(ci)  # type: ignore[attr-defined]
        if ci in self.accept_queue:
            self.accept_queue.remove(ci)
            self.queues_changed()

    # ---- the record ---------------------------------------------------------------------------------------
    def fastopen_fields(self, c: Any) -> dict[str, Any]:
        """A TFO client's ClientRecord fields (none for a client that did not use sendto(MSG_FASTOPEN))."""
        carries = self.fastopen_syns.get(c.index)
        if carries is None:
            return {}
        return {"fastopen": "cookie_requested" if carries == "request" else "data_in_syn",
                "syn_data_acked": self.syn_data_acked.get(c.index)}
