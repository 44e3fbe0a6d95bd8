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

use crate::linalg::{
    apply_matrix_function_checked, cholesky, cholesky_append, cholesky_remove_first, eigh,
    max_eigenvalue, EigenOptions, Regularizer,
};
use crate::simd::{axpy, dot};
use crate::simd::{check_finite, check_result};
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
enum Filter<T> {
    /// Gradient flow for `τ = η·t/m` (`τ = ∞` allowed).
    Flow(T),
    /// `steps` of gradient descent with `x = η/m`.
    Steps(T, u32),
}

impl<T: Real> Filter<T> {
    fn flow(learning_rate: T, t: T, m: usize) -> Result<Self, Error> {
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
    fn at_infinity(self) -> bool {
        matches!(self, Filter::Flow(tau) if !tau.is_finite())
    }

    /// `h(λ)`: `1 − e^{−τλ}` or `1 − (1 − xλ)^k`.
    fn h(self, lambda: T) -> T {
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
    fn g(self, lambda: T) -> T {
        if lambda.is_nan() || lambda <= T::ZERO {
            return T::ZERO;
        }
        self.h(lambda) / lambda
    }
}

fn check_rows<T: Real, const C: usize>(m: &[[T; C]], what: &'static str) -> Result<(), Error> {
    m.iter().try_for_each(|r| check_finite(r, what))
}

fn check_learning_rate<T: Real>(learning_rate: T) -> Result<(), Error> {
    if learning_rate.is_finite() && learning_rate > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: "learning rate must be finite and positive",
        })
    }
}

/// Runs `f` on an `R × C` output; checks it is finite; zeros it on error.
fn output<T: Real, const C: usize>(
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
    norm: T,
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
    fn check_invertible(&self) -> Result<(), Error> {
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
    fn apply<const K: usize>(&self, f: impl Fn(T) -> T, b: &[[T; K]; N], out: &mut [[T; K]; N]) {
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
    fn solve_columns<const K: usize>(&self, x: &mut [[T; K]; N]) {
        crate::linalg::solve_columns_in_place(&self.l, x);
    }
}

/// Scratch space of [`GradientDescentMse::test_outputs_direct`]: an `N × N`
/// matrix and a rotation log (any length ≥ 3; about `2.5·N²` avoids repeated
/// QL sweeps, see [`apply_matrix_function`](crate::linalg::apply_matrix_function)).
#[derive(Debug)]
pub struct Scratch<'a, T, const N: usize> {
    /// `N × N` scratch matrix.
    pub matrix: &'a mut [[T; N]; N],
    /// Rotation log.
    pub rotations: &'a mut [T],
}

/// MSE training of a network in its NTK regime: `gradient_descent_mse` of
/// neural-tangents. Holds the targets, the initial train outputs (zero unless
/// given), the learning rate and the diagonal regulariser.
///
/// # Examples
///
/// ```
/// use ntk::predict::{GradientDescentMse, Spectrum};
/// let k = [[1.0_f64, 0.0], [0.0, 1.0]];
/// let y = [[2.0], [4.0]];
/// let gd = GradientDescentMse::new(&y, 1.0)?;
/// let mut s = Spectrum::new();
/// gd.spectrum(&k, &mut s)?;
/// let mut f = [[0.0; 1]; 2];
/// gd.train_outputs(&s, 2.0, &mut f)?;           // τ = η·t/(N·K) = 1
/// let shrink = 1.0 - (-1.0_f64).exp();
/// assert!((f[0][0] - 2.0 * shrink).abs() < 1e-12 && (f[1][0] - 4.0 * shrink).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GradientDescentMse<'a, T, const N: usize, const K: usize> {
    y: &'a [[T; K]; N],
    f0: Option<&'a [[T; K]; N]>,
    learning_rate: T,
    regularizer: Regularizer<T>,
}

impl<'a, T: Real, const N: usize, const K: usize> GradientDescentMse<'a, T, N, K> {
    /// Targets `y` (one row per training point) and learning rate `η`; no
    /// regulariser, `f₀(X) = 0`.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN/∞ targets, [`Error::InvalidArgument`] for
    /// `η ≤ 0` or non-finite.
    pub fn new(y: &'a [[T; K]; N], learning_rate: T) -> Result<Self, Error> {
        check_rows(y, "targets")?;
        check_learning_rate(learning_rate)?;
        Ok(Self {
            y,
            f0: None,
            learning_rate,
            regularizer: Regularizer::None,
        })
    }

    /// The network's outputs on the training inputs at initialisation.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN/∞ outputs.
    pub fn with_initial_outputs(mut self, f0_train: &'a [[T; K]; N]) -> Result<Self, Error> {
        check_rows(f0_train, "initial outputs")?;
        self.f0 = Some(f0_train);
        Ok(self)
    }

    /// Adds a diagonal regulariser to the train kernel (neural-tangents'
    /// `diag_reg`, relative by default there: use [`Regularizer::Relative`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a negative or non-finite strength.
    pub fn with_regularizer(mut self, regularizer: Regularizer<T>) -> Result<Self, Error> {
        regularizer.amount(&[[T::ONE]])?;
        self.regularizer = regularizer;
        Ok(self)
    }

    /// Eigendecomposes the regularised train kernel, for finite times.
    ///
    /// # Errors
    ///
    /// As [`Spectrum::compute`].
    pub fn spectrum(&self, k_train: &[[T; N]; N], out: &mut Spectrum<T, N>) -> Result<(), Error> {
        out.compute(k_train, self.regularizer)
    }

