"""The examples in the docstrings of the installed package run and print what they show."""

import doctest
import importlib

import pytest

MODULES = ["ferrovq._vq", "ferrovq._engine", "ferrovq._atomic"]
# The scikit-learn front-end and the threadpoolctl controller need the [sklearn] extra
# (scikit-learn 1.9 does not install on Python 3.10, the oldest end of `make matrix`), the
# Dask mode the [dask] extra (not installed there).
SKLEARN_MODULES = ["ferrovq._sklearn", "ferrovq._threads"]


def run_examples(name):
    """Run the examples of the module's public names (found by name: the scikit-learn
    front-end's classes say they live in ``ferrovq``, which doctest would skip)."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for public in module.__all__:
        for test in finder.find(getattr(module, public), public, module=False):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    run_examples(name)


@pytest.mark.parametrize("name", SKLEARN_MODULES)
def test_sklearn_docstring_examples(name):
    pytest.importorskip("sklearn", minversion="1.9")
    run_examples(name)


def test_dask_docstring_examples():
    pytest.importorskip("dask.array")
    run_examples("ferrovq.dask")
