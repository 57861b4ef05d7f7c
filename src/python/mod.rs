//! The binding layer: numpy arrays in and out, the GIL released for all heavy work, core
//! errors mapped to Python exceptions in one place. Validation, dtype rules, warnings and
//! random numbers belong to the Python package (`python/ferrovq`), which calls these
//! functions with C-contiguous, native-endian float32/float64 arrays.

use crate::distance::Promote;
use crate::error::Error;
use crate::float::Float;
use crate::kmeans2::Missing;
use crate::parallel::{Control, Exec};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArrayDyn,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

pyo3::create_exception!(
    ferrovq,
    ClusterError,
    pyo3::exceptions::PyException,
    "Raised by kmeans2 when a cluster is empty and missing='raise'."
);

/// Checks for signals (Ctrl-C) between units of work and calls the caller's progress
/// callback after each Lloyd iteration, attaching to the interpreter only for that; keeps
/// the Python exception either raises, to re-raise it.
struct SignalControl<'a> {
    raised: Mutex<Option<PyErr>>,
    callback: Option<&'a Py<PyAny>>,
}

impl SignalControl<'_> {
    fn outcome(&self, r: PyResult<()>) -> crate::Result<()> {
        r.map_err(|e| {
            *self.raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            Error::Interrupted
        })
    }
}

impl Control for SignalControl<'_> {
    fn check(&self) -> crate::Result<()> {
        self.outcome(Python::attach(|py| py.check_signals()))
    }

    fn iteration(&self, iteration: usize, scanned: usize) -> crate::Result<()> {
        match self.callback {
            Some(cb) => self.outcome(Python::attach(|py| {
                py.check_signals()?;
                cb.call1(py, (iteration, scanned)).map(drop)
            })),
            None => self.check(),
        }
    }
}

/// Map a core error to the Python exception a SciPy user expects.
fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    match e {
        Error::EmptyCluster => ClusterError::new_err(e.to_string()),
        Error::NotPositiveDefinite => match py
            .import("numpy.linalg")
            .and_then(|m| m.getattr("LinAlgError"))
        {
            Ok(cls) => PyErr::from_type(
                cls.cast_into().expect("LinAlgError is a type"),
                e.to_string(),
            ),
            Err(err) => err,
        },
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        Error::ThreadPool(_) => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Run `work` with the GIL released, in a pool of `workers` threads that checks for
/// Ctrl-C between units of work. A panic becomes a `RuntimeError`; an interruption
/// re-raises the signal handler's exception (normally `KeyboardInterrupt`).
fn run<T: Send>(
    py: Python<'_>,
    workers: Option<usize>,
    work: impl FnOnce(&Exec) -> crate::Result<T> + Send,
) -> PyResult<T> {
    run_with(py, workers, None, work)
}

/// [`run`] with a progress callback, called as `callback(iteration, rows_compared)`.
fn run_with<T: Send>(
    py: Python<'_>,
    workers: Option<usize>,
    callback: Option<&Py<PyAny>>,
    work: impl FnOnce(&Exec) -> crate::Result<T> + Send,
) -> PyResult<T> {
    let control = SignalControl {
        raised: Mutex::new(None),
        callback,
    };
    let outcome = py.detach(|| {
        catch_unwind(AssertUnwindSafe(|| {
            let exec = Exec::new(workers, &control)?;
            work(&exec)
        }))
    });
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Error::Interrupted)) => Err(control
            .raised
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| PyKeyboardInterrupt::new_err("interrupted"))),
        Ok(Err(e)) => Err(to_pyerr(py, e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "internal error in ferrovq (please report it): {msg}"
            )))
        }
    }
}

/// A 2-D float array of either supported dtype.
#[derive(FromPyObject)]
enum Floats<'py> {
    F64(PyReadonlyArray2<'py, f64>),
    F32(PyReadonlyArray2<'py, f32>),
}

fn unsupported(what: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let dtype = obj
        .getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "unknown".into());
    pyo3::exceptions::PyTypeError::new_err(format!(
        "{what}: expected a 2-D float32 or float64 array, got dtype {dtype}"
    ))
}

