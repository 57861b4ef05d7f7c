"""SciPy 1.17's `scipy.cluster.vq`, the oracle of the SciPy-API tests.

Where SciPy 1.17 installs (Python >= 3.11) this is the real module. Where it does not
(the Python 3.10 end of `make matrix`), the tests get SciPy 1.17's recorded outcomes for
exactly the calls they make: result, exception, warnings, and what the call did to the
random states it was given (and to numpy's global one).

``FERROVQ_ORACLE=record`` runs the real SciPy and writes every call's outcome to
`RECORDING` when the session ends (`make oracle`); ``FERROVQ_ORACLE=replay``, or no
SciPy 1.17 at all, answers from it. A call that was not recorded fails its test, naming the
function. Recording and replay both run hypothesis derandomised (see conftest), so the
property tests draw the same examples at both ends.
"""

import hashlib
import importlib
import lzma
import os
import pickle
import types
import warnings
from pathlib import Path

import numpy as np

RECORDING = Path(__file__).parent / "data" / "scipy-1.17-outcomes.pkl.xz"
VERSION = "1.17"
FUNCTIONS = ("vq", "py_vq", "kmeans", "kmeans2", "whiten", "_kpoints")


def _mode():
    mode = os.environ.get("FERROVQ_ORACLE")
    if mode:
        if mode not in ("live", "record", "replay"):
            raise ValueError(f"FERROVQ_ORACLE={mode!r}: expected live, record or replay")
        return mode
    try:
        import scipy
    except ImportError:
        return "replay"
    return "live" if scipy.__version__.startswith(VERSION + ".") else "replay"


MODE = _mode()
_recorded: dict = {}


class ClusterError(Exception):
    """Stands for scipy.cluster.vq.ClusterError in replay (matched by name in the tests)."""


# --- what identifies a call ---------------------------------------------------------------


def _stateful(x):
    return isinstance(x, np.random.Generator | np.random.RandomState | np.random.BitGenerator)


def _state(x):
    if isinstance(x, np.random.RandomState):
        return x.get_state(legacy=False)
    return (x.bit_generator if isinstance(x, np.random.Generator) else x).state


def _set_state(x, state):
    if isinstance(x, np.random.RandomState):
        x.set_state(state)
    else:
        (x.bit_generator if isinstance(x, np.random.Generator) else x).state = state


def _walk(x, out):
    """The random states inside `x`, in a fixed order."""
    if _stateful(x):
        out.append(x)
    elif isinstance(x, list | tuple):
        for v in x:
            _walk(v, out)
    elif isinstance(x, dict):
        for k in sorted(x):
            _walk(x[k], out)
    return out


def _feed(h, x):
    """Hash `x` by type, dtype, shape, layout and value (never by identity)."""
    if _stateful(x):
        h.update(f"state:{type(x).__name__}".encode())
        _feed(h, _state(x))
    elif isinstance(x, np.ndarray):
        flags = (x.flags.c_contiguous, x.flags.f_contiguous, x.flags.writeable)
        h.update(f"array:{type(x).__name__}:{x.dtype.str}:{x.shape}:{flags}".encode())
        if x.dtype.hasobject or x.dtype == np.longdouble:  # (long doubles have padding bytes)
            h.update(repr([str(v) for v in x.ravel()]).encode())
        else:
            h.update(np.ascontiguousarray(x).tobytes())
        if isinstance(x, np.ma.MaskedArray):
            _feed(h, np.ma.getmaskarray(x))
    elif isinstance(x, np.generic):
        _feed(h, np.asarray(x))
    elif isinstance(x, list | tuple):
        h.update(f"{type(x).__name__}:{len(x)}".encode())
        for v in x:
            _feed(h, v)
    elif isinstance(x, dict):
        h.update(f"dict:{len(x)}".encode())
        for k in sorted(x):
            _feed(h, k)
            _feed(h, x[k])
    elif isinstance(x, types.ModuleType):
        h.update(f"module:{x.__name__}".encode())
    else:
        text = f"{type(x).__module__}.{type(x).__qualname__}:{x!r}"
        # An object whose repr is its address carries no value to compare: its type is all.
        h.update(text.split(" at 0x")[0].encode())


def _key(name, args, kwargs, global_state=False):
    """The call's identity; numpy's global random state is part of it only for the calls
    that draw from it (SciPy's rng=None), as it starts from OS entropy in every process."""
    h = hashlib.sha256(name.encode())
    _feed(h, (args, kwargs))
    if global_state:
        _feed(h, np.random.get_state(legacy=False))
    return h.hexdigest()


