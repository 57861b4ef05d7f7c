//! Greedy k-means++ seeding (scikit-learn's): at each step several candidates are drawn
//! and the one that lowers the potential most is kept, from the caller's draws.

use crate::error::{Error, Result};
use crate::float::{Float, Promote};
use crate::parallel::{Exec, CHUNK_ROWS};
use crate::sum::pairwise_sum;
use ndarray::{Array2, ArrayView2};

/// The result of [`greedy_plusplus`].
#[derive(Debug, Clone)]
pub struct Greedy<F> {
    /// `k x d` chosen centroids: rows of the data, in its type.
    pub centroids: Array2<F>,
    /// The row index of the data chosen for each centroid.
    pub indices: Vec<usize>,
}

/// Greedy k-means++ seeding as scikit-learn 1.9's `_kmeans_plusplus` makes it, in
/// O(n·k·trials·d) without an n x trials matrix.
///
/// The first centroid is row `first`. With `D2` each row's squared distance to its nearest
/// chosen centroid (held in the data's type `F`, as scikit-learn holds it) and `w` the row
/// weights (ones if `None`), step `c` takes the next `trials` of `uniforms`, scales each by
/// the current potential `sum(w * D2)`, and finds for each the first row whose running
/// sum of `w * D2` (summed in order, in `F`, as numpy's `cumsum`) reaches it (numpy's
/// `searchsorted`, clipped to the last row). Of these candidates the first one whose
/// potential `sum(w * min(D2, d2(candidate)))` is lowest becomes the centroid. Fed the
/// draws scikit-learn makes, it picks scikit-learn's centroids wherever the two roundings
/// of a distance or sum do not decide (distances here are exact differences summed in
/// `f64`; scikit-learn's come from dot products).
///
/// The potentials are summed per chunk of rows and the chunks in order, so the result
/// does not depend on the thread count.
///
/// # Errors
/// `InvalidParameter` for empty data, `k == 0`, `trials == 0`, `first` out of range or
/// fewer than `(k - 1) * trials` uniforms, `BadShape` for weights that are not one per
/// row, and whatever the executor's control hook returns (it is asked between steps).
pub fn greedy_plusplus<F: Float + Promote<f64>>(
    exec: &Exec,
    data: ArrayView2<F>,
    (k, trials): (usize, usize),
    first: usize,
    uniforms: &[f64],
    weights: Option<&[F]>,
) -> Result<Greedy<F>> {
    let (n, d) = data.dim();
    let data = data.as_standard_layout();
    let x = crate::contiguous(&data)?;
    let rows = DenseRows::new(exec, x, d);
    let indices = greedy(exec, &rows, n, (k, trials), first, uniforms, weights)?;
    let mut centroids = Array2::from_elem((k, d), F::ZERO);
    for (mut row, &i) in centroids.rows_mut().into_iter().zip(&indices) {
        row.iter_mut()
            .zip(&x[i * d..(i + 1) * d])
            .for_each(|(c, &v)| *c = v);
    }
    Ok(Greedy { centroids, indices })
}

/// Rows the seeding measures distances between, dense or sparse.
pub(crate) trait Points: Sync {
    /// Row `i` as `f64` values (all `d` of them).
    fn row(&self, i: usize) -> Vec<f64>;
    /// The squared distances of the rows `first..first + out.len() / t` to each of the `t`
    /// centres (`t x d`, row-major; rows of the data) into `out`, centre after centre (`t`
    /// runs of rows), computed in the rows' type.
    fn sq_dists(&self, first: usize, centres: &[f64], t: usize, out: &mut [f64]);
}

/// Dense rows, row-major and also feature-major (a copy made once for the whole seeding:
/// the candidates' distances are computed with the rows in the SIMD lanes, and making the
/// copy block by block at every step cost more than the distances).
struct DenseRows<'a, F> {
    x: &'a [F],
    d: usize,
    /// Chunk by chunk of [`CHUNK_ROWS`] rows, `d` runs of [`RUN`] values: each feature of
    /// every row of the chunk.
    cols: Vec<F>,
}

