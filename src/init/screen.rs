//! The greedy seeding's integer screen: which rows a candidate centre surely does not
//! bring closer, from 16-bit integer products, so that only the other rows are measured
//! with the exact formula. Every row is rounded to integers once, on its own power-of-two
//! scale, into panels of [`PANEL`] rows; at each step the candidates (rows of the data)
//! are taken from them. A row's integer dot product with a candidate is exact, and the
//! rounding's error is bounded from each side's largest rounding error and 1-norm, so a
//! lower bound of the row's squared distance to the candidate follows. Where that bound is
//! at least the row's current distance `D2`, the exact distance (computed in the data's
//! type, see [`super::greedy`]) is too, and the row keeps its `D2`: bit for bit what the
//! exact formula gives, with half the bytes of `f32` rows read (a quarter of `f64`).

use super::greedy::{BATCH, PANEL};
use crate::assign::{integer_kernel, integer_limit, lane_of};
use crate::cache::{prefetch_line, TO_L2};
use crate::float::Float;
use crate::parallel::{Exec, CHUNK_ROWS};

/// Fewer features than this are not screened: on a Zen 3 (greedy seeding, 256 centres,
/// against the seeding without the screen) 32 features took 1.85x the time, 64 1.2x, 128
/// 0.81x, 384 0.83x, 768 (1,024 centres) 0.48x.
const MIN_FEATURES: usize = 128;

/// How rows of a panel were rounded: each row's scale, the largest error of a rounded
/// value, a bound of the 1-norm of the row and of its rounded values, and its squared norm
/// (in `f64` from the row's values). A row that has no bound (a value not finite, or a
/// largest magnitude beyond 2^300 or below 2^-300, where products of scales, errors and
/// norms could leave `f64`'s normal range) has an infinite error.
#[derive(Debug, Clone, Copy, Default)]
struct Rounding {
    scale: [f64; PANEL],
    err: [f64; PANEL],
    l1: [f64; PANEL],
    norm: [f64; PANEL],
}

/// The rows of the data rounded to 16-bit integers, in panels of [`PANEL`] rows.
#[derive(Debug)]
pub(super) struct Screen {
    d: usize,
    pairs: usize,
    /// Panel `p` holds rows `p * PANEL..`: for each pair of features, the pair of every
    /// row as one 32-bit lane (the even feature in the low half; an odd count padded with
    /// a zero, and the last panel with rows of zeros).
    panels: Vec<i32>,
    rounding: Vec<Rounding>,
}

/// The candidates of one step, taken from the [`Screen`]: for each, its pairs of rounded
/// features (`pairs` after `pairs`) and its rounding (scale, error, 1-norm, squared norm).
pub(super) struct Probes {
    pairs: Vec<i32>,
    rounding: Vec<[f64; 4]>,
}

impl Screen {
    /// Whether screening `n` rows of `d` features of `bytes` bytes each pays and fits, for a
    /// seeding of `steps` steps of `trials` candidates: on a CPU that runs the integer
    /// kernels (AVX2, never the portable build), from [`MIN_FEATURES`]
    /// features and 16 steps (the rounding costs about a pass over the data), and if the
    /// rounded rows, with what the seeding holds anyway, add no more than half the data's
    /// size or 100 MB.
    pub(super) fn worth(n: usize, d: usize, bytes: usize, (steps, trials): (usize, usize)) -> bool {
        let rounded =
            n.div_ceil(PANEL) * (PANEL * 4 * d.div_ceil(2) + std::mem::size_of::<Rounding>());
        let held = n * (trials + 1) * bytes;
        let allowed = (n * d * bytes / 2).max(100_000_000);
        d >= MIN_FEATURES && steps >= 16 && rounded + held <= allowed && integer_kernel()
    }

    /// The `n` rows of `x` (row-major, `d` features) rounded, chunk by chunk on `exec`.
    pub(super) fn new<F: Float>(exec: &Exec, x: &[F], d: usize) -> Screen {
        // The kernel below is called on the strength of this.
        assert!(integer_kernel(), "the screen needs AVX2");
        let pairs = d.div_ceil(2);
        let limit = integer_limit(pairs);
        let n = x.len() / d;
        let mut panels = vec![0i32; n.div_ceil(PANEL) * PANEL * pairs];
        let mut rounding = vec![Rounding::default(); n.div_ceil(PANEL)];
        let per_chunk = CHUNK_ROWS / PANEL;
        let tasks = x
            .chunks(CHUNK_ROWS * d)
            .zip(panels.chunks_mut(per_chunk * PANEL * pairs))
            .zip(rounding.chunks_mut(per_chunk))
            .collect();
        exec.map(tasks, |((x, panels), rounding)| {
            let mut q = vec![0i16; 2 * pairs];
            for ((rows, panel), out) in x
                .chunks(PANEL * d)
                .zip(panels.chunks_exact_mut(PANEL * pairs))
                .zip(rounding)
            {
                for (r, row) in rows.chunks_exact(d).enumerate() {
                    let (scale, err, l1, norm) = round_row(row, limit, &mut q[..d]);
                    for (lane, pair) in panel[r..].iter_mut().step_by(PANEL).zip(q.chunks_exact(2))
                    {
                        *lane = lane_of(pair);
                    }
                    (out.scale[r], out.err[r], out.l1[r], out.norm[r]) = (scale, err, l1, norm);
                }
            }
        });
        Screen {
            d,
            pairs,
            panels,
            rounding,
        }
    }

