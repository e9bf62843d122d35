"""The course from its distributions, as a user installs it: ``python -m build`` makes the sdist and
the wheel of this tree; fresh venvs outside the checkout install the wheel (not editable).

* The sdist holds every tracked file (so its tests run); both pass ``twine check --strict``.
* The wheel carries the lessons and the learners' exercise notebooks, never a solution, and every
  package of the source tree; its metadata are what a package index shows (license, URLs,
  classifiers) and its base requirements are none.
* The base install pulls in no Jupyter server (nothing but the package), and on every Python 3.10
  to 3.13 this machine has, the README's example and a learner's ``check()`` run; the parts that
  need an extra say which one to install.
* With ``[course]``, the venv's ``handshake-course lab``, run by its path from a temporary folder
  (the venv not activated), makes the workspace there and opens lesson 00 at the URL it prints;
  with the venv's kernel and the venv's package, the workspace passes the environment probe (every
  import of every notebook, every dashboard, a learner's check); the checkout is left as it was.
  The notebooks themselves run once per test run, under nbval in the test environment.

Install time and venv size of the base package and of ``[course]`` are printed and kept in
artifacts/wheel/install.json. Without network access to the package index (the build needs
setuptools, the course extra its packages) the tests are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from browser.labserver import isolated_env, kernel_command
from lab_launch import check_first_lesson, launched
from learners import SANDBOX, SLUG, submission, write
from venvs import (
    REPO,
    Venv,
    environment_probe,
    install,
    make_venv,
    probe_printed,
    run,
    run_notebook,
    venv_env,
)

from handshake_course import __version__, course

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "artifacts" / "wheel"
NOTEBOOK_TIMEOUT = 600
CELL_TIMEOUT = 300
#: Distributions of a Jupyter server and its kernel plumbing, none of which the base package may pull in.
SERVER_PACKAGES = {"jupyterlab", "jupyter-server", "notebook", "tornado", "pyzmq", "ipykernel", "psutil", "debugpy",
                   "jupyter-client", "nbclient", "nbval"}
README_EXAMPLE = """
from handshake_course import Kernel, Scenario, simulate
result = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=8, clients=20))
print(json.dumps({"clients": len(result.clients), "version": handshake_course.__version__,
                  "package": handshake_course.__file__}))
"""


def git_status() -> str:
    return run(["git", "status", "--porcelain"], timeout=60, cwd=REPO).stdout


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def wheel_metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(zf.read(name).decode())
    return {key: message.get_all(key) or [] for key in set(message.keys())}


# ---- the distributions ---------------------------------------------------------------------------

def test_twine_check_strict_passes(dist: dict[str, Path]) -> None:
    checked = run([sys.executable, "-m", "twine", "check", "--strict", dist["sdist"], dist["wheel"]], timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_sdist_holds_every_tracked_file(dist: dict[str, Path]) -> None:
    tracked = run(["git", "ls-files"], timeout=60, cwd=REPO)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout (an unpacked sdist, say): nothing to compare the sdist with")
    with tarfile.open(dist["sdist"]) as tf:
        held = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    missing = sorted(set(tracked.stdout.split()) - held - {".gitignore"})
    assert not missing, f"tracked files the sdist leaves out (MANIFEST.in): {missing}"
    junk = sorted(n for n in held if re.search(r"(__pycache__|\.ipynb_checkpoints|\.pyc$)", n))
    assert not junk, junk


def test_the_wheel_carries_the_course_and_no_solutions(dist: dict[str, Path]) -> None:
    names = wheel_names(dist["wheel"])
    packaged = {name.removeprefix("handshake_course/course/") for name in names if name.endswith(".ipynb")}
    expected = {f"lessons/{p.name}" for p in (REPO / "notebooks").glob("*.ipynb")}
    expected |= {f"exercises/{p.parent.name}/{p.name}" for p in (REPO / "exercises" / "release").glob("*/*.ipynb")}
    assert packaged == expected, sorted(packaged ^ expected)
    with zipfile.ZipFile(dist["wheel"]) as zf:
        assert not [n for n in names if n.endswith(".ipynb") and b"BEGIN SOLUTION" in zf.read(n)]
    assert not [n for n in names if "exercises/source" in n or n.startswith(("tests/", "notebooks/"))]
    packages = {str(p.parent.relative_to(REPO)) for p in (REPO / "handshake_course").rglob("__init__.py")}
    assert {p for p in packages if f"{p}/__init__.py" not in names} == set(), "packages the wheel leaves out"
    for data in ("handshake_course/model/kernel_index.json", "handshake_course/course/lab-settings/overrides.json",
                 "handshake_course/py.typed"):
        assert data in names
    assert any(n.startswith("handshake_course/lab/measurements/") and n.endswith(".json") for n in names)


def test_the_wheel_metadata_are_what_an_index_shows(dist: dict[str, Path]) -> None:
    meta = wheel_metadata(dist["wheel"])
    assert meta["Version"] == [__version__]
    assert meta["License-Expression"] == ["MIT"] and meta["License-File"] == ["LICENSE"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_names(dist["wheel"]))
    for classifier in ("Framework :: Jupyter", "Topic :: Education", "Topic :: System :: Networking"):
        assert classifier in meta["Classifier"]
    urls = dict(u.split(", ", 1) for u in meta["Project-URL"])
    assert {"Homepage", "Source", "Issues"} <= set(urls) and all(u.startswith("https://") for u in urls.values())
    assert meta["Author"] or meta["Author-email"]
    base = [r for r in meta.get("Requires-Dist", []) if "extra ==" not in r]
    assert base == [], f"the base package requires {base}"
    assert {"dashboards", "course", "grade", "nbgrader", "test"} <= set(meta["Provides-Extra"])
    assert meta["Description-Content-Type"] == ["text/markdown"]


def test_the_readme_links_resolve_on_an_index_page() -> None:
    """The README is the package's page on an index: a link relative to the repository breaks there."""
    links = re.findall(r"\]\(([^)\s]+)", (REPO / "README.md").read_text())
    assert [link for link in links if not link.startswith(("https://", "#"))] == []


