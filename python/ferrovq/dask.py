"""ferrovq on Dask: SciPy's ``whiten``, ``vq``, ``kmeans`` and ``kmeans2`` over dask arrays
larger than one machine's memory (extra ``ferrovq[dask]``).

Each Lloyd iteration sends the code book to every block of rows; each block returns its
per-code sums and counts (and for ``kmeans`` its summed distances), O(k·d), and the client
merges these partials in block order, so it holds O(k·d) per block, never anything per
row, and the result depends only on the data, its row chunks and the random state: not on
the scheduler, the number of workers or which worker ran which block. The process that
ran a block keeps its rows' distance bounds for the block's next iteration (``_Bounds``),
which spares comparisons without changing a bit. Every random draw is made on the client
from the given random state, or from generators keyed by (seed, round, block index).
"""

from __future__ import annotations

import collections
import threading
import uuid
import warnings

import dask
import dask.array as da
import numpy as np

from ferrovq import _core, _kmeans_parallel, _threads
from ferrovq._random import check_random_state, first_row, rng_keywords
from ferrovq._vq import _EMPTY_CLUSTER, ClusterError, _krandinit
from ferrovq._vq import vq as _vq_in_memory

__all__ = ["kmeans", "kmeans2", "vq", "whiten"]

_threads.register()


def _as_data(data, name="data"):
    """`data` as a 2-D float dask array with its columns in one chunk, and whether it was
    1-D (one feature)."""
    data = da.asarray(data)
    if data.ndim == 1:
        data, one_d = data[:, None], True
    elif data.ndim == 2:
        one_d = False
    else:
        raise ValueError("Input of rank > 2 is not supported.")
    if data.size == 0 or any(np.isnan(s) for s in data.shape):
        if data.size == 0:
            raise ValueError("Empty input is not supported.")
        raise ValueError(f"{name}: the number of rows must be known (compute the chunk sizes)")
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    if data.numblocks[1] != 1:
        data = data.rechunk({1: -1})
    return data, one_d


def _c(block, dtype=None):
    """A block as the core takes it: C-contiguous and aligned (a block unpickled on a
    worker may be neither)."""
    return np.require(block, dtype=dtype, requirements=["C", "A"])


def _check_finite_block(block):
    if not _core.all_finite(_c(block)):
        raise ValueError("array must not contain infs or NaNs")


def _block_stats(block, book, workers, check_finite):
    """One block's (sums, counts, inertia, summed distances) against `book`."""
    block = _c(block)
    if check_finite:
        _check_finite_block(block)
    _, sums, counts, _, inertia, dist = _core.block_stats(block, book, None, workers)
    return sums, counts, inertia, dist


def _merge(a, b):
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _blocks(data):
    return list(data.to_delayed()[:, 0])


def _stats_row(block, book, workers, check_finite):
    """A block's statistics packed in one float64 row: sums (exact in float64 for float32
    data), counts, inertia, summed distances."""
    sums, counts, inertia, dist = _block_stats(block, book, workers, check_finite)
    packed = [sums.ravel().astype(np.float64), counts.astype(np.float64), [inertia, dist]]
    return np.concatenate(packed)[None, :]


def _sums_row(block, book, workers, check_finite, run, block_id=None):
    """A block's sums and counts packed as `_stats_row` packs them (the same bits), its
    rows' distance bounds kept in this process for the block's next iteration of `run`."""
    block = _c(block)
    if check_finite:
        _check_finite_block(block)
    key = (run, block_id[0])
    sums, counts, bounds = _core.block_sums(block, book, _BOUNDS.take(key), workers)
    _BOUNDS.keep(key, bounds)
    return np.concatenate([sums.ravel().astype(np.float64), counts.astype(np.float64)])[None, :]


def _gathered(data, row, extra, book, *args):
    """Each block's row of statistics against `book` (one graph, one round trip, O(k·d)
    per block), merged on the client in block order: sums in the data's dtype, counts,
    then `extra` more columns."""
    book = np.ascontiguousarray(book, dtype=data.dtype)
    k, d = book.shape
    width = k * d + k + extra
    rows = data.map_blocks(
        row, book, *args, dtype=np.float64, chunks=((1,) * data.numblocks[0], (width,))
    ).compute()
    total = None
    for r in rows:
        part = (r[: k * d].astype(data.dtype).reshape(k, d), r[k * d : k * d + k].astype(np.int64))
        part += tuple(r[k * d + k :])
        total = part if total is None else _merge(total, part)
    return total


def _statistics(data, book, workers, check_finite=False):
    """The statistics of all rows against `book`: sums, counts, inertia, summed distances."""
    return _gathered(data, _stats_row, 2, book, workers, check_finite)


