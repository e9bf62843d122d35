"""ex11 (out of ports) and ex12 (behind nginx): each answer key against the closed form a learner reasons
with, and the grader's feedback on wrong answers.

The keys are computed from the model's runs of the stories (grader/exhibits.py); here each is held to the
kernel rule behind it:
* ex11: __inet_hash_connect (net/ipv4/inet_hashtables.c) finds no free port once every port of
  ip_local_port_range is held by an open or a timewait socket to the destination, so the first failure comes
  at ports / rate; a timewait socket lives TCP_TIMEWAIT_LEN = 60 s (include/net/tcp.h) on its own timer,
  late by the 4.8+ timer wheel's granularity (model.timers.interval_bounds); by Little's law a range of P ports
  keeps up P / (time a connection holds its port) connections a second; tcp_twsk_unique (net/ipv4/tcp_ipv4.c):
  tcp_tw_reuse 2 is loopback only from 4.18 (79e9fed46055), any nonzero value before;
* ex12: sk_acceptq_is_full: each SO_REUSEPORT listener holds backlog + 1; reuseport_select_sock spreads by hash,
  so a listener keeps min(its share, backlog + 1); __sys_listen caps the backlog at somaxconn (128 before 5.4);
  secs_to_retrans (net/ipv4/tcp.c) turns TCP_DEFER_ACCEPT's seconds into SYN-ACK timeouts; syn_ack_recalc
  resends the SYN-ACK of a deferred, acked request only at the last of them; tcp_check_req makes the child from
  a segment with data at once.

The reference solutions earn full marks through the sandboxed grader in test_exercises.py (every exercise).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from learners import graded

from handshake_course import Kernel, simulate, synack_schedule
from handshake_course.grader import EXERCISES, exhibits, keys, release, score
from handshake_course.model import rules
from handshake_course.model.timers import interval_bounds

ROOT = Path(__file__).resolve().parent.parent
EX11, EX12 = exhibits.EX11_STORY, exhibits.EX12_STORY
LOW, HIGH = EX11["ports"]
PORTS = HIGH - LOW + 1
CALLS = int(EX11["duration"] * EX11["rate"])


def question(exercise: str, qid: str):
    return EXERCISES[exercise].question(qid)


def accepts(exercise: str, qid: str, answer) -> bool:
    return score(exercise, qid, answer).full_marks


# ---- ex11: the keys against the closed forms -------------------------------------------------------------------

def test_ex11_the_range_runs_out_after_ports_over_rate_seconds():
    r = exhibits.ex11_result()
    first = next(c for c in r.clients if c.outcome == "no_port")
    assert (first.index, first.errno) == (PORTS, "EADDRNOTAVAIL")
    assert question("ex11", "q1").expected() == first.start == PORTS / EX11["rate"] == 10.0
    assert all(c.port is not None for c in r.clients[:PORTS])  # every one before it got a port


def test_ex11_ports_come_back_60_s_after_the_first_time_wait_began_late_by_the_timer_wheel_at_most():
    r = exhibits.ex11_result()
    k = Kernel(EX11["kernel"])
    lo, hi = interval_bounds(60.0, rules.tw_timer_mode(k), k.hz)
    first_tw = r.clients[0].time_wait_at
    back = question("ex11", "q2").expected()
    assert first_tw + lo <= back <= first_tw + hi + 1 / EX11["rate"]  # the first connect() once a port is free
    # the learner's closed form: TIME_WAIT from about 0.204 s (connect + hold + the FINs), + 60 s, the next call
    assert accepts("ex11", "q2", 60.25) and accepts("ex11", "q2", first_tw + 60.0)
    for wrong in (10.0, 50.0, 70.2, 120.0):  # still waiting, a duration, TIME_WAIT from the failure, 2 MSL
        assert not accepts("ex11", "q2", wrong)


def test_ex11_two_waves_of_ports_succeed_in_100_s():
    # 200 before the range runs out; the same 200 ports once their TIME_WAIT ends (from ~60 s, one per call,
    # as fast as they were taken); the second wave's TIME_WAIT ends only after 120 s
    assert question("ex11", "q3").expected() == CALLS - 2 * PORTS == 1600


def test_ex11_the_steady_rate_is_the_range_over_the_time_a_connection_holds_its_port():
    expected = question("ex11", "q4").expected()
    closed_form = PORTS / (EX11["hold"] + 2 * EX11["rtt"] + 60.0)  # connect, hold, the FINs, TIME_WAIT
    assert abs(expected - closed_form) <= question("ex11", "q4").tol
    assert accepts("ex11", "q4", closed_form) and accepts("ex11", "q4", PORTS / 60)
    assert not accepts("ex11", "q4", EX11["rate"]) and not accepts("ex11", "q4", PORTS / EX11["hold"])
    # the model agrees: 10 % under that rate never runs out over three TIME_WAIT lifetimes, 10 % over does
    under = simulate(exhibits.ex11_scenario(rate=round(0.9 * expected, 3), duration=200.0))
    over = simulate(exhibits.ex11_scenario(rate=round(1.1 * expected, 3), duration=200.0))
    assert "no_port" not in under.outcomes() and over.outcomes()["no_port"] > 0


def test_ex11_tcp_tw_reuse_2_is_loopback_only_on_6_18_and_1_fixes_it():
    k = Kernel(EX11["kernel"])
    assert k.tcp_tw_reuse == 2 and k.tw_reuse_loopback  # the story's sysctl output: its default
    assert exhibits.ex11_result(tcp_tw_reuse=0).outcomes() == exhibits.ex11_result().outcomes()
    assert question("ex11", "q6").expected() == 0
    reused = exhibits.ex11_result(tcp_tw_reuse=1)
    assert reused.client_counters["TcpExtTWRecycled"] == reused.trace.actions_count()["connect_tw_reuse"] > 0
    assert question("ex11", "q7").accepted() == {"TcpExtTWRecycled"}
    assert keys.matches("ex11", "q5", "C", question("ex11", "q5").key)


def test_ex11_before_4_18_a_tcp_tw_reuse_of_2_turns_reuse_on():
    assert not Kernel("4.4").tw_reuse_loopback
    assert question("ex11", "q8").expected() == 0
    assert exhibits.ex11_result("4.4", 0).outcomes()["no_port"] == 1600  # without reuse it runs out as 6.18 does


# ---- ex12: the keys against the closed forms -------------------------------------------------------------------

def test_ex12_the_group_holds_workers_times_backlog_plus_one():
    assert question("ex12", "q1").expected() == EX12["workers"] * (EX12["backlog"] + 1) == 128
    assert question("ex12", "q2").expected() == min(511, Kernel("4.19").somaxconn) == 128


def test_ex12_each_worker_keeps_what_fits_in_its_own_queue():
    spread = exhibits.ex12_spread()
    places = EX12["backlog"] + 1
    assert sum(spread) == EX12["clients"] < EX12["workers"] * places
    assert max(spread) > places and min(spread) < places  # the story: one overflows while another has room
    r = exhibits.ex12_burst()
    assert [r.ss(1.0, listener=i).recv_q for i in range(EX12["workers"])] == [min(n, places) for n in spread]
    assert question("ex12", "q3").expected() == places
    assert question("ex12", "q4").expected() == sum(max(0, n - places) for n in spread) == 4
    assert not accepts("ex12", "q4", 0) and not accepts("ex12", "q3", max(spread))
    assert keys.matches("ex12", "q5", "B", question("ex12", "q5").key)


def test_ex12_five_seconds_of_defer_accept_are_three_synack_rounds():
    # secs_to_retrans from a 1 s TCP_TIMEOUT_INIT: 1, 1 + 2 = 3 < 5, 1 + 2 + 4 = 7 >= 5
    assert question("ex12", "q6").expected() == 3


def test_ex12_a_silent_client_waits_for_the_last_deferred_synack_a_speaking_one_does_not():
    rtt, rounds = EX12["defer_rtt"], question("ex12", "q6").expected()
    rule = synack_schedule(EX12["kernel"])
    lo, hi = rule.window(rule.send_times[rounds])  # the SYN-ACK resent at the third timeout, 7 s after the first
    silent = question("ex12", "q7").expected()
    assert rtt / 2 + lo + rtt <= silent <= rtt / 2 + hi + rtt
    assert accepts("ex12", "q7", rtt / 2 + 7.0 + rtt)  # the learner's closed form, 7.15 s
    for wrong in (1.15, 5.15, 0.15, 15.15):  # nginx's 1 s, 5 s taken literally, a speaking client, one round more
        assert not accepts("ex12", "q7", wrong)
    assert question("ex12", "q8").expected() == pytest.approx(rtt / 2 + rtt)
    for data in (False, True):
        assert exhibits.ex12_deferred(data).server_counters["TcpExtTCPDeferAcceptDrop"] == 1
    assert question("ex12", "q9").accepted() == {"TcpExtTCPDeferAcceptDrop"}


def test_the_stories_the_notebooks_tell_are_the_ones_the_keys_run():
    def prose(slug: str) -> str:  # the markdown cells, each run of whitespace one space
        nb = nbformat.read(ROOT / "exercises" / "source" / slug / f"{slug}.ipynb", as_version=4)
        return " ".join(" ".join(c.source.split()) for c in nb.cells if c.cell_type == "markdown")

    text = {slug: prose(slug) for slug in ("ex11_out_of_ports", "ex12_behind_nginx")}
    assert f"{LOW} to {HIGH}" in text["ex11_out_of_ports"] and f"{CALLS} `connect()` calls" in text["ex11_out_of_ports"]
    ex12 = text["ex12_behind_nginx"]
    assert f"int seconds = {EX12['defer_accept']};" in ex12 and f"{EX12['defer_rtt'] * 1000:g} ms round trip" in ex12
    assert f"Linux {EX12['kernel']}" in ex12 and f"listen({EX12['backlog']})" in ex12


# ---- the grader on wrong answers --------------------------------------------------------------------------------

WRONG = {
    "ex11_out_of_ports": ({"q2": "q2 = 70.2", "q3": "q3 = 1800", "q5": 'q5 = "A"', "q8": "q8 = 1600"},
                          {"q2": "not when the range runs out", "q3": "in the order they were taken",
                           "q5": "A is not the best answer", "q8": "4.18"}),
    "ex12_behind_nginx": ({"q1": "q1 = 124", "q4": "q4 = 0", "q7": "q7 = 5.15", "q8": "q8 = 7.15"},
                          {"q1": "one more than its backlog", "q4": "cannot lend a free place",
                           "q7": "secs_to_retrans", "q8": "completes the handshake"}),
}


def source_answers(slug: str) -> dict[str, str]:
    """Each answer cell of the source notebook, its solution markers removed."""
    nb = nbformat.read(ROOT / "exercises" / "source" / slug / f"{slug}.ipynb", as_version=4)
    marker = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)
    return {c.metadata["nbgrader"]["grade_id"]: marker.sub("", c.source)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


@pytest.mark.slow
@pytest.mark.parametrize("slug", sorted(WRONG))
def test_wrong_answers_cost_their_points_and_say_what_to_rethink(tmp_path, slug):
    ex = next(e for e in EXERCISES.values() if e.slug == slug)
    wrong, says = WRONG[slug]
    answers = source_answers(slug) | {f"{ex.id}-{q}-answer": code for q, code in wrong.items()}
    nb = nbformat.read(release.release_path(ROOT / "exercises" / "source" / slug / f"{slug}.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    s = graded(tmp_path, nb, name=f"{slug}.ipynb")
    feedback = {f.question: f for f in s.questions}
    lost = sum(ex.question(q).points for q in wrong)
    assert (s.status, s.points, s.max_points) == ("graded", ex.max_points - lost, ex.max_points)
    assert s.notes == []
    for q, text in says.items():
        f = feedback[q]
        assert (f.status, f.points) == ("wrong", 0) and text in f.message and "Re-read lesson" in f.message, f.message
    assert all(feedback[q.id].status == "correct" for q in ex.questions if q.id not in wrong)
    for q in ("q2", "q3") if ex.id == "ex11" else ("q1", "q4"):  # the right answer is never shown
        assert f" {round(ex.question(q).expected())} " not in feedback[q].message.replace(".", " ")
