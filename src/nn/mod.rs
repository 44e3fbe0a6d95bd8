//! Networks whose shapes live in their types.
//!
//! A layer is a [`Module`] over its input type: [`Dense<T, IN, OUT>`] maps
//! `[T; IN]` to `[T; OUT]`; the activations ([`Relu`], [`Erf`], …) map any
//! `[T; N]` to itself; tuples `(A, B, C, …)` compose layers in sequence, so
//!
//! ```
//! use ntk::nn::{Dense, Relu, Module};
//! use ntk::Rng;
//! type Mlp = (Dense<f64, 2, 16>, Relu, Dense<f64, 16, 1>);
//! let mut rng = Rng::new(0);
//! let net: Mlp = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let y = net.eval(&[0.3, -0.2]);
//! assert!(y[0].is_finite());
//! ```
//!
//! is a 2-16-1 ReLU network with its widths checked by the compiler.
//!
//! Sequences are `[[T; C]; L]`, channels innermost. [`Conv1d`] maps
//! `[[T; C_IN]; L]` to `[[T; C_OUT]; L]`, the activations act elementwise on
//! sequences, [`GlobalAvgPool`] and [`Flatten`] read a sequence out into a
//! vector for a following [`Dense`], [`AvgPool`] shortens it, and
//! [`Unflatten`] makes a flat input `[T; D]` a sequence, so that a
//! convolutional network takes the flat inputs of the rest of the crate:
//!
//! ```
//! use ntk::nn::{Conv1d, Dense, GlobalAvgPool, Module, Params, Relu, Unflatten, Zeroed};
//! use ntk::Rng;
//! // 8 positions of 2 channels, a width-3 convolution to 16 channels, mean, 1 output
//! type Cnn = (Unflatten<2, 8>, Conv1d<f64, 2, 16, 3, 8>, Relu, GlobalAvgPool, Dense<f64, 16, 1>);
//! let mut net = Cnn::ZEROED;
//! net.init_ntk(1.4, 0.1, &mut Rng::new(0));
//! let y = net.eval(&[0.1; 16]);
//! assert!(y[0].is_finite());
//! ```
//!
//! [`Rnn`] maps a sequence `[[T; D]; L]` to its hidden states
//! `[[T; H]; L]` (an Elman network, weights shared across time); [`Last`]
//! or [`GlobalAvgPool`] reads them out:
//!
//! ```
//! use ntk::nn::{Dense, Last, Module, Params, Relu, Rnn, Unflatten, Zeroed};
//! use ntk::Rng;
//! type Net = (Unflatten<4, 16>, Rnn<f32, 4, 64, 16, Relu>, Last, Dense<f32, 64, 1>);
//! let mut net = Net::ZEROED;
//! net.init_ntk(1.0, 0.1, &mut Rng::new(0));
//! assert!(net.eval(&[0.1; 64])[0].is_finite());
//! ```
//!
//! Images are `[[[T; C]; W]; H]`: [`Conv2d`], the activations,
//! [`GlobalAvgPool`], [`Flatten`] and [`Unflatten2d`] act on them the same
//! way, and [`AvgPool2d`] shrinks them.
//!
//! Transformer-style blocks: [`SelfAttention`] maps a sequence
//! `[[T; C_IN]; L]` to `[[T; C_OUT]; L]` (neural-tangents'
//! `GlobalSelfAttention` with linear scaling), [`LayerNorm`] normalises the
//! channels at each position, [`Residual`] adds a block's input to its
//! output and [`Sum`] adds two branches on the same input:
//!
//! ```
//! use ntk::nn::{
//!     AttentionMechanism, Conv1d, Dense, GlobalAvgPool, LayerNorm, Module, Params, Relu,
//!     Residual, SelfAttention, Unflatten, Zeroed,
//! };
//! use ntk::Rng;
//! type Block = (Conv1d<f64, 8, 8, 1, 4>, Relu, Conv1d<f64, 8, 8, 1, 4>);
//! type Net = (
//!     Unflatten<8, 4>,
//!     Residual<Block>,
//!     LayerNorm,
//!     SelfAttention<f64, 8, 8, 4, 8, 8, 2>,
//!     Relu,
//!     GlobalAvgPool,
//!     Dense<f64, 8, 1>,
//! );
//! let mut net = Net::ZEROED;
//! net.init_ntk(1.0, 0.1, &mut Rng::new(0));
//! net.3.mechanism = AttentionMechanism::Identity;
//! assert!(net.eval(&[0.1; 32])[0].is_finite());
//! ```
//!
//! Two wrappers take a network to the lazy regime: [`Linearized`] is its
//! first-order Taylor expansion around `θ₀` and [`OutputScaled`] the
//! Chizat–Bach scaling `α·(f − f₀)`; both are modules and trainable like the
//! network (see [`crate::train`]). [`Parameterization`] names the
//! parameterisations of the layers, NTK, standard and μP, as points of the
//! abc family.
//!
//! For the structured empirical NTK the dense and convolution layers inside
//! such blocks keep handing their factors to the [`GradSink`];
//! [`SelfAttention`] hands its parameter gradient on as flat rows (factors
//! of input width 0): its key weights enter through the softmax of a
//! quadratic form of the input, which has no dense layer's factored form.
//! [`LayerNorm`], [`Residual`] and [`Sum`] add no parameters of their own.
//!
//! A [`Dense`] layer is not applied per position to a sequence: [`Params`]
//! describes a layer's factors independently of its input, and a dense layer
//! shared across positions is a width-1 [`Conv1d`].
//!
//! Forward passes store what the backward pass needs in a [`Module::Cache`]
//! the caller owns. Backward passes take the cotangent of the output and
//! either accumulate the parameter gradient into a value of the network's own
//! type ([`Module::backward`]: the gradient of a `Dense<T, 2, 16>` is a
//! `Dense<T, 2, 16>`, of a tuple a tuple) or hand each dense layer's factors
//! to a [`GradSink`] ([`Module::backward_with`]), which is how the flat
//! Jacobian rows and the factored (structured) empirical NTK are built without
//! materialising per-layer gradients.
//!
//! [`Params`] is the flat parameter view: the parameters in a fixed order
//! (layers in forward order; in each dense layer the weight matrix row-major,
//! then the bias), their count, and arithmetic between same-typed values.
//!
//! Every layer, and so every network, has a constant zero
//! ([`Zeroed::ZEROED`]) and is initialised in place ([`Params::init_ntk`],
//! [`Params::init`]), so a network of any width can live in a `static` or,
//! with the `alloc` feature, on the heap without being built on the stack
//! (see the [crate documentation](crate#large-shapes)). A new layer type
//! follows the same pattern: a `Zeroed` implementation whose value is all
//! zero bytes, [`Params::set_scales`], and an entry in the sealed
//! `boxed::Zeroable`.

