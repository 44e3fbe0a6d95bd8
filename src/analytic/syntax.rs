//! The text form of layers and architectures: the parser and the canonical
//! `Display` form that reads back.

use core::fmt;

use super::arch::Architecture;
#[cfg(feature = "quadrature")]
use super::layer::CustomActivation;
use super::layer::Layer;
use crate::error::{ParseError, ParseErrorKind};
use crate::Real;

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    /// Parses the text form: layer tokens separated by whitespace, with no
    /// spaces inside parentheses.
    ///
    /// | token | layer |
    /// |---|---|
    /// | `dense(W,B)` | [`Layer::Dense`], W, B ≥ 0 |
    /// | `dense_std(W,B,N)` | [`Layer::DenseStandard`], W, B ≥ 0, integer fan-in N ≥ 1 |
    /// | `relu`, `abs`, `erf`, `gelu`, `sin`, `identity` | the layer of that name |
    /// | `tanh` | `Layer::Tanh` (feature `quadrature`, on by default) |
    /// | `leaky_relu(A)` | [`Layer::LeakyRelu`] |
    /// | `abrelu(A,B)` | [`Layer::AbRelu`] |
    /// | `conv(Q,W,B)`, `conv_circ(Q,W,B)` | [`Layer::Conv`], odd integer Q ≥ 1, W, B ≥ 0 |
    /// | `avg_pool(P)` | [`Layer::AvgPool`], integer P ≥ 1 |
    /// | `gap`, `flatten` | [`Layer::GlobalAvgPool`], [`Layer::Flatten`] |
    /// | `rnn(W,U,B,ACT)` | [`Layer::Rnn`], W, U, B ≥ 0, ACT one of `relu`, `erf`, `tanh`, `identity`, `gelu` (`reference/RNN.md`) and, as an extension, `abs`, `sin`; [`Layer::RnnWith`] for ACT `leaky_relu(A)`, `abrelu(A,B)` or a custom name (with `parse_with`, feature `quadrature`) |
    /// | `last` | [`Layer::Last`] |
    /// | `attn(WQ,WK,WV,WO)`, `attn_id(WQ,WK,WV,WO)` | `Layer::Attention` with softmax or identity weights, WQ, WK, WV, WO ≥ 0 |
    /// | `layernorm` | `Layer::LayerNorm` |
    /// | `[`, `]` | `Layer::ResidualBegin`, `Layer::ResidualEnd`: a residual block `[ L1 L2 … ]` (blocks nest) |
    ///
    /// An architecture with attention, layer norm or residual blocks follows
    /// neural-tangents' Gaussianity rules (`reference/FORMAT.md`): the
    /// stream is Gaussian after `dense`, `conv`, `attn` and a residual
    /// block, keeps its state through `identity`, pooling, `gap` and
    /// `layernorm`, and is not Gaussian at the input and after the other
    /// nonlinearities and `flatten`. A nonlinearity, `layernorm` or `[`
    /// after a non-Gaussian stream, a block whose body does not end
    /// Gaussian, an empty block, a pooling, `gap` or `flatten` inside a
    /// block and a `]` without its `[` are
    /// [`Unexpected`](ParseErrorKind::Unexpected) at that token; a `[`
    /// left open is [`Missing`](ParseErrorKind::Missing) at the end.
    ///
    /// A recurrent architecture is exactly `rnn(W,U,B,ACT) last dense(V,BV)`
    /// or `rnn(W,U,B,ACT) gap dense(V,BV)`: `rnn` anywhere but first, `last`
    /// without `rnn`, and any other layer after `rnn` are
    /// [`Unexpected`](ParseErrorKind::Unexpected), a recurrent architecture
    /// cut short [`Missing`](ParseErrorKind::Missing).
    ///
    /// Numbers are anything [`str::parse`] reads as a finite float (`1.5`,
    /// `-0.25`, `1e-3`, …).
    ///
    /// # Errors
    ///
    /// A [`ParseError`] with the byte position and text of the offending token:
    /// [`Empty`](ParseErrorKind::Empty) (no layer),
    /// [`UnknownLayer`](ParseErrorKind::UnknownLayer),
    /// [`BadNumber`](ParseErrorKind::BadNumber) (not a number, or not finite,
    /// or a fan-in that is not an integer),
    /// [`WrongArity`](ParseErrorKind::WrongArity),
    /// [`Syntax`](ParseErrorKind::Syntax) (unbalanced parentheses, empty
    /// arguments, spaces inside parentheses),
    /// [`TooManyLayers`](ParseErrorKind::TooManyLayers) (more than `CAP`),
    /// [`OutOfRange`](ParseErrorKind::OutOfRange) (a negative standard
    /// deviation, a fan-in or window of 0 or above `u32::MAX`, an even
    /// filter size, an `rnn` activation that is not a nonlinearity),
    /// [`NotCompiled`](ParseErrorKind::NotCompiled) (`tanh` without the
    /// `quadrature` feature; `attn`, `attn_id`, `layernorm`, `[` and `]`
    /// without the `attention` feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// use ntk::error::ParseErrorKind;
    /// let e = Architecture::<f64>::parse("dense(1,0) rleu").unwrap_err();
    /// assert_eq!((e.kind, e.position, e.token()), (ParseErrorKind::UnknownLayer, 11, "rleu"));
    /// let e = Architecture::<f64>::parse("dense(1,x)").unwrap_err();
    /// assert_eq!((e.kind, e.position, e.token()), (ParseErrorKind::BadNumber, 8, "x"));
    /// ```
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::parse_tokens(text, &|_| None)
    }

    /// Parses the text form, also accepting the names of `custom` activations
    /// as layer tokens (built-in names take precedence).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    ///
    /// Only with the `quadrature` feature (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{CustomActivation, Architecture};
    /// fn swish(x: f64) -> f64 { x / (1.0 + (-x).exp()) }
    /// fn dswish(x: f64) -> f64 { let s = 1.0 / (1.0 + (-x).exp()); s + x * s * (1.0 - s) }
    /// let acts = [CustomActivation::new("swish", swish, dswish)];
    /// let a = Architecture::<f64>::parse_with("dense(1,0) swish dense(1,0)", &acts)?;
    /// assert_eq!(a.to_string(), "dense(1,0) swish dense(1,0)");
    /// assert_eq!(Architecture::parse_with(&a.to_string(), &acts)?, a);
    /// # Ok::<(), ntk::error::ParseError>(())
    /// ```
    #[cfg(feature = "quadrature")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quadrature")))]
    pub fn parse_with(text: &str, custom: &[CustomActivation<T>]) -> Result<Self, ParseError> {
        Self::parse_tokens(text, &|name| {
            custom
                .iter()
                .find(|a| a.name() == name)
                .map(|a| Layer::Custom(*a))
        })
    }

    /// The parser behind [`parse`](Self::parse), with `custom` resolving the
    /// names that are not built in.
    fn parse_tokens(
        text: &str,
        custom: &dyn Fn(&str) -> Option<Layer<T>>,
    ) -> Result<Self, ParseError> {
        let mut arch = Self::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
                continue;
            }
            let start = i;
            while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                i += 1;
            }
            // Token boundaries are ASCII whitespace, hence char boundaries.
            let token = text.get(start..i).unwrap_or("");
            let layer = parse_layer(token, start, custom)?;
            if !recurrent_fits(arch.layers(), &layer) {
                return Err(ParseError::new(ParseErrorKind::Unexpected, start, token));
            }
            if arch.try_push(layer).is_err() {
                return Err(ParseError::new(ParseErrorKind::TooManyLayers, start, token));
            }
        }
        if arch.is_empty() {
            return Err(ParseError::new(ParseErrorKind::Empty, 0, text.trim()));
        }
        if arch.layers().first().is_some_and(Layer::is_recurrent) && arch.len() < 3 {
            return Err(ParseError::new(ParseErrorKind::Missing, text.len(), ""));
        }
        if let Err((index, _)) = structure(arch.layers()) {
            if index >= arch.len() {
                return Err(ParseError::new(ParseErrorKind::Missing, text.len(), ""));
            }
            // The token of layer `index`: one layer per whitespace-separated token.
            let mut tokens = text
                .split_ascii_whitespace()
                .filter(|t| !t.is_empty())
                .skip(index);
            let token = tokens.next().unwrap_or("");
            let position = (token.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
            return Err(ParseError::new(ParseErrorKind::Unexpected, position, token));
        }
        Ok(arch)
    }
}

