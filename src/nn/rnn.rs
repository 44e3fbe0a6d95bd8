//! The Elman recurrent layer over sequences `[[T; D]; L]` and the last-step
//! readout.

use super::{Activation, GradSink, Module, Parameterization, Params, Relu, Zeroed};
use crate::{simd, Real, Rng};

/// An Elman recurrent layer `[[T; D]; L] → [[T; H]; L]`: the hidden states
/// of
///
/// `g_t = ws · W·h_{t−1} + us · U·x_t + bs · b,   h_0 = 0,   h_t = φ(g_t)`
///
/// for `t = 1..L`, with `W` (H×H), `U` (H×D) and `b` shared across time,
/// φ the activation `A` (any [`Activation`]). In
/// [`Parameterization::Ntk`] `ws = σw/√H`, `us = σu/√D`, `bs = σb` and
/// `W, U, b ~ N(0, 1)`; in [`Parameterization::Standard`] `ws = us = 1`,
/// `bs = σb`, `W ~ N(0, σw²/H)`, `U ~ N(0, σu²/D)`, `b ~ N(0, 1)` — the
/// conventions of [`Dense`](super::Dense), with one fan-in per weight.
///
/// The [`Params`] order is `W` row-major (`w[o][i]`), then `U` row-major
/// (`u[o][c]`), then `b`. [`Params::set_scales`] sets σw and σu both to its
/// weight scale (so that [`Params::init_ntk`] of a whole network treats
/// the layer as two dense layers); [`Rnn::set_rnn_scales`] sets the three
/// apart. Read the states out with [`GlobalAvgPool`](super::GlobalAvgPool)
/// (the mean over time) or [`Last`] (the last state) into a
/// [`Dense`](super::Dense).
///
/// For the empirical NTK the layer contributes `Θ_l(x, x') = G(x)·G(x')`,
/// `G` its parameter gradient summed over time (weight sharing), computed
/// in one of two ways, whichever costs fewer multiply-adds per pair of
/// inputs and output (with `m = H + D + 1`):
///
/// - by gradients: `m·H` per pair (plus `L·m·H` per input to form `G`); the
///   layer lists itself in [`Params::dense_shapes`] as three factors
///   `(0, H·H)`, `(0, H·D)`, `(0, H)`;
/// - factored ([`Rnn::FACTORED`]): `Θ_l = Σ_{t,t'} (δ_t·δ'_{t'})·(ā_t·ā'_{t'})`
///   with `δ_t = ∂f/∂g_t` and the patch `ā_t = [ws·h_{t−1}, us·x_t, bs]`
///   (see [`RnnFactors::patch`]), `L²·(m + H)` per pair;
///   [`Params::factor_shapes`] lists `(L, m, H)`.
///
/// The factored form pays off only for short sequences of wide layers
/// (`L = 2` from `H ≈ 8`, `L = 4` from `H ≈ 32`); long sequences take the
/// gradients.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Last, Module, Rnn, Tanh, Unflatten};
/// use ntk::Rng;
/// let mut rng = Rng::new(7);
/// // sequences of 5 steps of 2 channels, 32 hidden units, last state, 1 output
/// type Net = (Unflatten<2, 5>, Rnn<f64, 2, 32, 5, Tanh>, Last, Dense<f64, 32, 1>);
/// let net: Net = (Unflatten, Rnn::ntk(1.2, 1.0, 0.1, &mut rng), Last, Dense::ntk(1.0, 0.0, &mut rng));
/// let y = net.eval(&[0.1; 10]);
/// assert!(y[0].is_finite());
///
/// // one step: h_1 = φ(us·U·x_1 + bs·b)
/// let mut r: Rnn<f64, 1, 1, 2, Tanh> = Rnn::ntk(2.0, 1.0, 0.0, &mut rng);
/// r.w = [[0.5]];
/// r.u = [[1.0]];
/// let h = r.eval(&[[0.3], [0.0]]);
/// assert!((h[0][0] - 0.3f64.tanh()).abs() < 1e-15);
/// assert!((h[1][0] - (2.0 * 0.5 * h[0][0]).tanh()).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rnn<T, const D: usize, const H: usize, const L: usize, A = Relu> {
    /// The recurrent weight `W`, `w[o][i]`.
    pub w: [[T; H]; H],
    /// The input weight `U`, `u[o][c]`.
    pub u: [[T; D]; H],
    /// The bias `b`.
    pub bias: [T; H],
    /// Recurrent weight standard deviation σw.
    pub w_std: T,
    /// Input weight standard deviation σu.
    pub u_std: T,
    /// Bias standard deviation σb.
    pub bias_std: T,
    /// The parameterisation.
    pub parameterization: Parameterization,
    /// The activation φ.
    pub activation: A,
}

