"""What the handshakes of a capture show: findings read off connection attempts, each with the kernel
rule that made the packets look that way.

The attempts are ``handshake_course.capture.read``'s ``Handshake`` records (or anything with their
fields, ``HandshakeLike``): this module reads their times, not packets, so it needs the standard
library only; dpkt is needed to read the file, not to reason about it. One function per kind of
finding, in ``KINDS`` order; ``capture_findings`` runs them all. Where the capture was taken matters
(``Recording.vantage``): a capture on the listener's host shows what reached the listener, so a SYN
it holds without an answer was dropped by the listener; on the client host the same picture could be
a lost packet. Times in a finding's evidence are seconds from the capture's start.

Which kernel sent the SYNs is told from their intervals (``analysis.syn_schedules``).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from ..model import VERSIONS, Kernel, syn_schedule, synack_schedule
from ..model.wire import COOKIEBITS, Keys
from .syn_schedules import JITTER, ScheduleFit, fit_syn_times, syn_schedules

KINDS = ("syn_retransmission", "synack_retransmission", "ack_ignored", "reset_after_ack", "unanswered_syn",
         "refused", "cookie_synack", "herd")
"""The kinds of finding, in the order a diagnosis lists them."""

CHANCE = 0.05
"""Where a capture cannot show who dropped a packet, a pattern counts as the listener's doing only if
random loss would give it to fewer than this many of the capture's attempts (expected)."""
HERD_MIN = 5
"""Retransmitted SYNs of different attempts in one timer tick that make a herd ("many")."""
SCAN_LATE = 1.0
"""Seconds after its timeout the 2.6.32/3.10 listener scan (inet_csk_reqsk_queue_prune, a 200 ms tick
that visits part of the SYN table each time) resends a SYN-ACK at the latest, as allowed here: a
few ticks, with room to spare (``synack_schedule`` gives no window for it)."""
MAX_EVIDENCE = 5
"""Attempts whose packet times a finding lists (``connections`` counts them all)."""
FIRST_RTO = min(syn_schedule(Kernel(v)).send_times[1] for v in VERSIONS)
"""The shortest wait before a SYN is resent (1 s, TCP_TIMEOUT_INIT since 3.1): a SYN the capture
followed for this long without an answer was not answered."""
ANSWER_MARGIN = 3.0
"""A SYN also counts as unanswered once the capture followed it for more than this many times the
longest the listener took to answer a SYN in the same capture (``answer_wait``). The listener answers
a SYN as it arrives (tcp_conn_request sends the SYN-ACK at once, or drops the SYN), so an answer comes
one round trip, as seen from where the capture was taken, after its SYN; the margin is judgement: room
for a round trip three times the slowest the capture measured, which queueing on one path rarely
gives within one capture. A capture shorter than the first SYN timeout (the lab's syn_queue and
syn_flood, a tcpdump stopped early) can show unanswered SYNs this way."""


class HandshakeLike(Protocol):
    """The fields of ``capture.Handshake`` the findings read."""

    client: str
    server: str
    client_isn: int
    syn_times: tuple[float, ...]
    synack_times: tuple[float, ...]
    ack_times: tuple[float, ...]
    rst_times: tuple[float, ...]
    data_at: float | None
    outcome: str
    latency: float | None
    server_isns: tuple[int, ...]
    syn_options: tuple[str, ...]
    synack_options: tuple[str, ...]
    server_rst_times: tuple[float, ...]


@dataclass(frozen=True)
class Recording:
    """Where a capture was taken and the time it covers (its clock: seconds, as the packets are
    stamped). ``vantage``: "client", "server", "between", "unknown" (``capture.vantage``) or
    "loopback" (client and server on one host: the capture holds what each of them sent and got)."""

    vantage: str
    start: float
    end: float
    answer_wait: float = FIRST_RTO  # how long a SYN must go unanswered to count as such (``answer_wait``)
    guessed: bool = False  # the vantage was read off the packets, not the handshakes' timing (``recording``)

    @property
    def at_listener(self) -> bool:
        """Whether a packet the capture holds on its way to the listener reached the listener's host."""
        return self.vantage in ("server", "loopback")


@dataclass(frozen=True)
class Evidence:
    """Packet times behind a finding: one attempt's (``who``: its client, addr:port) or one herd's
    (``who``: how many attempts), in seconds from the capture's start."""

    who: str
    times: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"who": self.who, "times": list(self.times)}


