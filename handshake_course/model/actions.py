"""The kernel's actions during a handshake: what each one does, the function path it models on the
chosen kernel, and the nstat counters it bumps there.

The simulation never bumps a counter directly: it records an action, and the action bumps its
counters. So the counters always agree with the trace, and each counter's increment site is
written down once, here, per version (reference: linux-handshake-facts.md, section 1.5 table).

A path is written once per era (2.6.32/3.10: ``tcp_v4_conn_request`` and the listener's timer;
5.15/6.18: ``tcp_conn_request`` and a timer per request) and overridden where one release's source
differs (``_RELEASE_PATHS``). Every function of every path exists in that release:
tests/test_kernel_index.py checks each one against ``kernel_index.json``, read off the source trees.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import kernel_index
from .actions_fastopen import (
    FASTOPEN_CLIENT_COUNTERS,
    FASTOPEN_SERVER_COUNTERS,
    FASTOPEN_TABLE,
    fastopen_counters,
    fastopen_paths,
)
from .profiles import Kernel


@dataclass(frozen=True)
class Action:
    """One kind of kernel event, resolved for one kernel."""

    name: str
    host: str  # "client" or "server"
    what: str
    path: tuple[str, ...]
    counters: tuple[str, ...]


def _p(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Receive paths shared by many server actions.
_RCV_OLD = "tcp_v4_rcv tcp_v4_do_rcv"
_LISTEN_OLD = f"{_RCV_OLD} tcp_rcv_state_process tcp_v4_conn_request"
_LISTEN_NEW = "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_v4_conn_request tcp_conn_request"
_REQ_OLD = f"{_RCV_OLD} tcp_v4_hnd_req tcp_check_req"
_REQ_NEW = "tcp_v4_rcv tcp_check_req"
_COOKIE_OLD = f"{_RCV_OLD} tcp_v4_hnd_req cookie_v4_check"
_COOKIE_NEW = "tcp_v4_rcv tcp_v4_do_rcv tcp_v4_cookie_check cookie_v4_check cookie_tcp_check"
_COOKIE_515 = "tcp_v4_rcv tcp_v4_do_rcv tcp_v4_cookie_check cookie_v4_check"  # cookie_tcp_check came in 6.x
_TIMER_OLD = "tcp_keepalive_timer tcp_synack_timer inet_csk_reqsk_queue_prune tcp_syn_ack_timeout"
_TIMER_NEW = "reqsk_timer_handler tcp_syn_ack_timeout"
_SYN_TIMER = "tcp_write_timer_handler tcp_retransmit_timer"

# name: (host, what, path on 2.6.32/3.10, path on 5.15/6.18)
_TABLE: dict[str, tuple[str, str, str, str]] = {
    # ---- client ----
    "connect": ("client", "connect(): ephemeral port chosen, state SYN_SENT, SYN sent, retransmission timer armed",
                "inet_stream_connect tcp_v4_connect inet_hash_connect __inet_hash_connect tcp_connect",
                "inet_stream_connect tcp_v4_connect inet_hash_connect __inet_hash_connect tcp_connect"),
    "connect_no_port": ("client", "connect(): no free ephemeral port, fails with EADDRNOTAVAIL",
                        "inet_stream_connect tcp_v4_connect inet_hash_connect __inet_hash_connect",
                        "inet_stream_connect tcp_v4_connect inet_hash_connect __inet_hash_connect"),
    "syn_rto": ("client", "SYN retransmission timer fired: SYN sent again, RTO backed off",
                "tcp_write_timer tcp_retransmit_timer tcp_retransmit_skb",
                f"{_SYN_TIMER} tcp_retransmit_skb"),
    "syn_rto_first": ("client", "SYN retransmission timer fired for the first time: SYN sent again, RTO backed off",
                      "tcp_write_timer tcp_retransmit_timer tcp_retransmit_skb",
                      f"{_SYN_TIMER} tcp_retransmit_skb"),
    "syn_give_up": ("client", "SYN retransmission timer fired with the retries used up: connect() fails with ETIMEDOUT",
                    "tcp_write_timer tcp_retransmit_timer tcp_write_timeout tcp_write_err tcp_done",
                    f"{_SYN_TIMER} tcp_write_timeout tcp_write_err tcp_done"),
    "synack_in": ("client", "SYN-ACK in SYN_SENT: ESTABLISHED, timer stopped, ACK sent, connect() returns 0",
                  f"{_RCV_OLD} tcp_rcv_state_process tcp_rcv_synsent_state_process tcp_finish_connect tcp_send_ack",
                  "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_rcv_synsent_state_process "
                  "tcp_finish_connect tcp_send_ack"),
    "synack_again": ("client", "SYN-ACK while ESTABLISHED (the server resent it): answered with an ACK",
                     f"{_RCV_OLD} tcp_rcv_established tcp_validate_incoming tcp_send_challenge_ack",
                     "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established tcp_validate_incoming tcp_send_challenge_ack"),
    "rst_in_syn_sent": ("client", "RST in SYN_SENT: connect() fails with ECONNREFUSED",
                        f"{_RCV_OLD} tcp_rcv_state_process tcp_rcv_synsent_state_process tcp_reset tcp_done",
                        "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_rcv_synsent_state_process "
                        "tcp_reset tcp_done"),
    "rst_in_established": ("client", "RST while ESTABLISHED: the socket fails with ECONNRESET",
                           f"{_RCV_OLD} tcp_rcv_established tcp_validate_incoming tcp_reset tcp_done",
                           "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established tcp_validate_incoming tcp_reset tcp_done"),
    "no_socket_rst": ("client", "segment for a socket that is gone (connect() already failed): answered with RST",
                      "tcp_v4_rcv tcp_v4_send_reset", "tcp_v4_rcv tcp_v4_send_reset"),
    # ---- server ----
    "listen": ("server", "listen(): the backlog (capped at somaxconn) sets the queue limits, listener in LISTEN",
               "inet_listen inet_csk_listen_start reqsk_queue_alloc",
               "inet_listen __inet_listen_sk inet_csk_listen_start"),
    "no_listener_rst": ("server", "SYN for a port with no listener: answered with RST",
                        "tcp_v4_rcv tcp_v4_send_reset", "tcp_v4_rcv tcp_v4_send_reset"),
    "syn_new": ("server", "SYN: request sock created in the SYN queue, SYN-ACK sent, SYN-ACK timer armed",
                f"{_LISTEN_OLD} inet_csk_reqsk_queue_hash_add",
                f"{_LISTEN_NEW} inet_csk_reqsk_queue_hash_add tcp_v4_send_synack"),
    "syn_drop_syn_queue_full": ("server", "SYN dropped: SYN queue full and tcp_syncookies=0",
                                f"{_LISTEN_OLD} tcp_syn_flood_action", f"{_LISTEN_NEW} tcp_syn_flood_action"),
    "syn_cookie": ("server", "SYN answered with a syncookie SYN-ACK (SYN queue full, or tcp_syncookies=2); "
                             "no request sock is kept",
                   f"{_LISTEN_OLD} tcp_syn_flood_action cookie_v4_init_sequence",
                   f"{_LISTEN_NEW} tcp_syn_flood_action cookie_init_sequence tcp_v4_send_synack"),
    "syn_drop_accept_queue_full": ("server", "SYN dropped: accept queue full",
                                   _LISTEN_OLD, _LISTEN_NEW),
    "syn_cookie_drop_accept_queue_full": ("server", "SYN queue full, so a cookie was wanted, but the accept "
                                                    "queue is full too: SYN dropped",
                                          f"{_LISTEN_OLD} tcp_syn_flood_action",
                                          f"{_LISTEN_NEW} tcp_syn_flood_action"),
    "syn_drop_last_quarter": ("server", "SYN dropped: tcp_syncookies=0 and the SYN queue reached the last "
                                        "quarter of tcp_max_syn_backlog, kept for proven peers",
                              _LISTEN_OLD, _LISTEN_NEW),
    "syn_again": ("server", "retransmitted SYN for a pending request: SYN-ACK resent at once, timer restarted",
                  f"{_REQ_OLD} inet_rtx_syn_ack", f"{_REQ_NEW} inet_rtx_syn_ack tcp_rtx_synack"),
    "syn_again_ratelimited": ("server", "retransmitted SYN within tcp_invalid_ratelimit of the last answer: ignored",
                              "", f"{_REQ_NEW} tcp_oow_rate_limited"),  # no rate limit before 4.0
    "syn_for_child": ("server", "SYN for a connection that already has a child socket: the child handles it",
                      f"{_RCV_OLD} tcp_rcv_established", "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established"),
    "synack_rto": ("server", "SYN-ACK timer: the request timed out, SYN-ACK resent",
                   f"{_TIMER_OLD} inet_rtx_syn_ack", f"{_TIMER_NEW} tcp_rtx_synack"),
    "synack_give_up": ("server", "SYN-ACK timer: retries used up, request sock dropped",
                       f"{_TIMER_OLD} inet_csk_reqsk_queue_unlink",
                       f"{_TIMER_NEW} inet_csk_reqsk_queue_drop_and_put"),
    "ack_new_child": ("server", "final ACK: child socket created and put in the accept queue",
                      f"{_REQ_OLD} tcp_v4_syn_recv_sock tcp_create_openreq_child inet_csk_reqsk_queue_add",
                      f"{_REQ_NEW} tcp_v4_syn_recv_sock tcp_create_openreq_child inet_csk_complete_hashdance "
                      "inet_csk_reqsk_queue_add"),
    "ack_accept_queue_full": ("server", "final ACK dropped: accept queue full; request marked acked, "
                                        "its SYN-ACK will be resent at the next timeout",
                              f"{_REQ_OLD} tcp_v4_syn_recv_sock", f"{_REQ_NEW} tcp_v4_syn_recv_sock"),
    "ack_accept_queue_full_abort": ("server", "final ACK with the accept queue full and tcp_abort_on_overflow=1: "
                                              "RST sent, request dropped",
                                    f"{_REQ_OLD} tcp_v4_syn_recv_sock tcp_v4_send_reset",
                                    f"{_REQ_NEW} tcp_v4_syn_recv_sock tcp_v4_send_reset"),
    "ack_cookie": ("server", "ACK with a valid syncookie: child socket rebuilt from it and queued",
                   f"{_COOKIE_OLD} get_cookie_sock tcp_v4_syn_recv_sock",
                   f"{_COOKIE_NEW} tcp_get_cookie_sock tcp_v4_syn_recv_sock"),
    "ack_cookie_accept_queue_full": ("server", "ACK with a valid syncookie but the accept queue is full: "
                                               "dropped, nothing kept",
                                     f"{_COOKIE_OLD} get_cookie_sock tcp_v4_syn_recv_sock",
                                     f"{_COOKIE_NEW} tcp_get_cookie_sock tcp_v4_syn_recv_sock"),
    "ack_cookie_invalid": ("server", "ACK matches no request and is no valid cookie: answered with RST",
                           f"{_COOKIE_OLD} tcp_rcv_state_process tcp_v4_send_reset",
                           f"{_COOKIE_NEW} tcp_rcv_state_process tcp_v4_send_reset"),
    "ack_wrong_isn": ("server", "ACK for an earlier SYN-ACK of this connection (ack_seq is not the pending "
                                "request's ISN + 1, e.g. the request expired and a retransmitted SYN made a "
                                "new one): the listener answers with RST, the request stays",
                      f"{_REQ_OLD} tcp_rcv_state_process tcp_v4_send_reset",
                      f"{_REQ_NEW} tcp_v4_do_rcv tcp_rcv_state_process tcp_v4_send_reset"),
    "ack_no_request": ("server", "ACK matches no request (and no cookie is checked): answered with RST",
                       f"{_RCV_OLD} tcp_v4_hnd_req tcp_rcv_state_process tcp_v4_send_reset",
                       "tcp_v4_rcv tcp_v4_do_rcv tcp_v4_cookie_check tcp_rcv_state_process tcp_v4_send_reset"),
    "ack_for_child": ("server", "ACK for a connection that already has a child socket: the child takes it",
                      f"{_RCV_OLD} tcp_rcv_state_process", "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process"),
    "rst_for_request": ("server", "RST for a pending request: request sock dropped",
                        f"{_REQ_OLD} inet_csk_reqsk_queue_drop", f"{_REQ_NEW} inet_csk_reqsk_queue_drop"),
    # ---- TCP_DEFER_ACCEPT (Scenario(defer_accept=...)) ----
    "ack_defer_drop": ("server", "final ACK without data while TCP_DEFER_ACCEPT is active (fewer SYN-ACK timeouts "
                                 "than rskq_defer_accept): dropped, the request marked acked; it waits for the "
                                 "client's data", _REQ_OLD, _REQ_NEW),
    "synack_defer_wait": ("server", "SYN-ACK timer of an acked request while TCP_DEFER_ACCEPT waits for data: no "
                                    "SYN-ACK sent (syn_ack_recalc: resend only from the last deferred round), "
                                    "timer re-armed", _TIMER_OLD, _TIMER_NEW),
    "accept": ("server", "accept(): the oldest connection leaves the accept queue",
               "inet_accept inet_csk_accept reqsk_queue_remove",
               "do_accept inet_accept inet_csk_accept reqsk_queue_remove"),
    # ---- the client's request (Scenario(data=True)) ----
    "data_send": ("client", "the application's write() once connect() returned: the request leaves as one DATA "
                            "segment, and its retransmission timer is armed: a loss probe where the kernel has "
                            "one, else the RTO from the RTT measured on the SYN-ACK (m + max(2m, 200 ms))",
                  "tcp_sendmsg tcp_push __tcp_push_pending_frames tcp_write_xmit tcp_event_new_data_sent",
                  "tcp_sendmsg tcp_sendmsg_locked tcp_push __tcp_push_pending_frames tcp_write_xmit "
                  "tcp_schedule_loss_probe"),
    "data_tlp": ("client", "loss-probe timer fired: the DATA sent again as a tail loss probe, the RTO re-armed in "
                           "full", "", "tcp_write_timer_handler tcp_send_loss_probe __tcp_retransmit_skb"),
    "data_rto_first": ("client", "data retransmission timer fired for the first time: DATA sent again, RTO doubled",
                       "tcp_write_timer tcp_retransmit_timer tcp_retransmit_skb", f"{_SYN_TIMER} tcp_retransmit_skb"),
    "data_rto": ("client", "data retransmission timer fired: DATA sent again, RTO doubled",
                 "tcp_write_timer tcp_retransmit_timer tcp_retransmit_skb", f"{_SYN_TIMER} tcp_retransmit_skb"),
    "data_give_up": ("client", "data retransmission timer fired after tcp_retries2's time: the connection fails "
                               "with ETIMEDOUT",
                     "tcp_write_timer tcp_retransmit_timer tcp_write_timeout tcp_write_err tcp_done",
                     f"{_SYN_TIMER} tcp_write_timeout tcp_write_err tcp_done"),
    "data_acked": ("client", "the server's ACK of the DATA: the request reached the server's socket, the "
                             "retransmission timer is stopped",
                   f"{_RCV_OLD} tcp_rcv_established tcp_ack tcp_clean_rtx_queue",
                   "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established tcp_ack tcp_clean_rtx_queue"),
    "data_in_new_child": ("server", "the child just made from this segment takes its data: queued for the "
                                    "application and ACKed at once (a socket's first data puts it in quickack "
                                    "mode, tcp_event_data_recv)",
                          "tcp_child_process tcp_rcv_state_process tcp_data_queue tcp_event_data_recv",
                          "tcp_child_process tcp_rcv_state_process tcp_data_queue tcp_event_data_recv"),
    "data_in": ("server", "DATA for a child socket (made by the final ACK): queued for the application and ACKed "
                          "at once (its first data: quickack)",
                f"{_RCV_OLD} tcp_rcv_established tcp_data_queue tcp_event_data_recv",
                "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established tcp_data_queue tcp_event_data_recv"),
    "data_again": ("server", "DATA the child already holds (its ACK was lost): dropped and ACKed again at once, "
                             "with a D-SACK",
                   f"{_RCV_OLD} tcp_rcv_established tcp_data_queue tcp_dsack_set",
                   "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established tcp_data_queue tcp_dsack_set"),
}

# A DATA segment carries the ACK of the SYN-ACK, so where no child socket exists yet it takes the final
# ACK's path (tcp_check_req, or cookie_v4_check) with the same function path and counters; the trace
# names it apart so that it says the data completed (or failed to complete) the handshake.
_FINAL_ACK_TWINS: dict[str, tuple[str, str]] = {
    "new_child": ("ack_new_child", "{} for a request whose own final ACK was dropped or lost: it carries the "
                                   "ACK, so tcp_check_req completes the handshake; child created and queued"),
    "accept_queue_full": ("ack_accept_queue_full", "{} for a request, but the accept queue is full: dropped as a "
                                                   "final ACK would be, request marked acked; the client will send "
                                                   "it again"),
    "accept_queue_full_abort": ("ack_accept_queue_full_abort", "{} for a request with the accept queue full and "
                                                               "tcp_abort_on_overflow=1: RST sent, request dropped"),
    "cookie": ("ack_cookie", "{} whose ACK holds a valid syncookie: child rebuilt from it and queued"),
    "cookie_accept_queue_full": ("ack_cookie_accept_queue_full", "{} with a valid syncookie but the accept queue is "
                                                                 "full: dropped, nothing kept"),
    "cookie_invalid": ("ack_cookie_invalid", "{} matches no request and holds no valid cookie: answered with RST"),
    "wrong_isn": ("ack_wrong_isn", "{} acknowledging an earlier SYN-ACK of this connection: the listener answers "
                                   "with RST, the request stays"),
    "no_request": ("ack_no_request", "{} matches no request (and no cookie is checked): answered with RST"),
}
"""The final ACK's outcomes, which a segment carrying that ACK meets too, named for the segment."""


