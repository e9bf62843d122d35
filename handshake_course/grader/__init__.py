"""Graded exercises and their autograder.

In a notebook::

    from handshake_course.grader import check, exhibit, exhibit_file
    exhibit("ex05", "trace")          # the evidence an exercise shows
    path = exhibit_file("ex10", "capture")  # a file it shows (a capture), written to a temporary folder
    check("ex01", "q1", q1)           # prints points and feedback

For instructors: ``grade(path)`` executes and scores submitted notebooks (see ``autograde``);
``release`` makes the student notebooks from the sources; ``cli.register`` adds the
``handshake-course grade`` command. Importing this package does not import nbclient, so a learner's
kernel stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .checks import check, score
from .exhibits import exhibit, exhibit_file, flood_day, try_flood_day
from .questions import Feedback

if TYPE_CHECKING:
    from .autograde import Report
    from .questions import Exercise

__all__ = ["EXERCISES", "Feedback", "check", "exhibit", "exhibit_file", "flood_day", "grade", "score", "try_flood_day"]


def __getattr__(name: str) -> dict[str, Exercise]:
    """``EXERCISES`` (every exercise by id) from the answer key, loaded when first asked for: the
    grading sandbox hides the key, and importing this package must work there too."""
    if name == "EXERCISES":
        from .key import EXERCISES

        return EXERCISES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def grade(path: Any, **options: Any) -> Report:
    """Grade one notebook or a folder of submissions; see ``autograde.grade``."""
    from ..extras import require

    require("grade", "handshake_course.grader.grade")
    from .autograde import grade as _grade

    return _grade(path, **options)
