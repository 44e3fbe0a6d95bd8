//! The state of one pair of inputs and the primitives every map shares.
//!
//! [`PairState`] is what the recursion carries for a pair; [`Var`] is what a
//! nonlinearity needs to know about one input. The correlation
//! ρ = Σ₁₂/√(Σ₁₁Σ₂₂) is formed by [`cosine`] and snapped to ±1 by [`snap`].
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

/// The kernel state of one pair of inputs (x₁, x₂) between layers: the NNGP
/// covariances Σ₁₁ = Σ(x₁, x₁), Σ₁₂, Σ₂₂ and the NTK Θ₁₂.
///
/// # Examples
///
/// ```
/// use ntk::analytic::{Layer, PairState};
/// let x1 = [1.0_f64, 0.0];
/// let x2 = [0.6, 0.8];
/// let s = PairState::from_inputs(&x1, &x2);
/// assert_eq!(s.sigma12, 0.3);
/// let s = Layer::dense(2.0, 0.0).apply(s);
/// assert_eq!((s.sigma12, s.theta12), (1.2, 1.2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PairState<T> {
    /// Σ(x₁, x₁).
    pub sigma11: T,
    /// Σ(x₁, x₂): the NNGP kernel.
    pub sigma12: T,
    /// Σ(x₂, x₂).
    pub sigma22: T,
    /// Θ(x₁, x₂): the NTK.
    pub theta12: T,
}

impl<T: Real> PairState<T> {
    /// A state from its four entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Layer, PairState};
    /// let s = Layer::Sin.apply(PairState::new(1.0_f64, 1.0, 1.0, 0.0));
    /// assert!((s.sigma12 - (1.0 - (-2.0_f64).exp()) / 2.0).abs() < 1e-15);
    /// ```
    pub const fn new(sigma11: T, sigma12: T, sigma22: T, theta12: T) -> Self {
        Self {
            sigma11,
            sigma12,
            sigma22,
            theta12,
        }
    }

    /// The input state Σ⁰ = x·x′/D, Θ⁰ = 0, over the common length D of the
    /// inputs (all zeros when it is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::PairState;
    /// let s = PairState::from_inputs(&[2.0_f64, 0.0], &[1.0, 1.0]);
    /// assert_eq!((s.sigma11, s.sigma12, s.sigma22, s.theta12), (2.0, 1.0, 1.0, 0.0));
    /// ```
    pub fn from_inputs(x1: &[T], x2: &[T]) -> Self {
        let d = x1.len().min(x2.len());
        let (x1, x2) = (&x1[..d], &x2[..d]);
        if d == 0 {
            return Self::default();
        }
        let inv = T::ONE / T::from_usize(d);
        Self {
            sigma11: crate::simd::dot(x1, x1) * inv,
            sigma12: crate::simd::dot(x1, x2) * inv,
            sigma22: crate::simd::dot(x2, x2) * inv,
            theta12: T::ZERO,
        }
    }
}

/// What a nonlinearity needs to know about one input: its variance q, √q and
/// 1/√q (0 when q = 0).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Var<T> {
    pub q: T,
    pub sq: T,
    pub r: T,
}

impl<T: Real> Var<T> {
    #[inline(always)]
    pub fn new(q: T) -> Self {
        // Negative rounding residue is clamped; NaN stays NaN.
        let q = if q < T::ZERO { T::ZERO } else { q };
        let sq = q.sqrt();
        let r = if sq > T::ZERO { T::ONE / sq } else { T::ZERO };
        Self { q, sq, r }
    }
}

/// Clamps a correlation to [−1, 1], and snaps values within 8 ulp of ±1 to
/// ±1: they cannot be told from ±1 after the rounding of Σ₁₂/√(Σ₁₁Σ₂₂), and
/// snapping makes a repeated input give exactly the diagonal entry. NaN stays
/// NaN.
#[inline(always)]
pub(crate) fn snap<T: Real>(rho: T) -> T {
    let edge = snap_edge::<T>();
    if rho >= edge {
        T::ONE
    } else if rho <= -edge {
        -T::ONE
    } else {
        rho
    }
}

