//! The fully connected layer.

use super::{GradSink, Module, Params, TangentSink, Zeroed};
use crate::{simd, Error, Real, Rng};

/// How a dense layer scales its weights: a point of the abc family of
/// parameterisations.
///
/// Represented as a `u8` with [`Parameterization::Ntk`] = 0, so that an
/// all-zero dense layer is a valid value.
///
/// # The abc family
///
/// Yang & Hu (2021, *Tensor Programs IV: Feature Learning in
/// Infinite-Width Neural Networks*, §3) write every weight of a network of
/// width `n` as `W = n^(−a)·w`, draw the trainable `w` from
/// `N(0, n^(−2b))` and train it by SGD with learning rate `η·n^(−c)`: the
/// exponents `a` (multiplier), `b` (initialisation) and `c` (learning rate),
/// per layer, name a parameterisation. Input dimension and output
/// dimension are fixed; only the width grows. The points implemented here,
/// with `(a, b, c)` for the input layer (`d → n`), the hidden layers
/// (`n → n`) and the output layer (`n → k`):
///
/// | variant | input | hidden | output |
/// |---|---|---|---|
/// | [`Ntk`](Self::Ntk) | `(0, 0, 0)` | `(½, 0, 0)` | `(½, 0, 0)` |
/// | [`Standard`](Self::Standard) | `(0, 0, 0)` | `(0, ½, 0)` | `(0, ½, 0)` |
/// | μP: [`MuPInput`](Self::MuPInput), [`MuPHidden`](Self::MuPHidden), [`MuPOutput`](Self::MuPOutput) | `(−½, ½, 0)` | `(0, ½, 0)` | `(½, ½, 0)` |
///
/// The μP row is the maximal update parameterisation of Yang & Hu (2021)
/// in the form they state it, with one learning rate for all layers
/// (`c = 0`). The symmetry `(a, b, c) → (a + θ, b − θ, c − 2θ)` of a layer
/// changes neither the function nor its SGD trajectory, and moves μP to
/// the form with multipliers 1 and per-layer learning rates (the SGD rows of
/// Table 3 of Yang et al. 2021, *Tensor Programs V*): initial variance
/// `1/fan_in` for input weights and biases, `1/fan_in²` for output weights,
/// `1/fan_in` for hidden weights, and learning rates `η·fan_out`, `η/fan_in`
/// and `η` respectively. The layers here store the `c = 0` form, so
/// [`crate::train`] with one learning rate `η` is the SGD of either form
/// (per-layer learning rates included), and the empirical NTK of the stored
/// parameters is the kernel of that gradient descent.
///
/// Biases are weights of fan-in 1 (the first column of Table 3 of *Tensor
/// Programs V*): in μP the input and hidden layers' biases have
/// `(a, b) = (−½, ½)` with `n` their length; the output layer's bias (of
/// fixed length `k`) is not scaled with the width.
///
/// In this crate's terms, with `y = ws·W·a + bs·b` (see [`Dense`]),
/// `fan_in = IN`, `fan_out = OUT`, σw and σb the layer's constants, and
/// `W`, `b` drawn from normals of standard deviations `std(W)`, `std(b)`:
///
/// | variant | `ws` | `std(W)` | `bs` | `std(b)` |
/// |---|---|---|---|---|
/// | [`Ntk`](Self::Ntk) | `σw/√IN` | 1 | σb | 1 |
/// | [`Standard`](Self::Standard) | 1 | `σw/√IN` | σb | 1 |
/// | [`MuPInput`](Self::MuPInput) | `σw·√OUT/√IN` | `1/√OUT` | `σb·√OUT` | `1/√OUT` |
/// | [`MuPHidden`](Self::MuPHidden) | σw | `1/√IN` | `σb·√OUT` | `1/√OUT` |
/// | [`MuPOutput`](Self::MuPOutput) | `σw/√IN` | `1/√IN` | σb | 1 |
///
/// so that the effective weight `ws·W` has variance `σw²/IN` in every
/// layer but μP's output layer, where it is `σw²/IN²`: μP's output at
/// initialisation shrinks like `1/√n` (its output bias aside), and one SGD
/// step moves the hidden features by `Θ(1)` whatever the width, where the
/// NTK parameterisation moves them by `O(1/√n)`.
///
/// # Infinite width
///
/// In the NTK parameterisation the empirical NTK converges to a fixed
/// kernel that stays fixed during training (the kernels of
/// [`crate::analytic`]); the standard parameterisation has the analytic
/// kernel of [`analytic::Layer::DenseStandard`](crate::analytic::Layer::DenseStandard)
/// at its finite width. In μP the NTK at initialisation has the same
/// infinite-width limit as in the NTK parameterisation with the same σw
/// and σb, layer by layer (each layer's gradient is `√n` times smaller
/// per coordinate and its multiplier `√n` times larger, or the reverse:
/// the contributions `ws²·Σ(∂f/∂h)²·Σa²` agree), while the output at
/// initialisation, and so the NNGP kernel of the outputs, tends to the
/// output bias alone (`σb²`). But that kernel does not govern training: the
/// features move by `Θ(1)` in the first steps and the kernel with them, so
/// no fixed kernel predicts the trained μP network and
/// [`Dense::kernel_layer`] refuses μP with [`Error::NoFixedKernel`].
///
/// # Examples
///
/// A μP network names each layer's role; [`Params::init`] on a whole
/// network gives every layer the same variant, so a μP network is built
/// layer by layer (by value, or in place with [`Params::init`] on each
/// layer):
///
/// ```
/// use ntk::nn::{Dense, Module, Relu};
/// use ntk::Rng;
/// type Mlp<const W: usize> = (Dense<f64, 2, W>, Relu, Dense<f64, W, W>, Relu, Dense<f64, W, 1>);
/// fn mup<const W: usize>(seed: u64) -> Mlp<W> {
///     let mut rng = Rng::new(seed);
///     (
///         Dense::mup_input(1.4, 0.0, &mut rng),
///         Relu,
///         Dense::mup_hidden(1.4, 0.0, &mut rng),
///         Relu,
///         Dense::mup_output(1.4, 0.0, &mut rng),
///     )
/// }
/// // The output at initialisation shrinks like 1/√n (averaged over draws).
/// let rms = |f: &dyn Fn(u64) -> f64| ((0..32).map(|s| f(s).powi(2)).sum::<f64>() / 32.0).sqrt();
/// let narrow = rms(&|s| mup::<16>(s).eval(&[0.6, 0.8])[0]);
/// let wide = rms(&|s| mup::<256>(s).eval(&[0.6, 0.8])[0]);
/// assert!(wide < 0.5 * narrow);
/// ```
///
/// Layers other than [`Dense`] take the same rules with their own fan-in
/// and fan-out (a convolution's fan-in is filter width × input channels,
/// its fan-out its output channels; an [`Rnn`](super::Rnn) applies the
/// rule to its recurrent and its input weight, its bias following the
/// recurrent weight). [`SelfAttention`](super::SelfAttention) has its own
/// fixed scaling and ignores the parameterisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Parameterization {
    /// NTK parameterization: `y = σw/√IN · W·a + σb·b` with `W, b ~ N(0, 1)`;
    /// the NTK has a finite infinite-width limit.
    Ntk = 0,
    /// Standard parameterization: `y = W·a + σb·b` with `W ~ N(0, σw²/IN)`,
    /// `b ~ N(0, 1)`.
    Standard = 1,
    /// μP, the input layer (`IN` the fixed input dimension, `OUT` the width
    /// `n`): `y = σw·√(OUT/IN)·W·a + σb·√OUT·b` with
    /// `W, b ~ N(0, 1/OUT)`.
    MuPInput = 2,
    /// μP, a hidden layer (`IN` the width `n`): `y = σw·W·a + σb·√OUT·b`
    /// with `W ~ N(0, 1/IN)`, `b ~ N(0, 1/OUT)`.
    MuPHidden = 3,
    /// μP, the output layer (`IN` the width `n`, `OUT` the fixed output
    /// dimension): `y = σw/√IN·W·a + σb·b` with `W ~ N(0, 1/IN)`,
    /// `b ~ N(0, 1)`.
    MuPOutput = 4,
}

