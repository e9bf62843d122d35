"""The pcap file beside each stored measurement, read back by ``handshake_course.capture.read``,
shows the handshakes its JSON describes: the same SYN and SYN-ACK times, the same outcomes.

``python -m handshake_course.lab.record`` writes ``measurements/<name>.pcap`` from the frames the
lab's AF_PACKET capture saw in the same run (``lab.capture``, ``lab.pcapfile``), on the veth of the
client namespace, or of the server's for synack_schedule (the record's ``capture``). The JSON's times
are seconds from the experiment's own origin, rounded to the microsecond; the pcap has the kernel's
wall-clock stamps to the nanosecond. So each comparison first finds the origin from one packet both
hold, then allows ``ROUNDING`` for the two roundings to the microsecond. The loopback records have
no pcap: those experiments run unprivileged, where no AF_PACKET capture can.

The live test at the end runs two experiments now (root, network namespaces it creates and
deletes) and holds their fresh pcap files to their fresh records in the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dpkt", reason="reading pcap files needs dpkt: pip install 'handshake-course[capture]'")

from handshake_course import capture  # noqa: E402
from handshake_course.capture import Handshake  # noqa: E402
from handshake_course.lab import bench, experiments, host, pcapfile, record, store  # noqa: E402
from handshake_course.lab.capture import SNAPLEN, Frame, Frames  # noqa: E402

Record = dict[str, Any]
MEASUREMENTS = store.MEASUREMENTS
RECORDS = record.load_all(MEASUREMENTS)
CAPTURED = sorted(name for name in RECORDS if (MEASUREMENTS / f"{name}.pcap").is_file())
ROUNDING = 2e-6
"""Seconds: the JSON rounds each time, and the packet that fixes the origin, to the microsecond."""
LIVE_TIMEOUT = 60.0
"""Seconds a live experiment may take before the test fails (they take under 4 s)."""


# ---- reading a pcap next to its record ------------------------------------------------------------

def _times(h: Handshake, kind: str) -> tuple[float, ...]:
    return {"SYN": h.syn_times, "SYN-ACK": h.synack_times, "ACK": h.ack_times}[kind]


def _packets(handshakes: Sequence[Handshake]) -> list[tuple[float, str, str, str]]:
    """Every handshake packet ``read`` attributes, as the JSON's ``packets`` list has them: (time,
    kind, source, destination)."""
    found = []
    for h in handshakes:
        for kind in ("SYN", "ACK"):
            found += [(t, kind, h.client, h.server) for t in _times(h, kind)]
        found += [(t, "SYN-ACK", h.server, h.client) for t in h.synack_times]
        found += [(t, "RST", h.server, h.client) for t in h.server_rst_times]
        client_rsts = Counter(h.rst_times) - Counter(h.server_rst_times)
        found += [(t, "RST", h.client, h.server) for t in client_rsts.elements()]
    return sorted(found)


def _same_times(got: Sequence[float], want: Sequence[float], origin: float, what: str) -> None:
    """`got` (capture clock) minus `origin` is `want` (the JSON's times), to the JSON's rounding."""
    relative = [round(t - origin, 6) for t in got]
    assert len(relative) == len(want), (what, relative, list(want))
    assert all(abs(g - w) <= ROUNDING for g, w in zip(relative, want, strict=True)), (what, relative, list(want))


def _origin(rec: Record, handshakes: Sequence[Handshake]) -> float:
    """The capture-clock time of the record's t=0, from its first stored packet."""
    return _packets(handshakes)[0][0] - rec["packets"][0][0]


def _outcomes(handshakes: Sequence[Handshake]) -> Counter[str]:
    return Counter(h.outcome for h in handshakes)


def _counts(**outcomes: int) -> Counter[str]:
    """A tally of outcomes, those that did not happen left out (as ``_outcomes`` has them)."""
    return Counter({k: n for k, n in outcomes.items() if n})


def _by_port(handshakes: Sequence[Handshake]) -> dict[int, Handshake]:
    ports = [int(h.client.rsplit(":", 1)[1]) for h in handshakes]
    assert len(set(ports)) == len(ports), "one connection attempt per client port"
    return dict(zip(ports, handshakes, strict=True))


# ---- what each experiment stored, against what read() finds ---------------------------------------

def _syn_schedule(rec: Record, hs: list[Handshake]) -> None:
    # one connect() whose SYN-ACKs the client's input hook drops: the capture, before that hook,
    # sees them arrive, and connect() gives up (errno) without ever sending the third ACK
    r = rec["result"]
    (h,) = hs
    _same_times(h.syn_times, r["syn_times"], h.syn_times[0], "SYNs")
    _same_times(h.synack_times, r["synack_times"], h.syn_times[0], "SYN-ACKs")
    assert r["errno"] is not None
    assert h.outcome == ("incomplete" if r["synack_times"] else "unanswered")


def _synack_schedule(rec: Record, hs: list[Handshake]) -> None:
    # captured at the server: the client's ACKs arrive (and are then dropped by the server's input
    # hook), so the capture shows the client established while the listener resends its SYN-ACK
    r = rec["result"]
    (h,) = hs
    _same_times(h.synack_times, r["synack_times"], h.synack_times[0], "SYN-ACKs")
    assert h.outcome == ("established" if r["connected"] else "incomplete")


def _syn_queue(rec: Record, hs: list[Handshake]) -> None:
    # every SYN the listener keeps a request sock for is answered; the SYN-ACKs never reach the
    # client's socket (its input hook drops them), and `settle` ends before the 1 s retransmission
    r = rec["result"]
    assert len(hs) == rec["params"]["clients"]
    assert all(len(h.syn_times) == 1 for h in hs)
    assert _outcomes(hs) == _counts(incomplete=r["synacks"], unanswered=len(hs) - r["synacks"])


def _syn_flood(rec: Record, hs: list[Handshake]) -> None:
    # the flood comes from one address, the legitimate client from another; the flood's SYN-ACKs
    # are dropped in the client's input hook. The legitimate SYN leaves at 0.25 s, after the flood
    # has filled the SYN queue (backlog 8): with syncookies on it is answered with a cookie, so the
    # listener's answers are its request socks (SYN-RECV) and its cookies (TcpExtSyncookiesSent)
    r, server = rec["result"], rec["counters"]["server"]
    by_address = Counter(h.client.rsplit(":", 1)[0] for h in hs)
    (flood_ip, flood), (legit_ip, legit) = by_address.most_common()
    assert (flood, legit) == (r["flood_syns"], 1)
    floods = [h for h in hs if h.client.startswith(f"{flood_ip}:")]
    (ours,) = [h for h in hs if h.client.startswith(f"{legit_ip}:")]
    assert ours.outcome == ("established" if r["legit_connected"] else "unanswered")
    assert {h.outcome for h in floods} <= {"incomplete", "unanswered"}
    cookies = server.get("TcpExtSyncookiesSent", 0)
    answered = sum(bool(h.synack_times) for h in floods)
    assert answered == r["syn_recv"] + cookies - (1 if r["legit_connected"] and cookies else 0)


def _accept_overflow(rec: Record, hs: list[Handshake]) -> None:
    # two real clients fill the accept queue; the raw client's two connections are answered, and
    # the second's ACK meets a full queue: silence and a resent SYN-ACK, or an RST (abort_on_overflow)
    r = rec["result"]
    origin = _origin(rec, hs)
    ports = _by_port(hs)
    for port in r["raw_ports"]:
        h = ports[port]
        _same_times(h.synack_times, r["synacks"][str(port)], origin, f"SYN-ACKs to {port}")
        assert h.outcome == ("reset" if port in r["rst_to"] else "established"), port
    assert [h.outcome for p, h in ports.items() if p not in r["raw_ports"]] == ["established"] * 2


def _loss(rec: Record, hs: list[Handshake]) -> None:
    # captured at the client, loss at the server: every SYN the client sent is in the capture, and
    # only the SYN-ACKs that got through. Clients in connect() order, which is their first SYN's
    r = rec["result"]
    assert len(hs) == len(r["start"])
    _same_times([h.syn_times[0] for h in hs], r["start"], hs[0].syn_times[0] - r["start"][0], "first SYNs")
    assert [len(h.syn_times) for h in hs] == r["syns"]
    latency = [None if h.outcome != "established" else round(h.synack_times[0] - h.syn_times[0], 6) for h in hs]
    assert [x is None for x in latency] == [x is None for x in r["latency"]]
    assert all(abs(g - w) <= ROUNDING for g, w in zip(latency, r["latency"], strict=True) if g is not None)
    assert {h.outcome for h, x in zip(hs, r["latency"], strict=True) if x is None} <= {"unanswered"}


def _ports(rec: Record, hs: list[Handshake]) -> None:
    ports = [int(h.client.rsplit(":", 1)[1]) for h in hs]
    assert ports == rec["result"]["ports"]
    assert {h.outcome for h in hs} == {"established"}


def _herd(rec: Record, hs: list[Handshake]) -> None:
    # the waiters' SYNs meet a full accept queue and are dropped unanswered (6.13+) until an
    # accept() makes room; the record's connected_at is the first SYN-ACK the client received
    origin = _origin(rec, hs)
    ports = _by_port(hs)
    assert set(ports) == {c["port"] for c in rec["result"]["clients"]}
    for c in rec["result"]["clients"]:
        h = ports[c["port"]]
        _same_times(h.syn_times, c["syn_times"], origin, f"SYNs of {c['port']}")
        assert h.outcome == ("unanswered" if c["connected_at"] is None else "established"), c
        if c["connected_at"] is not None:
            _same_times(h.synack_times[:1], [c["connected_at"]], origin, f"first SYN-ACK to {c['port']}")


def _accept_capacity(rec: Record, hs: list[Handshake]) -> None:
    # once the accept queue is full, 6.13+ drops a SYN without an answer; `settle` ends before the
    # 1 s SYN retransmission
    r = rec["result"]
    assert len(hs) == rec["params"]["clients"] and not r["errors"]
    assert _outcomes(hs) == _counts(established=r["connected"], unanswered=r["pending"])


def _each_client(rec: Record, hs: list[Handshake]) -> Iterator[tuple[dict[str, Any], Handshake, float]]:
    """Each client of the record with the handshake read() found on its port, its SYNs and SYN-ACKs
    already held to the record's, and the capture's time origin."""
    origin = _origin(rec, hs)
    ports = _by_port(hs)
    clients = rec["result"]["clients"]
    assert set(ports) == {c["port"] for c in clients}
    for c in clients:
        h = ports[c["port"]]
        _same_times(h.syn_times, c["syn_times"], origin, f"SYNs of {c['port']}")
        _same_times(h.synack_times, c["synack_times"], origin, f"SYN-ACKs to {c['port']}")
        yield c, h, origin


def _clients_established(rec: Record, hs: list[Handshake]) -> None:
    # client_data, defer_accept: the listener drops the bare ACKs (nftables, or TCP_DEFER_ACCEPT), after
    # the client's capture, so that shows each handshake complete (its ACK leaves); a request is data,
    # not a handshake packet: read() keeps its first time only. A request sock that resends its SYN-ACK
    # gets the client's answer again
    for c, h, origin in _each_client(rec, hs):
        assert h.outcome == "established", c
        _same_times([] if h.data_at is None else [h.data_at], c["data_times"][:1], origin, f"request of {c['port']}")
        if "ack_times" in c:
            _same_times(h.ack_times, c["ack_times"], origin, f"ACKs of {c['port']}")


def _time_wait(rec: Record, hs: list[Handshake]) -> None:
    # one handshake per connect() that got a port, in order, each established; a port taken again
    # (tcp_tw_reuse) starts a new attempt on the same 4-tuple (a new ISN). The FINs are no handshake packets
    got = [c["port"] for c in rec["result"]["clients"] if c["port"] is not None]
    assert [int(h.client.rsplit(":", 1)[1]) for h in hs] == got
    assert {h.outcome for h in hs} == {"established"}
    assert len({h.client_isn for h in hs}) == len(hs)


def _fastopen(rec: Record, hs: list[Handshake]) -> None:
    # TCP Fast Open: every first SYN has the TFO option (kind 34): an empty one asks for a cookie, and
    # only that SYN's SYN-ACK carries one; the others carry the cookie and the request, which read()
    # keeps as the SYN's data_at. Every handshake completes as the client sees it: a bare ACK (TFO
    # children; dropped at the server after this capture), or the request carrying it (the cookie
    # request's client, and those whose SYN-ACK did not ack the SYN's data and sent it again at once)
    for c, h, origin in _each_client(rec, hs):
        assert h.outcome == "established" and "FASTOPEN" in h.syn_options, c
        assert ("FASTOPEN" in h.synack_options) == (c["synack_option"] == "cookie"), c
        first_data = c["syn_times"][0] if c["syn_data"] else c["data_times"][0]
        _same_times([h.data_at], [first_data], origin, f"first data of {c['port']}")
        assert bool(h.ack_times) == bool(c["synack_acks_data"]), c  # a bare ACK only where the SYN-ACK acked the data


def _reuseport(rec: Record, hs: list[Handshake]) -> None:
    # a burst to a SO_REUSEPORT group: the SYNs a full listener dropped got no answer and were resent
    # (the same attempt: same ISN); each client that got a SYN-ACK answered it
    for c, h, _ in _each_client(rec, hs):
        assert h.outcome == ("established" if c["synack_times"] else "unanswered"), c


CHECKS: dict[str, Callable[[Record, list[Handshake]], None]] = {
    "syn_schedule": _syn_schedule,
    "synack_schedule": _synack_schedule,
    "syn_queue": _syn_queue,
    "syn_flood": _syn_flood,
    "accept_overflow": _accept_overflow,
    "loss": _loss,
    "ports": _ports,
    "herd": _herd,
    "accept_capacity": _accept_capacity,
    "client_data": _clients_established,
    "defer_accept": _clients_established,
    "time_wait": _time_wait,
    "fastopen": _fastopen,
    "reuseport": _reuseport,
}
"""What read() must find in the pcap of each kind of record (the loopback kinds have no pcap)."""


def _agrees(rec: Record, pcap: Path) -> None:
    """``read(pcap)`` shows what `rec` stored: its experiment's check, and for a record that lists
    its packets, exactly those packets."""
    loaded = capture.load(pcap)
    assert not loaded.truncated and loaded.link_type == 1, loaded.notes  # Ethernet, from the veth
    hs = list(loaded.handshakes)
    CHECKS[rec["experiment"]](rec, hs)
    if "packets" in rec:
        origin = _origin(rec, hs)
        found = _packets(hs)
        assert [p[1:] for p in found] == [tuple(p[1:]) for p in rec["packets"]]
        _same_times([p[0] for p in found], [p[0] for p in rec["packets"]], origin, "packets")


# ---- the stored measurements ----------------------------------------------------------------------

def test_every_record_that_captured_packets_has_its_pcap():
    captured = {name for name, rec in RECORDS.items() if "capture" in rec}
    assert set(CAPTURED) == captured == {n for n in RECORDS if not n.startswith("loopback_")}
    assert {p.stem for p in MEASUREMENTS.glob("*.pcap")} <= set(RECORDS)  # no pcap without its record
    assert set(CHECKS) == {RECORDS[n]["experiment"] for n in CAPTURED}
    assert store.stored_pcap("herd") == MEASUREMENTS / "herd.pcap" and store.stored_pcap("loopback_herd") is None


@pytest.mark.parametrize("name", CAPTURED)
def test_read_finds_the_handshakes_the_record_stored(name):
    _agrees(RECORDS[name], MEASUREMENTS / f"{name}.pcap")


@pytest.mark.parametrize("name", CAPTURED)
def test_stored_pcaps_keep_headers_only_and_stay_small(name):
    path = MEASUREMENTS / f"{name}.pcap"
    import dpkt

    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert reader.snaplen == SNAPLEN
        assert all(len(buf) <= SNAPLEN for _, buf in reader)
    assert path.stat().st_size < 100_000


def test_wireshark_opens_every_stored_pcap():
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (Debian package tshark)")
    for name in CAPTURED:
        done = subprocess.run([tshark, "-n", "-r", str(MEASUREMENTS / f"{name}.pcap"), "-q"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (name, done.stderr)


# ---- writing a pcap ---------------------------------------------------------------------------------

def _frames() -> Frames:
    syn = bytes(14) + bytes([0x45]) + bytes(SNAPLEN - 15)  # only the header fields pcap files care about
    return Frames(1, SNAPLEN, (Frame(1_700_000_000, 123_456_789, syn, 1514, True),
                               Frame(1_700_000_001, 5, syn[:60], 60, False)))


def test_a_pcap_file_keeps_the_kernel_stamp_to_the_nanosecond_and_the_length_on_the_wire(tmp_path):
    import dpkt

    path = tmp_path / "x.pcap"
    assert pcapfile.write(path, _frames()) == 2
    raw = path.read_bytes()
    assert raw[:4] == bytes.fromhex("a1b23c4d")  # the nanosecond pcap magic, in network byte order
    records = []
    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert (reader.datalink(), reader.snaplen) == (1, SNAPLEN)
        records = [(ts, len(buf)) for ts, buf in reader]
    assert [str(ts) for ts, _ in records] == ["1700000000.123456789", "1700000001.000000005"]
    assert [n for _, n in records] == [SNAPLEN, 60]
    header = dpkt.pcap.PktHdr(raw[24:40])
    assert (header.caplen, header.len) == (SNAPLEN, 1514)  # cut to the snaplen, the frame's length kept


def test_save_writes_the_pcap_beside_the_json_and_never_leaves_a_stale_one(tmp_path, monkeypatch):
    rec = bench.Measurement({"experiment": "x", "result": {}}, _frames())
    assert record.save(tmp_path, "x", rec) == [tmp_path / "x.json", tmp_path / "x.pcap"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"experiment": "x", "result": {}}
    monkeypatch.setattr(pcapfile, "missing", lambda: "no dpkt here")
    assert record.save(tmp_path, "x", rec) == [tmp_path / "x.json"]  # without dpkt: the JSON alone
    assert not (tmp_path / "x.pcap").exists()


# ---- live: a run now ----------------------------------------------------------------------------

LIVE = {"syn_schedule-r1-l4": lambda: experiments.syn_schedule(1, 4),
        "accept_overflow-a1": lambda: experiments.accept_overflow(1)}


@pytest.mark.live
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LIVE))
def test_an_experiment_run_now_writes_a_pcap_that_read_agrees_with(name, tmp_path):
    reason = host.privileged_reason()
    if reason is not None:
        pytest.skip(f"needs root and network namespaces: {reason}")
    with ThreadPoolExecutor(max_workers=1) as pool:  # a hung run fails the test instead of the suite
        rec = pool.submit(LIVE[name]).result(timeout=LIVE_TIMEOUT)
    assert record.save(tmp_path, name, rec) == [tmp_path / f"{name}.json", tmp_path / f"{name}.pcap"]
    _agrees(json.loads((tmp_path / f"{name}.json").read_text()), tmp_path / f"{name}.pcap")