# --- outcomes as plain Python (readable by any numpy, no pickled numpy objects) -----------


def _encode(x):
    if isinstance(x, dict):
        return ("dict", {k: _encode(v) for k, v in x.items()})
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, np.ascontiguousarray(x).tobytes())
    if isinstance(x, np.generic):
        return ("scalar", x.dtype.str, x.tobytes())
    if isinstance(x, tuple):
        return ("tuple", [_encode(v) for v in x])
    if x is None or isinstance(x, bool | int | float | str):
        return ("py", x)
    raise TypeError(f"the recorded oracle cannot store a {type(x).__name__}")


def _decode(x):
    tag, *rest = x
    if tag == "array":
        dtype, shape, data = rest
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    if tag == "scalar":
        dtype, data = rest
        return np.frombuffer(data, dtype=dtype)[0]
    if tag == "tuple":
        return tuple(_decode(v) for v in rest[0])
    if tag == "dict":
        return {k: _decode(v) for k, v in rest[0].items()}
    return rest[0]


def _class(names):
    """The first of a class's (module, name) and its bases' that this Python has."""
    for module, name in names:
        if name == "ClusterError":
            return ClusterError
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # e.g. numpy._core's classes on numpy 1.x
            continue
    raise LookupError(f"no class of {names} exists here")


def _names(cls):
    return [(c.__module__, c.__qualname__) for c in cls.__mro__]


def _record(name, fn, args, kwargs):
    keys = (_key(name, args, kwargs), _key(name, args, kwargs, global_state=True))
    before = _key("global", (), {}, global_state=True)
    outcome = {"result": None, "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome["result"] = _encode(fn(*args, **kwargs))
        except Exception as e:
            plain = tuple(a if isinstance(a, str | int | float | None) else str(a) for a in e.args)
            outcome["error"] = (_names(type(e)), plain, str(e))
            error = e
        else:
            error = None
    outcome["warnings"] = [(_names(w.category), str(w.message)) for w in caught]
    outcome["states"] = [_encode(_state(x)) for x in _walk((args, kwargs), [])]
    drew = _key("global", (), {}, global_state=True) != before
    outcome["global"] = _encode(np.random.get_state(legacy=False)) if drew else None
    outcome["test"] = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    _recorded[keys[drew]] = outcome
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if error is not None:
        raise error
    return _decode(outcome["result"])


def _replay(name, args, kwargs):
    if not _recorded:
        with lzma.open(RECORDING, "rb") as f:
            _recorded.update(pickle.load(f))
    outcome = _recorded.get(_key(name, args, kwargs)) or _recorded.get(
        _key(name, args, kwargs, global_state=True)
    )
    if outcome is None:
        raise LookupError(
            f"scipy.cluster.vq.{name} was not recorded for these arguments: "
            "run `make oracle` under Python >= 3.11"
        )
    for x, state in zip(_walk((args, kwargs), []), outcome["states"], strict=True):
        _set_state(x, _decode(state))
    if outcome["global"] is not None:
        np.random.set_state(_decode(outcome["global"]))
    for category, message in outcome["warnings"]:
        warnings.warn(message, _class(category), stacklevel=3)
    if outcome["error"] is not None:
        cls, args, message = outcome["error"]
        error = _class(cls)(*args)
        if str(error) != message:  # a base class stands in, or the arguments were not plain
            error = _class(cls)(message)
        if str(error) != message:
            raise LookupError(f"could not rebuild {cls[0]}: {error} instead of {message}")
        raise error
    return _decode(outcome["result"])


def save():
    """Write what this session recorded (called by conftest when the session ends)."""
    if MODE == "record" and _recorded:
        with lzma.open(RECORDING, "wb", preset=9 | lzma.PRESET_EXTREME) as f:
            pickle.dump(_recorded, f, protocol=4)


def _oracle(name):
    if MODE == "live":
        return getattr(importlib.import_module("scipy.cluster.vq"), name)
    if MODE == "record":
        fn = getattr(importlib.import_module("scipy.cluster.vq"), name)
        return lambda *args, **kwargs: _record(name, fn, args, kwargs)
    return lambda *args, **kwargs: _replay(name, args, kwargs)


#: Stands for `scipy.cluster.vq` in the tests: ``from oracle import scipy_vq as sp``.
scipy_vq = types.SimpleNamespace(**{name: _oracle(name) for name in FUNCTIONS})
