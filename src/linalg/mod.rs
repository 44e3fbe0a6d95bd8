//! Dense linear algebra on const-size symmetric matrices.
//!
//! Matrices are row-major const-generic arrays: `a[i][j]` is row `i`, column
//! `j` of an `[[T; N]; N]`. Symmetric inputs are read from their **lower
//! triangle only** (`j ≤ i`); the upper triangle may hold anything.
//!
//! | job | functions |
//! |---|---|
//! | Cholesky `K + εI = L·Lᵀ` | [`cholesky`], [`Regularizer`] |
//! | solves with `L`, `Lᵀ`, `L·Lᵀ` | [`solve_lower`], [`solve_lower_transpose`], [`cholesky_solve`], [`cholesky_solve_columns`], [`cholesky_solve_rows`] |
//! | log-determinant | [`log_det`] |
//! | owned decompositions of a regularised kernel | [`Cholesky`], [`Spectrum`] |
//! | online updates, O(N²) | [`cholesky_append`], [`cholesky_remove_first`] |
//! | symmetric eigendecomposition | [`eigh`] (default), [`eigh_tridiagonal_ql`], [`jacobi_eigh`] |
//! | spectrum only | [`eigvalsh`], [`min_eigenvalue`], [`max_eigenvalue`], [`condition_number`], [`is_positive_semidefinite`] |
//! | `g(A)·v` without eigenvectors | [`matrix_function`] |
//! | matrix-free: CG, Lanczos extremes, Lanczos `g(A)·y` on any [`krylov::LinearOperator`] | [`krylov`] |
//!
//! Everything is allocation-free: outputs and scratch matrices belong to the
//! caller, so a 256 × 256 `f64` matrix (512 KiB) is never copied onto the
//! stack inside the library. Numerical failure is a typed [`Error`]
//! (`NotPositiveDefinite`, `NoConvergence`, `NonFinite`, `Overflow`), never a
//! NaN result. **On error, every output buffer is filled with zeros**, so a
//! failed call never leaves a half-written result behind.
//!
//! # Examples
//!
//! ```
//! use ntk::linalg::{cholesky, cholesky_solve, Regularizer};
//! let k = [[4.0_f64, 0.0], [2.0, 3.0]]; // lower triangle of [[4, 2], [2, 3]]
//! let mut l = [[0.0; 2]; 2];
//! cholesky(&k, Regularizer::None, &mut l)?;
//! let mut x = [0.0; 2];
//! cholesky_solve(&l, &[6.0, 5.0], &mut x)?; // [[4, 2], [2, 3]]·x = (6, 5)
//! assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
//! # Ok::<(), ntk::Error>(())
//! ```

mod cholesky;
mod eigen;
pub mod krylov;
mod solve;
mod update;

pub(crate) use eigen::apply_matrix_function_checked;
pub(crate) use solve::forward_in_place;

pub use cholesky::{cholesky, log_det, Cholesky};
/// The former forms of [`eigvalsh`], [`jacobi_eigh`] and [`matrix_function`],
/// with the outputs before the workspace; kept for one release.
#[allow(deprecated)]
pub use eigen::{apply_matrix_function, eigenvalues, eigh_jacobi};
pub use eigen::{
    condition_number, eigh, eigh_tridiagonal_ql, eigvalsh, is_positive_semidefinite, jacobi_eigh,
    matrix_function, max_eigenvalue, min_eigenvalue, EigenMethod, EigenOptions, Spectrum,
};
pub use solve::{
    cholesky_solve, cholesky_solve_columns, cholesky_solve_rows, solve_lower, solve_lower_transpose,
};
pub use update::{cholesky_append, cholesky_remove_first};

/// The former name of [`Cholesky`], kept for one release.
pub use cholesky::Cholesky as Factor;

use crate::{Error, Real};