    /// Cholesky-factorises the regularised train kernel, for `t = ∞`.
    ///
    /// # Errors
    ///
    /// As [`Factor::compute`].
    pub fn factor(&self, k_train: &[[T; N]; N], out: &mut Factor<T, N>) -> Result<(), Error> {
        out.compute(k_train, self.regularizer)
    }

    /// `r = Y − f₀(X)`.
    fn residual(&self) -> [[T; K]; N] {
        let mut r = *self.y;
        if let Some(f0) = self.f0 {
            for (ri, fi) in r.iter_mut().zip(f0) {
                axpy(-T::ONE, fi, ri);
            }
        }
        r
    }

    fn m(&self) -> usize {
        N * K
    }

    fn train_with(&self, spectrum: &Spectrum<T, N>, filter: Filter<T>, out: &mut [[T; K]; N]) {
        let r = self.residual();
        if filter.at_infinity() {
            // h = 1 on the eigenvalues the rank decision keeps, 0 on the
            // rest (rounding noise of a zero eigenvalue has either sign).
            let keep = |l: T| {
                if crate::linalg::is_singular(l, N, spectrum.norm) {
                    T::ZERO
                } else {
                    T::ONE
                }
            };
            spectrum.apply(keep, &r, out);
        } else {
            spectrum.apply(|l| filter.h(l), &r, out);
        }
        if let Some(f0) = self.f0 {
            for (o, f) in out.iter_mut().zip(f0) {
                axpy(T::ONE, f, o);
            }
        }
    }

