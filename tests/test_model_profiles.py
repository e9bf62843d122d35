"""Each profile's defaults are the kernel's.

Sources: linux-handshake-facts.md 1.1, 1.7, 1.12, 1.14, and the values a fresh network namespace shows
on this project's machine (Linux 6.18.44, ``/proc/sys/net/...``, CONFIG_HZ from /boot/config).
"""

import re

import pytest

from handshake_course import Kernel

# live 6.18.44, `unshare -n cat /proc/sys/net/...`
LIVE_6_18 = {
    "somaxconn": 4096, "tcp_max_syn_backlog": 2048, "tcp_syn_retries": 6, "tcp_synack_retries": 5,
    "tcp_syncookies": 1, "ip_local_port_range": (32768, 60999), "tcp_invalid_ratelimit": 0.5,
    "tcp_abort_on_overflow": 0, "tcp_syn_linear_timeouts": 4, "hz": 250,
}


def test_6_18_defaults_are_those_of_a_live_6_18_kernel():
    k = Kernel("6.18")
    assert {name: getattr(k, name) for name in LIVE_6_18} == LIVE_6_18


@pytest.mark.parametrize(("version", "expected"), [
    # 1.7 constants, 1.14 profile table: initial RTO, tcp_syn_retries, somaxconn, port range
    ("2.6.32", {"tcp_timeout_init": 3.0, "tcp_syn_retries": 5, "somaxconn": 128,
                "ip_local_port_range": (32768, 61000)}),
    ("3.10", {"tcp_timeout_init": 1.0, "tcp_syn_retries": 6, "somaxconn": 128, "tcp_synack_retries": 5,
              "tcp_syncookies": 1, "ip_local_port_range": (32768, 61000)}),
    ("5.15", {"tcp_timeout_init": 1.0, "tcp_syn_retries": 6, "somaxconn": 4096, "tcp_synack_retries": 5,
              "tcp_syncookies": 1, "ip_local_port_range": (32768, 60999)}),
])
def test_old_profiles_have_their_kernels_defaults(version, expected):
    k = Kernel(version)
    assert {name: getattr(k, name) for name in expected} == expected


@pytest.mark.parametrize(("version", "switches"), [
    # 1.14 profile table: SYN-queue limit, young rule, SYN-ACK timer; 1.5 cookie window
    ("2.6.32", {"syn_queue_limit": "table", "young_rule": True, "synack_timer": "listener_scan",
                "cookie_window": 3.0}),
    ("3.10", {"syn_queue_limit": "table", "young_rule": True, "synack_timer": "listener_scan",
              "cookie_window": 3.0}),
    ("5.15", {"syn_queue_limit": "qlen>=backlog", "young_rule": False, "synack_timer": "per_request",
              "cookie_window": 120.0}),
    ("6.18", {"syn_queue_limit": "qlen>backlog", "young_rule": False, "synack_timer": "per_request",
              "cookie_window": 120.0}),
])
def test_profiles_switch_behaviours_as_the_milestone_table_says(version, switches):
    k = Kernel(version)
    assert {name: getattr(k, name) for name in switches} == switches


@pytest.mark.parametrize(("version", "has_linear", "has_ratelimit"), [
    ("2.6.32", False, False), ("3.10", False, False), ("5.15", False, True), ("6.18", True, True),
])
def test_sysctls_exist_only_where_the_kernel_has_them(version, has_linear, has_ratelimit):
    # 1.1: tcp_syn_linear_timeouts since 6.5; tcp_invalid_ratelimit since 4.0
    k = Kernel(version)
    assert k.has("tcp_syn_linear_timeouts") == has_linear
    assert k.has("tcp_invalid_ratelimit") == has_ratelimit
    assert k.has("tcp_syncookies") and k.has("somaxconn")


def test_overrides_keep_the_rest_of_the_profile():
    k = Kernel("3.10", tcp_syn_retries=3)
    assert k.tcp_syn_retries == 3
    assert k.somaxconn == 128
    assert k.replace(somaxconn=1024).tcp_syn_retries == 3
    assert Kernel("3.10", tcp_syn_retries=3) == k
    assert Kernel("3.10") != k
    assert len({Kernel("6.18"), Kernel("6.18"), k}) == 2


# ---- the registry: one home for each setting -----------------------------------------------------

def test_every_sysctl_declares_its_proc_name_side_flag_and_unit():
    from handshake_course.model import SETTINGS, sysctls

    names = {s.name for s in sysctls()}
    assert names == {s.name for s in SETTINGS.values() if s.kind == "sysctl"}
    for s in sysctls():
        assert s.proc.startswith(("net.core.", "net.ipv4.")) and s.proc.endswith(s.name), s.proc
        assert s.side in ("server", "client") and s.flag and s.flag.startswith("--") and s.short
    assert len({s.proc for s in sysctls()}) == len(names)
    assert {s.name for s in sysctls("client")} == {"tcp_syn_retries", "tcp_syn_linear_timeouts",
                                                  "ip_local_port_range",  # what connect() reads
                                                  "tcp_retries2",  # and the connected socket's data timer
                                                  "tcp_tw_reuse", "tcp_tw_reuse_delay"}  # and connect() again
    assert SETTINGS["tcp_invalid_ratelimit"].from_proc("500") == 0.5  # the kernel stores milliseconds
    assert SETTINGS["tcp_tw_reuse_delay"].from_proc("1000") == 1.0
    assert SETTINGS["ip_local_port_range"].from_proc("32768\t60999") == (32768, 60999)


def test_the_readme_lists_every_sysctl_and_switch():
    from pathlib import Path

    from handshake_course.model import SETTINGS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    api = readme[readme.index("- `Kernel(version, **settings)`"):readme.index("- `Scenario(")]
    sysctl_part, switch_part = api.split("or behaviour switches", 1)
    listed = lambda text: set(re.findall(r"`([a-z_0-9]+)`", text))  # noqa: E731
    assert listed(sysctl_part) == {n for n, s in SETTINGS.items() if s.kind == "sysctl"}
    assert listed(switch_part) == {n for n, s in SETTINGS.items() if s.kind == "switch"}


def test_the_lab_reads_each_sysctl_from_the_host_it_acts_on():
    from handshake_course.lab.compare import kernel_for

    # the server namespace's retries are not the client's: each setting comes from its own side
    record = {"sysctls": {"server": {"net.ipv4.tcp_synack_retries": "3", "net.ipv4.tcp_syn_retries": "9",
                                     "net.ipv4.tcp_invalid_ratelimit": "250"},
                          "client": {"net.ipv4.tcp_synack_retries": "7", "net.ipv4.tcp_syn_retries": "2",
                                     "net.ipv4.ip_local_port_range": "40000 40100"}}}
    k = kernel_for(record)
    assert (k.tcp_synack_retries, k.tcp_syn_retries) == (3, 2)
    assert k.tcp_invalid_ratelimit == 0.25 and k.ip_local_port_range == (40000, 40100)
