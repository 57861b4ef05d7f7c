//! A code book in groups (for k-means with group bounds, [`crate::lloyd`]): each group's
//! codes in whole panels of the kernel's, so that a tile of rows is compared, by the
//! register-tiled kernel, with the groups it needs only, and gets besides its nearest code
//! a lower bound of its distance to each of those groups' other codes. (Groups of whole
//! panels waste nothing: [`crate::lloyd`] makes them so, but for the last.)

use super::bound::{margin, recheck, settle, split_at_cut};
use super::codebook::{code_norm, padded_to, tile_scores, to_panel};
use super::dot::{two_smallest, LANES, ROWS};
use super::exact::{sq_dist, sq_norm};
use super::narrow::{narrow_rows, narrowable, NARROW_EPS};
use super::quant::{as_f32, integer_ranking, QuantBook, QuantTile};
use super::Hit;
use crate::float::Float;
use std::sync::OnceLock;

/// A code book whose codes are laid out group by group.
#[derive(Debug)]
pub(crate) struct GroupedBook<C> {
    d: usize,
    /// The codes, row-major, in their own order (for exact distances).
    rows: Vec<C>,
    /// The codes in panels of [`LANES`] (as in [`super::Codebook`]), group after group,
    /// each group padded to whole panels with zero codes: laid out at the first tile that
    /// is scored in `C` ([`GroupedBook::panels`]). Where tiles are ranked by integers that
    /// is seldom, and a k-means step makes a book afresh (at 768 x 1,024 in `f64`, laying
    /// out the panels of both types was a fifth of a step that compared few rows).
    panels: OnceLock<Vec<C>>,
    /// `|c|^2` of each slot of the panels (padding: +inf, so it never wins).
    norms: Vec<C>,
    /// The code in each slot (padding: `u32::MAX`).
    code: Vec<u32>,
    /// The slot of each code.
    slot: Vec<usize>,
    /// Where each group's slots start, and the number of slots.
    starts: Vec<usize>,
    /// The largest `|c|^2`.
    max_norm: C,
    /// For `f64` codes whose values are all [`narrowable`], the same book rounded to
    /// `f32`: tiles are ranked at single-precision speed first, as by
    /// [`Codebook::nearest_rows`](super::Codebook::nearest_rows).
    narrow: Option<Box<GroupedBook<f32>>>,
    /// For `f32` codes where [`integer_ranking`] pays, the same book rounded to 16-bit
    /// integers: tiles are ranked by it, and only the codes near a row's best measured.
    /// (`f64` codes are ranked by their `narrow` book's, see [`GroupedBook::integer_book`].)
    quant: Option<Box<QuantBook>>,
}

/// The buffers of [`GroupedBook::nearest_in`].
pub(crate) struct GroupedScratch<C> {
    scores: Vec<C>,
    padded: Vec<C>,
    /// Scores by the narrowed or the integer book.
    ranking_scores: Vec<f32>,
    narrow_rows: Vec<f32>,
    /// A tile of rows rounded to integers.
    tile: Option<QuantTile>,
}

