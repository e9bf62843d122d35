"""Run every lab experiment once and store the records as JSON, by default in the package's
``handshake_course/lab/measurements/`` (see ``lab.store``).

    sudo python3 -m handshake_course.lab.record                    # everything (~1 min)
    python3 -m handshake_course.lab.record --only loopback         # no root needed
    python3 -m handshake_course.lab.record /tmp/mine --only herd   # somewhere else

The stored records are what tests/test_lab_fixtures.py holds the model to on every test run, on
any machine, and what lesson 10 shows where it cannot measure. Re-record them when the kernel under
test changes; the file names stay the same. An experiment that captures packets also leaves its
capture beside its record, ``<name>.pcap`` (``lab.pcapfile``; needs dpkt, the ``capture`` extra,
without which only the JSON is written and a line says why), which ``handshake_course.capture.read``
reads back and tests/test_lab_captures.py holds to the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import experiments, loopback, pcapfile
from .bench import Measurement
from .host import privileged_reason
from .netns import cleanup_stale
from .store import MEASUREMENTS

LOOPBACK_BACKLOGS = tuple(range(17))
"""The backlogs of the stored loopback_accept_capacity records: every value of lesson 10's slider,
so that its stored fallback has a measurement for each."""


def loopback_runs() -> dict[str, Callable[[], dict[str, Any]]]:
    """The unprivileged experiments, by fixture name."""
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        f"loopback_accept_capacity-b{b}": (lambda b=b: loopback.loopback_accept_capacity(b))
        for b in LOOPBACK_BACKLOGS
    }
    runs["loopback_herd"] = loopback.loopback_herd
    return runs


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with one key per line and every list of plain values on one line: small, diffable."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = [f'{pad} {json.dumps(str(k))}: {dumps(v, indent + 1).lstrip()}' for k, v in value.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return pad + "[\n" + ",\n".join(dumps(v, indent + 1) for v in value) + "\n" + pad + "]"
    return pad + json.dumps(value)


def save(directory: Path, name: str, record: dict[str, Any]) -> list[Path]:
    """Write `record` as ``<name>.json`` and, if it carries the frames its capture saw (a
    ``Measurement``) and dpkt is installed, those as ``<name>.pcap``; return the paths written. A
    pcap file left by an earlier run of the same name is removed when this run writes none, so a
    pcap file beside a record always comes from the same run."""
    path = directory / f"{name}.json"
    path.write_text(dumps(record) + "\n")
    pcap = directory / f"{name}.pcap"
    frames = record.frames if isinstance(record, Measurement) else None
    if frames is None or pcapfile.missing() is not None:
        pcap.unlink(missing_ok=True)
        return [path]
    pcapfile.write(pcap, frames)
    return [path, pcap]


def load_all(directory: Path) -> dict[str, dict[str, Any]]:
    """Every fixture in `directory`, by name (file name without .json)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="?", default=MEASUREMENTS,
                        help=f"where to write the records (default: {MEASUREMENTS})")
    parser.add_argument("--only", default=None, help="regular expression on fixture names, or 'loopback'")
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    wanted = re.compile(args.only) if args.only else None

    def select(name: str) -> bool:
        return wanted is None or bool(wanted.search(name))

    started = time.monotonic()
    records: dict[str, dict[str, Any]] = {}
    for name, run in loopback_runs().items():
        if select(name):
            records[name] = run()
    reason = privileged_reason()
    if reason is None:
        cleanup_stale()
        records.update(experiments.run_all(select))
    else:
        print(f"skipping the privileged experiments: {reason}", file=sys.stderr)
    no_pcap = pcapfile.missing()
    if no_pcap is not None and any(isinstance(r, Measurement) and r.frames for r in records.values()):
        print(f"writing the records without their pcap files: {no_pcap}", file=sys.stderr)
    for name, rec in records.items():
        for path in save(args.directory, name, rec):
            print(path)
    print(f"{len(records)} records in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
