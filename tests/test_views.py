"""The views draw what the model computed: assertions on the artists' data, not only that they run.

Runs headless (MPLBACKEND=Agg). Nothing is written into the repository.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import time
from array import array

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from handshake_course import Kernel, Scenario, simulate
from handshake_course.model.clock import US
from handshake_course.views import (
    KIND_COLOURS,
    counters_table,
    counters_view,
    describe_event,
    ladder_packets,
    latency_summary,
    overview_figure,
    plot_ladder,
    plot_latency,
    plot_queues,
    plot_state_graph,
    select_clients,
    state_path,
)
from handshake_course.views.ladder import MAX_FLOOD, PITCH, STRETCH_SHARE, stretched_seam, syn_data
from handshake_course.views.state_graph import NODES

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _no_show_no_leaks(monkeypatch):
    """Views must never show a figure, nor run a simulation; close what a test opened."""
    def refuse(*_a, **_k):
        raise AssertionError("a view called plt.show()")
    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


def _no_simulation(monkeypatch):
    from handshake_course.model import simulation

    def refuse(*_a, **_k):
        raise AssertionError("a view ran a simulation")
    monkeypatch.setattr(simulation, "simulate", refuse)
    monkeypatch.setattr(simulation._Simulation, "run", refuse)


@pytest.fixture(scope="module")
def basic():
    """3.10, backlog 8, 20 clients at once, nobody accepts: queued, established and cookie clients."""
    return simulate(Scenario(kernel="3.10", backlog=8, clients=20, duration=60))


@pytest.fixture(scope="module")
def lossy():
    return simulate(Scenario(kernel="6.18", backlog=8, clients=20, duration=60, loss=0.1, accept=2.0))


@pytest.fixture(scope="module")
def refused():
    """No listener: every SYN is answered with RST."""
    return simulate(Scenario(kernel="6.18", backlog=None, clients=3, duration=5))


@pytest.fixture(scope="module")
def mixed():
    """accepted/queued/established/timed_out/reset all in one small run."""
    return simulate(Scenario(kernel=Kernel("6.18", tcp_abort_on_overflow=1), backlog=2, clients=8,
                             loss=0.3, seed=3))


@pytest.fixture(scope="module")
def flood():
    """More than 100,000 packets."""
    r = simulate(Scenario(kernel="6.18", backlog=8, clients=20, duration=30, flood=5000.0))
    assert len(r.packets) > 100_000
    return r


def by_gid(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def gids(ax, prefix=""):
    return {a.get_gid() for a in ax.get_children() if (a.get_gid() or "").startswith(prefix) and a.get_gid()}


def legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def new_ax(size=(10, 7)):
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig.add_subplot()


# ---- queues -------------------------------------------------------------------------------------------

def test_queue_steps_are_the_results_queue_lengths(basic):
    ax = plot_queues(basic)
    q = basic.queues
    for gid, values in (("syn_queue", q.syn), ("accept_queue", q.accept)):
        line = by_gid(ax, gid)
        assert line.get_drawstyle() == "steps-post"
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert list(x[:-1]) == list(q.times) and x[-1] == basic.end  # held until the end
        assert list(y[:-1]) == list(values) and y[-1] == values[-1]


def test_queue_limits_are_dashed_at_the_listeners_capacities(basic, lossy):
    for r in (basic, lossy):
        ax = plot_queues(r)
        for gid, cap in (("syn_limit", r.listener.syn_capacity), ("accept_limit", r.listener.accept_capacity)):
            line = by_gid(ax, gid)
            assert set(line.get_ydata()) == {cap}
            assert line.get_linestyle() == "--"
        labels = legend_labels(ax)
        assert f"SYN-queue limit {r.listener.syn_capacity}" in labels
        assert f"accept-queue limit {r.listener.accept_capacity}" in labels
        assert "SYN queue" in labels and "accept queue" in labels
    assert (basic.listener.syn_capacity, basic.listener.accept_capacity) == (16, 9)


def test_queue_plot_has_title_units_and_marks_every_drop(basic):
    ax = plot_queues(basic)
    assert "3.10" in ax.get_title() and "backlog 8" in ax.get_title()
    assert ax.get_xlabel() == "time (s)" and "(connections)" in ax.get_ylabel()
    drops = basic.trace.actions_count()["ack_accept_queue_full"]
    assert drops > 0
    marks = by_gid(ax, "drops:ack_accept_queue_full")
    assert len(marks.get_xdata()) == drops
    assert set(marks.get_ydata()) == {basic.listener.accept_capacity}  # on the full queue's limit
    assert f"ACK drop: accept q. full ({drops})" in legend_labels(ax)


def test_queue_plot_without_listener_says_so(refused):
    ax = plot_queues(refused)
    assert not ax.lines
    assert any("no listener" in t.get_text() for t in ax.texts)


def test_queue_plot_redraws_in_place_without_piling_up(basic, lossy):
    ax = new_ax()
    plot_queues(basic, ax=ax)
    first = len(ax.get_children())
    assert plot_queues(basic, ax=ax) is ax
    assert len(ax.get_children()) == first
    plot_queues(lossy, ax=ax)
    assert list(by_gid(ax, "syn_queue").get_xdata()[:-1]) == list(lossy.queues.times)
    assert "6.18" in ax.get_title()


def test_a_reused_axes_forgets_the_previous_views_settings(basic):
    ax = new_ax()
    plot_ladder(basic, ax=ax)
    assert len(ax.get_yticks()) == 0 and not ax.spines["left"].get_visible()
    plot_queues(basic, ax=ax)
    assert len(ax.get_yticks()) > 0 and ax.spines["left"].get_visible()


# ---- ladder -------------------------------------------------------------------------------------------

def own_packets(result, clients):
    return [p for c in clients for p in result.packets.of_client(c)]


@pytest.mark.parametrize("name", ["basic", "lossy", "mixed", "refused"])
def test_ladder_draws_one_arrow_per_packet_of_the_chosen_clients(name, request):
    r = request.getfixturevalue(name)
    chosen = select_clients(r)
    ax = plot_ladder(r)
    shafts = by_gid(ax, "packets")
    assert isinstance(shafts, LineCollection)
    packets = own_packets(r, chosen)
    assert len(shafts.get_segments()) == len(packets)
    # each arrow runs from the send time to the arrival (half-way for a lost packet)
    one_way = r.packets.one_way_us / US
    starts = sorted(round(s[0][0], 9) for s in shafts.get_segments())
    ends = sorted(round(s[1][0], 9) for s in shafts.get_segments())
    assert starts == sorted(round(p.time, 9) for p in packets)
    assert ends == sorted(round(p.arrives if not p.lost else p.time + one_way / 2, 9) for p in packets)
    # retransmissions dashed, the rest solid
    dashed = sum(1 for _offset, dashes in shafts.get_linestyles() if dashes is not None)
    assert dashed == sum(p.retransmission for p in packets)
    # colour per kind
    colours = [tuple(c) for c in shafts.get_colors()]
    assert colours == [matplotlib.colors.to_rgba(KIND_COLOURS[p.kind]) for p in _in_column_order(r, chosen)]


def _in_column_order(result, clients):
    wanted = set(clients)
    return [p for p in result.packets if p.client in wanted]


def test_ladder_marks_lost_packets_with_a_cross_half_way(lossy):
    chosen = select_clients(lossy)
    lost = [p for p in own_packets(lossy, chosen) if p.lost]
    assert lost, "the scenario should lose some of the chosen clients' packets"
    ax = plot_ladder(lossy)
    crosses = by_gid(ax, "lost")
    one_way = lossy.packets.one_way_us / US
    xs = sorted(round(x, 9) for x in crosses.get_offsets()[:, 0])
    assert xs == sorted(round(p.time + one_way / 2, 9) for p in lost)
    assert "lost" in legend_labels(ax)


def test_ladder_marks_rsts(refused):
    ax = plot_ladder(refused)
    rst = by_gid(ax, "rst")
    n = sum(1 for p in refused.packets if p.kind == "RST")
    assert n == 3 and len(rst.get_offsets()) == n
    assert "RST sent" in legend_labels(ax)
    assert "labels:RST" in gids(ax)  # named at every RST
    assert len(by_gid(ax, "labels:RST").get_xdata()) == n


def test_ladder_lanes_name_the_clients_and_their_outcomes(mixed):
    chosen = select_clients(mixed)
    ax = plot_ladder(mixed)
    names = gids(ax, "lane_name:")
    for c in chosen:
        rec = mixed.clients[c]
        name = by_gid(ax, f"lane_name:client {c}: {rec.outcome.replace('_', ' ')} (port {rec.port})")
        lane = len(chosen) - 1 - chosen.index(c)  # first client on top
        assert name.get_ydata()[0] == pytest.approx(lane * PITCH + 1.15)  # just above its client line
    assert len(by_gid(ax, "lane_name:server").get_xdata()) == len(chosen)
    assert len(names) == len(chosen) + 1
    assert "connect() returns" in legend_labels(ax)
    assert ax.get_xlabel().startswith("time (s)") and "6.18" in ax.get_title()


def test_a_long_ladder_stretches_the_opening_handshakes():
    # 10 s of a 100 ms handshake: on a plain axis the handshake would be 1 % of the width
    r = simulate(Scenario(kernel="6.18", backlog=2, clients=[0.0] + [0.2] * 3, accept=[5.0] * 4, rtt=0.1,
                          duration=10.0, seed=1))
    ax = plot_ladder(r)
    seam = stretched_seam(ax)
    assert seam is not None and 0.4 < seam < 0.5  # the last first SYN (0.2 s) plus two round trips
    x0, at_seam, x1 = ax.transData.transform([(0.0, 0.0), (seam, 0.0), (10.0, 0.0)])[:, 0]
    assert (at_seam - x0) / (x1 - x0) == pytest.approx(STRETCH_SHARE, abs=0.01)
    assert ax.get_xlabel() == "time (s), stretched before the dotted line"
    assert stretched_seam(plot_ladder(r, stretch=False)) is None
    assert stretched_seam(plot_ladder(simulate(Scenario(kernel="6.18", backlog=8, clients=1, rtt=0.1)))) is None


def test_default_clients_cover_every_outcome(mixed, basic):
    chosen = select_clients(mixed)
    assert {mixed.clients[c].outcome for c in chosen} == set(mixed.outcomes())
    assert len(select_clients(basic)) == 8
    assert {basic.clients[c].outcome for c in select_clients(basic)} == set(basic.outcomes())


def test_explicit_clients_and_bad_choices(basic):
    ax = plot_ladder(basic, clients=[15])
    assert len(by_gid(ax, "packets").get_segments()) == len(basic.packets.of_client(15))
    with pytest.raises(ValueError, match="clients must be indices from 0 to 19"):
        plot_ladder(basic, clients=[20])
    with pytest.raises(ValueError, match="at most max_clients=2"):
        plot_ladder(basic, clients=[0, 1, 2], max_clients=2)


def test_ladder_time_range_keeps_only_packets_on_the_wire_then(basic):
    ax = plot_ladder(basic, clients=[15], time_range=(1.0, 10.0))
    times = [p.time for p in basic.packets.of_client(15) if 1.0 - 0.001 <= p.time <= 10.0]
    assert len(by_gid(ax, "packets").get_segments()) == len(times)
    assert ax.get_xlim() == (1.0, 10.0)


def test_flood_packets_are_left_out_unless_asked(flood):
    ax = plot_ladder(flood)
    assert "flood" not in gids(ax)
    chosen = select_clients(flood)
    assert len(by_gid(ax, "packets").get_segments()) == len(own_packets(flood, chosen))
    ax = plot_ladder(flood, flood=True)
    drawn = by_gid(ax, "flood")
    assert len(drawn.get_segments()) == MAX_FLOOD  # thinned, the text gives the true number
    total = sum(1 for i in flood.packets.info if i >> 8 == -1)
    assert any(t.get_text().startswith(f"{total} flood packets") for t in ax.texts)


def test_ladder_of_a_100k_packet_result_is_quick(flood):
    ax = new_ax()
    plot_ladder(flood, ax=ax)  # warm up (sorting the packet log happens once)
    start = time.perf_counter()
    pk = ladder_packets(flood, select_clients(flood))
    plot_ladder(flood, ax=ax)
    plot_ladder(flood, ax=ax, flood=True)
    elapsed = time.perf_counter() - start
    assert len(pk) == len(own_packets(flood, select_clients(flood)))
    assert elapsed < 2.0, f"ladder of a flood result took {elapsed:.2f} s"


def test_dashboard_redraw_is_fast(lossy):
    """Queue plot + ladder redrawn into the same figure, Agg canvas draw included. The target is
    well under 100 ms; the bound here is loose because the test machines are shared."""
    fig = Figure(figsize=(10, 7))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True)
    timings = []
    for _ in range(4):
        start = time.perf_counter()
        plot_queues(lossy, ax=top)
        plot_ladder(lossy, ax=bottom)
        fig.canvas.draw()
        timings.append(time.perf_counter() - start)
    assert min(timings[1:]) < 0.4, f"redraw took {min(timings[1:]) * 1000:.0f} ms"


# ---- latency ------------------------------------------------------------------------------------------

def test_latency_cdf_is_the_fraction_of_all_clients_connected(mixed, lossy):
    ax = plot_latency([mixed, lossy], labels=["mixed", "lossy"])
    for i, r in enumerate((mixed, lossy)):
        line = by_gid(ax, f"latency:{i}")
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        lat = sorted(r.latencies())
        assert list(x[1:-1]) == pytest.approx(lat)
        assert y[-1] == pytest.approx(len(lat) / len(r.clients))  # stays below 1 if some never connected
    labels = legend_labels(ax)
    s = latency_summary(mixed)
    assert s.never > 0
    assert f"mixed: {s.connected} of {s.clients} connected, {s.never} never" in labels
    assert "lossy: 20 of 20 connected" in labels
    assert ax.get_xscale() == "log" and "(s)" in ax.get_xlabel() and "(0-1)" in ax.get_ylabel()


def test_latency_shows_the_syn_retransmission_cliffs(lossy):
    old = simulate(Scenario(kernel="2.6.32", backlog=8, clients=20, duration=60, loss=0.1, accept=2.0))
    ax = plot_latency([old, lossy])
    cliffs = by_gid(ax, "cliffs")
    xs = {round(seg[0][0], 6) for seg in cliffs.get_segments()}
    rtt = lossy.scenario.rtt
    assert round(1.0 + rtt, 6) in xs  # 6.18: the first SYN retransmission after 1 s
    assert round(3.0 + rtt, 6) in xs  # 2.6.32: after 3 s
    labels = {t.get_text().strip() for t in ax.texts if t.get_gid() == "cliff_label"}
    assert "1 s" in labels and "3 s" in labels


def test_latency_histogram_and_bad_arguments(lossy):
    ax = plot_latency(lossy, kind="hist", log=False)
    assert by_gid(ax, "latency:0") is not None
    assert ax.get_xscale() == "linear" and "per bin" in ax.get_ylabel()
    assert "Linux 6.18: 20 of 20 connected" in legend_labels(ax)
    with pytest.raises(ValueError, match="kind must be 'cdf' or 'hist'"):
        plot_latency(lossy, kind="pie")
    with pytest.raises(ValueError, match="labels must name each of the 1 results"):
        plot_latency([lossy], labels=["a", "b"])


def test_latency_summary_numbers(mixed, refused):
    s = latency_summary(mixed)
    lat = sorted(mixed.latencies())
    assert (s.min, s.max) == (lat[0], lat[-1])
    assert s.p99 == lat[-1]  # nearest rank of 99 % among a handful is the largest
    assert s.outcomes == {k: v for k, v in mixed.outcomes().items()}
    assert list(s.outcomes) == [o for o in ("accepted", "queued", "established", "timed_out", "reset",
                                            "no_port", "connecting") if o in s.outcomes]
    none = latency_summary(refused)
    assert none.connected == 0 and none.min is None
    assert none.lines()[1] == "connect latency: no client connected"


# ---- counters -----------------------------------------------------------------------------------------

def test_counters_table_shows_the_nonzero_counters_of_both_hosts(basic):
    text = counters_table(basic)
    lines = text.splitlines()
    assert lines[0].startswith("#kernel 3.10")
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    nonzero = {n for n in basic.counters if basic.server_counters.get(n, 0) or basic.client_counters.get(n, 0)}
    assert set(rows) == nonzero
    for name, (server, client) in rows.items():
        assert int(server) == basic.server_counters.get(name, 0)
        assert int(client) == basic.client_counters.get(name, 0)
    names = list(rows)
    assert names.index("TcpActiveOpens") < names.index("TcpExtListenDrops")  # nstat's order: Tcp, then TcpExt


def test_counters_table_all_and_compared(basic, lossy):
    full = counters_table(basic, only_changed=False)
    assert "TcpAttemptFails" in full  # zero, shown like nstat -z
    later = simulate(Scenario(kernel="3.10", backlog=8, clients=20, duration=60, loss=0.2))
    text = counters_table(later, before=basic)
    delta = later.server_counters["TcpRetransSegs"] - basic.server_counters["TcpRetransSegs"]
    assert f"{later.server_counters['TcpRetransSegs']} ({delta:+d})" in text
    same = counters_table(basic, before=basic)
    assert "(no counter changed)" in same
    as_maps = counters_table(later, before={"server": dict(basic.server_counters),
                                            "client": dict(basic.client_counters)})
    assert as_maps == text


def test_counters_view_renders_html(basic):
    view = counters_view(basic)
    html = view._repr_html_()
    assert html.startswith("<table>") and "TcpExtListenOverflows" in html and "<th" in html
    assert str(view) == counters_table(basic)
    assert view.as_dict()["server"]["TcpExtListenDrops"] == basic.server_counters["TcpExtListenDrops"]


# ---- state graph --------------------------------------------------------------------------------------

def test_state_path_follows_the_clients_trace(basic):
    steps = state_path(basic, 15)
    assert [s.action for s in steps] == [e.action for e in basic.trace.of_client(15)]
    assert [(s.source, s.target) for s in steps[:4]] == [
        ("CLOSED", "SYN_SENT"), ("LISTEN", "SYN_RECV"), ("SYN_SENT", "ESTABLISHED"), ("SYN_RECV", "SYN_RECV")]


@pytest.mark.parametrize("name", ["basic", "mixed", "refused", "lossy"])
def test_state_path_ends_where_the_outcome_says(name, request):
    r = request.getfixturevalue(name)
    client_end = {"accepted": "ESTABLISHED", "queued": "ESTABLISHED", "established": "ESTABLISHED",
                  "timed_out": "FAILED", "reset": "FAILED", "no_port": "FAILED", "connecting": "SYN_SENT"}
    server_end = {"accepted": "ACCEPTED", "queued": "ACCEPT_QUEUE"}
    for c in r.clients:
        steps = state_path(r, c.index)
        last = {s.host: s.target for s in steps}
        assert last["client"] == client_end[c.outcome], (c, steps)
        if c.outcome in server_end:
            assert last["server"] == server_end[c.outcome]


def test_state_graph_highlights_the_path(mixed):
    reset = next(c.index for c in mixed.clients if c.outcome == "reset")
    steps = state_path(mixed, reset)
    ax = plot_state_graph(mixed, client=reset)
    taken = {f"path:{s.source}->{s.target}" for s in steps}
    assert gids(ax, "path:") == taken
    visited = {n for s in steps for n in (s.source, s.target)}
    for name in NODES:
        node = by_gid(ax, f"node:{name}")
        assert (node.get_fontweight() == "bold") == (name in visited)
    label = by_gid(ax, "label:CLOSED->SYN_SENT").get_text()
    assert label.startswith("1. ")
    assert f"client {reset} (reset)" in ax.get_title()


def test_state_graph_without_a_result_and_on_a_reused_axes(basic):
    ax = new_ax()
    plot_state_graph(ax=ax)
    assert not gids(ax, "path:") and "node:SYN_RECV" in gids(ax)
    plot_state_graph(basic, client=0, ax=ax)
    plot_state_graph(basic, client=0, ax=ax)
    assert len([a for a in ax.texts if a.get_gid() == "node:LISTEN"]) == 1
    with pytest.raises(ValueError, match="client must be from 0 to 19"):
        plot_state_graph(basic, client=20)


# ---- events, overview, purity -------------------------------------------------------------------------

def test_describe_event_gives_path_counters_and_queues(basic):
    ev = next(e for e in basic.trace.of_client(15) if e.action == "ack_accept_queue_full")
    text = describe_event(ev, basic)
    assert " -> ".join(ev.path) in text
    assert "TcpExtListenOverflows +1" in text and "TcpExtListenDrops +1" in text
    assert f"SYN queue {ev.syn_queue}/16" in text and f"accept queue {ev.accept_queue}/9" in text
    assert "client 15" in text and "Linux 3.10" in text
    listen = describe_event(basic.trace[0])
    assert "the listener" in listen and "none bumped" in listen


def test_overview_figure_saves_a_png(lossy, tmp_path):
    fig = overview_figure(lossy)
    assert len(fig.axes) == 2
    out = tmp_path / "overview.png"
    fig.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_views_never_simulate(monkeypatch, basic, tmp_path):
    _no_simulation(monkeypatch)
    plot_queues(basic)
    plot_ladder(basic)
    plot_latency(basic)
    plot_state_graph(basic, 3)
    counters_table(basic)
    describe_event(basic.trace[5], basic)
    overview_figure(basic).savefig(tmp_path / "x.png")


def test_columns_are_read_without_copies(basic):
    # the views read array('q') columns through numpy; make sure the model still stores them so
    assert isinstance(basic.packets.info, array) and basic.packets.info.typecode == "q"
    assert isinstance(basic.trace.info, array) and basic.queues.times.typecode == "d"


def test_flood_sweep_plot_draws_one_line_per_kernel():
    from matplotlib.figure import Figure

    from handshake_course.views import plot_flood_sweep

    sweep = {"off": [(100.0, 1.0, 0.02), (1000.0, 0.5, 3.02)], "on": [(100.0, 1.0, 0.02), (1000.0, 1.0, 0.02)]}
    ax = plot_flood_sweep(sweep, Figure().add_subplot())
    assert len(ax.lines) == 2 and "flood rate" in ax.get_xlabel()


def test_every_profile_of_a_comparison_gets_a_style_of_its_own():
    # The time machine draws one line per modelled kernel: thirteen lines, thirteen looks.
    from handshake_course.model import VERSIONS
    from handshake_course.views.style import series_style

    styles = [series_style(i) for i in range(len(VERSIONS))]
    assert len(set(styles)) == len(VERSIONS)
    assert series_style(0)[0] == series_style(7)[0]  # the colours cycle; line and marker tell them apart


# ---- a SO_REUSEPORT group's listeners (lesson 11) ------------------------------------------------------------

@pytest.fixture(scope="module")
def group():
    """6.18, 4 listeners with listen(8), 32 clients 1 ms apart, nobody accepts: the hash puts 6, 10, 10 and 6
    on them (seed 1), so listeners 1 and 2 are full (backlog + 1 = 9) and turn one client each away; its
    third ACK is dropped at once and again after the SYN-ACK resent at 1 s (2 ListenOverflows each)."""
    return simulate(Scenario(kernel="6.18", backlog=8, clients=[i / 1000 for i in range(32)], listeners=4,
                             rtt=0.01, duration=3.0))


def test_each_listener_gets_a_step_line_of_its_accept_queue_and_its_overflows(group):
    from handshake_course.views import plot_listener_queues

    ax = plot_listener_queues(group, new_ax())
    for i in range(4):
        q = group.queues_of(i)
        line = by_gid(ax, f"accept_queue:{i}")
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert list(x[:-1]) == list(q.times) and x[-1] == group.end
        assert list(y[:-1]) == list(q.accept)
    assert gids(ax, "overflows:") == {"overflows:1", "overflows:2"}
    assert all(set(by_gid(ax, f"overflows:{i}").get_ydata()) == {9} for i in (1, 2))
    assert set(by_gid(ax, "accept_limit").get_ydata()) == {9}
    assert "listener 1: 10 connections" in legend_labels(ax)
    assert "4 listeners x (backlog 8 + 1)" in ax.get_title()


def test_listener_rows_count_each_listeners_connections_counters_and_ss_line(group):
    from handshake_course.views import listener_rows

    rows = listener_rows(group, t=group.end)
    assert [r.connections for r in rows] == [6, 10, 10, 6]
    assert [(r.ss.recv_q, r.ss.send_q) for r in rows] == [(6, 8), (9, 8), (9, 8), (6, 8)]
    assert [r.overflows for r in rows] == [0, 2, 2, 0] and [r.drops for r in rows] == [0, 2, 2, 0]
    assert sum(r.overflows for r in rows) == group.server_counters["TcpExtListenOverflows"]  # nstat: the sum
    assert [r.peak for r in rows] == [6, 9, 9, 6] and [r.accepted for r in rows] == [0] * 4


def test_one_listener_is_drawn_as_a_group_of_one(basic):
    from handshake_course.views import listener_rows, plot_listener_queues

    ax = plot_listener_queues(basic, new_ax())
    assert gids(ax, "accept_queue:") == {"accept_queue:0"}
    (row,) = listener_rows(basic)
    assert row.connections == len(basic.clients) and row.overflows == basic.server_counters["TcpExtListenOverflows"]


def test_the_ladder_names_a_syn_that_carries_the_request_syn_plus_data():
    """TCP Fast Open: a SYN sent with the request (the trace's fastopen_syn_data) is labelled
    "SYN+data"; the cookie request's SYN and any resent SYN (tcp_send_syn_data sends no data again)
    stay "SYN"."""
    r = simulate(Scenario(kernel=Kernel("6.18", tcp_fastopen=3), backlog=8, clients=[0.0, 1.0, 1.001], data=True,
                          fastopen=4, rtt=0.1, accept=100.0, duration=3.0, seed=1))
    ax = Figure().subplots()
    plot_ladder(r, clients=[0, 1, 2], ax=ax)
    gids = {line.get_gid() for line in ax.get_lines()}
    assert {"labels:SYN", "labels:SYN+data"} <= gids
    pk = ladder_packets(r, [0, 1, 2])
    marked = syn_data(r, pk)
    assert sorted(int(c) for c in pk.client[marked]) == [1, 2]  # the cookie request (client 0) carries none
