"""scikit-learn's k-means family on the ferrovq engine: ``KMeans``, ``k_means``,
``kmeans_plusplus``, ``MiniBatchKMeans`` and ``BisectingKMeans``, one module per
estimator, their shared parts in ``_base`` and scikit-learn's private names behind one
door, ``_compat``.

The rules are scikit-learn 1.9's, and every random number is drawn from the same numpy
stream in the same order, so the same ``random_state`` gives scikit-learn's result; the
distance work runs in Rust. Needs the ``ferrovq[sklearn]`` extra.
"""

from ferrovq import _threads
from ferrovq._sklearn._bisect_k_means import BisectingKMeans
from ferrovq._sklearn._kmeans import KMeans, k_means, kmeans_plusplus
from ferrovq._sklearn._minibatch import MiniBatchKMeans

__all__ = ["BisectingKMeans", "KMeans", "MiniBatchKMeans", "k_means", "kmeans_plusplus"]

_threads.register()
