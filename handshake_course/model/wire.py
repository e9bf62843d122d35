"""What the model's packets carry on the wire: addresses and ports, sequence and acknowledgement
numbers, flags, windows and TCP options, as each modelled kernel would write them.

The simulation decides what is sent and when (``result.packets``) and why (``result.trace``); this
module decides what those segments say, so that a run can be written as a capture that Wireshark
reads as it would read the kernel's (``Result.to_pcap``, ``handshake_course.capture``). Standard
library only, like the rest of the model.

* **Addresses**: the client host and the listener of ``model.ports`` (``SADDR``, ``DADDR:DPORT``,
  the address the kernel log line names) and each client's ephemeral port. Flood SYNs come from
  spoofed sources in 203.0.113.0/24 (TEST-NET-3, RFC 5737) with random ports, drawn from the seed,
  never the same (address, port) twice.
* **ISNs**: ``secure_tcp_seq``: a keyed hash of the 4-tuple plus a clock of 64 ns (seq_scale:
  2.6.32 drivers/char/random.c:1606, 3.10 net/core/secure_seq.c:48, 6.18 net/core/secure_seq.c:45),
  keyed here from the seed. A request sock gets its own ISN (a new request after an old one expired
  gets a new one); its retransmitted SYN-ACKs repeat it, and the TSval they echo: that of the SYN
  that made the request (req->ts_recent; tcp_check_req leaves it for a resent SYN). A cookie SYN-ACK
  carries the cookie as its ISN (``Keys.cookie``: secure_tcp_syn_cookie, the MSS index in the low
  bits, the minute counter in the top 8), which ``Keys.check_cookie`` undoes as cookie_v4_check
  does. Within one minute a retransmitted SYN gets the same cookie again, so a capture shows it as a
  retransmission.
* **Options**: the record's ``handshake_options`` in tcp_options_write's order, the record's
  ``rcv_wscale``, MSS 1460 (an Ethernet path, MTU 1500), timestamps counting the record's
  ``ts_clock`` (both hosts read the model's one tick counter; ``ms`` kernels add a keyed offset per
  connection and direction, as secure_tcp_ts_off does). A cookie SYN-ACK keeps the options only
  when the SYN had timestamps, and hides the SYN's window scale and SACK in its timestamp's low bits
  (the record's ``cookie_ts_layout``); without timestamps tcp_clear_options leaves it the MSS alone
  (2.6.32 net/ipv4/tcp_ipv4.c:1265, 3.10 net/ipv4/tcp_ipv4.c:1529, 6.18 net/ipv4/tcp_input.c:7467).
  The flood's SYNs carry no options and a window of 64 (hping3's defaults), so the listener answers
  them with the MSS option alone and a cookie encodes the default MSS, 536.
* **Windows**: 64240 on a SYN and a SYN-ACK (44 segments of 1460: what 4.20+ kernels offer on
  Ethernet; older kernels offer less, which the model does not record), scaled on the third ACK and
  on every segment after it.
* **Requests** (``Scenario(data=True)``): the model has no sizes, so every client writes the same
  ``REQUEST``, a 100-byte HTTP GET, in one segment: PSH|ACK, sequence number ISN + 1, acknowledging
  the SYN-ACK it connected with, timestamps as on its ACK; a loss probe or an RTO resends the same
  bytes. The child ACKs them (sequence number its ISN + 1, ACK number past the request), echoing the
  TSval of the DATA that arrived; a copy it already held gets a D-SACK block naming those bytes
  (tcp_data_queue's tcp_dsack_set). A client's ACK sent after its request carries the sequence
  number past it. RSTs answering a DATA are those answering a bare ACK (tcp_v4_send_reset: the
  segment's ACK number as the sequence number).
* **The close** (``Scenario(hold=...)``): the client's FIN is FIN|ACK with the sequence number past
  its request (if it wrote one), acknowledging the SYN-ACK it connected with; the child's ACK of it
  (its delayed ACK, or at once for a copy: tcp_send_ack) and the server's own FIN (FIN|ACK, the
  application's close) acknowledge the FIN's one sequence number; the client's ACK of the server's
  FIN acknowledges that one. Resent FINs repeat their numbers, so Wireshark calls them
  retransmissions; timestamps echo the TSval of the last segment that arrived from the other host
  (ts_recent). A connect() that takes the port of a TIME_WAIT socket (tcp_tw_reuse) starts its
  sequence numbers 65537 past where the old connection ended, as tcp_twsk_unique sets write_seq
  (2.6.32 net/ipv4/tcp_ipv4.c:130, 3.10 :128, 6.18 :190), instead of secure_tcp_seq.
* **TCP Fast Open** (``Scenario(fastopen=...)``, the client bit of ``tcp_fastopen``): a client's
  first SYN (tcp_send_syn_data) carries a cookie request - an empty cookie option - or the
  ``REQUEST`` as its payload with the cookie its host cached (none with tcp_fastopen 0x4:
  TFO_CLIENT_NO_COOKIE), SYN alone (syn_data takes the SYN's control block: 3.10
  net/ipv4/tcp_output.c:2929, 6.18 :4193; the copy kept to resend the data becomes ACK|PSH after it
  left, :2952, :4232); its resent SYNs carry neither ("Exclude Fast Open option for SYN retries":
  3.10 net/ipv4/tcp_output.c:2967, 4.4 :3292, 6.18 :4252). The option comes last, after NOP and
  WSCALE (tcp_options_write: 3.10 net/ipv4/tcp_output.c:480, 6.18 :777), in the record's
  ``fastopen_option`` form: 3.10's experimental kind 254 with magic 0xF989, 4.4+ RFC 7413's kind 34
  and two NOPs (an option length of 2 mod 4 is padded). The cookie is TCP_FASTOPEN_COOKIE_SIZE (8)
  bytes, a keyed hash of the client's address (``Keys.fastopen_cookie``; the kernel's AES of the
  source address, 3.10 net/ipv4/tcp_fastopen.c:67, of source and destination from 4.x, siphash since
  5.x: 6.18 net/ipv4/tcp_fastopen.c:215 - the model's hosts have one address each, so the same
  cookie all run). The listener's SYN-ACK carries a cookie exactly where tcp_fastopen_check /
  tcp_try_fastopen leave ``foc`` with a length >= 0 (``synack_cookie``): a cookie request it answers
  (outcome "cookie"), and on 4.4+ a valid cookie whose child the full accept queue refused
  (valid_foc is copied back: 4.4 net/ipv4/tcp_fastopen.c:305, 6.18 :501), unless 0x200 skipped the
  check; never for a child (foc->len = -1: 4.4 :295, 6.18 :489), an overflow or a SYN it ignored
  (:272, :454), nor on a resent SYN-ACK (tcp_rtx_synack passes no foc: 4.4
  net/ipv4/tcp_output.c:3575, 6.18 :4606). A TFO child's SYN-ACK, first or resent, acknowledges its
  rcv_nxt: past the SYN's data when it took some (3.10 tcp_fastopen_check, net/ipv4/tcp_ipv4.c:1350,
  :1363; 4.4 net/ipv4/tcp_fastopen.c:210; 6.18 :284, :378), else ISN + 1. The client then ACKs with
  the sequence number past its data (synack_in_fastopen_acked), or sends the data again at ISN + 1,
  PSH|ACK, when the SYN-ACK did not acknowledge it (synack_in_fastopen_fail; tcp_send_syn_data
  queued it as ACK|PSH); a cookie request's ACK rides on the request (synack_in_cookie,
  synack_in_no_cookie send nothing). An RST answering a SYN-ACK takes that SYN-ACK's ACK number as
  its sequence number.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .actions import DATA_TWINS, FIN_TWINS
from .clock import US, to_seconds
from .ports import DADDR, DPORT, SADDR
from .result import KINDS, SENDERS, ClientRecord, packet_fields, trace_fields
from .rules import fastopen_cookie_waived, fastopen_syn_carries, synack_timeout_us
from .timers import TimerBase

if TYPE_CHECKING:
    from .profiles import Kernel
    from .result import Result

CLIENT_ADDR, SERVER_ADDR, SERVER_PORT = SADDR, DADDR, DPORT
FLOOD_NET = "203.0.113.0/24"
"""Where spoofed flood SYNs come from: TEST-NET-3 (RFC 5737), never routed on the Internet."""
FLOOD_PORTS = (1024, 65535)
FLOOD_WINDOW = 64  # hping3's default window; its SYNs carry no options
MSS = 1460  # what tcp_advertise_mss gives on an Ethernet path (MTU 1500 - 20 - 20)
TCP_MSS_DEFAULT = 536  # include/net/tcp.h: the MSS a SYN without the option is taken to have
WINDOW = 64240  # on a SYN and a SYN-ACK: 44 * 1460 (4.20+ kernels on Ethernet)
COOKIEBITS = 24  # syncookies.c: the minute counter lives above these bits
COOKIE_AGE_MINUTES = 2  # MAX_SYNCOOKIE_AGE (4.4+); check_cookie's default

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TW_REUSE_SEQ_GAP = 65535 + 2  # tcp_twsk_unique: write_seq = tw_snd_nxt + 65535 + 2
OPTION_KINDS = {"EOL": 0, "NOP": 1, "MSS": 2, "WSCALE": 3, "SACK_PERM": 4, "SACK": 5, "TIMESTAMP": 8,
                "FASTOPEN": 34, "EXP": 254}
"""TCP option kinds (IANA), by the names the records use; FASTOPEN is RFC 7413's TCP Fast Open
cookie, EXP the experimental kind 3.10 writes it in (with TCPOPT_FASTOPEN_MAGIC)."""
_NOP, _MSS, _WSCALE, _SACK_PERM, _SACK, _TS = (OPTION_KINDS[n] for n in ("NOP", "MSS", "WSCALE", "SACK_PERM", "SACK",
                                                                        "TIMESTAMP"))
TCPOPT_FASTOPEN, TCPOPT_EXP = OPTION_KINDS["FASTOPEN"], OPTION_KINDS["EXP"]  # include/net/tcp.h (4.4 :184-185)
TCPOPT_FASTOPEN_MAGIC = 0xF989  # include/net/tcp.h (3.10 :186, 6.18 :226): the experimental option's identifier
TCP_FASTOPEN_COOKIE_SIZE = 8  # include/linux/tcp.h (3.10 :56, 6.18 :87): the cookies Linux makes
REQUEST = (f"GET / HTTP/1.1\r\nHost: {SERVER_ADDR}:{SERVER_PORT}\r\nUser-Agent: handshake-course\r\n"
           "Accept: */*\r\nPragma: no-cache\r\n\r\n").encode()
"""The request every client of ``Scenario(data=True)`` writes, the payload of its DATA segments. The
model has no sizes, so this one is chosen: a 100-byte HTTP/1.1 GET for the listener (Wireshark
dissects port 8080 as HTTP), one segment well under the MSS, as a small HTTP request is."""

Option = tuple[int, bytes]
"""One TCP option: its kind and its data (without the kind and length bytes)."""

_MASK32 = 0xFFFFFFFF
_CLIENT, _SERVER, _FLOOD = (SENDERS.index(s) for s in ("client", "server", "flood"))

# The actions that put a packet on the wire, and its kind (actions.py: each sends one, or none).
SENDS = {
    "connect": "SYN", "syn_rto_first": "SYN", "syn_rto": "SYN",
    "synack_in": "ACK", "synack_again": "ACK", "no_socket_rst": "RST",
    "no_listener_rst": "RST", "syn_new": "SYN-ACK", "syn_cookie": "SYN-ACK", "syn_again": "SYN-ACK",
    "synack_rto": "SYN-ACK", "ack_wrong_isn": "RST", "ack_no_request": "RST", "ack_cookie_invalid": "RST",
    "ack_accept_queue_full_abort": "RST",
    "data_send": "DATA", "data_tlp": "DATA", "data_rto_first": "DATA", "data_rto": "DATA",
    "data_in": "ACK", "data_in_new_child": "ACK", "data_again": "ACK",
    # TCP Fast Open (a TFO client's first SYN is its connect's; fastopen_syn_request and fastopen_syn_data say
    # what it carries; synack_in_cookie and synack_in_no_cookie send nothing: the request carries the ACK)
    "synack_in_fastopen_acked": "ACK", "synack_in_fastopen_fail": "DATA", "syn_again_fastopen": "SYN-ACK",
    "fastopen_synack_rto": "SYN-ACK",
    # the close (model/hosts/teardown.py)
    "connect_tw_reuse": "SYN",
    "close": "FIN", "fin_tlp": "FIN", "fin_rto_first": "FIN", "fin_rto": "FIN",
    "close_passive": "FIN", "passive_fin_tlp": "FIN", "passive_fin_rto_first": "FIN", "passive_fin_rto": "FIN",
    "fin_delack": "ACK", "fin_again": "ACK", "fin_in": "ACK", "fin_in_fin_wait2": "ACK", "fin_again_time_wait": "ACK",
    **{f"syn_fastopen_{kind}_{outcome}": "SYN-ACK" for kind in ("request", "cookie", "data")
       for outcome in ("child", "cookie", "overflow", "full", "ignored") if outcome != "cookie" or kind == "request"},
}
# a DATA or a FIN that meets a request or a cookie sends what the final ACK it stands for sends
SENDS.update({twin: SENDS[name] for twins in (DATA_TWINS, FIN_TWINS) for twin, (name, _) in twins.items()
              if name in SENDS})

_FLOOD_EVENTS = frozenset({"syn_new", "syn_cookie", "synack_rto", "synack_give_up"})
_CLIENT_FINS = frozenset({"close", "fin_tlp", "fin_rto_first", "fin_rto"})
_SERVER_FINS = frozenset({"close_passive", "passive_fin_tlp", "passive_fin_rto_first", "passive_fin_rto"})
_FIN_ACKS = frozenset({"fin_delack", "fin_again", "fin_in", "fin_in_fin_wait2", "fin_again_time_wait"})
"""The ACKs of the other host's FIN (the first two the server's, the rest the client's)."""
_DATA_ACKS = frozenset({"data_in", "data_in_new_child", "data_again"})  # the child's ACKs of a request


