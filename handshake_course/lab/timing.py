"""How late real kernel timers fire, and how much slack a comparison with the model must allow.

The model's timers fire exactly on time (unless its ``timer_wheel`` switch is on). The kernel's
fire on jiffies, through the 4.8+ timer wheel (kernel/time/timer.c, calc_wheel_index): a timer due
in d jiffies goes to level n, the first with d < 63 << 3(n-1), and its expiry is rounded *up* to
the next multiple of that level's granularity, 8**n jiffies. At HZ=250:

| delay | level | granularity | a timer fires late by |
|---|---|---|---|
| < 252 ms | 0 | 4 ms | 0-4 ms |
| < 2.016 s (1 s, 2 s RTOs) | 1 | 32 ms | 0-36 ms |
| < 16.128 s (4 s, 8 s) | 2 | 256 ms | 0-260 ms |
| < 129 s (16 s ... 64 s) | 3 | 2.048 s | 0-2.05 s |

A retransmission timer is re-armed from the moment it fired, so lateness adds up along a
schedule: compare intervals between consecutive sends, each against ``interval_bounds``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from ..model import timers

HZ = 250
SLACK = 0.010
"""Seconds allowed on top of the wheel's rounding: softirq and capture time stamping delay. On a quiet
machine it stays under 3 ms; on a busy one (CI: the test suite on every core beside the live lab) a
resent request's 400 ms timer came later than the wheel's rounding and 3 ms allow, so 10 ms."""


def jiffies(seconds: float, hz: int = HZ) -> int:
    """A delay in whole jiffies, as msecs_to_jiffies / the kernel's constants give it."""
    return timers.ticks(seconds, hz)


def wheel_granularity(delay: float, hz: int = HZ) -> float:
    """Seconds: the rounding step of the level a timer due in `delay` seconds is queued on."""
    return timers.wheel_granularity_ticks(jiffies(delay, hz)) / hz


def interval_bounds(ideal: float, hz: int = HZ) -> tuple[float, float]:
    """The range a real interval between two timer-driven sends can take when the model says
    `ideal` seconds: the wheel's own range (``model.timers.interval_bounds``), widened by a jiffy
    on each side for the two packets' time stamps and by SLACK for softirq delay."""
    lo, hi = timers.interval_bounds(ideal, "wheel", hz)
    return lo - 1 / hz, hi + 1 / hz + SLACK


def within(measured: float, ideal: float, hz: int = HZ) -> bool:
    lo, hi = interval_bounds(ideal, hz)
    return lo <= measured <= hi


def intervals(times: Sequence[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


def lateness(measured: Sequence[float], ideal: Sequence[float]) -> list[tuple[float, float]]:
    """(ideal interval, how late the real one was) for each pair of consecutive sends."""
    return [(round(i, 3), m - i) for m, i in zip(intervals(measured), intervals(ideal), strict=False)]


def summarize(samples: Iterable[tuple[float, float]], hz: int = HZ) -> dict[str, dict[str, Any]]:
    """Lateness per ideal delay: count, min / median / max in ms, and the wheel's bound."""
    by_delay: dict[float, list[float]] = {}
    for delay, late in samples:
        by_delay.setdefault(delay, []).append(late)
    out = {}
    for delay in sorted(by_delay):
        values = sorted(by_delay[delay])
        out[f"{delay:g}"] = {
            "n": len(values),
            "min_ms": round(values[0] * 1000, 2),
            "median_ms": round(statistics.median(values) * 1000, 2),
            "max_ms": round(values[-1] * 1000, 2),
            "wheel_bound_ms": round((wheel_granularity(delay, hz) + 1 / hz) * 1000, 1),
        }
    return out
