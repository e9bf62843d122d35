"""Which kernel sent a capture's SYNs: the SYN retransmission schedules of the modelled kernels,
grouped (``syn_schedules``: 3 s initial RTO on 2.6.32, exponential from 1 s on 3.10 to 6.1, linear
timeouts on 6.6+), and the intervals of captured SYNs fitted against each profile's own closed form
(``model.rules.syn_schedule``) with its timers' lateness (``Schedule.window``). Nothing here states
a schedule: a new kernel record brings its own. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..model import VERSIONS, Kernel, syn_schedule

JITTER = 0.1
"""Seconds a retransmission may stray from a profile's timer window and still fit its schedule: the
network's delay varies between packets seen at the server, and kernels built with HZ=100 fire a 1 s
timer up to 80 ms late where the profiles (HZ=250) say 32 ms. Schedules differ by whole seconds."""


@dataclass(frozen=True)
class SynSchedule:
    """One SYN retransmission schedule and the modelled kernels that have it (by default)."""

    key: str  # "exponential_3s", "exponential_1s", "linear_1s": how the RTO grows, and from what
    description: str
    versions: tuple[str, ...]
    send_times: tuple[float, ...]  # the closed form's, timers on time


def _describe(send_times: tuple[float, ...], versions: tuple[str, ...]) -> tuple[str, str]:
    """A schedule's key and its description, from its intervals: how many first intervals keep the
    initial RTO (more than one: linear timeouts), and what that RTO is."""
    gaps = [round(b - a, 6) for a, b in zip(send_times, send_times[1:], strict=False)]
    base = gaps[0] if gaps else 0.0
    run = next((i for i, g in enumerate(gaps) if g != base), len(gaps))
    times = ", ".join(f"{t:g}" for t in send_times[:7]) + (", ..." if len(send_times) > 7 else "")
    span = versions[0] if len(versions) == 1 else f"{versions[0]} to {versions[-1]}"
    if run > 1:
        return (f"linear_{base:g}s", f"linear timeouts: {run} retransmissions {base:g} s apart, then doubling "
                                     f"(SYNs at {times} s; Linux {span} of the modelled kernels)")
    return (f"exponential_{base:g}s", f"exponential backoff from a {base:g} s initial RTO "
                                      f"(SYNs at {times} s; Linux {span} of the modelled kernels)")


@lru_cache(maxsize=1)
def syn_schedules() -> tuple[SynSchedule, ...]:
    """The modelled kernels grouped by their default SYN schedule (``syn_schedule``), oldest first."""
    groups: dict[tuple[float, ...], list[str]] = {}
    for v in VERSIONS:
        groups.setdefault(syn_schedule(Kernel(v, timer_wheel="off")).send_times, []).append(v)
    out = []
    for times, versions in groups.items():
        key, text = _describe(times, tuple(versions))
        out.append(SynSchedule(key, text, tuple(versions), times))
    return tuple(out)


def schedule_of(version: str) -> SynSchedule:
    """The SynSchedule a modelled kernel has."""
    return next(s for s in syn_schedules() if version in s.versions)


@lru_cache(maxsize=64)
def _windows(version: str) -> tuple[tuple[float, float], ...]:
    """Earliest and latest time of each SYN of the version's schedule, its timers' lateness included."""
    sched = syn_schedule(Kernel(version))
    return tuple(sched.window(t) for t in sched.send_times)


def fits(version: str, offsets: Sequence[float], every_syn: bool) -> bool:
    """Whether SYNs seen at ``offsets`` (seconds after the first one seen, which is taken for the
    first one sent) can be the version's schedule. ``every_syn`` (a capture on the client host):
    they are its first SYNs, in order; otherwise (seen on the way or at the server) some may have
    been lost, so they are any of its SYNs, in order."""
    win = _windows(version)
    m = 0
    for i, o in enumerate(offsets[1:], start=1):
        later = [i] if every_syn else range(m + 1, len(win))
        m = next((k for k in later if k < len(win) and win[k][0] - JITTER <= o <= win[k][1] + JITTER), -1)
        if m < 0:
            return False
    return True


@dataclass(frozen=True)
class ScheduleFit:
    """Which modelled kernels' SYN schedules fit the retransmitting attempts of a capture."""

    attempts: int  # attempts that sent their SYN more than once
    fitted: dict[str, int]  # version -> attempts whose SYN times fit its schedule
    profiles: tuple[str, ...]  # the versions that fit every one of them
    schedules: tuple[str, ...]  # the SynSchedule keys of those versions

    @property
    def best(self) -> tuple[str, ...]:
        """The versions that fit the most attempts (all versions when none retransmitted)."""
        most = max(self.fitted.values(), default=0)
        return tuple(v for v in VERSIONS if self.fitted.get(v, 0) == most)


def fit_syn_times(attempts: Sequence[Sequence[float]], every_syn: bool) -> ScheduleFit:
    """Fit the SYN times of each attempt that sent more than one against every modelled kernel's
    schedule (``fits``)."""
    tried = [tuple(t - times[0] for t in times) for times in attempts if len(times) > 1]
    fitted = {v: sum(fits(v, offsets, every_syn) for offsets in tried) for v in VERSIONS}
    profiles = tuple(v for v in VERSIONS if tried and fitted[v] == len(tried))
    schedules = tuple(dict.fromkeys(schedule_of(v).key for v in profiles))
    return ScheduleFit(len(tried), fitted, profiles, schedules)
