//! ferrovq: SciPy's `scipy.cluster.vq` (whiten, vq, kmeans, kmeans2, k-means++ seeding)
//! as a parallel Rust library.
//!
//! The crate is a library in its own right: nothing here depends on Python. The Python
//! bindings live in [`python`] behind the `python` feature.
//!
//! Every function takes an [`Exec`] (threads and a control hook) and `ndarray` views of
//! `f32` or `f64` data. Reductions run over fixed chunks of rows in a fixed order, so
//! results do not depend on the number of threads.

pub mod distance;
pub mod error;
pub mod finite;
pub mod float;
pub mod init;
pub mod kmeans;
pub mod kmeans2;
mod lloyd;
mod neighbours;
pub mod parallel;
pub mod sum;
pub mod update;
pub mod vq;
pub mod whiten;

#[cfg(feature = "python")]
pub mod python;

pub use error::{Error, Result};
pub use finite::all_finite;
pub use float::Float;
pub use init::{gaussian_init, gaussian_init_1d, kmeans_plusplus, PlusPlus};
pub use kmeans::{kmeans_single, KmeansRun};
pub use kmeans2::{kmeans2_lloyd, Kmeans2Run, Missing};
pub use parallel::{Control, Exec, NoControl};
pub use update::cluster_means;
pub use vq::vq;
pub use whiten::whiten;

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
