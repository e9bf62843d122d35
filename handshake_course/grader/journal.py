"""The journal of a folder run: each grade appended as one JSON line the moment it is known, so
that a run that is interrupted (Ctrl-C, a reboot, the grader killed) loses nothing already graded,
and ``--resume`` grades only what is left.

A grade is taken from the journal only if the submission's file is byte for byte the same (its
SHA-256) and the run's settings (exercise, limits, sandbox, package version) are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from .report import SubmissionGrade


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Journal:
    """Append-only JSON lines: {"settings", "sha256", "grade"} per finished submission."""

    def __init__(self, path: Path, settings: dict[str, Any], resume: bool) -> None:
        self.path, self.settings = path, settings
        self.lock = threading.Lock()
        self.earlier: dict[tuple[str, str], SubmissionGrade] = self.read() if resume else {}
        if not resume:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def read(self) -> dict[tuple[str, str], SubmissionGrade]:
        """The journal's grades made with these settings, by (submission, sha256); a line cut short
        by a crash is skipped."""
        found: dict[tuple[str, str], SubmissionGrade] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return found
        for line in lines:
            try:
                entry = json.loads(line)
                if entry["settings"] == self.settings:
                    grade = SubmissionGrade.from_dict(entry["grade"])
                    found[(grade.path, entry["sha256"])] = grade
            except (ValueError, KeyError, TypeError):
                continue
        return found

    def earlier_grade(self, shown: str, sha256: str | None) -> SubmissionGrade | None:
        return self.earlier.get((shown, sha256)) if sha256 else None

    def record(self, grade: SubmissionGrade, sha256: str | None) -> None:
        line = json.dumps({"settings": self.settings, "sha256": sha256, "grade": grade.as_dict()})
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
