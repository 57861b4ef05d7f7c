//! Worker threads and deterministic chunked work.
//!
//! Rows are cut into chunks of a fixed size that does not depend on the number of
//! threads; chunks run in parallel and their partial results are folded in chunk order.
//! Results are therefore bit-identical for any thread count. Between groups of chunks the
//! coordinating thread asks the caller's [`Control`] whether to go on (Ctrl-C, progress).

use crate::error::{Error, Result};
use rayon::prelude::*;
use rayon::ThreadPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Rows per chunk: the unit of parallel work and of reduction order.
pub const CHUNK_ROWS: usize = 2048;

/// Chunks run between two checks of [`Control`]; also bounds the partial results held.
const GROUP_CHUNKS: usize = 64;

/// A caller's hook, asked between units of work whether to continue, and told of progress.
pub trait Control: Sync {
    /// Return `Err` (normally [`Error::Interrupted`]) to stop the computation.
    fn check(&self) -> Result<()>;

    /// Called on the coordinating thread after each Lloyd iteration with its number
    /// (from 1) and how many rows were compared with other codes than their own (the others
    /// were settled by their distance bounds). Return `Err` to stop.
    fn iteration(&self, _iteration: usize, _scanned: usize) -> Result<()> {
        Ok(())
    }
}

/// A [`Control`] that never stops anything.
pub struct NoControl;

impl Control for NoControl {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// Where and how the heavy work runs: a thread pool (or the calling thread alone) and a
/// control hook.
pub struct Exec<'a> {
    pool: Option<Arc<ThreadPool>>,
    control: &'a dyn Control,
}

/// A thread count set at run time (threadpoolctl's `threadpool_limits`); 0 for none.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Set (`Some`) or clear (`None`) the run-time limit [`default_threads`] obeys first.
pub fn set_thread_limit(limit: Option<usize>) {
    LIMIT.store(limit.unwrap_or(0), Ordering::Relaxed);
}

/// The thread count used when the caller does not give one: the run-time limit if set
/// ([`set_thread_limit`]), else `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS` (its first
/// level: what joblib's and Dask's worker processes set to keep nested pools from
/// oversubscribing the cores), each if a positive integer, else every available core.
pub fn default_threads() -> usize {
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit > 0 {
        return limit;
    }
    env_threads("RAYON_NUM_THREADS")
        .or_else(|| env_threads("OMP_NUM_THREADS"))
        .unwrap_or_else(cores)
}

/// A positive thread count from the environment variable `name` (a list such as
/// `OMP_NUM_THREADS=4,2` gives its first entry).
fn env_threads(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    v.split(',')
        .next()?
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|&t| t > 0)
}

/// The cores this process may use, read once: `available_parallelism` reads the cgroup
/// quota files on every call (measured: ~40 us, the most of a small call).
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Pools are kept per (process id, thread count). A child created by `fork` inherits the
/// map but none of the threads, so it must never use its parent's pools: keying by pid
/// makes the child build its own, and the parent's entries are leaked, never joined.
fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    type Pools = Mutex<HashMap<(u32, usize), Arc<ThreadPool>>>;
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let pid = std::process::id();
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = pools
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if map.keys().any(|&(p, _)| p != pid) {
        let stale: Vec<_> = map.keys().copied().filter(|&(p, _)| p != pid).collect();
        for key in stale {
            if let Some(pool) = map.remove(&key) {
                std::mem::forget(pool);
            }
        }
    }
    if let Some(p) = map.get(&(pid, threads)) {
        return Ok(Arc::clone(p));
    }
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferrovq-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool(e.to_string()))?;
    let built = Arc::new(built);
    map.insert((pid, threads), Arc::clone(&built));
    Ok(built)
}

impl<'a> Exec<'a> {
    /// An executor with `threads` workers (`None`: [`default_threads`]). One worker is the
    /// calling thread itself, with no pool to hand the work to.
    pub fn new(threads: Option<usize>, control: &'a dyn Control) -> Result<Self> {
        let threads = threads.unwrap_or_else(default_threads).max(1);
        if threads == 1 {
            return Ok(Exec::on_caller(control));
        }
        Ok(Exec {
            pool: Some(pool(threads)?),
            control,
        })
    }

