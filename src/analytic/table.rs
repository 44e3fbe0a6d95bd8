//! The kernel of one pair of sequence or image inputs: the banded
//! position-pair tables (see [`super::band`]) through the layers, with the
//! rounding-error bound of [`super::precision`] carried per table.
//!
//! State of a pair (a, b): the cross tables Σ_ab and Θ_ab, and the tables
//! Σ_aa, Σ_bb of each input alone, whose diagonals are the variances qₐ\[s\],
//! q_b\[t\] that the nonlinearities read (the tables of one input need only
//! the offsets that pooling and a nonlinearity after `gap` read; most
//! architectures keep their diagonal only).
//!
//! The bound (feature `error-bounds`) is kept in units of per-position
//! scales that dominate the variances: |δΣ_ab\[s, t\]| ≤ e·√(vₐ\[s\]·v_b\[t\])
//! and |δΘ_ab\[s, t\]| ≤ θ·√(uₐ\[s\]·u_b\[t\]), with v = q after each
//! nonlinearity, and averaging layers mapping the scales as they map the
//! diagonals: by Cauchy–Schwarz, Σᵢ wᵢ√(xᵢyᵢ) ≤ √(Σᵢ wᵢxᵢ·Σᵢ wᵢyᵢ), so a
//! convolution or an affine layer keeps e (plus its rounding), and pooling
//! maps the scale to (mean √v)², which dominates the pooled variance. A
//! nonlinearity multiplies a correlation error by the entry's amplification
//! (Price's theorem, as in the flat routines; at most 1 for the ABReLU
//! family), with the ratio √(v/q) of each side; Θ moves by the change of
//! Σ̇ (the kink of the ABReLU family, the curvature of the smooth maps) and
//! the quadrature's estimate of each entry. Entries whose correlation snaps
//! to ±1 are followed at the worst distance from collinear that the rounding
//! allows (√(2δρ) for the kink), except the pairs (s, s) of one input, which
//! are exact. The final bounds, e·√(vₐv_b) and θ·√(uₐu_b), are held
//! against the kernels' own diagonals by the Gram routines.

// The comparisons are written to let NaN through as "not accepted"
// (`!(x < y)`), as in `precision`.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::band::{bands, reduce, shifted_sum, Band};
use super::grid::{next_grid, Grid};
use super::layer::Layer;
use super::pair::{cosine, snap, snap_edge, worse, Var};
use super::precision::ENABLED;
use super::step::{relative_error, Step};
use crate::{Error, Real};

/// The smallest nonzero variance accepted (as the flat routines).
fn tiny<T: Real>() -> T {
    T::MIN_POSITIVE / T::EPSILON
}

fn loss() -> Error {
    Error::PrecisionLoss { what: "kernel" }
}

/// The cross and single-input table sizes that the layers need on input
/// grid `g`: the largest over the layers.
pub(super) fn table_sizes<T: Real>(layers: &[Layer<T>], mut g: Grid) -> (usize, usize) {
    let (bc, bs) = bands(layers);
    let (mut wc, mut ws) = (Band::new(g, bc).len(), Band::new(g, bs).len());
    for (i, l) in layers.iter().enumerate() {
        if matches!(
            l,
            Layer::AvgPool { .. } | Layer::GlobalAvgPool | Layer::Flatten
        ) {
            g = next_grid(l, g).unwrap_or(g);
            let (bc, bs) = bands(&layers[i + 1..]);
            wc = wc.max(Band::new(g, bc).len());
            ws = ws.max(Band::new(g, bs).len());
        }
    }
    (wc, ws)
}

/// Workspace words for input grid `g`: two cross tables, a scratch table,
/// two single-input tables and twelve vectors of positions, then the
/// attention matrices ([`structured_sizes`]) and one saved state per level
/// of residual nesting.
pub(super) fn words<T: Real>(layers: &[Layer<T>], g: Grid) -> usize {
    let (wc, ws) = table_sizes(layers, g);
    let (attn, depth) = structured_sizes(layers, g);
    let p = g.positions();
    2 * wc + wc.max(ws) + 2 * ws + 12 * p + 3 * attn + depth * slot(wc, ws, p)
}

/// The words of one saved residual state: the four tables, the scales v,
/// u of both inputs and the three bounds.
fn slot(wc: usize, ws: usize, p: usize) -> usize {
    2 * wc + 2 * ws + 4 * p + 3
}

/// The largest |S|² at an attention layer (0 without attention: its two
/// weight matrices and a product in the standard layout), and the deepest
/// nesting of residual blocks.
#[cfg(not(feature = "attention"))]
pub(super) fn structured_sizes<T: Real>(_layers: &[Layer<T>], _g: Grid) -> (usize, usize) {
    (0, 0)
}

/// The largest |S|² at an attention layer (0 without attention: its two
/// weight matrices and a product in the standard layout), and the deepest
/// nesting of residual blocks.
#[cfg(feature = "attention")]
pub(super) fn structured_sizes<T: Real>(layers: &[Layer<T>], mut g: Grid) -> (usize, usize) {
    let (mut attn, mut depth, mut open) = (0, 0, 0_usize);
    for l in layers {
        match l {
            #[cfg(feature = "attention")]
            Layer::Attention { .. } => attn = attn.max(g.positions() * g.positions()),
            #[cfg(feature = "attention")]
            Layer::ResidualBegin => {
                open += 1;
                depth = depth.max(open);
            }
            #[cfg(feature = "attention")]
            Layer::ResidualEnd => open = open.saturating_sub(1),
            _ => g = next_grid(l, g).unwrap_or(g),
        }
    }
    (attn, depth)
}

/// Words of one input's tape on input grid `g` (see [`Sides`]): the five
/// vectors of [`Side`] before the first layer and after every layer, three
/// numbers per nonlinearity, and per attention layer its weights G (|S|²)
/// and the two new scales (2|S|).
pub(super) fn tape_words<T: Real>(layers: &[Layer<T>], mut g: Grid) -> usize {
    let p0 = g.positions();
    let mut n = (layers.len() + 1) * 5 * p0;
    for l in layers {
        if l.is_spatial() || l.is_structured() {
            #[cfg(feature = "attention")]
            if let Layer::Attention { .. } = l {
                n += g.positions() * g.positions() + 2 * g.positions();
            }
            if !l.is_structured() {
                g = next_grid(l, g).unwrap_or(g);
            }
        } else if nonlinear_step(&l.step()) {
            n += 3;
        }
    }
    n
}

/// Whether a step is a nonlinearity (applied by [`nonlinear`]).
fn nonlinear_step<T: Real>(step: &Step<T>) -> bool {
    !matches!(
        step,
        Step::Identity | Step::Affine { .. } | Step::AffineStandard { .. }
    )
}

/// Whether the tapes of [`Sides`] give the bound of the per-pair path: the
/// bound of a nonlinearity other than the vectorised ReLU family reads the
/// pair's own error on the tables of each input alone.
///
/// The tapes serve targets with wide vectors only
/// ([`WIDE`](crate::simd::WIDE)): on a microcontroller the routines keep
/// their per-pair code alone, which is smaller.
pub(super) fn tapes_exact<T: Real>(layers: &[Layer<T>]) -> bool {
    if !crate::simd::WIDE {
        return false;
    }
    !ENABLED
        || layers.iter().all(|l| {
            l.is_spatial()
                || l.is_structured()
                || match l.step() {
                    Step::AbRelu(_) => crate::simd::WIDE,
                    s => !nonlinear_step(&s),
                }
        })
}

