"""Linux 5.15: the LTS series of Ubuntu 22.04; 5.15.55, which carries the 2022 port hardening but not the January 2025 `>` SYN-queue backport (syn_queue_limit='qlen>backlog' is the latest 5.15.y)."""

from .record import Absent, KernelRecord, Value

RECORD = KernelRecord(
    version="5.15",
    release="5.15.55",
    summary="the LTS series of Ubuntu 22.04; 5.15.55, which carries the 2022 port hardening but not the January 2025 `>` SYN-queue backport (syn_queue_limit='qlen>backlog' is the latest 5.15.y)",
    settings={
        "somaxconn": Value(4096, "include/linux/socket.h:284 SOMAXCONN (19f92a030ca6, 5.4)"),
        "tcp_max_syn_backlog": Value(2048, "net/ipv4/tcp_ipv4.c:3171 tcp_sk_init: max(128, ehash entries / 128); 2048 on a 24 GiB machine ([derived])"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_ipv4.c:3157 tcp_sk_init"),
        "tcp_syn_retries": Value(6, "include/net/tcp.h:107 TCP_SYN_RETRIES"),
        "tcp_synack_retries": Value(5, "include/net/tcp.h:116 TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "tcp_sk_init leaves it 0 (net/ipv4/tcp_ipv4.c)"),
        "tcp_syn_linear_timeouts": Absent("6.5", "ccce324dabfe brought it in 6.5"),
        "ip_local_port_range": Value((32768, 60999), "net/ipv4/af_inet.c:1844 inet_init_net (32768-60999 since 4.4, 07f4c90062f8)"),
        "tcp_invalid_ratelimit": Value(0.5, "net/ipv4/tcp_ipv4.c:3197 tcp_sk_init: HZ/2"),
        "tcp_timeout_init": Value(1.0, "include/net/tcp.h:144 TCP_TIMEOUT_INIT"),
        "syn_queue_limit": Value('qlen>=backlog', "include/net/inet_connection_sock.h:280 inet_csk_reqsk_queue_is_full: >= (ef547f2ac16b, 4.4)"),
        "young_rule": Value(False, "net/ipv4/tcp_input.c:6820 tcp_conn_request: sk_acceptq_is_full alone (5ea8ea2cb7f1, 4.10)"),
        "synack_timer": Value('per_request', "net/ipv4/inet_connection_sock.c:796 reqsk_timer_handler (fa76ce7328b2, 4.1)"),
        "syn_expiry": Value('count_or_time', "net/ipv4/tcp_timer.c:231 tcp_write_timeout: icsk_retransmits >= retry_until, or retransmits_timed_out"),
        "port_selection": Value('even_first_random', "net/ipv4/inet_hashtables.c:734 INET_TABLE_PERTURB_SHIFT 16, __inet_hash_connect (4c2c8f03a5ab backport)"),
        "cookie_window": Value(120.0, "include/net/tcp.h:516 tcp_synq_no_recent_overflow: TCP_SYNCOOKIE_VALID"),
        "timer_wheel": Value('wheel', "kernel/time/timer.c:510 calc_wheel_index (4.8)"),
        "hz": Value(250, "CONFIG_HZ=250 of the Debian and Ubuntu builds"),
        "timeouts_every_rto": Value(True, "net/ipv4/tcp_timer.c:511 tcp_retransmit_timer: every RTO"),
    },
    facts={
        "syn_path_counters": Value(True, "net/ipv4/proc.c:250 TCPReqQFullDrop"),
        "synack_rtx_counters": Value(True, "net/ipv4/inet_connection_sock.c:689 inet_rtx_syn_ack; net/ipv4/tcp_timer.c:652 tcp_syn_ack_timeout"),
        "flood_log": Value('5.15', "net/ipv4/tcp_input.c:6753 tcp_syn_flood_action, without the address"),
        "backlog_bits": Value(32, "include/net/sock.h:491 u32 sk_max_ack_backlog"),
        "challenge_ack": Value(True, "net/ipv4/tcp_input.c:3602 tcp_send_challenge_ack"),
        "cookie_listen_drop": Value(False, "net/ipv4/tcp_input.c:6820 tcp_conn_request: a cookie SYN is not a drop"),
        "synretrans_counter": Value(True, "net/ipv4/proc.c:271 TCPSynRetrans"),
        "syncookies_always": Value(True, "net/ipv4/tcp_input.c:6839 sysctl_tcp_syncookies == 2"),
        "syncookie_check": Value('syncookie_valid', "include/net/tcp.h:484 MAX_SYNCOOKIE_AGE 2; include/net/tcp.h:492 tcp_synq_overflow"),
        "conn_request": Value('tcp_conn_request', "net/ipv4/tcp_input.c:6820 tcp_conn_request"),
        "port_range_low_min": Value(1024, "net/ipv4/sysctl_net_ipv4.c:100 ipv4_local_port_range: range[0] >= ip_unprivileged_port_start (1024)"),
    },
)