    /// An executor that runs everything on the calling thread: for work too short to be
    /// worth waking a pool (a hand-off costs tens of microseconds). The results are those
    /// of any thread count.
    pub fn on_caller(control: &'a dyn Control) -> Self {
        Exec {
            pool: None,
            control,
        }
    }

    /// An executor with `threads` workers that never stops: for tests and Rust callers.
    pub fn with_threads(threads: usize) -> Result<Exec<'static>> {
        Exec::new(Some(threads), &NoControl)
    }

    /// Ask the control hook whether to go on.
    pub fn check(&self) -> Result<()> {
        self.control.check()
    }

    /// Report a finished Lloyd iteration to the control hook.
    pub fn iteration(&self, iteration: usize, scanned: usize) -> Result<()> {
        self.control.iteration(iteration, scanned)
    }

    /// `f` given an executor with the same threads and the same [`Control::check`] that
    /// reports no iterations: for a run inside a run (grouping a run's codes), whose
    /// iterations are not the caller's.
    pub(crate) fn quietly<R>(&self, f: impl FnOnce(&Exec) -> R) -> R {
        struct Quiet<'c>(&'c dyn Control);
        impl Control for Quiet<'_> {
            fn check(&self) -> Result<()> {
                self.0.check()
            }
        }
        let quiet = Quiet(self.control);
        f(&Exec {
            pool: self.pool.clone(),
            control: &quiet,
        })
    }

    /// `f` of every item, in parallel in the pool, returned in the items' order. Without a
    /// pool, or for a single item, on the calling thread: waking a worker for one item
    /// gains nothing and costs the hand-off (measured: `vq` of 1,000 x 64 against 4 codes,
    /// one chunk, took 140 us through the pool and 50 us on the calling thread).
    pub fn map<T: Send, R: Send>(&self, items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
        match &self.pool {
            Some(pool) if items.len() > 1 => {
                pool.install(|| items.into_par_iter().map(f).collect())
            }
            _ => items.into_iter().map(f).collect(),
        }
    }

    /// Split `n` rows into chunks of [`CHUNK_ROWS`], run `map` on each chunk in parallel and
    /// pass the results to `fold` in chunk order. `map` gets the chunk's first row and its
    /// slices of the two per-row outputs `a` and `b`; an output of length 0 is not wanted
    /// and every chunk gets an empty slice of it.
    pub fn chunks<A, B, T>(
        &self,
        n: usize,
        a: &mut [A],
        b: &mut [B],
        map: impl Fn(usize, &mut [A], &mut [B]) -> T + Sync,
        fold: impl FnMut(T),
    ) -> Result<()>
    where
        A: Send,
        B: Send,
        T: Send,
    {
        self.chunks_of(CHUNK_ROWS, n, a, b, map, fold)
    }

    /// The sum of `f(i)` over the rows `0..n`: in row order within each chunk of
    /// [`CHUNK_ROWS`] rows (the chunks in parallel), the chunks' sums added in chunk
    /// order, so that the result does not depend on the thread count.
    pub fn sum_rows(&self, n: usize, f: impl Fn(usize) -> f64 + Sync) -> Result<f64> {
        let mut total = 0.0;
        self.chunks(
            n,
            &mut [] as &mut [u8],
            &mut [] as &mut [u8],
            |first, _, _| (first..n.min(first + CHUNK_ROWS)).map(&f).sum::<f64>(),
            |part| total += part,
        )?;
        Ok(total)
    }

    /// [`Exec::chunks`] with chunks of `rows` rows: for work whose result does not depend
    /// on where the chunks end (each row on its own), smaller chunks share the rows out more
    /// evenly among the threads.
    pub fn chunks_of<A, B, T>(
        &self,
        rows: usize,
        n: usize,
        a: &mut [A],
        b: &mut [B],
        map: impl Fn(usize, &mut [A], &mut [B]) -> T + Sync,
        fold: impl FnMut(T),
    ) -> Result<()>
    where
        A: Send,
        B: Send,
        T: Send,
    {
        self.chunks_wide(rows, n, a, (b, 1), map, fold)
    }

    /// [`Exec::chunks_of`] where `b` holds `width` values per row (each chunk gets
    /// `rows * width` of them).
    pub(crate) fn chunks_wide<A, B, T>(
        &self,
        rows: usize,
        n: usize,
        a: &mut [A],
        (b, width): (&mut [B], usize),
        map: impl Fn(usize, &mut [A], &mut [B]) -> T + Sync,
        mut fold: impl FnMut(T),
    ) -> Result<()>
    where
        A: Send,
        B: Send,
        T: Send,
    {
        let rows = rows.max(1);
        let nchunks = n.div_ceil(rows);
        let mut pieces = split_rows(a, rows, nchunks)
            .zip(split_rows(b, rows * width.max(1), nchunks))
            .enumerate()
            .map(|(c, (sa, sb))| (c * rows, sa, sb));
        loop {
            let group: Vec<_> = pieces.by_ref().take(GROUP_CHUNKS).collect();
            if group.is_empty() {
                break;
            }
            self.check()?;
            let parts = self.map(group, |(first, sa, sb)| map(first, sa, sb));
            parts.into_iter().for_each(&mut fold);
        }
        Ok(())
    }
}

