"""Fresh virtual environments for the tests that install the course as a user would (Binder's
requirements, the built wheel): make one, pip install into it, measure it, run a notebook in it.

pip's own cache is used, so a rerun downloads nothing new where the index allows caching. Without
network access to the package index, ``install`` skips the calling test, saying so; a resolver
conflict or any other pip failure fails it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser.labserver import python_in

REPO = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 1200  # seconds; a cold install on a slow index, not the usual half minute
#: What pip prints when it could not reach the index (as opposed to a resolver conflict).
NETWORK_SIGNS = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
                 "Name or service not known", "Network is unreachable", "No route to host", "Connection refused",
                 "ConnectTimeoutError", "ReadTimeoutError", "Max retries exceeded", "ProxyError",
                 "Could not fetch URL", "Connection reset by peer")
CONFLICT_SIGNS = ("ResolutionImpossible", "conflicting dependencies", "versions have conflicting")

#: Run inside a venv: execute one notebook in place (in memory) with nbclient and the venv's
#: kernel; a last in-memory cell prints the kernel's sys.prefix and where it imported
#: handshake_course from, so the caller can check which environment really ran the cells.
RUNNER = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient
path, timeout = sys.argv[1], int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import sys, json, handshake_course\n"
    "print('KERNEL=' + json.dumps({'prefix': sys.prefix, 'package': handshake_course.__file__}))"))
start = time.perf_counter()
NotebookClient(nb, timeout=timeout, kernel_name="python3",
               resources={"metadata": {"path": path.rsplit("/", 1)[0]}}).execute()
printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
kernel = json.loads(printed.split("KERNEL=", 1)[1])
streams = "".join(o.get("text", "") for cell in nb.cells[:-1] for o in cell.get("outputs", []))
print(json.dumps({"seconds": time.perf_counter() - start, "kernel_prefix": kernel["prefix"],
                  "kernel_package": kernel["package"], "printed": streams}))
"""


#: The environment probe's own cells, after the notebooks' imports: every lesson's dashboards
#: built (a simulation, a matplotlib figure and ipywidgets each), a learner's check, and the
#: course material the package carries.
PROBE_CELLS = (
    "from handshake_course.dashboards import APPS\n"
    "for name, factory in APPS.items():\n"
    "    app = factory()\n"
    "    assert app.widget is not None and app.error is None, (name, app.error)\n"
    "print('DASHBOARDS=' + ','.join(APPS))",
    "from handshake_course.grader import check\n"
    "assert check('ex01', 'q1', 129, quiet=True).full_marks  # 129: the source's solution",
    "from handshake_course import course\n"
    "print('MATERIAL=' + ','.join(sorted(course.material())))",
)


def notebook_imports(paths: list[Path]) -> list[str]:
    """Every import statement of the notebooks' code cells, once each, in first-seen order."""
    import nbformat

    found: dict[str, None] = {}
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # IPython magics: the imports of such a cell are on lines of their own
                tree = ast.parse("\n".join(line for line in cell.source.splitlines()
                                           if line.startswith(("import ", "from "))))
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found[ast.unparse(node)] = None
    return list(found)


def environment_probe(notebooks: list[Path], folder: Path) -> Path:
    """A notebook, written into ``folder``, that checks an environment can run the course without
    running every lesson again (nbval runs each once, in the test environment): it makes every
    import any of ``notebooks`` makes, builds every dashboard, scores a learner's answer and lists
    the course material the installed package finds."""
    import nbformat

    cells = ["\n".join(notebook_imports(notebooks)), *PROBE_CELLS]
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    path = folder / "environment_probe.ipynb"
    path.write_text(nbformat.writes(probe))
    return path


def probe_printed(report: dict[str, Any], key: str) -> list[str]:
    """A comma-separated list the probe printed as ``KEY=a,b,c``."""
    for line in report["printed"].splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].split(",")
    raise AssertionError(f"the probe printed no {key}= line: {report['printed'][-2000:]}")


