"""Dashboards that compare kernels simulate them side by side in worker processes
(handshake_course.workers): the results are those of this process, the progress bar ends
full, and where processes cannot be had the runs are made here, as before."""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handshake_course import Kernel, Scenario, simulate, workers
from handshake_course.dashboards import memo
from handshake_course.dashboards.time_machine import timemachine_app

SCENARIOS = [Scenario(kernel=Kernel(v), backlog=4, clients=[i * 0.01 for i in range(40)], accept=10.0, loss=0.05,
                      seed=3) for v in ("2.6.32", "3.10", "5.15", "6.18")]


@pytest.fixture(autouse=True)
def fresh_workers(monkeypatch):
    """No pool and no earlier failure before each test; the pool stopped after it."""
    monkeypatch.setattr(workers, "_pool", None)
    monkeypatch.setattr(workers, "_breaks", 0)
    monkeypatch.setattr(workers, "_unavailable", False)
    monkeypatch.delenv(workers.ENV, raising=False)
    yield
    workers.shutdown()


def same(a, b) -> bool:
    return (a.scenario == b.scenario and a.clients == b.clients and list(a.packets) == list(b.packets)
            and list(a.trace) == list(b.trace) and a.counters == b.counters and a.events == b.events)


def fractions():
    """A progress factory as UpdateProgress.callback, and the fractions of all runs it was told."""
    told: list[float] = []

    def callback(index: int, runs: int):
        return lambda done, total: told.append((index + done / total) / runs)

    return callback, told


def test_runs_made_in_workers_are_those_made_here_and_the_bar_ends_full(monkeypatch):
    monkeypatch.setenv(workers.ENV, "2")
    callback, told = fractions()
    there = workers.simulate_many(SCENARIOS, callback)
    assert workers._pool is not None  # they were made in worker processes
    assert all(same(a, simulate(s)) for a, s in zip(there, SCENARIOS, strict=True))
    assert told == sorted(told) and told[-1] == 1.0  # the share of runs ended, every POLL seconds


def test_one_worker_or_one_run_is_simulated_here(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("no worker process should be started")

    monkeypatch.setattr(workers, "_make_pool", no_pool)
    monkeypatch.setenv(workers.ENV, "1")
    callback, told = fractions()
    assert all(same(a, simulate(s)) for a, s in zip(workers.simulate_many(SCENARIOS, callback), SCENARIOS,
                                                     strict=True))
    assert told[-1] == 1.0  # run by run, each reporting as it goes
    monkeypatch.setenv(workers.ENV, "4")
    assert same(workers.simulate_many(SCENARIOS[:1])[0], simulate(SCENARIOS[0]))


def test_a_bad_worker_count_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(workers.ENV, "many")
    with pytest.raises(ValueError, match=f"{workers.ENV} must be a whole number.*'many'"):
        workers.simulate_many(SCENARIOS)


def test_where_processes_cannot_be_made_the_runs_are_made_here_and_not_tried_again(monkeypatch):
    tries = []

    def forbidden(*args, **kwargs):
        tries.append(1)
        raise OSError("processes are not allowed here")

    monkeypatch.setattr(workers, "_make_pool", forbidden)
    monkeypatch.setenv(workers.ENV, "2")
    for _ in range(2):
        assert all(same(a, simulate(s)) for a, s in zip(workers.simulate_many(SCENARIOS), SCENARIOS, strict=True))
    assert tries == [1]


def dies_in_a_worker(scenario: Scenario, progress=None):
    """``simulate``, except in a worker process, which it kills (as the kernel's OOM killer would)."""
    if multiprocessing.parent_process() is not None:
        os._exit(1)
    return simulate(scenario, progress=progress)


def test_when_a_worker_dies_the_runs_are_made_here_and_a_new_pool_is_tried_next_time(monkeypatch):
    monkeypatch.setattr(workers, "simulate", dies_in_a_worker)
    monkeypatch.setenv(workers.ENV, "2")
    for breaks in range(1, workers.MAX_BREAKS + 1):
        results = workers.simulate_many(SCENARIOS)
        assert all(same(a, simulate(s)) for a, s in zip(results, SCENARIOS, strict=True))
        assert workers._breaks == breaks and workers._pool is None  # the broken pool was dropped
        assert workers._unavailable == (breaks == workers.MAX_BREAKS)  # until MAX_BREAKS pools broke


def test_a_kernel_interrupt_does_not_kill_the_workers(monkeypatch):
    # Jupyter's Interrupt sends SIGINT to the kernel's process group, workers included: they ignore it
    monkeypatch.setenv(workers.ENV, "2")
    # workers inherit an ignored SIGINT (a shell's background job has one): start them as a kernel would
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        workers.simulate_many(SCENARIOS)
    finally:
        signal.signal(signal.SIGINT, previous)
    pool = workers._pool
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGINT)
    assert all(same(a, simulate(s)) for a, s in zip(workers.simulate_many(SCENARIOS), SCENARIOS, strict=True))
    assert workers._pool is pool and workers._breaks == 0


