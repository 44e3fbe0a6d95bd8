//! Writing the reference-kernel text format: a case evaluated by this crate,
//! and errors shown at their line and column (see [`text`](super::text)).

use core::fmt;

use super::arch::Shape;
use super::case::Case;
use super::layer::Layer;
use crate::{Error, Real};

/// Writes `n × n` row-major values, one row per line, `{:.17e}` in f64.
fn write_matrix<T: Real, W: fmt::Write>(
    out: &mut W,
    title: &str,
    m: &[T],
    n: usize,
) -> fmt::Result {
    writeln!(out, "{title}")?;
    for row in m.chunks_exact(n.max(1)).take(n) {
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                out.write_char(' ')?;
            }
            write!(out, "{:.17e}", v.to_f64())?;
        }
        out.write_char('\n')?;
    }
    Ok(())
}

/// What [`evaluate`] wrote for a case.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// The computed `nngp` and `ntk` matrices.
    Computed,
    /// An `error` line, for this reason (the positions of a
    /// [`Error::Parse`] are byte offsets in the text: see [`describe`]).
    Failed(Error),
}

/// Computes a case with an [`Architecture<T, CAP>`](super::Architecture) and writes it in the
/// same format: the `case`, `arch` and `inputs` lines and the input rows as
/// read, then this crate's `nngp` and `ntk` matrices (`{:.17e}`, printed in
/// f64), then `end`. Reference blocks of the case are not read.
///
/// A case that cannot be computed (malformed, unknown layer, non-finite input,
/// overflow, buffers too small) gets a line `error MESSAGE` in place of the
/// matrices (and of the inputs, when they cannot be read), with the
/// message of [`describe`]: a parse error names its line and column in the
/// text and the offending token. The returned [`Outcome`] says which.
///
/// `x` needs N·D entries and `nngp`, `ntk` N² entries each (see
/// [`Case::dims`]).
///
/// # Errors
///
/// Only the errors of `out`.
///
/// # Examples
///
/// ```
/// use ntk::analytic::text::{self, Outcome};
/// let file = "case a\narch dense(1,0) rleu\ninputs 1 1\n1\nend\n";
/// let case = text::cases(file).next().unwrap();
/// let (mut x, mut k, mut t) = ([0.0; 1], [0.0; 1], [0.0; 1]);
/// let mut out = String::new();
/// let outcome = text::evaluate::<f64, 8, _>(&case, &mut x, &mut k, &mut t, &mut out)?;
/// assert!(matches!(outcome, Outcome::Failed(ntk::Error::Parse(_))));
/// assert!(out.contains("\nerror parse error: unknown layer `rleu` at line 2, column 17\nend\n"));
/// # Ok::<(), core::fmt::Error>(())
/// ```
pub fn evaluate<T: Real, const CAP: usize, W: fmt::Write>(
    case: &Case<'_>,
    x: &mut [T],
    nngp: &mut [T],
    ntk: &mut [T],
    out: &mut W,
) -> Result<Outcome, fmt::Error> {
    evaluate_with::<T, CAP, W>(case, x, &mut [], nngp, ntk, out)
}

