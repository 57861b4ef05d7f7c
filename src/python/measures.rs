//! What a code book's fit measures, for the estimator front-ends: each row's nearest code,
//! the inertia of given labels and every row's distance to every code; and the data's
//! column means and variances, which the fit centres it by and scales its tolerance by;
//! and a block of rows split in two by a labelling, each half's inertia measured on the
//! way (a bisection's step), and the rows of one half gathered for the next.

use super::arrays::{codes_like, unsupported, with_float};
use super::engine::weights_of;
use super::running::{cost, run};
use crate::float::Float;
use crate::parallel::Exec;
use numpy::ndarray::ArrayView2;
use numpy::{
    Element, IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadwriteArray1, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// The sum over rows of `w * |x - codes[label]|^2` (the k-means objective), in float64.
#[pyfunction]
#[pyo3(signature = (data, codes, labels, weights=None, workers=None))]
fn inertia<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    codes: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i32>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<f64> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: PyReadonlyArray2<'py, F>,
        codes: &Bound<'py, PyAny>,
        labels: &[i32],
        weights: Option<&Bound<'py, PyAny>>,
        workers: Option<usize>,
    ) -> PyResult<f64> {
        let c = codes_like::<F>(codes, "codes")?;
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let (xv, cv) = (x.as_array(), c.as_array());
        run(py, cost(&[xv.nrows(), xv.ncols()]), workers, None, |exec| {
            crate::inertia(exec, xv, cv, labels, w)
        })
    }
    let labels = labels.as_slice()?;
    with_float!(data, "data", |x| go(py, x, codes, labels, weights, workers))
}

/// `pass` over the rows `x` and the `codes` (taken in the data's dtype), costed as an
/// assignment (rows x codes x features), its result as a numpy array.
fn against_codes<'py, F, T>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, F>,
    codes: &Bound<'py, PyAny>,
    workers: Option<usize>,
    pass: impl FnOnce(&Exec, ArrayView2<'_, F>, ArrayView2<'_, F>) -> crate::Result<T> + Send,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Float + Element,
    T: IntoPyArray + Send,
{
    let c = codes_like::<F>(codes, "codes")?;
    let (xv, cv) = (x.as_array(), c.as_array());
    let size = cost(&[xv.nrows(), cv.nrows(), xv.ncols()]);
    let out = run(py, size, workers, None, |exec| pass(exec, xv, cv))?;
    Ok(out.into_pyarray(py).into_any())
}

/// Each row's nearest code (int32, lowest index on ties), as `vq` gives it, without the
/// distances; with `check_finite`, a `ValueError` if either array holds a NaN or infinity
/// (checked as the rows are labelled).
#[pyfunction]
#[pyo3(signature = (data, codes, workers=None, check_finite=false))]
fn nearest<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    codes: &Bound<'py, PyAny>,
    workers: Option<usize>,
    check_finite: bool,
) -> PyResult<Bound<'py, PyAny>> {
    with_float!(data, "data", |x| against_codes(
        py,
        x,
        codes,
        workers,
        |exec, x, c| crate::assign::nearest_labels(exec, x, c, check_finite)
    ))
}

/// Every row's Euclidean distance to every code, `n x k` in the data's dtype.
#[pyfunction]
#[pyo3(signature = (data, codes, workers=None))]
fn distances<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    codes: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    with_float!(data, "data", |x| against_codes(
        py,
        x,
        codes,
        workers,
        crate::distances
    ))
}

/// The means and variances of the columns of the C-contiguous `data`, in its dtype,
/// numpy's bits (see [`crate::column_stats`]); the GIL is released while they are summed.
#[pyfunction]
fn column_stats<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        a: &Bound<'py, PyArray2<F>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let [n, d] = a.shape().try_into().expect("a 2-D array");
        let ro = a.readonly();
        let x = ro.as_slice()?;
        let (mean, var) = run(py, cost(&[n, d]), Some(1), None, |_| {
            Ok(crate::column_stats(x, d))
        })?;
        Ok((
            mean.into_pyarray(py).into_any(),
            var.into_pyarray(py).into_any(),
        ))
    }
    if let Ok(a) = data.cast::<PyArray2<f64>>() {
        return go(py, a);
    }
    if let Ok(a) = data.cast::<PyArray2<f32>>() {
        return go(py, a);
    }
    Err(unsupported("data", data))
}

