//! The lane-dots kernel (five or more features, few codes, labels only): the dot-product
//! kernel's scores `|c|^2 - 2 x.c` computed as the direct kernel lays out its work, a block
//! of rows transposed into the SIMD lanes meeting the codes in turn. One fused multiply-add
//! per feature and code rather than the direct formula's three operations; each row's best
//! code is settled by the dot-product kernel's rounding bound, or, where the runner-up is
//! within it, found by the direct formula. `f64` rows may be ranked in `f32` (the caller
//! gives both, and the bound for values rounded to `f32`).

use super::bound::{hit, margin, recheck, settle, split_at_cut};
use super::direct::{block_rows, rank_lanes};
use super::exact::{lane_dot, sq_dist};
use super::transpose::transpose_block;
use super::Hit;
use crate::float::Float;

/// Codes that meet a block at once, sharing each load of its transposed rows (measured at
/// 10,000 x 64 rows against 16 codes: 2 was the fastest for both types; with 4, `f64`
/// blocks spilled and ran 1.7x slower than with 2).
const CODES_PER_PASS: usize = 2;

/// Rows in a block's SIMD lanes on a CPU of SIMD registers `wide` (AVX-512) or not:
/// [`block_rows`] on AVX-512; with 16 registers of 256 bits (AVX2) 16 rows below 16
/// features and 32 from there, where the products outweigh the ranking state that spills.
/// Measured on a Zen 3 (AVX2), one thread, 50,000 rows against 8 to 128 codes, against
/// 64 rows: `f32` 5 features 3-13% faster with 16 rows (32: 1-3%), 16 features 5-32% with
/// 16 or 32, 32 and 64 features 22-33% with 32 (16: 8-23%); `f64` rows ranked in `f32`
/// alike.
fn lane_rows<N: Float>(d: usize, wide: bool) -> usize {
    match (wide, d >= 16) {
        (true, _) => block_rows::<N>(d),
        (false, true) => 32,
        (false, false) => 16,
    }
}

/// The code book the kernel ranks by, in the type `N` of the rows it ranks: the codes
/// row-major, their `|c|^2`, the largest of those, and the relative rounding the bound
/// allows per operation (`N`'s epsilon, or more where the rows and codes were rounded to
/// `N`).
#[derive(Clone, Copy)]
pub(super) struct Ranking<'a, N> {
    pub(super) book: &'a [N],
    pub(super) norms: &'a [N],
    pub(super) max_norm: N,
    pub(super) eps: f64,
}

simd! {
    /// The nearest code to each row of `rows` (`d` features; `ranked` holds the same rows
    /// in the ranking's type): the hit's label, an upper bound of its squared distance and
    /// a lower bound of every other code's (see [`Hit`]); or, for a row whose best score
    /// is not certain, its nearest code by the direct formula against `book` (the code book
    /// in the rows' own type), measured among the codes near the best ([`recheck`]).
    pub(super) fn lane_dots_nearest<C: Float, N: Float>(
        ranking: Ranking<N>,
        book: &[C],
        d: usize,
        ranked: &[N],
        rows: &[C],
        hits: &mut [Hit<C>],
    ) {
        /// [`lane_dots_nearest`] in blocks of `R` rows.
        #[multiversion::inherit_target]
        fn blocks<C: Float, N: Float, const R: usize>(
            ranking: Ranking<N>,
            book: &[C],
            d: usize,
            ranked: &[N],
            rows: &[C],
            hits: &mut [Hit<C>],
            avx: bool,
        ) {
            let Ranking { book: codes, norms, max_norm, eps } = ranking;
            let k = norms.len();
            let minus_two = N::from_f64(-2.0);
            // The block transposed: feature `f` of row `p` at `xt[f][p]`.
            let mut xt = vec![[N::ZERO; R]; d];
            for (b, out) in hits.chunks_mut(R).enumerate() {
                let span = b * R * d..(b * R + out.len()) * d;
                // SAFETY: `avx` is whether this build of the function has AVX.
                unsafe { transpose_block(&ranked[span.clone()], d, &mut xt, avx, false) };
                let mut best = [N::INFINITY; R];
                let mut second = [N::INFINITY; R];
                let mut label = [0u32; R];
                for j0 in (0..k).step_by(CODES_PER_PASS) {
                    // Past the last code the last is repeated, and not ranked.
                    let pass: [&[N]; CODES_PER_PASS] =
                        std::array::from_fn(|q| &codes[(j0 + q).min(k - 1) * d..][..d]);
                    let mut acc = [[N::ZERO; R]; CODES_PER_PASS];
                    for (f, xf) in xt.iter().enumerate() {
                        for (accq, code) in acc.iter_mut().zip(&pass) {
                            let c = code[f];
                            for (a, &v) in accq.iter_mut().zip(xf) {
                                *a = v.mul_add(c, *a);
                            }
                        }
                    }
                    for (accq, j) in acc.iter_mut().zip(j0..k) {
                        for a in accq.iter_mut() {
                            *a = minus_two.mul_add(*a, norms[j]);
                        }
                        rank_lanes(accq, j, &mut best, &mut second, &mut label);
                    }
                }
                let mut x_norms = [N::ZERO; R];
                for xf in &xt {
                    for (n, &v) in x_norms.iter_mut().zip(xf) {
                        *n = v.mul_add(v, *n);
                    }
                }
                let (x, xr) = (&rows[span.clone()], &ranked[span]);
                for (p, out) in out.iter_mut().enumerate() {
                    let sizes = (x_norms[p].to_f64(), max_norm.to_f64());
                    let (b, s) = (best[p].to_f64(), second[p].to_f64());
                    let margin = margin(sizes, d, eps);
                    if let Some(bounds) = settle(b, s, sizes.0, margin) {
                        *out = hit(label[p] as usize, bounds);
                        continue;
                    }
                    // Not certain: the row's scores again, one by one, and the codes near
                    // the best measured by the direct formula (each code measured was 12%
                    // of this kernel in k-means of 10,000 x 64 float64 rows, 16 codes).
                    let (x, xr) = (&x[p * d..][..d], &xr[p * d..][..d]);
                    let exact = |j: usize| sq_dist(x, &book[j * d..][..d]);
                    let scores: Vec<f64> = (0..k)
                        .map(|j| {
                            let dot = lane_dot(xr, &codes[j * d..][..d]);
                            minus_two.mul_add(dot, norms[j]).to_f64()
                        })
                        .collect();
                    let best = scores.iter().fold(f64::INFINITY, |m, &s| m.min(s));
                    let near = |cut, codes: &mut Vec<usize>| split_at_cut(&scores, cut, 0, codes);
                    let every = || (0..k).collect();
                    *out = recheck((best, sizes.0, margin), near, every, exact);
                }
            }
        }
        let k = ranking.norms.len();
        assert!(
            d > 0
                && ranking.book.len() == k * d
                && book.len() == k * d
                && ranked.len() == rows.len(),
            "k x d codes and the same rows in both types, d > 0"
        );
        let avx = multiversion::target::target_cfg_f!(target_feature = "avx");
        let wide = multiversion::target::target_cfg_f!(target_feature = "avx512f");
        match lane_rows::<N>(d, wide) {
            16 => blocks::<C, N, 16>(ranking, book, d, ranked, rows, hits, avx),
            32 => blocks::<C, N, 32>(ranking, book, d, ranked, rows, hits, avx),
            _ => blocks::<C, N, 64>(ranking, book, d, ranked, rows, hits, avx),
        }
    }
}

