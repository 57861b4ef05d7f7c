//! `f32` codes ranked by 16-bit integer products. One `VPMADDWD` (AVX2) multiplies and
//! pairs sixteen 16-bit values where one fused multiply-add takes eight `f32`, and with
//! AVX-512 VNNI one `VPDPWSSD` also adds them to the sums: a register loop of integer
//! products ran 1.63x the multiply-adds per second of its `f32` twin on a Zen 3 core, and
//! `vq` with `VPDPWSSD` 1.1-1.6x the `f32` kernel's rate on a Zen 4 pair of cores from 32
//! to 1,536 features on embedding-like data (on well-separated blobs of 64 features, 0.85x
//! in `f32`: which kernel is faster just above [`INTEGER_MIN_FEATURES`] depends on the
//! data there). Each code is rounded to integers on one scale for the whole book,
//! each row on its own scale; their integer dot product is exact (the scales keep the sums
//! within 32 bits), and the error of the rounding is bounded for each row from the largest
//! error of a rounded value and the rows' and codes' 1-norms. That bound is added to the
//! rounding margin of a score ([`super::bound`]): a row whose best code is certain by it
//! is settled, and the codes within it of any other row are measured with the exact direct
//! formula. The labels are those of exact arithmetic either way; only the work differs,
//! and the integer sums are the same whichever instruction made them.
//!
//! `f64` rows and codes whose values `f32` holds closely ([`super::narrow`]) are ranked the
//! same way: rounded to `f32` first, then to integers, the bounds widened by the first
//! rounding ([`QuantBook::cover_narrowing`]); the codes near a row's best are measured in
//! `f64`.

use super::bound::margin;
use super::codebook::padded_to;
use super::dot::ROWS;
use super::exact::sq_norm;
use super::narrow::{narrow_rows, NARROW_EPS};
use super::{Codebook, Hit};
use crate::float::Float;

/// The relative error of a [`super::narrow::narrowable`] value rounded to `f32`.
const NARROWING: f64 = f32::EPSILON as f64 / 2.0;

/// Codes in a panel of the integer book: two AVX2 registers of eight codes, each holding
/// two features of every code (one pair of 16-bit values per 32-bit lane).
pub(super) const QLANES: usize = 16;

/// Rows of a sub-tile: six rows by two registers of codes, twelve accumulators, as the
/// `f32` kernel's sub-tiles ([`super::dot`]).
const SUB: usize = 6;

/// Fewer features than this are ranked in `f32`: measured on a Zen 3 core (`vq`, 100,000
/// rows against 256 codes, against the `f32` kernel), 8 and 16 features 0.97-1.09x the
/// time, 32 level, 64 0.9x, and from 128 features 0.66-0.8x; on a Zen 4 pair with
/// `VPDPWSSD`, 8 to 24 features against 64 to 1,024 codes 0.75-1.3x the rate.
const INTEGER_MIN_FEATURES: usize = 32;

/// Whether codes of `d` features are ranked by integer products: from
/// [`INTEGER_MIN_FEATURES`], on a CPU with AVX2 and FMA, never in the portable build.
pub(super) fn integer_ranking(d: usize) -> bool {
    d >= INTEGER_MIN_FEATURES && integer_kernel()
}

/// Whether this CPU runs the integer kernels ([`scores_avx2`] or [`scores_vnni`], and the
/// seeding's screen): AVX2 and FMA.
pub(crate) fn integer_kernel() -> bool {
    #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(all(target_arch = "x86_64", not(feature = "portable"))))]
    {
        false
    }
}

/// Whether this CPU multiplies and sums pairs of 16-bit values in one instruction
/// (AVX-512 VNNI).
#[cfg(target_arch = "x86_64")]
fn vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// The largest magnitude values of `pairs` pairs of features may be rounded to, so that
/// a dot product of two such rows (`2 * pairs` products, summed by `VPMADDWD` in pairs)
/// stays within `i32`.
pub(crate) fn integer_limit(pairs: usize) -> f64 {
    (f64::from(i32::MAX) / (2 * pairs) as f64)
        .sqrt()
        .floor()
        .min(f64::from(i16::MAX))
}

/// Two rounded features (a pair of `i16`) as one 32-bit lane of `VPMADDWD`: the first in
/// the low half.
pub(crate) fn lane_of(pair: &[i16]) -> i32 {
    i32::from(pair[0] as u16) | i32::from(pair[1] as u16) << 16
}

