//! The layers of an infinite-width architecture and the kernel state they act on.

use super::activation::RnnActivation;
use super::dual::AbRelu;
#[cfg(feature = "quadrature")]
use super::dual::{dtanh, tanh};
use super::pair::PairState;
use super::step::{apply_pair, Step};
use crate::{Error, Real};

/// A user-supplied activation φ with its derivative φ′, for kernels by quadrature.
///
/// The NNGP and NTK of a [`Layer::Custom`] layer are the Gaussian expectations
/// E[φ(u)φ(v)] and E[φ′(u)φ′(v)], computed by the quadrature of the
/// [`analytic`](super) module documentation (accurate for functions that are
/// smooth on each side of 0, such as ReLU variants, ELU, softplus or swish).
///
/// Activations are identified by their `name`: two activations with the same
/// name compare equal, and [`Architecture::parse_with`](super::Architecture::parse_with)
/// finds them by name. Use a name made of ASCII letters, digits and `_` so that
/// the text form of an architecture reads back.
///
/// Only with the `quadrature` feature (on by default).
///
/// # Examples
///
/// ```
/// use ntk::analytic::{CustomActivation, Layer, PairState};
/// fn softsign(x: f64) -> f64 { x / (1.0 + x.abs()) }
/// fn dsoftsign(x: f64) -> f64 { 1.0 / ((1.0 + x.abs()) * (1.0 + x.abs())) }
/// let act = CustomActivation::new("softsign", softsign, dsoftsign);
/// let s = Layer::Custom(act).apply(PairState::new(1.0, 0.5, 2.0, 1.0));
/// assert!(s.sigma12 > 0.0 && s.sigma12 < 0.5);
/// assert_eq!(act.name(), "softsign");
/// ```
#[cfg(feature = "quadrature")]
#[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
#[derive(Clone, Copy)]
pub struct CustomActivation<T> {
    name: &'static str,
    phi: fn(T) -> T,
    dphi: fn(T) -> T,
}

#[cfg(feature = "quadrature")]
impl<T> CustomActivation<T> {
    /// An activation named `name` with function `phi` and derivative `dphi`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::CustomActivation;
    /// fn square(x: f32) -> f32 { x * x }
    /// fn twice(x: f32) -> f32 { 2.0 * x }
    /// let a = CustomActivation::new("square", square, twice);
    /// assert_eq!((a.phi())(3.0), 9.0);
    /// assert_eq!((a.dphi())(3.0), 6.0);
    /// ```
    pub const fn new(name: &'static str, phi: fn(T) -> T, dphi: fn(T) -> T) -> Self {
        Self { name, phi, dphi }
    }

    /// The name, used in the text form of architectures.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The function φ.
    pub const fn phi(&self) -> fn(T) -> T {
        self.phi
    }

    /// The derivative φ′.
    pub const fn dphi(&self) -> fn(T) -> T {
        self.dphi
    }
}

#[cfg(feature = "quadrature")]
impl<T> PartialEq for CustomActivation<T> {
    /// Activations are equal when their names are.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

#[cfg(all(feature = "quadrature", feature = "defmt"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "quadrature", feature = "defmt"))))]
impl<T> defmt::Format for CustomActivation<T> {
    /// The name, as [`Debug`](core::fmt::Debug) shows it (the functions
    /// are not shown).
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "CustomActivation({=str})", self.name);
    }
}

#[cfg(feature = "quadrature")]
impl<T> core::fmt::Debug for CustomActivation<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("CustomActivation").field(&self.name).finish()
    }
}

