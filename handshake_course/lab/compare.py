"""Hold the model to a measurement: the same scenario in the model, then named checks.

``scenario_for(record)`` rebuilds a lab run as a model Scenario: the kernel profile of the running
kernel with the sysctls the namespaces reported, the same backlog, the same connect() and accept()
times, the same drops. ``checks(record)`` runs it and returns one ``Check`` per compared quantity.
Counts (request socks, counters, outcomes) must match exactly; times must match within what real
timers allow (``timing.interval_bounds``); random quantities (loss) within four standard errors.

Where the model and the kernel disagree the check fails; the tests mark those known disagreements
from ``KNOWN_MISMATCHES`` as strict xfails, so a fix to the model shows up as an XPASS.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ..model import (
    SETTINGS,
    Kernel,
    Result,
    Scenario,
    accept_capacity,
    match_release,
    simulate,
    syn_queue_capacity,
    syn_schedule,
    synack_schedule,
    sysctls,
)
from ..model.timers import ticks, wheel_granularity_ticks
from . import compare_apps, timing

Record = Mapping[str, Any]

MODEL_VERSION = "6.18"
DEFAULT_RTT = 0.0001
LOOPBACK_RTT = 0.000001
"""On loopback a connect() finishes its handshake inside the system call (softirq on the same CPU),
so as far as ordering goes the round trip is shorter than the gap between two connect()s."""


@dataclass(frozen=True)
class Check:
    """One quantity, measured and predicted."""

    name: str
    measured: Any
    model: Any
    tolerance: str
    ok: bool

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return f"{self.name}: measured {self.measured!r}, model {self.model!r} ({self.tolerance}) -> {verdict}"


# ---- from a record to the model -------------------------------------------------------------------

def model_version(release: str) -> str | None:
    """The modelled version whose behaviour a running kernel release has, if the lab knows it:
    6.13 and later behave as the 6.18 profile (SYN queue full at qlen > backlog)."""
    try:
        major, minor = (int(x) for x in release.split(".")[:2])
    except ValueError:
        return None
    return MODEL_VERSION if (major, minor) >= (6, 13) else None


def kernel_for(record: Record, **switches: Any) -> Kernel:
    """The profile of the measured kernel (``match_release`` of the record's release; 6.18 for a
    record that does not say) with the sysctls the record's namespaces reported (listener-side ones
    from the server namespace, connect()-side ones from the client namespace) and the kernel's HZ."""
    version = match_release(record["kernel"]).version if record.get("kernel") else MODEL_VERSION
    reported = record["sysctls"]
    server, client = (reported["server"], reported["client"]) if "server" in reported else (reported, reported)
    settings: dict[str, Any] = {}
    for values, side in ((server, "server"), (client, "client")):
        for setting in sysctls(side):
            if setting.proc in values and version in setting.defaults:  # the profile may be older
                settings[setting.name] = setting.from_proc(values[setting.proc])
    if record.get("hz") in SETTINGS["hz"].choices:  # the running kernel's tick, for its timer wheel
        settings["hz"] = record["hz"]
    return Kernel(version, **{**settings, **switches})


def rtt_of(record: Record, default: float = DEFAULT_RTT) -> float:
    """The round trip seen by the client: its first SYN to the SYN-ACK coming back (client capture)."""
    if record.get("capture") != "client veth":
        return default
    syn = next((p for p in record.get("packets", ()) if p[1] == "SYN"), None)
    if syn is None:
        return default
    back = next((p for p in record["packets"] if p[1] == "SYN-ACK" and p[3] == syn[2] and p[0] >= syn[0]), None)
    return default if back is None else max(1e-6, round(back[0] - syn[0], 6))


def _sequential(n: int, step: float = 0.001) -> list[float]:
    """connect() times one after the other, each handshake done before the next starts."""
    return [round(i * step, 6) for i in range(n)]


