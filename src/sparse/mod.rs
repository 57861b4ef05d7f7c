//! Sparse rows (CSR, as `scipy.sparse` holds them) against dense codes, for the estimator
//! front-ends: nearest codes, the inertia, all distances, and the Lloyd iterations
//! ([`lloyd()`]), in O(nnz + k·d) memory.
//!
//! A row's squared distance to a code `c` is `|c|^2 + sum over the row's stored values of
//! ((x - c)^2 - c^2)`, in `f64`: the dense formula's value to within rounding, from the
//! stored values alone (scikit-learn's formula for a row and one code). A row's nearest code
//! is ranked as scikit-learn ranks it, by `|c|^2 - 2 x.c`, and its distances to every code
//! (`transform`) are `|x|^2 + |c|^2 - 2 x.c`, the dot products summed over the stored values
//! in order with the codes side by side in the SIMD lanes.

mod lloyd;

pub use lloyd::{lloyd, SparseRun};

use crate::assign::check_code_book;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::init::{lower_by, Points};
use crate::parallel::{Exec, CHUNK_ROWS};
use ndarray::{Array2, ArrayView2};

/// A CSR matrix: row `i`'s values are `data[indptr[i]..indptr[i + 1]]` in the columns
/// `indices[...]` (scipy.sparse's layout with 32-bit indices).
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a, F> {
    indptr: &'a [i32],
    indices: &'a [i32],
    data: &'a [F],
    d: usize,
}

