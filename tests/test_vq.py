"""vq, py_vq and whiten against scipy.cluster.vq."""

import numpy as np
import pytest

import ferrovq as fv
from conftest import Outcome, assert_same_value, same_outcome
from oracle import scipy_vq as sp

SHAPES = [
    (1, 1, 1),
    (7, 1, 3),
    (50, 2, 8),
    (333, 3, 5),
    (1000, 4, 17),
    (2500, 5, 9),
    (4099, 8, 33),
    (100_000, 2, 8),
    (30_000, 16, 64),
    (200, 70, 3),
    (64, 6, 64),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n", "d", "k"), SHAPES)
def test_vq_matches_scipy(n, d, k, dtype, rng):
    obs = rng.normal(size=(n, d)).astype(dtype)
    book = rng.normal(size=(k, d)).astype(dtype)
    codes, dist = fv.vq(obs, book)
    sc, sd = sp.vq(obs, book)
    assert codes.dtype == np.int32 and dist.dtype == dtype
    if d < 5:
        # SciPy's direct formula for few features: identical bits.
        np.testing.assert_array_equal(codes, sc)
        np.testing.assert_array_equal(dist, sd)
    else:
        assert_blas_parity(obs, book, (codes, dist), (sc, sd))


def assert_blas_parity(obs, book, ours, theirs):
    """SciPy computes 5+ features as |x|^2 - 2 x.c + |c|^2 with BLAS. Labels may differ
    only where two codes are tied to within that formula's rounding, and squared distances
    agree to that rounding (relative to |x|^2 + |c|^2, not to the distance itself: near
    zero SciPy's cancellation error dominates)."""
    (codes, dist), (sc, sd) = ours, theirs
    eps = 1e-12 if obs.dtype == np.float64 else 1e-5
    scale = np.sum(obs.astype(np.float64) ** 2, axis=1) + np.max(
        np.sum(book.astype(np.float64) ** 2, axis=1)
    )
    true_sq = lambda c: np.sum((obs.astype(np.float64) - book[c].astype(np.float64)) ** 2, axis=1)  # noqa: E731
    assert codes.dtype == sc.dtype and dist.dtype == sd.dtype
    assert np.all(np.abs(true_sq(codes) - true_sq(sc)) <= eps * scale)
    assert np.all(np.abs(dist.astype(np.float64) ** 2 - sd.astype(np.float64) ** 2) <= eps * scale)


def test_vq_scipy_docstring_example():
    code_book = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    features = np.array([[1.9, 2.3, 1.7], [1.5, 2.5, 2.2], [0.8, 0.6, 1.7]])
    same_outcome(fv.vq, sp.vq, features, code_book)


@pytest.mark.parametrize("d", [1, 3, 7])
def test_k_equals_n_and_k_equals_one(d, rng):
    obs = rng.normal(size=(200, d))
    for book in (obs, obs[:1]):
        if d < 5:
            same_outcome(fv.vq, sp.vq, obs, book)
        else:
            assert_blas_parity(obs, book, fv.vq(obs, book), sp.vq(obs, book))
    assert np.all(fv.vq(obs, obs)[0] == np.arange(200))


@pytest.mark.parametrize("scale", [1.0, 1e-30, 1e30])
def test_float64_codes_closer_than_float32_resolves(scale, rng):
    # Float64 rows are ranked in float32 first where float32 holds the values; pairs of
    # codes 1e-8 to 3e-7 apart (relative: at and below float32's resolution) and rows
    # between them must still get the exact direct formula's labels (the oracle: numpy
    # sums 6 features in order, as SciPy's formula).
    base = rng.normal(scale=100, size=(30, 6))
    other = base * (1 + 1e-8 * np.arange(1, 31)[:, None])
    book = np.vstack([base, other]) * scale
    obs = np.vstack([base + t * (other - base) for t in (0.49, 0.51, 0.5, 1e4)]) * scale
    codes, dist = fv.vq(obs, book)
    sq = ((obs[:, None, :] - book[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(codes, sq.argmin(axis=1))
    np.testing.assert_array_equal(dist, np.sqrt(sq.min(axis=1)))
    assert_blas_parity(obs, book, (codes, dist), sp.vq(obs, book))


def test_duplicate_rows_and_ties_go_to_lowest_code(rng):
    obs = np.repeat(rng.normal(size=(20, 3)), 5, axis=0)
    book = np.vstack([obs[::7], obs[::7]])  # every code twice: ties everywhere
    same_outcome(fv.vq, sp.vq, obs, book)
    codes, _ = fv.vq(obs, book)
    assert codes.max() < len(obs[::7])


def test_one_dimensional_input(rng):
    obs = rng.normal(size=500)
    book = rng.normal(size=7)
    same_outcome(fv.vq, sp.vq, obs, book)
    same_outcome(fv.vq, sp.vq, obs.astype(np.float32), book.astype(np.float32))
    same_outcome(fv.vq, sp.vq, np.float64(1.0), np.float64(3.0))


@pytest.mark.parametrize(
    "layout",
    ["fortran", "strided", "byteswapped", "readonly", "transposed_view", "list"],
)
def test_layouts(layout, rng):
    obs = rng.normal(size=(300, 3))
    book = rng.normal(size=(6, 3))
    if layout == "fortran":
        obs, book = np.asfortranarray(obs), np.asfortranarray(book)
    elif layout == "strided":
        obs = np.repeat(obs, 2, axis=0)[::2]
        book = np.repeat(book, 3, axis=1)[:, ::3]
    elif layout == "byteswapped":
        obs = obs.astype(obs.dtype.newbyteorder(">"))
        book = book.astype(book.dtype.newbyteorder(">"))
    elif layout == "readonly":
        obs.flags.writeable = False
        book.flags.writeable = False
    elif layout == "transposed_view":
        obs = np.ascontiguousarray(obs.T).T
    else:
        obs, book = obs.tolist(), book.tolist()
    same_outcome(fv.vq, sp.vq, obs, book)


def test_memory_mapped_input(tmp_path, rng):
    path = tmp_path / "obs.npy"
    np.save(path, rng.normal(size=(5000, 4)))
    obs = np.load(path, mmap_mode="r")
    book = rng.normal(size=(9, 4))
    same_outcome(fv.vq, sp.vq, obs, book)


def test_does_not_copy_contiguous_native_input(rng):
    obs = rng.normal(size=(10, 3))
    assert np.shares_memory(fv._validation.native(obs, obs.dtype), obs)


@pytest.mark.parametrize(
    ("obs", "book"),
    [
        (np.ones((10, 3)), np.ones(3)),
        (np.ones((10, 3)), np.ones((2, 2))),
        (np.ones((2, 3, 1)), np.ones((2, 3, 1))),
        (np.full((3, 2), np.nan), np.ones((2, 2))),
        (np.ones((3, 2)), np.full((2, 2), np.inf)),
        (np.ones((3, 2), dtype=object), np.ones((2, 2), dtype=object)),
        (np.array([["a", "b"]]), np.array([["a", "b"]])),
        (np.ones((3, 2), dtype=complex), np.ones((2, 2), dtype=complex)),
        (np.arange(6).reshape(3, 2, 1), np.arange(4).reshape(2, 2, 1)),
        (np.arange(6).reshape(3, 2), np.arange(4)),
        ([[1, 2], [3]], [[1, 2]]),
        (np.ones((3, 2), dtype=np.longdouble), np.ones((2, 2), dtype=np.longdouble)),
    ],
)
def test_vq_errors_match_scipy(obs, book):
    a = Outcome(fv.vq, obs, book)
    b = Outcome(sp.vq, obs, book)
    assert b.error is not None and a.error is not None
    assert type(a.error) is type(b.error)
    assert str(a.error) == str(b.error)


def test_vq_non_finite_unchecked_is_safe():
    obs = np.array([[np.nan, 0.0], [1.0, 1.0], [np.inf, 0.0]])
    book = np.array([[0.0, 0.0], [1.0, 1.0]])
    codes, dist = fv.vq(obs, book, check_finite=False)
    sc, sd = sp.vq(obs, book, check_finite=False)
    # Rows whose distances are all NaN or all infinite: SciPy leaves their codes
    # uninitialised (whatever the memory held: 0 on one build, garbage on another); ours
    # are the lowest code, 0, at an infinite distance.
    assert codes[[0, 2]].tolist() == [0, 0] and np.isinf(dist[[0, 2]]).all()
    assert codes[1] == sc[1] and dist[1] == sd[1]


def test_empty_code_book_is_an_error_not_garbage():
    # SciPy returns uninitialised codes here; ferrovq says what is wrong.
    with pytest.raises(ValueError, match="code book is empty"):
        fv.vq(np.ones((3, 2)), np.ones((0, 2)))


def test_empty_observations(rng):
    same_outcome(fv.vq, sp.vq, np.ones((0, 2)), rng.normal(size=(3, 2)))


@pytest.mark.parametrize(
    ("obs", "book"),
    [
        (np.arange(12).reshape(6, 2), np.arange(4).reshape(2, 2)),
        (np.arange(12).reshape(6, 2) > 5, np.arange(4).reshape(2, 2) > 1),
        (np.arange(6), np.arange(2)),
    ],
)
def test_non_float_input_falls_back_to_py_vq(obs, book):
    same_outcome(fv.vq, sp.vq, obs, book, exact=False, rtol=1e-15)


def test_float16_is_accepted(rng):
    # SciPy raises TypeError for want of a float16 kernel; ferrovq compares in float32.
    obs = rng.normal(size=(50, 3)).astype(np.float16)
    book = obs[:4]
    codes, dist = fv.vq(obs, book)
    ref_codes, ref_dist = sp.vq(obs.astype(np.float32), book.astype(np.float32))
    np.testing.assert_array_equal(codes, ref_codes)
    assert dist.dtype == np.float16
    np.testing.assert_array_equal(dist, ref_dist.astype(np.float16))


def test_mixed_precision_promotes_like_scipy(rng):
    obs = rng.normal(size=(100, 3)).astype(np.float32)
    book = rng.normal(size=(4, 3))
    same_outcome(fv.vq, sp.vq, obs, book)
    same_outcome(fv.vq, sp.vq, obs, book.astype(np.int64))


@pytest.mark.parametrize("d", [1, 2, 6])
def test_py_vq_matches_scipy(d, rng):
    obs = rng.normal(size=(300, d))
    book = rng.normal(size=(5, d))
    a = fv.py_vq(obs, book)
    b = sp.py_vq(obs, book)
    assert_same_value(a, b, exact=False, rtol=1e-14)
    same_outcome(fv.py_vq, sp.py_vq, obs, book[0])
    same_outcome(fv.py_vq, sp.py_vq, obs[None], book[None])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (1000, 1), (77, 3), (50_000, 6), (300,)])
def test_whiten_matches_scipy_bitwise(shape, dtype, rng):
    obs = (rng.normal(size=shape) * 10).astype(dtype)
    same_outcome(fv.whiten, sp.whiten, obs)


def test_whiten_zero_std_warning_and_check_finite(rng):
    obs = rng.normal(size=(10, 3))
    obs[:, 1] = 4.0
    same_outcome(fv.whiten, sp.whiten, obs)
    same_outcome(fv.whiten, sp.whiten, obs, check_finite=False)
    obs[0, 0] = np.nan
    same_outcome(fv.whiten, sp.whiten, obs)
    same_outcome(fv.whiten, sp.whiten, obs, check_finite=False)


@pytest.mark.parametrize(
    "obs",
    [
        np.ones((2, 3, 4)),
        np.zeros((0, 3)),
        np.float64(3.0),
        np.array([["a"]]),
        np.ones((4, 2), dtype=np.float16),
        np.arange(8.0).reshape(4, 2).astype(complex),
    ],
)
def test_whiten_unusual_inputs_match_scipy(obs):
    same_outcome(fv.whiten, sp.whiten, obs)


def test_whiten_layouts_agree_to_rounding(rng):
    obs = rng.normal(size=(400, 5))
    for variant in (np.asfortranarray(obs), obs[::2], obs.astype(">f8")):
        same_outcome(fv.whiten, sp.whiten, variant, exact=False, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "book",
    [
        np.ones((2, 3)),  # features differ
        np.ones(2),  # ranks differ
        np.ones((0, 2)),  # empty code book
        np.array([[1.0, np.inf]]),  # not finite either
        np.ones((2, 2), dtype=np.complex128),  # not a real type
        np.ones((2, 2)),  # nothing else wrong
    ],
)
def test_nan_in_obs_is_reported_first_as_scipy_does(dtype, book):
    # A contiguous float obs is checked by the core while labelling; its error must still
    # come before every other, as in SciPy, which checks obs first.
    obs = np.ones((5000, 2), dtype=dtype)
    obs[4999, 1] = np.nan
    same_outcome(fv.vq, sp.vq, obs, book)
