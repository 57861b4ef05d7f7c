"""The estimator's kernels on dense or sparse rows: each function takes a C-contiguous
float32/float64 array or a CSR matrix (passed to the Rust core as its parts, never
densified) and centres of the same dtype."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ferrovq import _core

__all__ = [
    "bounded_labels",
    "distances",
    "greedy_plusplus",
    "inertia",
    "labels",
    "lloyd",
    "minibatch_step",
    "row_bounds",
]


def _parts(X):
    """A CSR matrix as the core takes it: ``(indptr, indices, data, n_features)``."""
    return (
        np.ascontiguousarray(X.indptr, dtype=np.int32),
        np.ascontiguousarray(X.indices, dtype=np.int32),
        np.ascontiguousarray(X.data),
        X.shape[1],
    )


def greedy_plusplus(X, k, trials, first, uniforms, weights=None, workers=None):
    """The rows greedy k-means++ picks (see ``ferrovq.init::greedy_plusplus``): `first`,
    then for each further centre the best of `trials` candidates drawn by `uniforms`."""
    if sp.issparse(X):
        return _core.sparse_greedy_plusplus(
            _parts(X), k, trials, int(first), uniforms, weights, workers
        )
    return _core.greedy_plusplus(X, k, trials, int(first), uniforms, weights, workers)


def lloyd(X, centers, tol, max_iter, weights=None, workers=None, farthest=None):
    """Lloyd iterations from `centers`, empty clusters refilled from the farthest rows
    (chosen by ``farthest(distances, n_empty)`` if given): with `tol`, scikit-learn's
    centre-shift rule (at most `max_iter` iterations, labels against the final centres);
    with None, exactly `max_iter` iterations (labels from the last assignment). Returns
    ``(centers, labels, n_iter)``."""
    if sp.issparse(X):
        return _core.sparse_lloyd(_parts(X), centers, tol, max_iter, weights, workers, farthest)
    stop = "iterations" if tol is None else "center_shift"
    centers, labels, n_iter, _ = _core.lloyd(
        X,
        centers,
        stop,
        0.0 if tol is None else float(tol),
        max_iter,
        "farthest",
        weights,
        workers,
        farthest=farthest,
    )
    return centers, labels, n_iter


def minibatch_step(
    X, weights, centers, totals, workers=None, bounds=None, inertia=True, check_finite=False
):
    """One mini-batch step on the rows `X` (dense or sparse): their labels and inertia
    against `centers` (None unless `inertia`: ``partial_fit`` has no use for it), and the
    centres moved to their running means (`totals`, each centre's weight so far, updated
    in place). Returns ``(labels, inertia, moved)``. Dense rows leave their distance
    bounds in `bounds` (a ``BlockBounds`` for them) if given, for :func:`bounded_labels`
    of the same rows against the moved centres. With `check_finite`, dense rows are
    searched for NaN and infinity as they are labelled: ``ValueError`` before anything
    moves if one is found (sparse rows are not searched)."""
    if sp.issparse(X):
        return _core.sparse_minibatch_step(_parts(X), weights, centers, totals, workers, inertia)
    return _core.minibatch_step(
        X, weights, centers, totals, workers, bounds, inertia, check_finite
    )


def row_bounds(X):
    """Empty distance bounds for the rows of dense `X` (None for sparse rows, which
    keep none), for :func:`minibatch_step` to fill."""
    return None if sp.issparse(X) else _core.BlockBounds(X.shape[0])


def bounded_labels(X, centers, bounds, weights=None, workers=None):
    """Each dense row's nearest centre, given the rows' distance bounds against earlier
    centres (`bounds`, which keeps the new ones), and the inertia of those labels: the
    result of :func:`labels` and :func:`inertia`, comparing only the rows the bounds do not
    settle (every row if the step kept no bounds). Returns ``(labels, inertia)``."""
    if not bounds.kept:
        found = labels(X, centers, workers)
        return found, inertia(X, centers, found, weights, workers)
    return _core.block_labels(X, centers, bounds, weights, workers)


def labels(X, centers, workers=None, check_finite=False):
    """Each row's nearest centre (int32; ties to the lowest); with `check_finite`, a
    ValueError if dense `X` holds a NaN or infinity (checked as the rows are labelled)."""
    if sp.issparse(X):
        return _core.sparse_nearest(_parts(X), centers, workers)
    return _core.nearest(X, centers, workers, check_finite)


def inertia(X, centers, labels, weights=None, workers=None):
    """The sum of ``w * |x - centers[label]|**2`` over the rows, in float64."""
    if sp.issparse(X):
        return _core.sparse_inertia(_parts(X), centers, labels, weights, workers)
    return _core.inertia(X, centers, labels, weights, workers)


def label_inertia(X, centers, labels, weights=None, workers=None):
    """Each centre's part of :func:`inertia` for sparse `X`, a list, in one pass (the same
    numbers as :func:`inertia` with the weights of other centres' rows zero)."""
    return _core.sparse_inertia(_parts(X), centers, labels, weights, workers, by_label=True)


def distances(X, centers, workers=None):
    """Every row's Euclidean distance to every centre, dense ``n x k``."""
    if sp.issparse(X):
        return _core.sparse_distances(_parts(X), centers, workers)
    return _core.distances(X, centers, workers)
