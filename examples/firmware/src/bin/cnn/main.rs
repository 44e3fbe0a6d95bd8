//! `ntk` on a Cortex-M4F: the CNN program.
//!
//! Computes, in `f32` on the device, the empirical NTK of a small 1-D CNN,
//! `Conv1d(3 → 4, Q = 3) → ReLU → Flatten → Dense(128 → 1)`, on 8 training
//! and 4 test windows of a synthetic 3-axis accelerometer (32 samples each),
//! the kernel regression it defines (Cholesky), the infinite-width kernels
//! of the same windows (the flatten-readout CNTK and its NNGP) and their
//! kernel regression, and compares every value with the `f64` references
//! that `build.rs` computed on the host by its own plain `f64` code
//! (`problem.rs` beside this file defines the problem for both). Prints the
//! results, the time of each stage, the stack high-water mark and `PASS` or
//! the first mismatch, then exits through semihosting with status 0 on
//! success and 1 otherwise.
//!
//! Run it under QEMU with `cargo run --release --bin cnn` (the runner is set
//! in `.cargo/config.toml`).

#![no_std]
#![no_main]

mod problem;

use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use ntk::analytic::Shape;
use ntk::empirical::structured;
use ntk::Error;
use ntk_firmware::out::Out;
use ntk_firmware::report::{check, error, finish, time, BACKEND};
use ntk_firmware::{clock, regression, stack};

use problem::{Cnn, D, N_TEST, N_TRAIN};

/// The host's `f64` results, rounded to `f32`.
mod reference {
    include!(concat!(env!("OUT_DIR"), "/cnn_reference.rs"));
}

/// Diagonal regulariser of the kernel regressions, relative to the mean
/// diagonal of the training kernel.
const RIDGE: f32 = problem::RIDGE as f32;

/// The input shape of the analytic kernels.
const SHAPE: Shape = Shape::Sequence {
    length: problem::L,
    channels: problem::C,
};

/// Largest errors allowed, relative to the largest entry of each compared
/// block: `|device − host| ≤ tol · max |host|`.
///
/// The reference is the `f64` result rounded to `f32` (relative error
/// 6·10⁻⁸, negligible here).
#[cfg(not(feature = "micromath"))]
mod tol {
    /// Empirical NTK. An entry is a dot product of two parameter gradients
    /// (169 parameters), each filter gradient a sum over 32 positions, all
    /// in `f32` (ε = 1.2·10⁻⁷) from weights drawn in `f32`: rounding errors
    /// of a few ε·√n, about 10⁻⁶ of the scale of the entries. `build.rs`
    /// guarantees that no ReLU sits so close to its kink that rounding could
    /// flip it, so 10⁻⁴ leaves two orders of magnitude of margin and still
    /// catches any real error (a wrong tap, padding or index moves entries
    /// by 10⁻² or more).
    pub const KERNEL: f32 = 1e-4;
    /// Analytic kernels: per position a dot product of 3 channels, the
    /// convolution's sum of 3, one arc-cosine map (a square root and an arc
    /// tangent), then the mean over 32 positions and the readout: errors of
    /// a few ε, so the same 10⁻⁴ holds with the same margin.
    pub const ANALYTIC: f32 = 1e-4;
    /// Predictions `Θ(x, X)·(Θ + εI)⁻¹·Y`: the kernel errors above (≲ 10⁻⁶)
    /// and the Cholesky rounding (≈ N·ε) amplified by the condition number κ
    /// of `Θ + εI`, which `build.rs` checks is at most 10³: κ·10⁻⁶ = 10⁻³.
    pub const PREDICTION: f32 = 1e-3;
}

/// Largest errors allowed under `micromath`, relative to the largest entry
/// of each compared block.
///
/// The weights are drawn by the polar method through `micromath`'s `ln`
/// (abs. error 6·10⁻⁵), so each moves by about 10⁻⁵ relative and the
/// empirical kernel with them: 10⁻³ leaves a wide margin. The analytic
/// kernels take only `sqrt` (refined to full precision) and the library's
/// own arc tangent, so the `libm` bound holds. Predictions inherit the
/// kernel error amplified by the condition number (≤ 10³): 10⁻².
#[cfg(feature = "micromath")]
mod tol {
    /// Empirical NTK.
    pub const KERNEL: f32 = 1e-3;
    /// Analytic kernels.
    pub const ANALYTIC: f32 = 1e-4;
    /// Predictions.
    pub const PREDICTION: f32 = 1e-2;
}

/// Elements of the scratch buffer the stages share: the structured NTK's
/// workspace, then the analytic kernels' one.
const SCRATCH: usize = if problem::WORKSPACE > problem::CNTK_WORKSPACE {
    problem::WORKSPACE
} else {
    problem::CNTK_WORKSPACE
};

