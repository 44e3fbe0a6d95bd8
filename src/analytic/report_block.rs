//! One block of a case's matrices in the reference-kernel text format: what
//! a task of a job array writes (see [`evaluate_block_with`]).

use core::fmt;
use core::ops::Range;

use super::arch::Shape;
use super::case::Case;
use super::layer::Layer;
use super::report::{describe, Outcome};
use crate::{Error, Real};

/// Writes `h` rows of `w` values (row-major), one row per line, `{:.17e}`
/// in f64, as the whole matrices are written.
fn write_rows<T: Real, W: fmt::Write>(
    out: &mut W,
    title: &str,
    m: &[T],
    (h, w): (usize, usize),
) -> fmt::Result {
    writeln!(out, "{title}")?;
    for i in 0..h {
        let row = m.get(i * w..(i + 1) * w).unwrap_or(&[]);
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

/// As [`evaluate_with`](super::text::evaluate_with), for rows `rows` ×
/// columns `cols` of the case's matrices (0-based, half-open): the `case`,
/// `arch` and `inputs` lines and the input rows as read, a line
/// `block a b c d` (`rows = a..b`, `cols = c..d`), then the block's `h`
/// rows of `w` numbers of `nngp` and of `ntk` (`{:.17e}`), then `end`.
///
/// The numbers are those of `evaluate_with` for the same entries, bit for
/// bit (see [`Architecture::gram_block_flat`](super::Architecture::gram_block_flat)
/// and [`gram_block_spatial`](super::Architecture::gram_block_spatial)):
/// the blocks of a partition of the N × N matrices, written by separate
/// runs, assemble into the text `evaluate_with` writes (less the `block`
/// lines, with the rows joined). A block that cannot be computed gets a
/// line `error MESSAGE` after its `block` line (before it, when the inputs
/// cannot be read), as `evaluate_with` writes it; a range past N is
/// such an error ([`Error::InvalidArgument`]).
///
/// `x` needs N·D entries and `nngp`, `ntk` `h·w` entries each; the
/// workspace is that of `evaluate_with` (for sequence and image cases,
/// [`Architecture::workspace_len`](super::Architecture::workspace_len)).
///
/// # Errors
///
/// Only the errors of `out`.
///
/// # Examples
///
/// ```
/// use ntk::analytic::text::{self, Outcome};
/// let file = "case a\narch dense(1,0) relu\ninputs 3 1\n1\n-2\n0.5\nend\n";
/// let case = text::cases(file).next().unwrap();
/// let (mut x, mut k, mut t) = ([0.0; 3], [0.0; 9], [0.0; 9]);
/// let mut whole = String::new();
/// text::evaluate::<f64, 8, _>(&case, &mut x, &mut k, &mut t, &mut whole)?;
/// let mut block = String::new();
/// let outcome = text::evaluate_block_with::<f64, 8, _>(
///     &case, 1..3, 0..3, &mut x, &mut [], &mut k, &mut t, &mut block,
/// )?;
/// assert_eq!(outcome, Outcome::Computed);
/// assert!(block.starts_with("case a\narch dense(1,0) relu\ninputs 3 1\n1\n-2\n0.5\nblock 1 3 0 3\nnngp\n"));
/// // Rows 1 and 2 of the whole matrices, as written.
/// let lines: Vec<&str> = whole.lines().collect();
/// let blines: Vec<&str> = block.lines().collect();
/// assert_eq!(blines[8..10], lines[8..10]); // nngp rows 1, 2
/// assert_eq!(blines[11..13], lines[12..14]); // ntk rows 1, 2
/// # Ok::<(), core::fmt::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn evaluate_block_with<T: Real, const CAP: usize, W: fmt::Write>(
    case: &Case<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
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
    writeln!(
        out,
        "block {} {} {} {}",
        rows.start, rows.end, cols.start, cols.end
    )?;
    let (h, w) = (
        rows.end.saturating_sub(rows.start),
        cols.end.saturating_sub(cols.start),
    );
    let result = case
        .architecture::<T, CAP>()
        .map_err(Error::Parse)
        .and_then(|a| {
            let x = x.get(..l.n.saturating_mul(l.d)).unwrap_or(&[]);
            let (rows, cols) = (rows.clone(), cols.clone());
            match l.shape {
                Shape::Flat { .. } if !a.layers().iter().any(Layer::is_structured) => {
                    a.gram_block_flat(x, l.d.max(1), rows, cols, nngp, ntk)
                }
                shape => a.gram_block_spatial(x, shape, rows, cols, workspace, nngp, ntk),
            }
        });
    match result {
        Ok(()) => {
            write_rows(out, "nngp", nngp, (h, w))?;
            write_rows(out, "ntk", ntk, (h, w))?;
            writeln!(out, "end").map(|()| Outcome::Computed)
        }
        Err(e) => fail(e, out),
    }
}
