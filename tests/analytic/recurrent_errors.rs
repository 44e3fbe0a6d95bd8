//! Errors of the recurrent kernels: the text form's placement rules, the
//! typed errors of the routines with their zeroed outputs, the stream's
//! refusals, and the precision verdict.

use crate::recurrent::{gram, seq};
use ntk::analytic::{Architecture, Layer, RecurrentStream, RnnActivation, Shape};
use ntk::error::ParseErrorKind;
use ntk::Error;

#[test]
fn misplaced_rnn_layers_are_parse_errors() {
    let kind = |s: &str| {
        Architecture::<f64>::parse(s)
            .map(|_| ())
            .map_err(|e| (e.kind, e.position, e.token().to_string()))
    };
    let unexpected = ParseErrorKind::Unexpected;
    assert_eq!(
        kind("dense(1,0) rnn(1,1,0,relu) last dense(1,0)"),
        Err((unexpected, 11, "rnn(1,1,0,relu)".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,relu) relu dense(1,0)"),
        Err((unexpected, 16, "relu".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,relu) flatten dense(1,0)"),
        Err((unexpected, 16, "flatten".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,relu) last relu"),
        Err((unexpected, 21, "relu".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,relu) last dense(1,0) relu"),
        Err((unexpected, 32, "relu".into()))
    );
    assert_eq!(
        kind("dense(1,0) last dense(1,0)"),
        Err((unexpected, 11, "last".into()))
    );
    assert_eq!(kind("last"), Err((unexpected, 0, "last".into())));
    assert_eq!(
        kind("rnn(1,1,0,relu) last"),
        Err((ParseErrorKind::Missing, 20, String::new()))
    );
    assert_eq!(
        kind("rnn(1,1,0,flatten) last dense(1,0)"),
        Err((ParseErrorKind::OutOfRange, 10, "flatten".into()))
    );
    assert_eq!(
        kind("rnn(1,-1,0,relu) last dense(1,0)"),
        Err((ParseErrorKind::OutOfRange, 6, "-1".into()))
    );
    assert_eq!(
        kind("rnn(1,1,relu) last dense(1,0)").unwrap_err().0,
        ParseErrorKind::WrongArity
    );
}

/// The errors of the kernel routines: typed, with both outputs zeroed.
#[test]
fn errors_are_typed_and_zero_the_outputs() {
    let relu = RnnActivation::Relu;
    let cell = Layer::Rnn {
        weight_std: 1.0,
        input_std: 1.0,
        bias_std: 0.1,
        activation: relu,
    };
    let x = [1.0, 0.5, -1.0, 0.0, 2.0, 1.0];
    let shape = seq(3, 1);
    let check = |a: &Architecture<f64>, x: &[f64], shape: Shape, ws: &mut [f64], want: Error| {
        let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
        assert_eq!(
            a.gram_recurrent(x, shape, ws, &mut k, &mut t),
            Err(want),
            "{a}"
        );
        assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
        let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
        assert_eq!(
            a.gram_spatial(x, shape, ws, &mut k, &mut t),
            Err(want),
            "{a}"
        );
        assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
        let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
        assert_eq!(
            a.cross_recurrent(x, x, shape, ws, &mut k, &mut t),
            Err(want),
            "{a}"
        );
        assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    };
    let structure = Error::InvalidArgument {
        what: "rnn: the architecture must be `rnn(W,U,B,ACT) last|gap dense(V,BV)`",
    };
    // Built from layers, past the parser's checks.
    for layers in [
        &[cell, Layer::Relu, Layer::dense(1.0, 0.0)][..],
        &[cell, Layer::Last][..],
        &[cell, Layer::Last, Layer::dense(1.0, 0.0), Layer::Relu][..],
        &[cell, Layer::Last, Layer::dense_standard(1.0, 0.0, 4)][..],
    ] {
        let a = Architecture::from_layers(layers).unwrap();
        check(&a, &x, shape, &mut [], structure);
    }
    // rnn not first: the sequence routines refuse it, as the flat ones do.
    let a = Architecture::<f64>::from_layers(&[
        Layer::dense(1.0, 0.0),
        cell,
        Layer::Last,
        Layer::dense(1.0, 0.0),
    ])
    .unwrap();
    let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
    let mut ws = [0.0; 64];
    assert!(matches!(
        a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    let last = Architecture::<f64>::from_layers(&[Layer::Last, Layer::dense(1.0, 0.0)]).unwrap();
    assert!(matches!(
        last.gram_spatial(&x, shape, &mut ws, &mut k, &mut t),
        Err(Error::InvalidArgument { .. })
    ));
    let a: Architecture<f64> = "rnn(1,1,0.1,relu) gap dense(1,0)".parse().unwrap();
    let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
    assert_eq!(
        a.gram_flat(&x, 3, &mut k, &mut t),
        Err(Error::InvalidArgument {
            what: "spatial layer on flat inputs"
        })
    );
    assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    // Short workspace (gap keeps both sequences' variances: 10·L).
    assert_eq!(a.recurrent_workspace_len(shape), Ok(30));
    check(
        &a,
        &x,
        shape,
        &mut [0.0; 29],
        Error::BufferTooSmall {
            needed: 30,
            given: 29,
        },
    );
    // Flat or empty shapes, ragged inputs, non-finite inputs, short outputs.
    let flat = Error::InvalidArgument {
        what: "rnn: the inputs must be sequences (inputs N L D)",
    };
    check(&a, &x, Shape::Flat { dim: 3 }, &mut [0.0; 30], flat);
    check(
        &a,
        &x,
        seq(0, 1),
        &mut [0.0; 30],
        Error::InvalidArgument {
            what: "every size of the input shape must be at least 1",
        },
    );
    check(
        &a,
        &x[..5],
        shape,
        &mut [0.0; 30],
        Error::InvalidArgument {
            what: "the input length must be a multiple of the length of one input",
        },
    );
    let mut bad = x;
    bad[4] = f64::NAN;
    check(
        &a,
        &bad,
        shape,
        &mut [0.0; 30],
        Error::NonFinite { what: "inputs" },
    );
    let (mut k, mut t) = ([7.0; 3], [7.0; 4]);
    assert!(matches!(
        a.gram_recurrent(&x, shape, &mut [0.0; 30], &mut k, &mut t),
        Err(Error::BufferTooSmall { .. })
    ));
    assert_eq!((k, t), ([0.0; 3], [0.0; 4]));
    // Overflow.
    let huge: Architecture<f64> = "rnn(1e200,1e200,0,identity) last dense(1e200,0)"
        .parse()
        .unwrap();
    check(
        &huge,
        &x,
        shape,
        &mut [],
        Error::Overflow { what: "kernel" },
    );
    // The stream refuses gap and bad steps, leaving its state unchanged.
    assert!(matches!(
        RecurrentStream::<f64, 2>::new(&a),
        Err(Error::InvalidArgument { .. })
    ));
    let a: Architecture<f64> = "rnn(1,1,0.1,relu) last dense(1,0)".parse().unwrap();
    let mut s = RecurrentStream::<f64, 2>::new(&a).unwrap();
    s.push(&[[1.0], [2.0]]).unwrap();
    let before = s.clone();
    assert_eq!(
        s.push(&[[1.0], [f64::INFINITY]]),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert!(matches!(
        s.push::<0>(&[[], []]),
        Err(Error::InvalidArgument { .. })
    ));
    let (mut k1, mut t1, mut k2, mut t2) =
        ([[0.0; 2]; 2], [[0.0; 2]; 2], [[0.0; 2]; 2], [[0.0; 2]; 2]);
    s.gram(&mut k1, &mut t1).unwrap();
    before.gram(&mut k2, &mut t2).unwrap();
    assert_eq!((s.steps(), k1, t1), (1, k2, t2));
}

/// Nearly equal sequences behind erf of a huge variance: f32 cannot resolve
/// their correlation, and says so; f64 can.
#[test]
fn precision_loss_is_reported_in_f32() {
    let x = [1.0, 0.5, 1.0, 0.5001];
    let shape = seq(2, 1);
    let a: Architecture<f32> = "rnn(1e4,1e4,0,erf) last dense(1,0)".parse().unwrap();
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let (mut k, mut t) = ([1.0_f32; 4], [1.0_f32; 4]);
    let r = a.gram_recurrent(&xf, shape, &mut [], &mut k, &mut t);
    assert_eq!(r, Err(Error::PrecisionLoss { what: "kernel" }));
    assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    let a: Architecture<f64> = "rnn(1e4,1e4,0,erf) last dense(1,0)".parse().unwrap();
    gram(&a, &x, shape).unwrap();
}
