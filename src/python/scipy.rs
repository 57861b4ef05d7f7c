//! SciPy's front-end: `vq`, `whiten`, the Lloyd loops of `kmeans` and `kmeans2`, and the
//! Gaussian seeding, each calling its configuration in [`crate::scipy`] or [`crate::init`].
//! Validation, dtype rules, warnings and random draws are the Python package's.

use super::arrays::{unsupported, with_float, with_float_pair, Floats};
use super::running::{cost, run};
use crate::float::{Float, Promote};
use crate::scipy::Missing;
use numpy::{Element, IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyAny;

type Pair<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);

#[pyfunction]
#[pyo3(signature = (obs, code_book, workers=None, check_finite=false))]
fn vq<'py>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    workers: Option<usize>,
    check_finite: bool,
) -> PyResult<Pair<'py>> {
    fn go<'py, C: Float + Element>(
        py: Python<'py>,
        o: PyReadonlyArray2<'py, C>,
        c: PyReadonlyArray2<'py, C>,
        workers: Option<usize>,
        check: bool,
    ) -> PyResult<Pair<'py>> {
        let (ov, cv) = (o.as_array(), c.as_array());
        let size = cost(&[ov.nrows(), cv.nrows(), cv.ncols()]);
        let (codes, dists) = run(py, size, workers, None, |exec| {
            crate::scipy::vq(exec, ov, cv, check)
        })?;
        Ok((
            codes.into_pyarray(py).into_any(),
            dists.into_pyarray(py).into_any(),
        ))
    }
    // vq compares in one dtype: the Python layer passes both arrays in it.
    match (Floats::of(obs, "obs")?, Floats::of(code_book, "code_book")?) {
        (Floats::F64(o), Floats::F64(c)) => go(py, o, c, workers, check_finite),
        (Floats::F32(o), Floats::F32(c)) => go(py, o, c, workers, check_finite),
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
        let size = cost(&[ov.nrows(), ov.ncols()]);
        let (w, zero) = run(py, size, workers, None, |exec| {
            crate::scipy::whiten(exec, ov)
        })?;
        Ok((w.into_pyarray(py).into_any(), zero.into_pyarray(py)))
    }
    with_float!(obs, "obs", |o| go(py, o, workers))
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
    fn go<'py, F: Promote<C> + Promote<F> + Element, C: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        g: PyReadonlyArray2<'py, C>,
        thresh: f64,
        workers: Option<usize>,
        cb: Option<&Py<PyAny>>,
    ) -> PyResult<KmeansOut<'py>> {
        let (dv, gv) = (d.as_array(), g.as_array());
        let size = cost(&[dv.nrows(), gv.nrows(), gv.ncols()]);
        let r = run(py, size, workers, cb, |exec| {
            crate::scipy::kmeans_single(exec, dv, gv, thresh)
        })?;
        let dist = r.distortion;
        Ok((
            r.code_book.into_pyarray(py).into_any(),
            dist.value,
            dist.wide,
        ))
    }
    let cb = callback.as_ref();
    with_float_pair!(data, guess, "guess", |d, g| go(
        py, d, g, thresh, workers, cb
    ))
}

type Kmeans2Out<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<i32>>, usize);

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
) -> PyResult<Kmeans2Out<'py>> {
    fn go<'py, F: Promote<C> + Promote<F> + Element, C: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        c: PyReadonlyArray2<'py, C>,
        (iter, missing): (usize, Missing),
        workers: Option<usize>,
        cb: Option<&Py<PyAny>>,
    ) -> PyResult<Kmeans2Out<'py>> {
        let (dv, cv) = (d.as_array(), c.as_array());
        let size = cost(&[dv.nrows(), cv.nrows(), cv.ncols()]);
        let r = run(py, size, workers, cb, |exec| {
            crate::scipy::kmeans2_lloyd(exec, dv, cv, iter, missing)
        })?;
        Ok((
            r.centroids.into_pyarray(py).into_any(),
            r.labels.into_pyarray(py),
            r.empty_iterations,
        ))
    }
    let missing = if missing_raise {
        Missing::Raise
    } else {
        Missing::Warn
    };
    let cb = callback.as_ref();
    with_float_pair!(data, init, "init", |d, c| go(
        py,
        d,
        c,
        (iter, missing),
        workers,
        cb
    ))
}

/// SciPy's `_krandinit` for 2-D data with at least as many rows as columns: `z @
/// cholesky(cov).T + mean` from the caller's standard normals `z`.
#[pyfunction]
#[pyo3(signature = (data, z, workers=None))]
fn gaussian_init<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    z: PyReadonlyArray2<'py, f64>,
    workers: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        z: &PyReadonlyArray2<'py, f64>,
        workers: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (dv, zv) = (d.as_array(), z.as_array());
        let x = run(py, cost(&[dv.nrows(), dv.ncols()]), workers, None, |exec| {
            crate::init::gaussian_init(exec, dv, zv)
        })?;
        Ok(x.into_pyarray(py))
    }
    with_float!(data, "data", |d| go(py, d, &z, workers))
}

/// SciPy's `_krandinit` for 1-D data: `z * std + mean`, without a Cholesky factor.
#[pyfunction]
fn gaussian_init_1d<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    z: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    fn go<'py, F: Float + Element>(
        py: Python<'py>,
        d: PyReadonlyArray2<'py, F>,
        z: &[f64],
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let col: Vec<F> = d.as_array().iter().copied().collect();
        Ok(crate::init::gaussian_init_1d(&col, z).into_pyarray(py))
    }
    let z = z.as_slice()?;
    with_float!(data, "data", |d| go(py, d, z))
}

/// Add this front-end's functions to the module.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(vq, m)?)?;
    m.add_function(wrap_pyfunction!(whiten, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_single, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans2_lloyd, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian_init, m)?)?;
    m.add_function(wrap_pyfunction!(gaussian_init_1d, m)?)?;
    Ok(())
}
