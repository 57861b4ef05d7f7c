//! The engine's own front-end: Lloyd runs with any stopping rule, empty-cluster policy and
//! row weights, mini-batch steps, weighted k-means++ from the caller's draws, and the
//! finiteness check.
//! (The scikit-learn and Dask front-ends of the Python package stand on these.)

use super::arrays::{codes_like, with_float, with_float_pair};
use super::blocks::{BlockBounds, Bounded};
use super::running::{cost, run, PyFarthest};
use crate::float::{Float, Promote};
use crate::lloyd::{Empty, Params, Stop};
use crate::parallel::Exec;
use ndarray::ArrayView2;
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyAny;

/// Row weights as a slice of the data's type, if given.
pub(super) fn weights_of<'py, F: Element>(
    weights: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<PyReadonlyArray1<'py, F>>> {
    weights.map(|w| w.extract()).transpose().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "sample weights: expected a 1-D array of the data's dtype",
        )
    })
}

/// A stopping rule from its name: "iterations" (`max_iter` of them), "distortion" (SciPy's
/// threshold `value`) or "center_shift" (scikit-learn's tolerance `value`, at most
/// `max_iter` iterations).
fn stop_rule(stop: &str, value: f64, max_iter: usize) -> PyResult<Stop> {
    match stop {
        "iterations" => Ok(Stop::Iterations(max_iter)),
        "distortion" => Ok(Stop::Distortion { thresh: value }),
        "center_shift" => Ok(Stop::CenterShift {
            tol: value,
            max_iter,
        }),
        _ => Err(PyValueError::new_err(format!(
            "unknown stopping rule {stop:?}"
        ))),
    }
}

/// An empty-cluster policy from its name: "drop", "keep", "raise" or "farthest".
fn empty_policy(empty: &str) -> PyResult<Empty> {
    match empty {
        "drop" => Ok(Empty::Drop),
        "keep" => Ok(Empty::Keep),
        "raise" => Ok(Empty::Raise),
        "farthest" => Ok(Empty::Farthest),
        _ => Err(PyValueError::new_err(format!(
            "unknown empty-cluster policy {empty:?}"
        ))),
    }
}

type LloydOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<i32>>, usize, usize);

#[pyfunction]
#[pyo3(signature = (data, init, stop, value, max_iter, empty, weights=None, workers=None, callback=None, farthest=None))]
#[allow(clippy::too_many_arguments)]
fn lloyd<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    init: &Bound<'py, PyAny>,
    stop: &str,
    value: f64,
    max_iter: usize,
    empty: &str,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
    callback: Option<Py<PyAny>>,
    farthest: Option<Py<PyAny>>,
) -> PyResult<LloydOut<'py>> {
    fn go<'py, F: Promote<C> + Promote<F> + Element, C: Float + Element>(
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, F>,
        c: numpy::PyReadonlyArray2<'py, C>,
        params: (Stop, Empty, Option<&Bound<'py, PyAny>>, Option<&PyFarthest>),
        workers: Option<usize>,
        callback: Option<&Py<PyAny>>,
    ) -> PyResult<LloydOut<'py>> {
        let w = weights_of::<F>(params.2)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let (xv, cv) = (x.as_array(), c.as_array());
        let p = Params {
            stop: params.0,
            empty: params.1,
            weights: w,
            farthest: params.3.map(|f| f as &dyn crate::lloyd::FarthestRows),
        };
        let size = cost(&[xv.nrows(), cv.nrows(), cv.ncols()]);
        let out = run(py, size, workers, callback, |exec| {
            crate::lloyd::run(exec, xv, cv, &p)
        })?;
        Ok((
            out.centroids.into_pyarray(py).into_any(),
            out.labels.into_pyarray(py),
            out.iterations,
            out.empty_iterations,
        ))
    }
    let chooser = farthest.map(PyFarthest);
    let params = (
        stop_rule(stop, value, max_iter)?,
        empty_policy(empty)?,
        weights,
        chooser.as_ref(),
    );
    let cb = callback.as_ref();
    with_float_pair!(data, init, "init", |x, c| go(py, x, c, params, workers, cb))
}

/// A mini-batch step's labels, inertia (if measured) and moved codes.
pub(super) type StepOut<'py> = (Bound<'py, PyArray1<i32>>, Option<f64>, Bound<'py, PyAny>);

