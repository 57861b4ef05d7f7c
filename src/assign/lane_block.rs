//! Every row of a block against every code by [`lane_sq_dists`]'s arithmetic (the
//! distances of `KMeans.transform` and of the Dask front-end's), with the bits it gives:
//! several rows against two codes at a time (AVX-512: four rows of `f32`, two of `f64`;
//! AVX2: two rows against two codes of `f32`, against one of `f64`), each pair's sixteen
//! lanes in registers, so that independent pairs keep the multiply-add units busy and each
//! code is read once for several rows. One pair at a time, each sum was a chain of
//! dependent multiply-adds. One thread of a Zen 4, 500 x 768 rows against 256 codes:
//! `f32` 20 ms pair by pair, 4.6-5.2 ms by AVX2, 3.4-4.3 ms by AVX-512; `f64` 19.5 ms,
//! 13-17 ms, 10.7-11 ms; at 128 features 2,000 rows against 256 codes: `f32` 13-16 ms,
//! 3.6-5.7 ms, 3.7 ms; `f64` 13.4 ms, 13-15 ms, 9.6-9.8 ms.

use super::exact::lane_sq_dists;
use crate::float::Float;

/// Rows of a block: together with [`CODE_BLOCK_BYTES`] of codes, they stay in the core's
/// cache while every pair is measured.
const ROW_BLOCK: usize = 64;

/// Fewer features than this (`f32`, `f64`) are measured pair by pair: below one run of
/// lanes there is nothing to keep in registers, and `f64` pairs gained nothing below 64
/// features (one thread of a Zen 4, 4,000 x 48 rows against 128 codes: 6.2 ms pair by
/// pair, 6.5 ms by AVX-512, 8-10 ms by AVX2).
#[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
const MIN_FEATURES: (usize, usize) = (16, 64);

/// Bytes of the codes measured against a block of rows at a time.
const CODE_BLOCK_BYTES: usize = 128 << 10;

/// The squared distance of each row of `xs` (row-major, `d` features) to each code of
/// `codes` (row-major), as [`lane_sq_dists`] measures it, into `out` (row by row, one value
/// per code).
pub(crate) fn lane_sq_dists_all<C: Float>(xs: &[C], codes: &[C], d: usize, out: &mut [C]) {
    let k = codes.len() / d.max(1);
    if d == 0 || k == 0 {
        out.fill(C::ZERO);
        return;
    }
    let per_block = (CODE_BLOCK_BYTES / (d * std::mem::size_of::<C>())).max(2);
    for (x, o) in xs.chunks(ROW_BLOCK * d).zip(out.chunks_mut(ROW_BLOCK * k)) {
        for (b, c) in codes.chunks(per_block * d).enumerate() {
            block(x, c, d, (o, k, b * per_block));
        }
    }
}

/// The rows `xs` against the codes `codes` into `out` (`stride` values a row, these codes
/// from column `first`): by the AVX-512 kernels where the CPU has AVX-512 ([`pairs_f32_512`],
/// [`pairs_f64_512`]), the AVX2 ones where it has AVX2 and FMA ([`pairs_f32`],
/// [`pairs_f64`]), pair by pair otherwise.
fn block<C: Float>(
    xs: &[C],
    codes: &[C],
    d: usize,
    (out, stride, first): (&mut [C], usize, usize),
) {
    #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
    {
        use std::any::TypeId;
        let least = if C::WIDE {
            MIN_FEATURES.1
        } else {
            MIN_FEATURES.0
        };
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        if d >= least && avx2 {
            let avx512 = is_x86_feature_detected!("avx512f");
            let is = |t: TypeId| TypeId::of::<C>() == t;
            // SAFETY: `C` is the type each branch takes the slices as (compared by
            // `TypeId`); the CPU has the kernel's features (checked).
            unsafe {
                if is(TypeId::of::<f32>()) {
                    let kernel = if avx512 { pairs_f32_512 } else { pairs_f32 };
                    return kernel(shared(xs), shared(codes), d, (unique(out), stride, first));
                }
                if is(TypeId::of::<f64>()) {
                    let kernel = if avx512 { pairs_f64_512 } else { pairs_f64 };
                    return kernel(shared(xs), shared(codes), d, (unique(out), stride, first));
                }
            }
        }
    }
    let all: Vec<u32> = (0..(codes.len() / d) as u32).collect();
    for (x, o) in xs.chunks_exact(d).zip(out.chunks_mut(stride)) {
        lane_sq_dists(x, codes, &all, &mut o[first..first + all.len()]);
    }
}

