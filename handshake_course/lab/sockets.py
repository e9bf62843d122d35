"""The applications of an experiment: a listener that accepts only when told, and many non-blocking
connect()s whose outcomes are collected with poll(2).

Everything here is bounded in time: connect()s never block, poll() waits at most until the
caller's deadline, and sockets are closed by ``Sockets`` however the experiment ends.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
from contextlib import nullcontext
from dataclasses import dataclass

from .netns import inside

PORT = 8080


class Sockets:
    """Owns the sockets an experiment makes and closes them all at the end of the ``with`` block."""

    def __init__(self) -> None:
        self.all: list[socket.socket] = []

    def __enter__(self) -> Sockets:
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.all:
            try:
                s.close()
            except OSError:
                pass
        self.all.clear()

    def listener(self, ns: str | None, ip: str, backlog: int, port: int = PORT) -> socket.socket:
        """A listening socket in `ns` (None: here) that nothing accept()s until the experiment says so."""
        with inside(ns) if ns else nullcontext():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.all.append(s)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        s.listen(backlog)
        return s

    def connect(self, ns: str | None, dst: tuple[str, int], src: str | None = None,
                syncnt: int | None = None) -> socket.socket:
        """Start a non-blocking connect() from `ns` (optionally from source address `src`)."""
        with inside(ns) if ns else nullcontext():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.all.append(s)
        s.setblocking(False)
        if syncnt is not None:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, syncnt)
        if src is not None:
            s.bind((src, 0))
        err = s.connect_ex(dst)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, f"connect to {dst}: {errno.errorcode.get(err, err)}")
        return s

    def connect_many(self, ns: str | None, dst: tuple[str, int], n: int) -> list[tuple[socket.socket, float]]:
        """`n` non-blocking connect()s in a tight loop (sockets made first, in one setns), so that
        they start within a fraction of a millisecond; returns each socket with its start time."""
        with inside(ns) if ns else nullcontext():
            made = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
        self.all.extend(made)
        started = []
        for s in made:
            s.setblocking(False)
            t = time.time()
            err = s.connect_ex(dst)
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, f"connect to {dst}: {errno.errorcode.get(err, err)}")
            started.append((s, t))
        return started

    def accept_one(self, listener: socket.socket, timeout: float = 0.5) -> socket.socket | None:
        """accept() one connection if one is queued within `timeout` s."""
        ready, _, _ = select.select([listener], [], [], timeout)
        if not ready:
            return None
        conn, _ = listener.accept()
        self.all.append(conn)
        return conn


@dataclass
class Outcome:
    """How one non-blocking connect() ended, as far as the client application can tell."""

    done_at: float | None = None  # wall-clock time connect() finished (success or failure)
    error: str | None = None  # errno name, None for success

    @property
    def connected(self) -> bool:
        return self.done_at is not None and self.error is None


def wait_connects(socks: list[socket.socket], deadline: float, outcomes: list[Outcome] | None = None,
                  until: float | None = None) -> list[Outcome]:
    """Poll the connecting sockets until each has finished or the monotonic `deadline` passes.

    `outcomes` continues an earlier wait (sockets already finished are not polled again). If
    `until` (monotonic) is given, return then even if some are still connecting.
    """
    outcomes = outcomes if outcomes is not None else [Outcome() for _ in socks]
    poller = select.poll()
    index = {}
    for i, s in enumerate(socks):
        if outcomes[i].done_at is None:
            poller.register(s, select.POLLOUT | select.POLLERR | select.POLLHUP)
            index[s.fileno()] = i
    stop = deadline if until is None else min(deadline, until)
    while index:
        left = stop - time.monotonic()
        if left <= 0:
            break
        for fd, _ in poller.poll(max(1, int(left * 1000))):
            now = time.time()
            i = index.pop(fd)
            poller.unregister(fd)
            err = socks[i].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            outcomes[i] = Outcome(now, None if err == 0 else errno.errorcode.get(err, str(err)))
    return outcomes


def local_port(s: socket.socket) -> int:
    return s.getsockname()[1]


TCP_INFO_FORMAT = "8B24I"  # tcpi_state .. tcpi_rcv_wscale bytes, then the first u32 fields


def tcp_info(s: socket.socket) -> dict[str, int]:
    """A few TCP_INFO fields: state, retransmits (current backoff count), total_retrans, rto (us)."""
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    f = struct.unpack_from(TCP_INFO_FORMAT, raw)
    # bytes: state, ca_state, retransmits, probes, backoff, options, wscale, flags; then u32: rto, ato, ...
    u32 = f[8:]
    return {"state": f[0], "retransmits": f[2], "backoff": f[4], "rto_us": u32[0],
            "total_retrans": u32[23]}