def scenario_for(record: Record, **switches: Any) -> Scenario:
    """The model scenario of a lab record (`switches` go to the Kernel, e.g. timer_wheel="wheel")."""
    kind = record["experiment"]
    p, r = record["params"], record["result"]
    k = kernel_for(record, **switches)
    rtt = rtt_of(record)
    if kind == "syn_schedule":
        return Scenario(kernel=k, backlog=128, clients=1, drop=("SYN-ACK",), rtt=rtt,
                        duration=syn_schedule(k).give_up + 0.1)
    if kind == "synack_schedule":
        return Scenario(kernel=k, backlog=128, clients=1, drop=("ACK",), rtt=rtt,
                        duration=synack_schedule(k).give_up + 0.5)
    if kind == "syn_queue":
        return Scenario(kernel=k, backlog=p["backlog"], clients=p["clients"], drop=("SYN-ACK",), rtt=rtt,
                        duration=p["settle"])
    if kind == "syn_flood":
        return Scenario(kernel=k, backlog=p["backlog"], clients=[p["legit_at"]], flood=p["rate"], rtt=rtt,
                        duration=p["duration"])
    if kind == "accept_overflow":
        raw = {f"{ip}:{port}" for port in r["raw_ports"] for ip in _client_ips(record)}
        syns = [pk for pk in record["packets"] if pk[1] == "SYN"]
        real = [pk[0] for pk in syns if pk[2] not in raw][:2]
        hand = [pk[0] for pk in syns if pk[2] in raw][:1] * 2  # both SYNs out before either ACK
        return Scenario(kernel=k, backlog=p["backlog"], clients=[*real, *hand], accept=[r["accepted_at"]],
                        rtt=rtt, duration=p["duration"])
    if kind == "loss":
        return Scenario(kernel=k, backlog=4096, clients=r["start"], loss=p["loss_percent"] / 100, rtt=rtt,
                        duration=p["limit"])
    if kind == "ports":
        return Scenario(kernel=k, backlog=4096, clients=[max(0.0, t - 0.0001) for t in r["times"]], rtt=rtt,
                        duration=r["times"][-1] + 0.01)
    if kind in ("herd", "loopback_herd"):
        starts = [c["syn_times"][0] if c.get("syn_times") else c["start"] for c in r["clients"]]
        return Scenario(kernel=k, backlog=p["backlog"], clients=starts, accept=r["accepts"],
                        rtt=rtt if kind == "herd" else LOOPBACK_RTT, duration=p["duration"],
                        jiffies=jiffies_of(record, k))
    if kind in ("accept_capacity", "loopback_accept_capacity"):
        return Scenario(kernel=k, backlog=p["backlog"], clients=_sequential(p["clients"]),
                        rtt=rtt if kind == "accept_capacity" else LOOPBACK_RTT, duration=p["settle"])
    if kind in compare_apps.SCENARIOS:  # what applications do: requests, ...
        return compare_apps.SCENARIOS[kind](record, k, rtt)
    raise ValueError(f"no model scenario for experiment {kind!r}")


def first_retransmission(record: Record) -> float | None:
    """Seconds: when the first SYN retransmission of a herd record left (captured, or, on loopback
    where the handshake completes inside the send, when that connect() returned); None if no
    client retransmitted."""
    clients = record["result"]["clients"]
    sent = [c["syn_times"][1] for c in clients if len(c.get("syn_times", ())) > 1]
    if not sent:
        sent = [c["connected_at"] - LOOPBACK_RTT for c in clients
                if c.get("syn_retransmissions") and c.get("connected_at") is not None]
    return min(sent, default=None)


def jiffies_of(record: Record, kernel: Kernel) -> float | None:
    """The jiffies at the record's t=0 that put a tick, and a granule of the timer wheel level a
    first SYN timeout lands on, exactly where the measured kernel's first SYN retransmission left
    (None without one: the seed decides). How long the machine had been up is not in the record,
    and without it the model's wheel would bucket timers at an arbitrary phase: the clients of a
    herd that the kernel retransmitted together could land in two of the model's granules."""
    fired = first_retransmission(record)
    if fired is None or kernel.timer_wheel == "off":
        return None
    granule = wheel_granularity_ticks(ticks(kernel.tcp_timeout_init, kernel.hz)) if kernel.timer_wheel == "wheel" else 1
    at = fired * kernel.hz  # ticks after t=0
    return math.ceil(at / granule) * granule - at


def _textbook(record: Record) -> Result:
    """The model run with timers that fire exactly on time, the reference the timer-wheel
    tolerances of ``timing`` are measured from."""
    return simulate(scenario_for(record, timer_wheel="off"))


