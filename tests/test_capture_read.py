"""``handshake_course.capture.read``: the connection attempts of a capture, whoever wrote it.

A run written with ``to_pcap`` reads back as the model's clients (their SYN times, outcomes,
connect() latencies and when their requests went out); captures built here with dpkt cover each
link type tcpdump writes on Linux, pcapng, IPv6, a file cut short and traffic that is not TCP; and,
as root, tcpdump records a real connect() on loopback.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path

import pytest

dpkt = pytest.importorskip("dpkt", reason="dpkt is not installed (pip install -e '.[capture]')")

from model_helpers import CAPTURED, stop_capture  # noqa: E402

from handshake_course import Kernel, Scenario, simulate  # noqa: E402
from handshake_course.capture import EPOCH, CaptureWarning, load, read, vantage  # noqa: E402

ROUND_TRIPS = {
    **CAPTURED,
    "6.18 flood, cookies": Scenario(kernel="6.18", backlog=8, clients=[1.0 + 0.1 * i for i in range(8)], accept=50,
                                    flood=200, loss=0.2, duration=10, seed=7),
    "3.10 nothing listens": Scenario(kernel="3.10", backlog=None, clients=3, seed=1),
    # connections that close, and four ports taken again from TIME_WAIT (tcp_tw_reuse=1): an attempt
    # is its 4-tuple and its ISN, so a port used again is a new handshake; FINs change none of them
    "6.18 close, ports reused": Scenario(kernel=Kernel("6.18", tcp_tw_reuse=1, ip_local_port_range=(40000, 40003)),
                                         clients=[0.3 * i for i in range(16)], hold=0.05, data=True, loss=0.1,
                                         accept=[0.1 * i for i in range(80)], duration=60, seed=2),
    # TCP Fast Open: cookie requests, the request in the SYN (acked by a child, or not and sent again), SYNs
    # and SYN-ACKs lost; 3.10's experimental option and 6.18's RFC 7413 one
    **{f"{v} TFO, loss": Scenario(kernel=Kernel(v, tcp_fastopen=3), backlog=8, rtt=0.1, loss=0.25, data=True,
                                  fastopen=2, clients=[0.0] + [1.0 + 0.05 * i for i in range(12)], duration=20,
                                  seed=6)
       for v in ("3.10", "6.18")},
}


@pytest.fixture(scope="module")
def results():
    return {name: simulate(scenario) for name, scenario in ROUND_TRIPS.items()}


def at_client(result, tmp_path: Path, at: str = "client"):
    path = tmp_path / f"{at}.pcap"
    result.to_pcap(path, at=at)
    return load(path)


def data_after_syn(client) -> tuple[float, ...]:
    """When a client sent its request other than in its SYN (a TFO SYN's data is the first of data_times)."""
    return client.data_times[1:] if client.fastopen == "data_in_syn" else client.data_times


def expected_outcome(result, client) -> str:
    """What a capture on the client host shows of one connect(): an RST ended it (refused, reset, or
    the client's own RST to a SYN-ACK that came after connect() gave up) before its request went out,
    its ACK or its request went out, or no SYN-ACK ever reached it. ``read`` calls an attempt reset
    only when the RST came before any data after the SYN: a request answered with RST was established
    first; a TFO SYN's request does not establish anything."""
    sent_rst = any(p.kind == "RST" for p in result.packets.of_client(client.index))
    if (client.errno in ("ECONNREFUSED", "ECONNRESET") or sent_rst) and not data_after_syn(client):
        return "reset"
    return "established" if client.connected_at is not None else "unanswered"


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_a_capture_at_the_client_reads_back_as_the_models_clients(results, tmp_path, name):
    result = results[name]
    capture = at_client(result, tmp_path)
    clients = [c for c in result.clients if c.port is not None]
    assert len(capture.handshakes) == len(clients)
    found = {(h.client, round(h.syn_times[0] - EPOCH, 6)): h for h in capture.handshakes}
    for c in clients:
        h = found[(f"10.0.0.1:{c.port}", round(c.start, 6))]
        assert h.server == "10.0.0.2:8080"
        assert [t - EPOCH for t in h.syn_times] == pytest.approx(list(c.syn_times), abs=1e-6)
        assert h.outcome == expected_outcome(result, c), c
        if c.latency is None:
            assert h.latency is None
        else:
            assert h.latency == pytest.approx(c.latency, abs=2e-6)
        if c.data_times:  # the request, as the client sent it first (a TFO SYN's: the SYN's time)
            assert h.data_at - EPOCH == pytest.approx(c.data_times[0], abs=1e-6)
        else:
            assert h.data_at is None
    assert capture.vantage == ("client" if any(c.connected_at for c in clients) else "unknown")
    assert capture.notes == () and not capture.truncated


@pytest.mark.parametrize("name", ["3.10 TFO, loss", "6.18 TFO, loss"])
def test_a_tfo_syns_request_is_data_but_the_handshake_ends_at_the_clients_ack(results, tmp_path, name):
    """A SYN carrying the request (TCP Fast Open) gives the attempt its data_at, the SYN's time, but does not
    establish it; the handshake ends at the client's acknowledgement of a SYN-ACK: its bare ACK (a child
    acked the data), or the request carrying that ACK (after a cookie request, or sent again after a
    SYN-ACK that acked the SYN alone: tcp_rcv_fastopen_synack), which ack_times leaves out."""
    result = results[name]
    capture = at_client(result, tmp_path)
    found = {round(h.syn_times[0] - EPOCH, 6): h for h in capture.handshakes}
    kinds = set()
    for c in result.clients:
        h = found[round(c.start, 6)]
        if c.connected_at is None:
            continue
        assert h.latency == pytest.approx(c.connected_at - c.start, abs=2e-6) and h.outcome == "established"
        if c.fastopen == "data_in_syn":
            assert h.data_at - EPOCH == pytest.approx(c.syn_times[0], abs=1e-6)
        bare = bool(h.ack_times) and h.ack_times[0] - EPOCH == pytest.approx(c.connected_at, abs=1e-6)
        kinds.add((c.fastopen, c.syn_data_acked, bare))
    # a child took the data: a bare ACK; else the request carries the ACK
    assert kinds >= {("data_in_syn", True, True), ("data_in_syn", False, False), ("cookie_requested", None, False)}
    assert not {k for k in kinds if k[2] != (k[1] is True)}


def test_dropped_synacks_read_as_unanswered_at_the_client_and_incomplete_at_the_server(results, tmp_path):
    result = results["6.18 SYN-ACKs dropped"]
    assert {h.outcome for h in at_client(result, tmp_path).handshakes} == {"unanswered"}
    server = at_client(result, tmp_path, "server").handshakes
    assert {h.outcome for h in server} == {"incomplete"}
    # the listener resends its SYN-ACK at once for every retransmitted SYN it sees (tcp_check_req)
    assert all(len(h.synack_times) >= len(h.syn_times) for h in server)


def test_a_capture_at_the_server_holds_the_flood_as_attempts_never_completed(results, tmp_path):
    result = results["6.18 flood, cookies"]
    capture = at_client(result, tmp_path, "server")
    flood = [h for h in capture.handshakes if h.client.startswith("203.0.113.")]
    arrived = sum(1 for p in result.packets if p.sender == "flood" and not p.lost)
    assert len(flood) == arrived and arrived > 1000
    assert {h.outcome for h in flood} <= {"incomplete", "unanswered"}
    assert all(h.latency is None and h.ack_times == () for h in flood)
    clients = [h for h in capture.handshakes if h.client.startswith("10.0.0.1:")]
    assert len(clients) == len(result.clients)
    assert capture.vantage == "server"


def test_the_vantage_point_is_told_from_the_gaps_of_the_handshake(results, tmp_path):
    result = results["3.10 loss"]
    assert at_client(result, tmp_path).vantage == "client"
    assert at_client(result, tmp_path, "server").vantage == "server"
    path = tmp_path / "between.pcap"
    write(path, dpkt.pcap.DLT_EN10MB, handshake_frames(gaps=(0.004, 0.006)))
    assert vantage(read(path)) == "between"
    assert vantage([]) == "unknown"


# ---- captures made here, one per format ----------------------------------------------------------

CLIENT4, SERVER4 = "192.0.2.10", "198.51.100.7"  # TEST-NET-1 and -2 (RFC 5737)
CLIENT6, SERVER6 = "2001:db8::10", "2001:db8::7"  # the documentation prefix (RFC 3849)
ISN_C, ISN_S = 1000, 5000


def tcp(flags: int, seq: int, ack: int, data: bytes = b"", sport: int = 40000, dport: int = 443) -> dpkt.tcp.TCP:
    return dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, data=data)


