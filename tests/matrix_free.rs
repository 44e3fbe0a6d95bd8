//! Matrix-free NTK products and Krylov solvers (`empirical::matvec`,
//! `linalg::krylov`, `predict::*_krylov`) against the dense path: the
//! structured/Jacobian Gram matrices, Cholesky solves, eigenvalues and the
//! eigendecomposition-based dynamics.

use ntk::empirical::{jacobian, matvec::NtkOperator, structured};
use ntk::linalg::krylov::*;
use ntk::linalg::{cholesky, cholesky_solve, eigvalsh, EigenOptions, Regularizer, Spectrum};
use ntk::nn::{
    Conv1d, Dense, GlobalAvgPool, Last, Module, Params, Relu, Rnn, Tanh, Unflatten, Zeroed,
};
use ntk::predict::{
    flow_weights_krylov, max_learning_rate, max_learning_rate_krylov, posterior_mean,
    GradientDescentMse,
};
use ntk::{boxed, Error, Rng};

type Mlp = (
    Dense<f64, 4, 48>,
    Relu,
    Dense<f64, 48, 48>,
    Relu,
    Dense<f64, 48, 1>,
);
type Cnn = (
    Unflatten<2, 8>,
    Conv1d<f64, 2, 16, 3, 8>,
    Relu,
    GlobalAvgPool,
    Dense<f64, 16, 1>,
);
type Rnnet = (
    Unflatten<2, 6>,
    Rnn<f64, 2, 16, 6, Relu>,
    Last,
    Dense<f64, 16, 1>,
);

fn mat<const M: usize, const N: usize>() -> Box<[[f64; N]; M]> {
    vec![[0.0; N]; M].into_boxed_slice().try_into().unwrap()
}

fn inputs<const D: usize, const N: usize>(seed: u64) -> Box<[[f64; D]; N]> {
    let mut rng = Rng::new(seed);
    let mut xs = mat::<N, D>();
    for x in xs.iter_mut() {
        for v in x.iter_mut() {
            *v = rng.normal::<f64>();
        }
    }
    xs
}

fn normals(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.normal::<f64>()).collect()
}

fn net<Net: Zeroed + Params<f64>>(seed: u64) -> Box<Net> {
    let mut n: Box<Net> = Box::new(Net::ZEROED);
    n.init_ntk(1.5, 0.1, &mut Rng::new(seed));
    n
}

fn dense_times<const N: usize>(a: &[[f64; N]; N], v: &[f64]) -> Vec<f64> {
    a.iter()
        .map(|r| r.iter().zip(v).map(|(x, y)| x * y).sum())
        .collect()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let n: f64 = b.iter().map(|y| y * y).sum();
    (d / n).sqrt()
}

const TIGHT: KrylovOptions<f64> = KrylovOptions {
    tolerance: 1e-12,
    max_iterations: 2000,
};

/// Θ·v of the operator against the dense Gram matrix times v, and the
/// diagonal against the Gram matrix's trace.
fn product_matches_gram<Net, const D: usize, const N: usize>(net: &Net, seed: u64)
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    let xs = inputs::<D, N>(seed);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(N, 1)];
    let mut theta = mat::<N, N>();
    structured::ntk(net, &xs, &mut ws, &mut theta).unwrap();
    let mut g = vec![0.0; ntk::empirical::matvec::workspace_len::<f64, Net>()];
    let mut op = NtkOperator::new(net, &xs[..], &mut g).unwrap();
    assert_eq!(op.dim(), N);
    for s in 0..3 {
        let v = normals(N, seed + 10 + s);
        let mut tv = vec![0.0; N];
        op.apply(&v, &mut tv).unwrap();
        let want = dense_times(&theta, &v);
        assert!(rel(&tv, &want) < 1e-12, "Θ·v: {}", rel(&tv, &want));
    }
    let trace: f64 = (0..N).map(|i| theta[i][i]).sum::<f64>() / N as f64;
    let mean = op.mean_diagonal().unwrap();
    assert!((mean - trace).abs() < 1e-12 * trace);
}

