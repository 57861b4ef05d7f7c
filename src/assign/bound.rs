//! The rounding bound of the dot-product scores: when the best score is certain, the
//! bounds on the distances that a certain best gives, and which codes an uncertain best
//! must be measured against.

use super::direct::rank;
use super::dot::LANES;
use super::Hit;
use crate::float::Float;

/// The bounds of a row whose two best scores `|c|^2 - 2 x.c` are `best` and `second`, if
/// they are further apart than `margin`, twice the most a score can be off (see [`margin`]),
/// with `x_norm` the row's `|x|^2`: `(upper, lower)`, an upper bound of the best code's
/// squared distance and a lower bound of every other code's. `None` for near or exact ties,
/// overflow and NaN.
pub(super) fn settle(best: f64, second: f64, x_norm: f64, margin: f64) -> Option<(f64, f64)> {
    (second - best > margin).then(|| (best + x_norm + margin, (second + x_norm - margin).max(0.0)))
}

/// Twice the rounding bound of a score `|c|^2 - 2 x.c` of `d` features, `(d + 4) * eps *
/// (|x|^2 + max |c|^2)` (`norms`): a code whose score exceeds another's by more is further
/// from the row, by the direct formula too.
pub(super) fn margin(norms: (f64, f64), d: usize, eps: f64) -> f64 {
    2.0 * (d + 4) as f64 * eps * (norms.0 + norms.1)
}

/// The hit of a row whose nearest code is `label`, from the bounds [`settle`] gave (on
/// its squared distance, and on every other code's).
pub(super) fn hit<C: Float>(label: usize, (upper, lower): (f64, f64)) -> Hit<C> {
    Hit {
        label: label as i32,
        best: C::from_f64(upper),
        second: C::from_f64(lower),
    }
}

/// The hit of a row whose best score is not certain, `best` being its smallest score
/// (scores `|c_j|^2 - 2 x.c_j`, each within half the [`margin`]) and `x_norm` its `|x|^2`:
/// the codes whose score is within the margin of the best are measured by `exact` (the
/// direct formula) and the nearest of them taken (lowest index on ties). Every other code
/// is further by the direct formula too, so neither nearest nor tied with it; its distance
/// is bounded below by its score. `near(cut, codes)` pushes the codes scoring at most `cut`
/// onto `codes` and returns the smallest of the other scores ([`split_at_cut`] does it for a
/// run of scores). Where the margin, the best score or the nearest distance is not finite
/// (overflow, NaN), every code (`every`, ascending) is measured.
pub(super) fn recheck<C: Float>(
    (best, x_norm, margin): (f64, f64, f64),
    near: impl FnOnce(f64, &mut Vec<usize>) -> f64,
    every: impl FnOnce() -> Vec<usize>,
    exact: impl Fn(usize) -> C,
) -> Hit<C> {
    let cut = best + margin;
    let mut codes = Vec::new();
    let measured = if cut.is_finite() {
        let far = near(cut, &mut codes);
        codes.sort_unstable();
        (!codes.is_empty())
            .then(|| nearest_of(&codes, &exact))
            .filter(|within| within.best.is_finite())
            .map(|within| {
                let outside = C::from_f64((far + x_norm - margin).max(0.0));
                Hit {
                    second: if outside < within.second {
                        outside
                    } else {
                        within.second
                    },
                    ..within
                }
            })
    } else {
        None
    };
    measured.unwrap_or_else(|| nearest_of(&every(), &exact))
}

simd! {
    /// The indices (plus `base`) of the scores at most `cut` pushed onto `near`, in order,
    /// and the smallest of the other scores (infinity if none); NaN scores are in neither.
    /// Lane by lane: a block of [`LANES`] scores none of which is within the cut is only
    /// folded into the lanes' smallest (the same values in any order: the minimum is exact).
    pub(super) fn split_at_cut<N: Float>(
        scores: &[N],
        cut: f64,
        base: usize,
        near: &mut Vec<usize>,
    ) -> f64 {
        let mut far = [N::INFINITY; LANES];
        let blocks = scores.chunks_exact(LANES);
        let tail = blocks.remainder();
        for (b, block) in blocks.enumerate() {
            let within = block.iter().fold(false, |w, &s| w | (s.to_f64() <= cut));
            if !within {
                for (f, &s) in far.iter_mut().zip(block) {
                    *f = if s < *f { s } else { *f };
                }
                continue;
            }
            for (t, (f, &s)) in far.iter_mut().zip(block).enumerate() {
                if s.to_f64() <= cut {
                    near.push(base + b * LANES + t);
                } else if s < *f {
                    *f = s;
                }
            }
        }
        let mut low = far.iter().fold(f64::INFINITY, |m, &f| m.min(f.to_f64()));
        let start = base + scores.len() - tail.len();
        for (t, &s) in tail.iter().enumerate() {
            if s.to_f64() <= cut {
                near.push(start + t);
            } else {
                low = low.min(s.to_f64());
            }
        }
        low
    }
}