    fn test_with<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        filter: Filter<T>,
        out: &mut [[T; K]; M],
    ) -> Result<(), Error> {
        check_rows(k_test_train, "test-train kernel")?;
        if let Some(f) = f0_test {
            check_rows(f, "initial test outputs")?;
        }
        if filter.at_infinity() {
            spectrum.check_invertible()?;
        }
        let r = self.residual();
        let mut w = [[T::ZERO; K]; N];
        spectrum.apply(|l| filter.g(l), &r, &mut w);
        combine(k_test_train, &w, f0_test, out);
        Ok(())
    }

    /// Train outputs `f_t(X)` after gradient flow for time `t ≥ 0`
    /// (`t = +∞` allowed), from the spectrum of the train kernel. At `t = ∞`
    /// these are `f₀(X)` plus the projection of the residual on the
    /// eigenvectors that pass the rank decision (see the [module
    /// documentation](self)): `Y` when the kernel is invertible.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a negative or NaN `t`;
    /// [`Error::Overflow`] if the result is not finite. On error `out` is zeroed.
    pub fn train_outputs(
        &self,
        spectrum: &Spectrum<T, N>,
        t: T,
        out: &mut [[T; K]; N],
    ) -> Result<(), Error> {
        output(out, "train outputs", |out| {
            let filter = Filter::flow(self.learning_rate, t, self.m())?;
            let out: &mut [[T; K]; N] = out.try_into().map_err(|_| shape())?;
            self.train_with(spectrum, filter, out);
            Ok(())
        })
    }

    /// Test outputs `f_t(x)` after gradient flow for time `t ≥ 0` (`t = +∞`
    /// allowed): `f₀(x) + Θ(x, X)·V·g(Λ)·Vᵀ·(Y − f₀(X))`, `g(λ) = (1 − e^{−τλ})/λ`.
    /// `f0_test = None` means zero initial outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::predict::{GradientDescentMse, Spectrum};
    /// let k = [[1.0_f64, 0.0], [0.0, 1.0]];
    /// let y = [[1.0], [0.0]];
    /// let gd = GradientDescentMse::new(&y, 1.0)?;
    /// let mut s = Spectrum::new();
    /// gd.spectrum(&k, &mut s)?;
    /// let mut f = [[0.0]];
    /// gd.test_outputs(&s, &[[0.5, 0.0]], Some(&[[0.25]]), 0.0, &mut f)?;
    /// assert_eq!(f[0][0], 0.25); // t = 0 returns f₀
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Self::train_outputs`], and [`Error::NonFinite`] for NaN/∞ in the
    /// kernel or `f0_test`; at `t = ∞`, [`Error::NotPositiveDefinite`]`{
    /// index: 0 }` if the smallest eigenvalue fails the rank decision (see
    /// the [module documentation](self)), as [`Factor::compute`] refuses the
    /// same kernel.
    pub fn test_outputs<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        t: T,
        out: &mut [[T; K]; M],
    ) -> Result<(), Error> {
        output(out, "test outputs", |out| {
            let filter = Filter::flow(self.learning_rate, t, self.m())?;
            let out: &mut [[T; K]; M] = out.try_into().map_err(|_| shape())?;
            self.test_with(spectrum, k_test_train, f0_test, filter, out)
        })
    }

    /// Train outputs after `steps` steps of full-batch gradient descent:
    /// `e^{−τΘ}` replaced by `(I − ηΘ/m)^steps`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::predict::{GradientDescentMse, Spectrum};
    /// let k = [[2.0_f64]];
    /// let gd = GradientDescentMse::new(&[[1.0]], 0.25)?;
    /// let mut s = Spectrum::new();
    /// gd.spectrum(&k, &mut s)?;
    /// let mut f = [[0.0]];
    /// gd.train_outputs_after_steps(&s, 2, &mut f)?; // residual × (1 − 0.5)²
    /// assert!((f[0][0] - 0.75).abs() < 1e-15);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] if the iteration diverges past the floating-point
    /// range (learning rate above [`max_learning_rate`]). On error `out` is zeroed.
    pub fn train_outputs_after_steps(
        &self,
        spectrum: &Spectrum<T, N>,
        steps: u32,
        out: &mut [[T; K]; N],
    ) -> Result<(), Error> {
        output(out, "train outputs", |out| {
            let filter = Filter::Steps(self.learning_rate / T::from_usize(self.m()), steps);
            let out: &mut [[T; K]; N] = out.try_into().map_err(|_| shape())?;
            self.train_with(spectrum, filter, out);
            Ok(())
        })
    }

    /// Test outputs after `steps` steps of full-batch gradient descent.
    ///
    /// # Errors
    ///
    /// As [`Self::train_outputs_after_steps`] and [`Self::test_outputs`].
    pub fn test_outputs_after_steps<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        steps: u32,
        out: &mut [[T; K]; M],
    ) -> Result<(), Error> {
        output(out, "test outputs", |out| {
            let filter = Filter::Steps(self.learning_rate / T::from_usize(self.m()), steps);
            let out: &mut [[T; K]; M] = out.try_into().map_err(|_| shape())?;
            self.test_with(spectrum, k_test_train, f0_test, filter, out)
        })
    }

    /// Test outputs at `t = ∞` by a Cholesky solve: `f₀(x) + Θ(x, X)·(Θ + εI)⁻¹·(Y − f₀(X))`.
    /// (The train outputs at `t = ∞` are `Y`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::predict::{Factor, GradientDescentMse};
    /// let gd = GradientDescentMse::new(&[[1.0_f64], [2.0]], 1.0)?;
    /// let mut l = Factor::new();
    /// gd.factor(&[[2.0, 0.0], [0.0, 4.0]], &mut l)?;
    /// let mut f = [[0.0]];
    /// gd.test_outputs_at_infinity(&l, &[[1.0, 1.0]], None, &mut f)?;
    /// assert!((f[0][0] - 1.0).abs() < 1e-15); // 1/2 + 2/4
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN/∞ in the kernel or `f0_test`;
    /// [`Error::Overflow`] if the result is not finite. On error `out` is zeroed.
    pub fn test_outputs_at_infinity<const M: usize>(
        &self,
        factor: &Factor<T, N>,
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        out: &mut [[T; K]; M],
    ) -> Result<(), Error> {
        output(out, "test outputs", |out| {
            check_rows(k_test_train, "test-train kernel")?;
            if let Some(f) = f0_test {
                check_rows(f, "initial test outputs")?;
            }
            let out: &mut [[T; K]; M] = out.try_into().map_err(|_| shape())?;
            let mut w = self.residual();
            factor.solve_columns(&mut w);
            combine(k_test_train, &w, f0_test, out);
            Ok(())
        })
    }

    /// Test outputs after gradient flow for time `t`, **without forming
    /// eigenvectors**: `g(Θ + εI)·(Y − f₀(X))` by [`apply_matrix_function`](crate::linalg::apply_matrix_function)
    /// (Householder tridiagonalisation and QL rotations applied to the `K`
    /// residual columns), then `f₀(x) + Θ(x, X)·(…)`. Equal to
    /// [`Self::test_outputs`] up to rounding, several times faster when only
    /// one time and few columns are wanted.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::predict::{GradientDescentMse, Scratch, Spectrum};
    /// let k = [[2.0_f64, 0.0, 0.0], [0.5, 1.5, 0.0], [0.2, 0.1, 1.0]];
    /// let kt = [[0.3, 0.2, 0.1]];
    /// let y = [[1.0], [-1.0], [0.5]];
    /// let gd = GradientDescentMse::new(&y, 1.0)?;
    /// let (mut work, mut rot) = ([[0.0; 3]; 3], [0.0; 32]);
    /// let mut fast = [[0.0]];
    /// let scratch = Scratch { matrix: &mut work, rotations: &mut rot };
    /// gd.test_outputs_direct(&k, &kt, None, 3.0, &mut fast, scratch)?;
    /// let mut s = Spectrum::new();
    /// gd.spectrum(&k, &mut s)?;
    /// let mut slow = [[0.0]];
    /// gd.test_outputs(&s, &kt, None, 3.0, &mut slow)?;
    /// assert!((fast[0][0] - slow[0][0]).abs() < 1e-13);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Self::test_outputs`] (the same rank decision at `t = ∞`, on the
    /// eigenvalues of `k_train + εI`) and
    /// [`apply_matrix_function`](crate::linalg::apply_matrix_function).
    pub fn test_outputs_direct<const M: usize>(
        &self,
        k_train: &[[T; N]; N],
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        t: T,
        out: &mut [[T; K]; M],
        scratch: Scratch<'_, T, N>,
    ) -> Result<(), Error> {
        output(out, "test outputs", |out| {
            let filter = Filter::flow(self.learning_rate, t, self.m())?;
            check_rows(k_test_train, "test-train kernel")?;
            if let Some(f) = f0_test {
                check_rows(f, "initial test outputs")?;
            }
            let eps = self.regularizer.amount(k_train)?;
            let out: &mut [[T; K]; M] = out.try_into().map_err(|_| shape())?;
            let r = self.residual();
            let mut w = [[T::ZERO; K]; N];
            // At t = ∞ the rank decision of `Spectrum` and `Factor`, on the
            // eigenvalues of the regularised kernel.
            let check = |lambdas: &[T; N]| {
                if !filter.at_infinity() || N == 0 {
                    return Ok(());
                }
                let norm = crate::linalg::lower_max_abs(k_train, eps);
                let low = lambdas.iter().fold(T::INFINITY, |m, &l| m.min(l + eps));
                if crate::linalg::is_singular(low, N, norm) {
                    Err(Error::NotPositiveDefinite { index: 0 })
                } else {
                    Ok(())
                }
            };
            apply_matrix_function_checked(
                k_train,
                EigenOptions::default(),
                |l| filter.g(l + eps),
                &r,
                &mut w,
                scratch.matrix,
                scratch.rotations,
                check,
            )?;
            combine(k_test_train, &w, f0_test, out);
            Ok(())
        })
    }
}

