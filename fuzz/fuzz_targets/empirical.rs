//! The empirical NTK of a 3-5-2 network with arbitrary weights, scales,
//! activation and inputs, or of a convolutional network (the `Conv` arm,
//! properties at [`conv_arm`]; bound model `ntk_fuzz::conv_bounds`), or
//! of a recurrent one (the `Rnn` arm, properties at [`rnn_arm`]; bound model
//! `ntk_fuzz::conv_bounds::rnn_range_bound`).
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
    Abs, Activation, Dense, Erf, Gelu, GlobalAvgPool, Identity, Last, LeakyRelu, Module, Padding,
    Parameterization, Params, Relu, Rnn, Sin, Tanh, Unflatten, Zeroed,
};
use ntk::{Error, Real};
use ntk_fuzz::conv_bounds::{
    accepted, pair_tolerance, range_bound, rnn_range_bound, Layer, RnnLayer, SeqNet, WideNet, CM,
    CN, CP, SEQ_D, SEQ_K, WIDE_D,
};
use ntk_fuzz::empirical_bounds::{
    assert_psd, bounds, factors, status, to64, Bounds, Factors, Lip, Net, Scalar, Status, D, H, K,
    M, N, P,
};
use ntk_fuzz::{eigenvalues_jacobi, round_f32, Num, U32};

/// Sentinel written into outputs before a call.
const SENTINEL: f64 = 7.0;

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

fn padding(circular: bool) -> Padding {
    if circular {
        Padding::Circular
    } else {
        Padding::Same
    }
}

