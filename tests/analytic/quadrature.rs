//! Kernels by quadrature (tanh and user activations) against an independent
//! reference, over input variances from 10⁻⁸ to 10¹².
//!
//! The reference integrates in the variables u and v themselves, not in the
//! polar coordinates of the library: E[f(u)g(v)] = E_u[f(u)·E[g(v) | u]],
//! each a one-dimensional integral against a Gaussian density, by adaptive
//! bisection with a 20-point Gauss–Legendre rule, with breakpoints at 0, ±4ᵏ
//! (where the activation varies) and at multiples of the standard deviation
//! around the mean (`common::oracle::GaussOracle`).
#![cfg(feature = "quadrature")]

use crate::common::oracle::{Cuts, GaussOracle};
use ntk::analytic::{Architecture, CustomActivation, Layer, PairState};
use ntk::Error;

type Arch = Architecture<f64>;

/// The reference: a 20-point rule, cuts at 0 and ±4ᵏ, no budget.
struct Oracle(GaussOracle);

impl Oracle {
    fn new() -> Self {
        Self(GaussOracle::new(20, u64::MAX, Cuts::PowersOfFour))
    }

    /// E[f(u)g(v)] for (u, v) centred normal with variances a, b and
    /// correlation rho.
    fn pair(&self, f: fn(f64) -> f64, g: fn(f64) -> f64, a: f64, b: f64, rho: f64) -> f64 {
        self.0.pair(f, g, a, b, rho).expect("no budget")
    }

    fn diag(&self, f: fn(f64) -> f64, a: f64) -> f64 {
        self.0.diag(f, a).expect("no budget")
    }
}

fn tanh(x: f64) -> f64 {
    x.tanh()
}
fn sech2(x: f64) -> f64 {
    let c = x.abs().min(400.0).cosh();
    1.0 / (c * c)
}
fn softplus(x: f64) -> f64 {
    if x > 40.0 {
        x + (-x).exp()
    } else {
        x.exp().ln_1p()
    }
}
/// 1/(1 + e^(−x)), without cancellation for x < 0.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

const SOFTPLUS: CustomActivation<f64> = CustomActivation::new("softplus", softplus, sigmoid);

const VARIANCES: [f64; 8] = [1e-8, 1e-6, 1.0, 30.0, 1e3, 1e6, 1e10, 1e12];

/// Checks one layer at variances (a, b) and correlation rho against the
/// reference, relative to the diagonal scale of its outputs.
/// An activation and its derivative.
type Pair = (fn(f64) -> f64, fn(f64) -> f64);

fn check(layer: Layer<f64>, (f, df): Pair, a: f64, b: f64, rho: f64) {
    let o = Oracle::new();
    let k = rho * (a * b).sqrt();
    let s = layer.apply(PairState::new(a, k, b, 1.0));
    let (ka, kb) = (o.diag(f, a), o.diag(f, b));
    let (ta, tb) = (o.diag(df, a), o.diag(df, b));
    let kab = o.pair(f, f, a, b, rho);
    let tab = o.pair(df, df, a, b, rho);
    let tol = 1e-8;
    let what = format!("{layer:?} a = {a:e}, b = {b:e}, rho = {rho}");
    assert!(
        (s.sigma11 - ka).abs() <= tol * ka,
        "{what}: Σ₁₁ {} vs {ka}",
        s.sigma11
    );
    assert!(
        (s.sigma22 - kb).abs() <= tol * kb,
        "{what}: Σ₂₂ {} vs {kb}",
        s.sigma22
    );
    let ks = (ka * kb).sqrt();
    assert!(
        (s.sigma12 - kab).abs() <= tol * ks,
        "{what}: Σ₁₂ {} vs {kab}",
        s.sigma12
    );
    let ts = (ta * tb).sqrt();
    assert!(
        (s.theta12 - tab).abs() <= tol * ts,
        "{what}: Σ̇₁₂ {} vs {tab}",
        s.theta12
    );
    // The diagonal maps too.
    for (q, kq, tq) in [(a, ka, ta), (b, kb, tb)] {
        let d = layer.apply(PairState::new(q, q, q, 1.0));
        assert!(
            (d.sigma12 - kq).abs() <= tol * kq,
            "{what}: diagonal Σ at {q:e}"
        );
        assert!(
            (d.theta12 - tq).abs() <= tol * tq,
            "{what}: diagonal Σ̇ at {q:e}"
        );
    }
}

