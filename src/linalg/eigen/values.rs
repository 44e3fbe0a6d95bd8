//! The spectrum without eigenvectors: eigenvalues, the extreme ones, the
//! condition number, positive semidefiniteness.

use super::tridiagonal::{tql, tridiagonalize};
use super::{decompose, EigenOptions, Vectors};
use crate::outputs::zero_on_error;
use crate::simd::check_result;
use crate::{Error, Real};

/// Eigenvalues only (ascending), by tridiagonalisation and QL without
/// eigenvectors (4N³/3 flops); `work` is an `N × N` scratch matrix.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{eigvalsh, EigenOptions};
/// let a = [[2.0_f64, 0.0], [1.0, 2.0]];
/// let (mut work, mut values) = ([[0.0; 2]; 2], [0.0; 2]);
/// eigvalsh(&a, EigenOptions::default(), &mut work, &mut values)?;
/// assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`eigh`](super::eigh); on error `values` is filled with zeros.
#[must_use = "the eigensolver can fail"]
pub fn eigvalsh<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    work: &mut [[T; N]; N],
    values: &mut [T; N],
) -> Result<(), Error> {
    zero_on_error(values, |values| {
        decompose(a, &opts, values, work, Vectors::None, |w, values, _| {
            let mut e = [T::ZERO; N];
            tridiagonalize(w, values, &mut e);
            tql(
                values,
                &mut e,
                opts.tolerance,
                opts.max_iterations,
                |_, _, _| {},
            )
        })?;
        check_result(values, "eigenvalues")
    })
}

/// The former form of [`eigvalsh`], with the output before the workspace.
///
/// # Errors
///
/// As [`eigvalsh`].
#[deprecated(
    since = "0.2.0",
    note = "use `eigvalsh`, which takes `work` before `values`"
)]
#[must_use = "the eigensolver can fail"]
pub fn eigenvalues<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    values: &mut [T; N],
    work: &mut [[T; N]; N],
) -> Result<(), Error> {
    eigvalsh(a, opts, work, values)
}

fn spectrum<T: Real, const N: usize>(
    a: &[[T; N]; N],
    work: &mut [[T; N]; N],
) -> Result<[T; N], Error> {
    if N == 0 {
        return Err(Error::InvalidArgument {
            what: "matrix must not be empty",
        });
    }
    let mut values = [T::ZERO; N];
    eigvalsh(a, EigenOptions::default(), work, &mut values)?;
    Ok(values)
}

/// Smallest eigenvalue of the symmetric matrix `a` (lower triangle read);
/// `work` is an `N × N` scratch matrix.
///
/// # Examples
///
/// ```
/// let a = [[2.0_f64, 0.0], [1.0, 2.0]];
/// let mut work = [[0.0; 2]; 2];
/// assert!((ntk::linalg::min_eigenvalue(&a, &mut work)? - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`eigvalsh`], and [`Error::InvalidArgument`] for `N = 0`.
#[must_use = "the eigensolver can fail"]
pub fn min_eigenvalue<T: Real, const N: usize>(
    a: &[[T; N]; N],
    work: &mut [[T; N]; N],
) -> Result<T, Error> {
    Ok(spectrum(a, work)?[0])
}

/// Largest eigenvalue of the symmetric matrix `a` (lower triangle read);
/// `work` is an `N × N` scratch matrix.
///
/// # Examples
///
/// ```
/// let a = [[2.0_f64, 0.0], [1.0, 2.0]];
/// let mut work = [[0.0; 2]; 2];
/// assert!((ntk::linalg::max_eigenvalue(&a, &mut work)? - 3.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`min_eigenvalue`].
#[must_use = "the eigensolver can fail"]
pub fn max_eigenvalue<T: Real, const N: usize>(
    a: &[[T; N]; N],
    work: &mut [[T; N]; N],
) -> Result<T, Error> {
    Ok(spectrum(a, work)?[N - 1])
}

/// 2-norm condition number `max|λ| / min|λ|` of the symmetric matrix `a`.
/// `work` is an `N × N` scratch matrix.
///
/// # Examples
///
/// ```
/// let a = [[4.0_f64, 0.0], [0.0, -0.5]];
/// let mut work = [[0.0; 2]; 2];
/// assert!((ntk::linalg::condition_number(&a, &mut work)? - 8.0).abs() < 1e-12);
/// // Singular: the condition number is infinite, which is not returned.
/// assert_eq!(
///     ntk::linalg::condition_number(&[[1.0, 0.0], [0.0, 0.0]], &mut work),
///     Err(ntk::Error::Overflow { what: "condition number" })
/// );
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`min_eigenvalue`]; [`Error::Overflow`] if the condition number is
/// infinite (a zero eigenvalue) or beyond the floating-point range.
#[must_use = "the eigensolver can fail"]
pub fn condition_number<T: Real, const N: usize>(
    a: &[[T; N]; N],
    work: &mut [[T; N]; N],
) -> Result<T, Error> {
    let values = spectrum(a, work)?;
    let (lo, hi) = values.iter().fold((T::INFINITY, T::ZERO), |(lo, hi), v| {
        (lo.min(v.abs()), hi.max(v.abs()))
    });
    let c = hi / lo;
    check_result(&[c], "condition number")?;
    Ok(c)
}

/// Whether the symmetric matrix `a` is positive semidefinite up to
/// `tolerance`: `λ_min ≥ −tolerance · max|λ|`. `work` is an `N × N` scratch matrix.
///
/// # Examples
///
/// ```
/// use ntk::linalg::is_positive_semidefinite;
/// let mut work = [[0.0; 2]; 2];
/// assert!(is_positive_semidefinite(&[[1.0_f64, 0.0], [1.0, 1.0]], 1e-12, &mut work)?);
/// assert!(!is_positive_semidefinite(&[[1.0_f64, 0.0], [2.0, 1.0]], 1e-12, &mut work)?);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a negative or non-finite tolerance, and as
/// [`min_eigenvalue`].
#[must_use = "the eigensolver can fail"]
pub fn is_positive_semidefinite<T: Real, const N: usize>(
    a: &[[T; N]; N],
    tolerance: T,
    work: &mut [[T; N]; N],
) -> Result<bool, Error> {
    if !(tolerance.is_finite() && tolerance >= T::ZERO) {
        return Err(Error::InvalidArgument {
            what: "tolerance must be finite and non-negative",
        });
    }
    let values = spectrum(a, work)?;
    let scale = values.iter().fold(T::ZERO, |m, v| m.max(v.abs()));
    Ok(values[0] >= -tolerance * scale)
}
