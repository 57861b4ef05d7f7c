//! Greedy k-means++ seeding (scikit-learn's): at each step several candidates are drawn
//! and the one that lowers the potential most is kept, from the caller's draws.

use super::screen::{Probes, Screen};
use crate::assign::transpose_block;
use crate::cache::{prefetch_line, TO_L2};
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
/// of a distance or sum do not decide (distances here are differences squared and summed
/// in `F` by fused multiply-adds, potentials summed in `f64`; scikit-learn's distances come
/// from dot products).
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
    let screen =
        Screen::worth(n, d, std::mem::size_of::<F>(), (k, trials)).then(|| Screen::new(exec, x, d));
    let rows = DenseRows { x, d, screen };
    let indices = greedy(exec, &rows, n, (k, trials), first, uniforms, weights)?;
    let mut centroids = Array2::from_elem((k, d), F::ZERO);
    for (mut row, &i) in centroids.rows_mut().into_iter().zip(&indices) {
        row.iter_mut()
            .zip(&x[i * d..(i + 1) * d])
            .for_each(|(c, &v)| *c = v);
    }
    Ok(Greedy { centroids, indices })
}

/// The rows numpy's `RandomState.choice(p.len(), ..., p=p)` picks with the uniform draws
/// `uniforms` (scikit-learn's seeding draws, `p` the weights over their sum), the rows
/// `excluded` given no weight (as numpy's draws without replacement zero the rows already
/// drawn): for each draw, the first `i` whose `cumsum(p)[i] / cumsum(p)[-1]` exceeds it,
/// numpy's running sum in `f64` in order and its division (its `searchsorted(...,
/// side='right')` over the normalised sums), or `p.len()` past them all. Two passes over
/// `p`. `p` must hold no NaN or negative value (numpy refuses them first).
///
/// # Examples
/// ```
/// use ferrovq::init::weighted_picks;
///
/// // Running sums 0.25, 0.25, 1.0: a draw of 0.25 is not beyond the second.
/// assert_eq!(weighted_picks(&[0.25f32, 0.0, 0.75], &[0.25, 0.1], &[]), [2, 0]);
/// // Without row 2: running sums 0.25, 0.25, 0.25, normalised 1, 1, 1.
/// assert_eq!(weighted_picks(&[0.25f64, 0.0, 0.75], &[0.9], &[2]), [0]);
/// ```
pub fn weighted_picks<F: Float>(p: &[F], uniforms: &[f64], excluded: &[usize]) -> Vec<usize> {
    // The weights in order, the excluded rows' as zero (met in order: one pass, whatever
    // their number).
    let mut skip = excluded.to_vec();
    skip.sort_unstable();
    let skip = &skip;
    let weights = || {
        let mut at = 0;
        p.iter().enumerate().map(move |(i, v)| {
            while at < skip.len() && skip[at] < i {
                at += 1;
            }
            if skip.get(at) == Some(&i) {
                0.0
            } else {
                v.to_f64()
            }
        })
    };
    let last = weights().fold(0.0, |s, w| s + w);
    let mut order: Vec<usize> = (0..uniforms.len()).collect();
    order.sort_by(|&a, &b| uniforms[a].total_cmp(&uniforms[b]));
    let mut picks = vec![p.len(); uniforms.len()];
    let (mut next, mut cum) = (0, 0.0);
    for (i, w) in weights().enumerate() {
        if next == order.len() {
            break;
        }
        cum += w;
        let cdf = cum / last;
        while next < order.len() && cdf > uniforms[order[next]] {
            picks[order[next]] = i;
            next += 1;
        }
    }
    picks
}

