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
//! the circle into four arcs on which neither argument changes sign, so that
//! an activation that is analytic on each side of 0 (ReLU and its ABReLU
//! relatives, ELU, erf, GELU, tanh, softplus, swish, …) is smooth on every
//! piece, kink or not.
//!
//! An activation varies where its argument is of order 1. When a variance
//! is large that is a small part of the plane: the disc r ≲ 1/√a and thin
//! wedges along the rays, of angular width ~1/(√a·r). The integral is
//! therefore split into panels that resolve those scales and grow
//! geometrically away from them:
//!
//! - in angle, each arc is cut at ¼/√max(a, b) from both ends (when ρ is
//!   near ±1 the zeros of u and v are close to each end), then at 6, 36, …
//!   times that, up to its middle;
//! - along each ray, with |u| = α·r and |v| = γ·r, the radius is cut at
//!   1/max(α, γ), then at 6, 36, … times that up to 1, then at 2.5, 4, 6
//!   and 9 for the bulk of the Gaussian (the mass beyond 9 is e^(−40.5)).
//!
//! Each panel gets the 15-point Gauss–Kronrod rule, in angle and radius
//! alike. A single variance (the diagonal) is the same radial construction
//! for x = u/√q on each side of 0 with the weight e^(−x²/2).
//!
//! # Error estimate
//!
//! The 7-point Gauss rule embedded in each Kronrod rule gives a second
//! value from the same evaluations, and |Kronrod − Gauss| is the estimate of
//! the error; it is pessimistic by many orders of magnitude (it is the
//! error of the coarser rule) and it is what the kernel routines check:
//! relative to the diagonal scale √(E[φ(u)²]E[φ(v)²]) (and the same for φ′),
//! it enters the error bound of [`super::precision`] with the `error-bounds`
//! feature, and without it each layer's estimate is held against
//! [`PRECISION_LIMIT`](super::PRECISION_LIMIT) on its own; past the limit the
//! kernel is refused with [`Error::PrecisionLoss`](crate::Error::PrecisionLoss).
//!
//! The rule integrates at the correlation it is given, and that is rounded:
//! a few ulp from the covariance and the variances, up to 8 more where it
//! snapped to ±1. The derivative of E[φ′(u)φ′(v)] in the covariance is
//! E[φ″(u)φ″(v)] (Price's theorem), which for a wide Gaussian and a nearly
//! collinear pair is of order the variance relative to the diagonal scale:
//! in `f32`, a tanh layer of variance 5·10⁵ on inputs 10⁻³ apart was 15 %
//! off. Each pair's estimates therefore include the effect of that
//! rounding, by a first-order bound where it is small and otherwise by
//! integrating the pair again at the moved correlation.
//! Variances beyond 10²⁰ are not resolved (the panels stop refining there,
//! so that the cost stays bounded) and their estimates are ∞: such kernels
//! are refused too.
//! An activation that does not settle away from 0 (sin at a variance of
//! 10¹¹, say) is refused that way instead of being returned wrong.
//!
//! # Accuracy
//!
//! Measured in f64 against adaptive quadrature in u and v (a different
//! method; `tests/analytic/quadrature.rs`) and against high-precision
//! integrals, for tanh and softplus at variances 10⁻⁸ … 10¹² (equal and
//! unequal) and correlations 0, ±½ and 0.999: errors of E[φ(u)φ(v)],
//! E[φ′(u)φ′(v)] and the diagonal entries below 10⁻⁹ of the diagonal scale,
//! where the estimate stays below 10⁻⁵; the ABReLU family is integrated to
//! rounding error (~10⁻¹⁶). The tests hold the kernels to 10⁻⁸.
//!
//! # Cost
//!
//! Evaluations of φ and φ′ at both arguments per pair: about 9 000 at small
//! variances, 18 000 at a variance of 1, 32 000 at 30, 50 000 at 10³,
//! 97 000 at 10⁶ and 234 000 at 10¹² (the number of graded panels grows
//! with log √max(a, b) in both directions; 2.8 ms for a pair at a variance
//! of 1 on a 2020s x86 core, 18 ms at 10¹², against 5120 evaluations for any
//! variance with the fixed rule this replaced); a diagonal entry costs 150
//! to 420.