/// A code book rounded to 16-bit integers, in panels of [`QLANES`] slots.
#[derive(Debug, Clone)]
pub(super) struct QuantBook {
    /// Pairs of features (the last one padded with a zero for an odd count).
    pairs: usize,
    /// The largest integer a value is rounded to (in magnitude): `pairs * 2 * limit^2`
    /// stays below `2^31`.
    limit: f32,
    /// Panel `u` holds slots `u * QLANES..`: for each pair of features, the pair of every
    /// slot side by side (`2 * QLANES` values).
    panels: Vec<i16>,
    /// `|c|^2` of every slot, in `f32` (padding: +inf).
    norms: Vec<f32>,
    /// The codes' scale: a code value `v` is rounded to `round(v / scale)`.
    scale: f32,
    /// The largest `|v - scale * round(v / scale)|` of any code value.
    code_err: f64,
    /// The largest 1-norm of a code.
    max_l1: f64,
    /// The relative error of the values' rounding to `f32` before their rounding to
    /// integers: [`NARROWING`] for a book of `f64` codes (and rows) rounded to `f32`, zero
    /// for `f32` codes.
    narrowing: f64,
}

/// A tile of [`ROWS`] rows rounded to integers for [`QuantBook::scores`].
pub(super) struct QuantTile {
    /// Pair `f` of every row side by side, each pair as one 32-bit lane.
    pairs: Vec<[i32; ROWS]>,
    /// `-2 * scale of the row * scale of the book`, in `f32`.
    coefs: [f32; ROWS],
    /// The bound of `|x.c - (rounded x).(rounded c)|` of each row, over every code.
    err: [f64; ROWS],
    /// One row's rounded values (a buffer).
    row: Vec<i16>,
    /// `f64` rows rounded to `f32` (a buffer).
    narrowed: Vec<f32>,
    /// The relative rounding per operation of the scores ([`super::bound::margin`]): that
    /// of `f32`, or [`NARROW_EPS`] where the values were `f64` rounded to `f32`.
    eps: f64,
}

impl QuantTile {
    /// The margin of row `p`'s scores ([`super::bound`]; `norms` its `|x|^2` and the book's
    /// largest `|c|^2`): a score's rounding margin widened by four times the row's error
    /// bound, since each of two scores compared is within `2 * err` of its exact value.
    pub(super) fn margin(&self, p: usize, norms: (f64, f64), d: usize) -> f64 {
        margin(norms, d, self.eps) + 4.0 * self.err[p]
    }
}

impl QuantBook {
    /// The codes of `slots` slots of `d` features, `code(s)` giving the code in slot `s`
    /// with its `|c|^2` (`None` for padding, a multiple of [`QLANES`] slots in all); `None`
    /// if a value is not finite.
    pub(super) fn new<'a>(
        d: usize,
        slots: usize,
        code: impl Fn(usize) -> Option<(&'a [f32], f32)>,
    ) -> Option<Self> {
        assert!(
            slots.is_multiple_of(QLANES) && d > 0,
            "whole panels of codes with features"
        );
        // The book's methods call the AVX2 functions below on the strength of this.
        assert!(integer_kernel(), "integer ranking needs AVX2 and FMA");
        let pairs = d.div_ceil(2);
        let limit = integer_limit(pairs) as f32;
        let mut largest = 0.0f32;
        for s in 0..slots {
            if let Some((c, _)) = code(s) {
                // SAFETY: the CPU has AVX2 and FMA (asserted).
                largest = largest.max(unsafe { largest_finite(c) }?);
            }
        }
        let scale = scale_of(largest, limit)?;
        let mut panels = vec![0i16; slots * 2 * pairs];
        let mut norms = vec![f32::INFINITY; slots];
        let (mut code_err, mut max_l1) = (0.0f64, 0.0f64);
        let mut q = vec![0i16; d];
        for (s, norm) in norms.iter_mut().enumerate() {
            let Some((c, nn)) = code(s) else { continue };
            *norm = nn;
            // SAFETY: as above.
            let (err, l1) = unsafe { round_on(c, scale, limit, &mut q) };
            let panel = &mut panels[s / QLANES * QLANES * 2 * pairs..];
            for (f, &v) in q.iter().enumerate() {
                panel[(f / 2) * 2 * QLANES + (s % QLANES) * 2 + f % 2] = v;
            }
            code_err = code_err.max(err);
            // |c|_1 <= |c'|_1 + d |c - c'|_max.
            max_l1 = max_l1.max(f64::from(l1) * f64::from(scale) + d as f64 * err);
        }
        Some(QuantBook {
            pairs,
            limit,
            panels,
            norms,
            scale,
            code_err,
            max_l1,
            narrowing: 0.0,
        })
    }

