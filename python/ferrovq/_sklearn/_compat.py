"""The one door to scikit-learn's private names.

ferrovq's estimators behave as scikit-learn's own, and a few of the pieces that make them do
so are private to scikit-learn: they may move or change in any release. Every such name is
imported here and nowhere else, with the reason it is needed and what happens when it is
gone, so that a change upstream breaks this module and its test
(``tests/test_sklearn_compat.py``), not ``import ferrovq`` for every user.

Checked against scikit-learn 1.9 (``TESTED``); the ``[sklearn]`` extra is bounded to it.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn import config_context, get_config
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

TESTED = "1.9"
"""The scikit-learn release series CI runs (``pyproject.toml``'s ``[sklearn]`` extra)."""

PRIVATE = {
    # Parameter constraints: scikit-learn's own validation reads `_parameter_constraints`
    # built from these, and its InvalidParameterError messages are what users see.
    "sklearn.utils._param_validation": ("Interval", "StrOptions", "validate_params"),
    # fit's wrapper: validates the parameters once and skips the nested validations.
    "sklearn.base": ("_fit_context",),
    # sample_weight's checks and messages, as every scikit-learn estimator gives them.
    "sklearn.utils.validation": ("_check_sample_weight",),
}
"""Module -> private names imported from it (the test checks each still exists)."""


def _version_error(module, err):
    return ImportError(
        f"ferrovq's scikit-learn front-end needs {module} from scikit-learn {TESTED}.x; "
        f"scikit-learn {sklearn.__version__} is installed and lacks it ({err}). "
        f"Install a tested release: pip install 'ferrovq[sklearn]'."
    )


# No fallback: the constraint classes are the validation itself.
try:
    from sklearn.utils._param_validation import Interval, StrOptions, validate_params
except ImportError as err:  # pragma: no cover - only on an untested scikit-learn
    raise _version_error("sklearn.utils._param_validation", err) from err


def _fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _fit_context_fallback(*, prefer_skip_nested_validation):
    """What ``sklearn.base._fit_context`` does for ferrovq's estimators: validate the
    parameters (once, not again for a fitted ``partial_fit``), then run without nested
    validation."""

    def decorator(fit_method):
        def wrapper(estimator, *args, **kwargs):
            skip = get_config()["skip_parameter_validation"]
            again = fit_method.__name__ == "partial_fit" and _fitted(estimator)
            if not skip and not again:
                estimator._validate_params()
            with config_context(skip_parameter_validation=prefer_skip_nested_validation or skip):
                return fit_method(estimator, *args, **kwargs)

        wrapper.__name__ = fit_method.__name__
        wrapper.__qualname__ = fit_method.__qualname__
        wrapper.__doc__ = fit_method.__doc__
        wrapper.__wrapped__ = fit_method
        return wrapper

    return decorator


def _check_sample_weight_fallback(sample_weight, X, *, dtype=None):
    """Weights as scikit-learn checks them: None gives ones, a number is repeated, an
    array must be 1-D of one weight per row, not all zero; float32 or float64."""
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
        dtype = np.float64
    if sample_weight is None:
        weights = np.ones(n, dtype=dtype)
    elif isinstance(sample_weight, numbers.Number):
        weights = np.full(n, sample_weight, dtype=dtype)
    else:
        weights = check_array(
            sample_weight,
            accept_sparse=False,
            ensure_2d=False,
            dtype=[np.float64, np.float32] if dtype is None else dtype,
            order="C",
            input_name="sample_weight",
        )
        if weights.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {weights.ndim}D array. "
                f"Expected either a scalar value or a 1D array of length {n}."
            )
        if weights.shape != (n,):
            raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n,)}!")
    if np.all(weights == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


try:
    from sklearn.base import _fit_context
except ImportError:  # pragma: no cover - only on an untested scikit-learn
    _fit_context = _fit_context_fallback

try:
    from sklearn.utils.validation import _check_sample_weight
except ImportError:  # pragma: no cover - only on an untested scikit-learn
    _check_sample_weight = _check_sample_weight_fallback


def is_array_like_not_scalar(x):
    """Whether `init` (or the like) is an array of values rather than a name or a callable:
    has a length, a shape or ``__array__``, is not sparse and is not a numpy scalar (the
    rule of scikit-learn's private ``_is_arraylike_not_scalar``, kept here)."""
    if sp.issparse(x):
        return False
    array_like = hasattr(x, "__len__") or hasattr(x, "shape") or hasattr(x, "__array__")
    return array_like and not np.isscalar(x)


__all__ = [
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "is_array_like_not_scalar",
    "validate_params",
]
