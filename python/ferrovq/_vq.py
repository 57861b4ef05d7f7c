"""The public API: SciPy's ``scipy.cluster.vq`` signatures, validation, dtype rules,
warnings and random state, with the arithmetic done by the Rust core (``ferrovq._core``).

Every random draw is made here, from the caller's numpy generator, with the same calls in
the same order as SciPy 1.17 makes them; the core only does arithmetic over the data.
"""

from __future__ import annotations

import warnings

import numpy as np

from ferrovq import _core, _engine
from ferrovq._core import ClusterError
from ferrovq._random import check_random_state, rng_keywords
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
    Normalize a group of observations on a per feature basis.

    Each feature (column) is divided by its standard deviation across all observations,
    to give it unit variance. Columns whose standard deviation is zero are left as they
    are, with a warning.

    Parameters
    ----------
    obs : ndarray
        Each row of the array is an observation. The columns are the features seen
        during each observation.
    check_finite : bool, optional
        Whether to check that the input contains only finite numbers. Disabling may give
        a performance gain, but may result in problems (crashes, non-termination) if the
        input does contain infinities or NaNs. Default: True.
    workers : int, optional
        Number of threads. None (default): a threadpoolctl limit if set, else
        ``RAYON_NUM_THREADS``, else ``OMP_NUM_THREADS``, else all cores; -1 means all
        cores. The result does not depend on it.

    Returns
    -------
    result : ndarray
        Contains the values in `obs` scaled by the standard deviation of each column.

    Raises
    ------
    ValueError
        If `check_finite` and `obs` contains NaN or infinity.

    Warns
    -----
    RuntimeWarning
        If `check_finite` and some column has standard deviation zero.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import whiten
    >>> features  = np.array([[1.9, 2.3, 1.7],
    ...                       [1.5, 2.5, 2.2],
    ...                       [0.8, 0.6, 1.7,]])
    >>> whiten(features)
    array([[4.17944278, 2.69811351, 7.21248917],
           [3.29956009, 2.93273208, 9.33380951],
           [1.75976538, 0.7038557 , 7.21248917]])
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
    Assign codes from a code book to observations.

    Each observation vector in the 'M' by 'N' `obs` array is compared with the centroids
    in the code book and assigned the code of the closest centroid (the lowest code on a
    tie).

    Parameters
    ----------
    obs : ndarray
        Each row of the 'M' x 'N' array is an observation. The columns are the
        "features" seen during each observation. The features must be whitened first
        using the whiten function or something equivalent.
    code_book : ndarray
        The code book is usually generated using the k-means algorithm. Each row of the
        array holds a different code, and the columns are the features of the code.
    check_finite : bool, optional
        Whether to check that the input matrices contain only finite numbers. Disabling
        may give a performance gain, but may result in problems if the inputs do contain
        infinities or NaNs (here: a row whose distances are all NaN gets code 0 and an
        infinite distance). Default: True.
    workers : int, optional
        Number of threads. None (default): a threadpoolctl limit if set, else
        ``RAYON_NUM_THREADS``, else ``OMP_NUM_THREADS``, else all cores; -1 means all
        cores. The result does not depend on it.

    Returns
    -------
    code : ndarray
        A length M array (int32) holding the code book index for each observation.
    dist : ndarray
        The distortion (distance) between the observation and its nearest code, in the
        result type of `obs` and `code_book` (float32 stays float32).

    Raises
    ------
    ValueError
        For non-finite input when `check_finite`, ranks that differ or are not 1 or 2,
        feature counts that differ, or an empty code book.
    TypeError
        For float types other than float16, float32 and float64.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import vq
    >>> code_book = np.array([[1., 1., 1.],
    ...                       [2., 2., 2.]])
    >>> features  = np.array([[1.9, 2.3, 1.7],
    ...                       [1.5, 2.5, 2.2],
    ...                       [0.8, 0.6, 1.7]])
    >>> vq(features, code_book)
    (array([1, 1, 0], dtype=int32), array([0.43588989, 0.73484692, 0.83066239]))
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
    Assign codes from a code book to observations, for any real input type.

    SciPy's fallback of `vq` for inputs that are not floating point: distances are
    computed in float64 and the codes are the platform's default integer type.

    Parameters
    ----------
    obs : ndarray
        Expects a rank 2 array. Each row is one observation.
    code_book : ndarray
        Code book to use. Same format than obs. Should have same number of features
        (e.g., columns) than obs.
    check_finite : bool, optional
        Whether to check that the input matrices contain only finite numbers.
        Default: True.
    workers : int, optional
        Number of threads, as for `vq`.

    Returns
    -------
    code : ndarray
        code[i] gives the label of the ith observation; its code is code_book[code[i]].
    min_dist : ndarray
        min_dist[i] gives the distance between the ith observation and its corresponding
        code.

    Raises
    ------
    ValueError
        For non-finite input when `check_finite`, ranks that differ, arrays that are not
        2-D after 1-D input is made a column, feature counts that differ, complex input,
        or an empty code book.
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
    Performs k-means on a set of observation vectors forming k clusters.

    The k-means algorithm adjusts the classification of the observations into clusters
    and updates the cluster centroids until the position of the centroids is stable over
    successive iterations: here, until the change in the mean Euclidean distance between
    the observations and their centroids is at most `thresh`.

    Parameters
    ----------
    obs : ndarray
        Each row of the M by N array is an observation vector. The columns are the
        features seen during each observation. The features must be whitened first with
        the `whiten` function.
    k_or_guess : int or ndarray
        The number of centroids to generate, or a k by N array of initial centroids. The
        initial k centroids are chosen by randomly selecting observations from the
        observation matrix.
    iter : int, optional
        The number of times to run k-means, returning the codebook with the lowest
        distortion. Ignored if initial centroids are given with an array for
        `k_or_guess`. This is not the number of iterations of the k-means algorithm.
    thresh : float, optional
        Terminates the k-means algorithm if the change in distortion since the last
        k-means iteration is less than or equal to threshold.
    check_finite : bool, optional
        Whether to check that the input matrices contain only finite numbers.
        Default: True.
    rng : {None, int, `numpy.random.Generator`}, optional
        Passed to `numpy.random.default_rng`, as in SciPy. If neither `rng` nor the
        legacy keyword `seed` is given, numpy's global RandomState is used (so
        ``np.random.seed`` makes a run reproducible); `seed` accepts None, an int, a
        RandomState or a Generator, as SciPy's ``check_random_state``.
    workers : int, optional
        Number of threads. None (default): a threadpoolctl limit if set, else
        ``RAYON_NUM_THREADS``, else ``OMP_NUM_THREADS``, else all cores; -1 means all
        cores. The result does not depend on it.
    callback : callable, optional
        Called as ``callback(iteration, rows_compared)`` after each Lloyd iteration
        (numbered from 1 within each of the `iter` runs), with the number of observations
        that were compared with other centroids than their own (the others were settled
        by distance bounds). An exception it raises stops the run and propagates. Not in SciPy.

    Returns
    -------
    codebook : ndarray
        A k by N array of k centroids; centroids that lost all their observations are
        removed, so there may be fewer than k.
    distortion : float
        The mean (non-squared) Euclidean distance between the observations passed and the
        centroids generated.

    Raises
    ------
    ValueError
        For non-finite input when `check_finite`, `iter` < 1, an empty guess, a
        non-integer or non-positive k, or k larger than the number of observations.
    TypeError
        If both `rng` and `seed` are given.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import kmeans, whiten
    >>> features = np.array([[1.9, 2.3], [1.5, 2.5], [0.8, 0.6], [0.4, 1.8],
    ...                      [0.1, 0.1], [0.2, 1.8], [2.0, 0.5], [0.3, 1.5],
    ...                      [1.0, 1.0]])
    >>> whitened = whiten(features)
    >>> book = np.array((whitened[0], whitened[2]))
    >>> codebook, distortion = kmeans(whitened, book)
    >>> codebook.shape
    (2, 2)
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
    if isinstance(rng, np.random.Generator):
        first = rng.integers(n, dtype="int64")
    else:
        first = rng.randint(n, dtype="int64")
    uniforms = rng.uniform(size=n_codes - 1) if n_codes > 1 else np.empty(0)
    x2 = native(data, data.dtype).reshape(n, dims)
    init, _, degenerate = _engine.plusplus(
        x2, n_codes, first, uniforms, workers=workers_of(workers)
    )
    for _ in range(degenerate):
        np.divide(np.zeros(1), 0.0)  # numpy's own warning (or error) for 0/0, as in SciPy
    return init[:, 0] if data.ndim == 1 else init


