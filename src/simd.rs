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
pub const LANES: usize = 16;

#[inline(always)]
fn reduce<T: Real>(acc: [T; LANES]) -> T {
    let mut h = [T::ZERO; 8];
    for l in 0..8 {
        h[l] = acc[l] + acc[l + 8];
    }
    let q = [h[0] + h[4], h[1] + h[5], h[2] + h[6], h[3] + h[7]];
    (q[0] + q[2]) + (q[1] + q[3])
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
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (cb, rb) = b[..n].as_chunks::<LANES>();
    let mut acc = [T::ZERO; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = T::ZERO;
    for (x, y) in ra.iter().zip(rb) {
        tail += *x * *y;
    }
    reduce(acc) + tail
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
    let (ca, ra) = a[..n].as_chunks::<LANES>();
    let (c0, r0) = b[0][..n].as_chunks::<LANES>();
    let (c1, r1) = b[1][..n].as_chunks::<LANES>();
    let (c2, r2) = b[2][..n].as_chunks::<LANES>();
    let (c3, r3) = b[3][..n].as_chunks::<LANES>();
    let mut s0 = [T::ZERO; LANES];
    let mut s1 = [T::ZERO; LANES];
    let mut s2 = [T::ZERO; LANES];
    let mut s3 = [T::ZERO; LANES];
    for ((((x, y0), y1), y2), y3) in ca.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
        for l in 0..LANES {
            s0[l] += x[l] * y0[l];
            s1[l] += x[l] * y1[l];
            s2[l] += x[l] * y2[l];
            s3[l] += x[l] * y3[l];
        }
    }
    let tail = |r: &[T]| {
        let mut t = T::ZERO;
        for (x, y) in ra.iter().zip(r) {
            t += *x * *y;
        }
        t
    };
    [
        reduce(s0) + tail(r0),
        reduce(s1) + tail(r1),
        reduce(s2) + tail(r2),
        reduce(s3) + tail(r3),
    ]
}

/// Eight dot products: rows `a[0], a[1]` against `b[0..4]`, the 2×4 Gram
/// register tile. Each result equals [`dot`] of the same pair bitwise.
///
/// # Examples
///
/// ```
/// let x = [1.0_f64; 21];
/// let y = [2.0_f64; 21];
/// let r = ntk::simd::dot2x4([&x, &y], [&x, &y, &x, &y]);
/// assert_eq!(r, [[21.0, 42.0, 21.0, 42.0], [42.0, 84.0, 42.0, 84.0]]);
/// ```
#[inline]
pub fn dot2x4<T: Real>(a: [&[T]; 2], b: [&[T]; 4]) -> [[T; 4]; 2] {
    let n = b.iter().chain(&a).fold(usize::MAX, |n, r| n.min(r.len()));
    let (p, rp) = a[0][..n].as_chunks::<LANES>();
    let (q, rq) = a[1][..n].as_chunks::<LANES>();
    let (c0, r0) = b[0][..n].as_chunks::<LANES>();
    let (c1, r1) = b[1][..n].as_chunks::<LANES>();
    let (c2, r2) = b[2][..n].as_chunks::<LANES>();
    let (c3, r3) = b[3][..n].as_chunks::<LANES>();
    let z = [T::ZERO; LANES];
    let (mut s00, mut s01, mut s02, mut s03) = (z, z, z, z);
    let (mut s10, mut s11, mut s12, mut s13) = (z, z, z, z);
    for (((((x, w), y0), y1), y2), y3) in p.iter().zip(q).zip(c0).zip(c1).zip(c2).zip(c3) {
        for l in 0..LANES {
            s00[l] += x[l] * y0[l];
            s01[l] += x[l] * y1[l];
            s02[l] += x[l] * y2[l];
            s03[l] += x[l] * y3[l];
            s10[l] += w[l] * y0[l];
            s11[l] += w[l] * y1[l];
            s12[l] += w[l] * y2[l];
            s13[l] += w[l] * y3[l];
        }
    }
    let tail = |u: &[T], v: &[T]| {
        let mut t = T::ZERO;
        for (x, y) in u.iter().zip(v) {
            t += *x * *y;
        }
        t
    };
    [
        [
            reduce(s00) + tail(rp, r0),
            reduce(s01) + tail(rp, r1),
            reduce(s02) + tail(rp, r2),
            reduce(s03) + tail(rp, r3),
        ],
        [
            reduce(s10) + tail(rq, r0),
            reduce(s11) + tail(rq, r1),
            reduce(s12) + tail(rq, r2),
            reduce(s13) + tail(rq, r3),
        ],
    ]
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
    // Elementwise, no reduction: the plain loop vectorises as it is.
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += alpha * *xv;
    }
}

/// `y ← y + Σᵣ alpha[r]·x[r]` over the common length: four axpys sharing
/// the loads and stores of `y` (the transposed matrix–vector kernel).
///
/// # Examples
///
/// ```
/// let mut y = [0.0_f64; 3];
/// let x = [1.0, 2.0, 3.0];
/// ntk::simd::axpy4([1.0, 2.0, 0.0, -1.0], [&x, &x, &x, &x], &mut y);
/// assert_eq!(y, [2.0, 4.0, 6.0]);
/// ```
#[inline]
pub fn axpy4<T: Real>(alpha: [T; 4], x: [&[T]; 4], y: &mut [T]) {
    let n = x.iter().fold(y.len(), |n, r| n.min(r.len()));
    let (x0, x1, x2, x3) = (&x[0][..n], &x[1][..n], &x[2][..n], &x[3][..n]);
    let [a0, a1, a2, a3] = alpha;
    for (q, yv) in y[..n].iter_mut().enumerate() {
        *yv += (a0 * x0[q] + a1 * x1[q]) + (a2 * x2[q] + a3 * x3[q]);
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
            let t = dot2x4([&a[..n], &b[..n]], [&b[..n], &a[..n], &b[..n], &a[..n]]);
            assert_eq!(t[0][0].to_bits(), d.to_bits());
            assert_eq!(t[1][1].to_bits(), dot(&b[..n], &a[..n]).to_bits());
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
