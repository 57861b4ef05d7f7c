//! Squared-Euclidean nearest-code kernels.
//!
//! For fewer than five features each distance is the sum over features, in feature order,
//! of `(code - x)**2`, exactly as SciPy's `_vq` computes it, so labels and distances agree
//! with SciPy bit for bit. The kernel vectorises across rows (a block of rows meets one
//! code at a time), never across the features of one distance, so the bits do not depend
//! on the SIMD width chosen at run time.
//!
//! For five or more features (where SciPy itself uses BLAS) a register-tiled kernel ranks
//! the codes by `|c|^2 - 2 x.c` (one fused multiply-add per feature and code). A rounding
//! bound decides whether the best code is certain; when the runner-up is within the bound
//! (near-ties, exact ties, overflow, NaN) the candidates are compared again with the exact
//! direct formula. The reported distance is always the direct one. Labels therefore equal
//! those of exact arithmetic (lowest index on ties) whatever the CPU or thread count.
//!
//! `f64` rows are ranked in `f32` first (twice the SIMD width) when every value lies
//! where `f32` holds it to within half its epsilon; the rounding bound then also covers
//! the rounding of the values, and groups of rows with any uncertain best code are ranked
//! again in `f64`. The labels are the same; only the work differs.

use crate::float::Float;
use multiversion::multiversion;

/// Codes per register tile of the dot-product kernel (four AVX-512 registers of `f64`,
/// two of `f32`); with five or more features the code book is padded to a multiple of it.
const LANES: usize = 32;

/// Rows the direct kernel compares with each code together (the SIMD lanes).
const DIRECT_ROWS: usize = 16;

/// Rows ranked together by the dot-product kernel: one tile of `f32` rows, two of `f64`
/// (the rows of a tile share each load of the code book; a tile of `ROWS x LANES`
/// accumulators takes sixteen AVX-512 registers).
const ROWS: usize = 8;

/// From this many features on, codes are ranked by dot products (SciPy's cut-off too).
pub const DOT_MIN_FEATURES: usize = 5;

/// The nearest code of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<C> {
    /// Index of the nearest code (lowest on ties; 0 when every distance is NaN).
    pub label: i32,
    /// Its squared distance by the direct formula (infinite when every distance is NaN);
    /// or, where [`Codebook::nearest_rows`] was not asked for exact distances and ranked
    /// the codes by dot products, an upper bound of it (to within rounding).
    pub best: C,
    /// A lower bound of the squared distance to every other code (to within the rounding
    /// of the direct formula); infinite when there is no other code.
    pub second: C,
}

impl<C: Float> Default for Hit<C> {
    fn default() -> Self {
        Hit {
            label: 0,
            best: C::INFINITY,
            second: C::INFINITY,
        }
    }
}

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
    /// For `f64` codes (five or more features, every value [`narrowable`]), the codes
    /// rounded to `f32`: rows are ranked at single-precision speed first, see
    /// [`Codebook::nearest_rows`].
    narrow: Option<Box<Codebook<f32>>>,
}

