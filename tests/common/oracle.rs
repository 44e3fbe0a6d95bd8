//! Oracles independent of the library's own algorithms, shared by the
//! integration tests (`tests/common`) and the fuzz targets (`fuzz/src`
//! includes this file): plain `std` Rust, no `ntk`.

/// Eigenvalues of a small symmetric n×n matrix (row-major, finite entries)
/// by cyclic Jacobi rotations in `f64`, in no particular order.
pub fn eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let mut off = 0.0;
        let mut diag = 0.0;
        for i in 0..n {
            diag += m[i * n + i] * m[i * n + i];
            for j in 0..i {
                off += m[i * n + j] * m[i * n + j];
            }
        }
        if off <= 1e-32 * diag || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = if theta.is_infinite() {
                    0.0
                } else {
                    theta.signum() / (theta.abs() + theta.hypot(1.0))
                };
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * akp - s * akq;
                    m[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * apk - s * aqk;
                    m[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| m[i * n + i]).collect()
}

/// Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1], the
/// nodes by Newton's method on the Legendre polynomial Pₙ.
pub fn legendre(n: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut x = (core::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        out.push((x, 2.0 / ((1.0 - x * x) * dp * dp)));
    }
    out
}

/// Gaussian expectations by adaptive quadrature in the variables
/// themselves: an oracle for the kernels the library computes by a fixed
/// rule in polar coordinates.
///
/// E[f(u)g(v)] for (u, v) centred normal with variances a, b and correlation
/// ρ is E_u[f(u)·E[g(v) | u]], with v | u ~ N(ρ√(b/a)·u, b(1 − ρ²)); each
/// expectation is an integral over mean ± 12 sd against the density, cut
/// where an activation varies ([`Cuts`]) and at mean + k·sd
/// (k = 0, ±1, ±2, ±4, ±8), each piece bisected until an n-point
/// Gauss–Legendre rule on the halves agrees with the whole to `tol` of
/// ∫|integrand| there. Every evaluation counts against a budget; an
/// expectation that exhausts it is `None`.
pub struct GaussOracle {
    rule: Vec<(f64, f64)>,
    budget: std::cell::Cell<u64>,
    cuts: Cuts,
}

/// Where [`GaussOracle::expect`] cuts its range besides mean + k·sd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cuts {
    /// 0, ±1, ±8, ±40.
    Fixed,
    /// 0 and ±4ᵏ (k ≥ 0) up to the edge of the range.
    PowersOfFour,
}

impl GaussOracle {
    /// An oracle with an n-point rule, allowed `budget` evaluations of the
    /// activations in all.
    pub fn new(points: usize, budget: u64, cuts: Cuts) -> Self {
        Self {
            rule: legendre(points),
            budget: std::cell::Cell::new(budget),
            cuts,
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
        let mut cuts = vec![lo, hi, 0.0];
        match self.cuts {
            Cuts::Fixed => {
                for c in [1.0, 8.0, 40.0] {
                    cuts.extend([c, -c]);
                }
            }
            Cuts::PowersOfFour => {
                let mut x = 1.0;
                while x < hi.abs().max(lo.abs()) {
                    cuts.extend([x, -x]);
                    x *= 4.0;
                }
            }
        }
        for k in [-8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0] {
            cuts.push(mean + k * sd);
        }
        cuts.retain(|&c| c >= lo && c <= hi);
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        let norm = 1.0 / (sd * (2.0 * core::f64::consts::PI).sqrt());
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
