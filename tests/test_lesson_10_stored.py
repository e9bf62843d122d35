"""Lesson 10 where the lab cannot measure: every cell runs and every assert holds on the stored
measurements alone (as on macOS or Windows). nbval runs the lesson live on this machine; this runs
it once more in a kernel that is told it is not Linux, so no socket is opened (about 4 s)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSON = Path(__file__).resolve().parent.parent / "notebooks" / "10_check_your_kernel.ipynb"
NOT_LINUX = "import sys\nsys.platform = 'darwin'  # as on a Mac: lab.measure_* fall back to the stored records"


def test_lesson_10_runs_on_the_stored_measurements():
    nb = nbformat.read(str(LESSON), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(NOT_LINUX))
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(LESSON.parent)}}).execute()
    text = "\n".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for o in cell.outputs if o.output_type == "stream")
    assert "stored: Linux 6.18.44" in text and "live: Linux" not in text
    assert "LabUnavailable" in text  # the reason the lesson shows
    assert "MISMATCH" not in text and "-> ok" in text
