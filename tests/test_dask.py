"""ferrovq.dask against in-memory ferrovq (the oracle for the Dask mode), on the threaded
and single-threaded schedulers and on LocalClusters of processes."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import types
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import ferrovq  # noqa: E402
from ferrovq import ClusterError  # noqa: E402
from ferrovq import dask as fd  # noqa: E402


def blobs(n, d, k, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(k, d))
    return (centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)


@contextlib.contextmanager
def local_client(**cluster):
    """A client of its own (not the default) on a LocalCluster without a dashboard port,
    and without distributed's sampling profiler: every 10 ms it reads the other threads'
    Python frames, which free-threaded CPython 3.14t does not make safe (a worker in this
    process crashed there, in distributed's `profile.process`, with no ferrovq call on
    its stack)."""
    with (
        dask.config.set({"distributed.worker.profile.enabled": False}),
        distributed.LocalCluster(dashboard_address=":0", **cluster) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def processes():
    """Two worker processes of one thread each."""
    with local_client(n_workers=2, threads_per_worker=1, processes=True) as client:
        yield client


@pytest.fixture(scope="module")
def one_worker():
    """One worker of two threads in this process."""
    with local_client(n_workers=1, threads_per_worker=2, processes=False) as client:
        yield client


# --- the same results as in memory --------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_init_equals_in_memory_kmeans2(dtype):
    x = blobs(12_000, 5, 7, dtype, seed=1)
    init = x[:7].copy()
    with dask.config.set(scheduler="threads"):
        centroids, labels = fd.kmeans2(da.from_array(x, chunks=2500), init, minit="matrix")
    want, want_labels = ferrovq.kmeans2(x, init, minit="matrix")
    assert centroids.dtype == want.dtype == dtype
    assert np.allclose(centroids, want, rtol=1e-12 if dtype == np.float64 else 1e-5)
    assert np.array_equal(labels.compute(), want_labels)
    assert labels.chunks == ((2500,) * 4 + (2000,),)


@pytest.mark.parametrize("minit", ["points", "++", "random"])
def test_seedings_draw_what_in_memory_kmeans2_draws(minit):
    x = blobs(6_000, 3, 5, seed=2)
    with dask.config.set(scheduler="threads"):
        centroids, labels = fd.kmeans2(da.from_array(x, chunks=1000), 5, minit=minit, rng=7)
    want, want_labels = ferrovq.kmeans2(x, 5, minit=minit, rng=7)
    assert np.allclose(centroids, want, rtol=1e-9, atol=1e-9)
    assert np.array_equal(labels.compute(), want_labels)


def test_vq_whiten_and_kmeans_equal_in_memory():
    x = blobs(5_000, 4, 6, seed=3)
    x[:, 2] = 1.5  # a column without spread: SciPy's warning
    dx = da.from_array(x, chunks=900)
    with dask.config.set(scheduler="threads"):
        book = x[:6] + 0.1
        codes, dist = fd.vq(dx, book)
        want_codes, want_dist = ferrovq.vq(x, book)
        assert np.array_equal(codes.compute(), want_codes)
        assert np.allclose(dist.compute(), want_dist)
        with pytest.warns(RuntimeWarning, match="standard deviation zero"):
            white = fd.whiten(dx)
        with pytest.warns(RuntimeWarning, match="standard deviation zero"):
            want_white = ferrovq.whiten(x)
        assert np.allclose(white.compute(), want_white, rtol=1e-12)
        got_book, got_dist = fd.kmeans(dx, book)
        want_book, want_dist = ferrovq.kmeans(x, book)
        assert np.allclose(got_book, want_book, rtol=1e-10)
        assert np.isclose(got_dist, want_dist, rtol=1e-10)
        got = fd.kmeans(dx, 6, iter=3, rng=4)
        want = ferrovq.kmeans(x, 6, iter=3, rng=4)
        assert np.allclose(got[0], want[0], rtol=1e-10)


def test_one_dimensional_data():
    x = np.concatenate([np.zeros(30), np.full(30, 5.0)]) + np.arange(60) % 2
    with dask.config.set(scheduler="threads"):
        centroids, labels = fd.kmeans2(da.from_array(x, chunks=25), 2, minit="++", rng=0)
    want, want_labels = ferrovq.kmeans2(x, 2, minit="++", rng=0)
    assert centroids.shape == want.shape == (2,)
    assert np.allclose(centroids, want)
    assert np.array_equal(labels.compute(), want_labels)


# --- deterministic wherever it runs ------------------------------------------------------


@pytest.mark.parametrize("minit", ["k-means||", "++", "points", "random"])
def test_bit_identical_on_every_scheduler_and_worker_count(minit, processes, one_worker):
    x = blobs(20_000, 6, 8, np.float32, seed=5)
    dx = da.from_array(x, chunks=3000)
    results = []
    with dask.config.set(scheduler="sync"):
        results.append(fd.kmeans2(dx, 8, minit=minit, rng=11))
    with dask.config.set(scheduler="threads"):
        results.append(fd.kmeans2(dx, 8, minit=minit, rng=11))
    for client in (one_worker, processes):
        with client.as_current():
            results.append(fd.kmeans2(dx, 8, minit=minit, rng=11))
    first, labels = results[0][0], results[0][1].compute(scheduler="sync")
    for centroids, lab in results[1:]:
        assert np.array_equal(centroids, first)
        assert np.array_equal(lab.compute(), labels)


def test_kmeans_parallel_seeds_as_well_as_in_memory_kmeans_plusplus():
    x = blobs(30_000, 8, 12, seed=6)
    dx = da.from_array(x, chunks=5000)

    def inertia(c):
        return float((ferrovq.vq(x, c)[1] ** 2).sum())

    ratios = []
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for seed in range(5):
            ours = fd.kmeans2(dx, 12, minit="k-means||", rng=seed)[0]
            theirs = ferrovq.kmeans2(x, 12, minit="++", rng=seed)[0]
            ratios.append(inertia(ours) / inertia(theirs))
    assert np.median(ratios) <= 1.02


# --- SciPy's errors ----------------------------------------------------------------------


def test_errors_as_scipy():
    x = blobs(100, 3, 2)
    dx = da.from_array(x, chunks=30)
    with dask.config.set(scheduler="threads"):
        with pytest.raises(ValueError, match="larger sample than population"):
            fd.kmeans2(dx, 101, minit="points")
        with pytest.raises(ValueError, match="k array doesn't match data dimension"):
            fd.kmeans2(dx, np.zeros((2, 4)), minit="matrix")
        with pytest.raises(ValueError, match="same number of features"):
            fd.vq(dx, np.zeros((2, 4)))
        with pytest.raises(ValueError, match="Unknown init method"):
            fd.kmeans2(dx, 2, minit="kmeans")
        bad = x.copy()
        bad[57, 1] = np.nan
        with pytest.raises(ValueError, match="must not contain infs or NaNs"):
            fd.kmeans2(da.from_array(bad, chunks=30), x[:2].copy(), minit="matrix")
        with pytest.raises(ClusterError):
            fd.kmeans2(
                dx, np.vstack([x[:1], np.full((1, 3), 1e9)]), minit="matrix", missing="raise"
            )
        with pytest.warns(UserWarning, match="One of the clusters is empty"):
            fd.kmeans2(dx, np.vstack([x[:1], np.full((1, 3), 1e9)]), minit="matrix", iter=1)
        # A dask array chunked along its columns is rechunked, not refused.
        by_columns = da.from_array(x, chunks=(30, 1))
        got, _ = fd.kmeans2(by_columns, x[:2].copy(), minit="matrix")
        assert np.allclose(got, ferrovq.kmeans2(x, x[:2].copy(), minit="matrix")[0])


# --- a worker lost in the middle -----------------------------------------------------------


def test_bounds_kept_between_iterations_spare_rows_and_change_no_bit(monkeypatch, processes):
    """With 32+ codes and long blocks, each block keeps its rows' distance bounds on the
    process that ran it and later iterations compare only the rows those leave open; with
    no bounds kept, or on a cluster of processes, the bits are the same, and a run's
    bounds are gone when it ends."""
    x = blobs(40_000, 8, 32, np.float32, seed=9)
    dx = da.from_array(x, chunks=10_000)
    init = ferrovq.kmeans2(x, 32, iter=1, minit="++", rng=0)[0]
    taken = []
    take = fd._BOUNDS.take
    monkeypatch.setattr(fd._BOUNDS, "take", lambda key: taken.append(take(key)) or taken[-1])
    with dask.config.set(scheduler="threads"):
        kept, kept_labels = fd.kmeans2(dx, init, iter=10, minit="matrix")
        kept_labels = kept_labels.compute()
    assert len(fd._BOUNDS) == 0
    found = [b for b in taken if b is not None]
    assert len(taken) == 40 and len(found) == 36  # every block after its first iteration
    assert all(b.rows == 10_000 for b in found)
    # The first iteration compares every row; the next eight, under a tenth of them.
    assert [b.scanned for b in found[:4]] == [10_000] * 4
    assert sum(b.scanned for b in found[4:]) < 0.1 * 8 * len(x), [b.scanned for b in found]
    want, want_labels = ferrovq.kmeans2(x, init, iter=10, minit="matrix")
    assert np.allclose(kept, want, rtol=1e-5) and np.array_equal(kept_labels, want_labels)

    monkeypatch.setattr(fd, "BOUNDS_BYTES", 0)
    taken.clear()
    with dask.config.set(scheduler="threads"):
        none = fd.kmeans2(dx, init, iter=10, minit="matrix")[0]
    assert taken == [None] * 40
    assert np.array_equal(none, kept)
    with processes.as_current():
        assert np.array_equal(fd.kmeans2(dx, init, iter=10, minit="matrix")[0], kept)
    assert processes.run(lambda: len(fd._BOUNDS)) == dict.fromkeys(processes.run(os.getpid), 0)


def test_a_block_that_ends_after_its_run_keeps_nothing():
    """Under the threaded scheduler a run that fails in one block ends (and drops its
    bounds) while other blocks may still be running: what they keep afterwards is refused,
    not left behind until evicted."""
    bounds = fd._Bounds()
    held = types.SimpleNamespace(nbytes=12)
    bounds.keep(("a", 0), held)
    bounds.keep(("b", 0), held)
    assert bounds.take(("a", 0)) is held and len(bounds) == 1
    bounds.keep(("a", 0), held)
    bounds.drop("a")
    assert len(bounds) == 1
    bounds.keep(("a", 1), held)  # a late block of the ended run
    assert len(bounds) == 1 and bounds.take(("a", 1)) is None
    bounds.keep(("c", 0), held)
    assert bounds.take(("c", 0)) is held


def test_a_killed_worker_changes_nothing(processes):
    """A worker killed in the middle of a fit is replaced by its nanny; Dask recomputes
    the blocks it held and the tasks it ran (without the distance bounds it kept), and the
    result is the same bits."""
    rows = da.random.RandomState(8).normal(size=(400_000, 8), chunks=(25_000, 8))
    dx = processes.persist(rows + (da.arange(400_000, chunks=25_000) % 10)[:, None] * 6)
    with processes.as_current():
        undisturbed = fd.kmeans2(dx, 32, iter=60, minit="points", rng=3)
        undisturbed_labels = undisturbed[1].compute()
    victim = next(iter(processes.cluster.workers.values())).process.process.pid
    killed = {}

    def kill():
        killed["at"] = time.perf_counter()
        os.kill(victim, signal.SIGKILL)

    # The fit runs here (a client driven from another thread warns on Python 3.13); the
    # kill comes from a timer thread a second into it.
    timer = threading.Timer(1.0, kill)
    with processes.as_current():
        timer.start()
        centroids, labels = fd.kmeans2(dx, 32, iter=60, minit="points", rng=3)
        ended = time.perf_counter()
    timer.join()
    assert killed["at"] < ended, "the fit ended before a worker could be killed"
    processes.wait_for_workers(2, timeout=60)
    assert np.array_equal(centroids, undisturbed[0])
    with processes.as_current():
        assert np.array_equal(labels.compute(), undisturbed_labels)


def test_data_larger_than_the_cluster_memory(tmp_path):
    """333 MB of rows on disk (an .npy stack, read block by block) clustered by one worker
    whose memory limit is 300 MiB: the same bits as the threaded scheduler gives."""
    n, d = 2_600_000, 16
    rows = da.random.RandomState(1).normal(size=(n, d), chunks=(200_000, d))
    rows = rows + (da.arange(n, chunks=200_000) % 8)[:, None] * 5.0
    da.to_npy_stack(tmp_path, rows, axis=0)
    x = da.from_npy_stack(tmp_path)
    assert x.nbytes > 300 * 2**20
    with dask.config.set(scheduler="threads"):
        want, want_labels = fd.kmeans2(x, 8, iter=3, minit="k-means||", rng=0)
        want_counts = np.bincount(want_labels.compute(), minlength=8)
    with (
        local_client(
            n_workers=1, threads_per_worker=1, processes=True, memory_limit="300MiB"
        ) as client,
        client.as_current(),
    ):
        centroids, labels = fd.kmeans2(x, 8, iter=3, minit="k-means||", rng=0)
        counts = labels.map_blocks(np.bincount, minlength=8, chunks=(8,), dtype=np.int64)
        counts = counts.reshape(-1, 8).sum(axis=0).compute()
    assert np.array_equal(centroids, want)
    assert np.array_equal(counts, want_counts)
