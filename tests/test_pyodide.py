"""The base wheel in Pyodide, the WebAssembly CPython that runs JupyterLite's kernel: ``pip install
handshake-course`` pulls in nothing (the model, the learners' ``check()``, ``lab`` and ``workspace``
need the standard library only), so the wheel ``python -m build`` makes of this tree must install
and run in a browser's Python as it is.

The test takes Pyodide from the npm registry (pinned, kept in ``~/.cache/handshake-course`` between
runs) and runs it under Node with every ``fetch`` refused: Pyodide loads from that folder, the wheel
is unpacked into its site-packages (no micropip, no CDN, no package index), then

* the README's example runs and gives, client by client and counter by counter, the same result as
  this CPython (same scenario, same seed);
* a learner's ``check("ex01", "q1", 129)`` gets full marks; ``handshake-course simulate`` prints
  its report; ``handshake_course.lab`` and ``workspace`` import;
* ``import handshake_course.views`` raises ``MissingExtra``, naming JupyterLite's
  ``%pip install 'handshake-course[dashboards]'``.

Without ``node`` or ``npm``, or without network access to the npm registry (for Pyodide) or to the
package index (for the build's setuptools), the test is skipped, saying so.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from venvs import REPO, run

import handshake_course
from handshake_course import Kernel, Scenario, simulate
from handshake_course.grader import check

pytestmark = pytest.mark.slow

#: The newest Pyodide on Python 3.13, the newest Python the package declares (pyproject.toml).
PYODIDE_VERSION = "0.29.5"
PYODIDE_PYTHON = "3.13"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "handshake-course"
NPM_TIMEOUT = 600
#: npm's own time limits, so that an unreachable registry makes it fail (and the test skip) in seconds
NPM_FETCH = ("--fetch-timeout=60000", "--fetch-retries=2", "--fetch-retry-mintimeout=2000",
             "--fetch-retry-maxtimeout=10000")
NODE_TIMEOUT = 300
#: What npm prints when it could not reach the registry (as opposed to, say, an unknown version).
NPM_NETWORK_SIGNS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH",
                     "EHOSTUNREACH", "network connectivity", "network request to", "socket hang up")
MARKER = "PYODIDE_RESULT="

#: Node (CommonJS): load Pyodide from its npm folder with every fetch refused, unpack the wheel into
#: its site-packages, run the Python file, print what it returns (a JSON string) after MARKER.
NODE_RUNNER = r"""
const fs = require("fs");
const path = require("path");
const [pyodideDir, wheel, code] = process.argv.slice(2);
const fetched = [];
globalThis.fetch = async (url) => {
  fetched.push(String(url));
  throw new Error(`network access refused in this test: ${url}`);
};
const { loadPyodide } = require(path.join(pyodideDir, "pyodide.js"));
(async () => {
  const pyodide = await loadPyodide({ indexURL: pyodideDir + path.sep, packages: [] });
  const site = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  pyodide.unpackArchive(new Uint8Array(fs.readFileSync(wheel)), "wheel", { extractDir: site });
  const out = pyodide.runPython(fs.readFileSync(code, "utf8"));
  if (fetched.length) throw new Error(`Pyodide tried to fetch: ${fetched.join(", ")}`);
  process.stdout.write(`MARKER${out}\n`);
})().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
""".replace("MARKER", MARKER)

#: Run by Pyodide after ``summary``'s source: what the learner's side of the course does, as JSON.
PYODIDE_CODE = """
import importlib.metadata, json, sys
import handshake_course
from handshake_course import Kernel, Scenario, simulate
from handshake_course.grader import check
import handshake_course.lab
from handshake_course import workspace
from handshake_course.extras import MissingExtra

result = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=8, clients=20))
fb = check("ex01", "q1", 129, quiet=True)
import contextlib, io
from handshake_course import cli
with contextlib.redirect_stdout(io.StringIO()) as out:
    status = cli.main(["simulate", "--kernel", "3.10", "--backlog", "8", "--clients", "20"])
simulate_cli = [status, out.getvalue()]
try:
    import handshake_course.views
except MissingExtra as err:
    views = {"error": type(err).__qualname__, "message": str(err)}
else:
    views = {"error": None, "message": "handshake_course.views imported"}
