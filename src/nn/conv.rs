//! The one-dimensional convolution over sequences `[[T; C]; L]` (channels
//! innermost).

use super::{ConvFactors, GradSink, Module, Parameterization, Params, WeightGradBuffer, Zeroed};
use crate::{simd, Real, Rng};

/// How a convolution reads positions beyond the ends of the sequence.
///
/// Represented as a `u8` with [`Padding::Same`] = 0, so that an all-zero
/// convolution is a valid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Padding {
    /// Zeros beyond both ends; the output has the input's length.
    Same = 0,
    /// The sequence wraps around (position `-1` is position `L - 1`).
    Circular = 1,
}

/// The input position filter tap `d` of a width-`q` filter reads at output
/// position `p` of a sequence of `l` positions, if any.
#[inline]
pub(crate) fn source(padding: Padding, q: usize, l: usize, p: usize, d: usize) -> Option<usize> {
    let h = q.saturating_sub(1) / 2;
    let at = p + d;
    match padding {
        Padding::Same => at.checked_sub(h).filter(|&s| s < l),
        Padding::Circular if l == 0 => None,
        // p + d + l·⌈h/l⌉ − h ≥ 0, reduced mod l.
        Padding::Circular => Some((at + l * h.div_ceil(l) - h) % l),
    }
}

/// Runs the macro `$tile!(KB, k0)` over the filter elements `0..$k` in
/// chunks of `KB`: `$big` elements at a time, then
/// [`simd::LANES`], 4 and 1, so that every chunk length is a constant.
macro_rules! by_chunks {
    ($k:expr, $big:expr, $tile:ident) => {{
        let mut k0 = 0;
        while k0 + $big <= $k {
            $tile!($big, k0);
            k0 += $big;
        }
        while k0 + simd::LANES <= $k {
            $tile!({ simd::LANES }, k0);
            k0 += simd::LANES;
        }
        while k0 + 4 <= $k {
            $tile!(4, k0);
            k0 += 4;
        }
        while k0 < $k {
            $tile!(1, k0);
            k0 += 1;
        }
    }};
}

/// Positions per block of the register-blocked kernels: two vectors of
/// [`simd::LANES`] positions.
const PB: usize = 2 * simd::LANES;

/// `f32` lanes per vector register of the build: the tiles below are sized
/// to keep their sums in the register file (32 registers with AVX-512, 16
/// otherwise).
const VECTOR: usize = if cfg!(target_feature = "avx512f") {
    16
} else if cfg!(target_feature = "avx") {
    8
} else {
    4
};

/// Output channels per tile of the blocked forward pass (`TILE_F·PB`
/// sums: 12 registers).
const TILE_F: usize = if 12 * VECTOR / PB > 1 {
    12 * VECTOR / PB
} else {
    1
};

/// Output channels per tile of the blocked weight gradient and positions
/// per tile of the blocked input cotangent (`TILE·KB` sums).
const TILE: usize = if VECTOR >= 16 { 6 } else { 3 };

/// Filter elements per tile of the blocked weight gradient and input
/// cotangent: 4 registers of `f32`, or of `f64` with AVX-512, else 2.
const KB_F32: usize = 4 * VECTOR;
/// As [`KB_F32`], for wider scalars.
const KB_F64: usize = if VECTOR >= 16 {
    4 * VECTOR / 2
} else {
    2 * VECTOR / 2
};

/// The blocked forward pass: `R` output channels × [`PB`] positions of
/// accumulators over the taps `(δ, c)`, read from a channel-major window.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_tile<T: Real, const C_IN: usize, const C_OUT: usize, const Q: usize, const R: usize>(
    weight: &[[[T; C_IN]; Q]; C_OUT],
    bias: &[T; C_OUT],
    win: &[[T; 2 * PB]; C_IN],
    o0: usize,
    (ws, bs): (T, T),
    y: &mut [[T; C_OUT]],
) {
    let (Some(rows), Some(bias)) = (
        weight[o0..].first_chunk::<R>(),
        bias[o0..].first_chunk::<R>(),
    ) else {
        return;
    };
    let mut acc = [[T::ZERO; PB]; R];
    for d in 0..Q {
        for (c, row) in win.iter().enumerate() {
            let Some(v) = row[d..].first_chunk::<PB>() else {
                continue;
            };
            let w: [T; R] = core::array::from_fn(|r| rows[r][d][c]);
            for (a, &w) in acc.iter_mut().zip(&w) {
                for (a, &x) in a.iter_mut().zip(v) {
                    *a = w.mul_add(x, *a);
                }
            }
        }
    }
    for (r, (a, &b)) in acc.iter().zip(bias).enumerate() {
        let b = bs * b;
        for (yp, &v) in y.iter_mut().zip(a) {
            yp[o0 + r] = ws * v + b;
        }
    }
}

