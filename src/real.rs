//! The scalar trait [`Real`] over `f32` and `f64`, and the math backend.
//!
//! Every numeric routine of the crate is generic over [`Real`]. The elementary
//! functions come from one private module, chosen by features with this
//! precedence:
//!
//! | scalar | backend, first that is enabled |
//! |---|---|
//! | `f32` | `micromath`, then `libm`, then `std` |
//! | `f64` | `libm`, then `std` (with only `micromath`, `f64` is not a [`Real`]) |
//!
//! `micromath` trades accuracy for speed and size. Its functions, as this
//! crate uses them for `f32` (maximum errors measured against `f64` libm by
//! the tests of this module):
//!
//! | function | `micromath` backend | error |
//! |---|---|---|
//! | `sqrt` | micromath estimate + 3 Newton steps | 1·10⁻⁷ relative |
//! | `exp` | micromath | 2.4·10⁻³ relative |
//! | `ln` | micromath, with ln x = −ln(1/x) below 1 | 6.2·10⁻⁵ absolute on [10⁻⁴, 10⁴] |
//! | `sin`, `cos` | micromath | 1.1·10⁻³ absolute |
//! | `atan2` | micromath | 2.9·10⁻³ absolute |
//! | `acos` | `atan2(√(1−x²), x)` | 3·10⁻³ absolute |
//! | `erf`, `tanh` | `libm`, else `std`, else in-crate | as `libm`; in-crate: see below |
//!
//! `erf` and `tanh` are not part of `micromath`: with `micromath` they come from
//! `libm`/`std` when one is enabled, and otherwise from the in-crate
//! approximation [`erf_approx`] and a `tanh` built on `exp` (both then limited
//! by micromath's `exp`, about 3·10⁻³ absolute).
//!
//! With the default `libm` backend every function is within 2 ulp-scale
//! relative errors (≤ 2·10⁻⁷) for `f32` and is libm's own for `f64`.

use core::fmt::{Debug, Display, LowerExp};
use core::iter::Sum;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

