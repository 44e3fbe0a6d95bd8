//! Monte Carlo kernels of finite networks against the infinite-width ones.

use crate::common::convergence::frob_rel;
use ntk::analytic::Architecture;
use ntk::empirical::{monte_carlo, MonteCarlo};
#[cfg(feature = "quadrature")]
use ntk::nn::Tanh;
use ntk::nn::{Abs, Dense, Erf, Gelu, Identity, LeakyRelu, Module, Params, Relu, Sin};
use ntk::{Error, Real, Rng};

const N: usize = 4;
const D: usize = 3;
const X: [[f64; D]; N] = [
    [1.0, 0.5, -0.3],
    [-0.2, 1.1, 0.4],
    [0.7, -0.8, 0.9],
    [1.0, 0.5, -0.3],
];

fn analytic(spec: &str) -> ([[f64; N]; N], [[f64; N]; N]) {
    let a: Architecture<f64> = spec.parse().unwrap();
    let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
    a.gram(&X, &mut k, &mut t).unwrap();
    (k, t)
}

fn estimate<Net>(net: &mut Net, samples: usize, seed: u64) -> ([[f64; N]; N], [[f64; N]; N])
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    let mut mc = MonteCarlo::new(samples, seed).unwrap();
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net>(N, 1)];
    let (mut s, mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N], [[0.0; N]; N]);
    mc.gram(net, &X, &mut work, &mut s, &mut k, &mut t).unwrap();
    (k, t)
}

const W: usize = 512;

/// A 3-W-W-1 network (4.1 MiB) allocated zeroed and filled in place: the
/// same draws as building its layers with `Dense::ntk` by value, without
/// the value ever being on the stack.
macro_rules! two_hidden {
    ($act:expr, $w:expr, $b:expr) => {{
        let mut net: Box<(Dense<f64, D, W>, _, Dense<f64, W, W>, _, Dense<f64, W, 1>)> =
            ntk::boxed::ntk($w, $b, &mut Rng::new(1));
        net.1 = $act;
        net.3 = $act;
        net
    }};
}

fn check<Net>(net: &mut Net, spec: &str, tol: f64)
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    let (_, t0) = analytic(spec);
    let (_, t) = estimate(net, 6, 3);
    let e = frob_rel(&t, &t0);
    assert!(e < tol, "{spec}: relative distance {e}");
}

#[test]
fn wide_networks_approach_the_analytic_ntk() {
    check(
        &mut *two_hidden!(Relu, 1.5, 0.1),
        "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)",
        0.08,
    );
    check(
        &mut *two_hidden!(Abs, 1.2, 0.2),
        "dense(1.2,0.2) abs dense(1.2,0.2) abs dense(1.2,0.2)",
        0.08,
    );
    check(
        &mut *two_hidden!(LeakyRelu { alpha: 0.2 }, 1.3, 0.0),
        "dense(1.3,0) leaky_relu(0.2) dense(1.3,0) leaky_relu(0.2) dense(1.3,0)",
        0.08,
    );
    check(
        &mut *two_hidden!(Erf, 1.4, 0.1),
        "dense(1.4,0.1) erf dense(1.4,0.1) erf dense(1.4,0.1)",
        0.08,
    );
    check(
        &mut *two_hidden!(Gelu, 1.4, 0.1),
        "dense(1.4,0.1) gelu dense(1.4,0.1) gelu dense(1.4,0.1)",
        0.08,
    );
    check(
        &mut *two_hidden!(Sin, 1.0, 0.3),
        "dense(1,0.3) sin dense(1,0.3) sin dense(1,0.3)",
        0.08,
    );
    #[cfg(feature = "quadrature")]
    check(
        &mut *two_hidden!(Tanh, 1.5, 0.1),
        "dense(1.5,0.1) tanh dense(1.5,0.1) tanh dense(1.5,0.1)",
        0.08,
    );
    check(
        &mut *two_hidden!(Identity, 0.9, 0.4),
        "dense(0.9,0.4) identity dense(0.9,0.4) identity dense(0.9,0.4)",
        0.08,
    );
}

#[test]
fn distance_shrinks_with_width() {
    let spec = "dense(1.5,0.1) relu dense(1.5,0.1)";
    let (_, t0) = analytic(spec);
    fn one_hidden<const H: usize>() -> (Dense<f64, D, H>, Relu, Dense<f64, H, 1>) {
        let mut rng = Rng::new(2);
        (
            Dense::ntk(1.5, 0.1, &mut rng),
            Relu,
            Dense::ntk(1.5, 0.1, &mut rng),
        )
    }
    let e_small = frob_rel(&estimate(&mut one_hidden::<32>(), 16, 5).1, &t0);
    let e_large = frob_rel(&estimate(&mut one_hidden::<2048>(), 16, 5).1, &t0);
    // 64 times wider: about 8 times closer.
    assert!(e_large < e_small / 3.0, "{e_small} → {e_large}");
}

