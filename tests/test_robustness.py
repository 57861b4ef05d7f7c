"""Production manners: threads, the GIL, fork, Ctrl-C, panics, memory, workers."""

import multiprocessing as mp
import os
import subprocess
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import ferrovq as fv
from conftest import interrupt, interruptible_python, run_python


def blobs(n, d, k, seed):
    r = np.random.default_rng(seed)
    centres = r.normal(0, 10, size=(k, d))
    return centres[r.integers(0, k, n)] + r.normal(size=(n, d))


def test_workers_do_not_change_results():
    data = blobs(20_000, 6, 8, 0)
    ref = fv.kmeans2(data, 8, minit="++", rng=1, workers=1)
    for w in (2, 3, 4, -1, None):
        got = fv.kmeans2(data, 8, minit="++", rng=1, workers=w)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    codes1, d1 = fv.vq(data, ref[0], workers=1)
    codes4, d4 = fv.vq(data, ref[0], workers=4)
    np.testing.assert_array_equal(codes1, codes4)
    np.testing.assert_array_equal(d1, d4)


def test_bad_workers():
    with pytest.raises(ValueError, match="workers"):
        fv.vq(np.ones((3, 2)), np.ones((1, 2)), workers=0)
    with pytest.raises(ValueError, match="workers"):
        fv.vq(np.ones((3, 2)), np.ones((1, 2)), workers=-10_000)


def test_rayon_num_threads_is_respected_without_workers():
    code = "import ferrovq._core as c; print(c.default_workers())"
    env = dict(os.environ, RAYON_NUM_THREADS="3")
    out = run_python(code, env=env)
    assert out.stdout.strip() == "3"


def test_many_threads_at_once_match_serial_calls():
    datas = [blobs(5000, 3 + i % 4, 5, i) for i in range(8)]
    serial = [fv.kmeans2(x, 5, minit="++", rng=i) for i, x in enumerate(datas)]
    results = [None] * 8

    def work(i):
        results[i] = fv.kmeans2(datas[i], 5, minit="++", rng=i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, ref in zip(results, serial, strict=True):
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


def test_gil_is_released_during_a_long_run():
    data = blobs(400_000, 16, 64, 1)
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    start = time.perf_counter()
    fv.kmeans2(data, 64, iter=10, minit="points", rng=0, workers=1)
    end = time.perf_counter()
    done.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # With the GIL held the ticker could not run at all during the call.
    assert end - start > 0.1
    assert len(during) >= 5


def _child_kmeans(q):
    data = blobs(3000, 3, 4, 9)
    q.put(fv.kmeans2(data, 4, minit="points", rng=2)[1].tolist())


def test_fork_after_the_pool_was_used():
    data = blobs(3000, 3, 4, 9)
    expected = fv.kmeans2(data, 4, minit="points", rng=2)[1].tolist()
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_kmeans, args=(q,))
    p.start()
    try:
        p.join(timeout=60)
        assert p.exitcode == 0, "the forked child hung or crashed"
        assert q.get(timeout=5) == expected
    finally:
        if p.is_alive():
            p.kill()
            p.join()


