//! A code book prepared for nearest-code queries, and the dispatch between the kernels.
//!
//! For fewer than five features the direct kernel ([`super::direct`]) gives SciPy's bits;
//! it also takes books of up to 64 codes. Where only labels are asked for (k-means passes)
//! and a row meets 512 or more products with up to 64 codes, the lane-dots kernel
//! ([`super::lane_dots`]) takes them instead, ranking as the
//! next one does; up to three codes of 48 or more features (a bisection's two-centre
//! runs), on a CPU with AVX-512, the row-dots kernel ([`super::row_dots`]). For more codes
//! of five or more features (where SciPy itself uses BLAS) the register-tiled kernel
//! ([`super::dot`]) ranks the codes by `|c|^2 - 2 x.c` (one fused multiply-add per feature
//! and code). A rounding
//! bound ([`super::bound`]) decides whether the best code is certain; when the runner-up
//! is within the bound (near-ties, exact ties, overflow, NaN) the candidates are compared
//! again with the exact direct formula. The reported distance is always the direct one.
//! Labels therefore equal those of exact arithmetic (lowest index on ties) whatever the
//! CPU or thread count. `f64` rows may be ranked in `f32` first ([`super::narrow`]), and
//! `f32` rows by 16-bit integer products where the CPU does those faster
//! ([`super::quant`]).

use super::bound::{hit, margin, recheck, settle, split_at_cut};
use super::direct::direct_nearest;
use super::dot::{dot_scores, tiles_scores, transposed, two_smallest, LANES, ROWS};
use super::exact::{exact_to_labels, lane_sq_dists, sq_dist, sq_norm};
use super::lane_dots::{lane_dots_nearest, Ranking};
use super::narrow::{narrow_rows, narrowable, NARROW_EPS};
use super::quant::{as_f32, integer_ranking, QuantBook};
use super::row_dots::{fast_rows, row_dots_nearest, ROW_DOTS_MAX_CODES};
use super::DOT_MIN_FEATURES;
use crate::float::Float;

/// Up to this many codes, every feature count goes to the direct kernel (unless the
/// lane-dots or row-dots kernel takes the book first, for labels alone). Measured on a Zen
/// 4 pair (AVX-512), 50,000 rows of blobs, medians of 30 calls, the register-tiled kernel's
/// time against the direct one's: `vq` (exact distances) of `f32` rows, 5 to 128 features
/// against 17 to 64 codes, 1.8-4.5x (16 x 64 codes 2.09 against 1.11 ms, 128 x 17 5.08
/// against 2.67, 8 x 32 1.20 against 0.32), of `f64` rows 1.1-3.2x; labels alone, below
/// the lane-dots kernel's 512 products, on one thread, 2.5-5.5x in `f32` (5 features
/// against 17 codes 1.88 against 0.34 ms, 30 x 17 3.38 against 1.36) and up to 3.2x in
/// `f64`. Past 64 codes the direct kernel still won at 8 and 16 features (`vq`, 16 x 128:
/// 1.9 against 2.9 ms) and lost from 32 (64 x 256: 14.2 against 7.5), so the tiled kernel
/// keeps those books. (The cut-off was 16, from measurements on a Zen 3 that set the
/// direct kernel against the lane-dots kernel only.)
const DIRECT_MAX_CODES: usize = 64;

/// Tiles of rows that share each block of the code book ([`Codebook::nearest_blocks`]).
pub(super) const BLOCK_TILES: usize = 8;

/// Bytes of panels in a block of the code book: a quarter of a Zen 4 core's L2 cache.
const BLOCK_PANEL_BYTES: usize = 256 << 10;

/// Code books whose panels are larger go to [`Codebook::nearest_blocks`]: a Zen 4 core's
/// L2 cache.
const BLOCKED_BOOK_BYTES: usize = 1 << 20;

/// The nearest code of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<C> {
    /// Index of the nearest code (lowest on ties; 0 when every distance is NaN).
    pub label: i32,
    /// Its squared distance by the direct formula (infinite when every distance is NaN);
    /// or, where [`Codebook::nearest_rows`] was not asked for exact distances and ranked
    /// the codes by dot products, an upper bound of it (to within rounding).
    pub best: C,
    /// A lower bound of the squared distance to every other code (to within the rounding
    /// of the direct formula); infinite when there is no other code.
    pub second: C,
}

impl<C: Float> Default for Hit<C> {
    fn default() -> Self {
        Hit {
            label: 0,
            best: C::INFINITY,
            second: C::INFINITY,
        }
    }
}

/// A code book prepared for fast nearest-code queries.
#[derive(Debug, Clone)]
pub struct Codebook<C> {
    pub(super) k: usize,
    pub(super) d: usize,
    pub(super) kpad: usize,
    /// The codes in panels of [`LANES`]: panel `t` holds codes `t * LANES..` feature by
    /// feature (`d` runs of `LANES` values), padded with zero codes. A tile streams through
    /// its panel in order, rather than striding `kpad` values from one feature to the next
    /// (a page apart at 1,024 codes: every feature of a tile was a TLB miss).
    pub(super) panels: Vec<C>,
    /// The codes, row-major, for exact rechecks.
    pub(super) rows: Vec<C>,
    /// `|c|^2` of every code (padding: +inf, so padded codes never win).
    pub(super) norms: Vec<C>,
    /// The largest `|c|^2`.
    pub(super) max_norm: C,
    /// For `f64` codes (five or more features, every value [`narrowable`]), the codes
    /// rounded to `f32`: rows are ranked at single-precision speed first, see
    /// [`Codebook::nearest_rows`].
    pub(super) narrow: Option<Box<Codebook<f32>>>,
    /// For `f32` codes ranked by the dot-product kernel where [`integer_ranking`] pays, the
    /// codes rounded to 16-bit integers ([`Codebook::nearest_quant`]). (`f64` codes are
    /// ranked by their `narrow` book's, see [`Codebook::integer_book`].)
    pub(super) quant: Option<Box<QuantBook>>,
}

