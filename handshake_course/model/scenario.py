"""What happens around the kernel in one simulation: the listener, the clients, the application and
the network. A Scenario is plain data, checked when it is made, so that a bad slider value fails
with a message naming the parameter rather than deep inside the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .profiles import Kernel, as_kernel
from .result import KINDS as PACKET_KINDS

MAX_CLIENTS = 1_000_000
MAX_DURATION = 100_000.0  # seconds; about 28 hours of simulated time
MAX_JIFFIES = float(2**32)  # a 32-bit jiffies counter wraps here
MAX_LISTENERS = 65535  # a sock_reuseport group counts its sockets in a u16 (num_socks)
INT_MAX = 2**31 - 1  # setsockopt's int


def _plain(x: float) -> str:
    """A bound as people write it: 1000000, not 1e+06."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _number(name: str, value: Any, lo: float, hi: float, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number from {_plain(lo)} to {_plain(hi)}{unit}; got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be from {_plain(lo)} to {_plain(hi)}{unit}; got {value!r}")
    return float(value)


def _times(name: str, values: Sequence[Any], duration: float | None) -> tuple[float, ...]:
    times = tuple(_number(f"{name}[{i}]", v, 0.0, MAX_DURATION, " s") for i, v in enumerate(values))
    if len(times) > MAX_CLIENTS:
        raise ValueError(f"{name} may hold at most {MAX_CLIENTS} times; got {len(times)}")
    if duration is not None and any(t > duration for t in times):
        raise ValueError(f"{name} must lie within the duration (0 to {duration:g} s)")
    return times


