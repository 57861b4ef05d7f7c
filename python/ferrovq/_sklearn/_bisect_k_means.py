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

from ferrovq import _core, _kernels
from ferrovq._sklearn._base import (
    _BaseKMeans,
    _centred,
    _common,
    _row_weights,
    _weights_or_none,
)
from ferrovq._sklearn._compat import (
    Interval,
    StrOptions,
    _fit_context,
)

__all__ = ["BisectingKMeans"]


class _Cluster:
    """A node of the bisection tree: a cluster's centre (in the fit's centred coordinates),
    its score (what decides the next split) and, while it is a leaf, which rows it holds:
    ``rows`` (a slice) of the fit's row numbers in buffer ``buffer`` (see :class:`_Rows`)."""

    def __init__(self, center, score, rows, buffer):
        self.center = center
        self.score = score
        self.rows, self.buffer = rows, buffer
        self.left = self.right = None


class _Rows:
    """The fit's rows as the bisection keeps them: the numbers of each leaf's rows side by
    side, in their order, in one of two buffers (with their weights, unless all weigh one);
    a split reads its rows' numbers from one and writes its two halves' into the other, at
    the same places. The rows themselves are gathered for each split but the first."""

    def __init__(self, X, sample_weight):
        n = X.shape[0]
        self.X = X
        self.index = [np.arange(n, dtype=np.int64), np.empty(n, dtype=np.int64)]
        self.unit = bool(np.all(sample_weight == 1))
        self.weights = [sample_weight, sample_weight]
        if not self.unit:  # (the caller's weights are not written)
            self.weights = [sample_weight.copy(), np.empty_like(sample_weight)]

    def of(self, cluster, workers):
        """The rows of a leaf (dense rows gathered on `workers` threads), their weights
        (None when all weigh one) and their sample weights (for the seeding)."""
        b, rows = cluster.buffer, cluster.rows
        X, weights = self.X, self.weights[0 if self.unit else b][rows]
        if rows.stop - rows.start < X.shape[0]:  # the root holds every row, in order
            ids = self.index[b][rows]
            if sp.issparse(X):
                X = X[ids]
            else:  # gathered in parallel (numpy's take() uses one thread)
                out = np.empty((len(ids), X.shape[1]), dtype=X.dtype)
                _core.take_rows(X, ids, out, workers)
                X = out
        return X, None if self.unit else weights, weights

    def split(self, cluster, X, weights, labels, centers, workers):
        """Move the row numbers of a leaf (its rows `X`, weighted by `weights`) into its two
        halves (label 0, then 1): the slices of the halves, the buffer they are in, and
        each half's inertia against `centers`."""
        b, rows = cluster.buffer, cluster.rows
        moved = [] if self.unit else [self.weights]
        if sp.issparse(X):
            left = int(np.count_nonzero(labels == 0))
            inertia = _kernels.label_inertia(X, centers, labels, weights, workers)
            moved.append(self.index)
        else:
            ids = (self.index[b][rows], self.index[1 - b][rows])
            left, *inertia = _core.split_rows(X, *ids, labels, centers, weights, workers)
        first = labels == 0
        for arrays in moved:
            source, target = arrays[b][rows], arrays[1 - b][rows]
            target[:left] = source[first]
            target[left:] = source[~first]
        mid = rows.start + left
        return (slice(rows.start, mid), slice(mid, rows.stop)), 1 - b, inertia

    def labels(self, leaves):
        """Each row's leaf number, in the rows' order."""
        labels = np.empty(self.X.shape[0], dtype=np.int32)
        for i, leaf in enumerate(leaves):
            labels[self.index[leaf.buffer][leaf.rows]] = i
        return labels


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

    def _bisect(self, rows, cluster):
        """Split `cluster` with the best of `n_init` two-centre runs on its rows into its
        two children."""
        X, weights, sample_weight = rows.of(cluster, self.workers)
        best = None
        for _ in range(self.n_init):
            init = self._init_centroids(
                X, None, self.init, self._random_state, sample_weight, n_centroids=2
            )
            run = self._lloyd(X, init, weights, self.tol, with_inertia=self.n_init > 1)
            if best is None or run[2] < best[2] * (1 - 1e-6):
                best = run
        centers, labels, _, _ = best
        if self.verbose:
            print(f"New centroids from bisection: {centers}")
        halves, buffer, inertia = rows.split(cluster, X, weights, labels, centers, self.workers)
        if self.bisecting_strategy == "largest_cluster":
            scores = [halves[0].stop - halves[0].start, halves[1].stop - halves[1].start]
        else:
            scores = inertia
        cluster.left, cluster.right = (
            _Cluster(centers[j], scores[j], halves[j], buffer) for j in (0, 1)
        )
        cluster.rows = None

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
        sample_weight = _row_weights(sample_weight, X)
        given, self._X_mean = X, None
        if not sp.issparse(X):
            X, self._X_mean, _ = _centred(X, self.copy_x, callable(self.init), self.workers)
        rows = _Rows(X, sample_weight)
        tree = _Cluster(np.asarray(X.mean(axis=0)).reshape(-1), 0, slice(0, X.shape[0]), 0)
        leaves = [tree]  # in the tree's order, left before right
        try:
            for _ in range(self.n_clusters - 1):
                cluster = max(leaves, key=lambda leaf: leaf.score)  # the first of the highest
                self._bisect(rows, cluster)
                at = leaves.index(cluster)
                leaves[at : at + 1] = [cluster.left, cluster.right]
        finally:
            if X is given and self._X_mean is not None:  # centred in place: put back
                X += self._X_mean
        labels = rows.labels(leaves)
        centers = np.empty((self.n_clusters, X.shape[1]), dtype=X.dtype)
        for i, leaf in enumerate(leaves):
            centers[i] = leaf.center
            leaf.label, leaf.rows = i, None
        if self._X_mean is not None:
            centers += self._X_mean
        self._bisecting_tree = tree
        self.labels_ = labels
        self.cluster_centers_ = centers
        self.inertia_ = _kernels.inertia(
            given, centers, labels, _weights_or_none(sample_weight), self.workers
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
