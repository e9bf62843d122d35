"""One submitted notebook: read it, run it (in its sandbox), collect its answers and score them.

1. **Read** the file, refusing what is not a regular file (a symbolic link could point at the
   instructor's solution; a FIFO would block) and what is too large. An empty file, invalid JSON,
   or JSON that is not a notebook is reported as such and scores 0; nothing is executed. The
   exercise is told by the file name (``ex01...``), else the folder name, else the notebook's
   ``metadata.handshake_course.exercise``.
2. **Execute** a private copy in a fresh kernel (``runner``), in a sandbox of its own unless the
   caller chose otherwise, with a time limit per cell and a budget for the whole notebook. Cells
   that raise are recorded and execution goes on; a cell that loops forever is interrupted, and a
   kernel that hangs or dies is replaced (the cells before the culprit run again, without it).
   nbgrader's hidden tests are removed first (they belong to nbgrader), and a cell with more code
   than ``Limits.cell_source`` is not run.
3. **Collect** the answers. Before the learner's first cell the grader runs ``probe.prepare`` (the
   probe keeps its own references to the JSON encoder and IPython's display; ``exit()`` stops
   ending the kernel). After the learner's cells it runs one cell per question that it writes
   itself: the cell calls ``probe.collect`` with the question's request (the answer variable
   names, or the function name and the inputs the grader chose) and a random nonce. ``collect``
   reads the notebook's namespace from its caller's frame, reduces the answers to plain JSON data
   (numbers, strings, lists; any other object becomes a marker naming its type, so an object
   with a lying ``__eq__`` gains nothing), calls functions under a per-call time limit, and
   displays the result; the grader takes it from that cell's output, if it carries the nonce.
4. **Score** in the grader's process with the package's own checks (``checks.score_plain``),
   against the answer key, which never enters the sandbox. Nothing the notebook printed, no
   variable holding a score, and no redefinition of ``check`` takes part; such things are only
   *noted*, as are deleted or edited check cells (compared with the release notebook), cell errors
   and time-outs. A question left unanswered because the cell that should set its answer raised
   is reported as raising, with the exception.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from .. import course
from . import probe, release
from .checks import score_plain
from .key import EXERCISES
from .limits import Limits
from .questions import (
    ERROR,
    UNANSWERED,
    Exercise,
    Feedback,
    Function,
    Question,
    Replay,
    ValueQuestion,
    Verdict,
)
from .report import SubmissionGrade
from .runner import CellRun, Runner

MAX_BYTES = 20_000_000
EXERCISE_ID = re.compile(r"(ex\d\d)")
SCORE_LIKE = re.compile(r"(?i)\b(score|grade|points?|marks?)\b\D{0,30}\d+(\.\d+)?\s*/\s*\d+"
                        r"|\d+(\.\d+)?\s*/\s*\d+\s*(points?|marks?)\b")
GUARDED = ("check", "score")
PRELUDE = "__import__('handshake_course.grader.probe', fromlist=['prepare']).prepare({max_chars})"
PROBE = "__import__('handshake_course.grader.probe', fromlist=['collect']).collect({request!r}, {nonce!r})"


# ---- reading and recognising a submission ---------------------------------------------------------

def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device) of at most
    MAX_BYTES; ValueError saying what it is otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if os.path.islink(path):
            raise ValueError("a symbolic link: grade the file it points to instead, if it is the learner's") from None
        raise ValueError(f"cannot open it ({err.strerror or type(err).__name__})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1_000_000} MB")
        return f.read(MAX_BYTES + 1)


def parse(text: str) -> tuple[NotebookNode | None, str]:
    """The notebook, or None and why the text is not one ("empty" for nothing at all)."""
    if not text.strip():
        return None, "empty"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not a notebook: invalid JSON ({err.msg} at line {err.lineno})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, "not a notebook: the JSON has no list of cells"
    try:
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if not isinstance(cell.get("metadata"), dict):
                cell["metadata"] = nbformat.NotebookNode()
            cell.source = "".join(cell.source) if isinstance(cell.source, list) else str(cell.get("source", ""))
    except Exception as err:  # nbformat raises many kinds of errors on malformed notebooks
        return None, f"not a notebook: {type(err).__name__}: {str(err)[:200]}"
    return nb, ""


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    """A cell's nbgrader metadata, {} when absent or not a mapping (``"nbgrader": null``)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def identify(path: Path, nb: NotebookNode | None, forced: str | None) -> Exercise | None:
    """Which exercise a submission answers."""
    if forced:
        return next((ex for ex in EXERCISES.values() if forced in (ex.id, ex.slug)), None)
    for text in (path.name, path.parent.name):
        match = EXERCISE_ID.match(text)
        if match and match.group(1) in EXERCISES:
            return EXERCISES[match.group(1)]
    meta = nb.metadata.get("handshake_course") if nb is not None else None
    return EXERCISES.get(str(meta.get("exercise"))) if isinstance(meta, dict) else None


