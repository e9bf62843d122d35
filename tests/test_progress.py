"""Progress on long runs: ``simulate --progress`` draws a tqdm bar on stderr and leaves stdout as it
is; the default shows one only on a terminal, late; without tqdm there is no bar and no error;
``flood_sweep`` reports each point; ``grade`` on a folder prints a line per submission under a bar."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest

from handshake_course import Kernel, shell
from handshake_course.analysis import flood_sweep
from handshake_course.cli import main

FLOOD = ["simulate", "--flood", "2000", "--duration", "3", "--clients", "20", "--syncookies", "0"]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(capsys, *argv):
    assert main([*FLOOD, *argv]) == 0
    out = capsys.readouterr()
    return out.out, out.err


@pytest.mark.parametrize("output", [[], ["--json"]])
def test_progress_draws_a_bar_on_stderr_and_leaves_stdout_byte_identical(capsys, output):
    plain_out, plain_err = run(capsys, *output)
    out, err = run(capsys, *output, "--progress")
    assert out == plain_out
    assert plain_err == ""
    assert "simulating:" in err and "100%" in err and "3/3 s simulated" in err, err


def test_no_progress_draws_nothing_even_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert main([*FLOOD, "--no-progress"]) == 0
    assert sys.stderr.getvalue() == ""


def test_by_default_a_bar_waits_two_seconds_and_only_on_a_terminal():
    assert shell.progress_bar(10.0, desc="x", unit="s", choice=None, stream=io.StringIO()) is None
    with shell.progress_bar(10.0, desc="x", unit="s", choice=None, stream=Terminal()) as bar:
        assert bar.delay == shell.DELAY == 2.0
    with shell.progress_bar(10.0, desc="x", unit="s", choice=True, stream=io.StringIO()) as bar:
        assert bar.delay == 0.0  # asked for: at once, wherever stderr goes
    assert shell.progress_bar(10.0, desc="x", unit="s", choice=False, stream=Terminal()) is None


def test_without_tqdm_the_command_runs_with_no_bar(capsys, monkeypatch):
    plain_out, _ = run(capsys)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert main(FLOOD) == 0
    assert capsys.readouterr().out == plain_out and sys.stderr.getvalue() == ""
    assert main([*FLOOD, "--progress"]) == 0  # asked for: one line says why there is none
    assert capsys.readouterr().out == plain_out
    assert sys.stderr.getvalue().strip() == ("note: --progress needs the tqdm package (pip install tqdm); "
                                             "running without a bar")


def test_flood_sweep_reports_each_point_and_returns_the_same_sweep():
    kernels = {"off": Kernel("6.18", tcp_syncookies=0), "on": Kernel("6.18")}
    calls: list[tuple[int, int]] = []
    with_progress = flood_sweep([100, 1000, 3000], kernels, duration=2.0,
                                progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(1, 7)]
    assert with_progress == flood_sweep([100, 1000, 3000], kernels, duration=2.0)


def graded(path: str, points: int) -> SimpleNamespace:
    return SimpleNamespace(path=path, points=points, max_points=10, status="graded", seconds=1.5)


def test_grading_a_folder_prints_a_line_per_submission_with_a_bar_or_without(capsys):
    from handshake_course.grader.cli import FolderProgress

    with_bar = FolderProgress(2, choice=True)
    with_bar(1, 2, graded("alice/ex01.ipynb", 7))
    with_bar(2, 2, graded("bob/ex01.ipynb", 10))
    with_bar.close()
    err = capsys.readouterr().err
    assert "[1/2] alice/ex01.ipynb: 7/10 graded (1.5 s)" in err and "[2/2] bob/ex01.ipynb: 10/10 graded" in err
    assert "grading:" in err and "2/2" in err
    lines_only = FolderProgress(2, choice=False)
    lines_only(1, 2, graded("alice/ex01.ipynb", 7))
    lines_only.close()
    assert capsys.readouterr().err == "[1/2] alice/ex01.ipynb: 7/10 graded (1.5 s)\n"