impl<'a, F: Float> Csr<'a, F> {
    /// The matrix of `indptr.len() - 1` rows and `d` columns, checked.
    ///
    /// # Errors
    /// `InvalidParameter` if `indptr` is empty, does not start at 0, decreases or does not
    /// end at the number of values, or if `indices` and `data` differ in length or a
    /// column index is out of range.
    pub fn new(indptr: &'a [i32], indices: &'a [i32], data: &'a [F], d: usize) -> Result<Self> {
        let bad = |what: &str| Err(Error::InvalidParameter(format!("CSR matrix: {what}")));
        if indptr.first() != Some(&0) {
            return bad("indptr must start at 0");
        }
        if indptr.windows(2).any(|w| w[1] < w[0]) {
            return bad("indptr must not decrease");
        }
        if indices.len() != data.len() || indptr.last().map(|&e| e as usize) != Some(data.len()) {
            return bad("indptr, indices and data do not match");
        }
        if indices.iter().any(|&j| j < 0 || j as usize >= d) {
            return bad("column index out of range");
        }
        Ok(Csr {
            indptr,
            indices,
            data,
            d,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.d
    }

    /// Row `i`'s stored (column, value) pairs.
    fn row_values(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (a, b) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
        self.indices[a..b]
            .iter()
            .zip(&self.data[a..b])
            .map(|(&j, &v)| (j as usize, v.to_f64()))
    }

    /// Row `i`'s squared distance to the code whose feature `j` is `code(j)` and whose
    /// squared norm is `norm`: `norm` plus, for each stored value in order, `(v - c)^2 -
    /// c^2`, at least 0.
    #[inline(always)]
    fn sq_dist_in(&self, i: usize, norm: f64, code: impl Fn(usize) -> f64) -> f64 {
        let s = self.row_values(i).fold(norm, |s, (j, v)| {
            let c = code(j);
            s + SqDist::of(v, c)
        });
        s.max(0.0)
    }

    /// The dot products of rows `first..first + dots.len() / k` with every code of `codes`
    /// (`k` of them), into `dots` row by row.
    fn dots(&self, first: usize, codes: &Codes, dots: &mut [f64]) {
        let rows = dots.len() / codes.k().max(1);
        let ptr = &self.indptr[first..=first + rows];
        let book = (&codes.cols[..], codes.k());
        lane_sums::<F, Dot>(ptr, self.indices, self.data, book, None, dots);
    }

    /// Row `i`'s `|x|^2`, over its stored values in order.
    fn sq_norm(&self, i: usize) -> f64 {
        self.row_values(i).fold(0.0, |s, (_, v)| s + v * v)
    }

    /// Add `w` times row `i` to `code` (a dense row), in `F`, stored values in order.
    pub(crate) fn add_scaled(&self, i: usize, w: F, code: &mut [F]) {
        let (a, b) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
        for (&j, &v) in self.indices[a..b].iter().zip(&self.data[a..b]) {
            code[j as usize] += v * w;
        }
    }

    /// Add `w` times row `i` to `sums` (a dense row).
    fn add_to(&self, i: usize, w: f64, sums: &mut [f64]) {
        self.row_values(i).for_each(|(j, v)| sums[j] += w * v);
    }
}

impl<F: Float> Points<F> for Csr<'_, F> {
    type Centres = Codes;

    fn centres(&self, picks: &[usize]) -> Codes {
        Codes::of_rows(self, picks)
    }

    fn lower(
        &self,
        first: usize,
        centres: &Codes,
        own: &[F],
        weights: Option<&[F]>,
        low: &mut [F],
    ) -> Vec<f64> {
        let (rows, t) = (own.len(), centres.k());
        // Each row meets every centre in one pass over its stored values, the centres side
        // by side in the lanes (centre by centre, each sum was a chain of additions), each
        // sum taking the operations of [`Csr::sq_dist_in`] in its order.
        let mut sums = vec![0.0; rows * t];
        let (ptr, book) = (&self.indptr[first..=first + rows], (&centres.cols[..], t));
        let norms = Some(&centres.norms[..]);
        lane_sums::<F, SqDist>(ptr, self.indices, self.data, book, norms, &mut sums);
        sums.iter_mut().for_each(|s| *s = s.max(0.0));
        lower_by(&sums, own, weights, low)
    }
}

/// A stored value's part of a row's sum against a code, in [`lane_sums`].
trait Term {
    /// The part of the stored value `v` where the code's feature is `c`.
    fn of(v: f64, c: f64) -> f64;
}

/// The dot product's part, `v * c`.
struct Dot;

impl Term for Dot {
    #[inline(always)]
    fn of(v: f64, c: f64) -> f64 {
        c * v
    }
}

/// The squared distance's part, `(v - c)^2 - c^2` (the code's squared norm holds the
/// `c^2` taken back here).
struct SqDist;

impl Term for SqDist {
    #[inline(always)]
    fn of(v: f64, c: f64) -> f64 {
        (v - c) * (v - c) - c * c
    }
}

/// Dense codes in `f64`, feature-major (`cols[j * k + c]` is feature `j` of code `c`, so
/// that a stored value meets every code in one run), with their squared norms.
pub(crate) struct Codes {
    cols: Vec<f64>,
    norms: Vec<f64>,
}

impl Codes {
    fn new<F: Float>(codes: &[F], d: usize) -> Codes {
        let k = codes.len() / d.max(1);
        let mut cols = vec![0.0; k * d];
        // Eight codes at a time, so that each feature's eight values fill one cache line
        // (code by code, each value written was a line of its own; with the copy of the
        // codes that `codes_for` then made first, building the book was about a third of a
        // `MiniBatchKMeans` step on sparse rows of 5,000 features, against 64 codes).
        for c0 in (0..k).step_by(8) {
            let block = &codes[c0 * d..(c0 + 8).min(k) * d];
            let at = (&mut cols[..], c0);
            match block.len() / d.max(1) {
                8 => put_codes::<F, 8>(block, at),
                7 => put_codes::<F, 7>(block, at),
                6 => put_codes::<F, 6>(block, at),
                5 => put_codes::<F, 5>(block, at),
                4 => put_codes::<F, 4>(block, at),
                3 => put_codes::<F, 3>(block, at),
                2 => put_codes::<F, 2>(block, at),
                _ => put_codes::<F, 1>(block, at),
            }
        }
        let norms = codes.chunks_exact(d.max(1)).map(row_norm).collect();
        Codes { cols, norms }
    }

