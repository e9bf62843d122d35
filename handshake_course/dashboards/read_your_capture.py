"""Lesson 12: read your own capture - one of the captures the lab recorded, or the learner's own pcap
or pcapng, diagnosed (``capture.diagnose``): per listener its findings as a table, the capture beside
the model's reproduction (``views.plot_capture_diagnosis``), and the scenario the model ran.

An uploaded file is written to a folder of the dashboard's own (removed with it), read there, and
offered in the capture list from then on; a file that is not a capture, is empty, holds no TCP
handshake or is larger than ``MAX_UPLOAD`` gets a message, never a traceback.
"""

from __future__ import annotations

import html
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as W
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import lab
from ..extras import MissingExtra
from ..text.capture import VANTAGES, scenario_lines
from ..text.seconds import format_seconds
from ..views.capture import plot_capture_diagnosis
from .base import Dashboard, dropdown, note_html

if TYPE_CHECKING:
    from ..capture import CaptureDiagnosis, ServerDiagnosis

MAX_UPLOAD = 10_000_000
"""Bytes of the largest capture the dashboard takes (10 MB). JupyterLab hands a file to the kernel in
one websocket message, and its server (tornado) refuses messages over 10 MiB by default, so a larger
upload could not arrive anyway; ``handshake-course diagnose FILE`` reads any size from a terminal."""
SUFFIXES = (".pcap", ".pcapng", ".cap")
LANES = 4
"""Attempts (and model clients) drawn, one lane each: the first ones the findings name (``views.capture``)."""
WIDTH = 11.0
UPLOADED = "upload:"  # the capture list's values for uploaded files: "upload:<n>"


def stored_captures() -> list[str]:
    """The lab's stored records that have a capture, by name (``lab.stored_pcap``)."""
    return [name for name in lab.stored_names() if lab.stored_pcap(name) is not None]




