//! Running core work from Python: the GIL released, Ctrl-C checked between units of work,
//! the caller's callbacks (progress, a front-end's choice of rows for empty codes), and a
//! panic turned into a `RuntimeError`.

use crate::error::Error;
use crate::lloyd::FarthestRows;
use crate::parallel::{Control, Exec};
use numpy::PyArray1;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

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

/// A Python callable ``choose(far, take) -> rows`` as the engine's [`FarthestRows`]: the
/// front-end's order among equally far rows (scikit-learn's: numpy's `argpartition`),
/// called attached to the interpreter, with `far` as a float64 array.
#[derive(Debug)]
pub(super) struct PyFarthest(pub(super) Py<PyAny>);

impl FarthestRows for PyFarthest {
    fn choose(&self, far: &[f64], take: usize) -> crate::Result<Vec<usize>> {
        Python::attach(|py| {
            self.0
                .call1(py, (PyArray1::from_slice(py, far), take))?
                .extract::<Vec<usize>>(py)
        })
        .map_err(|e| Error::InvalidParameter(format!("choosing rows for empty clusters: {e}")))
    }
}

/// Below this many elementary operations per pass over the data (rows x codes x features
/// for an assignment, rows x features for a scan), work runs on the calling thread with
/// the GIL held: waking the pool costs 50-90 us on this machine, and releasing the GIL may
/// wait for another Python thread's turn, more than such a pass gains from a second
/// thread (measured: `vq` of 1,000 x 64 against 4 codes, 2^18 operations, 50 us on the
/// calling thread, 140 us through the pool; 1,000 x 64 x 16 in float64, 2^20, 150 us on
/// the calling thread, 200 us through the pool).
const INLINE_COST: usize = 1 << 20;

/// The cost of a pass over the data for [`run`]: the product of its dimensions (rows,
/// codes, features), none counted below one.
pub(super) fn cost(dims: &[usize]) -> usize {
    dims.iter()
        .fold(1, |c: usize, &f| c.saturating_mul(f.max(1)))
}

/// Run `work`, whose passes over the data cost about `cost` elementary operations each,
/// checking for Ctrl-C between units of work and calling `callback(iteration,
/// rows_compared)` after each Lloyd iteration if given. Short passes run on the calling
/// thread with the GIL held; longer ones with the GIL released, in a pool of `workers`
/// threads. The result is the same either way. A panic becomes a `RuntimeError`; an
/// interruption re-raises the exception that stopped it (normally the signal handler's
/// `KeyboardInterrupt`).
pub(super) fn run<T: Send>(
    py: Python<'_>,
    cost: usize,
    workers: Option<usize>,
    callback: Option<&Py<PyAny>>,
    work: impl FnOnce(&Exec) -> crate::Result<T> + Send,
) -> PyResult<T> {
    let control = SignalControl {
        raised: Mutex::new(None),
        callback,
    };
    let inline = cost < INLINE_COST;
    let guarded = || {
        catch_unwind(AssertUnwindSafe(|| {
            if inline {
                work(&Exec::on_caller(&control))
            } else {
                work(&Exec::new(workers, &control)?)
            }
        }))
    };
    let outcome = if inline {
        guarded()
    } else {
        py.detach(guarded)
    };
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Error::Interrupted)) => Err(control
            .raised
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| PyKeyboardInterrupt::new_err("interrupted"))),
        Ok(Err(e)) => Err(e.into()),
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
