//! One Lloyd iteration: assignment and the sums of the update, fused in one pass over each
//! chunk of rows while it is in cache.
//!
//! Assignments are pruned with Hamerly's bounds ([`super::bounds`]): a row whose bounds
//! settle it is not compared with other codes. A row whose bounds fail is compared with the
//! codes that can be nearer than its own, found from the distances between the codes
//! ([`super::ball`]), or with every code if those are many or were not measured (they are
//! measured only while many rows fail: once few do, each iteration costs little more than
//! a pass over the bounds). The bounds carry a relative
//! safety margin far above rounding, so pruning never changes a label: the result is the
//! one the full comparison gives, bit for bit.
//!
//! Past one chunk of rows the per-code sums are carried between iterations and updated
//! with the rows that changed code only, so settled rows are not read again.
//!
//! Where Hamerly's bounds are not kept or keep failing (many features, few rows per code,
//! overlapping clusters), a step keeps bounds per group of codes instead ([`super::groups`]).

use super::bounds::{apart, Motion, RowBounds};
use super::groups::{group_count, Groups};
use super::sums::{ClusterSums, SumChanges, SumTables};
use crate::assign::{nearest_rows_in, Codebook, Scratch};
use crate::cache::prefetch;
use crate::error::{Error, Result};
use crate::finite::{all_finite, block_finite};
use crate::float::{Float, Promote};
use crate::parallel::{Exec, CHUNK_ROWS};

/// Fewer codes than this are always compared in full (bounds cost more than they spare).
const PRUNE_MIN_CODES: usize = 32;

/// Whether distance bounds are worth keeping for `n` rows, `k` codes and `d` features.
/// They cost up to `k^2 d` per iteration (the gaps between codes, sorted: measured only
/// after an iteration that compared more than `k` rows) and a fixed amount per row, and
/// save up to `n k d`: so only with many codes and many rows per code,
/// more of them the fewer the features. Measured (5 iterations of clustered float64 data):
/// at d = 64, k = 256 a full comparison is faster up to about n = 10,000 and the bounds
/// from n = 20,000 on; at d = 8 the two meet near n = 50,000; at k = 16 the direct kernel
/// beats the bounds at every size.
pub(super) fn pruning_pays(n: usize, k: usize, d: usize) -> bool {
    let rows_per_code = 64.max(2048 / d.max(1));
    k >= PRUNE_MIN_CODES && n >= rows_per_code * k
}

/// A step counts the rows its bounds leave open before it measures the gaps between the
/// codes (about `k^2 d / 2` products) where those cost more than this many products per
/// row (the count costs about a pass over the bounds). After a mini-batch step on 25,000
/// rows of 64 features, a labelling against 256 moved codes took 0.66 ms, 0.55 of them
/// the gaps; 66 rows were left open.
const GAPS_PER_ROW: usize = 8;

/// Below this many chunks, a chunk's full assignment is split among the threads.
const SPLIT_BELOW_CHUNKS: usize = 8;

/// How many rows ahead the data of rows whose bounds fail is prefetched.
const PREFETCH_ROWS: usize = 6;

/// A chunk's rows whose bounds fail are first tightened one by one (their distance to
/// their own code measured, then the codes near it searched); once this many have been
/// tried, if fewer than [`TRY_SETTLED`] of them were settled so, the rest go straight to
/// the kernel. Tightening a row costs about a tenth of comparing it with a thousand codes,
/// and where every bound fails (overlapping clusters of many features, the first steps)
/// it settles none: on 200,000 x 128 rows and 1,024 codes it was 8% of such a step.
const TRY_ROWS: usize = 32;

/// See [`TRY_ROWS`].
const TRY_SETTLED: usize = 2;