class CaptureApp(Dashboard):
    """A capture (the lab's or the learner's), one listener of it: the findings, and the capture drawn
    beside the model's reproduction."""

    title = "Read a capture: what it shows, and the model's reproduction beside it"
    intro = ("Pick a capture the lab recorded on Linux 6.18 (in network namespaces), or upload your own pcap "
             f"or pcapng file (tcpdump, Wireshark; up to {MAX_UPLOAD // 1_000_000} MB: bigger ones, "
             "<code>handshake-course diagnose FILE</code> in a terminal). Top: the attempts as the capture saw "
             "them; middle: the model's run of the scenario that reproduces them; bottom: connect latency of "
             "both. Below: the findings.")
    figsize = (WIDTH, 9.0)

    def __init__(self, capture: str = "herd", server: int = 0) -> None:
        self.diagnoses: dict[str, CaptureDiagnosis] = {}  # capture list value -> its diagnosis
        self.names: dict[str, str] = {}  # capture list value -> what the learner calls it
        self.diagnosis: CaptureDiagnosis | None = None
        self.server: ServerDiagnosis | None = None
        self._uploads = 0
        self._pending: tuple[str, bytes] | None = None  # a file given to upload(), not taken yet
        self._lanes: int | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="handshake-course-captures-"))
        weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        stored = stored_captures()
        for name in stored:
            self.names[name] = name
        controls = {
            "capture": dropdown("capture", [(f"lab: {name}", name) for name in stored],
                                capture if capture in stored else stored[0]),
            "upload": W.FileUpload(accept=",".join(SUFFIXES), multiple=False,
                                   description="upload your own (pcap, pcapng)",
                                   layout=W.Layout(width="300px")),
            "server": dropdown("listener (address:port)", [("-", 0)], 0),
        }
        self._server_choice = server
        super().__init__(controls)

    # -- the learner's file ------------------------------------------------------------------------
    def upload(self, name: str, data: bytes) -> bool:
        """Take a capture file's bytes as the upload button does: check the file, diagnose it, add it to
        the capture list and show it. Returns whether it was taken; if not, ``error`` says why, in the
        learner's words, and the dashboard stays as it was."""
        self._pending = (name, bytes(data))
        self.update()
        return self.error is None

    def _take_upload(self) -> None:
        """The file to take, if any: one given to ``upload``, or the one the upload button holds (taken
        once: the button is emptied)."""
        if self._pending is None:
            files = self.value("upload")
            if not files:
                return
            with self.batch_silently():
                self.controls["upload"].value = ()
            self._pending = (str(files[0].get("name", "your file")), bytes(files[0].get("content", b"")))
        name, data = self._pending
        self._pending = None
        self._add(name, data)

    def _add(self, name: str, data: bytes) -> None:
        """Check, write and diagnose one file; add it to the capture list and select it. ValueError,
        saying what is wrong, for a file that cannot be diagnosed."""
        if len(data) > MAX_UPLOAD:
            raise ValueError(f"{name} has {len(data):,} bytes; this dashboard reads captures up to {MAX_UPLOAD:,} bytes "
                             f"({MAX_UPLOAD // 1_000_000} MB). "
                             "Take a shorter capture (tcpdump -c, a narrower filter), or run "
                             f"`handshake-course diagnose {name}` in a terminal, which reads any size")
        if not data:
            raise ValueError(f"{name} is empty (0 bytes): the capture holds nothing, not even a file header")
        self._uploads += 1
        key = f"{UPLOADED}{self._uploads}"
        suffix = Path(name).suffix.lower() if Path(name).suffix.lower() in SUFFIXES else ".pcap"
        path = self.folder / f"upload-{self._uploads}{suffix}"
        path.write_bytes(data)
        self.message.value = note_html(f"Reading and diagnosing {name} ({len(data):,} bytes)...")
        try:
            self.diagnoses[key] = self._diagnose(path, name)
        except ValueError:
            path.unlink(missing_ok=True)
            raise
        self.names[key] = name
        control = self.controls["capture"]
        with self.batch_silently():
            control.options = [*control.options, (f"yours: {name}", key)]
            control.value = key

    def _diagnose(self, path: Path, name: str) -> CaptureDiagnosis:
        """``capture.diagnose`` of the file; whatever goes wrong becomes a ValueError naming ``name``."""
        try:
            from .. import capture
        except MissingExtra as err:
            raise ValueError(str(err).rstrip(".")) from None
        try:
            return capture.diagnose(path)
        except ValueError as err:
            text = str(err).replace(str(path), name).rstrip(".")
            raise ValueError(text if text.startswith(name) else f"{name}: {text}") from None
        except Exception as err:  # a file dpkt chokes on in a way it does not report as such
            raise ValueError(f"{name} could not be read as a capture ({type(err).__name__}: {err})") from None

    # -- the dashboard -------------------------------------------------------------------------------
    def make_axes(self, fig: Figure) -> list[Axes]:
        self._grid = fig.add_gridspec(3, 1, height_ratios=self._ratios(LANES))
        return [fig.add_subplot(self._grid[i]) for i in range(3)]

    @staticmethod
    def _ratios(lanes: int) -> list[float]:
        """Heights (inches) of the capture's ladder, the model's and the latency panel."""
        return [0.6 * lanes + 0.9, 0.6 * lanes + 0.9, 3.0]

    def compute(self) -> None:
        self._take_upload()
        key = self.value("capture")
        if key not in self.diagnoses:
            path = lab.stored_pcap(key)
            if path is None:  # pragma: no cover - the list holds stored captures with a pcap only
                raise ValueError(f"the lab stored no capture named {key}")
            self.diagnoses[key] = self._diagnose(path, f"{key}.pcap")
        diagnosis = self.diagnoses[key]
        self._offer_servers(diagnosis)
        server = diagnosis.servers[self.value("server")]
        if server.model is None:  # pragma: no cover - diagnose simulates unless told not to
            raise ValueError(f"{server.server}: the diagnosis has no model run to compare")
        self.diagnosis, self.server, self.result = diagnosis, server, server.model.result

    def _offer_servers(self, diagnosis: CaptureDiagnosis) -> None:
        """The listener list of this capture; the first one unless the one chosen is still there."""
        control = self.controls["server"]
        options = [(f"{s.server} ({len(s.handshakes)} attempts)", i) for i, s in enumerate(diagnosis.servers)]
        if list(control.options) != options:
            keep = self._server_choice if self._server_choice < len(options) else 0
            with self.batch_silently():
                control.options = options
                control.value = keep
        self._server_choice = 0
        control.disabled = len(options) < 2

    def draw(self) -> None:
        server = self.server
        assert server is not None and server.model is not None
        lanes = min(LANES, max(len(server.handshakes), len(server.model.result.clients), 1))
        if lanes != self._lanes:  # the picture grows with the lanes it draws (the two ladders alike)
            ratios = self._ratios(lanes)
            self._grid.set_height_ratios(ratios)
            self.resize(WIDTH, sum(ratios) + 1.0)
            self._lanes = lanes
        plot_capture_diagnosis(server, self.axes, max_clients=LANES)

    def summary_html(self) -> str:
        d, s = self.diagnosis, self.server
        assert d is not None and s is not None
        name = self.names.get(self.value("capture"), "capture")
        head = (f"<b>{html.escape(name)}</b>: {d.handshakes} connection attempts, taken "
                f"{html.escape(VANTAGES.get(d.vantage, d.vantage))}.")
        notes = "".join(f"<br><i>note</i>: {html.escape(n)}" for n in d.notes)
        parts = [f"<div style='font-size:13px'>{head}{notes}{self._truth()}</div>", comparison_table(s),
                 findings_table(s), proposal_html(s)]
        return "".join(parts)

    def _truth(self) -> str:
        """What the lab did in a stored capture's run (its record), to hold the diagnosis to."""
        key = self.value("capture")
        if key.startswith(UPLOADED):
            return ""
        rec = lab.stored(key)
        params = ", ".join(f"{k} {v}" for k, v in rec.get("params", {}).items())
        where = rec.get("capture", "?")
        return (f"<br>What the lab did (its record, <code>lab.stored({key!r})</code>): experiment "
                f"<i>{html.escape(str(rec.get('experiment', key)))}</i> on {html.escape(str(rec.get('kernel', '?')))}"
                f" ({html.escape(params)}), captured on the {html.escape(str(where))}.")


