"""``diagnose`` on every pcap the lab stored, held to what its experiment configured and measured.

Each pcap in ``handshake_course/lab/measurements`` is found by globbing the folder, so a capture
stored later is diagnosed here too, and fails until its experiment has an entry in ``EXPECTED``.
Every expectation is derived from the paired JSON record (``params``: what the lab configured;
``result``, ``counters``, ``packets``: what it measured), and each says which field it reads. The
lab captures on the client's veth (the server's for synack_schedule: the record's ``capture``), where
both halves of a round trip take microseconds, so the handshakes' timing cannot place the capture:
the findings asserted are those a capture anywhere on that path shows, and what it cannot tell
(``ServerDiagnosis.limits``) is asserted as well.

Several captures end with their last SYN (syn_queue, syn_flood, accept_capacity: ``settle`` is
shorter than the first SYN timeout, and a pcap does not say how long the capture ran after its last
packet): a SYN that the capture followed for no longer than ``answer_wait`` is reported as a
``late_syn`` limit, not as unanswered, so unanswered_syn and late_syn together make up the SYNs the
record says the listener dropped.

The live test at the end runs the lab's apparatus now (root, network namespaces it creates and
deletes) with the capture on the client side, and holds diagnose to what the run configured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dpkt", reason="reading pcap files needs dpkt: pip install 'handshake-course[capture]'")

from handshake_course import Kernel, syn_schedule  # noqa: E402
from handshake_course.analysis.handshakes import cookie_wait, herd_window  # noqa: E402
from handshake_course.analysis.syn_schedules import schedule_of, syn_schedules  # noqa: E402
from handshake_course.capture import diagnose, read  # noqa: E402
from handshake_course.capture.diagnosis import ServerDiagnosis  # noqa: E402
from handshake_course.lab import compare, host, store  # noqa: E402
from handshake_course.model import VERSIONS  # noqa: E402

Record = dict[str, Any]
MEASUREMENTS = store.MEASUREMENTS
STORED = sorted(p.stem for p in MEASUREMENTS.glob("*.pcap"))
LIVE_TIMEOUT = 60.0
"""Seconds a live run may take before the test fails (each takes about 5 s)."""


@dataclass
class Expected:
    """What the diagnosis of one stored capture must say: connections per finding kind, and per
    kind of limit (what it cannot tell); a kind missing from either is asserted absent. ``at_least``:
    finding kinds whose count the record does not state, with the lower bound it implies;
    ``schedule``: the SYN schedule (``SynSchedule.key``) the recording kernel used, which the
    syn_retransmission finding must name, with the kernel's profile."""

    findings: dict[str, int]
    limits: dict[str, int]
    at_least: dict[str, int] | None = None
    schedule: str | None = None
    profile: str | None = None


def _schedule_key(rec: Record, side: str = "client") -> str:
    """The SYN schedule of the recording kernel with the side's tcp_syn_linear_timeouts (the
    record's ``sysctls``), matched by its send times to a modelled default schedule."""
    profile = compare.model_version(rec["kernel"])
    linear = int(rec["sysctls"][side]["net.ipv4.tcp_syn_linear_timeouts"])
    times = syn_schedule(Kernel(profile, tcp_syn_linear_timeouts=linear, timer_wheel="off")).send_times
    (key,) = [s.key for s in syn_schedules() if s.send_times[:5] == times[:5]]
    return key


def _timer_synacks(syns: list[float], synacks: list[float]) -> int:
    """SYN-ACKs the listener sent on its own timer: no SYN since the SYN-ACK before (the others
    answer a resent SYN, tcp_check_req's syn_again path)."""
    return sum(not any(a < s <= b for s in syns) for a, b in zip(synacks, synacks[1:], strict=False))


def _per_client(rec: Record) -> dict[str, dict[str, list[float]]]:
    """The record's ``packets``, by client: its SYN, SYN-ACK and ACK times."""
    out: dict[str, dict[str, list[float]]] = {}
    for t, kind, src, dst in rec["packets"]:
        client = dst if kind == "SYN-ACK" else src
        out.setdefault(client, {"SYN": [], "SYN-ACK": [], "ACK": [], "RST": []})[kind].append(t)
    return out


