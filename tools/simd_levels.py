"""ferrovq's answers on one machine at three SIMD levels, compared bit for bit.

ferrovq picks its kernels' builds at run time (AVX-512, AVX2 with FMA, or the x86-64
baseline) and promises the same bits from each. This script computes a digest of the
answers of the SciPy functions, the scikit-learn estimators (dense and sparse rows, both
float types, shapes that reach every kernel) and the seedings on fixed data, once on this
CPU and twice under QEMU's user-mode emulator: ``-cpu max`` (AVX2 and FMA, no AVX-512)
and ``-cpu Nehalem`` (no AVX). Any digest that differs is printed, and the exit status
is 1.

Run: ``make simd-levels`` (or ``python tools/simd_levels.py``), on x86-64 Linux with
QEMU's user-mode emulator (Debian's ``qemu-user``). About ten minutes: the emulated
baseline is slow.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# (rows, features, codes): the direct kernel, the lane-dots kernel, the row-dots kernel of
# two-centre runs, the tile kernel with integer ranking, and widths off the SIMD lanes.
SHAPES = [
    (2000, 2, 4),
    (3000, 8, 16),
    (3000, 16, 64),
    (2000, 64, 2),
    (2000, 64, 3),
    (3000, 64, 256),
    (1500, 200, 40),
    (1500, 48, 300),
    (2000, 33, 33),
]
SPARSE = (2000, 500, 0.02)
LEVELS = {"AVX2 and FMA, no AVX-512": "max", "no AVX (x86-64-v2)": "Nehalem"}


def make_data(path):
    """The inputs, drawn once on the host and read by every run."""
    rng = np.random.default_rng(7)
    arrays = {}
    for n, d, k in SHAPES:
        centres = rng.normal(0, 3, size=(k, d))
        arrays[f"{n}x{d}"] = centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))
    n, d, density = SPARSE
    s = sp.random(n, d, density=density, format="csr", random_state=3)
    arrays.update(sp_data=5 * s.data, sp_indices=s.indices, sp_indptr=s.indptr)
    np.savez(path, **arrays)


def digest(*arrays):
    """A short hash of the arrays' bytes."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    return h.hexdigest()[:16]


def answers(path):
    """One line per case and call: its name and the digest of what ferrovq answered."""
    import ferrovq
    from ferrovq import BisectingKMeans, KMeans, MiniBatchKMeans, kmeans_plusplus

    warnings.simplefilter("ignore")  # empty clusters and the like: the answers count
    data = np.load(path)
    lines = []

    def record(case, call, *arrays):
        lines.append(f"{case:28s} {call:18s} {digest(*arrays)}")

    for n, d, k in SHAPES:
        for dtype in ("float32", "float64"):
            X = data[f"{n}x{d}"].astype(dtype)
            case = f"{n}x{d} k={k} {dtype}"
            record(case, "whiten", ferrovq.whiten(X))
            record(case, "vq", *ferrovq.vq(X, X[:k]))
            record(case, "kmeans2 ++", *ferrovq.kmeans2(X, k, iter=5, minit="++", seed=1))
            record(case, "kmeans", *ferrovq.kmeans(X, k, iter=2, seed=1))
            km = KMeans(k, n_init=1, random_state=0, max_iter=20).fit(X)
            record(case, "KMeans", km.labels_, km.cluster_centers_, km.inertia_, km.n_iter_)
            record(case, "predict, transform", km.predict(X[::3]), km.transform(X[:200]))
            mb = MiniBatchKMeans(k, n_init=1, random_state=0, max_iter=5).fit(X)
            record(case, "MiniBatchKMeans", mb.labels_, mb.cluster_centers_, mb.inertia_)
            mb = MiniBatchKMeans(k, random_state=0)
            for chunk in np.array_split(X, 4):
                mb.partial_fit(chunk)
            record(case, "partial_fit", mb.labels_, mb.cluster_centers_, mb.inertia_)
            bk = BisectingKMeans(min(k, 16), random_state=0).fit(X)
            record(case, "BisectingKMeans", bk.labels_, bk.cluster_centers_, bk.inertia_)
            record(case, "kmeans_plusplus", *kmeans_plusplus(X, k, random_state=0))
    n, d, _ = SPARSE
    rows = sp.csr_matrix((data["sp_data"], data["sp_indices"], data["sp_indptr"]), (n, d))
    for dtype in ("float32", "float64"):
        S = rows.astype(dtype)
        case = f"sparse {n}x{d} {dtype}"
        km = KMeans(16, n_init=1, random_state=0).fit(S)
        record(case, "KMeans", km.labels_, km.cluster_centers_, km.inertia_, km.predict(S))
        record(case, "transform", km.transform(S[:50]))
        mb = MiniBatchKMeans(16, n_init=1, random_state=0).fit(S)
        record(case, "MiniBatchKMeans", mb.labels_, mb.cluster_centers_, mb.inertia_)
        bk = BisectingKMeans(8, random_state=0).fit(S)
        record(case, "BisectingKMeans", bk.labels_, bk.cluster_centers_, bk.inertia_)
        record(case, "kmeans_plusplus", *kmeans_plusplus(S, 16, random_state=0))
    return lines


def main():
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("simd_levels: needs QEMU's user-mode emulator (qemu-x86_64; Debian: qemu-user)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        make_data(path)
        here = answers(path)
        print(f"this CPU: {len(here)} answers")
        failed = False
        for name, cpu in LEVELS.items():
            run = [qemu, "-cpu", cpu, sys.executable, __file__, "--answers", str(path)]
            out = subprocess.run(run, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                sys.exit(f"simd_levels: the run under -cpu {cpu} failed:\n{out.stderr}")
            there = out.stdout.splitlines()
            differ = [(a, b) for a, b in zip(here, there, strict=False) if a != b]
            if len(there) != len(here):
                differ.append((f"{len(here)} answers", f"{len(there)} answers"))
            print(f"{name} (-cpu {cpu}): {len(differ)} of {len(here)} differ")
            for a, b in differ:
                print(f"  here:  {a}\n  there: {b}")
            failed |= bool(differ)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--answers"]:
        print("\n".join(answers(sys.argv[2])))
    else:
        main()