def comparison_table(server: ServerDiagnosis) -> str:
    """Capture and model side by side: latency percentiles and connections per finding."""
    rows = []
    for name, (ours, theirs, agree) in server.compared().items():
        label = f"latency {name}" if isinstance(ours, float) or ours is None else name
        cells = [ours, theirs]
        shown = ["-" if v is None else format_seconds(v) if isinstance(v, float) else str(v) for v in cells]
        mark = "" if agree else " <span style='color:#b00020'>differs</span>"
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{shown[0]}</td><td>{shown[1]}{mark}</td></tr>")
    cell = "padding:1px 10px;text-align:right"
    return ("<div style='font-size:13px;margin-top:6px'><b>Capture and model side by side</b> (the model's run "
            "written as a capture at the same place and read back the same way)</div>"
            f"<table style='font-size:12px;border-collapse:collapse'><tr><th></th><th style='{cell}'>capture</th>"
            f"<th style='{cell}'>model</th></tr>" + "".join(rows).replace("<td>", f"<td style='{cell}'>")
            + "</table>")


def findings_table(server: ServerDiagnosis) -> str:
    """The findings of one listener: kind, connections, the kernel rule behind it, its first evidence, the fix."""
    if not server.findings:
        return ("<p style='font-size:13px'><b>Findings</b>: none - every handshake of this listener went as it "
                "should.</p>")
    cell = "padding:3px 8px;vertical-align:top;border-top:1px solid #ddd;text-align:left"
    rows = []
    for f in server.findings:
        first, _, rest = f.explanation.partition(": ")
        evidence = "; ".join(f"{html.escape(e.who)}: {', '.join(format_seconds(t) for t in e.times[:6])}"
                             for e in f.evidence[:2])
        rows.append(f"<tr><td style='{cell}'><code>{html.escape(f.kind)}</code></td>"
                    f"<td style='{cell};text-align:right'>{f.connections}</td>"
                    f"<td style='{cell}'><details><summary>{html.escape(first)}</summary>{html.escape(rest)}"
                    f"<br><i>evidence (s from the capture's start)</i>: {evidence}<br><i>nstat</i>: "
                    f"{html.escape(', '.join(f.counters))}<br><i>fix</i>: {html.escape(f.fix)}</details></td></tr>")
    head = "".join(f"<th style='{cell}'>{h}</th>" for h in ("finding", "attempts", "what it shows (click for the "
                                                                                    "kernel rule and the fix)"))
    return (f"<div style='font-size:13px;margin-top:6px'><b>Findings</b> ({html.escape(server.server)})</div>"
            f"<table style='font-size:12px;border-collapse:collapse'><tr>{head}</tr>" + "".join(rows) + "</table>")


def proposal_html(server: ServerDiagnosis) -> str:
    """The scenario the model ran, each value with its reason."""
    lines = "\n".join(line.strip() for line in scenario_lines(server.proposal))
    return ("<div style='font-size:13px;margin-top:6px'><b>The scenario the model ran</b> "
            "(<code>server.proposal.scenario</code>):<pre style='font-size:12px;white-space:pre-wrap;"
            f"margin:2px 0'>{html.escape(lines)}</pre></div>")


def capture_app(capture: str = "herd", server: int = 0) -> CaptureApp:
    """The lesson 12 dashboard: ``app = capture_app(); app.widget``. ``capture``: a stored lab capture
    (``lab.stored_pcap``); ``app.upload(name, data)`` takes a file's bytes as the upload button does."""
    return CaptureApp(capture, server)
