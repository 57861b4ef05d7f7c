//! The rules a front-end configures the engine with: when to stop, and what to do with a
//! code that has no rows after an assignment.

use super::sums::ClusterSums;
use crate::error::Result;
use crate::float::{Float, Promote};
use crate::parallel::Exec;

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After exactly this many iterations (SciPy's `kmeans2`).
    Iterations(usize),
    /// When the mean distance of the rows to their nearest code changed by no more than
    /// `thresh` since the previous iteration (SciPy's `kmeans`); see [`Distortion`].
    Distortion {
        /// The largest change that stops the run.
        thresh: f64,
    },
    /// scikit-learn's rule: after at most `max_iter` iterations, or as soon as no label
    /// changed, or when the summed squared move of the codes is at most `tol` (then the
    /// rows are assigned once more to the final codes, without an update).
    CenterShift {
        /// The largest summed squared move that stops the run.
        tol: f64,
        /// The most iterations.
        max_iter: usize,
    },
}

/// What happens to a code that has no rows (or rows of weight zero) after an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    /// It is dropped from the code book (SciPy's `kmeans`).
    Drop,
    /// It keeps its previous position (SciPy's `kmeans2` with `missing='warn'`).
    Keep,
    /// The run stops with [`crate::Error::EmptyCluster`] (`missing='raise'`).
    Raise,
    /// It takes the row farthest from its own code, as scikit-learn does: empty codes in
    /// index order take the rows in decreasing order of that distance (ties: lowest row
    /// first); the row's weight moves out of its code's sums but keeps its label.
    Farthest,
}

/// A mean distance and the precision it was computed in (that of the code book it was
/// measured against: SciPy returns it in that type).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distortion {
    /// The mean distance.
    pub value: f64,
    /// Whether it was computed in `f64` (else `f32`).
    pub wide: bool,
}

impl Distortion {
    /// Before any iteration: infinitely far from any distortion.
    pub(super) const START: Distortion = Distortion {
        value: f64::INFINITY,
        wide: true,
    };

    /// `|self - other| > thresh`, in the precision numpy would use: `f64` if either is,
    /// else `f32` with `thresh` rounded to `f32` (a Python float is a weak scalar).
    pub(super) fn changed_more_than(self, other: Distortion, thresh: f64) -> bool {
        if self.wide || other.wide {
            (self.value - other.value).abs() > thresh
        } else {
            ((self.value as f32) - (other.value as f32)).abs() > thresh as f32
        }
    }
}

/// [`Empty::Farthest`]: refill the empty codes of `sums` with the rows of `x` (`n x d`)
/// farthest from their own code in `book` (the code book they were assigned against).
pub(super) fn relocate_to_farthest<F: Promote<C>, C: Float>(
    exec: &Exec,
    x: &[F],
    d: usize,
    labels: &[i32],
    weights: Option<&[F]>,
    book: &[C],
    sums: &mut ClusterSums<F>,
) -> Result<()> {
    let empty: Vec<usize> = (0..sums.k()).filter(|&j| sums.is_empty(j)).collect();
    let n = labels.len();
    let mut far = vec![0.0f64; n];
    exec.chunks(
        n,
        &mut far,
        &mut [0u8; 0],
        |first, out, _| {
            for (i, o) in out.iter_mut().enumerate() {
                let row = &x[(first + i) * d..(first + i + 1) * d];
                let code = &book[labels[first + i] as usize * d..][..d];
                *o = row.iter().zip(code).fold(0.0, |s, (&v, &c)| {
                    let diff = v.to_f64() - c.to_f64();
                    s + diff * diff
                });
            }
        },
        |()| (),
    )?;
    for (&j, &i) in empty.iter().zip(&farthest(&far, empty.len())) {
        let w = weights.map_or(F::from_f64(1.0), |w| w[i]);
        sums.relocate(&x[i * d..(i + 1) * d], w, labels[i] as usize, j);
    }
    Ok(())
}

/// The `take` rows of largest `far` (their distance to their own code), farthest first,
/// ties to the lowest row: the rows that refill empty codes under [`Empty::Farthest`].
pub(crate) fn farthest(far: &[f64], take: usize) -> Vec<usize> {
    let n = far.len();
    let mut order: Vec<usize> = (0..n).collect();
    let take = take.min(n);
    if take < n {
        order.select_nth_unstable_by(take, |&a, &b| far[b].total_cmp(&far[a]).then(a.cmp(&b)));
    }
    order.truncate(take);
    order.sort_unstable_by(|&a, &b| far[b].total_cmp(&far[a]).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float32_distortions_compare_in_float32() {
        let a = Distortion {
            value: 1.0,
            wide: false,
        };
        let b = Distortion {
            value: 1.0 + 1e-9,
            wide: false,
        };
        // 1e-9 apart in f64, equal in f32: no change in f32, a change in f64.
        assert!(!b.changed_more_than(a, 1e-12));
        let wide = Distortion { wide: true, ..a };
        assert!(b.changed_more_than(wide, 1e-12));
        assert!(a.changed_more_than(Distortion::START, 1e300));
    }

    #[test]
    fn empty_codes_take_the_farthest_rows_in_order() {
        let exec = Exec::with_threads(2).unwrap();
        // Rows at 0, 1, 9, 10 and 3 on a line, all labelled 0 against codes 0, 50, 60.
        let x = [0.0f64, 1.0, 9.0, 10.0, 3.0];
        let book = [0.0f64, 50.0, 60.0];
        let labels = [0; 5];
        let mut sums = ClusterSums::new(3, 1, false);
        sums.add_rows(&x, labels, None);
        relocate_to_farthest(&exec, &x, 1, &labels, None, &book, &mut sums).unwrap();
        let (means, has) = sums.into_means();
        // Code 1 gets the farthest row (10), code 2 the next (9); code 0 keeps 0, 1, 3.
        assert_eq!(means, [4.0 / 3.0, 10.0, 9.0]);
        assert_eq!(has, [true; 3]);
        // Weighted: the row keeps its weight in the code it moves to.
        let w = [1.0f64, 1.0, 2.0, 0.5, 1.0];
        let mut sums = ClusterSums::new(3, 1, true);
        sums.add_rows(&x, labels, Some(&w));
        relocate_to_farthest(&exec, &x, 1, &labels, Some(&w), &book, &mut sums).unwrap();
        assert_eq!(sums.weights().unwrap(), [3.0, 0.5, 2.0]);
        assert_eq!(sums.into_means().0, [4.0 / 3.0, 10.0, 9.0]);
    }
}