/// Rows the seeding measures distances between, dense or sparse.
pub(crate) trait Points<F: Float>: Sync {
    /// A step's candidates (rows of the data), laid out to be measured against.
    type Centres: Sync;
    /// The rows `picks`, prepared once for every chunk of [`Points::lower`].
    fn centres(&self, picks: &[usize]) -> Self::Centres;
    /// What each of the `t` `centres` would lower the rows `first..first + own.len()` to:
    /// `low` receives `t` runs of `min(own, d2(centre))` (distances computed in the rows'
    /// type; `own` is each row's current `D2`), and the result is each run's
    /// `sum(w * low)` in `f64` (`w` the rows' weights, or ones), summed in an order fixed
    /// by the rows alone.
    fn lower(
        &self,
        first: usize,
        centres: &Self::Centres,
        own: &[F],
        weights: Option<&[F]>,
        low: &mut [F],
    ) -> Vec<f64>;
}

/// [`Points::lower`] from the rows' squared distances `dists` (row by row, `t` a row),
/// pairwise sums in `f64`.
pub(crate) fn lower_by<F: Float>(
    dists: &[f64],
    own: &[F],
    weights: Option<&[F]>,
    low: &mut [F],
) -> Vec<f64> {
    let rows = own.len().max(1);
    let t = low.len() / rows;
    let mut mass = vec![0.0; own.len()];
    low.chunks_exact_mut(rows)
        .enumerate()
        .map(|(c, low)| {
            for ((l, &v), row) in low.iter_mut().zip(own).zip(dists.chunks_exact(t)) {
                let s = row[c];
                *l = if s < v.to_f64() { F::from_f64(s) } else { v };
            }
            match weights {
                Some(w) => mass
                    .iter_mut()
                    .zip(&*low)
                    .zip(w)
                    .for_each(|((m, &l), &w)| *m = (w * l).to_f64()),
                None => mass
                    .iter_mut()
                    .zip(&*low)
                    .for_each(|(m, &l)| *m = l.to_f64()),
            }
            pairwise_sum(&mass)
        })
        .collect()
}

/// Dense rows, row-major, and where it pays, the same rows rounded to integers.
struct DenseRows<'a, F> {
    x: &'a [F],
    d: usize,
    screen: Option<Screen>,
}

/// Rows of a panel: one AVX-512 register of `f32`, two of `f64`.
pub(super) const PANEL: usize = 16;

/// Candidates measured together against a panel: each load of the panel serves all of
/// them, and their sums (`BATCH x PANEL`) stay in registers.
pub(super) const BATCH: usize = 4;

impl<F: Float + Promote<f64>> Points<F> for DenseRows<'_, F> {
    /// The candidates' values (`t x d`, row-major) and their row numbers (for the screen).
    type Centres = (Vec<F>, Vec<usize>);

    fn centres(&self, picks: &[usize]) -> Self::Centres {
        let d = self.d;
        let rows = picks.iter().flat_map(|&i| &self.x[i * d..(i + 1) * d]);
        (rows.copied().collect(), picks.to_vec())
    }

    /// `first` must start a chunk of [`CHUNK_ROWS`] rows and the rows stay within it (the
    /// seeding asks chunk by chunk). The sums run in [`PANEL`] lanes (row `r` in lane
    /// `r % PANEL`), then pairwise across the lanes.
    fn lower(
        &self,
        first: usize,
        (centres, picks): &Self::Centres,
        own: &[F],
        weights: Option<&[F]>,
        low: &mut [F],
    ) -> Vec<f64> {
        let (d, rows, t) = (self.d, own.len(), picks.len());
        debug_assert!(first.is_multiple_of(CHUNK_ROWS) && rows <= CHUNK_ROWS);
        if d == 0 {
            // Every distance is zero.
            low.fill(F::ZERO);
            return vec![0.0; t];
        }
        let mut lanes = vec![[0.0; PANEL]; t];
        let x = &self.x[first * d..(first + rows) * d];
        let probes = self
            .screen
            .as_ref()
            .map(|s| (s, s.probes(picks), first / PANEL));
        let screen = probes.as_ref().map(|(s, p, first)| (*s, p, *first));
        lower_chunk(x, (centres, d), (own, weights), low, &mut lanes, screen);
        lanes.iter().map(|l| pairwise_sum(l)).collect()
    }
}

