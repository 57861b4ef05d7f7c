//! SciPy's Gaussian ("random") initial code book: samples of a normal distribution with the
//! data's mean and covariance, from the caller's standard normal draws.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use crate::sum::column_mean;
use ndarray::{Array2, ArrayView2};

/// SciPy's `_krandinit` for data with at least as many rows as columns: `k` samples
/// `z @ cholesky(cov).T + mean`, with `z` the caller's `k x d` standard normals, `cov` the
/// sample covariance (`ddof = 1`, in `f64`) and `mean` the column means in `F`.
///
/// # Errors
/// `NotPositiveDefinite` when the covariance has no Cholesky factor (for instance a
/// constant column), `BadShape` when `z` is not `k x d`.
pub fn gaussian_init<F: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    z: ArrayView2<f64>,
) -> Result<Array2<f64>> {
    let (n, d) = data.dim();
    let (k, zd) = z.dim();
    if zd != d {
        return Err(Error::BadShape {
            what: "standard normal draws",
            len: k * zd,
            rows: k,
            cols: d,
        });
    }
    exec.check()?;
    let data = data.as_standard_layout();
    let x = crate::contiguous(&data)?;
    let mu = column_mean(x, n, d);
    let l = cholesky(&covariance(x, n, d), d)?;
    let mut out = Array2::<f64>::zeros((k, d));
    for (mut orow, zrow) in out.rows_mut().into_iter().zip(z.rows()) {
        for j in 0..d {
            let mut s = 0.0;
            for (t, &zt) in zrow.iter().enumerate().take(j + 1) {
                s += zt * l[j * d + t];
            }
            orow[j] = s + mu[j].to_f64();
        }
    }
    Ok(out)
}

/// SciPy's `_krandinit` for one-dimensional data: `z * sqrt(var) + mean` with the sample
/// variance (`ddof = 1`, in `f64`) and the mean in `F`.
pub fn gaussian_init_1d<F: Float>(data: &[F], z: &[f64]) -> Vec<f64> {
    let n = data.len();
    let mu = column_mean(data, n, 1)[0];
    let sd = covariance(data, n, 1)[0].sqrt();
    z.iter().map(|&v| v * sd + mu.to_f64()).collect()
}

/// Sample covariance (`ddof = 1`) of the columns of `x`, in `f64`, as a `d x d` row-major
/// matrix; scaled by `1 / (n - 1)` as numpy's `cov` does (infinite for one row).
fn covariance<F: Float>(x: &[F], n: usize, d: usize) -> Vec<f64> {
    let wide: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
    let mean = column_mean(&wide, n, d);
    let mut c = vec![0.0; d * d];
    let mut centred = vec![0.0; d];
    for row in wide.chunks_exact(d.max(1)) {
        for ((c, &v), &m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = v - m;
        }
        for a in 0..d {
            for b in 0..d {
                c[a * d + b] += centred[a] * centred[b];
            }
        }
    }
    let scale = 1.0 / (n as f64 - 1.0);
    c.iter_mut().for_each(|v| *v *= scale);
    c
}

/// Lower Cholesky factor of a symmetric `d x d` matrix; fails, as numpy's `cholesky`
/// does, when a pivot is zero or negative. A NaN pivot passes through as NaN, as in numpy,
/// and the caller's finiteness check reports it.
fn cholesky(a: &[f64], d: usize) -> Result<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let mut s = a[j * d + j];
        for t in 0..j {
            s -= l[j * d + t] * l[j * d + t];
        }
        if s <= 0.0 {
            return Err(Error::NotPositiveDefinite);
        }
        let ljj = s.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for t in 0..j {
                s -= l[i * d + t] * l[j * d + t];
            }
            l[i * d + j] = s / ljj;
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gaussian_init_uses_cholesky_of_the_covariance() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[0.0f64, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]];
        // cov = diag(4/3, 4/3); mean (1, 1).
        let z = array![[1.0, 0.0], [0.0, -1.0]];
        let out = gaussian_init(&exec, data.view(), z.view()).unwrap();
        let s = (4.0f64 / 3.0).sqrt();
        assert!((out[[0, 0]] - (1.0 + s)).abs() < 1e-15 && (out[[0, 1]] - 1.0).abs() < 1e-15);
        assert!((out[[1, 1]] - (1.0 - s)).abs() < 1e-15);
    }

    #[test]
    fn constant_data_has_no_cholesky_factor() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[1.0f64, 1.0], [1.0, 1.0], [1.0, 1.0]];
        let z = array![[1.0, 0.0]];
        assert_eq!(
            gaussian_init(&exec, data.view(), z.view()).unwrap_err(),
            Error::NotPositiveDefinite
        );
    }
}