def _final_ack_twins(kind: str) -> dict[str, tuple[str, str]]:
    """``<kind>_<outcome>`` -> (the final-ACK action whose path and counters it takes, what it does),
    for a segment of ``kind`` ("DATA", "FIN") that reaches a request or a syncookie; each is added to
    the table with its twin's path and counters."""
    twins = {f"{kind.lower()}_{outcome}": (twin, what.format(kind))
             for outcome, (twin, what) in _FINAL_ACK_TWINS.items()}
    for name, (twin, what) in twins.items():
        _TABLE[name] = (_TABLE[twin][0], what, *_TABLE[twin][2:])
    return twins


DATA_TWINS = _final_ack_twins("DATA")
DATA_ACTIONS = frozenset(n for n in _TABLE if n.startswith("data_"))
"""The actions of clients' requests: only ``Scenario(data=True)`` runs them."""
DEFER_ACTIONS = frozenset({"ack_defer_drop", "synack_defer_wait"})
"""The actions of TCP_DEFER_ACCEPT: only ``Scenario(defer_accept=...)`` runs them."""

# ---- the close and TIME_WAIT (Scenario(hold=...)) ----
_TW_OLD, _TW_NEW = "inet_twsk_schedule", "__inet_twsk_schedule"  # arming the timewait socket's timer
_CLOSE_TABLE: dict[str, tuple[str, str, str, str]] = {
    "close": ("client", "the application's close() on an established socket: FIN sent, FIN_WAIT1, the FIN's "
                        "retransmission timer armed as for data (a loss probe where the kernel has one, else the RTO)",
              "inet_release tcp_close tcp_send_fin", "inet_release tcp_close tcp_send_fin"),
    "fin_acked": ("client", "the server's ACK of the FIN (no FIN of its own yet): FIN_WAIT2, and as the application "
                            "has closed the socket a timewait socket (substate FIN_WAIT2) replaces it for "
                            "tcp_fin_timeout (60 s), holding the port",
                  f"{_RCV_OLD} tcp_rcv_state_process tcp_time_wait {_TW_OLD}",
                  f"tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_time_wait {_TW_NEW}"),
    "fin_in": ("client", "the server's FIN, acknowledging the client's: ACK sent, TIME_WAIT for TCP_TIMEWAIT_LEN "
                         "(60 s) in a timewait socket that holds the port",
               f"{_RCV_OLD} tcp_rcv_state_process tcp_data_queue tcp_fin tcp_send_ack tcp_time_wait {_TW_OLD}",
               "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_data_queue tcp_fin tcp_send_ack tcp_time_wait "
               f"{_TW_NEW}"),
    "fin_in_fin_wait2": ("client", "the server's FIN reaches the timewait socket in substate FIN_WAIT2: it becomes "
                                   "TIME_WAIT, its timer re-armed for 60 s, and ACKs the FIN",
                         f"tcp_v4_rcv tcp_timewait_state_process {_TW_OLD} tcp_v4_timewait_ack",
                         f"tcp_v4_rcv tcp_timewait_state_process {_TW_NEW} tcp_v4_timewait_ack"),
    "fin_again_time_wait": ("client", "the server's FIN again (its ACK was lost) in TIME_WAIT: ACKed again, the "
                                      "TIME_WAIT timer restarted for 60 s",
                            f"tcp_v4_rcv tcp_timewait_state_process {_TW_OLD} tcp_v4_timewait_ack",
                            f"tcp_v4_rcv tcp_timewait_state_process {_TW_NEW} tcp_v4_timewait_ack"),
    "tw_expire": ("client", "the timewait socket's time is up: it is destroyed and its port is free again",
                  "inet_twdr_hangman inet_twdr_do_twkill_work __inet_twsk_kill", "tw_timer_handler inet_twsk_kill"),
    "connect_tw_reuse": ("client", "connect() took the port of a TIME_WAIT socket to the same destination "
                                   "(tcp_tw_reuse): the timewait socket is destroyed, the new one takes its place "
                                   "in the established hash; state SYN_SENT, SYN sent, retransmission timer armed",
                         "inet_stream_connect tcp_v4_connect inet_hash_connect __inet_hash_connect "
                         "__inet_check_established tcp_twsk_unique inet_twsk_deschedule tcp_connect",
                         "inet_stream_connect tcp_v4_connect inet_hash_connect __inet_hash_connect "
                         "__inet_check_established tcp_twsk_unique inet_twsk_deschedule_put tcp_connect"),
    "rst_in_fin_wait1": ("client", "RST while the FIN waits for its ACK (the FIN met no request and no valid "
                                   "cookie): the socket is closed at once, no TIME_WAIT, the port is free",
                         f"{_RCV_OLD} tcp_rcv_state_process tcp_validate_incoming tcp_reset tcp_done",
                         "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_validate_incoming tcp_reset tcp_done"),
    "fin_in_child": ("server", "the client's FIN reaches its child: CLOSE_WAIT, end of stream for the application; "
                               "its ACK is delayed (tcp_fin enters pingpong mode)",
                     f"{_RCV_OLD} tcp_rcv_established tcp_data_queue tcp_fin",
                     "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_established tcp_data_queue tcp_fin"),
    "fin_delack": ("server", "delayed-ACK timer of a child the application has not closed: the ACK of the FIN sent",
                   "tcp_delack_timer tcp_delack_timer_handler tcp_send_ack",
                   "tcp_delack_timer tcp_delack_timer_handler tcp_send_ack"),
    "close_passive": ("server", "the application read the end of the stream and closed the socket: FIN sent (it "
                                "carries the ACK of the client's FIN), LAST_ACK, retransmission timer armed",
                      "inet_release tcp_close tcp_send_fin", "inet_release tcp_close tcp_send_fin"),
    "last_ack_in": ("server", "the client's ACK of the server's FIN in LAST_ACK: the socket is closed and freed",
                    f"{_RCV_OLD} tcp_rcv_state_process tcp_done", "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_done"),
    "fin_again": ("server", "the client's FIN again (the server's ACK or FIN was lost): a duplicate, ACKed at once "
                            "with a D-SACK",
                  f"{_RCV_OLD} tcp_rcv_state_process tcp_data_queue tcp_dsack_set",
                  "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_data_queue tcp_dsack_set"),
    "rst_in_last_ack": ("server", "RST for a socket in LAST_ACK (the client's socket is gone): closed at once",
                        f"{_RCV_OLD} tcp_rcv_state_process tcp_validate_incoming tcp_reset tcp_done",
                        "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_validate_incoming tcp_reset tcp_done"),
}
_TABLE.update(_CLOSE_TABLE)
# The FIN's retransmissions take the path of a request's (tcp_write_xmit's loss probe, tcp_retransmit_timer),
# on the client (FIN_WAIT1) and on the server (LAST_ACK); an orphan gives up after tcp_orphan_retries.
FIN_TIMER_TWINS: dict[str, tuple[str, str, str]] = {
    "fin_tlp": ("data_tlp", "client", "loss-probe timer fired: the FIN sent again as a tail loss probe, the RTO "
                                      "re-armed in full"),
    "fin_rto_first": ("data_rto_first", "client", "FIN retransmission timer fired for the first time: FIN sent "
                                                  "again, RTO doubled"),
    "fin_rto": ("data_rto", "client", "FIN retransmission timer fired: FIN sent again, RTO doubled"),
    "fin_give_up": ("data_give_up", "client", "FIN retransmission timer fired after tcp_orphan_retries' time (8: "
                                              "102.2 s): the closed socket is destroyed, its port free"),
    "passive_fin_tlp": ("data_tlp", "server", "loss-probe timer fired: the server's FIN sent again as a tail loss "
                                              "probe, the RTO re-armed in full"),
    "passive_fin_rto_first": ("data_rto_first", "server", "the server's FIN retransmission timer fired for the first "
                                                          "time: FIN sent again, RTO doubled"),
    "passive_fin_rto": ("data_rto", "server", "the server's FIN retransmission timer fired: FIN sent again, RTO "
                                              "doubled"),
    "passive_fin_give_up": ("data_give_up", "server", "the server's FIN retransmission timer fired after "
                                                      "tcp_orphan_retries' time (102.2 s): the socket is destroyed"),
}
for _name, (_twin, _host, _what) in FIN_TIMER_TWINS.items():
    _TABLE[_name] = (_host, _what, *_TABLE[_twin][2:])
