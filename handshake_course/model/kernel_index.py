"""Which kernel functions and nstat counters exist in each modelled release, and where.

``kernel_index.json`` is read off the kernel source trees themselves (``tools/build_kernel_index.py``
names the trees): for every function the model's trace paths or the lessons name, the file and line
of its definition in that release, or its absence, stated; for every counter, the line of
``net/ipv4/proc.c`` that shows it in ``/proc/net/netstat`` or ``/proc/net/snmp``, or its absence. The
trace's paths, the lessons' source tables and the counters each version bumps are held to it by
tests/test_kernel_index.py, so no version is shown a function or counter it does not have.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def index() -> dict[str, dict[str, Any]]:
    """version -> {"release", "tree", "functions", "absent_functions", "counters", "absent_counters"}."""
    text = resources.files(__package__).joinpath("kernel_index.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def definition(version: str, function: str) -> str | None:
    """'path:line' of ``function`` in that release's source, None where it does not exist."""
    return index()[version]["functions"].get(function)


def counter_site(version: str, counter: str) -> str | None:
    """'net/ipv4/proc.c:line' where that release shows ``counter`` (an nstat name), None if it has none."""
    return index()[version]["counters"].get(counter)