def _sums(data, book, workers, check_finite, run):
    """The sums and counts of all rows against `book` (the bits of `_statistics`'), each
    block comparing only the rows its bounds from the last iteration of `run` leave open."""
    return _gathered(data, _sums_row, 0, book, workers, check_finite, run)


class _Bounds:
    """The blocks' distance bounds this process (a Dask worker, or the client under the
    threaded scheduler) keeps between iterations, by (run, block index): twelve bytes per
    row, at most `BOUNDS_BYTES` (a tenth of a worker's memory limit if less), the least
    recently used dropped first, and a run's dropped when it ends. They only spare work:
    a block without them (another worker, a restarted one) compares every row with every
    code and gets the same bits. A block that finishes after its run has ended (its run
    failed in another block while it was still running) keeps nothing."""

    #: How many ended runs are remembered, to refuse their late blocks.
    ENDED_RUNS = 1024

    def __init__(self):
        self._kept = collections.OrderedDict()
        self._ended = collections.OrderedDict()
        self._lock = threading.Lock()

    def take(self, key):
        with self._lock:
            return self._kept.pop(key, None)

    def keep(self, key, bounds):
        budget = _bounds_budget()
        with self._lock:
            if key[0] in self._ended:
                return
            self._kept[key] = bounds
            held = sum(b.nbytes for b in self._kept.values())
            while held > budget and self._kept:
                held -= self._kept.popitem(last=False)[1].nbytes

    def drop(self, run):
        with self._lock:
            self._ended[run] = None
            while len(self._ended) > self.ENDED_RUNS:
                self._ended.popitem(last=False)
            for key in [key for key in self._kept if key[0] == run]:
                del self._kept[key]

    def __len__(self):
        return len(self._kept)


_BOUNDS = _Bounds()

#: The most memory a process spends on kept bounds.
BOUNDS_BYTES = 256 << 20