mod activation;
mod attention;
mod conv;
mod conv2d;
mod dense;
mod lazy;
mod norm;
mod pool;
mod residual;
mod rnn;
mod tuple;

/// Re-exported from [`real`](crate::real), where the scalar types implement it.
pub use crate::real::Zeroed;
pub use activation::{Abs, Activation, Erf, Gelu, Identity, LeakyRelu, Relu, Sin, Tanh};
pub use attention::{AttentionCache, AttentionMechanism, SelfAttention};
pub use conv::{Conv1d, Padding};
pub use conv2d::Conv2d;
pub use dense::{Dense, Parameterization};
pub use lazy::{Linearized, OutputScaled};
pub use norm::LayerNorm;
pub use pool::{AvgPool, AvgPool2d, Flatten, GlobalAvgPool, Unflatten, Unflatten2d};
pub use residual::{Elements, Residual, Sum};
pub use rnn::{Last, Rnn, RnnCache, RnnFactors};

use crate::simd::{self, check_finite};
use crate::{Error, Real, Rng};

/// Receives each dense layer's gradient factors during a backward pass.
///
/// For a dense layer `y = ws·W·a + bs·b` and the cotangent `dy = ∂f/∂y`, the
/// parameter gradient is `∂f/∂W[o][i] = dy[o]·ws·a[i]` and
/// `∂f/∂b[o] = dy[o]·bs`. [`Module::backward_with`] calls [`GradSink::dense`]
/// once per dense layer, **last layer first**.
pub trait GradSink<T: Real> {
    /// One dense layer: its input `a`, weight scale `ws`, output cotangent
    /// `dy` and bias scale `bs`.
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T);

    /// One convolution with weight sharing (see [`ConvFactors`]). The
    /// default hands its position-summed gradient on as two dense factors of
    /// input width 0 and scales 1: `dense(&[], 1, bias_grad, 1)`, then
    /// `dense(&[], 1, weight_grad, 1)`, which is what a flat gradient needs.
    fn conv(&mut self, f: &ConvFactors<'_, T>) {
        self.dense(&[], T::ONE, f.bias_grad, T::ONE);
        self.dense(&[], T::ONE, f.weight_grad, T::ONE);
    }

    /// Where the next convolution puts its weight gradient summed over
    /// positions (`weight_len = C_OUT·Q·C_IN` elements in [`Params`] order;
    /// its bias gradient has `bias_len` elements; `factored` as in
    /// [`ConvFactors::factored`]). A convolution asks this once, just before
    /// its [`GradSink::conv`] call.
    ///
    /// The default, [`WeightGradBuffer::Own`], keeps the behaviour every
    /// sink relies on: the layer builds the gradient in a buffer of its own
    /// (`weight_len` elements on the stack) and hands it over in
    /// [`ConvFactors::weight_grad`]. A sink that stores the gradient anyway
    /// lends the place it goes ([`WeightGradBuffer::Lent`]): the layer
    /// overwrites it, and the following `conv` call sees an empty
    /// `weight_grad`, so nothing is copied and the layer needs no buffer of
    /// that size. A sink that does not read the gradient answers
    /// [`WeightGradBuffer::Skip`] and the layer does not compute it. A sink
    /// that answers `Lent` or `Skip` implements [`GradSink::conv`] for it.
    fn conv_weight_grad(
        &mut self,
        weight_len: usize,
        bias_len: usize,
        factored: bool,
    ) -> WeightGradBuffer<'_, T> {
        let _ = (weight_len, bias_len, factored);
        WeightGradBuffer::Own
    }

    /// One recurrent layer with weight sharing across time (see
    /// [`RnnFactors`]). The default hands its time-summed gradient on as
    /// three dense factors of input width 0 and scales 1, `b`, then `U`,
    /// then `W` (last first, as [`Params`] orders them `W, U, b`), which is
    /// what a flat gradient needs.
    fn rnn(&mut self, f: &RnnFactors<'_, T>) {
        self.dense(&[], T::ONE, f.b_grad, T::ONE);
        self.dense(&[], T::ONE, f.u_grad, T::ONE);
        self.dense(&[], T::ONE, f.w_grad, T::ONE);
    }
}