def sends(kernel: Kernel, name: str) -> str | None:
    """The kind of packet the kernel action ``name`` puts on the wire on ``kernel`` (``SENDS``), or None:
    a TFO SYN whose child the full accept queue refused gets no SYN-ACK from tcp_fastopen_check's
    listener (3.10 tcp_v4_conn_request: tcp_v4_conn_req_fastopen fails, drop_and_free,
    net/ipv4/tcp_ipv4.c:1632), a regular one from tcp_try_fastopen's (hosts.fastopen)."""
    if name.startswith("syn_fastopen_") and name.endswith("_full") and kernel.fastopen_server == "tcp_fastopen_check":
        return None
    return SENDS.get(name)


@dataclass(frozen=True, slots=True)
class Segment:
    """One packet of a run as it is on the wire. ``time`` is when it was sent and ``arrives`` when
    it arrived (None: lost), in seconds of the model's clock; the rest is its IP and TCP header."""

    time: float
    arrives: float | None
    sender: str  # "client", "server" or "flood"
    kind: str  # KINDS
    client: int | None  # None: a flood SYN or the listener's answer to one
    retransmission: bool  # as the model marks it: the kernel sent it again
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    options: tuple[Option, ...]
    cookie: bool = False  # a SYN-ACK whose ISN is a syncookie
    payload: bytes = b""  # the TCP data: a DATA segment's REQUEST (a TFO SYN's too), else nothing

    @property
    def lost(self) -> bool:
        return self.arrives is None


