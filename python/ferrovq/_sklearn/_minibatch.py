"""scikit-learn's ``MiniBatchKMeans``: centres moved by samples of rows, each step one
mini-batch step of the engine (the sample assigned to the centres, each centre moved to the
running mean of all the rows it has been given), with scikit-learn's draws, random
reassignment of starved centres and early stopping.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.sparsefuncs import mean_variance_axis

from ferrovq import _core, _kernels
from ferrovq._sklearn._base import (
    _BaseKMeans,
    _row_weights,
    _searched,
    _tolerance,
    _weights_or_none,
)
from ferrovq._sklearn._compat import (
    Interval,
    _fit_context,
)

__all__ = ["MiniBatchKMeans"]


class _Sampler:
    """``random_state.choice(n, size, p=p, replace=True)``, numpy's draws without its
    O(n) work per call: the cumulative distribution is built once, as numpy builds it
    (from `p` in float64, divided by its last value), and each batch is one
    ``random_sample`` and each uniform's place in it (numpy's ``searchsorted``), which is
    what numpy's call does after its checks; the places are found through a table of the
    distribution's buckets (``_core.Cdf``: at a million rows numpy's search took 0.26 ms a
    batch of 1,024, half of a fit's time)."""

    def __init__(self, p):
        cdf = np.asarray(p, dtype=np.float64).cumsum()
        cdf /= cdf[-1]
        try:
            self._places = _core.Cdf(cdf).places
        except ValueError:  # not a distribution: numpy's own call, for its error
            self._places = None
        self._p = p
        self._batch = None

    def draw(self, random_state, size):
        """The numbers of `size` rows drawn."""
        if self._places is None:
            return random_state.choice(len(self._p), size, p=self._p, replace=True)
        return self._places(random_state.random_sample(size))

    def batch(self, X, random_state, size, workers):
        """The rows of `X` numbered by :meth:`draw`: dense rows gathered on `workers`
        threads into one buffer, rewritten at every call."""
        ids = self.draw(random_state, size)
        if sp.issparse(X):
            return X[ids]
        shape = (size, X.shape[1])
        if self._batch is None or self._batch.shape != shape or self._batch.dtype != X.dtype:
            self._batch = np.empty(shape, dtype=X.dtype)
        _core.take_rows(X, ids, self._batch, workers)
        return self._batch


def _labels_inertia(X, sample_weight, centers, workers, bounds=None):
    """Each row's nearest centre and the (weighted) sum of squared distances to them; with
    `bounds` (the rows' distance bounds from a step), only the rows they do not settle are
    compared with the centres."""
    weights = _weights_or_none(sample_weight)
    if bounds is None:
        labels = _kernels.labels(X, centers, workers)
        return labels, _kernels.inertia(X, centers, labels, weights, workers)
    return _kernels.bounded_labels(X, centers, bounds, weights, workers)


