"""Type stubs for the native module. Callers pass C-contiguous, native-endian float arrays."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = [
    "ClusterError",
    "__version__",
    "_panic_in_worker",
    "all_finite",
    "default_workers",
    "gaussian_init",
    "gaussian_init_1d",
    "kmeans2_lloyd",
    "kmeans_plusplus",
    "kmeans_single",
    "lloyd",
    "vq",
    "whiten",
]
__version__: str

class ClusterError(Exception): ...

# The engine's own front-end.
def lloyd(
    data: npt.NDArray[np.floating],
    init: npt.NDArray[np.floating],
    stop: str,
    value: float,
    max_iter: int,
    empty: str,
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
    callback: Callable[[int, int], object] | None = None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int32], int, int]: ...
def kmeans_plusplus(
    data: npt.NDArray[np.floating],
    k: int,
    first: int,
    uniforms: npt.NDArray[np.float64],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uintp], int]: ...
def all_finite(a: npt.NDArray[np.floating], workers: int | None = None) -> bool: ...
def default_workers() -> int: ...
def _panic_in_worker() -> None: ...

# SciPy's front-end.
def vq(
    obs: npt.NDArray[np.floating],
    code_book: npt.NDArray[np.floating],
    workers: int | None = None,
    check_finite: bool = False,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.floating]]: ...
def whiten(
    obs: npt.NDArray[np.floating], workers: int | None = None
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.bool_]]: ...
def kmeans_single(
    data: npt.NDArray[np.floating],
    guess: npt.NDArray[np.floating],
    thresh: float,
    workers: int | None = None,
    callback: Callable[[int, int], object] | None = None,
) -> tuple[npt.NDArray[np.floating], float, bool]: ...
def kmeans2_lloyd(
    data: npt.NDArray[np.floating],
    init: npt.NDArray[np.floating],
    iter: int,
    missing_raise: bool,
    workers: int | None = None,
    callback: Callable[[int, int], object] | None = None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int32], int]: ...
def gaussian_init(
    data: npt.NDArray[np.floating],
    z: npt.NDArray[np.float64],
    workers: int | None = None,
) -> npt.NDArray[np.float64]: ...
def gaussian_init_1d(
    data: npt.NDArray[np.floating], z: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
