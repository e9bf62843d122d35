"""The TCP handshakes of a capture: one record per connection attempt, from any pcap or pcapng
file tcpdump, Wireshark or ``Result.to_pcap`` wrote.

``read(path)`` returns the handshakes; ``load(path)`` returns them with what the reader noticed on
the way (a ``Capture``: link type, counts, notes). A file cut short (tcpdump killed, a copy
interrupted) is read up to where it ends: ``load`` says so in its notes and ``read`` also issues a
``CaptureWarning``, as ``warnings`` lets a caller silence or turn into an error. Packets that are not
TCP (ARP, UDP, ICMP) are skipped and counted in the notes, not warned about: every capture has them.

A connection attempt is a 4-tuple and the client's ISN: a retransmitted SYN (same ISN) belongs to
its attempt, a new connect() from the same port (a new ISN) starts another. The listener's SYN-ACKs
are matched by their acknowledgement number (the ISN + 1, or past the data a TFO SYN carried), the client's ACKs by their sequence number, RSTs by
either. The options of an attempt's first SYN and first SYN-ACK are kept by name (what a
syncookie SYN-ACK leaves out shows there), and the RSTs the server sent apart from all RSTs.

Data in a SYN (TCP Fast Open: the request rides on the SYN) is data: ``data_at`` is then that SYN's
time. It does not complete the handshake, though: an attempt is "established" only once the client
acknowledged a SYN-ACK or data flowed after the SYN, and an RST before that still makes it "reset". The
client's acknowledgement of a SYN-ACK is its bare ACK, or, when it held that ACK back for data it
sends at once (a TFO client's request after a cookie request, or the SYN's data sent again after a
SYN-ACK that did not acknowledge it), that data segment: ``latency`` runs to the first of either;
``ack_times`` keeps the bare ACKs. Link types: Ethernet (with VLAN tags), Linux cooked (SLL, SLL2), raw IP (DLT_RAW 12, 14,
101; LINKTYPE_IPV4, LINKTYPE_IPV6), BSD loopback; IPv4 and IPv6 (addresses as ``[addr]:port``).
A pcapng file is read with its first interface's link type (dpkt's pcapng reader).
"""

from __future__ import annotations

import os
import socket
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import dpkt

from ..analysis.handshakes import round_trip_parts
from ..model.wire import OPTION_KINDS

OUTCOMES = ("established", "reset", "incomplete", "unanswered")
"""What became of an attempt, as far as the capture shows: "established" - the client's ACK of a
SYN-ACK (or data) was seen; "reset" - an RST came before any data; "incomplete" - SYN-ACKs were seen
but no ACK; "unanswered" - SYNs only."""

RAW_LINK_TYPES = (12, 14, dpkt.pcap.DLT_RAW, dpkt.pcap.DLT_IPV4, dpkt.pcap.DLT_IPV6)
LINK_TYPES = {
    dpkt.pcap.DLT_EN10MB: "Ethernet", dpkt.pcap.DLT_LINUX_SLL: "Linux cooked (SLL)",
    dpkt.pcap.DLT_LINUX_SLL2: "Linux cooked v2 (SLL2)", dpkt.pcap.DLT_NULL: "BSD loopback",
    dpkt.pcap.DLT_LOOP: "BSD loopback", **{n: "raw IP" for n in RAW_LINK_TYPES},
}
"""The link types ``read`` understands (pcap LINKTYPE numbers), by name."""

_PROTOCOLS = {1: "ICMP", 17: "UDP", 58: "ICMPv6", 2: "IGMP", 47: "GRE", 50: "ESP", 132: "SCTP"}
_HALF = 1 << 31
_MASK32 = 0xFFFFFFFF
_FIN, _SYN, _RST, _ACK = dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_RST, dpkt.tcp.TH_ACK
_OPTION_NAMES = {kind: name for name, kind in OPTION_KINDS.items() if name not in ("EOL", "NOP")}


class CaptureWarning(UserWarning):
    """``read`` returned what it could of a capture that is damaged (cut short)."""


@dataclass(frozen=True)
class Handshake:
    """One connection attempt as the capture shows it. Times are seconds on the capture's own clock
    (as tcpdump stamped the packets: seconds since 1970 for a live capture)."""

    client: str  # "addr:port", IPv6 "[addr]:port"
    server: str
    client_isn: int
    syn_times: tuple[float, ...]
    synack_times: tuple[float, ...]
    ack_times: tuple[float, ...]  # the client's ACKs of a SYN-ACK, without data (the third ACK, and repeats)
    rst_times: tuple[float, ...]  # RSTs from either side
    data_at: float | None  # the first segment with a payload, either way (a TFO SYN's too)
    outcome: str  # OUTCOMES
    latency: float | None  # first SYN to the client's first acknowledgement of a SYN-ACK (an ACK, or data carrying it)
    server_isns: tuple[int, ...] = ()  # the ISNs of its SYN-ACKs, in order of first appearance
    syn_options: tuple[str, ...] = ()  # the first SYN's TCP options by name: "MSS", "SACK_PERM", "TIMESTAMP", "WSCALE"
    synack_options: tuple[str, ...] = ()  # the first SYN-ACK's (none seen: empty)
    server_rst_times: tuple[float, ...] = ()  # the RSTs of rst_times that the server sent


