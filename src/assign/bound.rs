//! The rounding bound of the dot-product scores: when the best score is certain, and the
//! bounds on the distances that a certain best gives.

use super::Hit;
use crate::float::Float;

/// The bounds of a row whose two best scores `|c|^2 - 2 x.c` are `best` and `second`, if
/// they are further apart than twice the rounding bound of a score, `(d + 4) * eps *
/// (|x|^2 + max |c|^2)` (`norms`): `(upper, lower)`, an upper bound of the best code's
/// squared distance and a lower bound of every other code's. `None` for near or exact ties,
/// overflow and NaN.
pub(super) fn settle(
    best: f64,
    second: f64,
    norms: (f64, f64),
    d: usize,
    eps: f64,
) -> Option<(f64, f64)> {
    let margin = margin(norms, d, eps);
    (second - best > margin).then(|| {
        (
            best + norms.0 + margin,
            (second + norms.0 - margin).max(0.0),
        )
    })
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
