"""Linux 2.6.32: the oldest series still met in the field (RHEL/CentOS 6); vanilla 2.6.32.2, the seed article's era."""

from .record import Absent, KernelRecord, Value

RECORD = KernelRecord(
    version="2.6.32",
    release="2.6.32.2",
    summary="the oldest series still met in the field (RHEL/CentOS 6); vanilla 2.6.32.2, the seed article's era",
    settings={
        "somaxconn": Value(128, "include/linux/socket.h:226 SOMAXCONN"),
        "tcp_max_syn_backlog": Value(1024, "net/ipv4/tcp.c:2942 tcp_init: 1024 on a machine with more than 256 MiB ([derived])"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_minisocks.c:32 SYNC_INIT 1 (CONFIG_SYN_COOKIES)"),
        "tcp_syn_retries": Value(5, "include/net/tcp.h:99 TCP_SYN_RETRIES"),
        "tcp_synack_retries": Value(5, "include/net/tcp.h:102 TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "net/ipv4/tcp_minisocks.c:38 (zero-initialised)"),
        "tcp_syn_linear_timeouts": Absent("6.5", "ccce324dabfe brought it in 6.5"),
        "ip_local_port_range": Value((32768, 61000), "net/ipv4/inet_connection_sock.c:37 sysctl_local_ports"),
        "tcp_invalid_ratelimit": Absent("4.0", "032ee4236954 brought it in 4.0"),
        "tcp_timeout_init": Value(3.0, "include/net/tcp.h:130 TCP_TIMEOUT_INIT 3*HZ"),
        "syn_queue_limit": Value('table', "include/net/request_sock.h:228 reqsk_queue_is_full: qlen >> max_qlen_log"),
        "young_rule": Value(True, "net/ipv4/tcp_ipv4.c:1248 tcp_v4_conn_request: inet_csk_reqsk_queue_young(sk) > 1"),
        "synack_timer": Value('listener_scan', "net/ipv4/inet_connection_sock.c:471 inet_csk_reqsk_queue_prune"),
        "syn_expiry": Value('time_rto_min', "include/net/tcp.h:1266 retransmits_timed_out, from TCP_RTO_MIN"),
        "port_selection": Value('hint', "net/ipv4/inet_hashtables.c:420 __inet_hash_connect: offset + global hint"),
        "cookie_window": Value(3.0, "include/net/tcp.h:276 tcp_synq_no_recent_overflow: TCP_TIMEOUT_INIT (3 s)"),
        "timer_wheel": Value('jiffies', "kernel/timer.c: no slack yet (apply_slack came in 2.6.34)"),
        "hz": Value(1000, "CONFIG_HZ=1000 of the RHEL/CentOS builds"),
        "timeouts_every_rto": Value(False, "net/ipv4/tcp_timer.c:331 tcp_retransmit_timer: only when icsk_retransmits == 0"),
    },
    facts={
        "syn_path_counters": Value(False, "net/ipv4/tcp_ipv4.c:1211 tcp_v4_conn_request ends in `drop: return 0`"),
        "synack_rtx_counters": Value(False, "net/ipv4/inet_connection_sock.c:471 inet_csk_reqsk_queue_prune calls rtx_syn_ack directly"),
        "flood_log": Value('2.6.32', "net/ipv4/tcp_ipv4.c:790 syn_flood_warning"),
        "backlog_bits": Value(16, "include/net/sock.h:277 unsigned short sk_max_ack_backlog"),
        "challenge_ack": Value(False, "net/ipv4/tcp_input.c: no tcp_send_challenge_ack (3.6)"),
        "cookie_listen_drop": Value(True, "net/ipv4/tcp_ipv4.c:1211 tcp_v4_conn_request: a cookie SYN reaches the drop label's counters"),
        "synretrans_counter": Value(False, "net/ipv4/proc.c: no TCPSynRetrans"),
        "syncookies_always": Value(False, "only `if (sysctl_tcp_syncookies)` tests (5ad37d5deee1 came in 3.12)"),
        "syncookie_check": Value('counter_tries', "net/ipv4/syncookies.c:190 COUNTER_TRIES 4; include/net/tcp.h:270 tcp_synq_overflow"),
        "conn_request": Value('tcp_v4_conn_request', "net/ipv4/tcp_ipv4.c:1211 tcp_v4_conn_request"),
        "port_range_low_min": Value(1, "net/ipv4/sysctl_net_ipv4.c:26 ip_local_port_range_min"),
    },
)