impl<T: Real, const CAP: usize> core::str::FromStr for Architecture<T, CAP> {
    type Err = ParseError;

    /// As [`Architecture::parse`].
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

/// Whether `layer` may follow `before` as far as the recurrent layers go:
/// `rnn` only first, then `last` or `gap`, then `dense`, then nothing;
/// `last` only after `rnn`.
fn recurrent_fits<T: Real>(before: &[Layer<T>], layer: &Layer<T>) -> bool {
    let recurrent = before.first().is_some_and(Layer::is_recurrent);
    match before.len() {
        0 => !matches!(layer, Layer::Last),
        1 if recurrent => matches!(layer, Layer::Last | Layer::GlobalAvgPool),
        2 if recurrent => matches!(layer, Layer::Dense { .. }),
        _ => !recurrent && !layer.is_recurrent() && !matches!(layer, Layer::Last),
    }
}

/// Checks the Gaussianity and nesting rules of an architecture with
/// attention, layer norm or residual blocks (see
/// [`Architecture::parse`]); `Err((index, what))` names the first layer
/// that breaks them (`index` = the number of layers for a block left open).
/// Architectures without those layers are not checked.
pub(super) fn structure<T: Real>(layers: &[Layer<T>]) -> Result<(), (usize, &'static str)> {
    if !layers.iter().any(Layer::is_structured) {
        return Ok(());
    }
    #[cfg(feature = "attention")]
    structure_rules(layers)?;
    Ok(())
}

/// The rules of [`structure`] for an architecture that has attention, layer
/// norm or residual blocks.
#[cfg(feature = "attention")]
fn structure_rules<T: Real>(layers: &[Layer<T>]) -> Result<(), (usize, &'static str)> {
    let mut gaussian = false;
    let mut depth = 0_usize;
    let mut previous: Option<&Layer<T>> = None;
    for (i, l) in layers.iter().enumerate() {
        match l {
            Layer::ResidualBegin if !gaussian => {
                return Err((i, "a residual block needs a Gaussian input"))
            }
            Layer::ResidualBegin => depth += 1,
            Layer::ResidualEnd => {
                if depth == 0 {
                    return Err((i, "`]` without its `[`"));
                }
                if matches!(previous, Some(Layer::ResidualBegin)) {
                    return Err((i, "an empty residual block"));
                }
                if !gaussian {
                    return Err((i, "the body of a residual block must end Gaussian"));
                }
                depth -= 1;
            }
            Layer::LayerNorm if !gaussian => return Err((i, "layer norm needs a Gaussian input")),
            Layer::AvgPool { .. } | Layer::GlobalAvgPool | Layer::Flatten if depth > 0 => {
                return Err((i, "a residual block must keep the grid"))
            }
            l if l.is_activation() && !gaussian => {
                return Err((i, "a nonlinearity needs a Gaussian input"))
            }
            _ => {}
        }
        gaussian = l.gaussian_after(gaussian);
        previous = Some(l);
    }
    if depth > 0 {
        return Err((layers.len(), "a residual block is not closed"));
    }
    Ok(())
}

/// Arity of the built-in layer names (`None` for an unknown name).
fn builtin_arity(name: &str) -> Option<usize> {
    Some(match name {
        "dense" => 2,
        "dense_std" => 3,
        "relu" | "abs" | "erf" | "gelu" | "sin" | "identity" | "tanh" => 0,
        "leaky_relu" => 1,
        "abrelu" => 2,
        "conv" | "conv_circ" => 3,
        "avg_pool" => 1,
        "gap" | "flatten" | "last" => 0,
        "rnn" => 4,
        "attn" | "attn_id" => 4,
        "layernorm" | "[" | "]" => 0,
        _ => return None,
    })
}

/// One argument of a layer token: its text and byte position in the input.
#[derive(Clone, Copy)]
struct Arg<'a> {
    text: &'a str,
    position: usize,
}

