//! The thread limit as C functions, so that threadpoolctl can read and set it like an
//! OpenMP or BLAS library's (`threadpool_limits(1)` around a call, or a joblib or Dask
//! worker's limits): `ferrovq._threads` registers the controller that calls them.

use std::os::raw::c_int;

/// The number of threads a call without `workers` uses.
#[no_mangle]
pub extern "C" fn ferrovq_get_num_threads() -> c_int {
    c_int::try_from(crate::parallel::default_threads()).unwrap_or(c_int::MAX)
}

/// Limit calls without `workers` to `n` threads (`n < 1`: clear the limit).
#[no_mangle]
pub extern "C" fn ferrovq_set_num_threads(n: c_int) {
    crate::parallel::set_thread_limit(usize::try_from(n).ok().filter(|&n| n > 0));
}
