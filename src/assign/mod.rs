//! The assignment step: the nearest code of every row.
//!
//! A code book is prepared once for its queries, which go to one of three kernels: the
//! direct formula for fewer than five features (SciPy's bits) and register-tiled dot
//! products with a rounding bound for more (labels of exact arithmetic); with few codes
//! the direct formula, or, for labels alone, the same dot products with the rows in the
//! SIMD lanes. `f64` rows may be ranked in `f32` first where that cannot change a label,
//! and `f32` rows (and `f64` ones through `f32`) by 16-bit integer products (on CPUs with
//! AVX2; AVX-512 VNNI where there is), with the rounding bounded and the codes within the bound measured
//! exactly.

mod bound;
mod codebook;
mod direct;
mod dot;
mod exact;
mod grouped;
mod lane_block;
mod lane_dots;
mod narrow;
mod quant;
mod row_dots;
mod transpose;

pub(crate) use codebook::{Codebook, Hit};
pub(crate) use dot::ROWS;
#[cfg(test)]
pub(crate) use exact::{brute, brute_labels};
pub(crate) use exact::{lane_sq_dists, sq_dist, sq_dists_to_labels};
pub(crate) use grouped::GroupedBook;
pub(crate) use lane_block::lane_sq_dists_all;
pub(crate) use quant::{integer_kernel, integer_limit, lane_of};
pub(crate) use transpose::transpose_block;

use crate::error::{Error, Result};
use crate::finite::block_finite;
use crate::float::{Float, Promote};
use crate::parallel::Exec;
use ndarray::ArrayView2;

/// From this many features on, codes are ranked by dot products (SciPy's cut-off too).
const DOT_MIN_FEATURES: usize = 5;

/// Rows per parallel task of [`nearest`]: rows are labelled independently, so the tasks can
/// be smaller than the fixed chunks of the k-means sums and share the rows out more evenly
/// (10,000 rows are 20 tasks rather than 5 on two threads).
const NEAREST_ROWS: usize = 512;

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
    cb.nearest_rows(x, hits, &mut scratch.acc, !dists.is_empty());
    for (l, h) in labels.iter_mut().zip(hits.iter()) {
        *l = h.label;
    }
    for (d, h) in dists.iter_mut().zip(hits.iter()) {
        *d = h.best;
    }
    crate::float::sqrt_all(dists);
}

/// [`Codebook::nearest_rows`] of the rows of one chunk (`rows`, `hits.len()` of them),
/// split into tasks of [`NEAREST_ROWS`] for the executor's threads when `split`: a chunk
/// of k-means is the unit of its sums' order, so with few chunks the threads would
/// otherwise idle (10,000 rows are 5 chunks for 2 threads). Each row's hit is the same
/// either way.
pub(crate) fn nearest_rows_in<C: Float>(
    exec: &Exec,
    cb: &Codebook<C>,
    rows: &[C],
    hits: &mut [Hit<C>],
    acc: &mut [C],
    exact: bool,
    split: bool,
) {
    if !split || hits.len() <= NEAREST_ROWS {
        cb.nearest_rows(rows, hits, acc, exact);
        return;
    }
    let d = cb.d.max(1);
    let tasks = rows
        .chunks(NEAREST_ROWS * d)
        .zip(hits.chunks_mut(NEAREST_ROWS))
        .collect();
    exec.map(tasks, |(x, h)| {
        let mut acc = vec![C::ZERO; cb.scratch_len()];
        cb.nearest_rows(x, h, &mut acc, exact);
    });
}

/// Check that a code book of `k` codes of `cb_d` features can label rows of `d` features.
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
pub fn nearest<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
) -> Result<(Vec<i32>, Vec<C>)> {
    nearest_checked(exec, obs, code_book, false)
}

