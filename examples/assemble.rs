//! Stitches the blocks the `kernel` example writes (`--rows a..b --cols c..d`)
//! into whole matrices, in the `kernel` example's default output format.
//!
//! ```text
//! cargo run --release --example assemble -- BLOCKFILE...
//! ```
//!
//! Every BLOCKFILE is the output of one `kernel FILE --rows a..b --cols c..d`
//! run over the same FILE: the same cases in the same order, each with its
//! `case`, `arch` and `inputs` lines and input rows, a `block a b c d` line,
//! and the rows a..b, columns c..d of its `nngp` and `ntk` matrices. For
//! each case the blocks must cover every entry of the N × N matrices
//! exactly once; the case is then written as `kernel FILE` writes it, byte
//! for byte (the numbers are copied as text, and the blocks hold the bits
//! of the whole matrices). A case that failed in any block is written with
//! that block's `error` line (the first in argument order), as `kernel`
//! writes a failed case.
//!
//! Nothing is written unless every case assembles. Exit status:
//! 0 when every case was assembled and computed; 1 when a case carries an
//! `error` line (written, as `kernel` writes it); 2 for bad arguments or an
//! unreadable file; 3 when an entry of a case is in no block (missing);
//! 4 when an entry is in two blocks (overlapping); 5 when the files
//! disagree on the cases (their number, or a case's `case`, `arch`,
//! `inputs` lines and input rows); 6 when a file is not the output of a
//! block run (malformed). Each problem is reported on stderr with the file,
//! the case and the entry or line.

use std::fmt;
use std::process::ExitCode;

const USAGE: &str = "usage: assemble BLOCKFILE...";

/// Why the blocks do not assemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Entry (row, column) of a case is in no block.
    Missing {
        /// The case's name.
        case: String,
        /// Row and column (0-based).
        entry: (usize, usize),
    },
    /// Entry (row, column) of a case is in two blocks.
    Overlapping {
        /// The case's name.
        case: String,
        /// Row and column (0-based).
        entry: (usize, usize),
    },
    /// The files disagree on the cases.
    Inconsistent {
        /// The file that disagrees with the first.
        file: String,
        /// What differs.
        what: String,
    },
    /// A file is not the output of a block run.
    Malformed {
        /// The file.
        file: String,
        /// The line (from 1).
        line: usize,
        /// What was expected.
        what: String,
    },
}

impl Problem {
    /// The exit status of the problem.
    pub fn code(&self) -> u8 {
        match self {
            Problem::Missing { .. } => 3,
            Problem::Overlapping { .. } => 4,
            Problem::Inconsistent { .. } => 5,
            Problem::Malformed { .. } => 6,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { case, entry } => write!(
                f,
                "case {case}: entry ({}, {}) is in no block (missing)",
                entry.0, entry.1
            ),
            Problem::Overlapping { case, entry } => write!(
                f,
                "case {case}: entry ({}, {}) is in more than one block (overlapping)",
                entry.0, entry.1
            ),
            Problem::Inconsistent { file, what } => {
                write!(f, "{file}: inconsistent with the first file: {what}")
            }
            Problem::Malformed { file, line, what } => {
                write!(f, "{file}: line {line}: {what}")
            }
        }
    }
}

/// One case of one block file.
#[derive(Debug)]
struct Part<'a> {
    /// The `case`, `arch` and `inputs` lines and the input rows.
    header: Vec<&'a str>,
    /// The block (a, b, c, d) and its `nngp` and `ntk` rows, or the case's
    /// `error` line.
    body: Body<'a>,
}

#[derive(Debug)]
enum Body<'a> {
    Block {
        at: (usize, usize, usize, usize),
        nngp: Vec<&'a str>,
        ntk: Vec<&'a str>,
    },
    Error(&'a str),
}

/// The cases of one block file.
fn parse<'a>(name: &str, text: &'a str) -> Result<Vec<Part<'a>>, Problem> {
    let mut lines = text.lines().enumerate().peekable();
    let bad = |line: usize, what: &str| Problem::Malformed {
        file: name.to_string(),
        line: line + 1,
        what: what.to_string(),
    };
    let mut parts = Vec::new();
    while let Some((no, line)) = lines.next() {
        if !line.starts_with("case ") {
            return Err(bad(no, "expected a `case` line"));
        }
        let mut header = vec![line];
        let body = loop {
            let Some((no, line)) = lines.next() else {
                return Err(bad(no + 1, "the case has no `block` line"));
            };
            if let Some(msg) = line.strip_prefix("error ") {
                match lines.next() {
                    Some((_, "end")) => break Body::Error(msg),
                    _ => return Err(bad(no + 1, "expected `end` after `error`")),
                }
            }
            let Some(range) = line.strip_prefix("block ") else {
                if line.starts_with("case ") || line == "end" {
                    return Err(bad(no, "the case has no `block` line"));
                }
                header.push(line);
                continue;
            };
            let v: Vec<usize> = range.split(' ').filter_map(|w| w.parse().ok()).collect();
            let [a, b, c, d] = v[..] else {
                return Err(bad(no, "expected `block a b c d`"));
            };
            if a > b || c > d {
                return Err(bad(no, "a block range a..b needs a <= b"));
            }
            // An `error` line may follow the block line.
            if let Some((_, l)) = lines.peek() {
                if let Some(msg) = l.strip_prefix("error ") {
                    lines.next();
                    match lines.next() {
                        Some((_, "end")) => break Body::Error(msg),
                        _ => return Err(bad(no + 2, "expected `end` after `error`")),
                    }
                }
            }
            let mut matrix = |title: &str| -> Result<Vec<&'a str>, Problem> {
                match lines.next() {
                    Some((_, l)) if l == title => {}
                    Some((n, _)) => return Err(bad(n, &format!("expected `{title}`"))),
                    None => return Err(bad(no, &format!("expected `{title}`"))),
                }
                let mut rows = Vec::with_capacity(b - a);
                for _ in a..b {
                    match lines.next() {
                        Some((n, l)) => {
                            let count = if l.is_empty() {
                                0
                            } else {
                                l.split(' ').count()
                            };
                            if count != d - c {
                                return Err(bad(n, &format!("expected {} numbers", d - c)));
                            }
                            rows.push(l);
                        }
                        None => return Err(bad(no, "the block ends early")),
                    }
                }
                Ok(rows)
            };
            let nngp = matrix("nngp")?;
            let ntk = matrix("ntk")?;
            match lines.next() {
                Some((_, "end")) => {}
                Some((n, _)) => return Err(bad(n, "expected `end`")),
                None => return Err(bad(no, "expected `end`")),
            }
            break Body::Block {
                at: (a, b, c, d),
                nngp,
                ntk,
            };
        };
        parts.push(Part { header, body });
    }
    Ok(parts)
}

