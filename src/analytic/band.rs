//! Banded position-pair tables: which offsets t − s of a pair of positions
//! (s, t) the recursion needs, and the maps of such a table through
//! convolutions, pooling and the readouts.
//!
//! A convolution and a per-position layer keep the offset of an entry; an
//! `avg_pool(p)` output at offset B reads the offsets up to p·B + p − 1; a
//! `flatten` readout reads offset 0 only and `gap` every offset. So a table
//! needs the band of offsets that its readout asks for, widened by every
//! pooling layer before it: a flatten readout after plain convolutions keeps
//! O(|S|) entries per table instead of |S|².
//!
//! Layout: per axis of the grid (rows, columns; a sequence has one row) a
//! set of offsets d = (lo + k) mod n, k < count: all n offsets when
//! 2B + 1 ≥ n, else −B ..= B. The entry (s, k) holds the pair of positions
//! s and t = s + d (mod n on each axis), at index s·width + k, with k the
//! row-major index of (k_row, k_column). Each entry is a true pair of
//! positions, whatever the padding: an offset taken mod n names the same
//! pairs as the plain one, and the maps below only ever combine entries of
//! the same offset (convolutions) or read the offsets of a window pair
//! (pooling), which the band holds by construction.

use super::grid::Grid;
use super::layer::Layer;
use crate::Real;

/// A band of offsets: `Full` or up to ±`n` (a saturating count).
pub(super) const FULL: usize = usize::MAX;

/// The offsets held on one axis of `n` positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Axis {
    pub n: usize,
    pub lo: usize,
    pub count: usize,
}

impl Axis {
    /// The offsets −`b` ..= `b` (all of them when that covers the axis).
    pub fn new(n: usize, b: usize) -> Self {
        if b >= n / 2 {
            Self { n, lo: 0, count: n }
        } else {
            Self {
                n,
                lo: n - b,
                count: 2 * b + 1,
            }
        }
    }

    /// Position t of offset index `k` from position `s`.
    #[inline(always)]
    pub fn partner(&self, s: usize, k: usize) -> usize {
        // s + lo + k < 3n: no division.
        let mut t = s + self.lo + k;
        if t >= self.n {
            t -= self.n;
        }
        if t >= self.n {
            t -= self.n;
        }
        t
    }

    /// Offset index of the pair (s, t) (`count` or more when the band does
    /// not hold it).
    #[inline(always)]
    pub fn index(&self, s: usize, t: usize) -> usize {
        (t + 2 * self.n - s - self.lo) % self.n
    }

    /// The runs of offset indices k (at most two, as `(start, end)`) of row
    /// `s` whose partners t stay in the grid after the shift `delta`
    /// (always all of them when `circular`).
    #[inline]
    pub fn runs(&self, s: usize, delta: isize, circular: bool) -> [(usize, usize); 2] {
        if circular || delta == 0 {
            return [(0, self.count), (0, 0)];
        }
        let n = self.n as isize;
        // Valid partners: t + delta in [0, n).
        let (tlo, thi) = (0.max(-delta), n.min(n - delta));
        let t0 = self.partner(s, 0) as isize;
        let count = self.count as isize;
        // Segment A: k in [0, n − t0) with t = t0 + k; segment B: t = t0 + k − n.
        let clip = |k0: isize, k1: isize, shift: isize| -> (usize, usize) {
            let a = (tlo - shift).max(k0);
            let b = (thi - shift).min(k1);
            if a < b {
                (a as usize, b as usize)
            } else {
                (0, 0)
            }
        };
        [
            clip(0, (n - t0).min(count), t0),
            clip(n - t0, count, t0 - n),
        ]
    }
}

/// The band layout of a table on a grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Band {
    pub rows: Axis,
    pub cols: Axis,
}

impl Band {
    /// The band ±`b` on grid `g` (sequences have one row).
    pub fn new(g: Grid, b: usize) -> Self {
        Self {
            rows: Axis::new(g.h, if g.planar { b } else { 0 }),
            cols: Axis::new(g.w, b),
        }
    }

    /// Entries per position.
    pub fn width(&self) -> usize {
        self.rows.count * self.cols.count
    }

