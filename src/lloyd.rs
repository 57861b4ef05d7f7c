//! One Lloyd iteration: assignment and the partial sums of the update, fused in one pass
//! over each chunk of rows while it is in cache.

use crate::distance::{Codebook, Promote};
use crate::error::Result;
use crate::float::Float;
use crate::parallel::Exec;
use crate::update::Partial;
use crate::vq::{assign_chunk, Scratch};

/// Label every row of `x` (`n x d`, row-major) against `cb`, writing `labels` (and, if it
/// is not empty, `dists`), and return the per-code sums and counts of the rows in `F`.
pub(crate) fn step<F: Promote<C>, C: Float>(
    exec: &Exec,
    x: &[F],
    d: usize,
    cb: &Codebook<C>,
    labels: &mut [i32],
    dists: &mut [C],
) -> Result<Partial<F>> {
    let n = labels.len();
    let k = cb.k();
    let mut total = Partial::new(k, d);
    exec.chunks(
        n,
        labels,
        dists,
        |first, labels, dists| {
            let rows = &x[first * d..(first + labels.len()) * d];
            let mut scratch = Scratch::new(cb, labels.len());
            assign_chunk(rows, cb, labels, dists, &mut scratch);
            let mut part = Partial::new(k, d);
            part.add_rows(rows, labels);
            part
        },
        |part| total.merge(&part),
    )?;
    Ok(total)
}
