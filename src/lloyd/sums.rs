//! The statistics of the update step: per-code sums of the rows (weighted, if the rows
//! carry weights), their counts and weight totals; per chunk of rows, per block, and
//! carried between iterations.
//!
//! The combination order is fixed, so results never depend on the number of threads or
//! machines: a chunk of [`CHUNK_ROWS`](crate::parallel::CHUNK_ROWS) rows (counted from the
//! first row of the data or the block) is summed in row order, and the chunks' sums are
//! added in chunk order. For data within one chunk this is SciPy's own order (a running sum
//! over the rows), so small problems agree with SciPy bit for bit. [`block_stats`] gives
//! the statistics of one block of rows; blocks merged in block order
//! ([`BlockStats::merge`]) give bits that depend only on where the blocks start, never on
//! threads or machines, and equal those of one block over all their rows when each block is
//! one chunk (to rounding otherwise). The in-memory Lloyd step sums its chunks the same way
//! in an iteration without bounds; past one chunk it then carries the sums and moves only
//! the rows that change code.

use crate::assign::{check_code_book, Codebook, Scratch};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use ndarray::ArrayView2;
use std::sync::Mutex;

/// Per-code sums, counts and (for weighted rows) weight totals of some rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSums<F> {
    d: usize,
    /// `k x d`, row-major: the sum of the rows of each code (each row times its weight).
    sums: Vec<F>,
    /// Signed, so that sums can also hold the change between two assignments.
    counts: Vec<i64>,
    /// The weight total of each code, when the rows are weighted.
    weights: Option<Vec<F>>,
}

impl<F: Float> ClusterSums<F> {
    /// Zero sums for `k` codes of `d` features; `weighted` keeps weight totals as well.
    /// (The zeros are written, not left to the kernel's zero page: a table of megabytes
    /// read and then written on first touch took a copy-on-write fault per page, each
    /// flushing the other threads' address translations.)
    pub fn new(k: usize, d: usize, weighted: bool) -> Self {
        ClusterSums {
            d,
            sums: crate::pages::filled(k * d, F::ZERO),
            counts: vec![0; k],
            weights: weighted.then(|| vec![F::ZERO; k]),
        }
    }

    /// Number of codes.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// The sums, `k x d` row-major.
    pub fn sums(&self) -> &[F] {
        &self.sums
    }

    /// The number of rows of each code.
    pub fn counts(&self) -> &[i64] {
        &self.counts
    }

    /// The weight total of each code, if the rows are weighted.
    pub fn weights(&self) -> Option<&[F]> {
        self.weights.as_deref()
    }

    /// Whether code `j` has no rows (or, for weighted rows, a weight total of zero).
    pub fn is_empty(&self, j: usize) -> bool {
        match &self.weights {
            Some(w) => self.counts[j] == 0 || w[j] == F::ZERO,
            None => self.counts[j] == 0,
        }
    }

    /// Add `rows` (row-major) to the sums of their `labels`, in row order, each times its
    /// weight if `weights` is given (the sums must then be weighted).
    pub fn add_rows(
        &mut self,
        rows: &[F],
        labels: impl IntoIterator<Item = i32>,
        weights: Option<&[F]>,
    ) {
        let d = self.d;
        let rows = rows.chunks_exact(d.max(1)).zip(labels);
        match (weights, &mut self.weights) {
            (Some(w), Some(totals)) => {
                for ((x, label), &w) in rows.zip(w) {
                    let l = label as usize;
                    self.counts[l] += 1;
                    totals[l] += w;
                    for (s, &v) in self.sums[l * d..(l + 1) * d].iter_mut().zip(x) {
                        *s += v * w;
                    }
                }
            }
            _ => {
                for (x, label) in rows {
                    let l = label as usize;
                    self.counts[l] += 1;
                    for (s, &v) in self.sums[l * d..(l + 1) * d].iter_mut().zip(x) {
                        *s += v;
                    }
                }
            }
        }
    }