/// As [`evaluate`], with a `workspace` for the sequence and image cases of
/// format version 2 (`inputs N L C`, `inputs N H W C`), which are computed
/// by [`Architecture::gram_spatial`](super::Architecture::gram_spatial):
/// the workspace needs
/// [`Architecture::workspace_len`](super::Architecture::workspace_len)
/// numbers (a short one is reported as the case's error). Flat cases are
/// computed as by [`evaluate`] and do not use it, except those with layer
/// norm or residual blocks, which `gram_spatial` computes with
/// [`Shape::Flat`] (a workspace of `workspace_len` numbers too).
///
/// # Errors
///
/// Only the errors of `out`.
///
/// # Examples
///
/// ```
/// use ntk::analytic::text::{self, Outcome};
/// use ntk::analytic::Architecture;
/// let file = "case s\narch conv(3,1,0) relu gap dense(1,0)\ninputs 1 3 1\n1 0 2\nend\n";
/// let case = text::cases(file).next().unwrap();
/// let (mut x, mut k, mut t) = ([0.0; 3], [0.0; 1], [0.0; 1]);
/// let mut ws = [0.0; Architecture::<f64>::workspace_bound(3)];
/// let mut out = String::new();
/// let outcome = text::evaluate_with::<f64, 8, _>(&case, &mut x, &mut ws, &mut k, &mut t, &mut out)?;
/// assert!(matches!(outcome, Outcome::Computed));
/// assert!(out.starts_with("case s\narch conv(3,1,0) relu gap dense(1,0)\ninputs 1 3 1\n1 0 2\nnngp\n"));
/// # Ok::<(), core::fmt::Error>(())
/// ```
pub fn evaluate_with<T: Real, const CAP: usize, W: fmt::Write>(
    case: &Case<'_>,
    x: &mut [T],
    workspace: &mut [T],
    nngp: &mut [T],
    ntk: &mut [T],
    out: &mut W,
) -> Result<Outcome, fmt::Error> {
    let text = case.text;
    let fail = |e: Error, out: &mut W| {
        writeln!(out, "error {}\nend", describe(text, &e)).map(|()| Outcome::Failed(e))
    };
    writeln!(out, "case {}", case.name)?;
    let l = match case.layout {
        Ok(l) => l,
        Err(e) => {
            if let Some(arch) = case.arch() {
                writeln!(out, "arch {arch}")?;
            }
            return fail(Error::Parse(e), out);
        }
    };
    writeln!(out, "arch {}", l.arch)?;
    if let Err(e) = case.read_inputs(x) {
        return fail(e, out);
    }
    case.write_inputs(&l, out)?;
    let result = case
        .architecture::<T, CAP>()
        .map_err(Error::Parse)
        .and_then(|a| {
            let x = x.get(..l.n.saturating_mul(l.d)).unwrap_or(&[]);
            match l.shape {
                Shape::Flat { .. } if !a.layers().iter().any(Layer::is_structured) => {
                    a.gram_flat(x, l.d.max(1), nngp, ntk)
                }
                shape => a.gram_spatial(x, shape, workspace, nngp, ntk),
            }
        });
    match result {
        Ok(()) => {
            let nn = l.n.saturating_mul(l.n);
            write_matrix(out, "nngp", nngp.get(..nn).unwrap_or(&[]), l.n)?;
            write_matrix(out, "ntk", ntk.get(..nn).unwrap_or(&[]), l.n)?;
            writeln!(out, "end").map(|()| Outcome::Computed)
        }
        Err(e) => fail(e, out),
    }
}

/// A position in a text: line and column, both counted from 1; columns
/// count characters (not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The character on the line, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    /// `line L, column C`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// The line and column of byte `offset` in `text` (`None` past its end).
///
/// Lines end at `\n`; the offset `text.len()` is the place after the last
/// character. An offset inside a multi-byte character locates that
/// character.
///
/// # Examples
///
/// ```
/// use ntk::analytic::text::{self, Location};
/// let file = "case a\narch dense(1,0) rleu\n";
/// assert_eq!(text::locate(file, 23), Some(Location { line: 2, column: 17 }));
/// assert_eq!(text::locate(file, 0), Some(Location { line: 1, column: 1 }));
/// assert_eq!(text::locate(file, file.len()), Some(Location { line: 3, column: 1 }));
/// assert_eq!(text::locate(file, file.len() + 1), None);
/// assert_eq!(text::locate("é=1", 2).unwrap().to_string(), "line 1, column 2");
/// ```
pub fn locate(text: &str, offset: usize) -> Option<Location> {
    let before = text.as_bytes().get(..offset)?;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Characters begin at every byte that is not a UTF-8 continuation byte.
    let chars = before
        .get(line_start..)
        .unwrap_or(&[])
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    Some(Location {
        line,
        column: 1 + chars,
    })
}

/// An [`Error`] about a text, shown with its place in the text; see
/// [`describe`].
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Described<'a> {
    text: &'a str,
    error: &'a Error,
}

/// Shows `error` as [`Error`]'s `Display` does, except that a
/// [`Error::Parse`] (whose position is a byte offset in `text`) names its
/// [`Location`] instead of the byte: `parse error: KIND `TOKEN` at line L,
/// column C` (the token left out when it is empty).
///
/// # Examples
///
/// ```
/// use ntk::analytic::text;
/// use ntk::error::{ParseError, ParseErrorKind};
/// use ntk::Error;
/// let file = "case a\narch rleu\n";
/// let e = Error::Parse(ParseError::new(ParseErrorKind::UnknownLayer, 12, "rleu"));
/// assert_eq!(
///     text::describe(file, &e).to_string(),
///     "parse error: unknown layer `rleu` at line 2, column 6"
/// );
/// let e = Error::NonFinite { what: "inputs" };
/// assert_eq!(text::describe(file, &e).to_string(), e.to_string());
/// ```
pub fn describe<'a>(text: &'a str, error: &'a Error) -> Described<'a> {
    Described { text, error }
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error {
            Error::Parse(e) => match locate(self.text, e.position) {
                Some(at) => {
                    f.write_str("parse error: ")?;
                    e.fmt_what(f)?;
                    write!(f, " at {at}")
                }
                None => write!(f, "{}", self.error),
            },
            other => write!(f, "{other}"),
        }
    }
}
