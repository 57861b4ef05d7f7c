//! The one error type of the core. The Python layer maps it to exceptions in one place
//! (`src/python/errors.rs`); nothing here knows about Python, SciPy or their messages.

use std::fmt;

/// Everything that can go wrong in the core, as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Two arrays that must agree in their number of features do not.
    FeatureMismatch { data: usize, code_book: usize },
    /// A buffer's length is not `rows * cols`.
    BadShape {
        what: &'static str,
        len: usize,
        rows: usize,
        cols: usize,
    },
    /// A parameter is outside its domain (k < 1, no data, ...).
    InvalidParameter(String),
    /// A cluster lost all of its members and the caller asked for that to be an error.
    EmptyCluster,
    /// The covariance matrix of the data is not positive definite (Cholesky failed).
    NotPositiveDefinite,
    /// The caller's control hook asked the computation to stop (e.g. Ctrl-C).
    Interrupted,
    /// A worker thread pool could not be built.
    ThreadPool(String),
    /// Input that was to be checked holds NaN or infinity.
    NotFinite,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::FeatureMismatch { data, code_book } => write!(
                f,
                "the data has {data} features but the code book has {code_book}"
            ),
            Error::BadShape {
                what,
                len,
                rows,
                cols,
            } => write!(f, "{what} has {len} elements, expected {rows} x {cols}"),
            Error::InvalidParameter(msg) => f.write_str(msg),
            Error::EmptyCluster => f.write_str("a cluster has no rows after an assignment"),
            Error::NotPositiveDefinite => f.write_str("Matrix is not positive definite"),
            Error::Interrupted => f.write_str("interrupted"),
            Error::ThreadPool(msg) => write!(f, "could not start worker threads: {msg}"),
            Error::NotFinite => f.write_str("array must not contain infs or NaNs"),
        }
    }
}

impl std::error::Error for Error {}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;