    /// The rows `picks` as candidates.
    pub(super) fn probes(&self, picks: &[usize]) -> Probes {
        let (pairs, len) = (self.pairs, self.pairs * PANEL);
        let mut out = Probes {
            pairs: Vec::with_capacity(picks.len() * pairs),
            rounding: Vec::with_capacity(picks.len()),
        };
        for &i in picks {
            let (p, r) = (i / PANEL, i % PANEL);
            let panel = &self.panels[p * len..(p + 1) * len];
            out.pairs.extend(panel[r..].iter().step_by(PANEL));
            let of = &self.rounding[p];
            out.rounding
                .push([of.scale[r], of.err[r], of.l1[r], of.norm[r]]);
        }
        out
    }

    /// For each candidate `j` of `probes`, the rows of panel `panel` that it surely does not
    /// bring below `own` (their current `D2`, lane by lane), as bits of `sure[j]` (row `r`
    /// at bit `r`).
    pub(super) fn settle<F: Float>(
        &self,
        panel: usize,
        probes: &Probes,
        own: &[F; PANEL],
        sure: &mut [u16],
    ) {
        let pairs = self.pairs;
        let rows = &self.panels[panel * pairs * PANEL..(panel + 1) * pairs * PANEL];
        let rounding = &self.rounding[panel];
        let own = own.map(|v| v.to_f64());
        let t = probes.rounding.len();
        let mut dots = [[0i32; PANEL]; BATCH];
        for c0 in (0..t).step_by(BATCH) {
            let probes_b = &probes.pairs[c0 * pairs..];
            assert!(probes_b.len() >= BATCH.min(t - c0) * pairs);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the screen exists, so the CPU has AVX2 (see `new`); `rows` holds
            // `pairs` runs of `PANEL` lanes and `probes_b` `pairs` values per candidate
            // (asserted).
            unsafe {
                match BATCH.min(t - c0) {
                    4 => dots_avx2::<4>(rows, probes_b, pairs, &mut dots),
                    3 => dots_avx2::<3>(rows, probes_b, pairs, &mut dots),
                    2 => dots_avx2::<2>(rows, probes_b, pairs, &mut dots),
                    _ => dots_avx2::<1>(rows, probes_b, pairs, &mut dots),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("the screen is built for x86_64 only: {rows:?}");
            for (j, dots) in (c0..t).zip(&dots) {
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    sure[j] = settled_avx2::<F>(rounding, probes.rounding[j], dots, &own, self.d);
                }
            }
        }
    }
}

/// The bits of the rows of a panel (`rounding`, their dot products `dots` with a
/// candidate rounded as `probe`) whose squared distance to the candidate, as the seeding
/// computes it in `F`, is surely at least `own` (their `D2`).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn settled_avx2<F: Float>(
    rounding: &Rounding,
    [scale, err, l1, norm]: [f64; 4],
    dots: &[i32; PANEL],
    own: &[f64; PANEL],
    d: usize,
) -> u16 {
    use std::arch::x86_64::*;
    // The exact distance is summed in `F`: at most `d + 2` roundings of a relative
    // `F::EPSILON / 2` below the true one (the difference and each fused multiply-add),
    // and less than a normal `f32` each where its terms are subnormal.
    let d = d as f64;
    let shrink = _mm256_set1_pd(1.0 - (d + 4.0) * F::EPSILON.to_f64());
    let floor = _mm256_set1_pd((d + 2.0) * f64::from(f32::MIN_POSITIVE));
    // The roundings in `f64` (norms, products) are far within this.
    let slack = _mm256_set1_pd((d + 8.0) * f64::EPSILON);
    let (scale, err, l1, norm) = (
        _mm256_set1_pd(scale),
        _mm256_set1_pd(err),
        _mm256_set1_pd(l1),
        _mm256_set1_pd(norm),
    );
    let two = _mm256_set1_pd(2.0);
    // All bits but the sign.
    let magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
    let mut bits = 0;
    for r in (0..PANEL).step_by(4) {
        let at = |v: &[f64; PANEL]| _mm256_loadu_pd(v.as_ptr().add(r));
        // |x.c - x'.c'| <= |x - x'|_max |c|_1 + |c - c'|_max |x'|_1.
        let bound = _mm256_fmadd_pd(at(&rounding.err), l1, _mm256_mul_pd(err, at(&rounding.l1)));
        let dot = _mm256_cvtepi32_pd(_mm_loadu_si128(dots.as_ptr().add(r).cast()));
        let dot = _mm256_mul_pd(_mm256_mul_pd(at(&rounding.scale), scale), dot);
        let sum = _mm256_add_pd(at(&rounding.norm), norm);
        let far = _mm256_add_pd(_mm256_and_pd(dot, magnitude), bound);
        let slack = _mm256_mul_pd(_mm256_fmadd_pd(two, far, sum), slack);
        let near = _mm256_fmadd_pd(two, _mm256_add_pd(dot, bound), slack);
        let low = _mm256_fmsub_pd(_mm256_sub_pd(sum, near), shrink, floor);
        // An infinite error (a row without a bound) makes `low` NaN or -inf.
        let sure = _mm256_cmp_pd::<_CMP_GE_OQ>(low, at(own));
        bits |= (_mm256_movemask_pd(sure) as u16) << r;
    }
    bits
}