/// `s` taken as a slice of `T`.
///
/// # Safety
/// `C` must be `T`.
#[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
unsafe fn shared<C, T>(s: &[C]) -> &[T] {
    std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len())
}

/// [`shared`] of a mutable slice.
///
/// # Safety
/// `C` must be `T`.
#[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
unsafe fn unique<C, T>(s: &mut [C]) -> &mut [T] {
    std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T>(), s.len())
}

/// Generates one kernel of [`block`] (`$features` enabled, type `$t`): `$rows` rows against
/// `$codes` codes at a time, each pair's [`SUM_LANES`] lanes in registers of `$width`
/// values.
macro_rules! pairs {
    ($name:ident, $features:literal, $t:ty, $reg:ty, $width:expr, $rows:expr, $codes:expr,
     $zero:ident, $load:ident, $sub:ident, $fmadd:ident, $store:ident) => {
        /// A kernel of [`block`] for this type and these CPU features (see the module's
        /// doc).
        ///
        /// # Safety
        /// The CPU must have the features.
        #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            xs: &[$t],
            codes: &[$t],
            d: usize,
            (out, stride, first): (&mut [$t], usize, usize),
        ) {
            use super::exact::{add_lanes, SUM_LANES};
            use std::arch::x86_64::*;
            const REGS: usize = SUM_LANES / $width;
            let (n, k, split) = (xs.len() / d, codes.len() / d, d - d % SUM_LANES);
            for i0 in (0..n).step_by($rows) {
                // A short last group repeats its last row (measured twice, written once).
                let row: [&[$t]; $rows] = std::array::from_fn(|r| {
                    let i = (i0 + r).min(n - 1);
                    &xs[i * d..(i + 1) * d]
                });
                for j0 in (0..k).step_by($codes) {
                    let code: [&[$t]; $codes] = std::array::from_fn(|c| {
                        let j = (j0 + c).min(k - 1);
                        &codes[j * d..(j + 1) * d]
                    });
                    let mut acc: [[[$reg; REGS]; $codes]; $rows] =
                        [[[$zero(); REGS]; $codes]; $rows];
                    for f in (0..split).step_by(SUM_LANES) {
                        // Each load reads `$width` values from `f + q * $width`, all below
                        // `split`, within every row and code.
                        let at = |s: &[$t], q: usize| $load(s[f + q * $width..].as_ptr());
                        let xv: [[$reg; REGS]; $rows] =
                            std::array::from_fn(|r| std::array::from_fn(|q| at(row[r], q)));
                        for c in 0..$codes {
                            let cv: [$reg; REGS] = std::array::from_fn(|q| at(code[c], q));
                            for r in 0..$rows {
                                for q in 0..REGS {
                                    let diff = $sub(cv[q], xv[r][q]);
                                    acc[r][c][q] = $fmadd(diff, diff, acc[r][c][q]);
                                }
                            }
                        }
                    }
                    for r in 0..$rows.min(n - i0) {
                        for c in 0..$codes.min(k - j0) {
                            let mut lanes = [0.0; SUM_LANES];
                            for q in 0..REGS {
                                $store(lanes[q * $width..].as_mut_ptr(), acc[r][c][q]);
                            }
                            let (x, y) = (&row[r][split..], &code[c][split..]);
                            let tail = x
                                .iter()
                                .zip(y)
                                .fold(add_lanes(lanes), |s, (&a, &b)| (b - a).mul_add(b - a, s));
                            out[(i0 + r) * stride + first + j0 + c] = tail;
                        }
                    }
                }
            }
        }
    };
}

