//! The block transposes of the direct kernel (and of both k-means++ seedings' distances): a
//! block of up to `R` rows (row-major) into feature-major runs (`xt[f][p]` is feature `f`
//! of row `p`), so that the kernel puts rows in its SIMD lanes. Only data moves here, so
//! every path gives the same block.

use crate::float::Float;

/// `x` (rows of `D` features) into `xt`: with the width known, the compiler shuffles
/// registers instead of gathering.
#[inline(always)]
fn transpose<C: Float, const D: usize, const R: usize>(x: &[C], xt: &mut [[C; R]]) {
    for (p, row) in x.chunks_exact(D).enumerate() {
        let row: &[C; D] = row.try_into().expect("rows of D features");
        for f in 0..D {
            xt[f][p] = row[f];
        }
    }
}

/// [`transpose`] for any width (`xt.len()` features of rows `stride` apart), row by row
/// with scalar stores, into the block's rows from `first` on. Left to itself the compiler
/// vectorises this with scatters (or, column by column, with gathers), which on this
/// project's AMD EPYC took 50-70% of the kernel at d = 64 and k = 4 or 16.
#[inline(always)]
fn transpose_any<C: Float, const R: usize>(
    x: &[C],
    stride: usize,
    xt: &mut [[C; R]],
    first: usize,
) {
    for (p, row) in (first..).zip(x.chunks(stride.max(1))) {
        for (col, &v) in xt.iter_mut().zip(row) {
            // SAFETY: `p < R` (a block has at most that many rows), so the
            // pointer is in bounds of `col`. Volatile keeps the stores scalar.
            unsafe { std::ptr::write_volatile(col.as_mut_ptr().add(p), v) };
        }
    }
}

/// Read each cache line of `x` once, in order: the tiles of [`avx_tiles`] visit several
/// rows at once, which the hardware prefetchers did not follow from memory when the rows
/// are long (1,000,000 x 64 rows against 4 codes: 13-27% faster with this read first).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn touch<C: Float>(x: &[C]) {
    for line in x.chunks(64 / std::mem::size_of::<C>()) {
        // SAFETY: `line` is not empty. A volatile read is kept, and the reads are
        // independent (summing them made a chain of additions that cost 15% in cache).
        unsafe { std::ptr::read_volatile(line.as_ptr()) };
    }
}

/// Transpose the block `x` (at most `R` rows, `stride` values apart) into `xt`: the first
/// `xt.len()` values of each row (whole rows when that is `stride`; the last row of `x`
/// may end there). `cached` if the caller has just written `x` or asked for it ahead
/// (otherwise long rows of a block that may be in memory are read in order first, see
/// [`touch`]). Where `avx`, rows whose width is a multiple of a register's lanes (8 `f32`,
/// 4 `f64`) go through registers in square tiles (value by value, the transpose was 46-62%
/// of the kernel at 64 features and 4 codes); the rows left over, and other widths, value
/// by value.
///
/// # Safety
/// `avx` only where the CPU has AVX.
#[inline(always)]
pub(crate) unsafe fn transpose_block<C: Float, const R: usize>(
    x: &[C],
    stride: usize,
    xt: &mut [[C; R]],
    avx: bool,
    cached: bool,
) {
    let tiled = if avx {
        avx_tiles(x, stride, xt, cached)
    } else {
        0
    };
    if tiled > 0 {
        // (A window's last row ends before a whole stride.)
        transpose_any(&x[(tiled * stride).min(x.len())..], stride, xt, tiled);
        return;
    }
    if xt.len() != stride {
        transpose_any(x, stride, xt, 0);
        return;
    }
    match stride {
        1 => transpose::<C, 1, R>(x, xt),
        2 => transpose::<C, 2, R>(x, xt),
        3 => transpose::<C, 3, R>(x, xt),
        4 => transpose::<C, 4, R>(x, xt),
        // Without AVX, shuffles pay for 8 features in f32 (measured at 100,000 and
        // 1,000,000 x 8 rows against 4 and 16 codes, before the AVX tiles).
        8 if !C::WIDE => transpose::<C, 8, R>(x, xt),
        _ => transpose_any(x, stride, xt, 0),
    }
}

/// The rows of `x` that [`avx::tiles_f32`] or [`avx::tiles_f64`] transposed (none if the
/// width is not a multiple of their tiles').
///
/// # Safety
/// The CPU must have AVX.
#[inline(always)]
unsafe fn avx_tiles<C: Float, const R: usize>(
    x: &[C],
    stride: usize,
    xt: &mut [[C; R]],
    cached: bool,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::any::TypeId;
        let (f32s, f64s) = (TypeId::of::<f32>(), TypeId::of::<f64>());
        let tile = match TypeId::of::<C>() {
            t if t == f32s => 8,
            t if t == f64s => 4,
            _ => 0,
        };
        let width = xt.len();
        if tile == 0 || !width.is_multiple_of(tile) {
            return 0;
        }
        // Rows of four cache lines or more are read in order first; for shorter ones that
        // read cost 15-25% (1,000,000 x 4 and 8 rows, both types); of a block just written
        // it is a fifth of `exact_to_labels`'s time (10,000 x 64 f64 rows, 16 codes).
        if !cached && width * std::mem::size_of::<C>() >= 256 {
            touch(x);
        }
        let rows = (x.len() + stride - width) / stride.max(1);
        // SAFETY: `C` is the type cast to (its `TypeId`), so the casts change no type;
        // AVX per the contract.
        unsafe {
            if tile == 8 {
                avx::tiles_f32(cast(x), stride, rows, cast_mut::<C, f32, R>(xt))
            } else {
                avx::tiles_f64(cast(x), stride, rows, cast_mut::<C, f64, R>(xt))
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, stride, xt, cached);
        0
    }
}