use super::pair::{cosine, snap, Var};
use crate::Real;

include!("quadrature_rules.rs");

/// The largest variance the rule resolves: beyond it the error estimates
/// are ∞, and the kernel routines refuse the result.
pub(crate) const MAX_VARIANCE: f64 = 1e20;

/// Panels grow by this factor away from the scale where φ varies.
const RATIO: f64 = 6.0;
/// The radial panels over the bulk of the Gaussian, after the graded ones
/// below 1 (the mass beyond 9, e^(−40.5) ≈ 2.6·10⁻¹⁸, is left out).
const BULK: [f64; 5] = [1.0, 2.5, 4.0, 6.0, 9.0];
/// The first angular panel next to a ray where u (or v) vanishes spans the
/// angle `ANGLE/√a` (or `ANGLE/√b`).
const ANGLE: f64 = 0.25;

/// A quadrature value with its error estimate: (E[φ(u)φ(v)], E[φ′(u)φ′(v)])
/// and the estimates of their absolute errors.
pub(crate) type Estimate<T> = ((T, T), (T, T));

/// The sums of the Kronrod rule (`k`) and of its embedded Gauss rule (`g`),
/// for the two integrands.
#[derive(Clone, Copy)]
struct Sums<T> {
    k: [T; 2],
    g: [T; 2],
}

impl<T: Real> Sums<T> {
    const ZERO: Self = Self {
        k: [T::ZERO; 2],
        g: [T::ZERO; 2],
    };

    /// The values and the estimates |Kronrod − Gauss|, scaled by `scale`.
    /// The smallest normal number is taken off the estimates: below it the
    /// two rules differ by the rounding of subnormal terms, not by their
    /// truncation (a variance of 10⁻³²⁰ gives E[φ(u)²] ≈ 10⁻³²⁰), and the
    /// kernels carry absolute errors of that size anyway.
    fn finish(&self, scale: T) -> Estimate<T> {
        let [k0, k1] = self.k;
        let [g0, g1] = self.g;
        let estimate = |k: T, g: T| {
            let e = (k - g).abs() * scale - T::MIN_POSITIVE;
            if e > T::ZERO || e.is_nan() {
                e
            } else {
                T::ZERO
            }
        };
        (
            (k0 * scale, k1 * scale),
            (estimate(k0, g0), estimate(k1, g1)),
        )
    }
}

/// The nodes x ∈ (−1, 1) of the 15-point Kronrod rule with their Kronrod
/// and Gauss weights.
#[inline(always)]
fn nodes<T: Real>(mut each: impl FnMut(T, T, T)) {
    for ((&x, &wk), &wg) in KRONROD_NODES
        .iter()
        .zip(KRONROD_WEIGHTS.iter())
        .zip(GAUSS_WEIGHTS.iter())
    {
        let (x, wk, wg) = (T::from_f64(x), T::from_f64(wk), T::from_f64(wg));
        each(x, wk, wg);
        if x > T::ZERO {
            each(-x, wk, wg);
        }
    }
}

/// Both rules on the panel [`lo`, `hi`] for the integrands `f`.
#[inline(always)]
fn panel<T: Real>(lo: T, hi: T, sums: &mut Sums<T>, f: &mut impl FnMut(T) -> [T; 2]) {
    let h = (hi - lo) * T::HALF;
    let mid = (hi + lo) * T::HALF;
    nodes(|x, wk, wg| {
        let [a, b] = f(mid + h * x);
        let (wk, wg) = (h * wk, h * wg);
        sums.k[0] += wk * a;
        sums.k[1] += wk * b;
        sums.g[0] += wg * a;
        sums.g[1] += wg * b;
    });
}

