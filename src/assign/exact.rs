//! Exact squared distances: SciPy's direct formula, and a lane-summed variant equal to it to
//! within its rounding (for bounds, where the bits do not matter).

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

/// Accumulators of [`lane_sq_dists`].
const SUM_LANES: usize = 16;

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
            let mut width = SUM_LANES;
            while width > 1 {
                width /= 2;
                for t in 0..width {
                    acc[t] += acc[t + width];
                }
            }
            *o = x[split..]
                .iter()
                .zip(&c[split..])
                .fold(acc[0], |s, (&a, &b)| (b - a).mul_add(b - a, s));
        }
    }
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
