//! Householder tridiagonalisation `T = Qᵀ·A·Q` and implicit QL on the
//! tridiagonal matrix, with the plane rotations reported to the caller.

use super::pow2_scale;
use crate::linalg::hypot;
use crate::simd::{axpy, dot};
use crate::{Error, Real};

/// Householder reduction `T = Qᵀ·A·Q` of the symmetric matrix held in the
/// lower triangle of `a` (`Q = H₀·H₁⋯`, `Hₖ = I − 2·vₖ·vₖᵀ`).
///
/// On return `d` is the diagonal of `T`, `e[i] = T[i][i+1]` (`e[N−1] = 0`),
/// and row `k` of `a`, columns `k+1..`, holds the unit vector `vₖ` (zeros for
/// `Hₖ = I`). The symmetric matrix–vector product and the rank-2 update both
/// run over contiguous row prefixes of the lower triangle: 4N³/3 flops.
pub(super) fn tridiagonalize<T: Real, const N: usize>(
    a: &mut [[T; N]; N],
    d: &mut [T; N],
    e: &mut [T; N],
) {
    let mut p = [T::ZERO; N];
    for k in 0..N {
        d[k] = a[k][k];
        e[k] = T::ZERO;
        if k + 1 >= N {
            break;
        }
        let (top, rest) = a.split_at_mut(k + 1);
        let vrow = &mut top[k];
        for (i, r) in rest.iter().enumerate() {
            vrow[k + 1 + i] = r[k];
        }
        let x = &mut vrow[k + 1..];
        let x0 = x[0];
        if x[1..].iter().all(|v| *v == T::ZERO) {
            e[k] = x0;
            x.fill(T::ZERO);
            continue;
        }
        // The reflector of x/‖x‖∞ (entries of order 1 even when the column
        // is subnormal, whose reciprocal would overflow and whose squares
        // would underflow), divided rather than multiplied by reciprocals.
        let scale = x.iter().fold(T::ZERO, |m, v| m.max(v.abs()));
        for v in x.iter_mut() {
            *v /= scale;
        }
        let y0 = x[0];
        let sigma = x.iter().map(|v| *v * *v).sum::<T>().sqrt();
        let alpha = if x0 > T::ZERO { -sigma } else { sigma };
        x[0] = y0 - alpha;
        // ‖y − α·e₁‖² = 2σ(σ + |y₀|)
        let norm = (T::TWO * sigma).sqrt() * (sigma + y0.abs()).sqrt();
        for v in x.iter_mut() {
            *v /= norm;
        }
        e[k] = alpha * scale;
        let v = &vrow[k + 1..];
        let m = N - k - 1;
        let p = &mut p[..m];
        p.fill(T::ZERO);
        // p = A₂₂·v from the lower triangle: row i gives pᵢ += A[i][..=i]·v[..=i]
        // and p[..i] += vᵢ·A[i][..i].
        for (ii, row) in rest.iter().enumerate() {
            let r = &row[k + 1..=k + 1 + ii];
            p[ii] += dot(r, &v[..=ii]);
            axpy(v[ii], &r[..ii], &mut p[..ii]);
        }
        let kc = dot(v, p);
        for (pi, vi) in p.iter_mut().zip(v) {
            *pi = T::TWO * (*pi - kc * *vi);
        }
        // A₂₂ ← A₂₂ − v·wᵀ − w·vᵀ with w = p, lower triangle only.
        for (ii, row) in rest.iter_mut().enumerate() {
            let r = &mut row[k + 1..=k + 1 + ii];
            axpy(-v[ii], &p[..=ii], r);
            axpy(-p[ii], &v[..=ii], r);
        }
    }
}

/// Overwrites `a`, holding Householder vectors as left by [`tridiagonalize`],
/// with `Qᵀ` (backward accumulation `Q = H₀(H₁(⋯))`, then a transpose).
pub(super) fn form_qt<T: Real, const N: usize>(a: &mut [[T; N]; N]) {
    if N == 0 {
        return;
    }
    let mut r = [T::ZERO; N];
    a[N - 1].fill(T::ZERO);
    a[N - 1][N - 1] = T::ONE;
    for k in (0..N - 1).rev() {
        let (top, rest) = a.split_at_mut(k + 1);
        let v = &top[k][k + 1..];
        let r = &mut r[k + 1..];
        r.fill(T::ZERO);
        for (vi, row) in v.iter().zip(rest.iter()) {
            axpy(*vi, &row[k + 1..], r);
        }
        for (vi, row) in v.iter().zip(rest.iter_mut()) {
            axpy(-T::TWO * *vi, r, &mut row[k + 1..]);
            row[k] = T::ZERO;
        }
        top[k].fill(T::ZERO);
        top[k][k] = T::ONE;
    }
    for i in 0..N {
        let (top, rest) = a.split_at_mut(i + 1);
        let ri = &mut top[i];
        for (j, rj) in rest.iter_mut().enumerate() {
            core::mem::swap(&mut ri[i + 1 + j], &mut rj[i]);
        }
    }
}

