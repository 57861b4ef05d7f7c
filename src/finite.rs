//! SciPy's `check_finite`, without numpy's temporary boolean array.

use crate::float::Float;
use crate::parallel::Exec;

/// Values checked per task; also the granularity of the early exit.
const BLOCK: usize = 1 << 16;

/// Whether every value of `x` is finite (neither NaN nor infinite).
pub fn all_finite<F: Float>(exec: &Exec, x: &[F]) -> bool {
    exec.map(x.chunks(BLOCK).collect(), block_finite)
        .into_iter()
        .all(|ok| ok)
}

simd! {
    /// Whether every value of `block` is finite, on the calling thread.
    pub(crate) fn block_finite<F: Float>(block: &[F]) -> bool {
        // A fold rather than `all`, so the loop has no early exit and vectorises.
        block.iter().fold(true, |ok, &v| ok & v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_any_nan_or_infinity() {
        let exec = Exec::with_threads(2).unwrap();
        let mut x = vec![1.0f64; 3 * BLOCK + 5];
        assert!(all_finite(&exec, &x));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            x[2 * BLOCK + 3] = bad;
            assert!(!all_finite(&exec, &x));
            x[2 * BLOCK + 3] = 0.0;
        }
        assert!(all_finite::<f32>(&exec, &[]));
        assert!(!all_finite(&exec, &[f32::NAN]));
    }
}