/// Whether `k` codes of `d` features go to the direct kernel: always below five features
/// (SciPy's bits), and up to [`DIRECT_MAX_CODES`] codes, where the dot-product kernel's
/// per-row overhead (ranking a tile of [`LANES`] codes, the rounding bound, the exact
/// distance after) outweighs its cheaper products.
fn direct_kernel(k: usize, d: usize) -> bool {
    d < DOT_MIN_FEATURES || k <= DIRECT_MAX_CODES
}

/// Whether a code book goes to the lane-dots kernel: with five or more features and at
/// most [`LANE_DOTS_MAX_CODES`] codes, where only the labels are asked for (k-means passes)
/// and a row meets at least [`LANE_DOTS_MIN_PRODUCTS`] products, or
/// [`NARROW_LANE_DOTS_MIN_PRODUCTS`] if the book is `narrow` (`f64` codes ranked in `f32`).
/// Measured (one core, against the direct kernel, k-means of 5 iterations): 10,000 and
/// 100,000 x 64 rows against 16 codes 9-22% faster, 10,000 x 64 against 8 codes 5-17%;
/// against 4 codes (256 products) up to 8% slower in `f32` (100,000 rows: 12%), and 10,000
/// x 8 against 16 (128) 20-48% slower, the bound's fixed cost per row weighing more than
/// the products saved. `f64` rows ranked in `f32` gain more: 10,000 x 32 against 8 codes
/// 25% faster, 100,000 x 16 against 16 20%, 10,000 x 64 against 4 codes 6%; at 128
/// products and below no faster. With the exact distances asked for (`vq`) it was 0-5%
/// slower than the direct kernel, which has them as it ranks (and so it was with `f64`
/// rows ranked in `f32`: the exact distances after them, by a transpose of the
/// differences, cost as much as the ranking saved).
fn lane_dots(k: usize, d: usize, exact: bool, narrow: bool) -> bool {
    let min_products = if narrow {
        NARROW_LANE_DOTS_MIN_PRODUCTS
    } else {
        LANE_DOTS_MIN_PRODUCTS
    };
    d >= DOT_MIN_FEATURES && !exact && k <= LANE_DOTS_MAX_CODES && k * d >= min_products
}

/// Whether a code book goes to the row-dots kernel ([`super::row_dots`]): at most
/// [`ROW_DOTS_MAX_CODES`] codes of at least [`ROW_DOTS_MIN_FEATURES`] features, where only
/// the labels are asked for and the CPU has its SIMD kernel for `f32` rankings (`f32`
/// rows, and `f64` rows ranked in `f32`).
fn row_dots(k: usize, d: usize, exact: bool) -> bool {
    !exact && d >= ROW_DOTS_MIN_FEATURES && (1..=ROW_DOTS_MAX_CODES).contains(&k) && fast_rows()
}

/// Fewer features than this go to the direct kernel: a row's ranking and bound cost the
/// row-dots kernel about 9 ns (one thread of a Zen 4, `f32` rows, labels of 4,000,000
/// values against 1 to 3 codes, two runs each: against the direct kernel 16 features
/// 2.2-3.5x the time, 24 features 2.1-2.8x, 32 features 0.9-1.8x, 48 features 0.5-0.8x,
/// 64 features 0.7-1.2x, 128 0.6-0.9x, 256 0.4-0.6x; 500,000 x 64 rows against 2 codes,
/// 12.4 -> 7.3 ms).
const ROW_DOTS_MIN_FEATURES: usize = 48;

/// The kernels for books of few codes that rank by dot products (labels only).
#[derive(Clone, Copy)]
enum FewCodes {
    /// [`row_dots_nearest`].
    Rows,
    /// [`lane_dots_nearest`].
    Lanes,
}

impl FewCodes {
    /// Whether the kernel ranks rows in their own type `C` (the row-dots kernel only
    /// `f32`: other rows go to the direct kernel unless ranked in `f32`).
    fn ranks<C: Float>(self) -> bool {
        match self {
            FewCodes::Rows => !C::WIDE,
            FewCodes::Lanes => true,
        }
    }

    /// The kernel's hits of `rows` (`ranked`: the same rows in the ranking's type).
    fn nearest<C: Float, N: Float>(
        self,
        ranking: Ranking<N>,
        book: &[C],
        d: usize,
        (ranked, rows): (&[N], &[C]),
        hits: &mut [Hit<C>],
    ) {
        match self {
            FewCodes::Rows => row_dots_nearest(ranking, book, d, ranked, rows, hits),
            FewCodes::Lanes => lane_dots_nearest(ranking, book, d, ranked, rows, hits),
        }
    }
}

/// Up to this many codes the lane-dots kernel labels rows faster than the dot-product
/// kernel, whose tile of [`LANES`] codes is partly padding below it and whose ranking of
/// each row's scores afterwards costs more than the lanes' running ranking. Measured on a
/// Zen 3 (AVX2), one thread, 50,000 rows of 5 to 64 features, labels alone, lane dots
/// against the dot-product kernel: 17 to 32 codes 1.4-3.3x faster, 48 codes 1.2-1.9x, 64
/// codes 1.01-1.5x; at 96 codes from 0.9x (16 features) to 1.1x (5), at 128 0.86-1.1x.
const LANE_DOTS_MAX_CODES: usize = 64;

