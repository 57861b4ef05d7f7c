"""ferrovq on embedding-like data (hundreds of features, hundreds to thousands of codes,
overlapping clusters) against faiss, scikit-learn and scikit-learn-intelex.

Run: ``make bench-embeddings`` (or ``python benches/embeddings.py [--sections ...]``).

The data: ``k`` true centres drawn N(0, 1), every row one of them plus unit noise, so the
clusters overlap as embeddings' do; float32 unless a section says otherwise. Every library
starts from the same initial rows and works on all of the data (faiss without its
subsampling). Sections:

- ``iterations``: milliseconds per iteration over the first five iterations, and the
  memory each library adds beyond the data (peak RSS in a process of its own);
- ``convergence``: ``KMeans(init=rows, n_init=1, tol=0, max_iter=25)`` against
  ``faiss.Kmeans`` with ``niter=25``, which stops early by its own rule: time, iterations
  run and the final inertia (computed the same way for both); ferrovq on the float32 rows
  and on the same rows in float64 (faiss computes in float32 only);
- ``rate``: the full assignment (``vq``, labels and distances) in GFLOP/s (``2 n k d``)
  against numpy's own matrix product on the same shapes (row blocks of at most 8,192
  into one buffer), alternating in one process, medians;
- ``seeding``: SciPy's '++' (``kmeans2(minit='++', iter=1)``) and scikit-learn's greedy
  k-means++ (``ferrovq.kmeans_plusplus``) at k = 1,024 on E128, against ``k`` streaming
  passes over the data;
- ``defaults``: ``KMeans(n_clusters=256, random_state=0)`` end to end on E384, ferrovq
  against scikit-learn;
- ``steps``: what each Lloyd iteration costs, against one full assignment (``vq`` of the
  same rows against the initial codes, labels and distances) and against one pass over
  the data (``x.sum()``): ``kmeans2(minit='matrix', iter=30)`` with a callback that
  notes the time of each iteration and the rows compared, three runs alternating with
  the assignment and the passes, medians; E128 and E768, float32 and float64. The worst
  iteration (it includes the call's own set-up, as the assignment does), the first eight,
  and the iterations that compared under 1% of the rows, in passes;
- ``transform``: ``KMeans.transform`` (every row's distance to every centre) of ferrovq
  against scikit-learn's, each fitted one iteration from the same rows, float32 and
  float64: the median of five calls in a process of its own, three processes alternating
  per library, medians;
- ``parallel``: ``KMeans(n_clusters=k, init='k-means||', random_state=0)`` end to end on
  E128 and E768 against ``faiss.Kmeans(d, k)`` with its defaults (random rows, 25
  iterations at most, its early stop), alternating, medians of three runs each: time,
  iterations and final inertia (computed the same way for both).

Each measurement runs in a subprocess of its own with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset; the BLAS kernel the peers ran is reported (threadpoolctl).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from statistics import median

from compare import peak_rss_mb, reset_peak_rss

CASES = {
    "E128": (200_000, 128, 1024),
    "E384": (100_000, 384, 256),
    "E768": (50_000, 768, 1024),
}
LIBS = ["ferrovq", "faiss", "sklearn", "sklearnex"]
ITERS = 5
# Seconds to wait before each timed call of the rate section (see task_rate).
SETTLE_S = 0.25

# (d, k) of the rate section; rows chosen so that a call does about 40 GFLOP.
RATE_SHAPES = [(64, 256), (128, 1024), (384, 256), (768, 1024), (1536, 1024), (128, 65536)]
SECTIONS = [
    "iterations",
    "convergence",
    "rate",
    "seeding",
    "defaults",
    "steps",
    "transform",
    "parallel",
]
PARALLEL_CASES = ["E128", "E768"]
STEP_CASES = ["E128", "E768"]
STEP_ITERS = 30
STEP_RUNS = 3
PARALLEL_RUNS = 3
# (n, d, k) of the transform section: outputs of 6-80 MB.
TRANSFORM_SHAPES = [(100_000, 16, 64), (20_000, 128, 1024), (10_000, 768, 1024)]
TRANSFORM_RUNS = 3


def make_embeddings(n, d, k, dtype="float32", seed=0):
    """Rows around ``k`` N(0, 1) centres with unit noise, and ``k`` distinct rows as the
    initial code book."""
    import numpy as np

    r = np.random.default_rng(seed)
    centres = r.normal(size=(k, d)).astype(dtype)
    x = centres[r.integers(0, k, n)]
    x += r.normal(size=(n, d)).astype(dtype)
    init = x[r.choice(n, k, replace=False)].copy()
    return x, init


def inertia(x, centres):
    """Sum of squared distances of the rows to their nearest centre, in float64."""
    import numpy as np

    import ferrovq

    _, dist = ferrovq.vq(x.astype(np.float64), centres.astype(np.float64))
    return float(np.square(dist).sum())


def faiss_fit(x, init, niter):
    """faiss's Lloyd iterations from ``init`` on every row; the centres and iterations run."""
    import faiss
    import numpy as np

    n, d = x.shape
    k = len(init)
    cp = faiss.ClusteringParameters()
    cp.niter = niter
    cp.max_points_per_centroid = n  # no subsampling
    clus = faiss.Clustering(d, k, cp)
    clus.centroids.resize(0)
    faiss.copy_array_to_vector(np.ascontiguousarray(init, np.float32).ravel(), clus.centroids)
    clus.train(np.ascontiguousarray(x, np.float32), faiss.IndexFlatL2(d))
    centres = faiss.vector_to_array(clus.centroids).reshape(k, d)
    return centres, clus.iteration_stats.size()