#[test]
fn tanh_matches_reference_integrals_at_every_variance() {
    for a in VARIANCES {
        for rho in [0.0, 0.5, 0.999, -0.5] {
            check(Layer::Tanh, (tanh, sech2), a, a, rho);
        }
    }
}

#[test]
fn softplus_matches_reference_integrals_at_every_variance() {
    for a in VARIANCES {
        for rho in [0.0, 0.5, 0.999, -0.5] {
            check(Layer::Custom(SOFTPLUS), (softplus, sigmoid), a, a, rho);
        }
    }
}

#[test]
fn quadrature_matches_reference_integrals_at_unequal_variances() {
    for (a, b) in [(1e-8, 1e12), (1.0, 1e6), (30.0, 1e3), (1e10, 2.0)] {
        for rho in [0.0, 0.5, 0.999] {
            check(Layer::Tanh, (tanh, sech2), a, b, rho);
            check(Layer::Custom(SOFTPLUS), (softplus, sigmoid), a, b, rho);
        }
    }
}

/// `dense(σw,0) tanh dense(1,0)` on x = (1, 0), x′ = (1/2, √3/2): the first
/// layer's variances are σw²/2 and its correlation 1/2, and
/// Θ = E[tanh u tanh v] + Σ¹₁₂·E[sech²u sech²v] (Σ¹ the first layer's).
fn wide_tanh(sw: f64) -> (PairState<f64>, PairState<f64>, [f64; 2], [f64; 2]) {
    let a: Arch = format!("dense({sw},0) tanh dense(1,0)").parse().unwrap();
    let x1 = [1.0, 0.0];
    let x2 = [0.5, 0.866_025_403_784_438_6];
    let diag = a.kernel(&x1, &x1).unwrap();
    let off = a.kernel(&x1, &x2).unwrap();
    let o = Oracle::new();
    let q = sw * sw / 2.0;
    let c = sw * sw * (x1[0] * x2[0] + x1[1] * x2[1]) / 2.0;
    let rho = c / q;
    let t_diag = o.diag(tanh, q) + q * o.diag(sech2, q);
    let t_off = o.pair(tanh, tanh, q, q, rho) + c * o.pair(sech2, sech2, q, q, rho);
    let scale = [t_diag, o.diag(tanh, q)];
    (diag, off, [t_diag, t_off], scale)
}

#[test]
fn wide_tanh_layer_gives_the_true_ntk() {
    // σw = 1000: variance 5·10⁵, the NTK diagonal ≈ 377 (it came out
    // 1.00013) and the off-diagonal ≈ 0.70 (it came out 0.3336).
    for sw in [100.0, 1000.0, 1e4] {
        let (diag, off, [t_diag, t_off], [ts, _]) = wide_tanh(sw);
        assert!(
            (diag.theta12 - t_diag).abs() <= 1e-8 * t_diag,
            "σw = {sw}: Θ(x, x) = {} vs {t_diag}",
            diag.theta12
        );
        assert!(
            (off.theta12 - t_off).abs() <= 1e-8 * ts,
            "σw = {sw}: Θ(x, x′) = {} vs {t_off}",
            off.theta12
        );
    }
    // Against the wide-Gaussian asymptotics at variance q = 5·10⁵ (terms of
    // relative order 1/√q left out): E[tanh²u] ≈ 1 − 2/√(2πq),
    // E[sech⁴u] ≈ (4/3)/√(2πq), E[tanh u tanh v] ≈ (2/π)·asin ρ = 1/3 and
    // E[sech²u sech²v] ≈ (∫sech²)²·p(0, 0) = 4/(2πq·√(1 − ρ²)) at ρ = 1/2.
    let (diag, off, _, _) = wide_tanh(1000.0);
    let q = 5e5;
    let g = (2.0 * core::f64::consts::PI * q).sqrt();
    let diag0 = 1.0 - 2.0 / g + q * (4.0 / 3.0) / g;
    let off0 = 1.0 / 3.0 + (q / 2.0) * 4.0 / (2.0 * core::f64::consts::PI * q * 0.75f64.sqrt());
    assert!(
        (diag.theta12 - diag0).abs() < 1e-3 * diag0,
        "{} vs {diag0}",
        diag.theta12
    );
    assert!(
        (off.theta12 - off0).abs() < 1e-2 * off0,
        "{} vs {off0}",
        off.theta12
    );
}

