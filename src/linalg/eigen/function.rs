//! Matrix functions `g(A)·B` of a symmetric `A` without forming its
//! eigenvectors.

use super::tridiagonal::{apply_reflector, rotate_rows, tql, tridiagonalize};
use super::{copy_lower_scaled, EigenOptions};
use crate::linalg::check_lower_finite;
use crate::outputs::zero_on_error;
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// `out = g(A)·B` for a symmetric `A` (lower triangle read) and `K`
/// right-hand sides (the columns of `b`), **without forming eigenvectors**:
/// `A = Q·W·Λ·Wᵀ·Qᵀ` with `Q` from a Householder tridiagonalisation and `W`
/// the product of the QL plane rotations, so `g(A)·B = Q·W·g(Λ)·Wᵀ·Qᵀ·B`.
/// The rotations are applied to `Qᵀ·B` as QL generates them, recorded in
/// `rotations`, and replayed in reverse after scaling by `g(λ)`. The result
/// equals `V·g(Λ)·Vᵀ·B` from [`eigh`](super::eigh) up to rounding, in about 4N³/3 flops
/// instead of 9N³.
///
/// `g` receives the eigenvalues of `A` itself (shift them inside `g` for a
/// regulariser). `work` is an `N × N` scratch matrix; `rotations` holds three
/// values per rotation and may have any length ≥ 3: with about `2.5·N²`
/// entries one QL sweep suffices, with fewer the QL iteration (O(N²) each
/// time) is repeated to replay the rotations in segments.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{matrix_function, EigenOptions};
/// let a = [[2.0_f64, 0.0], [1.0, 2.0]]; // eigenvalues 1 and 3
/// let b = [[1.0], [1.0]];               // eigenvector of 3
/// let (mut work, mut rot, mut out) = ([[0.0; 2]; 2], [0.0; 12], [[0.0; 1]; 2]);
/// matrix_function(&a, EigenOptions::default(), |l| 1.0 / l, &b, &mut work, &mut rot, &mut out)?;
/// assert!((out[0][0] - 1.0 / 3.0).abs() < 1e-12 && (out[1][0] - 1.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `rotations` has fewer than 3 entries, and as
/// [`eigh`](super::eigh); [`Error::Overflow`] if `g` or the product is not finite. On
/// error `out` is filled with zeros.
#[must_use = "the eigensolver can fail"]
pub fn matrix_function<T: Real, const N: usize, const K: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    g: impl Fn(T) -> T,
    b: &[[T; K]; N],
    work: &mut [[T; N]; N],
    rotations: &mut [T],
    out: &mut [[T; K]; N],
) -> Result<(), Error> {
    apply_matrix_function_checked(a, opts, g, b, work, rotations, out, |_| Ok(()))
}

/// The former form of [`matrix_function`], with the output before the
/// workspace.
///
/// # Errors
///
/// As [`matrix_function`].
#[deprecated(
    since = "0.2.0",
    note = "use `matrix_function`, which takes `work` and `rotations` before `out`"
)]
#[must_use = "the eigensolver can fail"]
pub fn apply_matrix_function<T: Real, const N: usize, const K: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    g: impl Fn(T) -> T,
    b: &[[T; K]; N],
    out: &mut [[T; K]; N],
    work: &mut [[T; N]; N],
    rotations: &mut [T],
) -> Result<(), Error> {
    matrix_function(a, opts, g, b, work, rotations, out)
}

/// [`matrix_function`], with `check` run on the eigenvalues of `A`
/// (unsorted) before `g` is applied: an error from it is returned, `out` zeroed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_matrix_function_checked<T: Real, const N: usize, const K: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    g: impl Fn(T) -> T,
    b: &[[T; K]; N],
    work: &mut [[T; N]; N],
    rotations: &mut [T],
    out: &mut [[T; K]; N],
    check: impl FnOnce(&[T; N]) -> Result<(), Error>,
) -> Result<(), Error> {
    zero_on_error(out, |out| {
        opts.validate()?;
        if rotations.len() < 3 {
            return Err(Error::BufferTooSmall {
                needed: 3,
                given: rotations.len(),
            });
        }
        check_lower_finite(a, "matrix")?;
        for row in b {
            check_finite(row, "right-hand side")?;
        }
        let unscale = copy_lower_scaled(a, work);
        let (mut d0, mut e0) = ([T::ZERO; N], [T::ZERO; N]);
        tridiagonalize(work, &mut d0, &mut e0);
        out.copy_from_slice(b);
        for k in 0..N.saturating_sub(1) {
            apply_reflector(work, k, out);
        }
        let cap = rotations.len() / 3;
        let ring = &mut rotations[..3 * cap];
        let (mut d, mut e) = (d0, e0);
        let mut total = 0usize;
        let mut slot = 0usize;
        let (tol, max_iter) = (opts.tolerance, opts.max_iterations);
        // Inlined into the QL loop, where the rotation runs in the shadow of
        // the latency-bound recurrence.
        tql(
            &mut d,
            &mut e,
            tol,
            max_iter,
            #[inline(always)]
            |i, c, s| {
                rotate_rows(out, i, c, s);
                record(ring, &mut slot, i, c, s);
                total += 1;
            },
        )?;
        let lambdas = d.map(|v| v * unscale);
        check_result(&lambdas, "eigenvalues")?;
        check(&lambdas)?;
        for (row, lambda) in out.iter_mut().zip(lambdas.iter()) {
            let f = g(*lambda);
            for v in row.iter_mut() {
                *v *= f;
            }
        }
        // Replay the rotations transposed, last first, one segment at a time;
        // rotation j sits in slot j mod cap.
        let replay = |out: &mut [[T; K]; N], ring: &[T], lo: usize, hi: usize| {
            if hi == lo {
                return;
            }
            let mut slot = 3 * ((hi - 1) % cap);
            for _ in lo..hi {
                let (i, c, s) = (ring[slot].to_f64() as usize, ring[slot + 1], ring[slot + 2]);
                rotate_rows(out, i, c, -s);
                slot = if slot == 0 { ring.len() - 3 } else { slot - 3 };
            }
        };
        let mut hi = total;
        let mut lo = total.saturating_sub(cap);
        replay(out, ring, lo, hi);
        while lo > 0 {
            hi = lo;
            lo = hi.saturating_sub(cap);
            let (mut d, mut e) = (d0, e0);
            let mut idx = 0usize;
            let mut slot = 3 * (lo % cap);
            tql(
                &mut d,
                &mut e,
                tol,
                max_iter,
                #[inline(always)]
                |i, c, s| {
                    if idx >= lo && idx < hi {
                        record(ring, &mut slot, i, c, s);
                    }
                    idx += 1;
                },
            )?;
            replay(out, ring, lo, hi);
        }
        for k in (0..N.saturating_sub(1)).rev() {
            apply_reflector(work, k, out);
        }
        for row in out.iter() {
            check_result(row, "matrix function product")?;
        }
        Ok(())
    })
}

/// Writes the rotation `(i, c, s)` into the ring's `slot` and advances the
/// slot, wrapping at the end of the ring.
#[inline(always)]
fn record<T: Real>(ring: &mut [T], slot: &mut usize, i: usize, c: T, s: T) {
    ring[*slot] = T::from_usize(i);
    ring[*slot + 1] = c;
    ring[*slot + 2] = s;
    *slot += 3;
    if *slot == ring.len() {
        *slot = 0;
    }
}
