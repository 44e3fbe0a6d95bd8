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

use crate::{simd, Error, Real};

#[cfg(feature = "rayon")]
pub(super) mod parallel;

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

/// `x` against columns `j..j + w` (`w ≤ 4`) given by `col`; unused lanes are 0.
#[inline(always)]
fn four<'s, T: Real, F: Fn(usize) -> &'s [T]>(x: &[T], j: usize, w: usize, col: F) -> [T; 4] {
    // (without vector registers `dot4` is four `dot`s: one loop here)
    if simd::WIDE && w == 4 {
        simd::dot4(x, [col(j), col(j + 1), col(j + 2), col(j + 3)])
    } else {
        core::array::from_fn(|q| {
            if q < w {
                simd::dot(x, col(j + q))
            } else {
                T::ZERO
            }
        })
    }
}

/// One segment of two record sets, and where its products go.
struct Pass<'a, T> {
    r1: &'a [T],
    r2: &'a [T],
    n: usize,
    lay: &'a Layout,
    s: &'a Segment,
    mode: Mode,
}

impl<T: Real> Pass<'_, T> {
    #[inline(always)]
    fn k2_range(&self, k: usize) -> (usize, usize) {
        if self.mode == Mode::Blocks {
            (0, self.lay.k)
        } else {
            (k, k + 1)
        }
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize, k: usize, k2: usize) -> usize {
        let kk = self.lay.k;
        if self.mode == Mode::Blocks {
            (i * self.n + j) * kk * kk + k * kk + k2
        } else {
            i * self.n + j
        }
    }

    /// Row `i` against columns `j..j + w`, `w ≤ 4`.
    fn row(&self, i: usize, j: usize, w: usize, out: &mut [T]) {
        let (lay, s, r1, r2) = (self.lay, self.s, self.r1, self.r2);
        let ga = if s.a_len == 0 {
            [T::ONE; 4]
        } else {
            four(seg_a(r1, lay, s, i), j, w, |c| seg_a(r2, lay, s, c))
        };
        for k in 0..lay.k {
            let di = seg_d(r1, lay, s, i, k);
            let (lo, hi) = self.k2_range(k);
            for k2 in lo..hi {
                let gd = four(di, j, w, |c| seg_d(r2, lay, s, c, k2));
                for q in 0..w {
                    out[self.at(i, j + q, k, k2)] += gd[q] * ga[q];
                }
            }
        }
    }

    /// Rows `i, i + 1` against columns `j..j + 4`: the 2×4 register tile.
    fn pair(&self, i: usize, j: usize, out: &mut [T]) {
        let (lay, s, r1, r2) = (self.lay, self.s, self.r1, self.r2);
        let ga = if s.a_len == 0 {
            [[T::ONE; 4]; 2]
        } else {
            let c = |q| seg_a(r2, lay, s, j + q);
            simd::dot2x4(
                [seg_a(r1, lay, s, i), seg_a(r1, lay, s, i + 1)],
                [c(0), c(1), c(2), c(3)],
            )
        };
        for k in 0..lay.k {
            let rows = [seg_d(r1, lay, s, i, k), seg_d(r1, lay, s, i + 1, k)];
            let (lo, hi) = self.k2_range(k);
            for k2 in lo..hi {
                let c = |q| seg_d(r2, lay, s, j + q, k2);
                let gd = simd::dot2x4(rows, [c(0), c(1), c(2), c(3)]);
                for (p, (gdp, gap)) in gd.iter().zip(&ga).enumerate() {
                    for q in 0..4 {
                        out[self.at(i + p, j + q, k, k2)] += gdp[q] * gap[q];
                    }
                }
            }
        }
    }
}

impl<T: Real> Pass<'_, T> {
    /// Rows `i..i + 4` against columns `j..j + 4`: the 4×4 register tile.
    fn quad(&self, i: usize, j: usize, out: &mut [T]) {
        let (lay, s, r1, r2) = (self.lay, self.s, self.r1, self.r2);
        let ga = if s.a_len == 0 {
            [[T::ONE; 4]; 4]
        } else {
            let r = |p| seg_a(r1, lay, s, i + p);
            let c = |q| seg_a(r2, lay, s, j + q);
            simd::dot4x4([r(0), r(1), r(2), r(3)], [c(0), c(1), c(2), c(3)])
        };
        for k in 0..lay.k {
            let r = |p| seg_d(r1, lay, s, i + p, k);
            let rows = [r(0), r(1), r(2), r(3)];
            let (lo, hi) = self.k2_range(k);
            for k2 in lo..hi {
                let c = |q| seg_d(r2, lay, s, j + q, k2);
                let gd = simd::dot4x4(rows, [c(0), c(1), c(2), c(3)]);
                for (p, (gdp, gap)) in gd.iter().zip(&ga).enumerate() {
                    for q in 0..4 {
                        out[self.at(i + p, j + q, k, k2)] += gdp[q] * gap[q];
                    }
                }
            }
        }
    }
}

/// Adds one segment's contribution for rows `0..m` of `r1` against rows
/// `0..n` of `r2` (only `j ≤ i` when `symmetric`) to the flat output.
///
/// A long segment goes in chunks of [`CHUNK`] cotangents (the sum of their
/// products times the activations' product), so that one chunk of all
/// records stays in cache while every pair of rows reads it.
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
    let mut at = 0;
    while at < s.d_len {
        let len = (s.d_len - at).min(CHUNK);
        let chunk = Segment {
            d_off: s.d_off + at,
            d_len: len,
            ..*s
        };
        accumulate_chunk(r1, m, r2, n, lay, &chunk, symmetric, mode, out);
        at += len;
    }
}

