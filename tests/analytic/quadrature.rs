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

/// The NNGP and NTK of `dense(σw,0) tanh dense(1,0)` on `x1`, `x2` by the
/// reference (inputs as given, in f64): [Σ₁₂, Θ₁₂] and the diagonal entries
/// [Σ₁₁, Θ₁₁], [Σ₂₂, Θ₂₂].
fn wide_tanh_reference(sw: f64, x1: [f64; 2], x2: [f64; 2]) -> [[f64; 2]; 3] {
    let o = Oracle::new();
    let dot = |a: [f64; 2], b: [f64; 2]| a[0] * b[0] + a[1] * b[1];
    let (q1, q2) = (sw * sw * dot(x1, x1) / 2.0, sw * sw * dot(x2, x2) / 2.0);
    let c = sw * sw * dot(x1, x2) / 2.0;
    // 1 − ρ without cancellation: ‖x̂₁ − x̂₂‖²/2.
    let (n1, n2) = (dot(x1, x1).sqrt(), dot(x2, x2).sqrt());
    let d = [x1[0] / n1 - x2[0] / n2, x1[1] / n1 - x2[1] / n2];
    let rho = 1.0 - dot(d, d) / 2.0;
    let k = o.pair(tanh, tanh, q1, q2, rho);
    let t = k + c * o.pair(sech2, sech2, q1, q2, rho);
    let (k1, k2) = (o.diag(tanh, q1), o.diag(tanh, q2));
    let (t1, t2) = (k1 + q1 * o.diag(sech2, q1), k2 + q2 * o.diag(sech2, q2));
    [[k, t], [k1, t1], [k2, t2]]
}

/// Checks `kernel` and `gram` of `dense(σw,0) tanh dense(1,0)` in `T` on
/// `x1`, `x2` against the reference: an `Ok` within `tol` of the diagonal
/// scale, or `PrecisionLoss` with zeroed outputs. Returns whether both were
/// accepted.
fn correct_or_refused<T>(sw: f64, x1: [T; 2], x2: [T; 2], tol: f64) -> bool
where
    T: ntk::Real + Into<f64> + core::fmt::Debug,
{
    let a: Architecture<T> = format!("dense({sw},0) tanh dense(1,0)").parse().unwrap();
    let (f1, f2) = (x1.map(Into::into), x2.map(Into::into));
    let [[k, t], d1, d2] = wide_tanh_reference(sw, f1, f2);
    let (ks, ts) = ((d1[0] * d2[0]).sqrt(), (d1[1] * d2[1]).sqrt());
    let what = format!("σw = {sw}, {f1:?} and {f2:?}");
    let ok = |got: [T; 2], how: &str| {
        let [gk, gt]: [f64; 2] = got.map(Into::into);
        assert!((gk - k).abs() <= tol * ks, "{how} {what}: Σ₁₂ {gk} vs {k}");
        assert!((gt - t).abs() <= tol * ts, "{how} {what}: Θ₁₂ {gt} vs {t}");
    };
    let refused = Err(Error::PrecisionLoss { what: "kernel" });
    let single = match a.kernel(&x1, &x2) {
        Ok(s) => {
            ok([s.sigma12, s.theta12], "kernel");
            true
        }
        e => {
            assert_eq!(e.map(|_| ()), refused, "kernel {what}");
            false
        }
    };
    let (mut kg, mut tg) = ([[T::ZERO; 2]; 2], [[T::ZERO; 2]; 2]);
    let gram = match a.gram(&[x1, x2], &mut kg, &mut tg) {
        Ok(()) => {
            ok([kg[0][1], tg[0][1]], "gram");
            // The diagonal entries against the reference too.
            for (got, want) in [(kg[0][0], d1[0]), (kg[1][1], d2[0])] {
                let got: f64 = got.into();
                assert!(
                    (got - want).abs() <= tol * want,
                    "gram {what}: Σᵢᵢ {got} vs {want}"
                );
            }
            for (got, want) in [(tg[0][0], d1[1]), (tg[1][1], d2[1])] {
                let got: f64 = got.into();
                assert!(
                    (got - want).abs() <= tol * want,
                    "gram {what}: Θᵢᵢ {got} vs {want}"
                );
            }
            true
        }
        e => {
            assert_eq!(e, refused.map(|_| ()), "gram {what}");
            assert_eq!((kg, tg), ([[T::ZERO; 2]; 2], [[T::ZERO; 2]; 2]), "{what}");
            false
        }
    };
    single && gram
}