json.dumps({
    "python": sys.version, "platform": sys.platform,
    "package": handshake_course.__file__, "version": handshake_course.__version__,
    "distribution": importlib.metadata.version("handshake-course"),
    "requires": importlib.metadata.requires("handshake-course") or [],
    "lab": handshake_course.lab.__name__, "workspace": workspace.__name__,
    "clients": len(result.clients), "full_marks": fb.full_marks, "views": views, "cli": simulate_cli,
    "summary": summary(result),
})
"""


def summary(result: Any) -> dict[str, Any]:
    """What a simulation gave, as JSON: each client's handshake, the counters, the listener at the
    end and digests of every packet and kernel event. Runs natively and (its source) in Pyodide."""
    def digest(*columns: Any) -> str:
        return hashlib.sha256(json.dumps([list(c) for c in columns]).encode()).hexdigest()

    return {
        "clients": [[c.index, c.port, c.outcome, list(c.syn_times), c.connected_at, c.accepted_at,
                     c.failed_at, c.errno] for c in result.clients],
        "outcomes": dict(sorted(result.outcomes().items())),
        "counters": dict(result.counters),
        "ss": str(result.ss()),
        "log": [list(line) for line in result.log],
        "end": result.end,
        "events": result.events,
        "packets": [len(result.packets), digest(result.packets.time_us, result.packets.info)],
        "trace": [len(result.trace), digest(result.trace.time_us, result.trace.info, result.trace.queues)],
    }


def pyodide_ready(folder: Path) -> bool:
    package = folder / "node_modules" / "pyodide"
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return False
    return version == PYODIDE_VERSION and (package / "pyodide.asm.wasm").is_file()


def npm_failure_reason(output: str) -> str | None:
    """The line that shows npm failed for want of network, or None for any other failure."""
    for line in output.splitlines():
        if any(sign in line for sign in NPM_NETWORK_SIGNS):
            return line.strip()[:300]
    return None


@pytest.fixture(scope="module")
def pyodide() -> Path:
    """Pyodide's npm package folder, installed from the npm registry into the cache when missing
    (into a staging folder first, so an interrupted install leaves nothing half made)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Pyodide runs under Node here: node or npm is not installed")
    folder = CACHE / f"pyodide-{PYODIDE_VERSION}"
    if not pyodide_ready(folder):
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = CACHE / f"{folder.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            npm = run(["npm", "install", "--prefix", staging, "--no-save", "--no-package-lock", "--no-audit",
                       "--no-fund", "--ignore-scripts", *NPM_FETCH, f"pyodide@{PYODIDE_VERSION}"],
                      timeout=NPM_TIMEOUT, cwd=CACHE)
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.fail(f"npm install pyodide@{PYODIDE_VERSION} took more than {NPM_TIMEOUT} s")
        output = npm.stdout + npm.stderr
        if npm.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            reason = npm_failure_reason(output)
            if reason is not None:
                pytest.skip(f"no network access to the npm registry for pyodide@{PYODIDE_VERSION}: {reason}")
            pytest.fail(f"npm install pyodide@{PYODIDE_VERSION} failed:\n{output[-4000:]}")
        assert pyodide_ready(staging), f"npm made no pyodide {PYODIDE_VERSION} in {staging}\n{output[-2000:]}"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            staging.rename(folder)
        except OSError:  # another run put it there first
            shutil.rmtree(staging, ignore_errors=True)
        assert pyodide_ready(folder), folder
    return folder / "node_modules" / "pyodide"


def test_base_wheel_runs_in_pyodide(pyodide: Path, dist: dict[str, Path], tmp_path: Path) -> None:
    runner, code = tmp_path / "run.cjs", tmp_path / "course.py"
    runner.write_text(NODE_RUNNER)
    code.write_text("from __future__ import annotations\nimport hashlib, json\nfrom typing import Any\n\n"
                    + inspect.getsource(summary) + PYODIDE_CODE)
    start = time.perf_counter()
    try:
        node = run(["node", runner, pyodide, dist["wheel"], code], timeout=NODE_TIMEOUT, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Pyodide did not finish within {NODE_TIMEOUT} s")
    seconds = time.perf_counter() - start
    assert node.returncode == 0, f"Pyodide failed:\n{node.stderr[-6000:]}\n{node.stdout[-2000:]}"
    lines = [line for line in node.stdout.splitlines() if line.startswith(MARKER)]
    assert len(lines) == 1, node.stdout[-2000:]
    got = json.loads(lines[0][len(MARKER):])
    print(f"Pyodide {PYODIDE_VERSION} (Python {got['python'].split()[0]}): {seconds:.1f} s")

    # it really is Pyodide, running the package from the wheel it installed
    assert got["platform"] == "emscripten", got["platform"]
    assert got["python"].startswith(PYODIDE_PYTHON + "."), got["python"]
    assert "site-packages" in got["package"] and not got["package"].startswith(str(REPO)), got["package"]
    assert got["version"] == got["distribution"] == handshake_course.__version__
    assert all("extra ==" in requirement for requirement in got["requires"]), got["requires"]

    # the learner's side works; the figures say which extra they need
    assert got["clients"] == 20
    assert got["full_marks"] is True
    assert (got["lab"], got["workspace"]) == ("handshake_course.lab", "handshake_course.workspace")
    assert got["views"]["error"] == "MissingExtra", got["views"]
    assert "%pip install 'handshake-course[dashboards]'" in got["views"]["message"], got["views"]
    status, text = got["cli"]
    assert status == 0 and "TcpExtListenOverflows" in text and "connect latency" in text, text

    # and the model gives there what it gives here
    result = simulate(Scenario(kernel=Kernel("6.18", tcp_syncookies=0), backlog=8, clients=20))
    assert check("ex01", "q1", 129, quiet=True).full_marks
    native = json.loads(json.dumps(summary(result)))
    assert got["summary"] == native
