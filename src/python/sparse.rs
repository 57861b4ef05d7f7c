//! The sparse front-end: CSR rows (scipy.sparse's `indptr`, `indices`, `data` and width)
//! against dense code books, for the scikit-learn estimator.

use super::arrays::codes_like;
use super::engine::{minibatch_call, weights_of, StepArgs, StepOut};
use super::running::{cost, run, PyFarthest};
use crate::float::Float;
use crate::lloyd::Stop;
use crate::sparse::Csr;
use numpy::{Element, IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// A CSR matrix's parts as passed from Python: `(indptr, indices, data, n_features)`.
type Parts<'py> = (
    PyReadonlyArray1<'py, i32>,
    PyReadonlyArray1<'py, i32>,
    Bound<'py, PyAny>,
    usize,
);

/// Call `$body` with `$x` the checked [`Csr`] of `$parts`, its values float32 or float64.
macro_rules! with_csr {
    ($parts:expr, |$x:ident| $body:expr) => {{
        let (indptr, indices, data, d) = &$parts;
        let (indptr, indices) = (indptr.as_slice()?, indices.as_slice()?);
        if let Ok(v) = data.cast::<PyArray1<f64>>() {
            let v = v.try_readonly()?;
            let $x = Csr::new(indptr, indices, v.as_slice()?, *d)?;
            $body
        } else if let Ok(v) = data.cast::<PyArray1<f32>>() {
            let v = v.try_readonly()?;
            let $x = Csr::new(indptr, indices, v.as_slice()?, *d)?;
            $body
        } else {
            Err(PyTypeError::new_err(
                "sparse data: expected float32 or float64 values",
            ))
        }
    }};
}

/// The cost of one pass comparing the rows with `k` codes, for [`run`].
fn pass_cost<F: Float>(x: &Csr<F>, k: usize) -> usize {
    cost(&[x.rows(), k, x.cols()])
}

#[pyfunction]
#[pyo3(signature = (parts, k, trials, first, uniforms, weights=None, workers=None))]
#[allow(clippy::too_many_arguments)]
fn sparse_greedy_plusplus<'py>(
    py: Python<'py>,
    parts: Parts<'py>,
    k: usize,
    trials: usize,
    first: usize,
    uniforms: PyReadonlyArray1<'py, f64>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<usize>>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: Csr<'_, F>,
        (k, trials, first, u): (usize, usize, usize, &[f64]),
        weights: Option<&Bound<'py, PyAny>>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<usize>>> {
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let picked = run(py, pass_cost(&x, trials), workers, None, |exec| {
            crate::sparse::greedy_plusplus(exec, &x, (k, trials), first, u, w)
        })?;
        Ok(picked.into_pyarray(py))
    }
    let args = (k, trials, first, uniforms.as_slice()?);
    with_csr!(parts, |x| go(py, x, args, weights, workers))
}

type SparseLloydOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<i32>>, usize);

#[pyfunction]
#[pyo3(signature = (parts, init, tol, max_iter, weights=None, workers=None, farthest=None))]
#[allow(clippy::too_many_arguments)]
fn sparse_lloyd<'py>(
    py: Python<'py>,
    parts: Parts<'py>,
    init: &Bound<'py, PyAny>,
    tol: Option<f64>,
    max_iter: usize,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
    farthest: Option<Py<PyAny>>,
) -> PyResult<SparseLloydOut<'py>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: Csr<'_, F>,
        init: &Bound<'py, PyAny>,
        stop: Stop,
        weights: Option<&Bound<'py, PyAny>>,
        workers: Option<usize>,
        farthest: Option<&PyFarthest>,
    ) -> PyResult<SparseLloydOut<'py>> {
        let c = codes_like::<F>(init, "init")?;
        let cv = c.as_array();
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let out = run(py, pass_cost(&x, cv.nrows()), workers, None, |exec| {
            crate::sparse::lloyd(exec, &x, cv, stop, w, farthest.map(|f| f as _))
        })?;
        Ok((
            out.centroids.into_pyarray(py).into_any(),
            out.labels.into_pyarray(py),
            out.iterations,
        ))
    }
    let stop = match tol {
        Some(tol) => Stop::CenterShift { tol, max_iter },
        None => Stop::Iterations(max_iter),
    };
    let chooser = farthest.map(PyFarthest);
    with_csr!(parts, |x| go(
        py,
        x,
        init,
        stop,
        weights,
        workers,
        chooser.as_ref()
    ))
}

