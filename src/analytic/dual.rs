//! Dual activations: the closed forms of E[φ(u)φ(v)] and E[φ′(u)φ′(v)] for
//! each built-in nonlinearity, and the per-layer steps of the recursion.
//!
//! Every nonlinearity is written as two functions of the same quantities: a
//! *pair* map (Σ₁₁, Σ₁₂, Σ₂₂) → (Σ₁₂′, Σ̇₁₂) and a *diagonal* map
//! Σ → (Σ′, Σ̇) that is the pair map at x₁ = x₂ written without rounding
//! (so that, e.g., ReLU maps q to q/2 exactly).

use super::pair::{angle, atan2_right, correlation, cosine, snap, worse, PairState, Var};
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

/// Constants of the ABReLU family φ(x) = a·min(x, 0) + b·max(x, 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AbRelu<T> {
    /// (a − b)²/(2π).
    factor: T,
    /// (a² + b²)/2.
    half: T,
    /// (a² + b²)/2 − (a − b)²/4 = (a + b)²/4: the derivative factor when a
    /// variance is 0 (angle π/2, the neural-tangents convention).
    zero_dot: T,
}

impl<T: Real> AbRelu<T> {
    pub fn new(a: T, b: T) -> Self {
        let d = a - b;
        let factor = d * d / (T::TWO * T::PI);
        let half = (a * a + b * b) * T::HALF;
        Self {
            factor,
            half,
            // The pair map's value at θ = π/2, rounded the same way.
            zero_dot: half - factor * angle(T::ONE, T::ZERO),
        }
    }

    /// Arc-cosine kernel: with cos θ = ρ,
    /// Σ′ = (a−b)²/(2π)·√(Σ₁₁Σ₂₂)·sin θ + Σ̇·Σ₁₂ and
    /// Σ̇ = (a²+b²)/2 − (a−b)²/(2π)·θ.
    #[inline(always)]
    pub fn pair(&self, vi: Var<T>, vj: Var<T>, k: T) -> (T, T) {
        let (rho, s) = correlation(vi, vj, k);
        let theta = angle(s, rho);
        let dot = self.half - self.factor * theta;
        (self.factor * (vi.sq * vj.sq * s) + dot * k, dot)
    }

    /// The pair map over one row segment: `k[l]`, `t[l]` against columns with
    /// √q = `sq[l]` and 1/√q = `r[l]`. Written in passes over small arrays so
    /// that everything but the square roots vectorises.
    #[inline(always)]
    pub fn row(&self, vi: Var<T>, sq: &[T], r: &[T], k: &mut [T], t: &mut [T]) {
        const CHUNK: usize = 32;
        let n = k.len().min(t.len()).min(sq.len()).min(r.len());
        let mut done = 0;
        while done < n {
            let m = CHUNK.min(n - done);
            let end = done + m;
            let (Some(kc), Some(tc), Some(sqc), Some(rc)) = (
                k.get_mut(done..end),
                t.get_mut(done..end),
                sq.get(done..end),
                r.get(done..end),
            ) else {
                return;
            };
            let mut rho = [T::ZERO; CHUNK];
            let mut sin = [T::ZERO; CHUNK];
            for (((p, s), &kv), &rj) in rho.iter_mut().zip(sin.iter_mut()).zip(kc.iter()).zip(rc) {
                let c = snap(cosine(kv, vi.r, rj));
                *p = c;
                *s = (T::ONE - c) * (T::ONE + c);
            }
            for s in sin.iter_mut().take(m) {
                *s = s.sqrt();
            }
            for ((((kv, tv), &sj), &p), &s) in kc
                .iter_mut()
                .zip(tc.iter_mut())
                .zip(sqc)
                .zip(&rho)
                .zip(&sin)
            {
                let theta = angle(s, p);
                let dot = self.half - self.factor * theta;
                *kv = self.factor * (vi.sq * sj * s) + dot * *kv;
                *tv *= dot;
            }
            done = end;
        }
    }

    /// Σ′ = (a² + b²)/2·q exactly.
    #[inline(always)]
    pub fn diag(&self, q: T) -> (T, T) {
        let dot = if q > T::ZERO {
            self.half
        } else {
            self.zero_dot
        };
        (self.half * q, dot)
    }
}

