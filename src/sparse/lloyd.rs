//! Lloyd iterations on sparse rows: every row compared with every code (sparse data gives
//! the distance bounds little to work with), sums in `f64` in row order, empty codes
//! refilled from the farthest rows ([`crate::lloyd::Empty::Farthest`]).

use super::{codes_for, Codes, Csr};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::lloyd::{heaviest, place_on_heaviest, refill_rows, FarthestRows, Stop};
use crate::parallel::Exec;
use ndarray::{Array2, ArrayView2};

/// The result of [`lloyd`].
#[derive(Debug, Clone)]
pub struct SparseRun<F> {
    /// The code book after the last update, in the data's type.
    pub centroids: Array2<F>,
    /// Each row's label from the last assignment (under [`Stop::CenterShift`], against
    /// `centroids`).
    pub labels: Vec<i32>,
    /// Iterations run.
    pub iterations: usize,
}

/// Lloyd iterations on the sparse rows `x` from `init` (`k x d`), with the stopping rule
/// `stop` ([`Stop::Iterations`] or [`Stop::CenterShift`]) and empty codes refilled from
/// the rows farthest from their code, as the dense engine does under
/// [`crate::lloyd::Empty::Farthest`] (`farthest`: the front-end's choice among them, as
/// [`crate::lloyd::Params::farthest`]).
///
/// # Errors
/// `InvalidParameter` for no rows, an empty code book, [`Stop::Distortion`] or a rule that
/// allows no iteration; `FeatureMismatch` for a code book of another width; `BadShape` for
/// weights that are not one per row; and whatever the executor's control hook returns.
pub fn lloyd<F: Float>(
    exec: &Exec,
    x: &Csr<F>,
    init: ArrayView2<F>,
    stop: Stop,
    weights: Option<&[F]>,
    farthest: Option<&dyn FarthestRows>,
) -> Result<SparseRun<F>> {
    let (n, d) = (x.rows(), x.cols());
    codes_for(x, init)?;
    crate::lloyd::check_weights(weights, n)?;
    let (max_iter, tol) = match stop {
        Stop::Iterations(m) => (m, f64::NEG_INFINITY),
        Stop::CenterShift { tol, max_iter } => (max_iter, tol),
        Stop::Distortion { .. } => {
            return Err(Error::InvalidParameter(
                "sparse k-means stops by iterations or centre shift".into(),
            ))
        }
    };
    if n == 0 || max_iter == 0 {
        return Err(Error::InvalidParameter(
            "k-means needs at least one row and one iteration".into(),
        ));
    }
    let k = init.nrows();
    let mut book: Vec<F> = init.iter().copied().collect();
    let mut labels = vec![-1i32; n];
    let mut iterations = 0;
    let stable = loop {
        iterations += 1;
        let codes = codes_for(x, ArrayView2::from_shape((k, d), &book).expect("k x d"))?;
        let new = codes.assign(exec, x)?;
        exec.iteration(iterations, n)?;
        let changed = new.iter().zip(&labels).filter(|(a, b)| a != b).count();
        labels = new;
        let updated = update(x, (&book, &codes), &labels, weights, farthest)?;
        let shift: f64 = updated
            .iter()
            .zip(&book)
            .map(|(&a, &b)| (a.to_f64() - b.to_f64()).powi(2))
            .sum();
        book = updated;
        if matches!(stop, Stop::CenterShift { .. }) && iterations > 1 && changed == 0 {
            break true;
        }
        if shift <= tol || iterations == max_iter {
            break false;
        }
    };
    if !stable && matches!(stop, Stop::CenterShift { .. }) {
        let codes = codes_for(x, ArrayView2::from_shape((k, d), &book).expect("k x d"))?;
        labels = codes.assign(exec, x)?;
    }
    Ok(SparseRun {
        centroids: crate::matrix(book, k, d)?,
        labels,
        iterations,
    })
}