def options_write(mss: int | None, timestamps: tuple[int, int] | None, sack: bool,
                  wscale: int | None) -> tuple[Option, ...]:
    """The options of a SYN or SYN-ACK in tcp_options_write's order: MSS; SACK_PERM and TIMESTAMP in
    one word (two NOPs instead of SACK_PERM without SACK); SACK_PERM after two NOPs when there are no
    timestamps; NOP and WSCALE. ``timestamps`` is (TSval, TSecr) or None."""
    out: list[Option] = []
    if mss is not None:
        out.append((_MSS, mss.to_bytes(2, "big")))
    if timestamps is not None:
        out += [(_SACK_PERM, b"")] if sack else [(_NOP, b""), (_NOP, b"")]
        tsval, tsecr = timestamps
        out.append((_TS, (tsval & _MASK32).to_bytes(4, "big") + (tsecr & _MASK32).to_bytes(4, "big")))
    elif sack:
        out += [(_NOP, b""), (_NOP, b""), (_SACK_PERM, b"")]
    if wscale is not None:
        out += [(_NOP, b""), (_WSCALE, bytes([wscale]))]
    return tuple(out)


def fastopen_option(kernel: Kernel, cookie: bytes) -> tuple[Option, ...]:
    """The TCP Fast Open option carrying ``cookie`` (empty: a cookie request) as tcp_options_write
    writes it on ``kernel`` (the record's ``fastopen_option``): the experimental kind 254 with
    TCPOPT_FASTOPEN_MAGIC before the cookie (3.10), or RFC 7413's kind 34; either padded with two NOPs
    when its length is 2 mod 4 (3.10 net/ipv4/tcp_output.c:480-492, 6.18 :777-800). tcp_syn_options
    and tcp_synack_options add it after every other option, and it fits: the handshake's 20 bytes
    leave 20, a cookie option takes 12."""
    form = kernel.fastopen_option
    if form == "experimental":
        option: Option = (TCPOPT_EXP, TCPOPT_FASTOPEN_MAGIC.to_bytes(2, "big") + cookie)
    elif form == "rfc7413":
        option = (TCPOPT_FASTOPEN, cookie)
    else:
        raise ValueError(f"Linux {kernel.version} has no TCP Fast Open option")
    padding = ((_NOP, b""), (_NOP, b"")) if (2 + len(option[1])) % 4 == 2 else ()
    return (option, *padding)