@dataclass(frozen=True)
class CaptureFinding:
    """One thing the capture shows, the attempts it concerns and the kernel rule behind it.
    ``schedules`` and ``profiles`` (SYN retransmissions only): the SYN schedules (``SynSchedule.key``)
    and the modelled kernels whose timers fit every attempt's intervals; empty when none does."""

    kind: str
    connections: int
    evidence: tuple[Evidence, ...]
    explanation: str
    fix: str
    counters: tuple[str, ...]  # the nstat counters the kernel bumps for it
    schedules: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind, "connections": self.connections,
                               "evidence": [e.as_dict() for e in self.evidence], "explanation": self.explanation,
                               "fix": self.fix, "counters": list(self.counters)}
        if self.kind == "syn_retransmission":
            doc |= {"schedules": list(self.schedules), "profiles": list(self.profiles)}
        return doc


# ---- where and when ---------------------------------------------------------------------------------

def host_of(endpoint: str) -> str:
    """The address of "addr:port" or "[addr]:port"."""
    return endpoint.rsplit(":", 1)[0].strip("[]")


def same_host(a: str, b: str) -> bool:
    """Whether two endpoints are on one host: the same address, or both loopback addresses."""
    x, y = ipaddress.ip_address(host_of(a)), ipaddress.ip_address(host_of(b))
    return x == y or (x.is_loopback and y.is_loopback)


def round_trip_parts(h: HandshakeLike) -> tuple[float, float] | None:
    """The two halves of an established attempt's round trip as a capture saw them: from the SYN a
    SYN-ACK answers (the last one before it) to that SYN-ACK, and from the last SYN-ACK before the
    client's first ACK to that ACK; None when the attempt does not show both."""
    if not (h.ack_times and h.synack_times and h.syn_times):
        return None
    synack, ack = h.synack_times[0], h.ack_times[0]
    syns = [t for t in h.syn_times if t <= synack]
    before_ack = [t for t in h.synack_times if t <= ack]
    if not (syns and before_ack):
        return None
    return synack - syns[-1], ack - before_ack[-1]


def packet_times(h: HandshakeLike) -> list[float]:
    """Every packet time of an attempt the reader kept."""
    return [*h.syn_times, *h.synack_times, *h.ack_times, *h.rst_times, *([h.data_at] if h.data_at is not None else [])]


def recording(handshakes: Sequence[HandshakeLike], vantage: str) -> Recording:
    """The Recording of these attempts, taken at ``vantage`` (``capture.vantage``, from the timing of
    established handshakes). "loopback" when every client is on its server's host. When the timing
    cannot tell ("unknown": no handshake completed), the packets may: SYN-ACKs that nobody
    acknowledged were seen where the client's ACK would have been missing, at the server (a client
    ACKs every SYN-ACK it gets); without any SYN-ACK, at the client, whose SYNs got no answer. Its
    span is from the first to the last packet they hold (a capture file does not say how long
    tcpdump ran after its last packet)."""
    times = [t for h in handshakes for t in packet_times(h)]
    guessed = False
    if handshakes and all(same_host(h.client, h.server) for h in handshakes):
        vantage = "loopback"
    elif vantage == "unknown" and handshakes:
        vantage, guessed = ("server" if any(h.synack_times for h in handshakes) else "client"), True
    return Recording(vantage, min(times, default=0.0), max(times, default=0.0), answer_wait(handshakes), guessed)


def answer_times(handshakes: Sequence[HandshakeLike]) -> list[float]:
    """How long the listener took to answer, as the capture saw it: for each attempt whose first SYN
    got a SYN-ACK or an RST before any resend, from that SYN to the first answer."""
    out = []
    for h in handshakes:
        if not h.syn_times:
            continue
        first, resent = h.syn_times[0], h.syn_times[1] if len(h.syn_times) > 1 else None
        answers = [a for a in (*h.synack_times, *h.server_rst_times) if a >= first and (resent is None or a < resent)]
        if answers:
            out.append(min(answers) - first)
    return out


def answer_wait(handshakes: Sequence[HandshakeLike]) -> float:
    """How long the capture must follow a SYN without an answer to count it unanswered: ANSWER_MARGIN
    times the longest answer it saw (``answer_times``), at most FIRST_RTO; FIRST_RTO when it saw
    none (then it cannot tell how long an answer takes, only that a resent SYN would be due)."""
    seen = answer_times(handshakes)
    return min(FIRST_RTO, ANSWER_MARGIN * max(seen)) if seen else FIRST_RTO


