"""The public API: SciPy's ``scipy.cluster.vq`` signatures, validation, dtype rules,
warnings and random state, with the arithmetic done by the Rust core (``ferrovq._core``).

Every random draw is made here, from the caller's numpy generator, with the same calls in
the same order as SciPy 1.17 makes them; the core only does arithmetic over the data.
"""

from __future__ import annotations

import warnings

import numpy as np

from ferrovq import _core, _engine, _kmeans_parallel
from ferrovq._core import ClusterError
from ferrovq._random import check_random_state, first_row, rng_keywords
from ferrovq._validation import (
    FLOATS,
    as_matrices,
    asarray,
    compute_dtype,
    float_data,
    native,
    workers_of,
)

__all__ = ["ClusterError", "kmeans", "kmeans2", "py_vq", "vq", "whiten"]

# SciPy's message for an empty cluster: the warning of missing='warn' and the ClusterError
# of missing='raise'.
_EMPTY_CLUSTER = "One of the clusters is empty. Re-run kmeans with a different initialization."


# --------------------------------------------------------------------------------------
# whiten, vq, py_vq
# --------------------------------------------------------------------------------------


def whiten(obs, check_finite=None, *, workers=None):
    """
    Scale every column of `obs` to unit standard deviation.

    Run it before `kmeans` or `kmeans2` when the features are on different scales, so
    that no feature dominates the distances. The deviation is the population one
    (``ddof=0``), taken over all rows; a column that is constant keeps its values and
    causes a warning.

    Parameters
    ----------
    obs : array_like
        One observation per row, one feature per column (a 1-D array is one feature).
    check_finite : bool, optional
        Reject NaN and infinity with a ``ValueError`` (default: True). With False no
        check is made, and a non-finite value spreads into its whole column.
    workers : int, optional
        Threads to use. None (default) takes a threadpoolctl limit when one is set, then
        ``RAYON_NUM_THREADS``, then ``OMP_NUM_THREADS``, and otherwise every core; -1
        asks for every core. Any value gives the same result, bit for bit.

    Returns
    -------
    result : ndarray
        `obs` with each column divided by its standard deviation; same shape, and the
        same float type (integer input gives float64).

    Raises
    ------
    ValueError
        If `check_finite` and `obs` holds NaN or infinity.

    Warns
    -----
    RuntimeWarning
        If `check_finite` and a column's standard deviation is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import whiten
    >>> heights_weights = np.array([[170.0, 60.0], [180.0, 80.0], [160.0, 70.0]])
    >>> scaled = whiten(heights_weights)
    >>> scaled.std(axis=0)
    array([1., 1.])
    """
    if check_finite is None:
        check_finite = True
    obs = asarray(obs, check_finite)
    fast = obs.ndim in (1, 2) and obs.size > 0 and (obs.dtype in FLOATS or obs.dtype.kind in "biu")
    if fast:
        dtype = obs.dtype if obs.dtype in FLOATS else np.float64
        x = native(obs, dtype)
        result, zero = _core.whiten(x.reshape(x.shape[0], -1), workers_of(workers))
        result = result.reshape(obs.shape)
        any_zero = bool(zero.any())
    else:
        # float16, complex, 3-D or empty input: numpy's own formula, as SciPy.
        std_dev = np.std(obs, axis=0)
        zero_std_mask = std_dev == 0
        std_dev[zero_std_mask] = 1.0
        result = obs / std_dev
        any_zero = bool(np.any(zero_std_mask))
    if check_finite and any_zero:
        warnings.warn(
            "Some columns have standard deviation zero. "
            "The values of these columns will not change.",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def vq(obs, code_book, check_finite=True, *, workers=None):
    """
    Give each row of `obs` the index of its nearest code in `code_book`.

    Nearest means smallest Euclidean distance, computed exactly (a tie goes to the
    lower index). This is the assignment step of k-means on its own: use it to label new
    data with a code book found earlier.

    Parameters
    ----------
    obs : array_like
        Observations, one per row (M x N), or M values of one feature (1-D). Whiten them
        as the code book's data was, if it was.
    code_book : array_like
        The codes, one per row (K x N), or K values (1-D), usually the centroids that
        `kmeans` or `kmeans2` returned.
    check_finite : bool, optional
        Reject NaN and infinity with a ``ValueError`` (default: True). Turning it off
        saves one read of the input; see the notes on non-finite values below.
    workers : int, optional
        Threads to use. None (default) takes a threadpoolctl limit when one is set, then
        ``RAYON_NUM_THREADS``, then ``OMP_NUM_THREADS``, and otherwise every core; -1
        asks for every core. Any value gives the same result, bit for bit.

    Returns
    -------
    code : ndarray
        int32 array of length M: the index into `code_book` of each row's nearest code.
    dist : ndarray
        Each row's Euclidean distance to that code, in the common float type of the
        two inputs (float32 with float32 stays float32).

    Raises
    ------
    ValueError
        If `check_finite` and an input holds NaN or infinity; if the inputs' ranks differ
        or are not 1 or 2; if their feature counts differ; if `code_book` is empty.
    TypeError
        For a float type other than float16, float32 and float64.

    Notes
    -----
    With ``check_finite=False``, a row whose distances are all NaN or all infinite gets
    code 0 and an infinite distance.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import vq
    >>> corners = np.array([[0.0, 0.0], [10.0, 10.0]])
    >>> points = np.array([[1.0, 2.0], [9.0, 7.0], [4.0, 3.0]])
    >>> codes, dist = vq(points, corners)
    >>> codes
    array([0, 1, 0], dtype=int32)
    >>> dist.round(3)
    array([2.236, 3.162, 5.   ])
    """
    obs = np.asarray(obs)
    # SciPy checks obs first. A contiguous float32/float64 obs is checked by the core
    # instead, chunk by chunk as it labels the rows (one pass over the data, not two);
    # if anything else is wrong first, obs is checked here before that error is raised.
    defer = bool(check_finite) and obs.dtype in FLOATS and obs.flags.c_contiguous
    if not defer:
        obs = asarray(obs, check_finite)
    try:
        code_book = asarray(code_book, check_finite)
        ct = np.result_type(obs, code_book)
        if ct in FLOATS:
            o, c = as_matrices(obs, code_book)
            return _core.vq(native(o, ct), native(c, ct), workers_of(workers), defer)
    except Exception:
        if defer:
            asarray(obs, True)
        raise
    if defer:
        obs = asarray(obs, True)
    if ct.kind != "f":
        return py_vq(obs, code_book, check_finite=False, workers=workers)
    if ct == np.float16:
        # SciPy has no float16 kernel; compare in float32 and report in float16.
        codes, dist = vq(
            obs.astype(np.float32), code_book.astype(np.float32), False, workers=workers
        )
        return codes, dist.astype(np.float16)
    raise TypeError("type other than float or double not supported")


def py_vq(obs, code_book, check_finite=True, *, workers=None):
    """
    `vq` for any real input type, computed in float64.

    SciPy keeps this variant for inputs without a float kernel (integers, booleans); its
    codes are the platform's default integer type rather than int32.

    Parameters
    ----------
    obs : array_like
        Observations, one per row (a 1-D array is one feature).
    code_book : array_like
        Codes with as many features as `obs`.
    check_finite : bool, optional
        Reject NaN and infinity with a ``ValueError`` (default: True). Turning it off
        saves one read of the input; see the notes on non-finite values below.
    workers : int, optional
        Threads to use. None (default) takes a threadpoolctl limit when one is set, then
        ``RAYON_NUM_THREADS``, then ``OMP_NUM_THREADS``, and otherwise every core; -1
        asks for every core. Any value gives the same result, bit for bit.

    Returns
    -------
    code : ndarray
        For each row, the index of its nearest code (``numpy.intp``).
    min_dist : ndarray
        For each row, the float64 distance to that code.

    Raises
    ------
    ValueError
        If `check_finite` and an input holds NaN or infinity; for ranks that differ,
        arrays that are not 2-D once 1-D input is made a column, feature counts that
        differ, complex input, or an empty code book.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import py_vq
    >>> codes, dist = py_vq(np.array([[0, 1], [7, 9]]), np.array([[0, 0], [8, 8]]))
    >>> codes.tolist(), dist.tolist()
    ([0, 1], [1.0, 1.4142135623730951])
    """
    obs = asarray(obs, check_finite)
    code_book = asarray(code_book, check_finite)
    if obs.ndim != code_book.ndim:
        raise ValueError("Observation and code_book should have the same rank")
    if obs.ndim == 1:
        obs = obs[:, np.newaxis]
        code_book = code_book[:, np.newaxis]
    if obs.ndim != 2:
        raise ValueError("XA must be a 2-dimensional array.")
    if obs.shape[1] != code_book.shape[1]:
        raise ValueError(
            "XA and XB must have the same number of columns (i.e. feature dimension.)"
        )
    for a in (obs, code_book):
        if a.dtype.kind == "c":
            raise ValueError(f"Unsupported dtype {a.dtype}")
    if code_book.shape[0] == 0:
        raise ValueError("attempt to get argmin of an empty sequence")
    codes, dist = _core.vq(
        native(obs, np.float64), native(code_book, np.float64), workers_of(workers)
    )
    return codes.astype(np.intp), dist


# --------------------------------------------------------------------------------------
# kmeans
# --------------------------------------------------------------------------------------


def _kmeans(obs, guess, thresh, workers, callback=None):
    """One k-means run from the code book `guess` (SciPy's ``_kmeans``)."""
    if not np.inf > thresh:
        # SciPy runs no iteration at all then and fails with a bare IndexError.
        raise IndexError(f"thresh must be finite (got {thresh}): no k-means iteration would run")
    o, g = as_matrices(obs, guess)
    data = float_data(o, "obs")
    ct = compute_dtype(data.dtype, g.dtype)
    book, dist, dist_is_f64 = _core.kmeans_single(
        native(data, data.dtype), native(g, ct), float(thresh), workers_of(workers), callback
    )
    if obs.ndim == 1:
        book = book[:, 0]
    return book, (np.float64 if dist_is_f64 else np.float32)(dist)


@rng_keywords
def kmeans(
    obs,
    k_or_guess,
    iter=20,
    thresh=1e-5,
    check_finite=True,
    *,
    rng=None,
    workers=None,
    callback=None,
):
    """
    Find `k` centroids by k-means, keeping the best of several starts.

    Each start picks `k` distinct rows at random and runs Lloyd iterations until the
    mean distance of the rows to their centroids falls by no more than `thresh` in one
    iteration. A centroid left without rows is dropped, so fewer than `k` may come back.

    Parameters
    ----------
    obs : array_like
        Observations, one per row (a 1-D array is one feature). Whiten them first if
        the features have different scales.
    k_or_guess : int or array_like
        How many centroids to find, or the starting centroids themselves (one per row),
        in which case a single run starts from them and `iter` does not matter.
    iter : int, optional
        How many random starts to try (default 20); the centroids with the smallest
        mean distance win. It does not bound the number of Lloyd iterations.
    thresh : float, optional
        Stop a run once an iteration lowers the mean distance by at most this much
        (default 1e-5).
    check_finite : bool, optional
        Reject NaN and infinity with a ``ValueError`` (default: True). Turning it off
        saves one read of the input; see the notes on non-finite values below.
    rng : {None, int, numpy.random.Generator}, optional
        Source of the random draws, turned into a Generator by
        `numpy.random.default_rng`. Left out (and `seed` too), numpy's global
        RandomState is used, so ``np.random.seed`` makes a run repeatable. The older
        keyword `seed` takes None, an int, a RandomState or a Generator. The draws are
        SciPy's, in SciPy's order: the same state gives SciPy's answer.
    workers : int, optional
        Threads to use. None (default) takes a threadpoolctl limit when one is set, then
        ``RAYON_NUM_THREADS``, then ``OMP_NUM_THREADS``, and otherwise every core; -1
        asks for every core. Any value gives the same result, bit for bit.
    callback : callable, optional
        ferrovq only: ``callback(iteration, rows_compared)`` after every Lloyd
        iteration, where `rows_compared` counts the rows that distance bounds could not
        settle and that were compared with other centroids. Raising in it stops the run
        and the exception reaches the caller.

    Returns
    -------
    codebook : ndarray
        The centroids, one per row.
    distortion : float
        The mean Euclidean distance (not squared) from each row to its nearest
        centroid.

    Raises
    ------
    ValueError
        If `check_finite` and an input holds NaN or infinity; if `iter` < 1; for an
        empty `k_or_guess`, a `k` that is not a positive integer, or more centroids than
        rows.
    TypeError
        If both `rng` and `seed` are given.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import kmeans
    >>> rng = np.random.default_rng(7)
    >>> left = rng.normal(-4.0, 0.5, size=(30, 2))
    >>> right = rng.normal(4.0, 0.5, size=(30, 2))
    >>> codebook, distortion = kmeans(np.vstack([left, right]), 2, rng=7)
    >>> np.sort(codebook[:, 0]).round()
    array([-4.,  4.])
    """
    obs = asarray(obs, check_finite)
    guess = asarray(k_or_guess, check_finite)
    if iter < 1:
        raise ValueError(f"iter must be at least 1, got {iter}")
    if guess.size != 1:
        if guess.size < 1:
            raise ValueError(f"Asked for 0 clusters. Initial book was {guess}")
        return _kmeans(obs, guess, thresh, workers, callback)
    k = int(guess)
    if k != guess:
        raise ValueError("If k_or_guess is a scalar, it must be an integer.")
    if k < 1:
        raise ValueError(f"Asked for {k} clusters.")
    rng = check_random_state(rng)
    best_book, best_dist = None, np.inf
    for _ in range(iter):
        guess = _kpoints(obs, k, rng)
        book, dist = _kmeans(obs, guess, thresh, workers, callback)
        if best_book is None or dist < best_dist:
            best_book, best_dist = book, dist
    return best_book, best_dist


# --------------------------------------------------------------------------------------
# kmeans2 and its initialisations
# --------------------------------------------------------------------------------------


def _kpoints(data, k, rng, workers=None):
    """k distinct rows of `data` chosen at random (SciPy's ``_kpoints``)."""
    idx = rng.choice(data.shape[0], size=int(k), replace=False)
    return np.take(data, np.asarray(idx, dtype=np.asarray([1]).dtype), axis=0)


def _krandinit(data, k, rng, workers=None):
    """k samples of a Gaussian with the data's mean and covariance (SciPy's
    ``_krandinit``): the normal draws are numpy's, the arithmetic Rust's, except for
    data with more features than observations, where SciPy's SVD (LAPACK) is kept so the
    signs of the singular vectors, and hence the centroids, are SciPy's."""
    k = np.asarray(k)
    if data.ndim == 1:
        if data.shape[0] < 2:
            _cov_warnings()
        z = rng.standard_normal(size=k)
        return _core.gaussian_init_1d(
            native(data, data.dtype)[:, None], native(np.reshape(z, -1), np.float64)
        )
    if data.shape[1] > data.shape[0]:
        mu = np.mean(data, axis=0)
        _, s, vh = np.linalg.svd(data - mu, full_matrices=False)
        x = rng.standard_normal(size=(k, s.size))
        s_vh = s[:, None] * vh / np.sqrt(data.shape[0] - np.asarray(1.0))
        x = x @ s_vh
        x += mu
        return x
    if data.shape[0] < 2:
        _cov_warnings()
    z = rng.standard_normal(size=(k, data.shape[1]))
    x = native(data, data.dtype)
    return _core.gaussian_init(x, native(z, np.float64), workers_of(workers))


def _cov_warnings():
    """The warnings numpy's ``cov`` gives for a single observation."""
    warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=4)
    scale = np.divide(np.ones(1), 0.0)  # numpy's own warnings, under the caller's errstate
    np.multiply(np.zeros(1), scale)


