"""ferrovq.KMeans against scikit-learn, scikit-learn-intelex and faiss: end-to-end ``fit``
with the defaults (k-means++, n_init='auto', tol=1e-4, to convergence) and ``predict``,
at sizes from 100 rows to a million; then GridSearchCV with n_jobs=1 and 2; then the rest
of the family against scikit-learn's: ``MiniBatchKMeans.fit``, ``partial_fit`` per chunk
(a twentieth of the rows) and ``BisectingKMeans.fit``, with their defaults.

Run: ``make bench-sklearn`` (or ``python benches/sklearn_compare.py [--quick | --family]``;
``--family`` runs the family's table alone).

Every library runs each case in its own subprocess (peak RSS is its own, measured from the
moment the data exists, as in compare.py), after an untimed warm-up fit on small data.
Figures are medians over the repeats. faiss has no k-means++ and runs its own defaults
(random initial centres, 25 iterations) on float32 (float64 data is converted inside the
timed call, as a user would have to). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for
the children; the BLAS kernel the peers ran is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from statistics import median

from compare import peak_rss_mb, reset_peak_rss

CASES = [
    dict(n=100, d=2, k=4, dtype="float64"),
    dict(n=1_000, d=8, k=16, dtype="float64"),
    dict(n=10_000, d=16, k=16, dtype="float32"),
    dict(n=100_000, d=16, k=16, dtype="float32"),
    dict(n=100_000, d=16, k=64, dtype="float64"),
    dict(n=100_000, d=64, k=64, dtype="float32"),
    dict(n=1_000_000, d=16, k=16, dtype="float32"),
]
LIBS = ["ferrovq", "sklearn", "sklearnex", "faiss"]


def make_data(n, d, k, dtype, seed=0):
    import numpy as np

    r = np.random.default_rng(seed)
    centres = r.normal(0, 6, size=(k, d))
    return (centres[r.integers(0, k, n)] + r.normal(size=(n, d))).astype(dtype)


def estimator(lib, k):
    """A fit/predict pair for `lib` with its defaults and random_state=0."""
    if lib == "faiss":
        import faiss
        import numpy as np

        class Faiss:
            def fit(self, X):
                self.km = faiss.Kmeans(X.shape[1], k, seed=0)
                self.km.train(np.ascontiguousarray(X, dtype=np.float32))
                self.n_iter_ = self.km.cp.niter
                return self

            def predict(self, X):
                return self.km.index.search(np.ascontiguousarray(X, dtype=np.float32), 1)[1][:, 0]

        return Faiss()
    module = {"ferrovq": "ferrovq", "sklearn": "sklearn.cluster", "sklearnex": "sklearnex.cluster"}
    KMeans = __import__(module[lib], fromlist=["KMeans"]).KMeans
    return KMeans(n_clusters=k, random_state=0)


def timed_call(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_one(lib, case, repeats, labels_path):
    import numpy as np

    estimator(lib, 4).fit(make_data(500, case["d"], 4, case["dtype"], seed=1))  # warm-up
    X = make_data(**case)
    base = reset_peak_rss()
    fits, predicts = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        model = estimator(lib, case["k"]).fit(X)
        fits.append(time.perf_counter() - t)
        t = time.perf_counter()
        labels = model.predict(X)
        predicts.append(time.perf_counter() - t)
    np.save(labels_path, np.asarray(model.labels_ if lib != "faiss" else labels))
    seeding = float("nan")
    if lib == "ferrovq":
        from ferrovq import kmeans_plusplus

        centred = X - X.mean(axis=0)
        seeding = median(
            timed_call(lambda: kmeans_plusplus(centred, case["k"], random_state=0))
            for _ in range(repeats)
        )
    out = dict(
        seeding=seeding,
        fit=median(fits),
        predict=median(predicts),
        n_iter=int(model.n_iter_),
        extra_mb=peak_rss_mb() - base,
    )
    if lib == "sklearn":
        from threadpoolctl import threadpool_info

        out["blas"] = sorted(
            {f"{i['internal_api']} {i.get('architecture', '')}".strip() for i in threadpool_info()}
        )
    return out


def child(lib, case, repeats, labels_path, mode="--child"):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    cmd = [sys.executable, __file__, mode, json.dumps([lib, case, repeats, labels_path])]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(f"{lib} failed on {case}:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


FAMILY_CASES = [
    dict(n=1_000, d=16, k=8, dtype="float32"),
    dict(n=100_000, d=16, k=64, dtype="float32"),
    dict(n=1_000_000, d=16, k=64, dtype="float32"),
    dict(n=500_000, d=64, k=256, dtype="float32"),
]


def run_family(lib, case, repeats):
    """Seconds for `lib`'s MiniBatchKMeans.fit, its partial_fit per chunk and
    BisectingKMeans.fit on `case` (defaults, random_state=0; medians of `repeats`), and
    MiniBatchKMeans's steps and labels (to compare)."""
    import numpy as np

    if lib == "ferrovq":
        from ferrovq import BisectingKMeans, MiniBatchKMeans
    else:
        from sklearn.cluster import BisectingKMeans, MiniBatchKMeans
    X = make_data(**case)
    k = case["k"]
    MiniBatchKMeans(n_clusters=4, random_state=0).fit(X[:500])  # warm-up
    fits, partials, bisects = [], [], []
    chunks = np.array_split(X, 20)
    for _ in range(repeats):
        t = time.perf_counter()
        model = MiniBatchKMeans(n_clusters=k, random_state=0).fit(X)
        fits.append(time.perf_counter() - t)
        stream = MiniBatchKMeans(n_clusters=k, random_state=0).partial_fit(chunks[0])
        t = time.perf_counter()
        for chunk in chunks[1:]:
            stream.partial_fit(chunk)
        partials.append((time.perf_counter() - t) / (len(chunks) - 1))
        bisects.append(timed_call(lambda: BisectingKMeans(n_clusters=k, random_state=0).fit(X)))
    return dict(
        fit=median(fits),
        partial=median(partials),
        bisect=median(bisects),
        steps=int(model.n_steps_),
        labels=model.labels_.tolist(),
    )


