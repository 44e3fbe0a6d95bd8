//! Range checks of the infinite-width kernels: variances that leave the
//! normal floating-point range (tiny and subnormal inputs, underflowing
//! weights) are refused or accurate, never silently zero.
use crate::common::rel_err;
use ntk::analytic::Architecture;
use ntk::Error;

#[test]
fn cross_flat_with_no_training_inputs_writes_nothing_and_succeeds() {
    let a: Architecture<f64> = "dense(1,0) relu".parse().unwrap();
    assert_eq!(a.cross_flat(&[1.0], &[], 1, &mut [], &mut []), Ok(()));
    assert_eq!(a.cross_flat(&[], &[1.0, 2.0], 1, &mut [], &mut []), Ok(()));
    // Bad inputs are still refused when there is nothing to write.
    assert!(a.cross_flat(&[f64::NAN], &[], 1, &mut [], &mut []).is_err());
}

/// A bias-free ReLU network is 2-homogeneous in its inputs: K(s·x) = s²·K(x)
/// exactly in real arithmetic, and with power-of-two scales also in the
/// inputs' floating-point representation. Every accepted kernel of scaled
/// inputs must match the scaled kernel of the unscaled inputs; scales deep
/// in the subnormal range must be refused.
fn homogeneity_sweep<T>(arch: &str, tol: f64, deepest: i32)
where
    T: ntk::Real + core::str::FromStr + Into<f64> + Copy,
{
    let a: Architecture<T> = arch.parse().unwrap_or_else(|_| panic!("{arch}"));
    let base = [[1.0, 0.25], [-0.5, 0.75], [0.3, -0.9]];
    let to = |s: f64| base.map(|r| r.map(|v| T::from_f64(v * s)));
    let (mut k0, mut t0) = ([[T::ZERO; 3]; 3], [[T::ZERO; 3]; 3]);
    a.gram(&to(1.0), &mut k0, &mut t0).unwrap();
    let (k0, t0): (Vec<f64>, Vec<f64>) = (
        k0.as_flattened().iter().map(|&v| v.into()).collect(),
        t0.as_flattened().iter().map(|&v| v.into()).collect(),
    );
    let (mut accepted, mut refused) = (0, 0);
    for e in 0..=deepest {
        let s = 0.5f64.powi(e);
        let (mut k, mut t) = ([[T::ZERO; 3]; 3], [[T::ZERO; 3]; 3]);
        match a.gram(&to(s), &mut k, &mut t) {
            Ok(()) => {
                accepted += 1;
                let k: Vec<f64> = k.as_flattened().iter().map(|&v| v.into()).collect();
                let t: Vec<f64> = t.as_flattened().iter().map(|&v| v.into()).collect();
                // Compare in the unscaled frame (division by a power of two is exact).
                let k: Vec<f64> = k.iter().map(|v| v / (s * s)).collect();
                let t: Vec<f64> = t.iter().map(|v| v / (s * s)).collect();
                assert!(
                    rel_err(&k, &k0) <= tol,
                    "{arch}: NNGP at 2^-{e}: {}",
                    rel_err(&k, &k0)
                );
                assert!(
                    rel_err(&t, &t0) <= tol,
                    "{arch}: NTK at 2^-{e}: {}",
                    rel_err(&t, &t0)
                );
                assert!(
                    refused == 0,
                    "{arch}: accepted 2^-{e} after refusing a larger scale"
                );
            }
            Err(Error::PrecisionLoss { .. }) => {
                refused += 1;
                assert!(k.iter().chain(&t).flatten().all(|&v| v == T::ZERO));
            }
            Err(other) => panic!("{arch} at 2^-{e}: {other:?}"),
        }
    }
    assert!(
        accepted > 0 && refused > 0,
        "{arch}: {accepted} accepted, {refused} refused"
    );
}

#[test]
fn f32_kernels_of_tiny_inputs_are_accurate_or_refused() {
    homogeneity_sweep::<f32>("dense(1.5,0) relu dense(0.8,0)", 1e-5, 140);
    homogeneity_sweep::<f32>("dense(1,0) relu dense(1,0) relu dense(1,0)", 1e-5, 140);
}

