//! Cholesky factorisation, triangular solves, log-determinant and the O(N²)
//! online updates of a factor.
//! The factor of a regularised kernel as an owned value: [`Cholesky`].

use super::solve::{backward_in_place, forward_in_place, solve_columns_in_place};
use super::{check_lower_finite, is_singular, lower_max_abs, Regularizer};
use crate::outputs::zero_on_error;
use crate::simd::{check_finite, check_result};
use crate::simd::{dot, dot4};
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
/// columns at a time share the loads of row `i` where the target has vector
/// registers. `norm` is the largest absolute entry of the matrix, for the
/// rank decision.
fn factor_in_place<T: Real, const N: usize>(l: &mut [[T; N]], norm: T) -> Result<(), Error> {
    let n = l.len().min(N);
    for i in 0..n {
        let (top, rest) = l.split_at_mut(i);
        let row = &mut rest[0];
        let mut j = 0;
        // (on targets without vector registers a column at a time: less code)
        while crate::simd::WIDE && j + 4 <= i {
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
pub(super) fn check_rank<T: Real, const N: usize>(l: &[[T; N]], norm: T) -> Result<(), Error> {
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
pub(super) fn check_factor<T: Real, const N: usize>(
    l: &[[T; N]; N],
    n: usize,
) -> Result<(), Error> {
    for (i, row) in l.iter().enumerate().take(n) {
        check_finite(&row[..=i], "Cholesky factor")?;
        if row[i].is_nan() || row[i] <= T::ZERO {
            return Err(Error::NotPositiveDefinite { index: i });
        }
    }
    Ok(())
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

/// The Cholesky factor `L` of a regularised train kernel `Θ + ε·I = L·Lᵀ`,
/// in caller-owned storage: what `t = ∞` predictions and the GP posterior need.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{Cholesky, Regularizer};
/// let mut f = Cholesky::<f64, 2>::new();
/// f.compute(&[[4.0, 0.0], [2.0, 2.0]], Regularizer::None)?;
/// assert_eq!(f.l()[0][0], 2.0);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Cholesky<T, const N: usize> {
    l: [[T; N]; N],
}

impl<T: Real, const N: usize> Default for Cholesky<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`Cholesky::new`]: every byte zero.
impl<T: Real, const N: usize> crate::nn::Zeroed for Cholesky<T, N> {
    const ZEROED: Self = Self::new();
}

impl<T: Real, const N: usize> Cholesky<T, N> {
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
    pub(crate) fn solve_columns<const K: usize>(&self, x: &mut [[T; K]; N]) {
        solve_columns_in_place(&self.l, x);
    }
}
