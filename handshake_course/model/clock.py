"""The simulation's clock and event list, kept apart from the kernel model (as SimPy and Mesa keep
theirs): the model says what happens, this says when.

* **Time** is integer microseconds (``US`` per second), so timer arithmetic is exact and ties are
  unambiguous; ``to_us`` converts seconds.
* **Events taken in place.** A handler whose next event would be the first on the list anyway (a
  flood's next SYN, due before anything else) may run it at once instead of pushing it: ``first_at``
  says whether an event at ``t`` would run next, ``took`` accounts for those it ran, with the
  sequence numbers they would have had, so the run is the same as if they had been scheduled.
* **The event list** is a binary heap (heapq) of ``[time, seq, handler, arg]`` entries. ``seq``
  breaks ties in scheduling order, which makes every run reproducible. ``cancel`` blanks an entry's
  handler and ``run`` skips it when it comes up (lazy deletion): how the kernel's ``del_timer`` and
  ``mod_timer`` are modelled, at no cost to the heap.
* **A queue beside the heap.** Events scheduled a fixed delay ahead (every packet's arrival, one
  one-way delay after it was sent) come due in the order they are scheduled, so ``soon`` appends
  them to a FIFO instead of pushing them on the heap; ``run`` takes the earlier of the two heads by
  (time, seq): the same order as one heap, without the heap's work for those events.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

US = 1_000_000
"""Clock ticks per second: the simulation counts microseconds."""
NEVER = 1 << 62
"""A time after every event (about 146,000 years): ``run``'s end when none is set."""

Entry = list[Any]
"""One scheduled event: [time, seq, handler (None once cancelled), arg]."""


def to_us(seconds: float) -> int:
    """Seconds as clock ticks (microseconds), rounded to the nearest."""
    return round(seconds * US)


def to_seconds(us: int | None) -> float | None:
    """Clock ticks as seconds (what a Result shows); None (it never happened) stays None."""
    return None if us is None else us / US


def to_us_all(seconds: Iterable[float]) -> list[int]:
    """``to_us`` of each (a million clients' connect() times)."""
    return [round(s * US) for s in seconds]


class EventList:
    """A clock (``now``) and the events scheduled on it. ``run`` calls each handler at its time,
    in (time, scheduling order), until none is left or the next one is after ``end``."""

    STATE = ("heap", "fifo", "seq", "now", "end", "events", "taken")
    """The attributes it adds; each room of the simulation names its own, kept in slots (simulation._Simulation)."""

    def __init__(self, end: int | None = None) -> None:
        self.heap: list[Entry] = []
        self.fifo: deque[Entry] = deque()  # events in (time, seq) order as scheduled: see ``soon``
        self.seq = 0
        self.now = 0
        self.end = end
        self.events = 0  # handlers called by run(), and events taken in place
        self.taken = 0  # events handlers took in place (``took``)

    def at(self, t: int, fn: Callable[[Any], None], arg: Any = None) -> Entry:
        """Schedule ``fn(arg)`` at time ``t``; the entry returned can be cancelled."""
        self.seq += 1
        entry = [t, self.seq, fn, arg]
        heapq.heappush(self.heap, entry)
        return entry

    def soon(self, t: int, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Schedule ``fn(arg)`` at ``t``, no earlier than any event scheduled with ``soon`` before
        (a fixed delay from now): it joins the FIFO, and cannot be cancelled."""
        self.seq += 1
        self.fifo.append([t, self.seq, fn, arg])

    @staticmethod
    def cancel(entry: Entry | None) -> None:
        """Cancel a scheduled event (None, or an event already run or cancelled, is fine)."""
        if entry is not None:
            entry[2] = None

    def first_at(self, t: int) -> bool:
        """Whether an event scheduled now for ``t`` would be the next to run (nothing else is due
        by then, and ``t`` is within the end), so that its handler may take it in place."""
        heap, fifo = self.heap, self.fifo
        return ((not heap or heap[0][0] > t) and (not fifo or fifo[0][0] > t)
                and (self.end is None or t <= self.end))

    def took(self, t: int, count: int = 1) -> None:
        """A handler took ``count`` events in place, the last at ``t``: the clock moves there, and
        the sequence numbers and event count are what scheduling them would have left."""
        self.seq += count
        self.taken += count
        self.now = t

    def run(self, progress: Callable[[int], None] | None = None, every: int = US) -> None:
        """Call every handler in turn; the clock ends at ``end`` when one is set. With ``progress``,
        the run goes in slices of ``every`` ticks of simulated time and ``progress(now)`` is called
        after each: the order of events is the same, and a run without it pays nothing for it."""
        if progress is None:
            self.events = self._run_until(self.end) + self.taken
        else:
            events = 0
            while (head := self.head()) is not None and (self.end is None or head[0] <= self.end):
                limit = head[0] + every
                events += self._run_until(limit if self.end is None else min(limit, self.end))
                progress(self.now)
            self.events = events + self.taken
        if self.end is not None:
            self.now = self.end

    def head(self) -> Entry | None:
        """The next entry to run (cancelled or not), from the heap or the FIFO."""
        heap, fifo = self.heap, self.fifo
        if fifo and (not heap or fifo[0] < heap[0]):
            return fifo[0]
        return heap[0] if heap else None

    def _run_until(self, end: int | None) -> int:
        """Run the events due up to ``end`` (all of them for None); return how many ran."""
        heap, pop, fifo, popleft = self.heap, heapq.heappop, self.fifo, self.fifo.popleft
        last = NEVER if end is None else end
        events = 0
        while True:
            if fifo and (not heap or fifo[0] < heap[0]):
                entry = fifo[0]
                if entry[0] > last:
                    break
                popleft()
            elif heap:
                entry = heap[0]
                if entry[0] > last:
                    break
                pop(heap)
            else:
                break
            fn = entry[2]
            if fn is None:
                continue
            self.now = entry[0]
            fn(entry[3])
            events += 1
        return events
