//! MSE training dynamics: train and test outputs after time `t` of gradient
//! flow or `k` steps of gradient descent, and the largest stable learning rate.

use super::{check_learning_rate, check_rows, output, Filter};
use crate::linalg::{apply_matrix_function_checked, max_eigenvalue, EigenOptions, Regularizer};
use crate::linalg::{Cholesky, Spectrum};
use crate::simd::axpy;
use crate::simd::check_result;
use crate::{Error, Real};

/// Scratch space of [`GradientDescentMse::direct_test_outputs`]: an `N × N`
/// matrix and a rotation log (any length ≥ 3; about `2.5·N²` avoids repeated
/// QL sweeps, see [`matrix_function`](crate::linalg::matrix_function)).
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
/// use ntk::linalg::Spectrum;
/// use ntk::predict::GradientDescentMse;
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GradientDescentMse<'a, T, const N: usize, const K: usize> {
    y: &'a [[T; K]; N],
    f0: Option<&'a [[T; K]; N]>,
    pub(super) learning_rate: T,
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
    /// As [`Cholesky::compute`].
    pub fn factor(&self, k_train: &[[T; N]; N], out: &mut Cholesky<T, N>) -> Result<(), Error> {
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

    pub(super) fn m(&self) -> usize {
        N * K
    }

    fn train_with(&self, spectrum: &Spectrum<T, N>, filter: Filter<T>, out: &mut [[T; K]; N]) {
        let r = self.residual();
        if filter.at_infinity() {
            // h = 1 on the eigenvalues the rank decision keeps, 0 on the
            // rest (rounding noise of a zero eigenvalue has either sign).
            let keep = |l: T| {
                if crate::linalg::is_singular(l, N, spectrum.norm()) {
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
    /// documentation](super)): `Y` when the kernel is invertible.
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
    /// use ntk::linalg::Spectrum;
    /// use ntk::predict::GradientDescentMse;
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
    /// the [module documentation](super)), as [`Cholesky::compute`] refuses the
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
    /// use ntk::linalg::Spectrum;
    /// use ntk::predict::GradientDescentMse;
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
    /// use ntk::predict::GradientDescentMse;
    /// use ntk::linalg::Cholesky;
    /// let gd = GradientDescentMse::new(&[[1.0_f64], [2.0]], 1.0)?;
    /// let mut l = Cholesky::new();
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
        factor: &Cholesky<T, N>,
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

    /// The former form of [`Self::direct_test_outputs`], with the output
    /// before the scratch space.
    ///
    /// # Errors
    ///
    /// As [`Self::direct_test_outputs`].
    #[deprecated(
        since = "0.2.0",
        note = "use `direct_test_outputs`, which takes `scratch` before `out`"
    )]
    pub fn test_outputs_direct<const M: usize>(
        &self,
        k_train: &[[T; N]; N],
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        t: T,
        out: &mut [[T; K]; M],
        scratch: Scratch<'_, T, N>,
    ) -> Result<(), Error> {
        self.direct_test_outputs(k_train, k_test_train, f0_test, t, scratch, out)
    }

    /// Test outputs after gradient flow for time `t`, **without forming
    /// eigenvectors**: `g(Θ + εI)·(Y − f₀(X))` by [`matrix_function`](crate::linalg::matrix_function)
    /// (Householder tridiagonalisation and QL rotations applied to the `K`
    /// residual columns), then `f₀(x) + Θ(x, X)·(…)`. Equal to
    /// [`Self::test_outputs`] up to rounding, several times faster when only
    /// one time and few columns are wanted.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::linalg::Spectrum;
    /// use ntk::predict::{GradientDescentMse, Scratch};
    /// let k = [[2.0_f64, 0.0, 0.0], [0.5, 1.5, 0.0], [0.2, 0.1, 1.0]];
    /// let kt = [[0.3, 0.2, 0.1]];
    /// let y = [[1.0], [-1.0], [0.5]];
    /// let gd = GradientDescentMse::new(&y, 1.0)?;
    /// let (mut work, mut rot) = ([[0.0; 3]; 3], [0.0; 32]);
    /// let mut fast = [[0.0]];
    /// let scratch = Scratch { matrix: &mut work, rotations: &mut rot };
    /// gd.direct_test_outputs(&k, &kt, None, 3.0, scratch, &mut fast)?;
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
    /// [`matrix_function`](crate::linalg::matrix_function).
    pub fn direct_test_outputs<const M: usize>(
        &self,
        k_train: &[[T; N]; N],
        k_test_train: &[[T; N]; M],
        f0_test: Option<&[[T; K]; M]>,
        t: T,
        scratch: Scratch<'_, T, N>,
        out: &mut [[T; K]; M],
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
            // At t = ∞ the rank decision of `Spectrum` and `Cholesky`, on the
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
                scratch.matrix,
                scratch.rotations,
                &mut w,
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