impl Parameterization {
    /// `[ws, bs, std(W), std(b)]` for a weight of fan-in `fan_in` and
    /// fan-out `fan_out` (see the tables of [`Parameterization`]).
    #[inline]
    pub(crate) fn factors<T: Real>(
        self,
        weight_std: T,
        bias_std: T,
        fan_in: usize,
        fan_out: usize,
    ) -> [T; 4] {
        let root = |n: usize| T::from_usize(n.max(1)).sqrt();
        match self {
            Self::Ntk => [weight_std / root(fan_in), bias_std, T::ONE, T::ONE],
            Self::Standard => [T::ONE, bias_std, weight_std / root(fan_in), T::ONE],
            Self::MuPInput => {
                let r = root(fan_out);
                [
                    weight_std * r / root(fan_in),
                    bias_std * r,
                    (T::ONE / r),
                    (T::ONE / r),
                ]
            }
            Self::MuPHidden => {
                let r = root(fan_out);
                [
                    weight_std,
                    bias_std * r,
                    T::ONE / root(fan_in),
                    (T::ONE / r),
                ]
            }
            Self::MuPOutput => {
                let r = root(fan_in);
                [weight_std / r, bias_std, (T::ONE / r), T::ONE]
            }
        }
    }

    /// `true` for the three μP variants.
    pub const fn is_mup(self) -> bool {
        matches!(self, Self::MuPInput | Self::MuPHidden | Self::MuPOutput)
    }
}

