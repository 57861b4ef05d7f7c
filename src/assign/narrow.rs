//! `f64` rows ranked in `f32` first (twice the SIMD width) where every value lies where
//! `f32` holds it to within half its epsilon; the rounding bound then also covers the
//! rounding of the values, and groups of rows with any uncertain best code are ranked again
//! in `f64`. The labels are the same; only the work differs.

use super::bound::{hit, margin, settle};
use super::codebook::{padded_to, Ranked, BLOCK_TILES};
use super::dot::{two_smallest, ROWS};
use super::{Codebook, Hit};
use crate::float::Float;

impl<C: Float> Codebook<C> {
    /// Rank the [`ROWS`] rows of `x` against the codes rounded to `f32`
    /// (`narrow`) and write the hits of the first `group.len()` of them; `false` (leaving
    /// `group` to be written again) if a value of `x` is not [`narrowable`] or a row's best
    /// code is not certain.
    pub(super) fn narrow_group(
        &self,
        narrow: &Codebook<f32>,
        x: &[C],
        group: &mut [Hit<C>],
        scratch: &mut [f32],
        buf: &mut Vec<f32>,
    ) -> bool {
        if !narrow_rows(x, buf) {
            return false;
        }
        let (kpad, d) = (self.kpad, self.d);
        let x_norms = narrow.scores(buf, scratch);
        let eps = NARROW_EPS;
        for (p, out) in group.iter_mut().enumerate() {
            let (best, second, label) = two_smallest(&scratch[p * kpad..(p + 1) * kpad]);
            let norms = (f64::from(x_norms[p]), f64::from(narrow.max_norm));
            let margin = margin(norms, d, eps);
            let Some(bounds) = settle(best.into(), second.into(), norms.0, margin) else {
                return false;
            };
            *out = hit(label, bounds);
        }
        true
    }

    /// The dot-product kernel's hits of `rows` where the codes rounded to `f32` (`narrow`)
    /// outgrow the cache: a run of [`BLOCK_TILES`] tiles of rows is rounded to `f32` and
    /// ranked against `narrow` block by block ([`Codebook::block_two_smallest`]); a row
    /// whose best code is certain in `f32` is settled, and any other row is ranked in
    /// `f64` against the whole book ([`Codebook::rescore`]; tile by tile, each tile read
    /// the whole `f64` book, and at 1,536 features most tiles had a row to rank again in
    /// `f64`).
    pub(super) fn nearest_narrow_blocks(
        &self,
        narrow: &Codebook<f32>,
        rows: &[C],
        hits: &mut [Hit<C>],
        scratch: &mut [C],
    ) {
        let d = self.d;
        let mut block = vec![0.0f32; narrow.block_len()];
        let (mut buf, mut padded, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        let run = ROWS * BLOCK_TILES;
        for (r, (x, run_hits)) in rows.chunks(d * run).zip(hits.chunks_mut(run)).enumerate() {
            let full = padded_to(x, run_hits.len().div_ceil(ROWS) * ROWS * d, d, &mut padded);
            if !narrow_rows(full, &mut buf) {
                self.nearest_tiles(x, run_hits, scratch);
                continue;
            }
            let two = narrow.block_two_smallest(&buf, &mut block);
            let ranked = Ranked {
                rows: &buf,
                two: &two,
                max_norm: f64::from(narrow.max_norm),
                eps: NARROW_EPS,
            };
            self.settle_run(ranked, run_hits, r * run, &mut pending);
        }
        self.rescore(rows, &pending, hits, scratch);
    }
}

/// The rounding bound's relative rounding per operation for values rounded to `f32`: half
/// as much again as `f32`'s own, for the rounding of the values.
pub(super) const NARROW_EPS: f64 = 1.5 * f32::EPSILON as f64;

/// Whether `v` is zero or of a magnitude in `[2^-60, 2^60]`: rounded to `f32` it keeps a
/// relative error of at most `f32::EPSILON / 2`, and products and squares of such values
/// neither underflow nor overflow in `f32`. (Branch-free, to vectorise.)
#[inline(always)]
pub(super) fn narrowable<C: Float>(v: C) -> bool {
    const LOW: f64 = 1.0 / (1u64 << 60) as f64;
    const HIGH: f64 = (1u64 << 60) as f64;
    let a = v.to_f64().abs();
    (a == 0.0) | (LOW..=HIGH).contains(&a)
}

simd! {
    /// `x` rounded to `f32` into `out`, and whether every value is [`narrowable`].
    pub(super) fn narrow_rows<C: Float>(x: &[C], out: &mut Vec<f32>) -> bool {
        // Written into the buffer's spare capacity, not pushed: `extend` of a mapped
        // iterator kept its length checks and did not vectorise (16% of `vq` of 10,000 x 64
        // float64 rows against 16 codes), and zeroing it first was 4% of `kmeans2` there.
        out.clear();
        out.reserve(x.len());
        let mut ok = true;
        for (o, &v) in out.spare_capacity_mut().iter_mut().zip(x) {
            o.write(v.to_f64() as f32);
            ok &= narrowable(v);
        }
        // SAFETY: the loop wrote the first `x.len()` values (the spare capacity holds at
        // least that many).
        unsafe { out.set_len(x.len()) };
        ok
    }
}