/// 1 − 8ε: correlations at least this large in magnitude snap to ±1.
#[inline(always)]
pub(crate) fn snap_edge<T: Real>() -> T {
    T::ONE - T::from_f64(8.0) * T::EPSILON
}

/// `Σ₁₂/√(Σ₁₁Σ₂₂)` from the reciprocal roots, symmetric bit for bit in the
/// two inputs: the smaller reciprocal first, so that no partial product
/// overflows (`r₁·r₂` does when both variances are below about 1/MAX, as for
/// inputs of 1e-21 in f32, and `Σ₁₂·r₁·r₂` was then ∞ or NaN).
#[inline(always)]
pub(crate) fn cosine<T: Real>(k: T, ri: T, rj: T) -> T {
    let (lo, hi) = if ri <= rj { (ri, rj) } else { (rj, ri) };
    (k * lo) * hi
}

/// The correlation ρ = Σ₁₂/√(Σ₁₁Σ₂₂) (0 when a variance is 0; see [`snap`]),
/// and √(1 − ρ²) computed as √((1 − ρ)(1 + ρ)).
#[inline(always)]
pub(crate) fn correlation<T: Real>(vi: Var<T>, vj: Var<T>, k: T) -> (T, T) {
    let rho = snap(cosine(k, vi.r, vj.r));
    let s = ((T::ONE - rho) * (T::ONE + rho)).sqrt();
    (rho, s)
}