impl<C: Float> GroupedBook<C> {
    /// The `k` codes of `rows` (row-major, `d` features, five or more) in the groups
    /// `members` (each a list of codes, ascending; every code in one group).
    pub(crate) fn new(rows: &[C], d: usize, members: &[Vec<u32>]) -> Self {
        let mut starts = vec![0];
        for m in members {
            starts.push(starts.last().unwrap_or(&0) + m.len().div_ceil(LANES) * LANES);
        }
        let slots = *starts.last().unwrap_or(&0);
        let mut norms = vec![C::INFINITY; slots];
        let mut code = vec![u32::MAX; slots];
        let mut slot_of = vec![0; rows.len() / d.max(1)];
        let mut max_norm = C::ZERO;
        for (m, &start) in members.iter().zip(&starts) {
            for (i, &j) in m.iter().enumerate() {
                let slot = start + i;
                let c = &rows[j as usize * d..(j as usize + 1) * d];
                norms[slot] = code_norm(c, &mut max_norm);
                code[slot] = j;
                slot_of[j as usize] = slot;
            }
        }
        let narrow = (C::WIDE && rows.iter().all(|&v| narrowable(v))).then(|| {
            let rows: Vec<f32> = rows.iter().map(|&v| v.to_f64() as f32).collect();
            let mut narrow = GroupedBook::new(&rows, d, members);
            if let Some(quant) = narrow.quant.as_deref_mut() {
                quant.cover_narrowing();
            }
            Box::new(narrow)
        });
        let quant = (!C::WIDE && integer_ranking(d) && slots > 0)
            .then(|| {
                let codes = as_f32(rows);
                QuantBook::new(d, slots, |s| {
                    let j = code[s] as usize;
                    (code[s] != u32::MAX)
                        .then(|| (&codes[j * d..(j + 1) * d], norms[s].to_f64() as f32))
                })
            })
            .flatten()
            .map(Box::new);
        GroupedBook {
            d,
            narrow,
            quant,
            rows: rows.to_vec(),
            panels: OnceLock::new(),
            norms,
            code,
            slot: slot_of,
            starts,
            max_norm,
        }
    }

    /// Buffers for [`GroupedBook::nearest_in`].
    pub(crate) fn scratch(&self) -> GroupedScratch<C> {
        GroupedScratch {
            scores: vec![C::ZERO; ROWS * self.slots()],
            padded: Vec::new(),
            ranking_scores: vec![
                0.0;
                if self.narrow.is_some() || self.quant.is_some() {
                    ROWS * self.slots()
                } else {
                    0
                }
            ],
            narrow_rows: Vec::new(),
            tile: None,
        }
    }

    /// The codes rounded to integers, if rows are ranked by them: an `f32` book's own, or
    /// for `f64` codes their `f32` rounding's (which [covers the
    /// narrowing](QuantBook::cover_narrowing)).
    fn integer_book(&self) -> Option<&QuantBook> {
        (self.quant.as_deref()).or_else(|| self.narrow.as_deref()?.quant.as_deref())
    }

    /// The codes in panels (see the field), laid out at the first call.
    fn panels(&self) -> &[C] {
        self.panels.get_or_init(|| {
            let d = self.d;
            let mut panels = vec![C::ZERO; self.slots() * d];
            for (slot, &j) in self.code.iter().enumerate() {
                if j != u32::MAX {
                    to_panel(&mut panels, slot, &self.rows[j as usize * d..][..d]);
                }
            }
            panels
        })
    }

    /// Slots of the panels (the codes and the last panel's padding).
    fn slots(&self) -> usize {
        self.norms.len()
    }