/// Training and test windows together.
const N_ALL: usize = N_TRAIN + N_TEST;

/// The training windows, then the test windows, made at start from their
/// recipes (in RAM: 4.5 KiB that would otherwise sit in flash).
///
/// Each kernel is computed once as the Gram matrix of all 12 windows, and
/// its train × train and test × train blocks are read from it: the same
/// pairs (78 of them) as a train Gram matrix and a test × train cross
/// kernel (80), and one routine linked instead of two.
struct Windows {
    all: [[f32; D]; N_ALL],
}

/// The recipes of the training windows, then of the test windows.
const RECIPES: [problem::Window; N_ALL] = {
    let mut all = [problem::TRAIN[0]; N_ALL];
    let mut i = 0;
    while i < N_ALL {
        all[i] = if i < N_TRAIN {
            problem::TRAIN[i]
        } else {
            problem::TEST[i - N_TRAIN]
        };
        i += 1;
    }
    all
};

/// A kernel of all windows: the training windows, then the test windows.
type Gram = [[f32; N_ALL]; N_ALL];

/// Kernel regression with the kernel `g` of all windows (its train × train
/// and test × train blocks): the predictions of the test windows.
#[inline(never)]
fn fit(g: &Gram, y: &[[f32; 1]; N_TRAIN]) -> Result<[[f32; 1]; N_TEST], Error> {
    let mut train = [[0.0; N_TRAIN]; N_TRAIN];
    let mut test = [[0.0; N_TRAIN]; N_TEST];
    for (to, row) in train.iter_mut().chain(&mut test).zip(g) {
        to.copy_from_slice(&row[..N_TRAIN]);
    }
    regression(&train, &test, y, RIDGE)
}

/// Prints the train × train and test × train blocks of the kernel `g`, one
/// row per line.
#[inline(never)]
fn print(o: &mut Out, title: &str, g: &Gram) {
    o.str(title)
        .str(" (12x8; rows: 8 training, then 4 test windows; columns: training windows):")
        .nl();
    for row in g {
        for v in &row[..N_TRAIN] {
            o.str(if *v < 0.0 { " " } else { "  " }).real(*v);
        }
        o.nl();
    }
}

/// Where entry `(i, j)` of a kernel (`i` a row of all windows, `j` a
/// training window) sits among its [`problem::PACKED`] reference values.
fn packed_index(i: usize, j: usize) -> usize {
    if i >= N_TRAIN {
        N_TRAIN * (N_TRAIN + 1) / 2 + (i - N_TRAIN) * N_TRAIN + j
    } else if j <= i {
        i * (i + 1) / 2 + j
    } else {
        j * (j + 1) / 2 + i
    }
}

/// Checks every entry of the train × train and the test × train block of
/// the kernel `g` against the host's (`want`, packed: the train × train
/// block by its lower triangle), each block within `tol` of its own largest
/// entry.
#[inline(never)]
fn check_kernel(
    o: &mut Out,
    what: [&str; 2],
    g: &Gram,
    want: &[f32; problem::PACKED],
    tol: f32,
) -> bool {
    const TRAIN: usize = N_TRAIN * N_TRAIN;
    let mut got = [0.0; N_ALL * N_TRAIN];
    let mut host = [0.0; N_ALL * N_TRAIN];
    for i in 0..N_ALL {
        for j in 0..N_TRAIN {
            got[i * N_TRAIN + j] = g[i][j];
            host[i * N_TRAIN + j] = want[packed_index(i, j)];
        }
    }
    check(o, what[0], &got[..TRAIN], &host[..TRAIN], tol)
        && check(o, what[1], &got[TRAIN..], &host[TRAIN..], tol)
}

#[entry]
fn main() -> ! {
    stack::paint();
    let mut o = Out::new();
    if let Some(p) = cortex_m::Peripherals::take() {
        clock::start(p.SYST);
    }
    static mut WINDOWS: Windows = Windows {
        all: [[0.0; D]; N_ALL],
    };
    static mut SCRATCH_BUF: [f32; SCRATCH] = [0.0; SCRATCH];
    // SAFETY: `main` runs once and no interrupt handler touches these
    // statics: these are the only references to them.
    let (windows, scratch) =
        unsafe { (&mut *addr_of_mut!(WINDOWS), &mut *addr_of_mut!(SCRATCH_BUF)) };
    problem::windows(&RECIPES, &mut windows.all);
    let pass = run(&mut o, windows, scratch);
    finish(&mut o, pass)
}

