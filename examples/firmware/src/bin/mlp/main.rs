//! `ntk` on a Cortex-M4F or a Cortex-M0: the MLP program.
//!
//! Computes, in `f32` on the device, the empirical NTK of a 2-16-16-1 ReLU MLP
//! on 8 training and 4 test points, the kernel regression it defines
//! (Cholesky), the infinite-width ReLU NTK of the same points and its kernel
//! regression, and compares every value with the `f64` reference that
//! `build.rs` computed on the host with the same library (`problem.rs` beside
//! this file defines the problem for both). Prints the results, the time of each stage,
//! the stack high-water mark and `PASS` or the first mismatch, then exits
//! through semihosting with status 0 on success and 1 otherwise.
//!
//! Run it under QEMU with `cargo run --release --bin mlp` (the runner is set
//! in `.cargo/config.toml`), on the Cortex-M0 of a micro:bit with
//! `--target thumbv6m-none-eabi` (soft-float `f32`: the same IEEE
//! arithmetic, so the same results and tolerances).

#![no_std]
#![no_main]

mod problem;

use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use ntk::empirical::structured;
use ntk::Error;
use ntk_firmware::out::Out;
use ntk_firmware::report::{check, error, finish, matrix, time, BACKEND, CORE};
use ntk_firmware::{clock, regression, stack};

use problem::{Mlp, D, N_TEST, N_TRAIN};

/// The host's `f64` results, rounded to `f32`.
mod reference {
    include!(concat!(env!("OUT_DIR"), "/mlp_reference.rs"));
}

/// Diagonal regulariser of the kernel regressions, relative to the mean
/// diagonal of the training kernel.
const RIDGE: f32 = problem::RIDGE as f32;

/// Largest errors allowed, relative to the largest entry of each compared
/// block: `|device − host| ≤ tol · max |host|`.
///
/// The reference is the `f64` result rounded to `f32` (relative error
/// 6·10⁻⁸, negligible here).
#[cfg(not(feature = "micromath"))]
mod tol {
    /// Empirical NTK. An entry is a sum over layers of products of dot
    /// products of length ≤ 17, evaluated in `f32` (ε = 1.2·10⁻⁷) from
    /// weights drawn in `f32`: the rounding error is a few ε·n ≈ 10⁻⁶ of the
    /// scale of the entries. `build.rs` guarantees that no ReLU sits so close
    /// to its kink that rounding could flip it, so 10⁻⁴ leaves two orders of
    /// magnitude of margin and still catches any real error (a wrong layer,
    /// weight or index moves entries by 10⁻² or more).
    pub const KERNEL: f32 = 1e-4;
    /// Analytic NTK: five layers of the arc-cosine recursion in `f32`, a
    /// square root and an arc tangent per pair and ReLU (the diagonal by the
    /// exact map q ↦ q/2): errors of a few ε per layer, so the same 10⁻⁴
    /// holds with the same margin.
    pub const ANALYTIC: f32 = 1e-4;
    /// Predictions `Θ(x, X)·(Θ + εI)⁻¹·Y`: the kernel errors above (≲ 10⁻⁶)
    /// and the Cholesky rounding (≈ N·ε) are amplified by the condition
    /// number κ of `Θ + εI`, which `build.rs` checks is at most 10³ (it is
    /// about 90 and 55 for the two kernels): κ·10⁻⁶ = 10⁻³.
    pub const PREDICTION: f32 = 1e-3;
}

/// Largest errors allowed under `micromath`, relative to the largest entry
/// of each compared block.
///
/// Under `micromath` the library's `f32` `exp`, `ln`, `sin`, `cos` and
/// `atan2` are approximations (errors of 10⁻³ to 6·10⁻⁵, tabulated in the
/// library's `real` module); `sqrt` is refined to full precision. The weights
/// are drawn by the polar method through `ln` (abs. error 6·10⁻⁵), so each
/// weight moves by about 10⁻⁵ relative and the empirical kernel, a product
/// of three layers' factors, by 4·10⁻⁵ of its largest entry (measured): 10⁻³
/// leaves a 25× margin. The ReLU analytic kernel takes only `sqrt` and the
/// library's own arc tangent (measured 1.3·10⁻⁷), so the `libm` bound holds.
/// Predictions inherit the kernel error amplified by the condition number
/// (≤ 10³, checked by `build.rs`; measured 9·10⁻⁵): 10⁻².
#[cfg(feature = "micromath")]
mod tol {
    /// Empirical NTK.
    pub const KERNEL: f32 = 1e-3;
    /// Analytic NTK.
    pub const ANALYTIC: f32 = 1e-4;
    /// Predictions.
    pub const PREDICTION: f32 = 1e-2;
}

#[entry]
fn main() -> ! {
    stack::paint();
    let mut o = Out::new();
    if let Some(p) = cortex_m::Peripherals::take() {
        clock::start(p.SYST);
    }
    let pass = run(&mut o);
    finish(&mut o, pass)
}

/// Training and test points together.
const N_ALL: usize = N_TRAIN + N_TEST;

/// A kernel of all points: the training points, then the test points.
type Gram = [[f32; N_ALL]; N_ALL];

/// The training points.
const X_TRAIN: [[f32; D]; N_TRAIN] = problem::inputs_f32(&problem::X_TRAIN);

/// The training points, then the test points.
///
/// Each kernel is computed once as the Gram matrix of all 12 points, and
/// its train × train and test × train blocks are read from it: the same
/// pairs as a train Gram matrix and a test × train cross kernel, and one
/// routine linked instead of two.
const X_ALL: [[f32; D]; N_ALL] = {
    let (train, test) = (X_TRAIN, problem::inputs_f32(&problem::X_TEST));
    let mut all = [[0.0; D]; N_ALL];
    let mut i = 0;
    while i < N_ALL {
        all[i] = if i < N_TRAIN {
            train[i]
        } else {
            test[i - N_TRAIN]
        };
        i += 1;
    }
    all
};

/// Copies the train × train and test × train blocks of the kernel `g` of
/// all points into `train` and `test`.
#[inline(never)]
fn blocks(g: &Gram, train: &mut [[f32; N_TRAIN]; N_TRAIN], test: &mut [[f32; N_TRAIN]; N_TEST]) {
    for (to, row) in train.iter_mut().chain(test).zip(g) {
        to.copy_from_slice(&row[..N_TRAIN]);
    }
}

