//! The empirical NTK of a 3-5-2 network with arbitrary weights, scales,
//! activation and inputs, or of a convolutional network (the `Conv` arm,
//! properties at [`conv_arm`]; bound model `ntk_fuzz::conv_bounds`), or
//! of a recurrent one (the `Rnn` arm, properties at [`rnn_arm`]; bound model
//! `ntk_fuzz::conv_bounds::rnn_range_bound`), or of a small transformer-style
//! one (the `Attention` arm: self-attention, softmax or identity, alone, in
//! a residual block, with layer norm before or after, or summed with a
//! second branch; properties at [`attention_arm`]). The three sequence arms
//! share their checks (`ntk_fuzz::sequence_checks::check_methods`).
//!
//! Properties, for `f64` and `f32`, structured and Jacobian methods, plain,
//! block and cross forms:
//!
//! - the error is the documented one: `BufferTooSmall { needed, given }` for a
//!   short workspace, `NonFinite { what: "inputs" }` for a non-finite input,
//!   `NonFinite { what: "network parameters" }` for a non-finite weight, bias,
//!   scale or slope, `Overflow` for a NaN or ∞ arising from finite data
//!   (including a NaN pre-activation that an activation would hide);
//!   every error leaves the output zeroed;
//! - when every intermediate quantity of both methods stays below 1e300, both
//!   succeed;
//! - an `Ok` kernel is finite, bitwise symmetric (blocks: `[i][j][k][k']` ==
//!   `[j][i][k'][k]`), has a non-negative diagonal, is positive semidefinite
//!   within its rounding bound, equals the cross kernel of the inputs with
//!   themselves bitwise, gives value-equal inputs identical rows, and its
//!   trace form is the mean of the diagonal blocks;
//! - structured = Jacobian contraction within a rounding-error bound;
//! - `f32` against `f64`: whenever every value of the network and inputs,
//!   rounded to `f32`, is finite and at most 100 in magnitude, the `f32`
//!   kernel (both methods) succeeds and lies within a forward-error bound of
//!   the `f64` kernel of the same rounded network (the bound model is
//!   `ntk_fuzz::empirical_bounds`).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    Abs, Activation, AttentionMechanism, Conv1d, Dense, Erf, Gelu, GlobalAvgPool, Identity, Last,
    LayerNorm, LeakyRelu, Module, Padding, Parameterization, Params, Relu, Residual, Rnn,
    SelfAttention, Sin, Sum, Tanh, Unflatten, Zeroed,
};
use ntk::{Error, Real};
use ntk_fuzz::conv_bounds::{
    accepted, range_bound, rnn_range_bound, Layer, RnnLayer, SeqNet, WideNet, CM, CN, CP, SEQ_D,
    SEQ_K, WIDE_D,
};
use ntk_fuzz::empirical_bounds::{
    assert_psd, bounds, factors, status, to64, Bounds, Factors, Lip, Net, Scalar, Status, D, H, K,
    M, N, P,
};
use ntk_fuzz::sequence_checks::{check_methods, largest, Expect, SENTINEL};
use ntk_fuzz::{round_f32, Num, U32};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Act {
    Relu,
    LeakyRelu(Num),
    Abs,
    Erf,
    Gelu,
    Sin,
    Tanh,
    Identity,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct LayerSpec {
    weight_std: Num,
    bias_std: Num,
    standard: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    act: Act,
    layers: [LayerSpec; 2],
    params: [Num; P],
    train: [[Num; D]; N],
    test: [[Num; D]; M],
    /// Elements taken from the workspace of a first call.
    shortfall: u8,
    /// What the workspace holds before each call: results must not depend
    /// on it.
    workspace_fill: Num,
}

/// One case: the dense network (with its activation) or a convolutional one.
#[derive(Arbitrary, Debug)]
enum Case {
    Dense(Input),
    Conv(ConvInput),
    Rnn(RnnInput),
    Attention(AttentionInput),
}

/// The recurrent arm: a long sequence whose recurrent layer contributes
/// through its time-summed gradient, or a short wide one that is factored;
/// the last state or the mean over time read out.
#[derive(Arbitrary, Debug)]
struct RnnInput {
    factored: bool,
    gap: bool,
    /// σu of the recurrent layer (`layers[0]` gives σw, σb and the
    /// parameterisation, `layers[1]` the readout's).
    u_std: Num,
    layers: [LayerSpec; 2],
    params: [Num; RP],
    train: [[Num; RDL]; CN],
    test: [[Num; RDL]; CM],
    shortfall: u8,
}

/// The convolutional arm: a sequence network whose convolutions contribute
/// through their gradients, or a short one whose convolution is factored.
#[derive(Arbitrary, Debug)]
struct ConvInput {
    factored: bool,
    layers: [LayerSpec; 3],
    circular: [bool; 2],
    params: [Num; CP],
    train: [[Num; SEQ_D]; CN],
    test: [[Num; SEQ_D]; CM],
    shortfall: u8,
}

/// What one method produced: the train×train forms and the test×train forms
/// fail or succeed separately (a non-finite test input fails only the latter).
struct Outcome {
    train: Result<(), Error>,
    cross: Result<(), Error>,
    kernels: Kernels,
}

/// Kernels in `f64` (entries of failed forms are meaningless).
#[derive(Clone)]
struct Kernels {
    trace: [[f64; N]; N],
    blocks: [[[[f64; K]; K]; N]; N],
    cross: [[f64; N]; M],
    cross_blocks: [[[[f64; K]; K]; N]; M],
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Structured,
    Jacobian,
}

/// Checks what an error left in the output.
fn check_left<T: Real>(r: &Result<(), Error>, out: &[T], call: &str) {
    let Err(e) = r else { return };
    let zeroed = out.iter().all(|v| v.to_f64() == 0.0);
    assert!(zeroed, "{call}: {e:?} left {out:?}");
}

/// Runs every form of one method on `xs` (train) and `xt` (test), checking
/// the properties that hold whatever the scalar type.
fn run_method<T, Net>(
    net: &Net,
    xs: &[[T; D]; N],
    xt: &[[T; D]; M],
    method: Method,
    shortfall: usize,
    fill: f64,
) -> Outcome
where
    T: Scalar,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let s = T::from_f64(SENTINEL);
    let needed_n = match method {
        Method::Structured => structured::workspace_len::<T, Net>(N, K),
        Method::Jacobian => jacobian::workspace_len::<T, [T; D], Net>(N),
    };
    let mut ws = vec![T::from_f64(fill); 2 * needed_n.max(1) * (N + M)];
    let call = |ws: &mut [T], out: &mut [[T; N]; N]| match method {
        Method::Structured => structured::ntk(net, xs, ws, out),
        Method::Jacobian => jacobian::ntk(net, xs, ws, out),
    };

    // A short workspace is the first thing reported, whatever the data.
    if shortfall > 0 && needed_n > 0 {
        let given = needed_n.saturating_sub(shortfall);
        let mut out = [[s; N]; N];
        let r = call(&mut ws[..given], &mut out);
        assert_eq!(
            r,
            Err(Error::BufferTooSmall {
                needed: needed_n,
                given
            }),
            "{method:?}"
        );
        check_left(&r, out.as_flattened(), "short workspace");
    }

    let mut trace = [[s; N]; N];
    let r = call(&mut ws, &mut trace);
    check_left(&r, trace.as_flattened(), "ntk");

    ws.fill(T::from_f64(fill));
    let mut blocks = [[[[s; K]; K]; N]; N];
    let rb = match method {
        Method::Structured => structured::ntk_blocks(net, xs, &mut ws, &mut blocks),
        Method::Jacobian => jacobian::ntk_blocks(net, xs, &mut ws, &mut blocks),
    };
    let flat_b = blocks.as_flattened().as_flattened().as_flattened();
    check_left(&rb, flat_b, "ntk_blocks");

    ws.fill(T::from_f64(fill));
    let mut self_cross = [[s; N]; N];
    let rs = match method {
        Method::Structured => structured::ntk_cross(net, xs, xs, &mut ws, &mut self_cross),
        Method::Jacobian => jacobian::ntk_cross(net, xs, xs, &mut ws, &mut self_cross),
    };
    check_left(&rs, self_cross.as_flattened(), "ntk_cross(xs, xs)");

    ws.fill(T::from_f64(fill));
    let mut cross = [[s; N]; M];
    let rc = match method {
        Method::Structured => structured::ntk_cross(net, xt, xs, &mut ws, &mut cross),
        Method::Jacobian => jacobian::ntk_cross(net, xt, xs, &mut ws, &mut cross),
    };
    check_left(&rc, cross.as_flattened(), "ntk_cross");
    ws.fill(T::from_f64(fill));
    let mut cross_blocks = [[[[s; K]; K]; N]; M];
    let rcb = match method {
        Method::Structured => structured::ntk_blocks_cross(net, xt, xs, &mut ws, &mut cross_blocks),
        Method::Jacobian => jacobian::ntk_blocks_cross(net, xt, xs, &mut ws, &mut cross_blocks),
    };
    check_left(
        &rcb,
        cross_blocks.as_flattened().as_flattened().as_flattened(),
        "ntk_blocks_cross",
    );

    // The forms of one call share their checks: they fail alike, except that
    // one may overflow where another does not.
    for (other, name) in [(&rb, "blocks"), (&rs, "self cross")] {
        match (&r, other) {
            (Ok(()), Ok(())) => {}
            (Err(a), Err(b)) => assert!(
                a == b || matches!((a, b), (Error::Overflow { .. }, Error::Overflow { .. })),
                "{method:?}: ntk {a:?}, {name} {b:?}"
            ),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => assert!(
                matches!(e, Error::Overflow { .. } | Error::PrecisionLoss { .. }),
                "{method:?}: ntk {r:?}, {name} {other:?}"
            ),
        }
    }
    // The cross kernel of a set with itself is the same computation.
    assert_eq!(
        r.is_ok(),
        rs.is_ok(),
        "{method:?}: ntk {r:?}, self cross {rs:?}"
    );
    for (rr, name) in [(&rc, "cross"), (&rcb, "cross blocks")] {
        if let Err(e) = rr {
            let inputs_bad = xt.as_flattened().iter().any(|v| !v.is_finite());
            assert!(
                r.is_err()
                    || inputs_bad
                    || matches!(e, Error::Overflow { .. } | Error::PrecisionLoss { .. }),
                "{method:?}: ntk {r:?} but {name} {e:?}"
            );
        }
    }

    if r.is_ok() {
        for i in 0..N {
            assert!(
                trace[i][i] >= T::ZERO,
                "negative diagonal {:?}",
                trace[i][i]
            );
            for j in 0..N {
                assert!(trace[i][j].is_finite());
                assert_eq!(
                    trace[i][j].to_f64().to_bits(),
                    trace[j][i].to_f64().to_bits(),
                    "{method:?}: not bitwise symmetric at ({i}, {j})"
                );
                assert_eq!(
                    trace[i][j].to_f64().to_bits(),
                    self_cross[i][j].to_f64().to_bits(),
                    "{method:?}: cross(xs, xs) differs from ntk(xs) at ({i}, {j})"
                );
            }
        }
        // Value-equal inputs (−0.0 = 0.0 included) give equal rows.
        for a in 0..N {
            for b in 0..a {
                if xs[a] == xs[b] {
                    for j in 0..N {
                        assert!(
                            trace[a][j] == trace[b][j],
                            "{method:?}: equal inputs {a}, {b} give different rows"
                        );
                    }
                }
            }
        }
    }
    if rb.is_ok() {
        for i in 0..N {
            for j in 0..N {
                for k in 0..K {
                    if i == j {
                        assert!(blocks[i][i][k][k] >= T::ZERO);
                    }
                    for k2 in 0..K {
                        assert!(blocks[i][j][k][k2].is_finite());
                        assert_eq!(
                            blocks[i][j][k][k2].to_f64().to_bits(),
                            blocks[j][i][k2][k].to_f64().to_bits(),
                            "{method:?}: blocks not bitwise symmetric"
                        );
                    }
                }
            }
        }
    }
    if rc.is_ok() {
        assert!(cross.as_flattened().iter().all(|v| v.is_finite()));
    }
    if rcb.is_ok() {
        assert!(cross_blocks
            .as_flattened()
            .as_flattened()
            .as_flattened()
            .iter()
            .all(|v| v.is_finite()));
    }

    let first = |a: Result<(), Error>, b: Result<(), Error>| a.and(b);
    Outcome {
        train: first(first(r, rb), rs),
        cross: first(rc, rcb),
        kernels: Kernels {
            trace: trace.map(|row| to64(&row)),
            blocks: blocks.map(|row| row.map(|b| b.map(|r| to64(&r)))),
            cross: cross.map(|row| to64(&row)),
            cross_blocks: cross_blocks.map(|row| row.map(|b| b.map(|r| to64(&r)))),
        },
    }
}