/// The activation of a [`Layer::RnnWith`]: those of the fully connected
/// layers that have parameters or user functions, which the
/// non-generic [`RnnActivation`] cannot hold. In the text form each is
/// written as its fully connected token: `rnn(W,U,B,leaky_relu(A))`,
/// `rnn(W,U,B,abrelu(A,B))`, `rnn(W,U,B,NAME)` for a custom activation
/// (read by `Architecture::parse_with`, feature `quadrature`).
///
/// The recurrent kernels use the dual maps of the fully connected layers:
/// closed forms for the ABReLU family, the quadrature for custom
/// activations. [`Layer::rnn`] builds the layer from the activation as a
/// [`Layer`].
///
/// # Examples
///
/// ```
/// use ntk::analytic::{Layer, RnnNonlinearity};
/// let act = RnnNonlinearity::LeakyRelu { alpha: 0.2_f64 };
/// assert_eq!(act.layer(), Layer::LeakyRelu { alpha: 0.2 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RnnNonlinearity<T> {
    /// x for x > 0, `alpha`·x otherwise ([`Layer::LeakyRelu`]).
    LeakyRelu {
        /// Slope for x < 0.
        alpha: T,
    },
    /// `a`·min(x, 0) + `b`·max(x, 0) ([`Layer::AbRelu`]).
    AbRelu {
        /// Slope for x < 0.
        a: T,
        /// Slope for x > 0.
        b: T,
    },
    /// A user-supplied activation, by quadrature ([`Layer::Custom`]; feature
    /// `quadrature`).
    #[cfg(feature = "quadrature")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
    Custom(CustomActivation<T>),
}

impl<T: Copy> RnnNonlinearity<T> {
    /// The nonlinearity as a [`Layer`] of a fully connected architecture.
    pub const fn layer(&self) -> Layer<T> {
        match *self {
            Self::LeakyRelu { alpha } => Layer::LeakyRelu { alpha },
            Self::AbRelu { a, b } => Layer::AbRelu { a, b },
            #[cfg(feature = "quadrature")]
            Self::Custom(c) => Layer::Custom(c),
        }
    }
}

