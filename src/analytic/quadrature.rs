//! Gaussian expectations by quadrature, for activations without a closed form.
//!
//! # The rule
//!
//! For (u, v) ~ N(0, [[a, c], [c, b]]) with correlation ρ = cos β, write
//! u = √a·r·cos t and v = √b·r·cos(t − β) with (r, t) the polar coordinates of
//! a standard normal pair. Then
//!
//! E[f(u)g(v)] = 1/(2π) ∫ dt ∫₀^∞ f(√a r cos t)·g(√b r cos(t − β))·r e^(−r²/2) dr.
//!
//! The lines u = 0 and v = 0 are the rays t = ±π/2 and t = β ± π/2: they cut
//! the circle into four arcs on which neither argument changes sign. Each arc
//! gets a 32-point Gauss–Legendre rule in t and each ray a 40-point Gauss rule
//! for the weight r·e^(−r²/2) (a generalised Gauss–Hermite rule on the half
//! line): 4 × 32 × 40 = 5120 nodes. An activation that is analytic on each
//! side of 0 (ReLU and its ABReLU relatives, ELU, erf, GELU, sin, tanh,
//! softplus, swish, …) is integrated with exponential accuracy even when it has
//! a kink at 0: the ReLU family is integrated to rounding error (~1e-15), where
//! a plain tensor Gauss–Hermite rule converges only algebraically.
//!
//! A single variance (the diagonal) uses a 40-point half-range Gauss–Hermite
//! rule on each side of 0.
//!
//! # Accuracy
//!
//! Measured against the closed forms of this crate and against a 64 × 64 rule,
//! for variances a, b in [10⁻³, 10] and every correlation: relative error of
//! E[φ(u)φ(v)] below 10⁻¹² and of E[φ′(u)φ′(v)] below 10⁻¹⁰ for erf, tanh, GELU,
//! sin, ELU, softplus and swish, and ~10⁻¹⁵ for the ABReLU family. The error
//! grows with the variance for saturating activations (erf and tanh: about
//! 10⁻⁸ at a variance of 30), because their transition near 0 then becomes
//! steep on the scale of the rule. Bounded activations keep the variances
//! after the first layer below σw² + σb², so this limit concerns the inputs
//! of the first nonlinearity.
//!
//! # Cost
//!
//! A pair costs 5120 evaluations of φ and φ′ at both arguments, a diagonal
//! entry 80.

use super::dual::Var;
use crate::Real;

include!("quadrature_rules.rs");

/// E[φ(u)φ(v)] and E[φ′(u)φ′(v)] for (u, v) with variances `vi.q`, `vj.q` and
/// covariance `k`.
pub(crate) fn pair<T: Real>(
    phi: fn(T) -> T,
    dphi: fn(T) -> T,
    vi: Var<T>,
    vj: Var<T>,
    k: T,
) -> (T, T) {
    let rho = super::dual::snap(super::dual::cosine(k, vi.r, vj.r));
    // A repeated input: the diagonal rule, so that the pair map gives the
    // diagonal entry bit for bit (two rules would differ by their errors,
    // which a later layer of huge variance can blow up).
    if rho == T::ONE && vi.q == vj.q {
        return diag(phi, dphi, vi.q);
    }
    let s = ((T::ONE - rho) * (T::ONE + rho)).sqrt();
    let beta = s.atan2(rho);
    let hp = T::PI * T::HALF;
    let arcs = [
        (-hp, beta - hp),
        (beta - hp, hp),
        (hp, beta + hp),
        (beta + hp, T::TWO * T::PI - hp),
    ];
    let (mut e, mut ed) = (T::ZERO, T::ZERO);
    for (lo, hi) in arcs {
        let h = (hi - lo) * T::HALF;
        if h <= T::ZERO {
            continue;
        }
        let mid = (hi + lo) * T::HALF;
        let (mut ea, mut eda) = (T::ZERO, T::ZERO);
        for (&x, &wx) in ANGULAR_NODES.iter().zip(ANGULAR_WEIGHTS.iter()) {
            let t = mid + h * T::from_f64(x);
            let (ct, st) = (t.cos(), t.sin());
            let a = vi.sq * ct;
            let b = vj.sq * (rho * ct + s * st);
            let (mut er, mut edr) = (T::ZERO, T::ZERO);
            for (&r, &wr) in RADIAL_NODES.iter().zip(RADIAL_WEIGHTS.iter()) {
                let (r, wr) = (T::from_f64(r), T::from_f64(wr));
                let (u, v) = (r * a, r * b);
                er += wr * phi(u) * phi(v);
                edr += wr * dphi(u) * dphi(v);
            }
            let wx = T::from_f64(wx);
            ea += wx * er;
            eda += wx * edr;
        }
        e += h * ea;
        ed += h * eda;
    }
    let inv = T::ONE / (T::TWO * T::PI);
    (e * inv, ed * inv)
}

