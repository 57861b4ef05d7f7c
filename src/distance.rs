//! Squared-Euclidean nearest-code kernels.
//!
//! For fewer than five features each distance is the sum over features, in feature order,
//! of `(code - x)**2`, exactly as SciPy's `_vq` computes it, so labels and distances agree
//! with SciPy bit for bit. The kernel vectorises across codes (the code book is kept
//! transposed), never across the features of one distance, so the bits do not depend on the
//! SIMD width chosen at run time.
//!
//! For five or more features (where SciPy itself uses BLAS) a register-tiled kernel ranks
//! the codes by `|c|^2 - 2 x.c` (one fused multiply-add per feature and code). A rounding
//! bound decides whether the best code is certain; when the runner-up is within the bound
//! (near-ties, exact ties, overflow, NaN) the candidates are compared again with the exact
//! direct formula. The reported distance is always the direct one. Labels therefore equal
//! those of exact arithmetic (lowest index on ties) whatever the CPU or thread count.

use crate::float::Float;
use multiversion::multiversion;

/// Lanes the transposed code book is padded to (one AVX-512 register of `f32`); also the
/// width of a code tile in the dot-product kernel.
const LANES: usize = 16;

/// Rows ranked together by the dot-product kernel (they share each load of the code book).
const ROWS: usize = 4;

/// From this many features on, codes are ranked by dot products (SciPy's cut-off too).
pub const DOT_MIN_FEATURES: usize = 5;

/// A code book prepared for fast nearest-code queries.
#[derive(Debug, Clone)]
pub struct Codebook<C> {
    k: usize,
    d: usize,
    kpad: usize,
    /// `d` rows of `kpad` values: feature `f` of every code, padded with zeros.
    cols: Vec<C>,
    /// The codes, row-major, for exact rechecks.
    rows: Vec<C>,
    /// `|c|^2` of every code (padding: +inf, so padded codes never win).
    norms: Vec<C>,
    /// The largest `|c|^2`.
    max_norm: C,
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
        let mut norms = vec![C::INFINITY; kpad];
        let mut max_norm = C::ZERO;
        for (j, code) in rows.chunks_exact(d.max(1)).enumerate().take(k) {
            let nn = code.iter().fold(C::ZERO, |s, &v| v.mul_add(v, s));
            norms[j] = nn;
            if !nn.is_finite() || nn > max_norm {
                max_norm = nn;
            }
        }
        Codebook {
            k,
            d,
            kpad,
            cols,
            rows: rows.to_vec(),
            norms,
            max_norm,
        }
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
        self.kpad * ROWS
    }

    /// For each row of `rows` (row-major, `d` features) write the index of its nearest
    /// code (lowest index on ties; 0 when every distance is NaN) and its squared distance
    /// (infinite when every distance is NaN). `scratch` must hold [`Codebook::scratch_len`].
    pub fn nearest_rows(&self, rows: &[C], labels: &mut [i32], best: &mut [C], scratch: &mut [C]) {
        if self.d >= DOT_MIN_FEATURES {
            let scratch = &mut scratch[..self.kpad * ROWS];
            let mut padded = Vec::new();
            for ((x, l), b) in rows
                .chunks(self.d * ROWS)
                .zip(labels.chunks_mut(ROWS))
                .zip(best.chunks_mut(ROWS))
            {
                let full = if l.len() == ROWS {
                    x
                } else {
                    // The last, partial group: pad with copies of its first row.
                    padded.clear();
                    padded.extend_from_slice(x);
                    while padded.len() < ROWS * self.d {
                        padded.extend_from_slice(&x[..self.d]);
                    }
                    &padded[..]
                };
                dot_scores(&self.cols, &self.norms, self.kpad, self.d, full, scratch);
                for (p, (lp, bp)) in l.iter_mut().zip(b.iter_mut()).enumerate() {
                    let scores = &scratch[p * self.kpad..p * self.kpad + self.k];
                    let (j, v) = self.pick(&x[p * self.d..(p + 1) * self.d], scores);
                    *lp = j as i32;
                    *bp = v;
                }
            }
            return;
        }
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

    /// The nearest code of `x` and its exact squared distance, from its approximate scores
    /// `|c|^2 - 2 x.c`. The best score is certain when the runner-up is
    /// further than twice the rounding bound of a score; otherwise (near or exact ties,
    /// overflow, NaN) every code is measured with the exact direct formula.
    fn pick(&self, x: &[C], scores: &[C]) -> (usize, C) {
        let (mut index, mut v1, mut v2) = (0usize, C::INFINITY, C::INFINITY);
        for (j, &v) in scores.iter().enumerate() {
            if v < v1 {
                v2 = v1;
                v1 = v;
                index = j;
            } else if v < v2 {
                v2 = v;
            }
        }
        let x_norm = x.iter().fold(C::ZERO, |s, &v| v.mul_add(v, s));
        let gamma = C::from_usize(self.d + 4) * C::EPSILON;
        let margin = C::from_f64(2.0) * gamma * (x_norm + self.max_norm);
        let exact = |j: usize| sq_dist(x, &self.rows[j * self.d..(j + 1) * self.d]);
        if v2 - v1 > margin {
            return (index, exact(index));
        }
        let (mut best_j, mut best_v) = (0usize, C::INFINITY);
        for j in 0..self.k {
            let e = exact(j);
            if e < best_v {
                best_v = e;
                best_j = j;
            }
        }
        (best_j, best_v)
    }
}

