//! The scalar trait [`Real`] over `f32` and `f64`, the all-zero values of
//! [`Zeroed`], and the math backend.
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
//! The square root is the exception: where `std` is linked it comes from
//! `std` (the hardware instruction) whatever the backend, since both are
//! correctly rounded and give the same bits, and only `std`'s vectorises
//! (the `micromath` `f32` square root is its own, below).
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

/// Values with an all-zero state: layers, networks, caches and the crate's
/// large buffers.
///
/// [`Zeroed::ZEROED`] is a constant, so a value of any size can live in a
/// `static` (in `.bss`, zero-initialised by the loader) and be filled in
/// place ([`Params::init_ntk`] for a network) without ever being built on the
/// stack. A dense layer's zero has σw = σb = 0 and
/// [`Parameterization::Ntk`]; an activation's zero is the activation (a leaky
/// ReLU's slope is 0). See the [crate documentation](crate#large-shapes).
///
/// [`Params::init_ntk`]: crate::nn::Params::init_ntk
/// [`Parameterization::Ntk`]: crate::nn::Parameterization::Ntk
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Module, Params, Relu, Zeroed};
/// use ntk::Rng;
/// use std::sync::Mutex;
///
/// type Net = (Dense<f64, 2, 256>, Relu, Dense<f64, 256, 1>);
/// // In `.bss`: nothing is built on the stack, at any width.
/// static NET: Mutex<Net> = Mutex::new(Net::ZEROED);
///
/// let mut net = NET.lock().unwrap();
/// net.init_ntk(1.5, 0.1, &mut Rng::new(0));
/// // The same network, bit for bit, as building the layers by value.
/// let mut rng = Rng::new(0);
/// let by_value: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
/// assert!(*net == by_value);
/// ```
pub trait Zeroed: Sized {
    /// The all-zero value.
    const ZEROED: Self;

    /// The all-zero value, [`Zeroed::ZEROED`] (built on the stack: for
    /// large values prefer the constant in a `static` or a heap allocation).
    fn zeroed() -> Self {
        Self::ZEROED
    }
}

impl Zeroed for f32 {
    const ZEROED: Self = 0.0;
}
impl Zeroed for f64 {
    const ZEROED: Self = 0.0;
}
impl Zeroed for () {
    const ZEROED: Self = ();
}
impl<X: Zeroed, const N: usize> Zeroed for [X; N] {
    const ZEROED: Self = [const { X::ZEROED }; N];

    fn zeroed() -> Self {
        core::array::from_fn(|_| X::zeroed())
    }
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
    + Zeroed
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
    /// `eˣ − 1` without cancellation near 0: the Taylor series to x¹³ for
    /// |x| < 1/4, `exp(x) − 1` beyond (a relative error of at most 5ε
    /// there). Out of line, so that its callers share one copy in flash.
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
    #[inline(never)]
    fn exp_m1(self) -> Self {
        // Horner on x·(1 + x/2·(1 + x/3·(1 + …))) to x¹³ for |x| < 1/4
        // (truncation below 3·10⁻¹⁷ relative); eˣ − 1 beyond, where it
        // loses at most two bits (|eˣ − 1| > 0.22 there).
        let quarter = Self::HALF * Self::HALF;
        if self.abs() < quarter {
            let mut acc = Self::ONE;
            let mut n = 13;
            while n > 1 {
                acc = Self::ONE + self * acc / Self::from_usize(n);
                n -= 1;
            }
            self * acc
        } else {
            self.exp() - Self::ONE
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
    ($(#[$attr:meta])* $t:ident, $digits:expr, $m:ident, $u:ident) => {
        $(#[$attr])*
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
impl_real!(
    #[cfg_attr(docsrs, doc(cfg(any(feature = "libm", feature = "std"))))]
    f64,
    53,
    f64m,
    u64
);

mod math;

pub use math::erf_approx;

#[cfg(test)]
mod tests {
    #[test]
    fn powi_matches_repeated_products() {
        assert_eq!(2.0_f64.powi(10), 1024.0);
        assert_eq!(2.0_f64.powi(-2), 0.25);
        assert_eq!(3.0_f32.powi(0), 1.0);
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
