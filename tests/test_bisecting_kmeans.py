"""ferrovq.BisectingKMeans against scikit-learn's (the oracle): the same random_state gives
the same splits, labels, centres and inertia, dense and sparse, weighted or not, with
either strategy; and scikit-learn's estimator conventions."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster as skc
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_sklearn import EXPECTED_FAILED, blobs, close

from ferrovq import BisectingKMeans


def fit_both(X, sample_weight=None, **params):
    ours = BisectingKMeans(**params).fit(X, sample_weight=sample_weight)
    theirs = skc.BisectingKMeans(**params).fit(X, sample_weight=sample_weight)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("strategy", ["biggest_inertia", "largest_cluster"])
@pytest.mark.parametrize("init", ["random", "k-means++"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shift", [40.0, 0.0], ids=["offset", "around-origin"])
def test_fit_and_predict_as_sklearn(dtype, strategy, init, weighted, shift):
    X = blobs(4000, 6, 9, dtype, seed=7, spread=2.0, shift=shift)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X)) if weighted else None
    params = dict(n_clusters=7, init=init, n_init=2, bisecting_strategy=strategy)
    ours, theirs = fit_both(X, w, random_state=5, **params)
    assert np.array_equal(ours.labels_, theirs.labels_)
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype == dtype
    assert close(ours.cluster_centers_, theirs.cluster_centers_, dtype)
    assert close(ours.inertia_, theirs.inertia_, dtype)
    Y = blobs(1500, 6, 9, dtype, seed=8, spread=3.0)
    # predict walks the tree: not always the nearest centre, and the same as scikit-learn.
    assert np.array_equal(ours.predict(Y), theirs.predict(Y))
    assert np.allclose(ours.transform(Y), theirs.transform(Y), rtol=1e-4)
    assert close(ours.score(Y), theirs.score(Y), dtype)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_as_sklearn(fmt):
    dense = blobs(1500, 20, 5, seed=3)
    dense[np.random.default_rng(0).random(dense.shape) < 0.7] = 0
    X = sp.csr_matrix(dense).asformat(fmt)
    ours, theirs = fit_both(X, n_clusters=5, random_state=1)
    assert np.array_equal(ours.labels_, theirs.labels_)
    assert close(ours.cluster_centers_, theirs.cluster_centers_, np.float64)
    assert np.array_equal(ours.predict(X), theirs.predict(X))


def test_one_cluster_and_copy_x():
    X = blobs(300, 3, 2, seed=4)
    ours, theirs = fit_both(X, n_clusters=1)
    assert np.array_equal(ours.cluster_centers_, theirs.cluster_centers_)
    kept = X.copy()
    BisectingKMeans(3, copy_x=False, random_state=0).fit(X)
    assert np.allclose(X, kept, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shift", [40.0, 0.0], ids=["centred", "not-centred"])
def test_copy_x_false_puts_the_rows_back(shift):
    # Nine leaves under copy_x=False: the fit centres the caller's rows in place only when
    # they lie far from the origin, and puts them back; the answer is scikit-learn's.
    X = blobs(3000, 4, 9, seed=11, spread=2.0, shift=shift)
    kept = X.copy()
    theirs = skc.BisectingKMeans(9, random_state=3).fit(X)
    ours = BisectingKMeans(9, copy_x=False, random_state=3).fit(X)
    assert np.array_equal(ours.labels_, theirs.labels_)
    assert close(ours.inertia_, theirs.inertia_, np.float64)
    if shift:
        assert np.allclose(X, kept, rtol=0, atol=1e-12)
    else:
        assert np.array_equal(X, kept)
    # With copy_x=True the caller's rows are only read (a read-only array will do).
    kept.setflags(write=False)
    again = BisectingKMeans(9, random_state=3).fit(kept)
    assert np.array_equal(again.labels_, theirs.labels_)


def test_an_interrupted_fit_puts_the_rows_back():
    # A callable init has the fit centre the rows (in place under copy_x=False); an
    # interruption after three splits leaves them as they were.
    X = blobs(2000, 3, 8, seed=12, shift=25.0)
    kept = X.copy()
    calls = []

    def init(rows, n_clusters, random_state):
        calls.append(len(rows))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return rows[:n_clusters]

    with pytest.raises(KeyboardInterrupt):
        BisectingKMeans(8, init=init, copy_x=False).fit(X)
    assert len(calls) == 4
    assert np.allclose(X, kept, rtol=0, atol=1e-12)


def test_verbose_prints_what_sklearn_prints(capsys):
    X = blobs(200, 2, 3, seed=6)
    BisectingKMeans(3, verbose=1, random_state=0).fit(X)
    ours = capsys.readouterr().out
    skc.BisectingKMeans(3, verbose=1, random_state=0).fit(X)
    theirs = capsys.readouterr().out
    number = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")
    assert number.sub("#", ours) == number.sub("#", theirs)
    values = [float(v) for v in number.findall(ours)]
    assert np.allclose(values, [float(v) for v in number.findall(theirs)], rtol=1e-9)
    assert ours.count("New centroids from bisection") == 2


@pytest.mark.parametrize(
    "params",
    [dict(n_init=0), dict(init="k-means||"), dict(bisecting_strategy="x"), dict(n_clusters=0)],
)
def test_errors_as_sklearn(params):
    X = blobs(50, 2, 2, seed=1)
    with pytest.raises(ValueError) as want:
        skc.BisectingKMeans(**params).fit(X)
    with pytest.raises(type(want.value)) as got:
        BisectingKMeans(**params).fit(X)
    assert str(got.value) == str(want.value)


@parametrize_with_checks(
    [BisectingKMeans(n_init=2, n_clusters=2, max_iter=5)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_are_gathered_as_numpy_takes_them(dtype):
    # The gather each split's rows go through, on several threads, against numpy's take.
    from ferrovq import _core

    rng = np.random.default_rng(3)
    X = rng.standard_normal((9000, 7)).astype(dtype)
    ids = rng.permutation(9000)[:5000]
    for workers in (1, 2):
        out = np.full((len(ids), 7), np.nan, dtype=dtype)
        _core.take_rows(X, ids, out, workers)
        np.testing.assert_array_equal(out, X.take(ids, axis=0))
    with pytest.raises(ValueError, match="row number 9000 is outside the 9000 rows"):
        _core.take_rows(X, np.array([0, 9000]), np.empty((2, 7), dtype=dtype))
    with pytest.raises(ValueError, match=r"out has shape \[7, 2\], not \(2, 7\)"):
        _core.take_rows(X, np.array([0, 1]), np.empty((7, 2), dtype=dtype))