/// All parameters zero, σw = σu = σb = 0, [`Parameterization::Ntk`], the
/// activation's own zero: every byte zero.
impl<T: Real, const D: usize, const H: usize, const L: usize, A: Zeroed> Zeroed
    for Rnn<T, D, H, L, A>
{
    const ZEROED: Self = Self {
        w: [[T::ZERO; H]; H],
        u: [[T::ZERO; D]; H],
        bias: [T::ZERO; H],
        w_std: T::ZERO,
        u_std: T::ZERO,
        bias_std: T::ZERO,
        parameterization: Parameterization::Ntk,
        activation: A::ZEROED,
    };
}

/// The indices of the nonzero values among the first `N` of `v`, listed
/// without branches (a ReLU's zeros fall at random), and their number.
#[inline(always)]
fn nonzero<T: Real, const N: usize>(v: impl Iterator<Item = T>) -> ([usize; N], usize) {
    let mut list = [0usize; N];
    let mut len = 0;
    for (i, x) in v.take(N).enumerate() {
        list[len.min(N - 1)] = i;
        len += usize::from(x != T::ZERO);
    }
    (list, len)
}

/// `y += Σ_{i ∈ list} alpha(i)·x(i)`, four terms at a time into one
/// [`axpy4`](simd::axpy4), the rest one by one.
#[inline(always)]
fn combine<'a, T: Real + 'a>(
    list: &[usize],
    alpha: impl Fn(usize) -> T,
    x: impl Fn(usize) -> &'a [T],
    y: &mut [T],
) {
    let (quads, rest) = list.as_chunks::<4>();
    for q in quads {
        simd::axpy4(q.map(&alpha), q.map(&x), y);
    }
    for &i in rest {
        simd::axpy(alpha(i), x(i), y);
    }
}

/// What [`Rnn`]'s forward pass keeps for the backward pass through time.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnCache<T, const D: usize, const H: usize, const L: usize> {
    /// The input sequence.
    pub x: [[T; D]; L],
    /// The hidden states `h_1..h_L`.
    pub h: [[T; H]; L],
    /// The derivatives `φ′(g_t)`.
    pub dphi: [[T; H]; L],
}

impl<T: Real, const D: usize, const H: usize, const L: usize> Zeroed for RnnCache<T, D, H, L> {
    const ZEROED: Self = Self {
        x: [[T::ZERO; D]; L],
        h: [[T::ZERO; H]; L],
        dphi: [[T::ZERO; H]; L],
    };
}

/// What an [`Rnn`] hands to [`GradSink::rnn`]: its states, inputs,
/// cotangents and scales (the per-step factors of the structured empirical
/// NTK) and its parameter gradient summed over time.
#[derive(Debug, Clone, Copy)]
pub struct RnnFactors<'a, T> {
    /// The hidden states `h_1..h_L`, `L` steps of `H`, step-major.
    pub hidden: &'a [T],
    /// The inputs `x_1..x_L`, `L` steps of `D`, step-major.
    pub input: &'a [T],
    /// The cotangents `δ_t = ∂f/∂g_t`, `L` steps of `H`, step-major.
    pub delta: &'a [T],
    /// The recurrent scale `ws`.
    pub ws: T,
    /// The input scale `us`.
    pub us: T,
    /// The bias scale `bs`.
    pub bs: T,
    /// `∂f/∂W` summed over time, row-major.
    pub w_grad: &'a [T],
    /// `∂f/∂U` summed over time, row-major.
    pub u_grad: &'a [T],
    /// `∂f/∂b` summed over time.
    pub b_grad: &'a [T],
    /// `true` if the layer lists itself by step in
    /// [`Params::factor_shapes`] (see [`Rnn::FACTORED`]).
    pub factored: bool,
}