def family_table():
    print()
    print(
        "| n | d | k | MiniBatchKMeans.fit ms: ferrovq / scikit-learn | vs scikit-learn "
        "| steps (ours / scikit-learn) | labels = scikit-learn | partial_fit per chunk ms "
        "| vs scikit-learn | BisectingKMeans.fit ms | vs scikit-learn |"
    )
    print("|" + "---|" * 11)
    for case in FAMILY_CASES:
        f, s = (
            child(lib, case, repeats_for(case["n"]), None, "--family-child") for lib in LIBS[:2]
        )
        same = f.pop("labels") == s.pop("labels")
        print(
            f"| {case['n']:,} | {case['d']} | {case['k']} "
            f"| {f['fit'] * 1e3:.1f} / {s['fit'] * 1e3:.1f} | {s['fit'] / f['fit']:.1f}x "
            f"| {f['steps']} / {s['steps']} | {'yes' if same else 'no'} "
            f"| {f['partial'] * 1e3:.2f} / {s['partial'] * 1e3:.2f} "
            f"| {s['partial'] / f['partial']:.1f}x "
            f"| {f['bisect'] * 1e3:.1f} / {s['bisect'] * 1e3:.1f} "
            f"| {s['bisect'] / f['bisect']:.1f}x |",
            flush=True,
        )


def repeats_for(n):
    return 7 if n <= 10_000 else 3 if n <= 100_000 else 1


def _import_estimators():
    import sklearn.cluster

    from ferrovq import KMeans

    return KMeans.__name__ + sklearn.cluster.KMeans.__name__


