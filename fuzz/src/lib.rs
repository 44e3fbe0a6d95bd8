//! Typed fuzz inputs and the oracles shared by the `ntk` fuzz targets.
//!
//! Raw `f64` bits almost never land on the values that break numerical code
//! (±0, ±∞, NaN, 1e300, the edge of the `f32` range, subnormals), so every
//! scalar of a fuzz input is a [`Num`]: mostly small dyadic values that give
//! well-conditioned problems, and now and then a special value, a value of any
//! scale, or raw bits.

use arbitrary::{Arbitrary, Unstructured};

/// A scalar of a fuzz input.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Num {
    /// `v / 16`: moderate values on a fine dyadic grid, exactly representable
    /// in `f32` and `f64`.
    Small(i8),
    /// `m · 2^(e mod 1100 − 550) / 2^15`: any scale from subnormal to beyond
    /// the `f64` range.
    Scaled(i16, i16),
    /// A value chosen to break things.
    Special(Special),
    /// Raw bits.
    Bits(u64),
}

/// Values that break numerical code.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// 0.
    Zero,
    /// −0.
    NegZero,
    /// NaN.
    Nan,
    /// +∞.
    Inf,
    /// −∞.
    NegInf,
    /// 1e30, overflows once squared in `f32`.
    E30,
    /// −1e30.
    NegE30,
    /// 1e300, overflows once squared in `f64`.
    E300,
    /// −1e300.
    NegE300,
    /// 1e-300.
    Tiny,
    /// The largest finite `f64`.
    Max,
    /// The largest finite `f32`.
    F32Max,
    /// Just above the largest finite `f32`: finite in `f64`, ∞ in `f32`.
    AboveF32Max,
    /// The smallest positive normal `f64`.
    MinPositive,
    /// The smallest positive subnormal `f64`.
    Subnormal,
    /// 1 + 2⁻⁵², the neighbour of 1.
    OnePlusUlp,
}

impl Num {
    /// The value as `f64`.
    pub fn get(self) -> f64 {
        match self {
            Num::Small(v) => f64::from(v) / 16.0,
            Num::Scaled(m, e) => {
                let e = i32::from(e).rem_euclid(1100) - 550;
                f64::from(m) / 32768.0 * pow2(e)
            }
            Num::Special(s) => match s {
                Special::Zero => 0.0,
                Special::NegZero => -0.0,
                Special::Nan => f64::NAN,
                Special::Inf => f64::INFINITY,
                Special::NegInf => f64::NEG_INFINITY,
                Special::E30 => 1e30,
                Special::NegE30 => -1e30,
                Special::E300 => 1e300,
                Special::NegE300 => -1e300,
                Special::Tiny => 1e-300,
                Special::Max => f64::MAX,
                Special::F32Max => f64::from(f32::MAX),
                Special::AboveF32Max => 3.5e38,
                Special::MinPositive => f64::MIN_POSITIVE,
                Special::Subnormal => f64::from_bits(1),
                Special::OnePlusUlp => 1.0 + f64::EPSILON,
            },
            Num::Bits(b) => f64::from_bits(b),
        }
    }
}

/// 2^e for any `e`, saturating to 0 and ∞ outside the `f64` range.
fn pow2(e: i32) -> f64 {
    let mut v = 1.0_f64;
    let step = if e >= 0 { 2.0 } else { 0.5 };
    for _ in 0..e.unsigned_abs().min(1100) {
        v *= step;
    }
    v
}

/// Values of an array of [`Num`].
pub fn values<const N: usize>(nums: &[Num; N]) -> [f64; N] {
    nums.map(Num::get)
}

/// Values of a matrix of [`Num`].
pub fn matrix<const R: usize, const C: usize>(nums: &[[Num; C]; R]) -> [[f64; C]; R] {
    nums.map(|row| row.map(Num::get))
}

/// Rounds to `f32` and back: the value an `f32` computation starts from.
pub fn round_f32(x: f64) -> f64 {
    f64::from(x as f32)
}

