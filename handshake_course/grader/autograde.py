"""The autograder: ``grade(path)`` scores one submitted notebook or a folder of them.

Threat model
------------
A submission may run any code. It must not be able to raise its own score beyond what its answers
earn, lower anyone else's, read the answers, read or change anything outside its own copy, reach
the network, outlive its run, or exhaust the instructor's machine. How each holds:

* **Its own score.** Answers are collected as plain data and scored in the grader's process
  against the answer key (``submission``); what a notebook prints, computes or redefines does not
  count.
* **The answers.** The key (``grader/key``) is hidden inside the sandbox, and the course checkout
  with ``exercises/source`` is not in it at all (``sandbox``).
* **Other submissions, the gradebook, the machine.** Each notebook runs from a private copy, in a
  sandbox of its own (bubblewrap: new user, PID, IPC and network namespaces, read-only system and
  Python, a clean environment, size-limited in-memory folders, resource limits). Nothing of the
  machine is writable from inside, other submissions and the gradebook are not there, and there
  is no network.
* **Outliving the run.** The sandbox has its own PID namespace: when its kernel ends, every
  process in it ends, even one that started a new session.
* **Exhausting the machine.** Address space, processes, file sizes, CPU time and open files are
  limited per sandbox (``Limits``); the grader keeps at most ``Limits.output`` characters of a
  cell's output, receives no message over ``runner.MAX_MESSAGE`` bytes, and does not run a cell
  with more than ``Limits.cell_source`` characters of code.
* **A folder run.** Submissions are graded independently (``jobs`` at a time); each grade is
  written to a journal as soon as it is known, so an interrupted run resumes (``resume=True``).
  Symbolic links and files that are not regular files are refused, with a note.

Where bubblewrap cannot run (macOS, Windows, a container without user namespaces), ``grade``
refuses unless called with ``sandbox=False`` (``--no-sandbox``), which runs each notebook as the
instructor's own user, with the instructor's files, network and processes in its reach: for
notebooks you trust, such as your own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from .. import __version__
from .journal import Journal, digest
from .limits import Limits
from .report import Report, SubmissionGrade
from .sandbox import SandboxUnavailable, why_unavailable
from .submission import grade_file, read_regular_file, shown_path

NO_SANDBOX = ("no sandbox (--no-sandbox): each notebook runs as you, with your files, your network and your "
              "processes within its reach; grade only notebooks you trust this way")
Progress = Callable[[int, int, SubmissionGrade], None]


def submissions(root: Path) -> tuple[list[Path], list[str]]:
    """The files to grade under ``root`` (every .ipynb outside checkpoints, links included so that
    they are refused with a note), and notes on what was skipped. Links to folders are not followed."""
    if not root.exists() and not root.is_symlink():
        return [], [f"{root} does not exist"]
    if not root.is_dir() or root.is_symlink():
        return [root], []
    files, others, linked = [], 0, []
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        linked += [here / d for d in dirs if (here / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints" and not (here / d).is_symlink())
        for name in names:
            if name.endswith(".ipynb"):
                files.append(here / name)
            else:
                others += 1
    notes = [f"ignored {others} files that are not .ipynb"] if others else []
    notes += [f"skipped {shown_path(p, root)}: a symbolic link to a folder" for p in sorted(linked)]
    if not files:
        notes.append(f"no .ipynb files under {root}")
    return sorted(files), notes


def file_digest(path: Path) -> str | None:
    try:
        return digest(read_regular_file(path))
    except ValueError:
        return None


def grade(path: str | Path, *, exercise: str | None = None, limits: Limits | None = None, sandbox: bool = True,
          jobs: int = 1, journal: str | Path | None = None, resume: bool = False,
          progress: Progress | None = None) -> Report:
    """Grade one notebook, or every .ipynb under a folder.

    ``exercise`` forces the exercise id (``"ex01"``) instead of telling it from the file name;
    ``limits`` sets the time and resource limits; ``sandbox=False`` runs notebooks without the
    sandbox (raises ``SandboxUnavailable`` when the sandbox is wanted but cannot run here);
    ``jobs`` grades that many notebooks at once; ``journal`` records each grade as it is known,
    and with ``resume`` grades taken from it are not graded again; ``progress(done, total,
    grade)`` is called as each submission finishes."""
    limits = limits or Limits()
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more, got {jobs}")
    if sandbox and (reason := why_unavailable()):
        raise SandboxUnavailable(reason)
    root = Path(path)
    files, notes = submissions(root)
    base = root if root.is_dir() and not root.is_symlink() else root.parent
    settings = {"exercise": exercise, "limits": asdict(limits), "sandbox": sandbox, "version": __version__}
    book = Journal(Path(journal), settings, resume) if journal else None
    done: list[int] = []

    def one(file: Path) -> SubmissionGrade:
        sha = file_digest(file) if book else None
        earlier = book.earlier_grade(shown_path(file, base), sha) if book else None
        result = earlier or grade_file(file, base, exercise, limits, sandbox)
        if book and earlier is None:
            book.record(result, sha)
        done.append(1)
        if progress:
            progress(len(done), len(files), result)
        return result

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade") as pool:
        grades = list(pool.map(one, files))
    if book and resume:
        reused = sum(1 for f, g in zip(files, grades, strict=True) if book.earlier_grade(g.path, file_digest(f)))
        if reused:
            notes.append(f"{reused} grades taken from the journal {book.path} (files and settings unchanged)")
    if not sandbox:
        notes.append(NO_SANDBOX)
    return Report(grades, notes)