/// Where a pair's tables of each input alone come from.
pub(super) enum Sides<'c, T> {
    /// Computed with the pair.
    Both,
    /// Computed for the pair (x, x), and the state of x alone written to
    /// the tape: the vectors of [`Side`] after every layer and what the
    /// cross tables and the bound read of its tables (attention weights,
    /// the bound terms of nonlinearities).
    Record(&'c mut [T]),
    /// Read from the tapes of the two inputs; the tables of each input
    /// alone are not computed.
    Replay(&'c [T], &'c [T]),
}

/// A read or write position on the tapes of [`Sides`].
struct Tape<'c, T> {
    sides: Sides<'c, T>,
    at: usize,
}

impl<T: Real> Tape<'_, T> {
    fn replay(&self) -> bool {
        crate::simd::WIDE && matches!(self.sides, Sides::Replay(..))
    }

    fn recording(&self) -> bool {
        crate::simd::WIDE && matches!(self.sides, Sides::Record(..))
    }

    /// Writes `a` (record) or reads `a` and `b` (replay), then moves on.
    fn exchange(&mut self, a: &mut [T], b: &mut [T]) {
        if !crate::simd::WIDE {
            return;
        }
        let (at, n) = (self.at, a.len());
        match &mut self.sides {
            Sides::Both => {}
            Sides::Record(t) => {
                if let Some(d) = t.get_mut(at..at + n) {
                    d.copy_from_slice(a);
                }
            }
            Sides::Replay(ta, tb) => {
                if let (Some(x), Some(y)) = (ta.get(at..at + n), tb.get(at..at + n)) {
                    a.copy_from_slice(x);
                    if let Some(b) = b.get_mut(..n) {
                        b.copy_from_slice(y);
                    }
                }
            }
        }
        self.at += n;
    }

    /// The five vectors of both sides, `p0` numbers each.
    fn sides(&mut self, a: &mut Side<'_, T>, b: &mut Side<'_, T>, p0: usize) {
        if !crate::simd::WIDE || matches!(self.sides, Sides::Both) {
            return;
        }
        let n = p0.min(a.q.len()).min(b.q.len());
        self.exchange(&mut a.q[..n], &mut b.q[..n]);
        self.exchange(&mut a.v[..n], &mut b.v[..n]);
        self.exchange(&mut a.u[..n], &mut b.u[..n]);
        self.exchange(&mut a.sq[..n], &mut b.sq[..n]);
        self.exchange(&mut a.r[..n], &mut b.r[..n]);
    }
}

/// The kernels of a pair and their absolute error bounds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Kernels<T> {
    pub k: T,
    pub t: T,
    pub bk: T,
    pub bt: T,
}

/// The bound of a pair (units in the module docs).
#[derive(Clone, Copy)]
struct Bound<T> {
    e: T,
    q: T,
    t: T,
}

/// One input's per-position vectors: the scales v, u, and q, √q, 1/√q.
struct Side<'a, T> {
    q: &'a mut [T],
    v: &'a mut [T],
    u: &'a mut [T],
    sq: &'a mut [T],
    r: &'a mut [T],
}

impl<T: Real> Side<'_, T> {
    /// √q and 1/√q from the diagonal of a single-input table.
    fn vars(&mut self, table: &[T], b: Band, p: usize) {
        let (w, z) = (b.width(), b.zero());
        if crate::simd::WIDE {
            // What `Var::new` computes, in passes that vectorise.
            let (q, sq, r) = (&mut self.q[..p], &mut self.sq[..p], &mut self.r[..p]);
            for (s, x) in q.iter_mut().enumerate() {
                let v = table[s * w + z];
                *x = if v < T::ZERO { T::ZERO } else { v };
            }
            for (y, &x) in sq.iter_mut().zip(q.iter()) {
                *y = x.sqrt();
            }
            for (y, &x) in r.iter_mut().zip(sq.iter()) {
                *y = if x > T::ZERO { T::ONE / x } else { T::ZERO };
            }
            return;
        }
        for s in 0..p {
            let v = Var::new(table[s * w + z]);
            self.q[s] = v.q;
            self.sq[s] = v.sq;
            self.r[s] = v.r;
        }
    }

    fn var(&self, s: usize) -> Var<T> {
        Var {
            q: self.q[s],
            sq: self.sq[s],
            r: self.r[s],
        }
    }

    /// The largest √(v/q) (1 where both are 0, ∞ where only q is).
    fn ratio(&self, p: usize) -> T {
        let mut m = T::ONE;
        for s in 0..p {
            let q = self.q[s];
            let x = if self.v[s] == T::ZERO {
                T::ONE
            } else {
                (self.v[s] / q).sqrt()
            };
            m = worse(m, x);
        }
        m
    }
}

/// Σ and Θ of the pair `xa`, `xb` (`same` when they are one input) on input
/// grid `g0` with `channels` channels; `full` computes every table whole
/// (the reference for the banded tables).
#[allow(clippy::too_many_arguments)]
pub(super) fn pair<T: Real>(
    layers: &[Layer<T>],
    inputs: (&[T], &[T], bool),
    g0: Grid,
    channels: usize,
    workspace: &mut [T],
    full: bool,
) -> Result<Kernels<T>, Error> {
    pair_with(layers, inputs, g0, channels, workspace, full, Sides::Both)
}