/// Subtract `mean` (one value per column, the data's dtype) from every row of the
/// C-contiguous `data`, in place: `data -= mean`. A read-only array gets numpy's own
/// `ValueError`.
#[pyfunction]
#[pyo3(signature = (data, mean, workers=None))]
fn centre<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<()> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        a: &Bound<'py, PyArray2<F>>,
        mean: &Bound<'py, PyAny>,
        workers: Option<usize>,
    ) -> PyResult<()> {
        let [n, d] = a.shape().try_into().expect("a 2-D array");
        let mean: PyReadonlyArray1<F> = mean.extract()?;
        let m = mean.as_slice()?;
        if m.len() != d {
            return Err(PyValueError::new_err(format!(
                "mean has {} values for {d} columns",
                m.len()
            )));
        }
        let mut rw = a
            .try_readwrite()
            .map_err(|_| PyValueError::new_err("output array is read-only"))?;
        let x = rw.as_slice_mut()?;
        run(py, cost(&[n, d]), workers, None, |exec| {
            crate::subtract_from_rows(exec, x, m);
            Ok(())
        })
    }
    if let Ok(a) = data.cast::<PyArray2<f64>>() {
        return go(py, a, mean, workers);
    }
    if let Ok(a) = data.cast::<PyArray2<f32>>() {
        return go(py, a, mean, workers);
    }
    Err(unsupported("data", data))
}

/// The numbers `ids` of the rows `src` labelled 0 (by `labels`, int32 of 0 and 1), then
/// those labelled 1, each in order, written into `new_ids` (int64); returns how many rows
/// are labelled 0 and each half's inertia against `codes` (two rows), weighted by
/// `weights` if given (see [`crate::split_rows`]).
#[pyfunction]
#[pyo3(signature = (src, ids, new_ids, labels, codes, weights=None, workers=None))]
#[allow(clippy::too_many_arguments)]
fn split_rows<'py>(
    py: Python<'py>,
    src: &Bound<'py, PyAny>,
    ids: PyReadonlyArray1<'py, i64>,
    mut new_ids: PyReadwriteArray1<'py, i64>,
    labels: PyReadonlyArray1<'py, i32>,
    codes: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<(usize, f64, f64)> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: PyReadonlyArray2<'py, F>,
        (ids, labels): ((&[i64], &mut [i64]), &[i32]),
        (codes, weights): (&Bound<'py, PyAny>, Option<&Bound<'py, PyAny>>),
        workers: Option<usize>,
    ) -> PyResult<(usize, f64, f64)> {
        let c = codes_like::<F>(codes, "codes")?;
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let (n, d) = (x.shape()[0], x.shape()[1]);
        let (src, codes) = (x.as_slice()?, c.as_slice()?);
        let h = run(py, cost(&[n, d]), workers, None, |exec| {
            crate::split_rows(exec, src, ids, d, labels, codes, w)
        })?;
        Ok((h.left, h.inertia[0], h.inertia[1]))
    }
    let ids = (ids.as_slice()?, new_ids.as_slice_mut()?);
    let split = (ids, labels.as_slice()?);
    let measure = (codes, weights);
    with_float!(src, "src", |x| go(py, x, split, measure, workers))
}

/// Copy the rows numbered `ids` of the C-contiguous `src`, in that order, into `out`
/// (C-contiguous, `src`'s dtype, a row per number), in parallel with the GIL released (see
/// [`crate::take_rows`]). (The caller allocates `out`: copied into a new `Vec` instead, the
/// rows took longer than numpy's own `take`, 25 ms against 15.5 for half of 500,000 x 64
/// `float32` rows; numpy asks the kernel for huge pages for large arrays, which is the
/// likely difference, not measured apart.)
#[pyfunction]
#[pyo3(signature = (src, ids, out, workers=None))]
fn take_rows<'py>(
    py: Python<'py>,
    src: &Bound<'py, PyAny>,
    ids: PyReadonlyArray1<'py, i64>,
    out: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<()> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: PyReadonlyArray2<'py, F>,
        ids: &[i64],
        out: &Bound<'py, PyAny>,
        workers: Option<usize>,
    ) -> PyResult<()> {
        let d = x.shape()[1];
        let mut out = out.cast::<PyArray2<F>>()?.readwrite();
        if out.shape() != [ids.len(), d] {
            return Err(PyValueError::new_err(format!(
                "out has shape {:?}, not ({}, {d})",
                out.shape(),
                ids.len()
            )));
        }
        let (src, dst) = (x.as_slice()?, out.as_slice_mut()?);
        run(py, cost(&[ids.len(), d]), workers, None, |exec| {
            crate::take_rows(exec, src, ids, d, dst)
        })
    }
    let ids = ids.as_slice()?;
    with_float!(src, "src", |x| go(py, x, ids, out, workers))
}

/// Add this front-end's functions to the module.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(inertia, m)?)?;
    m.add_function(wrap_pyfunction!(nearest, m)?)?;
    m.add_function(wrap_pyfunction!(distances, m)?)?;
    m.add_function(wrap_pyfunction!(column_stats, m)?)?;
    m.add_function(wrap_pyfunction!(centre, m)?)?;
    m.add_function(wrap_pyfunction!(split_rows, m)?)?;
    m.add_function(wrap_pyfunction!(take_rows, m)?)?;
    Ok(())
}
