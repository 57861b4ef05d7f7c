//! Rows drawn from a fixed discrete distribution as numpy's `RandomState.choice(n, size,
//! p=p)` draws them from its uniforms: each uniform's place in the cumulative distribution
//! (the first value above it, numpy's `searchsorted(u, side="right")`), found through a
//! table of where equal buckets of `[0, 1)` start in it.

use crate::cache::{prefetch_line, TO_L1};
use crate::error::{Error, Result};
use std::cmp::Ordering;

/// Buckets of the table at most (four bytes each).
const MAX_BUCKETS: usize = 1 << 20;

/// Values of the distribution per bucket, about, where the table is not at its largest: a
/// bucket's values then span a cache line or two, and the table a quarter of the values'
/// memory.
const VALUES_PER_BUCKET: usize = 4;

/// A cumulative distribution and the places of its buckets: `2^b` equal buckets of
/// `[0, 1)`, about one per four values, each with the first value above its
/// lower end. A uniform's bucket is its product with the bucket count, exact for a power of
/// two, so its place lies between its bucket's start and the next one's: a read of the
/// table and a search of the few values between, where a search of the whole distribution
/// (numpy's) read about `log2(n)` values a uniform, most of them cache misses at a million
/// rows (250 ns a uniform).
///
/// # Examples
/// ```
/// use ferrovq::Cdf;
///
/// let cdf = Cdf::new(vec![0.25, 0.25, 0.5, 1.0])?;
/// let mut places = [0; 4];
/// cdf.places(&[0.0, 0.25, 0.3, 0.99], &mut places);
/// assert_eq!(places, [0, 2, 2, 3]);
/// # Ok::<(), ferrovq::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cdf {
    values: Vec<f64>,
    /// `starts[i]`: the number of values at most `i / buckets`, for `i` in `0..=buckets`.
    starts: Vec<u32>,
    buckets: usize,
}

impl Cdf {
    /// The table of `values`, a cumulative distribution (non-decreasing, no NaN), built in
    /// one walk over them (a search of them per bucket took 80 ms at a million values).
    ///
    /// # Errors
    /// `InvalidParameter` if `values` decrease anywhere or hold a NaN, or if they are more
    /// than `u32::MAX`.
    pub fn new(values: Vec<f64>) -> Result<Self> {
        if values.len() > u32::MAX as usize {
            return Err(Error::InvalidParameter(
                "a distribution of more than 2^32 - 1 values".into(),
            ));
        }
        let ordered = |w: &[f64]| {
            matches!(
                w[0].partial_cmp(&w[1]),
                Some(Ordering::Less | Ordering::Equal)
            )
        };
        if values.first().is_some_and(|v| v.is_nan()) || !values.windows(2).all(ordered) {
            return Err(Error::InvalidParameter(
                "a cumulative distribution must not decrease or hold a NaN".into(),
            ));
        }
        let buckets = (values.len() / VALUES_PER_BUCKET)
            .next_power_of_two()
            .clamp(1, MAX_BUCKETS);
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut at = 0;
        for i in 0..=buckets {
            // Exact: a power of two divides.
            let edge = i as f64 / buckets as f64;
            while values.get(at).is_some_and(|&v| v <= edge) {
                at += 1;
            }
            starts.push(at as u32);
        }
        Ok(Cdf {
            values,
            starts,
            buckets,
        })
    }

    /// The place of `u`: the number of values at most `u` (numpy's
    /// `searchsorted(u, side="right")`; NaN counts as above every value, as numpy sorts it).
    #[inline]
    pub fn place(&self, u: f64) -> usize {
        if u.is_nan() {
            return self.values.len();
        }
        if !(0.0..1.0).contains(&u) {
            return self.values.partition_point(|&v| v <= u);
        }
        // Exact, as the bucket count is a power of two; below it, as `u < 1`.
        let b = (u * self.buckets as f64) as usize;
        let (lo, hi) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        lo + self.values[lo..hi].partition_point(|&v| v <= u)
    }

    /// [`Cdf::place`] of each of `uniforms`, into `out` (as long).
    ///
    /// # Panics
    /// If `out` is not as long as `uniforms`.
    pub fn places(&self, uniforms: &[f64], out: &mut [i64]) {
        assert_eq!(uniforms.len(), out.len(), "a place for each uniform");
        // The values a uniform's search reads are asked for `AHEAD` uniforms before it
        // (each read is a cache miss at a million rows, and the searches are independent).
        const AHEAD: usize = 16;
        let bucket = |u: f64| {
            (0.0..1.0)
                .contains(&u)
                .then(|| self.starts[(u * self.buckets as f64) as usize] as usize)
        };
        for (i, (o, &u)) in out.iter_mut().zip(uniforms).enumerate() {
            if let Some(lo) = uniforms.get(i + AHEAD).and_then(|&v| bucket(v)) {
                prefetch_line::<TO_L1, f64>(self.values.as_ptr().wrapping_add(lo));
            }
            *o = self.place(u) as i64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every place is that of a search of the whole distribution, whatever the weights
    /// (equal, zero runs, one heavy row, tiny ones), at the buckets' edges and between.
    #[test]
    fn places_are_those_of_a_full_search() {
        let mut uniforms = crate::test_uniforms(17);
        let mut next = || uniforms() + 0.5;
        let weights: Vec<Vec<f64>> = vec![
            vec![1.0; 1000],
            (0..777)
                .map(|i| if i % 5 < 2 { 0.0 } else { next() })
                .collect(),
            (0..300)
                .map(|i| if i == 150 { 1e6 } else { 1e-9 })
                .collect(),
            vec![1.0],
            vec![0.0, 0.0, 3.0, 0.0],
        ];
        for w in weights {
            let total: f64 = w.iter().sum();
            let mut cdf: Vec<f64> = w
                .iter()
                .scan(0.0, |s, &v| {
                    *s += v;
                    Some(*s)
                })
                .collect();
            let last = cdf[cdf.len() - 1];
            cdf.iter_mut().for_each(|v| *v /= last);
            let table = Cdf::new(cdf.clone()).unwrap();
            let mut us: Vec<f64> = (0..5000).map(|_| next()).collect();
            us.extend(cdf.iter().flat_map(|&v| [v, v.next_down(), v.next_up()]));
            us.extend((0..=64).map(|i| i as f64 / 64.0));
            us.extend([0.0, 1.0, 1.5, -0.5, f64::NAN]);
            for u in us {
                let want = if u.is_nan() {
                    cdf.len()
                } else {
                    cdf.partition_point(|&v| v <= u)
                };
                assert_eq!(
                    table.place(u),
                    want,
                    "u = {u}, {} rows of weight {total}",
                    w.len()
                );
            }
        }
    }

    #[test]
    fn decreasing_or_nan_distributions_are_refused() {
        assert!(Cdf::new(vec![0.5, 0.4, 1.0]).is_err());
        assert!(Cdf::new(vec![0.5, f64::NAN, 1.0]).is_err());
        assert!(Cdf::new(Vec::new()).is_ok_and(|c| c.place(0.5) == 0));
    }
}
