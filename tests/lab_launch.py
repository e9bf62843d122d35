"""``handshake-course lab`` run as a learner runs it, and what it must show them.

The real console script runs as a subprocess on a machine as fresh as a test can make it: a new
HOME with empty Jupyter, IPython and matplotlib dirs, and PATH as the test found it (a venv's
script is called by its path, as from a venv that is not activated). The server listens on
127.0.0.1 with a free port and a random token, given through a jupyter_server_config.json in that
HOME, since the command passes them on only as JupyterLab options. ``launched`` waits for
/api/status and stops the server afterwards, also when a check fails; ``check_first_lesson`` holds
what a learner must find: the workspace served, lesson 00 at the printed URL, widgets loaded, no
solutions.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browser.labserver import (
    WIDGETS_EXTENSION,
    LabServer,
    free_port,
    isolated_env,
    new_token,
    server_config,
    start_lab,
)

from handshake_course.course import FIRST_LESSON

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


@contextmanager
def launched(script: Path, cwd: Path, workspace: Path, options: list[str], home: Path) -> Iterator[Launch]:
    """``script lab --no-browser *options`` started in ``cwd``, serving ``workspace``."""
    env = isolated_env(home)
    port, token = free_port(), new_token()
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(json.dumps(server_config(port, token)))
    server = start_lab([str(script), "lab", "--no-browser", *options], env=env, cwd=cwd,
                       log_path=home.parent / "lab.log", port=port, token=token)
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


def check_first_lesson(launch: Launch, course: dict[str, Path]) -> None:
    """The server serves the workspace, which holds every notebook of ``course`` (course path ->
    file) and no solutions; the URL it prints and the page it opens are lesson 00, whose Lab page
    loads the widget manager; the contents API reads the lesson; there is a kernel to run it."""
    server = launch.server
    info = [json.loads(p.read_text()) for p in launch.runtime_dir.glob("jpserver-*.json")]
    assert [i["root_dir"] for i in info] == [str(launch.workspace)], "the server does not serve the workspace"
    held = {p.relative_to(launch.workspace).as_posix() for p in launch.workspace.rglob("*.ipynb")}
    assert held == set(course), f"the workspace holds {sorted(held ^ set(course))} unlike the course"
    assert len([n for n in held if n.startswith("notebooks/")]) >= 11 and len(held) >= 20
    assert not (launch.workspace / "exercises" / "source").exists(), "the learner's workspace holds solutions"
    assert not any("BEGIN SOLUTION" in (launch.workspace / n).read_text(encoding="utf-8") for n in held)
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
    top = {item["name"] for item in server.get_json("api/contents")["content"]}
    assert top == {"notebooks", "exercises"}, f"the file browser shows {sorted(top)}"

    kernels = server.get_json("api/kernelspecs")
    assert kernels["default"] in kernels["kernelspecs"], "no default kernel to run the lesson"
