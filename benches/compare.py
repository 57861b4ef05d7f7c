"""Side-by-side k-means benchmark: ferrovq against SciPy, scikit-learn and faiss-cpu.

Run: ``make bench`` (or ``python benches/compare.py [--cases S,M] [--repeats 5]``).

Every run of a library on a case is its own subprocess, so its peak RSS is its own; the
peak is measured from the moment the data exists (VmHWM reset through /proc/self/clear_refs)
and reported as what the library added on top of the data. Each library starts from the
same initial centroids (k rows chosen at random with a fixed seed) and runs the same number
of Lloyd iterations. The runs go in rounds, every library once per round (after one
untimed warm-up call in its process), so that a slow spell of this shared machine falls on
all of them alike; figures are medians over the rounds in ms per iteration, and ratios are
the medians of the ratios within each round.
OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines here set and
which slow a current numpy; this script unsets both for its child processes and reports the
BLAS kernel the peers actually ran (threadpoolctl).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from statistics import median

CASES = {
    "S": dict(n=200_000, d=2, k=8, dtype="float64"),
    "M": dict(n=1_000_000, d=16, k=64, dtype="float64"),
    "L": dict(n=500_000, d=64, k=256, dtype="float64"),
    "L32": dict(n=500_000, d=64, k=256, dtype="float32"),
}
ITERS = 10


def make_data(n, d, k, dtype, seed=0):
    import numpy as np

    r = np.random.default_rng(seed)
    centres = r.normal(0, 10, size=(k, d))
    x = centres[r.integers(0, k, n)] + r.normal(size=(n, d))
    x = x.astype(dtype)
    init = x[r.choice(n, k, replace=False)].copy()
    return x, init


def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss():
    """Start a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM) and
    return the current RSS, so that peak minus it is what the library added on top of the
    data it was given."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def peak_rss_mb():
    return _status_mb("VmHWM")


