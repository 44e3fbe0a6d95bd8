//! Cyclic Jacobi rotations: slower than tridiagonal + QL, with small
//! relative errors in tiny eigenvalues of well-scaled positive definite
//! matrices.

use super::EigenOptions;
use crate::linalg::hypot;
use crate::{Error, Real};

/// Diagonalises the symmetric matrix whose lower triangle `work` holds
/// (scaled to entries of order 1, upper triangle ignored) by cyclic Jacobi
/// sweeps: `values` receives its diagonal at convergence (unsorted),
/// `vectors` the accumulated rotations as rows.
pub(super) fn rotate<T: Real, const N: usize>(
    work: &mut [[T; N]; N],
    values: &mut [T; N],
    vectors: &mut [[T; N]; N],
    opts: &EigenOptions<T>,
) -> Result<(), Error> {
    for i in 0..N {
        let (top, rest) = work.split_at_mut(i);
        for (j, upper) in top.iter_mut().enumerate() {
            upper[i] = rest[0][j];
        }
    }
    for (i, row) in vectors.iter_mut().enumerate() {
        row.fill(T::ZERO);
        row[i] = T::ONE;
    }
    let tol = opts.tolerance;
    let max_abs = work
        .iter()
        .flat_map(|row| row.iter())
        .fold(T::ZERO, |m, v| m.max(v.abs()));
    let floor = tol * tol * max_abs * T::from_usize(N);
    let mut converged = false;
    for _ in 0..opts.max_iterations {
        let mut rotated = false;
        for p in 0..N {
            for q in p + 1..N {
                let apq = work[p][q];
                let (app, aqq) = (work[p][p], work[q][q]);
                // √|app|·√|aqq|: the product itself overflows beyond 1e154.
                if apq.abs() <= tol * (app.abs().sqrt() * aqq.abs().sqrt()) + floor {
                    continue;
                }
                rotated = true;
                let theta = (aqq - app) / (T::TWO * apq);
                let t = T::ONE / (theta.abs() + hypot(theta, T::ONE));
                let t = if theta < T::ZERO { -t } else { t };
                let c = T::ONE / (t * t + T::ONE).sqrt();
                let s = t * c;
                // Rows p and q of A (columns by symmetry), then the 2×2 block.
                {
                    let (top, rest) = work.split_at_mut(q);
                    let (rp, rq) = (&mut top[p], &mut rest[0]);
                    for (x, y) in rp.iter_mut().zip(rq.iter_mut()) {
                        let (xv, yv) = (*x, *y);
                        *x = c * xv - s * yv;
                        *y = s * xv + c * yv;
                    }
                }
                for k in 0..N {
                    let (wp, wq) = (work[p][k], work[q][k]);
                    work[k][p] = wp;
                    work[k][q] = wq;
                }
                work[p][p] = app - t * apq;
                work[q][q] = aqq + t * apq;
                work[p][q] = T::ZERO;
                work[q][p] = T::ZERO;
                let (top, rest) = vectors.split_at_mut(q);
                let (vp, vq) = (&mut top[p], &mut rest[0]);
                for (x, y) in vp.iter_mut().zip(vq.iter_mut()) {
                    let (xv, yv) = (*x, *y);
                    *x = c * xv - s * yv;
                    *y = s * xv + c * yv;
                }
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(Error::NoConvergence {
            iterations: opts.max_iterations,
        });
    }
    for (i, v) in values.iter_mut().enumerate() {
        *v = work[i][i];
    }
    Ok(())
}
