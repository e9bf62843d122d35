"""What the model's tests share: the textbook kernel timers, the trace events of one action, and a
Result as plain comparable values (for determinism tests)."""

from __future__ import annotations

from typing import Any

from handshake_course.model import Result, TraceEvent

TEXTBOOK = {"timer_wheel": "off"}
"""Kernel settings for tests that assert a time exactly (the kernel's rule, a closed form, or a
measurement rounded to it): textbook timers fire on time. How late real kernel timers fire is
tested in test_model_timers.py."""


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
