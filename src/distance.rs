//! Squared-Euclidean nearest-code kernels.
//!
//! Each distance is the sum over features, in feature order, of `(code - x)**2`, exactly as
//! SciPy's `_vq` computes it for fewer than five features; SciPy's BLAS path for five or
//! more features is a rounding of the same quantity. The kernel vectorises across codes
//! (the code book is kept transposed), never across the features of one distance, so the
//! bits do not depend on the SIMD width chosen at run time.

use crate::float::Float;
use multiversion::multiversion;

/// Lanes the transposed code book is padded to (one AVX-512 register of `f32`).
const LANES: usize = 16;

/// A code book prepared for fast nearest-code queries.
#[derive(Debug, Clone)]
pub struct Codebook<C> {
    k: usize,
    d: usize,
    kpad: usize,
    /// `d` rows of `kpad` values: feature `f` of every code, padded with zeros.
    cols: Vec<C>,
}

impl<C: Float> Codebook<C> {
    /// Prepare `k` codes of `d` features given row-major in `rows`.
    pub fn new(rows: &[C], k: usize, d: usize) -> Self {
        assert_eq!(rows.len(), k * d, "code book length must be k * d");
        let kpad = k.div_ceil(LANES) * LANES;
        let mut cols = vec![C::ZERO; d * kpad];
        for (j, code) in rows.chunks_exact(d.max(1)).enumerate().take(k) {
            for (f, &v) in code.iter().enumerate() {
                cols[f * kpad + j] = v;
            }
        }
        Codebook { k, d, kpad, cols }
    }

    /// Number of codes.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of features.
    pub fn d(&self) -> usize {
        self.d
    }

    /// Scratch length [`Codebook::nearest_rows`] needs.
    pub fn scratch_len(&self) -> usize {
        self.kpad
    }

    /// For each row of `rows` (row-major, `d` features) write the index of its nearest
    /// code (lowest index on ties; 0 when every distance is NaN) and its squared distance
    /// (infinite when every distance is NaN). `scratch` must hold [`Codebook::scratch_len`].
    pub fn nearest_rows(&self, rows: &[C], labels: &mut [i32], best: &mut [C], scratch: &mut [C]) {
        nearest_rows(
            &self.cols,
            self.k,
            self.kpad,
            self.d,
            rows,
            labels,
            best,
            &mut scratch[..self.kpad],
        );
    }
}

#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
#[allow(clippy::too_many_arguments)]
fn nearest_rows<C: Float>(
    cols: &[C],
    k: usize,
    kpad: usize,
    d: usize,
    rows: &[C],
    labels: &mut [i32],
    best: &mut [C],
    acc: &mut [C],
) {
    for ((x, label), best) in rows
        .chunks_exact(d.max(1))
        .zip(labels.iter_mut())
        .zip(best.iter_mut())
    {
        acc.fill(C::ZERO);
        for (f, &xf) in x.iter().enumerate() {
            let col = &cols[f * kpad..(f + 1) * kpad];
            for (a, &c) in acc.iter_mut().zip(col) {
                let diff = c - xf;
                *a += diff * diff;
            }
        }
        let (mut lab, mut low) = (0usize, C::INFINITY);
        for (j, &v) in acc[..k].iter().enumerate() {
            if v < low {
                low = v;
                lab = j;
            }
        }
        *label = lab as i32;
        *best = low;
    }
}

/// Squared distance between two vectors in SciPy's order: `sum((c - x)**2)` over features.
pub fn sq_dist<C: Float>(x: &[C], c: &[C]) -> C {
    let mut s = C::ZERO;
    for (&a, &b) in x.iter().zip(c) {
        let diff = b - a;
        s += diff * diff;
    }
    s
}

/// A float type whose rows can be read as rows of `C` (itself, or `f32` widened to `f64`).
/// This is how a float32 data set meets a float64 code book, as in SciPy's type promotion.
pub trait Promote<C: Float>: Float {
    /// `rows` as `C`, borrowing when no conversion is needed and using `buf` otherwise.
    fn promote<'a>(rows: &'a [Self], buf: &'a mut Vec<C>) -> &'a [C];
}

impl<T: Float> Promote<T> for T {
    fn promote<'a>(rows: &'a [T], _buf: &'a mut Vec<T>) -> &'a [T] {
        rows
    }
}

impl Promote<f64> for f32 {
    fn promote<'a>(rows: &'a [f32], buf: &'a mut Vec<f64>) -> &'a [f64] {
        buf.clear();
        buf.extend(rows.iter().map(|&v| f64::from(v)));
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(rows: &[f64], cb: &[f64], d: usize) -> Vec<(i32, f64)> {
        rows.chunks(d)
            .map(|x| {
                let mut best = (0, f64::INFINITY);
                for (j, c) in cb.chunks(d).enumerate() {
                    let v = sq_dist(x, c);
                    if v < best.1 {
                        best = (j as i32, v);
                    }
                }
                best
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_bitwise() {
        let mut s = 12345u64;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / (1u64 << 53) as f64 - 0.5
        };
        for &(n, k, d) in &[(1, 1, 1), (7, 3, 2), (50, 17, 4), (33, 40, 9), (5, 1, 70)] {
            let rows: Vec<f64> = (0..n * d).map(|_| next()).collect();
            let code: Vec<f64> = (0..k * d).map(|_| next()).collect();
            let cb = Codebook::new(&code, k, d);
            let mut labels = vec![0; n];
            let mut best = vec![0.0; n];
            let mut scratch = vec![0.0; cb.scratch_len()];
            cb.nearest_rows(&rows, &mut labels, &mut best, &mut scratch);
            let expect = brute(&rows, &code, d);
            for i in 0..n {
                assert_eq!(labels[i], expect[i].0);
                assert_eq!(best[i].to_bits(), expect[i].1.to_bits());
            }
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index_and_nan_to_zero() {
        let cb = Codebook::new(&[1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0], 3, 2);
        let mut labels = vec![9; 2];
        let mut best = vec![0.0; 2];
        let mut scratch = vec![0.0; cb.scratch_len()];
        cb.nearest_rows(
            &[0.0, 0.0, f32::NAN, 0.0],
            &mut labels,
            &mut best,
            &mut scratch,
        );
        assert_eq!(labels, vec![0, 0]);
        assert_eq!(best[0], 2.0);
        assert!(best[1].is_infinite());
    }
}
