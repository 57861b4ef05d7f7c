//! The distances between codes, and the search of a row among the codes near its own.
//!
//! A row at distance `u` from its code `a`, where `s` is the distance from `a` to its
//! nearest other code, can only be nearer to codes inside the ball of radius `2u + s`
//! around `a`, and is further than `u + s` from every code outside it (triangle
//! inequality). With each code's other codes sorted by distance from it, a row whose bounds
//! fail is compared with the codes in that ball only: the ball search of Newling and
//! Fleuret's Exponion ("Fast k-means with accurate bounds", ICML 2016), on exact sorted
//! lists rather than their annuli.

use crate::assign::{lane_sq_dists, Codebook};
use crate::float::Float;
use crate::parallel::Exec;

/// More codes than this keep no sorted lists (they would take `12 k^2` bytes).
const MAX_CODES: usize = 1024;

/// A ball holding more than this share of the codes is not searched: comparing the row
/// with every code in the register-tiled kernel costs less.
const MAX_BALL_SHARE: f64 = 0.25;

/// Distances between the codes of one code book.
#[derive(Debug)]
pub(crate) struct CodeGaps {
    /// Half the distance from each code to its nearest other code.
    pub half: Vec<f64>,
    /// Per code, the other codes nearest first (`k - 1` each), when kept.
    near: Option<Near>,
}

/// Each code's other codes, nearest first.
#[derive(Debug)]
struct Near {
    /// `k - 1` distances per code, ascending.
    dists: Vec<f64>,
    /// The codes at those distances.
    codes: Vec<u32>,
    /// Per code, the smallest radius of a ball with too many codes to search.
    crowded: Vec<f64>,
}

/// A row's nearest code found by [`CodeGaps::search`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub label: usize,
    /// Its distance (to within rounding).
    pub best: f64,
    /// A lower bound of the distance to every other code.
    pub lower: f64,
}

impl CodeGaps {
    /// The gaps between the `k` codes of `centers` (row-major, `d` features), with each
    /// code's sorted list of the others unless `k` is large.
    pub(crate) fn new(exec: &Exec, centers: &[f64], k: usize, d: usize) -> Self {
        let keep = k <= MAX_CODES;
        let everyone: Vec<u32> = (0..k as u32).collect();
        let rows = exec.map((0..k).collect(), |a| {
            let mut sq = vec![0.0; k];
            lane_sq_dists(&centers[a * d..(a + 1) * d], centers, &everyone, &mut sq);
            let others = everyone
                .iter()
                .zip(&sq)
                .filter(|(&j, _)| j as usize != a)
                .map(|(&j, &v)| (v.sqrt(), j));
            let nearest = others.clone().fold(f64::INFINITY, |m, (v, _)| m.min(v));
            let mut list: Vec<(f64, u32)> = if keep { others.collect() } else { vec![] };
            list.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
            (0.5 * nearest, list)
        });
        let half = rows.iter().map(|r| r.0).collect();
        let most = (MAX_BALL_SHARE * k as f64) as usize;
        let near = keep.then(|| Near {
            crowded: rows
                .iter()
                .map(|r| r.1.get(most).map_or(f64::INFINITY, |p| p.0))
                .collect(),
            dists: rows.iter().flat_map(|r| r.1.iter().map(|p| p.0)).collect(),
            codes: rows.iter().flat_map(|r| r.1.iter().map(|p| p.1)).collect(),
        });
        CodeGaps { half, near }
    }

    /// Whether any gap is NaN (the code book holds NaN).
    pub(crate) fn has_nan(&self) -> bool {
        self.half.iter().any(|v| v.is_nan())
    }

