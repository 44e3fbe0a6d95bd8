//! The elementary functions behind [`Real`](super::Real): one backend per
//! scalar, picked by features, and the in-crate `erf` approximation.

use super::Real;

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
        super::erf_approx(x)
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
    /// The hardware square root where `std` is linked (both are correctly
    /// rounded, so the bits are the same, and the compiler vectorises it).
    #[inline(always)]
    pub fn sqrt(x: f32) -> f32 {
        #[cfg(feature = "std")]
        {
            super::f32_std::sqrt(x)
        }
        #[cfg(not(feature = "std"))]
        {
            libm::sqrtf(x)
        }
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
    /// The hardware square root where `std` is linked (both are correctly
    /// rounded, so the bits are the same, and the compiler vectorises it).
    #[inline(always)]
    pub fn sqrt(x: f64) -> f64 {
        #[cfg(feature = "std")]
        {
            super::f64_std::sqrt(x)
        }
        #[cfg(not(feature = "std"))]
        {
            libm::sqrt(x)
        }
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

#[cfg(test)]
mod tests {
    use super::erf_approx;
    use crate::real::Real;

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
}
