"""Connect latencies read off a Result: percentiles and the summary every reader shows.

Percentiles are **nearest-rank**: the q-quantile of n sorted values is the value at rank ceil(q * n),
so it is a latency some client really saw. Connect latencies come in steps (1 s, 3 s, 7 s...), and
an interpolated median of [2 ms, 2 ms, 1.002 s, 1.002 s] would be 502 ms, a latency nobody saw.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..model.result import OUTCOMES
from ..text.seconds import format_seconds

if TYPE_CHECKING:
    from ..model import Result


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1) of ``values``, None when there are none."""
    if not 0 < q <= 1:
        raise ValueError(f"q must be more than 0 and at most 1; got {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class LatencySummary:
    """Connect latencies of one result: counts per outcome and min / median / p99 / max (s); the
    median and p99 are nearest-rank percentiles (``analysis.percentile``)."""

    clients: int
    connected: int
    outcomes: dict[str, int]
    min: float | None
    median: float | None
    p99: float | None
    max: float | None

    @property
    def never(self) -> int:
        """Clients whose connect() never succeeded (failed, or still trying at the end)."""
        return self.clients - self.connected

    def as_dict(self) -> dict[str, object]:
        return {"clients": self.clients, "connected": self.connected, "never_connected": self.never,
                "outcomes": dict(self.outcomes), "min": self.min, "median": self.median, "p99": self.p99,
                "max": self.max}

    def lines(self) -> list[str]:
        """The summary as text: one line of outcome counts, one of latencies."""
        counts = ", ".join(f"{name} {n}" for name, n in self.outcomes.items())
        head = f"outcomes ({self.clients} clients): {counts or 'none'}"
        if self.min is None:
            return [head, "connect latency: no client connected"]
        assert self.median is not None and self.p99 is not None and self.max is not None
        return [head, f"connect latency ({self.connected} connected): min {format_seconds(self.min)}, "
                      f"median {format_seconds(self.median)}, p99 {format_seconds(self.p99)} (nearest rank), "
                      f"max {format_seconds(self.max)}"]


def latency_summary(result: Result) -> LatencySummary:
    """Count the outcomes (in OUTCOMES order, zeros left out) and summarise the latencies; median
    and p99 by nearest rank (``analysis.percentile``): latencies some client really saw."""
    counts = result.outcomes()
    outcomes = {name: counts[name] for name in OUTCOMES if counts[name]}
    lat = sorted(result.latencies())
    if not lat:
        return LatencySummary(len(result.clients), 0, outcomes, None, None, None, None)
    return LatencySummary(len(result.clients), len(lat), outcomes, lat[0], percentile(lat, 0.5),
                          percentile(lat, 0.99), lat[-1])
