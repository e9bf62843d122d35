"""``handshake-course diagnose``: what a capture's handshakes show, and the scenario that reproduces it.

The captures are the model's own (``Result.to_pcap``, at the client and at the server) for scenarios
whose truth is known: the model says which kernel action sent each packet, so the expected findings
follow from the scenario and the kernel rules the model cites (SYN schedules from the closed form
``syn_schedule``, queue sizes from ``accept_capacity`` and ``syn_queue_capacity``). As root with
tcpdump, a real capture of this machine's loopback is diagnosed too.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

dpkt = pytest.importorskip("dpkt", reason="dpkt is not installed (pip install -e '.[capture]')")

from model_helpers import CAPTURED, stop_capture  # noqa: E402

from handshake_course import Kernel, Scenario, simulate, syn_queue_capacity  # noqa: E402
from handshake_course.analysis.handshakes import (  # noqa: E402
    HERD_MIN,
    KINDS,
    Recording,
    capture_findings,
    herd_window,
)
from handshake_course.analysis.syn_schedules import fits, schedule_of, syn_schedules  # noqa: E402
from handshake_course.capture import diagnose  # noqa: E402
from handshake_course.capture.diagnosis import SAME_STEP, percentiles, same_step  # noqa: E402
from handshake_course.cli import main  # noqa: E402
from handshake_course.model import VERSIONS  # noqa: E402
from handshake_course.model.wire import segments  # noqa: E402

SCENARIOS = {
    # every SYN dropped, as an nftables rule would: connect() resends on its own timer only
    "2.6.32 lost SYNs": Scenario(kernel="2.6.32", backlog=8, clients=4, drop=("SYN",), duration=15, seed=1),
    "3.10 lost SYNs": Scenario(kernel="3.10", backlog=8, clients=4, drop=("SYN",), duration=20, seed=1),
    "6.18 lost SYNs": Scenario(kernel="6.18", backlog=8, clients=4, drop=("SYN",), duration=20, seed=1),
    "3.10 SYN-ACKs dropped": Scenario(kernel="3.10", backlog=8, clients=3, drop=("SYN-ACK",), duration=20, seed=1),
    "3.10 accept queue full": CAPTURED["3.10 accept queue full"],
    "3.10 abort on overflow": CAPTURED["3.10 abort on overflow"],
    # two SYNs reach the listener while its accept queue (3) holds 2, both ACKs come back: one too many
    "6.18 accept queue full": Scenario(kernel="6.18", backlog=2, rtt=0.01, clients=[0, 0.02, 0.04, 0.041, 0.042],
                                       duration=8, seed=1),
    "6.18 SYN queue full, no cookies": Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=8, clients=20,
                                                drop=("SYN-ACK",), duration=10, seed=1),
    "6.18 flood, cookies": Scenario(kernel="6.18", backlog=8, clients=[1.0 + 0.1 * i for i in range(8)], accept=50,
                                    flood=200, duration=6, seed=7),
    # the lab's herd experiment: backlog + 1 connect()s fill the accept queue, the waiters' SYNs are
    # dropped together (6.18 drops SYNs while the accept queue is full) and resent in one timer tick.
    # (Clients all at t=0 would not do it on 6.18: its SYN queue is full at backlog + 1, and the rest
    # are answered with cookies, whose ACKs a full accept queue drops without a retransmission.)
    "6.18 herd": Scenario(kernel="6.18", backlog=2, clients=[0, 0.001, 0.002] + [0.01] * 10,
                          accept=[0.5, 1.5, 2.5], duration=6, seed=1),
    "6.18 clean": Scenario(kernel="6.18", backlog=128, clients=[0.01 * i for i in range(10)], accept=100, duration=1,
                           seed=1),
}


@pytest.fixture(scope="module")
def runs():
    return {name: simulate(scenario) for name, scenario in SCENARIOS.items()}


@pytest.fixture(scope="module")
def captures(runs, tmp_path_factory):
    folder = tmp_path_factory.mktemp("captures")

    def path(name: str, at: str) -> Path:
        p = folder / f"{name.replace(' ', '_').replace(',', '')}-{at}.pcap"
        if not p.exists():
            runs[name].to_pcap(p, at=at)
        return p
    return path


@pytest.fixture(scope="module")
def diagnosed(captures):
    done = {}

    def get(name: str, at: str, **options):
        key = (name, at, tuple(sorted(options.items())))
        if key not in done:
            done[key] = diagnose(captures(name, at), **options)
        return done[key]
    return get


def finding(server, kind):
    found = [f for f in server.findings if f.kind == kind]
    assert found, f"no {kind} among {[f.kind for f in server.findings]}"
    return found[0]


def kinds(server) -> set[str]:
    return {f.kind for f in server.findings}


# ---- the SYN schedules ---------------------------------------------------------------------------

def test_the_schedules_are_the_closed_forms_of_the_modelled_kernels():
    # include/net/tcp.h: TCP_TIMEOUT_INIT 3 s in 2.6.32, 1 s since 3.1 (RFC 6298); 6.5+ keep the
    # initial RTO for tcp_syn_linear_timeouts (4) timeouts (tcp_retransmit_timer)
    found = {s.key: s.send_times[:7] for s in syn_schedules()}
    assert found == {"exponential_3s": (0.0, 3.0, 9.0), "exponential_1s": (0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0),
                     "linear_1s": (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0)}
    assert [v for s in syn_schedules() for v in s.versions] == list(VERSIONS)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_kernels_own_schedule_fits_it_and_no_other_schedule(version):
    own = schedule_of(version)
    for other in VERSIONS:
        assert fits(other, own.send_times[:4], every_syn=True) == (schedule_of(other).key == own.key), other


@pytest.mark.parametrize(("name", "version"), [("2.6.32 lost SYNs", "2.6.32"), ("3.10 lost SYNs", "3.10"),
                                               ("6.18 lost SYNs", "6.18")])
def test_lost_syns_are_retransmissions_on_the_schedule_of_the_kernel_that_sent_them(diagnosed, runs, name, version):
    (server,) = diagnosed(name, "client").servers
    f = finding(server, "syn_retransmission")
    assert f.connections == len(runs[name].clients)
    assert f.schedules == (schedule_of(version).key,)
    assert set(f.profiles) == set(schedule_of(version).versions)  # every profile with that schedule, no other
    assert "unanswered_syn" in kinds(server)  # no SYN-ACK ever: from the client, lost or dropped alike


def test_syns_seen_at_the_server_fit_the_schedule_too(diagnosed):
    (server,) = diagnosed("3.10 SYN-ACKs dropped", "server").servers
    assert finding(server, "syn_retransmission").schedules == ("exponential_1s",)
    assert "synack_retransmission" in kinds(server)  # the request's own timer (no ACK ever comes)


# ---- the listener's queues -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["3.10 accept queue full", "6.18 accept queue full"])
@pytest.mark.parametrize("at", ["client", "server"])
def test_a_full_accept_queue_ignores_final_acks_and_resends_synacks(diagnosed, runs, name, at):
    (server,) = diagnosed(name, at).servers
    run = runs[name]
    ignored = [c for c in run.clients if c.outcome == "established"]  # ESTABLISHED, no child on the server
    assert finding(server, "ack_ignored").connections == len(ignored) > 0
    assert finding(server, "synack_retransmission").connections == len(ignored)
    assert "reset_after_ack" not in kinds(server)


@pytest.mark.parametrize("at", ["client", "server"])
def test_abort_on_overflow_resets_after_the_ack(diagnosed, runs, at):
    (server,) = diagnosed("3.10 abort on overflow", at).servers
    reset = [c for c in runs["3.10 abort on overflow"].clients if c.outcome == "reset"]
    assert finding(server, "reset_after_ack").connections == len(reset) > 0
    assert server.proposal.scenario.kernel.tcp_abort_on_overflow == 1
    assert "ack_ignored" not in kinds(server)


def test_a_full_syn_queue_without_cookies_leaves_syns_unanswered(diagnosed):
    (server,) = diagnosed("6.18 SYN queue full, no cookies", "server").servers
    sc = SCENARIOS["6.18 SYN queue full, no cookies"]
    held = syn_queue_capacity(sc.kernel, sc.backlog)  # 6.13+: full when qlen > backlog, so 9
    assert finding(server, "unanswered_syn").connections == sc.clients - held
    assert finding(server, "synack_retransmission").connections == held
    proposed = server.proposal.scenario
    assert (proposed.kernel.tcp_syncookies, proposed.backlog, proposed.drop) == (0, sc.backlog, ("SYN-ACK",))
    (client,) = diagnosed("6.18 SYN queue full, no cookies", "client").servers
    assert finding(client, "unanswered_syn").connections == sc.clients  # from the client: nothing ever answered


def test_a_flood_against_syncookies_shows_cookie_synacks(diagnosed, runs):
    (server,) = diagnosed("6.18 flood, cookies", "server").servers
    cookies = {(s.dst, s.dport) for s in segments(runs["6.18 flood, cookies"]) if s.cookie}
    f = finding(server, "cookie_synack")
    assert 0 < f.connections <= len(cookies)  # told by silence: those old enough to have been resent
    (keyed,) = diagnosed("6.18 flood, cookies", "server", model_seed=7).servers
    assert finding(keyed, "cookie_synack").connections == len(cookies)  # told by the ISN: every one
    proposed = server.proposal.scenario
    assert proposed.flood == pytest.approx(SCENARIOS["6.18 flood, cookies"].flood, rel=0.15)
    assert proposed.backlog == SCENARIOS["6.18 flood, cookies"].backlog  # the SYN queue when the first cookie left


@pytest.mark.parametrize("at", ["client", "server"])
def test_waiters_dropped_together_retransmit_as_a_herd(diagnosed, at):
    (server,) = diagnosed("6.18 herd", at).servers
    f = finding(server, "herd")
    waiters = 10
    assert f.connections == waiters >= HERD_MIN
    first, last = f.evidence[0].times
    assert last - first <= herd_window()  # one tick (lab measurement herd.json: within one jiffy)


@pytest.mark.parametrize("at", ["client", "server"])
def test_a_clean_run_has_no_findings(diagnosed, at):
    (server,) = diagnosed("6.18 clean", at).servers
    assert server.findings == ()
    assert server.model is not None and server.model.findings == ()


def test_findings_read_handshake_records_only():
    @dataclass(frozen=True)
    class Attempt:  # no dpkt: any record with Handshake's fields
        client: str
        syn_times: tuple[float, ...]
        server: str = "192.0.2.1:80"
        client_isn: int = 1
        synack_times: tuple[float, ...] = ()
        ack_times: tuple[float, ...] = ()
        rst_times: tuple[float, ...] = ()
        data_at: float | None = None
        outcome: str = "unanswered"
        latency: float | None = None
        server_isns: tuple[int, ...] = ()
        syn_options: tuple[str, ...] = ()
        synack_options: tuple[str, ...] = ()
        server_rst_times: tuple[float, ...] = ()

    attempts = [Attempt(f"198.51.100.{i}:4000", (10.0, 13.0, 19.0)) for i in range(2)]  # 2.6.32: 3 s, then 6 s
    (f,) = capture_findings(attempts, Recording("client", 10.0, 19.0))[:1]
    assert (f.kind, f.connections, f.schedules) == ("syn_retransmission", 2, ("exponential_3s",))
    assert f.evidence[0].times == (0.0, 3.0, 9.0)


# ---- the reproduction ----------------------------------------------------------------------------

REPRODUCIBLE = [("3.10 lost SYNs", "client"), ("3.10 accept queue full", "client"), ("3.10 accept queue full", "server"),
                ("3.10 abort on overflow", "server"), ("6.18 accept queue full", "server"),
                ("6.18 SYN queue full, no cookies", "server"), ("6.18 herd", "server"), ("6.18 clean", "client")]


@pytest.mark.parametrize(("name", "at"), REPRODUCIBLE)
def test_the_proposed_scenario_reproduces_the_captures_latencies_and_findings(diagnosed, name, at):
    (server,) = diagnosed(name, at).servers
    model = server.model
    assert model is not None and model.at == at
    ours, theirs = percentiles(server.handshakes), percentiles(model.handshakes)
    # tolerance SAME_STEP: 50 ms + 25 %, the same step of the SYN schedule (the next is 100 % away)
    assert SAME_STEP == (0.05, 0.25)
    for q in ours:
        assert same_step(ours[q], theirs[q]), (q, ours[q], theirs[q])
    assert kinds(server) == {f.kind for f in model.findings}
    assert all(agree for _, _, agree in server.compared().values())


def test_the_proposed_kernel_is_one_whose_schedule_fits(diagnosed):
    (server,) = diagnosed("6.18 lost SYNs", "client").servers
    assert server.proposal.scenario.kernel.version in schedule_of("6.18").versions
    (server,) = diagnosed("2.6.32 lost SYNs", "client").servers
    assert server.proposal.scenario.kernel.version == "2.6.32"


# ---- the command line ----------------------------------------------------------------------------

def test_json_document_shape(captures, capsys):
    assert main(["diagnose", str(captures("3.10 accept queue full", "server")), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["handshakes"] == 6 and doc["vantage"] == "server"
    (server,) = doc["servers"]
    assert server["server"] == "10.0.0.2:8080"
    assert server["latency"]["clients"] == 6 and server["latency"]["connected"] == 6
    assert [f["kind"] for f in server["findings"]] == ["synack_retransmission", "ack_ignored"]
    for f in server["findings"]:
        assert set(f) >= {"kind", "connections", "evidence", "explanation", "fix", "counters"}
        assert f["evidence"] and all(set(e) == {"who", "times"} for e in f["evidence"])
        assert f["kind"] in KINDS and "sk_acceptq_is_full" in server["findings"][1]["explanation"]
    scenario = server["scenario"]
    assert set(scenario) >= {"kernel", "settings", "backlog", "clients", "accept", "rtt", "loss", "drop", "flood",
                             "duration", "seed", "why"}
    assert server["model"]["findings"] == {"synack_retransmission": 4, "ack_ignored": 4}


def test_no_model_only_reads_the_capture(captures, capsys):
    assert main(["diagnose", str(captures("3.10 abort on overflow", "server")), "--json", "--no-model"]) == 0
    (server,) = json.loads(capsys.readouterr().out)["servers"]
    assert server["model"] is None and server["scenario"]["settings"] == {"tcp_abort_on_overflow": 1}


def test_text_report_shows_findings_scenario_and_the_comparison(captures, capsys):
    assert main(["diagnose", str(captures("3.10 abort on overflow", "client"))]) == 0
    out = capsys.readouterr().out
    assert "taken at the client" in out
    assert "* reset_after_ack (5 connections)" in out and "tcp_abort_on_overflow=1" in out
    assert "the scenario that reproduces it" in out and "capture and model side by side" in out
    assert "<- differs" not in out


def fails(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(["diagnose", *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_bad_input_is_one_line_and_exit_status_2(capsys, tmp_path):
    assert "no such file" in fails(capsys, str(tmp_path / "missing.pcap"))
    assert "is not a file" in fails(capsys, str(tmp_path))
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n")
    assert "not a pcap or pcapng capture" in fails(capsys, str(text))
    empty = tmp_path / "empty.pcap"
    with empty.open("wb") as f:
        dpkt.pcap.Writer(f)
    assert "no TCP connection attempt" in fails(capsys, str(empty))
    assert "argument --model-seed" in fails(capsys, str(empty), "--model-seed", "x")


# ---- a real capture --------------------------------------------------------------------------------

def tcpdump_or_skip() -> str:
    tcpdump = shutil.which("tcpdump") or shutil.which("tcpdump", path="/usr/sbin:/sbin")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed (Debian: apt-get install tcpdump)")
    if os.geteuid() != 0:
        pytest.skip("capturing packets needs root (CAP_NET_RAW)")
    if platform.system() != "Linux":
        pytest.skip("the capture is of Linux's own handshakes")
    return tcpdump


@pytest.mark.slow
def test_a_real_full_accept_queue_on_loopback_is_diagnosed_as_the_kernel_handled_it(tmp_path):
    """listen(1) and no accept(): two connect()s fill the accept queue (backlog + 1), six more wait.
    Since 4.10 tcp_conn_request drops a SYN while the accept queue is full, so their SYNs go
    unanswered, are resent on the running kernel's SYN schedule, and all together (one timer tick)."""
    tcpdump = tcpdump_or_skip()
    from test_capture_read import tcpdump_ready

    path = tmp_path / "full.pcap"
    waiters = 6
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        proc = subprocess.Popen([tcpdump, "-i", "lo", "--immediate-mode", "-U", "-n", "-s", "128", "-w", str(path),
                                 f"tcp port {port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        clients = []
        try:
            tcpdump_ready(proc, time.monotonic() + 10)
            for _ in range(2 + waiters):
                s = socket.socket()
                clients.append(s)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
            time.sleep(3.3)  # SYNs at 0, 1, 2, 3 s on 6.5+ (0, 1, 3 s before): enough to tell the schedule
        finally:
            for s in clients:
                s.close()
            time.sleep(0.3)  # tcpdump hands over what it holds
            stop_capture(proc)
    (server,) = diagnose(path).servers
    assert server.recording.vantage == "loopback"
    assert server.latency.connected == 2
    assert finding(server, "unanswered_syn").connections == waiters
    resent = finding(server, "syn_retransmission")
    assert resent.connections == waiters
    profile = Kernel.nearest(platform.release()).version
    assert schedule_of(profile).key in resent.schedules, (resent.schedules, profile)
    assert finding(server, "herd").connections == waiters
    assert server.proposal.scenario.backlog == 1  # 2 got in: accept_capacity(backlog=1) = 2
    assert server.model is not None and {f.kind for f in server.model.findings} == kinds(server)


RAW_CLIENT = r"""
import socket, subprocess, sys, time
import dpkt
from handshake_course.lab.rawtcp import segment
path, duration = sys.argv[1], float(sys.argv[2])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
# our raw ports have no socket: drop the RSTs this namespace's own stack would send to their SYN-ACKs
subprocess.run(["nft", "add table inet t; add chain inet t out { type filter hook output priority 0; }; "
                "add rule inet t out tcp sport 20000-20001 tcp flags & rst == rst drop"], check=True)
listener = socket.socket()
listener.bind(("127.0.0.1", 8080))
listener.listen(1)
dump = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-s", "128", "-w", path,
                         "tcp port 8080"], stderr=subprocess.PIPE)
seen = b""
while b"listening on" not in seen:
    seen += dump.stderr.read1(4096) or b"x"
first = socket.create_connection(("127.0.0.1", 8080))  # the accept queue holds 1 of its 2
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sniff = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
sniff.settimeout(0.05)
isn = {20000: 1000, 20001: 5000}
for port, seq in isn.items():  # two SYNs reach the listener before either final ACK: both get SYN-ACKs
    raw.sendto(segment("127.0.0.1", "127.0.0.1", port, 8080, seq, 0, 0x02), ("127.0.0.1", 0))
end = time.monotonic() + duration
while time.monotonic() < end:  # ACK every SYN-ACK: the first fills the queue, the rest are ignored
    try:
        ip = dpkt.ip.IP(sniff.recv(65535))
    except TimeoutError:
        continue
    tcp = ip.data
    if tcp.sport == 8080 and tcp.dport in isn and tcp.flags & 0x12 == 0x12:
        raw.sendto(segment("127.0.0.1", "127.0.0.1", tcp.dport, 8080, isn[tcp.dport] + 1, tcp.seq + 1, 0x10),
                   ("127.0.0.1", 0))
time.sleep(0.3)
dump.terminate()
dump.wait(timeout=5)
"""


@pytest.mark.slow
def test_a_real_final_ack_meeting_a_full_accept_queue_is_diagnosed_as_ignored(tmp_path):
    """The lab's accept_overflow experiment on a private loopback: a kernel client completes its
    handshake before the next one starts, so a raw client (handshake_course.lab.rawtcp) sends two
    SYNs, then both final ACKs. The second finds the accept queue full (listen(1) holds 2); with
    tcp_abort_on_overflow=0 the listener drops it and resends its SYN-ACK (the stored measurement
    accept_overflow-a0.json), which the raw client ACKs again. All of it runs in a network namespace
    of its own (unshare), which disappears with the process."""
    tcpdump_or_skip()
    if shutil.which("unshare") is None or shutil.which("nft") is None:
        pytest.skip("needs unshare (util-linux) and nft (nftables)")
    path = tmp_path / "ignored.pcap"
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", RAW_CLIENT, str(path), "2.5"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip(f"cannot make a network namespace here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    (server,) = diagnose(path).servers
    ignored = finding(server, "ack_ignored")
    assert ignored.connections == 1
    assert finding(server, "synack_retransmission").connections == 1
    assert "reset_after_ack" not in kinds(server)
