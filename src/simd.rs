//! Lane-chunked primitives that LLVM auto-vectorises: dot products, axpy,
//! the multi-row dot micro-kernel behind every Gram matrix of the crate, and
//! the finiteness pass behind every input and result check.
//!
//! Each loop runs over `chunks_exact(LANES)` with `LANES` independent
//! accumulators, so the compiler can keep them in vector registers without
//! reassociating floating-point sums itself; no `unsafe`, no intrinsics.
//! Results are deterministic for a given slice length (the summation order is
//! fixed), which is what makes Gram matrices bitwise reproducible.

use crate::error::Error;
use crate::real::Real;

/// Number of independent accumulators (lanes) per dot product: 16 where the
/// target has vector registers to hold them, 4 elsewhere (microcontrollers),
/// where wide unrolling only costs flash.
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "powerpc64",
    target_arch = "wasm32",
    target_arch = "riscv64",
    target_arch = "loongarch64"
))]
pub const LANES: usize = 16;
/// Number of independent accumulators (lanes) per dot product: 16 where the
/// target has vector registers to hold them, 4 elsewhere (microcontrollers),
/// where wide unrolling only costs flash.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "powerpc64",
    target_arch = "wasm32",
    target_arch = "riscv64",
    target_arch = "loongarch64"
)))]
pub const LANES: usize = 4;

/// Whether the register tiles pay off: with few registers (microcontrollers)
/// the tiled kernels fall back to row-at-a-time calls that give the same
/// results bitwise in less code.
pub(crate) const WIDE: bool = LANES >= 16;

#[inline(always)]
fn reduce<T: Real>(mut acc: [T; LANES]) -> T {
    // pairwise: lanes l and l + w, halving w
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] += acc[l + w];
        }
    }
    acc[0]
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
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    reduce(acc) + tail_dot(ra, rb)
}

/// The sequential dot product of the elements past the last full chunk,
/// shared by every kernel so that their results agree bitwise.
#[inline(always)]
fn tail_dot<T: Real>(u: &[T], v: &[T]) -> T {
    let mut t = T::ZERO;
    for (x, y) in u.iter().zip(v) {
        t = x.mul_add(*y, t);
    }
    t
}

/// Four dot products of `a` with `b0..b3` sharing the loads of `a`: the Gram
/// micro-kernel. Each result equals [`dot`] of the same pair bitwise (on
/// targets without vector registers it is four calls of [`dot`]).
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
    if !WIDE {
        // Few registers: the shared loads save little, the sixteen
        // accumulators cost flash.
        return b.map(|r| dot(a, r));
    }
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
            s0[l] = x[l].mul_add(y0[l], s0[l]);
            s1[l] = x[l].mul_add(y1[l], s1[l]);
            s2[l] = x[l].mul_add(y2[l], s2[l]);
            s3[l] = x[l].mul_add(y3[l], s3[l]);
        }
    }
    let tail = |r: &[T]| tail_dot(ra, r);
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
    if !WIDE {
        return [dot4(a[0], b), dot4(a[1], b)];
    }
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
            s00[l] = x[l].mul_add(y0[l], s00[l]);
            s01[l] = x[l].mul_add(y1[l], s01[l]);
            s02[l] = x[l].mul_add(y2[l], s02[l]);
            s03[l] = x[l].mul_add(y3[l], s03[l]);
            s10[l] = w[l].mul_add(y0[l], s10[l]);
            s11[l] = w[l].mul_add(y1[l], s11[l]);
            s12[l] = w[l].mul_add(y2[l], s12[l]);
            s13[l] = w[l].mul_add(y3[l], s13[l]);
        }
    }
    let tail = tail_dot::<T>;
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

