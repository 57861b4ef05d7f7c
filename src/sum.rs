//! Sums in numpy's order, so that means and normalisations agree with numpy bit for bit.

use crate::float::Float;

/// numpy's block size for pairwise summation (`PW_BLOCKSIZE`).
const PW_BLOCKSIZE: usize = 128;

/// Sum of `a` exactly as `numpy.sum` computes it for a contiguous 1-D array: pairwise
/// summation over halves rounded down to multiples of 8, with eight accumulators in
/// blocks of at most 128 elements.
pub fn pairwise_sum<F: Float>(a: &[F]) -> F {
    let n = a.len();
    if n < 8 {
        let mut res = F::ZERO;
        for &x in a {
            res += x;
        }
        res
    } else if n <= PW_BLOCKSIZE {
        let mut r = [F::ZERO; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `numpy.mean` of a contiguous 1-D array in its own dtype: the pairwise sum divided by
/// the count. NaN for an empty slice, as numpy.
pub fn mean<F: Float>(a: &[F]) -> F {
    pairwise_sum(a) / F::from_usize(a.len())
}

/// The mean of `f(column, value)` over each column of `x` (`n x d`, row-major), summed in
/// the order `numpy.mean(axis=0)` uses for a C-contiguous array: with several columns a
/// running sum per column, row by row; with one column (contiguous) the pairwise sum.
pub fn column_means_of<F: Float>(x: &[F], n: usize, d: usize, f: impl Fn(usize, F) -> F) -> Vec<F> {
    let count = F::from_usize(n);
    if d == 1 {
        let values: Vec<F> = x.iter().map(|&v| f(0, v)).collect();
        return vec![pairwise_sum(&values) / count];
    }
    let mut sums = vec![F::ZERO; d];
    for row in x.chunks_exact(d.max(1)) {
        for (j, (s, &v)) in sums.iter_mut().zip(row).enumerate() {
            *s += f(j, v);
        }
    }
    sums.into_iter().map(|s| s / count).collect()
}

/// `numpy.mean(x, axis=0)` of a C-contiguous `n x d` array; see [`column_means_of`].
pub fn column_mean<F: Float>(x: &[F], n: usize, d: usize) -> Vec<F> {
    column_means_of(x, n, d, |_, v| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sums_are_sequential() {
        assert_eq!(pairwise_sum(&[1.0f64, 2.0, 3.0]), 6.0);
        assert_eq!(pairwise_sum::<f64>(&[]), 0.0);
    }

    #[test]
    fn pairwise_is_more_accurate_than_sequential() {
        // 2**24 + many ones: a sequential f32 sum loses every 1.0, pairwise keeps them.
        let mut v = vec![1.0f32; 1 << 12];
        v[0] = 16_777_216.0;
        let seq: f32 = v.iter().fold(0.0, |s, &x| s + x);
        assert_eq!(seq, 16_777_216.0);
        assert!(pairwise_sum(&v) > 16_777_216.0 + 2000.0);
    }

    #[test]
    fn mean_of_empty_is_nan() {
        assert!(mean::<f64>(&[]).is_nan());
    }
}
