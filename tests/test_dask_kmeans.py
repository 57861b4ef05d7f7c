"""ferrovq.KMeans on dask arrays against the in-memory estimator (the oracle), on the
threaded scheduler and a LocalCluster of processes. Needs scikit-learn and Dask."""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from test_dask import blobs, local_client  # noqa: E402

import ferrovq  # noqa: E402


@pytest.fixture(scope="module")
def processes():
    """Two worker processes of one thread each."""
    with local_client(n_workers=2, threads_per_worker=1, processes=True) as client:
        yield client


@pytest.mark.parametrize(
    ("dtype", "tol"), [(np.float64, 1e-4), (np.float32, 0.0), (np.float64, 0.1)]
)
def test_kmeans_estimator_on_a_dask_array_equals_in_memory(dtype, tol):
    """scikit-learn's rules over blocks (tolerance, stopping, empty clusters refilled from
    the farthest rows): the in-memory estimator's result from the same centres, lazily."""
    x = blobs(30_000, 5, 10, dtype, seed=4)
    # The last centre is far from every row: its cluster starts empty and is refilled.
    init = np.vstack([x[:9], np.full((1, 5), 1e3)]).astype(dtype)
    dx = da.from_array(x, chunks=7000)
    with dask.config.set(scheduler="threads"):
        ours = ferrovq.KMeans(10, init=init, n_init=1, tol=tol).fit(dx)
        labels, distances = ours.labels_, ours.transform(dx)
        predicted, score = ours.predict(dx[:5000]), ours.score(dx)
    want = ferrovq.KMeans(10, init=init, n_init=1, tol=tol).fit(x)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    assert ours.n_iter_ == want.n_iter_ > 2
    assert ours.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(ours.cluster_centers_, want.cluster_centers_, rtol=rtol)
    assert np.isclose(ours.inertia_, want.inertia_, rtol=rtol)
    assert isinstance(labels, da.Array) and labels.chunks == dx.chunks[:1]
    assert np.array_equal(labels.compute(), want.labels_)
    assert np.array_equal(predicted.compute(), want.labels_[:5000])
    np.testing.assert_allclose(distances.compute(), want.transform(x), rtol=rtol, atol=rtol)
    assert np.isclose(score, want.score(x), rtol=rtol)
    assert ours.n_features_in_ == 5
    # After one iteration the empty cluster holds the row farthest from its code.
    with dask.config.set(scheduler="threads"):
        first = ferrovq.KMeans(10, init=init, n_init=1, max_iter=1).fit(dx).cluster_centers_
    want = ferrovq.KMeans(10, init=init, n_init=1, max_iter=1).fit(x).cluster_centers_
    np.testing.assert_allclose(first, want, rtol=rtol)
    assert any(np.array_equal(first[9], row) for row in x)


@pytest.mark.parametrize(
    ("rows", "init"),
    [
        # More centres than distinct rows: nothing moves, and the empty centres go on the
        # heaviest (before it: on its sum).
        ([[0.0, 0.0]] * 2 + [[3.0, 1.0]] * 4 + [[1.0, 4.0]] * 2, [0, 1, 2, 6, 7, 3]),
        ([[5.0, 5.0], [5.0, 5.0], [0.0, 0.0], [9.0, 1.0]], [2, 2, 0, 3]),
    ],
)
def test_empty_clusters_over_blocks_as_in_memory(rows, init):
    x = np.array(rows)
    dx = da.from_array(x, chunks=3)
    for max_iter in (1, 300):
        # Both say, as scikit-learn does, that fewer clusters than asked have rows.
        with dask.config.set(scheduler="threads"), pytest.warns(ConvergenceWarning):
            ours = ferrovq.KMeans(len(init), init=x[init], max_iter=max_iter).fit(dx)
        with pytest.warns(ConvergenceWarning):
            want = ferrovq.KMeans(len(init), init=x[init], max_iter=max_iter).fit(x)
        np.testing.assert_allclose(ours.cluster_centers_, want.cluster_centers_, rtol=1e-12)
        assert ours.n_iter_ == want.n_iter_


