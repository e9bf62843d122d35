"""A capture diagnosed: for each listener (server address and port) its connect latencies, what its
handshakes show (``analysis.handshakes``), the scenario that reproduces them (``analysis.reproduce``),
and that scenario run through the model and seen through the same lens: written as a capture at the
same vantage point (``Result.to_pcap``), read back (``read``) and diagnosed in turn, so that capture and
model are compared on equal terms, latency percentiles and findings alike.

``diagnose(path)`` is what ``handshake-course diagnose`` prints (``text.capture``) and what a notebook
draws (``views.plot_capture_diagnosis``).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..analysis.handshakes import (
    KINDS,
    CaptureFinding,
    Limit,
    Recording,
    capture_findings,
    limits,
    recording,
    schedule_fit,
)
from ..analysis.latency import LatencySummary, percentile
from ..analysis.reproduce import Proposal, candidates, hypotheses, propose
from ..model import Result, simulate
from .pcap import AT
from .read import OUTCOMES, Capture, Handshake, load, vantage

PERCENTILES = {"min": None, "median": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}
"""The latency percentiles capture and model are compared on (nearest rank, ``analysis.percentile``)."""
SAME_STEP = (0.05, 0.25)
"""(seconds, share) a model percentile may differ from the capture's and still be on the same step:
connect latencies come in steps of the SYN schedule (1 s, 3 s, 7 s...), so within 50 ms + 25 % means
the same number of lost SYNs, while the next step is 100 % or more away."""


def latencies(handshakes: Sequence[Handshake]) -> list[float]:
    """The attempts' connect latencies, sorted, to the microsecond (a capture's resolution)."""
    return sorted(round(h.latency, 6) for h in handshakes if h.latency is not None)


def capture_latency(handshakes: Sequence[Handshake]) -> LatencySummary:
    """The latency summary of connection attempts (``analysis.LatencySummary``): outcomes as the
    capture tells them (``read.OUTCOMES``), and first SYN to ACK for those that completed."""
    counts = Counter(h.outcome for h in handshakes)
    lat = latencies(handshakes)
    outcomes = {name: counts[name] for name in OUTCOMES if counts[name]}
    if not lat:
        return LatencySummary(len(handshakes), 0, outcomes, None, None, None, None)
    return LatencySummary(len(handshakes), len(lat), outcomes, lat[0], percentile(lat, 0.5), percentile(lat, 0.99),
                          lat[-1])


def percentiles(handshakes: Sequence[Handshake]) -> dict[str, float | None]:
    """The PERCENTILES of the attempts' latencies (None without a completed handshake)."""
    lat = latencies(handshakes)
    return {name: (min(lat, default=None) if q is None else percentile(lat, q)) for name, q in PERCENTILES.items()}


def same_step(capture: float | None, model: float | None) -> bool:
    """Whether two latencies are on the same step of a SYN schedule (SAME_STEP), or both absent."""
    if capture is None or model is None:
        return capture is model
    absolute, share = SAME_STEP
    return abs(capture - model) <= absolute + share * max(capture, model)


@dataclass(frozen=True)
class Reproduction:
    """The proposed scenario run through the model, and its own capture diagnosed the same way."""

    result: Result
    at: str  # where its capture was taken: the capture's vantage, or the server
    handshakes: tuple[Handshake, ...]
    findings: tuple[CaptureFinding, ...]

    @property
    def latency(self) -> LatencySummary:
        return capture_latency(self.handshakes)

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "latency": self.latency.as_dict(), "percentiles": percentiles(self.handshakes),
                "findings": finding_counts(self.findings)}