/// [`pair`] with the tables of each input alone computed, recorded or
/// read from tapes (`sides`, see [`Sides`]; a recording pair is (x, x)).
/// Every path gives the same kernels and bounds bit for bit; a replay
/// needs [`tapes_exact`] for the bound.
#[allow(clippy::too_many_arguments)]
pub(super) fn pair_with<T: Real>(
    layers: &[Layer<T>],
    (xa, xb, same): (&[T], &[T], bool),
    g0: Grid,
    channels: usize,
    workspace: &mut [T],
    full: bool,
    sides: Sides<'_, T>,
) -> Result<Kernels<T>, Error> {
    let mut tape = Tape { sides, at: 0 };
    let replay = tape.replay();
    let p0 = g0.positions();
    let (wc, ws) = if full {
        (p0 * p0, p0 * p0)
    } else {
        table_sizes(layers, g0)
    };
    let (sab, rest) = workspace.split_at_mut(wc);
    let (tab, rest) = rest.split_at_mut(wc);
    let (scratch, rest) = rest.split_at_mut(wc.max(ws));
    let (saa, rest) = rest.split_at_mut(ws);
    let (sbb, rest) = rest.split_at_mut(ws);
    let (rest, extra) = rest.split_at_mut((12 * p0).min(rest.len()));
    #[cfg(feature = "attention")]
    let (attn_work, stack) = {
        let (attn_len, _) = structured_sizes(layers, g0);
        extra.split_at_mut((3 * attn_len).min(extra.len()))
    };
    #[cfg(feature = "attention")]
    let slot_len = slot(wc, ws, p0);
    #[cfg(feature = "attention")]
    let mut level = 0_usize;
    #[cfg(not(feature = "attention"))]
    let _ = extra;
    let mut vecs = rest.chunks_exact_mut(p0);
    let mut next = || vecs.next().unwrap_or(&mut []);
    let mut a = Side {
        q: next(),
        v: next(),
        u: next(),
        sq: next(),
        r: next(),
    };
    let mut b = Side {
        q: next(),
        v: next(),
        u: next(),
        sq: next(),
        r: next(),
    };
    let (gsq, gr) = (next(), next());
    let band_of = |l: &[Layer<T>], g: Grid| {
        let (c, s) = if full {
            (usize::MAX, usize::MAX)
        } else {
            bands(l)
        };
        (Band::new(g, c), Band::new(g, s))
    };
    let mut g = g0;
    let (mut bc, mut bs) = band_of(layers, g);
    // Σ⁰ = x·x′/C at every entry of the bands.
    let inv_c = T::ONE / T::from_usize(channels);
    let dot = |u: &[T], s: usize, v: &[T], t: usize| {
        let x = &u[s * channels..(s + 1) * channels];
        let y = &v[t * channels..(t + 1) * channels];
        if channels < crate::simd::LANES {
            // What `simd::dot` computes below a chunk: the sequential sum.
            let mut t = T::ZERO;
            for (u, v) in x.iter().zip(y) {
                t = u.mul_add(*v, t);
            }
            t * inv_c
        } else {
            crate::simd::dot(x, y) * inv_c
        }
    };
    // Wide cross rows on a wide target: the same sequential sums, one lane
    // per partner, from the channels of `xb` laid out position-major in
    // `scratch` (free until the first layer).
    let lanes = crate::simd::WIDE
        && channels > 0
        && channels < crate::simd::LANES
        && bc.width() >= crate::simd::LANES
        && channels * p0 <= scratch.len()
        && gsq.len() >= p0;
    if lanes {
        let xt = &mut scratch[..channels * p0];
        for (t, x) in xb.chunks_exact(channels).take(p0).enumerate() {
            for (c, &v) in x.iter().enumerate() {
                xt[c * p0 + t] = v;
            }
        }
        let wc = bc.width();
        for s in 0..p0 {
            let row = &mut gsq[..p0];
            row.fill(T::ZERO);
            for (c, col) in xt.chunks_exact(p0).enumerate() {
                let u = xa[s * channels + c];
                for (r, &v) in row.iter_mut().zip(col) {
                    *r = u.mul_add(v, *r);
                }
            }
            for r in row.iter_mut() {
                *r *= inv_c;
            }
            bc.gather(s, row, &mut sab[s * wc..(s + 1) * wc]);
            tab[s * wc..(s + 1) * wc].fill(T::ZERO);
        }
    }
    for s in 0..p0 {
        let (wc, ws) = (bc.width(), bs.width());
        if !lanes {
            bc.for_partners(s, |k, t| {
                sab[s * wc + k] = dot(xa, s, xb, t);
                tab[s * wc + k] = T::ZERO;
            });
        }
        if !replay {
            bs.for_partners(s, |k, t| {
                saa[s * ws + k] = dot(xa, s, xa, t);
                sbb[s * ws + k] = dot(xb, s, xb, t);
            });
        }
    }
    let eps = T::EPSILON;
    let start = eps * T::from_usize(channels / crate::simd::LANES + 3);
    let mut bound = Bound {
        e: start,
        q: start,
        t: T::ZERO,
    };
    for (side, x, table) in [(&mut a, xa, &*saa), (&mut b, xb, &*sbb)]
        .into_iter()
        .filter(|_| !replay)
    {
        side.vars(table, bs, p0);
        for s in 0..p0 {
            let q = side.var(s).q;
            side.v[s] = q;
            side.u[s] = T::ZERO;
            if q < tiny()
                && x[s * channels..(s + 1) * channels]
                    .iter()
                    .any(|&v| v != T::ZERO)
            {
                return Err(loss());
            }
        }
    }
    tape.sides(&mut a, &mut b, p0);
    for (i, layer) in layers.iter().enumerate() {
        let p = g.positions();
        let (lc, ls) = (bc.len(), bs.len());
        match *layer {
            Layer::Conv {
                size,
                weight_std: w,
                bias_std: bias,
                circular,
            } => {
                let (w2, b2) = (w * w, bias * bias);
                let q = size as usize;
                let filter = if g.planar { q * q } else { q };
                let scale = w2 / T::from_usize(filter);
                for (table, band, one) in [
                    (&mut *saa, bs, true),
                    (&mut *sbb, bs, true),
                    (&mut *sab, bc, false),
                ] {
                    if one && replay {
                        continue;
                    }
                    shifted_sum(table, scratch, g, band, q, circular);
                    for (m, &s) in table[..band.len()].iter_mut().zip(&scratch[..band.len()]) {
                        *m = scale * s + b2;
                    }
                }
                shifted_sum(tab, scratch, g, bc, q, circular);
                for ((m, &s), &k) in tab[..lc].iter_mut().zip(&scratch[..lc]).zip(&sab[..lc]) {
                    *m = k + scale * s;
                }
                // The scales map as the diagonals.
                for side in [&mut a, &mut b].into_iter().filter(|_| ENABLED && !replay) {
                    for (j, vec) in [&mut *side.v, &mut *side.u].into_iter().enumerate() {
                        let one = Band::new(g, 0);
                        shifted_sum(vec, scratch, g, one, q, circular);
                        for (s, &x) in vec[..p].iter_mut().zip(&scratch[..p]) {
                            *s = scale * x + if j == 0 { b2 } else { T::ZERO };
                        }
                    }
                    for s in 0..p {
                        side.u[s] += side.v[s];
                    }
                }
                let round = eps * T::from_usize(filter + 2);
                bound.e += round;
                bound.q += round;
                bound.t = worse(bound.t, bound.e) + round;
                for (side, table) in [(&mut a, &*saa), (&mut b, &*sbb)]
                    .into_iter()
                    .filter(|_| !replay)
                {
                    side.vars(table, bs, p);
                    if side.q[..p].iter().any(|&q| q > T::ZERO && q < tiny()) {
                        return Err(loss());
                    }
                }
            }
            Layer::AvgPool { .. } | Layer::GlobalAvgPool | Layer::Flatten => {
                let ng = next_grid(layer, g)?;
                let (nc, ns) = band_of(&layers[i + 1..], ng);
                for (table, from, to) in [
                    (&mut *sab, bc, nc),
                    (&mut *tab, bc, nc),
                    (&mut *saa, bs, ns),
                    (&mut *sbb, bs, ns),
                ]
                .into_iter()
                .take(if replay { 2 } else { 4 })
                {
                    let whole = from.width() == g.positions();
                    if matches!(layer, Layer::GlobalAvgPool) && !whole {
                        // Not read after this layer (see `bands`).
                        table[0] = T::ZERO;
                        continue;
                    }
                    reduce(layer, table, scratch, (g, from), (ng, to));
                    table[..to.len()].copy_from_slice(&scratch[..to.len()]);
                }
                // The scales: the mean of v for flatten, (mean √v)² otherwise.
                let np = ng.positions();
                let (fh, fw) = (g.h / ng.h, g.w / ng.w);
                let n = fh * fw;
                for side in [&mut a, &mut b].into_iter().filter(|_| ENABLED && !replay) {
                    for vec in [&mut *side.v, &mut *side.u] {
                        for o in 0..np {
                            let (oh, ow) = (o / ng.w, o % ng.w);
                            let mut acc = T::ZERO;
                            for di in 0..fh {
                                for dj in 0..fw {
                                    let x = vec[(oh * fh + di) * g.w + ow * fw + dj];
                                    acc += if matches!(layer, Layer::Flatten) {
                                        x
                                    } else {
                                        x.sqrt()
                                    };
                                }
                            }
                            let m = acc / T::from_usize(n);
                            scratch[o] = if matches!(layer, Layer::Flatten) {
                                m
                            } else {
                                m * m
                            };
                        }
                        vec[..np].copy_from_slice(&scratch[..np]);
                    }
                }
                let round = eps * T::from_usize(n * n + 2);
                bound.e += round;
                bound.q += round;
                bound.t += round;
                g = ng;
                (bc, bs) = (nc, ns);
                if !replay {
                    let p = g.positions();
                    a.vars(saa, bs, p);
                    b.vars(sbb, bs, p);
                }
            }
            #[cfg(feature = "attention")]
            Layer::LayerNorm => {
                let tables = (
                    &mut sab[..lc],
                    &mut tab[..lc],
                    &mut saa[..ls],
                    &mut sbb[..ls],
                );
                let norm = (&mut *gsq, &mut *gr);
                layer_norm(
                    tables,
                    (&mut a, &mut b),
                    (bc, bs, p),
                    norm,
                    replay,
                    &mut bound,
                )?;
            }
            #[cfg(feature = "attention")]
            Layer::Attention {
                query_std,
                key_std,
                value_std,
                out_std,
                softmax,
            } => {
                let c = value_std * out_std;
                let map = Attend {
                    wqk: query_std * key_std,
                    c2: c * c,
                    softmax,
                };
                // The tables after it need only the offsets that the
                // layers after it read, except inside a residual block,
                // whose end adds tables kept in the band of its start.
                let next = if level == 0 {
                    band_of(&layers[i + 1..], g)
                } else {
                    (bc, bs)
                };
                let tables = (&mut *sab, &mut *tab, &mut *saa, &mut *sbb);
                attention(
                    &map,
                    tables,
                    (&mut a, &mut b),
                    (g, (bc, bs), next),
                    (&mut *scratch, &mut *attn_work, &mut *gsq, &mut *gr),
                    &mut tape,
                    &mut bound,
                )?;
                (bc, bs) = next;
            }
            #[cfg(feature = "attention")]
            Layer::ResidualBegin => {
                let at = level * slot_len;
                let saved = stack.get_mut(at..at + slot_len).unwrap_or(&mut []);
                save(
                    saved,
                    (&sab[..lc], &tab[..lc], &saa[..ls], &sbb[..ls]),
                    (&a, &b, p0),
                    &bound,
                );
                level += 1;
            }
            #[cfg(feature = "attention")]
            Layer::ResidualEnd => {
                level = level.saturating_sub(1);
                let at = level * slot_len;
                let saved = stack.get(at..at + slot_len).unwrap_or(&[]);
                let tables = (
                    &mut sab[..lc],
                    &mut tab[..lc],
                    &mut saa[..ls],
                    &mut sbb[..ls],
                );
                restore(saved, tables, (&mut a, &mut b, p0), &mut bound);
                for (side, table) in [(&mut a, &*saa), (&mut b, &*sbb)]
                    .into_iter()
                    .filter(|_| !replay)
                {
                    side.vars(table, bs, p);
                    if side.q[..p].iter().any(|&q| q > T::ZERO && q < tiny()) {
                        return Err(loss());
                    }
                }
            }
            _ => {
                let step = layer.step();
                match step {
                    Step::Identity => {}
                    Step::Affine { w2, b2 } | Step::AffineStandard { w2, b2, .. } => {
                        let ones = if replay { 0 } else { ls };
                        for m in saa[..ones].iter_mut().chain(sbb[..ones].iter_mut()) {
                            *m = w2 * *m + b2;
                        }
                        for (k, t) in sab[..lc].iter_mut().zip(tab[..lc].iter_mut()) {
                            let k2 = w2 * *k + b2;
                            *t = match step {
                                Step::AffineStandard { n, .. } => n * *k + T::ONE + w2 * *t,
                                _ => k2 + w2 * *t,
                            };
                            *k = k2;
                        }
                        for side in [&mut a, &mut b].into_iter().filter(|_| ENABLED && !replay) {
                            for s in 0..p {
                                let (v, u) = (side.v[s], side.u[s]);
                                side.v[s] = w2 * v + b2;
                                side.u[s] = match step {
                                    Step::AffineStandard { n, .. } => n * v + T::ONE + w2 * u,
                                    _ => side.v[s] + w2 * u,
                                };
                            }
                        }
                        let two = T::TWO * eps;
                        bound.e += two;
                        bound.q += two;
                        bound.t = worse(bound.t, bound.e) + two;
                        for (side, table) in [(&mut a, &*saa), (&mut b, &*sbb)]
                            .into_iter()
                            .filter(|_| !replay)
                        {
                            for s in 0..p {
                                let q = side.var(s).q;
                                let q2 = w2 * q + b2;
                                let under = q2 == T::ZERO && w2 > T::ZERO && q > T::ZERO;
                                if under || (q2 > T::ZERO && q2 < tiny()) {
                                    return Err(loss());
                                }
                            }
                            side.vars(table, bs, p);
                        }
                    }
                    _ => {
                        let tables = Tables {
                            sab: &mut sab[..lc],
                            tab: &mut tab[..lc],
                            saa: &mut saa[..ls],
                            sbb: &mut sbb[..ls],
                            scratch,
                            gsq,
                            gr,
                        };
                        nonlinear(
                            &step,
                            tables,
                            (&mut a, &mut b),
                            (bc, bs, p),
                            same,
                            &mut tape,
                            &mut bound,
                        )?;
                    }
                }
            }
        }
        tape.sides(&mut a, &mut b, p0);
    }
    // The scales v and u are kept for the bounds only (feature `error-bounds`).
    let scale = |x: &[T], y: &[T]| (x[0] * y[0]).sqrt();
    let (bk, bt) = if ENABLED {
        (
            worse(bound.e, bound.q) * scale(a.v, b.v),
            bound.t * scale(a.u, b.u),
        )
    } else {
        (T::ZERO, T::ZERO)
    };
    Ok(Kernels {
        k: sab[0],
        t: tab[0],
        bk,
        bt,
    })
}

