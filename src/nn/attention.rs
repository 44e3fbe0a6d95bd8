//! Global self-attention over sequences.

use super::{GradSink, Module, Parameterization, Params, Zeroed};
use crate::{simd, Real, Rng};

/// How [`SelfAttention`] turns its logits into attention weights.
///
/// Represented as a `u8` with [`AttentionMechanism::Softmax`] = 0, so that
/// an all-zero layer is a valid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum AttentionMechanism {
    /// A softmax over the key positions of each query position
    /// (neural-tangents' `'SOFTMAX'`; the format's `attn`).
    #[default]
    Softmax = 0,
    /// The logits themselves (neural-tangents' `'IDENTITY'`; the format's
    /// `attn_id`).
    Identity = 1,
}

/// Global self-attention `[[T; C_IN]; L] → [[T; C_OUT]; L]` with `HEADS`
/// heads of `C_K` key and `C_V` value channels: neural-tangents'
/// `stax.GlobalSelfAttention(C_OUT, C_K, C_V, HEADS, linear_scaling=True,
/// b_std=None, pos_emb_type='NONE')`.
///
/// Per head `h`, with the input `X` (`L × C_IN`):
///
/// - keys `K_h = X·Wk_hᵀ` (`L × C_K`); the queries are the keys (the query
///   and key weights are tied under linear scaling);
/// - values `V_h = X·Wv_hᵀ` (`L × C_V`);
/// - weights `G_h = mech(α·K_h·K_hᵀ)`, `α = σq·σk/(C_IN·C_K)`, the softmax
///   taken over the key positions (the second index) for
///   [`AttentionMechanism::Softmax`];
/// - the head `G_h·V_h`;
///
/// and `y[s][o] = β·Σ_{h,v} Wo[o][h][v]·(G_h·V_h)[s][v]` with
/// `β = σv·σo/√(C_V·HEADS·C_IN)`. Every weight is `N(0, 1)` (NTK
/// parameterization); only the products `σq·σk` and `σv·σo` enter.
///
/// The trainable parameters, in [`Params`] order: the key weights
/// `key[h][k][c]` (head by head, row-major), the value weights
/// `value[h][v][c]`, the output weights `out[o][h][v]`. (neural-tangents
/// stores the same numbers as `key[h][c][k]`, `value[h][c][v]` and
/// `W_out[v·HEADS + h][o]`.)
///
/// For the empirical NTK the layer hands its parameter gradient to a
/// [`GradSink`] as `2·HEADS + 1` flat rows (the key weights enter through
/// the softmax of a quadratic form, so they have no factored form of a
/// dense layer's kind): [`Params::dense_shapes`] lists them as factors of
/// input width 0, `(0, C_K·C_IN)` per head, `(0, C_V·C_IN)` per head and
/// `(0, C_OUT·HEADS·C_V)`. The dense and convolution layers around it keep
/// their factored forms.
///
/// [`Params::set_scales`] sets all four of σq, σk, σv, σo to its weight
/// scale (so that [`Params::init_ntk`] of a whole network treats the layer
/// as dense layers); its bias scale and parameterisation do not apply (the
/// layer has no bias and is always NTK-parameterised, as in
/// neural-tangents). [`SelfAttention::set_attention_scales`] sets the four
/// apart.
///
/// # Examples
///
/// ```
/// use ntk::nn::{AttentionMechanism, Module, SelfAttention};
/// use ntk::Rng;
/// // 3 positions of 2 channels to 4 channels, 2 heads of 5 key and 3 value channels
/// let att: SelfAttention<f64, 2, 4, 3, 5, 3, 2> =
///     SelfAttention::ntk(1.0, 1.0, 1.0, 1.0, AttentionMechanism::Softmax, &mut Rng::new(1));
/// let y = att.eval(&[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]);
/// assert!(y.iter().flatten().all(|v| v.is_finite()));
///
/// // one position: the weight is 1 and the layer is linear in its input
/// let one: SelfAttention<f64, 2, 1, 1, 1, 1, 1> =
///     SelfAttention::ntk(1.0, 1.0, 1.0, 1.0, AttentionMechanism::Softmax, &mut Rng::new(2));
/// let x = [[0.3, -0.4]];
/// let v = one.value[0][0][0] * 0.3 - one.value[0][0][1] * 0.4;
/// let want = one.out[0][0][0] * v / 2f64.sqrt();
/// assert!((one.eval(&x)[0][0] - want).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SelfAttention<
    T,
    const C_IN: usize,
    const C_OUT: usize,
    const L: usize,
    const C_K: usize,
    const C_V: usize,
    const HEADS: usize,