#[pyfunction]
#[pyo3(signature = (obs, code_book, workers=None))]
fn vq<'py>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    fn go<'py, C: Float + Element>(
        py: Python<'py>,
        o: PyReadonlyArray2<'py, C>,
        c: PyReadonlyArray2<'py, C>,
        workers: Option<usize>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (ov, cv) = (o.as_array(), c.as_array());
        let (codes, dists) = run(py, workers, |exec| crate::vq::vq(exec, ov, cv))?;
        Ok((
            codes.into_pyarray(py).into_any(),
            dists.into_pyarray(py).into_any(),
        ))
    }
    match (obs.extract::<Floats>(), code_book.extract::<Floats>()) {
        (Ok(Floats::F64(o)), Ok(Floats::F64(c))) => go(py, o, c, workers),
        (Ok(Floats::F32(o)), Ok(Floats::F32(c))) => go(py, o, c, workers),
        (Err(_), _) => Err(unsupported("obs", obs)),
        _ => Err(unsupported("code_book (same dtype as obs)", code_book)),
    }
}

#[pyfunction]
#[pyo3(signature = (obs, workers=None))]
fn whiten<'py>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    workers: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<bool>>)> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        o: PyReadonlyArray2<'py, F>,
        workers: Option<usize>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<bool>>)> {
        let ov = o.as_array();
        let (w, zero) = run(py, workers, |exec| crate::whiten::whiten(exec, ov))?;
        Ok((w.into_pyarray(py).into_any(), zero.into_pyarray(py)))
    }
    match obs.extract::<Floats>() {
        Ok(Floats::F64(o)) => go(py, o, workers),
        Ok(Floats::F32(o)) => go(py, o, workers),
        Err(_) => Err(unsupported("obs", obs)),
    }
}

type KmeansOut<'py> = (Bound<'py, PyAny>, f64, bool);

#[pyfunction]
#[pyo3(signature = (data, guess, thresh, workers=None, callback=None))]
fn kmeans_single<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    guess: &Bound<'py, PyAny>,
    thresh: f64,
    workers: Option<usize>,
    callback: Option<Py<PyAny>>,
) -> PyResult<KmeansOut<'py>> {
    let cb = callback.as_ref();
    fn go<'py, F: Promote<C> + Promote<F> + Element, C: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        g: PyReadonlyArray2<'py, C>,
        thresh: f64,
        workers: Option<usize>,
        cb: Option<&Py<PyAny>>,
    ) -> PyResult<KmeansOut<'py>> {
        let (dv, gv) = (d.as_array(), g.as_array());
        let r = run_with(py, workers, cb, |exec| {
            crate::kmeans::kmeans_single(exec, dv, gv, thresh)
        })?;
        Ok((
            r.code_book.into_pyarray(py).into_any(),
            r.distortion,
            r.distortion_is_f64,
        ))
    }
    match (data.extract::<Floats>(), guess.extract::<Floats>()) {
        (Ok(Floats::F64(d)), Ok(Floats::F64(g))) => go(py, d, g, thresh, workers, cb),
        (Ok(Floats::F32(d)), Ok(Floats::F32(g))) => go(py, d, g, thresh, workers, cb),
        (Ok(Floats::F32(d)), Ok(Floats::F64(g))) => go(py, d, g, thresh, workers, cb),
        (Err(_), _) => Err(unsupported("data", data)),
        _ => Err(unsupported(
            "guess (float64 data needs a float64 guess)",
            guess,
        )),
    }
}

#[pyfunction]
#[pyo3(signature = (data, init, iter, missing_raise, workers=None, callback=None))]
fn kmeans2_lloyd<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    init: &Bound<'py, PyAny>,
    iter: usize,
    missing_raise: bool,
    workers: Option<usize>,
    callback: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, usize)> {
    let cb = callback.as_ref();
    let missing = if missing_raise {
        Missing::Raise
    } else {
        Missing::Warn
    };
    fn go<'py, F: Promote<C> + Promote<F> + Element, C: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        c: PyReadonlyArray2<'py, C>,
        iter: usize,
        missing: Missing,
        workers: Option<usize>,
        cb: Option<&Py<PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, usize)> {
        let (dv, cv) = (d.as_array(), c.as_array());
        let r = run_with(py, workers, cb, |exec| {
            crate::kmeans2::kmeans2_lloyd(exec, dv, cv, iter, missing)
        })?;
        Ok((
            r.centroids.into_pyarray(py).into_any(),
            r.labels.into_pyarray(py).into_any(),
            r.empty_iterations,
        ))
    }
    match (data.extract::<Floats>(), init.extract::<Floats>()) {
        (Ok(Floats::F64(d)), Ok(Floats::F64(c))) => go(py, d, c, iter, missing, workers, cb),
        (Ok(Floats::F32(d)), Ok(Floats::F32(c))) => go(py, d, c, iter, missing, workers, cb),
        (Ok(Floats::F32(d)), Ok(Floats::F64(c))) => go(py, d, c, iter, missing, workers, cb),
        (Err(_), _) => Err(unsupported("data", data)),
        _ => Err(unsupported(
            "init (float64 data needs a float64 code book)",
            init,
        )),
    }
}