impl<'a, F: Float> DenseRows<'a, F> {
    fn new(exec: &Exec, x: &'a [F], d: usize) -> Self {
        let n = x.len() / d.max(1);
        let mut cols = vec![F::ZERO; n.div_ceil(CHUNK_ROWS) * d * RUN];
        let tasks = cols
            .chunks_mut((d * RUN).max(1))
            .zip(x.chunks(CHUNK_ROWS * d.max(1)))
            .collect();
        exec.map(tasks, |(cols, rows)| {
            for (r, row) in rows.chunks_exact(d.max(1)).enumerate() {
                for (f, &v) in row.iter().enumerate() {
                    cols[f * RUN + r] = v;
                }
            }
        });
        DenseRows { x, d, cols }
    }
}

/// The distance between two features' runs in [`DenseRows::cols`]: a chunk's rows and a
/// little more. At exactly 2,048 rows the runs were a multiple of 4 KiB apart, so all of a
/// row group's features fell in the same L1 cache sets and evicted each other (the
/// kernel waited on its loads most of the time).
const RUN: usize = CHUNK_ROWS + 16;

impl<F: Float + Promote<f64>> Points for DenseRows<'_, F> {
    fn row(&self, i: usize) -> Vec<f64> {
        let d = self.d;
        let mut buf = Vec::new();
        F::promote(&self.x[i * d..(i + 1) * d], &mut buf).to_vec()
    }

    /// `first` must start a chunk of [`CHUNK_ROWS`] rows and the rows stay within it (the
    /// seeding asks chunk by chunk).
    fn sq_dists(&self, first: usize, centres: &[f64], t: usize, out: &mut [f64]) {
        let (d, rows) = (self.d, out.len() / t);
        debug_assert!(first % CHUNK_ROWS == 0 && rows <= CHUNK_ROWS);
        if d == 0 {
            out.fill(0.0);
            return;
        }
        let chunk = &self.cols[first / CHUNK_ROWS * d * RUN..];
        // The centres are rows of the data: exact in `F`.
        let centres: Vec<F> = centres.iter().map(|&v| F::from_f64(v)).collect();
        for b0 in (0..rows).step_by(BLOCK_ROWS) {
            let b = BLOCK_ROWS.min(rows - b0);
            for (c, o) in centres.chunks_exact(d).zip(out.chunks_exact_mut(rows)) {
                block_sq_dists(&chunk[b0..], RUN, c, &mut o[b0..b0 + b]);
            }
        }
    }
}

/// Rows of a block compared with each candidate in turn (their features stay in L1).
const BLOCK_ROWS: usize = 256;

simd! {
    /// `acc[r]` = the squared distance of row `r` of a block to `centre`, the block's
    /// features held feature-major in `cols` (feature `f` of row `r` at `cols[f * stride +
    /// r]`): `sum((x - c)**2)` in the data's type `F`, in feature order (the bits of the
    /// direct formula in `F`), with the rows in the SIMD lanes. (In `F` rather than `f64`:
    /// float32 rows go 16 to a vector, and the seeding ran 1.4x faster.)
    fn block_sq_dists<F: Float>(cols: &[F], stride: usize, centre: &[F], acc: &mut [f64]) {
        let full = acc.len() - acc.len() % GROUP_ROWS;
        for (g, out) in acc[..full].chunks_exact_mut(GROUP_ROWS).enumerate() {
            // A whole group's sums, of a size known here, stay in registers across all the
            // features.
            let mut sums = [F::ZERO; GROUP_ROWS];
            for (f, &c) in centre.iter().enumerate() {
                let col = &cols[f * stride + g * GROUP_ROWS..][..GROUP_ROWS];
                for (a, &v) in sums.iter_mut().zip(col) {
                    let diff = v - c;
                    *a += diff * diff;
                }
            }
            for (o, s) in out.iter_mut().zip(sums) {
                *o = s.to_f64();
            }
        }
        let rest = &mut acc[full..];
        let mut sums = [F::ZERO; GROUP_ROWS];
        let sums = &mut sums[..rest.len()];
        for (f, &c) in centre.iter().enumerate() {
            for (a, &v) in sums.iter_mut().zip(&cols[f * stride + full..]) {
                let diff = v - c;
                *a += diff * diff;
            }
        }
        for (o, &s) in rest.iter_mut().zip(sums.iter()) {
            *o = s.to_f64();
        }
    }
}