/// The blocked weight gradient: `R` output channels × `KB` filter elements
/// of accumulators over the positions of a position-major window.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn weight_grad_tile<T: Real, const C_OUT: usize, const R: usize, const KB: usize>(
    dy: &[[T; C_OUT]],
    win: &[T],
    c_in: usize,
    o0: usize,
    k0: usize,
    ws: T,
    gw: &mut [T],
    k: usize,
    fresh: bool,
) {
    let mut acc = [[T::ZERO; KB]; R];
    for (j, d) in dy.iter().enumerate() {
        let (Some(v), Some(s)) = (
            win[j * c_in + k0..].first_chunk::<KB>(),
            d[o0..].first_chunk::<R>(),
        ) else {
            continue;
        };
        for (a, &s) in acc.iter_mut().zip(s) {
            for (a, &x) in a.iter_mut().zip(v) {
                *a = s.mul_add(x, *a);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        let at = (o0 + r) * k + k0;
        // A fresh gradient is written as if added to zeros, bit for bit.
        if fresh {
            for (g, &v) in gw[at..at + KB].iter_mut().zip(a) {
                *g = ws.mul_add(v, T::ZERO);
            }
        } else {
            for (g, &v) in gw[at..at + KB].iter_mut().zip(a) {
                *g = ws.mul_add(v, *g);
            }
        }
    }
}

/// The blocked input cotangent: `R` positions × `KB` filter elements of
/// accumulators over the output channels, added into a position-major window.
#[inline(always)]
fn cotangent_tile<T: Real, const C_OUT: usize, const R: usize, const KB: usize>(
    dy: &[[T; C_OUT]],
    weight: &[T],
    k: usize,
    k0: usize,
    ws: T,
    win: &mut [T],
    c_in: usize,
) {
    let Some(dy) = dy.first_chunk::<R>() else {
        return;
    };
    let mut acc = [[T::ZERO; KB]; R];
    for o in 0..C_OUT {
        let Some(w) = weight[o * k + k0..].first_chunk::<KB>() else {
            continue;
        };
        for (a, d) in acc.iter_mut().zip(dy) {
            let s = d[o];
            for (a, &x) in a.iter_mut().zip(w) {
                *a = s.mul_add(x, *a);
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        let at = j * c_in + k0;
        for (g, &v) in win[at..at + KB].iter_mut().zip(a) {
            *g = ws.mul_add(v, *g);
        }
    }
}

/// A convolution `[[T; C_IN]; L] → [[T; C_OUT]; L]` with an odd filter width
/// `Q`, stride 1 and [`Padding`] `padding`:
///
/// `y[p][o] = ws · Σ_{δ<Q, c} W[o][δ][c] · x[p + δ − (Q−1)/2][c] + bs · b[o]`
///
/// with `ws = σw/√(Q·C_IN)`, `bs = σb` in [`Parameterization::Ntk`] and
/// `ws = 1`, `bs = σb` (weights drawn with standard deviation
/// `σw/√(Q·C_IN)`) in [`Parameterization::Standard`], as [`Dense`](super::Dense)
/// with fan-in `Q·C_IN`. The weight is stored `weight[o][δ][c]`; the
/// [`Params`] order is the weight in that order, then the bias.
///
/// A filter of width 1 is a dense layer applied at every position with
/// shared weights.
///
/// For the empirical NTK a convolution contributes
/// `Θ_l(x, x') = G(x)·G(x')`, `G` its parameter gradient summed over
/// positions, computed in one of two ways, whichever costs fewer
/// multiply-adds per pair of inputs and output (with `m = Q·C_IN + 1`):
///
/// - by gradients: `m·C_OUT` per pair (plus `L·Q·C_IN·C_OUT` per input to
///   form `G`); the layer lists itself in [`Params::dense_shapes`] as two
///   factors `(0, Q·C_IN·C_OUT)` and `(0, C_OUT)`, the structured method's
///   records hold `G_W`, `G_b` per output;
/// - factored ([`Conv1d::FACTORED`]): `Θ_l = Σ_{p,p'} (δ_p·δ'_{p'})·(ā_p·ā'_{p'})`
///   with `ā_p` the scaled patch at position `p` (see [`ConvFactors::patch`]),
///   `L²·(m + C_OUT)` per pair; the records hold `L·m` activations and
///   `L·C_OUT` cotangents per output, and [`Params::factor_shapes`] lists
///   `(L, m, C_OUT)` (and `dense_shapes` one factor `(L·m − 1, L·C_OUT)`).
///
/// The factored form pays off for short sequences of many channels.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Conv1d, Module, Padding};
/// use ntk::Rng;
/// let mut conv: Conv1d<f64, 1, 1, 3, 4> = Conv1d::ntk(3f64.sqrt(), 0.0, &mut Rng::new(1));
/// conv.weight = [[[1.0], [2.0], [3.0]]];
/// let x = [[1.0], [0.0], [0.0], [1.0]];
/// // zero padding: y[0] = 2·x[0] + 3·x[1]; y[3] = 1·x[2] + 2·x[3]
/// assert_eq!(conv.eval(&x), [[2.0], [1.0], [3.0], [2.0]]);
/// conv.padding = Padding::Circular;
/// // wrapping: y[0] = 1·x[3] + 2·x[0] + 3·x[1]
/// assert_eq!(conv.eval(&x), [[3.0], [1.0], [3.0], [5.0]]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv1d<T, const C_IN: usize, const C_OUT: usize, const Q: usize, const L: usize> {
    /// Filters, `weight[o][δ][c]`.
    pub weight: [[[T; C_IN]; Q]; C_OUT],
    /// Bias per output channel.
    pub bias: [T; C_OUT],
    /// Weight standard deviation σw.
    pub weight_std: T,
    /// Bias standard deviation σb.
    pub bias_std: T,
    /// The parameterisation.
    pub parameterization: Parameterization,
    /// The padding.
    pub padding: Padding,
}

/// All parameters zero, σw = σb = 0, [`Parameterization::Ntk`],
/// [`Padding::Same`]: every byte zero.
impl<T: Real, const C_IN: usize, const C_OUT: usize, const Q: usize, const L: usize> Zeroed
    for Conv1d<T, C_IN, C_OUT, Q, L>
{
    const ZEROED: Self = Self {
        weight: [[[T::ZERO; C_IN]; Q]; C_OUT],
        bias: [T::ZERO; C_OUT],
        weight_std: T::ZERO,
        bias_std: T::ZERO,
        parameterization: Parameterization::Ntk,
        padding: Padding::Same,
    };
}

impl<T: Real, const C_IN: usize, const C_OUT: usize, const Q: usize, const L: usize>
    Conv1d<T, C_IN, C_OUT, Q, L>
{
    /// A layer with parameters drawn from `rng` for the given
    /// parameterisation, with [`Padding::Same`].
    pub fn new(
        weight_std: T,
        bias_std: T,
        parameterization: Parameterization,
        rng: &mut Rng,
    ) -> Self {
        const { assert!(Q % 2 == 1, "the filter width Q must be odd") };
        let mut c = Self::ZEROED;
        c.set_scales(weight_std, bias_std, parameterization);
        c.reinit(rng);
        c
    }

    /// A layer in NTK parameterization (`W, b ~ N(0, 1)`), [`Padding::Same`].
    pub fn ntk(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Ntk,
            rng,
        )
    }

    /// A layer in standard parameterization (`W ~ N(0, σw²/(Q·C_IN))`,
    /// `b ~ N(0, 1)`), [`Padding::Same`].
    pub fn standard(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Standard,
            rng,
        )
    }

    /// `true` if the structured empirical NTK uses the factored form,
    /// `L²·(Q·C_IN + 1 + C_OUT) < (Q·C_IN + 1)·C_OUT` (and `L > 1`).
    pub const FACTORED: bool = {
        let m = Q * C_IN + 1;
        L > 1 && L * L * (m + C_OUT) < m * C_OUT
    };

    /// The same layer with `padding`.
    pub fn with_padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The weight scale `ws` and bias scale `bs`.
    #[inline]
    pub fn scales(&self) -> (T, T) {
        let [ws, bs, ..] =
            self.parameterization
                .factors(self.weight_std, self.bias_std, Q * C_IN, C_OUT);
        (ws, bs)
    }

    /// The input position filter tap `d` reads at output position `p`, if
    /// any.
    #[inline]
    fn source(&self, p: usize, d: usize) -> Option<usize> {
        source(self.padding, Q, L, p, d)
    }

    /// The taps of output position `p` as runs of consecutive taps that read
    /// consecutive input positions, `(first tap, first source, taps)`, and
    /// their number: one run of all `Q` taps inside the sequence, up to two
    /// at a wrapping end, fewer taps at a zero-padded end. A run's weights
    /// `W[o][t..t + n]` and inputs `x[src..src + n]` are contiguous slices of
    /// `Q·C_IN` or fewer elements, so every loop below is a dot product or an
    /// axpy over them.
    #[inline(always)]
    fn runs(&self, p: usize) -> ([(usize, usize, usize); Q], usize) {
        let mut r = [(0usize, 0usize, 0usize); Q];
        let h = Q.saturating_sub(1) / 2;
        if p >= h && p + h < L {
            r[0] = (0, p - h, Q);
            return (r, 1);
        }
        let mut n = 0usize;
        for t in 0..Q {
            let Some(src) = self.source(p, t) else {
                continue;
            };
            match n.checked_sub(1).map(|i| &mut r[i]) {
                Some(last) if last.0 + last.2 == t && last.1 + last.2 == src => last.2 += 1,
                _ => {
                    r[n] = (t, src, 1);
                    n += 1;
                }
            }
        }
        (r, n)
    }

    /// Whether the register-blocked kernels apply: a target with vector
    /// registers, and a filter whose halo fits a block of positions.
    const BLOCKED: bool = simd::WIDE && Q <= PB + 1;

    /// Fills `win[i]` with the input at window position `i` of the block
    /// starting at `p0` (the position tap `i` reads at output `p0`), zeros in
    /// the padding, for `i < n`.
    #[inline(always)]
    fn window(
        &self,
        x: &[[T; C_IN]; L],
        p0: usize,
        n: usize,
        mut put: impl FnMut(usize, Option<&[T; C_IN]>),
    ) {
        for i in 0..n {
            put(i, self.source(p0, i).map(|s| &x[s]));
        }
    }

    /// [`Module::forward`] by blocks of [`PB`] positions: the window of
    /// inputs a block reads is transposed to channel-major rows once, and
    /// each tile of output channels × positions keeps its sums in registers.
    fn forward_blocked(&self, x: &[[T; C_IN]; L], y: &mut [[T; C_OUT]; L]) {
        let scales = self.scales();
        let mut win = [[T::ZERO; 2 * PB]; C_IN];
        for p0 in (0..L).step_by(PB) {
            let n = (L - p0).min(PB);
            // Window positions past the block's last output feed only
            // outputs that are not stored; they are zero.
            for row in win.iter_mut() {
                row.fill(T::ZERO);
            }
            self.window(x, p0, n + Q - 1, |i, v| {
                if let Some(v) = v {
                    for (row, &xc) in win.iter_mut().zip(v) {
                        row[i] = xc;
                    }
                }
            });
            let y = &mut y[p0..p0 + n];
            let mut o0 = 0;
            while o0 + TILE_F <= C_OUT {
                forward_tile::<T, C_IN, C_OUT, Q, TILE_F>(
                    &self.weight,
                    &self.bias,
                    &win,
                    o0,
                    scales,
                    y,
                );
                o0 += TILE_F;
            }
            while o0 < C_OUT {
                forward_tile::<T, C_IN, C_OUT, Q, 1>(&self.weight, &self.bias, &win, o0, scales, y);
                o0 += 1;
            }
        }
    }

    /// Whether the forward pass goes by [`Conv1d::forward_positions`]: a
    /// short filter row (at most 16 taps per output) and at most 256 bytes
    /// of output channels per position, which then fit the register file.
    const SHORT_ROWS: bool =
        Self::BLOCKED && Q * C_IN <= 16 && C_OUT * core::mem::size_of::<T>() <= 256;

    /// [`Module::forward`] for a short filter row: tiles of [`TILE`]
    /// positions × all output channels keep their sums in registers, over
    /// the weights transposed once to rows over the output channels, and
    /// each output position is stored whole. Every sum takes its taps in
    /// the order of [`Conv1d::forward_blocked`], with the same arithmetic:
    /// the two agree bitwise.
    fn forward_positions(&self, x: &[[T; C_IN]; L], y: &mut [[T; C_OUT]; L]) {
        let (ws, bs) = self.scales();
        let mut wt = [[[T::ZERO; C_OUT]; C_IN]; Q];
        for (o, wo) in self.weight.iter().enumerate() {
            for (d, wd) in wo.iter().enumerate() {
                for (c, &w) in wd.iter().enumerate() {
                    wt[d][c][o] = w;
                }
            }
        }
        let b: [T; C_OUT] = core::array::from_fn(|o| bs * self.bias[o]);
        let mut p0 = 0;
        while p0 + TILE <= L {
            self.positions_tile::<TILE>(x, &wt, p0, (ws, &b), y);
            p0 += TILE;
        }
        while p0 < L {
            self.positions_tile::<1>(x, &wt, p0, (ws, &b), y);
            p0 += 1;
        }
    }

    /// Output positions `p0..p0 + R` of [`Conv1d::forward_positions`].
    #[inline(always)]
    fn positions_tile<const R: usize>(
        &self,
        x: &[[T; C_IN]; L],
        wt: &[[[T; C_OUT]; C_IN]; Q],
        p0: usize,
        (ws, b): (T, &[T; C_OUT]),
        y: &mut [[T; C_OUT]; L],
    ) {
        let zero = [T::ZERO; C_IN];
        let mut acc = [[T::ZERO; C_OUT]; R];
        for (d, wd) in wt.iter().enumerate() {
            let rows: [&[T; C_IN]; R] =
                core::array::from_fn(|r| self.source(p0 + r, d).map_or(&zero, |s| &x[s]));
            for (c, w) in wd.iter().enumerate() {
                for (a, row) in acc.iter_mut().zip(&rows) {
                    let v = row[c];
                    for (a, &w) in a.iter_mut().zip(w) {
                        *a = w.mul_add(v, *a);
                    }
                }
            }
        }
        for (a, yp) in acc.iter().zip(&mut y[p0..]) {
            for ((yo, &v), &bo) in yp.iter_mut().zip(a).zip(b) {
                *yo = ws * v + bo;
            }
        }
    }

    /// [`Conv1d::param_grad`] by blocks of [`PB`] positions: the patches of a
    /// block are consecutive slices of a position-major window, and each tile
    /// of output channels × filter elements keeps its sums in registers.
    ///
    /// With `fresh`, `gw` is overwritten (what adding to zeros gives) rather
    /// than added to.
    fn weight_grad_blocked(
        &self,
        x: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        gw: &mut [T],
        fresh: bool,
    ) {
        if core::mem::size_of::<T>() <= 4 {
            self.weight_grad_blocked_by::<KB_F32>(x, dy, gw, fresh);
        } else {
            self.weight_grad_blocked_by::<KB_F64>(x, dy, gw, fresh);
        }
    }

    #[inline(always)]
    fn weight_grad_blocked_by<const KB: usize>(
        &self,
        x: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        gw: &mut [T],
        fresh: bool,
    ) {
        let (ws, _) = self.scales();
        let k = Q * C_IN;
        let mut win = [[T::ZERO; C_IN]; 2 * PB];
        for p0 in (0..L).step_by(PB) {
            let fresh = fresh && p0 == 0;
            let n = (L - p0).min(PB);
            self.window(x, p0, n + Q - 1, |i, v| {
                win[i] = v.copied().unwrap_or([T::ZERO; C_IN]);
            });
            let wf = win.as_flattened();
            let dy = &dy[p0..p0 + n];
            let mut o0 = 0;
            while o0 + TILE <= C_OUT {
                macro_rules! tile {
                    ($kb:expr, $k0:expr) => {
                        weight_grad_tile::<T, C_OUT, TILE, $kb>(
                            dy, wf, C_IN, o0, $k0, ws, gw, k, fresh,
                        )
                    };
                }
                by_chunks!(k, KB, tile);
                o0 += TILE;
            }
            while o0 < C_OUT {
                macro_rules! tile {
                    ($kb:expr, $k0:expr) => {
                        weight_grad_tile::<T, C_OUT, 1, $kb>(
                            dy, wf, C_IN, o0, $k0, ws, gw, k, fresh,
                        )
                    };
                }
                by_chunks!(k, KB, tile);
                o0 += 1;
            }
        }
    }

    /// [`Conv1d::input_cotangent`] by blocks of [`PB`] positions: each tile
    /// of positions × filter elements sums over the output channels in
    /// registers into a position-major window, which is then added to the
    /// input positions it covers.
    fn input_cotangent_blocked(&self, dy: &[[T; C_OUT]; L]) -> [[T; C_IN]; L] {
        if core::mem::size_of::<T>() <= 4 {
            self.input_cotangent_blocked_by::<KB_F32>(dy)
        } else {
            self.input_cotangent_blocked_by::<KB_F64>(dy)
        }
    }

    #[inline(always)]
    fn input_cotangent_blocked_by<const KB: usize>(&self, dy: &[[T; C_OUT]; L]) -> [[T; C_IN]; L] {
        let (ws, _) = self.scales();
        let k = Q * C_IN;
        let w = self.weight.as_flattened().as_flattened();
        let mut dx = [[T::ZERO; C_IN]; L];
        let mut win = [[T::ZERO; C_IN]; 2 * PB];
        for p0 in (0..L).step_by(PB) {
            let n = (L - p0).min(PB);
            win.fill([T::ZERO; C_IN]);
            let wf = win.as_flattened_mut();
            let mut j0 = 0;
            while j0 < n {
                let r = if j0 + TILE <= n { TILE } else { 1 };
                let d = &dy[p0 + j0..p0 + j0 + r];
                let wj = &mut wf[j0 * C_IN..];
                if r == TILE {
                    macro_rules! tile {
                        ($kb:expr, $k0:expr) => {
                            cotangent_tile::<T, C_OUT, TILE, $kb>(d, w, k, $k0, ws, wj, C_IN)
                        };
                    }
                    by_chunks!(k, KB, tile);
                } else {
                    macro_rules! tile {
                        ($kb:expr, $k0:expr) => {
                            cotangent_tile::<T, C_OUT, 1, $kb>(d, w, k, $k0, ws, wj, C_IN)
                        };
                    }
                    by_chunks!(k, KB, tile);
                }
                j0 += r;
            }
            for (i, v) in win.iter().enumerate().take(n + Q - 1) {
                if let Some(s) = self.source(p0, i) {
                    for (a, &b) in dx[s].iter_mut().zip(v) {
                        *a += b;
                    }
                }
            }
        }
        dx
    }

    /// The parameter gradient (weight, bias) of `dy · f(x)` summed over
    /// positions, added to `gw`, `gb`.
    ///
    /// Per output channel, the positions with a nonzero cotangent go four at
    /// a time into one [`axpy4`](simd::axpy4) over the filter row (each row
    /// element loaded and stored once per four positions).
    fn param_grad(
        &self,
        x: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        gw: &mut [[[T; C_IN]; Q]; C_OUT],
        gb: &mut [T; C_OUT],
    ) {
        self.weight_grad(x, dy, gw.as_flattened_mut().as_flattened_mut());
        self.bias_grad(dy, gb);
    }

    /// The weight gradient summed over positions, added to `gw`
    /// (`C_OUT·Q·C_IN` elements, [`Params`] order).
    fn weight_grad(&self, x: &[[T; C_IN]; L], dy: &[[T; C_OUT]; L], gw: &mut [T]) {
        if Self::BLOCKED {
            self.weight_grad_blocked(x, dy, gw, false);
        } else {
            self.weight_grad_axpy(x, dy, gw);
        }
    }

    /// The bias gradient summed over positions, added to `gb`.
    fn bias_grad(&self, dy: &[[T; C_OUT]; L], gb: &mut [T; C_OUT]) {
        let (_, bs) = self.scales();
        for d in dy {
            for (g, &dpo) in gb.iter_mut().zip(d) {
                *g += bs * dpo;
            }
        }
    }

    /// What [`GradSink::conv`] receives.
    fn factors<'a>(
        &self,
        cache: &'a [[T; C_IN]; L],
        dy: &'a [[T; C_OUT]; L],
        weight_grad: &'a [T],
        bias_grad: &'a [T; C_OUT],
    ) -> ConvFactors<'a, T> {
        let (ws, bs) = self.scales();
        ConvFactors {
            input: cache.as_flattened(),
            c_in: C_IN,
            width: Q,
            padding: self.padding,
            ws,
            bs,
            dy: dy.as_flattened(),
            weight_grad,
            bias_grad,
            factored: Self::FACTORED,
        }
    }

    /// [`Module::backward_params`] for a sink that does not lend a buffer:
    /// the weight gradient is built on this function's stack frame, which
    /// exists only on this path.
    #[inline(never)]
    fn backward_params_own<S: GradSink<T>>(
        &self,
        cache: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        sink: &mut S,
    ) {
        let mut gw = [[[T::ZERO; C_IN]; Q]; C_OUT];
        let mut gb = [T::ZERO; C_OUT];
        self.param_grad(cache, dy, &mut gw, &mut gb);
        let gw = gw.as_flattened().as_flattened();
        sink.conv(&self.factors(cache, dy, gw, &gb));
    }

    /// The weight gradient by [`axpy4`](simd::axpy4) over filter rows.
    fn weight_grad_axpy(&self, x: &[[T; C_IN]; L], dy: &[[T; C_OUT]; L], gw: &mut [T]) {
        let (ws, _) = self.scales();
        let xf = x.as_flattened();
        let full = Q * C_IN;
        if full == 0 {
            return;
        }
        for (o, g) in gw.chunks_exact_mut(full).enumerate().take(C_OUT) {
            // whole-filter positions waiting for a group of four
            let mut alpha = [T::ZERO; 4];
            let mut at = [0usize; 4];
            let mut waiting = 0;
            // the positions with a nonzero cotangent, listed without branches
            let mut list = [0usize; L];
            let mut len = 0;
            for (p, d) in dy.iter().enumerate() {
                list[len] = p;
                len += usize::from(d[o] != T::ZERO);
            }
            for &p in &list[..len] {
                let s = ws * dy[p][o];
                let (runs, n) = self.runs(p);
                if n == 1 && runs[0].2 == Q {
                    alpha[waiting] = s;
                    at[waiting] = runs[0].1 * C_IN;
                    waiting += 1;
                    if waiting == 4 {
                        let x4 = at.map(|a| &xf[a..a + full]);
                        simd::axpy4(alpha, x4, g);
                        waiting = 0;
                    }
                } else {
                    for &(t, src, len) in &runs[..n] {
                        let xs = &xf[src * C_IN..(src + len) * C_IN];
                        simd::axpy(s, xs, &mut g[t * C_IN..(t + len) * C_IN]);
                    }
                }
            }
            for (&s, &a) in alpha.iter().zip(&at).take(waiting) {
                simd::axpy(s, &xf[a..a + full], g);
            }
        }
    }

    /// The input cotangent: per position, the output channels with a nonzero
    /// cotangent go four at a time into one [`axpy4`](simd::axpy4) over the
    /// input patch.
    fn input_cotangent(&self, dy: &[[T; C_OUT]; L]) -> [[T; C_IN]; L] {
        if Self::BLOCKED {
            return self.input_cotangent_blocked(dy);
        }
        let (ws, _) = self.scales();
        let mut dx = [[T::ZERO; C_IN]; L];
        let dxf = dx.as_flattened_mut();
        let rows = |o: usize, t: usize, len: usize| {
            &self.weight[o].as_flattened()[t * C_IN..(t + len) * C_IN]
        };
        for (p, d) in dy.iter().enumerate() {
            let (runs, n) = self.runs(p);
            let runs = &runs[..n];
            let mut alpha = [T::ZERO; 4];
            let mut chan = [0usize; 4];
            let mut waiting = 0;
            let mut list = [0usize; C_OUT];
            let mut len = 0;
            for (o, &dpo) in d.iter().enumerate() {
                list[len] = o;
                len += usize::from(dpo != T::ZERO);
            }
            for &o in &list[..len] {
                alpha[waiting] = ws * d[o];
                chan[waiting] = o;
                waiting += 1;
                if waiting == 4 {
                    for &(t, src, len) in runs {
                        let w4 = chan.map(|o| rows(o, t, len));
                        simd::axpy4(alpha, w4, &mut dxf[src * C_IN..(src + len) * C_IN]);
                    }
                    waiting = 0;
                }
            }
            for (&s, &o) in alpha.iter().zip(&chan).take(waiting) {
                for &(t, src, len) in runs {
                    simd::axpy(s, rows(o, t, len), &mut dxf[src * C_IN..(src + len) * C_IN]);
                }
            }
        }
        dx
    }
}