struct Tables<'a, T> {
    sab: &'a mut [T],
    tab: &'a mut [T],
    saa: &'a mut [T],
    sbb: &'a mut [T],
    scratch: &'a mut [T],
    gsq: &'a mut [T],
    gr: &'a mut [T],
}

/// A nonlinearity on every table of the pair, with its bound. The terms
/// that the tables of each input alone give (their smallest sin²θ and
/// quadrature estimates, the diagonal maps' estimates) are kept apart per
/// input, and go through `tape` (a replay computes the cross tables only).
#[allow(clippy::too_many_arguments)]
fn nonlinear<'s, T: Real>(
    step: &Step<T>,
    tb: Tables<'_, T>,
    (a, b): (&mut Side<'s, T>, &mut Side<'s, T>),
    (bc, bs, p): (Band, Band, usize),
    same: bool,
    tape: &mut Tape<'_, T>,
    bound: &mut Bound<T>,
) -> Result<(), Error> {
    let Tables {
        sab,
        tab,
        saa,
        sbb,
        scratch,
        gsq,
        gr,
    } = tb;
    let replay = tape.replay();
    let (ra, rb) = if ENABLED {
        (a.ratio(p), b.ratio(p))
    } else {
        (T::ONE, T::ONE)
    };
    let dq = if matches!(step, Step::Sin) {
        bound.q
    } else {
        T::ZERO
    };
    let fresh = || Acc {
        e: T::ZERO,
        t: T::ZERO,
        quad: T::ZERO,
        s2: T::INFINITY,
    };
    // The terms of all tables, and (recording) those of the input's own.
    let recording = tape.recording();
    let (mut acc, mut own) = (fresh(), fresh());
    // (table, Θ table, row side, column side, band, exact diagonal, ratio)
    let err0 = bound.e;
    {
        let passes: [Pass<'_, 's, T>; 3] = [
            (sab, Some(tab), &*a, &*b, bc, same, ra * rb),
            (saa, None, &*a, &*a, bs, true, ra * ra),
            (sbb, None, &*b, &*b, bs, true, rb * rb),
        ];
        let count = if replay { 1 } else { 3 };
        for (i, (table, theta, x, y, band, exact, ratio)) in
            passes.into_iter().enumerate().take(count)
        {
            let acc = if recording && i == 1 {
                &mut own
            } else {
                &mut acc
            };
            let err = err0 * ratio + dq;
            let w = band.width();
            let z = band.zero();
            let mut theta = theta;
            // A table of one input on its diagonal alone: the diagonal map below.
            let rows = if theta.is_none() && w == 1 { 0 } else { p };
            // The ReLU rows of a cross table on a sequence on a wide target
            // read their partners t0..t0 + w straight from the column
            // vectors laid out twice (scratch is free in this pass).
            let relu = match *step {
                Step::AbRelu(c) if crate::simd::WIDE => Some(c),
                _ => None,
            };
            let twice =
                relu.is_some() && theta.is_some() && band.rows.n == 1 && scratch.len() >= 4 * p;
            let (cols, spare) = scratch.split_at_mut(if twice { 4 * p } else { 0 });
            if twice {
                let (sq2, r2) = cols.split_at_mut(2 * p);
                for half in sq2.chunks_exact_mut(p) {
                    half.copy_from_slice(&y.sq[..p]);
                }
                for half in r2.chunks_exact_mut(p) {
                    half.copy_from_slice(&y.r[..p]);
                }
            }
            for s in 0..rows {
                let vi = x.var(s);
                let krow = &mut table[s * w..(s + 1) * w];
                let trow = match theta.as_deref_mut() {
                    Some(t) => &mut t[s * w..(s + 1) * w],
                    None => &mut spare[..w],
                };
                let skip = if exact { z } else { usize::MAX };
                let (gs, gq) = if twice {
                    let t0 = band.cols.partner(s, 0);
                    (&cols[t0..t0 + w], &cols[2 * p + t0..2 * p + t0 + w])
                } else {
                    band.gather(s, y.sq, gsq);
                    band.gather(s, y.r, gr);
                    (&gsq[..w], &gr[..w])
                };
                match relu {
                    Some(c) => {
                        let s2 = relu_row(&c, vi, (gs, gq), (krow, trow), skip);
                        acc.s2 = if s2 < acc.s2 { s2 } else { acc.s2 };
                    }
                    None => generic_row(step, vi, (gs, gq), (krow, trow), skip, err, acc),
                }
            }
            if theta.is_none() {
                // The pairs (s, s) of one input: the exact diagonal map.
                for s in 0..p {
                    table[s * w + z] = step.diag(x.var(s).q).0;
                }
            }
        }
    }
    // Diagonal maps: the new variances, scales and quadrature estimates.
    let mut diag = T::ZERO;
    for (side, table) in [(&mut *a, &*saa), (&mut *b, &*sbb)]
        .into_iter()
        .filter(|_| !replay)
    {
        for s in 0..p {
            let q = side.var(s).q;
            let ((q2, dot), (e1, e2)) = step.diag_estimated(q);
            if q2 > T::ZERO && q2 < tiny() {
                return Err(loss());
            }
            diag = worse(diag, relative_error(e1, q2) + relative_error(e2, dot));
            if ENABLED {
                side.v[s] = q2;
                side.u[s] *= dot;
            }
        }
        side.vars(table, bs, p);
    }
    // The terms of each input alone, kept (of the pair (x, x), whose two
    // inputs give the same terms) or read.
    if recording {
        let mut one = [own.s2, own.quad, diag];
        tape.exchange(&mut one, &mut []);
        for k in [&own, &own] {
            acc.s2 = if k.s2 < acc.s2 { k.s2 } else { acc.s2 };
            acc.quad = worse(acc.quad, k.quad);
            acc.e = worse(acc.e, k.e);
            acc.t = worse(acc.t, k.t);
        }
    }
    if replay {
        let (mut one, mut other) = ([T::ZERO; 3], [T::ZERO; 3]);
        tape.exchange(&mut one, &mut other);
        for [s2, quad, d] in [one, other] {
            acc.s2 = if s2 < acc.s2 { s2 } else { acc.s2 };
            acc.quad = worse(acc.quad, quad);
            diag = worse(diag, d);
        }
    }
    if !ENABLED {
        return if super::precision::accepted(worse(acc.quad, diag)) {
            Ok(())
        } else {
            Err(loss())
        };
    }
    let four = T::TWO * T::TWO * T::EPSILON;
    let err = err0 * ra * rb + dq + T::from_f64(8.0) * T::EPSILON;
    if let Step::AbRelu(_) = *step {
        if crate::simd::WIDE {
            // |Σ̇₁₂| ≤ Σ̇ᵢᵢ: the map contracts; the kink moves Σ̇ by at most
            // min(δρ/sin θ, √(2δρ)) radians.
            acc.e = worse(acc.e, err);
            let holder = (T::TWO * err).sqrt();
            let linear = err / acc.s2.sqrt();
            let kink = step.kink();
            acc.t = worse(acc.t, kink * if linear < holder { linear } else { holder });
        }
    }
    bound.e = acc.e + four + diag;
    bound.t += acc.t + acc.quad + four + diag;
    bound.q += four + diag;
    Ok(())
}

