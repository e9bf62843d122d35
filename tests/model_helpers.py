"""What the model's tests share: the textbook kernel timers, the trace events of one action, and a
Result as plain comparable values (for determinism tests)."""

from __future__ import annotations

import subprocess
from typing import Any

from handshake_course.model import VERSIONS, Kernel, Result, Scenario, TraceEvent

TEXTBOOK = {"timer_wheel": "off"}
"""Kernel settings for tests that assert a time exactly (the kernel's rule, a closed form, or a
measurement rounded to it): textbook timers fire on time. How late real kernel timers fire is
tested in test_model_timers.py."""


LESSON_04_REQUESTS = dict(backlog=2, clients=[0.0, 0.2, 0.2, 0.2], accept=[0.5], rtt=0.1, data=True)
"""Lesson 04's accept queue with requests: client 3's request meets the full queue at 0.35 s and is
resent (a loss probe, or the RTO on 2.6.32) after accept() made room at 0.5 s."""

CAPTURED = {
    "3.10 loss": Scenario(kernel="3.10", backlog=8, clients=12, loss=0.25, duration=30, seed=5),
    "6.18 loss": Scenario(kernel="6.18", backlog=8, clients=12, loss=0.25, duration=30, seed=5),
    "6.18 SYN-ACKs dropped": Scenario(kernel="6.18", backlog=8, clients=3, drop=("SYN-ACK",), duration=20, seed=2),
    "3.10 accept queue full": Scenario(kernel="3.10", backlog=1, clients=6, duration=20, seed=3),
    "3.10 abort on overflow": Scenario(kernel=Kernel("3.10", tcp_abort_on_overflow=1), backlog=2, rtt=0.01,
                                       clients=[0.001 * i for i in range(8)], duration=5, seed=1),
    **{f"{v} lesson 04, requests": Scenario(kernel=v, **LESSON_04_REQUESTS) for v in ("2.6.32", "3.10", "6.18")},
    **{f"{v} requests, loss": Scenario(kernel=v, **LESSON_04_REQUESTS, loss=0.2) for v in ("2.6.32", "3.10", "6.18")},
    "3.10 requests, abort on overflow": Scenario(kernel=Kernel("3.10", tcp_abort_on_overflow=1), backlog=1, clients=4,
                                                 drop=("ACK",), rtt=0.01, duration=5, data=True),
}
"""Runs the capture tests write as pcap files and read back: loss, dropped SYN-ACKs, a full accept
queue, tcp_abort_on_overflow, on a 3.10 and a 6.18 kernel; and clients that send a request
(``data=True``) on 2.6.32 (no tail loss probe), 3.10 and 6.18: lesson 04's full accept queue (a
request resent by a loss probe or, on 2.6.32, the RTO), the same with loss (loss probes, RTOs, copies
the server already holds, resent SYN-ACKs answered after the request), and requests whose final ACK
was dropped meeting a full accept queue with tcp_abort_on_overflow (RSTs to DATA)."""


def versions_where(**behaviour: Any) -> list[str]:
    """The modelled versions whose defaults have each of these settings or facts (a tuple: any of
    its values), e.g. ``versions_where(synack_timer="per_request")``: tests choose versions by the
    behaviour they test, so a new kernel record is tested wherever it applies."""
    def has(version: str) -> bool:
        kernel = Kernel(version)
        return all(getattr(kernel, name) in (want if isinstance(want, tuple) else (want,))
                   for name, want in behaviour.items())

    found = [v for v in VERSIONS if has(v)]
    assert found, f"no modelled version has {behaviour}"
    return found


def events(result: Result, action: str, client: int | None = None) -> list[TraceEvent]:
    """The trace events of one action (of one client, if given), in order."""
    return [e for e in result.trace if e.action == action and (client is None or e.client == client)]


def snapshot(result: Result) -> tuple[Any, ...]:
    """Everything a Result holds, as plain comparable values."""
    return (
        result.clients, list(result.packets), list(result.trace),
        (list(result.queues.times), list(result.queues.syn), list(result.queues.accept)),
        dict(result.server_counters), dict(result.client_counters), result.listener, result.log, result.end,
        result.events,
    )


def stop_capture(proc: subprocess.Popen) -> None:
    """Stop a tcpdump a test started (it writes what it holds on SIGTERM), killing it if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stderr is not None:
        proc.stderr.close()
