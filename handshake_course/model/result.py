"""What a simulation returns: per-client records, every packet, every kernel event, queue lengths,
nstat counters, and the listener as ``ss`` shows it.

Packets and trace events can number in the millions (a SYN flood), so they are stored column-wise
in ``array`` buffers and turned into small frozen records only when read. Columns are exposed too
(``result.packets.times``) for plots that want them all at once. Clients (a million of them, at most)
are kept as the simulation's rows and each record built the first time it is read.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import index, lt
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .clock import US, to_seconds

if TYPE_CHECKING:
    from .actions import Action
    from .profiles import Kernel
    from .scenario import Scenario

SENDERS = ("client", "server", "flood")
KINDS = ("SYN", "SYN-ACK", "ACK", "RST", "DATA", "FIN")
"""Packet kinds, in the order of their packed index (new kinds are appended; KIND_MASK holds 8). "ACK": a
segment that only acknowledges (the client's handshake ACKs, the server's ACK of a request, the ACKs of
the FINs); "DATA": a client's request (``Scenario(data=True)``), which also carries an ACK; "FIN": the
client's FIN when it closes (``Scenario(hold=...)``) and the server's FIN|ACK when its application closes
in turn."""
OUTCOMES = ("accepted", "queued", "established", "timed_out", "reset", "no_port", "connecting")
"""Where a client ends. "established": the client is ESTABLISHED but the server holds no child for
it (its final ACK was dropped or lost, or a cookie ACK met a full accept queue). "no_port": connect()
found no free ephemeral port (EADDRNOTAVAIL), all of them bound or held by TIME_WAIT sockets. A connection
the client closed (``Scenario(hold=...)``) keeps the outcome it had: ``ClientRecord.closed_at`` says it
closed."""

# How a packet's or a trace event's fields are packed into one int64 column entry. Only this module
# packs and unpacks them: the simulation adds records through PacketLog.add and Trace.add, readers
# use the records, the counts below, or packet_fields / trace_fields / queue_fields on a column.
CLIENT_SHIFT = 8  # packets and trace: the client index (-1: none) above the low byte
KIND_SHIFT, KIND_MASK = 2, 7  # packets: the kind in three bits above the flags
SENDER_SHIFT, SENDER_MASK = 5, 3  # packets: the sender in two bits above the kind
RETRANS_BIT, LOST_BIT = 2, 1  # packets: flags
ACTION_MASK = 255  # trace: the action index in the low byte
SYN_QUEUE_SHIFT, ACCEPT_QUEUE_MASK = 32, 0xFFFFFFFF  # trace queues: syn << 32 | accept


T = TypeVar("T")
C = TypeVar("C")  # one column entry (an int) or a whole column (a numpy array: decoded elementwise)


@dataclass(frozen=True, slots=True)
class PacketFields(Generic[C]):
    """The fields of packets' ``info`` entries: client index (-1: a spoofed flood address), sender
    and kind (indices into SENDERS and KINDS), retransmission and lost flags."""

    client: C
    sender: C
    kind: C
    retransmission: C
    lost: C


def packet_fields(info: Any) -> PacketFields[Any]:
    """Decode ``PacketLog.info`` entries: one int, or a numpy array of them at once."""
    return PacketFields(info >> CLIENT_SHIFT, (info >> SENDER_SHIFT) & SENDER_MASK, (info >> KIND_SHIFT) & KIND_MASK,
                        (info & RETRANS_BIT) != 0, (info & LOST_BIT) != 0)


def trace_fields(info: Any) -> tuple[Any, Any]:
    """Decode ``Trace.info`` entries (an int or a numpy array): (client index or -1, action index
    into ``Trace.actions``)."""
    return info >> CLIENT_SHIFT, info & ACTION_MASK


def queue_fields(queues: Any) -> tuple[Any, Any]:
    """Decode ``Trace.queues`` entries (an int or a numpy array): (SYN-queue, accept-queue length)."""
    return queues >> SYN_QUEUE_SHIFT, queues & ACCEPT_QUEUE_MASK


class _Columns(Sequence[T]):
    """A read-only sequence whose items are built on demand from column arrays."""

    def _make(self, i: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._make(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._make(i)

    def __iter__(self) -> Iterator[T]:
        return (self._make(i) for i in range(len(self)))


@dataclass(frozen=True, slots=True)
class Packet:
    """One segment on the wire. ``time`` is when it was sent; ``arrives`` is None if it was lost."""

    time: float
    sender: str
    kind: str
    client: int | None
    retransmission: bool
    lost: bool
    arrives: float | None


class PacketLog(_Columns[Packet]):
    """Every packet sent, in sending order (column storage)."""

    def __init__(self) -> None:
        self._time_us = array("q")
        self._info = array("q")  # client, sender, kind, retransmission, lost: see CLIENT_SHIFT
        self._sorted = True
        self.one_way_us = 0

    def add(self, t: int, sender: int, kind: int, client: int, retrans: int, lost: int | bool) -> None:
        self._time_us.append(t)
        self._info.append((client << CLIENT_SHIFT) | (sender << SENDER_SHIFT) | (kind << KIND_SHIFT)
                          | (RETRANS_BIT if retrans else 0) | (LOST_BIT if lost else 0))

    def add_unordered(self, t: int, sender: int, kind: int, client: int, retrans: int, lost: int) -> None:
        """Add a packet recorded after later ones (a flood SYN is logged when it arrives). The
        body of ``add`` is repeated here: a flood calls this a million times."""
        times = self._time_us
        if times and t < times[-1]:
            self._sorted = False
        times.append(t)
        self._info.append((client << CLIENT_SHIFT) | (sender << SENDER_SHIFT) | (kind << KIND_SHIFT)
                          | (RETRANS_BIT if retrans else 0) | (LOST_BIT if lost else 0))

    def add_runs(self, *runs: tuple[Sequence[int], int, int, int, int, int]) -> None:
        """Add runs of packets of equal length, ``(times, sender, kind, client, retrans, lost)``
        each, interleaved as one ``add`` per packet would have: the first of every run, then the
        second... (a batch of flood SYNs, each answered at once with a SYN-ACK)."""
        width, count = len(runs), len(runs[0][0])
        times: list[int] = [0] * (width * count)
        for j, (run_times, *_) in enumerate(runs):
            times[j::width] = run_times
        infos = [(client << CLIENT_SHIFT) | (sender << SENDER_SHIFT) | (kind << KIND_SHIFT)
                 | (RETRANS_BIT if retrans else 0) | (LOST_BIT if lost else 0)
                 for _, sender, kind, client, retrans, lost in runs]
        column = self._time_us
        if self._sorted and times and ((column and times[0] < column[-1]) or any(map(lt, times[1:], times))):
            self._sorted = False
        column.extend(times)
        self._info.extend(infos * count)

    def _order(self) -> None:
        """Sort by sending time once, when first read (stable: equal times keep their order)."""
        if not self._sorted:
            order = sorted(range(len(self._time_us)), key=self._time_us.__getitem__)
            self._time_us = array("q", (self._time_us[i] for i in order))
            self._info = array("q", (self._info[i] for i in order))
            self._sorted = True

    @property
    def time_us(self) -> array:
        self._order()
        return self._time_us

    @property
    def info(self) -> array:
        self._order()
        return self._info

    def __len__(self) -> int:
        return len(self._time_us)

    def _make(self, i: int) -> Packet:
        t, f = self.time_us[i], packet_fields(self.info[i])
        return Packet(t / US, SENDERS[f.sender], KINDS[f.kind], None if f.client < 0 else f.client,
                      f.retransmission, f.lost, None if f.lost else (t + self.one_way_us) / US)


    @property
    def times(self) -> list[float]:
        return [t / US for t in self.time_us]

    def of_client(self, client: int) -> list[Packet]:
        """The packets of one client's handshake, in order."""
        return [self._make(i) for i, info in enumerate(self.info) if info >> CLIENT_SHIFT == client]

    def tally(self, kind: str | None = None, sender: str | None = None, lost: bool | None = None) -> int:
        """How many packets match all the given filters."""
        k = None if kind is None else KINDS.index(kind)
        s = None if sender is None else SENDERS.index(sender)
        n = 0
        for info in self.info:
            f = packet_fields(info)
            if (k is None or f.kind == k) and (s is None or f.sender == s) and (lost is None or f.lost == lost):
                n += 1
        return n

    def kind_counts(self) -> dict[str, int]:
        """How many packets of each kind were sent (KINDS order, kinds never sent left out)."""
        counts = Counter((info >> KIND_SHIFT) & KIND_MASK for info in self.info)
        return {name: counts[i] for i, name in enumerate(KINDS) if counts[i]}


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One thing the kernel did, with the function path it models and the counters it bumped."""

    time: float
    host: str  # "client" or "server"
    action: str
    client: int | None
    what: str
    path: tuple[str, ...]
    counters: tuple[str, ...]
    syn_queue: int
    accept_queue: int
    listener: int | None = None  # the SO_REUSEPORT listener of a server event (Scenario(listeners > 1))

    @property
    def function_path(self) -> str:
        return " -> ".join(self.path)

    def __repr__(self) -> str:
        """The fields, as a dataclass shows them; the listener only where a group has one."""
        shown = [f for f in fields(self) if f.name != "listener" or self.listener is not None]
        return f"TraceEvent({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in shown)})"


class Trace(_Columns[TraceEvent]):
    """Kernel events in time order (column storage)."""

    def __init__(self, actions: Sequence[Action]) -> None:
        self.actions = actions
        self.time_us = array("q")
        self.info = array("q")  # client << CLIENT_SHIFT | action index
        self.queues = array("q")  # syn << SYN_QUEUE_SHIFT | accept
        self.listeners: array | None = None  # with a SO_REUSEPORT group: the listener each event was on
        self.listener = 0  # the listener the kernel works on now (the group's ``use_listener`` sets it)

    def __len__(self) -> int:
        return len(self.time_us)

    def track_listeners(self) -> None:
        """Record, from now on, which listener of a SO_REUSEPORT group each event was on (the
        ``listener`` attribute when it is recorded); only a group needs the column."""
        self.listeners = array("q")

    def recorder(self) -> Callable[[int, int, int, int, int], None]:
        """``add(t, client, action, syn_queue, accept_queue)``: record that action number ``action``
        happened at ``t`` (µs) for ``client`` (-1: none), leaving the queues this long. A closure
        over the columns' appends, for the simulation's hottest path."""
        times, info, queues = self.time_us.append, self.info.append, self.queues.append

        def add(t: int, client: int, action: int, syn_queue: int, accept_queue: int) -> None:
            times(t)
            info((client << CLIENT_SHIFT) | action)
            queues((syn_queue << SYN_QUEUE_SHIFT) | accept_queue)

        if self.listeners is None:
            return add
        on_listener = self.listeners.append

        def add_on_listener(t: int, client: int, action: int, syn_queue: int, accept_queue: int) -> None:
            add(t, client, action, syn_queue, accept_queue)
            on_listener(self.listener)

        return add_on_listener

    def add_many(self, times: Sequence[int], client: int, action: int, syn_queue: int, accept_queue: int) -> None:
        """The same action at each of ``times``, with the queues unchanged throughout."""
        count = len(times)
        self.time_us.extend(times)
        self.info.extend([(client << CLIENT_SHIFT) | action] * count)
        self.queues.extend([(syn_queue << SYN_QUEUE_SHIFT) | accept_queue] * count)
        if self.listeners is not None:
            self.listeners.extend([self.listener] * count)

    def _make(self, i: int) -> TraceEvent:
        client, action = trace_fields(self.info[i])
        a = self.actions[action]
        listener = None if self.listeners is None or a.host != "server" else self.listeners[i]
        return TraceEvent(self.time_us[i] / US, a.host, a.name, None if client < 0 else client,
                          a.what, a.path, a.counters, *queue_fields(self.queues[i]), listener)


    def of_client(self, client: int) -> list[TraceEvent]:
        """The kernel events that concern one client, in order."""
        return [self._make(i) for i, info in enumerate(self.info) if info >> CLIENT_SHIFT == client]

    def actions_count(self) -> Counter[str]:
        """How often each action happened."""
        counts = Counter(info & ACTION_MASK for info in self.info)
        return Counter({self.actions[k].name: n for k, n in counts.items()})


@dataclass(frozen=True)
class Queues:
    """Lengths of the SYN queue (request socks) and the accept queue after each change."""

    times: array
    syn: array
    accept: array

    def at(self, t: float) -> tuple[int, int]:
        """(SYN-queue length, accept-queue length) at time t."""
        i = bisect_right(self.times, t) - 1
        return (0, 0) if i < 0 else (self.syn[i], self.accept[i])


@dataclass(frozen=True, slots=True)
class SsListener:
    """The listener as ``ss -lnt`` shows it, plus the SYN-RECV sockets ``ss -nt state syn-recv`` lists."""

    recv_q: int  # accept-queue length (sk_ack_backlog)
    send_q: int  # the effective backlog (sk_max_ack_backlog)
    syn_recv: int  # request socks in the SYN queue
    port: int = 8080

    def __str__(self) -> str:
        return (f"State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                f"LISTEN {self.recv_q:<6} {self.send_q:<6} 0.0.0.0:{self.port:<13} 0.0.0.0:*")


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """How one connect() went."""

    index: int
    start: float
    port: int | None
    outcome: str
    syn_times: tuple[float, ...]
    connected_at: float | None  # connect() returned success (SYN-ACK received)
    accepted_at: float | None  # the server application's accept() returned it
    failed_at: float | None
    errno: str | None
    # With Scenario(data=True): the client's request (one DATA segment written when connect() returned)
    data_times: tuple[float, ...] = ()  # when the DATA was sent: first, then each retransmission
    data_acked_at: float | None = None  # when the server's ACK of it came back; None: never
    rtt_sample: float | None = None  # the RTT the client measured on the SYN-ACK, that its RTO came from
    # With Scenario(hold=...): the client's close() and the timewait socket that then holds its port
    closed_at: float | None = None  # close() sent the FIN; None: it never closed
    time_wait_at: float | None = None  # the server's FIN came: TIME_WAIT (TCP_TIMEWAIT_LEN, 60 s); None: never
    time_wait_until: float | None = None  # its timewait socket ended (timer, or connect() reused the port)
    # With TCP Fast Open (Scenario(fastopen=...), data=True, the client bit of tcp_fastopen): what its first SYN
    # carried: "cookie_requested" (no cookie cached yet: an empty cookie option; the request followed the
    # handshake) or "data_in_syn" (the request, with the cached cookie; data_times[0] is the SYN's time)
    fastopen: str | None = None
    syn_data_acked: bool | None = None  # data_in_syn: the SYN-ACK acked it (else it was sent again after it)

    @property
    def latency(self) -> float | None:
        """Seconds from connect() to ESTABLISHED, or None if it never connected."""
        return None if self.connected_at is None else self.connected_at - self.start

    @property
    def request_latency(self) -> float | None:
        """Seconds from the request's first DATA to the server's ACK of it (what the application waits
        for), or None if it was never sent or never acknowledged."""
        if self.data_acked_at is None or not self.data_times:
            return None
        return self.data_acked_at - self.data_times[0]

    def __repr__(self) -> str:
        """The fields, as a dataclass shows them; those of the request only when there was one, those of
        the close only when the client closed."""
        shown = [f for f in fields(self) if (f.name not in _DATA_FIELDS or self.data_times)
                 and (f.name not in _CLOSE_FIELDS or self.closed_at is not None)
                 and (f.name not in _FASTOPEN_FIELDS or self.fastopen is not None)]
        return f"ClientRecord({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in shown)})"


ClientRow = tuple[int, "int | None", str, Sequence[int], "int | None", "int | None", "int | None", "str | None"]
"""One client as the simulation leaves it: (start, port, outcome, SYN times, connected, accepted, failed,
errno), times in µs; its index is its place in ``ClientRecords``."""


class ClientRecords(_Columns[ClientRecord]):
    """Every client's ClientRecord, in client order. The simulation hands over its rows, and a record
    is built the first time it is read, then kept: a run's cost does not grow by 1.5 µs a client for
    records nobody reads, and ``Result.outcomes``, ``connected`` and ``latencies`` read the rows.
    It reads as the tuple of records it stands for: index, slice (a tuple), iterate, ``len``, ``+``,
    equality with a tuple of the same records, and a tuple's repr and IndexError."""

    __slots__ = ("_rows", "_more", "_made")

    def __init__(self, rows: list[ClientRow], more: Mapping[int, Mapping[str, Any]]) -> None:
        self._rows = rows
        self._more = more  # client index -> the fields of its request, close or TCP Fast Open, where it has them
        self._made: list[ClientRecord | None] = [None] * len(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def _make(self, i: int) -> ClientRecord:
        made = self._made[i]
        if made is None:
            i = index(i)  # a numpy integer too; the record's index is an int
            start, port, outcome, syn_times, connected, accepted, failed, errno = self._rows[i]
            made = self._made[i] = ClientRecord(
                i, start / US, port, outcome, tuple([t / US for t in syn_times]), to_seconds(connected),
                to_seconds(accepted), to_seconds(failed), errno, **self._more.get(i, {}))
        return made

    @overload  # type: ignore[override]
    def __getitem__(self, i: int) -> ClientRecord: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[ClientRecord, ...]: ...
    def __getitem__(self, i: int | slice) -> ClientRecord | tuple[ClientRecord, ...]:
        """``_Columns``' reading, with a tuple's answers: a slice is a tuple, and the IndexError says so."""
        if isinstance(i, slice):
            return tuple(super().__getitem__(i))
        try:
            return super().__getitem__(i)
        except IndexError:
            raise IndexError("tuple index out of range") from None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ClientRecords):
            return self._rows == other._rows and self._more == other._more
        return tuple(self) == other if isinstance(other, tuple) else NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __lt__(self, other: object) -> bool:
        return tuple(self) < _as_tuple(other)

    def __le__(self, other: object) -> bool:
        return tuple(self) <= _as_tuple(other)

    def __gt__(self, other: object) -> bool:
        return tuple(self) > _as_tuple(other)

    def __ge__(self, other: object) -> bool:
        return tuple(self) >= _as_tuple(other)

    def __add__(self, other: tuple[ClientRecord, ...]) -> tuple[ClientRecord, ...]:
        return tuple(self) + _as_tuple(other)

    def __radd__(self, other: tuple[ClientRecord, ...]) -> tuple[ClientRecord, ...]:
        return _as_tuple(other) + tuple(self)

    def __mul__(self, times: int) -> tuple[ClientRecord, ...]:
        return tuple(self) * times

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return repr(tuple(self))

    def outcomes(self) -> Counter[str]:
        """How many clients ended in each outcome (from the rows)."""
        return Counter(row[2] for row in self._rows)

    def connected(self) -> int:
        """How many clients' connect() succeeded (from the rows)."""
        return sum(row[4] is not None for row in self._rows)

    def latencies(self) -> list[float]:
        """``ClientRecord.latency`` of each client that connected, in client order (from the rows,
        with the records' arithmetic: connected_at - start, each in seconds)."""
        return [row[4] / US - row[0] / US for row in self._rows if row[4] is not None]


