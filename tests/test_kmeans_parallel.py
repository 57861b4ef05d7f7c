"""k-means|| seeding in memory: ``kmeans2(minit='k-means||')`` and
``KMeans(init='k-means||')``. Oracles: a dask array of one block (``ferrovq.dask`` runs the
same algorithm block by block, so one block must give the in-memory answer bit for bit),
SciPy's '++' and scikit-learn's k-means++ for the quality of the seeds."""

from __future__ import annotations

import numpy as np
import pytest

import ferrovq
from ferrovq import _kmeans_parallel


def kmeans(*args, **kwargs):
    """``ferrovq.KMeans`` (its front-end needs scikit-learn, which the Python 3.10 end of
    ``make matrix`` does not install)."""
    pytest.importorskip("sklearn")
    return ferrovq.KMeans(*args, **kwargs)


def blobs(n, d, k, dtype=np.float64, seed=0, scale=8.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=scale, size=(k, d))
    return (centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)


def inertia(x, codes):
    return float((ferrovq.vq(x, codes)[1].astype(np.float64) ** 2).sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_dask_array_of_one_block_gives_the_in_memory_answer(dtype):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    from ferrovq import dask as fd

    x = blobs(6_000, 5, 20, dtype, seed=3)
    one_block = da.from_array(x, chunks=x.shape)
    for seed in range(3):
        rows = _kmeans_parallel.InMemory(x)
        want = _kmeans_parallel.seeds(rows, 20, np.random.default_rng(seed))
        with dask.config.set(scheduler="sync"):
            seeds = fd._parallel(one_block, 20, np.random.default_rng(seed), 1, True)
            c, labels = fd.kmeans2(one_block, 20, rng=seed)
            labels = labels.compute()
        assert seeds.dtype == want.dtype == dtype
        assert np.array_equal(seeds, want)
        # The Lloyd iterations after the seeds: dask's sums go through float64 blocks.
        want_c, want_l = ferrovq.kmeans2(x, 20, minit="k-means||", rng=seed)
        assert c.dtype == want_c.dtype == dtype
        assert np.allclose(c, want_c, rtol=1e-12 if dtype == np.float64 else 1e-5)
        assert np.array_equal(labels, want_l)


def test_kmeans2_seeds_as_well_as_kmeans_plusplus():
    x = blobs(20_000, 8, 40, seed=6, scale=3.0)
    ratios = []
    for seed in range(6):
        ours = ferrovq.kmeans2(x, 40, minit="k-means||", rng=seed)[0]
        plusplus = ferrovq.kmeans2(x, 40, minit="++", rng=seed)[0]
        ratios.append(inertia(x, ours) / inertia(x, plusplus))
    assert np.median(ratios) <= 1.02


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_init_kmeans_parallel_as_good_as_scikit_learns_kmeans_plusplus(dtype):
    cluster = pytest.importorskip("sklearn.cluster")
    x = blobs(20_000, 16, 64, dtype, seed=2, scale=2.0)
    ratios, seeded = [], []
    for seed in range(4):
        ours = kmeans(64, init="k-means||", random_state=seed).fit(x)
        theirs = cluster.KMeans(64, random_state=seed).fit(x)
        assert ours.cluster_centers_.dtype == dtype
        assert ours.n_iter_ >= 1
        ratios.append(ours.inertia_ / theirs.inertia_)
        one = kmeans(64, init="k-means||", max_iter=1, random_state=seed).fit(x)
        random = kmeans(64, init="random", n_init=1, max_iter=1, random_state=seed)
        seeded.append(one.inertia_ / random.fit(x).inertia_)
    assert np.median(ratios) <= 1.02
    # The seeds themselves are far better than rows picked at random.
    assert np.median(seeded) < 0.9


def test_the_result_does_not_depend_on_the_thread_count():
    x = blobs(30_000, 12, 50, np.float32, seed=4, scale=2.0)
    one = kmeans(50, init="k-means||", random_state=1, workers=1).fit(x)
    two = kmeans(50, init="k-means||", random_state=1, workers=2).fit(x)
    assert np.array_equal(one.cluster_centers_, two.cluster_centers_)
    assert np.array_equal(one.labels_, two.labels_)
    assert one.n_iter_ == two.n_iter_


def test_rows_of_zero_weight_are_never_drawn():
    x = blobs(4_000, 3, 4, seed=5)
    far = np.full((40, 3), 1e4)
    xw = np.concatenate([x, far])
    weights = np.concatenate([np.ones(len(x)), np.zeros(len(far))])
    for seed in range(5):
        codes = _kmeans_parallel.seeds(
            _kmeans_parallel.InMemory(xw, weights), 4, np.random.RandomState(seed)
        )
        assert np.abs(codes).max() < 100
        km = kmeans(4, init="k-means||", random_state=seed).fit(xw, sample_weight=weights)
        assert np.abs(km.cluster_centers_).max() < 100


def test_weighted_seeds_follow_the_weights():
    # Two groups of equal size; one weighs 20 times the other, so with 8 codes the
    # heavy group should get most of them.
    rng = np.random.default_rng(0)
    light = rng.normal(size=(2_000, 2))
    heavy = rng.normal(size=(2_000, 2)) + 50.0
    x = np.concatenate([light, heavy])
    weights = np.concatenate([np.ones(2_000), np.full(2_000, 20.0)])
    share = []
    for seed in range(5):
        km = kmeans(8, init="k-means||", random_state=seed).fit(x, sample_weight=weights)
        share.append(np.count_nonzero(km.cluster_centers_[:, 0] > 25))
        unweighted = kmeans(8, init="k-means||", random_state=seed).fit(x)
        share.append(-np.count_nonzero(unweighted.cluster_centers_[:, 0] > 25))
    assert sum(share) > 0  # more heavy-group codes with the weights than without


def test_small_and_degenerate_inputs():
    x = blobs(5, 2, 2, seed=1)
    c, labels = ferrovq.kmeans2(x, 5, minit="k-means||", rng=0, missing="warn")
    assert c.shape == (5, 2) and np.isfinite(c).all()
    one_d = blobs(300, 1, 3, seed=1)[:, 0]
    c, labels = ferrovq.kmeans2(one_d, 3, minit="k-means||", rng=0)
    assert c.shape == (3,) and set(np.unique(labels)) <= {0, 1, 2}
    same = np.ones((100, 2))
    with pytest.warns(UserWarning, match="One of the clusters is empty"):
        c, _ = ferrovq.kmeans2(same, 3, minit="k-means||", rng=0)
    assert np.array_equal(c, np.ones((3, 2)))
    codes = _kmeans_parallel.seeds(_kmeans_parallel.InMemory(x), 1, np.random.default_rng(0))
    assert codes.shape == (1, 2)


def test_kmeans2_errors():
    x = blobs(50, 2, 2)
    with pytest.raises(ValueError, match="larger sample than population when k=51 > n=50"):
        ferrovq.kmeans2(x, 51, minit="k-means||")
    with pytest.raises(ValueError, match="must not contain infs or NaNs"):
        bad = x.copy()
        bad[7, 1] = np.inf
        ferrovq.kmeans2(bad, 2, minit="k-means||")


def test_kmeans_errors():
    sp = pytest.importorskip("scipy.sparse")
    x = blobs(50, 2, 2)
    with pytest.raises(ValueError, match="needs dense X"):
        kmeans(2, init="k-means||").fit(sp.csr_matrix(x))
    with pytest.raises(ValueError, match="k-means\\|\\|"):
        kmeans(2, init="k-means").fit(x)  # the valid names are listed
