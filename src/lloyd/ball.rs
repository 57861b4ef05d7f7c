//! The distances between codes, and the search of a row among the codes near its own.
//!
//! A row at distance `u` from its code `a`, where `s` is the distance from `a` to its
//! nearest other code, can only be nearer to codes inside the ball of radius `2u + s`
//! around `a`, and is further than `u + s` from every code outside it (triangle
//! inequality). With each code's other codes sorted by distance from it, a row whose bounds
//! fail is compared with the codes in that ball only: the ball search of Newling and
//! Fleuret's Exponion ("Fast k-means with accurate bounds", ICML 2016), on exact sorted
//! lists rather than their annuli. A code's list is made when a row of it is first
//! searched, unless a ball around the code surely holds every code. Past
//! [`MAX_CODES`] no lists are kept and the half gaps that Hamerly's test reads are lower
//! bounds from the register-tiled kernel.

use crate::assign::{lane_sq_dists, lane_sq_dists_all, sq_dist, Codebook, Hit};
use crate::float::Float;
use crate::parallel::Exec;
use std::sync::OnceLock;

/// More codes than this keep no sorted lists (they would take up to `3 k^2` bytes).
const MAX_CODES: usize = 1024;

/// Codes per parallel task of [`half_gaps`].
const GAP_ROWS: usize = 256;

/// Codes per parallel task of [`exact_half_gaps`].
const GAP_BLOCK: usize = 32;

/// Up to this many products (`k^2 d`, twice what [`exact_half_gaps`] measures) the gaps
/// are measured on the calling thread: at 64 codes of 16 features a step's motion (the
/// codes' moves and gaps) took 25 us so, and 100 us with the gaps through the pool (the
/// hand-off).
const GAPS_ON_CALLER: usize = 1 << 19;

/// A ball holding more than this share of the codes is not searched: comparing the row
/// with every code in the register-tiled kernel costs less.
const MAX_BALL_SHARE: f64 = 0.25;

/// Distances between the codes of one code book.
#[derive(Debug)]
pub(crate) struct CodeGaps {
    /// A lower bound of half the distance from each code to its nearest other code.
    pub half: Vec<f64>,
    /// Per code, its nearest other codes, nearest first, when kept.
    near: Option<Near>,
}

/// Each code's nearest other codes, listed when a row of the code is first searched:
/// where no ball is small enough to search (many features, overlapping clusters) no list
/// is made. (Sorting every code's list took a tenth of a Lloyd iteration of 200,000 rows
/// against 1,024 codes of 128 features, where no search ever used one.)
#[derive(Debug)]
struct Near {
    /// The codes, row-major.
    centers: Vec<f64>,
    d: usize,
    /// Per code, a radius (to rounding) of a ball around it that holds every code: its
    /// distance to the codes' mean and the furthest code's.
    all_within: Vec<f64>,
    /// Per code, its list, once made.
    lists: Vec<OnceLock<NearList>>,
}

