"""Binder, rehearsed without Docker: what repo2docker reads in binder/, installed into a clean venv.

Fast checks (no network) read the files: no environment.yml (it would silently replace
requirements.txt), runtime.txt is python-3.11, every requirement is `-e .[course]` or an exact pin
and every package the course extra of pyproject.toml installs is pinned, postBuild is strict bash.

The ``slow`` checks do what repo2docker does: ``python -m venv`` in a temp dir, then
``pip install -r binder/requirements.txt`` from the repo root (pip's own cache is used, so a rerun
downloads nothing new where the index allows caching), ``pip check``, ``jupyter labextension list``
showing the widget manager enabled, ``binder/postBuild`` with NB_PYTHON_PREFIX pointing at the venv
(and the venv's JupyterLab really reading its overrides; where the repository is HOME, as on Binder,
postBuild deletes exercises/source), then, in the learner's workspace and with the venv's kernel,
an environment probe (every import any lesson or exercise notebook makes, every dashboard built, a
learner's answer checked). The notebooks themselves run once per test run, under nbval in the test
environment: what differs here is the environment, not the cells. Without network access to the package index the slow checks are
skipped, saying so; a real resolver conflict fails. Install time and venv size are printed and
written to artifacts/binder/binder-env.json.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.labserver import WIDGETS_EXTENSION, free_port, isolated_env, lab_argv, new_token, start_lab
from venvs import (
    Venv,
    environment_probe,
    extra_requirements,
    install,
    make_venv,
    normalize,
    probe_printed,
    run,
    run_notebook,
    venv_env,
)

from handshake_course.course.syllabus import dashboard_names

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
REQUIREMENTS = BINDER / "requirements.txt"
POSTBUILD = BINDER / "postBuild"
OVERRIDES = REPO / "handshake_course" / "course" / "lab-settings" / "overrides.json"
ARTIFACTS = REPO / "artifacts" / "binder"
NOTEBOOKS = sorted(REPO.glob("notebooks/*.ipynb")) + sorted(REPO.glob("exercises/**/*.ipynb"))

NOTEBOOK_TIMEOUT = 600  # the probe, kernel start included
CELL_TIMEOUT = 300
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---- the files themselves (fast) ------------------------------------------------------------------

def requirement_lines() -> list[str]:
    """The requirement lines of binder/requirements.txt, comments and blanks left out."""
    lines = (line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [line for line in lines if line]


def test_binder_uses_pip_not_conda() -> None:
    names = {p.name for p in BINDER.iterdir()}
    assert {"requirements.txt", "runtime.txt", "postBuild"} <= names
    assert not names & {"environment.yml", "environment.yaml", "Pipfile", "Dockerfile", "setup.py"}, (
        "a file that makes repo2docker ignore binder/requirements.txt")
    assert not (REPO / ".binder").exists(), "binder/ and .binder/ together are an error for repo2docker"


def test_runtime_is_python_311() -> None:
    assert REQUIREMENTS.with_name("runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_are_exact_pins_of_what_the_course_extra_installs() -> None:
    lines = requirement_lines()
    assert lines[0] == "-e .[course]", "the course package itself comes first, editable, from the repo root"
    pins = {}
    for line in lines[1:]:
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[normalize(match.group(1))] = match.group(2)
    missing = sorted(dep for dep in extra_requirements("course") if dep not in pins)
    assert not missing, f"dependencies of handshake-course[course] without a pin in binder/requirements.txt: {missing}"
    assert pins["jupyterlab"].startswith("4.") and pins["ipywidgets"].startswith("8.")


def test_postbuild_is_strict_bash() -> None:
    text = POSTBUILD.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text
    assert POSTBUILD.stat().st_mode & stat.S_IXUSR, "postBuild must be executable"
    commands = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not any("labextension install" in line for line in commands), (
        "ipywidgets 8 ships its Lab extension prebuilt")


def test_overrides_silence_the_news_toast() -> None:
    overrides = json.loads(OVERRIDES.read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_repo2docker_dry_run_plans_binder_files() -> None:
    """repo2docker's own build plan (``--no-build`` needs no Docker): Python 3.11, our pip line, postBuild."""
    repo2docker = shutil.which("repo2docker")
    if repo2docker is None:
        pytest.skip("jupyter-repo2docker is not installed (pip install jupyter-repo2docker to check "
                    "repo2docker's build plan; it needs no Docker)")
    done = run([repo2docker, "--no-build", "--user-id", "1000", "--user-name", "jovyan", REPO],
               timeout=300, cwd=REPO)
    plan = done.stdout + done.stderr
    assert done.returncode == 0, plan[-3000:]
    assert "Building conda environment for python=3.11" in plan, plan[:500]
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in plan
    assert "RUN ./binder/postBuild" in plan


# ---- the clean venv (slow) ------------------------------------------------------------------------

def write_metrics(env: Venv) -> None:
    """Print the install time and venv size, and keep them in artifacts/binder/binder-env.json."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "binder-env.json").write_text(json.dumps(env.metrics(), indent=2) + "\n")
    print(f"\nbinder venv: pip install -r binder/requirements.txt took {env.install_seconds:.1f} s; "
          f"{env.packages} distributions, {env.size_mib:.0f} MiB ({env.disk_mib:.0f} MiB on disk)")


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """python -m venv + pip install -r binder/requirements.txt, run from the repo root as repo2docker does."""
    venv = make_venv(tmp_path_factory.mktemp("binder") / "venv")
    install(venv, "-r", REQUIREMENTS.relative_to(REPO), cwd=REPO, what="pip install -r binder/requirements.txt")
    write_metrics(venv)
    return venv


@pytest.fixture(scope="module")
def binder_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebook user's HOME while postBuild runs (where it makes the learner's workspace)."""
    return tmp_path_factory.mktemp("jovyan")


