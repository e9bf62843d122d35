"""Numbers read off a Result, with one definition each, for every reader (views, dashboards, the
command line, the grader, the lessons).

Percentiles are **nearest-rank**: the q-quantile of n sorted values is the value at rank ceil(q * n),
so it is a latency some client really saw. Connect latencies come in steps (1 s, 3 s, 7 s...), and
an interpolated median of [2 ms, 2 ms, 1.002 s, 1.002 s] would be 502 ms, a latency nobody saw.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1) of ``values``, None when there are none."""
    if not 0 < q <= 1:
        raise ValueError(f"q must be more than 0 and at most 1; got {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
