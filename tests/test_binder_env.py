"""Binder, rehearsed without Docker: what repo2docker reads in binder/, installed into a clean venv.

Fast checks (no network) read the files: no environment.yml (it would silently replace
requirements.txt), runtime.txt is python-3.11, every requirement is `-e .` or an exact pin and every
runtime dependency of pyproject.toml is pinned, postBuild is strict bash.

The ``slow`` checks do what repo2docker does: ``python -m venv`` in a temp dir, then
``pip install -r binder/requirements.txt`` from the repo root (pip's own cache is used, so a rerun
downloads nothing new where the index allows caching), ``pip check``, ``jupyter labextension list``
showing the widget manager enabled, ``binder/postBuild`` with NB_PYTHON_PREFIX pointing at the venv
(and the venv's JupyterLab really reading its overrides), then every lesson (notebooks/*.ipynb) and
every exercise notebook (exercises/**/*.ipynb) executed by nbclient inside the venv, with the venv's
kernel, failing on any cell error. Without network access to the package index the slow checks are
skipped, saying so; a real resolver conflict fails. Install time and venv size are printed and
written to artifacts/binder/binder-env.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from browser.labserver import (
    WIDGETS_EXTENSION,
    free_port,
    isolated_env,
    lab_argv,
    new_token,
    python_in,
    start_lab,
)

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
REQUIREMENTS = BINDER / "requirements.txt"
POSTBUILD = BINDER / "postBuild"
OVERRIDES = BINDER / "overrides.json"
ARTIFACTS = REPO / "artifacts" / "binder"
NOTEBOOKS = sorted(REPO.glob("notebooks/*.ipynb")) + sorted(REPO.glob("exercises/**/*.ipynb"))

INSTALL_TIMEOUT = 1200  # seconds; a cold install on a slow index, not the usual half minute
NOTEBOOK_TIMEOUT = 900  # one notebook, kernel start included
CELL_TIMEOUT = 300
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: What pip prints when it could not reach the index (as opposed to a resolver conflict).
NETWORK_SIGNS = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
                 "Name or service not known", "Network is unreachable", "No route to host", "Connection refused",
                 "ConnectTimeoutError", "ReadTimeoutError", "Max retries exceeded", "ProxyError",
                 "Could not fetch URL", "Connection reset by peer")
CONFLICT_SIGNS = ("ResolutionImpossible", "conflicting dependencies", "versions have conflicting")

#: Run inside the venv: execute one notebook in place (in memory) with nbclient and the venv's
#: kernel; a last in-memory cell prints the kernel's sys.prefix so the caller can check which
#: environment really ran the cells.
RUNNER = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient
path, timeout = sys.argv[1], int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import sys; print('KERNEL-PREFIX=' + sys.prefix)"))
start = time.perf_counter()
NotebookClient(nb, timeout=timeout, kernel_name="python3",
               resources={"metadata": {"path": path.rsplit("/", 1)[0]}}).execute()
printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
print(json.dumps({"seconds": time.perf_counter() - start, "kernel_prefix": printed.split("=", 1)[1].strip()}))
"""


# ---- the files themselves (fast) ------------------------------------------------------------------

