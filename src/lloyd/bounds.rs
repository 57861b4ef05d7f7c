//! Hamerly's distance bounds: each row keeps an upper bound on its distance to its own code,
//! raised by how far that code moved, and a lower bound on its distance to every other
//! code, lowered by how far the others moved. A row whose upper bound is below its lower
//! bound, or below half the distance from its code to the nearest other code, cannot change
//! label.

use super::ball::CodeGaps;
use crate::assign::sq_dist;
use crate::parallel::Exec;

/// A relative step larger than `f32` rounding, to round bounds outwards.
pub(super) const OUTWARD: f64 = 1.0 / (1u64 << 22) as f64;

/// An absolute step larger than `f32` rounding near zero (its subnormal spacing).
pub(super) const TINY: f64 = 1.0 / (1u128 << 100) as f64;

/// The largest `f32`: larger lower bounds are kept as this (and upper bounds below its
/// negative as that).
pub(super) const MAX32: f64 = f32::MAX as f64;

/// What a row carries from one iteration to the next: its label and its two bounds.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RowBounds {
    /// The row's code.
    pub(super) label: i32,
    /// A lower bound of the row's distance to every other code (rounded down to `f32`).
    lower: f32,
    /// An upper bound of the row's distance to its own code (rounded up to `f32`; twelve
    /// bytes of state per row in all, with the label).
    upper: f32,
}

impl RowBounds {
    #[inline(always)]
    pub(super) fn lower(&self) -> f64 {
        self.lower.into()
    }

    #[inline(always)]
    pub(super) fn upper(&self) -> f64 {
        self.upper.into()
    }

    /// Keep `lower` and `upper`, moved outwards by more than the rounding to `f32` (a
    /// relative [`OUTWARD`] and an absolute [`TINY`], so that they stay bounds however they
    /// round). Branch-free: which way rounding goes is unpredictable.
    #[inline(always)]
    pub(super) fn set(&mut self, lower: f64, upper: f64) {
        self.lower = down(lower);
        self.set_upper(upper);
    }

    /// Keep `upper` alone, as [`RowBounds::set`] does.
    #[inline(always)]
    pub(super) fn set_upper(&mut self, upper: f64) {
        let upper = if upper < -MAX32 { -MAX32 } else { upper };
        self.upper = (upper + upper.abs() * OUTWARD + TINY) as f32;
    }
}

/// `lower` as an `f32` that stays a lower bound however it rounds (see [`RowBounds::set`]).
#[inline(always)]
pub(super) fn down(lower: f64) -> f32 {
    let lower = if lower > MAX32 { MAX32 } else { lower };
    (lower - lower.abs() * OUTWARD - TINY) as f32
}

simd! {
    /// A row's group bounds `lower` (see [`super::groups`]) lowered by how far each group's
    /// codes moved, `drift`, rounded down to `f32` as [`down`] does; and the least of them.
    /// (In lanes: a step that settled every row by its bounds took twice a pass over the
    /// data when this loop went bound by bound.)
    pub(super) fn lower_by(lower: &mut [f32], drift: &[f64]) -> f64 {
        for (l, &moved) in lower.iter_mut().zip(drift) {
            *l = down(f64::from(*l) - moved);
        }
        least(lower)
    }
}

simd! {
    /// A row's group bounds `lower` set from squared lower bounds `sq` (one per group) for
    /// the groups `wanted` (ascending; every group if as many as the bounds), each the
    /// square root rounded down to `f32` as [`down`] does; and the least of all bounds.
    pub(super) fn lower_from(lower: &mut [f32], sq: &[f64], wanted: &[u32]) -> f64 {
        if wanted.len() == lower.len() {
            for (l, &v) in lower.iter_mut().zip(sq) {
                *l = down(v.sqrt());
            }
        } else {
            for &g in wanted {
                lower[g as usize] = down(sq[g as usize].sqrt());
            }
        }
        least(lower)
    }
}

/// The least of `values` (none NaN; infinity if empty), in lanes merged pairwise.
#[inline(always)]
fn least(values: &[f32]) -> f64 {
    const W: usize = 16;
    let mut m = [f32::INFINITY; W];
    let chunks = values.chunks_exact(W);
    let rest = chunks.remainder();
    for chunk in chunks.chain([rest]) {
        for (m, &v) in m.iter_mut().zip(chunk) {
            *m = if v < *m { v } else { *m };
        }
    }
    let mut width = W;
    while width > 1 {
        width /= 2;
        for t in 0..width {
            m[t] = if m[t + width] < m[t] {
                m[t + width]
            } else {
                m[t]
            };
        }
    }
    m[0].into()
}

