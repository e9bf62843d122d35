"""What the test modules share (as SimPy shares its own fixtures): the distributions of this tree,
and the rule that runs each notebook once per test run.

Every lesson and exercise notebook is executed once: a lesson in Chromium when the browser test
that opens it is selected and can run (it runs every cell and fails on any cell error, as nbval
does, and also checks what the learner sees), else under nbval; an exercise notebook (solution
and learner copy) by the grader in test_exercises.py when that test is selected (it fails on any
cell error too), else under nbval. Notebook cells are ``slow``: ``-m "not slow"`` runs none.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.conftest import find_chromium
from venvs import REPO, pip_failure_reason, run

BROWSER_LESSON_RUN = "test_every_lesson_runs_in_the_browser_with_its_answers_hidden"
GRADER_EXERCISE_RUN = "test_solution_earns_full_marks_and_untouched_release_scores_zero"


def is_notebook_cell(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


@functools.cache
def browser_can_run() -> bool:
    return find_chromium() is not None and importlib.util.find_spec("playwright") is not None


def notebooks_run_by_tests(items: list[pytest.Item]) -> set[Path]:
    """The notebooks a selected test executes in full itself (see the module docstring)."""
    from handshake_course.grader import release

    run_elsewhere: set[Path] = set()
    for item in items:
        params = getattr(item, "callspec", None)
        name = getattr(item, "originalname", "")
        if name == BROWSER_LESSON_RUN and params is not None and browser_can_run():
            run_elsewhere.add(REPO / "notebooks" / params.params["lesson"])
        elif name == GRADER_EXERCISE_RUN and params is not None:
            source = Path(params.params["path"])
            run_elsewhere |= {source, release.release_path(source)}
    return {path.resolve() for path in run_elsewhere}


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    """Mark notebook cells slow (before ``-m`` deselects), then, once ``-m`` and ``-k`` have chosen,
    leave out the nbval cells of notebooks a selected test runs itself."""
    for item in items:
        if is_notebook_cell(item):
            item.add_marker(pytest.mark.slow)
    yield
    elsewhere = notebooks_run_by_tests(items)
    dropped = [item for item in items if is_notebook_cell(item) and item.path.resolve() in elsewhere]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not (is_notebook_cell(item) and item.path.resolve() in elsewhere)]

BUILD_TIMEOUT = 600


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel ``python -m build`` makes of this tree, built once per run; skips
    without network access to the package index (the build installs setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    try:
        built = run([sys.executable, "-m", "build", "--outdir", out, REPO], timeout=BUILD_TIMEOUT, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m build took more than {BUILD_TIMEOUT} s")
    if built.returncode != 0:
        reason = pip_failure_reason(built.stdout + built.stderr)
        if reason is not None:
            pytest.skip(f"no network access to the package index for the build's setuptools: {reason}")
        pytest.fail(f"python -m build failed:\n{(built.stdout + built.stderr)[-4000:]}")
    found = {"sdist": list(out.glob("*.tar.gz")), "wheel": list(out.glob("*.whl"))}
    assert all(len(files) == 1 for files in found.values()), found
    return {kind: files[0] for kind, files in found.items()}
