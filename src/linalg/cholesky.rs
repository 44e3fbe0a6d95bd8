//! Cholesky factorisation, triangular solves, log-determinant and the O(N²)
//! online updates of a factor.

use super::{
    check_lower_finite, hypot, is_singular, lower_max_abs, zero_matrix, zero_on_error, Regularizer,
};
use crate::simd::{axpy, dot, dot4};
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// Cholesky factor `L` (lower triangular, positive diagonal) of `K + ε·I`,
/// with `ε` from `reg`; reads the lower triangle of `k` only.
///
/// On success `l` holds `L` with zeros above the diagonal.
///
/// A matrix is refused as numerically singular (or indefinite) when its
/// smallest eigenvalue is at most `N·ε·‖K + εI‖`, `‖·‖` the largest absolute
/// entry (the rank tolerance of LAPACK-style rank decisions), instead of
/// yielding a factor dominated by rounding: a pivot `Lᵢᵢ²` at or below the
/// tolerance stops the factorisation, and once it is done the smallest
/// eigenvalue, which an unpivoted factor's pivots bound only from above, is
/// estimated as `1/‖(L·Lᵀ)⁻¹‖₁` by the 1-norm estimator of LAPACK's condition
/// estimates (a few O(N²) solves). The `t = ∞` predictions of
/// [`crate::predict`] that go through the spectrum apply the same tolerance to
/// the smallest eigenvalue itself, so that the routes agree away from the
/// threshold (within a factor of about √N). Cost N³/3 multiply-adds, in dot
/// products over contiguous rows.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{cholesky, Regularizer};
/// use ntk::Error;
/// let k = [[4.0_f64, 99.0], [2.0, 2.0]]; // the upper triangle is not read
/// let mut l = [[0.0; 2]; 2];
/// cholesky(&k, Regularizer::Absolute(1.0), &mut l)?;  // [[5, 2], [2, 3]]
/// assert!((l[0][0] - 5.0_f64.sqrt()).abs() < 1e-12);
/// assert!((l[1][0] * l[1][0] + l[1][1] * l[1][1] - 3.0).abs() < 1e-12);
/// assert_eq!(l[0][1], 0.0);
///
/// // The Gram matrix of (1, 2), (2, 4), (0, 1): the first two points are
/// // collinear with the origin, so the matrix is singular.
/// let k = [[5.0, 0.0, 0.0], [10.0, 20.0, 0.0], [2.0, 4.0, 1.0]];
/// let mut l = [[0.0; 3]; 3];
/// assert_eq!(cholesky(&k, Regularizer::None, &mut l), Err(Error::NotPositiveDefinite { index: 1 }));
/// assert_eq!(l, [[0.0; 3]; 3]);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] if the lower triangle holds NaN or ±∞;
/// [`Error::InvalidArgument`] for a negative or non-finite regulariser;
/// [`Error::NotPositiveDefinite`] naming the first failing pivot, or the
/// row of the smallest pivot when the eigenvalue estimate fails. On error
/// `l` is filled with zeros.
#[must_use = "the factorisation can fail"]
pub fn cholesky<T: Real, const N: usize>(
    k: &[[T; N]; N],
    reg: Regularizer<T>,
    l: &mut [[T; N]; N],
) -> Result<(), Error> {
    zero_on_error(l, |l| {
        check_lower_finite(k, "matrix")?;
        let eps = reg.amount(k)?;
        for (i, (dst, src)) in l.iter_mut().zip(k).enumerate() {
            dst[..=i].copy_from_slice(&src[..=i]);
            dst[i] += eps;
            dst[i + 1..].fill(T::ZERO);
        }
        let norm = lower_max_abs(l, T::ZERO);
        factor_in_place(l, norm)
    })
}

/// Factorises `l` in place (lower triangle in, `L` out), row by row; 4
/// columns at a time share the loads of row `i`. `norm` is the largest
/// absolute entry of the matrix, for the rank decision.
fn factor_in_place<T: Real, const N: usize>(l: &mut [[T; N]], norm: T) -> Result<(), Error> {
    let n = l.len().min(N);
    for i in 0..n {
        let (top, rest) = l.split_at_mut(i);
        let row = &mut rest[0];
        let mut j = 0;
        while j + 4 <= i {
            let s = dot4(
                &row[..j],
                [
                    &top[j][..j],
                    &top[j + 1][..j],
                    &top[j + 2][..j],
                    &top[j + 3][..j],
                ],
            );
            for q in 0..4 {
                let lj = &top[j + q];
                let mut v = row[j + q] - s[q];
                for p in j..j + q {
                    v -= row[p] * lj[p];
                }
                row[j + q] = v / lj[j + q];
            }
            j += 4;
        }
        while j < i {
            let lj = &top[j];
            row[j] = (row[j] - dot(&row[..j], &lj[..j])) / lj[j];
            j += 1;
        }
        let d = row[i] - dot(&row[..i], &row[..i]);
        if is_singular(d, n, norm) || !d.is_finite() {
            return Err(Error::NotPositiveDefinite { index: i });
        }
        row[i] = d.sqrt();
    }
    check_rank(l, norm)
}

