"""What each role installs (pyproject.toml's extras) and what each part of the package imports.

The model, the command line, the live-kernel lab and the learners' ``check()`` need the standard
library only: run with ``python -S`` (no site-packages at all) every module but the figures, the
dashboards and the grader's runner imports, and the README's example, ``handshake-course simulate``
(text and JSON) and a check run. Those that
need more say which extra to install (``handshake_course.extras``), and each extra of
pyproject.toml installs exactly the modules ``extras.MODULES`` says it does. The built wheel,
installed into fresh venvs, is tested in test_wheel.py.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from venvs import REPO, extra_requirements, normalize

from handshake_course import cli, course, extras

#: The modules that need an extra, and why; every other module imports with the standard library.
NEED_AN_EXTRA = {
    "handshake_course.views": "dashboards",
    "handshake_course.dashboards": "dashboards",
    "handshake_course.grader.autograde": "grade",
    "handshake_course.grader.release": "grade",
    "handshake_course.grader.runner": "grade",
    "handshake_course.grader.sandbox": "grade",
    "handshake_course.grader.submission": "grade",
    "handshake_course.capture": "capture",
}

STDLIB_ONLY = r"""
import importlib, json, pkgutil, sys
import handshake_course
from handshake_course.extras import MissingExtra
found = {}
for info in pkgutil.walk_packages(handshake_course.__path__, "handshake_course.", onerror=lambda name: None):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
        found[info.name] = "ok"
    except MissingExtra as err:
        found[info.name] = "extra: " + str(err)
    except ImportError as err:
        found[info.name] = "import: " + str(err)
import contextlib, io
from handshake_course import Kernel, Scenario, cli, simulate
from handshake_course.grader import check
result = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=8, clients=20))
outputs = []
for argv in (["simulate", "--kernel", "3.10", "--backlog", "8", "--clients", "20"], ["simulate", "--json"]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        status = cli.main(argv)
    outputs.append([status, out.getvalue()])
print(json.dumps({"modules": found, "clients": len(result.clients),
                  "full_marks": check("ex01", "q1", 129, quiet=True).full_marks, "simulate": outputs,
                  "site": [p for p in sys.path if "site-packages" in p]}))
"""


def test_the_model_the_cli_the_lab_and_check_need_only_the_standard_library(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-S", "-c", STDLIB_ONLY], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["site"] == [], "site-packages were on the path"
    failed = {name: status for name, status in report["modules"].items() if status != "ok"}
    assert set(failed) == set(NEED_AN_EXTRA), failed
    for name in ("handshake_course.views", "handshake_course.dashboards"):
        assert "pip install 'handshake-course[dashboards]'" in failed[name], failed[name]
    assert "pip install 'handshake-course[capture]'" in failed["handshake_course.capture"]
    imported = [name for name, status in report["modules"].items() if status == "ok"]
    for part in ("model", "lab", "cli", "course", "workspace", "grader.checks", "grader.key"):
        assert f"handshake_course.{part}" in imported or any(n.startswith(f"handshake_course.{part}.") for n in imported)
    assert report["clients"] == 20 and report["full_marks"] is True  # 129: ex01 q1 in the instructor's source
    (text_status, text), (json_status, document) = report["simulate"]
    assert text_status == 0 and "TcpExtListenOverflows" in text and "connect latency" in text, text
    assert json_status == 0 and json.loads(document)["latency"]["clients"] == 1, document[:500]


@pytest.mark.parametrize("extra", sorted(extras.MODULES))
def test_each_extra_installs_the_modules_its_parts_import(extra: str) -> None:
    """extras.MODULES (what ``require`` checks) and pyproject.toml (what pip installs) agree."""
    providers = importlib.metadata.packages_distributions()
    wanted = extra_requirements(extra)
    for module in extras.MODULES[extra]:
        dists = {normalize(d) for d in providers.get(module, [])}
        assert dists & wanted, f"[{extra}] does not install {module} (from {sorted(dists)})"
    others = set().union(*(extra_requirements(e) for e in extras.INCLUDES.get(extra, ())))
    own = wanted - others - {"handshake-course"}
    provided = {normalize(d) for module in extras.MODULES[extra] for d in providers.get(module, [])}
    assert own <= provided, f"[{extra}] installs {sorted(own - provided)}, which extras.MODULES does not list"


def test_the_base_package_requires_nothing() -> None:
    assert extra_requirements(None) == set()


def test_a_missing_extra_is_named_with_the_command_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None if name == "jupyterlab" else object())
    with pytest.raises(extras.MissingExtra, match=r"handshake-course lab needs jupyterlab, not installed") as err:
        extras.require("course", "handshake-course lab")
    assert f"{sys.executable} -m pip install 'handshake-course[course]'" in str(err.value)
    monkeypatch.setattr(extras.sys, "platform", "emscripten")  # JupyterLite: the %pip magic, not an interpreter
    assert extras.install_command("dashboards") == "%pip install 'handshake-course[dashboards]'"
    extras.require("dashboards", "the figures")  # present: no error
    with pytest.raises(SystemExit, match=r"^handshake-course: handshake-course lab needs jupyterlab"):
        cli.main(["lab", "--no-browser"])


def test_the_course_opens_with_its_lab_settings() -> None:
    overrides = json.loads((course.LAB_SETTINGS / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}


def test_the_course_material_is_the_lessons_and_the_learners_exercises() -> None:
    material = course.material()
    assert sorted(material) == sorted(
        [f"notebooks/{p.name}" for p in (REPO / "notebooks").glob("*.ipynb")]
        + [f"exercises/release/{p.parent.name}/{p.name}" for p in (REPO / "exercises" / "release").glob("*/*.ipynb")])
    assert course.FIRST_LESSON in material
    assert not any("source" in name.split("/") for name in material)


def test_the_readme_binder_link_is_the_projects_course_url() -> None:
    """One address for the course on Binder, naming the released tag and the project's repository."""
    from venvs import project

    from handshake_course import __version__

    urls = project()["urls"]
    readme = (REPO / "README.md").read_text()
    binder = re.findall(r"\]\((https://mybinder\.org/[^)\s]+)\)", readme)
    assert binder == [urls["Course"]]
    owner_repo = urls["Source"].removeprefix("https://github.com/")
    assert urls["Course"].startswith(f"https://mybinder.org/v2/gh/{owner_repo}/v{__version__}?urlpath=lab/tree/")
    assert urls["Course"].endswith(course.FIRST_LESSON)
