//! Householder tridiagonalisation `T = Qᵀ·A·Q` and implicit QL on the
//! tridiagonal matrix, with the plane rotations reported to the caller.

use super::pow2_scale;
use crate::linalg::hypot;
use crate::simd::{axpy, dot, dot4};
use crate::{Error, Real};

/// Householder reduction `T = Qᵀ·A·Q` of the symmetric matrix held in the
/// lower triangle of `a` (`Q = H₀·H₁⋯`, `Hₖ = I − 2·vₖ·vₖᵀ`).
///
/// On return `d` is the diagonal of `T`, `e[i] = T[i][i+1]` (`e[N−1] = 0`),
/// and row `k` of `a`, columns `k+1..`, holds the unit vector `vₖ` (zeros for
/// `Hₖ = I`). 4N³/3 flops in one pass over the trailing lower triangle per
/// step: the rank-2 update `A ← A − v·wᵀ − w·vᵀ` of step `k` is deferred and
/// applied four rows at a time while the same rows, still in L1, give the
/// symmetric matrix–vector product `p = A·v` of step `k + 1` (each row `i`
/// adds `A[i][..i]·v[..i]` to `pᵢ` and `vᵢ·A[i][..i]` to `p[..i]`). Only the
/// column that defines the next reflector is updated ahead of the pass, in a
/// contiguous copy: below the diagonal, column `k` of `a` is left stale.
pub(super) fn tridiagonalize<T: Real, const N: usize>(
    a: &mut [[T; N]; N],
    d: &mut [T; N],
    e: &mut [T; N],
) {
    // The deferred update `(v, w)` of the previous step, by absolute index
    // (zero before the first step), and the product p = A·v.
    let mut vp = [T::ZERO; N];
    let mut wp = [T::ZERO; N];
    let mut p = [T::ZERO; N];
    // Column k of the trailing matrix, contiguous: the pass of step k − 1
    // leaves it with the update of step k − 2 applied.
    let mut col = [T::ZERO; N];
    for (c, row) in col.iter_mut().zip(a.iter()) {
        *c = row[0];
    }
    for k in 0..N {
        let (vk, wk) = (vp[k], wp[k]);
        for (c, (&vi, &wi)) in col[k..].iter_mut().zip(vp[k..].iter().zip(&wp[k..])) {
            *c = (-vi).mul_add(wk, (-wi).mul_add(vk, *c));
        }
        d[k] = col[k];
        e[k] = T::ZERO;
        if k + 1 >= N {
            break;
        }
        let (top, rest) = a.split_at_mut(k + 1);
        let vrow = &mut top[k];
        vrow[k + 1..].copy_from_slice(&col[k + 1..]);
        let x = &mut vrow[k + 1..];
        let x0 = x[0];
        if x[1..].iter().all(|v| *v == T::ZERO) {
            e[k] = x0;
            x.fill(T::ZERO);
        } else {
            // The reflector of x/‖x‖∞ (entries of order 1 even when the
            // column is subnormal, whose reciprocal would overflow and whose
            // squares would underflow), divided rather than multiplied by
            // reciprocals.
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
        }
        let v = &vrow[k + 1..];
        p[k + 1..].fill(T::ZERO);
        // One pass: the deferred update of row i, columns k+1..=i, and its
        // share of p = A₂₂·v; four rows at a time over their common columns.
        let quads = (N - k - 1) / 4;
        let (quad_rows, single_rows) = rest.split_at_mut(4 * quads);
        for (q, quad) in quad_rows.chunks_exact_mut(4).enumerate() {
            let i0 = k + 1 + 4 * q;
            if let [r0, r1, r2, r3] = quad {
                let rows = [
                    &mut r0[k + 1..i0 + 4],
                    &mut r1[k + 1..i0 + 4],
                    &mut r2[k + 1..i0 + 4],
                    &mut r3[k + 1..i0 + 4],
                ];
                let pend = (&vp[k + 1..i0 + 4], &wp[k + 1..i0 + 4]);
                update_and_multiply4(rows, pend, &v[..i0 + 3 - k], &mut p[k + 1..i0 + 4]);
                col[i0..i0 + 4].copy_from_slice(&[r0[k + 1], r1[k + 1], r2[k + 1], r3[k + 1]]);
            }
        }
        for (q, row) in single_rows.iter_mut().enumerate() {
            let ii = 4 * quads + q;
            let i = k + 1 + ii;
            let (off, diag) = row[k + 1..=i].split_at_mut(ii);
            let (p_off, p_i) = p[k + 1..=i].split_at_mut(ii);
            let (vpi, wpi, vi) = (vp[i], wp[i], v[ii]);
            let s = update_and_multiply(
                off,
                (&vp[k + 1..i], &wp[k + 1..i], vpi, wpi),
                (&v[..ii], vi),
                p_off,
            );
            let aii = (-vpi).mul_add(wpi, (-wpi).mul_add(vpi, diag[0]));
            diag[0] = aii;
            p_i[0] += aii.mul_add(vi, s);
            col[i] = row[k + 1];
        }
        // w = 2·(p − (vᵀp)·v), the update deferred to the next step.
        let kc = dot(v, &p[k + 1..]);
        for ((vj, wj), (&pj, &xj)) in vp[k + 1..]
            .iter_mut()
            .zip(&mut wp[k + 1..])
            .zip(p[k + 1..].iter().zip(v))
        {
            *vj = xj;
            *wj = T::TWO * (-kc).mul_add(xj, pj);
        }
    }
}

