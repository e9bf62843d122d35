"""``Result.to_pcap``: a run written as a pcap file that Wireshark reads as it would read the
kernel's own packets.

What the segments carry is checked against the kernel rules it follows (model/wire.py: the
records' option facts, syncookies that decode as cookie_v4_check decodes them, one ISN per socket
and per request sock). Then tshark (Wireshark's command line, Debian package ``tshark``) opens the
files and its own TCP analysis is held to the model's packets: how many SYNs and SYN-ACKs the
capture holds, when, and which of them Wireshark calls retransmissions (clients' requests too: their
loss probes and RTOs, the copies the server already held, its duplicate ACKs). Without tshark those
tests are skipped, saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("dpkt", reason="dpkt is not installed (pip install -e '.[capture]')")

from model_helpers import CAPTURED  # noqa: E402

from handshake_course import Kernel, Scenario, simulate  # noqa: E402
from handshake_course.capture import EPOCH  # noqa: E402
from handshake_course.cli import main  # noqa: E402
from handshake_course.model import VERSIONS  # noqa: E402
from handshake_course.model.wire import (  # noqa: E402
    ACK,
    CLIENT_ADDR,
    FIN,
    MSS,
    PSH,
    REQUEST,
    RST,
    SYN,
    TCP_FASTOPEN_COOKIE_SIZE,
    TCP_MSS_DEFAULT,
    WINDOW,
    Keys,
    cookie_counter,
    cookie_mss_index,
    cookie_timestamp,
    fastopen_option,
    option_names,
    options_write,
    segments,
    sends,
    synack_cookie,
)

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (Debian: apt-get install tshark)")

SCENARIOS = {
    # name: a scenario whose packets Wireshark must analyse as the model says
    **CAPTURED,
    "3.10 flood, cookies": Scenario(kernel="3.10", backlog=8, clients=[1.0 + 0.1 * i for i in range(8)], accept=50,
                                    flood=400, loss=0.3, duration=15, seed=7),
    "6.18 flood, cookies": Scenario(kernel="6.18", backlog=8, clients=[1.0 + 0.1 * i for i in range(8)], accept=50,
                                    flood=400, loss=0.3, duration=15, seed=7),
    "6.18 cookies always": Scenario(kernel=Kernel("6.18", tcp_syncookies=2), backlog=8, clients=6, loss=0.4,
                                    duration=20, seed=4),
}


@pytest.fixture(scope="module")
def results():
    return {name: simulate(scenario) for name, scenario in SCENARIOS.items()}


# ---- what the segments carry --------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_a_syn_carries_the_records_options_in_the_kernels_order(version):
    kernel = Kernel(version)
    full = options_write(MSS, (1, 0), True, kernel.rcv_wscale)
    assert option_names(full) == kernel.handshake_options
    assert sum(2 + len(d) if k > 1 else 1 for k, d in full) == 20  # tcp_syn_options: 4 + 12 + 4 bytes
    assert dict(full)[3] == bytes([kernel.rcv_wscale])
    # tcp_options_write without timestamps: SACK_PERM gets two NOPs of its own
    assert option_names(options_write(MSS, None, True, 7)) == ("MSS", "NOP", "NOP", "SACK_PERM", "NOP", "WSCALE")


def test_the_window_scale_is_7_until_6_18_raised_tcp_rmem_to_32_mb():
    # tcp_init: max_rshare 4 MB (2.6.32) or 6 MB -> 7; 32 MB (6.18) -> ilog2(32 MB) - 15 = 10
    assert {v: Kernel(v).rcv_wscale for v in VERSIONS} == {v: 10 if v == "6.18" else 7 for v in VERSIONS}


def test_every_syn_of_a_socket_carries_its_isn_and_every_answer_acknowledges_it(results):
    result = results["6.18 loss"]
    by_client = defaultdict(list)
    for s in segments(result):
        by_client[s.client].append(s)
    for client, segs in by_client.items():
        syns = [s for s in segs if s.kind == "SYN"]
        assert len({s.seq for s in syns}) == 1, client  # one socket, one ISN (secure_tcp_seq at connect())
        isn = syns[0].seq
        assert all(s.ack == (isn + 1) % 2**32 for s in segs if s.kind == "SYN-ACK")
        synacks = {s.seq for s in segs if s.kind == "SYN-ACK"}
        assert len(synacks) <= 1  # one request sock: its retransmissions repeat its ISN
        for ack in (s for s in segs if s.kind == "ACK"):
            assert ack.seq == (isn + 1) % 2**32 and (ack.ack - 1) % 2**32 in synacks


@pytest.mark.parametrize("name", ["3.10 flood, cookies", "6.18 cookies always"])
def test_a_cookie_synack_decodes_to_its_mss_index_as_cookie_v4_check_does(results, name):
    result = results[name]
    keys, k = Keys(result.scenario.seed), result.kernel
    cookies = [s for s in segments(result) if s.cookie and s.client is not None]
    assert cookies
    for s in cookies:
        syn = (s.dst, s.dport, s.src, s.sport)  # the SYN the cookie answers: client to server
        count = cookie_counter(result, s.time)
        assert keys.check_cookie(s.seq, syn, (s.ack - 1) % 2**32, count) == cookie_mss_index(k, MSS)
        assert keys.check_cookie(s.seq, syn, (s.ack - 1) % 2**32, count + 2) is None  # MAX_SYNCOOKIE_AGE
    # 3.10's msstab has eight entries, 1460 the sixth; 6.18's four, 1460 the last
    assert cookie_mss_index(Kernel("3.10"), MSS) == 5 and cookie_mss_index(Kernel("6.18"), MSS) == 3
    assert cookie_mss_index(Kernel("6.18"), TCP_MSS_DEFAULT) == 0


def test_a_cookie_synack_hides_the_syns_options_in_its_timestamp():
    # cookie_init_timestamp, 3.10+: snd_wscale | sack << 4 in the low 6 bits, never in the future
    ts = cookie_timestamp(Kernel("3.10"), 1_000_000, 7, True, 7)
    assert ts & 0x3F == 7 | 1 << 4 and 1_000_000 - 64 < ts <= 1_000_000
    assert cookie_timestamp(Kernel("6.18"), 1_000_000, None, False, 10) & 0x3F == 0xF  # no window scaling
    # 2.6.32: snd_wscale | rcv_wscale << 4 | sack << 8 in the low 9 bits
    assert cookie_timestamp(Kernel("2.6.32"), 1_000_000, 7, True, 7) & 0x1FF == 7 | 7 << 4 | 1 << 8


def test_a_cookie_keeps_the_options_only_when_the_syn_had_timestamps(results):
    found = [s for s in segments(results["3.10 flood, cookies"]) if s.cookie]
    clients = [s for s in found if s.client is not None]
    flood = [s for s in found if s.client is None]
    assert clients and flood
    assert all(option_names(s.options) == Kernel("3.10").handshake_options for s in clients)
    for s in clients:  # 'jiffies' kernels add no offset: the low bits are cookie_init_timestamp's
        tsval = int.from_bytes(dict(s.options)[8][:4], "big")
        assert tsval & 0x3F == 7 | 1 << 4
    assert all(option_names(s.options) == ("MSS",) for s in flood)  # the flood's SYNs had no options


REQUESTS = [name for name, scenario in SCENARIOS.items() if scenario.data]


def tsval(segment) -> tuple[int, int]:
    """(TSval, TSecr) of a segment's timestamp option."""
    data = dict(segment.options)[8]
    return int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big")


