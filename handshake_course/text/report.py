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
    extra += [f"{sc.listeners} SO_REUSEPORT listeners"] if sc.listeners > 1 else []
    extra += [f"TCP_DEFER_ACCEPT {sc.defer_accept:g} s"] if sc.defer_accept else []
    extra += [f"clients close {sc.hold:g} s after connect()"] if sc.hold is not None else []
    extra += [f"TCP_FASTOPEN {sc.fastopen}"] if sc.fastopen else []
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


def close_line(result: Result) -> str:
    """With clients that close (``hold``): how many closed, how many of their sockets went through
    TIME_WAIT, how many of those connect() took over (tcp_tw_reuse), and how many connect() calls found
    no free port."""
    closed = [c for c in result.clients if c.closed_at is not None]
    time_wait = sum(c.time_wait_at is not None for c in closed)
    reused = result.client_counters.get("TcpExtTWRecycled", 0)
    no_port = sum(c.outcome == "no_port" for c in result.clients)
    return (f"close: {len(closed)} clients closed, {time_wait} of them went through TIME_WAIT, {reused} TIME_WAIT "
            f"ports taken over by connect() (tcp_tw_reuse); {no_port} connect() calls found no free port "
            "(EADDRNOTAVAIL)")


def ss_lines(result: Result) -> list[str]:
    """The listener(s) as ``ss -lnt`` shows them at the end (a SO_REUSEPORT group: one LISTEN line per
    socket, in listen() order), and how many SYN-RECV sockets ``ss -nt state syn-recv`` lists."""
    ss = [result.ss(listener=i) for i in range(len(result.listeners))]
    header, *_ = str(ss[0]).splitlines()
    listening = [str(one).splitlines()[1] for one in ss]
    syn_recv = f"SYN-RECV sockets (ss -nt state syn-recv): {sum(one.syn_recv for one in ss)}"
    if len(ss) > 1:
        syn_recv += f" (per listener: {', '.join(str(one.syn_recv) for one in ss)})"
    return [f"ss -lnt at t = {result.end:g} s:", header, *listening, syn_recv, ""]


def report(result: Result) -> str:
    """The report: scenario, nstat counters, ss, outcomes and latencies, kernel log."""
    lines = [scenario_line(result),
             f"simulated {result.end:g} s: {result.events} events, {len(result.packets)} packets", ""]
    lines += [counters_table(result), ""]
    if result.listener is None:
        lines += ["ss -lnt: nothing listens on the port (--backlog none)", ""]
    else:
        lines += ss_lines(result)
    lines += latency_summary(result).lines()
    if result.scenario.data:
        lines.append(request_line(result))
    if result.scenario.hold is not None:
        lines.append(close_line(result))
    if result.log:
        lines += ["", "kernel log (dmesg):", *log_lines(result)]
    return "\n".join(lines)
