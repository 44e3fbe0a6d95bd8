//! Infinite-width NNGP and NTK of every case of a reference file.
//!
//! ```text
//! cargo run --release --example kernel -- FILE [--f32] [--max-n N] [--rows a..b] [--cols c..d]
//! ```
//!
//! Reads each case of FILE (format of `ntk::analytic::text`: `case`, `arch`,
//! `inputs` and the input rows, flat vectors or, format version 2, sequences
//! and images of convolutional architectures; reference `nngp`/`ntk` blocks are ignored)
//! and prints it in the same format with this crate's `nngp` and `ntk`
//! matrices (`{:.17e}`), computed in f64, or in f32 with `--f32`. A case that
//! cannot be computed gets `error MESSAGE` in place of its matrices, and the
//! run goes on; a parse error names its line and column in FILE and the
//! offending token.
//!
//! A case of more than N inputs (default [`DEFAULT_MAX_N`], set with
//! `--max-n N`) is refused before anything is allocated for it: its two N×N
//! matrices would take 16·N² bytes in f64.
//!
//! With `--rows a..b` or `--cols c..d` (0-based, half-open; the other
//! defaults to all), it writes one block of every case instead of its whole
//! matrices: the rows a..b and columns c..d, cut to the case's N, after a
//! line `block a b c d` that gives the cut range (see
//! `ntk::analytic::text::evaluate_block_with`). The numbers are those of
//! the whole matrices, bit for bit; the `assemble` example stitches the
//! blocks of a partition back into this program's default output, byte for
//! byte (`examples/job-array/` runs the blocks as a job array).
//!
//! Exit status: 0 when every case was computed; 1 when a case failed, FILE
//! holds no case or a non-blank line outside every case, or cannot be read
//! (each problem is also reported on stderr); 2 for bad arguments.

use std::io::Write;
use std::ops::Range;
use std::process::ExitCode;

use ntk::analytic::text::{self, Outcome};
use ntk::analytic::Shape;
use ntk::{Error, Real};

/// Layers an architecture may have in a file.
const CAPACITY: usize = 256;

/// Largest number of inputs of a case unless `--max-n` says otherwise: the
/// two 4096×4096 matrices take 256 MiB in f64.
pub const DEFAULT_MAX_N: usize = 4096;

const USAGE: &str = "usage: kernel FILE [--f32] [--max-n N] [--rows a..b] [--cols c..d]";

/// Rows and columns of a block, each `None` for all of them.
pub type Block = (Option<Range<usize>>, Option<Range<usize>>);

/// `a..b` with `a ≤ b`, 0-based and half-open.
fn parse_range(s: &str) -> Option<Range<usize>> {
    let (a, b) = s.split_once("..")?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some(a..b)
}

/// `r` (all of `0..n` for `None`) cut to `0..n`.
fn cut(r: &Option<Range<usize>>, n: usize) -> Range<usize> {
    r.as_ref().map_or(0..n, |r| r.start.min(n)..r.end.min(n))
}