    /// Entries in all.
    pub fn len(&self) -> usize {
        self.rows.n * self.cols.n * self.width()
    }

    /// The offset index of offset 0 (the pairs (s, s)).
    pub fn zero(&self) -> usize {
        self.rows.index(0, 0) * self.cols.count + self.cols.index(0, 0)
    }

    /// Calls `f(k, t)` for every entry (`s`, `k`) of row `s` in order, with
    /// its partner position t (no division per entry).
    #[inline(always)]
    pub fn for_partners(&self, s: usize, mut f: impl FnMut(usize, usize)) {
        let w = self.cols.n;
        let (sh, sw) = (s / w, s % w);
        let t0 = self.cols.partner(sw, 0);
        let mut k = 0;
        for kh in 0..self.rows.count {
            let base = self.rows.partner(sh, kh) * w;
            let mut tw = t0;
            for _ in 0..self.cols.count {
                f(k, base + tw);
                k += 1;
                tw += 1;
                if tw == w {
                    tw = 0;
                }
            }
        }
    }

    /// `dst[k] = src[t]` for the partners t of row `s` (copies of runs).
    #[inline]
    pub fn gather<T: Copy>(&self, s: usize, src: &[T], dst: &mut [T]) {
        let w = self.cols.n;
        let (sh, sw) = (s / w, s % w);
        let t0 = self.cols.partner(sw, 0);
        let c = self.cols.count;
        let first = c.min(w - t0);
        for kh in 0..self.rows.count {
            let row = &src[self.rows.partner(sh, kh) * w..][..w];
            let out = &mut dst[kh * c..(kh + 1) * c];
            out[..first].copy_from_slice(&row[t0..t0 + first]);
            out[first..].copy_from_slice(&row[..c - first]);
        }
    }

    /// `dst[t] = src[k]` for the partners t of row `s` (copies of runs;
    /// the inverse of [`gather`](Self::gather)).
    #[cfg(feature = "attention")]
    #[inline]
    pub fn scatter<T: Copy>(&self, s: usize, src: &[T], dst: &mut [T]) {
        let w = self.cols.n;
        let (sh, sw) = (s / w, s % w);
        let t0 = self.cols.partner(sw, 0);
        let c = self.cols.count;
        let first = c.min(w - t0);
        for kh in 0..self.rows.count {
            let row = &mut dst[self.rows.partner(sh, kh) * w..][..w];
            let from = &src[kh * c..(kh + 1) * c];
            row[t0..t0 + first].copy_from_slice(&from[..first]);
            row[..c - first].copy_from_slice(&from[first..]);
        }
    }

    /// Partner position of entry (`s`, `k`).
    #[inline(always)]
    pub fn partner(&self, s: usize, k: usize) -> usize {
        let w = self.cols.n;
        let (sh, sw) = (s / w, s % w);
        let (kh, kw) = (k / self.cols.count, k % self.cols.count);
        self.rows.partner(sh, kh) * w + self.cols.partner(sw, kw)
    }
}

/// `true` for the markers of a residual block (never without the
/// `attention` feature).
fn residual_marker<T>(l: &Layer<T>) -> bool {
    #[cfg(feature = "attention")]
    if matches!(l, Layer::ResidualBegin | Layer::ResidualEnd) {
        return true;
    }
    let _ = l;
    false
}

/// The bands that the layers from `layers[0]` on need from the table they
/// start with, for the cross table (`.0`) and for the tables of one input
/// (`.1`, whose entries the nonlinearities read only on the diagonal, and a
/// nonlinearity after `gap` reads whole).
pub(super) fn bands<T: Real>(layers: &[Layer<T>]) -> (usize, usize) {
    // B_before = a·B_end + c, composed forward through the pooling layers.
    let (mut a, mut c) = (1_usize, 0_usize);
    for (i, l) in layers.iter().enumerate() {
        match *l {
            Layer::AvgPool { size } => {
                let p = size as usize;
                c = a.saturating_mul(p - 1).saturating_add(c);
                a = a.saturating_mul(p);
            }
            Layer::Flatten => return (c, c),
            // Attention reads every table whole.
            #[cfg(feature = "attention")]
            Layer::Attention { .. } => return (FULL, FULL),
            Layer::GlobalAvgPool => {
                let after = &layers[i + 1..];
                let varies = after.iter().any(|l| {
                    !matches!(
                        l,
                        Layer::Dense { .. } | Layer::DenseStandard { .. } | Layer::Identity
                    ) && !residual_marker(l)
                });
                return (FULL, if varies { FULL } else { c });
            }
            _ => {}
        }
    }
    (c, c)
}

