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
//!   rounding.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::linalg::Regularizer;
use ntk::predict::{
    max_learning_rate, posterior_mean, posterior_variance, Factor, GradientDescentMse, Scratch,
    Spectrum,
};
use ntk::{Error, Real};
use ntk_fuzz::Num;

const N: usize = 5;
const M: usize = 2;
const K: usize = 2;

#[derive(Arbitrary, Debug)]
enum Kernels {
    /// Train kernel lower triangle and test×train kernel as given.
    Raw([[Num; N]; N], [[Num; N]; M]),
    /// The Gram matrix of seven feature vectors of dimension 6.
    Gram([[Num; 6]; N + M]),
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
    let (k_train, k_test, k_diag, consistent): ([[T; N]; N], [[T; N]; M], [T; M], bool) =
        match &input.kernels {
            Kernels::Raw(a, b) => (
                a.map(|r| r.map(|v| c(&v))),
                b.map(|r| r.map(|v| c(&v))),
                [T::ONE; M],
                false,
            ),
            Kernels::Gram(feats) => {
                let f: [[f64; 6]; N + M] = feats.map(|r| r.map(|v| v.get()));
                let dot = |i: usize, j: usize| -> f64 { (0..6).map(|p| f[i][p] * f[j][p]).sum() };
                (
                    core::array::from_fn(|i| core::array::from_fn(|j| T::from_f64(dot(i, j)))),
                    core::array::from_fn(|i| core::array::from_fn(|j| T::from_f64(dot(N + i, j)))),
                    core::array::from_fn(|i| T::from_f64(dot(N + i, N + i))),
                    true,
                )
            }
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
            assert!(lmax > T::ZERO && !lmax.is_nan());
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
            gd.test_outputs_direct(
                &k_train,
                &k_test,
                f0_test.as_ref(),
                T::INFINITY,
                &mut inf_direct,
                Scratch {
                    matrix: &mut matrix,
                    rotations: &mut rotations,
                },
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
    }
}

fuzz_target!(|input: Input| {
    if input.single {
        run::<f32>(&input);
    } else {
        run::<f64>(&input);
    }
});
