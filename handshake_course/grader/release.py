"""Make the student notebooks from the instructor's sources, as nbgrader's generate_assignment does.

    exercises/source/<id>/<id>.ipynb  ->  exercises/release/<id>/<id>.ipynb

    python -m handshake_course.grader.release            # write every release notebook
    python -m handshake_course.grader.release --check    # exit 1 if a committed one is stale

What changes, following nbgrader's ClearSolutions / ClearHiddenTests / LockCells / ClearOutput:

* in cells with ``metadata.nbgrader.solution``, each ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
  region is replaced by a stub. Inside a function body (an indented region) the stub is nbgrader's
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()``. A region at the top level of a cell assigns
  answer variables; there every variable it assigns is left as ``None`` under ``# YOUR ANSWER HERE``,
  so that an untouched notebook runs from top to bottom (nbgrader would raise there instead). A
  solution cell without markers is replaced whole; a markdown one becomes ``YOUR ANSWER HERE``;
* ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions are removed from every cell;
* grade and read-only cells become ``editable: false, deletable: false``, answer cells
  ``deletable: false``; outputs and execution counts are cleared. ``metadata.nbgrader`` stays,
  with the checksum nbgrader's own ``ComputeChecksums`` gives each grade, answer and locked cell,
  so that ``nbgrader validate`` flags a check cell a learner edited. (This step needs nbgrader:
  ``pip install 'handshake-course[nbgrader]'``.)

The output is deterministic, so the committed release notebooks can be compared with what this
module produces (tests/test_exercises.py does).
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .. import course
from ..extras import require

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "# YOUR ANSWER HERE: replace None"
MARKDOWN_STUB = "YOUR ANSWER HERE"


def regions(lines: Sequence[str], begin: str, end: str) -> list[tuple[int, int]]:
    """(first, last) line indices of each begin ... end region, markers included."""
    found, start = [], None
    for i, line in enumerate(lines):
        if line.strip() == begin and start is None:
            start = i
        elif line.strip() == end and start is not None:
            found.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{begin!r} at line {start + 1} has no {end!r}")
    return found


def assigned_names(code: str) -> list[str]:
    """The variables a top-level block of code assigns, in order of first assignment."""
    names: list[str] = []
    for node in ast.parse(textwrap.dedent(code)).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id not in names:
                    names.append(leaf.id)
    return names


def stub_for(lines: Sequence[str], cell_type: str) -> list[str]:
    """The stub that replaces one solution region (``lines`` without its markers)."""
    if cell_type == "markdown":
        return [MARKDOWN_STUB]
    body = [line for line in lines if line.strip()]
    indent = body[0][: len(body[0]) - len(body[0].lstrip())] if body else ""
    names = assigned_names("\n".join(lines)) if not indent else []
    if names:
        return [ANSWER_STUB] + [f"{name} = None" for name in names]
    return [indent + line for line in CODE_STUB]


def clear_solutions(source: str, cell_type: str) -> str:
    lines = source.split("\n")
    found = regions(lines, BEGIN_SOLUTION, END_SOLUTION)
    if not found:
        return MARKDOWN_STUB if cell_type == "markdown" else "\n".join(CODE_STUB)
    for first, last in reversed(found):
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        stub = stub_for(lines[first + 1:last], cell_type)
        if cell_type == "code" and not stub[0].startswith(indent):
            stub = [indent + line for line in stub]
        lines[first:last + 1] = stub
    return "\n".join(lines)


def remove_hidden_tests(source: str) -> str:
    lines = source.split("\n")
    for first, last in reversed(regions(lines, BEGIN_HIDDEN, END_HIDDEN)):
        del lines[first:last + 1]
    return "\n".join(lines).rstrip()


def release_cell(cell: NotebookNode) -> NotebookNode:
    cell = copy.deepcopy(cell)
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("solution"):
        cell.source = clear_solutions(cell.source, cell.cell_type)
    cell.source = remove_hidden_tests(cell.source)
    if meta.get("solution"):
        cell.metadata["deletable"] = False
    elif meta.get("grade") or meta.get("locked"):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    return cell


def add_checksums(nb: NotebookNode) -> NotebookNode:
    """nbgrader's checksums on the notebook's grade, answer and locked cells (what ``nbgrader
    generate_assignment`` records and ``nbgrader validate`` compares)."""
    require("nbgrader", "making the release notebooks (nbgrader's checksums)")
    from nbgrader.preprocessors import ComputeChecksums

    return ComputeChecksums().preprocess(nb, {})[0]


def release_notebook(nb: NotebookNode) -> NotebookNode:
    """The student version of a source notebook."""
    out = copy.deepcopy(nb)
    out.cells = [release_cell(c) for c in nb.cells]
    return add_checksums(out)


def render(nb: NotebookNode) -> str:
    """The notebook as stored in git: nbformat's JSON, one-space indent, final newline."""
    return nbformat.writes(nb) + "\n"


def sources(root: Path) -> list[Path]:
    return sorted((root / "exercises" / "source").glob("*/*.ipynb"))


def release_path(source: Path) -> Path:
    return source.parents[2] / "release" / source.parent.name / source.name


def expected_release(source: Path) -> str:
    return render(release_notebook(nbformat.read(source, as_version=4)))


def stale(root: Path) -> list[Path]:
    """Release notebooks that are missing or differ from what the sources generate."""
    out = []
    for src in sources(root):
        target = release_path(src)
        if not target.exists() or target.read_text(encoding="utf-8") != expected_release(src):
            out.append(target)
    return out


def write_all(root: Path) -> list[Path]:
    written = []
    for src in sources(root):
        target = release_path(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(expected_release(src), encoding="utf-8")
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handshake_course.grader.release",
                                     description="Generate exercises/release from exercises/source.")
    parser.add_argument("--check", action="store_true", help="only report stale release notebooks (exit 1)")
    parser.add_argument("--root", type=Path, help="the checkout holding exercises/ (default: found)")
    args = parser.parse_args(argv)
    try:
        root = args.root or course.instructor_root()
    except FileNotFoundError as err:
        parser.exit(1, f"{parser.prog}: {err}\n")
    return run(root, args.check)


def run(root: Path, check: bool) -> int:
    if check:
        bad = stale(root)
        for path in bad:
            print(f"stale: {path.relative_to(root)}")
        print("release notebooks are up to date" if not bad else
              "run `python -m handshake_course.grader.release` and commit the result")
        return 1 if bad else 0
    for path in write_all(root):
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
