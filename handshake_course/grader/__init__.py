"""Graded exercises and their autograder.

In a notebook::

    from handshake_course.grader import check, exhibit
    exhibit("ex05", "trace")          # the evidence an exercise shows
    check("ex01", "q1", q1)           # prints points and feedback

For instructors: ``grade(path)`` executes and scores submitted notebooks (see ``autograde``);
``release`` makes the student notebooks from the sources; ``cli.register`` adds the
``handshake-course grade`` command. Importing this package does not import nbclient, so a learner's
kernel stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog import EXERCISES
from .checks import check, score
from .exhibits import exhibit, flood_day, try_flood_day
from .questions import Feedback

if TYPE_CHECKING:
    from .autograde import Report

__all__ = ["EXERCISES", "Feedback", "check", "exhibit", "flood_day", "grade", "score", "try_flood_day"]


def grade(path: Any, **options: Any) -> Report:
    """Grade one notebook or a folder of submissions; see ``autograde.grade``."""
    from .autograde import grade as _grade

    return _grade(path, **options)