/// See [`lane_dots`].
const LANE_DOTS_MIN_PRODUCTS: usize = 512;

/// See [`lane_dots`].
const NARROW_LANE_DOTS_MIN_PRODUCTS: usize = 256;

impl<C: Float> Codebook<C> {
    /// Prepare `k` codes of `d` features given row-major in `rows`.
    pub fn new(rows: &[C], k: usize, d: usize) -> Self {
        assert_eq!(rows.len(), k * d, "code book length must be k * d");
        // The direct kernel reads the codes row-major; only the dot-product one needs them
        // transposed and padded.
        let dot = !direct_kernel(k, d);
        let kpad = if dot { k.div_ceil(LANES) * LANES } else { k };
        let mut panels = vec![C::ZERO; if dot { d * kpad } else { 0 }];
        for (j, code) in rows
            .chunks_exact(d.max(1))
            .enumerate()
            .take(k)
            .filter(|_| dot)
        {
            to_panel(&mut panels, j, code);
        }
        let mut norms = vec![C::INFINITY; kpad];
        let mut max_norm = C::ZERO;
        for (j, code) in rows.chunks_exact(d.max(1)).enumerate().take(k) {
            norms[j] = code_norm(code, &mut max_norm);
        }
        let ranked = dot || lane_dots(k, d, false, C::WIDE) || row_dots(k, d, false);
        let narrow = (C::WIDE && ranked && rows.iter().all(|&v| narrowable(v))).then(|| {
            let rows: Vec<f32> = rows.iter().map(|&v| v.to_f64() as f32).collect();
            let mut narrow = Codebook::new(&rows, k, d);
            if let Some(quant) = narrow.quant.as_deref_mut() {
                quant.cover_narrowing();
            }
            Box::new(narrow)
        });
        let quant = (dot && !C::WIDE && integer_ranking(d))
            .then(|| {
                let codes = as_f32(rows);
                QuantBook::new(d, kpad, |s| {
                    let code = codes.get(s * d..(s + 1) * d)?;
                    Some((code, norms[s].to_f64() as f32))
                })
            })
            .flatten()
            .map(Box::new);
        Codebook {
            k,
            d,
            kpad,
            quant,
            panels,
            rows: rows.to_vec(),
            norms,
            max_norm,
            narrow,
        }
    }

    /// The codes rounded to integers, if rows are ranked by them: an `f32` book's own, or
    /// for `f64` codes their `f32` rounding's (which [covers the
    /// narrowing](QuantBook::cover_narrowing)).
    fn integer_book(&self) -> Option<&QuantBook> {
        (self.quant.as_deref()).or_else(|| self.narrow.as_deref()?.quant.as_deref())
    }

