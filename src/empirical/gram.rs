//! The Gram engine shared by the structured and Jacobian methods.
//!
//! Both methods reduce to per-input records holding, for each *segment* `l`,
//! an activation part `A_l(x)` (possibly empty) and, per output `k`, a delta
//! part `Δ_lk(x)`; the kernel is
//!
//! `Θ_kk'(x, x') = Σ_l (Δ_lk(x)·Δ_lk'(x')) · (A_l(x)·A_l(x'))`
//!
//! with an empty activation part standing for the factor 1. The engine runs
//! segment by segment (so one segment of all records stays in cache) and,
//! within a segment, row `i` against four rows `j` at a time with
//! [`simd::dot4`].

use crate::{simd, Real};

/// Where records and segments live in a workspace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// Record length per input.
    pub rec: usize,
    /// Offset of the delta block in a record.
    pub delta_base: usize,
    /// Length of one output's delta block.
    pub delta_stride: usize,
    /// Number of outputs K.
    pub k: usize,
}

/// One segment of a record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub a_off: usize,
    pub a_len: usize,
    pub d_off: usize,
    pub d_len: usize,
}

/// Which output convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Mean over outputs of the diagonal blocks (neural-tangents' `trace_axes=(-1,)`).
    Trace,
    /// Full K×K blocks, `out[((i·n + j)·K + k)·K + k']`.
    Blocks,
}

#[inline(always)]
fn seg_a<'a, T>(recs: &'a [T], lay: &Layout, s: &Segment, i: usize) -> &'a [T] {
    let b = i * lay.rec + s.a_off;
    &recs[b..b + s.a_len]
}

#[inline(always)]
fn seg_d<'a, T>(recs: &'a [T], lay: &Layout, s: &Segment, i: usize, k: usize) -> &'a [T] {
    let b = i * lay.rec + lay.delta_base + k * lay.delta_stride + s.d_off;
    &recs[b..b + s.d_len]
}

/// Adds one segment's contribution for rows `0..m` of `r1` against rows
/// `0..n` of `r2` (only `j ≤ i` when `symmetric`) to the flat output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate<T: Real>(
    r1: &[T],
    m: usize,
    r2: &[T],
    n: usize,
    lay: &Layout,
    s: &Segment,
    symmetric: bool,
    mode: Mode,
    out: &mut [T],
) {
    let kk = lay.k;
    let cell = if mode == Mode::Blocks { kk * kk } else { 1 };
    for i in 0..m {
        let jend = if symmetric { i + 1 } else { n };
        let ai = seg_a(r1, lay, s, i);
        let mut j = 0;
        while j < jend {
            let w = (jend - j).min(4);
            let ga: [T; 4] = if s.a_len == 0 {
                [T::ONE; 4]
            } else if w == 4 {
                simd::dot4(
                    ai,
                    [
                        seg_a(r2, lay, s, j),
                        seg_a(r2, lay, s, j + 1),
                        seg_a(r2, lay, s, j + 2),
                        seg_a(r2, lay, s, j + 3),
                    ],
                )
            } else {
                core::array::from_fn(|q| {
                    if q < w {
                        simd::dot(ai, seg_a(r2, lay, s, j + q))
                    } else {
                        T::ZERO
                    }
                })
            };
            for k in 0..kk {
                let di = seg_d(r1, lay, s, i, k);
                let (k2_lo, k2_hi) = if mode == Mode::Blocks {
                    (0, kk)
                } else {
                    (k, k + 1)
                };
                for k2 in k2_lo..k2_hi {
                    let gd: [T; 4] = if w == 4 {
                        simd::dot4(
                            di,
                            [
                                seg_d(r2, lay, s, j, k2),
                                seg_d(r2, lay, s, j + 1, k2),
                                seg_d(r2, lay, s, j + 2, k2),
                                seg_d(r2, lay, s, j + 3, k2),
                            ],
                        )
                    } else {
                        core::array::from_fn(|q| {
                            if q < w {
                                simd::dot(di, seg_d(r2, lay, s, j + q, k2))
                            } else {
                                T::ZERO
                            }
                        })
                    };
                    for q in 0..w {
                        let at = (i * n + j + q) * cell
                            + if mode == Mode::Blocks { k * kk + k2 } else { 0 };
                        out[at] += gd[q] * ga[q];
                    }
                }
            }
            j += w;
        }
    }
}

/// Finishes an accumulated output: averages the trace over outputs and, for
/// a symmetric (train × train) matrix, mirrors the lower triangle so the
/// result is bitwise symmetric.
pub(crate) fn finish<T: Real>(
    out: &mut [T],
    m: usize,
    n: usize,
    k: usize,
    symmetric: bool,
    mode: Mode,
) {
    let cell = if mode == Mode::Blocks { k * k } else { 1 };
    if mode == Mode::Trace && k > 1 {
        let inv = T::ONE / T::from_usize(k);
        for i in 0..m {
            let jend = if symmetric { i + 1 } else { n };
            for v in &mut out[i * n..i * n + jend] {
                *v *= inv;
            }
        }
    }
    let kb = if mode == Mode::Blocks { k } else { 1 };
    if symmetric {
        for i in 0..m {
            for j in 0..i {
                for a in 0..kb {
                    for b in 0..kb {
                        let (src, dst) = if mode == Mode::Blocks {
                            (
                                (i * n + j) * cell + a * k + b,
                                (j * n + i) * cell + b * k + a,
                            )
                        } else {
                            (i * n + j, j * n + i)
                        };
                        out[dst] = out[src];
                    }
                }
            }
        }
    }
}