@dataclass(frozen=True)
class Scenario:
    """One experiment: a listener, clients that connect(), an application that accept()s, a network.

    kernel   -- the Kernel (or a version string) both hosts run.
    backlog  -- the listen() backlog; clamped by somaxconn as __sys_listen does. None: no listener,
                every SYN is answered with RST (connect() fails with ECONNREFUSED).
    clients  -- an int: that many connect() calls at t=0; or a sequence of connect() start times (s).
    accept   -- None: the application never calls accept(); a number: a loop of blocking accept()
                calls that then spends 1/rate seconds on each connection (so at most `rate` per
                second); a sequence: the times of single blocking accept() calls.
    rtt      -- round-trip time in seconds; each direction takes rtt/2.
    loss     -- probability that any one packet is lost, in either direction.
    drop     -- packet kinds that are always lost: "SYN", "SYN-ACK", "ACK" (segments that only
                acknowledge: the client's handshake ACKs, and with data the server's ACKs of the
                requests, the ACKs of FINs), "RST", "DATA" or "FIN", as an nftables rule would drop them.
    flood    -- spoofed SYNs per second from addresses that never answer (0: none).
    duration -- seconds simulated. None: until nothing is pending any more (not with a flood).
    seed     -- the random seed: the same seed gives the same result.
    syncnt   -- TCP_SYNCNT on the client sockets (1..127); None: use tcp_syn_retries.
    jiffies  -- the kernel's jiffies at t=0, in ticks (the fraction: how far into that tick);
                None: drawn from the seed. It decides where the timer wheel's ticks and granules
                fall, which on a real machine depends on how long it has been up; the lab sets it
                from a measurement so that the model's timers fire in the measured kernel's ticks.
    data     -- True: every client writes a request (one DATA segment) as soon as connect() returns,
                as HTTP, TLS and database clients do; it is retransmitted on the client's own timer
                (a tail loss probe, then RTOs from the RTT measured on the SYN-ACK) until the server
                ACKs it. A DATA that reaches a request whose ACK was dropped completes the handshake
                if the accept queue has room. False: clients send nothing after the handshake.
    listeners -- how many listening sockets share the port with SO_REUSEPORT (3.9+), as nginx, envoy
                and HAProxy workers do: each has its own backlog-sized SYN and accept queues and its
                own accept() (``accept`` applies to each), and the kernel spreads the connections
                over them by the hash of their addresses and ports, so all of one connection's
                segments reach the same one. 1: one listener, as without SO_REUSEPORT.
    defer_accept -- TCP_DEFER_ACCEPT on the listener(s), in whole seconds (setsockopt's int; nginx
                ``deferred``): a final ACK without data is dropped and the connection waits for the
                client's first data, or for the SYN-ACK round that the seconds become (the kernel
                counts them in SYN-ACK timeouts: 1 s is one round, 5 s three: 1 + 2 + 4 s). 0: off.
    hold     -- seconds after connect() returns at which each client's application closes its socket
                (with ``data``: once its request is ACKed, if that comes later). The client's FIN goes
                first; the server's application closes as soon as it reads the end of the stream (at
                once if it has accepted the connection, else when accept() returns it), so its FIN
                follows, the client ACKs it and its socket stays in TIME_WAIT for 60 s, holding its
                ephemeral port (``tcp_tw_reuse`` decides whether connect() may take it sooner). None:
                connections are never closed.
    fastopen -- TCP Fast Open: the listener(s)' TCP_FASTOPEN queue length (setsockopt's int; 3.7+), the
                most TFO children waiting for their final ACK (4.4+: at most somaxconn). 0: off. With it
                (or tcp_fastopen's 0x400) and ``data``, clients whose tcp_fastopen has the client bit
                (1: the default, but 0 on 3.10) send with sendto(MSG_FASTOPEN): without a cookie for the server
                the SYN asks for one, and the request follows the handshake; with one (cached from an
                earlier SYN-ACK) the request goes in the SYN, and a listener whose tcp_fastopen has the
                server bit (2) makes the child at once, within its queue, so accept() can return it one
                one-way delay after the SYN. ``ClientRecord.fastopen`` says what each first SYN carried.
    """

    kernel: Kernel | str = "6.18"
    backlog: int | None = 128
    clients: int | Sequence[float] = 1
    accept: float | Sequence[float] | None = None
    rtt: float = 0.0002
    loss: float = 0.0
    drop: Sequence[str] = ()
    flood: float = 0.0
    duration: float | None = None
    seed: int = 1
    syncnt: int | None = None
    jiffies: float | None = None
    data: bool = False
    listeners: int = 1
    defer_accept: float = 0.0
    hold: float | None = None
    fastopen: int = 0
    client_times: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        try:
            setattr_(self, "kernel", as_kernel(self.kernel))
        except ValueError as err:
            raise ValueError(f"kernel: {err}") from None
        if self.duration is not None:
            setattr_(self, "duration", _number("duration", self.duration, 0.001, MAX_DURATION, " s"))
        if self.backlog is not None:
            if isinstance(self.backlog, bool) or not isinstance(self.backlog, int):
                raise ValueError(f"backlog must be a whole number (listen()'s int) or None; got {self.backlog!r}")
            if not -(2**31) <= self.backlog < 2**31:
                raise ValueError(f"backlog must fit listen()'s int: -2147483648 to 2147483647; got {self.backlog}")
        if isinstance(self.clients, bool):
            raise ValueError(f"clients must be a count or a sequence of times; got {self.clients!r}")
        if isinstance(self.clients, int):
            if not 0 <= self.clients <= MAX_CLIENTS:
                raise ValueError(f"clients must be from 0 to {MAX_CLIENTS}; got {self.clients}")
            times: tuple[float, ...] = (0.0,) * self.clients
        else:
            try:
                times = _times("clients", list(self.clients), self.duration)
            except TypeError:
                raise ValueError(f"clients must be a count or a sequence of times; got {self.clients!r}") from None
            setattr_(self, "clients", times)
        setattr_(self, "client_times", times)
        if self.accept is not None and not isinstance(self.accept, (int, float)):
            try:
                setattr_(self, "accept", _times("accept", list(self.accept), self.duration))
            except TypeError:
                raise ValueError(f"accept must be None, a rate or a sequence of times; got {self.accept!r}") from None
        elif self.accept is not None:
            setattr_(self, "accept", _number("accept", self.accept, 0.001, 10_000_000, " accept() calls/s"))
        setattr_(self, "rtt", _number("rtt", self.rtt, 0.0, 60.0, " s"))
        setattr_(self, "loss", _number("loss", self.loss, 0.0, 1.0))
        if isinstance(self.drop, str):
            setattr_(self, "drop", (self.drop,))
        drop = tuple(self.drop)
        for kind in drop:
            if kind not in PACKET_KINDS:
                raise ValueError(f"drop must list packet kinds among {', '.join(PACKET_KINDS)}; got {kind!r}")
        setattr_(self, "drop", drop)
        setattr_(self, "flood", _number("flood", self.flood, 0.0, 1_000_000, " SYN/s"))
        if self.flood and self.duration is None:
            raise ValueError("duration must be given when flood > 0 (a flood never ends by itself)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be a whole number; got {self.seed!r}")
        if self.syncnt is not None and (
            isinstance(self.syncnt, bool) or not isinstance(self.syncnt, int) or not 1 <= self.syncnt <= 127
        ):
            raise ValueError(f"syncnt (TCP_SYNCNT) must be from 1 to 127 or None; got {self.syncnt!r}")
        if self.jiffies is not None:
            setattr_(self, "jiffies", _number("jiffies", self.jiffies, 0.0, MAX_JIFFIES, " ticks"))
        if not isinstance(self.data, bool):
            raise ValueError(f"data must be True (clients send a request after connect()) or False; got {self.data!r}")
        self._check_listeners()
        self._check_defer_accept()
        if self.hold is not None:
            setattr_(self, "hold", _number("hold", self.hold, 0.0, MAX_DURATION, " s after connect() returns"))
        self._check_fastopen()

    def _check_listeners(self) -> None:
        """listeners: 1 to MAX_LISTENERS; more than one needs SO_REUSEPORT (3.9+) and a listener."""
        n = self.listeners
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_LISTENERS:
            raise ValueError(f"listeners must be a whole number from 1 to {MAX_LISTENERS} (SO_REUSEPORT "
                             f"sockets on the port); got {n!r}")
        if n > 1:
            kernel: Kernel = self.kernel  # type: ignore[assignment]
            if kernel.reuseport == "none":
                raise ValueError(f"listeners must be 1 on Linux {kernel.version}: SO_REUSEPORT came in Linux 3.9; "
                                 f"got {n}")
            if self.backlog is None:
                raise ValueError(f"listeners must be 1 when nothing listens (backlog=None); got {n}")

    def _check_defer_accept(self) -> None:
        """defer_accept: TCP_DEFER_ACCEPT's int, in seconds, on a listener."""
        value = self.defer_accept
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer()
                or not 0 <= value <= INT_MAX):
            raise ValueError(f"defer_accept must be whole seconds from 0 to {INT_MAX} (TCP_DEFER_ACCEPT takes an "
                             f"int); got {value!r}")
        if value and self.backlog is None:
            raise ValueError(f"defer_accept must be 0 when nothing listens (backlog=None); got {value!r}")
        object.__setattr__(self, "defer_accept", float(value))

    def _check_fastopen(self) -> None:
        """fastopen: TCP_FASTOPEN's int (a queue length, >= 0: do_tcp_setsockopt), on a listener, 3.7+."""
        value = self.fastopen
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT_MAX:
            raise ValueError(f"fastopen must be a whole number from 0 to {INT_MAX} (TCP_FASTOPEN's queue length; "
                             f"0: off); got {value!r}")
        kernel: Kernel = self.kernel  # type: ignore[assignment]
        if value and kernel.fastopen_server == "none":
            raise ValueError(f"fastopen must be 0 on Linux {kernel.version}: TCP Fast Open came in Linux 3.7 (the "
                             f"listener's TCP_FASTOPEN; the client side in 3.6); got {value}")
        if value and self.backlog is None:
            raise ValueError(f"fastopen must be 0 when nothing listens (backlog=None); got {value}")

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (and checked again)."""
        fields = {n: getattr(self, n) for n in (
            "kernel", "backlog", "clients", "accept", "rtt", "loss", "drop", "flood", "duration", "seed", "syncnt",
            "jiffies", "data", "listeners", "defer_accept", "hold", "fastopen")}
        fields.update(changes)
        return Scenario(**fields)
