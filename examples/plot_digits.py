"""
Clustering handwritten digits
=============================

The 1,797 8 x 8 images of scikit-learn's digits data set, clustered into ten groups
without their labels. Each centre is an average image: most look like a digit, and the
table below shows how the clusters line up with the true digits.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

from ferrovq import KMeans

digits = load_digits()
model = KMeans(n_clusters=10, n_init=10, random_state=0).fit(digits.data)
print(
    f"adjusted Rand index against the true digits: "
    f"{adjusted_rand_score(digits.target, model.labels_):.3f}"
)

# The digit most of each cluster's members are.
majority = [np.bincount(digits.target[model.labels_ == c]).argmax() for c in range(10)]
for c in np.argsort(majority):
    members = digits.target[model.labels_ == c]
    share = np.mean(members == majority[c])
    print(f"cluster {c}: {len(members):4d} images, {share:.0%} of them are {majority[c]}")

fig, axes = plt.subplots(2, 5, figsize=(8, 3.6))
for ax, c in zip(axes.ravel(), np.argsort(majority), strict=True):
    ax.imshow(model.cluster_centers_[c].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"mostly {majority[c]}")
    ax.axis("off")
fig.suptitle("cluster centres")
fig.tight_layout()
plt.show()