/// erf: Σ′ = (2/π)·atan2(2Σ₁₂, √det), Σ̇ = (4/π)/√det with
/// det = (1 + 2Σ₁₁)(1 + 2Σ₂₂) − 4Σ₁₂² = 1 + 2(Σ₁₁ + Σ₂₂) + 4Σ₁₁Σ₂₂(1 − ρ²) ≥ 1,
/// evaluated with both arguments of atan2 divided by m = max(1, Σ₁₁ + Σ₂₂)
/// so that nothing overflows before the result does.
#[inline(always)]
pub(crate) fn erf_pair<T: Real>(vi: Var<T>, vj: Var<T>, k: T) -> (T, T) {
    let (_, s) = correlation(vi, vj, k);
    let sum = vi.q + vj.q;
    let m = if sum > T::ONE { sum } else { T::ONE };
    let inv = T::ONE / m;
    let gs = (vi.sq * vj.sq) * inv * s;
    let root = (inv * inv + T::TWO * sum * inv * inv + T::TWO * T::TWO * gs * gs).sqrt();
    let two_over_pi = T::TWO / T::PI;
    (
        two_over_pi * atan2_right(T::TWO * k * inv, root),
        T::TWO * two_over_pi / (root * m),
    )
}

/// The pair map at x₁ = x₂ (ρ = 1), so that a repeated input gives the
/// diagonal entry bit for bit.
#[inline(always)]
pub(crate) fn erf_diag<T: Real>(q: T) -> (T, T) {
    let v = Var::new(q);
    erf_pair(v, v, v.q)
}

/// Exact GELU x·Φ(x) (neural-tangents `Gelu`, arXiv:2002.08517), with
/// δ² = (Σ₁₁ + 1)(Σ₂₂ + 1) − Σ₁₂² passed as `1 + Σ₁₁ + Σ₂₂ + rest`,
/// rest = Σ₁₁Σ₂₂ − Σ₁₂² ≥ 0.
#[inline(always)]
fn gelu_core<T: Real>(qi: T, qj: T, k: T, rest: T) -> (T, T) {
    let quarter = T::HALF * T::HALF;
    let two_pi = T::TWO * T::PI;
    let d2 = T::ONE + (qi + qj) + rest;
    let d = d2.sqrt();
    let angle = atan2_right(k, d);
    let pp1 = (qi + T::ONE) * (qj + T::ONE);
    let prod = qi * qj;
    let nngp = ((k * k + prod * d2) / (pp1 * d) + k * angle) / two_pi + quarter * k;
    // 1/δ² + (1 − Σ₁₁Σ₂₂)/((Σ₁₁+1)(Σ₂₂+1)) + 1, with the last two terms
    // summed exactly: (2 + Σ₁₁ + Σ₂₂)/((Σ₁₁+1)(Σ₂₂+1)) (no cancellation at
    // large variances; Σ₁₁ + Σ₂₂ first, so that the map stays symmetric bit
    // for bit).
    let first = (T::ONE / d2 + (T::TWO + (qi + qj)) / pp1) * k / (d * two_pi);
    (nngp, first + quarter + angle / two_pi)
}

#[inline(always)]
pub(crate) fn gelu_pair<T: Real>(vi: Var<T>, vj: Var<T>, k: T) -> (T, T) {
    let (rho, _) = correlation(vi, vj, k);
    let g = vi.sq * vj.sq;
    let rest = g * g * ((T::ONE - rho) * (T::ONE + rho));
    gelu_core(vi.q, vj.q, k, rest)
}

#[inline(always)]
pub(crate) fn gelu_diag<T: Real>(q: T) -> (T, T) {
    gelu_core(q, q, q, T::ZERO)
}

