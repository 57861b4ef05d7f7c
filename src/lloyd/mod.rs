//! The k-means engine: Lloyd iterations from an initial code book, configured by a
//! stopping rule ([`Stop`]), an empty-cluster policy ([`Empty`]) and optional row weights.
//! It knows nothing of SciPy or scikit-learn; their front-ends are configurations of it.
//!
//! Each iteration assigns every row to its nearest code (pruned by distance bounds, with
//! the labels of a full comparison) and moves each code to the (weighted) mean of its rows.
//! The first assignment compares in the initial code book's type `C` (a float32 data set
//! meets a float64 code book in float64, as in SciPy's type promotion); every code book
//! after an update is in the data's type `F`. Without weights, or with unit weights, the
//! sums are the same bits.
//!
//! [`minibatch::step`] is the other update the engine knows: a sample of rows assigned as
//! every iteration assigns them, then each code moved to the running mean of all the rows
//! it has been given (scikit-learn's `MiniBatchKMeans`).
//!
//! [`block_stats`] is the same iteration's statistics for one block of rows, for callers
//! that hold the data in blocks (a Dask array): merged in block order they give results
//! that do not depend on where or on how many threads the blocks ran. [`BlockBounds`]
//! gives the same sums while keeping a block's distance bounds between iterations.

mod ball;
mod block;
mod bounds;
mod groups;
pub mod minibatch;
mod rules;
mod step;
mod sums;

pub use block::BlockBounds;
pub(crate) use rules::{heaviest, place_on_heaviest, refill_rows};
pub use rules::{Distortion, Empty, FarthestRows, Stop};
pub(crate) use sums::check_weights;
pub use sums::{block_stats, BlockStats, ClusterSums};

use crate::assign::check_code_book;
use crate::error::{Error, Result};
use crate::float::{Float, Promote};
use crate::parallel::Exec;
use crate::sum::mean;
use ndarray::{Array2, ArrayView2};
use step::LloydState;

/// How a run is configured.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a, F> {
    /// When to stop.
    pub stop: Stop,
    /// What to do with a code that has no rows.
    pub empty: Empty,
    /// One weight per row (`None`: every row weighs one).
    pub weights: Option<&'a [F]>,
    /// Under [`Empty::Farthest`], the front-end's choice among the rows (`None`: farthest
    /// first, ties to the lowest row).
    pub farthest: Option<&'a dyn FarthestRows>,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct Run<F> {
    /// The code book after the last update (`k x d`; fewer rows under [`Empty::Drop`]).
    pub centroids: Array2<F>,
    /// Each row's label from the last assignment: made before the last update, except
    /// under [`Stop::CenterShift`], where it is against `centroids`. (Under
    /// [`Empty::Drop`] it numbers the codes before the last drop.)
    pub labels: Vec<i32>,
    /// Iterations run (assignments followed by an update).
    pub iterations: usize,
    /// Iterations after whose assignment some code had no rows.
    pub empty_iterations: usize,
    /// The mean distance of the rows to their code at the last assignment, under
    /// [`Stop::Distortion`].
    pub distortion: Option<Distortion>,
}

