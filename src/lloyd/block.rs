//! Lloyd iterations over one block of a larger data set whose blocks live apart (a Dask
//! array on a cluster): the block's per-code sums against each iteration's code book,
//! with the rows' distance bounds kept between iterations by whoever holds the block.
//!
//! The bounds only spare work: the sums are those of [`super::block_stats`], bit for bit,
//! whether a block's bounds were kept, lost (a worker died) or refer to any earlier code
//! book, so a front-end can cache them where it likes without touching the results.

use super::step::LloydState;
use super::sums::ClusterSums;
use crate::assign::check_code_book;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel::Exec;
use ndarray::ArrayView2;

/// One block's rows between Lloyd iterations: their labels and distance bounds (twelve
/// bytes per row) and the code book those refer to.
///
/// # Examples
/// ```
/// use ferrovq::lloyd::{block_stats, BlockBounds};
/// use ferrovq::Exec;
/// use ndarray::array;
///
/// let block = array![[0.0, 0.0], [0.5, 0.0], [9.0, 9.0], [9.5, 9.0]];
/// let exec = Exec::with_threads(1).unwrap();
/// let mut bounds = BlockBounds::new(4);
/// for book in [array![[0.0, 0.0], [1.0, 1.0]], array![[0.25, 0.0], [9.25, 9.0]]] {
///     let sums = bounds.step(&exec, block.view(), book.view()).unwrap();
///     let (_, stats) = block_stats(&exec, block.view(), book.view(), None).unwrap();
///     assert_eq!(sums, stats.sums); // the same bits, bounds or not
/// }
/// assert_eq!(bounds.labels(), vec![0, 0, 1, 1]);
/// ```
#[derive(Debug)]
pub struct BlockBounds<F> {
    state: LloydState<F>,
    rows: usize,
    scanned: usize,
    stepped: bool,
}

impl<F: Float> BlockBounds<F> {
    /// The bounds of a block of `n` rows, none assigned yet.
    pub fn new(n: usize) -> Self {
        BlockBounds {
            state: LloydState::new(n, false),
            rows: n,
            scanned: 0,
            stepped: false,
        }
    }

    /// The number of rows these bounds are for.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows' labels from the last [`BlockBounds::step`].
    pub fn labels(&self) -> Vec<i32> {
        self.state.labels()
    }

    /// Whether a [`BlockBounds::step`] has labelled the rows (else there are no labels or
    /// bounds yet, or the last step failed).
    pub fn stepped(&self) -> bool {
        self.stepped
    }

    /// How many rows the last [`BlockBounds::step`] compared with other codes than their
    /// own (all of them without usable bounds; few once the codes settle).
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// Label the rows of `block` (`n x d`) with their nearest code of `code_book`
    /// (`k x d`; lowest index on ties) and return the block's per-code sums and counts,
    /// summed in row order within chunks and chunks in order as [`super::block_stats`]
    /// does. Rows whose bounds settle them are not compared with the codes again.
    ///
    /// # Errors
    /// `InvalidParameter` if `block` does not have the rows these bounds are for; those of
    /// [`super::block_stats`] for a code book that cannot label the rows.
    pub fn step(
        &mut self,
        exec: &Exec,
        block: ArrayView2<F>,
        code_book: ArrayView2<F>,
    ) -> Result<ClusterSums<F>> {
        self.assign(exec, block, code_book, true)
    }

    /// Label the rows of `block` as [`BlockBounds::step`] does, without summing them (for
    /// a caller that wants the labels only).
    ///
    /// # Errors
    /// As [`BlockBounds::step`].
    pub fn label(
        &mut self,
        exec: &Exec,
        block: ArrayView2<F>,
        code_book: ArrayView2<F>,
    ) -> Result<()> {
        self.assign(exec, block, code_book, false).map(drop)
    }

    /// [`BlockBounds::label`], first making sure the block holds no NaN or infinity:
    /// searched chunk by chunk as the rows are labelled where every row is compared (no
    /// bounds kept yet), else in a pass of its own.
    ///
    /// # Errors
    /// As [`BlockBounds::step`], and `NotFinite` if the block holds a NaN or an infinity
    /// (the bounds are then left unusable: [`BlockBounds::stepped`] is false).
    pub fn label_checked(
        &mut self,
        exec: &Exec,
        block: ArrayView2<F>,
        code_book: ArrayView2<F>,
    ) -> Result<()> {
        self.state.check_rows = true;
        let labelled = self.label(exec, block, code_book);
        self.state.check_rows = false;
        labelled
    }

