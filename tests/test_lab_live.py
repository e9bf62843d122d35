"""Measure the running kernel now and hold the model to it, check by check, as
test_lab_fixtures.py does with the stored measurements.

The loopback experiments need only Linux; the others need root and network namespaces (they run
in throw-away ``hsc-<pid>-*`` namespace pairs that are deleted afterwards). Everything is skipped,
with the reason, where that is not available, or where the kernel is older than the behaviour the
6.18 profile models (6.13+). All live experiments together take about 45 s.

    sudo python3 -m pytest -m live tests/test_lab_live.py
"""

from __future__ import annotations

import os

import pytest

from handshake_course.lab import compare, experiments, host, netns, record

pytestmark = [pytest.mark.live, pytest.mark.slow]

LINUX = host.is_linux()
RELEASE = host.kernel_release() if LINUX else ""
MODELLED = compare.model_version(RELEASE) if LINUX else None
PRIVILEGED = host.privileged_reason()


def _skip_reason(privileged: bool) -> str | None:
    if not LINUX:
        return "not Linux: the lab measures the Linux kernel's TCP stack"
    if MODELLED is None:
        return f"kernel {RELEASE}: the model's 6.18 profile describes 6.13 and later only"
    if privileged and PRIVILEGED is not None:
        return f"needs root and network namespaces: {PRIVILEGED}"
    return None


def _names() -> list[tuple[str, bool]]:
    names = [(n, False) for n in record.loopback_runs()]
    names += [(n, True) for n in (*experiments.timer_runs(), *experiments.short_runs())]
    return names


def _cases() -> list:
    cases = []
    for name, privileged in _names():
        kind = name.split("-")[0]
        for check in compare.CHECK_NAMES[kind]:
            reason = compare.KNOWN_MISMATCHES.get((name, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            if privileged:
                marks.append(pytest.mark.slow)
            cases.append(pytest.param(name, privileged, check, marks=marks, id=f"{name}:{check}"))
    return cases


class Live:
    """Records measured in this test run, and their checks (each record compared once)."""

    def __init__(self, records: dict) -> None:
        self.records = records
        self._checks: dict[str, dict[str, compare.Check]] = {}

    def check(self, name: str, check: str) -> compare.Check:
        if name not in self._checks:
            self._checks[name] = compare.checks(self.records[name])
        return self._checks[name][check]


def _measure(runs: dict) -> Live:
    return Live({name: run() for name, run in runs.items()})


@pytest.fixture(scope="module")
def loopback_live() -> Live:
    return _measure(record.loopback_runs())


@pytest.fixture(scope="module")
def privileged_live() -> Live:
    netns.cleanup_stale()
    return Live(experiments.run_all())


@pytest.mark.parametrize(("name", "privileged", "check"), _cases())
def test_model_matches_the_running_kernel(name, privileged, check, request):
    reason = _skip_reason(privileged)
    if reason is not None:
        pytest.skip(reason)
    live = request.getfixturevalue("privileged_live" if privileged else "loopback_live")
    result = live.check(name, check)
    assert result.ok, str(result)


@pytest.mark.slow
def test_live_experiments_leave_no_namespace(request):
    reason = _skip_reason(True)
    if reason is not None:
        pytest.skip(reason)
    request.getfixturevalue("privileged_live")  # every experiment has run (and cleaned up)
    ours = [ns for ns in netns.list_namespaces() if ns.startswith(f"{netns.PREFIX}{os.getpid()}-")]
    assert ours == []


def test_lab_loopback_functions_give_plot_ready_data():
    reason = _skip_reason(False)
    if reason is not None:
        pytest.skip(reason)
    from handshake_course import lab, simulate

    rec = lab.loopback_accept_capacity(3)
    assert rec["result"]["connected"] == simulate(lab.scenario_for(rec)).ss().recv_q == 4