/// Scores `|c|^2 - 2 x.c` of [`ROWS`] rows (row-major in `x`) against every code, written
/// to `out` (`ROWS` runs of `kpad`). Tiles of `ROWS x LANES` accumulators stay in
/// registers while the features stream past.
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
fn dot_scores<C: Float>(cols: &[C], norms: &[C], kpad: usize, d: usize, x: &[C], out: &mut [C]) {
    let minus_two = C::from_f64(-2.0);
    for j0 in (0..kpad).step_by(LANES) {
        let mut acc = [[C::ZERO; LANES]; ROWS];
        for f in 0..d {
            let col: &[C; LANES] = cols[f * kpad + j0..f * kpad + j0 + LANES]
                .try_into()
                .expect("tiles are LANES wide");
            for (p, accp) in acc.iter_mut().enumerate() {
                let xf = x[p * d + f];
                for (a, &c) in accp.iter_mut().zip(col) {
                    *a = xf.mul_add(c, *a);
                }
            }
        }
        for (p, accp) in acc.iter().enumerate() {
            let o = &mut out[p * kpad + j0..p * kpad + j0 + LANES];
            for ((o, &a), &nn) in o.iter_mut().zip(accp).zip(&norms[j0..j0 + LANES]) {
                *o = minus_two.mul_add(a, nn);
            }
        }
    }
}

/// Direct kernel: squared distances to every code, accumulated feature by feature.
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
            assert_matches_brute(&rows, &code, d);
        }
    }

    /// The kernel's labels and squared distances equal the brute-force ones, bit for bit.
    fn assert_matches_brute(rows: &[f64], code: &[f64], d: usize) {
        let (n, k) = (rows.len() / d, code.len() / d);
        let cb = Codebook::new(code, k, d);
        let mut labels = vec![0; n];
        let mut best = vec![0.0; n];
        let mut scratch = vec![0.0; cb.scratch_len()];
        cb.nearest_rows(rows, &mut labels, &mut best, &mut scratch);
        let expect = brute(rows, code, d);
        for i in 0..n {
            assert_eq!(labels[i], expect[i].0, "row {i}");
            assert_eq!(best[i].to_bits(), expect[i].1.to_bits());
        }
    }

    #[test]
    fn dot_path_matches_exact_argmin_on_near_ties() {
        let d = 8;
        let mut code = Vec::new();
        for j in 0..40 {
            for f in 0..d {
                code.push(((j * 7 + f * 3) % 11) as f64 * 0.25 + 1e6);
            }
        }
        // Exact duplicates of codes and points between two codes (near and exact ties).
        let mut rows = code[..5 * d].to_vec();
        rows.extend(
            code[7 * d..8 * d]
                .iter()
                .zip(&code[9 * d..10 * d])
                .map(|(a, b)| (a + b) / 2.0),
        );
        let code = [code.clone(), code[..3 * d].to_vec()].concat();
        assert_matches_brute(&rows, &code, d);
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
