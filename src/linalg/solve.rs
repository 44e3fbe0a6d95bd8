//! Triangular solves with a Cholesky factor `L`: `L·x = b`, `Lᵀ·x = b`,
//! `L·Lᵀ·x = b` for vectors and for the columns or rows of a matrix.

use super::cholesky::check_factor;
use crate::outputs::zero_on_error;
use crate::simd::{axpy, dot};
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// `x ← L⁻¹·x` on the leading `x.len()` rows of `l` (forward substitution).
#[inline]
pub(crate) fn forward_in_place<T: Real, const N: usize>(l: &[[T; N]], x: &mut [T]) {
    for i in 0..x.len().min(l.len()) {
        let row = &l[i];
        let s = dot(&row[..i], &x[..i]);
        x[i] = (x[i] - s) / row[i];
    }
}

/// `x ← L⁻ᵀ·x` on the leading `x.len()` rows of `l` (backward substitution,
/// by rows of `L`: contiguous axpys).
#[inline]
pub(crate) fn backward_in_place<T: Real, const N: usize>(l: &[[T; N]], x: &mut [T]) {
    for i in (0..x.len().min(l.len())).rev() {
        let row = &l[i];
        x[i] /= row[i];
        let xi = x[i];
        let (head, _) = x.split_at_mut(i);
        axpy(-xi, &row[..i], head);
    }
}

/// Shared driver of the vector solves: validation, `op`, result check,
/// zeros on error.
fn vector_solve<T: Real, const N: usize>(
    l: &[[T; N]; N],
    b: &[T; N],
    x: &mut [T; N],
    op: impl FnOnce(&[[T; N]; N], &mut [T]),
) -> Result<(), Error> {
    zero_on_error(x, |x| {
        check_factor(l, N)?;
        check_finite(b, "right-hand side")?;
        x.copy_from_slice(b);
        op(l, x);
        check_result(x, "solution")
    })
}

/// Solves `L·x = b` (forward substitution); `l` lower triangular as returned
/// by [`cholesky`](fn@crate::linalg::cholesky) (its upper triangle is not read).
///
/// # Examples
///
/// ```
/// let l = [[2.0_f64, 0.0], [1.0, 1.0]];
/// let mut x = [0.0; 2];
/// ntk::linalg::solve_lower(&l, &[4.0, 3.0], &mut x)?;
/// assert_eq!(x, [2.0, 1.0]);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NotPositiveDefinite`] if a diagonal entry of `l` is not positive,
/// [`Error::NonFinite`] for NaN/∞ in `l` or `b`, [`Error::Overflow`] if the
/// solution overflows. On error `x` is filled with zeros.
#[must_use = "the solve can fail"]
pub fn solve_lower<T: Real, const N: usize>(
    l: &[[T; N]; N],
    b: &[T; N],
    x: &mut [T; N],
) -> Result<(), Error> {
    vector_solve(l, b, x, |l, x| forward_in_place(l, x))
}

/// Solves `Lᵀ·x = b` (backward substitution) with `l` lower triangular.
///
/// # Examples
///
/// ```
/// let l = [[2.0_f64, 0.0], [1.0, 1.0]];
/// let mut x = [0.0; 2];
/// ntk::linalg::solve_lower_transpose(&l, &[5.0, 1.0], &mut x)?; // [[2, 1], [0, 1]]·x = (5, 1)
/// assert_eq!(x, [2.0, 1.0]);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`solve_lower`].
#[must_use = "the solve can fail"]
pub fn solve_lower_transpose<T: Real, const N: usize>(
    l: &[[T; N]; N],
    b: &[T; N],
    x: &mut [T; N],
) -> Result<(), Error> {
    vector_solve(l, b, x, |l, x| backward_in_place(l, x))
}

/// Solves `K·x = b` given the Cholesky factor `L` of `K` (`K = L·Lᵀ`).
///
/// # Examples
///
/// ```
/// use ntk::linalg::{cholesky, cholesky_solve, Regularizer};
/// let k = [[2.0_f64, 0.0], [1.0, 2.0]];
/// let mut l = [[0.0; 2]; 2];
/// cholesky(&k, Regularizer::None, &mut l)?;
/// let mut x = [0.0; 2];
/// cholesky_solve(&l, &[3.0, 3.0], &mut x)?;
/// assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`solve_lower`].
#[must_use = "the solve can fail"]
pub fn cholesky_solve<T: Real, const N: usize>(
    l: &[[T; N]; N],
    b: &[T; N],
    x: &mut [T; N],
) -> Result<(), Error> {
    vector_solve(l, b, x, |l, x| {
        forward_in_place(l, x);
        backward_in_place(l, x);
    })
}