impl<T: Real> RnnFactors<'_, T> {
    /// The hidden width `H`.
    pub fn width(&self) -> usize {
        self.b_grad.len()
    }

    /// Number of time steps `L`.
    pub fn steps(&self) -> usize {
        self.hidden.len().checked_div(self.width()).unwrap_or(0)
    }

    /// The input width `D`.
    pub fn channels(&self) -> usize {
        self.input.len().checked_div(self.steps()).unwrap_or(0)
    }

    /// Writes the scaled patch of step `t` (from 0),
    /// `ā_t = [ws·h_{t−1}, us·x_t, bs]` (`h_{−1} = 0`), into `out`, which
    /// holds `H + D + 1` elements:
    /// `Θ_l(x, x') = Σ_{t,t'} (δ_t·δ'_{t'})·(ā_t·ā'_{t'})`.
    pub fn patch(&self, t: usize, out: &mut [T]) {
        let (h, d) = (self.width(), self.channels());
        let (hp, rest) = out.split_at_mut(h.min(out.len()));
        match t.checked_sub(1) {
            Some(s) => {
                for (o, &v) in hp.iter_mut().zip(&self.hidden[s * h..s * h + h]) {
                    *o = self.ws * v;
                }
            }
            None => hp.fill(T::ZERO),
        }
        let (xp, last) = rest.split_at_mut(d.min(rest.len()));
        for (o, &v) in xp.iter_mut().zip(&self.input[t * d..t * d + d]) {
            *o = self.us * v;
        }
        if let Some(b) = last.first_mut() {
            *b = self.bs;
        }
    }
}

impl<T: Real, const D: usize, const H: usize, const L: usize, A: Activation<T> + Zeroed>
    Rnn<T, D, H, L, A>
{
    /// A layer with activation `A::ZEROED` (the activation itself for the
    /// unit activations) and parameters drawn from `rng` for the given
    /// parameterisation.
    pub fn new(
        w_std: T,
        u_std: T,
        bias_std: T,
        parameterization: Parameterization,
        rng: &mut Rng,
    ) -> Self {
        let mut r = Self::ZEROED;
        r.set_rnn_scales(w_std, u_std, bias_std, parameterization);
        r.draw(rng);
        r
    }

    /// A layer in NTK parameterization (`W, U, b ~ N(0, 1)`).
    pub fn ntk(w_std: f64, u_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(w_std),
            T::from_f64(u_std),
            T::from_f64(bias_std),
            Parameterization::Ntk,
            rng,
        )
    }

    /// A layer in standard parameterization (`W ~ N(0, σw²/H)`,
    /// `U ~ N(0, σu²/D)`, `b ~ N(0, 1)`).
    pub fn standard(w_std: f64, u_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(w_std),
            T::from_f64(u_std),
            T::from_f64(bias_std),
            Parameterization::Standard,
            rng,
        )
    }
}

impl<T: Real, const D: usize, const H: usize, const L: usize, A> Rnn<T, D, H, L, A> {
    /// `true` if the structured empirical NTK uses the factored form,
    /// `L²·(m + H) < m·H` with `m = H + D + 1` (and `L > 1`).
    pub const FACTORED: bool = {
        let m = H + D + 1;
        L > 1 && L * L * (m + H) < m * H
    };

    /// Sets σw, σu, σb and the parameterisation, leaving the parameters as
    /// they are.
    pub fn set_rnn_scales(
        &mut self,
        w_std: T,
        u_std: T,
        bias_std: T,
        parameterization: Parameterization,
    ) {
        self.w_std = w_std;
        self.u_std = u_std;
        self.bias_std = bias_std;
        self.parameterization = parameterization;
    }

