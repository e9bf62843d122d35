"""What the command line shows while a long run works: a progress bar on stderr, drawn by tqdm.

tqdm is optional (the ``dashboards`` extra installs it; the base package needs the standard library
only): without it the commands work the same, with no bar. A command's ``--progress`` shows the bar
at once, wherever stderr goes; ``--no-progress`` never does; by default a bar appears only on a
terminal, and only once a run has lasted ``DELAY`` seconds, so that quick runs print nothing more.
The bar goes to stderr, never to stdout: a report or a JSON document is the same with or without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

DELAY = 2.0
"""Seconds a run lasts before an automatic bar (no ``--progress``) appears."""

Bar = Any
"""A ``tqdm.tqdm`` (typed loosely: tqdm may not be installed)."""


def add_progress_option(parser: argparse.ArgumentParser | Any) -> None:
    """``--progress`` / ``--no-progress`` on a command's parser (``args.progress``: True, False or
    None for the default)."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help=f"show a progress bar on stderr (needs tqdm; default: on a terminal, for runs "
                             f"longer than {DELAY:g} s)")


def progress_bar(total: float, *, desc: str, unit: str, choice: bool | None, stream: TextIO | None = None,
                 delay: float | None = None, **options: Any) -> Bar | None:
    """A tqdm bar over ``total`` units on ``stream`` (stderr), or None: when ``choice`` (the
    ``--progress`` option) is False, or None and the stream is not a terminal, or tqdm is not
    installed (said in one line on the stream if the bar was asked for). The bar appears after
    ``delay`` seconds (default: at once with ``--progress``, else after ``DELAY``)."""
    stream = stream or sys.stderr
    if choice is False or (choice is None and not _is_terminal(stream)):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if choice:
            print("note: --progress needs the tqdm package (pip install tqdm); running without a bar",
                  file=stream)
        return None
    if delay is None:
        delay = 0.0 if choice else DELAY
    return tqdm(total=total, desc=desc, unit=unit, file=stream, delay=delay, dynamic_ncols=True, **options)


def simulation_progress(bar: Bar) -> Callable[[float, float], None]:
    """The ``progress`` argument of ``simulate`` that moves ``bar`` (total: the simulated seconds)
    to each reported time."""
    def report(done: float, total: float) -> None:
        bar.update(done - bar.n)
    return report


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
