"""Start and stop a real JupyterLab server for tests.

Loopback only, a free port, a random token, a HOME of its own (Jupyter's config, data and runtime
dirs, IPython's and matplotlib's config under it), and a teardown that leaves no process behind:
``POST /api/shutdown`` first (the server stops its kernels), then SIGTERM and SIGKILL to the server's
process group and to the kernels it started, by their process ids.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = REPO / "handshake_course" / "course" / "lab-settings" / "overrides.json"
LOOPBACK = "127.0.0.1"
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
#: Variables that would make a test server read the developer's own Jupyter or matplotlib setup.
_PERSONAL_VARIABLES = ("IPYTHONDIR", "MPLCONFIGDIR", "MPLBACKEND", "PYTHONSTARTUP")


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def new_token() -> str:
    """A random token for the server's IdentityProvider."""
    return secrets.token_hex(24)


def is_root() -> bool:
    """True when running as root (JupyterLab then needs --allow-root)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def isolated_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: os.environ) with HOME and every Jupyter/IPython/matplotlib dir under ``home``.

    JUPYTER_* variables of the caller are dropped, and so is MPLBACKEND: a CI that sets
    ``MPLBACKEND=Agg`` would otherwise stop the kernels from drawing inline figures.
    """
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith("JUPYTER") and k not in _PERSONAL_VARIABLES}
    dirs = {
        "HOME": home,
        "JUPYTER_CONFIG_DIR": home / ".jupyter",
        "JUPYTER_DATA_DIR": home / ".local" / "share" / "jupyter",
        "JUPYTER_RUNTIME_DIR": home / ".local" / "share" / "jupyter" / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / ".jupyter" / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / ".jupyter" / "lab" / "workspaces",
        "IPYTHONDIR": home / ".ipython",
        "MPLCONFIGDIR": home / ".config" / "matplotlib",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


def install_overrides(settings_dir: Path) -> Path:
    """Copy the course's Lab settings overrides (no news toast, no update check) into a Lab settings dir."""
    settings_dir.mkdir(parents=True, exist_ok=True)
    target = settings_dir / "overrides.json"
    shutil.copyfile(OVERRIDES, target)
    return target


def warm_matplotlib(python: str | Path, env: Mapping[str, str], timeout: float = 300) -> float:
    """Build matplotlib's font cache in env's MPLCONFIGDIR before a kernel needs it; seconds taken."""
    start = time.perf_counter()
    subprocess.run([str(python), "-c", "import matplotlib.pyplot"], env=dict(env), check=True,
                   timeout=timeout, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def lab_argv(python: str | Path, *, port: int, token: str, root_dir: Path,
             settings_dir: Path | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The ``python -m jupyterlab`` command line for a loopback test server: that Python's own
    JupyterLab (``python -m jupyter lab`` would run whichever ``jupyter-lab`` is first on PATH, and
    with it another environment's kernel and package)."""
    argv = [str(python), "-m", "jupyterlab", "--no-browser", f"--ip={LOOPBACK}", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}", "--LabApp.expose_app_in_browser=True"]
    if settings_dir is not None:
        argv.append(f"--LabApp.app_settings_dir={settings_dir}")
    if is_root():
        argv.append("--allow-root")
    return argv + list(extra)


def server_config(port: int, token: str) -> dict[str, Any]:
    """jupyter_server_config.json content for a loopback server (for commands that take no options)."""
    return {"ServerApp": {"ip": LOOPBACK, "port": port, "port_retries": 0, "open_browser": False},
            "IdentityProvider": {"token": token}}


@dataclass
class LabServer:
    """A running ``jupyter lab`` process started by a test."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    log_path: Path
    started_at: float

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` with the token as a query parameter (for a browser)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def request(self, method: str, path: str, timeout: float = 30, body: Any = None) -> tuple[int, bytes]:
        """One HTTP request with the token in the Authorization header, and ``body`` as JSON if
        given: (status, body)."""
        data = json.dumps(body).encode() if body is not None else b"" if method == "POST" else None
        req = urllib.request.Request(f"{self.base_url}/{path.lstrip('/')}", method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"}, data=data)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def get_json(self, path: str, timeout: float = 30) -> Any:
        """GET ``path`` and decode its JSON body; raises AssertionError on a non-200 answer."""
        status, body = self.request("GET", path, timeout)
        assert status == 200, f"GET {path} answered {status}: {body[:300]!r}"
        return json.loads(body)

    def end_sessions(self) -> int:
        """Delete every notebook session (and so its kernel); how many there were."""
        sessions = self.get_json("api/sessions")
        for session in sessions:
            self.request("DELETE", f"api/sessions/{session['id']}")
        return len(sessions)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the server printed."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = 180) -> float:
        """Poll /api/status until it answers 200; seconds since the process started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode} before it "
                                   f"answered:\n{self.log_tail()}")
            try:
                if self.request("GET", "api/status", timeout=5)[0] == 200:
                    return time.perf_counter() - self.started_at
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        """Shut the server down (also its kernels); escalate to signals if it does not exit."""
        if self.process.poll() is None:
            try:
                self.request("POST", "api/shutdown", timeout=5)
            except OSError:
                pass
            try:
                self.process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                pass
        children = _descendants(self.process.pid)
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            if self.process.poll() is not None:
                break
            _signal_group(self.process.pid, sig)
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        for pid in children:  # kernels run in sessions of their own: end them by pid
            _signal_pid(pid, signal.SIGKILL)


def start_lab(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path,
              port: int, token: str) -> LabServer:
    """Start ``argv`` (a jupyter lab command) in a session of its own, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return LabServer(process, port, token, log_path, time.perf_counter())


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (Linux /proc), deepest last; empty where /proc is missing."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid`` (started with start_new_session)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def python_in(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"


def kernel_command(server: LabServer) -> list[str]:
    """The command line of a kernel the server starts for a notebook (found in /proc by its
    connection file, which is named after the kernel's id); the kernel is shut down again."""
    status, body = server.request("POST", "api/kernels", body={"name": "python3"})
    assert status in (200, 201), f"starting a kernel answered {status}: {body[:300]!r}"
    kernel = json.loads(body)["id"]
    try:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if any(f"kernel-{kernel}.json" in arg for arg in argv):
                return argv
        raise AssertionError(f"no process of kernel {kernel} in /proc")
    finally:
        server.request("DELETE", f"api/kernels/{kernel}")
