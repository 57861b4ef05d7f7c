"""scikit-learn's ``KMeans``, ``k_means`` and ``kmeans_plusplus``.

The rules are scikit-learn 1.9's, and every random number is drawn from the same numpy
stream in the same order, so the same ``random_state`` gives scikit-learn's result; the
distance work runs in Rust. Needs the ``ferrovq[sklearn]`` extra.
"""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_array

from ferrovq._sklearn._base import (
    _BaseKMeans,
    _centred,
    _dask_kmeans,
    _greedy_plusplus,
    _is_dask,
    _is_same_clustering,
    _row_weights,
    _tolerance,
    _weights_or_none,
)
from ferrovq._sklearn._compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    is_array_like_not_scalar,
    validate_params,
)

__all__ = ["KMeans", "k_means", "kmeans_plusplus"]


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "x_squared_norms": ["array-like", None],
        "random_state": ["random_state"],
        "n_local_trials": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def kmeans_plusplus(
    X,
    n_clusters,
    *,
    sample_weight=None,
    x_squared_norms=None,
    random_state=None,
    n_local_trials=None,
):
    """Initial centres by greedy k-means++, as ``sklearn.cluster.kmeans_plusplus``.

    The same arguments, checks and random draws as scikit-learn's; the distances are
    computed exactly in Rust (so `x_squared_norms` is checked but not needed).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The rows the centres are picked from.
    n_clusters : int
        How many centres to pick.
    sample_weight : array-like of shape (n_samples,), default=None
        Each row's weight in the draws (None: all rows count the same).
    x_squared_norms : array-like of shape (n_samples,), default=None
        Accepted for scikit-learn's signature; ferrovq computes distances directly, so
        only the length is checked.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the draws, read as scikit-learn reads it.
    n_local_trials : int, default=None
        Candidates drawn for each centre after the first (None: ``2 + int(log(k))``); the
        one that lowers the potential most is kept.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The initial centres, in the data's dtype.
    indices : ndarray of shape (n_clusters,)
        The row of each centre in `X`.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import kmeans_plusplus
    >>> X = np.array([[0.0, 0.0], [0.5, 0.0], [20.0, 20.0], [20.5, 20.0]])
    >>> centers, indices = kmeans_plusplus(X, n_clusters=2, random_state=3)
    >>> sorted(int(i) // 2 for i in indices)  # one centre from each pair of rows
    [0, 1]
    """
    data = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")
    sample_weight = _check_sample_weight(sample_weight, data, dtype=data.dtype)
    if data.shape[0] < n_clusters:
        raise ValueError(f"n_samples={data.shape[0]} should be >= n_clusters={n_clusters}.")
    if x_squared_norms is not None:
        x_squared_norms = check_array(x_squared_norms, dtype=data.dtype, ensure_2d=False)
        if x_squared_norms.shape[0] != data.shape[0]:
            raise ValueError(
                f"The length of x_squared_norms {x_squared_norms.shape[0]} should "
                f"be equal to the length of n_samples {data.shape[0]}."
            )
    random_state = check_random_state(random_state)
    indices = _greedy_plusplus(data, n_clusters, sample_weight, random_state, n_local_trials)
    if sp.issparse(X):
        return X[indices].toarray(), indices
    return np.asarray(X)[indices], indices