/// A fully connected layer `[T; IN] → [T; OUT]`.
///
/// `y = ws·W·a + bs·b` with `ws = σw/√IN`, `bs = σb` in [`Parameterization::Ntk`],
/// `ws = 1`, `bs = σb` in [`Parameterization::Standard`], and the scales of
/// the table of [`Parameterization`] in μP. The weight is stored row-major,
/// `weight[o][i]`.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Module};
/// use ntk::Rng;
/// let mut layer: Dense<f64, 3, 2> = Dense::ntk(2.0, 0.5, &mut Rng::new(3));
/// layer.weight = [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]];
/// layer.bias = [1.0, -1.0];
/// let y = layer.eval(&[3.0, 1.0, 2.0]);
/// let ws = 2.0 / 3f64.sqrt();
/// assert!((y[0] - (ws * 3.0 + 0.5)).abs() < 1e-14);
/// assert!((y[1] - (ws * 3.0 - 0.5)).abs() < 1e-14);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense<T, const IN: usize, const OUT: usize> {
    /// Weight matrix, `weight[o][i]`.
    pub weight: [[T; IN]; OUT],
    /// Bias vector.
    pub bias: [T; OUT],
    /// Weight standard deviation σw.
    pub weight_std: T,
    /// Bias standard deviation σb.
    pub bias_std: T,
    /// The parameterisation.
    pub parameterization: Parameterization,
}

/// All parameters zero, σw = σb = 0, [`Parameterization::Ntk`]: every byte
/// zero. Fill it in place with [`Params::init`] or [`Params::init_ntk`].
impl<T: Real, const IN: usize, const OUT: usize> Zeroed for Dense<T, IN, OUT> {
    const ZEROED: Self = Self {
        weight: [[T::ZERO; IN]; OUT],
        bias: [T::ZERO; OUT],
        weight_std: T::ZERO,
        bias_std: T::ZERO,
        parameterization: Parameterization::Ntk,
    };
}

impl<T: Real, const IN: usize, const OUT: usize> Dense<T, IN, OUT> {
    /// A layer with all parameters zero (a buffer for gradients).
    pub fn zeros(weight_std: T, bias_std: T, parameterization: Parameterization) -> Self {
        Self {
            weight: [[T::ZERO; IN]; OUT],
            bias: [T::ZERO; OUT],
            weight_std,
            bias_std,
            parameterization,
        }
    }

    /// A layer with parameters drawn from `rng` for the given parameterisation.
    pub fn new(
        weight_std: T,
        bias_std: T,
        parameterization: Parameterization,
        rng: &mut Rng,
    ) -> Self {
        let mut d = Self::zeros(weight_std, bias_std, parameterization);
        d.reinit(rng);
        d
    }