#[cfg(not(any(feature = "libm", feature = "std", feature = "micromath")))]
compile_error!(
    "ntk needs a math backend: enable one of the features `libm` (default), `std` or `micromath`"
);

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar: `f32` or `f64`.
///
/// The trait is sealed; it gathers the arithmetic, the constants and the
/// elementary functions (from the backend chosen by features, see the
/// [module documentation](self)) that the crate needs.
///
/// # Examples
///
/// ```
/// use ntk::Real;
/// fn norm<T: Real>(x: &[T]) -> T {
///     x.iter().fold(T::ZERO, |s, &v| s + v * v).sqrt()
/// }
/// assert_eq!(norm(&[3.0_f64, 4.0]), 5.0);
/// assert!((norm(&[3.0_f32, 4.0]) - 5.0).abs() < 1e-5);
/// ```
pub trait Real:
    sealed::Sealed
    + Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + LowerExp
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + crate::nn::Zeroed
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// 2.
    const TWO: Self;
    /// 1/2.
    const HALF: Self;
    /// π.
    const PI: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Largest finite value.
    const MAX: Self;
    /// Smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// +∞.
    const INFINITY: Self;
    /// Not a number.
    const NAN: Self;
    /// Number of mantissa digits (24 for `f32`, 53 for `f64`).
    const MANTISSA_DIGITS: u32;

    /// Converts from `f64` (rounding to nearest for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `usize` (rounding to nearest).
    fn from_usize(n: usize) -> Self;
    /// A uniform value in [0, 1) from the top [`Real::MANTISSA_DIGITS`] bits
    /// of `bits`, in the type's own arithmetic (no `f64` work for `f32`,
    /// which matters on FPUs without double precision).
    fn from_random_bits(bits: u64) -> Self;
    /// The IEEE 754 bit pattern, zero-extended to 64 bits.
    fn to_bits_u64(self) -> u64;
    /// The value whose bit pattern [`Real::to_bits_u64`] returned (the low
    /// bits of `bits` for `f32`).
    fn from_bits_u64(bits: u64) -> Self;

    /// `self · a + b`: fused (one rounding) where `std` is linked and the
    /// target has FMA instructions (x86 with `fma` enabled, AArch64), so
    /// that the vectorised kernels compile to FMA; two roundings otherwise.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// eˣ.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt.
    fn erf(self) -> Self;
    /// Arc cosine, in [0, π]; the argument must lie in [−1, 1].
    fn acos(self) -> Self;
    /// Four-quadrant arc tangent of `self / x`.
    fn atan2(self, x: Self) -> Self;

    /// Absolute value.
    #[inline(always)]
    fn abs(self) -> Self {
        if self < Self::ZERO {
            -self
        } else if self == Self::ZERO {
            Self::ZERO
        } else {
            self
        }
    }
    /// Larger of two values; NaN loses.
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        if self >= other || other.is_nan() {
            self
        } else {
            other
        }
    }
    /// Smaller of two values; NaN loses.
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        if self <= other || other.is_nan() {
            self
        } else {
            other
        }
    }
    /// Clamps into `[lo, hi]`; NaN stays NaN.
    #[inline(always)]
    fn clamp(self, lo: Self, hi: Self) -> Self {
        if self < lo {
            lo
        } else if self > hi {
            hi
        } else {
            self
        }
    }
    /// `true` for values that are neither NaN nor ±∞.
    #[inline(always)]
    fn is_finite(self) -> bool {
        self.abs() <= Self::MAX
    }
    /// `true` for NaN.
    #[allow(clippy::eq_op)]
    #[inline(always)]
    fn is_nan(self) -> bool {
        self != self
    }
    /// `self` raised to an integer power, by repeated squaring.
    fn powi(self, n: i32) -> Self {
        let base = if n < 0 { Self::ONE / self } else { self };
        base.powu(n.unsigned_abs())
    }
    /// `self` raised to an unsigned integer power, by repeated squaring.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::Real;
    /// assert_eq!(Real::powu(3.0_f64, 4), 81.0);
    /// // Powers beyond `i32::MAX`, which `powi` cannot take.
    /// assert_eq!(Real::powu(-1.0_f64, u32::MAX), -1.0);
    /// ```
    fn powu(self, mut n: u32) -> Self {
        let (mut base, mut acc) = (self, Self::ONE);
        while n > 0 {
            if n & 1 == 1 {
                acc *= base;
            }
            base *= base;
            n >>= 1;
        }
        acc
    }
    /// `eˣ − 1` without cancellation near 0 (Kahan's trick on the backend's
    /// `exp` and `ln`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::Real;
    /// // eˣ − 1 = x + x²/2 + x³/6 + …: the series is exact to rounding here,
    /// // while `exp(x) − 1` keeps only 6 digits.
    /// let x = 1e-10_f64;
    /// assert!((Real::exp_m1(x) - (x + x * x / 2.0)).abs() <= 4.0 * f64::EPSILON * x);
    /// assert_eq!(Real::exp_m1(0.0_f64), 0.0);
    /// assert_eq!(Real::exp_m1(-1e3_f64), -1.0);
    /// ```
    fn exp_m1(self) -> Self {
        let u = self.exp();
        if u == Self::ONE {
            self
        } else if u - Self::ONE == -Self::ONE {
            -Self::ONE
        } else if !u.is_finite() {
            u
        } else {
            (u - Self::ONE) * self / u.ln()
        }
    }
    /// `ln(1 + x)` without cancellation near 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::Real;
    /// // ln(1 + x) = x − x²/2 + x³/3 − …
    /// let x = 1e-10_f64;
    /// assert!((Real::ln_1p(x) - (x - x * x / 2.0)).abs() <= 4.0 * f64::EPSILON * x);
    /// assert_eq!(Real::ln_1p(0.0_f64), 0.0);
    /// ```
    fn ln_1p(self) -> Self {
        let u = Self::ONE + self;
        if u == Self::ONE {
            self
        } else {
            u.ln() * self / (u - Self::ONE)
        }
    }
}

macro_rules! impl_real {
    ($t:ident, $digits:expr, $m:ident, $u:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const HALF: Self = 0.5;
            const PI: Self = core::$t::consts::PI;
            const EPSILON: Self = $t::EPSILON;
            const MAX: Self = $t::MAX;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const INFINITY: Self = $t::INFINITY;
            const NAN: Self = $t::NAN;
            const MANTISSA_DIGITS: u32 = $digits;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
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
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn from_random_bits(bits: u64) -> Self {
                // Through the narrowest integer type that holds the bits, so
                // that `f32` converts from `u32` (one instruction on an FPU).
                ((bits >> (64 - $digits)) as $u) as $t * (1.0 / (1u64 << $digits) as $t)
            }
            #[inline(always)]
            fn to_bits_u64(self) -> u64 {
                self.to_bits() as u64
            }
            #[inline(always)]
            fn from_bits_u64(bits: u64) -> Self {
                $t::from_bits(bits as $u)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                #[cfg(all(feature = "std", any(target_feature = "fma", target_arch = "aarch64")))]
                {
                    <$t>::mul_add(self, a, b)
                }
                #[cfg(not(all(
                    feature = "std",
                    any(target_feature = "fma", target_arch = "aarch64")
                )))]
                {
                    self * a + b
                }
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                math::$m::sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                math::$m::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                math::$m::ln(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                math::$m::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                math::$m::cos(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                math::$m::tanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                math::$m::erf(self)
            }
            #[inline(always)]
            fn acos(self) -> Self {
                math::$m::acos(self)
            }
            #[inline(always)]
            fn atan2(self, x: Self) -> Self {
                math::$m::atan2(self, x)
            }
        }
    };
}