# ---- the base package ----------------------------------------------------------------------------

def write_metrics(name: str, venv: Venv) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "install.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = venv.metrics()
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"\n{name}: installed in {venv.install_seconds:.1f} s; {venv.packages} distributions, "
          f"{venv.size_mib:.0f} MiB ({venv.disk_mib:.0f} MiB on disk)")


def wheel_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, extra: str | None) -> Venv:
    """A fresh venv with the built wheel installed (with ``extra``), its install cost recorded."""
    venv = make_venv(tmp_path_factory.mktemp(extra or "base") / "venv")
    if extra is None:
        install(venv, dist["wheel"], what="pip install <wheel>")
    else:
        install(venv, f"handshake-course[{extra}] @ {dist['wheel'].as_uri()}", what=f"pip install '<wheel>[{extra}]'")
    write_metrics(f"handshake-course[{extra}]" if extra else "handshake-course", venv)
    return venv


@pytest.fixture(scope="module")
def base_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return wheel_venv(dist, tmp_path_factory, None)


def test_the_base_install_pulls_in_nothing(base_venv: Venv) -> None:
    installed = set(base_venv.distributions())
    assert installed - {"pip", "setuptools", "wheel"} == {"handshake-course"}, sorted(installed)
    assert not installed & SERVER_PACKAGES


