"""Kernel behaviour profiles: the sysctls and behaviour switches of each modelled Linux version.

A profile is a named bundle of defaults. ``Kernel("3.10")`` gives the defaults of that version;
``Kernel("6.18", tcp_syncookies=0)`` overrides one of them. Two kinds of setting exist:

* **sysctls** carry their real ``/proc/sys/net`` names and the ranges the kernel accepts. A sysctl
  that a version does not have (``tcp_syn_linear_timeouts`` before 6.5) is refused for that version,
  as writing it would fail on the real kernel.
* **switches** name a behaviour that changed between versions (``young_rule``, ``synack_timer``...).
  They can be flipped on any profile, so a learner can ask "what if 3.10 had the 4.10 rule?".

Each setting documents the kernel function that implements it and the versions it holds for; the
reference is ``shared/reference/linux-handshake-facts.md`` (sections in brackets below).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .kernels import RECORDS, Absent
from .releases import match_release

VERSIONS: tuple[str, ...] = tuple(RECORDS)
"""The modelled kernels, oldest first (one record each in ``model/kernels/``). 6.18 is the kernel
this project's machines run."""

INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Setting:
    """One tunable of the model: a sysctl or a behaviour switch."""

    name: str
    kind: str  # "sysctl" or "switch"
    doc: str
    where: str  # kernel function(s) that read it
    defaults: Mapping[str, Any] = field(default_factory=dict)  # version -> default, from the records
    choices: tuple[Any, ...] | None = None
    lo: float | None = None
    hi: float | None = None
    his: Mapping[str, float] | None = None  # version -> upper bound, where it differs from ``hi``
    since: str | None = None  # the release that brought a sysctl not every modelled version has (records)
    proc: str | None = None  # a sysctl's name under /proc/sys, dotted: "net.core.somaxconn"
    side: str | None = None  # where a sysctl acts: "server" (the listener's host) or "client" (connect()'s)
    flag: str | None = None  # its option of ``handshake-course simulate``
    unit: str = ""  # the unit of the model's value: "s" for times (seconds even where /proc has ms)
    short: str = ""  # what it does, in one line (the command line's help)
    proc_per_unit: int = 1  # /proc units in one of the model's (tcp_invalid_ratelimit: 1000 ms per s)

    def from_proc(self, text: str) -> Any:
        """The model's value of what /proc/sys/<proc> holds (``sysctl -n`` prints the same)."""
        numbers = [int(x) for x in text.split()]
        if len(numbers) > 1:
            return tuple(numbers)
        return numbers[0] / self.proc_per_unit if self.proc_per_unit != 1 else numbers[0]

    def check(self, version: str, value: Any) -> Any:
        """Return ``value`` normalised, or raise ValueError naming this setting and its range."""
        if version not in self.defaults:
            came = f"it came in Linux {self.since}; " if self.since else ""
            raise ValueError(
                f"{self.name}: Linux {version} has no such sysctl ({came}the modelled kernels that have it: "
                f"{', '.join(sorted(self.defaults, key=VERSIONS.index))})"
            )
        if self.name == "ip_local_port_range":
            return _check_port_range(self, version, value)
        if self.choices is not None:
            if value not in self.choices or isinstance(value, bool) != isinstance(self.choices[0], bool):
                raise ValueError(f"{self.name} must be one of {', '.join(map(repr, self.choices))}; got {value!r}")
            return value
        hi = (self.his or {}).get(version, self.hi)
        on = f" on Linux {version}" if self.his and version in self.his else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name} must be a number from {_fmt(self.lo)} to {_fmt(hi)}{on}; got {value!r}")
        if isinstance(self.lo, int) and isinstance(hi, int) and not float(value).is_integer():
            raise ValueError(f"{self.name} must be a whole number from {self.lo} to {hi}{on}; got {value!r}")
        assert self.lo is not None and hi is not None
        if not self.lo <= value <= hi:
            raise ValueError(f"{self.name} must be from {_fmt(self.lo)} to {_fmt(hi)}{on}; got {value!r}")
        return int(value) if isinstance(self.lo, int) and isinstance(hi, int) else float(value)