    /// Up to [`ROWS`] rows (`x`, row-major) compared with the codes of the groups `wanted`
    /// (not empty): each row's nearest among those in `hits` (the label of exact
    /// arithmetic, lowest index on ties; `best` an upper bound of its squared distance,
    /// `second` a lower bound of the others'), and in `lower` (a run of one value per group
    /// for each row) a lower bound of the squared distance to each wanted group's codes
    /// other than the nearest (infinity for none); the other groups' values are left as
    /// they are.
    pub(crate) fn nearest_in(
        &self,
        x: &[C],
        wanted: &[u32],
        hits: &mut [Hit<C>],
        lower: &mut [f64],
        scratch: &mut GroupedScratch<C>,
    ) {
        let (d, slots, t) = (self.d, self.slots(), self.starts.len() - 1);
        let full = padded_to(x, ROWS * d, d, &mut scratch.padded);
        let runs = self.runs(wanted);
        // Ranked by integer products, and the codes near each row's best measured.
        if let Some(quant) = self.integer_book() {
            let tile = scratch.tile.get_or_insert_with(|| quant.new_tile());
            if quant.round_tile(full, d, tile) {
                let scores = &mut scratch.ranking_scores;
                for &(a, b) in &runs {
                    quant.scores((a, b), tile, (&mut scores[a..], slots));
                }
                for (p, hit) in hits.iter_mut().enumerate() {
                    let row = &x[p * d..(p + 1) * d];
                    let norms = (sq_norm(row).to_f64(), self.max_norm.to_f64());
                    let margin = tile.margin(p, norms, d);
                    let s = &mut scores[p * slots..(p + 1) * slots];
                    *hit = self.pick(row, s, &runs, norms.0, margin);
                    let out = &mut lower[p * t..(p + 1) * t];
                    self.group_bounds(s, wanted, (hit.label as u32, norms.0), margin, out);
                }
                return;
            }
        }
        // Ranked in f32 where every row's nearest is certain there.
        if let Some(narrow) = self.narrow.as_deref() {
            if narrow_rows(full, &mut scratch.narrow_rows) {
                let scores = &mut scratch.ranking_scores;
                let x_norms = narrow.scores_in(&scratch.narrow_rows, &runs, scores);
                let max_norm = f64::from(narrow.max_norm);
                let margins: Vec<f64> = (x_norms.iter())
                    .map(|&n| margin((n.into(), max_norm), d, NARROW_EPS))
                    .collect();
                let settled: Option<Vec<_>> = (0..hits.len())
                    .map(|p| {
                        let s = &scores[p * slots..(p + 1) * slots];
                        narrow.settled(s, &runs, x_norms[p].into(), margins[p]).ok()
                    })
                    .collect();
                if let Some(settled) = settled {
                    for (p, (hit, (slot, best, second))) in hits.iter_mut().zip(settled).enumerate()
                    {
                        let label = self.code[slot];
                        *hit = Hit {
                            label: label as i32,
                            best: C::from_f64(best),
                            second: C::from_f64(second),
                        };
                        let s = &mut scores[p * slots..(p + 1) * slots];
                        let out = &mut lower[p * t..(p + 1) * t];
                        let xn = x_norms[p].into();
                        narrow.group_bounds(s, wanted, (label, xn), margins[p], out);
                    }
                    return;
                }
            }
        }
        let eps = C::EPSILON.to_f64();
        let scores = &mut scratch.scores;
        let x_norms = self.scores_in(full, &runs, scores);
        for (p, hit) in hits.iter_mut().enumerate() {
            let s = &mut scores[p * slots..(p + 1) * slots];
            let norms = (x_norms[p].to_f64(), self.max_norm.to_f64());
            let margin = margin(norms, d, eps);
            *hit = self.pick(&x[p * d..(p + 1) * d], s, &runs, norms.0, margin);
            let out = &mut lower[p * t..(p + 1) * t];
            self.group_bounds(s, wanted, (hit.label as u32, norms.0), margin, out);
        }
    }

    /// The hit of `row` from its `scores` in `runs`, each within half of `margin` of its
    /// exact score (`x_norm` is `|x|^2`): settled if its best score is certain, else
    /// [`GroupedBook::recheck`]ed.
    fn pick<N: Float>(
        &self,
        row: &[C],
        scores: &[N],
        runs: &[(usize, usize)],
        x_norm: f64,
        margin: f64,
    ) -> Hit<C> {
        match self.settled(scores, runs, x_norm, margin) {
            Ok((slot, upper, lower)) => Hit {
                label: self.code[slot] as i32,
                best: C::from_f64(upper),
                second: C::from_f64(lower),
            },
            Err(best) => self.recheck(row, scores, runs, (best, x_norm, margin)),
        }
    }