def interpreters() -> list[object]:
    """One case per Python 3.10 to 3.13 found on this machine (on PATH, or installed by pyenv)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    cases = []
    for minor in (10, 11, 12, 13):
        found = [shutil.which(f"python3.{minor}"), *sorted(map(str, root.glob(f"3.{minor}.*/bin/python3.{minor}")))]
        works = [p for p in found if p and run([p, "-c", "import venv"], timeout=60).returncode == 0]
        cases.append(pytest.param(works[0] if works else None, id=f"3.{minor}"))
    return cases


@pytest.mark.parametrize("python", interpreters())
def test_the_readme_example_and_a_learners_check_run_on_every_python(
        python: str | None, dist: dict[str, Path], tmp_path: Path) -> None:
    if python is None:
        pytest.skip("no such Python on this machine")
    made = run([python, "-m", "venv", tmp_path / "venv"], timeout=300)
    assert made.returncode == 0, made.stderr
    venv = install(Venv(tmp_path / "venv"), dist["wheel"], what=f"pip install <wheel> ({python})")
    code = "import json, handshake_course\n" + README_EXAMPLE + (
        "from handshake_course.grader import check\n"
        "print(json.dumps(check('ex01', 'q1', 129, quiet=True).full_marks))\n")  # 129: the source's solution
    done = run([venv.python, "-c", code], timeout=120, cwd=tmp_path, env=venv_env(venv.path))
    assert done.returncode == 0, done.stderr
    example, full_marks = (json.loads(line) for line in done.stdout.splitlines())
    assert example["clients"] == 20 and example["version"] == __version__
    assert Path(example["package"]).is_relative_to(venv.path), example["package"]
    assert full_marks is True


@pytest.mark.parametrize(("argv", "extra"), [
    (["-c", "import handshake_course.views"], "dashboards"),
    (["-c", "import handshake_course.dashboards"], "dashboards"),
    (["-m", "handshake_course", "lab"], "course"),
    (["-m", "handshake_course", "grade", "x.ipynb"], "grade"),
])
def test_a_part_without_its_extra_names_the_extra(argv: list[str], extra: str, base_venv: Venv, tmp_path: Path) -> None:
    done = run([base_venv.python, *argv], timeout=120, cwd=tmp_path, env=venv_env(base_venv.path))
    assert done.returncode != 0
    assert f"pip install 'handshake-course[{extra}]'" in done.stderr, done.stderr
    if argv[0] == "-m":
        assert "Traceback" not in done.stderr, done.stderr


def test_release_from_the_wheel_says_where_the_sources_are(base_venv: Venv, tmp_path: Path) -> None:
    done = run([base_venv.python, "-m", "handshake_course", "release", "--check"], timeout=120, cwd=tmp_path,
               env=venv_env(base_venv.path))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "exercises/source" in done.stderr and "checkout" in done.stderr, done.stderr


# ---- grading -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grade_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return wheel_venv(dist, tmp_path_factory, "grade")


def test_the_installed_grader_compares_check_cells_with_the_packaged_release(grade_venv: Venv, tmp_path: Path) -> None:
    """From the wheel, far from any checkout: an honest submission earns full marks with no note;
    an edited check cell is spotted (the grader reads the learners' copy the wheel carries)."""
    honest = write(tmp_path / "honest" / f"{SLUG}.ipynb", submission(solved=True))
    edited_nb = submission(solved=True)
    next(c for c in edited_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex01-q2-check").source = \
        'print("8/8 points")'
    edited = write(tmp_path / "edited" / f"{SLUG}.ipynb", edited_nb)
    edited_notes = ["check cells edited: ex01-q2-check (the grade does not depend on them)",
                    "cell 8 (ex01-q2-check) printed '8/8 points': ignored, printed output does not count"]
    for path, notes in ((honest, []), (edited, edited_notes)):
        done = run([grade_venv.bin / "handshake-course", "grade", "--json", *([] if SANDBOX else ["--no-sandbox"]),
                    path], timeout=600, cwd=tmp_path, env=venv_env(grade_venv.path))
        assert done.returncode == 0, done.stderr
        graded = json.loads(done.stdout)["submissions"][0]
        assert (graded["points"], graded["max_points"]) == (8, 8), graded
        assert [n for n in graded["notes"] if "sandbox" not in n] == notes, graded["notes"]


# ---- the course ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def course_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return wheel_venv(dist, tmp_path_factory, "course")


@pytest.fixture(scope="module")
def learner_folder(course_venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the learner runs ``.venv/bin/handshake-course lab``, and the workspace it made there
    (the server is stopped by then)."""
    cwd = tmp_path_factory.mktemp("learner")
    script = course_venv.bin / "handshake-course"
    before = git_status()
    with launched(script, cwd, cwd / "handshake-course", [], cwd.parent / f"{cwd.name}-home") as launch:
        check_first_lesson(launch, course.material())
        argv = kernel_command(launch.server)
        assert Path(argv[0]) == course_venv.python and "ipykernel_launcher" in argv, f"Lab's kernel runs {argv}"
    assert git_status() == before
    return cwd


@pytest.fixture(scope="module")
def kernel_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME (Jupyter dirs, matplotlib's font cache) of the probe's kernel."""
    return tmp_path_factory.mktemp("kernel-home")


def test_the_workspace_runs_the_course_with_the_venvs_kernel(course_venv: Venv, learner_folder: Path,
                                                            kernel_home: Path) -> None:
    """The environment probe in the learner's workspace, with the venv's kernel: every import of every
    lesson and exercise notebook, every dashboard, a learner's check, and the course material the
    installed package finds (nbval runs each notebook itself once, in the test environment)."""
    workspace = learner_folder / "handshake-course"
    notebooks = sorted(workspace.glob("**/*.ipynb"))
    probe = environment_probe(notebooks, workspace / "notebooks")
    try:
        report = run_notebook(course_venv, probe, isolated_env(kernel_home), CELL_TIMEOUT, NOTEBOOK_TIMEOUT)
    finally:
        probe.unlink()
    assert Path(report["kernel_prefix"]).resolve() == course_venv.path.resolve(), report
    assert Path(report["kernel_package"]).resolve().is_relative_to(course_venv.path.resolve()), report
    assert probe_printed(report, "MATERIAL") == sorted(course.material())
    assert sorted(p.relative_to(workspace).as_posix() for p in notebooks) == sorted(course.material())
