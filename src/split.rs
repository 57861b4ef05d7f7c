//! A block of rows split in two by a labelling of two codes: the numbers of the rows of
//! code 0, then those of code 1, each half in the order its rows had (the two halves of a
//! bisection), and each half's inertia measured while the rows pass.

use crate::assign::sq_dists_to_labels;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::measure::check_labels;
use crate::parallel::{Exec, CHUNK_ROWS};

/// What [`split_rows`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Halves {
    /// How many rows have code 0 (they come first).
    pub left: usize,
    /// Each half's (weighted) sum of squared distances to its code, as [`crate::inertia`]
    /// gives it for the whole block with the other half's weights set to zero, bit for bit.
    pub inertia: [f64; 2],
}

/// Copy the numbers `ids.0` of the rows `src` (`n x d`, row-major) into `ids.1`: first
/// those of the rows labelled 0, then those labelled 1, each in their order; and measure
/// each half's inertia against `codes` (`2 x d`), weighted by `weights` if given. One read
/// of the rows, in parallel over chunks of rows; each half's inertia is summed per chunk
/// in row order and the chunks in order, so it does not depend on the thread count.
///
/// # Errors
/// `BadShape` for labels, numbers, codes or weights that do not fit `src`,
/// `InvalidParameter` for a label other than 0 or 1, and whatever the executor's control
/// hook returns.
///
/// # Examples
/// ```
/// use ferrovq::{split_rows, Exec};
///
/// let src = [0.0, 1.0, 10.0, 11.0, 2.0, 3.0];
/// let mut ids = [0; 3];
/// let codes = [1.0, 2.0, 10.0, 11.0];
/// let exec = Exec::with_threads(2)?;
/// let halves = split_rows(&exec, &src, (&[7, 8, 9], &mut ids), 2, &[0, 1, 0], &codes, None)?;
/// assert_eq!(ids, [7, 9, 8]);
/// assert_eq!((halves.left, halves.inertia), (2, [4.0, 0.0]));
/// # Ok::<(), ferrovq::Error>(())
/// ```
pub fn split_rows<F: Float>(
    exec: &Exec,
    src: &[F],
    (ids, new_ids): (&[i64], &mut [i64]),
    d: usize,
    labels: &[i32],
    codes: &[F],
    weights: Option<&[F]>,
) -> Result<Halves> {
    let n = labels.len();
    let shape = |what, len| Error::BadShape {
        what,
        len,
        rows: n,
        cols: d,
    };
    if src.len() != n * d {
        return Err(shape("rows", src.len()));
    }
    if ids.len() != n || new_ids.len() != n {
        return Err(shape("row numbers", ids.len().min(new_ids.len())));
    }
    if codes.len() != 2 * d {
        return Err(shape("codes", codes.len()));
    }
    check_labels(labels, n, 2)?;
    crate::lloyd::check_weights(weights, n)?;
    let starts: Vec<usize> = (0..n).step_by(CHUNK_ROWS).collect();
    let zeros: Vec<usize> = starts
        .iter()
        .map(|&a| {
            labels[a..n.min(a + CHUNK_ROWS)]
                .iter()
                .filter(|&&l| l == 0)
                .count()
        })
        .collect();
    let left: usize = zeros.iter().sum();
    // Each chunk's places in the two halves of the numbers, in chunk order.
    let (mut left_ids, mut right_ids) = new_ids.split_at_mut(left);
    let mut tasks = Vec::with_capacity(starts.len());
    for (&a, &z) in starts.iter().zip(&zeros) {
        let rows = n.min(a + CHUNK_ROWS) - a;
        let (li, rest) = std::mem::take(&mut left_ids).split_at_mut(z);
        left_ids = rest;
        let (ri, rest) = std::mem::take(&mut right_ids).split_at_mut(rows - z);
        right_ids = rest;
        tasks.push((a, rows, [li, ri]));
    }
    exec.check()?;
    let parts = exec.map(tasks, |(a, rows, half_ids)| {
        let mut sums = [0.0f64; 2];
        let mut at = [0usize; 2];
        let span = a..a + rows;
        let sq = sq_dists_to_labels(codes, d, &src[a * d..(a + rows) * d], &labels[span.clone()]);
        for (i, s) in span.zip(sq) {
            let j = labels[i] as usize;
            sums[j] += (weights.map_or(F::ONE, |w| w[i]) * s).to_f64();
            half_ids[j][at[j]] = ids[i];
            at[j] += 1;
        }
        sums
    });
    let mut inertia = [0.0f64; 2];
    for part in parts {
        inertia[0] += part[0];
        inertia[1] += part[1];
    }
    Ok(Halves { left, inertia })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inertia;
    use ndarray::ArrayView2;

    /// Across several chunks, with weights or without: the halves are the numbers of the
    /// rows of each label in order, and each half's inertia is `inertia` of the whole block
    /// with the other half's weights zeroed, bit for bit, whatever the thread count.
    #[test]
    fn halves_are_the_labelled_rows_in_order_with_their_inertia() {
        let (n, d) = (3 * CHUNK_ROWS + 77, 5);
        let mut rnd = crate::test_uniforms(5);
        let src: Vec<f32> = (0..n * d).map(|_| rnd() as f32 * 10.0).collect();
        let labels: Vec<i32> = (0..n).map(|_| i32::from(rnd() > 0.2)).collect();
        let codes: Vec<f32> = (0..2 * d).map(|_| rnd() as f32).collect();
        let w: Vec<f32> = (0..n).map(|_| rnd() as f32 + 1.0).collect();
        let x = ArrayView2::from_shape((n, d), &src).unwrap();
        let c = ArrayView2::from_shape((2, d), &codes).unwrap();
        let ids: Vec<i64> = (0..n as i64).map(|i| 3 * i).collect();
        let want_ids: Vec<i64> = (0..2)
            .flat_map(|j| ids.iter().zip(&labels).filter(move |(_, &l)| l == j))
            .map(|(&i, _)| i)
            .collect();
        for weights in [None, Some(&w[..])] {
            let mut first = None;
            for threads in [1, 2, 3] {
                let exec = Exec::with_threads(threads).unwrap();
                let mut new_ids = vec![0i64; n];
                let split = (&ids[..], &mut new_ids[..]);
                let h = split_rows(&exec, &src, split, d, &labels, &codes, weights).unwrap();
                assert_eq!(new_ids, want_ids);
                assert_eq!(h.left, labels.iter().filter(|&&l| l == 0).count());
                for j in 0..2 {
                    let zeroed: Vec<f32> = labels
                        .iter()
                        .enumerate()
                        .map(|(i, &l)| {
                            let wi = weights.map_or(1.0, |w| w[i]);
                            if l == j as i32 {
                                wi
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let expect = inertia(&exec, x, c, &labels, Some(&zeroed)).unwrap();
                    assert_eq!(h.inertia[j].to_bits(), expect.to_bits());
                }
                assert_eq!(*first.get_or_insert(h), h);
            }
        }
    }

    #[test]
    fn labels_other_than_two_codes_and_bad_shapes_are_errors() {
        let exec = Exec::with_threads(1).unwrap();
        let src = [0.0f64; 4];
        let codes = [0.0f64; 4];
        let split = |ids: &[i64], labels: &[i32], codes: &[f64]| {
            let mut new_ids = vec![0; labels.len()];
            split_rows(&exec, &src, (ids, &mut new_ids), 2, labels, codes, None)
        };
        assert!(matches!(
            split(&[0, 1], &[0, 2], &codes),
            Err(Error::InvalidParameter(_))
        ));
        assert!(matches!(
            split(&[0], &[0, 1], &codes),
            Err(Error::BadShape { .. })
        ));
        assert!(matches!(
            split(&[0, 1], &[0, 1], &codes[..2]),
            Err(Error::BadShape { .. })
        ));
        assert!(matches!(
            split(&[0, 1, 2], &[0, 1, 1], &codes),
            Err(Error::BadShape { .. })
        ));
    }
}