@pytest.fixture(scope="module")
def postbuilt_env(binder_env: Venv, binder_home: Path) -> Venv:
    """binder_env after binder/postBuild ran against it, from the repo root as repo2docker runs it."""
    env = venv_env(binder_env.path)
    env["NB_PYTHON_PREFIX"] = str(binder_env.path)
    env["HOME"] = str(binder_home)
    done = run([POSTBUILD], timeout=120, cwd=REPO, env=env)
    assert done.returncode == 0, f"binder/postBuild failed:\n{done.stdout}{done.stderr}"
    return binder_env


@pytest.mark.slow
def test_binder_serves_the_learners_workspace_without_solutions(postbuilt_env: Venv, binder_home: Path) -> None:
    workspace = binder_home / "handshake-course"
    config = json.loads((postbuilt_env.path / "etc" / "jupyter" / "jupyter_server_config.d" /
                         "handshake-course.json").read_text())
    assert config == {"ServerApp": {"root_dir": str(workspace)},
                      "LabApp": {"default_url": "/lab/tree/notebooks/00_start_here.ipynb"}}
    assert (workspace / "notebooks" / "00_start_here.ipynb").is_file()
    assert len(list(workspace.glob("exercises/release/*/*.ipynb"))) == len(list(REPO.glob("exercises/release/*/*.ipynb")))
    assert not (workspace / "exercises" / "source").exists()


@pytest.mark.slow
def test_postbuild_deletes_the_solutions_only_where_the_repository_is_home(binder_env: Venv, tmp_path: Path) -> None:
    """On Binder the repository is HOME: postBuild removes exercises/source from the image. Run
    anywhere else (as the fixture above runs it, from this checkout) it leaves the folder alone."""
    assert (REPO / "exercises" / "source").is_dir(), "postBuild run from the checkout removed the sources"
    home = tmp_path / "jovyan"  # the repository's layout, as repo2docker copies it into HOME
    shutil.copytree(BINDER, home / "binder")
    shutil.copytree(REPO / "handshake_course", home / "handshake_course",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "exercises" / "source" / "ex01_accept_capacity", home / "exercises" / "source" / "ex01")
    env = venv_env(binder_env.path)
    env.update(NB_PYTHON_PREFIX=str(binder_env.path), HOME=str(home))
    done = run([home / "binder" / "postBuild"], timeout=120, cwd=home, env=env)
    assert done.returncode == 0, f"binder/postBuild failed:\n{done.stdout}{done.stderr}"
    assert not (home / "exercises" / "source").exists()
    assert (home / "handshake-course" / "notebooks" / "00_start_here.ipynb").is_file()


@pytest.mark.slow
def test_pip_check(binder_env: Venv) -> None:
    checked = run([binder_env.python, "-m", "pip", "check"], timeout=120, env=venv_env(binder_env.path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_widget_manager_lab_extension_is_enabled(binder_env: Venv) -> None:
    listed = run([binder_env.bin / "jupyter", "labextension", "list"], timeout=120, env=venv_env(binder_env.path))
    text = ANSI.sub("", listed.stdout + listed.stderr)
    assert listed.returncode == 0, text
    assert re.search(rf"{re.escape(WIDGETS_EXTENSION)} v\S+ enabled\s+OK", text), text


@pytest.mark.slow
def test_postbuild_overrides_are_read_by_lab(postbuilt_env: Venv, binder_home: Path, tmp_path: Path) -> None:
    installed = postbuilt_env.path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.read_text() == OVERRIDES.read_text()
    env = venv_env(postbuilt_env.path, isolated_env(tmp_path / "home"))
    port, token = free_port(), new_token()
    workspace = binder_home / "handshake-course"
    argv = lab_argv(postbuilt_env.python, port=port, token=token, root_dir=workspace)
    server = start_lab(argv, env=env, cwd=workspace, log_path=tmp_path / "lab.log", port=port, token=token)
    try:
        server.wait_ready(180)
        settings = server.get_json("lab/api/settings/@jupyterlab/apputils-extension:notification")
        assert settings["schema"]["properties"]["fetchNews"]["default"] == "false", settings["schema"]
        page = server.request("GET", "lab")[1].decode()
        assert WIDGETS_EXTENSION in page, "the Binder env's Lab page does not load the widget manager"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kernel_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HOME (Jupyter dirs, matplotlib font cache) of the probe's kernel."""
    yield tmp_path_factory.mktemp("kernel-home")


@pytest.mark.slow
def test_the_binder_env_runs_the_course(postbuilt_env: Venv, binder_home: Path, kernel_home: Path) -> None:
    """The course's environment check in Binder's environment and workspace: every import of every
    notebook, every dashboard built, a learner's check scored (the probe; nbval runs each notebook
    itself once, in the test environment)."""
    workspace = binder_home / "handshake-course"
    probe = environment_probe(NOTEBOOKS, workspace / "notebooks")
    try:
        report = run_notebook(postbuilt_env, probe, isolated_env(kernel_home), CELL_TIMEOUT, NOTEBOOK_TIMEOUT)
    finally:
        probe.unlink()
    assert Path(report["kernel_prefix"]).resolve() == postbuilt_env.path.resolve(), f"the kernel ran in {report['kernel_prefix']}"
    assert probe_printed(report, "DASHBOARDS") == list(dashboard_names())
    print(f"\nthe environment probe took {report['seconds']:.1f} s in the Binder env")
