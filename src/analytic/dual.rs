//! Dual activations: the closed forms of E[φ(u)φ(v)] and E[φ′(u)φ′(v)] for
//! each built-in nonlinearity.
//!
//! Every nonlinearity is written as two functions of the same quantities: a
//! *pair* map (Σ₁₁, Σ₁₂, Σ₂₂) → (Σ₁₂′, Σ̇₁₂) and a *diagonal* map
//! Σ → (Σ′, Σ̇) that is the pair map at x₁ = x₂ written without rounding
//! (so that, e.g., ReLU maps q to q/2 exactly).

use super::pair::{angle, arc, atan2_right, correlation, cosine, snap, Var};
use crate::Real;

/// Constants of the ABReLU family φ(x) = a·min(x, 0) + b·max(x, 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AbRelu<T> {
    /// (a − b)²/(2π).
    pub factor: T,
    /// (a² + b²)/2.
    pub half: T,
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
        // The rows' angle on wide targets, so that a pair equals its Gram
        // entry bit for bit.
        let theta = if crate::simd::WIDE {
            arc(s, rho)
        } else {
            angle(s, rho)
        };
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
                let theta = arc(s, p);
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
/// |2Σ₁₂| < 1 it is formed with [`Real::exp_m1`] (no cancellation at small
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
        -(s1 * (-two_k).exp_m1()) * T::HALF
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

#[cfg(feature = "quadrature")]
pub(crate) fn tanh<T: Real>(x: T) -> T {
    x.tanh()
}

#[cfg(feature = "quadrature")]
pub(crate) fn dtanh<T: Real>(x: T) -> T {
    let t = x.tanh();
    T::ONE - t * t
}
