//! Group bounds for many codes of many features (Ding et al., "Yinyang K-means", ICML
//! 2015), where Hamerly's one lower bound per row fails in nearly every row: the codes are
//! split once per run into groups of nearby codes, and each row keeps a lower bound of its
//! distance to the codes of each group (all but its own code). A code's move lowers the
//! bound of its group only, so a row whose bounds fail is compared with the groups whose
//! bound fails, not with every code.
//!
//! The code book is laid out group by group ([`GroupedBook`]); rows whose bounds fail are
//! taken in tiles (rows of one group, and of one code, together) and each tile is
//! compared, by the register-tiled kernel, with the groups that any of its rows needs,
//! which always include the group of each row's own code. Every group left out is further from each of the
//! tile's rows than the row's own code, so the nearest among the groups compared is the
//! nearest of all: the labels are those of a full comparison, as in [`super::step`].

use super::bounds::{apart, drifts, lower_by, lower_from};
use super::step::{ChunkSums, LloydState, Step};
use super::sums::SumTables;
use super::{run, Empty, Params, Stop};
use crate::assign::{lane_sq_dists, GroupedBook, Hit, ROWS};
use crate::error::Result;
use crate::float::{Float, Promote};
use crate::parallel::{Exec, CHUNK_ROWS};
use ndarray::{Array2, ArrayView2};

/// Codes per group: one register tile of the dot-product kernel.
const GROUP_CODES: usize = 32;

/// Fewer groups than this leave too little to prune.
const MIN_GROUPS: usize = 4;

/// From this many features on (below, Hamerly's bound and the ball search of
/// [`super::ball`] prune well).
const MIN_FEATURES: usize = 32;

/// Lloyd iterations that place the groups.
const GROUPING_ITERATIONS: usize = 5;

/// How many of its nearest groups a code tries to join first.
const GROUP_CHOICES: usize = 4;

/// How many groups `n` rows of `d` features (of `size` bytes each) against `k` codes keep
/// bounds for, or 0 if group bounds are not worth it: a group per [`GROUP_CODES`] codes,
/// and at most a sixteenth of a row's bytes of bounds per row (`f32` each), so the bounds
/// take at most a quarter of the data's memory.
pub(super) fn group_count(n: usize, k: usize, d: usize, size: usize) -> usize {
    let t = (k / GROUP_CODES).min(d * size / 16);
    if d >= MIN_FEATURES && t >= MIN_GROUPS && n >= 4 * k {
        t
    } else {
        0
    }
}

/// The codes split into groups, and each row's lower bound per group.
#[derive(Debug)]
pub(super) struct Groups {
    /// Each code's group.
    of_code: Vec<u32>,
    /// Each group's codes, ascending.
    members: Vec<Vec<u32>>,
    /// `n x groups`: a lower bound of each row's distance to the codes of each group other
    /// than its own code (rounded down to `f32`; zero before a row is compared).
    lower: Vec<f32>,
}