def _bounds_budget():
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):
        limit = None
    return min(BOUNDS_BYTES, limit // 10) if limit else BOUNDS_BYTES


def _drop_bounds(run):
    _BOUNDS.drop(run)


def _forget_bounds(run):
    """Drop `run`'s bounds here and, if a distributed client is in use, on its workers."""
    _drop_bounds(run)
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        return
    client.run(_drop_bounds, run, on_error="ignore")


def _labels_block(block, book, workers):
    return _core.nearest(_c(block), book, workers)


def _update(sums, counts, book, missing):
    """SciPy's kmeans2 update: the means of the codes with rows; the others keep their
    place (warning) or raise."""
    has = counts > 0
    if not has.all():
        if missing == "raise":
            raise ClusterError(_EMPTY_CLUSTER)
        warnings.warn(_EMPTY_CLUSTER, stacklevel=3)
    counts = np.where(has, counts, 1).astype(book.dtype)
    return np.where(has[:, None], sums / counts[:, None], book)


# --- seeding ------------------------------------------------------------------------------


def _points(data, k, rng, workers, check_finite):
    """k distinct rows chosen at random, as SciPy's ``_kpoints`` draws them."""
    idx = rng.choice(data.shape[0], size=int(k), replace=False)
    return np.asarray(data[np.asarray(idx)].compute())


def _random(data, k, rng, workers, check_finite):
    """k draws of a Gaussian with the data's mean and covariance, as SciPy's
    ``_krandinit`` (the moments computed by dask; with fewer rows than features, SciPy's
    SVD on the rows themselves)."""
    n, d = data.shape
    if n <= d:
        return _krandinit(np.asarray(data.compute()), k, rng)
    mu = data.mean(axis=0)
    centred = data - mu
    cov = centred.T @ centred / (n - 1)
    mu, cov = dask.compute(mu, cov)
    x = rng.standard_normal(size=(k, d))
    x = x @ np.linalg.cholesky(np.atleast_2d(cov)).T
    return x + mu


def _row(data, i):
    return np.asarray(data[i].compute(), dtype=np.float64)


def _lowered(block, d2, centres, check_finite=False):
    """`d2` (None: infinite) lowered to each row's squared distance to `centres`."""
    if check_finite:
        _check_finite_block(block)
    _, dist = _core.vq(_c(block, np.float64), _c(centres, np.float64))
    sq = dist * dist
    return sq if d2 is None else np.minimum(d2, sq)


def _persisted(parts):
    return list(dask.persist(*parts))


def _block_sums(parts):
    return np.array(dask.compute(*[dask.delayed(np.sum)(p) for p in parts]), dtype=np.float64)


def _plusplus(data, k, rng, workers, check_finite):
    """Exact k-means++ with SciPy's draws (the first row, then one uniform per centre),
    one pass over the data per centre: the block holding the draw is found from the
    blocks' totals, then the row within it."""
    first = first_row(data.shape[0], rng)
    uniforms = rng.uniform(size=k - 1) if k > 1 else np.empty(0)
    centres = [_row(data, first)]
    blocks = _blocks(data)
    d2 = [None] * len(blocks)
    for u in uniforms:
        d2 = _persisted(
            [
                dask.delayed(_lowered)(b, p, centres[-1][None])
                for b, p in zip(blocks, d2, strict=True)
            ]
        )
        totals = _block_sums(d2)
        cum = np.cumsum(totals)
        target = u * cum[-1]
        j = min(int(np.searchsorted(cum, target)), len(blocks) - 1)
        before = cum[j - 1] if j else 0.0
        within = dask.delayed(_search)(d2[j], target - before).compute()
        start = sum(data.chunks[0][:j])
        centres.append(_row(data, start + within))
    return np.array(centres)


def _search(d2, target):
    return min(int(np.searchsorted(np.cumsum(d2), target)), len(d2) - 1)


def _lowered_block(block, state, newest, offset, workers, check_finite):
    return _kmeans_parallel.lowered(_c(block), state, newest, offset, workers, check_finite)


class _BlockRows:
    """A dask array's row blocks as k-means|| sees them (the methods of
    ``_kmeans_parallel.InMemory``): each block's distances and nearest candidates stay
    persisted where the block was computed; the client gets totals, draws and counts."""

    def __init__(self, data, workers):
        self.data, self.workers = data, workers
        self.blocks = _blocks(data)
        self.states = [None] * len(self.blocks)
        self.n_rows = data.shape[0]

    def row(self, i):
        return np.asarray(self.data[i : i + 1].compute())

    def rows(self, index):
        return np.asarray(self.data[np.asarray(index)].compute())

    def lower(self, newest, offset, check_finite):
        lower = dask.delayed(_lowered_block)
        pairs = zip(self.blocks, self.states, strict=True)
        self.states = _persisted(
            [lower(b, s, newest, offset, self.workers, check_finite) for b, s in pairs]
        )

    def potential(self):
        parts = dask.compute(*[dask.delayed(_kmeans_parallel.potential)(s) for s in self.states])
        return float(np.sum(parts))

    def sample(self, scale, seed, rnd):
        sample = dask.delayed(_kmeans_parallel.sampled)
        pairs = enumerate(zip(self.blocks, self.states, strict=True))
        drawn = dask.compute(*[sample(b, s, scale, (seed, rnd, i)) for i, (b, s) in pairs])
        return np.concatenate(drawn)

    def weights_of(self, n_candidates):
        count = dask.delayed(_kmeans_parallel.counted)
        return np.sum(dask.compute(*[count(s, n_candidates) for s in self.states]), axis=0)


def _parallel(data, k, rng, workers, check_finite):
    """k-means|| (``ferrovq._kmeans_parallel``) over the blocks of `data`; each task uses
    `workers` threads."""
    return _kmeans_parallel.seeds(_BlockRows(data, workers), k, rng, check_finite)


_INITS = {
    "points": _points,
    "random": _random,
    "++": _plusplus,
    "k-means||": _parallel,
}


# --- the public functions -----------------------------------------------------------------


@rng_keywords
def kmeans2(
    data,
    k,
    iter=10,
    thresh=1e-5,
    minit="k-means||",
    missing="warn",
    check_finite=True,
    *,
    rng=None,
    workers=1,
):
    """SciPy's ``kmeans2`` on a dask array: `iter` Lloyd iterations from `minit`'s seeds.

    Parameters
    ----------
    data : dask.array.Array or array_like
        ``n x d`` (or 1-D) rows; chunked along the rows (column chunks are merged).
    k : int or ndarray
        The number of clusters, or (``minit='matrix'``) the initial code book.
    iter : int, optional
        Lloyd iterations (SciPy's meaning: exactly this many).
    thresh : float, optional
        Unused, as in SciPy.
    minit : {'k-means||', '++', 'points', 'random', 'matrix'}, optional
        Seeding: k-means|| (a few passes, the default), exact k-means++ (one pass over the
        data per centre), k random rows, a Gaussian with the data's moments, or `k` itself.
    missing : {'warn', 'raise'}, optional
        What an empty cluster does, as in SciPy.
    check_finite : bool, optional
        Whether the data (checked in the first pass, block by block) and the code book may
        hold no NaN or infinity.
    rng : int, numpy.random.Generator or RandomState, optional
        The random state (SciPy's spellings, ``seed=`` too).
    workers : int, optional
        Threads inside each Dask task (Dask supplies the parallelism across blocks).

    Returns
    -------
    centroid : ndarray
        The ``k x d`` code book (a numpy array).
    label : dask.array.Array
        Each row's code from the last iteration's assignment, lazy, chunked as the rows.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from ferrovq.dask import kmeans2
    >>> x = np.concatenate([np.zeros((50, 2)), np.full((50, 2), 9.0)])
    >>> x += np.arange(100)[:, None] % 3
    >>> centroids, labels = kmeans2(da.from_array(x, chunks=25), 2, minit="++", rng=0)
    >>> np.sort(centroids[:, 0]).round(2).tolist()
    [0.98, 10.0]
    >>> np.bincount(labels.compute()).tolist()
    [50, 50]
    """
    if int(iter) < 1:
        raise ValueError(f"Invalid iter ({iter}), must be a positive integer.")
    if missing not in ("warn", "raise"):
        raise ValueError(f"Unknown missing method {missing!r}")
    data, one_d = _as_data(data)
    n, d = data.shape
    code_book = np.array(k, copy=True)
    if code_book.size < 1:
        raise ValueError("Empty input is not supported.")
    if minit == "matrix" or code_book.size > 1:
        if code_book.ndim != (1 if one_d else 2):
            raise ValueError("k array doesn't match data rank")
        code_book = code_book.reshape(len(code_book), -1)
        if code_book.shape[1] != d:
            raise ValueError("k array doesn't match data dimension")
        if check_finite and not np.isfinite(code_book).all():
            raise ValueError("array must not contain infs or NaNs")
    else:
        nc = int(code_book)
        if nc < 1:
            raise ValueError(f"Cannot ask kmeans2 for {nc} clusters (k was {code_book})")
        if nc != code_book:
            warnings.warn("k was not an integer, was converted.", stacklevel=3)
        if nc > n and minit in ("points", "++", "k-means||"):
            raise ValueError(f"Cannot take a larger sample than population when k={nc} > n={n}")
        try:
            init = _INITS[minit]
        except KeyError as e:
            raise ValueError(f"Unknown init method {minit!r}") from e
        code_book = init(data, nc, check_random_state(rng), workers, check_finite)
    book = np.ascontiguousarray(code_book, dtype=data.dtype)
    run = uuid.uuid4().hex
    try:
        for i in range(int(iter)):
            previous = book
            sums, counts = _sums(data, book, workers, check_finite and i == 0, run)
            book = _update(sums, counts, book, missing)
    finally:
        _forget_bounds(run)
    labels = data.map_blocks(_labels_block, previous, workers, dtype=np.int32, drop_axis=1)
    return (book[:, 0] if one_d else book), labels


@rng_keywords
def kmeans(obs, k_or_guess, iter=20, thresh=1e-5, check_finite=True, *, rng=None):
    """SciPy's ``kmeans`` on a dask array: runs until the mean distance changes by at most
    `thresh`, empty codes dropped; the best of `iter` runs from random rows.

    Parameters
    ----------
    obs : dask.array.Array or array_like
        ``n x d`` (or 1-D) rows.
    k_or_guess : int or ndarray
        The number of codes, or the initial code book (one run).
    iter : int, optional
        Runs from k random rows (ignored with a code book).
    thresh : float, optional
        The change of the mean distance that ends a run.
    check_finite : bool, optional
        Whether the data and code book may hold no NaN or infinity.
    rng : int, numpy.random.Generator or RandomState, optional
        The random state.

    Returns
    -------
    codebook : ndarray
        The code book of the best run.
    distortion : float
        Its mean distance of the rows to their nearest code.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from ferrovq.dask import kmeans
    >>> x = np.concatenate([np.zeros((50, 2)), np.full((50, 2), 9.0)])
    >>> book, distortion = kmeans(da.from_array(x, chunks=30), 2, rng=1)
    >>> sorted(book[:, 0].tolist()), float(distortion)
    ([0.0, 9.0], 0.0)
    """
    obs, one_d = _as_data(obs, "obs")
    guess = np.asarray(k_or_guess)
    if iter < 1:
        raise ValueError(f"iter must be at least 1, got {iter}")
    if check_finite and not np.isfinite(guess).all():
        raise ValueError("array must not contain infs or NaNs")
    if guess.size != 1:
        if guess.size < 1:
            raise ValueError(f"Asked for 0 clusters. Initial book was {guess}")
        book, dist = _kmeans_run(obs, guess.reshape(len(guess), -1), thresh, check_finite)
        return (book[:, 0] if one_d else book), dist
    k = int(guess)
    if k != guess:
        raise ValueError("If k_or_guess is a scalar, it must be an integer.")
    if k < 1:
        raise ValueError(f"Asked for {k} clusters.")
    rng = check_random_state(rng)
    best_book, best_dist = None, np.inf
    for run in range(iter):
        guess = _points(obs, k, rng, 1, False)
        book, dist = _kmeans_run(obs, guess, thresh, check_finite and run == 0)
        if best_book is None or dist < best_dist:
            best_book, best_dist = book, dist
    return (best_book[:, 0] if one_d else best_book), best_dist


def _kmeans_run(obs, book, thresh, check_finite):
    """SciPy's ``_kmeans`` over blocks."""
    book = np.ascontiguousarray(book, dtype=obs.dtype)
    if book.shape[1] != obs.shape[1]:
        raise ValueError("obs and code should have same number of features (columns)")
    n = obs.shape[0]
    previous, diff, first = np.inf, np.inf, True
    while diff > thresh:
        sums, counts, _, dist_sum = _statistics(obs, book, 1, check_finite and first)
        first = False
        distortion = dist_sum / n
        has = counts > 0
        book = (sums[has] / counts[has].astype(book.dtype)[:, None]).astype(book.dtype)
        diff = abs(previous - distortion)
        previous = distortion
    return book, obs.dtype.type(distortion)


def vq(obs, code_book, check_finite=True):
    """SciPy's ``vq`` on a dask array, lazily: each row's nearest code and distance.

    Parameters
    ----------
    obs : dask.array.Array or array_like
        ``n x d`` (or 1-D) rows.
    code_book : ndarray
        ``k x d`` codes.
    check_finite : bool, optional
        Whether the code book (now) and the rows (when computed) may hold no NaN or
        infinity.

    Returns
    -------
    code : dask.array.Array
        Each row's code (int32), chunked as the rows.
    dist : dask.array.Array
        Each row's distance to it.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from ferrovq.dask import vq
    >>> codes, dist = vq(da.from_array(np.array([[0.0], [4.0], [9.0]]), chunks=2),
    ...                  np.array([[1.0], [8.0]]))
    >>> codes.compute().tolist(), dist.compute().tolist()
    ([0, 0, 1], [1.0, 3.0, 1.0])
    """
    obs, one_d = _as_data(obs, "obs")
    book = np.asarray(code_book)
    if book.ndim != (1 if one_d else 2):
        raise ValueError("observation and code should have same number of dimensions")
    book = book.reshape(len(book), -1)
    if book.shape[1] != obs.shape[1]:
        raise ValueError("obs and code should have same number of features (columns)")
    if check_finite and not np.isfinite(book).all():
        raise ValueError("array must not contain infs or NaNs")
    book = np.ascontiguousarray(book, dtype=np.result_type(obs.dtype, book.dtype))

    def both(block):
        codes, dist = _vq_in_memory(block, book, check_finite)
        return np.stack([codes.astype(np.float64), dist.astype(np.float64)], axis=1)

    pairs = obs.map_blocks(both, dtype=np.float64, chunks=(obs.chunks[0], (2,)))
    return pairs[:, 0].astype(np.int32), pairs[:, 1].astype(book.dtype)


def whiten(obs, check_finite=True):
    """SciPy's ``whiten`` on a dask array: each column divided by its standard deviation
    (computed now, one pass; the division is lazy).

    Parameters
    ----------
    obs : dask.array.Array or array_like
        ``n x d`` rows.
    check_finite : bool, optional
        Whether the rows may hold no NaN or infinity (checked when the result is computed).

    Returns
    -------
    result : dask.array.Array
        The whitened rows; a column with no spread is left as it is (with SciPy's warning).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from ferrovq.dask import whiten
    >>> whiten(da.from_array(np.array([[1.0, 2.0], [3.0, 4.0]]), chunks=1)).compute().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    obs = da.asarray(obs)
    if obs.dtype.kind != "f":
        obs = obs.astype(np.float64)
    if check_finite:
        obs = obs.map_blocks(_checked)
    std = np.asarray(obs.std(axis=0).compute())
    zero = std == 0
    if zero.any():
        std = np.where(zero, 1.0, std).astype(std.dtype)
        warnings.warn(
            "Some columns have standard deviation zero. "
            "The values of these columns will not change.",
            RuntimeWarning,
            stacklevel=2,
        )
    return obs / std


def _checked(block):
    _check_finite_block(block)
    return block
