"""scikit-learn's ``BisectingKMeans``: clusters split in two, one at a time, by two-centre
k-means runs of the engine on the rows of the cluster being split.
"""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ferrovq import _kernels
from ferrovq._sklearn._base import _BaseKMeans, _centred, _common, _weights_or_none
from ferrovq._sklearn._compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
)

__all__ = ["BisectingKMeans"]


class _Cluster:
    """A node of the bisection tree: a cluster's centre (in the fit's centred coordinates),
    its rows while it is a leaf, and its score (what decides the next split)."""

    def __init__(self, center, indices, score):
        self.center = center
        self.indices = indices
        self.score = score
        self.left = self.right = None

    def split(self, labels, centers, scores):
        """Make the two halves of this cluster its children."""
        self.left = _Cluster(centers[0], self.indices[labels == 0], scores[0])
        self.right = _Cluster(centers[1], self.indices[labels == 1], scores[1])
        self.indices = None

    def leaves(self):
        """The clusters not split, left before right (their order gives the labels)."""
        if self.left is None:
            yield self
        else:
            yield from self.left.leaves()
            yield from self.right.leaves()

    def to_split(self):
        """The first leaf of the highest score."""
        best = None
        for leaf in self.leaves():
            if best is None or leaf.score > best.score:
                best = leaf
        return best