/// One layer of a fully connected architecture in the infinite-width limit.
///
/// Text tokens (see [`Architecture::parse`](super::Architecture::parse)) and
/// neural-tangents equivalents:
///
/// | variant | token | neural-tangents |
/// |---|---|---|
/// | [`Dense`](Layer::Dense) | `dense(W,B)` | `stax.Dense(n, W_std=W, b_std=B)` |
/// | [`DenseStandard`](Layer::DenseStandard) | `dense_std(W,B,N)` | `stax.Dense(n, W_std=W, b_std=B, parameterization='standard')` after a layer of width `N` |
/// | [`Relu`](Layer::Relu) | `relu` | `stax.Relu()` |
/// | [`LeakyRelu`](Layer::LeakyRelu) | `leaky_relu(A)` | `stax.LeakyRelu(A)` |
/// | [`Abs`](Layer::Abs) | `abs` | `stax.Abs()` |
/// | [`AbRelu`](Layer::AbRelu) | `abrelu(A,B)` | `stax.ABRelu(A, B)` |
/// | [`Erf`](Layer::Erf) | `erf` | `stax.Erf()` |
/// | [`Gelu`](Layer::Gelu) | `gelu` | `stax.Gelu(approximate=False)` |
/// | [`Sin`](Layer::Sin) | `sin` | `stax.Sin()` |
/// | [`Identity`](Layer::Identity) | `identity` | `stax.Identity()` |
/// | `Tanh` | `tanh` | `stax.Elementwise(jnp.tanh)` (by quadrature) |
/// | `Custom` | its name | `stax.Elementwise(fn)` (by quadrature) |
/// | [`Conv`](Layer::Conv) | `conv(Q,W,B)`, `conv_circ(Q,W,B)` | `stax.Conv(1, (Q,), padding='SAME'` or `'CIRCULAR'`, `W_std=W, b_std=B)` |
/// | [`AvgPool`](Layer::AvgPool) | `avg_pool(P)` | `stax.AvgPool((P,), strides=(P,), padding='VALID')` |
/// | [`GlobalAvgPool`](Layer::GlobalAvgPool) | `gap` | `stax.GlobalAvgPool()` |
/// | [`Flatten`](Layer::Flatten) | `flatten` | `stax.Flatten()` |
/// | [`Rnn`](Layer::Rnn), [`RnnWith`](Layer::RnnWith) | `rnn(W,U,B,ACT)` | none (an Elman RNN; `reference/RNN.md`) |
/// | [`Last`](Layer::Last) | `last` | the last time step of an `rnn` |
/// | `Attention` | `attn(WQ,WK,WV,WO)`, `attn_id(WQ,WK,WV,WO)` | `stax.GlobalSelfAttention(1, 1, 1, 1, linear_scaling=True, W_query_std=WQ, …, attention_mechanism='SOFTMAX'` or `'IDENTITY')` |
/// | `LayerNorm` | `layernorm` | `stax.LayerNorm(axis=-1)` (ε = 10⁻¹²) |
/// | `ResidualBegin`, `ResidualEnd` | `[`, `]` | `stax.serial(stax.FanOut(2), stax.parallel(stax.Identity(), body), stax.FanInSum())` |
///
/// The convolution, pooling, recurrent and attention layers act on
/// sequences or images (see
/// [`Architecture::gram_spatial`](super::Architecture::gram_spatial));
/// the flat kernel routines refuse them. Dense layers and nonlinearities act
/// on every position of a sequence.
///
/// A residual block is the layers between a `ResidualBegin`
/// and its `ResidualEnd` (blocks nest). Layer norm and
/// residual blocks also act on flat data, through the position-pair routines
/// ([`Architecture::gram_spatial`](super::Architecture::gram_spatial) with
/// [`Shape::Flat`](super::Shape::Flat)), which the flat routines leave to them.
///
/// `Tanh` and `Custom` exist with the `quadrature` feature (on by default);
/// without it, only the closed forms are compiled in.
/// `Attention`, `LayerNorm`, `ResidualBegin` and `ResidualEnd` exist with
/// the `attention` feature (on by default).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Layer<T> {
    /// Affine layer in NTK parameterization, y = (w/√n)·W·a + b·β with
    /// W, β ~ N(0, 1): Σ ← w²Σ + b², Θ ← Σ + w²Θ.
    Dense {
        /// Weight standard deviation σw (≥ 0).
        weight_std: T,
        /// Bias standard deviation σb (≥ 0).
        bias_std: T,
    },
    /// Affine layer in standard parameterization, y = W·a + β with
    /// W ~ N(0, w²/n), β ~ N(0, b²), where n = `fan_in` is the width of the
    /// layer's input (the input dimension for a first layer). As in
    /// neural-tangents, Σ ← w²Σ + b² and Θ ← n·Σ_in + 1 + w²Θ (Σ_in is the
    /// covariance entering the layer; the 1 is the gradient of the bias
    /// β, trained even when b = 0).
    ///
    /// [`nn::Dense`](crate::nn::Dense) in standard parameterization writes
    /// the bias as b·β with β ~ N(0, 1) instead, so its NTK has b² in place
    /// of the 1; the two agree for b = 1.
    DenseStandard {
        /// Weight standard deviation σw (≥ 0).
        weight_std: T,
        /// Bias standard deviation σb (≥ 0).
        bias_std: T,
        /// Width n of the layer's input (≥ 1).
        fan_in: u32,
    },
    /// max(x, 0).
    Relu,
    /// x for x > 0, `alpha`·x otherwise.
    LeakyRelu {
        /// Slope for x < 0.
        alpha: T,
    },
    /// |x|.
    Abs,
    /// `a`·min(x, 0) + `b`·max(x, 0): ReLU is (0, 1), leaky ReLU (α, 1), abs (−1, 1).
    AbRelu {
        /// Slope for x < 0.
        a: T,
        /// Slope for x > 0.
        b: T,
    },
    /// erf(x).
    Erf,
    /// x·Φ(x) with Φ the standard normal distribution function (exact GELU).
    Gelu,
    /// sin(x).
    Sin,
    /// x.
    Identity,
    /// tanh(x), by quadrature (feature `quadrature`).
    #[cfg(feature = "quadrature")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
    Tanh,
    /// A user-supplied activation, by quadrature (feature `quadrature`).
    #[cfg(feature = "quadrature")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
    Custom(CustomActivation<T>),
    /// Convolution over positions, stride 1, size-preserving padding, NTK
    /// parameterization: with A(M)[s,s′] = Q⁻¹·Σ_δ M[s+δ, s′+δ] (δ from
    /// −(Q−1)/2 to (Q−1)/2), Σ ← w²·A(Σ) + b², Θ ← Σ + w²·A(Θ). Zero
    /// padding drops the terms outside the sequence (the factor stays Q⁻¹);
    /// circular padding wraps the positions.
    Conv {
        /// Filter size Q (odd, ≥ 1).
        size: u32,
        /// Weight standard deviation σw (≥ 0).
        weight_std: T,
        /// Bias standard deviation σb (≥ 0).
        bias_std: T,
        /// `true` for periodic (`CIRCULAR`) padding, `false` for zeros (`SAME`).
        circular: bool,
    },
    /// Mean over non-overlapping windows of `size` positions (`size` divides
    /// the length).
    AvgPool {
        /// Window size P (≥ 1).
        size: u32,
    },
    /// Mean over all positions; the result is flat.
    GlobalAvgPool,
    /// Positions concatenated into channels; the result is flat (the kernel
    /// averages the position-diagonal entries).
    Flatten,
    /// An Elman recurrent layer over the positions (time steps) of a
    /// sequence, NTK parameterization:
    /// g_t = (w/√H)·W·h_{t−1} + (u/√D)·U·x_t + b·β, h_0 = 0, h_t = φ(g_t),
    /// with W, U, β shared across time. Only as the
    /// first layer of `rnn(W,U,B,ACT) last|gap dense(V,BV)`; see
    /// [`Architecture::gram_recurrent`](super::Architecture::gram_recurrent).
    Rnn {
        /// Recurrent weight standard deviation σw (≥ 0).
        weight_std: T,
        /// Input weight standard deviation σu (≥ 0).
        input_std: T,
        /// Bias standard deviation σb (≥ 0).
        bias_std: T,
        /// The activation φ.
        activation: RnnActivation,
    },
    /// The readout of the last time step h_L of an [`Rnn`](Layer::Rnn)
    /// layer (the mean over time steps is [`GlobalAvgPool`](Layer::GlobalAvgPool)).
    Last,
    /// [`Rnn`](Layer::Rnn) with an activation that has parameters or user
    /// functions (leaky ReLU, ABReLU, custom): the same layer and
    /// recursion, written `rnn(W,U,B,leaky_relu(A))`, `rnn(W,U,B,abrelu(A,B))`
    /// or `rnn(W,U,B,NAME)`. [`Layer::rnn`] chooses between the two variants.
    RnnWith {
        /// Recurrent weight standard deviation σw (≥ 0).
        weight_std: T,
        /// Input weight standard deviation σu (≥ 0).
        input_std: T,
        /// Bias standard deviation σb (≥ 0).
        bias_std: T,
        /// The activation φ.
        activation: RnnNonlinearity<T>,
    },
    /// Global self-attention over all positions, one head, in the
    /// infinite-width limit of neural-tangents' `linear_scaling=True`
    /// (query and key weights tied, logits scaled by 1/(n·n_key)). With
    /// Gᵢ the |S| × |S| weights of input i, from the layer's own input
    /// covariance Σᵢᵢ: Gᵢ\[s, s′\] = softmax over s′ of
    /// WQ·WK·Σᵢᵢ\[s, s′\] (`softmax`), or Gᵢ = WQ·WK·Σᵢᵢ (identity
    /// weights), the maps are Σ′ᵢⱼ = (WV·WO)²·Gᵢ Σᵢⱼ Gⱼᵀ and
    /// Θ′ᵢⱼ = (WV·WO)²·Gᵢ Θᵢⱼ Gⱼᵀ + 2Σ′ᵢⱼ (the value and output weights each
    /// add Σ′; the query and key gradients vanish in this limit). Needs
    /// positions; the output is Gaussian.
    #[cfg(feature = "attention")]
    #[cfg_attr(docsrs, doc(cfg(feature = "attention")))]
    Attention {
        /// Query weight standard deviation WQ (≥ 0).
        query_std: T,
        /// Key weight standard deviation WK (≥ 0).
        key_std: T,
        /// Value weight standard deviation WV (≥ 0).
        value_std: T,
        /// Output weight standard deviation WO (≥ 0).
        out_std: T,
        /// `true` for softmax weights (`attn`), `false` for the raw
        /// weights WQ·WK·Σᵢᵢ (`attn_id`).
        softmax: bool,
    },
    /// Normalisation over the channels at each position (neural-tangents'
    /// `LayerNorm(axis=-1)`): Σ′ᵢⱼ\[s, s′\] = Σᵢⱼ\[s, s′\]/√((qᵢ\[s\] + ε)(qⱼ\[s′\] + ε)),
    /// Θ divided by the same, with qᵢ\[s\] = Σᵢᵢ\[s, s\] and ε = 10⁻¹². Needs a
    /// Gaussian input; keeps it Gaussian.
    #[cfg(feature = "attention")]
    #[cfg_attr(docsrs, doc(cfg(feature = "attention")))]
    LayerNorm,
    /// `[`: opens a residual block x + B(x). The state at this point is
    /// kept, and added to the state at the matching
    /// `ResidualEnd`: Σ ← Σ + Σ_B, Θ ← Θ + Θ_B (the
    /// skip and the block are independent because the block ends in a
    /// fresh zero-mean affine layer). Needs a Gaussian input.
    #[cfg(feature = "attention")]
    #[cfg_attr(docsrs, doc(cfg(feature = "attention")))]
    ResidualBegin,
    /// `]`: closes the innermost open residual block, whose body must end
    /// Gaussian and keep the grid (no pooling, `gap` or `flatten` inside).
    #[cfg(feature = "attention")]
    #[cfg_attr(docsrs, doc(cfg(feature = "attention")))]
    ResidualEnd,
}