def _evidence(rec: Recording, items: Iterable[tuple[HandshakeLike, Iterable[float]]]) -> tuple[Evidence, ...]:
    """Evidence for the first MAX_EVIDENCE attempts: their client and the packet times that show it."""
    out = []
    for h, times in items:
        out.append(Evidence(h.client, tuple(round(t - rec.start, 6) for t in times)))
        if len(out) == MAX_EVIDENCE:
            break
    return tuple(out)


def attempts(n: int) -> str:
    """ "1 attempt", "3 attempts"."""
    return f"{n} attempt{'s' if n != 1 else ''}"


def _finding(kind: str, rec: Recording, shown: list[tuple[HandshakeLike, list[float]]], explanation: str,
             fix: str, counters: tuple[str, ...], **extra: Any) -> CaptureFinding:
    return CaptureFinding(kind, len(shown), _evidence(rec, shown), explanation, fix, counters, **extra)


def schedule_fit(handshakes: Sequence[HandshakeLike], rec: Recording) -> ScheduleFit:
    """Fit each retransmitting attempt's SYN times against every modelled kernel's SYN schedule
    (``analysis.syn_schedules``); every SYN is in the capture only if it was taken at the client."""
    return fit_syn_times([h.syn_times for h in handshakes], every_syn=rec.vantage == "client")


# ---- one attempt at a time ------------------------------------------------------------------------------

def with_next(times: Sequence[float]) -> list[tuple[float, float | None]]:
    """Each time with the one after it (None after the last)."""
    return [(t, times[i + 1] if i + 1 < len(times) else None) for i, t in enumerate(times)]


def retransmitted(h: HandshakeLike) -> bool:
    return len(h.syn_times) > 1


def timer_synacks(h: HandshakeLike) -> list[float]:
    """SYN-ACKs the listener resent on its own timer: those with no new SYN since the one before
    (a SYN-ACK that follows a retransmitted SYN answers it: syn_again)."""
    out = []
    for prev, t in zip(h.synack_times, h.synack_times[1:], strict=False):
        if not any(prev < s <= t for s in h.syn_times):
            out.append(t)
    return out


def ignored_acks(h: HandshakeLike) -> list[float]:
    """The client's ACKs after which the listener still sent a SYN-ACK (by the next ACK)."""
    return [a for a, nxt in with_next(h.ack_times)  # the next ACK answers that SYN-ACK: maybe at the same time
            if any(a < s and (nxt is None or s <= nxt) for s in h.synack_times)]


@dataclass(frozen=True)
class PacketLoss:
    """Handshake round trips the capture can judge, how many failed, and what that says of random
    loss: a round trip needs two packets through, so each is lost with probability
    ``rate`` = 1 - sqrt(1 - failed / total)."""

    failed: int
    total: int
    attempts: int  # attempts that had a round trip judged

    @property
    def rate(self) -> float:
        return 1 - math.sqrt(1 - self.failed / self.total) if self.total else 0.0

    def explains(self, runs: int, chance: float) -> bool:
        """Whether random loss would show, among these attempts, at least one with ``runs`` events in
        a row that each happen with probability ``chance``, often enough (expected CHANCE or more)."""
        return self.attempts * chance**runs >= CHANCE


def packet_loss(handshakes: Sequence[HandshakeLike], rec: Recording) -> PacketLoss:
    """Round trips of the handshakes: where the capture shows what the listener sent, each SYN-ACK,
    failed if no ACK (RST, data) from the client came before the next SYN-ACK; elsewhere each SYN of
    an attempt that got a SYN-ACK in the end, failed if no SYN-ACK came before the next SYN. The last
    one of an attempt counts only if the capture went on for FIRST_RTO (and JITTER) after it; spoofed
    sources (a flood's) are left out: nobody was there to answer."""
    failed = total = attempts = 0
    flood = {id(h) for h in spoofed(handshakes, rec)}
    for h in handshakes:
        if id(h) in flood:
            continue
        if rec.at_listener:
            sends = h.synack_times
            answers = sorted([*h.ack_times, *h.rst_times, *([h.data_at] if h.data_at is not None else [])])
        elif h.synack_times:
            sends, answers = h.syn_times, h.synack_times
        else:
            continue
        judged = 0
        for t, nxt in with_next(sends):
            if nxt is None and rec.end - t <= FIRST_RTO + JITTER and not any(a >= t for a in answers):
                continue
            judged += 1
            failed += not any(t <= a and (nxt is None or a < nxt) for a in answers)
        total += judged
        attempts += judged > 0
    return PacketLoss(failed, total, attempts)


