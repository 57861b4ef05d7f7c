//! One Lloyd iteration: assignment and the partial sums of the update, fused in one pass
//! over each chunk of rows while it is in cache.
//!
//! Assignments are pruned with Hamerly's bounds: each row keeps an upper bound on its
//! distance to its own code, raised by how far that code moved, and a lower bound on its
//! distance to every other code, lowered by how far the others moved. A row whose upper
//! bound (or, failing that, exact distance) is below the lower bound, or below half the
//! distance from its code to the nearest other code, cannot change label and is not
//! compared with the other codes. A row whose bounds fail is compared with the codes that
//! can be nearer than its own, found from the distances between the codes
//! ([`crate::neighbours`]), or with every code if those are many. The bounds carry a
//! relative safety margin far above rounding, so pruning never changes a label: the result
//! is the one the full comparison gives, bit for bit.
//!
//! Past one chunk of rows the per-code sums are carried between iterations and updated
//! with the rows that changed code only, so settled rows are not read again.

use crate::distance::{sq_dist, Codebook, Promote};
use crate::error::Result;
use crate::float::Float;
use crate::neighbours::Gaps;
use crate::parallel::{Exec, CHUNK_ROWS};
use crate::update::Partial;
use crate::vq::Scratch;

/// Fewer codes than this are always compared in full.
const PRUNE_MIN_CODES: usize = 16;

/// How many rows ahead the data of rows whose bounds fail is prefetched.
const PREFETCH_ROWS: usize = 6;

/// A relative step larger than `f32` rounding, to round bounds outwards.
const OUTWARD: f64 = 1.0 / (1u64 << 22) as f64;

/// An absolute step larger than `f32` rounding near zero (its subnormal spacing).
const TINY: f64 = 1.0 / (1u128 << 100) as f64;

/// The largest `f32`: larger lower bounds are kept as this (and upper bounds below its
/// negative as that).
const MAX32: f64 = f32::MAX as f64;

/// What a row carries from one iteration to the next.
#[derive(Debug, Clone, Copy, Default)]
struct RowState {
    /// The row's code.
    label: i32,
    /// A lower bound of the row's distance to every other code (rounded down to `f32`).
    lower: f32,
    /// An upper bound of the row's distance to its own code (rounded up to `f32`; twelve
    /// bytes of state per row in all, with the label).
    upper: f32,
}

impl RowState {
    fn lower(&self) -> f64 {
        self.lower.into()
    }

    fn upper(&self) -> f64 {
        self.upper.into()
    }

    /// Keep `lower` and `upper`, moved outwards by more than the rounding to `f32` (a
    /// relative [`OUTWARD`] and an absolute [`TINY`], so that they stay bounds however they
    /// round). Branch-free: which way rounding goes is unpredictable.
    #[inline(always)]
    fn set(&mut self, lower: f64, upper: f64) {
        let lower = if lower > MAX32 { MAX32 } else { lower };
        self.lower = (lower - lower.abs() * OUTWARD - TINY) as f32;
        self.set_upper(upper);
    }

    /// Keep `upper` alone, as [`RowState::set`] does.
    #[inline(always)]
    fn set_upper(&mut self, upper: f64) {
        let upper = if upper < -MAX32 { -MAX32 } else { upper };
        self.upper = (upper + upper.abs() * OUTWARD + TINY) as f32;
    }
}

/// The code book the rows' bounds refer to (empty before the first full assignment).
#[derive(Debug, Default)]
struct Bounds {
    centers: Vec<f64>,
}

/// The rows of a k-means run: their labels and bounds, and the per-code sums of the last
/// assignment, carried across iterations.
#[derive(Debug)]
pub(crate) struct Rows<F> {
    states: Vec<RowState>,
    bounds: Bounds,
    totals: Option<Partial<F>>,
}

impl<F: Float> Rows<F> {
    /// `n` rows not yet assigned.
    pub(crate) fn new(n: usize) -> Self {
        Rows {
            states: vec![RowState::default(); n],
            bounds: Bounds::default(),
            totals: None,
        }
    }

