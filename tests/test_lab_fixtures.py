"""The model against stored measurements of a real kernel (no root, no Linux needed).

handshake_course/lab/measurements/*.json (package data, read by ``lab.stored``, ``lab.store``) were recorded by
``python -m handshake_course.lab.record`` on Linux 6.18.44 (HZ=250), in throw-away network
namespaces for the privileged ones, on loopback for ``loopback_*``. Each fixture is replayed in the model with the
same sysctls, backlog, connect() and accept() times and drops; every named check must hold, except
the known disagreements listed in ``lab.compare.KNOWN_MISMATCHES``, which are strict xfails.
"""

from __future__ import annotations

import json
import sys
from functools import cache

import pytest

from handshake_course import simulate
from handshake_course.lab import compare, host, nft, procnet, rawtcp, record, store, timing
from handshake_course.lab.capture import parse
from handshake_course.lab.record import dumps, load_all

FIXTURES = store.MEASUREMENTS
RECORDS = load_all(FIXTURES)


def _cases() -> list:
    cases = []
    for name, rec in RECORDS.items():
        for check in compare.CHECK_NAMES[rec["experiment"]]:
            reason = compare.KNOWN_MISMATCHES.get((name, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(name, check, marks=marks, id=f"{name}:{check}"))
    return cases


@cache
def _checks(fixture: str) -> dict[str, compare.Check]:
    return compare.checks(RECORDS[fixture])


@pytest.mark.parametrize(("fixture", "check"), _cases())
def test_model_matches_the_measured_kernel(fixture, check):
    result = _checks(fixture)[check]
    assert result.ok, str(result)


# ---- the fixtures themselves ---------------------------------------------------------------------

def test_every_experiment_has_fixtures():
    kinds = {rec["experiment"] for rec in RECORDS.values()}
    assert kinds == set(compare.CHECK_NAMES)


@pytest.mark.parametrize("fixture", sorted(RECORDS))
def test_fixture_records_kernel_sysctls_and_stays_small(fixture):
    rec = RECORDS[fixture]
    assert compare.model_version(rec["kernel"]) == "6.18"
    assert rec["hz"] == 250
    assert rec["sysctls"] and rec["params"] and rec["result"]
    if not rec["experiment"].startswith("loopback"):
        assert set(rec["counters"]) == {"server", "client"}
        assert rec["ss"]["listener"].startswith("LISTEN")
    assert (FIXTURES / f"{fixture}.json").stat().st_size < 16_000


@pytest.mark.parametrize("fixture", sorted(RECORDS))
def test_checks_are_the_declared_ones(fixture):
    assert tuple(_checks(fixture)) == compare.CHECK_NAMES[RECORDS[fixture]["experiment"]]


def test_every_known_mismatch_names_a_real_check():
    for (fixture, check), reason in compare.KNOWN_MISMATCHES.items():
        assert check in compare.CHECK_NAMES[RECORDS[fixture]["experiment"]]
        assert len(reason) > 40


@pytest.mark.parametrize("fixture", ["herd", "loopback_herd"])
def test_only_the_kernel_timers_reproduce_the_measured_herd(fixture):
    # The measured waiters all connect within one tick of each other (the timer wheel fired their 1 s
    # SYN timers together); the default model (timer_wheel="wheel" on 6.18) agrees, while textbook
    # timers let one waiter in per accept(), which the measurement contradicts.
    rec = RECORDS[fixture]
    first = rec["params"]["backlog"] + 1
    measured = [c["connected_at"] for c in rec["result"]["clients"][first:]]
    assert None not in measured and max(measured) - min(measured) < 1 / rec["hz"]
    kernel = simulate(compare.scenario_for(rec))
    textbook = simulate(compare.scenario_for(rec, timer_wheel="off"))
    assert kernel.kernel.timer_wheel == "wheel" and kernel.kernel.hz == rec["hz"]
    together = [c.connected_at for c in kernel.clients[first:]]
    assert None not in together and max(together) - min(together) < 1 / rec["hz"]
    one_by_one = [c.connected_at for c in textbook.clients[first:]]
    assert None in one_by_one or max(one_by_one) - min(one_by_one) > 0.5


@pytest.mark.parametrize("fixture", ["herd", "loopback_herd"])
def test_the_models_wheel_ticks_where_the_measured_kernels_did(fixture):
    # A record does not say how long the machine had been up, so the lab aligns the model's jiffies
    # with the measured first SYN retransmission: a granule of its 1 s timers ends there. The herd's
    # first retransmission then leaves in the model when it did on the machine, whatever the seed.
    rec = RECORDS[fixture]
    fired = compare.first_retransmission(rec)
    scenario = compare.scenario_for(rec)
    k = scenario.kernel
    granule = 8 if k.hz == 250 else 64  # kernel/time/timer.c: level 1 (HZ=250) or 2 (HZ=1000) holds a 1 s timer
    assert scenario.jiffies is not None and ((scenario.jiffies + fired * k.hz) % granule) in (0, pytest.approx(granule))
    for seed in (1, 7):
        model = simulate(scenario.replace(seed=seed))
        sent = min(p.time for p in model.packets if p.kind == "SYN" and p.retransmission)
        assert sent == pytest.approx(fired, abs=1e-5)


# ---- timer lateness (reported to the model: see the timer_wheel switch) ----------------------------

def test_timers_fire_late_within_the_timer_wheel_granularity_never_early():
    summary = compare.timer_lateness(RECORDS)
    assert summary["syn_rto"] and summary["synack_rto"]
    for table in summary.values():
        for delay, row in table.items():
            assert row["min_ms"] > -4.0, (delay, row)  # never early by more than the jiffy in progress
            assert row["max_ms"] <= row["wheel_bound_ms"] + 1000 * timing.SLACK, (delay, row)


def test_waiting_clients_retransmit_as_a_herd():
    clients = RECORDS["herd"]["result"]["clients"]
    second = [c["syn_times"][1] for c in clients if len(c["syn_times"]) > 1]
    assert len(second) == RECORDS["herd"]["params"]["waiters"]
    assert max(second) - min(second) < 0.001  # one timer-wheel tick sends them all


# ---- pure helpers of the lab ----------------------------------------------------------------------

@pytest.mark.parametrize(("delay", "granularity"), [
    (0.1, 0.004), (1.0, 0.032), (2.0, 0.032), (2.1, 0.256), (4.0, 0.256), (8.0, 0.256), (16.0, 0.256),
    (32.0, 2.048),
])
def test_wheel_granularity_at_hz_250(delay, granularity):
    assert timing.wheel_granularity(delay) == pytest.approx(granularity)


def test_interval_bounds_allow_late_not_early():
    lo, hi = timing.interval_bounds(1.0)
    assert lo == pytest.approx(0.996) and hi == pytest.approx(1.0 + 0.032 + 0.004 + timing.SLACK)


def test_counters_parse_as_nstat_names_them():
    text = "TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 3 7\nTcp: RtoMin ActiveOpens\nTcp: 200 5\n"
    counters = procnet.parse_counters(text)
    assert counters == {"TcpExtSyncookiesSent": 3, "TcpExtListenOverflows": 7, "TcpRtoMin": 200,
                        "TcpActiveOpens": 5}
    assert procnet.delta({"TcpActiveOpens": 2}, counters) == {
        "TcpActiveOpens": 3, "TcpExtListenOverflows": 7, "TcpExtSyncookiesSent": 3, "TcpRtoMin": 200}


def test_proc_net_tcp_lines_parse():
    text = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt ...\n"
            "   0: 0101CB0A:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0\n"
            "   1: 0101CB0A:1F90 0201CB0A:C350 03 00000000:00000000 01:00000064 00000002     0\n")
    listener, request = procnet.parse_tcp(text)
    assert listener.state == "LISTEN" and listener.local == ("10.203.1.1", 8080) and listener.rx_queue == 3
    assert request.state == "SYN-RECV" and request.remote == ("10.203.1.2", 50000)
    assert request.timer == 1 and request.retransmits == 2


