//! Properties of the analytic NNGP and NTK matrices.

use crate::common::{eigenvalues, max_abs, rel_err};
use ntk::analytic::{Architecture, Layer, PairState};
use ntk::Error;
use proptest::prelude::*;

type Arch = Architecture<f64>;

#[test]
fn jacobi_helper_is_right() {
    let a = [2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, -1.0];
    let mut e = eigenvalues(&a, 3);
    e.sort_by(f64::total_cmp);
    for (x, y) in e.iter().zip([-1.0, 1.0, 3.0]) {
        assert!((x - y).abs() < 1e-12);
    }
}

fn gram(arch: &Arch, x: &[f64], d: usize) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let n = x.len() / d;
    let (mut k, mut t) = (vec![0.0; n * n], vec![0.0; n * n]);
    arch.gram_flat(x, d, &mut k, &mut t)?;
    Ok((k, t))
}

fn activation() -> impl Strategy<Value = Layer<f64>> {
    prop_oneof![
        Just(Layer::Relu),
        (-1.0..1.0_f64).prop_map(|alpha| Layer::LeakyRelu { alpha }),
        Just(Layer::Abs),
        (-1.5..1.5_f64, -1.5..1.5_f64).prop_map(|(a, b)| Layer::AbRelu { a, b }),
        Just(Layer::Erf),
        Just(Layer::Gelu),
        Just(Layer::Sin),
        Just(Layer::Identity),
    ]
}

fn dense() -> impl Strategy<Value = Layer<f64>> {
    (0.3..2.0_f64, prop_oneof![Just(0.0), 0.0..0.5_f64]).prop_map(|(w, b)| Layer::Dense {
        weight_std: w,
        bias_std: b,
    })
}

/// `dense (activation dense)×depth`.
fn architecture() -> impl Strategy<Value = Arch> {
    (
        dense(),
        prop::collection::vec((activation(), dense()), 0..=4),
    )
        .prop_map(|(first, rest)| {
            let mut a = Arch::new();
            a.push(first).unwrap();
            for (act, d) in rest {
                a.push(act).unwrap();
                a.push(d).unwrap();
            }
            a
        })
}