/// `x` as a slice of `T`.
///
/// # Safety
/// `C` and `T` must be the same type.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cast<C, T>(x: &[C]) -> &[T] {
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast(), x.len()) }
}

/// `xt` as runs of `T`.
///
/// # Safety
/// `C` and `T` must be the same type.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn cast_mut<C, T, const R: usize>(xt: &mut [[C; R]]) -> &mut [[T; R]] {
    unsafe { std::slice::from_raw_parts_mut(xt.as_mut_ptr().cast(), xt.len()) }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// Transpose the first `xt.len()` features (a multiple of 8) of the first `rows - rows %
    /// 8` rows of `x` (`stride` apart) into `xt` in 8 x 8 tiles; returns how many rows that
    /// is.
    ///
    /// # Safety
    /// The CPU must have AVX.
    #[target_feature(enable = "avx")]
    #[allow(unused_unsafe)] // intrinsics are safe here from Rust 1.87, unsafe in 1.86
    pub(super) unsafe fn tiles_f32<const R: usize>(
        x: &[f32],
        stride: usize,
        rows: usize,
        xt: &mut [[f32; R]],
    ) -> usize {
        let (done, d) = (rows - rows % 8, xt.len());
        assert!(d % 8 == 0 && d <= stride && done <= R);
        assert!(done == 0 || x.len() >= (done - 1) * stride + d);
        for p0 in (0..done).step_by(8) {
            for f0 in (0..d).step_by(8) {
                // SAFETY: rows p0..p0 + 8 and features f0..f0 + 8 are in bounds of `x`, and
                // features f0..f0 + 8 of rows p0..p0 + 8 in bounds of `xt` (asserted above).
                unsafe {
                    let at = x.as_ptr().add(p0 * stride + f0);
                    let r0 = _mm256_loadu_ps(at);
                    let r1 = _mm256_loadu_ps(at.add(stride));
                    let r2 = _mm256_loadu_ps(at.add(2 * stride));
                    let r3 = _mm256_loadu_ps(at.add(3 * stride));
                    let r4 = _mm256_loadu_ps(at.add(4 * stride));
                    let r5 = _mm256_loadu_ps(at.add(5 * stride));
                    let r6 = _mm256_loadu_ps(at.add(6 * stride));
                    let r7 = _mm256_loadu_ps(at.add(7 * stride));
                    // Pairs of rows interleaved, then quads: columns f and f + 4 of four rows.
                    let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
                    let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
                    let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
                    let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
                    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                    let out = xt[f0..f0 + 8].as_mut_ptr().cast::<f32>().add(p0);
                    let col = |f: usize| out.add(f * R);
                    _mm256_storeu_ps(col(0), _mm256_permute2f128_ps::<0x20>(s0, s4));
                    _mm256_storeu_ps(col(1), _mm256_permute2f128_ps::<0x20>(s1, s5));
                    _mm256_storeu_ps(col(2), _mm256_permute2f128_ps::<0x20>(s2, s6));
                    _mm256_storeu_ps(col(3), _mm256_permute2f128_ps::<0x20>(s3, s7));
                    _mm256_storeu_ps(col(4), _mm256_permute2f128_ps::<0x31>(s0, s4));
                    _mm256_storeu_ps(col(5), _mm256_permute2f128_ps::<0x31>(s1, s5));
                    _mm256_storeu_ps(col(6), _mm256_permute2f128_ps::<0x31>(s2, s6));
                    _mm256_storeu_ps(col(7), _mm256_permute2f128_ps::<0x31>(s3, s7));
                }
            }
        }
        done
    }

    /// [`tiles_f32`] for `f64` in 4 x 4 tiles (`xt.len()` a multiple of 4), returning
    /// `rows - rows % 4`.
    ///
    /// # Safety
    /// The CPU must have AVX.
    #[target_feature(enable = "avx")]
    #[allow(unused_unsafe)] // intrinsics are safe here from Rust 1.87, unsafe in 1.86
    pub(super) unsafe fn tiles_f64<const R: usize>(
        x: &[f64],
        stride: usize,
        rows: usize,
        xt: &mut [[f64; R]],
    ) -> usize {
        let (done, d) = (rows - rows % 4, xt.len());
        assert!(d % 4 == 0 && d <= stride && done <= R);
        assert!(done == 0 || x.len() >= (done - 1) * stride + d);
        for p0 in (0..done).step_by(4) {
            for f0 in (0..d).step_by(4) {
                // SAFETY: as in `tiles_f32`, for tiles of 4.
                unsafe {
                    let at = x.as_ptr().add(p0 * stride + f0);
                    let r0 = _mm256_loadu_pd(at);
                    let r1 = _mm256_loadu_pd(at.add(stride));
                    let r2 = _mm256_loadu_pd(at.add(2 * stride));
                    let r3 = _mm256_loadu_pd(at.add(3 * stride));
                    // Pairs of rows interleaved: columns f and f + 2 of two rows.
                    let (t0, t1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
                    let (t2, t3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
                    let out = xt[f0..f0 + 4].as_mut_ptr().cast::<f64>().add(p0);
                    let col = |f: usize| out.add(f * R);
                    _mm256_storeu_pd(col(0), _mm256_permute2f128_pd::<0x20>(t0, t2));
                    _mm256_storeu_pd(col(1), _mm256_permute2f128_pd::<0x20>(t1, t3));
                    _mm256_storeu_pd(col(2), _mm256_permute2f128_pd::<0x31>(t0, t2));
                    _mm256_storeu_pd(col(3), _mm256_permute2f128_pd::<0x31>(t1, t3));
                }
            }
        }
        done
    }
}
