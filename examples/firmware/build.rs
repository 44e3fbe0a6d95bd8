//! Puts `memory.x` on the linker's search path and computes the reference
//! values of the two programs on the host, in `f64`, written to
//! `$OUT_DIR/mlp_reference.rs` and `$OUT_DIR/cnn_reference.rs` for
//! `src/bin/mlp/main.rs` and `src/bin/cnn/main.rs` to `include!`:
//!
//! - the MLP's (`build/mlp.rs`) with the same library;
//! - the CNN's (`build/cnn.rs`) by plain `f64` code written for this file
//!   (explicit parameter gradients, its own CNTK recursion and Cholesky
//!   factorisation), independent of the library code the device runs.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

#[path = "build/cnn.rs"]
mod cnn;
#[path = "build/mlp.rs"]
mod mlp;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The linker script of cortex-m-rt includes `memory.x` and, with its
    // `device` feature, `device.x` from the search path. The interrupt
    // vectors of `src/vectors.rs` all point at `DefaultHandler`, which needs
    // no weak aliases: `device.x` is empty.
    // The Cortex-M0 build (`thumbv6m-none-eabi`) runs on the micro:bit, whose
    // memory map is `memory-microbit.x`; the others on the MPS2 board
    // (`memory-mps2.x`). Neither is named `memory.x`: the linker would find
    // that in the package's directory before the search path.
    let memory = match env::var("TARGET").as_deref() {
        Ok("thumbv6m-none-eabi") => "memory-microbit.x",
        _ => "memory-mps2.x",
    };
    fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    // `microbit`: the Cortex-M0 build, for the text the programs print.
    println!("cargo::rustc-check-cfg=cfg(microbit)");
    if memory == "memory-microbit.x" {
        println!("cargo:rustc-cfg=microbit");
    }
    fs::write(
        out.join("device.x"),
        "/* No interrupt handler aliases: see src/vectors.rs. */\n",
    )
    .expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    for path in [
        "memory-mps2.x",
        "memory-microbit.x",
        "build.rs",
        "build/mlp.rs",
        "build/cnn.rs",
        "src/bin/mlp/problem.rs",
        "src/bin/cnn/problem.rs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }

    fs::write(out.join("mlp_reference.rs"), mlp::reference()).expect("write mlp_reference.rs");
    fs::write(out.join("cnn_reference.rs"), cnn::reference()).expect("write cnn_reference.rs");
}

/// Writes `m` as a `pub const NAME: [[f32; N]; M]`, each value the `f64`
/// result rounded to the nearest `f32`.
fn matrix<const M: usize, const N: usize>(
    src: &mut String,
    doc: &str,
    name: &str,
    m: &[[f64; N]; M],
) {
    writeln!(src, "/// {doc}\npub const {name}: [[f32; {N}]; {M}] = [").unwrap();
    for row in m {
        src.push_str("    [");
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                src.push_str(", ");
            }
            write!(src, "{:e}", *v as f32).unwrap();
        }
        src.push_str("],\n");
    }
    src.push_str("];\n\n");
}

/// Writes the column `v` as a `pub const NAME: [f32; M]`.
fn vector<const M: usize>(src: &mut String, doc: &str, name: &str, v: &[[f64; 1]; M]) {
    writeln!(src, "/// {doc}\npub const {name}: [f32; {M}] = [").unwrap();
    for [x] in v {
        writeln!(src, "    {:e},", *x as f32).unwrap();
    }
    src.push_str("];\n\n");
}
