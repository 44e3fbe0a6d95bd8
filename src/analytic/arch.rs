//! [`Architecture`]: a sequence of layers in a fixed-capacity vector.

use core::fmt;

use super::layer::Layer;
use crate::{Error, Real};

/// Default number of layers an [`Architecture`] can hold.
pub const DEFAULT_CAPACITY: usize = 32;

/// The shape of each input of a kernel routine or a reference case.
///
/// # Examples
///
/// ```
/// use ntk::analytic::Shape;
/// let s = Shape::Sequence { length: 8, channels: 3 };
/// assert_eq!((s.len(), s.positions()), (24, 8));
/// assert_eq!(Shape::Flat { dim: 5 }.positions(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Shape {
    /// A vector of `dim` features (`inputs N D`).
    Flat {
        /// Number of features.
        dim: usize,
    },
    /// `length` positions of `channels` channels, channels innermost
    /// (`inputs N L C`).
    Sequence {
        /// Number of positions L.
        length: usize,
        /// Channels per position C.
        channels: usize,
    },
    /// An image of `height` × `width` positions of `channels` channels,
    /// row-major, channels innermost (`inputs N H W C`).
    Image {
        /// Rows H.
        height: usize,
        /// Columns W.
        width: usize,
        /// Channels per position C.
        channels: usize,
    },
}

impl Shape {
    /// Numbers per input (saturating).
    pub const fn len(&self) -> usize {
        match *self {
            Shape::Flat { dim } => dim,
            Shape::Sequence { length, channels } => length.saturating_mul(channels),
            Shape::Image {
                height,
                width,
                channels,
            } => height.saturating_mul(width).saturating_mul(channels),
        }
    }

    /// `true` when an input holds no number.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of positions (1 for a flat vector; saturating).
    pub const fn positions(&self) -> usize {
        match *self {
            Shape::Flat { .. } => 1,
            Shape::Sequence { length, .. } => length,
            Shape::Image { height, width, .. } => height.saturating_mul(width),
        }
    }
}

/// A fully connected architecture: up to `CAP` [`Layer`]s applied in order,
/// stored inline (no allocation).
///
/// Build one from text with [`parse`](Self::parse), from a slice with
/// [`from_layers`](Self::from_layers) or layer by layer with
/// [`push`](Self::push). Its [`Display`](fmt::Display) form is the canonical
/// text, and parsing it gives back an equal architecture.
///
/// # Examples
///
/// ```
/// use ntk::analytic::{Architecture, Layer};
/// let a: Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
/// assert_eq!(a.len(), 3);
/// assert_eq!(a.layers()[1], Layer::Relu);
/// assert_eq!(a.to_string(), "dense(1.5,0.1) relu dense(1.5,0.1)");
/// # Ok::<(), ntk::error::ParseError>(())
/// ```
#[derive(Clone)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Architecture<T, const CAP: usize = DEFAULT_CAPACITY> {
    layers: heapless::Vec<Layer<T>, CAP>,
}

impl<T: Real, const CAP: usize> Default for Architecture<T, CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const CAP: usize> PartialEq for Architecture<T, CAP> {
    fn eq(&self, other: &Self) -> bool {
        self.layers() == other.layers()
    }
}

impl<T: Real, const CAP: usize> fmt::Debug for Architecture<T, CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.layers()).finish()
    }
}

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    /// The number of layers this type can hold.
    pub const CAPACITY: usize = CAP;

    /// An empty architecture (the identity map: Σ = Σ⁰, Θ = 0).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = ntk::analytic::Architecture::<f32, 4>::new();
    /// assert!(a.is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            layers: heapless::Vec::new(),
        }
    }

    /// An architecture holding `layers`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if there are more than `CAP` layers, and the
    /// errors of [`Layer::validate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Layer};
    /// let a = Architecture::<f64>::from_layers(&[Layer::dense(1.0, 0.0), Layer::Erf])?;
    /// assert_eq!(a.to_string(), "dense(1,0) erf");
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn from_layers(layers: &[Layer<T>]) -> Result<Self, Error> {
        let mut a = Self::new();
        for l in layers {
            a.push(*l)?;
        }
        Ok(a)
    }

    /// Appends a layer.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when the architecture already holds `CAP`
    /// layers, and the errors of [`Layer::validate`]; the architecture is then
    /// unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Layer};
    /// let mut a = Architecture::<f64, 1>::new();
    /// a.push(Layer::Relu)?;
    /// assert!(a.push(Layer::Relu).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn push(&mut self, layer: Layer<T>) -> Result<(), Error> {
        layer.validate()?;
        self.try_push(layer).map_err(|_| Error::BufferTooSmall {
            needed: self.len() + 1,
            given: CAP,
        })
    }

    /// The layers, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Layer};
    /// let a: Architecture<f64> = "dense(2,0) erf".parse()?;
    /// assert_eq!(a.layers(), &[Layer::dense(2.0, 0.0), Layer::Erf]);
    /// assert_eq!((a.len(), a.is_empty()), (2, false));
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn layers(&self) -> &[Layer<T>] {
        &self.layers
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// `true` when there is no layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Appends `layer` unchecked, or gives it back when the architecture is
    /// full (the parser's push: its layers are already validated).
    pub(crate) fn try_push(&mut self, layer: Layer<T>) -> Result<(), Layer<T>> {
        self.layers.push(layer)
    }
}
