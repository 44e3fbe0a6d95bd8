//! Range checks: sizes that overflow `usize`, variances that leave the
//! normal floating-point range, and the shared check that makes the two
//! empirical methods agree or refuse together.
use ntk::analytic::Architecture;
use ntk::empirical::{jacobian, structured, JacobianModel};
use ntk::nn::{Dense, Erf, Relu, Tanh};
use ntk::{Error, Rng};

/// A model declaring absurd sizes; its Jacobian is never asked for.
struct Absurd<const K: usize, const P: usize>;
impl<const K: usize, const P: usize> JacobianModel<f64, f64> for Absurd<K, P> {
    const OUTPUTS: usize = K;
    const PARAMS: usize = P;
    fn jacobian(&self, _: &f64, out: &mut [f64]) -> Result<(), Error> {
        out.fill(1.0);
        Ok(())
    }
}

#[test]
fn jacobian_with_usize_max_params_is_refused_not_panicking() {
    type M = Absurd<1, { usize::MAX }>;
    assert_eq!(jacobian::workspace_len::<f64, f64, M>(2), usize::MAX);
    let mut ws = [0.0; 64];
    let mut out = [[7.0; 2]; 2];
    let r = jacobian::ntk(&Absurd::<1, { usize::MAX }>, &[1.0, 2.0], &mut ws, &mut out);
    assert_eq!(
        r,
        Err(Error::BufferTooSmall {
            needed: usize::MAX,
            given: 64
        })
    );
}

#[test]
fn jacobian_whose_size_product_wraps_is_refused_not_panicking() {
    // 2⁴⁰ · 2⁴⁰ wraps to 0 in 64-bit arithmetic.
    type M = Absurd<{ 1 << 40 }, { 1 << 40 }>;
    assert_eq!(jacobian::workspace_len::<f64, f64, M>(1), usize::MAX);
    let mut ws = [0.0; 8];
    let mut out = [[0.0; 1]; 1];
    let r = jacobian::ntk(
        &Absurd::<{ 1 << 40 }, { 1 << 40 }>,
        &[1.0],
        &mut ws,
        &mut out,
    );
    assert!(matches!(
        r,
        Err(Error::BufferTooSmall {
            needed: usize::MAX,
            ..
        })
    ));
    let mut cross = [[0.0; 1]; 1];
    let r = jacobian::ntk_cross(
        &Absurd::<{ 1 << 40 }, { 1 << 40 }>,
        &[1.0],
        &[2.0],
        &mut ws,
        &mut cross,
    );
    assert!(matches!(
        r,
        Err(Error::BufferTooSmall {
            needed: usize::MAX,
            ..
        })
    ));
}

#[test]
fn cross_flat_with_no_training_inputs_writes_nothing_and_succeeds() {
    let a: Architecture<f64> = "dense(1,0) relu".parse().unwrap();
    assert_eq!(a.cross_flat(&[1.0], &[], 1, &mut [], &mut []), Ok(()));
    assert_eq!(a.cross_flat(&[], &[1.0, 2.0], 1, &mut [], &mut []), Ok(()));
    // Bad inputs are still refused when there is nothing to write.
    assert!(a.cross_flat(&[f64::NAN], &[], 1, &mut [], &mut []).is_err());
}