impl RnnActivation {
    /// The nonlinearity as a [`Layer`] of a fully connected architecture.
    pub const fn layer<T>(&self) -> Layer<T> {
        match self {
            Self::Relu => Layer::Relu,
            Self::Erf => Layer::Erf,
            #[cfg(feature = "quadrature")]
            Self::Tanh => Layer::Tanh,
            Self::Identity => Layer::Identity,
            Self::Gelu => Layer::Gelu,
            Self::Abs => Layer::Abs,
            Self::Sin => Layer::Sin,
        }
    }
}

impl<T: Real> Layer<T> {
    /// `dense(weight_std, bias_std)`: an affine layer in NTK parameterization.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// assert_eq!(Layer::dense(1.5, 0.1), Layer::Dense { weight_std: 1.5, bias_std: 0.1 });
    /// ```
    pub const fn dense(weight_std: T, bias_std: T) -> Self {
        Layer::Dense {
            weight_std,
            bias_std,
        }
    }

    /// `dense_std(weight_std, bias_std, fan_in)`: an affine layer in standard parameterization.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// let l = Layer::dense_standard(1.0, 0.0, 16);
    /// assert_eq!(l, Layer::DenseStandard { weight_std: 1.0, bias_std: 0.0, fan_in: 16 });
    /// ```
    pub const fn dense_standard(weight_std: T, bias_std: T, fan_in: u32) -> Self {
        Layer::DenseStandard {
            weight_std,
            bias_std,
            fan_in,
        }
    }

