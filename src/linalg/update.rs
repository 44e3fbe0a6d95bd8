//! The O(N²) online updates of a Cholesky factor: append a point, remove
//! the oldest.

use super::cholesky::{check_factor, check_rank};
use super::{hypot, is_singular};
use crate::outputs::zero_on_error;
use crate::simd::dot;
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

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
/// decision of [`cholesky`](fn@crate::linalg::cholesky) on the enlarged matrix, tolerance `(n+1)·ε` times
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
    // The update cannot be undone: if it overflows, the factor is zeroed.
    zero_on_error(l, |l| {
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
        // L₂₂'·L₂₂'ᵀ = L₂₂·L₂₂ᵀ + v·vᵀ, column by column, by Givens
        // rotations of (column k, v) with |c|, |s| ≤ 1: orthogonal, so the
        // update is backward stable even where v[k] ≫ l[k][k] (the form
        // that divides by c = r/l[k][k] cancels catastrophically there).
        for k in 0..m {
            let lkk = l[k][k];
            let r = hypot(lkk, v[k]);
            let c = lkk / r;
            let s = v[k] / r;
            l[k][k] = r;
            for i in k + 1..m {
                let lik = l[i][k];
                l[i][k] = c * lik + s * v[i];
                v[i] = c * v[i] - s * lik;
            }
        }
        for (i, row) in l.iter().enumerate().take(m) {
            check_result(&row[..=i], "Cholesky update").map_err(|_| Error::Overflow {
                what: "Cholesky update",
            })?;
        }
        Ok(())
    })
}
