//! The direct kernel (fewer than five features, or few codes): each distance is the sum over
//! features, in feature order, of `(code - x)**2`, exactly as SciPy's `_vq` computes it
//! below five features, vectorised across rows (a block of rows meets one code at a time),
//! never across the features of one distance, so the bits do not depend on the SIMD width
//! chosen at run time.

use super::Hit;
use crate::float::Float;

/// Rows the direct kernel compares with each code together (the SIMD lanes).
const DIRECT_ROWS: usize = 64;

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

/// `x` (rows of `D` features) into `xt` (feature `f` of row `p` at `xt[f][p]`): with the
/// width known, the compiler shuffles registers instead of gathering.
#[inline(always)]
fn transpose<C: Float, const D: usize>(x: &[C], xt: &mut [[C; DIRECT_ROWS]]) {
    for (p, row) in x.chunks_exact(D).enumerate() {
        let row: &[C; D] = row.try_into().expect("rows of D features");
        for f in 0..D {
            xt[f][p] = row[f];
        }
    }
}

/// [`transpose`] for any width, row by row with scalar stores. Left to itself the compiler
/// vectorises this with scatters (or, column by column, with gathers), which on this
/// project's AMD EPYC took 50-70% of the kernel at d = 64 and k = 4 or 16.
#[inline(always)]
fn transpose_any<C: Float>(x: &[C], d: usize, xt: &mut [[C; DIRECT_ROWS]]) {
    for (p, row) in x.chunks_exact(d.max(1)).enumerate() {
        for (col, &v) in xt.iter_mut().zip(row) {
            // SAFETY: `p < DIRECT_ROWS` (a block has at most that many rows), so the
            // pointer is in bounds of `col`. Volatile keeps the stores scalar.
            unsafe { std::ptr::write_volatile(col.as_mut_ptr().add(p), v) };
        }
    }
}

simd! {
    /// Direct kernel: every row's squared distance to every code, accumulated feature by
    /// feature in SciPy's order, and ranked as [`rank`] does (the first index on ties). Blocks
    /// of [`DIRECT_ROWS`] rows meet one code at a time, row by row in the SIMD lanes. `book`
    /// holds the `k` codes row-major.
    pub(super) fn direct_nearest<C: Float>(
        book: &[C],
        k: usize,
        d: usize,
        rows: &[C],
        hits: &mut [Hit<C>],
    ) {
        // The block transposed: feature `f` of row `p` at `xt[f][p]`.
        let mut xt = vec![[C::ZERO; DIRECT_ROWS]; d];
        for (b, out) in hits.chunks_mut(DIRECT_ROWS).enumerate() {
            let x = &rows[b * DIRECT_ROWS * d..(b * DIRECT_ROWS + out.len()) * d];
            match d {
                1 => transpose::<C, 1>(x, &mut xt),
                2 => transpose::<C, 2>(x, &mut xt),
                3 => transpose::<C, 3>(x, &mut xt),
                4 => transpose::<C, 4>(x, &mut xt),
                _ => transpose_any(x, d, &mut xt),
            }
            let mut best = [C::INFINITY; DIRECT_ROWS];
            let mut second = [C::INFINITY; DIRECT_ROWS];
            let mut label = [0u32; DIRECT_ROWS];
            for j in 0..k {
                let mut acc = [C::ZERO; DIRECT_ROWS];
                for (&c, xf) in book[j * d..(j + 1) * d].iter().zip(&xt) {
                    for (a, &v) in acc.iter_mut().zip(xf) {
                        let diff = c - v;
                        *a += diff * diff;
                    }
                }
                // Branch-free, as in `rank`.
                for p in 0..DIRECT_ROWS {
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
            for (p, hit) in out.iter_mut().enumerate() {
                *hit = Hit {
                    label: label[p] as i32,
                    best: best[p],
                    second: second[p],
                };
            }
        }
    }
}
