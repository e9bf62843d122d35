"""What a namespace's /proc/net says: nstat counters, TCP sockets and request socks, ``ss`` lines.

Files are opened once inside the namespace (the open file keeps pointing at that namespace's
/proc/net) and re-read from the start each time, so polling them every few milliseconds costs no
process start. Counter names are those ``nstat`` prints: ``TcpExtListenOverflows``,
``TcpActiveOpens`` and so on, the names the model's ``result.counters`` uses.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from .netns import inside, ns_run

TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2", 6: "TIME-WAIT",
    7: "CLOSE", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW-SYN-RECV",
}


def parse_counters(*texts: str) -> dict[str, int]:
    """Counters from /proc/net/snmp and /proc/net/netstat text, named as nstat names them."""
    counters: dict[str, int] = {}
    for text in texts:
        lines = text.splitlines()
        for head, values in zip(lines[::2], lines[1::2], strict=False):
            prefix, _, names = head.partition(":")
            _, _, numbers = values.partition(":")
            for name, value in zip(names.split(), numbers.split(), strict=False):
                try:
                    counters[prefix + name] = int(value)
                except ValueError:
                    continue
    return counters


def delta(before: Mapping[str, int], after: Mapping[str, int], *, nonzero: bool = True) -> dict[str, int]:
    """after - before for every counter (only those that changed, unless nonzero=False)."""
    d = {k: after[k] - before.get(k, 0) for k in after}
    return {k: v for k, v in sorted(d.items()) if v or not nonzero}


@dataclass(frozen=True)
class TcpSocket:
    """One line of /proc/net/tcp."""

    local: tuple[str, int]
    remote: tuple[str, int]
    state: str
    tx_queue: int
    rx_queue: int  # for a listener: the accept-queue length (sk_ack_backlog)
    timer: int  # 0 none, 1 retransmit (or a request's SYN-ACK timer), 2 keepalive, 3 TIME-WAIT, 4 probe
    timer_jiffies: int  # jiffies until it fires (0 when it is due)
    retransmits: int  # a request sock: SYN-ACK timeouts so far (num_timeout)


def _addr(text: str) -> tuple[str, int]:
    host, port = text.split(":")
    return socket.inet_ntoa(struct.pack("<I", int(host, 16))), int(port, 16)


def parse_tcp(text: str) -> list[TcpSocket]:
    """The sockets /proc/net/tcp lists (request socks show as SYN-RECV)."""
    out = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 7:
            continue
        tx, rx = (int(x, 16) for x in f[4].split(":"))
        tr, when = f[5].split(":")
        out.append(TcpSocket(_addr(f[1]), _addr(f[2]), TCP_STATES.get(int(f[3], 16), f[3]), tx, rx,
                             int(tr, 16), int(when, 16), int(f[6], 16)))
    return out


class ProcNet:
    """Open /proc/net files of namespace `ns` (or of the caller's namespace if `ns` is None)."""

    NAMES = ("snmp", "netstat", "tcp")

    def __init__(self, ns: str | None = None) -> None:
        self.ns = ns
        self._fds: dict[str, int] = {}
        if ns is None:
            self._open()
        else:
            with inside(ns):
                self._open()

    def _open(self) -> None:
        for name in self.NAMES:
            self._fds[name] = os.open(f"/proc/thread-self/net/{name}", os.O_RDONLY)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> ProcNet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, name: str) -> str:
        fd = self._fds[name]
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)

    def counters(self) -> dict[str, int]:
        return parse_counters(self.read("snmp"), self.read("netstat"))

    def sockets(self) -> list[TcpSocket]:
        return parse_tcp(self.read("tcp"))

    def syn_recv(self, port: int) -> list[TcpSocket]:
        """Request socks of the listener on `port` (the SYN queue)."""
        return [s for s in self.sockets() if s.state == "SYN-RECV" and s.local[1] == port]

    def listener(self, port: int) -> TcpSocket | None:
        for s in self.sockets():
            if s.state == "LISTEN" and s.local[1] == port:
                return s
        return None


def ss(ns: str, *args: str) -> list[str]:
    """``ss -tn`` lines of namespace `ns` (extra arguments select states, e.g. "-l")."""
    return ns_run(ns, ["ss", "-tn", *args]).splitlines()


def ss_listener(ns: str, port: int) -> dict[str, int] | None:
    """Recv-Q (accept-queue length) and Send-Q (its limit) of the listener on `port`, from ``ss -lnt``."""
    for line in ss(ns, "-l"):
        f = line.split()
        if len(f) >= 4 and f[0] == "LISTEN" and f[3].endswith(f":{port}"):
            return {"recv_q": int(f[1]), "send_q": int(f[2])}
    return None
