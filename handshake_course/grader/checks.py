"""The checks a graded notebook calls: ``check("ex01", "q1", q1)`` prints feedback and points.

``score`` does the same without printing. Both take the learner's object (a number, a letter, a
function, a dict of settings), turn it into plain data exactly as the autograder's probe does, and
score it with the question's own rule (``questions``). The autograder calls ``score_plain`` on the
plain data it collected from the executed notebook.

Inside the grading sandbox the answer key (``key``) is hidden: there ``check`` only says that the
grader will score the answer once the notebook has run.
"""

from __future__ import annotations

from typing import Any

from .questions import ERROR, Exercise, Feedback, Question, Verdict


def exercises() -> dict[str, Exercise] | None:
    """Every exercise by id, or None where the answer key is hidden (the grading sandbox)."""
    try:
        from .key import EXERCISES
    except ImportError:
        return None
    return EXERCISES


def lookup(exercise: str, question: str) -> tuple[Exercise, Question]:
    """The exercise and question with these ids; ValueError naming the known ones otherwise."""
    known = exercises()
    if known is None:
        raise LookupError("the answer key is not available here (the grader's sandbox hides it)")
    try:
        ex = known[exercise]
    except KeyError:
        raise ValueError(f"no exercise {exercise!r}; known: {', '.join(known)}") from None
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


def check(exercise: str, question: str, answer: Any, *, quiet: bool = False) -> Feedback | None:
    """Score the answer and print one line of feedback: points, status and what to re-read.
    ``quiet=True`` only returns it. Where the key is hidden (while the grader runs the notebook)
    it prints that the grader scores the answer, and returns None."""
    if exercises() is None:
        if not quiet:
            print(f"{exercise} {question}: the grader scores this answer once the whole notebook has run.")
        return None
    feedback = score(exercise, question, answer)
    if not quiet:
        print(feedback.line)
    return feedback