#[test]
fn f64_kernels_of_tiny_inputs_are_accurate_or_refused() {
    homogeneity_sweep::<f64>("dense(1.5,0) relu dense(0.8,0)", 1e-13, 1065);
    homogeneity_sweep::<f64>(
        "dense(1,0) leaky_relu(0.1) dense(1,0) abs dense(1,0)",
        1e-13,
        1065,
    );
}

#[test]
fn relu_of_underflowing_variance_is_refused_not_switched_to_the_zero_convention() {
    // Θ(x, x) = 1.5 for any x ≠ 0; an underflowed variance gave 1.25.
    let a32: Architecture<f32> = "dense_std(1,0,1) relu dense_std(1,0,1)".parse().unwrap();
    let (mut k, mut t) = ([[0.0_f32; 1]; 1], [[0.0_f32; 1]; 1]);
    assert!(matches!(
        a32.gram(&[[1e-23]], &mut k, &mut t),
        Err(Error::PrecisionLoss { .. })
    ));
    assert_eq!((k[0][0], t[0][0]), (0.0, 0.0));
    a32.gram(&[[1e-3]], &mut k, &mut t).unwrap();
    assert!((t[0][0] - 1.5).abs() < 1e-6);
    let a64: Architecture<f64> = "dense_std(1,0,1) relu dense_std(1,0,1)".parse().unwrap();
    let (mut k, mut t) = ([[0.0; 1]; 1], [[0.0; 1]; 1]);
    assert!(matches!(
        a64.gram(&[[1e-170]], &mut k, &mut t),
        Err(Error::PrecisionLoss { .. })
    ));
    assert!(matches!(
        a64.kernel(&[1e-170], &[1e-170]),
        Err(Error::PrecisionLoss { .. })
    ));
    a64.gram(&[[1e-100]], &mut k, &mut t).unwrap();
    assert!((t[0][0] - 1.5).abs() < 1e-14);
}

#[test]
fn f32_inputs_near_the_smallest_subnormal_are_refused_not_zero() {
    let a: Architecture<f32> = "dense(1,0) relu dense(1,0)".parse().unwrap();
    let x = [[1.5e-45, 0.0], [0.0, 1.5e-45], [1.5e-45, 1.5e-45]];
    let (mut k, mut t) = ([[1.0_f32; 3]; 3], [[1.0_f32; 3]; 3]);
    assert!(matches!(
        a.gram(&x, &mut k, &mut t),
        Err(Error::PrecisionLoss { .. })
    ));
    assert!(k.iter().chain(&t).flatten().all(|&v| v == 0.0));
    let (mut kc, mut tc) = ([[1.0_f32; 3]; 1], [[1.0_f32; 3]; 1]);
    let train = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]];
    assert!(matches!(
        a.cross(&[[1e-22, 1e-22]], &train, &mut kc, &mut tc),
        Err(Error::PrecisionLoss { .. })
    ));
    assert!(matches!(
        a.cross(&[[1.0, 0.0]], &x, &mut kc, &mut tc),
        Err(Error::PrecisionLoss { .. })
    ));
}

#[test]
fn a_layer_whose_weights_underflow_the_variance_is_refused() {
    // w² · q underflows to exactly 0 without biases.
    let a: Architecture<f64> = "dense(1e-160,0) relu dense(1,0)".parse().unwrap();
    assert!(matches!(
        a.kernel(&[1.0, 0.0], &[0.0, 1.0]),
        Err(Error::PrecisionLoss { .. })
    ));
    // A bias keeps the variance normal, and the tiny weight term is negligible.
    let a: Architecture<f64> = "dense(1e-160,1) relu dense(1,0)".parse().unwrap();
    assert!(a.kernel(&[1.0, 0.0], &[0.0, 1.0]).is_ok());
}

#[test]
fn zero_inputs_are_not_tiny() {
    let a: Architecture<f64> = "dense(1,0) relu dense(1,0)".parse().unwrap();
    let (mut k, mut t) = ([[1.0; 2]; 2], [[1.0; 2]; 2]);
    a.gram(&[[0.0, 0.0], [-0.0, 0.0]], &mut k, &mut t).unwrap();
    assert!(k.iter().chain(&t).flatten().all(|&v| v == 0.0));
}
