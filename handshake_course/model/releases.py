"""Which profile is my kernel: a ``uname -r`` string matched to the modelled version that describes it.

A kernel release string starts with the upstream version ("5.15.0-91-generic", "6.1.0-26-amd64",
"4.18.0-513.el8.x86_64"); what follows names the build, and some builds carry backports that change
the handshake. The match is the newest modelled series not newer than the kernel (a kernel is at
least as new as that profile's series), with a note on how close it is and on what a distribution
kernel is known to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .kernels import RECORDS

RELEASE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(.*)$")

VENDOR_NOTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.el6"), "RHEL/CentOS 6 builds 2.6.32 with backports from later kernels"),
    (re.compile(r"\.el7"), "RHEL/CentOS 7 builds 3.10 with backports the vanilla 3.10 profile lacks: "
                           "tcp_syncookies=2, tcp_conn_request, the 32768-60999 port range with an even "
                           "start; try Kernel('3.10') with those changes in mind"),
    (re.compile(r"\.el8"), "RHEL 8 builds 4.18 with many backports from later kernels: behaviours may be "
                           "newer than the profile's"),
    (re.compile(r"\.el9"), "RHEL 9 builds 5.14 with many backports from later kernels: behaviours may be "
                           "newer than the profile's"),
    (re.compile(r"\.el10"), "RHEL 10 builds 6.12 with backports from later kernels"),
    (re.compile(r"amzn"), "an Amazon Linux kernel: a stable series with Amazon's backports"),
)
"""Distribution kernels known to carry backports that touch the handshake: pattern -> what to know."""


DISTRIBUTIONS: tuple[tuple[str, str], ...] = (
    ("RHEL/CentOS 6", "2.6.32-754.el6.x86_64"),
    ("RHEL/CentOS 7", "3.10.0-1160.el7.x86_64"),
    ("Ubuntu 16.04", "4.4.0-210-generic"),
    ("Amazon Linux 2", "4.14.355-277.647.amzn2.x86_64"),
    ("Debian 10", "4.19.0-27-amd64"),
    ("RHEL 8", "4.18.0-513.el8.x86_64"),
    ("Ubuntu 20.04", "5.4.0-200-generic"),
    ("Debian 11", "5.10.0-33-amd64"),
    ("RHEL 9", "5.14.0-427.13.1.el9_4.x86_64"),
    ("Ubuntu 22.04", "5.15.0-91-generic"),
    ("Debian 12, Amazon Linux 2023", "6.1.0-26-amd64"),
    ("Ubuntu 24.04", "6.8.0-45-generic"),
    ("Debian 13, RHEL 10", "6.12.48+deb13-amd64"),
)
"""Distribution releases and a ``uname -r`` of their kernel (the README's table and lesson 8's)."""

LATER_STABLE: tuple[tuple[str, int, str], ...] = (
    ("4.14", 286, "4.14.286 and later carry the 2022 port hardening (the stable revision list says so; not "
                  "read in a tree), which the 4.14 profile (4.14.280) lacks: try "
                  "Kernel('4.14', port_selection='even_first_random')"),
)
"""Stable releases of a modelled series newer than its record that change what the model sees:
(series, first release's last number, what to flip). A release of that series from then on gets the note."""


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class ProfileMatch:
    """A running kernel release and the modelled version that stands for it."""

    release: str  # as given: "5.15.0-91-generic"
    series: str  # its upstream series: "5.15"
    version: str  # the profile: "5.15"
    note: str  # how close the profile is, and what the build is known to change ("" when exact)

    @property
    def exact(self) -> bool:
        """Whether the profile models this very series."""
        return self.series == self.version


def match_release(release: str) -> ProfileMatch:
    """The profile of the newest modelled series not newer than ``release`` (a ``uname -r`` string).

    >>> match_release("5.15.0-91-generic").version
    '5.15'
    >>> match_release("6.1.0-26-amd64").version
    '5.15'
    """
    found = RELEASE.match(str(release))
    if found is None:
        raise ValueError(f"release must start with a kernel version such as 6.1.0; got {release!r}")
    major, minor, patch = found.group(1, 2, 3)
    # a series is major.minor; in the 2.6 days it was the third number: 2.6.32
    series = f"{int(major)}.{int(minor)}" + (f".{int(patch)}" if int(major) == 2 and patch else "")
    key = version_key(series)
    older = [v for v in RECORDS if version_key(v) <= key]
    notes = []
    if older:
        version = older[-1]
        if version != series:
            notes.append(f"Linux {series} is not modelled; the nearest older profile is {version} "
                         f"({RECORDS[version].release}), so behaviours that changed since may differ")
    else:
        version = next(iter(RECORDS))
        notes.append(f"Linux {series} is older than every profile; the oldest is {version}")
    if version == series and patch is not None and int(major) > 2:  # 2.6.x: the third number is the series
        notes += [text for s, first, text in LATER_STABLE if s == series and int(patch) >= first]
    notes += [text for pattern, text in VENDOR_NOTES if pattern.search(found.group(4))]
    return ProfileMatch(release=str(release).strip(), series=series, version=version, note="; ".join(notes))