def test_kmeans_estimator_on_a_dask_array_seeds_by_kmeans_parallel(processes):
    """'k-means++' on a dask array seeds by k-means|| (as dask-ml does): as good as the
    in-memory fit, and the same bits on every scheduler."""
    x = blobs(40_000, 8, 32, np.float32, seed=6)
    dx = da.from_array(x, chunks=10_000)
    with dask.config.set(scheduler="threads"):
        threads = ferrovq.KMeans(32, random_state=0).fit(dx)
    with processes.as_current():
        cluster = ferrovq.KMeans(32, random_state=0).fit(dx)
        cluster_labels = cluster.labels_.compute()
    assert np.array_equal(threads.cluster_centers_, cluster.cluster_centers_)
    assert np.array_equal(threads.labels_.compute(), cluster_labels)
    in_memory = ferrovq.KMeans(32, random_state=0).fit(x)
    assert threads.inertia_ <= 1.02 * in_memory.inertia_


def test_kmeans_estimator_on_a_dask_array_prints_the_same_progress(capsys):
    x = blobs(6_000, 3, 4, seed=8)
    init = x[:4].copy()
    with dask.config.set(scheduler="threads"):
        ferrovq.KMeans(4, init=init, n_init=1, verbose=1).fit(da.from_array(x, chunks=1500))
    ours = capsys.readouterr().out.splitlines()
    ferrovq.KMeans(4, init=init, n_init=1, verbose=1).fit(x)
    want = capsys.readouterr().out.splitlines()
    assert len(ours) == len(want) > 3
    for a, b in zip(ours, want, strict=True):
        assert a.split(",")[0].split(":")[0] == b.split(",")[0].split(":")[0]
        if a.startswith("Iteration"):
            assert np.isclose(float(a.split()[-1][:-1]), float(b.split()[-1][:-1]), rtol=1e-9)


def test_kmeans_estimator_on_a_dask_array_refuses_what_it_cannot_do():
    x = blobs(1_000, 3, 4, seed=8)
    dx = da.from_array(x, chunks=300)
    with pytest.raises(ValueError, match="sample_weight is not supported"):
        ferrovq.KMeans(4).fit(dx, sample_weight=np.ones(1_000))
    with pytest.raises(ValueError, match="n_samples=1000 should be >= n_clusters=1001"):
        ferrovq.KMeans(1001).fit(dx)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        ferrovq.KMeans(4).fit(dx[:, 0])
    with dask.config.set(scheduler="threads"):
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            ferrovq.KMeans(4, random_state=0).fit(da.from_array(np.where(x > 5, np.nan, x)))
        fitted = ferrovq.KMeans(4, random_state=0).fit(dx)
        with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
            fitted.predict(dx[:, :2])


def test_incremental_minibatch_kmeans_over_dask_blocks():
    """dask-ml's Incremental feeds the blocks to partial_fit in order: the same steps as
    partial_fit over the blocks in memory, and as scikit-learn's MiniBatchKMeans."""
    # dask-ml comes with the [bench] extra only: with it (and the pyarrow and numba it
    # brings) installed, test_dask's worker limited to 300 MiB stalled in two CI runs.
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from sklearn.cluster import MiniBatchKMeans as SKLearnMiniBatchKMeans

    x = blobs(20_000, 4, 6, np.float64, seed=2)
    dx = da.from_array(x, chunks=5000)
    with dask.config.set(scheduler="threads"):
        fitted = wrappers.Incremental(
            ferrovq.MiniBatchKMeans(n_clusters=6, random_state=0), shuffle_blocks=False
        ).fit(dx)
    ours = fitted.estimator_
    theirs = SKLearnMiniBatchKMeans(n_clusters=6, random_state=0)
    for block in np.array_split(x, 4):
        theirs.partial_fit(block)
    assert ours.n_steps_ == theirs.n_steps_ == 4
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-10)
    assert np.array_equal(fitted.predict(dx).compute(), theirs.predict(x))
