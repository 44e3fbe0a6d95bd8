//! Printing results and comparing them with the host's references; the end
//! of a program (stack figure, `PASS` or `FAIL`, exit through semihosting);
//! the panic and hard-fault handlers.

use core::panic::PanicInfo;

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::debug;
use ntk::Error;

use crate::out::Out;
use crate::stack;

/// The core the program was built for.
pub const CORE: &str = if cfg!(microbit) {
    "Cortex-M0"
} else {
    "Cortex-M4F"
};

/// Name of the `f32` math backend in use.
pub const BACKEND: &str = if cfg!(feature = "micromath") {
    "micromath"
} else {
    "libm"
};

/// Prints the time of a stage.
pub fn time(o: &mut Out, what: &str, ticks: u32) {
    o.str("time: ")
        .str(what)
        .str(" ")
        .uint(ticks)
        .str(" SysTick ticks (")
        .uint(crate::clock::MHZ)
        .str(" MHz core clock)")
        .nl();
}

/// Prints a matrix, one row per line (one instance for every shape).
pub fn matrix<const M: usize, const N: usize>(o: &mut Out, title: &str, m: &[[f32; N]; M]) {
    rows(o, title, m.as_flattened(), N);
}

/// Prints the row-major `values` with `cols` columns, one row per line.
#[inline(never)]
pub fn rows(o: &mut Out, title: &str, values: &[f32], cols: usize) {
    o.str(title)
        .str(" (")
        .uint((values.len() / cols) as u32)
        .str("x")
        .uint(cols as u32)
        .str("):")
        .nl();
    for row in values.chunks(cols) {
        for v in row {
            o.str(if *v < 0.0 { " " } else { "  " }).real(*v);
        }
        o.nl();
    }
}

/// Compares `got` with `want`: every `|got − want| ≤ tol · max |want|`.
/// Prints the largest error on success, the first mismatch otherwise.
pub fn check(o: &mut Out, what: &str, got: &[f32], want: &[f32], tol: f32) -> bool {
    let scale = want.iter().fold(0.0_f32, |m, w| m.max(w.abs()));
    let mut worst = 0.0_f32;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / scale;
        if err > tol || err.is_nan() {
            o.str("MISMATCH in ")
                .str(what)
                .str(" at entry ")
                .uint(i as u32)
                .nl();
            o.str("  device ")
                .real(g)
                .str(", host ")
                .real(w)
                .str(", |difference| / largest entry ")
                .real(err)
                .str(" > tolerance ")
                .real(tol)
                .nl();
            return false;
        }
        worst = worst.max(err);
    }
    o.str("ok ")
        .str(what)
        .str(": max |device - host| / largest entry = ")
        .real(worst)
        .str(" <= ")
        .real(tol)
        .nl();
    true
}

/// Reports a library error; always `false`.
pub fn error(o: &mut Out, what: &str, e: Error) -> bool {
    let detail = match e {
        Error::NonFinite { what } | Error::Overflow { what } | Error::InvalidArgument { what } => {
            what
        }
        Error::NotPositiveDefinite { .. } => "matrix not positive definite",
        Error::NoConvergence { .. } => "no convergence",
        Error::BufferTooSmall { .. } => "buffer too small",
        Error::Parse(_) => "parse error",
        _ => "unknown error",
    };
    o.str("ERROR in ").str(what).str(": ").str(detail).nl();
    false
}

/// Prints the stack high-water mark and the size of the statics, then
/// `PASS` or `FAIL`, and exits with the matching status.
pub fn finish(o: &mut Out, pass: bool) -> ! {
    o.str("stack high-water mark: ")
        .uint(stack::high_water_mark())
        .str(" bytes; statics (.data + .bss): ")
        .uint(stack::statics())
        .str(" bytes")
        .nl();
    o.str(if pass { "PASS" } else { "FAIL" }).nl();
    exit(pass)
}

/// Ends the program through semihosting: QEMU exits with status 0 on
/// success and 1 on failure.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Reached only without a debugger or emulator attached.
    loop {
        cortex_m::asm::wfi();
    }
}

/// Prints `PANIC` (with the source location in a debug build) and fails.
///
/// A release build does not read the panic's location: the handler is the
/// only reader of the `Location` records that every bounds check and
/// arithmetic check of the library passes to its panic path (16 B each in
/// `.rodata`, with their file names and the integer formatting of
/// `core::fmt`), and without it the linker drops them all: 5.4 KiB of the
/// CNN program's flash, 2.1 KiB of the MLP program's. A panic is a bug in
/// the library or the firmware, never a result of the data, and a debug
/// build (`cargo run --bin NAME`) names its place.
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    let mut o = Out::new();
    o.str("PANIC");
    if cfg!(debug_assertions) {
        if let Some(at) = info.location() {
            o.str(" at ").str(at.file()).str(":").uint(at.line());
        }
    }
    o.nl();
    exit(false)
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    Out::new().str("HARD FAULT").nl();
    exit(false)
}