/// The radial panels of [0, 9] for an integrand whose activations vary
/// where `m`·r is of order 1: [0, 1/m], then panels growing by [`RATIO`]
/// up to 1 (when m > 1), then [`BULK`]. `m` must be finite.
#[inline(always)]
fn radial_panels<T: Real>(m: T, mut each: impl FnMut(T, T)) {
    let mut lo = T::ZERO;
    if m > T::ONE {
        let ratio = T::from_f64(RATIO);
        let mut r = T::ONE / m;
        while r < T::ONE {
            if r > lo {
                each(lo, r);
                lo = r;
            }
            r *= ratio;
        }
    }
    for &b in BULK.iter() {
        let hi = T::from_f64(b);
        if hi > lo {
            each(lo, hi);
            lo = hi;
        }
    }
}

/// The angular panels of an arc of width `w`, graded towards its start at
/// the scale [`ANGLE`]/`s0` and towards its end at [`ANGLE`]/`s1`: each as
/// (lo, hi, from_end), with lo < hi offsets from the start, or from the end
/// when `from_end` (so that the distance to the nearer end is formed
/// without cancellation). `s0`, `s1` must be finite.
#[inline(always)]
fn arc_panels<T: Real>(w: T, (s0, s1): (T, T), mut each: impl FnMut(T, T, bool)) {
    let half = w * T::HALF;
    let c = T::from_f64(ANGLE);
    let ratio = T::from_f64(RATIO);
    let mut lo = T::ZERO;
    if s0 > T::ZERO {
        let mut d = c / s0;
        while d < half {
            if d > lo {
                each(lo, d, false);
                lo = d;
            }
            d *= ratio;
        }
    }
    each(lo, half, false);
    let mut hi = half;
    if s1 > T::ZERO {
        let d0 = c / s1;
        let mut d = d0;
        let mut n = 0u32;
        while d < half {
            d *= ratio;
            n += 1;
        }
        for k in (0..n).rev() {
            let d = d0 * ratio.powi(k as i32);
            if d < hi {
                each(d, hi, true);
                hi = d;
            }
        }
    }
    each(T::ZERO, hi, true);
}

/// The radial integrals ∫₀^∞ f(αr)g(γr)·r e^(−r²/2) dr of both kernels along
/// one ray.
#[inline(always)]
fn ray<T: Real>(phi: fn(T) -> T, dphi: fn(T) -> T, al: T, ga: T) -> Sums<T> {
    let m = al.abs().max(ga.abs()).min(T::from_f64(MAX_VARIANCE).sqrt());
    let mut sums = Sums::ZERO;
    let mut f = |r: T| {
        let w = r * (-(r * r * T::HALF)).exp();
        let (u, v) = (al * r, ga * r);
        [w * phi(u) * phi(v), w * dphi(u) * dphi(v)]
    };
    radial_panels(m, |lo, hi| panel(lo, hi, &mut sums, &mut f));
    sums
}

/// E[φ(u)φ(v)] and E[φ′(u)φ′(v)] for (u, v) with variances `vi.q`, `vj.q` and
/// covariance `k`, with estimates of their absolute errors: the rule's own
/// (see [`integrate`]) and the effect of the rounding of the correlation
/// (see [`rounding`]).
pub(crate) fn pair<T: Real>(
    phi: fn(T) -> T,
    dphi: fn(T) -> T,
    vi: Var<T>,
    vj: Var<T>,
    k: T,
) -> Estimate<T> {
    let rho = snap(cosine(k, vi.r, vj.r));
    let value = integrate(phi, dphi, vi, vj, rho);
    rounding(phi, dphi, (vi, vj), rho, value)
}

/// The moments of one input that [`rounding`] needs: E[φ(u)²], E[φ′(u)²],
/// E[φ″(u)²] and ∫|φ″(u)| du over |u| < 9√q.
#[derive(Clone, Copy)]
struct Moments<T> {
    phi2: T,
    dphi2: T,
    curv: T,
    mass: T,
}

