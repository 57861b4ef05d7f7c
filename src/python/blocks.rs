//! The Dask front-end's Lloyd step of one block: the block's per-code sums, with the rows'
//! distance bounds handed back to the caller to keep for the block's next iteration (see
//! `ferrovq::lloyd::BlockBounds`: the sums do not depend on them); and the labels and
//! inertia alone of rows whose bounds a step left (`MiniBatchKMeans.partial_fit`'s
//! `labels_` and `inertia_`).

use super::arrays::{codes_like, with_float};
use super::engine::weights_of;
use super::running::{cost, run};
use crate::float::Float;
use crate::lloyd;
use numpy::{Element, IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A block's labels and distance bounds between Lloyd iterations, as `block_sums` returns
/// them (or `minibatch_step` leaves them in one made empty for its rows): opaque, for the
/// same block's next call on the same process.
#[pyclass(module = "ferrovq._core", frozen)]
pub(super) struct BlockBounds {
    /// Emptied when a call takes the bounds over (they move into the object it returns).
    inner: Mutex<Option<AnyBounds>>,
    rows: usize,
    /// The rows the step that left the bounds here compared (kept when they are taken).
    scanned: AtomicUsize,
}

/// Bounds of either float type.
pub(super) enum AnyBounds {
    F64(lloyd::BlockBounds<f64>),
    F32(lloyd::BlockBounds<f32>),
}

#[pymethods]
impl BlockBounds {
    /// Empty bounds for a block of `rows` rows (every row compared at its first step).
    #[new]
    fn empty(rows: usize) -> Self {
        BlockBounds {
            inner: Mutex::new(None),
            rows,
            scanned: AtomicUsize::new(0),
        }
    }

    /// The rows' labels from the step that made these bounds (empty if there was none).
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i32>> {
        let labels = match &*self.lock() {
            Some(AnyBounds::F64(b)) => b.labels(),
            Some(AnyBounds::F32(b)) => b.labels(),
            None => Vec::new(),
        };
        labels.into_pyarray(py)
    }

    /// Whether a step left its labels and bounds here.
    #[getter]
    fn kept(&self) -> bool {
        self.lock().is_some()
    }

    /// The number of rows of the block these bounds are for.
    #[getter]
    fn rows(&self) -> usize {
        self.rows
    }

    /// The memory the bounds hold (twelve bytes per row).
    #[getter]
    fn nbytes(&self) -> usize {
        12 * self.rows
    }

    /// How many rows the step that made these bounds compared with other codes than
    /// their own (all without usable bounds).
    #[getter]
    fn scanned(&self) -> usize {
        self.scanned.load(Ordering::Relaxed)
    }
}

impl BlockBounds {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<AnyBounds>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bounds inside, taken over (left empty), if they are of type `F` and for `n`
    /// rows; else empty bounds for `n` rows.
    pub(super) fn take<F: Bounded>(&self, n: usize) -> lloyd::BlockBounds<F> {
        self.lock()
            .take()
            .and_then(F::unwrap)
            .filter(|b| b.rows() == n)
            .unwrap_or_else(|| lloyd::BlockBounds::new(n))
    }

    /// Keep `bounds` inside.
    pub(super) fn put<F: Bounded>(&self, bounds: lloyd::BlockBounds<F>) {
        self.scanned.store(bounds.scanned(), Ordering::Relaxed);
        *self.lock() = Some(F::wrap(bounds));
    }
}

/// The float types whose bounds `AnyBounds` holds.
pub(super) trait Bounded: Float + Element {
    fn unwrap(any: AnyBounds) -> Option<lloyd::BlockBounds<Self>>;
    fn wrap(bounds: lloyd::BlockBounds<Self>) -> AnyBounds;
}

impl Bounded for f64 {
    fn unwrap(any: AnyBounds) -> Option<lloyd::BlockBounds<f64>> {
        match any {
            AnyBounds::F64(b) => Some(b),
            AnyBounds::F32(_) => None,
        }
    }
    fn wrap(bounds: lloyd::BlockBounds<f64>) -> AnyBounds {
        AnyBounds::F64(bounds)
    }
}

impl Bounded for f32 {
    fn unwrap(any: AnyBounds) -> Option<lloyd::BlockBounds<f32>> {
        match any {
            AnyBounds::F32(b) => Some(b),
            AnyBounds::F64(_) => None,
        }
    }
    fn wrap(bounds: lloyd::BlockBounds<f32>) -> AnyBounds {
        AnyBounds::F32(bounds)
    }
}

type SumsOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<i64>>, BlockBounds);