/// How far each code moved from the code book `old` to `new` (both `k x d`, row-major).
pub(super) fn drifts(old: &[f64], new: &[f64], k: usize, d: usize) -> Vec<f64> {
    (0..k)
        .map(|j| sq_dist(&old[j * d..(j + 1) * d], &new[j * d..(j + 1) * d]).sqrt())
        .collect()
}

/// How far the codes moved between two code books, and how far apart the new codes are.
#[derive(Debug)]
pub(super) struct Motion {
    /// How far each code moved.
    pub(super) drift: Vec<f64>,
    /// The largest move, its code, and the largest move of any other code.
    pub(super) max: (f64, usize, f64),
    /// A lower bound of half the distance from each new code to its nearest other code.
    pub(super) half: Vec<f64>,
    /// The distances between the new codes, when they were measured.
    pub(super) gaps: Option<CodeGaps>,
}

impl Motion {
    /// The motion from the code book `old` (the one the rows' bounds refer to) to `new`,
    /// both `k x d` row-major; `None` if the bounds are not usable (another `k`, no
    /// features, NaN). `old_half` is [`Motion::half`] of `old` (empty if not known).
    ///
    /// Each half gap is `old_half` less half the moves of the code and of the
    /// furthest-moved other code (the triangle inequality), or zero where `old_half` is
    /// not known. The distances between the new codes cost about `k^2 d`, as much as
    /// comparing `k` rows with every code: they are measured, and the half gaps taken from
    /// them, only if `measure` says so of that estimate. Rows whose bounds fail are then
    /// searched among the codes near their own, and otherwise compared with every code.
    pub(super) fn between(
        exec: &Exec,
        (old, old_half): (&[f64], &[f64]),
        new: &[f64],
        (k, d): (usize, usize),
        measure: impl FnOnce(&Motion) -> bool,
    ) -> Option<Self> {
        if old.len() != new.len() || k == 0 || d == 0 {
            return None;
        }
        let drift = drifts(old, new, k, d);
        let mut max = (0.0f64, usize::MAX, 0.0f64);
        for (j, &v) in drift.iter().enumerate() {
            if v > max.0 || max.1 == usize::MAX {
                max = (v, j, max.0);
            } else if v > max.2 {
                max.2 = v;
            }
        }
        if drift.iter().any(|v| v.is_nan()) {
            return None;
        }
        let half = if old_half.len() == k {
            (0..k)
                .map(|a| {
                    let other = if a == max.1 { max.2 } else { max.0 };
                    (old_half[a] - 0.5 * (drift[a] + other)).max(0.0)
                })
                .collect()
        } else {
            vec![0.0; k]
        };
        let mut motion = Motion {
            drift,
            max,
            half,
            gaps: None,
        };
        if measure(&motion) {
            let gaps = CodeGaps::new(exec, new, k, d);
            if gaps.has_nan() {
                return None;
            }
            motion.half.clone_from(&gaps.half);
            motion.gaps = Some(gaps);
        }
        Some(motion)
    }

    /// Row `st`'s bounds moved with the codes: `(lower, upper)`, its lower bound less the
    /// furthest move of any other code, its upper bound plus the move of its own.
    #[inline(always)]
    pub(super) fn moved(&self, st: &RowBounds) -> (f64, f64) {
        let a = st.label as usize;
        let other = if a == self.max.1 {
            self.max.2
        } else {
            self.max.0
        };
        (st.lower() - other, st.upper() + self.drift[a])
    }

    /// Whether a row of code `a` whose bounds, moved ([`Motion::moved`]), are `(lower,
    /// upper)` is settled: nearer its own code than any other by the relative `margin` (by
    /// its lower bound, or by the half gap around its code).
    #[inline(always)]
    pub(super) fn settles(&self, a: usize, (lower, upper): (f64, f64), margin: f64) -> bool {
        apart(upper, lower.max(self.half[a]), margin)
    }

    /// Whether more than `limit` of `rows` are not settled ([`Motion::settles`]); the
    /// count stops there.
    pub(super) fn open_more_than(&self, rows: &[RowBounds], margin: f64, limit: usize) -> bool {
        let mut open = rows
            .iter()
            .filter(|st| !self.settles(st.label as usize, self.moved(st), margin));
        open.nth(limit).is_some()
    }
}