pairs!(
    pairs_f32,
    "avx2,fma",
    f32,
    __m256,
    8,
    2,
    2,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_sub_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
pairs!(
    pairs_f64,
    "avx2,fma",
    f64,
    __m256d,
    4,
    2,
    1,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_sub_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd
);
pairs!(
    pairs_f32_512,
    "avx512f",
    f32,
    __m512,
    16,
    4,
    2,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_sub_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
pairs!(
    pairs_f64_512,
    "avx512f",
    f64,
    __m512d,
    8,
    2,
    2,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_sub_pd,
    _mm512_fmadd_pd,
    _mm512_storeu_pd
);

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel of [`block`], with whether this CPU runs it.
    type Kernel<T> = (bool, unsafe fn(&[T], &[T], usize, (&mut [T], usize, usize)));

    /// Every pair gets the bits of [`lane_sq_dists`], for row and code counts around the
    /// blocks and widths around the lanes, in both types: through the dispatch, and from
    /// each kernel this CPU runs called directly (into its columns of a wider table).
    #[test]
    fn blocks_give_the_bits_of_one_pair_at_a_time() {
        fn check<C: Float>(
            (n, k, d): (usize, usize, usize),
            kernels: &[Kernel<C>],
            next: &mut impl FnMut() -> f64,
        ) {
            let xs: Vec<C> = (0..n * d)
                .map(|_| C::from_f64(8.0 * next() - 4.0))
                .collect();
            let codes: Vec<C> = (0..k * d)
                .map(|_| C::from_f64(8.0 * next() - 4.0))
                .collect();
            let (stride, first) = (k + 4, 3);
            let mut tables = vec![vec![C::INFINITY; n * k]];
            lane_sq_dists_all(&xs, &codes, d, &mut tables[0]);
            for &(_, kernel) in kernels.iter().filter(|(runs, _)| *runs) {
                let mut out = vec![C::INFINITY; n * stride];
                // SAFETY: the CPU has the kernel's features.
                unsafe { kernel(&xs, &codes, d, (&mut out, stride, first)) };
                let mut inside = Vec::with_capacity(n * k);
                for r in out.chunks(stride) {
                    assert!(r[..first]
                        .iter()
                        .chain(&r[first + k..])
                        .all(|v| *v == C::INFINITY));
                    inside.extend_from_slice(&r[first..first + k]);
                }
                tables.push(inside);
            }
            let all: Vec<u32> = (0..k as u32).collect();
            let mut want = vec![C::ZERO; k];
            let bits = |v: &[C]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
            for (i, x) in xs.chunks(d).enumerate() {
                lane_sq_dists(x, &codes, &all, &mut want);
                for got in &tables {
                    assert_eq!(
                        bits(&got[i * k..(i + 1) * k]),
                        bits(&want),
                        "{n} x {d}, {k}"
                    );
                }
            }
        }
        #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
        let (f32s, f64s): (Vec<Kernel<f32>>, Vec<Kernel<f64>>) = {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            let avx512 = is_x86_feature_detected!("avx512f");
            (
                vec![(avx2, pairs_f32), (avx512, pairs_f32_512)],
                vec![(avx2, pairs_f64), (avx512, pairs_f64_512)],
            )
        };
        #[cfg(not(all(target_arch = "x86_64", not(feature = "portable"))))]
        let (f32s, f64s): (Vec<Kernel<f32>>, Vec<Kernel<f64>>) = (vec![], vec![]);
        let mut next = crate::test_uniforms(12);
        for (n, k) in [(1, 1), (3, 5), (2, 2), (67, 9), (130, 300)] {
            for d in [1, 7, 16, 17, 40, 64, 131] {
                check::<f32>((n, k, d), &f32s, &mut next);
                check::<f64>((n, k, d), &f64s, &mut next);
            }
        }
    }
}