/// `out[s, k] = Σ_δ m[s+δ, k]` over the filter offsets δ (the same on both
/// positions of a pair), dropping the terms outside the grid (zero padding)
/// or wrapping them (circular), in the band `b` on grid `g`.
pub(super) fn shifted_sum<T: Real>(
    m: &[T],
    out: &mut [T],
    g: Grid,
    b: Band,
    q: usize,
    circular: bool,
) {
    if b.width() == 1 {
        return window_sum(m, out, g, q, circular);
    }
    if crate::simd::WIDE && !g.planar && b.rows.count == 1 {
        return line_sum(m, out, b.cols, q / 2, circular);
    }
    let r = (q / 2) as isize;
    let rh = if g.planar { r } else { 0 };
    let (width, cw) = (b.width(), b.cols.count);
    let wrap = |x: usize, d: isize, n: usize| -> Option<usize> {
        let y = x as isize + d;
        if circular {
            Some(y.rem_euclid(n as isize) as usize)
        } else if y >= 0 && (y as usize) < n {
            Some(y as usize)
        } else {
            None
        }
    };
    let len = b.len();
    for v in &mut out[..len] {
        *v = T::ZERO;
    }
    let (mut sh, mut sw) = (0, 0);
    for s in 0..g.positions() {
        let orow = &mut out[s * width..(s + 1) * width];
        for dh in -rh..=rh {
            let Some(ah) = wrap(sh, dh, g.h) else {
                continue;
            };
            for dw in -r..=r {
                let Some(aw) = wrap(sw, dw, g.w) else {
                    continue;
                };
                let src = &m[(ah * g.w + aw) * width..(ah * g.w + aw + 1) * width];
                let runs = b.cols.runs(sw, dw, circular);
                for kh in 0..b.rows.count {
                    if !circular && dh != 0 {
                        let th = b.rows.partner(sh, kh) as isize + dh;
                        if th < 0 || th >= g.h as isize {
                            continue;
                        }
                    }
                    let (o, i) = (
                        &mut orow[kh * cw..(kh + 1) * cw],
                        &src[kh * cw..(kh + 1) * cw],
                    );
                    for (k0, k1) in runs {
                        for (x, &y) in o[k0..k1].iter_mut().zip(&i[k0..k1]) {
                            *x += y;
                        }
                    }
                }
            }
        }
        sw += 1;
        if sw == g.w {
            sw = 0;
            sh += 1;
        }
    }
}