#[test]
fn wide_tanh_layer_gives_the_true_ntk_term_at_huge_weights() {
    // σw = 10⁴: the NTK term Σ¹·E[sech⁴] ≈ 3761 (it came out 0).
    let (diag, _, [t_diag, _], _) = wide_tanh(1e4);
    let term = diag.theta12 - diag.sigma12;
    assert!((term - (t_diag - diag.sigma12)).abs() <= 1e-8 * t_diag);
    assert!((term - 3761.0).abs() < 1.0, "{term}");
}

/// 2 × 2 blocks of a kernel matrix are positive semi-definite, to rounding.
fn assert_psd<T: Into<f64> + Copy, const N: usize>(k: &[[T; N]; N], what: &str) {
    for i in 0..N {
        let kii: f64 = k[i][i].into();
        assert!(kii >= 0.0, "{what}: negative diagonal");
        for j in 0..i {
            let (kjj, kij): (f64, f64) = (k[j][j].into(), k[i][j].into());
            assert!(
                kij * kij <= kii * kjj * (1.0 + 1e-5),
                "{what}: |K{i}{j}| = {kij} > √({kii}·{kjj})"
            );
        }
    }
}

#[test]
fn nearly_equal_inputs_give_a_psd_ntk_behind_wide_tanh() {
    let x = [[1.0, 0.0], [1.0, 1e-4], [1.0, 2e-4]];
    let a: Arch = "dense(1000,0) tanh dense(1,0)".parse().unwrap();
    let (mut k, mut t) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    match a.gram(&x, &mut k, &mut t) {
        Ok(()) => {
            assert_psd(&k, "NNGP f64");
            assert_psd(&t, "NTK f64");
        }
        Err(e) => assert_eq!(e, Error::PrecisionLoss { what: "kernel" }),
    }
    let a: Architecture<f32> = "dense(1000,0) tanh dense(1,0)".parse().unwrap();
    let x = [[1.0f32, 0.0], [1.0, 1e-4], [1.0, 2e-4]];
    let (mut k, mut t) = ([[0.0f32; 3]; 3], [[0.0f32; 3]; 3]);
    match a.gram(&x, &mut k, &mut t) {
        Ok(()) => {
            assert_psd(&k, "NNGP f32");
            assert_psd(&t, "NTK f32");
        }
        Err(e) => assert_eq!(e, Error::PrecisionLoss { what: "kernel" }),
    }
}

fn sine(x: f64) -> f64 {
    x.sin()
}
fn cosine(x: f64) -> f64 {
    x.cos()
}

/// An activation that oscillates on every scale cannot be integrated at a
/// huge variance: the error estimate refuses the kernel (with or without
/// the `error-bounds` feature), where an accurate one is returned at a
/// moderate variance.
#[test]
fn unresolvable_activation_is_refused() {
    let act = CustomActivation::new("wave", sine, cosine);
    let a = Arch::parse_with("dense(1e6,0) wave dense(1,0)", &[act]).unwrap();
    let x = [[1.0, 0.0], [0.6, 0.8]];
    let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    assert_eq!(
        a.gram(&x, &mut k, &mut t),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    assert_eq!(k, [[0.0; 2]; 2]);
    assert_eq!(
        a.kernel(&x[0], &x[1]),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    // Against the closed form of `sin` at a variance of 2.
    let a = Arch::parse_with("dense(2,0) wave dense(1,0)", &[act]).unwrap();
    let b: Arch = "dense(2,0) sin dense(1,0)".parse().unwrap();
    let (mut k2, mut t2) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    a.gram(&x, &mut k, &mut t).unwrap();
    b.gram(&x, &mut k2, &mut t2).unwrap();
    for i in 0..2 {
        for j in 0..2 {
            assert!((k[i][j] - k2[i][j]).abs() < 1e-10, "{k:?} vs {k2:?}");
            assert!((t[i][j] - t2[i][j]).abs() < 1e-9, "{t:?} vs {t2:?}");
        }
    }
}

/// Beyond a variance of 10²⁰ the rule stops refining: kernels are refused.
#[test]
fn quadrature_beyond_its_range_is_refused() {
    let a: Arch = "dense(1e11,0) tanh dense(1,0)".parse().unwrap();
    let x = [[1.0, 0.0], [0.6, 0.8]];
    let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    assert_eq!(
        a.gram(&x, &mut k, &mut t),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    assert_eq!(
        a.kernel(&x[0], &x[1]),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    // Within it, accepted.
    let a: Arch = "dense(1e6,0) tanh dense(1,0)".parse().unwrap();
    a.gram(&x, &mut k, &mut t).unwrap();
}