/// Unit roundoff of `f32`, 2⁻²⁴.
pub const U32: f64 = 1.0 / 16_777_216.0;

/// Unit roundoff of `f64`, 2⁻⁵³.
pub const U64: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Higham's γₙ = n·u / (1 − n·u): the relative error bound of a sum or dot
/// product of `n` terms in any order, rounding unit `u`.
pub fn gamma(n: usize, u: f64) -> f64 {
    let nu = n as f64 * u;
    nu / (1.0 - nu)
}

/// The bound model of the `empirical` target.
pub mod empirical_bounds;

/// Oracles independent of the library's own algorithms, shared with the
/// integration tests: the Jacobi eigenvalues and the Gauss–Legendre rule.
#[path = "../../tests/common/oracle.rs"]
pub mod oracle;

/// Eigenvalues of a small symmetric matrix by cyclic Jacobi in `f64`
/// ([`oracle::eigenvalues`]): an oracle independent of the library's own
/// solvers. `a` must be finite.
pub fn eigenvalues_jacobi<const N: usize>(a: &[[f64; N]; N]) -> [f64; N] {
    let v = oracle::eigenvalues(a.as_flattened(), N);
    core::array::from_fn(|i| v[i])
}

/// `true` when every value is finite.
pub fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Largest absolute value (NaN counts as ∞).
pub fn max_abs<'a>(v: impl IntoIterator<Item = &'a f64>) -> f64 {
    v.into_iter().fold(0.0_f64, |m, &x| {
        if x.is_nan() {
            f64::INFINITY
        } else {
            m.max(x.abs())
        }
    })
}

/// Builds a value from raw bytes, for targets that take a few typed fields
/// and free-form bytes.
pub fn take<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>) -> Option<T> {
    T::arbitrary(u).ok()
}

/// The `kernel` example's reader and writer (`run`), compiled from the
/// example's own source so that the `text` target exercises its code path.
#[allow(dead_code)]
#[path = "../../examples/kernel.rs"]
pub mod kernel_example;

/// `(line, column)` of byte `offset` of `text`, both from 1, columns in
/// characters: the characters before `offset` counted one by one (an oracle
/// for `ntk::analytic::text::locate`).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before: Vec<char> = text[..offset].chars().collect();
    let line = 1 + before.iter().filter(|&&c| c == '\n').count();
    let column = 1 + before.iter().rev().take_while(|&&c| c != '\n').count();
    (line, column)
}

/// Gaussian expectations by adaptive quadrature in the variables
/// themselves: an oracle for the kernels the library computes by a fixed
/// rule in polar coordinates.
///
/// E[f(u)g(v)] for (u, v) centred normal with variances a, b and correlation
/// ρ is E_u[f(u)·E[g(v) | u]], with v | u ~ N(ρ√(b/a)·u, b(1 − ρ²)); each
/// expectation is an integral over mean ± 12 sd against the density, cut at
/// 0, ±1, ±8, ±40 (where an activation varies) and at mean + k·sd
/// (k = 0, ±1, ±2, ±4, ±8), each piece bisected until a 16-point
/// Gauss–Legendre rule on the halves agrees with the whole to `tol` of
/// ∫|integrand| there. Every evaluation counts against a budget; an
/// expectation that exhausts it is `None`.
pub struct GaussOracle {
    rule: Vec<(f64, f64)>,
    budget: std::cell::Cell<u64>,
}

impl GaussOracle {
    /// An oracle allowed `budget` evaluations of the activations in all.
    pub fn new(budget: u64) -> Self {
        let rule = oracle::legendre(16);
        Self {
            rule,
            budget: std::cell::Cell::new(budget),
        }
    }