class KMeans(_BaseKMeans):
    """K-Means clustering, a drop-in for ``sklearn.cluster.KMeans``.

    The parameters, defaults, attributes, methods, warnings and exceptions of
    scikit-learn 1.9's ``KMeans``; for the same `random_state`, its labels and `n_iter_`,
    and its centres and inertia to rounding (except where a rounding tie decides). The
    seeding, Lloyd iterations (exact, pruned by distance bounds), prediction and
    transform run in Rust, in parallel, with the GIL released.

    A dask array (extra ``ferrovq[dask]``) is clustered block by block on its scheduler
    with the same rules, never gathered: 'k-means++' then seeds by k-means|| (as dask-ml
    does), `sample_weight` is not supported, and `labels_`, `predict` and `transform` are
    lazy dask arrays.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters.
    init : {'k-means++', 'k-means||', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Greedy k-means++; k-means|| (ferrovq only: a few passes over the data instead
        of one per centre, for large `n_clusters`; dense data); `n_clusters` rows drawn at
        random (weighted); a callable ``init(X, n_clusters, random_state=...)``
        returning the centres; or the centres.
    n_init : 'auto' or int, default='auto'
        Runs from different seeds; the one with the lowest inertia is kept. 'auto': 1
        for 'k-means++', 'k-means||' and arrays, 10 for 'random' and callables.
    max_iter : int, default=300
        The most Lloyd iterations of one run.
    tol : float, default=1e-4
        Convergence when the summed squared move of the centres is at most `tol` times
        the mean per-feature variance of the data.
    verbose : int, default=0
        Print scikit-learn's progress lines.
    random_state : int, RandomState instance or None, default=None
        The random number generator of the seeding.
    copy_x : bool, default=True
        Whether to centre a copy of the data (False: centre it in place and restore it).
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        Both run ferrovq's exact pruned Lloyd iterations, with the same result.
    workers : int, default=None
        Threads (None: a threadpoolctl limit, else ``RAYON_NUM_THREADS``, else
        ``OMP_NUM_THREADS``, else every core). The result does not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres, in the data's dtype.
    labels_ : ndarray of shape (n_samples,)
        Each training row's cluster (int32), against the final centres.
    inertia_ : float
        Sum of the (weighted) squared distances of the rows to their centre.
    n_iter_ : int
        Iterations of the kept run.
    n_features_in_ : int
        How many columns `fit` was given.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        The column names of the frame `fit` was given, when every name is a string.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import KMeans
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [9.0, 9.0], [9.0, 8.0]])
    >>> model = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> model.labels_[:3].tolist() != model.labels_[3:].tolist()
    True
    >>> model.cluster_centers_[model.predict([[8.0, 9.5]])]
    array([[9. , 8.5]])
    >>> round(model.inertia_, 3)
    1.833
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseKMeans._parameter_constraints,
        "init": [StrOptions({"k-means++", "k-means||", "random"}), callable, "array-like"],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        workers=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.workers = workers

    def _check_params_vs_input(self, X):
        super()._check_params_vs_input(X, default_n_init=10)
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single "
                "cluster. Using 'lloyd' instead.",
                RuntimeWarning,
                stacklevel=3,
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Cluster the rows of `X`; the result is kept on the estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows (converted to C order; a sparse matrix to CSR).
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            The weight of each row (None: all equal); not used by a callable or array
            `init`.

        Returns
        -------
        self : KMeans
            The fitted estimator.
        """
        if _is_dask(X):
            return _dask_kmeans().fit(self, X, sample_weight)
        X = self._validated_rows(X)
        self._check_params_vs_input(X)
        random_state = check_random_state(self.random_state)
        sample_weight = _row_weights(sample_weight, X)
        weights = _weights_or_none(sample_weight)
        init = self._checked_init(X)
        init_is_array_like = is_array_like_not_scalar(init)
        dense = not sp.issparse(X)
        X_mean = None
        if dense:
            X, X_mean, variances = _centred(X, self.copy_x, callable(init), self.workers)
            if init_is_array_like and X_mean is not None:
                init -= X_mean
        else:
            variances = mean_variance_axis(X, axis=0)[1] if self.tol != 0 else None
        self._tol = _tolerance(variances, self.tol)
        best = None
        for _ in range(self._n_init):
            centers = self._init_centroids(X, None, init, random_state, sample_weight)
            if self.verbose:
                print("Initialization complete")
            run = self._lloyd(X, centers, weights, self._tol)
            if best is None or (
                run[2] < best[2] and not _is_same_clustering(run[1], best[1], self.n_clusters)
            ):
                best = run
        centers, labels, inertia, n_iter = best
        if X_mean is not None:
            if not self.copy_x:
                X += X_mean
            centers += X_mean
        distinct_clusters = np.count_nonzero(np.bincount(labels, minlength=self.n_clusters))
        if distinct_clusters < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct_clusters}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.cluster_centers_ = centers
        self._n_features_out = centers.shape[0]
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        return self


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "sample_weight": ["array-like", None],
        "return_n_iter": [bool],
    },
    prefer_skip_nested_validation=False,
)
def k_means(
    X,
    n_clusters,
    *,
    sample_weight=None,
    init="k-means++",
    n_init="auto",
    max_iter=300,
    verbose=False,
    tol=1e-4,
    random_state=None,
    copy_x=True,
    algorithm="lloyd",
    return_n_iter=False,
):
    """k-means as a function, a drop-in for ``sklearn.cluster.k_means``: fits a
    :class:`KMeans` with these parameters and returns what it found.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The rows to cluster.
    n_clusters : int
        How many clusters to find.
    sample_weight : array-like of shape (n_samples,), default=None
        Each row's weight (None: all rows count the same).
    init, n_init, max_iter, verbose, tol, random_state, copy_x, algorithm
        As for :class:`KMeans`, with the same defaults.
    return_n_iter : bool, default=False
        Also return the number of iterations of the kept run.

    Returns
    -------
    centroid : ndarray of shape (n_clusters, n_features)
        The centres found.
    label : ndarray of shape (n_samples,)
        Each row's cluster (int32).
    inertia : float
        The (weighted) sum of the rows' squared distances to their centres.
    best_n_iter : int
        The iterations of the kept run; only with ``return_n_iter=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import k_means
    >>> X = np.array([[0.0, 0.0], [0.0, 2.0], [8.0, 8.0], [8.0, 10.0]])
    >>> centres, labels, inertia = k_means(X, 2, random_state=0)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3]), float(inertia)
    (True, 4.0)
    """
    model = KMeans(
        n_clusters=n_clusters,
        init=init,
        n_init=n_init,
        max_iter=max_iter,
        verbose=verbose,
        tol=tol,
        random_state=random_state,
        copy_x=copy_x,
        algorithm=algorithm,
    ).fit(X, sample_weight=sample_weight)
    found = (model.cluster_centers_, model.labels_, model.inertia_)
    return (*found, model.n_iter_) if return_n_iter else found


KMeans.__module__ = "ferrovq"
k_means.__module__ = "ferrovq"
kmeans_plusplus.__module__ = "ferrovq"
