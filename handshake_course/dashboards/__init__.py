"""Interactive dashboards of the course: ipywidgets controls wired to the model and the views.

Each lesson's notebook holds one line per dashboard, e.g. ``app = hc.dashboards.queues_app();
app.widget``. Every app exposes ``.widget``, ``.controls`` (name -> control), ``.update()``,
``.result`` and ``.error``, so tests and notebook cells drive it kernel-side. One module per idea:

- ``handshake``: lesson 0, one handshake (ladder and state machine);
- ``listen``: lesson 1, the two queues and their limits;
- ``connect``: lesson 2, ephemeral ports and the SYN timer;
- ``syn``: lesson 3, the SYN queue, syncookies, accept-queue-full SYN drops;
- ``third_ack``: lesson 4, the SYN-ACK and the third ACK;
- ``accept``: lesson 5, accept rate and the herd after one accept();
- ``latency``: lesson 6, connect latency under loss;
- ``flood``: lesson 7, SYN floods;
- ``timemachine``: lesson 8, one scenario on every version;
- ``troubleshoot``: lesson 9, simulated incidents and ``analysis.diagnose``'s findings;
- ``check``: lesson 10, the model against a measurement of the running kernel.
"""

from ..analysis import Finding, diagnose, diagnose_result  # where lessons found them before 0.2
from ..extras import require

require("dashboards", "handshake_course.dashboards (the lessons' dashboards)")

from .accept import AcceptApp, HerdApp, accept_app, herd_app
from .base import Dashboard
from .check import CheckApp, check_app
from .connect import ConnectApp, connect_app
from .flood import FloodApp, flood_app
from .handshake import HandshakeApp, handshake_app
from .latency import LatencyApp, latency_app
from .links import source_table, source_url
from .listen import QueuesApp, queues_app
from .syn import SynApp, syn_app
from .third_ack import ThirdAckApp, third_ack_app
from .timemachine import PRESETS, TimeMachineApp, timemachine_app
from .troubleshoot import INCIDENTS, TroubleshootApp, troubleshoot_app

APPS = {
    "00_start_here": handshake_app,
    "01_listen": queues_app,
    "02_connect": connect_app,
    "03_syn_queue": syn_app,
    "04_synack_and_ack": third_ack_app,
    "05_accept": accept_app,
    "05_accept_herd": herd_app,
    "06_loss_and_latency": latency_app,
    "07_syn_flood": flood_app,
    "08_time_machine": timemachine_app,
    "09_troubleshooting": troubleshoot_app,
    "10_check_your_kernel": check_app,
}
"""Each lesson's dashboard factory (for the benchmark and the tests)."""

__all__ = [
    "APPS",
    "INCIDENTS",
    "PRESETS",
    "AcceptApp",
    "CheckApp",
    "ConnectApp",
    "Dashboard",
    "Finding",
    "FloodApp",
    "HandshakeApp",
    "HerdApp",
    "LatencyApp",
    "QueuesApp",
    "SynApp",
    "ThirdAckApp",
    "TimeMachineApp",
    "TroubleshootApp",
    "accept_app",
    "check_app",
    "connect_app",
    "diagnose",
    "diagnose_result",
    "flood_app",
    "handshake_app",
    "herd_app",
    "latency_app",
    "queues_app",
    "source_table",
    "source_url",
    "syn_app",
    "third_ack_app",
    "timemachine_app",
    "troubleshoot_app",
]
