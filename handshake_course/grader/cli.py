"""Command-line hooks of the grader, for ``handshake_course/cli.py`` to add to its subcommands::

    from .grader.cli import register
    register(sub)          # sub = parser.add_subparsers(...)

adds

    handshake-course grade PATH [--json] [--csv FILE] [--details] [--exercise ID] [--jobs N]
                                [--journal FILE] [--resume] [--no-sandbox] [--cell-timeout S]
                                [--notebook-timeout S] [--memory MIB] [--processes N]
                                [--file-size MIB] [--cpu S] [--progress | --no-progress]
    handshake-course release [--check]

Each subcommand sets ``func`` (taking the parsed arguments, returning an exit status), as the
existing ``lab`` subcommand does.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from ..extras import require
from ..shell import add_progress_option, progress_bar
from .limits import Limits

JOURNAL = "grading-journal.jsonl"


def positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


class FolderProgress:
    """What ``grade`` on a folder shows on stderr as submissions finish: a line per submission
    (``[3/30] alice/ex01.ipynb: 7/10 ok (12.5 s)``) and, on a terminal or with ``--progress``, a
    tqdm bar under them with the time left (``shell``; lines only without tqdm), which goes away
    at the end (the lines stay). ``grade`` calls it from its worker threads, one at a time here."""

    def __init__(self, total: int, choice: bool | None) -> None:
        self.bar = progress_bar(total, desc="grading", unit="notebook", choice=choice, delay=0.0, leave=False)
        self.lock = threading.Lock()

    def __call__(self, done: int, total: int, grade: Any) -> None:
        from .report import one_line

        score = f"{grade.points}/{grade.max_points}"
        line = f"[{done}/{total}] {one_line(grade.path)}: {score} {grade.status} ({grade.seconds:g} s)"
        with self.lock:
            if self.bar is None:
                print(line, file=sys.stderr)
                return
            self.bar.write(line, file=sys.stderr)
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade PATH and print a score table (or JSON); write a CSV gradebook if asked."""
    require("grade", "handshake-course grade")
    from .autograde import NO_SANDBOX, grade, submissions
    from .sandbox import SandboxUnavailable, caveats

    limits = Limits(cell=args.cell_timeout, notebook=args.notebook_timeout, memory=args.memory,
                    processes=args.processes, file_size=args.file_size, cpu=args.cpu)
    folder = Path(args.path).is_dir()
    journal = args.journal or (JOURNAL if folder or args.resume else None)
    if args.no_sandbox:
        print(f"handshake-course grade: warning: {NO_SANDBOX}", file=sys.stderr)
    else:
        for caveat in caveats():
            print(f"handshake-course grade: note: {caveat}", file=sys.stderr)
    progress = None
    if folder and not args.json:
        progress = FolderProgress(len(submissions(Path(args.path))[0]), args.progress)
    try:
        report = grade(args.path, exercise=args.exercise, limits=limits, sandbox=not args.no_sandbox,
                       jobs=args.jobs, journal=journal, resume=args.resume, progress=progress)
    except SandboxUnavailable as err:
        print(f"handshake-course grade: cannot grade in a sandbox here: {err}.\n"
              "A submitted notebook may run any code, so the grader runs each one in a sandbox. To grade "
              "anyway, pass --no-sandbox: every notebook then runs as you, with your files, network and "
              "processes within its reach (fine for your own notebook, not for other people's).", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(report.to_json())
    else:
        print(report.table())
        if args.details or (len(report.submissions) == 1 and Path(args.path).is_file()):
            print()
            print(report.details())
    if args.csv:
        report.write_csv(args.csv)
        if not args.json:
            print(f"\ngradebook written to {args.csv}")
    if journal and not args.json:
        print(f"journal: {journal} (after an interruption, run the same command with --resume)")
    return 0 if report.submissions else 1


def cmd_release(args: argparse.Namespace) -> int:
    """Generate the student notebooks, or check that the committed ones are up to date."""
    from ..course import instructor_root

    try:
        root = instructor_root()
    except FileNotFoundError as err:
        raise SystemExit(f"handshake-course release: {err}") from None
    require("nbgrader", "handshake-course release")
    from . import release

    return release.run(root, args.check)


def register(subparsers: Any) -> None:
    """Add the ``grade`` and ``release`` subcommands to an argparse subparsers object."""
    grade = subparsers.add_parser(
        "grade", help="grade submitted exercise notebooks",
        description="Execute each notebook in a fresh kernel, in a sandbox of its own (bubblewrap: no network, "
                    "no files of this machine, resource limits), and score its answers.")
    grade.add_argument("path", help="a notebook, or a folder searched for .ipynb files")
    grade.add_argument("--json", action="store_true", help="print the full report as JSON")
    grade.add_argument("--csv", metavar="FILE", help="write a gradebook, one row per submission")
    grade.add_argument("--details", action="store_true", help="print every question's feedback")
    grade.add_argument("--exercise", metavar="ID", help="grade as this exercise (ex01...) whatever the file name")
    grade.add_argument("--jobs", type=positive(int), default=1, metavar="N",
                       help="grade N notebooks at once (default 1)")
    grade.add_argument("--journal", metavar="FILE",
                       help=f"record each grade here as soon as it is known (default for a folder: {JOURNAL})")
    grade.add_argument("--resume", action="store_true",
                       help="take grades of unchanged files from the journal instead of grading them again")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run notebooks without the sandbox, as you, with your files and network in their "
                            "reach: only for notebooks you trust, e.g. your own")
    grade.add_argument("--cell-timeout", type=positive(float), default=Limits.cell, metavar="S",
                       help=f"seconds one cell may run (default {Limits.cell:g})")
    grade.add_argument("--notebook-timeout", type=positive(float), default=Limits.notebook, metavar="S",
                       help=f"seconds all of a notebook's cells may run (default {Limits.notebook:g})")
    grade.add_argument("--memory", type=positive(int), default=Limits.memory, metavar="MIB",
                       help=f"address space of each process in the sandbox, MiB (default {Limits.memory})")
    grade.add_argument("--processes", type=positive(int), default=Limits.processes, metavar="N",
                       help=f"processes and threads in the sandbox (default {Limits.processes}; Linux does not "
                            "apply this limit to root)")
    grade.add_argument("--file-size", type=positive(int), default=Limits.file_size, metavar="MIB",
                       help=f"size of each file, and of each writable folder, in the sandbox, MiB "
                            f"(default {Limits.file_size})")
    grade.add_argument("--cpu", type=positive(float), default=Limits.cpu, metavar="S",
                       help=f"CPU seconds of each process in the sandbox (default {Limits.cpu:g})")
    add_progress_option(grade)
    grade.set_defaults(func=cmd_grade)

    rel = subparsers.add_parser("release", help="generate exercises/release from exercises/source")
    rel.add_argument("--check", action="store_true", help="only check that the release notebooks are up to date")
    rel.set_defaults(func=cmd_release)
