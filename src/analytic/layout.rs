//! The layout of a case of the reference-kernel text format: its lines and
//! words with their byte offsets, and where the architecture, the inputs and
//! the reference matrices of a well-formed case are.

use super::arch::Shape;
use crate::error::{ParseError, ParseErrorKind};

/// Lines of `text[from..to]` as (byte offset in `text`, line without its end).
pub(super) fn lines(text: &str, from: usize, to: usize) -> impl Iterator<Item = (usize, &str)> {
    let body = text.get(from..to).unwrap_or("");
    body.split_inclusive('\n').scan(from, |at, line| {
        let offset = *at;
        *at += line.len();
        Some((offset, line.trim_end_matches(['\n', '\r'])))
    })
}

/// First whitespace-separated word of a line and its byte offset in the line.
pub(super) fn first_word(line: &str) -> (usize, &str) {
    let start = line.len() - line.trim_start().len();
    let rest = line.get(start..).unwrap_or("");
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    (start, rest.get(..end).unwrap_or(""))
}

/// The text after the first word, trimmed.
pub(super) fn after_first_word(line: &str) -> &str {
    let (start, word) = first_word(line);
    line.get(start + word.len()..).unwrap_or("").trim()
}

/// Words of a line with their byte offsets in `text` (the line starting at
/// `offset`).
pub(super) fn words(line: &str, offset: usize) -> impl Iterator<Item = (usize, &str)> {
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Layout<'a> {
    pub arch: &'a str,
    /// Byte offset of the architecture text.
    pub(super) arch_at: usize,
    pub n: usize,
    /// Byte offset of N on the `inputs` line, and its text.
    pub(super) n_at: usize,
    pub(super) n_text: &'a str,
    pub d: usize,
    /// The shape of an input (version 2: sequences and images).
    pub shape: Shape,
    /// Byte offset of the first input row.
    pub(super) inputs: usize,
    /// Byte offsets of the first rows of the reference matrices.
    pub(super) nngp: Option<usize>,
    pub(super) ntk: Option<usize>,
}

pub(super) fn unexpected(position: usize, token: &str) -> ParseError {
    ParseError::new(ParseErrorKind::Unexpected, position, token)
}

/// A line or number missing at byte `position`.
pub(super) fn missing(position: usize) -> ParseError {
    ParseError::new(ParseErrorKind::Missing, position, "")
}

/// The text after the first word of `line` (which starts at byte `offset`),
/// trimmed, and its byte offset.
pub(super) fn rest_at(line: &str, offset: usize) -> (usize, &str) {
    let (start, word) = first_word(line);
    let rest = line.get(start + word.len()..).unwrap_or("");
    let lead = rest.len() - rest.trim_start().len();
    (offset + start + word.len() + lead, rest.trim())
}

/// Checks the structure of the case in `text[from..to]`.
pub(super) fn layout<'a>(
    text: &'a str,
    from: usize,
    to: usize,
    name: &str,
) -> Result<Layout<'a>, ParseError> {
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
    // Version 2: `inputs N L C` and `inputs N H W C`.
    let mut sizes = [d, 0, 0];
    let mut rank = 1;
    for (at, word) in w {
        if rank == sizes.len() {
            return Err(unexpected(at, word));
        }
        let (_, _, v) = count(Some((at, word)))?;
        if let Some(slot) = sizes.get_mut(rank) {
            *slot = v;
        }
        rank += 1;
    }
    let shape = match (rank, sizes) {
        (2, [length, channels, _]) => Shape::Sequence { length, channels },
        (3, [height, width, channels]) => Shape::Image {
            height,
            width,
            channels,
        },
        _ => Shape::Flat { dim: d },
    };
    let product = sizes
        .iter()
        .take(rank)
        .try_fold(1_usize, |p, &v| p.checked_mul(v));
    let Some(d) = product else {
        return Err(ParseError::new(ParseErrorKind::OutOfRange, d_at, d_text));
    };
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
        shape,
        inputs,
        nngp,
        ntk,
    })
}

/// Checks `count` lines of `width` numbers each; returns the byte offset of
/// the first.
pub(super) fn rows<'a, I: Iterator<Item = (usize, &'a str)>>(
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
