//! The text form of architectures: parsing, errors, canonical display.

#[cfg(feature = "quadrature")]
use ntk::analytic::CustomActivation;
use ntk::analytic::{Architecture, Layer};
use ntk::error::{ParseError, ParseErrorKind};
use ntk::Error;
use proptest::prelude::*;

type Arch = Architecture<f64>;

fn err(text: &str) -> ParseError {
    Arch::parse(text).expect_err(text)
}

fn check(text: &str, kind: ParseErrorKind, position: usize, token: &str) {
    let e = err(text);
    assert_eq!(
        (e.kind, e.position, e.token()),
        (kind, position, token),
        "{text:?}"
    );
}

#[test]
fn parses_every_layer() {
    let a = Arch::parse(
        "dense(1.5,0.1) dense_std(2,0,16) relu leaky_relu(0.2) abs abrelu(-0.5,2) erf gelu sin identity",
    )
    .unwrap();
    assert_eq!(
        a.layers(),
        &[
            Layer::Dense {
                weight_std: 1.5,
                bias_std: 0.1
            },
            Layer::DenseStandard {
                weight_std: 2.0,
                bias_std: 0.0,
                fan_in: 16
            },
            Layer::Relu,
            Layer::LeakyRelu { alpha: 0.2 },
            Layer::Abs,
            Layer::AbRelu { a: -0.5, b: 2.0 },
            Layer::Erf,
            Layer::Gelu,
            Layer::Sin,
            Layer::Identity,
        ]
    );
    assert_eq!(
        a.to_string(),
        "dense(1.5,0.1) dense_std(2,0,16) relu leaky_relu(0.2) abs abrelu(-0.5,2) erf gelu sin identity"
    );
}

#[cfg(feature = "quadrature")]
#[test]
fn parses_tanh() {
    let a = Arch::parse("dense(1,0) tanh").unwrap();
    assert_eq!(a.layers(), &[Layer::dense(1.0, 0.0), Layer::Tanh]);
    assert_eq!(a.to_string(), "dense(1,0) tanh");
    check("tanh(1)", ParseErrorKind::WrongArity, 0, "tanh(1)");
}

/// A build without the `quadrature` feature names the reason `tanh` does
/// not parse, rather than calling it unknown.
#[cfg(not(feature = "quadrature"))]
#[test]
fn tanh_needs_the_quadrature_feature() {
    check("dense(1,0) tanh", ParseErrorKind::NotCompiled, 11, "tanh");
    check(
        "dense(1,0)  tanh(1)",
        ParseErrorKind::WrongArity,
        12,
        "tanh(1)",
    );
    assert!(!Layer::<f64>::Relu.uses_quadrature());
}

#[test]
fn whitespace_between_layers_is_free() {
    let a = Arch::parse("  dense(1,0)\t relu\n\ndense(2,0.5)  ").unwrap();
    assert_eq!(a.to_string(), "dense(1,0) relu dense(2,0.5)");
}

#[test]
fn numbers_in_any_float_syntax() {
    let a = Arch::parse("dense(1e0,.5) leaky_relu(-2.5E-1) dense(+3.,0)").unwrap();
    assert_eq!(a.to_string(), "dense(1,0.5) leaky_relu(-0.25) dense(3,0)");
}

#[test]
fn empty() {
    check("", ParseErrorKind::Empty, 0, "");
    check("  \n\t", ParseErrorKind::Empty, 0, "");
    // The empty architecture has no text form: it displays as "", refused.
    assert_eq!(Arch::new().to_string(), "");
}

#[test]
fn unknown_layer() {
    check("dense(1,0) rleu", ParseErrorKind::UnknownLayer, 11, "rleu");
    check("relu foo(1,2)", ParseErrorKind::UnknownLayer, 5, "foo");
    check("Relu", ParseErrorKind::UnknownLayer, 0, "Relu");
    check("dense(1,0) réłu", ParseErrorKind::UnknownLayer, 11, "réłu");
}

#[test]
fn bad_number() {
    check("dense(1.5x,0.1)", ParseErrorKind::BadNumber, 6, "1.5x");
    check("relu dense(1,abc)", ParseErrorKind::BadNumber, 13, "abc");
    check("leaky_relu(nan)", ParseErrorKind::BadNumber, 11, "nan");
    check("dense(inf,0)", ParseErrorKind::BadNumber, 6, "inf");
    check("dense(1e999,0)", ParseErrorKind::BadNumber, 6, "1e999");
    check("dense_std(1,0,1.5)", ParseErrorKind::BadNumber, 14, "1.5");
    check("dense_std(1,0,-3)", ParseErrorKind::BadNumber, 14, "-3");
    // f32: out of range for f32 is not finite.
    let e = Architecture::<f32>::parse("dense(1e39,0)").unwrap_err();
    assert_eq!(
        (e.kind, e.position, e.token()),
        (ParseErrorKind::BadNumber, 6, "1e39")
    );
}

