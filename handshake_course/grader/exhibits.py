"""The evidence graded exercises show: simulated incidents rendered as text (a ladder of packets,
the kernel's trace, ``nstat``, ``ss -lnt``, ``dmesg``, what the clients saw).

Every exhibit is produced by ``simulate()`` when the notebook runs, and the checks compute their
expected answers from the very same results, so the text a learner reads and the answer key cannot
drift apart. Exhibits whose point is to hide something (the kernel version in the time-machine
exercise) take it from a salted key (see ``keys``), not from a literal in this file.
"""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..model import VERSIONS, Kernel, Result, Scenario, simulate
from ..text.handshake import client_symptoms, kernel_trace, ladder
from ..text.host import dmesg, nstat, ss
from . import keys

# ---- ex05: the final ACK meets a full accept queue on 3.10 --------------------------------------

EX05_CLIENT = 2


@lru_cache(maxsize=1)
def ex05_result() -> Result:
    return simulate(Scenario(kernel="3.10", backlog=1, clients=[0.0, 0.1, 0.2, 0.3], accept=[8.0] * 4,
                             rtt=0.01, duration=20.0, seed=1))


# ---- ex04: final ACKs dropped on 6.18 -----------------------------------------------------------

@lru_cache(maxsize=1)
def ex04_result() -> Result:
    return simulate(Scenario(kernel="6.18", backlog=128, clients=[0.0, 0.5, 1.0], drop=("ACK",),
                             rtt=0.01, duration=70.0, seed=1))


# ---- ex06: counter forensics -----------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One incident: what the on-call engineer was told, and the simulated host."""

    story: str
    scenario: Callable[[], Scenario]
    ss_at: float


def _steady(n: int, rate: float, start: float = 0.0) -> list[float]:
    return [start + i / rate for i in range(n)]


FORENSICS: dict[str, Case] = {
    "a": Case("Linux 6.18. The service's configuration says `listen_backlog = 128`. Traffic: a steady "
              "100 new connections per second.",
              lambda: Scenario(kernel="6.18", backlog=128, clients=_steady(3000, 100.0), accept=60.0,
                               rtt=0.02, duration=60.0, seed=11), 20.0),
    "b": Case("Linux 6.18, `net.ipv4.tcp_syncookies = 0` (someone copied an old hardening guide). The "
              "service's configuration says `listen_backlog = 1024`. About 5 legitimate connections "
              "per second.",
              lambda: Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=1024,
                               clients=_steady(100, 5.0, 2.0), accept=1000.0, flood=3000.0, rtt=0.02,
                               duration=30.0, seed=12), 10.0),
    "c": Case("Linux 3.10 with its default sysctls. The service's configuration says "
              "`listen_backlog = 1024`. A burst of 100 new connections per second for 4 s, every few "
              "minutes.",
              lambda: Scenario(kernel="3.10", backlog=1024, clients=_steady(400, 100.0), accept=60.0,
                               rtt=0.02, duration=30.0, seed=13), 3.0),
    "d": Case("Linux 6.18 with its default sysctls. The service's configuration says "
              "`listen_backlog = 1024`. About 5 legitimate connections per second.",
              lambda: Scenario(kernel="6.18", backlog=1024, clients=_steady(100, 5.0, 2.0), accept=1000.0,
                               flood=3000.0, rtt=0.02, duration=30.0, seed=14), 10.0),
    "e": Case("Linux 6.18, `net.ipv4.tcp_abort_on_overflow = 1`. The service's configuration says "
              "`listen_backlog = 128`. A burst of 100 new connections per second for 4 s.",
              lambda: Scenario(kernel=Kernel("6.18", tcp_abort_on_overflow=1), backlog=128,
                               clients=_steady(400, 100.0), accept=60.0, rtt=0.02, duration=30.0, seed=15),
              3.0),
}


@cache
def forensics_result(case: str) -> Result:
    return simulate(FORENSICS[case].scenario())


def forensics_text(case: str) -> str:
    c, r = FORENSICS[case], forensics_result(case)
    title = f"    # server, counts during the {r.end:g} s incident"
    return "\n\n".join([f"Case {case.upper()}. {c.story}", ss(r, c.ss_at), nstat(r.server_counters, title),
                        dmesg(r), "What the clients saw:\n" + client_symptoms(r)])


# ---- ex07: tuning a 3.10 server for a flash crowd during a SYN flood ----------------------------

