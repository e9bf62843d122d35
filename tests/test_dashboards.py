"""The dashboards without a browser: set control values as a user would, and check the result,
the figure and the messages (MPLBACKEND=Agg; the dashboards draw on their own Agg canvas)."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import ipywidgets as W  # noqa: E402
import pytest  # noqa: E402

from handshake_course import dashboards as d  # noqa: E402
from handshake_course.analysis import HYPOTHESES  # noqa: E402
from handshake_course.dashboards.base import DashboardBox, layout_key  # noqa: E402
from handshake_course.model import ERAS  # noqa: E402
from handshake_course.views import fastopen_path, request_wait  # noqa: E402

UNITLESS = (W.Dropdown, W.ToggleButtons, W.Checkbox, W.SelectMultiple, W.ToggleButton)


@pytest.fixture(scope="module")
def apps():
    """Each lesson's dashboard, built once with its defaults."""
    return {name: factory() for name, factory in d.APPS.items()}


@pytest.mark.parametrize("name", list(d.APPS))
def test_default_dashboard_builds_and_draws(apps, name):
    app = apps[name]
    assert app.error is None, app.error
    assert app.result is not None
    assert app.png.startswith(b"\x89PNG")
    assert app.image.value == app.png
    assert isinstance(app.widget, DashboardBox)
    if name != "09_troubleshooting":  # lists kernel events only once the scenario is revealed
        assert app.inspector is not None and app.inspector.event is not None


@pytest.mark.parametrize("name", list(d.APPS))
def test_controls_have_units_and_fire_on_release(apps, name):
    for key, control in apps[name].controls.items():
        if isinstance(control, (W.IntSlider, W.FloatSlider, W.FloatLogSlider)):
            assert control.continuous_update is False, key
        if not isinstance(control, UNITLESS) and key not in ("tcp_syncookies",):
            assert "(" in control.description and ")" in control.description, (key, control.description)


def test_backlog_control_drives_the_listener():
    app = d.queues_app()
    app.controls["backlog"].value = 4
    assert app.result.listener.backlog == 4
    assert app.result.listener.accept_capacity == 5
    assert app.result.ss().send_q == 4


def test_figure_changes_with_the_control():
    app = d.queues_app()
    before = app.png
    limit = [line for line in app.axes[0].lines if line.get_gid() == "accept_limit"]
    app.controls["backlog"].value = 20
    assert app.png != before
    limit = [line for line in app.axes[0].lines if line.get_gid() == "accept_limit"]
    assert limit and limit[0].get_ydata()[0] == 21
    assert [p.get_height() for p in app.axes[1].patches][:4] == [21, 21, 21, 21]  # accept capacity per version


def test_version_change_loads_its_defaults_and_disables_missing_sysctls():
    app = d.connect_app()
    assert not app.controls["tcp_syn_linear_timeouts"].disabled
    app.controls["version"].value = "2.6.32"
    assert app.controls["tcp_syn_retries"].value == 5
    assert app.controls["tcp_timeout_init"].value == 3.0
    assert app.controls["tcp_syn_linear_timeouts"].disabled
    assert app.error is None
    assert app.result.kernel.timer_wheel == "jiffies"  # the version's own timers by default
    first_rto = app.result.clients[0].syn_times[1]
    assert 3.0 - 0.001 <= first_rto <= 3.0  # 2.6.32 jiffies at HZ=1000: up to one tick early
    app.controls["timers"].value = "textbook"
    assert app.result.clients[0].syn_times[:2] == (0.0, 3.0)
    app.controls["version"].value = "6.18"
    assert app.result.clients[0].failed_at == 131.0  # linux-handshake-facts.md 1.7, tcp_syn_retries=6