#[test]
fn mlp_product_matches_structured_and_jacobian() {
    let net = net::<Mlp>(1);
    product_matches_gram::<Mlp, 4, 256>(&net, 2);
    // N not a multiple of the batch: the single-input path too.
    product_matches_gram::<Mlp, 4, 7>(&net, 3);
    // Against the Jacobian contraction as well.
    const N: usize = 30;
    let xs = inputs::<4, N>(9);
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 4], Mlp>(N)];
    let mut theta = mat::<N, N>();
    jacobian::ntk(&*net, &xs, &mut wj, &mut theta).unwrap();
    let mut g = vec![0.0; Mlp::NUM_PARAMS];
    let mut op = NtkOperator::new(&*net, &xs[..], &mut g).unwrap();
    let v = normals(N, 4);
    let mut tv = vec![0.0; N];
    op.apply(&v, &mut tv).unwrap();
    assert!(rel(&tv, &dense_times(&theta, &v)) < 1e-12);
}

#[test]
fn conv_and_rnn_products_match_structured() {
    let cnn = net::<Cnn>(5);
    product_matches_gram::<Cnn, 16, 66>(&cnn, 6);
    let rnn = net::<Rnnet>(7);
    product_matches_gram::<Rnnet, 12, 41>(&rnn, 8);
}

#[test]
fn two_outputs_match_the_block_kernel() {
    type Net2 = (Dense<f64, 3, 16>, Tanh, Dense<f64, 16, 2>);
    const N: usize = 10;
    let net = net::<Net2>(11);
    let xs = inputs::<3, N>(12);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net2>(N, 2)];
    let mut blocks = Box::new([[[[0.0; 2]; 2]; N]; N]);
    structured::ntk_blocks(&*net, &xs, &mut ws, &mut blocks).unwrap();
    let mut g = vec![0.0; Net2::NUM_PARAMS];
    let mut op = NtkOperator::new(&*net, &xs[..], &mut g).unwrap();
    assert_eq!(op.dim(), 2 * N);
    let v = normals(2 * N, 13);
    let mut tv = vec![0.0; 2 * N];
    op.apply(&v, &mut tv).unwrap();
    let mut want = vec![0.0; 2 * N];
    for i in 0..N {
        for k in 0..2 {
            for j in 0..N {
                for kk in 0..2 {
                    want[i * 2 + k] += blocks[i][j][k][kk] * v[j * 2 + kk];
                }
            }
        }
    }
    assert!(rel(&tv, &want) < 1e-12);
    let trace: f64 = (0..N)
        .map(|i| blocks[i][i][0][0] + blocks[i][i][1][1])
        .sum();
    assert!((op.mean_diagonal().unwrap() - trace / (2 * N) as f64).abs() < 1e-12 * trace);
}

