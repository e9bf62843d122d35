"""Numbers and findings read off a Result, with one definition each, for every reader (views,
dashboards, the command line, the grader, the lessons). Standard library only.

- ``latency``: ``percentile`` (nearest rank), ``latency_summary`` - connect latencies;
- ``diagnosis``: ``diagnose``, ``diagnose_result`` - from nstat and ss to causes and fixes;
- ``floods``: ``flood_scenario``, ``flood_sweep``, ``legit_success`` - SYN floods against a listener.
"""

from .diagnosis import HYPOTHESES, Finding, diagnose, diagnose_result
from .floods import flood_scenario, flood_sweep, legit_success
from .latency import LatencySummary, latency_summary, percentile

__all__ = ["HYPOTHESES", "Finding", "LatencySummary", "diagnose", "diagnose_result", "flood_scenario",
           "flood_sweep", "latency_summary", "legit_success", "percentile"]
