"""The autograder: ``grade(path)`` scores one submitted notebook or a folder of them.

Design
------
1. **Read** the file. An empty file, invalid JSON, or JSON that is not a notebook is reported as
   such and scores 0; nothing is executed. The exercise is told by the file name (``ex01...``), else
   the folder name, else the notebook's ``metadata.handshake_course.exercise``.
2. **Execute** a copy in a fresh kernel of the grader's own Python (``runner``), in a temporary
   folder, with a time limit per cell and a budget for the whole notebook. Cells that raise are
   recorded and execution goes on; a cell that loops forever is interrupted, and a kernel that hangs
   or dies is replaced (the cells before the culprit run again, without it).
3. **Collect** the answers. Before the learner's first cell the grader imports ``probe`` in the
   kernel, so that the probe holds its own references to ``json`` and ``open``. After the learner's
   cells it runs one cell per question that it writes itself: the cell calls ``probe.collect`` with
   the question's request (the answer variable names, or the function name and the inputs the
   grader chose), an output path in a folder the kernel was never told about, and a random nonce.
   ``collect`` reads the notebook's namespace from its caller's frame (the cell names nothing the
   notebook could have rebound, such as ``globals``), reduces the answers to plain JSON data
   (numbers, strings, lists; any other object becomes a marker naming its type, so an object with a
   lying ``__eq__`` gains nothing) and calls functions under a per-call time limit. The grader
   reads only that file, and only if it carries the nonce.
4. **Score** in the grader's process with the package's own checks (``checks.score_plain``), against
   values computed there from the model. Nothing the notebook printed, no variable holding a score,
   and no redefinition of ``check`` in the notebook takes part; such things are only *noted*, as are
   deleted or edited check cells (compared with the release notebook), cell errors and time-outs.

What this does not defend against: the notebook runs with the grader's rights (it is not a
sandbox, so grade untrusted submissions in a throw-away container), and code that rewires the
kernel's Python (``sys.modules``, builtins) could feed the probe other values; but the probe only
ever sees values the learner could have written as answers anyway, and the grader-chosen inputs and
the expected outputs never enter the notebook's namespace before the learner's cells have run.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from . import release
from .catalog import EXERCISES
from .checks import score_plain
from .limits import Limits
from .questions import ERROR, UNANSWERED, Exercise, Feedback, Question, Verdict
from .runner import Runner

MAX_BYTES = 20_000_000
EXERCISE_ID = re.compile(r"(ex\d\d)")
SCORE_LIKE = re.compile(r"(?i)\b(score|grade|points?|marks?)\b\D{0,30}\d+(\.\d+)?\s*/\s*\d+"
                        r"|\d+(\.\d+)?\s*/\s*\d+\s*(points?|marks?)\b")
GUARDED = ("check", "score")
PRELUDE = "import handshake_course.grader.probe"  # before the learner's cells: see probe._encode
PROBE = ("from handshake_course.grader.probe import collect as _hc_grader_collect\n"
         "_hc_grader_collect({request!r}, {out!r}, {nonce!r})\n"
         "del _hc_grader_collect")


@dataclass
class SubmissionGrade:
    """The grade of one submitted file."""

    path: str
    student: str
    exercise: str | None
    points: int
    max_points: int
    status: str  # "graded", "empty", "invalid", "unknown exercise", "grader error"
    questions: list[Feedback] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    """Grades of every submission found under a path."""

    submissions: list[SubmissionGrade]
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A score table, one line per submission, its notes indented below it."""
        width = max([len(s.path) for s in self.submissions] + [10])
        lines = [f"{'submission':<{width}}  exercise  {'score':>7}  status"]
        for s in self.submissions:
            score = f"{s.points}/{s.max_points}"
            lines.append(f"{s.path:<{width}}  {s.exercise or '-':<8}  {score:>7}  {s.status}")
            lines += [f"{'':<{width}}    - {note}" for note in s.notes]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def details(self) -> str:
        """Every question's feedback, submission by submission."""
        blocks = []
        for s in self.submissions:
            head = f"{s.path}: {s.points}/{s.max_points} ({s.status})"
            blocks.append("\n".join([head] + [f"  {f.line}" for f in s.questions] + [f"  note: {n}" for n in s.notes]))
        return "\n\n".join(blocks)

    def as_dict(self) -> dict[str, Any]:
        return {"submissions": [asdict(s) for s in self.submissions], "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def write_csv(self, path: str | Path) -> None:
        """A gradebook: one row per submission, a column per question of every exercise met."""
        columns: list[str] = []
        for s in self.submissions:
            for f in s.questions:
                name = f"{f.exercise} {f.question}"
                if name not in columns:
                    columns.append(name)
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["student", "submission", "exercise", "points", "max_points", "status", *columns, "notes"])
            for s in self.submissions:
                got = {f"{f.exercise} {f.question}": f.points for f in s.questions}
                writer.writerow([s.student, s.path, s.exercise or "", s.points, s.max_points, s.status,
                                 *[got.get(c, "") for c in columns], " | ".join(s.notes)])