def test_timers_toggle_switches_between_the_kernel_wheel_and_textbook_timers():
    app = d.herd_app()
    assert app.result.kernel.timer_wheel == "wheel"
    waiters = [c for c in app.result.clients if len(c.syn_times) > 1]
    kernel_syns = {c.syn_times[1] for c in waiters}
    app.controls["timers"].value = "textbook"
    assert app.result.kernel.timer_wheel == "off"
    textbook_syns = [c.syn_times[1] for c in app.result.clients if len(c.syn_times) > 1]
    # clients 10 ms apart: with textbook timers each waiter retransmits at its own start + 1 s;
    # the 6.18 wheel (a 1 s timer rounded to 32 ms granules at HZ=250) bunches them into a few ticks
    assert len(waiters) == len(textbook_syns) >= 10
    assert len(set(textbook_syns)) == len(textbook_syns)
    spread = max(textbook_syns) - min(textbook_syns)
    assert len(kernel_syns) <= spread / 0.032 + 1


def test_ports_panel_shows_even_ports_on_6x():
    app = d.connect_app(connections=30)
    ports = [c.port for c in app.result.clients]
    assert all(p % 2 == 0 for p in ports)
    assert "even port (30)" in [t.get_text() for t in app.axes[0].get_legend().get_texts()]


@pytest.mark.parametrize(("factory", "control", "bad"), [
    (d.queues_app, "somaxconn", -1),
    (d.queues_app, "backlog", 2**40),
    (d.syn_app, "tcp_max_syn_backlog", -5),
    (d.flood_app, "tcp_max_syn_backlog", -1),
    (d.latency_app, "versions", ()),
])
def test_bad_values_show_a_message_not_a_traceback(factory, control, bad):
    app = factory()
    png = app.png
    app.controls[control].value = bad  # must not raise
    assert app.error
    assert "&#9888;" in app.message.value and "last valid" in app.message.value
    assert app.png == png  # the last good figure stays


def test_message_clears_after_a_good_value():
    app = d.queues_app()
    app.controls["somaxconn"].value = -1
    assert app.error
    app.controls["somaxconn"].value = 4096
    assert app.error is None and "&#9888;" not in app.message.value


def test_syncookies_two_on_310_is_a_note():
    app = d.queues_app(version="3.10")
    app.controls["tcp_syncookies"].value = 2
    assert app.error is None
    assert "3.12" in app.message.value


def test_event_inspector_shows_function_path_with_source_links():
    app = d.syn_app()
    options = app.inspector.selector.options
    syn_new = next(value for label, value in options if "syn_new" in label)
    app.inspector.selector.value = syn_new
    text = app.inspector.html.value
    assert "tcp_conn_request" in text
    assert "https://elixir.bootlin.com/linux/v6.18/A/ident/tcp_conn_request" in text
    assert "counters" in text
    app.controls["version"].value = "3.10"
    assert "v3.10/A/ident/tcp_v4_conn_request" in app.inspector.html.value or app.inspector.event is not None


def test_static_fallback_carries_the_figure():
    app = d.queues_app()
    bundle = app.widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"]
    assert "listen()" in bundle["text/plain"]


def test_third_ack_abort_on_overflow_resets():
    app = d.third_ack_app()
    app.controls["timers"].value = "textbook"
    # client 3's final ACKs meet a full accept queue and are dropped until accept() starts at 5 s;
    # its request's next SYN-ACK goes at 0.25 + 1 + 2 + 4 = 7.25 s (RTO doubling), the ACK answering
    # it arrives at 7.35 s (RTT 100 ms) and is taken at once
    assert app.result.clients[3].accepted_at == 7.35
    app.controls["tcp_abort_on_overflow"].value = 1
    assert app.result.clients[3].errno == "ECONNRESET"


def test_real_servers_refuses_so_reuseport_on_2_6_32_with_a_message():
    app = d.real_servers_app()
    png = app.png
    app.controls["version"].value = "2.6.32"  # 4 listeners: SO_REUSEPORT came in 3.9
    assert "SO_REUSEPORT came in Linux 3.9" in app.error and "last valid" in app.message.value
    assert app.png == png
    app.controls["listeners"].value = 1
    assert app.error is None and len(app.result.listeners) == 1


def test_real_servers_summarises_each_listener():
    # the default burst (36 clients, seed 1) gives listeners 8, 12, 10 and 6 connections; listener 1's
    # queue (backlog 8 + 1) overflows twice, and the table has one row per listener with its ss line
    app = d.real_servers_app()
    assert app.error is None and len(app.result.listeners) == 4
    assert app.summary.value.count("<td><code>LISTEN ") == 4
    assert "4 x 9 = 36" in app.summary.value
    app.controls["defer_accept"].value = 5
    assert "TCPDeferAcceptDrop" in app.summary.value and "3 SYN-ACK rounds" in app.message.value