/// One row of [`tridiagonalize`]'s pass: `a ← a − vᵢ·w − wᵢ·v` (the deferred
/// update, `(v, w, vᵢ, wᵢ)` in `upd`), then `p += xᵢ·a`; returns `a·x` (with
/// `(x, xᵢ)` in `mul`). All slices have the length of `a`.
#[inline(always)]
fn update_and_multiply<T: Real>(
    a: &mut [T],
    upd: (&[T], &[T], T, T),
    mul: (&[T], T),
    p: &mut [T],
) -> T {
    let (v, w, vi, wi) = upd;
    let (x, xi) = mul;
    let (nvi, nwi) = (-vi, -wi);
    // Elementwise (vectorised as it is), then the dot product on the row
    // while it is in L1.
    for ((a, p), (v, w)) in a.iter_mut().zip(p.iter_mut()).zip(v.iter().zip(w)) {
        let y = nvi.mul_add(*w, nwi.mul_add(*v, *a));
        *a = y;
        *p = xi.mul_add(y, *p);
    }
    dot(a, x)
}

/// Four consecutive rows of [`tridiagonalize`]'s pass at once, sharing the
/// loads of the vectors and of `p`: row `r` of `rows` holds the columns
/// `0..=n₀+r` of the trailing matrix (`n₀ = len − 4`; the columns past its
/// diagonal are not touched), `vp`, `wp` the deferred update and `x` the
/// vector of the product, all indexed like the columns.
#[inline(always)]
fn update_and_multiply4<T: Real>(rows: [&mut [T]; 4], pend: (&[T], &[T]), x: &[T], p: &mut [T]) {
    let (vp, wp) = pend;
    let n0 = p.len() - 4;
    let [a0, a1, a2, a3] = rows;
    let (a0, c0) = a0.split_at_mut(n0);
    let (a1, c1) = a1.split_at_mut(n0);
    let (a2, c2) = a2.split_at_mut(n0);
    let (a3, c3) = a3.split_at_mut(n0);
    let nv: [T; 4] = core::array::from_fn(|r| -vp[n0 + r]);
    let nw: [T; 4] = core::array::from_fn(|r| -wp[n0 + r]);
    let xr: [T; 4] = core::array::from_fn(|r| x[n0 + r]);
    let (ph, pc) = p.split_at_mut(n0);
    let (vh, wh) = (&vp[..n0], &wp[..n0]);
    let (a1, a2, a3) = (&mut a1[..n0], &mut a2[..n0], &mut a3[..n0]);
    for (j, (a, pj)) in a0.iter_mut().zip(ph.iter_mut()).enumerate() {
        let (vj, wj) = (vh[j], wh[j]);
        let y0 = nv[0].mul_add(wj, nw[0].mul_add(vj, *a));
        let y1 = nv[1].mul_add(wj, nw[1].mul_add(vj, a1[j]));
        let y2 = nv[2].mul_add(wj, nw[2].mul_add(vj, a2[j]));
        let y3 = nv[3].mul_add(wj, nw[3].mul_add(vj, a3[j]));
        *a = y0;
        a1[j] = y1;
        a2[j] = y2;
        a3[j] = y3;
        *pj = xr[3].mul_add(
            y3,
            xr[2].mul_add(y2, xr[1].mul_add(y1, xr[0].mul_add(y0, *pj))),
        );
    }
    let s = dot4(&x[..n0], [&*a0, &*a1, &*a2, &*a3]);
    // The 4 × 4 corner: row r's columns n₀..n₀+r, then its diagonal.
    for (r, c) in [c0, c1, c2, c3].into_iter().enumerate() {
        let mut sr = s[r];
        for q in 0..r {
            let y = nv[r].mul_add(wp[n0 + q], nw[r].mul_add(vp[n0 + q], c[q]));
            c[q] = y;
            pc[q] = xr[r].mul_add(y, pc[q]);
            sr = y.mul_add(xr[q], sr);
        }
        let y = nv[r].mul_add(wp[n0 + r], nw[r].mul_add(vp[n0 + r], c[r]));
        c[r] = y;
        pc[r] += y.mul_add(xr[r], sr);
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
                // The recurrence is latency-bound: fused operations and two
                // independent divisions keep its chain short.
                r = g.mul_add(g, f * f).sqrt();
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
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g).mul_add(s, c * (b + b));
                p = s * r;
                d[i + 1] = g + p;
                g = c.mul_add(r, -b);
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
