//! Public behaviour of `ntk::predict`: neural-tangents reference values,
//! agreement between the eigen, Cholesky and direct paths, the stability
//! threshold of gradient descent, ensembles, online GP, and typed errors;
//! finite-or-refused results (`refusals`) and the error catalogue (`errors`).
#[path = "../common/mod.rs"]
mod common;
mod errors;
mod refusals;

use common::assert_close;
use ntk::analytic::Architecture;
use ntk::linalg::{is_positive_semidefinite, Regularizer};
use ntk::predict::*;
use ntk::Error;
use proptest::prelude::*;
use std::f64::consts::PI;

/// NNGP and NTK of `dense(1.5,0.1) relu dense(1.5,0.1)` (NTK parameterization)
/// between two inputs, by the arc-cosine closed forms.
struct Reference {
    nngp: [[f64; 3]; 3],
    ntk: [[f64; 3]; 3],
    nngp_test: [[f64; 3]; 1],
    ntk_test: [[f64; 3]; 1],
    nngp_self: f64,
    y: [[f64; 1]; 3],
}

fn reference() -> Reference {
    let c = |deg: f64| (deg * PI / 180.0).cos();
    let s = |deg: f64| (deg * PI / 180.0).sin();
    let xs = [
        [1.0, 0.0, 0.0],
        [c(60.0), s(60.0), 0.0],
        [c(120.0), s(120.0), 0.0],
    ];
    let xt = [0.0, 1.0, 0.0];
    // The infinite-width kernels of `dense(1.5,0.1) relu dense(1.5,0.1)`.
    let arch: Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse().unwrap();
    let mut r = Reference {
        nngp: [[0.0; 3]; 3],
        ntk: [[0.0; 3]; 3],
        nngp_test: [[0.0; 3]; 1],
        ntk_test: [[0.0; 3]; 1],
        nngp_self: arch.kernel(&xt, &xt).unwrap().sigma12,
        y: [[1.0], [-1.0], [0.5]],
    };
    arch.gram(&xs, &mut r.nngp, &mut r.ntk).unwrap();
    arch.cross(&[xt], &xs, &mut r.nngp_test, &mut r.ntk_test)
        .unwrap();
    r
}

#[test]
fn matches_neural_tangents() {
    let r = reference();
    let gd = GradientDescentMse::new(&r.y, 1.0).unwrap();
    let mut spectrum = Spectrum::new();
    gd.spectrum(&r.ntk, &mut spectrum).unwrap();
    let mut f = [[0.0; 1]; 1];
    for (t, want) in [
        (1.0, -0.1126551007),
        (10.0, -0.4223166525),
        (f64::INFINITY, -0.4801218397),
    ] {
        gd.test_outputs(&spectrum, &r.ntk_test, None, t, &mut f)
            .unwrap();
        assert_close!(f[0][0], want, 1e-9, "NTK gradient flow");
        let (mut work, mut rot) = ([[0.0; 3]; 3], [0.0; 30]);
        let scratch = Scratch {
            matrix: &mut work,
            rotations: &mut rot,
        };
        gd.direct_test_outputs(&r.ntk, &r.ntk_test, None, t, scratch, &mut f)
            .unwrap();
        assert_close!(f[0][0], want, 1e-9, "direct gradient flow");
    }
    let mut factor = Factor::new();
    gd.factor(&r.ntk, &mut factor).unwrap();
    gd.test_outputs_at_infinity(&factor, &r.ntk_test, None, &mut f)
        .unwrap();
    assert_close!(f[0][0], -0.4801218397, 1e-9, "NTK t = ∞ by Cholesky");

    factor.compute(&r.nngp, Regularizer::None).unwrap();
    posterior_mean(&factor, &r.y, &r.nngp_test, &mut f).unwrap();
    assert_close!(f[0][0], -0.5715879012, 1e-9, "NNGP posterior mean");
    let mut var = [0.0];
    posterior_variance(&factor, &r.nngp_test, &[r.nngp_self], &mut var).unwrap();
    assert_close!(var[0], 0.02087442864, 1e-10, "NNGP posterior variance");
    let (mut cov, mut work) = ([[0.0]], [[0.0; 3]]);
    covariance_posterior(&factor, &r.nngp_test, &[[r.nngp_self]], &mut work, &mut cov).unwrap();
    assert_close!(cov[0][0], 0.02087442864, 1e-10, "NNGP posterior covariance");

    // The NNGP ensemble at t = ∞ is the posterior.
    let ens = Ensemble::new(&r.y, 1.0).unwrap();
    ens.spectrum(&r.nngp, &mut spectrum).unwrap();
    ens.mean(&spectrum, &r.nngp_test, f64::INFINITY, &mut f)
        .unwrap();
    assert_close!(f[0][0], -0.5715879012, 1e-9, "NNGP ensemble mean at ∞");
    ens.covariance_nngp(
        &spectrum,
        &r.nngp_test,
        &[[r.nngp_self]],
        f64::INFINITY,
        &mut work,
        &mut cov,
    )
    .unwrap();
    assert_close!(
        cov[0][0],
        0.02087442864,
        1e-10,
        "NNGP ensemble covariance at ∞",
    );
}

