"""The README's promise: ``python3 -m pip install -e . && handshake-course lab`` opens JupyterLab at
the first lesson, with the widgets' Lab extension working and no manual extension step.

The real console script runs as a subprocess on a machine as fresh as a test can make it: a new
HOME with empty Jupyter, IPython and matplotlib dirs. It listens on 127.0.0.1 with a free port and a
random token, given through a jupyter_server_config.json in that HOME (the command takes no server
options yet, see ``test_lab_passes_jupyter_options_through``). The test waits for /api/status, checks
which file the server opens, that the Lab page loads the widget manager extension, reads the first
lesson through the contents API, and stops the server, also when a check fails.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
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

FIRST_LESSON = "notebooks/00_start_here.ipynb"
START_TIMEOUT = 180.0
CONFIG_DATA = re.compile(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', re.S)


@dataclass
class Launch:
    """A running ``handshake-course lab`` and where it was started."""

    server: LabServer
    cwd: Path
    runtime_dir: Path
    seconds_to_ready: float


def console_script() -> Path:
    """The ``handshake-course`` script that ``pip install -e .`` put next to this interpreter."""
    beside = Path(sys.executable).parent / "handshake-course"
    found = beside if beside.is_file() else shutil.which("handshake-course")
    if found is None:
        pytest.fail("no handshake-course command: `python3 -m pip install -e .` did not install it")
    return Path(found)


def write_stub_lesson(folder: Path) -> None:
    """A folder that looks like the course to the command: notebooks/00_start_here.ipynb."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Start here"), nbformat.v4.new_code_cell("import handshake_course")]
    (folder / "notebooks").mkdir()
    nbformat.write(nb, folder / FIRST_LESSON)


@pytest.fixture(params=["checkout", "any-folder"])
def launch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launch]:
    """``handshake-course lab --no-browser`` started from the checkout, or from another folder that
    has notebooks/ (the command serves the current folder when it has notebooks/)."""
    if request.param == "checkout":
        cwd = REPO
        if not (REPO / FIRST_LESSON).is_file():
            pytest.skip(f"{FIRST_LESSON} is not written yet; the 'any-folder' case still runs the command")
    else:
        cwd = tmp_path / "course"
        cwd.mkdir()
        write_stub_lesson(cwd)
    home = tmp_path / "home"
    env = isolated_env(home)
    port, token = free_port(), new_token()
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(
        json.dumps(server_config(port, token)))
    server = start_lab([str(console_script()), "lab", "--no-browser"], env=env, cwd=cwd,
                       log_path=tmp_path / "lab.log", port=port, token=token)
    try:
        ready = server.wait_ready(START_TIMEOUT)
        yield Launch(server, cwd, Path(env["JUPYTER_RUNTIME_DIR"]), ready)
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
    assert [i["root_dir"] for i in info] == [str(launch.cwd)], "the server does not serve the course folder"
    opens = " ".join(p.read_text() for p in launch.runtime_dir.glob("jpserver-*open.html"))
    assert f"lab/tree/{FIRST_LESSON}" in opens, "the browser would not open at the first lesson"

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
    """``handshake-course lab --port=8899 --ip=127.0.0.1`` should hand the options to jupyter lab."""
    pytest.importorskip("handshake_course.cli")
    from handshake_course import cli

    write_stub_lesson(tmp_path)
    monkeypatch.chdir(tmp_path)
    seen: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        seen.append(list(argv))
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execv", fake_execv)
    with pytest.raises(SystemExit):
        cli.main(["lab", "--no-browser", "--port=8899", "--ip=127.0.0.1"])
    assert seen and "--port=8899" in seen[0] and "--ip=127.0.0.1" in seen[0], seen
