"""``python -m handshake_course.grader grade PATH`` / ``... release``: the grader's subcommands on
their own, the same as ``handshake-course grade`` and ``handshake-course release``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cli import register


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handshake_course.grader")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(None if argv is None else list(argv))
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
