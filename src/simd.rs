//! Lane-chunked primitives that LLVM auto-vectorises: dot products, axpy and
//! the multi-row dot micro-kernel behind every Gram matrix of the crate.
//!
//! Each loop runs over `chunks_exact(LANES)` with `LANES` independent
//! accumulators, so the compiler can keep them in vector registers without
//! reassociating floating-point sums itself; no `unsafe`, no intrinsics.
//! Results are deterministic for a given slice length (the summation order is
//! fixed), which is what makes Gram matrices bitwise reproducible.

use crate::Real;

/// Number of independent accumulators (lanes) per dot product.
pub const LANES: usize = 8;

#[inline(always)]
fn reduce<T: Real>(acc: [T; LANES]) -> T {
    let a = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (a[0] + a[2]) + (a[1] + a[3])
}

/// Dot product Σ aᵢ·bᵢ over the common length of `a` and `b`.
///
/// # Examples
///
/// ```
/// let a = [1.0_f64, 2.0, 3.0];
/// assert_eq!(ntk::simd::dot(&a, &a), 14.0);
/// ```
#[inline]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ca = a.chunks_exact(2 * LANES);
    let cb = b.chunks_exact(2 * LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc0 = [T::ZERO; LANES];
    let mut acc1 = [T::ZERO; LANES];
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc0[l] += x[l] * y[l];
            acc1[l] += x[LANES + l] * y[LANES + l];
        }
    }
    for l in 0..LANES {
        acc0[l] += acc1[l];
    }
    let mut tail = T::ZERO;
    for (x, y) in ra.iter().zip(rb) {
        tail += *x * *y;
    }
    reduce(acc0) + tail
}

/// Four dot products of `a` with `b0..b3` sharing the loads of `a`: the Gram
/// micro-kernel. Each result equals [`dot`] of the same pair bitwise.
///
/// # Examples
///
/// ```
/// let a = [1.0_f32; 20];
/// let r = ntk::simd::dot4(&a, [&a, &a, &a, &a]);
/// assert_eq!(r, [20.0; 4]);
/// ```
#[inline]
pub fn dot4<T: Real>(a: &[T], b: [&[T]; 4]) -> [T; 4] {
    let n = b.iter().fold(a.len(), |n, r| n.min(r.len()));
    let a = &a[..n];
    let (b0, b1, b2, b3) = (&b[0][..n], &b[1][..n], &b[2][..n], &b[3][..n]);
    let mut acc = [[T::ZERO; LANES]; 4];
    let mut acc1 = [[T::ZERO; LANES]; 4];
    let step = 2 * LANES;
    let full = n - n % step;
    let mut s = 0;
    while s < full {
        let x = &a[s..s + step];
        let y = [
            &b0[s..s + step],
            &b1[s..s + step],
            &b2[s..s + step],
            &b3[s..s + step],
        ];
        for r in 0..4 {
            for l in 0..LANES {
                acc[r][l] += x[l] * y[r][l];
                acc1[r][l] += x[LANES + l] * y[r][LANES + l];
            }
        }
        s += step;
    }
    let mut out = [T::ZERO; 4];
    let ys = [b0, b1, b2, b3];
    for r in 0..4 {
        for l in 0..LANES {
            acc[r][l] += acc1[r][l];
        }
        let mut tail = T::ZERO;
        for (x, y) in a[full..].iter().zip(&ys[r][full..]) {
            tail += *x * *y;
        }
        out[r] = reduce(acc[r]) + tail;
    }
    out
}

/// `y ← y + alpha·x` over the common length.
///
/// # Examples
///
/// ```
/// let mut y = [1.0_f64, 1.0];
/// ntk::simd::axpy(2.0, &[1.0, 2.0], &mut y);
/// assert_eq!(y, [3.0, 5.0]);
/// ```
#[inline]
pub fn axpy<T: Real>(alpha: T, x: &[T], y: &mut [T]) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    let mut cy = y.chunks_exact_mut(LANES);
    let mut cx = x.chunks_exact(LANES);
    for (yc, xc) in (&mut cy).zip(&mut cx) {
        for l in 0..LANES {
            yc[l] += alpha * xc[l];
        }
    }
    for (yv, xv) in cy.into_remainder().iter_mut().zip(cx.remainder()) {
        *yv += alpha * *xv;
    }
}

/// `x ← alpha·x`.
///
/// # Examples
///
/// ```
/// let mut x = [1.0_f32, -2.0];
/// ntk::simd::scale(3.0, &mut x);
/// assert_eq!(x, [3.0, -6.0]);
/// ```
#[inline]
pub fn scale<T: Real>(alpha: T, x: &mut [T]) {
    for v in x.iter_mut() {
        *v *= alpha;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn dot_matches_naive_on_all_lengths() {
        for n in 0..70 {
            let a: [f64; 70] = core::array::from_fn(|i| (i as f64 * 0.37).sin());
            let b: [f64; 70] = core::array::from_fn(|i| (i as f64 * 1.3).cos());
            let d = dot(&a[..n], &b[..n]);
            assert!((d - naive(&a[..n], &b[..n])).abs() < 1e-12);
            let r = dot4(&a[..n], [&b[..n], &a[..n], &b[..n], &b[..n]]);
            assert_eq!(r[0].to_bits(), d.to_bits());
            assert_eq!(r[1].to_bits(), dot(&a[..n], &a[..n]).to_bits());
        }
    }

    #[test]
    fn axpy_tail() {
        let x = [1.0_f64; 11];
        let mut y = [0.5_f64; 11];
        axpy(2.0, &x, &mut y);
        assert!(y.iter().all(|&v| v == 2.5));
    }
}
