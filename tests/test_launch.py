"""The README's promise: ``python3 -m pip install -e . && handshake-course lab`` opens JupyterLab at
the first lesson, with the widgets' Lab extension working and no manual extension step, in a
workspace folder of the learner's own that holds the lessons and the exercises but no solutions.

The real console script runs as a subprocess on a machine as fresh as a test can make it: a new
HOME with empty Jupyter, IPython and matplotlib dirs. It listens on 127.0.0.1 with a free port and a
random token, given through a jupyter_server_config.json in that HOME (see also
``test_lab_passes_jupyter_options_through``). The test waits for /api/status, checks which folder
the server serves, that the URL it prints and the page it opens are the first lesson, that the Lab
page loads the widget manager extension, reads the first lesson through the contents API, and
stops the server, also when a check fails.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser.labserver import (
    REPO,
    WIDGETS_EXTENSION,
    LabServer,
    free_port,
    isolated_env,
    new_token,
    server_config,
    start_lab,
)

from handshake_course.workspace import FIRST_LESSON

START_TIMEOUT = 180.0
CONFIG_DATA = re.compile(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', re.S)


@dataclass
class Launch:
    """A running ``handshake-course lab``, where it was started and the workspace it serves."""

    server: LabServer
    cwd: Path
    workspace: Path
    runtime_dir: Path
    seconds_to_ready: float


def console_script() -> Path:
    """The ``handshake-course`` script that ``pip install -e .`` put next to this interpreter."""
    beside = Path(sys.executable).parent / "handshake-course"
    found = beside if beside.is_file() else shutil.which("handshake-course")
    if found is None:
        pytest.fail("no handshake-course command: `python3 -m pip install -e .` did not install it")
    return Path(found)


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout


@pytest.fixture(params=["checkout", "any-folder"])
def launch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launch]:
    """``handshake-course lab --no-browser`` started from the checkout with ``--workspace`` (so the
    checkout stays clean), or from another folder with the default workspace there."""
    if request.param == "checkout":
        cwd, workspace, options = REPO, tmp_path / "my-course", ["--workspace", str(tmp_path / "my-course")]
    else:
        cwd = tmp_path / "elsewhere"
        cwd.mkdir()
        workspace, options = cwd / "handshake-course", []
    home = tmp_path / "home"
    env = isolated_env(home)
    port, token = free_port(), new_token()
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(
        json.dumps(server_config(port, token)))
    server = start_lab([str(console_script()), "lab", "--no-browser", *options], env=env, cwd=cwd,
                       log_path=tmp_path / "lab.log", port=port, token=token)
    try:
        ready = server.wait_ready(START_TIMEOUT)
        yield Launch(server, cwd, workspace, Path(env["JUPYTER_RUNTIME_DIR"]), ready)
    finally:
        server.stop()
    assert server.process.returncode is not None, "the server outlived its teardown"


def page_config(page: str) -> dict[str, Any]:
    """The jupyter-config-data JSON embedded in a Lab page."""
    match = CONFIG_DATA.search(page)
    assert match, "the Lab page carries no jupyter-config-data"
    return json.loads(html.unescape(match.group(1)))


@pytest.mark.slow
def test_lab_command_opens_first_lesson_with_widgets(launch: Launch) -> None:
    server = launch.server
    print(f"\nhandshake-course lab from {launch.cwd}: /api/status answered after {launch.seconds_to_ready:.2f} s")

    info = [json.loads(p.read_text()) for p in launch.runtime_dir.glob("jpserver-*.json")]
    assert [i["root_dir"] for i in info] == [str(launch.workspace)], "the server does not serve the workspace"
    assert (launch.workspace / FIRST_LESSON).is_file()
    assert (launch.workspace / "exercises" / "release" / "ex01_accept_capacity" / "ex01_accept_capacity.ipynb").is_file()
    assert not (launch.workspace / "exercises" / "source").exists(), "the learner's workspace holds solutions"
    opens = " ".join(p.read_text() for p in launch.runtime_dir.glob("jpserver-*open.html"))
    assert f"lab/tree/{FIRST_LESSON}" in opens, "the browser would not open at the first lesson"
    printed = re.findall(r"http://\S+token=\S+", server.log_path.read_text())
    assert printed and all(f"/lab/tree/{FIRST_LESSON}?token=" in url for url in printed), printed

    status, body = server.request("GET", f"lab/tree/{FIRST_LESSON}")
    assert status == 200, f"/lab/tree/{FIRST_LESSON} answered {status}"
    config = page_config(body.decode())
    assert config.get("treePath") == FIRST_LESSON
    extensions = {ext["name"] for ext in config.get("federated_extensions", [])}
    assert WIDGETS_EXTENSION in extensions, f"the widget manager is not loaded by Lab: {sorted(extensions)}"
    assert WIDGETS_EXTENSION not in config.get("disabledExtensions", [])

    model = server.get_json(f"api/contents/{FIRST_LESSON}?content=1")
    assert model["type"] == "notebook" and model["format"] == "json"
    assert model["content"]["cells"], "the first lesson has no cells"

    kernels = server.get_json("api/kernelspecs")
    assert kernels["default"] in kernels["kernelspecs"], "no default kernel to run the lesson"


def test_lab_passes_jupyter_options_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``handshake-course lab --port=8899 --ip=127.0.0.1`` hands the options to JupyterLab, run by
    this very Python (so the kernel imports this package)."""
    from handshake_course import cli

    monkeypatch.chdir(tmp_path)
    seen: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        seen.append([path, *argv])
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execv", fake_execv)
    with pytest.raises(SystemExit):
        cli.main(["lab", "--no-browser", "--port=8899", "--ip=127.0.0.1"])
    assert seen and "--port=8899" in seen[0] and "--ip=127.0.0.1" in seen[0], seen
    assert seen[0][:4] == [sys.executable, sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path / 'handshake-course'}" in seen[0]