def acks_ignored(h: HandshakeLike, rec: Recording, loss: PacketLoss) -> list[float]:
    """Ignored ACKs that show the listener dropped them: any, where the capture shows the ACK reached
    the listener; elsewhere two or more, and more in a row than random ACK loss at ``loss.rate``
    would give any of the attempts (one could be an ACK lost on its way)."""
    ignored = ignored_acks(h)
    if rec.at_listener or (len(ignored) > 1 and not loss.explains(len(ignored), loss.rate)):
        return ignored
    return []


def server_resets_after_ack(h: HandshakeLike) -> list[float]:
    """RSTs the server sent after the client's first ACK and before any data."""
    if not h.ack_times:
        return []
    return [r for r in h.server_rst_times if r >= h.ack_times[0] and (h.data_at is None or r < h.data_at)]


def unanswered_syns(h: HandshakeLike, rec: Recording) -> list[float]:
    """SYNs the capture followed for longer than ``rec.answer_wait`` (``answer_wait``), or until the
    next SYN, without a SYN-ACK or an RST answering them."""
    answers = sorted([*h.synack_times, *h.server_rst_times])
    out = []
    for t, nxt in with_next(h.syn_times):
        if nxt is None and rec.end - t <= rec.answer_wait:
            continue
        # an answer stamped with the next SYN's time answers that one (the listener answers at once)
        if not any(t <= a and (nxt is None or a < nxt) for a in answers):
            out.append(t)
    return out


def refused_at(h: HandshakeLike) -> list[float]:
    """RSTs the server sent instead of a SYN-ACK (no SYN-ACK in the attempt)."""
    return list(h.server_rst_times) if not h.synack_times else []


def answering_hosts(handshakes: Sequence[HandshakeLike]) -> set[str]:
    """Client addresses that behaved like a real TCP stack in some attempt: resent a SYN, ACKed, reset."""
    return {host_of(h.client) for h in handshakes if len(h.syn_times) > 1 or h.ack_times or h.rst_times}


def spoofed(handshakes: Sequence[HandshakeLike], rec: Recording) -> list[HandshakeLike]:
    """The attempts of SYNs from addresses that are no connect(), as a capture at the listener shows
    them: one SYN, never sent again although the capture went on past the first SYN timeout, nothing
    else from the client, and from an address that never behaved like a real client elsewhere in
    the capture (a flood's spoofed sources; a real client resends an unanswered SYN and ACKs a
    SYN-ACK). A capture at the client holds none."""
    if not rec.at_listener:
        return []
    live = answering_hosts(handshakes)
    return [h for h in handshakes if len(h.syn_times) == 1 and not h.ack_times and not h.rst_times
            and h.data_at is None and rec.end - h.syn_times[0] > FIRST_RTO + JITTER and host_of(h.client) not in live]


# ---- syncookies -----------------------------------------------------------------------------------------

def cookie_by_options(h: HandshakeLike) -> bool:
    """A SYN-ACK that dropped the SYN's SACK and window scale: a syncookie answering a SYN without
    timestamps (tcp_clear_options in tcp_conn_request's want_cookie path: without a timestamp to hide
    them in, the cookie keeps the MSS alone)."""
    syn, synack = set(h.syn_options), set(h.synack_options)
    return (bool(h.synack_times) and "TIMESTAMP" not in syn and bool(syn & {"SACK_PERM", "WSCALE"})
            and not synack & {"SACK_PERM", "WSCALE"})


@lru_cache(maxsize=64)
def cookie_wait(versions: tuple[str, ...]) -> float:
    """How long after a SYN-ACK its request's timer resends it at the latest, on these kernels: the
    first SYN-ACK timeout with its timer's lateness (``synack_schedule``), or SCAN_LATE after it
    where the listener's scan resends it."""
    waits = []
    for v in versions:
        sched = synack_schedule(Kernel(v))
        first = sched.send_times[1] if len(sched.send_times) > 1 else sched.give_up
        waits.append(first + SCAN_LATE if sched.polled else sched.window(first)[1])
    return max(waits, default=0.0) + JITTER


def cookie_by_silence(h: HandshakeLike, rec: Recording, wait: float) -> bool:
    """A SYN-ACK the listener never resent although nobody answered it for ``wait`` seconds: no
    request sock held it, so it was a cookie (a cookie SYN-ACK is stateless: nothing to resend).
    Only where the capture shows what the listener sent."""
    return (rec.at_listener and bool(h.synack_times) and not h.ack_times and not h.rst_times
            and not timer_synacks(h) and rec.end - h.synack_times[0] >= wait)


@lru_cache(maxsize=8)
def _keys(seed: int) -> Keys:
    return Keys(seed)