fn shape() -> Error {
    Error::InvalidArgument {
        what: "output shape",
    }
}

/// `out = f₀ + K_td·w`.
fn combine<T: Real, const N: usize, const M: usize, const K: usize>(
    k_test_train: &[[T; N]; M],
    w: &[[T; K]; N],
    f0_test: Option<&[[T; K]; M]>,
    out: &mut [[T; K]; M],
) {
    for (i, (o, krow)) in out.iter_mut().zip(k_test_train).enumerate() {
        *o = match f0_test {
            Some(f) => f[i],
            None => [T::ZERO; K],
        };
        for (kij, wj) in krow.iter().zip(w) {
            axpy(*kij, wj, o);
        }
    }
}

/// The largest stable learning rate of full-batch gradient descent on the MSE
/// loss `‖f − Y‖²/(2·N·K)`: `2·N·K / λ_max(Θ)` (neural-tangents'
/// `max_learning_rate` with `y_train_size = N·K`, without its `1e-12` guard).
/// Above it, `I − ηΘ/(N·K)` is no longer a contraction and the iteration
/// diverges. `outputs` is `K`; `work` is an `N × N` scratch matrix.
///
/// # Examples
///
/// ```
/// let ntk_train = [[3.0_f64, 0.0], [1.0, 3.0]]; // λ_max = 4
/// let mut work = [[0.0; 2]; 2];
/// assert!((ntk::predict::max_learning_rate(&ntk_train, 1, &mut work)? - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`max_eigenvalue`]; [`Error::InvalidArgument`] if `outputs == 0` or
/// the kernel has no positive eigenvalue; [`Error::Overflow`] if `N·outputs`
/// overflows `usize` or the learning rate is beyond the floating-point range
/// (a kernel of subnormal size).
pub fn max_learning_rate<T: Real, const N: usize>(
    ntk_train: &[[T; N]; N],
    outputs: usize,
    work: &mut [[T; N]; N],
) -> Result<T, Error> {
    if outputs == 0 {
        return Err(Error::InvalidArgument {
            what: "number of outputs must be at least 1",
        });
    }
    let m = N.checked_mul(outputs).ok_or(Error::Overflow {
        what: "training set size N·outputs",
    })?;
    let top = max_eigenvalue(ntk_train, work)?;
    if top.is_nan() || top <= T::ZERO {
        return Err(Error::InvalidArgument {
            what: "kernel has no positive eigenvalue",
        });
    }
    let rate = T::TWO * T::from_usize(m) / top;
    check_result(&[rate], "learning rate")?;
    Ok(rate)
}

/// NNGP posterior mean `K(x, X)·(K + εI)⁻¹·Y` (neural-tangents' `gp_inference`),
/// from the Cholesky factor of the train kernel.
///
/// # Examples
///
/// ```
/// use ntk::predict::{posterior_mean, Factor};
/// use ntk::linalg::Regularizer;
/// let mut l = Factor::new();
/// l.compute(&[[2.0_f64, 0.0], [0.0, 4.0]], Regularizer::None)?;
/// let mut mean = [[0.0]];
/// posterior_mean(&l, &[[1.0], [2.0]], &[[1.0, 1.0]], &mut mean)?;
/// assert!((mean[0][0] - 1.0).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for NaN/∞ in `y` or the kernel; [`Error::Overflow`]
/// if the result is not finite. On error `out` is zeroed.
pub fn posterior_mean<T: Real, const N: usize, const M: usize, const K: usize>(
    factor: &Factor<T, N>,
    y: &[[T; K]; N],
    k_test_train: &[[T; N]; M],
    out: &mut [[T; K]; M],
) -> Result<(), Error> {
    GradientDescentMse::new(y, T::ONE)?.test_outputs_at_infinity(factor, k_test_train, None, out)
}