def grid_search(n_jobs, workers=None, lib="ferrovq"):
    """GridSearchCV over n_clusters with `lib`'s KMeans (ferrovq's with `workers` threads
    per fit, None for the default, which in joblib's worker processes follows their thread
    limits): seconds, the worker processes already started."""
    from joblib import Parallel, delayed
    from sklearn.cluster import KMeans as SKLearnKMeans
    from sklearn.model_selection import GridSearchCV

    from ferrovq import KMeans

    # Start the worker processes and import there what the fits import.
    Parallel(n_jobs=n_jobs)(delayed(_import_estimators)() for _ in range(4 * n_jobs))
    X = make_data(200_000, 16, 16, "float32")
    estimator = (
        KMeans(random_state=0, workers=workers)
        if lib == "ferrovq"
        else SKLearnKMeans(random_state=0)
    )
    grid = GridSearchCV(
        estimator,
        {"n_clusters": [8, 12, 16, 20]},
        cv=3,
        n_jobs=n_jobs,
    )
    t = time.perf_counter()
    grid.fit(X)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--family-child")
    ap.add_argument("--quick", action="store_true", help="cases up to 100,000 rows only")
    ap.add_argument("--family", action="store_true", help="the family's table alone")
    args = ap.parse_args()
    if args.child:
        lib, case, repeats, path = json.loads(args.child)
        print(json.dumps(run_one(lib, case, repeats, path)))
        return
    if args.family_child:
        lib, case, repeats, _ = json.loads(args.family_child)
        print(json.dumps(run_family(lib, case, repeats)))
        return
    if args.family:
        family_table()
        return
    import numpy as np

    cases = [c for c in CASES if not args.quick or c["n"] <= 100_000]
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset"
    )
    print()
    print(
        "| n | d | k | dtype | ferrovq fit ms | scikit-learn | intelex | faiss "
        "| vs scikit-learn | vs intelex | vs faiss | predict ms | predict vs scikit-learn "
        "| predict vs intelex | n_iter (ours / scikit-learn) | labels = scikit-learn "
        "| extra MB (ours / scikit-learn) | ferrovq seeding ms |"
    )
    print("|" + "---|" * 18)
    blas = None
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            res = {}
            for lib in LIBS:
                path = os.path.join(tmp, f"{lib}.npy")
                res[lib] = child(lib, case, repeats_for(case["n"]), path)
            blas = blas or res["sklearn"].get("blas")
            same = np.array_equal(np.load(f"{tmp}/ferrovq.npy"), np.load(f"{tmp}/sklearn.npy"))
            f, s, x, fa = (res[lib] for lib in LIBS)
            print(
                f"| {case['n']:,} | {case['d']} | {case['k']} | {case['dtype']} "
                f"| {f['fit'] * 1e3:.2f} | {s['fit'] * 1e3:.2f} | {x['fit'] * 1e3:.2f} "
                f"| {fa['fit'] * 1e3:.2f} | {s['fit'] / f['fit']:.1f}x | {x['fit'] / f['fit']:.1f}x "
                f"| {fa['fit'] / f['fit']:.1f}x | {f['predict'] * 1e3:.3f} "
                f"| {s['predict'] / f['predict']:.1f}x | {x['predict'] / f['predict']:.1f}x "
                f"| {f['n_iter']} / {s['n_iter']} | {'yes' if same else 'no'} "
                f"| {f['extra_mb']:.0f} / {s['extra_mb']:.0f} | {f['seeding'] * 1e3:.2f} |",
                flush=True,
            )
    print()
    print(f"scikit-learn's BLAS: {', '.join(blas or [])}")
    one, two, over = grid_search(1), grid_search(2), grid_search(2, workers=2)
    sk_one, sk_two = grid_search(1, lib="sklearn"), grid_search(2, lib="sklearn")
    print(
        f"GridSearchCV(KMeans, 4 candidates x 3 folds, 200,000 x 16): ferrovq n_jobs=1 "
        f"{one:.2f} s, n_jobs=2 {two:.2f} s, n_jobs=2 with workers=2 forced (4 threads on "
        f"{os.cpu_count()} cores) {over:.2f} s; scikit-learn n_jobs=1 {sk_one:.2f} s, "
        f"n_jobs=2 {sk_two:.2f} s"
    )
    family_table()


if __name__ == "__main__":
    main()
