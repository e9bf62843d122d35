"""The graded exercises: for each question its points, the lesson section behind it, and how its
answer is computed or keyed. Nothing here is an answer in plain text: numbers are computed from the
model when checked, letters and counter names are salted hashes (``keys.digest``).

The notebooks live in exercises/source/<slug>/<slug>.ipynb (with solutions) and
exercises/release/<slug>/<slug>.ipynb (generated for learners by ``release``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...analysis.latency import percentile
from ...model import Kernel, accept_capacity, syn_queue_capacity, syn_schedule, synack_schedule
from ...model.rules import defer_accept_rounds, effective_backlog, tw_timer_mode
from ...model.timers import interval_bounds
from .. import exhibits
from ..questions import (
    CORRECT,
    PARTLY,
    WRONG,
    Choice,
    CounterName,
    Exercise,
    Function,
    Group,
    Number,
    Ref,
    Replay,
    Verdict,
    Version,
    shown,
)

# ---- lesson sections the feedback points to ---------------------------------------------------

# Section titles are the lessons' own headings (tests/test_exercises.py checks that they exist).
LISTEN_CLAMP = Ref("01", "From `backlog` to a limit")
LISTEN_ZERO = Ref("01", "`listen(fd, 0)` with syncookies off")
ACCEPT_LIMIT = Ref("01", "The accept queue holds backlog + 1")
SYN_QUEUE = Ref("01", "The SYN queue: three rules in four versions")
BACKOFF = Ref("02", "The SYN retransmission timer")
COOKIES = Ref("03", "`tcp_syncookies`: 0, 1, 2")
LAST_QUARTER = Ref("03", "The last quarter of `tcp_max_syn_backlog`")
COUNTERS = Ref("03", "Counters")
THIRD_ACK = Ref("04", "A full accept queue at the third ACK")
SYNACK_TIMER = Ref("04", "A lost third ACK")
LINEAR = Ref("06", "Where the steps come from")
FLOOD_SIZING = Ref("07", "Backlog and `tcp_max_syn_backlog`")
TIME_MACHINE = Ref("08", "What changed, and when")
FORENSICS = Ref("09", "Reading the counters")
CAPTURE_READ = Ref("12", "A handshake in a capture")
CAPTURE_LAB = Ref("12", "The lab's captures")
CAPTURE_WHERE = Ref("12", "Where was it taken?")
CAPTURE_SCHEDULE = Ref("12", "Which kernel sent these SYNs?")
CAPTURE_CAUSE = Ref("12", "The same run, seen from the server")
CONNECT_STEPS = Ref("02", "What `connect()` does")
PORTS_HELD = Ref("02", "Out of ports: TIME_WAIT")
SPEAK_FIRST = Ref("04", "Clients that speak first")
REUSEPORT = Ref("11", "One listening socket per worker: SO_REUSEPORT")
APP_BACKLOGS = Ref("11", "Applications' own backlogs, and how to read the one that applies")
DEFER_ACCEPT = Ref("11", "TCP_DEFER_ACCEPT: wake the application only when there is something to read")


def hint_if(table: dict[float, str]) -> Callable[[float, float], str | None]:
    """A hint for answers that are known misconceptions (keyed by the wrong answer)."""
    return lambda got, expected: table.get(got)


def hint_near(table: dict[float, str], within: float) -> Callable[[float, float], str | None]:
    """A hint for answers within ``within`` of a known misconception (keyed by that wrong answer)."""
    def hint(got: float, expected: float) -> str | None:
        return next((text for wrong, text in table.items() if abs(got - wrong) <= within), None)
    return hint


# ---- ex01: the accept queue ------------------------------------------------------------------

def _accept_capacity(backlog: int, somaxconn: int, width: int) -> int:
    # 2.6.32 for the 16-bit field: 3.10 has one too, but refuses a somaxconn above 65535
    return accept_capacity(Kernel("2.6.32" if width == 16 else "6.18", somaxconn=somaxconn), backlog)


EX01 = Exercise("ex01", "ex01_accept_capacity", (
    Number(id="q1", points=1, ref=ACCEPT_LIMIT, name="q1", expected=lambda: accept_capacity("6.18", 128),
           hint=hint_if({128: "128 is the backlog; look at how sk_acceptq_is_full() compares the queue "
                              "length with it, and when it makes that test."})),
    Number(id="q2", points=1, ref=LISTEN_CLAMP, name="q2", expected=lambda: effective_backlog(Kernel("3.10"), 1024),
           hint=hint_if({1024: "listen() does not keep a backlog larger than net.core.somaxconn, and this "
                               "server has 3.10's default somaxconn."})),
    Number(id="q3", points=1, ref=ACCEPT_LIMIT, name="q3", expected=lambda: accept_capacity("3.10", 1024),
           hint=hint_if({1024: "the backlog is clamped before it is stored.",
                         1025: "the backlog is clamped before it is stored.",
                         128: "that is the stored backlog (Send-Q); the queue holds a different number."})),
    Number(id="q4", points=1, ref=LISTEN_CLAMP, name="q4", expected=lambda: accept_capacity("6.18", -1),
           hint=hint_if({0: "a negative backlog does not mean zero: __sys_listen compares it as unsigned.",
                         1: "a negative backlog does not mean zero: __sys_listen compares it as unsigned."})),
    Number(id="q5", points=1, ref=LISTEN_CLAMP, name="q5",
           expected=lambda: effective_backlog(Kernel("2.6.32", somaxconn=70000), 70000),
           hint=hint_if({70000: "2.6.32 stores the backlog in a field narrower than an int.",
                         65535: "the value is not capped at the largest 16-bit number; think of what "
                                "storing it in 16 bits does."})),
    Function(id="q6", points=3, ref=ACCEPT_LIMIT, name="accept_queue_capacity", groups=(
        Group("backlog within somaxconn", 1,
              ((128, 4096, 32), (0, 128, 16), (5, 128, 16), (1000, 4096, 32), (4095, 4096, 32)),
              _accept_capacity, "How does sk_acceptq_is_full() test for a full queue?"),
        Group("backlog above somaxconn or negative", 1,
              ((1024, 128, 16), (-1, 4096, 32), (5000, 4096, 32), (-20, 128, 16), (2**31 - 1, 4096, 32)),
              _accept_capacity, "What does __sys_listen do with a backlog above somaxconn, or below zero?"),
        Group("16-bit field, somaxconn above 65535 (2.6.32)", 1,
              ((70000, 70000, 16), (65535, 65536, 16), (65536, 65536, 16), (-1, 100000, 16), (70000, 70000, 32)),
              _accept_capacity, "What happens to a number above 65535 stored in an unsigned short?"),
    )),
))


# ---- ex02: the SYN queue -----------------------------------------------------------------------

def _syn_limit(version: str, backlog: int, max_syn_backlog: int) -> int:
    return syn_queue_capacity(Kernel(version, somaxconn=65535, tcp_max_syn_backlog=max_syn_backlog), backlog)


_TABLE_HINT = "On 3.10 the SYN queue is a hash table sized when listen() is called; its size is not the backlog."

EX02 = Exercise("ex02", "ex02_syn_queue", (
    Number(id="q1", points=1, ref=SYN_QUEUE, name="q1", expected=lambda: syn_queue_capacity("3.10", 100),
           hint=hint_if({100: _TABLE_HINT, 101: _TABLE_HINT,
                         1024: "tcp_max_syn_backlog is only an upper bound of the table size here."})),
    Number(id="q2", points=1, ref=SYN_QUEUE, name="q2", expected=lambda: syn_queue_capacity("5.15", 100),
           hint=hint_if({101: "the SYN-queue-full test changed in 6.13; 5.15 has the older one.",
                         128: "5.15 has no SYN hash table any more (it went in 4.4)."})),
    Number(id="q3", points=1, ref=SYN_QUEUE, name="q3", expected=lambda: syn_queue_capacity("6.18", 100),
           hint=hint_if({100: "the SYN-queue-full test changed in 6.13: compare `>` with `>=`.",
                         128: "6.18 has no SYN hash table any more (it went in 4.4)."})),
    Number(id="q4", points=1, ref=SYN_QUEUE, name="q4", expected=lambda: syn_queue_capacity("3.10", 5),
           hint=hint_if({5: _TABLE_HINT, 6: _TABLE_HINT, 8: "the table has a minimum size, and then one "
                                                            "more step is taken before rounding."})),
    Number(id="q5", points=1, ref=LAST_QUARTER, name="q5",
           expected=lambda: syn_queue_capacity(Kernel("6.18", tcp_syncookies=0, tcp_max_syn_backlog=128), 4096),
           hint=hint_if({4096: "with syncookies off another limit applies before the backlog.",
                         4097: "with syncookies off another limit applies before the backlog.",
                         128: "the limit reserves part of tcp_max_syn_backlog for proven peers.",
                         96: "the test is made before the request is added: count the request that passes "
                             "it last."})),
    Choice(id="q6", points=1, ref=SYN_QUEUE, name="q6", key="f8bc77c93d3809d4a3b918aa"),
    Function(id="q7", points=3, ref=SYN_QUEUE, name="syn_queue_limit", groups=(
        Group("3.10 (a hash table)", 1,
              (("3.10", 0, 1024), ("3.10", 7, 1024), ("3.10", 15, 1024), ("3.10", 16, 1024), ("3.10", 100, 1024),
               ("3.10", 128, 128), ("3.10", 511, 1024), ("3.10", 512, 1024), ("3.10", 4096, 256)),
              _syn_limit, "Follow reqsk_queue_alloc: min, max, +1, round up to a power of two."),
        Group("5.15", 1, (("5.15", 100, 2048), ("5.15", 0, 2048), ("5.15", 4096, 128), ("5.15", 1, 2048)),
              _syn_limit, "Which test does inet_csk_reqsk_queue_is_full() make in 4.4 to 6.12?"),
        Group("6.18", 1, (("6.18", 100, 2048), ("6.18", 0, 2048), ("6.18", 4096, 128), ("6.18", 1, 2048)),
              _syn_limit, "Which test does inet_csk_reqsk_queue_is_full() make since 6.13?"),
    )),
))


# ---- ex03: SYN retransmission and connect() timeouts -----------------------------------------------

def _syn_times(syn_retries: int, linear_timeouts: int, rto: float) -> tuple[list[float], float]:
    s = syn_schedule(Kernel("6.18", tcp_syn_retries=syn_retries, tcp_syn_linear_timeouts=linear_timeouts,
                            tcp_timeout_init=rto))
    return list(s.send_times), s.give_up


_LAST_SYN = "That is when the last SYN is sent; connect() waits one more RTO before it fails."

EX03 = Exercise("ex03", "ex03_syn_retransmission", (
    Number(id="q1", points=1, ref=BACKOFF, name="q1", unit="seconds", expected=lambda: syn_schedule("3.10").give_up,
           hint=hint_if({63: _LAST_SYN, 131: "3.10 has no linear timeouts.",
                         180: "that was 2.6.x with 5 retries and a 3 s initial RTO, on paper."})),
    Number(id="q2", points=1, ref=LINEAR, name="q2", unit="seconds", expected=lambda: syn_schedule("6.18").give_up,
           hint=hint_if({127: "6.18 has tcp_syn_linear_timeouts; what does its default change?",
                         67: _LAST_SYN})),
    Number(id="q3", points=1, ref=LINEAR, name="q3", expected=lambda: len(syn_schedule("6.18").send_times),
           hint=hint_if({10: "count the first SYN too.",
                         7: "that would be 3.10; 6.18 retransmits more often."})),
    Function(id="q4", points=4, ref=BACKOFF, name="syn_send_times", groups=(
        Group("exponential backoff (linear_timeouts=0)", 1,
              ((1, 0, 1.0), (2, 0, 1.0), (3, 0, 1.0), (6, 0, 1.0)), _syn_times,
              "The RTO doubles after every retransmission; when does tcp_write_timeout() say stop?"),
        Group("linear timeouts", 1,
              ((6, 4, 1.0), (1, 4, 1.0), (2, 4, 1.0), (3, 4, 1.0), (5, 2, 1.0)), _syn_times,
              "With linear timeouts, two limits apply: a count and a time. Which one fires first?"),
        Group("RTO capped at 120 s", 1,
              ((8, 0, 1.0), (10, 0, 1.0), (9, 4, 1.0)), _syn_times,
              "No RTO exceeds TCP_RTO_MAX, and the time limit counts capped RTOs too."),
        Group("other initial RTOs", 1,
              ((5, 0, 3.0), (6, 4, 0.5), (4, 1, 0.2)), _syn_times,
              "Every step scales with the initial RTO, but TCP_RTO_MAX stays 120 s."),
    )),
    Number(id="q5", points=1, ref=LINEAR, name="q5", unit="seconds",
           expected=lambda: syn_schedule("6.18", syncnt=2).give_up,
           hint=hint_if({11: "the count limit is not the only limit: a time limit, computed as if the "
                             "backoff were exponential, applies too."})),
))


# ---- ex04: SYN-ACK retransmission -----------------------------------------------------------------

EX04 = Exercise("ex04", "ex04_synack_retries", (
    Number(id="q1", points=1, ref=SYNACK_TIMER, name="q1", expected=lambda: synack_schedule("6.18").retransmissions,
           hint=hint_if({6: "count retransmissions only, not the first SYN-ACK."})),
    Number(id="q2", points=1, ref=SYNACK_TIMER, name="q2", unit="seconds",
           expected=lambda: synack_schedule("6.18").give_up,
           hint=hint_if({31: "the last SYN-ACK goes out then; the request is dropped one timeout later."})),
    Number(id="q3", points=1, ref=SYNACK_TIMER, name="q3", unit="seconds",
           expected=lambda: synack_schedule(Kernel("6.18", tcp_synack_retries=2)).give_up,
           hint=hint_if({3: "the last SYN-ACK goes out then; the request is dropped one timeout later."})),
    Number(id="q4", points=1, ref=SYNACK_TIMER, name="q4", unit="seconds",
           expected=lambda: synack_schedule("2.6.32").give_up,
           hint=hint_if({63: "2.6.32 does not start from the same initial RTO as 3.10."})),
    Choice(id="q5", points=1, ref=SYNACK_TIMER, name="q5", key="ed825fc6f6669aa4f066b536"),
    Number(id="q6", points=2, ref=SYNACK_TIMER, name="q6",
           expected=lambda: exhibits.ex04_result().server_counters["TcpExtTCPTimeouts"],
           hint=hint_if({15: "TCPTimeouts also counts the timeout at which a request is dropped.",
                         5: "there are three clients.", 6: "there are three clients."})),
    Choice(id="q7", points=1, ref=THIRD_ACK, name="q7", key="9948f515242ca375aa3ced9a"),
))


# ---- ex05: reading a ladder and a kernel trace --------------------------------------------------------

def _ex05_client() -> Any:
    return exhibits.ex05_result().clients[exhibits.EX05_CLIENT]


def _ex05_synacks() -> int:
    packets = exhibits.ex05_result().packets.of_client(exhibits.EX05_CLIENT)
    return sum(1 for p in packets if p.sender == "server" and p.kind == "SYN-ACK")


def _ex05_overflow_counters() -> set[str]:
    events = exhibits.ex05_result().trace.of_client(exhibits.EX05_CLIENT)
    return {c for e in events if e.action == "ack_accept_queue_full" for c in e.counters}


EX05 = Exercise("ex05", "ex05_read_the_ladder", (
    Number(id="q1", points=1, ref=THIRD_ACK, name="q1", unit="seconds", tol=0.0005,
           expected=lambda: _ex05_client().connected_at,
           hint=hint_if({15.617: "that is when the server created the child; the client decided earlier."})),
    Number(id="q2", points=1, ref=SYNACK_TIMER, name="q2", expected=_ex05_synacks,
           hint=hint_if({4: "count the first SYN-ACK too."})),
    Choice(id="q3", points=2, ref=THIRD_ACK, name="q3", key="3dab04d2aeb89b4f9e88486d"),
    Number(id="q4", points=1, ref=THIRD_ACK, name="q4", unit="seconds", tol=0.0005,
           expected=lambda: _ex05_client().accepted_at,
           hint=hint_if({8.0: "accept() was called at 8 s, but was client 2 in the accept queue then?"})),
    Choice(id="q5", points=2, ref=THIRD_ACK, name="q5", key="3ab71c4a1df6233470c9ccf8"),
    CounterName(id="q6", points=1, ref=THIRD_ACK, name="q6", accepted=_ex05_overflow_counters),
))


# ---- ex06: counter forensics ------------------------------------------------------------------------

_CAUSE_KEYS = {"a": "5fe96d419f77c13b5de5937a", "b": "149be3f88c34cba815f7336b", "c": "be1946f5931e3dfb3e899517",
               "d": "d83c7c2bd946ff1a5524b64c", "e": "12d8844e12fbce10e902df79"}
_FIX_KEYS = {"a": "470605a4ba9df6efb708dd70", "b": "626f73d5307b232dea7de7b4", "c": "73677a1725af6d11d0a55e75",
             "d": "242f92d1ac2587dd9d62b3b7", "e": "236b6321cfe099597fd09b84"}


def _forensics_questions() -> tuple[Choice, ...]:
    qs = []
    for i, case in enumerate("abcde"):
        qs.append(Choice(id=f"q{2 * i + 1}", points=1, ref=FORENSICS, name=f"cause_{case}",
                         key=_CAUSE_KEYS[case], options="ABCDEF"))
        qs.append(Choice(id=f"q{2 * i + 2}", points=1, ref=FORENSICS, name=f"fix_{case}",
                         key=_FIX_KEYS[case], options="ABCDEF"))
    return tuple(qs)


EX06 = Exercise("ex06", "ex06_counter_forensics", _forensics_questions())


# ---- ex07: tuning for a flash crowd during a SYN flood ---------------------------------------------------

def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def judge_flood_day(settings: dict[str, Any]) -> Verdict:
    """Replay the learner's settings: 2 points if every connect() returns within the target, 2 more
    if the application also accept()s every connection within the target."""
    values = {name: _whole(v) for name, v in settings.items()}
    bad = [f"`{n}` should be a whole number; it is {shown(settings[n])}" for n, v in values.items() if v is None]
    if bad:
        return Verdict(0, WRONG, "; ".join(bad) + ".")
    try:
        o = exhibits.flood_outcome(**values)  # type: ignore[arg-type]
    except ValueError as err:
        return Verdict(0, WRONG, f"the kernel would refuse these settings: {err}.")
    target = exhibits.FLOOD_DAY["target"]
    points, notes = 0, []
    if o.slow_connect == 0:
        points += 2
    else:
        notes.append(f"{o.slow_connect} of {o.clients} connect() calls took longer than {target:g} s or failed.")
    if o.slow_accept == 0:
        points += 2
    else:
        notes.append(f"{o.slow_accept} of {o.clients} connections were not accept()ed within {target:g} s.")
    if not notes:
        return Verdict(points, CORRECT, "Well done: every client connected and was accepted in time.")
    moved = {k: v for k, v in o.result.server_counters.items() if v and k.startswith("TcpExt")}
    counters = ", ".join(f"{k}={v}" for k, v in moved.items()) or "none"
    return Verdict(points, PARTLY if points else WRONG,
                   f"In the replay of your settings {' '.join(notes)} Server counters: {counters}. {FLOOD_SIZING}")


EX07 = Exercise("ex07", "ex07_syn_flood_tuning", (
    Replay(id="q1", points=4, ref=FLOOD_SIZING, names=("backlog", "somaxconn", "tcp_syncookies"),
           judge=judge_flood_day),
    CounterName(id="q2", points=1, ref=COUNTERS, name="q2", keys=("5ae3c1ece57d32a4c066bdc2",)),
    Choice(id="q3", points=1, ref=COOKIES, name="q3", key="88df0b11513f8de79987e36b"),
))


# ---- ex08: which kernel made this trace? ------------------------------------------------------------------

EX08 = Exercise("ex08", "ex08_kernel_time_machine", tuple(
    Version(id=q, points=2, ref=TIME_MACHINE, name=q, key=m.key) for q, m in exhibits.MYSTERIES.items()))


# ---- ex09: listen(fd, 0) across versions -----------------------------------------------------------------------

_ZERO_HINT = ("Walk each SYN through the SYN-queue-full test of that version with backlog 0, and remember "
              "tcp_syncookies is 0.")

EX09 = Exercise("ex09", "ex09_listen_zero", (
    Number(id="q1", points=1, ref=LISTEN_ZERO, name="q1",
           expected=lambda: exhibits.listen_zero("3.10").connected(), hint=lambda g, e: _ZERO_HINT),
    Number(id="q2", points=1, ref=LISTEN_ZERO, name="q2",
           expected=lambda: exhibits.listen_zero("5.15").connected(), hint=lambda g, e: _ZERO_HINT),
    Number(id="q3", points=1, ref=LISTEN_ZERO, name="q3",
           expected=lambda: exhibits.listen_zero("6.18").connected(), hint=lambda g, e: _ZERO_HINT),
    Number(id="q4", points=1, ref=ACCEPT_LIMIT, name="q4",
           expected=lambda: exhibits.listen_zero("6.18").ss().recv_q,
           hint=hint_if({0: "Recv-Q of a listener is the accept queue's length; can listen(fd, 0) queue "
                            "a connection?"})),
    Choice(id="q5", points=2, ref=LISTEN_ZERO, name="q5", key="d980d5c4f1fb922c5593bbaa"),
    Number(id="q6", points=1, ref=COOKIES, name="q6",
           expected=lambda: exhibits.listen_zero("5.15", tcp_syncookies=1).connected(),
           hint=lambda g, e: "With syncookies on, what happens to a SYN that finds the SYN queue full?"),
))


# ---- ex10: a capture the learner has not seen ------------------------------------------------------------
# The capture is written by the model when the notebook runs (exhibits.ex10_capture), from a scenario whose
# kernel, backlog, vantage point and seed are salted keys; its numbers are read off that same capture here.

def _ex10_median() -> float:
    latencies = sorted(h.latency for h in exhibits.ex10_handshakes() if h.latency is not None)
    median = percentile(latencies, 0.5)
    assert median is not None
    return median


def _in_seconds(got: float, expected: float) -> str | None:
    if got > 100 * expected:
        return "the latency is asked in seconds."
    return None


_BACKLOG_HINTS = {
    10: "that is how many connections the accept queue held: how does its size follow from the backlog?",
    12: "count only the attempts whose final ACK the listener took: after an ignored ACK it sends its SYN-ACK "
        "again.",
    11: "count only the attempts whose final ACK the listener took: after an ignored ACK it sends its SYN-ACK "
        "again.",
}

EX10 = Exercise("ex10", "ex10_diagnose_a_capture", (
    Number(id="q1", points=1, ref=CAPTURE_READ, name="q1", expected=lambda: len(exhibits.ex10_handshakes()),
           hint=lambda got, expected: "count connection attempts (a SYN sent again is the same attempt), not "
                                      "packets." if got > expected else None),
    Choice(id="q2", points=2, ref=CAPTURE_WHERE, name="q2", key="24ed0e20e80ab2bddcc93834", options="ABC"),
    Number(id="q3", points=1, ref=CAPTURE_LAB, name="q3", unit="seconds", tol=0.05, expected=_ex10_median,
           hint=_in_seconds),
    Choice(id="q4", points=2, ref=CAPTURE_SCHEDULE, name="q4", key="bb2325ac8bb6bfeff2bc5b80"),
    Choice(id="q5", points=2, ref=CAPTURE_CAUSE, name="q5", key="bd2e65cfe6b8d1df9ed3506d"),
    Number(id="q6", points=2, ref=ACCEPT_LIMIT, name="q6", expected=lambda: exhibits.ex10_hidden()["backlog"],
           hint=hint_if(_BACKLOG_HINTS)),
))


# ---- ex11: a client host out of ports (TIME_WAIT) --------------------------------------------------------
# Every number is read off the model's run of the story (exhibits.ex11_result); tests/test_exercises_ex11_ex12.py
# holds each to the closed form a learner reasons with (ports / rate, TCP_TIMEWAIT_LEN = 60 s, Little's law).

def _ex11_failures(version: str | None = None, tcp_tw_reuse: int | None = None) -> int:
    return sum(1 for c in exhibits.ex11_result(version, tcp_tw_reuse).clients if c.outcome == "no_port")


def _ex11_first_failure() -> float:
    return next(c.start for c in exhibits.ex11_result().clients if c.outcome == "no_port")


def _ex11_ports_back() -> float:
    """The start of the first connect() after the first failure that got a port."""
    clients = exhibits.ex11_result().clients
    first = next(c.index for c in clients if c.outcome == "no_port")
    return next(c.start for c in clients[first:] if c.port is not None)


def _ex11_held() -> float:
    """How long one connection holds its port: from connect() to the end of its TIME_WAIT (the first one's)."""
    c = exhibits.ex11_result().clients[0]
    assert c.time_wait_until is not None
    return c.time_wait_until - c.start


def _ex11_steady_rate() -> float:
    """Little's law: the range's ports over the time each connection holds one."""
    low, high = exhibits.EX11_STORY["ports"]  # type: ignore[misc]
    return (high - low + 1) / _ex11_held()


def _ex11_reuse_counters() -> set[str]:
    """The counters a connect() that took a TIME_WAIT socket's port bumps, beyond those of any connect()."""
    events = exhibits.ex11_result(tcp_tw_reuse=1).trace
    plain = {c for e in events if e.action == "connect" for c in e.counters}
    return {c for e in events if e.action == "connect_tw_reuse" for c in e.counters} - plain


def _tw_window() -> float:
    """How late the story kernel's TIME_WAIT timer may end (its wheel's granularity at 60 s)."""
    k = Kernel(str(exhibits.EX11_STORY["kernel"]))
    lo, hi = interval_bounds(60.0, tw_timer_mode(k), k.hz)
    return hi - lo


_STILL_WAITING = ("a closed connection keeps its port: the side that closed first (here the client) waits in "
                  "TIME_WAIT for TCP_TIMEWAIT_LEN, 60 s, and __inet_hash_connect skips the ports such sockets hold.")
_NO_2MSL = ("Linux does not wait twice RFC 793's two-minute MSL: TCP_TIMEWAIT_LEN is 60 s "
            "(include/net/tcp.h), in every version.")
_REUSE_ONE = ("with tcp_tw_reuse = 1, tcp_twsk_unique lets connect() take the port of a TIME_WAIT socket to the "
              "same server once that socket is about a second old.")

EX11 = Exercise("ex11", "ex11_out_of_ports", (
    Number(id="q1", points=1, ref=CONNECT_STEPS, name="q1", unit="seconds", expected=_ex11_first_failure,
           hint=hint_near({
               60.2: "that is when the first port comes back; when were all of them taken?",
               10.2: "a port is taken when connect() picks it, not when the connection closes."}, 0.1)),
    Number(id="q2", points=2, ref=PORTS_HELD, name="q2", unit="seconds", tol=_tw_window() + 0.5,
           expected=_ex11_ports_back,
           hint=hint_near({
               10.0: _STILL_WAITING, 10.2: _STILL_WAITING, 10.25: _STILL_WAITING,
               70.0: "TIME_WAIT starts when each connection closes, not when the range runs out.",
               50.0: "the question asks for a time since t = 0, not a wait since the first failure.",
               120.0: _NO_2MSL, 240.0: _NO_2MSL}, 1.5)),
    Number(id="q3", points=1, ref=PORTS_HELD, name="q3", expected=_ex11_failures,
           hint=hint_if({
               1800: "the ports come back about 60 s after they were taken, in the order they were taken, and as "
                     "fast as they were taken.",
               0: _STILL_WAITING})),
    Number(id="q4", points=2, ref=PORTS_HELD, name="q4", unit="connections per second", tol=0.3,
           expected=_ex11_steady_rate,
           hint=hint_near({
               20.0: "20 a second is what the service asks for; the range cannot keep that up.",
               1000.0: _STILL_WAITING, 990.0: _STILL_WAITING}, 15.0)),
    Choice(id="q5", points=2, ref=PORTS_HELD, name="q5", key="528c8a53410fabb420eab2b4"),
    Number(id="q6", points=1, ref=PORTS_HELD, name="q6", expected=lambda: _ex11_failures(tcp_tw_reuse=1),
           hint=hint_if({1600: _REUSE_ONE})),
    CounterName(id="q7", points=1, ref=PORTS_HELD, name="q7", accepted=_ex11_reuse_counters),
    Number(id="q8", points=1, ref=PORTS_HELD, name="q8", expected=lambda: _ex11_failures("4.4", 2),
           hint=hint_if({
               1600: "2 means 'loopback only' since 4.18 (79e9fed46055); tcp_twsk_unique in 4.4 has no such "
                     "test."})),
))


# ---- ex12: nginx workers with SO_REUSEPORT, and TCP_DEFER_ACCEPT ---------------------------------------------

def _ex12_in_no_queue() -> int:
    """Clients of the burst that no worker's accept queue holds at t = 1 s."""
    r = exhibits.ex12_burst()
    return len(r.clients) - sum(r.ss(1.0, listener=i).recv_q for i in range(len(r.listeners)))


def _ex12_defer_counters() -> set[str]:
    return {c for e in exhibits.ex12_deferred(False).trace if e.action == "ack_defer_drop" for c in e.counters}


def _ex12_accepted(data: bool) -> float:
    at = exhibits.ex12_deferred(data).clients[0].accepted_at
    assert at is not None
    return at


_STORY = exhibits.EX12_STORY
_NO_LENDING = ("the group has more places than clients, but a worker's socket cannot lend a free place to "
               "another: count, worker by worker, those that do not fit.")
_ROUNDS = ("the kernel keeps no seconds: secs_to_retrans turns them into SYN-ACK timeouts of 1, 2, 4 ... s, "
           "as many as it takes for their sum to reach the seconds asked for.")

EX12 = Exercise("ex12", "ex12_behind_nginx", (
    Number(id="q1", points=1, ref=REUSEPORT, name="q1",
           expected=lambda: int(_STORY["workers"]) * accept_capacity(str(_STORY["kernel"]), int(_STORY["backlog"])),
           hint=hint_if({124: "each accept queue holds one more than its backlog (sk_acceptq_is_full).",
                         32: "that is one worker's socket; how many sockets are there?",
                         31: "that is one worker's backlog; how many sockets are there, and how many does "
                             "each hold?"})),
    Number(id="q2", points=1, ref=APP_BACKLOGS, name="q2", expected=lambda: effective_backlog(Kernel("4.19"), 511),
           hint=hint_if({511: "the kernel keeps at most net.core.somaxconn of a listen() backlog, and 4.19's default is "
                              "not 4096.",
                         512: "Send-Q shows the backlog listen() kept, not the queue's capacity."})),
    Number(id="q3", points=1, ref=REUSEPORT, name="q3",
           expected=lambda: exhibits.ex12_burst().ss(1.0, listener=exhibits.ex12_busiest()).recv_q,
           hint=hint_if({36: "Recv-Q counts the connections in that socket's accept queue, and it holds "
                             "backlog + 1.",
                         31: "the accept queue holds one more than its backlog (sk_acceptq_is_full)."})),
    Number(id="q4", points=2, ref=REUSEPORT, name="q4", expected=_ex12_in_no_queue,
           hint=hint_if({0: _NO_LENDING})),
    Choice(id="q5", points=2, ref=REUSEPORT, name="q5", key="d16e78235ff53b1b7f6e4ea3"),
    Number(id="q6", points=1, ref=DEFER_ACCEPT, name="q6",
           expected=lambda: defer_accept_rounds(str(_STORY["kernel"]), int(_STORY["defer_accept"])),
           hint=hint_if({5: _ROUNDS, 2: "1 + 2 = 3 s is still short of 5 s."})),
    # tol: the SYN-ACK timer of the last deferred round fires up to a few hundred ms late on the timer wheel
    # (synack_schedule(...).window), so 0.5 s separates the right round from its neighbours (1.15, 5.15, 15.5 s)
    Number(id="q7", points=2, ref=DEFER_ACCEPT, name="q7", unit="seconds", tol=0.5,
           expected=lambda: _ex12_accepted(False),
           hint=hint_near({5.15: _ROUNDS, 5.0: _ROUNDS,
                           1.15: "1 s, nginx's own `deferred`, is one round; 5 s is more.",
                           0.15: "this client sends nothing: no data can complete its handshake."}, 0.1)),
    Number(id="q8", points=1, ref=SPEAK_FIRST, name="q8", unit="seconds", tol=0.005,
           expected=lambda: _ex12_accepted(True),
           hint=hint_near({7.15: "a client that speaks first does not wait for the deferral: its request "
                                 "completes the handshake (tcp_check_req).",
                           0.1: "the request reaches the server half a round trip after the client sends it.",
                           0.05: "the client can send its request only once the SYN-ACK has reached it."}, 0.3)),
    CounterName(id="q9", points=1, ref=DEFER_ACCEPT, name="q9", accepted=_ex12_defer_counters),
))


EXERCISES: dict[str, Exercise] = {e.id: e for e in (EX01, EX02, EX03, EX04, EX05, EX06, EX07, EX08, EX09, EX10,
                                                     EX11, EX12)}
"""Every graded exercise by id ("ex01"...)."""