def estimator_fit(lib, x, init, max_iter):
    """``KMeans(init=rows, n_init=1, tol=0)`` of ``lib``: the centres and iterations run."""
    module = {"ferrovq": "ferrovq", "sklearn": "sklearn.cluster", "sklearnex": "sklearnex.cluster"}
    KMeans = __import__(module[lib], fromlist=["KMeans"]).KMeans
    km = KMeans(len(init), init=init, n_init=1, max_iter=max_iter, tol=0).fit(x)
    return km.cluster_centers_, km.n_iter_


def fit(lib, x, init, max_iter):
    if lib == "faiss":
        return faiss_fit(x, init, max_iter)
    return estimator_fit(lib, x, init, max_iter)


def blas_kernels():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return sorted(
        {
            f"{i.get('internal_api')}:{i.get('architecture')}"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        }
    )


def task_iterations(lib, case):
    x, init = make_embeddings(*CASES[case])
    fit(lib, x[:2000], init[:8], 1)  # warm-up: thread pools, lazy imports
    base = reset_peak_rss()
    t = time.perf_counter()
    _, iters = fit(lib, x, init, ITERS)
    t = time.perf_counter() - t
    return {
        "ms_per_iter": 1e3 * t / iters,
        "iterations": iters,
        "extra_mb": peak_rss_mb() - base,
        "data_mb": x.nbytes / 2**20,
    }


def task_convergence(lib, case, dtype="float32"):
    x, init = make_embeddings(*CASES[case])
    x, init = x.astype(dtype, copy=False), init.astype(dtype, copy=False)
    fit(lib, x[:2000], init[:8], 1)
    base = reset_peak_rss()
    t = time.perf_counter()
    centres, iters = fit(lib, x, init, 25)
    t = time.perf_counter() - t
    extra = peak_rss_mb() - base
    return {"s": t, "iterations": iters, "inertia": inertia(x, centres), "extra_mb": extra}


