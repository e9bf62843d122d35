"""What lesson 12 says of captures that its cells cannot show without tcpdump, and the capture ex10
hands learners.

* The lesson's tcpdump commands are valid filters that do what the lesson says: each is run by tcpdump
  itself (``tcpdump -r stored.pcap -w filtered.pcap FILTER``, no privileges needed) on the lab's
  captures, and the filtered file diagnosed. Skipped where tcpdump is not installed.
* ex10's hidden incident and its answer key agree with the capture the learner gets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from handshake_course import capture, lab
from handshake_course.analysis.syn_schedules import schedule_of
from handshake_course.grader import exhibits, keys
from handshake_course.grader.key import EXERCISES

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "12_read_your_capture.ipynb"


def lesson_filters() -> list[str]:
    """The filters of the lesson's tcpdump commands (``sudo tcpdump ... 'FILTER'``), in order."""
    nb = nbformat.read(LESSON, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.findall(r"^sudo tcpdump -i any -s 128 -w incident\.pcap '([^']+)'$", text, re.M)


FULL, SYN_RST, NO_DATA = lesson_filters()


def filtered(name: str, bpf: str, tmp_path: Path) -> capture.CaptureDiagnosis:
    out = tmp_path / f"{name}.pcap"
    done = subprocess.run(["tcpdump", "-r", str(lab.stored_pcap(name)), "-w", str(out), bpf],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return capture.diagnose(out)


def kinds(diagnosis: capture.CaptureDiagnosis) -> list[str]:
    return [f.kind for f in diagnosis.servers[0].findings]


def test_the_lesson_gives_three_commands_full_syn_rst_and_no_data():
    assert FULL == "tcp port 8080"
    assert "tcp[tcpflags] & (tcp-syn|tcp-rst) != 0" in SYN_RST and " or " not in SYN_RST
    assert SYN_RST.removeprefix("tcp port 8080 and ") in NO_DATA and "ip[2:2]" in NO_DATA


tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")


@tcpdump
@pytest.mark.parametrize("name", ["accept_overflow-a0", "accept_overflow-a1", "herd", "loss-p20"])
def test_keeping_the_segments_without_data_keeps_every_finding(name, tmp_path):
    whole = capture.diagnose(lab.stored_pcap(name))
    for bpf in (FULL, NO_DATA):
        assert kinds(filtered(name, bpf, tmp_path)) == kinds(whole), bpf


@tcpdump
def test_the_syn_rst_filter_loses_the_third_ack_and_what_it_shows(tmp_path):
    a0, a1 = (filtered(n, SYN_RST, tmp_path) for n in ("accept_overflow-a0", "accept_overflow-a1"))
    for d in (a0, a1):
        attempts = d.servers[0].handshakes
        assert {h.outcome for h in attempts} <= {"incomplete", "reset"} and not [h for h in attempts if h.latency]
    assert "ack_ignored" in kinds(capture.diagnose(lab.stored_pcap("accept_overflow-a0"))) and "ack_ignored" not in kinds(a0)
    assert "reset_after_ack" in kinds(capture.diagnose(lab.stored_pcap("accept_overflow-a1")))
    assert "reset_after_ack" not in kinds(a1)
    lossy = filtered("loss-p20", SYN_RST, tmp_path)
    assert "cookie_synack" in kinds(lossy) and "cookie_synack" not in kinds(capture.diagnose(lab.stored_pcap("loss-p20")))


# ---- ex10 -----------------------------------------------------------------------------------------

def test_ex10s_answer_key_is_what_its_capture_shows(tmp_path):
    hidden = exhibits.ex10_hidden()
    path = exhibits.ex10_capture(tmp_path)
    attempts = capture.read(path)
    diagnosis = capture.diagnose(path)
    ex10 = {q.id: q for q in EXERCISES["ex10"].questions}
    # q2: where it was taken (A client, B server, C between)
    assert capture.vantage(attempts) == diagnosis.vantage == hidden["at"] == "client"
    assert keys.matches("ex10", "q2", "A", ex10["q2"].key)
    # q4: the SYN schedule (A 2.6.32's, B exponential from 1 s, C linear timeouts)
    retransmission = next(f for f in diagnosis.servers[0].findings if f.kind == "syn_retransmission")
    assert retransmission.schedules == (schedule_of(hidden["kernel"]).key,) == ("exponential_1s",)
    assert keys.matches("ex10", "q4", "B", ex10["q4"].key)
    # q5: the slow attempts' SYNs were dropped by the listener, its accept queue full, until accept() ran
    run = exhibits.ex10_result()
    slow = [c.index for c in run.clients if c.latency > 1.0]
    dropped = [ev.client for ev in run.trace if ev.action == "syn_drop_accept_queue_full"]
    assert run.scenario.loss == 0 and run.scenario.drop == () and slow and sorted(set(dropped)) == slow
    assert min(run.scenario.accept) > max(c.syn_times[0] for c in run.clients)  # no accept() during the burst
    assert keys.matches("ex10", "q5", "B", ex10["q5"].key)
    # q6: the backlog, as the lesson reads it: the attempts whose ACK the listener took at once are backlog + 1
    taken = [h for h in attempts if h.latency is not None and h.latency < 1.0 and len(h.synack_times) == 1]
    assert len(taken) == hidden["backlog"] + 1 and diagnosis.servers[0].proposal.scenario.backlog == hidden["backlog"]
    # q1 and q3 are computed from this capture when checked
    assert ex10["q1"].expected() == len(attempts) == 30
    assert abs(ex10["q3"].expected() - diagnosis.servers[0].latency.median) < 1e-6  # the diagnosis rounds to 1 µs


def test_ex10s_capture_is_written_to_a_new_temporary_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = exhibits.exhibit_file("ex10", "capture")
    assert path.name == "ex10_incident.pcap" and path.parent != tmp_path and not list(tmp_path.iterdir())
    shutil.rmtree(path.parent)
