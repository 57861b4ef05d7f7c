"""A pytest plugin (``-p sklearn_swap``) that makes ``sklearn.cluster.KMeans`` and
``k_means`` ferrovq's before scikit-learn's own test modules import them, and checks that
every collected module then holds ferrovq's."""

import sklearn.cluster

import ferrovq

sklearn.cluster.KMeans = ferrovq.KMeans
sklearn.cluster.k_means = ferrovq.k_means


def pytest_collection_modifyitems(items):
    modules = {item.module for item in items}
    assert modules, "no test collected"
    swapped = all(m.KMeans is ferrovq.KMeans and m.k_means is ferrovq.k_means for m in modules)
    assert swapped, "KMeans or k_means was not swapped"
