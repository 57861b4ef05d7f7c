"""The examples in the docstrings of the installed package run and print what they show."""

import doctest
import importlib

import pytest

MODULES = ["ferrovq._vq", "ferrovq._engine", "ferrovq._atomic"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
