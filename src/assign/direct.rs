//! The direct kernel (fewer than five features, or few codes): each distance is the sum over
//! features, in feature order, of `(code - x)**2`, exactly as SciPy's `_vq` computes it
//! below five features, vectorised across rows (a block of rows meets one code at a time),
//! never across the features of one distance, so the bits do not depend on the SIMD width
//! chosen at run time.

use super::transpose::transpose_block;
use super::Hit;
use crate::float::Float;

/// Rows the direct kernel compares with each code together (the SIMD lanes): 64, or 32 for
/// `f64` rows of [`NARROW_BLOCK_FEATURES`] or more. With 64 `f64` rows the transposed block
/// of 64 features filled the 32 KiB level-1 cache and its stores missed (10,000 x 64 and
/// 100,000 x 8 float64 rows against 4 codes: 23% and 10% faster with 32 rows); with fewer
/// features the longer block pays for its fixed costs per code (100,000 x 2 float64 rows
/// against 16 codes: 12% slower with 32 rows, x 4 against 4 and 16 codes: 9% and 4%), and
/// float32 rows were 10-54% slower with 32 (100,000 x 2 and x 8 against 4 and 16 codes).
pub(super) fn block_rows<C: Float>(d: usize) -> usize {
    if C::WIDE && d >= NARROW_BLOCK_FEATURES {
        32
    } else {
        64
    }
}

/// See [`block_rows`].
const NARROW_BLOCK_FEATURES: usize = 5;

/// Rows the direct kernel compares with each code together on a CPU of SIMD registers
/// `wide` (AVX-512) or not: [`block_rows`] on AVX-512, 16 otherwise. A block's running
/// best, runner-up and label take three of its accumulator's register count; with 16
/// registers of 256 bits (AVX2), 64 `f32` rows or 32 `f64` ones spilled them every code.
/// Measured on a Zen 3 (AVX2), one thread, 50,000 rows, 16 codes, against the old 64 (32
/// for `f64`): `f32` 2 features 15.7 -> 9.2 ns a row, 8 features 19.9 -> 14.5; `f64` 2
/// features 32.9 -> 14.0 (20.1 with 32 rows), 8 features 28.8 -> 23.8; against 4 codes
/// level to 40% faster; 8 rows were slower than 16 in every case but one.
pub(super) fn direct_rows<C: Float>(d: usize, wide: bool) -> usize {
    if wide {
        block_rows::<C>(d)
    } else {
        16
    }
}

/// The lowest value (first index on ties; index 0 and infinity if all are NaN) and the
/// second lowest of `values`.
#[inline(always)]
pub(super) fn rank<C: Float>(values: &[C]) -> Hit<C> {
    // Branch-free: which code is nearest is data-dependent and mispredicts badly.
    let (mut best, mut second, mut label) = (C::INFINITY, C::INFINITY, 0usize);
    for (j, &v) in values.iter().enumerate() {
        let lower = v < best;
        let demoted = if lower { best } else { v };
        second = if demoted < second { demoted } else { second };
        best = if lower { v } else { best };
        label = if lower { j } else { label };
    }
    Hit {
        label: label as i32,
        best,
        second,
    }
}

/// Rank code `j`'s values `acc` (one per lane; codes in increasing order) into each
/// lane's lowest value (`best`, first index on ties in `label`) and second lowest,
/// branch-free as in [`rank`].
#[inline(always)]
pub(super) fn rank_lanes<C: Float, const R: usize>(
    acc: &[C; R],
    j: usize,
    best: &mut [C; R],
    second: &mut [C; R],
    label: &mut [u32; R],
) {
    for p in 0..R {
        let v = acc[p];
        let lower = v < best[p];
        let demoted = if lower { best[p] } else { v };
        second[p] = if demoted < second[p] {
            demoted
        } else {
            second[p]
        };
        best[p] = if lower { v } else { best[p] };
        label[p] = if lower { j as u32 } else { label[p] };
    }
}