@dataclass(frozen=True)
class ServerDiagnosis:
    """One listener of a capture: its attempts, latencies, findings, the scenario that reproduces
    them and the model's run of it (None when not simulated)."""

    server: str
    handshakes: tuple[Handshake, ...]
    recording: Recording
    findings: tuple[CaptureFinding, ...]
    proposal: Proposal
    model: Reproduction | None
    limits: tuple[Limit, ...] = ()  # what the capture cannot tell (``analysis.handshakes.limits``)

    @property
    def latency(self) -> LatencySummary:
        return capture_latency(self.handshakes)

    def compared(self) -> dict[str, tuple[Any, Any, bool]]:
        """Capture against model: each latency percentile and each finding's connections, with
        whether they agree (percentiles: ``same_step``; findings: found in both or in neither)."""
        if self.model is None:
            return {}
        ours, theirs = percentiles(self.handshakes), percentiles(self.model.handshakes)
        rows: dict[str, tuple[Any, Any, bool]] = {q: (ours[q], theirs[q], same_step(ours[q], theirs[q]))
                                                  for q in PERCENTILES}
        mine, model = finding_counts(self.findings), finding_counts(self.model.findings)
        for kind in KINDS:
            if kind in mine or kind in model:
                rows[kind] = (mine.get(kind, 0), model.get(kind, 0), (kind in mine) == (kind in model))
        return rows

    def as_dict(self) -> dict[str, Any]:
        return {"server": self.server, "handshakes": len(self.handshakes), "vantage": self.recording.vantage,
                "start": self.recording.start, "latency": self.latency.as_dict(),
                "percentiles": percentiles(self.handshakes), "findings": [f.as_dict() for f in self.findings],
                "limits": [limit.as_dict() for limit in self.limits], "scenario": self.proposal.as_dict(), "model": None if self.model is None else self.model.as_dict()}


@dataclass(frozen=True)
class CaptureDiagnosis:
    """A whole capture: where it was taken, what the reader noticed, and each listener's diagnosis."""

    path: str
    vantage: str
    handshakes: int
    notes: tuple[str, ...]
    servers: tuple[ServerDiagnosis, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"capture": self.path, "vantage": self.vantage, "handshakes": self.handshakes,
                "notes": list(self.notes), "servers": [s.as_dict() for s in self.servers]}


def finding_counts(findings: Sequence[CaptureFinding]) -> dict[str, int]:
    """Connections per finding kind."""
    return {f.kind: f.connections for f in findings}


def by_server(handshakes: Sequence[Handshake]) -> dict[str, list[Handshake]]:
    """The attempts grouped by listener, in the order each listener first appears."""
    groups: dict[str, list[Handshake]] = {}
    for h in handshakes:
        groups.setdefault(h.server, []).append(h)
    return groups


def reproduce(proposal: Proposal, at: str, by_key: bool = False) -> Reproduction:
    """Run the proposed scenario, write it as a capture at ``at``, read it back and diagnose it the
    way the capture was (``by_key``: its syncookies told by their ISN too, as for a capture the
    model wrote; otherwise only as a real capture's can be)."""
    result = simulate(proposal.scenario)
    with tempfile.TemporaryDirectory(prefix="handshake-course-") as folder:
        path = Path(folder) / "model.pcap"
        result.to_pcap(path, at=at)
        handshakes = load(path).handshakes
    rec = recording(handshakes, at)
    seed = proposal.scenario.seed if by_key else None
    return Reproduction(result, at, handshakes, tuple(capture_findings(handshakes, rec, seed)))


def mismatch(findings: Sequence[CaptureFinding], handshakes: Sequence[Handshake], model: Reproduction) -> tuple[
        int, int, float]:
    """How far the model's reproduction is from the capture: finding kinds found in one only,
    latency percentiles not on the same step, and the findings' connection counts' relative gaps."""
    ours, theirs = finding_counts(findings), finding_counts(model.findings)
    kinds = sum((k in ours) != (k in theirs) for k in KINDS)
    a, b = percentiles(handshakes), percentiles(model.handshakes)
    steps = sum(not same_step(a[q], b[q]) for q in PERCENTILES)
    gaps = sum(abs(ours.get(k, 0) - theirs.get(k, 0)) / max(ours.get(k, 0), theirs.get(k, 0), 1) for k in KINDS)
    return kinds, steps, round(gaps, 6)


