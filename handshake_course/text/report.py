"""The report ``handshake-course simulate`` prints: the scenario, both hosts' nstat counters, the
listener as ``ss`` shows it, outcomes and connect latencies, and the kernel log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..analysis.latency import latency_summary
from .counters import counters_table
from .host import log_lines

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
    overrides = "".join(f", {k}={v}" for k, v in result.kernel.overrides.items())
    return (f"Linux {result.kernel.version}{overrides}: backlog {sc.backlog}, {clients}, {accept}, "
            f"rtt {sc.rtt * 1000:g} ms" + "".join(f", {e}" for e in extra) + f", seed {sc.seed}")


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
    if result.log:
        lines += ["", "kernel log (dmesg):", *log_lines(result)]
    return "\n".join(lines)