    /// The recurrent scale `ws`, input scale `us` and bias scale `bs`.
    #[inline]
    pub fn scales(&self) -> (T, T, T)
    where
        T: Real,
    {
        let p = self.parameterization;
        let [ws, bs, ..] = p.factors(self.w_std, self.bias_std, H, H);
        let [us, ..] = p.factors(self.u_std, self.bias_std, D, H);
        (ws, us, bs)
    }

    /// Draws `W`, `U`, `b` (in that order) for the scales and
    /// parameterisation.
    fn draw(&mut self, rng: &mut Rng)
    where
        T: Real,
    {
        let p = self.parameterization;
        let [.., wscale, bscale] = p.factors(self.w_std, self.bias_std, H, H);
        let [.., uscale, _] = p.factors(self.u_std, self.bias_std, D, H);
        for v in self.w.as_flattened_mut() {
            *v = wscale * rng.normal::<T>();
        }
        for v in self.u.as_flattened_mut() {
            *v = uscale * rng.normal::<T>();
        }
        for b in self.bias.iter_mut() {
            *b = bscale * rng.normal::<T>();
        }
    }
}

impl<T: Real, const D: usize, const H: usize, const L: usize, A: Activation<T>> Rnn<T, D, H, L, A> {
    /// `Wᵀ` (`wt[i][o] = w[o][i]`): the forward pass reads `W` by
    /// columns.
    fn transposed(&self) -> [[T; H]; H] {
        let mut wt = [[T::ZERO; H]; H];
        for (o, row) in self.w.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                wt[i][o] = v;
            }
        }
        wt
    }

    /// The forward pass with `Wᵀ` given: per step,
    /// `g = ws·Σ_i h_{t−1}[i]·Wᵀ[i] + us·U·x_t + bs·b`, the nonzero state
    /// entries four at a time into one [`axpy4`](simd::axpy4) (a ReLU
    /// state is about half zeros), `U·x_t` by rows.
    fn forward_with(&self, wt: &[[T; H]; H], x: &[[T; D]; L], cache: &mut RnnCache<T, D, H, L>) {
        let (ws, us, bs) = self.scales();
        cache.x = *x;
        for t in 0..L {
            let mut r = [T::ZERO; H];
            if let Some(s) = t.checked_sub(1) {
                let hp = &cache.h[s];
                let (list, len) = nonzero::<T, H>(hp.iter().copied());
                combine(&list[..len], |i| hp[i], |i| &wt[i][..], &mut r);
            }
            let xt = &x[t];
            let RnnCache { h, dphi, .. } = cache;
            for (o, ((hv, p), &ro)) in h[t].iter_mut().zip(dphi[t].iter_mut()).zip(&r).enumerate() {
                let inp = if D < simd::LANES {
                    self.u[o]
                        .iter()
                        .zip(xt)
                        .fold(T::ZERO, |acc, (&u, &v)| u.mul_add(v, acc))
                } else {
                    simd::dot(&self.u[o], xt)
                };
                let g = ws * ro + us * inp + bs * self.bias[o];
                *hv = self.activation.value(g);
                *p = self.activation.derivative(g);
            }
        }
    }

    /// The cotangents `δ_t = ∂f/∂g_t` from the output cotangents `dy`
    /// (backward through time: `∂f/∂h_t = dy_t + ws·Wᵀ·δ_{t+1}`).
    fn deltas(&self, cache: &RnnCache<T, D, H, L>, dy: &[[T; H]; L]) -> [[T; H]; L] {
        let (ws, _, _) = self.scales();
        let mut delta = [[T::ZERO; H]; L];
        let mut carry = [T::ZERO; H];
        for t in (0..L).rev() {
            for ((d, (&y, &c)), &p) in delta[t]
                .iter_mut()
                .zip(dy[t].iter().zip(&carry))
                .zip(&cache.dphi[t])
            {
                *d = (y + c) * p;
            }
            if t == 0 {
                break;
            }
            carry = [T::ZERO; H];
            // carry = ws·Wᵀ·δ_t over the rows with a nonzero cotangent
            let dt = &delta[t];
            let (list, len) = nonzero::<T, H>(dt.iter().copied());
            combine(&list[..len], |o| ws * dt[o], |o| &self.w[o][..], &mut carry);
        }
        delta
    }

    /// The parameter gradient summed over time, added to `gw`, `gu`, `gb`.
    fn param_grad(
        &self,
        cache: &RnnCache<T, D, H, L>,
        delta: &[[T; H]; L],
        gw: &mut [[T; H]; H],
        gu: &mut [[T; D]; H],
        gb: &mut [T; H],
    ) {
        let (ws, us, bs) = self.scales();
        for (o, g) in gw.iter_mut().enumerate() {
            // steps t ≥ 1 (list entry s = t − 1) read h_{t−1}
            let (list, len) = nonzero::<T, L>(delta.iter().skip(1).map(|d| d[o]));
            combine(
                &list[..len],
                |s| ws * delta[s + 1][o],
                |s| &cache.h[s][..],
                g,
            );
        }
        for (xt, dt) in cache.x.iter().zip(delta) {
            for ((gu_o, gb_o), &d) in gu.iter_mut().zip(gb.iter_mut()).zip(dt) {
                let a = us * d;
                for (g, &v) in gu_o.iter_mut().zip(xt) {
                    *g = a.mul_add(v, *g);
                }
                *gb_o += bs * d;
            }
        }
    }

    /// The input cotangents `us·Uᵀ·δ_t`.
    fn input_cotangent(&self, delta: &[[T; H]; L]) -> [[T; D]; L] {
        let (_, us, _) = self.scales();
        let mut dx = [[T::ZERO; D]; L];
        for (dxt, dt) in dx.iter_mut().zip(delta) {
            for (uo, &d) in self.u.iter().zip(dt) {
                let a = us * d;
                for (v, &u) in dxt.iter_mut().zip(uo) {
                    *v = a.mul_add(u, *v);
                }
            }
        }
        dx
    }
}