def test_workers_end_when_their_parent_is_killed(tmp_path):
    # a kernel killed outright (the OOM killer) leaves no worker behind: each exits when its parent ends
    code = (f"import os, sys\nos.environ[{workers.ENV!r}] = '2'\n"
            "from handshake_course import Scenario, workers\n"
            "workers.simulate_many([Scenario(kernel=v, backlog=4, clients=20) for v in ('3.10', '6.18')])\n"
            "print(*workers._pool._processes, flush=True)\nos.kill(os.getpid(), 9)\n")
    out = tmp_path / "pids"
    with out.open("w") as stdout:  # a file, not a pipe: workers that outlived it would hold a pipe open
        parent = subprocess.run([sys.executable, "-c", code], stdout=stdout, timeout=120, cwd=tmp_path)
    pids = [int(p) for p in out.read_text().split()]
    assert parent.returncode == -signal.SIGKILL and len(pids) == 2
    deadline = time.monotonic() + 30  # a bound, not a measurement: they go within milliseconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_script_starts_no_workers_unless_asked(monkeypatch):
    # spawn runs a script's top level again in each worker: from a __main__ with a file, runs stay here
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "/tmp/lesson.py", raising=False)
    assert workers.worker_count() == 1
    monkeypatch.setenv(workers.ENV, "3")
    assert workers.worker_count() == 3


def test_a_dashboard_comparing_kernels_shows_what_it_shows_without_workers(monkeypatch):
    memo.clear()
    monkeypatch.setenv(workers.ENV, "2")
    app = timemachine_app()
    app.controls["kernels"].value = "every profile"
    assert app.error is None and workers._pool is not None
    parallel = dict(app.results)
    memo.clear()
    monkeypatch.setenv(workers.ENV, "0")
    app.update()
    assert list(app.results) == list(parallel)
    assert all(same(app.results[v], parallel[v]) for v in parallel)
    memo.clear()


@pytest.mark.parametrize(("files", "quota"), [
    ({"cpu.max": "200000 100000\n"}, 2.0),  # cgroup v2: a pod limited to 2 CPUs
    ({"cpu.max": "max 100000\n"}, None),  # v2, no limit
    ({"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5),  # v1
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # v1, no limit
    ({}, None),  # no cgroup files (not Linux)
], ids=["v2", "v2-max", "v1", "v1-unlimited", "none"])
def test_a_containers_cpu_quota_bounds_the_workers(tmp_path, monkeypatch, files, quota):
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)  # as in a Jupyter kernel
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert workers.cpu_quota(tmp_path) == quota
    cpus = min(workers.usable_cpus(), workers.MAX_WORKERS)
    assert workers.worker_count(tmp_path) == (cpus if quota is None else min(cpus, math.ceil(quota)))
    (tmp_path / "cpu.max").write_text("50000 100000\n")  # half a CPU: no workers
    assert workers.worker_count(tmp_path) == 1
