//! Vector quantisation: the nearest code of every observation (SciPy's `vq`).

use crate::distance::{Codebook, Hit, Promote};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use ndarray::ArrayView2;

/// Per-chunk buffers of the assignment kernel.
pub(crate) struct Scratch<C> {
    pub(crate) acc: Vec<C>,
    pub(crate) hits: Vec<Hit<C>>,
    pub(crate) promoted: Vec<C>,
}

impl<C: Float> Scratch<C> {
    pub(crate) fn new(cb: &Codebook<C>, rows: usize) -> Self {
        Scratch {
            acc: vec![C::ZERO; cb.scratch_len()],
            hits: vec![Hit::default(); rows],
            promoted: Vec::new(),
        }
    }
}

/// Label the rows of one chunk (row-major, data type `F`, compared in the code book's
/// type `C`). If `dists` is not empty it receives each row's distance (not squared).
pub(crate) fn assign_chunk<F: Promote<C>, C: Float>(
    rows: &[F],
    cb: &Codebook<C>,
    labels: &mut [i32],
    dists: &mut [C],
    scratch: &mut Scratch<C>,
) {
    let x = F::promote(rows, &mut scratch.promoted);
    let hits = &mut scratch.hits[..labels.len()];
    cb.nearest_rows(x, hits, &mut scratch.acc, true);
    for (l, h) in labels.iter_mut().zip(hits.iter()) {
        *l = h.label;
    }
    for (d, h) in dists.iter_mut().zip(hits.iter()) {
        *d = h.best.sqrt();
    }
}

/// Check that `code_book` can label rows of `d` features.
pub(crate) fn check_code_book(k: usize, cb_d: usize, d: usize) -> Result<()> {
    if cb_d != d {
        return Err(Error::FeatureMismatch {
            data: d,
            code_book: cb_d,
        });
    }
    if k == 0 {
        return Err(Error::InvalidParameter("the code book is empty".into()));
    }
    if k > i32::MAX as usize {
        return Err(Error::InvalidParameter(format!(
            "the code book has {k} codes; at most {} are supported",
            i32::MAX
        )));
    }
    Ok(())
}

/// The index of the nearest code for each row of `obs` and the Euclidean distance to it.
///
/// Ties go to the lowest code index. Rows whose distances are all NaN get code 0 and an
/// infinite distance.
///
/// # Errors
/// `FeatureMismatch` if the column counts differ, `InvalidParameter` for an empty code
/// book, and whatever the executor's control hook returns.
pub fn vq<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
) -> Result<(Vec<i32>, Vec<C>)> {
    let (n, d) = obs.dim();
    let (k, cb_d) = code_book.dim();
    check_code_book(k, cb_d, d)?;
    let obs = obs.as_standard_layout();
    let x = crate::contiguous(&obs)?;
    let code_book = code_book.as_standard_layout();
    let cb = Codebook::new(crate::contiguous(&code_book)?, k, d);
    let mut labels = vec![0i32; n];
    let mut dists = vec![C::ZERO; n];
    exec.chunks(
        n,
        &mut labels,
        &mut dists,
        |first, labels, dists| {
            let mut scratch = Scratch::new(&cb, labels.len());
            let rows = &x[first * d..(first + labels.len()) * d];
            assign_chunk::<C, C>(rows, &cb, labels, dists, &mut scratch);
        },
        |()| (),
    )?;
    Ok((labels, dists))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn scipy_docstring_example() {
        let exec = Exec::with_threads(2).unwrap();
        let cb = array![[1.0f64, 1.0, 1.0], [2.0, 2.0, 2.0]];
        let obs = array![[1.9, 2.3, 1.7], [1.5, 2.5, 2.2], [0.8, 0.6, 1.7]];
        let (codes, dist) = vq(&exec, obs.view(), cb.view()).unwrap();
        assert_eq!(codes, vec![1, 1, 0]);
        let expect = [0.43588989, 0.73484692, 0.83066239];
        for (a, b) in dist.iter().zip(expect) {
            assert!((a - b).abs() < 1e-8);
        }
    }

    #[test]
    fn k_equals_n_labels_each_row_itself() {
        let exec = Exec::with_threads(2).unwrap();
        let n = 5000;
        let obs = Array2::from_shape_fn((n, 3), |(i, j)| (i * 3 + j) as f32);
        let (codes, dist) = vq(&exec, obs.view(), obs.view()).unwrap();
        assert!(codes.iter().enumerate().all(|(i, &c)| c as usize == i));
        assert!(dist.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn shape_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let obs = array![[1.0f64, 2.0]];
        let cb3 = array![[1.0f64, 2.0, 3.0]];
        assert!(matches!(
            vq(&exec, obs.view(), cb3.view()),
            Err(Error::FeatureMismatch { .. })
        ));
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(vq(&exec, obs.view(), empty.view()).is_err());
        let (c, d) = vq(&exec, empty.view(), obs.view()).unwrap();
        assert!(c.is_empty() && d.is_empty());
    }
}