> {
    /// Key (and query) weights, `key[h][k][c]`.
    pub key: [[[T; C_IN]; C_K]; HEADS],
    /// Value weights, `value[h][v][c]`.
    pub value: [[[T; C_IN]; C_V]; HEADS],
    /// Output weights, `out[o][h][v]`.
    pub out: [[[T; C_V]; HEADS]; C_OUT],
    /// Query weight standard deviation σq.
    pub query_std: T,
    /// Key weight standard deviation σk.
    pub key_std: T,
    /// Value weight standard deviation σv.
    pub value_std: T,
    /// Output weight standard deviation σo.
    pub out_std: T,
    /// Softmax or identity weights.
    pub mechanism: AttentionMechanism,
}

/// All weights and scales zero, [`AttentionMechanism::Softmax`]: every
/// byte zero.
impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const L: usize,
        const C_K: usize,
        const C_V: usize,
        const HEADS: usize,
    > Zeroed for SelfAttention<T, C_IN, C_OUT, L, C_K, C_V, HEADS>
{
    const ZEROED: Self = Self {
        key: [[[T::ZERO; C_IN]; C_K]; HEADS],
        value: [[[T::ZERO; C_IN]; C_V]; HEADS],
        out: [[[T::ZERO; C_V]; HEADS]; C_OUT],
        query_std: T::ZERO,
        key_std: T::ZERO,
        value_std: T::ZERO,
        out_std: T::ZERO,
        mechanism: AttentionMechanism::Softmax,
    };
}

/// What [`SelfAttention`]'s forward pass keeps for the backward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionCache<
    T,
    const C_IN: usize,
    const L: usize,
    const C_K: usize,
    const C_V: usize,
    const HEADS: usize,
> {
    /// The input sequence.
    pub x: [[T; C_IN]; L],
    /// The keys `K_h`, `keys[h][s][k]`.
    pub keys: [[[T; C_K]; L]; HEADS],
    /// The values `V_h`, `values[h][s][v]`.
    pub values: [[[T; C_V]; L]; HEADS],
    /// The attention weights `G_h`, `weights[h][s][s']`.
    pub weights: [[[T; L]; L]; HEADS],
    /// The heads `G_h·V_h`, `heads[h][s][v]`.
    pub heads: [[[T; C_V]; L]; HEADS],
}

impl<
        T: Real,
        const C_IN: usize,
        const L: usize,
        const C_K: usize,
        const C_V: usize,
        const HEADS: usize,
    > Zeroed for AttentionCache<T, C_IN, L, C_K, C_V, HEADS>
{
    const ZEROED: Self = Self {
        x: [[T::ZERO; C_IN]; L],
        keys: [[[T::ZERO; C_K]; L]; HEADS],
        values: [[[T::ZERO; C_V]; L]; HEADS],
        weights: [[[T::ZERO; L]; L]; HEADS],
        heads: [[[T::ZERO; C_V]; L]; HEADS],
    };
}

/// `out[r] = Σ_c w[r][c]·x[c]` for every row `r`.
#[inline]
fn project<T: Real, const IN: usize, const OUT: usize>(
    w: &[[T; IN]; OUT],
    x: &[T; IN],
) -> [T; OUT] {
    core::array::from_fn(|r| simd::dot(&w[r], x))
}

impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const L: usize,
        const C_K: usize,
        const C_V: usize,
        const HEADS: usize,
    > SelfAttention<T, C_IN, C_OUT, L, C_K, C_V, HEADS>
{
    /// A layer with weights drawn from `rng` (keys, values, output, in
    /// [`Params`] order), all `N(0, 1)`.
    pub fn new(
        query_std: T,
        key_std: T,
        value_std: T,
        out_std: T,
        mechanism: AttentionMechanism,
        rng: &mut Rng,
    ) -> Self {
        let mut a = Self::ZEROED;
        a.set_attention_scales(query_std, key_std, value_std, out_std);
        a.mechanism = mechanism;
        a.reinit(rng);
        a
    }

    /// [`SelfAttention::new`] from `f64` scales.
    pub fn ntk(
        query_std: f64,
        key_std: f64,
        value_std: f64,
        out_std: f64,
        mechanism: AttentionMechanism,
        rng: &mut Rng,
    ) -> Self {
        Self::new(
            T::from_f64(query_std),
            T::from_f64(key_std),
            T::from_f64(value_std),
            T::from_f64(out_std),
            mechanism,
            rng,
        )
    }

    /// Sets σq, σk, σv and σo, leaving the weights as they are.
    pub fn set_attention_scales(&mut self, query_std: T, key_std: T, value_std: T, out_std: T) {
        self.query_std = query_std;
        self.key_std = key_std;
        self.value_std = value_std;
        self.out_std = out_std;
    }

    /// The logit scale `α = σq·σk/(C_IN·C_K)` and output scale
    /// `β = σv·σo/√(C_V·HEADS·C_IN)`.
    #[inline]
    pub fn scales(&self) -> (T, T) {
        let alpha = self.query_std * self.key_std / T::from_usize((C_IN * C_K).max(1));
        let beta =
            self.value_std * self.out_std / T::from_usize((C_V * HEADS * C_IN).max(1)).sqrt();
        (alpha, beta)
    }

    /// The cotangents of head `h`'s keys and values from the cotangent of
    /// the head `dh` (`∂f/∂(G_h·V_h)`).
    fn head_cotangents(
        &self,
        cache: &AttentionCache<T, C_IN, L, C_K, C_V, HEADS>,
        h: usize,
        dh: &[[T; C_V]; L],
    ) -> ([[T; C_K]; L], [[T; C_V]; L]) {
        let (alpha, _) = self.scales();
        let (k, v, g) = (&cache.keys[h], &cache.values[h], &cache.weights[h]);
        // dV[t] = Σ_s G[s][t]·dH[s]
        let mut dv = [[T::ZERO; C_V]; L];
        for (gs, dhs) in g.iter().zip(dh) {
            for (dvt, &w) in dv.iter_mut().zip(gs) {
                simd::axpy(w, dhs, dvt);
            }
        }
        // dS[s][t] from dG[s][t] = dH[s]·V[t]
        let mut ds = [[T::ZERO; L]; L];
        for ((dss, gs), dhs) in ds.iter_mut().zip(g).zip(dh) {
            for (d, vt) in dss.iter_mut().zip(v) {
                *d = simd::dot(dhs, vt);
            }
            if self.mechanism == AttentionMechanism::Softmax {
                let mean = gs
                    .iter()
                    .zip(dss.iter())
                    .fold(T::ZERO, |a, (&w, &d)| w.mul_add(d, a));
                for (d, &w) in dss.iter_mut().zip(gs) {
                    *d = w * (*d - mean);
                }
            }
        }
        // dK[s] = α·Σ_t (dS[s][t] + dS[t][s])·K[t]
        let mut dk = [[T::ZERO; C_K]; L];
        for (s, dks) in dk.iter_mut().enumerate() {
            for (t, kt) in k.iter().enumerate() {
                simd::axpy(alpha * (ds[s][t] + ds[t][s]), kt, dks);
            }
        }
        (dk, dv)
    }

    /// `∂f/∂(G_h·V_h) = β·Σ_o dy[s][o]·Wo[o][h]`.
    fn head_grad(&self, h: usize, dy: &[[T; C_OUT]; L]) -> [[T; C_V]; L] {
        let (_, beta) = self.scales();
        let mut dh = [[T::ZERO; C_V]; L];
        for (dhs, dys) in dh.iter_mut().zip(dy) {
            for (wo, &d) in self.out.iter().zip(dys) {
                simd::axpy(beta * d, &wo[h], dhs);
            }
        }
        dh
    }

    /// `∂f/∂Wo[o][h][v] = β·Σ_s dy[s][o]·(G_h·V_h)[s][v]`, added to `g`.
    fn out_grad(
        &self,
        cache: &AttentionCache<T, C_IN, L, C_K, C_V, HEADS>,
        dy: &[[T; C_OUT]; L],
        g: &mut [[[T; C_V]; HEADS]; C_OUT],
    ) {
        let (_, beta) = self.scales();
        for (s, dys) in dy.iter().enumerate() {
            for (go, &d) in g.iter_mut().zip(dys) {
                for (goh, heads) in go.iter_mut().zip(&cache.heads) {
                    simd::axpy(beta * d, &heads[s], goh);
                }
            }
        }
    }

    /// `g[r][c] += Σ_s d[s][r]·x[s][c]`.
    fn weight_grad<const R: usize>(x: &[[T; C_IN]; L], d: &[[T; R]; L], g: &mut [[T; C_IN]; R]) {
        for (xs, ds) in x.iter().zip(d) {
            for (gr, &v) in g.iter_mut().zip(ds) {
                simd::axpy(v, xs, gr);
            }
        }
    }

    /// `dx[s] += Σ_r d[s][r]·w[r]`.
    fn input_grad<const R: usize>(w: &[[T; C_IN]; R], d: &[[T; R]; L], dx: &mut [[T; C_IN]; L]) {
        for (dxs, ds) in dx.iter_mut().zip(d) {
            for (wr, &v) in w.iter().zip(ds) {
                simd::axpy(v, wr, dxs);
            }
        }
    }
}

impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const L: usize,
        const C_K: usize,
        const C_V: usize,
        const HEADS: usize,
    > Module<T, [[T; C_IN]; L]> for SelfAttention<T, C_IN, C_OUT, L, C_K, C_V, HEADS>
{
    type Output = [[T; C_OUT]; L];
    type Cache = AttentionCache<T, C_IN, L, C_K, C_V, HEADS>;

    fn forward(&self, x: &[[T; C_IN]; L], cache: &mut Self::Cache) -> [[T; C_OUT]; L] {
        let (alpha, beta) = self.scales();
        cache.x = *x;
        for h in 0..HEADS {
            for (s, xs) in x.iter().enumerate() {
                cache.keys[h][s] = project(&self.key[h], xs);
                cache.values[h][s] = project(&self.value[h], xs);
            }
            let k = &cache.keys[h];
            for (s, gs) in cache.weights[h].iter_mut().enumerate() {
                for (g, kt) in gs.iter_mut().zip(k) {
                    *g = alpha * simd::dot(&k[s], kt);
                }
                if self.mechanism == AttentionMechanism::Softmax {
                    let m = gs.iter().fold(-T::INFINITY, |m, &v| m.max(v));
                    let mut sum = T::ZERO;
                    for g in gs.iter_mut() {
                        *g = (*g - m).exp();
                        sum += *g;
                    }
                    for g in gs.iter_mut() {
                        *g /= sum;
                    }
                }
            }
            let AttentionCache {
                values,
                weights,
                heads,
                ..
            } = cache;
            for (hs, gs) in heads[h].iter_mut().zip(&weights[h]) {
                *hs = [T::ZERO; C_V];
                for (&w, vt) in gs.iter().zip(&values[h]) {
                    simd::axpy(w, vt, hs);
                }
            }
        }
        let mut y = [[T::ZERO; C_OUT]; L];
        for (s, ys) in y.iter_mut().enumerate() {
            for (yo, wo) in ys.iter_mut().zip(&self.out) {
                let mut acc = T::ZERO;
                for (woh, heads) in wo.iter().zip(&cache.heads) {
                    acc += simd::dot(woh, &heads[s]);
                }
                *yo = beta * acc;
            }
        }
        y
    }

    fn backward(
        &self,
        cache: &Self::Cache,
        dy: &[[T; C_OUT]; L],
        grad: &mut Self,
    ) -> [[T; C_IN]; L] {
        self.out_grad(cache, dy, &mut grad.out);
        let mut dx = [[T::ZERO; C_IN]; L];
        for h in 0..HEADS {
            let (dk, dv) = self.head_cotangents(cache, h, &self.head_grad(h, dy));
            Self::weight_grad(&cache.x, &dk, &mut grad.key[h]);
            Self::weight_grad(&cache.x, &dv, &mut grad.value[h]);
            Self::input_grad(&self.key[h], &dk, &mut dx);
            Self::input_grad(&self.value[h], &dv, &mut dx);
        }
        dx
    }

    /// Hands the gradient on as flat rows, last first: the output weights,
    /// then the value weights of each head from the last, then the key
    /// weights of each head from the last.
    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &Self::Cache,
        dy: &[[T; C_OUT]; L],
        sink: &mut S,
    ) -> [[T; C_IN]; L] {
        let mut gout = [[[T::ZERO; C_V]; HEADS]; C_OUT];
        self.out_grad(cache, dy, &mut gout);
        sink.dense(&[], T::ONE, gout.as_flattened().as_flattened(), T::ONE);
        let mut dks = [[[T::ZERO; C_K]; L]; HEADS];
        let mut dvs = [[[T::ZERO; C_V]; L]; HEADS];
        let mut dx = [[T::ZERO; C_IN]; L];
        for h in 0..HEADS {
            let (dk, dv) = self.head_cotangents(cache, h, &self.head_grad(h, dy));
            Self::input_grad(&self.key[h], &dk, &mut dx);
            Self::input_grad(&self.value[h], &dv, &mut dx);
            dks[h] = dk;
            dvs[h] = dv;
        }
        for dv in dvs.iter().rev() {
            let mut g = [[T::ZERO; C_IN]; C_V];
            Self::weight_grad(&cache.x, dv, &mut g);
            sink.dense(&[], T::ONE, g.as_flattened(), T::ONE);
        }
        for dk in dks.iter().rev() {
            let mut g = [[T::ZERO; C_IN]; C_K];
            Self::weight_grad(&cache.x, dk, &mut g);
            sink.dense(&[], T::ONE, g.as_flattened(), T::ONE);
        }
        dx
    }

    type BatchCache<const B: usize> = [AttentionCache<T, C_IN, L, C_K, C_V, HEADS>; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[T; C_IN]; L]; B],
        cache: &mut Self::BatchCache<B>,
    ) -> [[[T; C_OUT]; L]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut cache[b]))
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &Self::BatchCache<B>,
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

impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const L: usize,
        const C_K: usize,
        const C_V: usize,
        const HEADS: usize,
    > Params<T> for SelfAttention<T, C_IN, C_OUT, L, C_K, C_V, HEADS>
{
    const NUM_PARAMS: usize = HEADS * (C_K + C_V) * C_IN + C_OUT * HEADS * C_V;
    const DENSE_LAYERS: usize = 2 * HEADS + 1;
    const DENSE_IN: usize = 0;
    const DENSE_OUT: usize = Self::NUM_PARAMS;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        for _ in 0..HEADS {
            f(0, C_K * C_IN);
        }
        for _ in 0..HEADS {
            f(0, C_V * C_IN);
        }
        f(0, C_OUT * HEADS * C_V);
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        f(self.key.as_flattened().as_flattened());
        f(self.value.as_flattened().as_flattened());
        f(self.out.as_flattened().as_flattened());
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        f(self.key.as_flattened_mut().as_flattened_mut());
        f(self.value.as_flattened_mut().as_flattened_mut());
        f(self.out.as_flattened_mut().as_flattened_mut());
    }
    fn is_finite(&self) -> bool {
        self.query_std.is_finite()
            && self.key_std.is_finite()
            && self.value_std.is_finite()
            && self.out_std.is_finite()
            && simd::all_finite(self.key.as_flattened().as_flattened())
            && simd::all_finite(self.value.as_flattened().as_flattened())
            && simd::all_finite(self.out.as_flattened().as_flattened())
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        f(
            self.key.as_flattened().as_flattened(),
            other.key.as_flattened().as_flattened(),
        );
        f(
            self.value.as_flattened().as_flattened(),
            other.value.as_flattened().as_flattened(),
        );
        f(
            self.out.as_flattened().as_flattened(),
            other.out.as_flattened().as_flattened(),
        );
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        f(
            self.key.as_flattened_mut().as_flattened_mut(),
            other.key.as_flattened().as_flattened(),
        );
        f(
            self.value.as_flattened_mut().as_flattened_mut(),
            other.value.as_flattened().as_flattened(),
        );
        f(
            self.out.as_flattened_mut().as_flattened_mut(),
            other.out.as_flattened().as_flattened(),
        );
    }
    fn reinit(&mut self, rng: &mut Rng) {
        rng.fill_normal(self.key.as_flattened_mut().as_flattened_mut());
        rng.fill_normal(self.value.as_flattened_mut().as_flattened_mut());
        rng.fill_normal(self.out.as_flattened_mut().as_flattened_mut());
    }
    /// Sets σq, σk, σv and σo all to `weight_std` (see
    /// [`SelfAttention::set_attention_scales`]); the bias scale and
    /// parameterisation do not apply.
    fn set_scales(&mut self, weight_std: T, _bias_std: T, _parameterization: Parameterization) {
        self.set_attention_scales(weight_std, weight_std, weight_std, weight_std);
    }
}
