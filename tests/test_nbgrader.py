"""The same notebooks through real nbgrader, in a temporary course folder: ``nbgrader
generate_assignment`` makes the same locked cells and checksums as ``handshake-course release``,
``nbgrader autograde`` gives every question the points ``handshake-course grade`` gives (partial
credit included, a redefined ``check`` ignored), and ``nbgrader validate`` flags an edited check
cell of our release notebook.

nbgrader comes with the test extra (``pip install -e '.[test]'``); without it the module is skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from learners import RELEASE, ROOT, SLUG, WRONG, graded, solutions, submission, write

pytest.importorskip("nbgrader", reason="nbgrader is not installed (pip install -e '.[test]')")

pytestmark = pytest.mark.slow

NO_WRAP = solutions()["ex01-q6-answer"].replace("backlog &= 0xFFFF", "pass")  # 2 of q6's 3 points
REDEFINES_CHECK = ("def check(*args, **kwargs):\n    class Full:\n        full_marks, points = True, 99\n"
                   "    return Full()\nscore = check")
LEARNERS = {
    "alice": submission(solved=True),
    "bob": submission({"ex01-q1-answer": solutions()["ex01-q1-answer"], "ex01-q6-answer": NO_WRAP}),
    "carol": submission(WRONG, before_answers=(REDEFINES_CHECK,)),
    "dave": submission(),
}


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """exercises/ copied to a course folder, ex01 released by nbgrader, the learners' notebooks
    submitted and autograded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "exercises" / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "exercises" / "source", course / "source")
    nbgrader(course, "db", "assignment", "add", SLUG)
    for student, nb in LEARNERS.items():
        nbgrader(course, "db", "student", "add", student)
        write(course / "submitted" / student / SLUG / f"{SLUG}.ipynb", nb)
    nbgrader(course, "generate_assignment", SLUG, "--force")
    nbgrader(course, "autograde", SLUG, "--force")
    return course


def nbgrader_points(course: Path) -> dict[str, dict[str, float]]:
    """student -> question -> points, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {student: {g.name.split("-")[1]: g.score for g in
                          gb.find_submission_notebook(SLUG, SLUG, student).grades}
                for student in LEARNERS}


def test_autograde_gives_the_points_handshake_course_gives(course, tmp_path):
    theirs = nbgrader_points(course)
    ours = {student: {f.question: float(f.points) for f in graded(tmp_path / student, nb).questions}
            for student, nb in LEARNERS.items()}
    assert theirs == ours
    assert sum(theirs["alice"].values()) == 8 and theirs["bob"]["q6"] == 2.0  # full and partial credit
    assert sum(theirs["carol"].values()) == 0  # her own `check` is not what the hidden tests call


def test_our_release_carries_nbgraders_checksums(course):
    def checksums(path: Path) -> dict[str, str]:
        nb = nbformat.read(path, as_version=4)
        return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["checksum"] for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("locked")}

    theirs = checksums(course / "release" / SLUG / f"{SLUG}.ipynb")
    assert theirs and checksums(RELEASE) == theirs  # every locked cell: prompts, setup and check cells


def test_validate_flags_an_edited_check_cell(course):
    nb = nbformat.read(RELEASE, as_version=4)
    next(c for c in nb.cells if c.metadata["nbgrader"].get("grade_id") == "ex01-q1-check").source = \
        'print("ex01 q1: 1/1 point - correct.")'
    edited = write(course / "edited.ipynb", nb)
    out = nbgrader(course, "validate", str(edited)).stdout
    assert "THE CONTENTS OF 1 TEST CELL(S) HAVE CHANGED!" in out
    assert "Success!" in nbgrader(course, "validate", str(RELEASE)).stdout  # the untouched copy is fine

