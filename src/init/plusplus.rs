//! k-means++ seeding (Arthur and Vassilvitskii, 2007), plain or with row weights, from the
//! caller's draws.

#[cfg(test)]
use crate::assign::sq_dist;
use crate::assign::transpose_block;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use crate::sum::pairwise_sum;
use ndarray::{Array2, ArrayView2};

/// The result of [`kmeans_plusplus`].
#[derive(Debug, Clone)]
pub struct PlusPlus {
    /// `k x d` chosen centroids, in `f64` as SciPy's seeding keeps them.
    pub centroids: Array2<f64>,
    /// The row index of the data chosen for each centroid.
    pub indices: Vec<usize>,
    /// Steps at which every remaining squared distance was zero (so the probabilities
    /// were 0/0, which numpy reports as an invalid division); each picked row 0.
    pub degenerate_steps: usize,
}

/// k-means++ seeding (Arthur and Vassilvitskii, 2007) in O(n·k·d).
///
/// The first centroid is row `first`. Each further centroid is drawn as SciPy does: with
/// `D2` each row's squared distance to its nearest chosen centroid (times the row's weight,
/// if `weights` are given), `probs = D2 / sum(D2)` (numpy's pairwise sum), a running
/// `cumsum`, then the first row whose cumulative probability is at least the next of
/// `uniforms` (`searchsorted`, side 'left'). `D2` is kept between steps and lowered with
/// the newest centroid only. Fed the draws SciPy makes from a numpy generator, it picks the
/// centroids SciPy picks.
///
/// # Errors
/// `InvalidParameter` for empty data, `k == 0`, `first` out of range or fewer than `k - 1`
/// uniforms, `BadShape` for weights that are not one per row, and whatever the executor's
/// control hook returns (it is asked between steps).
pub fn kmeans_plusplus<F: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    k: usize,
    first: usize,
    uniforms: &[f64],
    weights: Option<&[F]>,
) -> Result<PlusPlus> {
    let (n, d) = data.dim();
    if n == 0 || k == 0 {
        return Err(Error::InvalidParameter(
            "k-means++ needs at least one row and one centroid".into(),
        ));
    }
    if first >= n {
        return Err(Error::InvalidParameter(format!(
            "first index {first} is out of range for {n} rows"
        )));
    }
    if uniforms.len() + 1 < k {
        return Err(Error::InvalidParameter(format!(
            "k-means++ needs {} uniform draws, got {}",
            k - 1,
            uniforms.len()
        )));
    }
    crate::lloyd::check_weights(weights, n)?;
    let weights: Option<Vec<f64>> = weights.map(|w| w.iter().map(|v| v.to_f64()).collect());
    let mut weighted = vec![0.0; if weights.is_some() { n } else { 0 }];
    let data = data.as_standard_layout();
    let x = crate::contiguous(&data)?;
    let width = d.max(1);
    // Rows are read in their own type and widened as they are read: a widened copy of
    // `f32` data doubled the memory each of the `k` passes reads (and the memory used).
    let xs = x;
    let mut newest = vec![0.0; d];
    let mut d2 = vec![f64::INFINITY; n];
    let mut centroids = Array2::<f64>::zeros((k, d));
    let mut indices = Vec::with_capacity(k);
    let mut degenerate_steps = 0;
    let mut pick = first;
    for i in 0..k {
        if i > 0 {
            exec.check()?;
            let last = indices[i - 1];
            for (c, &v) in newest.iter_mut().zip(&xs[last * d..last * d + d]) {
                *c = v.to_f64();
            }
            let newest = &newest[..];
            let blocks = d2
                .chunks_mut(crate::parallel::CHUNK_ROWS)
                .zip(xs.chunks(crate::parallel::CHUNK_ROWS * width))
                .collect();
            exec.map(blocks, |(dd, rows)| lower_d2(newest, rows, d, dd));
            let mass = match &weights {
                Some(w) => {
                    for ((m, &v), &w) in weighted.iter_mut().zip(&d2).zip(w) {
                        *m = v * w;
                    }
                    &weighted
                }
                None => &d2,
            };
            let total = pairwise_sum(mass);
            if total == 0.0 {
                degenerate_steps += 1;
            }
            pick = search_cumulative(mass, total, uniforms[i - 1]);
        }
        indices.push(pick);
        centroids
            .row_mut(i)
            .iter_mut()
            .zip(&xs[pick * d..pick * d + d])
            .for_each(|(c, &v)| *c = v.to_f64());
    }
    Ok(PlusPlus {
        centroids,
        indices,
        degenerate_steps,
    })
}

/// Rows handled together when lowering `D2`: four vector registers of `f64`, so that four
/// chains of additions hide each other's latency.
const D2_BLOCK: usize = 32;

