//! The row-dots kernel (at least [`SUM_LANES`] features, at most [`ROW_DOTS_MAX_CODES`]
//! codes, labels only): each row's dot products with the few codes taken along the row as
//! it lies in memory, in [`SUM_LANES`] lanes added pairwise at the end. The direct and
//! lane-dots kernels first transpose a block of rows into the SIMD lanes; against two
//! codes that transposition was as much work as the products (a bisection's two-centre
//! runs spent half their time in it). The scores `|c|^2 - 2 x.c` are ranked and settled
//! by the dot-product kernel's rounding bound, as the lane-dots kernel settles them; a row
//! whose best code is not certain is measured by the direct formula. `f64` rows may be
//! ranked in `f32` (the caller gives both, and the bound for values rounded to `f32`).

use super::bound::{hit, margin, recheck, settle, split_at_cut};
use super::exact::{add_lanes, sq_dist, SUM_LANES};
use super::lane_dots::Ranking;
use super::quant::as_f32;
use super::Hit;
use crate::float::Float;

/// The most codes the kernel takes: each is a register of lanes held across the row, and
/// with the row's own sum they make four, summed together.
pub(super) const ROW_DOTS_MAX_CODES: usize = 3;

simd! {
    /// The nearest code to each row of `rows` (`d` features; `ranked` holds the same rows
    /// in the ranking's type), as [`super::lane_dots::lane_dots_nearest`] gives it: the
    /// hit's label, an upper bound of its squared distance and a lower bound of every other
    /// code's; or, for a row whose best score is not certain, its nearest code by the
    /// direct formula against `book` (the code book in the rows' own type).
    pub(super) fn row_dots_nearest<C: Float, N: Float>(
        ranking: Ranking<N>,
        book: &[C],
        d: usize,
        ranked: &[N],
        rows: &[C],
        hits: &mut [Hit<C>],
    ) {
        let Ranking { book: codes, norms, max_norm, eps } = ranking;
        let k = norms.len();
        assert!(
            d >= SUM_LANES
                && (1..=ROW_DOTS_MAX_CODES).contains(&k)
                && codes.len() == k * d
                && book.len() == k * d
                && ranked.len() == rows.len()
                && rows.len() == hits.len() * d,
            "1 to 3 codes of d >= 16 features, the same rows in both types, a hit per row"
        );
        let split = d - d % SUM_LANES;
        // Past the last code the last is repeated, and not ranked.
        let code: [&[N]; CODES] = std::array::from_fn(|j| &codes[j.min(k - 1) * d..][..d]);
        let minus_two = N::from_f64(-2.0);
        // `f32` codes, for this build's SIMD sums where it has them.
        let simd = multiversion::target::target_cfg_f!(target_feature = "avx512f")
            && std::any::TypeId::of::<N>() == std::any::TypeId::of::<f32>();
        let codes32 = simd.then(|| code.map(as_f32));
        for (p, out) in hits.iter_mut().enumerate() {
            let xr = &ranked[p * d..][..d];
            let sums = match codes32 {
                // SAFETY: this build of the function has AVX-512F (`simd`); the row and the
                // codes hold `split` values.
                #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
                Some(c) => unsafe { sums_512(as_f32(xr), &c, split) }
                    .map(|v| N::from_f64(f64::from(v))),
                _ => lane_sums(xr, &code, split),
            };
            let along = |sum: N, y: &[N]| {
                (xr[split..].iter().zip(&y[split..])).fold(sum, |s, (&a, &b)| a.mul_add(b, s))
            };
            let x_norm = along(sums[0], xr);
            let mut scores = [N::INFINITY; CODES];
            for (j, s) in scores.iter_mut().enumerate().take(k) {
                *s = minus_two.mul_add(along(sums[j + 1], code[j]), norms[j]);
            }
            // Ranked without branches (which of two codes is nearer is a coin toss).
            let (mut best, mut second, mut label) = (scores[0], N::INFINITY, 0);
            for (j, &s) in scores.iter().enumerate().skip(1) {
                let lower = s < best;
                let demoted = if lower { best } else { s };
                second = if demoted < second { demoted } else { second };
                best = if lower { s } else { best };
                label = if lower { j } else { label };
            }
            let sizes = (x_norm.to_f64(), max_norm.to_f64());
            let margin = margin(sizes, d, eps);
            if let Some(bounds) = settle(best.to_f64(), second.to_f64(), sizes.0, margin) {
                *out = hit(label, bounds);
                continue;
            }
            // Not certain (near or exact ties, overflow, NaN): the codes near the best
            // measured by the direct formula.
            let x = &rows[p * d..][..d];
            let exact = |j: usize| sq_dist(x, &book[j * d..][..d]);
            let low = scores[..k].iter().fold(f64::INFINITY, |m, &s| m.min(s.to_f64()));
            let near = |cut, codes: &mut Vec<usize>| split_at_cut(&scores[..k], cut, 0, codes);
            let every = || (0..k).collect();
            *out = recheck((low, sizes.0, margin), near, every, exact);
        }
    }
}