    /// The code book as the lane-dots kernel ranks by it, with relative rounding `eps`.
    fn ranking(&self, eps: f64) -> Ranking<'_, C> {
        Ranking {
            book: &self.rows,
            norms: &self.norms[..self.k],
            max_norm: self.max_norm,
            eps,
        }
    }

    /// Scratch length [`Codebook::nearest_rows`] needs (none for the direct kernel).
    pub fn scratch_len(&self) -> usize {
        if direct_kernel(self.k, self.d) {
            0
        } else if !self.blocked() {
            self.kpad * ROWS
        } else {
            self.kpad * ROWS + self.block_len()
        }
    }

    /// Rows worth gathering at a time for [`Codebook::nearest_rows`] by a caller that
    /// ranks scattered rows: whole runs of [`BLOCK_TILES`] tiles, about
    /// [`BLOCK_PANEL_BYTES`] of them, so that the gathered rows are still in the core's
    /// cache when they are ranked (a chunk's open rows of 768 `f64` features are up to
    /// 12 MB).
    pub fn gather_rows(&self) -> usize {
        let run = ROWS * BLOCK_TILES;
        run * (BLOCK_PANEL_BYTES / (run * self.d * std::mem::size_of::<C>())).max(1)
    }

    /// Whether rows go to [`Codebook::nearest_blocks`]: `f32` codes whose panels are larger
    /// than [`BLOCKED_BOOK_BYTES`] (a smaller book stays in the core's cache as tile after
    /// tile of rows is scored against all of it).
    pub(super) fn blocked(&self) -> bool {
        !C::WIDE && self.panels.len() * std::mem::size_of::<C>() > BLOCKED_BOOK_BYTES
    }

    /// Slots of the code book (whole panels) scored as one block by [`BLOCK_TILES`] tiles
    /// of rows: at most [`BLOCK_PANEL_BYTES`] of panels, the whole book if it is smaller.
    fn block_slots(&self) -> usize {
        let panel = self.d * LANES * std::mem::size_of::<C>();
        ((BLOCK_PANEL_BYTES / panel).max(1) * LANES).min(self.kpad)
    }

    /// The code of every row (row-major, `d` features): see [`Hit`]. `scratch` must hold
    /// [`Codebook::scratch_len`] values. With `exact` false, `best` may be an upper bound
    /// (saving a pass over the row's features for each row).
    ///
    /// `f64` rows and codes whose values are all [`narrowable`] are ranked in `f32` first,
    /// with a rounding bound that also covers the rounding of the values to `f32`; a group
    /// of rows with any best code not certain in `f32` is ranked again in `f64` (by the
    /// lane-dots kernel, each such row is measured with the direct formula). Where
    /// [`integer_ranking`] pays, they are ranked by integer products instead, through `f32`,
    /// as `f32` rows are ([`Codebook::nearest_quant`]).
    pub fn nearest_rows(&self, rows: &[C], hits: &mut [Hit<C>], scratch: &mut [C], exact: bool) {
        let few = if row_dots(self.k, self.d, exact) {
            Some(FewCodes::Rows)
        } else {
            lane_dots(self.k, self.d, exact, self.narrow.is_some()).then_some(FewCodes::Lanes)
        };
        if let Some(kernel) = few {
            let mut buf = Vec::new();
            match self.narrow.as_deref() {
                Some(n) if narrow_rows(rows, &mut buf) => {
                    kernel.nearest(
                        n.ranking(NARROW_EPS),
                        &self.rows,
                        self.d,
                        (&buf, rows),
                        hits,
                    );
                    return;
                }
                // Rows the row-dots kernel would rank in `f64` go to the direct kernel.
                _ if kernel.ranks::<C>() => {
                    let ranking = self.ranking(C::EPSILON.to_f64());
                    kernel.nearest(ranking, &self.rows, self.d, (rows, rows), hits);
                    return;
                }
                _ => {}
            }
        }
        if direct_kernel(self.k, self.d) {
            direct_nearest(&self.rows, self.k, self.d, rows, hits);
            return;
        }
        match (self.narrow.as_deref(), self.integer_book()) {
            (_, Some(quant)) => self.nearest_quant(quant, rows, hits, scratch),
            _ if self.blocked() => self.nearest_blocks(rows, hits, scratch),
            (Some(narrow), _) if narrow.blocked() => {
                self.nearest_narrow_blocks(narrow, rows, hits, scratch);
            }
            _ => self.nearest_tiles(rows, hits, scratch),
        }
        if exact {
            exact_to_labels(&self.rows, self.d, rows, hits);
        }
    }

    /// The dot-product kernel's hits of `rows` tile by tile (`f64` codes: a tile of rows
    /// is ranked in `f32` first where the code book is narrowed).
    pub(super) fn nearest_tiles(&self, rows: &[C], hits: &mut [Hit<C>], scratch: &mut [C]) {
        let scratch = &mut scratch[..self.kpad * ROWS];
        let mut padded = Vec::new();
        let mut narrowed = self.narrow.as_deref().map(|n| {
            (
                n,
                vec![0.0f32; n.kpad * ROWS],
                Vec::with_capacity(ROWS * self.d),
            )
        });
        for (x, group) in rows.chunks(self.d * ROWS).zip(hits.chunks_mut(ROWS)) {
            let full = padded_to(x, ROWS * self.d, self.d, &mut padded);
            let narrowed = narrowed.as_mut().is_some_and(|(narrow, scratch, buf)| {
                self.narrow_group(narrow, full, group, scratch, buf)
            });
            if !narrowed {
                let x_norms = self.scores(full, scratch);
                for (p, hit) in group.iter_mut().enumerate() {
                    // Padded codes score +inf, so the whole padded run can be scanned.
                    let scores = &scratch[p * self.kpad..(p + 1) * self.kpad];
                    *hit = self.pick(&x[p * self.d..(p + 1) * self.d], x_norms[p], scores);
                }
            }
        }
    }

    /// The dot-product kernel's hits of `rows` (`f32` codes) in blocks of [`BLOCK_TILES`]
    /// tiles: each block of [`Codebook::block_slots`] codes is scored against every tile of
    /// the block while it is in the core's cache (one tile at a time, a code book larger
    /// than the cache was read from memory once per tile), and each row keeps the two
    /// smallest scores so far. A row whose best is certain from them is settled; any other
    /// row is scored again against the whole book and picked as by the tile-by-tile kernel
    /// ([`Codebook::rescore`]; the same hits either way).
    fn nearest_blocks(&self, rows: &[C], hits: &mut [Hit<C>], scratch: &mut [C]) {
        let d = self.d;
        let (whole, block) = scratch.split_at_mut(self.kpad * ROWS);
        let (mut padded, mut pending) = (Vec::new(), Vec::new());
        let run = ROWS * BLOCK_TILES;
        for (r, (x, run_hits)) in rows.chunks(d * run).zip(hits.chunks_mut(run)).enumerate() {
            let n = run_hits.len();
            let full = padded_to(x, n.div_ceil(ROWS) * ROWS * d, d, &mut padded);
            let two = self.block_two_smallest(full, block);
            let ranked = Ranked {
                rows: full,
                two: &two,
                max_norm: self.max_norm.to_f64(),
                eps: C::EPSILON.to_f64(),
            };
            self.settle_run(ranked, run_hits, r * run, &mut pending);
        }
        self.rescore(rows, &pending, hits, whole);
    }

    /// The hits of a run of rows (the `hits.len()` rows from row `first` of the caller's)
    /// from `ranked` (each row's two smallest scores by a ranking book: `self`, or its
    /// `f32` rounding): a row whose best code is certain is settled, the number of any
    /// other row pushed to `pending` for [`Codebook::rescore`].
    pub(super) fn settle_run<N: Float>(
        &self,
        ranked: Ranked<'_, N>,
        hits: &mut [Hit<C>],
        first: usize,
        pending: &mut Vec<usize>,
    ) {
        let Ranked {
            rows,
            two,
            max_norm,
            eps,
        } = ranked;
        let d = self.d;
        let runs = hits.iter_mut().zip(two).zip(rows.chunks_exact(d));
        for (i, ((out, &(best, second, label)), row)) in runs.enumerate() {
            let norms = (sq_norm(row).to_f64(), max_norm);
            match settle(
                best.to_f64(),
                second.to_f64(),
                norms.0,
                margin(norms, d, eps),
            ) {
                Some(bounds) => *out = hit(label, bounds),
                None => pending.push(first + i),
            }
        }
    }

    /// The hits of the rows numbered in `pending` (of `rows`, row-major), scored against
    /// the whole book [`ROWS`] at a time (into `whole`) and picked as by the tile-by-tile
    /// kernel: a row's scores do not depend on the rows beside it, so gathering the few
    /// uncertain rows into whole tiles gives the same hits as scoring each one's own tile.
    /// (At 1,536 features against 1,024 codes a third of the tiles had a row not certain,
    /// and scoring those tiles again was a fifth of `vq`'s time.)
    pub(super) fn rescore(
        &self,
        rows: &[C],
        pending: &[usize],
        hits: &mut [Hit<C>],
        whole: &mut [C],
    ) {
        let (d, kpad) = (self.d, self.kpad);
        let mut tile = Vec::with_capacity(ROWS * d);
        for group in pending.chunks(ROWS) {
            tile.clear();
            for p in 0..ROWS {
                let i = group[p.min(group.len() - 1)];
                tile.extend_from_slice(&rows[i * d..(i + 1) * d]);
            }
            let x_norms = self.scores(&tile, whole);
            for (p, &i) in group.iter().enumerate() {
                let scores = &whole[p * kpad..(p + 1) * kpad];
                hits[i] = self.pick(&tile[p * d..(p + 1) * d], x_norms[p], scores);
            }
        }
    }

    /// The two smallest scores of each row of `full` (whole tiles of [`ROWS`] rows, at most
    /// [`BLOCK_TILES`] of them) and the code of the smallest, the book scored one block of
    /// [`Codebook::block_slots`] codes at a time against all the tiles (`block` holds
    /// [`Codebook::block_len`] values).
    pub(super) fn block_two_smallest(&self, full: &[C], block: &mut [C]) -> Vec<(C, C, usize)> {
        let (d, kpad, slots) = (self.d, self.kpad, self.block_slots());
        let xts: Vec<Vec<[C; ROWS]>> = full
            .chunks_exact(ROWS * d)
            .map(|tile| transposed(tile, d))
            .collect();
        let mut two = vec![(C::INFINITY, C::INFINITY, 0); xts.len() * ROWS];
        for start in (0..kpad).step_by(slots) {
            let width = slots.min(kpad - start);
            let panels = &self.panels[start * d..(start + width) * d];
            let norms = &self.norms[start..start + width];
            let out = &mut block[..xts.len() * ROWS * width];
            tiles_scores(panels, norms, width, &xts, out);
            for (run, scores) in two.iter_mut().zip(out.chunks_exact(width)) {
                let (b1, b2, i) = two_smallest(scores);
                merge_two(run, (b1, b2, start + i));
            }
        }
        two
    }

    /// Scratch of [`Codebook::block_two_smallest`]: the scores of one block.
    pub(super) fn block_len(&self) -> usize {
        BLOCK_TILES * ROWS * self.block_slots()
    }

    /// Scores `|c|^2 - 2 x.c` of the [`ROWS`] rows of `x` against every code, into `out`
    /// (`ROWS` runs of `kpad`), and the rows' `|x|^2`.
    pub(super) fn scores(&self, x: &[C], out: &mut [C]) -> [C; ROWS] {
        let (panels, norms, kpad) = (&self.panels, &self.norms, self.kpad);
        tile_scores(panels, norms, kpad, self.d, x, (out, kpad))
    }

    /// Squared distance of `x` to code `j`, by the direct formula.
    #[inline(always)]
    pub fn sq_dist_to(&self, x: &[C], j: usize) -> C {
        sq_dist(x, &self.rows[j * self.d..(j + 1) * self.d])
    }

    /// Squared distances of `x` to the codes numbered in `codes`, into `out`, summed in
    /// SIMD lanes: equal to the direct formula's to within its rounding, not bit for bit.
    pub fn lane_sq_dists(&self, x: &[C], codes: &[u32], out: &mut [C]) {
        lane_sq_dists(x, &self.rows, codes, out);
    }

    /// The nearest code of `x` and its exact squared distance, from its approximate scores
    /// `|c|^2 - 2 x.c`. The best score is certain when the runner-up is further than twice
    /// the rounding bound of a score ([`margin`]); see [`Codebook::pick_within`].
    pub(super) fn pick(&self, x: &[C], x_norm: C, scores: &[C]) -> Hit<C> {
        let norms = (x_norm.to_f64(), self.max_norm.to_f64());
        let margin = margin(norms, self.d, C::EPSILON.to_f64());
        self.pick_within(x, norms.0, scores, margin)
    }

    /// The nearest code of `x` (`|x|^2` = `x_norm`) from `scores` of every code, each
    /// within half of `margin` of `|c|^2 - 2 x.c`: settled where the runner-up's score is
    /// further than `margin`; otherwise (near or exact ties, overflow, NaN) the codes within
    /// it of the best are measured with the exact direct formula ([`recheck`]), or every
    /// code where it cannot tell.
    pub(super) fn pick_within<N: Float>(
        &self,
        x: &[C],
        x_norm: f64,
        scores: &[N],
        margin: f64,
    ) -> Hit<C> {
        let (best, second, label) = two_smallest(scores);
        if let Some(bounds) = settle(best.to_f64(), second.to_f64(), x_norm, margin) {
            return hit(label, bounds);
        }
        let exact = |j| self.sq_dist_to(x, j);
        // (Measuring every code was 6% of `vq` of 10,000 x 64 float32 rows against 256
        // codes.)
        let near = |cut, codes: &mut Vec<usize>| split_at_cut(&scores[..self.k], cut, 0, codes);
        let every = || (0..self.k).collect();
        recheck((best.to_f64(), x_norm, margin), near, every, exact)
    }
}