/// Computes, prints and checks everything; `true` if every check passed.
///
/// Each stage is a function of its own that keeps its scratch buffers (the
/// network, the Cholesky factor, the NNGP matrix) in its own stack frame,
/// so they are gone before the next stage starts; only the results live here.
#[inline(never)]
fn run(o: &mut Out) -> bool {
    o.str("ntk on ")
        .str(CORE)
        .str(": 2-16-16-1 ReLU MLP, NTK parameterization, seed ")
        .uint(problem::SEED as u32)
        .str(", f32, math backend ")
        .str(BACKEND)
        .nl();

    let x = X_ALL;
    let x_test = &x[N_TRAIN..];
    let y = problem::targets(&X_TRAIN);

    // Finite width: the empirical NTK and the kernel regression it defines.
    let mut ntk_train = [[0.0; N_TRAIN]; N_TRAIN];
    let mut ntk_test = [[0.0; N_TRAIN]; N_TEST];
    let t0 = clock::now();
    let init = match empirical(&x, &mut ntk_train, &mut ntk_test) {
        Ok(ticks) => ticks,
        Err(e) => return error(o, "empirical NTK", e),
    };
    let t1 = clock::now();
    let pred = match regression(&ntk_train, &ntk_test, &y, RIDGE) {
        Ok(p) => p,
        Err(e) => return error(o, "kernel regression, empirical NTK", e),
    };
    let t2 = clock::now();

    // Infinite width: the analytic NTK and its kernel regression.
    let mut antk_train = [[0.0; N_TRAIN]; N_TRAIN];
    let mut antk_test = [[0.0; N_TRAIN]; N_TEST];
    if let Err(e) = analytic(&x, &mut antk_train, &mut antk_test) {
        return error(o, "analytic NTK", e);
    }
    let t3 = clock::now();
    let apred = match regression(&antk_train, &antk_test, &y, RIDGE) {
        Ok(p) => p,
        Err(e) => return error(o, "kernel regression, analytic NTK", e),
    };

    matrix(o, "empirical NTK, train x train", &ntk_train);
    matrix(o, "empirical NTK, test x train", &ntk_test);
    matrix(
        o,
        "analytic NTK (infinite width), train x train",
        &antk_train,
    );
    matrix(o, "analytic NTK (infinite width), test x train", &antk_test);
    o.str("kernel regression (Cholesky, ridge 1e-3 x mean diagonal) on the test points:")
        .nl();
    for (i, x) in x_test.iter().enumerate() {
        o.str("  x = (")
            .real(x[0])
            .str(", ")
            .real(x[1])
            .str("): target ")
            .real(problem::target(x))
            .str(", empirical NTK ")
            .real(pred[i][0])
            .str(", analytic NTK ")
            .real(apred[i][0])
            .nl();
    }
    time(o, "network initialisation", init);
    time(o, "empirical NTK", t1.wrapping_sub(t0).wrapping_sub(init));
    time(o, "Cholesky fit and prediction", t2.wrapping_sub(t1));
    time(o, "analytic NTK", t3.wrapping_sub(t2));

    let [p, ap] = [pred, apred].map(|p| p.map(|[v]| v));
    check(
        o,
        "empirical NTK, train x train",
        ntk_train.as_flattened(),
        reference::NTK_TRAIN.as_flattened(),
        tol::KERNEL,
    ) && check(
        o,
        "empirical NTK, test x train",
        ntk_test.as_flattened(),
        reference::NTK_TEST.as_flattened(),
        tol::KERNEL,
    ) && check(
        o,
        "prediction, empirical NTK",
        &p,
        &reference::PREDICTION,
        tol::PREDICTION,
    ) && check(
        o,
        "analytic NTK, train x train",
        antk_train.as_flattened(),
        reference::ANALYTIC_TRAIN.as_flattened(),
        tol::ANALYTIC,
    ) && check(
        o,
        "analytic NTK, test x train",
        antk_test.as_flattened(),
        reference::ANALYTIC_TEST.as_flattened(),
        tol::ANALYTIC,
    ) && check(
        o,
        "prediction, analytic NTK",
        &ap,
        &reference::ANALYTIC_PREDICTION,
        tol::PREDICTION,
    )
}

/// The empirical NTK of the network on all points, by the structured
/// method, its train × train and test × train blocks into `train` and
/// `test`; returns the SysTick time the initialisation of the network took.
///
/// The workspace (one record of activations and cotangents per input, 3.4 KiB
/// here) is the largest buffer of the program: it lives in a `static`, in
/// `.bss`, where the linker accounts for it, rather than on the stack.
#[inline(never)]
fn empirical(
    x: &[[f32; D]; N_ALL],
    train: &mut [[f32; N_TRAIN]; N_TRAIN],
    test: &mut [[f32; N_TRAIN]; N_TEST],
) -> Result<u32, Error> {
    static mut WORKSPACE: [f32; problem::WORKSPACE] = [0.0; problem::WORKSPACE];
    // SAFETY: `empirical` runs once, from `main`, and no interrupt handler
    // touches the workspace: this is the only reference to it.
    let ws = unsafe { &mut *addr_of_mut!(WORKSPACE) };

    let t0 = clock::now();
    let net: Mlp<f32> = problem::network();
    let init = clock::now().wrapping_sub(t0);
    let mut g = [[0.0; N_ALL]; N_ALL];
    structured::ntk(&net, x, ws, &mut g)?;
    blocks(&g, train, test);
    Ok(init)
}

/// The infinite-width NTK of the same architecture on all points, its
/// train × train and test × train blocks into `train` and `test`.
#[inline(never)]
fn analytic(
    x: &[[f32; D]; N_ALL],
    train: &mut [[f32; N_TRAIN]; N_TRAIN],
    test: &mut [[f32; N_TRAIN]; N_TEST],
) -> Result<(), Error> {
    let arch = problem::architecture::<f32>()?;
    let (mut nngp, mut g) = ([[0.0; N_ALL]; N_ALL], [[0.0; N_ALL]; N_ALL]);
    arch.gram_piecewise_linear(x, &mut nngp, &mut g)?;
    blocks(&g, train, test);
    Ok(())
}