/// [`shifted_sum`] on a sequence (one row of positions, `r` = q/2): every
/// shifted row is added whole, in the order of the shifts, then the entries
/// whose partner t leaves the sequence under a shift (t < r or t ≥ n − r,
/// at most 2r per row) are summed again over the shifts that keep both
/// positions inside, in the same order: the same sums bit for bit, with
/// whole-row additions that vectorise.
fn line_sum<T: Real>(m: &[T], out: &mut [T], ax: Axis, r: usize, circular: bool) {
    let (n, w) = (ax.n, ax.count);
    // Position x + d − r (d in 0..=2r), wrapped or dropped.
    let at = |x: usize, d: usize| -> Option<usize> {
        let y = x + d;
        if y >= r && y - r < n {
            Some(y - r)
        } else if circular {
            Some((y + n * (r / n + 1) - r) % n)
        } else {
            None
        }
    };
    let row = |a: usize| &m[a * w..(a + 1) * w];
    for (s, orow) in out[..n * w].chunks_exact_mut(w).enumerate() {
        // The rows of the shifts that stay inside, three at a time, each
        // added in turn to the running sum from 0.
        let mut started = false;
        let mut d = 0;
        while d <= 2 * r {
            let mut rows = [0_usize; 3];
            let mut count = 0;
            while count < 3 && d <= 2 * r {
                if let Some(a) = at(s, d) {
                    rows[count] = a;
                    count += 1;
                }
                d += 1;
            }
            if !started && count > 0 {
                orow.fill(T::ZERO);
                started = true;
            }
            match count {
                3 => {
                    let (x, y, z) = (row(rows[0]), row(rows[1]), row(rows[2]));
                    for (o, ((&x, &y), &z)) in orow.iter_mut().zip(x.iter().zip(y).zip(z)) {
                        *o = ((*o + x) + y) + z;
                    }
                }
                2 => {
                    let (x, y) = (row(rows[0]), row(rows[1]));
                    for (o, (&x, &y)) in orow.iter_mut().zip(x.iter().zip(y)) {
                        *o = (*o + x) + y;
                    }
                }
                1 => {
                    for (o, &x) in orow.iter_mut().zip(row(rows[0])) {
                        *o += x;
                    }
                }
                _ => {}
            }
        }
        if !started {
            orow.fill(T::ZERO);
        }
        if circular {
            continue;
        }
        let low = r.min(n);
        for t in (0..low).chain(n.saturating_sub(r).max(low)..n) {
            let k = ax.index(s, t);
            if k >= w {
                continue;
            }
            let mut acc = T::ZERO;
            for d in 0..=2 * r {
                if let (Some(a), Some(_)) = (at(s, d), at(t, d)) {
                    acc += m[a * w + k];
                }
            }
            orow[k] = acc;
        }
    }
}

/// [`shifted_sum`] of a table of offset 0 alone (a vector of positions).
fn window_sum<T: Real>(m: &[T], out: &mut [T], g: Grid, q: usize, circular: bool) {
    let r = q / 2;
    if crate::simd::WIDE && !g.planar && r < g.w {
        // A sequence: each shift added to the positions it keeps inside
        // (all of them, in two runs, when circular), shift after shift: the
        // same sums in the same order as below.
        let n = g.w;
        let out = &mut out[..n];
        out.fill(T::ZERO);
        for d in 0..=2 * r {
            // out[s] += m[s + d − r].
            let add = |o: &mut [T], x: &[T]| {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o += x;
                }
            };
            if d >= r {
                let e = d - r;
                add(&mut out[..n - e], &m[e..n]);
                if circular {
                    add(&mut out[n - e..], &m[..e]);
                }
            } else {
                let e = r - d;
                add(&mut out[e..], &m[..n - e]);
                if circular {
                    add(&mut out[..e], &m[n - e..n]);
                }
            }
        }
        return;
    }
    let rh = if g.planar { r } else { 0 };
    let at = |x: usize, d: usize, n: usize, r: usize| -> Option<usize> {
        // x + d − r (d in 0..=2r), wrapped or dropped.
        let y = x + d;
        if y >= r && y - r < n {
            Some(y - r)
        } else if circular {
            Some((y + n * (r / n + 1) - r) % n)
        } else {
            None
        }
    };
    let (mut sh, mut sw) = (0, 0);
    for o in out[..g.positions()].iter_mut() {
        let mut acc = T::ZERO;
        for dh in 0..=2 * rh {
            let Some(ah) = at(sh, dh, g.h, rh) else {
                continue;
            };
            for dw in 0..=2 * r {
                if let Some(aw) = at(sw, dw, g.w, r) {
                    acc += m[ah * g.w + aw];
                }
            }
        }
        *o = acc;
        sw += 1;
        if sw == g.w {
            sw = 0;
            sh += 1;
        }
    }
}

