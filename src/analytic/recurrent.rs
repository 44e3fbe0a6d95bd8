//! Kernels of Elman recurrent networks, `rnn(W,U,B,ACT) last|gap dense(V,BV)`:
//! the recursion of `reference/RNN.md` over time-step pairs, one pair of
//! sequences at a time, with a first-order bound on its rounding error.
//!
//! The aligned recursion (t = s) of one pair needs O(1) state: [`Own`] for a
//! sequence with itself (its variances K_tt(x, x)), [`Link`] for two
//! sequences. `last` runs it forward in time; `gap` runs it along each
//! diagonal s − t = const of the L × L time-step pairs, with the variances
//! of both sequences at every step kept in the workspace. The streaming
//! state of [`super::stream`] advances the same steps.

use super::arch::{Architecture, Shape};
use super::layer::Layer;
use super::pair::{correlation, Var};
use super::step::Step;
use super::PRECISION_LIMIT;
use crate::{Error, Real};

/// A bound of the sensitivity of the dual maps to a relative change of one
/// input's variance at a fixed correlation, in units of the diagonal scale
/// (Cauchy–Schwarz on Price's identity ∂/∂log qᵢ = ½E[φ′(u)·u·φ(v)]: at
/// most ½·√(E[(φ′(u)u)²]/E[φ(u)²]) of it, and of V̇ the same with φ′, φ″;
/// below 1 for relu, erf, tanh, identity, gelu and the ABReLU family, and
/// twice it is used). Sin and custom activations, whose ratio grows with
/// the variance, take the larger of this and their own ratio
/// ([`Cell::kappa`]).
const KAPPA: f64 = 2.0;

/// The constants of `rnn(W,U,B,ACT) READOUT dense(V,BV)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cell<T> {
    step: Step<T>,
    w2: T,
    u2: T,
    b2: T,
    v2: T,
    bv2: T,
    pub(super) gap: bool,
}

/// A sequence with itself at step t: K_tt(x, x) (`q`), the diagonal maps
/// V_tt (`v`) and V̇_tt (`dot`), P_tt = V̇_tt·Θ_tt (`p`), bounds of the
/// absolute errors of `q`, `v`, `p`, and √E[φ″(u)²] (`curv`, for the
/// Cauchy–Schwarz bound of E[φ″(u)φ″(v)]).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Own<T> {
    pub(super) q: T,
    pub(super) eq: T,
    pub(super) v: T,
    pub(super) dot: T,
    pub(super) p: T,
    pub(super) ev: T,
    pub(super) ep: T,
    pub(super) curv: T,
    /// The sensitivity factor at `q` ([`Cell::kappa`]).
    pub(super) kappa: T,
}

/// Two sequences at steps (t, s): V_ts, P_ts = V̇_ts·Θ_ts and bounds of
/// their absolute errors.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Link<T> {
    pub(super) v: T,
    pub(super) p: T,
    pub(super) ev: T,
    pub(super) ep: T,
}

impl<T: Real> From<Own<T>> for Link<T> {
    fn from(o: Own<T>) -> Self {
        Self {
            v: o.v,
            p: o.p,
            ev: o.ev,
            ep: o.ep,
        }
    }
}

/// |e|/q, 0 for q ≤ 0.
fn rel<T: Real>(e: T, q: T) -> T {
    if q > T::ZERO {
        e / q
    } else {
        T::ZERO
    }
}

/// `n`·ε as a number.
fn ulps<T: Real>(n: usize) -> T {
    T::from_usize(n) * T::EPSILON
}

/// x·y/D of two time steps and a bound of its rounding error.
#[inline]
pub(super) fn input_dot<T: Real>(x: &[T], y: &[T], nx: T, ny: T) -> (T, T) {
    let d = x.len();
    let inv = T::ONE / T::from_usize(d);
    let dot = crate::simd::dot(x, y) * inv;
    (dot, ulps::<T>(d + 2) * (nx * ny).sqrt())
}

