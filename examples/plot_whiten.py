"""
Why whiten first
================

k-means measures Euclidean distance, so a feature with a large spread outweighs the
others. Here four groups sit on a grid, one feature in metres and one in millimetres:
without :func:`ferrovq.whiten` the clusters are cut along the millimetres alone; after it,
both features count and the four groups come back. (:func:`ferrovq.kmeans` keeps the best of
20 starts; :func:`ferrovq.vq` then labels the rows.)
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import adjusted_rand_score

import ferrovq as vq

rng = np.random.default_rng(3)
groups = np.repeat(np.arange(4), 250)  # four groups on a 2 x 2 grid
metres = np.array([0.0, 3.0, 0.0, 3.0])[groups] + rng.normal(0, 0.3, groups.size)
millimetres = np.array([0.0, 0.0, 3000.0, 3000.0])[groups] + rng.normal(0, 300, groups.size)
data = np.column_stack([metres, millimetres])

raw_labels, _ = vq.vq(data, vq.kmeans(data, 4, rng=0)[0])
white = vq.whiten(data)
white_labels, _ = vq.vq(white, vq.kmeans(white, 4, rng=0)[0])
print(f"agreement with the true groups, raw:      {adjusted_rand_score(groups, raw_labels):.2f}")
print(f"agreement with the true groups, whitened: {adjusted_rand_score(groups, white_labels):.2f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].scatter(*data.T, c=raw_labels, s=4, cmap="tab10")
axes[0].set(title="raw features", xlabel="metres", ylabel="millimetres")
axes[1].scatter(*white.T, c=white_labels, s=4, cmap="tab10")
axes[1].set(title="whitened", xlabel="metres / std", ylabel="millimetres / std")
fig.tight_layout()
plt.show()
