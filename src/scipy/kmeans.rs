//! SciPy's `kmeans` for one initial code book: Lloyd iterations until the mean distance
//! to the nearest code changes by no more than a threshold; codes that lose all their
//! rows are dropped. (The restarts over random initial code books, which need numpy's
//! random stream, are the caller's loop.)

use crate::error::{Error, Result};
use crate::float::{Float, Promote};
use crate::lloyd::{run, Distortion, Empty, Params, Stop};
use crate::parallel::Exec;
use ndarray::{Array2, ArrayView2};

/// The result of [`kmeans_single`].
#[derive(Debug, Clone)]
pub struct KmeansRun<F> {
    /// The code book after the last update, without the codes that lost all their rows.
    pub code_book: Array2<F>,
    /// The mean distance of the rows to their nearest code, before the last update, in
    /// the type of the code book it was measured against (SciPy's return type).
    pub distortion: Distortion,
    /// Lloyd iterations run.
    pub iterations: usize,
}

/// Run SciPy's `_kmeans` on `data` (`n x d`) from the initial code book `guess`: the
/// engine with [`Stop::Distortion`] and [`Empty::Drop`].
///
/// The first assignment compares in the guess's type `C` (SciPy promotes the data to it);
/// the updated code books are in the data's type `F`, as SciPy's are.
///
/// # Errors
/// As [`crate::lloyd::run`].
pub fn kmeans_single<F: Promote<C> + Promote<F>, C: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    guess: ArrayView2<C>,
    thresh: f64,
) -> Result<KmeansRun<F>> {
    let params = Params {
        stop: Stop::Distortion { thresh },
        empty: Empty::Drop,
        weights: None,
        farthest: None,
    };
    let out = run(exec, data, guess, &params)?;
    Ok(KmeansRun {
        code_book: out.centroids,
        distortion: out.distortion.ok_or_else(|| {
            Error::InvalidParameter("the distortion stopping rule measured no distortion".into())
        })?,
        iterations: out.iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scipy_kmeans_docstring_run() {
        // scipy's `_kmeans` docstring: this data and guess give these centroids and this
        // distortion.
        let exec = Exec::with_threads(2).unwrap();
        let features = array![
            [1.9f64, 2.3],
            [1.5, 2.5],
            [0.8, 0.6],
            [0.4, 1.8],
            [1.0, 1.0]
        ];
        let book = array![[1.9, 2.3], [0.8, 0.6]];
        let run = kmeans_single(&exec, features.view(), book.view(), 1e-5).unwrap();
        let expect = array![[1.7, 2.4], [0.73333333, 1.13333333]];
        assert!(run
            .code_book
            .iter()
            .zip(expect.iter())
            .all(|(a, b)| (a - b).abs() < 1e-8));
        assert!((run.distortion.value - 0.405_639_166_977_285_9).abs() < 1e-12);
        assert!(run.distortion.wide);
    }

    #[test]
    fn empty_codes_are_dropped() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[0.0f32], [0.1], [10.0]];
        let guess = array![[0.0f32], [10.0], [100.0]];
        let run = kmeans_single(&exec, data.view(), guess.view(), 1e-5).unwrap();
        assert_eq!(run.code_book.nrows(), 2);
        assert!(!run.distortion.wide);
    }
}