    /// The panels of the groups `wanted` as runs of neighbouring slots.
    fn runs(&self, wanted: &[u32]) -> Vec<(usize, usize)> {
        let mut computed = vec![false; self.slots() / LANES];
        for &g in wanted {
            let (a, b) = (self.starts[g as usize], self.starts[g as usize + 1]);
            if a < b {
                computed[a / LANES..=(b - 1) / LANES].fill(true);
            }
        }
        let mut runs = Vec::new();
        let mut panel = 0;
        while panel < computed.len() {
            let run = (computed[panel..].iter())
                .take_while(|&&c| c == computed[panel])
                .count();
            if computed[panel] {
                runs.push((panel * LANES, (panel + run) * LANES));
            }
            panel += run;
        }
        runs
    }

    /// Scores `|c|^2 - 2 x.c` of the [`ROWS`] rows of `full` in the slots of `runs`, into
    /// `scores` (a run of every slot for each row; other slots not written), and the
    /// rows' `|x|^2`.
    fn scores_in(&self, full: &[C], runs: &[(usize, usize)], scores: &mut [C]) -> [C; ROWS] {
        let (d, slots) = (self.d, self.slots());
        let mut x_norms = [C::ZERO; ROWS];
        for &(a, b) in runs {
            let panels = &self.panels()[a * d..b * d];
            let out = (&mut scores[a..], slots);
            x_norms = tile_scores(panels, &self.norms[a..b], b - a, d, full, out);
        }
        x_norms
    }

    /// The nearest slot of a row with `scores` in `runs`, if its best score is certain
    /// (`margin` and `x_norm` as [`settle`] takes them): the slot, an upper bound of its
    /// squared distance and a lower bound of the others'; if not, the best score.
    fn settled<N: Float>(
        &self,
        scores: &[N],
        runs: &[(usize, usize)],
        x_norm: f64,
        margin: f64,
    ) -> Result<(usize, f64, f64), f64> {
        let (best, second, slot) = smallest_in_runs(scores, runs);
        let (best, second) = (best.to_f64(), second.to_f64());
        settle(best, second, x_norm, margin).map_or(Err(best), |(u, l)| Ok((slot, u, l)))
    }

    /// A row's lower bounds of the squared distance to the codes of each wanted group but
    /// its nearest, `label`, from its `scores` (each within half of `margin`), into `out`.
    /// (The nearest's score is set aside meanwhile, and put back.)
    fn group_bounds<N: Float>(
        &self,
        scores: &mut [N],
        wanted: &[u32],
        (label, x_norm): (u32, f64),
        margin: f64,
        out: &mut [f64],
    ) {
        // A NaN score needs a row or a code that is not finite, or a square that
        // overflows: then `|x|^2` or the margin is not finite, and every bound zero
        // (`max` passes over NaN).
        let own = self.slot[label as usize];
        let kept = std::mem::replace(&mut scores[own], N::INFINITY);
        group_lows(scores, (&self.starts, wanted), x_norm - margin, out);
        scores[own] = kept;
    }

    /// The hit of a row whose best score (`best`) in `runs` is not certain: the codes
    /// within `margin` of it measured by the direct formula, ties going to the lowest code
    /// index ([`recheck`] over those runs' codes).
    fn recheck<N: Float>(
        &self,
        row: &[C],
        scores: &[N],
        runs: &[(usize, usize)],
        (best, x_norm, margin): (f64, f64, f64),
    ) -> Hit<C> {
        let codes = |slots: &mut Vec<usize>| {
            slots.retain(|&s| self.code[s] != u32::MAX);
            slots.iter_mut().for_each(|s| *s = self.code[*s] as usize);
        };
        let near = |cut, found: &mut Vec<usize>| {
            let far = (runs.iter()).fold(f64::INFINITY, |far, &(a, b)| {
                far.min(split_at_cut(&scores[a..b], cut, a, found))
            });
            codes(found);
            far
        };
        let every = || {
            let mut every: Vec<usize> = runs.iter().flat_map(|&(a, b)| a..b).collect();
            codes(&mut every);
            every.sort_unstable();
            every
        };
        let d = self.d;
        let exact = |j: usize| sq_dist(row, &self.rows[j * d..(j + 1) * d]);
        recheck((best, x_norm, margin), near, every, exact)
    }
}