/// Receives each dense layer's gradient factors and their tangents during a
/// tangent backward pass ([`Module::backward_tangent`]).
///
/// For a dense layer `y = ws·W·a + bs·b` with input tangent `ȧ`, cotangent
/// `dy` and its tangent `ḋy`, the parameter gradient is
/// `∂f/∂W[o][i] = ws·dy[o]·a[i]`, `∂f/∂b[o] = bs·dy[o]`, and its tangent
/// `ws·(ḋy[o]·a[i] + dy[o]·ȧ[i])`, `bs·ḋy[o]`.
pub trait TangentSink<T: Real> {
    /// One dense layer: its input `a` and input tangent `da`, weight scale
    /// `ws`, output cotangent `dy` and its tangent `ddy`, bias scale `bs`.
    fn dense(&mut self, a: &[T], da: &[T], ws: T, dy: &[T], ddy: &[T], bs: T);
}

/// The error of a tangent pass through a layer that has none: for now only
/// [`Dense`], the activations on vectors and tuples of them have one.
pub(crate) const fn no_tangent() -> Error {
    Error::InvalidArgument {
        what: "a layer of the network has no tangent pass (Dense, activations and tuples have one)",
    }
}

/// Where a convolution puts its position-summed weight gradient: the answer
/// of [`GradSink::conv_weight_grad`].
#[derive(Debug)]
pub enum WeightGradBuffer<'a, T> {
    /// In a buffer of the layer's own, handed over in
    /// [`ConvFactors::weight_grad`].
    Own,
    /// In this buffer, which must hold exactly the requested `weight_len`
    /// elements (a buffer of another length counts as [`Self::Own`]): the
    /// layer overwrites it, and [`ConvFactors::weight_grad`] is empty.
    Lent(&'a mut [T]),
    /// Nowhere: the sink does not read it, and [`ConvFactors::weight_grad`]
    /// is empty.
    Skip,
}