def _syn_schedule(rec: Record) -> Expected:
    # one connect() (params); the client's input hook drops every SYN-ACK (nft), so it resends its
    # SYN (result.syn_times) and the listener its SYN-ACK on its own timer (result.synack_times);
    # no handshake completes (result.errno), so where the capture was taken is read off the packets
    r = rec["result"]
    assert len(r["syn_times"]) > 1 and r["errno"] is not None
    timer = _timer_synacks(r["syn_times"], r["synack_times"])
    return Expected({"syn_retransmission": 1, **({"synack_retransmission": 1} if timer else {})}, {"vantage": 1},
                    schedule=_schedule_key(rec), profile=compare.model_version(rec["kernel"]))


def _synack_schedule(rec: Record) -> Expected:
    # captured at the server; its input hook drops the client's ACKs after the capture point (nft):
    # the listener resends its SYN-ACK (result.synack_times) and the client ACKs each one (packets).
    # ack_ignored: each ACK the record shows followed by another SYN-ACK; the timing cannot place
    # this capture, so one such ACK could be a lost one and the finding needs two in a row
    # (acks_ignored; judgement stated there)
    r = rec["result"]
    assert r["connected"]
    (c,) = _per_client(rec).values()
    ignored = sum(any(a < s for s in c["SYN-ACK"]) for a in c["ACK"])
    findings = {"synack_retransmission": 1} if len(r["synack_times"]) > 1 else {}
    if ignored >= 2:
        findings["ack_ignored"] = 1
    return Expected(findings, {})


def _syn_queue(rec: Record) -> Expected:
    # params.clients connect()s at once, tcp_syncookies=0 (params); the listener answered
    # result.synacks of them and dropped the rest (TcpExtListenDrops); `settle` (0.3 s) ends before
    # the 1 s SYN timeout, so no SYN is resent. The answered SYN-ACKs are dropped in the client's
    # input hook: never acknowledged, and followed for less than a SYN-ACK timeout (cookie_unknown)
    r, p = rec["result"], rec["params"]
    dropped = p["clients"] - r["synacks"]
    assert dropped == rec["counters"]["server"]["TcpExtListenDrops"] and p["tcp_syncookies"] == 0
    return Expected({"unanswered_syn": dropped}, {"vantage": p["clients"], "cookie_unknown": r["synacks"]})


def _syn_flood(rec: Record) -> Expected:
    # result.flood_syns connect()s from one address, one legitimate from another (params.legit_at);
    # the flood's SYN-ACKs are dropped in the client's input hook. The capture lasts params.duration,
    # shorter than the first SYN timeout: no resent SYN shows.
    r, p, server = rec["result"], rec["params"], rec["counters"]["server"]
    assert p["duration"] < min(syn_schedule(Kernel(v)).send_times[1] for v in VERSIONS)
    if p["tcp_syncookies"] == 0:
        # the SYNs the full SYN queue dropped (TcpExtTCPReqQFullDrop), the legitimate one among
        # them (result.legit_connected); the result.syn_recv requests' SYN-ACKs never acknowledged
        dropped = server["TcpExtTCPReqQFullDrop"]
        assert dropped == r["flood_syns"] + 1 - r["syn_recv"] and not r["legit_connected"]
        return Expected({"unanswered_syn": dropped}, {"vantage": r["flood_syns"] + 1, "cookie_unknown": r["syn_recv"]})
    # cookies (TcpExtSyncookiesSent) answered the SYNs the full queue (or tcp_syncookies=2) would
    # not keep, the legitimate one included, which got in (result.legit_connected). Nothing
    # found: the capture cannot tell a cookie here (see test below); every flood SYN-ACK is open
    assert r["legit_connected"] and server["TcpExtSyncookiesSent"] >= 1
    return Expected({}, {"cookie_unknown": r["flood_syns"]})


def _accept_overflow(rec: Record) -> Expected:
    # the raw client's two connections (result.raw_ports): the second ACK meets the full accept
    # queue; tcp_abort_on_overflow (params) answers it with an RST (result.rst_to) or drops it,
    # and the listener resends its SYN-ACK (result.synacks), which the raw client ACKs again
    r = rec["result"]
    if rec["params"]["tcp_abort_on_overflow"]:
        return Expected({"reset_after_ack": len(r["rst_to"])}, {})
    resent = sum(len(times) > 1 for times in r["synacks"].values())
    return Expected({"synack_retransmission": resent, "ack_ignored": resent}, {})


