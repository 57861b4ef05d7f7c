//! The mini-batch step (scikit-learn's `MiniBatchKMeans`): a sample of rows assigned to
//! their nearest codes as every Lloyd iteration assigns them, then each code moved to the
//! running mean of all the rows it has been given so far: its position counted with the
//! weight it has gathered, plus its new rows.

use crate::assign::nearest_labels;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::lloyd::step::pruning_pays;
use crate::lloyd::{check_weights, BlockBounds};
use crate::measure::check_labels;
use crate::parallel::Exec;
use crate::sparse::Csr;
use ndarray::ArrayView2;

/// One mini-batch step on dense rows `batch` (`b x d`, weights `weights`): assign them to
/// `centers` (`k x d`) and return their labels (the nearest code before the update, ties
/// to the lowest), then move each code into `moved` to the running mean of the rows it
/// has been given, `(old * total + sum(w * x)) / (total + sum(w))`, in the rows' type and in
/// scikit-learn's order (so scikit-learn's bits); `totals` (each code's weight so far)
/// gains the batch's weights. A code given no rows stays where it was. With `bounds` (for
/// the batch's rows), where the batch has rows enough per code for bounds to pay, the
/// labels come from [`BlockBounds::step`], which leaves the rows' distance bounds for a
/// later labelling of the same rows against the moved codes (the same labels either way);
/// elsewhere `bounds` is left as it was. (The batch's inertia, which `fit` reads and
/// `partial_fit` does not, is [`crate::inertia`] of these labels against `centers`.) With
/// `check_finite`, the batch and the codes are searched for NaN and infinity as the rows
/// are labelled (chunk by chunk, while in cache), before anything moves.
///
/// # Errors
/// `FeatureMismatch` or `InvalidParameter` for a code book that is not `k x d` with
/// `k >= 1`; `BadShape` for weights, totals or `moved` of the wrong length; `NotFinite` if
/// checked and a NaN or infinity is found (`totals` and `moved` are then untouched); and
/// whatever the executor's control hook returns.
pub fn step<F: Float>(
    exec: &Exec,
    batch: ArrayView2<F>,
    weights: &[F],
    centers: ArrayView2<F>,
    (totals, moved): (&mut [F], &mut [F]),
    bounds: Option<&mut BlockBounds<F>>,
    check_finite: bool,
) -> Result<Vec<i32>> {
    let (n, d) = batch.dim();
    let labels = match bounds {
        Some(bounds) if pruning_pays(n, centers.nrows(), d) => {
            if check_finite {
                let book = centers.as_standard_layout();
                if !crate::finite::block_finite(crate::contiguous(&book)?) {
                    return Err(Error::NotFinite);
                }
                bounds.label_checked(exec, batch, centers)?;
            } else {
                bounds.label(exec, batch, centers)?;
            }
            bounds.labels()
        }
        _ => nearest_labels(exec, batch, centers, check_finite)?,
    };
    let batch = batch.as_standard_layout();
    let x = crate::contiguous(&batch)?;
    let add = |i: usize, w: F, code: &mut [F]| {
        for (c, &v) in code.iter_mut().zip(&x[i * d..(i + 1) * d]) {
            *c += v * w;
        }
    };
    let book = centers.as_standard_layout();
    let book = crate::contiguous(&book)?;
    running_means(book, d, &labels, weights, add, totals, moved)?;
    Ok(labels)
}

/// [`step`] on sparse rows; with `measure`, also the batch's inertia against `centers`
/// (the labels' codes before the move, as [`crate::sparse::inertia`]).
///
/// # Errors
/// As [`step`].
pub fn sparse_step<F: Float>(
    exec: &Exec,
    batch: &Csr<F>,
    weights: &[F],
    centers: ArrayView2<F>,
    (totals, moved): (&mut [F], &mut [F]),
    measure: bool,
) -> Result<(Vec<i32>, Option<f64>)> {
    let (labels, inertia) =
        crate::sparse::nearest_measured(exec, batch, centers, weights, measure)?;
    let book = centers.as_standard_layout();
    let book = crate::contiguous(&book)?;
    let add = |i: usize, w: F, code: &mut [F]| batch.add_scaled(i, w, code);
    running_means(book, batch.cols(), &labels, weights, add, totals, moved)?;
    Ok((labels, inertia))
}

