"""The learner's workspace: a folder of their own with the lessons and the exercise notebooks.

``handshake-course lab`` (and Binder, through ``binder/postBuild``) opens JupyterLab on this
folder, not on the course's checkout: the learner saves their work there, the checkout stays clean,
and the instructor's notebooks with solutions (``exercises/source``) are not in it.

The workspace mirrors the course's paths (``notebooks/``, ``exercises/release/``), so the links
between lessons and exercises and the paths in the grader's feedback hold in both. A manifest
(``.handshake-course.json``) records the SHA-256 of every file as it was copied:

* an existing workspace is kept as it is; files it lacks (a new lesson, or one the learner
  deleted) are copied in;
* ``refresh=True`` also brings every file the learner has not edited up to date; a file they
  edited is kept, and the new version is put beside it as ``<name>.updated.ipynb``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import course
from .course import FIRST_LESSON

__all__ = ["DEFAULT_FOLDER", "FIRST_LESSON", "MANIFEST", "Changes", "prepare"]

MANIFEST = ".handshake-course.json"
DEFAULT_FOLDER = "handshake-course"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Changes:
    """What ``prepare`` did to the workspace."""

    folder: Path
    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited by the learner; the new version is beside them

    def summary(self) -> str:
        lines = [f"workspace: {self.folder}"]
        if self.copied:
            lines.append(f"  copied {len(self.copied)} notebooks")
        if self.updated:
            lines.append(f"  updated {len(self.updated)} notebooks you had not edited")
        for name in self.kept:
            lines.append(f"  kept your edited {name}; the new version is {updated_name(name)}")
        return "\n".join(lines)


def updated_name(name: str) -> str:
    return name.removesuffix(".ipynb") + ".updated.ipynb"


def prepare(folder: Path, refresh: bool = False, material: dict[str, Path] | None = None) -> Changes:
    """Create or complete the workspace in ``folder`` (see the module's docstring) with
    ``material`` (course path -> file; default: the course this package carries)."""
    folder = folder.resolve()
    material = course.material() if material is None else material
    inside = [str(source) for source in material.values() if source.resolve().is_relative_to(folder)]
    if inside:
        raise ValueError(f"the workspace cannot be a folder that holds the course's own files ({inside[0]})")
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    try:
        copied_as: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        copied_as = {}
    changes = Changes(folder)
    for name, source in material.items():
        target, new = folder / name, sha256(source)
        if target.exists():
            current = sha256(target)
            if not refresh or new in (current, copied_as.get(name)):  # nothing newer than what they have
                continue
            if current != copied_as.get(name):  # the learner's edits: keep them, the new version beside
                shutil.copyfile(source, folder / updated_name(name))
                changes.kept.append(name)
                copied_as[name] = new  # offered once
                continue
            changes.updated.append(name)
        else:
            changes.copied.append(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied_as[name] = new
    manifest_path.write_text(json.dumps(copied_as, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return changes
