//! Infinite-width NNGP and NTK of every case of a reference file.
//!
//! ```text
//! cargo run --release --example kernel -- FILE [--f32]
//! ```
//!
//! Reads each case of FILE (format of `ntk::analytic::text`: `case`, `arch`,
//! `inputs` and the input rows; reference `nngp`/`ntk` blocks are ignored)
//! and prints it in the same format with this crate's `nngp` and `ntk`
//! matrices (`{:.17e}`), computed in f64, or in f32 with `--f32`. A case that
//! cannot be computed gets `error MESSAGE` in place of its matrices, and the
//! run goes on.

use std::io::Write;
use std::process::ExitCode;

use ntk::analytic::text;
use ntk::Real;

/// Layers an architecture may have in a file.
const CAPACITY: usize = 256;

fn run<T: Real>(file: &str) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let mut out = String::new();
    for case in text::cases(file) {
        let (n, d) = case.dims().unwrap_or((0, 0));
        let mut x = vec![T::ZERO; n * d];
        let mut k = vec![T::ZERO; n * n];
        let mut t = vec![T::ZERO; n * n];
        out.clear();
        // Writing into a String cannot fail.
        let _ = text::evaluate::<T, CAPACITY, _>(&case, &mut x, &mut k, &mut t, &mut out);
        stdout.write_all(out.as_bytes())?;
    }
    stdout.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let f32_mode = args.iter().any(|a| a == "--f32");
    let files: Vec<&String> = args.iter().filter(|a| a.as_str() != "--f32").collect();
    let [path] = files.as_slice() else {
        eprintln!("usage: kernel FILE [--f32]");
        return ExitCode::from(2);
    };
    let file = match std::fs::read_to_string(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kernel: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if f32_mode {
        run::<f32>(&file)
    } else {
        run::<f64>(&file)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kernel: {e}");
            ExitCode::FAILURE
        }
    }
}