    /// The nearest code of row `x`, whose code `a` is at squared distance `own` (`u`
    /// squared), found among the codes within `2u + s` of `a` where `apart` (a test with a
    /// margin for rounding) tells the nearest from the rest. `None` when the lists were not
    /// kept, the ball holds too many codes, or the nearest is not apart from the others:
    /// the row is then compared with every code. `codes` and `sq` are scratch.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search<C: Float>(
        &self,
        cb: &Codebook<C>,
        x: &[C],
        (a, own): (usize, C),
        margin: f64,
        codes: &mut Vec<u32>,
        sq: &mut Vec<C>,
        apart: impl Fn(f64, f64) -> bool,
    ) -> Option<Found> {
        let near = self.near.as_ref()?;
        let u = own.to_f64().sqrt();
        let gap = 2.0 * self.half[a];
        let radius = 2.0 * u + gap;
        if !radius.is_finite() {
            return None;
        }
        let reach = radius * (1.0 + margin);
        if reach >= near.crowded[a] {
            return None;
        }
        let others = self.half.len() - 1;
        let list = a * others..(a + 1) * others;
        let count = near.dists[list.clone()]
            .iter()
            .position(|&v| v > reach)
            .unwrap_or(others);
        codes.clear();
        codes.extend(&near.codes[list.start..list.start + count]);
        sq.clear();
        sq.resize(codes.len(), C::ZERO);
        cb.lane_sq_dists(x, codes, sq);
        let (mut best, mut second, mut label) = (own, C::INFINITY, a);
        for (&j, &v) in codes.iter().zip(sq.iter()) {
            if v < best {
                second = if best < second { best } else { second };
                (best, label) = (v, j as usize);
            } else if v < second {
                second = v;
            }
        }
        // The ball holds `a`'s nearest other code, at most `u + gap` from the row, and every
        // code outside it is further than that: so the second found bounds them all.
        let (best, second) = (best.to_f64().sqrt(), second.to_f64().sqrt());
        apart(best, second).then_some(Found {
            label,
            best,
            lower: second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::{brute, sq_dist};

    /// Wherever the ball search answers, it answers what a comparison with every code
    /// gives, for a row searched from any code (not only its nearest).
    #[test]
    fn ball_search_agrees_with_brute_force() {
        let (k, d) = (40, 6);
        let mut rnd = crate::test_uniforms(7);
        // Codes in clusters of four, so that balls hold a few codes each.
        let centres: Vec<f64> = (0..k / 4 * d).map(|_| 40.0 * rnd()).collect();
        let book: Vec<f64> = (0..k * d)
            .map(|i| centres[(i / d / 4) * d + i % d] + rnd())
            .collect();
        let x: Vec<f64> = (0..500 * d)
            .map(|i| centres[(i / d % (k / 4)) * d + i % d] + 2.0 * rnd())
            .collect();
        let cb = Codebook::new(&book, k, d);
        let gaps = CodeGaps::new(&Exec::with_threads(2).unwrap(), &book, k, d);
        let margin = 1e-12;
        let apart = |near: f64, far: f64| near * (1.0 + margin) < far * (1.0 - margin);
        let (mut codes, mut sq) = (Vec::new(), Vec::new());
        let mut answered = 0;
        for (i, (row, (label, best))) in x.chunks(d).zip(brute(&x, &book, d)).enumerate() {
            // From the nearest code, and from a code of a neighbouring cluster.
            for a in [label as usize, (label as usize + 4 * (1 + i % 3)) % k] {
                let own = sq_dist(row, &book[a * d..(a + 1) * d]);
                let search = gaps.search(&cb, row, (a, own), margin, &mut codes, &mut sq, apart);
                let Some(found) = search else { continue };
                answered += 1;
                assert_eq!(found.label, label as usize, "row {i} from {a}");
                assert!((found.best - best.sqrt()).abs() <= 1e-12 * best.sqrt());
                for (j, c) in book.chunks(d).enumerate() {
                    if j != found.label {
                        // A bound to within rounding.
                        let v = sq_dist(row, c).sqrt();
                        assert!(found.lower <= v * (1.0 + 1e-12), "row {i} code {j}");
                    }
                }
            }
        }
        // Most searches from the nearest code stay inside a small ball.
        assert!(answered > 400, "{answered}");
    }

    #[test]
    fn half_gaps_and_sorted_lists() {
        let book = [0.0, 0.0, 3.0, 0.0, 0.0, 1.0, 10.0, 10.0];
        let gaps = CodeGaps::new(&Exec::with_threads(1).unwrap(), &book, 4, 2);
        assert_eq!(gaps.half, [0.5, 1.5, 0.5, 0.5 * 149f64.sqrt()]);
        let near = gaps.near.as_ref().unwrap();
        assert_eq!(near.codes[..3], [2, 1, 3]);
        assert_eq!(near.dists[..3], [1.0, 3.0, 200f64.sqrt()]);
        // A quarter of four codes: a ball holding more than one other code is crowded.
        assert_eq!(near.crowded[0], 3.0);
        assert!(!gaps.has_nan());
    }
}