fn parse_layer<T: Real>(
    token: &str,
    position: usize,
    custom: &dyn Fn(&str) -> Option<Layer<T>>,
) -> Result<Layer<T>, ParseError> {
    let syntax = |offset: usize, text: &str| {
        ParseError::new(ParseErrorKind::Syntax, position + offset, text)
    };
    let (name, inner) = match token.find('(') {
        None => {
            if let Some(p) = token.find([')', ',']) {
                return Err(syntax(p, token.get(p..).unwrap_or("")));
            }
            (token, None)
        }
        Some(open) => {
            if !token.ends_with(')') {
                return Err(syntax(0, token));
            }
            let inner = token.get(open + 1..token.len() - 1).unwrap_or("");
            // The activation of `rnn(W,U,B,ACT)`, after the third comma, is
            // a token of its own, parentheses included.
            let head = if token.get(..open) == Some("rnn") {
                inner
                    .match_indices(',')
                    .nth(2)
                    .map_or(inner.len(), |(p, _)| p)
            } else {
                inner.len()
            };
            if let Some(p) = inner.get(..head).unwrap_or(inner).find(['(', ')']) {
                return Err(syntax(open + 1 + p, token));
            }
            (token.get(..open).unwrap_or(""), Some((inner, open + 1)))
        }
    };
    if name.is_empty() {
        return Err(syntax(0, token));
    }
    let arity = match builtin_arity(name) {
        Some(a) => a,
        None => match custom(name) {
            Some(_) => 0,
            None => {
                return Err(ParseError::new(
                    ParseErrorKind::UnknownLayer,
                    position,
                    name,
                ))
            }
        },
    };
    // Split the arguments, each with its position.
    let mut args = [Arg {
        text: "",
        position: 0,
    }; 4];
    let mut count = 0;
    if let Some((inner, offset)) = inner {
        if inner.is_empty() {
            return Err(syntax(offset - 1, token));
        }
        let mut at = offset;
        let pieces = if name == "rnn" { 4 } else { usize::MAX };
        for piece in inner.splitn(pieces, ',') {
            if piece.is_empty() {
                return Err(syntax(at.saturating_sub(usize::from(at > offset)), ","));
            }
            if let Some(slot) = args.get_mut(count) {
                *slot = Arg {
                    text: piece,
                    position: position + at,
                };
            }
            count += 1;
            at += piece.len() + 1;
        }
    }
    if count != arity {
        return Err(ParseError::new(ParseErrorKind::WrongArity, position, token));
    }
    let [a0, a1, a2, a3] = args;
    let layer = match name {
        "dense" => Layer::Dense {
            weight_std: std_dev(a0)?,
            bias_std: std_dev(a1)?,
        },
        "dense_std" => Layer::DenseStandard {
            weight_std: std_dev(a0)?,
            bias_std: std_dev(a1)?,
            fan_in: fan_in(a2)?,
        },
        "relu" => Layer::Relu,
        "abs" => Layer::Abs,
        "erf" => Layer::Erf,
        "gelu" => Layer::Gelu,
        "sin" => Layer::Sin,
        "identity" => Layer::Identity,
        #[cfg(feature = "quadrature")]
        "tanh" => Layer::Tanh,
        #[cfg(not(feature = "quadrature"))]
        "tanh" => return Err(ParseError::new(ParseErrorKind::NotCompiled, position, name)),
        "leaky_relu" => Layer::LeakyRelu { alpha: number(a0)? },
        "abrelu" => Layer::AbRelu {
            a: number(a0)?,
            b: number(a1)?,
        },
        "conv" | "conv_circ" => {
            let size = fan_in(a0)?;
            if size % 2 == 0 {
                return Err(ParseError::new(
                    ParseErrorKind::OutOfRange,
                    a0.position,
                    a0.text,
                ));
            }
            Layer::Conv {
                size,
                weight_std: std_dev(a1)?,
                bias_std: std_dev(a2)?,
                circular: name == "conv_circ",
            }
        }
        "avg_pool" => Layer::AvgPool { size: fan_in(a0)? },
        "gap" => Layer::GlobalAvgPool,
        "flatten" => Layer::Flatten,
        "last" => Layer::Last,
        #[cfg(feature = "attention")]
        "attn" | "attn_id" => Layer::Attention {
            query_std: std_dev(a0)?,
            key_std: std_dev(a1)?,
            value_std: std_dev(a2)?,
            out_std: std_dev(a3)?,
            softmax: name == "attn",
        },
        #[cfg(feature = "attention")]
        "layernorm" => Layer::LayerNorm,
        #[cfg(feature = "attention")]
        "[" => Layer::ResidualBegin,
        #[cfg(feature = "attention")]
        "]" => Layer::ResidualEnd,
        #[cfg(not(feature = "attention"))]
        "attn" | "attn_id" | "layernorm" | "[" | "]" => {
            return Err(ParseError::new(ParseErrorKind::NotCompiled, position, name))
        }
        "rnn" => {
            let (w, u, b) = (std_dev(a0)?, std_dev(a1)?, std_dev(a2)?);
            let activation = rnn_activation(a3, custom)?;
            Layer::rnn(w, u, b, activation)
                .map_err(|_| ParseError::new(ParseErrorKind::OutOfRange, a3.position, a3.text))?
        }
        _ => match custom(name) {
            Some(layer) => layer,
            None => {
                return Err(ParseError::new(
                    ParseErrorKind::UnknownLayer,
                    position,
                    name,
                ))
            }
        },
    };
    Ok(layer)
}

