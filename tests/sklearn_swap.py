"""A pytest plugin (``-p sklearn_swap``) that makes ``sklearn.cluster.KMeans`` ferrovq's
before scikit-learn's own test modules import it, and checks that every collected module
then holds ferrovq's class."""

import sklearn.cluster

import ferrovq

sklearn.cluster.KMeans = ferrovq.KMeans


def pytest_collection_modifyitems(items):
    modules = {item.module for item in items}
    assert modules, "no test collected"
    assert all(m.KMeans is ferrovq.KMeans for m in modules), "KMeans was not swapped"