/// `row` rounded to integers within `limit` into `q` on a power-of-two scale (so that the
/// division, the product and the error are exact): the scale, the largest error, a bound of
/// the 1-norm of both the row and its rounded values, and the squared norm; an infinite
/// error if the row has no bound (see [`Rounding`]).
fn round_row<F: Float>(row: &[F], limit: f64, q: &mut [i16]) -> (f64, f64, f64, f64) {
    let largest = row.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
    let finite = row.iter().all(|v| v.to_f64().is_finite());
    let range = 2f64.powi(-300)..=2f64.powi(300);
    if !finite || (largest > 0.0 && !range.contains(&largest)) {
        q.fill(0);
        return (0.0, f64::INFINITY, f64::INFINITY, f64::INFINITY);
    }
    let mut scale = if largest > 0.0 {
        (largest / limit).log2().ceil().exp2()
    } else {
        1.0
    };
    while largest / scale > limit {
        scale *= 2.0;
    }
    // Adding and taking away 1.5 * 2^52 rounds a value within 2^51 to the nearest integer
    // (ties to even), without a call to `round` (the baseline x86_64 has no instruction).
    let magic = 1.5 * 2f64.powi(52);
    let (mut err, mut l1, mut norm) = (0.0f64, 0.0f64, 0.0f64);
    for (v, q) in row.iter().zip(q.iter_mut()) {
        let v = v.to_f64();
        let r = (v / scale + magic) - magic;
        *q = r as i16;
        err = err.max((v - r * scale).abs());
        l1 += v.abs();
        norm += v * v;
    }
    (scale, err, l1 + row.len() as f64 * err, norm)
}

