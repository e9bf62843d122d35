"""Fixtures shared by the test modules (as SimPy shares its own): the distributions of this tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from venvs import REPO, pip_failure_reason, run

BUILD_TIMEOUT = 600


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel ``python -m build`` makes of this tree, built once per run; skips
    without network access to the package index (the build installs setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    try:
        built = run([sys.executable, "-m", "build", "--outdir", out, REPO], timeout=BUILD_TIMEOUT, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m build took more than {BUILD_TIMEOUT} s")
    if built.returncode != 0:
        reason = pip_failure_reason(built.stdout + built.stderr)
        if reason is not None:
            pytest.skip(f"no network access to the package index for the build's setuptools: {reason}")
        pytest.fail(f"python -m build failed:\n{(built.stdout + built.stderr)[-4000:]}")
    found = {"sdist": list(out.glob("*.tar.gz")), "wheel": list(out.glob("*.whl"))}
    assert all(len(files) == 1 for files in found.values()), found
    return {kind: files[0] for kind, files in found.items()}
