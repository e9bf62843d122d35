"""Fixtures of the real-browser tests: one JupyterLab server and one headless Chromium per session.

The server runs on 127.0.0.1 with a free port and a random token, with HOME, the Jupyter dirs and
MPLCONFIGDIR in a temp dir, the course's Lab settings overrides (handshake_course/course/lab-settings:
no news toast), and root_dir = a temp COPY of notebooks/ (Lab autosaves; the tracked notebooks are never touched).
Chromium is Debian's (/usr/bin/chromium) driven by playwright-python; without it the tests are
skipped with the reason, never passed.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .labserver import (
    REPO,
    LabServer,
    free_port,
    install_overrides,
    isolated_env,
    lab_argv,
    new_token,
    start_lab,
    warm_matplotlib,
)

ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SERVER_START_TIMEOUT = 240.0  # a cold first start (new HOME, font cache, first Lab build load) is slow


def find_chromium() -> str | None:
    """Debian's Chromium: /usr/bin/chromium, else chromium or chromium-browser on PATH."""
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if Path(candidate).is_file() else shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """artifacts/browser/ under the repo (git-ignored): screenshots and logs for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The Chromium binary, or a skip that says why the browser test did not run."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright (python) is not installed: pip install -e '.[test]'; "
                    "the real-browser test did not run")
    found = find_chromium()
    if found is None:
        pytest.skip("no Chromium at /usr/bin/chromium or on PATH (./run-tests installs Debian's chromium "
                    "as root); the real-browser test did not run")
    return found


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp copy of notebooks/ to serve (autosave may rewrite it, the tracked files stay as they are)."""
    root = tmp_path_factory.mktemp("lab-root")
    source = REPO / "notebooks"
    if source.is_dir():
        shutil.copytree(source, root, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


@pytest.fixture(scope="session")
def lab_server(chromium_executable: str, lab_root: Path, artifacts_dir: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """``jupyter lab`` on 127.0.0.1 for the whole session; stopped (kernels too) also on failure."""
    home = tmp_path_factory.mktemp("lab-home")
    env = isolated_env(home)
    settings = home / "lab-settings"
    install_overrides(settings)
    warm_matplotlib(sys.executable, env)
    port, token = free_port(), new_token()
    argv = lab_argv(sys.executable, port=port, token=token, root_dir=lab_root, settings_dir=settings)
    server = start_lab(argv, env=env, cwd=lab_root, log_path=home / "jupyter-lab.log", port=port, token=token)
    try:
        server.wait_ready(SERVER_START_TIMEOUT)
        yield server
    finally:
        server.stop()
        shutil.copyfile(server.log_path, artifacts_dir / "jupyter-lab.log")


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    """Headless Debian Chromium under playwright, closed at the end of the session."""
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=chromium_executable, headless=True,
                                           args=CHROMIUM_ARGS, timeout=120_000)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        manager.stop()
