//! The Gram engine on a band of rows (feature `rayon`): the output rows
//! `i0..i1` of [`accumulate`](super::accumulate) and
//! [`accumulate_positions`](super::accumulate_positions), so that bands can
//! go to different threads.
//!
//! A band starts at a multiple of [`BAND`] rows (the panel height of the
//! single-thread engine, a multiple of its 4-row register tiles), so every
//! entry is computed by the same micro-kernel with the same arithmetic in
//! the same order as in the whole-matrix pass: the results are the same bit
//! for bit.

use super::{seg_a, seg_d, Layout, Mode, Pass, Segment, CHUNK};
use crate::{simd, Real};

/// Row bands start at multiples of this: the single-thread engine's panel
/// of 16 rows.
pub(crate) const BAND: usize = 16;

/// [`accumulate`](super::accumulate) for rows `i0..i1` of the `m` rows of
/// `r1` only, into `out`, the band's own rows of the output (row `i0`
/// first). `i0` is a multiple of [`BAND`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate_rows<T: Real>(
    r1: &[T],
    m: usize,
    r2: &[T],
    n: usize,
    lay: &Layout,
    s: &Segment,
    symmetric: bool,
    mode: Mode,
    (i0, i1): (usize, usize),
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
        chunk_rows(r1, m, r2, n, lay, &chunk, symmetric, mode, (i0, i1), out);
        at += len;
    }
}

/// [`accumulate_chunk`](super::accumulate_chunk) for rows `i0..i1`: the
/// same loops over global row indices, each tile written at its row less
/// `i0`.
#[allow(clippy::too_many_arguments)]
fn chunk_rows<T: Real>(
    r1: &[T],
    m: usize,
    r2: &[T],
    n: usize,
    lay: &Layout,
    s: &Segment,
    symmetric: bool,
    mode: Mode,
    (i0, i1): (usize, usize),
    out: &mut [T],
) {
    // The band's records first: a tile at local row i − i0 reads record i
    // and writes output row i − i0 of the band.
    let pass = Pass {
        r1: r1.get(i0 * lay.rec..).unwrap_or(&[]),
        r2,
        n,
        lay,
        s,
        mode,
    };
    let jend = |i: usize| if symmetric { i + 1 } else { n };
    let rest = |i: usize, from: usize, out: &mut [T]| {
        let mut jr = from;
        while jr < jend(i) {
            let w = (jend(i) - jr).min(4);
            pass.row(i - i0, jr, w, out);
            jr += w;
        }
    };
    let full = if simd::WIDE { m / 4 * 4 } else { 0 };
    let qend = |i: usize| if symmetric { i + 4 } else { n };
    let mut p0 = i0;
    while p0 < full.min(i1) {
        let p1 = (p0 + BAND).min(full);
        let mut j = 0;
        while j + 4 <= qend(p1 - 4) {
            let mut i = p0;
            while i < p1 {
                if j + 4 <= qend(i) {
                    pass.quad(i - i0, j, out);
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
    // The rows past the last whole tile lie in the last band.
    let mut i = full.max(i0);
    while i < i1 {
        let h = if simd::WIDE && i + 2 <= m { 2 } else { 1 };
        let mut j = 0;
        while j + 4 <= jend(i) {
            if h == 2 {
                pass.pair(i - i0, j, out);
            } else {
                pass.row(i - i0, j, 4, out);
            }
            j += 4;
        }
        for r in 0..h {
            rest(i + r, j, out);
        }
        i += h;
    }
}

/// [`accumulate_positions`](super::accumulate_positions) for rows `i0..i1`
/// into the band's own rows `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate_positions_rows<T: Real>(
    r1: &[T],
    r2: &[T],
    n: usize,
    lay: &Layout,
    s: &Segment,
    positions: usize,
    symmetric: bool,
    mode: Mode,
    (i0, i1): (usize, usize),
    out: &mut [T],
) {
    let r1 = r1.get(i0 * lay.rec..).unwrap_or(&[]);
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
    let ga = |i: usize, j: usize, p: usize, p2: usize| {
        simd::dot(seg_a(r1, lay, &at(p), i), seg_a(r2, lay, &at(p2), j))
    };
    let gd = |i: usize, j: usize, p: usize, p2: usize, k: usize, k2: usize| {
        simd::dot(seg_d(r1, lay, &at(p), i, k), seg_d(r2, lay, &at(p2), j, k2))
    };
    for i in i0..i1 {
        let li = i - i0;
        let jend = if symmetric { i + 1 } else { n };
        for j in 0..jend {
            for p in 0..positions {
                for p2 in 0..=p {
                    let (g1, g2) = (ga(li, j, p, p2), ga(li, j, p2, p));
                    for k in 0..lay.k {
                        let (lo, hi) = pass.k2_range(k);
                        for k2 in lo..hi {
                            let mut t = gd(li, j, p, p2, k, k2) * g1;
                            if p2 != p {
                                t += gd(li, j, p2, p, k, k2) * g2;
                            }
                            out[pass.at(li, j, k, k2)] += t;
                        }
                    }
                }
            }
        }
    }
}