/// Computes every case of `file` (or the block `block` of every case, when
/// it names rows or columns), refusing cases of more than `max_n`
/// inputs, and writes them to `out`. Returns one message per problem found:
/// a case that failed, a line outside every case, a file without a case
/// (empty when every case was computed).
///
/// # Errors
///
/// Only the errors of `out`.
pub fn run<T: Real, W: Write>(
    file: &str,
    max_n: usize,
    block: &Block,
    out: &mut W,
) -> std::io::Result<Vec<String>> {
    let blocks = block.0.is_some() || block.1.is_some();
    let mut problems: Vec<String> = text::outside_cases(file)
        .map(|e| {
            format!(
                "{} (outside every case)",
                text::describe(file, &Error::Parse(e))
            )
        })
        .collect();
    let mut buf = String::new();
    let mut count = 0;
    for case in text::cases(file) {
        count += 1;
        buf.clear();
        let outcome = match case.dims_within(max_n) {
            // Well formed, but too large: refused before allocating.
            Err(e) if case.dims().is_ok() => {
                let e = Error::Parse(e);
                buf.push_str(&format!(
                    "case {}\narch {}\nerror {} (more than {max_n} inputs; raise the limit with --max-n)\nend\n",
                    case.name(),
                    case.arch().unwrap_or(""),
                    text::describe(file, &e)
                ));
                Outcome::Failed(e)
            }
            dims if blocks => {
                let (n, d) = dims.unwrap_or((0, 0));
                let (rows, cols) = (cut(&block.0, n), cut(&block.1, n));
                let mut x = vec![T::ZERO; n * d];
                let mut k = vec![T::ZERO; rows.len() * cols.len()];
                let mut t = vec![T::ZERO; rows.len() * cols.len()];
                let mut ws = vec![T::ZERO; workspace_len::<T>(&case)];
                text::evaluate_block_with::<T, CAPACITY, _>(
                    &case, rows, cols, &mut x, &mut ws, &mut k, &mut t, &mut buf,
                )
                .map_err(|_| std::io::Error::other("formatting a case failed"))?
            }
            dims => {
                let (n, d) = dims.unwrap_or((0, 0));
                let mut x = vec![T::ZERO; n * d];
                let mut k = vec![T::ZERO; n * n];
                let mut t = vec![T::ZERO; n * n];
                let mut ws = vec![T::ZERO; workspace_len::<T>(&case)];
                text::evaluate_with::<T, CAPACITY, _>(
                    &case, &mut x, &mut ws, &mut k, &mut t, &mut buf,
                )
                .map_err(|_| std::io::Error::other("formatting a case failed"))?
            }
        };
        if let Outcome::Failed(e) = outcome {
            let line = text::locate(file, case.position()).map_or(0, |l| l.line);
            problems.push(format!(
                "case {} (line {line}): {}",
                case.name(),
                text::describe(file, &e)
            ));
        }
        out.write_all(buf.as_bytes())?;
    }
    if count == 0 {
        problems.push("no `case` line: the file holds no case".to_string());
    }
    out.flush()?;
    Ok(problems)
}

/// Largest workspace (numbers) of a sequence or image case: 2²⁸, 2 GiB in
/// f64. A larger one is not allocated, and the case reports the short
/// workspace.
const MAX_WORKSPACE: usize = 1 << 28;

/// The workspace of a sequence or image case, or of a flat case with layer
/// norm or residual blocks (0 for the other flat cases, malformed ones and
/// those beyond [`MAX_WORKSPACE`]).
fn workspace_len<T: Real>(case: &text::Case<'_>) -> usize {
    match (case.shape(), case.architecture::<T, CAPACITY>()) {
        (Ok(shape), Ok(arch))
            if !matches!(shape, Shape::Flat { .. })
                || arch.layers().iter().any(|l| l.is_structured()) =>
        {
            arch.workspace_len(shape)
                .ok()
                .filter(|&len| len <= MAX_WORKSPACE)
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn main() -> ExitCode {
    let mut f32_mode = false;
    let mut max_n = DEFAULT_MAX_N;
    let mut block: Block = (None, None);
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let range = match a.as_str() {
            "--rows" | "--cols" => Some((a.clone(), args.next())),
            _ => ["--rows=", "--cols="].iter().find_map(|p| {
                a.strip_prefix(p)
                    .map(|v| (p.trim_end_matches('=').to_string(), Some(v.to_string())))
            }),
        };
        if let Some((which, value)) = range {
            let Some(r) = value.as_deref().and_then(parse_range) else {
                eprintln!("kernel: {which} needs a range a..b with a <= b\n{USAGE}");
                return ExitCode::from(2);
            };
            if which == "--rows" {
                block.0 = Some(r);
            } else {
                block.1 = Some(r);
            }
            continue;
        }
        let limit = match a.as_str() {
            "--f32" => {
                f32_mode = true;
                continue;
            }
            "--max-n" => args.next(),
            _ => match a.strip_prefix("--max-n=") {
                Some(v) => Some(v.to_string()),
                None if a.starts_with("--") => {
                    eprintln!("kernel: unknown option {a}\n{USAGE}");
                    return ExitCode::from(2);
                }
                None => {
                    files.push(a);
                    continue;
                }
            },
        };
        match limit.as_deref().map(str::parse::<usize>) {
            Some(Ok(n)) => max_n = n,
            _ => {
                eprintln!("kernel: --max-n needs a count of inputs\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let [path] = files.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let file = match std::fs::read_to_string(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kernel: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let result = if f32_mode {
        run::<f32, _>(&file, max_n, &block, &mut stdout)
    } else {
        run::<f64, _>(&file, max_n, &block, &mut stdout)
    };
    match result {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for p in &problems {
                eprintln!("kernel: {path}: {p}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kernel: {e}");
            ExitCode::FAILURE
        }
    }
}