/// What a mini-batch step hands back from the engine: the labels and, if measured, the
/// batch's inertia against the codes before the step.
pub(super) type Stepped = crate::Result<(Vec<i32>, Option<f64>)>;

/// The parts of a mini-batch step as Python hands them over (`weights`, `centers` and
/// `totals`, which is written in place: each code's weight so far).
pub(super) type StepArgs<'a, 'py> = (
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
);

/// One mini-batch step, dense or sparse: the weights, code book and running totals read
/// from Python, `step` (given the code book, weights, totals and a buffer for the moved
/// codes) run by [`run`] at the cost `cost` gives for the number of codes, and its labels,
/// inertia and moved codes handed back.
pub(super) fn minibatch_call<'py, F: Float + Element>(
    py: Python<'py>,
    (weights, centers, totals): StepArgs<'_, 'py>,
    workers: Option<usize>,
    cost: impl FnOnce(usize) -> usize,
    step: impl FnOnce(&Exec, ArrayView2<F>, &[F], &mut [F], &mut [F]) -> Stepped + Send,
) -> PyResult<StepOut<'py>> {
    let c = codes_like::<F>(centers, "centers")?;
    let w: PyReadonlyArray1<'py, F> = weights
        .extract()
        .map_err(|_| PyTypeError::new_err("weights: expected a 1-D array of the data's dtype"))?;
    let mut t: numpy::PyReadwriteArray1<'py, F> = totals.extract().map_err(|_| {
        PyTypeError::new_err("totals: expected a writable 1-D array of the data's dtype")
    })?;
    let cv = c.as_array();
    let (ws, ts) = (w.as_slice()?, t.as_slice_mut()?);
    let mut moved = vec![F::ZERO; cv.len()];
    let (labels, inertia) = run(py, cost(cv.nrows()), workers, None, |exec| {
        step(exec, cv, ws, ts, &mut moved)
    })?;
    let moved = crate::matrix(moved, cv.nrows(), cv.ncols())?;
    Ok((
        labels.into_pyarray(py),
        inertia,
        moved.into_pyarray(py).into_any(),
    ))
}

/// One mini-batch step on dense rows ([`crate::lloyd::minibatch::step`]): `totals` is
/// updated in place; returns the batch's labels, its inertia (`None` unless `inertia`) and
/// the moved codes. With `bounds` (a `BlockBounds` for these rows) the rows' distance
/// bounds are left in it, for `block_sums` to label the same rows against the moved codes
/// comparing fewer of them. With `check_finite`, a NaN or infinity in the rows raises
/// `ValueError` before anything moves (searched as the rows are labelled).
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (data, weights, centers, totals, workers=None, bounds=None, inertia=true, check_finite=false))]
fn minibatch_step<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    weights: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    totals: &Bound<'py, PyAny>,
    workers: Option<usize>,
    bounds: Option<&Bound<'py, BlockBounds>>,
    inertia: bool,
    check_finite: bool,
) -> PyResult<StepOut<'py>> {
    fn go<'py, F: Bounded>(
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, F>,
        args: StepArgs<'_, 'py>,
        workers: Option<usize>,
        (bounds, inertia, check): (Option<&Bound<'py, BlockBounds>>, bool, bool),
    ) -> PyResult<StepOut<'py>> {
        let xv = x.as_array();
        let cost = |k| cost(&[xv.nrows(), k, xv.ncols()]);
        let mut kept = bounds.map(|b| b.get().take::<F>(xv.nrows()));
        let out = minibatch_call(py, args, workers, cost, |exec, cv, ws, ts, moved| {
            let out = (ts, moved);
            let labels =
                crate::lloyd::minibatch::step(exec, xv, ws, cv, out, kept.as_mut(), check)?;
            let measured = inertia.then(|| crate::inertia(exec, xv, cv, &labels, Some(ws)));
            Ok((labels, measured.transpose()?))
        });
        // Bounds the step did not use (too few rows per code for them) stay out.
        if let (Some(b), Some(kept)) = (bounds, kept.filter(|k| k.stepped())) {
            b.get().put(kept);
        }
        out
    }
    with_float!(data, "data", |x| go(
        py,
        x,
        (weights, centers, totals),
        workers,
        (bounds, inertia, check_finite)
    ))
}

