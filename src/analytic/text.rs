//! The reference-kernel text format: reading cases, writing results.
//!
//! A file holds cases of this form (numbers separated by whitespace):
//!
//! ```text
//! case NAME
//! arch LAYER LAYER ...
//! inputs N D
//! N lines of D numbers
//! nngp                  (optional)
//! N lines of N numbers
//! ntk                   (optional)
//! N lines of N numbers
//! end
//! ```
//!
//! [`cases`] splits a text into [`Case`]s without allocating; a case reads
//! its inputs and reference matrices into caller buffers, and [`evaluate`]
//! writes a case back with the matrices computed by this crate (what the
//! `kernel` example prints). [`outside_cases`] lists the lines that belong to
//! no case, [`Case::dims_within`] checks N against a reader's limit before
//! it allocates, and errors carry byte offsets in the text, which
//! [`locate`] turns into a line and column ([`describe`] shows an error
//! that way).
//!
//! # Examples
//!
//! ```
//! use ntk::analytic::text;
//! let file = "case a\narch dense(1,0) relu\ninputs 2 1\n1.0\n-2.0\nend\n";
//! let case = text::cases(file).next().unwrap();
//! assert_eq!(case.name(), "a");
//! assert_eq!(case.dims()?, (2, 1));
//! let (mut x, mut k, mut t) = ([0.0; 2], [0.0; 4], [0.0; 4]);
//! let mut out = String::new();
//! text::evaluate::<f64, 8, _>(&case, &mut x, &mut k, &mut t, &mut out).unwrap();
//! assert!(out.starts_with("case a\narch dense(1,0) relu\ninputs 2 1\n1.0\n-2.0\nnngp\n5.00000000000000000e-1 0.00000000000000000e0\n"));
//! assert!(out.ends_with("end\n"));
//! # Ok::<(), ntk::Error>(())
//! ```

use core::fmt;

use super::arch::{parse_any, Architecture};
use crate::error::{ParseError, ParseErrorKind};
use crate::{Error, Real};

/// Lines of `text[from..to]` as (byte offset in `text`, line without its end).
fn lines(text: &str, from: usize, to: usize) -> impl Iterator<Item = (usize, &str)> {
    let body = text.get(from..to).unwrap_or("");
    body.split_inclusive('\n').scan(from, |at, line| {
        let offset = *at;
        *at += line.len();
        Some((offset, line.trim_end_matches(['\n', '\r'])))
    })
}

/// First whitespace-separated word of a line and its byte offset in the line.
fn first_word(line: &str) -> (usize, &str) {
    let start = line.len() - line.trim_start().len();
    let rest = line.get(start..).unwrap_or("");
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    (start, rest.get(..end).unwrap_or(""))
}

/// The text after the first word, trimmed.
fn after_first_word(line: &str) -> &str {
    let (start, word) = first_word(line);
    line.get(start + word.len()..).unwrap_or("").trim()
}

/// Words of a line with their byte offsets in `text` (the line starting at
/// `offset`).
fn words(line: &str, offset: usize) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = line;
    let mut at = offset;
    core::iter::from_fn(move || {
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.is_empty() {
            return None;
        }
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let (word, tail) = trimmed.split_at(end);
        let start = at;
        at += end;
        rest = tail;
        Some((start, word))
    })
}

/// Where the parts of a well-formed case are.
#[derive(Clone, Copy, Debug)]
struct Layout<'a> {
    arch: &'a str,
    /// Byte offset of the architecture text.
    arch_at: usize,
    n: usize,
    /// Byte offset of N on the `inputs` line, and its text.
    n_at: usize,
    n_text: &'a str,
    d: usize,
    /// Byte offset of the first input row.
    inputs: usize,
    /// Byte offsets of the first rows of the reference matrices.
    nngp: Option<usize>,
    ntk: Option<usize>,
}

/// One case of a reference file, borrowed from the text.
#[derive(Clone, Debug)]
pub struct Case<'a> {
    text: &'a str,
    name: &'a str,
    arch: Option<&'a str>,
    position: usize,
    layout: Result<Layout<'a>, ParseError>,
}

/// Which reference matrix of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matrix {
    /// The `nngp` block.
    Nngp,
    /// The `ntk` block.
    Ntk,
}

/// The cases of a text, in order; see [`cases`].
#[derive(Clone, Debug)]
pub struct Cases<'a> {
    text: &'a str,
    at: usize,
}