/// The correlation error that the rule cannot see, added to the estimates
/// of `value` (the pair at correlation `rho`): the rounding of this layer's
/// covariance and variances into ρ (δρ = 8ε), and where |ρ| snapped to 1
/// the snap (8ε more; a repeated input cannot be told from a nearly
/// collinear pair here). By Price's theorem δρ moves E[φ(u)φ(v)] by
/// E[φ′(u)φ′(v)]·√(ab)·δρ and E[φ′(u)φ′(v)] by E[φ″(u)φ″(v)]·√(ab)·δρ; when
/// the Gaussian is wide (a ≫ 1) and the pair nearly collinear, φ″ is as
/// correlated as φ′ and the latter is of order a·δρ relative to the
/// diagonal scale: an O(1) error in `f32` at a = 10⁵·⁷ (a wide tanh layer
/// on nearly equal inputs). A first-order bound ([`curvature_bound`],
/// doubled) is taken when it is below a quarter of
/// [`PRECISION_LIMIT`](super::PRECISION_LIMIT) relative to the diagonal
/// scale; otherwise the pair is integrated again at the correlation moved
/// by δρ towards 0, and the change (with both rules' estimates) is the
/// error.
fn rounding<T: Real>(
    phi: fn(T) -> T,
    dphi: fn(T) -> T,
    (vi, vj): (Var<T>, Var<T>),
    rho: T,
    value: Estimate<T>,
) -> Estimate<T> {
    let ((k, dot), (ek, et)) = value;
    let snapped = rho.abs() >= T::ONE || rho.is_nan();
    let eight = T::from_f64(8.0);
    let drho = eight * T::EPSILON * if snapped { T::TWO } else { T::ONE };
    let s = ((T::ONE - rho) * (T::ONE + rho)).sqrt();
    let a = moments(phi, dphi, vi.q);
    let b = if vj.q == vi.q {
        a
    } else {
        moments(phi, dphi, vj.q)
    };
    let root = vi.sq * vj.sq;
    let scale = T::TWO * root * drho;
    let (ck, ct) = (dot.abs() * scale, curvature_bound((a, b), root, s) * scale);
    let limit = T::from_f64(super::PRECISION_LIMIT) * T::HALF * T::HALF;
    if ck <= limit * (a.phi2 * b.phi2).sqrt() && ct <= limit * (a.dphi2 * b.dphi2).sqrt() {
        return ((k, dot), (ek + ck, et + ct));
    }
    let sign = if rho < T::ZERO { -T::ONE } else { T::ONE };
    let ((k2, dot2), (ek2, et2)) = integrate(phi, dphi, vi, vj, rho - sign * drho);
    (
        (k, dot),
        (ek + ek2 + (k2 - k).abs(), et + et2 + (dot2 - dot).abs()),
    )
}

/// A bound of |E[φ″(u)φ″(v)]| from the moments of both inputs, with
/// √(ab) = `root` and √(1 − ρ²) = `s`: the smaller of Cauchy–Schwarz,
/// √(E[φ″(u)²]E[φ″(v)²]), and ∫|φ″|·∫|φ″| times the largest density
/// 1/(2π√(ab)·s) (at a large variance φ″ is a narrow peak that the density
/// sees flat; this falls off as the pair decorrelates, Cauchy–Schwarz does
/// not).
fn curvature_bound<T: Real>((a, b): (Moments<T>, Moments<T>), root: T, s: T) -> T {
    let cs = (a.curv * b.curv).sqrt();
    let density = T::TWO * T::PI * root * s;
    if density > T::ZERO {
        let kinked = a.mass * b.mass / density;
        if kinked < cs {
            return kinked;
        }
    }
    cs
}