def cookie_by_key(h: HandshakeLike, seed: int) -> bool:
    """A SYN-ACK whose ISN is a syncookie of the model's keys for ``seed`` (a capture the model
    wrote): its top 8 bits undo to a minute count and its low 24 to an MSS index of a cookie table
    (secure_tcp_syn_cookie, undone as check_tcp_syn_cookie does)."""
    if not h.server_isns:
        return False
    keys = _keys(seed)
    syn = (host_of(h.client), int(h.client.rsplit(":", 1)[1]), host_of(h.server), int(h.server.rsplit(":", 1)[1]))
    tables = max(len(Kernel(v).cookie_mss_table) for v in VERSIONS)
    rest = (h.server_isns[0] - keys.hash32("cookie", 0, *syn, 0) - h.client_isn) & 0xFFFFFFFF
    mss = keys.check_cookie(h.server_isns[0], syn, h.client_isn, rest >> COOKIEBITS)
    return mss is not None and mss < tables


# ---- the findings -----------------------------------------------------------------------------------------

def syn_retransmission(handshakes: Sequence[HandshakeLike], rec: Recording) -> CaptureFinding | None:
    shown = [(h, list(h.syn_times)) for h in handshakes if retransmitted(h)]
    if not shown:
        return None
    fit = schedule_fit(handshakes, rec)
    if fit.schedules:
        known = {s.key: s for s in syn_schedules()}
        which = " or ".join(known[k].description for k in fit.schedules)
        verdict = f"Their intervals fit {which}."
    else:
        counts = ", ".join(f"{s.key} {max(fit.fitted[v] for v in s.versions)}" for s in syn_schedules())
        verdict = (f"No modelled kernel's default schedule fits all {fit.attempts} (attempts each fits: {counts}): "
                   "tcp_syn_retries, tcp_syn_linear_timeouts or the initial RTO (a BPF program, a route's "
                   "rto_min) may have been changed, or the capture misses some SYNs.")
    return _finding(
        "syn_retransmission", rec, shown,
        f"{attempts(len(shown))} sent their SYN again (same ISN): no SYN-ACK came back before the "
        "SYN retransmission timer fired (tcp_retransmit_timer), so connect() waited a whole RTO each time. "
        f"{verdict}",
        "Find where the SYNs or SYN-ACKs went: a capture on the server shows whether the SYNs arrived "
        "(then see the listener's findings: a full queue drops them) or not (loss or a filter in the network).",
        ("TcpExtTCPSynRetrans", "TcpExtTCPTimeouts", "TcpRetransSegs"),
        schedules=fit.schedules, profiles=fit.profiles)


def synack_retransmission(handshakes: Sequence[HandshakeLike], rec: Recording) -> CaptureFinding | None:
    shown = [(h, [h.synack_times[0], *timer_synacks(h)]) for h in handshakes if timer_synacks(h)]
    if not shown:
        return None
    return _finding(
        "synack_retransmission", rec, shown,
        f"In {attempts(len(shown))} the listener resent its SYN-ACK on its own timer (reqsk_timer_handler since "
        "4.1; the listener's scan, inet_csk_reqsk_queue_prune, on 2.6.32/3.10): the request sock sat in the "
        "SYN queue without a final ACK it could use, after 1 s, 3 s, 7 s... (3 s, 9 s... on 2.6.32; "
        "tcp_synack_retries times). Either the SYN-ACK or the ACK was lost, or the ACK arrived and was "
        "dropped because the accept queue was full (see ack_ignored), or the SYN came from an address that "
        "never answers.",
        "If ack_ignored is found too, the accept queue is the cause; otherwise look for loss between the hosts.",
        ("TcpExtTCPSynRetrans", "TcpRetransSegs"))