/// What a convolution hands to [`GradSink::conv`]: its input, cotangent and
/// scales (the per-position factors of the structured empirical NTK) and its
/// parameter gradient summed over positions.
#[derive(Debug, Clone, Copy)]
pub struct ConvFactors<'a, T> {
    /// The layer's input, `L` positions of `c_in` channels, position-major.
    pub input: &'a [T],
    /// Input channels.
    pub c_in: usize,
    /// The filter width `Q` (odd).
    pub width: usize,
    /// The padding.
    pub padding: Padding,
    /// The weight scale `ws`.
    pub ws: T,
    /// The bias scale `bs`.
    pub bs: T,
    /// The output cotangent, `L` positions of `C_OUT` channels, position-major.
    pub dy: &'a [T],
    /// `∂f/∂W` summed over positions, `[o][δ][c]` ([`Params`] order); empty
    /// if the sink lent the buffer for it or skipped it (see
    /// [`GradSink::conv_weight_grad`]).
    pub weight_grad: &'a [T],
    /// `∂f/∂b`.
    pub bias_grad: &'a [T],
    /// `true` if the layer lists itself by position in
    /// [`Params::factor_shapes`] (see [`Conv1d::FACTORED`]).
    pub factored: bool,
}

impl<T: Real> ConvFactors<'_, T> {
    /// Number of positions `L`.
    pub fn positions(&self) -> usize {
        self.input.len().checked_div(self.c_in).unwrap_or(0)
    }

    /// The input position filter tap `d` reads at output position `p`, if
    /// any (none in the zero padding).
    pub fn source(&self, p: usize, d: usize) -> Option<usize> {
        conv::source(self.padding, self.width, self.positions(), p, d)
    }

    /// Writes the scaled patch `ā_p = [ws·x[p + δ − (Q−1)/2][c] for δ, c;
    /// bs]` (zeros in the padding) into `out`, which holds `Q·c_in + 1`
    /// elements: `Θ_l(x, x') = Σ_{p,p'} (δ_p·δ'_{p'})·(ā_p·ā'_{p'})`.
    pub fn patch(&self, p: usize, out: &mut [T]) {
        let c = self.c_in;
        for (d, dst) in out.chunks_exact_mut(c.max(1)).take(self.width).enumerate() {
            match self.source(p, d) {
                Some(src) => {
                    for (o, &x) in dst.iter_mut().zip(&self.input[src * c..src * c + c]) {
                        *o = self.ws * x;
                    }
                }
                None => dst.fill(T::ZERO),
            }
        }
        if let Some(last) = out.last_mut() {
            *last = self.bs;
        }
    }
}

/// Discards parameter gradients: a backward pass for the input gradient only.
impl<T: Real> GradSink<T> for () {
    #[inline]
    fn dense(&mut self, _a: &[T], _ws: T, _dy: &[T], _bs: T) {}

    #[inline]
    fn conv_weight_grad(&mut self, _: usize, _: usize, _: bool) -> WeightGradBuffer<'_, T> {
        WeightGradBuffer::Skip
    }
}

/// Writes the parameter gradient into a flat slice in [`Params`] order
/// (overwriting it), for Jacobian rows.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, FlatGradient, Module, Params, Zeroed};
/// use ntk::Rng;
/// let net: Dense<f64, 2, 1> = Dense::ntk(1.0, 1.0, &mut Rng::new(1));
/// let mut cache = Zeroed::zeroed();
/// net.forward(&[3.0, 4.0], &mut cache);
/// let mut g = [0.0; 3];
/// let mut sink = FlatGradient::new(&mut g);
/// net.backward_with(&cache, &[1.0], &mut sink);
/// assert!(sink.is_complete());
/// // ∂f/∂W = a/√2, ∂f/∂b = 1
/// assert!((g[0] - 3.0 / 2f64.sqrt()).abs() < 1e-15 && g[2] == 1.0);
/// ```
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FlatGradient<'a, T> {
    buf: &'a mut [T],
    end: usize,
    overrun: bool,
    /// The weight gradient length lent to the convolution whose `conv`
    /// call is due.
    lent: Option<usize>,
}

