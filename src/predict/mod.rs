//! What the kernel predicts: MSE training dynamics, the NNGP posterior, the
//! infinite ensemble of infinitely wide networks, and online GP regression.
//!
//! Conventions are those of neural-tangents (`predict.gradient_descent_mse`,
//! `gradient_descent_mse_ensemble`, `gp_inference`, `max_learning_rate`):
//! the loss is `‖f − Y‖² / (2·N·K)` for `N` training points and `K` output
//! columns, so with `m = N·K` and `τ = η·t/m` gradient flow gives
//!
//! ```text
//! f_t(X) = f₀(X) + (I − e^{−τΘ})·(Y − f₀(X))
//! f_t(x) = f₀(x) + Θ(x, X)·Θ⁻¹·(I − e^{−τΘ})·(Y − f₀(X))
//! ```
//!
//! and `k` steps of gradient descent replace `e^{−τΘ}` by `(I − ηΘ/m)^k`.
//! Finite times go through the eigendecomposition `Θ + εI = V·Λ·Vᵀ`
//! ([`Spectrum`]); `t = ∞` through a Cholesky factor ([`Cholesky`](crate::linalg::Cholesky)) or
//! `g(λ) = 1/λ`. As in neural-tangents, eigenvalues `λ ≤ 0` (numerical noise
//! of a positive semidefinite kernel) contribute nothing at finite times.
//!
//! At `t = ∞` (or a time so large that `η·t/m` overflows) the test outputs
//! and the ensemble covariances need `(Θ + εI)⁻¹`, and every route applies
//! the same rank decision: the kernel is refused with
//! [`Error::NotPositiveDefinite`] when its smallest Cholesky pivot
//! ([`Cholesky`](crate::linalg::Cholesky)) or smallest eigenvalue ([`Spectrum`],
//! [`GradientDescentMse::direct_test_outputs`]) is at most `N·ε·‖Θ + εI‖`,
//! `‖·‖` the largest absolute entry (add a regulariser to such a kernel).
//! The train outputs at `t = ∞` invert nothing: they are the projection of
//! the residual on the eigenvectors above that tolerance, the limit of
//! gradient flow on a singular kernel too.
//!
//! Without a matrix, from operator products alone
//! ([`crate::linalg::krylov::LinearOperator`], e.g. the empirical NTK of
//! [`crate::empirical::matvec`]): [`flow_weights_krylov`] for gradient flow
//! at any time and [`max_learning_rate_krylov`]; at `t = ∞` the weights are
//! [`conjugate_gradient`](crate::linalg::krylov::conjugate_gradient)'s solve.
//!
//! Matrices are row-major const-generic arrays: the train kernel
//! `[[T; N]; N]` (lower triangle read), the test×train kernel `[[T; N]; M]`,
//! targets and outputs `[[T; K]; N]` / `[[T; K]; M]`. Nothing allocates; the
//! large decompositions live in caller-owned [`Spectrum`] / [`Cholesky`](crate::linalg::Cholesky) values
//! (put them in a `static` or a `Box` for large `N`). Temporaries of
//! `N·K` or `N` scalars are kept on the stack. **On error every output buffer
//! is filled with zeros.**
//!
//! # Examples
//!
//! ```
//! use ntk::linalg::Spectrum;
//! use ntk::predict::GradientDescentMse;
//! let k_train = [[2.0_f64, 0.0], [0.5, 1.0]];   // lower triangle of Θ(X, X)
//! let k_test = [[1.0, 0.25]];                  // Θ(x, X)
//! let y = [[1.0], [-1.0]];
//! let gd = GradientDescentMse::new(&y, 1.0)?;
//! let mut spectrum = Spectrum::new();
//! gd.spectrum(&k_train, &mut spectrum)?;
//! let (mut at_t, mut at_inf) = ([[0.0; 1]; 1], [[0.0; 1]; 1]);
//! gd.test_outputs(&spectrum, &k_test, None, 1e6, &mut at_t)?;
//! gd.test_outputs(&spectrum, &k_test, None, f64::INFINITY, &mut at_inf)?;
//! // t → ∞ is kernel regression: Θ(x, X)·Θ⁻¹·Y.
//! let want = (1.0 * (1.0 * 1.0 - 0.5 * -1.0) + 0.25 * (2.0 * -1.0 - 0.5 * 1.0)) / (2.0 - 0.25);
//! assert!((at_inf[0][0] - want).abs() < 1e-12 && (at_t[0][0] - want).abs() < 1e-9);
//! # Ok::<(), ntk::Error>(())
//! ```