FLOOD_DAY = {"clients": 600, "rate": 2000.0, "start": 5.0, "flood": 1000.0, "accept": 1000.0,
             "rtt": 0.02, "duration": 12.0, "target": 0.5}
ORIGINAL_SETTINGS = {"backlog": 128, "somaxconn": 128, "tcp_syncookies": 0}


def flood_day(backlog: int, somaxconn: int, tcp_syncookies: int) -> Scenario:
    """The ex07 load on Linux 3.10 with the given listen() backlog and sysctls. Raises ValueError
    (naming the setting) for values the kernel would refuse."""
    d = FLOOD_DAY
    return Scenario(kernel=Kernel("3.10", somaxconn=somaxconn, tcp_syncookies=tcp_syncookies), backlog=backlog,
                    clients=_steady(int(d["clients"]), d["rate"], d["start"]), accept=d["accept"],
                    flood=d["flood"], rtt=d["rtt"], duration=d["duration"], seed=7)


@dataclass(frozen=True)
class FloodOutcome:
    """How the flash crowd fared: how many were slow or failed at connect(), and at accept()."""

    clients: int
    slow_connect: int
    slow_accept: int
    result: Result


def flood_outcome(backlog: int, somaxconn: int, tcp_syncookies: int) -> FloodOutcome:
    r = simulate(flood_day(backlog, somaxconn, tcp_syncookies))
    target = FLOOD_DAY["target"]
    slow_connect = sum(1 for c in r.clients if c.latency is None or c.latency > target)
    slow_accept = sum(1 for c in r.clients if c.accepted_at is None or c.accepted_at - c.start > target)
    return FloodOutcome(len(r.clients), slow_connect, slow_accept, r)


def flood_text(backlog: int, somaxconn: int, tcp_syncookies: int) -> str:
    """Replay the ex07 load with these settings and report what happened."""
    o = flood_outcome(backlog, somaxconn, tcp_syncookies)
    r = o.result
    target = FLOOD_DAY["target"]
    return "\n\n".join([
        f"listen(fd, {backlog}) with net.core.somaxconn = {somaxconn}, net.ipv4.tcp_syncookies = {tcp_syncookies}:",
        f"connect() slower than {target:g} s or failed: {o.slow_connect} of {o.clients}\n"
        f"not accept()ed within {target:g} s of connect(): {o.slow_accept} of {o.clients}",
        ss(r, FLOOD_DAY["start"] + 0.2), nstat(r.server_counters, "    # server, whole run"), dmesg(r)])


def try_flood_day(backlog: int, somaxconn: int, tcp_syncookies: int) -> None:
    """Print how the ex07 load fares with these settings (the replay check() grades)."""
    print(flood_text(backlog, somaxconn, tcp_syncookies))


# ---- ex08: which kernel made this trace? ---------------------------------------------------------

@dataclass(frozen=True)
class Mystery:
    story: str
    key: str  # keys.digest("ex08", question, version)
    scenario: Callable[[str], Scenario]


MYSTERIES: dict[str, Mystery] = {
    "q1": Mystery("listen(fd, 128) on the server; one client connects; an nftables rule on the server "
                  "drops every ACK the client sends.", "1b8ee4c16496e70027e826d0",
                  lambda v: Scenario(kernel=v, backlog=128, clients=1, drop=("ACK",), rtt=0.01, duration=70.0)),
    "q2": Mystery("listen(fd, 128) on the server; one client connects; an nftables rule drops every "
                  "SYN-ACK.", "dac3f98e6bafa52a7d583766",
                  lambda v: Scenario(kernel=v, backlog=128, clients=1, drop=("SYN-ACK",), rtt=0.01,
                                     duration=140.0)),
    "q3": Mystery("One client connects to a server behind a firewall that drops every SYN.",
                  "fd325fee741ff57028efda3d",
                  lambda v: Scenario(kernel=v, backlog=128, clients=1, drop=("SYN",), rtt=0.01, duration=200.0)),
    "q4": Mystery("listen(fd, 128) on the server; one client connects; an nftables rule drops every "
                  "SYN-ACK.", "4bdde5a6f1d9533b61d52216",
                  lambda v: Scenario(kernel=v, backlog=128, clients=1, drop=("SYN-ACK",), rtt=0.01,
                                     duration=140.0)),
}


@cache
def mystery_result(question: str) -> Result:
    m = MYSTERIES[question]
    return simulate(m.scenario(keys.resolve("ex08", question, m.key, VERSIONS)))