class BisectingKMeans(_BaseKMeans):
    """Bisecting k-means, a drop-in for ``sklearn.cluster.BisectingKMeans``.

    Starts from one cluster holding every row and, `n_clusters` - 1 times, splits one
    cluster in two with the best of `n_init` two-centre k-means runs on its rows: the
    cluster of largest inertia ('biggest_inertia') or of most rows ('largest_cluster').
    The splits form a tree, and `predict` walks down it, choosing at each node the nearer
    of the two halves' centres. scikit-learn 1.9's parameters, defaults, attributes,
    validation and random draws; the k-means runs use the ferrovq engine.

    Parameters
    ----------
    n_clusters : int, default=8
        How many clusters to end with.
    init : {'k-means++', 'random'} or callable, default='random'
        How each split is seeded: greedy k-means++, two rows drawn at random (weighted),
        or ``init(X, 2, random_state=...)`` returning the two centres.
    n_init : int, default=1
        Runs tried for each split; the one of lowest inertia is kept.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the seedings.
    max_iter : int, default=300
        The most Lloyd iterations of one run.
    verbose : int, default=0
        Print scikit-learn's progress lines.
    tol : float, default=1e-4
        A run stops when the summed squared move of its two centres is at most `tol`
        (taken as it is: unlike ``KMeans``, not scaled by the data's variance, as in
        scikit-learn).
    copy_x : bool, default=True
        Whether to centre a copy of the data (False: centre it in place and restore it).
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        Both run ferrovq's exact Lloyd iterations, with the same result.
    bisecting_strategy : {'biggest_inertia', 'largest_cluster'}, default='biggest_inertia'
        Which cluster is split next.
    workers : int, default=None
        Threads (None: a threadpoolctl limit, else ``RAYON_NUM_THREADS``, else
        ``OMP_NUM_THREADS``, else every core). The result does not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres of the clusters not split, in the data's dtype.
    labels_ : ndarray of shape (n_samples,)
        Each training row's cluster (int32).
    inertia_ : float
        The (weighted) sum of the rows' squared distances to their cluster's centre.
    n_features_in_ : int
        How many columns `fit` was given.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        The column names of the frame `fit` was given, when every name is a string.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import BisectingKMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0], [20.0, 0.0]])
    >>> model = BisectingKMeans(n_clusters=3, random_state=0).fit(X)
    >>> sorted(np.bincount(model.labels_).tolist())
    [1, 2, 2]
    >>> model.cluster_centers_[model.predict([[9.0, 0.5]])]
    array([[10. ,  0.5]])
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseKMeans._parameter_constraints,
        "init": [StrOptions({"k-means++", "random"}), callable],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
        "bisecting_strategy": [StrOptions({"biggest_inertia", "largest_cluster"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="random",
        n_init=1,
        random_state=None,
        max_iter=300,
        verbose=0,
        tol=1e-4,
        copy_x=True,
        algorithm="lloyd",
        bisecting_strategy="biggest_inertia",
        workers=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.random_state = random_state
        self.max_iter = max_iter
        self.verbose = verbose
        self.tol = tol
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.bisecting_strategy = bisecting_strategy
        self.workers = workers

    def _scores(self, X, centers, labels, weights):
        """What decides the next split, for the two halves: their inertia or their rows."""
        if self.bisecting_strategy == "largest_cluster":
            return np.bincount(labels, minlength=2)
        return np.array(
            [
                _kernels.inertia(X, centers, labels, np.where(labels == j, weights, 0))
                for j in (0, 1)
            ]
        )

    def _bisect(self, X, sample_weight, cluster):
        """Split `cluster` with the best of `n_init` two-centre runs on its rows."""
        rows = cluster.indices
        if len(rows) < X.shape[0]:  # the first split has every row, in order: no gather
            # take() gathers dense rows about twice as fast as fancy indexing does.
            X = X[rows] if sp.issparse(X) else X.take(rows, axis=0)
            sample_weight = sample_weight.take(rows)
        weights = _weights_or_none(sample_weight)
        best = None
        for _ in range(self.n_init):
            init = self._init_centroids(
                X, None, self.init, self._random_state, sample_weight, n_centroids=2
            )
            centers, labels, inertia, _ = self._lloyd(X, init, weights, self.tol)
            if best is None or inertia < best[2] * (1 - 1e-6):
                best = (centers, labels, inertia)
        centers, labels, _ = best
        if self.verbose:
            print(f"New centroids from bisection: {centers}")
        cluster.split(labels, centers, self._scores(X, centers, labels, sample_weight))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Cluster the rows of `X` by repeated bisection; the result is kept on the
        estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows (converted to C order; a sparse matrix to CSR).
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            The weight of each row (None: all equal); not used by a callable `init`.

        Returns
        -------
        self : BisectingKMeans
            The fitted estimator.
        """
        X = self._validated_rows(X)
        self._check_params_vs_input(X, default_n_init=1)
        self._random_state = check_random_state(self.random_state)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        self._X_mean = None
        if not sp.issparse(X):
            X, self._X_mean, _ = _centred(X, self.copy_x, callable(self.init), self.workers)
        tree = _Cluster(np.asarray(X.mean(axis=0)).reshape(-1), np.arange(X.shape[0]), 0)
        for _ in range(self.n_clusters - 1):
            self._bisect(X, sample_weight, tree.to_split())
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        centers = np.empty((self.n_clusters, X.shape[1]), dtype=X.dtype)
        for i, leaf in enumerate(tree.leaves()):
            labels[leaf.indices] = i
            centers[i] = leaf.center
            leaf.label, leaf.indices = i, None
        if self._X_mean is not None:
            X += self._X_mean
            centers += self._X_mean
        self._bisecting_tree = tree
        self.labels_ = labels
        self.cluster_centers_ = centers
        self.inertia_ = _kernels.inertia(
            X, centers, labels, _weights_or_none(sample_weight), self.workers
        )
        self._n_features_out = self.n_clusters
        return self

    def predict(self, X):
        """Each row's cluster, found by walking down the bisection tree: at each split,
        the nearer of the two halves' centres.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Each row's cluster (int32).
        """
        check_is_fitted(self)
        return self._descend(self._check_test_data(X), self._bisecting_tree)

    def _descend(self, X, cluster):
        if cluster.left is None:
            return np.full(X.shape[0], cluster.label, dtype=np.int32)
        centers = np.vstack((cluster.left.center, cluster.right.center))
        if self._X_mean is not None:
            centers += self._X_mean
        rows, centers = _common(X, centers)
        left = _kernels.labels(rows, centers, self.workers) == 0
        labels = np.empty(X.shape[0], dtype=np.int32)
        labels[left] = self._descend(X[left], cluster.left)
        labels[~left] = self._descend(X[~left], cluster.right)
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


BisectingKMeans.__module__ = "ferrovq"
