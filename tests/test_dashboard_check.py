"""Lesson 10's dashboard without a browser: each backlog is measured (live on Linux, else the stored
record) and simulated; the figure and the summary show both and the named checks.

On Linux the live cases open loopback sockets (about 0.2 s per measurement, no privileges)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import copy  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

from handshake_course import dashboards as d  # noqa: E402
from handshake_course import lab  # noqa: E402
from handshake_course.dashboards import check_your_kernel as check_module  # noqa: E402
from handshake_course.lab import host  # noqa: E402

LINUX = host.is_linux()


def _line(app, gid):
    return next(line for line in app.axes[0].lines if line.get_gid() == gid)


def test_lesson_10_is_listed():
    assert d.APPS["10_check_your_kernel"] is d.check_app


def test_stored_mode_shows_the_stored_records_and_their_checks():
    app = d.check_app(backlog=3, measure="stored")
    assert app.error is None and app.png.startswith(b"\x89PNG")
    assert app.record == lab.stored("loopback_accept_capacity-b3") | {"fallback": app.record["fallback"]}
    assert "stored with the course" in app.message.value and "could not measure" not in app.message.value
    app.controls["backlog"].value = 9
    assert sorted(app.records) == [3, 9]
    assert list(_line(app, "measured_connected").get_xdata()) == [3, 9]
    assert list(_line(app, "measured_connected").get_ydata()) == [4, 10]
    assert list(_line(app, "measured_recv_q").get_ydata()) == [4, 10]
    assert list(_line(app, "model").get_ydata()) == [4, 10]
    assert list(_line(app, "closed_form").get_xdata()) == list(range(17))  # the slider's whole range
    assert list(app.checks) == ["connected", "accept_capacity", "recv_q", "send_q"]
    assert all(c.ok for c in app.checks.values())
    assert app.summary.value.count(">ok</td>") == 4 and "MISMATCH" not in app.summary.value
    assert "every check agrees" in app.text_summary()


@pytest.mark.skipif(not LINUX, reason="measures this machine's loopback")
def test_live_measurement_on_this_machine():
    app = d.check_app(backlog=2)
    assert app.record["source"] == f"live: Linux {host.kernel_release()}" and "fallback" not in app.record
    assert app.message.value == ""
    somaxconn = int(app.record["sysctls"]["net.core.somaxconn"])
    for backlog in (0, 5):
        app.controls["backlog"].value = backlog
        assert app.error is None
        assert app.record["params"]["backlog"] == backlog
        assert app.record["result"]["connected"] == min(backlog, somaxconn) + 1
        assert app.update_seconds < 2.0, app.timings  # measuring takes ~0.2 s of it
    assert sorted(app.records) == [0, 2, 5]
    assert list(_line(app, "measured_connected").get_ydata()) == [
        app.records[b]["result"]["connected"] for b in (0, 2, 5)]
    assert app.result is app.models[5]
    # switching to the stored measurements starts a new set of points
    app.controls["measure"].value = "stored"
    assert sorted(app.records) == [5] and app.record["source"].startswith("stored: ")


def test_falls_back_to_the_stored_record_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    app = d.check_app(backlog=7)
    assert app.error is None
    assert app.record["source"] == f"stored: Linux {lab.stored_release()}"
    assert "could not measure" in app.message.value and "Linux" in app.message.value
    assert app.record["result"]["connected"] == 8
    assert "stored: Linux 6.18.44" in app.axes[0].get_title()


def test_a_disagreement_is_shown_as_a_mismatch(monkeypatch):
    real = lab.measure_accept_capacity

    def odd_kernel(backlog, live=None):
        rec = copy.deepcopy(real(backlog, live=False))
        rec["result"]["connected"] += 1  # a kernel that takes one more connection than the model says
        return rec

    monkeypatch.setattr(check_module.lab, "measure_accept_capacity", odd_kernel)
    app = d.check_app(backlog=4)
    assert app.error is None
    assert not app.checks["connected"].ok and app.checks["recv_q"].ok
    assert app.summary.value.count(">MISMATCH</td>") == 2  # connected and accept_capacity
    assert "disagree" in app.summary.value
    assert list(_line(app, "measured_connected").get_ydata()) == [6]
    assert list(_line(app, "model").get_ydata()) == [5]


def test_static_fallback_lists_the_checks():
    app = d.check_app(measure="stored")
    bundle = app.widget._repr_mimebundle_()
    assert bundle["image/png"]
    text = bundle["text/plain"]
    assert "recv_q 5 5 exact ok" in text and "stored: Linux" in text
