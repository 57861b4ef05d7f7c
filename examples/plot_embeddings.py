"""
Embeddings at scale: where the bounds prune
===========================================

Embeddings have hundreds of features and are clustered into thousands of codes. ferrovq
keeps labels exact while skipping work: distance bounds settle most rows without comparing
them with every code. :func:`ferrovq.kmeans2`'s ``callback`` reports, after each
iteration, how many rows had to be compared with codes other than their own. With many
codes the bounds are kept per group of codes, so such a row is compared only with the
groups its bounds leave open: the time falls before the count does.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

import ferrovq

rng = np.random.default_rng(0)
n, d, k = 40_000, 128, 512
topics = rng.normal(size=(k, d)).astype(np.float32)
X = topics[rng.integers(k, size=n)] + rng.normal(size=(n, d)).astype(np.float32)

stamps, compared = [time.perf_counter()], []


def progress(iteration, rows_compared):
    stamps.append(time.perf_counter())
    compared.append(rows_compared / n)


centroids, labels = ferrovq.kmeans2(X, k, iter=20, minit="points", rng=0, callback=progress)
ms = np.diff(stamps) * 1000
print(f"{n:,} x {d} float32, k = {k}: {sum(ms) / 1000:.2f} s for 20 iterations")

fig, ax = plt.subplots(figsize=(7, 4))
iterations = np.arange(1, len(ms) + 1)
ax.bar(iterations, ms, color="tab:blue", label="ms per iteration")
ax.set(xlabel="iteration", ylabel="ms")
twin = ax.twinx()
twin.plot(iterations, np.array(compared) * 100, color="tab:orange", marker="o")
twin.set(ylabel="rows compared with other codes (%)", ylim=(0, 105))
ax.set_title("time per iteration and the rows the bounds could not settle")
ax.set_xticks(iterations[::2])
fig.tight_layout()
plt.show()