impl<C: Float> Codebook<C> {
    /// Prepare `k` codes of `d` features given row-major in `rows`.
    pub fn new(rows: &[C], k: usize, d: usize) -> Self {
        assert_eq!(rows.len(), k * d, "code book length must be k * d");
        // The direct kernel reads the codes row-major; only the dot-product one needs them
        // transposed and padded.
        let dot = d >= DOT_MIN_FEATURES;
        let kpad = if dot { k.div_ceil(LANES) * LANES } else { k };
        let mut cols = vec![C::ZERO; if dot { d * kpad } else { 0 }];
        for (j, code) in rows
            .chunks_exact(d.max(1))
            .enumerate()
            .take(k)
            .filter(|_| dot)
        {
            for (f, &v) in code.iter().enumerate() {
                cols[f * kpad + j] = v;
            }
        }
        let mut norms = vec![C::INFINITY; kpad];
        let mut max_norm = C::ZERO;
        for (j, code) in rows.chunks_exact(d.max(1)).enumerate().take(k) {
            let nn = code.iter().fold(C::ZERO, |s, &v| s + v * v);
            norms[j] = nn;
            if !nn.is_finite() || nn > max_norm {
                max_norm = nn;
            }
        }
        let narrow = (C::WIDE && d >= DOT_MIN_FEATURES && rows.iter().all(|&v| narrowable(v)))
            .then(|| {
                let rows: Vec<f32> = rows.iter().map(|&v| v.to_f64() as f32).collect();
                Box::new(Codebook::new(&rows, k, d))
            });
        Codebook {
            k,
            d,
            kpad,
            cols,
            rows: rows.to_vec(),
            norms,
            max_norm,
            narrow,
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

    /// Scratch length [`Codebook::nearest_rows`] needs (none for the direct kernel).
    pub fn scratch_len(&self) -> usize {
        if self.d < DOT_MIN_FEATURES {
            0
        } else {
            self.kpad * ROWS
        }
    }

    /// The code of every row (row-major, `d` features): see [`Hit`]. `scratch` must hold
    /// [`Codebook::scratch_len`] values. With `exact` false, `best` may be an upper bound
    /// (saving a pass over the row's features for each row).
    ///
    /// `f64` rows and codes whose values are all [`narrowable`] are ranked in `f32` first,
    /// with a rounding bound that also covers the rounding of the values to `f32`; a group
    /// of rows with any best code not certain in `f32` is ranked again in `f64`.
    pub fn nearest_rows(&self, rows: &[C], hits: &mut [Hit<C>], scratch: &mut [C], exact: bool) {
        if self.d < DOT_MIN_FEATURES {
            direct_nearest(&self.rows, self.k, self.d, rows, hits);
            return;
        }
        let scratch = &mut scratch[..self.kpad * ROWS];
        let mut padded = Vec::new();
        let mut narrowed = self.narrow.as_deref().map(|n| {
            (
                n,
                vec![0.0f32; n.scratch_len()],
                Vec::with_capacity(ROWS * self.d),
            )
        });
        for (x, group) in rows.chunks(self.d * ROWS).zip(hits.chunks_mut(ROWS)) {
            let full = if group.len() == ROWS {
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
            let narrowed = narrowed.as_mut().is_some_and(|(narrow, scratch, buf)| {
                self.narrow_group(narrow, full, group, scratch, buf)
            });
            if !narrowed {
                let x_norms = self.scores(full, scratch);
                for (p, hit) in group.iter_mut().enumerate() {
                    // Padded codes score +inf, so the whole padded run can be scanned.
                    let scores = &scratch[p * self.kpad..(p + 1) * self.kpad];
                    *hit = self.pick(&x[p * self.d..(p + 1) * self.d], x_norms[p], scores);
                }
            }
            if exact {
                self.exact_distances(full, group);
            }
        }
    }

    /// Set each hit's `best` to the squared distance of its row of `x` ([`ROWS`] rows) to its
    /// code by the direct formula. The rows' sums are interleaved, so that they run in
    /// parallel; each is still summed in feature order.
    fn exact_distances(&self, x: &[C], group: &mut [Hit<C>]) {
        let d = self.d;
        let mut codes = [0; ROWS];
        for (c, h) in codes.iter_mut().zip(group.iter()) {
            *c = h.label as usize * d;
        }
        let mut acc = [C::ZERO; ROWS];
        for f in 0..d {
            for (p, a) in acc.iter_mut().enumerate() {
                let diff = self.rows[codes[p] + f] - x[p * d + f];
                *a += diff * diff;
            }
        }
        for (h, &a) in group.iter_mut().zip(&acc) {
            h.best = a;
        }
    }

    /// Rank the [`ROWS`] rows of `x` against the codes rounded to `f32` (`narrow`) and write
    /// the hits of the first `group.len()` of them; `false` (leaving `group` to be written
    /// again) if a value of `x` is not [`narrowable`] or a row's best code is not certain.
    fn narrow_group(
        &self,
        narrow: &Codebook<f32>,
        x: &[C],
        group: &mut [Hit<C>],
        scratch: &mut [f32],
        buf: &mut Vec<f32>,
    ) -> bool {
        if !narrow_rows(x, buf) {
            return false;
        }
        let (kpad, d) = (self.kpad, self.d);
        let x_norms = narrow.scores(buf, scratch);
        // Half as much again as the kernel's own rounding: the rounding of the values.
        let eps = 1.5 * f64::from(f32::EPSILON);
        for (p, out) in group.iter_mut().enumerate() {
            let (best, second, label) = two_smallest(&scratch[p * kpad..(p + 1) * kpad]);
            let norms = (f64::from(x_norms[p]), f64::from(narrow.max_norm));
            let Some(bounds) = settle(best.into(), second.into(), norms, d, eps) else {
                return false;
            };
            *out = hit(label, bounds);
        }
        true
    }

    /// Scores `|c|^2 - 2 x.c` of the [`ROWS`] rows of `x` against every code, into `out`
    /// (`ROWS` runs of `kpad`), and the rows' `|x|^2`.
    fn scores(&self, x: &[C], out: &mut [C]) -> [C; ROWS] {
        let (cols, norms, kpad, d) = (&self.cols, &self.norms, self.kpad, self.d);
        if !C::WIDE {
            return dot_scores::<C, ROWS>(cols, norms, kpad, d, x, out);
        }
        const HALF: usize = ROWS / 2;
        let mut x_norms = [C::ZERO; ROWS];
        for ((x, out), xn) in x
            .chunks(HALF * d)
            .zip(out.chunks_mut(HALF * kpad))
            .zip(x_norms.chunks_mut(HALF))
        {
            xn.copy_from_slice(&dot_scores::<C, HALF>(cols, norms, kpad, d, x, out));
        }
        x_norms
    }

    /// Squared distance of `x` to code `j`, by the direct formula.
    #[inline(always)]
    pub fn sq_dist_to(&self, x: &[C], j: usize) -> C {
        sq_dist(x, &self.rows[j * self.d..(j + 1) * self.d])
    }

    /// Squared distances of `x` to the codes numbered in `codes`, into `out`, summed in
    /// SIMD lanes: equal to the direct formula's to within its rounding, not bit for bit.
    pub fn lane_sq_dists(&self, x: &[C], codes: &[u32], out: &mut [C]) {
        lane_sq_dists(x, &self.rows, codes, out);
    }

    /// The codes, row-major.
    pub fn rows(&self) -> &[C] {
        &self.rows
    }

    /// The nearest code of `x` and its exact squared distance, from its approximate scores
    /// `|c|^2 - 2 x.c`. The best score is certain when the runner-up is
    /// further than twice the rounding bound of a score; otherwise (near or exact ties,
    /// overflow, NaN) every code is measured with the exact direct formula.
    fn pick(&self, x: &[C], x_norm: C, scores: &[C]) -> Hit<C> {
        let (best, second, label) = two_smallest(scores);
        let norms = (x_norm.to_f64(), self.max_norm.to_f64());
        let eps = C::EPSILON.to_f64();
        if let Some(bounds) = settle(best.to_f64(), second.to_f64(), norms, self.d, eps) {
            return hit(label, bounds);
        }
        let exact: Vec<C> = (0..self.k).map(|j| self.sq_dist_to(x, j)).collect();
        rank(&exact)
    }
}

/// The hit of a row whose nearest code is `label`, from the bounds [`settle`] gave (on
/// its squared distance, and on every other code's).
fn hit<C: Float>(label: usize, (upper, lower): (f64, f64)) -> Hit<C> {
    Hit {
        label: label as i32,
        best: C::from_f64(upper),
        second: C::from_f64(lower),
    }
}

/// Whether `v` is zero or of a magnitude in `[2^-60, 2^60]`: rounded to `f32` it keeps a
/// relative error of at most `f32::EPSILON / 2`, and products and squares of such values
/// neither underflow nor overflow in `f32`. (Branch-free, to vectorise.)
#[inline(always)]
fn narrowable<C: Float>(v: C) -> bool {
    const LOW: f64 = 1.0 / (1u64 << 60) as f64;
    const HIGH: f64 = (1u64 << 60) as f64;
    let a = v.to_f64().abs();
    (a == 0.0) | (LOW..=HIGH).contains(&a)
}

/// `x` rounded to `f32` into `out`, and whether every value is [`narrowable`].
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
fn narrow_rows<C: Float>(x: &[C], out: &mut Vec<f32>) -> bool {
    out.clear();
    out.extend(x.iter().map(|&v| v.to_f64() as f32));
    x.iter().fold(true, |ok, &v| ok & narrowable(v))
}

/// The bounds of a row whose two best scores `|c|^2 - 2 x.c` are `best` and `second`, if
/// they are further apart than twice the rounding bound of a score, `(d + 4) * eps *
/// (|x|^2 + max |c|^2)` (`norms`): `(upper, lower)`, an upper bound of the best code's
/// squared distance and a lower bound of every other code's. `None` for near or exact ties,
/// overflow and NaN.
fn settle(best: f64, second: f64, norms: (f64, f64), d: usize, eps: f64) -> Option<(f64, f64)> {
    let margin = 2.0 * (d + 4) as f64 * eps * (norms.0 + norms.1);
    (second - best > margin).then(|| {
        (
            best + norms.0 + margin,
            (second + norms.0 - margin).max(0.0),
        )
    })
}

/// Scores `|c|^2 - 2 x.c` of `R` rows (row-major in `x`) against every code, written to
/// `out` (`R` runs of `kpad`); returns the rows' `|x|^2`. Tiles of `R x LANES`
/// accumulators stay in registers while the features stream past.
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
fn dot_scores<C: Float, const R: usize>(
    cols: &[C],
    norms: &[C],
    kpad: usize,
    d: usize,
    x: &[C],
    out: &mut [C],
) -> [C; R] {
    let mut x_norms = [C::ZERO; R];
    for (p, xn) in x_norms.iter_mut().enumerate() {
        for &v in &x[p * d..(p + 1) * d] {
            *xn = v.mul_add(v, *xn);
        }
    }
    let minus_two = C::from_f64(-2.0);
    for j0 in (0..kpad).step_by(LANES) {
        let mut acc = [[C::ZERO; LANES]; R];
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
    x_norms
}

/// The smallest and second smallest of `values` (a multiple of [`LANES`] long; NaNs are
/// passed over), found lane by lane with branch-free selects and then merged, and the
/// first index of the smallest.
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
fn two_smallest<C: Float>(values: &[C]) -> (C, C, usize) {
    let mut m1 = [C::INFINITY; LANES];
    let mut m2 = [C::INFINITY; LANES];
    for chunk in values.chunks_exact(LANES) {
        for t in 0..LANES {
            let v = chunk[t];
            let lower = v < m1[t];
            let demoted = if lower { m1[t] } else { v };
            m2[t] = if demoted < m2[t] { demoted } else { m2[t] };
            m1[t] = if lower { v } else { m1[t] };
        }
    }
    // Merge the lanes pairwise, halving the width each time (branch-free as well).
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for t in 0..width {
            let (a1, a2, b1, b2) = (m1[t], m2[t], m1[t + width], m2[t + width]);
            let b_lower = b1 < a1;
            let hi = if b_lower { a1 } else { b1 };
            let seconds = if b2 < a2 { b2 } else { a2 };
            m1[t] = if b_lower { b1 } else { a1 };
            m2[t] = if hi < seconds { hi } else { seconds };
        }
    }
    let (best, second) = (m1[0], m2[0]);
    // The first code holding `best`: find its block with an OR over each block's lanes
    // (vectorised), then the lane. NaN or infinite bests go to the exact comparison.
    let index = values
        .chunks_exact(LANES)
        .position(|chunk| chunk.iter().fold(false, |found, &v| found | (v == best)))
        .map_or(0, |block| {
            let lane = values[block * LANES..]
                .iter()
                .position(|&v| v == best)
                .unwrap_or(0);
            block * LANES + lane
        });
    (best, second, index)
}

/// The lowest value (first index on ties; index 0 and infinity if all are NaN) and the
/// second lowest of `values`.
#[inline(always)]
fn rank<C: Float>(values: &[C]) -> Hit<C> {
    // Branch-free: which code is nearest is data-dependent and mispredicts badly.
    let (mut best, mut second, mut label) = (C::INFINITY, C::INFINITY, 0usize);
    for (j, &v) in values.iter().enumerate() {
        let lower = v < best;
        let demoted = if lower { best } else { v };
        second = if demoted < second { demoted } else { second };
        best = if lower { v } else { best };
        label = if lower { j } else { label };
    }
    Hit {
        label: label as i32,
        best,
        second,
    }
}

/// Direct kernel: every row's squared distance to every code, accumulated feature by
/// feature in SciPy's order, and ranked as [`rank`] does (the first index on ties). Blocks
/// of [`DIRECT_ROWS`] rows meet one code at a time, row by row in the SIMD lanes. `book`
/// holds the `k` codes row-major; `d` is below [`DOT_MIN_FEATURES`].
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
fn direct_nearest<C: Float>(book: &[C], k: usize, d: usize, rows: &[C], hits: &mut [Hit<C>]) {
    for (b, out) in hits.chunks_mut(DIRECT_ROWS).enumerate() {
        let x = &rows[b * DIRECT_ROWS * d..(b * DIRECT_ROWS + out.len()) * d];
        // The block transposed: feature `f` of row `p` at `xt[f][p]`.
        let mut xt = [[C::ZERO; DIRECT_ROWS]; DOT_MIN_FEATURES - 1];
        for (p, row) in x.chunks_exact(d.max(1)).enumerate() {
            for (f, &v) in row.iter().enumerate() {
                xt[f][p] = v;
            }
        }
        let mut best = [C::INFINITY; DIRECT_ROWS];
        let mut second = [C::INFINITY; DIRECT_ROWS];
        let mut label = [0u32; DIRECT_ROWS];
        for j in 0..k {
            let mut acc = [C::ZERO; DIRECT_ROWS];
            for (&c, xf) in book[j * d..(j + 1) * d].iter().zip(&xt) {
                for (a, &v) in acc.iter_mut().zip(xf) {
                    let diff = c - v;
                    *a += diff * diff;
                }
            }
            // Branch-free, as in `rank`.
            for p in 0..DIRECT_ROWS {
                let v = acc[p];
                let lower = v < best[p];
                let demoted = if lower { best[p] } else { v };
                second[p] = if demoted < second[p] {
                    demoted
                } else {
                    second[p]
                };
                best[p] = if lower { v } else { best[p] };
                label[p] = if lower { j as u32 } else { label[p] };
            }
        }
        for (p, hit) in out.iter_mut().enumerate() {
            *hit = Hit {
                label: label[p] as i32,
                best: best[p],
                second: second[p],
            };
        }
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

/// Accumulators of [`lane_sq_dists`].
const SUM_LANES: usize = 16;

/// Squared distances of `x` to the rows numbered in `codes` of `rows` (row-major, rows as
/// long as `x`), into `out`: `sum((c - x)**2)` accumulated in [`SUM_LANES`] lanes and then
/// added pairwise, so each is the direct formula's value to within its rounding.
#[multiversion(targets(
    "x86_64+avx512f+avx512vl+avx2+avx+fma",
    "x86_64+avx2+avx+fma",
    "aarch64+neon"
))]
pub fn lane_sq_dists<C: Float>(x: &[C], rows: &[C], codes: &[u32], out: &mut [C]) {
    let d = x.len();
    let split = d - d % SUM_LANES;
    for (&j, o) in codes.iter().zip(out.iter_mut()) {
        let c = &rows[j as usize * d..(j as usize + 1) * d];
        let mut acc = [C::ZERO; SUM_LANES];
        for (xs, cs) in x[..split]
            .chunks_exact(SUM_LANES)
            .zip(c[..split].chunks_exact(SUM_LANES))
        {
            for t in 0..SUM_LANES {
                let diff = cs[t] - xs[t];
                acc[t] = diff.mul_add(diff, acc[t]);
            }
        }
        let mut width = SUM_LANES;
        while width > 1 {
            width /= 2;
            for t in 0..width {
                acc[t] += acc[t + width];
            }
        }
        *o = x[split..]
            .iter()
            .zip(&c[split..])
            .fold(acc[0], |s, (&a, &b)| (b - a).mul_add(b - a, s));
    }
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

/// The nearest code and squared distance of every row by brute force, for tests.
#[cfg(test)]
pub(crate) fn brute(rows: &[f64], cb: &[f64], d: usize) -> Vec<(i32, f64)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_brute_force_bitwise() {
        let mut next = crate::test_uniforms(12345);
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
        let mut hits = vec![Hit::default(); n];
        let mut scratch = vec![0.0; cb.scratch_len()];
        cb.nearest_rows(rows, &mut hits, &mut scratch, true);
        let expect = brute(rows, code, d);
        for i in 0..n {
            assert_eq!(hits[i].label, expect[i].0, "row {i}");
            assert_eq!(hits[i].best.to_bits(), expect[i].1.to_bits());
            // `second` bounds every other code's distance from below (to rounding).
            let x = &rows[i * d..(i + 1) * d];
            for (j, c) in code.chunks(d).enumerate() {
                if j as i32 != hits[i].label {
                    assert!(
                        hits[i].second <= sq_dist(x, c) * (1.0 + 1e-12),
                        "row {i} code {j}"
                    );
                }
            }
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
    fn narrowed_ranking_falls_back_where_f32_cannot_tell() {
        let d = 6;
        let mut next = crate::test_uniforms(5);
        // Pairs of codes closer than f32 can resolve (1e-9 apart relative to their values),
        // and rows just nearer to one or the other.
        let mut code = Vec::new();
        for j in 0..20 {
            let base: Vec<f64> = (0..d).map(|_| 100.0 * next()).collect();
            code.extend(&base);
            code.extend(base.iter().map(|v| v + 1e-7 * (j as f64 + 1.0)));
        }
        let mut rows = Vec::new();
        for pair in code.chunks(2 * d) {
            for t in [0.49, 0.51, 0.5] {
                rows.extend(
                    pair[..d]
                        .iter()
                        .zip(&pair[d..])
                        .map(|(a, b)| a + t * (b - a)),
                );
            }
            // And a row far from every code, which f32 settles on its own.
            rows.extend(pair[..d].iter().map(|v| v + 3.0));
        }
        let cb = Codebook::new(&code, code.len() / d, d);
        assert!(cb.narrow.is_some());
        assert_matches_brute(&rows, &code, d);
        // Values f32 cannot hold (or hold only as subnormals) keep the whole f64 path.
        for scale in [1e-30, 1e30] {
            let scaled: Vec<f64> = code.iter().map(|v| v * scale).collect();
            let cb = Codebook::new(&scaled, code.len() / d, d);
            assert!(cb.narrow.is_none());
            let rows: Vec<f64> = rows.iter().map(|v| v * scale).collect();
            assert_matches_brute(&rows, &scaled, d);
            // Rows out of range against codes in range are ranked in f64 as well.
            assert_matches_brute(&rows, &code, d);
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index_and_nan_to_zero() {
        let cb = Codebook::new(&[1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0], 3, 2);
        let mut hits = vec![
            Hit {
                label: 9,
                best: 0.0,
                second: 0.0
            };
            2
        ];
        let mut scratch = vec![0.0; cb.scratch_len()];
        cb.nearest_rows(&[0.0, 0.0, f32::NAN, 0.0], &mut hits, &mut scratch, true);
        assert_eq!((hits[0].label, hits[1].label), (0, 0));
        assert_eq!((hits[0].best, hits[0].second), (2.0, 2.0));
        assert!(hits[1].best.is_infinite());
    }
}