def _loss(rec: Record) -> Expected:
    # params.loss_percent of segments dropped both ways at the server: the clients that sent more
    # than one SYN (result.syns) resent on the kernel's schedule (sysctls); every client got in
    # (result.errors empty), so from this vantage no attempt is left unanswered, but who dropped
    # the SYNs it cannot tell. SYN-ACK resends and herds are not counted by the record: at least
    # one of each (a lost final ACK leaves a request to its timer; 250 connect()s at once lose
    # SYNs in the same tick), and a herd's members are among the resending clients
    r = rec["result"]
    resent = sum(n > 1 for n in r["syns"])
    assert not r["errors"]
    return Expected({"syn_retransmission": resent}, {"loss_or_listener": resent},
                    at_least={"synack_retransmission": 1, "herd": HERD_LEAST},
                    schedule=_schedule_key(rec), profile=compare.model_version(rec["kernel"]))


HERD_LEAST = 5
"""``analysis.handshakes.HERD_MIN``: the fewest attempts in one tick that make a herd."""


def _ports(rec: Record) -> Expected:
    # params.count consecutive connect()s, each completed (result.ports): nothing to find
    assert len(rec["result"]["ports"]) == rec["params"]["count"]
    return Expected({}, {})


def _herd(rec: Record) -> Expected:
    # the waiters' SYNs meet the full accept queue and are dropped, then resent (result.clients'
    # syn_times); herd: those resent within one timer tick of each other. Who got in after an
    # accept() and had its ACK ignored before shows in packets as a SYN-ACK resent by the timer;
    # one ignored ACK each, which from this vantage could be a lost one (no ack_ignored)
    clients = rec["result"]["clients"]
    resent = [c["syn_times"][1] for c in clients if len(c["syn_times"]) > 1]
    together = sum(abs(t - min(resent)) <= herd_window() for t in resent)
    timer = sum(_timer_synacks(c["SYN"], c["SYN-ACK"]) > 0 for c in _per_client(rec).values())
    findings = {"syn_retransmission": len(resent), "synack_retransmission": timer, "herd": together}
    return Expected(findings, {"loss_or_listener": len(resent)}, schedule=_schedule_key(rec),
                    profile=compare.model_version(rec["kernel"]))


def _accept_capacity(rec: Record) -> Expected:
    # params.clients connect()s, nobody accept()s: result.connected complete, the result.pending
    # others' SYNs dropped for the full accept queue (TcpExtListenDrops); `settle` ends before the
    # first SYN timeout. From this vantage who dropped them the capture cannot tell
    r = rec["result"]
    assert r["pending"] == rec["counters"]["server"]["TcpExtListenDrops"]
    return Expected({"unanswered_syn": r["pending"]}, {"loss_or_listener": r["pending"]})


def _timer_resends(rec: Record) -> Expected:
    # client_data (bare ACKs dropped both ways at the server, params.data: whether requests complete
    # the handshakes) and defer_accept (TCP_DEFER_ACCEPT drops a bare final ACK): the requests that
    # no data completed resend their SYN-ACK on the listener's timer (result.clients' synack_times
    # with no SYN since the one before); each client ACKs every SYN-ACK once, and one ACK followed
    # by a SYN-ACK could be a lost one from a vantage the timing cannot place (no ack_ignored)
    timer = sum(_timer_synacks(c["syn_times"], c["synack_times"]) > 0 for c in rec["result"]["clients"])
    return Expected({"synack_retransmission": timer} if timer else {}, {})


def _time_wait(rec: Record) -> Expected:
    # connect()s that each close at once: those that got a port completed their handshake (result.clients'
    # errno None); those that found none failed with EADDRNOTAVAIL and sent nothing; nothing drops a
    # segment (the record's nft is empty), so there is nothing to find; a port taken again (tcp_tw_reuse)
    # is a new attempt on the same four-tuple, not a resent SYN
    clients = rec["result"]["clients"]
    assert all(c["errno"] in (None, "EADDRNOTAVAIL") and (c["port"] is None) == (c["errno"] is not None)
               for c in clients)
    assert not rec["nft"], rec["nft"]
    return Expected({}, {})


def _fastopen(rec: Record) -> Expected:
    # TCP Fast Open with bare ACKs dropped both ways at the server (nft): every client sent one SYN
    # (result.clients' syn_times) and got one SYN-ACK, the cookie request's client and those whose SYN
    # data was not acked sent their request carrying the ACK, the others a bare ACK; the TFO children
    # whose ACK the server dropped resend their SYN-ACK only 1 s after their SYN (tcp_fastopen_synack_timer),
    # after the run ended (result.ended): nothing to find, nothing left open
    r = rec["result"]
    assert all(len(c["syn_times"]) == len(c["synack_times"]) == 1 for c in r["clients"])
    assert r["ended"] < min(c["syn_times"][0] for c in r["clients"] if c["synack_acks_data"]) + 1.0
    return Expected({}, {})


