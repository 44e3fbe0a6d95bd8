//! A wide network trained by gradient descent follows the NTK prediction,
//! and its empirical NTK moves less the wider it is.

use ntk::empirical::structured;
use ntk::linalg::Regularizer;
use ntk::nn::{Dense, Relu};
use ntk::predict::{max_learning_rate, GradientDescentMse, Spectrum};
use ntk::train::{mse_loss, ntk_drift, outputs, step, train};
use ntk::{Error, Rng};

/// One hidden layer: the width is the only size that grows.
type Net<const W: usize> = (Dense<f64, 1, W>, Relu, Dense<f64, W, 1>);

const N: usize = 8;
const M: usize = 5;

/// One value per point.
type Column<const R: usize> = [[f64; 1]; R];

fn data() -> (Column<N>, Column<N>, Column<M>) {
    let xs: [[f64; 1]; N] = core::array::from_fn(|i| [-1.0 + 2.0 * i as f64 / (N - 1) as f64]);
    let y = xs.map(|x| [(2.0 * x[0]).sin()]);
    let xt: [[f64; 1]; M] =
        core::array::from_fn(|i| [-0.9 + 1.8 * i as f64 / (M - 1) as f64 + 0.05]);
    (xs, y, xt)
}

fn net<const W: usize>(seed: u64) -> Box<Net<W>> {
    let mut rng = Rng::new(seed);
    Box::new((
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    ))
}

struct Run {
    /// Largest |network − NTK prediction| on the test inputs after training.
    gap: f64,
    /// Largest |f_t − f₀| of the prediction (how far the outputs moved).
    moved: f64,
    drift: f64,
    initial_loss: f64,
    loss: f64,
}

fn run<const W: usize>(seed: u64, steps: u32) -> Run {
    let (xs, y, xt) = data();
    let mut net = net::<W>(seed);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net<W>>(N + M, 1)];
    let (mut k0, mut kt0) = ([[0.0; N]; N], [[0.0; N]; M]);
    structured::ntk(&*net, &xs, &mut ws, &mut k0).unwrap();
    structured::ntk_cross(&*net, &xt, &xs, &mut ws, &mut kt0).unwrap();
    let (mut f0, mut f0t) = ([[0.0; 1]; N], [[0.0; 1]; M]);
    outputs(&*net, &xs, &mut f0).unwrap();
    outputs(&*net, &xt, &mut f0t).unwrap();

    let mut work = [[0.0; N]; N];
    let eta = 0.25 * max_learning_rate(&k0, 1, &mut work).unwrap();
    let gd = GradientDescentMse::new(&y, eta)
        .unwrap()
        .with_initial_outputs(&f0)
        .unwrap()
        .with_regularizer(Regularizer::None)
        .unwrap();
    let mut spectrum = Spectrum::new();
    gd.spectrum(&k0, &mut spectrum).unwrap();
    let mut predicted = [[0.0; 1]; M];
    gd.test_outputs_after_steps(&spectrum, &kt0, Some(&f0t), steps, &mut predicted)
        .unwrap();

    let mut grad = net.clone();
    let initial_loss = mse_loss(&*net, &xs, &y).unwrap();
    let loss = train(&mut *net, &xs, &y, eta, steps, &mut grad).unwrap();
    let mut trained = [[0.0; 1]; M];
    outputs(&*net, &xt, &mut trained).unwrap();
    let mut k1 = [[0.0; N]; N];
    structured::ntk(&*net, &xs, &mut ws, &mut k1).unwrap();
    Run {
        gap: (0..M)
            .map(|i| (trained[i][0] - predicted[i][0]).abs())
            .fold(0.0, f64::max),
        moved: (0..M)
            .map(|i| (predicted[i][0] - f0t[i][0]).abs())
            .fold(0.0, f64::max),
        drift: ntk_drift(&k0, &k1).unwrap(),
        initial_loss,
        loss,
    }
}

#[test]
fn wide_network_follows_the_kernel_prediction() {
    let r = run::<4096>(5, 200);
    assert!(
        r.loss < 0.1 * r.initial_loss,
        "loss {} from {}",
        r.loss,
        r.initial_loss
    );
    assert!(r.moved > 0.1, "outputs barely moved: {}", r.moved);
    assert!(
        r.gap < 0.05 * r.moved,
        "network vs NTK: gap {} of {}",
        r.gap,
        r.moved
    );
}

/// Mean drift over a few initialisations (one draw is noisy).
fn mean_drift<const W: usize>() -> f64 {
    (0..4)
        .map(|seed| run::<W>(20 + seed, 100).drift)
        .sum::<f64>()
        / 4.0
}

#[test]
fn ntk_drift_shrinks_with_width() {
    let d = [
        mean_drift::<64>(),
        mean_drift::<256>(),
        mean_drift::<1024>(),
        mean_drift::<4096>(),
    ];
    eprintln!("drifts {d:?}");
    assert!(d.windows(2).all(|w| w[0] > w[1]), "{d:?}");
    assert!(d[3] < 0.05, "{d:?}");
}

#[test]
fn training_validates_its_arguments() {
    let (xs, y, _) = data();
    let mut net = net::<8>(1);
    let mut grad = net.clone();
    for eta in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            step(&mut *net, &xs, &y, eta, &mut grad),
            Err(Error::InvalidArgument { .. })
        ));
    }
    let mut bad = xs;
    bad[3][0] = f64::INFINITY;
    assert_eq!(
        step(&mut *net, &bad, &y, 0.1, &mut grad),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert_eq!(
        mse_loss(&*net, &bad, &y),
        Err(Error::NonFinite { what: "inputs" })
    );
    // A huge learning rate diverges into a typed error.
    assert!(matches!(
        train(&mut *net, &xs, &y, 1e30, 50, &mut grad),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(
        ntk_drift(&[[0.0_f64]], &[[1.0]]),
        Err(Error::InvalidArgument { .. })
    ));
}