def handshake_frames(gaps=(0.010, 0.000020), six=False, start=100.0):
    """(time, from the client?, TCP segment) of one connection: SYN, SYN-ACK, ACK, then data."""
    syn, synack = dpkt.tcp.TH_SYN, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK
    ack, psh = dpkt.tcp.TH_ACK, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH
    t1 = start + gaps[0]
    t2 = t1 + gaps[1]
    return [(start, True, tcp(syn, ISN_C, 0)), (t1, False, tcp(synack, ISN_S, ISN_C + 1, sport=443, dport=40000)),
            (t2, True, tcp(ack, ISN_C + 1, ISN_S + 1)), (t2 + 0.001, True, tcp(psh, ISN_C + 1, ISN_S + 1, b"GET /"))]


def ip_packet(from_client: bool, segment, six: bool):
    src, dst = (CLIENT6, SERVER6) if six else (CLIENT4, SERVER4)
    if not from_client:
        src, dst = dst, src
    if six:
        family = socket.AF_INET6
        return dpkt.ip6.IP6(src=socket.inet_pton(family, src), dst=socket.inet_pton(family, dst), nxt=6, hlim=64,
                            plen=len(bytes(segment)), data=segment)
    return dpkt.ip.IP(src=socket.inet_pton(socket.AF_INET, src), dst=socket.inet_pton(socket.AF_INET, dst),
                      p=dpkt.ip.IP_PROTO_TCP, data=segment)