    /// Move row `x` (of weight `w`, for weighted sums) from code `from` to code `to`: the
    /// change to the sums when its label changes between two assignments.
    pub fn move_row(&mut self, x: &[F], w: Option<F>, from: usize, to: usize) {
        let d = self.d;
        self.counts[from] -= 1;
        self.counts[to] += 1;
        let (from_sum, to_sum) = (from * d..(from + 1) * d, to * d..(to + 1) * d);
        match (w, &mut self.weights) {
            (Some(w), Some(totals)) => {
                totals[from] = totals[from] - w;
                totals[to] += w;
                for (s, &v) in self.sums[from_sum].iter_mut().zip(x) {
                    *s = *s - v * w;
                }
                for (s, &v) in self.sums[to_sum].iter_mut().zip(x) {
                    *s += v * w;
                }
            }
            _ => {
                for (s, &v) in self.sums[from_sum].iter_mut().zip(x) {
                    *s = *s - v;
                }
                for (s, &v) in self.sums[to_sum].iter_mut().zip(x) {
                    *s += v;
                }
            }
        }
    }

    /// Give code `to` row `x` (of weight `w`) alone, taking it out of code `from`'s sums:
    /// how scikit-learn refills an empty cluster with a far row (the row keeps its label).
    pub(crate) fn relocate(&mut self, x: &[F], w: F, from: usize, to: usize) {
        let d = self.d;
        for (f, &v) in x.iter().enumerate() {
            self.sums[from * d + f] = self.sums[from * d + f] - v * w;
            self.sums[to * d + f] = v * w;
        }
        let totals = self.weights.get_or_insert_with(|| {
            let counts = self.counts.iter();
            counts.map(|&c| F::from_usize(c.max(0) as usize)).collect()
        });
        totals[to] = w;
        totals[from] = totals[from] - w;
        self.counts[to] = 1;
        self.counts[from] -= 1;
    }

    /// Zero the sums of codes that have no rows (rows moved in and out can leave rounding
    /// residue where an empty code's sum should be exactly zero).
    pub fn clear_empty(&mut self) {
        let d = self.d;
        for (j, (code, &count)) in self
            .sums
            .chunks_exact_mut(d.max(1))
            .zip(&self.counts)
            .enumerate()
        {
            if count == 0 {
                code.fill(F::ZERO);
                if let Some(w) = &mut self.weights {
                    w[j] = F::ZERO;
                }
            }
        }
    }

    /// Add other sums to these (same `k`, `d` and weighting).
    pub fn merge(&mut self, other: &ClusterSums<F>) {
        for j in 0..self.k() {
            self.add_code(j, other, j);
        }
    }

    /// Add code `from`'s sums, count and weight total of `other` (same `d` and weighting)
    /// to code `j`'s.
    fn add_code(&mut self, j: usize, other: &ClusterSums<F>, from: usize) {
        let d = self.d;
        let theirs = &other.sums[from * d..(from + 1) * d];
        for (s, &o) in self.sums[j * d..(j + 1) * d].iter_mut().zip(theirs) {
            *s += o;
        }
        self.counts[j] += other.counts[from];
        if let (Some(w), Some(o)) = (&mut self.weights, &other.weights) {
            w[j] += o[from];
        }
    }

    /// Add the changes of rows that moved between codes ([`SumChanges`]).
    pub(crate) fn apply(&mut self, changes: &SumChanges<F>) {
        for (slot, &j) in changes.codes.iter().enumerate() {
            self.add_code(j as usize, &changes.sums, slot);
        }
    }

    /// The means (row-major `k x d`; zeros for empty codes, see [`ClusterSums::is_empty`])
    /// and which codes are not empty. Sums are divided by the count, or by the weight total
    /// for weighted rows.
    pub fn into_means(self) -> (Vec<F>, Vec<bool>) {
        let d = self.d;
        let has: Vec<bool> = (0..self.k()).map(|j| !self.is_empty(j)).collect();
        let mut sums = self.sums;
        for (j, code) in sums.chunks_exact_mut(d.max(1)).enumerate() {
            if has[j] {
                let total = match &self.weights {
                    Some(w) => w[j],
                    None => F::from_usize(self.counts[j] as usize),
                };
                for v in code {
                    *v = *v / total;
                }
            }
        }
        (sums, has)
    }
}