def test_time_wait_runs_out_of_ports_when_the_arithmetic_says():
    """100 ports at 10 calls/s, each connection closed after 0.5 s: the range is used up by call 100
    at 10 s, and every port stays held 60 s more in TIME_WAIT (TCP_TIMEWAIT_LEN), so a steady client
    keeps up 100 / 60.5 s = 1.65 calls/s; tcp_tw_reuse=1 hands TIME_WAIT ports over (tcp_twsk_unique)."""
    app = d.time_wait_app()
    assert app.error is None and app.controls["tcp_tw_reuse"].value == 2  # 6.18's default: loopback only
    failed = [c for c in app.result.clients if c.outcome == "no_port"]
    assert (failed[0].index, failed[0].start) == (100, 10.0)
    assert "100 / 60.5 s = <b>1.65 calls/s</b>" in app.summary.value and "loopback" in app.message.value
    app.controls["rate"].value = 1.5
    assert app.result.outcomes()["no_port"] == 0
    app.controls["rate"].value = 10.0
    app.controls["tcp_tw_reuse"].value = 1
    assert app.result.outcomes()["no_port"] == 0 and app.result.client_counters["TcpExtTWRecycled"] > 0
    app.controls["version"].value = "3.10"  # loads 3.10's default, 0; 2 there means on, as any nonzero value
    assert app.controls["tcp_tw_reuse"].value == 0 and app.result.outcomes()["no_port"] > 0
    app.controls["tcp_tw_reuse"].value = 2
    assert app.result.outcomes()["no_port"] == 0 and "knows no value 2" in app.message.value


def test_fast_open_takes_requests_from_syns_while_the_tfo_queue_has_room():
    """Client 0 fetches the cookie (a regular handshake: accept() 1.5 RTT after connect()); the burst of
    8 within 8 ms puts requests in SYNs, and a TFO queue of 4 takes the first 4 (a child at the SYN,
    accept() after RTT / 2: tcp_fastopen_create_child); the others get a regular handshake
    (tcp_fastopen_queue_check: TCPFastOpenListenOverflow) and resend the request (TCPFastOpenActiveFail)."""
    app = d.fastopen_app()
    assert app.error is None
    waits = {c.index: round(request_wait(c), 6) for c in app.result.clients}
    assert [fastopen_path(c) for c in app.result.clients] == ["cookie"] + ["taken"] * 4 + ["not_taken"] * 4
    assert waits == {0: 0.15, **dict.fromkeys(range(1, 5), 0.05), **dict.fromkeys(range(5, 9), 0.15)}
    assert "TCPFastOpenListenOverflow 4" in app.summary.value and "TCPFastOpenPassive 4" in app.summary.value
    assert app.lanes() == [0, 1, 5]  # the first client of each path on the ladder
    app.controls["tcp_fastopen"].value = 1  # clients only
    # no cookie comes back, so every client asks for one again: all regular handshakes
    assert {fastopen_path(c) for c in app.result.clients} == {"cookie"} and "bit 2" in app.message.value
    app.controls["version"].value = "2.6.32"  # no TCP Fast Open: refused with the reason, the last figure kept
    assert "came in Linux 3.6" in app.error


def test_latency_app_compares_versions():
    app = d.latency_app(clients=500)
    app.controls["versions"].value = ("2.6.32", "6.18")
    assert set(app.results) == {"2.6.32", "6.18"}
    assert app.result.kernel.version == "2.6.32"
    legend = [t.get_text() for t in app.axes[0].get_legend().get_texts()]
    assert any("2.6.32" in t for t in legend)


def test_flood_syncookies_keep_clients_in():
    app = d.flood_app()
    from handshake_course.analysis import legit_success

    assert legit_success(app.result) == 1.0
    app.controls["tcp_syncookies"].value = 0
    assert legit_success(app.result) < 0.1
    assert "Possible SYN flooding" in app.summary.value


