"""TCP Fast Open's kernel actions (``hosts.fastopen``): what each does, its function path and the nstat
counters it bumps, per version. ``actions`` adds them to its table; only a scenario whose clients send with
sendto(MSG_FASTOPEN) runs them (``rules.fastopen_used``), so its counters are shown only then.

Counters, from the records' fastopen_* facts (file:line there):

* the listener, 3.10 (tcp_fastopen_check, net/ipv4/tcp_ipv4.c:1297): TCPFastOpenPassive for every SYN
  with a cookie option (or data it takes without one, 0x200) before any check, TCPFastOpenCookieReqd
  when it sends a cookie, TCPFastOpenListenOverflow when the TFO queue is full; tcp_v4_conn_request
  (:1631) counts TCPFastOpenPassiveFail for a SYN with a cookie it did not take for another reason;
* the listener, 4.4+ (tcp_try_fastopen): TCPFastOpenCookieReqd for every cookie request, first,
  TCPFastOpenListenOverflow in tcp_fastopen_queue_check, TCPFastOpenPassive for a child;
* a child counts TcpPassiveOpens (tcp_create_openreq_child), its SYN-ACK timer what a request's does
  (tcp_syn_ack_timeout, tcp_rtx_synack); giving up, tcp_write_err: TCPTimeouts, TcpAttemptFails
  (tcp_done from SYN_RECV), TCPAbortOnTimeout;
* the client: TCPFastOpenActive when the SYN with data is sent (3.10 tcp_send_syn_data) or when its
  SYN-ACK acks the data (4.4+ tcp_rcv_fastopen_synack), which otherwise counts TCPFastOpenActiveFail and
  sends the data again: __tcp_retransmit_skb (TcpRetransSegs where it counts it, 4.x+), then
  tcp_xmit_retransmit_queue (5.15, 6.8: TCPFastRetrans too) and tcp_non_congestion_loss_retransmit
  (6.1, 6.6, 6.12, 6.18: in CA_Loss, TCPSlowStartRetrans).

TCPOrigDataSent (the SYN's data, like every request's) is not among the model's counters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import kernel_index

if TYPE_CHECKING:
    from .profiles import Kernel

_SEND_OLD = "tcp_sendmsg tcp_sendmsg_fastopen __inet_stream_connect tcp_v4_connect tcp_connect tcp_send_syn_data"
_SEND_NEW = ("tcp_sendmsg tcp_sendmsg_locked tcp_sendmsg_fastopen __inet_stream_connect tcp_v4_connect tcp_connect "
             "tcp_send_syn_data")
_SYNSENT = ("tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_rcv_synsent_state_process tcp_finish_connect "
            "tcp_rcv_fastopen_synack tcp_fastopen_cache_set")
_LISTEN_OLD = "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_v4_conn_request tcp_fastopen_check"
_LISTEN_NEW = "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_v4_conn_request tcp_conn_request tcp_try_fastopen"
_CHILD = "tcp_v4_rcv tcp_v4_do_rcv tcp_rcv_state_process tcp_check_req"  # a segment for a TFO child in SYN_RECV
_TIMER_OLD = "tcp_write_timer tcp_write_timer_handler tcp_retransmit_timer tcp_fastopen_synack_timer tcp_syn_ack_timeout"
_TIMER_NEW = "tcp_write_timer_handler tcp_retransmit_timer tcp_fastopen_synack_timer tcp_syn_ack_timeout"
_RTX_OLD, _RTX_NEW = "inet_rtx_syn_ack tcp_v4_rtx_synack", "inet_rtx_syn_ack tcp_rtx_synack"
_REGULAR_OLD, _REGULAR_NEW = "inet_csk_reqsk_queue_hash_add", "inet_csk_reqsk_queue_hash_add tcp_v4_send_synack"
_CHILD_OLD = "tcp_v4_conn_req_fastopen tcp_v4_syn_recv_sock tcp_create_openreq_child inet_csk_reqsk_queue_add"
_CHILD_NEW = ("tcp_fastopen_create_child tcp_v4_syn_recv_sock tcp_create_openreq_child tcp_v4_send_synack "
              "inet_csk_reqsk_queue_add")
_KINDS = {"request": "with a cookie request (an empty cookie option, no data)",
          "cookie": "with the request and a cookie",
          "data": "with the request and no cookie option (a client with tcp_fastopen 0x4)"}
_OUTCOMES = {
    "child": ("a child socket at once (tcp_fastopen_create_child), holding the SYN's data, straight into the accept "
              "queue; the SYN-ACK acks the data; the request sock waits in the TFO queue for the final ACK",
              _CHILD_OLD, _CHILD_NEW),
    "cookie": ("a regular request sock in the SYN queue; its SYN-ACK carries a new cookie (tcp_fastopen_cookie_gen)",
               f"tcp_fastopen_cookie_gen {_REGULAR_OLD}", f"tcp_fastopen_cookie_gen {_REGULAR_NEW}"),
    "overflow": ("the TFO queue is full (tcp_fastopen_queue_check: qlen >= max_qlen): a regular request sock, no "
                 "cookie; data in the SYN is dropped and sent again after the handshake", _REGULAR_OLD,
                 f"tcp_fastopen_queue_check {_REGULAR_NEW}"),
    "full": ("a child would be made, but the accept queue is full (tcp_v4_syn_recv_sock: sk_acceptq_is_full, "
             "ListenOverflows; tcp_conn_request let the SYN through by the young rule): TCPFastOpenPassiveFail; 3.10 "
             "drops the SYN, 4.4+ fall back to a regular request sock", "tcp_v4_conn_req_fastopen tcp_v4_syn_recv_sock",
             f"tcp_fastopen_create_child tcp_v4_syn_recv_sock {_REGULAR_NEW}"),
    "ignored": ("not taken (the listener's tcp_fastopen lacks 0x2, it has no TFO queue, or the SYN has data but no "
                "cookie and cookies are required): a regular request sock; data in the SYN is dropped and sent "
                "again after the handshake", _REGULAR_OLD, _REGULAR_NEW),
}
_SYN_OUTCOMES = {"request": ("child", "full", "cookie", "overflow", "ignored"),
                 "cookie": ("child", "full", "overflow", "ignored"), "data": ("child", "full", "overflow", "ignored")}

# name: (host, what, path on 3.10, path on 4.4+)
FASTOPEN_TABLE: dict[str, tuple[str, str, str, str]] = {
    # ---- the client host ----
    "fastopen_syn_request": ("client", "sendto(MSG_FASTOPEN) with no cookie cached for the server: tcp_send_syn_data "
                                       "sends the SYN with an empty cookie option (a cookie request); the request "
                                       "waits in sendmsg for the handshake", _SEND_OLD, _SEND_NEW),
    "fastopen_syn_data": ("client", "sendto(MSG_FASTOPEN): tcp_send_syn_data sends the request in the SYN, with the "
                                    "cookie cached for the server (or none: tcp_fastopen 0x4)", _SEND_OLD, _SEND_NEW),
    "synack_in_cookie": ("client", "SYN-ACK with a cookie in SYN_SENT: ESTABLISHED, the cookie cached for the server "
                                   "(tcp_metrics); the ACK is held back for the request, which goes now and carries it",
                         _SYNSENT, _SYNSENT),
    "synack_in_no_cookie": ("client", "SYN-ACK without a cookie for a cookie request: ESTABLISHED, nothing cached; "
                                      "the ACK is held back for the request, which goes now and carries it",
                            _SYNSENT, _SYNSENT),
    "synack_in_fastopen_acked": ("client", "SYN-ACK that acks the data of the SYN: ESTABLISHED, the request done, "
                                           "ACK sent", f"{_SYNSENT} tcp_send_ack", f"{_SYNSENT} tcp_send_ack"),
    "synack_in_fastopen_fail": ("client", "SYN-ACK that acks the SYN but not its data: ESTABLISHED, the request sent "
                                          "again at once (it carries the ACK), its RTO armed",
                                f"{_SYNSENT} __tcp_retransmit_skb",
                                f"{_SYNSENT} tcp_non_congestion_loss_retransmit tcp_xmit_retransmit_queue "
                                "tcp_retransmit_skb"),
    # ---- the listener and its TFO children ----
    **{f"syn_fastopen_{kind}_{outcome}": ("server", f"TFO SYN {_KINDS[kind]}: {_OUTCOMES[outcome][0]}",
                                          f"{_LISTEN_OLD} {_OUTCOMES[outcome][1]}",
                                          f"{_LISTEN_NEW} {_OUTCOMES[outcome][2]}")
       for kind, outcomes in _SYN_OUTCOMES.items() for outcome in outcomes},
    "ack_fastopen_child": ("server", "the client's ACK reaches its TFO child in SYN_RECV: ESTABLISHED, the request "
                                     "sock leaves the TFO queue", f"{_CHILD} reqsk_fastopen_remove",
                           f"{_CHILD} tcp_rcv_synrecv_state_fastopen reqsk_fastopen_remove"),
    "syn_again_fastopen": ("server", "retransmitted SYN for a TFO child in SYN_RECV: its SYN-ACK resent at once",
                           f"{_CHILD} {_RTX_OLD}", f"{_CHILD} {_RTX_NEW}"),
    "syn_again_fastopen_ratelimited": ("server", "retransmitted SYN for a TFO child within tcp_invalid_ratelimit of "
                                                 "the last answer: ignored", "", f"{_CHILD} tcp_oow_rate_limited"),
    "fastopen_synack_rto": ("server", "the TFO child's retransmission timer: SYN-ACK resent, timer doubled",
                            f"{_TIMER_OLD} {_RTX_OLD}", f"{_TIMER_NEW} {_RTX_NEW}"),
    "fastopen_synack_give_up": ("server", "the TFO child's retransmission timer after tcp_synack_retries + 1 "
                                          "resends: tcp_write_err, the child is closed",
                                f"{_TIMER_OLD} tcp_write_err tcp_done", f"{_TIMER_NEW} tcp_write_err tcp_done"),
    "rst_for_fastopen_child": ("server", "RST for a TFO child in SYN_RECV: it leaves the TFO queue and is closed",
                               f"{_CHILD} reqsk_fastopen_remove tcp_reset tcp_done",
                               f"{_CHILD} reqsk_fastopen_remove tcp_reset tcp_done"),
}
FASTOPEN_SERVER_COUNTERS = ("TcpExtTCPFastOpenPassive", "TcpExtTCPFastOpenPassiveFail",
                            "TcpExtTCPFastOpenListenOverflow", "TcpExtTCPFastOpenCookieReqd")
FASTOPEN_CLIENT_COUNTERS = ("TcpExtTCPFastOpenActive", "TcpExtTCPFastOpenActiveFail", "TcpExtTCPFastRetrans",
                            "TcpExtTCPSlowStartRetrans")
_FAIL_RETRANSMIT = {  # the record's fastopen_fail_retransmit: how the data of the SYN is sent again
    "__tcp_retransmit_skb": "__tcp_retransmit_skb",
    "tcp_xmit_retransmit_queue": "tcp_xmit_retransmit_queue tcp_retransmit_skb",
    "tcp_non_congestion_loss_retransmit": "tcp_non_congestion_loss_retransmit tcp_xmit_retransmit_queue "
                                          "tcp_retransmit_skb",
}


def fastopen_paths(kernel: Kernel, old: bool) -> dict[str, str]:
    """Each TFO action's path on ``kernel`` where it differs from the table's for its era (``old``: the
    tcp_v4_conn_request era): none at all where the version has no TFO, the data's resend as the record
    says, and the functions a 4.x-6.x release lacks (its kernel_index.json)."""
    if kernel.fastopen_server == "none":
        return dict.fromkeys(FASTOPEN_TABLE, "")
    own = {"synack_in_fastopen_fail": f"{_SYNSENT} {_FAIL_RETRANSMIT[kernel.fastopen_fail_retransmit]}"}
    if old or kernel.version not in kernel_index.index():
        return own

    def has(function: str) -> bool:
        return kernel_index.definition(kernel.version, function) is not None

    if not has("tcp_sendmsg_locked"):  # 4.14 split tcp_sendmsg
        own["fastopen_syn_request"] = own["fastopen_syn_data"] = _SEND_OLD
    if not has("tcp_rcv_synrecv_state_fastopen"):  # 5.x
        own["ack_fastopen_child"] = f"{_CHILD} reqsk_fastopen_remove"
    if not has("inet_rtx_syn_ack"):  # gone in 6.18: the callers call tcp_rtx_synack
        own["syn_again_fastopen"] = f"{_CHILD} tcp_rtx_synack"
        own["fastopen_synack_rto"] = f"{_TIMER_NEW} tcp_rtx_synack"
    return own


def fastopen_counters(name: str, k: Kernel, counters: Callable[[str, Kernel], tuple[str, ...]]) -> tuple[str, ...]:
    """The counters TFO action ``name`` bumps on ``k`` (``counters``: actions' own, for the actions that
    do what a request's do)."""
    if k.fastopen_server == "none":
        return ()
    if name.startswith("syn_fastopen_"):
        kind, outcome = name.removeprefix("syn_fastopen_").split("_")
        return _syn_counters(k, kind, outcome)
    at_send, at_synack = k.fastopen_active_counter == "at_send", k.fastopen_active_counter == "at_synack"
    if name == "synack_in_fastopen_fail":
        resend = k.fastopen_fail_retransmit
        retrans = ((("TcpRetransSegs",) if k.loss_probe_retrans_segs else ()) if resend == "__tcp_retransmit_skb"
                   else ("TcpRetransSegs", "TcpExtTCPFastRetrans") if resend == "tcp_xmit_retransmit_queue"
                   else ("TcpRetransSegs", "TcpExtTCPSlowStartRetrans"))
        return (("TcpExtTCPFastOpenActiveFail",) if at_synack else ()) + retrans
    return {
        "fastopen_syn_data": ("TcpExtTCPFastOpenActive",) if at_send else (),
        "synack_in_fastopen_acked": ("TcpExtTCPFastOpenActive",) if at_synack else (),
        "syn_again_fastopen": counters("syn_again", k),
        "syn_again_fastopen_ratelimited": counters("syn_again_ratelimited", k),
        "fastopen_synack_rto": counters("synack_rto", k),
        "fastopen_synack_give_up": ("TcpExtTCPTimeouts", "TcpAttemptFails", "TcpExtTCPAbortOnTimeout"),
        # tcp_check_req counts AttemptFails for the RST, then tcp_reset -> tcp_done in SYN_RECV again
        "rst_for_fastopen_child": ("TcpAttemptFails", "TcpAttemptFails"),
    }.get(name, ())


def _syn_counters(k: Kernel, kind: str, outcome: str) -> tuple[str, ...]:
    """A TFO SYN's counters on the listener (see the module's docstring)."""
    found = ["TcpPassiveOpens"] if outcome == "child" else []
    if k.fastopen_server == "tcp_fastopen_check":  # 3.10: Passive first, for any SYN it looks at
        if kind != "data" or k.tcp_fastopen & 0x200:
            found.append("TcpExtTCPFastOpenPassive")
        if outcome == "cookie":
            found.append("TcpExtTCPFastOpenCookieReqd")
        if kind == "cookie" and outcome == "ignored":
            found.append("TcpExtTCPFastOpenPassiveFail")  # the cookie is still "present" in tcp_v4_conn_request
    else:
        if kind == "request":
            found.append("TcpExtTCPFastOpenCookieReqd")
        if outcome == "child":
            found.append("TcpExtTCPFastOpenPassive")
    if outcome == "overflow":
        found.append("TcpExtTCPFastOpenListenOverflow")
    if outcome == "full":  # tcp_v4_syn_recv_sock's exit_overflow, then no child: PassiveFail; 3.10 drops the SYN
        found += ["TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPFastOpenPassiveFail"]
        found += ["TcpExtListenDrops"] if k.fastopen_server == "tcp_fastopen_check" else []
    return tuple(found)