/// Relative distance of `got` from `want`, against the largest entry of `want`.
fn rel(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .fold(0.0_f64, |m, (g, w)| m.max((g - w).abs()))
        / scale
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
                    rel(&k, &k0) <= tol,
                    "{arch}: NNGP at 2^-{e}: {}",
                    rel(&k, &k0)
                );
                assert!(
                    rel(&t, &t0) <= tol,
                    "{arch}: NTK at 2^-{e}: {}",
                    rel(&t, &t0)
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

type Net64 = (Dense<f64, 2, 8>, Relu, Dense<f64, 8, 1>);
type TanhNet = (Dense<f64, 2, 8>, Tanh, Dense<f64, 8, 1>);
type ErfNet = (Dense<f64, 2, 8>, Erf, Dense<f64, 8, 1>);

/// Both methods on the same network and inputs: both refuse with the same
/// error, or both succeed and agree.
fn agree_or_refuse_together<Net>(net: &Net, xs: &[[f64; 2]; 3]) -> Result<(), Error>
where
    Net: ntk::nn::Module<f64, [f64; 2], Output = [f64; 1]> + ntk::nn::Params<f64>,
{
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(3, 1)];
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 2], Net>(3)];
    let (mut s, mut j) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    let rs = structured::ntk(net, xs, &mut ws, &mut s);
    let rj = jacobian::ntk(net, xs, &mut wj, &mut j);
    assert_eq!(rs, rj, "structured {rs:?}, Jacobian {rj:?} on {xs:?}");
    if rs.is_ok() {
        let scale = (0..3).fold(0.0_f64, |m, i| m.max(s[i][i]));
        for (a, b) in s.as_flattened().iter().zip(j.as_flattened()) {
            assert!((a - b).abs() <= 1e-12 * scale, "{a} vs {b} on {xs:?}");
        }
    } else {
        assert!(s.iter().chain(&j).flatten().all(|&v| v == 0.0));
    }
    rs
}

#[test]
fn huge_weights_with_subnormal_inputs_agree_or_both_refuse() {
    let mut rng = Rng::new(3);
    let net: Net64 = (
        Dense::ntk(1e150, 0.0, &mut rng),
        Relu,
        Dense::ntk(1.0, 0.0, &mut rng),
    );
    let xs = [[1e-310, 3e-311], [-2e-310, 1e-310], [1e-310, 1e-310]];
    assert!(matches!(
        agree_or_refuse_together(&net, &xs),
        Err(Error::PrecisionLoss { .. })
    ));
    // With biases the subnormal part is negligible and both succeed.
    let net: Net64 = (
        Dense::ntk(1e150, 0.5, &mut rng),
        Relu,
        Dense::ntk(1.0, 0.5, &mut rng),
    );
    assert!(agree_or_refuse_together(&net, &xs).is_ok());
}

#[test]
fn saturating_activations_of_huge_inputs_agree_or_both_refuse() {
    let mut rng = Rng::new(4);
    let xs = [[1e154, 0.0], [0.0, -1e154], [1e154, 1e154]];
    let net: TanhNet = (
        Dense::ntk(1.0, 0.1, &mut rng),
        Tanh,
        Dense::ntk(1.0, 0.1, &mut rng),
    );
    assert!(matches!(
        agree_or_refuse_together(&net, &xs),
        Err(Error::Overflow { .. })
    ));
    let net: ErfNet = (
        Dense::ntk(1.0, 0.1, &mut rng),
        Erf,
        Dense::ntk(1.0, 0.1, &mut rng),
    );
    assert!(matches!(
        agree_or_refuse_together(&net, &xs),
        Err(Error::Overflow { .. })
    ));
}

#[test]
fn the_two_methods_agree_or_refuse_together_across_the_range() {
    let mut rng = Rng::new(5);
    let mut outcomes = [0usize; 3];
    for ew in [-150, -60, -10, 0, 10, 60, 150] {
        for ex in [
            -320, -300, -200, -160, -100, -10, 0, 10, 100, 150, 154, 200, 300,
        ] {
            for bs in [0.0, 0.3] {
                let (w, x) = (10f64.powi(ew), 10f64.powi(ex));
                let xs = [[x, 0.3 * x], [-0.7 * x, x], [0.2 * x, -x]];
                let net: Net64 = (
                    Dense::ntk(w, bs, &mut rng),
                    Relu,
                    Dense::ntk(1.0, bs, &mut rng),
                );
                let t: TanhNet = (
                    Dense::ntk(w, bs, &mut rng),
                    Tanh,
                    Dense::ntk(1.0, bs, &mut rng),
                );
                for r in [
                    agree_or_refuse_together(&net, &xs),
                    agree_or_refuse_together(&t, &xs),
                ] {
                    outcomes[match r {
                        Ok(()) => 0,
                        Err(Error::PrecisionLoss { .. }) => 1,
                        Err(_) => 2,
                    }] += 1;
                }
            }
        }
    }
    // The sweep reaches all three outcomes.
    assert!(outcomes.iter().all(|&c| c > 0), "{outcomes:?}");
}