def synack_cookie(kernel: Kernel, action: str) -> bool:
    """Whether the SYN-ACK the listener's action ``action`` sends carries a Fast Open cookie: where
    tcp_fastopen_check (3.10) or tcp_try_fastopen (4.4+) leaves ``foc`` with a length >= 0. A cookie
    request answered ("syn_fastopen_request_cookie": 3.10 net/ipv4/tcp_ipv4.c:1366 and :1609, 4.4
    net/ipv4/tcp_fastopen.c:280 and :305, 6.18 :463 and :501); on 4.4+ a cookie checked and valid
    whose child the full accept queue refused ("syn_fastopen_cookie_full": the same valid_foc
    copied back, "ack the ISN only but includes the same cookie"), unless tcp_fastopen's 0x200 sent
    the SYN to the child without the check (valid_foc never made; 3.10 drops a refused child's SYN:
    no SYN-ACK at all). Never a child's (foc->len = -1), an overflow's or an ignored SYN's, nor a
    resent SYN-ACK (tcp_rtx_synack passes no foc)."""
    if not action.startswith("syn_fastopen_"):
        return False
    kind, outcome = action.removeprefix("syn_fastopen_").split("_")
    if outcome == "cookie":
        return True
    return outcome == "full" and kind == "cookie" and not fastopen_cookie_waived(kernel, kind)


def option_names(options: tuple[Option, ...]) -> tuple[str, ...]:
    """The options' kinds by name, in order: ("MSS", "SACK_PERM", "TIMESTAMP", "NOP", "WSCALE")."""
    names = {kind: name for name, kind in OPTION_KINDS.items()}
    return tuple(names.get(kind, str(kind)) for kind, _ in options)


def cookie_mss_index(kernel: Kernel, mss: int) -> int:
    """The index cookie_v4_init_sequence encodes: the largest msstab entry not above ``mss`` (0 if none)."""
    table = kernel.cookie_mss_table
    return max((i for i, value in enumerate(table) if value <= mss), default=0)


def cookie_timestamp(kernel: Kernel, now: int, wscale: int | None, sack: bool, rcv_wscale: int) -> int:
    """cookie_init_timestamp: the clock ``now`` with its low bits replaced by the SYN's window scale
    and SACK (record ``cookie_ts_layout``), one step back if that would be in the future."""
    if kernel.cookie_ts_layout == "tsbits9":
        bits, options = 9, ((wscale | rcv_wscale << 4) if wscale is not None else 0) | int(sack) << 8
    else:
        bits, options = 6, (wscale if wscale is not None else 0xF) | int(sack) << 4
    ts = (now >> bits) << bits | options
    if ts > now:
        ts -= 1 << bits
    return ts & _MASK32


class Keys:
    """The hosts' secrets (boot-time random keys in the kernel), from the scenario's seed: the ISN
    and timestamp-offset hashes and the two syncookie hashes."""

    def __init__(self, seed: int) -> None:
        self.secret = hashlib.sha256(f"wire-secret:{seed}".encode()).digest()[:32]

    def hash32(self, *parts: object) -> int:
        """A keyed 32-bit hash (the kernel uses siphash; any keyed hash will do here)."""
        text = "|".join(map(str, parts)).encode()
        return int.from_bytes(hashlib.blake2b(text, key=self.secret, digest_size=4).digest(), "big")

    def isn(self, src: str, sport: int, dst: str, dport: int, now_us: int) -> int:
        """secure_tcp_seq: hash of the 4-tuple plus the real-time clock in 64 ns units."""
        return (self.hash32("isn", src, sport, dst, dport) + (now_us * 1000 >> 6)) & _MASK32

    def fastopen_cookie(self, client: str) -> bytes:
        """The listener's TCP Fast Open cookie for a client address: TCP_FASTOPEN_COOKIE_SIZE bytes of a
        keyed hash (tcp_fastopen_cookie_gen: AES of the source address on 3.10, of source and
        destination on 4.4-4.19, siphash of both since 5.x; the one server address adds nothing)."""
        text = f"fastopen|{client}".encode()
        return hashlib.blake2b(text, key=self.secret, digest_size=TCP_FASTOPEN_COOKIE_SIZE).digest()

    def cookie(self, syn: tuple[str, int, str, int], client_isn: int, count: int, mss_index: int) -> int:
        """secure_tcp_syn_cookie for a SYN (src, sport, dst, dport) with ISN ``client_isn``."""
        first = self.hash32("cookie", 0, *syn, 0)
        second = self.hash32("cookie", 1, *syn, count)
        mask = (1 << COOKIEBITS) - 1
        return (first + client_isn + (count << COOKIEBITS) + ((second + mss_index) & mask)) & _MASK32

    def check_cookie(self, cookie: int, syn: tuple[str, int, str, int], client_isn: int, count: int,
                     max_age: int = COOKIE_AGE_MINUTES) -> int | None:
        """check_tcp_syn_cookie: the MSS index ``cookie`` encodes if it was made for this SYN less than
        ``max_age`` minute counts before ``count``, else None."""
        rest = (cookie - self.hash32("cookie", 0, *syn, 0) - client_isn) & _MASK32
        age = (count - (rest >> COOKIEBITS)) & (_MASK32 >> COOKIEBITS)
        if age >= max_age:
            return None
        return (rest - self.hash32("cookie", 1, *syn, count - age)) & ((1 << COOKIEBITS) - 1)


class Clocks:
    """The hosts' clocks as the wire shows them: the model's tick counter (where jiffies stood at t=0
    comes from the scenario, as for its timers), and what timestamps count."""

    def __init__(self, result: Result) -> None:
        sc, self.k = result.scenario, result.kernel
        self.timers = TimerBase(self.k.timer_wheel, self.k.hz, sc.seed, sc.jiffies)

    def jiffies(self, t: int) -> int:
        """The tick counter at ``t`` us (TimerBase's jiffies at t=0, and how far into a tick)."""
        return (t + self.timers.phase_us) // self.timers.jiffy_us + self.timers.jiffies0

    def ts(self, t: int) -> int:
        """What a timestamp counts at ``t`` before any offset: jiffies, or milliseconds of uptime."""
        if self.k.ts_clock == "jiffies":
            return self.jiffies(t) & _MASK32
        return (self.timers.jiffies0 * self.timers.jiffy_us + self.timers.phase_us + t) // 1000 & _MASK32

    def cookie_counter(self, t: int) -> int:
        """tcp_cookie_time: jiffies / TCP_SYNCOOKIE_PERIOD (60 * HZ)."""
        return self.jiffies(t) // (60 * self.k.hz)