/// The rank decision on a finished factor `L` of `K` (the rows of `l`):
/// pivots bound the smallest eigenvalue only from above (the last pivot of
/// an unpivoted Cholesky is `λ_min / vₙ²`, `v` the eigenvector), so the
/// smallest eigenvalue is estimated as `1 / ‖K⁻¹‖₁` and put to
/// [`is_singular`]. Reports the row of the smallest pivot.
fn check_rank<T: Real, const N: usize>(l: &[[T; N]], norm: T) -> Result<(), Error> {
    let n = l.len().min(N);
    if n == 0 {
        return Ok(());
    }
    let inverse = inverse_norm_estimate(l, norm);
    if is_singular(T::ONE / inverse, n, T::ONE) {
        let index = (0..n).fold(0, |m, i| if l[i][i] < l[m][m] { i } else { m });
        return Err(Error::NotPositiveDefinite { index });
    }
    Ok(())
}

/// A lower estimate of `s·‖K⁻¹‖₁` for `K = L·Lᵀ` (the rows of `l`), by the
/// 1-norm estimator of Hager and Higham that LAPACK's condition estimates
/// use (`xLACN2`; `K⁻¹` is symmetric, so no transposed solves are needed),
/// in O(n²) per solve and at most 11 solves. `+∞` if a solve overflows.
fn inverse_norm_estimate<T: Real, const N: usize>(l: &[[T; N]], s: T) -> T {
    let n = l.len().min(N);
    // y = s·K⁻¹·x; returns ‖y‖₁, or ∞ if it is not finite.
    let apply = |x: &[T; N], y: &mut [T; N]| -> T {
        for (yi, xi) in y[..n].iter_mut().zip(&x[..n]) {
            *yi = *xi * s;
        }
        forward_in_place(l, &mut y[..n]);
        backward_in_place(l, &mut y[..n]);
        let norm: T = y[..n].iter().map(|v| v.abs()).sum();
        if norm.is_finite() {
            norm
        } else {
            T::INFINITY
        }
    };
    let sign = |v: T| if v < T::ZERO { -T::ONE } else { T::ONE };
    let mut x = [T::ZERO; N];
    let mut y = [T::ZERO; N];
    let mut z = [T::ZERO; N];
    x[..n].fill(T::ONE / T::from_usize(n));
    let mut est = apply(&x, &mut y);
    let mut last = usize::MAX;
    for _ in 0..5 {
        if !est.is_finite() {
            return est;
        }
        for (zi, yi) in z[..n].iter_mut().zip(&y[..n]) {
            *zi = sign(*yi);
        }
        let xi = z;
        if !apply(&xi, &mut z).is_finite() {
            return T::INFINITY;
        }
        let j = (0..n).fold(0, |m, i| if z[i].abs() > z[m].abs() { i } else { m });
        let ztx: T = z[..n].iter().zip(&x[..n]).map(|(a, b)| *a * *b).sum();
        if j == last || z[j].abs() <= ztx {
            break;
        }
        last = j;
        x[..n].fill(T::ZERO);
        x[j] = T::ONE;
        let next = apply(&x, &mut y);
        if next <= est {
            break;
        }
        est = next;
    }
    // Higham's extra test vector, alternating in sign, for the matrices
    // that mislead the iteration.
    if n > 1 {
        for (i, xi) in x[..n].iter_mut().enumerate() {
            // Halved, so that s·x does not overflow.
            let m = (T::ONE + T::from_usize(i) / T::from_usize(n - 1)) * T::HALF;
            *xi = if i % 2 == 0 { m } else { -m };
        }
        let alt = apply(&x, &mut y) * T::from_usize(4) / (T::from_usize(3) * T::from_usize(n));
        if alt > est || alt.is_nan() {
            est = alt;
        }
    }
    est
}