impl_real!(f32, 24, f32m, u32);
#[cfg(any(feature = "libm", feature = "std"))]
impl_real!(f64, 53, f64m, u64);

/// Error function by Abramowitz & Stegun 7.1.26 (1.5·10⁻⁷ in exact arithmetic,
/// at most 3·10⁻⁷ absolute in f32 with an accurate `exp`, about 3·10⁻³ with
/// micromath's): the fallback for `f32` when neither `libm` nor `std` is
/// enabled.
///
/// # Examples
///
/// ```
/// let e = ntk::real::erf_approx(0.5);
/// assert!((e - 0.520_499_876).abs() < 2e-7);
/// ```
#[allow(clippy::excessive_precision)] // the published coefficients, kept as printed
pub fn erf_approx(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * <f32 as Real>::exp(-x * x))
}

/// The elementary functions, one backend per scalar, picked by cfg.
mod math {
    // ---- f32 ----
    #[cfg(feature = "micromath")]
    pub(super) mod f32m {
        use micromath::F32Ext;
        /// micromath's estimate (within 6 %) refined by three Newton steps,
        /// each of which squares the relative error. Out of line: three
        /// divisions dwarf a call, and the many call sites would each hold a
        /// copy on firmware.
        #[inline(never)]
        pub fn sqrt(x: f32) -> f32 {
            if x < 0.0 || x.is_nan() {
                f32::NAN
            } else if x == 0.0 || x == f32::INFINITY {
                x
            } else {
                let mut y = F32Ext::sqrt(x);
                y = 0.5 * (y + x / y);
                y = 0.5 * (y + x / y);
                0.5 * (y + x / y)
            }
        }
        #[inline(always)]
        pub fn exp(x: f32) -> f32 {
            F32Ext::exp(x)
        }
        /// Below 1 micromath takes 1/x by a bit trick (8 % error): use
        /// ln x = −ln(1/x) with an exact reciprocal instead.
        #[inline]
        pub fn ln(x: f32) -> f32 {
            if x > 0.0 && x < 1.0 {
                -F32Ext::ln(1.0 / x)
            } else {
                F32Ext::ln(x)
            }
        }
        #[inline(always)]
        pub fn sin(x: f32) -> f32 {
            F32Ext::sin(x)
        }
        #[inline(always)]
        pub fn cos(x: f32) -> f32 {
            F32Ext::cos(x)
        }
        /// micromath's own acos is off by up to 3·10⁻²; its atan2 does better.
        #[inline]
        pub fn acos(x: f32) -> f32 {
            if !(-1.0..=1.0).contains(&x) {
                return f32::NAN;
            }
            F32Ext::atan2(sqrt((1.0 - x) * (1.0 + x)), x)
        }
        #[inline(always)]
        pub fn atan2(y: f32, x: f32) -> f32 {
            F32Ext::atan2(y, x)
        }
        #[cfg(feature = "libm")]
        pub use super::f32_libm::{erf, tanh};
        #[cfg(all(not(feature = "libm"), feature = "std"))]
        pub use super::f32_std::{erf, tanh};
        #[cfg(not(any(feature = "libm", feature = "std")))]
        #[inline(always)]
        pub fn erf(x: f32) -> f32 {
            crate::real::erf_approx(x)
        }
        #[cfg(not(any(feature = "libm", feature = "std")))]
        #[inline(always)]
        pub fn tanh(x: f32) -> f32 {
            if x.abs() > 9.0 {
                return if x > 0.0 { 1.0 } else { -1.0 };
            }
            let e = exp(2.0 * x);
            (e - 1.0) / (e + 1.0)
        }
    }
    #[cfg(all(not(feature = "micromath"), feature = "libm"))]
    pub(super) use f32_libm as f32m;
    #[cfg(all(not(feature = "micromath"), not(feature = "libm"), feature = "std"))]
    pub(super) use f32_std as f32m;

