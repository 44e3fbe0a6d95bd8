//! [`RnnActivation`]: the activations of the recurrent layer.

/// The activation of a [`Layer::Rnn`](super::Layer::Rnn): the nonlinearities whose recurrent
/// kernels `reference/RNN.md` states.
///
/// # Examples
///
/// ```
/// use ntk::analytic::{Layer, RnnActivation};
/// assert_eq!(RnnActivation::Relu.layer::<f64>(), Layer::Relu);
/// assert_eq!(RnnActivation::from_name("erf"), Some(RnnActivation::Erf));
/// assert_eq!(RnnActivation::from_name("sin"), None);
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
}

impl RnnActivation {
    /// The activation of text name `name` (`relu`, `erf`, `tanh`,
    /// `identity`, `gelu`), `None` for any other (and for `tanh` without
    /// the `quadrature` feature).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "relu" => Self::Relu,
            "erf" => Self::Erf,
            #[cfg(feature = "quadrature")]
            "tanh" => Self::Tanh,
            "identity" => Self::Identity,
            "gelu" => Self::Gelu,
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
        }
    }
}