/// The [`Moments`] of u ~ N(0, q), φ″ by central differences of φ′, on the
/// graded panels of [`diag`] (so that the narrow peak of φ″ near 0 at a
/// large variance is resolved, unlike the unit-variance nodes of
/// [`curvature`]). NaN where √q is not finite.
fn moments<T: Real>(phi: fn(T) -> T, dphi: fn(T) -> T, q: T) -> Moments<T> {
    let q = if q < T::ZERO { T::ZERO } else { q };
    let sq = q.sqrt();
    if !sq.is_finite() {
        return Moments {
            phi2: T::NAN,
            dphi2: T::NAN,
            curv: T::NAN,
            mass: T::NAN,
        };
    }
    // A step of ε^(1/3) relative to the node, as in `curvature`.
    let h = T::from_f64(f64::from(T::MANTISSA_DIGITS) * -core::f64::consts::LN_2 / 3.0).exp();
    // The Kronrod sums of the four integrands.
    let mut sums = [T::ZERO; 4];
    let m = sq.min(T::from_f64(MAX_VARIANCE).sqrt());
    radial_panels(m, |lo, hi| {
        let half = (hi - lo) * T::HALF;
        let mid = (hi + lo) * T::HALF;
        nodes(|x: T, wk, _| {
            let x = mid + half * x;
            let w = (-(x * x * T::HALF)).exp();
            let wk = half * wk;
            for u in [sq * x, -sq * x] {
                let step = h * (if u.abs() > T::ONE { u.abs() } else { T::ONE });
                let (p, d) = (phi(u), dphi(u));
                let d2 = (dphi(u + step) - dphi(u - step)) / (T::TWO * step);
                sums[0] += wk * w * p * p;
                sums[1] += wk * w * d * d;
                sums[2] += wk * w * d2 * d2;
                sums[3] += wk * d2.abs();
            }
        });
    });
    let norm = T::ONE / (T::TWO * T::PI).sqrt();
    Moments {
        phi2: sums[0] * norm,
        dphi2: sums[1] * norm,
        curv: sums[2] * norm,
        mass: sums[3] * sq,
    }
}

/// The pair rule at correlation `rho` (already snapped), with the rule's
/// own error estimates.
fn integrate<T: Real>(
    phi: fn(T) -> T,
    dphi: fn(T) -> T,
    vi: Var<T>,
    vj: Var<T>,
    rho: T,
) -> Estimate<T> {
    // A repeated input: the diagonal rule, so that the pair map gives the
    // diagonal entry bit for bit (two rules would differ by their errors,
    // which a later layer of huge variance can blow up).
    if rho == T::ONE && vi.q == vj.q {
        return diag(phi, dphi, vi.q);
    }
    if !(vi.sq.is_finite() && vj.sq.is_finite() && rho.is_finite()) {
        return ((T::NAN, T::NAN), (T::NAN, T::NAN));
    }
    let s = ((T::ONE - rho) * (T::ONE + rho)).sqrt();
    let beta = s.atan2(rho);
    let refused = refuse(vi.q.max(vj.q));
    let wide = T::PI - beta;
    // Each arc between a ray where u = 0 and one where v = 0: its width,
    // whether it starts on u = 0, and the signs of u and v on it.
    let arcs = [
        (beta, true, T::ONE, -T::ONE),
        (wide, false, T::ONE, T::ONE),
        (beta, true, -T::ONE, T::ONE),
        (wide, false, -T::ONE, -T::ONE),
    ];
    let mut total = Sums::ZERO;
    for (w, starts_u, su, sv) in arcs {
        if w <= T::ZERO {
            continue;
        }
        // Both ends at the finer scale: when ρ is near ±1 each end of a wide
        // arc is near the zeros of both u and v.
        let fine = vi.sq.max(vj.sq).min(T::from_f64(MAX_VARIANCE).sqrt());
        arc_panels(w, (fine, fine), |lo, hi, from_end| {
            let h = (hi - lo) * T::HALF;
            let mid = (hi + lo) * T::HALF;
            nodes(|x, wk, wg| {
                let o = mid + h * x;
                // Distances to the start and the end of the arc.
                let (d0, d1) = if from_end { (w - o, o) } else { (o, w - o) };
                let (pu, pv) = if starts_u {
                    (d0.sin(), d1.sin())
                } else {
                    (d1.sin(), d0.sin())
                };
                let r = ray(phi, dphi, su * vi.sq * pu, sv * vj.sq * pv);
                let (wk, wg) = (h * wk, h * wg);
                for l in 0..2 {
                    total.k[l] += wk * r.k[l];
                    total.g[l] += wg * r.g[l];
                }
            });
        });
    }
    refused(total.finish(T::ONE / (T::TWO * T::PI)))
}