/// One table of a nonlinearity: (Σ table, Θ table if any, row input,
/// column input, band, whether its pairs (s, s) are of one input, the ratio
/// √(v/q) of both sides).
type Pass<'t, 's, T> = (
    &'t mut [T],
    Option<&'t mut [T]>,
    &'t Side<'s, T>,
    &'t Side<'s, T>,
    Band,
    bool,
    T,
);

/// The largest terms of a nonlinearity's bound over the entries.
struct Acc<T> {
    /// Output correlation error.
    e: T,
    /// Change of Σ̇ relative to its scale.
    t: T,
    /// Quadrature estimates (and, without the bound, all of them).
    quad: T,
    /// Smallest sin²θ of an entry (0 for an entry that snapped to ±1).
    s2: T,
}

/// The ABReLU map over one row (`k`, `t` against columns with √q, 1/√q of
/// `cols`); returns the smallest sin²θ of the row (0 where a correlation
/// snapped to ±1, except at index `skip`, a pair (s, s) of one input).
#[inline(always)]
fn relu_row<T: Real>(
    c: &super::dual::AbRelu<T>,
    vi: Var<T>,
    (sq, r): (&[T], &[T]),
    (k, t): (&mut [T], &mut [T]),
    skip: usize,
) -> T {
    const CHUNK: usize = 32;
    let n = k.len().min(t.len()).min(sq.len()).min(r.len());
    let edge = snap_edge::<T>();
    let mut lo = T::INFINITY;
    let mut done = 0;
    while done < n {
        let m = CHUNK.min(n - done);
        let end = done + m;
        let (kc, tc, sqc, rc) = (
            &mut k[done..end],
            &mut t[done..end],
            &sq[done..end],
            &r[done..end],
        );
        let mut rho = [T::ZERO; CHUNK];
        let mut sin = [T::ZERO; CHUNK];
        let mut flat = [T::INFINITY; CHUNK];
        for (((p, s), f), (&kv, &rj)) in rho
            .iter_mut()
            .zip(sin.iter_mut())
            .zip(flat.iter_mut())
            .zip(kc.iter().zip(rc))
        {
            let c = cosine(kv, vi.r, rj);
            let x = snap(c);
            *p = x;
            *s = (T::ONE - x) * (T::ONE + x);
            // sin²θ, or 0 where the correlation snapped.
            *f = if c.abs() < edge { *s } else { T::ZERO };
        }
        if let Some(f) = skip.checked_sub(done).and_then(|l| flat.get_mut(l)) {
            *f = T::INFINITY;
        }
        // Whole lanes of the chunk (the entries past `m` stay ∞): the
        // minimum stays in registers.
        let mut mins = [T::INFINITY; 8];
        for f in flat.as_chunks::<8>().0 {
            for (lo, &v) in mins.iter_mut().zip(f) {
                *lo = if v < *lo { v } else { *lo };
            }
        }
        for v in mins {
            lo = if v < lo { v } else { lo };
        }
        for s in sin.iter_mut().take(m) {
            *s = s.sqrt();
        }
        for ((((kv, tv), &sj), &p), &s) in kc
            .iter_mut()
            .zip(tc.iter_mut())
            .zip(sqc)
            .zip(&rho)
            .zip(&sin)
        {
            let theta = super::pair::arc(s, p);
            let dot = c.half - c.factor * theta;
            *kv = c.factor * (vi.sq * sj * s) + dot * *kv;
            *tv *= dot;
        }
        done = end;
    }
    lo
}