impl<'a, T: Real> FlatGradient<'a, T> {
    /// A sink filling `buf`, which should hold exactly the network's
    /// [`Params::NUM_PARAMS`] elements.
    pub fn new(buf: &'a mut [T]) -> Self {
        let end = buf.len();
        Self {
            buf,
            end,
            overrun: false,
            lent: None,
        }
    }

    /// `true` once every element of the buffer was written and nothing
    /// overran it: the buffer length matched the network.
    pub fn is_complete(&self) -> bool {
        self.end == 0 && !self.overrun
    }

    /// The weight gradient a convolution wrote into the slice lent to it,
    /// until its `conv` call (`bias_len` as passed to
    /// [`GradSink::conv_weight_grad`]).
    pub(crate) fn lent_weight_grad(&self, bias_len: usize) -> Option<&[T]> {
        let n = self.lent?;
        let end = self.end.checked_sub(bias_len)?;
        self.buf.get(end.checked_sub(n)?..end)
    }
}

impl<T: Real> GradSink<T> for FlatGradient<'_, T> {
    fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        let n = dy.len() * (a.len() + 1);
        if n > self.end {
            self.overrun = true;
            return;
        }
        let start = self.end - n;
        let (w, b) = self.buf[start..self.end].split_at_mut(dy.len() * a.len());
        for (o, (&d, bo)) in dy.iter().zip(b.iter_mut()).enumerate() {
            let s = d * ws;
            for (r, &ai) in w[o * a.len()..(o + 1) * a.len()].iter_mut().zip(a) {
                *r = s * ai;
            }
            *bo = d * bs;
        }
        self.end = start;
    }

    /// Lends the convolution the slice of the buffer where its weight
    /// gradient goes (before its bias gradient, in [`Params`] order).
    fn conv_weight_grad(
        &mut self,
        weight_len: usize,
        bias_len: usize,
        _factored: bool,
    ) -> WeightGradBuffer<'_, T> {
        let Some(start) = self
            .end
            .checked_sub(bias_len)
            .and_then(|e| e.checked_sub(weight_len))
        else {
            return WeightGradBuffer::Own;
        };
        self.lent = Some(weight_len);
        WeightGradBuffer::Lent(&mut self.buf[start..start + weight_len])
    }

    fn conv(&mut self, f: &ConvFactors<'_, T>) {
        self.dense(&[], T::ONE, f.bias_grad, T::ONE);
        match self.lent.take() {
            Some(n) => match self.end.checked_sub(n) {
                Some(e) => self.end = e,
                None => self.overrun = true,
            },
            None => self.dense(&[], T::ONE, f.weight_grad, T::ONE),
        }
    }
}

/// A layer or network: maps an input `X` to [`Module::Output`] and
/// back-propagates cotangents.
///
/// Implemented by [`Dense`], the activations and tuples of modules whose
/// types chain (`(A, B)` needs `B: Module<T, A::Output>`), up to 12 elements;
/// nest tuples for longer chains.
pub trait Module<T: Real, X> {
    /// The output type, e.g. `[T; OUT]`.
    type Output;
    /// What the forward pass stores for the backward pass.
    type Cache: Zeroed;

    /// Forward pass, storing what [`Module::backward`] needs in `cache`.
    fn forward(&self, x: &X, cache: &mut Self::Cache) -> Self::Output;

    /// Forward pass without keeping the cache.
    fn eval(&self, x: &X) -> Self::Output {
        let mut cache = Self::Cache::zeroed();
        self.forward(x, &mut cache)
    }

    /// Backward pass: adds the parameter gradient of `dy · f(x)` to `grad` (a
    /// value of the network's own type; its non-trainable fields are left
    /// as they are) and returns the input cotangent.
    fn backward(&self, cache: &Self::Cache, dy: &Self::Output, grad: &mut Self) -> X;

