"""Type stubs for the native module. Callers pass C-contiguous, native-endian float arrays."""

from collections.abc import Callable, Sequence
from typing import Literal, final, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "BlockBounds",
    "Cdf",
    "ClusterError",
    "__version__",
    "_panic_in_worker",
    "all_finite",
    "block_labels",
    "block_stats",
    "block_sums",
    "centre",
    "column_stats",
    "default_workers",
    "distances",
    "gaussian_init",
    "gaussian_init_1d",
    "greedy_plusplus",
    "inertia",
    "kmeans2_lloyd",
    "kmeans_plusplus",
    "kmeans_single",
    "lloyd",
    "minibatch_step",
    "nearest",
    "sparse_distances",
    "sparse_greedy_plusplus",
    "sparse_inertia",
    "sparse_lloyd",
    "sparse_minibatch_step",
    "sparse_nearest",
    "split_rows",
    "take_rows",
    "vq",
    "weighted_picks",
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
    farthest: Callable[[npt.NDArray[np.float64], int], Sequence[int]] | None = None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int32], int, int]: ...
def minibatch_step(
    data: npt.NDArray[np.floating],
    weights: npt.NDArray[np.floating],
    centers: npt.NDArray[np.floating],
    totals: npt.NDArray[np.floating],
    workers: int | None = None,
    bounds: BlockBounds | None = None,
    inertia: bool = True,
    check_finite: bool = False,
) -> tuple[npt.NDArray[np.int32], float | None, npt.NDArray[np.floating]]: ...
def kmeans_plusplus(
    data: npt.NDArray[np.floating],
    k: int,
    first: int,
    uniforms: npt.NDArray[np.float64],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uintp], int]: ...
def weighted_picks(
    p: npt.NDArray[np.floating], uniforms: npt.NDArray[np.float64], excluded: Sequence[int]
) -> list[int]: ...

@final
class Cdf:
    def __new__(cls, values: npt.NDArray[np.float64]) -> Cdf: ...
    def places(self, uniforms: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]: ...

def greedy_plusplus(
    data: npt.NDArray[np.floating],
    k: int,
    trials: int,
    first: int,
    uniforms: npt.NDArray[np.float64],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> npt.NDArray[np.uintp]: ...

@final
class BlockBounds:
    def __new__(cls, rows: int) -> BlockBounds: ...
    @property
    def kept(self) -> bool: ...
    @property
    def labels(self) -> npt.NDArray[np.int32]: ...
    @property
    def rows(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def scanned(self) -> int: ...

def block_sums(
    block: npt.NDArray[np.floating],
    code_book: npt.NDArray[np.floating],
    bounds: BlockBounds | None = None,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int64], BlockBounds]: ...
def block_labels(
    block: npt.NDArray[np.floating],
    code_book: npt.NDArray[np.floating],
    bounds: BlockBounds,
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.int32], float]: ...
def block_stats(
    block: npt.NDArray[np.floating],
    code_book: npt.NDArray[np.floating],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.floating],
    npt.NDArray[np.int64],
    npt.NDArray[np.floating] | None,
    float,
    float,
]: ...
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

# What a code book's fit measures.
def inertia(
    data: npt.NDArray[np.floating],
    codes: npt.NDArray[np.floating],
    labels: npt.NDArray[np.int32],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> float: ...
def split_rows(
    src: npt.NDArray[np.floating],
    ids: npt.NDArray[np.int64],
    new_ids: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int32],
    codes: npt.NDArray[np.floating],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> tuple[int, float, float]: ...
def take_rows(
    src: npt.NDArray[np.floating],
    ids: npt.NDArray[np.int64],
    out: npt.NDArray[np.floating],
    workers: int | None = None,
) -> None: ...
def column_stats(
    data: npt.NDArray[np.floating],
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]: ...
def centre(
    data: npt.NDArray[np.floating],
    mean: npt.NDArray[np.floating],
    workers: int | None = None,
) -> None: ...
def nearest(
    data: npt.NDArray[np.floating],
    codes: npt.NDArray[np.floating],
    workers: int | None = None,
    check_finite: bool = False,
) -> npt.NDArray[np.int32]: ...
def distances(
    data: npt.NDArray[np.floating],
    codes: npt.NDArray[np.floating],
    workers: int | None = None,
) -> npt.NDArray[np.floating]: ...

# Sparse rows: (indptr, indices, data, n_features) of a CSR matrix with int32 indices.
_Csr = tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.floating], int]

def sparse_greedy_plusplus(
    parts: _Csr,
    k: int,
    trials: int,
    first: int,
    uniforms: npt.NDArray[np.float64],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
) -> npt.NDArray[np.uintp]: ...
def sparse_lloyd(
    parts: _Csr,
    init: npt.NDArray[np.floating],
    tol: float | None,
    max_iter: int,
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
    farthest: Callable[[npt.NDArray[np.float64], int], Sequence[int]] | None = None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int32], int]: ...
def sparse_minibatch_step(
    parts: _Csr,
    weights: npt.NDArray[np.floating],
    centers: npt.NDArray[np.floating],
    totals: npt.NDArray[np.floating],
    workers: int | None = None,
    inertia: bool = True,
) -> tuple[npt.NDArray[np.int32], float | None, npt.NDArray[np.floating]]: ...
def sparse_nearest(
    parts: _Csr, codes: npt.NDArray[np.floating], workers: int | None = None
) -> npt.NDArray[np.int32]: ...
@overload
def sparse_inertia(
    parts: _Csr,
    codes: npt.NDArray[np.floating],
    labels: npt.NDArray[np.int32],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
    by_label: Literal[False] = False,
) -> float: ...
@overload
def sparse_inertia(
    parts: _Csr,
    codes: npt.NDArray[np.floating],
    labels: npt.NDArray[np.int32],
    weights: npt.NDArray[np.floating] | None = None,
    workers: int | None = None,
    *,
    by_label: Literal[True],
) -> list[float]: ...
def sparse_distances(
    parts: _Csr, codes: npt.NDArray[np.floating], workers: int | None = None
) -> npt.NDArray[np.floating]: ...
