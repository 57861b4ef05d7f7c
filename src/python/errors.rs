//! Core errors as Python exceptions, mapped in one place.

use crate::error::Error;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::PyErr;

pyo3::create_exception!(
    ferrovq,
    ClusterError,
    pyo3::exceptions::PyException,
    "Raised when a cluster has no rows and the empty-cluster policy is to raise."
);

pyo3::import_exception!(numpy.linalg, LinAlgError);

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::EmptyCluster => ClusterError::new_err(e.to_string()),
            Error::NotPositiveDefinite => LinAlgError::new_err(e.to_string()),
            Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
            Error::ThreadPool(_) => PyRuntimeError::new_err(e.to_string()),
            Error::FeatureMismatch { .. }
            | Error::BadShape { .. }
            | Error::InvalidParameter(_)
            | Error::NotFinite => PyValueError::new_err(e.to_string()),
        }
    }
}