def sack_blocks(segment) -> list[tuple[int, int]]:
    data = dict(segment.options).get(5, b"")
    return [(int.from_bytes(data[i:i + 4], "big"), int.from_bytes(data[i + 4:i + 8], "big"))
            for i in range(0, len(data), 8)]


@pytest.mark.parametrize("name", REQUESTS)
def test_a_request_follows_the_syn_and_the_servers_ack_points_past_it(results, name):
    result = results[name]
    k, size, mask = result.kernel, len(REQUEST), 2**32 - 1
    assert size == 100 and REQUEST.startswith(b"GET / HTTP/1.1\r\n") and REQUEST.endswith(b"\r\n\r\n")
    by_client = defaultdict(list)
    for s in segments(result):
        by_client[s.client].append(s)
    for client, segs in by_client.items():
        isn = segs[0].seq  # the SYN's
        datas = [s for s in segs if s.kind == "DATA"]
        assert datas, client  # every client of these runs connects and writes its request
        third_ack = next(s for s in segs if s.kind == "ACK" and s.sender == "client")
        server_isn = (third_ack.ack - 1) & mask  # the SYN-ACK it connected with
        connected_with = next(s for s in segs if s.kind == "SYN-ACK" and s.seq == server_isn and not s.lost)
        for d in datas:  # every copy: the same bytes right after the SYN, acknowledging that SYN-ACK
            assert (d.seq, d.ack, d.flags, d.payload) == ((isn + 1) & mask, third_ack.ack, PSH | ACK, REQUEST)
            assert option_names(d.options) == ("NOP", "NOP", "TIMESTAMP") and d.window == WINDOW >> k.rcv_wscale
            assert tsval(d)[1] == tsval(connected_with)[0]  # ts_recent: that SYN-ACK's TSval
        first_data = segs.index(datas[0])
        for s in segs[first_data:]:
            if s.kind == "ACK" and s.sender == "client":  # a resent SYN-ACK answered after the request
                assert (s.seq, s.ack, s.payload) == ((isn + 1 + size) & mask, third_ack.ack, b"")
            if s.kind == "RST" and s.sender == "server":  # tcp_v4_send_reset: the DATA's ack_seq, RST alone
                assert (s.seq, s.ack, s.flags) == (third_ack.ack, 0, RST)
        acks = [s for s in segs if s.kind == "ACK" and s.sender == "server"]
        for n, a in enumerate(acks):
            assert (a.seq, a.ack, a.flags, a.payload) == (third_ack.ack, (isn + 1 + size) & mask, ACK, b"")
            arrived = [d for d in datas if d.arrives is not None and d.arrives <= a.time]
            assert tsval(a)[1] == tsval(arrived[-1])[0]  # it echoes the copy it answers
            # the child's first ACK of the request, then a D-SACK naming it for each copy it already held
            assert sack_blocks(a) == ([] if n == 0 else [((isn + 1) & mask, (isn + 1 + size) & mask)])
            assert option_names(a.options)[:3] == ("NOP", "NOP", "TIMESTAMP")