simd! {
    /// Direct kernel: every row's squared distance to every code, accumulated feature by
    /// feature in SciPy's order, and ranked as [`rank`] does (the first index on ties). Blocks
    /// of [`direct_rows`] rows meet one code at a time, row by row in the SIMD lanes. `book`
    /// holds the `k` codes row-major.
    pub(super) fn direct_nearest<C: Float>(
        book: &[C],
        k: usize,
        d: usize,
        rows: &[C],
        hits: &mut [Hit<C>],
    ) {
        /// [`direct_nearest`] in blocks of `R` rows.
        #[multiversion::inherit_target]
        fn blocks<C: Float, const R: usize>(
            book: &[C],
            k: usize,
            d: usize,
            rows: &[C],
            hits: &mut [Hit<C>],
            avx: bool,
            fma: bool,
        ) {
            // The block transposed: feature `f` of row `p` at `xt[f][p]`.
            let mut xt = vec![[C::ZERO; R]; d];
            // Opaque, so that the multiply-add by it is not folded back into a subtraction.
            let neg_one = std::hint::black_box(C::from_f64(-1.0));
            for (b, out) in hits.chunks_mut(R).enumerate() {
                let x = &rows[b * R * d..(b * R + out.len()) * d];
                // SAFETY: `avx` is whether this build of the function has AVX.
                unsafe { transpose_block(x, d, &mut xt, avx, false) };
                let mut best = [C::INFINITY; R];
                let mut second = [C::INFINITY; R];
                let mut label = [0u32; R];
                for j in 0..k {
                    let mut acc = [C::ZERO; R];
                    for (&c, xf) in book[j * d..(j + 1) * d].iter().zip(&xt) {
                        for p in 0..R {
                            let v = xf[p];
                            // `v * -1 + c` rounded once is `c - v` rounded: the same bits,
                            // from the multiply-add units. Half the lanes take them, so
                            // the subtractions and the sums share out over both kinds of
                            // unit (4% at 64 features against 16 codes, both types).
                            let diff = if fma && p >= R / 2 {
                                v.mul_add(neg_one, c)
                            } else {
                                c - v
                            };
                            acc[p] += diff * diff;
                        }
                    }
                    rank_lanes(&acc, j, &mut best, &mut second, &mut label);
                }
                for (p, hit) in out.iter_mut().enumerate() {
                    *hit = Hit {
                        label: label[p] as i32,
                        best: best[p],
                        second: second[p],
                    };
                }
            }
        }
        let avx = multiversion::target::target_cfg_f!(target_feature = "avx");
        // Without it a multiply-add is a call to the C library.
        let fma = multiversion::target::target_cfg_f!(target_feature = "fma");
        let wide = multiversion::target::target_cfg_f!(target_feature = "avx512f");
        match direct_rows::<C>(d, wide) {
            16 => blocks::<C, 16>(book, k, d, rows, hits, avx, fma),
            32 => blocks::<C, 32>(book, k, d, rows, hits, avx, fma),
            _ => blocks::<C, 64>(book, k, d, rows, hits, avx, fma),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each transpose path (const widths, any width; f32 and f64) gives the bits of the
    /// direct formula computed row by row.
    #[test]
    fn every_transpose_gives_the_row_by_row_bits() {
        fn check<C: Float>(d: usize, k: usize, next: &mut impl FnMut() -> f64) {
            let n = 2 * block_rows::<C>(d) + 13; // a last block of whole tiles and a rest
            let rows: Vec<C> = (0..n * d).map(|_| C::from_f64(next())).collect();
            let book: Vec<C> = (0..k * d).map(|_| C::from_f64(next())).collect();
            let mut hits = vec![Hit::default(); n];
            direct_nearest(&book, k, d, &rows, &mut hits);
            for (x, hit) in rows.chunks(d).zip(&hits) {
                let dists: Vec<C> = book
                    .chunks(d)
                    .map(|c| {
                        c.iter()
                            .zip(x)
                            .fold(C::ZERO, |s, (&c, &v)| s + (c - v) * (c - v))
                    })
                    .collect();
                let want = rank(&dists);
                assert_eq!(
                    (hit.label, hit.best.to_f64()),
                    (want.label, want.best.to_f64())
                );
                assert_eq!(hit.second.to_f64(), want.second.to_f64());
            }
        }
        let mut next = crate::test_uniforms(8);
        for d in [1, 2, 3, 4, 5, 8, 12, 16, 24, 33, 64] {
            check::<f32>(d, 7, &mut next);
            check::<f64>(d, 7, &mut next);
        }
    }
}