/// One Lloyd step of a block against a code book of its dtype: per-code sums (`k x d`,
/// the bits of `block_stats`'), counts, and the rows' bounds for the block's next call.
/// `bounds` from an earlier call on this block are taken over (left empty); bounds of
/// another dtype or row count, or none, mean every row is compared with every code.
#[pyfunction]
#[pyo3(signature = (block, code_book, bounds=None, workers=None))]
fn block_sums<'py>(
    py: Python<'py>,
    block: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    bounds: Option<&Bound<'py, BlockBounds>>,
    workers: Option<usize>,
) -> PyResult<SumsOut<'py>> {
    fn go<'py, F: Bounded>(
        py: Python<'py>,
        x: PyReadonlyArray2<'py, F>,
        code_book: &Bound<'py, PyAny>,
        bounds: Option<&Bound<'py, BlockBounds>>,
        workers: Option<usize>,
    ) -> PyResult<SumsOut<'py>> {
        let c = codes_like::<F>(code_book, "code_book")?;
        let (xv, cv) = (x.as_array(), c.as_array());
        let n = xv.nrows();
        let mut kept = match bounds {
            Some(b) => b.get().take::<F>(n),
            None => lloyd::BlockBounds::new(n),
        };
        let size = cost(&[n, cv.nrows(), cv.ncols()]);
        let (sums, kept) = run(py, size, workers, None, |exec| {
            Ok((kept.step(exec, xv, cv)?, kept))
        })?;
        let (k, d) = cv.dim();
        let means = numpy::ndarray::Array2::from_shape_vec((k, d), sums.sums().to_vec())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((
            means.into_pyarray(py).into_any(),
            sums.counts().to_vec().into_pyarray(py),
            BlockBounds {
                scanned: AtomicUsize::new(kept.scanned()),
                inner: Mutex::new(Some(F::wrap(kept))),
                rows: n,
            },
        ))
    }
    with_float!(block, "block", |x| go(py, x, code_book, bounds, workers))
}

/// The labels of `block_sums` (int32) and their inertia, without the sums: the rows of
/// `block` labelled with their nearest code of `code_book`, comparing only those that
/// `bounds` (from an earlier call on this block) do not settle, then the sum of
/// `w * |x - code|**2` over the rows (`weights`, if given, else 1), both in one release
/// of the GIL on one pool; the new bounds are left in `bounds`.
#[pyfunction]
#[pyo3(signature = (block, code_book, bounds, weights=None, workers=None))]
fn block_labels<'py>(
    py: Python<'py>,
    block: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    bounds: &Bound<'py, BlockBounds>,
    weights: Option<&Bound<'py, PyAny>>,
    workers: Option<usize>,
) -> PyResult<(Bound<'py, PyArray1<i32>>, f64)> {
    fn go<'py, F: Bounded>(
        py: Python<'py>,
        x: PyReadonlyArray2<'py, F>,
        code_book: &Bound<'py, PyAny>,
        (bounds, weights): (&Bound<'py, BlockBounds>, Option<&Bound<'py, PyAny>>),
        workers: Option<usize>,
    ) -> PyResult<(Bound<'py, PyArray1<i32>>, f64)> {
        let c = codes_like::<F>(code_book, "code_book")?;
        let w = weights_of::<F>(weights)?;
        let w = w.as_ref().map(|w| w.as_slice()).transpose()?;
        let (xv, cv) = (x.as_array(), c.as_array());
        let n = xv.nrows();
        let mut kept = bounds.get().take::<F>(n);
        let size = cost(&[n, cv.nrows(), cv.ncols()]);
        let (kept, labels, inertia) = run(py, size, workers, None, |exec| {
            kept.label(exec, xv, cv)?;
            let labels = kept.labels();
            let inertia = crate::inertia(exec, xv, cv, &labels, w)?;
            Ok((kept, labels, inertia))
        })?;
        bounds.get().put(kept);
        Ok((labels.into_pyarray(py), inertia))
    }
    with_float!(block, "block", |x| go(
        py,
        x,
        code_book,
        (bounds, weights),
        workers
    ))
}

/// Add this front-end's class and functions to the module.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BlockBounds>()?;
    m.add_function(wrap_pyfunction!(block_sums, m)?)?;
    m.add_function(wrap_pyfunction!(block_labels, m)?)?;
    Ok(())
}