/// The table `m` (band `b` on grid `g`) after the pooling or readout
/// `layer`, into `out` in band `nb` on grid `next`.
pub(super) fn reduce<T: Real>(
    layer: &Layer<T>,
    m: &[T],
    out: &mut [T],
    (g, b): (Grid, Band),
    (next, nb): (Grid, Band),
) {
    let p = g.positions();
    let width = b.width();
    match *layer {
        Layer::Flatten => {
            let z = b.zero();
            let mut acc = T::ZERO;
            for s in 0..p {
                acc += m[s * width + z];
            }
            out[0] = acc / T::from_usize(p);
        }
        Layer::GlobalAvgPool => {
            let mut acc = T::ZERO;
            let mut rest = &m[..b.len()];
            if crate::simd::WIDE {
                // Eight running sums, then the rest in order.
                let (chunks, tail) = rest.as_chunks::<8>();
                let mut lanes = [T::ZERO; 8];
                for c in chunks {
                    for (l, &v) in lanes.iter_mut().zip(c) {
                        *l += v;
                    }
                }
                for l in lanes {
                    acc += l;
                }
                rest = tail;
            }
            for v in rest {
                acc += *v;
            }
            let pf = T::from_usize(p);
            out[0] = acc / (pf * pf);
        }
        _ => {
            // Average pooling: (fh, fw) the window.
            let (fh, fw) = (g.h / next.h, g.w / next.w);
            let scale = T::ONE / T::from_usize(fh * fw * fh * fw);
            let nw = nb.width();
            for a in 0..next.positions() {
                let (ah, aw) = (a / next.w, a % next.w);
                for k in 0..nw {
                    let bpos = nb.partner(a, k);
                    let (bh, bw) = (bpos / next.w, bpos % next.w);
                    let mut acc = T::ZERO;
                    for i in 0..fh {
                        for j in 0..fw {
                            let (sh, sw) = (ah * fh + i, aw * fw + j);
                            let row = &m[(sh * g.w + sw) * width..][..width];
                            for u in 0..fh {
                                let kh = b.rows.index(sh, bh * fh + u);
                                for v in 0..fw {
                                    let kw = b.cols.index(sw, bw * fw + v);
                                    acc += row[kh * b.cols.count + kw];
                                }
                            }
                        }
                    }
                    out[a * nw + k] = acc * scale;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_and_indices_agree() {
        for n in 1..9 {
            for b in 0..6 {
                let ax = Axis::new(n, b);
                assert!(ax.count <= n);
                for s in 0..n {
                    let mut seen = [false; 9];
                    for k in 0..ax.count {
                        let t = ax.partner(s, k);
                        assert_eq!(ax.index(s, t), k);
                        assert!(!seen[t]);
                        seen[t] = true;
                        // The offset is within ±b (mod n).
                        let d = (t + n - s) % n;
                        assert!(d <= b || n - d <= b || ax.count == n);
                    }
                }
            }
        }
    }

    #[test]
    fn runs_keep_the_partners_in_the_grid() {
        for n in 1..9 {
            for b in 0..5 {
                let ax = Axis::new(n, b);
                for s in 0..n {
                    for delta in -2_isize..=2 {
                        let runs = ax.runs(s, delta, false);
                        for k in 0..ax.count {
                            let t = ax.partner(s, k) as isize + delta;
                            let inside = (0..n as isize).contains(&t);
                            let listed = runs.iter().any(|&(a, z)| (a..z).contains(&k));
                            assert_eq!(inside, listed, "n {n} b {b} s {s} δ {delta} k {k}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bands_of_readouts_and_pooling() {
        let parse = |s: &str| match s.parse::<super::super::Architecture<f64>>() {
            Ok(a) => a,
            Err(e) => panic!("{s}: {e}"),
        };
        let a = parse("conv(3,1,0) relu conv(3,1,0) relu flatten dense(1,0)");
        assert_eq!(bands(a.layers()), (0, 0));
        let a = parse("conv(3,1,0) relu avg_pool(2) conv(3,1,0) relu flatten dense(1,0)");
        assert_eq!(bands(a.layers()), (1, 1));
        let a = parse("conv(3,1,0) avg_pool(2) relu avg_pool(3) flatten dense(1,0)");
        // After pool 3: 2; before pool 2: 2·2 + 1 = 5.
        assert_eq!(bands(a.layers()), (5, 5));
        let a = parse("conv(3,1,0) relu gap dense(1,0)");
        assert_eq!(bands(a.layers()), (FULL, 0));
        let a = parse("conv(3,1,0) relu gap dense(1,0) relu dense(1,0)");
        assert_eq!(bands(a.layers()), (FULL, FULL));
    }
}
