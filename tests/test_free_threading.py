"""Many threads at once: every front-end called from 8 threads together gives the answers
it gives alone, and a caller writing into an array while ferrovq reads it gets an answer or
an error, never a crash. With the GIL these check the GIL is released safely; under a
free-threaded Python (`make matrix` runs 3.14t) they check ferrovq without any lock of the
interpreter's, and that importing ferrovq leaves the GIL off."""

import sys
import sysconfig
import textwrap
import threading

import dask.array as da
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import ferrovq as fv
from conftest import run_python
from ferrovq import KMeans, kmeans_plusplus
from ferrovq import dask as fvd

THREADS = 8
ROUNDS = 3
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _data():
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 6, size=(12, 16))
    x64 = centres[rng.integers(12, size=6000)] + rng.normal(size=(6000, 16))
    x64.flags.writeable = False  # shared and read-only, as the callers share it
    x32 = x64.astype(np.float32)
    x32.flags.writeable = False
    book = x64[:12].copy()
    book.flags.writeable = False
    return x64, x32, book


X64, X32, BOOK = _data()


def _error(fn):
    """What `fn` raised: (type, message)."""
    try:
        fn()
    except Exception as e:
        return type(e).__name__, str(e)
    raise AssertionError("expected an error")


def _sklearn_fit(seed):
    model = KMeans(n_clusters=12, random_state=seed).fit(X32)
    return model.labels_, model.cluster_centers_, model.inertia_, model.predict(X64[:500])


def _dask_fit(seed):
    x = da.from_array(X64, chunks=(1500, 16))
    centroids, labels = fvd.kmeans2(x, BOOK, iter=8, minit="matrix")
    return centroids, labels.compute(scheduler="synchronous")


def _limited_vq():
    with threadpool_limits(1):
        return fv.vq(X32, BOOK.astype(np.float32))


TASKS = {
    "vq": lambda: fv.vq(X64, BOOK),
    "vq float32, one worker": lambda: fv.vq(X32, BOOK.astype(np.float32), workers=1),
    "vq under threadpool_limits(1)": _limited_vq,
    "py_vq": lambda: fv.py_vq(X64[:300], BOOK),
    "whiten": lambda: fv.whiten(X64),
    "kmeans2 ++": lambda: fv.kmeans2(X64, 12, minit="++", rng=1),
    "kmeans2 points float32": lambda: fv.kmeans2(X32, 12, minit="points", rng=2),
    "kmeans2 random": lambda: fv.kmeans2(X64, 3, minit="random", rng=3),
    "kmeans": lambda: fv.kmeans(X64, 12, iter=3, rng=4),
    "KMeans fit/predict": lambda: _sklearn_fit(0),
    "kmeans_plusplus": lambda: kmeans_plusplus(X64, 12, random_state=7),
    "ferrovq.dask kmeans2": lambda: _dask_fit(0),
    "error: code book width": lambda: _error(lambda: fv.vq(X64, BOOK[:, :3])),
    "error: NaN": lambda: _error(lambda: fv.kmeans2(np.full((50, 3), np.nan), 2)),
    "error: k too large": lambda: _error(lambda: KMeans(n_clusters=7000).fit(X32)),
}


def _same(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    return a == b


def test_eight_threads_calling_every_front_end_get_the_single_threaded_answers():
    expected = {name: task() for name, task in TASKS.items()}
    names = list(TASKS)
    start = threading.Barrier(THREADS)
    failures = []

    def worker(index):
        start.wait()
        for round_ in range(ROUNDS):
            # Each thread walks the tasks from another place, so that different front-ends
            # overlap in every round.
            for name in names[index:] + names[:index]:
                try:
                    got = TASKS[name]()
                except Exception as e:  # an unexpected error is a failure, not a crash
                    failures.append((index, round_, name, repr(e)))
                    continue
                if not _same(got, expected[name]):
                    failures.append((index, round_, name, "differs from one thread's answer"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert failures == []


# Run in a child Python: a crash there fails this test instead of ending the test session.
RACE = """
import sys, threading
import numpy as np
import ferrovq as fv
from ferrovq import KMeans

rng = np.random.default_rng(0)
x = rng.normal(size=(20_000, 24)).astype(np.float32)
book = x[:64].copy()
stop = threading.Event()

def writer():
    r = np.random.default_rng(1)
    while not stop.is_set():
        rows = r.integers(len(x), size=2000)
        x[rows] = r.normal(0, 10, size=(2000, x.shape[1])).astype(np.float32)
        if r.random() < 0.05:
            x[r.integers(len(x))] = np.nan  # a reader may meet it, or not

def reader(kind, out):
    for _ in range(ROUNDS):
        try:
            if kind == 0:
                codes, dist = fv.vq(x, book)
                assert codes.shape == (len(x),) and dist.shape == (len(x),)
                assert codes.min() >= 0 and codes.max() < len(book)
            elif kind == 1:
                centroids, labels = fv.kmeans2(x, book, iter=3, minit="matrix", missing="warn")
                assert centroids.shape == book.shape and labels.max() < len(book)
            else:
                model = KMeans(n_clusters=64, init=book, n_init=1, max_iter=5).fit(x)
                assert model.labels_.shape == (len(x),) and model.labels_.max() < 64
            out.append("answer")
        except ValueError as e:
            assert "inf" in str(e) or "NaN" in str(e), e  # the finiteness checks
            out.append("error")

import warnings
warnings.simplefilter("ignore")  # empty clusters, as the data changes under the run
outcomes = []
w = threading.Thread(target=writer)
w.start()
readers = [threading.Thread(target=reader, args=(i % 3, outcomes)) for i in range(6)]
for t in readers:
    t.start()
for t in readers:
    t.join()
stop.set()
w.join()
print(len(outcomes), outcomes.count("answer"))
"""


def test_writing_an_array_while_ferrovq_reads_it_gives_an_answer_or_an_error():
    out = run_python(f"ROUNDS = 4\n{textwrap.dedent(RACE)}")
    assert out.returncode == 0, out.stderr
    done, answers = map(int, out.stdout.split())
    assert done == 6 * 4 and answers > 0, out.stdout


@pytest.mark.skipif(not FREE_THREADED, reason="the GIL can only stay off on a free-threaded build")
def test_import_leaves_the_gil_disabled():
    code = "import sys, ferrovq, ferrovq.dask; ferrovq.KMeans; print(sys._is_gil_enabled())"
    out = run_python(code)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout.strip() == "False"


def test_the_stress_test_ran_without_the_gil_where_it_could():
    """On a free-threaded build nothing imported by these tests (ferrovq, numpy, SciPy,
    scikit-learn, dask) turned the GIL back on, so the threads above really ran at once."""
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    assert enabled is not FREE_THREADED
