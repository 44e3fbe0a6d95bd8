//! The error policy, as a catalogue: each bad input tried against each public
//! fallible function, with the exact error it gets and what it leaves in the
//! output; then the inputs that look bad but are valid (−0.0, zero vectors,
//! duplicate points, tiny and huge finite values), with the results they
//! must give.
//!
//! # What the library promises
//!
//! - Nothing panics on any input, and no `Ok` result holds NaN or ±∞.
//! - The error says what went wrong: [`Error::BufferTooSmall`] (a short
//!   buffer, `needed` and `given` in elements), [`Error::InvalidArgument`]
//!   (a scalar outside its domain, a buffer too long), [`Error::NonFinite`]
//!   (`what` names the argument: `"inputs"`, `"network parameters"`,
//!   `"matrix"`, `"targets"`, …), [`Error::Parse`] (kind, byte position and
//!   token), [`Error::NotPositiveDefinite`] (the failing pivot),
//!   [`Error::NoConvergence`] (the cap reached) and [`Error::Overflow`] (a NaN
//!   or ∞ arising from finite data). Size errors are reported first, even
//!   when the data are bad too.
//! - No output is left half-written. What a failed call leaves depends on
//!   the module, as documented there:
//!   - the empirical NTK (`empirical`) **zeroes** its output on every
//!     error;
//!   - the infinite-width kernels (`analytic`) **zero** both outputs on
//!     every error, argument errors included;
//!   - `linalg`, `predict` and `train::outputs` **zero** every output on
//!     every error;
//!   - `train::step` leaves the network as it was on every error: a bad
//!     learning rate is rejected first, and a step that would diverge
//!     (`Overflow`) is checked before it is made.
//! - A network's non-finite numbers are every parameter, σw, σb and a leaky
//!   ReLU's slope; NaN propagates through every activation, so an overflow
//!   inside the forward pass is reported, never hidden.
//! - −0.0, zero vectors, duplicate points, tiny (1e-300) and large but
//!   representable values are valid inputs with finite, correct results:
//!   duplicate points give bitwise identical rows.

mod common;

use common::rel_err;
use ntk::empirical::{jacobian, structured, JacobianModel};
use ntk::nn::{Dense, LeakyRelu, Module, Params, Relu};
use ntk::{Error, Real};

/// Where an overflow is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// In the kernel itself.
    Kernel,
}

/// The outcome a case must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Err(Error),
    Overflow(Stage),
}

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

const fn non_finite(what: &'static str) -> Expect {
    Expect::Err(Error::NonFinite { what })
}
const INPUTS: Expect = non_finite("inputs");
const PARAMETERS: Expect = non_finite("network parameters");

// ---------------------------------------------------------------------------
// The network every empirical case starts from: 2 → 3 → 2, a leaky ReLU (so
// that its slope can be corrupted), five training inputs (one batch of four
// and one more: both code paths) and two test inputs.
// ---------------------------------------------------------------------------

type Net<T> = (Dense<T, 2, 3>, LeakyRelu<T>, Dense<T, 3, 2>);
const N: usize = 5;
const M: usize = 2;
const K: usize = 2;
/// Parameters of [`Net`]: 2·3 + 3 + 3·2 + 2.
const P: usize = 17;

fn net<T: Real>() -> Net<T> {
    let c = T::from_f64;
    let mut l0 = Dense::<T, 2, 3>::zeros(c(1.5), c(0.1), ntk::nn::Parameterization::Ntk);
    l0.weight = [[c(1.0), c(-0.5)], [c(0.25), c(1.0)], [c(-1.0), c(0.5)]];
    l0.bias = [c(0.1), c(-0.2), c(0.3)];
    let mut l2 = Dense::<T, 3, 2>::zeros(c(1.0), c(0.5), ntk::nn::Parameterization::Ntk);
    l2.weight = [[c(0.5), c(-1.0), c(0.75)], [c(1.0), c(0.5), c(-0.25)]];
    l2.bias = [c(0.2), c(-0.1)];
    (l0, LeakyRelu { alpha: c(0.1) }, l2)
}

fn train<T: Real>() -> [[T; 2]; N] {
    [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 2.0], [0.3, -0.7]].map(|r| r.map(T::from_f64))
}

fn test<T: Real>() -> [[T; 2]; M] {
    [[0.5, -0.5], [2.0, 1.0]].map(|r| r.map(T::from_f64))
}

/// One corruption of the baseline network or inputs.
#[derive(Clone, Copy, Debug)]
enum Bad {
    /// Training input `i`, component `c`.
    Train(usize, usize, f64),
    /// Test input `i`, component `c`.
    Test(usize, usize, f64),
    /// First layer's weight `[o][i]`.
    Weight(usize, usize, f64),
    /// Second layer's bias `[o]`.
    Bias(usize, f64),
    /// First layer's σw.
    WeightStd(f64),
    /// Second layer's σb.
    BiasStd(f64),
    /// The leaky ReLU's slope.
    Slope(f64),
}

fn corrupt<T: Real>(bad: Bad) -> (Net<T>, [[T; 2]; N], [[T; 2]; M]) {
    let (mut n, mut xs, mut xt) = (net::<T>(), train::<T>(), test::<T>());
    let c = T::from_f64;
    match bad {
        Bad::Train(i, j, v) => xs[i][j] = c(v),
        Bad::Test(i, j, v) => xt[i][j] = c(v),
        Bad::Weight(o, i, v) => n.0.weight[o][i] = c(v),
        Bad::Bias(o, v) => n.2.bias[o] = c(v),
        Bad::WeightStd(v) => n.0.weight_std = c(v),
        Bad::BiasStd(v) => n.2.bias_std = c(v),
        Bad::Slope(v) => n.1.alpha = c(v),
    }
    (n, xs, xt)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Structured,
    Jacobian,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `ntk`: N×N, trace convention.
    Ntk,
    /// `ntk_blocks`: N×N×K×K.
    Blocks,
    /// `ntk_cross`: M×N between test and training inputs.
    Cross,
    /// `ntk_blocks_cross`: M×N×K×K.
    BlocksCross,
}

const FUNCTIONS: [(Method, Form); 8] = [
    (Method::Structured, Form::Ntk),
    (Method::Structured, Form::Blocks),
    (Method::Structured, Form::Cross),
    (Method::Structured, Form::BlocksCross),
    (Method::Jacobian, Form::Ntk),
    (Method::Jacobian, Form::Blocks),
    (Method::Jacobian, Form::Cross),
    (Method::Jacobian, Form::BlocksCross),
];

/// Written into outputs before a call.
const SENTINEL: f64 = 7.0;

fn workspace_needed<T: Real>(method: Method, form: Form) -> usize {
    let inputs = match form {
        Form::Ntk | Form::Blocks => N,
        Form::Cross | Form::BlocksCross => M + N,
    };
    match method {
        Method::Structured => structured::workspace_len::<T, Net<T>>(inputs, K),
        Method::Jacobian => jacobian::workspace_len::<T, [T; 2], Net<T>>(inputs),
    }
}

/// Calls one function with a workspace of `ws_len` elements (filled with
/// NaN: results must not depend on it) and returns its result and output.
fn call<T: Real>(
    method: Method,
    form: Form,
    (n, xs, xt): &(Net<T>, [[T; 2]; N], [[T; 2]; M]),
    ws_len: usize,
) -> (Result<(), Error>, Vec<f64>) {
    let mut ws = vec![T::NAN; ws_len];
    let s = T::from_f64(SENTINEL);
    macro_rules! go {
        ($out:expr, $f:ident, $($arg:expr),+; $flat:ident) => {{
            let mut out = $out;
            let r = match method {
                Method::Structured => structured::$f(n, $($arg,)+ &mut ws, &mut out),
                Method::Jacobian => jacobian::$f(n, $($arg,)+ &mut ws, &mut out),
            };
            (r, $flat(&out))
        }};
    }
    match form {
        Form::Ntk => go!([[s; N]; N], ntk, xs; flat2),
        Form::Blocks => go!([[[[s; K]; K]; N]; N], ntk_blocks, xs; flat4),
        Form::Cross => go!([[s; N]; M], ntk_cross, xt, xs; flat2),
        Form::BlocksCross => go!([[[[s; K]; K]; N]; M], ntk_blocks_cross, xt, xs; flat4),
    }
}

fn flat2<T: Real, const C: usize, const R: usize>(o: &[[T; C]; R]) -> Vec<f64> {
    o.as_flattened().iter().map(|v| v.to_f64()).collect()
}

fn flat4<T: Real, const C: usize, const R: usize>(o: &[[[[T; K]; K]; C]; R]) -> Vec<f64> {
    let f = o.as_flattened().as_flattened().as_flattened();
    f.iter().map(|v| v.to_f64()).collect()
}

