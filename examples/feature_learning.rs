//! Finite width and feature learning: how far the empirical NTK moves when
//! networks of widths 16 … 4096 are trained, how the trained networks
//! compare with the kernel predictions, and how much the NTK fluctuates at
//! initialisation.
//!
//! ```text
//! cargo run --release --example feature_learning [-- OUT.svg]
//! ```
//!
//! The task: 8 training and 32 test points on the unit circle in 2-D, target
//! `sin(2θ) + cos θ / 2`. Networks with one hidden layer (widths 16 … 4096)
//! and two hidden layers (16 … 1024; a square layer of width 4096, 16 M
//! weights, would take most of a minute) with erf activations, σw = 1.5,
//! σb = 0.1, are trained by full-batch gradient descent for 100 steps at
//! half the largest stable learning rate of their NTK at initialisation:
//!
//! - in NTK parameterisation (`Dense::ntk`);
//! - in μP (`Parameterization::MuPInput`, `MuPHidden`, `MuPOutput`), whose
//!   NTK at initialisation has the same limit;
//! - one hidden layer only: scaled by the Chizat–Bach α = 4 and 32
//!   (`OutputScaled`, learning rate `η/α²`);
//! - the first initialisation of each width also as the linearised network
//!   (`Linearized`), whose test outputs are checked against the kernel
//!   prediction from the network's empirical NTK at initialisation
//!   (`predict::GradientDescentMse`, same steps, same initial outputs): the
//!   last column of the table, equal up to rounding.
//!
//! Each width is the geometric mean (changes) or mean (errors) of 2 to 8
//! initialisations. Three panels, written to `target/feature_learning.svg`
//! (or `OUT.svg`):
//!
//! 1. the relative NTK change `‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F` after training
//!    against width, log–log, with the fitted slopes, next to the relative
//!    change of the first layer's weights (NTK parameterisation);
//! 2. the test error (RMS against the target) of the trained networks, of
//!    the kernel prediction from each network's empirical NTK at
//!    initialisation (= the linearised network) and of the prediction from
//!    the infinite-width NTK of `analytic` (initial outputs zero, their
//!    mean), and of the μP networks, which learn features and beat both
//!    kernels at every width;
//! 3. the variance of an NTK entry at initialisation over 64
//!    initialisations of one-hidden-layer ReLU networks against width, with
//!    the exact `v/n` of `analytic::finite_width::OneHidden` and the fitted
//!    coefficient of `empirical::fluctuations::fit_inverse_width`.
//!
//! The last line prints the fitted drift slopes of both parameterisations.
//!
//! # What the slopes say
//!
//! In NTK parameterisation the first layer's weights move by `O(1/√n)`
//! relative to their size (each of the `n` hidden units moves by
//! `O(1/√n)`): slope −1/2 (the fits print −0.4 to −0.5, bent by the
//! narrowest networks, whose weights move by tens of per cent). The kernel
//! moves less: its
//! first-order change along the training direction is a sum over hidden
//! units whose terms carry random signs (odd powers of the readout
//! weights), so a single network's change is `O(1/n)` at every fixed depth
//! — the order Dyer and Gur-Ari (2019) derive for `dΘ/dt` — and the fitted
//! slope over 16 … 1024 or 4096 is −0.75 to −0.95, approaching −1 from above.
//! The `n^{−1/2}` of Lee et al. (2019) is their bound on the change, which
//! the weights saturate and the kernel does not; ReLU networks, whose units
//! cross their kink, fall in between (about −0.7). In μP the kernel moves
//! by `Θ(1)` at every width (slope near 0: features are learnt); with the
//! Chizat–Bach scaling it moves about `α` times less, at the NTK's slope (lazy
//! training). `tests/feature_learning.rs` checks the slopes.

