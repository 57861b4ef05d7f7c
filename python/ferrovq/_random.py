"""The random state: SciPy's spellings of it (``rng=``, the legacy ``seed=``, numpy's global
state) resolved to the numpy generator every draw is taken from."""

from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np


def check_random_state(seed):
    """SciPy's ``check_random_state``: None -> numpy's global RandomState, an int -> a new
    RandomState, a RandomState or Generator as it is."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral | np.integer):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState | np.random.Generator):
        return seed
    raise ValueError(f"'{seed}' cannot be used to seed a numpy.random.RandomState instance")


def first_row(n, rng):
    """A row number in ``[0, n)`` drawn as SciPy's k-means++ draws its first row (SciPy's
    ``rng_integers``), from a ``Generator`` or a ``RandomState``."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(n, dtype="int64"))
    return int(rng.randint(n, dtype="int64"))


def rng_keywords(fun):
    """Accept SciPy's two spellings of the random state: ``rng=`` (normalised with
    ``np.random.default_rng``) and the legacy ``seed=`` (used as given); both at once is a
    TypeError, neither leaves ``rng=None``, meaning numpy's global RandomState."""

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        if "seed" in kwargs and "rng" in kwargs:
            raise TypeError(
                f"{fun.__name__}() got multiple values for argument now known as `rng`. "
                "Specify one of `rng` or `seed`."
            )
        if "seed" in kwargs:
            kwargs["rng"] = kwargs.pop("seed")
        elif "rng" in kwargs:
            kwargs["rng"] = np.random.default_rng(kwargs["rng"])
        return fun(*args, **kwargs)

    sig = inspect.signature(fun)
    params = list(sig.parameters.values())
    params.insert(
        len(params) - 1, inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, default=None)
    )
    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper
