"""
SciPy and ferrovq on the same random state
==========================================

``import ferrovq as vq`` in place of ``from scipy.cluster import vq``: the same call with the
same seed draws the same random numbers in the same order, so both libraries start from the
same centroids and end with the same labels. Only the time differs.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.cluster import vq as scipy_vq

import ferrovq

rng = np.random.default_rng(0)
true_centres = rng.normal(0, 6, size=(8, 2))
data = np.concatenate([c + rng.normal(size=(25_000, 2)) for c in true_centres])

results, times = {}, {}
for name, lib in [("SciPy", scipy_vq), ("ferrovq", ferrovq)]:
    start = time.perf_counter()
    results[name] = lib.kmeans2(data, 8, iter=20, minit="++", rng=42)
    times[name] = time.perf_counter() - start

(c1, l1), (c2, l2) = results["SciPy"], results["ferrovq"]
print(f"labels identical: {np.array_equal(l1, l2)}")
print(f"largest centroid difference: {np.max(np.abs(c1 - c2)):.2e}")
for name, seconds in times.items():
    print(f"{name:8s} {seconds * 1000:8.1f} ms")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
for ax, (name, (centroids, labels)) in zip(axes, results.items(), strict=True):
    ax.scatter(*data[::20].T, c=labels[::20], s=2, cmap="tab10")
    ax.scatter(*centroids.T, c="black", marker="x", s=60)
    ax.set_title(f"{name}: {times[name] * 1000:.0f} ms")
fig.tight_layout()
plt.show()