use ntk::analytic::finite_width::OneHidden;
use ntk::analytic::{Architecture, Layer};
use ntk::boxed::{self, Zeroable};
use ntk::empirical::fluctuations::{fit_inverse_width, Entry, Fluctuations, Statistics};
use ntk::empirical::{monte_carlo, structured};
use ntk::nn::{Dense, Erf, Linearized, Module, OutputScaled, Parameterization, Params, Relu};
use ntk::predict::{max_learning_rate, GradientDescentMse, Spectrum};
use ntk::train::{ntk_drift, outputs, train};
use ntk::Rng;
use plotters::prelude::*;

/// Training points.
const N: usize = 8;
/// Test points.
const M: usize = 32;
/// Gradient-descent steps.
const STEPS: u32 = 100;
/// Learning rate as a fraction of the largest stable one.
const RATE: f64 = 0.5;
/// Weight and bias scales of every layer.
const SCALES: (f64, f64) = (1.5, 0.1);
/// The trained networks' architecture for `analytic`.
const SPEC_1: &str = "dense(1.5,0.1) erf dense(1.5,0.1)";
const SPEC_2: &str = "dense(1.5,0.1) erf dense(1.5,0.1) erf dense(1.5,0.1)";
/// Initialisations per width in the variance panel.
const SAMPLES: usize = 64;
/// Output scales α of the Chizat–Bach runs.
const ALPHAS: [f64; 2] = [4.0, 32.0];

type One<const W: usize> = (Dense<f64, 2, W>, Erf, Dense<f64, W, 1>);
type Two<const W: usize> = (
    Dense<f64, 2, W>,
    Erf,
    Dense<f64, W, W>,
    Erf,
    Dense<f64, W, 1>,
);
type OneRelu<const W: usize> = (Dense<f64, 2, W>, Relu, Dense<f64, W, 1>);

type Error = Box<dyn std::error::Error>;

/// The networks in μP (`Parameterization::MuPInput`, `MuPHidden`,
/// `MuPOutput` layer by layer), built on the heap.
trait MuP: Sized {
    fn mup(seed: u64) -> Box<Self>;
}

impl<const W: usize> MuP for One<W> {
    fn mup(seed: u64) -> Box<Self> {
        let mut rng = Rng::new(seed);
        let mut net: Box<Self> = boxed::zeroed();
        net.0
            .init(SCALES.0, SCALES.1, Parameterization::MuPInput, &mut rng);
        net.2
            .init(SCALES.0, SCALES.1, Parameterization::MuPOutput, &mut rng);
        net
    }
}

impl<const W: usize> MuP for Two<W> {
    fn mup(seed: u64) -> Box<Self> {
        let mut rng = Rng::new(seed);
        let mut net: Box<Self> = boxed::zeroed();
        net.0
            .init(SCALES.0, SCALES.1, Parameterization::MuPInput, &mut rng);
        net.2
            .init(SCALES.0, SCALES.1, Parameterization::MuPHidden, &mut rng);
        net.4
            .init(SCALES.0, SCALES.1, Parameterization::MuPOutput, &mut rng);
        net
    }
}

/// What the example needs of a network type.
trait Net: Module<f64, [f64; 2], Output = [f64; 1]> + Params<f64> + Zeroable + MuP {}
impl<const W: usize> Net for One<W> {}
impl<const W: usize> Net for Two<W> {}

fn on_circle<const P: usize>(offset: f64) -> [[f64; 2]; P] {
    core::array::from_fn(|i| {
        let t = core::f64::consts::TAU * (i as f64 + offset) / P as f64;
        [t.cos(), t.sin()]
    })
}

fn target(x: &[f64; 2]) -> [f64; 1] {
    let t = x[1].atan2(x[0]);
    [(2.0 * t).sin() + 0.5 * t.cos()]
}

/// The task: training inputs and targets, test inputs and targets.
struct Task {
    xs: [[f64; 2]; N],
    y: [[f64; 1]; N],
    xt: [[f64; 2]; M],
    yt: [[f64; 1]; M],
}

impl Task {
    fn new() -> Self {
        let xs = on_circle::<N>(0.25);
        let xt = on_circle::<M>(0.5);
        Self {
            y: xs.map(|x| target(&x)),
            yt: xt.map(|x| target(&x)),
            xs,
            xt,
        }
    }

