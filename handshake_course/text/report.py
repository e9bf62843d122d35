"""The report ``handshake-course simulate`` prints: the scenario, both hosts' nstat counters, the
listener as ``ss`` shows it, outcomes and connect latencies, and the kernel log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.latency import latency_summary, percentile
from .counters import counters_table
from .host import log_lines
from .seconds import format_seconds

if TYPE_CHECKING:
    from ..model import Result


def scenario_line(result: Result) -> str:
    """The scenario in one line: kernel and overrides, backlog, clients, accept(), network, seed."""
    sc = result.scenario
    clients = f"{sc.clients} clients at t=0" if isinstance(sc.clients, int) else f"{len(sc.clients)} clients"
    accept = ("no accept()" if sc.accept is None else f"accept() {sc.accept:g}/s" if isinstance(sc.accept, float)
              else f"{len(sc.accept)} accept() calls")
    extra = [f"loss {sc.loss:g}"] if sc.loss else []
    extra += [f"drop {'+'.join(sc.drop)}"] if sc.drop else []
    extra += [f"flood {sc.flood:g} SYN/s"] if sc.flood else []
    extra += ["clients send a request"] if sc.data else []
    overrides = "".join(f", {k}={v}" for k, v in result.kernel.overrides.items())
    return (f"Linux {result.kernel.version}{overrides}: backlog {sc.backlog}, {clients}, {accept}, "
            f"rtt {sc.rtt * 1000:g} ms" + "".join(f", {e}" for e in extra) + f", seed {sc.seed}")


def request_line(result: Result) -> str:
    """With clients that speak first: how many requests the server ACKed, and how long the clients
    waited from sending one to its ACK (nearest-rank median and p99, as for connect latencies)."""
    sent = [c for c in result.clients if c.data_times]
    waits = sorted(c.request_latency for c in sent if c.request_latency is not None)
    again = sum(len(c.data_times) > 1 for c in sent)
    head = f"requests ({len(sent)} sent, {again} sent more than once): {len(waits)} ACKed by the server"
    if not waits:
        return head
    median, p99 = percentile(waits, 0.5), percentile(waits, 0.99)
    assert median is not None and p99 is not None
    return (f"{head}; request to ACK: min {format_seconds(waits[0])}, median {format_seconds(median)}, "
            f"p99 {format_seconds(p99)}, max {format_seconds(waits[-1])}")


def report(result: Result) -> str:
    """The report: scenario, nstat counters, ss, outcomes and latencies, kernel log."""
    lines = [scenario_line(result),
             f"simulated {result.end:g} s: {result.events} events, {len(result.packets)} packets", ""]
    lines += [counters_table(result), ""]
    if result.listener is None:
        lines += ["ss -lnt: nothing listens on the port (--backlog none)", ""]
    else:
        ss = result.ss()
        lines += [f"ss -lnt at t = {result.end:g} s:", str(ss),
                  f"SYN-RECV sockets (ss -nt state syn-recv): {ss.syn_recv}", ""]
    lines += latency_summary(result).lines()
    if result.scenario.data:
        lines.append(request_line(result))
    if result.log:
        lines += ["", "kernel log (dmesg):", *log_lines(result)]
    return "\n".join(lines)