#[test]
fn wrong_arity() {
    check("dense(1)", ParseErrorKind::WrongArity, 0, "dense(1)");
    check(
        "relu dense(1,2,3)",
        ParseErrorKind::WrongArity,
        5,
        "dense(1,2,3)",
    );
    check("relu(1)", ParseErrorKind::WrongArity, 0, "relu(1)");
    check("leaky_relu", ParseErrorKind::WrongArity, 0, "leaky_relu");
    check(
        "dense_std(1,0)",
        ParseErrorKind::WrongArity,
        0,
        "dense_std(1,0)",
    );
    check(
        "abrelu(1,2,3,4,5)",
        ParseErrorKind::WrongArity,
        0,
        "abrelu(1,2,3,4,5)",
    );
}

#[test]
fn syntax() {
    check("dense(1,0", ParseErrorKind::Syntax, 0, "dense(1,0");
    // A space inside the parentheses splits the token.
    check("relu dense(1, 0)", ParseErrorKind::Syntax, 5, "dense(1,");
    check("dense(1,,0)", ParseErrorKind::Syntax, 7, ",");
    check("dense(,0)", ParseErrorKind::Syntax, 6, ",");
    check("dense(1,)", ParseErrorKind::Syntax, 7, ",");
    check("relu()", ParseErrorKind::Syntax, 4, "relu()");
    check("dense((1,0))", ParseErrorKind::Syntax, 6, "dense((1,0))");
    check("relu)", ParseErrorKind::Syntax, 4, ")");
    check("relu,erf", ParseErrorKind::Syntax, 4, ",erf");
    check("(1,0)", ParseErrorKind::Syntax, 0, "(1,0)");
    check("dense(1,0)x", ParseErrorKind::Syntax, 0, "dense(1,0)x");
}

#[test]
fn too_many_layers() {
    let e = Architecture::<f64, 2>::parse("relu dense(1,0) relu").unwrap_err();
    assert_eq!(
        (e.kind, e.position, e.token()),
        (ParseErrorKind::TooManyLayers, 16, "relu")
    );
    let deep = "relu ".repeat(32);
    assert_eq!(Arch::parse(&deep).unwrap().len(), 32);
    let e = Arch::parse(&(deep + "erf")).unwrap_err();
    assert_eq!(
        (e.kind, e.position, e.token()),
        (ParseErrorKind::TooManyLayers, 160, "erf")
    );
}

#[test]
fn out_of_range() {
    check("dense(-1,0)", ParseErrorKind::OutOfRange, 6, "-1");
    check("dense(1,-0.1)", ParseErrorKind::OutOfRange, 8, "-0.1");
    check("dense_std(1,0,0)", ParseErrorKind::OutOfRange, 14, "0");
    check(
        "dense_std(1,0,99999999999)",
        ParseErrorKind::OutOfRange,
        14,
        "99999999999",
    );
    check("dense_std(-2,0,3)", ParseErrorKind::OutOfRange, 10, "-2");
}

#[test]
fn errors_display_token_and_position() {
    let e = err("dense(1,0) rleu");
    assert_eq!(e.to_string(), "unknown layer `rleu` at byte 11");
    let e: Error = e.into();
    assert_eq!(
        e.to_string(),
        "parse error: unknown layer `rleu` at byte 11"
    );
    // Long tokens are truncated in the error, not rejected.
    let long = "x".repeat(100);
    let e = err(&long);
    assert_eq!(e.token().len(), ParseError::TOKEN_CAP);
}

#[cfg(feature = "quadrature")]
fn softsign(x: f64) -> f64 {
    x / (1.0 + x.abs())
}
#[cfg(feature = "quadrature")]
fn dsoftsign(x: f64) -> f64 {
    1.0 / ((1.0 + x.abs()) * (1.0 + x.abs()))
}

#[cfg(feature = "quadrature")]
#[test]
fn custom_activations_by_name() {
    let acts = [
        CustomActivation::new("softsign", softsign, dsoftsign),
        CustomActivation::new("relu", softsign, dsoftsign),
    ];
    let a = Arch::parse_with("dense(1,0) softsign relu", &acts).unwrap();
    assert_eq!(a.layers()[1], Layer::Custom(acts[0]));
    // Built-in names come first.
    assert_eq!(a.layers()[2], Layer::Relu);
    assert_eq!(Arch::parse_with(&a.to_string(), &acts).unwrap(), a);
    check("softsign", ParseErrorKind::UnknownLayer, 0, "softsign");
    let e = Arch::parse_with("softsign(1)", &acts).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::WrongArity);
}