    /// Root mean square of `f` against the test targets.
    fn test_error(&self, f: &[[f64; 1]; M]) -> f64 {
        let s: f64 = f
            .iter()
            .zip(&self.yt)
            .map(|(a, b)| (a[0] - b[0]).powi(2))
            .sum();
        (s / M as f64).sqrt()
    }
}

/// One trained network: what it did and what the kernels predicted.
#[derive(Clone, Copy, Default)]
struct Run {
    /// Relative NTK change ‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F.
    drift: f64,
    /// Relative change of the first layer's weights.
    weights: f64,
    /// Test error of the trained network.
    network: f64,
    /// Test error of the prediction from the empirical NTK at initialisation.
    empirical: f64,
    /// Largest gap between the test outputs of the linearised network
    /// trained by the same steps (first initialisation only) and the
    /// prediction from the empirical NTK at initialisation: equal up to
    /// rounding.
    lin_gap: f64,
    /// Relative NTK change of the network in μP.
    mup_drift: f64,
    /// Test error of the network in μP.
    mup_error: f64,
    /// Relative NTK change of the network scaled by α (Chizat–Bach), for
    /// each α of [`ALPHAS`].
    alpha_drift: [f64; 2],
}

/// The relative change ‖a − b‖/‖b‖ of the first parameter slice (the
/// first layer's weight matrix).
fn first_layer_change<Net: Params<f64>>(trained: &Net, initial: &Net) -> f64 {
    let (mut d, mut n, mut first) = (0.0, 0.0, true);
    trained.zip(initial, &mut |a, b| {
        if first {
            for (p, q) in a.iter().zip(b) {
                d += (p - q) * (p - q);
                n += q * q;
            }
            first = false;
        }
    });
    (d / n).sqrt()
}

/// The test outputs after training `net` (any trainable model) from its
/// initial kernel's learning rate `eta`.
fn trained<Md>(task: &Task, model: &mut Md, eta: f64) -> Result<[[f64; 1]; M], ntk::Error>
where
    Md: Module<f64, [f64; 2], Output = [f64; 1]> + Params<f64> + Zeroable,
{
    let mut grad: Box<Md> = boxed::zeroed();
    train(model, &task.xs, &task.y, eta, STEPS, &mut *grad)?;
    let mut out = [[0.0; 1]; M];
    outputs(model, &task.xt, &mut out)?;
    Ok(out)
}

/// The empirical NTK of `net` on the training inputs.
fn kernel<Nt: Net>(task: &Task, net: &Nt) -> Result<[[f64; N]; N], ntk::Error> {
    let mut ws = vec![0.0; structured::workspace_len::<f64, Nt>(N, 1)];
    let mut k = [[0.0; N]; N];
    structured::ntk(net, &task.xs, &mut ws, &mut k)?;
    Ok(k)
}