/// Rows whose sums [`block_sq_dists`] keeps in registers: four to eight 512-bit vectors,
/// enough independent additions to hide their latency (32 rows: 1.5x slower at d = 16).
const GROUP_ROWS: usize = 64;

/// [`greedy_plusplus`] over any [`Points`]: the indices of the chosen rows.
pub(crate) fn greedy<F: Float, P: Points>(
    exec: &Exec,
    rows: &P,
    n: usize,
    (k, trials): (usize, usize),
    first: usize,
    uniforms: &[f64],
    weights: Option<&[F]>,
) -> Result<Vec<usize>> {
    if n == 0 || k == 0 || trials == 0 {
        return Err(Error::InvalidParameter(
            "greedy k-means++ needs at least one row, one centroid and one trial".into(),
        ));
    }
    if first >= n {
        return Err(Error::InvalidParameter(format!(
            "first index {first} is out of range for {n} rows"
        )));
    }
    if uniforms.len() < (k - 1) * trials {
        return Err(Error::InvalidParameter(format!(
            "greedy k-means++ needs {} uniform draws, got {}",
            (k - 1) * trials,
            uniforms.len()
        )));
    }
    crate::lloyd::check_weights(weights, n)?;
    let seeding = Seeding {
        exec,
        rows,
        weights,
    };
    let mut indices = Vec::with_capacity(k);
    // Each row's squared distance to its nearest chosen centre, in `F` as scikit-learn
    // holds it, and, chunk by chunk, what each candidate would lower it to (allocated once:
    // fresh pages at every step cost more than the search).
    let mut d2 = vec![F::INFINITY; n];
    let mut lowered = vec![F::ZERO; n * trials.max(1)];
    let mut candidates = vec![first];
    let mut draws = uniforms.chunks_exact(trials).take(k - 1);
    loop {
        let pots = seeding.potentials(&d2, &candidates, &mut lowered)?;
        let best = (0..pots.len()).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        indices.push(candidates[best]);
        for (dd, low) in d2
            .chunks_mut(CHUNK_ROWS)
            .zip(lowered.chunks(CHUNK_ROWS * trials.max(1)))
        {
            dd.copy_from_slice(&low[best * dd.len()..(best + 1) * dd.len()]);
        }
        let Some(u) = draws.next() else { break };
        exec.check()?;
        candidates = seeding.search(&d2, F::from_f64(pots[best]), u);
    }
    Ok(indices)
}

/// The data of one seeding.
struct Seeding<'a, F, P> {
    exec: &'a Exec<'a>,
    rows: &'a P,
    weights: Option<&'a [F]>,
}