/// NNGP posterior covariance `K(x, x') − K(x, X)·(K + εI)⁻¹·K(X, x')` on the
/// test points; `work` (`M × N`) receives `L⁻¹·K(X, x)` row by row. Only the
/// lower triangle of `k_test_test` is read; `out` is symmetric.
///
/// # Examples
///
/// ```
/// use ntk::predict::{posterior_covariance, Factor};
/// use ntk::linalg::Regularizer;
/// let mut l = Factor::new();
/// l.compute(&[[2.0_f64]], Regularizer::None)?;
/// let (mut cov, mut work) = ([[0.0]], [[0.0]]);
/// posterior_covariance(&l, &[[1.0]], &[[1.0]], &mut cov, &mut work)?;
/// assert!((cov[0][0] - 0.5).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`posterior_mean`]; on error `out` is zeroed.
pub fn posterior_covariance<T: Real, const N: usize, const M: usize>(
    factor: &Factor<T, N>,
    k_test_train: &[[T; N]; M],
    k_test_test: &[[T; M]; M],
    out: &mut [[T; M]; M],
    work: &mut [[T; N]; M],
) -> Result<(), Error> {
    output(out, "posterior covariance", |out| {
        check_rows(k_test_train, "test-train kernel")?;
        crate::linalg::check_lower_finite(k_test_test, "test-test kernel")?;
        for (z, k) in work.iter_mut().zip(k_test_train) {
            *z = *k;
            crate::linalg::forward_in_place(factor.l(), z);
        }
        for i in 0..M {
            for j in 0..=i {
                let c = k_test_test[i][j] - dot(&work[i], &work[j]);
                out[i][j] = c;
                out[j][i] = c;
            }
        }
        Ok(())
    })
}

/// NNGP posterior variances `K(x, x) − K(x, X)·(K + εI)⁻¹·K(X, x)`, the
/// diagonal of [`posterior_covariance`] without its `M × N` workspace;
/// `k_test_diag[i] = K(xᵢ, xᵢ)`.
///
/// # Examples
///
/// ```
/// use ntk::predict::{posterior_variance, Factor};
/// use ntk::linalg::Regularizer;
/// let mut l = Factor::new();
/// l.compute(&[[2.0_f64]], Regularizer::None)?;
/// let mut var = [0.0; 2];
/// posterior_variance(&l, &[[1.0], [0.0]], &[1.0, 3.0], &mut var)?;
/// assert!((var[0] - 0.5).abs() < 1e-15 && var[1] == 3.0);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`posterior_mean`]; on error `out` is zeroed.
pub fn posterior_variance<T: Real, const N: usize, const M: usize>(
    factor: &Factor<T, N>,
    k_test_train: &[[T; N]; M],
    k_test_diag: &[T; M],
    out: &mut [T; M],
) -> Result<(), Error> {
    let r = (|| {
        check_rows(k_test_train, "test-train kernel")?;
        check_finite(k_test_diag, "test kernel diagonal")?;
        for ((o, k), kd) in out.iter_mut().zip(k_test_train).zip(k_test_diag) {
            let mut z = *k;
            crate::linalg::forward_in_place(factor.l(), &mut z);
            *o = *kd - dot(&z, &z);
        }
        check_result(out, "posterior variance")
    })();
    if r.is_err() {
        out.fill(T::ZERO);
    }
    r
}

/// The infinite ensemble of infinitely wide networks trained by MSE gradient
/// flow: neural-tangents' `gradient_descent_mse_ensemble`. The outputs on
/// test points are Gaussian; [`Ensemble::mean`] gives the mean for the NNGP
/// (Bayesian last layer) or NTK (all layers trained) regime, and
/// [`Ensemble::nngp_covariance`] / [`Ensemble::ntk_covariance`] the covariance.
///
/// # Examples
///
/// ```
/// use ntk::predict::{Ensemble, Spectrum};
/// let nngp = [[1.0_f64]];
/// let y = [[2.0]];
/// let ens = Ensemble::new(&y, 1.0)?;
/// let mut s = Spectrum::new();
/// ens.spectrum(&nngp, &mut s)?;
/// let (mut cov, mut work) = ([[0.0]], [[0.0]]);
/// ens.nngp_covariance(&s, &[[1.0]], &[[1.0]], 0.0, &mut cov, &mut work)?;
/// assert_eq!(cov[0][0], 1.0); // the prior at t = 0
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Ensemble<'a, T, const N: usize, const K: usize> {
    gd: GradientDescentMse<'a, T, N, K>,
}

/// The NNGP kernels that the NTK ensemble covariance needs besides the NTK.
#[derive(Debug, Clone, Copy)]
pub struct NngpKernels<'a, T, const N: usize, const M: usize> {
    /// `K(X, X)` (lower triangle read).
    pub train_train: &'a [[T; N]; N],
    /// `K(x, X)`.
    pub test_train: &'a [[T; N]; M],
    /// `K(x, x')` (lower triangle read).
    pub test_test: &'a [[T; M]; M],
}

impl<'a, T: Real, const N: usize, const K: usize> Ensemble<'a, T, N, K> {
    /// Targets and learning rate; no regulariser.
    ///
    /// # Errors
    ///
    /// As [`GradientDescentMse::new`].
    pub fn new(y: &'a [[T; K]; N], learning_rate: T) -> Result<Self, Error> {
        Ok(Self {
            gd: GradientDescentMse::new(y, learning_rate)?,
        })
    }

    /// Adds a diagonal regulariser to the train kernels.
    ///
    /// # Errors
    ///
    /// As [`GradientDescentMse::with_regularizer`].
    pub fn with_regularizer(self, regularizer: Regularizer<T>) -> Result<Self, Error> {
        Ok(Self {
            gd: self.gd.with_regularizer(regularizer)?,
        })
    }