def test_raw_segments_have_valid_checksums_and_parse_back():
    packet = rawtcp.segment("10.203.1.2", "10.203.1.1", 20000, 8080, 1234, 0, 0x02, rawtcp.MSS_OPTION)
    assert rawtcp.checksum(packet[:20]) == 0  # IP header
    pseudo = bytes([10, 203, 1, 2, 10, 203, 1, 1, 0, 6]) + (len(packet) - 20).to_bytes(2, "big")
    assert rawtcp.checksum(pseudo + packet[20:]) == 0  # TCP segment
    seg = parse(b"\0" * 12 + b"\x08\x00" + packet, 1.5, True)
    assert seg is not None and seg.kind == "SYN" and (seg.sport, seg.dport, seg.seq) == (20000, 8080, 1234)


def test_nft_rules_count_what_they_drop():
    assert nft.drop(nft.SYN_ACK) == "tcp flags & (syn | ack) == syn | ack counter drop"
    assert nft.random_drop(20, "tcp dport 8080") == "tcp dport 8080 numgen random mod 100 < 20 counter drop"
    with pytest.raises(ValueError):
        nft.random_drop(101)


def test_fixture_layout_round_trips():
    rec = RECORDS["syn_schedule-r1-l4"]
    assert json.loads(dumps(rec)) == rec