def ack_ignored(handshakes: Sequence[HandshakeLike], rec: Recording, loss: PacketLoss) -> CaptureFinding | None:
    shown = [(h, acks) for h in handshakes if (acks := acks_ignored(h, rec, loss))]
    if not shown:
        return None
    where = ("The capture shows the ACKs reaching the listener's host." if rec.at_listener else
             f"Each of these attempts had more ACKs in a row answered by another SYN-ACK than random loss "
             f"(about {loss.rate:.0%} of packets here) would explain; a capture on the server would show the ACKs "
             "arriving.")
    return _finding(
        "ack_ignored", rec, shown,
        f"In {attempts(len(shown))} the client's final ACK was followed by another SYN-ACK: the listener did "
        "not take the ACK. With the accept queue full, tcp_check_req -> syn_recv_sock (tcp_v4_syn_recv_sock) "
        "refuses to create the child (sk_acceptq_is_full); with tcp_abort_on_overflow=0 the listener marks "
        "the request acked and drops the ACK, and its timer resends the SYN-ACK, which the client ACKs "
        "again. The client already thinks it is connected: its first request waits until the queue has "
        "room. (A listener with TCP_DEFER_ACCEPT drops data-less ACKs on purpose and looks the same; "
        f"there the client's data gets in at once.) {where}",
        "Call accept() faster (more threads, no blocking work before accept()) or raise the listen() backlog "
        "and net.core.somaxconn; tcp_abort_on_overflow=1 turns the stall into a reset.",
        ("TcpExtListenOverflows", "TcpExtListenDrops"))


def reset_after_ack(handshakes: Sequence[HandshakeLike], rec: Recording) -> CaptureFinding | None:
    shown = [(h, [h.ack_times[0], *rsts]) for h in handshakes if (rsts := server_resets_after_ack(h))]
    if not shown:
        return None
    return _finding(
        "reset_after_ack", rec, shown,
        f"In {attempts(len(shown))} the server answered the client's final ACK with an RST: the accept queue "
        "was full and tcp_abort_on_overflow=1, so tcp_check_req resets the connection instead of dropping "
        "the ACK (embryonic_reset). The client sees ECONNRESET on its first read or write.",
        "The reset is the fail-fast setting working as meant; fix the overflow itself: accept() faster or "
        "raise the backlog.",
        ("TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtEmbryonicRsts"))


def unanswered_syn(handshakes: Sequence[HandshakeLike], rec: Recording) -> CaptureFinding | None:
    if rec.at_listener:
        shown = [(h, syns) for h in handshakes if (syns := unanswered_syns(h, rec))]
        where = ("These SYNs reached the listener's host and got no SYN-ACK: the listener dropped them in "
                 "tcp_conn_request, because the accept queue was full (sk_acceptq_is_full; on 2.6.32/3.10 "
                 "only while young requests wait as well) or the SYN queue was full with tcp_syncookies=0 "
                 "(inet_csk_reqsk_queue_is_full; with tcp_syncookies=0 also from the last quarter of "
                 "tcp_max_syn_backlog on), or a firewall rule after the capture point dropped them.")
    else:
        shown = [(h, syns) for h in handshakes
                 if not h.synack_times and not h.rst_times and (syns := unanswered_syns(h, rec))]
        where = ("From here one cannot tell who dropped them: the SYNs or the SYN-ACKs were lost or filtered "
                 "in the network, or the listener dropped the SYNs (accept queue full, or SYN queue full with "
                 "tcp_syncookies=0). A capture on the server tells which.")
    if not shown:
        return None
    return _finding(
        "unanswered_syn", rec, shown,
        f"{attempts(len(shown))} had SYNs that got no answer at all, neither a SYN-ACK nor an RST. {where}",
        "If the listener drops them: accept() faster, raise the backlog (and tcp_max_syn_backlog before 4.4), "
        "keep tcp_syncookies=1. If the network does: find the lossy link or the firewall rule.",
        ("TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtTCPReqQFullDrop"))


def refused(handshakes: Sequence[HandshakeLike], rec: Recording) -> CaptureFinding | None:
    shown = [(h, [h.syn_times[0], *rsts]) for h in handshakes if h.syn_times and (rsts := refused_at(h))]
    if not shown:
        return None
    return _finding(
        "refused", rec, shown,
        f"{len(shown)} SYNs were answered with an RST: nothing listened on the port (tcp_v4_rcv finds no "
        "socket and tcp_v4_send_reset answers), or a firewall rejected them; connect() fails with "
        "ECONNREFUSED at once.",
        "Check that the service runs and listens on that address and port (ss -lnt).",
        ("TcpAttemptFails", "TcpOutRsts"))


