//! SciPy's `vq`: the nearest code of every observation and the distance to it.

use crate::error::Result;
use crate::float::Float;
use crate::parallel::Exec;
use ndarray::ArrayView2;

/// The index of the nearest code for each row of `obs` and the Euclidean distance to it,
/// as SciPy's `vq` (see [`crate::assign::nearest`]: ties go to the lowest index, and for
/// fewer than five features the distances are SciPy's bits). With `check_finite`, SciPy's
/// check that neither array holds NaN or infinity, made on each chunk of rows as it is
/// labelled (one pass over the data, not two).
///
/// # Errors
/// As [`crate::assign::nearest`], and `NotFinite` when checking finds NaN or infinity.
pub fn vq<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
    check_finite: bool,
) -> Result<(Vec<i32>, Vec<C>)> {
    crate::assign::nearest_checked(exec, obs, code_book, check_finite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use ndarray::{array, Array2};

    #[test]
    fn scipy_docstring_example() {
        let exec = Exec::with_threads(2).unwrap();
        let cb = array![[1.0f64, 1.0, 1.0], [2.0, 2.0, 2.0]];
        let obs = array![[1.9, 2.3, 1.7], [1.5, 2.5, 2.2], [0.8, 0.6, 1.7]];
        let (codes, dist) = vq(&exec, obs.view(), cb.view(), true).unwrap();
        assert_eq!(codes, vec![1, 1, 0]);
        let expect = [0.43588989, 0.73484692, 0.83066239];
        for (a, b) in dist.iter().zip(expect) {
            assert!((a - b).abs() < 1e-8);
        }
    }

    #[test]
    fn k_equals_n_labels_each_row_itself() {
        let exec = Exec::with_threads(2).unwrap();
        let n = 5000;
        let obs = Array2::from_shape_fn((n, 3), |(i, j)| (i * 3 + j) as f32);
        let (codes, dist) = vq(&exec, obs.view(), obs.view(), true).unwrap();
        assert!(codes.iter().enumerate().all(|(i, &c)| c as usize == i));
        assert!(dist.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn checks_for_nan_and_infinity_in_any_chunk_when_asked() {
        let exec = Exec::with_threads(2).unwrap();
        let mut obs = Array2::from_shape_fn((3000, 6), |(i, j)| (i + j) as f64);
        let cb = obs.slice(ndarray::s![..4, ..]).to_owned();
        assert!(vq(&exec, obs.view(), cb.view(), true).is_ok());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            obs[[2999, 5]] = bad;
            assert_eq!(
                vq(&exec, obs.view(), cb.view(), true),
                Err(Error::NotFinite)
            );
            // Unchecked, the row still gets a label.
            assert_eq!(
                vq(&exec, obs.view(), cb.view(), false).unwrap().0.len(),
                3000
            );
            obs[[2999, 5]] = 0.0;
            let mut bad_book = cb.clone();
            bad_book[[3, 0]] = bad;
            assert_eq!(
                vq(&exec, obs.view(), bad_book.view(), true),
                Err(Error::NotFinite)
            );
        }
    }

    #[test]
    fn shape_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let obs = array![[1.0f64, 2.0]];
        let cb3 = array![[1.0f64, 2.0, 3.0]];
        assert!(matches!(
            vq(&exec, obs.view(), cb3.view(), true),
            Err(Error::FeatureMismatch { .. })
        ));
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(vq(&exec, obs.view(), empty.view(), true).is_err());
        let (c, d) = vq(&exec, empty.view(), obs.view(), true).unwrap();
        assert!(c.is_empty() && d.is_empty());
    }
}