/// Test support for the kernels of few codes: `kernel` run on `rows` against `book` (`d`
/// features) with the ranking of their own type, its hits checked against the direct
/// kernel's: the same labels, and bounds that hold the direct distances between them
/// (except for the rows numbered in `unbounded`, such as rows of NaN).
#[cfg(test)]
pub(super) fn check_against_direct<C: Float>(
    book: &[C],
    d: usize,
    rows: &[C],
    unbounded: &[usize],
    kernel: impl FnOnce(Ranking<C>, &mut [Hit<C>]),
) {
    let (n, k) = (rows.len() / d, book.len() / d);
    let norms: Vec<C> = book
        .chunks(d)
        .map(|c| c.iter().fold(C::ZERO, |s, &v| s + v * v))
        .collect();
    let max_norm = norms
        .iter()
        .fold(C::ZERO, |m, &v| if v > m { v } else { m });
    let ranking = Ranking {
        book,
        norms: &norms,
        max_norm,
        eps: C::EPSILON.to_f64(),
    };
    let mut hits = vec![Hit::default(); n];
    kernel(ranking, &mut hits);
    let mut want = vec![Hit::default(); n];
    super::direct::direct_nearest(book, k, d, rows, &mut want);
    for (i, (hit, want)) in hits.iter().zip(&want).enumerate() {
        assert_eq!(hit.label, want.label, "row {i}, d = {d}, k = {k}");
        if unbounded.contains(&i) {
            continue;
        }
        let slack = 1.0 + 1e-4;
        assert!(hit.best.to_f64() * slack >= want.best.to_f64(), "row {i}");
        assert!(
            hit.second.to_f64() <= want.second.to_f64() * slack,
            "row {i}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels equal the direct kernel's (one block and a partial one; several widths, both
    /// types; exact duplicate codes and rows halfway between two codes, which the bound
    /// cannot settle), and the bounds hold the direct distances between them.
    #[test]
    fn labels_are_the_direct_kernels_and_the_bounds_hold() {
        fn check<C: Float>(d: usize, k: usize, next: &mut impl FnMut() -> f64) {
            let mut book: Vec<C> = (0..k * d).map(|_| C::from_f64(next())).collect();
            book.copy_within(0..d, (k - 1) * d);
            let n = 2 * block_rows::<C>(d) + 13;
            let mut rows: Vec<C> = (0..n * d).map(|_| C::from_f64(next())).collect();
            for f in 0..d {
                rows[f] = book[d + f];
                rows[d + f] = C::from_f64((book[f].to_f64() + book[2 * d + f].to_f64()) / 2.0);
            }
            check_against_direct(&book, d, &rows, &[], |ranking, hits| {
                lane_dots_nearest(ranking, &book, d, &rows, &rows, hits);
            });
        }
        let mut next = crate::test_uniforms(31);
        for (d, k) in [
            (5, 16),
            (8, 9),
            (33, 16),
            (64, 8),
            (64, 16),
            (5, 64),
            (16, 40),
            (48, 64),
        ] {
            check::<f32>(d, k, &mut next);
            check::<f64>(d, k, &mut next);
        }
    }
}
