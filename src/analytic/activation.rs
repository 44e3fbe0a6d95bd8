//! [`RnnActivation`]: the activations of the recurrent layer.

/// The activation of a [`Layer::Rnn`](super::Layer::Rnn): the nonlinearities without
/// parameters. `reference/RNN.md` states the recurrent kernels of relu, erf,
/// tanh, identity and gelu; `abs` and `sin`, and the activations with
/// parameters or user functions of [`RnnNonlinearity`](super::RnnNonlinearity)
/// (on [`Layer::RnnWith`](super::Layer::RnnWith)), extend it with the same
/// recursion and the dual maps of the fully connected layers, under the same
/// text names.
///
/// # Examples
///
/// ```
/// use ntk::analytic::{Layer, RnnActivation};
/// assert_eq!(RnnActivation::Relu.layer::<f64>(), Layer::Relu);
/// assert_eq!(RnnActivation::from_name("erf"), Some(RnnActivation::Erf));
/// assert_eq!(RnnActivation::from_name("sin"), Some(RnnActivation::Sin));
/// assert_eq!(RnnActivation::from_name("dense"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RnnActivation {
    /// max(x, 0).
    Relu,
    /// erf(x).
    Erf,
    /// tanh(x), by quadrature (feature `quadrature`).
    #[cfg(feature = "quadrature")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
    Tanh,
    /// x.
    Identity,
    /// x·Φ(x) (exact GELU).
    Gelu,
    /// |x|.
    Abs,
    /// sin(x).
    Sin,
}

impl RnnActivation {
    /// The activation of text name `name` (`relu`, `erf`, `tanh`,
    /// `identity`, `gelu`, `abs`, `sin`), `None` for any other (and for
    /// `tanh` without the `quadrature` feature).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "relu" => Self::Relu,
            "erf" => Self::Erf,
            #[cfg(feature = "quadrature")]
            "tanh" => Self::Tanh,
            "identity" => Self::Identity,
            "gelu" => Self::Gelu,
            "abs" => Self::Abs,
            "sin" => Self::Sin,
            _ => return None,
        })
    }

    /// The text name, as [`from_name`](Self::from_name) reads it.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::Erf => "erf",
            #[cfg(feature = "quadrature")]
            Self::Tanh => "tanh",
            Self::Identity => "identity",
            Self::Gelu => "gelu",
            Self::Abs => "abs",
            Self::Sin => "sin",
        }
    }
}
