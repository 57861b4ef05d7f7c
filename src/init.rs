//! Seeding: k-means++ and SciPy's Gaussian ("random") initial code book.
//!
//! The random numbers are the caller's: these functions take the draws (an index and a
//! source of uniforms, or standard normals) and do the arithmetic over the data. Fed the
//! draws SciPy makes from a numpy generator, they pick the centroids SciPy picks.

use crate::distance::sq_dist;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use crate::sum::{column_mean, pairwise_sum};
use multiversion::multiversion;
use ndarray::{Array2, ArrayView2};

/// The result of [`kmeans_plusplus`].
#[derive(Debug, Clone)]
pub struct PlusPlus {
    /// `k x d` chosen centroids, in `f64` as SciPy's seeding keeps them.
    pub centroids: Array2<f64>,
    /// The row index of the data chosen for each centroid.
    pub indices: Vec<usize>,
    /// Steps at which every remaining squared distance was zero (so the probabilities
    /// were 0/0, which numpy reports as an invalid division); each picked row 0.
    pub degenerate_steps: usize,
}

/// k-means++ seeding (Arthur and Vassilvitskii, 2007) in O(n·k·d).
///
/// The first centroid is row `first`. Each further centroid is drawn as SciPy does: with
/// `D2` each row's squared distance to its nearest chosen centroid, `probs = D2 / sum(D2)`
/// (numpy's pairwise sum), a running `cumsum`, then the first row whose cumulative
/// probability is at least the next value of `uniform()` (`searchsorted`, side 'left').
/// `D2` is kept between steps and lowered with the newest centroid only.
///
/// # Errors
/// `InvalidParameter` for empty data, `k == 0` or `first` out of range, and whatever the
/// executor's control hook returns (it is asked between steps).
pub fn kmeans_plusplus<F: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    k: usize,
    first: usize,
    mut uniform: impl FnMut() -> f64,
) -> Result<PlusPlus> {
    let (n, d) = data.dim();
    if n == 0 || k == 0 {
        return Err(Error::InvalidParameter(
            "k-means++ needs at least one row and one centroid".into(),
        ));
    }
    if first >= n {
        return Err(Error::InvalidParameter(format!(
            "first index {first} is out of range for {n} rows"
        )));
    }
    let data = data.as_standard_layout();
    let x = crate::contiguous(&data)?;
    let width = d.max(1);
    let wide: Vec<f64>;
    let xs: &[f64] = if let Some(s) = as_f64(x) {
        s
    } else {
        wide = x.iter().map(|v| v.to_f64()).collect();
        &wide
    };
    let mut d2 = vec![f64::INFINITY; n];
    let mut centroids = Array2::<f64>::zeros((k, d));
    let mut indices = Vec::with_capacity(k);
    let mut degenerate_steps = 0;
    let mut pick = first;
    for i in 0..k {
        if i > 0 {
            exec.check()?;
            let newest = &xs[indices[i - 1] * d..indices[i - 1] * d + d];
            exec.install(|| {
                use rayon::prelude::*;
                d2.par_chunks_mut(crate::parallel::CHUNK_ROWS)
                    .zip(xs.par_chunks(crate::parallel::CHUNK_ROWS * width))
                    .for_each(|(dd, rows)| lower_d2(newest, rows, d, dd))
            });
            let total = pairwise_sum(&d2);
            if total == 0.0 {
                degenerate_steps += 1;
            }
            pick = search_cumulative(&d2, total, uniform());
        }
        indices.push(pick);
        centroids
            .row_mut(i)
            .iter_mut()
            .zip(&xs[pick * d..pick * d + d])
            .for_each(|(c, &v)| *c = v);
    }
    Ok(PlusPlus {
        centroids,
        indices,
        degenerate_steps,
    })
}

/// Rows handled together when lowering `D2` (a vector register of `f64`).
const D2_BLOCK: usize = 8;

