"""The engine's neutral front door: Lloyd runs with any stopping rule, empty-cluster policy
and sample weights, and k-means++ seeding from given draws.

No library's rules live here: a front-end validates its input, draws its random numbers and
passes C-contiguous, native-endian float32/float64 arrays with its own configuration.
"""

from __future__ import annotations

from ferrovq import _core

__all__ = ["lloyd", "plusplus"]


def lloyd(
    data,
    init,
    *,
    stop,
    value=0.0,
    max_iter=1,
    empty="keep",
    sample_weight=None,
    workers=None,
    callback=None,
):
    """Run Lloyd iterations on `data` from the code book `init`.

    Parameters
    ----------
    data : ndarray
        ``n x d`` float32 or float64 rows, C-contiguous.
    init : ndarray
        ``k x d`` initial code book, of the data's dtype (or float64 for float32 data).
    stop : {'iterations', 'distortion', 'center_shift'}
        Exactly `max_iter` iterations; until the mean distance changes by at most `value`
        (SciPy's ``kmeans``); or scikit-learn's rule: at most `max_iter` iterations,
        stopping when no label changes or when the summed squared move of the centroids
        is at most `value` (then the rows are assigned once more to the final centroids).
    value : float, optional
        The threshold or tolerance of `stop`.
    max_iter : int, optional
        The iteration count or bound of `stop`.
    empty : {'keep', 'drop', 'raise', 'farthest'}, optional
        What happens to a centroid left without rows: it stays where it was, it is
        dropped, `ClusterError` is raised, or it takes the row farthest from its own
        centroid (scikit-learn's policy).
    sample_weight : ndarray, optional
        One weight per row, of the data's dtype: weighted means.
    workers : int, optional
        Threads (None: ``_core.default_workers()``). The result does not depend on it.
    callback : callable, optional
        Called as ``callback(iteration, rows_compared)`` after each iteration.

    Returns
    -------
    centroids : ndarray
        The code book after the last update, in the data's dtype.
    labels : ndarray
        Each row's label (int32) from the last assignment.
    n_iter : int
        Iterations run.
    empty_iterations : int
        Iterations after which some centroid had no rows.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq._engine import lloyd
    >>> x = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> c, labels, n_iter, _ = lloyd(x, x[[0, 2]], stop="center_shift", max_iter=10)
    >>> c.tolist(), labels.tolist(), n_iter
    ([[0.5], [10.5]], [0, 0, 1, 1], 2)
    """
    return _core.lloyd(
        data,
        init,
        stop,
        float(value),
        int(max_iter),
        empty,
        sample_weight,
        workers,
        callback,
    )


def plusplus(data, k, first, uniforms, *, sample_weight=None, workers=None):
    """k-means++ seeding from given draws.

    Parameters
    ----------
    data : ndarray
        ``n x d`` float32 or float64 rows, C-contiguous.
    k : int
        Number of centroids.
    first : int
        The row of the first centroid.
    uniforms : ndarray
        ``k - 1`` float64 draws in [0, 1): each further centroid is the first row whose
        cumulative probability ``w * D2 / sum(w * D2)`` reaches the next draw.
    sample_weight : ndarray, optional
        One weight per row, of the data's dtype.
    workers : int, optional
        Threads, as for `lloyd`.

    Returns
    -------
    centroids : ndarray
        ``k x d`` float64 centroids.
    indices : ndarray
        The row of each centroid.
    degenerate_steps : int
        Steps at which every weighted squared distance was zero (the pick was row 0).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq._engine import plusplus
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> plusplus(x, 2, 0, np.array([0.5]))[1].tolist()
    [0, 2]
    """
    return _core.kmeans_plusplus(data, int(k), int(first), uniforms, sample_weight, workers)
