//! A wide network trained by gradient descent follows the NTK prediction,
//! and its empirical NTK moves less the wider it is; results are finite or
//! refused with a typed error, empty data sets have a defined loss; and the
//! error catalogue of `train`.

mod common;

use ntk::empirical::structured;
use ntk::linalg::Regularizer;
use ntk::nn::{Dense, Module, Parameterization, Relu};
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

// Numbers returned are finite or refused with a typed error; empty data sets
// have a defined loss.

#[test]
fn ntk_drift_beyond_the_range_is_refused() {
    let i = |s: f64| [[s, 0.0], [0.0, s]];
    assert_eq!(
        ntk_drift(&i(1e-308), &i(1e308)),
        Err(Error::Overflow {
            what: "kernel drift"
        })
    );
}

#[test]
fn ntk_drift_is_exact_where_squares_or_differences_overflow() {
    let i = |s: f64| [[s, 0.0], [0.0, s]];
    // ‖(1e200 − 1)·I‖ / ‖I‖: the squares of the difference overflow.
    assert_eq!(ntk_drift(&i(1.0), &i(1e200)), Ok(1e200));
    // ‖−2e308·I‖ / ‖1e308·I‖ = 2: the difference itself overflows.
    assert_eq!(ntk_drift(&i(1e308), &i(-1e308)), Ok(2.0));
    // Subnormal kernels: the ratio of two one-ulp-scale matrices.
    let tiny = f64::from_bits(1);
    assert_eq!(ntk_drift(&i(tiny), &i(3.0 * tiny)), Ok(2.0));
    // Unchanged: zero drift.
    assert_eq!(ntk_drift(&i(0.5), &i(0.5)), Ok(0.0));
}

#[test]
fn empty_training_set_has_zero_loss_and_step_leaves_the_network_unchanged() {
    let mut net: Dense<f64, 1, 1> = Dense::zeros(1.5, 0.25, Parameterization::Ntk);
    // Non-zero parameters, so that any update would show.
    let mut grad = net.clone();
    step(&mut net, &[[1.0]], &[[1.0]], 0.5, &mut grad).unwrap();
    let before = net.clone();
    let xs: [[f64; 1]; 0] = [];
    let y: [[f64; 1]; 0] = [];
    assert_eq!(mse_loss(&net, &xs, &y), Ok(0.0));
    grad = net.clone();
    assert_eq!(step(&mut net, &xs, &y, 0.5, &mut grad), Ok(0.0));
    assert_eq!(net, before, "a step on no data changed the network");
    assert_eq!(
        grad.eval(&[1.0]),
        [0.0],
        "the gradient of no data is not zero"
    );
    assert_eq!(train(&mut net, &xs, &y, 0.5, 10, &mut grad), Ok(0.0));
    assert_eq!(net, before);
    // The learning rate is still checked.
    assert!(matches!(
        step(&mut net, &xs, &y, -1.0, &mut grad),
        Err(Error::InvalidArgument { .. })
    ));
}

/// The error catalogue of `train` (the policy is stated in
/// `tests/common/catalogue.rs`).
mod errors {
    use crate::common::catalogue::{net, train, INF, INPUTS_E, K, N, NAN, S};
    use ntk::Error;

    #[test]
    fn train_catalogue() {
        use ntk::train::{mse_loss, ntk_drift, outputs, step};
        let n = net::<f64>();
        let xs = train::<f64>();
        let y = [[0.5, -0.5]; N];
        let mut bad_x = xs;
        bad_x[2][1] = NAN;
        assert_eq!(mse_loss(&n, &bad_x, &y), Err(INPUTS_E));
        let mut bad_y = y;
        bad_y[0][0] = INF;
        assert!(matches!(
            mse_loss(&n, &xs, &bad_y),
            Err(Error::NonFinite { .. })
        ));
        let mut out = [[S; K]; N];
        assert_eq!(outputs(&n, &bad_x, &mut out), Err(INPUTS_E));
        assert!(
            out.as_flattened().iter().all(|&v| v == 0.0),
            "outputs not zeroed"
        );
        let mut m = n.clone();
        let mut grad = n.clone();
        for lr in [0.0, -1.0, NAN, INF] {
            assert_eq!(
                step(&mut m, &xs, &y, lr, &mut grad),
                Err(Error::InvalidArgument {
                    what: "learning rate must be finite and positive"
                }),
                "learning rate {lr}"
            );
            assert_eq!(m, n, "a rejected step changed the network");
        }
        // A step that diverges reports Overflow and leaves the network as it was
        // before that step.
        let mut m = n.clone();
        let mut before = m.clone();
        let r = (0..50).try_for_each(|_| {
            before = m.clone();
            step(&mut m, &xs, &y, 1e150, &mut grad).map(|_| ())
        });
        assert!(matches!(r, Err(Error::Overflow { .. })), "{r:?}");
        assert_eq!(m, before, "a diverging step changed the network");
        assert_eq!(
            ntk_drift(&[[0.0; 2]; 2], &[[1.0; 2]; 2]),
            Err(Error::InvalidArgument {
                what: "initial kernel is zero"
            })
        );
        assert!(matches!(
            ntk_drift(&[[1.0; 2]; 2], &[[NAN; 2]; 2]),
            Err(Error::NonFinite { .. })
        ));
    }
}