/// E[φ″(u)²] for u ~ N(0, q), with φ″ by central differences of φ′ at the
/// nodes of the half-range rule (an activation with a kink at 0 contributes
/// nothing for it: the rule has no node there). For the error bounds of
/// [`super::precision`] only.
pub(crate) fn curvature<T: Real>(dphi: fn(T) -> T, q: T) -> T {
    let q = if q < T::ZERO { T::ZERO } else { q };
    let sq = q.sqrt();
    // A step of ε^(1/3) relative to the node: the truncation and rounding
    // errors of the difference then balance.
    let h = T::from_f64(f64::from(T::MANTISSA_DIGITS) * -core::f64::consts::LN_2 / 3.0);
    let h = h.exp();
    let mut e = T::ZERO;
    for (&x, &w) in HALF_NODES.iter().zip(HALF_WEIGHTS.iter()) {
        let (x, w) = (T::from_f64(x), T::from_f64(w));
        for u in [sq * x, -sq * x] {
            let step = h * (if u.abs() > T::ONE { u.abs() } else { T::ONE });
            let d2 = (dphi(u + step) - dphi(u - step)) / (T::TWO * step);
            e += w * d2 * d2;
        }
    }
    e / (T::TWO * T::PI).sqrt()
}

/// E[φ(u)²] and E[φ′(u)²] for u ~ N(0, q).
pub(crate) fn diag<T: Real>(phi: fn(T) -> T, dphi: fn(T) -> T, q: T) -> (T, T) {
    let q = if q < T::ZERO { T::ZERO } else { q };
    let sq = q.sqrt();
    let (mut e, mut ed) = (T::ZERO, T::ZERO);
    for (&x, &w) in HALF_NODES.iter().zip(HALF_WEIGHTS.iter()) {
        let (x, w) = (T::from_f64(x), T::from_f64(w));
        let (p, m) = (phi(sq * x), phi(-sq * x));
        let (dp, dm) = (dphi(sq * x), dphi(-sq * x));
        e += w * (p * p + m * m);
        ed += w * (dp * dp + dm * dm);
    }
    // The half-range weights integrate e^(−x²/2); normalise by √(2π).
    let inv = T::ONE / (T::TWO * T::PI).sqrt();
    (e * inv, ed * inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Γ(k/2) for k ≥ 1, exactly from Γ(1/2) = √π and Γ(1) = 1.
    fn gamma_half(k: u32) -> f64 {
        let (mut g, mut x) = if k.is_multiple_of(2) {
            (1.0, 1.0)
        } else {
            (core::f64::consts::PI.sqrt(), 0.5)
        };
        while x < k as f64 / 2.0 - 0.25 {
            g *= x;
            x += 1.0;
        }
        g
    }

    #[test]
    fn radial_rule_integrates_moments() {
        // ∫₀^∞ r^k · r e^(−r²/2) dr = 2^(k/2) Γ(k/2 + 1), exact for k < 80.
        for k in 0..40u32 {
            let exact = 2f64.powf(k as f64 / 2.0) * gamma_half(k + 2);
            let q: f64 = RADIAL_NODES
                .iter()
                .zip(RADIAL_WEIGHTS.iter())
                .map(|(r, w)| w * r.powi(k as i32))
                .sum();
            assert!(
                (q - exact).abs() <= 1e-12 * exact,
                "k = {k}: {q} vs {exact}"
            );
        }
    }

    #[test]
    fn half_rule_integrates_moments() {
        // ∫₀^∞ x^k e^(−x²/2) dx = 2^((k−1)/2) Γ((k+1)/2).
        for k in 0..40u32 {
            let exact = 2f64.powf((k as f64 - 1.0) / 2.0) * gamma_half(k + 1);
            let q: f64 = HALF_NODES
                .iter()
                .zip(HALF_WEIGHTS.iter())
                .map(|(x, w)| w * x.powi(k as i32))
                .sum();
            assert!(
                (q - exact).abs() <= 1e-12 * exact,
                "k = {k}: {q} vs {exact}"
            );
        }
    }

    #[test]
    fn legendre_rule_integrates_polynomials() {
        for k in 0..64i32 {
            let exact = if k % 2 == 0 {
                2.0 / (k as f64 + 1.0)
            } else {
                0.0
            };
            let q: f64 = ANGULAR_NODES
                .iter()
                .zip(ANGULAR_WEIGHTS.iter())
                .map(|(x, w)| w * x.powi(k))
                .sum();
            assert!((q - exact).abs() <= 1e-14, "k = {k}: {q} vs {exact}");
        }
    }

    fn relu(x: f64) -> f64 {
        x.max(0.0)
    }
    fn step(x: f64) -> f64 {
        if x > 0.0 {
            1.0
        } else {
            0.0
        }
    }

    #[test]
    fn relu_by_quadrature_is_exact() {
        for &(a, b, rho) in &[
            (1.0, 1.0, 0.0),
            (2.0, 0.5, 0.3),
            (0.1, 3.0, -0.9),
            (1.0, 1.0, 1.0),
            (1.0, 4.0, -1.0),
        ] {
            let k = rho * f64::sqrt(a * b);
            let (e, ed) = pair(relu, step, Var::new(a), Var::new(b), k);
            let theta = f64::acos(rho);
            let pi = core::f64::consts::PI;
            let e0 =
                f64::sqrt(a * b) * ((1.0 - rho * rho).sqrt() + (pi - theta) * rho) / (2.0 * pi);
            let ed0 = (pi - theta) / (2.0 * pi);
            assert!(
                (e - e0).abs() < 1e-14 * f64::sqrt(a * b),
                "{a} {b} {rho}: {e} vs {e0}"
            );
            assert!((ed - ed0).abs() < 1e-14, "{a} {b} {rho}: {ed} vs {ed0}");
        }
        let (e, ed) = diag(relu, step, 3.0);
        assert!((e - 1.5).abs() < 1e-14 && (ed - 0.5).abs() < 1e-14);
    }
}