impl Groups {
    /// About `t` groups of nearby codes among the `k` codes of `centers` (`k x d`,
    /// row-major), each of the same number of codes, a multiple of [`GROUP_CODES`] (the
    /// last may hold fewer), so that a group fills whole panels of the kernel; the bounds
    /// of `n` rows zero.
    ///
    /// A short k-means of the codes themselves (from evenly spaced ones) places the
    /// groups; then, nearest pairs first, each code joins the nearest of its
    /// [`GROUP_CHOICES`] nearest groups that has room (or, if none has, the nearest that
    /// has).
    fn new(
        exec: &Exec,
        centers: &[f64],
        (n, k, d): (usize, usize, usize),
        t: usize,
    ) -> Result<Self> {
        let size = k.div_ceil(t).div_ceil(GROUP_CODES) * GROUP_CODES;
        let t = k.div_ceil(size);
        let book = ArrayView2::from_shape((k, d), centers).expect("centers are k x d");
        let init = Array2::from_shape_fn((t, d), |(g, f)| book[[g * k / t, f]]);
        let params = Params {
            stop: Stop::Iterations(GROUPING_ITERATIONS),
            empty: Empty::Keep,
            weights: None,
            farthest: None,
        };
        let placed = exec.quietly(|exec| run(exec, book, init.view(), &params))?;
        let places = placed
            .centroids
            .as_slice()
            .expect("a fresh array is contiguous");
        let every: Vec<u32> = (0..t as u32).collect();
        // Each code's distances to the groups, nearest first.
        let near = exec.map((0..k).collect(), |j| {
            let mut sq = vec![0.0; t];
            lane_sq_dists(&centers[j * d..(j + 1) * d], places, &every, &mut sq);
            let mut order: Vec<(f64, u32)> = sq.into_iter().zip(0..).collect();
            order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            order
        });
        let mut pairs: Vec<(f64, u32, u32)> = (near.iter().enumerate())
            .flat_map(|(j, o)| {
                o.iter()
                    .take(GROUP_CHOICES)
                    .map(move |&(v, g)| (v, j as u32, g))
            })
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let mut of_code = vec![u32::MAX; k];
        let mut taken = vec![0; t];
        let mut join = |j: usize, g: u32| {
            if of_code[j] == u32::MAX && taken[g as usize] < size {
                of_code[j] = g;
                taken[g as usize] += 1;
            }
        };
        for &(_, j, g) in &pairs {
            join(j as usize, g);
        }
        for (j, order) in near.iter().enumerate() {
            for &(_, g) in order {
                join(j, g);
            }
        }
        let mut members = vec![Vec::new(); t];
        for (j, &g) in of_code.iter().enumerate() {
            members[g as usize].push(j as u32);
        }
        Ok(Groups {
            of_code,
            lower: crate::pages::zeroed(n * t),
            members,
        })
    }
}

