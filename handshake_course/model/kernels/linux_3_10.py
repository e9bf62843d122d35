"""Linux 3.10: vanilla 3.10.108, the base of RHEL/CentOS 7 (which backports tcp_syncookies=2 and more)."""

from .record import Absent, KernelRecord, Value

RECORD = KernelRecord(
    version="3.10",
    release="3.10.108",
    summary="vanilla 3.10.108, the base of RHEL/CentOS 7 (which backports tcp_syncookies=2 and more)",
    settings={
        "somaxconn": Value(128, "include/linux/socket.h:229 SOMAXCONN"),
        "tcp_max_syn_backlog": Value(1024, "net/ipv4/tcp.c:3458 tcp_init: max(128, ehash entries / 256); 1024 on a 24 GiB machine ([derived])"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_minisocks.c:30"),
        "tcp_syn_retries": Value(6, "include/net/tcp.h:101 TCP_SYN_RETRIES (6 since 3.7)"),
        "tcp_synack_retries": Value(5, "include/net/tcp.h:110 TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "net/ipv4/tcp_minisocks.c:33 (zero-initialised)"),
        "tcp_syn_linear_timeouts": Absent("6.5", "ccce324dabfe brought it in 6.5"),
        "ip_local_port_range": Value((32768, 61000), "net/ipv4/inet_connection_sock.c:37 sysctl_local_ports"),
        "tcp_invalid_ratelimit": Absent("4.0", "032ee4236954 brought it in 4.0"),
        "tcp_timeout_init": Value(1.0, "include/net/tcp.h:136 TCP_TIMEOUT_INIT 1*HZ (9ad7c049f0f7, 3.1)"),
        "syn_queue_limit": Value('table', "include/net/request_sock.h:257 reqsk_queue_is_full"),
        "young_rule": Value(True, "net/ipv4/tcp_ipv4.c:1511 tcp_v4_conn_request: inet_csk_reqsk_queue_young(sk) > 1"),
        "synack_timer": Value('listener_scan', "net/ipv4/inet_connection_sock.c:570 inet_csk_reqsk_queue_prune"),
        "syn_expiry": Value('time', "net/ipv4/tcp_timer.c:127 retransmits_timed_out"),
        "port_selection": Value('hint', "net/ipv4/inet_hashtables.c:477 __inet_hash_connect: offset + global hint"),
        "cookie_window": Value(3.0, "include/net/tcp.h:343 tcp_synq_no_recent_overflow: TCP_TIMEOUT_FALLBACK"),
        "timer_wheel": Value('slack', "kernel/timer.c:804 apply_slack"),
        "hz": Value(1000, "CONFIG_HZ=1000 of the RHEL/CentOS builds"),
        "timeouts_every_rto": Value(False, "net/ipv4/tcp_timer.c:398 tcp_retransmit_timer: only when icsk_retransmits == 0"),
    },
    facts={
        "syn_path_counters": Value(True, "net/ipv4/proc.c:262 TCPReqQFullDrop"),
        "synack_rtx_counters": Value(True, "net/ipv4/inet_connection_sock.c:560 inet_rtx_syn_ack counts RetransSegs; net/ipv4/tcp_timer.c:542 tcp_syn_ack_timeout TCPTimeouts"),
        "flood_log": Value('3.x', "net/ipv4/tcp_ipv4.c:920 tcp_syn_flood_action"),
        "backlog_bits": Value(16, "include/net/sock.h:374 unsigned short sk_max_ack_backlog"),
        "challenge_ack": Value(True, "net/ipv4/tcp_input.c:3291 tcp_send_challenge_ack"),
        "cookie_listen_drop": Value(True, "net/ipv4/tcp_ipv4.c:1475 tcp_v4_conn_request: the want_cookie path counts ListenDrops"),
        "synretrans_counter": Value(False, "net/ipv4/proc.c: no TCPSynRetrans"),
        "syncookies_always": Value(False, "only `if (sysctl_tcp_syncookies)` tests (5ad37d5deee1 came in 3.12)"),
        "syncookie_check": Value('counter_tries', "net/ipv4/syncookies.c:190 COUNTER_TRIES 4; include/net/tcp.h:337 tcp_synq_overflow"),
        "conn_request": Value('tcp_v4_conn_request', "net/ipv4/tcp_ipv4.c:1475 tcp_v4_conn_request"),
        "port_range_low_min": Value(1, "net/ipv4/sysctl_net_ipv4.c:34 ip_local_port_range_min"),
    },
)