mod dynamics;
mod ensemble;
mod gp;
mod krylov;
mod online;
mod window;

pub use dynamics::{max_learning_rate, GradientDescentMse, Scratch};
pub use ensemble::{Ensemble, NngpKernels};
/// The former form of [`covariance_posterior`], kept for one release.
#[allow(deprecated)]
pub use gp::posterior_covariance;
pub use gp::{covariance_posterior, posterior_mean, posterior_variance};
pub use krylov::{flow_weights_krylov, max_learning_rate_krylov};
pub use online::OnlineGp;
pub use window::{OnlineWindow, WindowInputs};

/// [`crate::linalg::Cholesky`] under its former name, re-exported here for
/// one release.
pub use crate::linalg::Factor;
/// [`crate::linalg::Spectrum`], re-exported here for one release.
pub use crate::linalg::Spectrum;

use crate::outputs::zero_on_error;
use crate::simd::dot;
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// The eigenvalue filters of the dynamics: `h(λ)` for train outputs (the
/// fraction of the residual removed) and `g(λ) = h(λ)/λ` for test outputs.
#[derive(Clone, Copy)]
pub(super) enum Filter<T> {
    /// Gradient flow for `τ = η·t/m` (`τ = ∞` allowed).
    Flow(T),
    /// `steps` of gradient descent with `x = η/m`.
    Steps(T, u32),
}

impl<T: Real> Filter<T> {
    pub(super) fn flow(learning_rate: T, t: T, m: usize) -> Result<Self, Error> {
        if t.is_nan() || t < T::ZERO {
            return Err(Error::InvalidArgument {
                what: "time must be non-negative",
            });
        }
        Ok(Filter::Flow(if t == T::ZERO {
            T::ZERO
        } else {
            learning_rate * t / T::from_usize(m)
        }))
    }

    /// Gradient flow to `τ = ∞`, where the test outputs need `Θ⁻¹`.
    pub(super) fn at_infinity(self) -> bool {
        matches!(self, Filter::Flow(tau) if !tau.is_finite())
    }

    /// `h(λ)`: `1 − e^{−τλ}` or `1 − (1 − xλ)^k`.
    pub(super) fn h(self, lambda: T) -> T {
        if lambda.is_nan() || lambda <= T::ZERO {
            return T::ZERO;
        }
        match self {
            Filter::Flow(tau) if !tau.is_finite() => T::ONE,
            Filter::Flow(tau) => -(-tau * lambda).exp_m1(),
            Filter::Steps(x, k) => {
                let a = x * lambda;
                if a < T::ONE {
                    -(T::from_usize(k as usize) * (-a).ln_1p()).exp_m1()
                } else {
                    T::ONE - (T::ONE - a).powu(k)
                }
            }
        }
    }

    /// `g(λ) = h(λ)/λ`.
    pub(super) fn g(self, lambda: T) -> T {
        if lambda.is_nan() || lambda <= T::ZERO {
            return T::ZERO;
        }
        self.h(lambda) / lambda
    }
}

pub(super) fn check_rows<T: Real, const C: usize>(
    m: &[[T; C]],
    what: &'static str,
) -> Result<(), Error> {
    m.iter().try_for_each(|r| check_finite(r, what))
}

pub(super) fn check_learning_rate<T: Real>(learning_rate: T) -> Result<(), Error> {
    if learning_rate.is_finite() && learning_rate > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: "learning rate must be finite and positive",
        })
    }
}

/// Runs `f` on an `R × C` output; checks it is finite; zeros it on error.
pub(super) fn output<T: Real, const C: usize>(
    out: &mut [[T; C]],
    what: &'static str,
    f: impl FnOnce(&mut [[T; C]]) -> Result<(), Error>,
) -> Result<(), Error> {
    zero_on_error(out, |out| {
        f(out)?;
        out.iter().try_for_each(|r| check_result(r, what))
    })
}

/// `out = K − Z·Zᵀ` for the `M` rows of `z`, from the lower triangle of `k`;
/// `out` is written symmetric.
pub(super) fn minus_gram<T: Real, const N: usize, const M: usize>(
    k: &[[T; M]; M],
    z: &[[T; N]; M],
    out: &mut [[T; M]],
) {
    for i in 0..M {
        for j in 0..=i {
            let c = k[i][j] - dot(&z[i], &z[j]);
            out[i][j] = c;
            out[j][i] = c;
        }
    }
}
