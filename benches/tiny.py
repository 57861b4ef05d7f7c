"""Where a call on a tiny input spends its time: ``vq`` of 100 x 2 against 4 codes.

Run: ``python benches/tiny.py`` (after ``make install``).

Times the whole call of SciPy and of ferrovq, then ferrovq's parts one by one: the checks
and conversions of the Python layer (each as ``ferrovq.vq`` makes them) and the native call
(which runs on the calling thread with the GIL held: the work is far below the cost of
waking the thread pool). Each figure is the best of 7 runs of 20,000 calls, in
microseconds, including the ~0.05 us of calling the timed lambda.
"""

from __future__ import annotations

import timeit

import numpy as np
from scipy.cluster import vq as sv

import ferrovq as fv
from ferrovq import _core
from ferrovq._validation import as_matrices, asarray, native, workers_of

CALLS = 20_000


def us(fn):
    return min(timeit.repeat(fn, number=CALLS, repeat=7)) / CALLS * 1e6


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 2))
    c = x[:4].copy()
    ct = np.result_type(x, c)
    rows = [
        ("SciPy vq, whole call", us(lambda: sv.vq(x, c))),
        ("ferrovq vq, whole call", us(lambda: fv.vq(x, c))),
        (
            "  check_finite of both arrays",
            us(lambda: (asarray(x, True), asarray(c, True))),
        ),
        ("  result dtype", us(lambda: np.result_type(x, c))),
        ("  shapes and contiguity", us(lambda: (as_matrices(x, c), native(x, ct), native(c, ct)))),
        ("  workers argument", us(lambda: workers_of(None))),
        ("  native vq (calling thread, GIL held)", us(lambda: _core.vq(x, c, None))),
        ("for comparison: an empty Python function call", us(lambda: None)),
    ]
    width = max(len(name) for name, _ in rows)
    print("| part | us per call |\n|---|---:|")
    for name, t in rows:
        print(f"| {name:{width}s} | {t:6.2f} |")


if __name__ == "__main__":
    main()
