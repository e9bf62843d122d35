"""A packet capture on one interface of one namespace, with kernel time stamps.

An AF_PACKET socket bound to the veth sees every segment that leaves (after the ``output`` hook)
and every segment that arrives (before the ``input`` hook), each stamped by the kernel
(SO_TIMESTAMPNS, wall clock) when the device handed it over. That is when a timer really sent a
SYN or SYN-ACK, which is what the timer-lateness numbers need. A background thread reads the socket
until the capture is stopped; no tcpdump process to start, synchronise with, or clean up.

Besides the parsed segments it keeps every frame it saw as it saw it (the first ``SNAPLEN`` bytes,
the length on the wire, the kernel's time stamp to the nanosecond, and the interface's link type):
``frames()`` is what ``lab.pcapfile`` writes as the pcap file beside a stored measurement, so that
the measurement can be read back by ``handshake_course.capture.read`` and opened in Wireshark.
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
MSG_TRUNC = 0x20  # recvmsg: return the frame's real length even when the buffer holds less
READ_SIZE = 256  # bytes read per frame: every header of a TCP/IPv4 segment, with room to spare
SNAPLEN = 128
"""Bytes of each frame kept for the pcap file: Ethernet (14) + IPv4 (20) + TCP with the longest
options (60) fit, so every header field is kept and the files stay small (as ``tcpdump -s 128``)."""
LINK_TYPES = {1: 1, 772: 1}
"""pcap LINKTYPE of an interface by its ARPHRD type: Ethernet (a veth) and loopback both frame
packets in Ethernet headers (LINKTYPE_ETHERNET), as libpcap records them."""

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


@dataclass(frozen=True)
class Frame:
    """One frame as the capture saw it, for a pcap file."""

    sec: int  # the kernel's time stamp (SO_TIMESTAMPNS, wall clock): seconds...
    nsec: int  # ...and nanoseconds
    data: bytes  # its first SNAPLEN bytes
    length: int  # its length on the wire
    outgoing: bool  # sent by the namespace the capture runs in (a pcap file does not keep this)

    @property
    def time(self) -> float:
        """The time stamp in seconds, as ``Segment.time`` has it."""
        return self.sec + self.nsec / 1e9


@dataclass(frozen=True)
class Frames:
    """Every frame a capture saw, in time order, with what a pcap file header says about them."""

    link_type: int  # pcap LINKTYPE (LINK_TYPES)
    snaplen: int
    frames: tuple[Frame, ...]


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


def segments_of(frames: Frames) -> list[Segment]:
    """The TCP segments among ``frames``, in their order (what ``Capture.segments`` gives for the
    same frames, so that a record's packet list and its pcap file come from one snapshot)."""
    found = (parse(f.data, f.time, f.outgoing) for f in frames.frames)
    return [s for s in found if s is not None]


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
        self._frames: list[Frame] = []
        self.hatype: int | None = None  # the interface's ARPHRD type, from its first frame
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)
        self._reading = threading.Lock()  # one reader of the socket at a time: the thread, or flush()
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
            with self._reading:
                self._drain()

    def flush(self) -> None:
        """Read, in the calling thread, every frame the kernel has queued for the capture so far: the
        background thread can lag behind an experiment that keeps the interpreter busy, and a
        record must hold every packet sent before it was taken."""
        with self._reading:
            if not self._stop.is_set():
                self._drain()

    def _drain(self) -> None:
        buf = bytearray(READ_SIZE)
        while True:
            try:
                length, anc, _, addr = self.sock.recvmsg_into([buf], 64, MSG_TRUNC)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            data = bytes(buf[:min(length, READ_SIZE)])
            sec, nsec = _stamp(anc)
            outgoing = addr[2] == PACKET_OUTGOING
            seg = parse(data, sec + nsec / 1e9, outgoing)
            with self._new:
                self.hatype = addr[3] if self.hatype is None else self.hatype
                self._frames.append(Frame(sec, nsec, data[:SNAPLEN], length, outgoing))
                if seg is not None:
                    self._segments.append(seg)
                    self._new.notify_all()

    def segments(self, where: Callable[[Segment], bool] | None = None) -> list[Segment]:
        """The segments captured so far (those matching `where`), in time order."""
        with self._lock:
            segs = list(self._segments)
        segs.sort(key=lambda s: s.time)
        return segs if where is None else [s for s in segs if where(s)]

    def frames(self) -> Frames | None:
        """Every frame captured so far, in time order, for a pcap file; None if the interface is
        not one whose frames a pcap file of ``LINK_TYPES`` holds as they are."""
        with self._lock:
            frames, hatype = list(self._frames), self.hatype
        link_type = LINK_TYPES.get(1 if hatype is None else hatype)  # nothing seen yet: an empty Ethernet file
        if link_type is None:
            return None
        frames.sort(key=lambda f: (f.sec, f.nsec))  # stable: frames stamped alike keep their order
        return Frames(link_type, SNAPLEN, tuple(frames))

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


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> tuple[int, int]:
    """The kernel's time stamp of a frame (SO_TIMESTAMPNS) as (seconds, nanoseconds); the time now
    if the kernel gave none."""
    for level, kind, raw in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
            sec, nsec = struct.unpack_from("@qq", raw)
            return sec, nsec
    now = time.time_ns()
    return now // 1_000_000_000, now % 1_000_000_000