    /// Rows `picks` of `x` as codes, each row held dense (a column stored twice keeps its
    /// last value), its squared norm summed over all `d` features in order.
    fn of_rows<F: Float>(x: &Csr<F>, picks: &[usize]) -> Codes {
        let (d, t) = (x.cols(), picks.len());
        let mut cols = vec![0.0; d * t];
        for (c, &i) in picks.iter().enumerate() {
            x.row_values(i).for_each(|(j, v)| cols[j * t + c] = v);
        }
        let norms = (0..t)
            .map(|c| (0..d).map(|j| cols[j * t + c] * cols[j * t + c]).sum())
            .collect();
        Codes { cols, norms }
    }

    fn k(&self) -> usize {
        self.norms.len()
    }

    /// Row `i`'s squared distance to code `j`.
    fn sq_dist<F: Float>(&self, x: &Csr<F>, i: usize, j: usize) -> f64 {
        let k = self.k();
        x.sq_dist_in(i, self.norms[j], |f| self.cols[f * k + j])
    }

    /// Every row's nearest code, in parallel: the lowest score `|c|^2 - 2 x.c` (the first
    /// on ties), as scikit-learn's sparse Lloyd iterations rank them.
    fn assign<F: Float>(&self, exec: &Exec, x: &Csr<F>) -> Result<Vec<i32>> {
        let (n, k) = (x.rows(), self.k());
        let mut labels = vec![0i32; n];
        let mut none: [(); 0] = [];
        exec.chunks_of(
            512,
            n,
            &mut labels,
            &mut none,
            |first, labels, _| {
                let mut dots = vec![0.0; labels.len() * k];
                x.dots(first, self, &mut dots);
                for (l, row) in labels.iter_mut().zip(dots.chunks_exact(k)) {
                    // The first of the lowest, without branches (which code is nearer is
                    // a coin toss where few codes split the rows).
                    let (mut label, mut best) = (0, f64::INFINITY);
                    for (j, (&dot, &norm)) in row.iter().zip(&self.norms).enumerate() {
                        let score = norm - 2.0 * dot;
                        let lower = score < best;
                        best = if lower { score } else { best };
                        label = if lower { j } else { label };
                    }
                    *l = label as i32;
                }
            },
            |()| (),
        )?;
        Ok(labels)
    }

    /// The sum over rows of `w * |x - code[label]|^2` ([`Codes::sq_dist`]).
    fn inertia<F: Float>(
        &self,
        exec: &Exec,
        x: &Csr<F>,
        labels: &[i32],
        weights: Option<&[F]>,
    ) -> Result<f64> {
        let cost = self.row_cost(x, labels, weights)?;
        exec.sum_rows(x.rows(), cost)
    }

    /// [`Codes::inertia`] of each code's rows alone, in one pass: each code's sum as
    /// [`Codes::inertia`] makes it with the weights of other codes' rows zero.
    fn label_inertia<F: Float>(
        &self,
        exec: &Exec,
        x: &Csr<F>,
        labels: &[i32],
        weights: Option<&[F]>,
    ) -> Result<Vec<f64>> {
        let (n, k) = (x.rows(), self.k());
        let cost = self.row_cost(x, labels, weights)?;
        let mut totals = vec![0.0; k];
        let mut none: [(); 0] = [];
        let sums = |first: usize, _: &mut [()], _: &mut [()]| {
            let mut sums = vec![0.0; k];
            for i in first..n.min(first + CHUNK_ROWS) {
                sums[labels[i] as usize] += cost(i);
            }
            sums
        };
        let add = |part: Vec<f64>| totals.iter_mut().zip(part).for_each(|(t, p)| *t += p);
        exec.chunks(n, &mut none, &mut [], sums, add)?;
        Ok(totals)
    }

