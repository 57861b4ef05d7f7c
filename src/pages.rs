//! Fresh large buffers backed by transparent huge pages where the kernel gives them only on
//! request (Linux's `madvise` mode, as on this project's machines; numpy asks the same for
//! its large arrays). A buffer of tens of megabytes otherwise takes one page fault per
//! 4 KiB when first written, which cost more than the work that fills it.

/// Zeros, `len` of them, in memory not yet touched: where `len` values span whole huge
/// pages, the kernel is asked to back those with huge pages when they are first written.
pub(crate) fn zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let mut v = vec![T::default(); len];
    advise(&mut v);
    v
}

/// `len` copies of `value`, written into memory advised as [`zeroed`]'s is before the
/// first write.
pub(crate) fn filled<T: Clone>(len: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    advise(v.spare_capacity_mut());
    v.resize(len, value);
    v
}

#[cfg(target_os = "linux")]
fn advise<T>(v: &mut [T]) {
    const HUGE: usize = 2 << 20;
    let start = v.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(v);
    let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if last > first {
        // SAFETY: the range lies within `v`'s allocation; the advice changes how its pages
        // are backed, never their contents (and it may be declined: the result is ignored).
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            )
        };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise<T>(_: &mut [T]) {}

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_hold_what_was_asked_at_any_size() {
        for len in [0, 1, 1000, (5 << 20) / 8 + 3] {
            let v: Vec<f64> = super::zeroed(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
            let v = super::filled(len, (7u32, -1.5f32));
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == (7, -1.5)));
        }
    }
}