type PlusPlusOut<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<usize>>,
    usize,
);

#[pyfunction]
#[pyo3(signature = (data, k, first, uniforms, weights=None, workers=None))]
fn kmeans_plusplus<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    k: usize,
    first: usize,
    uniforms: PyReadonlyArray1<'py, f64>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<PlusPlusOut<'py>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, F>,
        (k, first, u): (usize, usize, &[f64]),
        weights: Option<&Bound<'py, PyAny>>,
        workers: Option<usize>,
    ) -> PyResult<PlusPlusOut<'py>> {
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let xv = x.as_array();
        let pp = run(py, cost(&[xv.nrows(), xv.ncols()]), workers, None, |exec| {
            crate::init::kmeans_plusplus(exec, xv, k, first, u, w)
        })?;
        Ok((
            pp.centroids.into_pyarray(py),
            pp.indices.into_pyarray(py),
            pp.degenerate_steps,
        ))
    }
    let u = uniforms.as_slice()?;
    with_float!(data, "data", |x| go(py, x, (k, first, u), weights, workers))
}

type GreedyOut<'py> = Bound<'py, PyArray1<usize>>;

#[pyfunction]
#[pyo3(signature = (data, k, trials, first, uniforms, weights=None, workers=None))]
#[allow(clippy::too_many_arguments)]
fn greedy_plusplus<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    k: usize,
    trials: usize,
    first: usize,
    uniforms: PyReadonlyArray1<'py, f64>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<GreedyOut<'py>> {
    fn go<'py, F: Promote<f64> + Element>(
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, F>,
        (k, trials, first, u): (usize, usize, usize, &[f64]),
        weights: Option<&Bound<'py, PyAny>>,
        workers: Option<usize>,
    ) -> PyResult<GreedyOut<'py>> {
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let xv = x.as_array();
        let size = cost(&[xv.nrows(), trials, xv.ncols()]);
        let g = run(py, size, workers, None, |exec| {
            crate::init::greedy_plusplus(exec, xv, (k, trials), first, u, w)
        })?;
        Ok(g.indices.into_pyarray(py))
    }
    let u = uniforms.as_slice()?;
    let args = (k, trials, first, u);
    with_float!(data, "data", |x| go(py, x, args, weights, workers))
}

/// The rows numpy's `RandomState.choice(len(p), ..., p=p)` picks with its draws `uniforms`
/// already made, the rows `excluded` given no weight (see [`crate::init::weighted_picks`]);
/// `p` a 1-D float32 or float64 array.
#[pyfunction]
fn weighted_picks(
    py: Python<'_>,
    p: &Bound<'_, PyAny>,
    uniforms: PyReadonlyArray1<'_, f64>,
    excluded: Vec<usize>,
) -> PyResult<Vec<usize>> {
    fn go<F: Float + Element>(
        py: Python<'_>,
        p: &Bound<'_, PyArray1<F>>,
        u: &[f64],
        excluded: &[usize],
    ) -> PyResult<Vec<usize>> {
        let p = p.try_readonly()?;
        let p = p.as_slice()?;
        run(py, cost(&[p.len()]), Some(1), None, |_| {
            Ok(crate::init::weighted_picks(p, u, excluded))
        })
    }
    let u = uniforms.as_slice()?;
    if let Ok(a) = p.cast::<PyArray1<f64>>() {
        return go(py, a, u, &excluded);
    }
    if let Ok(a) = p.cast::<PyArray1<f32>>() {
        return go(py, a, u, &excluded);
    }
    Err(PyTypeError::new_err(
        "p: expected a 1-D float32 or float64 array",
    ))
}

/// A cumulative distribution kept for many draws (see `ferrovq::Cdf`): the rows numpy's
/// `RandomState.choice(n, size, p=p)` picks with its uniforms, for `MiniBatchKMeans`'s
/// batches.
#[pyclass(module = "ferrovq._core", name = "Cdf", frozen)]
struct PyCdf(crate::Cdf);

#[pymethods]
impl PyCdf {
    /// The table of `values`, non-decreasing (`ValueError` otherwise).
    #[new]
    fn new(values: PyReadonlyArray1<'_, f64>) -> PyResult<Self> {
        Ok(PyCdf(crate::Cdf::new(values.as_slice()?.to_vec())?))
    }