    /// Row `i`'s part of the inertia, `w * |x - code[label]|^2`, once the labels and
    /// weights are checked to be one per row of `x`.
    fn row_cost<'a, F: Float>(
        &'a self,
        x: &'a Csr<F>,
        labels: &'a [i32],
        weights: Option<&'a [F]>,
    ) -> Result<impl Fn(usize) -> f64 + Sync + 'a> {
        let n = x.rows();
        crate::lloyd::check_weights(weights, n)?;
        crate::measure::check_labels(labels, n, self.k())?;
        Ok(move |i: usize| {
            let w = weights.map_or(1.0, |w| w[i].to_f64());
            w * self.sq_dist(x, i, labels[i] as usize)
        })
    }

    /// Each row's squared distance to its code `labels[i]` (see [`Codes::sq_dist`]).
    fn own_sq_dists<F: Float>(&self, x: &Csr<F>, labels: &[i32]) -> Vec<f64> {
        (0..x.rows())
            .map(|i| self.sq_dist(x, i, labels[i] as usize))
            .collect()
    }
}

/// A code's squared norm as scikit-learn's `row_norms` sums it (numpy's `einsum` as its
/// x86-64 builds run it): two lanes, each run of eight values added to them from its last
/// pair to its first, each square rounded before its addition, the rest pair by pair, then
/// the two lanes added. Where rows share no feature with some codes (sparse rows of unit
/// length, as tf-idf rows are), the codes' norms alone rank them, and summed in feature
/// order instead their last bits differed from scikit-learn's: its labels and ferrovq's
/// then parted (43% equal after a fit of 20,000 such rows of 1,000 features, 16 codes).
fn row_norm<F: Float>(row: &[F]) -> f64 {
    let mut lanes = [0.0f64; 2];
    let mut runs = row.chunks_exact(8);
    for run in &mut runs {
        for pair in run.chunks_exact(2).rev() {
            add_squares(&mut lanes, pair);
        }
    }
    for pair in runs.remainder().chunks(2) {
        add_squares(&mut lanes, pair);
    }
    0.0 + (lanes[0] + lanes[1])
}

/// Each value's square added to its lane.
#[inline(always)]
fn add_squares<F: Float>(lanes: &mut [f64; 2], values: &[F]) {
    for (lane, &v) in lanes.iter_mut().zip(values) {
        let v = v.to_f64();
        *lane += v * v;
    }
}

/// The `M` codes of `block` (row-major) written into the feature-major `cols` from code
/// `c0` on. `M` is known when compiled, so that each feature's values are one store (a
/// copy of a length known only at run time was a call to `memmove` per feature).
fn put_codes<F: Float, const M: usize>(block: &[F], (cols, c0): (&mut [f64], usize)) {
    let d = block.len() / M;
    let k = cols.len() / d.max(1);
    let rows: [&[F]; M] = std::array::from_fn(|c| &block[c * d..][..d]);
    for (j, out) in cols.chunks_exact_mut(k.max(1)).enumerate() {
        let v: [f64; M] = std::array::from_fn(|c| rows[c][j].to_f64());
        *out[c0..].first_chunk_mut::<M>().expect("M codes from c0") = v;
    }
}

