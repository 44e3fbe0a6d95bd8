//! A first-order bound on the rounding error of the kernel recursion.
//!
//! The recursion can lose all its accuracy without overflowing: a correlation
//! near ±1 behind a nonlinearity of huge variance, or a chaotic network that
//! separates nearby correlations exponentially with depth, turns the rounding
//! of the working precision into O(1) errors. With the `error-bounds`
//! feature every kernel routine carries, next to the kernels, a bound on
//! their error relative to the diagonal scale, and refuses a result whose
//! bound passes [`PRECISION_LIMIT`](super::PRECISION_LIMIT).
//!
//! Errors are in units of the diagonal: the correlation error
//! |δΣ₁₂|/√(Σ₁₁Σ₂₂) of each pair, and |δΘ₁₂|/√(Θ₁₁Θ₂₂) for the whole tile.
//! With ε the machine epsilon:
//!
//! - every operation since the last nonlinearity adds its rounding, shared by
//!   all pairs: (D/L + 3)ε for Σ⁰ = x·x′/D (L-lane sums), 2ε per affine
//!   layer, 4ε for a nonlinearity's own map; the relative error of the
//!   variances grows the same way;
//! - an affine layer contracts correlation errors, and Θ′ = Σ′ + w²Θ keeps
//!   the larger of the NNGP and NTK errors (Cauchy–Schwarz);
//! - a nonlinearity φ multiplies a pair's correlation error δρ by
//!   |Σ̇₁₂|·√(Σ₁₁Σ₂₂/(Σ′₁₁Σ′₂₂)) (Price's theorem: ∂Σ′₁₂/∂Σ₁₂ =
//!   E[φ′(u)φ′(v)]), and moves its Σ̇ by |E[φ″(u)φ″(v)]|·δρ, in closed form
//!   where there is one (erf, sin) and otherwise bounded (Cauchy–Schwarz; for
//!   GELU also by its mass over the density at 0); the ABReLU family has a
//!   kink instead of φ″: Σ̇ moves by (a−b)²/(2π) per radian of the angle θ,
//!   which moves by min(δρ/sin θ, √(2δρ));
//! - sin subtracts variances, (Σ₁₁ + Σ₂₂)/2 − Σ₁₂: their relative errors
//!   count as correlation errors there (except on the exact symmetry of a
//!   collinear pair of equal variances).
//!
//! Pairs whose computed correlation snaps to ±1 (within 8 ulp) are computed
//! as exactly collinear. That is exact for a repeated input, whose error
//! stays 0. For two different inputs the error is how far the truth is from
//! collinear: at the inputs, 1 − |ρ| is computed without cancellation from
//! the normalised inputs; a ReLU-type map keeps collinear pairs collinear,
//! and so does any map for equal variances (odd and even maps also for
//! opposite inputs); an affine layer with a bias bends a collinear pair of
//! different norms by w²b²(√Σ₁₁ − √Σ₂₂)²/(√(AB)(√(AB) + C)) (A, B the new
//! variances, C the new covariance), computed from the variances; after
//! other maps the distance is bounded by the computed one plus the rounding.
//!
//! The bound assumes elementary functions within an ulp or so (the `libm`
//! and `std` backends); `micromath`'s approximations are not accounted for.

// The comparisons below are written to let NaN through as "not accepted"
// (`!(x < y)`), and the sentinels of `z` are exact values.
#![allow(
    clippy::neg_cmp_op_on_partial_ord,
    clippy::float_cmp,
    clippy::float_cmp_const
)]

use super::collinear::{deficit, snapped};
use super::pair::{cosine, snap, snap_edge, worse, PairState, Var};
use super::step::{Step, Traced};
use crate::Real;

/// Side of the square tiles of the Gram engine, and of the per-pair arrays
/// of the bounds of one tile.
pub(crate) const TILE: usize = 32;

/// Whether the bounds are carried (the `error-bounds` feature); without it
/// the code below is compiled but never run, and the optimiser drops it.
pub(crate) const ENABLED: bool = cfg!(feature = "error-bounds");

/// Side of the per-pair arrays (0 without the feature: no stack is used).
const SIDE: usize = if ENABLED { TILE } else { 0 };