def _fmt(bound: float | None) -> str:
    """A range bound as a learner reads it: 2147483647, not 2.14748e+09."""
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _check_port_range(setting: Setting, version: str, value: Any) -> tuple[int, int]:
    low_min = RECORDS[version].facts["port_range_low_min"].value
    try:
        low, high = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{setting.name} must be a pair (low, high); got {value!r}") from None
    if not (low_min <= low <= high <= 65535):
        raise ValueError(f"{setting.name} must satisfy {low_min} <= low <= high <= 65535; got {value!r}")
    return (low, high)



_SETTINGS: tuple[Setting, ...] = (
    # ---- sysctls ---------------------------------------------------------------------------
    Setting(
        "somaxconn", "sysctl",
        "Upper bound on listen()'s backlog; a larger or negative backlog becomes somaxconn [1.2]. "
        "128 until 5.3, 4096 since 5.4 (19f92a030ca6). The sysctl takes any int on 2.6.32 (proc_dointvec), "
        "at most 65535 on 3.10 (proc_dointvec_minmax with ushort_max, 5f671d6b4ec3: the backlog field is "
        "16 bits there), any int >= 0 since the field became 32 bits (net/core/sysctl_net_core.c).",
        "__sys_listen (net/socket.c), all versions",
        lo=0, hi=INT_MAX, his={"3.10": 65535},
        proc="net.core.somaxconn",
        side="server",
        flag="--somaxconn",
        unit="connections",
        short="the largest listen() backlog the kernel allows",
    ),
    Setting(
        "tcp_max_syn_backlog", "sysctl",
        "Sizes the 2.6.32/3.10 SYN table (min(backlog, this), at least 8, rounded up to a power of two) "
        "and, with syncookies off, reserves the last quarter of it for proven peers [1.3]. The default "
        "depends on memory; the values here are those of a 24 GiB machine (6.18: measured on ours).",
        "reqsk_queue_alloc (3.10); tcp_v4_conn_request (3.10) / tcp_conn_request (4.4+)",
        lo=0, hi=INT_MAX,
        proc="net.ipv4.tcp_max_syn_backlog",
        side="server",
        flag="--max-syn-backlog",
        unit="requests",
        short="sizes the 2.6.32/3.10 SYN table; with syncookies off, the last quarter of it is kept for known peers",
    ),
    Setting(
        "tcp_syncookies", "sysctl",
        "0: drop SYNs when the SYN queue is full; 1: answer them with a cookie; 2 (since 3.12): cookies "
        "for every SYN. On 2.6.32 and 3.10 the kernel accepts 2 but treats any nonzero value as 1 [1.5].",
        "tcp_syn_flood_action, cookie_v4_check; all versions",
        choices=(0, 1, 2),
        proc="net.ipv4.tcp_syncookies",
        side="server",
        flag="--syncookies",
        short="0: drop SYNs when the SYN queue is full; 1: answer them with a syncookie; 2: cookies for every SYN",
    ),
    Setting(
        "tcp_syn_retries", "sysctl",
        "How many times connect() retransmits its SYN before giving up with ETIMEDOUT; "
        "5 in 2.6.32, 6 since 3.7 [1.7].",
        "tcp_write_timeout (net/ipv4/tcp_timer.c), all versions",
        lo=1, hi=127,
        proc="net.ipv4.tcp_syn_retries",
        side="client",
        flag="--syn-retries",
        unit="retransmissions",
        short="SYN retransmissions before connect() fails with ETIMEDOUT",
    ),
    Setting(
        "tcp_synack_retries", "sysctl",
        "How many times the server retransmits a SYN-ACK before dropping the request sock [1.9].",
        "inet_csk_reqsk_queue_prune (2.6.32/3.10), reqsk_timer_handler (4.1+)",
        lo=0, hi=255,
        proc="net.ipv4.tcp_synack_retries",
        side="server",
        flag="--synack-retries",
        unit="retransmissions",
        short="SYN-ACK retransmissions before the server drops a request",
    ),
    Setting(
        "tcp_abort_on_overflow", "sysctl",
        "What the server does with a final ACK when the accept queue is full: 0 drops it and marks the "
        "request acked (the SYN-ACK is retransmitted later), 1 answers with RST [1.6].",
        "tcp_check_req (net/ipv4/tcp_minisocks.c), all versions",
        choices=(0, 1),
        proc="net.ipv4.tcp_abort_on_overflow",
        side="server",
        flag="--abort-on-overflow",
        short="when the accept queue is full: 0 drops the final ACK, 1 answers it with RST",
    ),
    Setting(
        "tcp_syn_linear_timeouts", "sysctl",
        "Since 6.5 (ccce324dabfe): the first N SYN retransmissions keep the initial RTO before the "
        "exponential backoff starts, and connect() is allowed N extra retransmissions [1.7].",
        "tcp_retransmit_timer, tcp_write_timeout (6.5+)",
        lo=0, hi=127,
        proc="net.ipv4.tcp_syn_linear_timeouts",
        side="client",
        flag="--syn-linear-timeouts",
        unit="retransmissions",
        short="6.5+: the first N SYN retransmissions keep the initial RTO (1 s) instead of doubling it",
    ),
    Setting(
        "ip_local_port_range", "sysctl",
        "The ephemeral ports connect() chooses from; 32768-61000 until 4.3, 32768-60999 since 4.4 [1.12].",
        "__inet_hash_connect (net/ipv4/inet_hashtables.c), all versions",
        proc="net.ipv4.ip_local_port_range",
        side="client",
        flag="--port-range",
        unit="ports",
        short="the ephemeral ports connect() picks from, LOW-HIGH",
    ),
    Setting(
        "tcp_invalid_ratelimit", "sysctl",
        "Minimum gap in seconds between two answers to out-of-window packets of one request sock, such "
        "as SYN-ACKs resent for retransmitted SYNs (the kernel stores milliseconds; here seconds).",
        "tcp_oow_rate_limited, called from tcp_check_req (4.0+)",
        lo=0.0, hi=INT_MAX / 1000,
        proc="net.ipv4.tcp_invalid_ratelimit",
        side="server",
        flag="--invalid-ratelimit",
        unit="s",
        short="minimum seconds between two answers to retransmitted SYNs of one request (4.0+)",
        proc_per_unit=1000,
    ),
    Setting(
        "tcp_retries2", "sysctl",
        "How long an established connection keeps retransmitting data nobody acknowledges before it "
        "fails with ETIMEDOUT: as long as that many RTOs doubling from TCP_RTO_MIN (200 ms, capped at "
        "120 s) would take, measured from the first RTO retransmission (retransmits_timed_out; "
        "tcp_model_timeout since 5.x): 924.6 s at the default 15. An int on 2.6.32 to 5.4 "
        "(proc_dointvec), a u8 since the 5.10 tree read (proc_dou8vec_minmax).",
        "tcp_write_timeout (net/ipv4/tcp_timer.c), all versions",
        lo=0, hi=INT_MAX, his={"5.10": 255, "5.15": 255, "6.1": 255, "6.6": 255, "6.8": 255, "6.12": 255,
                                "6.18": 255},
        proc="net.ipv4.tcp_retries2",
        side="client",
        flag="--retries2",
        unit="retransmissions",
        short="how long unacknowledged data is retransmitted before the connection fails (15: 924.6 s)",
    ),
    Setting(
        "tcp_tw_reuse", "sysctl",
        "Whether connect() may take the port of a TIME_WAIT socket to the same destination "
        "(tcp_twsk_unique, called by __inet_check_established while __inet_hash_connect walks the "
        "ports): 0 never, 1 once the TIME_WAIT socket's last timestamp is a second old (6.14+: "
        "tcp_tw_reuse_delay after it entered TIME_WAIT), 2 (4.18+, 79e9fed46055, and the default since) "
        "the same for loopback connections only - the model's hosts are 10.0.0.1 and 10.0.0.2, not "
        "loopback, so 2 acts as 0 here. Before 4.18 any nonzero value means 1 (proc_dointvec takes any "
        "int; the model takes 0 and up); from 4.18, 0 to 2.",
        "tcp_twsk_unique (net/ipv4/tcp_ipv4.c), all versions",
        lo=0, hi=INT_MAX, his={v: 2 for v in ("4.19", "5.4", "5.10", "5.15", "6.1", "6.6", "6.8", "6.12", "6.18")},
        proc="net.ipv4.tcp_tw_reuse",
        side="client",
        flag="--tcp-tw-reuse",
        short="whether connect() may reuse the port of a TIME_WAIT socket: 0 no, 1 yes (after ~1 s), "
              "2 only on loopback (so not between the model's two hosts)",
    ),
    Setting(
        "tcp_tw_reuse_delay", "sysctl",
        "Since 6.14 (ca6a6f93867a): how long after a socket entered TIME_WAIT tcp_tw_reuse lets "
        "connect() take its port, in seconds here (the kernel stores milliseconds, 1 to 60000: "
        "TCP_PAWS_MSL); reuse waits until the millisecond clock is past entry + delay.",
        "tcp_twsk_unique (net/ipv4/tcp_ipv4.c), 6.14+",
        lo=0.001, hi=60.0,
        proc="net.ipv4.tcp_tw_reuse_delay",
        side="client",
        flag="--tcp-tw-reuse-delay",
        unit="s",
        short="6.14+: seconds after entering TIME_WAIT before tcp_tw_reuse lets connect() take the port",
        proc_per_unit=1000,
    ),
    Setting(
        "tcp_fastopen", "sysctl",
        "TCP Fast Open's bits (3.6+; listeners 3.7+): 0x1 clients may send data in the SYN "
        "(sendto(MSG_FASTOPEN); without it sendto fails with EOPNOTSUPP and the application connects "
        "first), 0x2 listeners take it (a child socket at the SYN, within the TCP_FASTOPEN queue), 0x4 clients "
        "send it without a cookie, 0x200 listeners take it without checking one (4.4, 4.14: any SYN with data; "
        "4.19+ here: any SYN with data or a cookie option; 3.10: data without a cookie option), 0x400 listen() "
        "gives every listener a TFO queue of its backlog without the setsockopt (3.10/4.4 also 0x800: of "
        "tcp_fastopen >> 16). The default is 1 (clients only), 0 on 3.10. The model acts on these bits "
        "only (not on 3.10's 0x100, cookies not checked, and 0x1000, TFO for every SYN). proc_dointvec takes any int; the model takes 0 and up. "
        "Both hosts run the same kernel here: the client bits act on connect()'s host, the others on the "
        "listener's.",
        "tcp_sendmsg_fastopen, tcp_send_syn_data (the client); inet_listen, tcp_fastopen_check (3.10) / "
        "tcp_try_fastopen (4.4+) (the listener)",
        lo=0, hi=INT_MAX,
        proc="net.ipv4.tcp_fastopen",
        side="server",
        flag="--tcp-fastopen",
        short="TCP Fast Open: 1 clients send their request in the SYN, 2 listeners take it, 3 both "
              "(4 no cookie on clients, 512 none required by listeners, 1024 no setsockopt needed)",
    ),
    # ---- behaviour switches ------------------------------------------------------------------
    Setting(
        "tcp_timeout_init", "switch",
        "Initial RTO of the SYN and of the SYN-ACK, in seconds: TCP_TIMEOUT_INIT is 3 s until 3.0, "
        "1 s since 3.1 (9ad7c049f0f7). Changeable on a live kernel only through a BPF sock_ops program.",
        "tcp_connect_init / tcp_timeout_init; inet_csk_reqsk_queue_hash_add",
        lo=0.001, hi=120.0,
        flag="--rto-init",
        unit="s",
        short="the initial retransmission timeout of SYN and SYN-ACK, in seconds: TCP_TIMEOUT_INIT, 3 s before 3.1, 1 s since",
    ),
    Setting(
        "syn_queue_limit", "switch",
        "When the SYN queue counts as full [1.3]: 'table' - 2.6.32/3.10 hash table of "
        "roundup_pow_of_two(max(min(backlog, tcp_max_syn_backlog), 8) + 1) slots, full at qlen >= slots; "
        "'qlen>=backlog' - 4.4 to 6.12 (ef547f2ac16b); 'qlen>backlog' - 6.13+ and Jan 2025 stable (3479c7549fb1).",
        "reqsk_queue_is_full (3.10), inet_csk_reqsk_queue_is_full (4.4+)",
        choices=("table", "qlen>=backlog", "qlen>backlog"),
    ),
    Setting(
        "young_rule", "switch",
        "Before 4.10 a SYN is dropped for a full accept queue only while more than one 'young' request "
        "(no SYN-ACK timeout yet) waits; since 4.10 (5ea8ea2cb7f1) it is dropped whenever the accept "
        "queue is full [1.4].",
        "tcp_v4_conn_request (<4.10), tcp_conn_request (4.10+)",
        choices=(True, False),
    ),
    Setting(
        "synack_timer", "switch",
        "'listener_scan' - until 4.0 one listener timer ticks every 200 ms and scans part of the SYN "
        "table; 'per_request' - since 4.1 (fa76ce7328b2) each request sock has its own timer [1.9].",
        "inet_csk_reqsk_queue_prune (<4.1), reqsk_timer_handler (4.1+)",
        choices=("listener_scan", "per_request"),
    ),
    Setting(
        "syn_expiry", "switch",
        "When connect() gives up [1.7]: 'time_rto_min' - 2.6.32.2's retransmits_timed_out() measured "
        "from TCP_RTO_MIN (gives up after ~12.6 s of retries); 'time' - 3.10, elapsed time against "
        "((2 << n) - 1) * initial RTO; 'count' - 4.14.280, n (+ linear timeouts, where the kernel has "
        "them) retransmissions and no time test in SYN states (tcp_timer.c:211-212); 'count_or_time' - 4.19 "
        "and 5.x/6.x, n (+ linear timeouts) retransmissions, or that time. With the initial RTO doubling "
        "to TCP_RTO_MAX the count and the time agree; they part where the time is measured from another "
        "base (2.6.32.2) or the first retransmissions keep the initial RTO (6.5+ linear timeouts).",
        "tcp_write_timeout, retransmits_timed_out",
        choices=("time_rto_min", "time", "count", "count_or_time"),
    ),
    Setting(
        "port_selection", "switch",
        "How connect() picks its ephemeral port [1.12]: 'hint' - 3.10 sequential scan from a keyed "
        "hash plus a global hint; 'hint_even' - 4.4 to 4.5 (07f4c90062f8): the same scan from an even "
        "offset, i from 0, hint += (i + 2) & ~1; 'hint_even_first' - 4.6 (1580ab63fc9a) to 5.11, 4.14.y before the 2022 backports: one "
        "global hint, offset = ((hint + port_offset) % remaining) & ~1, ports of low's parity first in steps of "
        "2, then the other parity, hint += i + 2 (4.14.280; its 32-bit hash re-salted every 10 s); "
        "'even_first' - 5.12 to the early 5.15.y perturbation table (256 "
        "slots), even ports first, table += i + 2; 'even_first_random' - the 2022 hardening (4c2c8f03a5ab "
        "and its stable backports, in 4.19.255, 5.15.55 and 6.x; in 4.14.286 per the stable revision list, "
        "not read in a tree): 65536 slots, random even steps, re-salted every 10 s.",
        "__inet_hash_connect (net/ipv4/inet_hashtables.c)",
        choices=("hint", "hint_even", "hint_even_first", "even_first", "even_first_random"),
    ),
    Setting(
        "cookie_window", "switch",
        "How long after the last SYN-queue overflow a cookie ACK is still checked, in seconds: "
        "3 s in 2.6.32 and 3.10 (TCP_TIMEOUT_FALLBACK), 120 s (TCP_SYNCOOKIE_VALID) in every later kernel read, "
        "4.4.302 included [1.5].",
        "tcp_synq_no_recent_overflow",
        lo=0.0, hi=600.0,
    ),
    Setting(
        "timer_wheel", "switch",
        "How late kernel timers fire (see model/timers.py): 'off' - exactly on time, the textbook "
        "picture; 'jiffies' - at the next tick (2.6.32); 'slack' - apply_slack() rounding, up to "
        "delta/256 late (2.6.34-4.7); 'wheel' - the 4.8+ timer wheel, rounded up to its level's "
        "granularity (at HZ=250: a 1 s timer 4-32 ms late, a 32 s timer up to 2 s), which also makes "
        "clients that wait on timers armed a few ms apart retransmit together.",
        "mod_timer, calc_wheel_index (kernel/time/timer.c)",
        choices=("off", "jiffies", "slack", "wheel"),
    ),
    Setting(
        "hz", "switch",
        "Timer ticks per second (CONFIG_HZ): 1000 on the RHEL/CentOS builds of 2.6.32 and 3.10, 250 on "
        "Debian and Ubuntu builds of 5.15 and 6.18 (this project's machines: 250).",
        "jiffies",
        choices=(100, 250, 300, 1000),
    ),
    Setting(
        "timeouts_every_rto", "switch",
        "TCPTimeouts counts every RTO of a connecting socket, the final one included (5.x/6.x); before "
        "(2.6.32, 3.10) only the first RTO, when icsk_retransmits == 0, and not the one that gives up. "
        "The same holds for the RTOs of a client's data (tcp_retransmit_timer serves both).",
        "tcp_retransmit_timer",
        choices=(True, False),
    ),
    Setting(
        "tail_loss_probe", "switch",
        "The first retransmission of a lone data segment nobody ACKs (tcp_schedule_loss_probe, with "
        "tcp_early_retrans at its default 3): 'off' - none, the RTO retransmits (2.6.32, which has no "
        "TLP; or tcp_early_retrans 0-2); '1.5rtt+delack' - 3.10 to 4.12: a loss probe after "
        "max(2 srtt, 1.5 srtt + TCP_DELACK_MAX (200 ms), 10 ms); '2srtt+rto_min' - 4.13+: after 2 srtt + "
        "TCP_RTO_MIN (200 ms). Never later than the RTO: when the RTO is sooner the probe fires then, in "
        "its place. The RTO is re-armed in full after the probe.",
        "tcp_schedule_loss_probe, tcp_send_loss_probe (net/ipv4/tcp_output.c)",
        choices=("off", "1.5rtt+delack", "2srtt+rto_min"),
    ),
)

