//! Precision: f32 against f64.
//!
//! The analytic kernels promise 1e-3 relative in f32 (largest difference over
//! the largest entry) on the reference cases of `tests/data`. Beyond the
//! range where f32 carries that accuracy the result must be a typed error or
//! within a documented limit: overflow is reported (`Overflow`), and loss of
//! precision (a correlation driven to ±1 by depth or a huge σw, where
//! arc-sines and arc-cosines are ill-conditioned; sin kernels of huge
//! variance, which cancel) by `PrecisionLoss`; see
//! `f32_beyond_its_precision_is_not_garbage`.

use crate::common::rel_err;
use ntk::analytic::Architecture;
#[cfg(feature = "error-bounds")]
use ntk::analytic::PRECISION_LIMIT;
use ntk::Error;

const PUBLIC: &str = include_str!("../data/analytic_public.txt");

/// The f64 and f32 Gram matrices (NNGP then NTK, row-major) of `arch` on
/// `x` (n inputs of dimension d), the f32 one read back as f64.
fn both_precisions(
    arch: &str,
    x: &[f64],
    d: usize,
) -> (Result<Vec<f64>, Error>, Result<Vec<f64>, Error>) {
    let n = x.len() / d;
    let a64 = Architecture::<f64, 64>::parse(arch).unwrap();
    let a32 = Architecture::<f32, 64>::parse(arch).unwrap();
    let (mut k, mut t) = (vec![0.0; n * n], vec![0.0; n * n]);
    let r64 = a64
        .gram_flat(x, d, &mut k, &mut t)
        .map(|()| [k, t].concat());
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let (mut k, mut t) = (vec![0.0_f32; n * n], vec![0.0_f32; n * n]);
    let r32 = a32
        .gram_flat(&x32, d, &mut k, &mut t)
        .map(|()| k.iter().chain(&t).map(|&v| f64::from(v)).collect());
    (r64, r32)
}

#[test]
fn f32_within_1e3_of_f64_on_the_reference_cases() {
    let mut worst = (0.0_f64, String::new());
    let mut count = 0;
    for case in ntk::analytic::text::cases(PUBLIC) {
        let (n, d) = case.dims().unwrap();
        let mut x = vec![0.0; n * d];
        case.read_inputs(&mut x).unwrap();
        let (r64, r32) = both_precisions(case.arch().unwrap(), &x, d);
        let (g64, g32) = (r64.unwrap(), r32.expect("f32 kernel of a reference case"));
        let (k, t) = (
            rel_err(&g32[..n * n], &g64[..n * n]),
            rel_err(&g32[n * n..], &g64[n * n..]),
        );
        assert!(
            k <= 1e-3 && t <= 1e-3,
            "{}: f32 NNGP {k:e}, NTK {t:e}",
            case.name()
        );
        if k.max(t) > worst.0 {
            worst = (k.max(t), case.name().to_string());
        }
        count += 1;
    }
    assert_eq!(count, 40);
    eprintln!(
        "largest f32 − f64 difference on the reference cases: {:.2e} ({})",
        worst.0, worst.1
    );
}

const STRESS_X: [f64; 12] = [
    1.0, 0.0, 0.5, 0.9, 0.1, 0.5, 0.0, 1.0, -1.0, 1.0, 0.0, 0.5001,
];

/// f32 within `bound` of f64, or f32 overflowing: the stress cases where
/// f32 still holds (the limits measured by this table).
#[test]
fn f32_stress_cases_within_their_bounds() {
    /// What f32 does with a stress case.
    enum Expect {
        /// Ok, within this of f64.
        Within(f64),
        /// Overflow.
        Overflows,
    }
    use Expect::*;
    #[rustfmt::skip]
    let rows: &[(String, Expect)] = &[
        ("dense(2,0) erf ".repeat(10),                               Within(1e-4)),
        ("dense(1.5,0.1) relu ".repeat(15),                          Within(1e-3)),
        ("dense(3,0.01) erf ".repeat(10),                            Within(1e-3)),
        ("dense(10,0) erf dense(10,0) erf dense(10,0)".into(),       Within(1e-4)),
        ("dense(100,0) gelu dense(100,0) gelu dense(100,0)".into(),  Within(1e-3)),
        ("dense(1e4,0) relu dense(1e4,0) relu dense(1e4,0)".into(),  Within(1e-3)),
        ("dense(1e8,0) relu dense(1e8,0) relu dense(1e8,0)".into(),  Overflows),
        ("dense(1e4,0) gelu dense(1e4,0) gelu dense(1e4,0)".into(),  Overflows),
    ];
    for (arch, expect) in rows {
        let (r64, r32) = both_precisions(arch, &STRESS_X, 3);
        let g64 = r64.unwrap_or_else(|e| panic!("{arch}: f64 {e:?}"));
        let within = |g32: Vec<f64>, b: f64| {
            let e = rel_err(&g32[..16], &g64[..16]).max(rel_err(&g32[16..], &g64[16..]));
            assert!(e <= b, "{arch}: f32 differs by {e:e} > {b:e}");
        };
        match (expect, r32) {
            (Within(b), Ok(g32)) => within(g32, *b),
            (Overflows, Err(e)) => assert_eq!(e, Error::Overflow { what: "kernel" }, "{arch}"),
            (_, r) => panic!("{arch}: unexpected {r:?}"),
        }
    }
}