/// Computes, prints and checks everything; `true` if every check passed.
///
/// Each stage is a function of its own that keeps its scratch (the network,
/// the Cholesky factor) in its own stack frame, gone before the next stage
/// starts; the two kernel stages share one static workspace.
#[inline(never)]
fn run(o: &mut Out, x: &Windows, scratch: &mut [f32]) -> bool {
    o.str("ntk on Cortex-M4F: 1-D CNN Conv1d(3->4, Q=3, SAME) ReLU Flatten Dense(128->1), NTK parameterization, seed ")
        .uint(problem::SEED as u32)
        .str(", f32, math backend ")
        .str(BACKEND)
        .nl();
    o.str(
        "data: 8 training and 4 test windows of a synthetic 3-axis accelerometer, 32 samples each",
    )
    .nl();
    let y = problem::targets::<f32>();

    // Finite width: the empirical NTK and the kernel regression it defines.
    let mut ntk = [[0.0; N_ALL]; N_ALL];
    let t0 = clock::now();
    let init = match empirical(x, scratch, &mut ntk) {
        Ok(ticks) => ticks,
        Err(e) => return error(o, "empirical NTK", e),
    };
    let t1 = clock::now();
    let pred = match fit(&ntk, &y) {
        Ok(p) => p,
        Err(e) => return error(o, "kernel regression, empirical NTK", e),
    };
    let t2 = clock::now();

    // Infinite width: the flatten-readout CNTK, its NNGP, the regression.
    let mut nngp = [[0.0; N_ALL]; N_ALL];
    let mut cntk = [[0.0; N_ALL]; N_ALL];
    if let Err(e) = analytic(x, scratch, &mut nngp, &mut cntk) {
        return error(o, "CNTK", e);
    }
    let t3 = clock::now();
    let apred = match fit(&cntk, &y) {
        Ok(p) => p,
        Err(e) => return error(o, "kernel regression, CNTK", e),
    };

    print(o, "empirical NTK", &ntk);
    print(o, "CNTK (infinite width)", &cntk);
    o.str("kernel regression (Cholesky, ridge 1e-3 x mean diagonal) on the test windows:")
        .nl();
    for (i, w) in problem::TEST.iter().enumerate() {
        o.str("  step ")
            .uint(w.step)
            .str("/32, amplitude ")
            .uint(w.amplitude.unsigned_abs())
            .str(" counts: target ")
            .real(problem::target(w))
            .str(", empirical NTK ")
            .real(pred[i][0])
            .str(", CNTK ")
            .real(apred[i][0])
            .nl();
    }
    time(o, "network initialisation", init);
    time(o, "empirical NTK", t1.wrapping_sub(t0).wrapping_sub(init));
    time(o, "Cholesky fit and prediction", t2.wrapping_sub(t1));
    time(o, "CNTK and NNGP", t3.wrapping_sub(t2));

    check_kernel(
        o,
        [
            "empirical NTK, train x train",
            "empirical NTK, test x train",
        ],
        &ntk,
        &reference::NTK,
        tol::KERNEL,
    ) && check(
        o,
        "prediction, empirical NTK",
        pred.as_flattened(),
        &reference::PREDICTION,
        tol::PREDICTION,
    ) && check_kernel(
        o,
        ["NNGP, train x train", "NNGP, test x train"],
        &nngp,
        &reference::NNGP,
        tol::ANALYTIC,
    ) && check_kernel(
        o,
        ["CNTK, train x train", "CNTK, test x train"],
        &cntk,
        &reference::CNTK,
        tol::ANALYTIC,
    ) && check(
        o,
        "prediction, CNTK",
        apred.as_flattened(),
        &reference::CNTK_PREDICTION,
        tol::PREDICTION,
    )
}

/// The empirical NTK `g` of the network on all windows, by the structured
/// method (the convolution contributes through its
/// position-summed gradient); returns the SysTick time the initialisation of
/// the network took.
#[inline(never)]
fn empirical(x: &Windows, ws: &mut [f32], g: &mut Gram) -> Result<u32, Error> {
    let ws = &mut ws[..problem::WORKSPACE];
    let t0 = clock::now();
    let net: Cnn<f32> = problem::network();
    let init = clock::now().wrapping_sub(t0);
    structured::ntk(&net, &x.all, ws, g)?;
    Ok(init)
}

/// The infinite-width NNGP `k` and NTK `t` of the same architecture on the
/// same windows, by the library's position-pair recursion in `ws`.
#[inline(never)]
fn analytic(x: &Windows, ws: &mut [f32], k: &mut Gram, t: &mut Gram) -> Result<(), Error> {
    let arch = problem::architecture::<f32>()?;
    arch.gram_grid(
        x.all.as_flattened(),
        SHAPE,
        ws,
        k.as_flattened_mut(),
        t.as_flattened_mut(),
    )
}