    /// The rows' labels.
    pub(crate) fn labels(&self) -> Vec<i32> {
        self.states.iter().map(|r| r.label).collect()
    }

    /// One Lloyd iteration against `cb`; see [`step`].
    pub(crate) fn step<C: Float>(
        &mut self,
        exec: &Exec,
        x: &[F],
        d: usize,
        cb: &Codebook<C>,
        dists: &mut [C],
    ) -> Result<Step<F>>
    where
        F: Promote<C>,
    {
        let (states, bounds, totals) = (&mut self.states, &mut self.bounds, &mut self.totals);
        step(exec, x, d, cb, states, dists, bounds, totals)
    }
}

/// How far the codes moved, and half of each code's distance to its nearest other code.
struct Motion {
    /// How far each code moved.
    drift: Vec<f64>,
    /// The largest move, its code, and the largest move of any other code.
    max: (f64, usize, f64),
    /// The distances between the new codes.
    gaps: Gaps,
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    sq_dist(a, b).sqrt()
}

impl Bounds {
    /// The motion from the code book of the bounds to `new`, if the bounds are usable.
    fn motion(&self, exec: &Exec, new: &[f64], k: usize, d: usize) -> Option<Motion> {
        if self.centers.len() != new.len() || k == 0 || d == 0 {
            return None;
        }
        let rows = |c: &[f64], j: usize| c[j * d..(j + 1) * d].to_vec();
        let drift: Vec<f64> = (0..k)
            .map(|j| dist(&rows(&self.centers, j), &rows(new, j)))
            .collect();
        let mut max = (0.0f64, usize::MAX, 0.0f64);
        for (j, &v) in drift.iter().enumerate() {
            if v > max.0 || max.1 == usize::MAX {
                max = (v, j, max.0);
            } else if v > max.2 {
                max.2 = v;
            }
        }
        let gaps = Gaps::new(exec, new, k, d);
        if drift.iter().any(|v| v.is_nan()) || gaps.has_nan() {
            return None;
        }
        Some(Motion { drift, max, gaps })
    }
}

/// Ask the CPU to bring `v` into cache ahead of its use.
#[inline(always)]
fn prefetch<T>(v: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..std::mem::size_of_val(v)).step_by(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint; it never faults and `v` is a valid slice anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(v.as_ptr().cast::<i8>().wrapping_add(line)) };
    }
}

/// Move row `x` from code `from` to `to` in the sum deltas `part`, allocating them.
fn move_row<F: Float>(part: &mut Option<Partial<F>>, k: usize, x: &[F], from: usize, to: usize) {
    part.get_or_insert_with(|| Partial::new(k, x.len()))
        .move_row(x, from, to);
}

/// The outcome of one [`step`].
pub(crate) struct Step<F> {
    /// Per-code sums and counts of the rows, in `F`.
    pub partial: Partial<F>,
    /// Rows compared with other codes than their own: with every code, or with the codes
    /// near their own (the others were settled by their bounds).
    pub scanned: usize,
}