    /// The recurrent layer `rnn(weight_std, input_std, bias_std, activation)`
    /// for any nonlinearity of the fully connected layers (relu, leaky ReLU,
    /// abs, ABReLU, erf, gelu, sin, identity, tanh, custom): a
    /// [`Layer::Rnn`] when the activation is an [`RnnActivation`], a
    /// [`Layer::RnnWith`] otherwise, as the parser builds them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `activation` is not a nonlinearity (an
    /// affine, convolutional, pooling or recurrent layer). The parameters
    /// are checked by [`validate`](Self::validate), as for every layer.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Layer, RnnActivation, RnnNonlinearity};
    /// let l = Layer::rnn(1.5, 1.0, 0.1, Layer::Sin)?;
    /// assert_eq!(l, Layer::Rnn { weight_std: 1.5, input_std: 1.0, bias_std: 0.1, activation: RnnActivation::Sin });
    /// let l = Layer::rnn(1.5, 1.0, 0.1, Layer::LeakyRelu { alpha: 0.2 })?;
    /// assert_eq!(l.to_string(), "rnn(1.5,1,0.1,leaky_relu(0.2))");
    /// assert_eq!(l.rnn_activation(), Some(Layer::LeakyRelu { alpha: 0.2 }));
    /// assert!(Layer::rnn(1.0, 1.0, 0.0, Layer::dense(1.0, 0.0)).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn rnn(
        weight_std: T,
        input_std: T,
        bias_std: T,
        activation: Layer<T>,
    ) -> Result<Self, Error> {
        let plain = |a| Layer::Rnn {
            weight_std,
            input_std,
            bias_std,
            activation: a,
        };
        let with = |a| Layer::RnnWith {
            weight_std,
            input_std,
            bias_std,
            activation: a,
        };
        Ok(match activation {
            Layer::Relu => plain(RnnActivation::Relu),
            Layer::Erf => plain(RnnActivation::Erf),
            #[cfg(feature = "quadrature")]
            Layer::Tanh => plain(RnnActivation::Tanh),
            Layer::Identity => plain(RnnActivation::Identity),
            Layer::Gelu => plain(RnnActivation::Gelu),
            Layer::Abs => plain(RnnActivation::Abs),
            Layer::Sin => plain(RnnActivation::Sin),
            Layer::LeakyRelu { alpha } => with(RnnNonlinearity::LeakyRelu { alpha }),
            Layer::AbRelu { a, b } => with(RnnNonlinearity::AbRelu { a, b }),
            #[cfg(feature = "quadrature")]
            Layer::Custom(c) => with(RnnNonlinearity::Custom(c)),
            _ => {
                return Err(Error::InvalidArgument {
                    what: "rnn: the activation must be a nonlinearity",
                })
            }
        })
    }

    /// The activation of a recurrent layer ([`Layer::Rnn`],
    /// [`Layer::RnnWith`]) as a fully connected [`Layer`]; `None` for the
    /// other layers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// let l = Layer::rnn(1.0_f32, 1.0, 0.0, Layer::Abs).unwrap();
    /// assert_eq!(l.rnn_activation(), Some(Layer::Abs));
    /// assert_eq!(Layer::<f32>::Relu.rnn_activation(), None);
    /// ```
    pub fn rnn_activation(&self) -> Option<Layer<T>> {
        match *self {
            Layer::Rnn { activation, .. } => Some(activation.layer()),
            Layer::RnnWith { activation, .. } => Some(activation.layer()),
            _ => None,
        }
    }

    /// `true` for the recurrent layers ([`Layer::Rnn`], [`Layer::RnnWith`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// assert!(Layer::rnn(1.0_f64, 1.0, 0.0, Layer::Erf).unwrap().is_recurrent());
    /// assert!(!Layer::<f64>::Last.is_recurrent());
    /// ```
    pub fn is_recurrent(&self) -> bool {
        matches!(self, Layer::Rnn { .. } | Layer::RnnWith { .. })
    }

    /// `true` for the affine layers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// assert!(Layer::dense(1.0_f64, 0.0).is_dense());
    /// assert!(!Layer::<f64>::Relu.is_dense());
    /// ```
    pub fn is_dense(&self) -> bool {
        matches!(self, Layer::Dense { .. } | Layer::DenseStandard { .. })
    }

    /// `true` for the layers that act on positions (convolution, pooling,
    /// flatten, attention, the recurrent layer and its `last` readout), which only
    /// sequence inputs have.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// assert!(Layer::<f64>::Flatten.is_spatial());
    /// assert!(!Layer::<f64>::Relu.is_spatial());
    /// ```
    pub fn is_spatial(&self) -> bool {
        matches!(
            self,
            Layer::Conv { .. }
                | Layer::AvgPool { .. }
                | Layer::GlobalAvgPool
                | Layer::Flatten
                | Layer::Rnn { .. }
                | Layer::RnnWith { .. }
                | Layer::Last
        ) || self.is_attention()
    }

    /// `true` for `Attention` (never without the
    /// `attention` feature).
    fn is_attention(&self) -> bool {
        #[cfg(feature = "attention")]
        if let Layer::Attention { .. } = self {
            return true;
        }
        false
    }

    /// `true` for the layers that only the position-pair routines compute
    /// (attention, layer norm and the residual markers): the flat routines
    /// refuse them, and [`Architecture::gram_spatial`](super::Architecture::gram_spatial)
    /// computes layer norm and residual blocks on flat data too
    /// ([`Shape::Flat`](super::Shape::Flat)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// # #[cfg(feature = "attention")] {
    /// assert!(Layer::<f64>::LayerNorm.is_structured());
    /// assert!(Layer::<f64>::ResidualBegin.is_structured());
    /// # }
    /// assert!(!Layer::<f64>::Relu.is_structured());
    /// ```
    ///
    /// Always `false` without the `attention` feature.
    pub fn is_structured(&self) -> bool {
        #[cfg(feature = "attention")]
        if matches!(
            self,
            Layer::Attention { .. } | Layer::LayerNorm | Layer::ResidualBegin | Layer::ResidualEnd
        ) {
            return true;
        }
        false
    }

    #[cfg(feature = "attention")]
    /// Whether the output of the layer is Gaussian, given whether its input
    /// is (neural-tangents' rule): affine, convolutional and attention
    /// layers make it Gaussian, `identity`, pooling, `gap` and layer norm
    /// keep the flag, the other nonlinearities and `flatten` clear it (the
    /// residual markers are handled by the architecture).
    pub(crate) fn gaussian_after(&self, before: bool) -> bool {
        match self {
            Layer::Dense { .. } | Layer::DenseStandard { .. } | Layer::Conv { .. } => true,
            #[cfg(feature = "attention")]
            Layer::Attention { .. } => true,
            Layer::Identity | Layer::AvgPool { .. } | Layer::GlobalAvgPool => before,
            #[cfg(feature = "attention")]
            Layer::LayerNorm | Layer::ResidualBegin | Layer::ResidualEnd => before,
            _ => false,
        }
    }

    #[cfg(feature = "attention")]
    /// `true` for the nonlinearities (the layers mapped by a dual map).
    pub(crate) fn is_activation(&self) -> bool {
        !self.is_dense()
            && !self.is_spatial()
            && !self.is_structured()
            && !matches!(self, Layer::Identity)
    }

    /// `true` for layers whose kernel is computed by quadrature (`Tanh` and
    /// `Custom`, which exist with the `quadrature` feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// # #[cfg(feature = "quadrature")]
    /// assert!(Layer::<f32>::Tanh.uses_quadrature());
    /// assert!(!Layer::<f32>::Erf.uses_quadrature());
    /// ```
    pub fn uses_quadrature(&self) -> bool {
        #[cfg(feature = "quadrature")]
        {
            matches!(self, Layer::Tanh | Layer::Custom(_))
        }
        #[cfg(not(feature = "quadrature"))]
        {
            false
        }
    }

    /// Checks the parameters: finite, standard deviations ≥ 0, `fan_in` ≥ 1.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for a NaN or infinite parameter,
    /// [`Error::InvalidArgument`] for a negative standard deviation or a zero
    /// `fan_in`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Layer;
    /// assert!(Layer::dense(1.0, 0.1).validate().is_ok());
    /// assert!(Layer::dense(-1.0, 0.1).validate().is_err());
    /// assert!(Layer::LeakyRelu { alpha: f64::NAN }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let finite = |v: &[T]| crate::simd::check_finite(v, "layer parameters");
        match *self {
            Layer::Dense {
                weight_std: w,
                bias_std: b,
            } => {
                finite(&[w, b])?;
                nonnegative(w, b)
            }
            Layer::DenseStandard {
                weight_std: w,
                bias_std: b,
                fan_in,
            } => {
                finite(&[w, b])?;
                nonnegative(w, b)?;
                if fan_in == 0 {
                    return Err(Error::InvalidArgument {
                        what: "dense_std: the fan-in must be at least 1",
                    });
                }
                Ok(())
            }
            // The filter and window sizes are checked by the sequence
            // routines (and the parser), which alone use them.
            Layer::Conv {
                weight_std: w,
                bias_std: b,
                ..
            } => {
                finite(&[w, b])?;
                nonnegative(w, b)
            }
            Layer::Rnn {
                weight_std: w,
                input_std: u,
                bias_std: b,
                ..
            } => {
                finite(&[w, u, b])?;
                nonnegative(w, b)?;
                nonnegative(u, T::ZERO)
            }
            Layer::RnnWith {
                weight_std: w,
                input_std: u,
                bias_std: b,
                activation,
            } => {
                finite(&[w, u, b])?;
                nonnegative(w, b)?;
                nonnegative(u, T::ZERO)?;
                activation.layer().validate()
            }
            Layer::LeakyRelu { alpha } => finite(&[alpha]),
            Layer::AbRelu { a, b } => finite(&[a, b]),
            #[cfg(feature = "attention")]
            Layer::Attention {
                query_std: wq,
                key_std: wk,
                value_std: wv,
                out_std: wo,
                ..
            } => {
                finite(&[wq, wk, wv, wo])?;
                nonnegative(wq, wk)?;
                nonnegative(wv, wo)
            }
            _ => Ok(()),
        }
    }

    /// Applies the layer to the kernel state of one pair of inputs.
    ///
    /// Dense layers map Σ ← σw²Σ + σb² and Θ ← Σ + σw²Θ (NTK parameterization);
    /// nonlinearities map Σ ← E[φ(u)φ(v)] and Θ ← Θ·E[φ′(u)φ′(v)] with
    /// (u, v) ~ N(0, [[Σ₁₁, Σ₁₂], [Σ₁₂, Σ₂₂]]). The correlation is clamped to
    /// [−1, 1], and a zero variance is handled exactly. Non-finite values
    /// propagate; the [`Architecture`](super::Architecture) methods turn them
    /// into [`Error::Overflow`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Layer, PairState};
    /// // Two orthogonal inputs of unit variance through a ReLU: Σ₁₂ = 1/(2π).
    /// let s = Layer::Relu.apply(PairState::new(1.0_f64, 0.0, 1.0, 2.0));
    /// assert!((s.sigma12 - 1.0 / (2.0 * core::f64::consts::PI)).abs() < 1e-15);
    /// assert_eq!(s.sigma11, 0.5);
    /// assert!((s.theta12 - 2.0 * 0.25).abs() < 1e-15);
    /// ```
    pub fn apply(&self, s: PairState<T>) -> PairState<T> {
        apply_pair(&self.step(), s)
    }

    /// The step of a piecewise-linear layer — affine, of the ABReLU family
    /// (ReLU, leaky ReLU, abs, ABReLU) or the identity — as [`step`](Self::step)
    /// gives it; `None` for the other layers. Matching these layers alone,
    /// it links none of the other steps.
    pub(crate) fn piecewise_linear_step(&self) -> Option<Step<T>> {
        Some(match *self {
            Layer::Dense {
                weight_std: w,
                bias_std: b,
            } => Step::Affine {
                w2: w * w,
                b2: b * b,
            },
            Layer::DenseStandard {
                weight_std: w,
                bias_std: b,
                fan_in,
            } => Step::AffineStandard {
                w2: w * w,
                b2: b * b,
                n: T::from_usize(fan_in as usize),
            },
            Layer::Relu => Step::AbRelu(AbRelu::new(T::ZERO, T::ONE)),
            Layer::LeakyRelu { alpha } => Step::AbRelu(AbRelu::new(alpha, T::ONE)),
            Layer::Abs => Step::AbRelu(AbRelu::new(-T::ONE, T::ONE)),
            Layer::AbRelu { a, b } => Step::AbRelu(AbRelu::new(a, b)),
            Layer::Identity => Step::Identity,
            _ => return None,
        })
    }

    /// The layer's step of the recursion, with its constants worked out.
    pub(crate) fn step(&self) -> Step<T> {
        if let Some(step) = self.piecewise_linear_step() {
            return step;
        }
        match *self {
            Layer::Erf => Step::Erf,
            Layer::Gelu => Step::Gelu,
            Layer::Sin => Step::Sin,
            // The recurrent routines take the activation's step.
            Layer::Rnn { activation, .. } => activation.layer().step(),
            Layer::RnnWith { activation, .. } => activation.layer().step(),
            #[cfg(feature = "quadrature")]
            Layer::Tanh => Step::Quadrature {
                phi: tanh::<T>,
                dphi: dtanh::<T>,
            },
            #[cfg(feature = "quadrature")]
            Layer::Custom(a) => Step::Quadrature {
                phi: a.phi(),
                dphi: a.dphi(),
            },
            // Spatial layers are applied by the sequence routines; the flat
            // routines refuse them before they look at the steps. (The
            // piecewise-linear layers returned above.)
            Layer::Identity
            | Layer::Dense { .. }
            | Layer::DenseStandard { .. }
            | Layer::Relu
            | Layer::LeakyRelu { .. }
            | Layer::Abs
            | Layer::AbRelu { .. }
            | Layer::Conv { .. }
            | Layer::AvgPool { .. }
            | Layer::GlobalAvgPool
            | Layer::Flatten
            | Layer::Last => Step::Identity,
            #[cfg(feature = "attention")]
            Layer::Attention { .. }
            | Layer::LayerNorm
            | Layer::ResidualBegin
            | Layer::ResidualEnd => Step::Identity,
        }
    }
}

fn nonnegative<T: Real>(w: T, b: T) -> Result<(), Error> {
    if w < T::ZERO || b < T::ZERO {
        Err(Error::InvalidArgument {
            what: "dense: standard deviations must be ≥ 0",
        })
    } else {
        Ok(())
    }
}