/// N of a case, from its `inputs` line.
fn count(header: &[&str]) -> Option<usize> {
    header
        .iter()
        .find_map(|l| l.strip_prefix("inputs "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Assembles the block files `files` (name, text); returns the text to
/// write and whether every case was computed.
///
/// # Errors
///
/// The first [`Problem`] found.
pub fn assemble(files: &[(String, String)]) -> Result<(String, bool), Problem> {
    let mut parsed = Vec::new();
    for (name, text) in files {
        parsed.push((name, parse(name, text)?));
    }
    let Some((_, first)) = parsed.first() else {
        return Ok((String::new(), true));
    };
    for (name, parts) in &parsed {
        if parts.len() != first.len() {
            return Err(Problem::Inconsistent {
                file: name.to_string(),
                what: format!("{} cases, the first file has {}", parts.len(), first.len()),
            });
        }
        for (p, q) in parts.iter().zip(first) {
            if p.header != q.header {
                return Err(Problem::Inconsistent {
                    file: name.to_string(),
                    what: format!("the case `{}` differs from `{}`", p.header[0], q.header[0]),
                });
            }
        }
    }
    let mut out = String::new();
    let mut computed = true;
    for (c, head) in first.iter().enumerate() {
        let case = head.header[0].trim_start_matches("case ").to_string();
        for l in &head.header {
            out.push_str(l);
            out.push('\n');
        }
        let parts = parsed.iter().map(|(_, p)| &p[c]);
        if let Some(msg) = parts.clone().find_map(|p| match p.body {
            Body::Error(m) => Some(m),
            Body::Block { .. } => None,
        }) {
            out.push_str(&format!("error {msg}\nend\n"));
            computed = false;
            continue;
        }
        let n = count(&head.header).ok_or_else(|| Problem::Malformed {
            file: parsed[0].0.to_string(),
            line: 0,
            what: format!("case {case}: no `inputs N` line"),
        })?;
        // The pieces of every row, by their first column.
        let mut rows: Vec<Vec<(usize, usize, &str, &str)>> = vec![Vec::new(); n];
        for (p, (name, _)) in parts.zip(&parsed) {
            let Body::Block { at, nngp, ntk } = &p.body else {
                continue;
            };
            let (a, b, c0, d) = *at;
            if b > n || d > n {
                return Err(Problem::Inconsistent {
                    file: name.to_string(),
                    what: format!("case {case}: block {a} {b} {c0} {d} past N = {n}"),
                });
            }
            if c0 == d {
                continue;
            }
            for (i, (k, t)) in (a..b).zip(nngp.iter().zip(ntk)) {
                rows[i].push((c0, d, k, t));
            }
        }
        let mut nngp = String::new();
        let mut ntk = String::new();
        for (i, pieces) in rows.iter_mut().enumerate() {
            pieces.sort_by_key(|p| p.0);
            let mut at = 0;
            for (j, &(c0, d, k, t)) in pieces.iter().enumerate() {
                if c0 > at {
                    return Err(Problem::Missing {
                        case,
                        entry: (i, at),
                    });
                }
                if c0 < at {
                    return Err(Problem::Overlapping {
                        case,
                        entry: (i, c0),
                    });
                }
                if j > 0 {
                    nngp.push(' ');
                    ntk.push(' ');
                }
                nngp.push_str(k);
                ntk.push_str(t);
                at = d;
            }
            if at < n {
                return Err(Problem::Missing {
                    case,
                    entry: (i, at),
                });
            }
            nngp.push('\n');
            ntk.push('\n');
        }
        out.push_str("nngp\n");
        out.push_str(&nngp);
        out.push_str("ntk\n");
        out.push_str(&ntk);
        out.push_str("end\n");
    }
    Ok((out, computed))
}

fn main() -> ExitCode {
    let names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() || names.iter().any(|n| n.starts_with("--")) {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut files = Vec::new();
    for name in names {
        match std::fs::read_to_string(&name) {
            Ok(text) => files.push((name, text)),
            Err(e) => {
                eprintln!("assemble: cannot read {name}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    match assemble(&files) {
        Ok((text, computed)) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                eprintln!("assemble: {e}");
                return ExitCode::FAILURE;
            }
            if computed {
                ExitCode::SUCCESS
            } else {
                eprintln!("assemble: a case carries an error line");
                ExitCode::FAILURE
            }
        }
        Err(p) => {
            eprintln!("assemble: {p}");
            ExitCode::from(p.code())
        }
    }
}