def timed(fn, repeats):
    """Median time of `repeats` calls of `fn` after one untimed warm-up call (thread pools,
    first-touch page faults), and the last result."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2], out


def run_one(lib, case, repeats, threads):
    """Child process: time one library on one case; print a JSON line."""
    import numpy as np

    spec = CASES[case]
    x, init = make_data(**spec)
    base_rss = reset_peak_rss()
    res = {"lib": lib, "case": case}
    if lib == "ferrovq":
        import ferrovq

        w = threads
        t, _ = timed(
            lambda: ferrovq.kmeans2(x, init, iter=ITERS, minit="matrix", workers=w), repeats
        )
        res["ms_per_iter"] = 1e3 * t / ITERS
        t, _ = timed(lambda: ferrovq.vq(x, init, workers=w), repeats)
        res["vq_ms"] = 1e3 * t
        # Where the time goes: one more run, timing each iteration and counting the rows
        # compared with other codes than their own.
        marks, compared = [time.perf_counter()], []

        def note(_iteration, rows):
            marks.append(time.perf_counter())
            compared.append(rows)

        ferrovq.kmeans2(x, init, iter=ITERS, minit="matrix", workers=w, callback=note)
        res["iteration_ms"] = [1e3 * (b - a) for a, b in itertools.pairwise(marks)]
        res["compared_share"] = [rows / len(x) for rows in compared]
    elif lib == "scipy":
        from scipy.cluster import vq

        t, _ = timed(lambda: vq.kmeans2(x, init, iter=ITERS, minit="matrix"), repeats)
        res["ms_per_iter"] = 1e3 * t / ITERS
        t, _ = timed(lambda: vq.vq(x, init), repeats)
        res["vq_ms"] = 1e3 * t
    elif lib == "sklearn":
        from sklearn.cluster import KMeans

        def fit():
            km = KMeans(
                n_clusters=spec["k"], init=init, n_init=1, max_iter=ITERS, tol=0, algorithm="lloyd"
            )
            km.fit(x)
            return km.n_iter_

        t, n_iter = timed(fit, repeats)
        res["ms_per_iter"] = 1e3 * t / n_iter
    elif lib == "faiss":
        import faiss

        def fit():
            km = faiss.Kmeans(
                spec["d"],
                spec["k"],
                niter=ITERS,
                nredo=1,
                max_points_per_centroid=10**9,
                verbose=False,
            )
            km.train(
                np.ascontiguousarray(x, dtype=np.float32), init_centroids=init.astype(np.float32)
            )
            return km

        t, _ = timed(fit, repeats)
        res["ms_per_iter"] = 1e3 * t / ITERS
    elif lib == "seeding":
        from scipy.cluster import vq

        import ferrovq

        r = dict(n=200_000, d=16, k=64, dtype="float64")
        xs, _ = make_data(**r)
        t_f, _ = timed(
            lambda: ferrovq._vq._kpp(xs, r["k"], np.random.default_rng(0), threads), repeats
        )
        t_s = time.perf_counter()
        vq._kpp(xs, r["k"], np.random.default_rng(0), np)
        t_s = time.perf_counter() - t_s
        res.update(ferrovq_ms=1e3 * t_f, scipy_ms=1e3 * t_s)
        try:
            from sklearn.cluster import kmeans_plusplus

            t_k, _ = timed(
                lambda: kmeans_plusplus(xs, r["k"], n_local_trials=1, random_state=0), repeats
            )
            res["sklearn_ms"] = 1e3 * t_k
        except ImportError:
            pass
    elif lib == "matmul":
        a = np.random.default_rng(0).normal(size=(2048, 2048)).astype(spec["dtype"])
        t, _ = timed(lambda: a @ a, repeats)
        res["gflops"] = 2 * 2048**3 / t / 1e9
    res["peak_rss_mb"] = peak_rss_mb()
    res["base_rss_mb"] = base_rss
    res["input_mb"] = x.nbytes / 2**20
    try:
        from threadpoolctl import threadpool_info

        res["blas"] = sorted(
            {
                f"{i.get('internal_api')}:{i.get('architecture')}"
                for i in threadpool_info()
                if i.get("user_api") == "blas"
            }
        )
    except ImportError:
        pass
    print(json.dumps(res))


def child(lib, case, repeats, threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    cmd = [sys.executable, __file__, "--child", lib, case, str(repeats), str(threads or 0)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"lib": lib, "case": case, "error": last}
    return json.loads(p.stdout.strip().splitlines()[-1])


def rounds(case, libs, repeats):
    """Run every library `repeats` times on `case`, one process per run, in rounds (each
    round every library once, starting one further along), so that a slow spell of the
    machine falls on all of them alike. Returns each library's medians over the rounds, its
    median ratio to ferrovq in the same round, and numpy's matmul rate."""
    names = libs + (["ferrovq-1thread"] if case in ("M", "L") and "ferrovq" in libs else [])
    names.append("matmul")
    runs = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            lib, threads = ("ferrovq", 1) if name == "ferrovq-1thread" else (name, None)
            runs[name].append(child(lib, case, 1, threads))
    res, ratios = {}, {}
    for name, rs in runs.items():
        bad = [r for r in rs if "error" in r]
        if bad:
            res[name] = bad[0]
            continue
        out = dict(rs[0])
        for key in ("ms_per_iter", "vq_ms", "gflops"):
            if key in out:
                out[key] = median([r[key] for r in rs])
        for key in ("iteration_ms", "compared_share"):
            if key in out:
                out[key] = [median(v) for v in zip(*(r[key] for r in rs), strict=True)]
        out["extra_rss_mb"] = median([r["peak_rss_mb"] - r["base_rss_mb"] for r in rs])
        res[name] = out
        ours = runs.get("ferrovq", [])
        if "ms_per_iter" in out and ours and not any("error" in o for o in ours):
            pairs = zip(rs, ours, strict=True)
            ratios[name] = median(r["ms_per_iter"] / o["ms_per_iter"] for r, o in pairs)
    return res, ratios, res.pop("matmul")