    #[cfg(feature = "libm")]
    #[allow(dead_code)]
    pub(super) mod f32_libm {
        #[inline(always)]
        pub fn sqrt(x: f32) -> f32 {
            libm::sqrtf(x)
        }
        #[inline(always)]
        pub fn exp(x: f32) -> f32 {
            libm::expf(x)
        }
        #[inline(always)]
        pub fn ln(x: f32) -> f32 {
            libm::logf(x)
        }
        #[inline(always)]
        pub fn sin(x: f32) -> f32 {
            libm::sinf(x)
        }
        #[inline(always)]
        pub fn cos(x: f32) -> f32 {
            libm::cosf(x)
        }
        #[inline(always)]
        pub fn tanh(x: f32) -> f32 {
            libm::tanhf(x)
        }
        #[inline(always)]
        pub fn erf(x: f32) -> f32 {
            libm::erff(x)
        }
        #[inline(always)]
        pub fn acos(x: f32) -> f32 {
            libm::acosf(x)
        }
        #[inline(always)]
        pub fn atan2(y: f32, x: f32) -> f32 {
            libm::atan2f(y, x)
        }
    }

    #[cfg(feature = "std")]
    #[allow(dead_code)]
    pub(super) mod f32_std {
        extern crate std;
        #[inline(always)]
        pub fn sqrt(x: f32) -> f32 {
            x.sqrt()
        }
        #[inline(always)]
        pub fn exp(x: f32) -> f32 {
            x.exp()
        }
        #[inline(always)]
        pub fn ln(x: f32) -> f32 {
            x.ln()
        }
        #[inline(always)]
        pub fn sin(x: f32) -> f32 {
            x.sin()
        }
        #[inline(always)]
        pub fn cos(x: f32) -> f32 {
            x.cos()
        }
        #[inline(always)]
        pub fn tanh(x: f32) -> f32 {
            x.tanh()
        }
        #[inline(always)]
        pub fn erf(x: f32) -> f32 {
            // std has no stable erf: evaluate in f64 with the same series used for f64.
            super::f64_std::erf(x as f64) as f32
        }
        #[inline(always)]
        pub fn acos(x: f32) -> f32 {
            x.acos()
        }
        #[inline(always)]
        pub fn atan2(y: f32, x: f32) -> f32 {
            y.atan2(x)
        }
    }

    // ---- f64 ----
    #[cfg(feature = "libm")]
    pub(super) mod f64m {
        #[inline(always)]
        pub fn sqrt(x: f64) -> f64 {
            libm::sqrt(x)
        }
        #[inline(always)]
        pub fn exp(x: f64) -> f64 {
            libm::exp(x)
        }
        #[inline(always)]
        pub fn ln(x: f64) -> f64 {
            libm::log(x)
        }
        #[inline(always)]
        pub fn sin(x: f64) -> f64 {
            libm::sin(x)
        }
        #[inline(always)]
        pub fn cos(x: f64) -> f64 {
            libm::cos(x)
        }
        #[inline(always)]
        pub fn tanh(x: f64) -> f64 {
            libm::tanh(x)
        }
        #[inline(always)]
        pub fn erf(x: f64) -> f64 {
            libm::erf(x)
        }
        #[inline(always)]
        pub fn acos(x: f64) -> f64 {
            libm::acos(x)
        }
        #[inline(always)]
        pub fn atan2(y: f64, x: f64) -> f64 {
            libm::atan2(y, x)
        }
    }
    #[cfg(all(not(feature = "libm"), feature = "std"))]
    pub(super) use f64_std as f64m;

