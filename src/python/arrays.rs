//! numpy arrays in: the supported dtypes and their pairs, chosen once at the edge so that
//! the core runs one generic function per arm.

use numpy::{PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// A 2-D float array of either supported dtype.
pub(super) enum Floats<'py> {
    F64(numpy::PyReadonlyArray2<'py, f64>),
    F32(numpy::PyReadonlyArray2<'py, f32>),
}

impl<'py> Floats<'py> {
    /// `obj` as a supported array, or a `TypeError` naming it as `what`. Type checks
    /// rather than a derived `extract`, whose failed first try built an exception (measured:
    /// ~25 us of a tiny float32 call).
    pub(super) fn of(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(a) = obj.cast::<PyArray2<f64>>() {
            return Ok(Floats::F64(a.try_readonly()?));
        }
        if let Ok(a) = obj.cast::<PyArray2<f32>>() {
            return Ok(Floats::F32(a.try_readonly()?));
        }
        Err(unsupported(what, obj))
    }
}

/// `codes` as a 2-D array of the data's type `F` (a code book compared with `F` rows), or
/// a `TypeError` naming it as `what`.
pub(super) fn codes_like<'py, F: numpy::Element>(
    codes: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<numpy::PyReadonlyArray2<'py, F>> {
    codes.extract().map_err(|_| {
        PyTypeError::new_err(format!("{what}: expected a 2-D array of the data's dtype"))
    })
}

/// The `TypeError` for an array of an unsupported dtype or rank.
pub(super) fn unsupported(what: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let dtype = obj
        .getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "unknown".into());
    PyTypeError::new_err(format!(
        "{what}: expected a 2-D float32 or float64 array, got dtype {dtype}"
    ))
}

/// Call the generic `$f::<F>(args)` with the array `$a` as `F` (float32 or float64).
macro_rules! with_float {
    ($a:expr, $what:expr, |$x:ident| $body:expr) => {
        match $crate::python::arrays::Floats::of($a, $what)? {
            $crate::python::arrays::Floats::F64($x) => $body,
            $crate::python::arrays::Floats::F32($x) => $body,
        }
    };
}

/// Call `$body` with the data `$a` and code book `$b` as the pairs SciPy's promotion
/// allows: both float64, both float32, or float32 data with a float64 code book.
macro_rules! with_float_pair {
    ($a:expr, $b:expr, $what:expr, |$x:ident, $c:ident| $body:expr) => {{
        use $crate::python::arrays::Floats;
        match (Floats::of($a, "data")?, Floats::of($b, $what)?) {
            (Floats::F64($x), Floats::F64($c)) => $body,
            (Floats::F32($x), Floats::F32($c)) => $body,
            (Floats::F32($x), Floats::F64($c)) => $body,
            (Floats::F64(_), Floats::F32(_)) => Err($crate::python::arrays::unsupported(
                concat!($what, " (float64 data needs a float64 code book)"),
                $b,
            )),
        }
    }};
}

pub(super) use {with_float, with_float_pair};
