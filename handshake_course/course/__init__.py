"""The course material this package carries: the lessons, the learners' exercise notebooks, and
the JupyterLab settings the course opens with.

The checkout keeps the lessons in ``notebooks/`` and the learners' exercise notebooks in
``exercises/release/``. A wheel carries the same files as package data beside this module
(``lessons/`` and ``exercises/``; pyproject.toml maps the folders), so an installed package can
make a learner's workspace with no checkout at hand. In a checkout (an editable install) they are
read from the checkout's folders themselves. Either way ``material()`` names each file by its
course path, ``notebooks/<lesson>.ipynb`` or ``exercises/release/<id>/<id>.ipynb``: the paths the
lessons link by and the grader's feedback cites.

The instructor's notebooks with solutions (``exercises/source/``) are never package data. The
lessons themselves, in order, with their dashboards and exercises, are listed in ``syllabus``.
"""

from __future__ import annotations

from pathlib import Path

from .syllabus import FIRST_LESSON, LESSONS, Lesson

__all__ = ["FIRST_LESSON", "LAB_SETTINGS", "LESSONS", "CourseMissing", "Lesson", "exercise_notebook",
           "folders", "instructor_root", "material"]

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]


#: course folder -> (the folder it is packaged as, the notebooks in it)
FOLDERS = {"notebooks": ("lessons", "*.ipynb"), "exercises/release": ("exercises", "*/*.ipynb")}
#: JupyterLab settings overrides: no "fetch the news?" toast and no update check over the lesson
LAB_SETTINGS = HERE / "lab-settings"


class CourseMissing(FileNotFoundError):
    """Neither the package nor a checkout beside it holds the course's notebooks."""


def folders() -> dict[str, Path]:
    """Course folder -> where its files are: the packaged copy in an installed wheel, else the
    checkout's own folder."""
    for where in ({course: HERE / packaged for course, (packaged, _) in FOLDERS.items()},
                  {course: CHECKOUT / course for course in FOLDERS}):
        if all(path.is_dir() for path in where.values()):
            return where
    raise CourseMissing(f"the course's notebooks are neither packaged in {HERE} nor in a checkout at "
                        f"{CHECKOUT}; reinstall the package (pip install --force-reinstall handshake-course)")


def material() -> dict[str, Path]:
    """Every notebook a learner's workspace holds, by course path -> the file it is copied from."""
    found: dict[str, Path] = {}
    for course, folder in folders().items():
        for path in sorted(folder.glob(FOLDERS[course][1])):
            found[f"{course}/{path.relative_to(folder).as_posix()}"] = path
    return found


def exercise_notebook(slug: str) -> Path:
    """The learner's copy of one exercise, as released (what the grader compares check cells with)."""
    return folders()["exercises/release"] / slug / f"{slug}.ipynb"


def instructor_root() -> Path:
    """The checkout holding the instructor's notebooks (``exercises/source/``, with the solutions):
    the current folder if it has them, else the checkout this package runs from. An installed
    wheel has none: they stay in the course's repository."""
    for base in (Path.cwd(), CHECKOUT):
        if (base / "exercises" / "source").is_dir():
            return base
    raise CourseMissing(
        "the instructor's notebooks (exercises/source/) are not here: they are in a checkout of the course's "
        "repository, not in the installed package; run this command from the checkout")
