//! SciPy's `kmeans2` Lloyd loop: exactly `iter` iterations from an initial code book, with
//! SciPy's policy for clusters that lose all their rows.

use crate::error::Result;
use crate::float::{Float, Promote};
use crate::lloyd::{run, Empty, Params, Stop};
use crate::parallel::Exec;
use ndarray::{Array2, ArrayView2};

/// What to do when a cluster has no rows after an assignment (SciPy's `missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Keep the cluster's previous centroid and count the event (SciPy warns).
    Warn,
    /// Stop with [`crate::Error::EmptyCluster`] (SciPy raises `ClusterError`).
    Raise,
}

/// The result of [`kmeans2_lloyd`].
#[derive(Debug, Clone)]
pub struct Kmeans2Run<F> {
    /// `k x d` centroids after the last update.
    pub centroids: Array2<F>,
    /// Each row's label from the last assignment (made before the last update).
    pub labels: Vec<i32>,
    /// Iterations in which some cluster was empty (SciPy warns once for each).
    pub empty_iterations: usize,
}

/// Run `iter` Lloyd iterations on `data` (`n x d`) from the code book `init` (`k x d`):
/// the engine with [`Stop::Iterations`] and [`Empty::Keep`] or [`Empty::Raise`].
///
/// The first assignment compares in `init`'s type `C` (SciPy promotes the data to it);
/// every code book after an update is in the data's type `F`.
///
/// # Errors
/// As [`crate::lloyd::run`].
pub fn kmeans2_lloyd<F: Promote<C> + Promote<F>, C: Float>(
    exec: &Exec,
    data: ArrayView2<F>,
    init: ArrayView2<C>,
    iter: usize,
    missing: Missing,
) -> Result<Kmeans2Run<F>> {
    let params = Params {
        stop: Stop::Iterations(iter),
        empty: match missing {
            Missing::Warn => Empty::Keep,
            Missing::Raise => Empty::Raise,
        },
        weights: None,
        farthest: None,
    };
    let out = run(exec, data, init, &params)?;
    Ok(Kmeans2Run {
        centroids: out.centroids,
        labels: out.labels,
        empty_iterations: out.empty_iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use ndarray::array;

    fn blobs(n: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, 2), |(i, j)| {
            let c = (i % 3) as f64 * 5.0;
            let jitter = (((i * 7919 + j * 104729) % 1000) as f64) / 1000.0 - 0.5;
            c + jitter
        })
    }

    #[test]
    fn thread_count_does_not_change_bits() {
        let data = blobs(5 * crate::parallel::CHUNK_ROWS + 3);
        let init = array![[0.0, 0.0], [4.0, 4.0], [11.0, 11.0]];
        let run = |t| {
            kmeans2_lloyd(
                &Exec::with_threads(t).unwrap(),
                data.view(),
                init.view(),
                10,
                Missing::Warn,
            )
            .unwrap()
        };
        let one = run(1);
        for t in [2, 4] {
            let many = run(t);
            assert_eq!(one.labels, many.labels);
            assert!(one
                .centroids
                .iter()
                .zip(many.centroids.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn all_points_equal() {
        let exec = Exec::with_threads(2).unwrap();
        let data = Array2::from_elem((10, 3), 1.5f32);
        let init = array![[1.5f32, 1.5, 1.5], [0.0, 0.0, 0.0]];
        let run = kmeans2_lloyd(&exec, data.view(), init.view(), 3, Missing::Warn).unwrap();
        assert_eq!(run.labels, vec![0; 10]);
        assert_eq!(run.empty_iterations, 3);
        assert_eq!(run.centroids, array![[1.5f32, 1.5, 1.5], [0.0, 0.0, 0.0]]);
        let err = kmeans2_lloyd(&exec, data.view(), init.view(), 3, Missing::Raise).unwrap_err();
        assert_eq!(err, Error::EmptyCluster);
    }

    #[test]
    fn k_equals_n_is_a_fixed_point() {
        let exec = Exec::with_threads(2).unwrap();
        let data = blobs(40);
        let run = kmeans2_lloyd(&exec, data.view(), data.view(), 5, Missing::Raise).unwrap();
        assert_eq!(run.centroids, data);
        assert!(run.labels.iter().enumerate().all(|(i, &l)| l as usize == i));
    }

    #[test]
    fn float32_data_with_float64_start() {
        let exec = Exec::with_threads(2).unwrap();
        let data = blobs(100).mapv(|v| v as f32);
        let init = array![[0.0f64, 0.0], [5.0, 5.0], [10.0, 10.0]];
        let run = kmeans2_lloyd(&exec, data.view(), init.view(), 4, Missing::Raise).unwrap();
        assert_eq!(run.centroids.nrows(), 3);
        assert!(run
            .labels
            .iter()
            .enumerate()
            .all(|(i, &l)| l as usize == i % 3));
    }
}