/// One initialisation: the network in NTK parameterisation and the kernel
/// prediction, the same network in μP; with `extras` also the linearised
/// network and the Chizat–Bach scaled ones.
fn run<Nt: Net>(task: &Task, seed: u64, extras: Extras) -> Result<Run, ntk::Error> {
    // Built twice from the same seed, bit for bit the same network (a
    // clone would pass through the stack).
    let mut net: Box<Nt> = boxed::ntk(SCALES.0, SCALES.1, &mut Rng::new(seed));
    let initial: Box<Nt> = boxed::ntk(SCALES.0, SCALES.1, &mut Rng::new(seed));
    let mut ws = vec![0.0; structured::workspace_len::<f64, Nt>(N + M, 1)];
    let k0 = kernel(task, &*net)?;
    let mut kt0 = [[0.0; N]; M];
    structured::ntk_cross(&*net, &task.xt, &task.xs, &mut ws, &mut kt0)?;
    let (mut f0, mut f0t) = ([[0.0; 1]; N], [[0.0; 1]; M]);
    outputs(&*net, &task.xs, &mut f0)?;
    outputs(&*net, &task.xt, &mut f0t)?;
    let eta = RATE * max_learning_rate(&k0, 1, &mut [[0.0; N]; N])?;

    // The kernel prediction from the empirical NTK at initialisation.
    let gd = GradientDescentMse::new(&task.y, eta)?.with_initial_outputs(&f0)?;
    let mut spectrum: Box<Spectrum<f64, N>> = boxed::zeroed();
    gd.spectrum(&k0, &mut spectrum)?;
    let mut predicted = [[0.0; 1]; M];
    gd.test_outputs_after_steps(&spectrum, &kt0, Some(&f0t), STEPS, &mut predicted)?;

    // The linearised network at the same initialisation, trained alike.
    let mut lin_gap = 0.0;
    if extras.linearised {
        let mut lin: Box<Linearized<Nt>> = boxed::zeroed();
        lin.init_ntk(SCALES.0, SCALES.1, &mut Rng::new(seed));
        lin.check()?;
        let lin_out = trained(task, &mut *lin, eta)?;
        lin_gap = lin_out
            .iter()
            .zip(&predicted)
            .map(|(a, b)| (a[0] - b[0]).abs())
            .fold(0.0, f64::max);
    }

    let net_out = trained(task, &mut *net, eta)?;
    let k1 = kernel(task, &*net)?;

    // μP, at its own learning rate (its NTK at initialisation has the
    // same limit as the NTK parameterisation's).
    let mut mup = Nt::mup(seed);
    let m0 = kernel(task, &*mup)?;
    let eta_mup = RATE * max_learning_rate(&m0, 1, &mut [[0.0; N]; N])?;
    let mup_out = trained(task, &mut *mup, eta_mup)?;
    let m1 = kernel(task, &*mup)?;

    // The Chizat–Bach output scaling: g = α·(f − f₀), learning rate η/α².
    let mut alpha_drift = [0.0; ALPHAS.len()];
    for (d, &alpha) in alpha_drift.iter_mut().zip(&ALPHAS) {
        if !extras.alpha {
            break;
        }
        let mut model: Box<OutputScaled<f64, Nt>> = boxed::zeroed();
        model.alpha = alpha;
        model.init_ntk(SCALES.0, SCALES.1, &mut Rng::new(seed));
        let lr = model.learning_rate(eta)?;
        trained(task, &mut *model, lr)?;
        *d = ntk_drift(&k0, &kernel(task, &model.net)?)?;
    }

    Ok(Run {
        drift: ntk_drift(&k0, &k1)?,
        weights: first_layer_change(&*net, &*initial),
        network: task.test_error(&net_out),
        empirical: task.test_error(&predicted),
        lin_gap,
        mup_drift: ntk_drift(&m0, &m1)?,
        mup_error: task.test_error(&mup_out),
        alpha_drift,
    })
}

/// Which of the optional runs [`run`] makes.
#[derive(Clone, Copy)]
struct Extras {
    linearised: bool,
    alpha: bool,
}

/// One width: geometric means of the changes, means of the errors, over
/// `seeds` initialisations.
fn width<Nt: Net>(task: &Task, seeds: u64, alpha: bool) -> Result<Run, ntk::Error> {
    let mut m = Run::default();
    for seed in 1..=seeds {
        let extras = Extras {
            linearised: seed == 1,
            alpha,
        };
        let r = run::<Nt>(task, seed, extras)?;
        m.drift += r.drift.ln();
        m.weights += r.weights.ln();
        m.network += r.network;
        m.empirical += r.empirical;
        m.lin_gap = m.lin_gap.max(r.lin_gap);
        m.mup_drift += r.mup_drift.ln();
        m.mup_error += r.mup_error;
        for (a, b) in m.alpha_drift.iter_mut().zip(r.alpha_drift) {
            *a += b.ln();
        }
    }
    let s = seeds as f64;
    Ok(Run {
        drift: (m.drift / s).exp(),
        weights: (m.weights / s).exp(),
        network: m.network / s,
        empirical: m.empirical / s,
        lin_gap: m.lin_gap,
        mup_drift: (m.mup_drift / s).exp(),
        mup_error: m.mup_error / s,
        alpha_drift: m.alpha_drift.map(|a| (a / s).exp()),
    })
}