/// Checks that `l` can serve as a Cholesky factor: finite lower triangle,
/// positive diagonal.
fn check_factor<T: Real, const N: usize>(l: &[[T; N]; N], n: usize) -> Result<(), Error> {
    for (i, row) in l.iter().enumerate().take(n) {
        check_finite(&row[..=i], "Cholesky factor")?;
        if row[i].is_nan() || row[i] <= T::ZERO {
            return Err(Error::NotPositiveDefinite { index: i });
        }
    }
    Ok(())
}

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
    let r = (|| {
        check_factor(l, N)?;
        check_finite(b, "right-hand side")?;
        x.copy_from_slice(b);
        op(l, x);
        check_result(x, "solution")
    })();
    if r.is_err() {
        x.fill(T::ZERO);
    }
    r
}

/// Solves `L·x = b` (forward substitution); `l` lower triangular as returned
/// by [`cholesky`] (its upper triangle is not read).
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

/// `ln det K = 2·Σ ln Lᵢᵢ` from the Cholesky factor `L` of `K`.
///
/// # Examples
///
/// ```
/// let l = [[2.0_f64, 0.0], [5.0, 3.0]];
/// assert!((ntk::linalg::log_det(&l)? - 36.0_f64.ln()).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NotPositiveDefinite`] if a diagonal entry is not positive,
/// [`Error::NonFinite`] if the lower triangle is not finite,
/// [`Error::Overflow`] if the sum is not finite.
#[must_use = "the log-determinant can fail"]
pub fn log_det<T: Real, const N: usize>(l: &[[T; N]; N]) -> Result<T, Error> {
    check_factor(l, N)?;
    let v = T::TWO * l.iter().enumerate().map(|(i, r)| r[i].ln()).sum::<T>();
    check_result(&[v], "log-determinant")?;
    Ok(v)
}