/// CG, Lanczos and the Krylov flow on the NTK operator of `net` against the
/// dense path on the same Gram matrix: Cholesky solve, the test outputs at
/// t = ∞, `max_learning_rate`, the eigenvalues, and the train and test
/// outputs of gradient flow from the eigendecomposition.
fn solvers_match_dense<Net, const D: usize, const N: usize>(net: &Net, seed: u64)
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    const M: usize = 8;
    let xs = inputs::<D, N>(seed);
    let xt = inputs::<D, M>(seed + 1);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(N + M, 1)];
    let mut theta = mat::<N, N>();
    let mut cross = mat::<M, N>();
    structured::ntk(net, &xs, &mut ws, &mut theta).unwrap();
    structured::ntk_cross(net, &xt, &xs, &mut ws, &mut cross).unwrap();
    let y: Vec<f64> = xs.iter().map(|x| x[0].sin()).collect();
    let mut g = vec![0.0; Net::NUM_PARAMS];
    let mut op = NtkOperator::new(net, &xs[..], &mut g).unwrap();
    let eps = 1e-2 * op.mean_diagonal().unwrap();

    // t = ∞: CG against the Cholesky solve.
    let mut work = vec![0.0; cg_workspace_len(N)];
    let mut w = vec![0.0; N];
    let report = conjugate_gradient(&mut op, eps, &y, TIGHT, &mut work, &mut w).unwrap();
    assert!(report.iterations > 0 && report.residual <= 1e-12);
    // The reported residual is the true one: recomputed with the operator,
    // and (up to the rounding of the two products) with the dense matrix.
    let mut aw = vec![0.0; N];
    op.apply(&w, &mut aw).unwrap();
    for (a, wi) in aw.iter_mut().zip(&w) {
        *a += eps * wi;
    }
    let true_res = rel(&aw, &y);
    assert!((true_res - report.residual).abs() <= 1e-6 * report.residual);
    let mut aw = dense_times(&theta, &w);
    for (a, wi) in aw.iter_mut().zip(&w) {
        *a += eps * wi;
    }
    assert!(rel(&aw, &y) <= 1e-11);
    let mut l = mat::<N, N>();
    cholesky(&theta, Regularizer::Absolute(eps), &mut l).unwrap();
    let mut w_dense = [0.0; N];
    cholesky_solve(&l, y.as_slice().try_into().unwrap(), &mut w_dense).unwrap();
    assert!(
        rel(&w, &w_dense) < 1e-8,
        "CG weights: {}",
        rel(&w, &w_dense)
    );

    // Test outputs at t = ∞ against the dynamics' Cholesky route.
    let yk: Box<[[f64; 1]; N]> = mat::<N, 1>();
    let mut yk = yk;
    for (r, v) in yk.iter_mut().zip(&y) {
        r[0] = *v;
    }
    let gd = GradientDescentMse::new(&yk, 1.0)
        .unwrap()
        .with_regularizer(Regularizer::Absolute(eps))
        .unwrap();
    let mut factor: Box<ntk::linalg::Cholesky<f64, N>> = boxed::zeroed();
    gd.factor(&theta, &mut factor).unwrap();
    let mut f_inf = [[0.0; 1]; M];
    gd.test_outputs_at_infinity(&factor, &cross, None, &mut f_inf)
        .unwrap();
    let mut f_mf = [0.0; M];
    op.apply_cross(&xt[..], &w, &mut f_mf).unwrap();
    let f_inf: Vec<f64> = f_inf.iter().map(|r| r[0]).collect();
    assert!(rel(&f_mf, &f_inf) < 1e-8);

    // λ_max and the learning rate; λ_min against the eigenvalues.
    let start = normals(N, seed + 2);
    let opts = KrylovOptions {
        tolerance: 1e-10,
        max_iterations: 4 * N,
    };
    let mut lw = vec![0.0; lanczos_workspace_len(N)];
    let mut ls = vec![0.0; lanczos_scratch_len(4 * N)];
    let ex = lanczos_extremes(&mut op, Extreme::Largest, &start, opts, &mut lw, &mut ls).unwrap();
    let mut work_m = mat::<N, N>();
    let mut lambdas = [0.0; N];
    eigvalsh(&theta, EigenOptions::default(), &mut work_m, &mut lambdas).unwrap();
    let top = lambdas.iter().cloned().fold(f64::MIN, f64::max);
    let bottom = lambdas.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        (ex.max - top).abs() < 1e-8 * top,
        "λ_max {} {}",
        ex.max,
        top
    );
    // The smallest Ritz value lies above λ_min, and within its error bound
    // of an eigenvalue.
    let nearest = |x: f64| {
        lambdas
            .iter()
            .map(|l| (l - x).abs())
            .fold(f64::MAX, f64::min)
    };
    assert!(ex.min >= bottom - 1e-8 * top);
    assert!(nearest(ex.min) <= ex.min_error + 1e-8 * top);
    // λ_min of the regularised kernel, converged.
    let mut shifted = Shift(&mut op, eps);
    let loose = KrylovOptions {
        tolerance: 1e-8,
        ..opts
    };
    let both = lanczos_extremes(&mut shifted, Extreme::Both, &start, loose, &mut lw, &mut ls);
    let both = both.unwrap();
    assert!((both.min - bottom - eps).abs() <= 2e-8 * top);
    assert!((both.max - top - eps).abs() <= 2e-8 * top);
    assert!(ex.max_error <= 1e-10 * top);
    let eta_dense = max_learning_rate(&theta, 1, &mut work_m).unwrap();
    let eta = max_learning_rate_krylov(&mut op, &start, opts, &mut lw, &mut ls).unwrap();
    assert!((eta - eta_dense).abs() < 1e-8 * eta_dense);

    // Finite time: τ·λ_max = 30, so the top modes have converged and the
    // bottom ones are halfway.
    let eta = 0.5 * eta_dense;
    let t = 30.0 * N as f64 / (eta * top);
    let gd = GradientDescentMse::new(&yk, eta)
        .unwrap()
        .with_regularizer(Regularizer::Absolute(eps))
        .unwrap();
    let mut spectrum: Box<Spectrum<f64, N>> = boxed::zeroed();
    gd.spectrum(&theta, &mut spectrum).unwrap();
    let mut train = mat::<N, 1>();
    let mut test = [[0.0; 1]; M];
    gd.train_outputs(&spectrum, t, &mut train).unwrap();
    gd.test_outputs(&spectrum, &cross, None, t, &mut test)
        .unwrap();
    let cap = 200;
    let fopts = KrylovOptions {
        tolerance: 1e-12,
        max_iterations: cap,
    };
    let mut basis = vec![0.0; lanczos_basis_len(N, cap)];
    let mut scratch = vec![0.0; lanczos_function_scratch_len(cap)];
    let mut wt = vec![0.0; N];
    let rep = flow_weights_krylov(
        &mut op,
        eps,
        eta,
        t,
        &y,
        fopts,
        &mut basis,
        &mut scratch,
        &mut wt,
    )
    .unwrap();
    assert!(rep.iterations > 1 && rep.estimate <= 1e-12);
    let mut train_mf = vec![0.0; N];
    op.apply(&wt, &mut train_mf).unwrap();
    for (f, wi) in train_mf.iter_mut().zip(&wt) {
        *f += eps * wi;
    }
    let train: Vec<f64> = train.iter().map(|r| r[0]).collect();
    assert!(
        rel(&train_mf, &train) < 1e-8,
        "train: {}",
        rel(&train_mf, &train)
    );
    let mut test_mf = [0.0; M];
    op.apply_cross(&xt[..], &wt, &mut test_mf).unwrap();
    let test: Vec<f64> = test.iter().map(|r| r[0]).collect();
    assert!(
        rel(&test_mf, &test) < 1e-8,
        "test: {}",
        rel(&test_mf, &test)
    );

    // e^{−τ(Θ+εI)}·y itself against the dense matrix function.
    let tau = eta * t / N as f64;
    let mut e = vec![0.0; N];
    let mut shifted = Shift(&mut op, eps);
    lanczos_function(
        &mut shifted,
        |l| (-tau * l).exp(),
        &y,
        fopts,
        &mut basis,
        &mut scratch,
        &mut e,
    )
    .unwrap();
    // f_t(X) = Y − e^{−τ(Θ+εI)}·Y
    let want: Vec<f64> = y.iter().zip(&train).map(|(a, b)| a - b).collect();
    assert!(rel(&e, &want) < 1e-8, "exp: {}", rel(&e, &want));
}