/// Splits `text` into its cases.
///
/// Every `case` line starts a case that runs to its `end` line (or to the next
/// `case` line or the end of the text, which [`Case::dims`] then reports);
/// other non-blank lines between cases are skipped. A case's structure is
/// checked when it is read: see [`Case::dims`].
///
/// # Examples
///
/// ```
/// use ntk::analytic::text::{self, Matrix};
/// let file = "case a\narch relu\ninputs 1 2\n3 4\nnngp\n12.5\nend\ncase b\narch erf\n";
/// let mut it = text::cases(file);
/// let a = it.next().unwrap();
/// assert_eq!((a.name(), a.arch(), a.dims()?), ("a", Some("relu"), (1, 2)));
/// let mut x = [0.0_f64; 2];
/// a.read_inputs(&mut x)?;
/// assert_eq!(x, [3.0, 4.0]);
/// let mut k = [0.0_f64; 1];
/// assert!(a.read_reference(Matrix::Nngp, &mut k)? && !a.has(Matrix::Ntk));
/// assert_eq!(k, [12.5]);
/// // The second case has no `inputs` line.
/// assert!(it.next().unwrap().dims().is_err());
/// assert!(it.next().is_none());
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn cases(text: &str) -> Cases<'_> {
    Cases { text, at: 0 }
}

impl<'a> Iterator for Cases<'a> {
    type Item = Case<'a>;

    fn next(&mut self) -> Option<Case<'a>> {
        let text = self.text;
        let mut start = None;
        let mut end = text.len();
        for (offset, line) in lines(text, self.at, text.len()) {
            let word = first_word(line).1;
            match start {
                None if word == "case" => start = Some((offset, line)),
                None => {}
                Some(_) if word == "case" => {
                    end = offset;
                    break;
                }
                Some(_) if word == "end" => {
                    end = offset + line.len();
                    break;
                }
                Some(_) => {}
            }
        }
        let (position, head) = start?;
        self.at = end;
        let name = after_first_word(head);
        let arch = lines(text, position, end)
            .filter(|(_, l)| !l.trim().is_empty())
            .nth(1)
            .filter(|(_, l)| first_word(l).1 == "arch")
            .map(|(_, l)| after_first_word(l));
        Some(Case {
            text,
            name,
            arch,
            position,
            layout: layout(text, position, end, name),
        })
    }
}

fn unexpected(position: usize, token: &str) -> ParseError {
    ParseError::new(ParseErrorKind::Unexpected, position, token)
}

/// A line or number missing at byte `position`.
fn missing(position: usize) -> ParseError {
    ParseError::new(ParseErrorKind::Missing, position, "")
}

/// The text after the first word of `line` (which starts at byte `offset`),
/// trimmed, and its byte offset.
fn rest_at(line: &str, offset: usize) -> (usize, &str) {
    let (start, word) = first_word(line);
    let rest = line.get(start + word.len()..).unwrap_or("");
    let lead = rest.len() - rest.trim_start().len();
    (offset + start + word.len() + lead, rest.trim())
}

/// Checks the structure of the case in `text[from..to]`.
fn layout<'a>(text: &'a str, from: usize, to: usize, name: &str) -> Result<Layout<'a>, ParseError> {
    let mut it = lines(text, from, to)
        .filter(|(_, l)| !l.trim().is_empty())
        .skip(1);
    if name.is_empty() {
        return Err(unexpected(from, "case"));
    }
    let keyword_line =
        |item: Option<(usize, &'a str)>, keyword: &str| -> Result<(usize, &'a str), ParseError> {
            match item {
                Some((offset, line)) => {
                    let (at, word) = first_word(line);
                    if word == keyword {
                        Ok((offset, line))
                    } else {
                        Err(unexpected(offset + at, word))
                    }
                }
                None => Err(missing(to)),
            }
        };
    let (arch_offset, arch_line) = keyword_line(it.next(), "arch")?;
    let (arch_at, arch) = rest_at(arch_line, arch_offset);
    let (offset, inputs_line) = keyword_line(it.next(), "inputs")?;
    let mut w = words(inputs_line, offset).skip(1);
    let count = |w: Option<(usize, &'a str)>| match w {
        Some((at, s)) => s
            .parse::<usize>()
            .map(|v| (at, s, v))
            .map_err(|_| ParseError::new(ParseErrorKind::BadNumber, at, s)),
        None => Err(missing(offset + inputs_line.len())),
    };
    let (n_at, n_text, n) = count(w.next())?;
    let (d_at, d_text, d) = count(w.next())?;
    if let Some((at, extra)) = w.next() {
        return Err(unexpected(at, extra));
    }
    if d == 0 && n > 0 {
        return Err(ParseError::new(ParseErrorKind::OutOfRange, d_at, d_text));
    }
    let inputs = rows(&mut it, n, d, to)?.unwrap_or(to);
    let (mut nngp, mut ntk) = (None, None);
    loop {
        let Some((offset, line)) = it.next() else {
            return Err(missing(to));
        };
        let (at, word) = first_word(line);
        match word {
            "end" => break,
            "nngp" if nngp.is_none() => nngp = Some(rows(&mut it, n, n, to)?.unwrap_or(to)),
            "ntk" if ntk.is_none() => ntk = Some(rows(&mut it, n, n, to)?.unwrap_or(to)),
            _ => return Err(unexpected(offset + at, word)),
        }
    }
    Ok(Layout {
        arch,
        arch_at,
        n,
        n_at,
        n_text,
        d,
        inputs,
        nngp,
        ntk,
    })
}

