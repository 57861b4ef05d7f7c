"""
Colour quantisation of a photograph
===================================

Every pixel of scikit-learn's bundled photograph is a point in RGB space. Clustering the
pixels into 32 colours with :class:`ferrovq.KMeans` and replacing each pixel by its centre's
colour keeps the picture recognisable with a palette of 32 entries.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_image

from ferrovq import KMeans

photo = load_sample_image("china.jpg").astype(np.float32) / 255
pixels = photo.reshape(-1, 3)
print(f"{len(pixels):,} pixels")

start = time.perf_counter()
model = KMeans(n_clusters=32, random_state=0).fit(pixels)
print(f"fit: {time.perf_counter() - start:.2f} s, {model.n_iter_} iterations")

quantised = model.cluster_centers_[model.labels_].reshape(photo.shape)

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, image, title in [(axes[0], photo, "original"), (axes[1], quantised, "32 colours")]:
    ax.imshow(image)
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
plt.show()