def task_rate(dtype, d, k):
    import numpy as np

    import ferrovq

    n = max(4096, int(40e9 / (2 * d * k)))
    r = np.random.default_rng(0)
    x = r.normal(size=(n, d)).astype(dtype)
    book = r.normal(size=(k, d)).astype(dtype)
    book_t = np.ascontiguousarray(book.T)
    rows = min(8192, max(128, 2**23 // k))  # blocks of at most 32 MB of products
    buf = np.empty((rows, k), dtype)

    def matmul():
        for i in range(0, n, rows):
            block = x[i : i + rows]
            np.matmul(block, book_t, out=buf[: len(block)])

    def ours():
        ferrovq.vq(x, book, check_finite=False)

    ours(), matmul()
    t_ours, t_mm = [], []
    for _ in range(3):
        for fn, times in ((ours, t_ours), (matmul, t_mm)):
            # OpenBLAS's threads keep spinning for a while after a product returns; on two
            # cores that took a sixth of the cores from a `vq` timed straight after one
            # (384 x 256: 122 against 146 GFLOP/s with this pause). Each call starts idle.
            time.sleep(SETTLE_S)
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    flop = 2 * n * k * d / 1e9
    return {"n": n, "ours": flop / median(t_ours), "numpy": flop / median(t_mm)}


def task_seeding(kind):
    import ferrovq

    n, d, k = CASES["E128"]
    x, _ = make_embeddings(n, d, k)
    ferrovq.kmeans_plusplus(x[:2000], 8, random_state=0)
    passes = []
    for _ in range(5):
        t = time.perf_counter()
        x.sum()  # one streaming read
        passes.append(time.perf_counter() - t)
    t = time.perf_counter()
    if kind == "scipy":
        ferrovq.kmeans2(x, k, iter=1, minit="++", rng=0)
    else:
        ferrovq.kmeans_plusplus(x, k, random_state=0)
    t = time.perf_counter() - t
    return {"s": t, "pass_ms": 1e3 * median(passes), "k": k}


def task_defaults(lib):
    x, _ = make_embeddings(*CASES["E384"])
    module = {"ferrovq": "ferrovq", "sklearn": "sklearn.cluster"}
    KMeans = __import__(module[lib], fromlist=["KMeans"]).KMeans
    KMeans(4, random_state=0).fit(x[:2000])
    t = time.perf_counter()
    km = KMeans(n_clusters=256, random_state=0).fit(x)
    t = time.perf_counter() - t
    return {"s": t, "iterations": int(km.n_iter_), "inertia": float(km.inertia_)}


def task_parallel(lib, case):
    x, _ = make_embeddings(*CASES[case])
    _, d, k = CASES[case]
    if lib == "faiss":
        import faiss

        km = faiss.Kmeans(d, 8)
        km.train(x[:2000])  # warm-up
        t = time.perf_counter()
        km = faiss.Kmeans(d, k)
        km.train(x)
        t = time.perf_counter() - t
        centres, iters = km.centroids, len(km.iteration_stats)
    else:
        import ferrovq

        ferrovq.KMeans(8, init="k-means||", random_state=0).fit(x[:2000])
        t = time.perf_counter()
        km = ferrovq.KMeans(k, init="k-means||", random_state=0).fit(x)
        t = time.perf_counter() - t
        centres, iters = km.cluster_centers_, km.n_iter_
    return {"s": t, "iterations": int(iters), "inertia": inertia(x, centres)}


def task_steps(case, dtype):
    import numpy as np

    import ferrovq

    x, init = make_embeddings(*CASES[case])
    x, init = x.astype(dtype, copy=False), init.astype(dtype, copy=False)
    ferrovq.kmeans2(x[:2000], init[:8], iter=2, minit="matrix")
    runs, full, passes, compared = [], [], [], []
    for _ in range(STEP_RUNS):
        marks, rows = [time.perf_counter()], []

        def note(_iteration, count, marks=marks, rows=rows):
            marks.append(time.perf_counter())
            rows.append(count)

        marks[0] = time.perf_counter()
        ferrovq.kmeans2(x, init, iter=STEP_ITERS, minit="matrix", callback=note)
        runs.append(np.diff(marks))
        compared = rows
        t = time.perf_counter()
        ferrovq.vq(x, init)
        full.append(time.perf_counter() - t)
        for _ in range(3):
            t = time.perf_counter()
            x.sum()
            passes.append(time.perf_counter() - t)
    return {
        "iteration_s": np.median(np.array(runs), axis=0).tolist(),
        "compared": compared,
        "full_s": median(full),
        "pass_s": median(passes),
        "n": len(x),
    }


def task_transform(lib, dtype, n, d, k):
    module = {"ferrovq": "ferrovq", "sklearn": "sklearn.cluster"}
    KMeans = __import__(module[lib], fromlist=["KMeans"]).KMeans
    x, init = make_embeddings(n, d, k)
    x, init = x.astype(dtype, copy=False), init.astype(dtype, copy=False)
    km = KMeans(k, init=init, n_init=1, max_iter=1).fit(x)
    km.transform(x[:1000])
    times = []
    for _ in range(5):
        t = time.perf_counter()
        km.transform(x)
        times.append(time.perf_counter() - t)
    return {"s": median(times)}


TASKS = {
    "iterations": task_iterations,
    "convergence": task_convergence,
    "rate": task_rate,
    "seeding": task_seeding,
    "defaults": task_defaults,
    "steps": task_steps,
    "transform": task_transform,
    "parallel": task_parallel,
}


def child(task, *args):
    """Run one task in a fresh process (OpenBLAS's variables unset); its JSON answer."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    cmd = [sys.executable, __file__, "--child", task, *map(str, args)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def cpu_model():
    """The CPU's name and its widest SIMD (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.platform()
    pairs = (line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in pairs}
    flags = set(fields.get("flags", "").split())
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    name = fields.get("model name", "?")
    return f"{name}, {simd}"


def available(lib):
    import importlib.util

    module = {"sklearn": "sklearn", "sklearnex": "sklearnex", "faiss": "faiss"}.get(lib, lib)
    return importlib.util.find_spec(module) is not None


def section_iterations(libs):
    print(f"\n### First {ITERS} iterations from the same rows (float32)\n")
    print(
        "| case | n x d, k | "
        + " | ".join(f"{lib} ms/iter" for lib in libs)
        + " | "
        + " | ".join(f"{lib} / ferrovq" for lib in libs[1:])
        + " | ferrovq extra MB (data MB) |"
    )
    print("|" + "---|" * (3 + 2 * len(libs) - 1))
    for case, (n, d, k) in CASES.items():
        res = {lib: child("iterations", lib, case) for lib in libs}
        ms = [res[lib].get("ms_per_iter") for lib in libs]
        cells = [f"{m:.0f}" if m else res[lib]["error"] for m, lib in zip(ms, libs, strict=True)]
        ratios = [f"{m / ms[0]:.2f}x" if m and ms[0] else "-" for m in ms[1:]]
        ours = res["ferrovq"]
        print(
            f"| {case} | {n:,} x {d}, {k} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(ratios)
            + f" | {ours.get('extra_mb', 0):.0f} ({ours.get('data_mb', 0):.0f}) |"
        )


def section_convergence(libs):
    runs = [("ferrovq", "float32"), ("ferrovq", "float64")]
    runs += [("faiss", "float32")] if "faiss" in libs else []
    print("\n### To convergence from the same rows (at most 25 iterations)\n")
    print("| case | library | rows | seconds | iterations | inertia | faiss / ferrovq |")
    print("|---|---|---|---|---|---|---|")
    for case in ("E128", "E768"):
        res = {(lib, dt): child("convergence", lib, case, dt) for lib, dt in runs}
        faiss_s = res.get(("faiss", "float32"), {}).get("s")
        for (lib, dtype), r in res.items():
            if "error" in r:
                print(f"| {case} | {lib} | {dtype} | {r['error']} | | | |")
                continue
            ratio = f"{faiss_s / r['s']:.2f}x" if lib == "ferrovq" and faiss_s else ""
            print(
                f"| {case} | {lib} | {dtype} | {r['s']:.2f} | {r['iterations']} "
                f"| {r['inertia']:.6g} | {ratio} |"
            )


def section_rate():
    print("\n### Full assignment against numpy's matrix product (same shapes, one process)\n")
    print("| dtype | d | k | rows | vq GFLOP/s | numpy matmul GFLOP/s | share |")
    print("|---|---|---|---|---|---|---|")
    for dtype in ("float32", "float64"):
        for d, k in RATE_SHAPES:
            r = child("rate", dtype, d, k)
            if "error" in r:
                print(f"| {dtype} | {d} | {k} | {r['error']} | | | |")
                continue
            print(
                f"| {dtype} | {d} | {k:,} | {r['n']:,} | {r['ours']:.0f} | {r['numpy']:.0f} "
                f"| {r['ours'] / r['numpy']:.0%} |"
            )


def section_seeding():
    print("\n### Seeding 1,024 codes on E128 (200,000 x 128 float32)\n")
    print("| seeding | seconds | one pass over the data, ms | seconds / (k passes) |")
    print("|---|---|---|---|")
    names = {
        "scipy": "SciPy's '++' (kmeans2, iter=1)",
        "greedy": "scikit-learn's greedy k-means++",
    }
    for kind, name in names.items():
        r = child("seeding", kind)
        if "error" in r:
            print(f"| {name} | {r['error']} | | |")
            continue
        ratio = r["s"] / (r["k"] * r["pass_ms"] / 1e3)
        print(f"| {name} | {r['s']:.2f} | {r['pass_ms']:.1f} | {ratio:.1f}x |")


def section_defaults(libs):
    libs = [lib for lib in libs if lib in ("ferrovq", "sklearn")]
    print("\n### KMeans(n_clusters=256, random_state=0) end to end on E384\n")
    print("| library | seconds | iterations | inertia | / ferrovq |")
    print("|---|---|---|---|---|")
    res = {lib: child("defaults", lib) for lib in libs}
    ours = res["ferrovq"].get("s")
    for lib, r in res.items():
        if "error" in r:
            print(f"| {lib} | {r['error']} | | | |")
            continue
        ratio = f"{r['s'] / ours:.2f}x" if lib != "ferrovq" and ours else ""
        print(f"| {lib} | {r['s']:.2f} | {r['iterations']} | {r['inertia']:.6g} | {ratio} |")


def section_parallel(libs):
    libs = [lib for lib in ("ferrovq", "faiss") if lib in libs]
    print("\n### KMeans(init='k-means||') end to end against faiss.Kmeans's defaults\n")
    print("| case | library | seconds | iterations | inertia | / ferrovq |")
    print("|---|---|---|---|---|---|")
    for case in PARALLEL_CASES:
        runs = {lib: [] for lib in libs}
        for _ in range(PARALLEL_RUNS):
            for lib in libs:
                runs[lib].append(child("parallel", lib, case))
        ours = None
        for lib, rs in runs.items():
            errors = [r["error"] for r in rs if "error" in r]
            if errors:
                print(f"| {case} | {lib} | {errors[0]} | | | |")
                continue
            t = median(r["s"] for r in rs)
            ours = t if lib == "ferrovq" else ours
            ratio = f"{t / ours:.2f}x" if lib != "ferrovq" and ours else ""
            r = rs[0]
            print(
                f"| {case} | {lib} | {t:.2f} | {r['iterations']} | {r['inertia']:.6g} | {ratio} |"
            )


def section_steps():
    print(f"\n### Each iteration against one full assignment ({STEP_ITERS} iterations)\n")
    print(
        "| case | rows | assignment ms | worst iteration | iterations 1-8 "
        "(x assignment) | rows compared, 1-8 | under 1% compared: passes (median, max) |"
    )
    print("|---|---|---|---|---|---|---|")
    for case in STEP_CASES:
        for dtype in ("float32", "float64"):
            r = child("steps", case, dtype)
            if "error" in r:
                print(f"| {case} | {dtype} | {r['error']} | | | | |")
                continue
            full, times = r["full_s"], r["iteration_s"]
            ratios = [t / full for t in times]
            worst = max(range(len(ratios)), key=ratios.__getitem__)
            shares = [c / r["n"] for c in r["compared"]]
            quiet = [t / r["pass_s"] for t, c in zip(times, shares, strict=True) if c < 0.01]
            late = f"{median(quiet):.1f}, {max(quiet):.1f} ({len(quiet)})" if quiet else "none"
            print(
                f"| {case} | {dtype} | {1e3 * full:.0f} | {ratios[worst]:.2f}x "
                f"(iteration {worst + 1}) | "
                + " ".join(f"{v:.2f}" for v in ratios[:8])
                + " | "
                + " ".join(f"{c:.0%}" for c in shares[:8])
                + f" | {late} |"
            )


def section_transform(libs):
    libs = [lib for lib in ("ferrovq", "sklearn") if lib in libs]
    print(
        f"\n### KMeans.transform, every row to every centre (median of {TRANSFORM_RUNS} "
        "processes each)\n"
    )
    print(
        "| n x d, k | dtype | "
        + " | ".join(f"{lib} ms" for lib in libs)
        + " | scikit-learn / ferrovq |"
    )
    print("|---|---|" + "---|" * (len(libs) + 1))
    for n, d, k in TRANSFORM_SHAPES:
        for dtype in ("float32", "float64"):
            runs = {lib: [] for lib in libs}
            for _ in range(TRANSFORM_RUNS):
                for lib in libs:
                    runs[lib].append(
                        child("transform", lib, dtype, n, d, k).get("s", float("nan"))
                    )
            ms = [1e3 * median(runs[lib]) for lib in libs]
            ratio = f"{ms[-1] / ms[0]:.2f}x" if len(ms) == 2 else ""
            cells = " | ".join(f"{v:.1f}" for v in ms)
            print(f"| {n:,} x {d}, {k} | {dtype} | {cells} | {ratio} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, *rest = args.child
        rest = [int(a) if a.isdigit() else a for a in rest]
        out = TASKS[task](*rest)
        out["blas"] = blas_kernels()
        print(json.dumps(out))
        return
    libs = [lib for lib in args.libs.split(",") if available(lib)]
    import numpy as np

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu_model()}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}; "
        f"command: python benches/embeddings.py --sections {args.sections}"
    )
    print(
        "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for the runs; BLAS kernel run: "
        + ", ".join(child("rate", "float32", 64, 256).get("blas", []))
    )
    for section in args.sections.split(","):
        if section == "iterations":
            section_iterations(libs)
        elif section == "convergence":
            section_convergence(libs)
        elif section == "rate":
            section_rate()
        elif section == "seeding":
            section_seeding()
        elif section == "defaults":
            section_defaults(libs)
        elif section == "steps":
            section_steps()
        elif section == "transform":
            section_transform(libs)
        elif section == "parallel":
            section_parallel(libs)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