/// Write `code` (`d` features) into slot `slot` of `panels` (laid out as
/// [`Codebook`]'s: slot `s` is lane `s % LANES` of panel `s / LANES`).
pub(super) fn to_panel<C: Float>(panels: &mut [C], slot: usize, code: &[C]) {
    let d = code.len();
    for (f, &v) in code.iter().enumerate() {
        panels[(slot / LANES * d + f) * LANES + slot % LANES] = v;
    }
}

/// `|c|^2` of `code`, raising `max` to it (a value that is not finite takes its place).
pub(super) fn code_norm<C: Float>(code: &[C], max: &mut C) -> C {
    let nn = code.iter().fold(C::ZERO, |s, &v| s + v * v);
    if !nn.is_finite() || nn > *max {
        *max = nn;
    }
    nn
}

/// Rows as a ranking book scored them, block by block ([`Codebook::block_two_smallest`]).
pub(super) struct Ranked<'a, N> {
    /// The rows as the book ranked them (row-major; `f32` roundings of `f64` rows).
    pub(super) rows: &'a [N],
    /// Each row's smallest and second smallest score and the code of the smallest.
    pub(super) two: &'a [(N, N, usize)],
    /// The book's largest squared code norm.
    pub(super) max_norm: f64,
    /// The relative rounding per operation of its scores (see [`super::bound::margin`]).
    pub(super) eps: f64,
}

