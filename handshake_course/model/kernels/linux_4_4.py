"""Linux 4.4: the LTS series of Ubuntu 16.04; 4.4.302, the last 4.4.y, with the young-rule removal backported."""

from .record import Absent, KernelRecord, Value

RECORD = KernelRecord(
    version="4.4",
    release="4.4.302",
    summary="the LTS series of Ubuntu 16.04; 4.4.302, the last 4.4.y, with the young-rule removal backported",
    settings={
        "somaxconn": Value(128, "include/linux/socket.h:255 SOMAXCONN"),
        "tcp_max_syn_backlog": Value(1024, "net/ipv4/tcp.c:3243 tcp_init: max(128, ehash entries / 256); 1024 on a 24 GiB machine ([derived])"),
        "tcp_syncookies": Value(1, "net/ipv4/tcp_minisocks.c:30"),
        "tcp_syn_retries": Value(6, "include/net/tcp.h:103 TCP_SYN_RETRIES"),
        "tcp_synack_retries": Value(5, "include/net/tcp.h:112 TCP_SYNACK_RETRIES"),
        "tcp_abort_on_overflow": Value(0, "net/ipv4/tcp_minisocks.c:33 (zero-initialised)"),
        "tcp_syn_linear_timeouts": Absent("6.5", "ccce324dabfe brought it in 6.5"),
        "ip_local_port_range": Value((32768, 60999), "net/ipv4/af_inet.c:1640 inet_init_net (07f4c90062f8)"),
        "tcp_invalid_ratelimit": Value(0.5, "net/ipv4/tcp_input.c:104 sysctl_tcp_invalid_ratelimit = HZ/2"),
        "tcp_timeout_init": Value(1.0, "include/net/tcp.h:138 TCP_TIMEOUT_INIT 1*HZ"),
        "syn_queue_limit": Value('qlen>=backlog', "include/net/inet_connection_sock.h:292 inet_csk_reqsk_queue_is_full: >= (ef547f2ac16b)"),
        "young_rule": Value(False, "net/ipv4/tcp_input.c:6342 tcp_conn_request: sk_acceptq_is_full alone (5ea8ea2cb7f1 backport)"),
        "synack_timer": Value('per_request', "net/ipv4/inet_connection_sock.c:565 reqsk_timer_handler"),
        "syn_expiry": Value('time', "net/ipv4/tcp_timer.c:148-227 retransmits_timed_out with syn_set: time only, as 3.10"),
        "port_selection": Value('hint_even', "net/ipv4/inet_hashtables.c:518-576 __inet_hash_connect: offset &= ~1, hint += (i + 2) & ~1"),
        "cookie_window": Value(120.0, "include/net/tcp.h:495-526 tcp_synq_no_recent_overflow: TCP_SYNCOOKIE_VALID"),
        "timer_wheel": Value('slack', "kernel/time/timer.c:866 apply_slack (the 4.8 wheel came later)"),
        "hz": Value(250, "CONFIG_HZ=250 of the Ubuntu builds"),
        "timeouts_every_rto": Value(False, "net/ipv4/tcp_timer.c:438-455 tcp_retransmit_timer: only when icsk_retransmits == 0"),
    },
    facts={
        "syn_path_counters": Value(True, "net/ipv4/proc.c:270,271 TCPReqQFullDoCookies, TCPReqQFullDrop"),
        "synack_rtx_counters": Value(True, "net/ipv4/inet_connection_sock.c:565 reqsk_timer_handler; net/ipv4/tcp_timer.c tcp_syn_ack_timeout"),
        "flood_log": Value('5.15', "net/ipv4/tcp_input.c:6274-6298 tcp_syn_flood_action: port only, pr_info"),
        "backlog_bits": Value(32, "include/net/sock.h:427-428 u32 sk_max_ack_backlog"),
        "challenge_ack": Value(True, "net/ipv4/tcp_input.c:3468 tcp_send_challenge_ack"),
        "cookie_listen_drop": Value(True, "net/ipv4/tcp_input.c:6456-6467 tcp_conn_request: a cookie SYN ends at drop_and_free -> LISTENDROPS"),
        "synretrans_counter": Value(True, "net/ipv4/proc.c:291 TCPSynRetrans"),
        "syncookies_always": Value(True, "net/ipv4/tcp_input.c:6335 sysctl_tcp_syncookies == 2"),
        "syncookie_check": Value('syncookie_valid', "include/net/tcp.h:495-526 tcp_synq_overflow; net/ipv4/syncookies.c:147 MAX_SYNCOOKIE_AGE"),
        "conn_request": Value('tcp_conn_request', "net/ipv4/tcp_input.c tcp_conn_request"),
        "port_range_low_min": Value(1, "net/ipv4/sysctl_net_ipv4.c:35 ip_local_port_range_min (ip_unprivileged_port_start came in 4.11)"),
    },
)
