//! The error catalogue of the infinite-width kernels: malformed
//! architecture texts, invalid layers, and bad inputs to the Gram matrices.
//! The policy is stated in `tests/common/catalogue.rs`.

use crate::common::catalogue::{flat, judge_rows, Call, Out, INF, INPUTS_E, NAN, S};
use ntk::analytic::{Architecture, Layer};
use ntk::error::ParseErrorKind;
use ntk::Error;

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