/// The test error of the infinite-width NTK's prediction after the same
/// steps, with the learning rate taken from the analytic kernel.
fn analytic_error(task: &Task, spec: &str) -> Result<f64, Error> {
    let arch: Architecture<f64> = spec.parse()?;
    let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
    arch.gram(&task.xs, &mut k, &mut t)?;
    let (mut kc, mut tc) = ([[0.0; N]; M], [[0.0; N]; M]);
    arch.cross(&task.xt, &task.xs, &mut kc, &mut tc)?;
    let eta = RATE * max_learning_rate(&t, 1, &mut [[0.0; N]; N])?;
    let gd = GradientDescentMse::new(&task.y, eta)?;
    let mut spectrum: Box<Spectrum<f64, N>> = boxed::zeroed();
    gd.spectrum(&t, &mut spectrum)?;
    let mut f = [[0.0; 1]; M];
    gd.test_outputs_after_steps(&spectrum, &tc, None, STEPS, &mut f)?;
    Ok(task.test_error(&f))
}

/// Variance of the NTK entry Θ(x₀, x₁) at initialisation, its standard
/// error, over [`SAMPLES`] one-hidden-layer ReLU networks of width `W`.
fn variance<const W: usize>(x: &[[f64; 2]; 2]) -> Result<(f64, f64), ntk::Error> {
    let mut rng = Rng::new(7);
    let mut net: Box<OneRelu<W>> = boxed::ntk(SCALES.0, SCALES.1, &mut rng);
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, OneRelu<W>>(2, 1)];
    let mut sample = [[0.0; 2]; 2];
    let mut stats = Statistics::<f64, 2, 1>::ZEROED;
    Fluctuations::new(SAMPLES, 11 + W as u64)?.gram(
        &mut *net,
        x,
        &[Entry::ntk(0, 1)],
        &mut work,
        &mut sample,
        &mut stats,
    )?;
    Ok((stats.ntk.variance[0][1], stats.ntk.variance_se[0][1]))
}

/// Least-squares slope and intercept of ln y against ln x.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// A curve of the plot: label, colour, points, dashed or not.
struct Curve {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    dashed: bool,
}

fn curve(label: String, color: RGBColor, points: Vec<(f64, f64)>, dashed: bool) -> Curve {
    Curve {
        label,
        color,
        points,
        dashed,
    }
}

fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<(), Error> {
    let ys = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, 0.0_f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (12.0..5500.0_f64).log_scale(),
            (lo / 1.5..hi * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("width")
        .y_desc(y_desc)
        .x_label_formatter(&|w| format!("{w:.0}"))
        .y_label_formatter(&|v| format!("{v:.1e}"))
        .draw()?;
    for c in curves {
        let color = c.color;
        if c.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    c.points.iter().copied(),
                    6,
                    4,
                    color.stroke_width(1),
                ))?
                .label(c.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        } else {
            chart.draw_series(LineSeries::new(
                c.points.iter().copied(),
                color.stroke_width(2),
            ))?;
            chart
                .draw_series(c.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?
                .label(c.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// One series of the change panel: label, colour, the widths' runs and the
/// quantity read from each.
type Series<'a> = (&'a str, RGBColor, &'a [(usize, Run)], fn(&Run) -> f64);

/// The fitted line of `points` over their range of widths.
fn fitted(points: &[(f64, f64)]) -> (f64, Vec<(f64, f64)>) {
    let (slope, intercept) = fit(points);
    let line = [points[0].0, points[points.len() - 1].0]
        .iter()
        .map(|&w| (w, (intercept + slope * w.ln()).exp()))
        .collect();
    (slope, line)
}

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/feature_learning.svg".into());
    let task = Task::new();

    // Training runs: one hidden layer to width 4096, two to 1024 (a
    // width-4096 square layer, 16 M weights, would take most of a minute).
    let one = [
        (16, width::<One<16>>(&task, 8, true)?),
        (64, width::<One<64>>(&task, 8, true)?),
        (256, width::<One<256>>(&task, 8, true)?),
        (1024, width::<One<1024>>(&task, 8, true)?),
        (4096, width::<One<4096>>(&task, 8, true)?),
    ];
    let two = [
        (16, width::<Two<16>>(&task, 8, false)?),
        (64, width::<Two<64>>(&task, 8, false)?),
        (256, width::<Two<256>>(&task, 4, false)?),
        (1024, width::<Two<1024>>(&task, 2, false)?),
    ];
    let analytic = [
        analytic_error(&task, SPEC_1)?,
        analytic_error(&task, SPEC_2)?,
    ];

    println!(
        "erf networks, {N} training points, {STEPS} steps at {RATE}·η_max; geometric means of \
         the changes, means of the test errors (RMS); NTK parameterisation unless marked"
    );
    println!(
        "{:>6} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "hidden",
        "width",
        "NTK chg",
        "W₁ chg",
        "μP chg",
        "α=4 chg",
        "α=32 chg",
        "net err",
        "Θ₀ err",
        "μP err",
        "lin−Θ₀"
    );
    // The Chizat–Bach runs are made with one hidden layer only.
    let alpha = |d: f64| {
        if d > 0.0 {
            format!("{d:.3e}")
        } else {
            "-".into()
        }
    };
    for (depth, rows) in [(1, &one[..]), (2, &two[..])] {
        for (w, r) in rows {
            println!(
                "{depth:>6} {w:>5} {:>10.3e} {:>10.3e} {:>10.3e} {:>10} {:>10} \
                 {:>10.3e} {:>10.3e} {:>10.3e} {:>9.1e}",
                r.drift,
                r.weights,
                r.mup_drift,
                alpha(r.alpha_drift[0]),
                alpha(r.alpha_drift[1]),
                r.network,
                r.empirical,
                r.mup_error,
                r.lin_gap
            );
        }
        println!(
            "{depth:>6} {:>5} {:>65} {:>10.3e}",
            "∞",
            "",
            analytic[depth - 1]
        );
    }

    // The NTK's variance at initialisation against the exact v/n.
    let x = [task.xs[0], task.xs[1]];
    let exact = OneHidden {
        first: SCALES,
        activation: Layer::Relu,
        readout: SCALES,
    }
    .ntk_fluctuation(&x[0], &x[1])?;
    let measured = [
        (16.0, variance::<16>(&x)?),
        (64.0, variance::<64>(&x)?),
        (256.0, variance::<256>(&x)?),
        (1024.0, variance::<1024>(&x)?),
        (4096.0, variance::<4096>(&x)?),
    ];
    let widths: Vec<f64> = measured.iter().map(|m| m.0).collect();
    let vars: Vec<f64> = measured.iter().map(|m| m.1 .0).collect();
    let ses: Vec<f64> = measured.iter().map(|m| m.1 .1).collect();
    let coefficient = fit_inverse_width(&widths, &vars, &ses, 0.0)?;
    println!(
        "NTK variance at initialisation (ReLU, one hidden layer, {SAMPLES} samples): \
         n·Var fitted {:.4} ± {:.4} (χ² {:.1}, {} dof), exact {:.4}",
        coefficient.coefficient,
        coefficient.scaled_standard_error(),
        coefficient.chi2,
        coefficient.dof,
        exact.variance
    );

    // Panel 1: the changes and their slopes.
    let pts = |rows: &[(usize, Run)], f: fn(&Run) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|(w, r)| (*w as f64, f(r))).collect()
    };
    let mut changes = Vec::new();
    let mut slopes = Vec::new();
    let series: [Series; 8] = [
        ("NTK, 1 hidden", RED, &one, |r| r.drift),
        ("NTK, 2 hidden", BLUE, &two, |r| r.drift),
        ("μP, 1 hidden", RGBColor(230, 140, 0), &one, |r| {
            r.mup_drift
        }),
        ("μP, 2 hidden", GREEN, &two, |r| r.mup_drift),
        ("α = 4, 1 hidden", RGBColor(150, 80, 80), &one, |r| {
            r.alpha_drift[0]
        }),
        ("α = 32, 1 hidden", RGBColor(90, 40, 40), &one, |r| {
            r.alpha_drift[1]
        }),
        ("W₁, 1 hidden", MAGENTA, &one, |r| r.weights),
        ("W₁, 2 hidden", CYAN, &two, |r| r.weights),
    ];
    for (label, color, rows, f) in series {
        let points = pts(rows, f);
        let (slope, line) = fitted(&points);
        slopes.push(slope);
        changes.push(curve(
            format!("{label}: slope {slope:.2}"),
            color,
            points,
            false,
        ));
        changes.push(curve(String::new(), color, line, true));
    }
    println!(
        "first-layer weight change slope: {:.2} (1 hidden), {:.2} (2 hidden); \
         NTK change with α = 4, 32 (1 hidden): {:.2}, {:.2}",
        slopes[6], slopes[7], slopes[4], slopes[5]
    );

    let root = SVGBackend::new(&path, (1560, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, 3));
    panel(
        &areas[0],
        &format!("Relative change after {STEPS} steps"),
        "‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F, ‖ΔW₁‖_F / ‖W₁‖_F",
        &changes,
    )?;

    // Panel 2: test errors.
    let flat = |rows: &[(usize, Run)], v: f64| -> Vec<(f64, f64)> {
        rows.iter().map(|(w, _)| (*w as f64, v)).collect()
    };
    panel(
        &areas[1],
        &format!("Test error after {STEPS} steps"),
        "RMS test error",
        &[
            curve(
                "network, 1 hidden".into(),
                RED,
                pts(&one, |r| r.network),
                false,
            ),
            curve(
                "Θ₀ prediction = linearised, 1 hidden".into(),
                MAGENTA,
                pts(&one, |r| r.empirical),
                false,
            ),
            curve(
                "μP network, 1 hidden".into(),
                RGBColor(230, 140, 0),
                pts(&one, |r| r.mup_error),
                false,
            ),
            curve(
                "Θ∞ prediction, 1 hidden".into(),
                RED,
                flat(&one, analytic[0]),
                true,
            ),
            curve(
                "network, 2 hidden".into(),
                BLUE,
                pts(&two, |r| r.network),
                false,
            ),
            curve(
                "Θ₀ prediction = linearised, 2 hidden".into(),
                CYAN,
                pts(&two, |r| r.empirical),
                false,
            ),
            curve(
                "μP network, 2 hidden".into(),
                GREEN,
                pts(&two, |r| r.mup_error),
                false,
            ),
            curve(
                "Θ∞ prediction, 2 hidden".into(),
                BLUE,
                flat(&two, analytic[1]),
                true,
            ),
        ],
    )?;

    // Panel 3: variance at initialisation.
    panel(
        &areas[2],
        "NTK variance at init. (ReLU, 1 hidden)",
        "Var Θ(x₀, x₁)",
        &[
            curve(
                format!("{SAMPLES} initialisations"),
                BLACK,
                widths.iter().copied().zip(vars.iter().copied()).collect(),
                false,
            ),
            curve(
                format!("exact v/n, v = {:.3}", exact.variance),
                RED,
                widths.iter().map(|&w| (w, exact.variance / w)).collect(),
                true,
            ),
        ],
    )?;
    root.present()?;
    println!("wrote {path}");
    println!(
        "drift slope: ntk {:.2}, mup {:.2} (1 hidden); ntk {:.2}, mup {:.2} (2 hidden)",
        slopes[0], slopes[2], slopes[1], slopes[3]
    );
    Ok(())
}