/// Any nonlinearity over one row, entry by entry through the pair map, with
/// its per-entry bound (input correlation error `err`).
fn generic_row<T: Real>(
    step: &Step<T>,
    vi: Var<T>,
    (sq, r): (&[T], &[T]),
    (k, t): (&mut [T], &mut [T]),
    skip: usize,
    err: T,
    acc: &mut Acc<T>,
) {
    let (dqi, di_err) = step.diag_estimated(vi.q);
    let fi = step.input_factors(vi.q, dqi.0, dqi.1);
    let kink = step.kink();
    for (l, ((kv, tv), (&sj, &rj))) in k
        .iter_mut()
        .zip(t.iter_mut())
        .zip(sq.iter().zip(r))
        .enumerate()
    {
        let vj = Var {
            q: sj * sj,
            sq: sj,
            r: rj,
        };
        let k0 = *kv;
        let ((k2, dot), (ek, et)) = step.pair_estimated(vi, vj, k0);
        let (dqj, dj_err) = step.diag_estimated(vj.q);
        *kv = k2;
        *tv *= dot;
        let qk = relative_error(ek, (dqi.0 * dqj.0).sqrt());
        let qt = relative_error(et, (dqi.1 * dqj.1).sqrt());
        let qd = worse(
            relative_error(di_err.0, dqi.0) + relative_error(di_err.1, dqi.1),
            relative_error(dj_err.0, dqj.0) + relative_error(dj_err.1, dqj.1),
        );
        acc.quad = worse(
            acc.quad,
            worse(worse(qk, qt), if ENABLED { T::ZERO } else { qd }),
        );
        if !ENABLED || l == skip {
            continue;
        }
        let fj = step.input_factors(vj.q, dqj.0, dqj.1);
        let c = cosine(k0, vi.r, vj.r);
        let rho = snap(c);
        let snapped = !(rho.abs() < T::ONE);
        let e = err
            + if snapped {
                (T::ONE - c.abs()).abs()
            } else {
                T::ZERO
            };
        let amp = dot.abs() * fi.g * fj.g;
        let e2 = step.second_moment(vi, vj, k0, (k2, dot), fi.b * fj.b);
        let curv = e2 * fi.h * fj.h;
        let dtheta = if kink > T::ZERO {
            let holder = (T::TWO * e).sqrt();
            let s = ((T::ONE - rho) * (T::ONE + rho)).sqrt();
            if snapped || !(e / s < holder) {
                holder
            } else {
                e / s
            }
        } else {
            T::ZERO
        };
        acc.e = worse(acc.e, amp * e + qk);
        acc.t = worse(acc.t, curv * e + kink * dtheta + qt);
    }
}

/// The four tables of a pair: Σ_ab, Θ_ab, Σ_aa, Σ_bb.
#[cfg(feature = "attention")]
type Four<'t, T> = (&'t mut [T], &'t mut [T], &'t mut [T], &'t mut [T]);

#[cfg(feature = "attention")]
/// Layer norm on every table: each entry divided by √((q\[s\] + ε)(q\[t\] + ε)),
/// ε = 10⁻¹², with `na`, `nb` (one per input) for the factors
/// 1/√(q + ε).
///
/// The bound: with the divisor D, δΣ′ = δΣ/D − Σ′·δD/D, and the scales
/// map as the variances (v′ = v/(q + ε)), so e and θ grow by the relative
/// error of D, at most the variance error times the largest v/q of either
/// input (|Σ′| ≤ √(v′ₐv′_b) and |Θ′| ≤ √(u′ₐu′_b) by Cauchy–Schwarz).
fn layer_norm<'s, T: Real>(
    (sab, tab, saa, sbb): Four<'_, T>,
    (a, b): (&mut Side<'s, T>, &mut Side<'s, T>),
    (bc, bs, p): (Band, Band, usize),
    (na, nb): (&mut [T], &mut [T]),
    replay: bool,
    bound: &mut Bound<T>,
) -> Result<(), Error> {
    let eps = T::from_f64(1e-12);
    let rel = if ENABLED {
        let (ra, rb) = (a.ratio(p), b.ratio(p));
        bound.q * worse(ra * ra, rb * rb)
    } else {
        T::ZERO
    };
    for (side, n) in [(&*a, &mut *na), (&*b, &mut *nb)] {
        for s in 0..p {
            n[s] = T::ONE / (side.q[s] + eps).sqrt();
        }
    }
    let scale = |m: &mut [T], band: Band, x: &[T], y: &[T]| {
        let w = band.width();
        for s in 0..p {
            let row = &mut m[s * w..(s + 1) * w];
            let f = x[s];
            band.for_partners(s, |k, t| row[k] *= f * y[t]);
        }
    };
    scale(sab, bc, na, nb);
    scale(tab, bc, na, nb);
    if replay {
        // The tables of each input alone and their scales come from the tapes.
        let round = T::from_f64(4.0) * T::EPSILON;
        bound.e += rel + round;
        bound.t += rel + round;
        bound.q += round;
        return Ok(());
    }
    scale(saa, bs, na, na);
    scale(sbb, bs, nb, nb);
    for (side, n, table) in [(&mut *a, &*na, &*saa), (&mut *b, &*nb, &*sbb)] {
        for s in 0..p {
            let f = n[s] * n[s];
            side.v[s] *= f;
            side.u[s] *= f;
        }
        side.vars(table, bs, p);
        if side.q[..p].iter().any(|&q| q > T::ZERO && q < tiny()) {
            return Err(loss());
        }
    }
    let round = T::from_f64(4.0) * T::EPSILON;
    bound.e += rel + round;
    bound.t += rel + round;
    bound.q += round;
    Ok(())
}