struct Shift<'a, A>(&'a mut A, f64);

impl<A: LinearOperator<f64>> LinearOperator<f64> for Shift<'_, A> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn apply(&mut self, x: &[f64], y: &mut [f64]) -> Result<(), Error> {
        self.0.apply(x, y)?;
        for (a, b) in y.iter_mut().zip(x) {
            *a += self.1 * b;
        }
        Ok(())
    }
}

#[test]
fn mlp_solvers_match_dense_path() {
    let net = net::<Mlp>(21);
    solvers_match_dense::<Mlp, 4, 256>(&net, 22);
}

#[test]
fn conv_solvers_match_dense_path() {
    let net = net::<Cnn>(23);
    solvers_match_dense::<Cnn, 16, 130>(&net, 24);
}

#[test]
fn rnn_solvers_match_dense_path() {
    let net = net::<Rnnet>(25);
    solvers_match_dense::<Rnnet, 12, 64>(&net, 26);
}

#[test]
fn cg_on_a_dense_nngp_gives_the_posterior_mean() {
    // Any PSD kernel: here the NNGP-like Gram of random features.
    const N: usize = 40;
    let f = normals(N * 60, 31);
    let mut k = mat::<N, N>();
    for i in 0..N {
        for j in 0..N {
            k[i][j] = (0..60).map(|p| f[i * 60 + p] * f[j * 60 + p]).sum::<f64>() / 60.0;
        }
    }
    let y = normals(N, 32);
    let eps = 1e-3;
    let mut op = SymmetricMatrix::new(&k).unwrap();
    let mut work = vec![0.0; cg_workspace_len(N)];
    let mut w = vec![0.0; N];
    let r = conjugate_gradient(&mut op, eps, &y, TIGHT, &mut work, &mut w).unwrap();
    assert!(r.residual <= 1e-12);
    // mean at the first 3 points, K(x, X)·w, against the posterior mean
    let mut l: Box<ntk::linalg::Cholesky<f64, N>> = boxed::zeroed();
    l.compute(&k, Regularizer::Absolute(eps)).unwrap();
    let yk: Vec<[f64; 1]> = y.iter().map(|v| [*v]).collect();
    let yk: &[[f64; 1]; N] = yk.as_slice().try_into().unwrap();
    let kt: [[f64; N]; 3] = [k[0], k[1], k[2]];
    let mut mean = [[0.0; 1]; 3];
    posterior_mean(&l, yk, &kt, &mut mean).unwrap();
    for i in 0..3 {
        let m: f64 = (0..N).map(|j| k[i][j] * w[j]).sum();
        assert!((m - mean[i][0]).abs() < 1e-8 * mean[i][0].abs().max(1.0));
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    const N: usize = 12;
    let net = net::<Mlp>(41);
    let xs = inputs::<4, N>(42);
    let mut g = vec![0.0; Mlp::NUM_PARAMS];
    // workspace too short
    let mut short = vec![0.0; Mlp::NUM_PARAMS - 1];
    assert!(matches!(
        NtkOperator::new(&*net, &xs[..], &mut short),
        Err(Error::BufferTooSmall { .. })
    ));
    // non-finite inputs and parameters
    let mut bad_xs = *xs;
    bad_xs[3][1] = f64::NAN;
    assert!(matches!(
        NtkOperator::new(&*net, &bad_xs[..], &mut g),
        Err(Error::NonFinite { .. })
    ));
    let mut bad_net = net.clone();
    bad_net.2.bias[0] = f64::INFINITY;
    assert!(matches!(
        NtkOperator::new(&*bad_net, &xs[..], &mut g),
        Err(Error::NonFinite { .. })
    ));
    let mut op = NtkOperator::new(&*net, &xs[..], &mut g).unwrap();
    let v = normals(N, 43);
    let mut out = vec![1.0; N];
    // wrong lengths
    assert!(matches!(
        op.apply(&v[..N - 1], &mut out),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(out.iter().all(|x| *x == 0.0));
    let long = normals(N + 1, 44);
    assert!(matches!(
        op.apply(&long, &mut out),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        op.apply(&v, &mut out[..N - 2]),
        Err(Error::BufferTooSmall { .. })
    ));
    let mut long_out = vec![0.0; N + 3];
    assert!(matches!(
        op.apply(&v, &mut long_out),
        Err(Error::InvalidArgument { .. })
    ));
    let mut test_out = vec![0.0; 2];
    assert!(matches!(
        op.apply_cross(&xs[..3], &v, &mut test_out),
        Err(Error::BufferTooSmall { .. })
    ));
    // non-finite vector and test inputs
    let mut nan_v = v.clone();
    nan_v[5] = f64::NAN;
    assert!(matches!(
        op.apply(&nan_v, &mut out),
        Err(Error::NonFinite { .. })
    ));
    let mut three = [0.0; 3];
    assert!(matches!(
        op.apply_cross(&bad_xs[2..5], &v, &mut three),
        Err(Error::NonFinite { .. })
    ));

    // CG
    let y = normals(N, 45);
    let mut work = vec![0.0; cg_workspace_len(N)];
    let mut x = vec![1.0; N];
    let opts = KrylovOptions::<f64>::default();
    let cg = |op: &mut NtkOperator<'_, f64, Mlp, 4, 1>,
              shift: f64,
              b: &[f64],
              opts: KrylovOptions<f64>,
              work: &mut [f64],
              x: &mut [f64]| conjugate_gradient(op, shift, b, opts, work, x);
    assert!(matches!(
        cg(&mut op, -1e-3, &y, opts, &mut work, &mut x),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(x.iter().all(|v| *v == 0.0));
    assert!(matches!(
        cg(&mut op, f64::NAN, &y, opts, &mut work, &mut x),
        Err(Error::InvalidArgument { .. })
    ));
    let zero_cap = KrylovOptions {
        tolerance: 1e-6,
        max_iterations: 0,
    };
    assert!(matches!(
        cg(&mut op, 0.0, &y, zero_cap, &mut work, &mut x),
        Err(Error::InvalidArgument { .. })
    ));
    for tol in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let o = KrylovOptions {
            tolerance: tol,
            max_iterations: 5,
        };
        assert!(matches!(
            cg(&mut op, 0.0, &y, o, &mut work, &mut x),
            Err(Error::InvalidArgument { .. })
        ));
    }
    assert!(matches!(
        cg(&mut op, 0.0, &y[..N - 1], opts, &mut work, &mut x),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        cg(&mut op, 0.0, &y, opts, &mut work[..3 * N - 1], &mut x),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        cg(&mut op, 0.0, &y, opts, &mut work, &mut x[..N - 1]),
        Err(Error::BufferTooSmall { .. })
    ));
    let mut nan_y = y.clone();
    nan_y[0] = f64::INFINITY;
    assert!(matches!(
        cg(&mut op, 0.0, &nan_y, opts, &mut work, &mut x),
        Err(Error::NonFinite { .. })
    ));
    // The cap reached: refused, x zeroed.
    x.fill(1.0);
    let one = KrylovOptions {
        tolerance: 1e-14,
        max_iterations: 1,
    };
    assert_eq!(
        cg(&mut op, 1e-6, &y, one, &mut work, &mut x),
        Err(Error::NoConvergence { iterations: 1 })
    );
    assert!(x.iter().all(|v| *v == 0.0));
    // b = 0: x = 0 at once.
    let r = cg(&mut op, 0.0, &[0.0; N], opts, &mut work, &mut x).unwrap();
    assert_eq!((r.iterations, r.residual), (0, 0.0));
    // An indefinite matrix.
    let indefinite = [[1.0, 0.0], [0.0, -1.0]];
    let mut dop = SymmetricMatrix::new(&indefinite).unwrap();
    let mut x2 = [0.0; 2];
    assert_eq!(
        conjugate_gradient(&mut dop, 0.0, &[0.0, 1.0], opts, &mut [0.0; 6], &mut x2),
        Err(Error::NotPositiveDefinite { index: 0 })
    );
    assert!(matches!(
        SymmetricMatrix::new(&[[f64::NAN]]),
        Err(Error::NonFinite { .. })
    ));

    // Lanczos
    let mut lw = vec![0.0; lanczos_workspace_len(N)];
    let mut ls = vec![0.0; lanczos_scratch_len(20)];
    let lo = KrylovOptions {
        tolerance: 1e-10,
        max_iterations: 20,
    };
    assert!(matches!(
        lanczos_extremes(&mut op, Extreme::Both, &[0.0; N], lo, &mut lw, &mut ls),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        lanczos_extremes(&mut op, Extreme::Both, &y, zero_cap, &mut lw, &mut ls),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        lanczos_extremes(&mut op, Extreme::Both, &y, lo, &mut lw, &mut ls[..99]),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        lanczos_extremes(&mut op, Extreme::Both, &nan_y, lo, &mut lw, &mut ls),
        Err(Error::NonFinite { .. })
    ));
    let short_cap = KrylovOptions {
        tolerance: 1e-14,
        max_iterations: 2,
    };
    assert_eq!(
        lanczos_extremes(&mut op, Extreme::Both, &y, short_cap, &mut lw, &mut ls),
        Err(Error::NoConvergence { iterations: 2 })
    );

    // Flow weights
    let cap = 20;
    let mut basis = vec![0.0; lanczos_basis_len(N, cap)];
    let mut scratch = vec![0.0; lanczos_function_scratch_len(cap)];
    let mut w = vec![1.0; N];
    let fo = KrylovOptions {
        tolerance: 1e-10,
        max_iterations: cap,
    };
    for (eps, eta, t) in [
        (-1.0, 1.0, 1.0),
        (f64::NAN, 1.0, 1.0),
        (0.0, 0.0, 1.0),
        (0.0, -1.0, 1.0),
        (0.0, 1.0, -1.0),
        (0.0, 1.0, f64::NAN),
    ] {
        assert!(matches!(
            flow_weights_krylov(
                &mut op,
                eps,
                eta,
                t,
                &y,
                fo,
                &mut basis,
                &mut scratch,
                &mut w
            ),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(w.iter().all(|v| *v == 0.0));
    }
    assert!(matches!(
        flow_weights_krylov(
            &mut op,
            0.0,
            1.0,
            1.0,
            &y,
            fo,
            &mut basis[..N * cap],
            &mut scratch,
            &mut w
        ),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        flow_weights_krylov(
            &mut op,
            0.0,
            1.0,
            1.0,
            &y,
            fo,
            &mut basis,
            &mut scratch[..10],
            &mut w
        ),
        Err(Error::BufferTooSmall { .. })
    ));
    assert!(matches!(
        flow_weights_krylov(
            &mut op,
            0.0,
            1.0,
            1.0,
            &nan_y,
            fo,
            &mut basis,
            &mut scratch,
            &mut w
        ),
        Err(Error::NonFinite { .. })
    ));
    let tiny = KrylovOptions {
        tolerance: 1e-15,
        max_iterations: 2,
    };
    assert_eq!(
        flow_weights_krylov(
            &mut op,
            0.0,
            1.0,
            1e3,
            &y,
            tiny,
            &mut basis,
            &mut scratch,
            &mut w
        ),
        Err(Error::NoConvergence { iterations: 2 })
    );
    assert!(w.iter().all(|v| *v == 0.0));
}