/// The index of the nearest code for each row of `obs`, as [`nearest`] gives it, without
/// the distances (with five or more features, ranking the codes is then all the work);
/// checking as it goes, if `check_finite`, that both arrays hold no NaN or infinity.
///
/// # Errors
/// As [`nearest`], and `NotFinite` if the check fails.
pub fn nearest_labels<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
    check_finite: bool,
) -> Result<Vec<i32>> {
    label_rows(exec, obs, code_book, check_finite, false).map(|(labels, _)| labels)
}

/// [`nearest`], checking first if `check_finite` that both arrays hold no NaN or infinity
/// (`NotFinite` if they do). The rows are checked chunk by chunk as they are labelled,
/// while in cache, rather than in a pass of their own over memory.
pub(crate) fn nearest_checked<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
    check_finite: bool,
) -> Result<(Vec<i32>, Vec<C>)> {
    label_rows(exec, obs, code_book, check_finite, true)
}

/// [`nearest_checked`], with the distances only if `distances` (else an empty vector).
fn label_rows<C: Float>(
    exec: &Exec,
    obs: ArrayView2<C>,
    code_book: ArrayView2<C>,
    check_finite: bool,
    distances: bool,
) -> Result<(Vec<i32>, Vec<C>)> {
    let (n, d) = obs.dim();
    let (k, cb_d) = code_book.dim();
    check_code_book(k, cb_d, d)?;
    let obs = obs.as_standard_layout();
    let x = crate::contiguous(&obs)?;
    let code_book = code_book.as_standard_layout();
    let book = crate::contiguous(&code_book)?;
    if check_finite && !block_finite(book) {
        return Err(Error::NotFinite);
    }
    let cb = Codebook::new(book, k, d);
    let mut labels: Vec<i32> = crate::pages::zeroed(n);
    let mut dists: Vec<C> = crate::pages::zeroed(if distances { n } else { 0 });
    let mut finite = true;
    exec.chunks_of(
        NEAREST_ROWS,
        n,
        &mut labels,
        &mut dists,
        |first, labels, dists| {
            let rows = &x[first * d..(first + labels.len()) * d];
            if check_finite && !block_finite(rows) {
                return false;
            }
            let mut scratch = Scratch::new(&cb, labels.len());
            assign_chunk::<C, C>(rows, &cb, labels, dists, &mut scratch);
            true
        },
        |ok| finite &= ok,
    )?;
    if !finite {
        return Err(Error::NotFinite);
    }
    Ok((labels, dists))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    #[test]
    fn labels_alone_are_those_of_nearest() {
        let exec = Exec::with_threads(2).unwrap();
        let mut next = crate::test_uniforms(21);
        // Both kernels, f64 ranked in f32 first, a last code equal to the first (ties).
        for &(n, d, k) in &[(3000, 2, 5), (3000, 9, 40), (2500, 70, 5), (1200, 33, 300)] {
            let x = Array2::from_shape_fn((n, d), |_| next());
            let mut book = x.slice(s![..k, ..]).to_owned();
            let first = book.row(0).to_owned();
            book.row_mut(k - 1).assign(&first);
            let (want, _) = nearest(&exec, x.view(), book.view()).unwrap();
            assert_eq!(
                nearest_labels(&exec, x.view(), book.view(), false).unwrap(),
                want
            );
            let (mut x, book) = (x.mapv(|v| v as f32), book.mapv(|v| v as f32));
            let (want, _) = nearest(&exec, x.view(), book.view()).unwrap();
            assert_eq!(
                nearest_labels(&exec, x.view(), book.view(), true).unwrap(),
                want
            );
            // The check finds a NaN or infinity anywhere, and is not made unless asked.
            for (i, bad) in [(n - 1, f32::NAN), (n / 2, f32::INFINITY)] {
                x[[i, d / 2]] = bad;
                let checked = nearest_labels(&exec, x.view(), book.view(), true);
                assert!(matches!(checked, Err(Error::NotFinite)));
                assert!(nearest_labels(&exec, x.view(), book.view(), false).is_ok());
            }
        }
    }
}