def test_time_machine_runs_every_version():
    app = d.timemachine_app()
    assert set(app.results) == set(ERAS)
    app.controls["preset"].value = "listen(0) with syncookies off"
    assert app.controls["backlog"].value == 0
    assert app.results["5.15"].outcomes() == {"connecting": 3}


def test_troubleshooting_shows_the_diagnosis_only_after_a_hypothesis():
    app = d.troubleshoot_app()
    assert not app.axes[0].axison and "hidden" in app.axes[0].texts[0].get_text()
    assert "Diagnosis" not in app.summary.value
    assert app.controls["reveal"].disabled  # no hypothesis yet: the button does nothing
    app.controls["reveal"].value = True
    assert "Diagnosis" not in app.summary.value and not app.controls["reveal"].value
    app.controls["hypothesis"].value = "SYN queue full, SYNs dropped"
    assert not app.controls["reveal"].disabled
    app.controls["reveal"].value = True
    assert "Diagnosis" in app.summary.value and app.axes[0].axison
    assert "the counters point elsewhere" in app.summary.value  # incident A is an accept-queue overflow
    app.controls["incident"].value = list(d.INCIDENTS)[1]  # a new incident hides it again
    assert (app.value("hypothesis"), app.value("reveal")) == ("", False)
    assert "Diagnosis" not in app.summary.value


def test_troubleshooting_diagnoses_every_incident():
    app = d.troubleshoot_app()
    for name in d.INCIDENTS:
        app.controls["incident"].value = name
        assert app.error is None and app.findings, name
        assert all(f.title in HYPOTHESES for f in app.findings if f.title != "connect() failures")


def test_source_url():
    assert d.source_url("6.18", "tcp_conn_request") == "https://elixir.bootlin.com/linux/v6.18/A/ident/tcp_conn_request"
    with pytest.raises(ValueError):
        d.source_url("4.9", "x")
    assert "v2.6.32" in d.source_table(["tcp_v4_connect"])


def test_layout_is_reused_when_sizes_do_not_change():
    app = d.queues_app()
    key = layout_key(app.axes)
    app.controls["clients"].value = 41
    assert layout_key(app.axes) == key


def test_time_machine_outcome_bars_are_html():
    app = d.timemachine_app()
    text = app.summary.value
    assert text.count("display:flex;align-items:center") == len(ERAS)  # one bar per era
    assert "still in SYN_SENT" in text and "TcpExtListenOverflows" in text


# ---- speed machinery: remembered simulations, still axes, the progress bar -------------------------

def test_a_control_moved_back_shows_the_remembered_result_without_simulating(monkeypatch):
    from handshake_course.dashboards import memo

    runs = []
    real = memo.simulate
    monkeypatch.setattr(memo, "simulate", lambda scenario, **kw: runs.append(scenario) or real(scenario, **kw))
    memo.clear()
    app = d.handshake_app()
    first = app.result
    app.controls["rtt_ms"].value = 150.0
    app.controls["rtt_ms"].value = 100.0
    assert len(runs) == 2  # the default and 150 ms; back at 100 ms: remembered
    assert app.result is first
    assert app.error is None


def test_the_remembered_results_are_bounded_by_count_events_and_clients_and_keep_the_newest(monkeypatch):
    from handshake_course import Scenario
    from handshake_course.dashboards import memo

    memo.clear()
    monkeypatch.setattr(memo, "MAX_RESULTS", 3)
    scenarios = [Scenario(kernel="6.18", clients=n, accept=100.0, seed=1) for n in range(1, 6)]
    results = [memo.simulated(s) for s in scenarios]
    assert memo.size()[0] == 3
    assert memo.simulated(scenarios[-1]) is results[-1]  # the newest are kept
    assert memo.simulated(scenarios[0]) is not results[0]  # the oldest went
    monkeypatch.setattr(memo, "MAX_EVENTS", 1)  # smaller than any result: the newest alone stays
    memo.simulated(scenarios[1])
    assert memo.size() == (1, results[1].events)
    monkeypatch.setattr(memo, "MAX_EVENTS", 10**9)
    monkeypatch.setattr(memo, "MAX_CLIENTS", 7)  # clients 1 to 5: 3 + 4 fit, 2 more do not
    for s in scenarios[2:4]:
        memo.simulated(s)
    assert memo.size()[0] == 2
    memo.simulated(scenarios[4])  # 5 clients: with the 4 the total is 9 > 7, so only the newest stays
    assert memo.size() == (1, memo.simulated(scenarios[4]).events)
    memo.clear()