@pytest.mark.parametrize(
    "call",
    [
        "fv.kmeans(x, 300, iter=1000, rng=0)",
        "fv.kmeans2(x, 300, iter=100000, minit='points', rng=0)",
        "fv.kmeans2(x, 300, iter=100000, minit='++', rng=0)",
        "fv.kmeans2(x, 300, iter=100000, minit='random', rng=0)",
        "[fv.vq(x, x[:300]) for _ in range(100000)]",
        # Small passes run on the calling thread with the GIL held; the signal is still
        # checked between them.
        "fv.kmeans2(x[:500], 4, iter=100_000_000, minit='points', rng=0)",
    ],
)
def test_ctrl_c_interrupts_within_a_second(call):
    script = textwrap.dedent(
        f"""
        import sys, time, numpy as np, ferrovq as fv
        x = np.random.default_rng(0).normal(size=(200_000, 8))
        print("ready", flush=True)
        t = time.perf_counter()
        try:
            {call}
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter() - t, flush=True)
            # The interpreter is still usable afterwards.
            print("after", fv.vq(x[:10], x[:2])[0].tolist(), flush=True)
            sys.exit(0)
        print("finished", flush=True)
        """
    )
    with interruptible_python(script, stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        sent = time.perf_counter()
        interrupt(p)
        out, _ = p.communicate(timeout=30)
        latency = time.perf_counter() - sent
    assert p.returncode == 0, out
    assert "interrupted" in out and "after [0, 1" in out
    assert latency < 3.0, latency


def test_a_rust_panic_becomes_a_python_exception():
    with pytest.raises(RuntimeError, match="internal error in ferrovq"):
        fv._core._panic_in_worker()
    # and the interpreter and the pool still work
    assert fv.vq(np.ones((4, 2)), np.ones((1, 2)))[0].tolist() == [0, 0, 0, 0]


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def test_repeated_calls_do_not_leak():
    x = blobs(500, 3, 4, 3)
    for _ in range(300):  # warm up allocator and pools
        fv.kmeans2(x, 4, iter=2, minit="points", rng=1)
        fv.vq(x, x[:4])
    before = rss_mb()
    for _ in range(10_000):
        fv.kmeans2(x, 4, iter=2, minit="points", rng=1)
        fv.vq(x, x[:4])
    assert rss_mb() - before < 10


def test_non_finite_unchecked_is_safe():
    x = blobs(1000, 6, 3, 4)
    x[::7, 2] = np.nan
    x[::11, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty clusters are likely with NaN rows
        _, labels = fv.kmeans2(x, 3, minit="points", rng=0, check_finite=False)
    assert labels.min() >= 0 and labels.max() < 3
    codes, _ = fv.vq(x, np.nan_to_num(x[:5]), check_finite=False)
    assert codes.min() >= 0 and codes.max() < 5


def test_progress_callback_sees_every_iteration_and_does_not_change_results():
    data = blobs(30_000, 5, 6, 8)
    seen = []
    got = fv.kmeans2(data, 6, iter=7, minit="++", rng=3, callback=lambda i, s: seen.append((i, s)))
    ref = fv.kmeans2(data, 6, iter=7, minit="++", rng=3)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    assert [i for i, _ in seen] == list(range(1, 8))
    assert seen[0][1] == len(data)  # the first assignment compares every row
    assert all(0 <= s <= len(data) for _, s in seen)
    runs = []
    fv.kmeans(data, 6, iter=2, rng=3, callback=lambda i, s: runs.append(i))
    assert runs.count(1) == 2  # one sequence of iterations per restart


def test_an_exception_in_the_callback_stops_the_run():
    def stop(i, s):
        if i == 3:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        fv.kmeans2(blobs(5000, 3, 4, 1), 4, iter=50, minit="points", rng=0, callback=stop)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_finite_finds_one_bad_value_in_a_large_array(bad, dtype):
    x = np.zeros((300_000, 3), dtype=dtype)
    book = np.ones((2, 3), dtype=dtype)
    fv.vq(x, book)
    for where in (0, 123_457, x.size - 1):
        y = x.copy()
        y.flat[where] = bad
        for arr in (y, np.asfortranarray(y)):
            with pytest.raises(ValueError, match="must not contain infs or NaNs"):
                fv.vq(arr, book)


def test_misaligned_arrays_are_accepted():
    """An array at an odd address (``frombuffer`` with an offset, or a buffer unpickled on a
    Dask worker) works as its aligned copy does; the core itself needs alignment."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 3))
    raw = bytearray(x.nbytes + 1)
    raw[1:] = x.tobytes()
    odd = np.frombuffer(raw, dtype=np.float64, offset=1).reshape(x.shape)
    assert not odd.flags.aligned
    book = x[:4].copy()
    for got, want in [
        (fv.vq(odd, book), fv.vq(x, book)),
        (fv.kmeans2(odd, book, minit="matrix"), fv.kmeans2(x, book, minit="matrix")),
        ((fv.whiten(odd),), (fv.whiten(x),)),
    ]:
        for a, b in zip(got, want, strict=True):
            assert np.array_equal(a, b)
