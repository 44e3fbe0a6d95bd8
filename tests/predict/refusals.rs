//! Numbers returned by `ntk::predict` are finite or refused with a typed
//! error; failed calls leave zeroed outputs; counts that would overflow
//! `usize` are typed errors.

use ntk::linalg::Regularizer;
use ntk::predict::{max_learning_rate, OnlineGp, Spectrum};
use ntk::Error;

#[test]
fn max_learning_rate_of_a_subnormal_kernel_is_an_overflow_error() {
    // 2·N·K / λ_max = 2 / 1e-310 is beyond the range.
    assert_eq!(
        max_learning_rate(&[[1e-310_f64]], 1, &mut [[0.0]]),
        Err(Error::Overflow {
            what: "learning rate"
        })
    );
    // A small but normal kernel still has its rate: 2·1·2 / 1e-300.
    let got = max_learning_rate(&[[1e-300_f64]], 2, &mut [[0.0]]).unwrap();
    assert!((got - 4e300).abs() <= 1e-15 * 4e300, "{got:e}");
}

#[test]
fn max_learning_rate_with_usize_max_outputs_is_a_typed_error() {
    let identity = [[1.0_f64, 0.0], [0.0, 1.0]];
    assert_eq!(
        max_learning_rate(&identity, usize::MAX, &mut [[0.0; 2]; 2]),
        Err(Error::Overflow {
            what: "training set size N·outputs"
        })
    );
    // One kernel row of size 1 with usize::MAX outputs does not overflow.
    let got = max_learning_rate(&[[2.0_f64]], usize::MAX, &mut [[0.0]]).unwrap();
    assert_eq!(got, usize::MAX as f64);
}

#[test]
fn spectrum_whose_regularised_eigenvalue_overflows_is_refused_and_zeroed() {
    let mut s = Spectrum::<f64, 2>::new();
    s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::None)
        .unwrap();
    assert_eq!(
        s.compute(&[[1e308, 0.0], [0.0, 1.0]], Regularizer::Absolute(1e308)),
        Err(Error::Overflow {
            what: "eigenvalues"
        })
    );
    assert_eq!(s, Spectrum::new(), "a failed compute left values behind");
}

#[test]
fn failed_spectrum_compute_leaves_no_stale_spectrum() {
    let mut s = Spectrum::<f64, 2>::new();
    s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::None)
        .unwrap();
    assert!((s.values()[1] - 3.0).abs() < 1e-12);
    assert!(matches!(
        s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::Absolute(-1.0)),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(s.values(), &[0.0; 2]);
    assert_eq!(s.vectors(), &[[0.0; 2]; 2]);
    assert!(matches!(
        s.compute(&[[f64::NAN, 0.0], [1.0, 2.0]], Regularizer::None),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(s, Spectrum::new());
}

#[test]
fn online_gp_variance_that_overflows_is_refused_and_zeroes_the_mean() {
    let mut gp = OnlineGp::<f64, 3>::new(0.0);
    gp.push(&[], 1.0, [0.5]).unwrap();
    let mut mean = [7.0];
    // 1 − (1e200)² is −∞.
    assert_eq!(
        gp.predict_with_variance(&[1e200], 1.0, &mut mean),
        Err(Error::Overflow {
            what: "posterior variance"
        })
    );
    assert_eq!(mean, [0.0]);
    // A non-finite k(x, x) zeroes the mean as well.
    let mut mean = [7.0];
    assert_eq!(
        gp.predict_with_variance(&[0.5], f64::NAN, &mut mean),
        Err(Error::NonFinite {
            what: "kernel diagonal"
        })
    );
    assert_eq!(mean, [0.0]);
    // In range: the GP posterior of one point, 1 − k²/k₀ and k·y/k₀.
    let mut mean = [0.0];
    let var = gp.predict_with_variance(&[0.5], 1.0, &mut mean).unwrap();
    assert_eq!((var, mean), (0.75, [0.25]));
}

#[test]
fn online_gp_diagonal_plus_noise_that_overflows_is_a_typed_error() {
    let mut gp = OnlineGp::<f64, 2>::new(f64::MAX);
    assert_eq!(
        gp.push(&[], f64::MAX, [1.0]),
        Err(Error::Overflow {
            what: "kernel diagonal plus noise"
        })
    );
    assert!(gp.is_empty());
}