/// `Z` of a pair computed with resolved correlations.
const RESOLVED: f32 = -1.0;
/// `Z` of a pair that is collinear in the model, at an unknown distance
/// (bounded by the computed one).
const UNKNOWN: f32 = -2.0;
/// `Z` of a repeated input: exact throughout.
const EXACT: f32 = -3.0;

/// The error bounds of the pairs of one tile.
#[derive(Clone, Debug)]
pub(crate) struct Errors<T> {
    /// Per pair: how far the truth is from the model that the computation
    /// follows (exact arithmetic, collinear where it snapped).
    a: [[f32; SIDE]; SIDE],
    /// Per pair: the model's distance 1 − |ρ| from collinear (≥ 0), or
    /// [`RESOLVED`], [`UNKNOWN`], [`EXACT`].
    z: [[f32; SIDE]; SIDE],
    /// Rounding since the last nonlinearity, in correlation units.
    since: T,
    /// Relative error of the variances.
    q: T,
    /// Bound on |δΘ₁₂|/√(Θ₁₁Θ₂₂).
    t: T,
    /// An upper bound of every entry of `a` (NaN if one is).
    amax: f32,
    /// Whether some pair is collinear in the model (`z` ≥ 0 or unknown).
    tracking: bool,
    /// The NTK increment of the current nonlinearity (largest over pairs).
    t_step: T,
    /// The largest quadrature error of Σ̇₁₂ of the current nonlinearity,
    /// relative to √(Σ̇₁₁Σ̇₂₂).
    t_quad: T,
    /// The kink factor of the current nonlinearity (ABReLU family, 0
    /// otherwise): the change of Σ̇ per radian, relative to its scale.
    kink: T,
    /// Whether the current nonlinearity keeps collinear pairs collinear
    /// whatever their variances (positively homogeneous).
    homogeneous: bool,
    /// Whether the current nonlinearity is odd or even, so that it keeps
    /// opposite inputs of equal variance collinear.
    parity: bool,
    /// The relative error of the variances that the current nonlinearity
    /// feels as a correlation error (sin, which subtracts variances; 0
    /// otherwise).
    dq: T,
}

impl<T: Real> Errors<T> {
    /// The bounds for inputs of dimension `dim`, every pair resolved.
    pub fn new(dim: usize) -> Self {
        let k = T::EPSILON * T::from_usize(dim / crate::simd::LANES + 3);
        Self {
            a: [[0.0; SIDE]; SIDE],
            z: [[RESOLVED; SIDE]; SIDE],
            since: k,
            q: k,
            t: T::ZERO,
            amax: 0.0,
            tracking: false,
            t_step: T::ZERO,
            t_quad: T::ZERO,
            kink: T::ZERO,
            homogeneous: false,
            parity: false,
            dq: T::ZERO,
        }
    }

    /// Classifies pair (`i`, `j`) at the inputs, with Σ⁰ = `k`: a repeated
    /// input is exact; a pair of different inputs whose correlation snaps is
    /// collinear in the model at the distance `deficit()`.
    #[inline]
    pub fn start(
        &mut self,
        (i, j): (usize, usize),
        (vi, vj, k): (Var<T>, Var<T>, T),
        same: impl FnOnce() -> bool,
        deficit: impl FnOnce() -> T,
    ) {
        // A repeated input has Σ₁₂ = Σ₁₁ = Σ₂₂ bit for bit (zero vectors
        // included, whose correlation is taken as 0).
        let snap = snapped(vi, vj, k);
        if snap || (k == vi.q && k == vj.q) {
            if let Some(z) = self.z.get_mut(i).and_then(|r| r.get_mut(j)) {
                if same() {
                    *z = EXACT;
                } else if snap {
                    *z = narrow(deficit());
                    self.tracking = true;
                }
            }
        }
    }

    /// Whether some pair is collinear in the model, so that an affine layer
    /// with a bias can bend it ([`affine_pair`](Self::affine_pair)).
    pub fn tracking(&self) -> bool {
        self.tracking
    }