    #[cfg(feature = "std")]
    #[allow(dead_code)]
    pub(super) mod f64_std {
        extern crate std;
        #[inline(always)]
        pub fn sqrt(x: f64) -> f64 {
            x.sqrt()
        }
        #[inline(always)]
        pub fn exp(x: f64) -> f64 {
            x.exp()
        }
        #[inline(always)]
        pub fn ln(x: f64) -> f64 {
            x.ln()
        }
        #[inline(always)]
        pub fn sin(x: f64) -> f64 {
            x.sin()
        }
        #[inline(always)]
        pub fn cos(x: f64) -> f64 {
            x.cos()
        }
        #[inline(always)]
        pub fn tanh(x: f64) -> f64 {
            x.tanh()
        }
        /// erf to full f64 accuracy without libm: Taylor series for |x| < 2.5,
        /// the continued fraction of erfc beyond.
        pub fn erf(x: f64) -> f64 {
            let a = x.abs();
            if a.is_nan() {
                return x;
            }
            let r = if a < 2.5 {
                // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
                let x2 = a * a;
                let mut term = a;
                let mut sum = a;
                let mut n = 0.0;
                while term.abs() > 1e-17 * sum.abs() {
                    n += 1.0;
                    term *= -x2 / n;
                    sum += term / (2.0 * n + 1.0);
                }
                sum * core::f64::consts::FRAC_2_SQRT_PI
            } else if a > 6.0 {
                1.0
            } else {
                // erfc(x) = e^(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))) (Lentz)
                let mut f = 0.0;
                let mut k = 60.0;
                while k > 0.0 {
                    f = (k / 2.0) / (a + f);
                    k -= 1.0;
                }
                1.0 - (-a * a).exp() / core::f64::consts::PI.sqrt() / (a + f)
            };
            if x < 0.0 {
                -r
            } else {
                r
            }
        }
        #[inline(always)]
        pub fn acos(x: f64) -> f64 {
            x.acos()
        }
        #[inline(always)]
        pub fn atan2(y: f64, x: f64) -> f64 {
            y.atan2(x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest error of the `f32` backend against `f64` libm over a grid:
    /// (max. absolute, max. relative).
    fn f32_errors(f32f: fn(f32) -> f32, f64f: fn(f64) -> f64, lo: f64, hi: f64) -> (f64, f64) {
        let (mut abs, mut rel) = (0.0_f64, 0.0_f64);
        for i in 0..=20_000 {
            let x = lo + (hi - lo) * i as f64 / 20_000.0;
            let x = x as f32 as f64;
            let (a, b) = (f32f(x as f32) as f64, f64f(x));
            abs = abs.max((a - b).abs());
            if b != 0.0 {
                rel = rel.max(((a - b) / b).abs());
            }
        }
        (abs, rel)
    }

    /// The accuracy the module documentation states for the `f32` backend
    /// in use (with `micromath`, the approximations; otherwise libm/std).
    #[test]
    fn f32_backend_within_documented_bounds() {
        let micro = cfg!(feature = "micromath");
        let (_, r) = f32_errors(Real::sqrt, libm::sqrt, 1e-6, 1e6);
        assert!(r < if micro { 2e-7 } else { 1e-7 }, "sqrt {r}");
        let (_, r) = f32_errors(Real::exp, libm::exp, -20.0, 20.0);
        assert!(r < if micro { 2.4e-3 } else { 2e-7 }, "exp {r}");
        let (a, _) = f32_errors(Real::ln, libm::log, 1e-4, 1e4);
        assert!(a < if micro { 6.2e-5 } else { 1e-6 }, "ln {a}");
        let (a, _) = f32_errors(Real::sin, libm::sin, -10.0, 10.0);
        assert!(a < if micro { 1.1e-3 } else { 1e-7 }, "sin {a}");
        let (a, _) = f32_errors(Real::cos, libm::cos, -10.0, 10.0);
        assert!(a < if micro { 1.1e-3 } else { 1e-7 }, "cos {a}");
        let (a, _) = f32_errors(Real::acos, libm::acos, -1.0, 1.0);
        assert!(a < if micro { 3e-3 } else { 1e-6 }, "acos {a}");
        let at = |y: f32| Real::atan2(y, 0.7_f32);
        let (a, _) = f32_errors(at, |y| libm::atan2(y, 0.7_f32 as f64), -5.0, 5.0);
        assert!(a < if micro { 2.9e-3 } else { 1e-7 }, "atan2 {a}");
        let (a, _) = f32_errors(Real::erf, libm::erf, -5.0, 5.0);
        assert!(a < 3e-7, "erf {a}");
        let (a, _) = f32_errors(Real::tanh, libm::tanh, -10.0, 10.0);
        assert!(a < 1e-6, "tanh {a}");
    }

    #[test]
    fn powi_matches_repeated_products() {
        assert_eq!(2.0_f64.powi(10), 1024.0);
        assert_eq!(2.0_f64.powi(-2), 0.25);
        assert_eq!(3.0_f32.powi(0), 1.0);
    }

    #[test]
    fn erf_approx_within_documented_bound() {
        let mut x = -4.0_f64;
        while x <= 4.0 {
            let e = (erf_approx(x as f32) as f64 - libm::erf(x)).abs();
            // the bound holds with an accurate exp; micromath's limits it
            let bound = if cfg!(feature = "micromath") {
                3e-3
            } else {
                3e-7
            };
            assert!(e < bound, "x = {x}: error {e}");
            x += 0.01;
        }
    }

    #[test]
    fn max_min_ignore_nan() {
        assert_eq!(f64::NAN.max(1.0), 1.0);
        assert_eq!(1.0_f64.max(f64::NAN), 1.0);
        assert!(!f64::NAN.is_finite());
        assert!(!f64::INFINITY.is_finite());
        assert!(1e300_f64.is_finite());
    }
}