def _kpp(data, k, rng, workers=None):
    """k-means++ seeding (SciPy's ``_kpp``): the first row from ``rng_integers``, then one
    ``uniform()`` per further centroid, picked against the data in Rust in O(n·k·d)."""
    n = data.shape[0]
    dims = 1 if data.ndim == 1 else data.shape[1]
    n_codes = len(range(k))  # SciPy's own conversion of k (a TypeError for a non-integer)
    np.empty((n_codes, dims))  # fails as SciPy's does for an absurd k, before any work
    first = first_row(n, rng)
    uniforms = rng.uniform(size=n_codes - 1) if n_codes > 1 else np.empty(0)
    x2 = native(data, data.dtype).reshape(n, dims)
    init, _, degenerate = _engine.plusplus(
        x2, n_codes, first, uniforms, workers=workers_of(workers)
    )
    for _ in range(degenerate):
        np.divide(np.zeros(1), 0.0)  # numpy's own warning (or error) for 0/0, as in SciPy
    return init[:, 0] if data.ndim == 1 else init


def _kparallel(data, k, rng, workers=None):
    """k-means|| seeding (ferrovq's, also ``ferrovq.dask``'s default): a few passes over
    the data instead of one per centroid; see ``ferrovq._kmeans_parallel``."""
    n = data.shape[0]
    n_codes = len(range(k))
    if n_codes > n:
        raise ValueError(f"Cannot take a larger sample than population when k={n_codes} > n={n}")
    x2 = native(data, data.dtype).reshape(n, -1)
    workers = workers_of(workers)
    rows = _kmeans_parallel.InMemory(x2, workers=workers)
    codes = _kmeans_parallel.seeds(rows, n_codes, rng, workers=workers)
    return codes[:, 0] if data.ndim == 1 else codes