def available(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="S,M,L,L32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--libs", default="ferrovq,scipy,sklearn,faiss", help="which to run")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        lib, case, repeats, threads = args.child
        run_one(lib, case, int(repeats), int(threads) or None)
        return
    modules = {"ferrovq": "ferrovq", "scipy": "scipy", "sklearn": "sklearn", "faiss": "faiss"}
    libs = [lib for lib in args.libs.split(",") if available(modules[lib])]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.platform()}"
    )
    print(
        f"python {platform.python_version()}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for the runs"
    )
    print(
        f"{ITERS} Lloyd iterations from the same k initial rows; {args.repeats} rounds (each library "
        "once per round, one process per run, after a warm-up call); medians over the rounds, "
        "ratios paired within a round\n"
    )
    for case in args.cases.split(","):
        spec = CASES[case]
        res, ratios, mm = rounds(case, libs, args.repeats)
        f = res.get("ferrovq", {})
        print(f"case {case}: n={spec['n']:,} d={spec['d']} k={spec['k']} {spec['dtype']}")
        flops = 2 * spec["n"] * spec["k"] * spec["d"]
        for lib, r in res.items():
            if "error" in r:
                print(f"  {lib:16s} error: {r['error']}")
                continue
            ratio = ratios.get(lib, float("nan"))
            extra = f" vq {r['vq_ms']:.1f} ms" if "vq_ms" in r else ""
            print(
                f"  {lib:16s} {r['ms_per_iter']:9.2f} ms/iter  ferrovq is {ratio:6.2f}x  "
                f"peak RSS +{r['extra_rss_mb']:6.0f} MB over the data (input {r['input_mb']:.0f} MB){extra}  {r.get('blas', '')}"
            )
        if "iteration_ms" in f:
            its = " ".join(f"{t:.0f}" for t in f["iteration_ms"])
            share = " ".join(f"{100 * c:.0f}" for c in f["compared_share"])
            print(
                f"  ferrovq per iteration (ms): {its}; rows compared with other codes (%): {share}"
            )
        if "vq_ms" in f:
            # One full assignment (vq) does all 2nkd flops; kmeans2 iterations skip most of
            # them by pruning, so their rate is only "effective".
            full = flops / (f["vq_ms"] / 1e3) / 1e9
            peak = mm.get("gflops", float("nan"))
            print(
                f"  full assignment (vq) {full:.1f} GFLOP/s = {100 * full / peak:.0f}% of numpy matmul ({peak:.1f} GFLOP/s); "
                f"kmeans2 effective {flops / (f['ms_per_iter'] / 1e3) / 1e9:.1f} GFLOP/s"
            )
        if "vq_ms" in f and "vq_ms" in res.get("scipy", {}):
            print(
                f"  vq alone: ferrovq {f['vq_ms']:.1f} ms, scipy {res['scipy']['vq_ms']:.1f} ms ({res['scipy']['vq_ms'] / f['vq_ms']:.2f}x)"
            )
        print()
    if available("scipy"):
        s = child("seeding", "M", args.repeats, None)
        if "error" not in s:
            line = f"k-means++ seeding n=200,000 d=16 k=64: ferrovq {s['ferrovq_ms']:.1f} ms, scipy {s['scipy_ms']:.0f} ms ({s['scipy_ms'] / s['ferrovq_ms']:.0f}x)"
            if "sklearn_ms" in s:
                line += f", scikit-learn kmeans_plusplus(n_local_trials=1) {s['sklearn_ms']:.1f} ms ({s['sklearn_ms'] / s['ferrovq_ms']:.2f}x)"
            print(line)
        else:
            print("seeding:", s["error"])


if __name__ == "__main__":
    main()