def run(argv: list[str | Path], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its text output; never raises for a non-zero exit."""
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          check=False, **kwargs)


def venv_env(venv: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) as if the venv were activated."""
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{python_in(venv).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


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


@dataclass
class Venv:
    """A virtual environment a test made, with what installing into it cost."""

    path: Path
    install_seconds: float = 0.0
    size_mib: float = 0.0
    disk_mib: float = 0.0
    packages: int = 0

    @property
    def python(self) -> Path:
        return python_in(self.path)

    @property
    def bin(self) -> Path:
        return self.python.parent

    def distributions(self) -> dict[str, str]:
        """Normalized name -> version of every distribution installed in the venv."""
        listed = run([self.python, "-m", "pip", "list", "--format=json"], timeout=120, env=venv_env(self.path))
        assert listed.returncode == 0, listed.stderr
        return {normalize(d["name"]): d["version"] for d in json.loads(listed.stdout)}

    def metrics(self) -> dict[str, float]:
        return {"install_seconds": self.install_seconds, "size_mib": self.size_mib, "disk_mib": self.disk_mib,
                "packages": self.packages}


def make_venv(path: Path) -> Venv:
    """``python -m venv path`` with the Python running the tests."""
    made = run([sys.executable, "-m", "venv", path], timeout=300)
    assert made.returncode == 0, f"python -m venv failed:\n{made.stderr[-2000:]}"
    return Venv(path)


def install(venv: Venv, *requirements: str | Path, cwd: Path | None = None, what: str = "") -> Venv:
    """``pip install`` into the venv (skipping the test without network access to the index), then
    record the time it took and the venv's size and number of distributions."""
    env = venv_env(venv.path)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    what = what or f"pip install {' '.join(map(str, requirements))}"
    start = time.perf_counter()
    try:
        pip = run([venv.python, "-m", "pip", "install", "--progress-bar", "off", "--timeout", "60", "--retries", "2",
                   *requirements], timeout=INSTALL_TIMEOUT, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took more than {INSTALL_TIMEOUT} s")
    seconds = time.perf_counter() - start
    output = pip.stdout + pip.stderr
    if pip.returncode != 0:
        reason = pip_failure_reason(output)
        if reason is not None:
            pytest.skip(f"no network access to the package index ({what}): {reason}")
        pytest.fail(f"{what} failed:\n{output[-4000:]}")
    size, disk = tree_size(venv.path)
    venv.install_seconds = round(venv.install_seconds + seconds, 1)
    venv.size_mib, venv.disk_mib = round(size / 2**20, 1), round(disk / 2**20, 1)
    venv.packages = len(venv.distributions())
    return venv


def run_notebook(venv: Venv, path: Path, env: dict[str, str], cell_timeout: int, timeout: float) -> dict[str, Any]:
    """Execute the notebook at ``path`` with the venv's kernel (in memory: the file is not
    written); returns the seconds it took, the kernel's prefix and package location, and what
    its cells printed."""
    try:
        done = run([venv.python, "-c", RUNNER, path, cell_timeout], timeout=timeout, cwd=path.parent,
                   env=venv_env(venv.path, env))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name} did not finish within {timeout} s in {venv.path}")
    assert done.returncode == 0, f"{path.name} failed in {venv.path}:\n{done.stderr[-6000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- what pyproject.toml asks for ------------------------------------------------------------------

def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalize(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0])


def project() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def extra_requirements(extra: str | None) -> set[str]:
    """The distributions the base package (``None``) or one of its extras asks for, following
    the extras an extra names (``handshake-course[dashboards]``)."""
    meta = project()
    wanted = list(meta["dependencies"]) + (list(meta["optional-dependencies"][extra]) if extra else [])
    names: set[str] = set()
    for requirement in wanted:
        name = requirement_name(requirement)
        if name == normalize(meta["name"]):
            included = re.search(r"\[(.*?)\]", requirement)
            for sub in included.group(1).split(",") if included else []:
                names |= extra_requirements(sub.strip())
        else:
            names.add(name)
    return names
