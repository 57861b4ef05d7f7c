//! What a code book's fit to data measures: the (weighted) sum of squared distances of the
//! rows to their codes, and every row's distance to every code; and the spread of the data
//! itself (scikit-learn scales its tolerance by it).

use crate::assign::{check_code_book, lane_sq_dists_all, sq_dists_to_labels};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::{Exec, CHUNK_ROWS};
use crate::sum::{column_mean, column_means_of};
use ndarray::{Array2, ArrayView2};

/// The sum over rows of `w * |x - c[label]|^2` (`w` one if `weights` is `None`): the
/// k-means objective, scikit-learn's inertia. Summed in `f64` per chunk of rows, chunks in
/// order, so the value does not depend on the thread count.
///
/// # Errors
/// `FeatureMismatch` for a code book of another width, `InvalidParameter` for an empty code
/// book or a label out of range, `BadShape` for labels or weights that are not one per row.
///
/// # Examples
/// ```
/// use ferrovq::{inertia, Exec};
/// use ndarray::array;
///
/// let data = array![[0.0, 0.0], [0.0, 2.0], [5.0, 5.0]];
/// let codes = array![[0.0, 1.0], [5.0, 5.0]];
/// let exec = Exec::with_threads(2)?;
/// assert_eq!(inertia(&exec, data.view(), codes.view(), &[0, 0, 1], None)?, 2.0);
/// assert_eq!(inertia(&exec, data.view(), codes.view(), &[0, 0, 1], Some(&[3.0, 1.0, 1.0]))?, 4.0);
/// # Ok::<(), ferrovq::Error>(())
/// ```
pub fn inertia<F: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    codes: ArrayView2<F>,
    labels: &[i32],
    weights: Option<&[F]>,
) -> Result<f64> {
    let (n, d) = data.dim();
    let (k, cd) = codes.dim();
    check_code_book(k, cd, d)?;
    crate::lloyd::check_weights(weights, n)?;
    check_labels(labels, n, k)?;
    let (data, codes) = (data.as_standard_layout(), codes.as_standard_layout());
    let (x, c) = (crate::contiguous(&data)?, crate::contiguous(&codes)?);
    // Each chunk's rows measured together, then summed in row order.
    exec.sum_chunks(n, |rows| {
        let sq = sq_dists_to_labels(
            c,
            d,
            &x[rows.start * d..rows.end * d],
            &labels[rows.clone()],
        );
        rows.zip(sq)
            .map(|(i, s)| (weights.map_or(F::ONE, |w| w[i]) * s).to_f64())
            .sum::<f64>()
    })
}

/// Check that `labels` hold one label per row of `n`, each a code of `k`.
pub(crate) fn check_labels(labels: &[i32], n: usize, k: usize) -> Result<()> {
    if labels.len() != n {
        return Err(Error::BadShape {
            what: "labels",
            len: labels.len(),
            rows: n,
            cols: 1,
        });
    }
    if labels.iter().any(|&l| l < 0 || l as usize >= k) {
        return Err(Error::InvalidParameter(format!(
            "labels must lie in [0, {k})"
        )));
    }
    Ok(())
}

/// Every row's Euclidean distance to every code (`n x k`), each summed over the features
/// in SIMD lanes: the direct formula's value to within its rounding.
///
/// # Errors
/// `FeatureMismatch` for a code book of another width, `InvalidParameter` for an empty code
/// book, and whatever the executor's control hook returns.
///
/// # Examples
/// ```
/// use ferrovq::{distances, Exec};
/// use ndarray::array;
///
/// let data = array![[0.0, 0.0], [3.0, 4.0]];
/// let codes = array![[0.0, 0.0], [6.0, 8.0]];
/// let exec = Exec::with_threads(2)?;
/// assert_eq!(distances(&exec, data.view(), codes.view())?, array![[0.0, 10.0], [5.0, 5.0]]);
/// # Ok::<(), ferrovq::Error>(())
/// ```
pub fn distances<F: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    codes: ArrayView2<F>,
) -> Result<Array2<F>> {
    let (n, d) = data.dim();
    let (k, cd) = codes.dim();
    check_code_book(k, cd, d)?;
    let (data, codes) = (data.as_standard_layout(), codes.as_standard_layout());
    let (x, c) = (crate::contiguous(&data)?, crate::contiguous(&codes)?);
    let mut out: Vec<F> = crate::pages::zeroed(n * k);
    let blocks = out
        .chunks_mut(CHUNK_ROWS * k)
        .zip(x.chunks(CHUNK_ROWS * d.max(1)))
        .collect();
    exec.check()?;
    exec.map(blocks, |(o, rows)| {
        lane_sq_dists_all(rows, c, d, o);
        crate::float::sqrt_all(o);
    });
    crate::matrix(out, n, k)
}

/// The means and the variances of the columns of `data` (`n x d`, row-major), as
/// `numpy.mean(data, axis=0)` and `numpy.var(data, axis=0)` give them, bit for bit (numpy's
/// order of summation, in the data's type; without numpy's `n x d` temporary of the
/// deviations): what scikit-learn's fit computes first. Two passes over the data.
///
/// # Examples
/// ```
/// use ferrovq::column_stats;
///
/// let data = vec![1.0f32, 0.0, 3.0, 0.0, 5.0, 3.0];
/// assert_eq!(column_stats(&data, 2), (vec![3.0, 1.0], vec![8.0 / 3.0, 2.0]));
/// ```
pub fn column_stats<F: Float>(data: &[F], d: usize) -> (Vec<F>, Vec<F>) {
    let n = data.len() / d.max(1);
    let mean = column_mean(data, n, d);
    // numpy.var squares the deviations `data - mean`.
    let var = column_means_of(data, n, d, |j, v| {
        let dev = v - mean[j];
        dev * dev
    });
    (mean, var)
}

/// Subtract `row` from every row of `data` (row-major, `row.len()` features), in place and
/// in parallel: `data -= row` in numpy.
///
/// # Examples
/// ```
/// use ferrovq::{subtract_from_rows, Exec};
///
/// let mut data = vec![1.0f32, 0.0, 3.0, 0.0, 5.0, 3.0];
/// subtract_from_rows(&Exec::with_threads(2)?, &mut data, &[3.0, 1.0]);
/// assert_eq!(data, vec![-2.0, -1.0, 0.0, -1.0, 2.0, 2.0]);
/// # Ok::<(), ferrovq::Error>(())
/// ```
pub fn subtract_from_rows<F: Float>(exec: &Exec, data: &mut [F], row: &[F]) {
    let d = row.len().max(1);
    let tasks = data.chunks_mut(CHUNK_ROWS * d).collect();
    exec.map(tasks, |rows: &mut [F]| {
        for x in rows.chunks_exact_mut(d) {
            x.iter_mut().zip(row).for_each(|(v, &m)| *v = *v - m);
        }
    });
}
