//! The SIMD targets of the kernels, in one place.

/// Compile the function it wraps once per SIMD target (AVX-512, AVX2 with FMA, NEON) and
/// once for the baseline of the target architecture, and pick the best the CPU has at run
/// time. With the `portable` feature the pick is made at compile time from the enabled
/// target features instead, which without `-C target-cpu` is the baseline: the portable
/// path every other architecture runs, tested on this one (`cargo test --features
/// portable`). The arithmetic is written the same for every target, so the results are too.
macro_rules! simd {
    ($(#[$meta:meta])* $vis:vis fn $($rest:tt)*) => {
        $(#[$meta])*
        #[cfg_attr(
            not(feature = "portable"),
            multiversion::multiversion(targets(
                "x86_64+avx512f+avx512vl+avx2+avx+fma",
                "x86_64+avx2+avx+fma",
                "aarch64+neon"
            ))
        )]
        #[cfg_attr(
            feature = "portable",
            multiversion::multiversion(
                targets(
                    "x86_64+avx512f+avx512vl+avx2+avx+fma",
                    "x86_64+avx2+avx+fma",
                    "aarch64+neon"
                ),
                dispatcher = "static"
            )
        )]
        $vis fn $($rest)*
    };
}

#[cfg(test)]
mod tests {
    simd! {
        /// Whether the build of this function that runs is one with AVX2.
        fn runs_with_avx2() -> bool {
            #[multiversion::target::target_cfg(target_feature = "avx2")]
            fn avx2() -> bool {
                true
            }
            #[multiversion::target::target_cfg(not(target_feature = "avx2"))]
            fn avx2() -> bool {
                false
            }
            avx2()
        }
    }

    #[test]
    fn portable_feature_runs_the_baseline_build() {
        if cfg!(feature = "portable") {
            assert!(!runs_with_avx2());
        } else if std::arch::is_x86_feature_detected!("avx2") {
            assert!(runs_with_avx2());
        }
    }
}
