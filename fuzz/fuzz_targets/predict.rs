//! Kernel regression and training dynamics on arbitrary kernels, targets,
//! times and learning rates, in `f64` and `f32`.
//!
//! The kernels are either arbitrary (any values, in the train kernel's lower
//! triangle and the test×train kernel) or consistent: the Gram matrix
//! `B·Bᵀ` of seven arbitrary feature vectors, five for training and two for
//! testing, which is what a real NTK is. Properties:
//!
//! - constructors and calls fail exactly when documented, with the
//!   documented variant: `NonFinite` for non-finite targets, initial outputs
//!   or kernels, `InvalidArgument` for a learning rate ≤ 0 or non-finite, a
//!   negative or NaN time, a bad regulariser; every output is zeroed on error;
//! - `Ok` outputs are finite;
//! - `t = 0` and zero steps return `f₀` exactly (train and test);
//! - for a consistent kernel, gradient flow never increases the training
//!   loss, and neither does gradient descent below the largest stable
//!   learning rate;
//! - `t = ∞` by the spectrum, by the Cholesky factor and by the
//!   eigenvector-free path agree when the kernel is well conditioned, and
//!   the train outputs at `t = ∞` are the targets;
//! - the NNGP posterior mean is the `t = ∞` prediction from `f₀ = 0`, and
//!   the posterior variance of a consistent kernel is not negative beyond
//!   rounding;
//! - one rank decision at `t = ∞`: a singular kernel (the Gram matrix of
//!   2-D features, rank 2 of 5) and a clearly indefinite one are refused
//!   with `NotPositiveDefinite` by the Cholesky factor, the spectrum, the
//!   eigenvector-free path and the ensemble; a clearly nonsingular one by
//!   none of them;
//! - the ensemble: covariances are symmetric (bitwise), equal the prior
//!   `K(x, x')` exactly at `t = 0`, and the NNGP one equals
//!   `posterior_covariance` at `t = ∞` for a well-conditioned kernel;
//!   `posterior_covariance` is symmetric and its diagonal is
//!   `posterior_variance`, bitwise;
//! - every number returned `Ok` is finite (`max_learning_rate` included)
//!   and every output of a failed call is zeroed.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::linalg::Regularizer;
use ntk::predict::{
    covariance_posterior, max_learning_rate, posterior_mean, posterior_variance, Ensemble, Factor,
    GradientDescentMse, NngpKernels, Scratch, Spectrum,
};
use ntk::{Error, Real};
use ntk_fuzz::{eigenvalues_jacobi, Num};

const N: usize = 5;
const M: usize = 2;
const K: usize = 2;

#[derive(Arbitrary, Debug)]
enum Kernels {
    /// Train kernel lower triangle and test×train kernel as given.
    Raw([[Num; N]; N], [[Num; N]; M]),
    /// The Gram matrix of seven feature vectors of dimension 6.
    Gram([[Num; 6]; N + M]),
    /// The Gram matrix of seven feature vectors of dimension 2: the train
    /// kernel has rank 2 of 5.
    LowRank([[Num; 2]; N + M]),
}

#[derive(Arbitrary, Debug)]
struct Input {
    kernels: Kernels,
    y: [[Num; K]; N],
    f0: Option<[[Num; K]; N]>,
    f0_test: Option<[[Num; K]; M]>,
    learning_rate: Num,
    t: Num,
    steps: u8,
    /// Relative regulariser strength, if any.
    reg: Option<Num>,
    single: bool,
}

fn all_finite<T: Real>(v: &[T]) -> bool {
    v.iter().all(|x| x.is_finite())
}

fn zeroed<T: Real>(v: &[T]) -> bool {
    v.iter().all(|x| *x == T::ZERO)
}