impl<T: Real> Cell<T> {
    /// The readout of the architecture.
    pub(super) fn new<const CAP: usize>(arch: &Architecture<T, CAP>) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument {
            what: "rnn: the architecture must be `rnn(W,U,B,ACT) last|gap dense(V,BV)`",
        };
        let (w, u, b, act, gap, v, bv) = match *arch.layers() {
            [cell, readout, Layer::Dense {
                weight_std: v,
                bias_std: bv,
            }] => {
                let gap = match readout {
                    Layer::Last => false,
                    Layer::GlobalAvgPool => true,
                    _ => return Err(bad()),
                };
                let (w, u, b) = match cell {
                    Layer::Rnn {
                        weight_std,
                        input_std,
                        bias_std,
                        ..
                    }
                    | Layer::RnnWith {
                        weight_std,
                        input_std,
                        bias_std,
                        ..
                    } => (weight_std, input_std, bias_std),
                    _ => return Err(bad()),
                };
                let act = cell.rnn_activation().ok_or_else(bad)?;
                (w, u, b, act, gap, v, bv)
            }
            _ => return Err(bad()),
        };
        for l in arch.layers() {
            l.validate()?;
        }
        Ok(Self {
            step: act.step(),
            w2: w * w,
            u2: u * u,
            b2: b * b,
            v2: v * v,
            bv2: bv * bv,
            gap,
        })
    }

    /// The factor bounding the sensitivity of the dual maps to a relative
    /// change of a variance `q` ([`KAPPA`]): √ of the larger of
    /// E[(φ′(u)u)²]/E[φ(u)²] and E[(φ″(u)u)²]/E[φ′(u)²] for u ~ N(0, q),
    /// at least [`KAPPA`]: closed forms for sin (computed from q ≥ 1 on;
    /// below, the ratios are below 2), the quadrature for custom ones.
    #[inline]
    pub(super) fn kappa(&self, q: T) -> T {
        let floor = T::from_f64(KAPPA);
        let ratio = match self.step {
            Step::Sin if q >= T::ONE => {
                // E[u²cos 2u] = (q − 4q²)e^(−2q).
                let e = (-(T::TWO * q)).exp();
                let c = (q - T::TWO * T::TWO * q * q) * e;
                let first = (q + c) / (T::ONE - e);
                let second = (q - c) / (T::ONE + e);
                first.max(second)
            }
            #[cfg(feature = "quadrature")]
            Step::Quadrature { phi, dphi } => super::quadrature::sensitivity(phi, dphi, q),
            _ => T::ZERO,
        };
        let k = ratio.sqrt();
        if k > floor || k.is_nan() {
            k
        } else {
            floor
        }
    }

    /// The next step of a sequence with itself, from the previous one and
    /// |x_t|²/D with its rounding bound.
    #[inline]
    pub(super) fn own(&self, prev: &Own<T>, (nx, enx): (T, T)) -> Own<T> {
        let (w2, eps) = (self.w2, T::EPSILON);
        let q = w2 * prev.v + self.u2 * nx + self.b2;
        let eq = w2 * prev.ev + self.u2 * enx + ulps::<T>(3) * q.abs();
        let ((v, dot), (e1, e2)) = self.step.diag_estimated(q);
        let r = rel(eq, q);
        let theta = q + w2 * prev.p;
        let etheta = eq + w2 * prev.ep + ulps::<T>(2) * theta.abs();
        let p = dot * theta;
        let kappa = self.kappa(q);
        let ev = kappa * v.abs() * r + e1 + ulps::<T>(16) * v.abs();
        let ed = kappa * dot.abs() * r + e2 + ulps::<T>(16) * dot.abs();
        let ep = dot.abs() * etheta + theta.abs() * ed + eps * p.abs();
        let curv = self.step.input_factors(q, v, dot).b;
        Own {
            q,
            eq,
            v,
            dot,
            p,
            ev,
            ep,
            curv,
            kappa,
        }
    }

    /// The next step of two sequences from the previous one (`Link` of
    /// zeros at the first step), both sequences' own steps `a`, `b` and the
    /// input covariance x_t·x′_s/D with its rounding bound.
    #[inline]
    pub(super) fn link(&self, prev: Link<T>, a: &Own<T>, b: &Own<T>, (c, ec): (T, T)) -> Link<T> {
        let w2 = self.w2;
        let k = w2 * prev.v + self.u2 * c + self.b2;
        let ek = w2 * prev.ev
            + self.u2 * ec
            + ulps::<T>(3) * ((w2 * prev.v).abs() + (self.u2 * c).abs() + self.b2);
        let theta = k + w2 * prev.p;
        let etheta = ek + w2 * prev.ep + ulps::<T>(2) * (k.abs() + (w2 * prev.p).abs());
        let (vi, vj) = (Var::new(a.q), Var::new(b.q));
        let ((v, vdot), (e1, e2)) = self.step.pair_estimated(vi, vj, k);
        let p = vdot * theta;
        // The correlation's error: from Σ₁₂ and from both variances.
        let (rho, sin) = correlation(vi, vj, k);
        let (ri, rj) = (rel(a.eq, a.q), rel(b.eq, b.q));
        let half = (ri + rj) * T::HALF;
        let s = vi.sq * vj.sq;
        let drho = if s > T::ZERO {
            (ek / s + rho.abs() * half + ulps::<T>(4)).min(T::TWO)
        } else {
            T::ZERO
        };
        let sv = (a.v * b.v).abs().sqrt();
        let sd = (a.dot * b.dot).abs().sqrt();
        let kappa = if a.kappa >= b.kappa || a.kappa.is_nan() {
            a.kappa
        } else {
            b.kappa
        };
        // Price: ∂V/∂Σ₁₂ = V̇ and ∂V̇/∂Σ₁₂ = E[φ″(u)φ″(v)]; the ABReLU kink
        // moves V̇ by its factor per radian, the angle moving by at most
        // δρ/sin θ and (arccos being ½-Hölder) 2.23·√δρ.
        let ev = vdot.abs() * s * drho + kappa * sv * half + e1 + ulps::<T>(16) * sv;
        let m2 = self
            .step
            .second_moment(vi, vj, k, (v, vdot), a.curv * b.curv);
        let kink = self.step.kink();
        let dangle = if kink > T::ZERO {
            let holder = T::from_f64(2.23) * drho.sqrt();
            if sin > T::ZERO {
                (drho / sin).min(holder)
            } else {
                holder
            }
        } else {
            T::ZERO
        };
        let ed = m2 * s * drho + kink * sd * dangle + kappa * sd * half + e2 + ulps::<T>(16) * sd;
        let ep = vdot.abs() * etheta + theta.abs() * ed + T::EPSILON * p.abs();
        Link { v, p, ev, ep }
    }

    /// NNGP and NTK of a pair from its (mean) [`Link`] and the sum of the
    /// magnitudes it averaged, and whether their error bounds are within
    /// [`PRECISION_LIMIT`] of the diagonal scales `(nngp, ntk)` of both
    /// sequences.
    #[inline]
    pub(super) fn readout(&self, m: Link<T>, sa: (T, T), sb: (T, T)) -> (T, T, bool) {
        let (v2, bv2) = (self.v2, self.bv2);
        let k = v2 * m.v + bv2;
        let t = k + v2 * m.p;
        let ek = v2 * m.ev + ulps::<T>(2) * (v2 * m.v.abs() + bv2);
        let et = ek + v2 * m.ep + ulps::<T>(2) * (t.abs() + v2 * m.p.abs());
        let limit = T::from_f64(PRECISION_LIMIT);
        let ok = ek <= limit * (sa.0 * sb.0).sqrt() && et <= limit * (sa.1 * sb.1).sqrt();
        (k, t, ok)
    }

    /// The diagonal scales (NNGP, NTK) of a sequence from the means over
    /// time of √V_tt and √P_tt (for `last`: V_LL and P_LL alone): its
    /// diagonal entries for `last`, upper bounds of them for `gap`.
    pub(super) fn scales(&self, root_v: T, root_p: T) -> (T, T) {
        let k = self.v2 * root_v * root_v + self.bv2;
        (k, k + self.v2 * root_p * root_p)
    }

    /// NNGP, NTK and the precision verdict of sequences `a`, `b` (the same
    /// sequence when `same`) of L steps of `d` numbers, with `ws` of at
    /// least 10·L numbers for `gap`.
    pub(super) fn entry(
        &self,
        a: &[T],
        b: &[T],
        same: bool,
        d: usize,
        ws: &mut [T],
    ) -> (T, T, bool) {
        let l = a.len() / d;
        let inv = T::ONE / T::from_usize(d);
        let norm = |x: &[T]| {
            let n = crate::simd::dot(x, x) * inv;
            (n, ulps::<T>(d + 2) * n)
        };
        if !self.gap || l == 1 {
            let (mut oa, mut ob, mut link) = (Own::default(), Own::default(), Link::default());
            for (xa, xb) in a.chunks_exact(d).zip(b.chunks_exact(d)) {
                let na = norm(xa);
                oa = self.own(&oa, na);
                if !same {
                    let nb = norm(xb);
                    ob = self.own(&ob, nb);
                    link = self.link(link, &oa, &ob, input_dot(xa, xb, na.0, nb.0));
                }
            }
            if same {
                ob = oa;
                link = oa.into();
            }
            let sa = self.scales(oa.v.abs().sqrt(), oa.p.abs().sqrt());
            let sb = self.scales(ob.v.abs().sqrt(), ob.p.abs().sqrt());
            return self.readout(link, sa, sb);
        }
        // gap: both sequences' own steps, five numbers per step.
        let (wa, wb) = ws[..10 * l].split_at_mut(5 * l);
        let mut scale = [(T::ZERO, T::ZERO); 2];
        for ((x, w), sc) in [a, b].into_iter().zip([wa, &mut *wb]).zip(&mut scale) {
            let (mut o, mut rv, mut rp) = (Own::default(), T::ZERO, T::ZERO);
            for (xt, slot) in x.chunks_exact(d).zip(w.chunks_exact_mut(5)) {
                o = self.own(&o, norm(xt));
                slot.copy_from_slice(&[o.q, o.eq, o.v, o.dot, o.curv]);
                rv += o.v.abs().sqrt();
                rp += o.p.abs().sqrt();
            }
            let inv = T::ONE / T::from_usize(l);
            *sc = self.scales(rv * inv, rp * inv);
        }
        let (wa, wb) = ws[..10 * l].split_at(5 * l);
        let at = |w: &[T], t: usize| Own {
            q: w[5 * t],
            eq: w[5 * t + 1],
            v: w[5 * t + 2],
            dot: w[5 * t + 3],
            curv: w[5 * t + 4],
            kappa: self.kappa(w[5 * t]),
            ..Own::default()
        };
        let mut sum = Link::<T>::default();
        let mut magnitude = T::ZERO;
        let mut add = |m: Link<T>| {
            sum.v += m.v;
            sum.p += m.p;
            sum.ev += m.ev;
            sum.ep += m.ep;
            magnitude += m.v.abs() + m.p.abs();
        };
        for offset in 0..2 * l - 1 {
            // s − t = offset − (L − 1).
            let (t0, s0) = if offset < l {
                (l - 1 - offset, 0)
            } else {
                (0, offset + 1 - l)
            };
            if same && t0 == s0 {
                let mut o = Own::default();
                for xt in a.chunks_exact(d) {
                    o = self.own(&o, norm(xt));
                    add(o.into());
                }
                continue;
            }
            let mut link = Link::default();
            for (t, s) in (t0..l).zip(s0..l) {
                let (oa, ob) = (at(wa, t), at(wb, s));
                let (xa, xb) = (&a[t * d..(t + 1) * d], &b[s * d..(s + 1) * d]);
                // The step norms are those stored as part of K_tt: recompute
                // them for the rounding bound of the covariance.
                let c = input_dot(xa, xb, norm(xa).0, norm(xb).0);
                link = self.link(link, &oa, &ob, c);
                add(link);
            }
        }
        let inv = T::ONE / T::from_usize(l * l);
        let rounding = ulps::<T>(l * l) * magnitude * inv;
        let mean = Link {
            v: sum.v * inv,
            p: sum.p * inv,
            ev: sum.ev * inv + rounding,
            ep: sum.ep * inv + rounding,
        };
        self.readout(mean, scale[0], scale[1])
    }
}