impl<T: Real, const D: usize, const H: usize, const L: usize, A: Activation<T>>
    Module<T, [[T; D]; L]> for Rnn<T, D, H, L, A>
{
    type Output = [[T; H]; L];
    type Cache = RnnCache<T, D, H, L>;

    fn forward(&self, x: &[[T; D]; L], cache: &mut RnnCache<T, D, H, L>) -> [[T; H]; L] {
        self.forward_with(&self.transposed(), x, cache);
        cache.h
    }

    fn backward(
        &self,
        cache: &RnnCache<T, D, H, L>,
        dy: &[[T; H]; L],
        grad: &mut Self,
    ) -> [[T; D]; L] {
        let delta = self.deltas(cache, dy);
        self.param_grad(cache, &delta, &mut grad.w, &mut grad.u, &mut grad.bias);
        self.input_cotangent(&delta)
    }

    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &RnnCache<T, D, H, L>,
        dy: &[[T; H]; L],
        sink: &mut S,
    ) -> [[T; D]; L] {
        let delta = self.deltas(cache, dy);
        let mut gw = [[T::ZERO; H]; H];
        let mut gu = [[T::ZERO; D]; H];
        let mut gb = [T::ZERO; H];
        self.param_grad(cache, &delta, &mut gw, &mut gu, &mut gb);
        let (ws, us, bs) = self.scales();
        sink.rnn(&RnnFactors {
            hidden: cache.h.as_flattened(),
            input: cache.x.as_flattened(),
            delta: delta.as_flattened(),
            ws,
            us,
            bs,
            w_grad: gw.as_flattened(),
            u_grad: gu.as_flattened(),
            b_grad: &gb,
            factored: Self::FACTORED,
        });
        self.input_cotangent(&delta)
    }

    type BatchCache<const B: usize> = [RnnCache<T, D, H, L>; B];

    /// `Wᵀ` is formed once for the batch; each input then takes the single
    /// pass's arithmetic.
    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[T; D]; L]; B],
        cache: &mut [RnnCache<T, D, H, L>; B],
    ) -> [[[T; H]; L]; B] {
        let wt = self.transposed();
        for (x, c) in xs.iter().zip(cache.iter_mut()) {
            self.forward_with(&wt, x, c);
        }
        core::array::from_fn(|b| cache[b].h)
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[RnnCache<T, D, H, L>; B],
        dys: &[[[T; H]; L]; B],
        sinks: &mut [S; B],
    ) -> [[[T; D]; L]; B] {
        let mut dxs = [[[T::ZERO; D]; L]; B];
        for (((dx, sink), c), dy) in dxs.iter_mut().zip(sinks.iter_mut()).zip(cache).zip(dys) {
            *dx = self.backward_with(c, dy, sink);
        }
        dxs
    }
}