def _client_ips(record: Record) -> list[str]:
    return sorted({pk[2].split(":")[0] for pk in record.get("packets", ()) if pk[1] == "SYN"})


# ---- helpers for checks ------------------------------------------------------------------------

def _counters(measured: Mapping[str, int], model: Mapping[str, int], names: list[str] | None = None) -> tuple[
        dict[str, int], dict[str, int], bool]:
    """Compare the counters the model keeps (or `names`): measured.get(name, 0) == model[name]."""
    keys = names if names is not None else sorted(model)
    m = {k: measured.get(k, 0) for k in keys}
    s = {k: model.get(k, 0) for k in keys}
    return m, s, m == s


def _schedule_check(name: str, measured: list[float], ideal: list[float], hz: int) -> Check:
    """Each interval between consecutive sends within the timer-wheel bounds of the model's."""
    if len(measured) != len(ideal):
        return Check(name, measured, ideal, "same number of sends", False)
    got = [round(x, 4) for x in timing.intervals(measured)]
    want = [round(x, 4) for x in timing.intervals(ideal)]
    ok = all(timing.within(g, w, hz) for g, w in zip(got, want, strict=True))
    return Check(name, got, want, f"each interval: -1 jiffy .. +wheel granularity + 1 jiffy + {timing.SLACK * 1000:g} ms", ok)


def _hz(record: Record) -> int:
    return record.get("hz") or timing.HZ


def _server_times(res: Result, kind: str, client: int | None = None) -> list[float]:
    return [pk.time for pk in res.packets if pk.sender == "server" and pk.kind == kind
            and (client is None or pk.client == client)]


