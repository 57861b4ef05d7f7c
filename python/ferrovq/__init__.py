"""ferrovq: SciPy's ``scipy.cluster.vq`` with a parallel Rust core.

``import ferrovq as vq`` where you had ``from scipy.cluster import vq``: the same functions,
signatures, dtypes, warnings and exceptions, and, for the same random state, the same
centroids and labels as SciPy 1.17.
"""

from ferrovq import _threads
from ferrovq._core import __version__
from ferrovq._vq import ClusterError, kmeans, kmeans2, py_vq, vq, whiten

__all__ = [
    "BisectingKMeans",
    "ClusterError",
    "KMeans",
    "MiniBatchKMeans",
    "__version__",
    "k_means",
    "kmeans",
    "kmeans2",
    "kmeans_plusplus",
    "py_vq",
    "vq",
    "whiten",
]

_threads.register_if_loaded()

#: Names served by the scikit-learn front-end, imported on first use.
_SKLEARN_NAMES = ("BisectingKMeans", "KMeans", "MiniBatchKMeans", "k_means", "kmeans_plusplus")


def __getattr__(name):
    """The scikit-learn front-end's names (``ferrovq.KMeans``, ``MiniBatchKMeans``,
    ``BisectingKMeans``, ``k_means``, ``kmeans_plusplus``): imported only when asked for, so
    that ``import ferrovq`` never imports scikit-learn."""
    if name not in _SKLEARN_NAMES:
        raise AttributeError(f"module 'ferrovq' has no attribute {name!r}")
    try:
        from ferrovq import _sklearn
    except ImportError as e:
        if (e.name or "").split(".")[0] not in ("sklearn", "scipy", "threadpoolctl"):
            raise
        raise ImportError(
            f"ferrovq.{name} needs scikit-learn: pip install 'ferrovq[sklearn]'"
        ) from e
    return getattr(_sklearn, name)