/// Beyond [`MAX_VARIANCE`] the panels stop refining (the cost would grow
/// without bound): the values are then unresolved, and the estimates ∞.
fn refuse<T: Real>(q: T) -> impl Fn(Estimate<T>) -> Estimate<T> {
    let over = q > T::from_f64(MAX_VARIANCE);
    move |(v, e)| {
        if over {
            (v, (T::INFINITY, T::INFINITY))
        } else {
            (v, e)
        }
    }
}

/// The larger of E[(φ′(u)u)²]/E[φ(u)²] and E[(φ″(u)u)²]/E[φ′(u)²] for
/// u ~ N(0, q) (φ″ by central differences, as in [`curvature`]; a ratio
/// with a zero denominator, whose numerator is then 0 too, counts as 0):
/// the squared sensitivity of the dual maps to a relative change of the
/// variance, for the error bound of the recurrent kernels. NaN for a
/// non-finite variance.
pub(crate) fn sensitivity<T: Real>(phi: fn(T) -> T, dphi: fn(T) -> T, q: T) -> T {
    let q = if q < T::ZERO { T::ZERO } else { q };
    let sq = q.sqrt();
    if !sq.is_finite() {
        return T::NAN;
    }
    let h = T::from_f64(f64::from(T::MANTISSA_DIGITS) * -core::f64::consts::LN_2 / 3.0);
    let h = h.exp();
    let (mut first, mut second) = (Sums::ZERO, Sums::ZERO);
    let mut f = |x: T| {
        let w = (-(x * x * T::HALF)).exp();
        let (mut a, mut b) = (T::ZERO, T::ZERO);
        for u in [sq * x, -sq * x] {
            let (p, d) = (phi(u), dphi(u));
            a += (d * u) * (d * u);
            b += p * p;
        }
        [w * a, w * b]
    };
    radial_panels(T::ONE, |lo, hi| panel(lo, hi, &mut first, &mut f));
    let mut g = |x: T| {
        let w = (-(x * x * T::HALF)).exp();
        let (mut a, mut b) = (T::ZERO, T::ZERO);
        for u in [sq * x, -sq * x] {
            let step = h * (if u.abs() > T::ONE { u.abs() } else { T::ONE });
            let d2 = (dphi(u + step) - dphi(u - step)) / (T::TWO * step);
            let d = dphi(u);
            a += (d2 * u) * (d2 * u);
            b += d * d;
        }
        [w * a, w * b]
    };
    radial_panels(T::ONE, |lo, hi| panel(lo, hi, &mut second, &mut g));
    let ratio = |s: &Sums<T>| {
        if s.k[1] > T::ZERO {
            s.k[0] / s.k[1]
        } else {
            T::ZERO
        }
    };
    let (r1, r2) = (ratio(&first), ratio(&second));
    if r1.is_nan() || r2.is_nan() {
        T::NAN
    } else if r1 > r2 {
        r1
    } else {
        r2
    }
}

/// E[φ″(u)²] for u ~ N(0, q), with φ″ by central differences of φ′ at the
/// nodes of the diagonal rule for a unit variance (an activation with a
/// kink at 0 contributes nothing for it: the rule has no node there). For
/// the error bounds of [`super::precision`] only, which bound E[φ″(u)φ″(v)]
/// by Cauchy–Schwarz from it. At a large variance these nodes miss the
/// narrow peak of φ″ near 0, as the fixed rule before the graded panels
/// did: resolved, it would make that bound, which ignores the cancellation
/// in E[φ″(u)φ″(v)], refuse every kernel of a wide tanh layer.
pub(crate) fn curvature<T: Real>(dphi: fn(T) -> T, q: T) -> T {
    let q = if q < T::ZERO { T::ZERO } else { q };
    let sq = q.sqrt();
    if !sq.is_finite() {
        return T::NAN;
    }
    // A step of ε^(1/3) relative to the node: the truncation and rounding
    // errors of the difference then balance.
    let h = T::from_f64(f64::from(T::MANTISSA_DIGITS) * -core::f64::consts::LN_2 / 3.0);
    let h = h.exp();
    let mut sums = Sums::ZERO;
    let mut f = |x: T| {
        let w = (-(x * x * T::HALF)).exp();
        let mut e = T::ZERO;
        for u in [sq * x, -sq * x] {
            let step = h * (if u.abs() > T::ONE { u.abs() } else { T::ONE });
            let d2 = (dphi(u + step) - dphi(u - step)) / (T::TWO * step);
            e += d2 * d2;
        }
        [w * e, T::ZERO]
    };
    radial_panels(T::ONE, |lo, hi| panel(lo, hi, &mut sums, &mut f));
    sums.k[0] / (T::TWO * T::PI).sqrt()
}