/// `nchunks` slices of `rows` rows of a per-row output, or `nchunks` empty slices if it is
/// empty.
fn split_rows<O>(out: &mut [O], rows: usize, nchunks: usize) -> impl Iterator<Item = &mut [O]> {
    let wanted = !out.is_empty();
    let mut chunks = out.chunks_mut(rows);
    (0..nchunks).map(move |_| {
        if wanted {
            chunks.next().unwrap_or_default()
        } else {
            &mut [][..]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_fold_in_order_for_any_thread_count() {
        let n = 3 * CHUNK_ROWS * GROUP_CHUNKS + 17;
        for threads in [1, 2, 4] {
            let exec = Exec::with_threads(threads).unwrap();
            let mut out = vec![0u32; n];
            let mut firsts = Vec::new();
            exec.chunks(
                n,
                &mut out,
                &mut [0u8; 0],
                |first, s, none| {
                    assert!(none.is_empty());
                    for (i, v) in s.iter_mut().enumerate() {
                        *v = (first + i) as u32;
                    }
                    first
                },
                |f| firsts.push(f),
            )
            .unwrap();
            assert!(out.iter().enumerate().all(|(i, &v)| v as usize == i));
            let expected: Vec<usize> = (0..n.div_ceil(CHUNK_ROWS))
                .map(|c| c * CHUNK_ROWS)
                .collect();
            assert_eq!(firsts, expected);
        }
    }

    #[test]
    fn row_indices_are_64_bit() {
        // More rows than an i32 can count; the outputs are not wanted, so nothing is
        // allocated per row and only the chunks' first rows are seen.
        let n = (1usize << 31) + 3 * CHUNK_ROWS + 7;
        let exec = Exec::with_threads(2).unwrap();
        let (mut last, mut count) = (0usize, 0usize);
        exec.chunks(
            n,
            &mut [0u8; 0],
            &mut [0u8; 0],
            |first, _, _| first,
            |f| {
                last = f;
                count += 1;
            },
        )
        .unwrap();
        assert_eq!(count, n.div_ceil(CHUNK_ROWS));
        assert_eq!(last, (count - 1) * CHUNK_ROWS);
        assert!(last > i32::MAX as usize);
    }

    #[test]
    fn control_stops_the_work() {
        struct Stop;
        impl Control for Stop {
            fn check(&self) -> Result<()> {
                Err(Error::Interrupted)
            }
        }
        let exec = Exec::new(Some(2), &Stop).unwrap();
        let mut out = vec![0u8; 10];
        let r = exec.chunks(10, &mut out, &mut [0u8; 0], |_, _, _| (), |_| ());
        assert_eq!(r, Err(Error::Interrupted));
    }
}