/// Label every row of `x` (`n x d`, row-major) against `cb`, writing `rows` (and, if it
/// is not empty, `dists`: each row's distance to its code), and return the per-code sums
/// and counts of the rows. `bounds` is updated to refer to `cb`.
#[allow(clippy::too_many_arguments)]
fn step<F: Promote<C>, C: Float>(
    exec: &Exec,
    x: &[F],
    d: usize,
    cb: &Codebook<C>,
    rows: &mut [RowState],
    dists: &mut [C],
    bounds: &mut Bounds,
    totals: &mut Option<Partial<F>>,
) -> Result<Step<F>> {
    let n = rows.len();
    let k = cb.k();
    let centers: Vec<f64> = cb.rows().iter().map(|v| v.to_f64()).collect();
    // With few codes a full comparison costs about what the bounds save.
    let keep_bounds = k >= PRUNE_MIN_CODES;
    let motion = if keep_bounds {
        bounds.motion(exec, &centers, k, d)
    } else {
        None
    };
    // Relative margin on distances: far above the rounding of the direct formula.
    let margin = 4.0 * (d + 8) as f64 * C::EPSILON.to_f64();
    // Past one chunk, the sums are updated with the rows that changed code rather than
    // summed again (within one chunk they are recomputed in row order, SciPy's own).
    let previous = totals.take().filter(|t| t.k() == k && n > CHUNK_ROWS);
    let incremental = previous.is_some();
    let mut total = previous.unwrap_or_else(|| Partial::new(k, d));
    let mut scanned = 0;
    exec.chunks(
        n,
        rows,
        dists,
        |first, states, dists| {
            let xs = &x[first * d..(first + states.len()) * d];
            let mut scratch = Scratch::new(cb, states.len());
            let xc = F::promote(xs, &mut scratch.promoted);
            // Rows to compare with every code: all of them without usable bounds.
            let mut todo = Vec::new();
            // Rows searched among the codes near their own.
            let mut searched = 0;
            // Allocated only if a row of this chunk changes code (or for a full sum).
            let mut part: Option<Partial<F>> = None;
            // Distances are computed exactly only when asked for; otherwise bounds will do.
            let want_dists = !dists.is_empty();
            if let Some(m) = &motion {
                let apart = |near: f64, far: f64| near * (1.0 + margin) < far * (1.0 - margin);
                let (mut codes, mut sq) = (Vec::new(), Vec::new());
                // First move every row's bounds, listing the rows they do not settle; then
                // read the data of those rows only (without branches between the reads).
                let mut open = Vec::new();
                for (i, st) in states.iter_mut().enumerate() {
                    let a = st.label as usize;
                    let moved = if a == m.max.1 { m.max.2 } else { m.max.0 };
                    let (lower, upper) = (st.lower() - moved, st.upper() + m.drift[a]);
                    st.set(lower, upper);
                    if want_dists || !apart(upper, lower.max(m.gaps.half[a])) {
                        open.push(i);
                    }
                }
                for (n, &i) in open.iter().enumerate() {
                    if let Some(&ahead) = open.get(n + PREFETCH_ROWS) {
                        prefetch(&xc[ahead * d..(ahead + 1) * d]);
                    }
                    let st = &mut states[i];
                    let a = st.label as usize;
                    let bound = st.lower().max(m.gaps.half[a]);
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
                        if let Some(dv) = dists.get_mut(i) {
                            *dv = own.sqrt();
                        }
                        continue;
                    }
                    let Some(found) =
                        m.gaps
                            .search(cb, x, (a, own), margin, &mut codes, &mut sq, apart)
                    else {
                        todo.push(i);
                        continue;
                    };
                    searched += 1;
                    if incremental && found.label != a {
                        move_row(&mut part, k, &xs[i * d..(i + 1) * d], a, found.label);
                    }
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
                todo.extend(0..states.len());
                cb.nearest_rows(xc, hits, &mut scratch.acc, want_dists);
            } else {
                let mut buf = Vec::with_capacity(todo.len() * d);
                for &i in &todo {
                    buf.extend_from_slice(&xc[i * d..(i + 1) * d]);
                }
                cb.nearest_rows(&buf, &mut hits[..todo.len()], &mut scratch.acc, want_dists);
            }
            for (&i, h) in todo.iter().zip(hits.iter()) {
                let old = states[i].label;
                if incremental && old != h.label {
                    let x = &xs[i * d..(i + 1) * d];
                    move_row(&mut part, k, x, old as usize, h.label as usize);
                }
                states[i].label = h.label;
                if keep_bounds {
                    states[i].set(h.second.to_f64().sqrt(), h.best.to_f64().sqrt());
                }
                if let Some(dv) = dists.get_mut(i) {
                    *dv = h.best.sqrt();
                }
            }
            if !incremental {
                part.get_or_insert_with(|| Partial::new(k, d))
                    .add_rows(xs, states.iter().map(|s| s.label));
            }
            (part, todo.len() + searched)
        },
        |(part, count)| {
            if let Some(part) = part {
                total.merge(&part);
            }
            scanned += count;
        },
    )?;
    total.clear_empty();
    bounds.centers = centers;
    *totals = Some(total.clone());
    Ok(Step {
        partial: total,
        scanned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::brute;

    /// Lloyd's labels by brute force (every row against every code).
    fn brute_labels(x: &[f64], d: usize, book: &[f64]) -> Vec<i32> {
        brute(x, book, d)
            .into_iter()
            .map(|(label, _)| label)
            .collect()
    }

    #[test]
    fn bounds_kept_in_f32_stay_bounds() {
        let mut rnd = crate::test_uniforms(3);
        let mut values = vec![0.0, -0.0, 1e-300, -1e-300, 1e-40, 3e-39, 1e39, -1e39, 1e300];
        values.extend((0..10_000).map(|i| rnd() * 10f64.powi(i % 80 - 40)));
        let mut st = RowState::default();
        for &v in &values {
            st.set(v, v);
            assert!(st.lower() <= v && st.upper() >= v, "{v} {st:?}");
            // Loosened by little: 2^-22 relative and 2^-100 absolute, then f32 rounding.
            let slack = v.abs() * 2.0 * OUTWARD + 2.0 * TINY;
            assert!(
                v.abs() > MAX32 || st.upper() - st.lower() <= 2.0 * slack,
                "{v} {st:?}"
            );
        }
        st.set(f64::INFINITY, f64::INFINITY);
        assert!(st.lower() > 0.9999 * MAX32 && st.lower() < MAX32);
        assert_eq!(st.upper(), f64::INFINITY);
        st.set(0.0, f64::NAN);
        assert!(st.upper().is_nan());
    }

    #[test]
    fn pruned_steps_give_the_labels_of_a_full_comparison() {
        for &(d, k) in &[(2usize, 17usize), (9, 20)] {
            let n = 3 * crate::parallel::CHUNK_ROWS + 100;
            let mut rnd = crate::test_uniforms(99);
            let x: Vec<f64> = (0..n * d)
                .map(|i| ((i / d) % k) as f64 * 3.0 + rnd())
                .collect();
            let mut book: Vec<f64> = x[..k * d].to_vec();
            let exec = Exec::with_threads(2).unwrap();
            let mut rows = vec![RowState::default(); n];
            let mut bounds = Bounds::default();
            // A second run without distances, which skips rows on the upper bound alone.
            let mut rows_nd = Rows::new(n);
            let mut dists = vec![0.0; n];
            let mut scanned = Vec::new();
            for _ in 0..8 {
                let expect = brute_labels(&x, d, &book);
                let cb = Codebook::new(&book, k, d);
                let out = step(
                    &exec,
                    &x,
                    d,
                    &cb,
                    &mut rows,
                    &mut dists,
                    &mut bounds,
                    &mut None,
                )
                .unwrap();
                let out_nd = rows_nd.step(&exec, &x, d, &cb, &mut []).unwrap();
                assert_eq!(rows_nd.labels(), expect);
                assert!(out_nd.scanned <= out.scanned);
                // Its sums are updated with the moved rows only; they agree to rounding.
                let (full, _) = out.partial.means();
                let (moved, _) = out_nd.partial.means();
                for (a, b) in full.iter().zip(&moved) {
                    assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} {b}");
                }
                scanned.push(out.scanned);
                let labels: Vec<i32> = rows.iter().map(|r| r.label).collect();
                assert_eq!(labels, expect);
                for (i, r) in x.chunks(d).enumerate() {
                    let own = sq_dist(r, &book[labels[i] as usize * d..][..d]).sqrt();
                    assert_eq!(dists[i].to_bits(), own.to_bits());
                }
                let (means, has) = out.partial.into_means();
                book = means
                    .chunks(d)
                    .zip(&has)
                    .zip(book.chunks(d))
                    .flat_map(|((m, &h), old)| if h { m.to_vec() } else { old.to_vec() })
                    .collect();
            }
            // The first step compares every row; once the codes settle, almost none.
            assert_eq!(scanned[0], n);
            assert!(*scanned.last().unwrap() < n / 10, "{scanned:?}");
        }
    }
}
