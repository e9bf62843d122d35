"""Notebooks as learners hand them in, made from the committed release notebook of ex01 by editing
its cells, and the grader run on them. The right answers come from the instructor's source
notebook, so no answer is written down twice. Time limits are short (a few seconds) to keep the
grader tests fast; ``graded`` runs the grader with its sandbox, as an instructor would.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from handshake_course.grader.autograde import grade
from handshake_course.grader.limits import Limits
from handshake_course.grader.report import SubmissionGrade
from handshake_course.grader.sandbox import why_unavailable

SANDBOX = why_unavailable() is None
"""Grade in the sandbox where it runs (CI installs bubblewrap); the scoring tests hold either way,
and test_grader_security.py, which needs the sandbox, is skipped with the reason elsewhere."""

ROOT = Path(__file__).resolve().parent.parent
SLUG = "ex01_accept_capacity"
RELEASE = ROOT / "exercises" / "release" / SLUG / f"{SLUG}.ipynb"
SOURCE = ROOT / "exercises" / "source" / SLUG / f"{SLUG}.ipynb"
FAST = Limits(cell=2, notebook=30, probe=5, startup=60, restarts=1)

WRONG = {
    "ex01-q1-answer": "q1 = 128",
    "ex01-q2-answer": "q2 = 1024",
    "ex01-q3-answer": 'q3 = "lots"',
    "ex01-q4-answer": "q4 = 0",
    "ex01-q5-answer": "q5 = 70000",
    "ex01-q6-answer": "def accept_queue_capacity(backlog, somaxconn, width):\n    return backlog",
}


def solutions() -> dict[str, str]:
    """Each answer cell of the source notebook with its solution markers removed."""
    nb = nbformat.read(SOURCE, as_version=4)
    marker = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)
    return {c.metadata["nbgrader"]["grade_id"]: marker.sub("", c.source)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def submission(edits: dict[str, str] | None = None, *, solved: bool = False, drop_checks: bool = False,
               before_answers: tuple[str, ...] = (), at_end: tuple[str, ...] = ()) -> NotebookNode:
    """The release notebook as a learner might hand it in."""
    nb = nbformat.read(RELEASE, as_version=4)
    answers = {**(solutions() if solved else {}), **(edits or {})}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    if drop_checks:
        nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    first_answer = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    nb.cells[first_answer:first_answer] = [nbformat.v4.new_code_cell(s) for s in before_answers]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in at_end]
    return nb


def write(path: Path, nb: NotebookNode | str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    elif isinstance(nb, str):
        path.write_text(nb, encoding="utf-8")
    else:
        path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def graded(tmp_path: Path, nb: NotebookNode | str | bytes, name: str = f"{SLUG}.ipynb",
           limits: Limits = FAST, **options: Any) -> SubmissionGrade:
    report = grade(write(tmp_path / name, nb), limits=limits, **{"sandbox": SANDBOX, **options})
    assert len(report.submissions) == 1
    return report.submissions[0]


def by_question(s: SubmissionGrade) -> dict[str, object]:
    return {f.question: f for f in s.questions}


def notes_text(s: SubmissionGrade) -> str:
    return "\n".join(s.notes)
