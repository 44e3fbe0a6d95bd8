//! Matrix-free predictions: gradient flow and the largest stable learning
//! rate from operator products alone (see [`crate::linalg::krylov`]).

use super::check_learning_rate;
use crate::linalg::krylov::{
    conjugate_gradient, lanczos_extremes, lanczos_function, Extreme, KrylovOptions, LanczosReport,
    LinearOperator,
};
use crate::outputs::zero_on_error;
use crate::simd::check_result;
use crate::{Error, Real};

/// The largest stable learning rate `2·m / λ_max` of gradient descent on
/// the MSE loss, `m` the operator's dimension (N·K) and `λ_max` its largest
/// eigenvalue by [`lanczos_extremes`]: the convention of
/// [`max_learning_rate`](super::max_learning_rate) without forming the
/// kernel (for K = 1 the same number; for K > 1 `λ_max` is that of the
/// block kernel, which the operators of the crate represent). `start`,
/// `work` and `scratch` as for [`lanczos_extremes`]; the tolerance bounds
/// the relative error of `λ_max`.
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::{KrylovOptions, SymmetricMatrix};
/// let k = [[3.0_f64, 0.0], [1.0, 3.0]]; // λ_max = 4
/// let (mut work, mut scratch) = ([0.0; 6], [0.0; 50]);
/// let opts = KrylovOptions { tolerance: 1e-12, max_iterations: 10 };
/// let mut op = SymmetricMatrix::new(&k)?;
/// let eta = ntk::predict::max_learning_rate_krylov(&mut op, &[1.0, 0.5], opts, &mut work, &mut scratch)?;
/// assert!((eta - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`lanczos_extremes`]; [`Error::InvalidArgument`] if the operator has
/// no positive eigenvalue; [`Error::Overflow`] if the rate is beyond the
/// floating-point range.
pub fn max_learning_rate_krylov<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    start: &[T],
    opts: KrylovOptions<T>,
    work: &mut [T],
    scratch: &mut [T],
) -> Result<T, Error> {
    let m = op.dim();
    let top = lanczos_extremes(op, Extreme::Largest, start, opts, work, scratch)?.max;
    if top.is_nan() || top <= T::ZERO {
        return Err(Error::InvalidArgument {
            what: "kernel has no positive eigenvalue",
        });
    }
    let rate = T::TWO * T::from_usize(m) / top;
    check_result(&[rate], "learning rate")?;
    Ok(rate)
}

/// The weights `w = (Θ + εI)⁻¹·(I − e^{−τ(Θ + εI)})·r` of gradient flow
/// after time `t`, `τ = η·t/m` with `m` the operator's dimension N·K and
/// `r = Y − f₀(X)`: then
///
/// ```text
/// f_t(X) = f₀(X) + (Θ + εI)·w      f_t(x) = f₀(x) + Θ(x, X)·w
/// ```
///
/// as [`GradientDescentMse`](super::GradientDescentMse) predicts from the
/// eigendecomposition, here from operator products: Lanczos on
/// `g(λ) = (1 − e^{−τλ})/λ` ([`lanczos_function`]; eigenvalues `λ ≤ 0`
/// contribute nothing, as there). At `t = ∞` it is the solve
/// `(Θ + εI)·w = r` by [`conjugate_gradient`], with the first
/// `3·m` elements of `basis` as its workspace (the report then counts CG
/// iterations, its estimate being the relative residual). `basis` and
/// `scratch` as for [`lanczos_function`].
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::{KrylovOptions, LinearOperator, SymmetricMatrix};
/// use ntk::predict::flow_weights_krylov;
/// let k = [[2.0_f64, 0.0], [0.5, 1.0]];
/// let r = [1.0, -1.0];
/// let (mut basis, mut scratch, mut w) = ([0.0; 2 * 11], [0.0; 160], [0.0; 2]);
/// let opts = KrylovOptions { tolerance: 1e-12, max_iterations: 10 };
/// let mut op = SymmetricMatrix::new(&k)?;
/// flow_weights_krylov(&mut op, 0.0, 1.0, 1e9, &r, opts, &mut basis, &mut scratch, &mut w)?;
/// // Long training: the train outputs reach the targets.
/// let mut f = [0.0; 2];
/// op.apply(&w, &mut f)?;
/// assert!((f[0] - 1.0).abs() < 1e-9 && (f[1] + 1.0).abs() < 1e-9);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] for `η ≤ 0`, a negative or NaN time, a
/// negative or non-finite `ε`; otherwise as [`lanczos_function`] (or
/// [`conjugate_gradient`] at `t = ∞`). On error `w` is zeroed.
#[allow(clippy::too_many_arguments)]
pub fn flow_weights_krylov<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    regularizer: T,
    learning_rate: T,
    time: T,
    r: &[T],
    opts: KrylovOptions<T>,
    basis: &mut [T],
    scratch: &mut [T],
    w: &mut [T],
) -> Result<LanczosReport<T>, Error> {
    zero_on_error(w, |w| {
        check_learning_rate(learning_rate)?;
        if time.is_nan() || time < T::ZERO {
            return Err(Error::InvalidArgument {
                what: "time must be non-negative",
            });
        }
        if !(regularizer.is_finite() && regularizer >= T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "regulariser must be finite and non-negative",
            });
        }
        let m = op.dim();
        let tau = learning_rate * time / T::from_usize(m.max(1));
        if !tau.is_finite() {
            let c = conjugate_gradient(op, regularizer, r, opts, basis, w)?;
            return Ok(LanczosReport {
                iterations: c.iterations,
                estimate: c.residual,
            });
        }
        let mut shifted = Shifted {
            op,
            shift: regularizer,
        };
        let g = |l: T| {
            if l > T::ZERO {
                -(-tau * l).exp_m1() / l
            } else {
                T::ZERO
            }
        };
        lanczos_function(&mut shifted, g, r, opts, basis, scratch, w)
    })
}

/// `A + shift·I`.
struct Shifted<'a, A, T> {
    op: &'a mut A,
    shift: T,
}

impl<T: Real, A: LinearOperator<T>> LinearOperator<T> for Shifted<'_, A, T> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&mut self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        self.op.apply(x, y)?;
        crate::simd::axpy(self.shift, x, y);
        Ok(())
    }
}