/// (L, D) of a sequence shape, checked.
pub(super) fn sequence(shape: Shape) -> Result<(usize, usize), Error> {
    match shape {
        Shape::Sequence { length, channels } if length > 0 && channels > 0 => {
            if length.checked_mul(channels).is_none() || length.checked_mul(10).is_none() {
                Err(Error::InvalidArgument {
                    what: "the input shape is too large",
                })
            } else {
                Ok((length, channels))
            }
        }
        Shape::Sequence { .. } => Err(Error::InvalidArgument {
            what: "every size of the input shape must be at least 1",
        }),
        _ => Err(Error::InvalidArgument {
            what: "rnn: the inputs must be sequences (inputs N L D)",
        }),
    }
}

/// [`Error::Overflow`] unless every entry is finite, then
/// [`Error::PrecisionLoss`] unless every bound passed.
pub(super) fn verdict<T: Real>(nngp: &[T], ntk: &[T], ok: bool) -> Result<(), Error> {
    if !(crate::simd::all_finite(nngp) && crate::simd::all_finite(ntk)) {
        Err(Error::Overflow { what: "kernel" })
    } else if !ok {
        Err(Error::PrecisionLoss { what: "kernel" })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(act: &str) -> Cell<f64> {
        let text = std::format!("rnn(1,1,0,{act}) last dense(1,0)");
        let a: Architecture<f64> = match Architecture::parse(&text) {
            Ok(a) => a,
            Err(e) => panic!("{text}: {e}"),
        };
        match Cell::new(&a) {
            Ok(c) => c,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[cfg(feature = "quadrature")]
    fn sin(x: f64) -> f64 {
        Real::sin(x)
    }
    #[cfg(feature = "quadrature")]
    fn cos(x: f64) -> f64 {
        Real::cos(x)
    }

    /// The closed form of sin's sensitivity factor against the moments
    /// integrated numerically (to 1e-4: sin(√q·x) oscillates at q = 100),
    /// and the fixed factor where it is not used.
    #[cfg(feature = "quadrature")]
    #[test]
    fn sin_sensitivity_matches_quadrature() {
        let c = cell("sin");
        for q in [1e-6, 0.1, 0.5, 0.99, 1.0, 2.0, 5.0, 20.0, 100.0] {
            let numeric = super::super::quadrature::sensitivity(sin, cos, q).sqrt();
            let k = c.kappa(q);
            if q < 1.0 {
                assert!(
                    numeric <= KAPPA && k.to_bits() == KAPPA.to_bits(),
                    "q {q}: {numeric}"
                );
            } else {
                let want = numeric.max(KAPPA);
                assert!((k - want).abs() <= 1e-4 * want, "q {q}: {k} vs {want}");
            }
        }
        // At large variances the factor grows as √q.
        assert!(c.kappa(100.0) > 9.0);
    }

    /// The activations whose ratio stays below 4 use the fixed factor.
    #[test]
    fn fixed_factor_elsewhere() {
        for act in [
            "relu",
            "erf",
            "gelu",
            "identity",
            "abs",
            "leaky_relu(0.3)",
            "abrelu(-2,1)",
        ] {
            assert_eq!(cell(act).kappa(50.0).to_bits(), KAPPA.to_bits(), "{act}");
        }
    }
}
