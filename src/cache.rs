//! A hint to the CPU's caches, for kernels whose next reads the hardware prefetchers do not
//! foresee.

/// Which cache a prefetch fills: every level down to L1 (x86's `_MM_HINT_T0`).
pub(crate) const TO_L1: i32 = 3;

/// Which cache a prefetch fills: L2 and below, leaving L1 to the data in use
/// (`_MM_HINT_T1`).
pub(crate) const TO_L2: i32 = 2;

/// Ask the CPU to bring `v` into cache (down to L1) ahead of its use.
#[inline(always)]
pub(crate) fn prefetch<T>(v: &[T]) {
    for line in (0..std::mem::size_of_val(v)).step_by(64) {
        prefetch_line::<TO_L1, u8>(v.as_ptr().cast::<u8>().wrapping_add(line));
    }
}

/// Ask the CPU to bring the cache line holding `p` into cache `LEVEL` ([`TO_L1`] or
/// [`TO_L2`]) ahead of its use. `p` need not point into memory the program may read: a
/// prefetch is a hint and never faults.
#[inline(always)]
pub(crate) fn prefetch_line<const LEVEL: i32, T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::_mm_prefetch;
        // SAFETY: a prefetch neither reads nor faults, whatever the address.
        unsafe { _mm_prefetch::<LEVEL>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
