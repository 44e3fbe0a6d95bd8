//! The bound model of the `empirical` target: for the 3-5-2 network it
//! fuzzes, the per-input factors of the empirical NTK from the network's own
//! forward pass, elementwise bounds on their rounding errors, and from them
//! a bound on every entry of every kernel form, in either precision; which
//! inputs every method must accept; and the Weyl bound on the smallest
//! eigenvalue of a computed Gram matrix.

use crate::{eigenvalues_jacobi, gamma, max_abs, U32, U64};
use ntk::nn::{Activation, Dense, Module};
use ntk::Real;

pub const D: usize = 3;
pub const H: usize = 5;
pub const K: usize = 2;
pub const N: usize = 5;
pub const M: usize = 2;
/// Parameters of the network.
pub const P: usize = D * H + H + H * K + K;
pub type Net<T, A> = (Dense<T, D, H>, A, Dense<T, H, K>);

/// Bounds on an activation: |φ′| ≤ l0, |φ″| ≤ l1 away from kinks, and the
/// jump of φ′ across a kink at 0.
#[derive(Clone, Copy)]
pub struct Lip {
    pub l0: f64,
    pub l1: f64,
    pub jump: f64,
}

/// The first `C` values of `v`, as `f64`.
pub fn to64<T: Real, const C: usize>(v: &[T]) -> [f64; C] {
    core::array::from_fn(|i| v[i].to_f64())
}

impl Lip {
    /// ReLU: a kink at 0 where φ′ jumps by 1.
    pub const RELU: Lip = Lip {
        l0: 1.0,
        l1: 0.0,
        jump: 1.0,
    };
    /// |x|: φ′ jumps by 2.
    pub const ABS: Lip = Lip {
        l0: 1.0,
        l1: 0.0,
        jump: 2.0,
    };
    /// erf(x): |φ′| ≤ 2/√π, |φ″| ≤ 0.9679.
    pub const ERF: Lip = Lip {
        l0: 1.1284,
        l1: 0.9679,
        jump: 0.0,
    };
    /// GELU.
    pub const GELU: Lip = Lip {
        l0: 1.13,
        l1: 0.8,
        jump: 0.0,
    };
    /// sin(x).
    pub const SIN: Lip = Lip {
        l0: 1.0,
        l1: 1.0,
        jump: 0.0,
    };
    /// tanh(x).
    pub const TANH: Lip = Lip {
        l0: 1.0,
        l1: 0.77,
        jump: 0.0,
    };
    /// The identity.
    pub const IDENTITY: Lip = Lip {
        l0: 1.0,
        l1: 0.0,
        jump: 0.0,
    };

    /// A leaky ReLU of slope `a`: φ′ jumps by |1 − a|.
    pub fn leaky_relu(a: f64) -> Lip {
        Lip {
            l0: a.abs().max(1.0),
            l1: 0.0,
            jump: (1.0 - a).abs(),
        }
    }
}

/// What the harness knows about one value of the network's scalar type.
pub trait Scalar: Real {
    /// Smallest positive subnormal.
    const ETA: f64;
    /// Unit roundoff.
    const U: f64;
}
impl Scalar for f32 {
    const ETA: f64 = 1.401_298_464_324_817e-45;
    const U: f64 = U32;
}
impl Scalar for f64 {
    const ETA: f64 = 4.940_656_458_412_465e-324;
    const U: f64 = U64;
}

/// Per-input factors of the kernel, from the network's own forward pass:
/// `A_l = [ws_l·a_l, bs_l]` and `D_lk = ∂f_k/∂y_l` for layer 0 (layer 1's is
/// the unit vector `e_k`), with elementwise error bounds for an evaluation
/// with rounding unit `u` (zero for the exact factors).
#[derive(Clone, Copy)]
pub struct Factors {
    pub a0: [f64; D + 1],
    pub da0: [f64; D + 1],
    pub a1: [f64; H + 1],
    pub da1: [f64; H + 1],
    pub d0: [[f64; H]; K],
    pub dd0: [[f64; H]; K],
    /// The first layer's pre-activations.
    pub h1: [f64; H],
    /// Largest intermediate magnitude of either method.
    pub biggest: f64,
    /// Smallest diagonal `Θ_kk(x, x)` over the outputs that is not exactly
    /// zero (∞ if none):
    /// the range check of both methods refuses one below `MIN_POSITIVE/ε`.
    pub smallest_diag: f64,
    /// `|ws₁|`: the Jacobian method forms `(δ·ws₁)·x`, so an underflow of
    /// `δ·ws₁` costs up to one subnormal η times `|x|`, that is `η/|ws₁|` in
    /// units of the factor `δ` (see [`Factors::underflow`]).
    pub ws1: f64,
}

impl Factors {
    /// `η/|ws₁|`, or 0 when `ws₁ = 0` (the products are then exactly 0).
    pub fn underflow(&self, eta: f64) -> f64 {
        if self.ws1 == 0.0 {
            0.0
        } else {
            eta / self.ws1
        }
    }
}