@dataclass(frozen=True)
class Capture:
    """A capture file as ``load`` read it: its handshakes and what it noticed on the way."""

    path: str
    link_type: int
    packets: int  # records read
    tcp_segments: int
    handshakes: tuple[Handshake, ...]
    truncated: bool  # the file ends inside a record: what came before was read
    notes: tuple[str, ...]
    skipped: dict[str, int] = field(default_factory=dict)  # what was not TCP, by protocol

    @property
    def vantage(self) -> str:
        """Where it was taken, told from its handshakes' timing (``vantage``)."""
        return vantage(self.handshakes)


@dataclass
class _Attempt:
    client: str
    server: str
    isn: int
    first: float
    syns: list[float] = field(default_factory=list)
    synacks: list[float] = field(default_factory=list)
    server_isns: list[int] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    rsts: list[float] = field(default_factory=list)
    server_rsts: list[float] = field(default_factory=list)
    syn_options: tuple[str, ...] | None = None
    synack_options: tuple[str, ...] | None = None
    data_at: float | None = None
    syn_end: int | None = None  # a SYN with data (TCP Fast Open): the sequence number past it
    flow_at: float | None = None  # the first payload after the SYN (data_at without a TFO SYN's)
    data_acked_synack: float | None = None  # the client's first data acknowledging a SYN-ACK

    def handshake(self) -> Handshake:
        acked = min((t for t in (self.acks[0] if self.acks else None, self.data_acked_synack) if t is not None),
                    default=None)
        if self.rsts and (self.flow_at is None or self.rsts[0] < self.flow_at):
            outcome = "reset"
        elif acked is not None or self.flow_at is not None:
            outcome = "established"
        else:
            outcome = "incomplete" if self.synacks else "unanswered"
        latency = acked - self.syns[0] if acked is not None and self.syns else None
        return Handshake(self.client, self.server, self.isn, tuple(self.syns), tuple(self.synacks), tuple(self.acks),
                         tuple(self.rsts), self.data_at, outcome, latency, tuple(self.server_isns),
                         self.syn_options or (), self.synack_options or (), tuple(self.server_rsts))


class _ShortReads:
    """A file that remembers whether a read returned less than asked but not nothing: how a reader
    that stops quietly at the end of the data shows that the file ended inside a record."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.short, self.name = f, False, getattr(f, "name", "<capture>")

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if n > 0 and 0 < len(data) < n:
            self.short = True
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()


def _endpoint(ip: Any, port: int, source: bool) -> str:
    raw = ip.src if source else ip.dst
    if isinstance(ip, dpkt.ip6.IP6):
        return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{port}"
    return f"{socket.inet_ntop(socket.AF_INET, raw)}:{port}"


def _network_layer(link_type: int, buf: bytes) -> Any:
    """The IP or IPv6 packet in a frame (dpkt), or the link layer's payload if it is something else."""
    if link_type == dpkt.pcap.DLT_EN10MB:
        return dpkt.ethernet.Ethernet(buf).data
    if link_type == dpkt.pcap.DLT_LINUX_SLL:
        return dpkt.sll.SLL(buf).data
    if link_type == dpkt.pcap.DLT_LINUX_SLL2:
        return dpkt.sll2.SLL2(buf).data
    if link_type in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        return dpkt.loopback.Loopback(buf).data
    version = buf[0] >> 4 if buf else 0
    return dpkt.ip6.IP6(buf) if version == 6 else dpkt.ip.IP(buf) if version == 4 else buf


def option_names(tcp: dpkt.tcp.TCP) -> tuple[str, ...]:
    """The segment's TCP options by name (``model.wire.OPTION_KINDS``; NOP and EOL left out, an
    unknown kind by its number); what dpkt cannot parse (options cut short) ends the list."""
    try:
        options = dpkt.tcp.parse_opts(tcp.opts)
    except (dpkt.UnpackError, ValueError, IndexError):
        return ()
    return tuple(_OPTION_NAMES.get(kind, str(kind)) for kind, _ in options if kind > dpkt.tcp.TCP_OPT_NOP)


