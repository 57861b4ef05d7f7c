"""``ferrovq.KMeans`` on a dask array: scikit-learn's rules (tolerance scaled by the mean
feature variance, the centre-shift stopping rule, empty clusters refilled from the
farthest rows, the best of `n_init` runs) over ``ferrovq.dask``'s block statistics, so the
client holds O(k·d), never anything per row. Labels and distances come back lazy.

Differences from a fit in memory: 'k-means++' seeds by k-means|| (``ferrovq.dask``'s, as
dask-ml does: exact k-means++ needs a pass over the data per centre) and 'random' draws
its rows with a generator seeded from `random_state`, so a given `random_state` does not
reproduce scikit-learn's seeds; the data are not centred (ferrovq's distances are exact
without it); `sample_weight` is not supported (nor by dask-ml); runs are compared by
inertia alone (not also by whether they cluster alike).
"""

from __future__ import annotations

import uuid
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ferrovq import _core
from ferrovq import dask as fd
from ferrovq._sklearn._compat import is_array_like_not_scalar

__all__ = ["fit", "predict", "score", "transform"]


def _rows(X, est=None):
    """`X` as 2-D float32/float64 rows chunked along the rows only; with `est`, checked
    against the features it was fitted on."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead: reshape your data, e.g. "
            "X.reshape(-1, 1) for a single feature."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if est is not None and X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {est.__class__.__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    return fd._as_data(X)[0]


def _workers(est):
    """Threads inside each Dask task (default 1: Dask supplies the parallelism)."""
    return 1 if est.workers is None else est.workers


def fit(est, X, sample_weight):
    """Fit `est` on the dask array `X` (see the module's notes)."""
    if sample_weight is not None:
        raise ValueError(
            "sample_weight is not supported when X is a dask array (nor by dask-ml): "
            "compute X into memory to weight its rows."
        )
    X = _rows(X)
    est.n_features_in_ = X.shape[1]
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    est._check_params_vs_input(X)
    # scikit-learn's tolerance: `tol` times the mean per-feature variance.
    tol = 0.0 if est.tol == 0 else float(X.var(axis=0).mean().compute()) * est.tol
    init = est.init
    if is_array_like_not_scalar(init):
        init = check_array(init, dtype=X.dtype, copy=True, order="C")
        est._validate_center_shape(X, init)
    random_state = check_random_state(est.random_state)
    best = None
    for run in range(est._n_init):
        try:  # (the first pass over the rows checks them)
            centers = _seeds(est, X, init, random_state, check_finite=run == 0)
            if est.verbose:
                print("Initialization complete")
            centers, n_iter = _lloyd(est, X, centers, tol)
        except ValueError as e:
            if str(e) != "array must not contain infs or NaNs":
                raise
            raise ValueError("Input X contains NaN or infinity.") from e
        _, counts, inertia, _ = fd._statistics(X, centers, _workers(est))
        if best is None or inertia < best[1]:
            best = (centers, inertia, n_iter, np.count_nonzero(counts))
    centers, inertia, n_iter, distinct = best
    if distinct < est.n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than "
            f"n_clusters ({est.n_clusters}). Possibly due to duplicate points in X.",
            ConvergenceWarning,
            stacklevel=3,
        )
    est.cluster_centers_ = centers
    est._n_features_out = centers.shape[0]
    est.labels_ = predict(est, X)
    est.inertia_ = inertia
    est.n_iter_ = n_iter
    return est


def _seeds(est, X, init, random_state, check_finite):
    k = est.n_clusters
    if isinstance(init, str) and init in ("k-means++", "k-means||"):
        centers = fd._parallel(X, k, random_state, _workers(est), check_finite)
    elif isinstance(init, str) and init == "random":
        generator = np.random.default_rng(random_state.randint(2**31))
        centers = fd._points(X, k, generator, _workers(est), False)
    elif is_array_like_not_scalar(init):
        centers = init
    else:
        centers = check_array(init(X, k, random_state=random_state), dtype=X.dtype, order="C")
        est._validate_center_shape(X, centers)
    return np.ascontiguousarray(centers, dtype=X.dtype)