def _from_records(setting: Setting) -> Setting:
    """The setting with its defaults per version, and the release that brought it, as the records state."""
    entries = {r.version: r.settings[setting.name] for r in RECORDS.values()}
    absent = {e.since for e in entries.values() if isinstance(e, Absent)}
    defaults = {v: e.value for v, e in entries.items() if not isinstance(e, Absent)}
    return replace(setting, defaults=MappingProxyType(defaults), since=absent.pop() if absent else None)


_SETTINGS = tuple(_from_records(s) for s in _SETTINGS)
SETTINGS: Mapping[str, Setting] = MappingProxyType({s.name: s for s in _SETTINGS})
"""Every tunable of the model by name: the one home of its range, defaults per version, the kernel
code that reads it and, for a sysctl, its /proc name, the host it acts on, its command-line option
and unit (the command line, the lab and the README's lists are made from or checked against it)."""


def sysctls(side: str | None = None) -> list[Setting]:
    """The settings that are sysctls of a live kernel (with a /proc name), of one side or both."""
    return [s for s in _SETTINGS if s.proc is not None and side in (None, s.side)]

# Facts of a version that are not tunable (constants, counters that exist, log formats), and the
# release each profile was read from: see kernels/record.py FACTS.
_FIXED: dict[str, dict[str, Any]] = {
    version: {"release": record.release, **{name: fact.value for name, fact in record.facts.items()}}
    for version, record in RECORDS.items()
}