    /// Make this book, of `f64` codes rounded to `f32`, rank `f64` rows: its bound of a
    /// code's error then holds against the `f64` code, and rows are rounded to `f32` before
    /// integers ([`QuantBook::round_tile`]), the bound of their error widened likewise.
    pub(super) fn cover_narrowing(&mut self) {
        // Every value is narrowable, so within a relative NARROWING of its f32 rounding;
        // `scale * limit` is the largest f32 code value, to one rounding.
        let slack = 1.0 + 1e-6;
        let largest = f64::from(self.scale) * f64::from(self.limit) * slack;
        self.code_err += NARROWING * largest;
        self.max_l1 *= slack;
        self.narrowing = NARROWING;
    }

    /// A tile for [`QuantBook::round_tile`].
    pub(super) fn new_tile(&self) -> QuantTile {
        QuantTile {
            pairs: vec![[0; ROWS]; self.pairs],
            coefs: [0.0; ROWS],
            err: [0.0; ROWS],
            row: vec![0; 2 * self.pairs],
            narrowed: Vec::new(),
            eps: if self.narrowing > 0.0 {
                NARROW_EPS
            } else {
                f64::from(f32::EPSILON)
            },
        }
    }

    /// The [`ROWS`] rows of `x` (row-major, `d` features) rounded to integers into `tile`,
    /// each on its own scale, with the bound of each row's error over every code:
    /// `|x.c - x'.c'| <= |x - x'|_max |c|_1 + |c - c'|_max |x'|_1`. `f32` rows go to a book
    /// of `f32` codes, `f64` rows to one that [covers the narrowing](Self::cover_narrowing)
    /// and are rounded to `f32` first. `false` (the tile is to be ranked otherwise) if a
    /// row has no bound: a value that is not finite, an `f64` value that is not
    /// [`super::narrow::narrowable`], or values so small that the row's scale, or its
    /// product with the book's (the coefficient of its scores), is not a normal `f32` (the
    /// scores' rounding would no longer be relative).
    pub(super) fn round_tile<C: Float>(&self, x: &[C], d: usize, tile: &mut QuantTile) -> bool {
        assert_eq!(
            C::WIDE,
            self.narrowing > 0.0,
            "f32 rows, or f64 rows narrowed"
        );
        let x = if C::WIDE {
            if !narrow_rows(x, &mut tile.narrowed) {
                return false;
            }
            &tile.narrowed
        } else {
            as_f32(x)
        };
        for (p, row) in x.chunks_exact(d).take(ROWS).enumerate() {
            // SAFETY: the book was made, so the CPU has AVX2 and FMA (see `new`).
            let largest = unsafe { largest_finite(row) };
            let scale = largest.and_then(|m| scale_of(m, self.limit));
            let coef = scale.map(|s| (-2.0 * f64::from(s) * f64::from(self.scale)) as f32);
            let (Some(largest), Some(scale), Some(coef)) =
                (largest, scale, coef.filter(|c| c.is_normal()))
            else {
                return false;
            };
            // SAFETY: as above.
            let (row_err, l1) = unsafe { round_on(row, scale, self.limit, &mut tile.row) };
            let row_err = row_err + self.narrowing * f64::from(largest) * (1.0 + 1e-6);
            let l1 = f64::from(l1) * f64::from(scale);
            // Each product within a relative 2^-52 in f64.
            let err = row_err * self.max_l1 + self.code_err * l1;
            for (pair, out) in tile.row.chunks_exact(2).zip(&mut tile.pairs) {
                out[p] = lane_of(pair);
            }
            tile.coefs[p] = coef;
            tile.err[p] = err * (1.0 + 1e-12);
        }
        true
    }

