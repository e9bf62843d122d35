"""A packet capture on one interface of one namespace, with kernel time stamps.

An AF_PACKET socket bound to the veth sees every segment that leaves (after the ``output`` hook)
and every segment that arrives (before the ``input`` hook), each stamped by the kernel
(SO_TIMESTAMPNS, wall clock) when the device handed it over. That is when a timer really sent a
SYN or SYN-ACK, which is what the timer-lateness numbers need. A background thread reads the socket
until the capture is stopped; no tcpdump process to start, synchronise with, or clean up.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .netns import inside

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
PACKET_OUTGOING = 4

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True)
class Segment:
    """One captured TCP/IPv4 segment."""

    time: float  # seconds, wall clock, as the kernel stamped it
    outgoing: bool  # sent by the namespace the capture runs in
    src: str
    sport: int
    dst: str
    dport: int
    flags: int
    seq: int
    ack: int
    payload: int  # bytes of data

    @property
    def kind(self) -> str:
        """"SYN", "SYN-ACK", "ACK", "RST", "FIN" or "DATA", as the model names handshake packets."""
        f = self.flags
        if f & SYN:
            return "SYN-ACK" if f & ACK else "SYN"
        if f & RST:
            return "RST"
        if f & FIN:
            return "FIN"
        return "DATA" if self.payload else "ACK"

    def to_json(self, t0: float) -> list[object]:
        """A compact record: [time from t0 in s, kind, src:sport, dst:dport]."""
        return [round(self.time - t0, 6), self.kind, f"{self.src}:{self.sport}", f"{self.dst}:{self.dport}"]


def parse(frame: bytes, when: float, outgoing: bool) -> Segment | None:
    """The TCP segment in an Ethernet frame, or None if it is something else."""
    if len(frame) < 14 + 20 + 20 or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
        return None
    ip = 14
    ihl = (frame[ip] & 0x0F) * 4
    if frame[ip + 9] != socket.IPPROTO_TCP:
        return None
    total = struct.unpack_from("!H", frame, ip + 2)[0]
    src = socket.inet_ntoa(frame[ip + 12: ip + 16])
    dst = socket.inet_ntoa(frame[ip + 16: ip + 20])
    tcp = ip + ihl
    sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", frame, tcp)
    payload = total - ihl - (off >> 4) * 4
    return Segment(when, outgoing, src, sport, dst, dport, flags, seq, ack, max(0, payload))


class Capture:
    """Capture TCP segments on `dev` in namespace `ns` while the ``with`` block runs."""

    def __init__(self, ns: str, dev: str) -> None:
        with inside(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
            self.sock.bind((dev, 0))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        self._segments: list[Segment] = []
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"capture-{ns}", daemon=True)

    def __enter__(self) -> Capture:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop reading (after taking what is already queued) and close the socket."""
        if not self._stop.is_set():
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join(timeout=5)
            self.sock.close()

    def _loop(self) -> None:
        while True:
            stopping = self._stop.is_set()
            ready, _, _ = select.select([self.sock], [], [], 0 if stopping else 0.05)
            if not ready:
                if stopping:
                    return
                continue
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                data, anc, _, addr = self.sock.recvmsg(256, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            when = time.time()
            for level, kind, raw in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                    sec, nsec = struct.unpack_from("@qq", raw)
                    when = sec + nsec / 1e9
            seg = parse(data, when, addr[2] == PACKET_OUTGOING)
            if seg is not None:
                with self._new:
                    self._segments.append(seg)
                    self._new.notify_all()

    def segments(self, where: Callable[[Segment], bool] | None = None) -> list[Segment]:
        """The segments captured so far (those matching `where`), in time order."""
        with self._lock:
            segs = list(self._segments)
        segs.sort(key=lambda s: s.time)
        return segs if where is None else [s for s in segs if where(s)]

    def wait_for(self, where: Callable[[Segment], bool], count: int = 1, timeout: float = 1.0) -> list[Segment]:
        """Wait until `count` matching segments were captured (or `timeout` s); return the matches."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                found = [s for s in self._segments if where(s)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return sorted(found, key=lambda s: s.time)
                self._new.wait(left)
