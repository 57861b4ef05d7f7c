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
            s + sq_term(v, c)
        });
        s.max(0.0)
    }

    /// The dot products of rows `first..first + dots.len() / k` with every code of `codes`
    /// (`k` of them), into `dots` row by row.
    fn dots(&self, first: usize, codes: &Codes, dots: &mut [f64]) {
        let rows = dots.len() / codes.k().max(1);
        let ptr = &self.indptr[first..=first + rows];
        lane_dots(ptr, self.indices, self.data, (&codes.cols, codes.k()), dots);
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
    fn row(&self, i: usize) -> Vec<f64> {
        let mut r = vec![0.0; self.d];
        self.row_values(i).for_each(|(j, v)| r[j] = v);
        r
    }

    fn lower(
        &self,
        first: usize,
        (centres, picks): (&[f64], &[usize]),
        own: &[F],
        weights: Option<&[F]>,
        low: &mut [F],
    ) -> Vec<f64> {
        let (d, rows, t) = (self.d.max(1), own.len(), picks.len());
        let norms: Vec<f64> = centres
            .chunks_exact(d)
            .map(|c| c.iter().map(|v| v * v).sum())
            .collect();
        // Each row meets every centre in one pass over its stored values: the centres'
        // sums are independent, where centre by centre each was a chain of additions.
        // Each takes the operations of [`Csr::sq_dist_in`] in its order.
        let mut dists = vec![0.0; rows * t];
        let mut sums = vec![0.0; t];
        for r in 0..rows {
            sums.copy_from_slice(&norms);
            for (j, v) in self.row_values(first + r) {
                for (s, c) in sums.iter_mut().zip(centres[j..].iter().step_by(d)) {
                    *s += sq_term(v, *c);
                }
            }
            for (c, &s) in sums.iter().enumerate() {
                dists[c * rows + r] = s.max(0.0);
            }
        }
        lower_by(&dists, own, weights, low)
    }
}

/// A stored value `v`'s part of a row's squared distance to a code whose feature there is
/// `c`: `(v - c)^2 - c^2` (the code's squared norm holds the `c^2` taken back here).
#[inline(always)]
fn sq_term(v: f64, c: f64) -> f64 {
    (v - c) * (v - c) - c * c
}

/// Dense codes in `f64`, feature-major (`cols[j * k + c]` is feature `j` of code `c`, so
/// that a stored value meets every code in one run), with their squared norms.
struct Codes {
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
            for j in 0..d {
                for (c, code) in (c0..).zip(block.chunks_exact(d.max(1))) {
                    cols[j * k + c] = code[j].to_f64();
                }
            }
        }
        let norms = codes
            .chunks_exact(d.max(1))
            .map(|c| c.iter().map(|v| v.to_f64() * v.to_f64()).sum())
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

    /// Each row's squared distance to its code `labels[i]` (see [`Codes::sq_dist`]).
    fn own_sq_dists<F: Float>(&self, x: &Csr<F>, labels: &[i32]) -> Vec<f64> {
        (0..x.rows())
            .map(|i| self.sq_dist(x, i, labels[i] as usize))
            .collect()
    }
}

simd! {
    /// The dot products of sparse rows with every one of the `k` codes of `cols`
    /// (feature-major), into `dots` (`k` a row): row `r` holds the stored values
    /// `data[a..b]` in the columns `indices[a..b]`, with `a, b = indptr[r], indptr[r + 1]`,
    /// and each dot product is summed over them in order from 0, as scikit-learn sums them,
    /// the codes side by side in the SIMD lanes. (Code by code, each sum was a chain of
    /// dependent additions: on 10,000 x 1,000 rows of 1% density against 64 codes, slower
    /// than scikit-learn's sparse Lloyd iterations.) Up to four codes the sums are held in
    /// registers.
    fn lane_dots<F: Float>(
        indptr: &[i32],
        indices: &[i32],
        data: &[F],
        (cols, k): (&[f64], usize),
        dots: &mut [f64],
    ) {
        /// One row's stored values (`indices`, `data`) times the codes, added to `sums`
        /// lane by lane.
        #[inline(always)]
        fn add_row<F: Float>(sums: &mut [f64], cols: &[f64], indices: &[i32], data: &[F]) {
            let k = sums.len();
            for (&j, &v) in indices.iter().zip(data) {
                let v = v.to_f64();
                for (s, &c) in sums.iter_mut().zip(&cols[j as usize * k..][..k]) {
                    *s += c * v;
                }
            }
        }
        /// [`lane_dots`] for `K` codes held in registers, or `k` codes (any number) if `K`
        /// is 0.
        #[multiversion::inherit_target]
        fn rows<F: Float, const K: usize>(
            indptr: &[i32],
            indices: &[i32],
            data: &[F],
            cols: &[f64],
            dots: &mut [f64],
            k: usize,
        ) {
            for (ends, out) in indptr.windows(2).zip(dots.chunks_exact_mut(k)) {
                let (a, b) = (ends[0] as usize, ends[1] as usize);
                let (indices, data) = (&indices[a..b], &data[a..b]);
                if K > 0 {
                    let mut sums = [0.0; K];
                    add_row(&mut sums, cols, indices, data);
                    out.copy_from_slice(&sums);
                } else {
                    out.fill(0.0);
                    add_row(out, cols, indices, data);
                }
            }
        }
        match k {
            1 => rows::<F, 1>(indptr, indices, data, cols, dots, k),
            2 => rows::<F, 2>(indptr, indices, data, cols, dots, k),
            3 => rows::<F, 3>(indptr, indices, data, cols, dots, k),
            4 => rows::<F, 4>(indptr, indices, data, cols, dots, k),
            _ => rows::<F, 0>(indptr, indices, data, cols, dots, k),
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
    let c = codes_for(x, codes)?;
    let n = x.rows();
    crate::lloyd::check_weights(weights, n)?;
    crate::measure::check_labels(labels, n, c.k())?;
    exec.sum_rows(n, |i| {
        let j = labels[i] as usize;
        let w = weights.map_or(1.0, |w| w[i].to_f64());
        w * c.sq_dist(x, i, j)
    })
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

    /// Dot products with every code at once (the codes in the lanes, 1 to 4 of them in
    /// registers, more in memory) have the bits of each code's dot product alone, summed
    /// over the stored values in order; the labels are the first of the lowest scores
    /// `|c|^2 - 2 x.c`; rows without stored values included.
    #[test]
    fn every_code_at_once_has_the_bits_of_each_code_alone() {
        let mut next = crate::test_uniforms(11);
        let (n, d) = (40, 9);
        let (mut indptr, mut indices, mut data) = (vec![0i32], vec![], vec![]);
        for i in 0..n {
            for j in 0..d {
                if i % 7 != 0 && next() < 0.4 {
                    indices.push(j as i32);
                    data.push((next() * 8.0 - 4.0) as f32);
                }
            }
            indptr.push(indices.len() as i32);
        }
        let x = Csr::new(&indptr, &indices, &data, d).unwrap();
        let exec = Exec::with_threads(2).unwrap();
        for k in 1..=6 {
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

    #[test]
    fn malformed_csr_is_an_error() {
        let (p, i, v) = sample();
        assert!(Csr::new(&p, &i, &v, 2).is_err());
        assert!(Csr::new(&[0, 2, 1, 3], &i, &v, 3).is_err());
        assert!(Csr::new(&[1, 1, 3, 3], &i, &v, 3).is_err());
        assert!(Csr::new(&p, &i[..2], &v, 3).is_err());
    }
}
