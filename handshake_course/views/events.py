"""The kernel's side of one event, in words: what it did, the function path it took on the chosen
kernel, the counters it bumped and the queue lengths after it. A dashboard shows this text when the
learner selects an event (a packet on the ladder, a step of the state graph)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..text.seconds import format_seconds

if TYPE_CHECKING:
    from ..model import Result, TraceEvent


def describe_event(event: TraceEvent, result: Result | None = None) -> str:
    """Several lines about one trace event. With ``result``, the queue lengths are shown against
    the listener's limits and the kernel version is named."""
    if event.client is not None:
        who = f"client {event.client}"
    else:
        who = "the listener" if event.action == "listen" else "a spoofed address (flood)"
    kernel = f" (Linux {result.kernel.version})" if result is not None else ""
    lines = [
        f"t = {event.time:.6f} s ({format_seconds(event.time)}), {event.host} host, {who}: {event.action}",
        event.what,
        f"kernel path{kernel}: {event.function_path or '-'}",
        "counters: " + (", ".join(f"{c} +1" for c in event.counters) if event.counters else "none bumped"),
    ]
    if result is not None and result.listener is not None:
        lst = result.listener
        lines.append(f"queues after: SYN queue {event.syn_queue}/{lst.syn_capacity}, "
                     f"accept queue {event.accept_queue}/{lst.accept_capacity}")
    else:
        lines.append(f"queues after: SYN queue {event.syn_queue}, accept queue {event.accept_queue}")
    return "\n".join(lines)