#[test]
fn f32_matches_reference_loosely() {
    let r = reference();
    let to32 = |m: &[[f64; 3]; 3]| m.map(|row| row.map(|v| v as f32));
    let (ntk, ntk_test) = (to32(&r.ntk), [r.ntk_test[0].map(|v| v as f32)]);
    let y = r.y.map(|row| row.map(|v| v as f32));
    let gd = GradientDescentMse::new(&y, 1.0_f32).unwrap();
    let mut spectrum = Spectrum::new();
    gd.spectrum(&ntk, &mut spectrum).unwrap();
    let mut f = [[0.0_f32]];
    gd.test_outputs(&spectrum, &ntk_test, None, 10.0, &mut f)
        .unwrap();
    assert!((f[0][0] - -0.42231665).abs() < 1e-4, "{}", f[0][0]);
}

const N: usize = 6;
const M: usize = 3;

/// A random kernel: Gram matrix of N + M feature vectors in 8 dimensions,
/// plus 0.05 on the diagonal.
/// A row-major `R × C` matrix.
type Mat<const R: usize, const C: usize> = [[f64; C]; R];

fn kernels(v: &[f64]) -> (Mat<N, N>, Mat<M, N>, Mat<M, M>) {
    let feat = |i: usize| &v[i * 8..i * 8 + 8];
    let k = |i: usize, j: usize| {
        feat(i).iter().zip(feat(j)).map(|(a, b)| a * b).sum::<f64>() / 8.0
            + if i == j { 0.05 } else { 0.0 }
    };
    let train = core::array::from_fn(|i| core::array::from_fn(|j| k(i, j)));
    let test_train = core::array::from_fn(|i| core::array::from_fn(|j| k(N + i, j)));
    let test_test = core::array::from_fn(|i| core::array::from_fn(|j| k(N + i, N + j)));
    (train, test_train, test_test)
}

fn features() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-2.0..=2.0_f64, (N + M) * 8)
}