# A FIN that meets no child takes the final ACK's path (tcp_check_req, cookie_v4_check), as a DATA does.
FIN_TWINS = _final_ack_twins("FIN")
_FINAL_ACK_TWIN_OF = {name: twin for twins in (DATA_TWINS, FIN_TWINS) for name, (twin, _) in twins.items()}
"""Each DATA and FIN twin -> the final-ACK action it stands for."""
CLOSE_ACTIONS = frozenset(_CLOSE_TABLE) | frozenset(FIN_TIMER_TWINS) | frozenset(FIN_TWINS)
"""The actions of the close and TIME_WAIT: only ``Scenario(hold=...)`` runs them."""
_TABLE.update(FASTOPEN_TABLE)  # TCP Fast Open (actions_fastopen)
FASTOPEN_ACTIONS = frozenset(FASTOPEN_TABLE)
"""The actions of TCP Fast Open: only clients that send with sendto(MSG_FASTOPEN) run them (rules.fastopen_used)."""

# Where a tcp_v4_conn_request-era release's source differs from its era's path; releases of the
# tcp_conn_request era follow their own function index (_spelled_for).
_RELEASE_PATHS: dict[str, dict[str, str]] = {
    "2.6.32": {
        # no tcp_syn_flood_action: a full SYN queue sets want_cookie or jumps to `drop:`, and the
        # cookie path warns through syn_flood_warning (net/ipv4/tcp_ipv4.c)
        "syn_drop_syn_queue_full": _LISTEN_OLD,
        "syn_cookie": f"{_LISTEN_OLD} syn_flood_warning cookie_v4_init_sequence",
        "syn_cookie_drop_accept_queue_full": _LISTEN_OLD,
        # rsk_ops->rtx_syn_ack is tcp_v4_send_synack itself; no inet_rtx_syn_ack, no tcp_syn_ack_timeout
        "syn_again": f"{_REQ_OLD} tcp_v4_send_synack",
        "synack_rto": "tcp_keepalive_timer tcp_synack_timer inet_csk_reqsk_queue_prune tcp_v4_send_synack",
        "fin_delack": "tcp_delack_timer tcp_send_ack",  # no tcp_delack_timer_handler yet (3.6)
        "synack_defer_wait": "tcp_keepalive_timer tcp_synack_timer inet_csk_reqsk_queue_prune",
        "synack_give_up": "tcp_keepalive_timer tcp_synack_timer inet_csk_reqsk_queue_prune "
                          "inet_csk_reqsk_queue_unlink",
        # tcp_rcv_synsent_state_process goes ESTABLISHED itself (tcp_finish_connect came in 3.x)
        "synack_in": f"{_RCV_OLD} tcp_rcv_state_process tcp_rcv_synsent_state_process tcp_send_ack",
        # no challenge ACK (RFC 5961, 3.6): the old SYN-ACK is a duplicate, acked from tcp_data_queue
        "synack_again": f"{_RCV_OLD} tcp_rcv_established tcp_validate_incoming tcp_data_queue",
    },
    "3.10": {
        "syn_again": f"{_REQ_OLD} inet_rtx_syn_ack tcp_v4_rtx_synack",
        "synack_rto": f"{_TIMER_OLD} inet_rtx_syn_ack tcp_v4_rtx_synack",
        # tail loss probe (3.10): tcp_write_xmit schedules it; tcp_write_timer_handler dispatches it
        "data_send": "tcp_sendmsg tcp_push __tcp_push_pending_frames tcp_write_xmit tcp_schedule_loss_probe",
        "data_tlp": "tcp_write_timer tcp_write_timer_handler tcp_send_loss_probe __tcp_retransmit_skb",
    },
}


