"""Several simulations at once, one per worker process: a dashboard that compares kernels (lesson 8's
thirteen profiles, lesson 6's versions) waits for its slowest run instead of the sum of its runs.
Beside the model, not in the dashboards: a worker imports only this module and the model (30 ms),
not the widgets and matplotlib the dashboards package brings (half a second).

Processes, not threads: the model is pure Python, and one interpreter runs one thread at a time. The
workers are started once per Python process, on the first update that needs them, with "spawn" (a
Jupyter kernel runs threads, and forking a process that has threads is unsafe); there are as many as
the CPUs this process may use (its CPU set and its container's CPU quota), at most ``MAX_WORKERS``,
or as the ``HANDSHAKE_COURSE_WORKERS`` environment variable says (0 or 1: none). A Scenario goes out
and its Result comes back pickled (about 3 ms for 3,000 clients, against 60 ms of simulating them).
Results are the same either way: the model is deterministic, seeded by the scenario.

A worker ignores SIGINT (Jupyter's "Interrupt" signals the kernel's whole process group: stopping is
the kernel's business) and exits when its parent does (a kernel killed by the out-of-memory killer
leaves no worker behind). Workers are used from an interactive session - a Jupyter kernel, whose
``__main__`` is no file - or where ``HANDSHAKE_COURSE_WORKERS`` asks for them: "spawn" runs a
script's top level again in every worker, which only a script guarded by ``if __name__ ==
"__main__"`` survives.

Runs are made here, one after another, when there is one run, one CPU, or no way to start processes
(Pyodide in JupyterLite, a sandbox that forbids them: then processes are not tried again); a pool
that broke (a worker killed) is started afresh on the next update, ``MAX_BREAKS`` times at most.
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from pathlib import Path
from typing import Any

from .model import Result, Scenario, simulate
from .model.simulation import Progress

MAX_WORKERS = 8
"""Worker processes at most (each holds a Python with the model: 25 to 40 MB)."""
MAX_BREAKS = 2
"""Pools that may break (a worker killed) before runs stay in this process for good."""
ENV = "HANDSHAKE_COURSE_WORKERS"
"""Environment variable: the number of worker processes (0 or 1: simulate in this process)."""
CGROUP = Path("/sys/fs/cgroup")
"""Where Linux shows this process's control groups (a container's CPU quota)."""
POLL = 0.25
"""Seconds between two progress reports while the runs are in workers."""

_pool: Executor | None = None
_breaks = 0
_unavailable = False  # processes cannot be started here: simulate in this process from now on


def worker_count(cgroup: Path = CGROUP) -> int:
    """Worker processes to use: ``HANDSHAKE_COURSE_WORKERS`` if set; none from a script (a
    ``__main__`` with a file, which spawn would run again); else the CPUs this process may run on
    (its affinity mask, as a container's CPU set, and its container's CPU quota, rounded up: a Binder
    pod sees the host's CPUs but may use one or two), at most MAX_WORKERS."""
    setting = os.environ.get(ENV, "").strip()
    if setting:
        try:
            return max(0, int(setting))
        except ValueError:
            raise ValueError(f"{ENV} must be a whole number of worker processes (0 or 1: none); "
                             f"got {setting!r}") from None
    if getattr(sys.modules.get("__main__"), "__file__", None) is not None:
        return 1
    return cpu_workers(cgroup)


def cpu_workers(cgroup: Path = CGROUP) -> int:
    """One worker per CPU this process may use, at most MAX_WORKERS: what a Jupyter kernel gets."""
    cpus = usable_cpus()
    quota = cpu_quota(cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return min(cpus, MAX_WORKERS)


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the system has one."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_quota(cgroup: Path = CGROUP) -> float | None:
    """The CPUs a container's CFS quota allows (cgroup v2 ``cpu.max``, v1 ``cpu/cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``), or None where there is none."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" or int(period) <= 0 else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def simulate_many(scenarios: Sequence[Scenario],
                  progress: Callable[[int, int], Progress] | None = None) -> list[Result]:
    """``simulate`` of each scenario, in worker processes when there are two or more runs and
    workers to run them. ``progress(i, n)`` gives the progress callback of the i-th of n runs (as
    ``UpdateProgress.callback``): here a run reports as it goes; in workers, the share of runs
    ended is reported every POLL seconds."""
    count = worker_count()
    if len(scenarios) < 2 or count < 2 or _unavailable:
        return _one_by_one(scenarios, progress)
    pool = _start(count)
    if pool is None:
        return _one_by_one(scenarios, progress)
    try:
        return _in_workers(pool, scenarios, progress)
    except (BrokenExecutor, OSError):  # a worker could not start, or was killed (out of memory, say)
        _broke()
        return _one_by_one(scenarios, progress)


def _in_workers(pool: Executor, scenarios: Sequence[Scenario],
                progress: Callable[[int, int], Progress] | None) -> list[Result]:
    runs = len(scenarios)
    futures: dict[Future[Result], int] = {pool.submit(simulate, s): i for i, s in enumerate(scenarios)}
    results: list[Any] = [None] * runs
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            for future in done:
                results[futures[future]] = future.result()  # the model's ValueError reaches the dashboard
            if progress is not None:
                ended = runs - len(pending)
                progress(min(ended, runs - 1), runs)(1.0 if ended == runs else 0.0, 1.0)
    finally:  # an error, or an interrupt: the runs not started yet are not made
        for future in pending:
            future.cancel()
    return results


def _one_by_one(scenarios: Sequence[Scenario], progress: Callable[[int, int], Progress] | None) -> list[Result]:
    return [simulate(s, progress=None if progress is None else progress(i, len(scenarios)))
            for i, s in enumerate(scenarios)]


def _start(count: int) -> Executor | None:
    """The pool of ``count`` workers, started on first use; None where processes cannot be made."""
    global _pool, _unavailable
    if _pool is None:
        try:
            _pool = _make_pool(count)
        except (OSError, NotImplementedError, ImportError, ValueError):  # no processes here (Pyodide...)
            _unavailable = True
            return None
        # stopped while Python still has its modules: a pool left to the interpreter's final cleanup
        # reports "Exception ignored ... 'NoneType' object has no attribute 'util'" on the way out
        atexit.register(shutdown)
    return _pool


def _make_pool(count: int) -> Executor:
    """``count`` worker processes, spawned. Imported here: a Python without processes (Pyodide) may
    lack what the pool needs, and then the dashboards simulate in their own process."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_started)


def _worker_started() -> None:
    """In each worker, first: SIGINT ignored, and a thread that ends the worker when its parent ends."""
    import multiprocessing

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="exit-with-parent", daemon=True).start()


def _exit_with(parent: Any) -> None:
    parent.join()  # returns once the parent process has ended
    os._exit(0)


def _broke() -> None:
    """The pool broke: drop it; the next update starts another, unless MAX_BREAKS pools broke."""
    global _pool, _breaks, _unavailable
    _breaks += 1
    _unavailable = _breaks >= MAX_BREAKS
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def shutdown() -> None:
    """Stop the workers (they also stop when this Python exits); the next update starts them again."""
    global _pool
    if _pool is not None:
        _pool.shutdown()
        _pool = None