/// The change to per-code sums from rows that move between codes, held only for the codes
/// a row left or joined: a chunk of 2,048 rows against 1,024 codes of 768 `f64` features
/// would otherwise zero, and then merge, a table of 6 MB for a handful of moves (E768's 25
/// chunks: 157 MB zeroed and as much merged every iteration). Each code's change is summed
/// as [`ClusterSums::move_row`] sums it, so applying it gives the bits of merging the
/// whole table, which adds `+0.0` to the codes no row touched: that changes nothing but
/// the sign of a `-0.0` sum, which only [`ClusterSums::relocate`] can leave (a far row's
/// `-0.0` feature).
pub(crate) struct SumChanges<F> {
    /// The slot of each code's change, [`SumChanges::NONE`] for a code no row left or
    /// joined.
    slot_of: Vec<u32>,
    /// The code of each slot.
    codes: Vec<u32>,
    /// The change of each slot's code.
    sums: ClusterSums<F>,
}

impl<F: Float> SumChanges<F> {
    const NONE: u32 = u32::MAX;

    /// No change yet, for `k` codes of `d` features; `weighted` keeps weight totals.
    pub(crate) fn new(k: usize, d: usize, weighted: bool) -> Self {
        SumChanges {
            slot_of: vec![Self::NONE; k],
            codes: Vec::new(),
            sums: ClusterSums::new(0, d, weighted),
        }
    }

    /// Move row `x` (of weight `w`, for weighted sums) from code `from` to code `to`.
    pub(crate) fn move_row(&mut self, x: &[F], w: Option<F>, from: usize, to: usize) {
        let (a, b) = (self.slot(from), self.slot(to));
        self.sums.move_row(x, w, a, b);
    }

    /// The slot of code `j`, a new one of zeros the first time.
    fn slot(&mut self, j: usize) -> usize {
        if self.slot_of[j] == Self::NONE {
            self.slot_of[j] = self.codes.len() as u32;
            self.codes.push(j as u32);
            let sums = &mut self.sums;
            sums.sums.resize(sums.sums.len() + sums.d, F::ZERO);
            sums.counts.push(0);
            if let Some(w) = &mut sums.weights {
                w.push(F::ZERO);
            }
        }
        self.slot_of[j] as usize
    }
}

/// The sum tables of a step's chunks (`k x d` each, as large as the code book): a table
/// goes to a chunk zeroed and comes back once the chunk's sums are folded, so a step
/// allocates only as many as it has chunks in flight, not one per chunk (at 1,024 codes of
/// 768 `f64` features, 6 MB each, 25 per step).
pub(crate) struct SumTables<F> {
    free: Mutex<Vec<ClusterSums<F>>>,
    k: usize,
    d: usize,
    weighted: bool,
}

impl<F: Float> SumTables<F> {
    /// Tables for `k` codes of `d` features, with weight totals if `weighted`.
    pub(crate) fn new(k: usize, d: usize, weighted: bool) -> Self {
        SumTables {
            free: Mutex::new(Vec::new()),
            k,
            d,
            weighted,
        }
    }

    /// The number of codes.
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    /// A zeroed table.
    pub(crate) fn take(&self) -> ClusterSums<F> {
        let kept = self.free.lock().map(|mut free| free.pop()).ok().flatten();
        match kept {
            Some(mut table) => {
                table.sums.fill(F::ZERO);
                table.counts.fill(0);
                if let Some(w) = &mut table.weights {
                    w.fill(F::ZERO);
                }
                table
            }
            None => ClusterSums::new(self.k, self.d, self.weighted),
        }
    }

    /// `table` back, for another chunk.
    pub(crate) fn give(&self, table: ClusterSums<F>) {
        if let Ok(mut free) = self.free.lock() {
            free.push(table);
        }
    }
}

