//! The floating-point trait every kernel is generic over (`f32` and `f64`), the promotion
//! of `f32` rows to `f64` where a float32 data set meets a float64 code book, and square
//! roots of a run of values.
//!
//! Arithmetic is plain IEEE without reassociation, so a kernel gives the same bits on every
//! CPU it is dispatched to; the one fused multiply-add (`mul_add`) is correctly rounded
//! everywhere (in hardware where the CPU has FMA).

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Sub};

/// A float type the kernels accept.
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + 'static
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// `true` for `f64`.
    const WIDE: bool;
    /// Positive infinity.
    const INFINITY: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Square root (correctly rounded, as C's `sqrt`/`sqrtf`).
    fn sqrt(self) -> Self;
    /// `self * a + b` with one rounding (a fused multiply-add).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Round an `f64` to this type.
    fn from_f64(v: f64) -> Self;
    /// Widen (or keep) as `f64`; exact.
    fn to_f64(self) -> f64;
    /// Convert a count, rounding as C's integer-to-float conversion does.
    fn from_usize(n: usize) -> Self;
    /// `true` unless NaN or infinite.
    fn is_finite(self) -> bool;
}

macro_rules! impl_float {
    ($t:ty) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const WIDE: bool = std::mem::size_of::<$t>() == 8;
            const INFINITY: Self = <$t>::INFINITY;
            const EPSILON: Self = <$t>::EPSILON;
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_float!(f32);
impl_float!(f64);

simd! {
    /// Replace every value of `v` by its square root: vectorised at the widest SIMD width
    /// the CPU has (the baseline build took two values per instruction: 12% of `vq` of
    /// 10,000 x 8 float64 rows against 4 codes). Correctly rounded on every target, so the
    /// bits do not depend on it.
    pub(crate) fn sqrt_all<C: Float>(v: &mut [C]) {
        for x in v {
            *x = x.sqrt();
        }
    }
}

/// A float type whose rows can be read as rows of `C` (itself, or `f32` widened to `f64`).
/// This is how a float32 data set meets a float64 code book, as in SciPy's type promotion.
pub trait Promote<C: Float>: Float {
    /// `rows` as `C`, borrowing when no conversion is needed and using `buf` otherwise.
    fn promote<'a>(rows: &'a [Self], buf: &'a mut Vec<C>) -> &'a [C];
}

impl<T: Float> Promote<T> for T {
    fn promote<'a>(rows: &'a [T], _buf: &'a mut Vec<T>) -> &'a [T] {
        rows
    }
}

impl Promote<f64> for f32 {
    fn promote<'a>(rows: &'a [f32], buf: &'a mut Vec<f64>) -> &'a [f64] {
        buf.clear();
        buf.extend(rows.iter().map(|&v| f64::from(v)));
        buf
    }
}