def _spelled_for(version: str) -> dict[str, str]:
    """A 4.x-6.x release's paths where the release lacks a function of the newest path, read off
    that release's own source (kernel_index.json): __inet_listen_sk and cookie_tcp_check came in
    6.x, do_accept in 5.x, and inet_rtx_syn_ack left in 6.18 (tcp_check_req calls tcp_rtx_synack)."""
    if version not in kernel_index.index():  # only while tools/build_kernel_index.py indexes a new release
        return {}

    def has(function: str) -> bool:
        return kernel_index.definition(version, function) is not None

    own: dict[str, str] = {}
    if not has("__inet_listen_sk"):
        own["listen"] = "inet_listen inet_csk_listen_start"
    if not has("cookie_tcp_check"):
        own["ack_cookie"] = f"{_COOKIE_515} tcp_get_cookie_sock tcp_v4_syn_recv_sock"
        own["ack_cookie_accept_queue_full"] = f"{_COOKIE_515} tcp_get_cookie_sock tcp_v4_syn_recv_sock"
        own["ack_cookie_invalid"] = f"{_COOKIE_515} tcp_rcv_state_process tcp_v4_send_reset"
    if has("inet_rtx_syn_ack"):
        own["synack_rto"] = f"{_TIMER_NEW} inet_rtx_syn_ack tcp_rtx_synack"
    else:
        own["syn_again"] = f"{_REQ_NEW} tcp_rtx_synack"
    if not has("do_accept"):
        own["accept"] = "inet_accept inet_csk_accept reqsk_queue_remove"
    if not has("tcp_sendmsg_locked"):  # 4.14 split tcp_sendmsg
        own["data_send"] = "tcp_sendmsg tcp_push __tcp_push_pending_frames tcp_write_xmit tcp_schedule_loss_probe"
    return own