/// E[φ(u)²] and E[φ′(u)²] for u ~ N(0, q), with estimates of their absolute
/// errors: the integral over x = u/√q on [0, 9] of both signs, on the
/// radial panels for the scale √q.
pub(crate) fn diag<T: Real>(phi: fn(T) -> T, dphi: fn(T) -> T, q: T) -> Estimate<T> {
    let q = if q < T::ZERO { T::ZERO } else { q };
    let sq = q.sqrt();
    if !sq.is_finite() {
        return ((T::NAN, T::NAN), (T::NAN, T::NAN));
    }
    let refused = refuse(q);
    let mut sums = Sums::ZERO;
    let mut f = |x: T| {
        let w = (-(x * x * T::HALF)).exp();
        let (p, m) = (phi(sq * x), phi(-sq * x));
        let (dp, dm) = (dphi(sq * x), dphi(-sq * x));
        [w * (p * p + m * m), w * (dp * dp + dm * dm)]
    };
    let m = sq.min(T::from_f64(MAX_VARIANCE).sqrt());
    radial_panels(m, |lo, hi| panel(lo, hi, &mut sums, &mut f));
    // The integrals over x > 0 of e^(−x²/2); normalise by √(2π).
    refused(sums.finish(T::ONE / (T::TWO * T::PI).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kronrod_and_gauss_rules_integrate_polynomials() {
        // The 15-point Kronrod rule is exact to degree 22, the 7-point Gauss
        // rule to degree 13.
        for k in 0..23i32 {
            let exact = if k % 2 == 0 {
                2.0 / (k as f64 + 1.0)
            } else {
                0.0
            };
            let (mut qk, mut qg) = (0.0, 0.0);
            nodes::<f64>(|x, wk, wg| {
                qk += wk * x.powi(k);
                qg += wg * x.powi(k);
            });
            assert!((qk - exact).abs() <= 1e-15, "k = {k}: {qk} vs {exact}");
            if k < 14 {
                assert!((qg - exact).abs() <= 1e-15, "k = {k}: {qg} vs {exact}");
            }
        }
    }

    #[test]
    fn panels_tile_their_ranges() {
        for m in [0.0, 0.5, 1.0, 3.0, 1e3, 1e6, 1e150] {
            let mut end = 0.0;
            radial_panels(m, |lo: f64, hi| {
                assert!(lo == end && hi > lo, "{m}: [{lo}, {hi}] after {end}");
                end = hi;
            });
            assert_eq!(end, 9.0);
        }
        for (w, s) in [(1.0, (0.0, 0.0)), (3.0, (1e6, 2.0)), (1e-7, (1e9, 1e3))] {
            let (mut front, mut back, mut total) = (0.0, f64::INFINITY, 0.0);
            arc_panels(w, s, |lo: f64, hi, from_end| {
                assert!(hi > lo);
                if from_end {
                    assert!(hi <= back);
                    back = lo;
                } else {
                    assert_eq!(lo, front);
                    front = hi;
                }
                total += hi - lo;
            });
            assert_eq!(back, 0.0);
            assert!((total - w).abs() <= 1e-15 * w && front == w / 2.0);
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
            let ((e, ed), _) = pair(relu, step, Var::new(a), Var::new(b), k);
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
        let ((e, ed), _) = diag(relu, step, 3.0);
        assert!((e - 1.5).abs() < 1e-14 && (ed - 0.5).abs() < 1e-14);
    }
}
