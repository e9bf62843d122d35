"""The lessons of the course, in order: the one list the launcher, the dashboards, the grader's
feedback, the README and the tests read (tests/test_syllabus.py holds the notebooks, the README's
table and the answer key to it).

A lesson is ``notebooks/<number>_<slug>.ipynb``; its dashboards are made by the factories named
here, in ``handshake_course/dashboards/<slug>.py``; ``exercises`` are the graded exercises whose
questions send a learner back to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    """One lesson notebook and what belongs to it."""

    number: str  # "01"
    slug: str  # "listen": the notebook's name and its dashboards' module
    topic: str  # a few words, as the grader's feedback names the lesson
    summary: str  # what a learner learns (the README's table)
    dashboards: tuple[str, ...]  # factories in handshake_course.dashboards, the main one first
    exercises: tuple[str, ...] = ()  # exercise ids whose questions refer to this lesson

    @property
    def name(self) -> str:
        """``01_listen``: the notebook's name without its suffix."""
        return f"{self.number}_{self.slug}"

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def path(self) -> str:
        """Where the lesson is in the course and in a learner's workspace."""
        return f"notebooks/{self.notebook}"


LESSONS: tuple[Lesson, ...] = (
    Lesson("00", "start_here", "start here",
           "how to use the course; one handshake as a packet ladder; the TCP state machine",
           ("handshake_app",)),
    Lesson("01", "listen", "listen()",
           "backlog and somaxconn, the SYN queue and the accept queue per version, `listen(0)`, `ss -lnt`",
           ("queues_app",), ("ex01", "ex02", "ex09", "ex10")),
    Lesson("02", "connect", "connect()",
           "SYN_SENT, ephemeral ports per version, the SYN timer, linear timeouts, when connect() gives up; "
           "running out of ports with TIME_WAIT, `tcp_tw_reuse`",
           ("connect_app", "time_wait_app"), ("ex03", "ex11")),
    Lesson("03", "syn_queue", "the server answers a SYN",
           "the server's checks on a SYN, syncookies 0/1/2, the accept-queue drop, 3.10's young rule",
           ("syn_app",), ("ex02", "ex07", "ex09")),
    Lesson("04", "synack_and_ack", "the SYN-ACK and the third ACK",
           "the third ACK against a full accept queue, the acked flag, `tcp_abort_on_overflow`",
           ("third_ack_app",), ("ex04", "ex05", "ex12")),
    Lesson("05", "accept", "accept()",
           "a slow application, arrival rate against accept rate, the herd after one accept()",
           ("accept_app", "herd_app")),
    Lesson("06", "loss_and_latency", "loss and retransmission",
           "the \"occasional 1 s / 3 s connect latency\" and how to confirm it on a host",
           ("latency_app",), ("ex03",)),
    Lesson("07", "syn_flood", "SYN floods and syncookies",
           "SYN floods against syncookies, backlog and tcp_max_syn_backlog",
           ("flood_app",), ("ex07",)),
    Lesson("08", "time_machine", "kernel time machine",
           "one scenario on 2.6.32, 3.10, 5.15 and 6.18, and the commits that changed it",
           ("timemachine_app",), ("ex08",)),
    Lesson("09", "troubleshooting", "troubleshooting",
           "from nstat and ss output to cause and fix",
           ("troubleshoot_app",), ("ex06",)),
    Lesson("10", "check_your_kernel", "check it on your own kernel",
           "the model against your running kernel: accept capacity and the herd, measured on loopback "
           "(stored 6.18 measurements where it cannot measure)",
           ("check_app",)),
    Lesson("11", "real_servers", "what real servers do",
           "SO_REUSEPORT workers and their uneven queues, TCP_DEFER_ACCEPT, applications' default backlogs, "
           "`somaxconn` in containers, TCP Fast Open",
           ("real_servers_app", "fastopen_app"), ("ex12",)),
    Lesson("12", "read_your_capture", "reading a capture",
           "a handshake in a capture, the lab's captures diagnosed beside the model's reproduction, where and "
           "how to take a good one with `tcpdump`, your own pcap",
           ("capture_app",), ("ex10",)),
)

BY_NUMBER: dict[str, Lesson] = {lesson.number: lesson for lesson in LESSONS}
FIRST_LESSON = LESSONS[0].path


def dashboard_names() -> dict[str, tuple[Lesson, str]]:
    """Each dashboard by the name the benchmark and the tests use (``05_accept``, and for a second
    dashboard of a lesson ``05_accept_herd``) -> (its lesson, its factory's name)."""
    names = {}
    for lesson in LESSONS:
        for i, factory in enumerate(lesson.dashboards):
            names[lesson.name if i == 0 else f"{lesson.name}_{factory.removesuffix('_app')}"] = (lesson, factory)
    return names