/// Whether a distance `near` is surely below a distance `far`, each known to within the
/// relative `margin`.
#[inline(always)]
pub(super) fn apart(near: f64, far: f64, margin: f64) -> bool {
    near * (1.0 + margin) < far * (1.0 - margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Half gaps not measured are lower bounds of the measured ones, however the codes
    /// move, and equal them while no code moves; measured ones are the gaps' own.
    #[test]
    fn unmeasured_half_gaps_stay_lower_bounds() {
        let exec = Exec::with_threads(1).unwrap();
        let (k, d) = (12, 5);
        let mut rnd = crate::test_uniforms(11);
        let mut codes: Vec<f64> = (0..k * d).map(|_| 10.0 * rnd()).collect();
        // Not known before: zero unless measured; `measure` is asked of that estimate.
        let unknown = Motion::between(&exec, (&codes, &[]), &codes, (k, d), |m| {
            assert_eq!(m.half, vec![0.0; k]);
            false
        });
        assert!(unknown.is_some_and(|m| m.gaps.is_none() && m.half == vec![0.0; k]));
        let first = Motion::between(&exec, (&codes, &[]), &codes, (k, d), |_| true).unwrap();
        assert!(first.gaps.is_some());
        let mut half = first.half;
        let still = Motion::between(&exec, (&codes, &half), &codes, (k, d), |_| false).unwrap();
        assert_eq!(still.half, half);
        for _ in 0..30 {
            let new: Vec<f64> = codes.iter().map(|v| v + 0.3 * rnd()).collect();
            let m = Motion::between(&exec, (&codes, &half), &new, (k, d), |_| false).unwrap();
            assert!(m.gaps.is_none());
            let exact: Vec<f64> = (0..k)
                .map(|a| {
                    let code = &new[a * d..(a + 1) * d];
                    (0..k)
                        .filter(|&j| j != a)
                        .map(|j| 0.5 * sq_dist(code, &new[j * d..(j + 1) * d]).sqrt())
                        .fold(f64::INFINITY, f64::min)
                })
                .collect();
            assert!(m.half.iter().zip(&exact).all(|(b, e)| b <= e), "{m:?}");
            let measured = Motion::between(&exec, (&codes, &half), &new, (k, d), |_| true).unwrap();
            assert_eq!(measured.half, CodeGaps::new(&exec, &new, k, d).half);
            (codes, half) = (new, m.half);
        }
        // The bounds loosen as the codes move, down to zero at worst.
        assert!(half.iter().all(|&h| h >= 0.0));
        // Two codes moving straight at each other: the bound is tight.
        let (old, new) = (
            [0.0, 0.0, 4.0, 0.0, 9.0, 0.0],
            [1.0, 0.0, 3.0, 0.0, 9.0, 0.0],
        );
        let m = Motion::between(&exec, (&old, &[2.0, 2.0, 2.5]), &new, (3, 2), |_| false).unwrap();
        assert_eq!(m.half, [1.0, 1.0, 2.0]);
    }

    /// The lane-wise group bounds are those of [`down`] bound by bound, and their least is
    /// the least of them, at every length (whole lanes and not).
    #[test]
    fn group_bounds_move_and_set_bound_by_bound() {
        let mut rnd = crate::test_uniforms(17);
        for t in [1, 4, 15, 16, 17, 33, 40] {
            let old: Vec<f32> = (0..t).map(|_| (10.0 * rnd()) as f32).collect();
            let drift: Vec<f64> = (0..t).map(|_| rnd()).collect();
            let mut lower = old.clone();
            let least = lower_by(&mut lower, &drift);
            let expect: Vec<f32> = (old.iter().zip(&drift))
                .map(|(&l, &m)| down(f64::from(l) - m))
                .collect();
            assert_eq!(lower, expect);
            assert_eq!(
                least,
                expect.iter().fold(f64::INFINITY, |m, &v| m.min(v.into()))
            );
            let sq: Vec<f64> = (0..t).map(|_| 100.0 * rnd().abs()).collect();
            let every: Vec<u32> = (0..t as u32).collect();
            let least = lower_from(&mut lower, &sq, &every);
            let set: Vec<f32> = sq.iter().map(|&v| down(v.sqrt())).collect();
            assert_eq!(
                (lower.clone(), least),
                (set.clone(), f64::from(set[0]).min(least))
            );
            assert_eq!(
                least,
                set.iter().fold(f64::INFINITY, |m, &v| m.min(v.into()))
            );
            // Some groups only: the others keep their bounds, and count in the least.
            let some: Vec<u32> = (0..t as u32).step_by(3).collect();
            let mut part = expect.clone();
            let least = lower_from(&mut part, &sq, &some);
            for (g, (&p, &e)) in part.iter().zip(&expect).enumerate() {
                assert_eq!(p, if g % 3 == 0 { set[g] } else { e }, "group {g}");
            }
            assert_eq!(
                least,
                part.iter().fold(f64::INFINITY, |m, &v| m.min(v.into()))
            );
        }
    }

    #[test]
    fn bounds_kept_in_f32_stay_bounds() {
        let mut rnd = crate::test_uniforms(3);
        let mut values = vec![0.0, -0.0, 1e-300, -1e-300, 1e-40, 3e-39, 1e39, -1e39, 1e300];
        values.extend((0..10_000).map(|i| rnd() * 10f64.powi(i % 80 - 40)));
        let mut st = RowBounds::default();
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
}