fn largest<T: Real>(v: &[T]) -> f64 {
    v.iter().fold(0.0_f64, |m, x| m.max(x.to_f64().abs()))
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

/// The convolutional arm in precision `T`: typed errors that zero the
/// output, a short workspace reported first, moderate data accepted by both
/// methods, an `Ok` kernel finite, bitwise symmetric, with a non-negative
/// diagonal and equal to the cross kernel of the inputs with themselves;
/// without a factored convolution, structured = Jacobian within the rounding
/// bound of two summation orders and the kernel positive semidefinite within
/// its Weyl bound.
fn conv_arm<T, Net, const D: usize, const K: usize>(c: &ConvInput)
where
    T: Scalar,
    Net: ConvNet<T> + Module<T, [T; D], Output = [T; K]>,
{
    const { assert!(Net::GRADIENT_FORM || !<WideNet<f64> as ConvNet<f64>>::GRADIENT_FORM) };
    let cast = |n: Num| T::from_f64(n.get());
    let spec: [(T, T, Parameterization); 3] = core::array::from_fn(|i| {
        let s = &c.layers[i];
        let p = if s.standard {
            Parameterization::Standard
        } else {
            Parameterization::Ntk
        };
        (cast(s.weight_std), cast(s.bias_std), p)
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
    let finite = |v: &[T]| v.iter().all(|x| x.is_finite());
    let train_ok = finite(xs.as_flattened());
    let test_ok = finite(xt.as_flattened());
    let params_ok = net.is_finite();

    let sentinel = T::from_f64(SENTINEL);
    let zeroed = |out: &[T]| out.iter().all(|v| *v == T::ZERO);
    let ns = structured::workspace_len::<T, Net>(2 * CN, K);
    let nj = jacobian::workspace_len::<T, [T; D], Net>(CN + CM);
    let mut ws = vec![sentinel; ns];
    let mut wj = vec![sentinel; nj];

    // a short workspace is reported first, whatever the data
    let short = usize::from(c.shortfall);
    if short > 0 {
        let needed = structured::workspace_len::<T, Net>(CN, K);
        let given = needed.saturating_sub(short);
        let mut out = [[sentinel; CN]; CN];
        let r = structured::ntk(&net, &xs, &mut ws[..given], &mut out);
        assert_eq!(r, Err(Error::BufferTooSmall { needed, given }));
        assert!(zeroed(out.as_flattened()));
        let needed = jacobian::workspace_len::<T, [T; D], Net>(CN);
        let given = needed.saturating_sub(short);
        let r = jacobian::ntk(&net, &xs, &mut wj[..given], &mut out);
        assert_eq!(r, Err(Error::BufferTooSmall { needed, given }));
        assert!(zeroed(out.as_flattened()));
    }

    let mut s = [[sentinel; CN]; CN];
    let mut j = [[sentinel; CN]; CN];
    let rs = structured::ntk(&net, &xs, &mut ws, &mut s);
    let rj = jacobian::ntk(&net, &xs, &mut wj, &mut j);
    let mut sc = [[sentinel; CN]; CM];
    let rsc = structured::ntk_cross(&net, &xt, &xs, &mut ws, &mut sc);
    let mut selfc = [[sentinel; CN]; CN];
    let rself = structured::ntk_cross(&net, &xs, &xs, &mut ws, &mut selfc);
    for (r, out) in [
        (&rs, s.as_flattened()),
        (&rj, j.as_flattened()),
        (&rsc, sc.as_flattened()),
        (&rself, selfc.as_flattened()),
    ] {
        if r.is_err() {
            assert!(zeroed(out), "{r:?} left {out:?}");
        }
    }
    let inputs = Err(Error::NonFinite { what: "inputs" });
    let params = Err(Error::NonFinite {
        what: "network parameters",
    });
    if !train_ok {
        assert_eq!(rs, inputs);
        // the Jacobian method meets inputs and parameters input by input
        assert!(rj == inputs || (!params_ok && rj == params), "{rj:?}");
        return;
    }
    if !test_ok {
        assert_eq!(rsc, inputs);
    }
    if !params_ok {
        assert_eq!(rs, params);
        assert_eq!(rj, params);
        return;
    }
    let checked = if test_ok { 4 } else { 3 };
    for r in [&rs, &rj, &rself, &rsc].into_iter().take(checked) {
        assert!(
            matches!(
                r,
                Ok(()) | Err(Error::Overflow { .. } | Error::PrecisionLoss { .. })
            ),
            "{r:?}"
        );
    }
    assert_eq!(rself, rs, "the cross kernel of the inputs with themselves");

    // Moderate data must be accepted: every quantity the range check looks
    // at is bounded well inside the range, and the diagonal is at least
    // σb² of the readout (≥ 1/256) where its |σb| ≥ 1/16.
    let x_max = largest(xs.as_flattened()).max(if test_ok {
        largest(xt.as_flattened())
    } else {
        0.0
    });
    let bound = range_bound(&net.layers(), x_max);
    let readout_bs = spec[2].1.to_f64().abs();
    if bound <= accepted(T::MAX.to_f64()) && readout_bs >= 1.0 / 16.0 {
        assert_eq!(rs, Ok(()), "bound {bound:e}");
        assert_eq!(rj, Ok(()), "bound {bound:e}");
        if test_ok {
            assert_eq!(rsc, Ok(()), "bound {bound:e}");
        }
    }

    for (r, k) in [(&rs, &s), (&rj, &j)] {
        if r.is_err() {
            continue;
        }
        for a in 0..CN {
            assert!(k[a][a] >= T::ZERO && k[a][a].is_finite());
            for b in 0..CN {
                assert_eq!(k[a][b].to_f64().to_bits(), k[b][a].to_f64().to_bits());
                assert!(k[a][b].is_finite());
            }
        }
    }
    if rs.is_ok() {
        for (a, b) in s.as_flattened().iter().zip(selfc.as_flattened()) {
            assert_eq!(a.to_f64().to_bits(), b.to_f64().to_bits());
        }
    }

    if Net::GRADIENT_FORM && rs.is_ok() && rj.is_ok() {
        let terms = Net::NUM_PARAMS;
        let tol = |k: &[[T; CN]; CN], a: usize, b: usize| {
            pair_tolerance(k[a][a].to_f64(), k[b][b].to_f64(), terms, 8, T::U, T::ETA)
        };
        // relative to the largest diagonal entry, so that nothing underflows
        let top = (0..CN).fold(0.0_f64, |m, a| m.max(s[a][a].to_f64()));
        let scale = if top > 0.0 { top } else { 1.0 };
        let mut weyl = 0.0_f64;
        for a in 0..CN {
            for b in 0..CN {
                let (sv, jv) = (s[a][b].to_f64(), j[a][b].to_f64());
                let t = tol(&s, a, b) + tol(&j, a, b);
                assert!(
                    (sv - jv).abs() <= t,
                    "[{a}][{b}]: {sv:e} vs {jv:e}, tol {t:e}"
                );
                weyl += (tol(&s, a, b) / scale).powi(2);
            }
        }
        let s64: [[f64; CN]; CN] = s.map(|r| r.map(|v| v.to_f64() / scale));
        let low = eigenvalues_jacobi(&s64)
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        // the Jacobi oracle's own error is a few f64 units of the largest entry
        assert!(
            low >= -(weyl.sqrt() + 1e-13),
            "smallest eigenvalue {low:e} (relative), bound {:e}",
            weyl.sqrt()
        );
    }
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

/// The recurrent arm in precision `T`, with the properties of [`conv_arm`]:
/// typed errors that zero the output (inputs checked before parameters by
/// the structured method, met input by input by the Jacobian), a short
/// workspace reported first, moderate data (by `rnn_range_bound`) accepted
/// by both methods, an `Ok` kernel finite, bitwise symmetric, with a
/// non-negative diagonal and equal to the cross kernel of the inputs with
/// themselves; without a factored layer, structured = Jacobian within the
/// rounding bound of two summation orders and the kernel positive
/// semidefinite within its Weyl bound.
fn rnn_arm<T, Net, const D: usize, const K: usize>(c: &RnnInput)
where
    T: Scalar,
    Net: RnnNet<T> + Module<T, [T; D], Output = [T; K]>,
{
    let cast = |n: Num| T::from_f64(n.get());
    let par = |s: &LayerSpec| {
        if s.standard {
            Parameterization::Standard
        } else {
            Parameterization::Ntk
        }
    };
    let (r, o) = (&c.layers[0], &c.layers[1]);
    let mut net = Net::ZEROED;
    net.configure(
        (cast(r.weight_std), cast(c.u_std), cast(r.bias_std), par(r)),
        (cast(o.weight_std), cast(o.bias_std), par(o)),
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
    let finite = |v: &[T]| v.iter().all(|x| x.is_finite());
    let train_ok = finite(xs.as_flattened());
    let test_ok = finite(xt.as_flattened());
    let params_ok = net.is_finite();

    let sentinel = T::from_f64(SENTINEL);
    let zeroed = |out: &[T]| out.iter().all(|v| *v == T::ZERO);
    let ns = structured::workspace_len::<T, Net>(2 * CN, K);
    let nj = jacobian::workspace_len::<T, [T; D], Net>(CN + CM);
    let mut ws = vec![sentinel; ns];
    let mut wj = vec![sentinel; nj];

    // a short workspace is reported first, whatever the data
    let short = usize::from(c.shortfall);
    if short > 0 {
        let needed = structured::workspace_len::<T, Net>(CN, K);
        let given = needed.saturating_sub(short);
        let mut out = [[sentinel; CN]; CN];
        let r = structured::ntk(&net, &xs, &mut ws[..given], &mut out);
        assert_eq!(r, Err(Error::BufferTooSmall { needed, given }));
        assert!(zeroed(out.as_flattened()));
        let needed = jacobian::workspace_len::<T, [T; D], Net>(CN);
        let given = needed.saturating_sub(short);
        let r = jacobian::ntk(&net, &xs, &mut wj[..given], &mut out);
        assert_eq!(r, Err(Error::BufferTooSmall { needed, given }));
        assert!(zeroed(out.as_flattened()));
    }

    let mut s = [[sentinel; CN]; CN];
    let mut j = [[sentinel; CN]; CN];
    let rs = structured::ntk(&net, &xs, &mut ws, &mut s);
    let rj = jacobian::ntk(&net, &xs, &mut wj, &mut j);
    let mut sc = [[sentinel; CN]; CM];
    let rsc = structured::ntk_cross(&net, &xt, &xs, &mut ws, &mut sc);
    let mut jc = [[sentinel; CN]; CM];
    let rjc = jacobian::ntk_cross(&net, &xt, &xs, &mut wj, &mut jc);
    let mut selfc = [[sentinel; CN]; CN];
    let rself = structured::ntk_cross(&net, &xs, &xs, &mut ws, &mut selfc);
    for (r, out) in [
        (&rs, s.as_flattened()),
        (&rj, j.as_flattened()),
        (&rsc, sc.as_flattened()),
        (&rjc, jc.as_flattened()),
        (&rself, selfc.as_flattened()),
    ] {
        if r.is_err() {
            assert!(zeroed(out), "{r:?} left {out:?}");
        }
    }
    let inputs = Err(Error::NonFinite { what: "inputs" });
    let params = Err(Error::NonFinite {
        what: "network parameters",
    });
    if !train_ok {
        assert_eq!(rs, inputs);
        assert_eq!(rsc, inputs);
        // the Jacobian method meets inputs and parameters input by input
        assert!(rj == inputs || (!params_ok && rj == params), "{rj:?}");
        assert!(rjc == inputs || (!params_ok && rjc == params), "{rjc:?}");
        return;
    }
    if !test_ok {
        assert_eq!(rsc, inputs);
        assert!(rjc == inputs || (!params_ok && rjc == params), "{rjc:?}");
    }
    if !params_ok {
        assert_eq!(rs, params);
        assert_eq!(rj, params);
        if test_ok {
            assert_eq!(rsc, params);
            assert_eq!(rjc, params);
        }
        return;
    }
    let checked = if test_ok { 5 } else { 3 };
    for r in [&rs, &rj, &rself, &rsc, &rjc].into_iter().take(checked) {
        assert!(
            matches!(
                r,
                Ok(()) | Err(Error::Overflow { .. } | Error::PrecisionLoss { .. })
            ),
            "{r:?}"
        );
    }
    assert_eq!(rself, rs, "the cross kernel of the inputs with themselves");

    // Moderate data must be accepted: every intermediate either method
    // forms is bounded well inside the range, and the diagonal is at least
    // σb² of the readout (≥ 1/256) where its |σb| ≥ 1/16.
    let x_max = largest(xs.as_flattened()).max(if test_ok {
        largest(xt.as_flattened())
    } else {
        0.0
    });
    let bound = net.bound(x_max);
    let readout_bs = cast(o.bias_std).to_f64().abs();
    if bound <= accepted(T::MAX.to_f64()) && readout_bs >= 1.0 / 16.0 {
        assert_eq!(rs, Ok(()), "bound {bound:e}");
        assert_eq!(rj, Ok(()), "bound {bound:e}");
        if test_ok {
            assert_eq!(rsc, Ok(()), "bound {bound:e}");
            assert_eq!(rjc, Ok(()), "bound {bound:e}");
        }
    }

    for (r, k) in [(&rs, &s), (&rj, &j)] {
        if r.is_err() {
            continue;
        }
        for a in 0..CN {
            assert!(k[a][a] >= T::ZERO && k[a][a].is_finite());
            for b in 0..CN {
                assert_eq!(k[a][b].to_f64().to_bits(), k[b][a].to_f64().to_bits());
                assert!(k[a][b].is_finite());
            }
        }
    }
    for (r, k) in [(&rsc, &sc), (&rjc, &jc)] {
        if r.is_ok() {
            assert!(k.as_flattened().iter().all(|v| v.is_finite()));
        }
    }
    if rs.is_ok() {
        for (a, b) in s.as_flattened().iter().zip(selfc.as_flattened()) {
            assert_eq!(a.to_f64().to_bits(), b.to_f64().to_bits());
        }
    }

    if Net::GRADIENT_FORM && rs.is_ok() && rj.is_ok() {
        let terms = Net::NUM_PARAMS;
        let tol = |k: &[[T; CN]; CN], a: usize, b: usize| {
            pair_tolerance(k[a][a].to_f64(), k[b][b].to_f64(), terms, 8, T::U, T::ETA)
        };
        // relative to the largest diagonal entry, so that nothing underflows
        let top = (0..CN).fold(0.0_f64, |m, a| m.max(s[a][a].to_f64()));
        let scale = if top > 0.0 { top } else { 1.0 };
        let mut weyl = 0.0_f64;
        for a in 0..CN {
            for b in 0..CN {
                let (sv, jv) = (s[a][b].to_f64(), j[a][b].to_f64());
                let t = tol(&s, a, b) + tol(&j, a, b);
                assert!(
                    (sv - jv).abs() <= t,
                    "[{a}][{b}]: {sv:e} vs {jv:e}, tol {t:e}"
                );
                weyl += (tol(&s, a, b) / scale).powi(2);
            }
        }
        let s64: [[f64; CN]; CN] = s.map(|r| r.map(|v| v.to_f64() / scale));
        let low = eigenvalues_jacobi(&s64)
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        // the Jacobi oracle's own error is a few f64 units of the largest entry
        assert!(
            low >= -(weyl.sqrt() + 1e-13),
            "smallest eigenvalue {low:e} (relative), bound {:e}",
            weyl.sqrt()
        );
    }
}