# ---- reading and recognising a submission ---------------------------------------------------------

def load(path: Path) -> tuple[NotebookNode | None, str]:
    """The notebook, or None and why it cannot be read ("empty" for an empty file)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, f"not graded: the file is larger than {MAX_BYTES // 1_000_000} MB"
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, f"not a notebook: cannot read it as text ({type(err).__name__})"
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
            cell.setdefault("metadata", {})
            cell.source = "".join(cell.source) if isinstance(cell.source, list) else str(cell.get("source", ""))
    except Exception as err:  # nbformat raises many kinds of errors on malformed notebooks
        return None, f"not a notebook: {type(err).__name__}: {str(err)[:200]}"
    return nb, ""


def identify(path: Path, nb: NotebookNode | None, forced: str | None) -> Exercise | None:
    """Which exercise a submission answers."""
    if forced:
        for ex in EXERCISES.values():
            if forced in (ex.id, ex.slug):
                return ex
        return None
    for text in (path.name, path.parent.name):
        match = EXERCISE_ID.match(text)
        if match and match.group(1) in EXERCISES:
            return EXERCISES[match.group(1)]
    meta = (nb.metadata.get("handshake_course") or {}) if nb is not None else {}
    return EXERCISES.get(str(meta.get("exercise"))) if isinstance(meta, dict) else None


def cell_label(nb: NotebookNode, index: int) -> str:
    grade_id = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")


# ---- static notes -----------------------------------------------------------------------------------------

def reference_checks(ex: Exercise) -> dict[str, str] | None:
    """grade_id -> source of the check cells in the exercise's release notebook, if it is at hand."""
    try:
        path = release.course_root() / "exercises" / "release" / ex.slug / f"{ex.slug}.ipynb"
        nb = nbformat.read(path, as_version=4)
    except (OSError, FileNotFoundError, ValueError):
        return None
    return {c.metadata["nbgrader"]["grade_id"]: c.source.strip() for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def check_cell_notes(nb: NotebookNode, ex: Exercise) -> tuple[list[str], set[int]]:
    """Notes on deleted or edited check cells, and the indices of the untouched ones."""
    reference = reference_checks(ex)
    if reference is None:
        return [], set()
    present = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
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
    except SyntaxError:
        return None


def rebinds(tree: ast.Module) -> set[str]:
    """Which of the guarded names (check, score) a cell defines or assigns anew."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in GUARDED:
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in GUARDED:
            found.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", "") or ""
            for alias in node.names:
                bound = alias.asname or alias.name
                if bound in GUARDED and not module.startswith("handshake_course"):
                    found.add(bound)
    return found


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
        text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                       for o in cell.get("outputs", []))
        match = SCORE_LIKE.search(text)
        if match:
            notes.append(f"{cell_label(nb, i)} printed {match.group(0).strip()!r}: ignored, printed output "
                         "does not count")
    return notes


# ---- execution and probing ------------------------------------------------------------------------------------

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


def probe_question(runner: Runner, ex: Exercise, q: Question, outdir: Path) -> Feedback:
    """Collect one question's answer from the kernel and score it here."""
    request = q.request()
    nonce = secrets.token_hex(16)
    out = outdir / f"{q.id}-{secrets.token_hex(8)}.json"
    seconds = runner.limits.probe + len(request.get("calls", ())) * float(request.get("seconds", 0))
    status, text = runner.probe(PROBE.format(request=json.dumps(request), out=str(out), nonce=nonce), seconds)
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("nonce") != nonce:
        why = text or status
        return ex.feedback(q, Verdict(0, ERROR, f"could not collect the answer from the notebook ({why})."))
    return score_plain(ex.id, q.id, data.get("answer"))


def all_unanswered(ex: Exercise, why: str) -> list[Feedback]:
    return [ex.feedback(q, Verdict(0, UNANSWERED, why)) for q in ex.questions]


def has_code(nb: NotebookNode) -> bool:
    return any(c.cell_type == "code" and c.source.strip() for c in nb.cells)


def grade_notebook(nb: NotebookNode, ex: Exercise, limits: Limits) -> tuple[list[Feedback], list[str]]:
    """Execute a notebook and score every question of its exercise."""
    notes, untouched = check_cell_notes(nb, ex)
    redefined, any_redefined = redefinition_notes(nb)
    notes += redefined
    with tempfile.TemporaryDirectory(prefix="hc-run-") as run, tempfile.TemporaryDirectory(prefix="hc-ans-") as ans:
        workdir, outdir = Path(run), Path(ans)
        (workdir / "submission.ipynb").write_text(json.dumps(nb), encoding="utf-8")  # the kernel's own copy
        with Runner(nb, workdir, limits, prelude=PRELUDE) as runner:
            runner.run_cells()
            notes += execution_notes(nb, runner)
            if runner.client is None:
                lost = Verdict(0, ERROR, "could not collect the answer: the kernel did not survive the notebook.")
                feedback = [ex.feedback(q, lost) for q in ex.questions]
            else:
                feedback = [probe_question(runner, ex, q, outdir) for q in ex.questions]
    notes += score_like_notes(nb, set() if any_redefined else untouched)
    return feedback, notes


# ---- the entry point ---------------------------------------------------------------------------------------

def student_of(path: Path, base: Path) -> str:
    try:
        rel = path.relative_to(base)
    except ValueError:
        return path.stem
    return rel.parts[0] if len(rel.parts) > 1 else path.stem


def grade_file(path: Path, base: Path, forced: str | None, limits: Limits) -> SubmissionGrade:
    """Grade one file; never raises."""
    start = time.monotonic()
    shown = str(path.relative_to(base)) if path != base and path.is_relative_to(base) else path.name
    grade = SubmissionGrade(shown, student_of(path, base), None, 0, 0, "invalid")
    try:
        nb, problem = load(path)
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
            grade.questions, grade.notes = grade_notebook(nb, ex, limits)
            grade.status = "graded"
        grade.points = sum(f.points for f in grade.questions)
    except Exception as err:  # the grader must report, never crash
        grade.status = "grader error"
        grade.notes.append(f"grader error: {type(err).__name__}: {err}")
    grade.seconds = round(time.monotonic() - start, 2)
    return grade


def submissions(root: Path) -> tuple[list[Path], list[str]]:
    """The files to grade under ``root`` (every .ipynb outside checkpoints), and notes."""
    if not root.exists():
        return [], [f"{root} does not exist"]
    if root.is_file():
        return [root], []
    files = sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file())
    others = sum(1 for p in root.rglob("*") if p.is_file() and p.suffix != ".ipynb"
                 and ".ipynb_checkpoints" not in p.parts)
    notes = [f"ignored {others} files that are not .ipynb"] if others else []
    if not files:
        notes.append(f"no .ipynb files under {root}")
    return files, notes


def grade(path: str | Path, *, exercise: str | None = None, limits: Limits | None = None) -> Report:
    """Grade one notebook, or every .ipynb under a folder. ``exercise`` forces the exercise id
    (``"ex01"``) instead of telling it from the file name; ``limits`` sets the time limits."""
    root = Path(path)
    files, notes = submissions(root)
    base = root if root.is_dir() else root.parent
    return Report([grade_file(f, base, exercise, limits or Limits()) for f in files], notes)
