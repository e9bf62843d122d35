"""The command line: ``handshake-course simulate`` prints what a direct simulate() of the same
scenario gives, bad input ends in one line naming the option and exit status 2, ``lab`` still parses."""

from __future__ import annotations

import json
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from handshake_course import Kernel, Scenario, simulate
from handshake_course.cli import build_parser, main, seconds
from handshake_course.model import VERSIONS
from handshake_course.views import counters_table, latency_summary


def run(capsys, *argv):
    code = main(["simulate", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def fails(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert len(err.strip().splitlines()) == 1, err  # one line, no usage block, no traceback
    assert "Traceback" not in err
    return err


def test_text_report_matches_a_direct_simulation(capsys):
    code, out, _ = run(capsys, "--kernel", "3.10", "--backlog", "8", "--clients", "20", "--duration", "60")
    assert code == 0
    r = simulate(Scenario(kernel="3.10", backlog=8, clients=20, duration=60))
    assert counters_table(r) in out  # nstat-style, nonzero counters of both hosts
    assert str(r.ss()) in out
    assert f"SYN-RECV sockets (ss -nt state syn-recv): {r.ss().syn_recv}" in out
    for line in latency_summary(r).lines():
        assert line in out
    assert "outcomes (20 clients): queued 9, established 11" in out
    assert "Possible SYN flooding on port 8080" in out  # the kernel log
    zero = [n for n in r.counters if not r.server_counters.get(n) and not r.client_counters.get(n)]
    assert zero and not any(f"\n{n} " in out for n in zero)  # like nstat: zeros left out


def test_every_option_reaches_the_scenario_and_the_kernel(capsys):
    argv = ["--kernel", "6.18", "--backlog", "4", "--connect-at", "0,0.5,1", "--accept-at", "2,3",
            "--rtt", "10ms", "--loss", "0.1", "--drop", "ACK", "--drop", "rst", "--flood", "50",
            "--duration", "1min", "--seed", "7", "--syncnt", "3", "--somaxconn", "100", "--max-syn-backlog", "512",
            "--syncookies", "0", "--syn-retries", "4", "--synack-retries", "2", "--abort-on-overflow", "1",
            "--syn-linear-timeouts", "2", "--rto-init", "500ms", "--port-range", "40000-40010",
            "--invalid-ratelimit", "0.25", "--set", "young_rule=true", "--listeners", "2", "--defer-accept", "3",
            "--hold", "0.5", "--tcp-tw-reuse", "1", "--tcp-tw-reuse-delay", "0.25", "--fastopen", "4",
            "--tcp-fastopen", "3", "--json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    doc = json.loads(out)
    kernel = Kernel("6.18", somaxconn=100, tcp_max_syn_backlog=512, tcp_syncookies=0, tcp_syn_retries=4,
                    tcp_synack_retries=2, tcp_abort_on_overflow=1, tcp_syn_linear_timeouts=2,
                    tcp_timeout_init=0.5, ip_local_port_range=(40000, 40010), tcp_invalid_ratelimit=0.25,
                    young_rule=True, tcp_tw_reuse=1, tcp_tw_reuse_delay=0.25, tcp_fastopen=3)
    r = simulate(Scenario(kernel=kernel, backlog=4, clients=[0, 0.5, 1], accept=[2, 3], rtt=0.01, loss=0.1,
                          drop=("ACK", "RST"), flood=50.0, duration=60.0, seed=7, syncnt=3, listeners=2,
                          defer_accept=3, hold=0.5, fastopen=4))
    assert doc["scenario"] == {"kernel": "6.18", "backlog": 4, "clients": [0.0, 0.5, 1.0], "accept": [2.0, 3.0],
                               "rtt": 0.01, "loss": 0.1, "drop": ["ACK", "RST"], "flood": 50.0, "duration": 60.0,
                               "seed": 7, "syncnt": 3, "data": False, "listeners": 2, "defer_accept": 3.0,
                               "hold": 0.5, "fastopen": 4}
    assert doc["kernel"]["settings"]["ip_local_port_range"] == [40000, 40010]
    assert doc["kernel"]["settings"] == {k: list(v) if isinstance(v, tuple) else v
                                         for k, v in kernel.settings.items()}
    assert doc["counters"] == {"server": dict(r.server_counters), "client": dict(r.client_counters)}
    assert [c["outcome"] for c in doc["clients"]] == [c.outcome for c in r.clients]
    assert [c["time_wait_until"] for c in doc["clients"]] == [c.time_wait_until for c in r.clients]
    assert doc["events"] == r.events and doc["end"] == r.end


def test_json_document_structure(capsys):
    code, out, _ = run(capsys, "--kernel", "5.15", "--backlog", "2", "--clients", "6", "--accept", "1",
                       "--loss", "0.2", "--seed", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    r = simulate(Scenario(kernel="5.15", backlog=2, clients=6, accept=1.0, loss=0.2, seed=3))
    assert set(doc) == {"scenario", "kernel", "listener", "ss", "counters", "latency", "packets", "clients",
                        "log", "end", "events"}
    assert doc["listener"] == {"backlog": 2, "accept_capacity": 3, "syn_capacity": r.listener.syn_capacity,
                               "syn_table": None}
    ss = r.ss()
    assert doc["ss"] == {"recv_q": ss.recv_q, "send_q": ss.send_q, "syn_recv": ss.syn_recv}
    assert doc["latency"] == latency_summary(r).as_dict()
    assert doc["latency"]["outcomes"] == dict(r.outcomes())
    assert doc["packets"]["total"] == len(r.packets)
    assert doc["packets"]["lost"] == r.packets.tally(lost=True)
    assert sum(doc["packets"]["by_kind"].values()) == len(r.packets)
    first = doc["clients"][0]
    rec = r.clients[0]
    assert first == {"index": 0, "start": rec.start, "port": rec.port, "outcome": rec.outcome,
                     "syn_times": list(rec.syn_times), "connected_at": rec.connected_at,
                     "accepted_at": rec.accepted_at, "failed_at": rec.failed_at, "errno": rec.errno,
                     "latency": rec.latency}


def test_data_makes_clients_send_a_request_and_the_json_shows_it(capsys):
    code, out, _ = run(capsys, "--backlog", "2", "--connect-at", "0,0.2,0.2,0.2", "--accept-at", "0.5", "--rtt",
                       "0.1", "--data", "--duration", "5", "--json")
    assert code == 0
    doc = json.loads(out)
    r = simulate(Scenario(backlog=2, clients=[0, 0.2, 0.2, 0.2], accept=[0.5], rtt=0.1, data=True, duration=5.0))
    assert doc["scenario"]["data"] is True
    last, rec = doc["clients"][3], r.clients[3]
    assert (last["data_times"], last["data_acked_at"], last["rtt_sample"], last["request_latency"]) == (
        list(rec.data_times), rec.data_acked_at, rec.rtt_sample, rec.request_latency)
    assert len(rec.data_times) == 2  # its request was dropped once with the accept queue full
    assert doc["packets"]["by_kind"]["DATA"] == sum(len(c.data_times) for c in r.clients)
    code, out, _ = run(capsys, "--backlog", "2", "--connect-at", "0,0.2,0.2,0.2", "--accept-at", "0.5", "--rtt",
                       "0.1", "--data", "--duration", "5")
    assert code == 0 and "clients send a request" in out and "requests (4 sent, 1 sent more than once)" in out


def test_listeners_and_defer_accept_reach_the_scenario_and_the_report(capsys):
    argv = ["--kernel", "5.15", "--listeners", "3", "--backlog", "2", "--clients", "12", "--defer-accept", "5s",
            "--duration", "20"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    r = simulate(Scenario(kernel="5.15", listeners=3, backlog=2, clients=12, defer_accept=5, duration=20.0))
    assert "3 SO_REUSEPORT listeners, TCP_DEFER_ACCEPT 5 s" in out
    for i in range(3):  # ss -lnt lists every socket of the group, in listen() order
        assert str(r.ss(listener=i)).splitlines()[1] in out
    assert out.count("LISTEN ") == 3
    syn_recv = [r.ss(listener=i).syn_recv for i in range(3)]
    assert (f"SYN-RECV sockets (ss -nt state syn-recv): {sum(syn_recv)} "
            f"(per listener: {', '.join(map(str, syn_recv))})") in out
    assert "TcpExtTCPDeferAcceptDrop" in out
    code, out, _ = run(capsys, *argv, "--json")
    doc = json.loads(out)
    assert doc["scenario"]["listeners"] == 3 and doc["scenario"]["defer_accept"] == 5.0
    assert doc["listeners"] == [{"recv_q": r.ss(listener=i).recv_q, "send_q": 2, "syn_recv": syn_recv[i]}
                                for i in range(3)]
    code, out, _ = run(capsys, "--clients", "2", "--json")
    assert "listeners" not in json.loads(out)  # one listener: "ss" says it all


def test_no_listener(capsys):
    code, out, _ = run(capsys, "--backlog", "none", "--clients", "2")
    assert code == 0
    assert "nothing listens" in out and "reset 2" in out
    code, out, _ = run(capsys, "--backlog", "none", "--json")
    assert json.loads(out)["listener"] is None and json.loads(out)["ss"] is None


def test_plot_writes_a_png(capsys, tmp_path):
    target = tmp_path / "run.png"
    code, out, _ = run(capsys, "--kernel", "3.10", "--backlog", "8", "--clients", "20", "--duration", "60",
                       "--plot", str(target), "--plot-clients", "0,9,15")
    assert code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figure written to {target}" in out


@pytest.mark.parametrize(("argv", "names"), [
    (["--backlog", "abc"], ["--backlog", "-2147483648 to 2147483647", "'abc'"]),
    (["--loss", "2"], ["--loss", "from 0 to 1", "2"]),
    (["--loss", "lots"], ["--loss", "from 0 to 1", "'lots'"]),
    (["--kernel", "4.0"], ["--kernel", ", ".join(VERSIONS), "'4.0'"]),
    (["--clients", "x"], ["--clients", "0 to 1000000"]),
    (["--clients", "-1"], ["--clients", "0 to 1000000"]),
    (["--rtt", "100"], ["--rtt", "0 to 60 s"]),
    (["--rtt", "fast"], ["--rtt", "200us"]),
    (["--flood", "10"], ["--duration", "must be given"]),
    (["--duration", "0"], ["--duration", "0.001 to 100000 s"]),
    (["--connect-at", "0,5", "--duration", "2"], ["--connect-at", "within the duration"]),
    (["--accept", "0"], ["--accept", "0.001"]),
    (["--drop", "URG"], ["--drop", "SYN, SYN-ACK, ACK, RST, DATA, FIN"]),
    (["--hold", "-1"], ["--hold", "0 to 100000 s"]),
    (["--tcp-tw-reuse", "3"], ["--tcp-tw-reuse", "tcp_tw_reuse must be from 0 to 2 on Linux 6.18"]),
    (["--kernel", "6.12", "--tcp-tw-reuse-delay", "0.5"], ["--tcp-tw-reuse-delay", "no such sysctl",
                                                           "it came in Linux 6.14"]),
    (["--syncnt", "0"], ["--syncnt", "1 to 127"]),
    (["--syncookies", "3"], ["--syncookies", "0, 1, 2"]),
    (["--synack-retries", "300"], ["--synack-retries", "0 to 255"]),
    (["--abort-on-overflow", "2"], ["--abort-on-overflow", "0, 1"]),
    (["--kernel", "3.10", "--syn-linear-timeouts", "2"], ["--syn-linear-timeouts", "no such sysctl"]),
    (["--rto-init", "0"], ["--rto-init", "0.001 to 120"]),
    (["--port-range", "5-1"], ["--port-range", "65535"]),
    (["--set", "nonsense=1"], ["--set", "unknown sysctl"]),
    (["--set", "young_rule"], ["--set", "NAME=VALUE"]),
    (["--clients", "3", "--connect-at", "1"], ["--connect-at", "--clients"]),
    (["--plot", "out.xyz"], ["--plot", ".png"]),
    (["--plot", "/no/such/folder/x.png"], ["--plot", "does not exist"]),
    (["--clients", "3", "--plot-clients", "5", "--plot", "x.png"], ["--plot-clients", "0 to 2"]),
    (["--plot-clients", "0"], ["--plot-clients", "--plot"]),
    (["--pcap", "/no/such/folder/x.pcap"], ["--pcap", "does not exist"]),
    (["--pcap-at", "client"], ["--pcap-at", "--pcap FILE"]),
    (["--pcap", "x.pcap", "--pcap-at", "middle"], ["--pcap-at", "'server', 'client'"]),
    (["--kernel", "2.6.32", "--listeners", "2"], ["--listeners", "SO_REUSEPORT came in Linux 3.9"]),
    (["--kernel", "2.6.32", "--fastopen", "4"], ["--fastopen", "TCP Fast Open came in Linux 3.7"]),
    (["--kernel", "2.6.32", "--tcp-fastopen", "3"], ["--tcp-fastopen", "no such sysctl", "it came in Linux 3.6"]),
    (["--fastopen", "-1"], ["--fastopen", "0 to 2147483647"]),
    (["--listeners", "0"], ["--listeners", "1 to 65535"]),
    (["--listeners", "two"], ["--listeners", "whole number"]),
    (["--defer-accept", "500ms"], ["--defer-accept", "whole seconds from 0 to 2147483647"]),
    (["--defer-accept", "soon"], ["--defer-accept", "seconds"]),
])
def test_bad_input_is_one_line_naming_the_option(capsys, argv, names):
    err = fails(capsys, *argv)
    assert err.startswith("handshake-course simulate: error: ")
    for name in names:
        assert name in err, err


def test_help_explains_every_option_with_units(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--kernel", "--backlog", "--clients", "--connect-at", "--accept", "--accept-at", "--rtt",
                   "--loss", "--drop", "--flood", "--duration", "--seed", "--syncnt", "--somaxconn",
                   "--max-syn-backlog", "--syncookies", "--syn-retries", "--synack-retries",
                   "--abort-on-overflow", "--syn-linear-timeouts", "--rto-init", "--port-range",
                   "--invalid-ratelimit", "--retries2", "--data", "--listeners", "--defer-accept", "--set", "--json",
                   "--plot", "--pcap", "--pcap-at"):
        assert option in text
    for unit in ("second", "0.2 ms", "per second", "from 0 to 1", "SYNs per second"):
        assert unit in text


def test_every_setting_with_a_flag_is_an_option_named_after_it(capsys):
    """The options come from the model's registry (model.SETTINGS): each says which setting it sets,
    what it does and its range, and a bad value names the option."""
    from handshake_course.model import SETTINGS

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    flagged = [s for s in SETTINGS.values() if s.flag]
    assert len(flagged) == 14
    for s in flagged:
        assert f"{s.flag} " in text and f"{s.name}: {s.short}" in text
    with pytest.raises(SystemExit):
        main(["simulate", "--synack-retries", "300"])
    assert "argument --synack-retries: tcp_synack_retries must be from 0 to 255; got 300" in capsys.readouterr().err


def test_times_take_units():
    assert seconds("0.2ms") == pytest.approx(0.0002)
    assert seconds("200us") == pytest.approx(0.0002)
    assert seconds("2min") == 120.0
    assert seconds("1.5") == 1.5
    with pytest.raises(ValueError):
        seconds("1h")


def test_lab_subcommand_still_parses():
    args = build_parser().parse_args(["lab", "--no-browser"])
    assert args.command == "lab" and args.no_browser and args.func.__name__ == "cmd_lab"


def test_a_subcommand_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize(("uname", "version", "says"), [
    ("5.15.0-91-generic", "5.15", None),         # Ubuntu 22.04: modelled exactly, nothing to say
    ("6.3.0-1-amd64", "6.1", "Linux 6.3 is not modelled"),  # between profiles: the nearest older one
])
def test_kernel_auto_simulates_the_running_kernels_profile(capsys, monkeypatch, uname, version, says):
    monkeypatch.setattr("platform.release", lambda: uname)
    code, out, err = run(capsys, "--kernel", "auto", "--clients", "2")
    assert code == 0 and out.startswith(f"Linux {version}:")
    assert (says in err) if says else err == ""