/// Codes of a row's dot products: the kernel's sums are the row's `|x|^2` and these.
const CODES: usize = ROW_DOTS_MAX_CODES;

/// Whether this CPU has the row-dots kernel's SIMD sums for `f32` rankings (AVX-512): the
/// kernel is chosen only then (the sums left to the compiler, as [`lane_sums`] has them,
/// ran no faster than the direct kernel).
pub(super) fn fast_rows() -> bool {
    #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
    {
        is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(all(target_arch = "x86_64", not(feature = "portable"))))]
    {
        false
    }
}

/// A row's `|x|^2` and its dot products with [`CODES`] codes over its first `split`
/// features (a multiple of [`SUM_LANES`]), summed in [`SUM_LANES`] lanes, then across them
/// pairwise: any float type, left to the compiler.
fn lane_sums<N: Float>(x: &[N], codes: &[&[N]; CODES], split: usize) -> [N; CODES + 1] {
    let mut acc = [[N::ZERO; SUM_LANES]; CODES + 1];
    for (f, xs) in (0..split).step_by(SUM_LANES).zip(x.chunks_exact(SUM_LANES)) {
        for (a, c) in acc
            .iter_mut()
            .zip(std::iter::once(x).chain(codes.iter().copied()))
        {
            for t in 0..SUM_LANES {
                a[t] = xs[t].mul_add(c[f + t], a[t]);
            }
        }
    }
    acc.map(add_lanes)
}

/// [`lane_sums`] of `f32` by AVX-512: one register of sixteen lanes per sum, the four
/// registers then summed together (three shuffles of 128-bit blocks and two within them,
/// where summing each alone took twice the instructions).
///
/// # Safety
/// The CPU must have AVX-512F; `x` and every code must hold `split` values.
#[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sums_512(x: &[f32], codes: &[&[f32]; CODES], split: usize) -> [f32; CODES + 1] {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_ps(); CODES + 1];
    for f in (0..split).step_by(SUM_LANES) {
        let xv = _mm512_loadu_ps(x.as_ptr().add(f));
        acc[0] = _mm512_fmadd_ps(xv, xv, acc[0]);
        for (a, c) in acc[1..].iter_mut().zip(codes) {
            *a = _mm512_fmadd_ps(xv, _mm512_loadu_ps(c.as_ptr().add(f)), *a);
        }
    }
    let [a, b, c, e] = acc;
    // Blocks of 128 bits: (a0 + a2, a1 + a3, b0 + b2, b1 + b3), likewise for c and e.
    let ab = _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
        _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
    );
    let ce = _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b01_00_01_00>(c, e),
        _mm512_shuffle_f32x4::<0b11_10_11_10>(c, e),
    );
    // One block per sum, four lanes each: a, b, c, e.
    let all = _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b10_00_10_00>(ab, ce),
        _mm512_shuffle_f32x4::<0b11_01_11_01>(ab, ce),
    );
    let all = _mm512_add_ps(all, _mm512_permute_ps::<0b01_00_11_10>(all));
    let all = _mm512_add_ps(all, _mm512_permute_ps::<0b10_11_00_01>(all));
    let mut lanes = [0.0f32; SUM_LANES];
    _mm512_storeu_ps(lanes.as_mut_ptr(), all);
    [lanes[0], lanes[4], lanes[8], lanes[12]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::lane_dots::check_against_direct;

    /// Labels equal the direct kernel's for one to three codes (rows equal to a code, rows
    /// halfway between two codes, duplicate codes, a NaN row, feature counts with and
    /// without a tail past the lanes, both types), and the bounds hold the direct
    /// distances between them.
    #[test]
    fn labels_are_the_direct_kernels_and_the_bounds_hold() {
        fn check<C: Float>(d: usize, k: usize, next: &mut impl FnMut() -> f64) {
            let mut book: Vec<C> = (0..k * d).map(|_| C::from_f64(next())).collect();
            if k > 2 {
                book.copy_within(0..d, (k - 1) * d);
            }
            let n = 300;
            let mut rows: Vec<C> = (0..n * d).map(|_| C::from_f64(next())).collect();
            for f in 0..d {
                rows[f] = book[(k - 1) * d + f];
                let other = book[(k.min(2) - 1) * d + f].to_f64();
                rows[d + f] = C::from_f64((book[f].to_f64() + other) / 2.0);
            }
            rows[2 * d + 3] = C::from_f64(f64::NAN);
            // The NaN row's label is the direct kernel's; it has no bounds.
            check_against_direct(&book, d, &rows, &[2], |ranking, hits| {
                row_dots_nearest(ranking, &book, d, &rows, &rows, hits);
            });
        }
        let mut next = crate::test_uniforms(5);
        for d in [16, 21, 64, 100] {
            for k in 1..=ROW_DOTS_MAX_CODES {
                check::<f32>(d, k, &mut next);
                check::<f64>(d, k, &mut next);
            }
        }
    }
}
