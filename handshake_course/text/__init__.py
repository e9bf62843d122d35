"""Text renderings of a result, for the command line, the grader's exhibits and the dashboards'
HTML panes. Standard library only, so ``handshake-course simulate`` runs on the base install.

- ``counters``: ``counters_table``, ``counters_view`` - the nstat counters of both hosts, as text or HTML.
"""

from .counters import CounterRow, CountersTable, counters_table, counters_view

__all__ = ["CounterRow", "CountersTable", "counters_table", "counters_view"]