simd! {
    /// The sums of sparse rows against every one of the `k` codes of `cols`
    /// (feature-major), into `out` (`k` a row): row `r` holds the stored values
    /// `data[a..b]` in the columns `indices[a..b]`, with `a, b = indptr[r], indptr[r + 1]`,
    /// and its sum against code `c` is `start[c]` (or 0) plus each value's [`Term`] in
    /// order (the dot products summed as scikit-learn sums them), the codes side by side in
    /// the SIMD lanes. (Code by code, each sum was a chain of dependent additions: on
    /// 10,000 x 1,000 rows of 1% density against 64 codes, slower than scikit-learn's
    /// sparse Lloyd iterations.) Up to eight codes the sums are held in registers.
    fn lane_sums<F: Float, T: Term>(
        indptr: &[i32],
        indices: &[i32],
        data: &[F],
        (cols, k): (&[f64], usize),
        start: Option<&[f64]>,
        out: &mut [f64],
    ) {
        /// One row's stored values (`indices`, `data`) against the codes, added to `sums`
        /// lane by lane.
        #[inline(always)]
        fn add_row<F: Float, T: Term>(
            sums: &mut [f64],
            cols: &[f64],
            indices: &[i32],
            data: &[F],
        ) {
            let k = sums.len();
            for (&j, &v) in indices.iter().zip(data) {
                let v = v.to_f64();
                for (s, &c) in sums.iter_mut().zip(&cols[j as usize * k..][..k]) {
                    *s += T::of(v, c);
                }
            }
        }
        /// [`lane_sums`] for `K` codes held in registers, or `k` codes (any number) if `K`
        /// is 0.
        #[multiversion::inherit_target]
        fn rows<F: Float, T: Term, const K: usize>(
            (indptr, indices, data): (&[i32], &[i32], &[F]),
            cols: &[f64],
            start: &[f64],
            out: &mut [f64],
            k: usize,
        ) {
            for (ends, out) in indptr.windows(2).zip(out.chunks_exact_mut(k)) {
                let (a, b) = (ends[0] as usize, ends[1] as usize);
                let (indices, data) = (&indices[a..b], &data[a..b]);
                if K > 0 {
                    let mut sums = [0.0; K];
                    sums.copy_from_slice(start);
                    add_row::<F, T>(&mut sums, cols, indices, data);
                    out.copy_from_slice(&sums);
                } else {
                    out.copy_from_slice(start);
                    add_row::<F, T>(out, cols, indices, data);
                }
            }
        }
        let zeros;
        let start = match start {
            Some(start) => start,
            None => {
                zeros = vec![0.0; k];
                &zeros
            }
        };
        let x = (indptr, indices, data);
        match k {
            1 => rows::<F, T, 1>(x, cols, start, out, k),
            2 => rows::<F, T, 2>(x, cols, start, out, k),
            3 => rows::<F, T, 3>(x, cols, start, out, k),
            4 => rows::<F, T, 4>(x, cols, start, out, k),
            5 => rows::<F, T, 5>(x, cols, start, out, k),
            6 => rows::<F, T, 6>(x, cols, start, out, k),
            7 => rows::<F, T, 7>(x, cols, start, out, k),
            8 => rows::<F, T, 8>(x, cols, start, out, k),
            _ => rows::<F, T, 0>(x, cols, start, out, k),
        }
    }
}

/// The codes of a code book, checked against `x`'s width.
fn codes_for<F: Float>(x: &Csr<F>, codes: ArrayView2<F>) -> Result<Codes> {
    let (k, cd) = codes.dim();
    check_code_book(k, cd, x.cols())?;
    match codes.as_slice() {
        Some(flat) => Ok(Codes::new(flat, cd)),
        None => Ok(Codes::new(&codes.iter().copied().collect::<Vec<F>>(), cd)),
    }
}

/// Each row's nearest code (ties: the lowest).
///
/// # Errors
/// `FeatureMismatch` or `InvalidParameter` for a code book that is not `k x d` with
/// `k >= 1`, and whatever the executor's control hook returns.
pub fn nearest<F: Float>(exec: &Exec, x: &Csr<F>, codes: ArrayView2<F>) -> Result<Vec<i32>> {
    codes_for(x, codes)?.assign(exec, x)
}

/// The sum over rows of `w * |x - codes[label]|^2` (see [`crate::inertia`]).
///
/// # Errors
/// As [`nearest`], and `InvalidParameter` or `BadShape` for labels or weights that are
/// not one per row in range.
pub fn inertia<F: Float>(
    exec: &Exec,
    x: &Csr<F>,
    codes: ArrayView2<F>,
    labels: &[i32],
    weights: Option<&[F]>,
) -> Result<f64> {
    codes_for(x, codes)?.inertia(exec, x, labels, weights)
}

