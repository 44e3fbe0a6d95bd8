//! The error catalogue of `predict`: bad targets, learning rates, times and
//! kernels, with the exact error and the zeroed outputs. The policy is
//! stated in `tests/common/catalogue.rs`.

use crate::common::catalogue::{flat, judge_rows, Call, Out, INF, NAN, S};
use ntk::linalg::Regularizer;
use ntk::predict::{max_learning_rate, posterior_variance, Factor, GradientDescentMse, Spectrum};
use ntk::Error;

const KT: [[f64; 3]; 3] = [[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.25, 0.0, 1.5]];
const KX: [[f64; 3]; 1] = [[0.5, 0.25, 0.0]];
const Y: [[f64; 1]; 3] = [[1.0], [-1.0], [0.5]];
const F0: [[f64; 1]; 3] = [[0.25], [0.0], [-0.5]];

fn spectrum(k: &[[f64; 3]; 3]) -> Spectrum<f64, 3> {
    let mut s = Spectrum::new();
    s.compute(k, Regularizer::None).unwrap();
    s
}

fn train_at(t: f64) -> (Result<(), Error>, Vec<f64>) {
    let gd = GradientDescentMse::new(&Y, 1.0)
        .unwrap()
        .with_initial_outputs(&F0)
        .unwrap();
    let mut out = [[S; 1]; 3];
    let r = gd.train_outputs(&spectrum(&KT), t, &mut out);
    (r, flat(&out))
}

fn test_at(kx: [[f64; 3]; 1], f0: [[f64; 1]; 1], t: f64) -> (Result<(), Error>, Vec<f64>) {
    let gd = GradientDescentMse::new(&Y, 1.0).unwrap();
    let mut out = [[S; 1]; 1];
    let r = gd.test_outputs(&spectrum(&KT), &kx, Some(&f0), t, &mut out);
    (r, flat(&out))
}

fn new_gd(y: [[f64; 1]; 3], lr: f64) -> (Result<(), Error>, Vec<f64>) {
    (GradientDescentMse::new(&y, lr).map(|_| ()), vec![])
}

#[test]
fn predict_catalogue() {
    let lr = Error::InvalidArgument {
        what: "learning rate must be finite and positive",
    };
    let time = Error::InvalidArgument {
        what: "time must be non-negative",
    };
    #[rustfmt::skip]
    let rows: &[(&str, Call, Result<(), Error>, Out)] = &[
        ("new, NaN target",                 || new_gd([[1.0], [NAN], [0.0]], 1.0), Err(Error::NonFinite { what: "targets" }), Out::Finite),
        ("new, NaN target and bad rate",    || new_gd([[INF], [0.0], [0.0]], -1.0), Err(Error::NonFinite { what: "targets" }), Out::Finite),
        ("new, learning rate 0",            || new_gd(Y, 0.0), Err(lr), Out::Finite),
        ("new, learning rate −0.0",         || new_gd(Y, -0.0), Err(lr), Out::Finite),
        ("new, learning rate NaN",          || new_gd(Y, NAN), Err(lr), Out::Finite),
        ("new, learning rate +∞",           || new_gd(Y, INF), Err(lr), Out::Finite),
        ("new, 1e300 targets",              || new_gd([[1e300]; 3], 1.0), Ok(()), Out::Finite),
        ("initial outputs, −∞",             || (GradientDescentMse::new(&Y, 1.0).unwrap().with_initial_outputs(&[[0.0], [-INF], [0.0]]).map(|_| ()), vec![]),
                                               Err(Error::NonFinite { what: "initial outputs" }), Out::Finite),
        ("regulariser, −1",                 || (GradientDescentMse::new(&Y, 1.0).unwrap().with_regularizer(Regularizer::Absolute(-1.0)).map(|_| ()), vec![]),
                                               Err(Error::InvalidArgument { what: "regulariser must be finite and non-negative" }), Out::Finite),
        ("train outputs, t = −1",           || train_at(-1.0), Err(time), Out::Zeroed),
        ("train outputs, t = NaN",          || train_at(NAN), Err(time), Out::Zeroed),
        ("train outputs, t = −0.0",         || train_at(-0.0), Ok(()), Out::Finite),
        ("train outputs, t = +∞",           || train_at(INF), Ok(()), Out::Finite),
        ("train outputs, t = 1e300",        || train_at(1e300), Ok(()), Out::Finite),
        ("test outputs, NaN kernel",        || test_at([[NAN, 0.0, 0.0]], [[0.0]], 1.0), Err(Error::NonFinite { what: "test-train kernel" }), Out::Zeroed),
        ("test outputs, ∞ initial output",  || test_at(KX, [[INF]], 1.0), Err(Error::NonFinite { what: "initial test outputs" }), Out::Zeroed),
        ("test outputs, 1e300 kernel",      || test_at([[1e300, 1e300, 0.0]], [[0.0]], 1.0), Ok(()), Out::Finite),
        ("steps, learning rate far beyond 2m/λ", || {
            let gd = GradientDescentMse::new(&Y, 1e6).unwrap();
            let mut out = [[S; 1]; 3];
            let r = gd.train_outputs_after_steps(&spectrum(&KT), 1000, &mut out);
            (r, flat(&out))
        }, Err(Error::Overflow { what: "train outputs" }), Out::Zeroed),
        ("factor, duplicate points",        || {
            let gd = GradientDescentMse::new(&Y, 1.0).unwrap();
            let mut f = Factor::new();
            let r = gd.factor(&[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &mut f);
            (r, flat(f.l()))
        }, Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("max_learning_rate, zero kernel",  || (max_learning_rate(&[[0.0; 3]; 3], 1, &mut [[0.0; 3]; 3]).map(|_| ()), vec![]),
                                               Err(Error::InvalidArgument { what: "kernel has no positive eigenvalue" }), Out::Finite),
        ("max_learning_rate, no outputs",   || (max_learning_rate(&KT, 0, &mut [[0.0; 3]; 3]).map(|_| ()), vec![]),
                                               Err(Error::InvalidArgument { what: "number of outputs must be at least 1" }), Out::Finite),
        ("posterior variance, NaN diagonal", || {
            let mut f = Factor::new();
            f.compute(&KT, Regularizer::None).unwrap();
            let mut v = [S; 1];
            let r = posterior_variance(&f, &KX, &[NAN], &mut v);
            (r, v.to_vec())
        }, Err(Error::NonFinite { what: "test kernel diagonal" }), Out::Zeroed),
    ];
    judge_rows(rows);

    // t = 0 and zero steps return f₀ exactly.
    let (_, f) = train_at(0.0);
    assert_eq!(f, flat(&F0));
    let (_, f) = test_at(KX, [[0.75]], 0.0);
    assert_eq!(f, vec![0.75]);
    // Duplicate training points: gradient flow is still defined (the
    // spectrum has a zero eigenvalue, which contributes nothing).
    let dup = [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let gd = GradientDescentMse::new(&[[1.0], [1.0], [0.0]], 1.0).unwrap();
    let mut out = [[S; 1]; 3];
    gd.train_outputs(&spectrum(&dup), INF, &mut out).unwrap();
    assert!(
        (out[0][0] - 1.0).abs() < 1e-12 && (out[1][0] - 1.0).abs() < 1e-12,
        "{out:?}"
    );
}
