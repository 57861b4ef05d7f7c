//! The rules a front-end configures the engine with: when to stop, and what to do with a
//! code that has no rows after an assignment.

use super::sums::ClusterSums;
use super::Params;
use crate::error::{Error, Result};
use crate::float::{Float, Promote};
use crate::parallel::Exec;
use std::fmt;

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
    /// first, unless [`Params::farthest`](super::Params::farthest) chooses); the row's
    /// weight moves out of its code's sums but keeps its label. When every row sits on its
    /// code nothing moves. A code still without rows is placed on the heaviest code (the
    /// first of the largest weight total): on its mean if it comes after it, on its sum not
    /// yet divided if before, as scikit-learn places them while it divides the sums.
    Farthest,
}

/// A front-end's own choice of the rows that refill empty codes under [`Empty::Farthest`],
/// for a library whose order among equally far rows is its own (scikit-learn's is that of
/// numpy's `argpartition`).
pub trait FarthestRows: Sync + fmt::Debug {
    /// The `take` rows to move, farthest first, given each row's squared distance `far` to
    /// the code it was assigned to.
    ///
    /// # Errors
    /// Whatever stops the choice (the caller's own failure).
    fn choose(&self, far: &[f64], take: usize) -> Result<Vec<usize>>;
}

/// The rows that refill `take` empty codes: `chooser`'s, checked to be `take` distinct
/// rows, or else [`farthest`]'s.
pub(crate) fn refill_rows(
    far: &[f64],
    take: usize,
    chooser: Option<&dyn FarthestRows>,
) -> Result<Vec<usize>> {
    let Some(chooser) = chooser else {
        return Ok(farthest(far, take));
    };
    let rows = chooser.choose(far, take)?;
    let mut seen = vec![false; far.len()];
    let valid = rows.len() == take.min(far.len())
        && rows
            .iter()
            .all(|&i| i < far.len() && !std::mem::replace(&mut seen[i], true));
    if valid {
        Ok(rows)
    } else {
        Err(Error::InvalidParameter(format!(
            "the rows chosen to refill {take} empty codes are not {take} distinct rows of {}",
            far.len()
        )))
    }
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
/// farthest from their own code in `book` (the code book they were assigned against), as
/// the run's `params` choose them, moving their weights.
pub(super) fn relocate_to_farthest<F: Promote<C>, C: Float>(
    exec: &Exec,
    x: &[F],
    d: usize,
    labels: &[i32],
    book: &[C],
    params: &Params<F>,
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
    if far.iter().all(|&v| v == 0.0) {
        return Ok(()); // more codes than distinct rows: scikit-learn moves nothing then
    }
    for (&j, &i) in empty
        .iter()
        .zip(&refill_rows(&far, empty.len(), params.farthest)?)
    {
        let w = params.weights.map_or(F::from_f64(1.0), |w| w[i]);
        sums.relocate(&x[i * d..(i + 1) * d], w, labels[i] as usize, j);
    }
    Ok(())
}

/// The heaviest code: the first of the largest weight `totals` (row counts, unweighted).
pub(crate) fn heaviest(totals: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (j, t) in totals.enumerate() {
        if t > best.1 {
            best = (j, t);
        }
    }
    best.0
}

/// [`Empty::Farthest`]'s last step, scikit-learn's: each code `j` still without rows
/// (`!has[j]`) is placed on the heaviest code `h` ([`heaviest`]), on its mean (`means`'
/// row `h`) if `j` comes after it and on its undivided sum `sum_h` if before: scikit-learn
/// places them in index order as it divides the sums by the weights, so a code before `h`
/// meets `h`'s sum not yet divided.
pub(crate) fn place_on_heaviest<F: Copy>(
    means: &mut [F],
    d: usize,
    has: &[bool],
    h: usize,
    sum_h: &[F],
) {
    let mean_h = means[h * d..(h + 1) * d].to_vec();
    for j in (0..has.len()).filter(|&j| !has[j]) {
        let from = if j < h { sum_h } else { &mean_h };
        means[j * d..(j + 1) * d].copy_from_slice(from);
    }
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

    fn farthest_rule(weights: Option<&[f64]>) -> Params<'_, f64> {
        Params {
            stop: Stop::Iterations(1),
            empty: Empty::Farthest,
            weights,
            farthest: None,
        }
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
        relocate_to_farthest(
            &exec,
            &x,
            1,
            &labels,
            &book,
            &farthest_rule(None),
            &mut sums,
        )
        .unwrap();
        let (means, has) = sums.into_means();
        // Code 1 gets the farthest row (10), code 2 the next (9); code 0 keeps 0, 1, 3.
        assert_eq!(means, [4.0 / 3.0, 10.0, 9.0]);
        assert_eq!(has, [true; 3]);
        // Weighted: the row keeps its weight in the code it moves to.
        let w = [1.0f64, 1.0, 2.0, 0.5, 1.0];
        let mut sums = ClusterSums::new(3, 1, true);
        sums.add_rows(&x, labels, Some(&w));
        relocate_to_farthest(
            &exec,
            &x,
            1,
            &labels,
            &book,
            &farthest_rule(Some(&w)),
            &mut sums,
        )
        .unwrap();
        assert_eq!(sums.weights().unwrap(), [3.0, 0.5, 2.0]);
        assert_eq!(sums.into_means().0, [4.0 / 3.0, 10.0, 9.0]);
    }

    /// Picks, among the rows as far as the farthest, the highest-numbered ones (a rule of
    /// its own, unlike the default's lowest rows), or returns what it is told to.
    #[derive(Debug)]
    struct Chooser(Option<Vec<usize>>);

    impl FarthestRows for Chooser {
        fn choose(&self, far: &[f64], take: usize) -> Result<Vec<usize>> {
            if let Some(rows) = &self.0 {
                return Ok(rows.clone());
            }
            let mut order: Vec<usize> = (0..far.len()).collect();
            order.sort_by(|&a, &b| far[b].total_cmp(&far[a]).then(b.cmp(&a)));
            Ok(order[..take].to_vec())
        }
    }

    #[test]
    fn a_front_end_chooses_among_equally_far_rows() {
        let exec = Exec::with_threads(2).unwrap();
        // Rows 0..4 at 0, 2, 0, 2, 1 on a line, all labelled 0 against code 0 at 1: rows
        // 0, 1, 2 and 3 are equally far (1); codes 1 and 2 are empty.
        let x = [0.0f64, 2.0, 0.0, 2.0, 1.0];
        let book = [1.0f64, 50.0, 60.0];
        let labels = [0; 5];
        let refill = |chooser: Option<&dyn FarthestRows>| {
            let mut sums = ClusterSums::new(3, 1, false);
            sums.add_rows(&x, labels, None);
            let params = Params {
                farthest: chooser,
                ..farthest_rule(None)
            };
            relocate_to_farthest(&exec, &x, 1, &labels, &book, &params, &mut sums)
                .map(|()| sums.into_means().0)
        };
        // The default: the lowest rows first (0 to code 1, 1 to code 2).
        assert_eq!(refill(None).unwrap(), [1.0, 0.0, 2.0]);
        // The chooser's: the highest rows first (3 to code 1, 2 to code 2).
        let highest = Chooser(None);
        assert_eq!(refill(Some(&highest)).unwrap(), [1.0, 2.0, 0.0]);
        // A choice that is not `take` distinct rows is refused, not followed.
        for bad in [vec![1, 1], vec![0], vec![0, 5]] {
            let err = refill(Some(&Chooser(Some(bad)))).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter(_)), "{err:?}");
        }
    }
}
