"""The README's promise: ``handshake-course lab`` opens JupyterLab at the first lesson, with the
widgets' Lab extension working and no manual extension step, in a workspace folder of the
learner's own that holds the lessons and the exercises but no solutions, and the checkout stays
clean. Here from the checkout's editable install; tests/test_wheel.py does the same from the
built wheel. ``lab_launch`` holds how the command is started and what the learner must find.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser.labserver import REPO
from lab_launch import Launch, check_first_lesson, launched

from handshake_course import course


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
    with launched(console_script(), cwd, workspace, options, tmp_path / "home") as running:
        yield running


@pytest.mark.slow
def test_lab_command_opens_first_lesson_with_widgets(launch: Launch) -> None:
    before = git_status()
    print(f"\nhandshake-course lab from {launch.cwd}: /api/status answered after {launch.seconds_to_ready:.2f} s")
    check_first_lesson(launch, course.material())
    lesson = f"api/contents/{course.FIRST_LESSON}"
    model = launch.server.get_json(f"{lesson}?content=1")
    model["content"]["cells"][0]["source"] += "\n\nMy notes."  # what Lab's autosave sends after an edit
    status, _ = launch.server.request("PUT", lesson, body={"type": "notebook", "format": "json",
                                                           "content": model["content"]})
    assert status == 200, f"saving the lesson answered {status}"
    assert "My notes." in (launch.workspace / course.FIRST_LESSON).read_text(encoding="utf-8")
    assert git_status() == before, "a learner's session changed the checkout"


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
    from handshake_course import course as packaged
    from handshake_course import workspace

    before = git_status()
    course = tmp_path / "course"  # a copy of the course material, to change it as a new release would
    for name, source in packaged.material().items():
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, course / name)
    material = {name: course / name for name in packaged.material()}
    mine = tmp_path / "mine"
    first = workspace.prepare(mine, material=material)
    assert sorted(first.copied) == sorted(packaged.material()) and len(first.copied) >= 20
    assert not any("source" in name.split("/") for name in first.copied)
    (mine / "notebooks" / "01_listen.ipynb").write_text("my notes", encoding="utf-8")
    (mine / "notebooks" / "02_connect.ipynb").unlink()
    for name in ("01_listen", "03_syn_queue"):
        with (course / "notebooks" / f"{name}.ipynb").open("a", encoding="utf-8") as f:
            f.write("\n")  # a new release of these two lessons
    again = workspace.prepare(mine, material=material)
    assert (again.copied, again.updated, again.kept) == (["notebooks/02_connect.ipynb"], [], [])
    assert (mine / "notebooks" / "01_listen.ipynb").read_text(encoding="utf-8") == "my notes"
    refreshed = workspace.prepare(mine, refresh=True, material=material)
    assert (refreshed.updated, refreshed.kept) == (["notebooks/03_syn_queue.ipynb"], ["notebooks/01_listen.ipynb"])
    assert (mine / "notebooks" / "01_listen.ipynb").read_text(encoding="utf-8") == "my notes"
    assert (mine / "notebooks" / "01_listen.updated.ipynb").read_bytes() == (course / "notebooks" / "01_listen.ipynb").read_bytes()
    assert (mine / "notebooks" / "03_syn_queue.ipynb").read_bytes() == (course / "notebooks" / "03_syn_queue.ipynb").read_bytes()
    with pytest.raises(ValueError, match="cannot be a folder that holds the course's own files"):
        workspace.prepare(course, material=material)
    assert git_status() == before