def test_to_pcap_refuses_an_unknown_vantage_point(results, tmp_path):
    with pytest.raises(ValueError, match=r"at must be one of 'server', 'client'; got 'middle'"):
        results["6.18 loss"].to_pcap(tmp_path / "x.pcap", at="middle")


# ---- what Wireshark makes of it ----------------------------------------------------------------

FIELDS = ("frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset",
          "tcp.flags.fin", "tcp.seq", "tcp.ack", "tcp.analysis.reused_ports", "tcp.len", "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
          "tcp.analysis.spurious_retransmission", "tcp.analysis.duplicate_ack", "_ws.malformed", "_ws.expert.severity")
EXPERT_ERROR = 0x00800000
"""Wireshark's expert severity "error" (PI_ERROR), as ``-T fields`` prints it: note 0x00400000, warning
0x00600000."""


def tshark(path: Path) -> list[dict[str, str]]:
    """Wireshark's dissection and TCP analysis of a capture, one dict of FIELDS per frame."""
    command = [TSHARK, "-n", "-r", str(path), "-o", "tcp.relative_sequence_numbers:FALSE",
               "-o", "tcp.analyze_sequence_numbers:TRUE", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]
    for name in FIELDS:
        command += ["-e", name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "cut short" not in done.stderr and "appears to be damaged" not in done.stderr, done.stderr
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in done.stdout.splitlines()]


def seen_by(result, at):
    """(time, packet index) of the model's packets a capture at the server or at the client holds,
    in the order it saw them: a host sees what it sends when it sends it and what reaches it when it
    arrives; the flood and the listener's answers to it never pass the client host."""
    own = "server" if at == "server" else "client"
    found = []
    for i, p in enumerate(result.packets):
        if at == "client" and p.client is None:
            continue
        when = p.time if p.sender == own else p.arrives
        if when is not None:
            found.append((when, i))
    return sorted(found, key=lambda item: item[0])


def synack_identities(result, client):
    """For each SYN-ACK the listener sent ``client``, which transmission it is: a request sock's
    (syn_new or a TFO SYN's syn_fastopen_*, then syn_again and the timer's synack_rto resend it; a
    TFO child's syn_again_fastopen and fastopen_synack_rto), or a cookie, the same for one SYN all
    minute (secure_tcp_syn_cookie's counter)."""
    out, request = [], None
    for event in result.trace.of_client(client):
        if sends(result.kernel, event.action) != "SYN-ACK":
            continue
        if event.action == "syn_new" or event.action.startswith("syn_fastopen_"):
            request = ("request", event.time)
        if event.action == "syn_cookie":
            out.append(("cookie", cookie_counter(result, event.time)))
        else:
            out.append(request)
    return out


def expected_flags(result, at):
    """Per captured frame: (kind, whether Wireshark should call it a retransmission, a duplicate ACK,
    a spurious retransmission). A SYN or a DATA is a retransmission if the capture already holds one
    of that socket; a SYN-ACK if it already holds that same transmission (a request sock's, which the
    model resends, or the same cookie); a DATA is a spurious one if the capture already holds the
    server's ACK of the request (a copy that crossed it: at the server). A client's ACK is a
    duplicate ACK if the capture already holds a segment of that client with the same numbers: an
    ACK, or once the request went out, the request (an ACK sent after it carries the sequence
    number past it); the server's ACK of a request is one if the capture already holds one (a copy
    answered again). A SYN-ACK to a flood address is a retransmission when the model says so: its
    first copy left the server before. A DATA is also a retransmission once the capture holds a
    segment of that client past the request's bytes (Wireshark's next sequence number is then past
    them): a TFO SYN that carried it, or an ACK sent after it (its DATA lost on the way)."""
    packets = list(result.packets)
    segs = list(segments(result))
    isns = {}
    for s in segs:
        if s.kind == "SYN":
            isns.setdefault(s.client, s.seq)
    past = {i for i, s in enumerate(segs) if s.sender == "client" and s.kind in ("SYN", "ACK")
            and (s.seq + bool(s.flags & SYN) + len(s.payload) - isns[s.client] - 1) % 2**32 >= len(REQUEST)}
    ids = {c.index: iter(synack_identities(result, c.index)) for c in result.clients}
    identity = {i: next(ids[p.client]) for i, p in enumerate(packets) if p.kind == "SYN-ACK" and p.client is not None}
    first_data = {}
    for i, p in enumerate(packets):
        if p.kind == "DATA":
            first_data.setdefault(p.client, i)
    held, rows = set(), []
    for _, i in seen_by(result, at):
        p = packets[i]
        if p.client is None:
            rows.append((p.kind, p.retransmission, False, False))
            continue
        key = (p.sender, p.kind, p.client, identity.get(i))
        repeat = key in held
        held.add(key)
        if i in past:
            held.add(("past data", p.client))
        if repeat and not (p.kind == "SYN-ACK" and identity[i][0] == "cookie") and p.sender == "client":
            assert p.retransmission, (i, p)  # only what the model resends repeats, cookies aside
        dup = False
        if p.kind == "ACK" and p.sender == "server":
            dup = repeat
        elif p.kind == "ACK":
            dup = ("client", "DATA", p.client, None) in held if first_data.get(p.client, i) < i else repeat
        spurious = p.kind == "DATA" and ("server", "ACK", p.client, None) in held
        repeat = repeat or (p.kind == "DATA" and ("past data", p.client) in held)
        rows.append((p.kind, repeat and p.kind in ("SYN", "SYN-ACK", "DATA"), dup, spurious))
    return rows


