"""The ``handshake-course`` command: open the course, or run the model from a shell."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

FIRST_LESSON = "notebooks/00_start_here.ipynb"


def course_root() -> Path:
    """The checkout that holds notebooks/: the current folder if it has them, else the package's."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (base / "notebooks").is_dir():
            return base
    raise SystemExit("handshake-course: no notebooks/ folder here or next to the package; run from the checkout")


def cmd_lab(args: argparse.Namespace) -> int:
    """Start JupyterLab at the first lesson."""
    root = course_root()
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}", FIRST_LESSON]
    if args.no_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root without it (containers, CI)
    argv += args.jupyter_args
    if shutil.which(sys.executable) is None:
        raise SystemExit("handshake-course: cannot find the Python interpreter to start JupyterLab")
    os.chdir(root)
    os.execv(sys.executable, argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handshake-course",
        description="How the Linux kernel performs TCP's three-way handshake: a course and a model.")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="open the course in JupyterLab at the first lesson")
    lab.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="further options passed to jupyter lab")
    lab.set_defaults(func=cmd_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
