"""Linux 6.18: the kernel this project's machines run; read in 6.18.24, measured on 6.18.44."""

from .record import KernelRecord, Value

RECORD = KernelRecord(
    version="6.18",
    release="6.18.24",
    summary="the kernel this project's machines run; read in 6.18.24, measured on 6.18.44",
    settings={
        "somaxconn": Value(4096, "include/linux/socket.h:313 SOMAXCONN (19f92a030ca6, 5.4)"),
        "tcp_max_syn_backlog": Value(2048, "net/ipv4/tcp_ipv4.c:3573 tcp_sk_init: max(128, ehash entries / 128); 2048 measured on our machine"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_ipv4.c:3595 tcp_sk_init"),
        "tcp_syn_retries": Value(6, "include/net/tcp.h:126 TCP_SYN_RETRIES"),
        "tcp_synack_retries": Value(5, "include/net/tcp.h:135 TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "tcp_sk_init leaves it 0 (net/ipv4/tcp_ipv4.c)"),
        "tcp_syn_linear_timeouts": Value(4, "net/ipv4/tcp_ipv4.c:3674 tcp_sk_init (ccce324dabfe, 6.5)"),
        "ip_local_port_range": Value((32768, 60999), "net/ipv4/af_inet.c:1795 inet_init_net"),
        "tcp_invalid_ratelimit": Value(0.5, "net/ipv4/tcp_ipv4.c:3638 tcp_sk_init: HZ/2"),
        "tcp_timeout_init": Value(1.0, "include/net/tcp.h:169 TCP_TIMEOUT_INIT"),
        "syn_queue_limit": Value('qlen>backlog', "include/net/inet_connection_sock.h:291 inet_csk_reqsk_queue_is_full: > (3479c7549fb1, 6.13)"),
        "young_rule": Value(False, "net/ipv4/tcp_input.c:7405 tcp_conn_request: sk_acceptq_is_full alone (5ea8ea2cb7f1, 4.10)"),
        "synack_timer": Value('per_request', "net/ipv4/inet_connection_sock.c:1016 reqsk_timer_handler"),
        "syn_expiry": Value('count_or_time', "net/ipv4/tcp_timer.c:241 tcp_write_timeout"),
        "port_selection": Value('even_first_random', "net/ipv4/inet_hashtables.c:1032 INET_TABLE_PERTURB_SIZE, __inet_hash_connect"),
        "cookie_window": Value(120.0, "include/net/tcp.h:627 tcp_synq_no_recent_overflow: TCP_SYNCOOKIE_VALID"),
        "timer_wheel": Value('wheel', "kernel/time/timer.c:541 calc_wheel_index"),
        "hz": Value(250, "CONFIG_HZ=250, measured on our machines"),
        "timeouts_every_rto": Value(True, "net/ipv4/tcp_timer.c:599 tcp_retransmit_timer: every RTO"),
    },
    facts={
        "syn_path_counters": Value(True, "net/ipv4/proc.c:252 TCPReqQFullDrop"),
        "synack_rtx_counters": Value(True, "net/ipv4/tcp_output.c:4597 tcp_rtx_synack counts RetransSegs; net/ipv4/tcp_timer.c:747 tcp_syn_ack_timeout"),
        "flood_log": Value('6.x', "net/ipv4/tcp_input.c:7335 tcp_syn_flood_action, with address:port"),
        "backlog_bits": Value(32, "include/net/sock.h:538 u32 sk_max_ack_backlog"),
        "challenge_ack": Value(True, "net/ipv4/tcp_input.c:3838 tcp_send_challenge_ack"),
        "cookie_listen_drop": Value(False, "net/ipv4/tcp_input.c:7405 tcp_conn_request: a cookie SYN is not a drop"),
        "synretrans_counter": Value(True, "net/ipv4/proc.c:273 TCPSynRetrans"),
        "syncookies_always": Value(True, "net/ipv4/tcp_input.c:7436 syncookies == 2"),
        "syncookie_check": Value('syncookie_valid', "include/net/tcp.h:595 MAX_SYNCOOKIE_AGE 2; include/net/tcp.h:603 tcp_synq_overflow"),
        "conn_request": Value('tcp_conn_request', "net/ipv4/tcp_input.c:7405 tcp_conn_request"),
        "port_range_low_min": Value(1024, "net/ipv4/sysctl_net_ipv4.c:94 ipv4_local_port_range: range[0] >= ip_unprivileged_port_start (1024)"),
    },
)