simd! {
    /// Lower each row's `d2` to its squared distance to `newest` if that is smaller, in
    /// `f64` (the rows widened as they are read). A block of rows is transposed (as the
    /// direct kernel's are) and its rows processed side by side, each summed over its
    /// features in order, so the values are those of [`crate::assign::sq_dist`] of the
    /// widened row while the arithmetic is vectorised across rows. (Gathered value by
    /// value, the block made this function three times as slow as one read of the rows.)
    fn lower_d2<F: Float>(newest: &[f64], rows: &[F], d: usize, d2: &mut [f64]) {
        if d == 0 {
            d2.iter_mut().for_each(|v| *v = v.min(0.0));
            return;
        }
        let avx = multiversion::target::target_cfg_f!(target_feature = "avx");
        let mut xt = vec![[F::ZERO; D2_BLOCK]; d];
        for (block, o) in rows.chunks(d * D2_BLOCK).zip(d2.chunks_mut(D2_BLOCK)) {
            // SAFETY: `avx` is whether this build of the function has AVX.
            unsafe { transpose_block(block, d, &mut xt, avx, false) };
            let mut acc = [0.0f64; D2_BLOCK];
            for (col, &c) in xt.iter().zip(newest) {
                for (a, &v) in acc.iter_mut().zip(col) {
                    let diff = v.to_f64() - c;
                    *a += diff * diff;
                }
            }
            for (v, &s) in o.iter_mut().zip(&acc) {
                if s < *v {
                    *v = s;
                }
            }
        }
    }
}

/// numpy's `searchsorted(cumsum(d2 / total), r)`: the first index whose cumulative
/// probability is not below `r` (NaN sorts last, so a NaN cumulative value matches). If
/// rounding leaves every cumulative value below `r`, the last row (SciPy would index past
/// the end).
fn search_cumulative(d2: &[f64], total: f64, r: f64) -> usize {
    let mut cum = 0.0;
    for (j, &v) in d2.iter().enumerate() {
        cum += v / total;
        if cum.partial_cmp(&r) != Some(std::cmp::Ordering::Less) {
            return j;
        }
    }
    d2.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn plusplus_picks_by_cumulative_probability() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[0.0f64], [1.0], [3.0]];
        // D2 after row 0 = [0, 1, 9]: cumprobs [0, 0.1, 1.0].
        let pp = kmeans_plusplus(&exec, data.view(), 2, 0, &[0.05, 0.5], None).unwrap();
        assert_eq!(pp.indices, vec![0, 1]);
        let pp = kmeans_plusplus(&exec, data.view(), 2, 0, &[0.5], None).unwrap();
        assert_eq!(pp.indices, vec![0, 2]);
        assert_eq!(pp.centroids, array![[0.0], [3.0]]);
        // Weights 1, 9, 1: w * D2 = [0, 9, 9], cumprobs [0, 0.5, 1.0].
        let w = [1.0, 9.0, 1.0];
        let pp = kmeans_plusplus(&exec, data.view(), 2, 0, &[0.5], Some(&w)).unwrap();
        assert_eq!(pp.indices, vec![0, 1]);
        let pp = kmeans_plusplus(&exec, data.view(), 2, 0, &[0.51], Some(&w)).unwrap();
        assert_eq!(pp.indices, vec![0, 2]);
        // Unit weights draw what no weights draw.
        let ones = [1.0; 3];
        for u in [0.05, 0.1, 0.11, 0.9] {
            let plain = kmeans_plusplus(&exec, data.view(), 2, 0, &[u], None).unwrap();
            let unit = kmeans_plusplus(&exec, data.view(), 2, 0, &[u], Some(&ones)).unwrap();
            assert_eq!(plain.indices, unit.indices);
        }
        // Too few draws is an error, not a made-up draw.
        assert!(kmeans_plusplus(&exec, data.view(), 3, 0, &[0.5], None).is_err());
    }

    #[test]
    fn plusplus_with_more_centroids_than_distinct_rows() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[2.0f32, 2.0], [2.0, 2.0]];
        let pp = kmeans_plusplus(&exec, data.view(), 4, 1, &[0.7; 3], None).unwrap();
        assert_eq!(pp.indices, vec![1, 0, 0, 0]);
        assert_eq!(pp.degenerate_steps, 3);
    }

    #[test]
    fn lowering_d2_in_blocks_is_sq_dist_bit_for_bit() {
        for d in [0usize, 1, 3, 16] {
            let n = 3 * D2_BLOCK + 5;
            let rows: Vec<f64> = (0..n * d).map(|i| ((i * 37) % 101) as f64 / 9.7).collect();
            let newest: Vec<f64> = (0..d).map(|f| f as f64 * 0.31).collect();
            let mut d2 = vec![f64::INFINITY; n];
            lower_d2(&newest, &rows, d, &mut d2);
            // `f32` rows, widened as they are read.
            let narrow: Vec<f32> = rows.iter().map(|&v| v as f32).collect();
            let mut d2_narrow = vec![f64::INFINITY; n];
            lower_d2(&newest, &narrow, d, &mut d2_narrow);
            for (i, (v, w)) in d2.iter().zip(&d2_narrow).enumerate() {
                let row = &rows[i * d..(i + 1) * d];
                assert_eq!(v.to_bits(), sq_dist(&newest, row).to_bits());
                let wide: Vec<f64> = narrow[i * d..(i + 1) * d]
                    .iter()
                    .map(|&v| v.into())
                    .collect();
                assert_eq!(w.to_bits(), sq_dist(&newest, &wide).to_bits());
            }
        }
    }

    #[test]
    fn plusplus_is_thread_count_independent() {
        let n = 3 * crate::parallel::CHUNK_ROWS + 11;
        let data = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 31 + j * 17) % 97) as f64);
        let mut u = 0.1;
        let draws: Vec<f64> = (0..19)
            .map(|_| {
                u = (u * 7.31f64).fract();
                u
            })
            .collect();
        let run = |t| {
            kmeans_plusplus(
                &Exec::with_threads(t).unwrap(),
                data.view(),
                20,
                5,
                &draws,
                None,
            )
            .unwrap()
            .indices
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(4));
    }
}
