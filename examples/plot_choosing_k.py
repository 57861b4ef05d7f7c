"""
Choosing the number of clusters
===============================

Inertia (the sum of squared distances to the nearest centre) always falls as k grows; the
bend where it stops falling fast is a common guide to k. Fitting twelve models takes a
fraction of a second, so trying several k is cheap.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from ferrovq import KMeans

rng = np.random.default_rng(1)
centres = rng.normal(0, 5, size=(5, 10))
X = np.concatenate([c + rng.normal(size=(20_000, 10)) for c in centres])

ks = range(1, 13)
start = time.perf_counter()
inertia = [KMeans(n_clusters=k, random_state=0).fit(X).inertia_ for k in ks]
print(f"{len(ks)} fits of {len(X):,} rows: {time.perf_counter() - start:.2f} s")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(list(ks), inertia, marker="o")
ax.axvline(5, color="grey", linestyle="--", label="the 5 true clusters")
ax.set(xlabel="k", ylabel="inertia", yscale="log")
ax.legend()
fig.tight_layout()
plt.show()