/// Each code `j` of `centers` (`k x d`, row-major) moved into `moved` to the running mean
/// of the rows labelled `j`: `(old * totals[j] + sum(w * x)) * (1 / (totals[j] + sum(w)))`,
/// all in the rows' type and in scikit-learn's order (the old position times its total,
/// then each row times its weight added in row order by `add_row(i, w, code)`, then the
/// product with the reciprocal of the new total), so the same bits as scikit-learn's
/// update; `totals[j]` gains the rows' weights, summed in row order. A code given no rows
/// (or rows of weight zero) stays where it was.
fn running_means<F: Float>(
    centers: &[F],
    d: usize,
    labels: &[i32],
    weights: &[F],
    add_row: impl Fn(usize, F, &mut [F]),
    totals: &mut [F],
    moved: &mut [F],
) -> Result<()> {
    let k = centers.len() / d.max(1);
    check_weights(Some(weights), labels.len())?;
    for (what, len, cols) in [("totals", totals.len(), 1), ("moved codes", moved.len(), d)] {
        if len != k * cols {
            return Err(Error::BadShape {
                what,
                len,
                rows: k,
                cols,
            });
        }
    }
    check_labels(labels, labels.len(), k)?;
    if k == 0 {
        return Ok(()); // no features: nothing to move (and no chunks of zero length)
    }
    // One pass in row order adds each code's rows in the order scikit-learn adds them.
    let mut gained = vec![F::ZERO; k];
    for (&l, &w) in labels.iter().zip(weights) {
        gained[l as usize] += w;
    }
    for ((code, old), (&g, &total)) in moved
        .chunks_exact_mut(d)
        .zip(centers.chunks_exact(d))
        .zip(gained.iter().zip(totals.iter()))
    {
        for (c, &o) in code.iter_mut().zip(old) {
            *c = if g > F::ZERO { o * total } else { o };
        }
    }
    for (i, (&l, &w)) in labels.iter().zip(weights).enumerate() {
        let j = l as usize;
        if gained[j] > F::ZERO {
            add_row(i, w, &mut moved[j * d..(j + 1) * d]);
        }
    }
    for ((code, &g), total) in moved
        .chunks_exact_mut(d)
        .zip(&gained)
        .zip(totals.iter_mut())
    {
        if g > F::ZERO {
            *total += g;
            let alpha = F::ONE / *total;
            for c in code.iter_mut() {
                *c = *c * alpha;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn codes_move_to_the_running_mean_of_their_rows() {
        let exec = Exec::with_threads(2).unwrap();
        let centers = array![[0.0, 0.0], [10.0, 10.0], [50.0, 50.0], [-40.0, -40.0]];
        // Code 0 has gathered weight 2 at the origin; code 1 nothing yet; code 2 gets no row;
        // code 3, nothing yet, gets one row of weight zero (so it must not move: a division
        // by its total would make it NaN).
        let mut totals = [2.0, 0.0, 5.0, 0.0];
        let batch = array![
            [3.0, 0.0],
            [9.0, 11.0],
            [-41.0, -39.0],
            [0.0, 3.0],
            [11.0, 9.0]
        ];
        let weights = [1.0, 1.0, 0.0, 1.0, 3.0];
        let mut moved = [0.0; 8];
        let labels = step(
            &exec,
            batch.view(),
            &weights,
            centers.view(),
            (&mut totals, &mut moved),
            None,
            false,
        )
        .unwrap();
        assert_eq!(labels, [0, 1, 3, 0, 1]);
        // The batch's inertia from these labels: squared distances 9, 2, 2 (times 0), 9 and 2
        // (times 3) to the codes before the step.
        let inertia = crate::inertia(&exec, batch.view(), centers.view(), &labels, Some(&weights));
        assert_eq!(inertia.unwrap(), 9.0 + 2.0 + 9.0 + 6.0);
        // Code 0: (0 * 2 + (3, 0) + (0, 3)) / 4; code 1: ((9, 11) + 3 (11, 9)) / 4.
        assert_eq!(moved, [0.75, 0.75, 10.5, 9.5, 50.0, 50.0, -40.0, -40.0]);
        assert_eq!(totals, [4.0, 4.0, 5.0, 0.0]);
    }

    /// Many rows, labels crowding the first codes: the same bits as the update written out
    /// one code at a time (its old position times its total, its rows added in row order,
    /// times the reciprocal of the new total: scikit-learn's order); a code given only rows
    /// of weight zero and a code given none stay put.
    #[test]
    fn codes_move_as_one_code_at_a_time_moves_them() {
        let (n, d, k) = (5_000, 16, 37);
        let mut uniform = crate::test_uniforms(11);
        let mut next = move || uniform() + 0.5;
        let batch: Vec<f32> = (0..n * d).map(|_| (100.0 * next() - 50.0) as f32).collect();
        let centers: Vec<f32> = (0..k * d).map(|_| (10.0 * next()) as f32).collect();
        let totals: Vec<f32> = (0..k).map(|j| (j % 5) as f32 * 1.5).collect();
        let labels: Vec<i32> = (0..n)
            .map(|_| ((next() * next() * k as f64) as i32).min(k as i32 - 1))
            .map(|l| if l == 4 { 5 } else { l })
            .collect();
        let weights: Vec<f32> = (labels.iter())
            .map(|&l| if l == 3 { 0.0 } else { (next() * 2.0) as f32 })
            .collect();
        let (mut want, mut want_totals) = (centers.clone(), totals.clone());
        for j in 0..k {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == j as i32).collect();
            let gained = rows.iter().fold(0.0f32, |s, &i| s + weights[i]);
            if gained > 0.0 {
                let code = &mut want[j * d..(j + 1) * d];
                code.iter_mut().for_each(|c| *c *= totals[j]);
                for &i in &rows {
                    for (c, &v) in code.iter_mut().zip(&batch[i * d..(i + 1) * d]) {
                        *c += v * weights[i];
                    }
                }
                want_totals[j] += gained;
                let alpha = 1.0 / want_totals[j];
                code.iter_mut().for_each(|c| *c *= alpha);
            }
        }
        let (mut got_totals, mut moved) = (totals.clone(), vec![0.0f32; k * d]);
        let add = |i: usize, w: f32, code: &mut [f32]| {
            for (c, &v) in code.iter_mut().zip(&batch[i * d..(i + 1) * d]) {
                *c += v * w;
            }
        };
        running_means(
            &centers,
            d,
            &labels,
            &weights,
            add,
            &mut got_totals,
            &mut moved,
        )
        .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&moved), bits(&want));
        assert_eq!(bits(&got_totals), bits(&want_totals));
        assert_eq!(moved[3 * d..5 * d], centers[3 * d..5 * d]);
    }

    #[test]
    fn sparse_rows_move_the_codes_as_dense_rows_do() {
        let exec = Exec::with_threads(2).unwrap();
        let dense = array![
            [0.0, 2.5, 0.0],
            [4.0, 0.0, 1.0],
            [0.0, 0.0, 3.0],
            [5.0, 1.0, 0.0]
        ];
        let (indptr, indices, data) = (
            [0, 1, 3, 4, 6],
            [1, 0, 2, 2, 0, 1],
            [2.5, 4.0, 1.0, 3.0, 5.0, 1.0],
        );
        let sparse = Csr::new(&indptr, &indices, &data, 3).unwrap();
        let centers = array![[0.0, 1.0, 1.0], [4.0, 1.0, 0.5]];
        let weights = [0.5, 2.0, 1.0, 1.5];
        let run = |sparse_rows: bool| {
            let (mut totals, mut moved) = ([3.0, 1.0], [0.0; 6]);
            let out = if sparse_rows {
                let moving = (&mut totals[..], &mut moved[..]);
                let (labels, inertia) =
                    sparse_step(&exec, &sparse, &weights, centers.view(), moving, true).unwrap();
                // The batch's inertia from those labels, measured as on its own.
                let alone =
                    crate::sparse::inertia(&exec, &sparse, centers.view(), &labels, Some(&weights));
                assert_eq!(inertia.unwrap().to_bits(), alone.unwrap().to_bits());
                Ok(labels)
            } else {
                step(
                    &exec,
                    dense.view(),
                    &weights,
                    centers.view(),
                    (&mut totals, &mut moved),
                    None,
                    false,
                )
            };
            (out.unwrap(), totals, moved)
        };
        let (a, b) = (run(false), run(true));
        assert_eq!(a, b);
        // The batch's inertia from those labels, measured dense and sparse.
        let dense_inertia =
            crate::inertia(&exec, dense.view(), centers.view(), &a.0, Some(&weights));
        let sparse_inertia =
            crate::sparse::inertia(&exec, &sparse, centers.view(), &b.0, Some(&weights));
        assert!((dense_inertia.unwrap() - sparse_inertia.unwrap()).abs() < 1e-12);
    }

    /// With bounds, a step's labels are those without, and the bounds it leaves label the
    /// same rows against the moved codes as a full comparison does, comparing fewer rows
    /// as the codes settle (overlapping blobs: rows change codes, most do not).
    #[test]
    fn bounds_left_by_a_step_label_the_rows_against_the_moved_codes() {
        let (n, d, k) = (30_000, 3, 40);
        assert!(crate::lloyd::step::pruning_pays(n, k, d));
        let mut rnd = crate::test_uniforms(11);
        let x = ndarray::Array2::from_shape_fn((n, d), |(i, _)| (i % k) as f64 * 0.5 + 8.0 * rnd());
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let exec = Exec::with_threads(2).unwrap();
        let mut centers = x.slice(ndarray::s![..k, ..]).to_owned();
        let mut totals = vec![0.0; k];
        let mut bounds = BlockBounds::new(n);
        let mut scanned = Vec::new();
        for _ in 0..6 {
            let (mut plain_totals, mut plain_moved) = (totals.clone(), vec![0.0; k * d]);
            let plain = step(
                &exec,
                x.view(),
                &weights,
                centers.view(),
                (&mut plain_totals, &mut plain_moved),
                None,
                false,
            )
            .unwrap();
            let mut moved = vec![0.0; k * d];
            let kept = step(
                &exec,
                x.view(),
                &weights,
                centers.view(),
                (&mut totals, &mut moved),
                Some(&mut bounds),
                false,
            )
            .unwrap();
            assert_eq!(kept, plain);
            assert_eq!((&totals, &moved), (&plain_totals, &plain_moved));
            centers = ndarray::Array2::from_shape_vec((k, d), moved).unwrap();
            bounds.step(&exec, x.view(), centers.view()).unwrap();
            let want = nearest_labels(&exec, x.view(), centers.view(), false).unwrap();
            assert_eq!(bounds.labels(), want);
            scanned.push(bounds.scanned());
        }
        // The codes move less as their totals grow, and the bounds settle more rows.
        assert!(scanned[5] < n / 4 && scanned[5] < scanned[0], "{scanned:?}");
        // Too few rows per code for bounds to pay: the step leaves them unused.
        let (few, mut moved) = (100, vec![0.0; k * d]);
        let mut unused = BlockBounds::new(few);
        let rows = x.slice(ndarray::s![..few, ..]);
        let w = &weights[..few];
        step(
            &exec,
            rows,
            w,
            centers.view(),
            (&mut totals, &mut moved),
            Some(&mut unused),
            false,
        )
        .unwrap();
        assert!(!unused.stepped());
    }

    #[test]
    fn shapes_that_do_not_match_are_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let centers = array![[0.0], [1.0]];
        let batch = array![[0.5], [2.0]];
        let (mut totals, mut moved) = ([0.0; 2], [0.0; 2]);
        let short = step(
            &exec,
            batch.view(),
            &[1.0],
            centers.view(),
            (&mut totals, &mut moved),
            None,
            false,
        );
        assert!(matches!(short, Err(Error::BadShape { .. })));
        let mut three = [0.0; 3];
        let wrong = step(
            &exec,
            batch.view(),
            &[1.0; 2],
            centers.view(),
            (&mut three, &mut moved),
            None,
            false,
        );
        assert!(matches!(wrong, Err(Error::BadShape { what: "totals", .. })));
    }
}
