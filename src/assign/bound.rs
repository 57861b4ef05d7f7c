//! The rounding bound of the dot-product scores: when the best score is certain, the
//! bounds on the distances that a certain best gives, and which codes an uncertain best
//! must be measured against.

use super::direct::rank;
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

/// The hit of a row whose best score is not certain, from its `scores` (`(j, s)`: code `j`
/// scores `s`, within half the [`margin`] of `|c_j|^2 - 2 x.c_j`; in any order) and
/// `|x|^2`: the codes whose score is within the margin of the best are measured by `exact`
/// (the direct formula) and the nearest of them taken (lowest index on ties). Every other
/// code is further by the direct formula too, so neither nearest nor tied with it; its
/// distance is bounded below by its score. Where the margin, the best score or the nearest
/// distance is not finite (overflow, NaN), every code is measured.
pub(super) fn recheck<C: Float>(
    scores: impl Iterator<Item = (usize, f64)> + Clone,
    x_norm: f64,
    margin: f64,
    exact: impl Fn(usize) -> C,
) -> Hit<C> {
    near_codes(scores.clone(), x_norm, margin, &exact).unwrap_or_else(|| {
        let mut every: Vec<usize> = scores.map(|(j, _)| j).collect();
        every.sort_unstable();
        nearest_of(&every, &exact)
    })
}

/// [`recheck`] of the codes near the best, or `None` where it cannot tell.
fn near_codes<C: Float>(
    scores: impl Iterator<Item = (usize, f64)> + Clone,
    x_norm: f64,
    margin: f64,
    exact: impl Fn(usize) -> C,
) -> Option<Hit<C>> {
    let cut = scores.clone().fold(f64::INFINITY, |m, (_, s)| m.min(s)) + margin;
    if !cut.is_finite() {
        return None;
    }
    let (mut near, mut far) = (Vec::new(), f64::INFINITY);
    for (j, s) in scores {
        if s <= cut {
            near.push(j);
        } else {
            far = far.min(s);
        }
    }
    near.sort_unstable();
    let within = nearest_of(&near, exact);
    if !within.best.is_finite() {
        return None;
    }
    let outside = C::from_f64((far + x_norm - margin).max(0.0));
    Some(Hit {
        second: if outside < within.second {
            outside
        } else {
            within.second
        },
        ..within
    })
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
        let hit: Hit<f64> = recheck(scores.iter().copied().enumerate(), 5.0, 1.0, near(3.0, 2.0));
        assert_eq!((hit.label, hit.best, hit.second), (2, 2.0, 3.0));
        // Code 0's score less the margin, plus |x|^2, is below code 1's distance.
        let hit: Hit<f64> = recheck(
            scores.iter().copied().enumerate(),
            5.0,
            1.0,
            near(20.0, 2.0),
        );
        assert_eq!((hit.label, hit.best, hit.second), (2, 2.0, 14.0));
        // Ties go to the first code.
        let hit: Hit<f64> = recheck(scores.iter().copied().enumerate(), 5.0, 1.0, near(2.0, 2.0));
        assert_eq!((hit.label, hit.best, hit.second), (1, 2.0, 2.0));
        let every = |j: usize| [7.0, 9.0, 8.0, 1.0][j];
        let hit: Hit<f64> = recheck(
            scores.iter().copied().enumerate(),
            5.0,
            f64::INFINITY,
            every,
        );
        assert_eq!((hit.label, hit.best, hit.second), (3, 1.0, 7.0));
    }
}