    /// After an affine layer (`w2`, `b2`) on pair (`i`, `j`) with variances
    /// `q1`, `q2` before it: a bias bends collinear pairs of different norms.
    pub fn affine_pair(&mut self, (i, j): (usize, usize), (q1, q2): (T, T), (w2, b2): (T, T)) {
        let Some(z) = self.z.get_mut(i).and_then(|r| r.get_mut(j)) else {
            return;
        };
        if *z < 0.0 || !(b2 > T::ZERO) {
            return;
        }
        let (s1, s2) = (q1.sqrt(), q2.sqrt());
        // The variances' own errors blur the difference of the roots.
        let blur = self.q * worse(s1, s2);
        let d = (s1 - s2).abs() + blur;
        let (a, b) = (w2 * q1 + b2, w2 * q2 + b2);
        let c = w2 * s1 * s2 + b2;
        let root = (a * b).sqrt();
        let bend = w2 * b2 * d * d / (root * (root + c));
        *z = narrow(T::from_f64(f64::from(*z)) + bend);
    }

    /// After an affine layer: its rounding.
    pub fn affine(&mut self) {
        let two = T::TWO * T::EPSILON;
        self.since += two;
        self.q += two;
        self.t = worse(self.t, self.largest()) + two;
    }

    /// Before a nonlinearity: its kink factor (ABReLU family, 0 otherwise),
    /// whether it keeps collinear pairs collinear (ABReLU family), whether
    /// it is odd or even (so that it keeps opposite inputs of equal variance
    /// collinear: erf, sin), and whether it subtracts variances (sin).
    pub fn begin(&mut self, kink: T, (homogeneous, parity): (bool, bool), variances: bool) {
        self.kink = kink;
        self.homogeneous = homogeneous;
        self.parity = parity;
        self.dq = if variances { self.q } else { T::ZERO };
        self.t_step = T::ZERO;
        self.t_quad = T::ZERO;
    }

    /// The quadrature errors of pair (`i`, `j`) of the current nonlinearity,
    /// after [`pair`](Self::pair): `k` of Σ′₁₂ relative to √(Σ′₁₁Σ′₂₂), a
    /// correlation error of the output, and `t` of Σ̇₁₂ relative to
    /// √(Σ̇₁₁Σ̇₂₂), which moves Θ₁₂ by as much relative to √(Θ₁₁Θ₂₂).
    #[inline]
    pub fn quadrature(&mut self, (i, j): (usize, usize), (k, t): (T, T)) {
        let Some(a) = self.a.get_mut(i).and_then(|r| r.get_mut(j)) else {
            return;
        };
        *a = narrow(T::from_f64(f64::from(*a)) + k);
        if !(*a <= self.amax) {
            self.amax = *a;
        }
        self.t_quad = worse(self.t_quad, t);
    }

    /// After [`end`](Self::end): the largest quadrature error of the
    /// diagonal maps of the nonlinearity (of Σ′ᵢᵢ and Σ̇ᵢᵢ, each relative to
    /// itself, summed), a relative error of the variances and of Θᵢᵢ.
    pub fn quadrature_diagonal(&mut self, e: T) {
        self.since += e;
        self.q += e;
        self.t += e;
    }

    /// One pair (`i`, `j`) of the nonlinearity, with (`vi`, `vj`, `k`)
    /// before it, `amp` = |Σ̇₁₂|·√(Σ₁₁Σ₂₂/(Σ′₁₁Σ′₂₂)) and `curv` =
    /// |E[φ″(u)φ″(v)]|·√(Σ₁₁Σ₂₂/(Σ̇₁₁Σ̇₂₂)).
    #[inline]
    pub fn pair(
        &mut self,
        (i, j): (usize, usize),
        (vi, vj, k): (Var<T>, Var<T>, T),
        (amp, curv): (T, T),
    ) {
        let (Some(a), Some(z)) = (
            self.a.get_mut(i).and_then(|r| r.get_mut(j)),
            self.z.get_mut(i).and_then(|r| r.get_mut(j)),
        ) else {
            return;
        };
        let z0 = *z;
        if z0 == EXACT {
            return;
        }
        let c = cosine(k, vi.r, vj.r);
        let rho = snap(c);
        let collinear = !(rho.abs() < T::ONE);
        let a0 = T::from_f64(f64::from(*a));
        let equal = vi.q == vj.q;
        // A collinear pair of equal variances sits on the exact symmetry of
        // the map, where the variances' common errors cannot move it off.
        let dq = if collinear && equal { T::ZERO } else { self.dq };
        // The input's error against the truth, as the map uses it.
        let err = dq
            + if collinear {
                if z0 >= 0.0 {
                    a0 + T::from_f64(f64::from(z0))
                } else {
                    a0 + (T::ONE - c.abs()).abs() + self.since
                }
            } else {
                a0 + self.since
            };
        let dtheta = if self.kink > T::ZERO {
            let holder = (T::TWO * err).sqrt();
            if collinear {
                holder
            } else {
                let s = ((T::ONE - rho) * (T::ONE + rho)).sqrt();
                let linear = err / s;
                if linear < holder {
                    linear
                } else {
                    holder
                }
            }
        } else {
            T::ZERO
        };
        self.t_step = worse(self.t_step, curv * err + self.kink * dtheta);
        *a = narrow(amp * err);
        if !(*a <= self.amax) {
            self.amax = *a;
        }
        // Collinear inputs of equal variance stay collinear through any map
        // (u = v), opposite ones through odd and even maps (v = −u).
        let next = if !collinear {
            RESOLVED
        } else if self.homogeneous || (equal && (rho > T::ZERO || self.parity)) {
            0.0
        } else {
            UNKNOWN
        };
        *z = next;
        self.tracking |= next != RESOLVED;
    }