/// Each code's inertia: [`inertia`] over its rows alone, in one pass (the bits of
/// [`inertia`] with the weights of the other codes' rows zero).
///
/// # Errors
/// As [`inertia`].
pub fn label_inertia<F: Float>(
    exec: &Exec,
    x: &Csr<F>,
    codes: ArrayView2<F>,
    labels: &[i32],
    weights: Option<&[F]>,
) -> Result<Vec<f64>> {
    codes_for(x, codes)?.label_inertia(exec, x, labels, weights)
}

/// Each row's nearest code (as [`nearest`]) and, if `measure`, the rows' inertia against
/// them with the weights `weights` (as [`inertia`]), from one layout of the codes.
///
/// # Errors
/// As [`inertia`].
pub fn nearest_measured<F: Float>(
    exec: &Exec,
    x: &Csr<F>,
    codes: ArrayView2<F>,
    weights: &[F],
    measure: bool,
) -> Result<(Vec<i32>, Option<f64>)> {
    let c = codes_for(x, codes)?;
    let labels = c.assign(exec, x)?;
    let inertia = measure.then(|| c.inertia(exec, x, &labels, Some(weights)));
    Ok((labels, inertia.transpose()?))
}

/// Every row's Euclidean distance to every code, `n x k` in `F`: `|x|^2 + |c|^2 - 2 x.c`
/// (at least 0), as scikit-learn's `transform` of sparse rows measures them.
///
/// # Errors
/// As [`nearest`].
pub fn distances<F: Float>(exec: &Exec, x: &Csr<F>, codes: ArrayView2<F>) -> Result<Array2<F>> {
    let c = codes_for(x, codes)?;
    let (n, k) = (x.rows(), c.k());
    let mut out = vec![F::ZERO; n * k];
    let blocks = out.chunks_mut(CHUNK_ROWS * k).enumerate().collect();
    exec.check()?;
    exec.map(blocks, |(b, o)| {
        let mut dots = vec![0.0; o.len()];
        x.dots(b * CHUNK_ROWS, &c, &mut dots);
        for (r, (o, dots)) in o.chunks_exact_mut(k).zip(dots.chunks_exact(k)).enumerate() {
            let x_norm = x.sq_norm(b * CHUNK_ROWS + r);
            for ((o, &dot), &norm) in o.iter_mut().zip(dots).zip(&c.norms) {
                *o = F::from_f64((x_norm + norm - 2.0 * dot).max(0.0).sqrt());
            }
        }
    });
    crate::matrix(out, n, k)
}