    /// Backward pass that hands each dense layer's gradient factors to `sink`
    /// (last layer first) and returns the input cotangent.
    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &Self::Cache,
        dy: &Self::Output,
        sink: &mut S,
    ) -> X;

    /// `true` for a module without trainable parameters, which hands
    /// nothing to a [`GradSink`]: a backward pass for the parameter gradient
    /// alone ([`Module::backward_params`]) stops before the modules in
    /// front of a network that are all parameter-free. The default, `false`,
    /// is always correct.
    const PARAMETER_FREE: bool = false;

    /// Backward pass for the parameter gradient alone: hands each layer's
    /// gradient factors to `sink` as [`Module::backward_with`] does (the
    /// same calls with the same values, last layer first) but computes no
    /// input cotangent. A sequential model computes the cotangents only
    /// down to its first layer that has parameters, and a convolution skips
    /// its input cotangent. The default calls [`Module::backward_with`] and
    /// drops the cotangent.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::nn::{Dense, FlatGradient, Module, Params, Relu, Zeroed};
    /// use ntk::Rng;
    /// let mut rng = Rng::new(2);
    /// let net: (Dense<f64, 2, 3>, Relu, Dense<f64, 3, 1>) =
    ///     (Dense::ntk(1.0, 0.1, &mut rng), Relu, Dense::ntk(1.0, 0.1, &mut rng));
    /// let mut cache = Zeroed::zeroed();
    /// net.forward(&[0.5, -1.0], &mut cache);
    /// let (mut a, mut b) = ([0.0; 13], [0.0; 13]);
    /// net.backward_params(&cache, &[1.0], &mut FlatGradient::new(&mut a));
    /// net.backward_with(&cache, &[1.0], &mut FlatGradient::new(&mut b));
    /// assert_eq!(a, b);
    /// ```
    #[inline]
    fn backward_params<S: GradSink<T>>(
        &self,
        cache: &Self::Cache,
        dy: &Self::Output,
        sink: &mut S,
    ) {
        let _ = self.backward_with(cache, dy, sink);
    }

    /// What [`Module::forward_batch`] stores for `B` inputs.
    type BatchCache<const B: usize>: Zeroed;

    /// Forward pass of `B` inputs at once: the same results as `B` calls of
    /// [`Module::forward`], bitwise, with each weight row loaded once per
    /// batch instead of once per input.
    fn forward_batch<const B: usize>(
        &self,
        xs: &[X; B],
        cache: &mut Self::BatchCache<B>,
    ) -> [Self::Output; B];

    /// Backward pass of `B` inputs at once: the same as `B` calls of
    /// [`Module::backward_with`], input `b` reporting to `sinks[b]`.
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &Self::BatchCache<B>,
        dys: &[Self::Output; B],
        sinks: &mut [S; B],
    ) -> [X; B];

    /// [`Module::backward_params`] of `B` inputs at once: the same calls on
    /// `sinks[b]` as `B` calls of it, with the same values. A sequential
    /// model computes the input cotangents only down to its first layer
    /// that has parameters, and that layer computes none. The default calls
    /// [`Module::backward_with_batch`] and drops the cotangents.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::nn::{Conv1d, FlatGradient, Module, Relu, Zeroed};
    /// use ntk::Rng;
    /// let mut rng = Rng::new(3);
    /// let net: (Conv1d<f64, 1, 2, 3, 4>, Relu) = (Conv1d::ntk(1.0, 0.1, &mut rng), Relu);
    /// let xs = [[[0.5], [-1.0], [2.0], [0.0]], [[1.0], [0.5], [-0.5], [1.5]]];
    /// let dys = [[[1.0, -1.0]; 4]; 2];
    /// let mut cache = Zeroed::zeroed();
    /// net.forward_batch(&xs, &mut cache);
    /// let (mut a, mut b) = ([[0.0; 8]; 2], [[0.0; 8]; 2]);
    /// let [a0, a1] = &mut a;
    /// net.backward_params_batch(&cache, &dys, &mut [FlatGradient::new(a0), FlatGradient::new(a1)]);
    /// let [b0, b1] = &mut b;
    /// net.backward_with_batch(&cache, &dys, &mut [FlatGradient::new(b0), FlatGradient::new(b1)]);
    /// assert_eq!(a, b);
    /// ```
    #[inline]
    fn backward_params_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &Self::BatchCache<B>,
        dys: &[Self::Output; B],
        sinks: &mut [S; B],
    ) {
        let _ = self.backward_with_batch(cache, dys, sinks);
    }

    /// Forward pass with its tangent along a parameter direction `v` (a
    /// value of the network's own type, like a gradient): returns the output
    /// `y` and its directional derivative `ẏ = ∂y/∂ε` of
    /// `y(x + ε·ẋ; θ + ε·v)` at `ε = 0`, storing what
    /// [`Module::backward_tangent`] needs in `cache` (as
    /// [`Module::forward`] does) and `tangent` (the same quantities'
    /// tangents). Forward-mode differentiation: exact, no finite step.
    ///
    /// Implemented by [`Dense`], the activations on vectors and tuples of
    /// them; the default refuses.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if a layer has no tangent pass, or an
    /// activation no second derivative
    /// ([`Activation::second_derivative`]). Nothing is checked for
    /// finiteness here: the callers check inputs and results.
    fn forward_tangent(
        &self,
        x: &X,
        dx: &X,
        v: &Self,
        cache: &mut Self::Cache,
        tangent: &mut Self::Cache,
    ) -> Result<(Self::Output, Self::Output), Error> {
        let _ = (x, dx, v, cache, tangent);
        Err(no_tangent())
    }

    /// Backward pass with its tangent along `v`, after
    /// [`Module::forward_tangent`] filled `cache` and `tangent`: takes the
    /// output cotangent `dy` and its tangent `ddy`, hands each dense layer's
    /// gradient factors and their tangents to `sink` (last layer first) and
    /// returns the input cotangent and its tangent. The parameter gradient's
    /// tangent is the Hessian-vector product `H(dy·f)·v` (plus the
    /// gradient of `ddy·f`).
    ///
    /// # Errors
    ///
    /// As [`Module::forward_tangent`].
    fn backward_tangent<S: TangentSink<T>>(
        &self,
        cache: &Self::Cache,
        tangent: &Self::Cache,
        v: &Self,
        dy: &Self::Output,
        ddy: &Self::Output,
        sink: &mut S,
    ) -> Result<(X, X), Error> {
        let _ = (cache, tangent, v, dy, ddy, sink);
        Err(no_tangent())
    }
}