/// The statistics of one block of rows against one code book: the per-code sums, counts
/// and weight totals, the inertia (the sum of each row's weight times its squared
/// distance to its code) and the sum of the (unweighted) distances, SciPy's distortion
/// times the row count.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockStats<F> {
    /// Per-code sums of the block's rows.
    pub sums: ClusterSums<F>,
    /// The block's inertia, accumulated in `f64` in row order within a chunk.
    pub inertia: f64,
    /// The sum of the rows' distances to their codes, accumulated as `inertia`.
    pub distances: f64,
}

impl<F: Float> BlockStats<F> {
    /// Add the statistics of the next block (the combination order is the caller's: block
    /// order gives results independent of where blocks were computed).
    pub fn merge(&mut self, other: &BlockStats<F>) {
        self.sums.merge(&other.sums);
        self.inertia += other.inertia;
        self.distances += other.distances;
    }
}

/// The labels of the rows of `block` (`n x d`) against `code_book` (`k x d`, the nearest
/// code, lowest index on ties) and their [`BlockStats`], with each row weighted by
/// `weights` if given. The partial results of chunks of `CHUNK_ROWS` rows are combined in
/// chunk order, so the result does not depend on the number of threads.
///
/// # Errors
/// `FeatureMismatch` or `InvalidParameter` for a code book that cannot label the rows,
/// `BadShape` for weights that are not one per row, and whatever the executor's control
/// hook returns.
pub fn block_stats<F: Float>(
    exec: &Exec,
    block: ArrayView2<F>,
    code_book: ArrayView2<F>,
    weights: Option<&[F]>,
) -> Result<(Vec<i32>, BlockStats<F>)> {
    let (n, d) = block.dim();
    let (k, cb_d) = code_book.dim();
    check_code_book(k, cb_d, d)?;
    check_weights(weights, n)?;
    let block = block.as_standard_layout();
    let x = crate::contiguous(&block)?;
    let code_book = code_book.as_standard_layout();
    let cb = Codebook::new(crate::contiguous(&code_book)?, k, d);
    let mut labels = vec![0i32; n];
    let mut total = BlockStats {
        sums: ClusterSums::new(k, d, weights.is_some()),
        inertia: 0.0,
        distances: 0.0,
    };
    exec.chunks(
        n,
        &mut labels,
        &mut [0u8; 0],
        |first, labels, _| {
            let rows = &x[first * d..(first + labels.len()) * d];
            let w = weights.map(|w| &w[first..first + labels.len()]);
            let mut scratch = Scratch::new(&cb, labels.len());
            cb.nearest_rows(rows, &mut scratch.hits, &mut scratch.acc, true);
            let mut part = BlockStats {
                sums: ClusterSums::new(k, d, w.is_some()),
                inertia: 0.0,
                distances: 0.0,
            };
            for (i, (l, h)) in labels.iter_mut().zip(&scratch.hits).enumerate() {
                *l = h.label;
                let wi = w.map_or(1.0, |w| w[i].to_f64());
                part.inertia += wi * h.best.to_f64();
                part.distances += h.best.to_f64().sqrt();
            }
            part.sums.add_rows(rows, labels.iter().copied(), w);
            part
        },
        |part| total.merge(&part),
    )?;
    Ok((labels, total))
}

