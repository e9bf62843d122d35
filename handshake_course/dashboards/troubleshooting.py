"""Lesson 9: troubleshooting - from ``nstat`` and ``ss`` output to a cause and a fix.

``diagnose()`` reads the counters a real host shows (both hosts' nstat) and the listener's ``ss -lnt``
line, and returns findings: the evidence, the likely cause, the fix, and the versions it applies to.
The dashboard shows a simulated incident as an operator would see it, and the findings on request.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as W
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.diagnosis import HYPOTHESES, Finding, diagnose_result
from ..model import Kernel, Scenario, TraceEvent
from ..text import counters_table
from ..views import plot_queues
from .base import Dashboard, dropdown


@dataclass(frozen=True)
class Incident:
    """A production symptom and the scenario behind it (hidden until revealed)."""

    name: str
    symptom: str
    scenario: Scenario


def _incidents() -> dict[str, Incident]:
    slow = [i / 80 for i in range(800)]
    return {i.name: i for i in (
        Incident("A: API on 3.10, clients hang, then some succeed",
                 "Clients report connects that 'succeed' but the first request hangs; a few recover after seconds.",
                 Scenario(kernel="3.10", backlog=128, clients=slow, accept=50.0, rtt=0.001, duration=20.0, seed=1)),
        Incident("B: login service on 5.15, burst at the top of the minute",
                 "Every minute, about a third of the logins take 1 s or 3 s longer.",
                 Scenario(kernel=Kernel("5.15", tcp_syncookies=0), backlog=128, clients=400, accept=5000.0,
                          rtt=0.001, duration=20.0, seed=1)),
        Incident("C: 6.18 node, rare 1 s connects",
                 "p99 connect latency is 1 s; the server's counters look clean.",
                 Scenario(kernel="6.18", backlog=4096, clients=[i / 200 for i in range(2000)], accept=1e5,
                          rtt=0.002, loss=0.01, seed=1)),
        Incident("D: public 6.18 service, dmesg warning",
                 "dmesg: 'Possible SYN flooding on port 8080. Sending cookies.' Users notice nothing.",
                 Scenario(kernel="6.18", backlog=128, clients=[0.5 + i / 20 for i in range(100)], accept=1e5,
                          rtt=0.02, flood=2000.0, duration=6.0, seed=1)),
        Incident("E: 6.18 worker with tcp_abort_on_overflow=1",
                 "Clients get 'connection reset by peer' on their first request during load peaks.",
                 Scenario(kernel=Kernel("6.18", tcp_abort_on_overflow=1), backlog=8,
                          clients=[0.0] * 6 + [0.3] * 9 + [0.6] * 9, accept=2.0, rtt=0.001, duration=5.0,
                          seed=1)),
    )}


INCIDENTS: dict[str, Incident] = _incidents()


def findings_html(findings: list[Finding]) -> str:
    if not findings:
        return "<p style='font-size:13px'>No finding: the counters show no handshake problem.</p>"
    items = "".join(
        f"<li><b>{html.escape(f.title)}</b>: {html.escape(f.evidence)}<br><i>cause</i>: {html.escape(f.cause)}"
        f"<br><i>fix</i>: {html.escape(f.fix)}</li>" for f in findings)
    return f"<ol style='font-size:13px'>{items}</ol>"


NO_HYPOTHESIS = ("- your hypothesis first -", "")


def hypothesis_html(hypothesis: str, findings: list[Finding]) -> str:
    """Whether the learner's hypothesis is among the course's findings."""
    titles = [f.title for f in findings]
    if hypothesis in titles:
        return f"<p style='font-size:13px'>Your hypothesis, <i>{html.escape(hypothesis)}</i>, is right.</p>"
    return (f"<p style='font-size:13px'>Your hypothesis was <i>{html.escape(hypothesis)}</i>; the counters point "
            "elsewhere. Read the evidence below against the output above.</p>")


class TroubleshootApp(Dashboard):
    """An incident as nstat and ss show it; the diagnosis and the scenario once the learner has named
    a hypothesis and asked for it."""

    title = "Troubleshooting: from nstat and ss to a cause"
    intro = ("Read the symptom and the output an operator would collect, pick your hypothesis, then press "
             "'Show the diagnosis'.")
    figsize = (11.0, 3.6)
    inspected_clients = 20  # the inspector's list: the first 20 clients' events

    def __init__(self, incident: str = next(iter(INCIDENTS)), hypothesis: str = "", reveal: bool = False) -> None:
        controls = {
            "incident": dropdown("incident", list(INCIDENTS), incident),
            "hypothesis": dropdown("your hypothesis", [NO_HYPOTHESIS, *((h, h) for h in HYPOTHESES)], hypothesis),
            "reveal": W.ToggleButton(value=reveal and bool(hypothesis), description="Show the diagnosis",
                                     tooltip="pick your hypothesis first", icon="eye"),
        }
        self.findings: list[Finding] = []
        self._shown_incident = incident
        super().__init__(controls)

    def sync_controls(self) -> None:
        """A new incident hides the diagnosis again; it can be shown only once there is a hypothesis."""
        if self.value("incident") != self._shown_incident:
            self._shown_incident = self.value("incident")
            with self.batch_silently():
                self.controls["hypothesis"].value = ""
                self.controls["reveal"].value = False
        chosen = bool(self.value("hypothesis"))
        self.controls["reveal"].disabled = not chosen
        if not chosen and self.value("reveal"):
            with self.batch_silently():
                self.controls["reveal"].value = False

    def revealed(self) -> bool:
        return bool(self.value("reveal")) and bool(self.value("hypothesis"))

    def make_axes(self, fig: Figure) -> list[Axes]:
        return [fig.add_subplot(1, 1, 1)]

    def compute(self) -> None:
        self.result = self.simulate(INCIDENTS[self.value("incident")].scenario)
        self.findings = diagnose_result(self.result)

    def draw(self) -> None:
        assert self.result is not None
        ax = self.axes[0]
        if self.revealed():
            plot_queues(self.result, ax=ax)
            ax.set_axis_on()
            return
        ax.clear()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "The queues over time are hidden: on a real host you only have ss, nstat and dmesg "
                "(below).\nPick your hypothesis, then press 'Show the diagnosis'.", ha="center", va="center",
                fontsize="large", transform=ax.transAxes)

    def summary_html(self) -> str:
        r = self.result
        assert r is not None
        inc = INCIDENTS[self.value("incident")]
        ss = html.escape(str(r.ss())) if r.listener is not None else "(no listener)"
        log = "\n".join(f"[{t:10.4f}] {line}" for t, line in r.log[:3]) or "(no kernel messages)"
        parts = [f"<p style='font-size:13px'><b>Symptom</b>: {html.escape(inc.symptom)}</p>",
                 f"<b>ss -lnt</b> on the server (at the end):<pre>{ss}</pre>",
                 f"<b>dmesg</b>:<pre>{html.escape(log)}</pre>",
                 "<b>nstat</b> on both hosts, over the incident:",
                 f"<pre>{html.escape(counters_table(r, only_changed=True))}</pre>"]
        if self.revealed():
            parts.append(hypothesis_html(self.value("hypothesis"), self.findings))
            parts.append("<b>Diagnosis</b>" + findings_html(self.findings))
            parts.append(f"<p style='font-size:12px'><b>The scenario</b>: <code>{html.escape(repr(r.scenario))[:600]}"
                         "</code></p>")
        return "".join(parts)

    def keep_event(self, ev: TraceEvent) -> bool:
        return self.revealed() and ev.client is not None and ev.client < 20


def troubleshoot_app(incident: str = next(iter(INCIDENTS)), hypothesis: str = "",
                     reveal: bool = False) -> TroubleshootApp:
    """The lesson 9 dashboard: ``app = troubleshoot_app(); app.widget``. The diagnosis shows only
    once a hypothesis is picked and 'Show the diagnosis' pressed (``reveal``)."""
    return TroubleshootApp(incident, hypothesis, reveal)
