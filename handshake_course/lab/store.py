"""Measurements stored with the package, for machines where the lab cannot measure.

``handshake_course/lab/measurements/*.json`` are records of every lab experiment, taken by
``python -m handshake_course.lab.record`` on Linux 6.18.44 (HZ=250). The tests hold the model to
them on every run, and lesson 10 shows them where it cannot measure (macOS, Windows, a sandbox
without sockets). Each record of an experiment that captured packets has its capture beside it,
``<name>.pcap`` (``stored_pcap``), which ``handshake_course.capture.read`` reads back and Wireshark
opens::

    from handshake_course import lab
    rec = lab.stored("loopback_accept_capacity-b7")
    rec["source"]          # "stored: Linux 6.18.44-fc-v669"
    lab.stored_names()     # every stored record, e.g. "herd", "loopback_herd", "syn_queue-b8-m2048"
    lab.stored_pcap("herd")  # .../measurements/herd.pcap (None for the loopback records: no capture)

Each call returns a fresh copy, so a caller may change it. ``source`` is the only key added to what
the file holds; ``kernel`` is the release the record was measured on.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

MEASUREMENTS = Path(__file__).resolve().parent / "measurements"
"""The folder of the stored records (package data)."""


def source_text(kind: str, release: str) -> str:
    """How a record says where it came from: "live: Linux <release>" or "stored: Linux <release>"."""
    return f"{kind}: Linux {release}"


@cache
def _load(name: str) -> dict[str, Any]:
    path = MEASUREMENTS / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no stored measurement {name!r}; stored: {', '.join(stored_names())}")
    return json.loads(path.read_text(encoding="utf-8"))


def stored_names() -> list[str]:
    """The names of the stored records (file names without .json), sorted."""
    return sorted(p.stem for p in MEASUREMENTS.glob("*.json"))


def stored_pcap(name: str) -> Path | None:
    """The pcap file recorded with the stored record `name` (same run), or None if its experiment
    captured no packets (the unprivileged ``loopback_*`` ones, which cannot). Raises KeyError for a
    name that is not stored."""
    _load(name)
    path = MEASUREMENTS / f"{name}.pcap"
    return path if path.is_file() else None


def stored(name: str) -> dict[str, Any]:
    """The stored record `name` (e.g. "loopback_herd"), with ``source`` = "stored: Linux <release>".
    Raises KeyError for a name that is not stored."""
    rec = copy.deepcopy(_load(name))
    rec["source"] = source_text("stored", rec["kernel"])
    return rec


def stored_records(prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every stored record whose name starts with `prefix`, by name (see ``stored``)."""
    return {name: stored(name) for name in stored_names() if name.startswith(prefix)}


def stored_release() -> str:
    """The kernel release the stored loopback records were measured on."""
    return str(_load("loopback_herd")["kernel"])


def stored_accept_capacity_backlogs() -> list[int]:
    """The backlogs with a stored loopback_accept_capacity record, ascending."""
    prefix = "loopback_accept_capacity-b"
    return sorted(int(n[len(prefix):]) for n in stored_names() if n.startswith(prefix))