/// For each group `g` of `wanted` (the slots `starts[g]..starts[g + 1]` of `scores`,
/// whole panels of [`LANES`]): its smallest score plus `slack`, and at least zero, into
/// `out[g]`. NaN scores are passed over. One call per row: `f32` scores on a CPU with
/// AVX-512 by [`group_lows_512`], others by [`group_lows_lanes`] (the same values: the
/// smallest score does not depend on the order the scores are compared in).
fn group_lows<N: Float>(
    scores: &[N],
    (starts, wanted): (&[usize], &[u32]),
    slack: f64,
    out: &mut [f64],
) {
    #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
    if std::any::TypeId::of::<N>() == std::any::TypeId::of::<f32>()
        && is_x86_feature_detected!("avx512f")
    {
        // SAFETY: the CPU has AVX-512F (checked).
        return unsafe { group_lows_512(as_f32(scores), (starts, wanted), slack, out) };
    }
    group_lows_lanes(scores, (starts, wanted), slack, out);
}

/// [`group_lows`] of `f32` scores by AVX-512, sixteen groups at a time: each group's
/// panels folded into one register of its sixteen smallest, then the sixteen registers
/// merged into one of the groups' smallest, by halves swapped between registers (four
/// steps of two shuffles and a minimum each). One thread of a Zen 4, a row's scores in
/// cache, 32 groups of 32 codes: 167 ns a row lane by lane, 93 ns here; of 64 codes 259 and
/// 145 ns.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
#[target_feature(enable = "avx512f")]
unsafe fn group_lows_512(
    scores: &[f32],
    (starts, wanted): (&[usize], &[u32]),
    slack: f64,
    out: &mut [f64],
) {
    use std::arch::x86_64::*;
    // Halves of two registers' values side by side (by `_mm512_shuffle_f32x4`, quarters
    // of 128 bits, or `_mm512_shuffle_ps`, values within each quarter), and the smaller.
    macro_rules! merge {
        ($shuffle:ident, $lo:literal, $hi:literal, $a:expr, $b:expr) => {
            _mm512_min_ps($shuffle::<$lo>($a, $b), $shuffle::<$hi>($a, $b))
        };
    }
    let infinity = _mm512_set1_ps(f32::INFINITY);
    // The smallest of a panel's values, a NaN giving way to any other value.
    let panel_low = |panel: &[f32]| {
        let low = _mm512_min_ps(_mm512_loadu_ps(panel.as_ptr()), infinity);
        _mm512_min_ps(_mm512_loadu_ps(panel[LANES / 2..].as_ptr()), low)
    };
    // Where each group is one panel (group `g` starts at panel `g`), sixteen groups in a
    // row are read from sixteen panels in a row (taking each group's range from `starts`
    // cost twice as much).
    let single = (starts.iter().enumerate()).all(|(g, &s)| s == g * LANES);
    for batch in wanted.chunks(16) {
        let first = batch[0] as usize;
        let run = single
            && batch.len() == 16
            && (batch.iter().enumerate()).all(|(i, &g)| g as usize == first + i);
        let v: [__m512; 16] = std::array::from_fn(|i| {
            if run {
                return panel_low(&scores[(first + i) * LANES..(first + i + 1) * LANES]);
            }
            let Some(&g) = batch.get(i) else {
                return infinity;
            };
            let (a, b) = (starts[g as usize], starts[g as usize + 1]);
            (scores[a..b].chunks_exact(LANES))
                .fold(infinity, |m, panel| _mm512_min_ps(panel_low(panel), m))
        });
        // Register i's quarters 0 and 2 against 1 and 3 (eight values of i, eight of
        // i + 1), then quarters again (four of each of four groups), then values within
        // the quarters twice: value `4 j + m` of the last is group `4 m + j`'s smallest.
        let w: [__m512; 8] = std::array::from_fn(|i| {
            merge!(_mm512_shuffle_f32x4, 0x44, 0xee, v[2 * i], v[2 * i + 1])
        });
        let x: [__m512; 4] = std::array::from_fn(|i| {
            merge!(_mm512_shuffle_f32x4, 0x88, 0xdd, w[2 * i], w[2 * i + 1])
        });
        let y = [
            merge!(_mm512_shuffle_ps, 0x44, 0xee, x[0], x[1]),
            merge!(_mm512_shuffle_ps, 0x44, 0xee, x[2], x[3]),
        ];
        let mut lows = [0.0f32; 16];
        _mm512_storeu_ps(
            lows.as_mut_ptr(),
            merge!(_mm512_shuffle_ps, 0x88, 0xdd, y[0], y[1]),
        );
        for (i, &g) in batch.iter().enumerate() {
            out[g as usize] = (f64::from(lows[4 * (i % 4) + i / 4]) + slack).max(0.0);
        }
    }
}

