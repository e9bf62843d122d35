"""The modelled kernels, one record per version (``linux_<version>.py``), oldest first.

To add a version, copy the newest record, read the new release's source for every entry, and add
the module to ``RECORDS`` (CONTRIBUTING.md, "add a kernel version").
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from . import (
    linux_2_6_32,
    linux_3_10,
    linux_4_4,
    linux_4_14,
    linux_4_19,
    linux_5_4,
    linux_5_10,
    linux_5_15,
    linux_6_1,
    linux_6_6,
    linux_6_8,
    linux_6_12,
    linux_6_18,
)
from .record import FACTS, Absent, KernelRecord, Value

RECORDS = MappingProxyType({r.version: r for r in (
    linux_2_6_32.RECORD,
    linux_3_10.RECORD,
    linux_4_4.RECORD,
    linux_4_14.RECORD,
    linux_4_19.RECORD,
    linux_5_4.RECORD,
    linux_5_10.RECORD,
    linux_5_15.RECORD,
    linux_6_1.RECORD,
    linux_6_6.RECORD,
    linux_6_8.RECORD,
    linux_6_12.RECORD,
    linux_6_18.RECORD,
)})
"""Version -> its record, oldest first."""

ERAS: tuple[str, ...] = ("2.6.32", "3.10", "5.15", "6.18")
"""One profile for each era of the handshake that the lessons compare side by side: 2.6.32 (3 s
initial RTO, the listener-scan SYN table), 3.10 (1 s RTO, the young rule), 5.15 (per-request timers,
qlen >= backlog) and 6.18 (linear SYN timeouts, qlen > backlog). The other profiles are the series
people run; every test that applies to a behaviour runs on all of them."""



@dataclass(frozen=True)
class Change:
    """One setting or fact that differs between two records, with where the newer one says it."""

    name: str
    before: Any  # a value, or None where the older kernel lacks the sysctl
    after: Any
    source: str  # the newer record's source for it


def changes(older: str, newer: str) -> list[Change]:
    """What differs from one modelled version to another, settings first, then facts."""
    a, b = RECORDS[older], RECORDS[newer]
    found = []
    for kind in ("settings", "facts"):
        mine, theirs = getattr(a, kind), getattr(b, kind)
        for name, entry in theirs.items():
            before = getattr(mine[name], "value", None)
            after = getattr(entry, "value", None)
            if before != after:
                found.append(Change(name, before, after, entry.source))
    return found


__all__ = ["ERAS", "FACTS", "RECORDS", "Change", "changes", "Absent", "KernelRecord", "Value"]