/// Greedy k-means++ on sparse rows: the row indices [`crate::init::greedy_plusplus`] picks
/// for the same rows held dense.
///
/// # Errors
/// As [`crate::init::greedy_plusplus`].
pub fn greedy_plusplus<F: Float>(
    exec: &Exec,
    x: &Csr<F>,
    k_trials: (usize, usize),
    first: usize,
    uniforms: &[f64],
    weights: Option<&[F]>,
) -> Result<Vec<usize>> {
    crate::init::greedy(exec, x, x.rows(), k_trials, first, uniforms, weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [[0, 2, 0], [1, 0, 3], [0, 0, 0]].
    fn sample() -> (Vec<i32>, Vec<i32>, Vec<f64>) {
        (vec![0, 1, 3, 3], vec![1, 0, 2], vec![2.0, 1.0, 3.0])
    }

    #[test]
    fn sparse_rows_measure_what_dense_rows_do() {
        let (p, i, v) = sample();
        let x = Csr::new(&p, &i, &v, 3).unwrap();
        let dense = ndarray::array![[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]];
        let codes = ndarray::array![[1.0, 1.0, 1.0], [0.0, 2.0, 0.5], [1.0, 0.0, 2.5]];
        let flat = codes.view();
        let exec = Exec::with_threads(2).unwrap();
        let labels = nearest(&exec, &x, flat).unwrap();
        let (want, _) = crate::assign::nearest(&exec, dense.view(), codes.view()).unwrap();
        assert_eq!(labels, want);
        let d = distances(&exec, &x, flat).unwrap();
        let dd = crate::distances(&exec, dense.view(), codes.view()).unwrap();
        assert!(d.iter().zip(&dd).all(|(a, b)| (a - b).abs() < 1e-12));
        let w = [2.0, 1.0, 0.5];
        let a = inertia(&exec, &x, flat, &labels, Some(&w)).unwrap();
        let b = crate::inertia(&exec, dense.view(), codes.view(), &labels, Some(&w)).unwrap();
        assert!((a - b).abs() < 1e-12);
        let u = [0.3, 0.9, 0.1, 0.6];
        let picked = greedy_plusplus(&exec, &x, (3, 2), 1, &u, Some(&w)).unwrap();
        let g = crate::init::greedy_plusplus(&exec, dense.view(), (3, 2), 1, &u, Some(&w));
        assert_eq!(picked, g.unwrap().indices);
    }

    /// Dot products with every code at once (the codes in the lanes, 1 to 8 of them in
    /// registers, more in memory) have the bits of each code's dot product alone, summed
    /// over the stored values in order; the labels are the first of the lowest scores
    /// `|c|^2 - 2 x.c`; rows without stored values included.
    /// `n` random sparse rows of `d >= 3` features: every seventh row empty, the last one
    /// with a column stored twice.
    fn random_rows(next: &mut impl FnMut() -> f64, n: usize, d: usize) -> Parts {
        let (mut indptr, mut indices, mut data) = (vec![0i32], vec![], vec![]);
        for i in 0..n {
            for j in 0..d {
                if i % 7 != 0 && next() < 0.4 {
                    indices.push(j as i32);
                    data.push((next() * 8.0 - 4.0) as f32);
                }
            }
            if i == n - 1 {
                indices.extend([2, 2]);
                data.extend([1.5, -0.5]);
            }
            indptr.push(indices.len() as i32);
        }
        (indptr, indices, data)
    }

    type Parts = (Vec<i32>, Vec<i32>, Vec<f32>);

    #[test]
    fn every_code_at_once_has_the_bits_of_each_code_alone() {
        let mut next = crate::test_uniforms(11);
        let (n, d) = (40, 9);
        let (indptr, indices, data) = random_rows(&mut next, n, d);
        let x = Csr::new(&indptr, &indices, &data, d).unwrap();
        let exec = Exec::with_threads(2).unwrap();
        for k in 1..=10 {
            let mut book: Vec<f32> = (0..k * d).map(|_| (next() * 6.0 - 3.0) as f32).collect();
            if k > 2 {
                book.copy_within(0..d, 2 * d); // a tie between codes 0 and 2
            }
            let codes = Codes::new(&book, d);
            let mut all = vec![0.0; n * k];
            x.dots(0, &codes, &mut all);
            let labels = codes.assign(&exec, &x).unwrap();
            for i in 0..n {
                let one: Vec<f64> = (0..k)
                    .map(|j| {
                        x.row_values(i)
                            .fold(0.0, |s, (f, v)| s + f64::from(book[j * d + f]) * v)
                    })
                    .collect();
                let bits = |v: &[f64]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&all[i * k..(i + 1) * k]),
                    bits(&one),
                    "row {i}, k = {k}"
                );
                let scores: Vec<f64> = (0..k).map(|j| codes.norms[j] - 2.0 * one[j]).collect();
                let low = scores.iter().copied().fold(f64::INFINITY, f64::min);
                let first = scores.iter().position(|&v| v == low).unwrap();
                assert_eq!(labels[i], first as i32, "row {i}, k = {k}");
            }
            let own = codes.own_sq_dists(&x, &labels);
            for (i, &l) in labels.iter().enumerate() {
                let code = &book[l as usize * d..][..d];
                let want = x
                    .row_values(i)
                    .fold(codes.norms[l as usize], |s, (f, v)| {
                        let c = f64::from(code[f]);
                        s + ((v - c) * (v - c) - c * c)
                    })
                    .max(0.0);
                assert_eq!(own[i].to_bits(), want.to_bits(), "row {i}, k = {k}");
            }
        }
    }

    /// The seeding's candidates met at once (1 to 8 in registers, more in memory) lower
    /// each row to the bits of its distance to each candidate alone (the candidate held
    /// dense, a column stored twice keeping its last value), by the one-code formula
    /// ([`Csr::sq_dist_in`]), where that is below the row's own.
    #[test]
    fn candidates_at_once_lower_as_each_alone() {
        let mut next = crate::test_uniforms(12);
        let (n, d) = (50, 11);
        let (indptr, indices, data) = random_rows(&mut next, n, d);
        let x = Csr::new(&indptr, &indices, &data, d).unwrap();
        let own: Vec<f32> = (0..n)
            .map(|i| if i % 3 == 0 { f32::INFINITY } else { 20.0 })
            .collect();
        let w: Vec<f32> = (0..n).map(|i| (i % 4) as f32 * 0.5 + 0.25).collect();
        let all = [n - 1, 3, 0, 17, 3, 22, 41, 8, 30, 12];
        for t in 1..=all.len() {
            let picks = &all[..t];
            let mut low = vec![0.0f32; n * t];
            let pots = x.lower(0, &x.centres(picks), &own, Some(&w), &mut low);
            for ((&p, low), pot) in picks.iter().zip(low.chunks_exact(n)).zip(pots) {
                let mut centre = vec![0.0f64; d];
                x.row_values(p).for_each(|(j, v)| centre[j] = v);
                let norm = centre.iter().fold(0.0, |s, c| s + c * c);
                let mut total = 0.0;
                for (i, &l) in low.iter().enumerate() {
                    let d2 = x
                        .row_values(i)
                        .fold(norm, |s, (j, v)| {
                            let c = centre[j];
                            s + ((v - c) * (v - c) - c * c)
                        })
                        .max(0.0);
                    let want = if d2 < f64::from(own[i]) {
                        d2 as f32
                    } else {
                        own[i]
                    };
                    assert_eq!(l.to_bits(), want.to_bits(), "row {i}, {t} candidates");
                    total += f64::from(w[i] * l);
                }
                assert!((pot - total).abs() <= 1e-12 * total, "{pot} vs {total}");
            }
        }
    }

    /// Each code's inertia in one pass has the bits of the whole inertia with the other
    /// codes' rows weighing nothing (more rows than a chunk, so chunk sums are added).
    #[test]
    fn each_codes_inertia_is_the_inertia_of_its_rows_alone() {
        let mut next = crate::test_uniforms(13);
        let (n, d, k) = (CHUNK_ROWS + 300, 10, 3);
        let (indptr, indices, data) = random_rows(&mut next, n, d);
        let x = Csr::new(&indptr, &indices, &data, d).unwrap();
        let book: Vec<f32> = (0..k * d).map(|_| (next() * 4.0 - 2.0) as f32).collect();
        let codes = ndarray::ArrayView2::from_shape((k, d), &book).unwrap();
        let labels: Vec<i32> = (0..n).map(|i| ((i * 7) % 5 % k) as i32).collect();
        let w: Vec<f32> = (0..n).map(|_| next() as f32).collect();
        let exec = Exec::with_threads(2).unwrap();
        let each = label_inertia(&exec, &x, codes, &labels, Some(&w)).unwrap();
        for (j, got) in each.iter().enumerate() {
            let alone: Vec<f32> = (0..n)
                .map(|i| if labels[i] == j as i32 { w[i] } else { 0.0 })
                .collect();
            let want = inertia(&exec, &x, codes, &labels, Some(&alone)).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "code {j}");
        }
        assert!(label_inertia(&exec, &x, codes, &labels[1..], None).is_err());
    }

    #[test]
    fn malformed_csr_is_an_error() {
        let (p, i, v) = sample();
        assert!(Csr::new(&p, &i, &v, 2).is_err());
        assert!(Csr::new(&[0, 2, 1, 3], &i, &v, 3).is_err());
        assert!(Csr::new(&[1, 1, 3, 3], &i, &v, 3).is_err());
        assert!(Csr::new(&p, &i[..2], &v, 3).is_err());
    }
}