def cell_label(nb: NotebookNode, index: int) -> str:
    grade_id = nbgrader_meta(nb.cells[index]).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id})" if isinstance(grade_id, str) and grade_id else "")


def has_code(nb: NotebookNode) -> bool:
    return any(c.cell_type == "code" and c.source.strip() for c in nb.cells)


# ---- static notes -----------------------------------------------------------------------------------------

def reference_checks(ex: Exercise) -> dict[str, str] | None:
    """grade_id -> source of the check cells in the exercise's release notebook, if it is at hand."""
    try:
        nb = nbformat.read(course.exercise_notebook(ex.slug), as_version=4)
    except (OSError, ValueError):
        return None
    return {nbgrader_meta(c)["grade_id"]: c.source.strip() for c in nb.cells if nbgrader_meta(c).get("grade")}


def check_cell_notes(nb: NotebookNode, ex: Exercise) -> tuple[list[str], set[int]]:
    """Notes on deleted or edited check cells, and the indices of the untouched ones."""
    reference = reference_checks(ex)
    if reference is None:  # a broken installation: say so, and take the cells marked as checks at their word
        marked = {i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade")}
        return [f"check cells not compared with the release notebook of {ex.slug}: it is missing from this "
                "installation of handshake-course"], marked
    present = {nbgrader_meta(c).get("grade_id"): i for i, c in enumerate(nb.cells)}
    deleted = [g for g in reference if g not in present]
    edited = [g for g in reference
              if g in present and release.remove_hidden_tests(nb.cells[present[g]].source).strip() != reference[g]]
    notes = []
    if deleted:
        notes.append(f"check cells deleted: {', '.join(deleted)} (the grade does not depend on them)")
    if edited:
        notes.append(f"check cells edited: {', '.join(edited)} (the grade does not depend on them)")
    untouched = {present[g] for g in reference if g in present and g not in edited}
    return notes, untouched


def python_of(source: str) -> ast.Module | None:
    """A cell's code as Python, with IPython magics and shell lines blanked; None if it does not parse."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def bound_names(tree: ast.Module) -> dict[str, str]:
    """Every name a cell binds (assignment, def, class, import) -> the module it was imported from
    ("" when not imported)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(node.name, "")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.setdefault(node.id, "")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", "") or ""
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = module or alias.name
    return found


def rebinds(tree: ast.Module) -> set[str]:
    """Which of the guarded names (check, score) a cell defines or assigns anew."""
    return {name for name, module in bound_names(tree).items()
            if name in GUARDED and not module.startswith("handshake_course")}


def redefinition_notes(nb: NotebookNode) -> tuple[list[str], bool]:
    notes, any_found = [], False
    for i, cell in enumerate(nb.cells):
        tree = python_of(cell.source) if cell.cell_type == "code" else None
        for name in sorted(rebinds(tree)) if tree else []:
            any_found = True
            notes.append(f"{cell_label(nb, i)} redefines `{name}`: ignored, the grader scores with its own checks")
    return notes, any_found


def score_like_notes(nb: NotebookNode, skip: set[int]) -> list[str]:
    notes = []
    for i, cell in enumerate(nb.cells):
        if i in skip or cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        text = "".join(str(o.get("text", "")) + str((o.get("data") or {}).get("text/plain", ""))
                       for o in outputs if isinstance(o, dict))
        match = SCORE_LIKE.search(text)
        if match:
            notes.append(f"{cell_label(nb, i)} printed {match.group(0).strip()!r}: ignored, printed output "
                         "does not count")
    return notes


# ---- what runs ------------------------------------------------------------------------------------------

def runnable(nb: NotebookNode, limits: Limits) -> tuple[NotebookNode, list[str]]:
    """The copy of the notebook the kernel runs: nbgrader's hidden tests removed, outputs cleared,
    and cells with more code than ``limits.cell_source`` emptied (with a note)."""
    copy, notes = nbformat.from_dict(json.loads(json.dumps(nb))), []
    for i, cell in enumerate(copy.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if len(cell.source) > limits.cell_source:
            notes.append(f"{cell_label(nb, i)} has {len(cell.source):,} characters of code, more than the "
                         f"{limits.cell_source:,} a cell may have: not run")
            cell.source = ""
        else:
            cell.source = release.remove_hidden_tests(cell.source)
    return copy, notes


def execution_notes(nb: NotebookNode, runner: Runner) -> list[str]:
    notes = []
    for i, run in sorted(runner.execution.cells.items()):
        if run.status == "error":
            notes.append(f"{cell_label(nb, i)} raised {run.error}")
        elif run.status == "timeout":
            notes.append(f"{cell_label(nb, i)} {run.error}")
    not_run = [i for i, r in runner.execution.cells.items() if r.status == "not run"]
    if not_run:
        notes.append(f"the notebook's {runner.limits.notebook:g} s time budget ran out: "
                     f"{len(not_run)} cells from {cell_label(nb, min(not_run))} on were not run")
    return notes + runner.execution.notes


def answer_in(outputs: list[NotebookNode], nonce: str) -> dict[str, Any] | None:
    """The probe's answer among a grader cell's outputs: the display of type ANSWER_TYPE that
    carries this cell's nonce."""
    for out in outputs:
        text = (out.get("data") or {}).get(probe.ANSWER_TYPE) if out.get("output_type") == "display_data" else None
        try:
            data = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("nonce") == nonce:
            return data
    return None


def probe_question(runner: Runner, ex: Exercise, q: Question) -> Feedback:
    """Collect one question's answer from the kernel and score it here."""
    request = q.request()
    nonce = secrets.token_hex(16)
    seconds = runner.limits.probe + len(request.get("calls", ())) * float(request.get("seconds", 0))
    status, text, outputs = runner.probe(PROBE.format(request=json.dumps(request), nonce=nonce), seconds)
    data = answer_in(outputs, nonce)
    if data is None:
        why = text or status
        return ex.feedback(q, Verdict(0, ERROR, f"could not collect the answer from the notebook ({why})."))
    if data.get("too_large"):
        return ex.feedback(q, Verdict(0, ERROR, f"the answer is {data['too_large']:,} characters of data, more "
                                                "than the grader reads."))
    return score_plain(ex.id, q.id, data.get("answer"))


def answer_names(q: Question) -> tuple[str, ...]:
    if isinstance(q, (ValueQuestion, Function)):
        return (q.name,)
    return q.names if isinstance(q, Replay) else ()


def raised_instead(feedback: Feedback, q: Question, ex: Exercise, nb: NotebookNode,
                   runs: dict[int, CellRun]) -> Feedback:
    """An unanswered question whose answer cell raised (or hung) is reported as such: the last
    cell that binds one of the question's names and did not run to its end."""
    if feedback.status != UNANSWERED:
        return feedback
    names = set(answer_names(q))
    for i in sorted(runs, reverse=True):
        tree = python_of(nb.cells[i].source)
        setting = sorted(names & set(bound_names(tree))) if tree is not None else []
        if runs[i].status != "ok" and setting:
            what = {"error": f"raised {runs[i].error}", "died": "ended the kernel",
                    "not run": "was not run: the notebook's time budget was used up"}.get(
                runs[i].status, f"did not finish ({runs[i].error})")
            return ex.feedback(q, Verdict(0, ERROR, f"{cell_label(nb, i)}, which sets `{setting[0]}`, {what}. {q.ref}"))
    return feedback


def grade_notebook(nb: NotebookNode, ex: Exercise, limits: Limits, sandboxed: bool = True
                   ) -> tuple[list[Feedback], list[str]]:
    """Execute a private copy of a notebook and score every question of its exercise."""
    notes, untouched = check_cell_notes(nb, ex)
    redefined, any_redefined = redefinition_notes(nb)
    run_nb, size_notes = runnable(nb, limits)
    notes += redefined + size_notes
    with tempfile.TemporaryDirectory(prefix="hc-run-") as tmp:
        workdir = Path(tmp)
        copy = workdir / f"{ex.slug}.ipynb"
        copy.write_text(nbformat.writes(run_nb), encoding="utf-8")  # the kernel's own copy
        prelude = PRELUDE.format(max_chars=limits.output)
        with Runner(run_nb, workdir, limits, prelude=prelude, sandboxed=sandboxed, notebook_copy=copy) as runner:
            runner.run_cells()
            notes += execution_notes(nb, runner)
            if runner.client is None:
                lost = Verdict(0, ERROR, "could not collect the answer: the kernel did not survive the notebook.")
                feedback = [ex.feedback(q, lost) for q in ex.questions]
            else:
                runner.reconnect()  # whatever the notebook's output did to the channels
                feedback = [probe_question(runner, ex, q) for q in ex.questions]
        runs = runner.execution.cells
    feedback = [raised_instead(f, q, ex, nb, runs) for f, q in zip(feedback, ex.questions, strict=True)]
    notes += score_like_notes(run_nb, set() if any_redefined else untouched)  # what it printed while graded
    return feedback, notes


def all_unanswered(ex: Exercise, why: str) -> list[Feedback]:
    return [ex.feedback(q, Verdict(0, UNANSWERED, why)) for q in ex.questions]


# ---- one file -----------------------------------------------------------------------------------------------

def student_of(path: Path, base: Path) -> str:
    try:
        rel = path.relative_to(base)
    except ValueError:
        return path.stem
    return rel.parts[0] if len(rel.parts) > 1 else path.stem


def shown_path(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path != base and path.is_relative_to(base) else path.name


def grade_file(path: Path, base: Path, forced: str | None, limits: Limits, sandboxed: bool = True) -> SubmissionGrade:
    """Grade one file; never raises."""
    start = time.monotonic()
    grade = SubmissionGrade(shown_path(path, base), student_of(path, base), None, 0, 0, "invalid")
    try:
        try:
            nb, problem = parse(read_regular_file(path).decode("utf-8"))
        except ValueError as err:  # not a regular file, or not UTF-8
            refused = not isinstance(err, UnicodeDecodeError)
            nb, problem = None, f"refused: {err}" if refused else "not a notebook: cannot read it as text (UnicodeDecodeError)"
            grade.status = "refused" if refused else grade.status
        ex = identify(path, nb, forced)
        if ex is not None:
            grade.exercise, grade.max_points = ex.id, ex.max_points
        if nb is None and problem != "empty":
            grade.notes.append(problem)
        elif ex is None:
            grade.status = "unknown exercise"
            grade.notes.append("cannot tell which exercise this is: name the file after it (ex01_...) "
                               "or keep the notebook's metadata")
        elif nb is None or not has_code(nb):
            grade.status = "empty"
            grade.questions = all_unanswered(ex, "the notebook is empty.")
            grade.notes.append("empty notebook: nothing to run")
        else:
            grade.questions, grade.notes = grade_notebook(nb, ex, limits, sandboxed)
            grade.status = "graded"
        grade.points = sum(f.points for f in grade.questions)
    except Exception as err:  # the grader must report, never crash
        grade.status = "grader error"
        grade.notes.append(f"grader error: {type(err).__name__}: {err}")
    grade.seconds = round(time.monotonic() - start, 2)
    return grade
