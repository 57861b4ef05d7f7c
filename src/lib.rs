//! ferrovq: k-means and vector quantisation as a parallel Rust library, with SciPy's
//! `scipy.cluster.vq` (whiten, vq, kmeans, kmeans2, k-means++ seeding) as one front-end.
//!
//! The crate is a library in its own right: nothing here depends on Python (the bindings
//! live in `src/python/` behind the `python` feature). It has three layers:
//!
//! - [`assign`]: the nearest code of every row (exact labels, SciPy's distances);
//! - [`lloyd`]: the engine, [`lloyd::run`], configured by a stopping rule, an
//!   empty-cluster policy and optional row weights, and [`lloyd::block_stats`], the
//!   statistics of one block of rows for callers that hold data in blocks;
//! - [`init`]: seeding (k-means++, SciPy's Gaussian) from the caller's random draws;
//! - [`scipy`]: SciPy's functions as configurations of the above.
//!
//! The heavy functions take an [`Exec`] (a thread pool and a control hook, asked between
//! chunks of work whether to go on) and `ndarray` views of `f32` or `f64` data. Work runs
//! over fixed chunks of rows whose partial results are combined in a fixed order, so
//! results do not depend on the number of threads.
//!
//! # Examples
//! ```
//! use ferrovq::lloyd::{run, Empty, Params, Stop};
//! use ferrovq::{assign, Exec};
//! use ndarray::array;
//!
//! let exec = Exec::with_threads(2)?;
//! let data = array![[1.0, 1.0], [1.5, 2.0], [8.0, 8.0], [9.0, 8.5], [1.0, 0.5]];
//! let init = array![[1.0, 1.0], [8.0, 8.0]];
//! let params = Params {
//!     stop: Stop::CenterShift { tol: 1e-4, max_iter: 300 },
//!     empty: Empty::Farthest,
//!     weights: None,
//!     farthest: None,
//! };
//! let fit = run(&exec, data.view(), init.view(), &params)?;
//! assert_eq!(fit.labels, [0, 0, 1, 1, 0]);
//! assert_eq!(fit.centroids, array![[3.5 / 3.0, 3.5 / 3.0], [8.5, 8.25]]);
//! let query = array![[2.0, 2.0], [7.0, 9.0]];
//! let (codes, dists) = assign::nearest(&exec, query.view(), fit.centroids.view())?;
//! assert_eq!(codes, [0, 1]);
//! # Ok::<(), ferrovq::Error>(())
//! ```

#[macro_use]
mod simd;

pub mod assign;
mod cache;
mod error;
mod finite;
mod float;
pub mod init;
pub mod lloyd;
mod measure;
mod pages;
pub mod parallel;
mod sample;
pub mod scipy;
pub mod sparse;
mod split;
mod sum;
mod take;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
pub use finite::all_finite;
pub use float::{Float, Promote};
pub use measure::{column_stats, distances, inertia, subtract_from_rows};
pub use parallel::{Control, Exec, NoControl};
pub use sample::Cdf;
pub use split::{split_rows, Halves};
pub use take::take_rows;

use ndarray::{Array2, ArrayBase, Data, Ix2};

/// A small deterministic source of uniforms in [-0.5, 0.5) for the unit tests.
#[cfg(test)]
pub(crate) fn test_uniforms(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / (1u64 << 53) as f64 - 0.5
    }
}

/// The elements of a standard-layout array as one slice.
fn contiguous<F, S: Data<Elem = F>>(a: &ArrayBase<S, Ix2>) -> Result<&[F]> {
    a.as_slice()
        .ok_or_else(|| Error::InvalidParameter("array is not contiguous".into()))
}

/// A row-major `rows x cols` array from a vector.
fn matrix<F>(v: Vec<F>, rows: usize, cols: usize) -> Result<Array2<F>> {
    let len = v.len();
    Array2::from_shape_vec((rows, cols), v).map_err(|_| Error::BadShape {
        what: "result",
        len,
        rows,
        cols,
    })
}
