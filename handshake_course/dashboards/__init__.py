"""Interactive dashboards of the course: ipywidgets controls wired to the model and the views.

Each lesson's notebook holds one line per dashboard, e.g. ``app = hc.dashboards.queues_app();
app.widget``. Every app exposes ``.widget``, ``.controls`` (name -> control), ``.update()``,
``.result`` and ``.error``, so tests and notebook cells drive it kernel-side. One module per idea:

- ``start_here``: lesson 0, one handshake (ladder and state machine);
- ``listen``: lesson 1, the two queues and their limits;
- ``connect``: lesson 2, ephemeral ports and the SYN timer; ports held in TIME_WAIT;
- ``syn_queue``: lesson 3, the SYN queue, syncookies, accept-queue-full SYN drops;
- ``synack_and_ack``: lesson 4, the SYN-ACK and the third ACK;
- ``accept``: lesson 5, accept rate and the herd after one accept();
- ``loss_and_latency``: lesson 6, connect latency under loss;
- ``syn_flood``: lesson 7, SYN floods;
- ``time_machine``: lesson 8, one scenario on every version;
- ``troubleshooting``: lesson 9, simulated incidents and ``analysis.diagnose``'s findings;
- ``check_your_kernel``: lesson 10, the model against a measurement of the running kernel;
- ``real_servers``: lesson 11, SO_REUSEPORT workers and TCP_DEFER_ACCEPT; TCP Fast Open;
- ``read_your_capture``: lesson 12, a capture (the lab's or the learner's) diagnosed beside the model.

Each module is named after its lesson (``course.syllabus`` lists the lessons and their dashboards).
"""

from ..analysis import Finding, diagnose, diagnose_result  # where lessons found them before 0.2
from ..course.syllabus import dashboard_names
from ..extras import require

require("dashboards", "handshake_course.dashboards (the lessons' dashboards)")

from .accept import AcceptApp, HerdApp, accept_app, herd_app
from .base import Dashboard
from .check_your_kernel import CheckApp, check_app
from .connect import ConnectApp, TimeWaitApp, connect_app, time_wait_app
from .links import source_table, source_url
from .listen import QueuesApp, queues_app
from .loss_and_latency import LatencyApp, latency_app
from .read_your_capture import CaptureApp, capture_app
from .real_servers import FastOpenApp, RealServersApp, fastopen_app, real_servers_app
from .start_here import HandshakeApp, handshake_app
from .syn_flood import FloodApp, flood_app
from .syn_queue import SynApp, syn_app
from .synack_and_ack import ThirdAckApp, third_ack_app
from .time_machine import PRESETS, TimeMachineApp, timemachine_app
from .troubleshooting import INCIDENTS, TroubleshootApp, troubleshoot_app

APPS = {name: globals()[factory] for name, (_, factory) in dashboard_names().items()}
"""Each lesson's dashboard factory (for the benchmark and the tests)."""

__all__ = [
    "APPS",
    "INCIDENTS",
    "PRESETS",
    "AcceptApp",
    "CaptureApp",
    "CheckApp",
    "ConnectApp",
    "TimeWaitApp",
    "Dashboard",
    "FastOpenApp",
    "Finding",
    "FloodApp",
    "HandshakeApp",
    "HerdApp",
    "LatencyApp",
    "QueuesApp",
    "RealServersApp",
    "SynApp",
    "ThirdAckApp",
    "TimeMachineApp",
    "TroubleshootApp",
    "accept_app",
    "capture_app",
    "check_app",
    "connect_app",
    "time_wait_app",
    "diagnose",
    "diagnose_result",
    "flood_app",
    "handshake_app",
    "herd_app",
    "latency_app",
    "queues_app",
    "fastopen_app",
    "real_servers_app",
    "source_table",
    "source_url",
    "syn_app",
    "third_ack_app",
    "timemachine_app",
    "troubleshoot_app",
]