fn assert_within(name: &str, got: &[f64], want: &[f64], bound: &[f64]) {
    for (i, ((g, w), b)) in got.iter().zip(want).zip(bound).enumerate() {
        assert!(
            (g - w).abs() <= *b,
            "{name}: entry {i}: {g:e} vs {w:e}, difference {:e} > bound {b:e}",
            (g - w).abs()
        );
    }
}

fn compare(name: &str, a: &Kernels, b: &Kernels, bd: &Bounds, with_cross: bool) {
    assert_within(
        &format!("{name} (trace)"),
        a.trace.as_flattened(),
        b.trace.as_flattened(),
        bd.trace.as_flattened(),
    );
    assert_within(
        &format!("{name} (blocks)"),
        a.blocks.as_flattened().as_flattened().as_flattened(),
        b.blocks.as_flattened().as_flattened().as_flattened(),
        bd.blocks.as_flattened().as_flattened().as_flattened(),
    );
    if !with_cross {
        return;
    }
    assert_within(
        &format!("{name} (cross)"),
        a.cross.as_flattened(),
        b.cross.as_flattened(),
        bd.cross.as_flattened(),
    );
    assert_within(
        &format!("{name} (cross blocks)"),
        a.cross_blocks.as_flattened().as_flattened().as_flattened(),
        b.cross_blocks.as_flattened().as_flattened().as_flattened(),
        bd.cross_blocks.as_flattened().as_flattened().as_flattened(),
    );
}