def kind_of(frame: dict[str, str]) -> str:
    if frame["tcp.flags.syn"] == "1":  # a TFO SYN carries the request
        return "SYN-ACK" if frame["tcp.flags.ack"] == "1" else "SYN"
    if frame["tcp.len"] != "0":
        return "DATA"
    if frame["tcp.flags.reset"] == "1":
        return "RST"
    if frame["tcp.flags.fin"] == "1":
        return "FIN"
    return "ACK"


@needs_tshark
@pytest.mark.parametrize("at", ["server", "client"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_wireshark_sees_the_models_packets_and_retransmissions(results, tmp_path, name, at):
    result = results[name]
    path = tmp_path / "run.pcap"
    written = result.to_pcap(path, at=at)
    frames = tshark(path)
    expected = expected_flags(result, at)
    assert written == len(frames) == len(expected)
    assert not any(f["_ws.malformed"] for f in frames)
    assert all(int(s) < EXPERT_ERROR for f in frames for s in f["_ws.expert.severity"].split(",") if s)
    times = [t for t, _ in seen_by(result, at)]
    assert [float(f["frame.time_epoch"]) - EPOCH for f in frames] == pytest.approx(times, abs=1e-6)
    assert [kind_of(f) for f in frames] == [kind for kind, _, _, _ in expected]
    wireshark = [f["tcp.analysis.retransmission"] == "1" for f in frames]
    assert wireshark == [retrans for _, retrans, _, _ in expected]
    assert not any(f["tcp.analysis.fast_retransmission"] for f in frames)
    assert [bool(f["tcp.analysis.spurious_retransmission"]) for f in frames] == [s for _, _, _, s in expected]
    dup_acks = [bool(f["tcp.analysis.duplicate_ack"]) for f in frames]
    assert dup_acks == [dup for _, _, dup, _ in expected]


@needs_tshark
@pytest.mark.parametrize("at", ["server", "client"])
@pytest.mark.parametrize("name", REQUESTS)
def test_wireshark_flags_the_resent_requests_the_model_marks(results, tmp_path, name, at):
    """Each DATA frame carries the request's 100 bytes, and Wireshark calls it a retransmission
    exactly when the model marks it one: every copy at the client; at the server, the copies that
    found an earlier one there. Wireshark has no flag of its own for a tail loss probe: the probe
    is a retransmission like the RTO's."""
    result = results[name]
    path = tmp_path / "run.pcap"
    result.to_pcap(path, at=at)
    frames = [f for f in tshark(path) if kind_of(f) == "DATA"]
    assert not any(f["_ws.malformed"] for f in frames)
    assert {f["tcp.len"] for f in frames} == {str(len(REQUEST))}
    packets = list(result.packets)
    datas = [packets[i] for _, i in seen_by(result, at) if packets[i].kind == "DATA"]
    assert len(frames) == len(datas)
    probes = {(e.client, e.time) for e in result.trace if e.action == "data_tlp"}
    assert bool(probes) == (result.kernel.tail_loss_probe != "off")  # 2.6.32 has none
    if at == "client":
        expected = [p.retransmission for p in datas]
    else:
        expected, arrived = [], set()
        for p in datas:
            expected.append(p.client in arrived)
            assert p.retransmission or p.client not in arrived
            arrived.add(p.client)
    flagged = [f["tcp.analysis.retransmission"] == "1" for f in frames]
    assert flagged == expected and any(flagged)
    if at == "client":  # every loss probe is in the capture, and flagged
        assert probes <= {(p.client, p.time) for p, flag in zip(datas, flagged, strict=True) if flag}


def test_the_scenarios_hold_every_kind_of_repeat_wireshark_can_flag(results):
    """So that the comparison above means something: between them, the scenarios' captures hold
    resent SYNs, resent SYN-ACKs, a cookie sent again for the same SYN (which the kernel does not
    count as a resend), resent requests (some of them after the server's ACK: spurious), duplicate
    ACKs from both hosts and RSTs."""
    found = set()
    for result in results.values():
        for at in ("server", "client"):
            packets = list(result.packets)
            for (_, i), (kind, retrans, dup, spurious) in zip(seen_by(result, at), expected_flags(result, at),
                                                              strict=True):
                p = packets[i]
                if retrans:
                    found.add((p.sender, kind, "resent" if p.retransmission else "same cookie"))
                if spurious:
                    found.add((p.sender, kind, "spurious"))
                if dup or kind == "RST":
                    found.add((p.sender, kind, "duplicate" if dup else "reset"))
    assert found == {("client", "SYN", "resent"), ("server", "SYN-ACK", "resent"), ("server", "SYN-ACK", "same cookie"),
                     ("client", "DATA", "resent"), ("client", "DATA", "spurious"), ("client", "ACK", "duplicate"),
                     ("server", "ACK", "duplicate"), ("server", "RST", "reset")}


@needs_tshark
def test_simulate_pcap_writes_a_capture_wireshark_opens(tmp_path, capsys):
    path = tmp_path / "run.pcap"
    code = main(["simulate", "--kernel", "3.10", "--clients", "4", "--drop", "SYN-ACK", "--duration", "10",
                 "--pcap", str(path), "--pcap-at", "client"])
    out = capsys.readouterr().out
    assert code == 0
    frames = tshark(path)
    assert f"{len(frames)} packets written to {path} (a capture on the client's host)" in out
    assert [kind_of(f) for f in frames] == ["SYN"] * len(frames)  # every SYN-ACK dropped on its way
    assert sum(f["tcp.analysis.retransmission"] == "1" for f in frames) == len(frames) - 4


# ---- the close: FINs, their ACKs, TIME_WAIT's port taken again ------------------------------------

CLOSES = {
    # the application holds its connections: the server's FIN follows the client's at once
    "6.18 close, loss": Scenario(kernel="6.18", clients=8, data=True, hold=0.5, loss=0.3, accept=[0.2 * i for i in
                                                                                                    range(60)],
                                 duration=200, seed=3),
    # never accepted: the child ACKs the FIN on its delayed-ACK timer, the client waits in FIN_WAIT2
    "3.10 close, not accepted": Scenario(kernel="3.10", clients=4, hold=0.5, loss=0.2, duration=200, seed=5),
    # four ports, tcp_tw_reuse=1: a connect() takes a TIME_WAIT socket's port once its last timestamp
    # is a second old (tcp_twsk_unique)
    "6.18 TIME_WAIT reuse": Scenario(kernel=Kernel("6.18", tcp_tw_reuse=1, ip_local_port_range=(40000, 40003)),
                                     clients=[0.3 * i for i in range(16)], hold=0.05,
                                     accept=[0.1 * i for i in range(80)], duration=30),
}


@pytest.fixture(scope="module")
def closes():
    return {name: simulate(scenario) for name, scenario in CLOSES.items()}


def sent_by(result):
    """For each of the model's packets, the kernel action that sent it: each client's packets and its
    sending actions, in order, pair up one to one (as model.wire's replay pairs them)."""
    actions = defaultdict(list)
    for event in result.trace:
        if event.client is not None and sends(result.kernel, event.action):
            actions[event.client].append(event.action)
    taken = defaultdict(int)
    out = []
    for p in result.packets:
        out.append(actions[p.client][taken[p.client]])
        taken[p.client] += 1
    return out


def test_a_fin_and_its_acks_carry_the_numbers_of_the_close(closes):
    """The client's FIN takes the sequence number past its SYN and its request; every ACK of a FIN,
    and the server's own FIN, acknowledge that FIN's one number (tcp_fin, tcp_send_ack); the client's
    ACK of the server's FIN acknowledges that one; copies repeat their numbers."""
    checked = 0
    for result in closes.values():
        segs = list(segments(result))
        names = sent_by(result)
        for c in result.clients:
            mine = [(s, n) for s, n in zip(segs, names, strict=True) if s.client == c.index]
            fins = [s for s, _ in mine if s.flags & FIN and s.sender == "client"]
            if not fins:
                continue
            syn = next(s for s, _ in mine if s.kind == "SYN")
            written = len(REQUEST) if c.data_times else 0
            assert {s.seq for s in fins} == {(syn.seq + 1 + written) % 2**32}
            server_fins = [s for s, _ in mine if s.flags & FIN and s.sender == "server"]
            fin_end = (fins[0].seq + 1) % 2**32
            assert all(s.ack == fin_end for s in server_fins)
            for s, name in mine:
                if name in ("fin_delack", "fin_again"):
                    assert s.ack == fin_end and s.flags == ACK
                if name in ("fin_in", "fin_in_fin_wait2", "fin_again_time_wait"):
                    assert s.ack == (server_fins[0].seq + 1) % 2**32 and s.seq == fin_end and s.flags == ACK
                    checked += 1
    assert checked  # some server FINs were answered


def test_a_port_taken_from_time_wait_starts_65537_past_the_old_connection(closes):
    """tcp_twsk_unique (2.6.32 net/ipv4/tcp_ipv4.c:130, 3.10 :128, 6.18 :190): a connect()
    that takes a TIME_WAIT socket's port starts at tw_snd_nxt + 65535 + 2 - past the old
    connection's FIN - so no old segment can be taken for a new one."""
    result = closes["6.18 TIME_WAIT reuse"]
    segs = list(segments(result))
    reused = {e.client for e in result.trace if e.action == "connect_tw_reuse"}
    assert reused  # the scenario reuses ports
    by_start = sorted(result.clients, key=lambda c: c.start)
    for c in by_start:
        if c.index not in reused:
            continue
        old = [o for o in by_start if o.port == c.port and o.start < c.start][-1]
        old_fin = next(s for s in segs if s.client == old.index and s.sender == "client" and s.flags & FIN)
        syn = next(s for s in segs if s.client == c.index and s.kind == "SYN")
        assert syn.seq == (old_fin.seq + 1 + 65535 + 2) % 2**32


@needs_tshark
@pytest.mark.parametrize("at", ["server", "client"])
@pytest.mark.parametrize("name", list(CLOSES))
def test_wireshark_follows_the_close(closes, tmp_path, name, at):
    """Wireshark opens the close without a malformed frame or an error, sees the model's packets in
    order (FINs too), calls a FIN a retransmission exactly when the capture already holds that host's
    FIN of the connection, flags as duplicate ACKs only the answers to a repeated FIN (fin_again,
    fin_again_time_wait) or those the handshake's rules above already expect, and marks the SYN that
    takes a TIME_WAIT socket's port as a new session on reused ports."""
    result = closes[name]
    path = tmp_path / "run.pcap"
    written = result.to_pcap(path, at=at)
    frames = tshark(path)
    seen = seen_by(result, at)
    packets = list(result.packets)
    names = sent_by(result)
    sent_by_client = {p.client: names[i] for i, p in reversed(list(enumerate(packets))) if p.kind == "SYN"}
    assert written == len(frames) == len(seen)
    assert not any(f["_ws.malformed"] for f in frames)
    assert all(int(s) < EXPERT_ERROR for f in frames for s in f["_ws.expert.severity"].split(",") if s)
    assert [kind_of(f) for f in frames] == [packets[i].kind for _, i in seen]
    held = set()
    for frame, (_, i) in zip(frames, seen, strict=True):
        p = packets[i]
        if p.kind == "FIN":
            key = (p.sender, p.client)
            assert (frame["tcp.analysis.retransmission"] == "1") == (key in held), (i, p)
            held.add(key)
            if at == p.sender:
                assert (key in held) and (frame["tcp.analysis.retransmission"] == "1") == p.retransmission
        if frame["tcp.analysis.duplicate_ack"] and names[i] not in ("synack_in", "synack_again", "data_in",
                                                                    "data_again", "data_in_new_child"):
            assert names[i] in ("fin_again", "fin_again_time_wait"), (i, p, names[i])
        if p.kind == "SYN":  # the first SYN of a connection on a TIME_WAIT socket's port that the capture holds
            first = ("syn", p.client) not in held
            held.add(("syn", p.client))
            reused = first and sent_by_client[p.client] == "connect_tw_reuse"
            assert bool(frame["tcp.analysis.reused_ports"]) == reused, (i, p)


# ---- TCP Fast Open: the request in the SYN, the cookie option, SYN-ACKs that ack the data -------------

FASTOPEN = {
    # a cookie request first, then 5 SYNs with the request and the cookie on a TFO queue of 2: two children,
    # three overflows (tcp_fastopen_queue_check) whose SYN-ACKs ack the SYN only, so the request goes again
    **{f"{v} TFO: a cookie, then data in the SYN, an overflow": Scenario(
        kernel=Kernel(v, tcp_fastopen=3), backlog=8, clients=[0.0] + [1.0] * 5, rtt=0.1, data=True, fastopen=2)
       for v in ("3.10", "6.18")},
    # loss: first SYNs lost (a plain SYN resent), children's SYN-ACKs lost (the child's timer resends them,
    # and so does a resent SYN reaching it), cookie requests lost
    **{f"{v} TFO, loss": Scenario(kernel=Kernel(v, tcp_fastopen=3), backlog=8, rtt=0.1, loss=0.25, data=True,
                                  fastopen=2, clients=[0.0] + [1.0 + 0.05 * i for i in range(12)], duration=20,
                                  seed=6)
       for v in ("3.10", "6.18")},
    # tcp_fastopen 0x207: clients send the request without a cookie option (0x4), the listener takes it (0x200)
    "6.18 TFO without cookies, loss": Scenario(kernel=Kernel("6.18", tcp_fastopen=0x207), backlog=8, rtt=0.1,
                                               loss=0.25, data=True, fastopen=2, duration=20, seed=6,
                                               clients=[1.0 + 0.05 * i for i in range(12)]),
}


@pytest.fixture(scope="module")
def fastopens():
    return {name: simulate(scenario) for name, scenario in FASTOPEN.items()}


def tfo_option(kernel, cookie: bytes):
    """The Fast Open option as the record's fastopen_option says tcp_options_write writes it: 3.10 the
    experimental kind 254 with magic 0xF989 before the cookie (net/ipv4/tcp_output.c:480), 4.4+ kind 34
    padded with two NOPs (6.18 net/ipv4/tcp_output.c:777-800; a length of 2 mod 4)."""
    if kernel.fastopen_option == "experimental":
        return ((254, bytes.fromhex("f989") + cookie),)
    return ((34, cookie), (1, b""), (1, b""))


@pytest.mark.parametrize("version", [v for v in VERSIONS if Kernel(v).fastopen_server != "none"])
def test_the_fast_open_option_comes_last_in_the_records_form(version):
    kernel = Kernel(version)
    cookie = Keys(1).fastopen_cookie(CLIENT_ADDR)
    assert len(cookie) == TCP_FASTOPEN_COOKIE_SIZE == 8
    assert fastopen_option(kernel, cookie) == tfo_option(kernel, cookie)
    assert fastopen_option(kernel, b"") == tfo_option(kernel, b"")  # a cookie request: the option, empty
    full = options_write(MSS, (1, 0), True, kernel.rcv_wscale) + fastopen_option(kernel, cookie)
    # tcp_syn_options: 20 bytes of handshake options leave 20; the cookie's option takes 12, 40 in all
    assert sum(2 + len(d) if k > 1 else 1 for k, d in full) == 32 <= 40
    assert kernel.fastopen_option == ("experimental" if kernel.fastopen_server == "tcp_fastopen_check" else "rfc7413")
    assert Keys(1).fastopen_cookie(CLIENT_ADDR) == cookie != Keys(2).fastopen_cookie(CLIENT_ADDR)  # per seed


def test_a_synack_carries_a_cookie_only_where_the_kernel_leaves_one_in_foc():
    # tcp_try_fastopen: a cookie request answered, and a valid cookie whose child the full accept queue refused
    # (valid_foc copied back, 6.18 net/ipv4/tcp_fastopen.c:501) unless 0x200 skipped the check; never a child's
    k, waived = Kernel("6.18", tcp_fastopen=3), Kernel("6.18", tcp_fastopen=0x203)
    assert synack_cookie(k, "syn_fastopen_request_cookie") and synack_cookie(k, "syn_fastopen_cookie_full")
    assert not synack_cookie(waived, "syn_fastopen_cookie_full")
    for action in ("syn_fastopen_cookie_child", "syn_fastopen_cookie_overflow", "syn_fastopen_request_ignored",
                   "syn_fastopen_data_child", "syn_fastopen_data_full", "syn_again_fastopen", "fastopen_synack_rto",
                   "syn_new", "synack_rto"):
        assert not synack_cookie(k, action), action
    # 3.10 drops a SYN whose child tcp_v4_syn_recv_sock refused: no SYN-ACK at all
    assert sends(Kernel("3.10"), "syn_fastopen_cookie_full") is None
    assert sends(Kernel("6.18"), "syn_fastopen_cookie_full") == "SYN-ACK"


def acked_data(result):
    """The clients whose data a TFO child took: the trace's syn_fastopen_<kind>_child for a SYN with data."""
    return {e.client for e in result.trace if e.action.startswith("syn_fastopen_") and e.action.endswith("_child")
            and not e.action.startswith("syn_fastopen_request_")}


@pytest.mark.parametrize("name", list(FASTOPEN))
def test_a_tfo_syn_carries_the_request_and_the_cookie_and_only_a_child_acks_the_data(fastopens, name):
    """The first SYN: the record's options, then the Fast Open option with the cached cookie (an empty one
    for a cookie request; none with 0x4), the request as payload unless it asks for a cookie; resent SYNs
    carry neither (tcp_send_syn_data: "Exclude Fast Open option for SYN retries"). A SYN-ACK acks
    ISN + 1 + 100 exactly when it is a child's (its rcv_nxt), carries a cookie exactly for a cookie request
    it answers; the child's resent SYN-ACKs repeat its ISN and echo the first SYN's TSval; the client ACKs
    past the data or sends it again at ISN + 1; its RSTs take the SYN-ACK's ACK number."""
    result = fastopens[name]
    k, mask, size = result.kernel, 2**32 - 1, len(REQUEST)
    cookie = Keys(result.scenario.seed).fastopen_cookie(CLIENT_ADDR)
    segs, names = list(segments(result)), sent_by(result)
    children = acked_data(result)
    seen = defaultdict(set)
    for c in result.clients:
        mine = [(s, n) for s, n in zip(segs, names, strict=True) if s.client == c.index]
        syns = [s for s, _ in mine if s.kind == "SYN"]
        if not syns:
            continue
        isn, first = syns[0].seq, syns[0]
        plain = options_write(MSS, (tsval(first)[0], 0), True, k.rcv_wscale)
        assert c.fastopen in ("cookie_requested", "data_in_syn")
        if c.fastopen == "cookie_requested":
            assert (first.options, first.payload) == (plain + tfo_option(k, b""), b"")
        elif k.tcp_fastopen & 0x4:  # TFO_CLIENT_NO_COOKIE: the request, no option
            assert (first.options, first.payload) == (plain, REQUEST)
        else:
            assert (first.options, first.payload) == (plain + tfo_option(k, cookie), REQUEST)
        assert first.flags == SYN
        for s in syns[1:]:
            assert option_names(s.options) == k.handshake_options and s.payload == b"" and s.retransmission
            seen["plain SYN resent"].add(c.fastopen)
        for s, n in mine:
            if s.kind == "SYN-ACK":
                child = n.endswith("_child") or n in ("syn_again_fastopen", "fastopen_synack_rto")
                took = child and c.index in children
                assert s.ack == (isn + 1 + (size if took else 0)) & mask, (c.index, n)
                has_cookie = any(kind in (34, 254) for kind, _ in s.options)
                assert has_cookie == (n == "syn_fastopen_request_cookie"), (c.index, n)
                if has_cookie:
                    assert s.options[-len(tfo_option(k, cookie)):] == tfo_option(k, cookie)
                if n in ("syn_again_fastopen", "fastopen_synack_rto"):  # the child's SYN-ACK again: same ISN,
                    made = next(x for x, m in mine if m.startswith("syn_fastopen_") and m.endswith("_child"))
                    assert s.seq == made.seq and s.retransmission  # echoing the SYN that made it (req->ts_recent)
                    assert tsval(s)[1] == tsval(first)[0]
                seen[n].add(took)
            if n == "synack_in_fastopen_acked":
                assert (s.seq, s.flags, s.payload) == ((isn + 1 + size) & mask, ACK, b"")
            if n == "synack_in_fastopen_fail":
                assert (s.seq, s.flags, s.payload, s.retransmission) == ((isn + 1) & mask, PSH | ACK, REQUEST, True)
            if s.kind == "RST" and s.sender == "client":
                synack = [x for x, _ in mine if x.kind == "SYN-ACK" and x.arrives is not None and x.arrives <= s.time]
                assert synack and s.seq in {x.ack for x in synack}
            if s.kind != "SYN":
                assert not any(kind in (34, 254) for kind, _ in s.options) or s.kind == "SYN-ACK"
            seen["names"].add(n)
    if "loss" in name:  # what the scenario is for
        assert "plain SYN resent" in seen and seen["names"] >= {"fastopen_synack_rto", "synack_in_fastopen_fail",
                                                                 "synack_in_fastopen_acked"}
    else:
        assert seen["syn_fastopen_request_cookie"] == {False} and seen["syn_fastopen_cookie_child"] == {True}
        assert seen["syn_fastopen_cookie_overflow"] == {False}


TFO_FIELDS = ("tcp.option_kind", "tcp.options.tfo.request", "tcp.options.tfo.cookie", "tcp.options.experimental.exid",
              "tcp.analysis.tfo_syn", "tcp.analysis.tfo_ack", "tcp.analysis.tfo_ignored")


def tshark_tfo(path: Path) -> list[dict[str, str]]:
    """Wireshark's Fast Open fields of each frame (tshark -G fields: tcp.options.tfo.*, tcp.analysis.tfo_*)."""
    command = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"]
    for field_name in TFO_FIELDS:
        command += ["-e", field_name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return [dict(zip(TFO_FIELDS, line.split("\t"), strict=True)) for line in done.stdout.splitlines()]


@needs_tshark
@pytest.mark.parametrize("at", ["server", "client"])
@pytest.mark.parametrize("name", list(FASTOPEN))
def test_wireshark_reads_fast_open_as_the_model_writes_it(fastopens, tmp_path, name, at):
    """Wireshark opens TFO runs without a malformed frame or an error, sees the model's packets (a SYN with
    the request is a SYN), calls a frame a retransmission as the handshake's rules expect (the request
    sent again after a SYN that carried it is one), dissects the option (kind 34, or 254 with experiment
    identifier 0xF989) as a cookie request or the cookie the model wrote, and calls a SYN-ACK one
    "accepting TFO data" exactly when a child took the data, "ignoring TFO data" when it answers a SYN
    with a cookie and the request that the capture holds and acks the SYN alone (a SYN with data and no
    option, 0x4, is not TFO to Wireshark)."""
    result = fastopens[name]
    path = tmp_path / "tfo.pcap"
    written = result.to_pcap(path, at=at)
    frames, tfo = tshark(path), tshark_tfo(path)
    expected = expected_flags(result, at)
    seen = seen_by(result, at)
    assert written == len(frames) == len(tfo) == len(expected) == len(seen)
    assert not any(f["_ws.malformed"] for f in frames)
    assert all(int(s) < EXPERT_ERROR for f in frames for s in f["_ws.expert.severity"].split(",") if s)
    assert [kind_of(f) for f in frames] == [kind for kind, _, _, _ in expected]
    assert [f["tcp.analysis.retransmission"] == "1" for f in frames] == [r for _, r, _, _ in expected]
    assert [bool(f["tcp.analysis.duplicate_ack"]) for f in frames] == [d for _, _, d, _ in expected]
    assert [bool(f["tcp.analysis.spurious_retransmission"]) for f in frames] == [s for _, _, _, s in expected]
    segs, names = list(segments(result)), sent_by(result)
    k, cookie = result.kernel, Keys(result.scenario.seed).fastopen_cookie(CLIENT_ADDR).hex()
    kind = "254" if k.fastopen_option == "experimental" else "34"
    children, found, tfo_syns = acked_data(result), set(), set()
    for (_, i), frame, f in zip(seen, frames, tfo, strict=True):
        s, n = segs[i], names[i]
        kinds = f["tcp.option_kind"].split(",")
        assert kinds == [str(o) for o, _ in s.options]
        if kind in kinds:
            assert f["tcp.options.experimental.exid"] == ("0xf989" if kind == "254" else "")
            assert (f["tcp.options.tfo.request"], f["tcp.options.tfo.cookie"]) == (("1", "") if s.kind == "SYN"
                                                                                 and not s.payload else ("", cookie))
            found.add((s.kind, "request" if f["tcp.options.tfo.request"] else "cookie"))
        else:
            assert f["tcp.options.tfo.request"] == f["tcp.options.tfo.cookie"] == ""
        if s.kind == "SYN-ACK":
            took = (n.endswith("_child") or n in ("syn_again_fastopen", "fastopen_synack_rto")) and s.client in children
            assert bool(f["tcp.analysis.tfo_ack"]) == took, (i, n)
            assert bool(f["tcp.analysis.tfo_ignored"]) == (not took and s.client in tfo_syns), (i, n)
            found.add(("SYN-ACK", "accepting" if took else "ignoring" if f["tcp.analysis.tfo_ignored"] else "plain"))
        if s.kind == "SYN" and s.payload:
            assert int(frame["tcp.len"]) == len(REQUEST) and s.payload == REQUEST
            assert bool(f["tcp.analysis.tfo_syn"]) == (kind in kinds)
            if kind in kinds:
                tfo_syns.add(s.client)
    if not k.tcp_fastopen & 0x4:  # what the scenarios are for
        assert {("SYN", "request"), ("SYN", "cookie"), ("SYN-ACK", "cookie"), ("SYN-ACK", "ignoring")} <= found
    assert ("SYN-ACK", "accepting") in found
