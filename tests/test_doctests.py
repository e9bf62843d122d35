"""Docstring examples in the model are tests too."""

import doctest

import pytest

from handshake_course.model import profiles, rules


@pytest.mark.parametrize("module", [profiles, rules], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0
    assert failures == 0