def mystery_text(question: str) -> str:
    r = mystery_result(question)
    return "\n\n".join([f"Trace for {question}. {MYSTERIES[question].story}", "Packets:\n" + ladder(r, 0),
                        "Kernel events:\n" + kernel_trace(r, 0),
                        nstat(r.client_counters, "    # client"), nstat(r.server_counters, "    # server")])


# ---- ex09: listen(fd, 0) --------------------------------------------------------------------------

@cache
def listen_zero(version: str, tcp_syncookies: int = 0) -> Result:
    """listen(fd, 0), three clients at t=0, an application that never calls accept(), 30 s."""
    return simulate(Scenario(kernel=Kernel(version, tcp_syncookies=tcp_syncookies), backlog=0, clients=3,
                             accept=None, rtt=0.01, duration=30.0, seed=1))


# ---- ex10: a capture the learner has not seen -------------------------------------------------------

EX10_HIDDEN = {"kernel": "f9d1147f9acf0fe8bb56cc83", "backlog": "970995570f90404ab8bb5653",
               "at": "99fa9e5aab7476215a2a604f", "seed": "b56ff4cf46e0807003ed4d39"}
"""What the learner works out from ex10's capture, kept as salted keys (``keys.digest("ex10", part,
value)``): the kernel of both hosts, the listener's backlog, where the capture was taken and the seed
(its ports, ISNs and where the timer wheel's ticks fall). ``ex10_hidden`` finds them by trying the
candidates."""
EX10_CANDIDATES: dict[str, Callable[[], Any]] = {
    "kernel": lambda: VERSIONS, "backlog": lambda: (str(b) for b in range(4097)),
    "at": lambda: ("server", "client"),  # capture.AT (not imported: it needs dpkt)
    "seed": lambda: (str(s) for s in range(10_000)),
}
EX10_STORY = {"clients": 30, "every": 0.01, "accept_at": 2.5, "rtt": 0.02, "duration": 8.0}
"""What the story tells: a burst of connect()s, 10 ms apart, over a 20 ms round trip."""
EX10_FILE = "ex10_incident.pcap"


@cache
def ex10_hidden() -> dict[str, Any]:
    """The hidden parts of ex10's incident (see EX10_HIDDEN)."""
    found: dict[str, Any] = {part: keys.resolve("ex10", part, key, EX10_CANDIDATES[part]())
                             for part, key in EX10_HIDDEN.items()}
    return found | {"backlog": int(found["backlog"]), "seed": int(found["seed"])}


@cache
def ex10_result() -> Result:
    """The run behind ex10's capture: a burst of clients against a listener whose application does not
    call accept() for the first 2.5 s."""
    h, d = ex10_hidden(), EX10_STORY
    n = int(d["clients"])
    return simulate(Scenario(kernel=h["kernel"], backlog=h["backlog"], clients=[i * d["every"] for i in range(n)],
                             accept=[d["accept_at"]] * n, rtt=d["rtt"], duration=d["duration"], seed=h["seed"]))


def ex10_capture(folder: str | Path | None = None) -> Path:
    """Write ex10's capture (a pcap file) into ``folder`` (default: a new temporary folder); its path.
    Needs the ``capture`` extra (dpkt)."""
    path = Path(folder if folder is not None else tempfile.mkdtemp(prefix="handshake-course-ex10-")) / EX10_FILE
    ex10_result().to_pcap(path, at=ex10_hidden()["at"])
    return path


@cache
def ex10_handshakes() -> tuple[Any, ...]:
    """The connection attempts of ex10's capture, as ``capture.read`` gives them to the learner."""
    from ..capture import read

    with tempfile.TemporaryDirectory(prefix="handshake-course-ex10-") as folder:
        return tuple(read(ex10_capture(folder)))


def _ex10() -> str:
    d = EX10_STORY
    return (f"Every few minutes a batch job opens {d['clients']} connections to an internal service on port 8080, "
            f"one every {d['every'] * 1000:g} ms, and users of the job complain that some of them take seconds. "
            "Client and service run on two Linux hosts of the same kernel version, a "
            f"{d['rtt'] * 1000:g} ms round trip apart. An engineer ran\n\n"
            "    sudo tcpdump -i eth0 -w ex10_incident.pcap 'tcp port 8080'\n\n"
            "on one of the two hosts during one burst. The capture is below.")


