//! The reference-file reader (`ntk::analytic::text`) on arbitrary text,
//! through the `kernel` example's own `run`.
//!
//! The input is the file (invalid UTF-8 replaced); its last byte also picks
//! the precision (bit 0: `f32`) and the example's limit on N (1 to 8).
//!
//! Properties:
//!
//! - reading, evaluating and writing never panic;
//! - every error names a position inside the text, on a character boundary,
//!   and a token taken from the line at that position; the example shows it
//!   as `line L, column C`, which agrees with counting characters;
//! - the example reports a problem exactly for each failed case, each line
//!   outside every case, and a text without a case; a case fails exactly when
//!   the library refuses it (malformed, N above the limit, bad architecture
//!   or number, kernel error), with that error on its `error` line;
//! - round trip: the output holds the same cases in the same order; a
//!   computed case keeps its architecture (which also reads back equal from
//!   its canonical form), dimensions and inputs bit for bit, and its `nngp`
//!   and `ntk` blocks read back to the Gram matrices bit for bit; when every
//!   case was computed, running the example on its own output gives the
//!   output again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntk::analytic::text::{self, Case, Matrix};
use ntk::analytic::{Architecture, Layer, Shape};
use ntk::error::ParseError;
use ntk::{Error, Real};
use ntk_fuzz::kernel_example::run;
use ntk_fuzz::line_column;

/// The example's layer capacity.
const CAP: usize = 256;

/// Checks that a parse error of `text` points inside it; returns the
/// message the example shows for it.
fn check_position(text: &str, e: &ParseError) -> String {
    assert!(e.position <= text.len(), "{e:?} past the end");
    assert!(
        text.is_char_boundary(e.position),
        "{e:?} inside a character"
    );
    let start = text[..e.position].rfind('\n').map_or(0, |i| i + 1);
    let end = text[e.position..]
        .find('\n')
        .map_or(text.len(), |i| e.position + i);
    assert!(
        text[start..end].contains(e.token()),
        "{e:?}: the token is not on its line {:?}",
        &text[start..end]
    );
    let (line, column) = line_column(text, e.position);
    let what = if e.token().is_empty() {
        e.kind.to_string()
    } else {
        format!("{} `{}`", e.kind, e.token())
    };
    format!("parse error: {what} at line {line}, column {column}")
}

/// The message the example shows for `e`, checking the position of a parse
/// error.
fn message(text: &str, e: &Error) -> String {
    match e {
        Error::Parse(p) => check_position(text, p),
        other => other.to_string(),
    }
}

/// The matrices of a case the library computes, or why it does not.
struct Computed<T> {
    arch: Architecture<T, CAP>,
    n: usize,
    d: usize,
    x: Vec<T>,
    k: Vec<T>,
    t: Vec<T>,
}

fn compute<T: Real>(case: &Case<'_>, max_n: usize) -> Result<Computed<T>, Error> {
    let (n, d) = case.dims_within(max_n)?;
    let mut x = vec![T::ZERO; n * d];
    case.read_inputs(&mut x)?;
    let arch = case.architecture::<T, CAP>()?;
    let (mut k, mut t) = (vec![T::ZERO; n * n], vec![T::ZERO; n * n]);
    // As the example: flat cases by `gram_flat` (except layer norm and
    // residual blocks), the others by `gram_spatial` on their shape.
    let shape = case.shape()?;
    if matches!(shape, Shape::Flat { .. }) && !arch.layers().iter().any(Layer::is_structured) {
        arch.gram_flat(&x, d.max(1), &mut k, &mut t)?;
    } else {
        // The example lends no workspace beyond 2²⁸ numbers: the case
        // reports the short one.
        let needed = arch.workspace_len(shape)?;
        if needed > 1 << 28 {
            return Err(Error::BufferTooSmall { needed, given: 0 });
        }
        let mut ws = vec![T::ZERO; needed];
        arch.gram_spatial(&x, shape, &mut ws, &mut k, &mut t)?;
    }
    Ok(Computed {
        arch,
        n,
        d,
        x,
        k,
        t,
    })
}

fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

fn check<T: Real>(file: &str, max_n: usize) {
    let mut out = Vec::new();
    let problems = run::<T, _>(file, max_n, &(None, None), &mut out).expect("writing to a Vec");
    let out = String::from_utf8(out).expect("the output is UTF-8");

    let mut expected = Vec::new();
    for e in text::outside_cases(file) {
        expected.push(format!("{} (outside every case)", check_position(file, &e)));
    }
    let mut written = text::cases(&out);
    let mut count = 0;
    let mut all_computed = true;
    for case in text::cases(file) {
        count += 1;
        let got = written.next().expect("a case is missing from the output");
        assert_eq!(got.name(), case.name());
        match compute::<T>(&case, max_n) {
            Ok(c) => {
                // The architecture round trip.
                let canon = c.arch.to_string();
                assert_eq!(Architecture::<T, CAP>::parse(&canon), Ok(c.arch.clone()));
                assert_eq!(got.arch(), case.arch());
                assert_eq!(got.architecture::<T, CAP>(), Ok(c.arch));
                assert_eq!(got.dims(), Ok((c.n, c.d)));
                let mut x = vec![T::ZERO; c.n * c.d];
                got.read_inputs(&mut x).expect("the echoed inputs read");
                assert_eq!(bits(&x), bits(&c.x), "inputs are echoed");
                for (which, want) in [(Matrix::Nngp, &c.k), (Matrix::Ntk, &c.t)] {
                    let mut m = vec![T::ZERO; c.n * c.n];
                    assert_eq!(got.read_reference(which, &mut m), Ok(true));
                    assert_eq!(bits(&m), bits(want), "{which:?} does not read back");
                }
            }
            Err(e) => {
                all_computed = false;
                let shown = message(file, &e);
                let error_line = out_lines(&out, &got)
                    .find(|l| l.starts_with("error "))
                    .expect("a failed case has an error line");
                assert!(
                    error_line["error ".len()..].starts_with(&shown),
                    "{error_line:?} is not {shown:?}"
                );
                assert!(!got.has(Matrix::Nngp) && !got.has(Matrix::Ntk));
                let (line, _) = line_column(file, case.position());
                expected.push(format!("case {} (line {line}): {shown}", case.name()));
            }
        }
    }
    assert!(written.next().is_none(), "the output holds an extra case");
    if count == 0 {
        assert!(out.is_empty());
        expected.push("no `case` line: the file holds no case".to_string());
    }
    // One problem for each, in the same order (lines outside cases first).
    assert_eq!(problems, expected);

    if all_computed && count > 0 {
        let mut again = Vec::new();
        let problems =
            run::<T, _>(&out, max_n, &(None, None), &mut again).expect("writing to a Vec");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            String::from_utf8(again).unwrap(),
            out,
            "the output is not a fixed point"
        );
    }
}

/// The lines of a case of `out`, from its `case` line to its `end`.
fn out_lines<'a>(out: &'a str, case: &Case<'a>) -> impl Iterator<Item = &'a str> {
    let rest = &out[case.position()..];
    let end = rest
        .lines()
        .skip(1)
        .position(|l| l.split_whitespace().next() == Some("end"))
        .map_or(usize::MAX, |p| p + 2);
    rest.lines().take(end)
}

fuzz_target!(|data: &[u8]| {
    let file = String::from_utf8_lossy(data);
    let mode = data.last().copied().unwrap_or(0);
    let max_n = 1 + usize::from(mode >> 1) % 8;
    if mode & 1 == 1 {
        check::<f32>(&file, max_n);
    } else {
        check::<f64>(&file, max_n);
    }
});
