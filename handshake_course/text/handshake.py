"""One handshake, or a whole run, as text: a ladder of packets, the kernel's trace of a client, and
what the clients saw (the symptoms an operator hears about)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Result

ARROW = 34  # characters of a ladder's arrow


def ladder(result: Result, client: int) -> str:
    """One client's handshake as a ladder diagram: each packet at the time it was sent."""
    rec = result.clients[client]
    lines = [f"{'time':>9}    client {client} (port {rec.port})".ljust(ARROW + 30) + "server (port 8080)"]
    for p in result.packets.of_client(client):
        label = p.kind + (" (again)" if p.retransmission else "")
        lost = "  (lost)" if p.lost else ""
        if p.sender == "client":
            arrow = "-" * ARROW + ("x" if p.lost else ">")
            lines.append(f"{p.time:9.3f} s  {label:<15} {arrow}{lost}")
        else:
            arrow = ("x" if p.lost else "<") + "-" * ARROW
            lines.append(f"{p.time:9.3f} s  {'':<15} {arrow} {label}{lost}")
    return "\n".join(lines)


def kernel_trace(result: Result, client: int) -> str:
    """The kernel events of one client's handshake: function path, counters bumped, queue lengths."""
    lines = []
    for e in result.trace.of_client(client):
        lines.append(f"{e.time:9.3f} s  {e.host:<6}  {e.function_path}")
        bumped = ", ".join(e.counters) if e.counters else "-"
        queues = f"SYN queue {e.syn_queue}, accept queue {e.accept_queue}" if e.host == "server" else ""
        lines.append(f"{'':13}counters +1: {bumped}" + (f"   |  after: {queues}" if queues else ""))
    return "\n".join(lines)


def client_symptoms(result: Result, slow: float = 0.5) -> str:
    """What the clients saw: slow or failed connect()s, and connections the server never accepted."""
    recs = result.clients
    n = len(recs)
    lat = [c.latency for c in recs if c.latency is not None]
    slow_n = sum(1 for x in lat if x > slow)
    lines = [f"{n} connect() calls; {len(lat)} returned success."]
    if lat:
        lines.append(f"connect() took more than {slow:g} s for {slow_n} of them (the slowest took {max(lat):.2f} s).")
    for errno in ("ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "EADDRNOTAVAIL"):
        k = sum(1 for c in recs if c.errno == errno)
        if k:
            lines.append(f"{k} failed with {errno}.")
    stuck = sum(1 for c in recs if c.outcome == "established")
    if stuck:
        lines.append(f"{stuck} connected but the server application never received them (their requests hang).")
    pending = sum(1 for c in recs if c.outcome == "connecting")
    if pending:
        lines.append(f"{pending} were still waiting in connect() when the capture ended.")
    return "\n".join(lines)
