"""Throughput of many Python threads calling ``ferrovq.vq`` on small inputs at once.

Run: ``make bench-threads``, which runs this script under CPython 3.14 and the free-threaded
3.14t, each in a venv holding the wheel and numpy only; or ``python benches/threads.py``
under any interpreter. Prints one markdown table row per (input, thread count).

Each of 1, 2 and 8 threads calls ``vq`` on its own copy of the input for `SECONDS`; the
figure is all threads' calls per second together, the median of `ROUNDS` rounds. Calls this
small run on the calling thread (waking the thread pool would cost more than the work), so
with a GIL the threads take turns, and without one they can use every core.
"""

from __future__ import annotations

import statistics
import sys
import sysconfig
import threading
import time

import numpy as np

import ferrovq as fv

SECONDS = 1.0
ROUNDS = 5
THREADS = (1, 2, 8)
INPUTS = {
    "100 x 2, k = 4": (100, 2, 4),
    "1,000 x 16, k = 16": (1000, 16, 16),
}


def calls_per_second(n, d, k, threads):
    rng = np.random.default_rng(0)
    copies = []
    for _ in range(threads):
        x = rng.standard_normal((n, d))
        copies.append((x, x[:k].copy()))
    counts = [0] * threads
    start, stop = threading.Barrier(threads + 1), threading.Event()

    def work(i):
        x, book = copies[i]
        start.wait()
        calls = 0
        while not stop.is_set():
            fv.vq(x, book, workers=1)
            calls += 1
        counts[i] = calls

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(SECONDS)
    stop.set()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def main():
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    python = f"{sys.version.split()[0]}{'t' if free else ''} (GIL {'on' if gil else 'off'})"
    for name, shape in INPUTS.items():
        rates = {}
        for threads in THREADS:
            rates[threads] = statistics.median(
                calls_per_second(*shape, threads) for _ in range(ROUNDS)
            )
        cells = " | ".join(f"{rates[t] / 1000:.0f}k ({rates[t] / rates[1]:.2f}x)" for t in THREADS)
        print(f"| {python} | {name} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
