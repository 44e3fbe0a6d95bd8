//! Range checks: sizes that overflow `usize`, and the shared check that
//! makes the two empirical methods agree or refuse together.
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
