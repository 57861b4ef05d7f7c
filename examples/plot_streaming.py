"""
Clustering a stream with partial_fit
====================================

When the rows arrive in chunks (a log, a feed, files read one at a time), there is never a
whole data set to fit. :meth:`ferrovq.MiniBatchKMeans.partial_fit` takes one chunk at a
time: each call moves the centres toward the chunk's rows, weighted by how much each centre
has seen so far. Here 40 chunks of a drifting stream arrive one after the other; the
centres follow, and end close to those of a fit on all the rows at once.
"""

import matplotlib.pyplot as plt
import numpy as np

from ferrovq import KMeans, MiniBatchKMeans

rng = np.random.default_rng(4)
centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0], [8.0, 8.0]])


def chunk(i):
    """500 rows around the centres, which drift slowly to the right as the stream goes."""
    drift = np.array([i * 0.05, 0.0])
    return centres[rng.integers(4, size=500)] + drift + rng.normal(0, 0.8, size=(500, 2))


stream = MiniBatchKMeans(n_clusters=4, random_state=0)
seen, path = [], []
for i in range(40):
    rows = chunk(i)
    seen.append(rows)
    stream.partial_fit(rows)
    path.append(stream.cluster_centers_.copy())
path = np.array(path)

everything = np.concatenate(seen)
whole = KMeans(n_clusters=4, random_state=0).fit(everything)
print(f"{stream.n_steps_} partial_fit calls on {len(everything):,} rows")
gap = np.min(np.linalg.norm(stream.cluster_centers_[:, None] - whole.cluster_centers_, axis=2), 1)
print("distance of each streamed centre to the nearest centre of a full fit:", gap.round(2))

fig, ax = plt.subplots(figsize=(6.5, 5))
ax.scatter(*everything[::10].T, s=3, color="lightgrey", label="rows (every tenth)")
for j in range(4):
    ax.plot(path[:, j, 0], path[:, j, 1], marker=".", label=f"centre {j} over the stream")
ax.scatter(*whole.cluster_centers_.T, marker="x", s=80, color="black", label="full fit")
ax.legend(fontsize=7)
ax.set_title("centres after each chunk")
fig.tight_layout()
plt.show()
