//! The per-layer steps of the recursion: a [`Layer`](super::Layer) with its
//! constants worked out, and its action on a [`PairState`].

use super::dual::{erf_diag, erf_pair, gelu_diag, gelu_pair, sin_diag, sin_pair, AbRelu};
use super::pair::{correlation, worse, PairState, Var};
#[cfg(feature = "quadrature")]
use super::quadrature;
use crate::Real;

/// Per-input factors of a nonlinearity's bounds, from its diagonal map: a
/// pair (i, j) with pair-map outputs (Σ′₁₂, Σ̇₁₂) amplifies correlation
/// errors by |Σ̇₁₂|·gᵢ·gⱼ and moves Σ̇ by |E[φ″(u)φ″(v)]|·hᵢ·hⱼ per unit of
/// correlation error.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Input<T> {
    /// √(qᵢ/Σ′ᵢᵢ).
    pub g: T,
    /// √(qᵢ/Σ̇ᵢᵢ).
    pub h: T,
    /// √E[φ″(uᵢ)²], for maps without a pair form of E[φ″(u)φ″(v)].
    pub b: T,
}

/// One layer of the recursion with its constants worked out.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step<T> {
    /// Σ ← w2·Σ + b2; Θ ← Σ + w2·Θ.
    Affine {
        w2: T,
        b2: T,
    },
    /// Θ ← n·Σ + 1 + w2·Θ; Σ ← w2·Σ + b2.
    AffineStandard {
        w2: T,
        b2: T,
        n: T,
    },
    AbRelu(AbRelu<T>),
    Erf,
    Gelu,
    Sin,
    Identity,
    #[cfg(feature = "quadrature")]
    Quadrature {
        phi: fn(T) -> T,
        dphi: fn(T) -> T,
    },
}

impl<T: Real> Step<T> {
    /// The variance of one input after this step (and the derivative factor
    /// of a nonlinearity, 1 for the others).
    #[inline]
    pub fn diag(&self, q: T) -> (T, T) {
        self.diag_estimated(q).0
    }

    /// [`diag`](Self::diag) with estimates of the absolute errors of the
    /// quadrature (0 for the closed forms).
    #[inline]
    pub fn diag_estimated(&self, q: T) -> ((T, T), (T, T)) {
        self.diag_in::<true>(q)
    }

    /// [`diag_estimated`](Self::diag_estimated) with the smooth maps (erf,
    /// GELU, sin, quadrature) compiled in only if `SMOOTH`: without them
    /// the step must be affine, of the ABReLU family or the identity
    /// ([`Layer::piecewise_linear_step`](super::Layer::piecewise_linear_step)), and any other maps as the identity.
    #[inline]
    pub fn diag_in<const SMOOTH: bool>(&self, q: T) -> ((T, T), (T, T)) {
        let exact = |v| (v, (T::ZERO, T::ZERO));
        match *self {
            Step::Affine { w2, b2 } | Step::AffineStandard { w2, b2, .. } => {
                exact((w2 * q + b2, T::ONE))
            }
            Step::AbRelu(c) => exact(c.diag(q)),
            Step::Erf if SMOOTH => exact(erf_diag(q)),
            Step::Gelu if SMOOTH => exact(gelu_diag(q)),
            Step::Sin if SMOOTH => exact(sin_diag(q)),
            #[cfg(feature = "quadrature")]
            Step::Quadrature { phi, dphi } if SMOOTH => quadrature::diag(phi, dphi, q),
            _ => exact((q, T::ONE)),
        }
    }

    /// Variance q and NTK diagonal t of one input after this step.
    #[inline]
    pub fn diag_ntk(&self, q: T, t: T) -> (T, T) {
        match *self {
            Step::Affine { w2, b2 } => {
                let q2 = w2 * q + b2;
                (q2, q2 + w2 * t)
            }
            Step::AffineStandard { w2, b2, n } => (w2 * q + b2, n * q + T::ONE + w2 * t),
            _ => {
                let (q2, dot) = self.diag(q);
                (q2, t * dot)
            }
        }
    }

    /// [`diag_ntk`](Self::diag_ntk), with the quadrature's error estimate
    /// relative to the outputs ([`relative_error`]; 0 for the closed forms).
    #[inline]
    pub fn diag_ntk_estimated<const SMOOTH: bool>(&self, q: T, t: T) -> ((T, T), T) {
        match *self {
            Step::Affine { .. } | Step::AffineStandard { .. } => (self.diag_ntk(q, t), T::ZERO),
            _ => {
                let ((q2, dot), (eq, ed)) = self.diag_in::<SMOOTH>(q);
                let err = relative_error(eq, q2) + relative_error(ed, dot);
                ((q2, t * dot), err)
            }
        }
    }

