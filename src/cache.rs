//! A hint to the CPU's caches, for kernels whose next reads the hardware prefetchers do not
//! foresee.

/// Ask the CPU to bring `v` into cache ahead of its use.
#[inline(always)]
pub(crate) fn prefetch<T>(v: &[T]) {
    for line in (0..std::mem::size_of_val(v)).step_by(64) {
        prefetch_line(v.as_ptr().cast::<u8>().wrapping_add(line));
    }
}

/// Ask the CPU to bring the cache line holding `p` into cache ahead of its use. `p` need
/// not point into memory the program may read: a prefetch is a hint and never faults.
#[inline(always)]
pub(crate) fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch neither reads nor faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch_line`] into the L2 cache, leaving L1 to the data in use.
#[inline(always)]
pub(crate) fn prefetch_line_l2<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        // SAFETY: a prefetch neither reads nor faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