    /// Approximate scores `|c|^2 - 2 x.c` of the rows of `tile` against slots `a..b` (whole
    /// panels), written to `out` (row `p` at `p * stride`, slot `a + j` at `j`): within
    /// `2 * err` of the row's exact scores, to within the rounding a score's margin covers.
    pub(super) fn scores(
        &self,
        (a, b): (usize, usize),
        tile: &QuantTile,
        out: (&mut [f32], usize),
    ) {
        let len = 2 * self.pairs * QLANES;
        let panels = &self.panels[a / QLANES * len..b / QLANES * len];
        assert!(tile.pairs.len() == self.pairs && (ROWS - 1) * out.1 + (b - a) <= out.0.len());
        #[cfg(target_arch = "x86_64")]
        {
            assert!(integer_kernel(), "integer ranking needs AVX2");
            // SAFETY: the CPU has AVX2 and FMA (asserted), and the slices are as long as
            // the kernel reads and writes (asserted).
            unsafe {
                if vnni() {
                    scores_vnni(panels, &self.norms[a..b], tile, out);
                } else {
                    scores_avx2(panels, &self.norms[a..b], tile, out);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            unreachable!("integer ranking is built for x86_64 only: {panels:?} {out:?}");
        }
    }
}

impl<C: Float> Codebook<C> {
    /// The hits of `rows` tile by tile, ranked by `quant` (this book rounded to integers,
    /// through `f32` for `f64` codes) and picked within the margin of a score widened by
    /// each row's error bound ([`Codebook::pick_within`]); a tile that cannot be rounded
    /// is ranked in its own type. The codes are not blocked for the cache as the `f32`
    /// panels are ([`Codebook::nearest_blocks`]): half the bytes, read by twice the
    /// multiply-adds per cycle.
    pub(super) fn nearest_quant(
        &self,
        quant: &QuantBook,
        rows: &[C],
        hits: &mut [Hit<C>],
        scratch: &mut [C],
    ) {
        let (d, kpad) = (self.d, self.kpad);
        let scratch = &mut scratch[..kpad * ROWS];
        let mut tile = quant.new_tile();
        let mut padded = Vec::new();
        let max_norm = self.max_norm.to_f64();
        for (x, group) in rows.chunks(d * ROWS).zip(hits.chunks_mut(ROWS)) {
            let full = padded_to(x, ROWS * d, d, &mut padded);
            if !quant.round_tile(full, d, &mut tile) {
                let x_norms = self.scores(full, scratch);
                for (p, hit) in group.iter_mut().enumerate() {
                    let scores = &scratch[p * kpad..(p + 1) * kpad];
                    *hit = self.pick(&x[p * d..(p + 1) * d], x_norms[p], scores);
                }
                continue;
            }
            let scores = as_f32_scratch(scratch);
            quant.scores((0, kpad), &tile, (&mut *scores, kpad));
            for (p, hit) in group.iter_mut().enumerate() {
                let row = &x[p * d..(p + 1) * d];
                let norms = (sq_norm(row).to_f64(), max_norm);
                let margin = tile.margin(p, norms, d);
                *hit = self.pick_within(row, norms.0, &scores[p * kpad..(p + 1) * kpad], margin);
            }
        }
    }
}

/// The scale of values whose largest magnitude is `largest` rounded to integers within
/// `limit`, if it and its inverse are finite and not zero (1 for zeros).
fn scale_of(largest: f32, limit: f32) -> Option<f32> {
    let scale = if largest > 0.0 { largest / limit } else { 1.0 };
    (scale.is_normal() && (1.0 / scale).is_normal()).then_some(scale)
}

/// Lanes of [`largest_finite`] and [`round_on`]: one AVX2 register of `f32`.
const L: usize = 8;

/// The largest magnitude in `row`, `None` if a value is not finite.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn largest_finite(row: &[f32]) -> Option<f32> {
    use std::arch::x86_64::*;
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
    let top = _mm256_set1_ps(f32::MAX);
    // `|v| <= f32::MAX` is false for an infinity and (ordered) for a NaN.
    let (mut most, mut finite) = (_mm256_setzero_ps(), _mm256_cmp_ps::<_CMP_EQ_OQ>(top, top));
    let split = row.len() - row.len() % L;
    for c in row[..split].chunks_exact(L) {
        let a = _mm256_and_ps(_mm256_loadu_ps(c.as_ptr()), abs);
        most = _mm256_max_ps(most, a);
        finite = _mm256_and_ps(finite, _mm256_cmp_ps::<_CMP_LE_OQ>(a, top));
    }
    let mut lanes = [0.0f32; L];
    _mm256_storeu_ps(lanes.as_mut_ptr(), most);
    let rest = &row[split..];
    let all_finite = _mm256_movemask_ps(finite) == 0xff && rest.iter().all(|v| v.is_finite());
    let most = (lanes.iter().chain(rest)).fold(0.0f32, |m, &a| m.max(a.abs()));
    all_finite.then_some(most)
}

/// `row` rounded on `scale` to integers within `limit` into `q` (as long, or longer: the
/// rest is left as it is): the largest error `|v - scale * q|` of a value (rounded up) and
/// the sum of the integers' magnitudes. `scale` must be [`scale_of`] a magnitude at least
/// the row's largest.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn round_on(row: &[f32], scale: f32, limit: f32, q: &mut [i16]) -> (f64, i32) {
    use std::arch::x86_64::*;
    assert!(q.len() >= row.len(), "room for every rounded value");
    let inv = 1.0 / scale;
    // One value: rounded to the nearest integer (ties to even) within the limit, and the
    // error of that rounding (one rounding of the exact difference: within a relative
    // 2^-24 of it).
    let round = |v: f32| {
        let r = (v * inv).round_ties_even().clamp(-limit, limit);
        (r, (-scale).mul_add(r, v).abs())
    };
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
    let (inv8, scale8) = (_mm256_set1_ps(inv), _mm256_set1_ps(-scale));
    let (hi, lo) = (_mm256_set1_ps(limit), _mm256_set1_ps(-limit));
    let (mut err, mut l1) = (_mm256_setzero_ps(), _mm256_setzero_si256());
    // The same steps as `round`, eight values at once; `r` is a whole number within
    // `limit` (at most 32,767), so converting it truncates nothing and packing it to 16
    // bits saturates nothing.
    let mut eight = |p: *const f32| {
        let v = _mm256_loadu_ps(p);
        let scaled = _mm256_mul_ps(v, inv8);
        let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(scaled);
        let r = _mm256_max_ps(_mm256_min_ps(r, hi), lo);
        err = _mm256_max_ps(err, _mm256_and_ps(_mm256_fmadd_ps(scale8, r, v), abs));
        let r = _mm256_cvttps_epi32(r);
        l1 = _mm256_add_epi32(l1, _mm256_abs_epi32(r));
        r
    };
    let split = row.len() - row.len() % (2 * L);
    for (o, c) in q
        .chunks_exact_mut(2 * L)
        .zip(row[..split].chunks_exact(2 * L))
    {
        let (a, b) = (eight(c.as_ptr()), eight(c.as_ptr().add(L)));
        // `packs` interleaves the halves of its two registers: put them back in order.
        let packed = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(a, b));
        _mm256_storeu_si256(o.as_mut_ptr().cast(), packed);
    }
    let mut lanes = [0.0f32; L];
    _mm256_storeu_ps(lanes.as_mut_ptr(), err);
    let mut sums = [0i32; L];
    _mm256_storeu_si256(sums.as_mut_ptr().cast(), l1);
    let (mut err, mut l1) = (
        lanes.iter().fold(0.0f32, |m, &e| m.max(e)),
        sums.iter().sum(),
    );
    for (o, &v) in q[split..].iter_mut().zip(&row[split..]) {
        let (r, e) = round(v);
        err = err.max(e);
        let r = r as i32;
        l1 += r.abs();
        *o = r as i16;
    }
    (f64::from(err) * (1.0 + 1e-6), l1)
}