def test_model_version_of_a_release():
    assert compare.model_version("6.18.44-fc-v669") == "6.18"
    assert compare.model_version("6.13.0") == "6.18"
    assert compare.model_version("6.12.9") is None
    assert compare.model_version("5.15.0-91-generic") is None


def test_lab_refuses_clearly_off_linux(monkeypatch):
    from handshake_course import lab

    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(host.LabUnavailable, match="Linux"):
        lab.loopback_accept_capacity(4)
    with pytest.raises(host.LabUnavailable, match="Linux"):
        lab.loopback_herd()
    assert host.privileged_reason() == "not Linux"


def test_lab_scenario_for_a_loopback_record_is_a_model_scenario():
    from handshake_course import lab, simulate

    rec = RECORDS["loopback_accept_capacity-b7"]
    result = simulate(lab.scenario_for(rec))
    assert result.ss().recv_q == rec["result"]["recv_q"] == 8


# ---- the stored measurements as package data, and the live-or-stored helpers ------------------------

def test_stored_measurements_are_the_package_data():
    from importlib.resources import files

    from handshake_course import lab

    assert lab.stored_names() == sorted(RECORDS)
    assert (files("handshake_course.lab") / "measurements" / "loopback_herd.json").is_file()
    pyproject = (FIXTURES.parents[2] / "pyproject.toml").read_text()
    assert '"handshake_course.lab" = ["measurements/*.json", "measurements/*.pcap"]' in pyproject
    rec = lab.stored("loopback_herd")
    assert rec["source"] == "stored: Linux 6.18.44-fc-v669" == f"stored: Linux {lab.stored_release()}"
    assert {k: v for k, v in rec.items() if k != "source"} == RECORDS["loopback_herd"]
    rec["result"]["clients"].clear()  # a fresh copy each time
    assert lab.stored("loopback_herd")["result"]["clients"]
    assert set(lab.stored_records("loopback_accept_capacity")) == {
        f"loopback_accept_capacity-b{b}" for b in record.LOOPBACK_BACKLOGS}
    with pytest.raises(KeyError, match="loopback_herd"):
        lab.stored("no_such_record")


def test_every_unprivileged_run_is_stored():
    assert set(record.loopback_runs()) <= set(RECORDS)
    assert store.stored_accept_capacity_backlogs() == list(range(17))


def test_measure_falls_back_to_the_stored_record_off_linux(monkeypatch):
    from handshake_course import lab

    monkeypatch.setattr(sys, "platform", "darwin")
    rec = lab.measure_accept_capacity(4)
    assert rec["source"] == f"stored: Linux {lab.stored_release()}" and not lab.is_live(rec)
    assert "LabUnavailable" in rec["fallback"] and "Linux" in rec["fallback"]
    assert rec["params"]["backlog"] == 4 and rec["result"]["connected"] == 5
    herd = lab.measure_herd()
    assert herd["experiment"] == "loopback_herd" and herd["source"].startswith("stored: ")
    with pytest.raises(host.LabUnavailable):
        lab.measure_herd(live=True)


def test_measure_falls_back_when_sockets_fail(monkeypatch):
    from handshake_course import lab
    from handshake_course.lab import loopback

    def no_sockets(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(loopback, "loopback_accept_capacity", no_sockets)
    rec = lab.measure_accept_capacity(0)
    assert rec["source"].startswith("stored: ") and "PermissionError" in rec["fallback"]
    with pytest.raises(PermissionError):
        lab.measure_accept_capacity(0, live=True)


def test_measure_stored_only_and_the_nearest_backlog():
    from handshake_course import lab

    rec = lab.measure_accept_capacity(40, live=False)
    assert rec["params"]["backlog"] == 16 and "backlog 40 is not stored" in rec["fallback"]
    assert lab.measure_accept_capacity(7, live=False) | {"source": None, "fallback": None} == (
        RECORDS["loopback_accept_capacity-b7"] | {"source": None, "fallback": None})
    with pytest.raises(ValueError):
        lab.measure_accept_capacity(-1)


@pytest.mark.parametrize(("uname", "profile"), [("6.18.44-fc-v669", "6.18"), ("5.15.0-91-generic", "5.15"),
                                                ("6.5.0-14-generic", "6.1")])
def test_a_record_is_modelled_with_its_kernels_profile(uname, profile):
    # A learner's measurement is compared with the profile of the kernel that made it (match_release);
    # a sysctl that profile lacks (tcp_syn_linear_timeouts, on a 6.5 machine modelled as 6.1) is left out.
    rec = {**RECORDS["loopback_herd"], "kernel": uname}
    kernel = compare.scenario_for(rec).kernel
    assert kernel.version == profile and kernel.hz == rec["hz"]
    assert kernel.somaxconn == int(rec["sysctls"]["net.core.somaxconn"])