#[pyfunction]
#[pyo3(signature = (data, k, first, uniforms, workers=None))]
fn kmeans_plusplus<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    k: usize,
    first: usize,
    uniforms: PyReadonlyArray1<'py, f64>,
    workers: Option<usize>,
) -> PyResult<(Bound<'py, PyArray2<f64>>, usize)> {
    let u = uniforms.as_slice()?;
    if u.len() + 1 < k {
        return Err(PyValueError::new_err(format!(
            "k-means++ needs {} uniform draws, got {}",
            k.saturating_sub(1),
            u.len()
        )));
    }
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        k: usize,
        first: usize,
        u: &[f64],
        workers: Option<usize>,
    ) -> PyResult<(Bound<'py, PyArray2<f64>>, usize)> {
        let dv = d.as_array();
        let mut draws = u.iter().copied();
        let pp = run(py, workers, |exec| {
            crate::init::kmeans_plusplus(exec, dv, k, first, || draws.next().unwrap_or(0.0))
        })?;
        Ok((pp.centroids.into_pyarray(py), pp.degenerate_steps))
    }
    match data.extract::<Floats>() {
        Ok(Floats::F64(d)) => go(py, d, k, first, u, workers),
        Ok(Floats::F32(d)) => go(py, d, k, first, u, workers),
        Err(_) => Err(unsupported("data", data)),
    }
}

#[pyfunction]
#[pyo3(signature = (data, z, one_dimensional, workers=None))]
fn gaussian_init<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    z: PyReadonlyArray2<'py, f64>,
    one_dimensional: bool,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let zv = z.as_array();
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        zv: ndarray::ArrayView2<'_, f64>,
        one_dimensional: bool,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let dv = d.as_array();
        let x = run(py, workers, |exec| {
            // SciPy scales 1-D data by the standard deviation, without a Cholesky factor.
            if one_dimensional {
                let col: Vec<F> = dv.iter().copied().collect();
                let zs: Vec<f64> = zv.iter().copied().collect();
                let out = crate::init::gaussian_init_1d(&col, &zs);
                crate::matrix(out, zs.len(), 1)
            } else {
                crate::init::gaussian_init(exec, dv, zv)
            }
        })?;
        Ok(x.into_pyarray(py))
    }
    match data.extract::<Floats>() {
        Ok(Floats::F64(d)) => go(py, d, zv, one_dimensional, workers),
        Ok(Floats::F32(d)) => go(py, d, zv, one_dimensional, workers),
        Err(_) => Err(unsupported("data", data)),
    }
}

/// Panics inside a worker thread, so tests can check that a Rust panic reaches Python as
/// an exception and leaves the interpreter usable.
#[pyfunction]
fn _panic_in_worker(py: Python<'_>) -> PyResult<()> {
    run(py, Some(2), |exec| {
        exec.install(|| {
            rayon::join(|| (), || panic!("deliberate panic for testing"));
        });
        Ok(())
    })
}

/// Whether every value of a C-contiguous float32/float64 array is finite (SciPy's
/// `check_finite`), computed in parallel with the GIL released.
#[pyfunction]
#[pyo3(signature = (a, workers=None))]
fn all_finite(py: Python<'_>, a: &Bound<'_, PyAny>, workers: Option<usize>) -> PyResult<bool> {
    if let Ok(x) = a.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        let s = x.as_slice()?;
        return run(py, workers, |exec| Ok(crate::finite::all_finite(exec, s)));
    }
    let x = a
        .extract::<PyReadonlyArrayDyn<'_, f32>>()
        .map_err(|_| unsupported("a", a))?;
    let s = x.as_slice()?;
    run(py, workers, |exec| Ok(crate::finite::all_finite(exec, s)))
}

/// The number of threads used when `workers` is not given.
#[pyfunction]
fn default_workers() -> usize {
    crate::parallel::default_threads()
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ClusterError", m.py().get_type::<ClusterError>())?;
    m.add_function(wrap_pyfunction!(vq, m)?)?;
    m.add_function(wrap_pyfunction!(whiten, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_single, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans2_lloyd, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_plusplus, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian_init, m)?)?;
    m.add_function(wrap_pyfunction!(default_workers, m)?)?;
    m.add_function(wrap_pyfunction!(all_finite, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_worker, m)?)?;
    Ok(())
}
