//! The error rule of the analytic kernel routines: on any `Err`, argument
//! errors as much as numerical failures, every entry of both outputs is
//! zeroed.

use ntk::analytic::Architecture;
use ntk::Error;

/// What the outputs hold before a call.
const S: f64 = 7.25;

fn arch() -> Architecture<f64> {
    "dense(1.5,0.1) relu dense(1.5,0.1)".parse().unwrap()
}

fn all_zero(m: &[f64]) -> bool {
    m.iter().all(|&v| v == 0.0 && v.is_sign_positive())
}

#[test]
fn gram_zeroes_both_outputs_on_an_argument_error() {
    let a = arch();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let x = [[1.0, 0.0], [0.0, bad], [0.6, 0.8]];
        let (mut k, mut t) = ([[S; 3]; 3], [[S; 3]; 3]);
        assert_eq!(
            a.gram(&x, &mut k, &mut t),
            Err(Error::NonFinite { what: "inputs" })
        );
        assert!(all_zero(k.as_flattened()) && all_zero(t.as_flattened()));
    }
}

#[test]
fn cross_zeroes_both_outputs_on_an_argument_error() {
    let a = arch();
    let train = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]];
    let bad = [[f64::NAN, 0.0]];
    // In the test inputs.
    let (mut k, mut t) = ([[S; 3]; 1], [[S; 3]; 1]);
    assert_eq!(
        a.cross(&bad, &train, &mut k, &mut t),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert!(all_zero(k.as_flattened()) && all_zero(t.as_flattened()));
    // In the training inputs.
    let (mut k, mut t) = ([[S; 1]; 3], [[S; 1]; 3]);
    assert_eq!(
        a.cross(&train, &bad, &mut k, &mut t),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert!(all_zero(k.as_flattened()) && all_zero(t.as_flattened()));
}

#[test]
fn gram_flat_zeroes_what_the_outputs_hold_on_an_argument_error() {
    let a = arch();
    let shape = Error::InvalidArgument {
        what: "the input length must be a nonzero multiple of the dimension",
    };
    // A dimension of 0, and one that does not divide the input length.
    for d in [0, 2] {
        let (mut k, mut t) = (vec![S; 9], vec![S; 9]);
        assert_eq!(a.gram_flat(&[1.0, 2.0, 3.0], d, &mut k, &mut t), Err(shape));
        assert!(all_zero(&k) && all_zero(&t), "d = {d}");
    }
    // Outputs too small: each is zeroed as far as it goes, the one that is
    // large enough too.
    let (mut k, mut t) = (vec![S; 4], vec![S; 9]);
    assert_eq!(
        a.gram_flat(&[1.0, 2.0, 3.0], 1, &mut k, &mut t),
        Err(Error::BufferTooSmall {
            needed: 9,
            given: 4
        })
    );
    assert!(all_zero(&k) && all_zero(&t));
    // A non-finite input, with outputs larger than needed: all of them.
    let (mut k, mut t) = (vec![S; 12], vec![S; 12]);
    assert_eq!(
        a.gram_flat(&[1.0, f64::NAN, 3.0], 1, &mut k, &mut t),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert!(all_zero(&k) && all_zero(&t));
}

#[test]
fn cross_flat_zeroes_what_the_outputs_hold_on_an_argument_error() {
    let a = arch();
    let shape = Error::InvalidArgument {
        what: "the input length must be a nonzero multiple of the dimension",
    };
    let x = [1.0, 0.0, 0.0, 1.0];
    // The test inputs, then the training inputs, of a length that the
    // dimension does not divide; a dimension of 0.
    for (x1, x2, d) in [
        (&x[..3], &x[..], 2),
        (&x[..], &x[..3], 2),
        (&x[..], &x[..], 0),
    ] {
        let (mut k, mut t) = (vec![S; 4], vec![S; 4]);
        assert_eq!(a.cross_flat(x1, x2, d, &mut k, &mut t), Err(shape));
        assert!(all_zero(&k) && all_zero(&t), "{x1:?} {x2:?} {d}");
    }
    // Outputs too small.
    let (mut k, mut t) = (vec![S; 4], vec![S; 3]);
    assert_eq!(
        a.cross_flat(&x, &x, 2, &mut k, &mut t),
        Err(Error::BufferTooSmall {
            needed: 4,
            given: 3
        })
    );
    assert!(all_zero(&k) && all_zero(&t));
    // A non-finite training input.
    let (mut k, mut t) = (vec![S; 6], vec![S; 6]);
    assert_eq!(
        a.cross_flat(&x, &[0.5, f64::INFINITY], 2, &mut k, &mut t),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert!(all_zero(&k) && all_zero(&t));
}

#[test]
fn a_numerical_failure_zeroes_every_entry_of_flat_outputs() {
    // Each layer multiplies the variance by 1e200: the kernel overflows.
    let a: Architecture<f64> = "dense(1e100,0) relu dense(1e100,0) relu dense(1e100,0)"
        .parse()
        .unwrap();
    let x = [1.0, 0.0, 0.0, 1.0];
    // Larger than the 2 × 2 result: the entries past it are zeroed as well.
    let (mut k, mut t) = (vec![S; 6], vec![S; 6]);
    assert_eq!(
        a.gram_flat(&x, 2, &mut k, &mut t),
        Err(Error::Overflow { what: "kernel" })
    );
    assert!(all_zero(&k) && all_zero(&t));
    let (mut k, mut t) = (vec![S; 6], vec![S; 6]);
    assert_eq!(
        a.cross_flat(&x, &x, 2, &mut k, &mut t),
        Err(Error::Overflow { what: "kernel" })
    );
    assert!(all_zero(&k) && all_zero(&t));
}