/// The flat parameter view of a network and arithmetic between networks of
/// the same type (gradients, updates).
///
/// The order is fixed: layers in forward order, in each dense layer the weight
/// matrix row-major (`[out][in]`), then the bias.
pub trait Params<T: Real> {
    /// Number of trainable parameters.
    const NUM_PARAMS: usize;
    /// Number of dense layers (a convolution counts as listed in
    /// [`Params::dense_shapes`]).
    const DENSE_LAYERS: usize;
    /// Sum of the dense layers' input widths (with a convolution's factors).
    const DENSE_IN: usize;
    /// Sum of the dense layers' output widths (with a convolution's factors).
    const DENSE_OUT: usize;

    /// Calls `f(in, out)` for each dense layer, in forward order.
    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F);
    /// Calls `f(positions, a_len, d_len)` for each factor of the structured
    /// empirical NTK, in forward order: a factor contributes
    /// `Σ_{p,p'} (δ_p·δ'_{p'})·(ā_p·ā'_{p'})` over `positions` positions,
    /// with activations `ā_p` of `a_len` elements (the bias slot included)
    /// and cotangents `δ_p` of `d_len` elements per output. The default lists
    /// [`Params::dense_shapes`] as `f(1, in + 1, out)`; a convolution whose
    /// [`Conv1d::FACTORED`] holds lists itself as `f(L, Q·C_IN + 1, C_OUT)`.
    /// `DENSE_IN + DENSE_LAYERS` is the sum of `positions·a_len`, `DENSE_OUT`
    /// the sum of `positions·d_len`.
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        Self::dense_shapes(&mut |i, o| f(1, i + 1, o));
    }
    /// Visits the parameter slices in order.
    fn visit<F: FnMut(&[T])>(&self, f: &mut F);
    /// Visits the parameter slices in order, mutably.
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F);
    /// Visits the parameter slices of `self` and `other` side by side.
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F);
    /// Visits the parameter slices of `self` (mutably) and `other` side by side.
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F);
    /// Draws every parameter afresh from `rng` (layers in forward order),
    /// keeping the scales and parameterisation.
    fn reinit(&mut self, rng: &mut Rng);
    /// Sets every dense layer's σw, σb and parameterisation, leaving the
    /// parameters and every other layer as they are.
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization);

    /// Initialises the network in place: every dense layer gets σw, σb and
    /// `parameterization`, and its parameters are drawn from `rng` (layers in
    /// forward order). The result is bit for bit the network built by value
    /// from [`Dense::new`] with the same arguments and generator, without a
    /// temporary on the stack: with [`Zeroed::ZEROED`] in a `static`, or a
    /// zeroed heap allocation, it builds networks of any width.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::nn::{Dense, Parameterization, Params, Relu, Zeroed};
    /// use ntk::Rng;
    /// type Net = (Dense<f32, 3, 8>, Relu, Dense<f32, 8, 2>);
    /// let mut net = Net::ZEROED;
    /// net.init(1.2, 0.3, Parameterization::Standard, &mut Rng::new(5));
    /// let mut rng = Rng::new(5);
    /// let p = Parameterization::Standard;
    /// let by_value: Net = (Dense::new(1.2, 0.3, p, &mut rng), Relu, Dense::new(1.2, 0.3, p, &mut rng));
    /// assert_eq!(net, by_value);
    /// ```
    fn init(
        &mut self,
        weight_std: T,
        bias_std: T,
        parameterization: Parameterization,
        rng: &mut Rng,
    ) {
        self.set_scales(weight_std, bias_std, parameterization);
        self.reinit(rng);
    }

    /// [`Params::init`] in NTK parameterization: in place, what
    /// [`Dense::ntk`] builds by value.
    fn init_ntk(&mut self, weight_std: f64, bias_std: f64, rng: &mut Rng) {
        self.init(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Ntk,
            rng,
        );
    }

    /// [`Params::init`] in standard parameterization: in place, what
    /// [`Dense::standard`] builds by value.
    fn init_standard(&mut self, weight_std: f64, bias_std: f64, rng: &mut Rng) {
        self.init(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Standard,
            rng,
        );
    }

    /// Sets every parameter to `v`.
    fn fill(&mut self, v: T) {
        self.visit_mut(&mut |s| s.fill(v));
    }
    /// `self ← self + alpha·x`.
    fn axpy(&mut self, alpha: T, x: &Self) {
        self.zip_mut(x, &mut |y, x| simd::axpy(alpha, x, y));
    }
    /// Σ θᵢ·θ'ᵢ over all parameters.
    fn dot(&self, other: &Self) -> T {
        let mut acc = T::ZERO;
        self.zip(other, &mut |a, b| acc += simd::dot(a, b));
        acc
    }
    /// `true` if no parameter is NaN or ±∞, nor any fixed number of a layer
    /// (a dense layer's σw and σb, a leaky ReLU's slope).
    fn is_finite(&self) -> bool {
        let mut ok = true;
        self.visit(&mut |s| ok &= simd::all_finite(s));
        ok
    }
    /// Copies the parameters into `out`, which must hold exactly
    /// [`Params::NUM_PARAMS`] elements.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] (or `InvalidArgument` for a longer buffer);
    /// `out` is zeroed then.
    fn write_flat(&self, out: &mut [T]) -> Result<(), Error> {
        crate::outputs::zero_on_error(out, |out| {
            flat_len_check(out.len(), Self::NUM_PARAMS)?;
            let mut at = 0;
            self.visit(&mut |s| {
                if let Some(dst) = out.get_mut(at..at + s.len()) {
                    dst.copy_from_slice(s);
                }
                at += s.len();
            });
            Ok(())
        })
    }
    /// Sets the parameters from `flat` ([`Params`] order, exactly
    /// [`Params::NUM_PARAMS`] finite elements).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] / [`Error::InvalidArgument`] for a wrong
    /// length, [`Error::NonFinite`] for NaN or ±∞; `self` is untouched then.
    fn read_flat(&mut self, flat: &[T]) -> Result<(), Error> {
        flat_len_check(flat.len(), Self::NUM_PARAMS)?;
        check_finite(flat, "flat parameters")?;
        let mut at = 0;
        self.visit_mut(&mut |s| {
            let n = s.len();
            if let Some(src) = flat.get(at..at + n) {
                s.copy_from_slice(src);
            }
            at += n;
        });
        Ok(())
    }
}

fn flat_len_check(given: usize, needed: usize) -> Result<(), Error> {
    if given < needed {
        Err(Error::BufferTooSmall { needed, given })
    } else if given > needed {
        Err(Error::InvalidArgument {
            what: "flat parameter buffer longer than the network's parameter count",
        })
    } else {
        Ok(())
    }
}
