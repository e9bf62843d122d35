"""The scenario that reproduces a capture: a ``Scenario`` read off one listener's connection attempts
and findings (``analysis.handshakes``), each of its fields with the reason it has that value.

What a capture cannot show is left at what a capture with nothing to say about it would need:
seed 1, the profile's own sysctls except those a finding names, an application that accept()s
fast enough unless the capture shows the accept queue full. Standard library only.

* **kernel**: the newest modelled profile whose SYN schedule fits every retransmitting attempt
  (``ScheduleFit``); with none, the newest of those that fit the most; ``tcp_abort_on_overflow=1``
  if the server reset connections after their ACK; ``tcp_syncookies=0`` if the listener dropped SYNs
  while requests waited in its SYN queue and sent no cookie.
* **clients**: one connect() per attempt that is not a spoofed flood source, at its first SYN's time.
* **rtt**: the median round trip of the established handshakes (SYN to SYN-ACK plus SYN-ACK to ACK,
  which adds up to one round trip wherever the capture was taken).
* **loss**: from the share of handshake round trips that failed (r): each needs two packets through,
  so loss = 1 - sqrt(1 - r).
* **drop**: a packet kind that never got through at all, as a filter would drop it.
* **backlog** and **accept**: the accept queue's capacity is the number of handshakes completed
  before the first overflow (``accept_capacity`` inverted); accept() calls as often as handshakes
  completed after it; the SYN queue's capacity, with cookies off, from the requests waiting when the
  listener first dropped a SYN (``syn_queue_capacity`` inverted).
* **flood**: spoofed SYNs per second of the capture.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import ERAS, VERSIONS, Kernel, Scenario, accept_capacity, syn_queue_capacity
from ..model.scenario import MAX_DURATION
from ..text.seconds import format_seconds
from .handshakes import (
    FIRST_RTO,
    CaptureFinding,
    HandshakeLike,
    Recording,
    acks_ignored,
    cookie_by_options,
    cookie_by_silence,
    cookie_wait,
    packet_loss,
    round_trip_parts,
    server_resets_after_ack,
    spoofed,
    unanswered_syns,
)
from .syn_schedules import JITTER, ScheduleFit

KEEPS_UP = 1_000_000.0
"""accept() calls per second of an application the capture gives no reason to think slow."""
BACKLOG = 128
"""listen()'s backlog where the capture shows no overflow (SOMAXCONN's old value, common in servers)."""
MAX_BACKLOG = 65535
ACCEPT_AFTER = 1e-6
"""Seconds after a refusal that the reproduction calls accept() (room made before anything else came)."""


@dataclass(frozen=True)
class Proposal:
    """A scenario that should reproduce the capture, and why each field has its value."""

    scenario: Scenario
    reasons: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        sc = self.scenario
        kernel = sc.kernel
        assert isinstance(kernel, Kernel)
        return {"kernel": kernel.version, "settings": dict(kernel.overrides), "backlog": sc.backlog,
                "clients": list(sc.client_times), "accept": sc.accept, "rtt": sc.rtt, "loss": sc.loss,
                "drop": list(sc.drop), "flood": sc.flood, "duration": sc.duration, "seed": sc.seed,
                "why": dict(self.reasons)}


def allowed(fit: ScheduleFit) -> tuple[str, ...]:
    """The profiles the SYN schedules allow: those that fit every retransmitting attempt; if none
    does, those that fit the most; all of them when no attempt resent its SYN."""
    if not fit.attempts:
        return VERSIONS
    return fit.profiles or fit.best


def candidates(fit: ScheduleFit) -> tuple[str, ...]:
    """The profiles worth simulating: the allowed era kernels (``model.ERAS``: one of each way the
    queues and timers work) and the newest allowed profile, oldest first."""
    ok = allowed(fit)
    return tuple(dict.fromkeys([*(v for v in ERAS if v in ok), ok[-1]]))


def profile(fit: ScheduleFit) -> tuple[str, str]:
    """The kernel profile whose SYN schedule fits (the newest allowed), and why."""
    ok = allowed(fit)
    if not fit.attempts:
        return ok[-1], "no attempt resent its SYN, so the SYN schedule does not tell the kernel"
    if fit.profiles:
        return ok[-1], (f"its SYN schedule fits all {fit.attempts} retransmitting attempts "
                        f"(so do {', '.join(fit.profiles)})")
    return ok[-1], (f"no profile's SYN schedule fits all {fit.attempts} retransmitting attempts; this one fits the "
                    f"most ({fit.fitted[ok[-1]]})")


def measured_rtt(handshakes: Sequence[HandshakeLike]) -> float | None:
    """Median over established attempts of (SYN-ACK - the SYN it answers) + (ACK - the SYN-ACK it
    answers): one round trip wherever the capture was taken (``capture.vantage`` reads the parts)."""
    trips = [sum(parts) for parts in map(round_trip_parts, handshakes) if parts is not None]
    return statistics.median(trips) if trips else None


def loss_rate(handshakes: Sequence[HandshakeLike], rec: Recording) -> tuple[float, str]:
    est = packet_loss(handshakes, rec)
    if not est.failed:
        return 0.0, f"every one of the {est.total} handshake round trips the capture can judge got through"
    r = est.failed / est.total
    loss = round(est.rate, 3)
    return loss, (f"{est.failed} of {est.total} handshake round trips failed ({r:.0%}); a round trip needs two "
                  f"packets through, so each packet is lost with probability 1 - sqrt(1 - {r:.3f}) = {loss:g}")


def filter_drop(handshakes: Sequence[HandshakeLike], rec: Recording) -> tuple[tuple[str, ...], str]:
    """A packet kind that never got through for any attempt, as a filter drops it, and why."""
    if not handshakes or any(h.rst_times or h.data_at is not None for h in handshakes):
        return (), ""
    if rec.at_listener:
        answered = [h for h in handshakes if h.synack_times]
        if answered and all(not h.ack_times for h in answered):
            if any(any(s > h.synack_times[0] for s in h.syn_times) for h in answered):
                return ("SYN-ACK",), ("no SYN-ACK was ever acknowledged and the clients kept resending their SYNs: "
                                      "the SYN-ACKs never reached them")
            return ("ACK",), "no SYN-ACK was ever acknowledged though the clients stopped resending SYNs: ACKs are lost"
        return (), ""
    if all(not h.synack_times for h in handshakes) and any(len(h.syn_times) > 1 for h in handshakes):
        return ("SYN",), ("no attempt ever got an answer: the SYNs (or their SYN-ACKs, which looks the same from "
                          "here) never get through")
    return (), ""


def completion(h: HandshakeLike, rec: Recording) -> float | None:
    """When the listener took the client's ACK, as far as the capture shows: the last ACK with no
    SYN-ACK or RST from the server after it. An ACK that follows resent SYN-ACKs counts only if the
    capture went on past when the listener's timer, doubling, would have resent it again."""
    if not h.ack_times:
        return None
    last = h.ack_times[-1]
    if any(s > last for s in h.synack_times) or any(r >= last for r in h.server_rst_times):
        return None
    before = [s for s in h.synack_times if s <= last]
    if len(before) > 1 and rec.end - last <= 2 * (before[-1] - before[-2]) + JITTER:
        return None
    return last


