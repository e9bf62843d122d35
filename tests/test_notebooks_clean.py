"""The lessons are stored stripped: no outputs, no execution counts, no saved widget state, so that
diffs stay readable and nbval treats every cell as "run, don't compare" (nbstripout's convention)."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def test_there_are_lessons():
    names = [p.name for p in NOTEBOOKS]
    assert names[:1] == ["00_start_here.ipynb"]
    assert len(names) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped(path: Path):
    nb = nbformat.read(str(path), as_version=4)
    assert "widgets" not in nb.metadata, "saved widget state: run nbstripout"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.get("outputs", []) == [], f"cell {i} has outputs: run nbstripout {path.name}"
        assert cell.get("execution_count") is None, f"cell {i} has an execution count: run nbstripout"
        assert "widgets" not in cell.get("metadata", {}), f"cell {i} has widget metadata"