/// Checks one call against its expected outcome; returns a line for the
/// failure report, if any.
fn judge(
    label: &str,
    method: Method,
    (r, out): (Result<(), Error>, Vec<f64>),
    expect: Expect,
) -> Option<String> {
    let zeroed = out.iter().all(|&v| v == 0.0);
    let ok = match expect {
        Expect::Ok => r.is_ok() && out.iter().all(|v| v.is_finite()),
        Expect::Err(e) => r == Err(e) && zeroed,
        Expect::Overflow(stage) => {
            let what = match (stage, method) {
                (Stage::Kernel, _) => "empirical NTK",
            };
            r == Err(Error::Overflow { what }) && zeroed
        }
    };
    (!ok).then(|| format!("{label}: expected {expect:?}, got {r:?}"))
}

/// Which scalar types a row applies to.
#[derive(Clone, Copy, Debug)]
enum Prec {
    Both,
    F64,
    F32,
}

/// One row of the empirical catalogue: a bad input, and the outcome of the
/// train×train forms (`ntk`, `ntk_blocks`) and of the test×train forms
/// (`ntk_cross`, `ntk_blocks_cross`), for both methods.
struct Row {
    input: &'static str,
    bad: Bad,
    prec: Prec,
    train: Expect,
    cross: Expect,
}

const fn row(input: &'static str, bad: Bad, prec: Prec, train: Expect, cross: Expect) -> Row {
    Row {
        input,
        bad,
        prec,
        train,
        cross,
    }
}

use Bad::*;
use Prec::{Both, F32, F64};

const OK: Expect = Expect::Ok;
const KERNEL: Expect = Expect::Overflow(Stage::Kernel);

/// The empirical NTK catalogue: bad input, corruption, scalar types,
/// outcome of `ntk`/`ntk_blocks`, outcome of `ntk_cross`/`ntk_blocks_cross`.
#[rustfmt::skip]
const EMPIRICAL: &[Row] = &[
    // Non-finite inputs: found first, output zeroed.
    row("NaN in a training input (batched)",   Train(0, 1, NAN),       Both, INPUTS,     INPUTS),
    row("NaN in a training input (the fifth)", Train(4, 0, NAN),       Both, INPUTS,     INPUTS),
    row("+∞ in a training input",              Train(2, 0, INF),       Both, INPUTS,     INPUTS),
    row("−∞ in a training input",              Train(3, 1, -INF),      Both, INPUTS,     INPUTS),
    row("NaN in a test input",                 Test(1, 0, NAN),        Both, OK,         INPUTS),
    row("−∞ in a test input",                  Test(0, 1, -INF),       Both, OK,         INPUTS),
    // A value beyond the f32 range is ∞ once in f32.
    row("3.5e38 in a training input",          Train(1, 0, 3.5e38),    F32,  INPUTS,     INPUTS),
    // Non-finite numbers of the network: parameters, scales, slope.
    row("NaN weight",                          Weight(1, 0, NAN),      Both, PARAMETERS, PARAMETERS),
    row("+∞ bias",                             Bias(1, INF),           Both, PARAMETERS, PARAMETERS),
    row("NaN σw",                              WeightStd(NAN),         Both, PARAMETERS, PARAMETERS),
    row("−∞ σb",                               BiasStd(-INF),          Both, PARAMETERS, PARAMETERS),
    row("NaN leaky-ReLU slope",                Slope(NAN),             Both, PARAMETERS, PARAMETERS),
    row("+∞ leaky-ReLU slope",                 Slope(INF),             Both, PARAMETERS, PARAMETERS),
    row("1e39 weight (∞ in f32)",              Weight(0, 0, 1e39),     F32,  PARAMETERS, PARAMETERS),
    // Finite data whose kernel is not representable: Overflow, output zeroed.
    // Θ(x, x) holds (ws·x)², beyond the range; Θ(test, x) does not, but the
    // range check both methods share refuses an input whose own diagonal is
    // not representable (the kernel's scale √(Θ(x,x)·Θ(x',x')) is not); a
    // weight of 1e300 makes activations of about 1e300, whose squares overflow.
    row("1e300 in a training input",           Train(0, 0, 1e300),     F64,  KERNEL,     KERNEL),
    row("1e30 in a training input",            Train(0, 0, 1e30),      F32,  KERNEL,     KERNEL),
    row("σw = 1e200",                          WeightStd(1e200),       F64,  KERNEL,     KERNEL),
    row("σw = 1e25",                           WeightStd(1e25),        F32,  KERNEL,     KERNEL),
    row("weight 1e300",                        Weight(2, 1, 1e300),    F64,  KERNEL,     KERNEL),
    // Finite data whose activations overflow: found by the same range check
    // on the per-input factors, output zeroed.
    row("f64::MAX in a training input",        Train(2, 0, f64::MAX),  F64,  KERNEL,     KERNEL),
    row("f32::MAX in a training input",        Train(2, 0, F32_MAX),   F32,  KERNEL,     KERNEL),
    row("weight f64::MAX",                     Weight(2, 1, f64::MAX), F64,  KERNEL,     KERNEL),
    // Finite and large, but representable: a finite kernel.
    row("1e100 in a test input",               Test(0, 0, 1e100),      F64,  OK,         OK),
    row("1e15 in a test input",                Test(0, 0, 1e15),       F32,  OK,         OK),
];

/// The largest `f32`, as `f64`.
const F32_MAX: f64 = f32::MAX as f64;

fn applies<T: Real>(p: Prec) -> bool {
    match p {
        Prec::Both => true,
        Prec::F64 => T::MANTISSA_DIGITS == 53,
        Prec::F32 => T::MANTISSA_DIGITS == 24,
    }
}

fn catalogue_for<T: Real>(failures: &mut Vec<String>) -> usize {
    let mut tried = 0;
    for r in EMPIRICAL.iter().filter(|r| applies::<T>(r.prec)) {
        let data = corrupt::<T>(r.bad);
        for (method, form) in FUNCTIONS {
            let expect = match form {
                Form::Ntk | Form::Blocks => r.train,
                Form::Cross | Form::BlocksCross => r.cross,
            };
            let label = format!(
                "{} / {method:?}::{form:?} / {}",
                r.input,
                core::any::type_name::<T>()
            );
            let needed = workspace_needed::<T>(method, form);
            failures.extend(judge(
                &label,
                method,
                call(method, form, &data, needed),
                expect,
            ));
            tried += 1;
        }
    }
    tried
}