simd! {
    /// [`Points::lower`] for the rows of `x` (row-major), their sums of `w * low` per
    /// centre accumulated into `lanes` (row `r` in lane `r % PANEL`). The rows are measured
    /// [`PANEL`] at a time (see [`measure`]). The panels are made afresh at every step (a
    /// copy of all the data in panels, made once, was as large as the data: 102 MB more for
    /// seeding 200,000 x 128 rows). With a `screen` (the [`Screen`], the centres as its
    /// [`Probes`], and the panel of the chunk's first row), the rows it settles for every
    /// centre are not read: they keep their `D2`, and the others are measured sixteen at a
    /// time, against the centres they are not settled for. The kernels below are inlined
    /// here, so that they are built for this function's target.
    fn lower_chunk<F: Float>(
        x: &[F],
        (centres, d): (&[F], usize),
        (own, weights): (&[F], Option<&[F]>),
        low: &mut [F],
        lanes: &mut [[f64; PANEL]],
        screen: Option<(&Screen, &Probes, usize)>,
    ) {
        let (rows, t) = (own.len(), lanes.len());
        let avx = multiversion::target::target_cfg_f!(target_feature = "avx");
        let mut panel = vec![[F::ZERO; PANEL]; d.min(PANEL_FEATURES)];
        let mut sums = vec![[[F::ZERO; PANEL]; BATCH]; t.div_ceil(BATCH)];
        let all = vec![true; t.div_ceil(BATCH)];
        let Some((screen, probes, first)) = screen else {
            for (p, block) in x.chunks(d * PANEL).enumerate() {
                // The next panel's rows (past the chunk's end for its last panel), fetched
                // while this one is measured.
                let ahead = x.as_ptr().wrapping_add((p + 1) * d * PANEL);
                let rows_p = Rows::Block(block);
                measure(rows_p, (centres, d), &all, ahead, (&mut panel, &mut sums), avx);
                let sums = &sums.as_flattened()[..t];
                lower_rows(p * PANEL, (own, weights), sums, low, lanes);
            }
            return;
        };
        // For each panel and centre, the rows (as bits) that keep their `D2`, and the rows
        // measured, in order.
        let panels = rows.div_ceil(PANEL);
        let mut sure = vec![0u16; panels * t];
        let mut measured = Vec::new();
        for (p, sure) in sure.chunks_exact_mut(t).enumerate() {
            let own_p = std::array::from_fn(|r| own.get(p * PANEL + r).copied().unwrap_or(F::ZERO));
            screen.settle(first + p, probes, &own_p, sure);
            // Rows past the end are not measured.
            let past = !(u16::MAX >> (PANEL - PANEL.min(rows - p * PANEL)));
            sure.iter_mut().for_each(|s| *s |= past);
            let read = !sure.iter().fold(u16::MAX, |all, &s| all & s);
            measured.extend((0..PANEL).filter(|r| read >> r & 1 == 1).map(|r| p * PANEL + r));
        }
        let unsure = |i: usize, j: usize| sure[i / PANEL * t + j] >> (i % PANEL) & 1 == 0;
        let mut dists = vec![F::ZERO; measured.len() * t];
        // The batches of centres a group's rows are measured against.
        let mut wanted = all;
        let groups = measured.chunks(PANEL).zip(dists.chunks_mut(PANEL * t));
        for (g, (group, out)) in groups.enumerate() {
            for (c0, wanted) in (0..t).step_by(BATCH).zip(&mut wanted) {
                *wanted = (c0..t.min(c0 + BATCH)).any(|j| group.iter().any(|&i| unsure(i, j)));
            }
            let rows_g = match group {
                [a, .., b] if group.len() == PANEL && b - a == PANEL - 1 => {
                    Rows::Block(&x[a * d..(a + PANEL) * d])
                }
                _ => {
                    let next = measured.get((g + 1) * PANEL..).unwrap_or(&[]);
                    Rows::Listed(x, group, &next[..next.len().min(PANEL)])
                }
            };
            // The kernel's requests fall on the panel itself: the rows of the next group
            // are not known to be next to these.
            let ahead = panel.as_ptr().cast::<F>();
            measure(rows_g, (centres, d), &wanted, ahead, (&mut panel, &mut sums), avx);
            let sums = sums.as_flattened();
            for (lane, out) in out.chunks_exact_mut(t).enumerate() {
                out.iter_mut().zip(sums).for_each(|(o, s)| *o = s[lane]);
            }
        }
        let mut next = measured.iter().zip(dists.chunks_exact(t)).peekable();
        let lowered = &mut sums.as_flattened_mut()[..t];
        for p in 0..panels {
            for (r, i) in (p * PANEL..(p + 1) * PANEL).enumerate() {
                let exact = next.next_if(|(&m, _)| m == i).map(|(_, e)| e);
                for (j, s) in lowered.iter_mut().enumerate() {
                    // A settled row's distance is at least its `D2`: it keeps the `D2`.
                    s[r] = match exact {
                        Some(e) if unsure(i, j) => e[j],
                        _ => own.get(i).copied().unwrap_or(F::ZERO),
                    };
                }
            }
            lower_rows(p * PANEL, (own, weights), lowered, low, lanes);
        }
    }
}