def link_frame(link_type: int, packet, from_client: bool) -> bytes:
    ethertype = dpkt.ethernet.ETH_TYPE_IP6 if isinstance(packet, dpkt.ip6.IP6) else dpkt.ethernet.ETH_TYPE_IP
    mac = bytes.fromhex("020000000010" if from_client else "020000000007")
    if link_type == dpkt.pcap.DLT_EN10MB:
        return bytes(dpkt.ethernet.Ethernet(src=mac, dst=bytes.fromhex("020000000099"), type=ethertype, data=packet))
    if link_type == dpkt.pcap.DLT_LINUX_SLL:
        return bytes(dpkt.sll.SLL(type=4 if from_client else 0, hlen=6, hdr=mac + b"\0\0", ethtype=ethertype,
                                  data=packet))
    if link_type == dpkt.pcap.DLT_LINUX_SLL2:
        return bytes(dpkt.sll2.SLL2(ethtype=ethertype, intindex=2, type=4 if from_client else 0, hlen=6,
                                    hdr=mac + b"\0\0", data=packet))
    return bytes(packet)  # raw IP


def write(path: Path, link_type: int, frames, six=False, pcapng=False, extra=()) -> None:
    with open(path, "wb") as f:
        module = dpkt.pcapng if pcapng else dpkt.pcap
        writer = module.Writer(f, linktype=link_type)
        records = [(t, link_frame(link_type, ip_packet(c, s, six), c)) for t, c, s in frames] + list(extra)
        for t, buf in sorted(records, key=lambda r: r[0]):
            writer.writepkt(buf, ts=t)


