"""Simulations remembered per scenario, for the dashboards: a slider moved back to a value it had, a
toggle flipped back, or a lesson's second dashboard on the same scenario shows the result at once
instead of simulating it again.

A ``Scenario`` is a frozen dataclass (its kernel, client times and accept times hashable too), and
the same scenario always gives the same result, so the scenario is the whole key. The cache is
shared by every dashboard of the process and bounded three times: by the number of results, by their
total kernel events (a result costs about 50 to 110 bytes per event), so that a learner sweeping a
flood slider does not hold gigabytes, and by their client records, the objects Python's cyclic
garbage collector walks on each full collection (about 0.3 ms per 1,000), so that its pauses stay
short however long a learner plays; the newest result is always kept. Results are read, never
changed, by the views and dashboards, so handing the same one out twice is safe.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from .. import workers
from ..model import Result, Scenario, simulate
from ..model.simulation import Progress

MAX_RESULTS = 48
MAX_EVENTS = 1_500_000
MAX_CLIENTS = 60_000
"""Bounds of the cache: at most this many results, of at most this many kernel events together
(about 100 MB) and this many client records together (a full collection walks them: about 20 ms);
the least recently used go first."""

_results: OrderedDict[Scenario, Result] = OrderedDict()


def simulated(scenario: Scenario, progress: Progress | None = None) -> Result:
    """``simulate(scenario)``, or the result of an earlier call with an equal scenario.
    ``progress`` is passed on when the scenario has to be simulated (a remembered one needs none)."""
    result = _results.get(scenario)
    if result is not None:
        _results.move_to_end(scenario)
        return result
    result = simulate(scenario, progress=progress)  # with the cyclic collector paused (model.simulation)
    _results[scenario] = result
    _trim()
    return result


def simulated_all(scenarios: Sequence[Scenario],
                  progress: Callable[[int, int], Progress] | None = None) -> list[Result]:
    """``simulated`` of each scenario; those not remembered are simulated together, side by side in
    worker processes where there are several (``workers.simulate_many``). ``progress(i, n)`` gives
    the progress callback of the i-th of the n runs made."""
    todo = list(dict.fromkeys(s for s in scenarios if s not in _results))  # each new scenario once
    if len(todo) == 1:
        simulated(todo[0], None if progress is None else progress(0, 1))
    elif todo:
        for scenario, result in zip(todo, workers.simulate_many(todo, progress), strict=True):
            _results[scenario] = result
    results = [simulated(s) for s in scenarios]  # each remembered now: marked as just used
    _trim()
    return results


def _trim() -> None:
    """Forget the least recently used results beyond the bounds, never the newest."""
    events = sum(r.events for r in _results.values())
    clients = sum(len(r.clients) for r in _results.values())
    while len(_results) > 1 and (len(_results) > MAX_RESULTS or events > MAX_EVENTS or clients > MAX_CLIENTS):
        _, oldest = _results.popitem(last=False)
        events -= oldest.events
        clients -= len(oldest.clients)


def clear() -> None:
    """Forget every remembered result (the benchmark does, to time new control states)."""
    _results.clear()


def size() -> tuple[int, int]:
    """(results remembered, their kernel events together)."""
    return len(_results), sum(r.events for r in _results.values())
