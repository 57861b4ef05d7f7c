//! Whitening: divide each feature by its standard deviation (SciPy's `whiten`).
//!
//! The standard deviation is computed as `numpy.std` does for a C-contiguous array, so the
//! result agrees with SciPy bit for bit: with several columns numpy reduces axis 0 row by
//! row (a running sum per column); with one column it sums the contiguous values pairwise.

use crate::error::Result;
use crate::float::Float;
use crate::parallel::Exec;
use crate::sum::{column_mean, column_means_of};
use ndarray::{Array2, ArrayView2};

/// Population standard deviation of each column of `x` (`n x d`, row-major), as numpy.
pub fn column_std<F: Float>(x: &[F], n: usize, d: usize) -> Vec<F> {
    let mean = column_mean(x, n, d);
    let var = column_means_of(x, n, d, |j, v| (v - mean[j]) * (v - mean[j]));
    var.into_iter().map(F::sqrt).collect()
}

/// `obs` divided column-wise by its standard deviation; columns whose deviation is zero
/// are left unchanged and reported as `true` in the second result.
///
/// # Errors
/// Whatever the executor's control hook returns.
pub fn whiten<F: Float>(exec: &Exec, obs: ArrayView2<F>) -> Result<(Array2<F>, Vec<bool>)> {
    let (n, d) = obs.dim();
    let obs = obs.as_standard_layout();
    let x = crate::contiguous(&obs)?;
    let mut std = column_std(x, n, d);
    let zero: Vec<bool> = std.iter().map(|&s| s == F::ZERO).collect();
    for (s, &z) in std.iter_mut().zip(&zero) {
        if z {
            *s = F::from_f64(1.0);
        }
    }
    exec.check()?;
    let mut out: Vec<F> = crate::pages::zeroed(n * d);
    let width = d.max(1);
    let blocks = out
        .chunks_mut(crate::parallel::CHUNK_ROWS * width)
        .zip(x.chunks(crate::parallel::CHUNK_ROWS * width))
        .collect();
    exec.map(blocks, |(o, i)| {
        for (orow, irow) in o.chunks_exact_mut(width).zip(i.chunks_exact(width)) {
            for ((ov, &iv), &s) in orow.iter_mut().zip(irow).zip(&std) {
                *ov = iv / s;
            }
        }
    });
    Ok((crate::matrix(out, n, d)?, zero))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scipy_docstring_example() {
        let exec = Exec::with_threads(2).unwrap();
        let f = array![[1.9f64, 2.3, 1.7], [1.5, 2.5, 2.2], [0.8, 0.6, 1.7]];
        let (w, zero) = whiten(&exec, f.view()).unwrap();
        let expect = array![
            [4.17944278, 2.69811351, 7.21248917],
            [3.29956009, 2.93273208, 9.33380951],
            [1.75976538, 0.7038557, 7.21248917]
        ];
        assert!(w
            .iter()
            .zip(expect.iter())
            .all(|(a, b)| (a - b).abs() < 1e-7));
        assert_eq!(zero, vec![false; 3]);
    }

    #[test]
    fn constant_columns_are_kept() {
        let exec = Exec::with_threads(1).unwrap();
        let f = array![[1.0f32, 5.0], [3.0, 5.0]];
        let (w, zero) = whiten(&exec, f.view()).unwrap();
        assert_eq!(w, array![[1.0, 5.0], [3.0, 5.0]]);
        assert_eq!(zero, vec![false, true]);
    }
}