    /// [`BlockBounds::step`], the sums made only if `sums` (else empty).
    fn assign(
        &mut self,
        exec: &Exec,
        block: ArrayView2<F>,
        code_book: ArrayView2<F>,
        sums: bool,
    ) -> Result<ClusterSums<F>> {
        let (n, d) = block.dim();
        let (k, cb_d) = code_book.dim();
        check_code_book(k, cb_d, d)?;
        if n != self.rows {
            return Err(Error::InvalidParameter(format!(
                "the bounds are for a block of {} rows, not {n}",
                self.rows
            )));
        }
        let block = block.as_standard_layout();
        let code_book = code_book.as_standard_layout();
        let codes = crate::contiguous(&code_book)?;
        // Sums summed afresh in row order, never carried: the same bits whatever the bounds.
        self.state.forget_sums();
        self.state.labels_only = !sums;
        let step = self.state.step(
            exec,
            crate::contiguous(&block)?,
            d,
            (codes, k),
            None,
            &mut [],
        );
        // A failed step may have relabelled some rows: no labels to trust until the next.
        self.stepped = step.is_ok();
        let step = step?;
        self.scanned = step.scanned;
        Ok(step.sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lloyd::block_stats;
    use ndarray::Array2;

    #[test]
    fn kept_lost_or_stale_bounds_give_the_sums_of_block_stats() {
        // Enough rows and codes for the bounds to be kept; blobs that overlap, so rows move
        // between codes for several iterations.
        let (n, d, k) = (30_000, 3, 40);
        assert!(crate::lloyd::step::pruning_pays(n, k, d));
        let mut rnd = crate::test_uniforms(7);
        let x = Array2::from_shape_fn((n, d), |(i, _)| (i % k) as f64 * 0.5 + 8.0 * rnd());
        let mut book = x.slice(ndarray::s![..k, ..]).to_owned();
        let exec = Exec::with_threads(2).unwrap();
        let mut kept = BlockBounds::new(n);
        let mut stale = BlockBounds::new(n);
        let mut labeller = BlockBounds::new(n);
        for iteration in 0..6 {
            let (labels, stats) = block_stats(&exec, x.view(), book.view(), None).unwrap();
            let sums = kept.step(&exec, x.view(), book.view()).unwrap();
            assert_eq!(sums, stats.sums);
            assert_eq!(kept.labels(), labels);
            // Bounds two code books old (as after a lost update) or fresh (a lost block).
            if iteration % 2 == 0 {
                assert_eq!(
                    stale.step(&exec, x.view(), book.view()).unwrap(),
                    stats.sums
                );
            }
            let mut fresh = BlockBounds::new(n);
            assert_eq!(
                fresh.step(&exec, x.view(), book.view()).unwrap(),
                stats.sums
            );
            assert_eq!(fresh.scanned(), n);
            // Labelling only gives the same labels, and leaves bounds that serve a later
            // step (every other iteration here) as well as the step's own.
            if iteration % 2 == 0 {
                labeller.label(&exec, x.view(), book.view()).unwrap();
            } else {
                let sums = labeller.step(&exec, x.view(), book.view()).unwrap();
                assert_eq!(sums, stats.sums);
            }
            assert_eq!(labeller.labels(), labels);
            assert_eq!(labeller.scanned() == n, iteration == 0, "{iteration}");
            let (means, has) = stats.sums.into_means();
            for (j, row) in book.rows_mut().into_iter().enumerate() {
                if has[j] {
                    for (c, m) in row.into_iter().zip(&means[j * d..(j + 1) * d]) {
                        *c = *m;
                    }
                }
            }
        }
        // As the codes settle, the kept bounds spare rows (fresh ones spare none).
        assert!(kept.scanned() < n / 2, "{}", kept.scanned());
        let wrong = kept.step(&exec, x.slice(ndarray::s![1.., ..]), book.view());
        assert!(matches!(wrong, Err(Error::InvalidParameter(_))));
    }

    /// A checked labelling refuses a NaN or infinity anywhere: fresh bounds (every row
    /// compared) find it chunk by chunk, kept bounds (most rows settled, not read) in a
    /// pass of their own. Refused bounds are not stepped, and the next labelling of finite
    /// rows gives the labels of an unchecked one.
    #[test]
    fn checked_labels_refuse_bad_values_wherever_they_are() {
        let (n, d, k) = (9_000, 16, 64);
        assert!(crate::lloyd::step::pruning_pays(n, k, d));
        let mut rnd = crate::test_uniforms(8);
        let x = Array2::from_shape_fn((n, d), |(i, f)| ((i % k) * d + f) as f32 + rnd() as f32);
        let book = x.slice(ndarray::s![..k, ..]).to_owned();
        let moved = book.mapv(|v| v + 0.01);
        let exec = Exec::with_threads(2).unwrap();
        let mut plain = BlockBounds::new(n);
        plain.label(&exec, x.view(), book.view()).unwrap();
        let want = plain.labels();
        for (row, bad) in [(0, f32::NAN), (2047, f32::INFINITY), (2048, f32::NAN)] {
            let mut y = x.clone();
            y[[row, 7]] = bad;
            let mut fresh = BlockBounds::new(n);
            let refused = fresh.label_checked(&exec, y.view(), book.view());
            assert!(matches!(refused, Err(Error::NotFinite)) && !fresh.stepped());
            fresh.label_checked(&exec, x.view(), book.view()).unwrap();
            assert_eq!(fresh.labels(), want);
            // Bounds kept from the finite rows: the moved codes settle the bad row's bounds.
            let refused = fresh.label_checked(&exec, y.view(), moved.view());
            assert!(matches!(refused, Err(Error::NotFinite)) && !fresh.stepped());
            fresh.label(&exec, x.view(), moved.view()).unwrap();
            assert!(fresh.scanned() < n / 10, "{}", fresh.scanned());
            let mut again = BlockBounds::new(n);
            again.label(&exec, x.view(), moved.view()).unwrap();
            assert_eq!(fresh.labels(), again.labels());
        }
    }
}