def refusals(handshakes: Sequence[HandshakeLike], rec: Recording, unanswered: str) -> tuple[list[float], list[float]]:
    """When the listener refused a handshake for lack of room: (ACKs it ignored or answered with an
    RST, SYNs it left unanswered). Where the capture shows SYNs reach the listener, every unanswered
    SYN. Elsewhere it depends on what ``unanswered`` SYNs are put down to: "refused", every one;
    "lost", only the first SYN of attempts never answered, and only if random loss at the rate the
    other round trips show would not leave them all unanswered."""
    loss = packet_loss(handshakes, rec)
    failing = loss.failed / loss.total if loss.total else 0.0
    acks: list[float] = []
    syns: list[float] = []
    for h in handshakes:
        acks += acks_ignored(h, rec, loss)
        if server_resets_after_ack(h):
            acks.append(h.ack_times[0])
        left = unanswered_syns(h, rec)
        if rec.at_listener or unanswered == "refused":
            syns += left
        elif left and not h.synack_times and not h.rst_times and not loss.explains(len(left), failing):
            syns.append(h.syn_times[0])
    return sorted(acks), sorted(syns)


def waiting(h: HandshakeLike, rec: Recording, t: float) -> bool:
    """Whether the attempt's request sock sat in the SYN queue at ``t``: SYN-ACKed by then (a
    capture stamps a burst's packets with one time), and neither completed nor reset before."""
    done = completion(h, rec)
    return (bool(h.synack_times) and h.synack_times[0] <= t and (done is None or done >= t)
            and not any(r < t for r in h.rst_times))


def invert(capacity: int, size: Callable[[int], int]) -> int:
    """The smallest backlog whose queue ``size(backlog)`` holds at least ``capacity``."""
    lo, hi = 0, MAX_BACKLOG
    while lo < hi:
        mid = (lo + hi) // 2
        if size(mid) >= capacity:
            hi = mid
        else:
            lo = mid + 1
    return lo


