"""A pytest plugin (``-p sklearn_swap``) that makes ``sklearn.cluster``'s ``KMeans``,
``k_means``, ``MiniBatchKMeans`` and ``BisectingKMeans`` ferrovq's before scikit-learn's
own test modules import them, and checks that every collected module then holds
ferrovq's."""

import sklearn.cluster

import ferrovq

SWAPPED = ("KMeans", "k_means", "MiniBatchKMeans", "BisectingKMeans")
for name in SWAPPED:
    setattr(sklearn.cluster, name, getattr(ferrovq, name))


def pytest_collection_modifyitems(items):
    modules = {item.module for item in items}
    assert modules, "no test collected"
    for m in modules:
        held = [n for n in SWAPPED if hasattr(m, n)]
        assert held, f"{m.__name__} uses none of {SWAPPED}"
        assert all(getattr(m, n) is getattr(ferrovq, n) for n in held), (
            f"{m.__name__} kept scikit-learn's"
        )
