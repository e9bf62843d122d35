"""SYN floods against a listener, as lesson 7 measures them: the share of legitimate clients that
still connect, and their latency, at each attack rate and kernel setting.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import Kernel, Result, Scenario, simulate
from .latency import percentile

DURATION = 10.0


def legit_success(result: Result) -> float:
    """The share of the legitimate clients whose connect() succeeded."""
    n = len(result.clients)
    return result.connected() / n if n else 0.0


def flood_scenario(kernel: Kernel, flood: float, backlog: int, legit_rate: float,
                   duration: float = DURATION) -> Scenario:
    """A flood of `flood` spoofed SYN/s for `duration` s, and legitimate clients arriving at
    `legit_rate` per second from 0.5 s on; the application accepts at once."""
    n = max(1, int(legit_rate * (duration - 1.0)))
    return Scenario(kernel=kernel, backlog=backlog, clients=[0.5 + i / legit_rate for i in range(n)],
                    accept=100_000.0, rtt=0.02, flood=flood, duration=duration, seed=1)


def flood_sweep(rates: list[float], kernels: dict[str, Kernel], backlog: int = 128, legit_rate: float = 20.0,
                duration: float = 5.0, progress: Callable[[int, int], None] | None = None,
                ) -> dict[str, list[tuple[float, float, float | None]]]:
    """For each labelled kernel, (flood rate, share of legitimate clients connected, their p99 connect
    latency in s or None, nearest rank) at each flood rate: the data of a success-rate-versus-attack-rate plot.

    ``progress(done, total)``, if given, is called after each point (each kernel at each rate), with
    the points done so far and the number of points: what a progress bar (tqdm's ``update``, an
    ipywidgets bar) needs for a long sweep. It does not change the result."""
    out: dict[str, list[tuple[float, float, float | None]]] = {}
    total, done = len(kernels) * len(rates), 0
    for label, kernel in kernels.items():
        rows = []
        for rate in rates:
            r = simulate(flood_scenario(kernel, rate, backlog, legit_rate, duration))
            rows.append((rate, legit_success(r), percentile(r.latencies(), 0.99)))
            done += 1
            if progress is not None:
                progress(done, total)
        out[label] = rows
    return out