def _reuseport(rec: Record) -> Expected:
    # a burst to a SO_REUSEPORT group (params.listeners, params.backlog), nobody accept()s until
    # result.rounds: the clients a full listener dropped resent their SYNs (result.clients' syn_times) on the
    # client's schedule (sysctls), all in the same tick (a herd, when at least HERD_LEAST of them), and got
    # in after an accept() made room; from the client's veth who dropped them the capture cannot tell.
    # No SYN-ACK was resent: the run ends before a request's SYN-ACK timer would fire
    clients = rec["result"]["clients"]
    resent = [c["syn_times"][1] for c in clients if len(c["syn_times"]) > 1]
    assert resent and not any(_timer_synacks(c["syn_times"], c["synack_times"]) for c in clients)
    together = sum(abs(t - min(resent)) <= herd_window() for t in resent)
    findings = {"syn_retransmission": len(resent), **({"herd": together} if together >= HERD_LEAST else {})}
    return Expected(findings, {"loss_or_listener": len(resent)}, schedule=_schedule_key(rec),
                    profile=compare.model_version(rec["kernel"]))


EXPECTED: dict[str, Callable[[Record], Expected]] = {
    "syn_schedule": _syn_schedule, "synack_schedule": _synack_schedule, "syn_queue": _syn_queue,
    "syn_flood": _syn_flood, "accept_overflow": _accept_overflow, "loss": _loss, "ports": _ports, "herd": _herd,
    "accept_capacity": _accept_capacity, "client_data": _timer_resends, "defer_accept": _timer_resends,
    "time_wait": _time_wait, "fastopen": _fastopen, "reuseport": _reuseport,
}
"""Per experiment (the record's ``experiment``), what diagnose must find in its stored pcap."""
LATE_COUNTS_AS = {"unanswered_syn": "late_syn", "loss_or_listener": "late_syn"}
"""Counts the record states for SYNs dropped, which the capture splits between a finding (or limit)
and the late_syn limit (SYNs too close to its end to judge)."""


def _held_to(server: ServerDiagnosis, want: Expected) -> None:
    found = {f.kind: f.connections for f in server.findings}
    open_ = {limit.kind: limit.connections for limit in server.limits}
    late = open_.get("late_syn", 0)
    for kind, n in want.findings.items():
        got = found.get(kind, 0) + (late if kind in LATE_COUNTS_AS else 0)
        assert got == n, (kind, found, open_)
        assert found.get(kind, 0) > 0, (kind, "the capture shows some of them", found, open_)
    for kind, n in (want.at_least or {}).items():
        assert found.get(kind, 0) >= n, (kind, found)
    assert set(found) == set(want.findings) | set(want.at_least or {}), found
    for kind, n in want.limits.items():
        got = open_.get(kind, 0) + (late if kind in LATE_COUNTS_AS else 0)
        assert got == n, (kind, open_)
    assert set(open_) - {"late_syn"} == set(want.limits), open_
    if "late_syn" in open_:
        assert "unanswered_syn" in want.findings or "loss_or_listener" in want.limits, open_
    if want.schedule is not None:
        (resent,) = [f for f in server.findings if f.kind == "syn_retransmission"]
        assert want.schedule in resent.schedules and want.profile in resent.profiles, (resent.schedules,
                                                                                       resent.profiles)


@pytest.mark.parametrize("name", STORED)
def test_diagnose_finds_what_the_stored_experiment_configured(name):
    rec = json.loads((MEASUREMENTS / f"{name}.json").read_text())
    assert rec["experiment"] in EXPECTED, f"{name}: no expectation for experiment {rec['experiment']!r} yet"
    (server,) = diagnose(MEASUREMENTS / f"{name}.pcap", simulate_model=False).servers
    _held_to(server, EXPECTED[rec["experiment"]](rec))


def test_every_stored_pcap_is_diagnosed_here():
    kinds = {json.loads((MEASUREMENTS / f"{n}.json").read_text())["experiment"] for n in STORED}
    assert STORED and kinds <= set(EXPECTED)