/// The activation argument of `rnn(...)`, read as a layer token (the
/// names of [`RnnActivation`](super::RnnActivation), `leaky_relu(A)`, `abrelu(A,B)`, custom
/// names): its errors are those of the token (`tanh` without the
/// `quadrature` feature [`ParseErrorKind::NotCompiled`]), except that an
/// unknown name is [`ParseErrorKind::OutOfRange`], as is a layer that is not
/// a nonlinearity (checked by the caller).
fn rnn_activation<T: Real>(
    arg: Arg<'_>,
    custom: &dyn Fn(&str) -> Option<Layer<T>>,
) -> Result<Layer<T>, ParseError> {
    parse_layer(arg.text, arg.position, custom).map_err(|e| {
        if e.kind == ParseErrorKind::UnknownLayer {
            ParseError::new(ParseErrorKind::OutOfRange, arg.position, arg.text)
        } else {
            e
        }
    })
}

/// Parses a number of type `T`, finite or not (an `f32` is parsed as `f32`,
/// so the shortest representation printed by `Display` reads back bit for
/// bit).
pub(crate) fn parse_any<T: Real>(text: &str) -> Option<T> {
    if T::MANTISSA_DIGITS == f32::MANTISSA_DIGITS {
        text.parse::<f32>().ok().map(|v| T::from_f64(f64::from(v)))
    } else {
        text.parse::<f64>().ok().map(T::from_f64)
    }
}

