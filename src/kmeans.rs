//! SciPy's `kmeans` for one initial code book: Lloyd iterations until the mean distance
//! to the nearest code changes by no more than a threshold; codes that lose all their
//! rows are dropped. (The restarts over random initial code books, which need numpy's
//! random stream, are the caller's loop.)

use crate::distance::{Codebook, Promote};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::lloyd::Rows;
use crate::parallel::Exec;
use crate::sum::mean;
use ndarray::{Array2, ArrayView2};

/// The result of [`kmeans_single`].
#[derive(Debug, Clone)]
pub struct KmeansRun<F> {
    /// The code book after the last update, without the codes that lost all their rows.
    pub code_book: Array2<F>,
    /// The mean distance of the rows to their nearest code, before the last update.
    pub distortion: f64,
    /// Whether `distortion` was computed in `f64` (else in `f32`): SciPy returns it in
    /// the type of the code book it was measured against.
    pub distortion_is_f64: bool,
    /// Lloyd iterations run.
    pub iterations: usize,
}

/// A mean distance and the precision it was computed in.
#[derive(Clone, Copy)]
struct MeanDist {
    value: f64,
    wide: bool,
}

impl MeanDist {
    /// `|self - other| > thresh`, in the precision numpy would use: `f64` if either is,
    /// else `f32` with `thresh` rounded to `f32` (a Python float is a weak scalar).
    fn changed_more_than(self, other: MeanDist, thresh: f64) -> bool {
        if self.wide || other.wide {
            (self.value - other.value).abs() > thresh
        } else {
            ((self.value as f32) - (other.value as f32)).abs() > thresh as f32
        }
    }
}

/// One Lloyd iteration of `kmeans`: labels and distances against `book` (`k x d`, in
/// `C`), the mean distance, and the new code book of the codes that kept rows.
fn iterate<F: Promote<C>, C: Float>(
    exec: &Exec,
    x: &[F],
    d: usize,
    book: &[C],
    rows: &mut Rows<F>,
    iteration: usize,
    dists: &mut Vec<C>,
) -> Result<(Vec<F>, MeanDist)> {
    let cb = Codebook::new(book, book.len() / d.max(1), d);
    dists.resize(x.len() / d.max(1), C::ZERO);
    let out = rows.step(exec, x, d, &cb, dists)?;
    exec.iteration(iteration, out.scanned)?;
    let part = out.partial;
    let m = MeanDist {
        value: mean(dists).to_f64(),
        wide: C::WIDE,
    };
    let (means, has) = part.into_means();
    let kept = means
        .chunks_exact(d.max(1))
        .zip(&has)
        .filter(|(_, &h)| h)
        .flat_map(|(c, _)| c.iter().copied())
        .collect();
    Ok((kept, m))
}

/// Run SciPy's `_kmeans` on `data` (`n x d`) from the initial code book `guess`.
///
/// The first assignment compares in the guess's type `C` (SciPy promotes the data to it);
/// the updated code books are in the data's type `F`, as SciPy's are.
///
/// # Errors
/// `InvalidParameter` for empty data or an empty guess, `FeatureMismatch` when the
/// guess's width differs from the data's, and whatever the executor's control hook
/// returns (it is asked between iterations and between chunks of rows).
pub fn kmeans_single<F: Promote<C> + Promote<F>, C: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    guess: ArrayView2<C>,
    thresh: f64,
) -> Result<KmeansRun<F>> {
    let (n, d) = data.dim();
    let (k, gd) = guess.dim();
    crate::vq::check_code_book(k, gd, d)?;
    if n == 0 {
        return Err(Error::InvalidParameter(
            "kmeans needs at least one observation".into(),
        ));
    }
    let data = data.as_standard_layout();
    let x = crate::contiguous(&data)?;
    let guess = guess.as_standard_layout();
    let mut rows = Rows::new(n);
    let guess = crate::contiguous(&guess)?;
    let (mut book, mut prev) = iterate(exec, x, d, guess, &mut rows, 1, &mut Vec::new())?;
    let first_changed = prev.changed_more_than(
        MeanDist {
            value: f64::INFINITY,
            wide: true,
        },
        thresh,
    );
    let mut iterations = 1;
    if first_changed {
        let mut dists: Vec<F> = Vec::new();
        loop {
            iterations += 1;
            let (next, m) = iterate(exec, x, d, &book, &mut rows, iterations, &mut dists)?;
            book = next;
            let changed = m.changed_more_than(prev, thresh);
            prev = m;
            if !changed {
                break;
            }
        }
    }
    let k_left = book.len() / d.max(1);
    Ok(KmeansRun {
        code_book: crate::matrix(book, k_left, d)?,
        distortion: prev.value,
        distortion_is_f64: prev.wide,
        iterations,
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
        assert!((run.distortion - 0.405_639_166_977_285_9).abs() < 1e-12);
        assert!(run.distortion_is_f64);
    }

    #[test]
    fn empty_codes_are_dropped() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[0.0f32], [0.1], [10.0]];
        let guess = array![[0.0f32], [10.0], [100.0]];
        let run = kmeans_single(&exec, data.view(), guess.view(), 1e-5).unwrap();
        assert_eq!(run.code_book.nrows(), 2);
        assert!(!run.distortion_is_f64);
    }
}
