//! The empirical NTK of a 3-5-2 network with arbitrary weights, scales,
//! activation and inputs.
//!
//! Properties, for `f64` and `f32`, structured and Jacobian methods, plain,
//! block and cross forms:
//!
//! - the error is the documented one: `BufferTooSmall { needed, given }` for a
//!   short workspace, `NonFinite { what: "inputs" }` for a non-finite input,
//!   `NonFinite { what: "network parameters" }` for a non-finite weight, bias,
//!   scale or slope, `Overflow` for a NaN or ∞ arising from finite data
//!   (including a NaN pre-activation that an activation would hide);
//!   every error leaves the output zeroed;
//! - when every intermediate quantity of both methods stays below 1e300, both
//!   succeed;
//! - an `Ok` kernel is finite, bitwise symmetric (blocks: `[i][j][k][k']` ==
//!   `[j][i][k'][k]`), has a non-negative diagonal, is positive semidefinite
//!   within its rounding bound, equals the cross kernel of the inputs with
//!   themselves bitwise, gives value-equal inputs identical rows, and its
//!   trace form is the mean of the diagonal blocks;
//! - structured = Jacobian contraction within a rounding-error bound;
//! - `f32` against `f64`: whenever every value of the network and inputs,
//!   rounded to `f32`, is finite and at most 100 in magnitude, the `f32`
//!   kernel (both methods) succeeds and lies within a forward-error bound of
//!   the `f64` kernel of the same rounded network (see [`f32_bound`]).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    Abs, Activation, Dense, Erf, Gelu, Identity, LeakyRelu, Module, Parameterization, Params, Relu,
    Sin, Tanh,
};
use ntk::{Error, Real};
use ntk_fuzz::{eigenvalues_jacobi, gamma, max_abs, round_f32, Num, U32, U64};

const D: usize = 3;
const H: usize = 5;
const K: usize = 2;
const N: usize = 5;
const M: usize = 2;
/// Parameters of the network.
const P: usize = D * H + H + H * K + K;
/// Sentinel written into outputs before a call.
const SENTINEL: f64 = 7.0;

