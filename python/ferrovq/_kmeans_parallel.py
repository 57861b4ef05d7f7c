"""k-means|| seeding (Bahmani et al., "Scalable K-Means++", VLDB 2012), written once for
every front-end: it sees the data only as row blocks, through an object with the methods of
`InMemory` (``ferrovq.dask`` supplies one over a dask array's blocks).

The algorithm: a first row at random; then `ROUNDS` rounds, each of which lowers every
row's squared distance ``D2`` to the candidates drawn so far and draws about
``OVERSAMPLING * k`` new candidates, each row with probability ``min(1, l * w * D2 / phi)``
(``w`` its weight, ``phi`` the weighted total of ``D2``), by a generator keyed by
(seed, round, block index); the candidates are weighted by the rows nearest to them
(tracked while lowering, so no extra pass), and scikit-learn's greedy k-means++ and a
weighted Lloyd run on the candidates alone choose the ``k`` codes. Every random number
comes from the caller's random state or from the keyed generators, so the answer depends
on the data, its row blocks and the random state only: a dask array in one block gives
the answer of the same array in memory.
"""

from __future__ import annotations

import numpy as np

from ferrovq import _core, _engine
from ferrovq._random import first_row

__all__ = ["OVERSAMPLING", "ROUNDS", "InMemory", "seeds"]

#: Rounds and oversampling (times k) of k-means||. Chosen by measurement (see the
#: performance page): against the paper's 5 rounds of 2k, 3 rounds of k cost a third of
#: the passes and gave final inertias as low, on embeddings and on separated blobs.
ROUNDS = 3
OVERSAMPLING = 1
#: Lloyd iterations on the weighted candidates.
CANDIDATE_ITERATIONS = 30


# --- what runs where a block lives ----------------------------------------------------------


def lowered(block, state, newest, offset, workers=None, check_finite=False):
    """A block's state, ``(D2, nearest)``, after the candidates `newest` (numbered from
    `offset`) join: each row's squared distance to its nearest candidate so far and that
    candidate's number (the earlier one on a tie). `state` None: no candidate yet."""
    labels, dist = _core.vq(block, newest, workers, check_finite)
    sq = dist * dist
    if state is None:
        return sq, labels.astype(np.int64) + offset
    d2, nearest = state
    closer = sq < d2
    return np.where(closer, sq, d2), np.where(closer, labels + offset, nearest)


def potential(state, weights=None):
    """A block's share of ``phi``: its rows' (weighted) squared distances, summed in
    float64."""
    d2 = state[0] if weights is None else state[0] * weights
    return float(np.sum(d2, dtype=np.float64))


def sampled(block, state, scale, key, weights=None):
    """The rows of a block drawn with probability ``min(1, scale * w * D2)`` by a
    generator keyed by `key`."""
    d2 = state[0] if weights is None else state[0] * weights
    u = np.random.default_rng(key).random(len(d2))
    return np.asarray(block)[u < scale * d2]


def counted(state, n_candidates, weights=None):
    """The (weighted) number of rows of a block nearest to each candidate."""
    return np.bincount(state[1], weights=weights, minlength=n_candidates)


# --- the algorithm ----------------------------------------------------------------------------


class InMemory:
    """The rows of an in-memory array as k-means|| sees them: one block.

    Parameters
    ----------
    x : ndarray
        ``n x d`` float32 or float64 rows, C-contiguous and finite.
    sample_weight : ndarray, optional
        One weight per row.
    workers : int, optional
        Threads for the distance passes (the result does not depend on it).
    """

    def __init__(self, x, sample_weight=None, workers=None):
        self.x, self.weights, self.workers = x, sample_weight, workers
        self.n_rows = x.shape[0]
        self.state = None

    def row(self, i):
        """Row `i`, as a ``1 x d`` array."""
        return self.x[i : i + 1]

    def rows(self, index):
        """The rows at `index`."""
        return self.x[index]

    def lower(self, newest, offset, check_finite):
        """Lower every row's ``D2`` by the candidates `newest`, numbered from `offset`."""
        self.state = lowered(self.x, self.state, newest, offset, self.workers, check_finite)

    def potential(self):
        """``phi``: the weighted total of ``D2``."""
        return potential(self.state, self.weights)

    def sample(self, scale, seed, rnd):
        """The rows drawn in round `rnd` (keyed by (seed, round, block 0))."""
        return sampled(self.x, self.state, scale, (seed, rnd, 0), self.weights)

    def weights_of(self, n_candidates):
        """Each candidate's weight: the weights of the rows nearest to it."""
        return counted(self.state, n_candidates, self.weights)


def seeds(rows, k, rng, check_finite=False, workers=None):
    """`k` initial codes chosen by k-means|| from `rows` (an `InMemory`, or ``ferrovq.dask``'s
    counterpart), in the rows' dtype.

    The random state `rng` (a numpy ``Generator`` or ``RandomState``) gives, in this
    order: the seed of the keyed generators, the first row and, when fewer than `k`
    candidates were drawn, the rows that make up the difference (distinct rows chosen
    uniformly, as ``rng.choice`` chooses them). With `check_finite`, the first pass over
    the rows raises ValueError for a NaN or an infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from ferrovq._kmeans_parallel import InMemory, seeds
    >>> x = np.concatenate([np.zeros((50, 2)), np.full((50, 2), 10.0)])
    >>> codes = seeds(InMemory(x), 2, np.random.default_rng(0))
    >>> sorted(codes[:, 0].tolist())
    [0.0, 10.0]
    """
    seed = int(rng.uniform() * 2**53)
    candidates = rows.row(first_row(rows.n_rows, rng))
    seen = 0  # candidates every row has been compared with
    for r in range(ROUNDS):
        if seen < len(candidates):
            rows.lower(candidates[seen:], seen, check_finite and r == 0)
            seen = len(candidates)
        phi = rows.potential()
        if phi == 0:
            break
        candidates = np.concatenate([candidates, rows.sample(OVERSAMPLING * k / phi, seed, r)])
    if len(candidates) <= k:
        index = rng.choice(rows.n_rows, size=k - len(candidates), replace=False)
        return np.concatenate([candidates, rows.rows(index)])
    if seen < len(candidates):  # the last round's draws
        rows.lower(candidates[seen:], seen, False)
    weights = rows.weights_of(len(candidates)).astype(candidates.dtype)
    local = np.random.default_rng((seed, ROUNDS))
    trials = 2 + int(np.log(k))
    first = int(local.choice(len(candidates), p=weights / weights.sum(dtype=np.float64)))
    uniforms = local.uniform(size=(k - 1) * trials)
    picked = _core.greedy_plusplus(candidates, k, trials, first, uniforms, weights, workers)
    centres, _, _, _ = _engine.lloyd(
        candidates,
        candidates[picked],
        stop="center_shift",
        max_iter=CANDIDATE_ITERATIONS,
        empty="farthest",
        sample_weight=weights,
        workers=workers,
    )
    return centres