/// Parses a finite number of type `T`.
fn parse_real<T: Real>(text: &str) -> Option<T> {
    parse_any(text).filter(|v: &T| v.is_finite())
}

fn number<T: Real>(arg: Arg<'_>) -> Result<T, ParseError> {
    parse_real(arg.text)
        .ok_or_else(|| ParseError::new(ParseErrorKind::BadNumber, arg.position, arg.text))
}

fn std_dev<T: Real>(arg: Arg<'_>) -> Result<T, ParseError> {
    let v: T = number(arg)?;
    if v < T::ZERO {
        return Err(ParseError::new(
            ParseErrorKind::OutOfRange,
            arg.position,
            arg.text,
        ));
    }
    Ok(v)
}

fn fan_in(arg: Arg<'_>) -> Result<u32, ParseError> {
    use core::num::IntErrorKind;
    match arg.text.parse::<u32>() {
        Ok(0) => Err(ParseError::new(
            ParseErrorKind::OutOfRange,
            arg.position,
            arg.text,
        )),
        Ok(n) => Ok(n),
        Err(e) if matches!(e.kind(), IntErrorKind::PosOverflow) => Err(ParseError::new(
            ParseErrorKind::OutOfRange,
            arg.position,
            arg.text,
        )),
        Err(_) => Err(ParseError::new(
            ParseErrorKind::BadNumber,
            arg.position,
            arg.text,
        )),
    }
}

