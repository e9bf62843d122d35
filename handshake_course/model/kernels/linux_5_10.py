"""Linux 5.10: the LTS series of Debian 11 and Amazon Linux 2; 5.10.265, with the `>` SYN-queue backport."""

from .record import Absent, KernelRecord, Value

RECORD = KernelRecord(
    version="5.10",
    release="5.10.265",
    summary="the LTS series of Debian 11 and Amazon Linux 2; 5.10.265, with the `>` SYN-queue backport",
    settings={
        "somaxconn": Value(4096, "include/linux/socket.h:283 SOMAXCONN"),
        "tcp_max_syn_backlog": Value(2048, "net/ipv4/tcp_ipv4.c:2899 tcp_sk_init: max(128, ehash/128) ([derived] 2048)"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_ipv4.c:2883 tcp_sk_init"),
        "tcp_syn_retries": Value(6, "net/ipv4/tcp_ipv4.c:2883 tcp_sk_init: TCP_SYN_RETRIES"),
        "tcp_synack_retries": Value(5, "net/ipv4/tcp_ipv4.c:2883 tcp_sk_init: TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "net/ipv4/tcp_minisocks.c tcp_check_req reads it; tcp_sk_init leaves it 0"),
        "tcp_syn_linear_timeouts": Absent("6.5", "ccce324dabfe brought it in 6.5"),
        "ip_local_port_range": Value((32768, 60999), "net/ipv4/af_inet.c:1843 inet_init_net"),
        "tcp_invalid_ratelimit": Value(0.5, "net/ipv4/tcp_ipv4.c:2883 tcp_sk_init: HZ/2"),
        "tcp_timeout_init": Value(1.0, "include/net/tcp.h TCP_TIMEOUT_INIT 1*HZ (9ad7c049f0f7, 3.1)"),
        "syn_queue_limit": Value('qlen>backlog', "include/net/inet_connection_sock.h:285 inet_csk_reqsk_queue_is_full: > (3479c7549fb1 backport)"),
        "young_rule": Value(False, "net/ipv4/tcp_input.c:6911 tcp_conn_request: sk_acceptq_is_full alone (5ea8ea2cb7f1)"),
        "synack_timer": Value('per_request', "net/ipv4/inet_connection_sock.c:759 reqsk_timer_handler"),
        "syn_expiry": Value('count_or_time', "net/ipv4/tcp_timer.c:244-267 tcp_write_timeout"),
        "port_selection": Value('even_first_random', "net/ipv4/inet_hashtables.c:741-841 table_perturb (4c2c8f03a5ab backport)"),
        "cookie_window": Value(120.0, "include/net/tcp.h:488-540 TCP_SYNCOOKIE_VALID; net/ipv4/syncookies.c:124"),
        "timer_wheel": Value('wheel', "kernel/time/timer.c:510 calc_wheel_index"),
        "hz": Value(250, "CONFIG_HZ=250 of the Debian and Ubuntu builds"),
        "timeouts_every_rto": Value(True, "net/ipv4/tcp_timer.c:546 tcp_retransmit_timer: every RTO"),
    },
    facts={
        "syn_path_counters": Value(True, "net/ipv4/proc.c:248,249,255,256,270 TCPReqQFullDrop, TCPReqQFullDoCookies"),
        "synack_rtx_counters": Value(True, "net/ipv4/inet_connection_sock.c:759 reqsk_timer_handler; net/ipv4/tcp_timer.c tcp_syn_ack_timeout"),
        "flood_log": Value('5.15', "net/ipv4/tcp_input.c:6814 tcp_syn_flood_action: port only"),
        "backlog_bits": Value(32, "include/net/sock.h:480 u32"),
        "challenge_ack": Value(True, "net/ipv4/tcp_input.c:3664 tcp_send_challenge_ack"),
        "cookie_listen_drop": Value(False, "net/ipv4/tcp_input.c:7019 tcp_conn_request: a cookie SYN is not a drop"),
        "synretrans_counter": Value(True, "net/ipv4/proc.c:248,249,255,256,270 TCPSynRetrans"),
        "syncookies_always": Value(True, "net/ipv4/tcp_input.c:6814 tcp_conn_request: syncookies == 2 (5ad37d5deee1, 3.12)"),
        "syncookie_check": Value('syncookie_valid', "include/net/tcp.h:488-540 TCP_SYNCOOKIE_VALID; net/ipv4/syncookies.c:124"),
        "conn_request": Value('tcp_conn_request', "net/ipv4/tcp_input.c:6911 tcp_conn_request"),
        "port_range_low_min": Value(1024, "net/ipv4/sysctl_net_ipv4.c ipv4_local_port_range: range[0] >= ip_unprivileged_port_start"),
    },
)
