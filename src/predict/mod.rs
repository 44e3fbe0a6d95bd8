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
//! ([`Spectrum`]); `t = ∞` through a Cholesky factor ([`Factor`]) or
//! `g(λ) = 1/λ`. As in neural-tangents, eigenvalues `λ ≤ 0` (numerical noise
//! of a positive semidefinite kernel) contribute nothing at finite times.
//!
//! At `t = ∞` (or a time so large that `η·t/m` overflows) the test outputs
//! and the ensemble covariances need `(Θ + εI)⁻¹`, and every route applies
//! the same rank decision: the kernel is refused with
//! [`Error::NotPositiveDefinite`] when its smallest Cholesky pivot
//! ([`Factor`]) or smallest eigenvalue ([`Spectrum`],
//! [`GradientDescentMse::test_outputs_direct`]) is at most `N·ε·‖Θ + εI‖`,
//! `‖·‖` the largest absolute entry (add a regulariser to such a kernel).
//! The train outputs at `t = ∞` invert nothing: they are the projection of
//! the residual on the eigenvectors above that tolerance, the limit of
//! gradient flow on a singular kernel too.
//!
//! Matrices are row-major const-generic arrays: the train kernel
//! `[[T; N]; N]` (lower triangle read), the test×train kernel `[[T; N]; M]`,
//! targets and outputs `[[T; K]; N]` / `[[T; K]; M]`. Nothing allocates; the
//! large decompositions live in caller-owned [`Spectrum`] / [`Factor`] values
//! (put them in a `static` or a `Box` for large `N`). Temporaries of
//! `N·K` or `N` scalars are kept on the stack. **On error every output buffer
//! is filled with zeros.**
//!
//! # Examples
//!
//! ```
//! use ntk::predict::{GradientDescentMse, Spectrum};
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
mod online;

pub use dynamics::{max_learning_rate, GradientDescentMse, Scratch};
pub use ensemble::{Ensemble, NngpKernels};
pub use gp::{posterior_covariance, posterior_mean, posterior_variance};
pub use online::OnlineGp;

use crate::error::{check_finite, check_result};
use crate::linalg::{cholesky, eigh, EigenOptions, Regularizer};
use crate::simd::axpy;
use crate::{Error, Real};

/// `eˣ − 1` without cancellation near 0 (Kahan's trick on the backend's `exp`/`ln`).
fn expm1<T: Real>(x: T) -> T {
    let u = x.exp();
    if u == T::ONE {
        x
    } else if u - T::ONE == -T::ONE {
        -T::ONE
    } else if !u.is_finite() {
        u
    } else {
        (u - T::ONE) * x / u.ln()
    }
}

/// `ln(1 + x)` without cancellation near 0.
fn ln_1p<T: Real>(x: T) -> T {
    let u = T::ONE + x;
    if u == T::ONE {
        x
    } else {
        u.ln() * x / (u - T::ONE)
    }
}

/// `q^k` for an unsigned power.
fn pow_u32<T: Real>(q: T, mut k: u32) -> T {
    let (mut base, mut acc) = (q, T::ONE);
    while k > 0 {
        if k & 1 == 1 {
            acc *= base;
        }
        base *= base;
        k >>= 1;
    }
    acc
}

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
            Filter::Flow(tau) => -expm1(-tau * lambda),
            Filter::Steps(x, k) => {
                let a = x * lambda;
                if a < T::ONE {
                    -expm1(T::from_usize(k as usize) * ln_1p(-a))
                } else {
                    T::ONE - pow_u32(T::ONE - a, k)
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
    let r = f(out).and_then(|()| out.iter().try_for_each(|r| check_result(r, what)));
    if r.is_err() {
        for row in out.iter_mut() {
            row.fill(T::ZERO);
        }
    }
    r
}

/// The eigendecomposition `Θ + ε·I = V·Λ·Vᵀ` of a regularised train kernel,
/// in caller-owned storage (`N² + N + 1` scalars: with the largest absolute
/// entry of `Θ + ε·I`, for the rank decision at `t = ∞`): what finite-time
/// predictions need.
///
/// Compute it with [`GradientDescentMse::spectrum`] or
/// [`Ensemble::spectrum`] (which apply the regulariser), or with
/// [`Spectrum::compute`].
///
/// # Examples
///
/// ```
/// use ntk::predict::Spectrum;
/// use ntk::linalg::Regularizer;
/// let mut s = Spectrum::<f64, 2>::new();
/// s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::Absolute(0.5))?;
/// assert!((s.values()[0] - 1.5).abs() < 1e-12 && (s.values()[1] - 3.5).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum<T, const N: usize> {
    values: [T; N],
    vectors: [[T; N]; N],
    pub(super) norm: T,
}

impl<T: Real, const N: usize> Default for Spectrum<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`Spectrum::new`]: every byte zero.
impl<T: Real, const N: usize> crate::nn::Zeroed for Spectrum<T, N> {
    const ZEROED: Self = Self::new();
}

