//! The analytic kernels against the neural-tangents reference file.

use crate::common::rel_err;
use ntk::analytic::text::{self, Matrix};
use ntk::analytic::Architecture;
use ntk::Real;

const PUBLIC: &str = include_str!("../data/analytic_public.txt");

fn check_file<T: Real>(file: &str, tol: f64) -> usize {
    let mut count = 0;
    for case in text::cases(file) {
        let (n, d) = case
            .dims()
            .unwrap_or_else(|e| panic!("{}: {e}", case.name()));
        let mut x = vec![T::ZERO; n * d];
        case.read_inputs(&mut x).unwrap();
        let mut k_ref = vec![0.0_f64; n * n];
        let mut t_ref = vec![0.0_f64; n * n];
        assert!(case.read_reference(Matrix::Nngp, &mut k_ref).unwrap());
        assert!(case.read_reference(Matrix::Ntk, &mut t_ref).unwrap());
        let arch = Architecture::<T>::parse(case.arch().unwrap()).unwrap();
        let mut k = vec![T::ZERO; n * n];
        let mut t = vec![T::ZERO; n * n];
        arch.gram_flat(&x, d, &mut k, &mut t).unwrap();
        let (ek, et) = (rel_err(&k, &k_ref), rel_err(&t, &t_ref));
        assert!(ek <= tol, "{}: nngp error {ek:e}", case.name());
        assert!(et <= tol, "{}: ntk error {et:e}", case.name());
        count += 1;
    }
    count
}

#[test]
fn public_cases_f64() {
    assert_eq!(check_file::<f64>(PUBLIC, 1e-6), 40);
}

#[test]
fn public_cases_f32() {
    assert_eq!(check_file::<f32>(PUBLIC, 1e-3), 40);
}

#[test]
fn public_cases_f64_error_is_small() {
    // The recursions agree with neural-tangents far below the contract bound.
    let mut worst = 0.0_f64;
    for case in text::cases(PUBLIC) {
        let (n, d) = case.dims().unwrap();
        let mut x = vec![0.0; n * d];
        case.read_inputs(&mut x).unwrap();
        let (mut kr, mut tr) = (vec![0.0; n * n], vec![0.0; n * n]);
        case.read_reference(Matrix::Nngp, &mut kr).unwrap();
        case.read_reference(Matrix::Ntk, &mut tr).unwrap();
        let arch = Architecture::<f64>::parse(case.arch().unwrap()).unwrap();
        let (mut k, mut t) = (vec![0.0; n * n], vec![0.0; n * n]);
        arch.gram_flat(&x, d, &mut k, &mut t).unwrap();
        worst = worst.max(rel_err(&k, &kr)).max(rel_err(&t, &tr));
    }
    assert!(worst < 1e-7, "worst relative error {worst:e}");
}