impl<T: Real, const D: usize, const H: usize, const L: usize, A: Params<T>> Params<T>
    for Rnn<T, D, H, L, A>
{
    const NUM_PARAMS: usize = H * H + H * D + H;
    const DENSE_LAYERS: usize = if Self::FACTORED { 1 } else { 3 };
    const DENSE_IN: usize = if Self::FACTORED {
        L * (H + D + 1) - 1
    } else {
        0
    };
    const DENSE_OUT: usize = if Self::FACTORED {
        L * H
    } else {
        H * H + H * D + H
    };

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        if Self::FACTORED {
            f(L * (H + D + 1) - 1, L * H);
        } else {
            f(0, H * H);
            f(0, H * D);
            f(0, H);
        }
    }
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        if Self::FACTORED {
            f(L, H + D + 1, H);
        } else {
            Self::dense_shapes(&mut |i, o| f(1, i + 1, o));
        }
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        f(self.w.as_flattened());
        f(self.u.as_flattened());
        f(&self.bias);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        f(self.w.as_flattened_mut());
        f(self.u.as_flattened_mut());
        f(&mut self.bias);
    }
    fn is_finite(&self) -> bool {
        self.w_std.is_finite()
            && self.u_std.is_finite()
            && self.bias_std.is_finite()
            && self.activation.is_finite()
            && simd::all_finite(self.w.as_flattened())
            && simd::all_finite(self.u.as_flattened())
            && simd::all_finite(&self.bias)
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        f(self.w.as_flattened(), other.w.as_flattened());
        f(self.u.as_flattened(), other.u.as_flattened());
        f(&self.bias, &other.bias);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        f(self.w.as_flattened_mut(), other.w.as_flattened());
        f(self.u.as_flattened_mut(), other.u.as_flattened());
        f(&mut self.bias, &other.bias);
    }
    /// Sets σw and σu both to `weight_std` (see [`Rnn::set_rnn_scales`]).
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.set_rnn_scales(weight_std, weight_std, bias_std, parameterization);
    }
    fn reinit(&mut self, rng: &mut Rng) {
        self.draw(rng);
    }
}

/// The last step of a sequence: `[[T; C]; L] → [T; C]` (zeros for `L = 0`),
/// the readout of an [`Rnn`]'s final state.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Last, Module};
/// assert_eq!(Last.eval(&[[1.0, 2.0], [3.0, 6.0]]), [3.0, 6.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Last;

impl<T: Real, const C: usize, const L: usize> Module<T, [[T; C]; L]> for Last {
    type Output = [T; C];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[T; C]; L], _cache: &mut ()) -> [T; C] {
        x.last().copied().unwrap_or([T::ZERO; C])
    }
    fn backward(&self, _cache: &(), dy: &[T; C], _grad: &mut Self) -> [[T; C]; L] {
        let mut dx = [[T::ZERO; C]; L];
        if let Some(d) = dx.last_mut() {
            *d = *dy;
        }
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[T; C], _s: &mut S) -> [[T; C]; L] {
        self.backward(c, dy, &mut Last)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(&self, xs: &[[[T; C]; L]; B], _c: &mut ()) -> [[T; C]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[T; C]; B],
        _s: &mut [S; B],
    ) -> [[[T; C]; L]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut Last))
    }
}

super::pool::parameter_free!([] Last);