    /// Eigendecomposes a regularised train kernel (NNGP or NTK).
    ///
    /// # Errors
    ///
    /// As [`Spectrum::compute`].
    pub fn spectrum(&self, k_train: &[[T; N]; N], out: &mut Spectrum<T, N>) -> Result<(), Error> {
        self.gd.spectrum(k_train, out)
    }

    /// Mean test outputs at time `t` (`+∞` allowed): `K(x, X)·V·g(Λ)·Vᵀ·Y`
    /// with the spectrum and test-train kernel of the same kind (both NNGP or
    /// both NTK).
    ///
    /// # Errors
    ///
    /// As [`GradientDescentMse::test_outputs`].
    pub fn mean<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        k_test_train: &[[T; N]; M],
        t: T,
        out: &mut [[T; K]; M],
    ) -> Result<(), Error> {
        self.gd.test_outputs(spectrum, k_test_train, None, t, out)
    }

    /// Test covariance of the NNGP ensemble at time `t`:
    /// `K(x, x') − K(x, X)·V·g₂(Λ)·Vᵀ·K(X, x')` with `g₂(λ) = (1 − e^{−2τλ})/λ`;
    /// `spectrum` is that of the NNGP train kernel, `work` (`M × N`) scratch.
    ///
    /// # Errors
    ///
    /// As [`GradientDescentMse::test_outputs`]; on error `out` is zeroed.
    pub fn nngp_covariance<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        nngp_test_train: &[[T; N]; M],
        nngp_test_test: &[[T; M]; M],
        t: T,
        out: &mut [[T; M]; M],
        work: &mut [[T; N]; M],
    ) -> Result<(), Error> {
        output(out, "ensemble covariance", |out| {
            let two_t = if t.is_finite() { T::TWO * t } else { t };
            let filter = Filter::flow(self.gd.learning_rate, two_t, self.gd.m())?;
            check_rows(nngp_test_train, "test-train kernel")?;
            crate::linalg::check_lower_finite(nngp_test_test, "test-test kernel")?;
            if filter.at_infinity() {
                spectrum.check_invertible()?;
            }
            // P[i][j] = √g₂(λⱼ)·(vⱼ·kᵢ); covariance K_tt − P·Pᵀ.
            for (p, k) in work.iter_mut().zip(nngp_test_train) {
                for ((pj, v), &l) in p.iter_mut().zip(spectrum.vectors()).zip(spectrum.values()) {
                    // A weight of 0 (t = 0, λ ≤ 0) drops the term, even
                    // where the projection itself overflows.
                    let w = filter.g(l);
                    *pj = if w == T::ZERO {
                        T::ZERO
                    } else {
                        w.sqrt() * dot(v, k)
                    };
                }
            }
            for i in 0..M {
                for j in 0..=i {
                    let c = nngp_test_test[i][j] - dot(&work[i], &work[j]);
                    out[i][j] = c;
                    out[j][i] = c;
                }
            }
            Ok(())
        })
    }

    /// Test covariance of the NTK ensemble at time `t` (`+∞` allowed):
    /// `K(x,x') + A·K(X,X)·Aᵀ − A·K(X,x') − K(x,X)·Aᵀ` with
    /// `A = Θ(x, X)·V·g(Λ)·Vᵀ`; `spectrum` is that of the NTK train kernel,
    /// `work` (`M × N`) receives `A`.
    ///
    /// # Errors
    ///
    /// As [`Self::nngp_covariance`].
    pub fn ntk_covariance<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        ntk_test_train: &[[T; N]; M],
        nngp: NngpKernels<'_, T, N, M>,
        t: T,
        out: &mut [[T; M]; M],
        work: &mut [[T; N]; M],
    ) -> Result<(), Error> {
        output(out, "ensemble covariance", |out| {
            let filter = Filter::flow(self.gd.learning_rate, t, self.gd.m())?;
            check_rows(ntk_test_train, "test-train kernel")?;
            check_rows(nngp.test_train, "test-train kernel")?;
            crate::linalg::check_lower_finite(nngp.train_train, "train kernel")?;
            crate::linalg::check_lower_finite(nngp.test_test, "test-test kernel")?;
            if filter.at_infinity() {
                spectrum.check_invertible()?;
            }
            for (a, th) in work.iter_mut().zip(ntk_test_train) {
                a.fill(T::ZERO);
                for (v, &l) in spectrum.vectors().iter().zip(spectrum.values()) {
                    let w = filter.g(l);
                    if w != T::ZERO {
                        axpy(w * dot(v, th), v, a);
                    }
                }
            }
            for i in 0..M {
                // b = K(X,X)·aᵢ from the lower triangle.
                let mut b = [T::ZERO; N];
                let a = &work[i];
                for (r, row) in nngp.train_train.iter().enumerate() {
                    b[r] += dot(&row[..=r], &a[..=r]);
                    axpy(a[r], &row[..r], &mut b[..r]);
                }
                for j in 0..=i {
                    let c = nngp.test_test[i][j] + dot(&b, &work[j])
                        - dot(&work[i], &nngp.test_train[j])
                        - dot(&work[j], &nngp.test_train[i]);
                    out[i][j] = c;
                    out[j][i] = c;
                }
            }
            Ok(())
        })
    }
}