/// Writes a number in the canonical form: the shortest decimal that reads back
/// to the same value, in positional notation for magnitudes in [1e-5, 1e16) and
/// zero, in scientific notation otherwise.
pub(crate) fn write_number<T: Real>(f: &mut fmt::Formatter<'_>, v: T) -> fmt::Result {
    let a = v.abs();
    if a == T::ZERO || (a >= T::from_f64(1e-5) && a < T::from_f64(1e16)) {
        write!(f, "{v}")
    } else {
        write!(f, "{v:e}")
    }
}

impl<T: Real> fmt::Display for Layer<T> {
    /// The text token of the layer, as read by [`Architecture::parse`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Layer::Dense {
                weight_std: w,
                bias_std: b,
            } => {
                f.write_str("dense(")?;
                write_number(f, w)?;
                f.write_str(",")?;
                write_number(f, b)?;
                f.write_str(")")
            }
            Layer::DenseStandard {
                weight_std: w,
                bias_std: b,
                fan_in,
            } => {
                f.write_str("dense_std(")?;
                write_number(f, w)?;
                f.write_str(",")?;
                write_number(f, b)?;
                write!(f, ",{fan_in})")
            }
            Layer::Relu => f.write_str("relu"),
            Layer::LeakyRelu { alpha } => {
                f.write_str("leaky_relu(")?;
                write_number(f, alpha)?;
                f.write_str(")")
            }
            Layer::Abs => f.write_str("abs"),
            Layer::AbRelu { a, b } => {
                f.write_str("abrelu(")?;
                write_number(f, a)?;
                f.write_str(",")?;
                write_number(f, b)?;
                f.write_str(")")
            }
            Layer::Erf => f.write_str("erf"),
            Layer::Gelu => f.write_str("gelu"),
            Layer::Sin => f.write_str("sin"),
            Layer::Identity => f.write_str("identity"),
            Layer::Conv {
                size,
                weight_std: w,
                bias_std: b,
                circular,
            } => {
                f.write_str(if circular { "conv_circ(" } else { "conv(" })?;
                write!(f, "{size},")?;
                write_number(f, w)?;
                f.write_str(",")?;
                write_number(f, b)?;
                f.write_str(")")
            }
            Layer::AvgPool { size } => write!(f, "avg_pool({size})"),
            Layer::GlobalAvgPool => f.write_str("gap"),
            Layer::Flatten => f.write_str("flatten"),
            Layer::Rnn {
                weight_std: w,
                input_std: u,
                bias_std: b,
                activation,
            } => {
                f.write_str("rnn(")?;
                for v in [w, u, b] {
                    write_number(f, v)?;
                    f.write_str(",")?;
                }
                f.write_str(activation.name())?;
                f.write_str(")")
            }
            Layer::RnnWith {
                weight_std: w,
                input_std: u,
                bias_std: b,
                activation,
            } => {
                f.write_str("rnn(")?;
                for v in [w, u, b] {
                    write_number(f, v)?;
                    f.write_str(",")?;
                }
                write!(f, "{})", activation.layer())
            }
            Layer::Last => f.write_str("last"),
            #[cfg(feature = "attention")]
            Layer::Attention {
                query_std,
                key_std,
                value_std,
                out_std,
                softmax,
            } => {
                f.write_str(if softmax { "attn(" } else { "attn_id(" })?;
                for (i, v) in [query_std, key_std, value_std, out_std]
                    .into_iter()
                    .enumerate()
                {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_number(f, v)?;
                }
                f.write_str(")")
            }
            #[cfg(feature = "attention")]
            Layer::LayerNorm => f.write_str("layernorm"),
            #[cfg(feature = "attention")]
            Layer::ResidualBegin => f.write_str("["),
            #[cfg(feature = "attention")]
            Layer::ResidualEnd => f.write_str("]"),
            #[cfg(feature = "quadrature")]
            Layer::Tanh => f.write_str("tanh"),
            #[cfg(feature = "quadrature")]
            Layer::Custom(a) => f.write_str(a.name()),
        }
    }
}

impl<T: Real, const CAP: usize> fmt::Display for Architecture<T, CAP> {
    /// The canonical text form: layer tokens separated by single spaces.
    /// Every non-empty architecture reads back equal (bit for bit) through
    /// [`Architecture::parse`]; an empty one displays as the empty string,
    /// which the parser refuses ([`ParseErrorKind::Empty`]): the text form
    /// has no empty network.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.layers().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}