type Net<T, A> = (Dense<T, D, H>, A, Dense<T, H, K>);

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Act {
    Relu,
    LeakyRelu(Num),
    Abs,
    Erf,
    Gelu,
    Sin,
    Tanh,
    Identity,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct LayerSpec {
    weight_std: Num,
    bias_std: Num,
    standard: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    act: Act,
    layers: [LayerSpec; 2],
    params: [Num; P],
    train: [[Num; D]; N],
    test: [[Num; D]; M],
    /// Elements taken from the workspace of a first call.
    shortfall: u8,
    /// What the workspace holds before each call: results must not depend
    /// on it.
    workspace_fill: Num,
}

/// Bounds on an activation: |φ′| ≤ l0, |φ″| ≤ l1 away from kinks, and the
/// jump of φ′ across a kink at 0.
#[derive(Clone, Copy)]
struct Lip {
    l0: f64,
    l1: f64,
    jump: f64,
}

/// What the harness knows about one value of the network's scalar type.
trait Scalar: Real {
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

/// What one method produced: the train×train forms and the test×train forms
/// fail or succeed separately (a non-finite test input fails only the latter).
struct Outcome {
    train: Result<(), Error>,
    cross: Result<(), Error>,
    kernels: Kernels,
}

/// Kernels in `f64` (entries of failed forms are meaningless).
#[derive(Clone)]
struct Kernels {
    trace: [[f64; N]; N],
    blocks: [[[[f64; K]; K]; N]; N],
    cross: [[f64; N]; M],
    cross_blocks: [[[[f64; K]; K]; N]; M],
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Structured,
    Jacobian,
}

fn to64<T: Real, const C: usize>(v: &[T]) -> [f64; C] {
    core::array::from_fn(|i| v[i].to_f64())
}

/// Checks what an error left in the output.
fn check_left<T: Real>(r: &Result<(), Error>, out: &[T], call: &str) {
    let Err(e) = r else { return };
    let zeroed = out.iter().all(|v| v.to_f64() == 0.0);
    assert!(zeroed, "{call}: {e:?} left {out:?}");
}

/// Runs every form of one method on `xs` (train) and `xt` (test), checking
/// the properties that hold whatever the scalar type.
fn run_method<T, Net>(
    net: &Net,
    xs: &[[T; D]; N],
    xt: &[[T; D]; M],
    method: Method,
    shortfall: usize,
    fill: f64,
) -> Outcome
where
    T: Scalar,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let s = T::from_f64(SENTINEL);
    let needed_n = match method {
        Method::Structured => structured::workspace_len::<T, Net>(N, K),
        Method::Jacobian => jacobian::workspace_len::<T, [T; D], Net>(N),
    };
    let mut ws = vec![T::from_f64(fill); 2 * needed_n.max(1) * (N + M)];
    let call = |ws: &mut [T], out: &mut [[T; N]; N]| match method {
        Method::Structured => structured::ntk(net, xs, ws, out),
        Method::Jacobian => jacobian::ntk(net, xs, ws, out),
    };

    // A short workspace is the first thing reported, whatever the data.
    if shortfall > 0 && needed_n > 0 {
        let given = needed_n.saturating_sub(shortfall);
        let mut out = [[s; N]; N];
        let r = call(&mut ws[..given], &mut out);
        assert_eq!(
            r,
            Err(Error::BufferTooSmall {
                needed: needed_n,
                given
            }),
            "{method:?}"
        );
        check_left(&r, out.as_flattened(), "short workspace");
    }

    let mut trace = [[s; N]; N];
    let r = call(&mut ws, &mut trace);
    check_left(&r, trace.as_flattened(), "ntk");

    ws.fill(T::from_f64(fill));
    let mut blocks = [[[[s; K]; K]; N]; N];
    let rb = match method {
        Method::Structured => structured::ntk_blocks(net, xs, &mut ws, &mut blocks),
        Method::Jacobian => jacobian::ntk_blocks(net, xs, &mut ws, &mut blocks),
    };
    let flat_b = blocks.as_flattened().as_flattened().as_flattened();
    check_left(&rb, flat_b, "ntk_blocks");

    ws.fill(T::from_f64(fill));
    let mut self_cross = [[s; N]; N];
    let rs = match method {
        Method::Structured => structured::ntk_cross(net, xs, xs, &mut ws, &mut self_cross),
        Method::Jacobian => jacobian::ntk_cross(net, xs, xs, &mut ws, &mut self_cross),
    };
    check_left(&rs, self_cross.as_flattened(), "ntk_cross(xs, xs)");

    ws.fill(T::from_f64(fill));
    let mut cross = [[s; N]; M];
    let rc = match method {
        Method::Structured => structured::ntk_cross(net, xt, xs, &mut ws, &mut cross),
        Method::Jacobian => jacobian::ntk_cross(net, xt, xs, &mut ws, &mut cross),
    };
    check_left(&rc, cross.as_flattened(), "ntk_cross");
    ws.fill(T::from_f64(fill));
    let mut cross_blocks = [[[[s; K]; K]; N]; M];
    let rcb = match method {
        Method::Structured => structured::ntk_blocks_cross(net, xt, xs, &mut ws, &mut cross_blocks),
        Method::Jacobian => jacobian::ntk_blocks_cross(net, xt, xs, &mut ws, &mut cross_blocks),
    };
    check_left(
        &rcb,
        cross_blocks.as_flattened().as_flattened().as_flattened(),
        "ntk_blocks_cross",
    );

    // The forms of one call share their checks: they fail alike, except that
    // one may overflow where another does not.
    for (other, name) in [(&rb, "blocks"), (&rs, "self cross")] {
        match (&r, other) {
            (Ok(()), Ok(())) => {}
            (Err(a), Err(b)) => assert!(
                a == b || matches!((a, b), (Error::Overflow { .. }, Error::Overflow { .. })),
                "{method:?}: ntk {a:?}, {name} {b:?}"
            ),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => assert!(
                matches!(e, Error::Overflow { .. } | Error::PrecisionLoss { .. }),
                "{method:?}: ntk {r:?}, {name} {other:?}"
            ),
        }
    }
    // The cross kernel of a set with itself is the same computation.
    assert_eq!(
        r.is_ok(),
        rs.is_ok(),
        "{method:?}: ntk {r:?}, self cross {rs:?}"
    );
    for (rr, name) in [(&rc, "cross"), (&rcb, "cross blocks")] {
        if let Err(e) = rr {
            let inputs_bad = xt.as_flattened().iter().any(|v| !v.is_finite());
            assert!(
                r.is_err()
                    || inputs_bad
                    || matches!(e, Error::Overflow { .. } | Error::PrecisionLoss { .. }),
                "{method:?}: ntk {r:?} but {name} {e:?}"
            );
        }
    }

    if r.is_ok() {
        for i in 0..N {
            assert!(
                trace[i][i] >= T::ZERO,
                "negative diagonal {:?}",
                trace[i][i]
            );
            for j in 0..N {
                assert!(trace[i][j].is_finite());
                assert_eq!(
                    trace[i][j].to_f64().to_bits(),
                    trace[j][i].to_f64().to_bits(),
                    "{method:?}: not bitwise symmetric at ({i}, {j})"
                );
                assert_eq!(
                    trace[i][j].to_f64().to_bits(),
                    self_cross[i][j].to_f64().to_bits(),
                    "{method:?}: cross(xs, xs) differs from ntk(xs) at ({i}, {j})"
                );
            }
        }
        // Value-equal inputs (−0.0 = 0.0 included) give equal rows.
        for a in 0..N {
            for b in 0..a {
                if xs[a] == xs[b] {
                    for j in 0..N {
                        assert!(
                            trace[a][j] == trace[b][j],
                            "{method:?}: equal inputs {a}, {b} give different rows"
                        );
                    }
                }
            }
        }
    }
    if rb.is_ok() {
        for i in 0..N {
            for j in 0..N {
                for k in 0..K {
                    if i == j {
                        assert!(blocks[i][i][k][k] >= T::ZERO);
                    }
                    for k2 in 0..K {
                        assert!(blocks[i][j][k][k2].is_finite());
                        assert_eq!(
                            blocks[i][j][k][k2].to_f64().to_bits(),
                            blocks[j][i][k2][k].to_f64().to_bits(),
                            "{method:?}: blocks not bitwise symmetric"
                        );
                    }
                }
            }
        }
    }
    if rc.is_ok() {
        assert!(cross.as_flattened().iter().all(|v| v.is_finite()));
    }
    if rcb.is_ok() {
        assert!(cross_blocks
            .as_flattened()
            .as_flattened()
            .as_flattened()
            .iter()
            .all(|v| v.is_finite()));
    }

    let first = |a: Result<(), Error>, b: Result<(), Error>| a.and(b);
    Outcome {
        train: first(first(r, rb), rs),
        cross: first(rc, rcb),
        kernels: Kernels {
            trace: trace.map(|row| to64(&row)),
            blocks: blocks.map(|row| row.map(|b| b.map(|r| to64(&r)))),
            cross: cross.map(|row| to64(&row)),
            cross_blocks: cross_blocks.map(|row| row.map(|b| b.map(|r| to64(&r)))),
        },
    }
}

/// Per-input factors of the kernel, from the network's own forward pass:
/// `A_l = [ws_l·a_l, bs_l]` and `D_lk = ∂f_k/∂y_l` for layer 0 (layer 1's is
/// the unit vector `e_k`), with elementwise error bounds for an evaluation
/// with rounding unit `u` (zero for the exact factors).
#[derive(Clone, Copy)]
struct Factors {
    a0: [f64; D + 1],
    da0: [f64; D + 1],
    a1: [f64; H + 1],
    da1: [f64; H + 1],
    d0: [[f64; H]; K],
    dd0: [[f64; H]; K],
    /// The first layer's pre-activations.
    h1: [f64; H],
    /// Largest intermediate magnitude of either method.
    biggest: f64,
    /// Smallest diagonal `Θ_kk(x, x)` over the outputs that is not exactly
    /// zero (∞ if none):
    /// the range check of both methods refuses one below `MIN_POSITIVE/ε`.
    smallest_diag: f64,
    /// `|ws₁|`: the Jacobian method forms `(δ·ws₁)·x`, so an underflow of
    /// `δ·ws₁` costs up to one subnormal η times `|x|`, that is `η/|ws₁|` in
    /// units of the factor `δ` (see [`Factors::underflow`]).
    ws1: f64,
}

impl Factors {
    /// `η/|ws₁|`, or 0 when `ws₁ = 0` (the products are then exactly 0).
    fn underflow(&self, eta: f64) -> f64 {
        if self.ws1 == 0.0 {
            0.0
        } else {
            eta / self.ws1
        }
    }
}

fn factors<T, A>(net: &Net<T, A>, lip: Lip, x: &[T; D], u: f64, eta: f64) -> Factors
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
fn pair_bound(fi: &Factors, fj: &Factors, k: usize, k2: usize, u: f64, eta: f64) -> (f64, f64) {
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
struct Bounds {
    trace: [[f64; N]; N],
    blocks: [[[[f64; K]; K]; N]; N],
    cross: [[f64; N]; M],
    cross_blocks: [[[[f64; K]; K]; N]; M],
}

fn bounds(train: &[Factors; N], test: &[Factors; M], u: f64, eta: f64) -> Bounds {
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

fn assert_within(name: &str, got: &[f64], want: &[f64], bound: &[f64]) {
    for (i, ((g, w), b)) in got.iter().zip(want).zip(bound).enumerate() {
        assert!(
            (g - w).abs() <= *b,
            "{name}: entry {i}: {g:e} vs {w:e}, difference {:e} > bound {b:e}",
            (g - w).abs()
        );
    }
}

fn compare(name: &str, a: &Kernels, b: &Kernels, bd: &Bounds, with_cross: bool) {
    assert_within(
        &format!("{name} (trace)"),
        a.trace.as_flattened(),
        b.trace.as_flattened(),
        bd.trace.as_flattened(),
    );
    assert_within(
        &format!("{name} (blocks)"),
        a.blocks.as_flattened().as_flattened().as_flattened(),
        b.blocks.as_flattened().as_flattened().as_flattened(),
        bd.blocks.as_flattened().as_flattened().as_flattened(),
    );
    if !with_cross {
        return;
    }
    assert_within(
        &format!("{name} (cross)"),
        a.cross.as_flattened(),
        b.cross.as_flattened(),
        bd.cross.as_flattened(),
    );
    assert_within(
        &format!("{name} (cross blocks)"),
        a.cross_blocks.as_flattened().as_flattened().as_flattened(),
        b.cross_blocks.as_flattened().as_flattened().as_flattened(),
        bd.cross_blocks.as_flattened().as_flattened().as_flattened(),
    );
}

/// The smallest eigenvalue of a computed Gram matrix is at least minus the
/// Frobenius norm of its error bound (Weyl), up to the oracle's own error.
fn assert_psd<const S: usize>(name: &str, g: &[[f64; S]; S], bound: &[f64]) {
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

fn blocks_matrix(b: &[[[[f64; K]; K]; N]; N]) -> [[f64; N * K]; N * K] {
    core::array::from_fn(|r| core::array::from_fn(|c| b[r / K][c / K][r % K][c % K]))
}

/// The `f32` rounding of an `f64` network, and that rounding read back as
/// `f64`.
fn round_net<A64, A32>(
    net: &Net<f64, A64>,
    act32: A32,
    act32_as_64: A64,
) -> (Net<f32, A32>, Net<f64, A64>) {
    fn layer<const I: usize, const O: usize>(
        d: &Dense<f64, I, O>,
    ) -> (Dense<f32, I, O>, Dense<f64, I, O>) {
        let d32 = Dense {
            weight: d.weight.map(|r| r.map(|v| v as f32)),
            bias: d.bias.map(|v| v as f32),
            weight_std: d.weight_std as f32,
            bias_std: d.bias_std as f32,
            parameterization: d.parameterization,
        };
        let d64 = Dense {
            weight: d32.weight.map(|r| r.map(f64::from)),
            bias: d32.bias.map(f64::from),
            weight_std: f64::from(d32.weight_std),
            bias_std: f64::from(d32.bias_std),
            parameterization: d.parameterization,
        };
        (d32, d64)
    }
    let (l0, r0) = layer(&net.0);
    let (l2, r2) = layer(&net.2);
    ((l0, act32, l2), (r0, act32_as_64, r2))
}

/// One activation in both precisions: the `f64` one, the `f32` one, and the
/// `f32` one read back as `f64` (the reference for the `f32` kernel).
struct ActPair<A64, A32> {
    a64: A64,
    a32: A32,
    a32_as_64: A64,
    /// The slope of a leaky ReLU (0 otherwise), and its `f32` rounding.
    slope: f64,
    slope32: f64,
    lip: Lip,
    lip32: Lip,
}

/// Which inputs are fine, which pre-activations are NaN, whether every
/// intermediate quantity of both methods is moderate.
struct Status {
    finite: bool,
    hidden_nan: bool,
    moderate: bool,
}

fn status<T, A>(net: &Net<T, A>, lip: Lip, xs: &[[T; D]]) -> Status
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

fn check<A64, A32>(input: &Input, acts: ActPair<A64, A32>)
where
    A64: Activation<f64>
        + Module<f64, [f64; H], Output = [f64; H]>
        + Params<f64>
        + Clone
        + PartialEq
        + core::fmt::Debug,
    A32: Activation<f32> + Module<f32, [f32; H], Output = [f32; H]> + Params<f32> + Clone,
{
    let spec = |s: &LayerSpec| {
        (
            s.weight_std.get(),
            s.bias_std.get(),
            if s.standard {
                Parameterization::Standard
            } else {
                Parameterization::Ntk
            },
        )
    };
    let (w0, b0, p0) = spec(&input.layers[0]);
    let (w1, b1, p1) = spec(&input.layers[1]);
    let mut net: Net<f64, A64> = (
        Dense::zeros(w0, b0, p0),
        acts.a64.clone(),
        Dense::zeros(w1, b1, p1),
    );
    let flat = input.params.map(Num::get);

    // read_flat: all or nothing.
    let before = net.clone();
    let rf = net.read_flat(&flat);
    if flat.iter().all(|v| v.is_finite()) {
        assert_eq!(rf, Ok(()));
        let mut back = [0.0; P];
        assert_eq!(net.write_flat(&mut back), Ok(()));
        assert!(back
            .iter()
            .zip(&flat)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    } else {
        assert_eq!(
            rf,
            Err(Error::NonFinite {
                what: "flat parameters"
            })
        );
        // Untouched (compared by their printed form: NaN scales are equal there).
        assert_eq!(format!("{net:?}"), format!("{before:?}"));
        // Non-finite parameters are still reachable through the public fields.
        let mut at = 0;
        net.visit_mut(&mut |s| {
            s.copy_from_slice(&flat[at..at + s.len()]);
            at += s.len();
        });
    }
    let xs: [[f64; D]; N] = input.train.map(|r| r.map(Num::get));
    let xt: [[f64; D]; M] = input.test.map(|r| r.map(Num::get));
    let shortfall = usize::from(input.shortfall % 8);
    let fill = input.workspace_fill.get();

    let params_finite =
        net.is_finite() && [w0, b0, w1, b1, acts.slope].iter().all(|v| v.is_finite());
    check_precision(&net, params_finite, acts.lip, &xs, &xt, shortfall, fill);

    let (net32, reference) = round_net(&net, acts.a32, acts.a32_as_64);
    let params32_finite = net32.is_finite()
        && [w0, b0, w1, b1, acts.slope32]
            .iter()
            .all(|v| (*v as f32).is_finite());
    let xs32: [[f32; D]; N] = xs.map(|r| r.map(|v| v as f32));
    let xt32: [[f32; D]; M] = xt.map(|r| r.map(|v| v as f32));
    let xs_r = xs.map(|r| r.map(round_f32));
    let xt_r = xt.map(|r| r.map(round_f32));
    let (s32, j32) = check_precision(
        &net32,
        params32_finite,
        acts.lip32,
        &xs32,
        &xt32,
        shortfall,
        fill,
    );

    // f32 against the f64 kernel of the same rounded network, when every
    // rounded value is moderate.
    let mut values = [0.0; P];
    assert_eq!(reference.write_flat(&mut values), Ok(()));
    let scales = [
        reference.0.weight_std,
        reference.0.bias_std,
        reference.2.weight_std,
        reference.2.bias_std,
        acts.slope32,
    ];
    let moderate = values
        .iter()
        .chain(xs_r.as_flattened())
        .chain(xt_r.as_flattened())
        .chain(&scales)
        .all(|v| v.is_finite() && v.abs() <= 100.0);
    if !moderate {
        return;
    }
    let eta = <f32 as Scalar>::ETA;
    let train: [Factors; N] =
        core::array::from_fn(|i| factors(&reference, acts.lip32, &xs_r[i], U32, eta));
    let test: [Factors; M] =
        core::array::from_fn(|i| factors(&reference, acts.lip32, &xt_r[i], U32, eta));
    // Small values can still make a diagonal that the range check refuses
    // in f32 (nonzero and below MIN_POSITIVE/ε).
    let floor = 16.0 * f64::from(f32::MIN_POSITIVE) / f64::from(f32::EPSILON);
    if train.iter().chain(&test).any(|f| f.smallest_diag < floor) {
        return;
    }
    assert!(
        s32.train.is_ok() && s32.cross.is_ok(),
        "f32 structured failed on a moderate network: {:?} {:?}",
        s32.train,
        s32.cross
    );
    assert!(
        j32.train.is_ok() && j32.cross.is_ok(),
        "f32 Jacobian failed on a moderate network: {:?} {:?}",
        j32.train,
        j32.cross
    );
    let r64 = run_method(&reference, &xs_r, &xt_r, Method::Structured, 0, 0.0);
    assert!(
        r64.train.is_ok() && r64.cross.is_ok(),
        "f64 kernel of a moderate network failed"
    );
    let bd = bounds(&train, &test, U32, eta);
    compare(
        "structured f32 vs f64",
        &s32.kernels,
        &r64.kernels,
        &bd,
        true,
    );
    compare("jacobian f32 vs f64", &j32.kernels, &r64.kernels, &bd, true);
}

/// Both methods in one precision: the documented errors, and for `Ok`
/// results the agreement of the methods and the Gram properties.
fn check_precision<T, A>(
    net: &Net<T, A>,
    params_finite: bool,
    lip: Lip,
    xs: &[[T; D]; N],
    xt: &[[T; D]; M],
    shortfall: usize,
    fill: f64,
) -> (Outcome, Outcome)
where
    T: Scalar,
    A: Activation<T> + Module<T, [T; H], Output = [T; H]> + Params<T> + Clone,
{
    let s = run_method(net, xs, xt, Method::Structured, shortfall, fill);
    let j = run_method(net, xs, xt, Method::Jacobian, shortfall, fill);
    let name = core::any::type_name::<T>();

    let train = status(net, lip, xs);
    let test = status(net, lip, xt);
    for (o, m) in [(&s, "structured"), (&j, "jacobian")] {
        // The documented order of checks: inputs, then parameters.
        let early = |set: &Status| {
            if !set.finite {
                Some(Error::NonFinite { what: "inputs" })
            } else if !params_finite {
                Some(Error::NonFinite {
                    what: "network parameters",
                })
            } else {
                None
            }
        };
        // The structured method checks every input, then the parameters;
        // the Jacobian method meets them input by input.
        let both = |r: &Result<(), Error>, e: Error| {
            let params = Err(Error::NonFinite {
                what: "network parameters",
            });
            *r == Err(e) || (m == "jacobian" && !params_finite && *r == params)
        };
        if let Some(e) = early(&train) {
            assert!(
                both(&o.train, e),
                "{m} {name}: {:?}, expected {e:?}",
                o.train
            );
        }
        let both_sets = Status {
            finite: train.finite && test.finite,
            hidden_nan: false,
            moderate: false,
        };
        if let Some(e) = early(&both_sets) {
            assert!(
                both(&o.cross, e),
                "{m} {name} cross: {:?}, expected {e:?}",
                o.cross
            );
        }
        if !(train.finite && params_finite) {
            continue;
        }
        if train.hidden_nan {
            assert!(
                matches!(o.train, Err(Error::Overflow { .. })),
                "{m} {name}: a NaN pre-activation from finite data gave {:?}",
                o.train
            );
        }
        if (train.hidden_nan || test.hidden_nan) && test.finite {
            assert!(
                matches!(o.cross, Err(Error::Overflow { .. })),
                "{m} {name}: a NaN pre-activation from finite data gave {:?} (cross)",
                o.cross
            );
        }
        if train.moderate {
            assert_eq!(o.train, Ok(()), "{m} {name} failed on moderate data");
            if test.moderate {
                assert_eq!(
                    o.cross,
                    Ok(()),
                    "{m} {name} failed on moderate data (cross)"
                );
            }
        }
    }
    if s.train.is_err() || j.train.is_err() || !train.moderate {
        return (s, j);
    }
    // Same factors, different roundings: the structured method rounds
    // `ws·a` once, the Jacobian method `(δ·ws)·a` twice, and their dot
    // products sum in different orders.
    let rounded = |f: Factors| -> Factors {
        let mut f = f;
        f.da0 = f.a0.map(|v| 2.0 * T::U * v + T::ETA);
        f.da1 = f.a1.map(|v| 2.0 * T::U * v + T::ETA);
        f.dd0 =
            f.d0.map(|r| r.map(|v| 2.0 * T::U * v + T::ETA + f.underflow(T::ETA)));
        f
    };
    let ftrain: [Factors; N] =
        core::array::from_fn(|i| rounded(factors(net, lip, &xs[i], 0.0, 0.0)));
    let ftest: [Factors; M] = core::array::from_fn(|i| {
        if test.finite {
            rounded(factors(net, lip, &xt[i], 0.0, 0.0))
        } else {
            ftrain[0]
        }
    });
    let bd = bounds(&ftrain, &ftest, T::U, T::ETA);
    let with_cross = s.cross.is_ok() && j.cross.is_ok();
    compare(
        &format!("structured vs jacobian {name}"),
        &s.kernels,
        &j.kernels,
        &bd,
        with_cross,
    );
    for (k, m) in [(&s.kernels, "structured"), (&j.kernels, "jacobian")] {
        assert_psd(m, &k.trace, bd.trace.as_flattened());
        assert_psd(
            m,
            &blocks_matrix(&k.blocks),
            blocks_matrix(&bd.blocks).as_flattened(),
        );
        for a in 0..N {
            for b in 0..N {
                let mean = (0..K).map(|q| k.blocks[a][b][q][q]).sum::<f64>() / K as f64;
                assert!(
                    (mean - k.trace[a][b]).abs() <= bd.trace[a][b],
                    "{m} {name}: trace is not the mean of the diagonal blocks"
                );
            }
        }
    }
    (s, j)
}

fn lip_of(act: Act) -> Lip {
    match act {
        Act::Relu => Lip {
            l0: 1.0,
            l1: 0.0,
            jump: 1.0,
        },
        Act::LeakyRelu(a) => {
            let a = a.get();
            Lip {
                l0: a.abs().max(1.0),
                l1: 0.0,
                jump: (1.0 - a).abs(),
            }
        }
        Act::Abs => Lip {
            l0: 1.0,
            l1: 0.0,
            jump: 2.0,
        },
        Act::Erf => Lip {
            l0: 1.1284,
            l1: 0.9679,
            jump: 0.0,
        },
        Act::Gelu => Lip {
            l0: 1.13,
            l1: 0.8,
            jump: 0.0,
        },
        Act::Sin => Lip {
            l0: 1.0,
            l1: 1.0,
            jump: 0.0,
        },
        Act::Tanh => Lip {
            l0: 1.0,
            l1: 0.77,
            jump: 0.0,
        },
        Act::Identity => Lip {
            l0: 1.0,
            l1: 0.0,
            jump: 0.0,
        },
    }
}

/// The same activation in both precisions.
fn pair<A: Clone>(a: A, act: Act) -> ActPair<A, A> {
    let lip = lip_of(act);
    ActPair {
        a64: a.clone(),
        a32: a.clone(),
        a32_as_64: a,
        slope: 0.0,
        slope32: 0.0,
        lip,
        lip32: lip,
    }
}

fuzz_target!(|input: Input| {
    match input.act {
        Act::Relu => check(&input, pair(Relu, input.act)),
        Act::LeakyRelu(a) => {
            let alpha = a.get();
            let alpha32 = alpha as f32;
            let back = f64::from(alpha32);
            check(
                &input,
                ActPair {
                    a64: LeakyRelu { alpha },
                    a32: LeakyRelu { alpha: alpha32 },
                    a32_as_64: LeakyRelu { alpha: back },
                    slope: alpha,
                    slope32: back,
                    lip: lip_of(input.act),
                    lip32: lip_of(Act::LeakyRelu(Num::Bits(back.to_bits()))),
                },
            )
        }
        Act::Abs => check(&input, pair(Abs, input.act)),
        Act::Erf => check(&input, pair(Erf, input.act)),
        Act::Gelu => check(&input, pair(Gelu, input.act)),
        Act::Sin => check(&input, pair(Sin, input.act)),
        Act::Tanh => check(&input, pair(Tanh, input.act)),
        Act::Identity => check(&input, pair(Identity, input.act)),
    }
});