class MiniBatchKMeans(_BaseKMeans):
    """Mini-batch k-means, a drop-in for ``sklearn.cluster.MiniBatchKMeans``.

    Each step draws `batch_size` rows (with replacement, in proportion to their weights),
    assigns them to the nearest centres and moves every centre to the running mean of all
    the rows it has been given so far. Centres that gather little weight are moved to
    random rows of the batch now and then, and the run stops early once a smoothed batch
    inertia stops improving. scikit-learn 1.9's parameters, defaults, attributes,
    validation, messages and random draws (the same `random_state` gives the same
    answer); each step runs in Rust.

    Parameters
    ----------
    n_clusters : int, default=8
        How many clusters to find.
    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        How the centres start (seeded from `init_size` rows drawn at random): greedy
        k-means++, rows drawn at random (weighted), ``init(X, n_clusters,
        random_state=...)``, or the centres themselves.
    max_iter : int, default=100
        The most passes over the data, counted in rows drawn (`max_iter` times the number
        of rows, divided by `batch_size`, steps at most).
    batch_size : int, default=1024
        Rows drawn per step.
    verbose : int, default=0
        Print scikit-learn's progress lines.
    compute_labels : bool, default=True
        Whether to label every row and compute the inertia once the centres are found.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the seeding, the batches and the reassignments.
    tol : float, default=0.0
        Stop when the summed squared move of the centres in one step is at most `tol`
        times the mean column variance of the data (0: never on this rule).
    max_no_improvement : int, default=10
        Stop after this many steps in a row without a lower smoothed batch inertia
        (None: never on this rule).
    init_size : int, default=None
        Rows drawn to seed the centres and to compare the `n_init` seedings (None: three
        times `batch_size`, at least three times `n_clusters`, at most the rows).
    n_init : 'auto' or int, default='auto'
        Seedings tried; the one of lowest inertia on the drawn rows is kept. 'auto': 1 for
        'k-means++' and given centres, 3 otherwise.
    reassignment_ratio : float, default=0.01
        A centre whose gathered weight is below this fraction of the largest one's is moved
        to a random row of the batch, when reassignments are due.
    workers : int, default=None
        Threads (None: a threadpoolctl limit, else ``RAYON_NUM_THREADS``, else
        ``OMP_NUM_THREADS``, else every core). The result does not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres, in the data's dtype.
    labels_ : ndarray of shape (n_samples,)
        Each training row's cluster (int32; with `compute_labels`).
    inertia_ : float
        The (weighted) sum of squared distances to the centres (with `compute_labels`;
        otherwise the smoothed batch inertia times the total weight).
    n_iter_ : int
        Passes over the data made, counted in rows drawn.
    n_steps_ : int
        Steps (batches) made.
    n_features_in_ : int
        How many columns `fit` was given.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        The column names of the frame `fit` was given, when every name is a string.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq import MiniBatchKMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(2, 0.5, (500, 2)), rng.normal(8, 0.5, (500, 2))])
    >>> model = MiniBatchKMeans(n_clusters=2, batch_size=100, random_state=0).fit(X)
    >>> np.sort(model.cluster_centers_[:, 0]).round()
    array([2., 8.])
    >>> stream = MiniBatchKMeans(n_clusters=2, random_state=0)
    >>> for chunk in np.array_split(rng.permutation(X), 5):
    ...     stream = stream.partial_fit(chunk)
    >>> stream.n_steps_
    5
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseKMeans._parameter_constraints,
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "compute_labels": ["boolean"],
        "max_no_improvement": [Interval(Integral, 0, None, closed="left"), None],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "reassignment_ratio": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
        workers=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.workers = workers

    def _check_params_vs_input(self, X):
        super()._check_params_vs_input(X, default_n_init=3)
        if self.tol == 0:
            self._tol = 0
        else:
            variances = mean_variance_axis(X, axis=0)[1] if sp.issparse(X) else np.var(X, 0)
            self._tol = _tolerance(variances, self.tol)
        self._batch_size = min(self.batch_size, X.shape[0])
        size = self.init_size
        if size is None:
            size = 3 * self._batch_size
            if size < self.n_clusters:
                size = 3 * self.n_clusters
        elif size < self.n_clusters:
            warnings.warn(
                f"init_size={size} should be larger than n_clusters={self.n_clusters}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning,
                stacklevel=3,
            )
            size = 3 * self.n_clusters
        self._init_size = min(size, X.shape[0])

    def _reassignment_due(self):
        """Whether this step may move starved centres: when some centre has gathered
        nothing, or once every ten rows per cluster drawn since the last time."""
        self._n_since_last_reassign += self._batch_size
        if (self._counts == 0).any() or self._n_since_last_reassign >= 10 * self.n_clusters:
            self._n_since_last_reassign = 0
            return True
        return False

    def _step(
        self,
        X,
        sample_weight,
        centers,
        random_state,
        reassign,
        bounds=None,
        measure=True,
        search=False,
    ):
        """One mini-batch step on the rows `X`: the engine's assignment and running-mean
        update (``self._counts`` gains the weights; the rows' distance bounds left in
        `bounds` if given), then scikit-learn's reassignment of the centres whose weight is
        below `reassignment_ratio` of the largest (at most half the batch's rows, the
        lightest first) to distinct random rows of the batch. Returns the moved centres and
        the batch's inertia before the move (None unless `measure`). With `search`, dense
        rows are searched for NaN and infinity as they are labelled (``ValueError`` before
        anything moves)."""
        _, inertia, moved = _kernels.minibatch_step(
            X, sample_weight, centers, self._counts, self.workers, bounds, measure, search
        )
        if reassign and self.reassignment_ratio > 0:
            counts = self._counts
            starved = counts < self.reassignment_ratio * counts.max()
            if starved.sum() > 0.5 * X.shape[0]:
                starved[np.argsort(counts)[int(0.5 * X.shape[0]) :]] = False
            n_moved = starved.sum()
            if n_moved:
                rows = random_state.choice(X.shape[0], replace=False, size=n_moved)
                if self.verbose:
                    print(f"[MiniBatchKMeans] Reassigning {n_moved} cluster centers.")
                picked = X[rows]
                moved[starved] = picked.toarray() if sp.issparse(picked) else picked
            counts[starved] = np.min(counts[~starved])
        return moved, inertia

    def _converged(self, step, n_steps, n_samples, shift, batch_inertia):
        """scikit-learn's early stopping: on a small centre move (with `tol`), or after
        `max_no_improvement` steps without a lower exponentially weighted average of the
        mean batch inertia."""
        batch_inertia /= self._batch_size
        step += 1
        if step == 1:
            if self.verbose:
                print(f"Minibatch step {step}/{n_steps}: mean batch inertia: {batch_inertia}")
            return False
        if self._ewa_inertia is None:
            self._ewa_inertia = batch_inertia
        else:
            alpha = min(self._batch_size * 2.0 / (n_samples + 1), 1)
            self._ewa_inertia = self._ewa_inertia * (1 - alpha) + batch_inertia * alpha
        if self.verbose:
            print(
                f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                f"{batch_inertia}, ewa inertia: {self._ewa_inertia}"
            )
        if self._tol > 0.0 and shift <= self._tol:
            if self.verbose:
                print(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self._ewa_inertia_min is None or self._ewa_inertia < self._ewa_inertia_min:
            self._no_improvement = 0
            self._ewa_inertia_min = self._ewa_inertia
        else:
            self._no_improvement += 1
        if self.max_no_improvement is not None and self._no_improvement >= self.max_no_improvement:
            if self.verbose:
                print(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Find the centres by mini-batch steps over `X`; the result is kept on the
        estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows (converted to C order; a sparse matrix to CSR).
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            Each row's weight (None: all equal): rows are drawn in proportion to it.

        Returns
        -------
        self : MiniBatchKMeans
            The fitted estimator.
        """
        X = self._validated_rows(X)
        self._check_params_vs_input(X)
        random_state = check_random_state(self.random_state)
        sample_weight = _row_weights(sample_weight, X)
        n_samples = X.shape[0]
        init = self._checked_init(X)
        valid = random_state.randint(0, n_samples, self._init_size)
        X_valid, weight_valid = X[valid], sample_weight[valid]
        best = None
        for run in range(1, self._n_init + 1):
            if self.verbose:
                print(f"Init {run}/{self._n_init} with method {init}")
            centers = self._init_centroids(
                X, None, init, random_state, sample_weight, init_size=self._init_size
            )
            _, inertia = _labels_inertia(X_valid, weight_valid, centers, self.workers)
            if self.verbose:
                print(f"Inertia for init {run}/{self._n_init}: {inertia}")
            if best is None or inertia < best[1]:
                best = (centers, inertia)
        centers = best[0]
        self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
        self._ewa_inertia = self._ewa_inertia_min = None
        self._no_improvement = self._n_since_last_reassign = 0
        total_weight = np.sum(sample_weight)
        n_steps = self.max_iter * n_samples // self._batch_size
        sampler = _Sampler(sample_weight / total_weight)
        unit = np.ones_like(sample_weight, shape=(self._batch_size,))
        for i in range(n_steps):
            batch = sampler.batch(X, random_state, self._batch_size, self.workers)
            moved, inertia = self._step(
                batch, unit, centers, random_state, self._reassignment_due()
            )
            shift = np.sum((moved - centers) ** 2) if self._tol > 0.0 else 0
            centers = moved
            if self._converged(i, n_steps, n_samples, shift, inertia):
                break
        self.cluster_centers_ = centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.n_steps_ = i + 1
        self.n_iter_ = int(np.ceil((i + 1) * self._batch_size / n_samples))
        if self.compute_labels:
            self.labels_, self.inertia_ = _labels_inertia(X, sample_weight, centers, self.workers)
        else:
            self.inertia_ = self._ewa_inertia * total_weight
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """One mini-batch step on the rows `X` (the first call also seeds the centres):
        for data that arrives in chunks.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The chunk's rows (converted to C order; a sparse matrix to CSR).
        y : Ignored
            Ignored: clustering has no targets (the argument keeps pipelines working).
        sample_weight : array-like of shape (n_samples,), default=None
            Each row's weight in the step (None: all equal).

        Returns
        -------
        self : MiniBatchKMeans
            The updated estimator.
        """
        fitted = hasattr(self, "cluster_centers_")
        # Once fitted, the step searches dense rows for NaN and infinity as it labels them
        # (rather than in a pass over the chunk of its own); the errors stay scikit-learn's.
        X = self._validated_rows(X, reset=not fitted, search=not fitted)
        search = fitted and _searched(X)
        if not hasattr(self, "_random_state"):
            self._random_state = check_random_state(self.random_state)
        try:
            sample_weight = _row_weights(sample_weight, X)
        except (TypeError, ValueError):
            if search:
                self._refuse_bad_values(X)  # scikit-learn finds bad rows first
            raise
        self.n_steps_ = getattr(self, "n_steps_", 0)
        if not fitted:
            self._check_params_vs_input(X)
            self.cluster_centers_ = self._init_centroids(
                X,
                None,
                self._checked_init(X),
                self._random_state,
                sample_weight,
                init_size=self._init_size,
            )
            self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
            self._n_since_last_reassign = 0
        # The step's distance bounds spare most of the labels' comparisons against the
        # moved centres.
        bounds = _kernels.row_bounds(X) if self.compute_labels else None
        since_reassign = self._n_since_last_reassign
        try:
            self.cluster_centers_, _ = self._step(
                X,
                sample_weight,
                self.cluster_centers_,
                self._random_state,
                self._reassignment_due(),
                bounds,
                measure=False,
                search=search,
            )
        except (TypeError, ValueError):
            if not search:
                raise
            self._n_since_last_reassign = since_reassign  # the refused chunk counts for nothing
            self._refuse_bad_values(X)  # scikit-learn finds bad rows first
            raise
        if self.compute_labels:
            self.labels_, self.inertia_ = _labels_inertia(
                X, sample_weight, self.cluster_centers_, self.workers, bounds
            )
        self.n_steps_ += 1
        self._n_features_out = self.cluster_centers_.shape[0]
        return self


MiniBatchKMeans.__module__ = "ferrovq"
