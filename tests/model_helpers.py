"""What the model's tests share: the textbook kernel timers, the trace events of one action, and a
Result as plain comparable values (for determinism tests)."""

from __future__ import annotations

from typing import Any

from handshake_course.model import VERSIONS, Kernel, Result, TraceEvent

TEXTBOOK = {"timer_wheel": "off"}
"""Kernel settings for tests that assert a time exactly (the kernel's rule, a closed form, or a
measurement rounded to it): textbook timers fire on time. How late real kernel timers fire is
tested in test_model_timers.py."""


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
