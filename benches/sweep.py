"""Every-size benchmark: SciPy / ferrovq time ratios from a hundred rows to a million.

Run: ``make sweep`` (or ``python benches/sweep.py [--max-n 100000] [--rounds 5]
[--features 2,8,64] [--codes 4,16,256]``).

For n from 100 to 1,000,000 (a factor 10 apart), d in {2, 8, 64}, k in {4, 16, 256} (k <= n;
other feature and code counts with ``--features`` and ``--codes``),
float64 and float32, both libraries get the same data (k Gaussian clusters, as in
``compare.py``) and the same code book (k rows of the data), and are timed side by side in
one process: ``vq``, ``kmeans2`` (5 iterations, minit='matrix'), ``kmeans2`` (5 iterations,
minit='++', same seed), ``kmeans`` (from the code book, SciPy's default threshold) and
``whiten``. Each figure is measured in rounds (SciPy then ferrovq, each call repeated until
it has run for 20 ms); the ratio is the median over the rounds of SciPy's time over
ferrovq's in the same round, and ferrovq's time is its median. Each measurement starts
after a 100 ms pause, so that neither library runs while the other's idle threads spin,
and 50 ms of untimed calls of the function measured (``--warm-up-ms``): after a pause this
machine runs the first tens of milliseconds of work slowly, two threads up to half speed.
k-means++ of SciPy is O(n k^2 d); it is left out where that exceeds 4e10.

A last section times the unstructured case of the performance issue (standard normal data,
n = 100,000, d = 64, k = 256) and reports the full assignment's rate in GFLOP/s (2 n k d per
``vq``).

OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines here set: the
script runs itself again with both unset and prints the BLAS kernel SciPy ran.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from statistics import median

from compare import make_data

SIZES = [100, 1_000, 10_000, 100_000, 1_000_000]
FEATURES = [2, 8, 64]
CODES = [4, 16, 256]
DTYPES = ["float64", "float32"]
ITERS = 5
# Each timed measurement repeats the call until it has run this long (tiny calls).
MIN_MEASURE_S = 0.02
# Pause before each measurement, for the other library's spinning threads to sleep.
SETTLE_S = 0.1
# Untimed calls after the pause, before each measurement (default of --warm-up-ms).
WARM_UP_S = 0.05
# SciPy's k-means++ costs about n k^2 d; past this it would dominate the whole sweep.
MAX_KPP_WORK = 4e10
FUNCS = ["vq", "kmeans2", "kmeans2 ++", "kmeans", "whiten"]


def per_call(fn, warm_up):
    """Seconds per call of `fn`, repeating it until MIN_MEASURE_S has passed. It starts
    after a pause: OpenBLAS's idle threads spin for tens of milliseconds after a call, and a
    call of the other library in that time shares the cores with them (measured: ferrovq's
    kmeans2 of 10,000 x 64 x 256 float32 right after SciPy's took 29-39 ms, 50 ms later
    25-32 ms, 100 ms later 14-22 ms, 200 ms later 19-21 ms). Then `fn` runs untimed for
    `warm_up` seconds (at least once): after a pause, with no other work in the process,
    the same call's first runs were up to 1.6x slower than the later ones, and up to 2x
    two seconds after a call of SciPy (``benches/sweep.py --warm-up-ms 0`` measures without)."""
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    while True:
        fn()
        if time.perf_counter() - start >= warm_up:
            break
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_MEASURE_S:
            return elapsed / calls


def side_by_side(scipy_fn, ferrovq_fn, rounds, warm_up):
    """Median SciPy / ferrovq ratio over `rounds` paired rounds, and ferrovq's median time."""
    scipy_fn(), ferrovq_fn()  # warm-up: thread pools, first-touch page faults
    ratios, ours = [], []
    for _ in range(rounds):
        s = per_call(scipy_fn, warm_up)
        f = per_call(ferrovq_fn, warm_up)
        ratios.append(s / f)
        ours.append(f)
    return median(ratios), median(ours)


def calls(n, d, k, x, init):
    """The (SciPy, ferrovq) pair of zero-argument calls of each function."""
    import numpy as np
    from scipy.cluster import vq as sv

    import ferrovq as fv

    def kpp(lib):
        return lambda: lib.kmeans2(x, k, iter=ITERS, minit="++", seed=np.random.default_rng(0))

    pairs = {
        "vq": (lambda: sv.vq(x, init), lambda: fv.vq(x, init)),
        "kmeans2": (
            lambda: sv.kmeans2(x, init, iter=ITERS, minit="matrix"),
            lambda: fv.kmeans2(x, init, iter=ITERS, minit="matrix"),
        ),
        "kmeans2 ++": (kpp(sv), kpp(fv)),
        "kmeans": (lambda: sv.kmeans(x, init), lambda: fv.kmeans(x, init)),
        "whiten": (lambda: sv.whiten(x), lambda: fv.whiten(x)),
    }
    if n * k * k * d > MAX_KPP_WORK:
        del pairs["kmeans2 ++"]
    return pairs