/// Run Lloyd iterations on `data` (`n x d`) from the code book `init` (`k x d`).
///
/// # Errors
/// `InvalidParameter` for empty data, an empty code book or a rule that allows no
/// iteration, `FeatureMismatch` for a code book of another width, `BadShape` for weights
/// that are not one per row, `EmptyCluster` under [`Empty::Raise`], and whatever the
/// executor's control hook returns (it is asked between iterations and between chunks of
/// rows, and told of each finished iteration).
///
/// # Examples
/// ```
/// use ferrovq::lloyd::{run, Empty, Params, Stop};
/// use ferrovq::Exec;
/// use ndarray::array;
///
/// let data = array![[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0]];
/// let init = array![[0.0, 0.0], [10.0, 10.0]];
/// let params = Params {
///     stop: Stop::Iterations(5),
///     empty: Empty::Keep,
///     weights: None,
///     farthest: None,
/// };
/// let exec = Exec::with_threads(2)?;
/// let out = run(&exec, data.view(), init.view(), &params)?;
/// assert_eq!(out.centroids, array![[0.0, 0.5], [10.0, 10.5]]);
/// assert_eq!(out.labels, [0, 0, 1, 1]);
/// # Ok::<(), ferrovq::Error>(())
/// ```
pub fn run<F: Promote<C> + Promote<F>, C: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    init: ArrayView2<C>,
    params: &Params<F>,
) -> Result<Run<F>> {
    let (n, d) = data.dim();
    let (k, cd) = init.dim();
    check_code_book(k, cd, d)?;
    check_weights(params.weights, n)?;
    if n == 0 {
        return Err(Error::InvalidParameter(
            "k-means needs at least one observation".into(),
        ));
    }
    if matches!(
        params.stop,
        Stop::Iterations(0) | Stop::CenterShift { max_iter: 0, .. }
    ) {
        return Err(Error::InvalidParameter(
            "k-means needs at least one iteration".into(),
        ));
    }
    let data = data.as_standard_layout();
    let init = init.as_standard_layout();
    let mut lloyd = Lloyd {
        exec,
        x: crate::contiguous(&data)?,
        d,
        params,
        state: LloydState::new(n, true),
        empty_iterations: 0,
    };
    let mut it = lloyd.iterate(crate::contiguous(&init)?, 1)?;
    let mut iterations = 1;
    let mut distortion = it.distortion;
    match params.stop {
        Stop::Iterations(count) => {
            while iterations < count {
                iterations += 1;
                it = lloyd.iterate(&it.book, iterations)?;
            }
        }
        Stop::Distortion { thresh } => {
            let mut prev = Distortion::START;
            while let Some(m) = it.distortion.filter(|&m| m.changed_more_than(prev, thresh)) {
                prev = m;
                iterations += 1;
                it = lloyd.iterate(&it.book, iterations)?;
            }
            distortion = it.distortion;
        }
        Stop::CenterShift { tol, max_iter } => {
            let stable = loop {
                if iterations > 1 && it.changed == 0 {
                    break true;
                }
                if it.shift <= tol || iterations == max_iter {
                    break false;
                }
                iterations += 1;
                it = lloyd.iterate(&it.book, iterations)?;
            };
            if !stable {
                lloyd.assign(&it.book)?;
            }
        }
    }
    let k_left = it.book.len() / d.max(1);
    Ok(Run {
        centroids: crate::matrix(it.book, k_left, d)?,
        labels: lloyd.state.labels(),
        iterations,
        empty_iterations: lloyd.empty_iterations,
        distortion,
    })
}

/// A run in progress.
struct Lloyd<'a, F> {
    exec: &'a Exec<'a>,
    x: &'a [F],
    d: usize,
    params: &'a Params<'a, F>,
    state: LloydState<F>,
    empty_iterations: usize,
}

/// What one iteration gives.
struct Iteration<F> {
    /// The updated code book, row-major.
    book: Vec<F>,
    /// The mean distance at the assignment, under [`Stop::Distortion`].
    distortion: Option<Distortion>,
    /// The summed squared move of the codes, under [`Stop::CenterShift`].
    shift: f64,
    /// Rows whose label changed.
    changed: usize,
}

