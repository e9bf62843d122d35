"""The kernel's handshake rules as pure functions of a Kernel: backlog clamp, queue limits, RTO
backoff, the connect() give-up test, SYN-ACK retry pruning. The simulation calls these same
functions at run time, and the closed forms below (``syn_schedule``...) replay them without a
simulation, so a lesson's table and a simulated trace can never disagree.

Times are integer microseconds internally (like jiffies, but finer), seconds at the public surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from .clock import US, to_us
from .profiles import SETTINGS, TCP_DELACK_MAX, TCP_RTO_MAX, TCP_RTO_MIN, Kernel, as_kernel
from .timers import interval_bounds

RTO_MAX_US = int(TCP_RTO_MAX * US)
RTO_MIN_US = int(TCP_RTO_MIN * US)
DELACK_MAX_US = int(TCP_DELACK_MAX * US)
PROBE_MIN_US = 10_000  # msecs_to_jiffies(10): the 3.10-4.12 loss probe's floor


# ---- listen() ---------------------------------------------------------------------------------

def clamped_backlog(kernel: Kernel | str, backlog: int) -> int:
    """listen()'s backlog after __sys_listen (net/socket.c, all versions):
    ``if ((unsigned int)backlog > somaxconn) backlog = somaxconn``, so a negative backlog also
    becomes somaxconn. This int is what inet_listen and reqsk_queue_alloc receive."""
    k = as_kernel(kernel)
    return k.somaxconn if (backlog < 0 or backlog > k.somaxconn) else backlog


def effective_backlog(kernel: Kernel | str, backlog: int) -> int:
    """sk_max_ack_backlog after listen(fd, backlog): the clamped backlog, which 2.6.32 and 3.10
    store in an unsigned short, so values above 65535 wrap (sock.h); 4.19+ use u32. Only 2.6.32 lets
    it happen: 3.10 refuses a somaxconn above 65535 (see SETTINGS["somaxconn"])."""
    k = as_kernel(kernel)
    b = clamped_backlog(k, backlog)
    return b & 0xFFFF if k.backlog_bits == 16 else b


def syn_table_size(kernel: Kernel | str, backlog: int) -> int | None:
    """2.6.32/3.10 SYN hash-table slots (reqsk_queue_alloc), or None on kernels without the table.

    nr_table_entries = roundup_pow_of_two(max(min(backlog, tcp_max_syn_backlog), 8) + 1)
    """
    k = as_kernel(kernel)
    if k.syn_queue_limit != "table":
        return None
    n = max(min(clamped_backlog(k, backlog), k.tcp_max_syn_backlog), 8) + 1
    return 1 << (n - 1).bit_length()


def accept_capacity(kernel: Kernel | str, backlog: int) -> int:
    """Connections the accept queue holds: backlog + 1, because sk_acceptq_is_full() tests
    ``sk_ack_backlog > sk_max_ack_backlog`` before adding (sock.h, 2.6.32 to 6.18)."""
    return effective_backlog(kernel, backlog) + 1


def syn_queue_full(kernel: Kernel, qlen: int, backlog: int, table: int | None) -> bool:
    """Whether a new SYN finds the SYN queue full (see the ``syn_queue_limit`` switch)."""
    rule = kernel.syn_queue_limit
    if rule == "table":
        return qlen >= (table if table is not None else 16)  # reqsk_queue_is_full: qlen >> max_qlen_log
    if rule == "qlen>=backlog":
        return qlen >= backlog
    return qlen > backlog


def last_quarter_drop(kernel: Kernel, qlen: int) -> bool:
    """With tcp_syncookies=0, an unproven peer's SYN is dropped once the SYN queue reaches the last
    quarter of tcp_max_syn_backlog: ``max_syn_backlog - qlen < max_syn_backlog >> 2``
    (tcp_v4_conn_request in 2.6.32/3.10, tcp_conn_request in 4.4+)."""
    m = kernel.tcp_max_syn_backlog
    return kernel.tcp_syncookies == 0 and m - qlen < (m >> 2)


def syn_queue_capacity(kernel: Kernel | str, backlog: int, *, last_quarter: bool = True) -> int:
    """How many request socks the SYN queue holds before further SYNs are refused or answered
    with cookies. With tcp_syncookies=0 the last-quarter rule (for peers without tcp_metrics, as
    all peers are on 3.10) lowers it to tcp_max_syn_backlog - tcp_max_syn_backlog // 4 + 1,
    unless ``last_quarter=False``."""
    k = as_kernel(kernel)
    b = effective_backlog(k, backlog)
    table = syn_table_size(k, backlog)
    rule = k.syn_queue_limit
    cap = table if table is not None else (b if rule == "qlen>=backlog" else b + 1)
    if last_quarter and k.tcp_syncookies == 0:
        m = k.tcp_max_syn_backlog
        cap = min(cap, m - (m >> 2) + 1)
    return cap


# ---- connect(): the SYN retransmission timer ---------------------------------------------------

def model_timeout_us(boundary: int, rto_base_us: int) -> int:
    """tcp_model_timeout(): the time `boundary` exponential retransmissions take from rto_base,
    with RTOs capped at TCP_RTO_MAX (retransmits_timed_out in 2.6.32-4.x, tcp_model_timeout since 5.x)."""
    thresh = (RTO_MAX_US // rto_base_us).bit_length() - 1  # ilog2(TCP_RTO_MAX / rto_base)
    if boundary <= thresh:
        return ((2 << boundary) - 1) * rto_base_us
    return ((2 << thresh) - 1) * rto_base_us + (boundary - thresh) * RTO_MAX_US


def linear_timeouts(kernel: Kernel) -> int:
    return kernel.tcp_syn_linear_timeouts if kernel.has("tcp_syn_linear_timeouts") else 0


@lru_cache(maxsize=4096)
def syn_rto_after_us(kernel: Kernel, fires: int) -> int:
    """The SYN RTO armed after the timer has fired `fires` times (tcp_retransmit_timer): the RTO
    doubles after each fire, capped at TCP_RTO_MAX, except that 6.5+ keeps the initial RTO while
    fires <= tcp_syn_linear_timeouts."""
    base = to_us(kernel.tcp_timeout_init)
    doublings = max(0, fires - linear_timeouts(kernel))
    return min(base << min(doublings, 40), RTO_MAX_US)


@lru_cache(maxsize=1024)
def syn_limits(kernel: Kernel, retry_until: int) -> tuple[int | None, int | None]:
    """(retransmission count that expires the socket or None, give-up time in us or None) for
    tcp_write_timeout in SYN_SENT: 4.14 and 4.19+ count retry_until (+ tcp_syn_linear_timeouts on
    6.5+) retransmissions; every version but 4.14 (``syn_expiry="count"``: no time test in SYN
    states) also compares the elapsed time with tcp_model_timeout's, measured from the initial RTO
    (2.6.32.2: from TCP_RTO_MIN)."""
    rule = kernel.syn_expiry
    count = retry_until + linear_timeouts(kernel) if rule in ("count", "count_or_time") else None
    if rule == "count":
        return count, None
    base = RTO_MIN_US if rule == "time_rto_min" else to_us(kernel.tcp_timeout_init)
    return count, model_timeout_us(retry_until, base)


def syn_expired(kernel: Kernel, retransmits: int, elapsed_us: int, retry_until: int) -> bool:
    """tcp_write_timeout() for a socket in SYN_SENT, called when its timer fires, before it would
    retransmit again (see the ``syn_expiry`` switch)."""
    return expired(syn_limits(kernel, retry_until), retransmits, elapsed_us)


def expired(limits: tuple[int | None, int | None], retransmits: int, elapsed_us: int) -> bool:
    """tcp_write_timeout()'s test against ``syn_limits``' (count, time): ``syn_expired`` with the
    limits looked up once (the simulation does it once a run)."""
    count, timeout = limits
    if count is not None and retransmits >= count:
        return True
    # retransmits_timed_out() is false before the first retransmission
    return timeout is not None and retransmits > 0 and elapsed_us >= timeout


@dataclass(frozen=True)
class Schedule:
    """When a handshake packet is sent and when the sender gives up, in seconds from the first send,
    with every timer exactly on time (the kernel's rule); ``window`` adds the kernel's timers."""

    send_times: tuple[float, ...]
    give_up: float
    timer_wheel: str = field(default="off", repr=False, compare=False)
    hz: int = field(default=1000, repr=False, compare=False)
    polled: bool = field(default=False, repr=False, compare=False)  # sent on a listener's scan tick

    @property
    def retransmissions(self) -> int:
        return len(self.send_times) - 1

    def window(self, time: float) -> tuple[float, float]:
        """Earliest and latest moment a kernel with this schedule's timers does what the rule does at
        `time` (a send time or ``give_up``): each timer on the way, re-armed when the previous one
        fired, runs within ``timers.interval_bounds`` of its delay.

        >>> syn_schedule("6.18").window(1.0)     # a 1 s RTO on the 4.8+ wheel at HZ=250
        (1.0, 1.032)
        """
        if self.polled:
            raise ValueError("no window for SYN-ACKs sent by the 2.6.32/3.10 listener scan (synack_timer="
                             "'listener_scan'): they leave on a later 200 ms scan tick; simulate instead")
        times = (*self.send_times, self.give_up)
        if time not in times:
            raise ValueError(f"time must be one of this schedule's times {times}; got {time!r}")
        lo = hi = 0.0
        for a, b in pairwise(times[: times.index(time) + 1]):
            d_lo, d_hi = interval_bounds(b - a, self.timer_wheel, self.hz)
            lo, hi = lo + d_lo, hi + d_hi
        return round(lo, 6), round(hi, 6)


def syn_schedule(kernel: Kernel | str, syncnt: int | None = None) -> Schedule:
    """The SYNs connect() sends when nothing answers, and when it fails with ETIMEDOUT.

    >>> syn_schedule("3.10")
    Schedule(send_times=(0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0), give_up=127.0)
    >>> syn_schedule("6.18").give_up
    131.0
    """
    k = as_kernel(kernel)
    retry_until = syncnt or k.tcp_syn_retries
    sends, t, fires = [0], 0, 0
    while True:
        t += syn_rto_after_us(k, fires)
        fires += 1
        if syn_expired(k, len(sends) - 1, t, retry_until):
            return Schedule(tuple(s / US for s in sends), t / US, k.timer_wheel, k.hz)
        sends.append(t)


# ---- the server: SYN-ACK retransmission --------------------------------------------------------

@lru_cache(maxsize=4096)
def synack_timeout_us(kernel: Kernel, num_timeout: int) -> int:
    """Delay to the next SYN-ACK timeout: min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX)
    (req->expires in 2.6.32/3.10 inet_csk_reqsk_queue_prune, tcp_reqsk_timeout() in 4.1+)."""
    return min(to_us(kernel.tcp_timeout_init) << min(num_timeout, 40), RTO_MAX_US)


def synack_retries(kernel: Kernel, qlen: int, young: int, backlog: int, table: int | None) -> int:
    """The retry limit for a request whose timer fires now. Under pressure, a queue holding mostly
    requests that already timed out gets fewer retries (down to 2):
    3.10 inet_csk_reqsk_queue_prune when qlen >= table/2; 4.1+ reqsk_timer_handler when
    2 * qlen > max(8, backlog)."""
    thresh = kernel.tcp_synack_retries
    if kernel.synack_timer == "listener_scan":
        pressure = qlen >= (table or 16) // 2
    else:
        pressure = (qlen << 1) > max(8, backlog)
    if pressure:
        y = young << 1
        while thresh > 2:
            if qlen < y:
                break
            thresh -= 1
            y <<= 1
    return thresh


def synack_schedule(kernel: Kernel | str) -> Schedule:
    """SYN-ACKs the server sends for one request whose final ACK never comes (no queue pressure),
    and when it drops the request.

    On 2.6.32/3.10 (``synack_timer="listener_scan"``) each resend really happens on the first
    200 ms scan tick that reaches the request's hash bucket, so up to a few ticks later.

    >>> synack_schedule("6.18")
    Schedule(send_times=(0.0, 1.0, 3.0, 7.0, 15.0, 31.0), give_up=63.0)
    """
    k = as_kernel(kernel)
    sends, t, num_timeout = [0], 0, 0
    while True:
        t += synack_timeout_us(k, num_timeout)
        if num_timeout >= k.tcp_synack_retries:
            return Schedule(tuple(s / US for s in sends), t / US, k.timer_wheel, k.hz,
                            polled=k.synack_timer == "listener_scan")
        sends.append(t)
        num_timeout += 1


# ---- TCP_DEFER_ACCEPT: a bare final ACK waits for data ------------------------------------------

def defer_accept_rounds(kernel: Kernel | str, seconds: int) -> int:
    """rskq_defer_accept after setsockopt(TCP_DEFER_ACCEPT, seconds): secs_to_retrans (net/ipv4/tcp.c,
    every modelled version; lines in the records' ``defer_accept_drop_counter``) counts the SYN-ACK
    timeouts whose sum first covers ``seconds``, from TCP_TIMEOUT_INIT / HZ doubling up to
    TCP_RTO_MAX / HZ, at most 255 (a u8); 0 for seconds <= 0. The setsockopt uses the compiled-in
    TCP_TIMEOUT_INIT (3 s on 2.6.32, 1 s since 3.1), which the ``tcp_timeout_init`` switch (a BPF
    sock_ops timeout on a live kernel) does not change.

    >>> [defer_accept_rounds("6.18", s) for s in (0, 1, 2, 3, 4, 7, 8, 60)]
    [0, 1, 2, 2, 3, 3, 4, 6]
    >>> [defer_accept_rounds("2.6.32", s) for s in (1, 3, 4, 9, 10)]
    [1, 1, 2, 2, 3]
    """
    k = as_kernel(kernel)
    timeout = int(SETTINGS["tcp_timeout_init"].defaults[k.version])  # TCP_TIMEOUT_INIT / HZ
    rto_max = int(TCP_RTO_MAX)  # TCP_RTO_MAX / HZ
    if seconds <= 0:
        return 0
    res, period = 1, timeout
    while seconds > period and res < 255:
        res += 1
        timeout = min(timeout << 1, rto_max)
        period += timeout
    return res


def defer_accept_drops(num_timeout: int, defer_rounds: int, bare: bool) -> bool:
    """tcp_check_req: "While TCP_DEFER_ACCEPT is active, drop bare ACK": a segment whose end_seq is
    rcv_isn + 1 (no data, and the client has sent none) is dropped, and the request marked acked, as
    long as req->num_timeout (2.6.32: req->retrans) < rskq_defer_accept. Every modelled version (lines in
    the records' ``defer_accept_drop_counter``). A syncookie ACK is never deferred: cookie_v4_check has
    no such test."""
    return bare and num_timeout < defer_rounds


def syn_ack_recalc(num_timeout: int, thresh: int, defer_rounds: int, acked: bool) -> tuple[bool, bool]:
    """(expire, resend) for a request whose SYN-ACK timer fires: syn_ack_recalc (net/ipv4/
    inet_connection_sock.c, every modelled version; 2.6.32 counts req->retrans). Without
    TCP_DEFER_ACCEPT: expire once num_timeout >= thresh, resend otherwise. With it, an acked request
    (its bare ACK was dropped, or met a full accept queue) lives until num_timeout >= max(thresh,
    rskq_defer_accept), and its SYN-ACK is resent only from num_timeout >= rskq_defer_accept - 1, "to
    give last chance for data or ACK to create established socket"; the timer runs (and counts
    TCPTimeouts, tcp_syn_ack_timeout) either way."""
    if not defer_rounds:
        return num_timeout >= thresh, True
    expire = num_timeout >= thresh and (not acked or num_timeout >= defer_rounds)
    resend = not acked or num_timeout >= defer_rounds - 1
    return expire, resend


# ---- SO_REUSEPORT: which listener of a group a SYN reaches -----------------------------------------

U32 = 0xFFFFFFFF
JHASH_INITVAL = 0xDEADBEEF  # include/linux/jhash.h, 2.6.36+
JHASH_GOLDEN_RATIO = 0x9E3779B9  # include/linux/jhash.h before 2.6.36


def _rol32(word: int, shift: int) -> int:
    return ((word << shift) | (word >> (32 - shift))) & U32


def _jhash_final(a: int, b: int, c: int) -> int:
    """__jhash_final (include/linux/jhash.h, 2.6.36+): lookup3's final mix of (a, b, c) into c."""
    c = ((c ^ b) - _rol32(b, 14)) & U32
    a = ((a ^ c) - _rol32(c, 11)) & U32
    b = ((b ^ a) - _rol32(a, 25)) & U32
    c = ((c ^ b) - _rol32(b, 16)) & U32
    a = ((a ^ c) - _rol32(c, 4)) & U32
    b = ((b ^ a) - _rol32(a, 14)) & U32
    return ((c ^ b) - _rol32(b, 24)) & U32


def _jhash_mix(a: int, b: int, c: int) -> int:
    """__jhash_mix (include/linux/jhash.h before 2.6.36): lookup2's mix, c returned."""
    for sa, sb, sc in ((13, 8, 13), (12, 16, 5), (3, 10, 15)):
        a = ((a - b - c) & U32) ^ (c >> sa)
        b = ((b - c - a) & U32) ^ ((a << sb) & U32)
        c = ((c - a - b) & U32) ^ (b >> sc)
    return c


def jhash_3words(style: str, a: int, b: int, c: int, initval: int) -> int:
    """jhash_3words (include/linux/jhash.h) as the ``ehashfn`` fact's version has it: 'jhash_golden'
    (2.6.32: a, b += JHASH_GOLDEN_RATIO, c += initval, lookup2 mix), 'jhash_initval' (3.10: a, b +=
    JHASH_INITVAL, c += initval), else (3.17+) each += initval + JHASH_INITVAL + 12, lookup3 final."""
    if style == "jhash_golden":
        return _jhash_mix((a + JHASH_GOLDEN_RATIO) & U32, (b + JHASH_GOLDEN_RATIO) & U32, (c + initval) & U32)
    if style == "jhash_initval":
        return _jhash_final((a + JHASH_INITVAL) & U32, (b + JHASH_INITVAL) & U32, (c + initval) & U32)
    init = (initval + JHASH_INITVAL + 12) & U32
    return _jhash_final((a + init) & U32, (b + init) & U32, (c + init) & U32)


def inet_ehashfn(kernel: Kernel, secret: int, laddr: int, lport: int, faddr: int, fport: int) -> int:
    """The 4-tuple hash a listener lookup hands to SO_REUSEPORT (the ``ehashfn`` fact): jhash_3words(
    laddr, faddr, lport << 16 | fport, secret), where ``secret`` is inet_ehash_secret + net_hash_mix,
    drawn at boot; 6.18 adds lport outside the hash (lport + __inet_ehashfn(laddr, 0, ...)).
    Addresses and fport as the kernel holds them (network byte order read as a little-endian u32 /
    u16), lport in host order."""
    style = kernel.ehashfn
    if style == "lport_outside":
        return (lport + jhash_3words(style, laddr, faddr, fport, secret)) & U32
    return jhash_3words(style, laddr, faddr, ((lport << 16) | fport) & U32, secret)


def next_pseudo_random32(seed: int) -> int:
    """include/linux/random.h: seed * 1664525 + 1013904223, a u32 (3.9-4.5 reuseport)."""
    return (seed * 1664525 + 1013904223) & U32


def reciprocal_scale(value: int, ep_ro: int) -> int:
    """include/linux/kernel.h: (u32)(((u64) value * ep_ro) >> 32), a value in [0, ep_ro)."""
    return (value * ep_ro) >> 32


def reuseport_listener(kernel: Kernel, listeners: int, phash: int) -> int:
    """The listener (0: the first to call listen()) of a SO_REUSEPORT group of ``listeners`` sockets
    that a segment with 4-tuple hash ``phash`` reaches (the ``reuseport`` fact):

    * 'group' (4.6+): the group's sockets in listen() order (reuseport_add_sock appends),
      reuseport_select_sock -> socks[reciprocal_scale(phash, num_socks)];
    * 'score' (3.9-4.5): __inet_lookup_listener walks the port's listening bucket, where listen()
      put each socket at the head (newest first); the first takes the hash, each later one of equal
      score replaces it when reciprocal_scale(phash, matches) == 0 (3.10: ((u64)phash * matches) >> 32),
      and phash steps by next_pseudo_random32.
    """
    if listeners <= 1:
        return 0
    rule = kernel.reuseport
    if rule == "group":
        return reciprocal_scale(phash, listeners)
    if rule != "score":
        raise ValueError(f"listeners must be 1 on Linux {kernel.version}: SO_REUSEPORT came in 3.9")
    chosen, matches = listeners - 1, 1  # the walk starts at the newest listener
    for sk in range(listeners - 2, -1, -1):
        matches += 1
        if reciprocal_scale(phash, matches) == 0:
            chosen = sk
        phash = next_pseudo_random32(phash)
    return chosen


# ---- the client's request (Scenario(data=True)): RTT sample, RTO, loss probe, give-up ----------------
#
# Assumed, as every kernel's defaults have it: TCP timestamps and SACK on (tcp_timestamps=1,
# tcp_sack=1), no RTT cached for the server in tcp_metrics (first contact), no TCP_USER_TIMEOUT.
# Times are microseconds: the kernels keep srtt in jiffies (2.6.32, 3.10) or in us with a sample in
# jiffies or ms, and arm timers in whole jiffies; the model's timers round up to ticks (timer_at).

def rtt_sample_us(tsecr_sent_us: int, now_us: int) -> int:
    """The client's RTT sample when the SYN-ACK arrives (tcp_ack -> tcp_clean_rtx_queue ->
    tcp_ack_update_rtt): the time since the SYN whose timestamp the SYN-ACK echoes was sent, at least
    1 us. 2.6.32 and 3.10 always take it from the timestamp echo (tcp_ack_saw_tstamp); 4.x+ prefer the
    SYN's own send time unless the SYN was retransmitted (Karn), then use the echo: the same number,
    since the echo (req->ts_recent, set by tcp_openreq_init and left alone by a retransmitted SYN in
    tcp_check_req; or the SYN a cookie answered) is of the only SYN when none was retransmitted. After
    a lost SYN-ACK it includes the wait for the resend: about 1 s + RTT."""
    return max(1, now_us - tsecr_sent_us)


def data_rto_us(kernel: Kernel | str, sample_us: int) -> int:
    """The RTO armed for the first data segment after one RTT sample: tcp_rtt_estimator's first
    measure (srtt = m; mdev = 2m, "make sure rto = 3*rtt"; rttvar = max(mdev, tcp_rto_min)) and
    __tcp_set_rto (srtt + rttvar), so m + max(2m, TCP_RTO_MIN), capped at TCP_RTO_MAX (tcp_bound_rto).
    The same in every modelled version (2.6.32 in jiffies with srtt << 3, 4.x+ in us)."""
    as_kernel(kernel)  # every version computes it alike; a bad version is still refused
    m = max(1, sample_us)
    return min(m + max(2 * m, RTO_MIN_US), RTO_MAX_US)


def loss_probe_after_us(kernel: Kernel, srtt_us: int, rto_us: int) -> int | None:
    """When the loss-probe timer armed with a lone data segment fires, or None without one (see the
    ``tail_loss_probe`` switch): tcp_schedule_loss_probe, never later than the RTO ("if the RTO formula
    yields an earlier time, then use that time": the probe then fires at the RTO, in its place)."""
    rule = kernel.tail_loss_probe
    if rule == "off":
        return None
    if rule == "1.5rtt+delack":
        probe = max(2 * srtt_us, srtt_us + (srtt_us >> 1) + DELACK_MAX_US, PROBE_MIN_US)
    else:
        probe = 2 * srtt_us + RTO_MIN_US
    return min(probe, rto_us)


def data_give_up_us(kernel: Kernel) -> int:
    """How long after its first RTO retransmission (retrans_stamp: tcp_retransmit_skb sets it; a loss
    probe does not) an established socket keeps retransmitting: retransmits_timed_out with
    boundary tcp_retries2 and rto_base TCP_RTO_MIN (tcp_model_timeout since 5.x): 924.6 s at 15."""
    return model_timeout_us(kernel.tcp_retries2, RTO_MIN_US)


def data_expired(kernel: Kernel, rto_retransmits: int, elapsed_us: int) -> bool:
    """tcp_write_timeout() for an established socket, called when the RTO fires, before it would
    retransmit again: retransmits_timed_out is false before the first RTO retransmission."""
    return rto_retransmits > 0 and elapsed_us >= data_give_up_us(kernel)


def data_schedule(kernel: Kernel | str, rtt: float) -> Schedule:
    """When a client's request (one DATA segment) is sent when nothing ACKs it, in seconds from its
    first send, and when the socket fails with ETIMEDOUT: a loss probe where the kernel has one
    (``tail_loss_probe``), then RTOs from ``data_rto_us`` doubling up to TCP_RTO_MAX.

    ``rtt``: the RTT the client measured on the SYN-ACK (``ClientRecord.rtt_sample``), the round
    trip when nothing was lost.

    >>> data_schedule("6.18", 0.1).send_times[:4]     # the probe fires at the RTO, 0.1 + 0.2 s
    (0.0, 0.3, 0.6, 1.2)
    >>> data_schedule("2.6.32", 0.1).send_times[:4]   # no loss probe: RTOs of 0.3, 0.6, 1.2 s
    (0.0, 0.3, 0.9, 2.1)
    """
    k = as_kernel(kernel)
    if isinstance(rtt, bool) or not isinstance(rtt, (int, float)) or not 0 < rtt <= 60:
        raise ValueError(f"rtt must be a number of seconds above 0, at most 60; got {rtt!r}")
    sample = max(1, to_us(rtt))
    rto = data_rto_us(k, sample)
    sends, t = [0], 0
    probe = loss_probe_after_us(k, sample, rto)
    if probe is not None:  # then the RTO is re-armed in full from the probe (tcp_rearm_rto)
        t += probe
        sends.append(t)
    fires, first_rto = 0, 0
    while True:
        t += rto
        if data_expired(k, fires, t - first_rto):
            return Schedule(tuple(x / US for x in sends), t / US, k.timer_wheel, k.hz)
        if fires == 0:
            first_rto = t
        sends.append(t)
        fires += 1
        rto = min(rto << 1, RTO_MAX_US)


# ---- TCP Fast Open (Scenario(fastopen=...), Kernel(tcp_fastopen=...)) --------------------------------
#
# The bits of net.ipv4.tcp_fastopen (include/net/tcp.h, every version with TFO: 3.10.108 :225-238,
# 6.18.24 :274-284). What each version does with them is in its record's fastopen_* facts.

TFO_CLIENT_ENABLE = 0x1  # clients may send data in the SYN (sendto(MSG_FASTOPEN); tcp_sendmsg_fastopen)
TFO_SERVER_ENABLE = 0x2  # listeners may take it (tcp_fastopen_check / tcp_try_fastopen)
TFO_CLIENT_NO_COOKIE = 0x4  # clients send data in the SYN without a cookie option
TFO_SERVER_COOKIE_NOT_REQD = 0x200  # listeners take data without checking a cookie
TFO_SERVER_WO_SOCKOPT1 = 0x400  # listen() gives every listener a TFO queue of its backlog
TFO_SERVER_WO_SOCKOPT2 = 0x800  # 3.10/4.4: listen() gives it a queue of tcp_fastopen >> 16


def fastopen_queue_limit(kernel: Kernel, fastopen: int, backlog: int) -> int:
    """The listener's fastopenq.max_qlen: setsockopt(TCP_FASTOPEN, ``fastopen``) sets it (3.10
    fastopen_init_queue: the value; 4.4+ fastopen_queue_tune: min(value, somaxconn), the record's
    ``fastopen_queue_cap``); without it (``fastopen`` 0) inet_listen sets it when tcp_fastopen has
    TFO_SERVER_ENABLE and TFO_SERVER_WO_SOCKOPT1 (0x402): to listen()'s backlog after the somaxconn clamp;
    on 3.10/4.4 (``fastopen_wo_sockopt2``) with 0x802 instead, to tcp_fastopen >> 16. 0: no TFO queue,
    the listener takes no data in a SYN. ``backlog``: as passed to listen().

    >>> fastopen_queue_limit(Kernel("6.18", somaxconn=128), 1000, 8)
    128
    >>> fastopen_queue_limit(Kernel("6.18", tcp_fastopen=0x403), 0, 8)
    8
    """
    if not kernel.has("tcp_fastopen"):
        return 0
    bits = kernel.tcp_fastopen
    if fastopen > 0:
        return min(fastopen, kernel.somaxconn) if kernel.fastopen_queue_cap else fastopen
    if not bits & TFO_SERVER_ENABLE:
        return 0
    if bits & TFO_SERVER_WO_SOCKOPT1:
        return clamped_backlog(kernel, backlog)
    if bits & TFO_SERVER_WO_SOCKOPT2 and kernel.fastopen_wo_sockopt2:
        queue = bits >> 16
        return min(queue, kernel.somaxconn) if kernel.fastopen_queue_cap else queue
    return 0


def fastopen_used(kernel: Kernel, fastopen: int, backlog: int | None, data: bool) -> bool:
    """Whether the clients send their first SYN with sendto(MSG_FASTOPEN) (tcp_sendmsg_fastopen ->
    tcp_send_syn_data): they have a request to send (``data``), their host's tcp_fastopen has
    TFO_CLIENT_ENABLE (else sendto fails with EOPNOTSUPP and the application uses connect() and write()),
    and the scenario deploys TFO: the listener sets TCP_FASTOPEN (``fastopen`` > 0) or the sysctl gives
    it a TFO queue (``fastopen_queue_limit``). Otherwise the clients connect() as without TFO."""
    if not data or backlog is None or not kernel.has("tcp_fastopen"):
        return False
    if not kernel.tcp_fastopen & TFO_CLIENT_ENABLE:
        return False
    return fastopen > 0 or fastopen_queue_limit(kernel, fastopen, backlog) > 0


def fastopen_syn_carries(kernel: Kernel, cookie_cached: bool) -> str:
    """What tcp_send_syn_data puts in a sendto(MSG_FASTOPEN) client's first SYN (3.10
    net/ipv4/tcp_output.c:2906, 6.18 net/ipv4/tcp_fastopen.c:505 tcp_fastopen_cookie_check): "data" - the
    request without a cookie option (TFO_CLIENT_NO_COOKIE); "cookie" - the request and the cookie the
    client host's tcp_metrics holds for the server; "request" - no cookie cached yet: a SYN with an empty
    cookie option (a cookie request) and no data, the request waiting for the handshake. A retransmitted
    SYN carries neither ("Exclude Fast Open option for SYN retries")."""
    if kernel.tcp_fastopen & TFO_CLIENT_NO_COOKIE:
        return "data"
    return "cookie" if cookie_cached else "request"


def fastopen_cookie_waived(kernel: Kernel, carries: str) -> bool:
    """TFO_SERVER_COOKIE_NOT_REQD (0x200) lets this SYN make a child without a valid cookie (the record's
    ``fastopen_cookie_waiver``): 3.10 only data without a cookie option (tcp_fastopen_check's
    skip_cookie), 4.4 any SYN with data, 4.19+ here (tcp_fastopen_no_cookie) any SYN that reaches the check,
    a bare cookie request too."""
    if not kernel.tcp_fastopen & TFO_SERVER_COOKIE_NOT_REQD:
        return False
    rule = kernel.fastopen_cookie_waiver
    if rule == "data_without_option":
        return carries == "data"
    if rule == "data":
        return carries != "request"
    return rule == "any"


def fastopen_syn(kernel: Kernel, carries: str, limit: int, qlen: int, accept_full: bool = False) -> str:
    """What the listener does with a TFO SYN (``fastopen_syn_carries``) that reached tcp_conn_request's
    TFO check - a SYN the listener drops or answers with a syncookie never does (want_cookie: the
    options are parsed without the cookie, and 4.4+ call no tcp_try_fastopen). ``limit``: its
    fastopenq.max_qlen, ``qlen``: the TFO children still waiting for their final ACK. One of
    "child" (tcp_fastopen_create_child: a child socket now, in the accept queue, the SYN-ACK acks the
    data), "full" (it would, but the accept queue is full: tcp_v4_syn_recv_sock refuses the child, as
    ``accept_full`` says; tcp_conn_request's own check let the SYN through by 3.10's young rule),
    "cookie" (a regular request, the SYN-ACK carries a new cookie), "overflow" (qlen >= max_qlen:
    TCPFastOpenListenOverflow, a regular request, no cookie) or "ignored" (a regular request: the
    listener's tcp_fastopen lacks TFO_SERVER_ENABLE, it has no TFO queue, or the SYN has data but no
    cookie and cookies are required). 3.10 tcp_fastopen_check (net/ipv4/tcp_ipv4.c:1297) does not look at
    a SYN without a cookie option unless 0x200 waives it; 4.4+ tcp_try_fastopen checks the server bit,
    then the queue (tcp_fastopen_queue_check), then the cookie. The model's cookies are always valid: one
    server key, never rotated.

    >>> k = Kernel("6.18", tcp_fastopen=3)
    >>> [fastopen_syn(k, "request", 2, 0), fastopen_syn(k, "cookie", 2, 1), fastopen_syn(k, "cookie", 2, 2)]
    ['cookie', 'child', 'overflow']
    """
    bits = kernel.tcp_fastopen
    waived = fastopen_cookie_waived(kernel, carries)
    if kernel.fastopen_server == "tcp_fastopen_check" and carries == "data" and not waived:
        return "ignored"
    if not bits & TFO_SERVER_ENABLE or limit == 0:
        return "ignored"
    if qlen >= limit:
        return "overflow"
    if waived or carries == "cookie":
        return "full" if accept_full else "child"
    return "cookie" if carries == "request" else "ignored"


def fastopen_synack_expired(kernel: Kernel, num_timeout: int) -> bool:
    """tcp_fastopen_synack_timer: the TFO child's SYN-ACK timer gives up (tcp_write_err) once it has fired
    tcp_synack_retries + 1 times ("add one more retry for fastopen"; every version: 3.10.108
    net/ipv4/tcp_timer.c:315, 6.18.24 net/ipv4/tcp_timer.c:466); between two fires
    min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX), as ``synack_timeout_us``."""
    return num_timeout >= kernel.tcp_synack_retries + 1


# ---- the close and TIME_WAIT (Scenario(hold=...)) ----------------------------------------------------
#
# Constants of every modelled version (include/net/tcp.h, include/net/inet_timewait_sock.h,
# net/ipv4/tcp_timer.c): TCP_TIMEWAIT_LEN and TCP_FIN_TIMEOUT 60*HZ; TCP_ATO_MIN HZ/25; the 2.6.32/3.10
# death row's INET_TWDR_TWKILL_SLOTS 8 and INET_TWDR_TWKILL_QUOTA 100; tcp_orphan_retries() gives 8
# for tcp_orphan_retries=0 (the default) while the RTO is below TCP_RTO_MAX.

TIMEWAIT_LEN_US = 60 * US
DEATH_ROW_SLOTS = 8
DEATH_ROW_QUOTA = 100
DEATH_ROW_PERIOD_US = TIMEWAIT_LEN_US // DEATH_ROW_SLOTS  # tcp_death_row.period: 7.5 s
ATO_MIN_US = US // 25  # 40 ms at every HZ the model knows (100, 250, 300, 1000: a whole number of ticks)
ORPHAN_RETRIES = 8


def tw_reuse_on(kernel: Kernel) -> bool:
    """Whether tcp_twsk_unique lets connect() take a TIME_WAIT socket's port at all here: tcp_tw_reuse
    nonzero, where 2 means loopback only (the ``tw_reuse_loopback`` fact, 4.18+), and the model's hosts
    (ports.SADDR 10.0.0.1 to ports.DADDR 10.0.0.2, not bound to lo) are not on loopback, so 2 acts as 0."""
    value = kernel.tcp_tw_reuse
    return value != 0 and not (value == 2 and kernel.tw_reuse_loopback)


def tw_reusable_at_us(kernel: Kernel, fin_wait2: bool, stamp_us: int, entry_us: int, phase_us: int) -> int | None:
    """When connect() may first take the port of a timewait socket (tcp_twsk_unique), or None: never
    (reuse off, or a socket still in substate FIN_WAIT2 where the ``tw_reuse_fin_wait2`` fact says no).

    ``stamp_us``: when its tw_ts_recent_stamp was taken (the last timestamped segment from the server
    that updated ts_recent: the FIN that made it TIME_WAIT, or the ACK of its own FIN);
    ``entry_us``: when it became a timewait socket (6.14+ tw_entry_stamp); ``phase_us``: how far into
    its second the kernel's clock (ktime_get_seconds, tcp_clock_ms; get_seconds before 4.19) is at
    t = 0. The ``tw_reuse_check`` fact: 'seconds>1' - from the second after next; 'seconds>0' - from
    the next second; 'delay_ms' - once the millisecond clock is past entry + tcp_tw_reuse_delay.

    >>> k = Kernel("6.18", tcp_tw_reuse=1)
    >>> tw_reusable_at_us(k, False, 0, 2_500_000, 0)      # entered at 2.5 s: from 3.501 s
    3501000
    >>> tw_reusable_at_us(Kernel("5.15", tcp_tw_reuse=1), False, 2_500_000, 0, 0)   # from 3 s
    3000000
    >>> tw_reusable_at_us(Kernel("3.10", tcp_tw_reuse=1), False, 2_500_000, 0, 0)   # from 4 s
    4000000
    >>> tw_reusable_at_us(Kernel("6.18"), False, 0, 0, 0) is None    # tcp_tw_reuse=2: loopback only
    True
    """
    if not tw_reuse_on(kernel) or (fin_wait2 and not kernel.tw_reuse_fin_wait2):
        return None
    rule = kernel.tw_reuse_check
    if rule == "delay_ms":
        delay_ms = round(kernel.tcp_tw_reuse_delay * 1000)
        entry_ms = (entry_us + phase_us) // 1000
        return (entry_ms + delay_ms + 1) * 1000 - phase_us
    stamp_s = (stamp_us + phase_us) // US
    return (stamp_s + (2 if rule == "seconds>1" else 1)) * US - phase_us


def fin_wait2_timeout_us(rto_us: int) -> int:
    """How long the timewait socket that replaces an orphaned FIN_WAIT2 socket lives (tcp_rcv_state_process
    in FIN_WAIT1 -> tcp_time_wait(sk, TCP_FIN_WAIT2, tcp_fin_time(sk))): tcp_fin_timeout (60 s) or 3.5
    RTOs if longer. The kernel keeps the full socket for the part above TCP_TIMEWAIT_LEN first; the
    model makes the timewait socket at once, for the whole time (the same port hold)."""
    return max(TIMEWAIT_LEN_US, (rto_us << 2) - (rto_us >> 1))


def fin_ack_delay_us(had_data: bool) -> int:
    """When a child that is not closing itself ACKs the client's FIN: tcp_fin puts it in pingpong mode,
    so __tcp_ack_snd_check delays the ACK (tcp_send_delayed_ack) by icsk_ack.ato: 0 for a child that
    never received data (it inherits the listener's, zeroed by inet_csk_listen_start: the delayed-ACK
    timer fires at the next tick), TCP_ATO_MIN (40 ms) once tcp_event_data_recv saw its first data."""
    return ATO_MIN_US if had_data else 0


def orphan_expired(rto_retransmits: int, elapsed_us: int) -> bool:
    """tcp_write_timeout() for a FIN nobody ACKs, on a socket its application closed (SOCK_DEAD):
    retry_until = tcp_orphan_retries() = 8, so it gives up ((2 << 8) - 1) * 200 ms = 102.2 s after
    the first RTO retransmission (retransmits_timed_out, tcp_model_timeout since 5.x)."""
    return rto_retransmits > 0 and elapsed_us >= model_timeout_us(ORPHAN_RETRIES, RTO_MIN_US)


def tw_timer_mode(kernel: Kernel) -> str:
    """The timer_wheel mode a timewait socket's timer runs in: the kernel's, except that 4.1-4.7 arm it
    with mod_timer_pinned / mod_timer_pending, which skip the slack wheel's apply_slack (the
    ``tw_timer`` fact 'per_socket_no_slack'): on the tick, as 'jiffies'."""
    if kernel.tw_timer == "per_socket_no_slack" and kernel.timer_wheel == "slack":
        return "jiffies"
    return kernel.timer_wheel