#[pyfunction]
#[pyo3(signature = (parts, codes, workers=None))]
fn sparse_nearest<'py>(
    py: Python<'py>,
    parts: Parts<'py>,
    codes: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: Csr<'_, F>,
        codes: &Bound<'py, PyAny>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<i32>>> {
        let c = codes_like::<F>(codes, "codes")?;
        let cv = c.as_array();
        let labels = run(py, pass_cost(&x, cv.nrows()), workers, None, |exec| {
            crate::sparse::nearest(exec, &x, cv)
        })?;
        Ok(labels.into_pyarray(py))
    }
    with_csr!(parts, |x| go(py, x, codes, workers))
}

/// The rows' inertia against their codes ([`crate::sparse::inertia`]), or with `by_label`
/// each code's ([`crate::sparse::label_inertia`]), a list.
#[pyfunction]
#[pyo3(signature = (parts, codes, labels, weights=None, workers=None, by_label=false))]
fn sparse_inertia<'py>(
    py: Python<'py>,
    parts: Parts<'py>,
    codes: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i32>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
    by_label: bool,
) -> PyResult<Bound<'py, PyAny>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: Csr<'_, F>,
        (codes, labels): (&Bound<'py, PyAny>, &[i32]),
        weights: Option<&Bound<'py, PyAny>>,
        (workers, by_label): (Option<usize>, bool),
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = codes_like::<F>(codes, "codes")?;
        let cv = c.as_array();
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let sums = run(py, pass_cost(&x, 1), workers, None, |exec| {
            if by_label {
                crate::sparse::label_inertia(exec, &x, cv, labels, w)
            } else {
                crate::sparse::inertia(exec, &x, cv, labels, w).map(|v| vec![v])
            }
        })?;
        if by_label {
            Ok(sums.into_pyobject(py)?.into_any())
        } else {
            Ok(sums[0].into_pyobject(py)?.into_any())
        }
    }
    let labels = labels.as_slice()?;
    let how = (workers, by_label);
    with_csr!(parts, |x| go(py, x, (codes, labels), weights, how))
}

/// One mini-batch step on sparse rows ([`crate::lloyd::minibatch::sparse_step`]), as the
/// engine front-end's `minibatch_step`.
#[pyfunction]
#[pyo3(signature = (parts, weights, centers, totals, workers=None, inertia=true))]
fn sparse_minibatch_step<'py>(
    py: Python<'py>,
    parts: Parts<'py>,
    weights: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    totals: &Bound<'py, PyAny>,
    workers: Option<usize>,
    inertia: bool,
) -> PyResult<StepOut<'py>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: Csr<'_, F>,
        args: StepArgs<'_, 'py>,
        (workers, inertia): (Option<usize>, bool),
    ) -> PyResult<StepOut<'py>> {
        let cost = |k| pass_cost(&x, k);
        minibatch_call(py, args, workers, cost, |exec, cv, ws, ts, moved| {
            crate::lloyd::minibatch::sparse_step(exec, &x, ws, cv, (ts, moved), inertia)
        })
    }
    with_csr!(parts, |x| go(
        py,
        x,
        (weights, centers, totals),
        (workers, inertia)
    ))
}

#[pyfunction]
#[pyo3(signature = (parts, codes, workers=None))]
fn sparse_distances<'py>(
    py: Python<'py>,
    parts: Parts<'py>,
    codes: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: Csr<'_, F>,
        codes: &Bound<'py, PyAny>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = codes_like::<F>(codes, "codes")?;
        let cv = c.as_array();
        let out = run(py, pass_cost(&x, cv.nrows()), workers, None, |exec| {
            crate::sparse::distances(exec, &x, cv)
        })?;
        Ok(out.into_pyarray(py).into_any())
    }
    with_csr!(parts, |x| go(py, x, codes, workers))
}

/// Add this front-end's functions to the module.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sparse_greedy_plusplus, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_lloyd, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_minibatch_step, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_nearest, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_inertia, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_distances, m)?)?;
    Ok(())
}
