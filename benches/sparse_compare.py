"""The k-means family on sparse rows (CSR), ferrovq against scikit-learn: ``KMeans.fit``,
``MiniBatchKMeans.fit`` and ``BisectingKMeans.fit`` with their defaults and
random_state=0, and ``KMeans.predict``, on rows shaped like bag-of-words data.

Run: ``make bench-sparse`` (or ``python benches/sparse_compare.py [--rounds 5]``).

Data: each row draws half its stored values from the columns of one of `k` topics (each
topic a random set of columns) and half from every column, values uniform in (0, 1);
float64. Both libraries run in this process, in rounds: in each
round each call starts after a 100 ms pause (for the other library's idle threads to
sleep) and 50 ms of untimed calls of the same function (this machine runs the first work
after a pause slowly), then is timed once. The ratio is the median over the rounds of
scikit-learn's time over ferrovq's in the same round; the times are medians.
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset (the script runs itself again without
them).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from statistics import median

CASES = [
    dict(n=1_000, d=2_000, density=0.01, k=8),
    dict(n=10_000, d=200, density=0.05, k=8),
    dict(n=10_000, d=5_000, density=0.005, k=64),
    dict(n=100_000, d=1_000, density=0.01, k=16),
    dict(n=100_000, d=20_000, density=0.001, k=64),
]
CALLS = ["KMeans.fit", "MiniBatchKMeans.fit", "BisectingKMeans.fit", "KMeans.predict"]
PAUSE_S = 0.1
WARM_UP_S = 0.05


def make_rows(n, d, density, k, seed=0):
    """`n` sparse rows of `d` columns, about `density * d` stored values each (see the
    module's docstring)."""
    import numpy as np
    import scipy.sparse as sp

    r = np.random.default_rng(seed)
    per_row = max(2, round(density * d))
    topics = np.stack([r.choice(d, size=min(d, 5 * per_row), replace=False) for _ in range(k)])
    topic = r.integers(0, k, n)
    own = topics[topic[:, None], r.integers(0, topics.shape[1], size=(n, per_row // 2))]
    anywhere = r.integers(0, d, size=(n, per_row - per_row // 2))
    cols = np.concatenate([own, anywhere], axis=1)
    rows = np.repeat(np.arange(n), cols.shape[1])
    X = sp.csr_matrix((r.uniform(size=rows.size), (rows, cols.ravel())), shape=(n, d))
    X.sum_duplicates()
    return X


def timed(fn):
    """Seconds of one call of `fn`, after a pause and WARM_UP_S of untimed calls."""
    time.sleep(PAUSE_S)
    start = time.perf_counter()
    while True:
        out = fn()
        if time.perf_counter() - start >= WARM_UP_S:
            break
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t, out


def calls(module, X, k):
    """The timed calls of one library on `X`: name -> function returning labels."""
    fitted = module.KMeans(n_clusters=k, random_state=0).fit(X)
    return {
        "KMeans.fit": lambda: module.KMeans(n_clusters=k, random_state=0).fit(X).labels_,
        "MiniBatchKMeans.fit": lambda: (
            module.MiniBatchKMeans(n_clusters=k, random_state=0).fit(X).labels_
        ),
        "BisectingKMeans.fit": lambda: (
            module.BisectingKMeans(n_clusters=k, random_state=0).fit(X).labels_
        ),
        "KMeans.predict": lambda: fitted.predict(X),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if any(v in os.environ for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")):
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        }
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    import warnings

    import numpy as np
    import sklearn
    import sklearn.cluster

    import ferrovq

    warnings.filterwarnings("ignore")  # (a warning from either library would split the table)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"ferrovq {ferrovq.__version__}, scikit-learn {sklearn.__version__}; "
        f"{args.rounds} rounds\n"
    )
    print(
        "| n | d | stored a row | k | call | ferrovq ms | scikit-learn ms | ratio | labels = scikit-learn |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        X = make_rows(case["n"], case["d"], case["density"], case["k"])
        ours, theirs = calls(ferrovq, X, case["k"]), calls(sklearn.cluster, X, case["k"])
        for name in CALLS:
            ts, tt, ratios = [], [], []
            for _ in range(args.rounds):
                a, la = timed(ours[name])
                b, lb = timed(theirs[name])
                ts.append(a)
                tt.append(b)
                ratios.append(b / a)
            same = "yes" if np.array_equal(la, lb) else "no"
            print(
                f"| {case['n']:,} | {case['d']:,} | {X.nnz / X.shape[0]:.0f} | {case['k']} | "
                f"{name} | {median(ts) * 1e3:.1f} | {median(tt) * 1e3:.1f} | "
                f"{median(ratios):.2f}x | {same} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