    fn panel(&self, f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> Option<(f64, f64)> {
        let left = self.budget.get().checked_sub(self.rule.len() as u64)?;
        self.budget.set(left);
        let (h, m) = ((b - a) / 2.0, (b + a) / 2.0);
        let (mut s, mut t) = (0.0, 0.0);
        for &(x, w) in &self.rule {
            let v = f(m + h * x);
            s += w * v;
            t += w * v.abs();
        }
        Some((h * s, h * t))
    }

    fn adapt(
        &self,
        f: &dyn Fn(f64) -> f64,
        (a, b): (f64, f64),
        whole: f64,
        (tol, density): (f64, f64),
        depth: u32,
    ) -> Option<f64> {
        let m = (a + b) / 2.0;
        let (l, la) = self.panel(f, a, m)?;
        let (r, ra) = self.panel(f, m, b)?;
        let err = (l + r - whole).abs();
        // Relative to the panel's ∫|f|, or to its share of the whole's
        // (where the integrand is negligible, and may underflow unevenly).
        let done = err <= tol * (la + ra) || err <= density * (b - a);
        if done || depth == 0 || !(m > a && m < b) {
            return Some(l + r);
        }
        let t = (tol, density);
        Some(self.adapt(f, (a, m), l, t, depth - 1)? + self.adapt(f, (m, b), r, t, depth - 1)?)
    }

    /// E[h(x)] for x ~ N(`mean`, `sd`²), to `tol` relative to E[|h(x)|].
    pub fn expect(&self, h: &dyn Fn(f64) -> f64, mean: f64, sd: f64, tol: f64) -> Option<f64> {
        if sd == 0.0 {
            return Some(h(mean));
        }
        let (lo, hi) = (mean - 12.0 * sd, mean + 12.0 * sd);
        let mut cuts = vec![lo, hi];
        for c in [0.0, 1.0, 8.0, 40.0] {
            cuts.extend([c, -c]);
        }
        for k in [-8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0] {
            cuts.push(mean + k * sd);
        }
        cuts.retain(|&c| c >= lo && c <= hi);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        let norm = 1.0 / (sd * (2.0 * std::f64::consts::PI).sqrt());
        let f = |x: f64| {
            let z = (x - mean) / sd;
            h(x) * (-0.5 * z * z).exp() * norm
        };
        let mut wholes = Vec::with_capacity(cuts.len());
        let mut size = 0.0;
        for w in cuts.windows(2) {
            let (whole, abs) = self.panel(&f, w[0], w[1])?;
            wholes.push(whole);
            size += abs;
        }
        let density = tol * size / (hi - lo);
        let mut total = 0.0;
        for (w, whole) in cuts.windows(2).zip(wholes) {
            total += self.adapt(&f, (w[0], w[1]), whole, (tol, density), 20)?;
        }
        Some(total)
    }

    /// E[f(u)²] for u ~ N(0, a).
    pub fn diag(&self, f: fn(f64) -> f64, a: f64) -> Option<f64> {
        self.expect(&|u| f(u) * f(u), 0.0, a.max(0.0).sqrt(), 1e-14)
    }

    /// E[f(u)g(v)] for (u, v) centred normal with variances `a`, `b` and
    /// correlation `rho`.
    pub fn pair(
        &self,
        f: fn(f64) -> f64,
        g: fn(f64) -> f64,
        a: f64,
        b: f64,
        rho: f64,
    ) -> Option<f64> {
        let (sa, sb) = (a.max(0.0).sqrt(), b.max(0.0).sqrt());
        if sa == 0.0 {
            return Some(f(0.0) * self.expect(&g, 0.0, sb, 1e-14)?);
        }
        let sd = sb * ((1.0 - rho) * (1.0 + rho)).max(0.0).sqrt();
        let failed = std::cell::Cell::new(false);
        let inner = |u: f64| {
            let m = rho * (sb / sa) * u;
            match self.expect(&g, m, sd, 1e-13) {
                Some(e) => f(u) * e,
                None => {
                    failed.set(true);
                    0.0
                }
            }
        };
        // Looser outside: the inner expectations carry their own errors.
        let e = self.expect(&inner, 0.0, sa, 1e-10)?;
        if failed.get() {
            None
        } else {
            Some(e)
        }
    }
}
