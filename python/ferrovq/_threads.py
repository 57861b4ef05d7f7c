"""threadpoolctl support: ferrovq's thread count as a controllable thread pool.

Once registered, ``threadpoolctl.threadpool_limits(n)`` (or ``limits={"openmp": n}``,
the API scikit-learn's own OpenMP loops answer to) limits the threads of every ferrovq
call made without ``workers``, and ``threadpool_info()`` lists ferrovq. Registration
imports threadpoolctl, so ``import ferrovq`` does it only when threadpoolctl is already
imported; the scikit-learn and Dask front-ends always do.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["register", "register_if_loaded"]

_registered = False
# Without a GIL (free-threaded Python) two first calls could both register; one at a time.
_registering = threading.Lock()


def register() -> bool:
    """Register ferrovq's controller with threadpoolctl, once.

    Returns
    -------
    bool
        Whether the controller is registered (threadpoolctl >= 3.2 is installed).

    Examples
    --------
    >>> from threadpoolctl import threadpool_info, threadpool_limits
    >>> from ferrovq import _core
    >>> from ferrovq._threads import register
    >>> register()
    True
    >>> [lib["internal_api"] for lib in threadpool_info() if lib["prefix"] == "_core"]
    ['ferrovq']
    >>> with threadpool_limits(1):
    ...     _core.default_workers()
    1
    """
    with _registering:
        return _register_once()


def _register_once() -> bool:
    global _registered
    if _registered:
        return True
    try:
        import threadpoolctl
    except ImportError:
        return False
    if not hasattr(threadpoolctl, "register"):  # threadpoolctl < 3.2 takes no controllers
        return False

    class FerrovqController(threadpoolctl.LibController):
        """ferrovq's rayon threads, limited as an OpenMP runtime is."""

        user_api = "openmp"
        internal_api = "ferrovq"
        filename_prefixes = ("_core",)
        check_symbols = ("ferrovq_get_num_threads", "ferrovq_set_num_threads")

        def get_num_threads(self):
            return self.dynlib.ferrovq_get_num_threads()

        def set_num_threads(self, num_threads):
            self.dynlib.ferrovq_set_num_threads(int(num_threads))

        def get_version(self):
            from ferrovq import __version__

            return __version__

    threadpoolctl.register(FerrovqController)
    _registered = True
    return True


def register_if_loaded() -> None:
    """Register the controller if threadpoolctl is already imported (costs nothing)."""
    if "threadpoolctl" in sys.modules:
        register()
