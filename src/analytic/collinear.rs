//! Which pairs of inputs the error bounds follow as collinear: pairs whose
//! correlation snaps to ±1, repeated inputs, and the distance from collinear
//! of two different inputs.

// The comparisons are written to let NaN through as a hit (`!(x < y)`).
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::pair::{cosine, snap, snap_edge, Var};
use crate::Real;

/// Whether some pair of row `vi` against the columns with variances `qc`
/// and reciprocal roots `rc`, covariances `krow`, snaps to ±1 or could be a
/// repeated input (Σ₁₂ = Σ₁₁ = Σ₂₂): the pairs [`Errors::start`] acts on.
pub(crate) fn any_special<T: Real>(vi: Var<T>, krow: &[T], (qc, rc): (&[T], &[T])) -> bool {
    const L: usize = crate::simd::LANES;
    let edge = snap_edge::<T>();
    let n = krow.len().min(qc.len()).min(rc.len());
    let mut hits = [false; L];
    let mut lane = |k: T, q: T, rj: T, l: usize| {
        let c = cosine(k, vi.r, rj).abs();
        let hit = !(c < edge) || (k == vi.q && k == q);
        if let Some(h) = hits.get_mut(l) {
            *h |= hit;
        }
    };
    let (kc, kt) = krow[..n].as_chunks::<L>();
    let (qcc, qct) = qc[..n].as_chunks::<L>();
    let (rcc, rct) = rc[..n].as_chunks::<L>();
    for ((ks, qs), rs) in kc.iter().zip(qcc).zip(rcc) {
        for l in 0..L {
            lane(ks[l], qs[l], rs[l], l);
        }
    }
    for ((&k, &q), &rj) in kt.iter().zip(qct).zip(rct) {
        lane(k, q, rj, 0);
    }
    hits.iter().any(|&h| h)
}

/// `true` if the correlation of the pair (`vi`, `vj`, `k`) snaps to ±1.
#[inline(always)]
pub(crate) fn snapped<T: Real>(vi: Var<T>, vj: Var<T>, k: T) -> bool {
    !(snap(cosine(k, vi.r, vj.r)).abs() < T::ONE)
}

/// 1 − |ρ| of two inputs, computed without cancellation as
/// ‖x̂ ∓ x̂′‖²/2 from the normalised inputs (0 if either is zero).
#[inline(never)]
pub(crate) fn deficit<T: Real>(x1: &[T], x2: &[T]) -> T {
    let (n1, n2) = (
        crate::simd::dot(x1, x1).sqrt(),
        crate::simd::dot(x2, x2).sqrt(),
    );
    if !(n1 > T::ZERO && n2 > T::ZERO) {
        return T::ZERO;
    }
    let sign = if crate::simd::dot(x1, x2) < T::ZERO {
        -T::ONE
    } else {
        T::ONE
    };
    let (r1, r2) = (T::ONE / n1, sign / n2);
    let sum = x1.iter().zip(x2).fold(T::ZERO, |acc, (&a, &b)| {
        let d = a * r1 - b * r2;
        acc + d * d
    });
    // The rounding of the normalised inputs, a few ulp of each component.
    sum * T::HALF + T::from_usize(x1.len()) * T::EPSILON * T::EPSILON
}
