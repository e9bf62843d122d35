"""Lesson 12's dashboard (dashboards.read_your_capture): the lab's stored captures and the learner's
own files, diagnosed beside the model. A file that cannot be diagnosed (empty, not a capture, no
handshake, too large) gives a message and leaves the dashboard as it was; nothing raises."""

from __future__ import annotations

import datetime
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import dpkt  # noqa: E402
import pytest  # noqa: E402
from figure_text import text_problems  # noqa: E402

from handshake_course import capture, lab  # noqa: E402
from handshake_course.dashboards import capture_app  # noqa: E402
from handshake_course.dashboards import read_your_capture as rc  # noqa: E402


@pytest.fixture(scope="module")
def app():
    return capture_app()


def uploaded(name: str, data: bytes) -> tuple[dict, ...]:
    """What the FileUpload widget holds after the learner picked a file (ipywidgets 8)."""
    return ({"name": name, "type": "application/vnd.tcpdump.pcap", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)},)


def test_it_opens_on_the_herd_and_lists_every_stored_capture(app):
    assert app.error is None and app.value("capture") == "herd"
    assert [value for _, value in app.controls["capture"].options] == rc.stored_captures()
    assert [f.kind for f in app.server.findings] == [f.kind for f in capture.diagnose(lab.stored_pcap("herd")).servers[0].findings]
    assert app.controls["server"].disabled  # one listener
    assert "client veth" in app.summary.value and "backlog 2" in app.summary.value  # the lab's record beside it
    assert app.result is app.server.model.result


@pytest.mark.slow
@pytest.mark.parametrize("name", rc.stored_captures())
def test_every_stored_capture_is_drawn_readably(app, name):
    app.controls["capture"].value = name
    assert app.error is None, app.error
    assert app.png.startswith(b"\x89PNG")
    assert not text_problems(app.fig), (name, text_problems(app.fig))
    for f in app.server.findings:
        assert f"<code>{f.kind}</code>" in app.summary.value


def test_a_capture_of_ones_own_is_diagnosed_and_offered_in_the_list():
    mine = capture_app()
    data = lab.stored_pcap("accept_overflow-a0").read_bytes()
    mine.controls["upload"].value = uploaded("incident.pcap", data)
    assert mine.error is None
    assert mine.controls["upload"].value == ()  # taken once
    assert mine.controls["capture"].options[-1] == ("yours: incident.pcap", mine.value("capture"))
    assert [f.kind for f in mine.server.findings] == ["synack_retransmission", "ack_ignored"]
    assert "<b>incident.pcap</b>" in mine.summary.value and "What the lab did" not in mine.summary.value
    mine.controls["capture"].value = "herd"
    assert mine.error is None and "What the lab did" in mine.summary.value


@pytest.mark.parametrize(("name", "data", "said"), [
    ("empty.pcap", b"", "is empty (0 bytes)"),
    ("notes.txt", b"these are not packets " * 10, "notes.txt: not a pcap or pcapng capture"),
    ("header-only.pcap", bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"),
     "header-only.pcap: no TCP connection attempt"),
])
def test_a_file_that_cannot_be_diagnosed_gets_a_message_not_a_traceback(name, data, said):
    app = capture_app()
    png, options = app.png, list(app.controls["capture"].options)
    app.controls["upload"].value = uploaded(name, data)  # must not raise
    assert app.error and said in app.error, app.error
    assert "&#9888;" in app.message.value and "Traceback" not in app.message.value
    assert app.png == png and list(app.controls["capture"].options) == options and app.value("capture") == "herd"
    assert str(app.folder) not in app.error  # the learner's file name, not the dashboard's temporary copy
    app.controls["capture"].value = "accept_overflow-a1"  # and the dashboard goes on
    assert app.error is None


def test_a_file_over_the_limit_is_refused_before_it_is_read(monkeypatch):
    app = capture_app()
    monkeypatch.setattr(rc, "MAX_UPLOAD", 1000)
    app.controls["upload"].value = uploaded("huge.pcap", lab.stored_pcap("herd").read_bytes())
    assert "huge.pcap has 3,382 bytes; this dashboard reads captures up to 1,000 bytes" in app.error
    assert "handshake-course diagnose huge.pcap" in app.error
    assert not list(app.folder.iterdir())  # nothing written


def test_the_limit_is_what_jupyterlab_can_hand_the_kernel():
    assert rc.MAX_UPLOAD == 10_000_000 <= 10 * 1024 * 1024  # tornado's default websocket_max_message_size
    assert "up to 10 MB" in rc.CaptureApp.intro


def test_a_capture_with_two_listeners_lets_the_learner_choose(tmp_path):
    both = tmp_path / "two.pcap"
    with open(both, "wb") as out:
        writer = dpkt.pcap.Writer(out, linktype=dpkt.pcap.DLT_EN10MB, nano=True)
        for name in ("herd", "accept_overflow-a0"):
            with open(lab.stored_pcap(name), "rb") as f:
                for ts, buf in dpkt.pcap.Reader(f):
                    writer.writepkt(buf, ts)
    app = capture_app()
    assert app.upload("two.pcap", both.read_bytes())
    servers = app.controls["server"]
    assert app.error is None and not servers.disabled
    labels = dict(servers.options)
    assert sorted(labels) == ["10.203.17.1:8080 (4 attempts)", "10.203.21.1:8080 (9 attempts)"]
    servers.value = labels["10.203.17.1:8080 (4 attempts)"]
    expected = next(srv for srv in capture.diagnose(both).servers if srv.server == "10.203.17.1:8080")
    assert app.error is None and app.server.server == "10.203.17.1:8080"
    assert [f.kind for f in app.server.findings] == [f.kind for f in expected.findings]
    assert "10.203.17.1:8080" in app.axes[0].get_title()
    app.controls["capture"].value = "herd"  # another capture: its own listener list
    assert [label for label, _ in servers.options] == ["10.203.21.1:8080 (9 attempts)"] and servers.disabled
