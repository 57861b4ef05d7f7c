"""ferrovq: SciPy's ``scipy.cluster.vq`` with a parallel Rust core.

``import ferrovq as vq`` where you had ``from scipy.cluster import vq``: the same functions,
signatures, dtypes, warnings and exceptions, and, for the same random state, the same
centroids and labels as SciPy 1.17.
"""

from ferrovq._core import __version__
from ferrovq._vq import ClusterError, kmeans, kmeans2, py_vq, vq, whiten

__all__ = ["ClusterError", "__version__", "kmeans", "kmeans2", "py_vq", "vq", "whiten"]