/// Cotangents per chunk of a segment: 64 records of this many `f32` fill
/// 1 MiB. Long chunks pay off: a 4×4 tile reduces its sixteen vector sums
/// once per chunk.
const CHUNK: usize = 4096;

#[allow(clippy::too_many_arguments)]
fn accumulate_chunk<T: Real>(
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
    let pass = Pass {
        r1,
        r2,
        n,
        lay,
        s,
        mode,
    };
    let jend = |i: usize| if symmetric { i + 1 } else { n };
    // What is left of row i from column `from`: fewer than 4 shared columns,
    // and in a symmetric matrix the extra ones up to its diagonal.
    let rest = |i: usize, from: usize, out: &mut [T]| {
        let mut jr = from;
        while jr < jend(i) {
            let w = (jend(i) - jr).min(4);
            pass.row(i, jr, w, out);
            jr += w;
        }
    };
    // Where the register tiles pay off, the rows that fill whole 4×4 tiles
    // go in panels of PANEL rows: each column quad is then read once per
    // panel (from cache) rather than once per row quad. Every output entry
    // gets the same arithmetic in the same order as row quad by row quad.
    // In a symmetric matrix the 4×4 tiles on the diagonal are whole tiles
    // too: their entries above the diagonal are overwritten by `finish`.
    const PANEL: usize = 16;
    let full = if simd::WIDE { m / 4 * 4 } else { 0 };
    let qend = |i: usize| if symmetric { i + 4 } else { n };
    let mut p0 = 0;
    while p0 < full {
        let p1 = (p0 + PANEL).min(full);
        let mut j = 0;
        while j + 4 <= qend(p1 - 4) {
            let mut i = p0;
            while i < p1 {
                if j + 4 <= qend(i) {
                    pass.quad(i, j, out);
                }
                i += 4;
            }
            j += 4;
        }
        let mut i = p0;
        while i < p1 {
            for r in 0..4 {
                rest(i + r, qend(i) / 4 * 4, out);
            }
            i += 4;
        }
        p0 = p1;
    }
    // The rows left: pairs where the tiles pay off, single rows otherwise.
    let mut i = full;
    while i < m {
        let h = if simd::WIDE && i + 2 <= m { 2 } else { 1 };
        let mut j = 0;
        while j + 4 <= jend(i) {
            if h == 2 {
                pass.pair(i, j, out);
            } else {
                pass.row(i, j, 4, out);
            }
            j += 4;
        }
        for r in 0..h {
            rest(i + r, j, out);
        }
        i += h;
    }
}

/// Adds one factored segment of `positions` positions: per pair of inputs
/// and outputs `Σ_{p,p'} (Δ_pk(x)·Δ_p'k'(x'))·(A_p(x)·A_p'(x'))`, where
/// position `p` holds `s.a_len` activations at `s.a_off + p·s.a_len` and
/// `s.d_len` cotangents at `s.d_off + p·s.d_len` (only `j ≤ i` when
/// `symmetric`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate_positions<T: Real>(
    r1: &[T],
    m: usize,
    r2: &[T],
    n: usize,
    lay: &Layout,
    s: &Segment,
    positions: usize,
    symmetric: bool,
    mode: Mode,
    out: &mut [T],
) {
    let pass = Pass {
        r1,
        r2,
        n,
        lay,
        s,
        mode,
    };
    let at = |p: usize| Segment {
        a_off: s.a_off + p * s.a_len,
        a_len: s.a_len,
        d_off: s.d_off + p * s.d_len,
        d_len: s.d_len,
    };
    // Position pairs (p, p2) and (p2, p) are added together, so that the
    // diagonal blocks of a symmetric matrix come out bitwise symmetric.
    let ga = |i: usize, j: usize, p: usize, p2: usize| {
        simd::dot(seg_a(r1, lay, &at(p), i), seg_a(r2, lay, &at(p2), j))
    };
    let gd = |i: usize, j: usize, p: usize, p2: usize, k: usize, k2: usize| {
        simd::dot(seg_d(r1, lay, &at(p), i, k), seg_d(r2, lay, &at(p2), j, k2))
    };
    for i in 0..m {
        let jend = if symmetric { i + 1 } else { n };
        for j in 0..jend {
            for p in 0..positions {
                for p2 in 0..=p {
                    let (g1, g2) = (ga(i, j, p, p2), ga(i, j, p2, p));
                    for k in 0..lay.k {
                        let (lo, hi) = pass.k2_range(k);
                        for k2 in lo..hi {
                            let mut t = gd(i, j, p, p2, k, k2) * g1;
                            if p2 != p {
                                t += gd(i, j, p2, p, k, k2) * g2;
                            }
                            out[pass.at(i, j, k, k2)] += t;
                        }
                    }
                }
            }
        }
    }
}

/// Finishes an accumulated output: averages the trace over outputs and, for
/// a symmetric (train × train) matrix, mirrors the lower triangle so the
/// result is bitwise symmetric.
///
/// # Errors
///
/// [`Error::Overflow`] if any entry is not finite; `out` is zeroed then, so
/// that no partial kernel is left behind.
pub(crate) fn finish<T: Real>(
    out: &mut [T],
    m: usize,
    n: usize,
    k: usize,
    symmetric: bool,
    mode: Mode,
) -> Result<(), Error> {
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
    if simd::all_finite(out) {
        Ok(())
    } else {
        out.fill(T::ZERO);
        Err(Error::Overflow {
            what: "empirical NTK",
        })
    }
}
