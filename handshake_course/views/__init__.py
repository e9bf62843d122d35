"""Views: pure matplotlib (and networkx) drawings of model results. The model knows nothing of
them; they never run a simulation. Each function draws into the ``ax`` it is given (cleared first,
so dashboards can redraw in place) or into a new figure, returns the Axes, and never calls
plt.show(). One module per idea:

- ``queues``: ``plot_queues`` - SYN-queue and accept-queue length over time, with their limits;
- ``ladder``: ``plot_ladder`` - the packets of 1 to 8 clients as arrows between client and server;
- ``latency``: ``plot_latency`` - connect() latency, CDF or histogram;
- ``state_graph``: ``plot_state_graph``, ``state_path`` - the TCP state machine and one client's path
  (``state_graph_key``: what its picture depends on, for a dashboard that redraws it only on change);
- ``events``: ``describe_event`` - the kernel function path, counters and queues behind one event;
- ``overview``: ``overview_figure`` - queues above a ladder, for the command line's ``--plot``;
- ``measured``: ``plot_accept_capacity``, ``plot_herd`` - a measurement of the running kernel
  (``handshake_course.lab`` records) next to the model's prediction for the same run;
- ``outcomes``: ``plot_outcomes``, ``outcome_bars_html`` - how the connect() calls ended;
- ``listeners``: ``plot_listener_queues``, ``listener_rows`` - a SO_REUSEPORT group: each listener's
  accept queue over time, and per listener its connections, overflows and ``ss`` line (lesson 11);
- ``capacities``: ``plot_capacities`` - the two queues' capacity per version (lesson 1);
- ``ports``: ``plot_ports`` - the ephemeral ports connect() picks; ``plot_port_use``, ``port_use`` - how
  many are held over time, open or in TIME_WAIT, and the connect() calls that found none (lesson 2);
- ``syn_timeline``: ``plot_syn_timeline`` - one connect()'s SYNs against the closed form (lesson 2);
- ``floods``: ``plot_flood_sweep`` - who gets in during a SYN flood (lesson 7);
- ``fastopen``: ``plot_request_wait``, ``fastopen_path`` - TCP Fast Open: the path each request took and
  when the server's application had it (lesson 11);
- ``capture``: ``capture_diagnosis_figure``, ``plot_capture_ladder``, ``plot_capture_latency`` - a
  capture's diagnosis (``capture.diagnose``): the captured attempts, the model's reproduction as a
  ladder, both latency CDFs.

``latency_summary`` (``handshake_course.analysis``) and ``counters_table``, ``counters_view``
(``handshake_course.text``) are standard-library code that needs no extra; they are importable from
here too.
"""

from ..analysis import LatencySummary, latency_summary
from ..extras import require
from ..text import CounterRow, CountersTable, counters_table, counters_view

require("dashboards", "handshake_course.views (the figures)")

from .capacities import plot_capacities
from .capture import capture_diagnosis_figure, plot_capture_ladder, plot_capture_latency
from .events import describe_event
from .fastopen import PATHS, fastopen_path, plot_request_wait, request_wait
from .floods import plot_flood_sweep
from .ladder import ladder_packets, plot_ladder, select_clients, stretch_time_axis, stretched_seam
from .latency import plot_latency
from .listeners import ListenerRow, listener_clients, listener_rows, plot_listener_queues
from .measured import plot_accept_capacity, plot_herd
from .outcomes import OUTCOME_COLOURS, OUTCOME_TEXT, outcome_bars_html, plot_outcomes
from .overview import overview_figure
from .ports import plot_port_use, plot_ports, port_use
from .queues import plot_queues
from .state_graph import PathStep, plot_state_graph, state_graph, state_graph_key, state_path
from .style import KIND_COLOURS, OKABE_ITO
from .syn_timeline import plot_syn_timeline

__all__ = [
    "KIND_COLOURS",
    "OKABE_ITO",
    "OUTCOME_COLOURS",
    "OUTCOME_TEXT",
    "PATHS",
    "CounterRow",
    "CountersTable",
    "LatencySummary",
    "ListenerRow",
    "PathStep",
    "capture_diagnosis_figure",
    "counters_table",
    "counters_view",
    "describe_event",
    "fastopen_path",
    "ladder_packets",
    "latency_summary",
    "listener_clients",
    "listener_rows",
    "outcome_bars_html",
    "overview_figure",
    "plot_accept_capacity",
    "plot_capacities",
    "plot_capture_ladder",
    "plot_capture_latency",
    "plot_flood_sweep",
    "plot_herd",
    "plot_ladder",
    "plot_latency",
    "plot_listener_queues",
    "plot_outcomes",
    "plot_port_use",
    "plot_ports",
    "port_use",
    "plot_queues",
    "plot_request_wait",
    "plot_state_graph",
    "plot_syn_timeline",
    "request_wait",
    "select_clients",
    "state_graph",
    "state_graph_key",
    "state_path",
    "stretch_time_axis",
    "stretched_seam",
]