# ---- ex11: a client host runs out of ports ----------------------------------------------------------------

EX11_STORY = {"kernel": "6.18", "ports": (50000, 50199), "rate": 20.0, "hold": 0.2, "rtt": 0.002,
              "duration": 100.0}
"""ex11's client host: a narrowed ip_local_port_range, a new connection to one upstream 20 times a second,
each closed by the client 0.2 s after connect() returned (so the client's socket ends in TIME_WAIT)."""


def ex11_scenario(version: str | None = None, tcp_tw_reuse: int | None = None, rate: float | None = None,
                  duration: float | None = None) -> Scenario:
    """ex11's load on ``version`` (default the story's), with ``tcp_tw_reuse`` (None: the version's default),
    at ``rate`` connect() calls a second for ``duration`` seconds (defaults: the story's)."""
    d = EX11_STORY
    rate = float(d["rate"]) if rate is None else rate
    duration = float(d["duration"]) if duration is None else duration
    settings: dict[str, Any] = {"ip_local_port_range": d["ports"]}
    if tcp_tw_reuse is not None:
        settings["tcp_tw_reuse"] = tcp_tw_reuse
    kernel = Kernel(str(d["kernel"]) if version is None else version, **settings)
    starts = [round(i / rate, 6) for i in range(int(duration * rate))]
    return Scenario(kernel=kernel, backlog=4096, clients=starts, accept=10_000.0, rtt=d["rtt"], hold=d["hold"],
                    duration=duration, seed=1)


@cache
def ex11_result(version: str | None = None, tcp_tw_reuse: int | None = None) -> Result:
    return simulate(ex11_scenario(version, tcp_tw_reuse))


def _ex11() -> str:
    d = EX11_STORY
    low, high = d["ports"]  # type: ignore[misc]
    k = Kernel(str(d["kernel"]))
    story = (f"A service on it opens a new TCP connection to one upstream server, 10.0.0.2 port 8080, "
             f"{d['rate']:g} times a second from t = 0 (no connection pooling). Each time it calls connect() "
             f"without bind(), so the kernel picks the source port, and it calls close() {d['hold']:g} s after "
             f"connect() returns. The upstream accepts at once and closes its side as soon as it reads the end "
             f"of the stream. The round trip is {d['rtt'] * 1000:g} ms and nothing is lost. We watch the first "
             f"{d['duration']:g} s ({int(d['duration'] * d['rate'])} connect() calls).")
    return (f"Both hosts run Linux {k.version}. On the client host:\n\n"
            f"    $ sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse\n"
            f"    net.ipv4.ip_local_port_range = {low}\t{high}\n"
            f"    net.ipv4.tcp_tw_reuse = {k.tcp_tw_reuse}\n\n" + textwrap.fill(story, 100))


# ---- ex12: nginx workers with SO_REUSEPORT, and TCP_DEFER_ACCEPT ---------------------------------------------

EX12_STORY = {"kernel": "6.18", "workers": 4, "backlog": 31, "clients": 100, "every": 0.0001, "rtt": 0.02,
              "stall": 2.0, "seed": 1, "defer_accept": 5, "defer_rtt": 0.1}
"""ex12: four workers, each with its own SO_REUSEPORT listener of listen(31), stalled for 2 s while a burst of
100 clients arrives within 10 ms; then one client against the same group with TCP_DEFER_ACCEPT = 5 s."""


@cache
def ex12_burst() -> Result:
    d = EX12_STORY
    n = int(d["clients"])
    return simulate(Scenario(kernel=str(d["kernel"]), backlog=int(d["backlog"]), listeners=int(d["workers"]),
                             clients=[round(i * d["every"], 6) for i in range(n)], accept=None, rtt=d["rtt"],
                             duration=d["stall"], seed=int(d["seed"])))


def ex12_spread() -> tuple[int, ...]:
    """How many of the burst's clients the kernel's hash sent to each worker's listener (the listener of
    each client's first segment at the server)."""
    r = ex12_burst()
    first: dict[int, int] = {}
    for e in r.trace:
        if e.host == "server" and e.client is not None and e.listener is not None:
            first.setdefault(e.client, e.listener)
    return tuple(sum(1 for listener in first.values() if listener == i) for i in range(len(r.listeners)))


def ex12_busiest() -> int:
    """The worker whose listener the hash gave the most clients (the first of them on a tie)."""
    spread = ex12_spread()
    return spread.index(max(spread))


