"""Fuzzing with hypothesis: shapes, dtypes, layouts and values (huge, tiny, duplicates,
constant columns, NaN and inf with check_finite off). ferrovq never crashes, its labels are
always in range, and wherever SciPy returns, ferrovq returns the same answer; wherever
SciPy raises, ferrovq raises the same type (except the documented improvements)."""

import warnings

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import ferrovq as fv
from conftest import (
    Outcome,
    assert_same_value,
    same_exception_type,
    same_up_to_coincident_codes,
)
from oracle import scipy_vq as sp

DTYPES = ["<f8", ">f8", "<f4", ">f4", "<i8", "u1", "?", "<f2"]
LAYOUTS = ["c", "fortran", "strided", "readonly"]


@st.composite
def arrays(draw, max_n=60, max_d=7, allow_nonfinite=False):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-200, 1e-8, 1.0, 1e8, 1e200]))
    x = r.normal(size=(n, d)) * scale
    if draw(st.booleans()):
        x[:, 0] = x[0, 0]  # a constant column
    if draw(st.booleans()):
        x = np.repeat(x[: max(1, n // 3)], 3, axis=0)[:n]  # duplicates
    if allow_nonfinite and draw(st.booleans()):
        x.flat[r.integers(0, x.size, max(1, x.size // 10))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    with np.errstate(all="ignore"):
        x = x.astype(dtype)
    layout = draw(st.sampled_from(LAYOUTS))
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=0)[::2]
    elif layout == "readonly":
        x.flags.writeable = False
    if d == 1 and draw(st.booleans()):
        x = x[:, 0]
    return x


def outcomes(ours, theirs, *args, **kwargs):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Outcome(ours, *args, **kwargs), Outcome(theirs, *args, **kwargs)


@given(x=arrays(), kfrac=st.floats(0, 1), seed=st.integers(0, 2**31 - 1))
def test_vq_fuzz(x, kfrac, seed):
    book = x[np.random.default_rng(seed).integers(0, x.shape[0], 1 + int(kfrac * 5))]
    a, b = outcomes(fv.vq, sp.vq, x, book)
    if b.error is not None:
        if x.dtype == np.float16 and isinstance(b.error, TypeError):
            assert a.error is None  # SciPy has no float16 kernel; ferrovq uses float32
        else:
            assert same_exception_type(a.error, b.error), (a.error, b.error)
        return
    assert a.error is None, a.error
    codes, dist = a.result
    assert codes.min() >= 0 and codes.max() < len(book)
    if x.ndim == 1 or x.shape[1] < 5:
        # Where every squared distance overflows, SciPy leaves the code uninitialised;
        # ferrovq gives code 0 (documented). Elsewhere: the same bits.
        overflow = np.isinf(b.result[1])
        assert np.all(codes[overflow] == 0) and np.all(np.isinf(dist[overflow]))
        keep = ~overflow
        assert_same_value((codes[keep], dist[keep]), (b.result[0][keep], b.result[1][keep]))
    else:
        assert codes.dtype == b.result[0].dtype and dist.dtype == b.result[1].dtype


@given(x=arrays(allow_nonfinite=True), kfrac=st.floats(0, 1), seed=st.integers(0, 2**31 - 1))
def test_vq_unchecked_non_finite_is_safe(x, kfrac, seed):
    # With check_finite off, NaN and inf are data: every row still gets a code in range
    # (code 0 and an infinite distance where every distance is NaN), never an exception.
    book = x[np.random.default_rng(seed).integers(0, x.shape[0], 1 + int(kfrac * 5))]
    a, _ = outcomes(fv.vq, lambda *a, **k: None, x, book, check_finite=False)
    assert a.error is None, a.error
    codes, dist = a.result
    assert codes.min() >= 0 and codes.max() < len(book)
    assert len(codes) == len(dist) == len(x)


@given(
    x=arrays(allow_nonfinite=True),
    minit=st.sampled_from(["points", "++", "random"]),
    kfrac=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
    check=st.booleans(),
)
def test_kmeans2_fuzz(x, minit, kfrac, seed, check):
    k = 1 + int(kfrac * (x.shape[0] - 1))
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        overflows = not np.isfinite(4 * np.max(np.sum(x64 * x64, axis=-1 if x.ndim > 1 else 0)))
    if not check or overflows:
        # SciPy itself can crash here: with non-finite values unchecked, or when squared
        # distances overflow, its labels stay uninitialised and index its update step out
        # of bounds (a segmentation fault). Only ferrovq runs: it must return or raise,
        # with labels in range.
        a, _ = outcomes(
            fv.kmeans2, lambda *a, **k: None, x, k, minit=minit, rng=seed, check_finite=check
        )
        if a.error is None:
            centroids, labels = a.result
            assert labels.min() >= 0 and labels.max() < len(centroids)
        return
    if minit == "random" and x.ndim == 2 and 1 < x.shape[1] <= x.shape[0]:
        # Whether a Cholesky factor of a (numerically) singular covariance exists is
        # decided by rounding inside LAPACK for SciPy: only well-conditioned cases compare.
        with np.errstate(all="ignore"):
            assume(np.linalg.cond(np.cov(x.astype(np.float64).T)) < 1e10)
    a, b = outcomes(fv.kmeans2, sp.kmeans2, x, k, minit=minit, rng=seed)
    if a.error is None:
        centroids, labels = a.result
        assert labels.dtype == np.int32
        assert labels.min() >= 0 and labels.max() < len(centroids)
    # SciPy's TypeError for byte-swapped, float16 and integer data is a missing kernel,
    # which ferrovq has.
    native_float = x.dtype.kind == "f" and x.dtype.isnative and x.dtype != np.float16
    if b.error is not None:
        if native_float:
            assert a.error is not None, f"SciPy raised {b.error!r}, ferrovq returned"
            assert same_exception_type(a.error, b.error), (a.error, b.error)
        return
    assert a.error is None, f"ferrovq raised {a.error!r} where SciPy returned"
    # Where both return, the same answer: to rounding (SciPy's BLAS and LAPACK calls round
    # differently), and with 5+ features up to codes that are the same point.
    rtol = 1e-9 if x.dtype == np.float64 else 1e-4
    if x.ndim == 2 and x.shape[1] >= 5:
        same_up_to_coincident_codes(a.result, b.result, rtol=rtol)
    else:
        assert_same_value(a.result, b.result, exact=False, rtol=rtol)
