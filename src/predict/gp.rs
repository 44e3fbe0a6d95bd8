//! The NNGP posterior: mean, covariance and variances from the Cholesky
//! factor of the train kernel.

use super::{check_rows, minus_gram, output, GradientDescentMse};
use crate::linalg::Cholesky;
use crate::outputs::zero_on_error;
use crate::simd::dot;
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// NNGP posterior mean `K(x, X)·(K + εI)⁻¹·Y` (neural-tangents' `gp_inference`),
/// from the Cholesky factor of the train kernel.
///
/// # Examples
///
/// ```
/// use ntk::predict::posterior_mean;
/// use ntk::linalg::{Cholesky, Regularizer};
/// let mut l = Cholesky::new();
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
    factor: &Cholesky<T, N>,
    y: &[[T; K]; N],
    k_test_train: &[[T; N]; M],
    out: &mut [[T; K]; M],
) -> Result<(), Error> {
    // Zeroed here too: a refusal of `y` comes before the call that zeroes `out`.
    zero_on_error(out, |out| {
        GradientDescentMse::new(y, T::ONE)?.test_outputs_at_infinity(
            factor,
            k_test_train,
            None,
            out,
        )
    })
}

/// NNGP posterior covariance `K(x, x') − K(x, X)·(K + εI)⁻¹·K(X, x')` on the
/// test points; `work` (`M × N`) receives `L⁻¹·K(X, x)` row by row. Only the
/// lower triangle of `k_test_test` is read; `out` is symmetric.
///
/// # Examples
///
/// ```
/// use ntk::predict::covariance_posterior;
/// use ntk::linalg::{Cholesky, Regularizer};
/// let mut l = Cholesky::new();
/// l.compute(&[[2.0_f64]], Regularizer::None)?;
/// let (mut work, mut cov) = ([[0.0]], [[0.0]]);
/// covariance_posterior(&l, &[[1.0]], &[[1.0]], &mut work, &mut cov)?;
/// assert!((cov[0][0] - 0.5).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`posterior_mean`]; on error `out` is zeroed.
pub fn covariance_posterior<T: Real, const N: usize, const M: usize>(
    factor: &Cholesky<T, N>,
    k_test_train: &[[T; N]; M],
    k_test_test: &[[T; M]; M],
    work: &mut [[T; N]; M],
    out: &mut [[T; M]; M],
) -> Result<(), Error> {
    output(out, "posterior covariance", |out| {
        check_rows(k_test_train, "test-train kernel")?;
        crate::linalg::check_lower_finite(k_test_test, "test-test kernel")?;
        for (z, k) in work.iter_mut().zip(k_test_train) {
            *z = *k;
            crate::linalg::forward_in_place(factor.l(), z);
        }
        minus_gram(k_test_test, work, out);
        Ok(())
    })
}

/// The former form of [`covariance_posterior`], with the output before the
/// workspace.
///
/// # Errors
///
/// As [`covariance_posterior`].
#[deprecated(
    since = "0.2.0",
    note = "use `covariance_posterior`, which takes `work` before `out`"
)]
pub fn posterior_covariance<T: Real, const N: usize, const M: usize>(
    factor: &Cholesky<T, N>,
    k_test_train: &[[T; N]; M],
    k_test_test: &[[T; M]; M],
    out: &mut [[T; M]; M],
    work: &mut [[T; N]; M],
) -> Result<(), Error> {
    covariance_posterior(factor, k_test_train, k_test_test, work, out)
}

/// NNGP posterior variances `K(x, x) − K(x, X)·(K + εI)⁻¹·K(X, x)`, the
/// diagonal of [`covariance_posterior`] without its `M × N` workspace;
/// `k_test_diag[i] = K(xᵢ, xᵢ)`.
///
/// # Examples
///
/// ```
/// use ntk::predict::posterior_variance;
/// use ntk::linalg::{Cholesky, Regularizer};
/// let mut l = Cholesky::new();
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
    factor: &Cholesky<T, N>,
    k_test_train: &[[T; N]; M],
    k_test_diag: &[T; M],
    out: &mut [T; M],
) -> Result<(), Error> {
    zero_on_error(out, |out| {
        check_rows(k_test_train, "test-train kernel")?;
        check_finite(k_test_diag, "test kernel diagonal")?;
        for ((o, k), kd) in out.iter_mut().zip(k_test_train).zip(k_test_diag) {
            let mut z = *k;
            crate::linalg::forward_in_place(factor.l(), &mut z);
            *o = *kd - dot(&z, &z);
        }
        check_result(out, "posterior variance")
    })
}
