//! The infinite ensemble of infinitely wide networks trained by MSE
//! gradient flow: mean and covariance of its Gaussian outputs.

use super::{check_rows, minus_gram, output, Filter, GradientDescentMse};
use crate::linalg::{Regularizer, Spectrum};
use crate::simd::{axpy, dot};
use crate::{Error, Real};

/// The infinite ensemble of infinitely wide networks trained by MSE gradient
/// flow: neural-tangents' `gradient_descent_mse_ensemble`. The outputs on
/// test points are Gaussian; [`Ensemble::mean`] gives the mean for the NNGP
/// (Bayesian last layer) or NTK (all layers trained) regime, and
/// [`Ensemble::covariance_nngp`] / [`Ensemble::covariance_ntk`] the covariance.
///
/// # Examples
///
/// ```
/// use ntk::linalg::Spectrum;
/// use ntk::predict::Ensemble;
/// let nngp = [[1.0_f64]];
/// let y = [[2.0]];
/// let ens = Ensemble::new(&y, 1.0)?;
/// let mut s = Spectrum::new();
/// ens.spectrum(&nngp, &mut s)?;
/// let (mut work, mut cov) = ([[0.0]], [[0.0]]);
/// ens.covariance_nngp(&s, &[[1.0]], &[[1.0]], 0.0, &mut work, &mut cov)?;
/// assert_eq!(cov[0][0], 1.0); // the prior at t = 0
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ensemble<'a, T, const N: usize, const K: usize> {
    gd: GradientDescentMse<'a, T, N, K>,
}

/// The NNGP kernels that the NTK ensemble covariance needs besides the NTK.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    pub fn covariance_nngp<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        nngp_test_train: &[[T; N]; M],
        nngp_test_test: &[[T; M]; M],
        t: T,
        work: &mut [[T; N]; M],
        out: &mut [[T; M]; M],
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
            minus_gram(nngp_test_test, work, out);
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
    /// As [`Self::covariance_nngp`].
    pub fn covariance_ntk<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        ntk_test_train: &[[T; N]; M],
        nngp: NngpKernels<'_, T, N, M>,
        t: T,
        work: &mut [[T; N]; M],
        out: &mut [[T; M]; M],
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

    /// The former form of [`Self::covariance_nngp`], with the output before
    /// the workspace.
    ///
    /// # Errors
    ///
    /// As [`Self::covariance_nngp`].
    #[deprecated(
        since = "0.2.0",
        note = "use `covariance_nngp`, which takes `work` before `out`"
    )]
    pub fn nngp_covariance<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        nngp_test_train: &[[T; N]; M],
        nngp_test_test: &[[T; M]; M],
        t: T,
        out: &mut [[T; M]; M],
        work: &mut [[T; N]; M],
    ) -> Result<(), Error> {
        self.covariance_nngp(spectrum, nngp_test_train, nngp_test_test, t, work, out)
    }

    /// The former form of [`Self::covariance_ntk`], with the output before
    /// the workspace.
    ///
    /// # Errors
    ///
    /// As [`Self::covariance_ntk`].
    #[deprecated(
        since = "0.2.0",
        note = "use `covariance_ntk`, which takes `work` before `out`"
    )]
    pub fn ntk_covariance<const M: usize>(
        &self,
        spectrum: &Spectrum<T, N>,
        ntk_test_train: &[[T; N]; M],
        nngp: NngpKernels<'_, T, N, M>,
        t: T,
        out: &mut [[T; M]; M],
        work: &mut [[T; N]; M],
    ) -> Result<(), Error> {
        self.covariance_ntk(spectrum, ntk_test_train, nngp, t, work, out)
    }
}