def accept_calls(done: Sequence[float], refused: Sequence[float], zero: float) -> tuple[tuple[float, ...] | None, str]:
    """The application's accept() calls (seconds after ``zero``, where the model's clock starts),
    as far as a capture shows them: a handshake that completed after the listener had refused one
    got in because accept() took a connection since the last refusal before it; so one accept() just
    after that refusal per such handshake. None: none completed after the first refusal, the
    application never called accept()."""
    calls = []
    for t in done:
        earlier = [r for r in refused if r < t]
        if earlier:
            calls.append(round(earlier[-1] - zero + ACCEPT_AFTER, 6))
    if not calls:
        return None, "no handshake completed after the first refusal: the application never called accept()"
    return tuple(calls), (f"{len(calls)} handshakes completed after the listener had refused one: one accept() just "
                          "after the last refusal before each (when accept() really ran, a capture cannot show)")


@dataclass(frozen=True)
class Queues:
    """The listener's queues and application as the capture suggests them, and why."""

    backlog: int
    accept: float | tuple[float, ...] | None
    syncookies_off: bool
    reason: str
    accept_reason: str


def keeps_up(clients: int, kernel: Kernel, backlog: int) -> tuple[float | None, str]:
    """No accept() at all if the clients fit the accept queue, else a loop that keeps up."""
    if clients < accept_capacity(kernel, backlog):
        return None, "no accept() calls are needed: the accept queue never fills"
    return KEEPS_UP, "an application that keeps up (the capture shows no accept-queue overflow)"


def queues(real: Sequence[HandshakeLike], everyone: Sequence[HandshakeLike], rec: Recording, kernel: Kernel,
           cookies: Sequence[HandshakeLike], unanswered: str, zero: float) -> Queues:
    """Backlog, accept() calls and syncookies from the overflow pattern: where the listener first sent
    a cookie, the SYN queue was full (its requests then waiting); where it first refused a handshake
    with no handshake complete and requests waiting, and sent no cookie, the SYN queue was full with
    cookies off; otherwise the accept queue was, holding the handshakes completed by then. ``zero``:
    the capture's time of the model's t=0 at the listener."""
    done = sorted(t for h in real if (t := completion(h, rec)) is not None)
    acks, syns = refusals(real, rec, unanswered)
    if rec.at_listener:  # spoofed SYNs the listener dropped count too
        ours = {id(h) for h in real}
        syns = sorted(syns + [t for h in everyone if id(h) not in ours for t in unanswered_syns(h, rec)])
    refused = sorted(acks + syns)
    accept, accept_reason = accept_calls(done, refused, zero) if refused else keeps_up(len(real), kernel, BACKLOG)
    if cookies:
        t = min(h.synack_times[0] for h in cookies)
        stateless = {id(h) for h in cookies}
        pending = sum(waiting(h, rec, t) for h in everyone if id(h) not in stateless)
        backlog = invert(pending, lambda b: syn_queue_capacity(kernel, b))
        if not refused:
            accept, accept_reason = keeps_up(len(real), kernel, backlog)
        return Queues(backlog, accept, False,
                      f"the listener sent its first syncookie with {pending} requests waiting in its SYN queue: a SYN "
                      f"queue of {pending} (syn_queue_capacity(backlog={backlog}))", accept_reason)
    if not refused:
        return Queues(BACKLOG, accept, False, f"the listener never refused a handshake: a common backlog, {BACKLOG}",
                      accept_reason)
    first = refused[0]
    before = [t for t in done if t <= first]
    pending = sum(waiting(h, rec, first) for h in everyone)
    if syns and syns[0] == first and not before and pending and rec.at_listener:
        off = Kernel(kernel.version, **{**kernel.overrides, "tcp_syncookies": 0})
        backlog = invert(pending, lambda b: syn_queue_capacity(off, b))
        return Queues(backlog, accept, True,
                      f"the listener first dropped a SYN with {pending} requests waiting in its SYN queue and no "
                      f"handshake complete, and sent no cookie: a SYN queue of {pending} with tcp_syncookies=0 "
                      f"(syn_queue_capacity(backlog={backlog}))", accept_reason)
    held = max(1, len(before))
    backlog = invert(held, lambda b: accept_capacity(kernel, b))
    return Queues(backlog, accept, False,
                  f"{len(before)} handshakes completed before the listener first refused one at "
                  f"{format_seconds(first - rec.start)}: an accept queue of {held} "
                  f"(accept_capacity(backlog={backlog}) = backlog + 1)", accept_reason)


def flood_rate(flood: Sequence[HandshakeLike], rec: Recording) -> float:
    """Spoofed SYNs per second, over the part of the capture where a SYN can be told spoofed (all
    but its last FIRST_RTO + JITTER: a SYN that late may still be resent)."""
    judged = rec.end - rec.start - (FIRST_RTO + JITTER)
    return round(len(flood) / judged, 3) if flood and judged > 0 else 0.0