@cache
def ex12_deferred(data: bool) -> Result:
    """One client against the same group with TCP_DEFER_ACCEPT; ``data``: it sends its request at once."""
    d = EX12_STORY
    return simulate(Scenario(kernel=str(d["kernel"]), backlog=int(d["backlog"]), listeners=int(d["workers"]),
                             clients=1, accept=1000.0, rtt=d["defer_rtt"], defer_accept=d["defer_accept"],
                             data=data, duration=40.0, seed=int(d["seed"])))


def _ex12() -> str:
    d = EX12_STORY
    spread = ex12_spread()
    rows = "\n".join(f"    worker {i}: {n:3} connections" for i, n in enumerate(spread))
    story = (f"so each worker has a listening socket of its own on port 8080. A burst of {d['clients']} clients "
             f"arrives, one connect() every {d['every'] * 1000:g} ms, over a {d['rtt'] * 1000:g} ms round trip. "
             f"At that moment every worker is stuck in a slow blocking call, and none calls accept() for "
             f"{d['stall']:g} s. The clients send nothing after connect(). The kernel's hash spread them over "
             f"the workers' sockets like this:")
    return (f"Linux {d['kernel']}, default sysctls. nginx runs {d['workers']} worker processes with\n\n"
            f"    listen 8080 reuseport backlog={d['backlog']};\n\n" + textwrap.fill(story, 100) + f"\n\n{rows}")


# ---- the registry the notebooks call ---------------------------------------------------------------

def _ex05() -> str:
    r = ex05_result()
    return "\n\n".join([
        f"Linux 3.10, listen(fd, 1). Clients 0-3 connect at 0.0, 0.1, 0.2 and 0.3 s; the application "
        f"calls accept() four times at t = 8 s. Here is client {EX05_CLIENT}:",
        "Packets:\n" + ladder(r, EX05_CLIENT), "Kernel events:\n" + kernel_trace(r, EX05_CLIENT)])


def _ex04() -> str:
    r = ex04_result()
    return "\n\n".join(["Linux 6.18, listen(fd, 128), three clients connect at 0, 0.5 and 1 s, and an "
                        "nftables rule on the server drops every ACK the clients send. Client 0:",
                        "Packets:\n" + ladder(r, 0)])


def _ex07() -> str:
    d = FLOOD_DAY
    return "\n\n".join([
        f"Linux 3.10. A SYN flood of {d['flood']:g} spoofed SYN/s runs from t = 0. At t = {d['start']:g} s a "
        f"flash crowd of {d['clients']} real clients arrives at {d['rate']:g} connections/s. The "
        f"application accepts up to {d['accept']:g} connections/s. Round-trip time {d['rtt'] * 1000:g} ms.",
        "Today's settings:", flood_text(**ORIGINAL_SETTINGS)])


EXHIBITS: dict[tuple[str, str], Callable[[], str]] = {
    ("ex04", "ack_dropped"): _ex04,
    ("ex05", "trace"): _ex05,
    ("ex07", "flood_day"): _ex07,
    ("ex10", "story"): _ex10,
    ("ex11", "story"): _ex11,
    ("ex12", "story"): _ex12,
    **{("ex06", case): (lambda case=case: forensics_text(case)) for case in FORENSICS},
    **{("ex08", q): (lambda q=q: mystery_text(q)) for q in MYSTERIES},
}


def exhibit(exercise: str, name: str) -> None:
    """Print one exhibit of an exercise."""
    try:
        make = EXHIBITS[(exercise, name)]
    except KeyError:
        known = ", ".join(n for e, n in EXHIBITS if e == exercise) or "none"
        raise ValueError(f"{exercise} has no exhibit {name!r}; it has: {known}") from None
    print(make())


EXHIBIT_FILES: dict[tuple[str, str], Callable[[Path | None], Path]] = {
    ("ex10", "capture"): ex10_capture,
}


def exhibit_file(exercise: str, name: str, folder: str | Path | None = None) -> Path:
    """Write one file an exercise shows (a capture) into ``folder`` (default: a new temporary folder,
    so that running the notebook leaves nothing beside it) and return its path."""
    try:
        make = EXHIBIT_FILES[(exercise, name)]
    except KeyError:
        known = ", ".join(n for e, n in EXHIBIT_FILES if e == exercise) or "none"
        raise ValueError(f"{exercise} has no exhibit file {name!r}; it has: {known}") from None
    return make(Path(folder) if folder is not None else None)