def _as_tuple(other: object) -> tuple[Any, ...]:
    """``other`` where a tuple's operator takes it (a tuple, or ClientRecords), else a tuple's TypeError."""
    if isinstance(other, ClientRecords):
        return tuple(other)
    if isinstance(other, tuple):
        return other
    raise TypeError(f"can only use a tuple of ClientRecord with the clients (not {type(other).__name__!r})")


_DATA_FIELDS = frozenset({"data_times", "data_acked_at", "rtt_sample"})
_CLOSE_FIELDS = frozenset({"closed_at", "time_wait_at", "time_wait_until"})
_FASTOPEN_FIELDS = frozenset({"fastopen", "syn_data_acked"})


@dataclass(frozen=True)
class Listener:
    """The listener as listen() set it up."""

    backlog: int  # sk_max_ack_backlog after the somaxconn clamp
    accept_capacity: int  # connections the accept queue holds: backlog + 1
    syn_capacity: int  # request socks the SYN queue holds before it counts as full
    syn_table: int | None  # 2.6.32/3.10 SYN hash-table size, else None


@dataclass(frozen=True)
class Result:
    """Everything one simulation produced. Times are seconds from the start."""

    scenario: Scenario
    clients: ClientRecords  # read as a tuple of ClientRecord
    packets: PacketLog
    trace: Trace
    queues: Queues  # the (first) listener's queue lengths over time
    server_counters: Mapping[str, int]
    client_counters: Mapping[str, int]
    listener: Listener | None  # the (first) listener, None when nothing listens
    log: tuple[tuple[float, str], ...]  # kernel log lines (dmesg)
    end: float  # the time the simulation stopped
    events: int  # discrete events processed
    listeners: tuple[Listener, ...] = ()  # every listener of the port (Scenario(listeners)), the first is listener
    listener_queues: tuple[Queues, ...] = ()  # the queue lengths of each listener; the first is queues
    counters: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        merged = Counter(self.server_counters)
        merged.update(self.client_counters)
        object.__setattr__(self, "counters", dict(sorted(merged.items())))
        if self.listener is not None and not self.listeners:  # one listener
            object.__setattr__(self, "listeners", (self.listener,))
        if self.listener is not None and not self.listener_queues:
            object.__setattr__(self, "listener_queues", (self.queues,))

    @property
    def kernel(self) -> Kernel:
        return self.scenario.kernel  # type: ignore[return-value]

    def queues_of(self, listener: int) -> Queues:
        """The queue lengths of one listener of a SO_REUSEPORT group (0: the first, ``queues``)."""
        count = len(self.listener_queues)
        if isinstance(listener, bool) or not isinstance(listener, int) or not 0 <= listener < count:
            raise ValueError(f"listener must be a listener's number from 0 to {count - 1}; got {listener!r}"
                             if count else "there is no listener in this scenario (backlog=None)")
        return self.listener_queues[listener]

    def ss(self, t: float | None = None, listener: int = 0) -> SsListener:
        """A listener (default: the first) at time t (default: the end), as ``ss`` reports it."""
        if self.listener is None:
            raise ValueError("there is no listener in this scenario (backlog=None)")
        syn, acc = self.queues_of(listener).at(self.end if t is None else t)
        return SsListener(acc, self.listeners[listener].backlog, syn)

    def outcomes(self) -> Counter[str]:
        """How many clients ended in each outcome."""
        clients = self.clients
        if isinstance(clients, ClientRecords):
            return clients.outcomes()
        return Counter(c.outcome for c in clients)  # records given instead (dataclasses.replace)

    def connected(self) -> int:
        """How many clients' connect() succeeded (whatever happened to the connection after)."""
        clients = self.clients
        if isinstance(clients, ClientRecords):
            return clients.connected()
        return sum(c.connected_at is not None for c in clients)

    def latencies(self) -> list[float]:
        """connect() latencies of the clients that connected, in client order."""
        clients = self.clients
        if isinstance(clients, ClientRecords):
            return clients.latencies()
        return [c.latency for c in clients if c.latency is not None]

    def to_pcap(self, path: Any, at: str = "server") -> int:
        """Write this run's packets to ``path`` (a file name or path) as a classic pcap file, as
        tcpdump on one host would have recorded them, and return how many it wrote. Wireshark and
        tshark open it.

        ``at="server"`` (default): the listener's host, where one usually captures: what the server
        sends, when it sends it (lost or not), and what reaches it, when it arrives (flood SYNs
        included); ``at="client"``: the client host: what the clients send, when they send it, and
        the server's packets that reach them, when they arrive (lost ones never; the flood and the
        listener's answers to it do not pass there). Addresses, ports, sequence numbers, options
        and windows are what each kernel would write (``model.wire``; with ``data=True`` every
        request carries ``model.wire.REQUEST``, a 100-byte HTTP GET); packet times are the model's
        clock from ``handshake_course.capture.EPOCH``.

        This needs the ``capture`` extra (dpkt): the model itself imports nothing of the project, so
        the import of ``handshake_course.capture.pcap`` is made here, when the method is called.
        """
        from ..capture.pcap import write_pcap

        return write_pcap(self, path, at=at)