def _payload_length(ip: Any, tcp: dpkt.tcp.TCP) -> int:
    """Bytes of data the segment carried, from the headers' lengths (so a capture with a small
    snaplen, which keeps only the headers, still shows which segments had data)."""
    if isinstance(ip, dpkt.ip6.IP6):
        extensions = sum(len(bytes(h)) for h in getattr(ip, "all_extension_headers", []))
        return max(0, ip.plen - extensions - tcp.off * 4)
    return max(0, ip.len - ip.hl * 4 - tcp.off * 4)


class _Reader:
    """Groups the TCP segments of one capture into connection attempts."""

    def __init__(self) -> None:
        self.attempts: dict[tuple[str, str], list[_Attempt]] = {}
        self.order: list[_Attempt] = []
        self.outside = 0  # segments of connections whose handshake the capture does not hold

    def _new(self, client: str, server: str, isn: int, t: float) -> _Attempt:
        attempt = _Attempt(client, server, isn, t)
        self.attempts.setdefault((client, server), []).append(attempt)
        self.order.append(attempt)
        return attempt

    def _find(self, key: tuple[str, str], isn: int | None = None, after_isn: int | None = None,
              acked: int | None = None) -> _Attempt | None:
        """The newest attempt of a 4-tuple with that ISN, or (after_isn) the newest whose ISN the
        sequence number ``after_isn`` follows within half the sequence space, or (acked) the newest
        whose SYN a SYN-ACK with that acknowledgement number answers (ISN + 1, or past its data)."""
        for attempt in reversed(self.attempts.get(key, ())):
            if isn is not None and attempt.isn == isn:
                return attempt
            if acked is not None and acked in ((attempt.isn + 1) & _MASK32, attempt.syn_end):
                return attempt
            if after_isn is not None and (after_isn - attempt.isn - 1) & _MASK32 < _HALF:
                return attempt
        return None

    def segment(self, t: float, src: str, dst: str, tcp: dpkt.tcp.TCP, payload: int) -> None:
        flags = tcp.flags
        if flags & _SYN and not flags & _ACK:
            attempt = self._find((src, dst), isn=tcp.seq) or self._new(src, dst, tcp.seq, t)
            attempt.syns.append(t)
            if attempt.syn_options is None:
                attempt.syn_options = option_names(tcp)
            if payload:  # TCP Fast Open: the request in the SYN; a child's SYN-ACK acks past it
                attempt.data_at = t if attempt.data_at is None else attempt.data_at
                attempt.syn_end = (tcp.seq + 1 + payload) & _MASK32
        elif flags & _SYN:  # SYN-ACK: from the server, acknowledging the client's ISN
            attempt = (self._find((dst, src), acked=tcp.ack)
                       or self._new(dst, src, (tcp.ack - 1) & _MASK32, t))
            attempt.synacks.append(t)
            if attempt.synack_options is None:
                attempt.synack_options = option_names(tcp)
            if tcp.seq not in attempt.server_isns:
                attempt.server_isns.append(tcp.seq)
        elif (src, dst) in self.attempts:  # from a client
            self._from_client(t, (src, dst), tcp, payload)
        elif (dst, src) in self.attempts:  # from a server
            self._from_server(t, (dst, src), tcp, payload)
        else:
            self.outside += 1

    def _from_client(self, t: float, key: tuple[str, str], tcp: dpkt.tcp.TCP, payload: int) -> None:
        attempt = self._find(key, after_isn=tcp.seq) or self.attempts[key][-1]
        if tcp.flags & _RST:
            attempt.rsts.append(t)
        elif payload:
            attempt.data_at = t if attempt.data_at is None else attempt.data_at
            attempt.flow_at = t if attempt.flow_at is None else attempt.flow_at
            if (attempt.data_acked_synack is None and tcp.flags & _ACK
                    and (tcp.ack - 1) & _MASK32 in attempt.server_isns):
                attempt.data_acked_synack = t
        elif tcp.flags & _ACK and not tcp.flags & _FIN and attempt.flow_at is None and (
                not attempt.server_isns or (tcp.ack - 1) & _MASK32 in attempt.server_isns):
            attempt.acks.append(t)

    def _from_server(self, t: float, key: tuple[str, str], tcp: dpkt.tcp.TCP, payload: int) -> None:
        if tcp.flags & _ACK:
            attempt = self._find(key, after_isn=tcp.ack - 1) or self.attempts[key][-1]
        else:  # an RST answering an ACK carries that ACK's acknowledgement number: a SYN-ACK's ISN + 1
            matching = [a for a in self.attempts[key] if (tcp.seq - 1) & _MASK32 in a.server_isns]
            attempt = matching[-1] if matching else self.attempts[key][-1]
        if tcp.flags & _RST:
            attempt.rsts.append(t)
            attempt.server_rsts.append(t)
        elif payload:
            attempt.data_at = t if attempt.data_at is None else attempt.data_at
            attempt.flow_at = t if attempt.flow_at is None else attempt.flow_at


