"""Lesson 10: check the model on your own kernel - a listener that never accept()s, measured on this
machine's loopback (or, where it cannot measure, the measurement stored with the package) and
simulated, side by side, with the named checks of ``lab.checks``."""

from __future__ import annotations

import html
import time
from typing import Any

from .. import lab
from ..model import Result
from ..views import plot_accept_capacity
from .base import Dashboard, int_slider, note_html, toggle

MEASURE = [("this machine (stored if it cannot)", "live"), ("stored (Linux 6.18)", "stored")]


class CheckApp(Dashboard):
    """listen(backlog) and no accept(): measured against the model, one backlog per slider move."""

    title = "Check the model on your own kernel: listen(backlog) and no accept()"
    intro = ("Each backlog you pick is measured on this machine's loopback (about 0.2 s: more connect()s "
             "than fit, to a listener that never calls accept(), then <code>ss -lnt</code>) and simulated "
             "with this machine's sysctls. The points you measured stay on the figure.")
    figsize = (9.5, 4.6)

    def __init__(self, backlog: int = 4, measure: str = "live") -> None:
        self.records: dict[int, dict[str, Any]] = {}  # backlog -> record, for the current measure mode
        self.models: dict[int, Result] = {}  # backlog -> the model's prediction of that record
        self.record: dict[str, Any] | None = None  # the last measurement
        self.checks: dict[str, lab.Check] = {}
        self._mode: str | None = None
        controls = {
            "backlog": int_slider("listen() backlog (connections)", backlog, 0, 16),
            "measure": toggle("measurement", MEASURE, measure),
        }
        super().__init__(controls)

    def compute(self) -> None:
        mode = self.value("measure")
        if mode != self._mode:  # live and stored points are not mixed on one figure
            self.records.clear()
            self.models.clear()
            self._mode = mode
        t = time.perf_counter()
        rec = lab.measure_accept_capacity(self.value("backlog"), live=None if mode == "live" else False)
        self.timings["measure"] = time.perf_counter() - t
        model = self.simulate(lab.scenario_for(rec))
        backlog = rec["params"]["backlog"]
        self.records[backlog], self.models[backlog] = rec, model
        self.record, self.result = rec, model
        self.checks = lab.checks(rec)

    def draw(self) -> None:
        order = sorted(self.records)
        plot_accept_capacity([self.records[b] for b in order], [self.models[b] for b in order],
                                     ax=self.axes[0], current=self.value("backlog"),
                                     max_backlog=self.controls["backlog"].max)

    def note(self) -> str:
        rec = self.record
        if rec is None or "fallback" not in rec:
            return ""
        why = ("" if self.value("measure") == "stored"
               else f"This machine could not measure ({rec['fallback']}). ")
        return note_html(f"{why}Showing the measurement stored with the course ({rec['source']}).")

    def summary_html(self) -> str:
        rec = self.record
        assert rec is not None
        somaxconn = rec["sysctls"].get("net.core.somaxconn", "?")
        backlog = rec["params"]["backlog"]
        rows = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(repr(c.measured))}</td>"
            f"<td>{html.escape(repr(c.model))}</td><td>{html.escape(c.tolerance)}</td>"
            f"<td style='color:{'#007a4d' if c.ok else '#b00020'};font-weight:bold'>"
            f"{'ok' if c.ok else 'MISMATCH'}</td></tr>"
            for c in self.checks.values())
        verdict = ("every check agrees" if all(c.ok for c in self.checks.values())
                   else "the model and this kernel disagree: see the MISMATCH rows")
        return (f"<div style='font-size:13px'>Measured ({html.escape(rec['source'])}): listen({backlog}), "
                f"somaxconn {html.escape(str(somaxconn))}: {rec['result']['connected']} of "
                f"{rec['params']['clients']} connect()s completed. The model says min(backlog, somaxconn) + 1 = "
                f"{self.models[backlog].connected()}; {verdict}.<br>"
                "<table style='font-size:12px'><tr><th>check</th><th>measured</th><th>model</th>"
                f"<th>tolerance</th><th></th></tr>{rows}</table></div>")


def check_app(backlog: int = 4, measure: str = "live") -> CheckApp:
    """The lesson 10 dashboard: ``app = check_app(); app.widget``. ``measure="stored"`` shows only
    the measurements stored with the course."""
    return CheckApp(backlog, measure)