#[test]
fn building_validates() {
    let mut a = Architecture::<f64, 2>::new();
    assert_eq!(
        a.push(Layer::Dense {
            weight_std: -1.0,
            bias_std: 0.0
        })
        .unwrap_err(),
        Error::InvalidArgument {
            what: "dense: standard deviations must be ≥ 0"
        }
    );
    assert!(matches!(
        a.push(Layer::Dense {
            weight_std: f64::NAN,
            bias_std: 0.0
        }),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        a.push(Layer::AbRelu {
            a: f64::INFINITY,
            b: 0.0
        }),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        a.push(Layer::dense_standard(1.0, 0.0, 0)),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(a.is_empty());
    a.push(Layer::Relu).unwrap();
    a.push(Layer::Erf).unwrap();
    assert_eq!(
        a.push(Layer::Gelu),
        Err(Error::BufferTooSmall {
            needed: 3,
            given: 2
        })
    );
    assert_eq!(a.to_string(), "relu erf");
    assert!(Architecture::<f64, 1>::from_layers(&[Layer::Relu, Layer::Relu]).is_err());
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..10.0_f64,
        (-20i32..20, 1.0..10.0_f64).prop_map(|(e, m)| m * 10f64.powi(e)),
        Just(0.0),
        Just(1e-300),
        Just(1.7976931348623157e308),
        Just(5e-324),
    ]
}

fn layer() -> BoxedStrategy<Layer<f64>> {
    let closed = prop_oneof![
        (number(), number()).prop_map(|(w, b)| Layer::Dense {
            weight_std: w,
            bias_std: b
        }),
        (number(), number(), 1u32..=u32::MAX).prop_map(|(w, b, fan_in)| Layer::DenseStandard {
            weight_std: w,
            bias_std: b,
            fan_in
        }),
        Just(Layer::Relu),
        number().prop_map(|a| Layer::LeakyRelu { alpha: -a }),
        Just(Layer::Abs),
        (number(), number()).prop_map(|(a, b)| Layer::AbRelu { a: -a, b }),
        Just(Layer::Erf),
        Just(Layer::Gelu),
        Just(Layer::Sin),
        Just(Layer::Identity),
    ];
    #[cfg(feature = "quadrature")]
    let closed = prop_oneof![10 => closed, 1 => Just(Layer::Tanh)];
    closed.boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases(256)))]

    #[test]
    fn display_parses_back_f64(layers in prop::collection::vec(layer(), 1..=32)) {
        let a = Arch::from_layers(&layers).unwrap();
        let text = a.to_string();
        let b = Arch::parse(&text).unwrap();
        prop_assert_eq!(&b, &a);
        // Bit for bit, and the text is canonical.
        for (x, y) in a.layers().iter().zip(b.layers()) {
            prop_assert_eq!(format!("{x:?}"), format!("{y:?}"));
        }
        prop_assert_eq!(b.to_string(), text);
    }

    #[test]
    fn display_parses_back_f32(w in any::<f32>().prop_filter("finite", |v| v.is_finite()), a in any::<f32>().prop_filter("finite", |v| v.is_finite())) {
        let arch = Architecture::<f32>::from_layers(&[Layer::Dense { weight_std: w.abs(), bias_std: 0.5 }, Layer::LeakyRelu { alpha: a }]).unwrap();
        let b = Architecture::<f32>::parse(&arch.to_string()).unwrap();
        match (arch.layers()[0], b.layers()[0], arch.layers()[1], b.layers()[1]) {
            (Layer::Dense { weight_std: w1, .. }, Layer::Dense { weight_std: w2, .. }, Layer::LeakyRelu { alpha: a1 }, Layer::LeakyRelu { alpha: a2 }) => {
                prop_assert_eq!(w1.to_bits(), w2.to_bits());
                prop_assert_eq!(a1.to_bits(), a2.to_bits());
            }
            _ => prop_assert!(false),
        }
    }

    #[test]
    fn parser_never_panics(text in "\\PC{0,64}") {
        let _ = Arch::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_near_misses(text in "[a-z_]{0,10}(\\([-0-9.e,() ]{0,12}\\))?( [a-z_]{0,6})?") {
        match Arch::parse(&text) {
            Ok(a) => prop_assert_eq!(Arch::parse(&a.to_string()).unwrap(), a),
            Err(e) => prop_assert!(e.position <= text.len()),
        }
    }
}
