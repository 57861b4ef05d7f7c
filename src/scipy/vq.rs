//! SciPy's `vq`: the nearest code of every observation and the distance to it.

use crate::error::Result;
use crate::float::Float;
use crate::parallel::Exec;
use ndarray::ArrayView2;

/// The index of the nearest code for each row of `obs` and the Euclidean distance to it,
/// as SciPy's `vq` (see [`crate::assign::nearest`]: ties go to the lowest index, and for
/// fewer than five features the distances are SciPy's bits).
///
/// # Errors
/// As [`crate::assign::nearest`].
pub fn vq<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
) -> Result<(Vec<i32>, Vec<C>)> {
    crate::assign::nearest(exec, obs, code_book)
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
        let (codes, dist) = vq(&exec, obs.view(), cb.view()).unwrap();
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
        let (codes, dist) = vq(&exec, obs.view(), obs.view()).unwrap();
        assert!(codes.iter().enumerate().all(|(i, &c)| c as usize == i));
        assert!(dist.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn shape_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let obs = array![[1.0f64, 2.0]];
        let cb3 = array![[1.0f64, 2.0, 3.0]];
        assert!(matches!(
            vq(&exec, obs.view(), cb3.view()),
            Err(Error::FeatureMismatch { .. })
        ));
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(vq(&exec, obs.view(), empty.view()).is_err());
        let (c, d) = vq(&exec, empty.view(), obs.view()).unwrap();
        assert!(c.is_empty() && d.is_empty());
    }
}