/// `x` as `len` values: itself if it is that long, else (a last, partial tile) padded in
/// `buf` with copies of its first row (`d` values).
pub(super) fn padded_to<'a, C: Float>(
    x: &'a [C],
    len: usize,
    d: usize,
    buf: &'a mut Vec<C>,
) -> &'a [C] {
    if x.len() == len {
        return x;
    }
    buf.clear();
    buf.extend_from_slice(x);
    while buf.len() < len {
        buf.extend_from_slice(&x[..d]);
    }
    buf
}

/// Fold the smallest and second smallest scores of a later block of codes (`b1`, `b2`,
/// and the code of `b1`) into a row's running ones: the earlier code keeps a tie (which
/// leaves the best uncertain, as a tie does in a single pass).
fn merge_two<C: Float>(run: &mut (C, C, usize), (b1, b2, code): (C, C, usize)) {
    let (a1, a2, _) = *run;
    if b1 < a1 {
        *run = (b1, if a1 < b2 { a1 } else { b2 }, code);
    } else if b1 < a2 {
        run.1 = b1;
    }
}

/// [`dot_scores`] of the [`ROWS`] rows of `x`: `f64` rows in two tiles of half as many
/// (a tile of `ROWS x LANES` accumulators of `f64` would not fit the registers).
pub(super) fn tile_scores<C: Float>(
    panels: &[C],
    norms: &[C],
    kpad: usize,
    d: usize,
    x: &[C],
    (out, stride): (&mut [C], usize),
) -> [C; ROWS] {
    if !C::WIDE {
        return dot_scores::<C, ROWS>(panels, norms, kpad, d, x, (out, stride));
    }
    const HALF: usize = ROWS / 2;
    let mut x_norms = [C::ZERO; ROWS];
    for (h, xn) in x_norms.chunks_mut(HALF).enumerate() {
        let (x, out) = (&x[h * HALF * d..], &mut out[h * HALF * stride..]);
        xn.copy_from_slice(&dot_scores::<C, HALF>(
            panels,
            norms,
            kpad,
            d,
            x,
            (out, stride),
        ));
    }
    x_norms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::exact::brute;

    #[test]
    fn matches_brute_force_bitwise() {
        let mut next = crate::test_uniforms(12345);
        for &(n, k, d) in &[
            (1, 1, 1),
            (7, 3, 2),
            (50, 17, 4),
            (33, 40, 9),
            (5, 1, 70),
            (100, 16, 33),
            (70, 5, 6),
            // Blocks of exact distances in register tiles, whole and partial.
            (150, 40, 64),
            (70, 33, 12),
            // 320 products: the lane-dots kernel takes labels-only passes ranked in float32.
            (90, 8, 40),
        ] {
            let rows: Vec<f64> = (0..n * d).map(|_| next()).collect();
            let code: Vec<f64> = (0..k * d).map(|_| next()).collect();
            assert_matches_brute(&rows, &code, d);
        }
    }

    /// The kernel's labels and squared distances equal the brute-force ones, bit for bit.
    /// And asked for the labels alone (other kernels may rank), the same labels, with
    /// `best` bounding the exact distance from above.
    fn assert_matches_brute(rows: &[f64], code: &[f64], d: usize) {
        let (n, k) = (rows.len() / d, code.len() / d);
        let cb = Codebook::new(code, k, d);
        let expect = brute(rows, code, d);
        for exact in [true, false] {
            let mut hits = vec![Hit::default(); n];
            let mut scratch = vec![0.0; cb.scratch_len()];
            cb.nearest_rows(rows, &mut hits, &mut scratch, exact);
            for i in 0..n {
                assert_eq!(hits[i].label, expect[i].0, "row {i}, exact: {exact}");
                if exact {
                    assert_eq!(hits[i].best.to_bits(), expect[i].1.to_bits());
                } else {
                    assert!(hits[i].best >= expect[i].1 * (1.0 - 1e-12), "row {i}");
                }
                // `second` bounds every other code's distance from below (to rounding).
                let x = &rows[i * d..(i + 1) * d];
                for (j, c) in code.chunks(d).enumerate() {
                    if j as i32 != hits[i].label {
                        assert!(
                            hits[i].second <= sq_dist(x, c) * (1.0 + 1e-12),
                            "row {i} code {j}"
                        );
                    }
                }
            }
        }
    }

    /// A code book larger than [`BLOCKED_BOOK_BYTES`] scored block by block (or, where
    /// [`integer_ranking`] pays, tile by tile in integers): labels and distances equal
    /// those of a brute-force comparison in `f32`, bit for bit, across
    /// partial blocks of rows and codes, with exact ties (duplicated codes, which send
    /// their rows back to the whole-book scoring) and rows midway between two codes, in
    /// the first and the second run of rows (gathered into the same tiles).
    #[test]
    fn blocked_book_matches_brute_force_bitwise() {
        let mut next = crate::test_uniforms(77);
        let (k, d) = (1100, 260);
        let mut code: Vec<f32> = (0..k * d).map(|_| next() as f32).collect();
        // Code 1099 repeats code 500: rows near code 500 tie exactly.
        code.copy_within(500 * d..501 * d, 1099 * d);
        let mut rows: Vec<f32> = (0..100 * d).map(|_| next() as f32).collect();
        for j in [3usize, 500, 640, 1098] {
            rows.extend(code[j * d..(j + 1) * d].iter().map(|v| v + 1e-3));
            let (a, b) = (&code[j * d..(j + 1) * d], &code[(j - 1) * d..j * d]);
            rows.extend(a.iter().zip(b).map(|(a, b)| (a + b) / 2.0));
        }
        rows.rotate_right(4 * d);
        let cb = Codebook::new(&code, k, d);
        assert!(cb.blocked() && cb.block_slots() < cb.kpad);
        assert_matches_brute_f32(&rows, &code, d);
    }

    /// `f32` rows and codes ranked by integer products (where [`integer_ranking`] pays;
    /// else by the `f32` kernel), and `f64` ones through their `f32` rounding: near the
    /// origin and far from it (1,000 away, where the integers resolve the codes coarsely),
    /// exact ties and midpoints included.
    #[test]
    fn integer_ranked_book_matches_brute_force_bitwise() {
        let mut next = crate::test_uniforms(79);
        // And values near 1e-20, whose squares are subnormal in `f32`: the product of a
        // row's scale and the book's is below `f32`'s normal range, and the tiles are
        // ranked in `f32` (in `f64`, such values are not narrowed).
        for (k, d, offset, scale) in [
            (100, 33, 0.0, 1.0),
            (300, 70, 0.0, 1.0),
            (100, 33, 1e3, 1.0),
            (80, 65, 1e3, 1.0),
            (100, 64, 0.0, 1e-20),
        ] {
            let mut value = || (offset + next()) * scale;
            let (code, rows) = ties_and_midpoints(k, d, &mut value);
            let cb = Codebook::new(&code, k, d);
            let integers = integer_ranking(d) && scale == 1.0;
            assert_eq!(cb.integer_book().is_some(), integers);
            assert_matches_brute(&rows, &code, d);
            let (code, rows) = ties_and_midpoints(k, d, || value() as f32);
            let cb = Codebook::new(&code, k, d);
            assert_eq!(cb.quant.is_some(), integer_ranking(d));
            assert_matches_brute_f32(&rows, &code, d);
        }
    }

    /// `k` codes of `d` features drawn by `value`, the last a copy of code 7, and rows: 50
    /// drawn, then for codes 1, 7 and `k - 2` a copy of the code and the midpoint between
    /// it and the next code.
    fn ties_and_midpoints<C: Float>(
        k: usize,
        d: usize,
        mut value: impl FnMut() -> C,
    ) -> (Vec<C>, Vec<C>) {
        let mut code: Vec<C> = (0..k * d).map(|_| value()).collect();
        code.copy_within(7 * d..8 * d, (k - 1) * d);
        let mut rows: Vec<C> = (0..50 * d).map(|_| value()).collect();
        for j in [1usize, 7, k - 2] {
            rows.extend_from_slice(&code[j * d..(j + 1) * d]);
            let (a, b) = (&code[j * d..(j + 1) * d], &code[(j + 1) * d..(j + 2) * d]);
            let half = C::from_f64(0.5);
            rows.extend(a.iter().zip(b).map(|(&a, &b)| (a + b) * half));
        }
        (code, rows)
    }

    /// [`assert_matches_brute`] for `f32`: labels and distances (asked for) those of a
    /// brute-force comparison by the direct formula in `f32`, bit for bit, and the bounds
    /// bounds (to a relative 1e-5).
    fn assert_matches_brute_f32(rows: &[f32], code: &[f32], d: usize) {
        let (n, k) = (rows.len() / d, code.len() / d);
        let cb = Codebook::new(code, k, d);
        for exact in [true, false] {
            let mut hits = vec![Hit::default(); n];
            let mut scratch = vec![0.0; cb.scratch_len()];
            cb.nearest_rows(rows, &mut hits, &mut scratch, exact);
            for (i, x) in rows.chunks(d).enumerate() {
                let dists: Vec<f32> = code.chunks(d).map(|c| sq_dist(x, c)).collect();
                let best = dists.iter().copied().fold(f32::INFINITY, f32::min);
                let label = dists.iter().position(|&v| v == best).unwrap();
                assert_eq!(hits[i].label as usize, label, "row {i}");
                if exact {
                    assert_eq!(hits[i].best.to_bits(), best.to_bits(), "row {i}");
                } else {
                    assert!(hits[i].best >= best * (1.0 - 1e-5), "row {i}");
                }
                let others = dists.iter().enumerate().filter(|&(j, _)| j != label);
                let second = others.map(|(_, &v)| v).fold(f32::INFINITY, f32::min);
                assert!(hits[i].second <= second * (1.0 + 1e-5), "row {i}");
            }
        }
    }

    #[test]
    fn narrowed_book_in_blocks_matches_brute_force_bitwise() {
        // f64 codes whose f32 panels outgrow the cache: ranked in f32 block by block, the
        // uncertain rows (ties, midpoints; in the first run and the third) ranked again in
        // f64.
        let mut next = crate::test_uniforms(78);
        let (k, d) = (1100, 260);
        let mut code: Vec<f64> = (0..k * d).map(|_| next()).collect();
        code.copy_within(500 * d..501 * d, 1099 * d);
        let mut rows: Vec<f64> = (0..150 * d).map(|_| next()).collect();
        for j in [3usize, 500, 640, 1098] {
            rows.extend(code[j * d..(j + 1) * d].iter().map(|v| v + 1e-9));
            let (a, b) = (&code[j * d..(j + 1) * d], &code[(j - 1) * d..j * d]);
            rows.extend(a.iter().zip(b).map(|(a, b)| (a + b) / 2.0));
        }
        rows.rotate_right(4 * d);
        // A value f32 cannot hold to half its epsilon: that run of rows is ranked in f64.
        rows[120 * d + 7] = 1e-70;
        let cb = Codebook::new(&code, k, d);
        let narrow = cb.narrow.as_deref().expect("a narrowed book");
        assert!(!cb.blocked() && narrow.blocked());
        assert_matches_brute(&rows, &code, d);
    }

    #[test]
    fn dot_path_matches_exact_argmin_on_near_ties() {
        let d = 8;
        let mut code = Vec::new();
        for j in 0..40 {
            for f in 0..d {
                code.push(((j * 7 + f * 3) % 11) as f64 * 0.25 + 1e6);
            }
        }
        // Exact duplicates of codes and points between two codes (near and exact ties).
        let mut rows = code[..5 * d].to_vec();
        rows.extend(
            code[7 * d..8 * d]
                .iter()
                .zip(&code[9 * d..10 * d])
                .map(|(a, b)| (a + b) / 2.0),
        );
        let code = [code.clone(), code[..3 * d].to_vec()].concat();
        assert_matches_brute(&rows, &code, d);
    }

    #[test]
    fn narrowed_ranking_falls_back_where_f32_cannot_tell() {
        // The dot-product kernel (80 codes), and the lane-dots one (16 codes of 40 features).
        for (pairs, d) in [(40, 6), (8, 40)] {
            narrowed_ranking_falls_back(pairs, d);
        }
    }

    fn narrowed_ranking_falls_back(pairs: usize, d: usize) {
        let mut next = crate::test_uniforms(5);
        // Pairs of codes closer than f32 can resolve (1e-9 apart relative to their values),
        // and rows just nearer to one or the other.
        let mut code = Vec::new();
        for j in 0..pairs {
            let base: Vec<f64> = (0..d).map(|_| 100.0 * next()).collect();
            code.extend(&base);
            code.extend(base.iter().map(|v| v + 1e-7 * (j as f64 + 1.0)));
        }
        let mut rows = Vec::new();
        for pair in code.chunks(2 * d) {
            for t in [0.49, 0.51, 0.5] {
                rows.extend(
                    pair[..d]
                        .iter()
                        .zip(&pair[d..])
                        .map(|(a, b)| a + t * (b - a)),
                );
            }
            // And a row far from every code, which f32 settles on its own.
            rows.extend(pair[..d].iter().map(|v| v + 3.0));
        }
        let cb = Codebook::new(&code, code.len() / d, d);
        assert!(cb.narrow.is_some());
        assert_matches_brute(&rows, &code, d);
        // Values f32 cannot hold (or hold only as subnormals) keep the whole f64 path.
        for scale in [1e-30, 1e30] {
            let scaled: Vec<f64> = code.iter().map(|v| v * scale).collect();
            let cb = Codebook::new(&scaled, code.len() / d, d);
            assert!(cb.narrow.is_none());
            let rows: Vec<f64> = rows.iter().map(|v| v * scale).collect();
            assert_matches_brute(&rows, &scaled, d);
            // Rows out of range against codes in range are ranked in f64 as well.
            assert_matches_brute(&rows, &code, d);
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index_and_nan_to_zero() {
        let cb = Codebook::new(&[1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0], 3, 2);
        let mut hits = vec![
            Hit {
                label: 9,
                best: 0.0,
                second: 0.0
            };
            2
        ];
        let mut scratch = vec![0.0; cb.scratch_len()];
        cb.nearest_rows(&[0.0, 0.0, f32::NAN, 0.0], &mut hits, &mut scratch, true);
        assert_eq!((hits[0].label, hits[1].label), (0, 0));
        assert_eq!((hits[0].best, hits[0].second), (2.0, 2.0));
        assert!(hits[1].best.is_infinite());
    }
}
