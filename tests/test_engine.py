"""The neutral engine (``ferrovq._engine``) configured with scikit-learn's rules, against
scikit-learn's own Lloyd: its centre-shift stopping rule, its relocation of empty clusters
to the farthest points, and sample weights."""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from ferrovq import _engine


def blobs(n, d, k, seed, dtype=np.float64):
    r = np.random.default_rng(seed)
    centres = r.normal(0, 6, size=(k, d))
    return (centres[r.integers(0, k, n)] + r.normal(size=(n, d))).astype(dtype)


def sklearn_lloyd(x, init, tol, sample_weight=None, max_iter=300):
    km = KMeans(len(init), init=init, n_init=1, tol=tol, max_iter=max_iter, algorithm="lloyd")
    km.fit(x, sample_weight=sample_weight)
    return km


def ours(x, init, tol, sample_weight=None, max_iter=300):
    # scikit-learn scales its tolerance by the mean variance of the features.
    scaled = float(np.mean(np.var(x, axis=0))) * tol
    return _engine.lloyd(
        x,
        np.ascontiguousarray(init, dtype=x.dtype),
        stop="center_shift",
        value=scaled,
        max_iter=max_iter,
        empty="farthest",
        sample_weight=sample_weight,
    )


def assert_same_fit(x, init, tol, sample_weight=None, max_iter=300):
    km = sklearn_lloyd(x, init, tol, sample_weight, max_iter)
    centroids, labels, n_iter, _ = ours(x, init, tol, sample_weight, max_iter)
    np.testing.assert_array_equal(labels, km.labels_)
    assert n_iter == km.n_iter_
    rtol = 1e-10 if x.dtype == np.float64 else 1e-4
    scale = float(np.max(np.abs(km.cluster_centers_)))
    np.testing.assert_allclose(centroids, km.cluster_centers_, rtol=rtol, atol=rtol * scale)
    assert centroids.dtype == x.dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d", "k"), [(500, 2, 4), (5000, 3, 7), (3000, 9, 20)])
@pytest.mark.parametrize("tol", [1e-4, 1e-2, 0.0])
def test_center_shift_rule_matches_scikit_learn(n, d, k, dtype, tol):
    x = blobs(n, d, k, seed=n + d, dtype=dtype)
    init = x[np.random.default_rng(k).choice(n, k, replace=False)]
    assert_same_fit(x, init, tol)


@pytest.mark.parametrize(("n", "d", "k"), [(400, 2, 3), (6000, 5, 16)])
def test_sample_weights_match_scikit_learn(n, d, k):
    x = blobs(n, d, k, seed=7)
    r = np.random.default_rng(8)
    w = r.uniform(0.1, 5.0, n)
    w[r.integers(0, n, n // 10)] = 0.0  # rows that weigh nothing
    init = x[r.choice(n, k, replace=False)]
    assert_same_fit(x, init, 1e-4, sample_weight=w)


def test_unit_weights_are_no_weights():
    x = blobs(3000, 4, 6, seed=3)
    init = x[:6].copy()
    plain = ours(x, init, 1e-4)
    unit = ours(x, init, 1e-4, sample_weight=np.ones(len(x)))
    for a, b in zip(plain, unit, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weighted", [False, True])
def test_empty_clusters_take_the_farthest_points_as_scikit_learn(weighted):
    x = blobs(600, 2, 3, seed=11)
    # Two initial centres far from every row: both are empty after the first assignment.
    init = np.vstack([x[:3], [[1e3, 1e3], [-1e3, 1e3]]])
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(x)) if weighted else None
    assert_same_fit(x, init, 1e-4, sample_weight=w)


def test_max_iter_bounds_the_run_as_scikit_learn():
    x = blobs(2000, 2, 8, seed=5)
    init = x[:8].copy()
    assert_same_fit(x, init, 0.0, max_iter=2)


def test_weights_of_another_length_are_an_error():
    x = blobs(50, 2, 2, seed=1)
    with pytest.raises(ValueError, match="sample weights has 49 elements"):
        ours(x, x[:2], 1e-4, sample_weight=np.ones(49))


@pytest.mark.parametrize("tol", [1e-4, 1e-2])
def test_tolerance_stops_a_slow_run_as_scikit_learn(tol):
    # Uniform data has no clusters: Lloyd creeps, so the tolerance (scaled by the mean
    # variance) rather than stable labels ends the run, followed by a last assignment.
    x = np.random.default_rng(4).random((4000, 3))
    init = x[:12].copy()
    km = sklearn_lloyd(x, init, tol)
    assert km.n_iter_ < 300
    assert_same_fit(x, init, tol)