def test_the_workspace_keeps_the_learners_work_and_offers_updates(tmp_path: Path) -> None:
    from handshake_course import workspace

    before = git_status()
    course = tmp_path / "course"  # a copy of the course material, to change it as a new release would
    for name, source in workspace.material().items():
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, course / name)
    mine = tmp_path / "mine"
    first = workspace.prepare(mine, root=course)
    assert sorted(first.copied) == sorted(workspace.material()) and len(first.copied) >= 20
    assert not any("source" in name.split("/") for name in first.copied)
    (mine / "notebooks" / "01_listen.ipynb").write_text("my notes", encoding="utf-8")
    (mine / "notebooks" / "02_connect.ipynb").unlink()
    for name in ("01_listen", "03_syn_queue"):
        with (course / "notebooks" / f"{name}.ipynb").open("a", encoding="utf-8") as f:
            f.write("\n")  # a new release of these two lessons
    again = workspace.prepare(mine, root=course)
    assert (again.copied, again.updated, again.kept) == (["notebooks/02_connect.ipynb"], [], [])
    assert (mine / "notebooks" / "01_listen.ipynb").read_text(encoding="utf-8") == "my notes"
    refreshed = workspace.prepare(mine, refresh=True, root=course)
    assert (refreshed.updated, refreshed.kept) == (["notebooks/03_syn_queue.ipynb"], ["notebooks/01_listen.ipynb"])
    assert (mine / "notebooks" / "01_listen.ipynb").read_text(encoding="utf-8") == "my notes"
    assert (mine / "notebooks" / "01_listen.updated.ipynb").read_bytes() == (course / "notebooks" / "01_listen.ipynb").read_bytes()
    assert (mine / "notebooks" / "03_syn_queue.ipynb").read_bytes() == (course / "notebooks" / "03_syn_queue.ipynb").read_bytes()
    with pytest.raises(ValueError, match="cannot be the course's own folder"):
        workspace.prepare(course, root=course)
    assert git_status() == before
