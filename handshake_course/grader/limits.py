"""The autograder's time and size limits (a module of its own, so that the command line can show
the defaults without importing nbclient)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Time and size limits, in seconds and characters."""

    cell: float = 30.0  # one cell of the learner's (nbgrader's default)
    notebook: float = 300.0  # all the learner's cells together, restarts included
    probe: float = 10.0  # one grader-injected cell, on top of the calls it makes
    startup: float = 60.0  # a kernel to start
    output: int = 100_000  # output characters kept per cell
    restarts: int = 2  # fresh kernels after a hung or dead one
