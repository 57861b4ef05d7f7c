//! The update step: centroid means of the rows assigned to each code.
//!
//! Sums run over fixed chunks of rows, each in row order, and the chunks' partial sums are
//! added in chunk order. For data within one chunk this is SciPy's own order (a running
//! sum over the rows), so small problems agree with SciPy bit for bit, and for any size the
//! result does not depend on the number of threads.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use ndarray::{Array2, ArrayView2};

/// Per-code sums and counts of some rows.
#[derive(Debug, Clone)]
pub struct Partial<F> {
    d: usize,
    sums: Vec<F>,
    /// Signed, so that a partial can also hold the change between two assignments.
    counts: Vec<i64>,
}

impl<F: Float> Partial<F> {
    /// Zero sums for `k` codes of `d` features.
    pub fn new(k: usize, d: usize) -> Self {
        Partial {
            d,
            sums: vec![F::ZERO; k * d],
            counts: vec![0; k],
        }
    }

    /// Add `rows` (row-major) to the sums of their `labels`, in row order.
    pub fn add_rows(&mut self, rows: &[F], labels: impl IntoIterator<Item = i32>) {
        let d = self.d;
        for (x, label) in rows.chunks_exact(d.max(1)).zip(labels) {
            let l = label as usize;
            self.counts[l] += 1;
            for (s, &v) in self.sums[l * d..(l + 1) * d].iter_mut().zip(x) {
                *s += v;
            }
        }
    }

    /// Number of codes.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// Move row `x` from code `from` to code `to`: the change to the sums and counts when
    /// its label changes between two assignments.
    pub fn move_row(&mut self, x: &[F], from: usize, to: usize) {
        let d = self.d;
        self.counts[from] -= 1;
        self.counts[to] += 1;
        for (s, &v) in self.sums[from * d..(from + 1) * d].iter_mut().zip(x) {
            *s = *s - v;
        }
        for (s, &v) in self.sums[to * d..(to + 1) * d].iter_mut().zip(x) {
            *s += v;
        }
    }

    /// Zero the sums of codes that have no rows (rows moved in and out can leave rounding
    /// residue where an empty code's sum should be exactly zero).
    pub fn clear_empty(&mut self) {
        let d = self.d;
        for (code, &count) in self.sums.chunks_exact_mut(d.max(1)).zip(&self.counts) {
            if count == 0 {
                code.fill(F::ZERO);
            }
        }
    }

    /// Add another partial's sums and counts to these.
    pub fn merge(&mut self, other: &Partial<F>) {
        for (s, &o) in self.sums.iter_mut().zip(&other.sums) {
            *s += o;
        }
        for (c, &o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
    }

    /// The means (row-major `k x d`; zeros for codes without rows) and which codes had rows.
    pub fn means(&self) -> (Vec<F>, Vec<bool>) {
        self.clone().into_means()
    }

    /// [`Partial::means`], consuming the sums.
    pub fn into_means(self) -> (Vec<F>, Vec<bool>) {
        let d = self.d;
        let mut sums = self.sums;
        for (code, &count) in sums.chunks_exact_mut(d.max(1)).zip(&self.counts) {
            if count > 0 {
                let c = F::from_usize(count as usize);
                for v in code {
                    *v = *v / c;
                }
            }
        }
        let has_members = self.counts.iter().map(|&c| c > 0).collect();
        (sums, has_members)
    }
}

/// SciPy's `_vq.update_cluster_means`: the mean of the rows of `data` carrying each label
/// in `0..k`, and which labels occur. Codes without rows get zeros.
///
/// # Errors
/// `BadShape` if `labels` does not have one entry per row, `InvalidParameter` for a label
/// outside `0..k`, and whatever the executor's control hook returns.
pub fn cluster_means<F: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    labels: &[i32],
    k: usize,
) -> Result<(Array2<F>, Vec<bool>)> {
    let (n, d) = data.dim();
    if labels.len() != n {
        return Err(Error::BadShape {
            what: "labels",
            len: labels.len(),
            rows: n,
            cols: 1,
        });
    }
    if let Some(bad) = labels.iter().find(|&&l| l < 0 || l as usize >= k) {
        return Err(Error::InvalidParameter(format!(
            "label {bad} is outside 0..{k}"
        )));
    }
    let data = data.as_standard_layout();
    let x = crate::contiguous(&data)?;
    let mut total = Partial::new(k, d);
    exec.chunks(
        n,
        &mut [0u8; 0],
        &mut [0u8; 0],
        |first, _, _| {
            let rows = (n - first).min(crate::parallel::CHUNK_ROWS);
            let mut part = Partial::new(k, d);
            let rows_labels = labels[first..first + rows].iter().copied();
            part.add_rows(&x[first * d..(first + rows) * d], rows_labels);
            part
        },
        |part| total.merge(&part),
    )?;
    let (means, has) = total.into_means();
    Ok((crate::matrix(means, k, d)?, has))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn means_and_empty_codes() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[1.0f64, 2.0], [3.0, 4.0], [10.0, 10.0]];
        let (m, has) = cluster_means(&exec, data.view(), &[0, 0, 2], 4).unwrap();
        assert_eq!(m, array![[2.0, 3.0], [0.0, 0.0], [10.0, 10.0], [0.0, 0.0]]);
        assert_eq!(has, vec![true, false, true, false]);
    }

    #[test]
    fn bad_labels_are_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[1.0f32], [2.0]];
        assert!(cluster_means(&exec, data.view(), &[0, 5], 2).is_err());
        assert!(cluster_means(&exec, data.view(), &[0], 2).is_err());
    }

    #[test]
    fn thread_count_does_not_change_bits() {
        let n = 3 * crate::parallel::CHUNK_ROWS + 5;
        let data = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 101) as f64 / 7.3);
        let labels: Vec<i32> = (0..n).map(|i| (i % 5) as i32).collect();
        let one = cluster_means(&Exec::with_threads(1).unwrap(), data.view(), &labels, 5).unwrap();
        for t in [2, 3, 4] {
            let many =
                cluster_means(&Exec::with_threads(t).unwrap(), data.view(), &labels, 5).unwrap();
            assert_eq!(one.0, many.0);
        }
    }
}