/// Online Gaussian-process (kernel) regression for on-device learning:
/// samples arrive one by one, the oldest can be dropped, each in O(n²).
///
/// Holds the Gram matrix of up to `CAP` points, the Cholesky factor of
/// `Gram + noise·I`, the targets (`K` columns) and `L⁻¹·Y`. The regulariser
/// `noise` is absolute (a relative one would change with every point). All
/// storage is inline: `2·CAP² + 2·CAP·K` scalars, so for large `CAP` keep it
/// in a `static` or a `Box`.
///
/// # Examples
///
/// ```
/// use ntk::predict::OnlineGp;
/// let k = |a: f64, b: f64| (-(a - b) * (a - b)).exp();
/// let mut gp = OnlineGp::<f64, 3>::new(1e-9);
/// let mut held: Vec<f64> = Vec::new(); // the inputs, oldest first
/// for x in [0.0, 0.5, 1.0, 1.5] {
///     if gp.len() == gp.capacity() {
///         gp.pop_oldest()?;
///         held.remove(0);
///     }
///     let row: Vec<f64> = held.iter().map(|&p| k(x, p)).collect();
///     gp.push(&row, k(x, x), [x.sin()])?;
///     held.push(x);
/// }
/// assert_eq!(held, [0.5, 1.0, 1.5]);
/// let mut mean = [0.0];
/// let row: Vec<f64> = held.iter().map(|&p| k(1.0, p)).collect();
/// let var = gp.predict_with_variance(&row, 1.0, &mut mean)?;
/// assert!((mean[0] - 1.0_f64.sin()).abs() < 1e-6 && var.abs() < 1e-6);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineGp<T, const CAP: usize, const K: usize = 1> {
    gram: [[T; CAP]; CAP],
    factor: [[T; CAP]; CAP],
    y: [[T; K]; CAP],
    beta: [[T; K]; CAP],
    len: usize,
    noise: T,
}

/// An empty model with `noise` = 0 (`OnlineGp::new(0.0)`): every byte zero.
/// Set the noise with [`OnlineGp::set_noise`].
impl<T: Real, const CAP: usize, const K: usize> crate::nn::Zeroed for OnlineGp<T, CAP, K> {
    const ZEROED: Self = Self::new(T::ZERO);
}

impl<T: Real, const CAP: usize, const K: usize> OnlineGp<T, CAP, K> {
    /// An empty model with diagonal regulariser (observation noise variance)
    /// `noise ≥ 0`, checked at the first [`Self::push`].
    pub const fn new(noise: T) -> Self {
        Self {
            gram: [[T::ZERO; CAP]; CAP],
            factor: [[T::ZERO; CAP]; CAP],
            y: [[T::ZERO; K]; CAP],
            beta: [[T::ZERO; K]; CAP],
            len: 0,
            noise,
        }
    }