_valid_init_meth = {"random": _krandinit, "points": _kpoints, "++": _kpp}
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
    Classify a set of observations into k clusters using the k-means algorithm.

    Runs exactly `iter` Lloyd iterations from initial centroids chosen by `minit`.

    Parameters
    ----------
    data : ndarray
        A 'M' by 'N' array of 'M' observations in 'N' dimensions or a length 'M' array
        of 'M' 1-D observations.
    k : int or ndarray
        The number of clusters to form as well as the number of centroids to generate.
        If `minit` is 'matrix', or if an ndarray is given instead, it is interpreted as
        the initial clusters to use.
    iter : int, optional
        Number of iterations of the k-means algorithm to run. Note that this differs in
        meaning from the iters parameter to the kmeans function.
    thresh : float, optional
        (not used yet)
    minit : str, optional
        Method for initialization: 'random' (k samples of a Gaussian with the data's mean
        and covariance), 'points' (k distinct rows at random), '++' (k-means++ careful
        seeding) or 'matrix' (`k` is the initial code book).
    missing : str, optional
        What to do with a cluster that ends up empty: 'warn' (warn and keep its previous
        centroid) or 'raise' (raise `ClusterError`).
    check_finite : bool, optional
        Whether to check that the input matrices contain only finite numbers.
        Default: True.
    rng : {None, int, `numpy.random.Generator`}, optional
        Passed to `numpy.random.default_rng`, as in SciPy. If neither `rng` nor the
        legacy keyword `seed` is given, numpy's global RandomState is used; `seed`
        accepts None, an int, a RandomState or a Generator.
    workers : int, optional
        Number of threads. None (default): a threadpoolctl limit if set, else
        ``RAYON_NUM_THREADS``, else ``OMP_NUM_THREADS``, else all cores; -1 means all
        cores. The result does not depend on it.
    callback : callable, optional
        Called as ``callback(iteration, rows_compared)`` after each Lloyd iteration (numbered
        from 1), with the number of observations that were compared with other centroids
        than their own (the others were settled by distance bounds). An exception it raises stops
        the run and propagates. Not in SciPy.

    Returns
    -------
    centroid : ndarray
        A 'k' by 'N' array of centroids found at the last iteration of k-means.
    label : ndarray
        label[i] (int32) is the code or index of the centroid the ith observation is
        closest to, from the last assignment.

    Raises
    ------
    ValueError
        For `iter` < 1, an unknown `minit` or `missing`, input of rank > 2, empty input,
        a `k` array that does not match the data, k < 1, or non-finite input when
        `check_finite`.
    ClusterError
        If a cluster becomes empty and ``missing='raise'``.
    numpy.linalg.LinAlgError
        For ``minit='random'`` when the data's covariance matrix is singular.

    Warns
    -----
    UserWarning
        Once per iteration that leaves a cluster empty, with ``missing='warn'``; and if
        `k` is not an integer.

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