def _lloyd(est, X, centers, tol):
    """One run from `centers` by scikit-learn's rules: (centres, iterations). Its first
    pass checks that the rows are finite."""
    run = uuid.uuid4().hex
    workers = _workers(est)
    try:
        for i in range(est.max_iter):
            if est.verbose:
                sums, counts, inertia, _ = fd._statistics(X, centers, workers, i == 0)
                print(f"Iteration {i}, inertia {inertia}.")
            else:
                sums, counts = fd._sums(X, centers, workers, i == 0, run)
            if not counts.all():
                sums, counts = _relocated(X, centers, sums, counts, workers)
            new = _means(sums, counts, X).astype(X.dtype)
            shift = float(((new.astype(np.float64) - centers) ** 2).sum())
            centers = new
            # Unchanged labels (scikit-learn's strict convergence) give the same sums
            # in the same order, so the same centres: a shift of zero.
            if shift <= tol:
                if est.verbose and shift == 0:
                    print(f"Converged at iteration {i}: strict convergence.")
                elif est.verbose:
                    print(
                        f"Converged at iteration {i}: center shift {shift} within tolerance {tol}."
                    )
                break
    finally:
        fd._forget_bounds(run)
    return centers, i + 1


def _means(sums, counts, X):
    """The clusters' means; a cluster without rows goes on the heaviest cluster `h` (the
    first with the most rows), scikit-learn's rule: on its mean if after it, on its sum
    if before (scikit-learn places them as it divides the sums, in index order). That sum
    is scikit-learn's, of the centred rows; the column means of `X` it needs are computed
    only then."""
    h = int(np.argmax(counts))
    means = sums / np.where(counts > 0, counts, 1)[:, None].astype(sums.dtype)
    empty = np.flatnonzero(counts == 0)
    if (empty < h).any():
        shift = X.mean(axis=0, dtype=np.float64).compute()
        for j in empty[empty < h]:
            means[j] = sums[h] - (counts[h] - 1) * shift
    means[empty[empty > h]] = means[h]
    return means


def _farthest_rows(block, book, m, block_info=None):
    """The block's `m` rows farthest from their nearest code of `book`: one row each of
    (distance, global row index, label, the row's values), farthest first, ties lowest
    row first."""
    block = fd._c(block)
    labels, dist = _core.vq(block, book, 1)
    order = np.lexsort((np.arange(len(dist)), -dist))[:m]
    start = block_info[0]["array-location"][0][0]
    return np.column_stack(
        [dist[order], start + order, labels[order], block[order].astype(np.float64)]
    )


def _relocated(X, centers, sums, counts, workers):
    """scikit-learn's relocation: each empty cluster, in index order, takes the farthest
    row from its code (ties: lowest row), which leaves its own cluster; when every row
    sits on its code, nothing moves."""
    empty = np.flatnonzero(counts == 0)
    m, d = len(empty), X.shape[1]
    rows = X.map_blocks(
        _farthest_rows,
        centers,
        m,
        dtype=np.float64,
        chunks=(tuple(min(m, c) for c in X.chunks[0]), (3 + d,)),
    ).compute()
    rows = rows[np.lexsort((rows[:, 1], -rows[:, 0]))][:m]
    if rows[0, 0] == 0:
        return sums, counts
    sums, counts = sums.copy(), counts.copy()
    for j, row in zip(empty, rows, strict=True):
        old, x = int(row[2]), row[3:].astype(sums.dtype)
        sums[old] -= x
        counts[old] -= 1
        sums[j] = x
        counts[j] = 1
    return sums, counts


def _labels_block(block, centers):
    return _core.nearest(fd._c(block, centers.dtype), centers, 1)


def _distances_block(block, centers):
    return _core.distances(fd._c(block, centers.dtype), centers, 1)


def _common(est, X):
    X = _rows(X, est)
    dtype = np.promote_types(X.dtype, est.cluster_centers_.dtype)
    return X, np.ascontiguousarray(est.cluster_centers_, dtype=dtype)


def predict(est, X):
    """Each row's nearest centre, lazily (int32, chunked as the rows)."""
    X, centers = _common(est, X)
    return X.map_blocks(_labels_block, centers, dtype=np.int32, drop_axis=1)


def transform(est, X):
    """Each row's distance to every centre, lazily (chunked as the rows)."""
    X, centers = _common(est, X)
    k = len(centers)
    return X.map_blocks(_distances_block, centers, dtype=centers.dtype, chunks=(X.chunks[0], (k,)))


def score(est, X, sample_weight):
    """Minus the sum of squared distances to the nearest centres (computed now)."""
    if sample_weight is not None:
        raise ValueError("sample_weight is not supported when X is a dask array.")
    X, centers = _common(est, X)
    return -float(fd._statistics(X, centers, _workers(est))[2])