def cookie_synack(handshakes: Sequence[HandshakeLike], rec: Recording, versions: Sequence[str],
                  model_seed: int | None = None) -> CaptureFinding | None:
    wait = cookie_wait(tuple(versions))
    why: dict[str, list[tuple[HandshakeLike, list[float]]]] = {"key": [], "options": [], "silence": []}
    for h in handshakes:
        if model_seed is not None and cookie_by_key(h, model_seed):
            why["key"].append((h, list(h.synack_times)))
        elif cookie_by_options(h):
            why["options"].append((h, list(h.synack_times)))
        elif cookie_by_silence(h, rec, wait):
            why["silence"].append((h, list(h.synack_times)))
    shown = [item for items in why.values() for item in items]
    if not shown:
        return None
    told = []
    if why["key"]:
        told.append(f"{len(why['key'])} by their ISN, a syncookie of the model's keys for seed {model_seed}")
    if why["options"]:
        told.append(f"{len(why['options'])} by their options: the SYN had no timestamps, and the SYN-ACK left out "
                    "its SACK and window scale, which a cookie without a timestamp cannot hold (tcp_clear_options)")
    if why["silence"]:
        told.append(f"{len(why['silence'])} by silence: nobody answered them for {wait:.3g} s and the listener "
                    "never resent them, so no request sock held them")
    return _finding(
        "cookie_synack", rec, shown,
        f"{len(shown)} SYN-ACKs were syncookies: the SYN queue was full (or tcp_syncookies=2), so "
        "tcp_conn_request answered without keeping a request sock (cookie_v4_init_sequence encodes the "
        "connection in the ISN). Told " + "; ".join(told) + ". A cookie SYN-ACK is never resent, and "
        "an ACK of it that finds the accept queue full is dropped without a trace.",
        "Many cookies to addresses that never answer: a SYN flood, and cookies are protecting the listener. "
        "Cookies to real clients: the SYN queue is too small for the bursts; raise the backlog.",
        ("TcpExtTCPReqQFullDoCookies", "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv"))


def herd_window(versions: Iterable[str] = VERSIONS) -> float:
    """One timer tick of the slowest of these kernels (1/HZ): a herd's timers fire in one tick."""
    return max(1 / Kernel(v).hz for v in versions)


def herds(handshakes: Sequence[HandshakeLike], window: float) -> list[list[tuple[float, HandshakeLike]]]:
    """Groups of at least HERD_MIN retransmitted SYNs of different attempts within ``window`` of the
    group's first, in time order."""
    resent = sorted(((t, h) for h in handshakes for t in h.syn_times[1:]), key=lambda item: item[0])
    groups, i = [], 0
    while i < len(resent):
        j = i
        while j < len(resent) and resent[j][0] - resent[i][0] <= window:
            j += 1
        group = resent[i:j]
        if len({id(h) for _, h in group}) >= HERD_MIN:
            groups.append(group)
            i = j
        else:
            i += 1
    return groups


def herd(handshakes: Sequence[HandshakeLike], rec: Recording) -> CaptureFinding | None:
    window = herd_window()
    groups = herds(handshakes, window)
    if not groups:
        return None
    members = {id(h) for g in groups for _, h in g}
    evidence = tuple(Evidence(f"{len(g)} attempts", (round(g[0][0] - rec.start, 6), round(g[-1][0] - rec.start, 6)))
                     for g in groups[:MAX_EVIDENCE])
    biggest = max(len(g) for g in groups)
    return CaptureFinding(
        "herd", len(members), evidence,
        f"{len(groups)} times, {HERD_MIN} or more attempts (up to {biggest}) resent their SYN within "
        f"{window * 1000:g} ms of each other, one timer tick: their SYN timers were armed close together "
        "(connect()s at the same moment, or SYNs dropped together by a full queue) and the timer wheel "
        "runs timers due in the same granule on the same tick (4.8+: up to 32 ms apart at HZ=250 for a 1 s "
        "RTO). They reach the listener together, and if only one slot has freed up, one gets in and the "
        "rest wait another, longer RTO.",
        "Give the listener room for the burst (backlog) and accept() promptly; clients can add jitter to "
        "their own retries, but not to the kernel's SYN timer.",
        ("TcpExtTCPSynRetrans", "TcpExtTCPTimeouts"))


def capture_findings(handshakes: Sequence[HandshakeLike], rec: Recording,
                     model_seed: int | None = None) -> list[CaptureFinding]:
    """Every finding these attempts (of one listener) show, in KINDS order. ``model_seed``: the
    capture was written by the model with that seed, so its syncookies can be checked by their ISN."""
    fit = schedule_fit(handshakes, rec)
    versions = fit.profiles or VERSIONS
    loss = packet_loss(handshakes, rec)
    found = [
        syn_retransmission(handshakes, rec), synack_retransmission(handshakes, rec),
        ack_ignored(handshakes, rec, loss),
        reset_after_ack(handshakes, rec), unanswered_syn(handshakes, rec), refused(handshakes, rec),
        cookie_synack(handshakes, rec, versions, model_seed), herd(handshakes, rec),
    ]
    return [f for f in found if f is not None]


