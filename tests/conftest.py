"""Shared helpers: run SciPy and ferrovq on the same input and compare what a user sees."""

import contextlib
import copy
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import oracle

settings.register_profile(
    "default",
    deadline=None,
    max_examples=int(__import__("os").environ.get("HYPOTHESIS_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A recorded SciPy answers only the examples it was asked when recording: both ends draw
# the same ones (same hypothesis version: `make oracle` and `make matrix` pin it).
settings.register_profile(
    "recorded-oracle",
    parent=settings.get_profile("default"),
    max_examples=150,
    derandomize=True,
    database=None,
)
settings.load_profile("default" if oracle.MODE == "live" else "recorded-oracle")


def pytest_sessionfinish(session):
    oracle.save()


class Outcome:
    """What a call did: its result or exception, and the warnings it gave."""

    def __init__(self, fn, *args, **kwargs):
        self.result = self.error = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.result = fn(*args, **kwargs)
            except Exception as e:
                self.error = e
        self.warnings = [(w.category, str(w.message)) for w in caught]


def same_outcome(ours, theirs, *args, exact=True, rtol=1e-9, compare=None, **kwargs):
    """Call both functions with deep copies of the same arguments (so random states start
    equal) and assert the same exception, warnings, types, dtypes and values (compared by
    `compare`, default `assert_same_value`)."""
    a = Outcome(ours, *copy.deepcopy(args), **copy.deepcopy(kwargs))
    b = Outcome(theirs, *copy.deepcopy(args), **copy.deepcopy(kwargs))
    if b.error is not None:
        assert a.error is not None, f"SciPy raised {b.error!r}, ferrovq returned {a.result!r}"
        assert same_exception_type(a.error, b.error), (a.error, b.error)
        assert str(a.error) == str(b.error)
    else:
        assert a.error is None, f"ferrovq raised {a.error!r}, SciPy returned"
        (compare or assert_same_value)(a.result, b.result, exact=exact, rtol=rtol)
    assert a.warnings == b.warnings
    return a


def same_exception_type(ours, theirs):
    """Our exception is SciPy's type (or a subclass); each library has its own
    ClusterError, so that one is matched by name."""
    if type(theirs).__name__ == "ClusterError":
        return type(ours).__name__ == "ClusterError"
    return isinstance(ours, type(theirs))


def assert_same_value(x, y, exact=True, rtol=1e-9):
    """Equal types and dtypes; values bit-equal if `exact`, else close to `rtol`."""
    if isinstance(x, tuple):
        assert isinstance(y, tuple) and len(x) == len(y)
        for u, v in zip(x, y, strict=True):
            assert_same_value(u, v, exact=exact, rtol=rtol)
        return
    assert type(x) is type(y), (type(x), type(y))
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype, (x.dtype, y.dtype)
    assert x.shape == y.shape, (x.shape, y.shape)
    if exact or x.dtype.kind in "biu":
        np.testing.assert_array_equal(x, y)
    else:
        atol = rtol * max(1.0, float(np.max(np.abs(y), initial=0.0)))
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def same_up_to_coincident_codes(ours, theirs, exact=False, rtol=1e-9):
    """kmeans2's (centroids, labels) where SciPy ranks codes with BLAS (5+ features).
    When two codes are the same point, which of them a row goes to is decided for SciPy by
    the rounding of |x|^2 - 2 x.c + |c|^2 inside BLAS (the same code book can give different
    picks for the same row depending on its position), while ferrovq takes the lowest
    index. So: every row is assigned to the same point; labels differ only at such rows;
    centroids agree index by index except among the codes those rows were split between,
    which agree as a set."""
    (c, labels), (sc, slabels) = ours, theirs
    assert_same_value(labels[:0], slabels[:0])  # types and dtypes
    assert labels.shape == slabels.shape and c.shape == sc.shape
    assert_same_value(c[:0], sc[:0])
    tol = {"rtol": rtol, "atol": rtol * max(1.0, float(np.max(np.abs(sc), initial=0.0)))}
    np.testing.assert_allclose(c[labels], sc[slabels], **tol)
    moved = labels != slabels
    swapped = np.zeros(len(c), dtype=bool)
    swapped[labels[moved]] = swapped[slabels[moved]] = True
    np.testing.assert_allclose(c[~swapped], sc[~swapped], **tol)
    order = lambda m: m[np.lexsort(m.T[::-1])]  # noqa: E731
    np.testing.assert_allclose(order(c[swapped]), order(sc[swapped]), **tol)


# A process started in the background by a shell without job control (`make test &` in a
# script) inherits SIGINT as ignored, and Python then installs no KeyboardInterrupt handler.
# The children of the Ctrl-C tests put the handler back first, as an interactive shell would.
_WITH_CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


@contextlib.contextmanager
def interruptible_python(script, **popen):
    """Run `script` in a child Python that Ctrl-C can interrupt, and make sure the child is
    gone when the block ends, whatever happened in it (a failed assertion included)."""
    p = subprocess.Popen([sys.executable, "-c", _WITH_CTRL_C + script], **popen)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()


def run_python(code, timeout=300, **kwargs):
    """Run `code` in a child Python and return its CompletedProcess (text output captured).
    A child that outlives `timeout` seconds is killed, and the test fails."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def interrupt(p):
    """Send the child SIGINT, as Ctrl-C at a terminal would."""
    p.send_signal(signal.SIGINT)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
