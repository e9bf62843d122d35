"""What a kernel record holds: every setting and fact of one modelled Linux version, each with the
source it comes from, so that a version is read in one file and a new one is added by one file.

A record states every setting of the registry (``profiles.SETTINGS``): its default as a ``Value``, or
``Absent`` where that version has no such sysctl (saying when it came). It states every ``FACTS``
entry too. Nothing is implied by omission: tests/test_kernel_records.py checks each record is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Value:
    """A setting's default or a fact in one version, and where in that version's source it is."""

    value: Any
    source: str


@dataclass(frozen=True)
class Absent:
    """A sysctl this version does not have: writing it on that kernel fails."""

    since: str  # the release that brought it
    source: str  # the commit that brought it, or what the tree lacks


@dataclass(frozen=True)
class KernelRecord:
    """One modelled kernel: the exact release read, and every setting and fact of it."""

    version: str  # the profile's name: "6.18"
    release: str  # the release whose source the record was read from: "6.18.24"
    summary: str  # one line: what this profile is, and who runs it
    settings: Mapping[str, Value | Absent]
    facts: Mapping[str, Value]

    def defaults(self) -> dict[str, Any]:
        """Setting -> default, for the settings this version has."""
        return {name: entry.value for name, entry in self.settings.items() if isinstance(entry, Value)}


FACTS: Mapping[str, str] = {
    "syn_path_counters": "whether SYN drops are counted (ListenDrops, TCPReqQFull*, ListenOverflows by the "
                         "young rule): 2.6.32's tcp_v4_conn_request ends in a bare `drop: return 0`",
    "synack_rtx_counters": "whether SYN-ACK retransmissions count RetransSegs and TCPTimeouts (2.6.32's prune "
                           "calls rtx_syn_ack directly)",
    "synretrans_counter": "whether TcpExtTCPSynRetrans exists (net/ipv4/proc.c)",
    "flood_log": "which form of the 'Possible SYN flooding' kernel log line this version prints",
    "backlog_bits": "width of sk_max_ack_backlog (include/net/sock.h): 16 bits wrap a large backlog",
    "challenge_ack": "whether tcp_send_challenge_ack exists (RFC 5961)",
    "cookie_listen_drop": "whether a SYN answered with a cookie also counts ListenDrops",
    "syncookies_always": "whether tcp_syncookies=2 (cookies for every SYN) exists; before 3.12 (5ad37d5deee1) "
                         "any nonzero value acts as 1",
    "syncookie_check": "how a cookie ACK is validated: 'counter_tries' - minute counter valid for COUNTER_TRIES "
                       "= 4 minutes, every overflow restamps, an ACK without a recent overflow is a failed "
                       "cookie; 'syncookie_valid' - MAX_SYNCOOKIE_AGE = 2 minutes, the overflow stamp moves "
                       "at most once a second (time_between32), such an ACK is an ACK without a request",
    "conn_request": "the function that answers a SYN on a listener, and with it the era of the trace's "
                    "function paths: 'tcp_v4_conn_request' (the whole job in tcp_ipv4.c, until 3.16) or "
                    "'tcp_conn_request' (tcp_input.c, shared by IPv4 and IPv6, 3.17+)",
    "port_range_low_min": "the lowest first port ip_local_port_range accepts (ipv4_local_port_range)",
    "handshake_options": "the TCP options of a SYN and a SYN-ACK with tcp_timestamps, tcp_sack and "
                         "tcp_window_scaling at their default 1, in the order tcp_options_write puts them on "
                         "the wire: MSS, SACK_PERM and TIMESTAMP sharing a word, NOP and WSCALE",
    "rcv_wscale": "the window scale a SYN and a SYN-ACK offer: tcp_select_initial_window sizes it for "
                  "tcp_rmem[2], which tcp_init sets to its cap on a machine with memory to spare (4 MB or "
                  "6 MB: 7; 32 MB: 10)",
    "ts_clock": "what a TCP timestamp counts: 'jiffies' (tcp_time_stamp, the tick counter, the same on every "
                "connection) or 'ms' (a 1 ms clock plus a keyed per-peer offset, secure_tcp_ts_off)",
    "cookie_mss_table": "the MSS values a syncookie can encode (syncookies.c msstab): the cookie carries the "
                        "index of the largest one not above the SYN's MSS",
    "loss_probe_retrans_segs": "whether a tail loss probe counts TcpRetransSegs: since 4.x the counter is bumped in "
                               "__tcp_retransmit_skb, which the probe calls; 3.10 bumps it only in tcp_retransmit_skb "
                               "(RTO and fast retransmit), so its probes count TCPLossProbes alone",
    "cookie_ts_layout": "how cookie_init_timestamp hides the SYN's options in the low bits of a cookie "
                        "SYN-ACK's timestamp: 'tsbits9' - snd_wscale | rcv_wscale << 4 | sack << 8 (0 "
                        "without window scaling); 'tsbits6' - snd_wscale (0xf without) | sack << 4 | ecn << 5",
    "reuseport": "how a SYN picks one of the SO_REUSEPORT listeners of a port: 'none' - no SO_REUSEPORT (it "
                 "came in 3.9); 'score' - __inet_lookup_listener scores the listeners of the port's bucket, "
                 "newest listen() first, and picks among equal scores with the 4-tuple hash stepped by "
                 "next_pseudo_random32 (3.9-4.5); 'group' - the sock_reuseport group in listen() order, "
                 "reuseport_select_sock -> socks[reciprocal_scale(hash, num_socks)] (4.6+)",
    "ehashfn": "the 4-tuple hash inet_ehashfn hands to SO_REUSEPORT: jhash_3words(laddr, faddr, lport << 16 | "
               "fport, secret) with 'jhash_golden' (lookup2, before 2.6.36), 'jhash_initval' (lookup3, a and b "
               "+= JHASH_INITVAL) or 'jhash_nwords' (3.17+: each += initval + JHASH_INITVAL + 12); "
               "'lport_outside': lport + the jhash of (laddr, faddr, fport)",
    "synq_overflow_stamp": "where tcp_synq_overflow stamps a cookie SYN for a SO_REUSEPORT listener, which "
                           "tcp_synq_no_recent_overflow checks cookie ACKs against: 'listener' - each socket's "
                           "own (rx_opt.ts_recent_stamp); 'group' - the group's one synq_overflow_ts",
    "defer_accept_drop_counter": "whether tcp_check_req counts TcpExtTCPDeferAcceptDrop when TCP_DEFER_ACCEPT "
                                 "drops a bare final ACK (the drop, secs_to_retrans and syn_ack_recalc are "
                                 "the same in every modelled version; their lines are cited with it)",
    "tw_timer": "what ends a timewait socket (TIME_WAIT, or FIN_WAIT2 after close()): 'death_row' - the host's "
                "one hangman timer (inet_twdr_hangman) fires every TCP_TIMEWAIT_LEN / 8 = 7.5 s and kills the "
                "sockets of one of 8 cells, and a socket scheduled for 60 s goes in the cell 7 ahead of the "
                "hangman's, so it lives 52.5 to 60 s (2.6.32, 3.10); 'per_socket' - each has its own tw_timer "
                "(4.8+: armed by mod_timer, on the timer wheel as every timer); 'per_socket_no_slack' - each its own, "
                "armed by mod_timer_pinned / mod_timer_pending, which skip the slack wheel's apply_slack (4.1-4.7)",
    "tw_counter": "when TcpExtTW (LINUX_MIB_TIMEWAITED) counts a timewait socket: 'at_kill' - when its timer kills "
                  "it (2.6.32-5.15: not when connect() reuses it); 'at_schedule' - when it is first scheduled "
                  "(6.1+ __inet_twsk_schedule), reused or not",
    "tw_reuse_check": "when tcp_twsk_unique lets connect() take a TIME_WAIT socket's port under tcp_tw_reuse: "
                      "'seconds>1' - get_seconds() - tw_ts_recent_stamp > 1 (1 to 2 s after the last timestamp "
                      "came); 'seconds>0' - time_after32(ktime_get_seconds(), tw_ts_recent_stamp) (the next "
                      "second, 0 to 1 s after it); 'delay_ms' - time_after32(tcp_clock_ms(), tw_entry_stamp + "
                      "tcp_tw_reuse_delay) (6.14+)",
    "tw_reuse_loopback": "whether tcp_tw_reuse=2 means loopback only (79e9fed46055, 4.18); before, any nonzero "
                         "value enables reuse",
    "tw_reuse_fin_wait2": "whether tcp_twsk_unique may hand over a timewait socket still in substate FIN_WAIT2 "
                          "(the peer has not closed yet); where False, tcp_tw_reuse applies to TIME_WAIT only",
    "fastopen_server": "how a listener takes a TCP Fast Open SYN: 'none' - no TFO (before 3.6/3.7); "
                       "'tcp_fastopen_check' - 3.10's tcp_v4_conn_request: TCPFastOpenPassive for every SYN "
                       "with a cookie option before any check, a SYN with data and no option looked at only with "
                       "0x200; 'tcp_try_fastopen' - 4.4+ tcp_conn_request: TCPFastOpenCookieReqd first, then "
                       "the server bit, the TFO queue (tcp_fastopen_queue_check), the cookie; Passive for a child",
    "fastopen_cookie_waiver": "which SYNs tcp_fastopen's 0x200 (TFO_SERVER_COOKIE_NOT_REQD) lets make a child "
                              "without a cookie: 'none', 'data_without_option' (3.10: skip_cookie), 'data' (4.4, 4.14: "
                              "syn_data), 'any' (tcp_fastopen_no_cookie, 4.19+ here: any SYN with data or a cookie "
                              "option, a bare cookie request too)",
    "fastopen_active_counter": "when the client counts TCPFastOpenActive: 'none', 'at_send' (3.10 tcp_send_syn_data, "
                               "whatever comes back; no TCPFastOpenActiveFail yet), 'at_synack' (4.4+ "
                               "tcp_rcv_fastopen_synack, when the SYN-ACK acks the data; else TCPFastOpenActiveFail)",
    "fastopen_fail_retransmit": "how tcp_rcv_fastopen_synack sends the SYN's data again when the SYN-ACK did not "
                                "ack it: 'none', '__tcp_retransmit_skb' (TcpRetransSegs where that function counts "
                                "it: loss_probe_retrans_segs), 'tcp_xmit_retransmit_queue' (tcp_retransmit_skb; "
                                "TCPFastRetrans), 'tcp_non_congestion_loss_retransmit' (CA_Loss first: "
                                "TCPSlowStartRetrans)",
    "fastopen_queue_cap": "whether the listener's TFO queue length is capped at somaxconn (fastopen_queue_tune, "
                          "4.4+: min(backlog, somaxconn)); 3.10's fastopen_init_queue takes the value as it is",
    "fastopen_wo_sockopt2": "whether tcp_fastopen's 0x800 (TFO_SERVER_WO_SOCKOPT2) gives a listener without "
                            "TCP_FASTOPEN a TFO queue of tcp_fastopen >> 16 at listen() (3.10, 4.4; gone by 4.14)",
    "fastopen_option": "how tcp_options_write writes the TCP Fast Open cookie option (model.wire): 'none', "
                       "'experimental' (3.10: kind 254 with magic 0xF989, TCPOPT_FASTOPEN_MAGIC), 'rfc7413' (4.4+ "
                       "here: kind 34; the experimental form only for a cookie that came in one, foc->exp; 3.10.108 "
                       "lacks it, 4.4.302 has it)",
}
"""What each fact of a record means (facts are not tunable; settings are)."""