#[test]
fn empirical_catalogue() {
    let mut failures = Vec::new();
    let tried = catalogue_for::<f64>(&mut failures) + catalogue_for::<f32>(&mut failures);
    let rows: usize = EMPIRICAL
        .iter()
        .map(|r| if matches!(r.prec, Both) { 2 } else { 1 })
        .sum();
    assert_eq!(tried, rows * FUNCTIONS.len());
    assert!(
        failures.is_empty(),
        "{} of {tried} calls:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn short_workspace_is_reported_first() {
    // One element short, with clean data and with NaN inputs: BufferTooSmall
    // either way, `needed` from `workspace_len`, output zeroed.
    let mut failures = Vec::new();
    for bad in [Weight(0, 0, 0.5), Train(0, 0, NAN), WeightStd(NAN)] {
        let data = corrupt::<f64>(bad);
        for (method, form) in FUNCTIONS {
            let needed = workspace_needed::<f64>(method, form);
            let expect = Expect::Err(Error::BufferTooSmall {
                needed,
                given: needed - 1,
            });
            let label = format!("short workspace, {bad:?} / {method:?}::{form:?}");
            failures.extend(judge(
                &label,
                method,
                call(method, form, &data, needed - 1),
                expect,
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The sizes themselves, as documented: a structured record holds
    // (2 + 1) + (3 + 1) activations and 2·(3 + 2) cotangents; a Jacobian
    // record K·P entries and 16 of padding.
    assert_eq!(
        workspace_needed::<f64>(Method::Structured, Form::Ntk),
        N * 17
    );
    assert_eq!(
        workspace_needed::<f64>(Method::Structured, Form::Cross),
        (M + N) * 17
    );
    assert_eq!(
        workspace_needed::<f32>(Method::Jacobian, Form::Ntk),
        N * (K * P + 16)
    );
    assert_eq!(
        workspace_needed::<f32>(Method::Jacobian, Form::BlocksCross),
        (M + N) * (K * P + 16)
    );
}

#[test]
fn nan_pre_activation_is_not_hidden_by_relu() {
    // W·x = 1e200·2e200 − 1e200·1e200 = ∞ − ∞ = NaN in the dot product,
    // though every number given is finite; ReLU used to turn the NaN into 0
    // and return a finite kernel.
    type Tiny = (Dense<f64, 2, 1>, Relu, Dense<f64, 1, 1>);
    let mut n: Tiny = (
        Dense::zeros(2f64.sqrt(), 0.0, ntk::nn::Parameterization::Ntk),
        Relu,
        Dense::zeros(1.0, 0.0, ntk::nn::Parameterization::Ntk),
    );
    n.0.weight = [[1e200, 1e200]];
    n.2.weight = [[1.0]];
    let xs = [[2e200, -1e200], [1.0, 1.0]];
    assert!(n.0.eval(&xs[0])[0].is_nan());
    // Both methods find it in the same range check on the layer factors, and
    // zero the output as for any numerical failure.
    let mut out = [[SENTINEL; 2]; 2];
    let mut ws = [0.0; 64];
    let refused = Err(Error::Overflow {
        what: "empirical NTK",
    });
    assert_eq!(structured::ntk(&n, &xs, &mut ws, &mut out), refused);
    assert_eq!(out, [[0.0; 2]; 2]);
    let mut out = [[SENTINEL; 2]; 2];
    let mut wj = [0.0; jacobian::workspace_len::<f64, [f64; 2], Tiny>(2)];
    assert_eq!(jacobian::ntk(&n, &xs, &mut wj, &mut out), refused);
    assert_eq!(out, [[0.0; 2]; 2]);
}

/// The flat parameter view and the Jacobian of one input.
#[test]
fn flat_buffers_and_jacobian_rows() {
    let n = net::<f64>();
    let x = [0.3, -0.2];
    let s = SENTINEL;
    type Case = (
        &'static str,
        fn(&Net<f64>, &[f64; 2], &mut Vec<f64>) -> Result<(), Error>,
        usize,
        Expect,
    );
    let cases: &[Case] = &[
        // write_flat: exactly P elements.
        (
            "write_flat, P − 1 elements",
            |n, _, o| n.write_flat(o),
            P - 1,
            Expect::Err(Error::BufferTooSmall {
                needed: P,
                given: P - 1,
            }),
        ),
        (
            "write_flat, P + 1 elements",
            |n, _, o| n.write_flat(o),
            P + 1,
            Expect::Err(Error::InvalidArgument {
                what: "flat parameter buffer longer than the network's parameter count",
            }),
        ),
        // jacobian: exactly K·P elements, then finite input and parameters.
        (
            "jacobian, K·P − 1 elements",
            |n, x, o| n.jacobian(x, o),
            K * P - 1,
            Expect::Err(Error::BufferTooSmall {
                needed: K * P,
                given: K * P - 1,
            }),
        ),
        (
            "jacobian, K·P + 1 elements",
            |n, x, o| n.jacobian(x, o),
            K * P + 1,
            Expect::Err(Error::InvalidArgument {
                what: "Jacobian buffer longer than OUTPUTS·PARAMS",
            }),
        ),
        (
            "jacobian, NaN input",
            |n, _, o| n.jacobian(&[NAN, 0.0], o),
            K * P,
            INPUTS,
        ),
        (
            "jacobian, −∞ input",
            |n, _, o| n.jacobian(&[0.0, -INF], o),
            K * P,
            INPUTS,
        ),
        (
            "jacobian, NaN σb",
            |n, x, o| {
                let mut m = n.clone();
                m.0.bias_std = NAN;
                m.jacobian(x, o)
            },
            K * P,
            PARAMETERS,
        ),
        (
            "jacobian, +∞ slope",
            |n, x, o| {
                let mut m = n.clone();
                m.1.alpha = INF;
                m.jacobian(x, o)
            },
            K * P,
            PARAMETERS,
        ),
    ];
    let mut failures = Vec::new();
    for (name, f, len, expect) in cases {
        let mut out = vec![s; *len];
        let r = f(&n, &x, &mut out);
        let fine = match expect {
            Expect::Err(e) => r == Err(*e) && out.iter().all(|&v| v == 0.0),
            _ => unreachable!(),
        };
        if !fine {
            failures.push(format!("{name}: expected {expect:?}, got {r:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // read_flat: all or nothing.
    let mut flat = [0.0; P];
    n.write_flat(&mut flat).unwrap();
    let reads: &[(&str, Vec<f64>, Error)] = &[
        (
            "read_flat, P − 1 elements",
            flat[..P - 1].to_vec(),
            Error::BufferTooSmall {
                needed: P,
                given: P - 1,
            },
        ),
        (
            "read_flat, P + 1 elements",
            [&flat[..], &[0.0]].concat(),
            Error::InvalidArgument {
                what: "flat parameter buffer longer than the network's parameter count",
            },
        ),
        (
            "read_flat, NaN",
            {
                let mut f = flat.to_vec();
                f[3] = NAN;
                f
            },
            Error::NonFinite {
                what: "flat parameters",
            },
        ),
        (
            "read_flat, −∞",
            {
                let mut f = flat.to_vec();
                f[P - 1] = -INF;
                f
            },
            Error::NonFinite {
                what: "flat parameters",
            },
        ),
    ];
    for (name, input, e) in reads {
        let mut m = net::<f64>();
        m.read_flat(&[1.0; P]).unwrap();
        let before = m.clone();
        assert_eq!(m.read_flat(input), Err(*e), "{name}");
        assert_eq!(m, before, "{name}: the network was changed");
    }
}

// ---------------------------------------------------------------------------
// Inputs that look bad and are not.
// ---------------------------------------------------------------------------

/// Every form and method on `data`, all `Ok`.
fn all_forms(data: &(Net<f64>, [[f64; 2]; N], [[f64; 2]; M])) -> Vec<Vec<f64>> {
    FUNCTIONS
        .iter()
        .map(|&(method, form)| {
            let (r, out) = call(method, form, data, workspace_needed::<f64>(method, form));
            assert_eq!(r, Ok(()), "{method:?}::{form:?}");
            assert!(out.iter().all(|v| v.is_finite()));
            out
        })
        .collect()
}

#[test]
fn negative_zero_is_zero() {
    let mut plus = (net::<f64>(), train::<f64>(), test::<f64>());
    plus.1[1] = [0.0, 0.0];
    plus.2[0] = [0.0, 1.0];
    let mut minus = plus.clone();
    minus.1[1] = [-0.0, -0.0];
    minus.2[0] = [-0.0, 1.0];
    minus.0 .0.bias[0] = -0.0;
    plus.0 .0.bias[0] = 0.0;
    for (a, b) in all_forms(&plus).iter().zip(all_forms(&minus).iter()) {
        assert_eq!(a, b, "−0.0 and +0.0 give different kernels");
    }
}

#[test]
fn zero_vectors_give_the_bias_kernel() {
    // At x = 0 the first layer sees only its bias: h = σb·b, and
    // Θ(0, 0) = mean_k [ |δ_k|²·σb₁² + (ws₂²·|φ(h)|² + σb₂²) ]
    // with δ_k = ws₂·W₂[k] ⊙ φ′(h).
    let mut data = (net::<f64>(), train::<f64>(), test::<f64>());
    data.1 = [[0.0; 2]; N];
    let n = &data.0;
    let (ws2, bs2) = n.2.scales();
    let bs1 = n.0.bias_std;
    let h: Vec<f64> = n.0.bias.iter().map(|b| bs1 * b).collect();
    let phi = |v: f64| if v > 0.0 { v } else { 0.1 * v };
    let dphi = |v: f64| if v > 0.0 { 1.0 } else { 0.1 };
    let a2: f64 = h.iter().map(|&v| phi(v) * phi(v)).sum();
    let expected = (0..K)
        .map(|k| {
            let d2: f64 = (0..3)
                .map(|o| (ws2 * n.2.weight[k][o] * dphi(h[o])).powi(2))
                .sum();
            d2 * bs1 * bs1 + ws2 * ws2 * a2 + bs2 * bs2
        })
        .sum::<f64>()
        / K as f64;
    let outs = all_forms(&data);
    for (&(method, form), out) in FUNCTIONS.iter().zip(&outs) {
        if form == Form::Ntk {
            for v in out {
                assert!(
                    (v - expected).abs() <= 1e-14 * expected,
                    "{method:?}: {v} vs {expected}"
                );
            }
            // all five rows are the same row, bitwise
            assert!(out.iter().all(|v| v.to_bits() == out[0].to_bits()));
        }
    }
}

#[test]
fn duplicate_points_give_identical_rows() {
    // The first and the fifth input (one in the batch of four, one after it)
    // and the second and third are equal.
    let mut data = (net::<f64>(), train::<f64>(), test::<f64>());
    data.1[4] = data.1[0];
    data.1[2] = data.1[1];
    data.2[1] = data.1[0];
    for (&(method, form), out) in FUNCTIONS.iter().zip(&all_forms(&data)) {
        let cell = match form {
            Form::Ntk | Form::Cross => 1,
            Form::Blocks | Form::BlocksCross => K * K,
        };
        let rows = out.len() / (N * cell);
        let at = |i: usize, j: usize| &out[(i * N + j) * cell..(i * N + j + 1) * cell];
        let same = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        for i in 0..rows {
            assert!(
                same(at(i, 0), at(i, 4)),
                "{method:?}::{form:?}: columns 0 and 4 differ"
            );
            assert!(
                same(at(i, 1), at(i, 2)),
                "{method:?}::{form:?}: columns 1 and 2 differ"
            );
        }
        if rows == N {
            for j in 0..N {
                assert!(
                    same(at(0, j), at(4, j)),
                    "{method:?}::{form:?}: rows 0 and 4 differ"
                );
                assert!(
                    same(at(1, j), at(2, j)),
                    "{method:?}::{form:?}: rows 1 and 2 differ"
                );
            }
        } else {
            // the test input equal to training input 0 has its row
            let train_form = if form == Form::Cross { 0 } else { 1 };
            let base = (if method == Method::Structured { 0 } else { 4 }) + train_form;
            let train_out = &all_forms(&data)[base];
            for j in 0..N {
                assert!(
                    same(at(1, j), &train_out[j * cell..(j + 1) * cell]),
                    "{method:?}::{form:?}"
                );
            }
        }
    }
}

#[test]
fn tiny_and_huge_finite_values_are_valid() {
    // 1e-300 is as good as 0 up to rounding; 1e30 in f64 is an ordinary
    // number; σ = 0 switches a layer's weights or biases off.
    let zero = {
        let mut d = (net::<f64>(), train::<f64>(), test::<f64>());
        d.1[3] = [0.0, 0.0];
        all_forms(&d)
    };
    let tiny = {
        let mut d = (net::<f64>(), train::<f64>(), test::<f64>());
        d.1[3] = [1e-300, -1e-300];
        all_forms(&d)
    };
    for (a, b) in zero.iter().zip(&tiny) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-15 * x.abs().max(1.0));
        }
    }
    let mut d = (net::<f64>(), train::<f64>(), test::<f64>());
    d.1[0] = [1e30, -1e30];
    all_forms(&d);
    let mut d = (net::<f64>(), train::<f64>(), test::<f64>());
    d.0 .0.weight_std = 0.0;
    d.0 .2.bias_std = 0.0;
    all_forms(&d);
}

// ---------------------------------------------------------------------------
// The rest of the library: one table per module. Each row runs one call on
// one bad (or valid-looking) input and returns its result and its outputs
// (filled with SENTINEL before the call).
// ---------------------------------------------------------------------------

#[cfg(feature = "error-bounds")]
use ntk::analytic::PRECISION_LIMIT;
use ntk::analytic::{Architecture, Layer};
use ntk::error::ParseErrorKind;
use ntk::linalg::{
    cholesky, cholesky_append, cholesky_solve, eigh, eigvalsh, is_positive_semidefinite,
    jacobi_eigh, log_det, matrix_function, min_eigenvalue, solve_lower, EigenOptions, Regularizer,
};
use ntk::predict::{max_learning_rate, posterior_variance, Factor, GradientDescentMse, Spectrum};

/// What a row's call left in its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    /// Every output finite (rows of calls without outputs use this).
    Finite,
    /// The outputs are all 0.
    Zeroed,
}

/// One row of a catalogue.
type Call = fn() -> (Result<(), Error>, Vec<f64>);

fn judge_rows(rows: &[(&str, Call, Result<(), Error>, Out)]) {
    let mut failures = Vec::new();
    for (name, call, expect, out) in rows {
        let (r, o) = call();
        let left = match out {
            Out::Finite => o.iter().all(|v| v.is_finite()),
            Out::Zeroed => o.iter().all(|&v| v == 0.0),
        };
        if r != *expect || !left {
            failures.push(format!(
                "{name}: expected {expect:?} with {out:?} outputs, got {r:?} and {o:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

fn flat<const C: usize>(m: &[[f64; C]]) -> Vec<f64> {
    m.as_flattened().to_vec()
}

const S: f64 = SENTINEL;

// ---- analytic ----

fn parse_err(text: &str) -> (ParseErrorKind, usize, String) {
    let e = Architecture::<f64>::parse(text).expect_err(text);
    (e.kind, e.position, e.token().to_string())
}

#[test]
fn malformed_specs() {
    use ParseErrorKind::*;
    #[rustfmt::skip]
    let rows: &[(&str, ParseErrorKind, usize, &str)] = &[
        // text                          kind           byte  token
        ("",                             Empty,         0,    ""),
        ("   \n\t",                      Empty,         0,    ""),
        ("rleu",                         UnknownLayer,  0,    "rleu"),
        ("dense(1,0) rleu",              UnknownLayer,  11,   "rleu"),
        ("Relu",                         UnknownLayer,  0,    "Relu"),
        ("dense(1,x)",                   BadNumber,     8,    "x"),
        ("dense(1,nan)",                 BadNumber,     8,    "nan"),
        ("dense(inf,0)",                 BadNumber,     6,    "inf"),
        ("dense(1e400,0)",               BadNumber,     6,    "1e400"),
        ("dense(-1,0)",                  OutOfRange,    6,    "-1"),
        ("dense(1,-0.5)",                OutOfRange,    8,    "-0.5"),
        ("leaky_relu(nan)",              BadNumber,     11,   "nan"),
        ("dense(1)",                     WrongArity,    0,    "dense(1)"),
        ("dense(1,0,0)",                 WrongArity,    0,    "dense(1,0,0)"),
        ("relu(1)",                      WrongArity,    0,    "relu(1)"),
        ("dense(1,0",                    Syntax,        0,    "dense(1,0"),
        ("dense(1,,0)",                  Syntax,        7,    ","),
        ("dense()",                      Syntax,        5,    "dense()"),
        ("relu)",                        Syntax,        4,    ")"),
        ("dense_std(1,0,0)",             OutOfRange,    14,   "0"),
        ("dense_std(1,0,1.5)",           BadNumber,     14,   "1.5"),
        ("dense_std(1,0,99999999999)",   OutOfRange,    14,   "99999999999"),
    ];
    let mut failures = Vec::new();
    for (text, kind, pos, token) in rows {
        let got = parse_err(text);
        if got != (*kind, *pos, token.to_string()) {
            failures.push(format!(
                "{text:?}: expected {kind:?} at {pos} `{token}`, got {got:?}"
            ));
        }
    }
    // More layers than the capacity: the first one too many is named.
    let e = Architecture::<f64, 2>::parse("relu erf gelu").unwrap_err();
    if (e.kind, e.position, e.token()) != (TooManyLayers, 9, "gelu") {
        failures.push(format!("capacity 2: {e:?}"));
    }
    // A number beyond the f32 range is not finite in f32.
    let e = Architecture::<f32>::parse("dense(1e39,0)").unwrap_err();
    if (e.kind, e.position, e.token()) != (BadNumber, 6, "1e39") {
        failures.push(format!("f32 1e39: {e:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_layers() {
    let err = |l: Layer<f64>| Architecture::<f64>::from_layers(&[Layer::Relu, l]).map(|_| ());
    let stds = Error::InvalidArgument {
        what: "dense: standard deviations must be ≥ 0",
    };
    let layer_nf = Error::NonFinite {
        what: "layer parameters",
    };
    #[rustfmt::skip]
    let rows: &[(&str, Layer<f64>, Result<(), Error>)] = &[
        ("dense(NaN, 0)",        Layer::dense(NAN, 0.0),                Err(layer_nf)),
        ("dense(1, +∞)",         Layer::dense(1.0, INF),                Err(layer_nf)),
        ("dense(−1, 0)",         Layer::dense(-1.0, 0.0),               Err(stds)),
        ("dense_std(1, 0, 0)",   Layer::dense_standard(1.0, 0.0, 0),
            Err(Error::InvalidArgument { what: "dense_std: the fan-in must be at least 1" })),
        ("leaky_relu(−∞)",       Layer::LeakyRelu { alpha: -INF },      Err(layer_nf)),
        ("abrelu(0, NaN)",       Layer::AbRelu { a: 0.0, b: NAN },      Err(layer_nf)),
        // Valid: −0.0 is a standard deviation of 0; any finite slope.
        ("dense(−0, −0)",        Layer::dense(-0.0, -0.0),              Ok(())),
        ("leaky_relu(−1e300)",   Layer::LeakyRelu { alpha: -1e300 },    Ok(())),
    ];
    for (name, l, expect) in rows {
        assert_eq!(err(*l), *expect, "{name}");
    }
    let mut a = Architecture::<f64, 1>::new();
    assert_eq!(a.push(Layer::Relu), Ok(()));
    assert_eq!(
        a.push(Layer::Erf),
        Err(Error::BufferTooSmall {
            needed: 2,
            given: 1
        })
    );
    assert_eq!(a.len(), 1);
}

fn gram64(arch: &str, x: [[f64; 2]; 3]) -> (Result<(), Error>, Vec<f64>) {
    let a = Architecture::<f64>::parse(arch).unwrap();
    let (mut k, mut t) = ([[S; 3]; 3], [[S; 3]; 3]);
    let r = a.gram(&x, &mut k, &mut t);
    (r, [flat(&k), flat(&t)].concat())
}

fn gram32(arch: &str, x: [[f32; 2]; 3]) -> (Result<(), Error>, Vec<f64>) {
    let a = Architecture::<f32>::parse(arch).unwrap();
    let s = S as f32;
    let (mut k, mut t) = ([[s; 3]; 3], [[s; 3]; 3]);
    let r = a.gram(&x, &mut k, &mut t);
    let o = k
        .as_flattened()
        .iter()
        .chain(t.as_flattened())
        .map(|&v| f64::from(v))
        .collect();
    (r, o)
}

const RELU: &str = "dense(1.5,0.1) relu dense(1.5,0.1)";
const X: [[f64; 2]; 3] = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]];

#[test]
fn analytic_kernels_catalogue() {
    let overflow = Error::Overflow { what: "kernel" };
    let tiny = Error::PrecisionLoss { what: "kernel" };
    #[rustfmt::skip]
    let rows: &[(&str, Call, Result<(), Error>, Out)] = &[
        ("gram, NaN input",          || gram64(RELU, [[NAN, 0.0], X[1], X[2]]), Err(INPUTS_E), Out::Zeroed),
        ("gram, +∞ input",           || gram64(RELU, [X[0], [0.0, INF], X[2]]), Err(INPUTS_E), Out::Zeroed),
        ("gram, −∞ input (f32)",     || gram32(RELU, [[1.0, 0.0], [0.0, 1.0], [f32::NEG_INFINITY, 0.0]]), Err(INPUTS_E), Out::Zeroed),
        // Σ⁰ = x·x/D overflows: the kernel is not representable.
        ("gram, 1e300 input",        || gram64(RELU, [[1e300, 1e300], X[1], X[2]]), Err(overflow), Out::Zeroed),
        ("gram, 1e30 input (f32)",   || gram32(RELU, [[1e30, 0.0], [0.0, 1.0], [0.6, 0.8]]), Err(overflow), Out::Zeroed),
        ("gram, f32::MAX input",     || gram32(RELU, [[f32::MAX, 0.0], [0.0, 1.0], [0.6, 0.8]]), Err(overflow), Out::Zeroed),
        ("gram, σw = 1e200",         || gram64("dense(1e200,0) relu dense(1e200,0)", X), Err(overflow), Out::Zeroed),
        ("gram, 30 layers of σw = 30 (f32)", || gram32(&"dense(30,0) relu ".repeat(15), [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]), Err(overflow), Out::Zeroed),
        // Valid inputs that look bad.
        ("gram, 1e100 input",        || gram64(RELU, [[1e100, 0.0], X[1], X[2]]), Ok(()), Out::Finite),
        ("gram, zero vectors",       || gram64(RELU, [[0.0; 2]; 3]), Ok(()), Out::Finite),
        ("gram, −0.0",               || gram64(RELU, [[-0.0, -0.0], X[1], X[2]]), Ok(()), Out::Finite),
        // A variance below MIN_POSITIVE/ε (here it underflows to 0) is refused.
        ("gram, 1e-300",             || gram64("dense(1,0) erf dense(1,0)", [[1e-300, 0.0], X[1], X[2]]), Err(tiny), Out::Zeroed),
        ("gram, 1e-140",             || gram64("dense(1,0) erf dense(1,0)", [[1e-140, 0.0], X[1], X[2]]), Ok(()), Out::Finite),
        ("gram, duplicates",         || gram64(RELU, [X[0], X[0], X[2]]), Ok(()), Out::Finite),
        // Variances of about 1e-42, subnormal in f32: refused, not approximated.
        ("gram, 3e-21 inputs (f32)", || gram32("relu", [[0.0, 3e-21], [3e-21, 3e-21], [3e-21, 0.0]]), Err(tiny), Out::Zeroed),
        ("gram, 3e-21 inputs, erf (f32)", || gram32("erf erf", [[0.0, 3e-21], [3e-21, 3e-21], [3e-21, 0.0]]), Err(tiny), Out::Zeroed),
        ("gram, 3e-15 inputs, erf (f32)", || gram32("erf erf", [[0.0, 3e-15], [3e-15, 3e-15], [3e-15, 0.0]]), Ok(()), Out::Finite),
    ];
    judge_rows(rows);
    #[cfg(feature = "quadrature")]
    {
        #[rustfmt::skip]
        let rows: &[(&str, Call, Result<(), Error>, Out)] = &[
            ("gram, 3e-21 inputs, erf tanh (f32)", || gram32("erf tanh", [[0.0, 3e-21], [3e-21, 3e-21], [3e-21, 0.0]]), Err(tiny), Out::Zeroed),
        ];
        judge_rows(rows);
    }

    // Size errors are found first; outputs zeroed.
    let a = Architecture::<f64>::parse(RELU).unwrap();
    let (mut k, mut t) = (vec![S; 4], vec![S; 4]);
    assert_eq!(
        a.gram_flat(&[1.0, 2.0, 3.0], 2, &mut k, &mut t),
        Err(Error::InvalidArgument {
            what: "the input length must be a nonzero multiple of the dimension"
        })
    );
    assert_eq!(
        a.gram_flat(&[1.0, 2.0, 3.0], 0, &mut k, &mut t),
        Err(Error::InvalidArgument {
            what: "the input length must be a nonzero multiple of the dimension"
        })
    );
    assert_eq!(
        a.gram_flat(&[1.0, 2.0, 3.0], 1, &mut k, &mut t),
        Err(Error::BufferTooSmall {
            needed: 9,
            given: 4
        })
    );
    assert!(k.iter().chain(&t).all(|&v| v == 0.0));
    assert_eq!(
        a.kernel(&[1.0, 2.0], &[1.0]),
        Err(Error::InvalidArgument {
            what: "the two inputs must have the same nonzero length"
        })
    );
    assert_eq!(
        a.kernel(&[], &[]),
        Err(Error::InvalidArgument {
            what: "the two inputs must have the same nonzero length"
        })
    );

    // Duplicates: identical rows, bitwise; −0.0 is 0.0; zero vectors give
    // the bias kernel exactly (Σ = σb² after the first layer).
    // (Also through sin at a variance of 1e120, where the kernel of two
    // different inputs underflows to 0 and a repeated input must still get
    // the diagonal entry.)
    for arch in [
        RELU,
        "dense(2,0.5) gelu abrelu(-1,2) dense(1e60,0) sin dense(1,0)",
    ] {
        let (r, d) = gram64(arch, [X[0], X[1], X[0]]);
        assert_eq!(r, Ok(()), "{arch}");
        for m in [&d[..9], &d[9..]] {
            for j in 0..3 {
                assert_eq!(
                    m[j].to_bits(),
                    m[6 + j].to_bits(),
                    "{arch}: duplicate rows differ"
                );
            }
        }
    }
    let (_, z) = gram64(RELU, [[0.0, 0.0], X[1], X[2]]);
    let (_, nz) = gram64(RELU, [[-0.0, -0.0], X[1], X[2]]);
    assert_eq!(z, nz, "−0.0 and 0.0 give different kernels");
    let (_, zz) = gram64("dense(1.5,0.1)", [[0.0; 2]; 3]);
    assert!(zz[..9].iter().all(|&v| v == 0.1 * 0.1), "{zz:?}");
}

const INPUTS_E: Error = Error::NonFinite { what: "inputs" };

// ---- linalg ----

const PD: [[f64; 3]; 3] = [[4.0, S, S], [2.0, 3.0, S], [0.5, 1.0, 2.0]];
const SINGULAR: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
const INDEFINITE: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]];

fn chol(k: [[f64; 3]; 3], reg: Regularizer<f64>) -> (Result<(), Error>, Vec<f64>) {
    let mut l = [[S; 3]; 3];
    let r = cholesky(&k, reg, &mut l);
    (r, flat(&l))
}

fn eig(k: [[f64; 3]; 3], opts: EigenOptions<f64>) -> (Result<(), Error>, Vec<f64>) {
    let (mut v, mut w) = ([S; 3], [[S; 3]; 3]);
    let r = eigh(&k, opts, &mut v, &mut w);
    (r, [v.to_vec(), flat(&w)].concat())
}

fn jac(k: [[f64; 3]; 3], opts: EigenOptions<f64>) -> (Result<(), Error>, Vec<f64>) {
    let (mut v, mut w, mut work) = ([S; 3], [[S; 3]; 3], [[0.0; 3]; 3]);
    let r = jacobi_eigh(&k, opts, &mut work, &mut v, &mut w);
    (r, [v.to_vec(), flat(&w)].concat())
}

fn with(mut k: [[f64; 3]; 3], i: usize, j: usize, v: f64) -> [[f64; 3]; 3] {
    k[i][j] = v;
    k
}

/// The default eigensolver options.
const DEF: EigenOptions<f64> = opts(f64::EPSILON, 64);

const fn opts(tolerance: f64, max_iterations: usize) -> EigenOptions<f64> {
    EigenOptions {
        tolerance,
        max_iterations,
    }
}

#[test]
fn linalg_catalogue() {
    let matrix = Error::NonFinite { what: "matrix" };
    let bad_reg = Error::InvalidArgument {
        what: "regulariser must be finite and non-negative",
    };
    let bad_tol = Error::InvalidArgument {
        what: "eigensolver tolerance must be finite and positive",
    };
    // The matrices of duplicate points are singular; the upper triangle is
    // never read (PD holds the sentinel there).
    #[rustfmt::skip]
    let rows: &[(&str, Call, Result<(), Error>, Out)] = &[
        ("cholesky, NaN in the lower triangle",  || chol(with(PD, 2, 1, NAN), Regularizer::None), Err(matrix), Out::Zeroed),
        ("cholesky, −∞ on the diagonal",         || chol(with(PD, 0, 0, -INF), Regularizer::None), Err(matrix), Out::Zeroed),
        ("cholesky, NaN above the diagonal",     || chol(with(PD, 0, 2, NAN), Regularizer::None), Ok(()), Out::Finite),
        ("cholesky, singular (duplicate points)", || chol(SINGULAR, Regularizer::None), Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("cholesky, singular + 1e-6 relative",   || chol(SINGULAR, Regularizer::Relative(1e-6)), Ok(()), Out::Finite),
        ("cholesky, indefinite",                 || chol(INDEFINITE, Regularizer::None), Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("cholesky, zero matrix",                || chol([[0.0; 3]; 3], Regularizer::None), Err(Error::NotPositiveDefinite { index: 0 }), Out::Zeroed),
        ("cholesky, zero matrix + 1 absolute",   || chol([[0.0; 3]; 3], Regularizer::Absolute(1.0)), Ok(()), Out::Finite),
        ("cholesky, −0.0 regulariser",           || chol(PD, Regularizer::Absolute(-0.0)), Ok(()), Out::Finite),
        ("cholesky, negative regulariser",       || chol(PD, Regularizer::Absolute(-1.0)), Err(bad_reg), Out::Zeroed),
        ("cholesky, NaN regulariser",            || chol(PD, Regularizer::Relative(NAN)), Err(bad_reg), Out::Zeroed),
        ("cholesky, relative f64::MAX",          || chol(PD, Regularizer::Relative(f64::MAX)), Err(Error::Overflow { what: "regulariser" }), Out::Zeroed),
        ("cholesky, 1e300 entries",              || chol([[1e300, 0.0, 0.0], [5e299, 1e300, 0.0], [0.0, 0.0, 1e300]], Regularizer::None), Ok(()), Out::Finite),
        ("eigh, NaN",                            || eig(with(PD, 1, 0, NAN), DEF), Err(matrix), Out::Zeroed),
        ("eigh, tolerance 0",                    || eig(PD, opts(0.0, 64)), Err(bad_tol), Out::Zeroed),
        ("eigh, tolerance NaN",                  || eig(PD, opts(NAN, 64)), Err(bad_tol), Out::Zeroed),
        ("eigh, no iterations",                  || eig(PD, opts(f64::EPSILON, 0)), Err(Error::InvalidArgument { what: "eigensolver iteration cap must be at least 1" }), Out::Zeroed),
        ("eigh, one iteration",                  || eig(PD, opts(f64::EPSILON, 1)), Err(Error::NoConvergence { iterations: 1 }), Out::Zeroed),
        ("eigh, eigenvalue beyond the range",    || eig([[f64::MAX, 0.0, 0.0], [f64::MAX, f64::MAX, 0.0], [0.0, 0.0, 1.0]], DEF), Err(Error::Overflow { what: "eigenvalues" }), Out::Zeroed),
        ("eigh, singular",                       || eig(SINGULAR, DEF), Ok(()), Out::Finite),
        ("eigh, indefinite",                     || eig(INDEFINITE, DEF), Ok(()), Out::Finite),
        ("eigh, subnormal entries",              || eig([[0.0; 3], [4e-317, 0.0, 0.0], [0.0, 0.0, 0.0]], DEF), Ok(()), Out::Finite),
        ("eigh, 1e300 entries",                  || eig([[-0.0625, 0.0, 0.0], [-1e300, 0.0, 0.0], [-1e300, 0.0, 0.0]], DEF), Ok(()), Out::Finite),
        ("eigh_jacobi, 1e300 entries",           || jac([[-0.0625, 0.0, 0.0], [-1e300, 0.0, 0.0], [-1e300, 0.0, 0.0]], DEF), Ok(()), Out::Finite),
        ("eigh_jacobi, NaN",                     || jac(with(PD, 2, 2, NAN), DEF), Err(matrix), Out::Zeroed),
        ("eigenvalues, +∞",                      || {
            let (mut v, mut w) = ([S; 3], [[0.0; 3]; 3]);
            let r = eigvalsh(&with(PD, 1, 1, INF), DEF, &mut w, &mut v);
            (r, v.to_vec())
        }, Err(matrix), Out::Zeroed),
        ("solve_lower, zero pivot",              || {
            let mut x = [S; 3];
            let r = solve_lower(&[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], &[1.0; 3], &mut x);
            (r, x.to_vec())
        }, Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("cholesky_solve, NaN right-hand side",  || {
            let mut x = [S; 3];
            let r = cholesky_solve(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &[1.0, NAN, 0.0], &mut x);
            (r, x.to_vec())
        }, Err(Error::NonFinite { what: "right-hand side" }), Out::Zeroed),
        ("apply_matrix_function, 2 rotations",   || {
            let (mut out, mut w, mut rot) = ([[S; 1]; 3], [[0.0; 3]; 3], [0.0; 2]);
            let r = matrix_function(&PD, DEF, |l| l, &[[1.0]; 3], &mut w, &mut rot, &mut out);
            (r, flat(&out))
        }, Err(Error::BufferTooSmall { needed: 3, given: 2 }), Out::Zeroed),
        ("apply_matrix_function, g = ∞",         || {
            let (mut out, mut w, mut rot) = ([[S; 1]; 3], [[0.0; 3]; 3], [0.0; 30]);
            let r = matrix_function(&PD, DEF, |_| INF, &[[1.0]; 3], &mut w, &mut rot, &mut out);
            (r, flat(&out))
        }, Err(Error::Overflow { what: "matrix function product" }), Out::Zeroed),
    ];
    judge_rows(rows);

    let mut work = [[0.0; 3]; 3];
    assert_eq!(
        is_positive_semidefinite(&PD, -1.0, &mut work),
        Err(Error::InvalidArgument {
            what: "tolerance must be finite and non-negative"
        })
    );
    assert_eq!(
        is_positive_semidefinite(&SINGULAR, 1e-12, &mut work),
        Ok(true)
    );
    assert_eq!(
        is_positive_semidefinite(&INDEFINITE, 1e-12, &mut work),
        Ok(false)
    );
    assert_eq!(
        min_eigenvalue::<f64, 0>(&[], &mut []),
        Err(Error::InvalidArgument {
            what: "matrix must not be empty"
        })
    );
    assert_eq!(
        log_det(&[[1.0, 0.0], [0.0, -1.0]]),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    // Online updates: a duplicate point is not positive definite; the factor
    // held is unchanged and the new row zero.
    let mut l = [[0.0; 3]; 3];
    cholesky_append(&mut l, 0, &[], 2.0).unwrap();
    let before = l;
    assert_eq!(
        cholesky_append(&mut l, 1, &[2.0], 2.0),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    assert_eq!(l, before);
    assert_eq!(
        cholesky_append(&mut l, 1, &[NAN], 2.0),
        Err(Error::NonFinite { what: "kernel row" })
    );
    assert_eq!(
        cholesky_append(&mut l, 1, &[1.0, 1.0], 2.0),
        Err(Error::InvalidArgument {
            what: "kernel row length must equal the number of points held"
        })
    );
    assert_eq!(
        cholesky_append(&mut l, 3, &[1.0; 3], 2.0),
        Err(Error::BufferTooSmall {
            needed: 4,
            given: 3
        })
    );
}

// ---- predict ----

const KT: [[f64; 3]; 3] = [[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [0.25, 0.0, 1.5]];
const KX: [[f64; 3]; 1] = [[0.5, 0.25, 0.0]];
const Y: [[f64; 1]; 3] = [[1.0], [-1.0], [0.5]];
const F0: [[f64; 1]; 3] = [[0.25], [0.0], [-0.5]];

fn spectrum(k: &[[f64; 3]; 3]) -> Spectrum<f64, 3> {
    let mut s = Spectrum::new();
    s.compute(k, Regularizer::None).unwrap();
    s
}

fn train_at(t: f64) -> (Result<(), Error>, Vec<f64>) {
    let gd = GradientDescentMse::new(&Y, 1.0)
        .unwrap()
        .with_initial_outputs(&F0)
        .unwrap();
    let mut out = [[S; 1]; 3];
    let r = gd.train_outputs(&spectrum(&KT), t, &mut out);
    (r, flat(&out))
}

fn test_at(kx: [[f64; 3]; 1], f0: [[f64; 1]; 1], t: f64) -> (Result<(), Error>, Vec<f64>) {
    let gd = GradientDescentMse::new(&Y, 1.0).unwrap();
    let mut out = [[S; 1]; 1];
    let r = gd.test_outputs(&spectrum(&KT), &kx, Some(&f0), t, &mut out);
    (r, flat(&out))
}

fn new_gd(y: [[f64; 1]; 3], lr: f64) -> (Result<(), Error>, Vec<f64>) {
    (GradientDescentMse::new(&y, lr).map(|_| ()), vec![])
}

#[test]
fn predict_catalogue() {
    let lr = Error::InvalidArgument {
        what: "learning rate must be finite and positive",
    };
    let time = Error::InvalidArgument {
        what: "time must be non-negative",
    };
    #[rustfmt::skip]
    let rows: &[(&str, Call, Result<(), Error>, Out)] = &[
        ("new, NaN target",                 || new_gd([[1.0], [NAN], [0.0]], 1.0), Err(Error::NonFinite { what: "targets" }), Out::Finite),
        ("new, NaN target and bad rate",    || new_gd([[INF], [0.0], [0.0]], -1.0), Err(Error::NonFinite { what: "targets" }), Out::Finite),
        ("new, learning rate 0",            || new_gd(Y, 0.0), Err(lr), Out::Finite),
        ("new, learning rate −0.0",         || new_gd(Y, -0.0), Err(lr), Out::Finite),
        ("new, learning rate NaN",          || new_gd(Y, NAN), Err(lr), Out::Finite),
        ("new, learning rate +∞",           || new_gd(Y, INF), Err(lr), Out::Finite),
        ("new, 1e300 targets",              || new_gd([[1e300]; 3], 1.0), Ok(()), Out::Finite),
        ("initial outputs, −∞",             || (GradientDescentMse::new(&Y, 1.0).unwrap().with_initial_outputs(&[[0.0], [-INF], [0.0]]).map(|_| ()), vec![]),
                                               Err(Error::NonFinite { what: "initial outputs" }), Out::Finite),
        ("regulariser, −1",                 || (GradientDescentMse::new(&Y, 1.0).unwrap().with_regularizer(Regularizer::Absolute(-1.0)).map(|_| ()), vec![]),
                                               Err(Error::InvalidArgument { what: "regulariser must be finite and non-negative" }), Out::Finite),
        ("train outputs, t = −1",           || train_at(-1.0), Err(time), Out::Zeroed),
        ("train outputs, t = NaN",          || train_at(NAN), Err(time), Out::Zeroed),
        ("train outputs, t = −0.0",         || train_at(-0.0), Ok(()), Out::Finite),
        ("train outputs, t = +∞",           || train_at(INF), Ok(()), Out::Finite),
        ("train outputs, t = 1e300",        || train_at(1e300), Ok(()), Out::Finite),
        ("test outputs, NaN kernel",        || test_at([[NAN, 0.0, 0.0]], [[0.0]], 1.0), Err(Error::NonFinite { what: "test-train kernel" }), Out::Zeroed),
        ("test outputs, ∞ initial output",  || test_at(KX, [[INF]], 1.0), Err(Error::NonFinite { what: "initial test outputs" }), Out::Zeroed),
        ("test outputs, 1e300 kernel",      || test_at([[1e300, 1e300, 0.0]], [[0.0]], 1.0), Ok(()), Out::Finite),
        ("steps, learning rate far beyond 2m/λ", || {
            let gd = GradientDescentMse::new(&Y, 1e6).unwrap();
            let mut out = [[S; 1]; 3];
            let r = gd.train_outputs_after_steps(&spectrum(&KT), 1000, &mut out);
            (r, flat(&out))
        }, Err(Error::Overflow { what: "train outputs" }), Out::Zeroed),
        ("factor, duplicate points",        || {
            let gd = GradientDescentMse::new(&Y, 1.0).unwrap();
            let mut f = Factor::new();
            let r = gd.factor(&[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &mut f);
            (r, flat(f.l()))
        }, Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("max_learning_rate, zero kernel",  || (max_learning_rate(&[[0.0; 3]; 3], 1, &mut [[0.0; 3]; 3]).map(|_| ()), vec![]),
                                               Err(Error::InvalidArgument { what: "kernel has no positive eigenvalue" }), Out::Finite),
        ("max_learning_rate, no outputs",   || (max_learning_rate(&KT, 0, &mut [[0.0; 3]; 3]).map(|_| ()), vec![]),
                                               Err(Error::InvalidArgument { what: "number of outputs must be at least 1" }), Out::Finite),
        ("posterior variance, NaN diagonal", || {
            let mut f = Factor::new();
            f.compute(&KT, Regularizer::None).unwrap();
            let mut v = [S; 1];
            let r = posterior_variance(&f, &KX, &[NAN], &mut v);
            (r, v.to_vec())
        }, Err(Error::NonFinite { what: "test kernel diagonal" }), Out::Zeroed),
    ];
    judge_rows(rows);

    // t = 0 and zero steps return f₀ exactly.
    let (_, f) = train_at(0.0);
    assert_eq!(f, flat(&F0));
    let (_, f) = test_at(KX, [[0.75]], 0.0);
    assert_eq!(f, vec![0.75]);
    // Duplicate training points: gradient flow is still defined (the
    // spectrum has a zero eigenvalue, which contributes nothing).
    let dup = [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let gd = GradientDescentMse::new(&[[1.0], [1.0], [0.0]], 1.0).unwrap();
    let mut out = [[S; 1]; 3];
    gd.train_outputs(&spectrum(&dup), INF, &mut out).unwrap();
    assert!(
        (out[0][0] - 1.0).abs() < 1e-12 && (out[1][0] - 1.0).abs() < 1e-12,
        "{out:?}"
    );
}

// ---- train ----

#[test]
fn train_catalogue() {
    use ntk::train::{mse_loss, ntk_drift, outputs, step};
    let n = net::<f64>();
    let xs = train::<f64>();
    let y = [[0.5, -0.5]; N];
    let mut bad_x = xs;
    bad_x[2][1] = NAN;
    assert_eq!(mse_loss(&n, &bad_x, &y), Err(INPUTS_E));
    let mut bad_y = y;
    bad_y[0][0] = INF;
    assert!(matches!(
        mse_loss(&n, &xs, &bad_y),
        Err(Error::NonFinite { .. })
    ));
    let mut out = [[S; K]; N];
    assert_eq!(outputs(&n, &bad_x, &mut out), Err(INPUTS_E));
    assert!(
        out.as_flattened().iter().all(|&v| v == 0.0),
        "outputs not zeroed"
    );
    let mut m = n.clone();
    let mut grad = n.clone();
    for lr in [0.0, -1.0, NAN, INF] {
        assert_eq!(
            step(&mut m, &xs, &y, lr, &mut grad),
            Err(Error::InvalidArgument {
                what: "learning rate must be finite and positive"
            }),
            "learning rate {lr}"
        );
        assert_eq!(m, n, "a rejected step changed the network");
    }
    // A step that diverges reports Overflow and leaves the network as it was
    // before that step.
    let mut m = n.clone();
    let mut before = m.clone();
    let r = (0..50).try_for_each(|_| {
        before = m.clone();
        step(&mut m, &xs, &y, 1e150, &mut grad).map(|_| ())
    });
    assert!(matches!(r, Err(Error::Overflow { .. })), "{r:?}");
    assert_eq!(m, before, "a diverging step changed the network");
    assert_eq!(
        ntk_drift(&[[0.0; 2]; 2], &[[1.0; 2]; 2]),
        Err(Error::InvalidArgument {
            what: "initial kernel is zero"
        })
    );
    assert!(matches!(
        ntk_drift(&[[1.0; 2]; 2], &[[NAN; 2]; 2]),
        Err(Error::NonFinite { .. })
    ));
}

// ---------------------------------------------------------------------------
// Precision: f32 against f64.
//
// The analytic kernels promise 1e-3 relative in f32 (largest difference over
// the largest entry) on the reference cases of `tests/data`. Beyond the
// range where f32 carries that accuracy the result must be a typed error or
// within a documented limit: overflow is reported (`Overflow`), and loss of
// precision (a correlation driven to ±1 by depth or a huge σw, where
// arc-sines and arc-cosines are ill-conditioned; sin kernels of huge
// variance, which cancel) by `PrecisionLoss`; see
// `f32_beyond_its_precision_is_not_garbage`.
// ---------------------------------------------------------------------------

const PUBLIC: &str = include_str!("data/analytic_public.txt");

/// The f64 and f32 Gram matrices (NNGP then NTK, row-major) of `arch` on
/// `x` (n inputs of dimension d), the f32 one read back as f64.
fn both_precisions(
    arch: &str,
    x: &[f64],
    d: usize,
) -> (Result<Vec<f64>, Error>, Result<Vec<f64>, Error>) {
    let n = x.len() / d;
    let a64 = Architecture::<f64, 64>::parse(arch).unwrap();
    let a32 = Architecture::<f32, 64>::parse(arch).unwrap();
    let (mut k, mut t) = (vec![0.0; n * n], vec![0.0; n * n]);
    let r64 = a64
        .gram_flat(x, d, &mut k, &mut t)
        .map(|()| [k, t].concat());
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let (mut k, mut t) = (vec![0.0_f32; n * n], vec![0.0_f32; n * n]);
    let r32 = a32
        .gram_flat(&x32, d, &mut k, &mut t)
        .map(|()| k.iter().chain(&t).map(|&v| f64::from(v)).collect());
    (r64, r32)
}

#[test]
fn f32_within_1e3_of_f64_on_the_reference_cases() {
    let mut worst = (0.0_f64, String::new());
    let mut count = 0;
    for case in ntk::analytic::text::cases(PUBLIC) {
        let (n, d) = case.dims().unwrap();
        let mut x = vec![0.0; n * d];
        case.read_inputs(&mut x).unwrap();
        let (r64, r32) = both_precisions(case.arch().unwrap(), &x, d);
        let (g64, g32) = (r64.unwrap(), r32.expect("f32 kernel of a reference case"));
        let (k, t) = (
            rel_err(&g32[..n * n], &g64[..n * n]),
            rel_err(&g32[n * n..], &g64[n * n..]),
        );
        assert!(
            k <= 1e-3 && t <= 1e-3,
            "{}: f32 NNGP {k:e}, NTK {t:e}",
            case.name()
        );
        if k.max(t) > worst.0 {
            worst = (k.max(t), case.name().to_string());
        }
        count += 1;
    }
    assert_eq!(count, 40);
    eprintln!(
        "largest f32 − f64 difference on the reference cases: {:.2e} ({})",
        worst.0, worst.1
    );
}

const STRESS_X: [f64; 12] = [
    1.0, 0.0, 0.5, 0.9, 0.1, 0.5, 0.0, 1.0, -1.0, 1.0, 0.0, 0.5001,
];

/// f32 within `bound` of f64, or f32 overflowing: the stress cases where
/// f32 still holds (the limits measured by this table).
#[test]
fn f32_stress_cases_within_their_bounds() {
    /// What f32 does with a stress case.
    enum Expect {
        /// Ok, within this of f64.
        Within(f64),
        /// Overflow.
        Overflows,
    }
    use Expect::*;
    #[rustfmt::skip]
    let rows: &[(String, Expect)] = &[
        ("dense(2,0) erf ".repeat(10),                               Within(1e-4)),
        ("dense(1.5,0.1) relu ".repeat(15),                          Within(1e-3)),
        ("dense(3,0.01) erf ".repeat(10),                            Within(1e-3)),
        ("dense(10,0) erf dense(10,0) erf dense(10,0)".into(),       Within(1e-4)),
        ("dense(100,0) gelu dense(100,0) gelu dense(100,0)".into(),  Within(1e-3)),
        ("dense(1e4,0) relu dense(1e4,0) relu dense(1e4,0)".into(),  Within(1e-3)),
        ("dense(1e8,0) relu dense(1e8,0) relu dense(1e8,0)".into(),  Overflows),
        ("dense(1e4,0) gelu dense(1e4,0) gelu dense(1e4,0)".into(),  Overflows),
    ];
    for (arch, expect) in rows {
        let (r64, r32) = both_precisions(arch, &STRESS_X, 3);
        let g64 = r64.unwrap_or_else(|e| panic!("{arch}: f64 {e:?}"));
        let within = |g32: Vec<f64>, b: f64| {
            let e = rel_err(&g32[..16], &g64[..16]).max(rel_err(&g32[16..], &g64[16..]));
            assert!(e <= b, "{arch}: f32 differs by {e:e} > {b:e}");
        };
        match (expect, r32) {
            (Within(b), Ok(g32)) => within(g32, *b),
            (Overflows, Err(e)) => assert_eq!(e, Error::Overflow { what: "kernel" }, "{arch}"),
            (_, r) => panic!("{arch}: unexpected {r:?}"),
        }
    }
}

/// Where f32 loses all its digits without overflowing (measured without the
/// bound: 4·10⁻³ for 30 layers of `dense(2,0) erf`, 0.78 for erf behind
/// σw = 10⁴, 6·10⁻² for sin behind σw = 100 on these inputs, which hold a
/// pair of nearly equal ones), the error bound refuses the result.
#[cfg(feature = "error-bounds")]
#[test]
fn f32_beyond_its_precision_is_not_garbage() {
    for (arch, refused) in [
        ("dense(2,0) erf ".repeat(30), false),
        (
            "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)".into(),
            true,
        ),
        (
            "dense(100,0) sin dense(100,0) sin dense(100,0)".into(),
            true,
        ),
    ] {
        let (r64, r32) = both_precisions(&arch, &STRESS_X, 3);
        let g64 = r64.unwrap();
        match r32 {
            Ok(g32) => {
                assert!(!refused, "{arch}: f32 accepted");
                let e = rel_err(&g32, &g64);
                assert!(
                    e <= PRECISION_LIMIT,
                    "{arch}: f32 returned Ok with a difference of {e:e}"
                );
            }
            Err(e) => assert_eq!(e, Error::PrecisionLoss { what: "kernel" }, "{arch}"),
        }
    }
    // The pair routine agrees, and the same network in f64 is fine.
    let a32: Architecture<f32> = "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)"
        .parse()
        .unwrap();
    let (x0, x3) = ([1.0_f32, 0.0, 0.5], [1.0_f32, 0.0, 0.5001]);
    assert_eq!(
        a32.kernel(&x0, &x3),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    assert!(a32.kernel(&x0, &x0).is_ok(), "a repeated input is exact");
    let a64: Architecture<f64> = "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)"
        .parse()
        .unwrap();
    assert!(a64.kernel(&[1.0, 0.0, 0.5], &[1.0, 0.0, 0.5001]).is_ok());
}

/// Without the `error-bounds` feature the kernels are returned unchecked.
#[cfg(not(feature = "error-bounds"))]
#[test]
fn without_error_bounds_kernels_are_unchecked() {
    let a32: Architecture<f32> = "dense(1e4,0) erf dense(1e4,0) erf dense(1e4,0)"
        .parse()
        .unwrap();
    assert!(a32.kernel(&[1.0, 0.0, 0.5], &[1.0, 0.0, 0.5001]).is_ok());
}

/// Ok in f32 means within the limit of f64: random architectures of up to
/// six nonlinear layers with σw from 0.5 to 300, inputs with nearly equal
/// and repeated pairs (rounded to f32 first: the bound is about the
/// computation, not about rounding the data). A refusal is always allowed;
/// an accepted kernel must be within the limit (200 000 cases also held
/// within half of it).
#[cfg(feature = "error-bounds")]
mod precision_properties {
    use super::*;
    use proptest::prelude::*;

    fn layer() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just("relu"),
                Just("abs"),
                Just("leaky_relu(0.1)"),
                Just("erf"),
                Just("gelu"),
                Just("sin"),
                Just("identity")
            ],
            -0.3..2.5_f64,
            0.0..0.5_f64,
        )
            .prop_map(|(act, lw, b)| format!("dense({},{}) {act}", 10f64.powf(lw), b))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("NTK_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        #[test]
        fn accepted_f32_kernels_are_accurate(
            layers in prop::collection::vec(layer(), 1..=6),
            x in prop::collection::vec(-1.0..1.0_f64, 9),
            eps in prop_oneof![Just(0.0), Just(1e-9), Just(1e-6), Just(1e-4)],
        ) {
            let arch = format!("{} dense(1,0)", layers.join(" "));
            // Four inputs of dimension 3: the last nearly equals the first.
            let mut xs = x.clone();
            xs.extend_from_slice(&[x[0] + eps, x[1], x[2] - eps]);
            // The same inputs in both precisions: the bound is about the
            // computation, not about rounding the data to f32.
            let xs: Vec<f64> = xs.iter().map(|&v| f64::from(v as f32)).collect();
            let (r64, r32) = both_precisions(&arch, &xs, 3);
            if let (Ok(g64), Ok(g32)) = (r64, r32) {
                let n = 4;
                let diag = |g: &[f64], i: usize| g[i * n + i].abs();
                for block in [0, n * n] {
                    for i in 0..n {
                        for j in 0..n {
                            let scale = (diag(&g64[block..], i) * diag(&g64[block..], j)).sqrt();
                            let e = (g32[block + i * n + j] - g64[block + i * n + j]).abs();
                            prop_assert!(
                                e <= PRECISION_LIMIT * scale + 1e-30,
                                "{arch}, eps {eps:e}: entry ({i},{j}) of block {block} off by {:e}",
                                e / scale
                            );
                        }
                    }
                }
            }
        }
    }
}
