"""The checks a graded notebook calls: ``check("ex01", "q1", q1)`` prints feedback and points.

``score`` does the same without printing. Both take the learner's object (a number, a letter, a
function, a dict of settings), turn it into plain data exactly as the autograder's probe does, and
score it with the question's own rule (``questions``). The autograder calls ``score_plain`` on the
plain data it collected from the executed notebook.
"""

from __future__ import annotations

from typing import Any

from .catalog import EXERCISES
from .questions import ERROR, Exercise, Feedback, Question, Verdict


def lookup(exercise: str, question: str) -> tuple[Exercise, Question]:
    """The exercise and question with these ids; ValueError naming the known ones otherwise."""
    try:
        ex = EXERCISES[exercise]
    except KeyError:
        raise ValueError(f"no exercise {exercise!r}; known: {', '.join(EXERCISES)}") from None
    return ex, ex.question(question)


def score_plain(exercise: str, question: str, plain: Any) -> Feedback:
    """Score plain answer data; a failure inside the check itself is reported, never raised."""
    ex, q = lookup(exercise, question)
    try:
        verdict = q.score(ex.id, plain)
    except Exception as err:  # a bug in a check must not lose the other questions' points
        verdict = Verdict(0, ERROR, f"the check itself failed ({type(err).__name__}: {err}); tell your instructor.")
    return ex.feedback(q, verdict)


def score(exercise: str, question: str, answer: Any) -> Feedback:
    """Score the learner's answer object without printing."""
    _, q = lookup(exercise, question)
    return score_plain(exercise, question, q.from_object(answer))


def check(exercise: str, question: str, answer: Any, *, quiet: bool = False) -> Feedback:
    """Score the answer and print one line of feedback: points, status and what to re-read.
    ``quiet=True`` (the hidden tests of the source notebooks) only returns it."""
    feedback = score(exercise, question, answer)
    if not quiet:
        print(feedback.line)
    return feedback