/// The rows of a k-means run: their labels and bounds, the code book the bounds refer to,
/// and the per-code sums of the last assignment, carried across iterations.
#[derive(Debug)]
pub(crate) struct LloydState<F> {
    pub(super) rows: Vec<RowBounds>,
    /// The code book of the last assignment (empty before the first).
    pub(super) bound_codes: Vec<f64>,
    /// Lower bounds of half the gap from each of those codes to its nearest other code
    /// (empty where not known).
    bound_half: Vec<f64>,
    /// Rows compared with other codes than their own at the last assignment.
    scanned: usize,
    totals: Option<ClusterSums<F>>,
    /// Whether group bounds may be kept ([`group_count`]).
    grouped: bool,
    /// How many of the last steps with Hamerly's bounds in a row compared most rows with
    /// every code.
    bounds_failed: usize,
    /// The groups of codes and the rows' bounds per group, while kept.
    pub(super) groups: Option<Groups>,
    /// Whether steps label the rows without summing them ([`SumMode::Skip`]).
    pub(super) labels_only: bool,
    /// Whether a step first makes sure the rows hold no NaN or infinity (`NotFinite` if
    /// they do): chunk by chunk as it labels them, while in cache, where it compares every
    /// row (no bounds yet); otherwise in a pass of its own.
    pub(super) check_rows: bool,
}

/// How a step's chunks make their share of the sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SumMode {
    /// Each chunk sums its rows afresh, in row order.
    Fresh,
    /// The sums carried from the last step change by the rows that move.
    Moves,
    /// No sums: the step labels the rows only.
    Skip,
}

impl<F: Float> LloydState<F> {
    /// `n` rows not yet assigned; with group bounds where they pay, if `grouped` (they
    /// take up to a quarter of the data's memory again).
    pub(crate) fn new(n: usize, grouped: bool) -> Self {
        LloydState {
            rows: crate::pages::filled(n, RowBounds::default()),
            bound_codes: Vec::new(),
            bound_half: Vec::new(),
            scanned: n,
            totals: None,
            grouped,
            bounds_failed: 0,
            groups: None,
            labels_only: false,
            check_rows: false,
        }
    }

    /// The rows' labels.
    pub(crate) fn labels(&self) -> Vec<i32> {
        self.rows.iter().map(|r| r.label).collect()
    }

    /// `NotFinite` if the rows are to be checked ([`LloydState::check_rows`]) and `x` holds
    /// a NaN or an infinity.
    fn check_all(&self, exec: &Exec, x: &[F]) -> Result<()> {
        if self.check_rows && !all_finite(exec, x) {
            return Err(Error::NotFinite);
        }
        Ok(())
    }

    /// Drop the carried sums: the next step sums every row afresh, in row order.
    pub(crate) fn forget_sums(&mut self) {
        self.totals = None;
    }
}

/// One chunk's share of a step's sums: with sums carried from the last step, the moves of
/// the rows that change code (allocated only if one does); otherwise the chunk's rows
/// summed afresh in row order once they are labelled (or not at all, see [`SumMode`]).
pub(super) struct ChunkSums<'a, F> {
    /// The changes of the rows that moved, for an incremental step.
    changes: Option<SumChanges<F>>,
    mode: SumMode,
    tables: &'a SumTables<F>,
    d: usize,
    xs: &'a [F],
    weights: Option<&'a [F]>,
    /// Rows whose label changed.
    moved: usize,
}

/// What a chunk adds to the step's sums: its rows' sums, or the changes of those that
/// moved.
pub(super) enum ChunkPart<F> {
    Sums(ClusterSums<F>),
    Changes(SumChanges<F>),
}

impl<F: Float> ChunkPart<F> {
    /// Add this part to `total` (a table of sums goes back to `tables`).
    pub(super) fn add_to(self, total: &mut ClusterSums<F>, tables: &SumTables<F>) {
        match self {
            ChunkPart::Sums(sums) => {
                total.merge(&sums);
                tables.give(sums);
            }
            ChunkPart::Changes(changes) => total.apply(&changes),
        }
    }
}

impl<'a, F: Float> ChunkSums<'a, F> {
    /// For the chunk's rows `xs` (`d` features, and their `weights`) of a step whose
    /// tables of sums are `tables`.
    pub(super) fn new(
        mode: SumMode,
        tables: &'a SumTables<F>,
        d: usize,
        xs: &'a [F],
        weights: Option<&'a [F]>,
    ) -> Self {
        ChunkSums {
            changes: None,
            mode,
            tables,
            d,
            xs,
            weights,
            moved: 0,
        }
    }

    /// Row `i` of the chunk goes from code `from` to code `to`.
    #[inline(always)]
    pub(super) fn relabel(&mut self, i: usize, from: usize, to: usize) {
        if from != to {
            self.move_row(i, from, to);
        }
    }