def _binomial_ok(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1


# ---- the checks of each experiment ------------------------------------------------------------------

def _syn_schedule(rec: Record) -> list[Check]:
    r, hz = rec["result"], _hz(rec)
    res = _textbook(rec)
    c = res.clients[0]
    model_syns = list(c.syn_times)
    gave_up = r["gave_up"]
    checks = [
        Check("syn_count", len(r["syn_times"]), len(model_syns), "exact", len(r["syn_times"]) == len(model_syns)),
        _schedule_check("syn_intervals", r["syn_times"], model_syns, hz),
        Check("errno", r["errno"], c.errno, "exact", r["errno"] == c.errno),
    ]
    if gave_up is None or c.failed_at is None:
        checks.append(Check("give_up", gave_up, c.failed_at, "both give up", False))
    else:
        last, model_last = r["syn_times"][-1], model_syns[-1]
        got, want = round(gave_up - last, 4), round(c.failed_at - model_last, 4)
        checks.append(Check("give_up", got, want, f"after the last SYN: -1 jiffy .. +granularity + 1 jiffy + {timing.SLACK * 1000:g} ms",
                            timing.within(got, want, hz)))
    m, s, ok = _counters(rec["counters"]["client"], res.client_counters)
    checks.append(Check("client_counters", m, s, "exact, the counters the model keeps", ok))
    # the listener answers each SYN (at once for a retransmitted one) and retransmits on its own timer
    jiffy = 1 / hz
    got_n = sum(t <= (gave_up or 0) + jiffy for t in r["synack_times"])
    model_synacks = _server_times(res, "SYN-ACK")
    want_n = sum(t <= (c.failed_at or 0) + jiffy for t in model_synacks)
    racing = _racing_synacks(model_synacks, c.failed_at, model_syns[-1], hz)
    checks.append(Check("server_synacks", got_n, want_n, "SYN-ACKs sent until connect() gave up (+1 jiffy): exact, "
                        f"less the {racing} whose timer races the give-up" if racing else
                        "SYN-ACKs sent until connect() gave up (+1 jiffy): exact", want_n - racing <= got_n <= want_n))
    m, s, ok = _counters(rec["counters"]["server"], res.server_counters)
    ok = ok or any(m == {k: v - lost if k in RETRANSMISSION_COUNTERS else v for k, v in s.items()}
                   for lost in range(1, racing + 1))
    checks.append(Check("server_counters", m, s, "exact, the counters the model keeps (less the racing SYN-ACKs' "
                        "retransmission counters)" if racing else "exact, the counters the model keeps", ok))
    return checks


RETRANSMISSION_COUNTERS = ("TcpExtTCPSynRetrans", "TcpRetransSegs", "TcpExtTCPTimeouts")
"""What one SYN-ACK sent by the listener's timer bumps (reqsk_timer_handler -> tcp_syn_ack_timeout,
inet_rtx_syn_ack)."""


def _racing_synacks(synacks: list[float], gave_up: float | None, last_syn: float, hz: int) -> int:
    """How many of the listener's timer SYN-ACKs the model sends within one timer-wheel granularity of
    the client's give-up. Both timers are armed at the last SYN for the same delay and usually share a
    wheel bucket: which one the kernel runs first, and whether the experiment (which ends when
    connect() fails) still sees that SYN-ACK, depends on the tick each was armed in, which the model
    cannot tell from its textbook run."""
    if gave_up is None:
        return 0
    granularity = timing.wheel_granularity(gave_up - last_syn, hz)
    return sum(abs(t - gave_up) <= granularity for t in synacks if t > last_syn + 1 / hz)


def _synack_schedule(rec: Record) -> list[Check]:
    r, p, hz = rec["result"], rec["params"], _hz(rec)
    res = _textbook(rec)
    model_synacks = _server_times(res, "SYN-ACK", 0)
    t0 = model_synacks[0]
    model_synacks = [t - t0 for t in model_synacks]
    expiry = [ev.time - t0 for ev in res.trace if ev.action == "synack_give_up"]
    checks = [
        Check("synack_count", len(r["synack_times"]), len(model_synacks), "exact",
              len(r["synack_times"]) == len(model_synacks)),
        _schedule_check("synack_intervals", r["synack_times"], model_synacks, hz),
    ]
    if r["expired"] is None or not expiry:
        checks.append(Check("expiry", r["expired"], expiry[0] if expiry else None, "both expire", False))
    else:
        last, model_last = r["synack_times"][-1], model_synacks[-1]
        want = round(expiry[0] - model_last, 4)
        lo, hi = timing.interval_bounds(want, hz)
        got = (round(r["last_seen"] - last, 4), round(r["expired"] - last, 4))
        ok = got[0] <= hi and got[1] >= lo and got[1] - got[0] <= p["poll"] + 0.05
        checks.append(Check("expiry", got, want, "request gone between two polls, within the timer bounds", ok))
    m, s, ok = _counters(rec["counters"]["server"], res.server_counters)
    checks.append(Check("server_counters", m, s, "exact, the counters the model keeps", ok))
    m, s, ok = _counters(rec["counters"]["client"], res.client_counters)
    checks.append(Check("client_counters", m, s, "exact, the counters the model keeps", ok))
    return checks


def _syn_queue(rec: Record) -> list[Check]:
    r, p = rec["result"], rec["params"]
    sc = scenario_for(rec)
    res = simulate(sc)
    ss = res.ss()
    closed = syn_queue_capacity(sc.kernel, p["backlog"])
    m, s, ok = _counters(rec["counters"]["server"], res.server_counters)
    return [
        Check("syn_recv", r["syn_recv"], ss.syn_recv, "exact", r["syn_recv"] == ss.syn_recv),
        Check("syn_queue_capacity", r["syn_recv"], closed, "exact (closed form)", r["syn_recv"] == closed),
        Check("server_counters", m, s, "exact, the counters the model keeps", ok),
    ]


def _syn_flood(rec: Record) -> list[Check]:
    r = rec["result"]
    res = simulate(scenario_for(rec))
    legit = res.clients[0]
    ss = res.ss()
    extra = r["flood_syns"] - res.packets.tally("SYN", "flood")  # if the model sent fewer flood SYNs
    per_syn = {"TcpExtListenDrops", "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies", "TcpExtSyncookiesSent"}
    model_counters = {k: v + (extra if k in per_syn and v else 0) for k, v in res.server_counters.items()}
    m, s, ok = _counters(rec["counters"]["server"], model_counters)
    model_in = legit.connected_at is not None
    return [
        Check("legit_connects", r["legit_connected"], model_in, "exact", r["legit_connected"] == model_in),
        Check("syn_recv", r["syn_recv"], ss.syn_recv, "exact", r["syn_recv"] == ss.syn_recv),
        Check("accept_queue", r["accept_queue"], ss.recv_q, "exact", r["accept_queue"] == ss.recv_q),
        Check("server_counters", m, s, "exact, flood-SYN counters shifted by any difference in flood size", ok),
    ]


def _accept_overflow(rec: Record) -> list[Check]:
    r, hz = rec["result"], _hz(rec)
    res = _textbook(rec)
    second = res.clients[3]
    model_rst = [pk.time for pk in res.packets if pk.sender == "server" and pk.kind == "RST"]
    got = r["synacks"][str(r["raw_ports"][1])]
    want = [t for t in _server_times(res, "SYN-ACK", 3)]
    ok = len(got) == len(want) and all(timing.within(g - got[0], w - want[0], hz) for g, w in zip(got, want, strict=True))
    m, s, cok = _counters(rec["counters"]["server"], res.server_counters)
    # the raw client is ESTABLISHED once it sent its ACK, unless the listener answers with an RST
    outcome = "reset" if r["rst_to"] else "established"
    return [
        Check("rst_to_second", bool(r["rst_to"]), bool(model_rst), "exact", bool(r["rst_to"]) == bool(model_rst)),
        Check("second_outcome", outcome, second.outcome, "exact", outcome == second.outcome),
        Check("second_synacks", [round(t, 4) for t in got], [round(t, 4) for t in want],
              "same count, times from the first within timer bounds", ok),
        Check("accept_queue", r["accept_queue"], res.ss().recv_q, "exact", r["accept_queue"] == res.ss().recv_q),
        Check("server_counters", m, s, "exact, the counters the model keeps", cok),
    ]


def _latency_buckets(latencies: list[float | None], limit: float) -> Counter[str]:
    """connect() latencies rounded to the retransmission that got through: "0", "1", ... or "none"."""
    return Counter("none" if x is None or x > limit else str(round(x)) for x in latencies)


def _loss(rec: Record) -> list[Check]:
    r, p, hz = rec["result"], rec["params"], _hz(rec)
    n = len(r["latency"])
    sc = scenario_for(rec, timer_wheel="off")  # textbook: the lateness is checked per latency below
    runs = [simulate(sc.replace(seed=seed)) for seed in range(1, 9)]  # 8 x n model clients
    model_lat = [c.latency for res in runs for c in res.clients]
    want = _latency_buckets(model_lat, p["limit"])
    got = _latency_buckets(r["latency"], p["limit"])
    total = len(model_lat)
    keys = sorted(set(want) | set(got), key=lambda k: (k == "none", k.zfill(3)))
    dist_ok = all(_binomial_ok(got.get(k, 0), n, want.get(k, 0) / total) for k in keys)
    # within a bucket k the latency is k RTOs of 1 s, each late by at most one level-1 granule
    late_ok = all(x is None or x - round(x) <= round(x) * (timing.wheel_granularity(1.0, hz) + 1 / hz + timing.SLACK) + 0.01
                  and x >= round(x) - 0.01 for x in r["latency"])
    p0 = (1 - p["loss_percent"] / 100) ** 2
    return [
        Check("latency_buckets", dict(sorted(got.items())), {k: round(v * n / total, 1) for k, v in sorted(want.items())},
              "each bucket within 4 binomial standard errors", dist_ok),
        Check("first_try", got.get("0", 0), round(n * p0, 1), "(1 - loss)^2 of the clients, 4 standard errors",
              _binomial_ok(got.get("0", 0), n, p0)),
        Check("latency_within_bucket", max((x - round(x) for x in r["latency"] if x is not None), default=0.0),
              0.0, f"each latency k s + k x (32 ms granule + 1 jiffy + {timing.SLACK * 1000:g} ms)", late_ok),
    ]


def _steps(ports: list[int]) -> list[int]:
    return [b - a for a, b in pairwise(ports)]


def _ports(rec: Record) -> list[Check]:
    got = rec["result"]["ports"]
    res = simulate(scenario_for(rec))
    want = [c.port for c in res.clients]
    gs, ws = _steps(got), _steps(want)
    small = [s for s in gs if 2 <= s <= 16 and s % 2 == 0]
    model_small = [s for s in ws if 2 <= s <= 16 and s % 2 == 0]
    counts = Counter(small)
    uniform_ok = all(_binomial_ok(counts.get(v, 0), len(small), 1 / 8) for v in range(2, 18, 2))
    mean_got = sum(small) / max(1, len(small))
    mean_want = sum(model_small) / max(1, len(model_small))
    return [
        Check("parity", Counter(x % 2 for x in got)[1], Counter(x % 2 for x in want)[1], "odd ports: exact",
              Counter(x % 2 for x in got)[1] == Counter(x % 2 for x in want)[1]),
        Check("small_steps", round(len(small) / len(gs), 3), round(len(model_small) / len(ws), 3),
              "share of steps in 2..16, both >= 0.97 (one re-salt every 10 s may jump)",
              len(small) / len(gs) >= 0.97 and len(model_small) / len(ws) >= 0.97),
        Check("step_uniform", dict(sorted(counts.items())), round(len(small) / 8, 1),
              "each even step 2..16 with probability 1/8, 4 standard errors", uniform_ok),
        Check("step_mean", round(mean_got, 2), round(mean_want, 2), "+-1.0 (expected 9)",
              abs(mean_got - mean_want) <= 1.0),
    ]


def _herd_checks(rec: Record) -> list[Check]:
    """Who got in when, and what the listener counted. Model and kernel both run their timers on a
    timer wheel (the model's jiffies phase comes from the seed, not the machine), so either
    connect() can be later than the other by up to a granule; with textbook timers
    (``timer_wheel="off"``) a real connect() can only be later than the model's."""
    r, hz = rec["result"], _hz(rec)
    res = simulate(scenario_for(rec))
    got = [c["connected_at"] for c in r["clients"]]
    want = [c.connected_at for c in res.clients]
    tol = timing.wheel_granularity(1.0, hz) + 1 / hz + timing.SLACK
    lo = -tol if res.kernel.timer_wheel != "off" else -0.005
    same = [g is None and w is None or (g is not None and w is not None and lo <= g - w <= tol)
            for g, w in zip(got, want, strict=True)]
    checks = [
        Check("connected", [None if g is None else round(g, 3) for g in got],
              [None if w is None else round(w, 3) for w in want],
              f"per client: both waiting, or connected within {lo * 1000:+.0f} .. +{tol * 1000:.0f} ms", all(same)),
    ]
    if "counters" in rec and "server" in rec["counters"]:
        m, s, ok = _counters(rec["counters"]["server"], res.server_counters)
        checks.append(Check("server_counters", m, s, "exact, the counters the model keeps", ok))
        listener = rec["ss"]["listener"].split()
        checks.append(Check("accept_queue", int(listener[1]), res.ss().recv_q, "exact",
                            int(listener[1]) == res.ss().recv_q))
    return checks


def _herd(rec: Record) -> list[Check]:
    checks = _herd_checks(rec)
    waiting = [c["syn_times"] for c in rec["result"]["clients"] if len(c.get("syn_times", ())) > 1]
    if waiting:  # measurement only: do the waiters' first retransmissions leave together?
        second = [t[1] for t in waiting]
        spread = max(second) - min(second)
        checks.append(Check("retransmit_together", round(spread * 1000, 3), "<= 4 ms (one jiffy)", "spread in ms",
                            spread <= 1 / _hz(rec)))
    return checks


def _accept_capacity(rec: Record) -> list[Check]:
    r, p = rec["result"], rec["params"]
    sc = scenario_for(rec)
    res = simulate(sc)
    cap = accept_capacity(sc.kernel, p["backlog"])
    checks = [
        Check("connected", r["connected"], res.connected(), "exact",
              r["connected"] == res.connected()),
        Check("accept_capacity", r["connected"], cap, "exact (closed form)", r["connected"] == cap),
        Check("recv_q", r["recv_q"], res.ss().recv_q, "exact", r["recv_q"] == res.ss().recv_q),
    ]
    if r.get("send_q") is None:  # no ss on this machine: /proc/net/tcp does not show the limit
        checks.append(Check("send_q", None, res.ss().send_q, "not measured (no ss)", True))
    else:
        checks.append(Check("send_q", r["send_q"], res.ss().send_q, "exact", r["send_q"] == res.ss().send_q))
    if "counters" in rec:
        m, s, ok = _counters(rec["counters"]["server"], res.server_counters)
        checks.append(Check("server_counters", m, s, "exact, the counters the model keeps", ok))
    return checks


CHECKERS: dict[str, Callable[[Record], list[Check]]] = {
    "syn_schedule": _syn_schedule,
    "synack_schedule": _synack_schedule,
    "syn_queue": _syn_queue,
    "syn_flood": _syn_flood,
    "accept_overflow": _accept_overflow,
    "loss": _loss,
    "ports": _ports,
    "herd": _herd,
    "loopback_herd": _herd_checks,
    "accept_capacity": _accept_capacity,
    "loopback_accept_capacity": _accept_capacity,
    **compare_apps.CHECKERS,
}


_COUNTERS = ("server_counters",)
_HERD = ("connected", "server_counters", "accept_queue")
CHECK_NAMES: dict[str, tuple[str, ...]] = {
    "syn_schedule": ("syn_count", "syn_intervals", "errno", "give_up", "client_counters", "server_synacks",
                     "server_counters"),
    "synack_schedule": ("synack_count", "synack_intervals", "expiry", "server_counters", "client_counters"),
    "syn_queue": ("syn_recv", "syn_queue_capacity", *_COUNTERS),
    "syn_flood": ("legit_connects", "syn_recv", "accept_queue", *_COUNTERS),
    "accept_overflow": ("rst_to_second", "second_outcome", "second_synacks", "accept_queue", *_COUNTERS),
    "loss": ("latency_buckets", "first_try", "latency_within_bucket"),
    "ports": ("parity", "small_steps", "step_uniform", "step_mean"),
    "herd": (*_HERD, "retransmit_together"),
    "loopback_herd": ("connected",),
    "accept_capacity": ("connected", "accept_capacity", "recv_q", "send_q", *_COUNTERS),
    "loopback_accept_capacity": ("connected", "accept_capacity", "recv_q", "send_q"),
    **compare_apps.CHECK_NAMES,
}
"""The checks each kind of record gets, known before any model runs (for test parametrisation)."""


def checks(record: Record) -> dict[str, Check]:
    """Every check of one record, by name (the names of CHECK_NAMES[record["experiment"]])."""
    return {c.name: c for c in CHECKERS[record["experiment"]](record)}


KNOWN_MISMATCHES: dict[tuple[str, str], str] = {}
"""(fixture name, check name) -> why the model disagrees with the kernel there. The tests turn each
into a strict xfail, so a model change that fixes one shows up as an XPASS. Kept here so that the
fixture and the live tests agree. Empty since the model's timers became the kernel's by default
(``timer_wheel``): the herd after accept() was the last disagreement."""


# ---- timer lateness --------------------------------------------------------------------------------

def timer_lateness(records: Mapping[str, Record]) -> dict[str, Any]:
    """How late the kernel's SYN and SYN-ACK timers fired, against the model's ideal intervals,
    per ideal delay, from the schedule and herd records."""
    syn, synack, expiry = [], [], []
    for rec in records.values():
        kind = rec["experiment"]
        if kind == "syn_schedule":
            res = _textbook(rec)
            c, r = res.clients[0], rec["result"]
            syn += timing.lateness(r["syn_times"], list(c.syn_times))
            if r["gave_up"] is not None and c.failed_at is not None:
                syn += timing.lateness([r["syn_times"][-1], r["gave_up"]], [c.syn_times[-1], c.failed_at])
        elif kind == "synack_schedule":
            res = _textbook(rec)
            r = rec["result"]
            ideal = _server_times(res, "SYN-ACK", 0)
            synack += timing.lateness(r["synack_times"], [t - ideal[0] for t in ideal])
            gone = [ev.time for ev in res.trace if ev.action == "synack_give_up"]
            if gone and r["expired"] is not None:
                expiry += timing.lateness([r["synack_times"][-1], r["expired"]], [ideal[-1], gone[0]])
        elif kind in ("herd", "loopback_herd"):
            for cl in rec["result"]["clients"]:
                t = cl.get("syn_times", ())
                syn += timing.lateness(t[:2], [0.0, 1.0]) if len(t) > 1 else []
    return {"syn_rto": timing.summarize(syn), "synack_rto": timing.summarize(synack),
            "synack_expiry_polled": timing.summarize(expiry)}