pub fn factors<T, A>(net: &Net<T, A>, lip: Lip, x: &[T; D], u: f64, eta: f64) -> Factors
where
    T: Scalar,
    A: Activation<T> + Module<T, [T; H], Output = [T; H]>,
{
    let (ws1, bs1) = net.0.scales();
    let (ws2, bs2) = net.2.scales();
    let (ws1, bs1, ws2, bs2) = (ws1.to_f64(), bs1.to_f64(), ws2.to_f64(), bs2.to_f64());
    let h1 = net.0.eval(x);
    let mut f = Factors {
        a0: [0.0; D + 1],
        da0: [0.0; D + 1],
        a1: [0.0; H + 1],
        da1: [0.0; H + 1],
        d0: [[0.0; H]; K],
        dd0: [[0.0; H]; K],
        h1: to64(&h1),
        biggest: 0.0,
        smallest_diag: f64::INFINITY,
        ws1: ws1.abs(),
    };
    // Largest magnitude seen; NaN counts as ∞ (f64::max would drop it).
    let mut big = 0.0_f64;
    let mut see = |v: f64| {
        big = if v.is_nan() {
            f64::INFINITY
        } else {
            big.max(v.abs())
        };
    };
    for v in [ws1, ws2, bs1, bs2] {
        see(v);
    }
    for i in 0..D {
        f.a0[i] = (ws1 * x[i].to_f64()).abs();
        f.da0[i] = gamma(3, u) * f.a0[i] + eta;
    }
    f.a0[D] = bs1.abs();
    for o in 0..H {
        // |h₁| as computed and its error: Σ|W||x| scaled, plus the bias term.
        let dot: f64 = (0..D)
            .map(|i| (net.0.weight[o][i].to_f64() * x[i].to_f64()).abs())
            .sum();
        let s1 = ws1.abs() * dot + (bs1 * net.0.bias[o].to_f64()).abs();
        see(dot);
        see(s1);
        let e_h = gamma(D + 6, u) * s1 + 8.0 * eta;
        let h = f.h1[o];
        let a = net.1.value(h1[o]).to_f64();
        let da = lip.l0 * e_h + 8.0 * u * (a.abs() + h.abs() + 1.0) + 8.0 * eta;
        let dphi = net.1.derivative(h1[o]).to_f64();
        let near_kink = lip.jump > 0.0 && h.abs() <= 2.0 * e_h + 16.0 * eta;
        let ddphi = if near_kink { lip.jump } else { lip.l1 * e_h }
            + 8.0 * u * (dphi.abs() + 1.0)
            + 8.0 * eta;
        f.a1[o] = (ws2 * a).abs();
        for v in [h, a, dphi, f.a1[o]] {
            see(v);
        }
        f.da1[o] = ws2.abs() * da + gamma(3, u) * ws2.abs() * (a.abs() + da) + eta;
        for k in 0..K {
            let w = (ws2 * net.2.weight[k][o].to_f64()).abs();
            f.d0[k][o] = w * dphi.abs();
            f.dd0[k][o] =
                w * ddphi + gamma(4, u) * w * (dphi.abs() + ddphi) + 4.0 * eta + f.underflow(eta);
            see(w);
            see(f.d0[k][o]);
            see(f.d0[k][o] * ws1);
        }
    }
    f.a1[H] = bs2.abs();
    let sq = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
    let (ga0, ga1) = (sq(&f.a0), sq(&f.a1));
    see(ga0);
    see(ga1);
    for k in 0..K {
        let gd = sq(&f.d0[k]);
        see(gd);
        see(gd * ga0 + ga1);
        // Exactly zero only when a factor of each term is zero in exact
        // arithmetic; a product that underflowed to 0 counts as tiny.
        let x_nz = x.iter().any(|v| v.to_f64() != 0.0);
        let a_nz = (0..H).any(|o| net.1.value(h1[o]).to_f64() != 0.0);
        let d_nz = ws2 != 0.0
            && (0..H).any(|o| {
                net.2.weight[k][o].to_f64() != 0.0 && net.1.derivative(h1[o]).to_f64() != 0.0
            });
        let zero =
            !(d_nz && ((ws1 != 0.0 && x_nz) || bs1 != 0.0)) && !(ws2 != 0.0 && a_nz) && bs2 == 0.0;
        if !zero {
            f.smallest_diag = f.smallest_diag.min(gd * ga0 + ga1);
        }
    }
    f.biggest = big;
    f
}

