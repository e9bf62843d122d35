"""The README's usage example is itself a test (as Ciw does)."""

import doctest
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run_as_written():
    failures, tried = doctest.testfile(str(README), module_relative=False)
    assert tried > 0, "the README lost its usage example"
    assert failures == 0