TCP_RTO_MAX = 120.0
"""Seconds; the cap of every RTO and the unit of the linear part of the give-up time (include/net/tcp.h)."""
TCP_RTO_MIN = 0.2
"""Seconds; 2.6.32.2 measures the SYN give-up time in these units (see ``syn_expiry``); the floor of
the RTT variance in every RTO computed from a measurement (tcp_rtt_estimator)."""
TCP_DELACK_MAX = 0.2
"""Seconds (HZ/5, include/net/tcp.h, all versions): the 3.10-4.12 loss probe allows this for a delayed ACK."""
TCP_SYNQ_INTERVAL = 0.2
"""Seconds between two scans of the SYN table by the 2.6.32/3.10 listener timer."""


class Kernel:
    """A Linux kernel version with sysctl and switch overrides. Immutable and hashable.

    >>> Kernel("3.10").somaxconn
    128
    >>> Kernel("6.18", tcp_syn_linear_timeouts=0).tcp_syn_linear_timeouts
    0
    """

    def __init__(self, version: str = "6.18", **settings: Any) -> None:
        version = str(version)
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}; got {version!r}")
        values: dict[str, Any] = {n: s.defaults[version] for n, s in SETTINGS.items() if version in s.defaults}
        for name, value in settings.items():
            if name not in SETTINGS:
                raise ValueError(
                    f"unknown sysctl or switch {name!r}; known: {', '.join(sorted(SETTINGS))}"
                )
            values[name] = SETTINGS[name].check(version, value)
        attrs = self.__dict__  # plain attributes: the simulation reads them in its hot loop
        attrs.update(_FIXED[version])
        attrs.update(values)
        attrs["version"] = version
        attrs["_values"] = MappingProxyType(values)
        attrs["_overrides"] = MappingProxyType(dict(settings))
        attrs["_hash"] = hash((version, tuple(sorted((k, repr(v)) for k, v in values.items()))))

    @classmethod
    def nearest(cls, release: str, **settings: Any) -> Kernel:
        """The profile for a running kernel, from its ``uname -r`` (``platform.release()``): the newest
        modelled series not newer than it. ``model.match_release`` says how close that is.

        >>> Kernel.nearest("5.15.0-91-generic").version
        '5.15'
        """
        return cls(match_release(release).version, **settings)

    def __getattr__(self, name: str) -> Any:
        """Only reached for names that are not set: a sysctl this version lacks, or a typo."""
        if name in SETTINGS and not name.startswith("_"):
            return SETTINGS[name].check(self.__dict__["version"], None)  # raises: this version lacks it
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Kernel is immutable; make a new one with Kernel(version, **settings)")

    def has(self, name: str) -> bool:
        """Whether this version has the sysctl ``name``."""
        return name in self._values

    @property
    def settings(self) -> Mapping[str, Any]:
        """Every sysctl and switch of this kernel with its value."""
        return self._values

    @property
    def overrides(self) -> Mapping[str, Any]:
        """The settings given explicitly, as passed."""
        return self._overrides

    @property
    def tcp_syncookies_effective(self) -> int:
        """tcp_syncookies as the kernel acts on it: before 3.12 any nonzero value means 1."""
        value = self._values["tcp_syncookies"]
        return value if self.syncookies_always else min(value, 1)

    def replace(self, **settings: Any) -> Kernel:
        """A copy with more overrides."""
        return Kernel(self.version, **{**self._overrides, **settings})

    def __eq__(self, other: object) -> bool:
        # the mappings compared as they are (copying them to dicts took 2 us, and the rules' caches, keyed by
        # kernel, compare an equal kernel of another Scenario at every call)
        return isinstance(other, Kernel) and self.version == other.version and self._values == other._values

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (and deep-copied) as its version and overrides, so a Scenario or a Result can go to
        another process (a sweep over a process pool) and come back."""
        return _kernel, (type(self), self.version, dict(self._overrides))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._overrides.items())
        return f"Kernel({self.version!r}{extra})"


def _kernel(cls: type[Kernel], version: str, overrides: dict[str, Any]) -> Kernel:
    """``cls(version, **overrides)``: how a pickled Kernel is made again."""
    return cls(version, **overrides)


def as_kernel(kernel: Kernel | str) -> Kernel:
    """Accept a Kernel or a bare version string."""
    return kernel if isinstance(kernel, Kernel) else Kernel(kernel)
