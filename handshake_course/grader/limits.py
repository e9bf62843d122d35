"""The autograder's limits (a module of its own, so that the command line can show the defaults
without importing nbclient)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Time, size and resource limits for grading one notebook.

    The resource limits hold inside the sandbox, per process of the notebook's kernel: ``memory``
    is its address space, ``processes`` counts the processes and threads of the sandbox (Linux
    does not apply it to root), ``file_size`` caps each file it writes and each of its in-memory
    folders (HOME, /tmp, /dev/shm), ``cpu`` its processor time."""

    cell: float = 30.0  # seconds one cell of the learner's may run (nbgrader's default)
    notebook: float = 300.0  # seconds all the learner's cells together, restarts included
    probe: float = 10.0  # seconds one grader-injected cell, on top of the calls it makes
    startup: float = 60.0  # seconds for a kernel to start
    output: int = 100_000  # output characters kept per cell
    cell_source: int = 200_000  # characters of code a cell may have; longer cells are not run
    restarts: int = 2  # fresh kernels after a hung or dead one
    memory: int = 2048  # MiB of address space per process
    processes: int = 64  # processes and threads
    file_size: int = 64  # MiB per file, and per writable folder
    cpu: float = 600.0  # seconds of CPU time per process
    open_files: int = 256