/// Checks `count` lines of `width` numbers each; returns the byte offset of
/// the first.
fn rows<'a, I: Iterator<Item = (usize, &'a str)>>(
    it: &mut I,
    count: usize,
    width: usize,
    to: usize,
) -> Result<Option<usize>, ParseError> {
    let mut first = None;
    for _ in 0..count {
        let (offset, line) = it.next().ok_or_else(|| missing(to))?;
        first.get_or_insert(offset);
        let (at, word) = first_word(line);
        if word == "end" || word == "nngp" || word == "ntk" {
            return Err(unexpected(offset + at, word));
        }
        if line.split_whitespace().count() != width {
            return Err(unexpected(offset + at, line.trim()));
        }
    }
    Ok(first)
}

impl<'a> Case<'a> {
    /// The name on the `case` line.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Byte offset of the `case` line in the text.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The architecture text of the `arch` line (`None` if the line after
    /// `case` is not an `arch` line).
    pub fn arch(&self) -> Option<&'a str> {
        self.arch
    }

    /// The number of inputs N and their dimension D.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] (positions are byte offsets in the text) if the case
    /// is not well formed: a misplaced `arch`, `inputs` or `end` line, or a
    /// block with the wrong number of lines or of numbers on a line
    /// ([`Unexpected`](ParseErrorKind::Unexpected)); the case or its
    /// `inputs` line ending too early ([`Missing`](ParseErrorKind::Missing));
    /// N or D not a count ([`BadNumber`](ParseErrorKind::BadNumber)); D = 0
    /// with N > 0 ([`OutOfRange`](ParseErrorKind::OutOfRange)).
    pub fn dims(&self) -> Result<(usize, usize), ParseError> {
        self.layout.map(|l| (l.n, l.d))
    }

    /// As [`dims`](Self::dims), refusing more than `max_n` inputs: a reader
    /// checks N against its limit before it allocates the N×N matrices.
    ///
    /// # Errors
    ///
    /// As [`dims`](Self::dims), and [`OutOfRange`](ParseErrorKind::OutOfRange)
    /// naming N on the `inputs` line if N > `max_n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::text;
    /// use ntk::error::ParseErrorKind;
    /// let file = "case big\narch relu\ninputs 3 1\n1\n2\n3\nend\n";
    /// let case = text::cases(file).next().unwrap();
    /// assert_eq!(case.dims_within(3)?, (3, 1));
    /// let e = case.dims_within(2).unwrap_err();
    /// assert_eq!((e.kind, e.token(), e.position), (ParseErrorKind::OutOfRange, "3", 26));
    /// # Ok::<(), ntk::error::ParseError>(())
    /// ```
    pub fn dims_within(&self, max_n: usize) -> Result<(usize, usize), ParseError> {
        let l = self.layout?;
        if l.n > max_n {
            return Err(ParseError::new(
                ParseErrorKind::OutOfRange,
                l.n_at,
                l.n_text,
            ));
        }
        Ok((l.n, l.d))
    }

    /// Parses the architecture of the case, with the positions of its errors
    /// as byte offsets in the whole text (not in the `arch` line).
    ///
    /// # Errors
    ///
    /// The errors of [`dims`](Self::dims) for a malformed case, then those of
    /// [`Architecture::parse`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::text;
    /// use ntk::error::ParseErrorKind;
    /// let file = "case a\narch dense(1,0) rleu\ninputs 1 1\n1\nend\n";
    /// let case = text::cases(file).next().unwrap();
    /// let e = case.architecture::<f64, 8>().unwrap_err();
    /// assert_eq!((e.kind, e.token(), e.position), (ParseErrorKind::UnknownLayer, "rleu", 23));
    /// assert_eq!(&file[23..27], "rleu");
    /// ```
    pub fn architecture<T: Real, const CAP: usize>(
        &self,
    ) -> Result<Architecture<T, CAP>, ParseError> {
        let l = self.layout?;
        Architecture::parse(l.arch).map_err(|mut e| {
            e.position = e.position.saturating_add(l.arch_at);
            e
        })
    }

    /// `true` if the case holds the reference block `which`.
    pub fn has(&self, which: Matrix) -> bool {
        match (self.layout, which) {
            (Ok(l), Matrix::Nngp) => l.nngp.is_some(),
            (Ok(l), Matrix::Ntk) => l.ntk.is_some(),
            (Err(_), _) => false,
        }
    }

    /// Reads `rows × width` numbers starting at byte `from` into `out`.
    fn read_block<T: Real>(
        &self,
        from: usize,
        rows: usize,
        width: usize,
        out: &mut [T],
    ) -> Result<(), Error> {
        let needed = rows.saturating_mul(width);
        if out.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: out.len(),
            });
        }
        let mut slots = out.iter_mut();
        let mut read = 0;
        for (offset, line) in
            lines(self.text, from, self.text.len()).filter(|(_, l)| !l.trim().is_empty())
        {
            if read == needed {
                break;
            }
            for (at, word) in words(line, offset) {
                let v: T =
                    parse_any(word).ok_or(ParseError::new(ParseErrorKind::BadNumber, at, word))?;
                if let Some(slot) = slots.next() {
                    *slot = v;
                }
                read += 1;
            }
        }
        Ok(())
    }

    /// Reads the inputs, row-major, into the first N·D entries of `out`.
    ///
    /// `nan` and `inf` read as such (the kernel functions then report
    /// [`Error::NonFinite`]).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] for a malformed case or number, [`Error::BufferTooSmall`]
    /// if `out` holds fewer than N·D entries.
    pub fn read_inputs<T: Real>(&self, out: &mut [T]) -> Result<(), Error> {
        let l = self.layout?;
        self.read_block(l.inputs, l.n, l.d, out)
    }

    /// Reads the reference matrix `which`, row-major, into the first N²
    /// entries of `out`; returns `false` (and leaves `out` alone) if the case
    /// has no such block.
    ///
    /// # Errors
    ///
    /// As [`read_inputs`](Self::read_inputs), with N² entries.
    pub fn read_reference<T: Real>(&self, which: Matrix, out: &mut [T]) -> Result<bool, Error> {
        let l = self.layout?;
        let from = match which {
            Matrix::Nngp => l.nngp,
            Matrix::Ntk => l.ntk,
        };
        match from {
            Some(from) => self.read_block(from, l.n, l.n, out).map(|()| true),
            None => Ok(false),
        }
    }

    /// Writes the `inputs` line and the input rows as they are in the text
    /// (words separated by single spaces).
    fn write_inputs<W: fmt::Write>(&self, l: &Layout<'_>, out: &mut W) -> fmt::Result {
        writeln!(out, "inputs {} {}", l.n, l.d)?;
        let rows = lines(self.text, l.inputs, self.text.len())
            .filter(|(_, line)| !line.trim().is_empty())
            .take(l.n);
        for (_, line) in rows {
            for (i, w) in line.split_whitespace().enumerate() {
                if i > 0 {
                    out.write_char(' ')?;
                }
                out.write_str(w)?;
            }
            out.write_char('\n')?;
        }
        Ok(())
    }
}

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
pub enum Outcome {
    /// The computed `nngp` and `ntk` matrices.
    Computed,
    /// An `error` line, for this reason (the positions of a
    /// [`Error::Parse`] are byte offsets in the text: see [`describe`]).
    Failed(Error),
}

