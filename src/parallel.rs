//! Worker threads and deterministic chunked work.
//!
//! Rows are cut into chunks of a fixed size that does not depend on the number of
//! threads; chunks run in parallel and their partial results are folded in chunk order.
//! Results are therefore bit-identical for any thread count. Between groups of chunks the
//! coordinating thread asks the caller's [`Control`] whether to go on (Ctrl-C, progress).

use crate::error::{Error, Result};
use rayon::prelude::*;
use rayon::ThreadPool;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};

/// Rows per chunk: the unit of parallel work and of reduction order.
pub const CHUNK_ROWS: usize = 2048;

/// Chunks run between two checks of [`Control`]; also bounds the partial results held
/// where chunks go in groups.
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
    let mut map = lock(pools);
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
        self.sum_chunks(n, |rows| rows.map(&f).sum::<f64>())
    }

    /// The sum of `f(rows)` over the chunks of [`CHUNK_ROWS`] rows of `0..n` (in
    /// parallel), added in chunk order: for a sum that [`Exec::sum_rows`] would make, where
    /// a chunk's rows are better measured together (`f` then sums them in row order).
    pub fn sum_chunks(
        &self,
        n: usize,
        f: impl Fn(std::ops::Range<usize>) -> f64 + Sync,
    ) -> Result<f64> {
        let mut total = 0.0;
        self.chunks(
            n,
            &mut [] as &mut [u8],
            &mut [] as &mut [u8],
            |first, _, _| f(first..n.min(first + CHUNK_ROWS)),
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
        let work = |(first, sa, sb)| map(first, sa, sb);
        match &self.pool {
            // Called from a pool's own thread (work inside work), the coordinator would
            // hold a worker while it waits: there the chunks go in groups.
            Some(pool) if nchunks > 1 && rayon::current_thread_index().is_none() => {
                self.streamed(pool, pieces, work, fold)
            }
            _ => loop {
                let group: Vec<_> = pieces.by_ref().take(GROUP_CHUNKS).collect();
                if group.is_empty() {
                    return Ok(());
                }
                self.check()?;
                self.map(group, work).into_iter().for_each(&mut fold);
            },
        }
    }

    /// `work` of every piece, each result passed to `fold` in the pieces' order as soon as
    /// those before it are folded. The calling thread works and folds; the pool's other
    /// threads work and hand their results over. Pieces are taken in order and at most
    /// [`AHEAD_PER_THREAD`] per thread ahead of the fold, so the results held at once stay
    /// few whatever the number of pieces (a chunk's result can be as large as the code
    /// book). Nobody waits unless a thread runs that far ahead.
    fn streamed<P: Send, T: Send>(
        &self,
        pool: &ThreadPool,
        pieces: impl Iterator<Item = P> + Send,
        work: impl Fn(P) -> T + Sync,
        mut fold: impl FnMut(T),
    ) -> Result<()> {
        self.check()?;
        let threads = pool.current_num_threads();
        let queue = Mutex::new(Queue {
            pieces,
            taken: 0,
            folded: 0,
            ahead: AHEAD_PER_THREAD * threads,
            waiting: 0,
            stop: false,
        });
        let moved = Condvar::new();
        let (sender, results) = mpsc::channel::<(usize, T)>();
        let mut outcome = Ok(());
        pool.in_place_scope(|scope| {
            for _ in 1..threads {
                let (sender, queue, moved, work) = (sender.clone(), &queue, &moved, &work);
                scope.spawn(move |_| {
                    // A panicking thread stops the others (its piece will never be folded,
                    // so they could wait for it for ever); the scope then re-raises it.
                    let _stop = StopOnPanic(queue, moved);
                    loop {
                        let (c, piece) = match Queue::take(queue, Some(moved)) {
                            Taken::Piece(c, piece) => (c, piece),
                            Taken::Wait | Taken::Done => return,
                        };
                        if sender.send((c, work(piece))).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(sender);
            // A panic here (in `work` or `fold`) must not leave the threads waiting.
            let _stop = StopOnPanic(&queue, &moved);
            let mut done = BTreeMap::new();
            let mut next = 0;
            loop {
                match Queue::take(&queue, None) {
                    Taken::Piece(c, piece) => {
                        done.insert(c, work(piece));
                    }
                    // The piece the fold needs is on another thread (or every piece is
                    // taken): wait for results; none left once every thread has stopped.
                    Taken::Wait | Taken::Done => match results.recv() {
                        Ok((c, result)) => {
                            done.insert(c, result);
                        }
                        Err(_) => break,
                    },
                }
                done.extend(results.try_iter());
                let from = next;
                while let Some(result) = done.remove(&next) {
                    if outcome.is_err() {
                        break;
                    }
                    fold(result);
                    next += 1;
                    if next % GROUP_CHUNKS == 0 {
                        outcome = self.check();
                    }
                }
                if next > from || outcome.is_err() {
                    let mut q = lock(&queue);
                    q.folded = next;
                    q.stop |= outcome.is_err();
                    if q.waiting > 0 {
                        moved.notify_all();
                    }
                }
            }
        });
        outcome
    }
}

/// Pieces taken at most this many per thread ahead of the fold ([`Exec::streamed`]): two
/// keep every thread busy when pieces take unequal times.
const AHEAD_PER_THREAD: usize = 2;

/// The pieces of [`Exec::streamed`] not yet taken, and how far the fold has come.
struct Queue<I> {
    pieces: I,
    /// Pieces taken so far.
    taken: usize,
    /// Results folded so far.
    folded: usize,
    /// How many pieces may be taken beyond those folded.
    ahead: usize,
    /// Threads waiting for the fold to move on.
    waiting: usize,
    /// Set when the work stops early (an error, or a panic on a thread).
    stop: bool,
}

/// What [`Queue::take`] gives.
enum Taken<P> {
    /// The next piece and its index.
    Piece(usize, P),
    /// None now: the fold is too far behind (only without a condition variable to wait on).
    Wait,
    /// None left, or the work stops.
    Done,
}

impl<I: Iterator> Queue<I> {
    /// The next piece, once the fold is close enough behind: waiting for it on `moved` if
    /// given, else [`Taken::Wait`] at once.
    fn take(queue: &Mutex<Self>, moved: Option<&Condvar>) -> Taken<I::Item> {
        let mut q = lock(queue);
        while !q.stop && q.taken >= q.folded + q.ahead {
            let Some(moved) = moved else {
                return Taken::Wait;
            };
            q.waiting += 1;
            q = moved
                .wait(q)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            q.waiting -= 1;
        }
        if q.stop {
            return Taken::Done;
        }
        match q.pieces.next() {
            Some(piece) => {
                q.taken += 1;
                Taken::Piece(q.taken - 1, piece)
            }
            None => Taken::Done,
        }
    }
}

/// Stops a [`Queue`]'s work when dropped during a panic (of a thread, or of the caller).
struct StopOnPanic<'q, I>(&'q Mutex<Queue<I>>, &'q Condvar);

impl<I> Drop for StopOnPanic<'_, I> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.0).stop = true;
            self.1.notify_all();
        }
    }
}

/// The mutex's value, also after a thread panicked holding it (the pools' map and the
/// queue stay consistent: a panic never happens between their changes).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    fn chunks_run_few_ahead_of_the_fold() {
        // The first chunk is slow: the other threads may run only a few chunks ahead of
        // it, whatever the number of chunks, so few results are held at once.
        use std::sync::atomic::AtomicUsize;
        let n = 200 * CHUNK_ROWS;
        for threads in [2, 3] {
            let exec = Exec::with_threads(threads).unwrap();
            let (held, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let mut folded = Vec::new();
            exec.chunks(
                n,
                &mut [0u8; 0],
                &mut [0u8; 0],
                |first, _, _| {
                    if first == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    first
                },
                |first| {
                    held.fetch_sub(1, Ordering::SeqCst);
                    folded.push(first);
                },
            )
            .unwrap();
            assert!(folded.iter().enumerate().all(|(c, &f)| f == c * CHUNK_ROWS));
            assert_eq!(folded.len(), 200);
            let most = most.into_inner();
            assert!(most <= AHEAD_PER_THREAD * threads, "{most} results held");
        }
    }

    #[test]
    fn a_panicking_chunk_reaches_the_caller() {
        // Whichever thread runs the chunk that panics, the others stop and the panic comes
        // back to the caller, who can go on using the executor.
        let exec = Exec::with_threads(2).unwrap();
        for bad in [0, 1, 5, 99] {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                exec.chunks(
                    100 * CHUNK_ROWS,
                    &mut [0u8; 0],
                    &mut [0u8; 0],
                    |first, _, _| assert!(first != bad * CHUNK_ROWS, "deliberate"),
                    |()| (),
                )
            }));
            assert!(run.is_err(), "chunk {bad}");
        }
        let mut count = 0;
        exec.chunks(
            10 * CHUNK_ROWS,
            &mut [0u8; 0],
            &mut [0u8; 0],
            |_, _, _| (),
            |()| count += 1,
        )
        .unwrap();
        assert_eq!(count, 10);
    }

    #[test]
    fn control_stops_the_work_between_groups_of_chunks() {
        // The second check fails: the chunks folded are those of the first group.
        struct Once(AtomicUsize);
        impl Control for Once {
            fn check(&self) -> Result<()> {
                match self.0.fetch_add(1, Ordering::SeqCst) {
                    0 => Ok(()),
                    _ => Err(Error::Interrupted),
                }
            }
        }
        let control = Once(AtomicUsize::new(0));
        let exec = Exec::new(Some(2), &control).unwrap();
        let mut folded = 0;
        let n = 10 * GROUP_CHUNKS * CHUNK_ROWS;
        let r = exec.chunks(
            n,
            &mut [0u8; 0],
            &mut [0u8; 0],
            |_, _, _| (),
            |()| folded += 1,
        );
        assert_eq!(r, Err(Error::Interrupted));
        assert_eq!(folded, GROUP_CHUNKS);
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