/// Solves `K·X = B` for `K` right-hand sides stored as the **columns** of the
/// row-major `N × K` matrix `b` (the layout of targets `[[T; K]; N]`), given
/// the Cholesky factor `L` of `K`.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{cholesky, cholesky_solve_columns, Regularizer};
/// let k = [[2.0_f64, 0.0], [0.0, 4.0]];
/// let mut l = [[0.0; 2]; 2];
/// cholesky(&k, Regularizer::None, &mut l)?;
/// let mut x = [[0.0; 3]; 2];
/// cholesky_solve_columns(&l, &[[2.0, 4.0, 6.0], [4.0, 8.0, 12.0]], &mut x)?;
/// assert!((x[0][2] - 3.0).abs() < 1e-12 && (x[1][0] - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`solve_lower`].
#[must_use = "the solve can fail"]
pub fn cholesky_solve_columns<T: Real, const N: usize, const K: usize>(
    l: &[[T; N]; N],
    b: &[[T; K]; N],
    x: &mut [[T; K]; N],
) -> Result<(), Error> {
    zero_on_error(x, |x| {
        check_factor(l, N)?;
        for row in b {
            check_finite(row, "right-hand side")?;
        }
        x.copy_from_slice(b);
        solve_columns_in_place(l, x);
        for row in x.iter() {
            check_result(row, "solution")?;
        }
        Ok(())
    })
}

/// `X ← (L·Lᵀ)⁻¹·X` for the leading `x.len()` rows, columns as right-hand sides.
pub(crate) fn solve_columns_in_place<T: Real, const N: usize, const K: usize>(
    l: &[[T; N]; N],
    x: &mut [[T; K]],
) {
    let n = x.len().min(N);
    for i in 0..n {
        let (top, rest) = x.split_at_mut(i);
        let xi = &mut rest[0];
        for (j, xj) in top.iter().enumerate() {
            axpy(-l[i][j], xj, xi);
        }
        let inv = T::ONE / l[i][i];
        for v in xi.iter_mut() {
            *v *= inv;
        }
    }
    for i in (0..n).rev() {
        let (top, rest) = x.split_at_mut(i);
        let xi = &mut rest[0];
        let inv = T::ONE / l[i][i];
        for v in xi.iter_mut() {
            *v *= inv;
        }
        for (j, xj) in top.iter_mut().enumerate() {
            axpy(-l[i][j], xi, xj);
        }
    }
}

/// Solves `K·x = r` for each **row** `r` of the row-major `M × N` matrix `b`
/// (the layout of a test×train kernel `[[T; N]; M]`), given the Cholesky
/// factor `L` of `K`: the result is `B·K⁻¹` since `K` is symmetric.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{cholesky, cholesky_solve_rows, Regularizer};
/// let k = [[2.0_f64, 0.0], [0.0, 4.0]];
/// let mut l = [[0.0; 2]; 2];
/// cholesky(&k, Regularizer::None, &mut l)?;
/// let mut x = [[0.0; 2]; 1];
/// cholesky_solve_rows(&l, &[[2.0, 4.0]], &mut x)?;
/// assert!((x[0][0] - 1.0).abs() < 1e-12 && (x[0][1] - 1.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`solve_lower`].
#[must_use = "the solve can fail"]
pub fn cholesky_solve_rows<T: Real, const N: usize, const M: usize>(
    l: &[[T; N]; N],
    b: &[[T; N]; M],
    x: &mut [[T; N]; M],
) -> Result<(), Error> {
    zero_on_error(x, |x| {
        check_factor(l, N)?;
        for row in b {
            check_finite(row, "right-hand side")?;
        }
        for (xr, br) in x.iter_mut().zip(b) {
            xr.copy_from_slice(br);
            forward_in_place(l, xr);
            backward_in_place(l, xr);
            check_result(xr, "solution")?;
        }
        Ok(())
    })
}