/// N inputs of dimension D, some of them repeated, negated or zero.
fn inputs() -> impl Strategy<Value = (Vec<f64>, usize)> {
    (1usize..=5, 1usize..=9).prop_flat_map(|(d, n)| {
        (
            prop::collection::vec(-3.0..3.0_f64, n * d),
            prop::collection::vec(0u8..8, n),
            Just(d),
        )
            .prop_map(|(mut x, kinds, d)| {
                for (i, kind) in kinds.iter().enumerate().skip(1) {
                    let (head, tail) = x.split_at_mut(i * d);
                    let row = &mut tail[..d];
                    match kind {
                        0 => row.copy_from_slice(&head[..d]),
                        1 => row.iter_mut().zip(&head[..d]).for_each(|(r, h)| *r = -h),
                        2 => row.fill(0.0),
                        _ => {}
                    }
                }
                (x, d)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases(128)))]

    #[test]
    fn gram_is_symmetric_and_psd(arch in architecture(), (x, d) in inputs()) {
        let n = x.len() / d;
        let (k, t) = gram(&arch, &x, d).unwrap();
        for m in [&k, &t] {
            prop_assert!(m.iter().all(|v| v.is_finite()));
            for i in 0..n {
                for j in 0..n {
                    prop_assert_eq!(m[i * n + j].to_bits(), m[j * n + i].to_bits());
                }
            }
            let trace: f64 = (0..n).map(|i| m[i * n + i]).sum();
            let min = eigenvalues(m, n).into_iter().fold(f64::INFINITY, f64::min);
            prop_assert!(min >= -1e-10 * trace, "{arch}: smallest eigenvalue {min:e}, trace {trace:e}");
        }
    }

    #[test]
    fn repeated_inputs_give_identical_rows(arch in architecture(), (x, d) in inputs()) {
        let n = x.len() / d;
        let (k, t) = gram(&arch, &x, d).unwrap();
        for i in 0..n {
            for j in 0..n {
                if x[i * d..(i + 1) * d] == x[j * d..(j + 1) * d] {
                    for m in [&k, &t] {
                        let (ri, rj) = (&m[i * n..(i + 1) * n], &m[j * n..(j + 1) * n]);
                        prop_assert!(ri.iter().zip(rj).all(|(a, b)| a.to_bits() == b.to_bits()), "{arch}: rows {i} and {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn entries_agree_with_pairs_and_cross(arch in architecture(), (x, d) in inputs()) {
        let n = x.len() / d;
        let (k, t) = gram(&arch, &x, d).unwrap();
        let (mut kc, mut tc) = (vec![0.0; n * n], vec![0.0; n * n]);
        arch.cross_flat(&x, &x, d, &mut kc, &mut tc).unwrap();
        let scale_k = max_abs(&k).max(1e-300);
        let scale_t = max_abs(&t).max(1e-300);
        for i in 0..n {
            for j in 0..n {
                let s = arch.kernel(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]).unwrap();
                let (ek, et) = ((s.sigma12 - k[i * n + j]).abs(), (s.theta12 - t[i * n + j]).abs());
                prop_assert!(ek <= 1e-12 * scale_k && et <= 1e-12 * scale_t, "{arch} ({i},{j}): {ek:e} {et:e}");
                prop_assert!((kc[i * n + j] - k[i * n + j]).abs() <= 1e-12 * scale_k);
                prop_assert!((tc[i * n + j] - t[i * n + j]).abs() <= 1e-12 * scale_t);
                if i != j {
                    prop_assert_eq!(s.sigma12.to_bits(), k[i * n + j].to_bits(), "pair and Gram use the same map");
                }
            }
        }
    }

    /// `gram_piecewise_linear` gives `gram`'s matrices bit for bit, and
    /// agrees with the pair routine, when every nonlinearity is of the
    /// ABReLU family or the identity; it refuses the others with nothing
    /// written.
    #[test]
    fn piecewise_linear_gram_agrees_or_refuses(
        arch in architecture(),
        x in prop::collection::vec(-3.0..3.0_f64, 12),
        dup in 0usize..4,
    ) {
        let mut x: [[f64; 3]; 4] = core::array::from_fn(|i| core::array::from_fn(|c| x[3 * i + c]));
        x[3] = x[dup];
        let piecewise = arch.layers().iter().all(|l| {
            matches!(
                l,
                Layer::Dense { .. } | Layer::Relu | Layer::LeakyRelu { .. } | Layer::Abs | Layer::AbRelu { .. } | Layer::Identity
            )
        });
        let (mut k, mut t) = ([[1.0; 4]; 4], [[1.0; 4]; 4]);
        let got = arch.gram_piecewise_linear(&x, &mut k, &mut t);
        if piecewise {
            got.unwrap();
            let (mut k2, mut t2) = ([[0.0; 4]; 4], [[0.0; 4]; 4]);
            arch.gram(&x, &mut k2, &mut t2).unwrap();
            for (a, b) in k.iter().chain(&t).flatten().zip(k2.iter().chain(&t2).flatten()) {
                prop_assert_eq!(a.to_bits(), b.to_bits(), "{}", arch);
            }
            let scale = max_abs(k.as_flattened()).max(max_abs(t.as_flattened())).max(1e-300);
            for i in 0..4 {
                for j in 0..4 {
                    let s = arch.kernel(&x[i], &x[j]).unwrap();
                    prop_assert!((s.sigma12 - k[i][j]).abs() <= 1e-12 * scale, "{arch} ({i},{j})");
                    prop_assert!((s.theta12 - t[i][j]).abs() <= 1e-12 * scale, "{arch} ({i},{j})");
                }
            }
        } else {
            prop_assert!(matches!(got, Err(Error::InvalidArgument { .. })), "{}: {:?}", arch, got);
            prop_assert!(k.iter().chain(&t).flatten().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn f32_agrees_with_f64(arch in architecture(), (x, d) in inputs()) {
        let n = x.len() / d;
        let (k, t) = gram(&arch, &x, d).unwrap();
        let a32 = Architecture::<f32>::parse(&arch.to_string()).unwrap();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (mut k32, mut t32) = (vec![0.0_f32; n * n], vec![0.0_f32; n * n]);
        a32.gram_flat(&x32, d, &mut k32, &mut t32).unwrap();
        let k32: Vec<f64> = k32.iter().map(|&v| v as f64).collect();
        let t32: Vec<f64> = t32.iter().map(|&v| v as f64).collect();
        // Near coincident inputs the derivative maps of the kinked
        // activations ((π − θ)/π for ReLU) have an infinite slope in the
        // correlation, so each such layer can lose √ε(f32) ≈ 3.5·10⁻⁴ of the
        // largest entry; four layers of them stay within 1.5·10⁻³.
        let nonlinear = arch.layers().iter().filter(|l| !l.is_dense()).count().max(1);
        let tol = 1e-3_f64.max(4e-4 * nonlinear as f64);
        prop_assert!(rel_err(&k32, &k) < tol, "{arch}: {:e}", rel_err(&k32, &k));
        prop_assert!(rel_err(&t32, &t) < tol, "{arch}: {:e}", rel_err(&t32, &t));
    }

    #[test]
    fn abrelu_identities(w in 0.3..2.0_f64, b in 0.0..0.5_f64, (x, d) in inputs()) {
        let with = |act: Layer<f64>| {
            let a = Arch::from_layers(&[Layer::dense(w, b), act, Layer::dense(w, b), act, Layer::dense(w, b)]).unwrap();
            gram(&a, &x, d).unwrap()
        };
        let bits = |m: &[f64]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        // Exactly the same maps.
        let (k1, t1) = with(Layer::Relu);
        let (k2, t2) = with(Layer::AbRelu { a: 0.0, b: 1.0 });
        prop_assert_eq!(bits(&k1), bits(&k2));
        prop_assert_eq!(bits(&t1), bits(&t2));
        let (k1, t1) = with(Layer::Abs);
        let (k2, t2) = with(Layer::AbRelu { a: -1.0, b: 1.0 });
        prop_assert_eq!(bits(&k1), bits(&k2));
        prop_assert_eq!(bits(&t1), bits(&t2));
        let (k1, t1) = with(Layer::LeakyRelu { alpha: 0.3 });
        let (k2, t2) = with(Layer::AbRelu { a: 0.3, b: 1.0 });
        prop_assert_eq!(bits(&k1), bits(&k2));
        prop_assert_eq!(bits(&t1), bits(&t2));
        // leaky_relu(1) is the identity.
        let (k1, t1) = with(Layer::LeakyRelu { alpha: 1.0 });
        let (k2, t2) = with(Layer::Identity);
        prop_assert!(rel_err(&k1, &k2) < 1e-14 && rel_err(&t1, &t2) < 1e-14);
    }

    #[test]
    fn relu_diagonal_is_half_the_variance(w in 0.1..3.0_f64, b in 0.0..1.0_f64, (x, d) in inputs()) {
        let a = Arch::from_layers(&[Layer::dense(w, b), Layer::Relu]).unwrap();
        let (k, _) = gram(&a, &x, d).unwrap();
        let n = x.len() / d;
        for i in 0..n {
            let row = &x[i * d..(i + 1) * d];
            let q0 = ntk::simd::dot(row, row) * (1.0 / d as f64);
            prop_assert_eq!(k[i * n + i], (w * w * q0 + b * b) / 2.0);
        }
    }
}

/// Activations through the quadrature path.
#[cfg(feature = "quadrature")]
mod quadrature {
    use super::*;
    use ntk::analytic::CustomActivation;

    fn relu(x: f64) -> f64 {
        x.max(0.0)
    }
    fn drelu(x: f64) -> f64 {
        if x > 0.0 {
            1.0
        } else {
            0.0
        }
    }
    fn leaky(x: f64) -> f64 {
        if x > 0.0 {
            x
        } else {
            0.2 * x
        }
    }
    fn dleaky(x: f64) -> f64 {
        if x > 0.0 {
            1.0
        } else {
            0.2
        }
    }
    fn abs(x: f64) -> f64 {
        x.abs()
    }
    fn dabs(x: f64) -> f64 {
        x.signum()
    }
    fn erf(x: f64) -> f64 {
        libm::erf(x)
    }
    fn derf(x: f64) -> f64 {
        2.0 / core::f64::consts::PI.sqrt() * (-x * x).exp()
    }
    fn phi(x: f64) -> f64 {
        0.5 * (1.0 + libm::erf(x / core::f64::consts::SQRT_2))
    }
    fn gelu(x: f64) -> f64 {
        x * phi(x)
    }
    fn dgelu(x: f64) -> f64 {
        phi(x) + x * (-x * x / 2.0).exp() / (2.0 * core::f64::consts::PI).sqrt()
    }
    fn sin(x: f64) -> f64 {
        x.sin()
    }
    fn cos(x: f64) -> f64 {
        x.cos()
    }
    fn id(x: f64) -> f64 {
        x
    }
    fn one(_: f64) -> f64 {
        1.0
    }

    fn quadrature_twin(layer: Layer<f64>) -> Layer<f64> {
        let act = match layer {
            Layer::Relu => CustomActivation::new("q_relu", relu, drelu),
            Layer::LeakyRelu { .. } => CustomActivation::new("q_leaky", leaky, dleaky),
            Layer::Abs => CustomActivation::new("q_abs", abs, dabs),
            Layer::Erf => CustomActivation::new("q_erf", erf, derf),
            Layer::Gelu => CustomActivation::new("q_gelu", gelu, dgelu),
            Layer::Sin => CustomActivation::new("q_sin", sin, cos),
            _ => CustomActivation::new("q_id", id, one),
        };
        Layer::Custom(act)
    }

    fn closed_form() -> impl Strategy<Value = Layer<f64>> {
        prop_oneof![
            Just(Layer::Relu),
            Just(Layer::LeakyRelu { alpha: 0.2 }),
            Just(Layer::Abs),
            Just(Layer::Erf),
            Just(Layer::Gelu),
            Just(Layer::Sin),
            Just(Layer::Identity),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(48)))]

        /// The quadrature agrees with every closed form to 1e-8 (variances ≤ 10).
        #[test]
        fn quadrature_matches_closed_forms(
            act in closed_form(),
            w in 0.5..1.5_f64,
            b in 0.0..0.5_f64,
            x in prop::collection::vec(-2.0..2.0_f64, 3 * 2),
        ) {
            let closed = Arch::from_layers(&[Layer::dense(w, b), act, Layer::dense(w, b), act, Layer::dense(1.0, 0.1)]).unwrap();
            let q = quadrature_twin(act);
            let quad = Arch::from_layers(&[Layer::dense(w, b), q, Layer::dense(w, b), q, Layer::dense(1.0, 0.1)]).unwrap();
            let (k1, t1) = gram(&closed, &x, 2).unwrap();
            let (k2, t2) = gram(&quad, &x, 2).unwrap();
            prop_assert!(rel_err(&k2, &k1) < 1e-8, "{act}: nngp {:e}", rel_err(&k2, &k1));
            prop_assert!(rel_err(&t2, &t1) < 1e-8, "{act}: ntk {:e}", rel_err(&t2, &t1));
        }

        /// Single steps, over correlations including ±1 and variances in [1e-3, 10].
        #[test]
        fn quadrature_matches_closed_forms_per_step(
            act in closed_form(),
            a in -3.0..1.0_f64,
            b in -3.0..1.0_f64,
            rho in prop_oneof![Just(1.0), Just(-1.0), Just(0.0), -1.0..1.0_f64],
        ) {
            let (a, b) = (10f64.powf(a), 10f64.powf(b));
            let s = PairState::new(a, rho * (a * b).sqrt(), b, 1.0);
            let c = act.apply(s);
            let q = quadrature_twin(act).apply(s);
            let scale = (c.sigma11 * c.sigma22).sqrt();
            prop_assert!((c.sigma12 - q.sigma12).abs() <= 1e-8 * scale, "{act}: {c:?} vs {q:?}");
            prop_assert!((c.sigma11 - q.sigma11).abs() <= 1e-8 * c.sigma11, "{act}: {c:?} vs {q:?}");
            prop_assert!((c.theta12 - q.theta12).abs() <= 1e-8 * c.theta12.abs().max(1e-2), "{act}: {c:?} vs {q:?}");
        }
    }

    #[test]
    fn tanh_is_bounded_and_odd() {
        let a = Arch::parse("dense(1.2,0) tanh dense(1,0)").unwrap();
        let x = [1.0, -1.0, 0.5];
        let (k, t) = gram(&a, &x, 1).unwrap();
        // tanh is odd: K(x, −x) = −K(x, x).
        assert!((k[1] + k[0]).abs() < 1e-10 * k[0]);
        assert!((t[1] + t[0]).abs() < 1e-10 * t[0]);
        assert!(k[0] < 1.0 && k[0] > 0.0);
    }
}

#[test]
fn zero_inputs_repeats_and_opposites() {
    for spec in [
        "dense(1.5,0) relu dense(1.5,0) relu dense(1,0)",
        "dense(1.5,0) abs dense(1,0)",
        "dense(1,0) erf dense(1,0)",
        "dense(1,0) gelu dense(1,0)",
        "dense(1,0) sin dense(1,0)",
        #[cfg(feature = "quadrature")]
        "dense(1,0) tanh dense(1,0)",
    ] {
        let a = Arch::parse(spec).unwrap();
        // Quadrature resolves variances up to 1e20 (and refuses beyond).
        let big = if spec.contains("tanh") { 1e9 } else { 1e30 };
        let x = [
            0.0, 0.0, 1.0, 2.0, 1.0, 2.0, -1.0, -2.0, 1e-140, 1e-140, big, -big,
        ];
        let (k, t) = gram(&a, &x, 2).unwrap();
        assert!(k.iter().chain(&t).all(|v| v.is_finite()), "{spec}: {k:?}");
        let n = 6;
        // Rows 1 and 2 are the same input: equal up to rounding.
        for j in 0..n {
            assert!(
                (k[n + j] - k[2 * n + j]).abs() <= 1e-14 * max_abs(&k),
                "{spec}"
            );
        }
    }
    // A zero input through ReLU: Σ = 0, and the derivative kernel uses the
    // angle π/2 (neural-tangents convention): Θ = 0 after the first layer.
    let a = Arch::parse("dense(1,0) relu dense(1,0)").unwrap();
    let s = a.kernel(&[0.0], &[1.0]).unwrap();
    assert_eq!((s.sigma11, s.sigma12), (0.0, 0.0));
    assert_eq!(s.theta12, 0.0);
}

#[test]
fn non_finite_inputs_are_rejected_and_outputs_zeroed() {
    let a = Arch::parse("dense(1,0) relu").unwrap();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let x = [[1.0, 2.0], [bad, 0.0]];
        let (mut k, mut t) = ([[7.0; 2]; 2], [[7.0; 2]; 2]);
        assert_eq!(
            a.gram(&x, &mut k, &mut t),
            Err(Error::NonFinite { what: "inputs" })
        );
        assert_eq!(k, [[0.0; 2]; 2]);
        let (mut kc, mut tc) = ([[7.0; 2]; 1], [[7.0; 2]; 1]);
        assert!(matches!(
            a.cross(&[[0.0, 1.0]], &x, &mut kc, &mut tc),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            a.kernel(&[1.0, bad], &[1.0, 1.0]),
            Err(Error::NonFinite { .. })
        ));
    }
}

#[test]
fn overflow_is_reported_with_no_half_valid_output() {
    // Each layer multiplies the variance by 1e100.
    let a = Arch::parse("dense(1e50,0) relu dense(1e50,0) relu dense(1e50,0) relu dense(1e50,0)")
        .unwrap();
    let x = [[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]];
    let (mut k, mut t) = ([[7.0; 3]; 3], [[7.0; 3]; 3]);
    assert_eq!(
        a.gram(&x, &mut k, &mut t),
        Err(Error::Overflow { what: "kernel" })
    );
    // zeroed, not left half-written
    assert!(k
        .iter()
        .flatten()
        .chain(t.iter().flatten())
        .all(|&v| v == 0.0));
    let (mut kc, mut tc) = ([[7.0; 3]; 1], [[7.0; 3]; 1]);
    assert_eq!(
        a.cross(&[[1.0, 1.0]], &x, &mut kc, &mut tc),
        Err(Error::Overflow { what: "kernel" })
    );
    assert!(kc
        .iter()
        .flatten()
        .chain(tc.iter().flatten())
        .all(|&v| v == 0.0));
    assert!(matches!(
        a.kernel(&x[0], &x[1]),
        Err(Error::Overflow { .. })
    ));
    // Deep networks overflow too.
    let deep = Architecture::<f32, 64>::parse(&"dense(30,0) relu ".repeat(30)).unwrap();
    let (mut k, mut t) = ([[0.0_f32; 1]; 1], [[0.0_f32; 1]; 1]);
    assert!(matches!(
        deep.gram(&[[1.0_f32]], &mut k, &mut t),
        Err(Error::Overflow { .. })
    ));
}

#[test]
fn shape_errors() {
    let a = Arch::parse("relu").unwrap();
    let (mut k, mut t) = (vec![0.0; 4], vec![0.0; 3]);
    assert_eq!(
        a.gram_flat(&[1.0, 2.0], 1, &mut k, &mut t),
        Err(Error::BufferTooSmall {
            needed: 4,
            given: 3
        })
    );
    let mut t = vec![0.0; 4];
    assert!(matches!(
        a.gram_flat(&[1.0, 2.0, 3.0], 2, &mut k, &mut t),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.gram_flat(&[1.0], 0, &mut k, &mut t),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.kernel(&[1.0], &[1.0, 2.0]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        a.kernel(&[], &[]),
        Err(Error::InvalidArgument { .. })
    ));
    // Empty input sets are fine.
    assert_eq!(a.gram_flat(&[], 3, &mut [], &mut []), Ok(()));
    assert_eq!(a.cross_flat(&[], &[1.0], 1, &mut [], &mut []), Ok(()));
}

#[test]
fn standard_parameterization_recursion() {
    // One layer: Σ = w²x·x′/D + b², Θ = D·(x·x′/D) + 1 = x·x′ + 1.
    let x1 = [1.0, 2.0, -1.0];
    let x2 = [0.5, 0.0, 2.0];
    let dot = 1.0 * 0.5 + 2.0 * 0.0 - 1.0 * 2.0;
    let a = Arch::parse("dense_std(1.5,0.2,3)").unwrap();
    let s = a.kernel(&x1, &x2).unwrap();
    assert!((s.sigma12 - (2.25 * dot / 3.0 + 0.04)).abs() < 1e-15);
    assert!((s.theta12 - (dot + 1.0)).abs() < 1e-15);
    // Two layers with a hidden width of 100: Θ = 100·Σ¹ + 1 + w₂²·Θ¹.
    let a = Arch::parse("dense_std(1.5,0.2,3) identity dense_std(0.7,0.1,100)").unwrap();
    let s = a.kernel(&x1, &x2).unwrap();
    let sigma1 = 2.25 * dot / 3.0 + 0.04;
    assert!((s.theta12 - (100.0 * sigma1 + 1.0 + 0.49 * (dot + 1.0))).abs() < 1e-12);
    assert!((s.sigma12 - (0.49 * sigma1 + 0.01)).abs() < 1e-15);
}

#[test]
fn gram_of_512_inputs_fits_the_stack() {
    // The outputs are on the heap; the function itself needs a few kB of stack.
    const N: usize = 512;
    let a =
        Arch::parse("dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)")
            .unwrap();
    let mut rng = ntk::Rng::new(5);
    let mut x = vec![[0.0; 16]; N];
    for r in x.iter_mut() {
        rng.fill_normal(r);
    }
    let x: Box<[[f64; 16]; N]> = x.into_boxed_slice().try_into().unwrap();
    let mut k: Box<[[f64; N]; N]> = vec![[0.0; N]; N].into_boxed_slice().try_into().unwrap();
    let mut t: Box<[[f64; N]; N]> = vec![[0.0; N]; N].into_boxed_slice().try_into().unwrap();
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            a.gram(&x, &mut k, &mut t).unwrap();
            (k[3][500], t[500][3], a.kernel(&x[3], &x[500]).unwrap())
        })
        .unwrap();
    let (k, t, s) = handle.join().unwrap();
    assert!((k - s.sigma12).abs() < 1e-12 && (t - s.theta12).abs() < 1e-12);
}

#[test]
fn repeated_zero_input_in_standard_parameterization() {
    // No bias: the variance of a zero input stays 0 while the NTK does not
    // (the bias gradient adds 1); its repeated rows are still identical.
    let a = Arch::parse("dense_std(1,0,2) relu dense_std(1,0,8) abs dense_std(1,0,8)").unwrap();
    let x = [[0.0, 0.0], [1.0, -0.5], [0.0, 0.0]];
    let (mut k, mut t) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    a.gram(&x, &mut k, &mut t).unwrap();
    assert!(t[0][0] > 0.0);
    assert_eq!(t[0].map(f64::to_bits), t[2].map(f64::to_bits));
    assert_eq!(k[0].map(f64::to_bits), k[2].map(f64::to_bits));
}

/// A repeated input gives the diagonal entry through the pair maps too, even
/// at variances where Σ₁₁ + Σ₂₂ − 2Σ₁₂ would cancel catastrophically.
#[cfg(feature = "quadrature")]
#[test]
fn sin_of_huge_variances_repeated_input() {
    let a: Arch = "dense(5.0625,0.25) tanh abrelu(-6e66,-6e66) sin sin"
        .parse()
        .unwrap();
    let x = [[0.3, -0.2], [0.3, -0.2], [1.0, 0.5]];
    let (mut k, mut t) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    a.gram(&x, &mut k, &mut t).unwrap();
    let (mut kc, mut tc) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    a.cross(&x, &x, &mut kc, &mut tc).unwrap();
    assert!(k[0][0] > 0.1, "{}", k[0][0]);
    assert!((k[0][1] - k[0][0]).abs() <= 1e-12 * k[0][0]);
    for j in 0..3 {
        assert!((k[0][j] - k[1][j]).abs() <= 1e-12 * k[0][0]);
    }
    for i in 0..2 {
        for j in 0..2 {
            assert!(
                (kc[i][j] - k[0][0]).abs() <= 1e-12 * k[0][0],
                "({i}, {j}): {} vs {}",
                kc[i][j],
                k[0][0]
            );
        }
    }
}

/// GELU's derivative factor at large variances keeps f32 accuracy: the sum
/// 1 + (1 − Σ₁₁Σ₂₂)/((Σ₁₁+1)(Σ₂₂+1)) is formed without cancellation (it lost
/// 10⁻⁴ relative at a variance of 2·10⁷ when formed as written).
#[test]
fn gelu_derivative_factor_at_large_variance_in_f32() {
    for q in [1.0, 1e2, 1e4, 1e6, 2e7, 1e9] {
        let want = Layer::<f64>::Gelu.apply(PairState::new(q, 0.999 * q, q, 1.0));
        let (q32, k32) = (q as f32, (0.999 * q) as f32);
        let got = Layer::<f32>::Gelu.apply(PairState::new(q32, k32, q32, 1.0));
        let e = (f64::from(got.theta12) - want.theta12).abs() / want.theta12;
        assert!(e < 2e-6, "q = {q:e}: {e:e}");
    }
}

/// A repeated input through a quadrature layer gives the diagonal entry bit
/// for bit, so that a later layer of huge variance (here sin behind a scale of
/// 10⁶⁶) still sees the same input twice: cross(x, x) equals the Gram matrix.
#[cfg(feature = "quadrature")]
#[test]
fn repeated_input_through_quadrature_then_huge_sin() {
    let a: Arch = "dense(5.0625,0.25) relu tanh abrelu(-6.2774385622041925e66,-6.2774385622041925e66) sin sin sin tanh"
        .parse()
        .unwrap();
    let x = [[0.3, -0.2], [1.0, 0.5], [-0.7, 0.1]];
    let (mut k, mut t) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    a.gram(&x, &mut k, &mut t).unwrap();
    let (mut kc, mut tc) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    a.cross(&x, &x, &mut kc, &mut tc).unwrap();
    for i in 0..3 {
        assert_eq!(kc[i][i].to_bits(), k[i][i].to_bits(), "NNGP ({i},{i})");
        assert_eq!(tc[i][i].to_bits(), t[i][i].to_bits(), "NTK ({i},{i})");
        assert!(k[i][i] > 0.1);
    }
}