/// The nearest of the codes `codes` (ascending) by `exact`, first on ties ([`rank`]), as a
/// hit labelled with its code.
fn nearest_of<C: Float>(codes: &[usize], exact: impl Fn(usize) -> C) -> Hit<C> {
    let within = rank(&codes.iter().map(|&j| exact(j)).collect::<Vec<C>>());
    Hit {
        label: codes[within.label as usize] as i32,
        ..within
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the codes within the margin of the best score are measured; the others bound
    /// the runner-up's distance from below by their score; with no finite margin, every
    /// code is measured.
    #[test]
    fn recheck_measures_the_codes_near_the_best() {
        let scores = [10.0, 0.0, 0.5, 100.0];
        let near = |a: f64, b: f64| {
            move |j: usize| match j {
                1 => a,
                2 => b,
                _ => panic!("code {j} is not within the margin"),
            }
        };
        let check = |margin: f64, exact: &dyn Fn(usize) -> f64| -> Hit<f64> {
            let split = |cut, codes: &mut Vec<usize>| split_at_cut(&scores, cut, 0, codes);
            recheck((0.0, 5.0, margin), split, || (0..4).collect(), exact)
        };
        let hit = check(1.0, &near(3.0, 2.0));
        assert_eq!((hit.label, hit.best, hit.second), (2, 2.0, 3.0));
        // Code 0's score less the margin, plus |x|^2, is below code 1's distance.
        let hit = check(1.0, &near(20.0, 2.0));
        assert_eq!((hit.label, hit.best, hit.second), (2, 2.0, 14.0));
        // Ties go to the first code.
        let hit = check(1.0, &near(2.0, 2.0));
        assert_eq!((hit.label, hit.best, hit.second), (1, 2.0, 2.0));
        let every = |j: usize| [7.0, 9.0, 8.0, 1.0][j];
        let hit = check(f64::INFINITY, &every);
        assert_eq!((hit.label, hit.best, hit.second), (3, 1.0, 7.0));
    }

    /// `split_at_cut` finds the scores within the cut, and the smallest of the others, as one
    /// score at a time does: NaN and infinite scores, a cut on a score, blocks with no
    /// score within it, a short last block, an offset.
    #[test]
    fn split_at_cut_is_one_score_at_a_time() {
        fn check<N: Float>(scores: &[N], cut: f64, base: usize) {
            let mut near = Vec::new();
            let far = split_at_cut(scores, cut, base, &mut near);
            let want: Vec<usize> = (0..scores.len())
                .filter(|&i| scores[i].to_f64() <= cut)
                .map(|i| base + i)
                .collect();
            let want_far = (scores.iter().map(|s| s.to_f64()))
                .filter(|&s| s > cut || s.is_nan())
                .fold(f64::INFINITY, f64::min);
            assert_eq!(near, want, "cut {cut}, {} scores", scores.len());
            assert_eq!(far.to_bits(), want_far.to_bits(), "cut {cut}");
        }
        let mut next = crate::test_uniforms(5);
        for n in [0, 1, 31, 32, 33, 64, 100, 1030] {
            let mut v: Vec<f64> = (0..n).map(|_| 100.0 * next() - 20.0).collect();
            for (i, x) in v.iter_mut().enumerate() {
                match i % 37 {
                    3 => *x = f64::NAN,
                    5 => *x = f64::INFINITY,
                    7 => *x = -0.0,
                    _ => {}
                }
            }
            let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            // On a score, between scores of an `f32`, below, above and beyond all.
            let on = v.iter().copied().find(|x| x.is_finite()).unwrap_or(0.0);
            for cut in [
                on,
                f64::from(v32.first().copied().unwrap_or(0.0)) + 1e-9,
                -30.0,
                0.0,
                85.0,
                1e300,
            ] {
                check(&v, cut, 7);
                check(&v32, cut, 0);
            }
        }
    }
}