#[cfg(feature = "attention")]
/// The constants of an attention layer.
struct Attend<T> {
    /// WQ·WK.
    wqk: T,
    /// (WV·WO)².
    c2: T,
    /// Softmax (or identity) weights.
    softmax: bool,
}

#[cfg(feature = "attention")]
/// Copies a whole table from its band layout to the standard row-major
/// |S| × |S| layout.
fn unpack<T: Real>(m: &[T], band: Band, p: usize, out: &mut [T]) {
    let w = band.width();
    for s in 0..p {
        band.scatter(s, &m[s * w..(s + 1) * w], &mut out[s * p..(s + 1) * p]);
    }
}

#[cfg(feature = "attention")]
/// `c = a·b` for row-major p × p matrices, in register tiles of four rows
/// of `c` by [`LANES`](crate::simd::LANES) columns: each entry the sum over
/// u = 0, 1, … of a\[r, u\]·b\[u, j\] in that order (fused multiply-adds),
/// streaming contiguous pieces of the rows of `b`.
fn product<T: Real>(a: &[T], b: &[T], c: &mut [T], p: usize) {
    const L: usize = crate::simd::LANES;
    let c = &mut c[..p * p];
    for r in (0..p).step_by(4) {
        let rows = (p - r).min(4);
        for j in (0..p).step_by(L) {
            let cols = (p - j).min(L);
            let mut acc = [[T::ZERO; L]; 4];
            if rows == 4 && cols == L {
                for u in 0..p {
                    let Some(bv) = b[u * p + j..].first_chunk::<L>() else {
                        continue;
                    };
                    let av = [
                        a[r * p + u],
                        a[(r + 1) * p + u],
                        a[(r + 2) * p + u],
                        a[(r + 3) * p + u],
                    ];
                    for (x, row) in av.iter().zip(acc.iter_mut()) {
                        for (y, &v) in row.iter_mut().zip(bv) {
                            *y = x.mul_add(v, *y);
                        }
                    }
                }
            } else {
                for u in 0..p {
                    let bv = &b[u * p + j..u * p + j + cols];
                    for (i, row) in acc.iter_mut().enumerate().take(rows) {
                        let x = a[(r + i) * p + u];
                        for (y, &v) in row.iter_mut().zip(bv) {
                            *y = x.mul_add(v, *y);
                        }
                    }
                }
            }
            for (i, row) in acc.iter().enumerate().take(rows) {
                c[(r + i) * p + j..(r + i) * p + j + cols].copy_from_slice(&row[..cols]);
            }
        }
    }
}

#[cfg(feature = "attention")]
/// The attention weights G of one input from its table `m` (whole, band
/// `band`), into `g` (row-major |S| × |S|).
fn weights<T: Real>(map: &Attend<T>, m: &[T], band: Band, p: usize, g: &mut [T]) {
    unpack(m, band, p, g);
    for row in g[..p * p].chunks_exact_mut(p) {
        if map.softmax {
            let mut top = -T::INFINITY;
            for x in row.iter_mut() {
                *x = map.wqk * *x;
                top = if *x > top { *x } else { top };
            }
            let mut sum = T::ZERO;
            for x in row.iter_mut() {
                *x = (*x - top).exp();
                sum += *x;
            }
            let inv = T::ONE / sum;
            for x in row.iter_mut() {
                *x *= inv;
            }
        } else {
            for x in row.iter_mut() {
                *x = map.wqk * *x;
            }
        }
    }
}

#[cfg(feature = "attention")]
/// `m ← c²·gx·m·gyᵀ` for a table `m` whole in band layout `from`, written
/// back in band layout `to`, through the standard-layout buffers `t1`,
/// `t2` (|S|² each) and `row` (|S|): two products of rows ([`product`]),
/// the second against gyᵀ, with `m` itself holding the result before it
/// is gathered into the band row by row.
fn transform<T: Real>(
    c2: T,
    m: &mut [T],
    (from, to): (Band, Band),
    p: usize,
    (gx, gy): (&[T], &[T]),
    (t1, t2, row): (&mut [T], &mut [T], &mut [T]),
) {
    let p2 = p * p;
    unpack(m, from, p, t1);
    product(gx, t1, t2, p);
    for (u, out) in t1[..p2].chunks_exact_mut(p).enumerate() {
        for (t, x) in out.iter_mut().enumerate() {
            *x = gy[t * p + u];
        }
    }
    product(t2, t1, m, p);
    // Row s of the band reads row s of the product only, and writes no
    // entry of a later row.
    let (w, row) = (to.width(), &mut row[..p]);
    for s in 0..p {
        row.copy_from_slice(&m[s * p..(s + 1) * p]);
        let dst = &mut m[s * w..(s + 1) * w];
        to.gather(s, row, dst);
        for x in dst.iter_mut() {
            *x = c2 * *x;
        }
    }
}