fn blocks_matrix(b: &[[[[f64; K]; K]; N]; N]) -> [[f64; N * K]; N * K] {
    core::array::from_fn(|r| core::array::from_fn(|c| b[r / K][c / K][r % K][c % K]))
}

/// The `f32` rounding of an `f64` network, and that rounding read back as
/// `f64`.
fn round_net<A64, A32>(
    net: &Net<f64, A64>,
    act32: A32,
    act32_as_64: A64,
) -> (Net<f32, A32>, Net<f64, A64>) {
    fn layer<const I: usize, const O: usize>(
        d: &Dense<f64, I, O>,
    ) -> (Dense<f32, I, O>, Dense<f64, I, O>) {
        let d32 = Dense {
            weight: d.weight.map(|r| r.map(|v| v as f32)),
            bias: d.bias.map(|v| v as f32),
            weight_std: d.weight_std as f32,
            bias_std: d.bias_std as f32,
            parameterization: d.parameterization,
        };
        let d64 = Dense {
            weight: d32.weight.map(|r| r.map(f64::from)),
            bias: d32.bias.map(f64::from),
            weight_std: f64::from(d32.weight_std),
            bias_std: f64::from(d32.bias_std),
            parameterization: d.parameterization,
        };
        (d32, d64)
    }
    let (l0, r0) = layer(&net.0);
    let (l2, r2) = layer(&net.2);
    ((l0, act32, l2), (r0, act32_as_64, r2))
}

/// One activation in both precisions: the `f64` one, the `f32` one, and the
/// `f32` one read back as `f64` (the reference for the `f32` kernel).
struct ActPair<A64, A32> {
    a64: A64,
    a32: A32,
    a32_as_64: A64,
    /// The slope of a leaky ReLU (0 otherwise), and its `f32` rounding.
    slope: f64,
    slope32: f64,
    lip: Lip,
    lip32: Lip,
}