/// A code's nearest other codes, as far as a search reads: those within its crowded
/// radius, and the one at it.
#[derive(Debug)]
struct NearList {
    /// Distances, ascending.
    dists: Vec<f64>,
    /// The codes at those distances.
    codes: Vec<u32>,
    /// The smallest radius of a ball with too many codes to search.
    crowded: f64,
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
    /// The gaps between the `k` codes of `centers` (row-major, `d` features); unless `k` is
    /// large, lists of each code's nearest others are made as searches need them.
    pub(crate) fn new(exec: &Exec, centers: &[f64], k: usize, d: usize) -> Self {
        let near = (k <= MAX_CODES).then(|| {
            let mut mean = vec![0.0; d];
            for code in centers.chunks_exact(d.max(1)) {
                mean.iter_mut().zip(code).for_each(|(m, &v)| *m += v);
            }
            mean.iter_mut().for_each(|m| *m /= k as f64);
            let from_mean: Vec<f64> = (centers.chunks_exact(d.max(1)))
                .map(|c| sq_dist(c, &mean).sqrt())
                .collect();
            let furthest = from_mean.iter().fold(0.0, |m: f64, &v| m.max(v));
            Near {
                centers: centers.to_vec(),
                d,
                all_within: from_mean.iter().map(|&v| v + furthest).collect(),
                lists: (0..k).map(|_| OnceLock::new()).collect(),
            }
        });
        let half = if k <= MAX_CODES {
            exact_half_gaps(exec, centers, k, d)
        } else {
            half_gaps(exec, centers, k, d)
        };
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
        // Twice the half gap is at most the gap: if even that ball holds every code, the
        // list is not needed.
        if (2.0 * u + 2.0 * self.half[a]) * (1.0 + margin) >= near.all_within[a] {
            return None;
        }
        let list = near.lists[a].get_or_init(|| near.list(a));
        let gap = *list.dists.first()?;
        let radius = 2.0 * u + gap;
        if !radius.is_finite() {
            return None;
        }
        let reach = radius * (1.0 + margin);
        if reach >= list.crowded {
            return None;
        }
        let count = (list.dists.iter())
            .position(|&v| v > reach)
            .unwrap_or(list.dists.len());
        codes.clear();
        codes.extend(&list.codes[..count]);
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

impl Near {
    /// Code `a`'s list: its distance to every other code by the direct formula, and the
    /// nearest [`MAX_BALL_SHARE`] of them and one more kept, sorted.
    fn list(&self, a: usize) -> NearList {
        let (d, k) = (self.d, self.lists.len());
        let others: Vec<u32> = (0..k as u32).filter(|&j| j as usize != a).collect();
        let mut sq = vec![0.0; others.len()];
        lane_sq_dists(
            &self.centers[a * d..(a + 1) * d],
            &self.centers,
            &others,
            &mut sq,
        );
        let mut list: Vec<(f64, u32)> = sq.into_iter().zip(others).collect();
        let most = (MAX_BALL_SHARE * k as f64) as usize;
        let order = |p: &(f64, u32), q: &(f64, u32)| p.0.total_cmp(&q.0);
        if most + 1 < list.len() {
            list.select_nth_unstable_by(most + 1, order);
            list.truncate(most + 1);
        }
        list.sort_unstable_by(order);
        let dists: Vec<f64> = list.iter().map(|p| p.0.sqrt()).collect();
        NearList {
            crowded: dists.get(most).copied().unwrap_or(f64::INFINITY),
            codes: list.iter().map(|p| p.1).collect(),
            dists,
        }
    }
}

/// Half the distance from each of the `k` codes of `centers` (row-major, `d` features) to
/// its nearest other code by the direct formula, each pair measured once (the formula is
/// symmetric, bit for bit): the values a full measurement gives, at half its cost. Each
/// block of [`GAP_BLOCK`] codes is measured against itself and the codes after it by the
/// kernel that keeps several pairs in registers (the same bits as one pair at a time); the
/// pairs below the block's diagonal are measured and not read. One thread of a Zen 4, 1,024
/// codes of `f64`: 128 features 12.5-13 ms one pair at a time, 10 ms in blocks; 768
/// features 62 ms and 37 ms.
fn exact_half_gaps(exec: &Exec, centers: &[f64], k: usize, d: usize) -> Vec<f64> {
    let block = |first: usize| {
        let rows = GAP_BLOCK.min(k - first);
        let mut sq = vec![0.0; rows * (k - first)];
        let later = &centers[first * d..];
        lane_sq_dists_all(&later[..rows * d], later, d, &mut sq);
        sq
    };
    let firsts: Vec<usize> = (0..k).step_by(GAP_BLOCK).collect();
    let blocks: Vec<Vec<f64>> = if k * k * d <= GAPS_ON_CALLER {
        firsts.into_iter().map(block).collect()
    } else {
        exec.map(firsts, block)
    };
    let mut nearest = vec![f64::INFINITY; k];
    for (first, sq) in (0..k).step_by(GAP_BLOCK).zip(&blocks) {
        let width = k - first;
        for (a, row) in (first..).zip(sq.chunks_exact(width)) {
            for (j, &v) in (a + 1..).zip(&row[a + 1 - first..]) {
                nearest[a] = nearest[a].min(v);
                nearest[j] = nearest[j].min(v);
            }
        }
    }
    nearest.iter().map(|&v| 0.5 * v.sqrt()).collect()
}

/// Half the distance from each of the `k` codes of `centers` (row-major, `d` features) to
/// its nearest other code, bounded below, for many codes (where every pair by the direct
/// formula, `k^2 d`, would cost more than a Lloyd iteration): the codes ranked against each
/// other by the register-tiled kernel, each code's own nearest being itself (or a code
/// equal to it), and the kernel's lower bound of the others' squared distance taken. The
/// bound is looser by the kernel's rounding margin, which grows with the codes' norms: a
/// fifth below the gap for codes far from the origin in the portable build's `f32`
/// ranking (the test's codes around 100, spread 3). 4,096 codes of 128 features: 33 ms.
fn half_gaps(exec: &Exec, centers: &[f64], k: usize, d: usize) -> Vec<f64> {
    let cb = Codebook::new(centers, k, d);
    let tasks = centers.chunks(GAP_ROWS * d.max(1)).collect();
    let halves = exec.map(tasks, |rows: &[f64]| {
        let mut hits = vec![Hit::default(); rows.len() / d.max(1)];
        let mut scratch = vec![0.0; cb.scratch_len()];
        cb.nearest_rows(rows, &mut hits, &mut scratch, false);
        let half = |h: &Hit<f64>| 0.5 * if h.second < 0.0 { 0.0 } else { h.second }.sqrt();
        hits.iter().map(half).collect::<Vec<f64>>()
    });
    halves.concat()
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
        let apart = |near: f64, far: f64| crate::lloyd::bounds::apart(near, far, margin);
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
        // A quarter of four codes: a ball holding more than one other code is crowded, and
        // each list holds the nearest two others.
        let list = near.list(0);
        assert_eq!(list.codes, [2, 1]);
        assert_eq!(list.dists, [1.0, 3.0]);
        assert_eq!(list.crowded, 3.0);
        // Every code within its distance to the mean plus the furthest code's.
        // (Mean (3.25, 2.75); code 3 the furthest from it.)
        let furthest = (6.75f64.powi(2) + 7.25f64.powi(2)).sqrt();
        assert_eq!(near.all_within[3], 2.0 * furthest);
        assert!(!gaps.has_nan());
    }

    /// Each code's list is the start of all the others sorted by the direct formula's
    /// distance, up to and including the crowded radius; the half gaps are those of the
    /// nearest, bit for bit (measured in blocks of codes: a last block short, and enough
    /// features for the blocks' own kernel); a repeated code has a gap of zero.
    #[test]
    fn lists_are_the_nearest_codes_in_order() {
        let (k, d) = (203, 72);
        let mut rnd = crate::test_uniforms(21);
        let mut book: Vec<f64> = (0..k * d).map(|_| 5.0 * rnd()).collect();
        book.copy_within(0..d, 100 * d);
        let gaps = CodeGaps::new(&Exec::with_threads(2).unwrap(), &book, k, d);
        let near = gaps.near.as_ref().unwrap();
        for a in 0..k {
            let mut all: Vec<(f64, u32)> = (0..k)
                .filter(|&j| j != a)
                .map(|j| {
                    (
                        sq_dist(&book[a * d..][..d], &book[j * d..][..d]).sqrt(),
                        j as u32,
                    )
                })
                .collect();
            all.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
            let list = near.list(a);
            assert_eq!(list.dists.len(), 51);
            // Each listed code at its listed distance (to rounding: lanes against a plain
            // sum), ascending, every other no nearer than the last.
            for (&j, &v) in list.codes.iter().zip(&list.dists) {
                let e = all.iter().find(|p| p.1 == j).unwrap().0;
                assert!((v - e).abs() <= 1e-14 * e, "code {a}: {j}");
            }
            assert!(list.dists.is_sorted());
            let last = list.dists[50];
            for &(e, j) in all.iter().filter(|p| !list.codes.contains(&p.1)) {
                assert!(e >= last * (1.0 - 1e-14), "code {a}: {j}");
            }
            assert_eq!(list.crowded, last);
            assert!(all.last().unwrap().0 <= near.all_within[a] * (1.0 + 1e-14));
            // The half gap is half the list's nearest, bit for bit, and the brute force's.
            let half = gaps.half[a];
            assert_eq!(half, 0.5 * list.dists[0]);
            assert!(
                (half - 0.5 * all[0].0).abs() <= 1e-14 * all[0].0,
                "code {a}"
            );
        }
        assert_eq!((gaps.half[0], gaps.half[100]), (0.0, 0.0));
    }

    /// Past [`MAX_CODES`] no lists are kept and the half gaps come from the tiled kernel:
    /// lower bounds of the exact ones, close to them for codes around the origin; zero for
    /// a repeated code.
    #[test]
    fn many_codes_keep_half_gaps_only() {
        let (k, d) = (MAX_CODES + 37, 40);
        for offset in [0.0, 100.0] {
            let mut rnd = crate::test_uniforms(23);
            let mut book: Vec<f64> = (0..k * d).map(|_| 3.0 * rnd() + offset).collect();
            book.copy_within(7 * d..8 * d, 900 * d);
            let gaps = CodeGaps::new(&Exec::with_threads(2).unwrap(), &book, k, d);
            assert!(gaps.near.is_none());
            for a in 0..k {
                let nearest = (0..k)
                    .filter(|&j| j != a)
                    .map(|j| sq_dist(&book[a * d..][..d], &book[j * d..][..d]).sqrt())
                    .fold(f64::INFINITY, f64::min);
                let (half, exact) = (gaps.half[a], 0.5 * nearest);
                assert!(half <= exact * (1.0 + 1e-12), "code {a}: {half} > {exact}");
                if offset == 0.0 {
                    assert!(half >= exact * (1.0 - 1e-3), "code {a}: {half} < {exact}");
                }
            }
            assert_eq!((gaps.half[7], gaps.half[900]), (0.0, 0.0));
        }
    }
}