/// Computes a case with an [`Architecture<T, CAP>`] and writes it in the
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
            a.gram_flat(
                x.get(..l.n.saturating_mul(l.d)).unwrap_or(&[]),
                l.d.max(1),
                nngp,
                ntk,
            )
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

/// The non-blank lines of `text` outside every case, as
/// [`Unexpected`](ParseErrorKind::Unexpected) errors naming their first word
/// (positions are byte offsets in `text`).
///
/// [`cases`] skips these lines; a reader that holds a file to the format
/// reports them (a misspelt `case` line hides its whole case).
///
/// # Examples
///
/// ```
/// use ntk::analytic::text;
/// let file = "# notes\ncase a\narch relu\ninputs 0 1\nend\ncse b\n";
/// let mut stray = text::outside_cases(file);
/// let e = stray.next().unwrap();
/// assert_eq!((e.token(), e.position), ("#", 0));
/// let e = stray.next().unwrap();
/// assert_eq!((e.token(), e.position), ("cse", 40));
/// assert!(stray.next().is_none());
/// ```
pub fn outside_cases(text: &str) -> impl Iterator<Item = ParseError> + '_ {
    lines(text, 0, text.len())
        .scan(false, |in_case, (offset, line)| {
            let (at, word) = first_word(line);
            let stray = match (*in_case, word) {
                (false, "case") | (true, "case") => {
                    *in_case = true;
                    None
                }
                (true, "end") => {
                    *in_case = false;
                    None
                }
                (true, _) | (false, "") => None,
                (false, _) => Some(unexpected(offset + at, word)),
            };
            Some(stray)
        })
        .flatten()
}