    /// Sets the diagonal regulariser of an empty model in place: with
    /// [`Zeroed::ZEROED`](crate::nn::Zeroed::ZEROED) in a `static` or a
    /// zeroed heap allocation, this builds a model of any capacity without a
    /// temporary on the stack.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `noise` is negative or not finite, or if
    /// the model holds points (call [`Self::clear`] first); the model is
    /// unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::nn::Zeroed;
    /// use ntk::predict::OnlineGp;
    /// use std::sync::Mutex;
    /// static GP: Mutex<OnlineGp<f64, 256>> = Mutex::new(OnlineGp::ZEROED);
    /// let mut gp = GP.lock().unwrap();
    /// gp.set_noise(1e-3)?;
    /// gp.push(&[], 1.0, [0.5])?;
    /// assert_eq!(gp.factor()[0][0], (1.0 + 1e-3_f64).sqrt());
    /// assert!(gp.set_noise(1e-2).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn set_noise(&mut self, noise: T) -> Result<(), Error> {
        if !(noise.is_finite() && noise >= T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "noise must be finite and non-negative",
            });
        }
        if self.len != 0 {
            return Err(Error::InvalidArgument {
                what: "noise can only be set on an empty model",
            });
        }
        self.noise = noise;
        Ok(())
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when no point is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of points, `CAP`.
    pub fn capacity(&self) -> usize {
        CAP
    }

    /// The Gram matrix; its leading `len() × len()` block is valid, oldest point first.
    pub fn gram(&self) -> &[[T; CAP]; CAP] {
        &self.gram
    }

    /// The Cholesky factor of `Gram + noise·I` (leading `len() × len()` block).
    pub fn factor(&self) -> &[[T; CAP]; CAP] {
        &self.factor
    }

    /// The targets held (first `len()` rows).
    pub fn targets(&self) -> &[[T; K]; CAP] {
        &self.y
    }

    /// Appends a point: `k_row[j] = k(x_new, xⱼ)` for the `len()` points held
    /// (oldest first), `k_self = k(x_new, x_new)`, `y` its targets. O(len²).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when full (call [`Self::pop_oldest`] first);
    /// [`Error::InvalidArgument`] for a wrong row length or a bad `noise`;
    /// [`Error::NonFinite`] for NaN/∞ inputs; [`Error::Overflow`] if
    /// `k_self + noise` or the update overflows; [`Error::NotPositiveDefinite`]
    /// if the point duplicates the span of the others, by the rank decision
    /// of [`cholesky_append`] (raise `noise`). On error the model is unchanged.
    pub fn push(&mut self, k_row: &[T], k_self: T, y: [T; K]) -> Result<(), Error> {
        let n = self.len;
        if !(self.noise.is_finite() && self.noise >= T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "noise must be finite and non-negative",
            });
        }
        if n >= CAP {
            return Err(Error::BufferTooSmall {
                needed: n + 1,
                given: CAP,
            });
        }
        check_finite(&y, "targets")?;
        if k_row.len() != n {
            return Err(Error::InvalidArgument {
                what: "kernel row length must equal the number of points held",
            });
        }
        check_finite(k_row, "kernel row")?;
        check_finite(&[k_self], "kernel diagonal")?;
        let diag = k_self + self.noise;
        if !diag.is_finite() {
            return Err(Error::Overflow {
                what: "kernel diagonal plus noise",
            });
        }
        cholesky_append(&mut self.factor, n, k_row, diag)?;
        let mut b = y;
        for j in 0..n {
            axpy(-self.factor[n][j], &self.beta[j], &mut b);
        }
        let inv = T::ONE / self.factor[n][n];
        for v in b.iter_mut() {
            *v *= inv;
        }
        if check_result(&b, "targets").is_err() {
            self.factor[n].fill(T::ZERO);
            return Err(Error::Overflow {
                what: "online update",
            });
        }
        self.beta[n] = b;
        self.y[n] = y;
        for (j, &v) in k_row.iter().enumerate() {
            self.gram[n][j] = v;
            self.gram[j][n] = v;
        }
        self.gram[n][n] = k_self;
        self.len = n + 1;
        Ok(())
    }

    /// Drops the oldest point in O(len²) (a Givens re-triangularisation of the factor).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when empty; [`Error::Overflow`] if the
    /// update overflows (then the model is emptied).
    pub fn pop_oldest(&mut self) -> Result<(), Error> {
        let n = self.len;
        if n == 0 {
            return Err(Error::InvalidArgument {
                what: "no point to remove",
            });
        }
        if let Err(e) = cholesky_remove_first(&mut self.factor, n) {
            self.clear();
            return Err(e);
        }
        for i in 0..n - 1 {
            let (top, rest) = self.gram.split_at_mut(i + 1);
            top[i][..n - 1].copy_from_slice(&rest[0][1..n]);
            self.y[i] = self.y[i + 1];
        }
        self.gram[n - 1].fill(T::ZERO);
        for row in self.gram.iter_mut() {
            row[n - 1] = T::ZERO;
        }
        self.y[n - 1] = [T::ZERO; K];
        self.len = n - 1;
        // β = L⁻¹·Y afresh.
        for i in 0..self.len {
            let mut b = self.y[i];
            for j in 0..i {
                axpy(-self.factor[i][j], &self.beta[j], &mut b);
            }
            let inv = T::ONE / self.factor[i][i];
            for v in b.iter_mut() {
                *v *= inv;
            }
            self.beta[i] = b;
        }
        self.beta[self.len] = [T::ZERO; K];
        Ok(())
    }

    /// Removes every point.
    pub fn clear(&mut self) {
        for m in [&mut self.gram, &mut self.factor] {
            for row in m.iter_mut() {
                row.fill(T::ZERO);
            }
        }
        self.y = [[T::ZERO; K]; CAP];
        self.beta = [[T::ZERO; K]; CAP];
        self.len = 0;
    }

    /// `z = L⁻¹·k_row` after checks.
    fn whiten(&self, k_row: &[T]) -> Result<[T; CAP], Error> {
        if k_row.len() != self.len {
            return Err(Error::InvalidArgument {
                what: "kernel row length must equal the number of points held",
            });
        }
        check_finite(k_row, "kernel row")?;
        let mut z = [T::ZERO; CAP];
        z[..self.len].copy_from_slice(k_row);
        crate::linalg::forward_in_place(&self.factor, &mut z[..self.len]);
        Ok(z)
    }

    /// Posterior mean `k(x, X)·(K + noise·I)⁻¹·Y` at a point with kernel row
    /// `k_row` (as in [`Self::push`]). With no points held the mean is 0.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a wrong row length, [`Error::NonFinite`]
    /// for NaN/∞; on error `out` is zeroed.
    pub fn predict(&self, k_row: &[T], out: &mut [T; K]) -> Result<(), Error> {
        let r = self.whiten(k_row).and_then(|z| {
            *out = [T::ZERO; K];
            for (zi, bi) in z[..self.len].iter().zip(&self.beta) {
                axpy(*zi, bi, out);
            }
            check_result(out, "prediction")
        });
        if r.is_err() {
            *out = [T::ZERO; K];
        }
        r
    }

    /// Posterior mean (into `out`) and variance (returned) of the latent
    /// function, `k_self = k(x, x)`.
    ///
    /// # Errors
    ///
    /// As [`Self::predict`], [`Error::NonFinite`] for a NaN/∞ `k_self`, and
    /// [`Error::Overflow`] if the variance is not finite; on error `out` is zeroed.
    pub fn predict_with_variance(
        &self,
        k_row: &[T],
        k_self: T,
        out: &mut [T; K],
    ) -> Result<T, Error> {
        let r = (|| {
            check_finite(&[k_self], "kernel diagonal")?;
            self.predict(k_row, out)?;
            let z = self.whiten(k_row)?;
            let var = k_self - dot(&z[..self.len], &z[..self.len]);
            check_result(&[var], "posterior variance")?;
            Ok(var)
        })();
        if r.is_err() {
            *out = [T::ZERO; K];
        }
        r
    }
}