impl<T: Real, const C_IN: usize, const C_OUT: usize, const Q: usize, const L: usize>
    Module<T, [[T; C_IN]; L]> for Conv1d<T, C_IN, C_OUT, Q, L>
{
    type Output = [[T; C_OUT]; L];
    type Cache = [[T; C_IN]; L];

    fn forward(&self, x: &[[T; C_IN]; L], cache: &mut [[T; C_IN]; L]) -> [[T; C_OUT]; L] {
        const { assert!(Q % 2 == 1, "the filter width Q must be odd") };
        *cache = *x;
        let mut y = [[T::ZERO; C_OUT]; L];
        if Self::SHORT_ROWS {
            self.forward_positions(x, &mut y);
            return y;
        }
        if Self::BLOCKED {
            self.forward_blocked(x, &mut y);
            return y;
        }
        let (ws, bs) = self.scales();
        // y[p] += Σ_{t,c} x[p + t − h][c]·W[·][t][c]: per tap, four input
        // channels at a time, their weights gathered into four rows over the
        // output channels (in cache across positions), one axpy4 per position.
        for t in 0..Q {
            let mut c = 0;
            while c < C_IN {
                let w = (C_IN - c).min(4);
                let mut rows = [[T::ZERO; C_OUT]; 4];
                for (o, wo) in self.weight.iter().enumerate() {
                    for (j, r) in rows.iter_mut().take(w).enumerate() {
                        r[o] = wo[t][c + j];
                    }
                }
                for (p, yp) in y.iter_mut().enumerate() {
                    let Some(src) = self.source(p, t) else {
                        continue;
                    };
                    let mut alpha = [T::ZERO; 4];
                    alpha[..w].copy_from_slice(&x[src][c..c + w]);
                    let [r0, r1, r2, r3] = &rows;
                    simd::axpy4(alpha, [r0, r1, r2, r3], yp);
                }
                c += w;
            }
        }
        for yp in &mut y {
            for (yo, &b) in yp.iter_mut().zip(&self.bias) {
                *yo = ws * *yo + bs * b;
            }
        }
        y
    }

    fn backward(
        &self,
        cache: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        grad: &mut Self,
    ) -> [[T; C_IN]; L] {
        self.param_grad(cache, dy, &mut grad.weight, &mut grad.bias);
        self.input_cotangent(dy)
    }

    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        sink: &mut S,
    ) -> [[T; C_IN]; L] {
        self.backward_params(cache, dy, sink);
        self.input_cotangent(dy)
    }

    fn backward_params<S: GradSink<T>>(
        &self,
        cache: &[[T; C_IN]; L],
        dy: &[[T; C_OUT]; L],
        sink: &mut S,
    ) {
        const { assert!(Q % 2 == 1, "the filter width Q must be odd") };
        let n = C_OUT * Q * C_IN;
        match sink.conv_weight_grad(n, C_OUT, Self::FACTORED) {
            WeightGradBuffer::Lent(buf) if buf.len() == n => {
                if Self::BLOCKED && L > 0 {
                    self.weight_grad_blocked(cache, dy, buf, true);
                } else {
                    buf.fill(T::ZERO);
                    self.weight_grad(cache, dy, buf);
                }
            }
            WeightGradBuffer::Skip => {}
            _ => return self.backward_params_own(cache, dy, sink),
        }
        let mut gb = [T::ZERO; C_OUT];
        self.bias_grad(dy, &mut gb);
        sink.conv(&self.factors(cache, dy, &[], &gb));
    }

    type BatchCache<const B: usize> = [[[T; C_IN]; L]; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[T; C_IN]; L]; B],
        cache: &mut [[[T; C_IN]; L]; B],
    ) -> [[[T; C_OUT]; L]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut cache[b]))
    }

    fn backward_params_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[[[T; C_IN]; L]; B],
        dys: &[[[T; C_OUT]; L]; B],
        sinks: &mut [S; B],
    ) {
        for ((sink, c), dy) in sinks.iter_mut().zip(cache).zip(dys) {
            self.backward_params(c, dy, sink);
        }
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[[[T; C_IN]; L]; B],
        dys: &[[[T; C_OUT]; L]; B],
        sinks: &mut [S; B],
    ) -> [[[T; C_IN]; L]; B] {
        let mut dxs = [[[T::ZERO; C_IN]; L]; B];
        for (((dx, sink), c), dy) in dxs.iter_mut().zip(sinks.iter_mut()).zip(cache).zip(dys) {
            *dx = self.backward_with(c, dy, sink);
        }
        dxs
    }
}