/// Sixteen dot products: rows `a[0..4]` against `b[0..4]`, the 4×4 register
/// tile of the Gram and matrix–matrix kernels: each row chunk loaded once
/// serves four products. Each result equals [`dot`] of the same pair bitwise.
///
/// # Examples
///
/// ```
/// let x = [1.0_f32; 19];
/// let y = [3.0_f32; 19];
/// let r = ntk::simd::dot4x4([&x, &y, &x, &y], [&x, &x, &y, &y]);
/// assert_eq!(r[1], [57.0, 57.0, 171.0, 171.0]);
/// ```
#[inline]
pub fn dot4x4<T: Real>(a: [&[T]; 4], b: [&[T]; 4]) -> [[T; 4]; 4] {
    if !WIDE {
        return [dot4(a[0], b), dot4(a[1], b), dot4(a[2], b), dot4(a[3], b)];
    }
    let n = b.iter().chain(&a).fold(usize::MAX, |n, r| n.min(r.len()));
    let (p0, t0) = a[0][..n].as_chunks::<LANES>();
    let (p1, t1) = a[1][..n].as_chunks::<LANES>();
    let (p2, t2) = a[2][..n].as_chunks::<LANES>();
    let (p3, t3) = a[3][..n].as_chunks::<LANES>();
    let (c0, r0) = b[0][..n].as_chunks::<LANES>();
    let (c1, r1) = b[1][..n].as_chunks::<LANES>();
    let (c2, r2) = b[2][..n].as_chunks::<LANES>();
    let (c3, r3) = b[3][..n].as_chunks::<LANES>();
    let z = [T::ZERO; LANES];
    let (mut s00, mut s01, mut s02, mut s03) = (z, z, z, z);
    let (mut s10, mut s11, mut s12, mut s13) = (z, z, z, z);
    let (mut s20, mut s21, mut s22, mut s23) = (z, z, z, z);
    let (mut s30, mut s31, mut s32, mut s33) = (z, z, z, z);
    for (((((((x0, x1), x2), x3), y0), y1), y2), y3) in p0
        .iter()
        .zip(p1)
        .zip(p2)
        .zip(p3)
        .zip(c0)
        .zip(c1)
        .zip(c2)
        .zip(c3)
    {
        for l in 0..LANES {
            s00[l] = x0[l].mul_add(y0[l], s00[l]);
            s01[l] = x0[l].mul_add(y1[l], s01[l]);
            s02[l] = x0[l].mul_add(y2[l], s02[l]);
            s03[l] = x0[l].mul_add(y3[l], s03[l]);
            s10[l] = x1[l].mul_add(y0[l], s10[l]);
            s11[l] = x1[l].mul_add(y1[l], s11[l]);
            s12[l] = x1[l].mul_add(y2[l], s12[l]);
            s13[l] = x1[l].mul_add(y3[l], s13[l]);
            s20[l] = x2[l].mul_add(y0[l], s20[l]);
            s21[l] = x2[l].mul_add(y1[l], s21[l]);
            s22[l] = x2[l].mul_add(y2[l], s22[l]);
            s23[l] = x2[l].mul_add(y3[l], s23[l]);
            s30[l] = x3[l].mul_add(y0[l], s30[l]);
            s31[l] = x3[l].mul_add(y1[l], s31[l]);
            s32[l] = x3[l].mul_add(y2[l], s32[l]);
            s33[l] = x3[l].mul_add(y3[l], s33[l]);
        }
    }
    let tail = tail_dot::<T>;
    let (ta, tb) = ([t0, t1, t2, t3], [r0, r1, r2, r3]);
    let s = [
        [s00, s01, s02, s03],
        [s10, s11, s12, s13],
        [s20, s21, s22, s23],
        [s30, s31, s32, s33],
    ];
    core::array::from_fn(|i| core::array::from_fn(|j| reduce(s[i][j]) + tail(ta[i], tb[j])))
}

/// `y[b] ← y[b] + Σᵣ alpha[b][r]·x[r]` for four vectors `y[b]`: the 4×4
/// tile of the transposed matrix–vector kernel. Each `y[b]` gets exactly
/// what [`axpy4`] would give it.
///
/// # Examples
///
/// ```
/// let x = [1.0_f64, 2.0];
/// let mut y = [[0.0_f64; 2]; 4];
/// let [y0, y1, y2, y3] = &mut y;
/// ntk::simd::axpy4x4([[1.0, 0.0, 0.0, 0.0]; 4], [&x, &x, &x, &x], [y0, y1, y2, y3]);
/// assert_eq!(y[3], [1.0, 2.0]);
/// ```
#[inline]
pub fn axpy4x4<T: Real>(alpha: [[T; 4]; 4], x: [&[T]; 4], y: [&mut [T]; 4]) {
    let [y0, y1, y2, y3] = y;
    if !WIDE {
        for (a, yb) in alpha.into_iter().zip([y0, y1, y2, y3]) {
            axpy4(a, x, yb);
        }
        return;
    }
    let n = x
        .iter()
        .map(|r| r.len())
        .chain([y0.len(), y1.len(), y2.len(), y3.len()])
        .fold(usize::MAX, usize::min);
    let (x0, x1, x2, x3) = (&x[0][..n], &x[1][..n], &x[2][..n], &x[3][..n]);
    let (y0, y1, y2, y3) = (&mut y0[..n], &mut y1[..n], &mut y2[..n], &mut y3[..n]);
    for q in 0..n {
        // the four row values are read once and serve all four outputs
        let v = [x0[q], x1[q], x2[q], x3[q]];
        let f = |a: [T; 4], y: T| {
            a[3].mul_add(
                v[3],
                a[2].mul_add(v[2], a[1].mul_add(v[1], a[0].mul_add(v[0], y))),
            )
        };
        y0[q] = f(alpha[0], y0[q]);
        y1[q] = f(alpha[1], y1[q]);
        y2[q] = f(alpha[2], y2[q]);
        y3[q] = f(alpha[3], y3[q]);
    }
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
        *yv = alpha.mul_add(*xv, *yv);
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
        *yv = a3.mul_add(
            x3[q],
            a2.mul_add(x2[q], a1.mul_add(x1[q], a0.mul_add(x0[q], *yv))),
        );
    }
}

/// `true` if no value is NaN or ±∞; a branch-free pass that vectorises.
///
/// # Examples
///
/// ```
/// assert!(ntk::simd::all_finite(&[1.0_f32, -0.0, 3e38]));
/// assert!(!ntk::simd::all_finite(&[1.0_f64, f64::NAN]));
/// ```
#[inline]
pub fn all_finite<T: Real>(values: &[T]) -> bool {
    values.iter().fold(true, |ok, v| ok & v.is_finite())
}

/// Returns `Err(NonFinite { what })` if any value is NaN or ±∞.
///
/// # Errors
///
/// [`Error::NonFinite`] naming `what`.
pub(crate) fn check_finite<T: Real>(values: &[T], what: &'static str) -> Result<(), Error> {
    if all_finite(values) {
        Ok(())
    } else {
        Err(Error::NonFinite { what })
    }
}

/// Returns `Err(Overflow { what })` if any computed value is NaN or ±∞.
///
/// # Errors
///
/// [`Error::Overflow`] naming `what`.
pub(crate) fn check_result<T: Real>(values: &[T], what: &'static str) -> Result<(), Error> {
    if all_finite(values) {
        Ok(())
    } else {
        Err(Error::Overflow { what })
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