/// Nearly equal inputs behind a wide tanh layer (variance 5·10⁵): the NTK's
/// sensitivity to the correlation, q·E[φ″(u)φ″(v)], is then of order q
/// relative to its scale, and in `f32` the rounding of the correlation
/// (and its snap to 1 within 8 ulp) gave `Ok` kernels 15 % off at
/// x′ = (1, 10⁻³). Every result is now within the precision limit of the
/// reference (`f32`) or within 10⁻⁸ (`f64`), or refused; `f64` is never
/// refused here, nor `f32` away from collinear.
#[test]
fn wide_tanh_on_nearly_equal_inputs_is_correct_or_refused() {
    let steps = [1e-1, 1e-2, 3e-3, 1e-3, 1e-4, 0.0];
    let mut accepted32 = Vec::new();
    for sw in [100.0, 1000.0] {
        for t in steps {
            // Unequal norms (the pair rule) and equal norms (the pair of a
            // rotated input, which snaps onto the diagonal rule in f32).
            let (c, s) = (f64::cos(t), f64::sin(t));
            for (x1, x2) in [([1.0, 0.0], [1.0, t]), ([1.0, 0.0], [c, s])] {
                assert!(
                    correct_or_refused::<f64>(sw, x1, x2, 1e-8),
                    "f64 refused {x2:?}"
                );
                let (y1, y2) = (x1.map(|v| v as f32), x2.map(|v| v as f32));
                if correct_or_refused::<f32>(sw, y1, y2, ntk::analytic::PRECISION_LIMIT) {
                    accepted32.push((sw, t));
                }
            }
        }
    }
    // Not refused for nothing: the f32 kernels of moderately correlated
    // inputs, and all of them at σw = 100, are returned.
    for t in [1e-1, 1e-2] {
        assert!(accepted32.contains(&(1000.0, t)), "f32 refused at {t}");
    }
    for t in steps {
        assert!(
            accepted32.contains(&(100.0, t)),
            "f32 refused at σw = 100, {t}"
        );
    }
    // The reproducer is refused (its error was 0.15 of the scale).
    assert!(!accepted32.contains(&(1000.0, 1e-3)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(crate::common::cases(16).min(1000)))]

    /// `f32` kernels of a wide tanh layer on nearly collinear inputs of
    /// random scale are within the precision limit of the `f64` ones (which
    /// the test above holds to the reference), or refused.
    #[test]
    fn f32_wide_tanh_is_within_the_limit_of_f64_or_refused(
        lsw in 0.0f64..4.0,
        langle in -6.0f64..0.0,
        ratio in 0.5f64..2.0,
    ) {
        let sw = 10f64.powf(lsw);
        let t = 10f64.powf(langle);
        let x1 = [1.0f32, 0.0];
        let x2 = [(ratio * t.cos()) as f32, (ratio * t.sin()) as f32];
        let a: Architecture<f32> = format!("dense({sw},0) tanh dense(1,0)").parse().unwrap();
        let b: Arch = format!("dense({sw},0) tanh dense(1,0)").parse().unwrap();
        let (y1, y2) = (x1.map(f64::from), x2.map(f64::from));
        let want = b.kernel(&y1, &y2).unwrap();
        let (d1, d2) = (b.kernel(&y1, &y1).unwrap(), b.kernel(&y2, &y2).unwrap());
        let (ks, ts) = ((d1.sigma12 * d2.sigma12).sqrt(), (d1.theta12 * d2.theta12).sqrt());
        let limit = ntk::analytic::PRECISION_LIMIT;
        match a.kernel(&x1, &x2) {
            Ok(s) => {
                let (k, t) = (f64::from(s.sigma12), f64::from(s.theta12));
                proptest::prop_assert!((k - want.sigma12).abs() <= limit * ks, "Σ₁₂ {} vs {}", k, want.sigma12);
                proptest::prop_assert!((t - want.theta12).abs() <= limit * ts, "Θ₁₂ {} vs {}", t, want.theta12);
            }
            Err(e) => proptest::prop_assert_eq!(e, Error::PrecisionLoss { what: "kernel" }),
        }
    }
}
