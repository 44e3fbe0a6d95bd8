//! The MLP program's references: the problem of `src/bin/mlp/problem.rs`,
//! solved on the host by the same library in `f64`.

use ntk::empirical::structured;
use ntk::linalg::{condition_number, Regularizer};
use ntk::nn::Module;
use ntk::predict::{posterior_mean, Factor};

#[path = "../src/bin/mlp/problem.rs"]
mod problem;

use super::{matrix, vector};
use problem::{Mlp, D, N_TEST, N_TRAIN};

/// Smallest |pre-activation| of a hidden ReLU unit, relative to the largest
/// one of its layer, that the problem must keep: f32 rounds a pre-activation
/// by about 1e-6 of that scale, so no ReLU can switch sides between the f32
/// and f64 runs and the comparison measures rounding only.
const MIN_KINK_MARGIN: f64 = 1e-3;

/// Largest condition number of a regularised train kernel that the
/// prediction tolerance of `src/bin/mlp/main.rs` is designed for.
const MAX_CONDITION: f64 = 1e3;

/// The Rust source of the references, for `src/bin/mlp/main.rs` to
/// `include!`.
pub fn reference() -> String {
    let net: Mlp<f64> = problem::network();
    let x_train: [[f64; D]; N_TRAIN] = problem::inputs(&problem::X_TRAIN);
    let x_test: [[f64; D]; N_TEST] = problem::inputs(&problem::X_TEST);
    let y = problem::targets(&x_train);
    let ridge = Regularizer::Relative(problem::RIDGE);

    check_kink_margin(&net, x_train.iter().chain(&x_test));

    // Finite width: the empirical NTK and the kernel regression it defines.
    let mut ws = [0.0; problem::WORKSPACE];
    let mut ntk_train = [[0.0; N_TRAIN]; N_TRAIN];
    structured::ntk(&net, &x_train, &mut ws, &mut ntk_train).expect("empirical NTK");
    let mut ntk_test = [[0.0; N_TRAIN]; N_TEST];
    structured::ntk_cross(&net, &x_test, &x_train, &mut ws, &mut ntk_test)
        .expect("empirical NTK, test x train");
    let pred = regression(&ntk_train, &ntk_test, &y, ridge);

    // Infinite width: the analytic NTK and its kernel regression.
    let arch = problem::architecture::<f64>().expect("architecture");
    let (mut nngp_train, mut antk_train) = ([[0.0; N_TRAIN]; N_TRAIN], [[0.0; N_TRAIN]; N_TRAIN]);
    arch.gram(&x_train, &mut nngp_train, &mut antk_train)
        .expect("analytic NTK");
    let (mut nngp_test, mut antk_test) = ([[0.0; N_TRAIN]; N_TEST], [[0.0; N_TRAIN]; N_TEST]);
    arch.cross(&x_test, &x_train, &mut nngp_test, &mut antk_test)
        .expect("analytic NTK, test x train");
    let apred = regression(&antk_train, &antk_test, &y, ridge);

    let mut src = String::new();
    src.push_str(
        "// Reference values of the problem in `src/bin/mlp/problem.rs`, computed on the host by\n\
         // `build.rs` with the same library in f64 and rounded to the nearest f32.\n\n",
    );
    matrix(
        &mut src,
        "Empirical NTK Θ(X_train, X_train).",
        "NTK_TRAIN",
        &ntk_train,
    );
    matrix(
        &mut src,
        "Empirical NTK Θ(X_test, X_train).",
        "NTK_TEST",
        &ntk_test,
    );
    vector(
        &mut src,
        "Kernel regression with the empirical NTK on the test inputs.",
        "PREDICTION",
        &pred,
    );
    matrix(
        &mut src,
        "Analytic (infinite-width) NTK Θ(X_train, X_train).",
        "ANALYTIC_TRAIN",
        &antk_train,
    );
    matrix(
        &mut src,
        "Analytic (infinite-width) NTK Θ(X_test, X_train).",
        "ANALYTIC_TEST",
        &antk_test,
    );
    vector(
        &mut src,
        "Kernel regression with the analytic NTK on the test inputs.",
        "ANALYTIC_PREDICTION",
        &apred,
    );
    src
}

/// Kernel regression at t = ∞: `Θ(x, X)·(Θ(X, X) + εI)⁻¹·Y` by Cholesky,
/// after checking that the regularised kernel is as well conditioned as the
/// device's tolerance assumes.
fn regression(
    k_train: &[[f64; N_TRAIN]; N_TRAIN],
    k_test: &[[f64; N_TRAIN]; N_TEST],
    y: &[[f64; 1]; N_TRAIN],
    ridge: Regularizer<f64>,
) -> [[f64; 1]; N_TEST] {
    let eps = ridge.amount(k_train).expect("regulariser");
    let mut k = *k_train;
    for (i, row) in k.iter_mut().enumerate() {
        row[i] += eps;
    }
    let mut work = [[0.0; N_TRAIN]; N_TRAIN];
    let kappa = condition_number(&k, &mut work).expect("condition number");
    assert!(
        kappa <= MAX_CONDITION,
        "condition number {kappa:e} of the regularised kernel exceeds {MAX_CONDITION:e}"
    );
    let mut factor = Factor::new();
    factor.compute(k_train, ridge).expect("Cholesky");
    let mut pred = [[0.0; 1]; N_TEST];
    posterior_mean(&factor, y, k_test, &mut pred).expect("prediction");
    pred
}

/// Panics unless every hidden pre-activation stays clear of the ReLU kink.
fn check_kink_margin<'a>(net: &Mlp<f64>, xs: impl Iterator<Item = &'a [f64; D]>) {
    let (mut z1, mut z2) = (Vec::new(), Vec::new());
    for x in xs {
        let a = net.0.eval(x);
        let h = net.1.eval(&a);
        z1.extend_from_slice(&a);
        z2.extend_from_slice(&net.2.eval(&h));
    }
    for (layer, z) in [(1, z1), (2, z2)] {
        let scale = z.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let margin = z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs())) / scale;
        assert!(
            margin >= MIN_KINK_MARGIN,
            "hidden layer {layer}: a pre-activation lies within {margin:e} (relative) of the \
             ReLU kink; choose another SEED or other inputs"
        );
    }
}
