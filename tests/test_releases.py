"""Which profile is my kernel (model/releases.py): a ``uname -r`` string -> the newest modelled series
not newer than it, with a note on how close that is and on distribution backports."""

from __future__ import annotations

import pytest

from handshake_course import Kernel, match_release
from handshake_course.model import VERSIONS
from handshake_course.model.releases import version_key

UNAMES = [  # uname -r of the distributions our learners run, as those kernels print it
    "5.15.0-91-generic",          # Ubuntu 22.04
    "6.8.0-45-generic",           # Ubuntu 24.04
    "5.4.0-200-generic",          # Ubuntu 20.04
    "6.1.0-26-amd64",             # Debian 12
    "6.12.48+deb13-amd64",        # Debian 13
    "4.18.0-513.el8.x86_64",      # RHEL 8
    "4.14.355-277.647.amzn2.x86_64",  # Amazon Linux 2
    "5.14.0-427.13.1.el9_4.x86_64",  # RHEL 9
    "3.10.0-1160.el7.x86_64",     # RHEL/CentOS 7
    "2.6.32-754.el6.x86_64",      # RHEL/CentOS 6
    "6.1.112-122.189.amzn2023.x86_64",  # Amazon Linux 2023
    "6.18.44-fc-v669",            # this project's machines (the lab's measurements)
]


@pytest.mark.parametrize("release", UNAMES)
def test_the_profile_is_the_newest_modelled_series_not_newer_than_the_kernel(release):
    match = match_release(release)
    series = version_key(match.series)
    assert match.version in VERSIONS and version_key(match.version) <= series
    assert not [v for v in VERSIONS if version_key(match.version) < version_key(v) <= series]
    assert Kernel.nearest(release) == Kernel(match.version)
    assert match.exact == (match.series == match.version)
    if not match.exact:
        assert f"Linux {match.series} is not modelled" in match.note


def test_a_modelled_series_matches_itself_whatever_the_build():
    assert [match_release(r).version for r in ("5.15.0-91-generic", "6.18.44-fc-v669", "3.10.0-1160.el7.x86_64",
                                               "2.6.32-754.el6.x86_64")] == ["5.15", "6.18", "3.10", "2.6.32"]
    assert match_release("5.15.0-91-generic").note == ""


def test_distribution_backports_are_named():
    assert "tcp_syncookies=2" in match_release("3.10.0-1160.el7.x86_64").note  # RHEL 7 backports it
    assert "RHEL 8" in match_release("4.18.0-513.el8.x86_64").note
    assert "Amazon Linux" in match_release("6.1.112-122.189.amzn2023.x86_64").note
    assert "Amazon Linux" in match_release("4.14.355-277.647.amzn2.x86_64").note


def test_a_release_past_the_records_stable_release_names_the_switch_to_flip():
    # the 4.14 record reads 4.14.280; the stable revision list (not a tree) puts the 2022 port hardening in
    # 4.14.286, so a later 4.14.y (Amazon Linux 2's) is told to flip port_selection, and 4.14.280-285 are not
    later, early = match_release("4.14.355-277.647.amzn2.x86_64"), match_release("4.14.285")
    assert (later.version, later.exact, early.version, early.note) == ("4.14", True, "4.14", "")
    assert "Kernel('4.14', port_selection='even_first_random')" in later.note
    assert Kernel("4.14", port_selection="even_first_random").port_selection == Kernel("4.19").port_selection


def test_a_kernel_older_than_every_profile_gets_the_oldest_and_says_so():
    match = match_release("2.6.18-419.el5")
    assert match.version == VERSIONS[0] and "older than every profile" in match.note


@pytest.mark.parametrize("release", ["", "linux", "v6.1", "6"])
def test_a_release_that_is_not_a_kernel_version_is_refused_naming_the_parameter(release):
    with pytest.raises(ValueError, match="release must start with a kernel version"):
        match_release(release)


def test_the_readme_table_of_distributions_is_what_match_release_says():
    import re
    from pathlib import Path

    from handshake_course.model.releases import DISTRIBUTIONS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = re.findall(r"^  \| ([^|]+) \| ([0-9][^|]*) \| ([0-9.]+)[^|]* \|$", readme, re.MULTILINE)
    known = dict(DISTRIBUTIONS)
    assert sorted(d.strip() for d, _, _ in rows) == sorted(known)
    for distribution, _, profile in rows:
        assert match_release(known[distribution.strip()]).version == profile, distribution


def test_neighbouring_profiles_differ_in_what_their_records_say():
    from handshake_course.model.kernels import changes
    from handshake_course.text import profile_changes

    assert changes("5.4", "5.10") == []  # 5.10.265 and 5.4.301: nothing the model sees differs
    # 6.8 was EOL before the January 2025 backport of 3479c7549fb1, and before tcp_twsk_unique stopped
    # handing over FIN_WAIT2 timewait sockets (6.6.150 has that test, 6.8.0 not)
    # and before TCP Fast Open's resend of unacked SYN data went through tcp_non_congestion_loss_retransmit
    change, fin_wait2, tfo_resend = changes("6.6", "6.8")
    assert (change.name, change.before, change.after) == ("syn_queue_limit", "qlen>backlog", "qlen>=backlog")
    assert "inet_csk_reqsk_queue_is_full" in change.source
    assert (fin_wait2.name, fin_wait2.before, fin_wait2.after) == ("tw_reuse_fin_wait2", False, True)
    assert (tfo_resend.name, tfo_resend.after) == ("fastopen_fail_retransmit", "tcp_xmit_retransmit_queue")
    linear = next(c for c in changes("6.1", "6.6") if c.name == "tcp_syn_linear_timeouts")
    assert (linear.before, linear.after) == (None, 4)  # absent before 6.5
    text = profile_changes()
    assert "5.4 -> 5.10 (5.10.265): nothing the model sees" in text
    assert text.count(" -> ") >= len(VERSIONS) - 1