LINKS = {
    "Ethernet": dpkt.pcap.DLT_EN10MB,
    "Linux cooked (SLL)": dpkt.pcap.DLT_LINUX_SLL,
    "Linux cooked v2 (SLL2)": dpkt.pcap.DLT_LINUX_SLL2,
    "raw IP (DLT_RAW 101)": dpkt.pcap.DLT_RAW,
    "raw IP (DLT_RAW 12)": 12,
    "LINKTYPE_IPV4": dpkt.pcap.DLT_IPV4,
}


@pytest.mark.parametrize("pcapng", [False, True], ids=["pcap", "pcapng"])
@pytest.mark.parametrize("link", list(LINKS))
def test_each_link_type_reads_as_one_established_handshake(tmp_path, link, pcapng):
    path = tmp_path / "one.cap"
    write(path, LINKS[link], handshake_frames(), pcapng=pcapng)
    (h,) = read(path)
    assert (h.client, h.server, h.client_isn) == (f"{CLIENT4}:40000", f"{SERVER4}:443", ISN_C)
    assert h.outcome == "established" and h.server_isns == (ISN_S,)
    assert h.syn_times == (100.0,) and h.synack_times == pytest.approx((100.01,))
    assert h.latency == pytest.approx(0.010020) and h.data_at == pytest.approx(100.01102)
    assert load(path).link_type == LINKS[link]


@pytest.mark.parametrize("link_type", [dpkt.pcap.DLT_EN10MB, dpkt.pcap.DLT_LINUX_SLL2, dpkt.pcap.DLT_IPV6])
def test_ipv6_endpoints_are_written_in_brackets(tmp_path, link_type):
    path = tmp_path / "six.pcap"
    write(path, link_type, handshake_frames(), six=True)
    (h,) = read(path)
    assert (h.client, h.server) == (f"[{CLIENT6}]:40000", f"[{SERVER6}]:443")
    assert h.outcome == "established" and h.data_at is not None


def test_traffic_that_is_not_tcp_is_skipped_and_counted(tmp_path):
    arp = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\xff" * 6, type=dpkt.ethernet.ETH_TYPE_ARP,
                                 data=dpkt.arp.ARP())
    udp = dpkt.udp.UDP(sport=5353, dport=5353, data=b"dns")
    dns = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\xff" * 6, type=dpkt.ethernet.ETH_TYPE_IP,
                                 data=dpkt.ip.IP(p=dpkt.ip.IP_PROTO_UDP, data=udp, src=b"\x0a" * 4, dst=b"\x0b" * 4))
    path = tmp_path / "mixed.pcap"
    write(path, dpkt.pcap.DLT_EN10MB, handshake_frames(), extra=[(99.0, bytes(arp)), (100.5, bytes(dns)),
                                                                   (100.6, bytes(dns))])
    capture = load(path)
    assert [h.outcome for h in capture.handshakes] == ["established"]
    assert capture.packets == 7 and capture.tcp_segments == 4
    assert capture.skipped == {"ARP packets": 1, "UDP packets": 2}
    assert set(capture.notes) == {"1 ARP packets skipped", "2 UDP packets skipped"}


@pytest.mark.parametrize("pcapng", [False, True], ids=["pcap", "pcapng"])
def test_a_file_cut_short_gives_what_it_holds_with_a_warning(tmp_path, pcapng):
    path = tmp_path / "cut.cap"
    frames = handshake_frames()
    write(path, dpkt.pcap.DLT_EN10MB, frames[:3] + [(101.0, True, tcp(dpkt.tcp.TH_SYN, 7, 0, sport=40001))],
          pcapng=pcapng)
    path.write_bytes(path.read_bytes()[:-10])  # tcpdump killed in the middle of the last record
    with pytest.warns(CaptureWarning, match="ends inside a packet record"):
        handshakes = read(path)
    assert [h.outcome for h in handshakes][:1] == ["established"]
    capture = load(path)
    assert capture.truncated and "read the" in capture.notes[0]