impl<T: Real, const N: usize> Spectrum<T, N> {
    /// An all-zero spectrum (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            values: [T::ZERO; N],
            vectors: [[T::ZERO; N]; N],
            norm: T::ZERO,
        }
    }

    /// Eigendecomposes `k + ε·I` (lower triangle of `k` read), `ε` from `reg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::predict::Spectrum;
    /// use ntk::linalg::Regularizer;
    /// use ntk::Error;
    /// let mut s = Spectrum::<f64, 2>::new();
    /// s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::None)?;
    /// // A failed compute leaves no stale spectrum behind.
    /// assert!(s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::Absolute(-1.0)).is_err());
    /// assert_eq!(s.values(), &[0.0; 2]);
    /// // 1e308 + 1e308 is beyond the range.
    /// assert_eq!(
    ///     s.compute(&[[1e308, 0.0], [0.0, 1.0]], Regularizer::Absolute(1e308)),
    ///     Err(Error::Overflow { what: "eigenvalues" })
    /// );
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`eigh`] and [`Regularizer::amount`]; [`Error::Overflow`] if an
    /// eigenvalue plus the regulariser leaves the floating-point range. On
    /// error the spectrum is zeroed.
    pub fn compute(&mut self, k: &[[T; N]; N], reg: Regularizer<T>) -> Result<(), Error> {
        let r = self.compute_inner(k, reg);
        if r.is_err() {
            *self = Self::new();
        }
        r
    }

    fn compute_inner(&mut self, k: &[[T; N]; N], reg: Regularizer<T>) -> Result<(), Error> {
        let eps = reg.amount(k)?;
        eigh(
            k,
            EigenOptions::default(),
            &mut self.values,
            &mut self.vectors,
        )?;
        for v in self.values.iter_mut() {
            *v += eps;
        }
        check_result(&self.values, "eigenvalues")?;
        self.norm = crate::linalg::lower_max_abs(k, eps);
        check_result(&[self.norm], "eigenvalues")
    }

    /// Refuses a numerically singular kernel, for what needs its inverse
    /// (the rank decision of [`crate::linalg::cholesky`], on the smallest
    /// eigenvalue).
    pub(super) fn check_invertible(&self) -> Result<(), Error> {
        if N > 0 && crate::linalg::is_singular(self.values[0], N, self.norm) {
            Err(Error::NotPositiveDefinite { index: 0 })
        } else {
            Ok(())
        }
    }

    /// Eigenvalues of the regularised kernel, ascending.
    pub fn values(&self) -> &[T; N] {
        &self.values
    }

    /// Unit eigenvectors as **rows** (`vectors()[j]` belongs to `values()[j]`).
    pub fn vectors(&self) -> &[[T; N]; N] {
        &self.vectors
    }

    /// `out = V·diag(f(λ))·Vᵀ·b` for the `K` columns of `b`.
    pub(super) fn apply<const K: usize>(
        &self,
        f: impl Fn(T) -> T,
        b: &[[T; K]; N],
        out: &mut [[T; K]; N],
    ) {
        for row in out.iter_mut() {
            row.fill(T::ZERO);
        }
        for (v, &lambda) in self.vectors.iter().zip(&self.values) {
            let w = f(lambda);
            if w == T::ZERO {
                continue;
            }
            let mut c = [T::ZERO; K];
            for (vi, bi) in v.iter().zip(b) {
                axpy(*vi, bi, &mut c);
            }
            for cv in c.iter_mut() {
                *cv *= w;
            }
            for (vi, oi) in v.iter().zip(out.iter_mut()) {
                axpy(*vi, &c, oi);
            }
        }
    }
}

/// The Cholesky factor `L` of a regularised train kernel `Θ + ε·I = L·Lᵀ`,
/// in caller-owned storage: what `t = ∞` predictions and the GP posterior need.
///
/// # Examples
///
/// ```
/// use ntk::predict::Factor;
/// use ntk::linalg::Regularizer;
/// let mut f = Factor::<f64, 2>::new();
/// f.compute(&[[4.0, 0.0], [2.0, 2.0]], Regularizer::None)?;
/// assert_eq!(f.l()[0][0], 2.0);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Factor<T, const N: usize> {
    l: [[T; N]; N],
}

impl<T: Real, const N: usize> Default for Factor<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`Factor::new`]: every byte zero.
impl<T: Real, const N: usize> crate::nn::Zeroed for Factor<T, N> {
    const ZEROED: Self = Self::new();
}

impl<T: Real, const N: usize> Factor<T, N> {
    /// An all-zero factor (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            l: [[T::ZERO; N]; N],
        }
    }

    /// Factorises `k + ε·I` (lower triangle of `k` read).
    ///
    /// # Errors
    ///
    /// As [`cholesky`]; on error the factor is zeroed.
    pub fn compute(&mut self, k: &[[T; N]; N], reg: Regularizer<T>) -> Result<(), Error> {
        cholesky(k, reg, &mut self.l)
    }

    /// The lower-triangular factor.
    pub fn l(&self) -> &[[T; N]; N] {
        &self.l
    }

    /// `x ← (L·Lᵀ)⁻¹·x`, columns of `x` as right-hand sides.
    pub(super) fn solve_columns<const K: usize>(&self, x: &mut [[T; K]; N]) {
        crate::linalg::solve_columns_in_place(&self.l, x);
    }
}