fn targets() -> impl Strategy<Value = [[f64; 2]; N]> {
    prop::array::uniform6(prop::array::uniform2(-3.0..=3.0_f64))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(256)))]

    #[test]
    fn infinity_by_eigenvectors_equals_cholesky(v in features(), y in targets(), f0 in targets(), reg in 0.0..=0.1_f64) {
        let (k, kt, _) = kernels(&v);
        let f0t: [[f64; 2]; M] = [f0[0], f0[1], f0[2]];
        let gd = GradientDescentMse::new(&y, 0.5).unwrap()
            .with_initial_outputs(&f0).unwrap()
            .with_regularizer(Regularizer::Relative(reg)).unwrap();
        let (mut s, mut l) = (Spectrum::new(), Factor::new());
        gd.spectrum(&k, &mut s).unwrap();
        gd.factor(&k, &mut l).unwrap();
        let (mut a, mut b, mut c) = ([[0.0; 2]; M], [[0.0; 2]; M], [[0.0; 2]; M]);
        gd.test_outputs(&s, &kt, Some(&f0t), f64::INFINITY, &mut a).unwrap();
        gd.test_outputs_at_infinity(&l, &kt, Some(&f0t), &mut b).unwrap();
        let (mut work, mut rot) = ([[0.0; N]; N], [0.0; 7]);
        gd.direct_test_outputs(&k, &kt, Some(&f0t), f64::INFINITY, Scratch { matrix: &mut work, rotations: &mut rot }, &mut c).unwrap();
        let scale = a.iter().flatten().fold(1.0, |m: f64, v| m.max(v.abs()));
        for i in 0..M {
            for j in 0..2 {
                assert_close!(a[i][j], b[i][j], 1e-7 * scale, "eigen vs Cholesky");
                assert_close!(c[i][j], b[i][j], 1e-7 * scale, "direct vs Cholesky");
            }
        }
    }

    #[test]
    fn time_zero_returns_initial_outputs(v in features(), y in targets(), f0 in targets()) {
        let (k, kt, _) = kernels(&v);
        let f0t: [[f64; 2]; M] = [f0[3], f0[4], f0[5]];
        let gd = GradientDescentMse::new(&y, 2.0).unwrap().with_initial_outputs(&f0).unwrap();
        let mut s = Spectrum::new();
        gd.spectrum(&k, &mut s).unwrap();
        let (mut train, mut test) = ([[1.0; 2]; N], [[1.0; 2]; M]);
        gd.train_outputs(&s, 0.0, &mut train).unwrap();
        gd.test_outputs(&s, &kt, Some(&f0t), 0.0, &mut test).unwrap();
        prop_assert_eq!(train, f0);
        prop_assert_eq!(test, f0t);
        gd.train_outputs_after_steps(&s, 0, &mut train).unwrap();
        prop_assert_eq!(train, f0);
    }

    #[test]
    fn direct_path_equals_eigenvectors(v in features(), y in targets(), t in 0.0..=50.0_f64) {
        let (k, kt, _) = kernels(&v);
        let gd = GradientDescentMse::new(&y, 1.0).unwrap().with_regularizer(Regularizer::Absolute(1e-3)).unwrap();
        let mut s = Spectrum::new();
        gd.spectrum(&k, &mut s).unwrap();
        let (mut a, mut b) = ([[0.0; 2]; M], [[0.0; 2]; M]);
        gd.test_outputs(&s, &kt, None, t, &mut a).unwrap();
        let (mut work, mut rot) = ([[0.0; N]; N], [0.0; 3 * N * N]);
        gd.direct_test_outputs(&k, &kt, None, t, Scratch { matrix: &mut work, rotations: &mut rot }, &mut b).unwrap();
        for i in 0..M {
            for j in 0..2 {
                assert_close!(a[i][j], b[i][j], 1e-9 * (1.0 + a[i][j].abs()), "direct vs eigen");
            }
        }
    }

    #[test]
    fn learning_rate_threshold(v in features(), y in targets(), factor in 0.5..=0.95_f64) {
        let (k, _, _) = kernels(&v);
        let mut work = [[0.0; N]; N];
        let eta_max = max_learning_rate(&k, 2, &mut work).unwrap();
        let loss = |f: &[[f64; 2]; N]| -> f64 {
            f.iter().zip(&y).flat_map(|(a, b)| a.iter().zip(b).map(|(p, q)| (p - q) * (p - q))).sum::<f64>()
        };
        // Below the threshold the loss decreases monotonically (no eigen-direction
        // of the residual grows).
        let below = GradientDescentMse::new(&y, factor * eta_max).unwrap();
        let mut s = Spectrum::new();
        below.spectrum(&k, &mut s).unwrap();
        let mut f = [[0.0; 2]; N];
        let mut last = loss(&f);
        for steps in [1, 10, 100, 1000] {
            below.train_outputs_after_steps(&s, steps, &mut f).unwrap();
            let l = loss(&f);
            prop_assert!(l <= last * (1.0 + 1e-12) + 1e-12, "loss rose: {} -> {}", last, l);
            last = l;
        }
        // Above it the residual along the top eigenvector grows geometrically.
        let above = GradientDescentMse::new(&y, (2.0 - factor) * eta_max * 1.05).unwrap();
        let top = &s.vectors()[N - 1];
        let along = |f: &[[f64; 2]; N]| (0..2).map(|c| (0..N).map(|i| top[i] * (f[i][c] - y[i][c])).sum::<f64>().abs()).sum::<f64>();
        let mut g = [[0.0; 2]; N];
        above.train_outputs_after_steps(&s, 200, &mut g).unwrap();
        let start = along(&[[0.0; 2]; N]);
        prop_assume!(start > 1e-6);
        prop_assert!(along(&g) > 1e3 * start, "no divergence: {} -> {}", start, along(&g));
        prop_assert!(loss(&g) > 1e3 * loss(&[[0.0; 2]; N]));
    }

    #[test]
    fn ensemble_covariance_is_symmetric_psd(v in features(), y in targets(), t in prop::sample::select(vec![0.0, 0.1, 1.0, 10.0, 1e3, f64::INFINITY])) {
        let (nngp, nngp_t, nngp_tt) = kernels(&v);
        // An NTK-like kernel: NNGP plus a second positive definite part.
        let ntk: [[f64; N]; N] = core::array::from_fn(|i| core::array::from_fn(|j| 2.0 * nngp[i][j] + 0.1 * (i == j) as u8 as f64));
        let ntk_t: [[f64; N]; M] = core::array::from_fn(|i| core::array::from_fn(|j| 2.0 * nngp_t[i][j]));
        let ens = Ensemble::new(&y, 1.0).unwrap();
        let (mut s_nngp, mut s_ntk) = (Spectrum::new(), Spectrum::new());
        ens.spectrum(&nngp, &mut s_nngp).unwrap();
        ens.spectrum(&ntk, &mut s_ntk).unwrap();
        let (mut cov, mut work) = ([[0.0; M]; M], [[0.0; N]; M]);
        let mut psd_work = [[0.0; M]; M];
        ens.covariance_nngp(&s_nngp, &nngp_t, &nngp_tt, t, &mut work, &mut cov).unwrap();
        for i in 0..M {
            for j in 0..M {
                prop_assert_eq!(cov[i][j].to_bits(), cov[j][i].to_bits());
            }
        }
        prop_assert!(is_positive_semidefinite(&cov, 1e-9, &mut psd_work).unwrap());
        let kernels = NngpKernels { train_train: &nngp, test_train: &nngp_t, test_test: &nngp_tt };
        ens.covariance_ntk(&s_ntk, &ntk_t, kernels, t, &mut work, &mut cov).unwrap();
        for i in 0..M {
            for j in 0..M {
                prop_assert_eq!(cov[i][j].to_bits(), cov[j][i].to_bits());
            }
        }
        prop_assert!(is_positive_semidefinite(&cov, 1e-9, &mut psd_work).unwrap());
        if t == 0.0 {
            for i in 0..M {
                for j in 0..M {
                    assert_close!(cov[i][j], nngp_tt[i][j], 1e-12, "prior at t = 0");
                }
            }
        }
        let mut mean = [[0.0; 2]; M];
        ens.mean(&s_ntk, &ntk_t, t, &mut mean).unwrap();
        prop_assert!(mean.iter().flatten().all(|v| v.is_finite()));
    }

    #[test]
    fn online_gp_equals_batch(v in features(), y in targets()) {
        let (k, kt, _) = kernels(&v);
        let noise = 1e-3;
        let mut gp = OnlineGp::<f64, N, 2>::new(noise);
        for n in 0..N {
            gp.push(&k[n][..n], k[n][n], y[n]).unwrap();
        }
        let mut l = Factor::new();
        l.compute(&k, Regularizer::Absolute(noise)).unwrap();
        let mut batch = [[0.0; 2]; M];
        posterior_mean(&l, &y, &kt, &mut batch).unwrap();
        let mut var = [0.0; M];
        let diag: [f64; M] = core::array::from_fn(|i| kt[i].iter().map(|x| x * x).sum::<f64>() + 1.0);
        posterior_variance(&l, &kt, &diag, &mut var).unwrap();
        for i in 0..M {
            let mut out = [0.0; 2];
            let vi = gp.predict_with_variance(&kt[i], diag[i], &mut out).unwrap();
            for c in 0..2 {
                assert_close!(out[c], batch[i][c], 1e-7 * (1.0 + batch[i][c].abs()), "online mean");
            }
            assert_close!(vi, var[i], 1e-7 * (1.0 + var[i].abs()), "online variance");
        }
        // Drop the two oldest points: the model equals the batch model of the rest.
        gp.pop_oldest().unwrap();
        gp.pop_oldest().unwrap();
        const R: usize = N - 2;
        let sub: [[f64; R]; R] = core::array::from_fn(|i| core::array::from_fn(|j| k[i + 2][j + 2]));
        let ys: [[f64; 2]; R] = core::array::from_fn(|i| y[i + 2]);
        let kts: [[f64; R]; M] = core::array::from_fn(|i| core::array::from_fn(|j| kt[i][j + 2]));
        let mut ls = Factor::new();
        ls.compute(&sub, Regularizer::Absolute(noise)).unwrap();
        let mut batch = [[0.0; 2]; M];
        posterior_mean(&ls, &ys, &kts, &mut batch).unwrap();
        for i in 0..M {
            let mut out = [0.0; 2];
            gp.predict(&kts[i], &mut out).unwrap();
            for c in 0..2 {
                assert_close!(out[c], batch[i][c], 1e-7 * (1.0 + batch[i][c].abs()), "after pop");
            }
        }
        for i in 0..R {
            for j in 0..R {
                prop_assert_eq!(gp.gram()[i][j], sub[i][j]);
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error_and_outputs_are_zeroed() {
    let r = reference();
    assert!(matches!(
        GradientDescentMse::new(&r.y, 0.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        GradientDescentMse::new(&r.y, -1.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        GradientDescentMse::new(&r.y, f64::NAN),
        Err(Error::InvalidArgument { .. })
    ));
    let bad_y = [[1.0], [f64::NAN], [0.0]];
    assert_eq!(
        GradientDescentMse::new(&bad_y, 1.0).err(),
        Some(Error::NonFinite { what: "targets" })
    );
    let gd = GradientDescentMse::new(&r.y, 1.0).unwrap();
    let mut s = Spectrum::new();
    gd.spectrum(&r.ntk, &mut s).unwrap();
    let mut f = [[9.0]];
    for t in [-1.0, f64::NAN, f64::NEG_INFINITY] {
        assert!(matches!(
            gd.test_outputs(&s, &r.ntk_test, None, t, &mut f),
            Err(Error::InvalidArgument { .. })
        ));
        assert_eq!(f, [[0.0]]);
        f = [[9.0]];
    }
    let mut bad_test = r.ntk_test;
    bad_test[0][1] = f64::INFINITY;
    assert_eq!(
        gd.test_outputs(&s, &bad_test, None, 1.0, &mut f),
        Err(Error::NonFinite {
            what: "test-train kernel"
        })
    );
    assert_eq!(f, [[0.0]]);
    let mut bad_k = r.ntk;
    bad_k[2][0] = f64::NAN;
    assert_eq!(
        gd.spectrum(&bad_k, &mut s),
        Err(Error::NonFinite { what: "matrix" })
    );
    // Singular train kernel: Cholesky refuses, a regulariser repairs it.
    let singular = [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]];
    let mut l = Factor::new();
    assert!(matches!(
        gd.factor(&singular, &mut l),
        Err(Error::NotPositiveDefinite { .. })
    ));
    let reg = gd.with_regularizer(Regularizer::Relative(1e-3)).unwrap();
    reg.factor(&singular, &mut l).unwrap();
    assert!(matches!(
        gd.with_regularizer(Regularizer::Absolute(-1.0)),
        Err(Error::InvalidArgument { .. })
    ));
    // Divergent discrete GD overflows into a typed error.
    let mut work = [[0.0; 3]; 3];
    let eta = max_learning_rate(&r.ntk, 1, &mut work).unwrap();
    let wild = GradientDescentMse::new(&r.y, 3.0 * eta).unwrap();
    wild.spectrum(&r.ntk, &mut s).unwrap();
    let mut g = [[1.0]; 3];
    assert!(matches!(
        wild.train_outputs_after_steps(&s, 100_000, &mut g),
        Err(Error::Overflow { .. })
    ));
    assert_eq!(g, [[0.0]; 3]);
    assert!(matches!(
        max_learning_rate(&[[0.0]], 1, &mut [[0.0]]),
        Err(Error::InvalidArgument { .. })
    ));
    // Online GP: full, wrong row, duplicate, empty.
    let mut gp = OnlineGp::<f64, 2>::new(0.0);
    gp.push(&[], 1.0, [1.0]).unwrap();
    assert!(matches!(
        gp.push(&[1.0, 1.0], 1.0, [1.0]),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(
        gp.push(&[1.0], 1.0, [1.0]),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    assert_eq!(gp.len(), 1);
    gp.push(&[0.5], 1.0, [2.0]).unwrap();
    assert_eq!(
        gp.push(&[0.0, 0.0], 1.0, [0.0]),
        Err(Error::BufferTooSmall {
            needed: 3,
            given: 2
        })
    );
    let mut out = [7.0];
    assert!(matches!(
        gp.predict(&[f64::NAN, 0.0], &mut out),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(out, [0.0]);
    gp.pop_oldest().unwrap();
    gp.pop_oldest().unwrap();
    assert!(matches!(
        gp.pop_oldest(),
        Err(Error::InvalidArgument { .. })
    ));
    let mut negative = OnlineGp::<f64, 2>::new(-1.0);
    assert!(matches!(
        negative.push(&[], 1.0, [0.0]),
        Err(Error::InvalidArgument { .. })
    ));
}

/// A squared-exponential kernel on `R²`.
fn rbf2(a: &[f64; 2], b: &[f64; 2]) -> f64 {
    let d = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
    (-d).exp()
}

/// The i-th point and its targets of the online-window tests.
fn window_point(i: usize) -> ([f64; 2], [f64; 2]) {
    let t = i as f64 * 0.7;
    let x = [t.cos() * (1.0 + 0.1 * t), t.sin()];
    (x, [x[0] - x[1], (x[0] * x[1]).sin()])
}

/// The bit patterns of a window's model and inputs: "exactly as it was".
fn window_bits<const D: usize, const S: usize, const K: usize>(
    w: &OnlineWindow<f64, D, S, K>,
) -> Vec<u64> {
    let gp = w.gp();
    let mut bits = vec![gp.len() as u64];
    bits.extend(gp.gram().iter().flatten().map(|v| v.to_bits()));
    bits.extend(gp.factor().iter().flatten().map(|v| v.to_bits()));
    bits.extend(gp.targets().iter().flatten().map(|v| v.to_bits()));
    bits.extend(w.inputs().iter().flatten().map(|v| v.to_bits()));
    bits
}

#[test]
fn online_window_matches_batch_posterior_over_the_latest_points() {
    const S: usize = 6; // 5 points held
    let noise = 1e-3;
    let mut window = OnlineWindow::<f64, 2, S, 2>::new(noise);
    let total = 13;
    for i in 0..total {
        let (x, y) = window_point(i);
        window.push(x, y, rbf2).unwrap();
        assert_eq!(window.len(), (i + 1).min(S - 1));
    }
    assert_eq!(window.capacity(), S - 1);
    // The batch GP over the last S − 1 points.
    const N: usize = S - 1;
    let xs: [[f64; 2]; N] = core::array::from_fn(|j| window_point(total - N + j).0);
    let ys: [[f64; 2]; N] = core::array::from_fn(|j| window_point(total - N + j).1);
    assert!(window.inputs().iter().eq(xs.iter()));
    let gram: [[f64; N]; N] =
        core::array::from_fn(|i| core::array::from_fn(|j| rbf2(&xs[i], &xs[j])));
    let mut factor = ntk::linalg::Cholesky::new();
    factor.compute(&gram, Regularizer::Absolute(noise)).unwrap();
    let tests = [[0.3, -0.2], [1.0, 0.5], [-0.7, 0.1]];
    let k_test: [[f64; N]; 3] =
        core::array::from_fn(|m| core::array::from_fn(|j| rbf2(&tests[m], &xs[j])));
    let k_diag: [f64; 3] = core::array::from_fn(|m| rbf2(&tests[m], &tests[m]));
    let mut mean = [[0.0; 2]; 3];
    posterior_mean(&factor, &ys, &k_test, &mut mean).unwrap();
    let mut var = [0.0; 3];
    posterior_variance(&factor, &k_test, &k_diag, &mut var).unwrap();
    for m in 0..3 {
        let mut out = [0.0; 2];
        let v = window
            .predict_with_variance(&tests[m], rbf2, &mut out)
            .unwrap();
        assert_close!(v, var[m], 1e-9, "variance");
        let mut only_mean = [0.0; 2];
        window.predict(&tests[m], rbf2, &mut only_mean).unwrap();
        for c in 0..2 {
            assert_close!(out[c], mean[m][c], 1e-9, "mean");
            assert_eq!(only_mean[c].to_bits(), out[c].to_bits());
        }
    }
}

#[test]
fn online_window_evicts_oldest_first() {
    let k = |a: &[f64; 1], b: &[f64; 1]| (-(a[0] - b[0]).powi(2)).exp();
    let mut window = OnlineWindow::<f64, 1, 4>::new(1e-6);
    assert!(window.is_empty());
    for (i, x) in [0.0, 1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
        window.push([x], [x * 10.0], k).unwrap();
        let held: Vec<f64> = window.inputs().iter().map(|p| p[0]).collect();
        let want: Vec<f64> = (i.saturating_sub(2)..=i).map(|j| j as f64).collect();
        assert_eq!(held, want);
        // The targets follow the inputs, oldest first.
        let targets: Vec<f64> = window.gp().targets()[..window.len()]
            .iter()
            .map(|t| t[0])
            .collect();
        assert_eq!(targets, want.iter().map(|x| x * 10.0).collect::<Vec<_>>());
    }
    window.clear();
    assert!(window.is_empty() && window.gp().is_empty());
}

#[test]
fn online_window_refused_push_leaves_it_unchanged() {
    const S: usize = 5;
    for fill in [2, S - 1] {
        // noise 0: a duplicate point is singular.
        let mut window = OnlineWindow::<f64, 2, S, 2>::new(0.0);
        for i in 0..fill {
            let (x, y) = window_point(i);
            window.push(x, y, rbf2).unwrap();
        }
        let before = window_bits(&window);
        let (x, y) = window_point(1); // held, and not the oldest
        let nan_kernel = |a: &[f64; 2], b: &[f64; 2]| if a == b { f64::NAN } else { rbf2(a, b) };
        let failures = [
            window.clone().push(x, [f64::NAN, 0.0], rbf2),
            window.clone().push([f64::INFINITY, 0.0], y, rbf2),
            window.clone().push(window_point(9).0, y, nan_kernel),
            window.clone().push(x, y, rbf2),
        ];
        assert!(matches!(failures[0], Err(Error::NonFinite { .. })));
        assert!(matches!(failures[1], Err(Error::NonFinite { .. })));
        assert!(matches!(failures[2], Err(Error::NonFinite { .. })));
        assert!(matches!(
            failures[3],
            Err(Error::NotPositiveDefinite { .. })
        ));
        // The same refusals on the window itself leave every bit as it was.
        assert!(window.push(x, [f64::NAN, 0.0], rbf2).is_err());
        assert!(window.push(window_point(9).0, y, nan_kernel).is_err());
        assert!(window.push(x, y, rbf2).is_err());
        assert_eq!(window_bits(&window), before);
        // And it goes on working.
        window
            .push(window_point(7).0, window_point(7).1, rbf2)
            .unwrap();
        assert_eq!(window.len(), (fill + 1).min(S - 1));
    }
    // A bad noise is refused before anything changes.
    let mut bad = OnlineWindow::<f64, 1, 3>::new(-1.0);
    assert!(matches!(
        bad.push([0.0], [0.0], |a, b| a[0] * b[0] + 1.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(bad.is_empty());
}

#[test]
fn online_window_zeroes_outputs_on_error() {
    let mut window = OnlineWindow::<f64, 2, 4, 2>::new(1e-6);
    for i in 0..5 {
        let (x, y) = window_point(i);
        window.push(x, y, rbf2).unwrap();
    }
    let nan_kernel = |_: &[f64; 2], _: &[f64; 2]| f64::NAN;
    let mut out = [7.0, 7.0];
    assert!(matches!(
        window.predict(&[f64::NAN, 0.0], rbf2, &mut out),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(out, [0.0, 0.0]);
    out = [7.0, 7.0];
    assert!(window.predict(&[0.1, 0.2], nan_kernel, &mut out).is_err());
    assert_eq!(out, [0.0, 0.0]);
    out = [7.0, 7.0];
    assert!(matches!(
        window.predict_with_variance(&[0.1, f64::INFINITY], rbf2, &mut out),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(out, [0.0, 0.0]);
    out = [7.0, 7.0];
    // A NaN only on the diagonal k(x, x).
    let nan_diag = |a: &[f64; 2], b: &[f64; 2]| if a == b { f64::NAN } else { rbf2(a, b) };
    assert!(window
        .predict_with_variance(&[0.1, 0.2], nan_diag, &mut out)
        .is_err());
    assert_eq!(out, [0.0, 0.0]);
}

#[test]
fn online_window_on_the_heap_matches_the_stack() {
    let mut boxed: Box<OnlineWindow<f64, 2, 5, 2>> = ntk::boxed::online_window(1e-4).unwrap();
    let mut stack = OnlineWindow::<f64, 2, 5, 2>::new(1e-4);
    for i in 0..9 {
        let (x, y) = window_point(i);
        boxed.push(x, y, rbf2).unwrap();
        stack.push(x, y, rbf2).unwrap();
    }
    assert_eq!(window_bits(&boxed), window_bits(&stack));
    assert!(ntk::boxed::online_window::<f64, 2, 5, 2>(f64::NAN).is_err());
}

/// The former names keep their former argument order (outputs before the
/// workspace) and give the results of the new ones.
#[test]
#[allow(deprecated)]
fn former_names_keep_their_argument_order() {
    use ntk::linalg::{
        apply_matrix_function, eigenvalues, eigh_jacobi, eigvalsh, jacobi_eigh, matrix_function,
        Cholesky, EigenOptions, Spectrum,
    };
    let k = [[2.0_f64, 0.0, 0.0], [0.5, 1.5, 0.0], [0.2, 0.1, 1.0]];
    let opts = EigenOptions::default();
    let (mut work, mut a, mut b) = ([[0.0; 3]; 3], [0.0; 3], [0.0; 3]);
    eigvalsh(&k, opts, &mut work, &mut a).unwrap();
    eigenvalues(&k, opts, &mut b, &mut work).unwrap();
    assert_eq!(a, b);
    let (mut va, mut vb) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    jacobi_eigh(&k, opts, &mut work, &mut a, &mut va).unwrap();
    eigh_jacobi(&k, opts, &mut b, &mut vb, &mut work).unwrap();
    assert_eq!((a, va), (b, vb));
    let rhs = [[1.0], [0.0], [-1.0]];
    let (mut rot, mut fa, mut fb) = ([0.0; 30], [[0.0]; 3], [[0.0]; 3]);
    matrix_function(&k, opts, |l| 1.0 / l, &rhs, &mut work, &mut rot, &mut fa).unwrap();
    apply_matrix_function(&k, opts, |l| 1.0 / l, &rhs, &mut fb, &mut work, &mut rot).unwrap();
    assert_eq!(fa, fb);

    let kt = [[0.3, 0.2, 0.1], [0.1, 0.0, 0.4]];
    let ktt = [[1.0, 0.0], [0.2, 1.0]];
    let mut factor = Cholesky::new();
    factor.compute(&k, Regularizer::None).unwrap();
    let (mut w, mut ca, mut cb) = ([[0.0; 3]; 2], [[0.0; 2]; 2], [[0.0; 2]; 2]);
    covariance_posterior(&factor, &kt, &ktt, &mut w, &mut ca).unwrap();
    posterior_covariance(&factor, &kt, &ktt, &mut cb, &mut w).unwrap();
    assert_eq!(ca, cb);

    let y = [[1.0], [-1.0], [0.5]];
    let ens = Ensemble::new(&y, 1.0).unwrap();
    let mut s = Spectrum::new();
    ens.spectrum(&k, &mut s).unwrap();
    ens.covariance_nngp(&s, &kt, &ktt, 2.0, &mut w, &mut ca)
        .unwrap();
    ens.nngp_covariance(&s, &kt, &ktt, 2.0, &mut cb, &mut w)
        .unwrap();
    assert_eq!(ca, cb);
    let kernels = NngpKernels {
        train_train: &k,
        test_train: &kt,
        test_test: &ktt,
    };
    ens.covariance_ntk(&s, &kt, kernels, 2.0, &mut w, &mut ca)
        .unwrap();
    ens.ntk_covariance(&s, &kt, kernels, 2.0, &mut cb, &mut w)
        .unwrap();
    assert_eq!(ca, cb);

    let gd = GradientDescentMse::new(&y, 1.0).unwrap();
    let (mut oa, mut ob) = ([[0.0]; 2], [[0.0]; 2]);
    let scratch = Scratch {
        matrix: &mut work,
        rotations: &mut rot,
    };
    gd.direct_test_outputs(&k, &kt, None, 3.0, scratch, &mut oa)
        .unwrap();
    let scratch = Scratch {
        matrix: &mut work,
        rotations: &mut rot,
    };
    gd.test_outputs_direct(&k, &kt, None, 3.0, &mut ob, scratch)
        .unwrap();
    assert_eq!(oa, ob);
}

/// The posterior mean zeroes its output when the targets are refused too,
/// not only when the kernel is.
#[test]
fn posterior_mean_zeroes_output_on_refused_targets() {
    let mut factor = ntk::linalg::Cholesky::new();
    factor
        .compute(&[[2.0_f64, 0.0], [0.5, 1.0]], Regularizer::None)
        .unwrap();
    let mut mean = [[7.0], [7.0]];
    assert!(matches!(
        posterior_mean(
            &factor,
            &[[1.0], [f64::NAN]],
            &[[1.0, 0.5], [0.0, 1.0]],
            &mut mean
        ),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(mean, [[0.0], [0.0]]);
    mean = [[7.0], [7.0]];
    assert!(posterior_mean(
        &factor,
        &[[1.0], [2.0]],
        &[[f64::INFINITY, 0.5], [0.0, 1.0]],
        &mut mean
    )
    .is_err());
    assert_eq!(mean, [[0.0], [0.0]]);
}