    /// [`ChunkSums::relabel`] of a row that changes code (most rows do not: kept out of
    /// the loops over every row).
    #[inline(never)]
    fn move_row(&mut self, i: usize, from: usize, to: usize) {
        self.moved += 1;
        if self.mode == SumMode::Moves {
            let (k, d, w) = (self.tables.k(), self.d, self.weights);
            self.changes
                .get_or_insert_with(|| SumChanges::new(k, d, w.is_some()))
                .move_row(&self.xs[i * d..(i + 1) * d], w.map(|w| w[i]), from, to);
        }
    }

    /// The chunk's sums (or their change) once every row of `states` is labelled, and the
    /// count of rows whose label changed.
    pub(super) fn finish(self, states: &[RowBounds]) -> (Option<ChunkPart<F>>, usize) {
        match self.mode {
            SumMode::Moves => (self.changes.map(ChunkPart::Changes), self.moved),
            SumMode::Skip => (None, self.moved),
            SumMode::Fresh => {
                let mut sums = self.tables.take();
                sums.add_rows(self.xs, states.iter().map(|s| s.label), self.weights);
                (Some(ChunkPart::Sums(sums)), self.moved)
            }
        }
    }
}

/// The outcome of one [`LloydState::step`].
pub(crate) struct Step<F> {
    /// Per-code sums, counts and weight totals of the rows, in `F`.
    pub sums: ClusterSums<F>,
    /// Rows compared with other codes than their own: with every code, or with the codes
    /// near their own (the others were settled by their bounds).
    pub scanned: usize,
    /// Rows whose label differs from the one they had before.
    pub changed: usize,
}