/// Where f32 loses all its digits without overflowing (measured without the
/// bound: 4·10⁻³ for 30 layers of `dense(2,0) erf`, 0.78 for erf behind
/// σw = 10⁴, 6·10⁻² for sin behind σw = 100 on these inputs, which hold a
/// pair of nearly equal ones), the error bound refuses the result.
#[cfg(feature = "error-bounds")]
#[test]
fn f32_beyond_its_precision_is_not_garbage() {
    for (arch, refused) in [
        ("dense(2,0) erf ".repeat(30), false),
        (
            "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)".into(),
            true,
        ),
        (
            "dense(100,0) sin dense(100,0) sin dense(100,0)".into(),
            true,
        ),
    ] {
        let (r64, r32) = both_precisions(&arch, &STRESS_X, 3);
        let g64 = r64.unwrap();
        match r32 {
            Ok(g32) => {
                assert!(!refused, "{arch}: f32 accepted");
                let e = rel_err(&g32, &g64);
                assert!(
                    e <= PRECISION_LIMIT,
                    "{arch}: f32 returned Ok with a difference of {e:e}"
                );
            }
            Err(e) => assert_eq!(e, Error::PrecisionLoss { what: "kernel" }, "{arch}"),
        }
    }
    // The pair routine agrees, and the same network in f64 is fine.
    let a32: Architecture<f32> = "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)"
        .parse()
        .unwrap();
    let (x0, x3) = ([1.0_f32, 0.0, 0.5], [1.0_f32, 0.0, 0.5001]);
    assert_eq!(
        a32.kernel(&x0, &x3),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    assert!(a32.kernel(&x0, &x0).is_ok(), "a repeated input is exact");
    let a64: Architecture<f64> = "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)"
        .parse()
        .unwrap();
    assert!(a64.kernel(&[1.0, 0.0, 0.5], &[1.0, 0.0, 0.5001]).is_ok());
}

/// Without the `error-bounds` feature the kernels are returned unchecked.
#[cfg(not(feature = "error-bounds"))]
#[test]
fn without_error_bounds_kernels_are_unchecked() {
    let a32: Architecture<f32> = "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)"
        .parse()
        .unwrap();
    assert!(a32.kernel(&[1.0, 0.0, 0.5], &[1.0, 0.0, 0.5001]).is_ok());
}

/// Ok in f32 means within the limit of f64: random architectures of up to
/// six nonlinear layers with σw from 0.5 to 300, inputs with nearly equal
/// and repeated pairs (rounded to f32 first: the bound is about the
/// computation, not about rounding the data). A refusal is always allowed;
/// an accepted kernel must be within the limit (200 000 cases also held
/// within half of it).
#[cfg(feature = "error-bounds")]
mod precision_properties {
    use super::*;
    use proptest::prelude::*;

    fn layer() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just("relu"),
                Just("abs"),
                Just("leaky_relu(0.1)"),
                Just("erf"),
                Just("gelu"),
                Just("sin"),
                Just("identity")
            ],
            -0.3..2.5_f64,
            0.0..0.5_f64,
        )
            .prop_map(|(act, lw, b)| format!("dense({},{}) {act}", 10f64.powf(lw), b))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(256)))]

        #[test]
        fn accepted_f32_kernels_are_accurate(
            layers in prop::collection::vec(layer(), 1..=6),
            x in prop::collection::vec(-1.0..1.0_f64, 9),
            eps in prop_oneof![Just(0.0), Just(1e-9), Just(1e-6), Just(1e-4)],
        ) {
            let arch = format!("{} dense(1,0)", layers.join(" "));
            // Four inputs of dimension 3: the last nearly equals the first.
            let mut xs = x.clone();
            xs.extend_from_slice(&[x[0] + eps, x[1], x[2] - eps]);
            // The same inputs in both precisions: the bound is about the
            // computation, not about rounding the data to f32.
            let xs: Vec<f64> = xs.iter().map(|&v| f64::from(v as f32)).collect();
            let (r64, r32) = both_precisions(&arch, &xs, 3);
            if let (Ok(g64), Ok(g32)) = (r64, r32) {
                let n = 4;
                let diag = |g: &[f64], i: usize| g[i * n + i].abs();
                for block in [0, n * n] {
                    for i in 0..n {
                        for j in 0..n {
                            let scale = (diag(&g64[block..], i) * diag(&g64[block..], j)).sqrt();
                            let e = (g32[block + i * n + j] - g64[block + i * n + j]).abs();
                            prop_assert!(
                                e <= PRECISION_LIMIT * scale + 1e-30,
                                "{arch}, eps {eps:e}: entry ({i},{j}) of block {block} off by {:e}",
                                e / scale
                            );
                        }
                    }
                }
            }
        }
    }
}