/// Check that `weights`, if given, hold one weight per row.
pub(crate) fn check_weights<F>(weights: Option<&[F]>, n: usize) -> Result<()> {
    match weights {
        Some(w) if w.len() != n => Err(Error::BadShape {
            what: "sample weights",
            len: w.len(),
            rows: n,
            cols: 1,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::brute;
    use crate::parallel::CHUNK_ROWS;
    use ndarray::{array, s, Array2};

    fn data(n: usize, d: usize) -> Array2<f64> {
        let mut rnd = crate::test_uniforms(17);
        Array2::from_shape_fn((n, d), |(i, _)| (i % 5) as f64 * 4.0 + rnd())
    }

    #[test]
    fn means_weights_and_empty_codes() {
        let rows = [1.0f64, 2.0, 3.0, 4.0, 10.0, 10.0];
        let mut plain = ClusterSums::new(4, 2, false);
        plain.add_rows(&rows, [0, 0, 2], None);
        let (m, has) = plain.into_means();
        assert_eq!(m, [2.0, 3.0, 0.0, 0.0, 10.0, 10.0, 0.0, 0.0]);
        assert_eq!(has, [true, false, true, false]);
        // Weights 3 and 1: the weighted mean; a code whose rows weigh nothing is empty.
        let mut weighted = ClusterSums::new(3, 2, true);
        weighted.add_rows(&rows, [0, 0, 2], Some(&[3.0, 1.0, 0.0]));
        let (m, has) = weighted.into_means();
        assert_eq!(m[..2], [1.5, 2.5]);
        assert_eq!(has, [true, false, false]);
    }

    #[test]
    fn unit_weights_give_the_unweighted_bits() {
        let x = data(3 * CHUNK_ROWS + 7, 3);
        let rows = x.as_slice().unwrap();
        let labels: Vec<i32> = (0..x.nrows()).map(|i| (i * 7 % 4) as i32).collect();
        let ones = vec![1.0; x.nrows()];
        let mut plain = ClusterSums::new(4, 3, false);
        let mut unit = ClusterSums::new(4, 3, true);
        plain.add_rows(rows, labels.iter().copied(), None);
        unit.add_rows(rows, labels.iter().copied(), Some(&ones));
        assert_eq!(plain.sums(), unit.sums());
        assert_eq!(plain.into_means(), unit.into_means());
    }

    #[test]
    fn moving_a_weighted_row_is_summing_again() {
        let rows = [1.0f64, 5.0, 2.0, -1.0, 7.0, 0.5];
        let w = [2.0, 0.5, 1.5];
        let mut moved = ClusterSums::new(2, 2, true);
        moved.add_rows(&rows, [0, 0, 1], Some(&w));
        moved.move_row(&rows[2..4], Some(0.5), 0, 1);
        let mut again = ClusterSums::new(2, 2, true);
        again.add_rows(&rows, [0, 1, 1], Some(&w));
        assert_eq!(moved, again);
    }

    /// Changes kept for the touched codes only, applied to carried sums, give the bits of
    /// the whole table of changes merged (weighted and not, a code left and rejoined, rows
    /// moved back where they were, codes no row touched).
    #[test]
    fn sparse_changes_apply_as_the_whole_table_merges() {
        let (k, d) = (9, 5);
        let mut next = crate::test_uniforms(3);
        let rows: Vec<f64> = (0..40 * d).map(|_| next() - 0.3).collect();
        let w: Vec<f64> = (0..40).map(|_| 0.5 + next()).collect();
        for weighted in [false, true] {
            let mut carried = ClusterSums::new(k, d, weighted);
            let labels = (0..40).map(|i| (i % k) as i32);
            carried.add_rows(&rows, labels, weighted.then_some(&w[..]));
            let (mut table, mut sparse) = (carried.clone(), carried.clone());
            let mut whole = ClusterSums::new(k, d, weighted);
            let mut changes = SumChanges::new(k, d, weighted);
            for (i, (from, to)) in [(0, 3), (3, 0), (2, 7), (5, 7), (1, 0), (8, 2)]
                .into_iter()
                .enumerate()
            {
                let (x, wi) = (&rows[i * d..(i + 1) * d], weighted.then_some(w[i]));
                whole.move_row(x, wi, from, to);
                changes.move_row(x, wi, from, to);
            }
            assert_eq!(changes.codes.len(), 7, "codes 4 and 6 untouched");
            table.merge(&whole);
            sparse.apply(&changes);
            let bits = |s: &ClusterSums<f64>| {
                let w = s.weights().unwrap_or(&[]).iter().map(|v| v.to_bits());
                (
                    s.sums()
                        .iter()
                        .map(|v| v.to_bits())
                        .chain(w)
                        .collect::<Vec<_>>(),
                    s.counts().to_vec(),
                )
            };
            assert_eq!(bits(&table), bits(&sparse), "weighted: {weighted}");
            assert_ne!(bits(&table), bits(&carried));
        }
    }

    #[test]
    fn blocks_merged_in_order_do_not_depend_on_threads() {
        let (n, d, k) = (5 * CHUNK_ROWS + 123, 6, 5);
        let x = data(n, d);
        let book = x.slice(s![..k, ..]).to_owned();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
        for weights in [None, Some(&w[..])] {
            let whole = |t| {
                let exec = Exec::with_threads(t).unwrap();
                block_stats(&exec, x.view(), book.view(), weights).unwrap()
            };
            let (labels, one) = whole(1);
            assert_eq!(whole(2), (labels.clone(), one.clone()));
            let expect: Vec<i32> = brute(x.as_slice().unwrap(), book.as_slice().unwrap(), d)
                .into_iter()
                .map(|(l, _)| l)
                .collect();
            assert_eq!(labels, expect);
            // Blocks merged in block order (the last one shorter): of one chunk each, the
            // bits of one block; of two chunks each, the same bits on any thread count.
            let blocks = |rows: usize, t: usize| {
                let exec = Exec::with_threads(t).unwrap();
                let mut merged: Option<BlockStats<f64>> = None;
                let mut merged_labels = Vec::new();
                for start in (0..n).step_by(rows) {
                    let end = (start + rows).min(n);
                    let wb = weights.map(|w| &w[start..end]);
                    let xb = x.slice(s![start..end, ..]);
                    let (l, b) = block_stats(&exec, xb, book.view(), wb).unwrap();
                    merged_labels.extend(l);
                    match &mut merged {
                        Some(m) => m.merge(&b),
                        None => merged = Some(b),
                    }
                }
                (merged_labels, merged.unwrap())
            };
            let (merged_labels, merged) = blocks(CHUNK_ROWS, 2);
            assert_eq!(merged_labels, labels);
            assert_eq!(merged.sums, one.sums);
            let pairs = blocks(2 * CHUNK_ROWS, 1);
            assert_eq!(pairs.0, labels);
            assert_eq!(blocks(2 * CHUNK_ROWS, 2), pairs);
            for (a, b) in pairs.1.sums.sums().iter().zip(one.sums.sums()) {
                assert!((a - b).abs() <= 1e-12 * b.abs());
            }
            // The inertia is the weighted sum of squared distances (summed per block).
            let expect: f64 = (0..n)
                .map(|i| {
                    let c = book.row(labels[i] as usize);
                    let sq: f64 = x.row(i).iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
                    weights.map_or(1.0, |w| w[i]) * sq
                })
                .sum();
            assert!((merged.inertia - expect).abs() <= 1e-9 * expect);
            assert!((one.inertia - expect).abs() <= 1e-9 * expect);
            // The distances are summed unweighted.
            let dist: f64 = (0..n)
                .map(|i| {
                    let c = book.row(labels[i] as usize);
                    let sq: f64 = x.row(i).iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
                    sq.sqrt()
                })
                .sum();
            assert!((merged.distances - dist).abs() <= 1e-9 * dist);
        }
    }

    /// A table given back comes out again zeroed, weight totals included; more are made
    /// as asked.
    #[test]
    fn sum_tables_come_back_zeroed() {
        let tables = SumTables::new(3, 2, true);
        let mut a = tables.take();
        a.add_rows(&[1.0, -2.0, 3.0, 4.0], [2, 0], Some(&[0.5, 2.0]));
        let b = tables.take();
        assert_eq!(b, ClusterSums::new(3, 2, true));
        tables.give(a);
        let again = tables.take();
        assert_eq!(again, ClusterSums::new(3, 2, true));
        assert_eq!(tables.take().k(), 3);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let x = array![[1.0f32], [2.0]];
        let book = array![[1.0f32]];
        assert!(block_stats(&exec, x.view(), book.view(), Some(&[1.0])).is_err());
        let wide = array![[1.0f32, 2.0]];
        assert!(block_stats(&exec, x.view(), wide.view(), None).is_err());
    }
}