@dataclass
class _Flow:
    """What the replay knows of one connection attempt (a client's, or a flood SYN's)."""

    src: str
    sport: int
    isn: int
    syns: deque[tuple[int, int, int]] = field(default_factory=deque)  # (arrival us, TSval, end seq) in flight
    ts_recent: int = 0  # the TSval SYN-ACKs echo: that of the SYN that made the request (req->ts_recent)
    synacks: deque[tuple[int, int, int, int]] = field(default_factory=deque)  # (arrival, ISN, TSval, ACK) in flight
    fastopen: str | None = None  # what a TFO client's first SYN carries: rules.fastopen_syn_carries
    syn_sent: bool = False  # its first SYN is out: the others carry no Fast Open option and no data
    child_ack: int | None = None  # a TFO child's rcv_nxt: what its SYN-ACKs acknowledge
    request_isn: int | None = None  # the pending request sock's ISN
    connected: tuple[int, int] | None = None  # (ISN, TSval) of the SYN-ACK the client connected with
    timeouts: int = 0  # a flood request's SYN-ACK timeouts
    data_sent: bool = False  # the client wrote its request: its sequence number is past it
    datas: deque[tuple[int, int]] = field(default_factory=deque)  # (arrival, TSval) of DATA in flight
    data_ts_recent: int = 0  # TSval of the last DATA that reached the server
    data_acks: deque[int] = field(default_factory=deque)  # arrivals of the server's ACKs of the data in flight
    fin_sent: bool = False  # the client sent its FIN: one more sequence number
    server_fin_sent: bool = False  # the server sent its FIN
    to_server: deque[tuple[int, int]] = field(default_factory=deque)  # (arrival, TSval) of the client's FINs
    to_client: deque[tuple[int, int]] = field(default_factory=deque)  # (arrival, TSval) of the server's segments
    server_fins: deque[int] = field(default_factory=deque)  # arrivals of the server's FINs in flight
    client_recent: int = 0  # the TSval the client echoes in the close: the last server segment's
    server_recent: int = 0  # the TSval the server echoes in the close: the last client FIN's

    def client_seq(self) -> int:
        """The client's next sequence number: past the SYN, its request if written, its FIN if sent."""
        return self.isn + 1 + (len(REQUEST) if self.data_sent else 0) + self.fin_sent


@dataclass(frozen=True, slots=True)
class _Header:
    """The TCP header fields (and payload) one kernel action writes; a bare RST by default."""

    seq: int
    ack: int = 0
    flags: int = RST
    window: int = 0
    options: tuple[Option, ...] = ()
    cookie: bool = False
    payload: bytes = b""


