"""Hand-made handshake segments, sent from a raw socket: a client whose every packet we choose.

A kernel client answers a SYN-ACK the instant it arrives, inside the same softirq, so two real
connect()s over a veth never have their SYNs both reach the listener before the first final ACK
does. Some kernel paths (a final ACK meeting a full accept queue) only run in that order. A raw
client sends the SYNs, waits for both SYN-ACKs, then sends the ACKs, exactly like the model's
clients that connect at the same instant.

The client namespace's own TCP stack would answer these SYN-ACKs with RSTs (it has no socket for
the port); the experiment drops those RSTs with nftables (``rst_rule``).
"""

from __future__ import annotations

import socket
import struct

from .capture import ACK, SYN
from .netns import inside

RAW_PORTS = (20000, 20099)  # below ip_local_port_range, so no kernel socket ever uses them
MSS_OPTION = struct.pack("!BBH", 2, 4, 1460)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
            options: bytes = b"", window: int = 64240) -> bytes:
    """An IPv4 packet holding one TCP segment without data, checksums filled in."""
    offset = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, window, 0, 0) + options
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


class RawClient:
    """Sends SYNs and ACKs from `src` in namespace `ns` through a raw IP socket."""

    def __init__(self, ns: str, src: str, dst: str, dport: int) -> None:
        with inside(ns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.src, self.dst, self.dport = src, dst, dport
        self.isn: dict[int, int] = {}

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def syn(self, sport: int, isn: int) -> None:
        self.isn[sport] = isn
        self._send(segment(self.src, self.dst, sport, self.dport, isn, 0, SYN, MSS_OPTION))

    def ack(self, sport: int, server_isn: int) -> None:
        """The final ACK of the handshake of `sport`, for a SYN-ACK carrying `server_isn`."""
        self._send(segment(self.src, self.dst, sport, self.dport, self.isn[sport] + 1,
                           (server_isn + 1) & 0xFFFFFFFF, ACK))

    def _send(self, packet: bytes) -> None:
        self.sock.sendto(packet, (self.dst, 0))


def rst_rule(src: str) -> str:
    """nftables match for the RSTs the client's own stack sends to SYN-ACKs of the raw ports."""
    return f"ip saddr {src} tcp sport {RAW_PORTS[0]}-{RAW_PORTS[1]} tcp flags & rst == rst"