/// Squared training loss ‖f − Y‖² in `f64`.
fn loss<T: Real>(f: &[[T; K]; N], y: &[[T; K]; N]) -> f64 {
    f.as_flattened()
        .iter()
        .zip(y.as_flattened())
        .map(|(a, b)| (a.to_f64() - b.to_f64()).powi(2))
        .sum()
}

fn run<T: Real>(input: &Input) {
    let c = |n: &Num| T::from_f64(n.get());
    type Kernels4<T> = ([[T; N]; N], [[T; N]; M], [[T; M]; M], bool);
    fn gram<T: Real, const D: usize>(f: [[f64; D]; N + M]) -> Kernels4<T> {
        let dot = |i: usize, j: usize| -> f64 { (0..D).map(|p| f[i][p] * f[j][p]).sum() };
        (
            core::array::from_fn(|i| core::array::from_fn(|j| T::from_f64(dot(i, j)))),
            core::array::from_fn(|i| core::array::from_fn(|j| T::from_f64(dot(N + i, j)))),
            core::array::from_fn(|i| core::array::from_fn(|j| T::from_f64(dot(N + i, N + j)))),
            true,
        )
    }
    let (k_train, k_test, k_tt, consistent): Kernels4<T> = match &input.kernels {
        Kernels::Raw(a, b) => (
            a.map(|r| r.map(|v| c(&v))),
            b.map(|r| r.map(|v| c(&v))),
            core::array::from_fn(|i| {
                core::array::from_fn(|j| if i == j { T::ONE } else { T::ZERO })
            }),
            false,
        ),
        Kernels::Gram(feats) => gram(feats.map(|r| r.map(|v| v.get()))),
        Kernels::LowRank(feats) => gram(feats.map(|r| r.map(|v| v.get()))),
    };
    let k_diag: [T; M] = core::array::from_fn(|i| k_tt[i][i]);
    // Features of moderate size (no overflow or underflow in the Gram
    // matrix), for the rank-2 kernel to be singular beyond doubt.
    let low_rank = match &input.kernels {
        Kernels::LowRank(feats) => {
            let (lo, hi) = if T::EPSILON.to_f64() > 1e-10 {
                (1e-15, 1e15)
            } else {
                (1e-100, 1e100)
            };
            feats
                .iter()
                .flatten()
                .map(|v| v.get())
                .all(|v| v == 0.0 || (v.abs() >= lo && v.abs() <= hi))
        }
        _ => false,
    };
    let y: [[T; K]; N] = input.y.map(|r| r.map(|v| c(&v)));
    let f0: Option<[[T; K]; N]> = input.f0.map(|f| f.map(|r| r.map(|v| c(&v))));
    let f0_test: Option<[[T; K]; M]> = input.f0_test.map(|f| f.map(|r| r.map(|v| c(&v))));
    let lr = c(&input.learning_rate);
    let t = c(&input.t);
    let reg = match input.reg {
        None => Regularizer::None,
        Some(r) => Regularizer::Relative(c(&r)),
    };

    // Constructors: targets first, then the learning rate.
    let gd = GradientDescentMse::new(&y, lr);
    let lr_ok = lr.is_finite() && lr > T::ZERO;
    let gd = match gd {
        Err(e) => {
            if !all_finite(y.as_flattened()) {
                assert_eq!(e, Error::NonFinite { what: "targets" });
            } else {
                assert!(
                    !lr_ok && matches!(e, Error::InvalidArgument { .. }),
                    "{e:?}"
                );
            }
            return;
        }
        Ok(g) => {
            assert!(all_finite(y.as_flattened()) && lr_ok);
            g
        }
    };
    let gd = match &f0 {
        None => gd,
        Some(f) => match gd.with_initial_outputs(f) {
            Ok(g) => g,
            Err(e) => {
                assert!(!all_finite(f.as_flattened()));
                assert_eq!(
                    e,
                    Error::NonFinite {
                        what: "initial outputs"
                    }
                );
                return;
            }
        },
    };
    let reg_ok = match reg {
        Regularizer::Relative(r) => r.is_finite() && r >= T::ZERO,
        _ => true,
    };
    let gd = match gd.with_regularizer(reg) {
        Ok(g) => g,
        Err(e) => {
            assert!(
                !reg_ok && matches!(e, Error::InvalidArgument { .. }),
                "{e:?}"
            );
            return;
        }
    };
    assert!(reg_ok);
    let train_finite = (0..N).all(|i| (0..=i).all(|j| k_train[i][j].is_finite()));
    let test_finite = all_finite(k_test.as_flattened());
    let f0t_finite = f0_test.is_none_or(|f| all_finite(f.as_flattened()));
    let f0_or_zero: [[T; K]; N] = f0.unwrap_or([[T::ZERO; K]; N]);
    let f0t_or_zero: [[T; K]; M] = f0_test.unwrap_or([[T::ZERO; K]; M]);

    // ---- spectrum: finite times ----
    let mut spectrum = Spectrum::new();
    let rs = gd.spectrum(&k_train, &mut spectrum);
    if let Err(e) = rs {
        assert!(zeroed(spectrum.values()) && zeroed(spectrum.vectors().as_flattened()));
        if !train_finite {
            // A relative regulariser reads the diagonal first.
            assert!(
                matches!(
                    e,
                    Error::NonFinite {
                        what: "matrix" | "matrix diagonal"
                    } | Error::Overflow {
                        what: "regulariser"
                    }
                ),
                "{e:?}"
            );
        }
    } else {
        assert!(train_finite);
        let t_ok = !(t.is_nan() || t < T::ZERO);
        let mut out = [[T::from_f64(3.0); K]; N];
        let r = gd.train_outputs(&spectrum, t, &mut out);
        match r {
            Ok(()) => {
                assert!(t_ok && all_finite(out.as_flattened()));
                if t == T::ZERO {
                    assert!(out == f0_or_zero, "t = 0 does not return f₀");
                }
            }
            Err(e) => {
                assert!(zeroed(out.as_flattened()), "{e:?} left train outputs");
                if !t_ok {
                    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
                } else {
                    assert!(matches!(e, Error::Overflow { .. }), "{e:?}");
                }
            }
        }
        let mut at0 = [[T::from_f64(3.0); K]; N];
        gd.train_outputs(&spectrum, T::ZERO, &mut at0)
            .expect("t = 0 with finite data");
        assert!(at0 == f0_or_zero, "t = 0 does not return f₀");
        let mut steps0 = [[T::from_f64(3.0); K]; N];
        gd.train_outputs_after_steps(&spectrum, 0, &mut steps0)
            .expect("zero steps with finite data");
        assert!(steps0 == f0_or_zero, "zero steps do not return f₀");

        // Gradient flow does not increase the loss of a PSD kernel.
        let values = spectrum.values().map(|v| v.to_f64());
        let top = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let moderate = top < 1e15 && top > 1e-15 && consistent && {
            let ys = y.as_flattened().iter().chain(f0_or_zero.as_flattened());
            ys.map(|v| v.to_f64().abs()).fold(0.0, f64::max) < 1e15
        };
        let u = T::EPSILON.to_f64();
        if moderate && r.is_ok() {
            let l0 = loss(&f0_or_zero, &y);
            let lt = loss(&out, &y);
            assert!(
                lt <= l0 * (1.0 + 1e4 * u) + 1e4 * u * top * top,
                "gradient flow increased the loss: {l0:e} → {lt:e}"
            );
        }
        // Gradient descent below the stable step.
        let mut work = [[T::ZERO; N]; N];
        if let Ok(lmax) = max_learning_rate(&k_train, K, &mut work) {
            assert!(lmax > T::ZERO && lmax.is_finite(), "learning rate {lmax:?}");
        }
        // The stable step of the regularised kernel the dynamics use.
        let stable = 2.0 * (N * K) as f64 / top;
        {
            if moderate && lr.to_f64() < 0.9 * stable {
                let mut f = [[T::ZERO; K]; N];
                let rd = gd.train_outputs_after_steps(&spectrum, u32::from(input.steps), &mut f);
                assert_eq!(rd, Ok(()), "stable gradient descent failed");
                let (l0, lt) = (loss(&f0_or_zero, &y), loss(&f, &y));
                assert!(
                    lt <= l0 * (1.0 + 1e4 * u) + 1e4 * u * top * top,
                    "stable gradient descent increased the loss: {l0:e} → {lt:e}"
                );
            }
        }

        // Test outputs.
        let mut ft = [[T::from_f64(3.0); K]; M];
        let rt = gd.test_outputs(&spectrum, &k_test, f0_test.as_ref(), T::ZERO, &mut ft);
        if test_finite && f0t_finite {
            assert_eq!(rt, Ok(()));
            assert!(ft == f0t_or_zero, "t = 0 does not return f₀ on test points");
        } else {
            assert!(matches!(rt, Err(Error::NonFinite { .. })), "{rt:?}");
            assert!(zeroed(ft.as_flattened()));
        }
        let mut fs = [[T::ZERO; K]; M];
        let rsteps = gd.test_outputs_after_steps(
            &spectrum,
            &k_test,
            f0_test.as_ref(),
            u32::from(input.steps),
            &mut fs,
        );
        if rsteps.is_ok() {
            assert!(all_finite(fs.as_flattened()));
        } else {
            assert!(zeroed(fs.as_flattened()));
        }

        // t = ∞ three ways, when the kernel is well conditioned.
        let lo = values.iter().fold(f64::INFINITY, |m, v| m.min(*v));
        // Relative to the size of the terms: ‖k_test‖·‖K⁻¹‖·‖r‖ + |f₀|.
        let kt = k_test
            .as_flattened()
            .iter()
            .map(|v| v.to_f64().abs())
            .fold(0.0, f64::max);
        let r = y
            .as_flattened()
            .iter()
            .zip(f0_or_zero.as_flattened())
            .map(|(a, b)| (a.to_f64() - b.to_f64()).abs())
            .fold(0.0, f64::max);
        let f0m = f0t_or_zero
            .as_flattened()
            .iter()
            .map(|v| v.to_f64().abs())
            .fold(0.0, f64::max);
        let scale = N as f64 * kt * r / lo + f0m;
        // Away from underflow: products of four nonzero inputs stay normal.
        let tiny = T::MIN_POSITIVE.sqrt().sqrt().to_f64();
        let clear = |v: &T| *v == T::ZERO || v.abs().to_f64() >= tiny;
        let normal = k_train.as_flattened().iter().all(clear)
            && k_test.as_flattened().iter().all(clear)
            && y.as_flattened().iter().all(clear)
            && f0_or_zero.as_flattened().iter().all(clear)
            && f0t_or_zero.as_flattened().iter().all(clear);
        let well = normal
            && scale < T::MAX.to_f64() * 1e-6
            && lo > 0.0
            && top / lo < 1e6 * (1e-7 / u).min(1.0)
            && moderate
            && test_finite
            && f0t_finite;
        let mut inf_spec = [[T::ZERO; K]; M];
        let ri = gd.test_outputs(
            &spectrum,
            &k_test,
            f0_test.as_ref(),
            T::INFINITY,
            &mut inf_spec,
        );
        let mut factor = Factor::new();
        let rf = gd.factor(&k_train, &mut factor);
        if well {
            assert_eq!(ri, Ok(()));
            assert_eq!(rf, Ok(()), "a well-conditioned kernel did not factor");
            let mut inf_chol = [[T::ZERO; K]; M];
            gd.test_outputs_at_infinity(&factor, &k_test, f0_test.as_ref(), &mut inf_chol)
                .expect("t = ∞ by Cholesky");
            let mut inf_direct = [[T::ZERO; K]; M];
            let mut matrix = [[T::ZERO; N]; N];
            let mut rotations = [T::ZERO; 3 * N * N];
            gd.direct_test_outputs(
                &k_train,
                &k_test,
                f0_test.as_ref(),
                T::INFINITY,
                Scratch {
                    matrix: &mut matrix,
                    rotations: &mut rotations,
                },
                &mut inf_direct,
            )
            .expect("t = ∞ without eigenvectors");
            let tol = 1e3 * N as f64 * u * (top / lo) * scale + 1e-300;
            for (name, other) in [("Cholesky", &inf_chol), ("eigenvector-free", &inf_direct)] {
                for (a, b) in inf_spec.as_flattened().iter().zip(other.as_flattened()) {
                    assert!(
                        (a.to_f64() - b.to_f64()).abs() <= tol,
                        "t = ∞: spectrum {a:e} vs {name} {b:e} (tolerance {tol:e})"
                    );
                }
            }
            // Train outputs at t = ∞ are the targets.
            let mut ftr = [[T::ZERO; K]; N];
            gd.train_outputs(&spectrum, T::INFINITY, &mut ftr)
                .expect("train outputs at t = ∞");
            let ty = 1e3 * N as f64 * u * (top / lo) * (r + 1.0);
            for (a, b) in ftr.as_flattened().iter().zip(y.as_flattened()) {
                assert!(
                    (a.to_f64() - b.to_f64()).abs() <= ty,
                    "f_∞(X) = {a:e}, Y = {b:e}"
                );
            }
            // The NNGP posterior mean is the t = ∞ prediction from f₀ = 0.
            if f0.is_none() && f0_test.is_none() {
                let mut mean = [[T::ZERO; K]; M];
                posterior_mean(&factor, &y, &k_test, &mut mean).expect("posterior mean");
                assert!(
                    mean == inf_chol,
                    "posterior mean differs from the t = ∞ prediction"
                );
            }
            if consistent && matches!(reg, Regularizer::None) && all_finite(&k_diag) {
                let mut var = [T::ZERO; M];
                posterior_variance(&factor, &k_test, &k_diag, &mut var)
                    .expect("posterior variance");
                for (v, d) in var.iter().zip(&k_diag) {
                    let v = v.to_f64();
                    let floor = 1e3 * N as f64 * u * (top / lo) * (d.to_f64() + kt * kt / lo);
                    assert!(
                        v >= -floor,
                        "negative posterior variance {v:e} (floor {floor:e})"
                    );
                }
            }
        }
        if let Err(e) = rf {
            assert!(zeroed(factor.l().as_flattened()), "{e:?} left the factor");
        }

        // ---- one rank decision at t = ∞ ----
        let mut inf_direct = [[T::from_f64(3.0); K]; M];
        let mut matrix = [[T::ZERO; N]; N];
        let mut rotations = [T::ZERO; 3 * N * N];
        let rd = gd.direct_test_outputs(
            &k_train,
            &k_test,
            f0_test.as_ref(),
            T::INFINITY,
            Scratch {
                matrix: &mut matrix,
                rotations: &mut rotations,
            },
            &mut inf_direct,
        );
        match rd {
            Ok(()) => assert!(all_finite(inf_direct.as_flattened())),
            Err(e) => assert!(zeroed(inf_direct.as_flattened()), "{e:?} left outputs"),
        }
        if ri.is_err() {
            assert!(zeroed(inf_spec.as_flattened()), "{ri:?} left outputs");
        }
        let ens = Ensemble::new(&y, lr)
            .unwrap()
            .with_regularizer(reg)
            .unwrap();
        let mut mean = [[T::from_f64(3.0); K]; M];
        let rm = ens.mean(&spectrum, &k_test, T::INFINITY, &mut mean);
        let (mut cov, mut work_mn) = ([[T::from_f64(3.0); M]; M], [[T::ZERO; N]; M]);
        let rn = ens.covariance_nngp(
            &spectrum,
            &k_test,
            &k_tt,
            T::INFINITY,
            &mut work_mn,
            &mut cov,
        );
        check_covariance("NNGP covariance at ∞", rn, &cov);
        let kernels = NngpKernels {
            train_train: &k_train,
            test_train: &k_test,
            test_test: &k_tt,
        };
        let mut cov2 = [[T::from_f64(3.0); M]; M];
        let rk = ens.covariance_ntk(
            &spectrum,
            &k_test,
            kernels,
            T::INFINITY,
            &mut work_mn,
            &mut cov2,
        );
        check_covariance("NTK covariance at ∞", rk, &cov2);
        let npd = |r: &Result<(), Error>| matches!(r, Err(Error::NotPositiveDefinite { .. }));
        // The residual Y − f₀ may overflow, an error found before the rank.
        let residual_finite = y
            .as_flattened()
            .iter()
            .zip(f0_or_zero.as_flattened())
            .all(|(a, b)| (*a - *b).is_finite());
        let plain = test_finite && f0t_finite && all_finite(k_tt.as_flattened()) && residual_finite;
        let reg_zero = matches!(reg, Regularizer::None)
            || matches!(reg, Regularizer::Relative(r) if r == T::ZERO);
        if low_rank && reg_zero && plain {
            for (name, r) in [
                ("Cholesky", rf),
                ("spectrum", ri),
                ("direct", rd),
                ("ensemble mean", rm),
                ("NNGP covariance", rn),
                ("NTK covariance", rk),
            ] {
                assert!(npd(&r), "{name} at t = ∞ of a rank-2 kernel: {r:?}");
            }
        }
        // The oracle's smallest eigenvalue of the regularised kernel,
        // relative to its largest entry (`‖·‖` of the rank decision).
        let kf: [[f64; N]; N] = core::array::from_fn(|i| {
            core::array::from_fn(|j| if j <= i { k_train[i][j] } else { k_train[j][i] }.to_f64())
        });
        let big = ntk_fuzz::max_abs(kf.as_flattened());
        let eps = reg.amount(&k_train).map(|e| e.to_f64()).unwrap_or(f64::NAN);
        if plain && big > 1e-100 && big < 1e100 && eps.is_finite() && eps < 1e100 {
            let ev = eigenvalues_jacobi(&kf.map(|r| r.map(|v| v / big)));
            let lmin = ev.iter().fold(f64::INFINITY, |m, &v| m.min(v)) * big + eps;
            let norm = big + eps;
            let frob = kf
                .as_flattened()
                .iter()
                .map(|v| (v / big) * (v / big))
                .sum::<f64>()
                .sqrt()
                * big
                + eps * (N as f64).sqrt();
            let routes = [("Cholesky", rf), ("spectrum", ri), ("direct", rd)];
            if lmin < -8.0 * ((N + 1) * (N + 1)) as f64 * u * frob {
                for (name, r) in routes {
                    assert!(npd(&r), "{name} at t = ∞ of an indefinite kernel: {r:?}");
                }
            }
            if lmin > 64.0 * (N * N) as f64 * u * frob.max(norm) {
                for (name, r) in routes {
                    assert!(
                        !npd(&r),
                        "{name} refused a clearly nonsingular kernel: {r:?}"
                    );
                }
            }
        }

        // ---- the ensemble at time t, posterior covariance ----
        let mut cov_t = [[T::from_f64(3.0); M]; M];
        let rnt = ens.covariance_nngp(&spectrum, &k_test, &k_tt, t, &mut work_mn, &mut cov_t);
        check_covariance("NNGP covariance", rnt, &cov_t);
        let kernels = NngpKernels {
            train_train: &k_train,
            test_train: &k_test,
            test_test: &k_tt,
        };
        let mut cov_k = [[T::from_f64(3.0); M]; M];
        let rkt = ens.covariance_ntk(&spectrum, &k_test, kernels, t, &mut work_mn, &mut cov_k);
        check_covariance("NTK covariance", rkt, &cov_k);
        let sym_tt: [[T; M]; M] = core::array::from_fn(|i| {
            core::array::from_fn(|j| if j <= i { k_tt[i][j] } else { k_tt[j][i] })
        });
        if t == T::ZERO && plain {
            assert_eq!(rnt, Ok(()));
            assert_eq!(rkt, Ok(()));
            assert!(cov_t == sym_tt, "NNGP covariance at t = 0 is not the prior");
            assert!(cov_k == sym_tt, "NTK covariance at t = 0 is not the prior");
        }
        let mut mean_t = [[T::from_f64(3.0); K]; M];
        match ens.mean(&spectrum, &k_test, t, &mut mean_t) {
            Ok(()) => assert!(all_finite(mean_t.as_flattened())),
            Err(e) => assert!(zeroed(mean_t.as_flattened()), "{e:?} left the mean"),
        }
        if rf.is_ok() {
            let mut pc = [[T::from_f64(3.0); M]; M];
            let mut pw = [[T::ZERO; N]; M];
            let rp = covariance_posterior(&factor, &k_test, &k_tt, &mut pw, &mut pc);
            check_covariance("posterior covariance", rp, &pc);
            let mut pv = [T::from_f64(3.0); M];
            let rv = posterior_variance(&factor, &k_test, &k_diag, &mut pv);
            match rv {
                Ok(()) => assert!(all_finite(&pv)),
                Err(e) => assert!(zeroed(&pv), "{e:?} left the variance"),
            }
            if let (Ok(()), Ok(())) = (rp, rv) {
                for i in 0..M {
                    assert_eq!(
                        pc[i][i].to_f64().to_bits(),
                        pv[i].to_f64().to_bits(),
                        "posterior covariance diagonal differs from the variance"
                    );
                }
            }
            // The NNGP ensemble at t = ∞ is the posterior.
            if let (Ok(()), Ok(()), true) = (rp, rn, well && matches!(reg, Regularizer::None)) {
                let vals = spectrum.values().map(|v| v.to_f64());
                let (lo, top) = (vals[0], vals[N - 1]);
                let kt = k_test
                    .as_flattened()
                    .iter()
                    .map(|v| v.to_f64().abs())
                    .fold(0.0, f64::max);
                let d = k_tt
                    .as_flattened()
                    .iter()
                    .map(|v| v.to_f64().abs())
                    .fold(0.0, f64::max);
                let tol = 1e3 * N as f64 * u * (top / lo) * (d + N as f64 * kt * kt / lo);
                for (a, b) in cov.as_flattened().iter().zip(pc.as_flattened()) {
                    assert!(
                        (a.to_f64() - b.to_f64()).abs() <= tol,
                        "NNGP covariance at ∞ {a:?} vs posterior {b:?} (tol {tol:e})"
                    );
                }
            }
        }
    }
}

/// `Ok` ⇒ finite and symmetric (bitwise); `Err` ⇒ zeroed.
fn check_covariance<T: Real>(name: &str, r: Result<(), Error>, cov: &[[T; M]; M]) {
    match r {
        Ok(()) => {
            assert!(all_finite(cov.as_flattened()), "{name}: not finite");
            for i in 0..M {
                for j in 0..M {
                    assert_eq!(
                        cov[i][j].to_f64().to_bits(),
                        cov[j][i].to_f64().to_bits(),
                        "{name}: not symmetric"
                    );
                }
            }
        }
        Err(e) => assert!(zeroed(cov.as_flattened()), "{name}: {e:?} left output"),
    }
}

fuzz_target!(|input: Input| {
    if input.single {
        run::<f32>(&input);
    } else {
        run::<f64>(&input);
    }
});
