//! Exact squared distances: SciPy's direct formula (one pair, or each row to its code in
//! blocks of rows), and a lane-summed variant equal to it to within its rounding (for
//! bounds, where the bits do not matter).

use super::direct::block_rows;
use super::transpose::transpose_block;
use super::Hit;
use crate::float::Float;

/// Squared distance between two vectors in SciPy's order: `sum((c - x)**2)` over features.
pub(crate) fn sq_dist<C: Float>(x: &[C], c: &[C]) -> C {
    let mut s = C::ZERO;
    for (&a, &b) in x.iter().zip(c) {
        let diff = b - a;
        s += diff * diff;
    }
    s
}

/// Rows labelled with codes, and where their squared distances to them go
/// ([`exact_to_labels`]): hits (their `best`), or a slice beside the labels.
pub(super) trait Labelled<C> {
    /// The code of row `i`.
    fn code(&self, i: usize) -> usize;
    /// Keep `dists` as the squared distances of the rows from `first` on.
    fn keep(&mut self, first: usize, dists: &[C]);
}

impl<C: Float> Labelled<C> for [Hit<C>] {
    #[inline(always)]
    fn code(&self, i: usize) -> usize {
        self[i].label as usize
    }

    #[inline(always)]
    fn keep(&mut self, first: usize, dists: &[C]) {
        for (hit, &dist) in self[first..].iter_mut().zip(dists) {
            hit.best = dist;
        }
    }
}

/// Labels and the slice their rows' squared distances go to (as long as the labels): for
/// callers that want the distances alone. (Kept in hits, twelve bytes apart, the stores
/// compiled to scatters: `inertia` of 50,000 x 16 `f32` rows took 0.32-0.35 ms so, and
/// 0.25-0.26 this way.)
struct ToLabels<'a, C> {
    labels: &'a [i32],
    dists: &'a mut [C],
}

impl<C: Float> Labelled<C> for ToLabels<'_, C> {
    #[inline(always)]
    fn code(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    #[inline(always)]
    fn keep(&mut self, first: usize, dists: &[C]) {
        self.dists[first..first + dists.len()].copy_from_slice(dists);
    }
}

simd! {
    /// The squared distance, by the direct formula, of each row of `rows` (row-major, `d`
    /// features) to its code in `book` (row-major), kept in `to`. The rows go in blocks of
    /// [`block_rows`]: the differences `c - x` row by row (vectorised along the row), the
    /// block of differences transposed, and the squares summed with the rows in the SIMD
    /// lanes, each in feature order: the bits of [`sq_dist`]. (Summed row by row, eight
    /// rows interleaved in scalar code, this was a third of `vq`'s time with 16 codes of
    /// 64 features sent to the dot-product kernel in a trial.)
    pub(super) fn exact_to_labels<C: Float, L: Labelled<C> + ?Sized>(book: &[C], d: usize, rows: &[C], to: &mut L) {
        /// [`exact_to_labels`] in blocks of `R` rows.
        #[multiversion::inherit_target]
        fn blocks<C: Float, L: Labelled<C> + ?Sized, const R: usize>(
            book: &[C],
            d: usize,
            rows: &[C],
            to: &mut L,
            avx: bool,
        ) {
            let mut diff = vec![C::ZERO; R * d];
            // The block of differences transposed: feature `f` of row `p` at `dt[f][p]`.
            let mut dt = vec![[C::ZERO; R]; d];
            for (b, x) in rows.chunks(R * d).enumerate() {
                let m = x.len() / d;
                for (p, (x, diff)) in x.chunks_exact(d).zip(diff.chunks_exact_mut(d)).enumerate() {
                    let c = &book[to.code(b * R + p) * d..][..d];
                    for ((o, &v), &c) in diff.iter_mut().zip(x).zip(c) {
                        *o = c - v;
                    }
                }
                // SAFETY: `avx` is whether this build of the function has AVX.
                unsafe { transpose_block(&diff[..m * d], d, &mut dt, avx, true) };
                let mut acc = [C::ZERO; R];
                for col in &dt {
                    for (a, &v) in acc.iter_mut().zip(col) {
                        *a += v * v;
                    }
                }
                to.keep(b * R, &acc[..m]);
            }
        }
        assert!(d > 0, "rows of at least one feature");
        let avx = multiversion::target::target_cfg_f!(target_feature = "avx");
        if block_rows::<C>(d) == 32 {
            blocks::<C, L, 32>(book, d, rows, to, avx);
        } else {
            blocks::<C, L, 64>(book, d, rows, to, avx);
        }
    }
}

/// Each row of `rows` (row-major, `d` features) at its squared distance to its code
/// (`labels`) in `book` (row-major), by the direct formula: the bits of [`sq_dist`],
/// measured in blocks of rows by [`exact_to_labels`] from five features on (row by row,
/// each sum a chain of dependent additions, this was 9 ns a row at 16 features).
pub(crate) fn sq_dists_to_labels<C: Float>(
    book: &[C],
    d: usize,
    rows: &[C],
    labels: &[i32],
) -> Vec<C> {
    if d < 5 {
        return (rows.chunks_exact(d.max(1)).zip(labels))
            .map(|(x, &l)| sq_dist(x, &book[l as usize * d..(l as usize + 1) * d]))
            .collect();
    }
    let mut dists = vec![C::ZERO; labels.len()];
    let mut to = ToLabels {
        labels,
        dists: &mut dists,
    };
    exact_to_labels(book, d, rows, &mut to);
    dists
}

