"""What ferrovq's scikit-learn estimators share, as scikit-learn's own k-means estimators
share ``_BaseKMeans``: seeding, one Lloyd run on the engine, checks of new data, and
``predict``, ``transform`` and ``score`` against the fitted centres.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ferrovq import _core, _kernels, _kmeans_parallel
from ferrovq._sklearn._compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    is_array_like_not_scalar,
)


def _greedy_plusplus(
    X, n_clusters, sample_weight, random_state, n_local_trials=None, workers=None
):
    """scikit-learn's ``_kmeans_plusplus`` on validated data, its draws in its order: the
    indices of the chosen rows."""
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    first = _weighted_choice(random_state, sample_weight / sample_weight.sum())
    uniforms = random_state.uniform(size=(n_clusters - 1) * n_local_trials)
    weights = _weights_or_none(sample_weight)
    return _kernels.greedy_plusplus(
        X, n_clusters, n_local_trials, first, uniforms, weights, workers
    ).astype(int)


def _numpy_accepts(p, size=1):
    """Whether numpy's ``choice`` surely takes `p` for `size` distinct rows: no NaN or
    negative value, a sum off 1 by clearly less than numpy's tolerance, and at least `size`
    rows of some weight."""
    atol = max(np.sqrt(np.finfo(np.float64).eps), np.sqrt(np.finfo(p.dtype).eps))
    total = p.sum(dtype=np.float64)
    return abs(total - 1.0) < atol - 1e-9 and p.min() >= 0 and np.count_nonzero(p) >= size


def _weighted_choice(random_state, p):
    """``random_state.choice(len(p), p=p)``: numpy's one draw and the index it gives for it,
    its passes over `p` in Rust (at a million rows 10 ms in numpy). Where numpy might refuse
    `p`, numpy's own call runs, for its error."""
    if not _numpy_accepts(p):
        return random_state.choice(len(p), p=p)
    return _core.weighted_picks(p, np.array([random_state.random_sample()]), [])[0]


def _weighted_sample(random_state, p, size):
    """``random_state.choice(len(p), size, replace=False, p=p)``: numpy's draws, in its
    order, and the distinct rows they give (a round of draws for the rows still missing, the
    rows drawn before given no weight, each new row kept once in the order first drawn), its
    passes over `p` in Rust (at 500,000 rows 17 ms in numpy, 3 here). Where numpy might
    refuse, numpy's own call runs, for its error."""
    if size > len(p) or not _numpy_accepts(p, size):
        return random_state.choice(len(p), size=size, replace=False, p=p)
    found = []
    while len(found) < size:
        drawn = _core.weighted_picks(p, random_state.random_sample(size - len(found)), found)
        found += dict.fromkeys(drawn)
    return np.array(found, dtype=np.int64)


def _searched(X):
    """Whether the rows `X` are to be searched for NaN and infinity in Rust: dense rows,
    unless scikit-learn's `assume_finite` is set (sparse rows are searched by
    scikit-learn's validation)."""
    return not sp.issparse(X) and not get_config()["assume_finite"]


_FLOAT_TYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _row_weights(sample_weight, X):
    """``_check_sample_weight(sample_weight, X, dtype=X.dtype)`` for validated rows `X`:
    without weights, ones of the rows' type made here (scikit-learn's checks of them cost
    10 us a call)."""
    if sample_weight is None and type(X) is np.ndarray:
        return np.ones(X.shape[0], dtype=X.dtype)
    return _check_sample_weight(sample_weight, X, dtype=X.dtype)


def _weights_or_none(sample_weight):
    """None for unit weights (the engine's unweighted sums are the same bits, and faster)."""
    return None if np.all(sample_weight == 1) else np.ascontiguousarray(sample_weight)


def _farthest_rows(dtype):
    """scikit-learn's choice of the rows that refill empty clusters: the last `n_empty` of
    numpy's ``argpartition`` of the rows' distances to their centres (in the data's dtype),
    farthest first. Among equally far rows the same ones move as in scikit-learn, in
    whatever order numpy's partition leaves them on this machine."""

    def choose(distances, n_empty):
        order = np.argpartition(distances.astype(dtype, copy=False), -n_empty)
        return order[: -n_empty - 1 : -1].tolist()

    return choose


