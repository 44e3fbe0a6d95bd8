//! The one error type of the crate.

use core::fmt;

/// Everything that can go wrong in `ntk`.
///
/// Shape errors are compile errors (shapes live in types); what remains is
/// numerical failure and malformed input, each reported with what went wrong.
/// No function of the crate panics on any input, and no result is returned
/// with non-finite entries as if it were valid.
///
/// # Examples
///
/// ```
/// use ntk::Error;
/// let e = Error::NonFinite { what: "inputs" };
/// assert_eq!(format!("{e}"), "non-finite value (NaN or ±∞) in inputs");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// An input, parameter, target or matrix given to the crate holds NaN or ±∞.
    NonFinite {
        /// Which argument.
        what: &'static str,
    },
    /// A computation overflowed or produced NaN from finite data (for example
    /// huge weight scales in a deep network); the result is withheld.
    Overflow {
        /// Which quantity.
        what: &'static str,
    },
    /// A result is finite but its bound on the rounding error passes the
    /// crate's limit (for example a correlation near ±1 behind an erf of
    /// huge variance, or a deep chaotic network, in `f32`), or it is made
    /// of numbers below the normal floating-point range (a nonzero variance
    /// or kernel diagonal under `MIN_POSITIVE/ε`, whose rounding is absolute,
    /// not relative); the result is withheld. See
    /// [`analytic::PRECISION_LIMIT`](crate::analytic::PRECISION_LIMIT).
    PrecisionLoss {
        /// Which quantity.
        what: &'static str,
    },
    /// A symmetric matrix is not (numerically) positive definite, after any
    /// requested regularisation: the Cholesky pivot at `index`, or on a route
    /// through the eigenvalues the smallest eigenvalue (`index` 0), was not
    /// above the rank tolerance `N·ε·‖K‖` (`‖K‖` the largest absolute entry).
    NotPositiveDefinite {
        /// Row of the failing pivot; 0 for the smallest eigenvalue.
        index: usize,
    },
    /// An iterative algorithm did not converge within its iteration cap.
    NoConvergence {
        /// The iteration cap that was reached.
        iterations: usize,
    },
    /// A caller-provided buffer is too small.
    BufferTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements given.
        given: usize,
    },
    /// A scalar argument is outside its domain (a negative time, a learning
    /// rate ≤ 0, a tolerance ≤ 0, …).
    InvalidArgument {
        /// Which argument, and what it must be.
        what: &'static str,
    },
    /// An architecture or data text did not parse.
    Parse(ParseError),
    /// The infinite-width limit asked for has no fixed kernel: the network
    /// learns features, and the kernel of its training dynamics moves by
    /// `Θ(1)` however wide it is (μP, see
    /// [`nn::Parameterization`](crate::nn::Parameterization)). No kernel
    /// prediction of its training is returned.
    NoFixedKernel {
        /// Which parameterisation or layer, and why.
        what: &'static str,
    },
}

/// Why and where a text did not parse.
///
/// `position` is the byte offset of the offending token in the input and
/// `token` (up to [`ParseError::TOKEN_CAP`] bytes of it) names it.
///
/// The token is kept in a fixed array with a length rather than a
/// `heapless::String`: [`Error`] is `Copy`, so that errors pass by value
/// through `no_std` code and into `defmt` logs, and a `heapless::String`
/// (a vector with a destructor) cannot be. [`ParseError::token`] gives it
/// as a `&str`, cut at a character boundary.
///
/// # Examples
///
/// ```
/// use ntk::error::{ParseError, ParseErrorKind};
/// let e = ParseError::new(ParseErrorKind::UnknownLayer, 6, "rleu");
/// assert_eq!(e.token(), "rleu");
/// assert_eq!(format!("{e}"), "unknown layer `rleu` at byte 6");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset of the token in the input.
    pub position: usize,
    token: [u8; ParseError::TOKEN_CAP],
    token_len: u8,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input holds no layer at all.
    Empty,
    /// A layer name that is not known.
    UnknownLayer,
    /// A number that does not parse, or is not finite.
    BadNumber,
    /// The wrong number of arguments in parentheses.
    WrongArity,
    /// Unbalanced or misplaced parentheses, commas or spaces.
    Syntax,
    /// More layers than the fixed capacity of the architecture.
    TooManyLayers,
    /// A number outside the range the layer accepts (e.g. a negative std).
    OutOfRange,
    /// A line or keyword expected at this place is missing or different.
    Unexpected,
    /// A layer this build leaves out: `tanh` needs the `quadrature` feature.
    NotCompiled,
    /// A line or number the format requires is missing: the input ends
    /// before it. The position is where it should start; the token is empty.
    Missing,
}

impl ParseError {
    /// Bytes of the offending token kept in the error.
    pub const TOKEN_CAP: usize = 24;

    /// A parse error of `kind` at byte `position`, naming `token` (truncated
    /// to [`Self::TOKEN_CAP`] bytes on a character boundary).
    pub fn new(kind: ParseErrorKind, position: usize, token: &str) -> Self {
        let mut len = token.len().min(Self::TOKEN_CAP);
        while !token.is_char_boundary(len) {
            len -= 1;
        }
        let mut buf = [0u8; Self::TOKEN_CAP];
        buf[..len].copy_from_slice(&token.as_bytes()[..len]);
        Self {
            kind,
            position,
            token: buf,
            token_len: len as u8,
        }
    }

    /// The offending token (possibly truncated).
    pub fn token(&self) -> &str {
        let bytes = &self.token[..self.token_len as usize];
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseErrorKind::Empty => "empty input",
            ParseErrorKind::UnknownLayer => "unknown layer",
            ParseErrorKind::BadNumber => "bad number",
            ParseErrorKind::WrongArity => "wrong number of arguments",
            ParseErrorKind::Syntax => "syntax error",
            ParseErrorKind::TooManyLayers => "too many layers",
            ParseErrorKind::OutOfRange => "value out of range",
            ParseErrorKind::Unexpected => "unexpected token",
            ParseErrorKind::NotCompiled => "layer needs a feature this build leaves out",
            ParseErrorKind::Missing => "missing line or number",
        })
    }
}

impl ParseError {
    /// Writes the kind and the token (if any): `unknown layer `rleu``.
    pub(crate) fn fmt_what(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token().is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} `{}`", self.kind, self.token())
        }
    }
}

impl fmt::Display for ParseError {
    /// `KIND `TOKEN` at byte POSITION` (without the token when it is empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_what(f)?;
        write!(f, " at byte {}", self.position)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NonFinite { what } => write!(f, "non-finite value (NaN or ±∞) in {what}"),
            Error::Overflow { what } => write!(f, "overflow or NaN while computing {what}"),
            Error::PrecisionLoss { what } => {
                write!(f, "{what} too inaccurate in this floating-point precision")
            }
            Error::NotPositiveDefinite { index } => {
                write!(f, "matrix is not positive definite (pivot {index})")
            }
            Error::NoConvergence { iterations } => {
                write!(f, "no convergence within {iterations} iterations")
            }
            Error::BufferTooSmall { needed, given } => {
                write!(
                    f,
                    "buffer too small: {needed} elements needed, {given} given"
                )
            }
            Error::InvalidArgument { what } => write!(f, "invalid argument: {what}"),
            Error::Parse(e) => write!(f, "parse error: {e}"),
            Error::NoFixedKernel { what } => write!(f, "no fixed infinite-width kernel: {what}"),
        }
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Parse(e)
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for Error {}
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for ParseError {}