    /// A layer in NTK parameterization (`W, b ~ N(0, 1)`).
    pub fn ntk(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Ntk,
            rng,
        )
    }

    /// A layer in standard parameterization (`W ~ N(0, σw²/IN)`, `b ~ N(0, 1)`).
    pub fn standard(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Standard,
            rng,
        )
    }

    /// A μP input layer ([`Parameterization::MuPInput`]): `ws = σw·√(OUT/IN)`,
    /// `bs = σb·√OUT`, `W, b ~ N(0, 1/OUT)`.
    pub fn mup_input(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::MuPInput,
            rng,
        )
    }

    /// A μP hidden layer ([`Parameterization::MuPHidden`]): `ws = σw`,
    /// `bs = σb·√OUT`, `W ~ N(0, 1/IN)`, `b ~ N(0, 1/OUT)`.
    pub fn mup_hidden(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::MuPHidden,
            rng,
        )
    }

    /// A μP output layer ([`Parameterization::MuPOutput`]): `ws = σw/√IN`,
    /// `bs = σb`, `W ~ N(0, 1/IN)`, `b ~ N(0, 1)`.
    pub fn mup_output(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::MuPOutput,
            rng,
        )
    }

    /// The layer of the infinite-width kernel that governs gradient-descent
    /// training of this layer, for an [`Architecture`](crate::analytic::Architecture)
    /// built layer by layer: [`Layer::Dense`] in the NTK parameterisation,
    /// [`Layer::DenseStandard`] (at this layer's fan-in `IN`) in the standard
    /// one.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// use ntk::nn::Dense;
    /// use ntk::{Error, Rng};
    /// let mut rng = Rng::new(1);
    /// let ntk: Dense<f64, 4, 8> = Dense::ntk(1.5, 0.1, &mut rng);
    /// assert_eq!(ntk.kernel_layer()?, Layer::Dense { weight_std: 1.5, bias_std: 0.1 });
    /// let mup: Dense<f64, 8, 8> = Dense::mup_hidden(1.5, 0.1, &mut rng);
    /// assert!(matches!(mup.kernel_layer(), Err(Error::NoFixedKernel { .. })));
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NoFixedKernel`] in μP (see [`Parameterization`]: its NTK at
    /// initialisation has the NTK parameterisation's limit, but it moves
    /// during training by `Θ(1)` at any width). In the standard
    /// parameterisation [`Error::InvalidArgument`] unless σb = 1 (the
    /// analytic layer trains the bias with scale 1, this layer with σb) or
    /// if `IN` does not fit a `u32`. [`Error::NonFinite`] for non-finite or
    /// negative σw, σb.
    ///
    /// [`Layer::Dense`]: crate::analytic::Layer::Dense
    /// [`Layer::DenseStandard`]: crate::analytic::Layer::DenseStandard
    pub fn kernel_layer(&self) -> Result<crate::analytic::Layer<T>, Error> {
        use crate::analytic::Layer;
        let (weight_std, bias_std) = (self.weight_std, self.bias_std);
        if !(weight_std.is_finite() && bias_std.is_finite()) {
            return Err(Error::NonFinite {
                what: "weight or bias standard deviation",
            });
        }
        if weight_std < T::ZERO || bias_std < T::ZERO {
            return Err(Error::InvalidArgument {
                what: "weight and bias standard deviations must be non-negative",
            });
        }
        match self.parameterization {
            Parameterization::Ntk => Ok(Layer::Dense {
                weight_std,
                bias_std,
            }),
            Parameterization::Standard => {
                if bias_std != T::ONE {
                    return Err(Error::InvalidArgument {
                        what:
                            "the analytic standard layer trains the bias at scale 1: σb must be 1",
                    });
                }
                let fan_in = u32::try_from(IN).map_err(|_| Error::InvalidArgument {
                    what: "fan-in beyond u32",
                })?;
                Ok(Layer::DenseStandard {
                    weight_std,
                    bias_std,
                    fan_in,
                })
            }
            Parameterization::MuPInput
            | Parameterization::MuPHidden
            | Parameterization::MuPOutput => Err(Error::NoFixedKernel {
                what: "μP: the kernel moves by Θ(1) during training at any width",
            }),
        }
    }

    /// The weight scale `ws` and bias scale `bs` of `y = ws·W·a + bs·b`.
    #[inline]
    pub fn scales(&self) -> (T, T) {
        let [ws, bs, ..] = self
            .parameterization
            .factors(self.weight_std, self.bias_std, IN, OUT);
        (ws, bs)
    }

    #[inline]
    fn input_cotangent(&self, dy: &[T; OUT], ws: T) -> [T; IN] {
        let mut dx = [T::ZERO; IN];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (dy4, dy_rest) = dy.as_chunks::<4>();
        for (w, d) in rows4.iter().zip(dy4) {
            simd::axpy4(
                [d[0] * ws, d[1] * ws, d[2] * ws, d[3] * ws],
                [&w[0], &w[1], &w[2], &w[3]],
                &mut dx,
            );
        }
        for (row, &d) in rest.iter().zip(dy_rest) {
            simd::axpy(d * ws, row, &mut dx);
        }
        dx
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Module<T, [T; IN]> for Dense<T, IN, OUT> {
    type Output = [T; OUT];
    type Cache = [T; IN];

    #[inline]
    fn forward(&self, x: &[T; IN], cache: &mut [T; IN]) -> [T; OUT] {
        *cache = *x;
        let (ws, bs) = self.scales();
        let mut y = [T::ZERO; OUT];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (y4, y_rest) = y.as_chunks_mut::<4>();
        for (yq, w) in y4.iter_mut().zip(rows4) {
            *yq = simd::dot4(x, [&w[0], &w[1], &w[2], &w[3]]);
        }
        for (yo, row) in y_rest.iter_mut().zip(rest) {
            *yo = simd::dot(row, x);
        }
        for (yo, &b) in y.iter_mut().zip(&self.bias) {
            *yo = ws * *yo + bs * b;
        }
        y
    }

    fn backward(&self, cache: &[T; IN], dy: &[T; OUT], grad: &mut Self) -> [T; IN] {
        let (ws, bs) = self.scales();
        for ((grow, gb), &d) in grad.weight.iter_mut().zip(grad.bias.iter_mut()).zip(dy) {
            simd::axpy(d * ws, cache, grow);
            *gb += d * bs;
        }
        self.input_cotangent(dy, ws)
    }

    #[inline]
    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &[T; IN],
        dy: &[T; OUT],
        sink: &mut S,
    ) -> [T; IN] {
        let (ws, bs) = self.scales();
        sink.dense(cache, ws, dy, bs);
        self.input_cotangent(dy, ws)
    }

    #[inline]
    fn backward_params<S: GradSink<T>>(&self, cache: &[T; IN], dy: &[T; OUT], sink: &mut S) {
        let (ws, bs) = self.scales();
        sink.dense(cache, ws, dy, bs);
    }

    type BatchCache<const B: usize> = [[T; IN]; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[[T; IN]; B],
        cache: &mut [[T; IN]; B],
    ) -> [[T; OUT]; B] {
        *cache = *xs;
        let (ws, bs) = self.scales();
        let mut ys = [[T::ZERO; OUT]; B];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (x4, x_rest) = xs.as_chunks::<4>();
        for (q, w) in rows4.iter().enumerate() {
            let w = [&w[0][..], &w[1][..], &w[2][..], &w[3][..]];
            let (y4, y_rest) = ys.as_chunks_mut::<4>();
            for (yb, xb) in y4.iter_mut().zip(x4) {
                let r = simd::dot4x4([&xb[0], &xb[1], &xb[2], &xb[3]], w);
                for (y, rb) in yb.iter_mut().zip(r) {
                    y[4 * q..4 * q + 4].copy_from_slice(&rb);
                }
            }
            for (y, x) in y_rest.iter_mut().zip(x_rest) {
                y[4 * q..4 * q + 4].copy_from_slice(&simd::dot4(x, w));
            }
        }
        let base = 4 * rows4.len();
        for (o, row) in rest.iter().enumerate() {
            for (y, x) in ys.iter_mut().zip(xs) {
                y[base + o] = simd::dot(row, x);
            }
        }
        for y in ys.iter_mut() {
            for (yo, &b) in y.iter_mut().zip(&self.bias) {
                *yo = ws * *yo + bs * b;
            }
        }
        ys
    }

    #[inline]
    fn backward_params_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[[T; IN]; B],
        dys: &[[T; OUT]; B],
        sinks: &mut [S; B],
    ) {
        let (ws, bs) = self.scales();
        for ((sink, a), dy) in sinks.iter_mut().zip(cache).zip(dys) {
            sink.dense(a, ws, dy, bs);
        }
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[[T; IN]; B],
        dys: &[[T; OUT]; B],
        sinks: &mut [S; B],
    ) -> [[T; IN]; B] {
        let (ws, bs) = self.scales();
        for ((sink, a), dy) in sinks.iter_mut().zip(cache).zip(dys) {
            sink.dense(a, ws, dy, bs);
        }
        let mut dxs = [[T::ZERO; IN]; B];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (dy4, dy_rest) = dys.as_chunks::<4>();
        let alpha =
            |dy: &[T; OUT], q: usize| -> [T; 4] { core::array::from_fn(|r| dy[4 * q + r] * ws) };
        for (q, w) in rows4.iter().enumerate() {
            let w = [&w[0][..], &w[1][..], &w[2][..], &w[3][..]];
            let (dx4, dx_rest) = dxs.as_chunks_mut::<4>();
            for (dxb, dyb) in dx4.iter_mut().zip(dy4) {
                let [d0, d1, d2, d3] = dxb;
                simd::axpy4x4(
                    [
                        alpha(&dyb[0], q),
                        alpha(&dyb[1], q),
                        alpha(&dyb[2], q),
                        alpha(&dyb[3], q),
                    ],
                    w,
                    [d0, d1, d2, d3],
                );
            }
            for (dx, dy) in dx_rest.iter_mut().zip(dy_rest) {
                simd::axpy4(alpha(dy, q), w, dx);
            }
        }
        let base = 4 * rows4.len();
        for (o, row) in rest.iter().enumerate() {
            for (dx, dy) in dxs.iter_mut().zip(dys) {
                simd::axpy(dy[base + o] * ws, row, dx);
            }
        }
        dxs
    }

    /// `ẏ = ws·(W·ẋ + V·x) + bs·v_b` for the direction `v = (V, v_b)`.
    fn forward_tangent(
        &self,
        x: &[T; IN],
        dx: &[T; IN],
        v: &Self,
        cache: &mut [T; IN],
        tangent: &mut [T; IN],
    ) -> Result<([T; OUT], [T; OUT]), Error> {
        let y = self.forward(x, cache);
        *tangent = *dx;
        let (ws, bs) = self.scales();
        let mut dy = [T::ZERO; OUT];
        for (((d, w), vw), &vb) in dy.iter_mut().zip(&self.weight).zip(&v.weight).zip(&v.bias) {
            *d = ws * (simd::dot(w, dx) + simd::dot(vw, x)) + bs * vb;
        }
        Ok((y, dy))
    }

    /// The input cotangent `ws·Wᵀ·dy` and its tangent `ws·(Wᵀ·ḋy + Vᵀ·dy)`.
    fn backward_tangent<S: TangentSink<T>>(
        &self,
        cache: &[T; IN],
        tangent: &[T; IN],
        v: &Self,
        dy: &[T; OUT],
        ddy: &[T; OUT],
        sink: &mut S,
    ) -> Result<([T; IN], [T; IN]), Error> {
        let (ws, bs) = self.scales();
        sink.dense(cache, tangent, ws, dy, ddy, bs);
        let dx = self.input_cotangent(dy, ws);
        let mut ddx = self.input_cotangent(ddy, ws);
        let from_v = v.input_cotangent(dy, ws);
        for (d, e) in ddx.iter_mut().zip(from_v) {
            *d += e;
        }
        Ok((dx, ddx))
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Params<T> for Dense<T, IN, OUT> {
    const NUM_PARAMS: usize = IN * OUT + OUT;
    const DENSE_LAYERS: usize = 1;
    const DENSE_IN: usize = IN;
    const DENSE_OUT: usize = OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        f(IN, OUT)
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        f(self.weight.as_flattened());
        f(&self.bias);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        f(self.weight.as_flattened_mut());
        f(&mut self.bias);
    }
    fn is_finite(&self) -> bool {
        self.weight_std.is_finite()
            && self.bias_std.is_finite()
            && self.weight.as_flattened().iter().all(|v| v.is_finite())
            && self.bias.iter().all(|v| v.is_finite())
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        f(self.weight.as_flattened(), other.weight.as_flattened());
        f(&self.bias, &other.bias);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        f(self.weight.as_flattened_mut(), other.weight.as_flattened());
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
                .factors(self.weight_std, self.bias_std, IN, OUT);
        for w in self.weight.as_flattened_mut() {
            *w = wscale * rng.normal::<T>();
        }
        for b in self.bias.iter_mut() {
            *b = bscale * rng.normal::<T>();
        }
    }
}