impl<F: Float> LloydState<F> {
    /// One Lloyd iteration of the rows `x` (`n x d`, row-major, weighted by `weights` if
    /// given) against the `k` codes of `book` (row-major): every row labelled with its
    /// nearest code, `dists` (unless empty) given each row's distance to it, and the
    /// per-code sums returned. The rows' bounds are updated to refer to `book`. The code
    /// book is prepared for the kernel ([`Codebook`]) only by a step without group bounds:
    /// with them it is laid out by groups instead ([`GroupedBook`](crate::assign::GroupedBook)).
    pub(crate) fn step<C: Float>(
        &mut self,
        exec: &Exec,
        x: &[F],
        d: usize,
        (book, k): (&[C], usize),
        weights: Option<&[F]>,
        dists: &mut [C],
    ) -> Result<Step<F>>
    where
        F: Promote<C>,
    {
        let n = self.rows.len();
        let keep_bounds = pruning_pays(n, k, d);
        // Group bounds where Hamerly's would not be kept, or failed: where the last two
        // steps with them compared most rows with every code. (Where they hold, Hamerly's
        // bound and the ball search cost less: kmeans2 of 500,000 x 64 rows of separate
        // clusters against 256 codes took 1.7-2.2 times as long with group bounds; there
        // the second step compares most rows with every code, the third does not.)
        let t = if self.grouped && dists.is_empty() {
            group_count(n, k, d, std::mem::size_of::<F>())
        } else {
            0
        };
        let grouped = self.groups.is_some() || !keep_bounds || self.bounds_failed >= 2;
        if t > 0 && grouped && book.iter().all(|v| v.is_finite()) {
            self.check_all(exec, x)?;
            self.bound_half.clear();
            return self.step_grouped(exec, x, d, (book, k), weights, t);
        }
        self.groups = None;
        let cb = &Codebook::new(book, k, d);
        let centers: Vec<f64> = book.iter().map(|v| v.to_f64()).collect();
        // Relative margin on distances: far above the rounding of the direct formula.
        let margin = 4.0 * (d + 8) as f64 * C::EPSILON.to_f64();
        let want_dists = !dists.is_empty();
        let motion = if keep_bounds {
            let old = (&self.bound_codes[..], &self.bound_half[..]);
            // The gaps between the codes cost as much as comparing `k` rows with every code:
            // measured only after an assignment that compared more rows than that (or where
            // none are known), and where they cost more than a count of the rows they could
            // help, only if more than `k` rows are left open without them.
            let due = self.scanned > k || self.bound_half.len() != k;
            let counted = k * k * d > GAPS_PER_ROW * n && !want_dists;
            let rows = &self.rows;
            Motion::between(exec, old, &centers, (k, d), |m| {
                due && (!counted || m.open_more_than(rows, margin, k))
            })
        } else {
            None
        };
        // A fresh step reads every row: it checks them as it goes.
        let check_chunks = self.check_rows && motion.is_none();
        if !check_chunks {
            self.check_all(exec, x)?;
        }
        let (mut total, mode) = self.start_sums(k, d, weights.is_some());
        let tables = SumTables::new(k, d, weights.is_some());
        let (mut scanned, mut changed, mut compared_all, mut finite) = (0, 0, 0, true);
        // With few chunks, a chunk's full assignment is shared out among the threads.
        let split = n < SPLIT_BELOW_CHUNKS * CHUNK_ROWS;
        let chunked = exec.chunks(
            n,
            &mut self.rows,
            dists,
            |first, states, dists| {
                let xs = &x[first * d..(first + states.len()) * d];
                if check_chunks && !block_finite(xs) {
                    return (None, (0, 0), 0, false);
                }
                let w = weights.map(|w| &w[first..first + states.len()]);
                let mut scratch = Scratch::new(cb, states.len());
                let xc = F::promote(xs, &mut scratch.promoted);
                // Rows to compare with every code: all of them without usable bounds.
                let mut todo = Vec::new();
                // Rows searched among the codes near their own.
                let mut searched = 0;
                let mut sums = ChunkSums::new(mode, &tables, d, xs, w);
                // Distances are computed exactly only when asked for; otherwise bounds will do.
                if let Some(m) = &motion {
                    let apart = |near: f64, far: f64| apart(near, far, margin);
                    let (mut codes, mut sq) = (Vec::new(), Vec::new());
                    // First move every row's bounds, listing the rows they do not settle; then
                    // read the data of those rows only (without branches between the reads).
                    let mut open = Vec::new();
                    for (i, st) in states.iter_mut().enumerate() {
                        let (lower, upper) = m.moved(st);
                        st.set(lower, upper);
                        if want_dists || !m.settles(st.label as usize, (lower, upper), margin) {
                            open.push(i);
                        }
                    }
                    let mut settled = 0;
                    for (n, &i) in open.iter().enumerate() {
                        if n == TRY_ROWS && settled < TRY_SETTLED {
                            todo.extend_from_slice(&open[n..]);
                            break;
                        }
                        if let Some(&ahead) = open.get(n + PREFETCH_ROWS) {
                            prefetch(&xc[ahead * d..(ahead + 1) * d]);
                        }
                        let st = &mut states[i];
                        let a = st.label as usize;
                        let bound = st.lower().max(m.half[a]);
                        // Tighten the upper bound to the distance and try again.
                        let x = &xc[i * d..(i + 1) * d];
                        let own = if want_dists {
                            cb.sq_dist_to(x, a)
                        } else {
                            let mut own = [C::ZERO];
                            cb.lane_sq_dists(x, &[a as u32], &mut own);
                            own[0]
                        };
                        let own_dist = own.to_f64().sqrt();
                        st.set_upper(own_dist);
                        if apart(own_dist, bound) {
                            settled += 1;
                            if let Some(dv) = dists.get_mut(i) {
                                *dv = own.sqrt();
                            }
                            continue;
                        }
                        let search = m.gaps.as_ref().and_then(|g| {
                            g.search(cb, x, (a, own), margin, &mut codes, &mut sq, apart)
                        });
                        let Some(found) = search else {
                            todo.push(i);
                            continue;
                        };
                        searched += 1;
                        settled += 1;
                        sums.relabel(i, a, found.label);
                        st.label = found.label as i32;
                        st.set(found.lower, found.best);
                        if let Some(dv) = dists.get_mut(i) {
                            *dv = if found.label == a {
                                own.sqrt()
                            } else {
                                cb.sq_dist_to(x, found.label).sqrt()
                            };
                        }
                    }
                }
                let hits = &mut scratch.hits[..];
                if motion.is_none() {
                    nearest_rows_in(exec, cb, xc, hits, &mut scratch.acc, want_dists, split);
                    for (i, (st, h)) in states.iter_mut().zip(hits.iter()).enumerate() {
                        sums.relabel(i, st.label as usize, h.label as usize);
                        st.label = h.label;
                        if keep_bounds {
                            st.set(h.second.to_f64().sqrt(), h.best.to_f64().sqrt());
                        }
                    }
                    for (dv, h) in dists.iter_mut().zip(hits.iter()) {
                        *dv = h.best.sqrt();
                    }
                } else if todo.len() == states.len() {
                    // Every row: ranked where it is, without a copy (a pass over the data).
                    cb.nearest_rows(xc, hits, &mut scratch.acc, want_dists);
                } else {
                    let batch = cb.gather_rows();
                    let mut buf = Vec::with_capacity(batch.min(todo.len()) * d);
                    for (ids, hits) in todo.chunks(batch).zip(hits[..todo.len()].chunks_mut(batch))
                    {
                        buf.clear();
                        for &i in ids {
                            buf.extend_from_slice(&xc[i * d..(i + 1) * d]);
                        }
                        cb.nearest_rows(&buf, hits, &mut scratch.acc, want_dists);
                    }
                }
                for (&i, h) in todo.iter().zip(hits.iter()) {
                    sums.relabel(i, states[i].label as usize, h.label as usize);
                    states[i].label = h.label;
                    if keep_bounds {
                        states[i].set(h.second.to_f64().sqrt(), h.best.to_f64().sqrt());
                    }
                    if let Some(dv) = dists.get_mut(i) {
                        *dv = h.best.sqrt();
                    }
                }
                let (part, moved) = sums.finish(states);
                let (compared, failed) = match motion {
                    Some(_) => (todo.len(), todo.len()),
                    None => (states.len(), 0),
                };
                (part, (compared + searched, failed), moved, true)
            },
            |(part, (count, failed), moved, ok)| {
                if let Some(part) = part {
                    part.add_to(&mut total, &tables);
                }
                scanned += count;
                compared_all += failed;
                changed += moved;
                finite &= ok;
            },
        );
        if chunked.is_err() || !finite {
            // Refused or interrupted: some rows may be labelled against `book`, others not,
            // so no bounds refer to one book.
            self.bound_codes.clear();
            self.bound_half.clear();
            chunked?;
            return Err(Error::NotFinite);
        }
        self.bounds_failed = if 2 * compared_all > n {
            self.bounds_failed + 1
        } else {
            0
        };
        self.bound_half = motion.map(|m| m.half).unwrap_or_default();
        Ok(self.finish(total, centers, scanned, changed))
    }