/// Appends one point to a Cholesky factor in O(n²): given the factor `L` of
/// the `n × n` Gram matrix of the points held (leading block of `l`), the
/// kernel row `k_row[j] = k(x_new, x_j)` (`j < n`) and `k_self =
/// k(x_new, x_new)` (plus any jitter), writes row `n` of `l` so that the
/// leading `(n+1) × (n+1)` block factors the enlarged Gram matrix.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{cholesky, cholesky_append, Regularizer};
/// let k = [[4.0_f64, 0.0, 0.0], [2.0, 3.0, 0.0], [1.0, 0.5, 2.0]];
/// let mut whole = [[0.0; 3]; 3];
/// cholesky(&k, Regularizer::None, &mut whole)?;
/// let mut l = [[0.0; 3]; 3];
/// for n in 0..3 {
///     cholesky_append(&mut l, n, &k[n][..n], k[n][n])?;
/// }
/// for i in 0..3 {
///     for j in 0..3 {
///         assert!((l[i][j] - whole[i][j]).abs() < 1e-12);
///     }
/// }
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `n + 1 > N` ([`Error::InvalidArgument`] if
/// `n + 1` overflows); [`Error::InvalidArgument`] if `k_row.len() != n`;
/// [`Error::NonFinite`] for NaN/∞ in the kernel values;
/// [`Error::NotPositiveDefinite`]`{ index: n }` if the enlarged matrix is not
/// positive definite (the new point is a numerical duplicate): the rank
/// decision of [`cholesky`] on the enlarged matrix, tolerance `(n+1)·ε` times
/// its largest absolute entry (its estimate of the smallest eigenvalue costs
/// up to a dozen pairs of triangular solves, most of the update's O(n²)). On error the leading `n × n` factor is
/// unchanged and row `n` of `l` (if `n < N`) is zero.
#[must_use = "the update can fail"]
pub fn cholesky_append<T: Real, const N: usize>(
    l: &mut [[T; N]; N],
    n: usize,
    k_row: &[T],
    k_self: T,
) -> Result<(), Error> {
    let Some(needed) = n.checked_add(1) else {
        return Err(Error::InvalidArgument {
            what: "number of points held must be below N",
        });
    };
    if needed > N {
        return Err(Error::BufferTooSmall { needed, given: N });
    }
    let checked = if k_row.len() != n {
        Err(Error::InvalidArgument {
            what: "kernel row length must equal the number of points held",
        })
    } else {
        check_finite(k_row, "kernel row").and_then(|()| check_finite(&[k_self], "kernel diagonal"))
    };
    if let Err(e) = checked {
        l[n].fill(T::ZERO);
        return Err(e);
    }
    let (top, rest) = l.split_at_mut(n);
    let row = &mut rest[0];
    row.fill(T::ZERO);
    row[..n].copy_from_slice(k_row);
    // L₁₁·l = k_row, by rows of the held factor.
    for i in 0..n {
        let li = &top[i];
        row[i] = (row[i] - dot(&row[..i], &li[..i])) / li[i];
    }
    let d = k_self - dot(&row[..n], &row[..n]);
    // ‖K‖ of the enlarged matrix: the new row, and the diagonal held
    // (Kᵢᵢ = ‖Lᵢ‖², the largest entry of a positive definite matrix).
    let norm = top
        .iter()
        .enumerate()
        .map(|(i, li)| dot(&li[..=i], &li[..=i]))
        .chain(k_row.iter().map(|v| v.abs()))
        .fold(k_self.abs(), T::max);
    if is_singular(d, needed, norm) || !d.is_finite() || !crate::simd::all_finite(&row[..n]) {
        row.fill(T::ZERO);
        return Err(Error::NotPositiveDefinite { index: n });
    }
    row[n] = d.sqrt();
    if check_rank(&l[..=n], norm).is_err() {
        l[n].fill(T::ZERO);
        return Err(Error::NotPositiveDefinite { index: n });
    }
    Ok(())
}

/// Removes the first of `n` points from a Cholesky factor in O(n²): shifts
/// the leading block up and left by one and restores triangularity with a
/// rank-one update (Givens rotations). Afterwards the leading
/// `(n−1) × (n−1)` block of `l` factors the Gram matrix of points `1..n`, and
/// row and column `n − 1` are zero. Removing the oldest point is an *update*
/// (it adds `l₂₁·l₂₁ᵀ` back), so it cannot lose positive definiteness.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{cholesky, cholesky_remove_first, Regularizer};
/// let k = [[4.0_f64, 0.0, 0.0], [2.0, 3.0, 0.0], [1.0, 0.5, 2.0]];
/// let mut l = [[0.0; 3]; 3];
/// cholesky(&k, Regularizer::None, &mut l)?;
/// cholesky_remove_first(&mut l, 3)?;
/// let sub = [[3.0, 0.0], [0.5, 2.0]];
/// let mut want = [[0.0; 2]; 2];
/// cholesky(&sub, Regularizer::None, &mut want)?;
/// assert!((l[0][0] - want[0][0]).abs() < 1e-12);
/// assert!((l[1][0] - want[1][0]).abs() < 1e-12 && (l[1][1] - want[1][1]).abs() < 1e-12);
/// assert_eq!(l[2], [0.0; 3]);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `n == 0` or `n > N`; [`Error::NonFinite`] /
/// [`Error::NotPositiveDefinite`] if the leading block is not a valid factor
/// (then `l` is unchanged); [`Error::Overflow`] if the update overflows (then
/// `l` is zeroed).
#[must_use = "the update can fail"]
pub fn cholesky_remove_first<T: Real, const N: usize>(
    l: &mut [[T; N]; N],
    n: usize,
) -> Result<(), Error> {
    if n == 0 || n > N {
        return Err(Error::InvalidArgument {
            what: "number of points must be in 1..=N",
        });
    }
    check_factor(l, n)?;
    let m = n - 1;
    // v = l₂₁, column 0 below the diagonal.
    let mut v = [T::ZERO; N];
    for i in 0..m {
        v[i] = l[i + 1][0];
    }
    for i in 0..m {
        let (top, rest) = l.split_at_mut(i + 1);
        top[i][..=i].copy_from_slice(&rest[0][1..=i + 1]);
        top[i][i + 1..].fill(T::ZERO);
    }
    l[m].fill(T::ZERO);
    // L₂₂'·L₂₂'ᵀ = L₂₂·L₂₂ᵀ + v·vᵀ, column by column.
    for k in 0..m {
        let lkk = l[k][k];
        let r = hypot(lkk, v[k]);
        let c = r / lkk;
        let s = v[k] / lkk;
        l[k][k] = r;
        for i in k + 1..m {
            let lik = (l[i][k] + s * v[i]) / c;
            l[i][k] = lik;
            v[i] = c * v[i] - s * lik;
        }
    }
    for (i, row) in l.iter().enumerate().take(m) {
        if check_result(&row[..=i], "Cholesky update").is_err() {
            zero_matrix(l);
            return Err(Error::Overflow {
                what: "Cholesky update",
            });
        }
    }
    Ok(())
}