#[test]
fn nngp_is_the_output_covariance() {
    const H: usize = 64;
    let mut rng = Rng::new(4);
    let mut net: (Dense<f64, D, H>, Erf, Dense<f64, H, 1>) = (
        Dense::ntk(1.2, 0.3, &mut rng),
        Erf,
        Dense::ntk(1.2, 0.3, &mut rng),
    );
    let (k, _) = estimate(&mut net, 4000, 9);
    let (k0, _) = analytic("dense(1.2,0.3) erf dense(1.2,0.3)");
    // Sample covariance of 4000 Gaussian draws: a few percent.
    assert!(frob_rel(&k, &k0) < 0.06, "{}", frob_rel(&k, &k0));
}

#[test]
fn standard_parameterization() {
    // With σb = 1 the bias gradient of `nn::Dense::standard` (σb·b, b ~ N(0, 1))
    // and of neural-tangents' standard Dense (b ~ N(0, σb²)) agree.
    const H: usize = 1024;
    let mut rng = Rng::new(6);
    let mut net: (Dense<f64, D, H>, Relu, Dense<f64, H, 1>) = (
        Dense::standard(1.5, 1.0, &mut rng),
        Relu,
        Dense::standard(1.5, 1.0, &mut rng),
    );
    let (_, t) = estimate(&mut net, 8, 11);
    let (_, t0) = analytic(&format!("dense_std(1.5,1,{D}) relu dense_std(1.5,1,{H})"));
    assert!(frob_rel(&t, &t0) < 0.05, "{}", frob_rel(&t, &t0));
}

#[test]
fn outputs_are_symmetric_and_reproducible() {
    let mut net = two_hidden!(Relu, 1.5, 0.1);
    let (k1, t1) = estimate(&mut *net, 2, 42);
    let (k2, t2) = estimate(&mut *net, 2, 42);
    assert_eq!(k1, k2);
    assert_eq!(t1, t2);
    for i in 0..N {
        for j in 0..N {
            assert_eq!(k1[i][j].to_bits(), k1[j][i].to_bits());
            assert_eq!(t1[i][j].to_bits(), t1[j][i].to_bits());
        }
    }
    // Rows 0 and 3 are the same input.
    assert_eq!(t1[0], t1[3]);
    let (_, t3) = estimate(&mut *net, 2, 43);
    assert_ne!(t1, t3);
}

#[test]
fn errors() {
    assert!(matches!(
        MonteCarlo::new(0, 1),
        Err(Error::InvalidArgument { .. })
    ));
    type Net = (Dense<f32, 2, 4>, Relu, Dense<f32, 4, 1>);
    let mut rng = Rng::new(0);
    let mut net: Net = (
        Dense::ntk(1.0, 0.0, &mut rng),
        Relu,
        Dense::ntk(1.0, 0.0, &mut rng),
    );
    let mut mc = MonteCarlo::new(2, 1).unwrap();
    let (mut s, mut k, mut t) = ([[0.0_f32; 2]; 2], [[5.0_f32; 2]; 2], [[5.0_f32; 2]; 2]);
    let mut short = [0.0_f32; 3];
    assert!(matches!(
        mc.gram(
            &mut net,
            &[[1.0, 0.0], [0.0, 1.0]],
            &mut short,
            &mut s,
            &mut k,
            &mut t
        ),
        Err(Error::BufferTooSmall { .. })
    ));
    let mut work = vec![0.0_f32; monte_carlo::workspace_len::<f32, Net>(2, 1)];
    assert_eq!(
        mc.gram(
            &mut net,
            &[[1.0, f32::NAN], [0.0, 1.0]],
            &mut work,
            &mut s,
            &mut k,
            &mut t
        ),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert_eq!(
        (s, k, t),
        ([[0.0; 2]; 2], [[0.0; 2]; 2], [[0.0; 2]; 2]),
        "zeroed on error"
    );
    // Huge weights overflow f32.
    let mut big: Net = (
        Dense::ntk(1e30, 0.0, &mut rng),
        Relu,
        Dense::ntk(1e30, 0.0, &mut rng),
    );
    let r = mc.gram(
        &mut big,
        &[[1.0, 0.0], [0.0, 1.0]],
        &mut work,
        &mut s,
        &mut k,
        &mut t,
    );
    assert!(
        matches!(
            r,
            Err(Error::Overflow { .. }) | Err(Error::NonFinite { .. })
        ),
        "{r:?}"
    );
    assert!(k
        .iter()
        .flatten()
        .chain(t.iter().flatten())
        .all(|&v| v == 0.0));
    assert!(f32::NAN.is_nan() && <f32 as Real>::ONE == 1.0);
}