def _centred(X, copy, always, workers):
    """Dense validated rows as the fit works on them, their column means if the fit
    subtracted them (else None), and the column variances they had (numpy's bits).

    scikit-learn always works on ``X - X.mean(axis=0)``, a copy unless `copy` is False
    (then `X` itself, restored by the caller). Distances do not change when every row and
    centre moves by the same vector, so ferrovq subtracts the means only where it gains
    something: when the data lie farther from the origin than they spread (``|mean|^2`` above
    the total variance, where the bounds of the engine's dot products would grow with the
    offset), or when `always` (a callable ``init`` is given the centred rows, as scikit-learn
    gives them). Elsewhere the fit adds no copy of the data.
    """
    if not copy and not X.flags.writeable:
        # scikit-learn subtracts in place, and numpy refuses a read-only array.
        raise ValueError("output array is read-only")
    mean, variances = _core.column_stats(X)
    offset = mean.astype(np.float64)
    if not always and offset @ offset <= variances.sum(dtype=np.float64):
        return X, None, variances
    if copy:
        X = X.copy()
    _core.centre(X, mean, workers)
    return X, mean, variances


def _tolerance(variances, tol):
    """scikit-learn's tolerance: `tol` times the mean of the data's column variances."""
    if tol == 0:
        return 0
    return np.mean(variances) * tol


def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether two labellings are the same up to a permutation of the labels."""
    pairs = np.unique(labels1.astype(np.int64) * n_clusters + labels2)
    return len(np.unique(pairs // n_clusters)) == len(pairs)


def _is_dask(X):
    """Whether `X` is a dask array (told without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "map_blocks")


def _dask_kmeans():
    """The dask-array methods (importing dask, the ``[dask]`` extra), on first use."""
    from ferrovq import _dask_kmeans

    return _dask_kmeans


def _common(X, centers):
    """`X` and `centers` in their common dtype (scikit-learn's Cython helpers would refuse
    a float64 model on float32 data or the reverse; here they are compared in float64)."""
    dtype = np.promote_types(X.dtype, centers.dtype)
    if sp.issparse(X):
        return X.astype(dtype, copy=False), centers.astype(dtype, copy=False)
    return np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(centers, dtype=dtype)


