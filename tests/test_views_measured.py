"""The measured-versus-model views of lesson 10 draw the records' and the Results' own numbers.

Headless (MPLBACKEND=Agg), on the stored measurements: no socket is opened here.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import copy

import numpy as np
import pytest
from matplotlib.figure import Figure

from handshake_course import Kernel, accept_capacity, lab, simulate
from handshake_course.views import plot_accept_capacity, plot_herd

BACKLOGS = (0, 1, 4, 7, 16)


def _ax():
    return Figure().add_subplot()


def _line(ax, gid):
    found = [line for line in ax.lines if line.get_gid() == gid]
    assert len(found) == 1, (gid, [line.get_gid() for line in ax.lines])
    return found[0]


@pytest.fixture(scope="module")
def capacity():
    records = [lab.stored(f"loopback_accept_capacity-b{b}") for b in BACKLOGS]
    return records, [simulate(lab.scenario_for(r)) for r in records]


@pytest.fixture(scope="module")
def herd():
    rec = lab.stored("loopback_herd")
    return rec, {"kernel timers": simulate(lab.scenario_for(rec)),
                 "textbook timers": simulate(lab.scenario_for(rec, timer_wheel="off"))}


def test_capacity_markers_are_the_records_values(capacity):
    records, models = capacity
    shuffled = [3, 0, 4, 1, 2]  # the view sorts by backlog
    ax = plot_accept_capacity([records[i] for i in shuffled], [models[i] for i in shuffled], ax=_ax())
    connected, recv_q = _line(ax, "measured_connected"), _line(ax, "measured_recv_q")
    assert list(connected.get_xdata()) == list(BACKLOGS) == list(recv_q.get_xdata())
    assert list(connected.get_ydata()) == [r["result"]["connected"] for r in records]
    assert list(recv_q.get_ydata()) == [r["result"]["recv_q"] for r in records] == [b + 1 for b in BACKLOGS]
    assert "stored: Linux 6.18.44" in ax.get_title()


def test_capacity_model_line_is_the_simulation_and_the_closed_form(capacity):
    records, models = capacity
    ax = plot_accept_capacity(records, models, ax=_ax(), current=4)
    model = _line(ax, "model")
    assert list(model.get_xdata()) == list(BACKLOGS)
    assert list(model.get_ydata()) == [sum(c.connected_at is not None for c in m.clients) for m in models]
    kernel = models[0].kernel
    closed = _line(ax, "closed_form")
    assert list(closed.get_xdata()) == list(range(17))
    assert list(closed.get_ydata()) == [accept_capacity(kernel, b) for b in range(17)]
    assert list(model.get_ydata()) == [accept_capacity(kernel, b) for b in BACKLOGS]
    assert list(_line(ax, "current").get_xdata()) == [4, 4]
    assert "somaxconn=4096" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_capacity_closed_form_follows_the_records_somaxconn(capacity):
    records, _ = capacity
    small = copy.deepcopy(records)
    for r in small:
        r["sysctls"]["net.core.somaxconn"] = "4"
    models = [simulate(lab.scenario_for(r)) for r in small]
    ax = plot_accept_capacity(small, models, ax=_ax())
    assert list(_line(ax, "closed_form").get_ydata()) == [min(b, 4) + 1 for b in range(17)]
    assert list(_line(ax, "model").get_ydata()) == [min(b, 4) + 1 for b in BACKLOGS]
    assert accept_capacity(Kernel("6.18", somaxconn=4), 16) == 5


def test_capacity_without_recv_q_and_redraw_in_place(capacity):
    records, models = capacity
    no_ss = copy.deepcopy(records[:2])
    for r in no_ss:
        r["result"]["recv_q"] = None
    ax = plot_accept_capacity(no_ss, models[:2], ax=_ax())
    assert np.isnan(_line(ax, "measured_recv_q").get_ydata()).all()
    ax = plot_accept_capacity(records, models, ax=ax)  # the same axes again: no leftovers
    assert len([line for line in ax.lines if line.get_gid() == "model"]) == 1
    with pytest.raises(ValueError, match="one model Result per record"):
        plot_accept_capacity(records, models[:1], ax=ax)


def test_herd_rows_hold_the_measured_and_predicted_times(herd):
    rec, models = herd
    ax = plot_herd(rec, models, ax=_ax())
    clients = rec["result"]["clients"]
    n = len(clients)
    measured = _line(ax, "measured:connected")
    assert list(measured.get_xdata()) == [c["connected_at"] for c in clients]
    rows = measured.get_ydata()
    assert list(np.round(rows)) == list(range(n))  # one band per client, client 0 first
    assert list(_line(ax, "measured:syn").get_xdata()) == [c["start"] for c in clients]
    for label, res in models.items():
        syn = _line(ax, f"{label}:syn")
        assert list(syn.get_xdata()) == [t for c in res.clients for t in c.syn_times]
        connected = _line(ax, f"{label}:connected")
        assert list(connected.get_xdata()) == [c.connected_at for c in res.clients if c.connected_at is not None]
        accepted = _line(ax, f"{label}:accepted")
        assert list(accepted.get_xdata()) == [c.accepted_at for c in res.clients if c.accepted_at is not None]
        assert all(abs(y - round(y)) < 0.5 for y in connected.get_ydata())
    accepts = next(c for c in ax.collections if c.get_gid() == "accepts")
    assert [seg[0][0] for seg in accepts.get_segments()] == rec["result"]["accepts"]


def test_herd_shows_the_measured_herd_and_the_textbook_staircase(herd):
    rec, models = herd
    ax = plot_herd(rec, models, ax=_ax())
    waiters = [c["connected_at"] for c in rec["result"]["clients"][3:]]
    assert max(waiters) - min(waiters) < 0.001  # measured: the four waiters got in together ...
    wheel = _line(ax, "kernel timers:connected").get_xdata()[3:]
    assert max(wheel) - min(wheel) < 0.001  # ... as the model with the kernel's timers predicts,
    textbook = _line(ax, "textbook timers:connected").get_xdata()[3:]
    assert [round(t) for t in textbook] == [1, 2, 3]  # the textbook timers let in one per accept()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[3] == "client 3 (1 | 1 | 1)" and labels[6] == "client 6 (1 | 1 | 3)"


def test_herd_takes_one_result_and_record_syn_times():
    rec = lab.stored("herd")  # a packet-captured record: every SYN time is measured
    res = simulate(lab.scenario_for(rec))
    ax = plot_herd(rec, res, ax=_ax())
    syn = _line(ax, "measured:syn")
    assert list(syn.get_xdata()) == [t for c in rec["result"]["clients"] for t in c["syn_times"]]
    assert any(line.get_gid().startswith("model, ") for line in ax.lines)
    with pytest.raises(ValueError, match="model clients"):
        plot_herd(lab.stored("loopback_herd"), res, ax=ax)
