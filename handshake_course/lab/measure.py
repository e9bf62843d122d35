"""Measure on this machine if it can, else fall back to the stored measurement: what a lesson calls,
so that a notebook needs no try/except of its own::

    from handshake_course import lab
    rec = lab.measure_accept_capacity(4)
    rec["source"]     # "live: Linux 6.8.0-45-generic", or "stored: Linux 6.18.44-fc-v669"
    rec["fallback"]   # only on a stored record: why it could not measure here

``live=None`` (the default) tries the live experiment and falls back on ``LabUnavailable`` (not
Linux) or an ``OSError`` from the sockets or ``ss`` (a sandbox without them); ``live=True`` only
measures (and raises); ``live=False`` only reads the stored record.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from . import loopback
from .host import LabUnavailable, kernel_release
from .store import source_text, stored, stored_accept_capacity_backlogs

FALLBACK_ERRORS: tuple[type[BaseException], ...] = (LabUnavailable, OSError, subprocess.SubprocessError)
"""What makes ``measure_*`` fall back to the stored record instead of raising."""


def _measure_or_stored(run: Callable[[], dict[str, Any]], name: str, live: bool | None,
                       note: str = "") -> dict[str, Any]:
    if live is not False:
        try:
            rec = run()
        except FALLBACK_ERRORS as err:
            if live:
                raise
            reason = f"{type(err).__name__}: {err}"
        else:
            rec["source"] = source_text("live", rec.get("kernel") or kernel_release())
            return rec
    else:
        reason = "stored measurement asked for (live=False)"
    rec = stored(name)
    rec["fallback"] = reason + note
    return rec


def nearest_stored_backlog(backlog: int) -> int:
    """The stored loopback_accept_capacity backlog closest to `backlog` (the smaller one on a tie)."""
    return min(stored_accept_capacity_backlogs(), key=lambda b: (abs(b - backlog), b))


def measure_accept_capacity(backlog: int, live: bool | None = None) -> dict[str, Any]:
    """``loopback_accept_capacity(backlog)`` on this machine (about 0.2 s), or the stored record.

    Backlogs 0 to 16 are stored; for another backlog the stored fallback is the nearest stored one,
    so read the backlog from ``rec["params"]["backlog"]``, not from the argument. The model says
    connected == recv_q == min(backlog, somaxconn) + 1, somaxconn from ``rec["sysctls"]``.
    """
    if backlog < 0:
        raise ValueError(f"backlog must be >= 0 here; got {backlog}")
    near = nearest_stored_backlog(backlog)
    note = "" if near == backlog else f"; backlog {backlog} is not stored, this is backlog {near}"
    return _measure_or_stored(lambda: loopback.loopback_accept_capacity(backlog),
                              f"loopback_accept_capacity-b{near}", live, note)


def measure_herd(live: bool | None = None) -> dict[str, Any]:
    """``loopback_herd()`` with its defaults on this machine (about 3.3 s), or the stored record:
    backlog 2, 4 waiters, one accept() at 0.5, 1.5 and 2.5 s."""
    return _measure_or_stored(loopback.loopback_herd, "loopback_herd", live)


def is_live(record: dict[str, Any]) -> bool:
    """Whether a record was measured in this session (``source`` "live: ..."), not read from disk."""
    return str(record.get("source", "")).startswith("live:")