simd! {
    /// [`lane_sq_norm`] in the build for the CPU that runs (in the baseline build each
    /// multiply-add is a call to the C library's `fma`: 4% of `vq` at 1,536 features).
    pub(super) fn sq_norm<C: Float>(x: &[C]) -> C {
        lane_sq_norm(x)
    }
}

/// Accumulators of [`lane_sq_dists`].
pub(super) const SUM_LANES: usize = 16;

simd! {
    /// Squared distances of `x` to the rows numbered in `codes` of `rows` (row-major, rows as
    /// long as `x`), into `out`: `sum((c - x)**2)` accumulated in [`SUM_LANES`] lanes and then
    /// added pairwise, so each is the direct formula's value to within its rounding.
    pub(crate) fn lane_sq_dists<C: Float>(x: &[C], rows: &[C], codes: &[u32], out: &mut [C]) {
        let d = x.len();
        let split = d - d % SUM_LANES;
        for (&j, o) in codes.iter().zip(out.iter_mut()) {
            let c = &rows[j as usize * d..(j as usize + 1) * d];
            let mut acc = [C::ZERO; SUM_LANES];
            for (xs, cs) in x[..split]
                .chunks_exact(SUM_LANES)
                .zip(c[..split].chunks_exact(SUM_LANES))
            {
                for t in 0..SUM_LANES {
                    let diff = cs[t] - xs[t];
                    acc[t] = diff.mul_add(diff, acc[t]);
                }
            }
            *o = x[split..]
                .iter()
                .zip(&c[split..])
                .fold(add_lanes(acc), |s, (&a, &b)| (b - a).mul_add(b - a, s));
        }
    }
}

/// `|x|^2`, accumulated in [`SUM_LANES`] lanes and added pairwise as in [`lane_sq_dists`]
/// (the same bits on every SIMD width; not those of a sum in feature order).
#[inline(always)]
pub(crate) fn lane_sq_norm<C: Float>(x: &[C]) -> C {
    lane_dot(x, x)
}

/// `x . y` (as long as `x`), accumulated in [`SUM_LANES`] lanes of fused multiply-adds and
/// added pairwise; within the rounding bound of a dot product in feature order.
#[inline(always)]
pub(super) fn lane_dot<C: Float>(x: &[C], y: &[C]) -> C {
    let split = x.len() - x.len() % SUM_LANES;
    let mut acc = [C::ZERO; SUM_LANES];
    for (xs, ys) in x[..split]
        .chunks_exact(SUM_LANES)
        .zip(y[..split].chunks_exact(SUM_LANES))
    {
        for t in 0..SUM_LANES {
            acc[t] = xs[t].mul_add(ys[t], acc[t]);
        }
    }
    x[split..]
        .iter()
        .zip(&y[split..])
        .fold(add_lanes(acc), |s, (&a, &b)| a.mul_add(b, s))
}

/// The sum of the lanes, added pairwise (halving the width each time).
#[inline(always)]
pub(super) fn add_lanes<C: Float>(mut acc: [C; SUM_LANES]) -> C {
    let mut width = SUM_LANES;
    while width > 1 {
        width /= 2;
        for t in 0..width {
            acc[t] += acc[t + width];
        }
    }
    acc[0]
}

/// The nearest code and squared distance of every row by brute force, for tests.
#[cfg(test)]
pub(crate) fn brute(rows: &[f64], cb: &[f64], d: usize) -> Vec<(i32, f64)> {
    rows.chunks(d)
        .map(|x| {
            let mut best = (0, f64::INFINITY);
            for (j, c) in cb.chunks(d).enumerate() {
                let v = sq_dist(x, c);
                if v < best.1 {
                    best = (j as i32, v);
                }
            }
            best
        })
        .collect()
}

/// The labels of [`brute`].
#[cfg(test)]
pub(crate) fn brute_labels(rows: &[f64], cb: &[f64], d: usize) -> Vec<i32> {
    brute(rows, cb, d)
        .into_iter()
        .map(|(label, _)| label)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows measured in blocks get the bits of the formula row by row, at every width
    /// (the scalar path below five features, blocks and a partial block above).
    #[test]
    fn distances_to_labels_are_the_formulas_bits() {
        fn check<C: Float>(d: usize, next: &mut impl FnMut() -> f64) {
            let (n, k) = (77, 6);
            let book: Vec<C> = (0..k * d).map(|_| C::from_f64(10.0 * next())).collect();
            let rows: Vec<C> = (0..n * d).map(|_| C::from_f64(10.0 * next())).collect();
            let labels: Vec<i32> = (0..n as i32).map(|i| (i * 5) % k as i32).collect();
            let got = sq_dists_to_labels(&book, d, &rows, &labels);
            assert_eq!(got.len(), n);
            for ((x, &l), g) in rows.chunks(d).zip(&labels).zip(&got) {
                let want = sq_dist(x, &book[l as usize * d..(l as usize + 1) * d]);
                assert_eq!(
                    g.to_f64().to_bits(),
                    want.to_f64().to_bits(),
                    "{d} features"
                );
            }
        }
        let mut next = crate::test_uniforms(3);
        for d in [1, 3, 5, 16, 33, 130] {
            check::<f32>(d, &mut next);
            check::<f64>(d, &mut next);
        }
    }
}