/// A diagonal regulariser: `K + ε·I` with `ε` absolute or relative to the
/// mean diagonal of `K`.
///
/// The conventions of neural-tangents' `diag_reg` and
/// `diag_reg_absolute_scale`: [`Regularizer::Relative`]`(r)` adds
/// `r · trace(K) / N`, [`Regularizer::Absolute`]`(ε)` adds `ε`.
///
/// # Examples
///
/// ```
/// use ntk::linalg::Regularizer;
/// let k = [[2.0_f64, 0.0], [0.0, 4.0]];
/// assert_eq!(Regularizer::Relative(0.5).amount(&k)?, 1.5);
/// assert_eq!(Regularizer::Absolute(0.5).amount(&k)?, 0.5);
/// assert_eq!(Regularizer::None.amount(&k)?, 0.0);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Regularizer<T> {
    /// No regularisation.
    #[default]
    None,
    /// Adds `ε` to the diagonal.
    Absolute(T),
    /// Adds `r · trace(K) / N` to the diagonal.
    Relative(T),
}

impl<T: Real> Regularizer<T> {
    /// The amount added to the diagonal of `k`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the strength is negative or not finite,
    /// [`Error::NonFinite`] if a relative regulariser meets a non-finite
    /// diagonal, [`Error::Overflow`] if its amount overflows.
    pub fn amount<const N: usize>(self, k: &[[T; N]; N]) -> Result<T, Error> {
        let strength = match self {
            Regularizer::None => return Ok(T::ZERO),
            Regularizer::Absolute(e) | Regularizer::Relative(e) => e,
        };
        if !(strength.is_finite() && strength >= T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "regulariser must be finite and non-negative",
            });
        }
        match self {
            Regularizer::Relative(r) if N > 0 => {
                if !k.iter().enumerate().all(|(i, row)| row[i].is_finite()) {
                    return Err(Error::NonFinite {
                        what: "matrix diagonal",
                    });
                }
                let trace: T = k.iter().enumerate().map(|(i, row)| row[i]).sum();
                let amount = r * trace / T::from_usize(N);
                // A finite diagonal whose trace, or its multiple, overflows.
                crate::simd::check_result(&[trace, amount], "regulariser")?;
                Ok(amount)
            }
            Regularizer::Relative(_) => Ok(T::ZERO),
            _ => Ok(strength),
        }
    }
}

/// The rank decision shared by every route that inverts a symmetric matrix
/// (the Cholesky pivots, [`cholesky_append`]'s new pivot, and the smallest
/// eigenvalue on the `t = ∞` paths of [`crate::predict`]): the matrix counts
/// as singular when its smallest pivot or eigenvalue is at most
/// `n·ε·‖K‖`, with `‖K‖` the largest absolute entry of the (regularised)
/// matrix ([`lower_max_abs`]) — the tolerance of LAPACK-style rank
/// decisions. A NaN counts as singular.
#[inline]
pub(crate) fn is_singular<T: Real>(smallest: T, n: usize, norm: T) -> bool {
    // n·ε first: it stays below 1, so the product does not overflow.
    smallest.is_nan() || smallest <= T::from_usize(n) * T::EPSILON * norm
}

/// The largest absolute entry of the lower triangle of `a + shift·I`: the
/// norm of [`is_singular`].
pub(crate) fn lower_max_abs<T: Real, const C: usize>(a: &[[T; C]], shift: T) -> T {
    let mut m = T::ZERO;
    for (i, row) in a.iter().enumerate().take(C) {
        for v in &row[..i] {
            m = m.max(v.abs());
        }
        m = m.max((row[i] + shift).abs());
    }
    m
}

/// `√(a² + b²)` without destructive underflow or overflow.
#[inline]
pub(crate) fn hypot<T: Real>(a: T, b: T) -> T {
    let (a, b) = (a.abs(), b.abs());
    let (big, small) = if a > b { (a, b) } else { (b, a) };
    if big == T::ZERO {
        T::ZERO
    } else {
        let r = small / big;
        big * (T::ONE + r * r).sqrt()
    }
}

/// Returns `Err(NonFinite)` unless every entry of the lower triangle is finite.
pub(crate) fn check_lower_finite<T: Real, const N: usize>(
    a: &[[T; N]; N],
    what: &'static str,
) -> Result<(), Error> {
    for (i, row) in a.iter().enumerate() {
        crate::simd::check_finite(&row[..=i], what)?;
    }
    Ok(())
}
