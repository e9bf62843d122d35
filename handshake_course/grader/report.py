"""Grades as data, and the three ways they are shown: a score table, every question's feedback, and
a gradebook (CSV, one row per submission).

Everything a submission controls (its file name, a variable's value, an exception's message, a
class's name) may reach these texts. So every such text is shown on one line, its control and
invisible characters escaped (a message cannot start a forged line of the table), and every CSV
cell that a spreadsheet would read as a formula is prefixed with a quote (OWASP's advice on CSV
injection).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .questions import Feedback

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass
class SubmissionGrade:
    """The grade of one submitted file. ``status``: "graded", "empty", "invalid", "refused",
    "unknown exercise" or "grader error"."""

    path: str
    student: str
    exercise: str | None
    points: int
    max_points: int
    status: str
    questions: list[Feedback] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionGrade:
        questions = [Feedback(**q) for q in data.get("questions", [])]
        return cls(**{**data, "questions": questions})


def one_line(text: object) -> str:
    """``text`` on one line: control and invisible characters (newlines, carriage returns, escape
    sequences, right-to-left overrides) escaped, as ``repr`` would show them."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: one line, and never a formula."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = one_line(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass
class Report:
    """Grades of every submission found under a path, and notes on the run itself."""

    submissions: list[SubmissionGrade]
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A score table, one line per submission, its notes indented below it."""
        width = max([len(one_line(s.path)) for s in self.submissions] + [10])
        lines = [f"{'submission':<{width}}  exercise  {'score':>7}  status"]
        for s in self.submissions:
            score = f"{s.points}/{s.max_points}"
            lines.append(f"{one_line(s.path):<{width}}  {s.exercise or '-':<8}  {score:>7}  {s.status}")
            lines += [f"{'':<{width}}    - {one_line(note)}" for note in s.notes]
        lines += [f"note: {one_line(note)}" for note in self.notes]
        return "\n".join(lines)

    def details(self) -> str:
        """Every question's feedback, submission by submission."""
        blocks = []
        for s in self.submissions:
            head = f"{one_line(s.path)}: {s.points}/{s.max_points} ({s.status})"
            blocks.append("\n".join([head] + [f"  {one_line(f.line)}" for f in s.questions]
                                    + [f"  note: {one_line(n)}" for n in s.notes]))
        return "\n\n".join(blocks)

    def as_dict(self) -> dict[str, Any]:
        return {"submissions": [s.as_dict() for s in self.submissions], "notes": self.notes}

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
                row = [s.student, s.path, s.exercise or "", s.points, s.max_points, s.status,
                       *[got.get(c, "") for c in columns], " | ".join(s.notes)]
                writer.writerow([cell(v) for v in row])
