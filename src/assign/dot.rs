//! The dot-product kernel (five or more features): scores `|c|^2 - 2 x.c` of a tile of rows
//! against every code, accumulated in registers, and the branch-free search for the two
//! smallest scores of a row.

use super::exact::lane_sq_norm;
use crate::float::Float;

/// Codes per panel of the dot-product kernel's code book (two AVX-512 registers of `f32`,
/// four of `f64`); with five or more features the code book is padded to a multiple of it.
pub(super) const LANES: usize = 32;

/// Rows ranked together by the dot-product kernel: one tile of `f32` rows, two of `f64`
/// (the rows of a tile share the transposition and each pass over the code book).
pub(crate) const ROWS: usize = 12;

/// `R` rows (row-major in `x`, `d` features each) feature by feature, as
/// [`panel_scores`] reads them: the `R` values of a feature side by side.
pub(super) fn transposed<C: Float, const R: usize>(x: &[C], d: usize) -> Vec<[C; R]> {
    let mut xt = vec![[C::ZERO; R]; d];
    for (p, row) in x.chunks_exact(d).take(R).enumerate() {
        for (t, &v) in xt.iter_mut().zip(row) {
            t[p] = v;
        }
    }
    xt
}

simd! {
    /// Scores `|c|^2 - 2 x.c` of `R` rows (row-major in `x`) against the `kpad` codes of
    /// `panels`, written to `out` (row `p` at `p * stride`); returns the rows' `|x|^2`.
    pub(super) fn dot_scores<C: Float, const R: usize>(
        panels: &[C],
        norms: &[C],
        kpad: usize,
        d: usize,
        x: &[C],
        out: (&mut [C], usize),
    ) -> [C; R] {
        // In lanes: summed in feature order, the chains of dependent additions were a third
        // of this function's time at 64 features against 32 codes.
        let x_norms: [C; R] = std::array::from_fn(|p| lane_sq_norm(&x[p * d..(p + 1) * d]));
        let wide = multiversion::target::target_cfg_f!(target_feature = "avx512f");
        panel_scores(panels, norms, kpad, &transposed::<C, R>(x, d), out, wide);
        x_norms
    }
}

simd! {
    /// [`panel_scores`] of each tile of `xts` against the same panels, into successive
    /// runs of `out` (`R` rows of `kpad` each).
    pub(super) fn tiles_scores<C: Float, const R: usize>(
        panels: &[C],
        norms: &[C],
        kpad: usize,
        xts: &[Vec<[C; R]>],
        out: &mut [C],
    ) {
        let wide = multiversion::target::target_cfg_f!(target_feature = "avx512f");
        for (xt, out) in xts.iter().zip(out.chunks_exact_mut(R * kpad)) {
            panel_scores(panels, norms, kpad, xt, (out, kpad), wide);
        }
    }
}

/// Scores `|c|^2 - 2 x.c` of the `R` rows of `xt` ([`transposed`]) against the `kpad`
/// codes of `panels`, written to `out` (row `p` at `p * stride`). Sub-tiles of 6 rows by
/// two registers of codes, twelve accumulators, stay in registers while a panel of the
/// code book (see [`Codebook`](super::Codebook)) streams past, feature by feature: two
/// AVX-512 registers hold 32 `f32` codes (`wide`), two AVX2 registers 16. Larger tiles
/// spill: the whole tile of 12 rows by 32 codes in 24 AVX-512 registers had the compiler
/// store every accumulator at every feature, and `vq` of 200,000 x 128 float32 rows
/// against 1,024 codes ran at 70 GFLOP/s on a Zen 4 pair of cores (183 with sub-tiles);
/// on AVX2 the same tile took twice the sixteen registers (a quarter of numpy's matrix
/// product on a Zen 3 core). Sub-tiles of 4 rows, eight accumulators, no more than the
/// FMA units' latency covers, were 2-19% slower than 6 from 64 to 1,536 features on the
/// Zen 3. Every score is the same chain of multiply-adds whatever the sub-tile, so the
/// same bits. (The rows are read transposed so that the loop has no bounds check per
/// row: its exits made the compiler copy all the accumulators between registers every
/// feature, and `vq` of 50,000 x 768 float32 rows against 1,024 codes ran 10-15% slower.)
/// Inlined into SIMD-dispatched callers, which give it their target.
#[inline(always)]
pub(super) fn panel_scores<C: Float, const R: usize>(
    panels: &[C],
    norms: &[C],
    kpad: usize,
    xt: &[[C; R]],
    (out, stride): (&mut [C], usize),
    wide: bool,
) {
    let d = xt.len();
    for (t, panel) in panels
        .chunks_exact(d * LANES)
        .take(kpad / LANES)
        .enumerate()
    {
        let tile = Tile {
            panel,
            xt,
            norms: &norms[t * LANES..(t + 1) * LANES],
        };
        let out = &mut out[t * LANES..];
        match (wide, C::WIDE) {
            (true, false) => tile.sub_tiles::<6, LANES>(out, stride),
            (true, true) | (false, false) => tile.sub_tiles::<6, { LANES / 2 }>(out, stride),
            (false, true) => tile.sub_tiles::<6, { LANES / 4 }>(out, stride),
        }
    }
}

