"""The door to scikit-learn's private names (ferrovq._sklearn._compat): each name still
exists in the installed scikit-learn, the extra's bound is the series tested, and each
fallback behaves as the private helper it stands in for (scikit-learn is the oracle)."""

import ast
import importlib
from numbers import Integral
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import sklearn
import tomllib
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import _check_sample_weight, _is_arraylike_not_scalar

from ferrovq._sklearn import _compat as compat

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "module, name", [(m, n) for m, names in compat.PRIVATE.items() for n in names]
)
def test_every_private_name_we_use_still_exists(module, name):
    assert hasattr(importlib.import_module(module), name), f"{module}.{name} is gone"


def _private_sklearn_imports(path):
    """(module, name) of every private scikit-learn name a source file imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sklearn":
            parts = node.module.split(".")
            for alias in node.names:
                if alias.name.startswith("_") or any(p.startswith("_") for p in parts):
                    found.append((node.module, alias.name))
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if "._" in a.name and "sklearn" in a.name]
    return found


def test_no_other_module_imports_private_names():
    package = ROOT / "python" / "ferrovq"
    door_path = package / "_sklearn" / "_compat.py"
    door = _private_sklearn_imports(door_path)
    assert {(m, n) for m, names in compat.PRIVATE.items() for n in names} == set(door)
    for path in package.rglob("*.py"):
        if path != door_path:
            assert _private_sklearn_imports(path) == [], path


def test_the_extra_is_bounded_to_the_tested_series():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    major, minor = map(int, compat.TESTED.split("."))
    bound = f"scikit-learn>={major}.{minor},<{major}.{minor + 1}"
    assert meta["optional-dependencies"]["sklearn"] == [bound]
    assert sklearn.__version__.startswith(compat.TESTED + "."), sklearn.__version__


WEIGHTS = [
    None,
    2.5,
    3,
    [1, 2, 3, 4],
    np.arange(4, dtype=np.float32),
    np.arange(1, 5, dtype=np.int64),
    np.zeros(4),
    np.ones((4, 1)),
    np.ones(3),
    ["a", "b", "c", "d"],
]


@pytest.mark.parametrize("weights", WEIGHTS, ids=range(len(WEIGHTS)))
@pytest.mark.parametrize("dtype", [None, np.float32, np.float64, np.int32])
def test_sample_weight_fallback_is_scikit_learns(weights, dtype):
    X = np.ones((4, 2))

    def outcome(fn):
        try:
            return fn(weights, X, dtype=dtype)
        except (ValueError, TypeError) as e:
            return type(e), str(e)

    theirs, ours = outcome(_check_sample_weight), outcome(compat._check_sample_weight_fallback)
    if isinstance(theirs, tuple):
        assert ours == theirs
    else:
        assert ours.dtype == theirs.dtype and ours.flags.c_contiguous
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "x",
    [
        [1, 2],
        (1,),
        np.ones(3),
        np.float64(1.0),
        1.0,
        "k-means++",
        len,
        None,
        __import__("scipy.sparse").sparse.eye(2),
    ],
)
def test_array_like_rule_is_scikit_learns(x):
    assert compat.is_array_like_not_scalar(x) == _is_arraylike_not_scalar(x)


class _Fits(BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        "k": [compat.Interval(Integral, 1, None, closed="left")]
    }

    def __init__(self, k=1):
        self.k = k


@pytest.mark.parametrize("decorate", [compat._fit_context, compat._fit_context_fallback])
def test_fit_context_validates_once_and_skips_nested_checks(decorate):
    class Est(_Fits):
        @decorate(prefer_skip_nested_validation=True)
        def fit(self, X=None):
            self.skipped_ = sklearn.get_config()["skip_parameter_validation"]
            return self

        @decorate(prefer_skip_nested_validation=True)
        def partial_fit(self, X=None):
            self.n_calls_ = getattr(self, "n_calls_", 0) + 1
            return self

    assert Est(k=2).fit().skipped_ is True
    with pytest.raises(InvalidParameterError, match="The 'k' parameter of Est must be"):
        Est(k=0).fit()
    est = Est(k=1).partial_fit()
    est.k = 0  # a fitted partial_fit is not validated again
    assert est.partial_fit().n_calls_ == 2
    assert Est.fit.__name__ == "fit" and Est.fit.__doc__ is None