class _Replay:
    """Walks a run's packets in sending order beside the kernel actions that sent them and gives
    each the header fields its kernel would have written."""

    def __init__(self, result: Result) -> None:
        sc, self.k = result.scenario, result.kernel
        self.keys = Keys(sc.seed)
        self.clocks = Clocks(result)
        self.one_way = result.packets.one_way_us
        self.actions: dict[int, deque[tuple[int, str]]] = {}
        names = [a.name for a in result.trace.actions]
        carries: dict[int, str] = {}  # TFO clients: what the first SYN carries
        for t, info in zip(result.trace.time_us, result.trace.info, strict=True):
            client, index = trace_fields(info)
            name = names[index]
            if sends(self.k, name) or (client < 0 and name in _FLOOD_EVENTS):
                self.actions.setdefault(client, deque()).append((t, name))
            elif name == "fastopen_syn_request":
                carries[client] = "request"
            elif name == "fastopen_syn_data":  # the request, with the cached cookie unless 0x4 leaves it out
                carries[client] = fastopen_syn_carries(self.k, True)
        self.flows: dict[int, _Flow] = {}
        last: dict[int, ClientRecord] = {}  # port -> the client that had it last
        for c in sorted(result.clients, key=lambda c: (c.start, c.index)):
            if c.port is None:
                continue
            old, last[c.port] = last.get(c.port), c
            first = self.actions.get(c.index)
            if first and first[0][1] == "connect_tw_reuse" and old is not None:
                # tw_snd_nxt: past the old connection's SYN, its request and its FIN
                ended = self.flows[old.index].isn + 1 + (len(REQUEST) if old.data_times else 0) + 1
                isn = (ended + TW_REUSE_SEQ_GAP) & _MASK32 or 1
            else:
                isn = self.keys.isn(CLIENT_ADDR, c.port, SERVER_ADDR, SERVER_PORT, round(c.start * US))
            self.flows[c.index] = _Flow(CLIENT_ADDR, c.port, isn, fastopen=carries.get(c.index))
        self.flood_rng = random.Random(f"flood-sources:{sc.seed}")
        self.flood_used: set[tuple[int, int]] = set()
        self.flood_waiting: deque[tuple[int, _Flow]] = deque()  # flood SYNs in flight, by arrival
        self.flood_requests: list[tuple[int, int, _Flow]] = []  # heap: (SYN-ACK due, order, flow)
        self.flood_order = 0

    # ---- timestamps -----------------------------------------------------------------------------
    def ts_offset(self, src: str, sport: int, dst: str, dport: int) -> int:
        return 0 if self.k.ts_clock == "jiffies" else self.keys.hash32("ts", src, sport, dst, dport)

    def tsval(self, t: int, src: str, sport: int, dst: str, dport: int) -> int:
        return (self.clocks.ts(t) + self.ts_offset(src, sport, dst, dport)) & _MASK32

    # ---- segments -------------------------------------------------------------------------------
    def segments(self, result: Result) -> Iterator[Segment]:
        packets = result.packets
        for t, info in zip(packets.time_us, packets.info, strict=True):
            f = packet_fields(info)
            arrives = None if f.lost else t + self.one_way
            if f.sender == _FLOOD:
                yield self.flood_syn(t, arrives)
            elif f.client < 0:
                yield self.flood_synack(t, arrives, KINDS[f.kind], bool(f.retransmission))
            else:
                yield self.client_segment(t, arrives, f.client, f.sender, KINDS[f.kind], bool(f.retransmission))

    def _next_action(self, client: int, t: int, kind: str) -> str:
        queue = self.actions.get(client)
        if not queue:
            raise RuntimeError(f"client {client}: a {kind} at {t} us that no kernel action of the trace sent")
        when, name = queue.popleft()
        if when != t or SENDS.get(name) != kind:
            raise RuntimeError(f"client {client}: the {kind} at {t} us does not match the trace's {name} at {when} us")
        return name

    def client_segment(self, t: int, arrives: int | None, ci: int, sender: int, kind: str,
                       retrans: bool) -> Segment:
        name = self._next_action(ci, t, kind)
        flow = self.flows[ci]
        c_end, s_end = (CLIENT_ADDR, flow.sport), (SERVER_ADDR, SERVER_PORT)
        src, dst = (c_end, s_end) if sender == _CLIENT else (s_end, c_end)
        h = self._header(t, arrives, flow, name, kind)
        return Segment(t / US, to_seconds(arrives), SENDERS[sender], kind, ci, retrans,
                       *src, *dst, h.seq & _MASK32, h.ack & _MASK32, h.flags, h.window, h.options, h.cookie,
                       h.payload)

    def _header(self, t: int, arrives: int | None, flow: _Flow, name: str, kind: str) -> _Header:
        """What the kernel action ``name`` writes on the ``kind`` segment it sends at ``t``."""
        if kind == "SYN":
            return self._syn(t, arrives, flow)
        if kind == "SYN-ACK":
            return self._synack(t, arrives, flow, name)
        if kind == "DATA":
            return self._data(t, arrives, flow)
        if name in _DATA_ACKS:
            return self._data_ack(t, arrives, flow, name == "data_again")
        if kind == "FIN":
            return self._fin(t, arrives, flow, name in _CLIENT_FINS)
        if name in _FIN_ACKS:
            return self._fin_ack(t, arrives, flow, name in ("fin_delack", "fin_again"))
        if name in ("synack_in", "synack_again", "synack_in_fastopen_acked"):
            return self._ack(t, flow, name != "synack_again")
        if name == "no_socket_rst":
            return self._client_rst(t, flow)
        if name == "no_listener_rst":  # tcp_v4_send_reset to a SYN: RST|ACK, seq 0, acking the SYN and its data
            ends = [end for arrival, _, end in flow.syns if arrival == t]
            return _Header(0, ends[-1] if ends else flow.isn + 1, RST | ACK)
        # the listener's RST to an ACK or a DATA takes its sequence number from the segment's ack_seq
        assert flow.connected is not None
        return _Header(flow.connected[0] + 1)

    def _client_tsval(self, t: int, flow: _Flow) -> int:
        """The TSval the client writes at ``t`` on this connection."""
        return self.tsval(t, CLIENT_ADDR, flow.sport, SERVER_ADDR, SERVER_PORT)

    def _server_tsval(self, t: int, flow: _Flow) -> int:
        """The TSval the listener (or the child) writes at ``t`` on this connection."""
        return self.tsval(t, SERVER_ADDR, SERVER_PORT, CLIENT_ADDR, flow.sport)

    def _syn(self, t: int, arrives: int | None, flow: _Flow) -> _Header:
        """A client's SYN (first or resent): its socket's ISN and the full option set; a TFO client's
        first SYN (tcp_send_syn_data) with a cookie request, or with the request as its payload and
        the cached cookie (none with 0x4), the Fast Open option last."""
        tsval = self._client_tsval(t, flow)
        options = options_write(MSS, (tsval, 0), True, self.k.rcv_wscale)
        payload = b""
        if flow.fastopen is not None and not flow.syn_sent:
            if flow.fastopen == "request":
                options += fastopen_option(self.k, b"")
            else:
                if flow.fastopen == "cookie":
                    options += fastopen_option(self.k, self.keys.fastopen_cookie(flow.src))
                payload, flow.data_sent = REQUEST, True
        flow.syn_sent = True
        if arrives is not None:
            flow.syns.append((arrives, tsval, flow.isn + 1 + len(payload)))
        return _Header(flow.isn, 0, SYN, WINDOW, options, payload=payload)

    def _synack(self, t: int, arrives: int | None, flow: _Flow, name: str) -> _Header:
        """The listener's SYN-ACK: the request sock's ISN (a new request, a new ISN) or a cookie,
        echoing the TSval of the SYN that made the request (req->ts_recent, set by tcp_openreq_init:
        3.10 include/net/tcp.h:1090, 6.18 net/ipv4/tcp_input.c:7290; tcp_check_req answers a resent
        SYN before it would update it: 3.10 net/ipv4/tcp_minisocks.c:532, 6.18 :726) or, for a
        cookie, of the SYN it answers; a TFO child's acknowledges the data of the SYN
        it was made from, first sent and resent (tcp_rsk(req)->rcv_nxt), and a SYN-ACK carries a Fast
        Open cookie where ``synack_cookie`` says."""
        syn_tsval, syn_end = 0, flow.isn + 1  # the SYN this answers (the last one that arrived)
        while flow.syns and flow.syns[0][0] <= t:
            _, syn_tsval, syn_end = flow.syns.popleft()
        fresh = name in ("syn_new", "syn_cookie") or name.startswith("syn_fastopen_") or flow.request_isn is None
        if fresh:  # tcp_openreq_init: req->ts_recent is this SYN's TSval, never updated by a resent SYN
            flow.ts_recent = syn_tsval
        if name == "syn_cookie":
            seq, tsval, cookie = self._cookie(t, flow), self._cookie_tsval(t, flow), True
        else:
            if fresh:
                flow.request_isn = self.keys.isn(SERVER_ADDR, SERVER_PORT, CLIENT_ADDR, flow.sport, t)
            seq, tsval, cookie = flow.request_isn, self._server_tsval(t, flow), False
        ack = flow.isn + 1
        child = name.startswith("syn_fastopen_") and name.endswith("_child")
        if child:  # its rcv_nxt: past the SYN's data
            flow.child_ack = syn_end
        if child or name in ("syn_again_fastopen", "fastopen_synack_rto"):
            assert flow.child_ack is not None
            ack = flow.child_ack
        if arrives is not None:
            flow.synacks.append((arrives, seq, tsval, ack))
            flow.to_client.append((arrives, tsval))
        options = options_write(MSS, (tsval, flow.ts_recent), True, self.k.rcv_wscale)
        if synack_cookie(self.k, name):
            options += fastopen_option(self.k, self.keys.fastopen_cookie(flow.src))
        return _Header(seq, ack, SYN | ACK, WINDOW, options, cookie)

    def _ack(self, t: int, flow: _Flow, connects: bool) -> _Header:
        """The client's ACK of the SYN-ACK that arrived now: the third ACK (``connects``), or the
        answer to one resent later, which acknowledges the SYN-ACK the client connected with and,
        once the request is written, carries the sequence number past it."""
        _, isn, tsval, _ = flow.synacks.popleft()
        if connects:
            flow.connected = (isn, tsval)
        assert flow.connected is not None
        seq = flow.client_seq()
        options = options_write(None, (self._client_tsval(t, flow), tsval), False, None)
        return _Header(seq, flow.connected[0] + 1, ACK, WINDOW >> self.k.rcv_wscale, options)

    def _data(self, t: int, arrives: int | None, flow: _Flow) -> _Header:
        """The client's request, first sent or resent (a loss probe and an RTO resend the same
        bytes): PSH|ACK right after the SYN, acknowledging the SYN-ACK it connected with, its
        timestamps as on the third ACK (the TSecr is that SYN-ACK's TSval: ts_recent). A TFO client
        sends it as the SYN-ACK arrives, with no ACK before it (a cookie request's request, or the
        SYN's data the SYN-ACK did not acknowledge): that SYN-ACK connects it."""
        if flow.connected is None:
            _, isn, tsval, _ = flow.synacks.popleft()
            flow.connected = (isn, tsval)
        flow.data_sent = True
        tsval = self._client_tsval(t, flow)
        if arrives is not None:
            flow.datas.append((arrives, tsval))
        options = options_write(None, (tsval, flow.connected[1]), False, None)
        return _Header(flow.isn + 1, flow.connected[0] + 1, PSH | ACK, WINDOW >> self.k.rcv_wscale, options,
                       payload=REQUEST)

    def _data_ack(self, t: int, arrives: int | None, flow: _Flow, again: bool) -> _Header:
        """The child's ACK of the request that arrived now: right after its ISN (that of the SYN-ACK
        the client connected with: only that one makes a child), acknowledging the request's bytes,
        echoing that DATA's TSval; for a copy it already held (``again``) with a D-SACK block
        naming those bytes (tcp_dsack_set; both SYNs offered SACK), after the timestamps as
        tcp_options_write puts it."""
        while flow.datas and flow.datas[0][0] <= t:
            flow.data_ts_recent = flow.datas.popleft()[1]
        assert flow.connected is not None
        start, end = (flow.isn + 1) & _MASK32, (flow.isn + 1 + len(REQUEST)) & _MASK32
        tsval = self._server_tsval(t, flow)
        options = options_write(None, (tsval, flow.data_ts_recent), False, None)
        if again:
            options += ((_NOP, b""), (_NOP, b""), (_SACK, start.to_bytes(4, "big") + end.to_bytes(4, "big")))
        if arrives is not None:
            flow.data_acks.append(arrives)
            flow.to_client.append((arrives, tsval))
        return _Header(flow.connected[0] + 1, end, ACK, WINDOW >> self.k.rcv_wscale, options)

    def _fin(self, t: int, arrives: int | None, flow: _Flow, client: bool) -> _Header:
        """A FIN, first sent or resent (tcp_send_fin; the loss probe and the RTO send it again with the
        same numbers): FIN|ACK at the sender's next sequence number, acknowledging what it has had
        from the other host. The server sends its own only after the client's FIN reached it."""
        assert flow.connected is not None
        window = WINDOW >> self.k.rcv_wscale
        if client:
            flow.fin_sent = True
            seq = flow.client_seq() - 1
            tsval = self._client_tsval(t, flow)
            options = options_write(None, (tsval, self._client_echo(t, flow)), False, None)
            if arrives is not None:
                flow.to_server.append((arrives, tsval))
            return _Header(seq, flow.connected[0] + 1, FIN | ACK, window, options)
        flow.server_fin_sent = True
        tsval = self._server_tsval(t, flow)
        options = options_write(None, (tsval, self._server_echo(t, flow)), False, None)
        if arrives is not None:
            flow.server_fins.append(arrives)
            flow.to_client.append((arrives, tsval))
        return _Header(flow.connected[0] + 1, flow.client_seq(), FIN | ACK, window, options)

    def _fin_ack(self, t: int, arrives: int | None, flow: _Flow, server: bool) -> _Header:
        """The ACK of the other host's FIN: the child's (past the client's FIN; after its own FIN once
        that was sent), or the client's (past the server's FIN)."""
        assert flow.connected is not None
        window = WINDOW >> self.k.rcv_wscale
        if server:
            tsval = self._server_tsval(t, flow)
            if arrives is not None:
                flow.to_client.append((arrives, tsval))
            options = options_write(None, (tsval, self._server_echo(t, flow)), False, None)
            return _Header(flow.connected[0] + 1 + flow.server_fin_sent, flow.client_seq(), ACK, window, options)
        options = options_write(None, (self._client_tsval(t, flow), self._client_echo(t, flow)), False, None)
        return _Header(flow.client_seq(), flow.connected[0] + 2, ACK, window, options)

    def _client_echo(self, t: int, flow: _Flow) -> int:
        """ts_recent on the client in the close: the TSval of the last server segment that arrived."""
        while flow.to_client and flow.to_client[0][0] <= t:
            flow.client_recent = flow.to_client.popleft()[1]
        return flow.client_recent or flow.connected[1]  # type: ignore[index]

    def _server_echo(self, t: int, flow: _Flow) -> int:
        """ts_recent on the child in the close: the TSval of the client's last FIN that arrived."""
        while flow.to_server and flow.to_server[0][0] <= t:
            flow.server_recent = flow.to_server.popleft()[1]
        return flow.server_recent

    def _client_rst(self, t: int, flow: _Flow) -> _Header:
        """tcp_v4_send_reset from a client whose socket is gone, to the server segment that arrived
        now: RST alone, with that segment's ACK number as its sequence number (a SYN-ACK's: ISN + 1;
        an ACK of the request's: past it)."""
        if flow.synacks and flow.synacks[0][0] <= t:  # every SYN-ACK that arrives is answered at once
            return _Header(flow.synacks.popleft()[3])  # its ACK number: ISN + 1, or past a TFO SYN's data
        while flow.server_fins and flow.server_fins[0] < t:
            flow.server_fins.popleft()
        if flow.server_fins and flow.server_fins[0] == t:  # a FIN for a socket that is gone: its ACK number
            flow.server_fins.popleft()
            return _Header(flow.client_seq())
        while flow.data_acks and flow.data_acks[0] < t:  # those the socket took without answering
            flow.data_acks.popleft()
        if not flow.data_acks or flow.data_acks[0] != t:
            raise RuntimeError(f"an RST of a closed client at {t} us answers no segment that arrived then")
        flow.data_acks.popleft()
        return _Header(flow.isn + 1 + len(REQUEST))

    def _cookie(self, t: int, flow: _Flow) -> int:
        count = self.clocks.cookie_counter(t)
        syn = (flow.src, flow.sport, SERVER_ADDR, SERVER_PORT)
        return self.keys.cookie(syn, flow.isn, count, cookie_mss_index(self.k, MSS))

    def _cookie_tsval(self, t: int, flow: _Flow) -> int:
        ts = cookie_timestamp(self.k, self.clocks.ts(t), self.k.rcv_wscale, True, self.k.rcv_wscale)
        return (ts + self.ts_offset(SERVER_ADDR, SERVER_PORT, flow.src, flow.sport)) & _MASK32

    # ---- the flood ------------------------------------------------------------------------------
    def flood_syn(self, t: int, arrives: int | None) -> Segment:
        rng = self.flood_rng
        while True:
            host, port = rng.randrange(1, 255), rng.randint(*FLOOD_PORTS)
            if (host, port) not in self.flood_used:
                self.flood_used.add((host, port))
                break
        flow = _Flow(f"{FLOOD_NET.rsplit('.', 1)[0]}.{host}", port, rng.getrandbits(32))
        if arrives is not None:
            self.flood_waiting.append((arrives, flow))
        return Segment(t / US, to_seconds(arrives), "flood", "SYN", None, False,
                       flow.src, flow.sport, SERVER_ADDR, SERVER_PORT, flow.isn, 0, SYN, FLOOD_WINDOW, ())

    def flood_synack(self, t: int, arrives: int | None, kind: str, retrans: bool) -> Segment:
        """The listener's SYN-ACK to a spoofed address: the answer to the flood SYN that arrived now,
        or a timer's resend for the request due soonest (the model does not say which request a
        timeout was for; requests time out in the order they are due)."""
        queue = self.actions.get(-1) or deque()
        while queue and queue[0][1] == "synack_give_up" and queue[0][0] <= t:
            queue.popleft()
            if self.flood_requests:
                heapq.heappop(self.flood_requests)
        name = self._next_action(-1, t, kind)
        cookie = False
        if name == "synack_rto":
            _, _, flow = heapq.heappop(self.flood_requests)
            flow.timeouts += 1
            self._push_request(t, flow)
            seq = flow.request_isn
        else:
            while self.flood_waiting and self.flood_waiting[0][0] < t:
                self.flood_waiting.popleft()  # SYNs the listener dropped
            if not self.flood_waiting or self.flood_waiting[0][0] != t:
                raise RuntimeError(f"a SYN-ACK to a flood address at {t} us answers no flood SYN that arrived then")
            flow = self.flood_waiting.popleft()[1]
            if name == "syn_cookie":
                count = self.clocks.cookie_counter(t)
                seq = self.keys.cookie((flow.src, flow.sport, SERVER_ADDR, SERVER_PORT), flow.isn, count,
                                       cookie_mss_index(self.k, TCP_MSS_DEFAULT))
                cookie = True
            else:
                seq = flow.request_isn = self.keys.isn(SERVER_ADDR, SERVER_PORT, flow.src, flow.sport, t)
                self._push_request(t, flow)
        assert seq is not None
        return Segment(t / US, to_seconds(arrives), "server", "SYN-ACK", None, retrans,
                       SERVER_ADDR, SERVER_PORT, flow.src, flow.sport, seq, (flow.isn + 1) & _MASK32, SYN | ACK,
                       WINDOW, options_write(MSS, None, False, None), cookie)

    def _push_request(self, t: int, flow: _Flow) -> None:
        self.flood_order += 1
        due = t + synack_timeout_us(self.k, flow.timeouts)
        heapq.heappush(self.flood_requests, (due, self.flood_order, flow))


def cookie_counter(result: Result, time: float) -> int:
    """tcp_cookie_time() at ``time`` (model seconds): the minute counter a cookie SYN-ACK sent then
    carries, jiffies / (60 * HZ) on the model's tick counter."""
    return Clocks(result).cookie_counter(round(time * US))


def segments(result: Result) -> Iterator[Segment]:
    """Every packet of ``result`` (in ``result.packets`` order, lost ones too) with the header
    fields its kernel would have put on it. Raises RuntimeError if the packets and the trace
    disagree (a packet no kernel action sent), which would be a bug of the model."""
    return _Replay(result).segments(result)