/// Lower each row's `d2` to its squared distance to `newest` if that is smaller. The rows
/// of a block are processed side by side, each summed over its features in order, so the
/// values are those of [`sq_dist`] while the arithmetic is vectorised across rows.
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
fn lower_d2(newest: &[f64], rows: &[f64], d: usize, d2: &mut [f64]) {
    if d == 0 {
        d2.iter_mut().for_each(|v| *v = v.min(0.0));
        return;
    }
    let mut blocks = rows.chunks_exact(d * D2_BLOCK);
    let mut out = d2.chunks_exact_mut(D2_BLOCK);
    for (block, o) in blocks.by_ref().zip(out.by_ref()) {
        let mut acc = [0.0f64; D2_BLOCK];
        for (f, &c) in newest.iter().enumerate() {
            // Gather feature f of the block's rows, then work on all of them at once.
            let col: [f64; D2_BLOCK] = std::array::from_fn(|r| block[r * d + f]);
            for (a, &v) in acc.iter_mut().zip(&col) {
                let diff = v - c;
                *a += diff * diff;
            }
        }
        for (v, &s) in o.iter_mut().zip(&acc) {
            if s < *v {
                *v = s;
            }
        }
    }
    for (row, v) in blocks.remainder().chunks_exact(d).zip(out.into_remainder()) {
        let s = sq_dist(newest, row);
        if s < *v {
            *v = s;
        }
    }
}

/// `x` itself if `F` is `f64`.
fn as_f64<F: Float>(x: &[F]) -> Option<&[f64]> {
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>()).then(|| {
        // SAFETY: F is f64 (checked by TypeId just above), so the slice's memory, length
        // and alignment are those of a [f64].
        unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f64>(), x.len()) }
    })
}

/// numpy's `searchsorted(cumsum(d2 / total), r)`: the first index whose cumulative
/// probability is not below `r` (NaN sorts last, so a NaN cumulative value matches). If
/// rounding leaves every cumulative value below `r`, the last row (SciPy would index past
/// the end).
fn search_cumulative(d2: &[f64], total: f64, r: f64) -> usize {
    let mut cum = 0.0;
    for (j, &v) in d2.iter().enumerate() {
        cum += v / total;
        if cum.partial_cmp(&r) != Some(std::cmp::Ordering::Less) {
            return j;
        }
    }
    d2.len() - 1
}

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
    fn plusplus_picks_by_cumulative_probability() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[0.0f64], [1.0], [3.0]];
        // D2 after row 0 = [0, 1, 9]: cumprobs [0, 0.1, 1.0].
        let mut draws = [0.05, 0.5].into_iter();
        let pp = kmeans_plusplus(&exec, data.view(), 2, 0, || draws.next().unwrap()).unwrap();
        assert_eq!(pp.indices, vec![0, 1]);
        let mut draws = [0.5].into_iter();
        let pp = kmeans_plusplus(&exec, data.view(), 2, 0, || draws.next().unwrap()).unwrap();
        assert_eq!(pp.indices, vec![0, 2]);
        assert_eq!(pp.centroids, array![[0.0], [3.0]]);
    }

    #[test]
    fn plusplus_with_more_centroids_than_distinct_rows() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[2.0f32, 2.0], [2.0, 2.0]];
        let pp = kmeans_plusplus(&exec, data.view(), 4, 1, || 0.7).unwrap();
        assert_eq!(pp.indices, vec![1, 0, 0, 0]);
        assert_eq!(pp.degenerate_steps, 3);
    }

    #[test]
    fn lowering_d2_in_blocks_is_sq_dist_bit_for_bit() {
        for d in [0usize, 1, 3, 16] {
            let n = 3 * D2_BLOCK + 5;
            let rows: Vec<f64> = (0..n * d).map(|i| ((i * 37) % 101) as f64 / 9.7).collect();
            let newest: Vec<f64> = (0..d).map(|f| f as f64 * 0.31).collect();
            let mut d2 = vec![f64::INFINITY; n];
            lower_d2(&newest, &rows, d, &mut d2);
            for (i, v) in d2.iter().enumerate() {
                let row = &rows[i * d..(i + 1) * d];
                assert_eq!(v.to_bits(), sq_dist(&newest, row).to_bits());
            }
        }
    }

    #[test]
    fn plusplus_is_thread_count_independent() {
        let n = 3 * crate::parallel::CHUNK_ROWS + 11;
        let data = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 31 + j * 17) % 97) as f64);
        let run = |t| {
            let mut u = 0.1;
            kmeans_plusplus(&Exec::with_threads(t).unwrap(), data.view(), 20, 5, || {
                u = (u * 7.31f64).fract();
                u
            })
            .unwrap()
            .indices
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(4));
    }

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
