"""Numbers and findings read off a Result, with one definition each, for every reader (views,
dashboards, the command line, the grader, the lessons). Standard library only.

- ``latency``: ``percentile`` (nearest rank), ``latency_summary`` - connect latencies;
- ``diagnosis``: ``diagnose``, ``diagnose_result`` - from nstat and ss to causes and fixes;
- ``floods``: ``flood_scenario``, ``flood_sweep``, ``legit_success`` - SYN floods against a listener;
- ``handshakes``: ``capture_findings`` - what a capture's connection attempts show, and the kernel rule
  behind each finding (``handshake_course.capture.diagnose`` reads the file and runs them);
- ``syn_schedules``: ``syn_schedules``, ``fits`` - which kernel's SYN schedule a capture's intervals fit;
- ``reproduce``: ``propose`` - the scenario that reproduces a capture's attempts.
"""

from .diagnosis import HYPOTHESES, Finding, diagnose, diagnose_result
from .floods import flood_scenario, flood_sweep, legit_success
from .latency import LatencySummary, latency_summary, percentile

__all__ = ["HYPOTHESES", "Finding", "LatencySummary", "diagnose", "diagnose_result", "flood_scenario",
           "flood_sweep", "latency_summary", "legit_success", "percentile"]