NAMES: tuple[str, ...] = tuple(_TABLE)
INDEX: dict[str, int] = {n: i for i, n in enumerate(NAMES)}

# The counters that could exist anywhere; a kernel lists those it has (see counters_of).
SERVER_COUNTERS = (
    "TcpPassiveOpens", "TcpRetransSegs", "TcpOutRsts", "TcpAttemptFails",
    "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies",
    "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed", "TcpExtTCPTimeouts",
    "TcpExtTCPSynRetrans", "TcpExtEmbryonicRsts", "TcpExtTCPACKSkippedSynRecv", "TcpExtDelayedACKLost",
    "TcpExtTCPDeferAcceptDrop", "TcpExtDelayedACKs", "TcpExtTCPLossProbes", "TcpExtTCPAbortOnTimeout",
    *FASTOPEN_SERVER_COUNTERS,
)
CLIENT_COUNTERS = (
    "TcpActiveOpens", "TcpAttemptFails", "TcpEstabResets", "TcpRetransSegs", "TcpOutRsts", "TcpInErrs",
    "TcpExtTCPTimeouts", "TcpExtTCPSynRetrans", "TcpExtTCPSYNChallenge", "TcpExtDelayedACKLost",
    "TcpExtTCPLossProbes", "TcpExtTCPAbortOnTimeout", "TcpExtTW", "TcpExtTWRecycled",
    *FASTOPEN_CLIENT_COUNTERS,
)