    /// Each uniform's place: numpy's `searchsorted(uniforms, side="right")` on the values.
    fn places<'py>(
        &self,
        py: Python<'py>,
        uniforms: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let u = uniforms.as_slice()?;
        let mut out = vec![0; u.len()];
        // A uniform's search, a cache miss or two at a million rows, counted as the cost
        // of sixteen operations: up to 65,536 uniforms on the calling thread.
        run(py, cost(&[u.len(), 16]), Some(1), None, |_| {
            self.0.places(u, &mut out);
            Ok(())
        })?;
        Ok(out.into_pyarray(py))
    }
}

type BlockOut<'py> = (
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
    Option<Bound<'py, PyAny>>,
    f64,
    f64,
);

/// One block's labels and statistics against a code book of its dtype (see
/// `ferrovq::lloyd::block_stats`): labels, per-code sums (`k x d`), counts, weight totals
/// (None without weights), inertia and the sum of the distances.
#[pyfunction]
#[pyo3(signature = (block, code_book, weights=None, workers=None))]
fn block_stats<'py>(
    py: Python<'py>,
    block: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<BlockOut<'py>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, F>,
        code_book: &Bound<'py, PyAny>,
        weights: Option<&Bound<'py, PyAny>>,
        workers: Option<usize>,
    ) -> PyResult<BlockOut<'py>> {
        let c = codes_like::<F>(code_book, "code_book")?;
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let (xv, cv) = (x.as_array(), c.as_array());
        let size = cost(&[xv.nrows(), cv.nrows(), cv.ncols()]);
        let (labels, stats) = run(py, size, workers, None, |exec| {
            crate::lloyd::block_stats(exec, xv, cv, w)
        })?;
        let (k, d) = cv.dim();
        let sums = numpy::ndarray::Array2::from_shape_vec((k, d), stats.sums.sums().to_vec())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((
            labels.into_pyarray(py),
            sums.into_pyarray(py).into_any(),
            stats.sums.counts().to_vec().into_pyarray(py),
            stats
                .sums
                .weights()
                .map(|t| t.to_vec().into_pyarray(py).into_any()),
            stats.inertia,
            stats.distances,
        ))
    }
    with_float!(block, "block", |x| go(py, x, code_book, weights, workers))
}

/// Whether every value of a C-contiguous float32/float64 array is finite (SciPy's
/// `check_finite`), computed in parallel with the GIL released.
#[pyfunction]
#[pyo3(signature = (a, workers=None))]
fn all_finite(py: Python<'_>, a: &Bound<'_, PyAny>, workers: Option<usize>) -> PyResult<bool> {
    if let Ok(x) = a.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        let s = x.as_slice()?;
        return run(py, s.len(), workers, None, |exec| {
            Ok(crate::all_finite(exec, s))
        });
    }
    let x = a
        .extract::<PyReadonlyArrayDyn<'_, f32>>()
        .map_err(|_| super::arrays::unsupported("a", a))?;
    let s = x.as_slice()?;
    run(py, s.len(), workers, None, |exec| {
        Ok(crate::all_finite(exec, s))
    })
}

/// The number of threads used when `workers` is not given.
#[pyfunction]
fn default_workers() -> usize {
    crate::parallel::default_threads()
}

/// Panics inside a worker thread, so tests can check that a Rust panic reaches Python as
/// an exception and leaves the interpreter usable.
#[pyfunction]
fn _panic_in_worker(py: Python<'_>) -> PyResult<()> {
    run(py, usize::MAX, Some(2), None, |exec| {
        exec.map(vec![false, true], |fail| {
            assert!(!fail, "deliberate panic for testing");
        });
        Ok(())
    })
}

/// Add this front-end's functions to the module.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lloyd, m)?)?;
    m.add_function(wrap_pyfunction!(minibatch_step, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_plusplus, m)?)?;
    m.add_function(wrap_pyfunction!(greedy_plusplus, m)?)?;
    m.add_function(wrap_pyfunction!(weighted_picks, m)?)?;
    m.add_class::<PyCdf>()?;
    m.add_function(wrap_pyfunction!(block_stats, m)?)?;
    m.add_function(wrap_pyfunction!(all_finite, m)?)?;
    m.add_function(wrap_pyfunction!(default_workers, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_worker, m)?)?;
    Ok(())
}
