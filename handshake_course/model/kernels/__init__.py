"""The modelled kernels, one record per version (``linux_<version>.py``), oldest first.

To add a version, copy the newest record, read the new release's source for every entry, and add
the module to ``RECORDS`` (CONTRIBUTING.md, "add a kernel version").
"""

from __future__ import annotations

from types import MappingProxyType

from . import linux_2_6_32, linux_3_10, linux_5_15, linux_6_18
from .record import FACTS, Absent, KernelRecord, Value

RECORDS = MappingProxyType({r.version: r for r in (
    linux_2_6_32.RECORD,
    linux_3_10.RECORD,
    linux_5_15.RECORD,
    linux_6_18.RECORD,
)})
"""Version -> its record, oldest first."""

__all__ = ["FACTS", "RECORDS", "Absent", "KernelRecord", "Value"]