    /// Per-input factors of the error bounds of [`super::precision`], from
    /// the variance `q` before this step and the diagonal map's `(q2, dot)`
    /// after it.
    pub fn input_factors(&self, q: T, q2: T, dot: T) -> Input<T> {
        let positive = |v: T| v > T::ZERO && v.is_finite();
        let ratio = |a: T, b: T| {
            if positive(a) && positive(b) {
                (a / b).sqrt()
            } else {
                T::ZERO
            }
        };
        // √E[φ″(u)²] for u ~ N(0, q), where no pair form of E[φ″(u)φ″(v)]
        // is used (Cauchy–Schwarz then bounds it by the product).
        let e2 = match *self {
            Step::Gelu => {
                // φ″ = (2 − x²)·e^(−x²/2)/√(2π): with a = 1 + 2q,
                // (4/√a − 4q/a^(3/2) + 3q²/a^(5/2))/(2π).
                let a = T::ONE + T::TWO * q;
                let four = T::TWO * T::TWO;
                let three = T::TWO + T::ONE;
                (four - four * q / a + three * q * q / (a * a)) / (a.sqrt() * T::TWO * T::PI)
            }
            #[cfg(feature = "quadrature")]
            Step::Quadrature { dphi, .. } => quadrature::curvature(dphi, q),
            _ => T::ZERO,
        };
        Input {
            g: ratio(q, q2),
            h: ratio(q, dot),
            b: if positive(e2) { e2.sqrt() } else { T::ZERO },
        }
    }

    /// |E[φ″(u)φ″(v)]| of a pair with covariance `k`, from the pair map's
    /// outputs `(k2, dot)` where it has a closed form (erf, sin; 0 for the
    /// piecewise-linear maps, whose kink is bounded apart), and otherwise
    /// `cs`, the Cauchy–Schwarz bound from the per-input factors of
    /// [`input_factors`](Self::input_factors) (for GELU also
    /// (∫|φ″|)²·max p(u, v) = (∫|φ″|)²/(2π√(Σ₁₁Σ₂₂)·sin θ), whichever is
    /// smaller: GELU's φ″ is a smoothed kink at large variance).
    #[inline(always)]
    pub fn second_moment(&self, vi: Var<T>, vj: Var<T>, k: T, (k2, dot): (T, T), cs: T) -> T {
        match *self {
            // Σ̇ = (4/π)/√det with ∂det/∂Σ₁₂ = −8Σ₁₂: ∂Σ̇/∂Σ₁₂ = 4Σ₁₂·Σ̇·(πΣ̇/4)².
            Step::Erf => {
                let c = T::PI * dot * T::HALF * T::HALF;
                (T::TWO * T::TWO * k * dot * c * c).abs()
            }
            // E[sin u sin v] is the NNGP output itself.
            Step::Sin => k2.abs(),
            Step::Gelu => {
                let (_, s) = correlation(vi, vj, k);
                // (∫|φ″|)² = (2(erf 1 + 2√2·ϕ(√2)) − 1)² for φ″ = (2 − x²)ϕ(x).
                let mass = T::from_f64(2.297_093_6);
                let kinked = mass / (T::TWO * T::PI * vi.sq * vj.sq * s);
                if kinked < cs {
                    kinked
                } else {
                    cs
                }
            }
            #[cfg(feature = "quadrature")]
            Step::Quadrature { .. } => cs,
            _ => T::ZERO,
        }
    }

    /// Whether the map keeps collinear inputs collinear whatever their
    /// variances (the positively homogeneous ABReLU family), and whether its
    /// activation is odd or even (erf, sin; the ABReLU family needs neither:
    /// it is homogeneous).
    pub fn symmetries(&self) -> (bool, bool) {
        match *self {
            Step::AbRelu(_) => (true, false),
            Step::Erf | Step::Sin => (false, true),
            _ => (false, false),
        }
    }

    /// For the ABReLU family, the change of Σ̇ per radian of the angle
    /// between the inputs relative to its scale: ((a−b)²/(2π))/((a²+b²)/2).
    /// 0 for the other steps.
    pub fn kink(&self) -> T {
        match *self {
            Step::AbRelu(c) if c.half > T::ZERO => c.factor / c.half,
            _ => T::ZERO,
        }
    }