/// Rows of a panel: a run of [`PANEL`] (or, at the end, fewer) rows, row-major, or the
/// listed rows of a chunk (up to [`PANEL`]) with the rows listed next (fetched meanwhile).
enum Rows<'a, F> {
    Block(&'a [F]),
    Listed(&'a [F], &'a [usize], &'a [usize]),
}

/// The squared distances of [`PANEL`] rows to the centres of the batches `wanted`, into
/// `sums` (lane `r` for the `r`-th row; lanes of rows past the end hold the distances of
/// zeros, lanes not listed are not to be read). The rows are taken into `panel`, feature by
/// feature (feature `f` of row `r` at `f * PANEL + r`), [`PANEL_FEATURES`] features at a
/// time, which stay in L1 while the centres are measured against them with the rows in the
/// SIMD lanes. `ahead`: see [`panel_sq_dists`]; `avx` whether the caller's build has AVX.
#[inline(always)]
fn measure<F: Float>(
    rows: Rows<'_, F>,
    (centres, d): (&[F], usize),
    wanted: &[bool],
    ahead: *const F,
    (panel, sums): (&mut [[F; PANEL]], &mut [[[F; PANEL]; BATCH]]),
    avx: bool,
) {
    let t = centres.len() / d.max(1);
    sums.fill([[F::ZERO; PANEL]; BATCH]);
    for f0 in (0..d).step_by(PANEL_FEATURES) {
        let part = &mut panel[..PANEL_FEATURES.min(d - f0)];
        match rows {
            Rows::Block(block) => {
                if block.len() < d * PANEL {
                    // The rows past the last are zeros.
                    part.fill([F::ZERO; PANEL]);
                }
                // SAFETY: the caller's build has AVX where `avx`.
                unsafe { transpose_block(&block[f0..], d, part, avx, true) };
            }
            Rows::Listed(x, listed, next) => {
                for (lane, &i) in listed.iter().enumerate() {
                    let row = &x[i * d + f0..][..part.len()];
                    part.iter_mut().zip(row).for_each(|(col, &v)| col[lane] = v);
                    // The same features of a row listed next, asked for into L2 (the copy
                    // waited on memory).
                    if let Some(&i) = next.get(lane) {
                        let row = &x[i * d + f0..][..part.len()];
                        for at in (0..row.len()).step_by(64 / std::mem::size_of::<F>()) {
                            prefetch_line::<TO_L2, F>(&row[at]);
                        }
                    }
                }
            }
        }
        let part = part.as_flattened();
        let ahead = ahead.wrapping_add(f0 * PANEL);
        let batches = (0..t).step_by(BATCH).zip(sums.iter_mut()).zip(wanted);
        for ((c0, sums), _) in batches.filter(|(_, &w)| w) {
            let batch = (&centres[c0 * d + f0..], d);
            match BATCH.min(t - c0) {
                4 => panel_sq_dists::<F, 4>(part, batch, ahead, sums),
                3 => panel_sq_dists::<F, 3>(part, batch, ahead, sums),
                2 => panel_sq_dists::<F, 2>(part, batch, ahead, sums),
                _ => panel_sq_dists::<F, 1>(part, batch, ahead, sums),
            }
        }
    }
}

/// Lowers the rows `r0..` (up to [`PANEL`], within `own`) of a chunk with `sums[j]` their
/// squared distances to centre `j`: see [`lower_panel`], into run `j` of `low` (runs of
/// `own.len()`) and `lanes[j]`.
#[inline(always)]
fn lower_rows<F: Float>(
    r0: usize,
    (own, weights): (&[F], Option<&[F]>),
    sums: &[[F; PANEL]],
    low: &mut [F],
    lanes: &mut [[f64; PANEL]],
) {
    let (rows, m) = (own.len(), PANEL.min(own.len() - r0));
    // Rows past the end weigh nothing and lower nothing.
    let (mut own_p, mut w_p) = ([F::ZERO; PANEL], [F::ZERO; PANEL]);
    own_p[..m].copy_from_slice(&own[r0..r0 + m]);
    match weights {
        Some(w) => w_p[..m].copy_from_slice(&w[r0..r0 + m]),
        None => w_p[..m].fill(F::ONE),
    }
    let rows_p = (&own_p, &w_p);
    for (j, (s, lanes)) in sums.iter().zip(lanes).enumerate() {
        let out = &mut low[j * rows + r0..][..m];
        match out.try_into() {
            Ok(out) => lower_panel(rows_p, s, out, lanes),
            Err(_) => {
                let mut last = [F::ZERO; PANEL];
                lower_panel(rows_p, s, &mut last, lanes);
                out.copy_from_slice(&last[..m]);
            }
        }
    }
}

/// Features of a panel transposed and measured at a time: with its [`PANEL`] rows, 8 KB of
/// `f32` (16 KB of `f64`), which with the rows they are read from stay in L1 (a whole
/// panel of 384 features, 24 KB, did not, and the seeding ran 13-16% slower than from
/// panels made once).
const PANEL_FEATURES: usize = 128;

/// `sums[j][r]` carried on over the features of a panel (see [`lower_chunk`]): from zero,
/// over every run of features in order, the squared distance of row `r` to centre `j` of
/// `B`, the centres row-major with stride `stride` in `centres` (from the run's first
/// feature): `sum((x - c)**2)` in the data's type `F`, in feature order,
/// each square added by a fused multiply-add (the direct formula's value to within its
/// rounding: scikit-learn's own distances, from dot products, are further off), with
/// the rows in the SIMD lanes. `ahead` is where the rows of the next panel start (see
/// [`lower_chunk`]; it need not be in bounds). (In `F` rather than `f64`: float32 rows go 16 to a
/// vector, and the seeding ran 1.4x faster; fused: the separate additions held the
/// kernel to half the rate.)
#[inline(always)]
fn panel_sq_dists<F: Float, const B: usize>(
    panel: &[F],
    (centres, stride): (&[F], usize),
    ahead: *const F,
    sums: &mut [[F; PANEL]; BATCH],
) {
    let mut acc: [[F; PANEL]; B] = std::array::from_fn(|j| sums[j]);
    for (f, col) in panel.chunks_exact(PANEL).enumerate() {
        // The next panel's rows (from `ahead`, row-major) are as many values as this
        // panel's: a run of `PANEL` of them per feature, one or two cache lines, asked for
        // into L2 as the kernel goes (asked for all at once, most of the requests were
        // dropped; into L1, no faster).
        prefetch_line::<TO_L2, F>(ahead.wrapping_add(f * PANEL));
        if F::WIDE {
            prefetch_line::<TO_L2, F>(ahead.wrapping_add(f * PANEL + PANEL / 2));
        }
        let col: &[F; PANEL] = col.try_into().expect("panels are PANEL rows wide");
        // One centre at a time across the rows (with the centres' values of a feature
        // adjacent, the compiler vectorised across the centres instead: 5x slower).
        for (j, a) in acc.iter_mut().enumerate() {
            let c = centres[j * stride + f];
            for (a, &v) in a.iter_mut().zip(col) {
                let diff = v - c;
                *a = diff.mul_add(diff, *a);
            }
        }
    }
    // (Lowering and summing here too made the compiler keep `acc` in memory.)
    sums[..B].copy_from_slice(&acc);
}

/// `low[r]` = `min(own[r], sums[r])` and `lanes[r]` += `w[r] * low[r]` in `f64`, for one
/// centre. (Over several centres in one loop, the compiler vectorised across the centres,
/// with scatters.)
#[inline(always)]
fn lower_panel<F: Float>(
    (own, w): (&[F; PANEL], &[F; PANEL]),
    sums: &[F; PANEL],
    low: &mut [F; PANEL],
    lanes: &mut [f64; PANEL],
) {
    for r in 0..PANEL {
        let l = if sums[r] < own[r] { sums[r] } else { own[r] };
        low[r] = l;
        lanes[r] += (w[r] * l).to_f64();
    }
}

/// [`greedy_plusplus`] over any [`Points`]: the indices of the chosen rows.
pub(crate) fn greedy<F: Float, P: Points<F>>(
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
    let mut lowered: Vec<F> = crate::pages::zeroed(n * trials.max(1));
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

/// For each target, the index of the first of `masses` whose running sum (in `F`, in
/// order) reaches it, or the last index. The sum is one chain of dependent additions, so
/// the loop does nothing else until the next (smallest) target is reached.
fn first_reaching<F: Float>(
    masses: impl ExactSizeIterator<Item = F>,
    targets: &[f64],
) -> Vec<usize> {
    let mut found = vec![masses.len().saturating_sub(1); targets.len()];
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by(|&a, &b| targets[a].total_cmp(&targets[b]));
    let mut order = order.into_iter();
    let Some(mut next) = order.next() else {
        return found;
    };
    let mut cum = F::ZERO;
    for (i, m) in masses.enumerate() {
        cum += m;
        let reached = cum.to_f64();
        while reached >= targets[next] {
            found[next] = i;
            match order.next() {
                Some(t) => next = t,
                None => return found,
            }
        }
    }
    found
}

/// The data of one seeding.
struct Seeding<'a, F, P> {
    exec: &'a Exec<'a>,
    rows: &'a P,
    weights: Option<&'a [F]>,
}

impl<F: Float, P: Points<F>> Seeding<'_, F, P> {
    /// For each draw `u`, the first row whose running sum of `w * D2` in `F` reaches
    /// `u * pot`, or the last row.
    fn search(&self, d2: &[F], pot: F, draws: &[f64]) -> Vec<usize> {
        let targets: Vec<f64> = draws.iter().map(|&u| u * pot.to_f64()).collect();
        match self.weights {
            Some(w) => first_reaching(d2.iter().zip(w).map(|(&v, &w)| w * v), &targets),
            None => first_reaching(d2.iter().copied(), &targets),
        }
    }

    /// For each candidate row `c`, the potential `sum(w * min(D2, d2(c)))` (summed in `f64`,
    /// in an order fixed within a chunk of [`CHUNK_ROWS`] rows, chunks in order); `lowered`
    /// receives,
    /// chunk by chunk (each `CHUNK_ROWS * trials` long), the `min(D2, d2(c))` of the chunk's
    /// rows, candidate after candidate.
    fn potentials(&self, d2: &[F], candidates: &[usize], lowered: &mut [F]) -> Result<Vec<f64>> {
        let t = candidates.len();
        let centres = self.rows.centres(candidates);
        let room = lowered.len() / d2.len().max(1) * CHUNK_ROWS;
        let tasks = d2
            .chunks(CHUNK_ROWS)
            .zip(lowered.chunks_mut(room))
            .enumerate()
            .collect();
        self.exec.check()?;
        let parts = self.exec.map(tasks, |(c, (own, low))| {
            let (first, rows) = (c * CHUNK_ROWS, own.len());
            let weights = self.weights.map(|w| &w[first..first + rows]);
            self.rows
                .lower(first, &centres, own, weights, &mut low[..rows * t])
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
    fn panels_lower_by_the_fused_formula_in_the_data_type_bit_for_bit() {
        fn fused(x: &[f32], c: &[f32]) -> f32 {
            x.iter()
                .zip(c)
                .fold(0.0, |s, (&a, &b)| (a - b).mul_add(a - b, s))
        }
        // Widths that are transposed value by value and in AVX tiles of 8, and widths of
        // more than one run of `PANEL_FEATURES`.
        let widths = [1, 3, 16, 17, PANEL_FEATURES + 8, 2 * PANEL_FEATURES + 11];
        for d in widths {
            let n = CHUNK_ROWS + 3 * PANEL + 7;
            let x: Vec<f32> = (0..n * d).map(|i| ((i * 37) % 101) as f32 / 9.7).collect();
            let rows = DenseRows {
                x: &x,
                d,
                screen: None,
            };
            // Some rows already near a centre, others not yet measured.
            let own: Vec<f32> = (0..n)
                .map(|i| if i % 3 == 0 { 2.5 } else { f32::INFINITY })
                .collect();
            let w: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.5).collect();
            // Centres are rows of the data; every batch size, and batches after a full one.
            let all = [3usize, 100, n - 1, 0, 2000, 7];
            for t in 1..=all.len() {
                let picks = &all[..t];
                let centres = rows.centres(picks);
                for (first, len) in [(0, CHUNK_ROWS), (CHUNK_ROWS, n - CHUNK_ROWS), (0, 40)] {
                    let (own, w) = (&own[first..first + len], &w[first..first + len]);
                    let mut low = vec![0.0; len * t];
                    let pots = rows.lower(first, &centres, own, Some(w), &mut low);
                    for ((&c, l), pot) in picks.iter().zip(low.chunks_exact(len)).zip(pots) {
                        let mut total = 0.0;
                        for (r, &v) in l.iter().enumerate() {
                            let i = first + r;
                            let d2 = fused(&x[i * d..(i + 1) * d], &x[c * d..(c + 1) * d]);
                            assert_eq!(v.to_bits(), d2.min(own[r]).to_bits());
                            total += f64::from(w[r] * v);
                        }
                        assert!((pot - total).abs() <= 1e-12 * total, "{pot} vs {total}");
                    }
                }
            }
        }
    }

    /// With the integer screen, what the centres lower the rows to and the potentials are
    /// bit for bit those without it: `f32` and `f64` rows, `D2` equal to, just above and just
    /// below a centre's distance, far from it or not yet measured, rows with a value that is
    /// not finite, zeros or huge values, chunks that end in a partial panel.
    #[test]
    fn the_screen_changes_no_bit() {
        fn check<F: Float + Promote<f64>>() {
            let exec = Exec::with_threads(2).unwrap();
            let mut rnd = crate::test_uniforms(9);
            for d in [32, 47, PANEL_FEATURES + 2, 2 * PANEL_FEATURES + 44] {
                let n = CHUNK_ROWS + 3 * PANEL + 7;
                let mut x: Vec<F> = (0..n * d)
                    .map(|i| F::from_f64((i / d % 7) as f64 * 3.0 + rnd()))
                    .collect();
                x[5 * d] = F::from_f64(f64::NAN);
                x[6 * d..7 * d].fill(F::ZERO);
                x[9 * d + 1] = F::from_f64(1e30);
                let plain = DenseRows {
                    x: &x,
                    d,
                    screen: None,
                };
                let screen = Some(Screen::new(&exec, &x, d));
                let screened = DenseRows { x: &x, d, screen };
                let picks = [3usize, 100, n - 1, 6, 2000, 9];
                let centres = plain.centres(&picks);
                // Each row's distance to the first centre.
                let mut dist = vec![F::ZERO; n];
                for (first, len) in [(0, CHUNK_ROWS), (CHUNK_ROWS, n - CHUNK_ROWS)] {
                    let far = vec![F::INFINITY; len];
                    let out = &mut dist[first..first + len];
                    plain.lower(first, &plain.centres(&picks[..1]), &far, None, out);
                }
                let own: Vec<F> = (0..n)
                    .map(|i| {
                        let v = dist[i].to_f64();
                        let v = [
                            f64::INFINITY,
                            v,
                            v * (1.0 + 1e-6),
                            v * (1.0 - 1e-6),
                            v / 2.0,
                        ];
                        F::from_f64(*v.get(i % 6).unwrap_or(&0.0))
                    })
                    .collect();
                let w: Vec<F> = (0..n).map(|i| F::from_f64((i % 3) as f64 + 0.5)).collect();
                for (first, len) in [(0, CHUNK_ROWS), (CHUNK_ROWS, n - CHUNK_ROWS), (0, 40)] {
                    let (own, w) = (&own[first..first + len], &w[first..first + len]);
                    let [plain, screened] = [&plain, &screened].map(|rows| {
                        let mut low = vec![F::ZERO; len * picks.len()];
                        let pots = rows.lower(first, &centres, own, Some(w), &mut low);
                        (low, pots)
                    });
                    let bits = |(low, pots): (Vec<F>, Vec<f64>)| {
                        let low: Vec<u64> = low.iter().map(|v| v.to_f64().to_bits()).collect();
                        (low, pots.iter().map(|p| p.to_bits()).collect::<Vec<_>>())
                    };
                    assert!(bits(plain) == bits(screened), "{d} features at {first}");
                }
            }
        }
        if crate::assign::integer_kernel() {
            check::<f32>();
            check::<f64>();
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

    /// With enough features and steps for the integer screen, the picks are still the
    /// plain implementation's (in `f64`, so that the two roundings of a distance agree).
    #[test]
    fn screened_seeding_picks_what_a_plain_implementation_picks() {
        let exec = Exec::with_threads(2).unwrap();
        let (n, d, k, t) = (3000, 130, 20, 4);
        assert!(!crate::assign::integer_kernel() || Screen::worth(n, d, 8, (k, t)));
        let mut rnd = crate::test_uniforms(12);
        let centres: Vec<f64> = (0..15 * d).map(|_| rnd() * 4.0).collect();
        let x: Vec<f64> = (0..n)
            .flat_map(|i| (0..d).map(move |f| (i * 7 % 15, f)))
            .map(|(c, f)| centres[c * d + f] + rnd())
            .collect();
        let u: Vec<f64> = (0..(k - 1) * t).map(|_| rnd()).collect();
        let data = Array2::from_shape_vec((n, d), x.clone()).unwrap();
        let g = greedy_plusplus(&exec, data.view(), (k, t), 5, &u, None).unwrap();
        assert_eq!(g.indices, reference(&x, d, k, 5, &u, t));
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
