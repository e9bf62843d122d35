"""When the kernel really runs a timer armed for `delay` from now.

Kernel timers live on jiffies (HZ ticks per second). A timeout is a whole number of ticks counted
from the tick in progress, which has partly passed already, so a timer can run up to one tick
*before* its delay is over in real time (the 4.8+ wheel adds one tick against that); apart from
that, it runs late:

* ``"jiffies"`` (2.6.32): the timer runs at the first tick at or after its expiry.
* ``"slack"`` (2.6.34 to 4.7, so 3.10): mod_timer's apply_slack() may move a timer at least 256
  ticks away up to delta/256 later, rounding its expiry to fewer significant bits, so timers armed
  close together expire on the same tick (kernel/timer.c).
* ``"wheel"`` (4.8+, so 5.15 and 6.18): the non-cascading timer wheel (kernel/time/timer.c,
  calc_wheel_index). Level n holds timers due in fewer than 63 << 3(n-1) ticks with a granularity
  of 8**n ticks, and an expiry is rounded up to the next multiple of that granularity. At HZ=250 a
  1 s RTO fires 4-32 ms late, a 4 s one up to 256 ms, a 32 s one up to 2 s; all clients waiting
  on timers in one bucket retransmit together, as a herd.
* ``"off"``: the textbook picture; timers fire exactly on time.

Where jiffies stand at the start (how long the machine has been up) is the scenario's ``jiffies``,
or comes from its seed.
"""

from __future__ import annotations

import math
import random

from .clock import US

LVL_CLK_SHIFT = 3
LVL_SIZE = 64
LVL_DEPTH = 9  # HZ > 100


def wheel_granularity_ticks(delta: int) -> int:
    """Ticks: the rounding step of the 4.8+ wheel level a timer due in `delta` ticks lands on."""
    for lvl in range(LVL_DEPTH):
        if lvl == LVL_DEPTH - 1 or delta < _lvl_start(lvl + 1):
            return 1 << (lvl * LVL_CLK_SHIFT)
    raise AssertionError("unreachable")


def ticks(seconds: float, hz: int) -> int:
    """A delay in whole jiffies, rounded up, as msecs_to_jiffies and the kernel's constants give it."""
    return max(0, math.ceil(round(seconds * hz, 6)))


def interval_bounds(delay: float, mode: str, hz: int) -> tuple[float, float]:
    """Seconds: the shortest and longest real time a timer armed for `delay` seconds can take
    under ``mode`` (see the module docstring). The old wheel (``jiffies``, ``slack``) counts the
    tick in progress, so it may run up to one tick early; the 4.8+ wheel adds a tick to prevent
    that (calc_index) and is late by at most its level's granularity."""
    if mode == "off":
        return delay, delay
    tick = 1 / hz
    n = ticks(delay, hz)
    if mode == "wheel":
        return delay, (n + wheel_granularity_ticks(n)) * tick
    slack = n // 256 if mode == "slack" and n >= 256 else 0
    return delay - tick, (n + slack) * tick


def _lvl_start(n: int) -> int:
    return (LVL_SIZE - 1) << ((n - 1) * LVL_CLK_SHIFT)


def wheel_expiry(expires: int, clk: int, shift: int | None = None) -> int:
    """The tick a 4.8+ timer wheel runs a timer due at `expires` when armed at tick `clk`
    (calc_wheel_index / calc_index: round up with the level's granularity, 2**shift ticks)."""
    delta = expires - clk
    if delta < 0:
        return clk
    if shift is None:
        shift = wheel_granularity_ticks(delta).bit_length() - 1
    return ((expires >> shift) + 1) << shift


def slack_expiry(expires: int, clk: int) -> int:
    """apply_slack() (2.6.34-4.7 kernel/timer.c) with the default slack of delta/256."""
    delta = expires - clk
    if delta < 256:
        return expires
    limit = expires + delta // 256
    mask = expires ^ limit
    if mask == 0:
        return expires
    bit = mask.bit_length() - 1
    return limit & ~((1 << bit) - 1)


class TimerBase:
    """Maps a timer's requested delay to the time (in us) the kernel runs it."""

    def __init__(self, mode: str, hz: int, seed: int, jiffies: float | None = None) -> None:
        self.mode = mode
        self.hz = hz
        self.jiffy_us = US // hz
        if jiffies is None:
            rng = random.Random(f"jiffies:{seed}")
            self.phase_us = rng.randrange(self.jiffy_us)  # where in a tick the simulation starts
            self.jiffies0 = rng.randrange(1 << 20)  # jiffies at the start, for the wheel's alignment
        else:
            self.jiffies0 = math.floor(jiffies)
            self.phase_us = min(self.jiffy_us - 1, round((jiffies - self.jiffies0) * self.jiffy_us))
        self.ahead: dict[int, tuple[int, int]] = {}  # delay (us) -> (whole ticks, log2 of the wheel level's granularity)

    def fire_at(self, now_us: int, delay_us: int) -> int:
        if self.mode == "off":
            return now_us + delay_us
        j = self.jiffy_us
        clk = (now_us + self.phase_us) // j + self.jiffies0
        ahead = self.ahead.get(delay_us)
        if ahead is None:
            delta = max(0, (delay_us * self.hz + US - 1) // US)  # whole ticks
            ahead = self.ahead[delay_us] = delta, wheel_granularity_ticks(delta).bit_length() - 1
        delta, shift = ahead
        expires = clk + delta
        if self.mode == "wheel":
            expires = ((expires >> shift) + 1) << shift  # wheel_expiry(expires, clk, shift), as delta >= 0
        elif self.mode == "slack":
            expires = slack_expiry(expires, clk)
        if expires == clk:  # armed for now (a delayed ACK with ato 0): the old wheel runs it at the next tick
            expires += 1
        return (expires - self.jiffies0) * j - self.phase_us

    def elapsed_us(self, start_us: int, now_us: int) -> int:
        """Time between two moments as the kernel's tick-based time stamps see it."""
        if self.mode == "off":
            return now_us - start_us
        j = self.jiffy_us
        return ((now_us + self.phase_us) // j - (start_us + self.phase_us) // j) * j