@pytest.mark.parametrize("name", [n for n in STORED if n.startswith("syn_flood-c") and not n.endswith("c0")])
def test_cookies_the_capture_cannot_tell_are_left_open_not_guessed(name):
    """With syncookies on, the SYN-ACKs of the flood and of the legitimate client carry the options
    their SYNs asked for (the SYNs had timestamps, in which cookie_init_timestamp keeps SACK and
    window scale), and the capture ends before any SYN-ACK timer would have resent one (cookie_wait):
    neither tell applies, so no cookie_synack is claimed and the limit says so."""
    rec = json.loads((MEASUREMENTS / f"{name}.json").read_text())
    hs = read(MEASUREMENTS / f"{name}.pcap")
    assert all("TIMESTAMP" in h.syn_options and h.synack_options == h.syn_options for h in hs)
    span = max(t for h in hs for t in (*h.syn_times, *h.synack_times)) - min(h.syn_times[0] for h in hs)
    assert span < cookie_wait(tuple(VERSIONS))
    (server,) = diagnose(MEASUREMENTS / f"{name}.pcap", simulate_model=False).servers
    assert "cookie_synack" not in {f.kind for f in server.findings}
    (limit,) = [x for x in server.limits if x.kind == "cookie_unknown"]
    assert limit.connections == rec["result"]["flood_syns"] and "TcpExtSyncookiesSent" in limit.text


# ---- live: the lab's apparatus, captured at the client ------------------------------------------------

def _client_side_run(cause: str, path: Path) -> dict[str, Any]:
    """One run of the lab's Bench (a fresh namespace pair, deleted afterwards), captured on the
    client's veth, its frames written to ``path``. ``cause``: "lost" - the server's input hook drops
    every SYN, as a lossy or filtering network would (one connect()); "full" - listen(0) and no
    accept(): the accept queue holds one connection and the listener drops the next two's SYNs."""
    from handshake_course.lab import nft, pcapfile
    from handshake_course.lab.bench import Bench
    from handshake_course.lab.sockets import wait_connects

    retries = 3
    with Bench(f"client_side_{cause}", {"cause": cause}, client_sysctls={"net.ipv4.tcp_syn_retries": retries}) as b:
        if cause == "lost":
            b.listen(128)
            b.rules_in("server", [nft.drop("tcp flags & (syn | ack) == syn")])
            socks = [b.connect()]
        else:
            b.listen(0)
            socks = [b.connect(), b.connect(), b.connect()]
        wait_connects(socks, time.monotonic() + 3.4)  # SYNs at 0, 1, 2, 3 s on 6.5+'s linear schedule
        b.settle()
        rec = b.record({"clients": len(socks), "retries": retries})
    pcapfile.write(path, rec.frames)
    return rec


@pytest.mark.live
@pytest.mark.slow
@pytest.mark.parametrize("cause", ["lost", "full"])
def test_a_client_side_capture_says_the_syns_went_unanswered_but_not_who_dropped_them(cause, tmp_path):
    """Captured at the client, a SYN the network lost and a SYN a full accept queue dropped look the
    same: unanswered, then resent on the running kernel's SYN schedule. The diagnosis finds both
    and says that from here it cannot tell which (the loss_or_listener limit), and never claims
    the listener dropped them."""
    reason = host.privileged_reason()
    if reason is not None:
        pytest.skip(f"needs root and network namespaces: {reason}")
    profile = compare.model_version(host.kernel_release())
    if profile is None:
        pytest.skip(f"kernel {host.kernel_release()}: the lab describes 6.13 and later (a SYN dropped while the "
                    "accept queue is full)")
    path = tmp_path / f"{cause}.pcap"
    with ThreadPoolExecutor(max_workers=1) as pool:  # a hung run fails the test instead of the suite
        rec = pool.submit(_client_side_run, cause, path).result(timeout=LIVE_TIMEOUT)
    assert rec["capture"] == "client veth"
    waiting = 1 if cause == "lost" else 2  # "full": listen(0) holds accept_capacity(0) = 1 connection
    (server,) = diagnose(path, simulate_model=False).servers
    assert server.recording.vantage != "server" and not server.recording.at_listener
    found = {f.kind: f for f in server.findings}
    assert found["unanswered_syn"].connections == waiting
    assert found["syn_retransmission"].connections == waiting
    assert schedule_of(profile).key in found["syn_retransmission"].schedules  # the client's default sysctls
    assert profile in found["syn_retransmission"].profiles
    assert "cannot tell who dropped them" in found["unanswered_syn"].explanation
    (limit,) = [x for x in server.limits if x.kind == "loss_or_listener"]
    assert limit.connections == waiting and "cannot tell" in limit.text
    assert not {"ack_ignored", "reset_after_ack", "cookie_synack"} & set(found)