def _counters(name: str, k: Kernel) -> tuple[str, ...]:
    """Where each action bumps which counter, per version (the increment sites are in the docstring
    of each branch's kernel function; see linux-handshake-facts.md 1.5)."""
    if name in FASTOPEN_TABLE:
        return fastopen_counters(name, k, _counters)
    if name in _FINAL_ACK_TWIN_OF:
        return _counters(_FINAL_ACK_TWIN_OF[name], k)
    synretrans = ("TcpExtTCPSynRetrans",) if k.synretrans_counter else ()
    listen_drop = ("TcpExtListenDrops",)
    every_rto = ("TcpExtTCPTimeouts",) if k.timeouts_every_rto else ()
    if not k.syn_path_counters and name.startswith("syn_") and name not in ("syn_rto", "syn_rto_first",
                                                                               "syn_give_up"):
        # 2.6.32: SYN drops count nothing; a cookie counts SyncookiesSent only.
        return ("TcpExtSyncookiesSent",) if name == "syn_cookie" else ()
    if not k.synack_rtx_counters and name.startswith("synack_") and name != "synack_again":
        return ()
    return {
        "connect": ("TcpActiveOpens",),  # tcp_connect
        "syn_rto_first": ("TcpExtTCPTimeouts", "TcpRetransSegs") + synretrans,  # tcp_retransmit_timer
        "syn_rto": (("TcpExtTCPTimeouts",) if k.timeouts_every_rto else ()) + ("TcpRetransSegs",) + synretrans,
        # tcp_write_err: tcp_done (SYN_SENT: AttemptFails), then TCPAbortOnTimeout (2.6.32 net/ipv4/tcp_timer.c:51,
        # 3.10 :41, 6.18 :78; the lab's syn_schedule records count one per connect() that timed out)
        "syn_give_up": (("TcpExtTCPTimeouts",) if k.timeouts_every_rto else ()) + ("TcpAttemptFails",
                                                                                   "TcpExtTCPAbortOnTimeout"),
        # tcp_validate_incoming: RFC 5961 challenge ACK since 3.6; 2.6.32 resends an ACK from
        # tcp_data_queue for the old segment.
        "synack_again": ("TcpExtTCPSYNChallenge", "TcpInErrs") if k.challenge_ack else ("TcpExtDelayedACKLost",),
        "rst_in_syn_sent": ("TcpAttemptFails",),  # tcp_done from SYN_SENT
        "rst_in_established": ("TcpEstabResets",),  # tcp_set_state(TCP_CLOSE) from ESTABLISHED
        "no_socket_rst": ("TcpOutRsts",),  # tcp_v4_send_reset
        "no_listener_rst": ("TcpOutRsts",),
        "syn_drop_syn_queue_full": ("TcpExtTCPReqQFullDrop",) + listen_drop,  # tcp_syn_flood_action; drop:
        # cookie_v4_init_sequence / cookie_init_sequence; 2.6.32/3.10 then `goto drop_and_free`,
        # which also counts ListenDrops for every cookie sent.
        "syn_cookie": ("TcpExtTCPReqQFullDoCookies", "TcpExtSyncookiesSent")
        + (listen_drop if k.cookie_listen_drop else ()),
        "syn_drop_accept_queue_full": ("TcpExtListenOverflows",) + listen_drop,
        # tcp_syn_flood_action (step 3) counted the cookie it wanted before the accept-queue check
        "syn_cookie_drop_accept_queue_full": ("TcpExtTCPReqQFullDoCookies", "TcpExtListenOverflows") + listen_drop,
        "syn_drop_last_quarter": listen_drop,
        "syn_again": ("TcpRetransSegs",) + synretrans,  # inet_rtx_syn_ack -> tcp_rtx_synack
        "syn_again_ratelimited": ("TcpExtTCPACKSkippedSynRecv",) if k.has("tcp_invalid_ratelimit") else (),
        "synack_rto": ("TcpExtTCPTimeouts", "TcpRetransSegs") + synretrans,  # tcp_syn_ack_timeout, rtx
        "synack_give_up": ("TcpExtTCPTimeouts",),  # tcp_syn_ack_timeout runs before the drop
        "ack_new_child": ("TcpPassiveOpens",),  # tcp_create_openreq_child
        "ack_accept_queue_full": ("TcpExtListenOverflows",) + listen_drop,  # tcp_v4_syn_recv_sock exit_overflow
        "ack_accept_queue_full_abort": ("TcpExtListenOverflows",) + listen_drop
        + ("TcpExtEmbryonicRsts", "TcpOutRsts"),  # tcp_check_req embryonic_reset
        "ack_cookie": ("TcpExtSyncookiesRecv", "TcpPassiveOpens"),
        "ack_cookie_accept_queue_full": ("TcpExtSyncookiesRecv", "TcpExtListenOverflows") + listen_drop,
        "ack_cookie_invalid": ("TcpExtSyncookiesFailed", "TcpOutRsts"),
        "ack_no_request": ("TcpOutRsts",),
        "ack_wrong_isn": ("TcpOutRsts",),
        "rst_for_request": ("TcpAttemptFails", "TcpExtEmbryonicRsts"),  # tcp_check_req RST branch
        # tcp_check_req, "While TCP_DEFER_ACCEPT is active, drop bare ACK" (3.x+; 2.6.32 counts nothing)
        "ack_defer_drop": ("TcpExtTCPDeferAcceptDrop",) if k.defer_accept_drop_counter else (),
        "synack_defer_wait": ("TcpExtTCPTimeouts",),  # tcp_syn_ack_timeout runs whether or not it resends
        # tcp_send_loss_probe counts TCPLossProbes; __tcp_retransmit_skb counts RetransSegs since 4.x (record)
        "data_tlp": () if k.tail_loss_probe == "off" else
        ("TcpExtTCPLossProbes",) + (("TcpRetransSegs",) if k.loss_probe_retrans_segs else ()),
        # tcp_retransmit_timer: TCPTimeouts as for a SYN (the CA state is Open: no loss probe changes it),
        # RetransSegs in tcp_retransmit_skb
        "data_rto_first": ("TcpExtTCPTimeouts", "TcpRetransSegs"),
        "data_rto": every_rto + ("TcpRetransSegs",),
        # tcp_write_err: tcp_done (ESTABLISHED -> CLOSE in tcp_set_state: EstabResets), then TCPAbortOnTimeout
        "data_give_up": every_rto + ("TcpEstabResets", "TcpExtTCPAbortOnTimeout"),
        "data_again": ("TcpExtDelayedACKLost",),  # tcp_data_queue, "a retransmit, 2nd most common case"
        # ---- the close: TcpExtTW when a timewait socket is first scheduled (6.1+) or killed by its timer
        # (2.6.32-5.15; the record's tw_counter); TWRecycled in __inet_check_established
        "fin_acked": ("TcpExtTW",) if k.tw_counter == "at_schedule" else (),
        "fin_in": ("TcpExtTW",) if k.tw_counter == "at_schedule" else (),
        "tw_expire": ("TcpExtTW",) if k.tw_counter == "at_kill" else (),
        "connect_tw_reuse": ("TcpActiveOpens", "TcpExtTWRecycled"),
        "fin_delack": ("TcpExtDelayedACKs",),  # tcp_delack_timer_handler
        "fin_again": ("TcpExtDelayedACKLost",),  # tcp_data_queue, as data_again
        "fin_tlp": () if k.tail_loss_probe == "off" else
        ("TcpExtTCPLossProbes",) + (("TcpRetransSegs",) if k.loss_probe_retrans_segs else ()),
        "passive_fin_tlp": () if k.tail_loss_probe == "off" else
        ("TcpExtTCPLossProbes",) + (("TcpRetransSegs",) if k.loss_probe_retrans_segs else ()),
        "fin_rto_first": ("TcpExtTCPTimeouts", "TcpRetransSegs"),
        "passive_fin_rto_first": ("TcpExtTCPTimeouts", "TcpRetransSegs"),
        "fin_rto": every_rto + ("TcpRetransSegs",),
        "passive_fin_rto": every_rto + ("TcpRetransSegs",),
        # tcp_write_err: tcp_done from FIN_WAIT1 or LAST_ACK counts no EstabResets; then TCPAbortOnTimeout
        "fin_give_up": every_rto + ("TcpExtTCPAbortOnTimeout",),
        "passive_fin_give_up": every_rto + ("TcpExtTCPAbortOnTimeout",),
    }.get(name, ())


