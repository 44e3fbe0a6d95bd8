//! The convolutional-kernel oracle of the fuzz target (`fuzz/src/cntk.rs`,
//! written independently of `src/analytic`) against the neural-tangents
//! reference kernels of `tests/data/structured_public.txt`: the oracle that
//! checks the library is itself checked against the reference.

#[path = "../fuzz/src/cntk.rs"]
mod cntk;
mod common;

use common::reference::{CONV1D, CONV2D};

use ntk::analytic::text::{self, Matrix};
use ntk::analytic::Architecture;

const STRUCTURED: &str = include_str!("data/structured_public.txt");

/// The cases of the file built only from layers the oracle covers: the pure
/// convolutional ones.
fn cases() -> impl Iterator<Item = &'static str> {
    CONV1D.into_iter().chain(CONV2D)
}

/// Largest |a − b| over the largest |b|.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn oracle_matches_the_reference_kernels() {
    let mut seen = Vec::new();
    for case in text::cases(STRUCTURED) {
        let name = case.name();
        if !cases().any(|c| c == name) {
            continue;
        }
        let (n, d) = case.dims().unwrap();
        let shape = case.shape().unwrap();
        let mut x = vec![0.0; n * d];
        case.read_inputs(&mut x).unwrap();
        let (mut kr, mut tr) = (vec![0.0; n * n], vec![0.0; n * n]);
        assert!(case.read_reference(Matrix::Nngp, &mut kr).unwrap());
        assert!(case.read_reference(Matrix::Ntk, &mut tr).unwrap());
        let arch: Architecture<f64, 32> = case.architecture().unwrap();
        let ops = cntk::ops(arch.layers()).unwrap_or_else(|| panic!("{name}: not covered"));
        let (k, t) = cntk::cross(&ops, shape, &x, &x).unwrap_or_else(|| panic!("{name}: refused"));
        let (ek, et) = (rel_err(&k, &kr), rel_err(&t, &tr));
        // Measured: NNGP within 1.5e-15, NTK within 6.4e-9 (the arc-cosine's
        // derivative kernel at correlations that round near 1).
        assert!(ek <= 1e-12, "{name}: NNGP error {ek:e}");
        assert!(et <= 1e-7, "{name}: NTK error {et:e}");
        seen.push(name);
    }
    assert_eq!(seen, cases().collect::<Vec<_>>());
}

#[test]
fn oracle_refuses_what_does_not_fit() {
    use cntk::Op;
    use ntk::analytic::Shape;
    let seq = Shape::Sequence {
        length: 4,
        channels: 1,
    };
    let x = [1.0, 0.5, -1.0, 2.0];
    let dense = Op::Dense { w: 1.0, b: 0.0 };
    // Not ending flat; a window that does not divide the length; a
    // convolution after flatten; an even filter.
    assert_eq!(cntk::kernel(&[dense], seq, &x, &x), None);
    assert_eq!(cntk::kernel(&[Op::AvgPool(3), Op::Gap], seq, &x, &x), None);
    let conv = |q| Op::Conv {
        q,
        w: 1.0,
        b: 0.0,
        circular: false,
    };
    assert_eq!(cntk::kernel(&[Op::Flatten, conv(3)], seq, &x, &x), None);
    assert_eq!(cntk::kernel(&[conv(2), Op::Flatten], seq, &x, &x), None);
    // A width-1 identity convolution and flatten: the mean over positions
    // of x[s]·x′[s] (NNGP), with Θ = Σ for the one layer.
    let (k, t) = cntk::kernel(&[conv(1), Op::Flatten], seq, &x, &x).unwrap();
    let want = x.iter().map(|v| v * v).sum::<f64>() / 4.0;
    assert!((k - want).abs() <= 1e-15 && (t - want).abs() <= 1e-15);
}
