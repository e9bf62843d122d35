"""The graded exercises: nbgrader metadata, release notebooks in step with their sources, every
reference solution earning full marks and every untouched student notebook running and scoring 0.

The last two run each notebook through the autograder (a fresh kernel per notebook, in its sandbox
where bubblewrap runs). The same notebooks also run under nbval (``pytest --nbval-lax
--nbval-current-env exercises/source exercises/release``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from learners import SANDBOX

from handshake_course.grader import EXERCISES, release
from handshake_course.grader.autograde import grade
from handshake_course.grader.questions import LESSONS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))
GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")
CHECK_CALL = re.compile(r'^check\("(ex\d\d)", "(q\d+)", ')


def exercise_of(path: Path):
    return next(ex for ex in EXERCISES.values() if ex.slug == path.stem)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_every_exercise_has_a_source_and_a_release_notebook():
    assert sorted(p.stem for p in SOURCES) == sorted(ex.slug for ex in EXERCISES.values())
    assert len(SOURCES) >= 8
    for src in SOURCES:
        assert release.release_path(src).exists()


def test_feedback_points_to_sections_the_lessons_have():
    refs = {q.ref for ex in EXERCISES.values() for q in ex.questions}
    for ref in refs:
        path = ROOT / "notebooks" / LESSONS[ref.lesson][1]
        nb = nbformat.read(path, as_version=4)
        headings = {line.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if line.startswith("#")}
        assert ref.section in headings, f"{path.name} has no section {ref.section!r}"


def test_release_notebooks_are_exactly_what_the_generator_makes():
    stale = release.stale(ROOT)
    assert stale == [], f"regenerate with `python -m handshake_course.grader.release`: {stale}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_source_notebook_follows_nbgrader_schema_v3(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    ex = exercise_of(path)
    assert nb.metadata["handshake_course"]["exercise"] == ex.id
    seen, checked = set(), {}
    for cell in nb.cells:
        meta = nbgrader(cell)
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "notebooks are stored without outputs"
            assert "ipywidgets" not in cell.source and "interact" not in cell.source, "graded notebooks hold no widgets"
        if not meta:
            continue
        assert meta["schema_version"] == 3
        assert all(isinstance(meta[k], bool) for k in ("grade", "solution", "locked"))
        assert GRADE_ID.match(meta["grade_id"]) and meta["grade_id"] not in seen
        seen.add(meta["grade_id"])
        if meta["solution"]:
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        if meta["grade"]:
            assert cell.cell_type == "code" and meta["locked"] and not meta["solution"]
            match = CHECK_CALL.match(cell.source)
            assert match and match.group(1) == ex.id, cell.source
            checked[match.group(2)] = meta["points"]
    assert checked == {q.id: q.points for q in ex.questions}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_release_notebook_holds_stubs_not_solutions(path):
    nb = nbformat.read(release.release_path(path), as_version=4)
    text = nbformat.writes(nb)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    for cell in nb.cells:
        meta = nbgrader(cell)
        if meta.get("solution"):
            assert "raise NotImplementedError()" in cell.source or re.search(r"^\w+ = None$", cell.source, re.M)
            assert cell.metadata["deletable"] is False
        elif meta.get("grade") or meta.get("locked"):
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_solution_earns_full_marks_and_untouched_release_scores_zero(path):
    ex = exercise_of(path)
    solved = grade(path, sandbox=SANDBOX).submissions[0]
    assert (solved.status, solved.points, solved.max_points) == ("graded", ex.max_points, ex.max_points), \
        solved.questions
    assert solved.notes == []
    untouched = grade(release.release_path(path), sandbox=SANDBOX).submissions[0]
    assert (untouched.status, untouched.points) == ("graded", 0)
    assert untouched.notes == [], "an untouched student notebook must run without errors"
    assert {f.status for f in untouched.questions} == {"not answered yet"}
