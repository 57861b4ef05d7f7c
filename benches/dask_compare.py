"""ferrovq.dask against dask-ml's KMeans and in-memory ferrovq, on a LocalCluster of two
single-threaded worker processes: seconds per Lloyd iteration from the same initial
centres, k-means|| seeding plus 10 iterations (with the inertia reached, against in-memory
k-means++), and the workers' peak memory.

Run: ``make bench-dask`` (or ``python benches/dask_compare.py [--n 2000000] [--seeds 3]``).

The data (k Gaussian blobs, float32) are generated on the workers and persisted in 8 row
chunks before any timing. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the run.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import warnings
from statistics import median

import numpy as np


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.pop("OPENBLAS_L2_SIZE", None)

    import dask.array as da
    import dask_ml
    import distributed
    from dask_ml.cluster import KMeans as DaskMLKMeans

    import ferrovq
    from ferrovq import dask as fd

    n, d, k = args.n, args.d, args.k
    chunk = n // 8
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    rs = da.random.RandomState(0)
    centres = rs.normal(0, 6, size=(k, d), chunks=(k, d)).compute()
    labels = rs.randint(0, k, size=n, chunks=chunk)
    x = (rs.normal(size=(n, d), chunks=(chunk, d)) + da.from_array(centres)[labels]).astype(
        np.float32
    )
    x = client.persist(x)
    distributed.wait(x)
    data = x.compute()  # the same rows in memory, for the in-memory runs and inertia
    init = data[np.random.default_rng(1).choice(n, k, replace=False)].copy()

    def inertia(c):
        return float(
            (ferrovq.vq(data, np.asarray(c, dtype=np.float32))[1].astype(np.float64) ** 2).sum()
        )

    iters = 10
    t_mem, _ = timed(lambda: ferrovq.kmeans2(data, init, iter=iters, minit="matrix"))
    t_fd, _ = timed(lambda: fd.kmeans2(x, init, iter=iters, minit="matrix"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = DaskMLKMeans(n_clusters=k, init=init, max_iter=iters, tol=0.0, random_state=0)
        t_dml, model = timed(lambda: model.fit(x))
    dml_iters = max(int(model.n_iter_), 1)

    seed_rows = []
    for seed in range(args.seeds):
        t_fs, (c_fs, _) = timed(
            lambda s=seed: fd.kmeans2(x, k, iter=iters, minit="k-means||", rng=s)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = DaskMLKMeans(n_clusters=k, init="k-means||", max_iter=iters, random_state=seed)
            t_ds, m = timed(lambda m=m: m.fit(x))
        c_mem, _ = ferrovq.kmeans2(data, k, iter=iters, minit="++", rng=seed)
        seed_rows.append((t_fs, t_ds, inertia(c_fs), inertia(m.cluster_centers_), inertia(c_mem)))
    worker_peaks = client.run(peak_mb)
    client.close()
    cluster.close()

    print(
        f"# {platform.machine()}, {os.cpu_count()} cores; LocalCluster(n_workers=2, "
        f"threads_per_worker=1, processes=True); {n:,} x {d} float32, k = {k}, 8 row chunks "
        f"persisted; dask-ml {dask_ml.__version__}, ferrovq {ferrovq.__version__}"
    )
    print()
    print("| | seconds per Lloyd iteration | vs dask-ml |")
    print("|---|---|---|")
    print(
        f"| in-memory `ferrovq.kmeans2` | {t_mem / iters:.3f} | {t_dml / dml_iters / (t_mem / iters):.1f}x |"
    )
    print(
        f"| `ferrovq.dask.kmeans2` | {t_fd / iters:.3f} | {t_dml / dml_iters / (t_fd / iters):.1f}x |"
    )
    print(f"| dask-ml `KMeans` ({dml_iters} iterations) | {t_dml / dml_iters:.3f} | 1.0x |")
    print()
    print(f"`ferrovq.dask` per iteration / in-memory: {(t_fd / iters) / (t_mem / iters):.2f}x")
    print()
    print(
        "| seed | ferrovq.dask k-means\\|\\| + 10 it. (s) | dask-ml (s) | speed-up | inertia ferrovq.dask / in-memory ++ | dask-ml / in-memory ++ |"
    )
    print("|---|---|---|---|---|---|")
    for s, (tf, td, i_f, i_d, i_m) in enumerate(seed_rows):
        print(
            f"| {s} | {tf:.2f} | {td:.2f} | {td / tf:.1f}x | {i_f / i_m:.3f} | {i_d / i_m:.3f} |"
        )
    print()
    print(
        f"median inertia ratio ferrovq.dask / in-memory k-means++: "
        f"{median(r[2] / r[4] for r in seed_rows):.3f}; "
        f"workers' peak RSS: {', '.join(f'{v:.0f} MB' for v in worker_peaks.values())}"
    )


if __name__ == "__main__":
    main()
