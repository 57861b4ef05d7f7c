"""What bounds two of the family's ratios against scikit-learn on this machine, measured
beside scikit-learn in the same run:

- ``BisectingKMeans.fit``: its two-centre runs read every row of the cluster being split
  once per iteration, and scikit-learn's runs are the same runs (same rows, same
  iterations: checked here). The bytes read by the runs whose rows do not fit in the L3
  cache, divided by the rate of one pass over the data on every core, is a floor for any
  fit that reads each row at each iteration.
- ``MiniBatchKMeans.partial_fit``: each chunk needs one full assignment against the
  centres before its update (new rows carry no bounds). Its products cost, at float32,
  what numpy's matrix product of the chunk by the centres takes.

Each floor is set beside a fifth of scikit-learn's time (the 5x target).

Run: ``python benches/family_floor.py`` (about a minute). OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are unset (the script runs itself again without them); the BLAS kernel
numpy and scikit-learn ran is reported.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from statistics import median

from sklearn_compare import make_data

BISECT_CASES = [(1_000_000, 16, 64), (500_000, 64, 256)]
PARTIAL_CASES = [(1_000_000, 16, 64), (500_000, 64, 256)]
ROUNDS = 3


def l3_bytes():
    """The L3 cache's size (32 MiB where the system does not say)."""
    try:
        size = os.sysconf("SC_LEVEL3_CACHE_SIZE")
    except (ValueError, OSError):
        size = 0
    return size if size > 0 else 32 << 20


def recorded_runs():
    """Wrap both libraries' two-centre runs to record (rows, iterations) of each: returns
    the two lists, filled as fits run."""
    from sklearn.cluster import _bisect_k_means as sk

    from ferrovq._sklearn._bisect_k_means import BisectingKMeans

    ours, theirs = [], []
    sk_run, our_run = sk._kmeans_single_lloyd, BisectingKMeans._lloyd

    def sk_logged(X, *args, **kwargs):
        out = sk_run(X, *args, **kwargs)
        theirs.append((X.shape[0], int(out[-1])))
        return out

    def our_logged(self, X, *args, **kwargs):
        out = our_run(self, X, *args, **kwargs)
        ours.append((X.shape[0], int(out[-1])))
        return out

    sk._kmeans_single_lloyd = sk_logged
    BisectingKMeans._lloyd = our_logged
    return ours, theirs


def pass_rate(X):
    """Bytes per second of one pass over the bytes of `X` on every core: numpy's sums of
    rows of 1,000 values, each core summing its share of the rows (numpy releases the
    GIL). The memory bandwidth a pass can reach, whatever the data's width."""
    import numpy as np

    flat = X.reshape(-1)
    cores = os.cpu_count() or 1
    parts = np.array_split(flat[: len(flat) // 1000 * 1000].reshape(-1, 1000), cores)
    with ThreadPoolExecutor(cores) as pool:
        times = []
        for _ in range(8):
            t = time.perf_counter()
            list(pool.map(lambda part: part.sum(axis=0), parts))
            times.append(time.perf_counter() - t)
    return sum(p.nbytes for p in parts) / median(times[1:])


def bisect_row(n, d, k, ours, theirs):
    import sklearn.cluster

    import ferrovq

    X = make_data(n, d, k, "float32")
    fits = {"ferrovq": [], "sklearn": []}
    for _ in range(ROUNDS):  # the two libraries in turn
        for name, cls in (
            ("ferrovq", ferrovq.BisectingKMeans),
            ("sklearn", sklearn.cluster.BisectingKMeans),
        ):
            log = ours if name == "ferrovq" else theirs
            log.clear()
            t = time.perf_counter()
            cls(n_clusters=k, random_state=0).fit(X)
            fits[name].append(time.perf_counter() - t)
    row_bytes = d * X.itemsize
    beyond = sum(rows * it * row_bytes for rows, it in ours if rows * row_bytes > l3_bytes())
    rate = pass_rate(X)
    ferro, skl = median(fits["ferrovq"]), median(fits["sklearn"])
    print(
        f"| {n:,} | {d} | {k} | {len(ours)} | {'yes' if ours == theirs else 'no'} "
        f"| {sum(r * i for r, i in ours) / 1e6:.1f} M | {beyond / 1e9:.2f} "
        f"| {rate / 1e9:.1f} | {beyond / rate * 1e3:.0f} | {ferro * 1e3:.0f} "
        f"| {skl * 1e3:.0f} | {skl / 5 * 1e3:.0f} |",
        flush=True,
    )


def partial_row(n, d, k):
    import numpy as np
    import sklearn.cluster

    import ferrovq

    X = make_data(n, d, k, "float32")
    chunks = np.array_split(X, 20)
    centres = np.ascontiguousarray(chunks[0][:k])
    products = []
    for _ in range(21):
        t = time.perf_counter()
        np.dot(chunks[1], centres.T)
        products.append(time.perf_counter() - t)
    product = median(products[1:])
    per_chunk = {"ferrovq": [], "sklearn": []}
    for _ in range(ROUNDS):
        for name, cls in (
            ("ferrovq", ferrovq.MiniBatchKMeans),
            ("sklearn", sklearn.cluster.MiniBatchKMeans),
        ):
            model = cls(n_clusters=k, random_state=0).partial_fit(chunks[0])
            t = time.perf_counter()
            for chunk in chunks[1:]:
                model.partial_fit(chunk)
            per_chunk[name].append((time.perf_counter() - t) / (len(chunks) - 1))
    ferro, skl = median(per_chunk["ferrovq"]), median(per_chunk["sklearn"])
    flops = 2 * len(chunks[1]) * d * k
    print(
        f"| {n:,} | {d} | {k} | {len(chunks[1]):,} | {product * 1e3:.2f} "
        f"({flops / product / 1e9:.0f} GFLOP/s) | {ferro * 1e3:.2f} | {skl * 1e3:.2f} "
        f"| {skl / 5 * 1e3:.2f} |",
        flush=True,
    )


def main():
    from threadpoolctl import threadpool_info

    import ferrovq

    ours, theirs = recorded_runs()
    ferrovq.BisectingKMeans(n_clusters=4, random_state=0).fit(make_data(2000, 16, 4, "float32"))
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"L3 {l3_bytes() >> 20} MiB; python {platform.python_version()}; BLAS: "
        + ", ".join(
            sorted(
                {
                    f"{i['internal_api']} {i.get('architecture') or ''}".strip()
                    for i in threadpool_info()
                    if i["internal_api"] != "ferrovq"
                }
            )
        )
    )
    print()
    print(
        "| n | d | k | two-centre runs | same runs as scikit-learn | row-iterations "
        "| GB read by runs beyond L3 | one pass GB/s | floor ms | ferrovq ms "
        "| scikit-learn ms | scikit-learn / 5 ms |"
    )
    print("|" + "---|" * 12)
    for case in BISECT_CASES:
        bisect_row(*case, ours, theirs)
    print()
    print(
        "| n | d | k | chunk rows | float32 product ms | ferrovq per chunk ms "
        "| scikit-learn per chunk ms | scikit-learn / 5 ms |"
    )
    print("|" + "---|" * 8)
    for case in PARTIAL_CASES:
        partial_row(*case)


if __name__ == "__main__":
    if {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"} & set(os.environ):
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        }
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    main()
