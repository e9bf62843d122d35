"""A capture's diagnosis as ``handshake-course diagnose`` prints it: per listener, the connect
latencies, each finding with its evidence, the kernel rule and the fix, the scenario that reproduces
the capture with the reason for each of its values, and the capture and the model's run side by
side. Standard library only (the diagnosis itself is ``handshake_course.capture.diagnose``)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from .seconds import format_seconds

if TYPE_CHECKING:
    from ..analysis.handshakes import CaptureFinding, Evidence
    from ..analysis.reproduce import Proposal
    from ..capture.diagnosis import CaptureDiagnosis, ServerDiagnosis

WIDTH = 100
VANTAGES = {"client": "at the client (told from the handshakes' timing)",
            "server": "at the server (told from the handshakes' timing)",
            "between": "between client and server (told from the handshakes' timing)",
            "loopback": "on loopback (client and server on one host)", "unknown": "where, the packets cannot tell"}


def wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def evidence_line(e: Evidence) -> str:
    times = ", ".join(format_seconds(t) for t in e.times[:8]) + (", ..." if len(e.times) > 8 else "")
    return f"{e.who}: {times}"


def finding_lines(f: CaptureFinding) -> list[str]:
    """One finding: its kind and connections, the explanation, the evidence, the counters, the fix."""
    lines = [f"  * {f.kind} ({f.connections} connection{'s' if f.connections != 1 else ''})"]
    lines += wrapped(f.explanation, "      ")
    lines += ["      evidence (s from the capture's start):"]
    lines += [f"        {evidence_line(e)}" for e in f.evidence]
    if f.connections > len(f.evidence) and f.kind != "herd":
        lines.append(f"        ... and {f.connections - len(f.evidence)} more")
    lines += wrapped(f"nstat would show it in: {', '.join(f.counters)}", "      ")
    lines += wrapped(f"fix: {f.fix}", "      ")
    return lines


def scenario_lines(proposal: Proposal) -> list[str]:
    """The proposed scenario, one line per field with why it has its value."""
    doc = proposal.as_dict()
    settings = "".join(f", {k}={v}" for k, v in doc["settings"].items())
    clients = doc["clients"]
    shown: dict[str, Any] = {
        "kernel": f"Linux {doc['kernel']}{settings}",
        "backlog": doc["backlog"] if doc["backlog"] is not None else "none (nothing listens)",
        "clients": f"{len(clients)} connect()s" + (f" from {format_seconds(clients[0])} to "
                                                  f"{format_seconds(clients[-1])}" if clients else ""),
        "accept": ("never" if doc["accept"] is None else f"{doc['accept']:g} per second"
                   if isinstance(doc["accept"], float) else f"{len(doc['accept'])} calls"),
        "rtt": format_seconds(doc["rtt"]), "loss": f"{doc['loss']:g}", "drop": "+".join(doc["drop"]) or "nothing",
        "flood": f"{doc['flood']:g} SYN/s", "duration": format_seconds(doc["duration"]),
    }
    lines = []
    for name, value in shown.items():
        why = proposal.reasons.get(name, "")
        lines += wrapped(f"{name}: {value}" + (f" - {why}" if why else ""), "    ")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return format_seconds(value) if isinstance(value, float) else str(value)


def comparison_lines(server: ServerDiagnosis) -> list[str]:
    """Capture and model side by side: latency percentiles, then connections per finding."""
    rows = server.compared()
    if not rows:
        return []
    lines = [f"    {'':24}{'capture':>12}{'model':>12}"]
    for name, (ours, theirs, agree) in rows.items():
        label = f"latency {name}" if isinstance(ours, float) or ours is None else name
        lines.append(f"    {label:24}{_cell(ours):>12}{_cell(theirs):>12}" + ("" if agree else "   <- differs"))
    return lines


def server_lines(server: ServerDiagnosis) -> list[str]:
    """Everything ``diagnose`` says of one listener."""
    lines = [f"server {server.server}: {len(server.handshakes)} connection attempts", *server.latency.lines()]
    none = "findings: none" + ("" if server.limits else " (every handshake went as it should)")
    lines += ["", "findings:" if server.findings else none]
    for f in server.findings:
        lines += finding_lines(f)
    if server.limits:
        lines += ["", "what the capture cannot tell:"]
        for limit in server.limits:
            lines += textwrap.wrap(f"{limit.kind} ({limit.connections}): {limit.text}", WIDTH, initial_indent="  - ",
                                   subsequent_indent="    ")
    lines += ["", "the scenario that reproduces it (handshake_course.Scenario):", *scenario_lines(server.proposal)]
    if server.model is not None:
        lines += ["", f"capture and model side by side (the model's run written as a capture at the "
                      f"{server.model.at} and read back the same way):", *comparison_lines(server)]
    return lines


def capture_report(diagnosis: CaptureDiagnosis) -> str:
    """The whole report: the capture, then each listener."""
    where = VANTAGES.get(diagnosis.vantage, diagnosis.vantage)
    if diagnosis.servers and all(s.recording.guessed for s in diagnosis.servers):
        where = where.replace("told from the handshakes' timing", "read off the packets, as no handshake completed: "
                              "see what the capture cannot tell")
    lines = [f"{diagnosis.path}: {diagnosis.handshakes} connection attempts, taken {where}"]
    lines += [f"  note: {n}" for n in diagnosis.notes]
    for server in diagnosis.servers:
        lines += ["", *server_lines(server)]
    return "\n".join(lines)