/// `out[j][r]`: the dot product of row `r` of the panel `rows` (`pairs` runs of [`PANEL`]
/// lanes, a pair of 16-bit values each) with candidate `j` of `probes` (`pairs` lanes
/// each), for the first `B` candidates: `VPMADDWD` products summed in 32-bit lanes. The
/// panels must follow each other in memory (see [`prefetch_line`]).
///
/// # Safety
/// The CPU must have AVX2; `rows` must hold `pairs * PANEL` lanes and `probes` `B * pairs`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots_avx2<const B: usize>(
    rows: &[i32],
    probes: &[i32],
    pairs: usize,
    out: &mut [[i32; PANEL]; BATCH],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_si256(); 2]; B];
    for f in 0..pairs {
        // The next panel's lanes of this pair, one cache line, asked for into L2 as the
        // kernel goes (the hardware's own prefetch left the kernel waiting on memory).
        prefetch_line::<TO_L2, i32>(rows.as_ptr().wrapping_add((pairs + f) * PANEL));
        let x = rows.as_ptr().add(f * PANEL).cast::<__m256i>();
        let (x0, x1) = (_mm256_loadu_si256(x), _mm256_loadu_si256(x.add(1)));
        for (j, acc) in acc.iter_mut().enumerate() {
            let c = _mm256_set1_epi32(*probes.get_unchecked(j * pairs + f));
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(x0, c));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(x1, c));
        }
    }
    for (acc, out) in acc.iter().zip(out.iter_mut()) {
        let o = out.as_mut_ptr().cast::<__m256i>();
        _mm256_storeu_si256(o, acc[0]);
        _mm256_storeu_si256(o.add(1), acc[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fused(x: &[f32], c: &[f32]) -> f32 {
        x.iter()
            .zip(c)
            .fold(0.0, |s, (&a, &b)| (a - b).mul_add(a - b, s))
    }

    /// A settled row is never brought below its `D2` by the candidate, whatever the scale
    /// of the data (`D2` just above the distance is never settled, just below may be), and
    /// at ordinary scales a row whose `D2` is half the distance is settled; rows with a
    /// value that is not finite, or too small for their squares to be normal, never are.
    #[test]
    fn settled_rows_are_never_brought_closer() {
        if !integer_kernel() {
            return;
        }
        let exec = Exec::with_threads(2).unwrap();
        let mut rnd = crate::test_uniforms(5);
        for d in [32, 33, 64, 129] {
            // Scale 0: integers up to 2,000 (rounded without error, so that only the
            // rounding of the distance in `f32` separates it from the bound).
            for scale in [0.0, 1e-30f32, 1e-3, 1.0, 1e3, 1e15] {
                let n = 3 * PANEL + 5;
                let mut x: Vec<f32> = (0..n * d)
                    .map(|i| match scale {
                        0.0 => (rnd() * 4000.0 - 2000.0).round() as f32,
                        _ => ((i / d % 5) as f64 * 2.0 + rnd()) as f32 * scale,
                    })
                    .collect();
                x[7 * d + 3] = f32::NAN;
                x[8 * d..9 * d].fill(0.0);
                let (dup, src) = (11 * d, 12 * d);
                x.copy_within(src..src + d, dup);
                let picks = [0, 3, 12, 8, 7, 40];
                let screen = Screen::new(&exec, &x, d);
                let probes = screen.probes(&picks);
                let row = |i: usize| &x[i * d..(i + 1) * d];
                let (mut settled, mut bounded) = (0, 0);
                for (j, &c) in picks.iter().enumerate() {
                    // `D2` a factor of the distance, or (below 0) that many ulps above it.
                    for factor in [0.5, 1.0 - 1e-6, 1.0, 1.0 + 1e-6, 2.0, -1.0, -4.0] {
                        for panel in 0..n.div_ceil(PANEL) {
                            let own: [f32; PANEL] = std::array::from_fn(|r| {
                                let dist = fused(row((panel * PANEL + r).min(n - 1)), row(c));
                                match factor {
                                    ..0.0 => f32::from_bits(dist.to_bits() + (-factor) as u32),
                                    _ => (f64::from(dist) * factor) as f32,
                                }
                            });
                            let mut sure = vec![0u16; picks.len()];
                            screen.settle(panel, &probes, &own, &mut sure);
                            let rows = own.iter().enumerate().take(n - panel * PANEL);
                            for (r, &own) in rows {
                                let i = panel * PANEL + r;
                                for (jj, &cc) in picks.iter().enumerate() {
                                    if sure[jj] >> r & 1 == 1 {
                                        let dist = fused(row(i), row(cc));
                                        assert!(dist >= own, "{d} {scale} row {i} centre {cc}");
                                    }
                                }
                                let ordinary = ![7, 8].contains(&i) && ![7, 8].contains(&c);
                                if factor == 0.5 && ordinary && (scale >= 1e-3 || scale == 0.0) {
                                    bounded += 1;
                                    settled += usize::from(sure[j] >> r & 1 == 1);
                                }
                                if [7, 8].contains(&i) && scale == 1e-30 || i == 7 || c == 7 {
                                    assert_eq!(sure[j] >> r & 1, 0, "row {i} centre {c}");
                                }
                            }
                        }
                    }
                }
                if scale >= 1e-3 || scale == 0.0 {
                    assert!(
                        settled * 100 >= bounded * 95,
                        "{d} {scale}: {settled} of {bounded}"
                    );
                }
            }
        }
    }

    /// The rows' rounding: exact on a power-of-two scale within the limit, errors and
    /// norms as computed by hand, and no bound for values that are not finite or whose
    /// squares leave `f64`'s range.
    #[test]
    fn rows_round_within_the_limit() {
        let mut q = [0i16; 3];
        let (scale, err, l1, norm) = round_row(&[3.0f64, -1.25, 0.0], 4.0, &mut q);
        // 3 / 4 -> scale 1: 3, -1 (error 0.25), 0.
        assert_eq!((scale, err, q), (1.0, 0.25, [3, -1, 0]));
        assert_eq!((l1, norm), (4.25 + 3.0 * 0.25, 9.0 + 1.5625));
        let (scale, _, _, _) = round_row(&[4.5f32, 0.0, 0.0], 4.0, &mut q);
        assert_eq!((scale, q), (2.0, [2, 0, 0]));
        assert_eq!(round_row(&[0.0f32; 3], 4.0, &mut q), (1.0, 0.0, 0.0, 0.0));
        for bad in [f64::NAN, f64::INFINITY, 1e300, 1e-300] {
            assert!(round_row(&[bad, 0.0, 0.0], 4.0, &mut q).1.is_infinite());
        }
    }
}