simd! {
    /// [`group_lows`] for any scores, each group's panels taken lane by lane and its lanes
    /// merged pairwise (a function per group that passed over the row's own code lane by
    /// lane, with a scalar merge, was an eighth of a step that compared every row with
    /// every group).
    fn group_lows_lanes<N: Float>(
        scores: &[N],
        (starts, wanted): (&[usize], &[u32]),
        slack: f64,
        out: &mut [f64],
    ) {
        for &g in wanted {
            let (a, b) = (starts[g as usize], starts[g as usize + 1]);
            let mut m = [N::INFINITY; LANES];
            for chunk in scores[a..b].chunks_exact(LANES) {
                for (m, &v) in m.iter_mut().zip(chunk) {
                    *m = if v < *m { v } else { *m };
                }
            }
            let mut width = LANES;
            while width > 1 {
                width /= 2;
                for t in 0..width {
                    m[t] = if m[t + width] < m[t] { m[t + width] } else { m[t] };
                }
            }
            out[g as usize] = (m[0].to_f64() + slack).max(0.0);
        }
    }
}

/// [`two_smallest`] of the slot ranges `runs` of `scores` (each whole panels, ascending):
/// the smallest and second smallest score, and the first slot holding the smallest.
fn smallest_in_runs<C: Float>(scores: &[C], runs: &[(usize, usize)]) -> (C, C, usize) {
    let mut out = (C::INFINITY, C::INFINITY, 0);
    for &(a, b) in runs {
        let (best, second, slot) = two_smallest(&scores[a..b]);
        let (low, high) = if best < out.0 {
            (best, out.0)
        } else {
            (out.0, best)
        };
        let second = if second < out.1 { second } else { out.1 };
        let slot = if best < out.0 { a + slot } else { out.2 };
        out = (low, if high < second { high } else { second }, slot);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against subsets of groups (interleaved, and in ranges), each hit is brute force's
    /// nearest of the wanted codes (lowest index on ties), and the bounds are bounds;
    /// `f64` ranked in `f32` first, and (values `f32` cannot hold) not.
    #[test]
    fn nearest_in_wanted_groups_matches_brute_force() {
        for scale in [1.0, 1e-30] {
            nearest_in_wanted_groups(scale);
        }
    }

    fn nearest_in_wanted_groups(scale: f64) {
        let (k, d) = (70, 9);
        let (book, rows) = ties_and_midpoints(k, d, scale, 8);
        for members in groupings(k as u32) {
            let grouped = GroupedBook::new(&book, d, &members);
            assert_eq!(grouped.narrow.is_some(), scale == 1.0);
            assert_matches_brute_force(&grouped, &book, &rows, &members, 1e-12);
        }
    }

    /// `f32` codes, ranked by integer products where [`integer_ranking`] pays (33 and 64
    /// features; 33 an odd count, pairs padded; 9 in `f32`), and `f64` codes through their
    /// `f32` rounding, around the origin and far from it (where the integers resolve the
    /// codes coarsely and most rows are measured again).
    #[test]
    fn integer_ranked_groups_match_brute_force() {
        // Values near 1e-20 (squares subnormal in `f32`) are ranked in `f32`, and in `f64`
        // are not narrowed.
        for (d, offset, scale) in [
            (9, 0.0, 1.0),
            (33, 0.0, 1.0),
            (33, 1e3, 1.0),
            (64, 1e3, 1.0),
            (64, 0.0, 1e-20),
        ] {
            let (book, rows) = ties_and_midpoints(70, d, 1.0, 9);
            let moved =
                |x: &[f64]| -> Vec<f64> { x.iter().map(|&v| (v + offset) * scale).collect() };
            let (book, rows) = (moved(&book), moved(&rows));
            let narrowed = |x: &[f64]| -> Vec<f32> { x.iter().map(|&v| v as f32).collect() };
            let (book32, rows32) = (narrowed(&book), narrowed(&rows));
            for members in groupings(70) {
                let grouped = GroupedBook::new(&book, d, &members);
                let integers = integer_ranking(d) && scale == 1.0;
                assert_eq!(grouped.integer_book().is_some(), integers);
                assert_matches_brute_force(&grouped, &book, &rows, &members, 1e-12);
                let grouped = GroupedBook::new(&book32, d, &members);
                assert_eq!(grouped.quant.is_some(), integer_ranking(d));
                assert_matches_brute_force(&grouped, &book32, &rows32, &members, 1e-5);
            }
        }
    }

    /// `k` codes of `d` features and 13 rows (`scale` times uniforms): codes 40 and 69
    /// repeat codes 0 and 3, row 0 equals code 0, row 2 code 3, and row 1 lies halfway
    /// between codes 0 and 5.
    fn ties_and_midpoints(k: usize, d: usize, scale: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut next = crate::test_uniforms(seed);
        let mut book: Vec<f64> = (0..k * d).map(|_| scale * next()).collect();
        book.copy_within(0..d, 40 * d);
        book.copy_within(3 * d..4 * d, 69 * d);
        let mut rows: Vec<f64> = (0..13 * d).map(|_| scale * next()).collect();
        rows[..d].copy_from_slice(&book[..d]);
        rows[2 * d..3 * d].copy_from_slice(&book[3 * d..4 * d]);
        for f in 0..d {
            rows[d + f] = 0.5 * (book[f] + book[5 * d + f]);
        }
        (book, rows)
    }

    /// Three groups of `k` codes: interleaved, and in ranges.
    fn groupings(k: u32) -> [Vec<Vec<u32>>; 2] {
        let interleaved = (0..3)
            .map(|g| (0..k).filter(|j| j % 3 == g).collect())
            .collect();
        let third = k / 3;
        let ranges = vec![
            (0..third).collect(),
            (third..2 * third).collect(),
            (2 * third..k).collect(),
        ];
        [interleaved, ranges]
    }

    /// Against subsets of the groups, each hit of [`GroupedBook::nearest_in`] is brute
    /// force's nearest of the wanted codes (lowest index on ties), and its bounds are
    /// bounds (to a relative `tol`).
    fn assert_matches_brute_force<C: Float>(
        grouped: &GroupedBook<C>,
        book: &[C],
        rows: &[C],
        members: &[Vec<u32>],
        tol: f64,
    ) {
        let d = grouped.d;
        let mut scratch = grouped.scratch();
        for wanted in [vec![0u32, 1, 2], vec![1], vec![0, 2], vec![0]] {
            for tile in rows.chunks(ROWS * d) {
                let n = tile.len() / d;
                let mut hits = vec![Hit::default(); n];
                let mut lower = vec![-1.0; n * 3];
                grouped.nearest_in(tile, &wanted, &mut hits, &mut lower, &mut scratch);
                for (p, hit) in hits.iter().enumerate() {
                    let row = &tile[p * d..(p + 1) * d];
                    let dist = |j: u32| sq_dist(row, &book[j as usize * d..][..d]).to_f64();
                    let label = hit.label as u32;
                    let (want, near) = (wanted.iter())
                        .flat_map(|&g| members[g as usize].iter().copied())
                        .map(|j| (dist(j), j))
                        .fold((f64::INFINITY, u32::MAX), |m, c| if c < m { c } else { m });
                    assert_eq!((dist(label), label), (want, near), "row {p} {wanted:?}");
                    assert!(hit.best.to_f64() >= dist(label) * (1.0 - tol));
                    for g in 0..3u32 {
                        let bound = lower[p * 3 + g as usize];
                        if !wanted.contains(&g) {
                            assert_eq!(bound, -1.0);
                            continue;
                        }
                        for &j in members[g as usize].iter().filter(|&&j| j != label) {
                            assert!(bound <= dist(j) * (1.0 + tol), "row {p} code {j}");
                            let second = hit.second.to_f64();
                            assert!(second <= dist(j) * (1.0 + tol), "row {p} code {j}");
                        }
                    }
                }
            }
        }
    }

    /// The groups' smallest scores by the dispatch (on this CPU, AVX-512 where it has it)
    /// equal those lane by lane, bit for bit: groups of one panel (runs of sixteen, a run
    /// cut short, groups apart), of none to three panels, with NaN, infinite and signed
    /// zero scores, a slack that makes some bounds zero.
    #[test]
    fn group_lows_give_the_values_lane_by_lane() {
        let mut next = crate::test_uniforms(31);
        let singles: Vec<usize> = (0..=40).map(|g| g * LANES).collect();
        let starts_of = |panels: &[usize]| -> Vec<usize> {
            std::iter::once(0)
                .chain(panels.iter().scan(0, |at, &p| {
                    *at += p * LANES;
                    Some(*at)
                }))
                .collect()
        };
        let mixed = starts_of(&[1, 3, 1, 2, 1, 1, 2, 3, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 3]);
        // As many panels as groups, yet not one each (an empty group).
        let uneven = starts_of(&[2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
        for starts in [singles, mixed, uneven] {
            let t = starts.len() - 1;
            let slots = starts[t];
            let mut scores: Vec<f32> = (0..slots).map(|_| (4.0 * next() + 3.0) as f32).collect();
            for (j, v) in [f32::NAN, f32::INFINITY, -0.0, 0.0, f32::NAN]
                .into_iter()
                .enumerate()
            {
                scores[(7 * j + 3) * 5 % slots] = v;
            }
            scores[..LANES].fill(f32::NAN);
            let every: Vec<u32> = (0..t as u32).collect();
            let spread: Vec<u32> = (0..t as u32).filter(|g| g % 3 != 1).collect();
            let short: Vec<u32> = (3..t as u32 - 2).collect();
            for wanted in [every, spread, short, vec![2]] {
                for slack in [0.5, -0.25, 0.0] {
                    let (mut got, mut want) = (vec![-1.0; t], vec![-1.0; t]);
                    group_lows(&scores, (&starts, &wanted), slack, &mut got);
                    group_lows_lanes(&scores, (&starts, &wanted), slack, &mut want);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{wanted:?} {slack}");
                    for &g in &wanted {
                        let group = &scores[starts[g as usize]..starts[g as usize + 1]];
                        let low = (group.iter().filter(|v| !v.is_nan()))
                            .fold(f64::INFINITY, |m, &v| m.min(v.into()));
                        assert_eq!(got[g as usize], (low + slack).max(0.0), "group {g}");
                    }
                }
            }
        }
    }
}