impl<F: Float> LloydState<F> {
    /// [`LloydState::step`] with group bounds, in `t` groups (see the module's doc).
    pub(super) fn step_grouped<C: Float>(
        &mut self,
        exec: &Exec,
        x: &[F],
        d: usize,
        (codes, k): (&[C], usize),
        weights: Option<&[F]>,
        t: usize,
    ) -> Result<Step<F>>
    where
        F: Promote<C>,
    {
        let n = self.rows.len();
        let centers: Vec<f64> = codes.iter().map(|v| v.to_f64()).collect();
        // Groups are formed once, on the first code book of the run (or of another `k`).
        let fresh = !matches!(&self.groups, Some(g) if g.of_code.len() == k)
            || self.bound_codes.len() != centers.len();
        let mut groups = match self.groups.take() {
            Some(g) if !fresh => g,
            _ => Groups::new(exec, &centers, (n, k, d), t)?,
        };
        let t = groups.members.len();
        let drift = if fresh {
            vec![0.0; k]
        } else {
            drifts(&self.bound_codes, &centers, k, d)
        };
        let group_drift: Vec<f64> = (groups.members.iter())
            .map(|m| m.iter().fold(0.0, |a: f64, &j| a.max(drift[j as usize])))
            .collect();
        let book = GroupedBook::new(codes, d, &groups.members);
        // Relative margin on distances: far above the rounding of the direct formula.
        let margin = 4.0 * (d + 8) as f64 * C::EPSILON.to_f64();
        let apart = |near: f64, far: f64| apart(near, far, margin);
        let of_code = &groups.of_code;
        let (mut total, mode) = self.start_sums(k, d, weights.is_some());
        let tables = SumTables::new(k, d, weights.is_some());
        let (mut scanned, mut changed) = (0, 0);
        exec.chunks_wide(
            CHUNK_ROWS,
            n,
            &mut self.rows,
            (&mut groups.lower, t),
            |first, states, lower| {
                let xs = &x[first * d..(first + states.len()) * d];
                let w = weights.map(|w| &w[first..first + states.len()]);
                let mut promoted = Vec::new();
                let xc = F::promote(xs, &mut promoted);
                let mut sums = ChunkSums::new(mode, &tables, d, xs, w);
                // Move every row's bounds; list the rows they do not settle.
                let mut open = Vec::new();
                for (i, st) in states.iter_mut().enumerate() {
                    if fresh {
                        open.push(i);
                        continue;
                    }
                    let lb = &mut lower[i * t..(i + 1) * t];
                    let a = st.label as usize;
                    let least = lower_by(lb, &group_drift);
                    let upper = st.upper() + drift[a];
                    st.set(least, upper);
                    if apart(upper, least) {
                        continue;
                    }
                    // Tighten the upper bound to the distance (summed in lanes: to within
                    // rounding, which the margin covers) and try again.
                    let mut own = [C::ZERO];
                    lane_sq_dists(&xc[i * d..(i + 1) * d], codes, &[a as u32], &mut own);
                    let u = own[0].to_f64().sqrt();
                    st.set_upper(u);
                    if !apart(u, least) {
                        open.push(i);
                    }
                }
                // Tiles of open rows, rows of one group and of one code together (they tend
                // to need the same groups), each compared with the groups any of its rows
                // needs: its rows' own codes' groups and those whose bound does not set them
                // apart. A fresh step compares every row with every group: its tiles are
                // the rows in place.
                if !fresh {
                    open.sort_by_key(|&i| {
                        let a = states[i].label as usize;
                        (of_code[a], a)
                    });
                }
                let every: Vec<u32> = (0..t as u32).collect();
                let mut wanted = Vec::new();
                let mut marked = vec![false; t];
                let mut buf = Vec::with_capacity(ROWS * d);
                let mut hits = [Hit::default(); ROWS];
                let mut bounds = vec![0.0; ROWS * t];
                let mut scratch = book.scratch();
                for tile in open.chunks(ROWS) {
                    let rows = if fresh {
                        &xc[tile[0] * d..(tile[0] + tile.len()) * d]
                    } else {
                        buf.clear();
                        for &i in tile {
                            let st = &states[i];
                            marked[of_code[st.label as usize] as usize] = true;
                            let u = st.upper();
                            for (m, &l) in marked.iter_mut().zip(&lower[i * t..(i + 1) * t]) {
                                *m |= !apart(u, l.into());
                            }
                            buf.extend_from_slice(&xc[i * d..(i + 1) * d]);
                        }
                        wanted.clear();
                        wanted.extend((0..t as u32).filter(|&g| marked[g as usize]));
                        marked.fill(false);
                        &buf[..]
                    };
                    let wanted = if fresh { &every } else { &wanted };
                    let hits = &mut hits[..tile.len()];
                    book.nearest_in(rows, wanted, hits, &mut bounds, &mut scratch);
                    for (p, (&i, h)) in tile.iter().zip(hits.iter()).enumerate() {
                        let lb = &mut lower[i * t..(i + 1) * t];
                        let least = lower_from(lb, &bounds[p * t..(p + 1) * t], wanted);
                        let st = &mut states[i];
                        sums.relabel(i, st.label as usize, h.label as usize);
                        st.label = h.label;
                        st.set(least, h.best.to_f64().sqrt());
                    }
                }
                let (part, moved) = sums.finish(states);
                (part, open.len(), moved)
            },
            |(part, count, moved)| {
                if let Some(part) = part {
                    part.add_to(&mut total, &tables);
                }
                scanned += count;
                changed += moved;
            },
        )?;
        self.groups = Some(groups);
        Ok(self.finish(total, centers, scanned, changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::{brute_labels, sq_dist};
    use crate::lloyd::sums::ClusterSums;

    /// Each code with rows to the mean of its rows.
    fn move_codes(book: &mut [f64], sums: ClusterSums<f64>, d: usize) {
        let (means, has) = sums.into_means();
        for (j, _) in has.iter().enumerate().filter(|(_, &h)| h) {
            book[j * d..(j + 1) * d].copy_from_slice(&means[j * d..(j + 1) * d]);
        }
    }

    #[test]
    fn group_counts() {
        // A group per 32 codes, bounds at most a sixteenth of a row's bytes.
        assert_eq!(group_count(200_000, 1024, 128, 4), 32);
        assert_eq!(group_count(200_000, 1024, 64, 4), 16);
        assert_eq!(group_count(200_000, 1024, 64, 8), 32);
        assert_eq!(group_count(50_000, 1024, 768, 4), 32);
        // Too few codes, features or rows.
        assert_eq!(group_count(200_000, 96, 128, 4), 0);
        assert_eq!(group_count(200_000, 1024, 16, 4), 0);
        assert_eq!(group_count(3_000, 1024, 128, 4), 0);
    }

    /// Grouped steps give the labels of a brute-force comparison at every iteration, on
    /// overlapping clusters and with rows tied between codes of different groups; the
    /// sums are those of the labels; and later steps compare few rows.
    #[test]
    fn grouped_steps_give_the_labels_of_a_full_comparison() {
        let (k, d) = (160, 40);
        let n = 2 * CHUNK_ROWS + 77;
        assert_eq!(group_count(n, k, d, 8), 5);
        let mut rnd = crate::test_uniforms(5);
        let centres: Vec<f64> = (0..k * d).map(|_| 2.0 * rnd()).collect();
        let mut x: Vec<f64> = (0..n * d)
            .map(|i| centres[(i / d) % k * d + i % d] + 1.5 * rnd())
            .collect();
        let mut book: Vec<f64> = x[..k * d].to_vec();
        // Rows halfway between two codes (exact ties, whatever the groups), and rows equal
        // to codes.
        for r in 0..200 {
            let (a, b) = (r % k, (r * 7 + 3) % k);
            for f in 0..d {
                x[(k + r) * d + f] = 0.5 * (book[a * d + f] + book[b * d + f]);
            }
        }
        book[(k - 1) * d..].copy_from_slice(&x[5 * d..6 * d]);
        let exec = Exec::with_threads(2).unwrap();
        let mut state = LloydState::new(n, true);
        let mut scanned = Vec::new();
        for _ in 0..10 {
            let expect = brute_labels(&x, &book, d);
            let out = state
                .step_grouped(&exec, &x, d, (&book, k), None, 5)
                .unwrap();
            assert_eq!(state.labels(), expect);
            let mut sums = ClusterSums::new(k, d, false);
            sums.add_rows(&x, expect.iter().copied(), None);
            assert_eq!(out.sums.counts(), sums.counts());
            scanned.push(out.scanned);
            // Every bound kept is a bound (to rounding) for the code book of the step.
            let groups = state.groups.as_ref().unwrap();
            let t = groups.members.len();
            for (i, row) in x.chunks(d).enumerate() {
                let dists: Vec<f64> = book.chunks(d).map(|c| sq_dist(row, c).sqrt()).collect();
                let label = expect[i] as usize;
                assert!(
                    state.rows[i].upper() >= dists[label] * (1.0 - 1e-12),
                    "row {i}"
                );
                for (g, m) in groups.members.iter().enumerate() {
                    let near = (m.iter().map(|&j| j as usize).filter(|&j| j != label))
                        .fold(f64::INFINITY, |v, j| v.min(dists[j]));
                    let lb = f64::from(groups.lower[i * t + g]);
                    assert!(
                        lb <= near * (1.0 + 1e-12),
                        "row {i} group {g}: {lb} > {near}"
                    );
                }
            }
            move_codes(&mut book, out.sums, d);
        }
        assert_eq!(scanned[0], n);
        assert!(*scanned.last().unwrap() < n / 4, "{scanned:?}");
    }

    /// Where Hamerly's bounds are kept but fail (overlapping clusters), the steps go over to
    /// group bounds, and the labels stay those of a brute force throughout.
    #[test]
    fn failing_hamerly_bounds_give_way_to_groups() {
        let (k, d) = (128, 40);
        let n = 64 * k + 10;
        assert!(super::super::step::pruning_pays(n, k, d));
        let mut rnd = crate::test_uniforms(9);
        let centres: Vec<f64> = (0..k * d).map(|_| rnd()).collect();
        let x: Vec<f64> = (0..n * d)
            .map(|i| centres[(i / d) % k * d + i % d] + rnd())
            .collect();
        let mut book: Vec<f64> = x[..k * d].to_vec();
        let exec = Exec::with_threads(2).unwrap();
        let mut state = LloydState::new(n, true);
        let mut grouped = Vec::new();
        for _ in 0..6 {
            let expect = brute_labels(&x, &book, d);
            let out = state.step(&exec, &x, d, (&book, k), None, &mut []).unwrap();
            assert_eq!(state.labels(), expect);
            grouped.push(state.groups.is_some());
            move_codes(&mut book, out.sums, d);
        }
        // The first three steps with Hamerly's bounds (the first has none to fail).
        assert_eq!(grouped, [false, false, false, true, true, true]);
    }
}