impl<F: Float> Lloyd<'_, F> {
    /// Iteration number `iteration`: assign against `book` (in `C`), then update.
    fn iterate<C: Float>(&mut self, book: &[C], iteration: usize) -> Result<Iteration<F>>
    where
        F: Promote<C>,
    {
        let (x, d, p) = (self.x, self.d, self.params);
        let k = book.len() / d.max(1);
        let want_dists = matches!(p.stop, Stop::Distortion { .. });
        let mut dists = vec![C::ZERO; if want_dists { x.len() / d.max(1) } else { 0 }];
        let out = self
            .state
            .step(self.exec, x, d, (book, k), p.weights, &mut dists)?;
        self.exec.iteration(iteration, out.scanned)?;
        let mut sums = out.sums;
        let any_empty = (0..k).any(|j| sums.is_empty(j));
        if any_empty {
            self.empty_iterations += 1;
            match p.empty {
                Empty::Raise => return Err(Error::EmptyCluster),
                Empty::Farthest => {
                    let labels = self.state.labels();
                    rules::relocate_to_farthest(self.exec, x, d, &labels, book, p, &mut sums)?;
                }
                Empty::Drop | Empty::Keep => {}
            }
        }
        // Under Empty::Farthest, the heaviest code and its undivided sum, before division.
        let heaviest = (p.empty == Empty::Farthest).then(|| {
            let h = match sums.weights() {
                Some(w) => rules::heaviest(w.iter().map(|w| w.to_f64())),
                None => rules::heaviest(sums.counts().iter().map(|&c| c as f64)),
            };
            (h, sums.sums()[h * d..(h + 1) * d].to_vec())
        });
        let (mut means, has) = sums.into_means();
        if p.empty == Empty::Drop {
            means = means
                .chunks_exact(d.max(1))
                .zip(&has)
                .filter(|(_, &h)| h)
                .flat_map(|(c, _)| c.iter().copied())
                .collect();
        } else if let Some((h, sum_h)) = heaviest {
            rules::place_on_heaviest(&mut means, d, &has, h, &sum_h);
        } else {
            for j in (0..k).filter(|&j| !has[j]) {
                for f in 0..d {
                    means[j * d + f] = F::from_f64(book[j * d + f].to_f64());
                }
            }
        }
        let shift = match p.stop {
            Stop::CenterShift { .. } => means
                .iter()
                .zip(book)
                .map(|(&m, &b)| (m.to_f64() - b.to_f64()).powi(2))
                .sum(),
            _ => 0.0,
        };
        Ok(Iteration {
            book: means,
            distortion: want_dists.then(|| Distortion {
                value: mean(&dists).to_f64(),
                wide: C::WIDE,
            }),
            shift,
            changed: out.changed,
        })
    }

    /// Assign the rows to `book` once more, without an update.
    fn assign(&mut self, book: &[F]) -> Result<()>
    where
        F: Promote<F>,
    {
        let d = self.d;
        let k = book.len() / d.max(1);
        let weights = self.params.weights;
        self.state
            .step(self.exec, self.x, d, (book, k), weights, &mut [])
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn params<F>(stop: Stop, empty: Empty) -> Params<'static, F> {
        Params {
            stop,
            empty,
            weights: None,
            farthest: None,
        }
    }

    #[test]
    fn codes_left_empty_go_on_the_heaviest_code_as_in_scikit_learn() {
        let exec = Exec::with_threads(2).unwrap();
        let shift = |max_iter| Stop::CenterShift { tol: 0.0, max_iter };
        // More codes than distinct rows: every row sits on its code, nothing is moved,
        // and the empty code 2 lands on the heaviest code (1, two rows): on its mean, as
        // it comes after it. Nothing moved, so the run stops after one iteration.
        let x = array![[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        let out = run(
            &exec,
            x.view(),
            x.view(),
            &params(shift(300), Empty::Farthest),
        )
        .unwrap();
        assert_eq!(out.centroids, x);
        assert_eq!((out.iterations, out.labels), (1, vec![0, 1, 1, 3, 4]));
        // An empty code before the heaviest meets its sum not yet divided (scikit-learn
        // places the empty codes in index order while it divides the sums).
        let x = array![[5.0, 5.0], [5.0, 5.0], [0.0, 0.0]];
        let init = array![[9.0, 9.0], [5.0, 5.0], [0.0, 0.0]];
        let out = run(
            &exec,
            x.view(),
            init.view(),
            &params(shift(1), Empty::Farthest),
        )
        .unwrap();
        assert_eq!(out.centroids, array![[10.0, 10.0], [5.0, 5.0], [0.0, 0.0]]);
    }

    #[test]
    fn center_shift_stops_on_stable_labels_or_tolerance() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[0.0f64], [1.0], [2.0], [10.0], [11.0], [30.0]];
        let init = array![[0.0f64], [1.0]];
        // Iteration 1: {0} and {1..30}; 2: {0, 1, 2} and the rest; 3: no label changes.
        let stop = Stop::CenterShift {
            tol: 0.0,
            max_iter: 100,
        };
        let out = run(&exec, data.view(), init.view(), &params(stop, Empty::Keep)).unwrap();
        assert_eq!(out.iterations, 3);
        assert_eq!(out.labels, [0, 0, 0, 1, 1, 1]);
        assert_eq!(out.centroids, array![[1.0], [17.0]]);
        // A tolerance above the first move stops after one iteration, and the rows are
        // then assigned to the moved codes 0 and 54/5: 1 and 2 join code 0.
        let stop = Stop::CenterShift {
            tol: 1e6,
            max_iter: 100,
        };
        let out = run(&exec, data.view(), init.view(), &params(stop, Empty::Keep)).unwrap();
        assert_eq!(out.iterations, 1);
        assert_eq!(out.centroids, array![[0.0], [54.0 / 5.0]]);
        assert_eq!(out.labels, [0, 0, 0, 1, 1, 1]);
        // max_iter bounds the run.
        let stop = Stop::CenterShift {
            tol: 0.0,
            max_iter: 2,
        };
        let out = run(&exec, data.view(), init.view(), &params(stop, Empty::Keep)).unwrap();
        assert_eq!(out.iterations, 2);
    }

    #[test]
    fn weights_move_the_means_and_unit_weights_change_nothing() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[0.0f32, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 14.0]];
        let init = array![[0.0f32, 0.0], [10.0, 10.0]];
        let w = [3.0f32, 1.0, 1.0, 1.0];
        let mut p = params(Stop::Iterations(3), Empty::Keep);
        let plain = run(&exec, data.view(), init.view(), &p).unwrap();
        p.weights = Some(&w);
        let weighted = run(&exec, data.view(), init.view(), &p).unwrap();
        assert_eq!(weighted.centroids, array![[0.5f32, 0.0], [10.0, 12.0]]);
        let ones = [1.0f32; 4];
        p.weights = Some(&ones);
        let unit = run(&exec, data.view(), init.view(), &p).unwrap();
        assert_eq!(unit.centroids, plain.centroids);
        assert_eq!(unit.labels, plain.labels);
        p.weights = Some(&w[..3]);
        assert!(matches!(
            run(&exec, data.view(), init.view(), &p),
            Err(Error::BadShape { .. })
        ));
    }

    #[test]
    fn empty_policies() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[0.0f64], [1.0], [2.0], [9.0]];
        // Code 1 at 100 gets no rows.
        let init = array![[0.0f64], [100.0]];
        let run_with = |empty| {
            run(
                &exec,
                data.view(),
                init.view(),
                &params(Stop::Iterations(1), empty),
            )
        };
        let keep = run_with(Empty::Keep).unwrap();
        assert_eq!(keep.centroids, array![[3.0], [100.0]]);
        assert_eq!(keep.empty_iterations, 1);
        let drop = run_with(Empty::Drop).unwrap();
        assert_eq!(drop.centroids, array![[3.0]]);
        assert_eq!(run_with(Empty::Raise).unwrap_err(), Error::EmptyCluster);
        // The farthest row from code 0 (9) refills code 1 and leaves code 0's mean.
        let far = run_with(Empty::Farthest).unwrap();
        assert_eq!(far.centroids, array![[1.0], [9.0]]);
    }

    #[test]
    fn rules_that_allow_no_iteration_are_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let data = array![[0.0f64]];
        for stop in [
            Stop::Iterations(0),
            Stop::CenterShift {
                tol: 0.0,
                max_iter: 0,
            },
        ] {
            let r = run(&exec, data.view(), data.view(), &params(stop, Empty::Keep));
            assert!(matches!(r, Err(Error::InvalidParameter(_))));
        }
    }
}