#[cfg(feature = "attention")]
/// Self-attention on every table (all whole, see [`super::band::bands`]):
/// Σ′ = c²·Gₐ Σ G_bᵀ, Θ′ = c²·Gₐ Θ G_bᵀ + 2Σ′, the tables of one input
/// likewise with its own weights on both sides.
///
/// The bound: with weights of absolute row sums rₐ\[s\], Cauchy–Schwarz gives
/// Σ_{s′t′}|Gₐ\[s,s′\]||G_b\[t,t′\]|√(vₐ\[s′\]v_b\[t′\]) ≤ √(v′ₐ\[s\]v′_b\[t\]) with
/// v′ = c²·r·|G|v (for softmax weights r = 1: the averaging of pooling), so
/// e keeps its value in the new scales, and u′ = c²·r·|G|u + 2v′ (Θ′ and
/// its 2Σ′ add, again by Cauchy–Schwarz). The weights carry the error of
/// the input tables: a softmax weight moves by at most twice the largest
/// logit error, |WQ·WK|·e·max v, relatively; an identity weight moves by
/// |WQ·WK|·e·√(v\[s\]v\[s′\]), which the last pass bounds against the new
/// scales entry by entry.
#[allow(clippy::too_many_arguments)]
fn attention<'s, T: Real>(
    map: &Attend<T>,
    (sab, tab, saa, sbb): Four<'_, T>,
    (a, b): (&mut Side<'s, T>, &mut Side<'s, T>),
    (g, (bc, bs), (nc, ns)): (Grid, (Band, Band), (Band, Band)),
    (scratch, work, va, vb): (&mut [T], &mut [T], &mut [T], &mut [T]),
    tape: &mut Tape<'_, T>,
    bound: &mut Bound<T>,
) -> Result<(), Error> {
    let replay = tape.replay();
    let p = g.positions();
    let p2 = p * p;
    let (ga, rest) = work.split_at_mut(p2);
    let (gb, rest) = rest.split_at_mut(p2);
    let t1 = &mut rest[..p2];
    if !replay {
        weights(map, saa, bs, p, ga);
        weights(map, sbb, bs, p, gb);
    }
    tape.exchange(ga, gb);
    let (cross, single) = ((bc, nc), (bs, ns));
    {
        let bufs = (&mut *t1, &mut scratch[..p2], &mut *va);
        transform(map.c2, sab, cross, p, (ga, gb), bufs);
        let bufs = (&mut *t1, &mut scratch[..p2], &mut *va);
        transform(map.c2, tab, cross, p, (ga, gb), bufs);
        let lc = nc.len();
        for (t, &k) in tab[..lc].iter_mut().zip(sab[..lc].iter()) {
            *t += T::TWO * k;
        }
        if !replay {
            let bufs = (&mut *t1, &mut scratch[..p2], &mut *va);
            transform(map.c2, saa, single, p, (ga, ga), bufs);
            let bufs = (&mut *t1, &mut scratch[..p2], &mut *va);
            transform(map.c2, sbb, single, p, (gb, gb), bufs);
        }
    }
    if ENABLED {
        let eg = worse(bound.e, bound.q);
        let mut eta = T::ZERO;
        let wqk = map.wqk.abs();
        // The new scales v′ (into `va`, `vb`) and c²·r·|G|u (into `t1`,
        // `scratch`), from the weights of each input alone.
        let (ua, ub) = (&mut t1[..p], &mut scratch[..p]);
        for (side, gx, nv, nu) in [
            (&*a, &*ga, &mut *va, &mut *ua),
            (&*b, &*gb, &mut *vb, &mut *ub),
        ]
        .into_iter()
        .filter(|_| !replay)
        {
            for s in 0..p {
                let row = &gx[s * p..(s + 1) * p];
                let (mut r, mut sv, mut su) = (T::ZERO, T::ZERO, T::ZERO);
                for (x, (&v, &u)) in row.iter().zip(side.v.iter().zip(side.u.iter())) {
                    r += x.abs();
                    sv += x.abs() * v;
                    su += x.abs() * u;
                }
                nv[s] = map.c2 * r * sv;
                nu[s] = map.c2 * r * su;
            }
        }
        tape.exchange(&mut va[..p], &mut vb[..p]);
        tape.exchange(ua, ub);
        for (side, nv, nu) in [(&mut *a, &*va, &*t1), (&mut *b, &*vb, &*scratch)] {
            // Σ_s′ √(v[s′]·m[s′]) for m = v, u (identity weights).
            let (mut kv, mut ku, mut top) = (T::ZERO, T::ZERO, T::ZERO);
            for s in 0..p {
                kv += side.v[s];
                ku += (side.v[s] * side.u[s]).sqrt();
                top = worse(top, side.v[s]);
            }
            if map.softmax {
                let weight = T::from_usize(p + 8) * T::EPSILON;
                eta = worse(eta, T::TWO * wqk * eg * top + weight);
            } else {
                for s in 0..p {
                    let (v2, u2) = (nv[s], nu[s]);
                    // c·|WQ·WK|·e·√v[s]·Σ√(v·m) against √m′[s].
                    let c = map.c2.sqrt();
                    let ratio = |num: T, den: T| {
                        if num == T::ZERO {
                            T::ZERO
                        } else {
                            num / den.sqrt()
                        }
                    };
                    let base = c * wqk * eg * side.v[s].sqrt();
                    eta = worse(eta, ratio(base * kv, v2));
                    eta = worse(eta, ratio(base * ku, u2));
                }
            }
            for s in 0..p {
                side.v[s] = nv[s];
                side.u[s] = nu[s] + T::TWO * nv[s];
            }
        }
        let round = T::from_usize(2 * p + 6) * T::EPSILON;
        let e = eg + T::TWO * eta + round;
        bound.t = worse(bound.t + T::TWO * eta, e) + round;
        bound.e = e;
        bound.q = e;
    }
    for (side, table) in [(&mut *a, &*saa), (&mut *b, &*sbb)]
        .into_iter()
        .filter(|_| !replay)
    {
        side.vars(table, ns, p);
        if side.q[..p].iter().any(|&q| q > T::ZERO && q < tiny()) {
            return Err(loss());
        }
    }
    Ok(())
}

#[cfg(feature = "attention")]
/// Keeps the state of a pair at the start of a residual block in `slot`.
fn save<T: Real>(
    slot: &mut [T],
    (sab, tab, saa, sbb): (&[T], &[T], &[T], &[T]),
    (a, b, p): (&Side<'_, T>, &Side<'_, T>, usize),
    bound: &Bound<T>,
) {
    let mut at = 0;
    for m in [
        sab,
        tab,
        saa,
        sbb,
        &a.v[..p],
        &a.u[..p],
        &b.v[..p],
        &b.u[..p],
    ] {
        if let Some(d) = slot.get_mut(at..at + m.len()) {
            d.copy_from_slice(m);
        }
        at += m.len();
    }
    if let Some(d) = slot.get_mut(at..at + 3) {
        d.copy_from_slice(&[bound.e, bound.q, bound.t]);
    }
}

#[cfg(feature = "attention")]
/// Adds the state kept by [`save`] to the state of the block's end.
///
/// The bound: the errors of the two terms add, and by Cauchy–Schwarz
/// e₁√(v₁v₁′) + e₂√(v₂v₂′) ≤ max(e₁, e₂)·√((v₁ + v₂)(v₁′ + v₂′)): the
/// scales add and the bound is the worse of the two, plus the rounding.
fn restore<T: Real>(
    slot: &[T],
    (sab, tab, saa, sbb): Four<'_, T>,
    (a, b, p): (&mut Side<'_, T>, &mut Side<'_, T>, usize),
    bound: &mut Bound<T>,
) {
    let mut at = 0;
    let (av, au) = (&mut a.v[..p], &mut a.u[..p]);
    let (bv, bu) = (&mut b.v[..p], &mut b.u[..p]);
    for m in [sab, tab, saa, sbb, av, au, bv, bu] {
        if let Some(s) = slot.get(at..at + m.len()) {
            for (x, &y) in m.iter_mut().zip(s) {
                *x += y;
            }
        }
        at += m.len();
    }
    if let Some(&[e, q, t]) = slot.get(at..at + 3) {
        let eps = T::EPSILON;
        bound.e = worse(bound.e, e) + eps;
        bound.q = worse(bound.q, q) + eps;
        bound.t = worse(bound.t, t) + eps;
    }
}