/// The (weighted) means of the rows of each label, empty codes first refilled with the
/// rows farthest from their code (measured against `codes`, the code book `book` as the
/// rows were assigned to it) unless every row sits on its code; a code left whose rows
/// weigh nothing is placed on the heaviest code, as the dense engine's
/// [`crate::lloyd::Empty::Farthest`] does.
fn update<F: Float>(
    x: &Csr<F>,
    (book, codes): (&[F], &Codes),
    labels: &[i32],
    weights: Option<&[F]>,
    farthest: Option<&dyn FarthestRows>,
) -> Result<Vec<F>> {
    let d = x.cols();
    let k = book.len() / d.max(1);
    let w = |i: usize| weights.map_or(1.0, |w| w[i].to_f64());
    let mut sums = vec![0.0; k * d];
    let mut mass = vec![0.0; k];
    for (i, &l) in labels.iter().enumerate() {
        let l = l as usize;
        mass[l] += w(i);
        x.add_to(i, w(i), &mut sums[l * d..(l + 1) * d]);
    }
    let empty: Vec<usize> = (0..k).filter(|&j| mass[j] == 0.0).collect();
    // Each row's distance to its code, measured only for an empty code; none is refilled
    // when every row sits on its code.
    let dists = (!empty.is_empty())
        .then(|| codes.own_sq_dists(x, labels))
        .filter(|dists| dists.iter().any(|&v| v != 0.0));
    if let Some(dists) = dists {
        for (&j, &i) in empty
            .iter()
            .zip(&refill_rows(&dists, empty.len(), farthest)?)
        {
            let from = labels[i] as usize;
            x.add_to(i, -w(i), &mut sums[from * d..(from + 1) * d]);
            mass[from] -= w(i);
            x.add_to(i, w(i), &mut sums[j * d..(j + 1) * d]);
            mass[j] = w(i);
        }
    }
    let has: Vec<bool> = mass.iter().map(|&m| m > 0.0).collect();
    let h = heaviest(mass.iter().copied());
    let sum_h: Vec<F> = sums[h * d..(h + 1) * d]
        .iter()
        .map(|&s| F::from_f64(s))
        .collect();
    let mut means: Vec<F> = sums
        .chunks_exact(d.max(1))
        .zip(book.chunks_exact(d.max(1)))
        .zip(&mass)
        .flat_map(|((s, old), &m)| {
            s.iter()
                .zip(old)
                .map(move |(&s, &o)| if m > 0.0 { F::from_f64(s / m) } else { o })
        })
        .collect();
    place_on_heaviest(&mut means, d, &has, h, &sum_h);
    Ok(means)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_lloyd_is_the_dense_engine_on_the_same_rows() {
        let n = 300;
        let d = 6;
        let mut rnd = crate::test_uniforms(5);
        let mut dense = Array2::<f64>::zeros((n, d));
        let (mut indptr, mut indices, mut data) = (vec![0i32], vec![], vec![]);
        for i in 0..n {
            for j in 0..d {
                let u = rnd();
                if u > 0.1 {
                    let v = (u * 10.0).round() + (i % 3) as f64 * 20.0;
                    dense[[i, j]] = v;
                    indices.push(j as i32);
                    data.push(v);
                }
            }
            indptr.push(indices.len() as i32);
        }
        let x = Csr::new(&indptr, &indices, &data, d).unwrap();
        // Code 2 sits far from every row: it is emptied and refilled from the farthest row.
        let mut init = dense.select(ndarray::Axis(0), &[0, 1, 2]);
        init.row_mut(2).fill(1e6);
        let exec = Exec::with_threads(2).unwrap();
        let stop = Stop::CenterShift {
            tol: 0.0,
            max_iter: 50,
        };
        let sparse = lloyd(&exec, &x, init.view(), stop, None, None).unwrap();
        let params = crate::lloyd::Params {
            stop,
            empty: crate::lloyd::Empty::Farthest,
            weights: None,
            farthest: None,
        };
        let dense = crate::lloyd::run(&exec, dense.view(), init.view(), &params).unwrap();
        assert_eq!(sparse.labels, dense.labels);
        assert_eq!(sparse.iterations, dense.iterations);
        let diff = (&sparse.centroids - &dense.centroids).mapv(f64::abs);
        assert!(diff.iter().all(|&v| v < 1e-9), "{diff}");
    }
}