/// sin: E[sin u sin v] = e^(−(Σ₁₁+Σ₂₂)/2)·sinh Σ₁₂, E[cos u cos v] = e^(−(Σ₁₁+Σ₂₂)/2)·cosh Σ₁₂,
/// each exponential formed whole so that neither overflows. The exponent
/// (Σ₁₁+Σ₂₂)/2 − Σ₁₂ = Var(u − v)/2 is formed as (√Σ₁₁ − √Σ₂₂)²/2 +
/// (1 − ρ)·√(Σ₁₁Σ₂₂) from the snapped correlation, not as a difference of
/// large numbers: it is exactly 0 for a repeated input at any scale, so the
/// pair map then equals the diagonal map.
///
/// The difference of the two exponentials is e^(−half)·(1 − e^(−2Σ₁₂)): for
/// |2Σ₁₂| < 1 it is formed with [`exp_m1`] (no cancellation at small
/// variances), otherwise directly.
#[inline(always)]
pub(crate) fn sin_pair<T: Real>(vi: Var<T>, vj: Var<T>, k: T) -> (T, T) {
    let (rho, _) = correlation(vi, vj, k);
    let g = vi.sq * vj.sq;
    let dsq = vi.sq - vj.sq;
    let half_var = dsq * dsq * T::HALF + (T::ONE - rho) * g;
    let s1 = (-half_var).exp();
    let s2 = (-k - (vi.q + vj.q) * T::HALF).exp();
    (sin_difference(s1, s2, k), (s1 + s2) * T::HALF)
}

/// (s1 − s2)/2 with s2 = s1·e^(−2k).
#[inline(always)]
fn sin_difference<T: Real>(s1: T, s2: T, k: T) -> T {
    let two_k = T::TWO * k;
    if two_k.abs() < T::ONE {
        -(s1 * exp_m1(-two_k)) * T::HALF
    } else {
        (s1 - s2) * T::HALF
    }
}

/// The pair map at x₁ = x₂ (ρ = 1), bit for bit.
#[inline(always)]
pub(crate) fn sin_diag<T: Real>(q: T) -> (T, T) {
    let e = (-T::TWO * q).exp();
    (sin_difference(T::ONE, e, q), (T::ONE + e) * T::HALF)
}

/// eˣ − 1 without cancellation near 0: the Taylor series to x¹³ for
/// |x| < 1/4 (truncation below 3·10⁻¹⁷ relative), eˣ − 1 beyond (a relative
/// error of at most 5ε there). Out of line: the pair and diagonal maps share
/// one copy.
#[inline(never)]
pub(crate) fn exp_m1<T: Real>(x: T) -> T {
    let quarter = T::HALF * T::HALF;
    if x.abs() < quarter {
        // Horner on x·(1 + x/2·(1 + x/3·(1 + …))).
        let mut acc = T::ONE;
        let mut n = 13;
        while n > 1 {
            acc = T::ONE + x * acc / T::from_usize(n);
            n -= 1;
        }
        x * acc
    } else {
        x.exp() - T::ONE
    }
}

#[cfg(feature = "quadrature")]
pub(crate) fn tanh<T: Real>(x: T) -> T {
    x.tanh()
}

#[cfg(feature = "quadrature")]
pub(crate) fn dtanh<T: Real>(x: T) -> T {
    let t = x.tanh();
    T::ONE - t * t
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
        let exact = |v| (v, (T::ZERO, T::ZERO));
        match *self {
            Step::Affine { w2, b2 } | Step::AffineStandard { w2, b2, .. } => {
                exact((w2 * q + b2, T::ONE))
            }
            Step::AbRelu(c) => exact(c.diag(q)),
            Step::Erf => exact(erf_diag(q)),
            Step::Gelu => exact(gelu_diag(q)),
            Step::Sin => exact(sin_diag(q)),
            Step::Identity => exact((q, T::ONE)),
            #[cfg(feature = "quadrature")]
            Step::Quadrature { phi, dphi } => quadrature::diag(phi, dphi, q),
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
    pub fn diag_ntk_estimated(&self, q: T, t: T) -> ((T, T), T) {
        match *self {
            Step::Affine { .. } | Step::AffineStandard { .. } => (self.diag_ntk(q, t), T::ZERO),
            _ => {
                let ((q2, dot), (eq, ed)) = self.diag_estimated(q);
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
        let exact = |v| (v, (T::ZERO, T::ZERO));
        match *self {
            Step::AbRelu(c) => exact(c.pair(vi, vj, k)),
            Step::Erf => exact(erf_pair(vi, vj, k)),
            Step::Gelu => exact(gelu_pair(vi, vj, k)),
            Step::Sin => exact(sin_pair(vi, vj, k)),
            #[cfg(feature = "quadrature")]
            Step::Quadrature { phi, dphi } => quadrature::pair(phi, dphi, vi, vj, k),
            Step::Affine { .. } | Step::AffineStandard { .. } | Step::Identity => {
                exact((k, T::ONE))
            }
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
