"""Bad input fails early with a ValueError that names the parameter and its valid range.

The ranges are the kernel's: tcp_syn_retries and TCP_SYNCNT 1..127 (MAX_TCP_SYNCNT, facts 1.7),
tcp_syncookies 0/1/2 (1.5), listen()'s backlog an int (1.2), sysctls a version lacks (1.1).
"""

import re

import pytest

from handshake_course import Kernel, Scenario
from handshake_course.model import VERSIONS


def fails(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(("settings", "name", "range_text"), [
    ({"tcp_syn_retries": 0}, "tcp_syn_retries", "1 to 127"),
    ({"tcp_syn_retries": 128}, "tcp_syn_retries", "1 to 127"),
    ({"tcp_syn_retries": 2.5}, "tcp_syn_retries", "1 to 127"),
    ({"tcp_syn_retries": True}, "tcp_syn_retries", "1 to 127"),
    ({"tcp_synack_retries": 256}, "tcp_synack_retries", "0 to 255"),
    ({"tcp_syncookies": 3}, "tcp_syncookies", "0, 1, 2"),
    ({"tcp_abort_on_overflow": 2}, "tcp_abort_on_overflow", "0, 1"),
    ({"somaxconn": -1}, "somaxconn", "from 0"),
    ({"tcp_syn_linear_timeouts": 128}, "tcp_syn_linear_timeouts", "0 to 127"),
    ({"ip_local_port_range": (1000, 2000)}, "ip_local_port_range", "1024 <= low <= high <= 65535"),
    ({"ip_local_port_range": (5000, 4000)}, "ip_local_port_range", "low <= high"),
    ({"ip_local_port_range": "x"}, "ip_local_port_range", "pair"),
    ({"young_rule": 1}, "young_rule", "True, False"),
    ({"syn_queue_limit": "qlen>=2"}, "syn_queue_limit", "table"),
    # 4.18+ proc_dointvec_minmax / proc_dou8vec_minmax 0..2 (sysctl_net_ipv4.c:1093 in 6.18.24)
    ({"tcp_tw_reuse": 3}, "tcp_tw_reuse", "0 to 2 on Linux 6.18"),
    ({"tcp_tw_reuse": -1}, "tcp_tw_reuse", "0 to 2 on Linux 6.18"),
    # proc_douintvec_minmax 1 ms to TCP_PAWS_MSL * MSEC_PER_SEC (sysctl_net_ipv4.c:49, :1102)
    ({"tcp_tw_reuse_delay": 0.0}, "tcp_tw_reuse_delay", "0.001 to 60"),
    ({"tcp_tw_reuse_delay": 61}, "tcp_tw_reuse_delay", "0.001 to 60"),
])
def test_kernel_rejects_values_out_of_range_naming_the_setting_and_range(settings, name, range_text):
    message = fails(name, Kernel, "6.18", **settings)
    assert range_text in message


def test_kernel_rejects_an_unknown_version():
    message = fails("version", Kernel, "4.9")
    assert all(v in message for v in VERSIONS)


def test_kernel_rejects_an_unknown_setting():
    message = fails("tcp_syn_retires", Kernel, "6.18", tcp_syn_retires=3)
    assert "tcp_syn_retries" in message  # the known names are listed


@pytest.mark.parametrize(("version", "name", "value", "since"), [
    ("3.10", "tcp_syn_linear_timeouts", 4, "6.5"),   # ccce324dabfe, facts 1.1
    ("5.15", "tcp_syn_linear_timeouts", 4, "6.5"),
    ("3.10", "tcp_invalid_ratelimit", 0.5, "4.0"),   # tcp_oow_rate_limited, absent in 3.10.108 (kernel_index)
    ("6.12", "tcp_tw_reuse_delay", 1.0, "6.14"),     # ca6a6f93867a; 6.12.63's tcp_twsk_unique waits for the second
])
def test_kernel_rejects_a_sysctl_the_version_does_not_have(version, name, value, since):
    message = fails(name, Kernel, version, **{name: value})
    assert f"Linux {version} has no such sysctl (it came in Linux {since};" in message


def test_kernel_reading_a_missing_sysctl_fails_too():
    with pytest.raises(ValueError, match="tcp_syn_linear_timeouts"):
        _ = Kernel("3.10").tcp_syn_linear_timeouts


def test_kernel_is_immutable():
    with pytest.raises(AttributeError):
        Kernel("6.18").tcp_syn_retries = 3


@pytest.mark.parametrize(("fields", "name", "range_text"), [
    ({"kernel": "4.9"}, "kernel", "2.6.32"),
    ({"backlog": 2**31}, "backlog", "-2147483648 to 2147483647"),
    ({"backlog": -(2**31) - 1}, "backlog", "-2147483648 to 2147483647"),
    ({"backlog": 1.5}, "backlog", "whole number"),
    ({"backlog": True}, "backlog", "whole number"),
    ({"clients": -1}, "clients", "0 to 1000000"),
    ({"clients": True}, "clients", "count or a sequence"),
    ({"clients": [1.0, -1.0]}, r"clients\[1\]", "0 to 100000"),
    ({"clients": [5.0], "duration": 1.0}, "clients", "duration"),
    ({"accept": 0.0}, "accept", "0.001"),
    ({"accept": ["x"]}, r"accept\[0\]", "0 to 100000"),
    ({"accept": [3.0], "duration": 1.0}, "accept", "duration"),
    ({"rtt": -0.1}, "rtt", "0 to 60"),
    ({"rtt": 61}, "rtt", "0 to 60"),
    ({"loss": 1.5}, "loss", "0 to 1"),
    ({"loss": float("nan")}, "loss", "0 to 1"),
    ({"drop": ("URG",)}, "drop", "SYN, SYN-ACK, ACK, RST, DATA, FIN"),
    ({"hold": -0.5}, "hold", "0 to 100000 s after connect"),
    ({"hold": "1s"}, "hold", "0 to 100000 s after connect"),
    ({"hold": float("nan")}, "hold", "0 to 100000 s after connect"),
    ({"flood": -1.0, "duration": 1.0}, "flood", "0 to"),
    ({"flood": 10.0}, "duration", "flood"),
    ({"duration": 0}, "duration", "0.001"),
    ({"seed": 1.5}, "seed", "whole number"),
    ({"syncnt": 0}, "syncnt", "1 to 127"),
    ({"syncnt": 128}, "syncnt", "1 to 127"),
    ({"syncnt": 2.0}, "syncnt", "1 to 127"),
    ({"jiffies": -1}, "jiffies", "0 to 4294967296 ticks"),
    ({"jiffies": float("nan")}, "jiffies", "0 to 4294967296 ticks"),
])
def test_scenario_rejects_bad_fields_naming_the_field_and_range(fields, name, range_text):
    message = fails(name, Scenario, **fields)
    assert re.search(re.escape(range_text), message)


def test_scenario_accepts_a_single_drop_kind_as_a_string():
    assert Scenario(drop="SYN").drop == ("SYN",)


def test_scenario_replace_checks_again():
    s = Scenario(kernel="6.18", backlog=8)
    with pytest.raises(ValueError, match="rtt"):
        s.replace(rtt=-1)
    assert s.replace(backlog=4).backlog == 4
