"""Linux 4.19: the LTS series of Debian 10 and of many embedded fleets; 4.19.255, with the 2022 port hardening."""

from .record import Absent, KernelRecord, Value

RECORD = KernelRecord(
    version="4.19",
    release="4.19.255",
    summary="the LTS series of Debian 10 and of many embedded fleets; 4.19.255, with the 2022 port hardening",
    settings={
        "somaxconn": Value(128, "include/linux/socket.h:265 SOMAXCONN"),
        "tcp_max_syn_backlog": Value(1024, "net/ipv4/tcp_ipv4.c:2579 tcp_sk_init: max(128, ehash/256); 1024 on a 24 GiB machine ([derived])"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_ipv4.c:2564 tcp_sk_init"),
        "tcp_syn_retries": Value(6, "net/ipv4/tcp_ipv4.c:2564 tcp_sk_init: TCP_SYN_RETRIES"),
        "tcp_synack_retries": Value(5, "net/ipv4/tcp_ipv4.c:2564 tcp_sk_init: TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "net/ipv4/tcp_minisocks.c tcp_check_req reads it; tcp_sk_init leaves it 0"),
        "tcp_syn_linear_timeouts": Absent("6.5", "ccce324dabfe brought it in 6.5"),
        "ip_local_port_range": Value((32768, 60999), "net/ipv4/af_inet.c:1793 inet_init_net"),
        "tcp_invalid_ratelimit": Value(0.5, "net/ipv4/tcp_ipv4.c:2564 tcp_sk_init: HZ/2"),
        "tcp_timeout_init": Value(1.0, "include/net/tcp.h TCP_TIMEOUT_INIT 1*HZ (9ad7c049f0f7, 3.1)"),
        "syn_queue_limit": Value('qlen>=backlog', "include/net/inet_connection_sock.h:286 inet_csk_reqsk_queue_is_full: >= (EOL before 3479c7549fb1)"),
        "young_rule": Value(False, "net/ipv4/tcp_input.c:6480 tcp_conn_request: sk_acceptq_is_full alone (5ea8ea2cb7f1)"),
        "synack_timer": Value('per_request', "net/ipv4/inet_connection_sock.c:720 reqsk_timer_handler"),
        "syn_expiry": Value('count_or_time', "net/ipv4/tcp_timer.c:190-209 tcp_write_timeout: count, then retransmits_timed_out from tcp_timeout_init"),
        "port_selection": Value('even_first_random', "net/ipv4/inet_hashtables.c:726-833 INET_TABLE_PERTURB_SHIFT 16 (4c2c8f03a5ab backport)"),
        "cookie_window": Value(120.0, "include/net/tcp.h:469-529 TCP_SYNCOOKIE_VALID; net/ipv4/syncookies.c:134 MAX_SYNCOOKIE_AGE"),
        "timer_wheel": Value('wheel', "kernel/time/timer.c:495 calc_wheel_index"),
        "hz": Value(250, "CONFIG_HZ=250 of the Debian and Ubuntu builds"),
        "timeouts_every_rto": Value(True, "net/ipv4/tcp_timer.c:480 tcp_retransmit_timer: every RTO"),
    },
    facts={
        "syn_path_counters": Value(True, "net/ipv4/proc.c:250,251,257,258,272 TCPReqQFullDrop, TCPReqQFullDoCookies"),
        "synack_rtx_counters": Value(True, "net/ipv4/inet_connection_sock.c:720 reqsk_timer_handler; net/ipv4/tcp_timer.c tcp_syn_ack_timeout"),
        "flood_log": Value('5.15', "net/ipv4/tcp_input.c:6428 tcp_syn_flood_action: port only, 'Check SNMP counters.'"),
        "backlog_bits": Value(32, "include/net/sock.h:471 u32 sk_max_ack_backlog"),
        "challenge_ack": Value(True, "net/ipv4/tcp_input.c:3454 tcp_send_challenge_ack"),
        "cookie_listen_drop": Value(False, "net/ipv4/tcp_input.c:6583 tcp_conn_request: a cookie SYN is not a drop"),
        "synretrans_counter": Value(True, "net/ipv4/proc.c:250,251,257,258,272 TCPSynRetrans"),
        "syncookies_always": Value(True, "net/ipv4/tcp_input.c:6428 tcp_conn_request: syncookies == 2 (5ad37d5deee1, 3.12)"),
        "syncookie_check": Value('syncookie_valid', "include/net/tcp.h:469-529 TCP_SYNCOOKIE_VALID; net/ipv4/syncookies.c:134 MAX_SYNCOOKIE_AGE"),
        "conn_request": Value('tcp_conn_request', "net/ipv4/tcp_input.c:6480 tcp_conn_request"),
        "port_range_low_min": Value(1024, "net/ipv4/sysctl_net_ipv4.c ipv4_local_port_range: range[0] >= ip_unprivileged_port_start"),
    },
)