/// Upper bounds `(|exact kernel|, error)` for block `(k, k2)` of the pair
/// `(fi, fj)`: with `|A|+ΔA` and `|D|+ΔD` the products of every factor are
/// bounded elementwise, then every dot product adds `γ_{P+10}` relative and
/// one subnormal per term.
pub fn pair_bound(fi: &Factors, fj: &Factors, k: usize, k2: usize, u: f64, eta: f64) -> (f64, f64) {
    let dot = |a: &[f64], da: &[f64], b: &[f64], db: &[f64]| -> (f64, f64) {
        let exact: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let plus: f64 = (0..a.len()).map(|i| (a[i] + da[i]) * (b[i] + db[i])).sum();
        (exact, plus)
    };
    let (gd0, gd0p) = dot(&fi.d0[k], &fi.dd0[k], &fj.d0[k2], &fj.dd0[k2]);
    let (ga0, ga0p) = dot(&fi.a0, &fi.da0, &fj.a0, &fj.da0);
    let (ga1, ga1p) = dot(&fi.a1, &fi.da1, &fj.a1, &fj.da1);
    let unit = if k == k2 { 1.0 } else { 0.0 };
    let exact = gd0 * ga0 + unit * ga1;
    let plus = gd0p * ga0p + unit * ga1p;
    let n = P + 10;
    // A Jacobian entry D·A that underflows loses up to η, which the
    // contraction multiplies by the other side's entries.
    let l1 = |a: &[f64], da: &[f64]| a.iter().zip(da).map(|(x, d)| x + d).sum::<f64>();
    let side =
        |f: &Factors, k: usize| l1(&f.d0[k], &f.dd0[k]) * l1(&f.a0, &f.da0) + l1(&f.a1, &f.da1);
    let err = (plus - exact)
        + gamma(n, u) * plus
        + n as f64 * eta * (1.0 + gd0p + ga0p + ga1p)
        + eta * (side(fi, k) + side(fj, k2));
    // ∞·0 in a vacuous bound: no bound at all.
    (exact, if err.is_nan() { f64::INFINITY } else { err })
}

/// The error bound of every entry of every kernel form, for rounding unit
/// `u`, times a safety factor of 2.
pub struct Bounds {
    pub trace: [[f64; N]; N],
    pub blocks: [[[[f64; K]; K]; N]; N],
    pub cross: [[f64; N]; M],
    pub cross_blocks: [[[[f64; K]; K]; N]; M],
}

pub fn bounds(train: &[Factors; N], test: &[Factors; M], u: f64, eta: f64) -> Bounds {
    let blk = |fi: &Factors, fj: &Factors| -> [[f64; K]; K] {
        core::array::from_fn(|k| {
            core::array::from_fn(|k2| 2.0 * pair_bound(fi, fj, k, k2, u, eta).1)
        })
    };
    let blocks: [[[[f64; K]; K]; N]; N] =
        core::array::from_fn(|i| core::array::from_fn(|j| blk(&train[i], &train[j])));
    let cross_blocks: [[[[f64; K]; K]; N]; M] =
        core::array::from_fn(|i| core::array::from_fn(|j| blk(&test[i], &train[j])));
    let tr = |b: &[[f64; K]; K]| (0..K).map(|k| b[k][k]).sum::<f64>() / K as f64;
    Bounds {
        trace: blocks.map(|row| row.map(|b| tr(&b))),
        cross: cross_blocks.map(|row| row.map(|b| tr(&b))),
        blocks,
        cross_blocks,
    }
}

/// The smallest eigenvalue of a computed Gram matrix is at least minus the
/// Frobenius norm of its error bound (Weyl), up to the oracle's own error.
pub fn assert_psd<const S: usize>(name: &str, g: &[[f64; S]; S], bound: &[f64]) {
    let scale = max_abs(g.as_flattened());
    if scale == 0.0 || !scale.is_finite() {
        return;
    }
    let scaled = g.map(|row| row.map(|v| v / scale));
    let lmin = eigenvalues_jacobi(&scaled)
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let fro = bound
        .iter()
        .map(|b| (b / scale) * (b / scale))
        .sum::<f64>()
        .sqrt();
    assert!(
        lmin >= -(fro + 1e-12 * S as f64),
        "{name}: smallest eigenvalue {lmin:e} (relative) below −{fro:e}"
    );
}

/// Which inputs are fine, which pre-activations are NaN, whether every
/// intermediate quantity of both methods is moderate.
pub struct Status {
    pub finite: bool,
    pub hidden_nan: bool,
    pub moderate: bool,
}

pub fn status<T, A>(net: &Net<T, A>, lip: Lip, xs: &[[T; D]]) -> Status
where
    T: Scalar,
    A: Activation<T> + Module<T, [T; H], Output = [T; H]>,
{
    let finite = xs.as_flattened().iter().all(|v| v.is_finite());
    if !finite {
        return Status {
            finite,
            hidden_nan: false,
            moderate: false,
        };
    }
    let limit = T::MAX.to_f64() * 1e-8;
    // Clear of the range check's lower edge, MIN_POSITIVE/ε.
    let floor = 16.0 * T::MIN_POSITIVE.to_f64() / T::EPSILON.to_f64();
    let fs: Vec<Factors> = xs.iter().map(|x| factors(net, lip, x, 0.0, 0.0)).collect();
    Status {
        finite,
        hidden_nan: fs.iter().any(|f| f.h1.iter().any(|h| h.is_nan())),
        moderate: fs.iter().all(|f| {
            f.biggest < limit && f.smallest_diag >= floor && f.h1.iter().all(|h| h.is_finite())
        }),
    }
}