/// The memory of `x` (`f32` or `f64` scratch) as `f32` values, as many as it holds: the
/// integer scores are `f32` whatever the book's type.
fn as_f32_scratch<C: Float>(x: &mut [C]) -> &mut [f32] {
    use std::any::TypeId;
    let c = TypeId::of::<C>();
    assert!(c == TypeId::of::<f32>() || c == TypeId::of::<f64>());
    let len = std::mem::size_of_val(x) / std::mem::size_of::<f32>();
    // SAFETY: `C` is `f32` or `f64` (asserted; aligned at least as `f32`): every bit
    // pattern of its memory is a valid `f32`, and `len` of them fit in it.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<f32>(), len) }
}

/// `x` as the `f32` values it holds (`f32` rows and codes; `f64` ones are rounded).
pub(super) fn as_f32<C: Float>(x: &[C]) -> &[f32] {
    assert!(std::any::TypeId::of::<C>() == std::any::TypeId::of::<f32>());
    // SAFETY: `C` is `f32` (asserted).
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), x.len()) }
}

/// The kernels of [`QuantBook::scores`], one per way of multiplying and summing pairs of
/// 16-bit values into 32-bit lanes: for each panel of [`QLANES`] codes, sub-tiles of
/// [`SUB`] rows accumulate the products in twelve registers of 32-bit lanes, then turn them
/// to scores (`|c|^2 + coef * sum`, one fused multiply-add). The sums are exact integers
/// (the scales keep them within 32 bits), so every kernel gives the same scores.
macro_rules! integer_scores {
    ($(#[$meta:meta])* $name:ident, $features:literal, |$acc:ident, $c:ident, $x:ident| $madd:expr) => {
        $(#[$meta])*
        ///
        /// # Safety
        /// The CPU must have the features the function is compiled for; `panels` must hold
        /// whole panels of `tile.pairs.len()` pairs, `norms` a value per slot, and `out`
        /// [`ROWS`] rows `stride` apart of a score per slot.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            panels: &[i16],
            norms: &[f32],
            tile: &QuantTile,
            (out, stride): (&mut [f32], usize),
        ) {
            use std::arch::x86_64::*;
            let pairs = tile.pairs.len();
            for (u, panel) in panels.chunks_exact(2 * pairs * QLANES).enumerate() {
                for p0 in (0..ROWS).step_by(SUB) {
                    let mut acc = [_mm256_setzero_si256(); 2 * SUB];
                    for (f, xf) in tile.pairs.iter().enumerate() {
                        let c = panel.as_ptr().add(f * 2 * QLANES).cast::<__m256i>();
                        let (c0, c1) = (_mm256_loadu_si256(c), _mm256_loadu_si256(c.add(1)));
                        for r in 0..SUB {
                            let $x = _mm256_set1_epi32(xf[p0 + r]);
                            let ($acc, $c) = (acc[2 * r], c0);
                            acc[2 * r] = $madd;
                            let ($acc, $c) = (acc[2 * r + 1], c1);
                            acc[2 * r + 1] = $madd;
                        }
                    }
                    let n = norms.as_ptr().add(u * QLANES);
                    let (n0, n1) = (_mm256_loadu_ps(n), _mm256_loadu_ps(n.add(8)));
                    for r in 0..SUB {
                        let coef = _mm256_set1_ps(tile.coefs[p0 + r]);
                        let o = out.as_mut_ptr().add((p0 + r) * stride + u * QLANES);
                        let s0 = _mm256_fmadd_ps(coef, _mm256_cvtepi32_ps(acc[2 * r]), n0);
                        let s1 = _mm256_fmadd_ps(coef, _mm256_cvtepi32_ps(acc[2 * r + 1]), n1);
                        _mm256_storeu_ps(o, s0);
                        _mm256_storeu_ps(o.add(8), s1);
                    }
                }
            }
        }
    };
}

integer_scores! {
    /// With AVX2: `VPMADDWD` products, then an addition.
    scores_avx2, "avx2,fma",
    |acc, c, x| _mm256_add_epi32(acc, _mm256_madd_epi16(c, x))
}

integer_scores! {
    /// With AVX-512 VNNI: `VPDPWSSD` multiplies, pairs and adds in one instruction.
    scores_vnni, "avx2,fma,avx512f,avx512vl,avx512vnni",
    |acc, c, x| _mm256_dpwssd_epi32(acc, c, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every score is within twice its row's error bound (and the rounding of a score) of
    /// the exact `|c|^2 - 2 x.c`, and the bound is tight enough to rank by (a thousandth of
    /// the distances' scale); a tile with a row that has a value that is not finite, or
    /// values too small for a normal scale or coefficient, is left to `f32`; padding scores
    /// +inf; a book with a value that is not finite is not made.
    #[test]
    fn scores_are_within_the_bound() {
        if !integer_kernel() {
            return;
        }
        let mut next = crate::test_uniforms(31);
        for (d, offset, scale) in [
            (7, 0.0, 1.0),
            (64, 5.0, 1.0),
            (129, 0.0, 1e-3),
            (300, 1e2, 1.0),
            (40, 0.0, 1e-15),
        ] {
            let k: usize = 40;
            let slots = k.div_ceil(QLANES) * QLANES;
            let mut value = || (offset + scale * (next() - 0.5)) as f32;
            let codes: Vec<f32> = (0..k * d).map(|_| value()).collect();
            let mut rows: Vec<f32> = (0..ROWS * d).map(|_| value()).collect();
            rows[..d].fill(0.0);
            let norm = |c: &[f32]| c.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
            let book = QuantBook::new(d, slots, |s| {
                let c = codes.get(s * d..(s + 1) * d)?;
                Some((c, norm(c) as f32))
            })
            .expect("finite codes");
            let mut tile = book.new_tile();
            // A NaN, an infinity, a row of values whose scale is not normal, and one whose
            // scale is normal but its product with the book's is not.
            for (f, bad) in [(3, f32::NAN), (0, f32::INFINITY), (1, 1e-40), (2, 1e-30)] {
                let mut rows = rows.clone();
                if bad.abs() < 1.0 {
                    rows[d..2 * d].fill(bad);
                } else {
                    rows[d + f] = bad;
                }
                let coef = -2.0 * f64::from(1e-30f32 / book.limit) * f64::from(book.scale);
                let usable = bad == 1e-30 && (coef as f32).is_normal();
                assert_eq!(
                    book.round_tile(&rows, d, &mut tile),
                    usable,
                    "{bad} {scale}"
                );
            }
            assert!(book.round_tile(&rows, d, &mut tile));
            let mut out = vec![0.0; ROWS * slots];
            book.scores((0, slots), &tile, (&mut out, slots));
            let max_norm = codes.chunks(d).map(norm).fold(0.0, f64::max);
            for (p, x) in rows.chunks(d).enumerate() {
                let err = tile.err[p];
                let x_norm = norm(x);
                assert!(2.0 * err <= 1e-3 * (x_norm + max_norm), "row {p}: {err}");
                for (j, c) in codes.chunks(d).enumerate() {
                    let dot: f64 = x
                        .iter()
                        .zip(c)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    let exact = f64::from(norm(c) as f32) - 2.0 * dot;
                    let got = f64::from(out[p * slots + j]);
                    let rounding = 1e-6 * (x_norm + max_norm);
                    assert!(
                        (got - exact).abs() <= 2.0 * err + rounding,
                        "row {p} code {j}"
                    );
                }
                assert!(out[p * slots + k..(p + 1) * slots]
                    .iter()
                    .all(|&s| s == f32::INFINITY));
            }
            let mut bad = codes.clone();
            bad[d + 1] = f32::INFINITY;
            assert!(
                QuantBook::new(d, slots, |s| Some((bad.get(s * d..(s + 1) * d)?, 1.0))).is_none()
            );
        }
    }

    /// The vector rounding gives each value's nearest integer on the scale (ties to even,
    /// within the limit), the largest error and the sum of magnitudes that the formulas
    /// give value by value, for rows of every length around the sixteen values done at
    /// once; the largest magnitude, and `None` for a row with a value that is not finite
    /// wherever it sits.
    #[test]
    fn rounding_is_the_scalar_formula_value_by_value() {
        if !integer_kernel() {
            return;
        }
        let mut next = crate::test_uniforms(41);
        for len in [1usize, 7, 8, 15, 16, 17, 33, 64, 130] {
            let limit = integer_limit(len.div_ceil(2)) as f32;
            let mut row: Vec<f32> = (0..len).map(|_| (8.0 * (next() - 0.5)) as f32).collect();
            // Halfway values (ties), zeros of both signs.
            for (i, v) in [(0, 2.5f32), (len / 2, -0.0), (len - 1, -1.5)] {
                row[i] = v;
            }
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            let largest = unsafe { largest_finite(&row) }.expect("finite");
            assert_eq!(largest, row.iter().fold(0.0f32, |m, v| m.max(v.abs())));
            for scale in [1.0f32, largest / limit] {
                let mut q = vec![7i16; len + 3];
                // SAFETY: as above.
                let (err, l1) = unsafe { round_on(&row, scale, limit, &mut q) };
                let (mut want_err, mut want_l1) = (0.0f32, 0);
                for (&v, &got) in row.iter().zip(&q) {
                    let r = (v / scale).round_ties_even().clamp(-limit, limit);
                    assert_eq!(f32::from(got), r, "{v} on {scale}, {len} values");
                    want_err = want_err.max((-scale).mul_add(r, v).abs());
                    want_l1 += (r as i32).abs();
                }
                assert_eq!(q[len..], [7; 3], "past the row, untouched");
                assert_eq!((err, l1), (f64::from(want_err) * (1.0 + 1e-6), want_l1));
            }
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for at in [0, len / 2, len - 1] {
                    let mut row = row.clone();
                    row[at] = bad;
                    // SAFETY: as above.
                    assert_eq!(unsafe { largest_finite(&row) }, None, "{bad} at {at}");
                }
            }
        }
    }

    /// `f64` rows against `f64` codes, both through their `f32` rounding: every score is
    /// within twice its row's bound (and the rounding of a score in `f32`) of the exact
    /// `|c|^2 - 2 x.c` of the `f64` values, and a tile with a value `f32` cannot hold
    /// closely is not rounded.
    /// The `VPDPWSSD` kernel and the `VPMADDWD` one give the same scores, bit for bit,
    /// also where the integer sums come near the limit of 32 bits (rows and codes of
    /// values at the largest magnitude, of both signs), on a CPU that has both.
    #[test]
    fn vnni_and_avx2_kernels_give_the_same_scores() {
        if !(integer_kernel() && vnni()) {
            return;
        }
        let mut next = crate::test_uniforms(7);
        for (d, extreme) in [(32, false), (33, true), (128, false), (768, true)] {
            let k: usize = 3 * QLANES;
            let mut value = || {
                let u = next() - 0.5;
                (if extreme { u.signum() } else { u }) as f32
            };
            let codes: Vec<f32> = (0..k * d).map(|_| value()).collect();
            let mut rows: Vec<f32> = (0..ROWS * d).map(|_| value()).collect();
            // A row equal to a code: its sum is the largest the scales allow.
            rows[..d].copy_from_slice(&codes[..d]);
            let book = QuantBook::new(d, k, |s| Some((&codes[s * d..(s + 1) * d], 1.0)))
                .expect("finite codes");
            let mut tile = book.new_tile();
            assert!(book.round_tile(&rows, d, &mut tile));
            let (mut a, mut b) = (vec![0.0f32; ROWS * k], vec![1.0f32; ROWS * k]);
            // SAFETY: the CPU has AVX2, FMA and AVX-512 VNNI (checked above); the book is
            // whole panels and the outputs hold ROWS rows of `k` scores.
            unsafe {
                scores_avx2(&book.panels, &book.norms, &tile, (&mut a, k));
                scores_vnni(&book.panels, &book.norms, &tile, (&mut b, k));
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{d} features");
        }
    }

    #[test]
    fn narrowed_scores_are_within_the_bound() {
        if !integer_kernel() {
            return;
        }
        let mut next = crate::test_uniforms(37);
        let (k, d) = (40usize, 97);
        let slots = k.div_ceil(QLANES) * QLANES;
        for offset in [0.0, 3.0, 1e3] {
            let mut value = || offset + next() - 0.5;
            let codes: Vec<f64> = (0..k * d).map(|_| value()).collect();
            let mut rows: Vec<f64> = (0..ROWS * d).map(|_| value()).collect();
            let narrowed: Vec<f32> = codes.iter().map(|&v| v as f32).collect();
            let norm = |c: &[f32]| c.iter().map(|&v| v * v).sum::<f32>();
            let mut book = QuantBook::new(d, slots, |s| {
                let c = narrowed.get(s * d..(s + 1) * d)?;
                Some((c, norm(c)))
            })
            .expect("finite codes");
            book.cover_narrowing();
            let mut tile = book.new_tile();
            assert_eq!(tile.eps, NARROW_EPS);
            assert!(book.round_tile(&rows, d, &mut tile));
            let mut out = vec![0.0; ROWS * slots];
            book.scores((0, slots), &tile, (&mut out, slots));
            let sq = |c: &[f64]| c.iter().map(|&v| v * v).sum::<f64>();
            let max_norm = codes.chunks(d).map(sq).fold(0.0, f64::max);
            for (p, x) in rows.chunks(d).enumerate() {
                let (err, x_norm) = (tile.err[p], sq(x));
                assert!(2.0 * err <= 1e-3 * (x_norm + max_norm), "row {p}: {err}");
                for (j, c) in codes.chunks(d).enumerate() {
                    let dot: f64 = x.iter().zip(c).map(|(a, b)| a * b).sum();
                    let exact = sq(c) - 2.0 * dot;
                    let got = f64::from(out[p * slots + j]);
                    let rounding = 1e-6 * (x_norm + max_norm);
                    assert!(
                        (got - exact).abs() <= 2.0 * err + rounding,
                        "row {p} code {j}"
                    );
                }
            }
            // Below 2^-60 a value is not narrowed, and its tile is ranked in f64.
            rows[d + 5] = 1e-30;
            assert!(!book.round_tile(&rows, d, &mut tile));
        }
    }
}