class _BaseKMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """The parts of a k-means estimator that do not depend on how it fits."""

    #: The parameters every estimator of the family has, with scikit-learn's constraints.
    _parameter_constraints: ClassVar[dict] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "workers": [Interval(Integral, 1, None, closed="left"), None],
    }

    def _validated_rows(self, X, copy=False, reset=True, search=True):
        """`X` as scikit-learn's k-means estimators take it for fitting: float32 or
        float64 in C order, or CSR with 32-bit indices. Dense rows are searched for NaN
        and infinity in Rust (in parallel where they are many), unless `search` is false
        (a caller whose kernel searches them as it reads them); a failure raises
        scikit-learn's error."""
        X = self._validated(X, check_finite=False, copy=copy, reset=reset)
        if search and _searched(X) and not _core.all_finite(X):
            self._refuse_bad_values(X)
        return X

    def _refuse_bad_values(self, X):
        """Raise scikit-learn's error for a NaN or infinity in `X` (none if there is
        none)."""
        assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _check_params_vs_input(self, X, default_n_init):
        """scikit-learn's checks of the parameters against the data: enough rows, and the
        number of runs (`n_init='auto'`: one for 'k-means++' and given centres, else
        `default_n_init`; given centres are run once, with a warning if asked for more)."""
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")
        if self.n_init == "auto":
            explicit = is_array_like_not_scalar(self.init) or (
                isinstance(self.init, str) and self.init in ("k-means++", "k-means||")
            )
            self._n_init = 1 if explicit else default_n_init
        else:
            self._n_init = self.n_init
        if is_array_like_not_scalar(self.init) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only"
                f" one init in {self.__class__.__name__} instead of "
                f"n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=4,
            )
            self._n_init = 1

    def _checked_init(self, X):
        """`init` as the fit uses it: given centres copied into the data's dtype and
        checked against the data's shape; a name or a callable as it is."""
        init = self.init
        if is_array_like_not_scalar(init):
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
        return init

    def _validate_center_shape(self, X, centers, n_centroids=None):
        n_centroids = self.n_clusters if n_centroids is None else n_centroids
        if centers.shape[0] != n_centroids:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of clusters {n_centroids}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of features of the data {X.shape[1]}."
            )

    def _check_test_data(self, X, check_finite=True):
        """`X` validated as scikit-learn's KMeans validates it; without `check_finite`, a
        dense `X` is not searched for NaN and infinity (the caller's pass over it checks),
        but any other complaint is scikit-learn's first."""
        return self._validated(X, check_finite, reset=False)

    def _validated(self, X, check_finite, **params):
        """``validate_data(self, X, **params)`` for the rows the family takes (float32 or
        float64 in C order, or CSR with 32-bit indices); without `check_finite`, dense rows
        are not searched for NaN and infinity, yet a NaN is still reported before any
        complaint that scikit-learn makes after its search."""
        params.update(
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
        )
        if self._taken_as_is(X, **params) and not (
            check_finite and _searched(X) and not _core.all_finite(X)
        ):
            if params.get("reset", True):  # what validate_data learns from such rows
                vars(self).pop("feature_names_in_", None)
                self.n_features_in_ = X.shape[1]
            return X
        if check_finite or sp.issparse(X):
            return validate_data(self, X, **params)
        try:
            return validate_data(self, X, ensure_all_finite=False, **params)
        except ValueError:
            with warnings.catch_warnings():  # said once already
                warnings.simplefilter("ignore")
                validate_data(self, X, **params)  # a NaN comes before what failed
            raise

    def _taken_as_is(self, X, reset=True, copy=False, **params):
        """Whether ``validate_data`` would hand `X` back as it is, with nothing to say: a
        plain numpy array of float32 or float64 in C order with rows and features, not to
        be copied, and (unless the estimator is to learn its width, `reset`) of the fitted
        width, for an estimator that saw no feature names. (Its checks cost 50 us a call,
        more than all the rest of ``partial_fit`` on a chunk of 50 rows.)"""
        return (
            not copy
            and type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype in _FLOAT_TYPES
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] > 0
            and (
                reset
                or (
                    "feature_names_in_" not in vars(self)
                    and vars(self).get("n_features_in_") == X.shape[1]
                )
            )
        )

    def _init_centroids(
        self,
        X,
        x_squared_norms,
        init,
        random_state,
        sample_weight,
        init_size=None,
        n_centroids=None,
    ):
        """Initial centres, with scikit-learn's signature for this step (its tests and
        subclasses call it): `n_centroids` of them (default `n_clusters`), seeded from
        `init_size` rows drawn with replacement if given. `x_squared_norms` is not needed
        (the distances are computed directly)."""
        n_clusters = self.n_clusters if n_centroids is None else n_centroids
        if init_size is not None and init_size < X.shape[0]:
            rows = random_state.randint(0, X.shape[0], init_size)
            X, sample_weight = X[rows], sample_weight[rows]
        if isinstance(init, str) and init == "k-means++":
            indices = _greedy_plusplus(
                X, n_clusters, sample_weight, random_state, workers=self.workers
            )
            centers = X[indices]
        elif isinstance(init, str) and init == "k-means||":
            if sp.issparse(X):
                raise ValueError(
                    "init='k-means||' needs dense X; for a sparse matrix use 'k-means++'."
                )
            rows = _kmeans_parallel.InMemory(X, _weights_or_none(sample_weight), self.workers)
            centers = _kmeans_parallel.seeds(rows, n_clusters, random_state, workers=self.workers)
        elif isinstance(init, str) and init == "random":
            seeds = _weighted_sample(random_state, sample_weight / sample_weight.sum(), n_clusters)
            centers = X[seeds]
        elif is_array_like_not_scalar(self.init):
            centers = init
        else:
            centers = init(X, n_clusters, random_state=random_state)
            centers = check_array(centers, dtype=X.dtype, copy=False, order="C")
            self._validate_center_shape(X, centers, n_centroids=n_clusters)
        if sp.issparse(centers):
            centers = centers.toarray()
        return np.ascontiguousarray(centers, dtype=X.dtype)

    def _lloyd(self, X, centers, weights, tol, with_inertia=True):
        """One run from `centers` with scikit-learn's centre-shift rule at `tol`: (centres,
        labels, inertia, iterations), the inertia None unless `with_inertia`."""
        if self.verbose:
            centers, labels, n_iter = self._lloyd_verbose(X, centers, weights, tol)
        else:
            centers, labels, n_iter = _kernels.lloyd(
                X,
                centers,
                tol,
                self.max_iter,
                weights,
                self.workers,
                farthest=_farthest_rows(X.dtype),
            )
        if not with_inertia:
            return centers, labels, None, n_iter
        return centers, labels, _kernels.inertia(X, centers, labels, weights, self.workers), n_iter

    def _lloyd_verbose(self, X, centers, weights, tol):
        """The run one iteration per engine call, printing scikit-learn's progress lines
        (the inertia after each iteration costs a pass over the data)."""
        labels_old = None
        for i in range(self.max_iter):
            new, labels, _ = _kernels.lloyd(
                X, centers, None, 1, weights, self.workers, farthest=_farthest_rows(X.dtype)
            )
            inertia = _kernels.inertia(X, centers, labels, weights, self.workers)
            print(f"Iteration {i}, inertia {inertia}.")
            shift = ((new.astype(np.float64) - centers) ** 2).sum()
            centers = new
            if labels_old is not None and np.array_equal(labels, labels_old):
                print(f"Converged at iteration {i}: strict convergence.")
                return centers, labels, i + 1
            if shift <= tol:
                print(f"Converged at iteration {i}: center shift {shift} within tolerance {tol}.")
                break
            labels_old = labels
        return centers, _kernels.labels(X, centers, self.workers), i + 1

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centres and each row's cluster: ``fit(X).labels_``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows.
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            The weight of each row.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Each row's cluster.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """The closest cluster of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Rows to label (any float dtype: a float32 model labels float64 rows too).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Each row's cluster (int32; for a dask `X`, a lazy dask array).
        """
        check_is_fitted(self)
        if _is_dask(X):
            return _dask_kmeans().predict(self, X)
        X = self._check_test_data(X, check_finite=False)
        X, centers = _common(X, self.cluster_centers_)
        # validate_data's check for NaN and infinity, made while the rows are labelled.
        check = not sp.issparse(X) and not get_config()["assume_finite"]
        try:
            return _kernels.labels(X, centers, self.workers, check_finite=check)
        except ValueError:
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
            raise

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and each row's distance to every centre.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows.
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            The weight of each row.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distances to the centres.
        """
        self.fit(X, sample_weight=sample_weight)
        if _is_dask(X):
            return _dask_kmeans().transform(self, X)
        return self._transform(self._check_test_data(X))

    def transform(self, X):
        """Each row's Euclidean distance to every centre.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Rows to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distances to the centres (dense, even for sparse input; for a dask `X`, a lazy
            dask array).
        """
        check_is_fitted(self)
        if _is_dask(X):
            return _dask_kmeans().transform(self, X)
        return self._transform(self._check_test_data(X))

    def _transform(self, X):
        X, centers = _common(X, self.cluster_centers_)
        return _kernels.distances(X, centers, self.workers)

    def score(self, X, y=None, sample_weight=None):
        """How well the centres fit `X`: minus its k-means objective (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Rows to score.
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            The weight of each row.

        Returns
        -------
        score : float
            Minus the (weighted) sum of squared distances to the closest centres.
        """
        check_is_fitted(self)
        if _is_dask(X):
            return _dask_kmeans().score(self, X, sample_weight)
        X = self._check_test_data(X)
        sample_weight = _row_weights(sample_weight, X)
        X, centers = _common(X, self.cluster_centers_)
        labels = _kernels.labels(X, centers, self.workers)
        weights = _weights_or_none(sample_weight.astype(X.dtype, copy=False))
        return -_kernels.inertia(X, centers, labels, weights, self.workers)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
