"""Text renderings of a result, one home for all of them: the command line's report, the grader's
exhibits and the dashboards' HTML panes read them from here. Standard library only, so
``handshake-course simulate`` runs on the base install.

- ``counters``: ``counters_table``, ``counters_view`` - the nstat counters of both hosts, text or HTML;
- ``host``: ``nstat``, ``dmesg``, ``log_lines``, ``ss`` - the server's shell, as the commands print;
- ``handshake``: ``ladder``, ``kernel_trace``, ``client_symptoms`` - packets, kernel events, symptoms;
- ``report``: ``report``, ``scenario_line`` - what ``handshake-course simulate`` prints;
- ``seconds``: ``format_seconds`` - durations for people;
- ``kernels``: ``profile_changes``, ``distribution_table`` - the modelled kernels and who runs them.
"""

from .counters import CounterRow, CountersTable, counters_table, counters_view
from .kernels import distribution_table, profile_changes

__all__ = ["CounterRow", "CountersTable", "counters_table", "counters_view", "distribution_table", "profile_changes"]