def load(path: str | os.PathLike[str]) -> Capture:
    """Read the capture at ``path`` (pcap or pcapng) into its connection attempts, with notes on
    what was skipped and whether the file was cut short. Raises ValueError for a file that is not a
    capture, or whose link type is not one of ``LINK_TYPES``."""
    name = os.fspath(path)
    reader, notes = _Reader(), []
    skipped: Counter[str] = Counter()
    packets = tcp_segments = 0
    truncated = False
    with open(name, "rb") as raw:
        f = _ShortReads(raw)
        try:
            pcap = dpkt.pcap.UniversalReader(f)
        except (ValueError, dpkt.UnpackError) as err:
            raise ValueError(f"{name}: not a pcap or pcapng capture ({err})") from None
        link_type = pcap.datalink()
        if link_type not in LINK_TYPES:
            known = ", ".join(f"{n} ({what})" for n, what in sorted(LINK_TYPES.items()))
            raise ValueError(f"{name}: link type {link_type} is not supported; supported: {known}")
        try:
            for ts, buf in pcap:
                packets += 1
                tcp_segments += _one(reader, link_type, float(ts), buf, skipped)
        except (dpkt.UnpackError, ValueError, IndexError):  # a record cut short that dpkt cannot unpack
            truncated = True
        truncated = truncated or f.short
    if truncated:
        notes.append(f"the file ends inside a packet record (cut short?): read the {packets} packets before it")
    for what, n in sorted(skipped.items()):
        notes.append(f"{n} {what} skipped")
    if reader.outside:
        notes.append(f"{reader.outside} TCP segments of connections whose handshake is not in the capture skipped")
    handshakes = tuple(a.handshake() for a in sorted(reader.order, key=lambda a: a.first))
    return Capture(name, link_type, packets, tcp_segments, handshakes, truncated, tuple(notes), dict(skipped))


def _one(reader: _Reader, link_type: int, ts: float, buf: bytes, skipped: Counter[str]) -> int:
    """Hand one frame's TCP segment to ``reader``; count what is not one. 1 if it was TCP."""
    try:
        ip = _network_layer(link_type, buf)
    except dpkt.UnpackError:
        skipped["packets cut short before their IP header"] += 1
        return 0
    if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
        what = type(ip).__name__ if isinstance(ip, dpkt.Packet) else "non-IP"  # ARP, LLC...
        skipped[f"{what} packets"] += 1
        return 0
    if ip.p != dpkt.ip.IP_PROTO_TCP:
        skipped[f"{_PROTOCOLS.get(ip.p, f'IP protocol {ip.p}')} packets"] += 1
        return 0
    if isinstance(ip, dpkt.ip.IP) and ip.offset:  # a later fragment: no TCP header
        skipped["IP fragments"] += 1
        return 0
    tcp = ip.data
    if not isinstance(tcp, dpkt.tcp.TCP):
        skipped["TCP segments cut short inside their header"] += 1
        return 0
    src, dst = _endpoint(ip, tcp.sport, True), _endpoint(ip, tcp.dport, False)
    reader.segment(ts, src, dst, tcp, _payload_length(ip, tcp))
    return 1


def read(path: str | os.PathLike[str]) -> list[Handshake]:
    """The connection attempts of the capture at ``path`` (pcap or pcapng), in the order their
    first packet was seen. A file cut short gives what it holds, with a ``CaptureWarning``;
    ``load`` gives the notes too."""
    capture = load(path)
    if capture.truncated:
        warnings.warn(CaptureWarning(f"{capture.path}: {capture.notes[0]}"), stacklevel=2)
    return list(capture.handshakes)


def vantage(handshakes: list[Handshake] | tuple[Handshake, ...]) -> str:
    """Where the capture was taken: "client", "server", "between" or "unknown", from the timing of
    the established handshakes. For each, take the gap from the SYN a SYN-ACK answers (the last one
    before it) to that SYN-ACK, and the gap from the last SYN-ACK before the client's first ACK to
    that ACK. At the client the first gap is a round trip and the second a few microseconds (the
    kernel answers a SYN-ACK at once); at the server it is the other way round (the listener
    answers a SYN at once); in between, the round trip is split. So: "client" when the median second
    gap is under a tenth of the median first gap, "server" when the first is under a tenth of the
    second, "between" otherwise; "unknown" without an established handshake that shows both gaps.
    On loopback, client and server are one host and both gaps are microseconds: any answer is right."""
    parts = [p for p in map(round_trip_parts, handshakes) if p is not None]
    first, second = [a for a, _ in parts], [b for _, b in parts]
    if not first:
        return "unknown"
    a, b = statistics.median(first), statistics.median(second)
    if a == b == 0:
        return "unknown"
    if b <= a / 10:
        return "client"
    if a <= b / 10:
        return "server"
    return "between"
