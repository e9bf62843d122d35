"""Command-line hooks of the grader, for ``handshake_course/cli.py`` to add to its subcommands::

    from .grader.cli import register
    register(sub)          # sub = parser.add_subparsers(...)

adds

    handshake-course grade PATH [--json] [--csv FILE] [--details] [--exercise ID]
                                [--cell-timeout S] [--notebook-timeout S]
    handshake-course release [--check]

Each subcommand sets ``func`` (taking the parsed arguments, returning an exit status), as the
existing ``lab`` subcommand does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .limits import Limits


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade PATH and print a score table (or JSON); write a CSV gradebook if asked."""
    from .autograde import grade

    report = grade(args.path, exercise=args.exercise,
                   limits=Limits(cell=args.cell_timeout, notebook=args.notebook_timeout))
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
    return 0 if report.submissions else 1


def cmd_release(args: argparse.Namespace) -> int:
    """Generate the student notebooks, or check that the committed ones are up to date."""
    from . import release

    return release.run(release.course_root(), args.check)


def register(subparsers: Any) -> None:
    """Add the ``grade`` and ``release`` subcommands to an argparse subparsers object."""
    grade = subparsers.add_parser("grade", help="grade submitted exercise notebooks",
                                  description="Execute each notebook in a fresh kernel and score its answers.")
    grade.add_argument("path", help="a notebook, or a folder searched for .ipynb files")
    grade.add_argument("--json", action="store_true", help="print the full report as JSON")
    grade.add_argument("--csv", metavar="FILE", help="write a gradebook, one row per submission")
    grade.add_argument("--details", action="store_true", help="print every question's feedback")
    grade.add_argument("--exercise", metavar="ID", help="grade as this exercise (ex01...) whatever the file name")
    grade.add_argument("--cell-timeout", type=float, default=Limits.cell, metavar="S",
                       help=f"seconds one cell may run (default {Limits.cell:g})")
    grade.add_argument("--notebook-timeout", type=float, default=Limits.notebook, metavar="S",
                       help=f"seconds all of a notebook's cells may run (default {Limits.notebook:g})")
    grade.set_defaults(func=cmd_grade)

    rel = subparsers.add_parser("release", help="generate exercises/release from exercises/source")
    rel.add_argument("--check", action="store_true", help="only check that the release notebooks are up to date")
    rel.set_defaults(func=cmd_release)
