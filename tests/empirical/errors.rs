//! The empirical NTK's error catalogue: each bad input against each form of
//! both methods, with the exact error and what it leaves in the output; the
//! flat parameter view and the Jacobian of one input; then the inputs that
//! look bad and are not. The policy is stated in `tests/common/catalogue.rs`.

use crate::common::catalogue::{net, test, train, Net, INF, K, M, N, NAN, P, SENTINEL};
use ntk::empirical::{jacobian, structured, JacobianModel};
use ntk::nn::{Dense, Module, Params, Relu};
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

const fn non_finite(what: &'static str) -> Expect {
    Expect::Err(Error::NonFinite { what })
}
const INPUTS: Expect = non_finite("inputs");
const PARAMETERS: Expect = non_finite("network parameters");

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