def hypotheses(handshakes: Sequence[HandshakeLike], rec: Recording) -> tuple[str, ...]:
    """What SYNs that got no answer may be put down to: where the capture cannot show whether they
    reached the listener (not taken at the listener's host), "lost" (random loss) or "refused" (the
    listener's full queue); where it can, they reached it, and "lost" only covers the other packets."""
    if rec.at_listener or not any(unanswered_syns(h, rec) for h in handshakes):
        return ("lost",)
    return ("lost", "refused")


def propose(handshakes: Sequence[HandshakeLike], rec: Recording, findings: Sequence[CaptureFinding],
            fit: ScheduleFit, version: str | None = None, unanswered: str = "lost") -> Proposal:
    """The Scenario that should reproduce these attempts (of one listener) and their findings, on
    ``version`` (default: the newest profile whose SYN schedule fits, ``profile``), with SYNs that
    got no answer put down to ``unanswered`` (``hypotheses``)."""
    kinds = {f.kind for f in findings}
    flood = spoofed(handshakes, rec)
    fake = {id(h) for h in flood}
    real = [h for h in handshakes if id(h) not in fake]
    chosen, why_kernel = profile(fit)
    version = version or chosen
    settings: dict[str, Any] = {}
    reasons = {"kernel": why_kernel}
    if "reset_after_ack" in kinds:
        settings["tcp_abort_on_overflow"] = 1
        reasons["kernel"] += "; tcp_abort_on_overflow=1: the server reset connections after their ACK"
    kernel = Kernel(version, **settings)
    span = max(rec.end - rec.start, 0.001)

    rtt = measured_rtt(real)
    rtt_model = round(min(rtt, 60.0), 6) if rtt is not None else 0.0002
    reasons["rtt"] = (f"the median handshake round trip of the capture, {format_seconds(rtt)}" if rtt is not None
                      else "no handshake completed, so no round trip was measured: the model's default")
    drop, reasons["drop"] = filter_drop(real, rec)
    if drop:
        loss, reasons["loss"] = 0.0, "the dropped kind explains the retransmissions"
    elif unanswered == "refused":
        loss, reasons["loss"] = 0.0, ("the SYNs that got no answer are put down to the listener's full queue, "
                                      "not to loss (from here the two look alike)")
    else:
        loss, reasons["loss"] = loss_rate(real, rec)
    cookies = [h for h in handshakes if cookie_by_options(h) or cookie_by_silence(h, rec, cookie_wait(VERSIONS))]
    accept: float | tuple[float, ...] | None
    if real and all(h.server_rst_times and not h.synack_times for h in real):
        backlog, accept = None, None
        reasons["backlog"] = "every SYN was answered with an RST: nothing listens"
        reasons["accept"] = "nothing listens"
    elif drop == ("SYN",):
        backlog, accept = BACKLOG, None
        reasons["backlog"] = f"no SYN got through to fill a queue: a common backlog, {BACKLOG}"
        reasons["accept"] = "no handshake completed"
    else:
        # the model's clients connect at their first SYN's capture time - start, so the listener sees
        # a capture time x at x - start + rtt/2 of the model's clock, wherever the capture was taken
        pattern = queues(real, handshakes, rec, kernel, cookies, unanswered, rec.start - rtt_model / 2)
        backlog, accept = pattern.backlog, pattern.accept
        reasons["backlog"], reasons["accept"] = pattern.reason, pattern.accept_reason
        if pattern.syncookies_off:
            kernel = Kernel(version, **{**settings, "tcp_syncookies": 0})
            reasons["kernel"] += "; tcp_syncookies=0: SYNs dropped with the SYN queue full and no cookie sent"
    rate = flood_rate(flood, rec)
    reasons["flood"] = (f"{len(flood)} SYNs from addresses that never resent them nor answered the SYN-ACK: "
                        f"{rate:g} spoofed SYNs per second" if flood else "no spoofed SYNs")
    clients = sorted(round(max(0.0, h.syn_times[0] - rec.start), 6) for h in real if h.syn_times)
    reasons["clients"] = f"one connect() at each of the {len(clients)} attempts' first SYN"
    duration = min(MAX_DURATION, math.ceil((span + rtt_model) * 1000) / 1000 + 0.001)
    reasons["duration"] = (f"the capture's span, {format_seconds(span)}, and a round trip: a capture at the server "
                           "sees the model's packets half a round trip after they leave the clients")
    scenario = Scenario(kernel=kernel, backlog=backlog, clients=clients, accept=accept, rtt=rtt_model, loss=loss,
                        drop=drop, flood=rate, duration=duration, seed=1)
    return Proposal(scenario, reasons)