def best_reproduction(handshakes: Sequence[Handshake], rec: Recording, findings: Sequence[CaptureFinding],
                      by_key: bool) -> tuple[Proposal, Reproduction]:
    """Propose the scenario on each candidate profile (``reproduce.candidates``) and, where the
    capture cannot tell, with unanswered SYNs put down to loss or to the listener
    (``reproduce.hypotheses``); run each and keep the one whose run is closest to the capture
    (``mismatch``; the later tried on a tie: the newest profile, the listener rather than loss)."""
    fit = schedule_fit(handshakes, rec)
    at = rec.vantage if rec.vantage in AT else "server"
    tried = []
    ways = hypotheses(handshakes, rec)
    for unanswered in ways:
        for version in candidates(fit):
            proposal = propose(handshakes, rec, findings, fit, version, unanswered)
            tried.append((f"{version}" + (f", unanswered SYNs {unanswered}" if len(ways) > 1 else ""), proposal,
                          reproduce(proposal, at, by_key)))
    scores = [mismatch(findings, handshakes, run) for _, _, run in tried]
    best = min(range(len(tried)), key=lambda i: (scores[i], -i))
    _, proposal, run = tried[best]
    if len(tried) > 1:
        names = "; ".join(f"{name}: {_score_text(score)}" for (name, _, _), score in zip(tried, scores, strict=True))
        reasons = dict(proposal.reasons)
        reasons["kernel"] += f". Of the runs tried, this one is closest to the capture ({names})"
        proposal = Proposal(proposal.scenario, reasons)
    return proposal, run


def _score_text(score: tuple[int, int, float]) -> str:
    kinds, steps, _ = score
    return f"{kinds} finding kinds and {steps} percentiles off"


def diagnose_server(server: str, handshakes: Sequence[Handshake], rec: Recording, model_seed: int | None = None,
                    simulate_model: bool = True) -> ServerDiagnosis:
    """One listener's diagnosis (its attempts all from one capture, taken as ``rec`` says)."""
    findings = tuple(capture_findings(handshakes, rec, model_seed))
    open_ = tuple(limits(handshakes, rec))
    if not simulate_model:
        proposal = propose(handshakes, rec, findings, schedule_fit(handshakes, rec))
        return ServerDiagnosis(server, tuple(handshakes), rec, findings, proposal, None, open_)
    proposal, model = best_reproduction(handshakes, rec, findings, model_seed is not None)
    return ServerDiagnosis(server, tuple(handshakes), rec, findings, proposal, model, open_)


def diagnose_capture(capture: Capture, model_seed: int | None = None, simulate_model: bool = True) -> CaptureDiagnosis:
    """The diagnosis of a capture ``load`` read (see ``diagnose``)."""
    where = vantage(capture.handshakes)
    span = recording(capture.handshakes, where)
    servers = []
    for server, attempts in by_server(capture.handshakes).items():
        rec = replace(recording(attempts, where), start=span.start, end=span.end)  # the whole capture's span
        servers.append(diagnose_server(server, attempts, rec, model_seed, simulate_model))
    return CaptureDiagnosis(capture.path, span.vantage, len(capture.handshakes), capture.notes, tuple(servers))


def diagnose(path: str | os.PathLike[str], model_seed: int | None = None, simulate_model: bool = True) -> CaptureDiagnosis:
    """Diagnose the capture at ``path`` (pcap or pcapng): per listener, the latency summary, the
    findings, the scenario that reproduces them and, unless ``simulate_model=False``, the model's run
    of it seen through the same lens. ``model_seed``: the capture was written by the model
    (``to_pcap``, ``simulate --pcap``) with this seed, so its syncookies can be told by their ISN.
    Raises ValueError for a file that is not a capture or holds no TCP handshake."""
    capture = load(path)
    if not capture.handshakes:
        skipped = f" ({'; '.join(capture.notes)})" if capture.notes else ""
        raise ValueError(f"{capture.path}: no TCP connection attempt (no SYN) in its {capture.packets} "
                         f"packets{skipped}")
    return diagnose_capture(capture, model_seed, simulate_model)