    /// The pair map of a nonlinearity: (Σ₁₂′, Σ̇₁₂). Affine steps and the
    /// identity return (Σ₁₂, 1); they are applied separately.
    /// With estimates of the absolute errors of the quadrature (0 for the
    /// closed forms).
    #[inline]
    pub fn pair_estimated(&self, vi: Var<T>, vj: Var<T>, k: T) -> ((T, T), (T, T)) {
        self.pair_in::<true>(vi, vj, k)
    }

    /// [`pair_estimated`](Self::pair_estimated) with the smooth maps
    /// compiled in only if `SMOOTH` (see [`diag_in`](Self::diag_in)).
    #[inline]
    pub fn pair_in<const SMOOTH: bool>(&self, vi: Var<T>, vj: Var<T>, k: T) -> ((T, T), (T, T)) {
        let exact = |v| (v, (T::ZERO, T::ZERO));
        match *self {
            Step::AbRelu(c) => exact(c.pair(vi, vj, k)),
            Step::Erf if SMOOTH => exact(erf_pair(vi, vj, k)),
            Step::Gelu if SMOOTH => exact(gelu_pair(vi, vj, k)),
            Step::Sin if SMOOTH => exact(sin_pair(vi, vj, k)),
            #[cfg(feature = "quadrature")]
            Step::Quadrature { phi, dphi } if SMOOTH => quadrature::pair(phi, dphi, vi, vj, k),
            _ => exact((k, T::ONE)),
        }
    }
}

/// An absolute error estimate `e` relative to the scale `v`: 0 when `e` is 0
/// (whatever `v`), ∞ or NaN when `v` cannot carry it.
#[inline(always)]
pub(crate) fn relative_error<T: Real>(e: T, v: T) -> T {
    if e == T::ZERO {
        T::ZERO
    } else {
        e / v.abs()
    }
}

/// One step of the recursion on a [`PairState`].
pub(crate) fn apply_pair<T: Real>(step: &Step<T>, s: PairState<T>) -> PairState<T> {
    apply_pair_traced(step, s).0
}

/// What a nonlinear step of the pair recursion computed, for the error bound
/// of [`super::precision`]: the inputs' variances, the covariance before the
/// step, the pair map's outputs and both diagonal maps' outputs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Traced<T> {
    pub vi: Var<T>,
    pub vj: Var<T>,
    pub k: T,
    pub out: (T, T),
    pub diag: [(T, T); 2],
    /// The quadrature's error estimates relative to the diagonal scale: of
    /// Σ′₁₂ (by √(Σ′₁₁Σ′₂₂)) and Σ̇₁₂ (by √(Σ̇₁₁Σ̇₂₂)), and the worst of the
    /// two diagonal maps' (0 for the closed forms).
    pub quad: (T, T, T),
}

/// [`apply_pair`], with what a nonlinear step computed (`None` for the
/// affine steps and the identity).
pub(crate) fn apply_pair_traced<T: Real>(
    step: &Step<T>,
    s: PairState<T>,
) -> (PairState<T>, Option<Traced<T>>) {
    let next = match *step {
        Step::Affine { w2, b2 } => {
            let k = w2 * s.sigma12 + b2;
            PairState {
                sigma11: w2 * s.sigma11 + b2,
                sigma12: k,
                sigma22: w2 * s.sigma22 + b2,
                theta12: k + w2 * s.theta12,
            }
        }
        Step::AffineStandard { w2, b2, n } => PairState {
            sigma11: w2 * s.sigma11 + b2,
            sigma12: w2 * s.sigma12 + b2,
            sigma22: w2 * s.sigma22 + b2,
            theta12: n * s.sigma12 + T::ONE + w2 * s.theta12,
        },
        Step::Identity => s,
        _ => {
            let vi = Var::new(s.sigma11);
            let vj = Var::new(s.sigma22);
            let ((k, dot), (ek, et)) = step.pair_estimated(vi, vj, s.sigma12);
            let (d1, e1) = step.diag_estimated(s.sigma11);
            let (d2, e2) = step.diag_estimated(s.sigma22);
            let diag = [d1, d2];
            let quad = (
                relative_error(ek, (d1.0 * d2.0).sqrt()),
                relative_error(et, (d1.1 * d2.1).sqrt()),
                worse(
                    relative_error(e1.0, d1.0) + relative_error(e1.1, d1.1),
                    relative_error(e2.0, d2.0) + relative_error(e2.1, d2.1),
                ),
            );
            let traced = Traced {
                vi,
                vj,
                k: s.sigma12,
                out: (k, dot),
                diag,
                quad,
            };
            let next = PairState {
                sigma11: diag[0].0,
                sigma12: k,
                sigma22: diag[1].0,
                theta12: s.theta12 * dot,
            };
            return (next, Some(traced));
        }
    };
    (next, None)
}