    /// A contracting map without curvature (the ABReLU family) on a tile,
    /// before it: `rows` yields each row's index, variance and the
    /// covariances of its pairs, with the index of its first column. When no
    /// pair snaps to ±1 (the common case) every pair's error grows by the
    /// same rounding, and the kink moves Σ̇ by at most
    /// min(δρ/sin θ, √(2δρ)) over the tile; otherwise pair by pair.
    pub fn contracting<'r>(
        &mut self,
        rows: impl Iterator<Item = (usize, Var<T>, usize, &'r [T])> + Clone,
        (vc, rc): (&[Var<T>], &[T]),
    ) where
        T: 'r,
    {
        let edge = snap_edge::<T>();
        let mut s2min = T::INFINITY;
        let mut collinear = false;
        // Lane-wise minima, so that the loop vectorises.
        const L: usize = crate::simd::LANES;
        let mut mins = [T::INFINITY; L];
        let mut snaps = [false; L];
        let mut lane = |k: T, ri: T, rj: T, l: usize| {
            // As `cosine` and `snap`, in selects.
            let c = cosine(k, ri, rj).abs();
            let snapped = !(c < edge);
            let s2 = if snapped {
                T::INFINITY
            } else {
                (T::ONE - c) * (T::ONE + c)
            };
            if let (Some(m), Some(f)) = (mins.get_mut(l), snaps.get_mut(l)) {
                *m = if s2 < *m { s2 } else { *m };
                *f |= snapped;
            }
        };
        for (_, vi, first, krow) in rows.clone() {
            let rcs = rc.get(first..).unwrap_or(&[]);
            let n = krow.len().min(rcs.len());
            let (kc, kt) = krow[..n].as_chunks::<L>();
            let (rcc, rct) = rcs[..n].as_chunks::<L>();
            for (ks, rs) in kc.iter().zip(rcc) {
                for l in 0..L {
                    lane(ks[l], vi.r, rs[l], l);
                }
            }
            for (&k, &rj) in kt.iter().zip(rct) {
                lane(k, vi.r, rj, 0);
            }
        }
        for (&m, &f) in mins.iter().zip(&snaps) {
            s2min = if m < s2min { m } else { s2min };
            collinear |= f;
        }
        if collinear {
            for (i, vi, first, krow) in rows {
                for (lj, (&k, &vj)) in krow.iter().zip(vc.get(first..).unwrap_or(&[])).enumerate() {
                    self.pair((i, first + lj), (vi, vj, k), (T::ONE, T::ZERO));
                }
            }
            return;
        }
        let err = self.largest();
        if self.kink > T::ZERO && s2min < T::INFINITY {
            let holder = (T::TWO * err).sqrt();
            let linear = err / s2min.sqrt();
            self.t_step = worse(
                self.t_step,
                self.kink * if linear < holder { linear } else { holder },
            );
        }
        let since = narrow(self.since);
        for row in self.a.iter_mut() {
            for a in row.iter_mut() {
                *a += since;
            }
        }
        self.amax += since;
    }