fn check<A64, A32>(input: &Input, acts: ActPair<A64, A32>)
where
    A64: Activation<f64>
        + Module<f64, [f64; H], Output = [f64; H]>
        + Params<f64>
        + Clone
        + PartialEq
        + core::fmt::Debug,
    A32: Activation<f32> + Module<f32, [f32; H], Output = [f32; H]> + Params<f32> + Clone,
{
    let spec = |s: &LayerSpec| {
        (
            s.weight_std.get(),
            s.bias_std.get(),
            if s.standard {
                Parameterization::Standard
            } else {
                Parameterization::Ntk
            },
        )
    };
    let (w0, b0, p0) = spec(&input.layers[0]);
    let (w1, b1, p1) = spec(&input.layers[1]);
    let mut net: Net<f64, A64> = (
        Dense::zeros(w0, b0, p0),
        acts.a64.clone(),
        Dense::zeros(w1, b1, p1),
    );
    let flat = input.params.map(Num::get);

    // read_flat: all or nothing.
    let before = net.clone();
    let rf = net.read_flat(&flat);
    if flat.iter().all(|v| v.is_finite()) {
        assert_eq!(rf, Ok(()));
        let mut back = [0.0; P];
        assert_eq!(net.write_flat(&mut back), Ok(()));
        assert!(back
            .iter()
            .zip(&flat)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    } else {
        assert_eq!(
            rf,
            Err(Error::NonFinite {
                what: "flat parameters"
            })
        );
        // Untouched (compared by their printed form: NaN scales are equal there).
        assert_eq!(format!("{net:?}"), format!("{before:?}"));
        // Non-finite parameters are still reachable through the public fields.
        let mut at = 0;
        net.visit_mut(&mut |s| {
            s.copy_from_slice(&flat[at..at + s.len()]);
            at += s.len();
        });
    }
    let xs: [[f64; D]; N] = input.train.map(|r| r.map(Num::get));
    let xt: [[f64; D]; M] = input.test.map(|r| r.map(Num::get));
    let shortfall = usize::from(input.shortfall % 8);
    let fill = input.workspace_fill.get();

    let params_finite =
        net.is_finite() && [w0, b0, w1, b1, acts.slope].iter().all(|v| v.is_finite());
    check_precision(&net, params_finite, acts.lip, &xs, &xt, shortfall, fill);

    let (net32, reference) = round_net(&net, acts.a32, acts.a32_as_64);
    let params32_finite = net32.is_finite()
        && [w0, b0, w1, b1, acts.slope32]
            .iter()
            .all(|v| (*v as f32).is_finite());
    let xs32: [[f32; D]; N] = xs.map(|r| r.map(|v| v as f32));
    let xt32: [[f32; D]; M] = xt.map(|r| r.map(|v| v as f32));
    let xs_r = xs.map(|r| r.map(round_f32));
    let xt_r = xt.map(|r| r.map(round_f32));
    let (s32, j32) = check_precision(
        &net32,
        params32_finite,
        acts.lip32,
        &xs32,
        &xt32,
        shortfall,
        fill,
    );

    // f32 against the f64 kernel of the same rounded network, when every
    // rounded value is moderate.
    let mut values = [0.0; P];
    assert_eq!(reference.write_flat(&mut values), Ok(()));
    let scales = [
        reference.0.weight_std,
        reference.0.bias_std,
        reference.2.weight_std,
        reference.2.bias_std,
        acts.slope32,
    ];
    let moderate = values
        .iter()
        .chain(xs_r.as_flattened())
        .chain(xt_r.as_flattened())
        .chain(&scales)
        .all(|v| v.is_finite() && v.abs() <= 100.0);
    if !moderate {
        return;
    }
    let eta = <f32 as Scalar>::ETA;
    let train: [Factors; N] =
        core::array::from_fn(|i| factors(&reference, acts.lip32, &xs_r[i], U32, eta));
    let test: [Factors; M] =
        core::array::from_fn(|i| factors(&reference, acts.lip32, &xt_r[i], U32, eta));
    // Small values can still make a diagonal that the range check refuses
    // in f32 (nonzero and below MIN_POSITIVE/ε).
    let floor = 16.0 * f64::from(f32::MIN_POSITIVE) / f64::from(f32::EPSILON);
    if train.iter().chain(&test).any(|f| f.smallest_diag < floor) {
        return;
    }
    assert!(
        s32.train.is_ok() && s32.cross.is_ok(),
        "f32 structured failed on a moderate network: {:?} {:?}",
        s32.train,
        s32.cross
    );
    assert!(
        j32.train.is_ok() && j32.cross.is_ok(),
        "f32 Jacobian failed on a moderate network: {:?} {:?}",
        j32.train,
        j32.cross
    );
    let r64 = run_method(&reference, &xs_r, &xt_r, Method::Structured, 0, 0.0);
    assert!(
        r64.train.is_ok() && r64.cross.is_ok(),
        "f64 kernel of a moderate network failed"
    );
    let bd = bounds(&train, &test, U32, eta);
    compare(
        "structured f32 vs f64",
        &s32.kernels,
        &r64.kernels,
        &bd,
        true,
    );
    compare("jacobian f32 vs f64", &j32.kernels, &r64.kernels, &bd, true);
}

/// Both methods in one precision: the documented errors, and for `Ok`
/// results the agreement of the methods and the Gram properties.
fn check_precision<T, A>(
    net: &Net<T, A>,
    params_finite: bool,
    lip: Lip,
    xs: &[[T; D]; N],
    xt: &[[T; D]; M],
    shortfall: usize,
    fill: f64,
) -> (Outcome, Outcome)
where
    T: Scalar,
    A: Activation<T> + Module<T, [T; H], Output = [T; H]> + Params<T> + Clone,
{
    let s = run_method(net, xs, xt, Method::Structured, shortfall, fill);
    let j = run_method(net, xs, xt, Method::Jacobian, shortfall, fill);
    let name = core::any::type_name::<T>();

    let train = status(net, lip, xs);
    let test = status(net, lip, xt);
    for (o, m) in [(&s, "structured"), (&j, "jacobian")] {
        // The documented order of checks: inputs, then parameters.
        let early = |set: &Status| {
            if !set.finite {
                Some(Error::NonFinite { what: "inputs" })
            } else if !params_finite {
                Some(Error::NonFinite {
                    what: "network parameters",
                })
            } else {
                None
            }
        };
        // The structured method checks every input, then the parameters;
        // the Jacobian method meets them input by input.
        let both = |r: &Result<(), Error>, e: Error| {
            let params = Err(Error::NonFinite {
                what: "network parameters",
            });
            *r == Err(e) || (m == "jacobian" && !params_finite && *r == params)
        };
        if let Some(e) = early(&train) {
            assert!(
                both(&o.train, e),
                "{m} {name}: {:?}, expected {e:?}",
                o.train
            );
        }
        let both_sets = Status {
            finite: train.finite && test.finite,
            hidden_nan: false,
            moderate: false,
        };
        if let Some(e) = early(&both_sets) {
            assert!(
                both(&o.cross, e),
                "{m} {name} cross: {:?}, expected {e:?}",
                o.cross
            );
        }
        if !(train.finite && params_finite) {
            continue;
        }
        if train.hidden_nan {
            assert!(
                matches!(o.train, Err(Error::Overflow { .. })),
                "{m} {name}: a NaN pre-activation from finite data gave {:?}",
                o.train
            );
        }
        if (train.hidden_nan || test.hidden_nan) && test.finite {
            assert!(
                matches!(o.cross, Err(Error::Overflow { .. })),
                "{m} {name}: a NaN pre-activation from finite data gave {:?} (cross)",
                o.cross
            );
        }
        if train.moderate {
            assert_eq!(o.train, Ok(()), "{m} {name} failed on moderate data");
            if test.moderate {
                assert_eq!(
                    o.cross,
                    Ok(()),
                    "{m} {name} failed on moderate data (cross)"
                );
            }
        }
    }
    if s.train.is_err() || j.train.is_err() || !train.moderate {
        return (s, j);
    }
    // Same factors, different roundings: the structured method rounds
    // `ws·a` once, the Jacobian method `(δ·ws)·a` twice, and their dot
    // products sum in different orders.
    let rounded = |f: Factors| -> Factors {
        let mut f = f;
        f.da0 = f.a0.map(|v| 2.0 * T::U * v + T::ETA);
        f.da1 = f.a1.map(|v| 2.0 * T::U * v + T::ETA);
        f.dd0 =
            f.d0.map(|r| r.map(|v| 2.0 * T::U * v + T::ETA + f.underflow(T::ETA)));
        f
    };
    let ftrain: [Factors; N] =
        core::array::from_fn(|i| rounded(factors(net, lip, &xs[i], 0.0, 0.0)));
    let ftest: [Factors; M] = core::array::from_fn(|i| {
        if test.finite {
            rounded(factors(net, lip, &xt[i], 0.0, 0.0))
        } else {
            ftrain[0]
        }
    });
    let bd = bounds(&ftrain, &ftest, T::U, T::ETA);
    let with_cross = s.cross.is_ok() && j.cross.is_ok();
    compare(
        &format!("structured vs jacobian {name}"),
        &s.kernels,
        &j.kernels,
        &bd,
        with_cross,
    );
    for (k, m) in [(&s.kernels, "structured"), (&j.kernels, "jacobian")] {
        assert_psd(m, &k.trace, bd.trace.as_flattened());
        assert_psd(
            m,
            &blocks_matrix(&k.blocks),
            blocks_matrix(&bd.blocks).as_flattened(),
        );
        for a in 0..N {
            for b in 0..N {
                let mean = (0..K).map(|q| k.blocks[a][b][q][q]).sum::<f64>() / K as f64;
                assert!(
                    (mean - k.trace[a][b]).abs() <= bd.trace[a][b],
                    "{m} {name}: trace is not the mean of the diagonal blocks"
                );
            }
        }
    }
    (s, j)
}

fn lip_of(act: Act) -> Lip {
    match act {
        Act::Relu => Lip::RELU,
        Act::LeakyRelu(a) => Lip::leaky_relu(a.get()),
        Act::Abs => Lip::ABS,
        Act::Erf => Lip::ERF,
        Act::Gelu => Lip::GELU,
        Act::Sin => Lip::SIN,
        Act::Tanh => Lip::TANH,
        Act::Identity => Lip::IDENTITY,
    }
}

/// The same activation in both precisions.
fn pair<A: Clone>(a: A, act: Act) -> ActPair<A, A> {
    let lip = lip_of(act);
    ActPair {
        a64: a.clone(),
        a32: a.clone(),
        a32_as_64: a,
        slope: 0.0,
        slope32: 0.0,
        lip,
        lip32: lip,
    }
}

fuzz_target!(|case: Case| {
    let input = match case {
        Case::Dense(input) => input,
        Case::Conv(c) if c.factored => {
            conv_arm::<f64, WideNet<f64>, WIDE_D, 1>(&c);
            conv_arm::<f32, WideNet<f32>, WIDE_D, 1>(&c);
            return;
        }
        Case::Conv(c) => {
            conv_arm::<f64, SeqNet<f64>, SEQ_D, SEQ_K>(&c);
            conv_arm::<f32, SeqNet<f32>, SEQ_D, SEQ_K>(&c);
            return;
        }
        Case::Rnn(c) => {
            match (c.factored, c.gap) {
                (true, false) => {
                    rnn_arm::<f64, WideRnn<f64, Last>, WR_DL, 1>(&c);
                    rnn_arm::<f32, WideRnn<f32, Last>, WR_DL, 1>(&c);
                }
                (true, true) => {
                    rnn_arm::<f64, WideRnn<f64, GlobalAvgPool>, WR_DL, 1>(&c);
                    rnn_arm::<f32, WideRnn<f32, GlobalAvgPool>, WR_DL, 1>(&c);
                }
                (false, false) => {
                    rnn_arm::<f64, LongRnn<f64, Last>, LR_DL, LR_K>(&c);
                    rnn_arm::<f32, LongRnn<f32, Last>, LR_DL, LR_K>(&c);
                }
                (false, true) => {
                    rnn_arm::<f64, LongRnn<f64, GlobalAvgPool>, LR_DL, LR_K>(&c);
                    rnn_arm::<f32, LongRnn<f32, GlobalAvgPool>, LR_DL, LR_K>(&c);
                }
            }
            return;
        }
        Case::Attention(c) => {
            attention_case(&c);
            return;
        }
    };
    match input.act {
        Act::Relu => check(&input, pair(Relu, input.act)),
        Act::LeakyRelu(a) => {
            let alpha = a.get();
            let alpha32 = alpha as f32;
            let back = f64::from(alpha32);
            check(
                &input,
                ActPair {
                    a64: LeakyRelu { alpha },
                    a32: LeakyRelu { alpha: alpha32 },
                    a32_as_64: LeakyRelu { alpha: back },
                    slope: alpha,
                    slope32: back,
                    lip: lip_of(input.act),
                    lip32: lip_of(Act::LeakyRelu(Num::Bits(back.to_bits()))),
                },
            )
        }
        Act::Abs => check(&input, pair(Abs, input.act)),
        Act::Erf => check(&input, pair(Erf, input.act)),
        Act::Gelu => check(&input, pair(Gelu, input.act)),
        Act::Sin => check(&input, pair(Sin, input.act)),
        Act::Tanh => check(&input, pair(Tanh, input.act)),
        Act::Identity => check(&input, pair(Identity, input.act)),
    }
});

/// Where a fuzzed convolutional network lets the two methods differ.
trait ConvNet<T: Real>: Params<T> + Zeroed {
    /// Sets the scales of layer `i` of the network's weighted layers and the
    /// paddings.
    fn configure(&mut self, spec: &[(T, T, Parameterization); 3], circular: [bool; 2]);
    /// The layers as the range bound sees them, with the largest |weight|
    /// and |bias| of each.
    fn layers(&self) -> Vec<Layer>;
    /// `true` if the kernel is a sum of products of the same per-input
    /// gradients in both methods (no factored convolution).
    const GRADIENT_FORM: bool;
}

/// The parameterisation a layer spec selects.
fn parameterization(s: &LayerSpec) -> Parameterization {
    if s.standard {
        Parameterization::Standard
    } else {
        Parameterization::Ntk
    }
}

fn padding(circular: bool) -> Padding {
    if circular {
        Padding::Circular
    } else {
        Padding::Same
    }
}

macro_rules! conv_layer {
    ($c:expr, $ci:expr, $co:expr, $q:expr, $l:expr) => {{
        let (ws, bs) = $c.scales();
        Layer::Conv {
            c_in: $ci,
            c_out: $co,
            q: $q,
            l: $l,
            ws: ws.to_f64(),
            bs: bs.to_f64(),
            w: largest($c.weight.as_flattened().as_flattened()),
            b: largest(&$c.bias),
        }
    }};
}

macro_rules! dense_layer {
    ($d:expr, $i:expr, $o:expr) => {{
        let (ws, bs) = $d.scales();
        Layer::Dense {
            n_in: $i,
            n_out: $o,
            ws: ws.to_f64(),
            bs: bs.to_f64(),
            w: largest($d.weight.as_flattened()),
            b: largest(&$d.bias),
        }
    }};
}

impl<T: Real> ConvNet<T> for SeqNet<T> {
    fn configure(&mut self, spec: &[(T, T, Parameterization); 3], circular: [bool; 2]) {
        self.1.set_scales(spec[0].0, spec[0].1, spec[0].2);
        self.3.set_scales(spec[1].0, spec[1].1, spec[1].2);
        self.6.set_scales(spec[2].0, spec[2].1, spec[2].2);
        self.1.padding = padding(circular[0]);
        self.3.padding = padding(circular[1]);
    }
    fn layers(&self) -> Vec<Layer> {
        vec![
            Layer::Gap { l: 1 },
            conv_layer!(self.1, 2, 3, 3, 5),
            Layer::Act {
                l0: 1.0,
                cap: f64::INFINITY,
            },
            conv_layer!(self.3, 3, 2, 3, 5),
            Layer::Act {
                l0: 1.1284,
                cap: 1.0,
            },
            Layer::Gap { l: 5 },
            dense_layer!(self.6, 2, SEQ_K),
        ]
    }
    const GRADIENT_FORM: bool = true;
}

impl<T: Real> ConvNet<T> for WideNet<T> {
    fn configure(&mut self, spec: &[(T, T, Parameterization); 3], circular: [bool; 2]) {
        self.1.set_scales(spec[0].0, spec[0].1, spec[0].2);
        self.4.set_scales(spec[2].0, spec[2].1, spec[2].2);
        self.1.padding = padding(circular[0]);
    }
    fn layers(&self) -> Vec<Layer> {
        vec![
            Layer::Gap { l: 1 },
            conv_layer!(self.1, 4, 6, 3, 2),
            Layer::Act {
                l0: 1.0,
                cap: f64::INFINITY,
            },
            Layer::Gap { l: 2 },
            dense_layer!(self.4, 6, 1),
        ]
    }
    const GRADIENT_FORM: bool = false;
}

/// The convolutional arm in precision `T`: the properties of
/// [`check_methods`], moderate data by `range_bound`, the gradient form
/// without a factored convolution.
fn conv_arm<T, Net, const D: usize, const K: usize>(c: &ConvInput)
where
    T: Scalar,
    Net: ConvNet<T> + Module<T, [T; D], Output = [T; K]>,
{
    const { assert!(Net::GRADIENT_FORM || !<WideNet<f64> as ConvNet<f64>>::GRADIENT_FORM) };
    let cast = |n: Num| T::from_f64(n.get());
    let spec: [(T, T, Parameterization); 3] = core::array::from_fn(|i| {
        let s = &c.layers[i];
        (cast(s.weight_std), cast(s.bias_std), parameterization(s))
    });
    let mut net = Net::ZEROED;
    net.configure(&spec, c.circular);
    // set every parameter, non-finite ones included
    let mut at = 0;
    net.visit_mut(&mut |s| {
        for v in s.iter_mut() {
            *v = cast(c.params[at % CP]);
            at += 1;
        }
    });
    let xs: [[T; D]; CN] = core::array::from_fn(|i| core::array::from_fn(|j| cast(c.train[i][j])));
    let xt: [[T; D]; CM] = core::array::from_fn(|i| core::array::from_fn(|j| cast(c.test[i][j])));
    // Moderate data must be accepted: every quantity the range check looks
    // at is bounded well inside the range, and the diagonal is at least
    // σb² of the readout (≥ 1/256) where its |σb| ≥ 1/16.
    let layers = net.layers();
    let readout_bs = spec[2].1.to_f64().abs();
    let moderate = |x_max: f64| {
        range_bound(&layers, x_max) <= accepted(T::MAX.to_f64()) && readout_bs >= 1.0 / 16.0
    };
    let expect = Expect {
        accepted: moderate,
        gradient_form: Net::GRADIENT_FORM,
    };
    check_methods(&net, &xs, &xt, c.shortfall, expect);
}

/// Channels of the recurrent arm's inputs.
const R_D: usize = 2;
/// Steps and width of the time-summed recurrent network (ReLU: states grow
/// through time).
const LR_L: usize = 4;
const LR_H: usize = 3;
const LR_DL: usize = R_D * LR_L;
const LR_K: usize = 2;
/// Steps and width of the factored recurrent network (tanh).
const WR_L: usize = 2;
const WR_H: usize = 8;
const WR_DL: usize = R_D * WR_L;
/// The longest flat input of the two.
const RDL: usize = LR_DL;
/// Parameters of the larger network (the other one reads a prefix).
const RP: usize = WR_H * (WR_H + R_D + 1) + WR_H + 1;

/// A long sequence through a narrow ReLU recurrent layer, read out by `R`.
type LongRnn<T, R> = (
    Unflatten<R_D, LR_L>,
    Rnn<T, R_D, LR_H, LR_L, Relu>,
    R,
    Dense<T, LR_H, LR_K>,
);
/// A short sequence through a wide tanh recurrent layer: factored.
type WideRnn<T, R> = (
    Unflatten<R_D, WR_L>,
    Rnn<T, R_D, WR_H, WR_L, Tanh>,
    R,
    Dense<T, WR_H, 1>,
);
const _: () = assert!(
    !Rnn::<f64, R_D, LR_H, LR_L, Relu>::FACTORED && Rnn::<f64, R_D, WR_H, WR_L, Tanh>::FACTORED
);
const _: () = assert!(WR_DL <= RDL && LR_H * (LR_H + R_D + 1) + LR_H * LR_K + LR_K <= RP);

/// Where a fuzzed recurrent network lets the two methods differ.
trait RnnNet<T: Real>: Params<T> + Zeroed {
    /// Sets σw, σu, σb and the parameterisation of the recurrent layer and
    /// the readout's scales.
    fn configure(&mut self, rnn: (T, T, T, Parameterization), out: (T, T, Parameterization));
    /// The bound of `rnn_range_bound` for inputs of largest magnitude `x`.
    fn bound(&self, x: f64) -> f64;
    /// `true` if the kernel is a sum of products of the same per-input
    /// gradients in both methods (no factored recurrent layer).
    const GRADIENT_FORM: bool;
}

macro_rules! rnn_net {
    ($ty:ident, $h:expr, $l:expr, $k:expr, $l0:expr, $cap:expr) => {
        impl<T: Real, R> RnnNet<T> for $ty<T, R>
        where
            $ty<T, R>: Params<T> + Zeroed,
        {
            fn configure(
                &mut self,
                rnn: (T, T, T, Parameterization),
                out: (T, T, Parameterization),
            ) {
                self.1.set_rnn_scales(rnn.0, rnn.1, rnn.2, rnn.3);
                self.3.set_scales(out.0, out.1, out.2);
            }
            fn bound(&self, x: f64) -> f64 {
                let (ws, us, bs) = self.1.scales();
                let r = RnnLayer {
                    d: R_D,
                    h: $h,
                    l: $l,
                    factored: !Self::GRADIENT_FORM,
                    ws: ws.to_f64(),
                    us: us.to_f64(),
                    bs: bs.to_f64(),
                    w: largest(self.1.w.as_flattened()),
                    u: largest(self.1.u.as_flattened()),
                    b: largest(&self.1.bias),
                    l0: $l0,
                    cap: $cap,
                };
                rnn_range_bound(&r, &dense_layer!(self.3, $h, $k), x)
            }
            const GRADIENT_FORM: bool = !Rnn::<T, R_D, $h, $l, Relu>::FACTORED;
        }
    };
}
rnn_net!(LongRnn, LR_H, LR_L, LR_K, 1.0, f64::INFINITY);
rnn_net!(WideRnn, WR_H, WR_L, 1, 1.0, 1.0);

/// The recurrent arm in precision `T`: the properties of
/// [`check_methods`], moderate data by `rnn_range_bound`, the gradient form
/// without a factored recurrent layer.
fn rnn_arm<T, Net, const D: usize, const K: usize>(c: &RnnInput)
where
    T: Scalar,
    Net: RnnNet<T> + Module<T, [T; D], Output = [T; K]>,
{
    let cast = |n: Num| T::from_f64(n.get());
    let (r, o) = (&c.layers[0], &c.layers[1]);
    let mut net = Net::ZEROED;
    net.configure(
        (
            cast(r.weight_std),
            cast(c.u_std),
            cast(r.bias_std),
            parameterization(r),
        ),
        (cast(o.weight_std), cast(o.bias_std), parameterization(o)),
    );
    // set every parameter, non-finite ones included
    let mut at = 0;
    net.visit_mut(&mut |s| {
        for v in s.iter_mut() {
            *v = cast(c.params[at % RP]);
            at += 1;
        }
    });
    let xs: [[T; D]; CN] = core::array::from_fn(|i| core::array::from_fn(|j| cast(c.train[i][j])));
    let xt: [[T; D]; CM] = core::array::from_fn(|i| core::array::from_fn(|j| cast(c.test[i][j])));
    // Moderate data must be accepted: every intermediate either method
    // forms is bounded well inside the range, and the diagonal is at least
    // σb² of the readout (≥ 1/256) where its |σb| ≥ 1/16.
    let readout_bs = cast(o.bias_std).to_f64().abs();
    let moderate =
        |x_max: f64| net.bound(x_max) <= accepted(T::MAX.to_f64()) && readout_bs >= 1.0 / 16.0;
    let expect = Expect {
        accepted: moderate,
        gradient_form: Net::GRADIENT_FORM,
    };
    check_methods(&net, &xs, &xt, c.shortfall, expect);
}

/// The attention arm: a sequence embedded position by position (a width-1
/// convolution), a block around one self-attention layer, the mean over
/// positions and a dense readout, in one of three fixed shapes.
#[derive(Arbitrary, Debug)]
struct AttentionInput {
    /// The shape (modulo 3).
    shape: u8,
    /// The block around the attention layer (modulo [`BLOCKS`]).
    block: u8,
    /// Identity instead of softmax attention weights.
    identity: bool,
    /// σq, σk, σv, σo of the attention layer.
    attention_std: [Num; 4],
    /// The embedding's, the summed branch's and the readout's scales and
    /// parameterisations (the attention layer is always NTK-parameterised).
    layers: [LayerSpec; 3],
    params: [Num; AP],
    train: [[Num; AD]; CN],
    test: [[Num; AD]; CM],
    shortfall: u8,
}

/// Parameters of the largest attention network (the others read a prefix).
const AP: usize = 74;
/// The longest flat input of the three shapes.
const AD: usize = 6;
/// Blocks around the attention layer `A`: `A`, `Residual<A>`,
/// `(LayerNorm, Residual<A>)` (pre-norm), `(Residual<A>, LayerNorm)`
/// (post-norm), `Sum<A, (width-1 convolution, Tanh)>` and
/// `Residual<(LayerNorm, A, Relu)>`.
const BLOCKS: u8 = 6;

/// Input channels `C`, embedding width `E`, positions `L` and outputs `K`:
/// `Unflatten → Conv1d<C, E, 1> → block → GlobalAvgPool → Dense<E, K>`.
type AttnNet<T, B, const C: usize, const E: usize, const L: usize, const K: usize> = (
    Unflatten<C, L>,
    Conv1d<T, C, E, 1, L>,
    B,
    GlobalAvgPool,
    Dense<T, E, K>,
);

/// The scales of a block's attention layer (σq, σk, σv, σo), its
/// mechanism, and the scales of a summed branch.
struct BlockSpec<T> {
    attention: [T; 4],
    mechanism: AttentionMechanism,
    branch: (T, T, Parameterization),
}

/// A block around one attention layer that the arm can configure.
trait Block<T: Real> {
    fn configure(&mut self, spec: &BlockSpec<T>);
}

impl<
        T: Real,
        const E: usize,
        const L: usize,
        const CK: usize,
        const CV: usize,
        const HEADS: usize,
    > Block<T> for SelfAttention<T, E, E, L, CK, CV, HEADS>
{
    fn configure(&mut self, spec: &BlockSpec<T>) {
        let [q, k, v, o] = spec.attention;
        self.set_attention_scales(q, k, v, o);
        self.mechanism = spec.mechanism;
    }
}

impl<T: Real, B: Block<T>> Block<T> for Residual<B> {
    fn configure(&mut self, spec: &BlockSpec<T>) {
        self.0.configure(spec);
    }
}

impl<T: Real, B: Block<T>> Block<T> for (LayerNorm, B) {
    fn configure(&mut self, spec: &BlockSpec<T>) {
        self.1.configure(spec);
    }
}

impl<T: Real, B: Block<T>> Block<T> for (Residual<B>, LayerNorm) {
    fn configure(&mut self, spec: &BlockSpec<T>) {
        self.0.configure(spec);
    }
}

impl<T: Real, B: Block<T>> Block<T> for (LayerNorm, B, Relu) {
    fn configure(&mut self, spec: &BlockSpec<T>) {
        self.1.configure(spec);
    }
}

impl<T: Real, B: Block<T>, const E: usize, const L: usize> Block<T>
    for Sum<B, (Conv1d<T, E, E, 1, L>, Tanh)>
{
    fn configure(&mut self, spec: &BlockSpec<T>) {
        self.0.configure(spec);
        let (ws, bs, p) = spec.branch;
        self.1 .0.set_scales(ws, bs, p);
    }
}

/// The attention arm in precision `T` for one network: the properties of
/// [`check_methods`] in gradient form (no layer of these networks is
/// factored over positions: the attention layer hands its gradient over as
/// flat rows, and the width-1 convolutions are below the factoring
/// threshold, asserted where the shapes are defined). Moderate data must be
/// accepted in `f64` only where every weight, scale and input is a
/// [`Num::Small`] (|v| ≤ 8) and the readout's |σb| ≥ 1/16: crudely,
/// every forward value is then below 10⁵⁰ (each layer multiplies by at
/// most fan-in·8·8, identity attention cubes, layer norm bounds by √E),
/// every cotangent and squared gradient norm below 10¹⁵⁰ (layer norm's
/// 1/√(ε + var) ≤ 10⁶), far below the range check's `MAX·2⁻²⁶`, and the
/// diagonal is at least σb² ≥ 1/256, far above `MIN_POSITIVE/ε`.
fn attention_arm<
    T,
    B,
    const C: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const D: usize,
>(
    c: &AttentionInput,
) where
    T: Scalar,
    B: Block<T> + Zeroed,
    AttnNet<T, B, C, E, L, K>: Params<T> + Zeroed + Module<T, [T; D], Output = [T; K]>,
{
    const { assert!(D == C * L && D <= AD && !Conv1d::<f64, C, E, 1, L>::FACTORED) };
    const { assert!(!Conv1d::<f64, E, E, 1, L>::FACTORED) };
    let cast = |n: Num| T::from_f64(n.get());
    let spec = |s: &LayerSpec| (cast(s.weight_std), cast(s.bias_std), parameterization(s));
    let mut net = AttnNet::<T, B, C, E, L, K>::ZEROED;
    let (ws, bs, p) = spec(&c.layers[0]);
    net.1.set_scales(ws, bs, p);
    net.2.configure(&BlockSpec {
        attention: c.attention_std.map(cast),
        mechanism: if c.identity {
            AttentionMechanism::Identity
        } else {
            AttentionMechanism::Softmax
        },
        branch: spec(&c.layers[1]),
    });
    let (ws, bs, p) = spec(&c.layers[2]);
    net.4.set_scales(ws, bs, p);
    // set every parameter, non-finite ones included
    let mut at = 0;
    net.visit_mut(&mut |s| {
        for v in s.iter_mut() {
            *v = cast(c.params[at % AP]);
            at += 1;
        }
    });
    assert!(at <= AP, "{at} parameters");
    let xs: [[T; D]; CN] = core::array::from_fn(|i| core::array::from_fn(|j| cast(c.train[i][j])));
    let xt: [[T; D]; CM] = core::array::from_fn(|i| core::array::from_fn(|j| cast(c.test[i][j])));

    let small = |n: &Num| matches!(n, Num::Small(_));
    let inputs = c.train.iter().chain(&c.test).flat_map(|x| &x[..D]);
    let scales = c.layers.iter().flat_map(|s| [&s.weight_std, &s.bias_std]);
    let moderate = T::MAX.to_f64() == f64::MAX
        && c.params[..at].iter().all(small)
        && c.attention_std.iter().all(small)
        && scales.into_iter().all(small)
        && inputs.into_iter().all(small)
        && c.layers[2].bias_std.get().abs() >= 1.0 / 16.0;
    let expect = Expect {
        accepted: |_| moderate,
        gradient_form: true,
    };
    check_methods(&net, &xs, &xt, c.shortfall, expect);
}

/// One attention network in both precisions.
fn attention_both<
    B64,
    B32,
    const C: usize,
    const E: usize,
    const L: usize,
    const K: usize,
    const D: usize,
>(
    c: &AttentionInput,
) where
    B64: Block<f64> + Zeroed,
    B32: Block<f32> + Zeroed,
    AttnNet<f64, B64, C, E, L, K>: Params<f64> + Zeroed + Module<f64, [f64; D], Output = [f64; K]>,
    AttnNet<f32, B32, C, E, L, K>: Params<f32> + Zeroed + Module<f32, [f32; D], Output = [f32; K]>,
{
    attention_arm::<f64, B64, C, E, L, K, D>(c);
    attention_arm::<f32, B32, C, E, L, K, D>(c);
}

/// Runs the attention arm on the block `c.block` selects, around
/// `SelfAttention<T, E, E, L, CK, CV, HEADS>`.
macro_rules! attention_shape {
    ($c:expr, $ci:expr, $e:expr, $l:expr, $ck:expr, $cv:expr, $h:expr, $k:expr) => {{
        type A<T> = SelfAttention<T, $e, $e, $l, $ck, $cv, $h>;
        type Branch<T> = (Conv1d<T, $e, $e, 1, $l>, Tanh);
        const D: usize = $ci * $l;
        match $c.block % BLOCKS {
            0 => attention_both::<A<f64>, A<f32>, $ci, $e, $l, $k, D>($c),
            1 => attention_both::<Residual<A<f64>>, Residual<A<f32>>, $ci, $e, $l, $k, D>($c),
            2 => attention_both::<
                (LayerNorm, Residual<A<f64>>),
                (LayerNorm, Residual<A<f32>>),
                $ci,
                $e,
                $l,
                $k,
                D,
            >($c),
            3 => attention_both::<
                (Residual<A<f64>>, LayerNorm),
                (Residual<A<f32>>, LayerNorm),
                $ci,
                $e,
                $l,
                $k,
                D,
            >($c),
            4 => attention_both::<
                Sum<A<f64>, Branch<f64>>,
                Sum<A<f32>, Branch<f32>>,
                $ci,
                $e,
                $l,
                $k,
                D,
            >($c),
            _ => attention_both::<
                Residual<(LayerNorm, A<f64>, Relu)>,
                Residual<(LayerNorm, A<f32>, Relu)>,
                $ci,
                $e,
                $l,
                $k,
                D,
            >($c),
        }
    }};
}

/// The attention arm on the shape `c.shape` selects: 3 positions of 2
/// channels into width 4 with one head; 2 positions of 3 channels into
/// width 3 with two heads and two outputs; 4 positions of 1 channel into
/// width 2 with two one-channel heads.
fn attention_case(c: &AttentionInput) {
    match c.shape % 3 {
        0 => attention_shape!(c, 2, 4, 3, 2, 2, 1, 1),
        1 => attention_shape!(c, 3, 3, 2, 3, 2, 2, 2),
        _ => attention_shape!(c, 1, 2, 4, 1, 1, 2, 1),
    }
}