def actions_for(kernel: Kernel) -> tuple[Action, ...]:
    """Every action, resolved for `kernel`, in INDEX order."""
    old = kernel.conn_request == "tcp_v4_conn_request"  # the era of the paths (the version's record)
    own = dict(_RELEASE_PATHS.get(kernel.version, {}) if old else _spelled_for(kernel.version))
    own.update(fastopen_paths(kernel, old))
    twins = {**_FINAL_ACK_TWIN_OF, **{n: w for n, (w, _, _) in FIN_TIMER_TWINS.items()}}
    for name, twin in twins.items():  # a release's own path for an ACK is its DATA's and FIN's twins' too
        if twin in own:
            own.setdefault(name, own[twin])
    return tuple(
        Action(name, host, what, _p(own.get(name, path_old if old else path_new)), _counters(name, kernel))
        for name, (host, what, path_old, path_new) in _TABLE.items()
    )


def counters_of(kernel: Kernel, host: str, data: bool = False, defer: bool = False,
                close: bool = False, fastopen: bool = False) -> tuple[str, ...]:
    """The counters `host` shows for this kernel, in nstat's order: those its actions can bump (those
    of clients' requests only with ``data``, those of TCP_DEFER_ACCEPT only with ``defer``, those of
    the close and TIME_WAIT only with ``close``, those of TCP Fast Open only with ``fastopen``)."""
    names = SERVER_COUNTERS if host == "server" else CLIENT_COUNTERS
    left_out = (frozenset() if data else DATA_ACTIONS) | (frozenset() if defer else DEFER_ACTIONS)
    left_out |= frozenset() if close else CLOSE_ACTIONS
    left_out |= frozenset() if fastopen else FASTOPEN_ACTIONS
    used = {c for a in actions_for(kernel) if a.host == host and a.name not in left_out for c in a.counters}
    return tuple(c for c in names if c in used)