    /// After the nonlinearity.
    pub fn end(&mut self) {
        let four = T::TWO * T::TWO * T::EPSILON;
        self.t += self.t_step + self.t_quad + four;
        self.since = four;
        self.q += four;
    }

    /// The largest correlation error over the pairs (a repeated input's
    /// stays 0); NaN if any is.
    fn largest(&self) -> T {
        T::from_f64(f64::from(self.amax)) + self.since
    }

    /// The tile's bound, doubled for what the first-order terms leave out
    /// (NaN if any part is).
    pub fn estimate(&self) -> T {
        worse(self.largest(), self.t)
    }
}

/// Whether an error bound is within [`PRECISION_LIMIT`](super::PRECISION_LIMIT)
/// (NaN is not).
///
/// Compared in `T`, so that an `f32` build links no double-precision
/// arithmetic: the limit 10⁻² rounds down to `f32` (to 0.0099999998), the
/// largest `f32` not above it, so `bound ≤ limit` holds in `f32` exactly
/// when it holds in `f64`.
pub(crate) fn accepted<T: Real>(bound: T) -> bool {
    bound <= T::from_f64(super::PRECISION_LIMIT)
}

/// A bound stored in `f32`, rounded up to stay a bound (∞ beyond its range,
/// NaN kept).
fn narrow<T: Real>(v: T) -> f32 {
    let x = v.to_f64();
    let n = x as f32;
    if f64::from(n) < x {
        n * (1.0 + f32::EPSILON)
    } else {
        n
    }
}

/// The bounds of one pair of inputs `x1`, `x2` with Σ⁰ = `s`, before the
/// first step (the kernel routine of a single pair).
pub(crate) fn pair_start<T: Real>(x1: &[T], x2: &[T], s: &PairState<T>) -> Errors<T> {
    let mut e = Errors::new(x1.len());
    if ENABLED {
        let (vi, vj) = (Var::new(s.sigma11), Var::new(s.sigma22));
        e.start((0, 0), (vi, vj, s.sigma12), || x1 == x2, || deficit(x1, x2));
    }
    e
}

/// One step of the pair routine: `before` is the state it started from and
/// `traced` what a nonlinear step computed (`step::apply_pair_traced`).
pub(crate) fn pair_step<T: Real>(
    e: &mut Errors<T>,
    step: &Step<T>,
    before: &PairState<T>,
    traced: Option<&Traced<T>>,
) {
    match (*step, traced) {
        (Step::Affine { w2, b2 } | Step::AffineStandard { w2, b2, .. }, _) => {
            e.affine_pair((0, 0), (before.sigma11, before.sigma22), (w2, b2));
            e.affine();
        }
        (_, Some(t)) => {
            let [f1, f2] = [(before.sigma11, t.diag[0]), (before.sigma22, t.diag[1])]
                .map(|(q, (q2, dot))| step.input_factors(q, q2, dot));
            let e2 = step.second_moment(t.vi, t.vj, t.k, t.out, f1.b * f2.b);
            e.begin(step.kink(), step.symmetries(), matches!(step, Step::Sin));
            let spread = (t.out.1.abs() * f1.g * f2.g, e2 * f1.h * f2.h);
            e.pair((0, 0), (t.vi, t.vj, t.k), spread);
            e.quadrature((0, 0), (t.quad.0, t.quad.1));
            e.end();
            e.quadrature_diagonal(t.quad.2);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::accepted;
    use crate::analytic::PRECISION_LIMIT;

    /// The `f32` comparison agrees with the exact one in `f64` on the `f32`
    /// values around the limit, and on the special values.
    #[test]
    fn accepted_in_f32_agrees_with_f64() {
        let near = (PRECISION_LIMIT as f32).to_bits();
        let special = [0.0_f32, -0.0, 1e-30, 1.0, f32::INFINITY, f32::NAN, f32::MAX];
        let around = (near - 4..=near + 4).map(f32::from_bits);
        for v in special.into_iter().chain(around) {
            let exact = f64::from(v) <= PRECISION_LIMIT;
            assert_eq!(accepted(v), exact, "{v:e}");
            assert_eq!(accepted(f64::from(v)), exact, "{v:e}");
        }
        assert!(accepted(PRECISION_LIMIT));
        assert!(!accepted(PRECISION_LIMIT * (1.0 + f64::EPSILON)));
    }
}
