//! Running core work from Python: the GIL released, Ctrl-C checked between units of work,
//! a progress callback, and a panic turned into a `RuntimeError`.

use crate::error::Error;
use crate::parallel::{Control, Exec};
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

/// Run `work` with the GIL released, in a pool of `workers` threads that checks for
/// Ctrl-C between units of work, calling `callback(iteration, rows_compared)` after each
/// Lloyd iteration if given. A panic becomes a `RuntimeError`; an interruption re-raises
/// the exception that stopped it (normally the signal handler's `KeyboardInterrupt`).
pub(super) fn run<T: Send>(
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