# ---- what the capture cannot tell -------------------------------------------------------------------------

LIMITS = ("vantage", "loss_or_listener", "late_syn", "cookie_unknown")
"""The kinds of question a capture may leave open (``limits``), in the order a diagnosis lists them."""


@dataclass(frozen=True)
class Limit:
    """Something these attempts cannot tell, and how many attempts it concerns: said, not guessed."""

    kind: str  # LIMITS
    connections: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "connections": self.connections, "text": self.text}


def late_syns(h: HandshakeLike, rec: Recording) -> bool:
    """Whether the attempt's last SYN got no answer and the capture ended too soon after it to say it
    got none (within ``rec.answer_wait``)."""
    if not h.syn_times:
        return False
    last = h.syn_times[-1]
    answered = any(a >= last for a in (*h.synack_times, *h.server_rst_times))
    return not answered and rec.end - last <= rec.answer_wait


def undecided_synacks(handshakes: Sequence[HandshakeLike], rec: Recording, wait: float) -> list[HandshakeLike]:
    """Attempts whose SYN-ACK nobody acknowledged (or reset) and the listener never resent, followed
    for less than ``wait`` (``cookie_wait``), and not told a cookie by its options: a syncookie and a
    SYN-ACK whose request sock is waiting for its timer look the same there."""
    return [h for h in handshakes if h.synack_times and not h.ack_times and not h.rst_times and h.data_at is None
            and not timer_synacks(h) and not cookie_by_options(h) and rec.end - h.synack_times[0] < wait]


def limits(handshakes: Sequence[HandshakeLike], rec: Recording) -> list[Limit]:
    """What these attempts (of one listener) leave open, in LIMITS order: where the capture was taken
    when only the packets suggest it; who dropped the SYNs that got no answer where the capture is
    not at the listener's host; SYNs too close to the capture's end to judge; SYN-ACKs that may or
    may not have been syncookies."""
    out = []
    if rec.guessed:
        why = ("SYN-ACKs went unacknowledged, which it reads as a capture at the server (the client's ACKs lost "
               "on the way); a client whose own host drops the SYN-ACKs (a firewall) shows the same"
               if rec.vantage == "server" else
               "no SYN got any answer, which it reads as a capture at the client; at the server a listener "
               "that drops every SYN shows the same")
        out.append(Limit("vantage", len(handshakes),
                         f"No handshake completed, so their timing cannot tell where the capture was taken: {why}."))
    if not rec.at_listener:
        dropped = [h for h in handshakes if unanswered_syns(h, rec)]
        if dropped:
            out.append(Limit(
                "loss_or_listener", len(dropped),
                f"{attempts(len(dropped))} had SYNs that got no answer. Taken here (not on the listener's host), the "
                "capture cannot tell whether they were lost or filtered on the way (or their SYN-ACKs on the way "
                "back), or reached a listener that dropped them (a full accept queue, or a full SYN queue with "
                "tcp_syncookies=0): both look alike from here. A capture on the server's host, or its "
                "TcpExtListenDrops and TcpExtTCPReqQFullDrop counters (nstat), tell which."))
    late = [h for h in handshakes if late_syns(h, rec)]
    if late:
        slowest = max(answer_times(handshakes), default=None)
        seen = (f"the listener answered the others within {slowest * 1e3:.3g} ms" if slowest is not None else
                "the capture shows no SYN answered")
        out.append(Limit(
            "late_syn", len(late),
            f"{attempts(len(late))} sent their last SYN {rec.answer_wait * 1e3:.3g} ms or less before the "
            f"capture's last packet, with no answer by then ({seen}): whether they were answered the capture "
            "cannot tell (a capture file does not say how long tcpdump ran after its last packet), so they are "
            "left out of unanswered_syn."))
    versions = schedule_fit(handshakes, rec).profiles or VERSIONS
    wait = cookie_wait(tuple(versions))
    open_ = undecided_synacks(handshakes, rec, wait)
    if open_:
        out.append(Limit(
            "cookie_unknown", len(open_),
            f"{len(open_)} SYN-ACKs were never acknowledged, and the capture followed them for less than the "
            f"{wait:.3g} s by which the listener's timer resends a SYN-ACK its request sock holds: whether they "
            "were syncookies (never resent) or answers the SYN queue kept, the capture cannot tell. Their SYNs "
            "carried the options a cookie keeps (with timestamps, cookie_init_timestamp hides SACK and window "
            "scale in the timestamp), so the SYN-ACKs look the same either way; TcpExtSyncookiesSent on the "
            "server tells."))
    return out
