"""Every kernel function and counter the course shows a version exists in that version's source.

The reference is handshake_course/model/kernel_index.json, read off the kernel trees (2.6.32.2,
3.10.108, 5.15.55, 6.18.24) by tools/build_kernel_index.py: the file and line of each function's
definition, and of each counter in net/ipv4/proc.c. Held to it here: the function path of every
action of the trace, the counters each version's actions bump, the elixir.bootlin.com links of the
lessons' and exercises' source tables, and the counters the lessons' tables say a version has.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from handshake_course.model import VERSIONS, Kernel, kernel_index
from handshake_course.model.actions import actions_for
from handshake_course.model.kernels import RECORDS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("exercises/source/*/*.ipynb"))
ELIXIR = re.compile(r"https://elixir\.bootlin\.com/linux/v([0-9.]+)/A/ident/([A-Za-z0-9_]+)")
TICKED = re.compile(r"`([A-Za-z][A-Za-z0-9]+)`")


def markdown(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_the_index_is_of_the_modelled_releases():
    releases = {v: kernel_index.index()[v]["release"] for v in VERSIONS}
    assert releases == {v: r.release for v, r in RECORDS.items()}  # the trees the records were read from
    for version in VERSIONS:
        assert kernel_index.definition(version, "tcp_v4_syn_recv_sock").startswith("net/ipv4/tcp_ipv4.c:")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_function_of_the_trace_exists_in_that_release(version):
    missing = {(a.name, f) for a in actions_for(Kernel(version)) for f in a.path
               if kernel_index.definition(version, f) is None}
    assert not missing, f"Linux {version} has no such function: {sorted(missing)}"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_counter_a_release_bumps_exists_there(version):
    bumped = {c for a in actions_for(Kernel(version)) for c in a.counters}
    assert bumped and not {c for c in bumped if kernel_index.counter_site(version, c) is None}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_links_name_functions_of_that_release(path):
    links = ELIXIR.findall(markdown(path))
    wrong = sorted({(v, f) for v, f in links if kernel_index.definition(v, f) is None})
    assert not wrong, f"{path.name} links to functions that release does not have: {wrong}"


def counter(name: str) -> str | None:
    """The nstat name of a counter as a lesson writes it (`ListenDrops`, `TcpExtListenDrops`), or None."""
    for full in (name, f"TcpExt{name}", f"Tcp{name}"):
        if any(kernel_index.counter_site(v, full) for v in VERSIONS):
            return full
    return None


def claimed_versions(cell: str) -> tuple[str, ...]:
    """The versions a table's "versions" cell claims: "all ..." is every one; else those it names."""
    if cell.strip().lower().startswith("all"):
        return VERSIONS
    return tuple(v for v in VERSIONS if re.search(rf"(?<![0-9.]){re.escape(v)}(?![0-9])", cell.split("(")[0]))


@pytest.mark.parametrize("path", sorted(ROOT.glob("notebooks/*.ipynb")), ids=lambda p: p.stem)
def test_counters_exist_in_the_versions_a_table_claims(path):
    problems = []
    for table in re.findall(r"(?:^\|.*\|\n)+", markdown(path), re.M):
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.strip().splitlines()]
        if "versions" not in rows[0]:
            continue
        column = rows[0].index("versions")
        for row in rows[2:]:
            names = [n for n in (counter(t) for t in TICKED.findall(" ".join(row[:column]))) if n]
            problems += [(row[0], n, v) for n in names for v in claimed_versions(row[column])
                         if kernel_index.counter_site(v, n) is None]
    assert not problems, f"{path.name}: counters claimed for versions that lack them: {problems}"
