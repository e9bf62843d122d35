"""The answer key: every graded question with its points and how its answer is computed or keyed
(``catalog``).

The key lives in a package of its own so that the grading sandbox can hide it: a notebook being
graded finds this folder empty, so it cannot score itself with the grader's own rules. In a
learner's own environment it is here, and ``check()`` uses it for immediate feedback; it holds no
answer in plain text (numbers are computed from the model, letters and names are salted hashes).
"""

from __future__ import annotations

from .catalog import EXERCISES

__all__ = ["EXERCISES"]
