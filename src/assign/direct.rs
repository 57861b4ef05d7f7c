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

/// [`transpose`] for any width, row by row with scalar stores, into the block's rows from
/// `first` on. Left to itself the compiler
/// vectorises this with scatters (or, column by column, with gathers), which on this
/// project's AMD EPYC took 50-70% of the kernel at d = 64 and k = 4 or 16.
#[inline(always)]
fn transpose_any<C: Float>(x: &[C], d: usize, xt: &mut [[C; DIRECT_ROWS]], first: usize) {
    for (p, row) in (first..).zip(x.chunks_exact(d.max(1))) {
        for (col, &v) in xt.iter_mut().zip(row) {
            // SAFETY: `p < DIRECT_ROWS` (a block has at most that many rows), so the
            // pointer is in bounds of `col`. Volatile keeps the stores scalar.
            unsafe { std::ptr::write_volatile(col.as_mut_ptr().add(p), v) };
        }
    }
}

/// Read each cache line of `x` once, in order: [`transpose_tiles`] visits several rows at
/// once, which the hardware prefetchers did not follow from memory (100,000 x 64 x 16
/// float64: 16.9 ms with the tiles alone, 12.3 ms after this read, 14.2 ms with scalar
/// stores; for the other transposes it made no difference).
#[inline(always)]
fn touch<C: Float>(x: &[C]) {
    let mut touched = C::ZERO;
    for line in x.chunks(64 / std::mem::size_of::<C>()) {
        touched += line[0];
    }
    std::hint::black_box(touched);
}

/// [`transpose`] for a width that is a multiple of `TILE`, in square tiles: `TILE` rows'
/// runs of `TILE` features loaded whole and stored as `TILE` features' runs of rows.
#[inline(always)]
fn transpose_tiles<C: Float, const TILE: usize>(x: &[C], d: usize, xt: &mut [[C; DIRECT_ROWS]]) {
    let rows = x.len() / d;
    let done = rows - rows % TILE;
    touch(x);
    for p0 in (0..done).step_by(TILE) {
        for f0 in (0..d).step_by(TILE) {
            let mut tile = [[C::ZERO; TILE]; TILE];
            for (p, t) in tile.iter_mut().enumerate() {
                t.copy_from_slice(&x[(p0 + p) * d + f0..][..TILE]);
            }
            for (f, col) in xt[f0..f0 + TILE].iter_mut().enumerate() {
                let out: &mut [C; TILE] = (&mut col[p0..p0 + TILE]).try_into().expect("a tile");
                for (p, o) in out.iter_mut().enumerate() {
                    *o = tile[p][f];
                }
            }
        }
    }
    transpose_any(&x[done * d..], d, xt, done);
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
                // Shuffles pay for 8 features in f32; in f64 the scalar stores are faster
                // (measured at 100,000 and 1,000,000 x 8 rows against 4 and 16 codes).
                8 if !C::WIDE => transpose::<C, 8>(x, &mut xt),
                // Wide f64 rows in 8 x 8 tiles: 1.3-1.5x faster at 10,000 x 64 x 4 and
                // 1,000 x 64 x 16 (the transpose is most of the work there); slower below 32
                // features and in f32 (16 x 16 tiles), so not taken there.
                _ if C::WIDE && d >= 32 && d % 8 == 0 => transpose_tiles::<C, 8>(x, d, &mut xt),
                _ => transpose_any(x, d, &mut xt, 0),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each transpose path (const widths, any width; f32 and f64) gives the bits of the
    /// direct formula computed row by row.
    #[test]
    fn every_transpose_gives_the_row_by_row_bits() {
        fn check<C: Float>(d: usize, k: usize, next: &mut impl FnMut() -> f64) {
            let n = 2 * DIRECT_ROWS + 13; // a last block of whole tiles and a rest
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
        for d in [1, 2, 3, 4, 5, 8, 16, 33, 64] {
            check::<f32>(d, 7, &mut next);
            check::<f64>(d, 7, &mut next);
        }
    }
}