impl<F: Float, P: Points> Seeding<'_, F, P> {
    /// For each draw `u`, the first row whose running sum of `w * D2` in `F` reaches
    /// `u * pot`, or the last row.
    fn search(&self, d2: &[F], pot: F, draws: &[f64]) -> Vec<usize> {
        let targets: Vec<f64> = draws.iter().map(|&u| u * pot.to_f64()).collect();
        let mut order: Vec<usize> = (0..targets.len()).collect();
        order.sort_by(|&a, &b| targets[a].total_cmp(&targets[b]));
        let mut found = vec![d2.len() - 1; targets.len()];
        let mut next = order.into_iter().peekable();
        let mut cum = F::ZERO;
        let mut reached = |i: usize, cum: F| {
            while let Some(&t) = next.peek() {
                if cum.to_f64() < targets[t] {
                    break;
                }
                found[t] = i;
                next.next();
            }
            next.peek().is_none()
        };
        match self.weights {
            Some(w) => {
                for (i, (&v, &w)) in d2.iter().zip(w).enumerate() {
                    cum += w * v;
                    if reached(i, cum) {
                        break;
                    }
                }
            }
            None => {
                for (i, &v) in d2.iter().enumerate() {
                    cum += v;
                    if reached(i, cum) {
                        break;
                    }
                }
            }
        }
        found
    }

    /// For each candidate row `c`, the potential `sum(w * min(D2, d2(c)))` (summed in `f64`,
    /// pairwise within a chunk of [`CHUNK_ROWS`] rows, chunks in order); `lowered` receives,
    /// chunk by chunk (each `CHUNK_ROWS * trials` long), the `min(D2, d2(c))` of the chunk's
    /// rows, candidate after candidate.
    fn potentials(&self, d2: &[F], candidates: &[usize], lowered: &mut [F]) -> Result<Vec<f64>> {
        let t = candidates.len();
        let centres: Vec<f64> = candidates.iter().flat_map(|&c| self.rows.row(c)).collect();
        let room = lowered.len() / d2.len().max(1) * CHUNK_ROWS;
        let tasks = d2
            .chunks(CHUNK_ROWS)
            .zip(lowered.chunks_mut(room))
            .enumerate()
            .collect();
        self.exec.check()?;
        let parts = self.exec.map(tasks, |(c, (own, low))| {
            let (first, rows) = (c * CHUNK_ROWS, own.len());
            let mut s = vec![0.0; rows * t];
            self.rows.sq_dists(first, &centres, t, &mut s);
            // Branch-free selects and pairwise sums, so that these passes vectorise (the
            // rows hold no NaN: scikit-learn refuses them).
            let low = &mut low[..rows * t];
            for (low, s) in low
                .chunks_exact_mut(rows.max(1))
                .zip(s.chunks_exact(rows.max(1)))
            {
                for ((l, &v), &s) in low.iter_mut().zip(own).zip(s) {
                    *l = if s < v.to_f64() { F::from_f64(s) } else { v };
                }
            }
            let mut mass = vec![0.0; rows];
            low.chunks_exact(rows.max(1))
                .map(|low| {
                    match self.weights {
                        Some(w) => mass
                            .iter_mut()
                            .zip(low)
                            .zip(&w[first..])
                            .for_each(|((m, &l), &w)| *m = (w * l).to_f64()),
                        None => mass.iter_mut().zip(low).for_each(|(m, &l)| *m = l.to_f64()),
                    }
                    pairwise_sum(&mass)
                })
                .collect::<Vec<f64>>()
        });
        let mut totals = vec![0.0; t];
        for part in parts {
            totals.iter_mut().zip(part).for_each(|(t, p)| *t += p);
        }
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::sq_dist;
    use ndarray::array;

    #[test]
    fn the_candidate_that_lowers_the_potential_most_wins() {
        let exec = Exec::with_threads(2).unwrap();
        let data = array![[0.0f64], [1.0], [5.0], [10.0]];
        // D2 from row 0 = [0, 1, 25, 100], potential 126, running sums [0, 1, 26, 126].
        // Draws 0.1 -> 12.6 -> row 2; 0.5 -> 63 -> row 3. Potentials with row 2:
        // [0, 1, 0, 25] = 26; with row 3: [0, 1, 25, 0] = 26: a tie, the first wins.
        let g = greedy_plusplus(&exec, data.view(), (2, 2), 0, &[0.1, 0.5], None).unwrap();
        assert_eq!(g.indices, vec![0, 2]);
        // Draws 0.005 -> 0.63 -> row 1 (potential 125) and 0.5 -> row 3 (26): row 3.
        let g = greedy_plusplus(&exec, data.view(), (2, 2), 0, &[0.005, 0.5], None).unwrap();
        assert_eq!(g.indices, vec![0, 3]);
        assert_eq!(g.centroids, array![[0.0], [10.0]]);
        // Weights [1, 200, 1, 1]: w * D2 = [0, 200, 25, 100], running sums [0, 200, 225,
        // 325]; 0.9 -> 292.5 -> row 3; 0.1 -> 32.5 -> row 1, potential [0, 0, 16, 81] = 97
        // against row 3's [0, 200, 25, 0] = 225: row 1.
        let w = [1.0, 200.0, 1.0, 1.0];
        let g = greedy_plusplus(&exec, data.view(), (2, 2), 0, &[0.9, 0.1], Some(&w)).unwrap();
        assert_eq!(g.indices, vec![0, 1]);
        // A draw beyond every running sum (rounding) takes the last row.
        let g = greedy_plusplus(&exec, data.view(), (2, 1), 0, &[1.5], None).unwrap();
        assert_eq!(g.indices, vec![0, 3]);
        // Too few draws is an error.
        assert!(greedy_plusplus(&exec, data.view(), (3, 2), 0, &[0.5; 3], None).is_err());
    }

    #[test]
    fn block_distances_are_the_direct_formula_in_the_data_type_bit_for_bit() {
        for d in [1usize, 3, 17] {
            let n = CHUNK_ROWS + BLOCK_ROWS + 37;
            let x: Vec<f32> = (0..n * d).map(|i| ((i * 37) % 101) as f32 / 9.7).collect();
            let rows = DenseRows::new(&Exec::with_threads(2).unwrap(), &x, d);
            // Centres are rows of the data.
            let picks = [3usize, 100, n - 1];
            let centres: Vec<f64> = picks.iter().flat_map(|&i| rows.row(i)).collect();
            for (first, len) in [(0, CHUNK_ROWS), (CHUNK_ROWS, n - CHUNK_ROWS), (0, 40)] {
                let mut out = vec![0.0; len * 3];
                rows.sq_dists(first, &centres, 3, &mut out);
                for (&c, o) in picks.iter().zip(out.chunks_exact(len)) {
                    for (r, &v) in o.iter().enumerate() {
                        let i = first + r;
                        let want = sq_dist(&x[i * d..(i + 1) * d], &x[c * d..(c + 1) * d]);
                        assert_eq!(v.to_bits(), f64::from(want).to_bits());
                    }
                }
            }
        }
    }

    /// scikit-learn's greedy k-means++ written plainly: every distance computed.
    fn reference(x: &[f64], d: usize, k: usize, first: usize, u: &[f64], t: usize) -> Vec<usize> {
        let n = x.len() / d;
        let dist = |i: usize, c: usize| sq_dist(&x[i * d..(i + 1) * d], &x[c * d..(c + 1) * d]);
        let mut d2: Vec<f64> = (0..n).map(|i| dist(i, first)).collect();
        let mut picked = vec![first];
        let mut pot: f64 = d2.iter().sum();
        for draws in u.chunks_exact(t).take(k - 1) {
            let cands: Vec<usize> = draws
                .iter()
                .map(|&r| {
                    let mut cum = 0.0;
                    (0..n)
                        .find(|&i| {
                            cum += d2[i];
                            cum >= r * pot
                        })
                        .unwrap_or(n - 1)
                })
                .collect();
            let lowered: Vec<Vec<f64>> = cands
                .iter()
                .map(|&c| (0..n).map(|i| d2[i].min(dist(i, c))).collect())
                .collect();
            let pots: Vec<f64> = lowered.iter().map(|l| l.iter().sum()).collect();
            let best = (0..t).fold(0, |b, j| if pots[j] < pots[b] { j } else { b });
            pot = pots[best];
            d2.clone_from(&lowered[best]);
            picked.push(cands[best]);
        }
        picked
    }

    #[test]
    fn seeding_picks_what_a_plain_implementation_picks() {
        let exec = Exec::with_threads(2).unwrap();
        let (n, d, k, t) = (5000, 3, 40, 4);
        let mut rnd = crate::test_uniforms(11);
        let centres: Vec<f64> = (0..20 * d).map(|_| rnd() * 100.0).collect();
        let x: Vec<f64> = (0..n)
            .flat_map(|i| (0..d).map(move |f| (i % 20, f)))
            .map(|(c, f)| centres[c * d + f] + rnd())
            .collect();
        let u: Vec<f64> = (0..(k - 1) * t).map(|_| rnd() + 0.5).collect();
        let data = Array2::from_shape_vec((n, d), x.clone()).unwrap();
        let g = greedy_plusplus(&exec, data.view(), (k, t), 17, &u, None).unwrap();
        assert_eq!(g.indices, reference(&x, d, k, 17, &u, t));
    }

    #[test]
    fn greedy_seeding_is_thread_count_independent() {
        let n = 3 * CHUNK_ROWS + 11;
        let data = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 31 + j * 17) % 97) as f32);
        let mut rnd = crate::test_uniforms(3);
        let draws: Vec<f64> = (0..19 * 4).map(|_| rnd() + 0.5).collect();
        let run = |t| {
            greedy_plusplus(
                &Exec::with_threads(t).unwrap(),
                data.view(),
                (20, 4),
                5,
                &draws,
                None,
            )
            .unwrap()
            .indices
        };
        assert_eq!(run(1), run(2));
        assert_eq!(run(1), run(3));
    }
}