def requirement_lines() -> list[str]:
    """The requirement lines of binder/requirements.txt, comments and blanks left out."""
    lines = (line.split("#", 1)[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [line for line in lines if line]


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies() -> list[str]:
    """The names in [project].dependencies of pyproject.toml."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return [normalize(re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0]) for dep in deps]


def test_binder_uses_pip_not_conda() -> None:
    names = {p.name for p in BINDER.iterdir()}
    assert {"requirements.txt", "runtime.txt", "postBuild"} <= names
    assert not names & {"environment.yml", "environment.yaml", "Pipfile", "Dockerfile", "setup.py"}, (
        "a file that makes repo2docker ignore binder/requirements.txt")
    assert not (REPO / ".binder").exists(), "binder/ and .binder/ together are an error for repo2docker"


def test_runtime_is_python_311() -> None:
    assert REQUIREMENTS.with_name("runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_are_exact_pins_of_every_runtime_dependency() -> None:
    lines = requirement_lines()
    assert lines[0] == "-e .", "the course package itself comes first, editable, from the repo root"
    pins = {}
    for line in lines[1:]:
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[normalize(match.group(1))] = match.group(2)
    missing = [dep for dep in runtime_dependencies() if dep not in pins]
    assert not missing, f"runtime dependencies without a pin in binder/requirements.txt: {missing}"
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

@dataclass
class BinderEnv:
    """A venv built from exactly binder/requirements.txt."""

    venv: Path
    install_seconds: float
    size_mib: float
    disk_mib: float
    packages: int

    @property
    def python(self) -> Path:
        return python_in(self.venv)

    @property
    def bin(self) -> Path:
        return self.python.parent


def tree_size(root: Path) -> tuple[int, int]:
    """(apparent bytes, bytes on disk) of every file below root, symlinks not followed."""
    size = disk = 0
    for folder, _, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            size += info.st_size
            disk += info.st_blocks * 512
    return size, disk


def pip_failure_reason(output: str) -> str | None:
    """The line that shows pip failed for want of network, or None for any other failure."""
    if any(sign in output for sign in CONFLICT_SIGNS):
        return None
    for line in output.splitlines():
        if any(sign in line for sign in NETWORK_SIGNS):
            return line.strip()[:300]
    return None


def run(argv: list[str | Path], *, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its text output; never raises for a non-zero exit."""
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          check=False, **kwargs)  # type: ignore[call-overload]


def venv_env(venv: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) as if the venv were activated."""
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{python_in(venv).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def write_metrics(env: BinderEnv) -> None:
    """Print the install time and venv size, and keep them in artifacts/binder/binder-env.json."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in asdict(env).items() if k != "venv"}
    (ARTIFACTS / "binder-env.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nbinder venv: pip install -r binder/requirements.txt took {env.install_seconds:.1f} s; "
          f"{env.packages} distributions, {env.size_mib:.0f} MiB ({env.disk_mib:.0f} MiB on disk)")


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> BinderEnv:
    """python -m venv + pip install -r binder/requirements.txt, run from the repo root as repo2docker does."""
    venv = tmp_path_factory.mktemp("binder") / "venv"
    made = run([sys.executable, "-m", "venv", venv], timeout=300)
    assert made.returncode == 0, f"python -m venv failed:\n{made.stderr[-2000:]}"
    env = venv_env(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    start = time.perf_counter()
    try:
        pip = run([python_in(venv), "-m", "pip", "install", "--progress-bar", "off", "--timeout", "60",
                   "--retries", "2", "-r", REQUIREMENTS.relative_to(REPO)], timeout=INSTALL_TIMEOUT,
                  cwd=REPO, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip install -r binder/requirements.txt took more than {INSTALL_TIMEOUT} s")
    seconds = time.perf_counter() - start
    output = pip.stdout + pip.stderr
    if pip.returncode != 0:
        reason = pip_failure_reason(output)
        if reason is not None:
            pytest.skip(f"no network access to the package index, the Binder env was not built: {reason}")
        pytest.fail(f"pip install -r binder/requirements.txt failed:\n{output[-4000:]}")
    size, disk = tree_size(venv)
    listed = run([python_in(venv), "-m", "pip", "list", "--format=json"], timeout=120, env=env)
    built = BinderEnv(venv, round(seconds, 1), round(size / 2**20, 1), round(disk / 2**20, 1),
                      len(json.loads(listed.stdout)))
    write_metrics(built)
    return built


@pytest.fixture(scope="module")
def binder_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebook user's HOME while postBuild runs (where it makes the learner's workspace)."""
    return tmp_path_factory.mktemp("jovyan")


@pytest.fixture(scope="module")
def postbuilt_env(binder_env: BinderEnv, binder_home: Path) -> BinderEnv:
    """binder_env after binder/postBuild ran against it, from the repo root as repo2docker runs it."""
    env = venv_env(binder_env.venv)
    env["NB_PYTHON_PREFIX"] = str(binder_env.venv)
    env["HOME"] = str(binder_home)
    done = run([POSTBUILD], timeout=120, cwd=REPO, env=env)
    assert done.returncode == 0, f"binder/postBuild failed:\n{done.stdout}{done.stderr}"
    return binder_env


@pytest.mark.slow
def test_binder_serves_the_learners_workspace_without_solutions(postbuilt_env: BinderEnv, binder_home: Path) -> None:
    workspace = binder_home / "handshake-course"
    config = json.loads((postbuilt_env.venv / "etc" / "jupyter" / "jupyter_server_config.d" /
                         "handshake-course.json").read_text())
    assert config == {"ServerApp": {"root_dir": str(workspace)},
                      "LabApp": {"default_url": "/lab/tree/notebooks/00_start_here.ipynb"}}
    assert (workspace / "notebooks" / "00_start_here.ipynb").is_file()
    assert len(list(workspace.glob("exercises/release/*/*.ipynb"))) == len(list(REPO.glob("exercises/release/*/*.ipynb")))
    assert not (workspace / "exercises" / "source").exists()


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """notebooks/ and exercises/ copied to a temp dir: executing them may write files beside them."""
    root = tmp_path_factory.mktemp("course")
    for folder in ("notebooks", "exercises"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


@pytest.mark.slow
def test_pip_check(binder_env: BinderEnv) -> None:
    checked = run([binder_env.python, "-m", "pip", "check"], timeout=120, env=venv_env(binder_env.venv))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_widget_manager_lab_extension_is_enabled(binder_env: BinderEnv) -> None:
    listed = run([binder_env.bin / "jupyter", "labextension", "list"], timeout=120, env=venv_env(binder_env.venv))
    text = ANSI.sub("", listed.stdout + listed.stderr)
    assert listed.returncode == 0, text
    assert re.search(rf"{re.escape(WIDGETS_EXTENSION)} v\S+ enabled\s+OK", text), text


@pytest.mark.slow
def test_postbuild_overrides_are_read_by_lab(postbuilt_env: BinderEnv, course_copy: Path,
                                             tmp_path: Path) -> None:
    installed = postbuilt_env.venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.read_text() == OVERRIDES.read_text()
    env = venv_env(postbuilt_env.venv, isolated_env(tmp_path / "home"))
    port, token = free_port(), new_token()
    argv = lab_argv(postbuilt_env.python, port=port, token=token, root_dir=course_copy)
    server = start_lab(argv, env=env, cwd=course_copy, log_path=tmp_path / "lab.log", port=port, token=token)
    try:
        server.wait_ready(180)
        settings = server.get_json("lab/api/settings/@jupyterlab/apputils-extension:notification")
        assert settings["schema"]["properties"]["fetchNews"]["default"] == "false", settings["schema"]
        page = server.request("GET", "lab")[1].decode()
        assert WIDGETS_EXTENSION in page, "the Binder env's Lab page does not load the widget manager"
    finally:
        server.stop()


def notebook_params() -> list[object]:
    """One case per lesson and exercise notebook; one skipped case while there are none."""
    if not NOTEBOOKS:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks yet"), id="none")]
    return [pytest.param(p.relative_to(REPO), id=str(p.relative_to(REPO))) for p in NOTEBOOKS]


@pytest.fixture(scope="module")
def kernel_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One HOME (Jupyter dirs, matplotlib font cache) shared by the notebook runs of this module."""
    yield tmp_path_factory.mktemp("kernel-home")


@pytest.mark.slow
@pytest.mark.parametrize("notebook", notebook_params())
def test_notebook_runs_in_binder_env(notebook: Path, postbuilt_env: BinderEnv, course_copy: Path,
                                     kernel_home: Path) -> None:
    path = course_copy / notebook
    env = venv_env(postbuilt_env.venv, isolated_env(kernel_home))
    try:
        done = run([postbuilt_env.python, "-c", RUNNER, path, CELL_TIMEOUT], timeout=NOTEBOOK_TIMEOUT,
                   cwd=path.parent, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{notebook} did not finish within {NOTEBOOK_TIMEOUT} s in the Binder env")
    assert done.returncode == 0, f"{notebook} failed in the Binder env:\n{done.stderr[-6000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["kernel_prefix"]).resolve() == postbuilt_env.venv.resolve(), f"the kernel ran in {report['kernel_prefix']}"
    print(f"\n{notebook}: {report['seconds']:.1f} s in the Binder env")