/// Applies `H_k` (stored in row `k` of `h`) to the rows `k+1..` of the
/// `N × K` matrix `x`: `x ← x − 2·v·(vᵀx)`.
pub(super) fn apply_reflector<T: Real, const N: usize, const K: usize>(
    h: &[[T; N]; N],
    k: usize,
    x: &mut [[T; K]; N],
) {
    let v = &h[k][k + 1..];
    let rows = &mut x[k + 1..];
    let mut s = [T::ZERO; K];
    for (vi, row) in v.iter().zip(rows.iter()) {
        axpy(*vi, row, &mut s);
    }
    for (vi, row) in v.iter().zip(rows.iter_mut()) {
        axpy(-T::TWO * *vi, &s, row);
    }
}

/// Rotates rows `i` and `i+1`: `(a, b) ← (c·a − s·b, s·a + c·b)`.
#[inline(always)]
pub(super) fn rotate_rows<T: Real, const C: usize>(z: &mut [[T; C]], i: usize, c: T, s: T) {
    let (top, rest) = z.split_at_mut(i + 1);
    let (a, b) = (&mut top[i], &mut rest[0]);
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        let (xv, yv) = (*x, *y);
        *x = c * xv - s * yv;
        *y = s * xv + c * yv;
    }
}

/// Implicit QL on the symmetric tridiagonal matrix `(d, e)` (`e[i] =
/// T[i][i+1]`); `d` ends as the eigenvalues (unsorted). Each plane rotation
/// of rows `(i, i+1)` is reported as `rot(i, c, s)`, in order, so a caller
/// can apply `Wᵀ` (the transposed eigenvector matrix of `T`) to anything.
pub(in crate::linalg) fn tql<T: Real>(
    d: &mut [T],
    e: &mut [T],
    tol: T,
    max_iter: usize,
    mut rot: impl FnMut(usize, T, T),
) -> Result<(), Error> {
    let n = d.len().min(e.len());
    // Scale by a power of two (exactly) so that the entries are O(1): the
    // rotations can then use √(f² + g²) without overflow, one root and one
    // division per rotation on the latency-bound recurrence.
    let big = d[..n]
        .iter()
        .chain(&e[..n])
        .fold(T::ZERO, |m, v| m.max(v.abs()));
    let scale = pow2_scale(big);
    for v in d[..n].iter_mut().chain(e[..n].iter_mut()) {
        *v *= scale;
    }
    for l in 0..n {
        let mut iter = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                // The entries are scaled into [0, 2): an off-diagonal entry
                // below ε² is negligible whatever its neighbours (splitting
                // moves the eigenvalues by less than ε²·‖T‖), also where the
                // relative test cannot pass (neighbours 0 or as tiny).
                if e[m].abs() <= tol * dd || e[m].abs() <= T::EPSILON * T::EPSILON {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            if iter == max_iter {
                return Err(Error::NoConvergence {
                    iterations: max_iter,
                });
            }
            iter += 1;
            let mut g = (d[l + 1] - d[l]) / (T::TWO * e[l]);
            let mut r = hypot(g, T::ONE);
            g = d[m] - d[l] + e[l] / (g + if g >= T::ZERO { r } else { -r });
            let (mut s, mut c, mut p) = (T::ONE, T::ONE, T::ZERO);
            let mut deflated = false;
            let mut i = m;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = (f * f + g * g).sqrt();
                if r < T::MIN_POSITIVE.sqrt() {
                    // f² + g² lost to underflow: the careful root.
                    r = hypot(f, g);
                }
                e[i + 1] = r;
                if r == T::ZERO {
                    d[i + 1] -= p;
                    e[m] = T::ZERO;
                    deflated = true;
                    break;
                }
                let inv = T::ONE / r;
                s = f * inv;
                c = g * inv;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + T::TWO * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                rot(i, c, s);
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = T::ZERO;
        }
    }
    let unscale = T::ONE / scale;
    for v in d[..n].iter_mut() {
        *v *= unscale;
    }
    if crate::simd::all_finite(d) {
        Ok(())
    } else {
        Err(Error::Overflow {
            what: "eigenvalues",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::copy_lower_scaled;
    use super::*;

    #[test]
    fn tridiagonal_reconstructs() {
        const N: usize = 7;
        let mut rng = crate::Rng::new(3);
        let mut a = [[0.0_f64; N]; N];
        for i in 0..N {
            for j in 0..=i {
                let v: f64 = rng.normal();
                a[i][j] = v;
                a[j][i] = v;
            }
        }
        let mut w = [[0.0; N]; N];
        let unscale = copy_lower_scaled(&a, &mut w);
        let (mut d, mut e) = ([0.0; N], [0.0; N]);
        tridiagonalize(&mut w, &mut d, &mut e);
        for v in d.iter_mut().chain(e.iter_mut()) {
            *v *= unscale;
        }
        // Qᵀ·A·Q must be the tridiagonal (d, e).
        form_qt(&mut w);
        for i in 0..N {
            for j in 0..N {
                let mut s = 0.0;
                for p in 0..N {
                    for q in 0..N {
                        s += w[i][p] * a[p][q] * w[j][q];
                    }
                }
                let want = if i == j {
                    d[i]
                } else if j == i + 1 {
                    e[i]
                } else if i == j + 1 {
                    e[j]
                } else {
                    0.0
                };
                assert!((s - want).abs() < 1e-12, "{i} {j} {s} {want}");
            }
        }
    }
}
