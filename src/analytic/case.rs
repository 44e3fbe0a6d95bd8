//! Reading the reference-kernel text format: cases, their inputs and
//! reference matrices, and the lines outside every case (see [`text`](super::text)).

use core::fmt;

use super::arch::{Architecture, Shape};
use super::layout::{after_first_word, first_word, layout, lines, unexpected, words, Layout};
use super::syntax::parse_any;
use crate::error::{ParseError, ParseErrorKind};
use crate::{Error, Real};

/// One case of a reference file, borrowed from the text.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Case<'a> {
    pub(crate) text: &'a str,
    pub(crate) name: &'a str,
    arch: Option<&'a str>,
    position: usize,
    pub(crate) layout: Result<Layout<'a>, ParseError>,
}

/// Which reference matrix of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Matrix {
    /// The `nngp` block.
    Nngp,
    /// The `ntk` block.
    Ntk,
}

/// The cases of a text, in order; see [`cases`].
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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

    /// The shape of each input: [`Shape::Flat`] for `inputs N D`,
    /// [`Shape::Sequence`] for `inputs N L C`, [`Shape::Image`] for
    /// `inputs N H W C` (format version 2). D of [`dims`](Self::dims) is the
    /// number of numbers per input, L·C or H·W·C.
    ///
    /// # Errors
    ///
    /// As [`dims`](Self::dims); a product L·C or H·W·C that overflows, or
    /// is 0 with N > 0, is [`OutOfRange`](ParseErrorKind::OutOfRange).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{text, Shape};
    /// let file = "case s\narch conv(3,1,0) gap\ninputs 1 2 2\n1 2 3 4\nend\n";
    /// let case = text::cases(file).next().unwrap();
    /// assert_eq!(case.shape()?, Shape::Sequence { length: 2, channels: 2 });
    /// assert_eq!(case.dims()?, (1, 4));
    /// # Ok::<(), ntk::error::ParseError>(())
    /// ```
    pub fn shape(&self) -> Result<Shape, ParseError> {
        self.layout.map(|l| l.shape)
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
    pub(crate) fn write_inputs<W: fmt::Write>(&self, l: &Layout<'_>, out: &mut W) -> fmt::Result {
        match l.shape {
            Shape::Sequence { length, channels } => {
                writeln!(out, "inputs {} {length} {channels}", l.n)?
            }
            Shape::Image {
                height,
                width,
                channels,
            } => writeln!(out, "inputs {} {height} {width} {channels}", l.n)?,
            _ => writeln!(out, "inputs {} {}", l.n, l.d)?,
        }
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
