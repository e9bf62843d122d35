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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_answers_stay_hidden_until_the_learner_asks(path: Path):
    """Self-check answers sit in a closed <details>; the code cells that check them, and any cell the
    lesson marks as checking answers, are collapsed (JupyterLab's source_hidden and outputs_hidden)
    and tagged hide-input/hide-output (nbconvert, Jupyter Book)."""
    nb = nbformat.read(str(path), as_version=4)
    in_self_check = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            if "## Self-check" in cell.source:
                in_self_check = True
                answers = cell.source.split("## Self-check", 1)[1]
                assert "<details>" in answers and "</details>" in answers, f"cell {i}: answers in the open"
            elif cell.source.lstrip().startswith("## "):
                in_self_check = False
            continue
        if in_self_check or cell.source.startswith("# The lesson checks"):
            hidden = cell.metadata.get("jupyter", {})
            assert hidden.get("source_hidden") and hidden.get("outputs_hidden"), f"cell {i} shows answers"
            assert {"hide-input", "hide-output"} <= set(cell.metadata.get("tags", [])), f"cell {i}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_wrapped_line_starts_a_list_by_accident(path: Path):
    """A wrapped line that begins with "+ " or "* " renders as a stray bullet (lesson 01 had one)."""
    nb = nbformat.read(str(path), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            stray = [line for line in cell.source.split("\n") if line.startswith(("  + ", "  * "))]
            assert not stray, f"cell {i}: {stray}"