def rounds_for(seconds):
    """Fewer rounds for slow calls: the sweep must finish in reasonable time."""
    return 5 if seconds < 0.2 else 3 if seconds < 2 else 1


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return sorted(
            {
                f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} x{i.get('num_threads')}"
                for i in threadpool_info()
                if i.get("user_api") == "blas"
            }
        )
    except ImportError:
        return ["threadpoolctl not installed"]


def unstructured(rounds, warm_up):
    """The issue's unstructured case: rates of the full assignment and kmeans2 ratios."""
    import numpy as np

    n, d, k = 100_000, 64, 256
    print(f"\nunstructured data (standard normal), n={n:,} d={d} k={k}:")
    print("| dtype | vq ratio | vq ferrovq | full assignment | kmeans2 ratio | kmeans2 ferrovq |")
    print("|---|---|---|---|---|---|")
    for dtype in DTYPES:
        x = np.random.default_rng(0).standard_normal((n, d)).astype(dtype)
        init = x[np.random.default_rng(1).choice(n, k, replace=False)].copy()
        pairs = calls(n, d, k, x, init)
        vr, vt = side_by_side(*pairs["vq"], rounds, warm_up)
        kr, kt = side_by_side(*pairs["kmeans2"], rounds, warm_up)
        gflops = 2 * n * k * d / vt / 1e9
        print(
            f"| {dtype} | {vr:.1f}x | {fmt_time(vt)} | {gflops:.0f} GFLOP/s | {kr:.1f}x | {fmt_time(kt)} |",
            flush=True,
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-n", type=int, default=SIZES[-1])
    ap.add_argument("--rounds", type=int, default=5, help="rounds for calls under 0.2 s")
    ap.add_argument("--funcs", default=",".join(FUNCS))
    ap.add_argument("--features", default=",".join(map(str, FEATURES)), help="d values")
    ap.add_argument("--codes", default=",".join(map(str, CODES)), help="k values")
    ap.add_argument(
        "--warm-up-ms",
        type=float,
        default=WARM_UP_S * 1e3,
        help="untimed calls before each measurement, after its pause (ms)",
    )
    args = ap.parse_args()
    if any(v in os.environ for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    import numpy as np

    import ferrovq
    import scipy

    funcs = args.funcs.split(",")
    features = [int(v) for v in args.features.split(",")]
    codes = [int(v) for v in args.codes.split(",")]
    warm_up = args.warm_up_ms / 1e3
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, ferrovq {ferrovq.__version__}"
    )
    print(f"SciPy's BLAS: {'; '.join(blas_info())} (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset)")
    print(
        "cells: SciPy time / ferrovq time (median of paired rounds; each measurement after a "
        f"{SETTLE_S * 1e3:.0f} ms pause and {args.warm_up_ms:.0f} ms of untimed calls), "
        "then ferrovq's time per call\n"
    )
    print("| n | d | k | dtype | " + " | ".join(funcs) + " |")
    print("|---:|---:|---:|---|" + "---|" * len(funcs))
    worst = (float("inf"), "")
    for n in (s for s in SIZES if s <= args.max_n):
        for d in features:
            for k in (c for c in codes if c <= n):
                for dtype in DTYPES:
                    x, init = make_data(n, d, k, dtype)
                    pairs = calls(n, d, k, x, init)
                    cells = []
                    for name in funcs:
                        if name not in pairs:
                            cells.append("-")
                            continue
                        s_fn, f_fn = pairs[name]
                        t = time.perf_counter()
                        s_fn()
                        rounds = min(args.rounds, rounds_for(time.perf_counter() - t))
                        r, ours = side_by_side(s_fn, f_fn, rounds, warm_up)
                        cells.append(f"{r:.1f}x ({fmt_time(ours)})")
                        if r < worst[0]:
                            worst = (r, f"{name} n={n} d={d} k={k} {dtype}")
                    print(
                        f"| {n:,} | {d} | {k} | {dtype} | " + " | ".join(cells) + " |", flush=True
                    )
    print(f"\nlowest ratio: {worst[0]:.2f}x ({worst[1]})")
    if args.max_n >= 100_000:
        unstructured(min(args.rounds, 3), warm_up)


if __name__ == "__main__":
    main()