def test_the_state_graph_is_kept_and_its_pixels_reused_exactly_as_a_full_draw_would_draw_them():
    """Lesson 0's state graph does not change with the round-trip time: later frames put its pixels
    back instead of rendering it, and each frame equals a full draw of the same figure, pixel for
    pixel; another path (every SYN-ACK lost) draws it again."""
    import numpy as np

    app = d.handshake_app()
    graph = app.axes[1]
    reused = []
    for name, value in [("rtt_ms", 50.0), ("rtt_ms", 300.0), ("rtt_ms", 1.0), ("drop", ("SYN-ACK",)),
                        ("rtt_ms", 120.0), ("drop", ()), ("rtt_ms", 7.0)]:
        app.controls[name].value = value
        assert app.error is None
        reused.append(graph in app.frames.reused)
        frame = np.asarray(app.canvas.buffer_rgba()).copy()
        app.canvas.draw()  # everything, the state graph included
        assert np.array_equal(frame, np.asarray(app.canvas.buffer_rgba())), (name, value)
    assert reused[1] and reused[2] and reused[-1], reused
    assert not reused[3], "a new path must be drawn"
    assert any(t.get_text().startswith("1. connect()") for t in graph.texts)  # its artists are still there


def test_an_unchanged_picture_is_not_encoded_again():
    app = d.troubleshoot_app()
    png = app.png
    app.controls["hypothesis"].value = HYPOTHESES[0]  # the figure stays hidden until revealed
    assert app.png == png and app.frames.encoded is False
    app.controls["reveal"].value = True
    assert app.png != png and app.frames.encoded is True


def test_the_inspector_skips_other_clients_on_the_raw_trace_and_lists_the_same_events():
    app = d.accept_app()
    inspector = app.inspector
    by_event = [i for i, _ in inspector.events(app.result, app.keep_event)]
    by_raw = [i for i, _ in inspector.events(app.result, app.keep_event, clients=app.inspected_clients)]
    assert by_raw == by_event and by_raw
    latency = d.latency_app()
    actions = {ev.action for _, ev in latency.inspector.events(latency.result, None, actions=latency.inspected_actions)}
    assert actions and actions <= set(latency.inspected_actions)


def test_the_progress_bar_appears_only_for_an_update_that_looks_long():
    from handshake_course.dashboards.progress import SHOW_AFTER, SHOW_IF, UpdateProgress

    now = [0.0]
    bar = UpdateProgress(clock=lambda: now[0])
    bar.start()
    report = bar.callback(0, 2)  # the first of two simulations
    now[0] = SHOW_AFTER / 2
    report(5.0, 10.0)
    assert bar.widget.layout.display == "none"  # too early to tell
    now[0] = SHOW_AFTER
    report(5.0, 10.0)  # a quarter done after SHOW_AFTER: it will take 4 x SHOW_AFTER
    assert (bar.widget.layout.display == "none") == (4 * SHOW_AFTER < SHOW_IF)
    now[0] = SHOW_IF
    bar.callback(1, 2)(5.0, 10.0)  # three quarters done, SHOW_IF seconds in: shown whatever it predicts
    assert bar.widget.layout.display == "" and bar.widget.value == pytest.approx(0.75)
    bar.finish()
    assert bar.widget.layout.display == "none"
    bar.start()
    now[0] += 0.1
    bar.callback(0, 1)(10.0, 10.0)  # a quick update
    assert bar.widget.layout.display == "none"


def test_every_dashboard_carries_its_progress_bar_hidden_after_an_update(apps):
    for name, app in apps.items():
        assert app.progress.widget in app.widget.children, name
        assert app.progress.widget.layout.display == "none", name