/// The larger of two bounds; NaN wins.
#[inline(always)]
pub(crate) fn worse<T: Real>(a: T, b: T) -> T {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

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
    // One division for both branches (the same operands, so the same bits).
    let (top, bottom) = if big {
        (num - den, num + den)
    } else {
        (num, den)
    };
    let x = top / bottom;
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

/// h(z) = (asin √z/√z − 1)/z on z ∈ [0, sin²(π/8)], degree 10 (least
/// squares on 600 Chebyshev nodes against the series; relative error about
/// 1·10⁻¹⁵, which moves asin by at most 3·10⁻¹⁷ of itself).
const ASIN: [f64; 11] = [
    0.166_666_666_666_666_5,
    0.074_999_999_999_994_18,
    0.044_642_857_144_461_215,
    0.030_381_944_275_468_552,
    0.022_372_168_354_348_1,
    0.017_352_466_977_324_028,
    0.013_970_791_076_542_314,
    0.011_475_860_554_568_649,
    0.010_377_153_369_782_725,
    0.005_369_093_269_319_798,
    0.015_162_592_299_990_034,
];
/// sin(π/8).
const SIN_PI_8: f64 = 0.382_683_432_365_089_8;

/// θ = acos ρ ∈ [0, π] of a correlation ρ ∈ [−1, 1] given with
/// s = √(1 − ρ²) (rounded): no division, one polynomial, all selects, for
/// the vectorised arc-cosine rows of wide targets.
///
/// With m = min(|ρ|, s) and M = max(|ρ|, s), the angle φ = atan2(s, |ρ|) is
/// asin m (or π/2 − asin m when s > |ρ|), and asin m is m + m·z·h(z),
/// z = m², for m ≤ sin(π/8), else π/4 − asin((M − m)/√2) (the sine of
/// π/4 − asin m, with an argument below sin(π/8) again); θ = π − φ for
/// ρ < 0. Maximum error 4.5·10⁻¹⁶ (two ulp of π/2) against `acos` over
/// ρ ∈ [−1, 1] with s formed as √((1 − ρ)(1 + ρ)), as [`angle`] (tests
/// below); the rounding of s itself, relative 1.5 ulp, moves θ as it moves
/// [`angle`]. In f32 the same polynomial, rounded to f32 (error about one
/// f32 ulp of π).
#[inline(always)]
pub(crate) fn arc<T: Real>(s: T, rho: T) -> T {
    let a = rho.abs();
    let swap = s > a;
    let (m, big) = if swap { (a, s) } else { (s, a) };
    let far = m > T::from_f64(SIN_PI_8);
    let x = if far {
        (big - m) * T::from_f64(core::f64::consts::FRAC_1_SQRT_2)
    } else {
        m
    };
    let z = x * x;
    let mut h = T::from_f64(ASIN[10]);
    for &c in ASIN[..10].iter().rev() {
        h = h.mul_add(z, T::from_f64(c));
    }
    let p = x.mul_add(z * h, x);
    let quarter_pi = T::PI * T::HALF * T::HALF;
    let t = if far {
        (quarter_pi - p) + T::from_f64(PIO4_LO)
    } else {
        p
    };
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
    fn atan2_right_matches_std() {
        let mut worst = 0.0_f64;
        for i in -400..=400 {
            let y = (i as f64 / 20.0).sinh();
            for x in [1e-300, 1e-8, 0.3, 1.0, 2.5, 1e6, 1e300] {
                let (got, want) = (atan2_right(y, x), y.atan2(x));
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
            assert!((atan2_right(y, 1.5_f32) - y.atan2(1.5)).abs() < 2.5e-7);
        }
    }

    #[test]
    fn matches_std_atan2() {
        let mut worst = 0.0_f64;
        let n = 200_000;
        for i in 0..=n {
            let rho = -1.0 + 2.0 * i as f64 / n as f64;
            let s = ((1.0 - rho) * (1.0 + rho)).sqrt();
            let e = (angle(s, rho) - s.atan2(rho)).abs();
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
            worst = worst.max((angle(s, rho) - s.atan2(rho)).abs());
        }
        assert!(worst <= 4.5e-16, "{worst:e}");
        assert_eq!(angle(0.0, 1.0), 0.0);
        assert_eq!(angle(0.0, -1.0), core::f64::consts::PI);
        assert_eq!(angle(1.0, 0.0), core::f64::consts::FRAC_PI_2);
    }

    /// The largest |arc − acos| over ρ, with s as the ReLU rows form it.
    fn arc_error(rho: f64) -> f64 {
        let s = ((1.0 - rho) * (1.0 + rho)).sqrt();
        (arc(s, rho) - rho.acos()).abs()
    }

    #[test]
    fn arc_matches_std_acos() {
        let mut worst = 0.0_f64;
        let n = 400_000;
        for i in 0..=n {
            worst = worst.max(arc_error(-1.0 + 2.0 * i as f64 / n as f64));
        }
        // The edges of the branches: ±1, ±1/2, ±sin(π/8), ±cos(π/8), ±1/√2
        // and their neighbours.
        let c8 = (core::f64::consts::PI / 8.0).cos();
        for e in [
            1.0,
            0.5,
            SIN_PI_8,
            c8,
            core::f64::consts::FRAC_1_SQRT_2,
            1e-300,
        ] {
            let mut x = e;
            let mut y = e;
            for _ in 0..64 {
                for v in [x, -x, y, -y] {
                    if v.abs() <= 1.0 {
                        worst = worst.max(arc_error(v));
                    }
                }
                x = f64::from_bits(x.to_bits() + 1);
                y = f64::from_bits(y.to_bits() - 1);
            }
        }
        assert!(worst <= 4.5e-16, "{worst:e}");
        assert_eq!(arc(0.0, 1.0_f64), 0.0);
        assert_eq!(arc(0.0, -1.0_f64), core::f64::consts::PI);
        assert_eq!(arc(1.0, 0.0_f64), core::f64::consts::FRAC_PI_2);
        assert!(arc(f64::NAN, f64::NAN).is_nan());
        let mut worst = 0.0_f32;
        for i in 0..=100_000 {
            let rho = -1.0 + 2.0 * i as f32 / 100_000.0;
            let s = ((1.0 - rho) * (1.0 + rho)).sqrt();
            worst = worst.max((arc(s, rho) - rho.acos()).abs());
        }
        assert!(worst <= 4.8e-7, "{worst:e}");
    }

    proptest::proptest! {
        #[test]
        fn arc_is_acos(rho in -1.0_f64..=1.0) {
            proptest::prop_assert!(arc_error(rho) <= 4.5e-16, "{rho:e}");
        }
    }

    #[test]
    fn f32_is_accurate() {
        for i in 0..=1000 {
            let rho = -1.0 + 2.0 * i as f32 / 1000.0;
            let s = ((1.0 - rho) * (1.0 + rho)).sqrt();
            assert!((angle(s, rho) - s.atan2(rho)).abs() < 1e-6);
        }
    }
}