    /// The sums a step starts from, and how its chunks add to them: past one chunk, the
    /// sums are updated with the rows that changed code rather than summed again (within
    /// one chunk they are recomputed in row order, SciPy's own); none for a state that
    /// labels only.
    pub(super) fn start_sums(
        &mut self,
        k: usize,
        d: usize,
        weighted: bool,
    ) -> (ClusterSums<F>, SumMode) {
        let n = self.rows.len();
        let previous = self.totals.take().filter(|t| t.k() == k && n > CHUNK_ROWS);
        let mode = match (&previous, self.labels_only) {
            (_, true) => SumMode::Skip,
            (Some(_), false) => SumMode::Moves,
            (None, false) => SumMode::Fresh,
        };
        (
            previous.unwrap_or_else(|| ClusterSums::new(k, d, weighted)),
            mode,
        )
    }

    /// The outcome of a step whose sums are `total`, against the codes `centers`.
    pub(super) fn finish(
        &mut self,
        mut total: ClusterSums<F>,
        centers: Vec<f64>,
        scanned: usize,
        changed: usize,
    ) -> Step<F> {
        total.clear_empty();
        self.bound_codes = centers;
        self.scanned = scanned;
        self.totals = (!self.labels_only).then(|| total.clone());
        Step {
            sums: total,
            scanned,
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::{brute_labels, sq_dist};

    /// Many codes and few rows per code, where the gaps between the codes cost more than a
    /// count of the rows: a labelling after a small move measures no gaps (the half gaps
    /// stay the estimate, zero, as none were known), one that leaves many rows open does;
    /// the labels are those of a full comparison either way.
    #[test]
    fn gaps_are_measured_only_when_many_rows_are_open() {
        let (d, k) = (32, 64);
        let n = 64 * k;
        assert!(pruning_pays(n, k, d) && k * k * d > GAPS_PER_ROW * n);
        let mut rnd = crate::test_uniforms(5);
        let mut book: Vec<f64> = (0..k * d).map(|_| 10.0 * rnd()).collect();
        let x: Vec<f64> = (0..n * d)
            .map(|i| book[(i / d % k) * d + i % d] + 0.1 * rnd())
            .collect();
        let exec = Exec::with_threads(2).unwrap();
        let mut state = LloydState::<f64>::new(n, false);
        state.labels_only = true;
        let label = |state: &mut LloydState<f64>, book: &[f64]| {
            let out = state.step(&exec, &x, d, (book, k), None, &mut []).unwrap();
            assert_eq!(state.labels(), brute_labels(&x, book, d));
            out.scanned
        };
        assert_eq!(label(&mut state, &book), n);
        book.iter_mut().for_each(|v| *v += 1e-3 * rnd());
        assert!(label(&mut state, &book) <= k);
        assert!(state.bound_half.iter().all(|&h| h == 0.0));
        // Codes moved further than the clusters' gaps: most rows open. Gaps follow a step
        // that compared many rows.
        let mut measured = Vec::new();
        for _ in 0..2 {
            book.iter_mut().for_each(|v| *v += 16.0 * rnd());
            assert!(label(&mut state, &book) > k);
            measured.push(state.bound_half.iter().any(|&h| h > 0.0));
        }
        assert_eq!(measured, [false, true]);
    }

    /// Also where the clusters overlap (64 features, centres a fiftieth of the noise
    /// apart): there no bound and no tightening settles a row in the first steps, and the
    /// rows go to the kernel after the few tried ([`TRY_ROWS`]).
    #[test]
    fn pruned_steps_give_the_labels_of_a_full_comparison() {
        for &(d, k, spacing) in &[(2usize, 33usize, 3.0), (9, 40, 3.0), (64, 40, 0.02)] {
            let n = 21 * CHUNK_ROWS + 100;
            assert!(pruning_pays(n, k, d));
            let mut rnd = crate::test_uniforms(99);
            let x: Vec<f64> = (0..n * d)
                .map(|i| ((i / d) % k) as f64 * spacing + rnd())
                .collect();
            let mut book: Vec<f64> = x[..k * d].to_vec();
            let exec = Exec::with_threads(2).unwrap();
            let mut state = LloydState::new(n, false);
            // A second run without distances, which skips rows on the upper bound alone.
            let mut state_nd = LloydState::new(n, false);
            let mut dists = vec![0.0; n];
            let mut scanned = Vec::new();
            let mut labels_before = vec![0; n];
            for _ in 0..8 {
                let expect = brute_labels(&x, &book, d);
                let out = state
                    .step(&exec, &x, d, (&book, k), None, &mut dists)
                    .unwrap();
                let out_nd = state_nd
                    .step(&exec, &x, d, (&book, k), None, &mut [])
                    .unwrap();
                assert_eq!(state_nd.labels(), expect);
                // Where tightening settles rows, the run without distances (whose open rows
                // are those its bounds fail) compares no more of them. (Where it settles
                // too few, such rows go to the kernel, in either run.)
                if spacing > 1.0 {
                    assert!(out_nd.scanned <= out.scanned);
                }
                let changed = expect.iter().zip(&labels_before).filter(|(a, b)| a != b);
                assert_eq!(
                    (out.changed, out_nd.changed),
                    (changed.count(), out.changed)
                );
                labels_before.clone_from(&expect);
                // Its sums are updated with the moved rows only; they agree to rounding.
                let (full, has) = out.sums.into_means();
                let (moved, _) = out_nd.sums.into_means();
                for (a, b) in full.iter().zip(&moved) {
                    assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} {b}");
                }
                scanned.push(out.scanned);
                let labels = state.labels();
                assert_eq!(labels, expect);
                for (i, r) in x.chunks(d).enumerate() {
                    let own = sq_dist(r, &book[labels[i] as usize * d..][..d]).sqrt();
                    assert_eq!(dists[i].to_bits(), own.to_bits());
                }
                book = full
                    .chunks(d)
                    .zip(&has)
                    .zip(book.chunks(d))
                    .flat_map(|((m, &h), old)| if h { m.to_vec() } else { old.to_vec() })
                    .collect();
            }
            // The first step compares every row; once separate codes settle, almost none.
            assert_eq!(scanned[0], n);
            if spacing > 1.0 {
                assert!(*scanned.last().unwrap() < n / 10, "{scanned:?}");
            }
        }
    }
}