def test_an_rst_before_any_data_is_a_reset_and_a_new_isn_a_new_attempt(tmp_path):
    syn, rst_ack = dpkt.tcp.TH_SYN, dpkt.tcp.TH_RST | dpkt.tcp.TH_ACK
    frames = [(1.0, True, tcp(syn, ISN_C, 0)), (1.0001, False, tcp(rst_ack, 0, ISN_C + 1, sport=443, dport=40000)),
              (2.0, True, tcp(syn, ISN_C + 99, 0)), (3.0, True, tcp(syn, ISN_C + 99, 0))]
    path = tmp_path / "refused.pcap"
    write(path, dpkt.pcap.DLT_EN10MB, frames)
    first, second = read(path)
    assert (first.outcome, first.rst_times, first.latency) == ("reset", (1.0001,), None)
    assert (second.outcome, second.syn_times, second.client_isn) == ("unanswered", (2.0, 3.0), ISN_C + 99)


def test_data_is_found_in_a_capture_that_kept_only_the_headers(tmp_path):
    # tcpdump -s 60: the IP total length still says how much data the segment carried
    frames = handshake_frames()
    path = tmp_path / "snap.pcap"
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=54, linktype=dpkt.pcap.DLT_EN10MB)
        for t, c, s in frames:
            writer.writepkt(link_frame(dpkt.pcap.DLT_EN10MB, ip_packet(c, s, False), c)[:54], ts=t)
    (h,) = read(path)
    assert h.data_at == pytest.approx(100.01102) and h.ack_times == pytest.approx((100.01002,))


def test_a_file_that_is_no_capture_or_of_an_unknown_link_type_is_refused(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a capture at all, just some text\n")
    with pytest.raises(ValueError, match=r"notes.txt: not a pcap or pcapng capture"):
        read(junk)
    path = tmp_path / "fddi.pcap"
    write(path, dpkt.pcap.DLT_FDDI, [])
    with pytest.raises(ValueError, match=r"link type 10 is not supported; supported: 0 \(BSD loopback\), 1 \(Ethernet"):
        read(path)


# ---- a real capture ------------------------------------------------------------------------------

def tcpdump_ready(proc: subprocess.Popen, deadline: float) -> None:
    """Wait until tcpdump says it is listening (it prints that once its capture is open)."""
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            if b"listening on" in seen:
                return
    raise AssertionError(f"tcpdump did not start: {seen.decode(errors='replace')}")


def written(path: Path, deadline: float) -> None:
    """Wait until tcpdump has written the whole connection (the kernel hands it packets in blocks)."""
    while time.monotonic() < deadline:
        if path.exists() and any(h.outcome == "established" and h.data_at for h in load(path).handshakes):
            return
        time.sleep(0.1)
    raise AssertionError(f"tcpdump wrote no complete connection to {path} in time")


@pytest.mark.slow
@pytest.mark.parametrize(("interface", "link_type"), [("lo", dpkt.pcap.DLT_EN10MB),
                                                      ("any", dpkt.pcap.DLT_LINUX_SLL2)])
def test_a_real_connect_captured_by_tcpdump_reads_as_one_established_handshake(tmp_path, interface, link_type):
    tcpdump = shutil.which("tcpdump") or shutil.which("tcpdump", path="/usr/sbin:/sbin")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed (Debian: apt-get install tcpdump)")
    if os.geteuid() != 0:
        pytest.skip("capturing packets needs root (CAP_NET_RAW)")
    path = tmp_path / "real.pcap"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        proc = subprocess.Popen([tcpdump, "-i", interface, "--immediate-mode", "-U", "-n", "-s", "128", "-w", str(path),
                                 f"tcp port {port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            tcpdump_ready(proc, time.monotonic() + 10)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                server, _ = listener.accept()
                with server:
                    client.sendall(b"hello")
                    assert server.recv(5) == b"hello"
            written(path, time.monotonic() + 10)
        finally:
            stop_capture(proc)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)
        capture = load(path)
        (h,) = read(path)
    assert capture.link_type == link_type
    assert h.server == f"127.0.0.1:{port}" and h.outcome == "established"
    assert h.latency is not None and h.latency >= 0 and h.data_at is not None and h.data_at >= h.ack_times[0]
