//! A branch-free arc tangent for the angle between two inputs.
//!
//! The arc-cosine kernels need θ = atan2(√(1 − ρ²), ρ) for every pair of
//! inputs; this is most of the work of a ReLU Gram matrix. [`angle`] computes
//! it with the rational approximation of Cephes' `atan` (Moshier) on
//! [0, 0.66] after the reductions atan2(s, ρ) = π − atan2(s, −ρ),
//! atan2(s, a) = π/2 − atan2(a, s) and atan x = π/4 + atan((x − 1)/(x + 1)),
//! all written as selects so that the loop around it has no branches (two
//! divisions in all).
//! Maximum error about 2·10⁻¹⁶ (one ulp of π) in f64.

use crate::Real;

const P: [f64; 5] = [
    -8.750_608_600_031_904e-1,
    -1.615_753_718_733_365e1,
    -7.500_855_792_314_705e1,
    -1.228_866_684_490_136e2,
    -6.485_021_904_942_025e1,
];
const Q: [f64; 5] = [
    2.485_846_490_142_306e1,
    1.650_270_098_316_988_5e2,
    4.328_810_604_912_903e2,
    4.853_903_996_359_137e2,
    1.945_506_571_482_614e2,
];
/// π/4 − fl(π/4) in f64.
const PIO4_LO: f64 = 3.061_616_997_868_383e-17;

/// atan2(s, ρ) for s ≥ 0 (an angle in [0, π]); `s` and `ρ` need not be
/// normalised, but must not both be 0.
#[inline(always)]
pub(crate) fn angle<T: Real>(s: T, rho: T) -> T {
    let a = rho.abs();
    let swap = s > a;
    let (num, den) = if swap { (a, s) } else { (s, a) };
    // u = min/max ∈ [0, 1]; above 0.66, x = (u − 1)/(u + 1) = (num − den)/(num + den).
    let big = num > T::from_f64(0.66) * den;
    let x = if big {
        (num - den) / (num + den)
    } else {
        num / den
    };
    let z = x * x;
    let p = (((T::from_f64(P[0]) * z + T::from_f64(P[1])) * z + T::from_f64(P[2])) * z
        + T::from_f64(P[3]))
        * z
        + T::from_f64(P[4]);
    let q = ((((z + T::from_f64(Q[0])) * z + T::from_f64(Q[1])) * z + T::from_f64(Q[2])) * z
        + T::from_f64(Q[3]))
        * z
        + T::from_f64(Q[4]);
    let quarter_pi = T::PI * T::HALF * T::HALF;
    let offset = if big {
        quarter_pi + T::from_f64(PIO4_LO)
    } else {
        T::ZERO
    };
    // atan(u) ∈ [0, π/4].
    let t = offset + (x + x * (z * p / q));
    let half_pi = T::PI * T::HALF;
    let phi = if swap { half_pi - t } else { t };
    if rho < T::ZERO {
        T::PI - phi
    } else {
        phi
    }
}

/// atan2(y, x) for x > 0 (an angle in [−π/2, π/2]), by [`angle`]: the
/// erf and GELU maps use it, so that no closed form links the backend's
/// `atan2` (and all of them get the same accuracy under every backend).
/// One out-of-line copy serves both maps and their diagonals: the call costs
/// little next to the square root and divisions around it.
#[inline(never)]
pub(crate) fn atan2_right<T: Real>(y: T, x: T) -> T {
    let a = angle(y.abs(), x);
    if y < T::ZERO {
        -a
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atan2_right_matches_libm() {
        let mut worst = 0.0_f64;
        for i in -400..=400 {
            let y = libm::sinh(i as f64 / 20.0);
            for x in [1e-300, 1e-8, 0.3, 1.0, 2.5, 1e6, 1e300] {
                let (got, want) = (atan2_right(y, x), libm::atan2(y, x));
                worst = worst.max((got - want).abs() / want.abs().max(1e-300));
            }
        }
        assert!(worst <= 4e-16, "{worst:e}");
        assert_eq!(atan2_right(0.0, 1.0), 0.0);
        assert_eq!(
            atan2_right(f64::INFINITY, 1.0),
            core::f64::consts::FRAC_PI_2
        );
        assert_eq!(
            atan2_right(f64::NEG_INFINITY, 1.0),
            -core::f64::consts::FRAC_PI_2
        );
        assert!(atan2_right(f64::NAN, 1.0).is_nan());
        for i in -100..=100 {
            let y = i as f32 / 7.0;
            assert!((atan2_right(y, 1.5_f32) - libm::atan2f(y, 1.5)).abs() < 2.5e-7);
        }
    }

    #[test]
    fn matches_libm_atan2() {
        let mut worst = 0.0_f64;
        let n = 200_000;
        for i in 0..=n {
            let rho = -1.0 + 2.0 * i as f64 / n as f64;
            let s = ((1.0 - rho) * (1.0 + rho)).sqrt();
            let e = (angle(s, rho) - libm::atan2(s, rho)).abs();
            worst = worst.max(e);
        }
        for &(s, rho) in &[
            (0.0, 1.0),
            (0.0, -1.0),
            (1.0, 0.0),
            (1e-300, 1.0),
            (1.0, 1e-300),
            (3.0, 4.0),
            (4.0, -3.0),
        ] {
            worst = worst.max((angle(s, rho) - libm::atan2(s, rho)).abs());
        }
        assert!(worst <= 4.5e-16, "{worst:e}");
        assert_eq!(angle(0.0, 1.0), 0.0);
        assert_eq!(angle(0.0, -1.0), core::f64::consts::PI);
        assert_eq!(angle(1.0, 0.0), core::f64::consts::FRAC_PI_2);
    }

    #[test]
    fn f32_is_accurate() {
        for i in 0..=1000 {
            let rho = -1.0 + 2.0 * i as f32 / 1000.0;
            let s = ((1.0 - rho) * (1.0 + rho)).sqrt();
            assert!((angle(s, rho) - libm::atan2f(s, rho)).abs() < 1e-6);
        }
    }
}