/// One panel of `LANES` codes (feature by feature) met by the `R` rows of a transposed tile.
struct Tile<'a, C, const R: usize> {
    panel: &'a [C],
    xt: &'a [[C; R]],
    norms: &'a [C],
}

impl<C: Float, const R: usize> Tile<'_, C, R> {
    /// The scores of the whole tile in sub-tiles of `S x L` accumulators (`S` divides
    /// `R`, `L` divides [`LANES`]).
    #[inline(always)]
    fn sub_tiles<const S: usize, const L: usize>(&self, out: &mut [C], stride: usize) {
        const { assert!(R.is_multiple_of(S) && LANES.is_multiple_of(L)) };
        for p0 in (0..R).step_by(S) {
            for c0 in (0..LANES).step_by(L) {
                self.scores::<S, L>((p0, c0), out, stride);
            }
        }
    }

    /// The scores of rows `p0..p0 + S` against codes `c0..c0 + L` of the panel, written
    /// to `out` (row `p` at `p * stride`, code `j` at `j`), accumulated in registers.
    #[inline(always)]
    fn scores<const S: usize, const L: usize>(
        &self,
        (p0, c0): (usize, usize),
        out: &mut [C],
        stride: usize,
    ) {
        let mut acc = [[C::ZERO; L]; S];
        for (col, xf) in self.panel.chunks_exact(LANES).zip(self.xt) {
            let (col, xf) = (&col[c0..c0 + L], &xf[p0..p0 + S]);
            for (accp, &xf) in acc.iter_mut().zip(xf) {
                for (a, &c) in accp.iter_mut().zip(col) {
                    *a = xf.mul_add(c, *a);
                }
            }
        }
        let minus_two = C::from_f64(-2.0);
        let norms = &self.norms[c0..c0 + L];
        for (p, accp) in acc.iter().enumerate() {
            let o = &mut out[(p0 + p) * stride + c0..][..L];
            for ((o, &a), &nn) in o.iter_mut().zip(accp).zip(norms) {
                *o = minus_two.mul_add(a, nn);
            }
        }
    }
}

simd! {
    /// The smallest and second smallest of `values` (a multiple of [`LANES`] long; NaNs are
    /// passed over), found lane by lane with branch-free selects and then merged, and the
    /// first index of the smallest.
    pub(super) fn two_smallest<C: Float>(values: &[C]) -> (C, C, usize) {
        let mut m1 = [C::INFINITY; LANES];
        let mut m2 = [C::INFINITY; LANES];
        for chunk in values.chunks_exact(LANES) {
            for t in 0..LANES {
                let v = chunk[t];
                let lower = v < m1[t];
                let demoted = if lower { m1[t] } else { v };
                m2[t] = if demoted < m2[t] { demoted } else { m2[t] };
                m1[t] = if lower { v } else { m1[t] };
            }
        }
        // Merge the lanes pairwise, halving the width each time (branch-free as well).
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for t in 0..width {
                let (a1, a2, b1, b2) = (m1[t], m2[t], m1[t + width], m2[t + width]);
                let b_lower = b1 < a1;
                let hi = if b_lower { a1 } else { b1 };
                let seconds = if b2 < a2 { b2 } else { a2 };
                m1[t] = if b_lower { b1 } else { a1 };
                m2[t] = if hi < seconds { hi } else { seconds };
            }
        }
        let (best, second) = (m1[0], m2[0]);
        // The first code holding `best`: the first block with a lane equal to it, as a bit
        // mask of the lanes (a vector comparison; found lane by lane in scalar code this
        // was a quarter of the function). NaN or infinite bests go to the exact comparison.
        let index = values
            .chunks_exact(LANES)
            .enumerate()
            .find_map(|(block, chunk)| {
                let lanes = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |m, (t, &v)| m | (u32::from(v == best) << t));
                (lanes != 0).then(|| block * LANES + lanes.trailing_zeros() as usize)
            })
            .unwrap_or(0);
        (best, second, index)
    }
}
