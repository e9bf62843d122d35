"""A simulated run written as a classic pcap file, as tcpdump on one of its hosts would record it.

The segments' header fields come from the model (``model.wire.segments``); this module only puts
them in Ethernet frames (dpkt builds every header and checksum) and decides, for the chosen vantage
point, which packets the capture holds and when it saw them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dpkt

from ..model.wire import SERVER_ADDR, Option, Segment, segments

if TYPE_CHECKING:
    from ..model.result import Result

AT = ("server", "client")
"""Where a capture can be taken: on the listener's host or on the client host."""
EPOCH = 1_700_000_000
"""The capture's clock at the model's t=0 (2023-11-14 22:13:20 UTC): a real date, so that tools
show ordinary times; ``read`` gives times on this clock, so subtract it to compare with the model."""
SNAPLEN = 262144  # tcpdump's default
# Locally administered MAC addresses: the server, the client, and the router the flood comes through.
SERVER_MAC, CLIENT_MAC, ROUTER_MAC = (bytes.fromhex(m) for m in ("020000000001", "020000000002", "0200000000fe"))


def seen(segment: Segment, at: str) -> float | None:
    """When a capture ``at`` the server or the client sees ``segment`` (model seconds), or None:
    a host sees what it sends when it sends it and what reaches it when it arrives; the flood and
    the listener's answers to it never pass the client host."""
    own = "server" if at == "server" else "client"
    if segment.sender == own:
        return segment.time
    if at == "client" and segment.client is None:
        return None
    return segment.arrives


def captured(result: Result, at: str = "server") -> list[tuple[float, Segment]]:
    """The segments a capture ``at`` holds, with the model time it saw each, in the order it saw them."""
    if at not in AT:
        raise ValueError(f"at must be one of {', '.join(map(repr, AT))}; got {at!r}")
    found = [(t, s) for s in segments(result) if (t := seen(s, at)) is not None]
    found.sort(key=lambda item: item[0])  # stable: packets seen in the same microsecond keep their order
    return found


def option_bytes(options: tuple[Option, ...]) -> bytes:
    """TCP options as they are on the wire: EOL and NOP one byte, the others kind, length, data
    (the inverse of ``dpkt.tcp.parse_opts``, which dpkt has no builder for)."""
    return b"".join(bytes([kind]) if kind <= dpkt.tcp.TCP_OPT_NOP else bytes([kind, 2 + len(data)]) + data
                    for kind, data in options)


def frame(segment: Segment) -> dpkt.ethernet.Ethernet:
    """``segment`` in an Ethernet frame between the two hosts (a flood SYN arrives from the router)."""
    opts = option_bytes(segment.options)
    tcp = dpkt.tcp.TCP(sport=segment.sport, dport=segment.dport, seq=segment.seq, ack=segment.ack,
                       flags=segment.flags, win=segment.window, opts=opts, off=5 + len(opts) // 4,
                       data=segment.payload)
    ip = dpkt.ip.IP(src=_addr(segment.src), dst=_addr(segment.dst), p=dpkt.ip.IP_PROTO_TCP, ttl=64,
                    df=1, data=tcp)
    ip.len = len(ip)
    to_server = segment.dst == SERVER_ADDR
    src_mac = (ROUTER_MAC if segment.sender == "flood" else CLIENT_MAC) if to_server else SERVER_MAC
    dst_mac = SERVER_MAC if to_server else (CLIENT_MAC if segment.client is not None else ROUTER_MAC)
    return dpkt.ethernet.Ethernet(src=src_mac, dst=dst_mac, type=dpkt.ethernet.ETH_TYPE_IP, data=ip)


def _addr(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, text)


def frames(result: Result, at: str = "server") -> Iterator[tuple[float, bytes]]:
    """(capture time, frame bytes) of every packet a capture ``at`` holds."""
    for t, segment in captured(result, at):
        yield EPOCH + t, bytes(frame(segment))


def write_pcap(result: Result, path: str | os.PathLike[str], at: str = "server") -> int:
    """Write ``result`` to ``path`` as a classic pcap file (Ethernet, microseconds) as seen ``at``
    the server or the client (see ``Result.to_pcap``); return the number of packets written."""
    if at not in AT:
        raise ValueError(f"at must be one of {', '.join(map(repr, AT))}; got {at!r}")
    n = 0
    with open(path, "wb") as f:
        writer: Any = dpkt.pcap.Writer(f, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, buf in frames(result, at):
            writer.writepkt_time(buf, ts)
            n += 1
    return n