impl<T: Real, const C_IN: usize, const C_OUT: usize, const Q: usize, const L: usize> Params<T>
    for Conv1d<T, C_IN, C_OUT, Q, L>
{
    const NUM_PARAMS: usize = C_OUT * Q * C_IN + C_OUT;
    const DENSE_LAYERS: usize = if Self::FACTORED { 1 } else { 2 };
    const DENSE_IN: usize = if Self::FACTORED {
        L * (Q * C_IN + 1) - 1
    } else {
        0
    };
    const DENSE_OUT: usize = if Self::FACTORED {
        L * C_OUT
    } else {
        C_OUT * Q * C_IN + C_OUT
    };

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        if Self::FACTORED {
            f(L * (Q * C_IN + 1) - 1, L * C_OUT);
        } else {
            f(0, C_OUT * Q * C_IN);
            f(0, C_OUT);
        }
    }
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        if Self::FACTORED {
            f(L, Q * C_IN + 1, C_OUT);
        } else {
            Self::dense_shapes(&mut |i, o| f(1, i + 1, o));
        }
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        f(self.weight.as_flattened().as_flattened());
        f(&self.bias);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        f(self.weight.as_flattened_mut().as_flattened_mut());
        f(&mut self.bias);
    }
    fn is_finite(&self) -> bool {
        self.weight_std.is_finite()
            && self.bias_std.is_finite()
            && self
                .weight
                .as_flattened()
                .as_flattened()
                .iter()
                .all(|v| v.is_finite())
            && self.bias.iter().all(|v| v.is_finite())
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        f(
            self.weight.as_flattened().as_flattened(),
            other.weight.as_flattened().as_flattened(),
        );
        f(&self.bias, &other.bias);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        f(
            self.weight.as_flattened_mut().as_flattened_mut(),
            other.weight.as_flattened().as_flattened(),
        );
        f(&mut self.bias, &other.bias);
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.weight_std = weight_std;
        self.bias_std = bias_std;
        self.parameterization = parameterization;
    }
    fn reinit(&mut self, rng: &mut Rng) {
        let [.., wscale, bscale] =
            self.parameterization
                .factors(self.weight_std, self.bias_std, Q * C_IN, C_OUT);
        for w in self.weight.as_flattened_mut().as_flattened_mut() {
            *w = wscale * rng.normal::<T>();
        }
        for b in self.bias.iter_mut() {
            *b = bscale * rng.normal::<T>();
        }
    }
}