_valid_init_meth = {"random": _krandinit, "points": _kpoints, "++": _kpp, "k-means||": _kparallel}
_valid_miss_meth = ("warn", "raise")


@rng_keywords
def kmeans2(
    data,
    k,
    iter=10,
    thresh=1e-5,
    minit="random",
    missing="warn",
    check_finite=True,
    *,
    rng=None,
    workers=None,
    callback=None,
):
    """
    Run `iter` Lloyd iterations from centroids chosen by `minit`; return centroids and labels.

    Unlike `kmeans`, there is one start and no stopping rule: exactly `iter` rounds of
    assigning every row to its nearest centroid and moving each centroid to the mean of
    its rows.

    Parameters
    ----------
    data : array_like
        Observations, M rows of N features, or M values of one feature (1-D).
    k : int or array_like
        The number of clusters, or (when an array is given, or ``minit='matrix'``) the
        starting centroids, one per row.
    iter : int, optional
        The number of Lloyd iterations (default 10). `kmeans`'s `iter` counts starts
        instead.
    thresh : float, optional
        Accepted for SciPy's signature; it has no effect, as in SciPy.
    minit : {'random', 'points', '++', 'k-means||', 'matrix'}, optional
        How to start: 'random' draws `k` points from a Gaussian with the data's mean
        and covariance; 'points' picks `k` distinct rows; '++' is k-means++ (each new
        centroid a row drawn with probability proportional to its squared distance to
        the centroids so far); 'k-means||' (ferrovq only, not in SciPy) is k-means||,
        which draws many candidates per pass over the data and needs four passes where
        '++' needs `k`: the seeding to use for large `k` (the same as
        ``ferrovq.dask.kmeans2``'s); 'matrix' takes `k` as the centroids.
    missing : {'warn', 'raise'}, optional
        When an iteration leaves a cluster without rows: 'warn' (its centroid stays
        where it was) or 'raise' a `ClusterError`.
    check_finite : bool, optional
        Reject NaN and infinity with a ``ValueError`` (default: True). Turning it off
        saves one read of the input; see the notes on non-finite values below.
    rng : {None, int, numpy.random.Generator}, optional
        Source of the random draws, turned into a Generator by
        `numpy.random.default_rng`. Left out (and `seed` too), numpy's global
        RandomState is used, so ``np.random.seed`` makes a run repeatable. The older
        keyword `seed` takes None, an int, a RandomState or a Generator. The draws are
        SciPy's, in SciPy's order: the same state gives SciPy's answer.
    workers : int, optional
        Threads to use. None (default) takes a threadpoolctl limit when one is set, then
        ``RAYON_NUM_THREADS``, then ``OMP_NUM_THREADS``, and otherwise every core; -1
        asks for every core. Any value gives the same result, bit for bit.
    callback : callable, optional
        ferrovq only: ``callback(iteration, rows_compared)`` after every Lloyd
        iteration, where `rows_compared` counts the rows that distance bounds could not
        settle and that were compared with other centroids. Raising in it stops the run
        and the exception reaches the caller.

    Returns
    -------
    centroid : ndarray
        The centroids after the last iteration, one per row (k x N).
    label : ndarray
        int32 array of length M: for each row, the index of its nearest centroid in the
        last assignment.

    Raises
    ------
    ValueError
        If `iter` < 1; for an unknown `minit` or `missing`; for data of rank above 2 or
        empty data; for starting centroids that do not match the data's rank or width;
        for k < 1; if `check_finite` and an input holds NaN or infinity.
    ClusterError
        If a cluster loses all its rows and ``missing='raise'``.
    numpy.linalg.LinAlgError
        With ``minit='random'``, if the data's covariance matrix is singular.

    Warns
    -----
    UserWarning
        With ``missing='warn'``, once for each iteration that leaves a cluster empty;
        also when `k` is not a whole number (it is truncated).

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import kmeans2
    >>> rng = np.random.default_rng(1)
    >>> z = np.concatenate([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    >>> centroids, labels = kmeans2(z, 2, minit='++', rng=1)
    >>> np.bincount(labels).tolist()
    [20, 20]
    """
    if int(iter) < 1:
        raise ValueError(f"Invalid iter ({iter}), must be a positive integer.")
    if missing not in _valid_miss_meth:
        raise ValueError(f"Unknown missing method {missing!r}")
    data = asarray(data, check_finite)
    code_book = np.array(k, copy=True)
    if data.ndim == 1:
        d = 1
    elif data.ndim == 2:
        d = data.shape[1]
    else:
        raise ValueError("Input of rank > 2 is not supported.")
    if data.size < 1 or code_book.size < 1:
        raise ValueError("Empty input is not supported.")
    data = float_data(data)
    if minit == "matrix" or code_book.size > 1:
        if data.ndim != code_book.ndim:
            raise ValueError("k array doesn't match data rank")
        nc = code_book.shape[0]
        if data.ndim > 1 and code_book.shape[1] != d:
            raise ValueError("k array doesn't match data dimension")
    else:
        nc = int(code_book)
        if nc < 1:
            raise ValueError(f"Cannot ask kmeans2 for {nc} clusters (k was {code_book})")
        elif nc != code_book:
            warnings.warn("k was not an integer, was converted.", stacklevel=3)
        try:
            init_meth = _valid_init_meth[minit]
        except KeyError as e:
            raise ValueError(f"Unknown init method {minit!r}") from e
        rng = check_random_state(rng)
        code_book = init_meth(data, code_book, rng, workers)
    code_book = asarray(code_book, check_finite)
    o, c = as_matrices(data, code_book)
    ct = compute_dtype(o.dtype, c.dtype)
    try:
        centroids, labels, empty_iterations = _core.kmeans2_lloyd(
            native(o, o.dtype),
            native(c, ct),
            int(iter),
            missing == "raise",
            workers_of(workers),
            callback,
        )
    except ClusterError:
        raise ClusterError(_EMPTY_CLUSTER) from None
    for _ in range(empty_iterations):
        warnings.warn(_EMPTY_CLUSTER, stacklevel=3)
    if data.ndim == 1:
        centroids = centroids[:, 0]
    return centroids, labels
